/* test_connectome_build.c -- subject connectomes: tractography matrices
 * (mirroring, symmetrising, normalisations), atlas priors (fill, blend,
 * only) with name maps and lesions, lengths from subject / atlas / geometry,
 * the provenance report, TVB zip and directory output, summary and
 * pictures, every error path; and the connectome, contacts and gain
 * commands run as a child process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cJSON.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <nifti2_io.h>

#include "test_util.h"
#include "vbt_connectome_build.h"
#include "vbt_gain.h"
#include "vbt_io.h"

/* Set when a test skips (after printing why): the program then exits 77,
 * which meson counts as a skipped test, unless another test failed. */
static int g_skipped;

static char *g_tmp;
static vbt_parcellation *g_parc;
static vbt_connectome *g_atlas;
static char g_atlas_zip[4200];

static const char *tmp(const char *name)
{
    return tu_path(g_tmp, name);
}

/* Regions a, b, c at (0,0,0), (10,0,0), (0,20,0) (1 mm identity grid, one
 * voxel each; MNI code).  The atlas A, B, X sits at twice those positions,
 * so every atlas length is scaled by 1/2. */
static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    int64_t dims[8] = {3, 11, 21, 1, 1, 1, 1, 1};
    nifti_image *im = nifti_make_new_nim(dims, DT_INT32, 1);
    int32_t *d = im->data;
    d[0] = 1;
    d[10] = 2;
    d[20 * 11] = 3;
    memset(&im->sto_xyz, 0, sizeof im->sto_xyz);
    for (int k = 0; k < 4; k++)
        im->sto_xyz.m[k][k] = 1;
    im->sform_code = NIFTI_XFORM_MNI_152;
    if (nifti_set_filenames(im, tmp("p.nii.gz"), 0, 1))
        return -1;
    nifti_image_write(im);
    nifti_image_free(im);
    tu_write_file(tmp("p.csv"), "1,a\n2,b\n3,c\n");
    tu_write_file(tmp("names.tsv"), "# subject atlas\nc\tX\n");
    vbt_msg msg;
    if (vbt_parcellation_load(&g_parc, tmp("p.nii.gz"), tmp("p.csv"), &msg))
        return -1;
    g_atlas = vbt_connectome_alloc(3);
    const double w[9] = {0, 1, 3, 1, 0, 5, 3, 5, 0}, l[9] = {0, 30, 50, 30, 0, 70, 50, 70, 0},
                 c[9] = {0, 0, 0, 20, 0, 0, 0, 40, 0};
    memcpy(g_atlas->weights, w, sizeof w);
    memcpy(g_atlas->lengths, l, sizeof l);
    memcpy(g_atlas->centres, c, sizeof c);
    strcpy(g_atlas->labels[0], "A");
    strcpy(g_atlas->labels[1], "B");
    strcpy(g_atlas->labels[2], "X");
    snprintf(g_atlas_zip, sizeof g_atlas_zip, "%s/atlas.zip", g_tmp);
    return vbt_connectome_save(g_atlas, g_atlas_zip, 0, &msg);
}

static int teardown(void **state)
{
    (void)state;
    vbt_parcellation_free(g_parc);
    vbt_connectome_free(g_atlas);
    tu_rmtree(g_tmp);
    free(g_tmp);
    cairo_debug_reset_static_data(); /* font caches of the pictures: no leak reports */
    FcFini();
    return 0;
}

/* Upper-triangular subject counts with (a, c) missing; length (a, b) only. */
static const double W_UP[9] = {0, 2, NAN, 0, 0, 4, 0, 0, 0};
static const double L_UP[9] = {0, 11, 0, 0, 0, NAN, 0, 0, 0};

static vbt_connectome *build(const double *w, const double *l, vbt_build_opts *o,
                             char *const *names, vbt_build_report *rep)
{
    vbt_connectome *c;
    vbt_msg msg;
    int rc = vbt_connectome_build(&c, g_parc, w, l, g_atlas, names, o, rep, &msg);
    if (rc)
        fail_msg("build: %s", msg.text);
    return c;
}

