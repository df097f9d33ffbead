/* vbt_fit.h -- the fit object: the whole procedure of `vbt fit` as a library
 * call.  Given a connectome, a gain matrix [sensor, region], an SEEG feature
 * [time, sensor] and the priors, it normalises the inputs (data_norm,
 * gain_norm), builds the VEP model (vbt_vep.h), runs the chosen sampler
 * (MAP -> Laplace | NUTS | ADVI, or SMC from the prior), excludes stuck NUTS
 * chains, summarises every parameter, checks the diagnostics and gives ONE
 * verdict (trustworthy, or not with the list of reasons), classifies every
 * region (P(EZ), P(PZ), P(HZ)), computes PSIS-LOO (nuts) and writes every
 * output file of `vbt fit` (summary.json, summary.csv, regions.csv,
 * draws.npy, draws_chainN.csv, sampler.npy, map_starts.csv, predictive.npy,
 * data.npy, loo_pointwise.npy, log_weights.npy).  NUTS runs can be saved to
 * a checkpoint file and resumed; the resumed run ends with the draws of an
 * uninterrupted one.
 *
 *   vbt_fit_opts o;
 *   vbt_fit_opts_default(&o);
 *   o.sampler = vbt_sampler_nuts;
 *   o.seed = 42;
 *   vbt_vep_priors pr;
 *   vbt_fit_priors_preset(&pr);
 *   vbt_fit *f;
 *   if (vbt_fit_alloc(&f, conn, &gain, &data, &pr, &o, &msg)) ...
 *   vbt_fit_set_progress(f, on_progress, ctx);       optional
 *   if (vbt_fit_run(f, &msg)) ...
 *   if (!vbt_fit_trustworthy(f))
 *       for (i = 0; i < vbt_fit_n_failures(f); i++) ... vbt_fit_failure(f, i) ...
 *   vbt_fit_write_dir(f, "out", 1, &msg);
 *   vbt_fit_free(f);
 *
 * The library never prints: what `vbt fit` prints as it goes comes through
 * the log callback (vbt_fit_set_log), the progress bar through the progress
 * callback.  Random streams depend on the seed only, never on n_threads.
 * A handle is not safe for concurrent use.
 */
#ifndef VBT_FIT_H
#define VBT_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "vbt_advi.h"
#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_diagnostics.h"
#include "vbt_io.h"
#include "vbt_loo.h"
#include "vbt_nuts.h"
#include "vbt_sampler.h"
#include "vbt_smc.h"
#include "vbt_vep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options ------------------------------------------------------------- */

#define VBT_FIT_OPTS_VERSION 1u

/* Feature normalisation before the fit (b_s: the median of the first
 * `baseline` samples of channel s). */
typedef enum vbt_fit_data_norm {
    VBT_FIT_DATA_NONE = 0,
    VBT_FIT_DATA_POWER = 1,    /* exp(y - b) - 1, then divided by the largest value */
    VBT_FIT_DATA_EXCESS = 2,   /* exp(y) - exp(b), then divided by the largest value */
    VBT_FIT_DATA_BASELINE = 3  /* y - b */
} vbt_fit_data_norm;

/* Gain normalisation before the fit. */
typedef enum vbt_fit_gain_norm {
    VBT_FIT_GAIN_NONE = 0,
    VBT_FIT_GAIN_MAX = 1,      /* G / max |G| */
    VBT_FIT_GAIN_POWER = 2,    /* G_si^2 / sum_j G_sj^2 */
    VBT_FIT_GAIN_POWER_ABS = 3 /* G^2 / (median over sensors of max_i G_si^2) */
} vbt_fit_gain_norm;

/* NUTS inverse metric. */
typedef enum vbt_fit_metric {
    VBT_FIT_METRIC_DIAG = 0,   /* diagonal, adapted in warm-up from the Laplace covariance */
    VBT_FIT_METRIC_DENSE = 1,  /* dense, adapted likewise */
    VBT_FIT_METRIC_LAPLACE = 2 /* the dense Laplace covariance at the MAP, kept */
} vbt_fit_metric;

