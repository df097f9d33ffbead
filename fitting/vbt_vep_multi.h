/* vbt_vep_multi.h -- joint fit of several seizures of one patient (the VEP
 * group's practice: Hashemi et al. 2020, Vattikonda et al. 2021): K
 * seizures, each its own SEEG feature on the same contacts, gain and
 * connectome, share the patient's excitabilities x0 (and the coupling scale
 * K when it is free; every parameter that is not a per-seizure nuisance is
 * shared), while each seizure keeps its own initial state, time scale tau0,
 * amplitude, offsets and noise eps.
 *
 * The joint posterior is built from the single-seizure models (vbt_vep.h)
 * and nothing else:
 *
 *   log p(s, nu_1..nu_K | y_1..y_K) = sum_k log p_k(s, nu_k | y_k)
 *                                     - (K - 1) log p(s)            + const
 *
 * where log p_k is seizure k's log posterior (vbt_vep_logp: its prior of
 * the shared s and of its own nu_k, and its likelihood) and log p(s) the
 * shared parameters' prior, counted K times in the sum and once in the
 * joint.  log p(s) is the log prior of a model built from the first
 * seizure's spec with every nuisance group held fixed, whose parameters are
 * then exactly the shared ones (the priors are independent per parameter).
 * The parameter layout comes from the models' own names
 * (vbt_vep_param_name), so a change of the single-seizure model flows
 * through; the nuisance groups are x_init, z_init, tau0, amp, off and eps.
 *
 * Joint theta (unconstrained): the shared parameters in the first seizure's
 * order ("x0[1]" ..., "K"), then seizure 1's nuisance parameters, then
 * seizure 2's, ...; their names are the model's with the prefix "sK:"
 * (1-based: "s2:tau0", "s2:off[3]").  Seizures 1..K-1 of a K-seizure joint
 * model have the layout of the (K-1)-seizure model: a posterior of the
 * first K-1 seizures extends to K by appending the new seizure's nuisance
 * parameters (vbt_vep_multi_update).
 *
 * The joint model is a sampler target (vbt_sampler.h: every sampler of the
 * table runs on it) with n_ctx private contexts. */
#ifndef VBT_VEP_MULTI_H
#define VBT_VEP_MULTI_H

#include <stddef.h>
#include <stdint.h>

#include "vbt_common.h"
#include "vbt_sampler.h"
#include "vbt_smc.h"
#include "vbt_vep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_vep_multi vbt_vep_multi;

/* Build the joint model of k seizures from their specs (each with data;
 * same regions and priors, any sensors and samples; borrowed during the
 * call), with n_ctx contexts (at least the chains and threads a sampler
 * will use).  Errors: VBT_EINVAL (k or n_ctx 0, a spec without data,
 * specs whose shared parameters differ, a parameter group this module does
 * not know how to hold fixed), the errors of vbt_vep_alloc, VBT_ENOMEM. */
int vbt_vep_multi_alloc(vbt_vep_multi **out, const vbt_vep_spec *specs, size_t k,
                        size_t n_ctx, vbt_msg *msg);
void vbt_vep_multi_free(vbt_vep_multi *mm);

/* Sizes: joint parameters, shared ones, seizures, regions; seizure j's
 * (0-based) own model's parameters. */
size_t vbt_vep_multi_n_params(const vbt_vep_multi *mm);
size_t vbt_vep_multi_n_shared(const vbt_vep_multi *mm);
size_t vbt_vep_multi_n_seizures(const vbt_vep_multi *mm);
size_t vbt_vep_multi_n_regions(const vbt_vep_multi *mm);

/* Name of joint parameter i (see above), NULL out of range; index of a
 * name or -1. */
const char *vbt_vep_multi_param_name(const vbt_vep_multi *mm, size_t i);
long vbt_vep_multi_param_index(const vbt_vep_multi *mm, const char *name);

/* Seizure j's own model (context 0's copy; vbt_vep_param_name, ...). */
vbt_vep *vbt_vep_multi_model(const vbt_vep_multi *mm, size_t j);

/* Seizure j's theta (its model's layout) from the joint theta. */
void vbt_vep_multi_split(const vbt_vep_multi *mm, size_t j, const double *theta,
                         double *theta_j);

/* Joint log posterior (normalising constants of every prior and
 * likelihood included) and its gradient (NULL: value only) on context c.
 * VBT_ENUMERIC (*lp -HUGE_VAL) when a trajectory is not finite. */
