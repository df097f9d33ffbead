/* report_figs.c -- the patient report's figures as SVG text (inline in the
 * page and written to figures/): the connectome, every region's x0, brain
 * maps in three views with an outline, orientation markers, a colour bar
 * and the contacts, and the fitted SEEG feature against its posterior
 * predictive band on a time axis in seconds from the marked onset.
 *
 * Nothing here prints a non-finite number: an element whose coordinates
 * are not finite is left out, and numbers in text go through
 * vbt__rep_num(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"
#include "vbt_vep.h"

#define SVG_OPEN "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure\" "

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

static const char *class_colour(double x0)
{
    static const char *const colour[3] = {"#2c7fb8", "#e69f00", "#c0392b"}; /* HZ, PZ, EZ */
    return colour[vbt_vep_x0_class(x0)];
}

/* ---- connectome ------------------------------------------------------------- */

void vbt__rep_fig_connectome(vbt_textbuf *b, const vbt_report_input *in)
{
    const size_t n = in->n;
    const double cell = n > 100 ? 4.0 : 6.0, off = 40.0, size = cell * (double)n;
    double wmax = 0.0, wmin = HUGE_VAL;
    for (size_t k = 0; k < n * n; k++)
        if (in->conn->weights[k] > 0.0 && isfinite(in->conn->weights[k])) {
            wmax = fmax(wmax, in->conn->weights[k]);
            wmin = fmin(wmin, in->conn->weights[k]);
        }
    double lmin = wmin < HUGE_VAL ? log10(wmin) : 0.0, lmax = wmax > 0 ? log10(wmax) : 1.0;
    if (lmax - lmin < 1e-12)
        lmin = lmax - 1.0;
    vbt_textbuf_printf(b, SVG_OPEN "id=\"fig-connectome\" width=\"%.0f\" height=\"%.0f\" "
                       "viewBox=\"0 0 %.0f %.0f\">\n", size + off + 90, size + off + 20,
                       size + off + 90, size + off + 20);
    vbt_textbuf_printf(b, "<text x=\"%.0f\" y=\"15\" font-size=\"12\">weights (row = target, "
                          "column = source), log10 scale</text>\n", off);
    vbt_textbuf_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"#f4f4f4\"/>\n", off, off / 2 + 5, size, size);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double w = in->conn->weights[i * n + j];
            if (!(w > 0.0) || !isfinite(w))
                continue;
            int r, g, bl;
            viridis((log10(w) - lmin) / (lmax - lmin), &r, &g, &bl);
            vbt_textbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                  "fill=\"rgb(%d,%d,%d)\"/>", off + cell * (double)j,
                               off / 2 + 5 + cell * (double)i, cell, cell, r, g, bl);
        }
    vbt_textbuf_printf(b, "\n");
    for (int k = 0; k <= 10; k++) {
        int r, g, bl;
        viridis(k / 10.0, &r, &g, &bl);
        vbt_textbuf_printf(b, "<rect x=\"%.0f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" "
                              "fill=\"rgb(%d,%d,%d)\"/>", off + size + 15,
                           off / 2 + 5 + size * (1.0 - (k + 1) / 11.0), size / 11.0, r, g, bl);
    }
    vbt_textbuf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.2g</text>",
                       off + size + 33, off / 2 + 15, wmax);
    vbt_textbuf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%.2g</text>\n</svg>\n",
                       off + size + 33, off / 2 + 5 + size, wmin < HUGE_VAL ? wmin : 0.0);
}

/* ---- x0 ----------------------------------------------------------------------- */

/* A value and its index, for sorting without shared state. */
typedef struct vkey {
    double v;
    size_t i;
} vkey;