static void test_no_prior(void **state)
{
    (void)state;
    vbt_build_opts o;
    vbt_build_opts_default(&o);
    vbt_build_report r;
    vbt_connectome *c = build(W_UP, L_UP, &o, NULL, &r);
    assert_int_equal(r.mirrored, 1);
    assert_close(c->weights[1 * 3 + 0], 2, 0);
    assert_close(c->weights[2 * 3 + 1], 4, 0);
    assert_close(c->weights[0 * 3 + 2], 0, 0); /* missing, no prior */
    assert_int_equal(r.weight_src[2], VBT_SRC_NONE);
    assert_int_equal(r.n_weight[VBT_SRC_SUBJECT], 4);
    /* Lengths: subject 11 (mirrored); c has no atlas match (the atlas calls
     * it X), so (b, c) and (a, c) are geometry: 1.25 sqrt(500) and 1.25 x 20. */
    assert_close(c->lengths[1], 11, 0);
    assert_close(c->lengths[3], 11, 0);
    assert_close(c->lengths[1 * 3 + 2], 1.25 * sqrt(500.0), 1e-12);
    assert_int_equal(r.length_src[5], VBT_SRC_GEOMETRY);
    assert_close(c->lengths[2], 25, 1e-12);
    assert_int_equal(r.length_src[2], VBT_SRC_GEOMETRY);
    assert_int_equal(r.atlas_index[0], 0); /* 'a' matches 'A' ignoring case */
    assert_int_equal(r.atlas_index[2], -1);
    assert_int_equal(r.n_length[VBT_SRC_SUBJECT], 2);
    assert_int_equal(r.n_length[VBT_SRC_GEOMETRY], 2);
    assert_close(c->centres[3], 10, 0);
    vbt_connectome_summary s;
    size_t *iso;
    vbt_msg msg;
    assert_int_equal(vbt_connectome_summarize(c, &s, &iso, &msg), VBT_OK);
    assert_int_equal(s.n_edges, 4);
    assert_close(s.density, 4.0 / 6.0, 1e-15);
    assert_close(s.asymmetry, 0, 0);
    assert_close(s.w_min, 2, 0);
    assert_close(s.l_max, 1.25 * sqrt(500.0), 1e-12);
    assert_int_equal(s.n_isolated, 0);
    assert_null(iso);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
    /* Normalisations. */
    o.normalize = VBT_WNORM_ROWSUM;
    c = build(W_UP, L_UP, &o, NULL, NULL);
    assert_close(c->weights[3 + 0], 1.0 / 3.0, 1e-15);
    assert_close(c->weights[3 + 2], 2.0 / 3.0, 1e-15);
    vbt_connectome_free(c);
    o.normalize = VBT_WNORM_LOG1P_MAX;
    c = build(W_UP, L_UP, &o, NULL, NULL);
    assert_close(c->weights[1], log1p(2.0) / log1p(4.0), 1e-15);
    vbt_connectome_free(c);
    /* Symmetrise a full matrix; zero the diagonal. */
    const double full[9] = {7, 1, 0, 3, 0, 0, 0, 0, 0};
    vbt_build_opts_default(&o);
    o.symmetrise = 1;
    o.zero_diagonal = 1;
    o.normalize = VBT_WNORM_MAX;
    c = build(full, NULL, &o, NULL, &r);
    assert_int_equal(r.mirrored, 0);
    assert_close(c->weights[0], 0, 0);
    assert_close(c->weights[1], 1, 0);
    assert_close(c->weights[3], 1, 0);
    assert_int_equal(r.length_src[1], VBT_SRC_ATLAS); /* 30 / 2 */
    assert_close(c->lengths[1], 15, 1e-12);
    assert_int_equal(vbt_connectome_summarize(c, &s, &iso, &msg), VBT_OK);
    assert_int_equal(s.n_isolated, 1);
    assert_int_equal(iso[0], 2);
    free(iso);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
}

