/* test_connectome.c -- loading, checking and normalising TVB connectomes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "test_util.h"

#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "vbt_connectome.h"

/* ------------------------------------------------------------------ */
/* helpers */

/* A real data file the tests ship: data-samples/<sample> when given, else
 * tests/data/shared/<rel> (copies of ../shared/data/<rel>, see the README
 * there).  Missing is a failure, not a skip. */
static const char *shared_file(const char *sample, const char *rel)
{
    static char buf[4096];
    if (sample)
        snprintf(buf, sizeof buf, "%s", tu_path(tu_samples_dir(), sample));
    else
        snprintf(buf, sizeof buf, "%s/shared/%s", tu_data_dir(), rel);
    if (!tu_exists(buf))
        fail_msg("test data '%s' is missing (shipped with the sources)", buf);
    return buf;
}

static vbt_connectome *load_ok(const char *path)
{
    vbt_connectome *c = NULL;
    vbt_msg msg = {{0}};
    int rc = vbt_connectome_load(&c, path, &msg);
    if (rc != VBT_OK)
        fail_msg("loading %s: %s", path, msg.text);
    assert_non_null(c);
    assert_int_equal(vbt_connectome_validate(c, path, &msg), VBT_OK);
    return c;
}

static size_t count_nonzero(const double *a, size_t count)
{
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        k += a[i] != 0;
    return k;
}

static double max_of(const double *a, size_t count)
{
    double m = -INFINITY;
    for (size_t i = 0; i < count; i++)
        if (a[i] > m)
            m = a[i];
    return m;
}

static int is_symmetric(const vbt_connectome *c)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < i; j++)
            if (c->weights[i * c->n + j] != c->weights[j * c->n + i])
                return 0;
    return 1;
}

typedef struct member {
    const char *name;
    const char *data;
    size_t len; /* 0: strlen(data) */
} member;

static void write_zip(const char *path, const member *m, size_t count)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < count; i++) {
        size_t len = m[i].len ? m[i].len : strlen(m[i].data);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, m[i].data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* bzip2-compress text in memory; free() the result. */
static char *bz2(const char *text, size_t *outlen)
{
    size_t len = strlen(text), cap = len + 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, buf, cap, outlen), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "x");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)len);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, text, len), (la_ssize_t)len);
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return buf;
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

/* The small hand-made 3-region connectome used throughout.  Rows are
 * targets: W3[1*3+2] = 3.75 is from region 2 to region 1. */
#define W3 "2.385 0 1.25\n0.5 0 3.75\n0 4.125 0\n"
#define L3 "0 12.5 30.25\n12.5 0 18.75\n30.25 18.75 0\n"
#define C3 "rA1 1.5 -2.25 3\nlV1 -7.125 0.5 11\nrM1 0 14.75 -9.5\n"
static const double w3[9] = {2.385, 0, 1.25, 0.5, 0, 3.75, 0, 4.125, 0};
static const double l3[9] = {0, 12.5, 30.25, 12.5, 0, 18.75, 30.25, 18.75, 0};
static const double c3[9] = {1.5, -2.25, 3, -7.125, 0.5, 11, 0, 14.75, -9.5};

static void write_dir3(const char *dir)
{
    tu_write_file(tu_path(dir, "weights.txt"), W3);
    tu_write_file(tu_path(dir, "tract_lengths.txt"), L3);
    tu_write_file(tu_path(dir, "centres.txt"), C3);
}

static void check_c3(const vbt_connectome *c)
{
    assert_int_equal(c->n, 3);
    for (int k = 0; k < 9; k++) {
        assert_true(c->weights[k] == w3[k]);
        assert_true(c->lengths[k] == l3[k]);
        assert_true(c->centres[k] == c3[k]);
    }
    assert_string_equal(c->labels[0], "rA1");
    assert_string_equal(c->labels[1], "lV1");
    assert_string_equal(c->labels[2], "rM1");
}

/* ------------------------------------------------------------------ */
/* the shipped TVB connectomes */