/* Increasing value (non-finite first), then index. */
static int by_value_asc(const void *a, const void *b)
{
    const vkey *x = a, *y = b;
    double u = isfinite(x->v) ? x->v : -HUGE_VAL, w = isfinite(y->v) ? y->v : -HUGE_VAL;
    if (u != w)
        return u < w ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

/* Indices of v[n] by increasing (dir > 0) or decreasing value, non-finite
 * values first or last; NULL when out of memory. */
static size_t *order_by(const double *v, size_t n, int dir)
{
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    vkey *k = malloc((n ? n : 1) * sizeof *k);
    if (!ord || !k) {
        free(ord);
        free(k);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (vkey){dir > 0 ? v[i] : -v[i], i};
    qsort(k, n, sizeof *k, by_value_asc);
    for (size_t i = 0; i < n; i++)
        ord[i] = k[i].i;
    free(k);
    return ord;
}

void vbt__rep_fig_x0(vbt_textbuf *b, const vbt_report_input *in)
{
    const size_t n = in->n;
    const int map = vbt__rep_map_only(in);
    const double row = 12.0, left = 230.0, width = 420.0, top = 44.0;
    const double lo = -5.0, hi = 0.0;
    double *x0 = malloc((n ? n : 1) * sizeof *x0);
    size_t *ord = NULL;
    if (x0) {
        for (size_t i = 0; i < n; i++)
            x0[i] = isfinite(in->regions[i].x0_mean) ? in->regions[i].x0_mean : -HUGE_VAL;
        ord = order_by(x0, n, -1);
        free(x0);
    }
    if (!ord) {
        b->oom = 1;
        return;
    }
#define XPOS(v) (left + width * (((v) < lo ? lo : (v) > hi ? hi : (v)) - lo) / (hi - lo))
    vbt_textbuf_printf(b, SVG_OPEN "id=\"fig-x0\" width=\"%.0f\" height=\"%.0f\">\n",
                       left + width + 40, top + row * (double)n + 40);
    vbt_textbuf_printf(b,
                       "<text x=\"%.0f\" y=\"15\" font-size=\"12\">excitability x0, highest "
                       "first: %s (red EZ, orange PZ, blue HZ; * ground truth EZ, + PZ)</text>\n",
                       left - 200,
                       map ? "the mode of the posterior (point estimate)"
                           : "posterior mean and 5-95 % interval");
    double guides[2] = {VBT_VEP_X0_EZ, VBT_VEP_X0_PZ};
    for (int g = 0; g < 2; g++)
        vbt_textbuf_printf(b,
                           "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.1f\" stroke=\"#999\" "
                           "stroke-dasharray=\"3,3\"/><text x=\"%.1f\" y=\"%.0f\" font-size=\"10\">"
                           "%.2f</text>\n",
                           XPOS(guides[g]), XPOS(guides[g]), top - 5, top + row * (double)n,
                           XPOS(guides[g]) - 12, top - 8, guides[g]);
    for (int t = -5; t <= 0; t++)
        vbt_textbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%d</text>",
                           XPOS((double)t) - 4, top + row * (double)n + 15, t);
    vbt_textbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">x0</text>\n",
                       left + width + 8, top + row * (double)n + 15);
    for (size_t k = 0; k < n; k++) {
        const vbt_report_region *r = &in->regions[ord[k]];
        double y = top + row * (double)k + row / 2;
        vbt_textbuf_printf(b, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\">",
                           left - 6, y + 3);
        vbt__rep_text(b, r->label);
        vbt_textbuf_printf(b, "%s</text>", r->truth == 1 ? " *" : r->truth == 2 ? " +" : "");
        if (!isfinite(r->x0_mean)) {
            vbt_textbuf_printf(b, "\n");
            continue;
        }
        const char *col = class_colour(r->x0_mean);
        if (!map && isfinite(r->x0_q5) && isfinite(r->x0_q95))
            vbt_textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                                  "stroke=\"%s\" stroke-width=\"2\"/>", XPOS(r->x0_q5),
                               XPOS(r->x0_q95), y, y, col);
        vbt_textbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                           XPOS(r->x0_mean), y, col);
    }
#undef XPOS
    vbt_textbuf_printf(b, "</svg>\n");
    free(ord);
}

/* ---- brain maps ------------------------------------------------------------- */

typedef struct pt {
    double x, y;
} pt;

static int pt_cmp(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return 0;
}

