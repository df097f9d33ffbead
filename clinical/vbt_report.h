/* vbt_report.h -- the patient report: one self-contained HTML file with
 * inline SVG figures (no scripts, nothing fetched), and the same figures as
 * SVG files (figures/NAME.svg), with a sidecar report.json (version,
 * settings, SHA-256 of what it read).  Written by the patient pipeline
 * (vbt_pipeline.h) from its steps' results.
 *
 * The page answers first: its first paragraph is one sentence saying where
 * the seizure starts (the EZ regions), how sure the fit is (P(EZ) and the
 * verdict) and what the planned resection would do (P(seizure freedom)
 * with its interval); a failed verdict, a plan that misses its target or a
 * model with no seizure to stop is said there in red.  A MAP-only fit
 * (method "map") is reported as point estimates, never probabilities. */
#ifndef VBT_REPORT_H
#define VBT_REPORT_H

#include <stddef.h>

#include "vbt_common.h"
#include "vbt_connectome.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

typedef struct vbt_report_region {
    char label[VBT_LABEL_MAX];
    double x0_mean, x0_q5, x0_q95, p_ez, p_pz, p_hz;
    double p_recruited;
    double onset_median, onset_q5, onset_q95; /* over the recruiting draws; NaN when none */
    int truth;                            /* 0 none, 1 EZ, 2 PZ (sample patients) */
} vbt_report_region;

typedef struct vbt_report_scenario {
    char *name;                           /* the resection as listed (borrowed) */
    double p_freedom;
    int n_resected;
} vbt_report_scenario;

typedef struct vbt_report_eval {
    char against[64], zone[16];  /* "hypothesis.txt" / "ground_truth.json"; "EZ", "EZ+PZ" */
    size_t n_list, n_pred, tp;   /* listed, predicted, both */
} vbt_report_eval;

/* A channel of the recording that the fit did not use, and why. */
typedef struct vbt_report_dropped {
    char name[64];
    char reason[160];
} vbt_report_dropped;

/* One channel's Epileptogenicity Index (vbt_ei_compute, vbt_seeg.h). */
typedef struct vbt_report_ei {
    char channel[64];
    double ei;                             /* [0, 1] */
    double detect_s;                       /* seconds from the marked onset; NaN: none */
    long region;                           /* the region the contact sees most (largest
                                              gain), -1 unknown */
} vbt_report_ei;

/* What the report reads beside the steps' tables: the recording and the
 * time axis, the verdict, the plan, the contacts and the EI.  Every field
 * may be absent (NaN, 0, NULL, ""): the report then says so or leaves the
 * item out.  Filled by vbt_report_context_load(), or by hand (tests). */
typedef struct vbt_report_context {
    char recording[512];                   /* relative to the patient folder ("" unknown) */
    char format[16];                       /* "EDF+C", ... */
    double fs_hz;
    double onset_s, offset_s;              /* marked seizure, s from the recording start */
    double t0_s, t1_s;                     /* the feature window, likewise */
    double *time_s;                        /* n_time feature times, s from the recording
                                              start (NULL: unknown) */
    size_t n_time;
    double model_dt;                       /* model time units between two feature samples
                                              (the fit's --dt); NaN unknown */
    char feature_unit[128];                /* what the fitted feature's values are ("") */
    size_t n_draws;                        /* posterior draws behind the surgery's
                                              probabilities; 0 unknown */
    int plan_reached;                      /* 1, 0, or -1 unknown */
    double plan_target;                    /* NaN unknown */
    double plan_p;                         /* the plan's P(seizure freedom), NaN unknown */
    double p_without;                      /* P(seizure freedom) without surgery, NaN */
    char **plan_regions;                   /* n_plan labels of the planned resection */
    size_t n_plan;
    struct cJSON *verdict;                 /* {"trustworthy", "checks", "reasons", ...}
                                              (owned), NULL when the fit gives none */
    size_t n_contacts;                     /* contacts (gain.tsv): name and position in mm */
    char (*contact)[64];
    double *contact_xyz;                   /* [n_contacts][3] */
    double *region_xyz;                    /* [n_regions][3]: where the brain maps draw each
                                              region, in the contacts' space: the connectome's
                                              centres, mapped by the gain's registration
                                              (gain.json "centres") when it registered them;
                                              NULL without a connectome */
    int regions_registered;                /* 1: region_xyz are registered centres */
    vbt_report_dropped *dropped;           /* channels not used, with the reason */
    size_t n_dropped, n_rec_channels;      /* ... and the recording's channel count */
    vbt_report_ei *ei;                     /* by decreasing EI */
    size_t n_ei;
    double ei_threshold;                   /* channels at EI >= this are "epileptogenic" [0.3] */
    char ei_note[200];                     /* why there is no EI, when there is none */
    char inputs[16][96];                   /* files read, relative to OUT (report.json) */
    char input_sha[16][65];
    size_t n_inputs;
} vbt_report_context;

