/* plot.c -- stacked traces and bar charts drawn with cairo into PNG, SVG or
 * PDF, written atomically (temporary file, then rename). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>

#include "internal.h"
#include "vbt_seeg.h"

VBT_HIDDEN int vbt__montage_window(vbt_montage *m, double t0_s, double t1_s, int64_t *first,
                                   size_t *n, vbt_msg *msg);

typedef enum { FMT_PNG, FMT_SVG, FMT_PDF } img_format;

static int format_of(const char *path, img_format *f, vbt_msg *msg)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".png") == 0)
        *f = FMT_PNG;
    else if (dot && strcasecmp(dot, ".svg") == 0)
        *f = FMT_SVG;
    else if (dot && strcasecmp(dot, ".pdf") == 0)
        *f = FMT_PDF;
    else
        return vbt__fail(msg, VBT_EINVAL, "'%s': picture name must end in .png, .svg or .pdf",
                         path);
    return VBT_OK;
}

static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                        : CAIRO_STATUS_WRITE_ERROR;
}

/* A drawing surface writing into an atomic temporary file. */
typedef struct canvas {
    img_format fmt;
    FILE *f;
    char *tmp;
    cairo_surface_t *s;
    cairo_t *cr;
} canvas;

static int canvas_open(canvas *cv, const char *path, double w, double h, int overwrite,
                       vbt_msg *msg)
{
    memset(cv, 0, sizeof *cv);
    int rc = format_of(path, &cv->fmt, msg);
    if (rc || (rc = vbt__atomic_open(path, overwrite, &cv->f, &cv->tmp, msg)))
        return rc;
    if (cv->fmt == FMT_PNG)
        cv->s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
    else if (cv->fmt == FMT_SVG)
        cv->s = cairo_svg_surface_create_for_stream(write_stream, cv->f, w, h);
    else
        cv->s = cairo_pdf_surface_create_for_stream(write_stream, cv->f, w, h);
    cv->cr = cairo_create(cv->s);
    if (cairo_status(cv->cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cv->cr);
        cairo_surface_destroy(cv->s);
        vbt__atomic_discard(cv->f, cv->tmp);
        return vbt__fail(msg, VBT_ENOMEM, "'%s': cannot create a %.0fx%.0f drawing", path, w, h);
    }
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    cairo_select_font_face(cv->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           CAIRO_FONT_WEIGHT_NORMAL);
    return VBT_OK;
}

static int canvas_close(canvas *cv, const char *path, int overwrite, vbt_msg *msg)
{
    cairo_destroy(cv->cr);
    cairo_status_t st = CAIRO_STATUS_SUCCESS;
    if (cv->fmt == FMT_PNG)
        st = cairo_surface_write_to_png_stream(cv->s, write_stream, cv->f);
    cairo_surface_finish(cv->s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(cv->s);
    cairo_surface_destroy(cv->s);
    if (st != CAIRO_STATUS_SUCCESS) {
        vbt__atomic_discard(cv->f, cv->tmp);
        return vbt__fail(msg, VBT_EIO, "'%s': %s", path, cairo_status_to_string(st));
    }
    return vbt__atomic_commit(path, cv->f, cv->tmp, overwrite, msg);
}

static void text_at(cairo_t *cr, double x, double y, double size, int align_right,
                    const char *s)
{
    cairo_text_extents_t e;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, align_right ? x - e.x_advance : x, y + e.height / 2);
    cairo_show_text(cr, s);
}

