/* vbt_cohort.h -- many patients at once: a multi-subject BIDS-iEEG dataset
 * (such as OpenNeuro ds004100, the HUP iEEG dataset) read into typed
 * subjects and runs, each subject's ictal runs through the pipeline
 * (vbt_pipeline.h) on the atlas connectome when the subject has no imaging,
 * and the EZ maps scored against the clinical labels and outcomes.
 * Layout, rules and the cohort.csv schema: docs/cohort.md.
 *
 *   vbt_cohort *c;
 *   vbt_cohort_load(&c, "ds004100", &msg);            the sidecars only
 *   vbt_cohort_run_opts o;  vbt_cohort_run_opts_default(&o);
 *   o.outdir = "OUT";  o.atlas.connectome = ...;      (see vbt_cohort_atlas)
 *   for each subject i: vbt_cohort_subject_run(c, i, &o, &msg)
 *                       -> OUT/sub-ID/RUN/ (resumable; OUT/sub-ID/subject.json last)
 *   vbt_cohort_collect(c, "OUT", &rows, &n_rows, &msg);
 *   vbt_cohort_write_csv("OUT/cohort.csv", rows, n_rows, &msg);
 *   vbt_cohort_summarise(rows, n_rows, &so, &sum, &msg);
 *
 * Reading copes with what real datasets do (each tested on ds004100's
 * sidecars in tests/data/ds004100): a UTF-8 byte-order mark, CRLF line ends,
 * ids with trailing blanks, subjects listed in participants.tsv without a
 * folder (kept, with `problem` set), `n/a` coordinates (has_xyz 0), and a
 * coordsystem.json that says "m" while the values are millimetres (see
 * vbt_cohort_subject.unit_note).  The library prints nothing. */
#ifndef VBT_COHORT_H
#define VBT_COHORT_H

#include <stddef.h>
#include <stdint.h>

#include "vbt_common.h"
#include "vbt_pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- events ---------------------------------------------------------------- */

typedef enum vbt_cohort_event_kind {
    VBT_COHORT_EVENT_OTHER = 0,
    VBT_COHORT_EVENT_ONSET,       /* seizure (electrographic or clinical) onset */
    VBT_COHORT_EVENT_OFFSET       /* seizure end */
} vbt_cohort_event_kind;

/* The kind of an events.tsv trial_type (or EDF+ annotation).  The text is
 * normalised first: case folded, '_', '-', '.', ':' and runs of blanks made
 * one blank, trimmed.  Onset: "sz onset", "seizure onset", "onset",
 * "sz start", "seizure start", "seizure", "sz", "eeg onset", "eo",
 * "electrographic onset", "ueo", "clinical onset", "co", "ictal onset",
 * "sz begin", "seizure begin", "start of seizure", "onset of seizure".
 * Offset: "sz offset", "seizure offset", "offset", "sz end", "seizure end",
 * "end of seizure", "sz stop", "seizure stop", "eeg offset", "ictal offset",
 * "termination", "sz termination".  Anything else is OTHER (never guessed).
 * NULL is OTHER.  The list is documented in docs/cohort.md. */
vbt_cohort_event_kind vbt_cohort_event_classify(const char *text);

/* ---- the dataset ------------------------------------------------------------ */

typedef enum vbt_cohort_outcome {
    VBT_COHORT_OUTCOME_UNKNOWN = 0,
    VBT_COHORT_OUTCOME_FREE,      /* seizure free ("S", Engel I, ILAE 1-2) */
    VBT_COHORT_OUTCOME_NOT_FREE   /* not seizure free ("F", Engel II-IV, ILAE 3-6) */
} vbt_cohort_outcome;

/* "free", "not_free", "unknown". */
const char *vbt_cohort_outcome_name(vbt_cohort_outcome o);

