/* vbt_sampler.h -- the samplers as one type table over one target.
 *
 * Every inference method of vbt (multi-start MAP, MAP + Laplace with PSIS,
 * NUTS chains, ADVI, likelihood-tempered SMC) is a constant table
 * (vbt_sampler_type) exported as one pointer, in GSL's manner
 * (gsl_multimin_fminimizer_type).  Each runs on the same target: a log
 * density with its gradient, and optionally the prior and likelihood apart
 * (SMC tempers the likelihood) and the model's own mode search.  The driver
 * (fitting/vbt_fit.h) never changes when a sampler is added; the registry
 * lets the command line list them and the tests run one battery over every
 * one of them.
 *
 *   vbt_sampler_opts o;
 *   vbt_sampler_opts_default(&o);
 *   o.seed = 42;
 *   vbt_sampler_result r = {0};
 *   vbt_sampler_run(vbt_sampler_nuts, &target, &o, &r, &msg);
 *   ... r.draws ...
 *   vbt_sampler_result_clear(&r);
 */
#ifndef VBT_SAMPLER_H
#define VBT_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "vbt_advi.h"
#include "vbt_common.h"
#include "vbt_nuts.h"
#include "vbt_smc.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vbt_sampler_opts;

/* The density sampled, in unconstrained coordinates.  logp is required; the
 * rest is optional (NULL) unless a sampler's flags say it needs it.
 *
 * ctx holds n_ctx contexts: worker k (a chain, a start, a thread) uses
 * ctx[k] and no other, so the callbacks may keep per-context scratch space;
 * n_ctx must be at least the number of chains (nuts) and threads (smc).
 * logp is called with grad NULL where a sampler needs the value only (the
 * log density of each draw, importance weights): a target must accept it. */
typedef struct vbt_target {
    size_t n;                 /* parameters */
    vbt_logp_fn logp;         /* log density (up to a constant) and gradient */
    /* the prior and the likelihood apart (VBT_SAMPLER_NEEDS_PRIOR), with
     * logp = log prior + log likelihood; stream (seed, stream) for draws */
    void (*draw_prior)(void *ctx, uint64_t seed, uint64_t stream, double *theta);
    double (*log_prior_grad)(void *ctx, const double *theta, double *grad);
    double (*log_lik_grad)(void *ctx, const double *theta, double *grad);
    /* the model's own mode search (e.g. vbt_vep_map's multi-start L-BFGS
     * with a Newton polish), or NULL for the generic multi-start search:
     * writes the mode (n) and its log density */
    int (*find_mode)(void *ctx, const struct vbt_sampler_opts *o, double *mode, double *lp,
                     vbt_msg *msg);
    void *const *ctx;
    size_t n_ctx;
    /* optional value-only forms of log_prior_grad and log_lik_grad (NULL:
     * those are called with scratch space for the gradient) */
    double (*log_prior)(void *ctx, const double *theta);
    double (*log_lik)(void *ctx, const double *theta);
} vbt_target;

/* Progress of a running sampler: fraction done in [0, 1] and a short
 * status; a non-zero return stops the run (VBT_EINTR-like: the sampler
 * returns what it has with VBT_ERANGE). */
typedef int (*vbt_sampler_progress_fn)(void *pctx, double fraction, const char *status);

typedef struct vbt_sampler_opts {
    size_t n_chains;          /* 4: chains (nuts), independent runs (smc), 1 otherwise */
    size_t n_draws;           /* 1000: draws per chain; smc: particles per run */
    size_t n_threads;         /* 1; the draws never depend on it */
    uint64_t seed;            /* 0 */
    const double *mode;       /* NULL, or n: a mode already found (laplace, advi, nuts) */
    const double *inits;      /* NULL, or n_chains x n starting points (nuts's chains;
                                 the generic mode search's starts) */
    size_t map_starts;        /* 16: starts of the generic mode search */
    vbt_nuts_opts nuts;       /* vbt_nuts_opts_default */
    const double *inv_metric; /* nuts: NULL (identity), n (diag) or n x n */
    int inv_metric_full;      /* nuts: inv_metric is n x n even for a diagonal metric */
    vbt_nuts_checkpoint_fn checkpoint;  /* nuts: as vbt_nuts_run */
    void *checkpoint_ctx;
    size_t checkpoint_every;
    const void *const *resume;
    const size_t *resume_len;
    vbt_advi_opts advi;       /* vbt_advi_opts_default */
    vbt_smc_opts smc;         /* vbt_smc_opts_default (n_particles: n_draws wins) */
    vbt_sampler_progress_fn progress;
    void *progress_ctx;
    /* nuts starting from a mode (o->mode or found, no o->inits): chain c
     * starts at centres[c mod n_centres] (n_centres x n; NULL: the mode)
     * jittered by vbt_nuts_jitter with the Laplace covariance at the mode */
    const double *centres;
    size_t n_centres;
    /* nuts: the per-chain progress of vbt_nuts_run, used instead of
     * progress when set */
    vbt_nuts_progress_fn nuts_progress;
    void *nuts_progress_ctx;
    /* nuts: NULL, or caller-owned buffers (n_chains x n_draws x n and
     * n_chains x n_draws) the chains write into as they go: a checkpoint
     * callback reads the draws made so far there, and when resuming they
     * hold the earlier draws (vbt_nuts_run.resume); r->draws and r->stats
     * are copies of them at the end */
    double *nuts_draws;
    vbt_nuts_stats *nuts_stats;
} vbt_sampler_opts;

