/* vbt_vep.h -- Bayesian inversion of the Virtual Epileptic Patient (BVEP):
 * the 2D Epileptor network as a probabilistic model, its log posterior with
 * an exact discrete-adjoint gradient, MAP by L-BFGS from many starts, and a
 * Laplace approximation checked by Pareto-smoothed importance sampling.
 *
 * Model (docs/fitting.md; ../shared/reference/vep-inference.md sections 1-6):
 *
 *   dx_i/dt = 1 - x_i^3 - 2 x_i^2 - z_i + I1                  (I1 = 3.1)
 *   dz_i/dt = (1/tau0) [4 (x_i - x0_i) - z_i - K sum_j C_ij (x_j - x_i)]
 *
 * integrated by Euler, Heun or classical RK4 with `steps` equal steps of
 * dt/steps between two samples; sample 0 is the initial state (x_init,
 * z_init).  Observation of sample t (t = 0 .. T-1), sensor s:
 *
 *   linear:    mu_ts = amp * (G x_t)_s + off_s        (one offset per sensor)
 *   log-power: mu_ts = amp * log((G exp(x_t))_s) + off     (one offset)
 *
 * with y_ts ~ N(mu_ts, eps).
 *
 * Unconstrained parameter vector theta (free groups only, in this order):
 *
 *   x0_raw[n]  x_init_raw[n]  z_init_raw[n]  K_u  tau0_u  amp_u  off_raw[n_off]  eps_u
 *
 * Region/sensor groups are non-centred: x0_i = mu_i + sd_i * x0_raw_i with
 * x0_raw_i ~ N(0, 1) (mu_i, sd_i = the EZ hypothesis' values for hypothesised
 * regions), likewise x_init, z_init and the offsets (raw ~ Student-t instead
 * where a group's prior sets nu > 0).  Scalars p in {K, tau0,
 * amp, eps} live on (lo, inf) and are p = lo + exp(u); the density of u
 * includes the log-Jacobian u.  A group marked fixed takes no place in theta.
 * With priors.off_marginal the offsets are integrated out of the likelihood
 * (they enter the mean linearly, with a Gaussian prior, so exactly: per
 * offset, the residuals' covariance eps^2 I + sd^2 1 1'); off_raw then holds
 * u = (off - E[off | rest]) / sd[off | rest], which is N(0, 1) in the
 * posterior and independent of the rest, so the sampler sees the collapsed
 * posterior times standard normals and never the offsets' narrow ridges
 * with amp and the dynamics, while every draw still maps to an exact joint
 * draw of the offsets.
 * vbt_vep_constrain() maps theta to natural values in the same layout;
 * vbt_vep_param_name() names them ("x0[1]", ..., "K", "off[3]", "eps"),
 * 1-based as in Stan's CSV.
 *
 * A vbt_vep handle is not safe for concurrent use (it owns its workspaces);
 * vbt_vep_map() and vbt_vep_smc() give each thread a private copy.
 */
#ifndef VBT_VEP_H
#define VBT_VEP_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_smc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vbt_vep_scheme {
    VBT_VEP_EULER = 0,
    VBT_VEP_HEUN = 1,  /* explicit trapezoid (predictor-corrector), order 2 */
    VBT_VEP_RK4 = 2    /* classical Runge-Kutta, order 4 */
} vbt_vep_scheme;

typedef enum vbt_vep_obs {
    VBT_VEP_OBS_LINEAR = 0,   /* amp * G x + off[s] */
    VBT_VEP_OBS_LOGPOWER = 1, /* amp * log(G exp x) + off; G must be >= 0 with no empty row */
    VBT_VEP_OBS_POWER = 2,    /* log(G exp(amp x)) + off[s]: sensor log power when region power
                                 is exp(amp x) and G is a power gain (G >= 0, no empty row) */
    VBT_VEP_OBS_SEIZURE = 3   /* amp G S(x) + off[s], S(x) = 1 / (1 + exp(-(x - sig_x) / sig_w)):
                                 each region adds amp when in seizure (x above sig_x), nothing
                                 at rest, whatever its pre-ictal drift; for power relative to
                                 baseline through a power gain */
} vbt_vep_obs;

