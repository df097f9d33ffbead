/* report.c -- the patient report as one self-contained HTML page: inline SVG
 * figures (report_figs.c; no scripts, no fonts or images fetched), the same
 * figures as SVG files for papers, and report.json beside them.
 *
 * The page answers first.  Its first paragraph is one sentence: where the
 * seizure starts, how sure the fit is, what the planned resection would do;
 * what must not be missed (a failed verdict with its reasons, a plan that
 * misses its target, a model with no seizure to stop) follows it in red.
 * Then the EZ table by decreasing probability, the verdict's checks, the
 * Epileptogenicity Index beside the model's EZ, the recording and its
 * channels, propagation, figures, surgery and diagnostics.
 *
 * A MAP-only fit is a point: the page then shows x0 at the mode and the
 * class it falls in, never a probability.  No number on the page or in the
 * figures is ever printed as NaN: a missing value is "–".  The page is
 * well-formed XML (polyglot HTML5), checked by tests/test_report.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "report_internal.h"
#include "vbt_io.h"
#include "vbt_seeg.h"
#include "vbt_vep.h"

#define DASH "\xe2\x80\x93" /* – */

void vbt__rep_text(vbt_textbuf *b, const char *t)
{
    if (!t)
        return;
    for (; *t; t++) {
        switch (*t) {
        case '<': vbt_textbuf_printf(b, "&lt;"); break;
        case '>': vbt_textbuf_printf(b, "&gt;"); break;
        case '&': vbt_textbuf_printf(b, "&amp;"); break;
        case '"': vbt_textbuf_printf(b, "&quot;"); break;
        case '\'': vbt_textbuf_printf(b, "&#39;"); break;
        default: vbt_textbuf_printf(b, "%c", *t);
        }
    }
}

void vbt__rep_num(vbt_textbuf *b, const char *fmt, double v)
{
    if (!isfinite(v)) {
        vbt_textbuf_printf(b, DASH);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    vbt_textbuf_printf(b, "%s", buf);
}

int vbt__rep_map_only(const vbt_report_input *in)
{
    return in->method && !strcmp(in->method, "map");
}

/* Seconds between two feature samples and the time of sample 0, from the
 * context (features_time.npy, else the window over T samples). */
static int sample_clock(const vbt_report_context *c, size_t T, double *t_first, double *dts)
{
    if (!c)
        return 0;
    if (c->time_s && c->n_time >= 2) {
        *t_first = c->time_s[0];
        *dts = (c->time_s[c->n_time - 1] - c->time_s[0]) / (double)(c->n_time - 1);
    } else if (isfinite(c->t0_s) && isfinite(c->t1_s) && T >= 2) {
        *t_first = c->t0_s;
        *dts = (c->t1_s - c->t0_s) / (double)(T - 1);
    } else {
        return 0;
    }
    return isfinite(*t_first) && *dts > 0 && isfinite(*dts);
}

/* Model time t (predict's units, from the start of the fitted window, where
 * sample k lies at k * dt: vbt_vep.h) in seconds from the marked onset:
 * sample t / dt of the feature's clock; NaN when the context cannot say. */
static double onset_s_of(const vbt_report_input *in, const vbt_report_context *c, double t)
{
    double t_first, dts;
    if (!c || !isfinite(t) || !(c->model_dt > 0) || !isfinite(c->onset_s) ||
        !sample_clock(c, in->T, &t_first, &dts))
        return NAN;
    return t_first + t / c->model_dt * dts - c->onset_s;
}

void vbt_report_wilson(double k, double n, double *lo, double *hi)
{
    if (!(n > 0) || !(k >= 0) || k > n) {
        *lo = 0.0;
        *hi = 1.0;
        return;
    }
    const double z = 1.959963984540054, p = k / n, z2n = z * z / n;
    double centre = (p + z2n / 2) / (1 + z2n);
    double half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z2n);
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
}

/* ---- the verdict -------------------------------------------------------------- */

/* 1 trustworthy, 0 not, -1 unknown; the failed checks' reasons (borrowed
 * strings) into why[max]. */
static int verdict_of(const vbt_report_input *in, const vbt_report_context *c,
                      const char **why, size_t max, size_t *n_why)
{
    *n_why = 0;
    const cJSON *v = c ? c->verdict : NULL, *it;
    if (!v && in->fit_summary)
        v = cJSON_GetObjectItemCaseSensitive(in->fit_summary, "verdict");
    if (cJSON_IsObject(v)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "trustworthy");
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(v, "reasons"))
        {
            if (cJSON_IsString(it) && *n_why < max)
                why[(*n_why)++] = it->valuestring;
        }
        if (!*n_why)
            cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(v, "checks"))
            {
                const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "passed");
                const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "reason");
                if (cJSON_IsFalse(p) && cJSON_IsString(r) && *n_why < max)
                    why[(*n_why)++] = r->valuestring;
            }
        if (cJSON_IsBool(t))
            return cJSON_IsTrue(t);
    }
    const cJSON *passed = cJSON_GetObjectItemCaseSensitive(in->fit_summary, "diagnostics_passed");
    if (!*n_why)
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(in->fit_summary,
                                                                 "diagnostic_failures"))
        {
            if (cJSON_IsString(it) && *n_why < max)
                why[(*n_why)++] = it->valuestring;
        }
    if (cJSON_IsBool(passed))
        return cJSON_IsTrue(passed);
    return -1;
}

/* ---- the first screen ----------------------------------------------------------- */

/* Sort keys: up to three values, decreasing, then the index (qsort on
 * these, no shared state: reports may be written from several threads). */
typedef struct rkey {
    double k[3];
    size_t i;
} rkey;

static int by_keys_desc(const void *a, const void *b)
{
    const rkey *x = a, *y = b;
    for (int k = 0; k < 3; k++) {
        double u = isfinite(x->k[k]) ? x->k[k] : -HUGE_VAL;
        double v = isfinite(y->k[k]) ? y->k[k] : -HUGE_VAL;
        if (u != v)
            return u < v ? 1 : -1;
    }
    return x->i < y->i ? -1 : 1;
}

/* Region indices in the report's order: P(EZ), then P(PZ), then x0,
 * decreasing; map: x0. */
static size_t *ez_order(const vbt_report_input *in)
{
    const int map = vbt__rep_map_only(in);
    size_t *ord = malloc((in->n ? in->n : 1) * sizeof *ord);
    rkey *key = malloc((in->n ? in->n : 1) * sizeof *key);
    if (!ord || !key) {
        free(ord);
        free(key);
        return NULL;
    }
    for (size_t i = 0; i < in->n; i++) {
        const vbt_report_region *r = &in->regions[i];
        key[i] = map ? (rkey){{r->x0_mean, NAN, NAN}, i}
                     : (rkey){{r->p_ez, r->p_pz, r->x0_mean}, i};
    }
    qsort(key, in->n, sizeof *key, by_keys_desc);
    for (size_t i = 0; i < in->n; i++)
        ord[i] = key[i].i;
    free(key);
    return ord;
}

static int is_ez(const vbt_report_input *in, const vbt_report_region *r)
{
    if (vbt__rep_map_only(in))
        return isfinite(r->x0_mean) && r->x0_mean >= VBT_VEP_X0_EZ;
    return r->p_ez > 0.5;
}

/* "a", "a and b", "a, b and c" of the first names (at most 6, then "and N
 * more"). */
static void sb_names(vbt_textbuf *b, char *const *names, size_t n)
{
    size_t show = n > 6 ? 5 : n;
    for (size_t i = 0; i < show; i++)
        vbt_textbuf_printf(b, "%s%s", i == 0 ? "" : i + 1 == n ? " and " : ", ", names[i]);
    if (show < n)
        vbt_textbuf_printf(b, " and %zu more", n - show);
}