/* One row of a run's channels.tsv. */
typedef struct vbt_cohort_channel {
    char name[64];       /* trimmed; a bipolar channel is "A1-A2" */
    char type[16];       /* SEEG, ECOG, EEG, ECG, ... ("n/a" when absent) */
    int bad;             /* status == bad */
    int soz;             /* status_description lists "soz" */
    int resect;          /* status_description lists "resect" (or "resected", "ablat*") */
} vbt_cohort_channel;

/* One recording (run) of a subject.  Strings owned by the cohort. */
typedef struct vbt_cohort_run {
    char *name;          /* the BIDS entities after sub-ID: "ses-presurgery_task-ictal_acq-seeg_run-01" */
    char *ses, *task, *acq, *run;   /* entity values, NULL when absent */
    char *ieeg_dir;      /* sub-ID/ses-X/ieeg (absolute or as the root was given) */
    char *edf;           /* the *_ieeg.edf (or .bdf) path, whether or not it exists */
    int has_signal;      /* 1 when that file exists */
    char *channels_tsv, *events_tsv;   /* NULL when absent */
    int ictal;           /* task contains "ictal" but not "interictal", or the events have an onset */
    double onset_s, offset_s;          /* from events.tsv; NaN when none */
    char onset_text[64]; /* the onset event as written ("" when none) */
    char *skip;          /* NULL, or why this run cannot be processed (one line):
                            "no recognisable seizure onset in events.tsv", ... */
    vbt_cohort_channel *channels;
    size_t n_channels;
} vbt_cohort_run;

/* One contact of electrodes.tsv (in mm after the unit rule). */
typedef struct vbt_cohort_contact {
    char name[64];
    int has_xyz;         /* 0 for n/a coordinates */
    double xyz_mm[3];
} vbt_cohort_contact;

/* One subject.  Strings owned by the cohort. */
typedef struct vbt_cohort_subject {
    char *id;            /* "HUP060": participant_id without "sub-", trimmed */
    char *dir;           /* ROOT/sub-ID, NULL when listed without a folder */
    char *problem;       /* NULL, or why the subject cannot run ("listed in
                            participants.tsv but has no files", "no ictal run with
                            a seizure onset", ...) */
    vbt_cohort_outcome outcome;
    char outcome_text[16];  /* as written ("S", "F", "n/a") */
    char engel[16];      /* "1B", "" when absent */
    char ilae[16];
    char therapy[32];    /* "RESECTION", "ABLATION", ... */
    char implant[16];    /* "SEEG", "ECOG" */
    char *electrodes_tsv, *coordsystem_json;   /* NULL when absent */
    char space[64];      /* iEEGCoordinateSystem ("fsaverage", "MNI152NLin2009aSym", ...) */
    char units[16];      /* iEEGCoordinateUnits as written */
    char unit_note[128]; /* "" or the rule applied, e.g. "units 'm' but |values| up to
                            73.2: read as mm" */
    vbt_cohort_contact *contacts;
    size_t n_contacts;
    vbt_cohort_run *runs;    /* every *_channels.tsv / *_ieeg.edf run, sorted by name */
    size_t n_runs;
} vbt_cohort_subject;

typedef struct vbt_cohort {
    char *root;
    vbt_cohort_subject *subjects;  /* participants.tsv order, then folders it omits */
    size_t n_subjects;
    char **notes;        /* dataset-level remarks (one line each) */
    size_t n_notes;
} vbt_cohort;

/* Read the dataset at `root` (participants.tsv and every sub-* folder's
 * sidecars; signals are not opened).  Errors: VBT_EIO (no such folder),
 * VBT_ENOTFOUND (neither participants.tsv nor any sub-* folder),
 * VBT_EFORMAT (a malformed TSV or JSON, named with its line), VBT_ENOMEM.
 * Free with vbt_cohort_free(). */
int vbt_cohort_load(vbt_cohort **out, const char *root, vbt_msg *msg);

/* NULL is a no-op. */
void vbt_cohort_free(vbt_cohort *c);

