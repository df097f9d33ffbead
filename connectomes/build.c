/* build.c -- subject connectome from parcellation + tractography + atlas
 * prior, and the TVB connectivity writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>

#include "cx_internal.h"
#include "vbt_connectome_build.h"
#include "vbt_io.h"
#include "vbt_text.h"

void vbt_build_opts_default(vbt_build_opts *o)
{
    memset(o, 0, sizeof *o);
    o->alpha = 0.5;
    o->tortuosity = VBT_TORTUOSITY_DEFAULT;
}

void vbt_build_report_clear(vbt_build_report *r)
{
    if (!r)
        return;
    free(r->weight_src);
    free(r->length_src);
    free(r->atlas_index);
    memset(r, 0, sizeof *r);
}

int vbt_weight_norm_parse(const char *s, vbt_weight_norm *out)
{
    static const char *const names[] = {"none", "max", "row-sum", "log1p-max"};
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (vbt_weight_norm)i;
            return VBT_OK;
        }
    return VBT_ENOTFOUND;
}

int vbt_prior_mode_parse(const char *s, vbt_prior_mode *out)
{
    static const char *const names[] = {"none", "fill", "blend", "only"};
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (vbt_prior_mode)i;
            return VBT_OK;
        }
    return VBT_ENOTFOUND;
}

const char *vbt_source_name(int src)
{
    static const char *const names[] = {"none", "subject", "atlas", "blend", "geometry"};
    return src >= 0 && src < VBT_SRC_COUNT ? names[src] : "?";
}

int vbt_matrix_load(const char *path, size_t n, double **out, size_t *n_out, vbt_msg *msg)
{
    double *m = NULL;
    size_t r, c;
    int rc;
    *out = NULL;
    if (vbt__cx_ends_with(path, ".npy")) {
        vbt_array a = {0};
        if ((rc = vbt_npy_read(path, &a, msg)))
            return rc;
        if (a.ndim != 2) {
            size_t nd = a.ndim;
            vbt_array_clear(&a);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': a %zu-D array, expected a 2-D matrix",
                             path, nd);
        }
        m = a.data;
        r = a.shape[0];
        c = a.shape[1];
    } else {
        char *buf;
        size_t len;
        char what[4200];
        if ((rc = vbt__cx_read_text(path, &buf, &len, msg)))
            return rc;
        snprintf(what, sizeof what, "'%s'", path);
        rc = vbt__cx_parse_matrix(what, buf, 1, &m, &r, &c, msg);
        free(buf);
        if (rc)
            return rc;
    }
    if (r != c) {
        free(m);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %zux%zu matrix, expected a square one", path,
                         r, c);
    }
    if (n && r != n) {
        free(m);
        return vbt__fail(msg, VBT_EFORMAT, "'%s': %zux%zu matrix, but the parcellation has %zu "
                         "regions", path, r, c, n);
    }
    for (size_t k = 0; k < r * c; k++)
        if (m[k] < 0 || isinf(m[k])) {
            double v = m[k];
            free(m);
            return vbt__fail(msg, VBT_EFORMAT, "'%s': row %zu, column %zu: %g (must be finite "
                             "and >= 0; nan marks a missing entry)", path, k / c + 1,
                             k % c + 1, v);
        }
    *out = m;
    if (n_out)
        *n_out = r;
    return VBT_OK;
}

void vbt_name_map_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int vbt_name_map_load(const char *path, const vbt_parcellation *p, char ***names,
                      vbt_msg *msg)
{
    size_t n = vbt_parcellation_n_regions(p), len;
    const vbt_region_info *reg = vbt_parcellation_regions(p);
    char *buf;
    int rc = vbt__cx_read_text(path, &buf, &len, msg);
    if (rc)
        return rc;
    char **map = calloc(n, sizeof *map);
    if (!map) {
        free(buf);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    }
    vbt__cx_lines c = {buf, 0};
    const char *b, *e, *f[4];
    size_t fl[4];
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (vbt__cx_blank(b, e))
            continue;
        char sep = memchr(b, '\t', (size_t)(e - b)) ? '\t'
                   : memchr(b, ',', (size_t)(e - b)) ? ',' : ' ';
        size_t nf = vbt__cx_split(b, e, sep, f, fl, 4);
        if (nf != 2 || fl[0] == 0 || fl[1] == 0) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: expected 'subject-name "
                           "atlas-name'", path, c.lineno);
            goto fail;
        }
        size_t r = 0;
        for (; r < n; r++)
            if (strlen(reg[r].name) == fl[0] && !strncmp(reg[r].name, f[0], fl[0]))
                break;
        if (r == n) {
            rc = vbt__fail(msg, VBT_ENOTFOUND, "'%s': line %zu: '%.*s' is not a region of the "
                           "parcellation", path, c.lineno, (int)fl[0], f[0]);
            goto fail;
        }
        free(map[r]);
        map[r] = malloc(fl[1] + 1);
        if (!map[r]) {
            rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
            goto fail;
        }
        vbt__cx_copy(map[r], fl[1] + 1, f[1], fl[1]);
    }
    free(buf);
    *names = map;
    return VBT_OK;
fail:
    free(buf);
    vbt_name_map_free(map, n);
    return rc;
}

/* Normalise w (n*n) in place. */
static void normalise(double *w, size_t n, vbt_weight_norm how)
{
    if (how == VBT_WNORM_LOG1P_MAX)
        for (size_t k = 0; k < n * n; k++)
            w[k] = log1p(w[k]);
    if (how == VBT_WNORM_MAX || how == VBT_WNORM_LOG1P_MAX) {
        double mx = 0;
        for (size_t k = 0; k < n * n; k++)
            mx = fmax(mx, w[k]);
        if (mx > 0)
            for (size_t k = 0; k < n * n; k++)
                w[k] /= mx;
    } else if (how == VBT_WNORM_ROWSUM) {
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t j = 0; j < n; j++)
                s += w[i * n + j];
            if (s > 0)
                for (size_t j = 0; j < n; j++)
                    w[i * n + j] /= s;
        }
    }
}