static char *finish(vbt_textbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s)
        vbt_textbuf_printf(b, "%s", "");
    return b->oom ? NULL : b->s;
}

char *vbt_report_answer(const vbt_report_input *in, const vbt_report_context *c, char **warning)
{
    const int map = vbt__rep_map_only(in);
    vbt_textbuf s = {0}, w = {0};
    size_t *ord = ez_order(in), n_ez = 0;
    const char *why[16];
    size_t n_why;
    int trust = verdict_of(in, c, why, 16, &n_why);
    if (warning)
        *warning = NULL;
    if (!ord)
        return NULL;
    while (n_ez < in->n && is_ez(in, &in->regions[ord[n_ez]]))
        n_ez++;
    /* where, and how sure */
    if (map)
        vbt_textbuf_printf(&s, "Point estimate only (the posterior's mode, no probabilities): ");
    if (n_ez) {
        vbt_textbuf_printf(&s, "%s", map ? "the seizure starts in " : "The seizure starts in ");
        size_t show = n_ez > 6 ? 5 : n_ez;
        for (size_t k = 0; k < show; k++) {
            const vbt_report_region *r = &in->regions[ord[k]];
            vbt_textbuf_printf(&s, "%s%s", k == 0 ? "" : k + 1 == n_ez ? " and " : ", ", r->label);
            if (map)
                vbt_textbuf_printf(&s, " (x0 %.2f)", r->x0_mean);
            else
                vbt_textbuf_printf(&s, " (P(EZ) %.2f)", r->p_ez);
        }
        if (show < n_ez)
            vbt_textbuf_printf(&s, " and %zu more", n_ez - show);
        if (map)
            vbt_textbuf_printf(&s, ", above the EZ threshold x0 = %.2f", VBT_VEP_X0_EZ);
    } else if (in->n) {
        const vbt_report_region *r = &in->regions[ord[0]];
        if (map)
            vbt_textbuf_printf(&s,
                               "no region's x0 reaches the EZ threshold %.2f (the highest: %s at "
                               "%.2f)",
                               VBT_VEP_X0_EZ, r->label, r->x0_mean);
        else
            vbt_textbuf_printf(&s,
                               "The fit finds no region likely to start the seizure (the highest "
                               "P(EZ): %s at %.2f)",
                               r->label, r->p_ez);
    } else {
        vbt_textbuf_printf(&s, "%s", map ? "no region was fitted" : "No region was fitted");
    }
    vbt_textbuf_printf(&s, "%s",
                       trust == 1   ? "; the fit's verdict: trustworthy"
                       : trust == 0 ? "; the fit's verdict: NOT trustworthy"
                                    : "; the fit gives no verdict");
    /* what the planned resection would do */
    int have_plan = c && (c->n_plan || isfinite(c->plan_p));
    double p = have_plan ? c->plan_p : NAN, lo, hi;
    if (!have_plan) {
        vbt_textbuf_printf(&s, "; no resection plan was computed.");
    } else if (map) {
        if (c->plan_reached == 0 || !(p >= 0.5)) {
            vbt_textbuf_printf(&s,
                               "; at this point of the fitted model no resection within the plan's "
                               "limits stops the seizure");
            if (c->n_plan) {
                vbt_textbuf_printf(&s, " (the best found: ");
                sb_names(&s, c->plan_regions, c->n_plan);
                vbt_textbuf_printf(&s, ")");
            }
            vbt_textbuf_printf(&s, ".");
        } else if (!c->n_plan) {
            vbt_textbuf_printf(&s, "; at this point the fitted model has no seizure to stop.");
        } else {
            vbt_textbuf_printf(&s, "; at this point of the fitted model, resecting ");
            sb_names(&s, c->plan_regions, c->n_plan);
            vbt_textbuf_printf(&s, " stops the seizure. Its certainty is not measured: fit with "
                                   "--method nuts for probabilities.");
        }
    } else {
        if (c->plan_reached == 0)
            vbt_textbuf_printf(&s,
                               "; no resection within the plan's limits reaches the target "
                               "P(seizure freedom) %.2f: the best found, resecting ",
                               c->plan_target);
        else
            vbt_textbuf_printf(&s, "; resecting ");
        if (c->n_plan)
            sb_names(&s, c->plan_regions, c->n_plan);
        else
            vbt_textbuf_printf(&s, "nothing");
        vbt_textbuf_printf(&s, " would give P(seizure freedom) %.2f", p);
        if (c->n_draws && isfinite(p)) {
            vbt_report_wilson(floor(p * (double)c->n_draws + 0.5), (double)c->n_draws, &lo, &hi);
            vbt_textbuf_printf(&s, " (95 %% interval %.2f" DASH "%.2f over %zu posterior draws)",
                               lo, hi, c->n_draws);
        }
        vbt_textbuf_printf(&s, " in the fitted model");
        if (isfinite(c->p_without))
            vbt_textbuf_printf(&s, ", against %.2f without surgery", c->p_without);
        vbt_textbuf_printf(&s, ".");
    }
    /* what must not be missed */
    if (trust == 0) {
        vbt_textbuf_printf(&w, "Do not trust this answer: the fit fails its checks");
        for (size_t k = 0; k < n_why; k++)
            vbt_textbuf_printf(&w, "%s%s", k ? "; " : ": ", why[k]);
        vbt_textbuf_printf(&w, ". ");
    }
    if (have_plan && c->plan_reached == 0) {
        if (map)
            vbt_textbuf_printf(
                &w, "The surgery plan misses its target: no resection it tried stops the "
                    "seizure at the mode. ");
        else
            vbt_textbuf_printf(
                &w,
                "The surgery plan misses its target: P(seizure freedom) %.2f is below "
                "%.2f. ",
                p, c->plan_target);
    }
    double target = c && isfinite(c->plan_target) ? c->plan_target : 0.9;
    if (c && isfinite(c->p_without) && c->p_without >= target) {
        if (map)
            vbt_textbuf_printf(
                &w, "Without surgery the fitted model has no seizure at the mode: it does "
                    "not reproduce the recorded seizure, so neither its EZ nor its plan "
                    "means anything. ");
        else
            vbt_textbuf_printf(
                &w,
                "Without surgery the fitted model already gives P(seizure freedom) "
                "%.2f: it does not reproduce the recorded seizure, so neither its EZ nor "
                "its plan means anything. ",
                c->p_without);
    }
    free(ord);
    if (w.len && w.s[w.len - 1] == ' ')
        w.s[--w.len] = '\0';
    char *ans = finish(&s);
    if (!ans) {
        free(w.s);
        return NULL;
    }
    if (warning && w.len) {
        if (!(*warning = finish(&w))) {
            free(ans);
            return NULL;
        }
    } else {
        free(w.s);
    }
    return ans;
}

/* ---- sections ------------------------------------------------------------------- */

/* A comma-separated region list in HTML text: escaped, with a line-break
 * opportunity after each comma. */
static void put_list(vbt_textbuf *b, const char *t)
{
    char item[2] = {0, 0};
    for (; t && *t; t++) {
        item[0] = *t;
        vbt__rep_text(b, item);
        if (*t == ',')
            vbt_textbuf_printf(b, "<wbr/>");
    }
}

/* The largest EI over the channels whose contact sees region i most; NaN
 * when none. */
static double region_ei(const vbt_report_context *c, size_t i)
{
    double best = NAN;
    for (size_t k = 0; c && k < c->n_ei; k++)
        if (c->ei[k].region == (long)i && !(c->ei[k].ei <= best))
            best = c->ei[k].ei;
    return best;
}

