/* test_parcellation.c -- label volumes and tables: centroids through a
 * non-trivial affine, volumes, the three table formats, missing and
 * unlisted labels, contact localisation, every error path; the Desikan atlas
 * at 1 mm and 2 mm (real data shipped in tests/data/shared). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nifti2_io.h>

#include "test_util.h"
#include "vbt_parcellation.h"

static char *g_tmp;

/* Affine used by the synthetic volumes: a permutation with scaling and an
 * offset, |det| = 9 mm^3:  x = -2 j + 10,  y = 1.5 i - 20,  z = 3 k + 5. */
static const double AFF[3][4] = {{0, -2, 0, 10}, {1.5, 0, 0, -20}, {0, 0, 3, 5}};

/* Write a 6x5x4 volume of `datatype` whose voxels hold vals[] (120 values,
 * i fastest); sform only (qform_code 0) unless use_qform. */
static void write_volume(const char *path, int datatype, const double *vals, int nt)
{
    int64_t dims[8] = {nt > 1 ? 4 : 3, 6, 5, 4, nt, 1, 1, 1};
    nifti_image *im = nifti_make_new_nim(dims, datatype, 1);
    assert_non_null(im);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            im->sto_xyz.m[r][c] = AFF[r][c];
    im->sto_xyz.m[3][3] = 1;
    im->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    im->qform_code = 0;
    for (size_t k = 0; k < (size_t)im->nvox; k++) {
        double v = vals[k % 120];
        switch (datatype) {
        case DT_INT16: ((int16_t *)im->data)[k] = (int16_t)v; break;
        case DT_UINT8: ((uint8_t *)im->data)[k] = (uint8_t)v; break;
        case DT_FLOAT32: ((float *)im->data)[k] = (float)v; break;
        case DT_FLOAT64: ((double *)im->data)[k] = v; break;
        default: break;
        }
    }
    assert_int_equal(nifti_set_filenames(im, path, 0, 1), 0);
    nifti_image_write(im);
    nifti_image_free(im);
}

static size_t vox(int i, int j, int k)
{
    return (size_t)i + 6 * ((size_t)j + 5 * (size_t)k);
}

/* Label 7: (1,1,1), (2,1,1); label 9: (4,3,2); label 12 (not in tables): (0,0,0). */
static void synthetic_values(double *v)
{
    memset(v, 0, 120 * sizeof *v);
    v[vox(1, 1, 1)] = 7;
    v[vox(2, 1, 1)] = 7;
    v[vox(4, 3, 2)] = 9;
    v[vox(0, 0, 0)] = 12;
}