static double cross(pt o, pt a, pt b)
{
    return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/* Convex hull (Andrew's monotone chain) of p[n] (sorted in place) into
 * h[2n]; the number of hull points. */
static size_t hull(pt *p, size_t n, pt *h)
{
    if (n < 3) {
        memcpy(h, p, n * sizeof *p);
        return n;
    }
    qsort(p, n, sizeof *p, pt_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0)
            k--;
        h[k++] = p[i];
    }
    for (size_t i = n - 1, t = k + 1; i-- > 0;) {
        while (k >= t && cross(h[k - 2], h[k - 1], p[i]) <= 0)
            k--;
        h[k++] = p[i];
    }
    return k - 1;
}

static void scale_colour(const vbt__rep_scale *sc, double v, int *r, int *g, int *bl)
{
    double f = sc->hi > sc->lo ? (v - sc->lo) / (sc->hi - sc->lo) : 1.0;
    heat(sc->reverse ? 1.0 - f : f, r, g, bl);
}

void vbt__rep_fig_brain(vbt_textbuf *b, const vbt_report_input *in,
                        const vbt_report_context *ctx, const char *id, const char *title,
                        const double *value, const unsigned char *mark,
                        const vbt__rep_scale *sc)
{
    const size_t n = in->n, nc = ctx ? ctx->n_contacts : 0;
    /* the regions in the contacts' space (registered centres) when known */
    const double *c = ctx && ctx->region_xyz ? ctx->region_xyz : in->conn->centres;
    const double P = 230.0, gap = 14.0, top = 34.0, pad_mm = 8.0;
    /* bounds in mm over the centres and contacts (finite ones) */
    double mn[3] = {HUGE_VAL, HUGE_VAL, HUGE_VAL}, mx[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    for (size_t i = 0; i < n + nc; i++) {
        const double *p = i < n ? c + 3 * i : ctx->contact_xyz + 3 * (i - n);
        if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2]))
            continue;
        for (int d = 0; d < 3; d++) {
            mn[d] = fmin(mn[d], p[d]);
            mx[d] = fmax(mx[d], p[d]);
        }
    }
    double span = 1.0;
    for (int d = 0; d < 3; d++) {
        if (!(mx[d] >= mn[d]))
            mn[d] = mx[d] = 0.0;
        span = fmax(span, mx[d] - mn[d] + 2 * pad_mm);
    }
    const double s = (P - 24.0) / span; /* px per mm, the same in every view */
    const double W = 3 * P + 4 * gap + 120.0, H = top + P + 40.0;
    /* the strongest drawn last, on top (reverse scales: the smallest) */
    size_t *ord = order_by(value, n, sc->reverse ? -1 : 1);
    pt *pts = malloc((n + nc + 1) * sizeof *pts), *h = malloc(2 * (n + nc + 1) * sizeof *h);
    if (!ord || !pts || !h) {
        b->oom = 1;
        goto out;
    }
    vbt_textbuf_printf(b, SVG_OPEN "id=\"%s\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f "
                       "%.0f\">\n<text x=\"10\" y=\"15\" font-size=\"12\">", id, W, H, W, H);
    vbt__rep_text(b, title);
    vbt_textbuf_printf(b, "</text>\n");
    /* views: horizontal axis, vertical axis (up), its direction, markers */
    static const struct {
        int a, v, flip;
        const char *name, *left, *right, *up, *down;
    } view[3] = {{0, 1, 0, "axial, from above", "L", "R", "A", "P"},
                 {0, 2, 0, "coronal, from behind", "L", "R", "S", "I"},
                 {1, 2, 0, "sagittal, from the right", "P", "A", "S", "I"}};
    for (int v = 0; v < 3; v++) {
        const int a = view[v].a, u = view[v].v;
        const double ox = gap + v * (P + gap), oy = top;
        const double cx = ox + P / 2, cy = oy + P / 2;
        const double ma = (mn[a] + mx[a]) / 2, mu = (mn[u] + mx[u]) / 2;
#define PX(q) (cx + ((q)[a] - ma) * s)
#define PY(q) (cy - ((q)[u] - mu) * s)
        size_t np = 0;
        for (size_t i = 0; i < n + nc; i++) {
            const double *q = i < n ? c + 3 * i : ctx->contact_xyz + 3 * (i - n);
            if (isfinite(q[a]) && isfinite(q[u]))
                pts[np++] = (pt){PX(q), PY(q)};
        }
        size_t nh = hull(pts, np, h);
        vbt_textbuf_printf(b, "<g class=\"view\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
                              "height=\"%.0f\" fill=\"none\" stroke=\"#ddd\"/>\n", ox, oy, P, P);
        if (nh >= 3) {
            /* the outline: the hull inflated by pad_mm (round joins) */
            for (int layer = 0; layer < 2; layer++) {
                vbt_textbuf_printf(b, "<path class=\"outline\" fill=\"#f5f1ea\" stroke=\"%s\" "
                                      "stroke-width=\"%.1f\" stroke-linejoin=\"round\" d=\"",
                                   layer ? "#f5f1ea" : "#8a8a8a",
                                   2 * pad_mm * s + (layer ? 0.0 : 2.0));
                for (size_t k = 0; k < nh; k++)
                    vbt_textbuf_printf(b, "%s%.1f %.1f", k ? " L" : "M", h[k].x, h[k].y);
                vbt_textbuf_printf(b, " Z\"/>\n");
            }
        }
        /* orientation markers */
        vbt_textbuf_printf(
            b,
            "<g font-size=\"12\" font-weight=\"bold\" fill=\"#444\">"
            "<text class=\"orient\" x=\"%.0f\" y=\"%.0f\">%s</text>"
            "<text class=\"orient\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>"
            "<text class=\"orient\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>"
            "<text class=\"orient\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>"
            "</g>\n",
            ox + 3, cy + 4, view[v].left, ox + P - 3, cy + 4, view[v].right, cx, oy + 13,
            view[v].up, cx, oy + P - 4, view[v].down);
        vbt_textbuf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%s</text>\n", ox + 2,
                           oy + P + 13, view[v].name);
        /* contacts */
        for (size_t k = 0; k < nc; k++) {
            const double *q = ctx->contact_xyz + 3 * k;
            if (!isfinite(q[a]) || !isfinite(q[u]))
                continue;
            vbt_textbuf_printf(b, "<rect class=\"contact\" x=\"%.1f\" y=\"%.1f\" width=\"2.4\" "
                                  "height=\"2.4\" fill=\"#222\"><title>", PX(q) - 1.2, PY(q) - 1.2);
            vbt__rep_text(b, ctx->contact[k]);
            vbt_textbuf_printf(b, "</title></rect>");
        }
        vbt_textbuf_printf(b, "\n");
        /* regions */
        for (size_t k = 0; k < n; k++) {
            size_t i = ord[k];
            const double *q = c + 3 * i;
            if (!isfinite(q[a]) || !isfinite(q[u]))
                continue;
            int r = 200, g = 200, bl = 200;
            if (isfinite(value[i]))
                scale_colour(sc, value[i], &r, &g, &bl);
            int ring = mark && mark[i];
            vbt_textbuf_printf(b, "<circle class=\"region\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" "
                                  "fill=\"rgb(%d,%d,%d)\" fill-opacity=\"0.9\" stroke=\"%s\" "
                                  "stroke-width=\"%s\"><title>", PX(q), PY(q), ring ? "6" : "4.5",
                               r, g, bl, ring ? "#000" : "#666", ring ? "1.8" : "0.5");
            vbt__rep_text(b, in->regions[i].label);
            vbt_textbuf_printf(b, ": ");
            if (isfinite(value[i]))
                vbt__rep_num(b, sc->tick_fmt, value[i]);
            else
                vbt_textbuf_printf(b, "none");
            vbt_textbuf_printf(b, "</title></circle>\n");
        }
