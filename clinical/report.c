/* report.c -- the patient report as one self-contained HTML page: inline SVG
 * figures drawn here (no scripts, no fonts or images fetched), and the same
 * figures as SVG files for papers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "vbt_report.h"
#include "vbt_vep.h"
#include "textbuf.h"

/* Text for HTML/SVG: escape the five special characters. */
static void put_text(vbt__textbuf *b, const char *t)
{
    for (; *t; t++) {
        switch (*t) {
        case '<': vbt__tb_printf(b, "&lt;"); break;
        case '>': vbt__tb_printf(b, "&gt;"); break;
        case '&': vbt__tb_printf(b, "&amp;"); break;
        case '"': vbt__tb_printf(b, "&quot;"); break;
        case '\'': vbt__tb_printf(b, "&#39;"); break;
        default: vbt__tb_printf(b, "%c", *t);
        }
    }
}

/* A comma-separated region list in HTML text (not SVG): escaped, with a line
 * break opportunity after each comma so that a long resection does not
 * widen the page. */
static void put_list(vbt__textbuf *b, const char *t)
{
    char item[2];
    item[1] = '\0';
    for (; *t; t++) {
        item[0] = *t;
        put_text(b, item);
        if (*t == ',')
            vbt__tb_printf(b, "<wbr>");
    }
}

/* Sequential colour map (white -> dark red) for a value in [0, 1]. */
static void heat(double v, int *r, int *g, int *bl)
{
    if (!(v >= 0.0))
        v = 0.0;
    if (v > 1.0)
        v = 1.0;
    *r = (int)(255 - 100 * v);
    *g = (int)(245 - 215 * v);
    *bl = (int)(240 - 210 * v);
}

/* Viridis-like map for the connectome (log weights), value in [0, 1]. */
static void viridis(double v, int *r, int *g, int *bl)
{
    static const double c[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140},
                                   {94, 201, 98}, {253, 231, 37}};
    if (!(v >= 0.0))
        v = 0.0;
    if (v > 1.0)
        v = 1.0;
    double x = v * 4.0;
    int i = (int)x;
    if (i > 3)
        i = 3;
    double f = x - i;
    *r = (int)(c[i][0] + f * (c[i + 1][0] - c[i][0]));
    *g = (int)(c[i][1] + f * (c[i + 1][1] - c[i][1]));
    *bl = (int)(c[i][2] + f * (c[i + 1][2] - c[i][2]));
}

static const char *class_colour(double mean)
{
    static const char *const colour[3] = {"#2c7fb8", "#e69f00", "#c0392b"}; /* HZ, PZ, EZ */
    return colour[vbt_vep_x0_class(mean)];
}

/* ---- figures ---------------------------------------------------------------- */

static void fig_connectome(vbt__textbuf *b, const vbt_report_input *in)
{
    const size_t n = in->n;
    const double cell = n > 100 ? 4.0 : 6.0, off = 40.0, size = cell * (double)n;
    double wmax = 0.0, wmin = HUGE_VAL;
    for (size_t k = 0; k < n * n; k++)
        if (in->conn->weights[k] > 0.0) {
            wmax = fmax(wmax, in->conn->weights[k]);
            wmin = fmin(wmin, in->conn->weights[k]);
        }
    double lmin = wmin < HUGE_VAL ? log10(wmin) : 0.0, lmax = wmax > 0 ? log10(wmax) : 1.0;
    if (lmax - lmin < 1e-12)
        lmin = lmax - 1.0;
    vbt__tb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" id=\"fig-connectome\" "
           "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
        size + off + 90, size + off + 20, size + off + 90, size + off + 20);
    vbt__tb_printf(b, "<text x=\"%.0f\" y=\"15\" font-size=\"12\">weights (row = target, column = source), "
           "log10 scale</text>\n", off);
    vbt__tb_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f4f4f4\"/>\n", off,
        off / 2 + 5, size, size);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double w = in->conn->weights[i * n + j];
            if (!(w > 0.0))
                continue;
            int r, g, bl;
            viridis((log10(w) - lmin) / (lmax - lmin), &r, &g, &bl);
            vbt__tb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"rgb(%d,%d,%d)\"/>", off + cell * (double)j,
                off / 2 + 5 + cell * (double)i, cell, cell, r, g, bl);
        }
    vbt__tb_printf(b, "\n");
    for (int k = 0; k <= 10; k++) {
        int r, g, bl;
        viridis(k / 10.0, &r, &g, &bl);
        vbt__tb_printf(b, "<rect x=\"%.0f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\"/>",
            off + size + 15, off / 2 + 5 + size * (1.0 - (k + 1) / 11.0), size / 11.0, r, g, bl);
    }
    vbt__tb_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.2g</text>", off + size + 33,
        off / 2 + 15, wmax);
    vbt__tb_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.2g</text>\n</svg>\n", off + size + 33,
        off / 2 + 5 + size, wmin < HUGE_VAL ? wmin : 0.0);
}