int vbt_vep_multi_logp(vbt_vep_multi *mm, size_t c, const double *theta, double *lp,
                       double *grad);
/* The joint log prior and the shared parameters' log prior log p(s). */
double vbt_vep_multi_logprior(vbt_vep_multi *mm, size_t c, const double *theta, double *grad);
double vbt_vep_multi_shared_logprior(const vbt_vep_multi *mm, const double *theta,
                                     double *grad);

/* A joint prior draw, stream (seed, stream): the shared part and seizure
 * 1's from seizure 1's model, seizure j's from its model with stream
 * stream + (j << 48). */
void vbt_vep_multi_prior_draw(const vbt_vep_multi *mm, uint64_t seed, uint64_t stream,
                              double *theta);

/* Natural x0 of every region (n_regions) at joint theta; NAN for a region
 * without a free x0. */
void vbt_vep_multi_x0(const vbt_vep_multi *mm, const double *theta, double *x0);

/* The joint posterior as a sampler target: logp, the prior and the
 * likelihood apart (draw_prior, log_prior, log_lik and their gradients),
 * no find_mode (the generic multi-start search); valid while mm lives. */
const vbt_target *vbt_vep_multi_target(const vbt_vep_multi *mm);

/* Likelihood-tempered SMC of the joint posterior from the prior
 * (vbt_smc on the target above, threads on the contexts: o->n_threads <=
 * n_ctx).  particles: n_particles x n_params. */
int vbt_vep_multi_smc(vbt_vep_multi *mm, const vbt_smc_opts *o, double *particles,
                      vbt_smc_result *res, vbt_msg *msg);

/* SMC of the joint posterior from the Laplace approximation at its mode
 * rather than from the prior (whose draws may never reach a seizing mode
 * when the data are far in its tail): the first seizure's multi-start MAP
 * (vbt_vep_map with *mo, NULL: the defaults; starts from
 * vbt_vep_x0_from_data unless mo->x0_start; seed and threads from o), each
 * other seizure's own parameters at that shared point by damped Newton from
 * the 4 best of 64 prior draws (the update's search of them), then
 * damped Newton on the joint (Hessians by differences of the exact
 * gradient); particles are drawn from the Gaussian q there (the Laplace
 * covariance times 2, so that a posterior wider than its curvature at the
 * mode is covered) and tempered
 * along q^(1 - beta) p(theta | y)^beta (vbt_smc_from), so they end as
 * draws of the joint posterior whatever q's error (res->log_evidence is
 * then log p(y)).  *mode_lp (may be NULL): the log posterior at the mode.
 * Errors: VBT_EINVAL, VBT_ENOMEM, VBT_ENUMERIC, the MAP's and SMC's. */
int vbt_vep_multi_smc_laplace(vbt_vep_multi *mm, const vbt_vep_map_opts *mo,
                              const vbt_smc_opts *o, double *particles, vbt_smc_result *res,
                              double *mode_lp, vbt_msg *msg);

/* What the mode search of vbt_vep_multi_smc_laplace_from found: the mode
 * its Laplace approximation and tempering start from, with numbers that
 * compare two searches' modes with the same code (the joint log posterior,
 * normalising constants included, and the Laplace approximation's mass). */
enum { VBT_VEP_MULTI_STARTS = 6 };

typedef struct vbt_vep_multi_laplace_info {
    int from_points;     /* 1: Newton started from given points, 0: from the MAP */
    long start_index;    /* from points: the point Newton started from, -1 their mean */
    double start_lp;     /* joint log posterior where the joint Newton started */
    double mode_lp;      /* ... where it ended (the Laplace approximation's centre) */
    double log_det;      /* log det P, P the -Hessian of the joint log posterior there
                            (by differences of the exact gradient; plus the ridge) */
    double log_mass;     /* Laplace log mass of the mode: mode_lp + n/2 log 2 pi
                            - 1/2 log det P, the log evidence were the posterior the
                            Gaussian of that mode (log p(y) of a Gaussian posterior) */
    double decrement;    /* Newton decrement g' P^-1 g / 2 at the end (g the gradient):
                            the increase of log p a further full Newton step predicts;
                            near 0 at a mode, large when the cap stopped Newton early */
    double ridge;        /* the ridge (times max(1, |P_ii|)) added to P's diagonal so
                            that it factors; 0 when P was positive definite */
    size_t newton_steps; /* steps of the joint Newton */
    size_t newton_cap;   /* its cap: 20 for several seizures, 3 for one */
    /* the staged search (VBT_VEP_MULTI_SEARCH_STAGED): the first seizure's
       tempering steps, the starts tried and each one's Laplace log mass at
       its end (NAN: Newton failed), the index of the one kept (0 the MAP,
       1 the first seizure's posterior mean, 2.. its particles) */
    size_t staged_smc_steps, n_starts;
    double start_log_mass[VBT_VEP_MULTI_STARTS];
    long best_start;
} vbt_vep_multi_laplace_info;