/* NUTS starting points. */
typedef enum vbt_fit_init {
    VBT_FIT_INIT_MAP = 0,   /* the best MAP mode jittered by half a Laplace sd */
    VBT_FIT_INIT_MODES = 1, /* chain c at the c-th best distinct MAP mode, cycling */
    VBT_FIT_INIT_PRIOR = 2  /* prior draws, unit metric, no MAP */
} vbt_fit_init;

/* MAP starting points. */
typedef enum vbt_fit_map_init {
    VBT_FIT_MAP_DATA = 0,  /* even starts at x0 back-projected from the data, odd at prior draws */
    VBT_FIT_MAP_PRIOR = 1  /* every start a prior draw */
} vbt_fit_map_init;

/* The sensor offsets. */
typedef enum vbt_fit_offsets {
    VBT_FIT_OFFSETS_PRIORS = 0,   /* as the priors' off_marginal says */
    VBT_FIT_OFFSETS_MARGINAL = 1, /* integrated out of the likelihood */
    VBT_FIT_OFFSETS_SAMPLE = 2    /* one free parameter per offset */
} vbt_fit_offsets;

/* Every scientific option of `vbt fit`; the defaults (vbt_fit_opts_default)
 * are the command's.  Counts in parentheses are the defaults. */
typedef struct vbt_fit_opts {
    unsigned version;                /* VBT_FIT_OPTS_VERSION */
    const vbt_sampler_type *sampler; /* vbt_sampler_nuts; map, laplace, advi, smc */
    /* the model */
    vbt_vep_scheme scheme;           /* VBT_VEP_EULER */
    double dt;                       /* 0.1: time between samples (model time units) */
    size_t steps;                    /* 1: integration steps per sample */
    vbt_vep_obs obs;                 /* VBT_VEP_OBS_LINEAR */
    double seizure_x, seizure_width; /* -1, 0.1: VBT_VEP_OBS_SEIZURE's step */
    vbt_normalize normalize;         /* VBT_NORMALIZE_MAX: connectome weights */
    vbt_fit_offsets offsets;         /* VBT_FIT_OFFSETS_PRIORS */
    /* the inputs */
    vbt_fit_data_norm data_norm;     /* VBT_FIT_DATA_NONE */
    vbt_fit_gain_norm gain_norm;     /* VBT_FIT_GAIN_NONE */
    size_t baseline;                 /* 5: pre-ictal samples (data_norm, map_init data) */
    /* MAP (every sampler but smc, and nuts with init prior) */
    size_t starts;                   /* 16 */
    vbt_fit_map_init map_init;       /* VBT_FIT_MAP_DATA */
    size_t map_iter;                 /* 100: L-BFGS iterations per start */
    size_t polish;                   /* 16: starts polished (0: all) */
    size_t hop_rounds;               /* 0: rounds of hops after the polish (vbt_vep_map_opts) */
    size_t hops;                     /* 6: hops per round */
    /* NUTS (draws also: laplace and advi draws) */
    size_t chains;                   /* 4 (at most VBT_FIT_MAX_CHAINS) */
    size_t warmup;                   /* 1000 */
    size_t draws;                    /* 1000: per chain */
    size_t max_depth;                /* 10 */
    double adapt_delta;              /* 0.8 */
    vbt_fit_metric metric;           /* VBT_FIT_METRIC_DIAG */
    vbt_fit_init init;               /* VBT_FIT_INIT_MAP */
    size_t jumps;                    /* 0: x0 mode jumps per transition */
    /* ADVI */
    vbt_advi_family advi_family;     /* VBT_ADVI_MEANFIELD */
    /* SMC */
    size_t particles;                /* 512: per run (the draws) */
    double smc_ess;                  /* 0.5 */
    size_t smc_moves;                /* 10 */
    size_t leapfrog;                 /* 10 */
    size_t smc_runs;                 /* 1: independent runs, seeds seed + k 2^32 */
    /* execution (never changes the draws) */
    size_t threads;                  /* 1 */
    uint64_t seed;                   /* 0 */
} vbt_fit_opts;

#define VBT_FIT_MAX_CHAINS 64

/* Fill *o with `vbt fit`'s defaults (version set). */
void vbt_fit_opts_default(vbt_fit_opts *o);