static void fig_x0(vbt__textbuf *b, const vbt_report_input *in)
{
    const size_t n = in->n;
    const double row = 12.0, left = 230.0, width = 420.0, top = 44.0; /* below the title */
    const double lo = -5.0, hi = 0.0;
#define XPOS(v) (left + width * (((v) < lo ? lo : (v) > hi ? hi : (v)) - lo) / (hi - lo))
    vbt__tb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" id=\"fig-x0\" "
           "width=\"%.0f\" height=\"%.0f\">\n", left + width + 40, top + row * (double)n + 40);
    vbt__tb_printf(b, "<text x=\"%.0f\" y=\"15\" font-size=\"12\">excitability x0: posterior mean and 5-95 %% "
           "interval (red EZ, orange PZ, blue HZ; * ground truth EZ, + PZ)</text>\n", left - 200);
    double guides[2] = {VBT_VEP_X0_EZ, VBT_VEP_X0_PZ};
    for (int g = 0; g < 2; g++)
        vbt__tb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.1f\" stroke=\"#999\" "
               "stroke-dasharray=\"3,3\"/><text x=\"%.1f\" y=\"%.0f\" font-size=\"10\">%.2f</text>\n",
            XPOS(guides[g]), XPOS(guides[g]), top - 5, top + row * (double)n, XPOS(guides[g]) - 12,
            top - 8, guides[g]);
    for (int t = -5; t <= 0; t++)
        vbt__tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%d</text>", XPOS((double)t) - 4,
            top + row * (double)n + 15, t);
    for (size_t i = 0; i < n; i++) {
        const vbt_report_region *r = &in->regions[i];
        double y = top + row * (double)i + row / 2;
        vbt__tb_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\">", left - 6, y + 3);
        put_text(b, r->label);
        vbt__tb_printf(b, "%s</text>", r->truth == 1 ? " *" : r->truth == 2 ? " +" : "");
        vbt__tb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"2\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
            XPOS(r->x0_q5), XPOS(r->x0_q95), y, y, class_colour(r->x0_mean), XPOS(r->x0_mean), y,
            class_colour(r->x0_mean));
    }
#undef XPOS
    vbt__tb_printf(b, "</svg>\n");
}

/* Region centres seen from above (x, y) and from the side (y, z), coloured
 * by value in [0, 1] (NaN: grey). */
static void fig_brain(vbt__textbuf *b, const vbt_report_input *in, const char *id, const char *title,
                      const double *value)
{
    const size_t n = in->n;
    const double *c = in->conn->centres;
    double mn[3] = {HUGE_VAL, HUGE_VAL, HUGE_VAL}, mx[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 3; d++) {
            mn[d] = fmin(mn[d], c[3 * i + d]);
            mx[d] = fmax(mx[d], c[3 * i + d]);
        }
    const double w = 260, h = 260, pad = 20;
    vbt__tb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" id=\"%s\" width=\"%.0f\" "
           "height=\"%.0f\">\n<text x=\"10\" y=\"15\" font-size=\"12\">", id, 2 * w + 3 * pad,
        h + 2 * pad + 10);
    put_text(b, title);
    vbt__tb_printf(b, "</text>\n");
    const int ax[2][2] = {{0, 1}, {1, 2}};
    const char *names[2] = {"axial (x, y)", "sagittal (y, z)"};
    for (int p = 0; p < 2; p++) {
        double ox = pad + p * (w + pad), oy = 30;
        vbt__tb_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"#ccc\"/><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%s</text>\n", ox, oy,
            w, h, ox + 4, oy + h + 12, names[p]);
        int a = ax[p][0], bb = ax[p][1];
        double span = fmax(mx[a] - mn[a], mx[bb] - mn[bb]);
        if (!(span > 0))
            span = 1;
        for (size_t i = 0; i < n; i++) {
            double px = ox + 10 + (w - 20) * (c[3 * i + a] - mn[a]) / span;
            double py = oy + h - 10 - (h - 20) * (c[3 * i + bb] - mn[bb]) / span;
            int r = 200, g = 200, bl = 200;
            if (!isnan(value[i]))
                heat(value[i], &r, &g, &bl);
            vbt__tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"rgb(%d,%d,%d)\" "
                   "stroke=\"#555\" stroke-width=\"0.5\"><title>", px, py, r, g, bl);
            put_text(b, in->regions[i].label);
            vbt__tb_printf(b, ": %.2f</title></circle>\n", value[i]);
        }
    }
    vbt__tb_printf(b, "</svg>\n");
}

