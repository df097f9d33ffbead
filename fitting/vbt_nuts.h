/* vbt_nuts.h -- the No-U-Turn sampler as Stan defines it (Betancourt 2017,
 * arXiv:1701.02434; Stan reference manual "MCMC sampling"): multinomial
 * sampling of the trajectory, the generalised U-turn criterion checked
 * across merged subtrees, a maximum tree depth, dual-averaging step-size
 * adaptation (Hoffman & Gelman 2014) and Stan's windowed warm-up that
 * adapts a diagonal or a dense inverse metric.
 *
 * The sampler works on any log density given as a callback, so it is tested
 * on analytic targets; fitting/vbt_vep.h's model is one such target.
 *
 * One chain is an opaque handle used set / iterate style:
 *
 *   vbt_nuts_alloc(&s, n, logp, ctx, &opts, msg);
 *   vbt_nuts_set_inv_metric(s, cov);            optional, else identity
 *   vbt_nuts_init(s, theta0, seed, chain);      stream (seed, chain)
 *   for (i = 0; i < warmup + draws; i++)
 *       vbt_nuts_iterate(s, theta_out, &stats);  adapts while i < warmup
 *
 * vbt_nuts_sample() runs several chains on threads; chain c uses the random
 * stream (seed, c), so the draws do not depend on the number of threads.
 */
#ifndef VBT_NUTS_H
#define VBT_NUTS_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A log density: *lp = log p(theta) up to a constant and grad (length n) its
 * gradient.  Non-zero return or a non-finite *lp means "outside the
 * support": the sampler treats it as infinite energy (a divergence). */
typedef int (*vbt_logp_fn)(void *ctx, const double *theta, double *lp, double *grad);

typedef enum vbt_nuts_metric {
    VBT_NUTS_DIAG = 0,  /* diagonal inverse metric (Stan's diag_e) */
    VBT_NUTS_DENSE = 1  /* dense inverse metric (Stan's dense_e) */
} vbt_nuts_metric;

typedef struct vbt_nuts_opts {
    size_t max_depth;       /* 10: at most 2^max_depth - 1 leapfrog steps */
    double adapt_delta;     /* 0.8: target mean acceptance statistic */
    size_t warmup;          /* 1000 adaptation iterations (not returned) */
    size_t draws;           /* 1000 post-warm-up iterations */
    vbt_nuts_metric metric; /* VBT_NUTS_DIAG */
    int adapt_metric;       /* 1: windowed metric adaptation; 0: keep the given metric */
    double stepsize;        /* 1.0: initial step size (then Stan's heuristic search) */
    double stepsize_jitter; /* 0: uniform jitter of eps in (1 -+ jitter) */
    double gamma, t0, kappa;/* dual averaging: 0.05, 10, 0.75 (mu = log(10 eps)) */
    size_t init_buffer;     /* 75 */
    size_t term_buffer;     /* 50 */
    size_t base_window;     /* 25 (doubling slow windows) */
    double max_delta_h;     /* 1000: energy error that counts as a divergence */
} vbt_nuts_opts;

void vbt_nuts_opts_default(vbt_nuts_opts *o);

/* Sampler diagnostics of one iteration (Stan's lp__ ... energy__). */
typedef struct vbt_nuts_stats {
    double lp;            /* log density of the draw */
    double accept_stat;   /* mean Metropolis acceptance over the trajectory */
    double stepsize;      /* step size used */
    double energy;        /* Hamiltonian of the draw */
    int treedepth;
    int divergent;
    size_t n_leapfrog;
} vbt_nuts_stats;

typedef struct vbt_nuts vbt_nuts;

/* One chain over n parameters.  logp and ctx are borrowed (ctx is used by
 * this chain only).  opts NULL: defaults.  VBT_EINVAL for n == 0,
 * max_depth outside [1, 30], adapt_delta outside (0, 1); VBT_ENOMEM. */
int vbt_nuts_alloc(vbt_nuts **out, size_t n, vbt_logp_fn logp, void *ctx,
                   const vbt_nuts_opts *opts, vbt_msg *msg);
void vbt_nuts_free(vbt_nuts *s);

