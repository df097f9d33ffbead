/* report.h -- the patient report: one self-contained HTML file with inline
 * SVG figures (no network access needed), and the same figures as SVG files. */
#ifndef VBT_CLI_REPORT_H
#define VBT_CLI_REPORT_H

#include <stddef.h>

#include "vbt.h"

struct cJSON;

typedef struct report_region {
    char label[VBT_LABEL_MAX];
    double x0_mean, x0_q5, x0_q95, p_ez, p_pz, p_hz;
    double p_recruited;
    double onset_median, onset_q5, onset_q95; /* over the recruiting draws; NaN when none */
    int truth;                            /* 0 none, 1 EZ, 2 PZ (sample patients) */
} report_region;

typedef struct report_scenario {
    char name[256];
    double p_freedom;
    int n_resected;
} report_scenario;

typedef struct report_eval {
    char against[64], zone[16];            /* "hypothesis.txt" / "ground_truth.json"; "EZ", "EZ+PZ" */
    size_t n_list, n_pred, tp;             /* listed, predicted, both */
} report_eval;

typedef struct report_input {
    const char *patient, *outdir, *method, *version;
    const vbt_connectome *conn;
    size_t n;                              /* regions */
    const report_region *regions;
    size_t n_scen;
    const report_scenario *scen;
    const char *plan_text;                 /* may be NULL */
    /* feature [T][S] with posterior-predictive quantiles [3][T][S] (may be NULL) */
    const double *feature, *pred;
    const char *feature_label;  /* what `feature` is (NULL: "SEEG feature") */
    size_t T, S;
    char (*chan)[64];                      /* S channel names */
    const report_eval *eval;               /* precision and recall rows (may be NULL) */
    size_t n_eval;
    const struct cJSON *fit_summary;       /* the fit's summary.json (diagnostics), may be NULL */
    const char *provenance_html;           /* may be NULL */
} report_input;

/* Write OUTDIR/report.html and the figures (OUTDIR/figures/NAME.svg) atomically.  Returns 0 or
 * -1 with err set. */
int report_write(const report_input *in, char *err, size_t errlen);

#endif