static void test_tvb76(void **state)
{
    (void)state;
    const char *p = shared_file("connectivity_76.zip",
                                "tvb-data/connectivity/connectivity_76.zip");
    vbt_connectome *c = load_ok(p);
    size_t n = c->n;
    assert_int_equal(n, 76);
    assert_int_equal(count_nonzero(c->weights, n * n), 1560);
    size_t diag = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        diag += c->weights[i * n + i] != 0;
    for (size_t k = 0; k < n * n; k++)
        sum += c->weights[k];
    assert_int_equal(diag, 66);
    assert_close(sum, 2988.845662, 1e-6);
    assert_close(max_of(c->weights, n * n), 3.0, 0);
    assert_close(max_of(c->lengths, n * n), 153.49, 0.01);
    assert_close(max_of(c->lengths, n * n), 153.485740, 1e-9);
    assert_false(is_symmetric(c));
    /* File row 10 (0-based) column 2 is 2, row 2 column 10 is 0: not transposed. */
    assert_true(c->weights[10 * n + 2] == 2.0);
    assert_true(c->weights[2 * n + 10] == 0.0);
    assert_true(c->weights[3 * n + 7] == 1.0);
    assert_close(c->lengths[0 * n + 1], 20.330072, 1e-12);
    assert_string_equal(c->labels[0], "rA1");
    assert_close(c->centres[0], -9.885591, 1e-12);
    assert_close(c->centres[1], -47.084818, 1e-12);
    assert_close(c->centres[2], -3.139360, 1e-12);
    assert_non_null(c->areas);
    assert_close(c->areas[0], 396.44065, 1e-9);
    assert_close(c->areas[1], 937.50289, 1e-9);
    assert_non_null(c->cortical);
    assert_int_equal(c->cortical[0], 1);
    assert_non_null(c->orientations);
    assert_close(c->orientations[0], 0.53269728, 1e-12);
    assert_close(c->orientations[2], 0.33717203, 1e-12);
    assert_null(c->hemispheres);
    assert_int_equal(vbt_connectome_find_label(c, "rA1"), 0);
    assert_int_equal(vbt_connectome_find_label(c, "rA2"), 1);
    assert_int_equal(vbt_connectome_find_label(c, "nope"), -1);
    vbt_connectome_free(c);
}

static void test_tvb68_bz2(void **state)
{
    (void)state;
    const char *p = shared_file(NULL, "tvb-data/connectivity/connectivity_68.zip");
    vbt_connectome *c = load_ok(p);
    size_t n = c->n;
    assert_int_equal(n, 68);
    assert_true(is_symmetric(c));
    assert_int_equal(count_nonzero(c->weights, n * n), 1244);
    assert_close(max_of(c->lengths, n * n), 252.9, 0.01);
    assert_close(max_of(c->weights, n * n), 0.12053822, 1e-12);
    assert_string_equal(c->labels[0], "r_lateralorbitofrontal");
    assert_close(c->centres[0], 55.964199, 1e-12);
    assert_non_null(c->orientations);
    assert_null(c->areas);
    vbt_connectome_free(c);
}

static void test_tvb998(void **state)
{
    (void)state;
    const char *p = shared_file(NULL, "tvb-data/connectivity/connectivity_998.zip");
    vbt_connectome *c = load_ok(p);
    size_t n = c->n;
    assert_int_equal(n, 998);
    assert_int_equal(count_nonzero(c->weights, n * n), 35730);
    for (size_t i = 0; i < n; i++)
        assert_true(c->weights[i * n + i] == 0);
    assert_close(max_of(c->lengths, n * n), 189.5, 1e-12);
    assert_close(max_of(c->weights, n * n), 0.91494284, 1e-12);
    assert_string_equal(c->labels[0], "rLOF");
    assert_non_null(c->areas);
    vbt_connectome_free(c);
}

static void test_macaque84_subfolder(void **state)
{
    (void)state;
    const char *p = shared_file(NULL, "tvb-data/macaque/connectivity_84.zip");
    vbt_connectome *c = load_ok(p);
    size_t n = c->n;
    assert_int_equal(n, 84);
    assert_int_equal(count_nonzero(c->weights, n * n), 3312);
    assert_close(max_of(c->lengths, n * n), 94.104094, 1e-9);
    assert_false(is_symmetric(c));
    /* Tab-separated, CRLF line ends. */
    assert_string_equal(c->labels[0], "TCpol_R");
    assert_close(c->centres[0], 20.6, 1e-12);
    assert_close(c->centres[1], 2.5, 1e-12);
    assert_close(c->centres[2], -11.6, 1e-12);
    vbt_connectome_free(c);
}

