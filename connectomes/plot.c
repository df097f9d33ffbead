/* plot.c -- connectome summary numbers and a picture of the weight matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <cairo-svg.h>

#include "cx_internal.h"
#include "vbt_connectome_build.h"

int vbt_connectome_summarize(const vbt_connectome *c, vbt_connectome_summary *s,
                             size_t **isolated, vbt_msg *msg)
{
    if (!c || !s)
        return vbt__fail(msg, VBT_EINVAL, "connectome summary: NULL argument");
    memset(s, 0, sizeof *s);
    if (isolated)
        *isolated = NULL;
    size_t n = c->n;
    s->n = n;
    double fro = 0, diff = 0;
    s->w_min = INFINITY;
    s->l_min = INFINITY;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double w = c->weights[i * n + j], wt = c->weights[j * n + i];
            fro += w * w;
            diff += (w - wt) * (w - wt);
            if (w <= 0)
                continue;
            s->w_min = fmin(s->w_min, w);
            s->w_max = fmax(s->w_max, w);
            if (i == j) {
                s->n_self++;
                continue;
            }
            s->n_edges++;
            s->l_min = fmin(s->l_min, c->lengths[i * n + j]);
            s->l_max = fmax(s->l_max, c->lengths[i * n + j]);
        }
    if (!isfinite(s->w_min))
        s->w_min = 0;
    if (!isfinite(s->l_min))
        s->l_min = 0;
    s->density = n > 1 ? (double)s->n_edges / ((double)n * (double)(n - 1)) : 0;
    s->asymmetry = fro > 0 ? sqrt(diff / fro) : 0;
    size_t *iso = malloc(n * sizeof *iso);
    if (!iso)
        return vbt__fail(msg, VBT_ENOMEM, "connectome summary: out of memory");
    for (size_t i = 0; i < n; i++) {
        int any = 0;
        for (size_t j = 0; j < n && !any; j++)
            any = j != i && (c->weights[i * n + j] > 0 || c->weights[j * n + i] > 0);
        if (!any)
            iso[s->n_isolated++] = i;
    }
    if (isolated && s->n_isolated)
        *isolated = iso;
    else
        free(iso);
    return VBT_OK;
}

/* Viridis, sampled at 9 points and interpolated linearly. */
static void colormap(double t, double rgb[3])
{
    static const double lut[9][3] = {
        {0.267, 0.005, 0.329}, {0.279, 0.175, 0.483}, {0.230, 0.322, 0.546},
        {0.173, 0.449, 0.558}, {0.128, 0.567, 0.551}, {0.153, 0.680, 0.504},
        {0.361, 0.785, 0.388}, {0.667, 0.862, 0.196}, {0.993, 0.906, 0.144}};
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    double x = t * 8;
    int k = (int)x;
    if (k >= 8)
        k = 7;
    double f = x - k;
    for (int d = 0; d < 3; d++)
        rgb[d] = lut[k][d] * (1 - f) + lut[k + 1][d] * f;
}

static cairo_status_t write_fp(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS
                                                : CAIRO_STATUS_WRITE_ERROR;
}

