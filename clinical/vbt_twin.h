/* vbt_twin.h -- the patient's twin, kept up to date as recordings arrive
 * (docs/twin.md).  A twin folder holds the patient's model and a chain of
 * versions, each the posterior of the Virtual Epileptic Patient given every
 * seizure recorded so far:
 *
 *   TWIN/model/              written once by vbt_twin_init
 *     connectome.zip | connectome/   the patient's connectome (a copy)
 *     gain.npy, gain.tsv, gain.json  the contacts' gain (as the pipeline's gain step)
 *     channels.txt                   the twin's channels (the first recording's)
 *     prior.json                     the priors (the patient's, else the pipeline's)
 *     settings.json                  feature and sampler settings, sampling rate
 *   TWIN/v0001/, v0002/, ...  one per recording absorbed, never changed again
 *     version.json     provenance: command, vbt version, seed, settings, parent,
 *                      every recording absorbed with its SHA-256, the update's
 *                      ESS, steps, log evidence, CPU time, changed regions
 *     particles.npy    the posterior: SMC particles [particle, parameter]
 *                      (unconstrained joint parameters, vbt_vep_multi.h), equal weights
 *     log_weights.npy  their normalised log weights [particle]
 *     x0.npy           natural x0 [particle, region]
 *     ezmap.tsv        per region: label, P(EZ), P(PZ), P(HZ), x0 mean and sd, class
 *     changes.tsv      (updates) regions whose class changed: before, after
 *     recordings/rK/   recording K's feature (features.npy, channels.tsv, run.json)
 *                      and gain rows in its channel order (gain_aligned.npy)
 *
 * The first version fits the first seizure by SMC from the prior.  An update
 * extends the posterior to the new seizure's own parameters and tempers it
 * to the new likelihood (vbt_vep_multi_update): the particles end as draws
 * of the joint posterior of all the seizures.  A version appears whole or
 * not at all (staged beside it, then renamed; vbt_io.h's vbt_outdir): a
 * killed update leaves the previous version as it was, and the next update
 * removes its staging folder.
 *
 * The library prints nothing; progress goes to the callback. */
#ifndef VBT_TWIN_H
#define VBT_TWIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "vbt_common.h"
#include "vbt_vep.h"
#include "vbt_vep_multi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*vbt_twin_progress_fn)(void *ctx, const char *text);

/* Where vbt_twin_refit's joint mode search starts (vbt_vep_multi.h):
 * STAGED (the default), the first seizure's MAP and five starts from that
 * seizure's posterior, the heaviest end by Laplace mass kept
 * (VBT_VEP_MULTI_SEARCH_STAGED); MAP, the first seizure's MAP alone (the
 * search before the staged one, which misses the sample's heavier mode);
 * LATEST, the latest version's particles (the best of their weighted mean
 * and each particle by the joint log posterior: "is the twin's mode the one
 * a joint fit finds?"). */
enum { VBT_TWIN_START_MAP = 0, VBT_TWIN_START_LATEST = 1, VBT_TWIN_START_STAGED = 2 };

typedef struct vbt_twin_opts {
    vbt_vep_pipeline_preset fit; /* feature window, observation model, normalisations,
                                    priors (vbt_vep_pipeline_preset_default); init only */
    size_t particles;            /* 512; init only (updates keep the twin's) */
    size_t moves;                /* 5 HMC moves per tempering step; init only */
    size_t leapfrog;             /* 10; init only */
    double ess;                  /* 0.5: ESS target of each tempering step; init only */
    double collapse;             /* 0.01: a marginal reweighting ESS below this fraction
                                    of the particles is reported as a collapse */
    int refit_start;             /* vbt_twin_refit's mode search: VBT_TWIN_START_STAGED (the
                                    default), _MAP or _LATEST; refit only */
    uint64_t seed;               /* 42; version k's SMC uses seed + k */
    long threads;                /* 1; the result does not depend on it */
    int argc;                    /* the command line, for provenance (may be 0) */
    char *const *argv;
    vbt_twin_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} vbt_twin_opts;

void vbt_twin_opts_default(vbt_twin_opts *o);

