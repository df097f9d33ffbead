/* gain.c -- gain matrices (centre, volume, surface dipole, EEG sphere) and
 * TVB surfaces / region mappings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <gsl/gsl_linalg.h>

#include "connectome_archive.h"
#include "cx_internal.h"
#include "gain_eeg.h"
#include "vbt_connectome_build.h"
#include "vbt_contacts.h"
#include "vbt_gain.h"
#include "vbt_io.h"

#define FOUR_PI (4.0 * 3.14159265358979323846)

void vbt_surface_free(vbt_surface *s)
{
    if (!s)
        return;
    free(s->vertices);
    free(s->triangles);
    free(s->normals);
    free(s);
}

static void compute_normals(vbt_surface *s)
{
    memset(s->normals, 0, s->nv * 3 * sizeof *s->normals);
    for (size_t t = 0; t < s->nt; t++) {
        const size_t *tr = s->triangles + 3 * t;
        const double *a = s->vertices + 3 * tr[0], *b = s->vertices + 3 * tr[1],
                     *c = s->vertices + 3 * tr[2];
        double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
        double v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        double n[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                       u[0] * v[1] - u[1] * v[0]};
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 3; d++)
                s->normals[3 * tr[k] + d] += n[d];
    }
}

int vbt_surface_load(vbt_surface **out, const char *path, vbt_msg *msg)
{
    vbt__conn_member m[4] = {{.want = "vertices.txt"}, {.want = "triangles.txt"},
                             {.want = "vertex_normals.txt"}, {.want = "normals.txt"}};
    vbt_surface *s = NULL;
    double *tri = NULL, *nrm = NULL;
    size_t r, c, tr, tc;
    char what[4200];
    int rc;

    if (!out || !path)
        return vbt__fail(msg, VBT_EINVAL, "surface: NULL argument");
    *out = NULL;
    if ((rc = vbt__conn_archive_read(path, m, 4, msg)))
        return rc;
    for (int k = 0; k < 2; k++)
        if (!m[k].data) {
            rc = vbt__fail(msg, VBT_EFORMAT, "'%s': no %s", path, m[k].want);
            goto fail;
        }
    s = calloc(1, sizeof *s);
    if (!s) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    snprintf(what, sizeof what, "'%s': %s", path, m[0].name);
    if ((rc = vbt__cx_parse_matrix(what, m[0].data, 0, &s->vertices, &r, &c, msg)))
        goto fail;
    if (c != 3) {
        rc = vbt__fail(msg, VBT_EFORMAT, "%s: %zu columns, expected 3", what, c);
        goto fail;
    }
    s->nv = r;
    snprintf(what, sizeof what, "'%s': %s", path, m[1].name);
    if ((rc = vbt__cx_parse_matrix(what, m[1].data, 0, &tri, &tr, &tc, msg)))
        goto fail;
    if (tc != 3) {
        rc = vbt__fail(msg, VBT_EFORMAT, "%s: %zu columns, expected 3", what, tc);
        goto fail;
    }
    s->nt = tr;
    s->triangles = malloc(tr * 3 * sizeof *s->triangles);
    s->normals = malloc(s->nv * 3 * sizeof *s->normals);
    if (!s->triangles || !s->normals) {
        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    for (size_t k = 0; k < tr * 3; k++) {
        double x = tri[k];
        if (x != floor(x) || x < 0 || x >= (double)s->nv) {
            rc = vbt__fail(msg, VBT_EFORMAT, "%s: row %zu: vertex index %g outside [0, %zu)",
                           what, k / 3 + 1, x, s->nv);
            goto fail;
        }
        s->triangles[k] = (size_t)x;
    }
    int nk = m[2].data ? 2 : m[3].data ? 3 : -1;
    if (nk > 0) {
        snprintf(what, sizeof what, "'%s': %s", path, m[nk].name);
        if ((rc = vbt__cx_parse_matrix(what, m[nk].data, 0, &nrm, &r, &c, msg)))
            goto fail;
        if (r != s->nv || c != 3) {
            rc = vbt__fail(msg, VBT_EFORMAT, "%s: %zux%zu, expected %zux3 (one per vertex)",
                           what, r, c, s->nv);
            goto fail;
        }
        memcpy(s->normals, nrm, s->nv * 3 * sizeof *nrm);
    } else {
        compute_normals(s);
        s->normals_computed = 1;
    }
    for (size_t v = 0; v < s->nv; v++) {
        double *n = s->normals + 3 * v;
        double len = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        if (!(len > 0)) {
            if (!s->normals_computed) {
                rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %s: row %zu: zero normal", path,
                               m[nk].name, v + 1);
                goto fail;
            }
            continue; /* a vertex in no triangle: its area is 0 too */
        }
        for (int d = 0; d < 3; d++)
            n[d] /= len;
    }
    free(tri);
    free(nrm);
    vbt__conn_members_free(m, 4);
    *out = s;
    return VBT_OK;
fail:
    free(tri);
    free(nrm);
    vbt__conn_members_free(m, 4);
    vbt_surface_free(s);
    return rc;
}

int vbt_surface_vertex_areas(const vbt_surface *s, double *areas, vbt_msg *msg)
{
    if (!s || !areas)
        return vbt__fail(msg, VBT_EINVAL, "surface: NULL argument");
    memset(areas, 0, s->nv * sizeof *areas);
    for (size_t t = 0; t < s->nt; t++) {
        const size_t *tr = s->triangles + 3 * t;
        const double *a = s->vertices + 3 * tr[0], *b = s->vertices + 3 * tr[1],
                     *c = s->vertices + 3 * tr[2];
        double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
        double v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        double n[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2],
                       u[0] * v[1] - u[1] * v[0]};
        double third = 0.5 * sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) / 3.0;
        for (int k = 0; k < 3; k++)
            areas[tr[k]] += third;
    }
    return VBT_OK;
}

