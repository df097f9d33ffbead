/* parcellation.c -- label volumes (via nifticlib) and label tables. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/stat.h>

#include <nifti2_io.h>

#include "cx_internal.h"
#include "vbt_parcellation.h"
#include "vbt_io.h"
#include "vbt_text.h"

/* 2^30 voxels: a 1 mm whole-head volume has ~10^7; beyond this a header is
 * taken to be corrupt rather than allocated */
#define MAX_VOXELS 1073741824.0

#define MAX_NOTES 64
#define NOTE_LEN 256
/* Labels in [0, DIRECT_MAX] are looked up in a direct table, others by
 * binary search. */
#define DIRECT_MAX (1L << 22)

struct vbt_parcellation {
    size_t n;
    vbt_region_info *regions;
    vbt_label_format format;
    long *missing;
    size_t n_missing;
    long *unlisted;
    size_t *unlisted_vox;
    size_t n_unlisted;
    char (*notes)[NOTE_LEN];
    size_t n_notes;
    size_t dims[3];
    double A[12], Ainv[12];
    const char *source, *space;
    double voxel_mm3;
    int32_t *vox_region;      /* nx*ny*nz, -1 background */
    double *lab_xyz;          /* labelled voxel centres (mm) */
    int32_t *lab_region;
    size_t n_lab;
};

/* ---- label tables ------------------------------------------------------ */

typedef struct entry {
    long code;
    long index;       /* TVB mapping: region index; else row order */
    char name[VBT_LABEL_MAX];
} entry;

static void add_note(vbt_parcellation *p, const char *fmt, ...) VBT_PRINTF(2, 3);
static void add_note(vbt_parcellation *p, const char *fmt, ...)
{
    if (p->n_notes >= MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->notes[p->n_notes++], NOTE_LEN, fmt, ap);
    va_end(ap);
}

static int is_int_field(const char *s, size_t len)
{
    long v;
    return vbt__cx_parse_long(s, len, 0, &v) == 0;
}

/* Detect the table format from its first data line. */
static int detect_format(const char *path, const char *buf, vbt_label_format *fmt, char *sep,
                         vbt_msg *msg)
{
    vbt__cx_lines c = {buf, 0};
    const char *b, *e, *f[8];
    size_t fl[8];
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (vbt__cx_blank(b, e))
            continue;
        if (memchr(b, ',', (size_t)(e - b)) && !vbt__cx_ends_with(path, ".tsv")) {
            *fmt = VBT_LABELS_TABLE;
            *sep = ',';
            return VBT_OK;
        }
        if (memchr(b, '\t', (size_t)(e - b)) &&
            (vbt__cx_ends_with(path, ".tsv") || !is_int_field(b, strcspn(b, "\t")))) {
            *fmt = VBT_LABELS_TABLE;
            *sep = '\t';
            return VBT_OK;
        }
        size_t n = vbt__cx_split(b, e, ' ', f, fl, 8);
        *sep = ' ';
        if (n == 6 && is_int_field(f[0], fl[0]))
            *fmt = VBT_LABELS_LUT;
        else if (n == 3 && is_int_field(f[0], fl[0]) && is_int_field(f[2], fl[2]))
            *fmt = VBT_LABELS_TVB_MAPPING;
        else if (n == 2 && is_int_field(f[0], fl[0]))
            *fmt = VBT_LABELS_TABLE;
        else if (vbt__cx_ends_with(path, ".tsv")) {
            *fmt = VBT_LABELS_TABLE;
            *sep = '\t';
        } else
            return vbt__fail(msg, VBT_EFORMAT,
                             "'%s': line %zu: not a label table (expected 'index name R G B A', "
                             "'index,name' or 'code name region-index')",
                             path, c.lineno);
        return VBT_OK;
    }
    return vbt__fail(msg, VBT_EFORMAT, "'%s': empty label table", path);
}