static void fig_feature(vbt__textbuf *b, const vbt_report_input *in)
{
    const size_t T = in->T, S = in->S;
    const size_t show = S < 6 ? S : 6;
    const double w = 300, h = 90, pad = 30;
    /* The channels with the largest feature range. */
    size_t pick[6] = {0};
    double best[6] = {-1, -1, -1, -1, -1, -1};
    for (size_t s = 0; s < S; s++) {
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        for (size_t t = 0; t < T; t++) {
            lo = fmin(lo, in->feature[t * S + s]);
            hi = fmax(hi, in->feature[t * S + s]);
        }
        double r = hi - lo;
        for (size_t k = 0; k < show; k++)
            if (r > best[k]) {
                for (size_t m = show - 1; m > k; m--) {
                    best[m] = best[m - 1];
                    pick[m] = pick[m - 1];
                }
                best[k] = r;
                pick[k] = s;
                break;
            }
    }
    vbt__tb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" id=\"fig-feature\" "
           "width=\"%.0f\" height=\"%.0f\">\n<text x=\"10\" y=\"15\" font-size=\"12\">",
           2 * (w + pad) + pad, ((double)show + 1) / 2 * (h + pad) + 30);
    put_text(b, in->feature_label ? in->feature_label : "SEEG feature");
    vbt__tb_printf(b, " (black), posterior predictive 5-95 %% (blue); widest channels</text>\n");
    for (size_t k = 0; k < show; k++) {
        size_t s = pick[k];
        double ox = pad + (double)(k % 2) * (w + pad), oy = 30 + (double)(k / 2) * (h + pad);
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        for (size_t t = 0; t < T; t++) {
            lo = fmin(lo, in->feature[t * S + s]);
            hi = fmax(hi, in->feature[t * S + s]);
            if (in->pred) {
                lo = fmin(lo, in->pred[t * S + s]);
                hi = fmax(hi, in->pred[2 * T * S + t * S + s]);
            }
        }
        if (!(hi > lo))
            hi = lo + 1;
#define PX(t) (ox + w * (double)(t) / (double)(T > 1 ? T - 1 : 1))
#define PY(v) (oy + h - h * ((v) - lo) / (hi - lo))
        vbt__tb_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"#ddd\"/><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">", ox, oy, w, h,
            ox + 3, oy + 10);
        put_text(b, in->chan[s]);
        vbt__tb_printf(b, "</text>\n");
        if (in->pred) {
            vbt__tb_printf(b, "<path fill=\"#9ecae1\" fill-opacity=\"0.6\" d=\"");
            for (size_t t = 0; t < T; t++)
                vbt__tb_printf(b, "%s%.1f %.1f", t ? " L" : "M", PX(t), PY(in->pred[2 * T * S + t * S + s]));
            for (size_t t = T; t-- > 0;)
                vbt__tb_printf(b, " L%.1f %.1f", PX(t), PY(in->pred[t * S + s]));
            vbt__tb_printf(b, " Z\"/>\n");
        }
        vbt__tb_printf(b, "<path fill=\"none\" stroke=\"#000\" stroke-width=\"1\" d=\"");
        for (size_t t = 0; t < T; t++)
            vbt__tb_printf(b, "%s%.1f %.1f", t ? " L" : "M", PX(t), PY(in->feature[t * S + s]));
        vbt__tb_printf(b, "\"/>\n");
#undef PX
#undef PY
    }
    vbt__tb_printf(b, "</svg>\n");
}