#undef PX
#undef PY
        vbt_textbuf_printf(b, "</g>\n");
    }
    /* colour bar */
    const double bx = gap + 3 * (P + gap) + 8, by = top + 16, bh = P - 70;
    vbt_textbuf_printf(b, "<g class=\"colorbar\"><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">",
                       bx, top + 8);
    vbt__rep_text(b, sc->caption);
    vbt_textbuf_printf(b, "</text>\n");
    for (int k = 0; k < 20; k++) {
        int r, g, bl;
        double f = (k + 0.5) / 20.0;
        heat(sc->reverse ? 1.0 - f : f, &r, &g, &bl);
        vbt_textbuf_printf(b, "<rect x=\"%.0f\" y=\"%.2f\" width=\"14\" height=\"%.2f\" "
                              "fill=\"rgb(%d,%d,%d)\"/>", bx, by + bh * (1.0 - (k + 1) / 20.0),
                           bh / 20.0 + 0.3, r, g, bl);
    }
    vbt_textbuf_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"%.0f\" fill=\"none\" "
                          "stroke=\"#666\" stroke-width=\"0.5\"/>\n", bx, by, bh);
    for (size_t k = 0; k < sc->n_ticks; k++) {
        double t = sc->ticks[k];
        if (!isfinite(t) || !(sc->hi > sc->lo))
            continue;
        double y = by + bh * (1.0 - (t - sc->lo) / (sc->hi - sc->lo));
        vbt_textbuf_printf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
                              "stroke=\"#333\"/><text x=\"%.0f\" y=\"%.1f\" font-size=\"10\">",
                           bx + 14, bx + 18, y, y, bx + 20, y + 3.5);
        vbt__rep_num(b, sc->tick_fmt, t);
        vbt_textbuf_printf(b, "</text>");
    }
    vbt_textbuf_printf(b,
                       "\n<circle cx=\"%.0f\" cy=\"%.0f\" r=\"4.5\" fill=\"rgb(200,200,200)\" "
                       "stroke=\"#666\" stroke-width=\"0.5\"/><text x=\"%.0f\" y=\"%.0f\" "
                       "font-size=\"10\">none</text>\n",
                       bx + 7, by + bh + 18, bx + 16, by + bh + 22);
    if (mark)
        vbt_textbuf_printf(b,
                           "<circle cx=\"%.0f\" cy=\"%.0f\" r=\"6\" fill=\"none\" stroke=\"#000\" "
                           "stroke-width=\"1.8\"/><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">EZ"
                           "</text>\n",
                           bx + 7, by + bh + 36, bx + 16, by + bh + 40);
    if (nc)
        vbt_textbuf_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"2.4\" height=\"2.4\" "
                              "fill=\"#222\"/><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">contact"
                              "</text>\n", bx + 6, by + bh + 52, bx + 16, by + bh + 56);
    vbt_textbuf_printf(b, "</g>\n</svg>\n");