static int read_table(const char *path, vbt_label_format *fmt, entry **out, size_t *nout,
                      vbt_msg *msg)
{
    char *buf = NULL;
    size_t len, n = 0, cap = 0;
    entry *ent = NULL;
    char sep;
    int rc = vbt__cx_read_text(path, &buf, &len, msg);
    if (rc)
        return rc;
    if ((rc = detect_format(path, buf, fmt, &sep, msg)))
        goto fail;
    vbt__cx_lines c = {buf, 0};
    const char *b, *e, *f[16];
    size_t fl[16];
    size_t col_index = 0, col_name = 1, need = *fmt == VBT_LABELS_LUT ? 6
                                                : *fmt == VBT_LABELS_TVB_MAPPING ? 3 : 2;
    int first = 1;
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (vbt__cx_blank(b, e))
            continue;
        size_t nf = vbt__cx_split(b, e, sep, f, fl, 16);
        if (first && *fmt == VBT_LABELS_TABLE && nf >= 2 && !is_int_field(f[0], fl[0])) {
            /* A header: find the index and name columns. */
            int fi = -1, fn = -1;
            for (size_t k = 0; k < nf; k++) {
                if (fl[k] == 5 && !strncasecmp(f[k], "index", 5))
                    fi = (int)k;
                if (fl[k] == 4 && !strncasecmp(f[k], "name", 4))
                    fn = (int)k;
            }
            if (fi < 0 || fn < 0) {
                rc = vbt__fail(msg, VBT_EFORMAT,
                               "'%s': line %zu: header must name columns 'index' and 'name'",
                               path, c.lineno);
                goto fail;
            }
            col_index = (size_t)fi;
            col_name = (size_t)fn;
            need = (col_index > col_name ? col_index : col_name) + 1;
            first = 0;
            continue;
        }
        first = 0;
        if (nf < need || (*fmt != VBT_LABELS_TABLE && nf != need)) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: %zu fields, expected %zu", path,
                           c.lineno, nf, need);
            goto fail;
        }
        long code, index = (long)n;
        if (vbt__cx_parse_long(f[col_index], fl[col_index], 0, &code) || code < 0) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: label '%.*s' is not a "
                           "non-negative integer", path, c.lineno, (int)fl[col_index],
                           f[col_index]);
            goto fail;
        }
        if (*fmt == VBT_LABELS_TVB_MAPPING &&
            (vbt__cx_parse_long(f[2], fl[2], 0, &index) || index < -1)) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: region index '%.*s' is not an "
                           "integer >= -1", path, c.lineno, (int)fl[2], f[2]);
            goto fail;
        }
        if (fl[col_name] == 0) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: empty name", path, c.lineno);
            goto fail;
        }
        for (size_t k = 0; k < n; k++)
            if (ent[k].code == code) {
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: label %ld listed twice",
                               path, c.lineno, code);
                goto fail;
            }
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            entry *ne = realloc(ent, cap * sizeof *ent);
            if (!ne) {
                rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
                goto fail;
            }
            ent = ne;
        }
        if (!vbt_utf8_valid(f[col_name], fl[col_name], NULL)) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: the name is not valid UTF-8",
                           path, c.lineno);
            goto fail;
        }
        ent[n].code = code;
        ent[n].index = index;
        vbt__cx_copy(ent[n].name, VBT_LABEL_MAX, f[col_name], fl[col_name]);
        n++;
    }
    if (n == 0) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': no labels in the table", path);
        goto fail;
    }
    free(buf);
    *out = ent;
    *nout = n;
    return VBT_OK;
fail:
    free(buf);
    free(ent);
    return rc;
}

/* ---- names -------------------------------------------------------------- */

static int starts_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int vbt_region_name_hemisphere(const char *name)
{
    static const char *const left[] = {"Left-", "Left_", "ctx-lh-", "ctx_lh_", "lh-", "lh_",
                                       "lh.", "L_", "L-", "left "};
    static const char *const right[] = {"Right-", "Right_", "ctx-rh-", "ctx_rh_", "rh-", "rh_",
                                        "rh.", "R_", "R-", "right "};
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        if (starts_ci(name, left[i]))
            return 0;
        if (starts_ci(name, right[i]))
            return 1;
    }
    size_t n = strlen(name);
    if (n > 2 && (!strcmp(name + n - 2, "_L") || !strcmp(name + n - 2, "-L") ||
                  !strcmp(name + n - 3, "_lh")))
        return 0;
    if (n > 2 && (!strcmp(name + n - 2, "_R") || !strcmp(name + n - 2, "-R") ||
                  !strcmp(name + n - 3, "_rh")))
        return 1;
    return -1;
}

int vbt_region_name_cortical(const char *name)
{
    static const char *const sub[] = {
        "white", "matter", "ventric", "thalam", "caudate", "putamen", "pallid", "hippocamp",
        "amygdala", "accumbens", "ventraldc", "cerebell", "brain-stem", "brainstem",
        "corpus", "callos", "calos", "csf", "vessel", "choroid", "optic", "unknown",
        "wm-", "wm_", "hypointens", "non-wm"};
    char low[VBT_LABEL_MAX];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    if (strstr(low, "ctx"))
        return 1;
    for (size_t k = 0; k < sizeof sub / sizeof sub[0]; k++)
        if (strstr(low, sub[k]))
            return 0;
    return 1;
}