/* ---- page --------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const vbt__textbuf *b, vbt_msg *msg)
{
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= sizeof path)
        return vbt__fail(msg, VBT_EINVAL, "path too long: %s", dir);
    if (b->oom)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory writing %s", path);
    if (vbt_file_write_atomic(path, b->s, b->len, 1, msg))
        return VBT_EIO;
    return VBT_OK;
}

/* ---- propagation order ---------------------------------------------------------- */

/* The regions recruited in at least 5 % of the draws, by median onset (ties
 * by index), with the onset's 5-95 % interval over the recruiting draws. */
static void propagation_section(vbt__textbuf *b, const vbt_report_input *in)
{
    size_t *ord = malloc(in->n * sizeof *ord), m = 0;
    if (!ord)
        return;
    for (size_t i = 0; i < in->n; i++) {
        const vbt_report_region *r = &in->regions[i];
        if (!(r->p_recruited >= 0.05) || isnan(r->onset_median))
            continue;
        size_t k = m++;
        for (; k > 0 && in->regions[ord[k - 1]].onset_median > r->onset_median; k--)
            ord[k] = ord[k - 1];
        ord[k] = i;
    }
    vbt__tb_printf(b, "<h2>Seizure propagation</h2>\n");
    if (!m) {
        vbt__tb_printf(b, "<p>No region is recruited in 5 %% or more of the posterior draws.</p>\n");
        free(ord);
        return;
    }
    vbt__tb_printf(b, "<p>Forward simulations of the fitted model over the posterior draws: the "
                 "regions recruited in at least 5 %% of them, in the order of their median "
                 "onset (the first time x1 rises above the threshold, in the model's time "
                 "units from the start of the simulated window; interval over the draws in "
                 "which the region is recruited).</p>\n<table><tr><th>order</th><th>region"
                 "</th><th>P(recruited)</th><th>median onset</th><th>onset 5&ndash;95 %%</th>"
                 "</tr>\n");
    for (size_t k = 0; k < m; k++) {
        const vbt_report_region *r = &in->regions[ord[k]];
        vbt__tb_printf(b, "<tr><td>%zu</td><td class=\"%s\">", k + 1,
                  r->p_ez > 0.5 ? "ez" : r->p_pz > 0.5 ? "pz" : "");
        put_text(b, r->label);
        vbt__tb_printf(b, "</td><td>%.2f</td><td>%.3g</td><td>%.3g&ndash;%.3g</td></tr>\n",
                  r->p_recruited, r->onset_median, r->onset_q5, r->onset_q95);
    }
    vbt__tb_printf(b, "</table>\n");
    free(ord);
}

/* ---- sampler diagnostics ------------------------------------------------------ */

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One row of the convergence table: what, value, target, and a mark. */
static void diag_row(vbt__textbuf *b, const char *what, const char *value, const char *target, int ok)
{
    vbt__tb_printf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td></tr>\n", what,
              value, target, ok ? "ok" : "bad", ok ? "pass" : "FAIL");
}

/* The fit's verdict (diagnostics_passed, diagnostic_failures) and its figures
 * as tables: NUTS (R-hat, ESS, divergences, tree depth, per-chain step size
 * and E-BFMI), Laplace (PSIS k-hat), or whatever numbers another method
 * stores.  Targets are those `vbt fit` checks (docs/fitting.md). */