void vbt_sampler_opts_default(vbt_sampler_opts *o);

/* What a sampler returns; every array is allocated by the sampler and freed
 * by vbt_sampler_result_clear (fields a sampler does not produce are NULL or
 * NAN). */
typedef struct vbt_sampler_result {
    size_t n, n_chains, n_draws;
    double *draws;            /* n_chains x n_draws x n */
    double *lp;               /* n_chains x n_draws: log density of each draw */
    double *log_w;            /* NULL, or n_chains x n_draws normalised log weights */
    double *mode;             /* NULL, or n: the mode (map, laplace, advi) */
    double mode_lp;
    double khat;              /* laplace: PSIS Pareto k */
    double log_evidence;      /* smc: log p(y) (pooled over runs) */
    double *run_log_evidence; /* smc: n_chains */
    vbt_nuts_stats *stats;    /* nuts: n_chains x n_draws */
    vbt_nuts_chain_info *info;/* nuts: n_chains */
    /* nuts: the starting points (n_chains x n); the Laplace covariance at
     * the mode (n x n) that was the initial inverse metric, NULL when not
     * computed or when it failed (cov_msg then says why) */
    double *inits;
    double *cov;
    vbt_msg cov_msg;
    double ess;               /* laplace: ESS of the PSIS weights */
    double log_det_cov;       /* laplace: log det of the Laplace covariance */
    double hess_h;            /* laplace: finite-difference step of the Hessian */
    vbt_advi_result advi;     /* advi: the fit */
    double *advi_mu;          /* advi: n, the variational mean */
    double *advi_scale;       /* advi: n (mean-field) or n x n lower Cholesky (full-rank) */
    vbt_smc_result *smc;      /* smc: n_chains runs */
    double log_evidence_sd;   /* smc: sd of the runs' log evidences (NAN for one run) */
    double *temperatures;     /* smc: the first run's temperature after each step */
    size_t n_temperatures;
} vbt_sampler_result;

void vbt_sampler_result_clear(vbt_sampler_result *r);

enum {
    VBT_SAMPLER_EXACT = 1u << 0,       /* draws converge to the target (MCMC, SMC) */
    VBT_SAMPLER_CHAINS = 1u << 1,      /* independent chains: R-hat and ESS apply */
    VBT_SAMPLER_WEIGHTED = 1u << 2,    /* draws carry importance weights (log_w) */
    VBT_SAMPLER_EVIDENCE = 1u << 3,    /* estimates log p(y) */
    VBT_SAMPLER_NEEDS_PRIOR = 1u << 4, /* needs draw_prior, log_prior_grad, log_lik_grad */
    VBT_SAMPLER_POINT = 1u << 5        /* a point estimate: one draw, the mode */
};

typedef struct vbt_sampler_type {
    const char *name;         /* "map", "laplace", "nuts", "advi", "smc" */
    const char *description;  /* one line */
    unsigned flags;
    int (*run)(const vbt_target *t, const vbt_sampler_opts *o, vbt_sampler_result *r,
               vbt_msg *msg);
} vbt_sampler_type;

extern const vbt_sampler_type *const vbt_sampler_map;
extern const vbt_sampler_type *const vbt_sampler_laplace;
extern const vbt_sampler_type *const vbt_sampler_nuts;
extern const vbt_sampler_type *const vbt_sampler_advi;
extern const vbt_sampler_type *const vbt_sampler_smc;

/* Every sampler, NULL-terminated. */
extern const vbt_sampler_type *const vbt_sampler_types[];

/* The sampler called name, or NULL. */
const vbt_sampler_type *vbt_sampler_find(const char *name);

/* Check the target against the type's needs, then run it.  VBT_EINVAL (a
 * NULL argument, n == 0, a missing callback the type needs, too few
 * contexts), then whatever the type returns.  *r is overwritten (not freed)
 * on entry; on error it holds what the sampler made before it stopped, to
 * be freed by vbt_sampler_result_clear all the same.
 *
 * Seeds and sizes come from o, and override those in o->nuts, o->advi and
 * o->smc: o->seed (advi.seed, smc.seed), o->n_draws (nuts.draws,
 * smc.n_particles), o->n_threads (smc.n_threads; smc's thread_ctx is the
 * target's contexts). */
int vbt_sampler_run(const vbt_sampler_type *type, const vbt_target *t,
                    const vbt_sampler_opts *o, vbt_sampler_result *r, vbt_msg *msg);

/* The starting points and initial inverse metric vbt_sampler_nuts uses
 * when o->inits is NULL (so that a caller can save them, as a checkpoint
 * does, and pass them back as o->inits and o->inv_metric): from a mode
 * (o->mode, else the target's, found as vbt_sampler_map finds it, when the
 * target has no draw_prior), chain c at centres[c mod n_centres] (or the
 * mode) jittered by vbt_nuts_jitter(..., o->seed, c, ...) with the Laplace
 * covariance at the mode (vbt_nuts_laplace_cov on ctx[0]), or 0.1 when that
 * fails; without a mode, prior draws of stream (o->seed, 2^62 + c).
 * inits: n_chains x n.  cov (n x n, may be NULL) receives the covariance and
 * *cov_ok (may be NULL) 1 when it was computed, else 0 with the reason in
 * cov_msg (may be NULL).  VBT_EINVAL, VBT_ENOMEM, the mode search's errors. */
int vbt_sampler_nuts_inits(const vbt_target *t, const vbt_sampler_opts *o, double *inits,
                           double *cov, int *cov_ok, vbt_msg *cov_msg, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