static void onset_cell(vbt_textbuf *b, const vbt_report_input *in, const vbt_report_context *c,
                       double t)
{
    double s = onset_s_of(in, c, t);
    if (isfinite(s))
        vbt__rep_num(b, "%+.2f s", s);
    else if (isfinite(t))
        vbt__rep_num(b, "%.3g (model time)", t);
    else
        vbt_textbuf_printf(b, DASH);
}

static void ez_table(vbt_textbuf *b, const vbt_report_input *in, const vbt_report_context *c,
                     const size_t *ord)
{
    const int map = vbt__rep_map_only(in);
    vbt_textbuf_printf(b, "<h2>Epileptogenic zone</h2>\n<p>");
    if (map)
        vbt_textbuf_printf(
            b,
            "Regions by decreasing excitability x0 at the mode (classes by BVEP's "
            "thresholds: EZ at x0 &#8805; %.2f, PZ at x0 &#8805; %.2f); onset at the "
            "mode",
            VBT_VEP_X0_EZ, VBT_VEP_X0_PZ);
    else
        vbt_textbuf_printf(
            b,
            "Regions by decreasing probability of belonging to the EZ (posterior "
            "fraction of draws with x0 &#8805; %.2f; PZ: %.2f to %.2f); median onset "
            "over the draws that recruit the region",
            VBT_VEP_X0_EZ, VBT_VEP_X0_PZ, VBT_VEP_X0_EZ);
    vbt_textbuf_printf(b, ", in seconds from the marked seizure onset. EI: the largest "
                          "Epileptogenicity Index of the channels that see the region most.</p>\n"
                          "<table id=\"ez-table\"><tr><th>region</th>");
    if (map)
        vbt_textbuf_printf(b, "<th>class at the mode</th><th>x0 at the mode</th>");
    else
        vbt_textbuf_printf(b, "<th>P(EZ)</th><th>P(PZ)</th><th>x0 mean [5 %%, 95 %%]</th>"
                              "<th>P(recruited)</th>");
    vbt_textbuf_printf(b, "<th>EI</th><th>onset</th><th>truth</th></tr>\n");
    for (size_t k = 0; k < in->n; k++) {
        const vbt_report_region *r = &in->regions[ord[k]];
        double ei = region_ei(c, ord[k]);
        int cls = isfinite(r->x0_mean) ? (int)vbt_vep_x0_class(r->x0_mean) : 0;
        int keep = map ? cls >= 1 : (r->p_ez > 0.1 || r->p_pz > 0.5);
        keep |= r->truth != 0 || (c && ei >= c->ei_threshold);
        if (!keep)
            continue;
        const char *css = map ? (cls == 2 ? "ez" : cls == 1 ? "pz" : "")
                              : (r->p_ez > 0.5 ? "ez" : r->p_pz > 0.5 ? "pz" : "");
        vbt_textbuf_printf(b, "<tr class=\"ez-row\"><td class=\"%s\">", css);
        vbt__rep_text(b, r->label);
        vbt_textbuf_printf(b, "</td>");
        if (map) {
            vbt_textbuf_printf(b, "<td>%s</td><td>",
                               isfinite(r->x0_mean) ? vbt_vep_class_name((vbt_vep_class)cls)
                                                    : DASH);
            vbt__rep_num(b, "%.2f", r->x0_mean);
            vbt_textbuf_printf(b, "</td>");
        } else {
            vbt_textbuf_printf(b, "<td class=\"p-ez\">");
            vbt__rep_num(b, "%.2f", r->p_ez);
            vbt_textbuf_printf(b, "</td><td>");
            vbt__rep_num(b, "%.2f", r->p_pz);
            vbt_textbuf_printf(b, "</td><td>");
            vbt__rep_num(b, "%.2f", r->x0_mean);
            vbt_textbuf_printf(b, " [");
            vbt__rep_num(b, "%.2f", r->x0_q5);
            vbt_textbuf_printf(b, ", ");
            vbt__rep_num(b, "%.2f", r->x0_q95);
            vbt_textbuf_printf(b, "]</td><td>");
            vbt__rep_num(b, "%.2f", r->p_recruited);
            vbt_textbuf_printf(b, "</td>");
        }
        vbt_textbuf_printf(b, "<td>");
        vbt__rep_num(b, "%.2f", ei);
        vbt_textbuf_printf(b, "</td><td>");
        onset_cell(b, in, c, r->onset_median);
        vbt_textbuf_printf(b, "</td><td>%s</td></tr>\n",
                           r->truth == 1 ? "EZ" : r->truth == 2 ? "PZ" : "");
    }
    vbt_textbuf_printf(b, "</table>\n");
}

static void verdict_section(vbt_textbuf *b, const vbt_report_input *in,
                            const vbt_report_context *c)
{
    const char *why[16];
    size_t n_why;
    int trust = verdict_of(in, c, why, 16, &n_why);
    vbt_textbuf_printf(b, "<h2>Verdict of the fit</h2>\n");
    if (trust == 1)
        vbt_textbuf_printf(b, "<p class=\"ok\">Trustworthy: every check passes.</p>\n");
    else if (trust == 0)
        vbt_textbuf_printf(b, "<p class=\"bad\">Not trustworthy: at least one check fails.</p>\n");
    else
        vbt_textbuf_printf(b, "<p>The fit gives no verdict.</p>\n");
    const cJSON *v = c ? c->verdict : NULL, *it;
    if (!v && in->fit_summary)
        v = cJSON_GetObjectItemCaseSensitive(in->fit_summary, "verdict");
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(v, "checks");
    if (cJSON_GetArraySize(checks) > 0) {
        vbt_textbuf_printf(b, "<table id=\"verdict\"><tr><th>check</th><th>value</th>"
                              "<th>threshold</th><th></th><th>why</th></tr>\n");
        cJSON_ArrayForEach(it, checks)
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *rs = cJSON_GetObjectItemCaseSensitive(it, "reason");
            const cJSON *ps = cJSON_GetObjectItemCaseSensitive(it, "passed");
            const cJSON *val = cJSON_GetObjectItemCaseSensitive(it, "value");
            const cJSON *thr = cJSON_GetObjectItemCaseSensitive(it, "threshold");
            vbt_textbuf_printf(b, "<tr><td>");
            vbt__rep_text(b, cJSON_IsString(nm) ? nm->valuestring : "");
            vbt_textbuf_printf(b, "</td><td>");
            vbt__rep_num(b, "%.4g", cJSON_IsNumber(val) ? val->valuedouble : NAN);
            vbt_textbuf_printf(b, "</td><td>");
            vbt__rep_num(b, "%.4g", cJSON_IsNumber(thr) ? thr->valuedouble : NAN);
            vbt_textbuf_printf(b, "</td><td class=\"%s\">%s</td><td>",
                               cJSON_IsTrue(ps) ? "ok" : "bad", cJSON_IsTrue(ps) ? "pass" : "FAIL");
            vbt__rep_text(b, cJSON_IsString(rs) ? rs->valuestring : "");
            vbt_textbuf_printf(b, "</td></tr>\n");
        }
        vbt_textbuf_printf(b, "</table>\n");
    } else if (n_why) {
        vbt_textbuf_printf(b, "<ul>\n");
        for (size_t k = 0; k < n_why; k++) {
            vbt_textbuf_printf(b, "<li class=\"bad\">");
            vbt__rep_text(b, why[k]);
            vbt_textbuf_printf(b, "</li>\n");
        }
        vbt_textbuf_printf(b, "</ul>\n");
    }
}