static void diagnostics_section(vbt__textbuf *b, const cJSON *sum)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(sum, "diagnostics");
    const cJSON *passed = cJSON_GetObjectItemCaseSensitive(sum, "diagnostics_passed");
    const cJSON *fails = cJSON_GetObjectItemCaseSensitive(sum, "diagnostic_failures");
    const cJSON *it;
    char v[64];
    vbt__tb_printf(b, "<h2>Sampler diagnostics</h2>\n");
    if (cJSON_IsTrue(passed))
        vbt__tb_printf(b, "<p class=\"ok\">Every diagnostic the fit checks passes.</p>\n");
    else if (cJSON_IsFalse(passed)) {
        vbt__tb_printf(b, "<p class=\"bad\">Diagnostics failed: do not trust these results as they "
                     "stand.</p>\n<ul>\n");
        cJSON_ArrayForEach(it, fails)
        {
            if (!cJSON_IsString(it))
                continue;
            vbt__tb_printf(b, "<li>");
            put_text(b, it->valuestring);
            vbt__tb_printf(b, "</li>\n");
        }
        vbt__tb_printf(b, "</ul>\n");
    }
    if (!cJSON_IsObject(d))
        return;
    vbt__tb_printf(b, "<table><tr><th>check</th><th>value</th><th>target</th><th></th></tr>\n");
    double x = jnum(d, "max_rhat");
    if (!isnan(x)) {
        snprintf(v, sizeof v, "%.4f", x);
        diag_row(b, "largest R-hat (rank-normalised split)", v, "&le; 1.01", x <= 1.01);
    }
    const char *ess[2][2] = {{"min_ess_bulk", "smallest bulk ESS"},
                             {"min_ess_tail", "smallest tail ESS"}};
    double n_used = jnum(sum, "chains_used");
    for (int k = 0; k < 2; k++)
        if (!isnan(x = jnum(d, ess[k][0]))) {
            char t[64];
            snprintf(v, sizeof v, "%.0f", x);
            double target = isnan(n_used) ? 100 : 100 * n_used;
            snprintf(t, sizeof t, "&ge; %.0f (100 per chain)", target);
            diag_row(b, ess[k][1], v, t, x >= target);
        }
    if (!isnan(x = jnum(d, "divergences"))) {
        snprintf(v, sizeof v, "%.0f", x);
        diag_row(b, "divergent transitions", v, "0", x == 0);
    }
    if (!isnan(x = jnum(d, "max_treedepth_hits"))) {
        snprintf(v, sizeof v, "%.0f (max depth %.0f)", x, jnum(d, "max_treedepth"));
        diag_row(b, "transitions at the maximum tree depth", v, "0", x == 0);
    }
    if (!isnan(x = jnum(d, "psis_khat"))) {
        snprintf(v, sizeof v, "%.2f", x);
        diag_row(b, "PSIS Pareto k-hat of the Laplace draws", v, "&lt; 0.7", x < 0.7);
        snprintf(v, sizeof v, "%.0f", jnum(d, "psis_ess"));
        vbt__tb_printf(b, "<tr><td>PSIS effective sample size</td><td>%s</td><td></td><td></td></tr>\n",
                  v);
    }
    /* numbers of other methods (SMC, ADVI, MAP) as they are */
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
        vbt__tb_printf(b, "<tr><td>");
        put_text(b, it->string);
        vbt__tb_printf(b, "</td><td>");
        if (cJSON_IsNumber(it))
            vbt__tb_printf(b, "%.6g", it->valuedouble);
        else if (cJSON_IsString(it))
            put_text(b, it->valuestring);
        else
            vbt__tb_printf(b, "%s", cJSON_IsTrue(it) ? "true" : "false");
        vbt__tb_printf(b, "</td><td></td><td></td></tr>\n");
    }
    vbt__tb_printf(b, "</table>\n");
    const cJSON *chains = cJSON_GetObjectItemCaseSensitive(d, "chains");
    if (!cJSON_IsArray(chains) || !cJSON_GetArraySize(chains))
        return;
    vbt__tb_printf(b, "<p>Per chain (E-BFMI below 0.3 means the momentum resampling explores the "
                 "energy poorly; a chain stuck in another mode is left out of the summaries):</p>\n"
                 "<table><tr><th>chain</th><th>step size</th><th>mean tree depth</th>"
                 "<th>mean accept stat</th><th>divergences</th><th>at max depth</th>"
                 "<th>E-BFMI</th><th>mean lp</th><th>wall (s)</th><th>in summaries</th></tr>\n");
    cJSON_ArrayForEach(it, chains)
    {
        double eb = jnum(it, "ebfmi");
        const cJSON *stuck = cJSON_GetObjectItemCaseSensitive(it, "stuck");
        const cJSON *used = cJSON_GetObjectItemCaseSensitive(it, "used_in_summary");
        vbt__tb_printf(b, "<tr><td>%.0f</td><td>%.4g</td><td>%.2f</td><td>%.3f</td><td>%.0f</td>"
                     "<td>%.0f</td><td class=\"%s\">%.3f</td><td>%.2f</td><td>%.1f</td>"
                     "<td class=\"%s\">%s</td></tr>\n",
                  jnum(it, "chain"), jnum(it, "stepsize"), jnum(it, "mean_treedepth"),
                  jnum(it, "mean_accept_stat"), jnum(it, "divergences"),
                  jnum(it, "max_treedepth_hits"), eb >= 0.3 ? "ok" : "bad", eb,
                  jnum(it, "mean_lp"), jnum(it, "wall_s"),
                  cJSON_IsFalse(used) ? "bad" : "ok",
                  cJSON_IsTrue(stuck) ? "no (stuck)" : cJSON_IsFalse(used) ? "no" : "yes");
    }
    vbt__tb_printf(b, "</table>\n");
}