static void test_other_shared(void **state)
{
    (void)state;
    static const struct {
        const char *sample, *rel;
        size_t n, nnz;
        double maxlen;
        const char *label0;
    } t[] = {
        {NULL, "tvb-data/connectivity/connectivity_66.zip", 66, 1377, 238.0, "rBSTS"},
        {NULL, "tvb-data/connectivity/connectivity_192.zip", 192, 3532, 142.1458, "lAD"},
        /* BVEP's ExperimentalData/connectivity.zip */
        {"connectivity_84_desikan.zip", NULL, 84, 6912, 197.184, "ctx-lh-bankssts"},
        {NULL, "SeizureSpreadOnACorticalSurface/Real/connectivity.zip", 7, 0, 1.0,
         "ctx-rh-entorhinal"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *p = shared_file(t[i].sample, t[i].rel);
        vbt_connectome *c = load_ok(p);
        assert_int_equal(c->n, t[i].n);
        assert_int_equal(count_nonzero(c->weights, c->n * c->n), t[i].nnz);
        assert_close(max_of(c->lengths, c->n * c->n), t[i].maxlen, 1e-9);
        assert_string_equal(c->labels[0], t[i].label0);
        vbt_connectome_free(c);
    }
}

/* ------------------------------------------------------------------ */
/* hand-made connectomes */

static void test_directory(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    /* CRLF, comments, blank lines, tabs, the older tract.txt name, extra
     * centre columns, a UTF-8 label, True/False flags. */
    tu_write_file(tu_path(dir, "weights.txt"),
                  "# weights, rows are targets\r\n2.385 0 1.25\r\n0.5\t0 3.75\r\n\r\n"
                  "0 4.125 0\r\n\r\n\r\n");
    tu_write_file(tu_path(dir, "tract.txt"), L3);
    tu_write_file(tu_path(dir, "centres.txt"),
                  "rA1 1.5 -2.25 3 None\nlV1 -7.125 0.5 11 None\nrM1 0 14.75 -9.5\n");
    tu_write_file(tu_path(dir, "areas.txt"), "396.25\n937.5\n12.125\n\n");
    tu_write_file(tu_path(dir, "cortical.txt"), "True\nFalse\n1\n");
    tu_write_file(tu_path(dir, "hemispheres.txt"), "1 0 True\n");
    tu_write_file(tu_path(dir, "average_orientations.txt"),
                  "0.5 -0.25 0.75\n1 0 0\n0 0 -1\n");
    vbt_connectome *c = load_ok(dir);
    check_c3(c);
    assert_non_null(c->areas);
    assert_true(c->areas[0] == 396.25 && c->areas[1] == 937.5 && c->areas[2] == 12.125);
    assert_int_equal(c->cortical[0], 1);
    assert_int_equal(c->cortical[1], 0);
    assert_int_equal(c->cortical[2], 1);
    assert_int_equal(c->hemispheres[0], 1);
    assert_int_equal(c->hemispheres[1], 0);
    assert_int_equal(c->hemispheres[2], 1);
    assert_true(c->orientations[1] == -0.25 && c->orientations[8] == -1);
    vbt_connectome_free(c);

    /* A UTF-8 label and a bz2 member in a directory. */
    size_t blen;
    char *b = bz2(L3, &blen);
    unlink(tu_path(dir, "tract.txt"));
    tu_write_bytes(tu_path(dir, "tract_lengths.txt.bz2"), b, blen);
    free(b);
    tu_write_file(tu_path(dir, "centres.txt"),
                  "rA1 1.5 -2.25 3\nA\xc2\xb4" "1 -7.125 0.5 11\nrM1 0 14.75 -9.5\n");
    c = load_ok(dir);
    assert_true(c->lengths[2] == 30.25);
    assert_int_equal(vbt_connectome_find_label(c, "A\xc2\xb4" "1"), 1);
    vbt_connectome_free(c);
    tu_rmtree(dir);
    free(dir);
}

static void test_zip_subfolder_bz2(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *zp = tu_path(dir, "conn.zip");
    size_t blen;
    char *b = bz2(W3, &blen);
    member m[] = {
        {"__MACOSX/sub/._weights.txt", "junk", 0},
        {"__MACOSX/sub/weights.txt", "junk", 0},
        {"sub/info.txt", "weights_unit au", 0},
        {"sub/weights.txt.bz2", b, blen},
        {"sub/tract_lengths.txt", L3, 0},
        {"sub/centres.txt", C3, 0},
        {"sub/deeper/weights.txt", "not me", 0},
    };
    write_zip(zp, m, sizeof m / sizeof m[0]);
    free(b);
    vbt_connectome *c = load_ok(zp);
    check_c3(c);
    assert_null(c->areas);
    assert_null(c->cortical);
    vbt_connectome_free(c);
    tu_rmtree(dir);
    free(dir);
}

static void test_normalize(void **state)
{
    (void)state;
    vbt_connectome *c = vbt_connectome_alloc(3);
    vbt_msg msg = {{0}};
    assert_non_null(c);
    memcpy(c->weights, w3, sizeof w3);

    assert_int_equal(vbt_connectome_normalize(c, VBT_NORMALIZE_NONE, &msg), VBT_OK);
    for (int k = 0; k < 9; k++)
        assert_true(c->weights[k] == w3[k]);

    assert_int_equal(vbt_connectome_normalize(c, VBT_NORMALIZE_MAX, &msg), VBT_OK);
    for (int k = 0; k < 9; k++)
        assert_close(c->weights[k], w3[k] / 4.125, 1e-15);
    assert_true(c->weights[7] == 1.0);
    assert_close(c->weights[0], 0.57818181818181818, 1e-15);

    memcpy(c->weights, w3, sizeof w3);
    c->weights[6] = c->weights[7] = 0; /* an empty row stays 0 */
    assert_int_equal(vbt_connectome_normalize(c, VBT_NORMALIZE_ROWSUM, &msg), VBT_OK);
    assert_close(c->weights[0], 2.385 / 3.635, 1e-15);
    assert_close(c->weights[2], 1.25 / 3.635, 1e-15);
    assert_close(c->weights[3], 0.5 / 4.25, 1e-15);
    assert_close(c->weights[5], 3.75 / 4.25, 1e-15);
    assert_close(c->weights[3], 0.11764705882352941, 1e-15);
    for (int k = 6; k < 9; k++)
        assert_true(c->weights[k] == 0);

    /* All zero: max leaves it alone. */
    memset(c->weights, 0, 9 * sizeof *c->weights);
    assert_int_equal(vbt_connectome_normalize(c, VBT_NORMALIZE_MAX, &msg), VBT_OK);
    assert_int_equal(count_nonzero(c->weights, 9), 0);

    c->weights[4] = NAN;
    assert_int_equal(vbt_connectome_normalize(c, VBT_NORMALIZE_MAX, &msg), VBT_ENUMERIC);
    assert_int_equal(vbt_connectome_normalize(c, VBT_NORMALIZE_ROWSUM, &msg), VBT_ENUMERIC);
    assert_int_equal(vbt_connectome_normalize(c, (vbt_normalize)42, &msg), VBT_EINVAL);
    assert_int_equal(vbt_connectome_normalize(NULL, VBT_NORMALIZE_MAX, &msg), VBT_EINVAL);
    vbt_connectome_free(c);

    vbt_normalize how = VBT_NORMALIZE_MAX;
    assert_int_equal(vbt_normalize_parse("none", &how), VBT_OK);
    assert_int_equal(how, VBT_NORMALIZE_NONE);
    assert_int_equal(vbt_normalize_parse("max", &how), VBT_OK);
    assert_int_equal(how, VBT_NORMALIZE_MAX);
    assert_int_equal(vbt_normalize_parse("row-sum", &how), VBT_OK);
    assert_int_equal(how, VBT_NORMALIZE_ROWSUM);
    how = VBT_NORMALIZE_NONE;
    assert_int_equal(vbt_normalize_parse("rowsum", &how), VBT_OK);
    assert_int_equal(how, VBT_NORMALIZE_ROWSUM);
    assert_int_equal(vbt_normalize_parse("region", &how), VBT_ENOTFOUND);
    assert_int_equal(vbt_normalize_parse("MAX", &how), VBT_ENOTFOUND);
    assert_int_equal(vbt_normalize_parse("", &how), VBT_ENOTFOUND);
    assert_int_equal(vbt_normalize_parse(NULL, &how), VBT_ENOTFOUND);
    assert_string_equal(vbt_normalize_name(VBT_NORMALIZE_NONE), "none");
    assert_string_equal(vbt_normalize_name(VBT_NORMALIZE_MAX), "max");
    assert_string_equal(vbt_normalize_name(VBT_NORMALIZE_ROWSUM), "row-sum");
    assert_string_equal(vbt_normalize_name((vbt_normalize)42), "unknown");
}

static void test_struct_api(void **state)
{
    (void)state;
    vbt_msg msg = {{0}};
    assert_null(vbt_connectome_alloc(0));
    assert_null(vbt_connectome_alloc((size_t)-1));
    vbt_connectome_free(NULL);
    assert_null(vbt_connectome_copy(NULL));

    vbt_connectome *c = vbt_connectome_alloc(3);
    assert_non_null(c);
    assert_null(c->areas);
    assert_null(c->orientations);
    assert_int_equal(vbt_connectome_validate(c, "zeros", &msg), VBT_OK);
    memcpy(c->weights, w3, sizeof w3);
    memcpy(c->lengths, l3, sizeof l3);
    memcpy(c->centres, c3, sizeof c3);
    strcpy(c->labels[0], "rA1");
    strcpy(c->labels[1], "lV1");
    strcpy(c->labels[2], "rM1");
    c->areas = malloc(3 * sizeof *c->areas);
    c->cortical = malloc(3 * sizeof *c->cortical);
    assert_non_null(c->areas);
    assert_non_null(c->cortical);
    c->areas[0] = 1.5, c->areas[1] = 2.25, c->areas[2] = 3.125;
    c->cortical[0] = 1, c->cortical[1] = 0, c->cortical[2] = 1;
    assert_int_equal(vbt_connectome_validate(c, "hand", &msg), VBT_OK);
    assert_int_equal(vbt_connectome_find_label(c, "lV1"), 1);
    assert_int_equal(vbt_connectome_find_label(c, "rM1"), 2);
    assert_int_equal(vbt_connectome_find_label(c, "rM"), -1);
    assert_int_equal(vbt_connectome_find_label(c, NULL), -1);
    assert_int_equal(vbt_connectome_find_label(NULL, "rA1"), -1);

    vbt_connectome *d = vbt_connectome_copy(c);
    assert_non_null(d);
    check_c3(d);
    assert_true(d->weights != c->weights && d->areas != c->areas);
    assert_true(d->areas[2] == 3.125);
    assert_int_equal(d->cortical[1], 0);
    assert_null(d->hemispheres);
    d->weights[0] = 7.5;
    assert_true(c->weights[0] == 2.385);

    /* Errors in a hand-filled struct. */
    d->weights[1 * 3 + 2] = NAN;
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "'hand'"));
    assert_non_null(strstr(msg.text, "weights row 2 col 3: NaN"));
    d->weights[1 * 3 + 2] = 1;
    d->lengths[2] = -3.25;
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "lengths row 1 col 3: negative length -3.25"));
    d->lengths[2] = 3.25;
    d->centres[4] = INFINITY;
    assert_int_equal(vbt_connectome_validate(d, NULL, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "centres row 2 col 2: Inf"));
    d->centres[4] = 0;
    d->cortical[2] = 2;
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "cortical[2] is 2"));
    d->cortical[2] = 0;
    memset(d->labels[1], 'x', VBT_LABEL_MAX);
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "label 1"));
    d->labels[1][0] = '\0';
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_OK);
    free(d->lengths);
    d->lengths = NULL;
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "lengths is NULL"));
    d->n = 0;
    assert_int_equal(vbt_connectome_validate(d, "hand", &msg), VBT_EINVAL);
    assert_int_equal(vbt_connectome_validate(NULL, "hand", &msg), VBT_EINVAL);
    vbt_connectome_free(d);
    vbt_connectome_free(c);
}