static double max_of(const double *w, size_t count)
{
    double mx = 0;
    for (size_t k = 0; k < count; k++)
        if (w[k] > mx)
            mx = w[k];
    return mx;
}

static double dist3(const double *a, const double *b)
{
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

void vbt_parcellation_match_connectome(const vbt_parcellation *p, const vbt_connectome *atlas,
                                       char *const *names, long *idx)
{
    size_t n = vbt_parcellation_n_regions(p);
    const vbt_region_info *reg = vbt_parcellation_regions(p);
    for (size_t i = 0; i < n; i++) {
        idx[i] = -1;
        if (!atlas)
            continue;
        const char *want = names && names[i] ? names[i] : reg[i].name;
        if (!strcmp(want, "-"))
            continue;
        idx[i] = vbt_connectome_find_label(atlas, want);
        if (idx[i] < 0)
            for (size_t a = 0; a < atlas->n; a++)
                if (!strcasecmp(atlas->labels[a], want)) {
                    idx[i] = (long)a;
                    break;
                }
    }
}

/* The state of one vbt_connectome_build call, shared by its steps. */
typedef struct build_ctx {
    size_t n, nn;                 /* regions, n*n */
    const vbt_build_opts *opt;
    const vbt_connectome *atlas;  /* may be NULL */
    vbt_build_report r;
    vbt_connectome *c;            /* the result */
    double *ws;                   /* subject weights (nn) */
    double *wa;                   /* atlas weights in subject order (nn), NaN: no match */
    unsigned char *miss;          /* 1 where the subject weight is missing (nn) */
} build_ctx;

static int check_build_options(const vbt_build_opts *opt, const double *weights,
                               const vbt_connectome *atlas, vbt_msg *msg)
{
    if (opt->prior != VBT_PRIOR_NONE && !atlas)
        return vbt__fail(msg, VBT_EINVAL, "connectome build: prior '%s' needs an atlas "
                         "connectome", opt->prior == VBT_PRIOR_FILL ? "fill"
                         : opt->prior == VBT_PRIOR_BLEND ? "blend" : "only");
    if (opt->prior != VBT_PRIOR_ONLY && !weights)
        return vbt__fail(msg, VBT_EINVAL, "connectome build: no subject weights (use the "
                         "atlas alone with prior 'only')");
    if (!(opt->alpha >= 0 && opt->alpha <= 1))
        return vbt__fail(msg, VBT_EINVAL, "connectome build: alpha must be in [0, 1], got %g",
                         opt->alpha);
    if (!(opt->tortuosity >= 1 && opt->tortuosity < 10))
        return vbt__fail(msg, VBT_EINVAL, "connectome build: tortuosity must be in [1, 10), "
                         "got %g", opt->tortuosity);
    return VBT_OK;
}

static int build_alloc(build_ctx *b, vbt_msg *msg)
{
    size_t n = b->n, nn = b->nn;
    b->r.n = n;
    b->r.weight_src = calloc(nn, 1);
    b->r.length_src = calloc(nn, 1);
    b->r.atlas_index = malloc(n * sizeof *b->r.atlas_index);
    b->ws = calloc(nn, sizeof *b->ws);
    b->wa = calloc(nn, sizeof *b->wa);
    b->miss = calloc(nn, 1);
    b->c = vbt_connectome_alloc(n);
    if (!b->r.weight_src || !b->r.length_src || !b->r.atlas_index || !b->ws || !b->wa ||
        !b->miss || !b->c)
        return vbt__fail(msg, VBT_ENOMEM, "connectome build: out of memory");
    b->c->cortical = malloc(n * sizeof *b->c->cortical);
    b->c->hemispheres = malloc(n * sizeof *b->c->hemispheres);
    if (!b->c->cortical || !b->c->hemispheres)
        return vbt__fail(msg, VBT_ENOMEM, "connectome build: out of memory");
    return VBT_OK;
}

/* Regions: names (blanks replaced, since TVB's centres.txt is split on
 * blanks), centroids (the atlas's centre for a region without voxels),
 * flags. */
static int build_regions(build_ctx *b, const vbt_parcellation *p, vbt_msg *msg)
{
    const vbt_region_info *reg = vbt_parcellation_regions(p);
    vbt_connectome *c = b->c;
    for (size_t i = 0; i < b->n; i++) {
        snprintf(c->labels[i], VBT_LABEL_MAX, "%s", reg[i].name);
        for (char *q = c->labels[i]; *q; q++)
            if (*q == ' ' || *q == '\t')
                *q = '_';
        c->cortical[i] = reg[i].cortical;
        c->hemispheres[i] = reg[i].hemisphere;
        if (reg[i].n_voxels) {
            memcpy(c->centres + 3 * i, reg[i].centroid_mm, 3 * sizeof(double));
        } else if (b->r.atlas_index[i] >= 0) {
            memcpy(c->centres + 3 * i, b->atlas->centres + 3 * b->r.atlas_index[i],
                   3 * sizeof(double));
        } else {
            return vbt__fail(msg, VBT_EFORMAT, "connectome build: region '%s' (label %ld) has "
                             "no voxel in the volume and no atlas match to take a centre from",
                             reg[i].name, reg[i].label);
        }
    }
    return VBT_OK;
}

/* Subject weights: mirror an upper-triangular matrix, symmetrise, mark the
 * missing entries (NaN, masked, lesioned) and zero them. */
static void build_subject_weights(build_ctx *b, const double *weights)
{
    const size_t n = b->n, nn = b->nn;
    const vbt_build_opts *opt = b->opt;
    double *ws = b->ws;
    unsigned char *miss = b->miss;
    if (!weights) {
        memset(miss, 1, nn);
        return;
    }
    memcpy(ws, weights, nn * sizeof *ws);
    int lower = 0, upper = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double v = ws[i * n + j];
            if (i > j && v != 0 && !isnan(v))
                lower = 1;
            if (i < j && v != 0 && !isnan(v))
                upper = 1;
        }
    if (upper && !lower) {
        b->r.mirrored = 1;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                ws[i * n + j] = ws[j * n + i];
    }
    if (opt->symmetrise)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++) {
                double a = ws[i * n + j], c = ws[j * n + i];
                double v = isnan(a) ? c : isnan(c) ? a : 0.5 * (a + c);
                ws[i * n + j] = ws[j * n + i] = v;
            }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            size_t k = i * n + j;
            miss[k] = isnan(ws[k]) || (opt->mask && opt->mask[k]) ||
                      (opt->lesioned && (opt->lesioned[i] || opt->lesioned[j]));
            if (miss[k])
                ws[k] = 0;
        }
}