/* `vbt fit`'s priors: vbt_vep_priors_default() with the offsets integrated
 * out (off_marginal = 1); a prior file is read on top of these. */
void vbt_fit_priors_preset(vbt_vep_priors *p);

/* ---- the handle -------------------------------------------------------------- */

typedef struct vbt_fit vbt_fit;

/* Check the inputs and options, copy the gain and the data and normalise the
 * copies (data_norm, gain_norm), build the model.  conn is borrowed and must
 * outlive the handle (its labels name the regions); gain [sensor, region]
 * and data [time, sensor] are copied; priors NULL: vbt_fit_priors_preset().
 * Errors (*out NULL then): VBT_EINVAL (a NULL argument, an option out of
 * range, an unknown opts version, shapes that do not match, a zero gain
 * under a gain_norm, a feature that never rises above its baseline under
 * data_norm power|excess), VBT_ERANGE, VBT_ENUMERIC, VBT_ENOMEM; the
 * message names the problem. */
int vbt_fit_alloc(vbt_fit **out, const vbt_connectome *conn, const vbt_array *gain,
                  const vbt_array *data, const vbt_vep_priors *priors, const vbt_fit_opts *o,
                  vbt_msg *msg);

/* Free the handle and everything it owns; NULL is a no-op. */
void vbt_fit_free(vbt_fit *f);

/* What the fit prints as it goes ("MAP: 16 starts, ...", warnings): level
 * VBT_FIT_LOG_INFO or VBT_FIT_LOG_WARNING (the text then begins with
 * "WARNING: "), one line without a newline.  May be called from worker
 * threads, never two at once. */
enum { VBT_FIT_LOG_INFO = 0, VBT_FIT_LOG_WARNING = 1 };
typedef void (*vbt_fit_log_fn)(void *ctx, int level, const char *text);
void vbt_fit_set_log(vbt_fit *f, vbt_fit_log_fn fn, void *ctx);

/* Progress.  stage "nuts": chain (0-based) at iteration (1-based) of
 * total (warmup + draws), the chain's step size and divergences so far,
 * fraction: of all chains' iterations; stage "done": once, when the
 * sampling stage has ended (fraction 1).  Called from worker threads, never
 * two at once.  A non-zero return stops the run: vbt_fit_run then fails
 * ("nuts sample: interrupted", after a NUTS run has saved its checkpoint
 * when it has one; "fit: interrupted" at "done"). */
typedef struct vbt_fit_progress {
    const char *stage;
    size_t chain, n_chains, iteration, total;
    double stepsize;
    size_t divergences;
    double fraction;
} vbt_fit_progress;
typedef int (*vbt_fit_progress_fn)(void *ctx, const vbt_fit_progress *p);
void vbt_fit_set_progress(vbt_fit *f, vbt_fit_progress_fn fn, void *ctx);

/* NUTS from the caller's starting points instead of the MAP stage: chain c
 * starts at inits[c] (chains x n_params, unconstrained), with inv_metric
 * (n_params x n_params, NULL: the unit metric) as the initial inverse
 * metric, adapted as the options say.  Copied.  No MAP stage runs (no "map"
 * in summary.json, no map_starts.csv).  VBT_EINVAL for another sampler or
 * after the run, VBT_ENOMEM. */
int vbt_fit_set_inits(vbt_fit *f, const double *inits, const double *inv_metric, vbt_msg *msg);

/* ---- checkpoint and resume (nuts) ------------------------------------------ */

/* The checkpoint path of an output directory: OUTDIR.checkpoint (trailing
 * slashes dropped).  VBT_ERANGE when it does not fit in n. */
int vbt_fit_checkpoint_path(const char *outdir, char *buf, size_t n);

/* Called after each checkpoint written, with the iterations made so far by
 * all chains together (a test may stop the process there as a kill would). */
typedef void (*vbt_fit_checkpoint_fn)(void *ctx, size_t iterations);

/* Save a NUTS run to `path` (atomically: temporary file, fsync, rename)
 * after the MAP stage, every `every` iterations of each chain (0: only when
 * stopped) and when stopped.  record (len bytes, may be NULL) is the
 * caller's own record of the run (e.g. its command line), stored as it is
 * and given back by vbt_fit_checkpoint_record().  A write failure during
 * sampling is logged once as a warning and sampling goes on.  Ignored for
 * other samplers.  The path and record are copied.  VBT_EINVAL, VBT_ENOMEM. */
