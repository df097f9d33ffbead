/* vbt_loo.h -- model comparison from pointwise log-likelihoods: PSIS-LOO
 * (Vehtari, Gelman & Gabry 2017, Stat. Comput. 27:1413) and WAIC (Watanabe
 * 2010), so that several EZ hypotheses (priors) of one patient can be ranked,
 * as the Bayesian VEP did. */
#ifndef VBT_LOO_H
#define VBT_LOO_H

#include <stddef.h>

#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_loo_result {
    double elpd_loo, se_elpd_loo, p_loo, looic;     /* looic = -2 elpd_loo */
    double elpd_waic, se_elpd_waic, p_waic, waic;   /* waic = -2 elpd_waic */
    double khat_max;
    size_t n_k_ok;          /* Pareto k < 0.5 */
    size_t n_k_warn;        /* 0.5 <= k < 0.7: usable, less accurate */
    size_t n_k_bad;         /* k >= 0.7: the importance sampling is unreliable */
} vbt_loo_result;

/* loglik: S posterior draws x N observations, row-major (draw s,
 * observation i at s*N + i).  elpd_i (N, may be NULL) receives each
 * observation's PSIS-LOO elpd, k (N, may be NULL) its Pareto k.  S >= 10.
 * VBT_EINVAL for sizes, VBT_ENUMERIC for non-finite log-likelihoods. */
int vbt_loo(const double *loglik, size_t S, size_t N, double *elpd_i, double *k,
            vbt_loo_result *res, vbt_msg *msg);

/* Difference of two models' elpd (a - b) from their pointwise elpd over the
 * same N observations, with the standard error sqrt(N var(a_i - b_i)). */
void vbt_loo_compare(const double *elpd_a, const double *elpd_b, size_t N, double *diff,
                     double *se);

/* Gaussian pointwise log-likelihood log N(y_i | mu_i, sigma^2) of N
 * observations (the VEP's observation model). */
void vbt_loglik_gauss(const double *y, const double *mu, size_t N, double sigma, double *out);

#ifdef __cplusplus
}
#endif
#endif