/* Fill c from the steps' outputs in outdir (results.json: verdict and plan;
 * features/run.json: recording, marked seizure, window; features/
 * features_time.npy; fit/run.json: dt; fit/summary.json: verdict when
 * results.json has none; surgery/run.json: draws; gain/gain.tsv and
 * gain.npy: contacts and what each sees; gain/gain.json: the registration
 * of the connectome's centres onto the contacts' volume, for region_xyz)
 * and, when patient_dir is not NULL,
 * the recording itself: the channels it has but the fit did not use, and
 * the Epileptogenicity Index of the channels over the seizure.  Missing
 * files leave their fields absent; only VBT_ENOMEM is an error.  patient_dir
 * is never written into c.  Free with vbt_report_context_clear(). */
int vbt_report_context_load(vbt_report_context *c, const char *outdir, const char *patient_dir,
                            const vbt_connectome *conn, vbt_msg *msg);
void vbt_report_context_clear(vbt_report_context *c);

/* Everything the report shows; every pointer is borrowed. */
typedef struct vbt_report_input {
    const char *patient, *outdir, *method, *version;
    const vbt_connectome *conn;
    size_t n;                              /* regions */
    const vbt_report_region *regions;
    size_t n_scen;
    const vbt_report_scenario *scen;
    const char *plan_text;                 /* may be NULL */
    /* feature [T][S] with posterior-predictive quantiles [3][T][S] (may be NULL) */
    const double *feature, *pred;
    const char *feature_label;             /* what `feature` is (NULL: "SEEG feature") */
    size_t T, S;
    char (*chan)[64];                      /* S channel names */
    const vbt_report_eval *eval;           /* precision and recall rows (may be NULL) */
    size_t n_eval;
    const struct cJSON *fit_summary;       /* the fit's summary.json (diagnostics), may be NULL */
    const char *provenance_html;           /* may be NULL */
    /* The patient folder (NULL: unknown): the report reads the recording
     * there for the dropped channels and the EI.  Never shown. */
    const char *patient_dir;
    /* The context (NULL: vbt_report_write loads it from outdir and
     * patient_dir with vbt_report_context_load). */
    const vbt_report_context *ctx;
} vbt_report_input;

/* The first screen: the sentence that answers (plain UTF-8 text, not
 * escaped), and in *warning (may be NULL) what must not be missed, or NULL
 * when nothing: a failed verdict with its reasons, a plan that misses its
 * target, a model with no seizure to stop.  Both malloc'd; NULL when out
 * of memory.  ctx may be NULL. */
char *vbt_report_answer(const vbt_report_input *in, const vbt_report_context *ctx,
                        char **warning);

/* The Wilson score interval (95 %, z = 1.96) of a proportion of k
 * successes in n trials; [0, 1] when n == 0. */
void vbt_report_wilson(double k, double n, double *lo, double *hi);

/* Write OUTDIR/report.html, the figures (OUTDIR/figures/NAME.svg) and
 * OUTDIR/report.json (the sidecar), each file atomically.  VBT_OK, or VBT_EIO / VBT_ENOMEM / VBT_EINVAL (path too
 * long) with msg set. */
int vbt_report_write(const vbt_report_input *in, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