/* ------------------------------------------------------------------ */
/* errors, one bad file at a time */

typedef struct bad_case {
    const char *file;    /* member to replace */
    const char *content; /* NULL: remove the member */
    int code;
    const char *phrase;
} bad_case;

static const bad_case bad_cases[] = {
    {"weights.txt", "1 2\n3 4\n5 6\n", VBT_EFORMAT, "weights.txt is 3x2, expected a square matrix"},
    {"weights.txt", "1 2 3\n4 5\n6 7 8\n", VBT_EFORMAT, "weights.txt row 2 has 2 values, expected 3"},
    {"weights.txt", "1 2 3\n4 5 nan\n6 7 8\n", VBT_ENUMERIC, "weights.txt row 2 col 3: NaN"},
    {"weights.txt", "1 2 3\n4 5 6\n6 -inf 8\n", VBT_ENUMERIC, "weights.txt row 3 col 2: Inf"},
    {"weights.txt", "1 2 3\n4 5 6\n6 1e999 8\n", VBT_ENUMERIC, "weights.txt row 3 col 2: Inf"},
    {"weights.txt", "1 2 3\n4 1.5abc 6\n6 7 8\n", VBT_EFORMAT,
     "weights.txt row 2 col 2: not a number"},
    {"weights.txt", "1 2 3\n4 5 6\n6 -0.5 8\n", VBT_EFORMAT,
     "weights.txt row 3 col 2: negative weight -0.5"},
    {"weights.txt", "# nothing here\n\n  \r\n", VBT_EFORMAT, "weights.txt is empty"},
    {"weights.txt", "", VBT_EFORMAT, "weights.txt is empty"},
    {"weights.txt", NULL, VBT_EFORMAT, "missing weights.txt"},
    {"tract_lengths.txt", NULL, VBT_EFORMAT, "missing tract_lengths.txt"},
    {"centres.txt", NULL, VBT_EFORMAT, "missing centres.txt"},
    {"tract_lengths.txt", "1 2\n3 4\n", VBT_EFORMAT,
     "weights.txt has 3 rows but tract_lengths.txt has 2"},
    {"tract_lengths.txt", "0 1 2\n1 0 -3.2\n2 3 0\n", VBT_EFORMAT,
     "tract_lengths.txt row 2 col 3: negative length -3.2"},
    {"tract_lengths.txt", "0 1 2\n1 0 NaN\n2 3 0\n", VBT_ENUMERIC,
     "tract_lengths.txt row 2 col 3: NaN"},
    {"centres.txt", "a 1 2 3\nb 4 5 6\n", VBT_EFORMAT, "centres.txt has 2 labels, expected 3"},
    {"centres.txt", "a 1 2 3\nb 4 5 6\nc 1 2 3\nd 1 2 3\n", VBT_EFORMAT,
     "centres.txt has 4 labels, expected 3"},
    {"centres.txt", "a 1 2 3\nb 4 5\nc 1 2 3\n", VBT_EFORMAT,
     "centres.txt row 2 has 2 coordinates, expected 'label x y z'"},
    {"centres.txt", "a 1 2 3\nb 4 5 6\nc 1 nan 3\n", VBT_ENUMERIC, "centres.txt row 3 col 3: NaN"},
    {"centres.txt", "a 1 2 3\nb 4 5 6\nc 1 2x 3\n", VBT_EFORMAT, "row 3 col 3: not a number"},
    {"centres.txt",
     "a 1 2 3\nb 4 5 6\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 1 2 3\n",
     VBT_EFORMAT, "centres.txt row 3: label longer than 127 bytes"},
    {"areas.txt", "1.5\n2.5\n", VBT_EFORMAT, "areas.txt has 2 values, expected 3"},
    {"areas.txt", "1.5\n-2.5\n3\n", VBT_EFORMAT, "areas.txt value 2: negative area -2.5"},
    {"areas.txt", "1.5\n2.5\ninf\n", VBT_ENUMERIC, "areas.txt value 3: Inf"},
    {"cortical.txt", "1\n0\nyes\n", VBT_EFORMAT,
     "cortical.txt value 3: expected 0/1 or True/False"},
    {"cortical.txt", "1\n0\n2\n", VBT_EFORMAT, "cortical.txt value 3: expected 0/1"},
    {"cortical.txt", "1 0 1 1\n", VBT_EFORMAT, "cortical.txt has 4 values, expected 3"},
    {"hemispheres.txt", "True\nFalse\n", VBT_EFORMAT, "hemispheres.txt has 2 values, expected 3"},
    {"average_orientations.txt", "1 0 0\n0 1\n0 0 1\n", VBT_EFORMAT,
     "average_orientations.txt row 2 has 2 values, expected 3"},
    {"average_orientations.txt", "1 0\n0 1\n0 0\n", VBT_EFORMAT,
     "average_orientations.txt has 2 columns, expected 3"},
    {"average_orientations.txt", "1 0 0\n0 1 0\n", VBT_EFORMAT,
     "average_orientations.txt has 2 rows, expected 3"},
    {"average_orientations.txt", "1 0 0\n0 1 0\n0 0 NaN\n", VBT_ENUMERIC,
     "average_orientations.txt row 3 col 3: NaN"},
    {"weights.txt.bz2", "BZh9 is not really bzip2", VBT_EFORMAT, "weights.txt.bz2 is not bzip2 data"},
    {"weights.txt.bz2", "plain text", VBT_EFORMAT, "weights.txt.bz2 is not bzip2 data"},
};