int vbt_region_mapping_load(const char *path, size_t n_vertices, int **map, size_t *n_regions,
                            vbt_msg *msg)
{
    char *buf;
    size_t len, cap = 0, n = 0;
    int *m = NULL, maxv = -1;
    *map = NULL;
    *n_regions = 0;
    int rc = vbt__cx_read_text(path, &buf, &len, msg);
    if (rc)
        return rc;
    vbt__cx_lines c = {buf, 0};
    const char *b, *e, *f[64];
    size_t fl[64];
    while (vbt__cx_next_line(&c, &b, &e)) {
        if (vbt__cx_blank(b, e))
            continue;
        const char *p = b;
        for (;;) {
            size_t nf = vbt__cx_split(p, e, ' ', f, fl, 64);
            if (nf == 0)
                break;
            for (size_t k = 0; k < nf; k++) {
                long v;
                if (vbt__cx_parse_long(f[k], fl[k], 1, &v) || v < 0 || v > 1000000) {
                    rc = vbt__fail(msg, VBT_EFORMAT, "'%s': line %zu: '%.*s' is not a region "
                                   "index (a non-negative integer)", path, c.lineno,
                                   (int)(fl[k] > 40 ? 40 : fl[k]), f[k]);
                    goto fail;
                }
                if (n == cap) {
                    cap = cap ? 2 * cap : 4096;
                    int *nm = realloc(m, cap * sizeof *m);
                    if (!nm) {
                        rc = vbt__fail(msg, VBT_ENOMEM, "'%s': out of memory", path);
                        goto fail;
                    }
                    m = nm;
                }
                m[n++] = (int)v;
                if ((int)v > maxv)
                    maxv = (int)v;
            }
            if (nf < 64)
                break;
            p = f[63] + fl[63];
        }
    }
    if (n != n_vertices) {
        rc = vbt__fail(msg, VBT_EFORMAT, "'%s': %zu entries, but the surface has %zu vertices",
                       path, n, n_vertices);
        goto fail;
    }
    free(buf);
    *map = m;
    *n_regions = (size_t)(maxv + 1);
    return VBT_OK;
fail:
    free(buf);
    free(m);
    return rc;
}

static int check_finite(const double *a, size_t n, const char *what, vbt_msg *msg)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return vbt__fail(msg, VBT_ENUMERIC, "gain: %s row %zu is not finite", what,
                             i / 3 + 1);
    return VBT_OK;
}

static int check_args(const double *sensors, size_t ns, size_t nr, double min_dist,
                      const double *gain, vbt_msg *msg)
{
    if (!sensors || !gain || ns == 0 || nr == 0)
        return vbt__fail(msg, VBT_EINVAL, "gain: no sensors or no regions");
    if (!(min_dist > 0) || !isfinite(min_dist))
        return vbt__fail(msg, VBT_EINVAL, "gain: minimum distance must be > 0 mm, got %g",
                         min_dist);
    return check_finite(sensors, 3 * ns, "sensor", msg);
}

/* 1/(4 pi |s - c|^2), distances under sqrt(d2min) counting as that. */
static double centre_term(const double *s, const double *c, double d2min)
{
    double dx = s[0] - c[0], dy = s[1] - c[1], dz = s[2] - c[2];
    double d2 = dx * dx + dy * dy + dz * dz;
    return 1.0 / (FOUR_PI * (d2 < d2min ? d2min : d2));
}

double vbt_gain_ball(double d, double R)
{
    if (!(R > 0.0))
        return 0.0;
    if (d < 1e-6 * R) /* the limit at the centre */
        return R;
    if (fabs(d - R) < 1e-12 * R) /* the log term vanishes on the surface */
        return 0.5 * R;
    return 0.5 * R + (R * R - d * d) / (4.0 * d) * log(fabs((d + R) / (d - R)));
}

int vbt_gain_centre(const double *sensors, size_t ns, const double *centres, size_t nr,
                    double min_dist_mm, double *gain, vbt_msg *msg)
{
    int rc = check_args(sensors, ns, nr, min_dist_mm, gain, msg);
    if (rc || (rc = check_finite(centres, 3 * nr, "region centre", msg)))
        return rc;
    double d2min = min_dist_mm * min_dist_mm;
    for (size_t s = 0; s < ns; s++)
        for (size_t r = 0; r < nr; r++)
            gain[s * nr + r] = centre_term(sensors + 3 * s, centres + 3 * r, d2min);
    return VBT_OK;
}

int vbt_gain_volume(const double *sensors, size_t ns, const vbt_parcellation *p,
                    double min_dist_mm, double *gain, vbt_msg *msg)
{
    size_t nr = p ? vbt_parcellation_n_regions(p) : 0;
    int rc = check_args(sensors, ns, nr, min_dist_mm, gain, msg);
    if (rc)
        return rc;
    const double *xyz;
    const vbt_region_info *reg = vbt_parcellation_regions(p);
    vbt_parcellation_voxels(p, &xyz, NULL);
    const double w = vbt_parcellation_voxel_mm3(p) / FOUR_PI, d2min = min_dist_mm * min_dist_mm;
    for (size_t s = 0; s < ns; s++) {
        const double sx = sensors[3 * s], sy = sensors[3 * s + 1], sz = sensors[3 * s + 2];
        size_t off = 0;
        for (size_t r = 0; r < nr; r++) {
            const double *v = xyz + 3 * off;
            const size_t nv = reg[r].n_voxels;
            double acc = 0.0;
#pragma omp simd reduction(+ : acc)
            for (size_t k = 0; k < nv; k++) {
                double dx = sx - v[3 * k], dy = sy - v[3 * k + 1], dz = sz - v[3 * k + 2];
                double d2 = dx * dx + dy * dy + dz * dz;
                acc += 1.0 / (d2 < d2min ? d2min : d2);
            }
            gain[s * nr + r] = w * acc;
            off += nv;
        }
    }
    return VBT_OK;
}