/* Where the joint mode search of vbt_vep_multi_smc_laplace_from starts
 * when it is given no points.  MAP: the first seizure's multi-start MAP,
 * every other seizure's own parameters by Newton there, then Newton on the
 * joint (vbt_vep_multi_smc_laplace).  STAGED: that start and
 * VBT_VEP_MULTI_STARTS - 1 more from the first seizure's posterior (SMC
 * from its Laplace approximation, on streams of its own): its mean and
 * evenly spaced particles, each taken to the joint mode one seizure at a
 * time as the twin's updates go (seizure k's own parameters by Newton,
 * damped Newton on the earlier seizures' posterior as a Gaussian, the first
 * seizure's particles' or the previous stage's Laplace approximation, times
 * seizure k's posterior, then Newton on the exact posterior of seizures 1..k);
 * of the ends, the one of largest Laplace log mass is kept.  The joint
 * posterior of several seizures can have modes hundreds of nats apart that
 * Newton from the MAP alone does not choose between (docs/twin.md: the
 * sample's heavier mode, which the MAP start misses); STAGED costs the
 * first seizure's SMC and five more mode searches. */
enum { VBT_VEP_MULTI_SEARCH_MAP = 0, VBT_VEP_MULTI_SEARCH_STAGED = 1 };

/* vbt_vep_multi_smc_laplace with a choice of where the mode search starts:
 * start NULL, the search above (MAP: the same result as
 * vbt_vep_multi_smc_laplace, bytes included); otherwise (start: n_start x
 * n_params, a posterior's particles, with log weights start_log_w, NULL:
 * equal; search ignored) the joint Newton starts from the best, by the
 * joint log posterior, of their weighted mean and each particle, and the
 * MAP and the other seizures' Newton are skipped; everything from the
 * joint Newton on (its cap, the Laplace approximation doubled, the
 * tempering, the evidence) is the same.  Run from a twin's particles, it
 * asks "is the twin's mode the one a joint fit finds, and which holds more
 * mass?" (docs/twin.md).  info (may be NULL): the mode search's numbers.
 * Errors: those of vbt_vep_multi_smc_laplace; VBT_EINVAL for an unknown
 * search; VBT_ENUMERIC when the log posterior is finite at no start
 * point, or no staged start reaches a joint mode. */
int vbt_vep_multi_smc_laplace_from(vbt_vep_multi *mm, const vbt_vep_map_opts *mo,
                                   const vbt_smc_opts *o, int search, const double *start,
                                   const double *start_log_w, size_t n_start,
                                   double *particles, vbt_smc_result *res,
                                   vbt_vep_multi_laplace_info *info, vbt_msg *msg);

/* ---- sequential update: one more seizure ------------------------------- */

typedef struct vbt_vep_multi_update_info {
    double nu_lp;        /* the new seizure's log posterior at the proposal's centre */
    size_t nu_iter;      /* Newton steps of the proposal's centre */
    size_t n_nuisance;   /* the new seizure's parameters */
    double marginal_ess; /* ESS (particles) of the old particles weighted by the new
                            seizure's likelihood of their shared parameters, its own
                            parameters integrated out (Laplace: at their conditional mode,
                            one Newton step from the proposal's centre, the Hessian's
                            determinant taken as constant): how many of the current
                            posterior's hypotheses the new seizure leaves plausible,
                            whatever the proposal's quality.  A collapse (a few
                            particles) says the seizure is not explained by the current
                            posterior. */
    /* the surrogate tempering (see vbt_vep_multi_update); surrogate 0: none could be
       built (the old particles' covariance or the surrogate's mode failed) and the
       update tempered on the exact joint target, the fields below 0 */
    int surrogate;
    size_t surrogate_newton;  /* Newton steps to the surrogate target's mode */
    size_t surrogate_steps, surrogate_rounds, surrogate_grad;  /* stage 1: tempering
                               steps, rounds of moves, gradients (of one seizure) */
    size_t exact_steps, exact_rounds, exact_grad;  /* stage 2, on the exact joint */
    double correction_ess;    /* ESS (particles) of the exact correction p(theta_old,
                                 y_1..y_K-1) / G(theta_old) at once: how good a stand-in
                                 G was; below the ESS target the correction was tempered */
} vbt_vep_multi_update_info;