/* ---- volume -------------------------------------------------------------- */

static const char *xform_name(int code)
{
    switch (code) {
    case NIFTI_XFORM_SCANNER_ANAT: return "scanner";
    case NIFTI_XFORM_ALIGNED_ANAT: return "aligned";
    case NIFTI_XFORM_TALAIRACH: return "talairach";
    case NIFTI_XFORM_MNI_152: return "mni152";
    case 5: return "template";
    default: return "unknown";
    }
}

/* Voxel value k as a double; 0 for unsupported types (checked before). */
static double voxel_value(const nifti_image *im, size_t k)
{
    const void *d = im->data;
    switch (im->datatype) {
    case DT_UINT8: return ((const uint8_t *)d)[k];
    case DT_INT8: return ((const int8_t *)d)[k];
    case DT_INT16: return ((const int16_t *)d)[k];
    case DT_UINT16: return ((const uint16_t *)d)[k];
    case DT_INT32: return ((const int32_t *)d)[k];
    case DT_UINT32: return ((const uint32_t *)d)[k];
    case DT_INT64: return (double)((const int64_t *)d)[k];
    case DT_UINT64: return (double)((const uint64_t *)d)[k];
    case DT_FLOAT32: return ((const float *)d)[k];
    case DT_FLOAT64: return ((const double *)d)[k];
    default: return 0.0;
    }
}

static int supported_type(int dt)
{
    switch (dt) {
    case DT_UINT8: case DT_INT8: case DT_INT16: case DT_UINT16: case DT_INT32:
    case DT_UINT32: case DT_INT64: case DT_UINT64: case DT_FLOAT32: case DT_FLOAT64:
        return 1;
    default:
        return 0;
    }
}

static int cmp_code(const void *a, const void *b)
{
    long x = ((const long *)a)[0], y = ((const long *)b)[0];
    return (x > y) - (x < y);
}

/* Map code -> region: direct table or sorted (code, region) pairs. */
typedef struct codemap {
    int32_t *direct;   /* DIRECT size+1 or NULL */
    long max_direct;
    long *pairs;       /* 2*n: code, region, sorted */
    size_t n;
} codemap;

static long codemap_get(const codemap *m, long code)
{
    if (m->direct)
        return code >= 0 && code <= m->max_direct ? m->direct[code] : -1;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->pairs[2 * mid] < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n && m->pairs[2 * lo] == code ? m->pairs[2 * lo + 1] : -1;
}

static void apply_affine(const double A[12], double i, double j, double k, double out[3])
{
    for (int r = 0; r < 3; r++)
        out[r] = A[4 * r] * i + A[4 * r + 1] * j + A[4 * r + 2] * k + A[4 * r + 3];
}