/* Prior of a positive scalar (K, tau0, amp, eps) on (lo, inf). */
typedef enum vbt_vep_dist {
    VBT_VEP_NORMAL = 0,    /* N(mu, sd) truncated to (lo, inf) */
    VBT_VEP_LOGNORMAL = 1  /* log(p - lo) ~ N(mu, sd) */
} vbt_vep_dist;

typedef struct vbt_vep_scalar_prior {
    vbt_vep_dist dist;
    double mu, sd, lo;
    int fixed;       /* 1: not fitted, held at `value` */
    double value;
} vbt_vep_scalar_prior;

/* Non-centred group: natural = mu + sd * raw, raw ~ N(0, 1), or with nu > 0
 * raw ~ Student-t with nu degrees of freedom: a heavy-tailed ("sparse")
 * prior that holds the many regions the data say little about near mu
 * (sd is then the scale, not the standard deviation) while a region the data
 * place far away is pulled back only weakly (the pull falls off as 1/raw).
 * Not for the offsets, whose marginalisation needs a normal prior; not for
 * the hypothesised EZ regions, which keep x0_ez's normal prior. */
typedef struct vbt_vep_group_prior {
    double mu, sd;
    int fixed;       /* 1: not fitted, held at mu */
    double nu;       /* 0: normal; > 0: Student-t degrees of freedom */
} vbt_vep_group_prior;

#define VBT_VEP_MAX_EZ 64

typedef struct vbt_vep_priors {
    vbt_vep_group_prior x0, x_init, z_init, off;
    int off_marginal;           /* 1: the offsets are integrated out of the likelihood
                                   (exactly: they enter linearly with a Gaussian prior);
                                   theta's off entries are then standardised conditional
                                   offsets u ~ N(0, 1), independent of everything else in
                                   the posterior, and the natural offsets are
                                   E[off | rest] + sd[off | rest] u (vbt_vep_constrain) */
    double x0_ez_mu, x0_ez_sd;  /* x0 prior of hypothesised EZ regions */
    size_t n_ez;
    size_t ez[VBT_VEP_MAX_EZ];  /* 0-based region indices of the EZ hypothesis */
    vbt_vep_scalar_prior K, tau0, amp, eps;
    double lik_weight;          /* 0 or 1: the likelihood as it is; w in (0, 1): the
                                   likelihood raised to the power w, a tempered
                                   ("coarsened", power) posterior for data the model
                                   cannot fit exactly (model discrepancy; residuals
                                   correlated in time count as about w times as many
                                   independent samples).  Marginal offsets are then
                                   drawn from their untempered conditional. */
    vbt_vep_group_prior gin;    /* log input gain of each region: the coupling into
                                   region i is K exp(gin_i) sum_j C_ij (x_j - x_i), so a
                                   region can be recruited through edges stronger (or
                                   weaker) than the connectome's (uncertainty in the
                                   edges into each region).  Default fixed at 0: the
                                   connectome as given, and a model with the bytes of
                                   one without gains.  Free, its draws are the
                                   parameters "log_input_gain[i]" (normal prior). */
} vbt_vep_priors;

/* BVEP's defaults (Hashemi et al. 2020, non-centred model; docs/fitting.md):
 * x0 ~ N(-2.5, 1), EZ hypothesis N(-1.5, 1) (Vattikonda 2021), x_init ~
 * N(-1.5, 1), z_init ~ N(3.5, 1), K ~ N(1, 0.1) on (0, inf), tau0 fixed at 10
 * (prior N(20, 10) on (5, inf) when freed, Vattikonda 2021), amp ~ N(0, 1)+,
 * off ~ N(0, 1), eps ~ N(0, 1)+, no EZ hypothesis. */