int vbt_fit_set_checkpoint(vbt_fit *f, const char *path, size_t every, const void *record,
                           size_t len, vbt_fit_checkpoint_fn on_saved, void *ctx,
                           vbt_msg *msg);

/* Read the caller record of the checkpoint file `path` (checking the whole
 * file: format, byte order, SHA-256): *record (malloc'd, free()) and *len.
 * VBT_EIO, VBT_EFORMAT ("'path': truncated or corrupt"), VBT_ENOMEM. */
int vbt_fit_checkpoint_record(const char *path, void **record, size_t *len, vbt_msg *msg);

/* Continue the run saved in `path`: the next vbt_fit_run() takes the MAP
 * stage, the chains' starts and metric, and the chains' states and draws
 * from it, and goes on saving to `path` (as vbt_fit_set_checkpoint with
 * the stored record).  The fit must be set up as the saved run was:
 * VBT_EINVAL "the resolved options differ from the checkpoint's" when its
 * sizes (parameters, chains, draws, warm-up) differ; VBT_EIO, VBT_EFORMAT
 * for the file.  Call vbt_fit_set_checkpoint() first to set the interval
 * and hook (its path is then replaced by this one). */
int vbt_fit_resume(vbt_fit *f, const char *path, vbt_msg *msg);

/* ---- chains apart (nuts): a fit's chains in several processes ------------------ */

/* How `vbt cohort run` spreads one fit's chains over MPI ranks, with the
 * draws of the fit run in one piece:
 *   1. one process runs the fit with a checkpoint (vbt_fit_set_checkpoint)
 *      and stops it when sampling starts (its progress callback returns
 *      non-zero at stage "nuts"): the checkpoint S holds the MAP stage and
 *      every chain's start;
 *   2. for each chain c, any process: a fit set up as the first,
 *      vbt_fit_resume(f, S or the chain's own file after a kill), then
 *      vbt_fit_run_chain(f, c, CHAIN_FILE_c);
 *   3. vbt_fit_merge_chains(CHAIN_FILEs, n, OUT) once every chain ended,
 *      then a fit set up as the first, vbt_fit_resume(f, OUT) and
 *      vbt_fit_run(f): the outputs of an uninterrupted run (draws, summaries,
 *      checks, LOO; the timings aside). */

/* Run chain `chain` of f alone, to its last iteration: f is a NUTS fit
 * resumed from a checkpoint of this run that holds its starts (step 1's, or
 * this chain's file); the chain continues from its state there when it has
 * one.  Saves the chain to `path` (the resumed checkpoint with this chain's
 * state, draws and statistics: other chains as they were there) every
 * checkpoint interval (vbt_fit_set_checkpoint's `every`), when the progress
 * callback stops it, and at its end.  The chain's draws are those of the
 * same chain in vbt_fit_run().  f cannot be run afterwards.  VBT_EINVAL
 * (not a resumed NUTS fit, chain out of range, interrupted), VBT_ENUMERIC
 * (the chain cannot start), VBT_EIO, VBT_ENOMEM. */
int vbt_fit_run_chain(vbt_fit *f, size_t chain, const char *path, vbt_msg *msg);

/* The iterations chain `chain` of the checkpoint `path` has made and the
 * total it runs to (warm-up + draws): a chain has ended when they are
 * equal.  VBT_EIO, VBT_EFORMAT (as vbt_fit_checkpoint_record), VBT_EINVAL. */
int vbt_fit_checkpoint_chain(const char *path, size_t chain, size_t *iteration, size_t *total,
                             vbt_msg *msg);

/* One checkpoint `out` in which chain c is the one of paths[c] (n: the
 * run's chains), each of which must have ended; every file must hold the
 * same run (the caller's record, sizes, MAP stage, starts, metric).
 * Written atomically.  VBT_EINVAL (naming the file that differs or whose
 * chain has not ended), VBT_EIO, VBT_EFORMAT, VBT_ENOMEM. */
