/* cohort_report.c -- cohort.html (vbt_cohort_out.h): the summary, the F1
 * distribution and the ROC as inline SVG, and the table of rows, in the
 * style of the patient report (clinical/report.c): no scripts, nothing
 * fetched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_text.h"
#include "vbt_cohort_out.h"
#include "report_internal.h"

static void put_num(vbt_textbuf *b, double v, const char *fmt)
{
    if (isfinite(v))
        vbt_textbuf_printf(b, fmt, v);
    else
        vbt_textbuf_printf(b, "n/a");
}

static void put_stat(vbt_textbuf *b, const char *name, const vbt_cohort_stat *s)
{
    vbt_textbuf_printf(b, "<tr><th>%s</th><td>", name);
    put_num(b, s->value, "%.3f");
    vbt_textbuf_printf(b, "</td><td>");
    if (isfinite(s->lo) && isfinite(s->hi))
        vbt_textbuf_printf(b, "%.3f &ndash; %.3f", s->lo, s->hi);
    else
        vbt_textbuf_printf(b, "n/a");
    vbt_textbuf_printf(b, "</td><td>%zu</td></tr>\n", s->n);
}

/* The row that stands for its subject: the combined row, else the single ok
 * row (a subject with several ok runs and no combined row counts its first). */
static int subject_row(const vbt_cohort_row *rows, size_t n, size_t i)
{
    const vbt_cohort_row *r = &rows[i];
    if (strcmp(r->status, "ok") != 0)
        return 0;
    if (r->combined)
        return 1;
    for (size_t j = 0; j < n; j++)
        if (j != i && strcmp(rows[j].subject, r->subject) == 0 && strcmp(rows[j].status, "ok") == 0 &&
            (rows[j].combined || j < i))
            return 0;
    return 1;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

void vbt_cohort_roc(const double *score, const int *label, size_t n, double *fpr, double *tpr,
                    size_t *n_points)
{
    size_t npos = 0, nneg = 0, m = 0;
    *n_points = 0;
    double *s = malloc((n + 1) * sizeof *s);
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(score[i]) || (label[i] != 0 && label[i] != 1))
            continue;
        npos += label[i] == 1;
        nneg += label[i] == 0;
        s[m++] = score[i];
    }
    if (npos == 0 || nneg == 0) {
        free(s);
        return;
    }
    qsort(s, m, sizeof *s, cmp_desc);
    size_t k = 0;
    fpr[k] = 0;
    tpr[k++] = 0;
    for (size_t i = 0; i < m; i++) {
        if (i + 1 < m && s[i + 1] == s[i])
            continue;     /* ties: one corner per distinct threshold */
        size_t tp = 0, fp = 0;
        for (size_t j = 0; j < n; j++) {
            if (!isfinite(score[j]) || score[j] < s[i])
                continue;
            tp += label[j] == 1;
            fp += label[j] == 0;
        }
        fpr[k] = (double)fp / (double)nneg;
        tpr[k++] = (double)tp / (double)npos;
    }
    *n_points = k;
    free(s);
}