static int invert_affine(const double A[12], double B[12])
{
    double a = A[0], b = A[1], c = A[2], d = A[4], e = A[5], f = A[6], g = A[8], h = A[9],
           k = A[10];
    double det = a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
    if (!isfinite(det) || fabs(det) < 1e-12)
        return -1;
    double inv[9] = {(e * k - f * h) / det, (c * h - b * k) / det, (b * f - c * e) / det,
                     (f * g - d * k) / det, (a * k - c * g) / det, (c * d - a * f) / det,
                     (d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det};
    for (int r = 0; r < 3; r++) {
        for (int q = 0; q < 3; q++)
            B[4 * r + q] = inv[3 * r + q];
        B[4 * r + 3] = -(inv[3 * r] * A[3] + inv[3 * r + 1] * A[7] + inv[3 * r + 2] * A[11]);
    }
    return 0;
}

void vbt_parcellation_free(vbt_parcellation *p)
{
    if (!p)
        return;
    free(p->regions);
    free(p->missing);
    free(p->unlisted);
    free(p->unlisted_vox);
    free(p->notes);
    free(p->vox_region);
    free(p->lab_xyz);
    free(p->lab_region);
    free(p);
}

/* Build the regions from the table entries. */
static int make_regions(vbt_parcellation *p, const char *lpath, entry *ent, size_t n_ent,
                        codemap *map, vbt_msg *msg)
{
    size_t nreg = 0;
    long *code_region = malloc(n_ent * 2 * sizeof *code_region);
    p->regions = calloc(n_ent, sizeof *p->regions);
    if (!code_region || !p->regions) {
        free(code_region);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", lpath);
    }
    size_t npairs = 0;
    if (p->format == VBT_LABELS_TVB_MAPPING) {
        /* Regions in ascending region index; codes of one index merged. */
        long maxidx = -1;
        for (size_t k = 0; k < n_ent; k++)
            if (ent[k].index > maxidx)
                maxidx = ent[k].index;
        for (long idx = 0; idx <= maxidx; idx++) {
            long first = -1;
            for (size_t k = 0; k < n_ent; k++) {
                if (ent[k].index != idx || ent[k].code == 0)
                    continue;
                if (first < 0) {
                    first = (long)k;
                    vbt_region_info *r = &p->regions[nreg++];
                    r->label = ent[k].code;
                    r->index = idx;
                    snprintf(r->name, sizeof r->name, "%s", ent[k].name);
                } else {
                    add_note(p, "codes %ld (%s) and %ld (%s) both map to region %ld; merged",
                             ent[first].code, ent[first].name, ent[k].code, ent[k].name, idx);
                }
                code_region[2 * npairs] = ent[k].code;
                code_region[2 * npairs + 1] = (long)nreg - 1;
                npairs++;
            }
            if (first < 0)
                add_note(p, "region index %ld is used by no code", idx);
        }
    } else {
        for (size_t k = 0; k < n_ent; k++) {
            if (ent[k].code == 0)
                continue;
            vbt_region_info *r = &p->regions[nreg];
            r->label = ent[k].code;
            r->index = (long)nreg;
            snprintf(r->name, sizeof r->name, "%s", ent[k].name);
            code_region[2 * npairs] = ent[k].code;
            code_region[2 * npairs + 1] = (long)nreg++;
            npairs++;
        }
    }
    if (nreg == 0) {
        free(code_region);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': the table keeps no region (all labels are "
                         "background or dropped)", lpath);
    }
    p->n = nreg;
    qsort(code_region, npairs, 2 * sizeof *code_region, cmp_code);
    long maxcode = code_region[2 * (npairs - 1)];
    map->n = npairs;
    map->pairs = code_region;
    if (maxcode <= DIRECT_MAX) {
        map->direct = malloc((size_t)(maxcode + 1) * sizeof *map->direct);
        if (!map->direct)
            return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", lpath);
        for (long c = 0; c <= maxcode; c++)
            map->direct[c] = -1;
        for (size_t k = 0; k < npairs; k++)
            map->direct[code_region[2 * k]] = (int32_t)code_region[2 * k + 1];
        map->max_direct = maxcode;
    }
    return VBT_OK;
}

static int add_unlisted(vbt_parcellation *p, long code, size_t *cap)
{
    size_t lo = 0, hi = p->n_unlisted;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->unlisted[mid] < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->n_unlisted && p->unlisted[lo] == code) {
        p->unlisted_vox[lo]++;
        return 0;
    }
    if (p->n_unlisted == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        long *a = realloc(p->unlisted, nc * sizeof *a);
        if (!a)
            return -1;
        p->unlisted = a;
        size_t *b = realloc(p->unlisted_vox, nc * sizeof *b);
        if (!b)
            return -1;
        p->unlisted_vox = b;
        *cap = nc;
    }
    memmove(p->unlisted + lo + 1, p->unlisted + lo, (p->n_unlisted - lo) * sizeof *p->unlisted);
    memmove(p->unlisted_vox + lo + 1, p->unlisted_vox + lo,
            (p->n_unlisted - lo) * sizeof *p->unlisted_vox);
    p->unlisted[lo] = code;
    p->unlisted_vox[lo] = 1;
    p->n_unlisted++;
    return 0;
}

/* The header fields nifticlib complains about on stderr (it does so even at
 * debug level 0) checked here first, so that a corrupt file gives vbt's one
 * line only: the header size, dim[0] and the dimensions, the datatype.
 * 0 when the header looks like NIfTI-1 (348) or NIfTI-2 (540), either byte
 * order, or like ANALYZE 7.5 (348 without the magic); else -1 with msg. */