/* Index of subject "ID" or "sub-ID" (trailing blanks ignored); -1 if absent. */
long vbt_cohort_find(const vbt_cohort *c, const char *id);

/* ---- the atlas path ---------------------------------------------------------- */

/* The atlas a subject without imaging runs on: a connectome whose centres
 * are in MNI152 mm, and a label volume in MNI152 with its table and the
 * map from its names to the connectome's.  data-samples: connectome
 * connectivity_84_desikan.zip, parcellation neuroparc/Desikan_space-
 * MNI152NLin6_res-2x2x2.nii.gz, labels neuroparc/Desikan.csv, names
 * desikan70_to_dk84.tsv. */
typedef struct vbt_cohort_atlas {
    const char *connectome;
    const char *parcellation;
    const char *labels;
    const char *names;
    double radius_mm;    /* a contact outside every mapped region takes the nearest
                            connectome region centre within this distance: 10 */
} vbt_cohort_atlas;

/* Contacts localised to the atlas connectome's regions. */
typedef struct vbt_cohort_localisation {
    size_t n_regions;
    char (*region_names)[VBT_LABEL_MAX];   /* the connectome's labels */
    size_t n_contacts;
    char (*contact)[64]; /* contact names (the subject's, in order) */
    long *region;        /* region index, -1 when not localised (n/a, outside) */
    double *dist_mm;     /* 0 inside a region, else the distance to the centre used */
} vbt_cohort_localisation;

/* Localise subject s's contacts: the region of the label volume that holds
 * the contact when it maps to a connectome region, else the nearest
 * connectome region centre within a->radius_mm (the centres registered onto
 * the label volume when they lie in another space, vbt_centres_register),
 * else -1.  fsaverage
 * coordinates are used as MNI152 (docs/cohort.md gives the size of the
 * difference).  *out freed with vbt_cohort_localisation_free. */
int vbt_cohort_localise(vbt_cohort_localisation **out, const vbt_cohort_subject *s,
                        const vbt_cohort_atlas *a, vbt_msg *msg);
void vbt_cohort_localisation_free(vbt_cohort_localisation *l);

/* Regions of one channel: a monopolar channel "A3" -> its contact's region;
 * a bipolar channel "A3-A4" -> the regions of both contacts (one or two).
 * regions[2] gets the indices, *n how many (0 when none is localised). */
void vbt_cohort_channel_regions(const vbt_cohort_localisation *l, const char *channel,
                                long regions[2], size_t *n);

/* Which labelled channels a region set takes. */
typedef enum vbt_cohort_label {
    VBT_COHORT_SOZ = 1,
    VBT_COHORT_RESECT = 2
} vbt_cohort_label;

/* in_set[l->n_regions] = 1 for every region of a channel of run r marked
 * `which` (bad channels included: a clinical label is not a signal
 * quality), else 0.  Returns the number of regions in the set. */
size_t vbt_cohort_region_set(const vbt_cohort_localisation *l, const vbt_cohort_run *r,
                             vbt_cohort_label which, unsigned char *in_set);

/* ---- running --------------------------------------------------------------- */

typedef struct vbt_cohort_run_opts {
    const char *outdir;          /* OUT; each subject in OUT/sub-ID/ */
    vbt_cohort_atlas atlas;
    vbt_pipeline_opts pipeline;  /* template: outdir is set per run */
    double ez_threshold;         /* a region is in the EZ map when P(EZ) > this: 0.5 */
} vbt_cohort_run_opts;

/* Defaults: vbt_pipeline_opts_default, atlas paths NULL, radius 10 mm,
 * ez_threshold 0.5, outdir NULL. */
void vbt_cohort_run_opts_default(vbt_cohort_run_opts *o);