static void draw(cairo_t *cr, const vbt_connectome *c, const char *title, double W, double H)
{
    size_t n = c->n;
    double wmin = INFINITY, wmax = 0;
    for (size_t k = 0; k < n * n; k++)
        if (c->weights[k] > 0) {
            wmin = fmin(wmin, c->weights[k]);
            wmax = fmax(wmax, c->weights[k]);
        }
    int logscale = wmax > 0 && wmax / wmin > 1e3;
    double lo = logscale ? log10(wmin) : 0, hi = logscale ? log10(wmax) : wmax;
    if (!(hi > lo))
        hi = lo + 1;

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    const double top = 60, bottom = 20, right = 120;
    /* Left margin from the widest label at the font size the cells allow. */
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    double fs = fmin(10, fmax((H - top - bottom) / (double)n * 0.9, 4)), left = 40;
    cairo_set_font_size(cr, fs);
    for (size_t i = 0; i < n; i++) {
        cairo_text_extents_t te;
        cairo_text_extents(cr, c->labels[i], &te);
        left = fmax(left, te.x_advance + 12);
    }
    left = fmin(left, W / 3);
    double side = fmin(W - left - right, H - top - bottom);
    double cell = side / (double)n;
    /* Cells. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double w = c->weights[i * n + j], rgb[3] = {1, 1, 1};
            if (w > 0)
                colormap(((logscale ? log10(w) : w) - lo) / (hi - lo), rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, left + (double)j * cell, top + (double)i * cell, cell + 0.02,
                            cell + 0.02);
            cairo_fill(cr);
        }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, left, top, side, side);
    cairo_stroke(cr);
    /* Labels: every region when they fit, else every k-th. */
    size_t step = (size_t)ceil(4.5 / cell) > 1 ? (size_t)ceil(4.5 / cell) : 1;
    cairo_set_font_size(cr, fs);
    for (size_t i = 0; i < n; i += step) {
        cairo_text_extents_t te;
        cairo_text_extents(cr, c->labels[i], &te);
        cairo_move_to(cr, left - 4 - te.x_advance, top + ((double)i + 0.5) * cell + fs * 0.35);
        cairo_show_text(cr, c->labels[i]);
    }
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, left, top - 30);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 10);
    cairo_move_to(cr, left, top - 12);
    char buf[160];
    snprintf(buf, sizeof buf, "%zu regions; rows = targets, columns = sources; %s colour scale",
             n, logscale ? "log10" : "linear");
    cairo_show_text(cr, buf);
    /* Colour bar. */
    double bx = left + side + 30, bw = 18;
    for (int k = 0; k < 200; k++) {
        double rgb[3];
        colormap((double)k / 199.0, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, bx, top + side - (double)(k + 1) * side / 200.0, bw,
                        side / 200.0 + 0.5);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, bx, top, bw, side);
    cairo_stroke(cr);
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4.0, y = top + side - side * k / 4.0;
        snprintf(buf, sizeof buf, "%.3g", logscale ? pow(10.0, v) : v);
        cairo_move_to(cr, bx + bw, y);
        cairo_line_to(cr, bx + bw + 4, y);
        cairo_stroke(cr);
        cairo_move_to(cr, bx + bw + 6, y + 3.5);
        cairo_show_text(cr, buf);
    }
}

int vbt_connectome_plot(const vbt_connectome *c, const char *path, const char *title,
                        int overwrite, vbt_msg *msg)
{
    if (!c || !path)
        return vbt__fail(msg, VBT_EINVAL, "connectome plot: NULL argument");
    int svg = vbt__cx_ends_with(path, ".svg");
    if (!svg && !vbt__cx_ends_with(path, ".png"))
        return vbt__fail(msg, VBT_EINVAL, "'%s': picture must end in .png or .svg", path);
    FILE *fp;
    char *tmp;
    int rc = vbt__atomic_open(path, overwrite, &fp, &tmp, msg);
    if (rc)
        return rc;
    const double W = 1000, H = 900;
    cairo_surface_t *s = svg ? cairo_svg_surface_create_for_stream(write_fp, fp, W, H)
                             : cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)W, (int)H);
    cairo_t *cr = cairo_create(s);
    draw(cr, c, title ? title : "weights", W, H);
    cairo_destroy(cr);
    cairo_status_t st;
    if (svg) {
        cairo_surface_finish(s);
        st = cairo_surface_status(s);
    } else {
        st = cairo_surface_write_to_png_stream(s, write_fp, fp);
    }
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        vbt__atomic_discard(fp, tmp);
        return vbt__fail(msg, VBT_EIO, "'%s': cairo: %s", path, cairo_status_to_string(st));
    }
    return vbt__atomic_commit(path, fp, tmp, overwrite, msg);
}