static void expect_error(const char *path, int code, const char *phrase)
{
    vbt_connectome *c = (vbt_connectome *)&c; /* must be reset to NULL */
    vbt_msg msg = {{0}};
    int rc = vbt_connectome_load(&c, path, &msg);
    if (rc != code || !strstr(msg.text, path) || !strstr(msg.text, phrase))
        fail_msg("expected status %d with '%s', got %d: %s", code, phrase, rc, msg.text);
    assert_null(c);
    assert_null(strchr(msg.text, '\n'));
}

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *b = &bad_cases[i];
        char *dir = tu_mkdtemp();
        write_dir3(dir);
        if (b->content) {
            if (!strcmp(b->file, "weights.txt.bz2"))
                unlink(tu_path(dir, "weights.txt"));
            tu_write_file(tu_path(dir, b->file), b->content);
        } else {
            unlink(tu_path(dir, b->file));
        }
        expect_error(dir, b->code, b->phrase);
        tu_rmtree(dir);
        free(dir);
    }
}

static void test_bad_archives(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *zp = tu_path(dir, "conn.zip");
    vbt_connectome *c = NULL;
    vbt_msg msg = {{0}};

    /* Missing path. */
    const char *missing = tu_path(dir, "nope.zip");
    expect_error(missing, VBT_EIO, "No such file or directory");

    /* Not a zip. */
    tu_write_file(zp, W3);
    expect_error(zp, VBT_EFORMAT, "not a zip archive or directory");
    tu_write_file(zp, "");
    expect_error(zp, VBT_EFORMAT, "");

    /* The same errors through a zip as through a directory. */
    member bad[] = {
        {"weights.txt", "1 2 3\n4 5\n6 7 8\n", 0},
        {"tract_lengths.txt", L3, 0},
        {"centres.txt", C3, 0},
    };
    write_zip(zp, bad, 3);
    expect_error(zp, VBT_EFORMAT, "weights.txt row 2 has 2 values, expected 3");
    bad[0].data = W3;
    bad[2].name = "centres.csv";
    write_zip(zp, bad, 3);
    expect_error(zp, VBT_EFORMAT, "missing centres.txt");
    write_zip(zp, bad, 0);
    expect_error(zp, VBT_EFORMAT, "missing weights.txt");

    /* A member present twice. */
    member twice[] = {
        {"weights.txt", W3, 0},
        {"tract_lengths.txt", L3, 0},
        {"centres.txt", C3, 0},
        {"copy/weights.txt", W3, 0},
    };
    write_zip(zp, twice, 4);
    expect_error(zp, VBT_EFORMAT, "weights.txt found twice");

    /* A NUL byte in a member. */
    member nul[] = {
        {"weights.txt", "1 2 3\n4 5 6\n7 8\0 9\n", 19},
        {"tract_lengths.txt", L3, 0},
        {"centres.txt", C3, 0},
    };
    write_zip(zp, nul, 3);
    expect_error(zp, VBT_EFORMAT, "weights.txt is not a text file");

    /* A good zip, then truncated and corrupted copies of it. */
    write_zip(zp, twice, 3);
    c = load_ok(zp);
    check_c3(c);
    vbt_connectome_free(c);
    size_t len;
    char *bytes = read_whole(zp, &len);
    tu_write_bytes(zp, bytes, len / 2);
    expect_error(zp, VBT_EFORMAT, "");
    tu_write_bytes(zp, bytes, 20);
    expect_error(zp, VBT_EFORMAT, "");
    /* Without its central directory the zip is still read as a stream. */
    tu_write_bytes(zp, bytes, len - 10);
    c = load_ok(zp);
    check_c3(c);
    vbt_connectome_free(c);
    free(bytes);

    /* A corrupt bzip2 stream inside a zip: a good header, then garbage. */
    size_t blen;
    char *b = bz2(W3, &blen);
    for (size_t k = 10; k < blen; k++)
        b[k] ^= 0x5a;
    member badbz[] = {
        {"weights.txt.bz2", b, blen},
        {"tract_lengths.txt", L3, 0},
        {"centres.txt", C3, 0},
    };
    write_zip(zp, badbz, 3);
    assert_int_not_equal(vbt_connectome_load(&c, zp, &msg), VBT_OK);
    assert_null(c);
    assert_non_null(strstr(msg.text, zp));
    assert_non_null(strstr(msg.text, "weights.txt.bz2"));
    free(b);

    /* Both weights.txt and weights.txt.bz2 in a directory. */
    char *d2 = tu_mkdtemp();
    write_dir3(d2);
    b = bz2(W3, &blen);
    tu_write_bytes(tu_path(d2, "weights.txt.bz2"), b, blen);
    free(b);
    expect_error(d2, VBT_EFORMAT, "weights.txt found twice");
    tu_rmtree(d2);
    free(d2);

    /* Arguments. */
    assert_int_equal(vbt_connectome_load(NULL, zp, &msg), VBT_EINVAL);
    assert_int_equal(vbt_connectome_load(&c, NULL, &msg), VBT_EINVAL);
    assert_null(c);
    assert_int_equal(vbt_connectome_load(&c, missing, NULL), VBT_EIO);
    tu_rmtree(dir);
    free(dir);
}