static int precheck_header(const char *path, vbt_msg *msg)
{
    unsigned char h[540];
    znzFile zf = znzopen(path, "rb", nifti_is_gzfile(path));
    if (znz_isnull(zf))
        return vbt__fail(msg, VBT_EIO, "'%s': cannot open", path);
    size_t got = znzread(h, 1, sizeof h, zf);
    znzclose(zf);
    if (got < 348)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a NIfTI volume (%zu bytes, a header "
                         "needs 348)", path, got);
    int32_t sz;
    memcpy(&sz, h, 4);
    int swap = 0;
    if (sz != 348 && sz != 540) {
        sz = (int32_t)__builtin_bswap32((uint32_t)sz);
        swap = 1;
    }
    if (sz != 348 && sz != 540)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a NIfTI volume (header size field is not "
                         "348 or 540)", path);
    if (sz == 540 && got < 540)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': truncated NIfTI-2 header", path);
    int16_t dt16;
    int64_t dim[8];
    if (sz == 348) {
        int16_t d16[8];
        memcpy(&dt16, h + 70, 2);
        memcpy(d16, h + 40, sizeof d16);
        for (int k = 0; k < 8; k++)
            dim[k] = swap ? (int16_t)__builtin_bswap16((uint16_t)d16[k]) : d16[k];
    } else {
        memcpy(&dt16, h + 12, 2);
        memcpy(dim, h + 16, sizeof dim);
        for (int k = 0; swap && k < 8; k++)
            dim[k] = (int64_t)__builtin_bswap64((uint64_t)dim[k]);
    }
    if (swap)
        dt16 = (int16_t)__builtin_bswap16((uint16_t)dt16);
    if (dim[0] < 1 || dim[0] > 7)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': dim[0] = %lld, not 1 to 7", path,
                         (long long)dim[0]);
    for (int k = 1; k <= dim[0]; k++)
        if (dim[k] < 1)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': dim[%d] = %lld, not positive", path, k,
                             (long long)dim[k]);
    /* without the NIfTI-1 magic nifticlib reads ANALYZE 7.5, whose types are fewer */
    int nifti = sz == 540 || memcmp(h + 344, "n+1", 4) == 0 || memcmp(h + 344, "ni1", 4) == 0;
    int nbyper = 0, swapsize = 0;
    nifti_datatype_sizes(dt16, &nbyper, &swapsize); /* 0 bytes: DT_BINARY, unknown codes */
    if (!nifti_datatype_is_valid(dt16, nifti) || nbyper == 0)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': unknown datatype code %d", path, (int)dt16);
    return VBT_OK;
}

/* Open the volume: the header first, so that what it promises is checked
 * before any voxel is allocated (a 348-byte file can claim 10^10 voxels),
 * then the voxels; a 3-D volume of a label datatype. */
static int read_volume(nifti_image **out, const char *vpath, vbt_msg *msg)
{
    int rc;
    FILE *probe = fopen(vpath, "rb");
    if (!probe)
        return vbt__fail(msg, VBT_EIO, "'%s': cannot open", vpath);
    fclose(probe);
    if ((rc = precheck_header(vpath, msg)))
        return rc;
    nifti_set_debug_level(0);
    nifti_image *im = nifti_image_read(vpath, 0);
    if (!im)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a readable NIfTI-1/NIfTI-2 volume",
                         vpath);
    *out = im;
    if ((double)im->nvox > MAX_VOXELS)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': the header claims %.3g voxels; a label "
                         "volume has at most %.0g", vpath, (double)im->nvox, MAX_VOXELS);
    /* the voxels and the region of each voxel must fit the input budget */
    double mem = (double)im->nvox * ((double)im->nbyper + (double)sizeof(int32_t));
    if (mem > (double)vbt_input_budget_bytes())
        return vbt__fail(msg, VBT_ERANGE, "'%s': %lld voxels of %d bytes would take %.0f MiB, "
                         "more than the input budget of %zu MiB (VBT_MAX_INPUT_BYTES)", vpath,
                         (long long)im->nvox, im->nbyper, mem / 1048576.0,
                         vbt_input_budget_bytes() >> 20);
    /* uncompressed image data must be in the file */
    const char *img = im->iname ? im->iname : vpath;
    size_t il = strlen(img);
    struct stat sb;
    double need = (double)im->iname_offset + (double)im->nvox * (double)im->nbyper;
    if (!(il > 3 && strcmp(img + il - 3, ".gz") == 0) && stat(img, &sb) == 0 &&
        (double)sb.st_size < need)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': truncated: %lld bytes, but the header "
                         "promises %.0f (%lld voxels of %d bytes after offset %lld)", img,
                         (long long)sb.st_size, need, (long long)im->nvox, im->nbyper,
                         (long long)im->iname_offset);
    if (nifti_image_load(im) != 0 || !im->data)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not a readable NIfTI-1/NIfTI-2 volume "
                         "(voxel data)", vpath);
    if (!supported_type(im->datatype))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': datatype %s is not an integer or real label "
                         "type", vpath, nifti_datatype_string(im->datatype));
    for (int d = 4; d <= 7; d++)
        if (im->dim[0] >= d && im->dim[d] > 1)
            return vbt__fail(msg, VBT_EFORMAT, "'%s': a %d-D volume with %lld frames is not "
                             "a label volume", vpath, (int)im->dim[0], (long long)im->dim[d]);
    if (im->nx < 1 || im->ny < 1 || im->nz < 1)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': empty volume", vpath);
    return VBT_OK;
}