/* F1 per subject, as dots per outcome group (strip plot) with the median. */
static void svg_f1(vbt_textbuf *b, const vbt_cohort_row *rows, size_t n)
{
    const int W = 460, H = 260, L = 50, R = 20, T = 20, B = 40;
    const char *gname[3] = {"seizure free", "not seizure free", "unknown"};
    const vbt_cohort_outcome gval[3] = {VBT_COHORT_OUTCOME_FREE, VBT_COHORT_OUTCOME_NOT_FREE,
                                        VBT_COHORT_OUTCOME_UNKNOWN};
    vbt_textbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"F1 per subject\">\n",
                       W, H, W, H);
    vbt_textbuf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                          "stroke=\"#888\"/>\n", L, T, W - L - R, H - T - B);
    for (int t = 0; t <= 4; t++) {
        double y = T + (H - T - B) * (1 - t / 4.0);
        vbt_textbuf_printf(
            b,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.2f</text>\n",
            L, W - R, y, y, L - 4, y + 4, t / 4.0);
    }
    vbt_textbuf_printf(b,
                       "<text x=\"12\" y=\"%d\" font-size=\"12\" transform=\"rotate(-90 12 %d)\" "
                       "text-anchor=\"middle\">F1 (EZ vs SOZ)</text>\n",
                       (H - B + T) / 2, (H - B + T) / 2);
    double gw = (W - L - R) / 3.0;
    double *v = malloc((n + 1) * sizeof *v);
    for (int g = 0; g < 3; g++) {
        double cx = L + gw * (g + 0.5);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (!subject_row(rows, n, i) || rows[i].outcome != gval[g] || !isfinite(rows[i].soz.f1))
                continue;
            double f = rows[i].soz.f1;
            double jitter = ((double)((m * 37) % 11) - 5.0) * gw / 40.0;  /* deterministic spread */
            vbt_textbuf_printf(b,
                               "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" "
                               "fill-opacity=\"0.7\"><title>",
                               cx + jitter, T + (H - T - B) * (1 - f),
                               g == 0   ? "#1b7837"
                               : g == 1 ? "#b2182b"
                                        : "#777");
            vbt__rep_text(b, rows[i].subject);
            vbt_textbuf_printf(b, ": F1 %.3f</title></circle>\n", f);
            if (v)
                v[m] = f;
            m++;
        }
        if (v && m > 0) {
            qsort(v, m, sizeof *v, cmp_desc);
            double med = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
            double y = T + (H - T - B) * (1 - med);
            vbt_textbuf_printf(
                b,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#000\" stroke-width=\"2\"><title>median %.3f</title></line>\n",
                cx - gw / 4, cx + gw / 4, y, y, med);
        }
        vbt_textbuf_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">"
                              "%s (%zu)</text>\n", cx, H - B + 18, gname[g], m);
    }
    free(v);
    vbt_textbuf_printf(b, "</svg>\n");
}

static void svg_roc(vbt_textbuf *b, const vbt_cohort_row *rows, size_t n, double auc)
{
    const int S = 260, L = 50, T = 20, B = 40, R = 20;
    double *score = calloc(n + 1, sizeof *score), *fpr = calloc(n + 2, sizeof *fpr),
           *tpr = calloc(n + 2, sizeof *tpr);
    int *label = calloc(n + 1, sizeof *label);
    size_t m = 0, np = 0;
    for (size_t i = 0; score && label && i < n; i++) {
        if (!subject_row(rows, n, i))
            continue;
        score[m] = rows[i].p_free;
        label[m++] = rows[i].outcome == VBT_COHORT_OUTCOME_FREE ? 1
                     : rows[i].outcome == VBT_COHORT_OUTCOME_NOT_FREE ? 0 : -1;
    }
    if (score && label && fpr && tpr)
        vbt_cohort_roc(score, label, m, fpr, tpr, &np);
    vbt_textbuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"ROC\">\n",
                       L + S + R, T + S + B, L + S + R, T + S + B);
    vbt_textbuf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                          "stroke=\"#888\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                          "stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>\n",
                       L, T, S, S, L, T + S, L + S, T);
    for (int t = 0; t <= 4; t++)
        vbt_textbuf_printf(
            b,
            "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%.2f</text>"
            "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.2f</text>\n",
            L + S * t / 4, T + S + 14, t / 4.0, L - 4, T + S - S * t / 4 + 4, t / 4.0);
    vbt_textbuf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">"
                          "false positive rate</text>\n", L + S / 2, T + S + 32);
    vbt_textbuf_printf(b,
                       "<text x=\"12\" y=\"%d\" font-size=\"12\" transform=\"rotate(-90 12 %d)\" "
                       "text-anchor=\"middle\">true positive rate</text>\n",
                       T + S / 2, T + S / 2);
    if (np > 0) {
        vbt_textbuf_printf(
            b, "<polyline fill=\"none\" stroke=\"#2166ac\" stroke-width=\"2\" points=\"");
        for (size_t k = 0; k < np; k++)
            vbt_textbuf_printf(b, "%s%.1f,%.1f", k ? " " : "", L + S * fpr[k],
                               T + S * (1 - tpr[k]));
        vbt_textbuf_printf(b, "\"/>\n");
        vbt_textbuf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"end\">AUC ",
                           L + S - 6, T + S - 8);
        put_num(b, auc, "%.3f");
        vbt_textbuf_printf(b, "</text>\n");
    } else {
        vbt_textbuf_printf(b,
                           "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">"
                           "needs predictions for both outcome groups</text>\n",
                           L + S / 2, T + S / 2);
    }
    vbt_textbuf_printf(b, "</svg>\n");
    free(score);
    free(label);
    free(fpr);
    free(tpr);
}