static const char *tmp(const char *name)
{
    return tu_path(g_tmp, name);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    double v[120];
    synthetic_values(v);
    write_volume(tmp("lab.nii.gz"), DT_INT16, v, 1);
    write_volume(tmp("labf.nii"), DT_FLOAT32, v, 1);
    v[vox(3, 3, 3)] = 2.5;
    write_volume(tmp("frac.nii"), DT_FLOAT32, v, 1);
    synthetic_values(v);
    write_volume(tmp("4d.nii"), DT_INT16, v, 2);
    tu_write_file(tmp("lut.txt"), "#No. Label Name: R G B A\n0 Unknown 0 0 0 0\n"
                                  "7 Left-Hippocampus 220 216 20 0\n"
                                  "9 ctx-rh-insula 255 192 32 0\n"
                                  "11 Left-Amygdala 103 255 255 0\n");
    tu_write_file(tmp("table.csv"), "index,name\n7,L_fusiform_gyrus\n9,R_white_matter\n");
    tu_write_file(tmp("table.tsv"), "name\tindex\tabbreviation\nhippo\t7\th\nins\t9\ti\n");
    tu_write_file(tmp("map.txt"), "0 Unknown -1\n9 ctx-rh-insula 0\n7 Left-Hippocampus 1\n"
                                  "12 Left-Amygdala 1\n11 Extra -1\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

static void test_centroids_affine(void **state)
{
    (void)state;
    vbt_parcellation *p;
    vbt_msg msg;
    int rc = vbt_parcellation_load(&p, tmp("lab.nii.gz"), tmp("lut.txt"), &msg);
    assert_int_equal(rc, VBT_OK);
    assert_int_equal(vbt_parcellation_n_regions(p), 3); /* 0 is background */
    assert_int_equal(vbt_parcellation_label_format(p), VBT_LABELS_LUT);
    const vbt_region_info *r = vbt_parcellation_regions(p);
    /* Label 7: mean index (1.5, 1, 1) -> x = -2 + 10, y = 2.25 - 20, z = 3 + 5. */
    assert_string_equal(r[0].name, "Left-Hippocampus");
    assert_close(r[0].centroid_mm[0], 8.0, 1e-12);
    assert_close(r[0].centroid_mm[1], -17.75, 1e-12);
    assert_close(r[0].centroid_mm[2], 8.0, 1e-12);
    assert_close(r[0].volume_mm3, 18.0, 1e-12); /* 2 voxels x |det| 9 */
    assert_int_equal(r[0].hemisphere, 0);
    assert_int_equal(r[0].cortical, 0);
    /* Label 9 at (4,3,2): x = -6 + 10, y = 6 - 20, z = 6 + 5. */
    assert_close(r[1].centroid_mm[0], 4.0, 1e-12);
    assert_close(r[1].centroid_mm[1], -14.0, 1e-12);
    assert_close(r[1].centroid_mm[2], 11.0, 1e-12);
    assert_int_equal(r[1].hemisphere, 1);
    assert_int_equal(r[1].cortical, 1);
    /* Label 11 listed but absent; 12 present but unlisted (1 voxel). */
    assert_int_equal(r[2].n_voxels, 0);
    assert_true(isnan(r[2].centroid_mm[0]));
    const long *miss, *unl;
    const size_t *uv;
    assert_int_equal(vbt_parcellation_missing(p, &miss), 1);
    assert_int_equal(miss[0], 11);
    assert_int_equal(vbt_parcellation_unlisted(p, &unl, &uv), 1);
    assert_int_equal(unl[0], 12);
    assert_int_equal(uv[0], 1);
    size_t dims[3];
    const char *src, *space;
    vbt_parcellation_grid(p, dims, NULL, &src, &space);
    assert_int_equal(dims[0], 6);
    assert_string_equal(src, "sform");
    assert_string_equal(space, "scanner");
    assert_close(vbt_parcellation_voxel_mm3(p), 9.0, 1e-12);
    const double *xyz;
    const int32_t *reg;
    assert_int_equal(vbt_parcellation_voxels(p, &xyz, &reg), 3);
    assert_int_equal(reg[0], 0);
    assert_int_equal(reg[2], 1);

    /* Localisation: a voxel centre; 1 mm off an unlabelled voxel next to it. */
    double d, in[3] = {8.0 + 0.4, -17.75 + 0.75 - 0.3, 8.0};
    assert_int_equal(vbt_parcellation_locate(p, in, 0, &d), 0);
    assert_close(d, 0.0, 0);
    /* Voxel (4,3,3) is empty; its centre (4, -14, 14) is 3 mm from label 9's voxel. */
    double near[3] = {4.0, -14.0, 14.0};
    assert_int_equal(vbt_parcellation_locate(p, near, 2.9, &d), -1);
    assert_true(isnan(d));
    assert_int_equal(vbt_parcellation_locate(p, near, 3.5, &d), 1);
    assert_close(d, 3.0, 1e-12);
    double far[3] = {500, 500, 500};
    assert_int_equal(vbt_parcellation_locate(p, far, 10, &d), -1);
    vbt_parcellation_free(p);
    vbt_parcellation_free(NULL);
}

static void test_float_volume_and_tables(void **state)
{
    (void)state;
    vbt_parcellation *p;
    vbt_msg msg;
    /* Float volume holding integers, CSV table with header. */
    assert_int_equal(vbt_parcellation_load(&p, tmp("labf.nii"), tmp("table.csv"), &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_label_format(p), VBT_LABELS_TABLE);
    assert_int_equal(vbt_parcellation_n_regions(p), 2);
    assert_string_equal(vbt_parcellation_regions(p)[0].name, "L_fusiform_gyrus");
    assert_int_equal(vbt_parcellation_regions(p)[1].cortical, 0); /* white matter */
    assert_close(vbt_parcellation_regions(p)[0].centroid_mm[1], -17.75, 1e-12);
    vbt_parcellation_free(p);
    /* TSV with columns found by header name. */
    assert_int_equal(vbt_parcellation_load(&p, tmp("lab.nii.gz"), tmp("table.tsv"), &msg), VBT_OK);
    assert_string_equal(vbt_parcellation_regions(p)[1].name, "ins");
    vbt_parcellation_free(p);
    /* TVB mapping: region order by index, 7 and 12 merged into region 1, 11 dropped. */
    assert_int_equal(vbt_parcellation_load(&p, tmp("lab.nii.gz"), tmp("map.txt"), &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_label_format(p), VBT_LABELS_TVB_MAPPING);
    assert_int_equal(vbt_parcellation_n_regions(p), 2);
    const vbt_region_info *r = vbt_parcellation_regions(p);
    assert_string_equal(r[0].name, "ctx-rh-insula");
    assert_int_equal(r[1].n_voxels, 3);
    /* Mean index of (1,1,1), (2,1,1), (0,0,0) = (1, 2/3, 2/3). */
    assert_close(r[1].centroid_mm[0], -2.0 * 2.0 / 3.0 + 10.0, 1e-12);
    assert_close(r[1].centroid_mm[1], 1.5 - 20.0, 1e-12);
    assert_int_equal(vbt_parcellation_n_notes(p), 1);
    assert_non_null(strstr(vbt_parcellation_note(p, 0), "merged"));
    assert_int_equal(vbt_parcellation_unlisted(p, NULL, NULL), 0);
    vbt_parcellation_free(p);
}

static void expect_error(const char *vol, const char *labels, int code, const char *needle)
{
    vbt_parcellation *p = (vbt_parcellation *)1;
    vbt_msg msg;
    int rc = vbt_parcellation_load(&p, vol, labels, &msg);
    if (rc != code || !strstr(msg.text, needle))
        fail_msg("%s + %s: got %d '%s', expected %d '%s'", vol, labels, rc, msg.text, code,
                 needle);
    assert_null(p);
    assert_null(strchr(msg.text, '\n'));
}

static void test_errors(void **state)
{
    (void)state;
    tu_write_file(tmp("bad1.txt"), "7,L_a\nseven,L_b\n");
    tu_write_file(tmp("bad2.txt"), "7 A 1 2 3 0\n7 B 1 2 3 0\n");
    tu_write_file(tmp("bad3.txt"), "7 A 1 2 3 0\n8 B 1 2\n");
    tu_write_file(tmp("bad4.txt"), "\n# only a comment\n");
    tu_write_file(tmp("bad5.txt"), "hello world how are you today friend\n");
    tu_write_file(tmp("bad6.txt"), "0 Unknown 0 0 0 0\n");
    tu_write_file(tmp("bad7.txt"), "7 A x\n");
    tu_write_file(tmp("notnifti.nii"), "this is not a NIfTI file at all, just some text......");
    expect_error(tmp("lab.nii.gz"), tmp("bad1.txt"), VBT_EFORMAT, "not a non-negative integer");
    expect_error(tmp("lab.nii.gz"), tmp("bad2.txt"), VBT_EFORMAT, "listed twice");
    expect_error(tmp("lab.nii.gz"), tmp("bad3.txt"), VBT_EFORMAT, "4 fields, expected 6");
    expect_error(tmp("lab.nii.gz"), tmp("bad4.txt"), VBT_EFORMAT, "empty label table");
    expect_error(tmp("lab.nii.gz"), tmp("bad5.txt"), VBT_EFORMAT, "not a label table");
    expect_error(tmp("lab.nii.gz"), tmp("bad6.txt"), VBT_EFORMAT, "keeps no region");
    expect_error(tmp("lab.nii.gz"), tmp("bad7.txt"), VBT_EFORMAT, "not a label table");
    expect_error(tmp("lab.nii.gz"), tmp("absent.txt"), VBT_EIO, "absent.txt");
    expect_error(tmp("absent.nii"), tmp("lut.txt"), VBT_EIO, "cannot open");
    expect_error(tmp("notnifti.nii"), tmp("lut.txt"), VBT_EFORMAT, "not a NIfTI volume");
    expect_error(tmp("frac.nii"), tmp("lut.txt"), VBT_EFORMAT, "holds 2.5, not an integer");
    expect_error(tmp("4d.nii"), tmp("lut.txt"), VBT_EFORMAT, "2 frames");
    /* An RGB volume is not a label volume. */
    int64_t dims[8] = {3, 2, 2, 2, 1, 1, 1, 1};
    nifti_image *im = nifti_make_new_nim(dims, DT_RGB24, 1);
    assert_int_equal(nifti_set_filenames(im, tmp("rgb.nii"), 0, 1), 0);
    nifti_image_write(im);
    nifti_image_free(im);
    expect_error(tmp("rgb.nii"), tmp("lut.txt"), VBT_EFORMAT, "RGB24");
    /* A singular affine. */
    double v[120] = {0};
    v[0] = 7;
    write_volume(tmp("sing.nii"), DT_UINT8, v, 1);
    im = nifti_image_read(tmp("sing.nii"), 1);
    im->sto_xyz.m[2][2] = 0;
    im->sform_code = 1;
    nifti_image_write(im);
    nifti_image_free(im);
    expect_error(tmp("sing.nii"), tmp("lut.txt"), VBT_EFORMAT, "singular");
    /* A header that promises more voxels than the file holds, or than any
     * label volume has: refused before the voxels are allocated. */
    write_volume(tmp("cut.nii"), DT_UINT8, v, 1);
    FILE *f = fopen(tmp("cut.nii"), "r+b");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 352 + 50), 0);
    fclose(f);
    expect_error(tmp("cut.nii"), tmp("lut.txt"), VBT_EFORMAT, "truncated: 402 bytes");
    im = nifti_image_read(tmp("sing.nii"), 0);
    im->nx = im->ny = im->nz = im->dim[1] = im->dim[2] = im->dim[3] = 2000;
    im->nvox = (int64_t)2000 * 2000 * 2000;
    nifti_set_filenames(im, tmp("huge.nii"), 0, 1);
    nifti_image_write_hdr_img(im, 0, "wb"); /* the header alone */
    nifti_image_free(im);
    expect_error(tmp("huge.nii"), tmp("lut.txt"), VBT_EFORMAT, "claims 8e+09 voxels");
    vbt_msg msg;
    assert_int_equal(vbt_parcellation_load(NULL, "a", "b", &msg), VBT_EINVAL);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(vbt_region_name_hemisphere("ctx-lh-insula"), 0);
    assert_int_equal(vbt_region_name_hemisphere("Right-Putamen"), 1);
    assert_int_equal(vbt_region_name_hemisphere("R_frontal_pole"), 1);
    assert_int_equal(vbt_region_name_hemisphere("Brain-Stem"), -1);
    assert_int_equal(vbt_region_name_cortical("ctx-rh-insula"), 1);
    assert_int_equal(vbt_region_name_cortical("Left-Cerebellum-Cortex"), 0);
    assert_int_equal(vbt_region_name_cortical("L_corpus_calosum"), 0);
    assert_int_equal(vbt_region_name_cortical("L_precuneus_cortex"), 1);
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

/* The same atlas at 1 mm and 2 mm.  The 2 mm grid of neuroparc is shifted by
 * about (+1, -1, 0) mm against the 1 mm one (every region moves alike), so
 * centroids are compared after removing the mean shift: then each agrees
 * within 1 mm; the raw distance stays under 1.7 mm.  Volumes within 5 %. */
static void test_desikan_1mm_2mm(void **state)
{
    (void)state;
    const char *v1 = shared("neuroparc/Desikan_space-MNI152NLin6_res-1x1x1.nii.gz"),
               *v2 = shared("samples/neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz"),
               *csv = shared("samples/neuroparc/Desikan.csv");
    vbt_parcellation *a, *b;
    vbt_msg msg;
    assert_int_equal(vbt_parcellation_load(&a, v1, csv, &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_load(&b, v2, csv, &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_n_regions(a), 70);
    assert_int_equal(vbt_parcellation_n_regions(b), 70);
    assert_int_equal(vbt_parcellation_missing(a, NULL), 0);
    assert_int_equal(vbt_parcellation_unlisted(a, NULL, NULL), 0);
    const vbt_region_info *r = vbt_parcellation_regions(a), *s = vbt_parcellation_regions(b);
    double shift[3] = {0, 0, 0};
    for (size_t i = 0; i < 70; i++)
        for (int d = 0; d < 3; d++)
            shift[d] += (s[i].centroid_mm[d] - r[i].centroid_mm[d]) / 70.0;
    assert_close(shift[0], 1.0, 0.2);
    assert_close(shift[1], -1.0, 0.2);
    assert_close(shift[2], 0.0, 0.2);
    double worst = 0, worst_raw = 0, worst_vol = 0;
    for (size_t i = 0; i < 70; i++) {
        double e = 0, e_raw = 0;
        for (int d = 0; d < 3; d++) {
            double x = s[i].centroid_mm[d] - r[i].centroid_mm[d];
            e += (x - shift[d]) * (x - shift[d]);
            e_raw += x * x;
        }
        worst = fmax(worst, sqrt(e));
        worst_raw = fmax(worst_raw, sqrt(e_raw));
        worst_vol = fmax(worst_vol, fabs(s[i].volume_mm3 / r[i].volume_mm3 - 1));
        assert_int_equal(r[i].hemisphere, i < 35 ? 0 : 1);
    }
    print_message("1 mm vs 2 mm: mean shift (%.3f, %.3f, %.3f) mm; worst centroid %.3f mm "
                  "after the shift, %.3f mm raw; worst volume %.2f %%\n", shift[0], shift[1],
                  shift[2], worst, worst_raw, 100 * worst_vol);
    assert_true(worst < 1.0);
    assert_true(worst_raw < 1.7);
    assert_true(worst_vol < 0.05);
    /* The 1 mm volume: |det| = 1, the left white matter is label 1. */
    assert_close(vbt_parcellation_voxel_mm3(a), 1.0, 0);
    assert_close(vbt_parcellation_voxel_mm3(b), 8.0, 0);
    vbt_parcellation_free(a);
    vbt_parcellation_free(b);
}

/* tvb-data's mapping_FS_84.txt maps Right-Putamen and Right-Pallidum both to
 * 44 and leaves index 45 unused: both are reported as notes. */
static void test_tvb_mapping_quirk(void **state)
{
    (void)state;
    const char *map = shared("tvb-data/nifti/volume_mapping/mapping_FS_84.txt");
    /* A volume whose labels are FreeSurfer codes 51 and 52 and 1035. */
    double v[120] = {0};
    v[0] = 51;
    v[1] = 52;
    v[2] = 1035;
    write_volume(tmp("fs.nii"), DT_INT16, v, 1);
    vbt_parcellation *p;
    vbt_msg msg;
    assert_int_equal(vbt_parcellation_load(&p, tmp("fs.nii"), map, &msg), VBT_OK);
    assert_int_equal(vbt_parcellation_n_regions(p), 83);
    assert_int_equal(vbt_parcellation_n_notes(p), 2);
    assert_non_null(strstr(vbt_parcellation_note(p, 0), "Right-Pallidum"));
    assert_non_null(strstr(vbt_parcellation_note(p, 1), "index 45"));
    const vbt_region_info *r = vbt_parcellation_regions(p);
    assert_string_equal(r[44].name, "Right-Putamen");
    assert_int_equal(r[44].n_voxels, 2);
    assert_string_equal(r[33].name, "ctx-lh-insula");
    assert_int_equal(vbt_parcellation_missing(p, NULL), 81);
    vbt_parcellation_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_centroids_affine),
        cmocka_unit_test(test_float_volume_and_tables),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_desikan_1mm_2mm),
        cmocka_unit_test(test_tvb_mapping_quirk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
