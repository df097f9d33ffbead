/* advi.c -- ADVI, mean-field and full-rank (see vbt_advi.h).
 *
 * q(theta) = N(mu, S S^T), S = diag(exp(omega)) (mean-field) or a lower
 * triangular L (full-rank).  With theta = mu + S eta, eta ~ N(0, I):
 *   ELBO = E_q[log p(theta)] + log|det S| + const,
 *   d/dmu = E[g],  d/domega_i = E[g_i S_ii eta_i] + 1,
 *   d/dL_ij = E[g_i eta_j] + [i == j] / L_ii,   g = grad log p(theta).
 * Step sizes follow Stan: rho_k = eta k^(-1/2 + 1e-16) / (1 + sqrt(s_k)),
 * s_k = 0.1 g_k^2 + 0.9 s_{k-1} (s_1 = g_1^2), per coordinate.  Every
 * eval_elbo iterations the ELBO is estimated with elbo_samples draws; the
 * run stops when the mean or the median of the recent relative changes is
 * below tol_rel_obj.  q starts narrow (sd 0.1) around the given point, and
 * an iteration whose every draw leaves the support halves q's spread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_advi.h"
#include "vbt_rng.h"

void vbt_advi_opts_default(vbt_advi_opts *o)
{
    o->family = VBT_ADVI_MEANFIELD;
    o->max_iter = 10000;
    o->grad_samples = 1;
    o->elbo_samples = 100;
    o->eval_elbo = 100;
    o->eta = 0.1;
    o->tol_rel_obj = 0.01;
    o->seed = 0;
}

/* theta = mu + S eta. */
static void transform(size_t n, vbt_advi_family fam, const double *mu, const double *omega,
                      const double *L, const double *eta, double *theta)
{
    for (size_t i = 0; i < n; i++) {
        double v = mu[i];
        if (fam == VBT_ADVI_MEANFIELD) {
            v += exp(omega[i]) * eta[i];
        } else {
            for (size_t j = 0; j <= i; j++)
                v += L[i * n + j] * eta[j];
        }
        theta[i] = v;
    }
}

