/* vbt_smc.h -- sequential Monte Carlo with likelihood tempering: particles
 * drawn from the prior move through p(theta) L(theta)^beta as beta goes from
 * 0 to 1, each step chosen so that the effective sample size of the
 * reweighted particles is a target fraction (adaptive tempering), followed by
 * resampling and MCMC moves that leave the tempered target invariant:
 * random-walk Metropolis, or Hamiltonian Monte Carlo when the model gives
 * gradients.  Robust to multimodal posteriors (the particles explore every
 * mode the prior reaches, in proportion to its mass) and gives the log
 * marginal likelihood log p(y), which ranks hypotheses (priors) for one
 * patient. */
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
 * log_lik return the densities (-HUGE_VAL outside the support).
 *
 * log_prior_grad and log_lik_grad (optional, both or neither) return the
 * same densities and write their gradients d/dtheta into grad (length n);
 * -HUGE_VAL where not finite (grad is then ignored).  With them every move is
 * an HMC transition (leapfrog, diagonal mass matrix from the particles'
 * spread); without them (NULL) a random-walk Metropolis step.
 *
 * The callbacks are called from several threads at once with distinct theta:
 * they must not share mutable state (thread_ctx gives each thread its own
 * context, see vbt_smc_opts). */
typedef struct vbt_smc_model {
    size_t n;
    void (*draw_prior)(void *ctx, uint64_t seed, uint64_t stream, double *theta);
    double (*log_prior)(void *ctx, const double *theta);
    double (*log_lik)(void *ctx, const double *theta);
    double (*log_prior_grad)(void *ctx, const double *theta, double *grad);
    double (*log_lik_grad)(void *ctx, const double *theta, double *grad);
} vbt_smc_model;

typedef struct vbt_smc_opts {
    size_t n_particles;     /* 512 */
    double ess_target;      /* 0.5: each tempering step keeps ESS >= this fraction */
    size_t n_moves;         /* 10 MCMC moves per particle per step */
    size_t max_steps;       /* 1000 */
    size_t n_threads;       /* 1; the result does not depend on it */
    uint64_t seed;
    void **thread_ctx;      /* n_threads contexts (NULL: every thread uses ctx) */
    /* HMC moves (used when the model has gradients) */
    size_t n_leapfrog;      /* 10: leapfrog steps per move, jittered uniformly over
                               [L - L/2, L + L/2] per move */
    double step_size;       /* 0: start at n^(-1/4); the step size (times the per-move
                               jitter U(0.8, 1.2)) is adapted after every round of
                               moves (each particle moves once a round) */
    double accept_target;   /* 0.7: mean Metropolis acceptance probability aimed at */
    double *temperatures;   /* NULL, or max_steps doubles: beta after each step */
    size_t final_moves;     /* 0; k > 0: once beta reaches 1, one more step of k moves of
                               every particle (no reweighting): diversity back after the
                               last resampling, most useful after a large change of the
                               target (vbt_smc_from); counted in n_steps */
    double move_jump;       /* 0: every step makes n_moves moves.  > 0 (HMC only): a step
                               stops moving once the particles have moved far enough from
                               where the resampling left them: the mean over particles and
                               coordinates of the squared jump in units of the particles'
                               variance reaches move_jump (2: as far apart as independent
                               draws; 1: half-way), at least one move and at most n_moves
                               (final_moves in the final step).  Deterministic: the same
                               numbers whatever the threads */
} vbt_smc_opts;

void vbt_smc_opts_default(vbt_smc_opts *o);

typedef struct vbt_smc_result {
    double log_evidence;    /* log p(y) estimate */
    size_t n_steps;         /* tempering steps (temperatures written) */
    double accept_rate;     /* mean acceptance probability of the last step's moves */
    double mean_accept;     /* the same over every step */
    double step_size;       /* HMC: the step size of the last step (0 for random walk) */
    size_t n_divergent;     /* HMC: moves with a non-finite or exploding energy */
    size_t n_grad;          /* gradient (HMC) or density (random walk) evaluations */
    size_t n_rounds;        /* HMC: rounds of moves over all steps (every particle moves
                               once a round; fewer than steps x n_moves with move_jump) */
    /* vbt_smc_from only (NAN for vbt_smc): the effective sample size, in
     * particles, of the start weights alone and of the start weights times
     * the whole likelihood (L^1, no tempering): how many of the starting
     * particles the new likelihood leaves alive.  A reweighting ESS of a few
     * particles says that the starting posterior and the new likelihood
     * barely overlap (data the starting model does not explain). */
    double start_ess;
    double reweight_ess;
} vbt_smc_result;

/* Run SMC; particles (n_particles x n, row-major) receive equally weighted
 * posterior draws.  VBT_EINVAL, VBT_ENOMEM, VBT_ENUMERIC (no finite particle,
 * or max_steps reached before the temperature reached 1). */
int vbt_smc(const vbt_smc_model *model, void *ctx, const vbt_smc_opts *o, double *particles,
            vbt_smc_result *res, vbt_msg *msg);

/* SMC that starts from particles instead of prior draws: start (N x n,
 * N = o->n_particles, row-major) holds draws of the density exp(log_prior)
 * with normalised or unnormalised log weights start_log_w (N; NULL: equal
 * weights), for instance the posterior of the data seen so far; the run
 * tempers exp(log_prior) L^beta from beta = 0 to 1 exactly as vbt_smc does
 * (resampling, the same MCMC moves), each step keeping the ESS of the
 * weighted particles at o->ess_target times the start weights' own ESS.
 * Sequential Bayesian updating: with log_prior = log p(theta) + log p(y_1 |
 * theta) and log_lik = log p(y_2 | theta), start = draws of p(theta | y_1),
 * the particles end as draws of p(theta | y_1, y_2) and res->log_evidence
 * estimates log p(y_2 | y_1).  model->draw_prior is not used (may be NULL).
 * start may equal particles (updated in place).  res->start_ess and
 * res->reweight_ess are set (see vbt_smc_result).  Threads, streams and
 * errors as vbt_smc (the result does not depend on the thread count); also
 * VBT_ENUMERIC when no start particle has a finite density and weight. */
int vbt_smc_from(const vbt_smc_model *model, void *ctx, const vbt_smc_opts *o,
                 const double *start, const double *start_log_w, double *particles,
                 vbt_smc_result *res, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
