/* report_internal.h -- what the report's files share (not installed):
 * escaping, number formatting that never prints NaN, and the SVG figures
 * (report_figs.c). */
#ifndef VBT_REPORT_INTERNAL_H
#define VBT_REPORT_INTERNAL_H

#include <stddef.h>

#include "internal.h"
#include "vbt_text.h"
#include "vbt_report.h"

/* Text for HTML/SVG: the five special characters escaped. */
VBT_HIDDEN void vbt__rep_text(vbt_textbuf *b, const char *t);
/* A number printed with fmt, or "–" when it is not finite. */
VBT_HIDDEN void vbt__rep_num(vbt_textbuf *b, const char *fmt, double v);
/* 1 for a MAP-only fit: point estimates, no probabilities. */
VBT_HIDDEN int vbt__rep_map_only(const vbt_report_input *in);

/* A colour scale for the brain maps: values lo..hi drawn pale to dark
 * (reverse: dark to pale), with tick values and a caption. */
typedef struct vbt__rep_scale {
    double lo, hi;
    int reverse;
    const char *caption;
    double ticks[6];
    size_t n_ticks;
    const char *tick_fmt;
} vbt__rep_scale;

VBT_HIDDEN void vbt__rep_fig_connectome(vbt_textbuf *b, const vbt_report_input *in);
/* Every region's x0 (posterior interval, or the mode alone for map),
 * sorted by decreasing x0. */
VBT_HIDDEN void vbt__rep_fig_x0(vbt_textbuf *b, const vbt_report_input *in);
/* Region centres in three views (axial, coronal, sagittal) inside an
 * outline of the brain with L/R, A/P and S/I markers, coloured by value[n]
 * on the scale (NaN: grey, "none" in the legend), the regions of mark[n]
 * ringed, the contacts of ctx as small black squares, and a colour bar. */
VBT_HIDDEN void vbt__rep_fig_brain(vbt_textbuf *b, const vbt_report_input *in,
                                   const vbt_report_context *ctx, const char *id,
                                   const char *title, const double *value,
                                   const unsigned char *mark, const vbt__rep_scale *sc);
/* The fitted feature on the widest channels against the posterior
 * predictive 5-95 % band, over time in seconds from the marked onset (or
 * samples when the context has no time axis), with onset and offset marks
 * and the unit.  outside[k] / shown: each panel's fraction of points
 * outside the band (NaN without a band); returns the number of panels. */
VBT_HIDDEN size_t vbt__rep_fig_feature(vbt_textbuf *b, const vbt_report_input *in,
                                       const vbt_report_context *ctx, size_t *chan,
                                       double *outside, size_t max);

#endif