int vbt_gain_volume_mapped(const double *sensors, size_t ns, const vbt_parcellation *p,
                           const long *idx, const double *centres, size_t nr,
                           double min_dist_mm, double *gain, unsigned char *fallback,
                           vbt_msg *msg)
{
    size_t np = p ? vbt_parcellation_n_regions(p) : 0;
    int rc = check_args(sensors, ns, nr, min_dist_mm, gain, msg);
    if (rc)
        return rc;
    if (!idx)
        return vbt__fail(msg, VBT_EINVAL, "gain: no region map");
    if (centres && (rc = check_finite(centres, 3 * nr, "region centre", msg)))
        return rc;
    for (size_t k = 0; k < np; k++)
        if (idx[k] >= (long)nr)
            return vbt__fail(msg, VBT_EINVAL, "gain: parcellation region %zu maps to column "
                             "%ld, but there are %zu", k, idx[k], nr);
    double *gp = malloc((ns * np + 1) * sizeof *gp);
    unsigned char *hit = calloc(nr, 1);
    if (!gp || !hit) {
        free(gp);
        free(hit);
        return vbt__fail(msg, VBT_ENOMEM, "gain: out of memory");
    }
    rc = np ? vbt_gain_volume(sensors, ns, p, min_dist_mm, gp, msg) : VBT_OK;
    if (!rc) {
        memset(gain, 0, ns * nr * sizeof *gain);
        /* A column without voxels is a point source of the mean volume of
         * the others, so that every column is on the same scale. */
        const vbt_region_info *reg = np ? vbt_parcellation_regions(p) : NULL;
        double vol = 0.0;
        size_t n_hit = 0;
        for (size_t k = 0; k < np; k++)
            if (idx[k] >= 0) {
                vol += (double)reg[k].n_voxels * vbt_parcellation_voxel_mm3(p);
                n_hit += !hit[idx[k]];
                hit[idx[k]] = 1;
            }
        vol = n_hit ? vol / (double)n_hit : 1.0;
        for (size_t k = 0; k < np; k++)
            if (idx[k] >= 0) {
                for (size_t s = 0; s < ns; s++)
                    gain[s * nr + (size_t)idx[k]] += gp[s * np + k];
            }
        /* the ball's radius; its gain never exceeds the point source's at
         * min_dist_mm (a ball smaller than a voxel is a point) */
        const double R = cbrt(3.0 * vol / FOUR_PI), gmax = vol / (FOUR_PI * min_dist_mm *
                                                                  min_dist_mm);
        for (size_t r = 0; r < nr; r++) {
            if (fallback)
                fallback[r] = !hit[r] && centres;
            if (hit[r] || !centres)
                continue;
            for (size_t s = 0; s < ns; s++) {
                const double *a = sensors + 3 * s, *c = centres + 3 * r;
                double d = sqrt((a[0] - c[0]) * (a[0] - c[0]) + (a[1] - c[1]) * (a[1] - c[1]) +
                                (a[2] - c[2]) * (a[2] - c[2]));
                gain[s * nr + r] = fmin(vbt_gain_ball(d, R), gmax);
            }
        }
    }
    free(gp);
    free(hit);
    return rc;
}

/* ---- registering one set of region centres onto another ---------------- */

#define AFFINE_MIN_PAIRS 8
#define AFFINE_MIN_SV_RATIO 1e-3 /* smallest / largest spread of `from`: not coplanar */

int vbt_affine_fit(const double *from, const double *to, const unsigned char *use, size_t n,
                   double affine[12], double *rms_given, double *rms_fit, vbt_msg *msg)
{
    size_t m = 0;
    double mf[3] = {0.0, 0.0, 0.0}, mt[3] = {0.0, 0.0, 0.0};
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        for (int d = 0; d < 3; d++) {
            if (!isfinite(from[3 * i + d]) || !isfinite(to[3 * i + d]))
                return vbt__fail(msg, VBT_EINVAL, "affine fit: point %zu is not finite", i + 1);
            mf[d] += from[3 * i + d];
            mt[d] += to[3 * i + d];
        }
        m++;
    }
    if (m < AFFINE_MIN_PAIRS)
        return vbt__fail(msg, VBT_EINVAL, "affine fit: %zu point pairs, at least %d needed", m,
                         AFFINE_MIN_PAIRS);
    for (int d = 0; d < 3; d++) {
        mf[d] /= (double)m;
        mt[d] /= (double)m;
    }
    /* A from the centred points: X A' = Y by the SVD of X (m x 3), so that
     * b = mean(to) - A mean(from). */
    gsl_matrix *X = gsl_matrix_alloc(m, 3), *V = gsl_matrix_alloc(3, 3);
    gsl_vector *S = gsl_vector_alloc(3), *work = gsl_vector_alloc(3), *y = gsl_vector_alloc(m),
               *a = gsl_vector_alloc(3);
    int rc = VBT_OK;
    if (!X || !V || !S || !work || !y || !a) {
        rc = vbt__fail(msg, VBT_ENOMEM, "affine fit: out of memory");
        goto done;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (!use || use[i]) {
            for (int d = 0; d < 3; d++)
                gsl_matrix_set(X, k, (size_t)d, from[3 * i + d] - mf[d]);
            k++;
        }
    gsl_linalg_SV_decomp(X, V, S, work); /* X now holds U */
    if (!(gsl_vector_get(S, 2) > AFFINE_MIN_SV_RATIO * gsl_vector_get(S, 0))) {
        rc = vbt__fail(msg, VBT_EINVAL, "affine fit: the %zu points are (nearly) coplanar", m);
        goto done;
    }
    for (int r = 0; r < 3; r++) {
        for (size_t i = 0, k = 0; i < n; i++)
            if (!use || use[i])
                gsl_vector_set(y, k++, to[3 * i + r] - mt[r]);
        gsl_linalg_SV_solve(X, V, S, y, a);
        double b = mt[r];
        for (int c = 0; c < 3; c++) {
            affine[3 * r + c] = gsl_vector_get(a, (size_t)c);
            b -= affine[3 * r + c] * mf[c];
        }
        affine[9 + r] = b;
    }
    double sg = 0.0, sf = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        double q[3];
        vbt_affine_apply(affine, from + 3 * i, q);
        for (int d = 0; d < 3; d++) {
            sg += (to[3 * i + d] - from[3 * i + d]) * (to[3 * i + d] - from[3 * i + d]);
            sf += (to[3 * i + d] - q[d]) * (to[3 * i + d] - q[d]);
        }
    }
    if (rms_given)
        *rms_given = sqrt(sg / (double)m);
    if (rms_fit)
        *rms_fit = sqrt(sf / (double)m);
