/* test_gain.c -- each gain formula on configurations computed by hand
 * (centre, volume, surface dipole with read and computed normals, EEG
 * sphere), the minimum distance, bipolar rows, row normalisation, surfaces
 * and region mappings (float labels, length mismatch), every error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nifti2_io.h>

#include "test_util.h"
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

static const char *shared(const char *rel)
{
    static char buf[4][4096];
    static int slot;
    const char *base = getenv("VBT_SHARED");
    char *b = buf[slot];
    slot = (slot + 1) % 4;
    snprintf(b, sizeof buf[0], "%s/%s", base ? base : "/work/shared/data", rel);
    return tu_exists(b) ? b : NULL;
}

/* tvb-data's regionMapping_16k_192.txt has 16500 entries for the 16384
 * vertices of cortex_16384: refused.  The 76-region mapping fits. */
static void test_real_surface(void **state)
{
    (void)state;
    const char *surf = shared("tvb-data/surfaceData/cortex_16384.zip"),
               *m192 = shared("tvb-data/regionMapping/regionMapping_16k_192.txt"),
               *m76 = shared("tvb-data/regionMapping/regionMapping_16k_76.txt");
    if (!surf || !m192 || !m76)
        skip();
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_centre),
        cmocka_unit_test(test_volume),
        cmocka_unit_test(test_dipole),
        cmocka_unit_test(test_eeg),
        cmocka_unit_test(test_real_surface),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
