/* gain.c -- gain matrices (centre, volume, surface dipole, EEG sphere) and
 * TVB surfaces / region mappings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectome_archive.h"
#include "cx_internal.h"
#include "vbt_gain.h"

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
        const double d2min = min_dist_mm * min_dist_mm;
        for (size_t r = 0; r < nr; r++) {
            if (fallback)
                fallback[r] = !hit[r] && centres;
            if (hit[r] || !centres)
                continue;
            for (size_t s = 0; s < ns; s++)
                gain[s * nr + r] = vol * centre_term(sensors + 3 * s, centres + 3 * r, d2min);
        }
    }
    free(gp);
    free(hit);
    return rc;
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

int vbt_gain_eeg(const double *sensors, size_t ns, const double *centres,
                 const double *orientations, size_t nr, double min_dist_mm, double *gain,
                 vbt_msg *msg)
{
    int rc = check_args(sensors, ns, nr, min_dist_mm, gain, msg);
    if (rc || (rc = check_finite(centres, 3 * nr, "region centre", msg)) ||
        (orientations && (rc = check_finite(orientations, 3 * nr, "orientation", msg))))
        return rc;
    double c[3] = {0, 0, 0}, R = 0;
    for (size_t r = 0; r < nr; r++)
        for (int d = 0; d < 3; d++)
            c[d] += centres[3 * r + d] / (double)nr;
    for (size_t r = 0; r < nr; r++) {
        double dx = centres[3 * r] - c[0], dy = centres[3 * r + 1] - c[1],
               dz = centres[3 * r + 2] - c[2];
        R = fmax(R, sqrt(dx * dx + dy * dy + dz * dz));
    }
    R *= VBT_GAIN_EEG_RADIUS_FACTOR;
    for (size_t s = 0; s < ns; s++) {
        const double *q = sensors + 3 * s;
        double len = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
        if (!(len > 0))
            return vbt__fail(msg, VBT_EINVAL, "gain: EEG sensor %zu is at the origin and has "
                             "no direction", s + 1);
        double sp[3] = {R * q[0] / len + c[0], R * q[1] / len + c[1], R * q[2] / len + c[2]};
        for (size_t r = 0; r < nr; r++) {
            const double *x = centres + 3 * r;
            double o[3];
            if (orientations) {
                memcpy(o, orientations + 3 * r, sizeof o);
            } else {
                double rad[3] = {x[0] - c[0], x[1] - c[1], x[2] - c[2]};
                double rl = sqrt(rad[0] * rad[0] + rad[1] * rad[1] + rad[2] * rad[2]);
                for (int d = 0; d < 3; d++)
                    o[d] = rl > 0 ? rad[d] / rl : 0.0;
            }
            double d[3] = {sp[0] - x[0], sp[1] - x[1], sp[2] - x[2]};
            double dist = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            if (dist < min_dist_mm)
                dist = min_dist_mm;
            gain[s * nr + r] = (o[0] * d[0] + o[1] * d[1] + o[2] * d[2]) /
                               (FOUR_PI * dist * dist * dist);
        }
    }
    return VBT_OK;
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