void vbt_vep_priors_default(vbt_vep_priors *p);

/* Update *p (start from vbt_vep_priors_default) from a JSON file:
 *   {"x0": {"mu": -2.5, "sd": 1, "nu": 3}, "x0_ez": {"mu": -1.5, "sd": 1},
 *    "ez": [5, "ctx-rh-insula"], "x_init": {...}, "z_init": {...},
 *    "offset": {"mu": 0, "sd": 1, "fixed": false},
 *    "K": {"dist": "normal"|"lognormal", "mu": 1, "sd": 0.1, "lower": 0,
 *          "fixed": false, "value": 1}, "tau0": {...}, "amp": {...}, "eps": {...},
 *    "likelihood_weight": 1, "input_gain": {"mu": 0, "sd": 0.5, "fixed": false}}
 * Every key is optional; unknown keys are errors.  "nu" (x0, x_init,
 * z_init; 0 or absent: normal) makes the group's prior Student-t.  "ez"
 * entries are 0-based indices or region labels looked up in `labels`
 * (n_regions of them; may be
 * NULL when only indices are used).  Errors: VBT_EIO, VBT_EFORMAT,
 * VBT_ENOTFOUND (label), VBT_ERANGE (index), VBT_EINVAL (sd <= 0 ...). */
int vbt_vep_priors_load_json(vbt_vep_priors *p, const char *path,
                             const char (*labels)[VBT_LABEL_MAX], size_t n_regions,
                             vbt_msg *msg);

/* The prior set as JSON text in the file format above, every key written
 * ("ez" as 0-based indices), so that vbt_vep_priors_load_json() of the text
 * gives back *p exactly (doubles are printed with 17 significant digits).
 * For provenance: the priors a fit actually used.  Returns a malloc'd
 * string (free()), NULL when out of memory. */
char *vbt_vep_priors_json(const vbt_vep_priors *p);

/* Check a prior set for n regions; VBT_EINVAL / VBT_ERANGE with a message. */
int vbt_vep_priors_validate(const vbt_vep_priors *p, size_t n_regions, vbt_msg *msg);

/* Everything a model is built from.  All arrays are borrowed during
 * vbt_vep_alloc() and copied; row-major. */
typedef struct vbt_vep_spec {
    size_t n_regions, n_sensors, n_samples;
    const double *weights;     /* n x n, row = target (TVB convention) */
    vbt_normalize normalize;   /* applied to the copy after zeroing the diagonal */
    const double *gain;        /* n_sensors x n_regions */
    const double *data;        /* n_samples x n_sensors; may be NULL (simulation only) */
    vbt_vep_scheme scheme;
    double dt;                 /* time between samples (model time units) */
    size_t steps;              /* integration steps per sample (>= 1) */
    vbt_vep_obs obs;
    double I1;                 /* 3.1 */
    double sig_x, sig_w;       /* VBT_VEP_OBS_SEIZURE: threshold -1.0 and width 0.1 of S */
    vbt_vep_priors priors;
} vbt_vep_spec;

/* Defaults: Euler, dt 0.1, 1 step, linear observation, max-normalised
 * weights, I1 = 3.1, vbt_vep_priors_default(); sizes and arrays zero. */
void vbt_vep_spec_default(vbt_vep_spec *s);

typedef struct vbt_vep vbt_vep;

/* Build a model: validate the spec, copy the arrays, plan the workspaces
 * (the forward trajectory of every stage is stored for the adjoint).
 * Errors: VBT_EINVAL, VBT_ERANGE, VBT_ENUMERIC (non-finite input),
 * VBT_ENOMEM; *out is NULL then. */
int vbt_vep_alloc(vbt_vep **out, const vbt_vep_spec *spec, vbt_msg *msg);
void vbt_vep_free(vbt_vep *m);