static void test_priors(void **state)
{
    (void)state;
    char *names[3] = {NULL, NULL, "X"};
    vbt_build_opts o;
    vbt_build_report r;
    vbt_build_opts_default(&o);
    /* fill: (a, c) from the atlas, 3 x (subject max 4 / atlas max 5) = 2.4. */
    o.prior = VBT_PRIOR_FILL;
    vbt_connectome *c = build(W_UP, L_UP, &o, names, &r);
    assert_close(c->weights[2], 2.4, 1e-15);
    assert_close(c->weights[6], 2.4, 1e-15);
    assert_int_equal(r.weight_src[2], VBT_SRC_ATLAS);
    assert_int_equal(r.n_weight[VBT_SRC_ATLAS], 2);
    assert_close(c->weights[1], 2, 0);
    assert_close(c->lengths[2], 25, 1e-12); /* atlas 50 x 20/40 */
    assert_int_equal(r.length_src[2], VBT_SRC_ATLAS);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
    /* fill with region a lesioned: its row and column come from the atlas. */
    int les[3] = {1, 0, 0};
    o.lesioned = les;
    c = build(W_UP, L_UP, &o, names, &r);
    assert_close(c->weights[1], 0.8, 1e-15);
    assert_close(c->lengths[1], 15, 1e-12); /* the subject's 11 is not trusted */
    assert_close(c->weights[5], 4, 0);
    assert_int_equal(r.n_weight[VBT_SRC_ATLAS], 4);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
    /* fill with a mask on (b, c). */
    unsigned char mask[9] = {0, 0, 0, 0, 0, 1, 0, 0, 0};
    o.lesioned = NULL;
    o.mask = mask;
    c = build(W_UP, L_UP, &o, names, &r);
    assert_close(c->weights[5], 4, 0); /* atlas 5 x 4/5 */
    assert_int_equal(r.weight_src[5], VBT_SRC_ATLAS);
    assert_int_equal(r.weight_src[7], VBT_SRC_SUBJECT);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
    /* blend, alpha 0.25, normalise none: 4 (0.25 w/4 + 0.75 a/5). */
    o.mask = NULL;
    o.prior = VBT_PRIOR_BLEND;
    o.alpha = 0.25;
    c = build(W_UP, L_UP, &o, names, &r);
    assert_close(c->weights[1], 1.1, 1e-14);
    assert_close(c->weights[5], 4.0, 1e-14);
    assert_close(c->weights[2], 2.4, 1e-14); /* subject missing: atlas only */
    assert_int_equal(r.weight_src[1], VBT_SRC_BLEND);
    assert_int_equal(r.weight_src[2], VBT_SRC_ATLAS);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
    /* only, normalise max: atlas / 5; lengths atlas / 2. */
    o.prior = VBT_PRIOR_ONLY;
    o.normalize = VBT_WNORM_MAX;
    c = build(NULL, NULL, &o, names, &r);
    assert_close(c->weights[5], 1.0, 0);
    assert_close(c->weights[1], 0.2, 1e-15);
    assert_close(c->lengths[5], 35, 1e-12);
    assert_int_equal(r.n_weight[VBT_SRC_ATLAS], 6);
    assert_int_equal(r.n_length[VBT_SRC_ATLAS], 6);
    vbt_connectome_free(c);
    vbt_build_report_clear(&r);
}

static void expect_build_error(const double *w, vbt_build_opts *o, const vbt_connectome *a,
                               char *const *names, int code, const char *needle)
{
    vbt_connectome *c = (vbt_connectome *)1;
    vbt_msg msg;
    int rc = vbt_connectome_build(&c, g_parc, w, NULL, a, names, o, NULL, &msg);
    if (rc != code || !strstr(msg.text, needle))
        fail_msg("got %d '%s', expected %d '%s'", rc, msg.text, code, needle);
    assert_null(c);
}