int vbt_fit_merge_chains(const char *const *paths, size_t n, const char *out, vbt_msg *msg);

/* ---- running ------------------------------------------------------------------ */

/* Run the fit: MAP (unless smc or nuts from the prior), the sampler (laplace
 * by vbt_vep_laplace, the others through the sampler table), summaries,
 * diagnostics, region classes, PSIS-LOO (nuts) and the posterior
 * predictive.  Once per handle.  Errors: VBT_EINVAL (run twice, stopped by
 * the progress callback), whatever the MAP search or the sampler returns
 * (VBT_ENUMERIC ...), VBT_ENOMEM.  Failing diagnostics are not errors: see
 * vbt_fit_trustworthy(). */
int vbt_fit_run(vbt_fit *f, vbt_msg *msg);

/* ---- results (valid after a successful vbt_fit_run) ----------------------------- */

/* Sizes: free parameters, regions, sensors, samples. */
size_t vbt_fit_n_params(const vbt_fit *f);
size_t vbt_fit_n_regions(const vbt_fit *f);
size_t vbt_fit_n_sensors(const vbt_fit *f);
size_t vbt_fit_n_samples(const vbt_fit *f);

/* The model (its parameter names, constrain/unconstrain, simulate); owned
 * by f, valid after vbt_fit_alloc(). */
vbt_vep *vbt_fit_model(vbt_fit *f);
/* The priors the fit uses (offsets resolved). */
const vbt_vep_priors *vbt_fit_priors(const vbt_fit *f);
/* The model specification the fit evaluates (its priors, data, gain, scheme
 * ...), valid while f lives: what builds further models of the same fit
 * (fitting/vbt_vep_multi.h) starts from.  NULL when f is NULL. */
const vbt_vep_spec *vbt_fit_spec(const vbt_fit *f);
/* The options (a copy of those given). */
const vbt_fit_opts *vbt_fit_options(const vbt_fit *f);
/* The feature and gain as fitted (after normalisation), row-major. */
const double *vbt_fit_data(const vbt_fit *f);
const double *vbt_fit_gain(const vbt_fit *f);

/* Draws in natural units, [chain][draw][parameter]: nuts chains x draws,
 * laplace and advi 1 x draws, smc runs x particles, map 1 x 1 (the mode).
 * NULL before a run. */
size_t vbt_fit_n_chains(const vbt_fit *f);
size_t vbt_fit_n_draws(const vbt_fit *f);
const double *vbt_fit_draws(const vbt_fit *f);
/* The same draws in unconstrained coordinates (theta, vbt_vep.h). */
const double *vbt_fit_draws_unconstrained(const vbt_fit *f);
/* laplace: normalised PSIS log weights (n_draws); NULL otherwise. */
const double *vbt_fit_log_weights(const vbt_fit *f);
/* nuts: per draw statistics [chain][draw] and per chain information; NULL
 * otherwise. */
const vbt_nuts_stats *vbt_fit_nuts_stats(const vbt_fit *f);
const vbt_nuts_chain_info *vbt_fit_nuts_info(const vbt_fit *f);

/* Per-parameter summary (n_params) over the chains used. */
const vbt_diag_param *vbt_fit_summary(const vbt_fit *f);

/* Per chain (n_chains; nuts: every field; others: used only). */
typedef struct vbt_fit_chain {
    int used;               /* 1: in the summaries (not stuck, or every chain stuck) */
    int stuck;              /* VBT_DIAG_STUCK_LP | VBT_DIAG_STUCK_STEPSIZE, 0: not stuck */
    double stepsize, mean_lp, mean_accept_stat, mean_treedepth, ebfmi, wall_s;
    size_t divergences, max_treedepth_hits, n_leapfrog, jumps_accepted;
} vbt_fit_chain;
const vbt_fit_chain *vbt_fit_chains(const vbt_fit *f);
size_t vbt_fit_n_chains_used(const vbt_fit *f);

/* The verdict: 1 when every check passed, 0 when not (then
 * vbt_fit_n_failures() > 0 and vbt_fit_failure(f, i) says why, one
 * sentence each, e.g. "3 divergent transition(s) after warm-up (raise
 * --adapt-delta)": the reasons of the failed checks of vbt_fit_verdict(),
 * in its order). */