/* Sizes: free parameters (length of theta), regions, sensors, samples. */
size_t vbt_vep_n_params(const vbt_vep *m);
size_t vbt_vep_n_regions(const vbt_vep *m);
size_t vbt_vep_n_sensors(const vbt_vep *m);
size_t vbt_vep_n_samples(const vbt_vep *m);

/* Name of free parameter i ("x0[3]", "K", ...); NULL when out of range. */
const char *vbt_vep_param_name(const vbt_vep *m, size_t i);

/* Index in theta of a named parameter, or -1. */
long vbt_vep_param_index(const vbt_vep *m, const char *name);

/* Natural units per unit of theta_i for a region or sensor group element
 * (its prior's sd: natural = mu + sd * theta_i); NAN for the log-transformed
 * scalars and out of range.  A sampler's step of d in natural units is
 * d / scale in theta (vbt fit's mode jumps of x0). */
double vbt_vep_param_scale(const vbt_vep *m, size_t i);

/* The prior mean of that element in natural units (mu); NAN as above. */
double vbt_vep_param_prior_mean(const vbt_vep *m, size_t i);

/* The prior standard deviation of that element in natural units: its scale,
 * times sqrt(nu / (nu - 2)) for a Student-t prior (infinite for nu <= 2);
 * NAN as above.  The reference for shrinkage, and for a posterior wider
 * than its prior (which one mode cannot give). */
double vbt_vep_param_prior_sd(const vbt_vep *m, size_t i);

/* theta (unconstrained) -> natural values in the same layout.  With
 * marginal offsets this runs the model forward (the conditional mean of the
 * offsets depends on the trajectory; it uses m's workspaces, like logp) and
 * returns VBT_ENUMERIC, offsets NaN, when the trajectory is not finite. */
int vbt_vep_constrain(vbt_vep *m, const double *theta, double *natural);

/* natural -> theta (inverse of vbt_vep_constrain); VBT_ERANGE when a
 * positive parameter is not above its lower bound, VBT_ENUMERIC (marginal
 * offsets) when the trajectory is not finite. */
int vbt_vep_unconstrain(vbt_vep *m, const double *natural, double *theta);

/* Log posterior density of theta (all normalising constants included: the
 * Gaussian likelihood, the N(0,1) raw priors, the truncated-normal or
 * log-normal priors of the scalars and the log-Jacobians).  grad (length
 * n_params) receives d lp / d theta by the discrete adjoint of the chosen
 * scheme; NULL for the value only.  No allocation.  Needs data.  When the
 * trajectory is not finite *lp = -HUGE_VAL, grad is zeroed and the result is
 * VBT_ENUMERIC. */
int vbt_vep_logp(vbt_vep *m, const double *theta, double *lp, double *grad);

/* vbt_vep_logp for B points at once: theta (B x n_params, row-major), lp
 * (B), grad (B x n_params, or NULL for the values only).  Row b gives the
 * same bytes as vbt_vep_logp(m, theta + b n_params, ...) on its own; the
 * dynamics of the B points advance together, so that each product with the
 * coupling matrix reads it once for all of them.  The first call with a
 * larger B than before allocates B - 1 private copies of m's workspaces
 * (kept, freed with m); later calls allocate nothing.  At the BVEP size
 * (84 regions, 130 samples) it is not faster than B lone calls on the
 * machines measured so far: each point's stored stages (about 1 MB with RK4)
 * take from the caches what the shared matrix saves (bench_fit prints both).
 * VBT_OK; VBT_ENUMERIC when some row is not finite (its lp -HUGE_VAL, its
 * gradient zeroed, the other rows valid); VBT_EINVAL without data,
 * VBT_ENOMEM (every lp -HUGE_VAL). */
int vbt_vep_logp_batch(vbt_vep *m, size_t B, const double *theta, double *lp, double *grad);