static double log_det(size_t n, vbt_advi_family fam, const double *omega, const double *L)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += fam == VBT_ADVI_MEANFIELD ? omega[i] : log(fabs(L[i * n + i]));
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int vbt_advi(vbt_logp_fn logp, void *ctx, size_t n, const vbt_advi_opts *o_in, double *mu,
             double *scale, vbt_advi_result *res, vbt_msg *msg)
{
    vbt_advi_opts o;
    if (!logp || !mu || !scale || !res || n == 0)
        return vbt__fail(msg, VBT_EINVAL, "advi: NULL argument or zero dimension");
    if (o_in)
        o = *o_in;
    else
        vbt_advi_opts_default(&o);
    if (o.grad_samples == 0 || o.elbo_samples == 0 || o.eval_elbo == 0 || !(o.eta > 0) ||
        !(o.tol_rel_obj > 0))
        return vbt__fail(msg, VBT_EINVAL, "advi: bad options");
    const int full = o.family == VBT_ADVI_FULLRANK;
    const size_t nq = full ? n * n : n;       /* scale parameters */
    double *omega = calloc(n, sizeof *omega), *L = calloc(full ? n * n : 1, sizeof *L);
    double *g_mu = malloc(n * sizeof *g_mu), *g_s = malloc(nq * sizeof *g_s);
    double *s_mu = calloc(n, sizeof *s_mu), *s_s = calloc(nq, sizeof *s_s);
    double *eta = malloc(n * sizeof *eta), *theta = malloc(n * sizeof *theta);
    double *grad = malloc(n * sizeof *grad);
    double hist[64];
    size_t nh = 0;
    int st = VBT_OK;
    if (!omega || !L || !g_mu || !g_s || !s_mu || !s_s || !eta || !theta || !grad) {
        st = vbt__fail(msg, VBT_ENOMEM, "advi: out of memory");
        goto out;
    }
    /* Start narrow (sd 0.1 on the unconstrained scale): wide draws from a
     * start at a mode would leave the region where stiff models are finite. */
    for (size_t i = 0; i < n; i++) {
        if (full)
            L[i * n + i] = 0.1;
        else
            omega[i] = log(0.1);
    }
    size_t failed_in_a_row = 0;
    vbt_rng rng, erng;
    vbt_rng_init(&rng, o.seed, 0);
    vbt_rng_init(&erng, o.seed, 1);
    double prev_elbo = NAN;
    memset(res, 0, sizeof *res);
    for (size_t k = 1; k <= o.max_iter; k++) {
        memset(g_mu, 0, n * sizeof *g_mu);
        memset(g_s, 0, nq * sizeof *g_s);
        size_t used = 0;
        for (size_t m = 0; m < o.grad_samples; m++) {
            double lp;
            vbt_rng_normal(&rng, eta, n);
            transform(n, o.family, mu, omega, L, eta, theta);
            if (logp(ctx, theta, &lp, grad) != 0 || !isfinite(lp))
                continue;
            used++;
            for (size_t i = 0; i < n; i++) {
                g_mu[i] += grad[i];
                if (!full)
                    g_s[i] += grad[i] * exp(omega[i]) * eta[i];
                else
                    for (size_t j = 0; j <= i; j++)
                        g_s[i * n + j] += grad[i] * eta[j];
            }
        }
        if (used == 0) {
            /* Every draw left the support: halve q's spread and try again. */
            if (++failed_in_a_row > 50) {
                st = vbt__fail(msg, VBT_ENUMERIC,
                               "advi: the log density failed at every draw of iteration %zu", k);
                goto out;
            }
            for (size_t q = 0; q < nq; q++) {
                if (full)
                    L[q] *= 0.5;
                else
                    omega[q] -= log(2.0);
            }
            continue;
        }
        failed_in_a_row = 0;
        /* Average, add the entropy gradient, take Stan's adaptive step. */
        const double rho0 = o.eta * pow((double)k, -0.5 + 1e-16);
        for (size_t i = 0; i < n; i++) {
            double g = g_mu[i] / (double)used;
            s_mu[i] = k == 1 ? g * g : 0.1 * g * g + 0.9 * s_mu[i];
            mu[i] += rho0 / (1.0 + sqrt(s_mu[i])) * g;
        }
        for (size_t q = 0; q < nq; q++) {
            size_t i = full ? q / n : q, j = full ? q % n : q;
            if (full && j > i)
                continue;
            double g = g_s[q] / (double)used;
            if (!full)
                g += 1.0;
            else if (i == j)
                g += 1.0 / L[q];
            s_s[q] = k == 1 ? g * g : 0.1 * g * g + 0.9 * s_s[q];
            double step = rho0 / (1.0 + sqrt(s_s[q])) * g;
            if (full)
                L[q] += step;
            else
                omega[q] += step;
        }
        res->iterations = k;
        if (k % o.eval_elbo != 0 && k != o.max_iter)
            continue;
        /* ELBO estimate with its own stream: it does not perturb the fit. */
        double sum = 0.0;
        size_t ok = 0;
        for (size_t m = 0; m < o.elbo_samples; m++) {
            double lp;
            vbt_rng_normal(&erng, eta, n);
            transform(n, o.family, mu, omega, L, eta, theta);
            if (logp(ctx, theta, &lp, grad) == 0 && isfinite(lp)) {
                sum += lp;
                ok++;
            }
        }
        double elbo = (ok ? sum / (double)ok : -HUGE_VAL) + log_det(n, o.family, omega, L);
        res->elbo = elbo;
        if (isfinite(prev_elbo) && isfinite(elbo)) {
            double rel = fabs((elbo - prev_elbo) / elbo);
            hist[nh++ % 64] = rel;
            size_t cnt = nh < 64 ? nh : 64;
            double mean = 0.0, sorted[64];
            for (size_t i = 0; i < cnt; i++) {
                mean += hist[i];
                sorted[i] = hist[i];
            }
            mean /= (double)cnt;
            qsort(sorted, cnt, sizeof sorted[0], cmp_double);
            double median = sorted[cnt / 2];
            if (mean < o.tol_rel_obj || median < o.tol_rel_obj) {
                res->converged = 1;
                break;
            }
        }
        prev_elbo = elbo;
    }
    if (full)
        memcpy(scale, L, n * n * sizeof *scale);
    else
        for (size_t i = 0; i < n; i++)
            scale[i] = exp(omega[i]);
out:
    free(omega);
    free(L);
    free(g_mu);
    free(g_s);
    free(s_mu);
    free(s_s);
    free(eta);
    free(theta);
    free(grad);
    return st;
}

void vbt_advi_draw(size_t n, vbt_advi_family family, const double *mu, const double *scale,
                   size_t n_draws, uint64_t seed, uint64_t stream, double *draws)
{
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    for (size_t d = 0; d < n_draws; d++) {
        double *th = draws + d * n;
        vbt_rng_normal(&r, th, n);          /* eta, then transformed in place */
        for (size_t i = n; i-- > 0;) {
            double v = mu[i];
            if (family == VBT_ADVI_MEANFIELD) {
                v += scale[i] * th[i];
            } else {
                for (size_t j = 0; j <= i; j++)
                    v += scale[i * n + j] * th[j];
            }
            th[i] = v;
        }
    }
}