/* The grid: dimensions, the voxel-to-mm affine (sform, else qform, else
 * pixdim) and its inverse, the voxel volume. */
static int set_grid(vbt_parcellation *p, const nifti_image *im, const char *vpath,
                    vbt_msg *msg)
{
    p->dims[0] = (size_t)im->nx;
    p->dims[1] = (size_t)im->ny;
    p->dims[2] = (size_t)im->nz;
    const nifti_dmat44 *M;
    if (im->sform_code > 0) {
        M = &im->sto_xyz;
        p->source = "sform";
        p->space = xform_name(im->sform_code);
    } else {
        M = &im->qto_xyz;
        p->source = im->qform_code > 0 ? "qform" : "pixdim";
        p->space = xform_name(im->qform_code);
    }
    for (int r = 0; r < 3; r++)
        for (int q = 0; q < 4; q++)
            p->A[4 * r + q] = M->m[r][q];
    for (int k = 0; k < 12; k++)
        if (!isfinite(p->A[k]))
            return vbt__fail(msg, VBT_EFORMAT, "'%s': non-finite %s affine", vpath, p->source);
    if (invert_affine(p->A, p->Ainv))
        return vbt__fail(msg, VBT_EFORMAT, "'%s': singular %s affine", vpath, p->source);
    const double *A = p->A;
    p->voxel_mm3 = fabs(A[0] * (A[5] * A[10] - A[6] * A[9]) -
                        A[1] * (A[4] * A[10] - A[6] * A[8]) +
                        A[2] * (A[4] * A[9] - A[5] * A[8]));
    return VBT_OK;
}

/* The region of every voxel (p->vox_region, -1 for background and
 * unlisted codes, which are recorded), the regions' voxel counts and the
 * sums of their voxel indices (sums, 3 per region); *n_lab gets the number
 * of labelled voxels. */
static int label_voxels(vbt_parcellation *p, const nifti_image *im, const codemap *map,
                        double *sums, size_t *n_lab, const char *vpath, vbt_msg *msg)
{
    int is_float = im->datatype == DT_FLOAT32 || im->datatype == DT_FLOAT64;
    double slope = im->scl_slope, inter = im->scl_inter;
    int scaled = slope != 0.0 && isfinite(slope) && (slope != 1.0 || inter != 0.0);
    size_t nvox = p->dims[0] * p->dims[1] * p->dims[2];
    size_t ucap = 0;
    long last_code = 0;
    int32_t last_region = -1;
    *n_lab = 0;
    for (size_t k = 0; k < nvox; k++) {
        double v = voxel_value(im, k);
        if (scaled)
            v = v * slope + inter;
        if (v == 0.0) {
            p->vox_region[k] = -1;
            continue;
        }
        if ((is_float || scaled) && (!isfinite(v) || v != floor(v) || fabs(v) > 9.0e15)) {
            size_t i = k % p->dims[0], j = (k / p->dims[0]) % p->dims[1],
                   kk = k / (p->dims[0] * p->dims[1]);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': voxel (%zu,%zu,%zu) holds %g, not an "
                             "integer label", vpath, i, j, kk, v);
        }
        long code = (long)v;
        int32_t reg;
        if (code == last_code && k > 0) {
            reg = last_region;
        } else {
            reg = (int32_t)codemap_get(map, code);
            last_code = code;
            last_region = reg;
        }
        p->vox_region[k] = reg;
        if (reg < 0) {
            if (add_unlisted(p, code, &ucap))
                return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vpath);
            continue;
        }
        size_t i = k % p->dims[0], j = (k / p->dims[0]) % p->dims[1],
               kk = k / (p->dims[0] * p->dims[1]);
        sums[3 * reg] += (double)i;
        sums[3 * reg + 1] += (double)j;
        sums[3 * reg + 2] += (double)kk;
        p->regions[reg].n_voxels++;
        (*n_lab)++;
    }
    return VBT_OK;
}

/* Labelled voxel list (positions in mm and regions), for the volume gain
 * and nearest-voxel searches; grouped by region (counting sort), so that
 * per-region sums run over contiguous memory. */