/* Run subject i: every ictal run that has a signal and an onset through
 * the pipeline into OUT/sub-ID/RUN/ (RUN = vbt_cohort_run.name) on the
 * atlas (the run's inputs are staged in OUT/sub-ID/RUN/input/: electrodes
 * in mm without n/a rows, the run's channels and events with the onset
 * normalised, the signal linked, hypothesis.txt = the SOZ regions,
 * resections.txt = the resected regions), then, last, OUT/sub-ID/subject.json
 * (schema vbt.cohort_subject/1: "status" done|failed, "reason",
 * "ez_threshold", "runs": [{"run", "status" ok|failed|skipped, "reason"}]),
 * atomically.  Reasons name files relative to OUT or the dataset.  A subject whose
 * subject.json exists is skipped (VBT_OK); an interrupted one resumes (the
 * pipeline skips its finished steps).  A failure is recorded in
 * subject.json with its one-line reason and returned with msg set. */
int vbt_cohort_subject_run(const vbt_cohort *c, size_t i, const vbt_cohort_run_opts *o,
                           vbt_msg *msg);

/* ---- a subject's work apart (more workers than subjects) -------------------------
 *
 * `vbt cohort run` hands each worker (an MPI rank, or a thread) a task.  With
 * as many subjects as workers or more, a task is a subject
 * (vbt_cohort_subject_run).  With more workers than subjects the fit's NUTS
 * chains of each subject run apart (vbt_pipeline_prepare_chains,
 * vbt_pipeline_run_chain): per subject, a PREPARE task (every fittable run
 * up to its fit's MAP stage), one CHAIN task per chain of each run (after
 * PREPARE), and the SUBJECT task (after all of them: merges the chains,
 * runs the steps after the fit, writes subject.json).  The outputs are the
 * same bytes either way (the fit's timings aside): a chain's draws depend
 * on its seed and index only.  Tasks are listed subject by subject, each
 * prerequisite before the tasks that need it (vbt_cohort_sched.h's
 * vbt_cohort_scheduler_run_deps). */
typedef enum vbt_cohort_task_kind {
    VBT_COHORT_TASK_SUBJECT = 0, /* the whole subject (vbt_cohort_subject_run) */
    VBT_COHORT_TASK_PREPARE,     /* its runs up to the fit's MAP stage */
    VBT_COHORT_TASK_CHAIN        /* chain `chain` of run `run`'s fit */
} vbt_cohort_task_kind;

typedef struct vbt_cohort_task {
    vbt_cohort_task_kind kind;
    size_t subject;              /* index in vbt_cohort.subjects */
    size_t run, chain;           /* CHAIN: index in the subject's runs, chain (0-based) */
} vbt_cohort_task;

typedef struct vbt_cohort_plan {
    size_t n_tasks;
    vbt_cohort_task *tasks;
    size_t *dep_start;           /* n_tasks + 1: task k needs deps[dep_start[k] ..] */
    size_t *deps;
} vbt_cohort_plan;

/* The tasks of the subjects subjects[0 .. n-1] (indices into c), split
 * (chains apart) when split is non-zero and the fit has chains (method
 * nuts); a subject without a fittable run is one SUBJECT task either way.
 * VBT_EINVAL, VBT_ENOMEM. */
int vbt_cohort_plan_alloc(vbt_cohort_plan **out, const vbt_cohort *c, const size_t *subjects,
                          size_t n, const vbt_cohort_run_opts *o, int split, vbt_msg *msg);
void vbt_cohort_plan_free(vbt_cohort_plan *p);

/* Run one task.  PREPARE and CHAIN do nothing once the subject is finished
 * (subject.json); their failures are statuses only: the SUBJECT task meets
 * them again (it runs the fit in one piece when a chain did not end) and
 * records them.  VBT_OK or the failure with msg set (no absolute path). */
int vbt_cohort_task_run(const vbt_cohort *c, const vbt_cohort_task *t,
                        const vbt_cohort_run_opts *o, vbt_msg *msg);

/* ---- scoring ----------------------------------------------------------------- */