int vbt_fit_trustworthy(const vbt_fit *f);
size_t vbt_fit_n_failures(const vbt_fit *f);
const char *vbt_fit_failure(const vbt_fit *f, size_t i);   /* NULL out of range */

/* Every check of the fit, passed or not (vbt_diagnostics.h; the table of
 * docs/pipeline.md, "results.json"), NULL before a run.  As the method has them:
 *   nuts     rhat (max rank-normalised split R-hat <= 1.01), ess_bulk and
 *            ess_tail (min >= 100 per chain used; Vehtari et al. 2021),
 *            divergences (0), treedepth (0 draws at the maximum depth), ebfmi
 *            (min over chains >= 0.3; Betancourt 2016), stuck_chains (0),
 *            multimodal_regions (0 regions with R-hat > 1.01 and a posterior
 *            wider than the prior)
 *   laplace  psis_khat (< 0.7; Vehtari et al. 2024)
 *   advi     advi_converged;  smc: smc_accept (>= 0.3), smc_logz_sd (<= 1)
 *   from a MAP stage: map_converged (laplace, advi, map), map_modes (the
 *            best mode that disagrees with the best on the EZ set or on some
 *            x0 by more than 0.5 is at least 3 below it in log density)
 *   every method but map: ppc_coverage (>= 0.75 of the observed points inside
 *            the 5-95 % posterior predictive band, nominally 0.9) and
 *            ppc_coverage_sensor (every sensor >= 0.5)
 *   every method: prior_data_conflict (0 free parameters whose posterior
 *            median, the mode for map, lies outside its prior's central 99 %:
 *            K, tau0, amp either side, eps above, a region's x0 below, or
 *            above when more than a quarter of the regions are)
 *   map      point_estimate (always failed: a mode, no probabilities) */
const vbt_verdict *vbt_fit_verdict(const vbt_fit *f);

/* Posterior-predictive coverage per sensor (n_sensors; NULL for map or
 * before a run) and, in *overall (may be NULL; NAN then), over all points:
 * the fraction of the fitted data inside the predictive's 5-95 % band. */
const double *vbt_fit_ppc_coverage(const vbt_fit *f, double *overall);

/* Per region (n_regions): x0's posterior summary, the probabilities of
 * BVEP's classes (p_ez + p_pz + p_hz = 1; PSIS-weighted for a usable
 * Laplace fit) and the class of the posterior mean. */
typedef struct vbt_fit_region {
    double x0_mean, x0_sd, x0_q5, x0_q95;   /* sd, q5, q95 NAN when x0 is fixed */
    double p_ez, p_pz, p_hz;
    vbt_vep_class cls;
} vbt_fit_region;
const vbt_fit_region *vbt_fit_regions(const vbt_fit *f);

/* The MAP stage (NULL / zero when there was none): the mode (unconstrained,
 * n_params), the search's result, each start's and hop's final lp (rows:
 * the starts, then the hops; vbt_vep_map_n_rows). */
const double *vbt_fit_map_mode(const vbt_fit *f);
const vbt_vep_map_result *vbt_fit_map_result(const vbt_fit *f);
size_t vbt_fit_map_n_starts(const vbt_fit *f);
const double *vbt_fit_map_lp_starts(const vbt_fit *f);

/* nuts from the MAP: NULL when the Laplace covariance at the mode was
 * computed (the chains' initial metric), else why not (the chains then
 * start with a unit metric and 0.1 jitter); NULL for other methods. */
const char *vbt_fit_laplace_metric_error(const vbt_fit *f);

/* Method results (NULL when the method was another). */
const vbt_vep_laplace_result *vbt_fit_laplace_result(const vbt_fit *f);
const vbt_advi_result *vbt_fit_advi_result(const vbt_fit *f);
/* smc: the pooled runs (log evidence: log of the mean of the runs'
 * evidences; counts summed; accept_rate the lowest last-step rate). */
const vbt_smc_result *vbt_fit_smc_result(const vbt_fit *f);
/* smc: log p(y) and the sd of the runs' log evidences (NAN for one run or
 * another method). */