static int list_labelled(vbt_parcellation *p, size_t n_lab, const char *vpath, vbt_msg *msg)
{
    size_t nvox = p->dims[0] * p->dims[1] * p->dims[2];
    p->n_lab = n_lab;
    p->lab_xyz = malloc((n_lab ? n_lab : 1) * 3 * sizeof *p->lab_xyz);
    p->lab_region = malloc((n_lab ? n_lab : 1) * sizeof *p->lab_region);
    size_t *next = calloc(p->n + 1, sizeof *next);
    if (!p->lab_xyz || !p->lab_region || !next) {
        free(next);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vpath);
    }
    for (size_t r = 0; r < p->n; r++)
        next[r + 1] = next[r] + p->regions[r].n_voxels;
    for (size_t k = 0; k < nvox; k++) {
        int32_t reg = p->vox_region[k];
        if (reg < 0)
            continue;
        size_t i = k % p->dims[0], j = (k / p->dims[0]) % p->dims[1],
               kk = k / (p->dims[0] * p->dims[1]);
        size_t m = next[reg]++;
        apply_affine(p->A, (double)i, (double)j, (double)kk, p->lab_xyz + 3 * m);
        p->lab_region[m] = reg;
    }
    free(next);
    return VBT_OK;
}

/* Per region: volume, centroid (NaN, and listed as missing, without
 * voxels), hemisphere (from the name, else the side of the centroid) and
 * cortical flag. */
static int finish_regions(vbt_parcellation *p, const double *sums, const char *vpath,
                          vbt_msg *msg)
{
    p->missing = malloc(p->n * sizeof *p->missing);
    if (!p->missing)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vpath);
    for (size_t r = 0; r < p->n; r++) {
        vbt_region_info *ri = &p->regions[r];
        double nv = (double)ri->n_voxels;
        ri->volume_mm3 = nv * p->voxel_mm3;
        if (ri->n_voxels) {
            apply_affine(p->A, sums[3 * r] / nv, sums[3 * r + 1] / nv, sums[3 * r + 2] / nv,
                         ri->centroid_mm);
        } else {
            ri->centroid_mm[0] = ri->centroid_mm[1] = ri->centroid_mm[2] = NAN;
            p->missing[p->n_missing++] = ri->label;
        }
        int h = vbt_region_name_hemisphere(ri->name);
        if (h < 0)
            h = ri->n_voxels && ri->centroid_mm[0] > 0 ? 1 : 0;
        ri->hemisphere = h;
        ri->cortical = vbt_region_name_cortical(ri->name);
    }
    return VBT_OK;
}

int vbt_parcellation_load(vbt_parcellation **out, const char *vpath, const char *lpath,
                          vbt_msg *msg)
{
    int rc;
    nifti_image *im = NULL;
    entry *ent = NULL;
    size_t n_ent = 0, n_lab = 0;
    codemap map = {0};
    double *sums = NULL;
    vbt_parcellation *p = NULL;

    if (!out || !vpath || !lpath)
        return vbt__fail(msg, VBT_EINVAL, "parcellation: NULL argument");
    *out = NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vpath);
    p->notes = calloc(MAX_NOTES, sizeof *p->notes);
    if (!p->notes) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vpath);
        goto fail;
    }
    if ((rc = read_table(lpath, &p->format, &ent, &n_ent, msg)) ||
        (rc = make_regions(p, lpath, ent, n_ent, &map, msg)) ||
        (rc = read_volume(&im, vpath, msg)) || (rc = set_grid(p, im, vpath, msg)))
        goto fail;
    size_t nvox = p->dims[0] * p->dims[1] * p->dims[2];
    p->vox_region = malloc(nvox * sizeof *p->vox_region);
    sums = calloc(p->n * 3, sizeof *sums);
    if (!p->vox_region || !sums) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", vpath);
        goto fail;
    }
    if ((rc = label_voxels(p, im, &map, sums, &n_lab, vpath, msg)))
        goto fail;
    nifti_image_free(im);
    im = NULL;
    if ((rc = list_labelled(p, n_lab, vpath, msg)) ||
        (rc = finish_regions(p, sums, vpath, msg)))
        goto fail;
    free(sums);
    free(ent);
    free(map.direct);
    free(map.pairs);
    *out = p;
    return VBT_OK;
fail:
    if (im)
        nifti_image_free(im);
    free(sums);
    free(ent);
    free(map.direct);
    free(map.pairs);
    vbt_parcellation_free(p);
    return rc;
}