/* A label that is not UTF-8 (Latin-1 "Amígdala") is refused, naming the
 * file and the row, in a folder and in a zip: it never reaches the JSON,
 * HTML and SVG outputs. */
static void test_latin1_label(void **state)
{
    (void)state;
    static const char latin1[] = "rA1 1.5 -2.25 3\nAm\xedgdala -7.125 0.5 11\nrM1 0 14.75 -9.5\n";
    char *dir = tu_mkdtemp();
    write_dir3(dir);
    tu_write_file(tu_path(dir, "centres.txt"), latin1);
    expect_error(dir, VBT_EFORMAT, "centres.txt row 2: the label is not valid UTF-8 (byte 3");
    char zip[4096];
    snprintf(zip, sizeof zip, "%s/latin1.zip", dir);
    const member m[] = {{"weights.txt", W3, 0}, {"tract_lengths.txt", L3, 0},
                        {"centres.txt", latin1, 0}};
    write_zip(zip, m, 3);
    expect_error(zip, VBT_EFORMAT, "not valid UTF-8");
    /* a truncated sequence, an overlong form, a surrogate */
    const char *bad[] = {"Am\xc3", "\xc0\xaf", "\xed\xa0\x80", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char text[256];
        snprintf(text, sizeof text, "rA1 1.5 -2.25 3\n%s -7.125 0.5 11\nrM1 0 14.75 -9.5\n",
                 bad[i]);
        tu_write_file(tu_path(dir, "centres.txt"), text);
        expect_error(dir, VBT_EFORMAT, "not valid UTF-8");
    }
    /* the struct API: a label set by hand is checked too */
    tu_write_file(tu_path(dir, "centres.txt"), C3);
    vbt_connectome *c = load_ok(dir);
    vbt_msg msg;
    c->labels[1][0] = (char)0xe9;
    assert_int_equal(vbt_connectome_validate(c, "hand-made", &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "label 1 is not valid UTF-8"));
    vbt_connectome_free(c);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tvb76),
        cmocka_unit_test(test_tvb68_bz2),
        cmocka_unit_test(test_tvb998),
        cmocka_unit_test(test_macaque84_subfolder),
        cmocka_unit_test(test_other_shared),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_zip_subfolder_bz2),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_struct_api),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_archives),
        cmocka_unit_test(test_latin1_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