typedef struct vbt_cohort_f1 {
    size_t tp, n_pred, n_true;
    double precision;    /* tp / n_pred; NaN when n_pred == 0 */
    double recall;       /* tp / n_true; NaN when n_true == 0 */
    double f1;           /* 2PR/(P+R); 0 when tp == 0 and both sets are non-empty; NaN
                            when either set is empty */
} vbt_cohort_f1;

/* Compare predicted and true region sets (n flags each). */
void vbt_cohort_score_sets(const unsigned char *pred, const unsigned char *truth, size_t n,
                           vbt_cohort_f1 *s);

/* One row of cohort.csv: a subject and run (docs/cohort.md). */
typedef struct vbt_cohort_row {
    char subject[64];
    char run[128];       /* "" for a subject that failed before any run */
    char status[16];     /* "ok", "failed", "skipped" */
    char reason[256];    /* one line, "" when ok */
    vbt_cohort_outcome outcome;
    char engel[16], therapy[32], implant[16];
    size_t n_regions, n_ez;   /* EZ: P(EZ) > ez_threshold */
    vbt_cohort_f1 soz, resect;
    double p_free;       /* P(seizure freedom) of the resection performed; NaN unknown */
    int trustworthy;     /* the fit's verdict: 1 passed, 0 failed, -1 unknown */
    char verdict_reasons[600]; /* the failed checks' reasons joined by "; " (results.json
                                  "verdict"), "" when trustworthy or unknown */
    int combined;        /* 1 for the subject's combined row (run "combined") */
} vbt_cohort_row;

/* Gather the rows of every subject of c that has OUT/sub-ID/subject.json:
 * its runs' rows, then when it has several ok runs a "combined" row: a
 * region is in the combined EZ when its P(EZ) averaged over the ok runs
 * exceeds the threshold, the labels are the union of the runs', p_free the
 * mean over runs, trustworthy 1 only when every run's fit passed.  Subjects without
 * subject.json get a row with status "skipped" and reason "not run".
 * *rows malloc'd (free()). */
int vbt_cohort_collect(const vbt_cohort *c, const char *outdir, vbt_cohort_row **rows,
                       size_t *n_rows, vbt_msg *msg);

/* cohort.csv: a header and one line per row, fixed formatting (%.6g),
 * written atomically. */
int vbt_cohort_write_csv(const char *path, const vbt_cohort_row *rows, size_t n,
                         vbt_msg *msg);

/* Area under the ROC curve of score (higher = positive) against label
 * (1 positive, 0 negative; other values and NaN scores ignored), ties
 * counted one half (Mann-Whitney).  NaN when either class is empty. */
double vbt_cohort_auc(const double *score, const int *label, size_t n);

typedef struct vbt_cohort_summary_opts {
    size_t n_boot;       /* bootstrap resamples: 2000 */
    uint64_t seed;       /* 42 */
    double level;        /* interval coverage: 0.95 */
    int against_resect;  /* F1 against the resected regions (1) or the SOZ (0): 0 */
} vbt_cohort_summary_opts;
void vbt_cohort_summary_opts_default(vbt_cohort_summary_opts *o);

typedef struct vbt_cohort_stat {
    double value, lo, hi;    /* estimate and percentile bootstrap interval; NaN when undefined */
    size_t n;
} vbt_cohort_stat;

/* Across the cohort, one value per subject (its combined row when it has
 * one, else its single ok row): mean F1 in the seizure-free and the not
 * seizure-free groups, and the AUC of p_free against outcome (free = 1).
 * Bootstrap: subjects resampled with replacement (per group for F1),
 * seeded, so the same rows give the same intervals. */
typedef struct vbt_cohort_summary {
    vbt_cohort_stat f1_free, f1_not_free, f1_all;
    vbt_cohort_stat auc;
    size_t n_subjects, n_ok, n_failed, n_untrustworthy;
} vbt_cohort_summary;
int vbt_cohort_summarise(const vbt_cohort_row *rows, size_t n, const vbt_cohort_summary_opts *o,
                         vbt_cohort_summary *s, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
