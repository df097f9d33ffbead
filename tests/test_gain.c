/* test_gain.c -- each gain formula on configurations computed by hand
 * (centre, volume, surface dipole with read and computed normals, EEG
 * sphere), the minimum distance, bipolar rows, row normalisation, surfaces
 * and region mappings (float labels, length mismatch), every error path;
 * the whole computation of `vbt gain` (vbt_gain_matrix_compute / _write)
 * against the formulas called directly, and its three files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nifti2_io.h>

#include "test_util.h"
#include "vbt.h"
#include "vbt_connectome_build.h"
#include "vbt_gain.h"

#define FOUR_PI (4.0 * 3.14159265358979323846)

static char *g_tmp;

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

static void test_centre(void **state)
{
    (void)state;
    const double s[6] = {0, 0, 0, 3.1, 4.2, 1.2};
    const double c[6] = {3, 4, 0, 3.3, 4.2, 1.2};
    double g[4];
    vbt_msg msg;
    assert_int_equal(vbt_gain_centre(s, 2, c, 2, 1.0, g, &msg), VBT_OK);
    /* |s0 - c0| = 5: 1/(4 pi 25). */
    assert_close(g[0], 1.0 / (FOUR_PI * 25.0), 1e-15);
    /* s1 is 0.2 mm from c1: the minimum distance 1 mm applies. */
    assert_close(g[3], 1.0 / FOUR_PI, 1e-15);
    assert_close(g[2], 1.0 / (FOUR_PI * (0.1 * 0.1 + 0.2 * 0.2 + 1.2 * 1.2)), 1e-14);
    /* Bipolar and row normalisation. */
    size_t pairs[2] = {0, 1};
    double b[2];
    vbt_gain_bipolar(g, 2, pairs, 1, b);
    assert_close(b[0], g[0] - g[2], 0);
    assert_close(b[1], g[1] - g[3], 0);
    double m[4] = {1, -4, 2, 2};
    vbt_gain_normalize_rows(m, 2, 2, VBT_GAIN_NORM_ROW_MAX);
    assert_close(m[0], 0.25, 0);
    assert_close(m[1], -1.0, 0);
    assert_close(m[2], 1.0, 0);
    double q[4] = {1, -3, 0, 0};
    vbt_gain_normalize_rows(q, 2, 2, VBT_GAIN_NORM_ROW_SUM);
    assert_close(q[0], 0.25, 0);
    assert_close(q[1], -0.75, 0);
    assert_close(q[2], 0.0, 0); /* an all-zero row stays zero */
    /* Errors. */
    assert_int_equal(vbt_gain_centre(s, 2, c, 2, 0.0, g, &msg), VBT_EINVAL);
    double bad[3] = {NAN, 0, 0};
    assert_int_equal(vbt_gain_centre(bad, 1, c, 1, 1.0, g, &msg), VBT_ENUMERIC);
    assert_int_equal(vbt_gain_centre(s, 1, bad, 1, 1.0, g, &msg), VBT_ENUMERIC);
    assert_int_equal(vbt_gain_centre(s, 0, c, 1, 1.0, g, &msg), VBT_EINVAL);
}

