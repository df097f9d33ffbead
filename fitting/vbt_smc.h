/* vbt_smc.h -- sequential Monte Carlo with likelihood tempering: particles
 * drawn from the prior move through p(theta) L(theta)^beta as beta goes from
 * 0 to 1, each step chosen so that the effective sample size of the
 * reweighted particles is a target fraction (adaptive tempering), followed by
 * resampling and Metropolis moves.  Robust to multimodal posteriors (the
 * particles explore every mode the prior reaches) and gives the log marginal
 * likelihood log p(y), which ranks hypotheses (priors) for one patient. */
#ifndef VBT_SMC_H
#define VBT_SMC_H

#include <stddef.h>
#include <stdint.h>

#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The prior and the log-likelihood of one model.  draw_prior fills theta
 * (length n) from the prior with stream `stream` of `seed`; log_prior and
 * log_lik return the densities (-HUGE_VAL outside the support).  The
 * callbacks are called from several threads at once with distinct theta:
 * they must not share mutable state (thread_ctx gives each thread its own
 * context, see vbt_smc_opts). */
typedef struct vbt_smc_model {
    size_t n;
    void (*draw_prior)(void *ctx, uint64_t seed, uint64_t stream, double *theta);
    double (*log_prior)(void *ctx, const double *theta);
    double (*log_lik)(void *ctx, const double *theta);
} vbt_smc_model;

typedef struct vbt_smc_opts {
    size_t n_particles;     /* 512 */
    double ess_target;      /* 0.5: each tempering step keeps ESS >= this fraction */
    size_t n_moves;         /* 10 Metropolis moves per particle per step */
    size_t max_steps;       /* 1000 */
    size_t n_threads;       /* 1; the result does not depend on it */
    uint64_t seed;
    void **thread_ctx;      /* n_threads contexts (NULL: every thread uses ctx) */
} vbt_smc_opts;

void vbt_smc_opts_default(vbt_smc_opts *o);

typedef struct vbt_smc_result {
    double log_evidence;    /* log p(y) estimate */
    size_t n_steps;         /* tempering steps */
    double accept_rate;     /* of the last step's moves */
} vbt_smc_result;

/* Run SMC; particles (n_particles x n, row-major) receive equally weighted
 * posterior draws.  VBT_EINVAL, VBT_ENOMEM, VBT_ENUMERIC (no finite particle,
 * or max_steps reached before the temperature reached 1). */
int vbt_smc(const vbt_smc_model *model, void *ctx, const vbt_smc_opts *o, double *particles,
            vbt_smc_result *res, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
