/* dsp.c -- Butterworth filters from the bilinear transform, zero-phase
 * filtering, and the log-power envelope feature (VEP pipelines). */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_seeg.h"

int vbt_butter(int order, double fc_hz, double fs_hz, int highpass, double sos[][6],
               size_t *n_sections, vbt_msg *msg)
{
    if (order < 1 || order > VBT_BUTTER_MAX_ORDER)
        return vbt__fail(msg, VBT_EINVAL, "Butterworth order %d (1 to %d)", order,
                         VBT_BUTTER_MAX_ORDER);
    if (!(fs_hz > 0) || !(fc_hz > 0) || !(fc_hz < fs_hz / 2))
        return vbt__fail(msg, VBT_EINVAL,
                         "Butterworth cut-off %g Hz must lie strictly between 0 and half the "
                         "sampling rate (%g Hz)", fc_hz, fs_hz / 2);
    const double K = 2.0 * fs_hz;
    const double wc = K * tan(M_PI * fc_hz / fs_hz);   /* pre-warped analog cut-off */
    size_t ns = 0;
    for (int k = 0; k < (order + 1) / 2; k++) {
        /* analog prototype pole in the upper half plane (or -1 for odd orders) */
        double complex p = cexp(I * M_PI * (2.0 * k + order + 1) / (2.0 * order));
        double complex s = highpass ? wc / p : wc * p;
        double complex z = (K + s) / (K - s);
        double *c = sos[ns++];
        int real = 2 * k + 1 == order;
        if (real) {
            c[0] = 1;
            c[1] = highpass ? -1 : 1;
            c[2] = 0;
            c[3] = 1;
            c[4] = -creal(z);
            c[5] = 0;
        } else {
            c[0] = 1;
            c[1] = highpass ? -2 : 2;
            c[2] = 1;
            c[3] = 1;
            c[4] = -2.0 * creal(z);
            c[5] = creal(z) * creal(z) + cimag(z) * cimag(z);
        }
        /* unit gain at DC (low-pass) or Nyquist (high-pass) */
        double sg = highpass ? -1.0 : 1.0;
        double g = (c[0] + sg * c[1] + c[2]) / (c[3] + sg * c[4] + c[5]);
        c[0] /= g;
        c[1] /= g;
        c[2] /= g;
    }
    *n_sections = ns;
    return VBT_OK;
}

double vbt_sos_gain(const double sos[][6], size_t n_sections, double f_hz, double fs_hz)
{
    double complex z = cexp(-I * 2.0 * M_PI * f_hz / fs_hz); /* z^-1 */
    double g = 1.0;
    for (size_t k = 0; k < n_sections; k++) {
        const double *c = sos[k];
        g *= cabs((c[0] + c[1] * z + c[2] * z * z) / (c[3] + c[4] * z + c[5] * z * z));
    }
    return g;
}

/* Transposed direct form II through every section, state zi[k][2] scaled
 * by x0 (steady state of a constant input x0).  The sections run inside the
 * sample loop so that section k+1 at sample i overlaps section k at sample
 * i+1 in the CPU (the recurrence of one section is latency-bound). */