/* Atlas weights in subject order (NaN where a region has no match); a
 * prior needs at least one match.  Then the zero diagonal, if asked. */
static int build_atlas_weights(build_ctx *b, vbt_msg *msg)
{
    const size_t n = b->n, nn = b->nn;
    const vbt_connectome *atlas = b->atlas;
    double *wa = b->wa;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            long ai = b->r.atlas_index[i], aj = b->r.atlas_index[j];
            wa[i * n + j] = ai >= 0 && aj >= 0 ? atlas->weights[ai * (long)atlas->n + aj] : NAN;
        }
    int have_atlas = 0;
    for (size_t k = 0; k < nn; k++)
        if (!isnan(wa[k]))
            have_atlas = 1;
    if (b->opt->prior != VBT_PRIOR_NONE && !have_atlas)
        return vbt__fail(msg, VBT_ENOTFOUND, "connectome build: no region name matches the "
                         "atlas (give a name map)");
    if (b->opt->zero_diagonal)
        for (size_t i = 0; i < n; i++) {
            b->ws[i * n + i] = 0;
            if (!isnan(wa[i * n + i]))
                wa[i * n + i] = 0;
        }
    return VBT_OK;
}

/* Prior 'blend': both matrices normalised alike, then alpha subject +
 * (1 - alpha) atlas where both exist; scaled back to the subject's maximum
 * when no normalisation was asked. */