int vbt_report_write(const vbt_report_input *in, vbt_msg *msg)
{
    vbt__textbuf page = {0}, fig[5] = {{0}};
    double *pez = malloc(in->n * sizeof *pez), *onset = malloc(in->n * sizeof *onset);
    int rc = VBT_ENOMEM;
    if (!pez || !onset) {
        vbt__fail(msg, rc, "out of memory");
        goto out;
    }
    /* onset colour: the earliest recruited region darkest (1), the latest at
     * 0.25, so that every recruited region stands out from the grey ones */
    double omin = HUGE_VAL, omax = -HUGE_VAL;
    for (size_t i = 0; i < in->n; i++)
        if (!isnan(in->regions[i].onset_median)) {
            omin = fmin(omin, in->regions[i].onset_median);
            omax = fmax(omax, in->regions[i].onset_median);
        }
    for (size_t i = 0; i < in->n; i++) {
        pez[i] = in->regions[i].p_ez;
        double o = in->regions[i].onset_median;
        onset[i] = isnan(o) ? NAN : omax > omin ? 0.25 + 0.75 * (omax - o) / (omax - omin) : 1.0;
    }
    fig_connectome(&fig[0], in);
    fig_x0(&fig[1], in);
    fig_brain(&fig[2], in, "fig-brain-ez", "probability of belonging to the EZ (white 0, red 1)",
              pez);
    fig_brain(&fig[3], in, "fig-brain-onset",
              "predicted seizure onset (dark red: earliest, pale: latest; grey: not recruited)",
              onset);
    if (in->feature)
        fig_feature(&fig[4], in);

    vbt__tb_printf(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>vbt report</title>\n<style>body{font-family:sans-serif;margin:2em;"
               "max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
               "padding:2px 6px;font-size:13px}th{background:#f0f0f0}.ez{color:#c0392b;"
               "font-weight:bold}.pz{color:#e69f00}h2{border-bottom:1px solid #ddd}"
               ".ok{color:#1e7b34}.bad{color:#c0392b;font-weight:bold}"
               "</style></head><body>\n<h1>Virtual epileptic patient report</h1>\n");
    vbt__tb_printf(&page, "<p>Patient <code>");
    put_text(&page, in->patient);
    vbt__tb_printf(&page, "</code>, %zu regions, inference by <b>", in->n);
    put_text(&page, in->method);
    vbt__tb_printf(&page, "</b>, vbt %s. Outputs in this folder.</p>\n<h2>", in->version);
    vbt__tb_printf(&page, "Epileptogenic zone</h2>\n<table><tr><th>region</th><th>P(EZ)"
               "</th><th>P(PZ)</th><th>x0 mean [5 %%, 95 %%]</th><th>P(recruited)</th>"
               "<th>median onset</th></tr>\n");
    for (size_t i = 0; i < in->n; i++) {
        const vbt_report_region *r = &in->regions[i];
        if (!(r->p_ez > 0.1 || r->p_pz > 0.5 || r->truth))
            continue;
        vbt__tb_printf(&page, "<tr><td class=\"%s\">", r->p_ez > 0.5 ? "ez" : r->p_pz > 0.5 ? "pz" : "");
        put_text(&page, r->label);
        vbt__tb_printf(&page, "%s</td><td>%.2f</td><td>%.2f</td><td>%.2f [%.2f, %.2f]</td><td>%.2f</td>"
                   "<td>%.3g</td></tr>\n", r->truth == 1 ? " (truth: EZ)" : r->truth == 2
                                                                            ? " (truth: PZ)" : "",
            r->p_ez, r->p_pz, r->x0_mean, r->x0_q5, r->x0_q95, r->p_recruited, r->onset_median);
    }
    vbt__tb_printf(&page, "</table>\n");
    if (in->n_eval) {
        vbt__tb_printf(&page, "<h2>Precision and recall</h2>\n<table><tr><th>against</th>"
                   "<th>zone</th><th>listed</th><th>predicted</th><th>both</th>"
                   "<th>precision</th><th>recall</th></tr>\n");
        for (size_t k = 0; k < in->n_eval; k++) {
            const vbt_report_eval *e = &in->eval[k];
            vbt__tb_printf(&page, "<tr><td>");
            put_text(&page, e->against);
            vbt__tb_printf(&page, "</td><td>");
            put_text(&page, e->zone);
            vbt__tb_printf(&page, "</td><td>%zu</td><td>%zu</td><td>%zu</td>", e->n_list, e->n_pred,
                      e->tp);
            if (e->n_pred)
                vbt__tb_printf(&page, "<td>%.2f</td>", (double)e->tp / (double)e->n_pred);
            else
                vbt__tb_printf(&page, "<td>&ndash;</td>");
            if (e->n_list)
                vbt__tb_printf(&page, "<td>%.2f</td></tr>\n", (double)e->tp / (double)e->n_list);
            else
                vbt__tb_printf(&page, "<td>&ndash;</td></tr>\n");
        }
        vbt__tb_printf(&page, "</table>\n<p>Predicted: P(EZ) &gt; 0.5 (zone EZ), P(EZ) + P(PZ) &gt; "
                   "0.5 (zone EZ+PZ).</p>\n");
    }
    propagation_section(&page, in);
    vbt__tb_printf(&page, "<h2>Excitability of every region</h2>\n%s", fig[1].s ? fig[1].s : "");
    vbt__tb_printf(&page, "<h2>Brain maps</h2>\n%s%s", fig[2].s ? fig[2].s : "", fig[3].s ? fig[3].s : "");
    if (in->feature)
        vbt__tb_printf(&page, "<h2>SEEG feature and posterior prediction</h2>\n%s", fig[4].s ? fig[4].s : "");
    vbt__tb_printf(&page, "<h2>Virtual surgery</h2>\n<table><tr><th>resection</th><th>regions</th>"
               "<th>P(seizure freedom)</th></tr>\n");
    for (size_t k = 0; k < in->n_scen; k++) {
        vbt__tb_printf(&page, "<tr><td>");
        put_list(&page, in->scen[k].name);
        vbt__tb_printf(&page, "</td><td>%d</td><td>%.3f</td></tr>\n", in->scen[k].n_resected,
            in->scen[k].p_freedom);
    }
    vbt__tb_printf(&page, "</table>\n");
    if (in->plan_text) {
        vbt__tb_printf(&page, "<p>");
        put_text(&page, in->plan_text);
        vbt__tb_printf(&page, "</p>\n");
    }
    vbt__tb_printf(&page, "<h2>Connectome</h2>\n%s", fig[0].s ? fig[0].s : "");
    if (in->fit_summary)
        diagnostics_section(&page, in->fit_summary);
    if (in->provenance_html)
        vbt__tb_printf(&page, "<h2>Provenance</h2>\n%s\n", in->provenance_html);
    vbt__tb_printf(&page, "<p style=\"color:#888;font-size:11px\">Research software: the model's answers "
               "are hypotheses to be weighed with every other clinical finding.</p>\n"
               "</body></html>\n");

    char figdir[4096];
    int fk = snprintf(figdir, sizeof figdir, "%s/figures", in->outdir);
    if (fk < 0 || (size_t)fk >= sizeof figdir) {
        rc = vbt__fail(msg, VBT_EINVAL, "path too long: %s", in->outdir);
        goto out;
    }
    mkdir(figdir, 0777);
    const char *names[5] = {"connectome.svg", "x0.svg", "brain_ez.svg", "brain_onset.svg",
                            "feature.svg"};
    for (int k = 0; k < 5; k++)
        if (fig[k].s && (rc = write_file(figdir, names[k], &fig[k], msg)))
            goto out;
    if ((rc = write_file(in->outdir, "report.html", &page, msg)))
        goto out;
    rc = VBT_OK;
out:
    free(pez);
    free(onset);
    free(page.s);
    for (int k = 0; k < 5; k++)
        free(fig[k].s);
    return rc;
}