out:
    free(ord);
    free(pts);
    free(h);
}

/* ---- SEEG feature ------------------------------------------------------------ */

/* A tick step of about span / 5: 1, 2 or 5 times a power of ten. */
static double nice_step(double span)
{
    if (!(span > 0) || !isfinite(span))
        return 1.0;
    double t = pow(10, floor(log10(span / 5)));
    if (span / t > 20)
        t *= 5;
    else if (span / t > 10)
        t *= 2;
    return t;
}

size_t vbt__rep_fig_feature(vbt_textbuf *b, const vbt_report_input *in,
                            const vbt_report_context *ctx, size_t *pick, double *outside,
                            size_t max)
{
    const size_t T = in->T, S = in->S;
    size_t show = S < max ? S : max;
    if (show > 6)
        show = 6;
    const double w = 380, h = 100, left = 62, gx = 70, top = 52, gy = 58;
    double best[6];
    for (size_t k = 0; k < 6; k++) {
        best[k] = -1;
        pick[k] = 0;
    }
    /* the channels with the largest range of the feature */
    for (size_t s = 0; s < S; s++) {
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        for (size_t t = 0; t < T; t++) {
            double y = in->feature[t * S + s];
            if (isfinite(y)) {
                lo = fmin(lo, y);
                hi = fmax(hi, y);
            }
        }
        double r = hi >= lo ? hi - lo : 0.0;
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
    /* time axis: seconds from the marked onset when the context knows it */
    double *tx = malloc((T ? T : 1) * sizeof *tx);
    if (!tx) {
        b->oom = 1;
        return 0;
    }
    int seconds = ctx && isfinite(ctx->onset_s) &&
                  ((ctx->time_s && ctx->n_time == T) ||
                   (isfinite(ctx->t0_s) && isfinite(ctx->t1_s) && ctx->t1_s > ctx->t0_s));
    for (size_t t = 0; t < T; t++) {
        if (!seconds)
            tx[t] = (double)t;
        else if (ctx->time_s && ctx->n_time == T)
            tx[t] = ctx->time_s[t] - ctx->onset_s;
        else
            tx[t] = ctx->t0_s + (ctx->t1_s - ctx->t0_s) * (double)t /
                                    (double)(T > 1 ? T - 1 : 1) - ctx->onset_s;
    }
    double ta = T ? tx[0] : 0.0, tb = T ? tx[T - 1] : 1.0;
    if (!(tb > ta))
        tb = ta + 1.0;
    double off = seconds && isfinite(ctx->offset_s) ? ctx->offset_s - ctx->onset_s : NAN;
    const size_t rows = (show + 1) / 2;
    vbt_textbuf_printf(b, SVG_OPEN "id=\"fig-feature\" width=\"%.0f\" height=\"%.0f\">\n"
                       "<text x=\"10\" y=\"15\" font-size=\"12\">", 2 * (w + gx) + 10,
                       top + (double)rows * (h + gy) + 10);
    const int map = vbt__rep_map_only(in);
    vbt__rep_text(b, in->feature_label ? in->feature_label : "SEEG feature");
    vbt_textbuf_printf(
        b,
        " (black) and %s (blue), the %zu channels of widest range</text>\n"
        "<text x=\"10\" y=\"31\" font-size=\"11\">x: %s; y: ",
        map ? "the fitted model's prediction at the mode" : "the posterior predictive 5-95 % band",
        show, seconds ? "seconds from the marked seizure onset" : "samples (no time axis)");
    vbt__rep_text(b, ctx && ctx->feature_unit[0] ? ctx->feature_unit : "feature value");
    vbt_textbuf_printf(b, "</text>\n");
    for (size_t k = 0; k < show; k++) {
        size_t s = pick[k];
        double ox = left + (double)(k % 2) * (w + gx), oy = top + (double)(k / 2) * (h + gy);
        double lo = HUGE_VAL, hi = -HUGE_VAL;
        int band = in->pred != NULL && !map, line = in->pred != NULL && map;
        size_t out_n = 0, n_pts = 0;
        for (size_t t = 0; t < T; t++) {
            double y = in->feature[t * S + s];
            if (isfinite(y)) {
                lo = fmin(lo, y);
                hi = fmax(hi, y);
            }
            if (line && isfinite(in->pred[T * S + t * S + s])) {
                lo = fmin(lo, in->pred[T * S + t * S + s]);
                hi = fmax(hi, in->pred[T * S + t * S + s]);
            }
            if (band) {
                double a = in->pred[t * S + s], z = in->pred[2 * T * S + t * S + s];
                if (!isfinite(a) || !isfinite(z))
                    band = 0;
                else {
                    lo = fmin(lo, a);
                    hi = fmax(hi, z);
                    n_pts++;
                    out_n += !(y >= a && y <= z);
                }
            }
        }
        if (!(hi >= lo)) {
            lo = 0.0;
            hi = 1.0;
        }
        if (!(hi > lo))
            hi = lo + 1.0;
        outside[k] = band && n_pts ? (double)out_n / (double)n_pts : NAN;
#define PX(t) (ox + w * ((t) - ta) / (tb - ta))
#define PY(v) (oy + h - h * ((v) - lo) / (hi - lo))
        vbt_textbuf_printf(b, "<g class=\"panel\"><rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" "
                              "height=\"%.0f\" fill=\"none\" stroke=\"#bbb\"/>\n<text x=\"%.0f\" "
                              "y=\"%.0f\" font-size=\"11\" font-weight=\"bold\">", ox, oy, w, h, ox,
                           oy - 6);
        vbt__rep_text(b, in->chan ? in->chan[s] : "");
        if (isfinite(outside[k]))
            vbt_textbuf_printf(b,
                               "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" "
                               "text-anchor=\"end\" fill=\"%s\">%.0f %% of points outside the band"
                               "%s",
                               ox + w, oy - 6, outside[k] > 0.25 ? "#c0392b" : "#1e7b34",
                               100 * outside[k], outside[k] > 0.25 ? " (expected about 10 %)" : "");
        vbt_textbuf_printf(b, "</text>\n");
        /* y ticks: the range's ends */
        vbt_textbuf_printf(b,
                           "<text x=\"%.0f\" y=\"%.0f\" font-size=\"9\" text-anchor=\"end\">"
                           "%.3g</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"9\" "
                           "text-anchor=\"end\">%.3g</text>\n",
                           ox - 4, oy + 8, hi, ox - 4, oy + h, lo);
        /* x ticks */
        double st = nice_step(tb - ta);
        for (double t = ceil(ta / st) * st; t <= tb + 1e-9 * st; t += st) {
            double tt = fabs(t) < 1e-9 * st ? 0.0 : t;
            vbt_textbuf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" "
                                  "stroke=\"#888\"/><text x=\"%.1f\" y=\"%.0f\" font-size=\"9\" "
                                  "text-anchor=\"middle\">%g</text>", PX(tt), PX(tt), oy + h,
                               oy + h + 4, PX(tt), oy + h + 14, tt);
        }
        vbt_textbuf_printf(b,
                           "<text x=\"%.0f\" y=\"%.0f\" font-size=\"9\" text-anchor=\"end\">%s"
                           "</text>\n",
                           ox + w, oy + h + 26, seconds ? "s from onset" : "sample");
        if (band) {
            vbt_textbuf_printf(b, "<path fill=\"#9ecae1\" fill-opacity=\"0.6\" d=\"");
            for (size_t t = 0; t < T; t++)
                vbt_textbuf_printf(b, "%s%.1f %.1f", t ? " L" : "M", PX(tx[t]),
                                   PY(in->pred[2 * T * S + t * S + s]));
            for (size_t t = T; t-- > 0;)
                vbt_textbuf_printf(b, " L%.1f %.1f", PX(tx[t]), PY(in->pred[t * S + s]));
            vbt_textbuf_printf(b, " Z\"/>\n");
        }
        /* the prediction at the mode (map), one path per finite stretch */
        int pen = 0;
        if (line) {
            vbt_textbuf_printf(b, "<path fill=\"none\" stroke=\"#3182bd\" stroke-width=\"1.2\" "
                                  "d=\"");
            for (size_t t = 0; t < T; t++) {
                double y = in->pred[T * S + t * S + s];
                if (!isfinite(y)) {
                    pen = 0;
                    continue;
                }
                vbt_textbuf_printf(b, "%s%.1f %.1f", pen ? " L" : " M", PX(tx[t]), PY(y));
                pen = 1;
            }
            vbt_textbuf_printf(b, "\"/>\n");
            pen = 0;
        }
        /* the observation: one path per finite stretch */
        vbt_textbuf_printf(b, "<path fill=\"none\" stroke=\"#000\" stroke-width=\"1\" d=\"");
        for (size_t t = 0; t < T; t++) {
            double y = in->feature[t * S + s];
            if (!isfinite(y)) {
                pen = 0;
                continue;
            }
            vbt_textbuf_printf(b, "%s%.1f %.1f", pen ? " L" : " M", PX(tx[t]), PY(y));
            pen = 1;
        }
        vbt_textbuf_printf(b, "\"/>\n");
        /* onset and offset marks */
        const double marks[2] = {seconds ? 0.0 : NAN, off};
        const char *names[2] = {"onset", "offset"};
        for (int m = 0; m < 2; m++)
            if (isfinite(marks[m]) && marks[m] >= ta && marks[m] <= tb)
                vbt_textbuf_printf(b,
                                   "<line class=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" "
                                   "y2=\"%.0f\" stroke=\"#c0392b\" stroke-dasharray=\"4,3\"/>"
                                   "<text x=\"%.1f\" y=\"%.0f\" font-size=\"9\" fill=\"#c0392b\">%s"
                                   "</text>\n",
                                   names[m], PX(marks[m]), PX(marks[m]), oy, oy + h,
                                   PX(marks[m]) + 2, oy + 9, names[m]);
        vbt_textbuf_printf(b, "</g>\n");
#undef PX
#undef PY
    }
    vbt_textbuf_printf(b, "</svg>\n");
    free(tx);
    return show;
}