static void ei_section(vbt_textbuf *b, const vbt_report_input *in, const vbt_report_context *c,
                       const size_t *ord)
{
    const int map = vbt__rep_map_only(in);
    vbt_textbuf_printf(b, "<h2>Epileptogenicity Index</h2>\n");
    if (!c || !c->n_ei) {
        vbt_textbuf_printf(b, "<p>No Epileptogenicity Index: ");
        vbt__rep_text(b, c && c->ei_note[0] ? c->ei_note : "no recording was given");
        vbt_textbuf_printf(b, ".</p>\n");
        return;
    }
    vbt_textbuf_printf(b,
                       "<p>The classical, model-free reference (Bartolomei, Chauvel and "
                       "Wendling, Brain 2008): each channel's rise of fast activity (energy ratio "
                       "of the beta and gamma bands to the theta and alpha bands, Page-Hinkley "
                       "detection, 1 s windows every 0.25 s), weighted by how early it comes, on "
                       "the same recording and channels as the fit; detection times in seconds "
                       "from the marked onset. Channels at EI &#8805; %.1f are called "
                       "epileptogenic.</p>\n",
                       c->ei_threshold);
    /* regions of the epileptogenic channels against the model's EZ */
    unsigned char *ei_reg = calloc(in->n ? in->n : 1, 1);
    if (!ei_reg) {
        b->oom = 1;
        return;
    }
    size_t n_ei_ch = 0;
    for (size_t k = 0; k < c->n_ei; k++)
        if (c->ei[k].ei >= c->ei_threshold) {
            n_ei_ch++;
            if (c->ei[k].region >= 0 && (size_t)c->ei[k].region < in->n)
                ei_reg[c->ei[k].region] = 1;
        }
    const char *heads[3] = {"Regions seen most by the channels at high EI",
                            map ? "The model's EZ (at the mode)" : "The model's EZ (P(EZ) > 0.5)",
                            "In both"};
    vbt_textbuf_printf(b, "<ul id=\"ei-vs-ez\">\n");
    for (int row = 0; row < 3; row++) {
        vbt_textbuf_printf(b, "<li>%s: ", heads[row]);
        size_t shown = 0;
        for (size_t k = 0; k < in->n; k++) {
            size_t i = ord[k];
            int ez = is_ez(in, &in->regions[i]);
            int want = row == 0 ? ei_reg[i] : row == 1 ? ez : ez && ei_reg[i];
            if (!want)
                continue;
            vbt_textbuf_printf(b, "%s", shown++ ? ", " : "");
            vbt__rep_text(b, in->regions[i].label);
        }
        vbt_textbuf_printf(b, "%s</li>\n", shown ? "" : "none");
    }
    vbt_textbuf_printf(b, "</ul>\n");
    if (isfinite(c->onset_s) && c->onset_s < 5.0)
        vbt_textbuf_printf(b,
                           "<p>Only %.1f s of recording precede the marked onset: the EI's "
                           "baseline is short, and detections at the start of the analysed window "
                           "(%+.2f s) mark no real change.</p>\n",
                           c->onset_s, 0.5 - c->onset_s);
    vbt_textbuf_printf(b, "<table id=\"ei-table\"><tr><th>channel</th><th>EI</th>"
                          "<th>detection</th><th>region it sees most</th><th>%s</th></tr>\n",
                       map ? "class at the mode" : "P(EZ) of that region");
    size_t rows = c->n_ei < 10 ? c->n_ei : 10;
    if (n_ei_ch > rows)
        rows = n_ei_ch < 30 ? n_ei_ch : 30;
    for (size_t k = 0; k < rows; k++) {
        const vbt_report_ei *e = &c->ei[k];
        vbt_textbuf_printf(b, "<tr><td>");
        vbt__rep_text(b, e->channel);
        vbt_textbuf_printf(b, "</td><td class=\"%s\">", e->ei >= c->ei_threshold ? "ez" : "");
        vbt__rep_num(b, "%.2f", e->ei);
        vbt_textbuf_printf(b, "</td><td>");
        vbt__rep_num(b, "%+.2f s", e->detect_s);
        vbt_textbuf_printf(b, "</td><td>");
        int known = e->region >= 0 && (size_t)e->region < in->n;
        vbt__rep_text(b, known ? in->regions[e->region].label : DASH);
        vbt_textbuf_printf(b, "</td><td>");
        if (!known)
            vbt_textbuf_printf(b, DASH);
        else if (map)
            vbt_textbuf_printf(
                b, "%s",
                isfinite(in->regions[e->region].x0_mean)
                    ? vbt_vep_class_name(vbt_vep_x0_class(in->regions[e->region].x0_mean))
                    : DASH);
        else
            vbt__rep_num(b, "%.2f", in->regions[e->region].p_ez);
        vbt_textbuf_printf(b, "</td></tr>\n");
    }
    vbt_textbuf_printf(b, "</table>\n");
    free(ei_reg);
}

static void recording_section(vbt_textbuf *b, const vbt_report_input *in,
                              const vbt_report_context *c)
{
    vbt_textbuf_printf(b, "<h2>Recording and channels</h2>\n<p id=\"recording\">");
    if (c && c->recording[0]) {
        vbt_textbuf_printf(b, "Recording <code>");
        vbt__rep_text(b, c->recording);
        vbt_textbuf_printf(b, "</code> (in the patient folder");
        if (c->format[0]) {
            vbt_textbuf_printf(b, "; ");
            vbt__rep_text(b, c->format);
        }
        if (isfinite(c->fs_hz))
            vbt_textbuf_printf(b, ", %g Hz", c->fs_hz);
        vbt_textbuf_printf(b, "). ");
    } else {
        vbt_textbuf_printf(b, "The recording is not known to the report. ");
    }
    if (c && isfinite(c->onset_s)) {
        vbt_textbuf_printf(b, "Marked seizure onset at %.3f s from the recording's start",
                           c->onset_s);
        if (isfinite(c->offset_s))
            vbt_textbuf_printf(b, ", offset at %.3f s (%.2f s later)", c->offset_s,
                               c->offset_s - c->onset_s);
        vbt_textbuf_printf(b, ". ");
        if (isfinite(c->t0_s) && isfinite(c->t1_s))
            vbt_textbuf_printf(b,
                               "The fit saw the window from %+.2f s to %+.2f s around the onset. ",
                               c->t0_s - c->onset_s, c->t1_s - c->onset_s);
    }
    vbt_textbuf_printf(b, "</p>\n<p>%zu channel(s) used", in->S);
    if (in->S && in->chan) {
        vbt_textbuf_printf(b, ": ");
        for (size_t s = 0; s < in->S; s++) {
            vbt_textbuf_printf(b, "%s", s ? ", <wbr/>" : "");
            vbt__rep_text(b, in->chan[s]);
        }
    }
    vbt_textbuf_printf(b, ".</p>\n");
    if (!c || !c->n_rec_channels) {
        vbt_textbuf_printf(b, "<p>Channels dropped: not known (the report did not open the "
                              "recording).</p>\n");
        return;
    }
    if (!c->n_dropped) {
        vbt_textbuf_printf(b,
                           "<p id=\"dropped\">No channel of the recording's %zu was dropped.</p>\n",
                           c->n_rec_channels);
        return;
    }
    vbt_textbuf_printf(b,
                       "<p>%zu of the recording's %zu channels were not used:</p>\n"
                       "<table id=\"dropped\"><tr><th>channel</th><th>why</th></tr>\n",
                       c->n_dropped, c->n_rec_channels);
    for (size_t k = 0; k < c->n_dropped; k++) {
        vbt_textbuf_printf(b, "<tr><td>");
        vbt__rep_text(b, c->dropped[k].name);
        vbt_textbuf_printf(b, "</td><td>");
        vbt__rep_text(b, c->dropped[k].reason);
        vbt_textbuf_printf(b, "</td></tr>\n");
    }
    vbt_textbuf_printf(b, "</table>\n");
}