/* The default of vbt_smc_opts.move_jump for the update's two stages. */
#define VBT_VEP_MULTI_MOVE_JUMP 1.0
/* The most rounds of exact joint moves per step of the update's stage 2
 * (each costs every seizure; the particles come from stage 1 already
 * spread over the joint posterior, so its moves mostly separate the
 * copies that resampling made). */
#define VBT_VEP_MULTI_EXACT_MOVES 2

/* Condition a posterior of the first K-1 seizures of mm (K >= 2) on the
 * last one: old (N x n_old, n_old = the (K-1)-seizure joint model's
 * n_params, as that model lays them out) are weighted draws of p(theta |
 * y_1..y_{K-1}) with log weights old_log_w (NULL: equal).
 *
 * The particles end as draws of the joint posterior of all K seizures, by
 * two SMC runs (vbt_smc_from) whose moves mostly cost one seizure:
 *
 *  1. Surrogate tempering.  G, a Gaussian over theta_old, stands in for the
 *     old posterior: the old seizures' exact log posterior expanded to
 *     second order at the joint mode theta* (its gradient and Hessian
 *     there).  theta* comes from damped Newton from the old particles' mean
 *     (nu_K from q's centre, below), first with the particles' weighted
 *     Gaussian in place of the old posterior (one seizure's gradients), then
 *     at most 60 steps on the exact joint.  The surrogate target
 *     G(theta_old) p_K(s, nu_K | y_K) / p(s) costs one seizure's likelihood
 *     (p_K: the new seizure's single-seizure posterior, its own parameters
 *     nu_K and the shared s); particles drawn from its Laplace approximation
 *     Q at its mode (covariance times 1 + sqrt(1.4 / n)) are tempered along
 *     Q^(1 - beta) target^beta.
 *  2. Exact correction.  From there SMC tempers in the ratio p(theta_old,
 *     y_1..y_{K-1}) / G(theta_old) (K-1 seizures): when its weights at once
 *     keep the ESS target, one reweighting, resampling and exact joint HMC
 *     moves (the final rejuvenation); when they would collapse, as many
 *     tempering steps as the ESS target needs (a bridge from the surrogate
 *     to the exact posterior), so the result is a correct SMC sampler of the
 *     joint posterior whatever G's error.
 *
 * Both stages move adaptively (o->move_jump; VBT_VEP_MULTI_MOVE_JUMP when 0)
 * with at most o->n_moves rounds of moves a step in stage 1 and
 * VBT_VEP_MULTI_EXACT_MOVES in stage 2; o->final_moves is not used.
 * res->log_evidence estimates log p(y_K | y_1..y_{K-1}): the two stages'
 * evidence, log p(y_1..y_K), minus log p(y_1..y_{K-1}) by reciprocal
 * importance sampling of the old particles with G (Gelfand & Dey 1994).
 * When G or the mode cannot be built, the exact tempering of the old
 * particles (each extended by q below) runs instead.
 *
 * q: each old particle's new nuisance parameters from a Gaussian, the
 * Laplace approximation of their conditional posterior at the particles'
 * weighted mean of the shared parameters (damped Newton, Hessian by
 * differences of the exact gradient), its centre following each particle's
 * s.  res->reweight_ess is the ESS of the old particles so extended and
 * reweighted at once by the new seizure (small: the new seizure is not
 * explained by the current posterior); info->marginal_ess the same with nu
 * profiled out; info->correction_ess the exact correction's.
 * o->n_particles must be N; threads on the contexts.  particles: N x
 * n_params (may not alias old).  info may be NULL.  Errors: VBT_EINVAL,
 * VBT_ENOMEM, VBT_ENUMERIC (no finite start, or the proposal's Hessian
 * failed), the errors of vbt_smc_from. */
int vbt_vep_multi_update(vbt_vep_multi *mm, const double *old, const double *old_log_w,
                         const vbt_smc_opts *o, double *particles, vbt_smc_result *res,
                         vbt_vep_multi_update_info *info, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