done:
    gsl_matrix_free(X);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(work);
    gsl_vector_free(y);
    gsl_vector_free(a);
    return rc;
}

/* Ratio of the registered centres' RMS distance to their columns' voxel
 * centroids over the given centres' above which the centres are taken as
 * given (a connectome whose centres lie in another space, e.g. BVEP's 84
 * regions against MNI 152: 24.5 mm -> 5.5 mm, is registered). */
#define REGISTER_MAX_RMS_RATIO 0.5

int vbt_centres_register(const double *centres, size_t nr, const vbt_parcellation *p,
                         const long *col, vbt_centre_registration *info, vbt_msg *msg)
{
    if (!centres || !p || !col || !info)
        return vbt__fail(msg, VBT_EINVAL, "centre registration: NULL argument");
    memset(info, 0, sizeof *info);
    info->rms_given_mm = info->rms_fit_mm = NAN;
    size_t np = vbt_parcellation_n_regions(p);
    const vbt_region_info *reg = vbt_parcellation_regions(p);
    double *cent = calloc(nr * 3 + 1, sizeof *cent), *nvox = calloc(nr + 1, sizeof *nvox);
    unsigned char *use = calloc(nr + 1, 1);
    if (!cent || !nvox || !use) {
        free(cent);
        free(nvox);
        free(use);
        return vbt__fail(msg, VBT_ENOMEM, "centre registration: out of memory");
    }
    for (size_t k = 0; k < np; k++) {
        long c = col[k];
        if (c < 0 || (size_t)c >= nr || !reg[k].n_voxels || !isfinite(reg[k].centroid_mm[0]))
            continue;
        for (int d = 0; d < 3; d++)
            cent[3 * c + d] += (double)reg[k].n_voxels * reg[k].centroid_mm[d];
        nvox[c] += (double)reg[k].n_voxels;
    }
    for (size_t r = 0; r < nr; r++) {
        use[r] = nvox[r] > 0 && isfinite(centres[3 * r]) && isfinite(centres[3 * r + 1]) &&
                 isfinite(centres[3 * r + 2]);
        for (int d = 0; d < 3 && nvox[r] > 0; d++)
            cent[3 * r + d] /= nvox[r];
        info->pairs += use[r];
    }
    vbt_msg why;
    if (!vbt_affine_fit(centres, cent, use, nr, info->affine, &info->rms_given_mm,
                        &info->rms_fit_mm, &why))
        info->registered = info->rms_fit_mm < REGISTER_MAX_RMS_RATIO * info->rms_given_mm;
    else
        info->rms_fit_mm = NAN;
    free(cent);
    free(nvox);
    free(use);
    return VBT_OK;
}

void vbt_affine_apply(const double affine[12], const double q[3], double p[3])
{
    double r[3];
    for (int d = 0; d < 3; d++)
        r[d] = affine[3 * d] * q[0] + affine[3 * d + 1] * q[1] + affine[3 * d + 2] * q[2] +
               affine[9 + d];
    memcpy(p, r, sizeof r);
}

int vbt_gain_dipole(const double *sensors, size_t ns, const vbt_surface *surf,
                    const int *mapping, size_t nr, double min_dist_mm, double *gain,
                    vbt_msg *msg)
{
    int rc = check_args(sensors, ns, nr, min_dist_mm, gain, msg);
    if (rc)
        return rc;
    if (!surf || !mapping)
        return vbt__fail(msg, VBT_EINVAL, "gain: no surface or region mapping");
    for (size_t v = 0; v < surf->nv; v++)
        if (mapping[v] >= (int)nr)
            return vbt__fail(msg, VBT_EINVAL, "gain: vertex %zu maps to region %d, but there "
                             "are %zu regions", v, mapping[v], nr);
    double *area = malloc(surf->nv * sizeof *area);
    if (!area)
        return vbt__fail(msg, VBT_ENOMEM, "gain: out of memory");
    vbt_surface_vertex_areas(surf, area, msg);
    memset(gain, 0, ns * nr * sizeof *gain);
    const double dmin = min_dist_mm;
    for (size_t s = 0; s < ns; s++) {
        double *row = gain + s * nr;
        for (size_t v = 0; v < surf->nv; v++) {
            if (mapping[v] < 0)
                continue;
            const double *x = surf->vertices + 3 * v, *n = surf->normals + 3 * v;
            double d[3] = {sensors[3 * s] - x[0], sensors[3 * s + 1] - x[1],
                           sensors[3 * s + 2] - x[2]};
            double dist = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            if (dist < dmin)
                dist = dmin;
            row[mapping[v]] += area[v] * (n[0] * d[0] + n[1] * d[1] + n[2] * d[2]) /
                               (FOUR_PI * dist * dist * dist);
        }
    }
    free(area);
    return VBT_OK;
}

/* The computation is in lib/ (gain_eeg.c): the eeg monitor needs it too. */
int vbt_gain_eeg(const double *sensors, size_t ns, const double *centres,
                 const double *orientations, size_t nr, double min_dist_mm, double *gain,
                 vbt_msg *msg)
{
    return vbt__gain_eeg(sensors, ns, centres, orientations, nr, min_dist_mm, gain, msg);
}

void vbt_gain_bipolar(const double *gain, size_t nr, const size_t *pairs, size_t np,
                      double *out)
{
    for (size_t p = 0; p < np; p++)
        for (size_t r = 0; r < nr; r++)
            out[p * nr + r] = gain[pairs[2 * p] * nr + r] - gain[pairs[2 * p + 1] * nr + r];
}