/* The regions recruited in at least 5 % of the draws, by median onset. */
static void propagation_section(vbt_textbuf *b, const vbt_report_input *in,
                                const vbt_report_context *c)
{
    const int map = vbt__rep_map_only(in);
    size_t *ord = malloc((in->n ? in->n : 1) * sizeof *ord), m = 0;
    if (!ord) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < in->n; i++) {
        const vbt_report_region *r = &in->regions[i];
        if (!(r->p_recruited >= 0.05) || !isfinite(r->onset_median))
            continue;
        size_t k = m++;
        for (; k > 0 && in->regions[ord[k - 1]].onset_median > r->onset_median; k--)
            ord[k] = ord[k - 1];
        ord[k] = i;
    }
    vbt_textbuf_printf(b, "<h2>Seizure propagation</h2>\n");
    if (!m) {
        vbt_textbuf_printf(b, "<p>No region is recruited %s.</p>\n",
                           map ? "at the mode" : "in 5 % or more of the posterior draws");
        free(ord);
        return;
    }
    int secs = isfinite(onset_s_of(in, c, 0.0));
    vbt_textbuf_printf(b,
                       "<p>Forward simulations of the fitted model %s: the regions it recruits, "
                       "in the order of their onset (x1 rising above 0), %s.</p>\n<table "
                       "id=\"propagation\"><tr><th>order</th><th>region</th>",
                       map ? "at the mode"
                           : "over the posterior draws (those recruited in at least "
                             "5 % of them; median onset and its 5–95 % interval over "
                             "the draws that recruit the region)",
                       secs ? "in seconds from the marked seizure onset"
                            : "in the model's time units from the start of the fitted window");
    if (map)
        vbt_textbuf_printf(b, "<th>onset</th></tr>\n");
    else
        vbt_textbuf_printf(b, "<th>P(recruited)</th><th>median onset</th><th>onset 5" DASH
                              "95 %%</th></tr>\n");
    for (size_t k = 0; k < m; k++) {
        const vbt_report_region *r = &in->regions[ord[k]];
        vbt_textbuf_printf(b, "<tr><td>%zu</td><td class=\"%s\">", k + 1,
                           is_ez(in, r) ? "ez" : (!map && r->p_pz > 0.5) ? "pz" : "");
        vbt__rep_text(b, r->label);
        vbt_textbuf_printf(b, "</td>");
        if (!map) {
            vbt_textbuf_printf(b, "<td>");
            vbt__rep_num(b, "%.2f", r->p_recruited);
            vbt_textbuf_printf(b, "</td>");
        }
        vbt_textbuf_printf(b, "<td>");
        onset_cell(b, in, c, r->onset_median);
        vbt_textbuf_printf(b, "</td>");
        if (!map) {
            vbt_textbuf_printf(b, "<td>");
            onset_cell(b, in, c, r->onset_q5);
            vbt_textbuf_printf(b, " " DASH " ");
            onset_cell(b, in, c, r->onset_q95);
            vbt_textbuf_printf(b, "</td>");
        }
        vbt_textbuf_printf(b, "</tr>\n");
    }
    vbt_textbuf_printf(b, "</table>\n");
    free(ord);
}

static void surgery_section(vbt_textbuf *b, const vbt_report_input *in,
                            const vbt_report_context *c)
{
    const int map = vbt__rep_map_only(in);
    vbt_textbuf_printf(b, "<h2>Virtual surgery</h2>\n<table id=\"surgery\"><tr><th>resection</th>"
                          "<th>regions</th>");
    if (map)
        vbt_textbuf_printf(b, "<th>seizure stopped at the mode</th></tr>\n");
    else
        vbt_textbuf_printf(b, "<th>P(seizure freedom)</th><th>95 %% interval</th></tr>\n");
    for (size_t k = 0; k < in->n_scen; k++) {
        double p = in->scen[k].p_freedom;
        vbt_textbuf_printf(b, "<tr><td>");
        put_list(b, in->scen[k].name);
        vbt_textbuf_printf(b, "</td><td>%d</td><td>", in->scen[k].n_resected);
        if (map) {
            vbt_textbuf_printf(b, "%s</td></tr>\n", !isfinite(p) ? DASH : p >= 0.5 ? "yes" : "no");
            continue;
        }
        vbt__rep_num(b, "%.3f", p);
        vbt_textbuf_printf(b, "</td><td>");
        if (c && c->n_draws && isfinite(p)) {
            double lo, hi;
            vbt_report_wilson(floor(p * (double)c->n_draws + 0.5), (double)c->n_draws, &lo, &hi);
            vbt_textbuf_printf(b, "%.2f" DASH "%.2f", lo, hi);
        } else {
            vbt_textbuf_printf(b, DASH);
        }
        vbt_textbuf_printf(b, "</td></tr>\n");
    }
    vbt_textbuf_printf(b, "</table>\n");
    if (!map && c && c->n_draws)
        vbt_textbuf_printf(
            b,
            "<p>P(seizure freedom): the fraction of the %zu posterior draws whose "
            "simulated seizure stops after the resection; the interval is the Wilson "
            "95 %% score interval of that fraction (Monte Carlo error of the draws, "
            "not the model's).</p>\n",
            c->n_draws);
    if (c && (c->n_plan || isfinite(c->plan_p))) {
        vbt_textbuf_printf(b, "<p id=\"plan\" class=\"%s\">Resection plan: ",
                           c->plan_reached == 0 ? "bad" : "");
        for (size_t k = 0; k < c->n_plan; k++) {
            vbt_textbuf_printf(b, "%s", k ? ", <wbr/>" : "");
            vbt__rep_text(b, c->plan_regions[k]);
        }
        if (!c->n_plan)
            vbt_textbuf_printf(b, "no resection");
        if (map)
            vbt_textbuf_printf(b, "; at the mode it %s the seizure",
                               c->plan_p >= 0.5 ? "stops" : "does not stop");
        else {
            vbt_textbuf_printf(b, "; P(seizure freedom) ");
            vbt__rep_num(b, "%.3f", c->plan_p);
        }
        if (isfinite(c->plan_target) && !map)
            vbt_textbuf_printf(b, ", target %.2f", c->plan_target);
        vbt_textbuf_printf(b, "%s.</p>\n",
                           c->plan_reached == 0   ? ": the target is NOT reached"
                           : c->plan_reached == 1 ? ": target reached"
                                                  : "");
    } else if (in->plan_text && !map) {
        vbt_textbuf_printf(b, "<p>");
        vbt__rep_text(b, in->plan_text);
        vbt_textbuf_printf(b, "</p>\n");
    }
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One row of the convergence table: what, value, target, and a mark. */
static void diag_row(vbt_textbuf *b, const char *what, const char *value, const char *target,
                     int ok)
{
    vbt_textbuf_printf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td></tr>\n",
                       what, value, target, ok ? "ok" : "bad", ok ? "pass" : "FAIL");
}

/* The sampler's numbers: NUTS (R-hat, ESS, divergences, tree depth, per
 * chain step size and E-BFMI), Laplace (PSIS k-hat), or whatever numbers
 * another method stores.  Targets are those `vbt fit` checks. */
