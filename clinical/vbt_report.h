/* vbt_report.h -- the patient report: one self-contained HTML file with
 * inline SVG figures (no scripts, nothing fetched), and the same figures as
 * SVG files (figures/NAME.svg).  Written by the patient pipeline
 * (vbt_pipeline.h) from its steps' results. */
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
} vbt_report_input;

/* Write OUTDIR/report.html and the figures (OUTDIR/figures/NAME.svg), each
 * file atomically.  VBT_OK, or VBT_EIO / VBT_ENOMEM / VBT_EINVAL (path too
 * long) with msg set. */
int vbt_report_write(const vbt_report_input *in, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