void vbt_gain_normalize_rows(double *gain, size_t ns, size_t nr, vbt_gain_norm how)
{
    if (how == VBT_GAIN_NORM_NONE)
        return;
    for (size_t s = 0; s < ns; s++) {
        double *row = gain + s * nr, d = 0.0;
        for (size_t r = 0; r < nr; r++)
            d = how == VBT_GAIN_NORM_ROW_MAX ? fmax(d, fabs(row[r])) : d + fabs(row[r]);
        if (d > 0)
            for (size_t r = 0; r < nr; r++)
                row[r] /= d;
    }
}

/* ---- vbt gain, from files to GAIN.npy/.tsv/.json ---------------------- */

void vbt_gain_opts_default(vbt_gain_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = VBT_GAIN_CENTRE;
    o->normalize = VBT_GAIN_NORM_NONE;
    o->min_dist_mm = VBT_GAIN_MIN_DIST_MM;
    o->register_centres = 1;
}

const char *vbt_gain_method_name(vbt_gain_method m)
{
    static const char *const names[] = {"centre", "volume", "dipole", "eeg"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : NULL;
}

void vbt_gain_matrix_free(vbt_gain_matrix *g)
{
    if (!g)
        return;
    free(g->gain);
    free(g->row_names);
    free(g->row_pos);
    free(g->region_names);
    free(g->centre_fallback);
    free(g->fallback_mm);
    free(g->parcellation_unused);
    free(g);
}

/* The inputs of one computation, loaded from the paths of the options. */
typedef struct gain_inputs {
    vbt_contacts *ct;
    vbt_connectome *conn;
    vbt_parcellation *parc;
    vbt_surface *surf;
    int *map;            /* dipole: region of each vertex */
    long *col;           /* volume + connectome: column of each parcellation region */
    char **alias;        /* name map, one name per parcellation region */
} gain_inputs;

static void inputs_clear(gain_inputs *in)
{
    free(in->map);
    free(in->col);
    if (in->parc)
        vbt_name_map_free(in->alias, vbt_parcellation_n_regions(in->parc));
    vbt_surface_free(in->surf);
    vbt_parcellation_free(in->parc);
    vbt_connectome_free(in->conn);
    vbt_contacts_free(in->ct);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The inputs each method needs (the CLI checks them first, as usage errors). */
static int check_opts(const vbt_gain_opts *o, vbt_msg *msg)
{
    const char *m = vbt_gain_method_name(o->method);
    if (!m)
        return vbt__fail(msg, VBT_EINVAL, "gain: unknown method %d", (int)o->method);
    if (!o->contacts)
        return vbt__fail(msg, VBT_EINVAL, "gain: no contacts given");
    int ok = o->method == VBT_GAIN_CENTRE   ? o->connectome || (o->parcellation && o->labels)
             : o->method == VBT_GAIN_VOLUME ? o->parcellation && o->labels
             : o->method == VBT_GAIN_DIPOLE ? o->surface && o->region_mapping
                                            : o->connectome != NULL;
    if (!ok)
        return vbt__fail(msg, VBT_EINVAL, "gain: method %s needs %s", m,
                         o->method == VBT_GAIN_CENTRE   ? "a connectome, or a parcellation "
                                                          "and its labels"
                         : o->method == VBT_GAIN_VOLUME ? "a parcellation and its labels"
                         : o->method == VBT_GAIN_DIPOLE ? "a surface and a region mapping"
                                                        : "a connectome");
    if (o->name_map && o->method != VBT_GAIN_DIPOLE &&
        !(o->method == VBT_GAIN_VOLUME && o->connectome))
        return vbt__fail(msg, VBT_EINVAL, "gain: a name map needs method volume and a "
                         "connectome");
    if (!(o->min_dist_mm > 0) || !isfinite(o->min_dist_mm))
        return vbt__fail(msg, VBT_EINVAL, "gain: min_dist_mm must be positive, got %g",
                         o->min_dist_mm);
    if ((unsigned)o->normalize > VBT_GAIN_NORM_ROW_SUM)
        return vbt__fail(msg, VBT_EINVAL, "gain: unknown normalisation %d", (int)o->normalize);
    return VBT_OK;
}

/* Contacts, connectome, parcellation (then the coordinate-system check),
 * surface and region mapping, in that order. */
static int load_inputs(gain_inputs *in, const vbt_gain_opts *o, size_t *nr_map, vbt_msg *msg)
{
    int rc;
    if ((rc = vbt_contacts_load(&in->ct, o->contacts, msg)))
        return rc;
    if (o->connectome && (rc = vbt_connectome_load(&in->conn, o->connectome, msg)))
        return rc;
    if ((o->method == VBT_GAIN_VOLUME || (o->method == VBT_GAIN_CENTRE && !in->conn)) &&
        (rc = vbt_parcellation_load(&in->parc, o->parcellation, o->labels, msg)))
        return rc;
    if (in->parc) {
        const char *vs;
        vbt_parcellation_grid(in->parc, NULL, NULL, NULL, &vs);
        if (vbt_space_compatible(in->ct->space, vs) == 0 && !o->force_space)
            return vbt__fail(msg, VBT_EINVAL, "'%s': contacts in %s space but '%s' is a %s "
                             "volume (different coordinate systems; --force-space to go on "
                             "anyway)", o->contacts, in->ct->space, o->parcellation, vs);
    }
    if (o->method == VBT_GAIN_DIPOLE &&
        ((rc = vbt_surface_load(&in->surf, o->surface, msg)) ||
         (rc = vbt_region_mapping_load(o->region_mapping, in->surf->nv, &in->map, nr_map,
                                       msg))))
        return rc;
    return VBT_OK;
}

/* The number of columns, and for volume + connectome the column of each
 * parcellation region (in->col). */
static int plan_columns(gain_inputs *in, const vbt_gain_opts *o, size_t nr_map, size_t *nr,
                        vbt_msg *msg)
{
    if (o->method == VBT_GAIN_DIPOLE) {
        *nr = nr_map;
        if (in->conn) {
            if (nr_map > in->conn->n)
                return vbt__fail(msg, VBT_EINVAL, "'%s': region index %zu, but '%s' has %zu "
                                 "regions", o->region_mapping, nr_map - 1, o->connectome,
                                 in->conn->n);
            *nr = in->conn->n;
        }
        return VBT_OK;
    }
    if (o->method != VBT_GAIN_VOLUME || !in->conn) {
        *nr = in->parc ? vbt_parcellation_n_regions(in->parc) : in->conn->n;
        return VBT_OK;
    }
    /* Parcellation regions summed into the connectome's columns. */
    size_t np = vbt_parcellation_n_regions(in->parc);
    int rc;
    if (o->name_map && (rc = vbt_name_map_load(o->name_map, in->parc, &in->alias, msg)))
        return rc;
    if (!(in->col = malloc((np + 1) * sizeof *in->col)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    vbt_parcellation_match_connectome(in->parc, in->conn, in->alias, in->col);
    size_t used = 0;
    for (size_t k = 0; k < np; k++)
        used += in->col[k] >= 0;
    if (!used)
        return vbt__fail(msg, VBT_EINVAL, "'%s': no region of the parcellation matches a "
                         "region of '%s' by name (give --name-map)", o->labels, o->connectome);
    *nr = in->conn->n;
    return VBT_OK;
}

/* Column names: the parcellation's regions, else the connectome's, else
 * "region-<r>". */
static void name_columns(const gain_inputs *in, vbt_gain_matrix *g)
{
    for (size_t r = 0; r < g->n_regions; r++) {
        if (in->parc && g->method != VBT_GAIN_DIPOLE && !in->col)
            snprintf(g->region_names[r], VBT_LABEL_MAX, "%s",
                     vbt_parcellation_regions(in->parc)[r].name);
        else if (in->conn)
            snprintf(g->region_names[r], VBT_LABEL_MAX, "%s", in->conn->labels[r]);
        else
            snprintf(g->region_names[r], VBT_LABEL_MAX, "region-%zu", r);
    }
}

/* Volume + connectome: the centres the formula is given (g->fallback_mm):
 * the connectome's, those of the columns without voxels registered onto
 * the volume when asked and worth it (g->registration). */
static int fallback_centres(const gain_inputs *in, const vbt_gain_opts *o, vbt_gain_matrix *g,
                            vbt_msg *msg)
{
    size_t nr = g->n_regions, np = vbt_parcellation_n_regions(in->parc);
    unsigned char *has = calloc(nr + 1, 1);
    if (!has)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    memcpy(g->fallback_mm, in->conn->centres, nr * 3 * sizeof *g->fallback_mm);
    const vbt_region_info *reg = vbt_parcellation_regions(in->parc);
    for (size_t k = 0; k < np; k++)
        if (in->col[k] >= 0 && reg[k].n_voxels)
            has[in->col[k]] = 1;
    size_t n_fallback = 0;
    for (size_t r = 0; r < nr; r++)
        n_fallback += !has[r];
    int rc = VBT_OK;
    if (o->register_centres && n_fallback &&
        !(rc = vbt_centres_register(in->conn->centres, nr, in->parc, in->col, &g->registration,
                                    msg)) &&
        g->registration.registered)
        for (size_t r = 0; r < nr; r++)
            if (!has[r])
                vbt_affine_apply(g->registration.affine, g->fallback_mm + 3 * r,
                                 g->fallback_mm + 3 * r);
    free(has);
    return rc;
}

/* The formula of the method into g->gain (contacts x columns). */
static int apply_formula(const gain_inputs *in, const vbt_gain_opts *o, vbt_gain_matrix *g,
                         vbt_msg *msg)
{
    const vbt_contacts *ct = in->ct;
    size_t nr = g->n_regions;
    double dmin = o->min_dist_mm, *G = g->gain;
    switch (o->method) {
    case VBT_GAIN_CENTRE:
        if (in->conn)
            return vbt_gain_centre(ct->pos, ct->n, in->conn->centres, nr, dmin, G, msg);
        else {
            double *cen = malloc(nr * 3 * sizeof *cen);
            if (!cen)
                return vbt__fail(msg, VBT_ENOMEM, "out of memory");
            for (size_t r = 0; r < nr; r++)
                memcpy(cen + 3 * r, vbt_parcellation_regions(in->parc)[r].centroid_mm,
                       3 * sizeof *cen);
            int rc = vbt_gain_centre(ct->pos, ct->n, cen, nr, dmin, G, msg);
            free(cen);
            return rc;
        }
    case VBT_GAIN_VOLUME:
        if (in->col) {
            int rc = fallback_centres(in, o, g, msg);
            if (rc)
                return rc;
            return vbt_gain_volume_mapped(ct->pos, ct->n, in->parc, in->col, g->fallback_mm,
                                          nr, dmin, G, g->centre_fallback, msg);
        }
        return vbt_gain_volume(ct->pos, ct->n, in->parc, dmin, G, msg);
    case VBT_GAIN_DIPOLE:
        return vbt_gain_dipole(ct->pos, ct->n, in->surf, in->map, nr, dmin, G, msg);
    case VBT_GAIN_EEG:
    default:
        return vbt_gain_eeg(ct->pos, ct->n, in->conn->centres, in->conn->orientations, nr,
                            dmin, G, msg);
    }
}

/* Bipolar rows (when asked), then the row names and positions. */
static int make_rows(const gain_inputs *in, const vbt_gain_opts *o, vbt_gain_matrix *g,
                     vbt_msg *msg)
{
    const vbt_contacts *ct = in->ct;
    size_t *pairs = NULL, npairs = 0, nr = g->n_regions;
    int rc;
    g->n_rows = ct->n;
    if (o->bipolar) {
        if ((rc = vbt_contacts_bipolar(ct, &pairs, &npairs, msg)))
            return rc;
        double *B = malloc(npairs * nr * sizeof *B);
        if (!B) {
            free(pairs);
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        }
        vbt_gain_bipolar(g->gain, nr, pairs, npairs, B);
        free(g->gain);
        g->gain = B;
        g->n_rows = npairs;
    }
    g->row_names = calloc(g->n_rows ? g->n_rows : 1, sizeof *g->row_names);
    g->row_pos = malloc((g->n_rows ? g->n_rows : 1) * 3 * sizeof *g->row_pos);
    if (!g->row_names || !g->row_pos) {
        free(pairs);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    for (size_t r = 0; r < g->n_rows; r++) {
        size_t a = pairs ? pairs[2 * r] : r, b = pairs ? pairs[2 * r + 1] : r;
        if (pairs)
            snprintf(g->row_names[r], sizeof g->row_names[r], "%s-%s", ct->labels[a],
                     ct->labels[b]);
        else
            snprintf(g->row_names[r], sizeof g->row_names[r], "%s", ct->labels[a]);
        for (int d = 0; d < 3; d++)
            g->row_pos[3 * r + d] = 0.5 * (ct->pos[3 * a + d] + ct->pos[3 * b + d]);
    }
    free(pairs);
    return VBT_OK;
}

/* Volume + connectome: the parcellation regions matched to no column. */
static int list_unused(const gain_inputs *in, vbt_gain_matrix *g, vbt_msg *msg)
{
    size_t np = vbt_parcellation_n_regions(in->parc), n = 0;
    for (size_t k = 0; k < np; k++)
        n += in->col[k] < 0;
    g->parcellation_unused = calloc(n ? n : 1, sizeof *g->parcellation_unused);
    if (!g->parcellation_unused)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    for (size_t k = 0; k < np; k++)
        if (in->col[k] < 0)
            snprintf(g->parcellation_unused[g->n_parcellation_unused++], VBT_LABEL_MAX, "%s",
                     vbt_parcellation_regions(in->parc)[k].name);
    for (size_t r = 0; r < g->n_regions; r++)
        g->n_centre_fallback += g->centre_fallback[r] != 0;
    return VBT_OK;
}

int vbt_gain_matrix_compute(vbt_gain_matrix **out, const vbt_gain_opts *o, vbt_msg *msg)
{
    if (!out || !o)
        return vbt__fail(msg, VBT_EINVAL, "gain: NULL argument");
    *out = NULL;
    int rc = check_opts(o, msg);
    if (rc)
        return rc;
    gain_inputs in = {0};
    vbt_gain_matrix *g = calloc(1, sizeof *g);
    size_t nr_map = 0;
    if (!g) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto fail;
    }
    g->method = o->method;
    g->bipolar = o->bipolar != 0;
    g->normalize = o->normalize;
    g->min_dist_mm = o->min_dist_mm;
    g->normals_computed = -1;
    if ((rc = load_inputs(&in, o, &nr_map, msg)) ||
        (rc = plan_columns(&in, o, nr_map, &g->n_regions, msg)))
        goto fail;
    snprintf(g->contacts_space, sizeof g->contacts_space, "%s", in.ct->space);
    if (in.surf)
        g->normals_computed = in.surf->normals_computed;
    size_t nr = g->n_regions;
    g->region_names = calloc(nr ? nr : 1, sizeof *g->region_names);
    size_t ncells = in.ct->n * nr;
    g->gain = malloc((ncells ? ncells : 1) * sizeof *g->gain);
    if (in.col) {
        g->centre_fallback = calloc(nr ? nr : 1, 1);
        g->fallback_mm = malloc((nr ? nr : 1) * 3 * sizeof *g->fallback_mm);
    }
    if (!g->region_names || !g->gain || (in.col && (!g->centre_fallback || !g->fallback_mm))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto fail;
    }
    name_columns(&in, g);
    double t0 = now_s();
    if ((rc = apply_formula(&in, o, g, msg)))
        goto fail;
    g->wall_s = now_s() - t0;
    if ((rc = make_rows(&in, o, g, msg)))
        goto fail;
    vbt_gain_normalize_rows(g->gain, g->n_rows, nr, o->normalize);
    for (size_t k = 0; k < g->n_rows * nr; k++)
        if (!isfinite(g->gain[k])) {
            rc = vbt__fail(msg, VBT_ENUMERIC, "gain entry (%zu, %zu) is not finite", k / nr,
                           k % nr);
            goto fail;
        }
    if (in.col && (rc = list_unused(&in, g, msg)))
        goto fail;
    inputs_clear(&in);
    *out = g;
    return VBT_OK;
fail:
    inputs_clear(&in);
    vbt_gain_matrix_free(g);
    return rc;
}

/* path with the extension of its base name replaced by ext (malloc'd). */
static char *sibling_path(const char *path, const char *ext)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t keep = dot && dot != base ? (size_t)(dot - path) : strlen(path);
    char *s = malloc(keep + strlen(ext) + 1);
    if (s) {
        memcpy(s, path, keep);
        strcpy(s + keep, ext);
    }
    return s;
}

/* GAIN.tsv: row, name, x, y, z. */
static int sensor_table(const vbt_gain_matrix *g, char **text, size_t *len, vbt_msg *msg)
{
    static const char head[] = "row\tname\tx\ty\tz\n";
    size_t cap = sizeof head, n = sizeof head - 1;
    for (size_t r = 0; r < g->n_rows; r++) {
        const double *x = g->row_pos + 3 * r;
        int k = snprintf(NULL, 0, "%zu\t%s\t%.6f\t%.6f\t%.6f\n", r, g->row_names[r], x[0],
                         x[1], x[2]);
        if (k < 0)
            return vbt__fail(msg, VBT_EINVAL, "gain: sensor %zu cannot be formatted", r);
        cap += (size_t)k;
    }
    char *s = malloc(cap);
    if (!s)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    memcpy(s, head, sizeof head);
    for (size_t r = 0; r < g->n_rows; r++) {
        const double *x = g->row_pos + 3 * r;
        n += (size_t)snprintf(s + n, cap - n, "%zu\t%s\t%.6f\t%.6f\t%.6f\n", r,
                              g->row_names[r], x[0], x[1], x[2]);
    }
    *text = s;
    *len = n;
    return VBT_OK;
}

/* The "gain" member of GAIN.json. */
static void describe(const vbt_gain_matrix *g, const char *tsv, cJSON *o)
{
    static const char *const formulas[] = {
        "1/(4 pi |s-c_r|^2)", "sum_v V_vox/(4 pi |s-v|^2)",
        "sum_v A_v n_v.(s-x_v)/(4 pi |s-x_v|^3)",
        "Q_r.(s'-c_r)/(4 pi |s'-c_r|^3), s' on a sphere R = 1.05125 max|c_r - c|"};
    static const char *const norms[] = {"none", "row-max", "row-sum"};
    cJSON_AddStringToObject(o, "method", vbt_gain_method_name(g->method));
    cJSON_AddStringToObject(o, "formula", formulas[g->method]);
    cJSON_AddBoolToObject(o, "bipolar", g->bipolar);
    cJSON_AddStringToObject(o, "normalize", norms[g->normalize]);
    cJSON_AddNumberToObject(o, "min_distance_mm", g->min_dist_mm);
    cJSON_AddStringToObject(o, "contacts_space", g->contacts_space);
    if (g->normals_computed >= 0)
        cJSON_AddBoolToObject(o, "normals_computed", g->normals_computed);
    cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray((double[2]){(double)g->n_rows,
                                                                           (double)g->n_regions},
                                                               2));
    cJSON_AddStringToObject(o, "axes", "sensor, region");
    /* beside the .npy: its name alone (no folder, no absolute path) */
    const char *tsv_name = strrchr(tsv, '/');
    cJSON_AddStringToObject(o, "sensors_table", tsv_name ? tsv_name + 1 : tsv);
    cJSON *regs = cJSON_AddArrayToObject(o, "regions");
    for (size_t r = 0; r < g->n_regions; r++)
        cJSON_AddItemToArray(regs, cJSON_CreateString(g->region_names[r]));
    if (g->centre_fallback) {
        /* Which connectome regions had no voxels (centre formula), and which
         * parcellation regions were left out. */
        cJSON *cf = cJSON_AddArrayToObject(o, "centre_fallback");
        for (size_t r = 0; r < g->n_regions; r++)
            if (g->centre_fallback[r])
                cJSON_AddItemToArray(cf, cJSON_CreateString(g->region_names[r]));
        if (g->n_centre_fallback) {
            /* where their point sources lie, and how the centres were placed */
            cJSON *fp = cJSON_AddArrayToObject(o, "centre_fallback_mm");
            for (size_t r = 0; r < g->n_regions; r++)
                if (g->centre_fallback[r])
                    cJSON_AddItemToArray(fp, cJSON_CreateDoubleArray(g->fallback_mm + 3 * r, 3));
            cJSON *cr = cJSON_AddObjectToObject(o, "centres");
            const vbt_centre_registration *rg = &g->registration;
            cJSON_AddStringToObject(cr, "placed", rg->registered ? "registered" : "as given");
            if (rg->pairs)
                cJSON_AddNumberToObject(cr, "regions_fitted", (double)rg->pairs);
            if (rg->pairs && isfinite(rg->rms_fit_mm)) {
                cJSON_AddNumberToObject(cr, "rms_mm_as_given", rg->rms_given_mm);
                cJSON_AddNumberToObject(cr, "rms_mm_registered", rg->rms_fit_mm);
                cJSON_AddItemToObject(cr, "affine", cJSON_CreateDoubleArray(rg->affine, 12));
            }
        }
        cJSON *un = cJSON_AddArrayToObject(o, "parcellation_unused");
        for (size_t k = 0; k < g->n_parcellation_unused; k++)
            cJSON_AddItemToArray(un, cJSON_CreateString(g->parcellation_unused[k]));
    }
    cJSON_AddNumberToObject(o, "wall_s", g->wall_s);
}

/* GAIN.json: provenance_json's members, then "gain"; pretty-printed with a
 * trailing newline. */
static int provenance_text(const vbt_gain_matrix *g, const char *tsv,
                           const char *provenance_json, char **text, size_t *len,
                           vbt_msg *msg)
{
    cJSON *root = provenance_json ? cJSON_Parse(provenance_json) : cJSON_CreateObject();
    if (provenance_json && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vbt__fail(msg, VBT_EINVAL, "gain: the provenance is not a JSON object");
    }
    cJSON *o = root ? cJSON_AddObjectToObject(root, "gain") : NULL;
    if (o)
        describe(g, tsv, o);
    char *s = o ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    size_t n = s ? strlen(s) : 0;
    char *t = s ? realloc(s, n + 2) : NULL;
    if (!t) {
        free(s);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *text = t;
    *len = n + 1;
    return VBT_OK;
}

int vbt_gain_matrix_write(const vbt_gain_matrix *g, const char *npy_path,
                          const char *provenance_json, int overwrite, vbt_msg *msg)
{
    if (!g || !npy_path)
        return vbt__fail(msg, VBT_EINVAL, "gain: NULL argument");
    if (!vbt_gain_method_name(g->method) || (unsigned)g->normalize > VBT_GAIN_NORM_ROW_SUM)
        return vbt__fail(msg, VBT_EINVAL, "gain: unknown method or normalisation");
    size_t olen = strlen(npy_path);
    if (olen < 5 || strcmp(npy_path + olen - 4, ".npy") != 0)
        return vbt__fail(msg, VBT_EINVAL, "gain: the output must name a .npy file, got '%s'",
                         npy_path);
    char *tsv = sibling_path(npy_path, ".tsv"), *json = sibling_path(npy_path, ".json");
    char *ttext = NULL, *jtext = NULL;
    size_t tlen = 0, jlen = 0;
    int rc;
    if (!tsv || !json)
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
    else if (!(rc = sensor_table(g, &ttext, &tlen, msg)) &&
             !(rc = provenance_text(g, tsv, provenance_json, &jtext, &jlen, msg))) {
        size_t shape[2] = {g->n_rows, g->n_regions};
        if (!(rc = vbt_npy_write(npy_path, g->gain, 2, shape, overwrite, msg)) &&
            !(rc = vbt_file_write_atomic(tsv, ttext, tlen, overwrite, msg)))
            rc = vbt_file_write_atomic(json, jtext, jlen, overwrite, msg);
    }
    free(ttext);
    free(jtext);
    free(tsv);
    free(json);
    return rc;
}