static void diagnostics_section(vbt_textbuf *b, const cJSON *sum)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(sum, "diagnostics");
    const cJSON *it;
    char v[64];
    vbt_textbuf_printf(b, "<h2>Sampler diagnostics</h2>\n");
    if (!cJSON_IsObject(d) || !cJSON_GetArraySize(d)) {
        vbt_textbuf_printf(b, "<p>The fit reports no sampler diagnostics.</p>\n");
        return;
    }
    vbt_textbuf_printf(b, "<table><tr><th>check</th><th>value</th><th>target</th><th></th></tr>\n");
    double x = jnum(d, "max_rhat");
    if (isfinite(x)) {
        snprintf(v, sizeof v, "%.4f", x);
        diag_row(b, "largest R-hat (rank-normalised split)", v, "&#8804; 1.01", x <= 1.01);
    }
    const char *ess[2][2] = {{"min_ess_bulk", "smallest bulk ESS"},
                             {"min_ess_tail", "smallest tail ESS"}};
    double n_used = jnum(sum, "chains_used");
    for (int k = 0; k < 2; k++)
        if (isfinite(x = jnum(d, ess[k][0]))) {
            char t[64];
            snprintf(v, sizeof v, "%.0f", x);
            double target = isfinite(n_used) ? 100 * n_used : 100;
            snprintf(t, sizeof t, "&#8805; %.0f (100 per chain)", target);
            diag_row(b, ess[k][1], v, t, x >= target);
        }
    if (isfinite(x = jnum(d, "divergences"))) {
        snprintf(v, sizeof v, "%.0f", x);
        diag_row(b, "divergent transitions", v, "0", x == 0);
    }
    if (isfinite(x = jnum(d, "max_treedepth_hits"))) {
        double md = jnum(d, "max_treedepth");
        if (isfinite(md))
            snprintf(v, sizeof v, "%.0f (max depth %.0f)", x, md);
        else
            snprintf(v, sizeof v, "%.0f", x);
        diag_row(b, "transitions at the maximum tree depth", v, "0", x == 0);
    }
    if (isfinite(x = jnum(d, "psis_khat"))) {
        snprintf(v, sizeof v, "%.2f", x);
        diag_row(b, "PSIS Pareto k-hat of the Laplace draws", v, "&lt; 0.7", x < 0.7);
        vbt_textbuf_printf(b, "<tr><td>PSIS effective sample size</td><td>");
        vbt__rep_num(b, "%.0f", jnum(d, "psis_ess"));
        vbt_textbuf_printf(b, "</td><td></td><td></td></tr>\n");
    }
    cJSON_ArrayForEach(it, d)
    {
        static const char *shown[] = {"max_rhat", "min_ess_bulk", "min_ess_tail", "divergences",
                                      "max_treedepth_hits", "max_treedepth", "psis_khat",
                                      "psis_ess"};
        int skip = !cJSON_IsNumber(it) && !cJSON_IsString(it) && !cJSON_IsBool(it);
        for (size_t k = 0; !skip && k < sizeof shown / sizeof *shown; k++)
            skip = !strcmp(it->string, shown[k]);
        if (skip)
            continue;
        vbt_textbuf_printf(b, "<tr><td>");
        vbt__rep_text(b, it->string);
        vbt_textbuf_printf(b, "</td><td>");
        if (cJSON_IsNumber(it))
            vbt__rep_num(b, "%.6g", it->valuedouble);
        else if (cJSON_IsString(it))
            vbt__rep_text(b, it->valuestring);
        else
            vbt_textbuf_printf(b, "%s", cJSON_IsTrue(it) ? "true" : "false");
        vbt_textbuf_printf(b, "</td><td></td><td></td></tr>\n");
    }
    vbt_textbuf_printf(b, "</table>\n");
    const cJSON *chains = cJSON_GetObjectItemCaseSensitive(d, "chains");
    if (!cJSON_IsArray(chains) || !cJSON_GetArraySize(chains))
        return;
    vbt_textbuf_printf(b,
                       "<p>Per chain (E-BFMI below 0.3 means the momentum resampling explores "
                       "the energy poorly; a chain stuck in another mode is left out of the "
                       "summaries):</p>\n<table><tr><th>chain</th><th>step size</th><th>mean tree "
                       "depth</th><th>mean accept stat</th><th>divergences</th><th>at max "
                       "depth</th><th>E-BFMI</th><th>mean lp</th><th>wall (s)</th><th>in "
                       "summaries</th></tr>\n");
    cJSON_ArrayForEach(it, chains)
    {
        double eb = jnum(it, "ebfmi");
        const cJSON *stuck = cJSON_GetObjectItemCaseSensitive(it, "stuck");
        const cJSON *used = cJSON_GetObjectItemCaseSensitive(it, "used_in_summary");
        static const char *keys[6] = {"chain", "stepsize", "mean_treedepth", "mean_accept_stat",
                                      "divergences", "max_treedepth_hits"};
        static const char *fmts[6] = {"%.0f", "%.4g", "%.2f", "%.3f", "%.0f", "%.0f"};
        vbt_textbuf_printf(b, "<tr>");
        for (int k = 0; k < 6; k++) {
            vbt_textbuf_printf(b, "<td>");
            vbt__rep_num(b, fmts[k], jnum(it, keys[k]));
            vbt_textbuf_printf(b, "</td>");
        }
        vbt_textbuf_printf(b, "<td class=\"%s\">", eb >= 0.3 ? "ok" : "bad");
        vbt__rep_num(b, "%.3f", eb);
        vbt_textbuf_printf(b, "</td><td>");
        vbt__rep_num(b, "%.2f", jnum(it, "mean_lp"));
        vbt_textbuf_printf(b, "</td><td>");
        vbt__rep_num(b, "%.1f", jnum(it, "wall_s"));
        vbt_textbuf_printf(b, "</td><td class=\"%s\">%s</td></tr>\n",
                           cJSON_IsFalse(used) ? "bad" : "ok",
                           cJSON_IsTrue(stuck) ? "no (stuck)" : cJSON_IsFalse(used) ? "no" : "yes");
    }
    vbt_textbuf_printf(b, "</table>\n");
}

static void eval_section(vbt_textbuf *b, const vbt_report_input *in)
{
    if (!in->n_eval)
        return;
    vbt_textbuf_printf(b, "<h2>Precision and recall</h2>\n<table><tr><th>against</th><th>zone</th>"
                          "<th>listed</th><th>predicted</th><th>both</th><th>precision</th>"
                          "<th>recall</th></tr>\n");
    for (size_t k = 0; k < in->n_eval; k++) {
        const vbt_report_eval *e = &in->eval[k];
        vbt_textbuf_printf(b, "<tr><td>");
        vbt__rep_text(b, e->against);
        vbt_textbuf_printf(b, "</td><td>");
        vbt__rep_text(b, e->zone);
        vbt_textbuf_printf(b, "</td><td>%zu</td><td>%zu</td><td>%zu</td><td>", e->n_list, e->n_pred,
                           e->tp);
        vbt__rep_num(b, "%.2f", e->n_pred ? (double)e->tp / (double)e->n_pred : NAN);
        vbt_textbuf_printf(b, "</td><td>");
        vbt__rep_num(b, "%.2f", e->n_list ? (double)e->tp / (double)e->n_list : NAN);
        vbt_textbuf_printf(b, "</td></tr>\n");
    }
    if (vbt__rep_map_only(in))
        vbt_textbuf_printf(b,
                           "</table>\n<p>Predicted: the regions classed EZ at the mode (zone EZ), "
                           "EZ or PZ (zone EZ+PZ).</p>\n");
    else
        vbt_textbuf_printf(b,
                           "</table>\n<p>Predicted: P(EZ) &gt; 0.5 (zone EZ), P(EZ) + P(PZ) &gt; "
                           "0.5 (zone EZ+PZ).</p>\n");
}