static void blend_weights(build_ctx *b, double smax)
{
    const size_t n = b->n, nn = b->nn;
    const vbt_build_opts *opt = b->opt;
    double *w = b->c->weights, *ws = b->ws, *wa = b->wa;
    vbt_weight_norm how = opt->normalize == VBT_WNORM_NONE ? VBT_WNORM_MAX : opt->normalize;
    double back = opt->normalize == VBT_WNORM_NONE && smax > 0 ? smax : 1.0;
    for (size_t k = 0; k < nn; k++)
        if (isnan(wa[k]))
            wa[k] = 0;
    normalise(ws, n, how);
    normalise(wa, n, how);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            size_t k = i * n + j;
            int atl = b->r.atlas_index[i] >= 0 && b->r.atlas_index[j] >= 0;
            if (b->miss[k]) {
                w[k] = atl ? wa[k] : 0;
                b->r.weight_src[k] = atl ? VBT_SRC_ATLAS : VBT_SRC_NONE;
            } else if (!atl) {
                w[k] = ws[k];
                b->r.weight_src[k] = VBT_SRC_SUBJECT;
            } else {
                w[k] = opt->alpha * ws[k] + (1 - opt->alpha) * wa[k];
                b->r.weight_src[k] = VBT_SRC_BLEND;
            }
            w[k] *= back;
        }
}

/* The connectome's weights from the subject's and the atlas's, as the
 * prior says, with the source of each entry. */
static void combine_weights(build_ctx *b)
{
    const size_t n = b->n, nn = b->nn;
    const vbt_build_opts *opt = b->opt;
    double *w = b->c->weights, *ws = b->ws, *wa = b->wa;
    unsigned char *miss = b->miss, *src = b->r.weight_src;
    double smax = max_of(ws, nn), amax = 0;
    for (size_t k = 0; k < nn; k++)
        if (!isnan(wa[k]) && wa[k] > amax)
            amax = wa[k];
    switch (opt->prior) {
    case VBT_PRIOR_NONE:
        for (size_t k = 0; k < nn; k++) {
            w[k] = ws[k];
            src[k] = miss[k] ? VBT_SRC_NONE : VBT_SRC_SUBJECT;
        }
        normalise(w, n, opt->normalize);
        break;
    case VBT_PRIOR_FILL:
        for (size_t k = 0; k < nn; k++) {
            if (!miss[k]) {
                w[k] = ws[k];
                src[k] = VBT_SRC_SUBJECT;
            } else if (!isnan(wa[k])) {
                w[k] = amax > 0 ? wa[k] * (smax > 0 ? smax : 1.0) / amax : 0.0;
                src[k] = VBT_SRC_ATLAS;
            } else {
                w[k] = 0;
                src[k] = VBT_SRC_NONE;
            }
        }
        normalise(w, n, opt->normalize);
        break;
    case VBT_PRIOR_BLEND:
        blend_weights(b, smax);
        break;
    case VBT_PRIOR_ONLY:
        for (size_t k = 0; k < nn; k++) {
            w[k] = isnan(wa[k]) ? 0 : wa[k];
            src[k] = isnan(wa[k]) ? VBT_SRC_NONE : VBT_SRC_ATLAS;
        }
        normalise(w, n, opt->normalize);
        break;
    }
}

/* Lengths: the subject's where it has the connection (an upper-triangular
 * matrix is mirrored as the weights), else the atlas's scaled by the ratio
 * of the centre distances, else tortuosity times the centre distance. */