static void test_errors(void **state)
{
    (void)state;
    vbt_build_opts o;
    vbt_build_opts_default(&o);
    o.prior = VBT_PRIOR_FILL;
    expect_build_error(W_UP, &o, NULL, NULL, VBT_EINVAL, "needs an atlas");
    o.prior = VBT_PRIOR_NONE;
    expect_build_error(NULL, &o, g_atlas, NULL, VBT_EINVAL, "no subject weights");
    o.alpha = 1.5;
    expect_build_error(W_UP, &o, g_atlas, NULL, VBT_EINVAL, "alpha");
    o.alpha = 0.5;
    o.tortuosity = 0.5;
    expect_build_error(W_UP, &o, g_atlas, NULL, VBT_EINVAL, "tortuosity");
    o.tortuosity = 1.25;
    o.prior = VBT_PRIOR_ONLY;
    char *none[3] = {"-", "-", "-"};
    expect_build_error(NULL, &o, g_atlas, none, VBT_ENOTFOUND, "no region name matches");

    /* Matrices. */
    vbt_msg msg;
    double *m;
    size_t n;
    tu_write_file(tmp("m1.csv"), "0,1\n1,0\n");
    assert_int_equal(vbt_matrix_load(tmp("m1.csv"), 3, &m, NULL, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "2x2 matrix, but the parcellation has 3 regions"));
    assert_int_equal(vbt_matrix_load(tmp("m1.csv"), 0, &m, &n, &msg), VBT_OK);
    assert_int_equal(n, 2);
    free(m);
    tu_write_file(tmp("m2.txt"), "0 1 2\n1 0 2\n");
    assert_int_equal(vbt_matrix_load(tmp("m2.txt"), 0, &m, NULL, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "square"));
    tu_write_file(tmp("m3.tsv"), "0\t-1\n1\t0\n");
    assert_int_equal(vbt_matrix_load(tmp("m3.tsv"), 2, &m, NULL, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "row 1, column 2: -1"));
    tu_write_file(tmp("m4.txt"), "0 1\n1 zero\n");
    assert_int_equal(vbt_matrix_load(tmp("m4.txt"), 2, &m, NULL, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "line 2, column 2: 'zero'"));
    tu_write_file(tmp("m5.txt"), "0 1\n1\n");
    assert_int_equal(vbt_matrix_load(tmp("m5.txt"), 2, &m, NULL, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "line 2 has 1 values"));
    tu_write_file(tmp("m6.csv"), "0,,nan\n1,0,2\n3,n/a,0\n");
    assert_int_equal(vbt_matrix_load(tmp("m6.csv"), 3, &m, NULL, &msg), VBT_OK);
    assert_true(isnan(m[1]) && isnan(m[2]) && isnan(m[7]));
    free(m);
    const double v[4] = {0, 1, 2, 0};
    size_t shape[2] = {2, 2}, shape1[1] = {4};
    assert_int_equal(vbt_npy_write(tmp("m7.npy"), v, 2, shape, 0, &msg), VBT_OK);
    assert_int_equal(vbt_matrix_load(tmp("m7.npy"), 2, &m, NULL, &msg), VBT_OK);
    assert_close(m[2], 2, 0);
    free(m);
    assert_int_equal(vbt_npy_write(tmp("m8.npy"), v, 1, shape1, 0, &msg), VBT_OK);
    assert_int_equal(vbt_matrix_load(tmp("m8.npy"), 2, &m, NULL, &msg), VBT_EFORMAT);
    if (!strstr(msg.text, "1-D array"))
        fail_msg("%s", msg.text);

    /* Name maps. */
    char **names;
    tu_write_file(tmp("n1.tsv"), "q\tX\n");
    assert_int_equal(vbt_name_map_load(tmp("n1.tsv"), g_parc, &names, &msg), VBT_ENOTFOUND);
    tu_write_file(tmp("n2.tsv"), "a X Y\n");
    assert_int_equal(vbt_name_map_load(tmp("n2.tsv"), g_parc, &names, &msg), VBT_EFORMAT);
    assert_int_equal(vbt_name_map_load(tmp("names.tsv"), g_parc, &names, &msg), VBT_OK);
    assert_null(names[0]);
    assert_string_equal(names[2], "X");
    vbt_name_map_free(names, 3);

    vbt_weight_norm wn;
    vbt_prior_mode pm;
    assert_int_equal(vbt_weight_norm_parse("log1p-max", &wn), VBT_OK);
    assert_int_equal(wn, VBT_WNORM_LOG1P_MAX);
    assert_int_equal(vbt_weight_norm_parse("sum", &wn), VBT_ENOTFOUND);
    assert_int_equal(vbt_prior_mode_parse("blend", &pm), VBT_OK);
    assert_int_equal(vbt_prior_mode_parse("mix", &pm), VBT_ENOTFOUND);
}