/* ---- files --------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *text, size_t len,
                      int oom, vbt_msg *msg)
{
    char path[4200];
    int k = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= sizeof path)
        return vbt__fail(msg, VBT_EINVAL, "report: output path too long");
    if (oom)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory writing %s", name);
    if (vbt_file_write_atomic(path, text, len, 1, msg))
        return VBT_EIO;
    return VBT_OK;
}

#define N_FIG 5
static const char *const fig_names[N_FIG] = {"connectome.svg", "x0.svg", "brain_ez.svg",
                                             "brain_onset.svg", "feature.svg"};

/* report.json: what the report read (SHA-256) and the settings it used. */
static char *sidecar(const vbt_report_input *in, const vbt_report_context *c, const int *made)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "schema", "vbt.report/1");
    cJSON_AddStringToObject(j, "vbt_version", vbt_version());
    cJSON_AddStringToObject(j, "tool", "report");
    cJSON *cmd = cJSON_AddArrayToObject(j, "command");
    cJSON_AddItemToArray(cmd, cJSON_CreateString("vbt"));
    cJSON_AddItemToArray(cmd, cJSON_CreateString("pipeline"));
    cJSON_AddStringToObject(j, "note", "the report step of vbt pipeline; each step's own "
                                       "run.json records its command");
    cJSON_AddStringToObject(j, "patient", in->patient ? in->patient : "");
    cJSON_AddStringToObject(j, "method", in->method ? in->method : "");
    cJSON_AddNullToObject(j, "seed"); /* the report draws no random numbers */
    cJSON *par = cJSON_AddObjectToObject(j, "parameters");
    cJSON_AddNumberToObject(par, "ez_probability", 0.5);
    cJSON_AddNumberToObject(par, "x0_ez", VBT_VEP_X0_EZ);
    cJSON_AddNumberToObject(par, "x0_pz", VBT_VEP_X0_PZ);
    cJSON_AddNumberToObject(par, "band_outside_flag", 0.25);
    cJSON_AddStringToObject(par, "interval", "Wilson 95 % score interval over the draws");
    cJSON *ei = cJSON_AddObjectToObject(par, "ei");
    vbt_ei_opts eo;
    vbt_ei_opts_default(&eo);
    cJSON_AddNumberToObject(ei, "threshold", c ? c->ei_threshold : 0.3);
    cJSON_AddNumberToObject(ei, "win_s", eo.win_s);
    cJSON_AddNumberToObject(ei, "step_s", eo.step_s);
    cJSON_AddItemToObject(ei, "bands_hz", cJSON_CreateDoubleArray(eo.bands, 5));
    cJSON_AddStringToObject(ei, "window", "marked onset - 20 s (or the recording's start) to "
                                          "offset + 5 s");
    cJSON_AddNumberToObject(ei, "channels", c ? (double)c->n_ei : 0.0);
    cJSON *inp = cJSON_AddObjectToObject(j, "inputs");
    for (size_t k = 0; c && k < c->n_inputs; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", c->inputs[k]);
        cJSON_AddStringToObject(o, "sha256", c->input_sha[k]);
        cJSON_AddItemToObject(inp, c->inputs[k], o);
    }
    if (c && c->recording[0]) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", c->recording);
        cJSON_AddStringToObject(o, "sha256", "see features/run.json");
        cJSON_AddBoolToObject(o, "read_for_ei", c->n_ei > 0);
        cJSON_AddItemToObject(inp, "recording", o);
    }
    cJSON *outs = cJSON_AddArrayToObject(j, "outputs");
    cJSON_AddItemToArray(outs, cJSON_CreateString("report.html"));
    for (int k = 0; k < N_FIG; k++)
        if (made[k]) {
            char nm[64];
            snprintf(nm, sizeof nm, "figures/%s", fig_names[k]);
            cJSON_AddItemToArray(outs, cJSON_CreateString(nm));
        }
    char *t = cJSON_Print(j);
    cJSON_Delete(j);
    return t;
}