static int build_lengths(build_ctx *b, const double *lengths, vbt_msg *msg)
{
    const size_t n = b->n, nn = b->nn;
    const vbt_connectome *atlas = b->atlas;
    vbt_connectome *c = b->c;
    double *lsub = NULL;
    if (lengths) {
        lsub = malloc(nn * sizeof *lsub);
        if (!lsub)
            return vbt__fail(msg, VBT_ENOMEM, "connectome build: out of memory");
        memcpy(lsub, lengths, nn * sizeof *lsub);
        int lower = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (lsub[i * n + j] > 0)
                    lower = 1;
        if (!lower)
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                    lsub[i * n + j] = lsub[j * n + i];
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            size_t k = i * n + j;
            double *L = &c->lengths[k];
            if (i == j) {
                *L = 0;
                b->r.length_src[k] = VBT_SRC_NONE;
                continue;
            }
            double ls = lsub ? lsub[k] : NAN;
            if (lsub && !b->miss[k] && isfinite(ls) && ls > 0) {
                *L = ls;
                b->r.length_src[k] = VBT_SRC_SUBJECT;
                continue;
            }
            long ai = b->r.atlas_index[i], aj = b->r.atlas_index[j];
            double ds = dist3(c->centres + 3 * i, c->centres + 3 * j);
            if (ai >= 0 && aj >= 0) {
                double la = atlas->lengths[ai * (long)atlas->n + aj];
                double da = dist3(atlas->centres + 3 * ai, atlas->centres + 3 * aj);
                if (la > 0 && da > 0) {
                    *L = la * ds / da;
                    b->r.length_src[k] = VBT_SRC_ATLAS;
                    continue;
                }
            }
            *L = b->opt->tortuosity * ds;
            b->r.length_src[k] = VBT_SRC_GEOMETRY;
        }
    free(lsub);
    return VBT_OK;
}

/* Every weight finite and non-negative; count the sources of the nonzero
 * weights and of their lengths. */
static int count_sources(build_ctx *b, vbt_msg *msg)
{
    const size_t n = b->n;
    const double *w = b->c->weights;
    for (size_t k = 0; k < b->nn; k++) {
        if (!isfinite(w[k]) || w[k] < 0)
            return vbt__fail(msg, VBT_ENUMERIC, "connectome build: weight (%zu,%zu) is %g",
                             k / n, k % n, w[k]);
        if (w[k] > 0) {
            b->r.n_weight[b->r.weight_src[k]]++;
            if (k / n != k % n)
                b->r.n_length[b->r.length_src[k]]++;
        }
    }
    return VBT_OK;
}