static void test_volume(void **state)
{
    (void)state;
    /* A 3x2x2 grid of 2 mm voxels (8 mm^3), origin (-2, 0, 0): label 5 at
     * voxels (0,0,0), (2,0,0) -> (-2,0,0), (2,0,0); label 6 at (1,1,1) ->
     * (0,2,2). */
    int64_t dims[8] = {3, 3, 2, 2, 1, 1, 1, 1};
    nifti_image *im = nifti_make_new_nim(dims, DT_UINT8, 1);
    uint8_t *d = im->data;
    d[0] = 5;
    d[2] = 5;
    d[1 + 3 * (1 + 2 * 1)] = 6;
    memset(&im->sto_xyz, 0, sizeof im->sto_xyz);
    im->sto_xyz.m[0][0] = im->sto_xyz.m[1][1] = im->sto_xyz.m[2][2] = 2;
    im->sto_xyz.m[0][3] = -2;
    im->sto_xyz.m[3][3] = 1;
    im->sform_code = NIFTI_XFORM_MNI_152;
    const char *vol = tu_path(g_tmp, "v.nii");
    assert_int_equal(nifti_set_filenames(im, vol, 0, 1), 0);
    nifti_image_write(im);
    nifti_image_free(im);
    tu_write_file(tu_path(g_tmp, "v.csv"), "5,a\n6,b\n");
    vbt_parcellation *p;
    vbt_msg msg;
    assert_int_equal(vbt_parcellation_load(&p, vol, tu_path(g_tmp, "v.csv"), &msg), VBT_OK);
    /* Sensor at (0, 3, 0): distances^2 to label 5: 4+9 = 13 twice; to 6: 1+4 = 5.
     * Sensor at (2, 0, 0.5): on-voxel case |s - v| = 0.5 < 1 -> 1 mm. */
    const double s[6] = {0, 3, 0, 2, 0, 0.5};
    double g[4];
    assert_int_equal(vbt_gain_volume(s, 2, p, 1.0, g, &msg), VBT_OK);
    assert_close(g[0], 8.0 / FOUR_PI * (2.0 / 13.0), 1e-15);
    assert_close(g[1], 8.0 / FOUR_PI / 5.0, 1e-15);
    assert_close(g[2], 8.0 / FOUR_PI * (1.0 / 16.25 + 1.0 / 1.0), 1e-15);
    assert_close(g[3], 8.0 / FOUR_PI / (4.0 + 4.0 + 2.25), 1e-15);
    assert_int_equal(vbt_gain_volume(s, 2, p, -1.0, g, &msg), VBT_EINVAL);
    vbt_parcellation_free(p);
}

/* One triangle (0,0,0), (1,0,0), (0,1,0): area 1/2, A_v = 1/6, computed
 * normal +z.  Sensor (0,0,10): G = (1/6)(10/(4 pi))(1/10^3 + 2/101^1.5). */
static void test_dipole(void **state)
{
    (void)state;
    char dir[4200], f[4300];
    snprintf(dir, sizeof dir, "%s/surf", g_tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(f, sizeof f, "%s/vertices.txt", dir);
    tu_write_file(f, "0 0 0\n1 0 0\n0 1 0\n5 5 5\n");
    snprintf(f, sizeof f, "%s/triangles.txt", dir);
    tu_write_file(f, "0 1 2\n");
    tu_write_file(tu_path(g_tmp, "map.txt"), "0.0\n0\n0.0\n1\n");
    vbt_surface *sf;
    vbt_msg msg;
    int *map;
    size_t nr;
    assert_int_equal(vbt_surface_load(&sf, dir, &msg), VBT_OK);
    assert_int_equal(sf->nv, 4);
    assert_int_equal(sf->nt, 1);
    assert_int_equal(sf->normals_computed, 1);
    assert_close(sf->normals[2], 1.0, 1e-15);
    double area[4];
    assert_int_equal(vbt_surface_vertex_areas(sf, area, &msg), VBT_OK);
    assert_close(area[0], 1.0 / 6.0, 1e-15);
    assert_close(area[3], 0.0, 0); /* in no triangle */
    assert_int_equal(vbt_region_mapping_load(tu_path(g_tmp, "map.txt"), 4, &map, &nr, &msg),
                     VBT_OK);
    assert_int_equal(nr, 2);
    assert_int_equal(map[2], 0);
    const double s[6] = {0, 0, 10, 0.2, 0.1, 0};
    double g[4];
    assert_int_equal(vbt_gain_dipole(s, 2, sf, map, nr, 1.0, g, &msg), VBT_OK);
    double expect = (1.0 / 6.0) * 10.0 / FOUR_PI * (1e-3 + 2.0 / pow(101.0, 1.5));
    assert_close(g[0], expect, 1e-16);
    assert_close(g[1], 0.0, 0);
    /* A sensor in the plane of the triangle: n.(s - x) = 0. */
    assert_close(g[2], 0.0, 1e-18);
    /* Normals read from normals.txt (pointing -z) flip the sign. */
    snprintf(f, sizeof f, "%s/normals.txt", dir);
    tu_write_file(f, "0 0 -2\n0 0 -1\n0 0 -1\n1 0 0\n");
    vbt_surface_free(sf);
    assert_int_equal(vbt_surface_load(&sf, dir, &msg), VBT_OK);
    assert_int_equal(sf->normals_computed, 0);
    assert_close(sf->normals[2], -1.0, 0); /* normalised */
    assert_int_equal(vbt_gain_dipole(s, 1, sf, map, nr, 1.0, g, &msg), VBT_OK);
    assert_close(g[0], -expect, 1e-16);
    /* Mapping index beyond the regions. */
    assert_int_equal(vbt_gain_dipole(s, 1, sf, map, 1, 1.0, g, &msg), VBT_EINVAL);
    free(map);
    /* Length mismatch, non-integers, negative indices. */
    assert_int_equal(vbt_region_mapping_load(tu_path(g_tmp, "map.txt"), 5, &map, &nr, &msg),
                     VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "4 entries, but the surface has 5 vertices"));
    tu_write_file(tu_path(g_tmp, "map2.txt"), "0 1.5 0 0\n");
    assert_int_equal(vbt_region_mapping_load(tu_path(g_tmp, "map2.txt"), 4, &map, &nr, &msg),
                     VBT_EFORMAT);
    tu_write_file(tu_path(g_tmp, "map3.txt"), "0 -1 0 0\n");
    assert_int_equal(vbt_region_mapping_load(tu_path(g_tmp, "map3.txt"), 4, &map, &nr, &msg),
                     VBT_EFORMAT);
    vbt_surface_free(sf);
    /* Broken surfaces. */
    snprintf(f, sizeof f, "%s/normals.txt", dir);
    tu_write_file(f, "0 0 1\n");
    assert_int_equal(vbt_surface_load(&sf, dir, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "one per vertex"));
    tu_write_file(f, "0 0 1\n0 0 1\n0 0 0\n0 0 1\n");
    assert_int_equal(vbt_surface_load(&sf, dir, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "zero normal"));
    remove(f);
    snprintf(f, sizeof f, "%s/triangles.txt", dir);
    tu_write_file(f, "0 1 4\n");
    assert_int_equal(vbt_surface_load(&sf, dir, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "outside [0, 4)"));
    remove(f);
    assert_int_equal(vbt_surface_load(&sf, dir, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "no triangles.txt"));
    assert_null(sf);
    vbt_surface_free(NULL);
}