/* Log prior alone (value and optional gradient, same conventions). */
double vbt_vep_logprior(const vbt_vep *m, const double *theta, double *grad);

/* Forward model at theta: x_out (n_samples x n_regions, may be NULL) and
 * the noise-free observation y_out (n_samples x n_sensors, may be NULL).
 * VBT_ENUMERIC when the trajectory is not finite. */
int vbt_vep_simulate(vbt_vep *m, const double *theta, double *x_out, double *y_out);

/* A draw of theta from the prior: raw groups N(0,1), scalars from their
 * prior (truncated normal by inversion), stream (seed, stream). */
void vbt_vep_prior_draw(const vbt_vep *m, uint64_t seed, uint64_t stream, double *theta);

/* ---- MAP --------------------------------------------------------------- */

typedef struct vbt_vep_lbfgs_opts {
    size_t memory;     /* 10 */
    size_t max_iter;   /* 2000 */
    double gtol;       /* 1e-5: stop when |grad|_inf <= gtol * max(1, |lp|) */
    double ftol;       /* 1e-12: stop when the relative decrease over 10 iterations is below */
} vbt_vep_lbfgs_opts;

void vbt_vep_lbfgs_opts_default(vbt_vep_lbfgs_opts *o);

/* Maximise the log posterior from theta (in place) by L-BFGS (two-loop
 * recursion, strong-Wolfe line search, Nocedal & Wright Alg. 3.5/3.6).
 * *lp: the final value; *iters (may be NULL): iterations taken.  Returns
 * VBT_OK on convergence, VBT_ERANGE when max_iter was reached (theta still
 * the best point), VBT_ENUMERIC when the start is not finite. */
int vbt_vep_lbfgs(vbt_vep *m, const vbt_vep_lbfgs_opts *o, double *theta, double *lp,
                  size_t *iters);

/* Newton polish of a mode from theta (in place): the negative Hessian by
 * forward differences of the exact gradient (n_params gradients),
 * Levenberg-Marquardt damping when it is not positive definite, Armijo
 * backtracking; after each Newton step up to 200 BFGS steps (about one
 * gradient each) from that Hessian's inverse, until they stall or their
 * decrement is below the tolerance; then a fresh Hessian.  At most max_iter
 * Hessians.  VBT_OK when the Newton decrement with a fresh, undamped,
 * positive definite Hessian is below 1e-9 max(1, |lp|) (a proven local
 * mode), VBT_ERANGE when max_iter was reached, no step ascended, or the
 * Hessian was indefinite and the iteration gained nothing (a ridge or a
 * saddle; theta is still the best point), VBT_ENUMERIC when the start is
 * not finite, VBT_ENOMEM.  *lp: the final value; *iters (may be NULL): the
 * Newton steps taken (0 when theta already was a mode). */
int vbt_vep_newton(vbt_vep *m, size_t max_iter, double *theta, double *lp, size_t *iters);