static void test_save_plot(void **state)
{
    (void)state;
    vbt_msg msg;
    vbt_connectome *a;
    /* The atlas written in setup reads back bit for bit. */
    assert_int_equal(vbt_connectome_load(&a, g_atlas_zip, &msg), VBT_OK);
    assert_memory_equal(a->weights, g_atlas->weights, 9 * sizeof(double));
    assert_memory_equal(a->lengths, g_atlas->lengths, 9 * sizeof(double));
    assert_string_equal(a->labels[2], "X");
    vbt_connectome_free(a);
    vbt_build_opts o;
    vbt_build_opts_default(&o);
    o.normalize = VBT_WNORM_LOG1P_MAX;
    vbt_connectome *c = build(W_UP, L_UP, &o, NULL, NULL);
    assert_int_equal(vbt_connectome_save(c, tmp("dirconn"), 0, &msg), VBT_OK);
    assert_int_equal(vbt_connectome_save(c, tmp("dirconn"), 0, &msg), VBT_EEXIST);
    assert_int_equal(vbt_connectome_save(c, tmp("dirconn"), 1, &msg), VBT_OK);
    assert_int_equal(vbt_connectome_load(&a, tmp("dirconn"), &msg), VBT_OK);
    assert_memory_equal(a->weights, c->weights, 9 * sizeof(double));
    assert_non_null(a->hemispheres);
    vbt_connectome_free(a);
    assert_int_equal(vbt_connectome_plot(c, tmp("w.png"), "test", 0, &msg), VBT_OK);
    assert_int_equal(vbt_connectome_plot(c, tmp("w.svg"), NULL, 0, &msg), VBT_OK);
    assert_int_equal(vbt_connectome_plot(c, tmp("w.svg"), NULL, 0, &msg), VBT_EEXIST);
    assert_int_equal(vbt_connectome_plot(c, tmp("w.pdf"), NULL, 0, &msg), VBT_EINVAL);
    char *buf;
    size_t len;
    assert_int_equal(vbt_file_read_all(tmp("w.png"), &buf, &len, 0, &msg), VBT_OK);
    assert_memory_equal(buf, "\x89PNG", 4);
    free(buf);
    assert_int_equal(vbt_file_read_all(tmp("w.svg"), &buf, &len, 0, &msg), VBT_OK);
    assert_non_null(strstr(buf, "<svg"));
    free(buf);
    c->weights[0] = -1;
    assert_int_equal(vbt_connectome_save(c, tmp("bad.zip"), 0, &msg), VBT_EFORMAT);
    assert_false(tu_exists(tmp("bad.zip")));
    vbt_connectome_free(c);
}

/* ---- the commands ---------------------------------------------------------- */