static void sosfilt(const double sos[][6], size_t ns, const double zi[][2], double x0,
                    double *x, size_t n)
{
    double z1[VBT_BUTTER_MAX_ORDER], z2[VBT_BUTTER_MAX_ORDER];
    for (size_t k = 0; k < ns; k++) {
        z1[k] = zi[k][0] * x0;
        z2[k] = zi[k][1] * x0;
    }
    if (ns == 2) { /* the default order 3 (and 4): registers only */
        const double b00 = sos[0][0], b01 = sos[0][1], b02 = sos[0][2], a01 = sos[0][4],
                     a02 = sos[0][5], b10 = sos[1][0], b11 = sos[1][1], b12 = sos[1][2],
                     a11 = sos[1][4], a12 = sos[1][5];
        double p1 = z1[0], p2 = z2[0], q1 = z1[1], q2 = z2[1];
        for (size_t i = 0; i < n; i++) {
            double xi = x[i];
            double y = b00 * xi + p1;
            p1 = b01 * xi - a01 * y + p2;
            p2 = b02 * xi - a02 * y;
            double v = b10 * y + q1;
            q1 = b11 * y - a11 * v + q2;
            q2 = b12 * y - a12 * v;
            x[i] = v;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double y = x[i];
        for (size_t k = 0; k < ns; k++) {
            const double *c = sos[k];
            double xi = y;
            y = c[0] * xi + z1[k];
            z1[k] = c[1] * xi - c[4] * y + z2[k];
            z2[k] = c[2] * xi - c[5] * y;
        }
        x[i] = y;
    }
}

int vbt_sosfiltfilt(const double sos[][6], size_t ns, double *x, size_t n, vbt_msg *msg)
{
    if (n < 2)
        return vbt__fail(msg, VBT_EINVAL, "filtfilt: %zu samples (need at least 2)", n);
    if (ns == 0 || ns > VBT_BUTTER_MAX_ORDER)
        return vbt__fail(msg, VBT_EINVAL, "filtfilt: %zu sections", ns);
    size_t zb = 0, za = 0;
    for (size_t k = 0; k < ns; k++) {
        zb += sos[k][2] == 0.0;
        za += sos[k][5] == 0.0;
    }
    size_t pad = 3 * (2 * ns + 1 - (zb < za ? zb : za));
    if (pad > n - 1)
        pad = n - 1;
    /* steady-state initial conditions, each section scaled by the DC gain
     * of the sections before it (scipy.signal.sosfilt_zi) */
    double zi[VBT_BUTTER_MAX_ORDER][2], scale = 1.0;
    for (size_t k = 0; k < ns; k++) {
        const double *c = sos[k];
        double h = (c[0] + c[1] + c[2]) / (c[3] + c[4] + c[5]);
        double z2 = c[2] - c[5] * h;
        double z1 = c[1] - c[4] * h + z2;
        zi[k][0] = scale * z1;
        zi[k][1] = scale * z2;
        scale *= h;
    }
    size_t m = n + 2 * pad;
    double *e = malloc(m * sizeof *e);
    if (!e)
        return vbt__fail(msg, VBT_ENOMEM, "filtfilt: out of memory (%zu samples)", n);
    for (size_t i = 0; i < pad; i++) {
        e[pad - 1 - i] = 2.0 * x[0] - x[i + 1];
        e[pad + n + i] = 2.0 * x[n - 1] - x[n - 2 - i];
    }
    memcpy(e + pad, x, n * sizeof *x);
    sosfilt(sos, ns, (const double(*)[2])zi, e[0], e, m);
    for (size_t i = 0; i < m / 2; i++) {
        double t = e[i];
        e[i] = e[m - 1 - i];
        e[m - 1 - i] = t;
    }
    sosfilt(sos, ns, (const double(*)[2])zi, e[0], e, m);
    for (size_t i = 0; i < n; i++)
        x[i] = e[m - 1 - pad - i];
    free(e);
    return VBT_OK;
}

/* ---- the envelope feature -------------------------------------------------------------- */

void vbt_features_opts_default(vbt_features_opts *o)
{
    *o = (vbt_features_opts){.pre_s = 1.0, .post_s = 1.0, .hp_hz = 10.0, .hp_order = 3,
                             .ma_samples = 100, .lp_hz = 1.0, .lp_order = 3, .n_points = 300,
                             .top_k = 0};
}

int vbt_seeg_envelope(double *x, size_t n, double fs_hz, const vbt_features_opts *o,
                      vbt_msg *msg)
{
    double sos[VBT_BUTTER_MAX_ORDER][6];
    size_t ns;
    int rc;
    if (n < 2)
        return vbt__fail(msg, VBT_EINVAL, "envelope: %zu samples (need at least 2)", n);
    if (o->ma_samples < 1)
        return vbt__fail(msg, VBT_EINVAL, "envelope: moving average of 0 samples");
    if (o->hp_hz > 0) {
        if ((rc = vbt_butter(o->hp_order, o->hp_hz, fs_hz, 1, sos, &ns, msg)) ||
            (rc = vbt_sosfiltfilt((const double(*)[6])sos, ns, x, n, msg)))
            return rc;
    }
    /* centred moving average of x^2 from a running sum, window shrunk at the edges */
    double *c = malloc((n + 1) * sizeof *c);
    if (!c)
        return vbt__fail(msg, VBT_ENOMEM, "envelope: out of memory");
    c[0] = 0.0;
    for (size_t i = 0; i < n; i++)
        c[i + 1] = c[i] + x[i] * x[i];
    size_t L = o->ma_samples, h = L / 2;
    for (size_t i = 0; i < n; i++) {
        size_t lo = i >= h ? i - h : 0;
        size_t hi = i + (L - h);
        if (hi > n)
            hi = n;
        double mean = (c[hi] - c[lo]) / (double)(hi - lo);
        x[i] = log((mean > 0 ? mean : 0.0) + 1.0);
    }
    free(c);
    if (o->lp_hz > 0) {
        if ((rc = vbt_butter(o->lp_order, o->lp_hz, fs_hz, 0, sos, &ns, msg)) ||
            (rc = vbt_sosfiltfilt((const double(*)[6])sos, ns, x, n, msg)))
            return rc;
    }
    return VBT_OK;
}

void vbt_features_clear(vbt_features *f)
{
    if (!f)
        return;
    free(f->data);
    free(f->time_s);
    free(f->channel);
    free(f->power);
    memset(f, 0, sizeof *f);
}

/* Sample range [first, first + n) of the montage covering [t0, t1). */
VBT_HIDDEN int vbt__montage_window(vbt_montage *m, double t0_s, double t1_s, int64_t *first,
                                   size_t *n, vbt_msg *msg);
int vbt__montage_window(vbt_montage *m, double t0_s, double t1_s, int64_t *first, size_t *n,
                        vbt_msg *msg)
{
    double fs = vbt_montage_fs(m);
    double total = (double)vbt_montage_n_samples(m);
    if (isnan(t0_s) || isnan(t1_s))
        return vbt__fail(msg, VBT_EINVAL, "'%s': window bound is NaN",
                         vbt_recording_path(vbt_montage_recording(m)));
    double a = ceil(t0_s * fs - 1e-9), b = ceil(t1_s * fs - 1e-9);
    if (a < 0)
        a = 0;
    if (b > total)
        b = total;
    if (b - a < 2)
        return vbt__fail(msg, VBT_ERANGE,
                         "'%s': window [%g, %g) s is empty or outside the recording (0 to %g s)",
                         vbt_recording_path(vbt_montage_recording(m)), t0_s, t1_s, total / fs);
    *first = (int64_t)a;
    *n = (size_t)(b - a);
    return VBT_OK;
}

int vbt_features_compute(vbt_montage *m, double t0_s, double t1_s, const vbt_features_opts *o,
                         vbt_features *out, vbt_msg *msg)
{
    int64_t first;
    size_t n;
    int rc;
    double *x = NULL;
    memset(out, 0, sizeof *out);
    if (o->n_points < 2)
        return vbt__fail(msg, VBT_EINVAL, "features: %zu output points (need at least 2)",
                         o->n_points);
    if ((rc = vbt__montage_window(m, t0_s, t1_s, &first, &n, msg)))
        return rc;
    const double fs = vbt_montage_fs(m);
    const size_t nc = vbt_montage_n(m), P = o->n_points;
    out->n_time = P;
    out->n_chan = nc;
    out->data = malloc(P * nc * sizeof *out->data);
    out->time_s = malloc(P * sizeof *out->time_s);
    out->channel = malloc(nc * sizeof *out->channel);
    out->power = malloc(nc * sizeof *out->power);
    x = malloc(n * sizeof *x);
    if (!out->data || !out->time_s || !out->channel || !out->power || !x) {
        rc = vbt__fail(msg, VBT_ENOMEM, "features: out of memory (%zu samples)", n);
        goto fail;
    }
    out->t0_s = (double)first / fs;
    out->t1_s = (double)(first + (int64_t)n) / fs;
    for (size_t j = 0; j < P; j++)
        out->time_s[j] = ((double)first + (double)j * (double)(n - 1) / (double)(P - 1)) / fs;
    for (size_t c = 0; c < nc; c++) {
        if ((rc = vbt_montage_read(m, c, first, n, x, msg)) ||
            (rc = vbt_seeg_envelope(x, n, fs, o, msg)))
            goto fail;
        double pw = 0.0;
        for (size_t j = 0; j < P; j++) {
            double u = (double)j * (double)(n - 1) / (double)(P - 1);
            size_t i = (size_t)u;
            if (i >= n - 1)
                i = n - 2;
            double f = u - (double)i;
            double v = x[i] + f * (x[i + 1] - x[i]);
            if (!isfinite(v)) {
                rc = vbt__fail(msg, VBT_ENUMERIC, "features: channel '%s' is not finite",
                               vbt_montage_label(m, c));
                goto fail;
            }
            out->data[j * nc + c] = v;
            pw += v * v;
        }
        out->power[c] = pw / (double)P;
        out->channel[c] = c;
    }
    free(x);
    x = NULL;
    if (o->top_k > 0 && o->top_k < nc) {
        /* keep the k largest powers, in montage order */
        size_t k = o->top_k;
        char *keep = calloc(nc, 1);
        if (!keep) {
            rc = vbt__fail(msg, VBT_ENOMEM, "features: out of memory");
            goto fail;
        }
        for (size_t r = 0; r < k; r++) {
            size_t best = nc;
            for (size_t c = 0; c < nc; c++)
                if (!keep[c] && (best == nc || out->power[c] > out->power[best]))
                    best = c;
            keep[best] = 1;
        }
        /* compact in place: every destination index precedes its source */
        size_t w = 0;
        for (size_t c = 0; c < nc; c++)
            if (keep[c]) {
                out->power[w] = out->power[c];
                out->channel[w++] = c;
            }
        for (size_t j = 0; j < P; j++)
            for (size_t q = 0; q < k; q++)
                out->data[j * k + q] = out->data[j * nc + out->channel[q]];
        free(keep);
        out->n_chan = k;
    }
    return VBT_OK;
fail:
    free(x);
    vbt_features_clear(out);
    return rc;
}