double vbt_fit_log_evidence(const vbt_fit *f);
double vbt_fit_log_evidence_sd(const vbt_fit *f);
/* nuts: PSIS-LOO; NULL when not computed (another method, too few draws, or
 * it failed: vbt_fit_loo_error() says why). */
const vbt_loo_result *vbt_fit_loo(const vbt_fit *f);
const char *vbt_fit_loo_error(const vbt_fit *f);

/* Timing (seconds): the whole run (a resumed run includes the saved MAP
 * stage's time), the MAP stage, the SMC runs; gradients: post-warm-up
 * leapfrog steps (nuts) or SMC gradients. */
typedef struct vbt_fit_timing {
    double wall_s, map_s, smc_s, gradients;
} vbt_fit_timing;
vbt_fit_timing vbt_fit_get_timing(const vbt_fit *f);

/* 1 when the run continued a checkpoint (vbt_fit_resume). */
int vbt_fit_resumed(const vbt_fit *f);

/* ---- outputs ---------------------------------------------------------------------- */

/* Write every output file of `vbt fit` for this fit into the pending output
 * directory od (vbt_io.h; the caller begins and commits it, and may add
 * files of its own such as a provenance record): summary.json, summary.csv,
 * regions.csv, predictive.npy, data.npy, and as the method has them
 * draws.npy, draws_chainN.csv, sampler.npy, log_weights.npy, map_starts.csv,
 * loo_pointwise.npy.  VBT_EINVAL before a run, VBT_EIO, VBT_ENOMEM. */
int vbt_fit_write(const vbt_fit *f, vbt_outdir *od, vbt_msg *msg);

/* The names of the files vbt_fit_write() writes, NULL-terminated, in
 * `vbt fit`'s run.json order ("draws_chain*.csv" stands for the chains'
 * CSVs); empty before a successful run.  Valid while f lives. */
const char *const *vbt_fit_output_names(const vbt_fit *f);

/* What run.json says of a finished fit, as JSON text (malloc'd; NULL
 * before a run or out of memory): {"model": {regions, sensors, samples,
 * free_parameters, offsets ("fixed", "marginal" or "sampled"), priors (every
 * prior used, in the prior file's format), parameter_names}, "timing":
 * {wall_s, map_s (with a MAP stage), smc_s and gradients (smc), nuts_s and
 * post_warmup_gradients (nuts)}, "outputs": vbt_fit_output_names()}.  `vbt
 * fit` and the pipeline put these three members into their run.json. */
char *vbt_fit_run_json(vbt_fit *f);

/* vbt_outdir_begin(dir, overwrite) + vbt_fit_write() + vbt_outdir_commit():
 * the outputs in `dir`, all or none.  VBT_EEXIST when dir exists and
 * overwrite is 0, then as vbt_fit_write(). */
int vbt_fit_write_dir(const vbt_fit *f, const char *dir, int overwrite, vbt_msg *msg);

/* ---- presets (fitting/presets.c) ------------------------------------------------ */

/* Integration steps per sample of the preset: the least number that keeps
 * each step at most 0.175 model time units, the step at 100 points on
 * which the preset's priors were tuned (1 at 100 points or more).  Euler on
 * the fast variable is unstable above a step of 0.5 at rest (x = -2:
 * d/dx (1 - x^3 - 2 x^2) = -4), and at 40 points (dt 0.44, one step) the
 * NUTS stage ran some 20 times longer than at 100. */
size_t vbt_vep_pipeline_preset_steps(const vbt_vep_pipeline_preset *p);

/* The fit options of the patient pipeline's preset (vbt_vep.h): the
 * sampler, observation model, normalisations, MAP starts and, for nuts, the
 * metric, warm-up, draws and adapt_delta; dt = window / points, rounded to
 * 6 significant digits as the pipeline has always passed it to vbt fit,
 * and vbt_vep_pipeline_preset_steps() steps per sample.
 * Everything else as vbt_fit_opts_default().  VBT_EINVAL (msg set) for a
 * name vbt fit does not know or points == 0. */
int vbt_vep_pipeline_preset_fit_opts(const vbt_vep_pipeline_preset *p, vbt_fit_opts *o,
                                     vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