int vbt_report_write(const vbt_report_input *in, vbt_msg *msg)
{
    vbt_textbuf page = {0}, fig[N_FIG] = {{0}};
    vbt_report_context own;
    const vbt_report_context *c = in->ctx;
    int own_ctx = 0, rc = VBT_ENOMEM, made[N_FIG] = {0};
    const int map = vbt__rep_map_only(in);
    double *val = malloc((in->n ? in->n : 1) * sizeof *val);
    double *onset = malloc((in->n ? in->n : 1) * sizeof *onset);
    unsigned char *ring = calloc(in->n ? in->n : 1, 1);
    size_t *ord = ez_order(in);
    char *answer = NULL, *warning = NULL, *side = NULL;
    if (!val || !onset || !ring || !ord) {
        vbt__fail(msg, rc, "out of memory");
        goto out;
    }
    if (!c) {
        if ((rc = vbt_report_context_load(&own, in->outdir, in->patient_dir, in->conn, msg)))
            goto out;
        own_ctx = 1;
        c = &own;
    }
    if (!(answer = vbt_report_answer(in, c, &warning))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }

    /* figures */
    vbt__rep_fig_connectome(&fig[0], in);
    made[0] = 1;
    vbt__rep_fig_x0(&fig[1], in);
    made[1] = 1;
    for (size_t i = 0; i < in->n; i++) {
        val[i] = map ? in->regions[i].x0_mean : in->regions[i].p_ez;
        onset[i] = onset_s_of(in, c, in->regions[i].onset_median);
        ring[i] = (unsigned char)is_ez(in, &in->regions[i]);
    }
    int onset_secs = 1;
    for (size_t i = 0; i < in->n; i++)
        if (isfinite(in->regions[i].onset_median) && !isfinite(onset[i]))
            onset_secs = 0;
    if (!onset_secs)
        for (size_t i = 0; i < in->n; i++)
            onset[i] = in->regions[i].onset_median;
    if (map) {
        vbt__rep_scale sc = {.lo = -3.5, .hi = -1.5, .caption = "x0 at the mode",
                             .ticks = {-3.5, VBT_VEP_X0_PZ, VBT_VEP_X0_EZ, -1.5}, .n_ticks = 4,
                             .tick_fmt = "%.2f"};
        vbt__rep_fig_brain(&fig[2], in, c, "fig-brain-ez",
                           "excitability x0 at the mode (point estimate; ringed: EZ class)", val,
                           ring, &sc);
    } else {
        vbt__rep_scale sc = {.lo = 0, .hi = 1, .caption = "P(EZ)", .ticks = {0, 0.5, 1},
                             .n_ticks = 3, .tick_fmt = "%.2g"};
        vbt__rep_fig_brain(&fig[2], in, c, "fig-brain-ez",
                           "probability of belonging to the EZ (ringed: P(EZ) > 0.5)", val, ring,
                           &sc);
    }
    made[2] = 1;
    {
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        for (size_t i = 0; i < in->n; i++)
            if (isfinite(onset[i])) {
                lo = fmin(lo, onset[i]);
                hi = fmax(hi, onset[i]);
            }
        if (!(hi >= lo))
            lo = hi = 0.0;
        if (!(hi > lo)) {
            lo -= 0.5;
            hi += 0.5;
        }
        vbt__rep_scale sc = {.lo = lo, .hi = hi, .reverse = 1,
                             .caption = onset_secs ? "onset (s from marked onset)"
                                                   : "onset (model time)",
                             .ticks = {lo, (lo + hi) / 2, hi}, .n_ticks = 3,
                             .tick_fmt = onset_secs ? "%+.2f" : "%.3g"};
        vbt__rep_fig_brain(&fig[3], in, c, "fig-brain-onset",
                           map ? "predicted seizure onset at the mode (dark: earliest; grey: "
                                 "not recruited)"
                               : "predicted median seizure onset (dark: earliest; grey: not "
                                 "recruited in the draws)", onset, ring, &sc);
        made[3] = 1;
    }
    size_t pick[6];
    double outside[6];
    size_t n_panels = 0;
    if (in->feature && in->T && in->S) {
        n_panels = vbt__rep_fig_feature(&fig[4], in, c, pick, outside, 6);
        made[4] = 1;
    }

    /* the page */
    vbt_textbuf_printf(&page,
                       "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
                       "lang=\"en\"><head><meta charset=\"utf-8\"/><title>vbt report</title>\n"
                       "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
                       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
                       "font-size:13px}th{background:#f0f0f0}.ez{color:#c0392b;font-weight:bold}"
                       ".pz{color:#e69f00}h2{border-bottom:1px solid #ddd}.ok{color:#1e7b34}"
                       ".bad{color:#c0392b;font-weight:bold}#answer{font-size:18px;line-height:1.4;"
                       "padding:10px 14px;border-left:6px solid #1e7b34;background:#f3f8f4}"
                       "#answer.warn{border-left-color:#c0392b;background:#fdf2f1}"
                       "#warning{font-size:16px;color:#c0392b;font-weight:bold;padding:6px 14px;"
                       "border:2px solid #c0392b;background:#fdf2f1}"
                       "</style></head><body>\n<h1>Virtual epileptic patient report</h1>\n");
    vbt_textbuf_printf(&page, "<div id=\"first-screen\">\n<p id=\"answer\"%s>",
                       warning ? " class=\"warn\"" : "");
    vbt__rep_text(&page, answer);
    vbt_textbuf_printf(&page, "</p>\n");
    if (warning) {
        vbt_textbuf_printf(&page, "<p id=\"warning\" class=\"bad\">");
        vbt__rep_text(&page, warning);
        vbt_textbuf_printf(&page, "</p>\n");
    }
    vbt_textbuf_printf(&page, "<p>Patient <code>");
    vbt__rep_text(&page, in->patient);
    vbt_textbuf_printf(&page, "</code>, %zu regions, inference by <b>", in->n);
    vbt__rep_text(&page, in->method);
    vbt_textbuf_printf(&page, "</b>%s, vbt ", map ? " (the mode only: point estimates)" : "");
    vbt__rep_text(&page, in->version);
    vbt_textbuf_printf(&page, ". Outputs in this folder; machine-readable results in "
                              "<code>results.json</code>.</p>\n</div>\n");
    ez_table(&page, in, c, ord);
    verdict_section(&page, in, c);
    ei_section(&page, in, c, ord);
    recording_section(&page, in, c);
    eval_section(&page, in);
    propagation_section(&page, in, c);
    vbt_textbuf_printf(&page, "<h2>Brain maps</h2>\n%s%s", fig[2].s ? fig[2].s : "",
                       fig[3].s ? fig[3].s : "");
    if (made[4]) {
        vbt_textbuf_printf(&page, "<h2>SEEG feature and posterior prediction</h2>\n%s",
                           fig[4].s ? fig[4].s : "");
        size_t out_n = 0, n_pts = 0, bad_panels = 0, band_panels = 0;
        for (size_t k = 0; k < n_panels; k++)
            if (isfinite(outside[k])) {
                band_panels++;
                bad_panels += outside[k] > 0.25;
            }
        for (size_t t = 0; in->pred && t < in->T; t++)
            for (size_t s = 0; s < in->S; s++) {
                double y = in->feature[t * in->S + s], a = in->pred[t * in->S + s];
                double z = in->pred[2 * in->T * in->S + t * in->S + s];
                if (!isfinite(a) || !isfinite(z))
                    continue;
                n_pts++;
                out_n += !(y >= a && y <= z);
            }
        if (map) {
            vbt_textbuf_printf(&page,
                               "<p id=\"band\">A point estimate has no posterior predictive "
                               "band: the blue line is the fitted model's prediction at the mode, "
                               "and how far the observation may stray from it is not known.</p>\n");
        } else if (n_pts) {
            double f = (double)out_n / (double)n_pts;
            vbt_textbuf_printf(&page,
                               "<p id=\"band\" class=\"%s\">Over all %zu channels, %.0f %% of "
                               "the observed points lie outside the 5" DASH "95 %% posterior "
                               "predictive band (about 10 %% expected). ",
                               f > 0.25 ? "bad" : "ok", in->S, 100 * f);
            if (bad_panels)
                vbt_textbuf_printf(&page, "The observation leaves the band in %zu of the %zu "
                                          "channels shown: the fitted model does not reproduce %s "
                                          "course, and its answer rests on a model that misses the "
                                          "data there.", bad_panels, band_panels,
                                   bad_panels == 1 ? "that channel's" : "their");
            else
                vbt_textbuf_printf(&page, "In the channels shown the observation stays within "
                                          "the band.");
            vbt_textbuf_printf(&page, "</p>\n");
        } else {
            vbt_textbuf_printf(&page, "<p id=\"band\">No posterior predictive band.</p>\n");
        }
    }
    vbt_textbuf_printf(&page, "<h2>Excitability of every region</h2>\n%s",
                       fig[1].s ? fig[1].s : "");
    surgery_section(&page, in, c);
    vbt_textbuf_printf(&page, "<h2>Connectome</h2>\n%s", fig[0].s ? fig[0].s : "");
    if (in->fit_summary)
        diagnostics_section(&page, in->fit_summary);
    vbt_textbuf_printf(&page, "<h2>Provenance</h2>\n");
    if (in->provenance_html)
        vbt_textbuf_printf(&page, "%s\n", in->provenance_html);
    vbt_textbuf_printf(&page, "<p>This page's own record: <code>report.json</code> (the files it "
                              "read, with their SHA-256, and its settings).</p>\n");
    vbt_textbuf_printf(
        &page, "<p style=\"color:#888;font-size:11px\">Research software: the model's "
               "answers are hypotheses to be weighed with every other clinical finding.</p>\n"
               "</body></html>\n");

    char figdir[4200];
    int fk = snprintf(figdir, sizeof figdir, "%s/figures", in->outdir);
    if (fk < 0 || (size_t)fk >= sizeof figdir) {
        rc = vbt__fail(msg, VBT_EINVAL, "report: output path too long");
        goto out;
    }
    struct stat fst;
    mkdir(figdir, 0777);
    if (lstat(figdir, &fst) || !S_ISDIR(fst.st_mode)) {
        rc = vbt__fail(msg, VBT_EIO, "report: cannot create figures/ (or it is a link)");
        goto out;
    }
    for (int k = 0; k < N_FIG; k++)
        if (made[k] && (rc = write_file(figdir, fig_names[k], fig[k].s, fig[k].len, fig[k].oom,
                                        msg)))
            goto out;
    if (!(side = sidecar(in, c, made))) {
        rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = write_file(in->outdir, "report.json", side, strlen(side), 0, msg)) ||
        (rc = write_file(in->outdir, "report.html", page.s, page.len, page.oom, msg)))
        goto out;
    rc = VBT_OK;
out:
    if (own_ctx)
        vbt_report_context_clear(&own);
    free(answer);
    free(warning);
    free(side);
    free(val);
    free(onset);
    free(ring);
    free(ord);
    free(page.s);
    for (int k = 0; k < N_FIG; k++)
        free(fig[k].s);
    return rc;
}