/* Two regions at (+-10, 0, 0): sphere centre 0, R = 1.05125 x 10.  A sensor
 * at (0, 0, 5) moves to s' = (0, 0, R).  Radial orientations (+-1, 0, 0):
 * G[0] = (1,0,0).(s' - c_0)/(4 pi |s' - c_0|^3) = -10/(4 pi (100 + R^2)^1.5). */
static void test_eeg(void **state)
{
    (void)state;
    const double c[6] = {10, 0, 0, -10, 0, 0}, s[3] = {0, 0, 5};
    double g[2];
    vbt_msg msg;
    assert_int_equal(vbt_gain_eeg(s, 1, c, NULL, 2, 1.0, g, &msg), VBT_OK);
    double R = 1.05125 * 10.0, d3 = pow(100.0 + R * R, 1.5);
    assert_close(g[0], -10.0 / (FOUR_PI * d3), 1e-17);
    assert_close(g[1], -10.0 / (FOUR_PI * d3), 1e-17);
    /* Given orientations (TVB's, not normalised): Q_0 = (0, 0, 2). */
    const double o[6] = {0, 0, 2, 0, 0, 0};
    assert_int_equal(vbt_gain_eeg(s, 1, c, o, 2, 1.0, g, &msg), VBT_OK);
    assert_close(g[0], 2.0 * R / (FOUR_PI * d3), 1e-17);
    assert_close(g[1], 0.0, 0);
    const double origin[3] = {0, 0, 0};
    assert_int_equal(vbt_gain_eeg(origin, 1, c, NULL, 2, 1.0, g, &msg), VBT_EINVAL);
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

/* tvb-data's regionMapping_16k_192.txt has 16500 entries for the 16384
 * vertices of cortex_16384: refused.  The 76-region mapping fits. */
static void test_real_surface(void **state)
{
    (void)state;
    const char *surf = shared("tvb-data/surfaceData/cortex_16384.zip"),
               *m192 = shared("tvb-data/regionMapping/regionMapping_16k_192.txt"),
               *m76 = shared("tvb-data/regionMapping/regionMapping_16k_76.txt");
    vbt_surface *sf;
    vbt_msg msg;
    int *map;
    size_t nr;
    assert_int_equal(vbt_surface_load(&sf, surf, &msg), VBT_OK);
    assert_int_equal(sf->nv, 16384);
    assert_int_equal(sf->normals_computed, 0);
    assert_int_equal(vbt_region_mapping_load(m192, sf->nv, &map, &nr, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "16500 entries, but the surface has 16384 vertices"));
    assert_int_equal(vbt_region_mapping_load(m76, sf->nv, &map, &nr, &msg), VBT_OK);
    assert_int_equal(nr, 76);
    /* The vertex areas add up to the surface area. */
    double *a = malloc(sf->nv * sizeof *a), total = 0;
    vbt_surface_vertex_areas(sf, a, &msg);
    for (size_t v = 0; v < sf->nv; v++)
        total += a[v];
    print_message("cortex_16384: %.0f mm^2\n", total);
    assert_true(total > 5e4 && total < 5e5);
    free(a);
    free(map);
    vbt_surface_free(sf);
}

/* A hand-made connectome directory (3 regions) and TVB contacts text:
 * electrode A with contacts 1-3 on the x axis, B1 apart. */
static void write_small_inputs(char *conn, size_t n, char *contacts, size_t m)
{
    snprintf(conn, n, "%s/conn3", g_tmp);
    mkdir(conn, 0755);
    tu_write_file(tu_path(conn, "weights.txt"), "0 1 0\n1 0 2\n0 2 0\n");
    tu_write_file(tu_path(conn, "tract_lengths.txt"), "0 10 20\n10 0 15\n20 15 0\n");
    tu_write_file(tu_path(conn, "centres.txt"),
                  "R0 2.385 -1.5 0.731\nR1 25 3.25 -4\nR2 -7.5 11 2.5\n");
    snprintf(contacts, m, "%s/contacts.txt", g_tmp);
    tu_write_file(contacts, "A1 10 0 0\nA2 13.5 0 0\nA3 17 0 0\nB1 0 20 5\n");
}

static const double k_sensors[12] = {10, 0, 0, 13.5, 0, 0, 17, 0, 0, 0, 20, 5};
static const double k_centres[9] = {2.385, -1.5, 0.731, 25, 3.25, -4, -7.5, 11, 2.5};

/* vbt_gain_matrix_compute / _write: the computation `vbt gain` runs, checked
 * against the formula functions called directly, and the three files. */
static void test_matrix_centre(void **state)
{
    (void)state;
    char conn[4096], contacts[4096];
    write_small_inputs(conn, sizeof conn, contacts, sizeof contacts);
    vbt_gain_opts o;
    vbt_gain_opts_default(&o);
    assert_int_equal(o.method, VBT_GAIN_CENTRE);
    assert_null(o.contacts);
    assert_int_equal(o.bipolar, 0);
    assert_int_equal(o.normalize, VBT_GAIN_NORM_NONE);
    assert_close(o.min_dist_mm, VBT_GAIN_MIN_DIST_MM, 0);
    o.contacts = contacts;
    o.connectome = conn;
    o.min_dist_mm = 2.5;
    vbt_gain_matrix *g;
    vbt_msg msg;
    if (vbt_gain_matrix_compute(&g, &o, &msg))
        fail_msg("%s", msg.text);
    double want[12];
    assert_int_equal(vbt_gain_centre(k_sensors, 4, k_centres, 3, 2.5, want, &msg), VBT_OK);
    assert_int_equal(g->n_rows, 4);
    assert_int_equal(g->n_regions, 3);
    assert_memory_equal(g->gain, want, sizeof want);
    assert_string_equal(g->row_names[3], "B1");
    assert_string_equal(g->region_names[2], "R2");
    assert_close(g->row_pos[3 * 1], 13.5, 0);
    assert_int_equal(g->normals_computed, -1);
    assert_null(g->centre_fallback);
    assert_string_equal(g->contacts_space, "");
    assert_true(g->wall_s >= 0);

    /* GAIN.tsv and GAIN.json beside GAIN.npy; the provenance's members come
     * first. */
    char npy[4200], tsv[4200], json[4200];
    snprintf(npy, sizeof npy, "%s/g.npy", g_tmp);
    snprintf(tsv, sizeof tsv, "%s/g.tsv", g_tmp);
    snprintf(json, sizeof json, "%s/g.json", g_tmp);
    if (vbt_gain_matrix_write(g, npy, "{\"tool\":\"test\",\"inputs\":{}}", 0, &msg))
        fail_msg("%s", msg.text);
    vbt_array a;
    assert_int_equal(vbt_npy_read(npy, &a, &msg), VBT_OK);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 4);
    assert_int_equal(a.shape[1], 3);
    assert_memory_equal(a.data, want, sizeof want);
    vbt_array_clear(&a);
    char *text;
    size_t len;
    assert_int_equal(vbt_file_read_all(tsv, &text, &len, 0, &msg), VBT_OK);
    assert_string_equal(text, "row\tname\tx\ty\tz\n"
                              "0\tA1\t10.000000\t0.000000\t0.000000\n"
                              "1\tA2\t13.500000\t0.000000\t0.000000\n"
                              "2\tA3\t17.000000\t0.000000\t0.000000\n"
                              "3\tB1\t0.000000\t20.000000\t5.000000\n");
    free(text);
    assert_int_equal(vbt_file_read_all(json, &text, &len, 0, &msg), VBT_OK);
    const char *tool = strstr(text, "\"tool\":\t\"test\""), *gain = strstr(text, "\"gain\":\t{");
    assert_non_null(tool);
    assert_non_null(gain);
    assert_true(tool < gain);
    assert_non_null(strstr(text, "\"method\":\t\"centre\""));
    assert_non_null(strstr(text, "\"min_distance_mm\":\t2.5"));
    assert_non_null(strstr(text, "\"shape\":\t[4, 3]"));
    assert_non_null(strstr(text, "\"regions\":\t[\"R0\", \"R1\", \"R2\"]"));
    assert_null(strstr(text, "centre_fallback"));
    assert_true(len > 2 && text[len - 1] == '\n' && text[len - 2] == '}');
    free(text);
    /* Existing outputs are kept without overwrite; bad names, bad provenance. */
    assert_int_equal(vbt_gain_matrix_write(g, npy, NULL, 0, &msg), VBT_EEXIST);
    assert_int_equal(vbt_gain_matrix_write(g, npy, NULL, 1, &msg), VBT_OK);
    assert_int_equal(vbt_gain_matrix_write(g, tsv, NULL, 1, &msg), VBT_EINVAL);
    assert_int_equal(vbt_gain_matrix_write(g, npy, "[1, 2]", 1, &msg), VBT_EINVAL);
    assert_int_equal(vbt_gain_matrix_write(g, npy, "{\"a\":", 1, &msg), VBT_EINVAL);
    vbt_gain_matrix_free(g);
    vbt_gain_matrix_free(NULL);

    /* Bipolar rows A1-A2, A2-A3, then each divided by its largest |value|. */
    o.bipolar = 1;
    o.normalize = VBT_GAIN_NORM_ROW_MAX;
    if (vbt_gain_matrix_compute(&g, &o, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(g->n_rows, 2);
    assert_string_equal(g->row_names[0], "A1-A2");
    assert_string_equal(g->row_names[1], "A2-A3");
    assert_close(g->row_pos[0], 11.75, 0);
    assert_close(g->row_pos[3], 15.25, 0);
    for (size_t r = 0; r < 2; r++) {
        double d[3], mx = 0;
        for (size_t c = 0; c < 3; c++) {
            d[c] = want[3 * r + c] - want[3 * (r + 1) + c];
            mx = fmax(mx, fabs(d[c]));
        }
        for (size_t c = 0; c < 3; c++)
            assert_close(g->gain[3 * r + c], d[c] / mx, 1e-15);
    }
    vbt_gain_matrix_free(g);
}

/* The volume gain in a connectome's columns on the sample patient (the
 * pipeline's gain step): the same matrix as the formula called on the
 * loaded inputs, 18 columns on the centre formula and 4 parcellation
 * regions unused (white matter and corpus callosum). */
static void test_matrix_volume_patient(void **state)
{
    (void)state;
    char el[4096], conn[4096], vol[4096], lab[4096], names[4096];
    const char *s = tu_samples_dir();
    snprintf(el, sizeof el, "%s/patient/sub-vep01/ses-01/ieeg/"
             "sub-vep01_ses-01_space-IXI549Space_electrodes.tsv", s);
    snprintf(conn, sizeof conn, "%s/patient/connectome.zip", s);
    snprintf(vol, sizeof vol, "%s/patient/parcellation.nii.gz", s);
    snprintf(lab, sizeof lab, "%s/patient/parcellation_labels.csv", s);
    snprintf(names, sizeof names, "%s/patient/parcellation_names.tsv", s);
    vbt_gain_opts o;
    vbt_gain_opts_default(&o);
    o.method = VBT_GAIN_VOLUME;
    o.contacts = el;
    o.connectome = conn;
    o.parcellation = vol;
    o.labels = lab;
    o.name_map = names;
    vbt_gain_matrix *g;
    vbt_msg msg;
    if (vbt_gain_matrix_compute(&g, &o, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(g->n_rows, 124);
    assert_int_equal(g->n_regions, 84);
    assert_int_equal(g->n_centre_fallback, 18);
    assert_int_equal(g->n_parcellation_unused, 4);
    assert_string_equal(g->parcellation_unused[0], "L_white_matter");
    assert_string_equal(g->contacts_space, "IXI549Space");

    vbt_contacts *ct;
    vbt_connectome *c;
    vbt_parcellation *p;
    char **alias;
    assert_int_equal(vbt_contacts_load(&ct, el, &msg), VBT_OK);
    assert_int_equal(vbt_connectome_load(&c, conn, &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_load(&p, vol, lab, &msg), VBT_OK);
    assert_int_equal(vbt_name_map_load(names, p, &alias, &msg), VBT_OK);
    size_t np = vbt_parcellation_n_regions(p);
    long *col = malloc(np * sizeof *col);
    unsigned char *fb = calloc(84, 1);
    double *want = malloc(124 * 84 * sizeof *want);
    vbt_parcellation_match_connectome(p, c, alias, col);
    /* The connectome's centres lie in another space than the MNI atlas: the
     * affine fitted on the 66 columns with voxels brings them from 24.48 mm
     * RMS to 5.51 mm of their voxels' centroids (numpy's lstsq on the same
     * centroids gives 24.479 and 5.506, and the affine below to 1e-3), and
     * the 18 columns without voxels are point sources at the registered
     * centres: the left insula from (-34.7, -3.8, -21.0), in the medial
     * temporal lobe, to (-34.2, -3.1, 0.2), where MNI's insula is. */
    static const double np_affine[12] = {1.098, -0.024, 0.028, 0.029, 1.031, 0.091,
                                         -0.065, -0.129, 1.145, 4.403, 3.719, 21.544};
    assert_int_equal(g->registration.registered, 1);
    assert_int_equal(g->registration.pairs, 66);
    assert_true(fabs(g->registration.rms_given_mm - 24.479) < 1e-3);
    assert_true(fabs(g->registration.rms_fit_mm - 5.506) < 1e-3);
    for (int k = 0; k < 12; k++)
        assert_true(fabs(g->registration.affine[k] - np_affine[k]) < 1e-3);
    const size_t insula = 33;
    assert_true(g->centre_fallback[insula]);
    assert_true(fabs(g->fallback_mm[3 * insula + 2] - 0.2) < 0.05);
    assert_true(fabs(g->fallback_mm[3 * insula] - -34.2) < 0.05);
    assert_memory_equal(g->fallback_mm, c->centres, 3 * sizeof(double)); /* has voxels */
    assert_int_equal(vbt_gain_volume_mapped(ct->pos, ct->n, p, col, g->fallback_mm, 84, 1.0,
                                            want, fb, &msg), VBT_OK);
    assert_memory_equal(g->gain, want, 124 * 84 * sizeof *want);
    assert_memory_equal(g->centre_fallback, fb, 84);
    assert_string_equal(g->region_names[0], c->labels[0]);
    vbt_gain_matrix_free(g);
    /* As given: the formula at the connectome's own centres */
    o.register_centres = 0;
    if (vbt_gain_matrix_compute(&g, &o, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(g->registration.registered, 0);
    assert_int_equal(g->registration.pairs, 0);
    assert_memory_equal(g->fallback_mm + 3 * insula, c->centres + 3 * insula, 3 * sizeof(double));
    assert_int_equal(vbt_gain_volume_mapped(ct->pos, ct->n, p, col, c->centres, 84, 1.0, want,
                                            fb, &msg), VBT_OK);
    assert_memory_equal(g->gain, want, 124 * 84 * sizeof *want);
    vbt_gain_matrix_free(g);
    /* Centres already in the atlas's space (the registered ones) are taken
     * as given: the affine no longer halves their distance. */
    o.register_centres = 1;
    if (vbt_gain_matrix_compute(&g, &o, &msg))
        fail_msg("%s", msg.text);
    vbt_connectome *c2;
    assert_int_equal(vbt_connectome_load(&c2, conn, &msg), VBT_OK);
    for (size_t r = 0; r < 84; r++)
        vbt_affine_apply(g->registration.affine, c2->centres + 3 * r, c2->centres + 3 * r);
    char conn2[4096];
    snprintf(conn2, sizeof conn2, "%s/registered.zip", g_tmp);
    assert_int_equal(vbt_connectome_save(c2, conn2, 1, &msg), VBT_OK);
    vbt_gain_matrix_free(g);
    o.connectome = conn2;
    if (vbt_gain_matrix_compute(&g, &o, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(g->registration.registered, 0);
    assert_true(fabs(g->registration.rms_given_mm - 5.506) < 1e-3);
    assert_memory_equal(g->fallback_mm + 3 * insula, c2->centres + 3 * insula, 3 * sizeof(double));
    vbt_connectome_free(c2);
    free(want);
    free(fb);
    free(col);
    vbt_name_map_free(alias, np);
    vbt_parcellation_free(p);
    vbt_connectome_free(c);
    vbt_contacts_free(ct);
    vbt_gain_matrix_free(g);
}

/* The affine least-squares fit: an exact affine recovered from 20 points,
 * its RMS figures computed by hand, the used-pairs mask, and refusals (too
 * few pairs, coplanar points, a non-finite point). */
static void test_affine_fit(void **state)
{
    (void)state;
    /* A = scaled rotation about z by 10 degrees with a shear, b = (4, -3, 22) */
    const double c = cos(0.1745329252), sn = sin(0.1745329252);
    const double want[12] = {1.1 * c, -1.1 * sn, 0.05, 1.1 * sn, 1.1 * c, 0.0,
                             0.02, 0.0, 0.9, 4.0, -3.0, 22.0};
    double from[60], to[60], got[12], rg, rf;
    unsigned char use[20];
    double sq = 0.0;
    for (size_t i = 0; i < 20; i++) {
        for (int d = 0; d < 3; d++)
            from[3 * i + d] = 40.0 * sin(1.7 * (double)((d + 1) * i) + 0.3 * d + 0.5);
        vbt_affine_apply(want, from + 3 * i, to + 3 * i);
        for (int d = 0; d < 3; d++)
            sq += (to[3 * i + d] - from[3 * i + d]) * (to[3 * i + d] - from[3 * i + d]);
        use[i] = i != 7;
    }
    vbt_msg msg;
    assert_int_equal(vbt_affine_fit(from, to, NULL, 20, got, &rg, &rf, &msg), VBT_OK);
    for (int k = 0; k < 12; k++)
        assert_true(fabs(got[k] - want[k]) < 1e-9);
    assert_true(fabs(rg - sqrt(sq / 20.0)) < 1e-9);
    assert_true(rf < 1e-9);
    /* pair 8 moved far: used, it spoils the fit; masked out, it does not */
    to[3 * 7] += 100.0;
    assert_int_equal(vbt_affine_fit(from, to, NULL, 20, got, &rg, &rf, &msg), VBT_OK);
    assert_true(rf > 1.0);
    assert_int_equal(vbt_affine_fit(from, to, use, 20, got, &rg, &rf, &msg), VBT_OK);
    for (int k = 0; k < 12; k++)
        assert_true(fabs(got[k] - want[k]) < 1e-9);
    assert_true(rf < 1e-9);
    /* refusals */
    assert_int_equal(vbt_affine_fit(from, to, NULL, 7, got, NULL, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "at least 8"));
    double flat[60];
    memcpy(flat, from, sizeof flat);
    for (size_t i = 0; i < 20; i++)
        flat[3 * i + 2] = 0.5 * flat[3 * i] - flat[3 * i + 1] + 3.0; /* one plane */
    assert_int_equal(vbt_affine_fit(flat, to, NULL, 20, got, NULL, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "coplanar"));
    to[5] = NAN;
    assert_int_equal(vbt_affine_fit(from, to, NULL, 20, got, NULL, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "point 2 is not finite"));
}

/* The ball formula against the volume formula summed over the 0.25 mm
 * voxels of a ball of radius 6 mm (a point inside, on the surface, outside
 * and far), its limits at the centre and far away.  Inside, the sum's error
 * (the integrable 1/r^2 singularity, the stair-cased surface) is about 2 %
 * at h/R = 1/24; outside it is under 1 %. */
static void test_ball(void **state)
{
    (void)state;
    const double R = 6.0, h = 0.25, dist[5] = {0.0, 2.5, 6.0, 9.0, 40.0};
    double sum[5] = {0.0};
    const int m = (int)(R / h);
    for (int i = -m; i < m; i++)
        for (int j = -m; j < m; j++)
            for (int k = -m; k < m; k++) {
                double x = (i + 0.5) * h, y = (j + 0.5) * h, z = (k + 0.5) * h;
                if (x * x + y * y + z * z > R * R)
                    continue;
                for (int q = 0; q < 5; q++) {
                    double dx = x - dist[q] - 0.01, d2 = dx * dx + y * y + z * z;
                    sum[q] += h * h * h / (FOUR_PI * d2);
                }
            }
    for (int q = 0; q < 5; q++) {
        double g = vbt_gain_ball(dist[q] + 0.01, R);
        print_message("  ball R %.0f at %.2f mm: formula %.5f, voxel sum %.5f\n", R,
                      dist[q] + 0.01, g, sum[q]);
        assert_true(fabs(g - sum[q]) < (dist[q] < R ? 0.04 : 0.01) * sum[q]);
    }
    assert_true(fabs(vbt_gain_ball(0.0, R) - R) < 1e-12);
    assert_true(fabs(vbt_gain_ball(R, R) - 0.5 * R) < 1e-12);
    assert_true(fabs(vbt_gain_ball(1e4, R) / (R * R * R / (3.0 * 1e8)) - 1.0) < 1e-6);
    assert_true(vbt_gain_ball(3.0, 0.0) == 0.0);
}

/* Inputs a method needs, the name map's place, the loaders' errors. */
static void test_matrix_errors(void **state)
{
    (void)state;
    char conn[4096], contacts[4096];
    write_small_inputs(conn, sizeof conn, contacts, sizeof contacts);
    vbt_gain_opts o;
    vbt_gain_matrix *g = (vbt_gain_matrix *)&o;
    vbt_msg msg;
    vbt_gain_opts_default(&o);
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL); /* no contacts */
    assert_null(g);
    assert_int_equal(vbt_gain_matrix_compute(&g, NULL, &msg), VBT_EINVAL);
    o.contacts = contacts;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "method centre needs a connectome"));
    o.method = VBT_GAIN_EEG;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    o.method = VBT_GAIN_DIPOLE;
    o.connectome = conn;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "a surface and a region mapping"));
    o.method = VBT_GAIN_VOLUME;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    o.method = VBT_GAIN_CENTRE;
    o.name_map = contacts;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "name map needs method volume"));
    o.name_map = NULL;
    o.min_dist_mm = 0;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    o.min_dist_mm = 1;
    o.method = (vbt_gain_method)7;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    assert_null(vbt_gain_method_name((vbt_gain_method)7));
    assert_string_equal(vbt_gain_method_name(VBT_GAIN_EEG), "eeg");
    o.method = VBT_GAIN_CENTRE;
    o.contacts = tu_path(g_tmp, "absent.txt");
    assert_int_not_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_OK);
    assert_null(g);
    assert_non_null(strstr(msg.text, "absent.txt"));
    /* A1 and B1 on different electrodes: no bipolar pair. */
    tu_write_file(tu_path(g_tmp, "lone.txt"), "A1 10 0 0\nB1 0 20 5\n");
    o.contacts = tu_path(g_tmp, "lone.txt");
    o.bipolar = 1;
    assert_int_equal(vbt_gain_matrix_compute(&g, &o, &msg), VBT_EINVAL);
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_centre),
        cmocka_unit_test(test_volume),
        cmocka_unit_test(test_dipole),
        cmocka_unit_test(test_eeg),
        cmocka_unit_test(test_real_surface),
        cmocka_unit_test(test_matrix_centre),
        cmocka_unit_test(test_matrix_volume_patient),
        cmocka_unit_test(test_matrix_errors),
        cmocka_unit_test(test_affine_fit),
        cmocka_unit_test(test_ball),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