typedef struct vbt_vep_map_opts {
    size_t n_starts;   /* 16 */
    size_t n_threads;  /* 1; each start's result does not depend on it */
    uint64_t seed;     /* starts are prior draws of stream (seed, start) */
    vbt_vep_lbfgs_opts lbfgs; /* vbt_vep_lbfgs_opts_default but max_iter 100: L-BFGS only
                                 screens the starts (it stalls on this posterior); the
                                 polish climbs from there */
    double mode_tol;   /* 1.0: a start reaches the best mode when lp >= best - mode_tol */
    size_t newton_iter;/* 10: at most this many Newton steps (Hessians) after L-BFGS, with
                          BFGS steps in between (vbt_vep_newton); 0: no polish */
    size_t n_polish;   /* 0: every start is polished; k: only the k starts whose L-BFGS
                          ended highest (a Hessian costs n_params gradients) */
    const double *x0_start; /* NULL, or n_regions natural x0 values: even-numbered starts
                               begin at x0_start + x0_jitter N(0, 1) (a data-informed
                               start, vbt_vep_x0_from_data), odd ones at prior draws */
    double x0_jitter;  /* 0.5 */
    /* Hops (after the polish): hop_rounds rounds (0: none) of `hops` hops
     * each.  A hop leaves from the best mode found so far: K scaled by
     * exp(0.5 N(0, 1)), each region below the EZ line put at x0 -1.8 with
     * probability 0.05, each region at or above it back at its prior mean
     * with probability 0.3; then L-BFGS and the polish.  The modes of this
     * posterior differ by K and by which regions sit just above the EZ line,
     * which independent starts rarely get right together (docs/fitting.md,
     * "Hops": on the sample patient 6 seeds of 256 starts ended at 6 modes
     * up to 922 nats apart).  Stream (seed, 2^60 + row). */
    size_t hop_rounds; /* 0 */
    size_t hops;       /* 6 */
    /* NULL, or called after every start's L-BFGS and every polish (never two
     * calls at once, from whichever thread finished): done of total steps so
     * far (total: the starts plus the polishes planned).  A non-zero return
     * stops the MAP (no new start or polish begins) and vbt_vep_map() fails
     * with VBT_EINVAL "vep map: interrupted". */
    int (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} vbt_vep_map_opts;

void vbt_vep_map_opts_default(vbt_vep_map_opts *o);

/* Rows of vbt_vep_map()'s per-start outputs: n_starts, then the hops round
 * by round (hop_rounds * hops). */
size_t vbt_vep_map_n_rows(const vbt_vep_map_opts *o);

typedef struct vbt_vep_map_result {
    double best_lp;
    size_t best_start; /* its row (a start, or a hop at n_starts and after) */
    size_t n_best;     /* rows (starts and hops) with lp >= best_lp - mode_tol */
    size_t n_converged; /* rows whose L-BFGS or polish converged */
    size_t n_polished; /* starts handed to the Newton polish: the n_polish best (all with 0)
                          whose L-BFGS ended at a finite log posterior */
} vbt_vep_map_result;

/* Multi-start MAP.  theta_best (n_params) receives the best optimum;
 * lp_starts and theta_starts (rows = vbt_vep_map_n_rows(o), rows x
 * n_params; each may be NULL) every start's and hop's final value and point
 * (-HUGE_VAL for one that failed).  The starts' rows do not depend on the
 * hops.  Errors: VBT_EINVAL, VBT_ENOMEM, VBT_ENUMERIC (no start finite). */
int vbt_vep_map(const vbt_vep *m, const vbt_vep_map_opts *o, double *theta_best,
                vbt_vep_map_result *res, double *lp_starts, double *theta_starts,
                vbt_msg *msg);

/* BVEP's classes of a region by its excitability x0
 * (../shared/reference/vep-inference.md 8): EZ x0 >= -2.05, PZ -3.05 <= x0 <
 * -2.05, HZ below (and NaN). */
#define VBT_VEP_X0_EZ (-2.05)
#define VBT_VEP_X0_PZ (-3.05)
typedef enum vbt_vep_class { VBT_VEP_HZ = 0, VBT_VEP_PZ = 1, VBT_VEP_EZ = 2 } vbt_vep_class;

vbt_vep_class vbt_vep_x0_class(double x0);
/* "HZ", "PZ" or "EZ". */
const char *vbt_vep_class_name(vbt_vep_class c);

/* Data-informed starting x0 for MAP (vbt_vep_map_opts.x0_start): each
 * sensor's rise r_s = max_t y_ts - (median of its first `baseline`
 * samples), back-projected a_i = sum_s |G_si| r_s / sum_s |G_si|, scaled
 * to [0, 1] over the regions, and x0_i = mu_i + a_i^2 (x0_hi - mu_i) with
 * mu_i the region's prior mean: regions seen only by the sensors that
 * light up start near x0_hi (e.g. -1.5), the others at their prior mean.
 * A starting point, not an estimate.  VBT_EINVAL without data, VBT_ENOMEM. */
int vbt_vep_x0_from_data(const vbt_vep *m, size_t baseline, double x0_hi, double *x0);

/* ---- Laplace approximation and PSIS ----------------------------------- */

typedef struct vbt_vep_laplace_result {
    double khat;        /* Pareto k of the importance ratios (< 0.7: usable) */
    double ess;         /* effective sample size of the smoothed weights */
    double log_det_cov; /* log det of the Laplace covariance */
    double hess_h;      /* finite-difference step used for the Hessian */
} vbt_vep_laplace_result;

/* Laplace approximation at a mode theta_map: Hessian by central
 * differences of the exact gradient (symmetrised), Cholesky of its negative,
 * n_draws draws (stream (seed, 0)) into draws (n_draws x n_params,
 * unconstrained), their normalised PSIS-smoothed log weights into log_w
 * (n_draws; may be NULL) and k-hat into res.  VBT_ENUMERIC when the negative
 * Hessian is not positive definite. */
int vbt_vep_laplace(vbt_vep *m, const double *theta_map, size_t n_draws, uint64_t seed,
                    double *draws, double *log_w, vbt_vep_laplace_result *res,
                    vbt_msg *msg);

/* Pareto-smoothed importance sampling (Vehtari et al. 2024, JMLR 25(72)):
 * log_w (n raw log importance ratios) is replaced in place by normalised
 * smoothed log weights (log-sum-exp 0); the generalised Pareto fitted to the
 * M = min(n/5, 3 sqrt(n)) largest ratios by Zhang & Stephens (2009) gives
 * *khat.  n >= 5.  Returns VBT_EINVAL for n < 5, VBT_ENUMERIC when no ratio
 * is finite. */
int vbt_psis(double *log_w, size_t n, double *khat);

/* ---- SMC --------------------------------------------------------------- */

/* Likelihood-tempered SMC (vbt_smc.h) on the posterior in unconstrained
 * space: particles start as prior draws (vbt_vep_prior_draw, stream (seed,
 * particle)), the likelihood is the log posterior minus the log prior, and
 * every move is an HMC transition with the adjoint gradient.  Each of
 * o->n_threads threads works on a private copy of m (o->thread_ctx is
 * ignored); the particles do not depend on the thread count.  o NULL: the
 * defaults.  particles: n_particles x n_params, equally weighted posterior
 * draws (unconstrained; vbt_vep_constrain gives natural values).
 * res->log_evidence estimates log p(y) under the model's priors, which ranks
 * EZ hypotheses for one patient.  Errors: VBT_EINVAL (no data, bad options),
 * VBT_ENOMEM, VBT_ENUMERIC (no finite prior draw, or max_steps reached). */
int vbt_vep_smc(const vbt_vep *m, const vbt_smc_opts *o, double *particles,
                vbt_smc_result *res, vbt_msg *msg);

/* ---- presets ------------------------------------------------------------- */

/* The fit settings of the patient pipeline (vbt pipeline, docs/pipeline.md),
 * defined once (fitting/presets.c).  Names are those of vbt fit's options. */
typedef struct vbt_vep_pipeline_preset {
    const char *method;          /* "nuts" (also "map", "laplace") */
    const char *obs;             /* observation model: "seizure" */
    const char *data_norm;       /* "excess" */
    const char *gain_norm;       /* "power-abs" */
    size_t points;               /* time points of the fitted feature: 100 */
    double window;               /* model time the points span: 17.5 (dt = window / points) */
    double pre_scale, post_scale; /* feature window around the seizure: 0.69, 0.5 durations */
    size_t map_starts;           /* 128 */
    size_t map_polish;           /* 8: the starts polished */
    size_t map_hop_rounds;       /* 8: rounds of hops from the best mode (vbt_vep_map_opts) */
    size_t map_hops;             /* 6: hops per round */
    const char *map_init;        /* "data" */
    const char *nuts_metric;     /* "laplace": the mode's covariance as a fixed metric */
    size_t nuts_warmup, nuts_draws; /* 300, 500 */
    double nuts_adapt_delta;     /* 0.95 */
    vbt_vep_group_prior x0;      /* N(-3.5, 0.15) */
    vbt_vep_group_prior x_init, z_init; /* held at (-2, 4) */
    vbt_vep_scalar_prior tau0;   /* N(10, 5) on (2, inf) */
    vbt_vep_scalar_prior amp;    /* log-normal(0, 3) */
    vbt_vep_scalar_prior eps;    /* N(0, 1) on (0.05, inf) */
    vbt_vep_scalar_prior K;      /* global coupling: N(1, 0.1) on (0, inf), BVEP's
                                    (written to the prior file since the K
                                    and likelihood-weight trials of
                                    docs/validation.md) */
    double lik_weight;           /* vbt_vep_priors.lik_weight: 1 (0 = 1) */
    vbt_vep_group_prior gin;     /* vbt_vep_priors.gin: fixed at 0 (no input gains) */
} vbt_vep_pipeline_preset;

/* Fill *p with the pipeline's settings (values above). */
void vbt_vep_pipeline_preset_default(vbt_vep_pipeline_preset *p);

/* The preset's priors as the prior file the pipeline writes (keys x0,
 * x_init, z_init, tau0, amp, eps; vbt_vep_priors_load_json() reads it).
 * Returns a malloc'd string (free()), NULL when out of memory. */
char *vbt_vep_pipeline_prior_json(const vbt_vep_pipeline_preset *p);

/* ---- the model as a sampler target (vbt_sampler.h) --------------------- */

struct vbt_target;
typedef struct vbt_vep_target vbt_vep_target;

/* A target over m for the sampler table: n_ctx private copies of m (one per
 * context: at least the chains and threads the samplers will use), logp =
 * vbt_vep_logp, the prior and likelihood as vbt_vep_smc splits them
 * (vbt_vep_prior_draw, vbt_vep_logprior, log posterior minus log prior),
 * and find_mode = vbt_vep_map with the options *mo (NULL: the defaults),
 * except that n_starts, n_threads and seed come from the sampler options
 * (map_starts, n_threads, seed).  Through the table every sampler gives the
 * same bits as the direct call (vbt_vep_map, vbt_vep_laplace, vbt_vep_smc,
 * vbt_nuts_sample and vbt_advi on vbt_vep_logp) with the same seed.  m is
 * read during the call only; mo->x0_start is borrowed for the target's
 * life.  Errors: VBT_EINVAL (no data, n_ctx 0, every parameter fixed),
 * VBT_ENOMEM. */
int vbt_vep_target_alloc(vbt_vep_target **out, const vbt_vep *m, size_t n_ctx,
                         const vbt_vep_map_opts *mo, vbt_msg *msg);
void vbt_vep_target_free(vbt_vep_target *vt);

/* The target (valid while vt lives). */
const struct vbt_target *vbt_vep_target_get(const vbt_vep_target *vt);

/* The model copy of context k (e.g. for vbt_vep_constrain), NULL when out
 * of range. */
vbt_vep *vbt_vep_target_model(const vbt_vep_target *vt, size_t k);

/* The last mode search's multi-start outcome (NULL before any): its
 * result, and (each may be NULL) every start's final log posterior
 * (*n_starts of them) and point (*n_starts x n_params), owned by vt. */
const vbt_vep_map_result *vbt_vep_target_map_result(const vbt_vep_target *vt,
                                                    const double **lp_starts,
                                                    const double **theta_starts,
                                                    size_t *n_starts);

#ifdef __cplusplus
}
#endif
#endif