/* Initial inverse metric (the covariance the sampler expects): n values for
 * VBT_NUTS_DIAG, n x n row-major symmetric positive definite for
 * VBT_NUTS_DENSE (a diagonal metric takes the diagonal of an n x n matrix
 * when full != 0).  VBT_ENUMERIC when not positive (definite). */
int vbt_nuts_set_inv_metric(vbt_nuts *s, const double *inv_metric, int full);

/* Start (or restart) the chain at theta with stream (seed, stream): resets
 * the warm-up schedule and the iteration count, evaluates theta and runs
 * Stan's step-size heuristic.  VBT_ENUMERIC when logp(theta) is not finite
 * or no step size gives a finite energy. */
int vbt_nuts_init(vbt_nuts *s, const double *theta, uint64_t seed, uint64_t stream);

/* One NUTS transition.  While fewer than opts.warmup iterations have been
 * made the step size and metric adapt (the step size is set to the dual
 * averaging's x-bar after the last warm-up iteration).  theta_out (n, may
 * be NULL) receives the draw, stats (may be NULL) its diagnostics.  No
 * allocation.  VBT_EINVAL before vbt_nuts_init. */
int vbt_nuts_iterate(vbt_nuts *s, double *theta_out, vbt_nuts_stats *stats);

/* Getters. */
size_t vbt_nuts_n_params(const vbt_nuts *s);
size_t vbt_nuts_iteration(const vbt_nuts *s);      /* transitions made since init */
double vbt_nuts_stepsize(const vbt_nuts *s);       /* current nominal step size */
const double *vbt_nuts_inv_metric(const vbt_nuts *s); /* n or n x n */
const double *vbt_nuts_position(const vbt_nuts *s);

/* ---- several chains on threads ---------------------------------------- */

/* Called by the worker threads (serialise inside if needed) after every
 * iteration of a chain; a non-zero return stops every chain (VBT_EINVAL
 * "interrupted"). */
typedef int (*vbt_nuts_progress_fn)(void *pctx, size_t chain, size_t iteration,
                                    size_t total, double stepsize, size_t divergences);

typedef struct vbt_nuts_run {
    vbt_logp_fn logp;
    void *const *ctx;        /* n_chains contexts, one per chain */
    size_t n_params, n_chains, n_threads;
    uint64_t seed;           /* chain c uses stream (seed, c) */
    const double *inits;     /* n_chains x n_params starting points */
    const double *inv_metric;/* NULL (identity), or n (diag) or n x n (dense) */
    int inv_metric_full;     /* 1: inv_metric is n x n even for a diagonal metric */
    vbt_nuts_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} vbt_nuts_run;

typedef struct vbt_nuts_chain_info {
    double stepsize;         /* adapted step size */
    size_t divergences;      /* post-warm-up */
    size_t max_depth_hits;   /* post-warm-up draws at the maximum tree depth */
    size_t n_leapfrog;       /* post-warm-up gradient evaluations */
    double wall_s;           /* seconds for this chain (warm-up included) */
    int status;              /* VBT_OK or the chain's error */
} vbt_nuts_chain_info;

/* Run every chain: draws (n_chains x opts.draws x n_params, may be NULL),
 * stats (n_chains x opts.draws, may be NULL), info (n_chains, may be
 * NULL).  A chain that fails to start (VBT_ENUMERIC) is reported in info
 * and in the return value; the others run to the end.  VBT_EINVAL,
 * VBT_ENOMEM. */
int vbt_nuts_sample(const vbt_nuts_run *run, const vbt_nuts_opts *opts, double *draws,
                    vbt_nuts_stats *stats, vbt_nuts_chain_info *info, vbt_msg *msg);

/* ---- Laplace metric --------------------------------------------------- */

/* Covariance of the Laplace approximation at theta: the negative Hessian by
 * central differences of the gradient (step h, 1e-5 when h <= 0;
 * symmetrised), inverted by Cholesky.  cov: n x n.  VBT_ENUMERIC when a
 * gradient is not finite or the negative Hessian is not positive definite. */
int vbt_nuts_laplace_cov(vbt_logp_fn logp, void *ctx, size_t n, const double *theta,
                         double h, double *cov, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