int vbt_seeg_plot_traces(const char *path, vbt_montage *m, const size_t *chans, size_t n,
                         double t0_s, double t1_s, double mark_s, int overwrite, vbt_msg *msg)
{
    int64_t first;
    size_t ns;
    int rc;
    img_format fmt;
    if ((rc = format_of(path, &fmt, msg)) ||
        (rc = vbt__montage_window(m, t0_s, t1_s, &first, &ns, msg)))
        return rc;
    if (!chans)
        n = vbt_montage_n(m);
    if (n == 0)
        return vbt__fail(msg, VBT_EINVAL, "plot: no channel to draw");
    for (size_t i = 0; chans && i < n; i++)
        if (chans[i] >= vbt_montage_n(m))
            return vbt__fail(msg, VBT_ERANGE, "plot: channel %zu out of range", chans[i]);
    const double fs = vbt_montage_fs(m);
    const double W = 1200, left = 110, right = 20, top = 40, bottom = 40;
    double lane = n > 64 ? 14 : 28;
    const double H = top + bottom + lane * (double)n;
    const double pw = W - left - right;
    double *x = malloc(ns * sizeof *x);
    if (!x)
        return vbt__fail(msg, VBT_ENOMEM, "plot: out of memory");
    canvas cv;
    if ((rc = canvas_open(&cv, path, W, H, overwrite, msg))) {
        free(x);
        return rc;
    }
    cairo_t *cr = cv.cr;
    double ta = (double)first / fs, tb = (double)(first + (int64_t)ns) / fs;
    /* time grid */
    double span = tb - ta, tick = pow(10, floor(log10(span / 5)));
    if (span / tick > 20)
        tick *= 5;
    else if (span / tick > 10)
        tick *= 2;
    cairo_set_line_width(cr, 0.5);
    for (double t = ceil(ta / tick) * tick; t <= tb; t += tick) {
        double px = left + (t - ta) / span * pw;
        cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
        cairo_move_to(cr, px, top);
        cairo_line_to(cr, px, H - bottom);
        cairo_stroke(cr);
        char lab[32];
        snprintf(lab, sizeof lab, "%g", t);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, px - 8, H - bottom + 14, 11, 0, lab);
    }
    text_at(cr, left + pw / 2 - 30, H - 10, 12, 0, "time (s)");
    cairo_set_line_width(cr, 0.8);
    for (size_t i = 0; i < n; i++) {
        size_t k = chans ? chans[i] : i;
        if ((rc = vbt_montage_read(m, k, first, ns, x, msg))) {
            cairo_destroy(cv.cr);
            cairo_surface_destroy(cv.s);
            vbt__atomic_discard(cv.f, cv.tmp);
            free(x);
            return rc;
        }
        double mean = 0, var = 0;
        for (size_t j = 0; j < ns; j++)
            mean += x[j];
        mean /= (double)ns;
        for (size_t j = 0; j < ns; j++)
            var += (x[j] - mean) * (x[j] - mean);
        double sd = sqrt(var / (double)ns);
        double scale = sd > 0 ? lane / 2 / (3 * sd) : 0;
        double yc = top + lane * ((double)i + 0.5);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, left - 8, yc, lane > 20 ? 11 : 8, 1, vbt_montage_label(m, k));
        cairo_set_source_rgb(cr, 0.1, 0.2, 0.5);
        /* one min-max segment per pixel column */
        size_t cols = (size_t)pw;
        for (size_t col = 0; col < cols; col++) {
            size_t a = col * ns / cols, b = (col + 1) * ns / cols;
            if (b <= a)
                b = a + 1;
            if (b > ns)
                b = ns;
            double lo = x[a], hi = x[a];
            for (size_t j = a; j < b; j++) {
                lo = x[j] < lo ? x[j] : lo;
                hi = x[j] > hi ? x[j] : hi;
            }
            double ylo = yc - (lo - mean) * scale, yhi = yc - (hi - mean) * scale;
            double clip = lane / 2;
            ylo = fmin(fmax(ylo, yc - clip), yc + clip);
            yhi = fmin(fmax(yhi, yc - clip), yc + clip);
            if (col == 0)
                cairo_move_to(cr, left, ylo);
            cairo_line_to(cr, left + (double)col, ylo);
            cairo_line_to(cr, left + (double)col + 0.5, yhi);
        }
        cairo_stroke(cr);
    }
    if (isfinite(mark_s) && mark_s >= ta && mark_s <= tb) {
        double px = left + (mark_s - ta) / span * pw;
        cairo_set_source_rgb(cr, 0.85, 0.1, 0.1);
        cairo_set_line_width(cr, 1.5);
        cairo_move_to(cr, px, top - 5);
        cairo_line_to(cr, px, H - bottom);
        cairo_stroke(cr);
        text_at(cr, px + 4, top - 12, 11, 0, "onset");
    }
    free(x);
    return canvas_close(&cv, path, overwrite, msg);
}

int vbt_seeg_plot_bars(const char *path, const char *title, const char *const *labels,
                       const double *values, size_t n, int overwrite, vbt_msg *msg)
{
    if (n == 0)
        return vbt__fail(msg, VBT_EINVAL, "plot: no bar to draw");
    double vmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i]))
            return vbt__fail(msg, VBT_ENUMERIC, "plot: value %zu is not finite", i);
        vmax = fmax(vmax, values[i]);
    }
    const double bar = n > 60 ? 12 : 22, W = 800, left = 160, right = 70, top = 50;
    const double H = top + 30 + bar * (double)n, pw = W - left - right;
    canvas cv;
    int rc = canvas_open(&cv, path, W, H, overwrite, msg);
    if (rc)
        return rc;
    cairo_t *cr = cv.cr;
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, left, 20, 14, 0, title ? title : "");
    for (size_t i = 0; i < n; i++) {
        double y = top + bar * (double)i;
        double w = vmax > 0 ? fmax(values[i], 0) / vmax * pw : 0;
        cairo_set_source_rgb(cr, 0.8, 0.2, 0.15);
        cairo_rectangle(cr, left, y + 2, w, bar - 4);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, left - 6, y + bar / 2, bar > 15 ? 11 : 8, 1, labels[i] ? labels[i] : "");
        char v[32];
        snprintf(v, sizeof v, "%.3f", values[i]);
        text_at(cr, left + w + 4, y + bar / 2, bar > 15 ? 10 : 7, 0, v);
    }
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, left, top);
    cairo_line_to(cr, left, top + bar * (double)n);
    cairo_stroke(cr);
    return canvas_close(&cv, path, overwrite, msg);
}

void vbt_seeg_plot_release(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}
