/* test_contacts.c -- BIDS electrodes.tsv (+ coordsystem.json units), TVB
 * sensor text (bzip2, UTF-8 labels), grouping and ordering, bipolar pairs,
 * coordinate-system checks, every error path; the 124 contacts of the BIDS
 * ieeg_epilepsy sample in the Desikan atlas (real data shipped in
 * tests/data/shared). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vbt_contacts.h"
#include "vbt_parcellation.h"

static char *g_tmp;

static const char *fixture(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/connectomes/%s", tu_data_dir(), name);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

static void test_bids_cm(void **state)
{
    (void)state;
    vbt_contacts *c;
    vbt_msg msg;
    assert_int_equal(vbt_contacts_load(&c, fixture("sub-01_space-ACPC_electrodes.tsv"), &msg),
                     VBT_OK);
    assert_int_equal(c->n, 5);
    assert_int_equal(c->n_skipped, 1); /* B1 has n/a coordinates */
    assert_string_equal(c->space, "ACPC");
    assert_int_equal(c->n_electrodes, 2);
    /* Electrodes in order of first appearance (B, A); contacts by number. */
    assert_string_equal(c->electrodes[0], "B");
    assert_string_equal(c->labels[0], "B2");
    assert_string_equal(c->labels[1], "B3");
    assert_string_equal(c->labels[2], "B10");
    assert_string_equal(c->labels[3], "A1");
    assert_int_equal(c->number[2], 10);
    /* cm -> mm. */
    assert_close(c->pos[3 * 3 + 0], -15.0, 1e-12);
    assert_close(c->pos[3 * 3 + 1], 2.5, 1e-12);
    assert_close(c->pos[3 * 2 + 2], 30.0, 1e-12);
    size_t *pairs, np;
    assert_int_equal(vbt_contacts_bipolar(c, &pairs, &np, &msg), VBT_OK);
    /* B2-B3 and A1-A2; B3-B10 are not consecutive. */
    assert_int_equal(np, 2);
    assert_int_equal(pairs[0], 0);
    assert_int_equal(pairs[1], 1);
    assert_int_equal(pairs[2], 3);
    assert_int_equal(pairs[3], 4);
    free(pairs);
    vbt_contacts_free(c);
    vbt_contacts_free(NULL);
}

static void test_tvb_bz2_utf8(void **state)
{
    (void)state;
    vbt_contacts *c;
    vbt_msg msg;
    assert_int_equal(vbt_contacts_load(&c, fixture("sensors_utf8.txt.bz2"), &msg), VBT_OK);
    assert_int_equal(c->n, 6);
    assert_string_equal(c->space, "");
    assert_int_equal(c->n_electrodes, 3);
    assert_string_equal(c->electrodes[0], "A\xc2\xb4");
    assert_string_equal(c->labels[0], "A\xc2\xb4" "1");
    assert_string_equal(c->labels[2], "A\xc2\xb4" "3");
    assert_close(c->pos[2 * 3], -11.0, 0);
    assert_string_equal(c->labels[5], "REF");
    assert_int_equal(c->number[5], -1);
    size_t *pairs, np;
    assert_int_equal(vbt_contacts_bipolar(c, &pairs, &np, &msg), VBT_OK);
    assert_int_equal(np, 3); /* A´1-A´2, A´2-A´3, TB1-TB2 */
    free(pairs);
    vbt_contacts_free(c);
}

static void expect_error(const char *name, const char *text, int code, const char *needle)
{
    const char *path = tu_path(g_tmp, name);
    if (text)
        tu_write_file(path, text);
    vbt_contacts *c = (vbt_contacts *)1;
    vbt_msg msg;
    int rc = vbt_contacts_load(&c, path, &msg);
    if (rc != code || !strstr(msg.text, needle))
        fail_msg("%s: got %d '%s', expected %d '%s'", name, rc, msg.text, code, needle);
    assert_null(c);
    assert_null(strchr(msg.text, '\n'));
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("a.txt", "A1 1 2\n", VBT_EFORMAT, "expected 'label x y z'");
    expect_error("b.txt", "A1 1 2 x\n", VBT_EFORMAT, "line 1");
    expect_error("c.txt", "A1 1 2 3\nA1 4 5 6\n", VBT_EFORMAT, "listed twice");
    expect_error("d.txt", "\n\n", VBT_EFORMAT, "no contact");
    expect_error("e_electrodes.tsv", "name\tx\ty\n", VBT_EFORMAT, "no 'z' column");
    expect_error("f_electrodes.tsv", "name\tx\ty\tz\nA1\t1\t2\n", VBT_EFORMAT, "fields");
    expect_error("g_electrodes.tsv", "name\tx\ty\tz\nA1\t1\tfoo\t3\n", VBT_EFORMAT,
                 "bad name or coordinates");
    tu_write_file(tu_path(g_tmp, "h_coordsystem.json"),
                  "{\"iEEGCoordinateSystem\": \"ACPC\", \"iEEGCoordinateUnits\": \"inch\"}");
    expect_error("h_electrodes.tsv", "name\tx\ty\tz\nA1\t1\t2\t3\n", VBT_EFORMAT, "inch");
    tu_write_file(tu_path(g_tmp, "i_coordsystem.json"), "[1, 2");
    expect_error("i_electrodes.tsv", "name\tx\ty\tz\nA1\t1\t2\t3\n", VBT_EFORMAT,
                 "not a JSON object");
    expect_error("j.txt.bz2", "BZh9 this is not bzip2", VBT_EFORMAT, "bzip2");
    expect_error("k.txt", NULL, VBT_EIO, "k.txt");
    tu_write_bytes(tu_path(g_tmp, "l.txt"), "A1 1 2 3\n\0\n", 11);
    expect_error("l.txt", NULL, VBT_EFORMAT, "NUL");
    vbt_contacts *c;
    vbt_msg msg;
    assert_int_equal(vbt_contacts_load(&c, tu_path(g_tmp, "a1.txt"), &msg), VBT_EIO);
    assert_int_equal(vbt_contacts_load(NULL, "x", &msg), VBT_EINVAL);
    /* No bipolar pair on single contacts. */
    tu_write_file(tu_path(g_tmp, "m.txt"), "A1 1 2 3\nB1 1 2 4\n");
    assert_int_equal(vbt_contacts_load(&c, tu_path(g_tmp, "m.txt"), &msg), VBT_OK);
    size_t *pairs, np;
    assert_int_equal(vbt_contacts_bipolar(c, &pairs, &np, &msg), VBT_EINVAL);
    assert_null(pairs);
    vbt_contacts_free(c);
}

