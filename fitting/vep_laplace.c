/* vep_laplace.c -- Laplace approximation at a mode and Pareto-smoothed
 * importance sampling (Vehtari, Simpson, Gelman, Yao & Gabry 2024, JMLR
 * 25(72); generalised Pareto fit of Zhang & Stephens 2009, Technometrics
 * 51(3), with the weakly informative adjustment of the R package loo). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vbt_rng.h"
#include "vep_internal.h"

/* Zhang & Stephens (2009) estimate of (k, sigma) for exceedances x[0..n)
 * sorted ascending, all > 0; as loo::gpdfit (30 + sqrt(n) grid points,
 * prior 3, k shrunk towards 0.5 by n / (n + 10)). */
static void gpd_fit(const double *x, size_t n, double *k_out, double *sigma_out)
{
    size_t mgrid = 30 + (size_t)floor(sqrt((double)n));
    double xstar = x[(size_t)floor((double)n / 4.0 + 0.5) - 1]; /* n >= 5 */
    double xmax = x[n - 1];
    double *th = malloc(2 * mgrid * sizeof *th);
    if (!th) {
        *k_out = INFINITY;
        *sigma_out = NAN;
        return;
    }
    double *lt = th + mgrid, lmax = -HUGE_VAL;
    for (size_t j = 0; j < mgrid; j++) {
        th[j] = 1.0 / xmax + (1.0 - sqrt((double)mgrid / ((double)j + 0.5))) / 3.0 / xstar;
        double kk = 0;
        for (size_t i = 0; i < n; i++)
            kk += log1p(-th[j] * x[i]);
        kk /= (double)n;
        lt[j] = (double)n * (log(-th[j] / kk) - kk - 1.0);
        if (!isfinite(lt[j]))
            lt[j] = -HUGE_VAL;
        lmax = fmax(lmax, lt[j]);
    }
    double wsum = 0, thhat = 0;
    for (size_t j = 0; j < mgrid; j++) {
        double wj = isfinite(lt[j]) ? exp(lt[j] - lmax) : 0.0;
        wsum += wj;
        thhat += wj * th[j];
    }
    thhat /= wsum;
    double k = 0;
    for (size_t i = 0; i < n; i++)
        k += log1p(-thhat * x[i]);
    k /= (double)n;
    double sigma = -k / thhat;
    k = ((double)n * k + 10.0 * 0.5) / ((double)n + 10.0);
    free(th);
    *k_out = isfinite(k) ? k : INFINITY;
    *sigma_out = sigma;
}

typedef struct { double v; size_t i; } pair;

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->v != y->v)
        return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i);
}

int vbt_psis(double *lw, size_t n, double *khat)
{
    if (!lw || n < 5)
        return VBT_EINVAL;
    double mx = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        if (isnan(lw[i]))
            lw[i] = -HUGE_VAL;
        mx = fmax(mx, lw[i]);
    }
    if (!isfinite(mx))
        return VBT_ENUMERIC;
    for (size_t i = 0; i < n; i++)
        lw[i] -= mx;
    size_t M = (size_t)ceil(fmin(0.2 * (double)n, 3.0 * sqrt((double)n)));
    *khat = INFINITY;
    pair *p = malloc(n * sizeof *p);
    double *x = malloc(M * sizeof *x);
    if (!p || !x) {
        free(p);
        free(x);
        return VBT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (pair){lw[i], i};
    qsort(p, n, sizeof *p, cmp_pair);
    if (M >= 5 && n > M) {
        double cut = p[n - M - 1].v; /* largest ratio outside the tail */
        double ecut = exp(cut);
        int ok = isfinite(cut);
        for (size_t j = 0; j < M && ok; j++)
            x[j] = exp(p[n - M + j].v) - ecut;
        if (ok && x[M - 1] > 0) {
            /* drop ties with the cut at the bottom of the tail: the fit needs x > 0 */
            size_t first = 0;
            while (first < M && !(x[first] > 0))
                first++;
            double k, sigma;
            if (M - first >= 5) {
                gpd_fit(x + first, M - first, &k, &sigma);
                *khat = k;
                if (isfinite(k) && sigma > 0) {
                    for (size_t j = 0; j < M; j++) {
                        double q = ((double)j + 0.5) / (double)M, v;
                        if (fabs(k) > 1e-12)
                            v = sigma * expm1(-k * log1p(-q)) / k;
                        else
                            v = -sigma * log1p(-q);
                        double lv = log(v + ecut);
                        lw[p[n - M + j].i] = fmin(lv, 0.0); /* truncate at the raw maximum */
                    }
                }
            } else {
                *khat = 0.0; /* a flat tail: no heavy tail to smooth */
            }
        } else if (ok) {
            *khat = 0.0;
        }
    }
    free(p);
    free(x);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += exp(lw[i]);
    double ls = log(s);
    for (size_t i = 0; i < n; i++)
        lw[i] -= ls;
    return VBT_OK;
}

/* In-place lower Cholesky of a symmetric positive definite A (n x n, row
 * major; the upper triangle is left as is).  -1 when not positive definite. */
int vbt__cholesky(double *A, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (size_t k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0))
            return -1;
        d = sqrt(d);
        A[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            const double *ri = A + i * n, *rj = A + j * n;
            for (size_t k = 0; k < j; k++)
                s -= ri[k] * rj[k];
            A[i * n + j] = s / d;
        }
    }
    return 0;
}