static int run(const char *args)
{
    const char *exe = getenv("VBT_EXE");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s/out.txt' 2>'%s/err.txt'", exe ? exe : "vbt", args,
             g_tmp, g_tmp);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *err_text(void)
{
    char *buf;
    size_t len;
    vbt_msg msg;
    if (vbt_file_read_all(tmp("err.txt"), &buf, &len, 0, &msg))
        return NULL;
    return buf;
}

static void expect_cli(const char *args, int code, const char *needle)
{
    int rc = run(args);
    char *e = err_text();
    if (rc != code || (needle && (!e || !strstr(e, needle))))
        fail_msg("vbt %s: exit %d, stderr '%s'; expected %d '%s'", args, rc, e ? e : "", code,
                 needle ? needle : "");
    free(e);
}

static void test_cli(void **state)
{
    (void)state;
    if (!getenv("VBT_EXE")) {
        /* Run outside meson: no vbt executable to test. */
        print_message("skipped: VBT_EXE is not set (run through 'meson test')\n");
        g_skipped = 1;
        skip();
    }
    char a[8192];
    tu_write_file(tmp("w.csv"), "0,2,nan\n0,0,4\n0,0,0\n");
    snprintf(a, sizeof a, "connectome build %s --labels %s --weights %s --atlas %s --name-map %s "
             "--prior fill -o %s", tmp("p.nii.gz"), tmp("p.csv"), tmp("w.csv"), g_atlas_zip,
             tmp("names.tsv"), tmp("subj.zip"));
    expect_cli(a, 0, NULL);
    expect_cli(a, 1, "exists (use --force to overwrite)");
    vbt_connectome *c;
    vbt_msg msg;
    assert_int_equal(vbt_connectome_load(&c, tmp("subj.zip"), &msg), VBT_OK);
    assert_close(c->weights[2], 2.4, 1e-15);
    vbt_connectome_free(c);
    char *js;
    size_t len;
    assert_int_equal(vbt_file_read_all(tmp("subj.json"), &js, &len, 0, &msg), VBT_OK);
    cJSON *root = cJSON_Parse(js);
    free(js);
    assert_non_null(root);
    cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "sources"), "weights");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(w, "counts"), "atlas")->valueint, 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(w, "atlas")), 2);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "inputs"),
                                                            "weights"), "sha256"));
    cJSON_Delete(root);
    snprintf(a, sizeof a, "connectome info %s --plot %s", tmp("subj.zip"), tmp("subj.png"));
    expect_cli(a, 0, NULL);
    assert_true(tu_exists(tmp("subj.png")));

    /* Usage and input errors. */
    snprintf(a, sizeof a, "connectome frobnicate %s", tmp("p.csv"));
    expect_cli(a, 2, "unknown action");
    snprintf(a, sizeof a, "connectome build %s -o %s", tmp("p.nii.gz"), tmp("x.zip"));
    expect_cli(a, 2, "needs --labels");
    snprintf(a, sizeof a, "connectome build %s --labels %s --prior only -o %s", tmp("p.nii.gz"),
             tmp("p.csv"), tmp("x.zip"));
    expect_cli(a, 2, "needs --atlas");
    tu_write_file(tmp("w2.csv"), "0,1\n1,0\n");
    snprintf(a, sizeof a, "connectome build %s --labels %s --weights %s -o %s", tmp("p.nii.gz"),
             tmp("p.csv"), tmp("w2.csv"), tmp("x.zip"));
    expect_cli(a, 1, "2x2 matrix, but the parcellation has 3 regions");
    assert_false(tu_exists(tmp("x.zip")));
    snprintf(a, sizeof a, "connectome build %s --labels %s --weights %s --lesioned q -o %s",
             tmp("p.nii.gz"), tmp("p.csv"), tmp("w.csv"), tmp("x.zip"));
    expect_cli(a, 1, "--lesioned: 'q'");

    /* Contacts and gain on the cm fixture (ACPC space) against the MNI-coded volume. */
    char el[4200];
    snprintf(el, sizeof el, "%s/connectomes/sub-01_space-ACPC_electrodes.tsv", tu_data_dir());
    snprintf(a, sizeof a, "contacts localize %s --parcellation %s --labels %s -o %s", el,
             tmp("p.nii.gz"), tmp("p.csv"), tmp("loc.tsv"));
    expect_cli(a, 1, "different coordinate systems");
    snprintf(a, sizeof a, "contacts list %s", el);
    expect_cli(a, 0, NULL);
    snprintf(a, sizeof a, "gain --contacts %s --method centre --connectome %s --bipolar -o %s",
             el, tmp("subj.zip"), tmp("g.npy"));
    expect_cli(a, 0, NULL);
    vbt_array g = {0};
    assert_int_equal(vbt_npy_read(tmp("g.npy"), &g, &msg), VBT_OK);
    assert_int_equal(g.shape[0], 2); /* B2-B3, A1-A2 */
    assert_int_equal(g.shape[1], 3);
    /* B2 (11, 20, 30) mm, B3 (12, 20, 30) to region a at the origin. */
    double b2 = 1.0 / (4 * M_PI * (121.0 + 400 + 900)), b3 = 1.0 / (4 * M_PI * (144.0 + 400 + 900));
    assert_close(g.data[0], b2 - b3, 1e-15);
    vbt_array_clear(&g);
    assert_int_equal(vbt_file_read_all(tmp("g.tsv"), &js, &len, 0, &msg), VBT_OK);
    assert_non_null(strstr(js, "0\tB2-B3\t"));
    free(js);
    assert_true(tu_exists(tmp("g.json")));
    expect_cli(a, 1, "exists");
    snprintf(a, sizeof a, "gain --contacts %s --method volume -o %s", el, tmp("h.npy"));
    expect_cli(a, 2, "needs --parcellation");
    snprintf(a, sizeof a, "gain --contacts %s --method dipole -o %s", el, tmp("h.npy"));
    expect_cli(a, 2, "needs --surface");
    snprintf(a, sizeof a, "gain --contacts %s --method centre --connectome %s -o %s", el,
             tmp("subj.zip"), tmp("h.txt"));
    expect_cli(a, 2, ".npy");
    snprintf(a, sizeof a, "gain --contacts %s --method volume --parcellation %s --labels %s "
             "-o %s", el, tmp("p.nii.gz"), tmp("p.csv"), tmp("h.npy"));
    expect_cli(a, 1, "different coordinate systems");
    snprintf(a, sizeof a, "gain --contacts %s --method volume --parcellation %s --labels %s "
             "--force-space -o %s", el, tmp("p.nii.gz"), tmp("p.csv"), tmp("h.npy"));
    expect_cli(a, 0, NULL);
    snprintf(a, sizeof a, "gain --contacts %s --method eeg -o %s", tmp("nope.tsv"), tmp("h.npy"));
    expect_cli(a, 1, "cannot open");

    /* The volume gain in the atlas connectome's columns: a -> A by name, c -> X by the
     * map, b left out, so B (no voxels) is a uniform ball at its centre (20, 0, 0) of
     * the mean volume of A and X (1 mm^3; radius (3 / 4 pi)^(1/3), vbt_gain_ball, which
     * test_gain checks against voxel sums); two mapped columns are too few to register
     * the centres, which stay as given. */
    tu_write_file(tmp("names2.tsv"), "b\t-\nc\tX\n");
    snprintf(a, sizeof a, "gain --contacts %.1000s --method volume --parcellation %.1000s --labels %.1000s "
             "--connectome %.1000s --name-map %.1000s --force-space --bipolar -o %.1000s", el, tmp("p.nii.gz"),
             tmp("p.csv"), g_atlas_zip, tmp("names2.tsv"), tmp("m.npy"));
    expect_cli(a, 0, NULL);
    assert_int_equal(vbt_npy_read(tmp("m.npy"), &g, &msg), VBT_OK);
    assert_int_equal(g.shape[0], 2);
    assert_int_equal(g.shape[1], 3);
    /* row B2-B3: B2 (11, 20, 30), B3 (12, 20, 30) */
    double fa = b2 - b3;
    const double rb = cbrt(3.0 / (4 * M_PI));
    double fb = vbt_gain_ball(sqrt(81.0 + 400 + 900), rb) - vbt_gain_ball(sqrt(64.0 + 400 + 900), rb);
    /* within 2e-4 of the point source's difference (R^2/d^2 ~ 3e-4) */
    assert_close(fb, 1.0 / (4 * M_PI * (81.0 + 400 + 900)) - 1.0 / (4 * M_PI * (64.0 + 400 + 900)),
                 2e-4 * fabs(fb));
    double fx = 1.0 / (4 * M_PI * (121.0 + 0 + 900)) - 1.0 / (4 * M_PI * (144.0 + 0 + 900));
    assert_close(g.data[0], fa, 1e-15);
    assert_close(g.data[1], fb, 1e-15);
    assert_close(g.data[2], fx, 1e-15);
    vbt_array_clear(&g);
    assert_int_equal(vbt_file_read_all(tmp("m.json"), &js, &len, 0, &msg), VBT_OK);
    root = cJSON_Parse(js);
    free(js);
    cJSON *gj = cJSON_GetObjectItem(root, "gain");
    cJSON *fbj = cJSON_GetObjectItem(gj, "centre_fallback"),
          *unj = cJSON_GetObjectItem(gj, "parcellation_unused");
    assert_int_equal(cJSON_GetArraySize(fbj), 1);
    assert_string_equal(cJSON_GetArrayItem(fbj, 0)->valuestring, "B");
    assert_int_equal(cJSON_GetArraySize(unj), 1);
    assert_string_equal(cJSON_GetArrayItem(unj, 0)->valuestring, "b");
    cJSON *cen = cJSON_GetObjectItem(gj, "centres"),
          *fbmm = cJSON_GetArrayItem(cJSON_GetObjectItem(gj, "centre_fallback_mm"), 0);
    assert_string_equal(cJSON_GetObjectItem(cen, "placed")->valuestring, "as given");
    assert_int_equal(cJSON_GetObjectItem(cen, "regions_fitted")->valueint, 2);
    assert_null(cJSON_GetObjectItem(cen, "affine"));
    assert_true(cJSON_GetArrayItem(fbmm, 0)->valuedouble == 20.0 &&
                cJSON_GetArrayItem(fbmm, 1)->valuedouble == 0.0);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(gj, "regions"), 2)->valuestring,
                        "X");
    cJSON_Delete(root);
    /* Nothing matches: refused; a name map without a connectome: usage. */
    tu_write_file(tmp("names3.tsv"), "a\t-\nb\t-\nc\t-\n");
    snprintf(a, sizeof a, "gain --contacts %.1000s --method volume --parcellation %.1000s --labels %.1000s "
             "--connectome %.1000s --name-map %.1000s --force-space -o %.1000s", el, tmp("p.nii.gz"),
             tmp("p.csv"), g_atlas_zip, tmp("names3.tsv"), tmp("nm.npy"));
    expect_cli(a, 1, "no region of the parcellation matches");
    assert_false(tu_exists(tmp("nm.npy")));
    snprintf(a, sizeof a, "gain --contacts %.1000s --method volume --parcellation %.1000s --labels "
             "%.1000s --name-map %.1000s --force-space -o %.1000s", el, tmp("p.nii.gz"), tmp("p.csv"),
             tmp("names2.tsv"), tmp("nm.npy"));
    expect_cli(a, 2, "--name-map needs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_prior),
        cmocka_unit_test(test_priors),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_save_plot),
        cmocka_unit_test(test_cli),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed ? failed : g_skipped ? 77 : 0;
}