int vbt_cohort_write_html(const char *path, const vbt_cohort_row *rows, size_t n,
                          const vbt_cohort_summary *sum, vbt_msg *msg)
{
    if (!path || (!rows && n) || !sum)
        return vbt__fail(msg, VBT_EINVAL, "cohort report: missing path, rows or summary");
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b,
                       "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>vbt cohort</title>\n<style>body{font-family:sans-serif;margin:2em;"
                       "max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                       "padding:2px 6px;text-align:left;font-size:90%%}th{background:#f4f4f4}"
                       ".fig{display:inline-block;margin-right:2em;vertical-align:top}"
                       ".failed{color:#b2182b}</style>\n</head>\n<body>\n<h1>vbt cohort</h1>\n");
    vbt_textbuf_printf(&b, "<p>%zu subjects: %zu with an EZ map, %zu failed, %zu fits whose "
                           "verdict failed.</p>\n", sum->n_subjects, sum->n_ok, sum->n_failed,
                       sum->n_untrustworthy);
    vbt_textbuf_printf(&b, "<h2>Summary</h2>\n<table>\n<tr><th></th><th>estimate</th>"
                           "<th>bootstrap interval</th><th>n</th></tr>\n");
    put_stat(&b, "mean F1, all", &sum->f1_all);
    put_stat(&b, "mean F1, seizure free", &sum->f1_free);
    put_stat(&b, "mean F1, not seizure free", &sum->f1_not_free);
    put_stat(&b, "AUC of P(seizure freedom) vs outcome", &sum->auc);
    vbt_textbuf_printf(&b,
                       "</table>\n<h2>Figures</h2>\n<div class=\"fig\"><h3>F1 per subject</h3>\n");
    svg_f1(&b, rows, n);
    vbt_textbuf_printf(&b, "</div><div class=\"fig\"><h3>ROC: predicted seizure freedom of the "
                           "resection performed</h3>\n");
    svg_roc(&b, rows, n, sum->auc.value);
    vbt_textbuf_printf(
        &b, "</div>\n<h2>Subjects and runs</h2>\n<table>\n<tr><th>subject</th>"
            "<th>run</th><th>status</th><th>outcome</th><th>Engel</th><th>therapy</th>"
            "<th>EZ regions</th><th>F1 SOZ</th><th>P SOZ</th><th>R SOZ</th>"
            "<th>F1 resected</th><th>P(seizure free)</th><th>verdict</th><th>reason</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const vbt_cohort_row *r = &rows[i];
        int bad = strcmp(r->status, "ok") != 0;
        vbt_textbuf_printf(&b, "<tr%s><td>", bad ? " class=\"failed\"" : "");
        vbt__rep_text(&b, r->subject);
        vbt_textbuf_printf(&b, "</td><td>");
        vbt__rep_text(&b, r->run);
        vbt_textbuf_printf(&b, "</td><td>");
        vbt__rep_text(&b, r->status);
        vbt_textbuf_printf(&b, "</td><td>%s</td><td>", vbt_cohort_outcome_name(r->outcome));
        vbt__rep_text(&b, r->engel);
        vbt_textbuf_printf(&b, "</td><td>");
        vbt__rep_text(&b, r->therapy);
        vbt_textbuf_printf(&b, "</td><td>%zu</td><td>", r->n_ez);
        put_num(&b, r->soz.f1, "%.3f");
        vbt_textbuf_printf(&b, "</td><td>");
        put_num(&b, r->soz.precision, "%.3f");
        vbt_textbuf_printf(&b, "</td><td>");
        put_num(&b, r->soz.recall, "%.3f");
        vbt_textbuf_printf(&b, "</td><td>");
        put_num(&b, r->resect.f1, "%.3f");
        vbt_textbuf_printf(&b, "</td><td>");
        put_num(&b, r->p_free, "%.3f");
        vbt_textbuf_printf(&b, "</td><td>%s</td><td>",
                           r->trustworthy == 1   ? "passed"
                           : r->trustworthy == 0 ? "failed"
                                                 : "n/a");
        vbt__rep_text(&b, r->reason);
        vbt_textbuf_printf(&b, "</td></tr>\n");
    }
    vbt_textbuf_printf(
        &b, "</table>\n<p>F1, precision (P) and recall (R) of the EZ map (P(EZ) above "
            "the threshold) against the regions of the seizure-onset channels; schema and "
            "rules in docs/cohort.md.</p>\n</body>\n</html>\n");
    return vbt_textbuf_write(&b, path, 1, msg);
}
