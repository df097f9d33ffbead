/* vbt_pipeline.h -- from a patient folder (vbt_patient.h) to an
 * epileptogenic-zone map, propagation, virtual surgery and a report, in an
 * output folder OUT.  Each step is a library call and writes the files of
 * the vbt command it is equivalent to (byte for byte, run.json's timings
 * aside):
 *
 *   gain      OUT/gain/      vbt_gain_matrix_compute (connectomes/vbt_gain.h): the
 *                            volume gain when the patient has a parcellation, else
 *                            the region-centre formula (vbt gain)
 *   features  OUT/features/  vbt_seeg_features_run: the SEEG feature of the seizure
 *                            (vbt seeg features)
 *   fit       OUT/fit/       vbt_fit (fitting/vbt_fit.h) with the settings of
 *                            vbt_vep_pipeline_preset (fitting/vbt_vep.h) (vbt fit)
 *   predict   OUT/predict/   vbt_predict (vbt_predict.h): seizure propagation over (at
 *                            most 200 of) the posterior draws (vbt predict)
 *   surgery   OUT/surgery/   vbt_predict: every resection of the patient and a plan
 *                            (vbt surgery --plan)
 *   report    OUT/report.html, the figures OUT/figures/NAME.svg (vbt_report.h),
 *             OUT/results.json (schema vbt.results/1)
 *
 * Each step records in OUT/.stamps/STEP.txt its settings (as the arguments
 * of the equivalent command) and the SHA-256 of every input; a step whose
 * stamp matches and whose result exists is skipped, so a second run does
 * nothing and an interrupted run resumes.  Each step's folder appears whole
 * or not at all.  Layout and schema: docs/pipeline.md.
 *
 * The library prints nothing: messages go to the progress callback.  The
 * steps run their own threads (o->threads); for results identical to the
 * command line's, call openblas_set_num_threads(1) first, as `vbt pipeline`
 * does.  Not safe to run twice at once on the same OUT. */
#ifndef VBT_PIPELINE_H
#define VBT_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "vbt_common.h"
#include "vbt_diagnostics.h"
#include "vbt_patient.h"
#include "vbt_vep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vbt_pipeline_step {
    VBT_PIPELINE_GAIN = 0,
    VBT_PIPELINE_FEATURES,
    VBT_PIPELINE_FIT,
    VBT_PIPELINE_PREDICT,
    VBT_PIPELINE_SURGERY,
    VBT_PIPELINE_REPORT,
    VBT_PIPELINE_N_STEPS
} vbt_pipeline_step;

/* "gain", "features", "fit", "predict", "surgery", "report"; NULL out of range. */
const char *vbt_pipeline_step_name(vbt_pipeline_step step);

/* Progress: a step starts ("running", fraction 0), is skipped ("up to
 * date", fraction 1) or ends ("done", fraction 1); during the fit, text is
 * also the sampler's stage ("map", "nuts", ...) with the fraction done, or
 * one of the fit's log lines (a warning begins with "WARNING: ").  Called
 * from the fit's worker threads too, never two at once.  text is only valid
 * during the call. */
typedef void (*vbt_pipeline_progress_fn)(void *ctx, vbt_pipeline_step step, double fraction,
                                         const char *text);

typedef struct vbt_pipeline_opts {
    const char *outdir;            /* created when missing (its parent must exist) */
    vbt_vep_pipeline_preset fit;   /* the fit's settings (method, points, priors ...) */
    double target;                 /* P(seizure freedom) the resection plan must reach: 0.9 */
    uint64_t seed;                 /* 42 */
    long threads;                  /* 1 */
    vbt_pipeline_progress_fn progress;  /* may be NULL */
    void *progress_ctx;
    const volatile sig_atomic_t *cancel; /* may be NULL; set non-zero (e.g. by a signal
                                            handler): the run stops between steps, surgery
                                            scenarios and fit iterations, VBT_EINVAL
                                            "interrupted", the step's folder not written */
    /* Which seizure (refuse to guess, vbt_patient.h): the recording is the
     * patient's only *_ieeg.edf matching task and run (NULL: any; several is
     * an error listing them); the seizure is the only onset its events mark,
     * or the seizure-th (1-based), or the onset (and offset) given in seconds
     * from the recording's start.  No onset at all is an error naming the file. */
    const char *task, *run;        /* NULL */
    size_t seizure;                /* 0 */
    double onset_s, offset_s;      /* NAN */
} vbt_pipeline_opts;

