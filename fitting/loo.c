/* loo.c -- PSIS-LOO and WAIC from a draws x observations matrix of
 * pointwise log-likelihoods.
 *
 * PSIS-LOO: for observation i the raw importance ratios of leaving it out
 * are r_s = 1 / p(y_i | theta_s); their log is smoothed by vbt_psis()
 * (generalised Pareto on the largest ratios, k-hat reported), and
 * elpd_i = log sum_s w_s p(y_i | theta_s) with the normalised smoothed
 * weights.  WAIC: lppd_i - p_waic_i with p_waic_i the variance over draws of
 * log p(y_i | theta_s).  Standard errors are sqrt(N) times the standard
 * deviation of the pointwise values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_loo.h"
#include "vbt_vep.h"

static double log_sum_exp(const double *v, size_t n)
{
    double m = -HUGE_VAL;
    for (size_t i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    if (!isfinite(m))
        return m;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += exp(v[i] - m);
    return m + log(s);
}

static void mean_sd(const double *v, size_t n, double *mean, double *sd)
{
    double m = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = v[i] - m;
        m += d / (double)(i + 1);
        q += d * (v[i] - m);
    }
    *mean = m;
    *sd = n > 1 ? sqrt(q / (double)(n - 1)) : 0.0;
}

int vbt_loo(const double *ll, size_t S, size_t N, double *elpd_i, double *k,
            vbt_loo_result *res, vbt_msg *msg)
{
    if (!ll || !res || S < 10 || N == 0)
        return vbt__fail(msg, VBT_EINVAL, "loo: need at least 10 draws and 1 observation");
    for (size_t i = 0; i < S * N; i++)
        if (!isfinite(ll[i]))
            return vbt__fail(msg, VBT_ENUMERIC,
                             "loo: log-likelihood of draw %zu, observation %zu is not finite",
                             i / N, i % N);
    double *col = malloc(S * sizeof *col), *lw = malloc(S * sizeof *lw);
    double *eloo = malloc(N * sizeof *eloo), *ewaic = malloc(N * sizeof *ewaic);
    double *lppd = malloc(N * sizeof *lppd);
    if (!col || !lw || !eloo || !ewaic || !lppd) {
        free(col);
        free(lw);
        free(eloo);
        free(ewaic);
        free(lppd);
        return vbt__fail(msg, VBT_ENOMEM, "loo: out of memory");
    }
    memset(res, 0, sizeof *res);
    res->khat_max = -HUGE_VAL;
    const double logS = log((double)S);
    int st = VBT_OK;
    for (size_t i = 0; i < N && !st; i++) {
        for (size_t s = 0; s < S; s++) {
            col[s] = ll[s * N + i];
            lw[s] = -col[s];
        }
        double kh;
        st = vbt_psis(lw, S, &kh);
        if (st) {
            st = vbt__fail(msg, st, "loo: Pareto smoothing failed for observation %zu", i);
            break;
        }
        for (size_t s = 0; s < S; s++)
            lw[s] += col[s];
        eloo[i] = log_sum_exp(lw, S);
        lppd[i] = log_sum_exp(col, S) - logS;
        double m, sd;
        mean_sd(col, S, &m, &sd);
        ewaic[i] = lppd[i] - sd * sd;
        if (k)
            k[i] = kh;
        if (elpd_i)
            elpd_i[i] = eloo[i];
        res->khat_max = kh > res->khat_max ? kh : res->khat_max;
        if (kh < 0.5)
            res->n_k_ok++;
        else if (kh < 0.7)
            res->n_k_warn++;
        else
            res->n_k_bad++;
    }
    if (!st) {
        double m, sd, lp = 0.0;
        mean_sd(eloo, N, &m, &sd);
        res->elpd_loo = m * (double)N;
        res->se_elpd_loo = sqrt((double)N) * sd;
        for (size_t i = 0; i < N; i++)
            lp += lppd[i];
        res->p_loo = lp - res->elpd_loo;
        res->looic = -2.0 * res->elpd_loo;
        mean_sd(ewaic, N, &m, &sd);
        res->elpd_waic = m * (double)N;
        res->se_elpd_waic = sqrt((double)N) * sd;
        res->p_waic = lp - res->elpd_waic;
        res->waic = -2.0 * res->elpd_waic;
    }
    free(col);
    free(lw);
    free(eloo);
    free(ewaic);
    free(lppd);
    return st;
}

void vbt_loo_compare(const double *a, const double *b, size_t N, double *diff, double *se)
{
    double m = 0.0, q = 0.0;
    for (size_t i = 0; i < N; i++) {
        double d = a[i] - b[i], delta = d - m;
        m += delta / (double)(i + 1);
        q += delta * (d - m);
    }
    *diff = m * (double)N;
    *se = N > 1 ? sqrt((double)N * q / (double)(N - 1)) : 0.0;
}

void vbt_loglik_gauss(const double *y, const double *mu, size_t N, double sigma, double *out)
{
    const double c = -0.5 * log(2.0 * M_PI) - log(sigma), inv = 1.0 / sigma;
    for (size_t i = 0; i < N; i++) {
        double z = (y[i] - mu[i]) * inv;
        out[i] = c - 0.5 * z * z;
    }
}