/* Negative Hessian of the log posterior at theta by central differences of
 * the exact gradient, symmetrised: error O(h^2 f''') with rounding
 * O(eps |g| / h); h = 1e-5 balances them for unit-scale unconstrained
 * parameters.  th, gp, gm: np scratch each.  Returns 1 + the index of the
 * first parameter whose perturbed gradient is not finite, else 0. */
size_t vbt__vep_neg_hessian(vbt_vep *m, const double *theta, const double *g0, double h,
                            double *H, double *th, double *gp, double *gm)
{
    size_t np = vbt_vep_n_params(m);
    memcpy(th, theta, np * sizeof *th);
    double lp;
    for (size_t j = 0; j < np; j++) {
        th[j] = theta[j] + h;
        int s1 = vbt_vep_logp(m, th, &lp, gp), s2 = 0;
        if (!g0) {
            th[j] = theta[j] - h;
            s2 = vbt_vep_logp(m, th, &lp, gm);
        }
        th[j] = theta[j];
        if (s1 || s2)
            return j + 1;
        if (g0)
            for (size_t i = 0; i < np; i++)
                H[i * np + j] = -(gp[i] - g0[i]) / h;
        else
            for (size_t i = 0; i < np; i++)
                H[i * np + j] = -(gp[i] - gm[i]) / (2.0 * h);
    }
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < i; j++) {
            double a = 0.5 * (H[i * np + j] + H[j * np + i]);
            H[i * np + j] = H[j * np + i] = a;
        }
    return 0;
}

int vbt_vep_laplace(vbt_vep *m, const double *theta_map, size_t n_draws, uint64_t seed,
                    double *draws, double *log_w, vbt_vep_laplace_result *res, vbt_msg *msg)
{
    if (!m || !theta_map || !draws || !res || n_draws == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep laplace: NULL argument or no draws");
    size_t np = vbt_vep_n_params(m);
    double *H = malloc(np * np * sizeof *H);
    double *th = malloc(np * sizeof *th), *gp = malloc(np * sizeof *gp),
           *gm = malloc(np * sizeof *gm), *z = malloc(np * sizeof *z);
    double *lw = log_w ? log_w : malloc(n_draws * sizeof *lw);
    int st = VBT_OK;
    if (!H || !th || !gp || !gm || !z || !lw) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep laplace: out of memory (%zu parameters)", np);
        goto done;
    }
    const double h = 1e-5;
    res->hess_h = h;
    size_t bad = vbt__vep_neg_hessian(m, theta_map, NULL, h, H, th, gp, gm);
    if (bad) {
        st = vbt__fail(msg, VBT_ENUMERIC, "vep laplace: gradient not finite near the mode (%s)",
                       vbt_vep_param_name(m, bad - 1));
        goto done;
    }
    if (vbt__cholesky(H, np) != 0) {
        st = vbt__fail(msg, VBT_ENUMERIC,
                       "vep laplace: the negative Hessian is not positive definite (not a mode?)");
        goto done;
    }
    double sumlog = 0;
    for (size_t i = 0; i < np; i++)
        sumlog += log(H[i * np + i]);
    res->log_det_cov = -2.0 * sumlog;
    double lpmap, lp;
    if (vbt_vep_logp(m, theta_map, &lpmap, NULL) != VBT_OK) {
        st = vbt__fail(msg, VBT_ENUMERIC, "vep laplace: log posterior not finite at the mode");
        goto done;
    }
    vbt_rng r;
    vbt_rng_init(&r, seed, 0);
    for (size_t d = 0; d < n_draws; d++) {
        vbt_rng_normal(&r, z, np);
        double zz = 0;
        for (size_t i = 0; i < np; i++)
            zz += z[i] * z[i];
        /* solve L^T v = z: v ~ N(0, (L L^T)^-1) */
        double *v = draws + d * np;
        for (size_t i = np; i-- > 0;) {
            double s = z[i];
            for (size_t k = i + 1; k < np; k++)
                s -= H[k * np + i] * v[k];
            v[i] = s / H[i * np + i];
        }
        for (size_t i = 0; i < np; i++)
            v[i] += theta_map[i];
        /* log q relative to its mode and log p relative to lp(map): the
         * constants cancel in the normalised weights */
        double lq = -0.5 * zz;
        vbt_vep_logp(m, v, &lp, NULL);
        lw[d] = (isfinite(lp) ? lp - lpmap : -HUGE_VAL) - lq;
    }
    if (n_draws >= 5) {
        if (vbt_psis(lw, n_draws, &res->khat) != VBT_OK) {
            st = vbt__fail(msg, VBT_ENUMERIC, "vep laplace: no draw has a finite log posterior");
            goto done;
        }
    } else {
        res->khat = NAN;
    }
    double s2 = 0;
    for (size_t d = 0; d < n_draws; d++)
        s2 += exp(2.0 * lw[d]);
    res->ess = n_draws >= 5 ? 1.0 / s2 : NAN;
done:
    free(H);
    free(th);
    free(gp);
    free(gm);
    free(z);
    if (lw != log_w)
        free(lw);
    return st;
}