int vbt_connectome_build(vbt_connectome **out, const vbt_parcellation *p,
                         const double *weights, const double *lengths,
                         const vbt_connectome *atlas, char *const *atlas_names,
                         const vbt_build_opts *opt_in, vbt_build_report *rep, vbt_msg *msg)
{
    vbt_build_opts opt;
    int rc;

    if (!out || !p)
        return vbt__fail(msg, VBT_EINVAL, "connectome build: NULL argument");
    *out = NULL;
    if (opt_in)
        opt = *opt_in;
    else
        vbt_build_opts_default(&opt);
    if ((rc = check_build_options(&opt, weights, atlas, msg)))
        return rc;
    build_ctx b = {.n = vbt_parcellation_n_regions(p), .opt = &opt, .atlas = atlas};
    b.nn = b.n * b.n;
    if ((rc = build_alloc(&b, msg)))
        goto fail;
    vbt_parcellation_match_connectome(p, atlas, atlas_names, b.r.atlas_index);
    if ((rc = build_regions(&b, p, msg)))
        goto fail;
    build_subject_weights(&b, weights);
    if ((rc = build_atlas_weights(&b, msg)))
        goto fail;
    combine_weights(&b);
    if ((rc = build_lengths(&b, lengths, msg)) || (rc = count_sources(&b, msg)))
        goto fail;
    free(b.ws);
    free(b.wa);
    free(b.miss);
    if (rep)
        *rep = b.r;
    else
        vbt_build_report_clear(&b.r);
    *out = b.c;
    return VBT_OK;
fail:
    free(b.ws);
    free(b.wa);
    free(b.miss);
    vbt_build_report_clear(&b.r);
    vbt_connectome_free(b.c);
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

static void mb_matrix(vbt_textbuf *b, const double *m, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            vbt_textbuf_printf(b, "%.17g%c", m[i * cols + j], j + 1 < cols ? ' ' : '\n');
}

enum { F_WEIGHTS, F_LENGTHS, F_CENTRES, F_CORTICAL, F_HEMI, F_AREAS, F_ORIENT, F_COUNT };
static const char *const fnames[F_COUNT] = {"weights.txt", "tract_lengths.txt", "centres.txt",
                                            "cortical.txt", "hemispheres.txt", "areas.txt",
                                            "average_orientations.txt"};

static int render(const vbt_connectome *c, vbt_textbuf *f)
{
    size_t n = c->n;
    mb_matrix(&f[F_WEIGHTS], c->weights, n, n);
    mb_matrix(&f[F_LENGTHS], c->lengths, n, n);
    for (size_t i = 0; i < n; i++)
        vbt_textbuf_printf(&f[F_CENTRES], "%s %.17g %.17g %.17g\n", c->labels[i], c->centres[3 * i],
                  c->centres[3 * i + 1], c->centres[3 * i + 2]);
    for (size_t i = 0; c->cortical && i < n; i++)
        vbt_textbuf_printf(&f[F_CORTICAL], "%d\n", c->cortical[i]);
    for (size_t i = 0; c->hemispheres && i < n; i++)
        vbt_textbuf_printf(&f[F_HEMI], "%d\n", c->hemispheres[i]);
    if (c->areas)
        mb_matrix(&f[F_AREAS], c->areas, n, 1);
    if (c->orientations)
        mb_matrix(&f[F_ORIENT], c->orientations, n, 3);
    for (int k = 0; k < F_COUNT; k++)
        if (f[k].oom)
            return -1;
    return 0;
}

static int write_zip(const char *path, vbt_textbuf *f, int overwrite, vbt_msg *msg)
{
    FILE *fp;
    char *tmp;
    int rc = vbt__atomic_open(path, overwrite, &fp, &tmp, msg);
    if (rc)
        return rc;
    struct archive *a = archive_write_new();
    if (!a || archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_FILE(a, fp) != ARCHIVE_OK) {
        if (a)
            archive_write_free(a);
        vbt__atomic_discard(fp, tmp);
        return vbt__fail(msg, VBT_EIO, "'%s': cannot start a zip archive", path);
    }
    for (int k = 0; k < F_COUNT; k++) {
        if (!f[k].s)
            continue;
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, fnames[k]);
        archive_entry_set_size(e, (la_int64_t)f[k].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 0, 0);
        int ok = archive_write_header(a, e) == ARCHIVE_OK &&
                 archive_write_data(a, f[k].s, f[k].len) == (la_ssize_t)f[k].len;
        archive_entry_free(e);
        if (!ok) {
            archive_write_free(a);
            vbt__atomic_discard(fp, tmp);
            return vbt__fail(msg, VBT_EIO, "'%s': writing %s failed", path, fnames[k]);
        }
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        archive_write_free(a);
        vbt__atomic_discard(fp, tmp);
        return vbt__fail(msg, VBT_EIO, "'%s': closing the zip archive failed", path);
    }
    archive_write_free(a);
    return vbt__atomic_commit(path, fp, tmp, overwrite, msg);
}

static int write_dir(const char *path, vbt_textbuf *f, int overwrite, vbt_msg *msg)
{
    vbt_outdir *od;
    int rc = vbt_outdir_begin(&od, path, overwrite, msg);
    if (rc)
        return rc;
    for (int k = 0; k < F_COUNT; k++) {
        char fp[4200];
        if (!f[k].s)
            continue;
        if (vbt_outdir_file(od, fnames[k], fp, sizeof fp) ||
            (rc = vbt_file_write_atomic(fp, f[k].s, f[k].len, 0, msg))) {
            vbt_outdir_abort(od);
            return rc ? rc : vbt__fail(msg, VBT_EIO, "'%s': path too long", path);
        }
    }
    return vbt_outdir_commit(od, msg);
}

int vbt_connectome_save(const vbt_connectome *c, const char *path, int overwrite,
                        vbt_msg *msg)
{
    vbt_textbuf f[F_COUNT];
    memset(f, 0, sizeof f);
    if (!c || !path)
        return vbt__fail(msg, VBT_EINVAL, "connectome save: NULL argument");
    int rc = vbt_connectome_validate(c, path, msg);
    if (rc)
        return rc;
    if (render(c, f))
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
    else if (vbt__cx_ends_with(path, ".zip"))
        rc = write_zip(path, f, overwrite, msg);
    else
        rc = write_dir(path, f, overwrite, msg);
    for (int k = 0; k < F_COUNT; k++)
        vbt_textbuf_free(&f[k]);
    return rc;
}