/* What a version computed. */
typedef struct vbt_twin_result {
    char version[16];            /* "v0002" */
    size_t n_recordings;         /* absorbed so far */
    size_t n_particles, n_params, n_regions;
    size_t n_steps;              /* tempering steps */
    double log_evidence;         /* init: log p(y1); update: log p(y_new | earlier) */
    double reweight_ess;         /* update: ESS of the start particles (the old ones with the
                                    new seizure's parameters from the proposal) reweighted by
                                    the new seizure at once (NAN for init) */
    double marginal_ess;         /* update: the same for the old particles' shared
                                    parameters, the new seizure's own ones profiled out
                                    (vbt_vep_multi_update_info); NAN for init */
    int collapsed;               /* update: marginal_ess < collapse * particles: the new
                                    seizure moves the shared parameters far beyond their
                                    current uncertainty */
    double r2_new, r2_old;       /* update: the fraction of the feature's variance (per
                                    sensor, about its mean) that the posterior explains
                                    (mean over 64 particles) for the new seizure and the
                                    median over the earlier ones; init: r2_new only */
    int unexplained;             /* update: r2_new < 0.5 r2_old: a seizure the model
                                    cannot explain with the parameters it shares with the
                                    earlier ones (another onset zone, another seizure type,
                                    a recording problem) */
    double correction_ess;       /* update: ESS of the exact correction of the surrogate
                                    tempering (vbt_vep_multi_update_info); NAN when the
                                    update tempered on the exact target, and for init */
    size_t surrogate_steps, exact_steps; /* update: tempering steps of the two stages */
    size_t n_changed;            /* update: regions whose class changed */
    /* refit: the mode its Laplace approximation and tempering started from
       (vbt_vep_multi_laplace_info; NAN, 0 and -1 for init and update) */
    double mode_start_lp;        /* joint log posterior where the joint Newton started */
    double mode_lp;              /* joint log posterior at the mode Newton reached */
    double mode_log_mass;        /* its Laplace log mass: mode_lp + n/2 log 2 pi
                                    - 1/2 log det(-Hessian) */
    double mode_decrement;       /* Newton decrement there (near 0: converged) */
    double mode_ridge;           /* ridge added to the -Hessian to factor it (0: none) */
    size_t newton_steps, newton_cap; /* joint Newton steps and their cap */
    long start_index;            /* start latest: the particle Newton started from, -1
                                    their mean */
    size_t n_starts;             /* start staged: the starts tried (0 otherwise), each one's
                                    Laplace log mass at its joint mode (NAN: none), the one
                                    kept (0 the first seizure's MAP, 1 its posterior mean,
                                    2.. its particles; -1 otherwise) */
    double start_log_mass[VBT_VEP_MULTI_STARTS];
    long best_start;
    double cpu_s, wall_s;        /* CPU (this process) and wall time of the whole call */
    double smc_cpu_s;            /* CPU time of the sampling alone */
} vbt_twin_result;

/* Create TWIN from the patient folder (vbt_patient.h): gain, the first
 * recording's feature (its events give the seizure), SMC from the prior,
 * version v0001.  TWIN must not exist (VBT_EEXIST).  res may be NULL.
 * Errors name the file and the problem: VBT_EIO, VBT_EFORMAT, VBT_ENOTFOUND,
 * VBT_EINVAL, VBT_ENUMERIC, VBT_ENOMEM. */
int vbt_twin_init(const char *patient_dir, const char *twin_dir, const vbt_twin_opts *o,
                  vbt_twin_result *res, vbt_msg *msg);

/* Absorb one more recording (EDF/BDF/...; events: an events.tsv whose first
 * row with a trial_type mentioning "seizure" or "onset" gives the onset and,
 * with its duration, the offset; NULL: the BIDS events.tsv beside the
 * recording).  Refused with VBT_EEXIST when a recording with the same
 * SHA-256 is already in the twin, VBT_EINVAL when its channels are not the
 * twin's or its sampling rate cannot give the twin's feature (below 50 Hz,
 * or a moving-average window of fewer than 3 samples), VBT_ENOTFOUND
 * without a seizure onset.  Only o->collapse, seed, threads, argv and
 * progress are used.  A new version TWIN/vNNNN. */
int vbt_twin_update(const char *twin_dir, const char *recording, const char *events,
                    const vbt_twin_opts *o, vbt_twin_result *res, vbt_msg *msg);

/* The joint fit of every recording of the twin's latest version from a fresh
 * start (vbt_vep_multi_smc_laplace_from: the mode search of o->refit_start,
 * the Laplace approximation there, SMC, with the twin's settings and seed
 * o->seed), for comparison with the updates: p_ez, x0_mean, x0_sd
 * (n_regions each, may be NULL) receive P(EZ) and the posterior mean and sd
 * of x0 of each region.  VBT_TWIN_START_LATEST starts the joint Newton from
 * the latest version's particles instead (the rest unchanged), so that two
 * modes' log posterior, Laplace mass and SMC evidence (res) are computed by
 * the same code.  Writes nothing. */
int vbt_twin_refit(const char *twin_dir, const vbt_twin_opts *o, double *p_ez,
                   double *x0_mean, double *x0_sd, vbt_twin_result *res, vbt_msg *msg);

/* The latest version's P(EZ) per region (n_regions; the twin's region
 * count in *n_regions when not NULL); *version "vNNNN" (16 bytes, may be
 * NULL). */
int vbt_twin_p_ez(const char *twin_dir, double *p_ez, size_t max, size_t *n_regions,
                  char *version, vbt_msg *msg);

/* The EZ map's evolution over the versions as TSV text (malloc'd, free()):
 * one row per region with its label and, per version, P(EZ) and class;
 * then per version its recordings, reweighting ESS and changed regions as
 * '#' comment lines.  html (may be NULL) receives a self-contained HTML
 * page with the same table and an SVG of P(EZ) per region over versions. */
int vbt_twin_report(const char *twin_dir, char **tsv, char **html, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
