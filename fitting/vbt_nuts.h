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
 * Optionally (opts.jump_n) each transition is followed by Metropolis "mode
 * jumps" of single coordinates, which leave the target invariant and let a
 * chain cross between modes that NUTS's trajectories do not connect.
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
 *
 * A chain's whole state between two iterations (position, gradient, step
 * size, dual averaging, metric, warm-up accumulators and window, iteration
 * count, random stream) can be saved into a buffer and loaded into a fresh
 * handle; the loaded chain then makes the same draws, bit for bit, as the
 * one that was saved would have made.  vbt_nuts_sample() hands such states
 * to a checkpoint callback and can resume chains from them.
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
    /* Mode jumps (jump_n 0, the default: none; Stan's NUTS).  After every
     * transition, jump_n Metropolis proposals, each moving one coordinate
     * i = jump_coords[k] (k uniform over jump_n_coords) by
     * +-jump_scale[k] U(jump_lo, jump_hi), sign and size drawn from the
     * chain's stream.  The proposal is symmetric, so it is accepted with
     * min(1, p(theta') / p(theta)) and leaves the target invariant: the
     * chain still samples p.  It crosses between modes that differ in one
     * coordinate by more than a trajectory travels, which NUTS alone
     * almost never does.  Each proposal costs one logp with gradient.
     * jump_coords and jump_scale (NULL: 1) are borrowed and must outlive
     * the sampler. */
    size_t jump_n;
    const size_t *jump_coords;
    const double *jump_scale;
    size_t jump_n_coords;
    double jump_lo, jump_hi;
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
    int jumps;            /* mode jumps accepted after the transition (opts.jump_n) */
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

/* ---- saving and restoring a chain ------------------------------------- */

/* Bytes of a saved state of s: fixed for a given n, metric and options. */
size_t vbt_nuts_state_size(const vbt_nuts *s);

/* Write the state of s (after vbt_nuts_init, between iterations) into buf
 * (len >= vbt_nuts_state_size(s)): a versioned header, the sampler options,
 * the state and a SHA-256 of it all, in this machine's byte order.  No
 * allocation.  VBT_EINVAL before vbt_nuts_init or when len is too small. */
int vbt_nuts_state_save(const vbt_nuts *s, void *buf, size_t len);

/* Load a state saved by vbt_nuts_state_save into s, which must have been
 * allocated with the same n and options (logp and ctx are s's own);
 * vbt_nuts_init is then not needed.  s is unchanged on error: VBT_EFORMAT
 * for a buffer that is not a state, is truncated or corrupt (checksum),
 * comes from another version, byte order, number of parameters, metric or
 * options, or holds values out of range; VBT_EINVAL for NULL arguments. */
int vbt_nuts_state_load(vbt_nuts *s, const void *buf, size_t len, vbt_msg *msg);

/* ---- several chains on threads ---------------------------------------- */

/* Called by the worker threads (serialise inside if needed) after every
 * iteration of a chain; a non-zero return stops every chain (VBT_EINVAL
 * "interrupted"). */
typedef int (*vbt_nuts_progress_fn)(void *pctx, size_t chain, size_t iteration,
                                    size_t total, double stepsize, size_t divergences);

/* Called by a worker thread (serialise inside if needed) with the saved
 * state (vbt_nuts_state_save, len bytes, valid during the call only) of
 * chain `chain` after `iteration` of its transitions: every checkpoint_every
 * iterations before the last, and once more when the chains stop early
 * (interruption).  When it is called, the chain's draws and stats before
 * post-warm-up index iteration - warmup are final; the state is all that
 * is needed, with them, to resume the chain.  A non-zero return stops every
 * chain, as the progress callback's does. */
typedef int (*vbt_nuts_checkpoint_fn)(void *cctx, size_t chain, size_t iteration,
                                      const void *state, size_t len);

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
    vbt_nuts_checkpoint_fn checkpoint; /* may be NULL */
    void *checkpoint_ctx;
    size_t checkpoint_every; /* iterations between checkpoints; 0: only on a stop */
    /* Resuming: NULL, or n_chains saved states (resume[c] NULL: chain c
     * starts afresh from its initial point) of resume_len[c] bytes.  A
     * resumed chain continues from the state's iteration k; the caller puts
     * the chain's earlier draws and stats (post-warm-up indices below
     * k - warmup) in draws and stats.  inits and inv_metric are not used for
     * it. */
    const void *const *resume;
    const size_t *resume_len;
} vbt_nuts_run;

typedef struct vbt_nuts_chain_info {
    double stepsize;         /* adapted step size */
    size_t divergences;      /* post-warm-up (a resumed chain: counted from stats) */
    size_t max_depth_hits;   /* post-warm-up draws at the maximum tree depth */
    size_t n_leapfrog;       /* post-warm-up gradient evaluations (mode jumps excluded) */
    size_t jumps_accepted;   /* post-warm-up mode jumps accepted, of jump_n per draw */
    double wall_s;           /* seconds spent on this chain in this call (warm-up included;
                                chains run in slices on whichever thread is free) */
    int status;              /* VBT_OK or the chain's error */
} vbt_nuts_chain_info;

/* Run every chain: draws (n_chains x opts.draws x n_params, may be NULL),
 * stats (n_chains x opts.draws, may be NULL), info (n_chains, may be
 * NULL).  A chain that fails to start (VBT_ENUMERIC) is reported in info
 * and in the return value; the others run to the end.  VBT_EINVAL,
 * VBT_ENOMEM; VBT_EFORMAT when a resume state is refused by
 * vbt_nuts_state_load or belongs to another seed or chain.  Results do not
 * depend on n_threads, nor on whether and where the run was resumed. */
int vbt_nuts_sample(const vbt_nuts_run *run, const vbt_nuts_opts *opts, double *draws,
                    vbt_nuts_stats *stats, vbt_nuts_chain_info *info, vbt_msg *msg);

/* A chain's jittered starting point around a mode: theta_i = centre_i +
 * s_i z_i, z ~ N(0, I) from the stream (seed, 2^62 + chain), s_i = 0.5
 * sqrt(cov_ii) with cov the n x n Laplace covariance at the mode, or 0.1 when
 * cov is NULL.  The streams are apart from the chains' own (seed, chain). */
void vbt_nuts_jitter(const double *centre, const double *cov, size_t n, uint64_t seed,
                     uint64_t chain, double *theta);

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