size_t vbt_parcellation_n_regions(const vbt_parcellation *p)
{
    return p ? p->n : 0;
}

const vbt_region_info *vbt_parcellation_regions(const vbt_parcellation *p)
{
    return p ? p->regions : NULL;
}

vbt_label_format vbt_parcellation_label_format(const vbt_parcellation *p)
{
    return p->format;
}

size_t vbt_parcellation_missing(const vbt_parcellation *p, const long **labels)
{
    if (labels)
        *labels = p->missing;
    return p->n_missing;
}

size_t vbt_parcellation_unlisted(const vbt_parcellation *p, const long **labels,
                                 const size_t **voxels)
{
    if (labels)
        *labels = p->unlisted;
    if (voxels)
        *voxels = p->unlisted_vox;
    return p->n_unlisted;
}

size_t vbt_parcellation_n_notes(const vbt_parcellation *p)
{
    return p->n_notes;
}

const char *vbt_parcellation_note(const vbt_parcellation *p, size_t i)
{
    return i < p->n_notes ? p->notes[i] : NULL;
}

void vbt_parcellation_grid(const vbt_parcellation *p, size_t dims[3], double affine[12],
                           const char **source, const char **space)
{
    if (dims)
        memcpy(dims, p->dims, sizeof p->dims);
    if (affine)
        memcpy(affine, p->A, sizeof p->A);
    if (source)
        *source = p->source;
    if (space)
        *space = p->space;
}

double vbt_parcellation_voxel_mm3(const vbt_parcellation *p)
{
    return p->voxel_mm3;
}

size_t vbt_parcellation_voxels(const vbt_parcellation *p, const double **xyz_mm,
                               const int32_t **region)
{
    if (xyz_mm)
        *xyz_mm = p->lab_xyz;
    if (region)
        *region = p->lab_region;
    return p->n_lab;
}

long vbt_parcellation_locate(const vbt_parcellation *p, const double xyz[3], double radius_mm,
                             double *dist_mm)
{
    double ijk[3];
    apply_affine(p->Ainv, xyz[0], xyz[1], xyz[2], ijk);
    if (dist_mm)
        *dist_mm = NAN;
    long c[3];
    int inside = 1;
    for (int d = 0; d < 3; d++) {
        if (!isfinite(ijk[d]) || fabs(ijk[d]) > 1e9)
            return -1;
        c[d] = lround(ijk[d]);
        if (c[d] < 0 || c[d] >= (long)p->dims[d])
            inside = 0;
    }
    if (inside) {
        int32_t r = p->vox_region[(size_t)c[0] + p->dims[0] * ((size_t)c[1] +
                                                               p->dims[1] * (size_t)c[2])];
        if (r >= 0) {
            if (dist_mm)
                *dist_mm = 0.0;
            return r;
        }
    }
    if (!(radius_mm > 0))
        return -1;
    /* Search the box of voxels within radius (column norms = voxel sizes). */
    long lo[3], hi[3];
    for (int d = 0; d < 3; d++) {
        double sz = sqrt(p->A[d] * p->A[d] + p->A[4 + d] * p->A[4 + d] +
                         p->A[8 + d] * p->A[8 + d]);
        long h = (long)ceil(radius_mm / sz) + 1;
        lo[d] = c[d] - h < 0 ? 0 : c[d] - h;
        hi[d] = c[d] + h >= (long)p->dims[d] ? (long)p->dims[d] - 1 : c[d] + h;
        if (lo[d] > hi[d])
            return -1;
    }
    long best = -1;
    double bestd2 = radius_mm * radius_mm;
    for (long k = lo[2]; k <= hi[2]; k++)
        for (long j = lo[1]; j <= hi[1]; j++)
            for (long i = lo[0]; i <= hi[0]; i++) {
                int32_t r = p->vox_region[(size_t)i + p->dims[0] * ((size_t)j +
                                                                    p->dims[1] * (size_t)k)];
                if (r < 0)
                    continue;
                double v[3];
                apply_affine(p->A, (double)i, (double)j, (double)k, v);
                double d2 = (v[0] - xyz[0]) * (v[0] - xyz[0]) +
                            (v[1] - xyz[1]) * (v[1] - xyz[1]) +
                            (v[2] - xyz[2]) * (v[2] - xyz[2]);
                if (d2 <= bestd2 && (best < 0 || d2 < bestd2)) {
                    bestd2 = d2;
                    best = r;
                }
            }
    if (best >= 0 && dist_mm)
        *dist_mm = sqrt(bestd2);
    return best;
}
