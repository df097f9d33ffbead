/* vbt_cohort_out.h -- what `vbt cohort run` writes beside cohort.csv: the
 * cohort report (cohort.html) and the results as BIDS derivatives
 * (OUT/derivatives/vbt/).  Rows, summaries and the dataset come from
 * vbt_cohort.h; the layout is documented in docs/cohort.md. */
#ifndef VBT_COHORT_OUT_H
#define VBT_COHORT_OUT_H

#include <stddef.h>

#include "vbt_cohort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cohort.html: one self-contained page (no scripts, nothing fetched): the
 * summary (F1 by outcome group and the AUC with their bootstrap
 * intervals), the F1 distribution per outcome group and the ROC of the
 * predicted seizure freedom against the real outcome as inline SVG, and
 * the table of rows.  One value per subject as vbt_cohort_summarise (the
 * combined row when there is one, else the single ok row).  Written
 * atomically; the same rows give the same bytes. */
int vbt_cohort_write_html(const char *path, const vbt_cohort_row *rows, size_t n,
                          const vbt_cohort_summary *sum, vbt_msg *msg);

/* The ROC of score (higher = positive) against label (1/0; others and NaN
 * scores ignored): the curve's corners from (0, 0) to (1, 1), ties taken
 * together.  fpr/tpr hold at most n + 1 points; *n_points their number
 * (0 when either class is empty). */
void vbt_cohort_roc(const double *score, const int *label, size_t n, double *fpr, double *tpr,
                    size_t *n_points);

/* BIDS derivatives of the runs that finished: for each subject with
 * OUT/sub-ID/subject.json and each of its runs with OUT/sub-ID/RUN/results.json,
 *   OUT/derivatives/vbt/sub-ID/[ses-X/]ieeg/sub-ID_RUN_atlas-DK84_desc-ez_probseg.tsv
 *     index, region, p_ez, p_pz, p_hz, ez (1 when p_ez > ez_threshold)
 *   OUT/derivatives/vbt/sub-ID/[ses-X/]ieeg/sub-ID_RUN_desc-ez_channels.tsv
 *     name, region ("n/a" when not localised), p_ez of that region, label
 *     (ez, pz (p_pz > ez_threshold), hz, n/a)
 * and OUT/derivatives/vbt/dataset_description.json (DatasetType
 * "derivative", GeneratedBy vbt and its version).  Files are written
 * atomically; existing ones are rewritten with the same bytes.
 * *n_written (may be NULL) gets the number of runs written. */
int vbt_cohort_write_derivatives(const vbt_cohort *c, const char *outdir,
                                 const vbt_cohort_atlas *atlas, double ez_threshold,
                                 size_t *n_written, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