/* Defaults as above; vbt_vep_pipeline_preset_default() for fit; outdir NULL. */
void vbt_pipeline_opts_default(vbt_pipeline_opts *o);

typedef struct vbt_pipeline_result {
    int steps_run;      /* steps that ran (the others were up to date) */
    int ran[VBT_PIPELINE_N_STEPS]; /* 1 when that step ran this time */
    /* The verdict of the run (set when every output was written): the fit's
     * checks (fit/summary.json "verdict", vbt_fit_verdict) as results.json
     * "verdict" holds them; verdict.trustworthy 0 means: outputs complete,
     * answer not to be trusted (`vbt pipeline` exits 3). */
    int has_verdict;
    vbt_verdict verdict;
} vbt_pipeline_result;

/* Check, before anything is written, that the options pick exactly one
 * recording of p and one seizure in it (the errors of
 * vbt_patient_choose_recording and vbt_recording_choose_seizure); *index
 * (may be NULL) gets the recording's index in p->recordings.
 * vbt_pipeline_run() calls it first. */
int vbt_pipeline_check_seizure(const vbt_patient *p, const vbt_pipeline_opts *o,
                               size_t *index, vbt_msg *msg);

/* Run every step for patient p into o->outdir.  res may be NULL.  The
 * patient's region lists are checked against its connectome before any
 * step runs.  VBT_OK, or the first failure with msg naming the step or file:
 * VBT_EINVAL (options), VBT_EIO, VBT_EFORMAT, VBT_ENOTFOUND (an unknown
 * region), VBT_ENOMEM, or the status of a failing library call. */
int vbt_pipeline_run(const vbt_patient *p, const vbt_pipeline_opts *o,
                     vbt_pipeline_result *res, vbt_msg *msg);

/* ---- the fit's chains apart (vbt cohort run over MPI ranks) --------------
 *
 * A NUTS fit's chains can run in several processes that share OUT (as the
 * ranks of `mpirun ... vbt cohort run` share the output folder), with the
 * outputs of vbt_pipeline_run() in one piece, byte for byte (run.json's and
 * summary.json's timings aside):
 *
 *   vbt_pipeline_prepare_chains(p, o, &n, msg);          once
 *   vbt_pipeline_run_chain(p, o, k, msg);                 k = 0 .. n-1, anywhere
 *   vbt_pipeline_run(p, o, &res, msg);                    once every chain ended
 *
 * Each call runs (or finds up to date) the steps before the fit first.
 * prepare: the fit's MAP stage and the chains' starts, saved in
 * OUT/fit.checkpoint; *n_chains the chains (0, nothing done, when the fit
 * step is up to date or its method has no chains).  run_chain: chain k alone
 * into OUT/fit.chainK+1.checkpoint (draws, statistics and state), resumed
 * from there after a kill; nothing to do once it has ended or when the fit
 * step is up to date; VBT_EINVAL when prepare has not run.  vbt_pipeline_run
 * merges the chains' files when every chain has ended (else the fit runs or
 * resumes in one piece) and removes them once the fit's outputs are written.
 * The chains of one OUT may run at once in different processes; the three
 * calls never at once on the same OUT otherwise. */
int vbt_pipeline_prepare_chains(const vbt_patient *p, const vbt_pipeline_opts *o,
                                size_t *n_chains, vbt_msg *msg);
int vbt_pipeline_run_chain(const vbt_patient *p, const vbt_pipeline_opts *o, size_t chain,
                           vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