static void test_spaces(void **state)
{
    (void)state;
    assert_int_equal(vbt_space_compatible("IXI549Space", "mni152"), 1);
    assert_int_equal(vbt_space_compatible("MNI152NLin6ASym", "template"), 1);
    assert_int_equal(vbt_space_compatible("ScanRAS", "mni152"), 0);
    assert_int_equal(vbt_space_compatible("IXI549Space", "scanner"), 0);
    assert_int_equal(vbt_space_compatible("ScanRAS", "scanner"), 1);
    assert_int_equal(vbt_space_compatible("ACPC", "aligned"), 1);
    assert_int_equal(vbt_space_compatible("", "mni152"), -1);
    assert_int_equal(vbt_space_compatible("ScanRAS", "unknown"), -1);
    vbt_contacts c = {0};
    double pos[6] = {0, 0, 0, 10, 10, 10};
    c.n = 2;
    c.pos = pos;
    double near[3] = {15, 5, 5}, far[3] = {100, 100, 100};
    assert_int_equal(vbt_contacts_disjoint(&c, near, 1, 10), 0);
    assert_int_equal(vbt_contacts_disjoint(&c, far, 1, 10), 1);
}

/* A real data file the tests ship: tests/data/shared/<rel> (copies of
 * ../shared/data/<rel>, see the README there), or data-samples/<rel> for
 * rel starting with "samples/".  Missing is a failure, not a skip. */
static const char *shared(const char *rel)
{
    static char buf[4][4096];
    static int slot;
    char *b = buf[slot];
    slot = (slot + 1) % 4;
    if (!strncmp(rel, "samples/", 8))
        snprintf(b, sizeof buf[0], "%s/%s", tu_samples_dir(), rel + 8);
    else
        snprintf(b, sizeof buf[0], "%s/shared/%s", tu_data_dir(), rel);
    if (!tu_exists(b))
        fail_msg("test data '%s' is missing (shipped with the sources)", b);
    return b;
}

/* All 124 contacts of the Grenoble patient (left temporo-occipital
 * epilepsy) lie in left-hemisphere regions of the neuroparc Desikan atlas. */
static void test_bids_sample_left(void **state)
{
    (void)state;
    const char *el = shared("bids-examples/ieeg_epilepsy/sub-01/ses-postimp/ieeg/"
                            "sub-01_ses-postimp_space-IXI549Space_electrodes.tsv"),
               *vol = shared("neuroparc/Desikan_space-MNI152NLin6_res-1x1x1.nii.gz"),
               *csv = shared("samples/neuroparc/Desikan.csv");
    vbt_contacts *c;
    vbt_parcellation *p;
    vbt_msg msg;
    assert_int_equal(vbt_contacts_load(&c, el, &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_load(&p, vol, csv, &msg), VBT_OK);
    assert_int_equal(c->n, 124);
    assert_int_equal(c->n_electrodes, 15);
    assert_string_equal(c->space, "IXI549Space");
    const char *vs;
    vbt_parcellation_grid(p, NULL, NULL, NULL, &vs);
    assert_int_equal(vbt_space_compatible(c->space, vs), 1);
    const vbt_region_info *r = vbt_parcellation_regions(p);
    size_t left = 0, wm = 0, it = 0;
    for (size_t i = 0; i < c->n; i++) {
        double d;
        long k = vbt_parcellation_locate(p, c->pos + 3 * i, 3.0, &d);
        assert_true(k >= 0);
        left += r[k].hemisphere == 0;
        wm += !strcmp(r[k].name, "L_white_matter");
        it += !strcmp(r[k].name, "L_inferior_temporal_gyrus");
    }
    assert_int_equal(left, 124);
    /* The MANIFEST's counts: inferior temporal 18, white matter 14. */
    assert_int_equal(it, 18);
    assert_int_equal(wm, 14);
    vbt_parcellation_free(p);
    vbt_contacts_free(c);
    /* seeg_39.txt.bz2: 103 contacts on 10 primed electrodes. */
    const char *s39 = shared("tvb-data/sensors/seeg_39.txt.bz2");
    assert_int_equal(vbt_contacts_load(&c, s39, &msg), VBT_OK);
    assert_int_equal(c->n, 103);
    assert_int_equal(c->n_electrodes, 10);
    assert_string_equal(c->labels[0], "G\xc2\xb4" "1");
    vbt_contacts_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bids_cm),
        cmocka_unit_test(test_tvb_bz2_utf8),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_spaces),
        cmocka_unit_test(test_bids_sample_left),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
