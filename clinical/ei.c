/* ei.c -- the Epileptogenicity Index (Bartolomei, Chauvel & Wendling 2008,
 * Brain 131:1818): energy ratio from sliding-window spectra (FFTW),
 * Page-Hinkley change detection, EI. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "internal.h"
#include "vbt_seeg.h"

/* FFTW's planner is not thread-safe; plans are made under this lock. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

VBT_HIDDEN int vbt__montage_window(vbt_montage *m, double t0_s, double t1_s, int64_t *first,
                                   size_t *n, vbt_msg *msg);

void vbt_ei_opts_default(vbt_ei_opts *o)
{
    *o = (vbt_ei_opts){.win_s = 1.0, .step_s = 0.25, .taper = VBT_TAPER_HANN, .nfft = 0,
                       .bands = {3.5, 7.4, 12.4, 24.0, 97.0}, .bias = 0.1, .threshold = 1.0,
                       .tau_s = 1.0, .horizon_s = 5.0};
}

int vbt_taper_parse(const char *name, vbt_taper *taper)
{
    if (name && strcmp(name, "hann") == 0)
        *taper = VBT_TAPER_HANN;
    else if (name && strcmp(name, "hamming") == 0)
        *taper = VBT_TAPER_HAMMING;
    else if (name && (strcmp(name, "rect") == 0 || strcmp(name, "none") == 0))
        *taper = VBT_TAPER_RECT;
    else
        return VBT_EINVAL;
    return VBT_OK;
}

/* Window and step in samples; 0 when the options are unusable. */
static void win_step(double fs, const vbt_ei_opts *o, size_t *w, size_t *s)
{
    double a = floor(o->win_s * fs + 0.5), b = floor(o->step_s * fs + 0.5);
    *w = a >= 4 && a < 1e9 ? (size_t)a : 0;
    *s = b >= 1 && b < 1e9 ? (size_t)b : 0;
}

size_t vbt_ei_n_windows(size_t n, double fs_hz, const vbt_ei_opts *o)
{
    size_t w, s;
    win_step(fs_hz, o, &w, &s);
    if (!w || !s || n < w)
        return 0;
    return 1 + (n - w) / s;
}

/* A planned spectrum: taper, FFT buffers, band bin ranges. */
typedef struct er_plan {
    size_t win, step, nfft;
    double *taper, *in;
    fftw_complex *out;
    fftw_plan plan;
    size_t lo[4], hi[4];     /* bins [lo, hi) of theta, alpha, beta, gamma */
} er_plan;

static void er_plan_free(er_plan *p)
{
    if (p->plan) {
        pthread_mutex_lock(&plan_lock);
        fftw_destroy_plan(p->plan);
        pthread_mutex_unlock(&plan_lock);
    }
    fftw_free(p->in);
    fftw_free(p->out);
    free(p->taper);
    memset(p, 0, sizeof *p);
}

static int er_plan_init(er_plan *p, double fs, const vbt_ei_opts *o, vbt_msg *msg)
{
    memset(p, 0, sizeof *p);
    win_step(fs, o, &p->win, &p->step);
    if (!p->win || !p->step)
        return vbt__fail(msg, VBT_EINVAL,
                         "EI: window %g s and step %g s give %g and %g samples at %g Hz (need "
                         "a window of at least 4 samples and a step of at least 1)",
                         o->win_s, o->step_s, o->win_s * fs, o->step_s * fs, fs);
    p->nfft = o->nfft ? o->nfft : p->win;
    if (p->nfft < p->win || p->nfft > (1u << 24))
        return vbt__fail(msg, VBT_EINVAL, "EI: FFT length %zu is shorter than the window (%zu "
                                          "samples) or too long", p->nfft, p->win);
    for (int b = 0; b < 4; b++)
        if (!(o->bands[b] >= 0) || !(o->bands[b + 1] > o->bands[b]))
            return vbt__fail(msg, VBT_EINVAL, "EI: band edges must increase from >= 0 "
                                              "(%g, %g, %g, %g, %g)", o->bands[0], o->bands[1],
                             o->bands[2], o->bands[3], o->bands[4]);
    if (o->bands[2] >= fs / 2)
        return vbt__fail(msg, VBT_EINVAL, "EI: the beta band starts at %g Hz, above the "
                                          "Nyquist frequency %g Hz", o->bands[2], fs / 2);
    size_t nb = p->nfft / 2 + 1;
    for (int b = 0; b < 4; b++) {
        double lo = o->bands[b], hi = o->bands[b + 1];
        /* bins with frequency k fs / nfft in [lo, hi), hi clipped to Nyquist (included) */
        size_t kl = (size_t)ceil(lo * (double)p->nfft / fs - 1e-9);
        size_t kh = hi >= fs / 2 ? nb : (size_t)ceil(hi * (double)p->nfft / fs - 1e-9);
        p->lo[b] = kl < nb ? kl : nb;
        p->hi[b] = kh < nb ? kh : nb;
    }
    p->taper = malloc(p->win * sizeof *p->taper);
    p->in = fftw_malloc(p->nfft * sizeof *p->in);
    p->out = fftw_malloc(nb * sizeof *p->out);
    if (!p->taper || !p->in || !p->out) {
        er_plan_free(p);
        return vbt__fail(msg, VBT_ENOMEM, "EI: out of memory");
    }
    for (size_t i = 0; i < p->win; i++) {
        double ph = 2.0 * M_PI * (double)i / (double)(p->win - 1);
        p->taper[i] = o->taper == VBT_TAPER_HANN      ? 0.5 - 0.5 * cos(ph)
                      : o->taper == VBT_TAPER_HAMMING ? 0.54 - 0.46 * cos(ph)
                                                      : 1.0;
    }
    memset(p->in, 0, p->nfft * sizeof *p->in);
    pthread_mutex_lock(&plan_lock);
    p->plan = fftw_plan_dft_r2c_1d((int)p->nfft, p->in, p->out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    if (!p->plan) {
        er_plan_free(p);
        return vbt__fail(msg, VBT_ENOMEM, "EI: FFTW could not plan a length-%zu FFT", p->nfft);
    }
    return VBT_OK;
}

static size_t er_series(const er_plan *p, const double *x, size_t n, double *er)
{
    if (n < p->win)
        return 0;
    size_t nw = 1 + (n - p->win) / p->step;
    for (size_t w = 0; w < nw; w++) {
        const double *s = x + w * p->step;
        double mean = 0.0;
        for (size_t i = 0; i < p->win; i++)
            mean += s[i];
        mean /= (double)p->win;
        for (size_t i = 0; i < p->win; i++)
            p->in[i] = (s[i] - mean) * p->taper[i];
        fftw_execute_dft_r2c(p->plan, p->in, p->out);
        double e[4];
        for (int b = 0; b < 4; b++) {
            double acc = 0.0;
            for (size_t k = p->lo[b]; k < p->hi[b]; k++)
                acc += p->out[k][0] * p->out[k][0] + p->out[k][1] * p->out[k][1];
            e[b] = acc;
        }
        double num = e[2] + e[3], den = e[0] + e[1];
        er[w] = den > 0 ? num / den : 0.0;
    }
    return nw;
}

int vbt_ei_energy_ratio(const double *x, size_t n, double fs_hz, const vbt_ei_opts *o,
                        double *er, vbt_msg *msg)
{
    er_plan p;
    int rc = er_plan_init(&p, fs_hz, o, msg);
    if (rc)
        return rc;
    er_series(&p, x, n, er);
    er_plan_free(&p);
    return VBT_OK;
}

int vbt_page_hinkley(const double *er, size_t n, double bias, double threshold,
                     size_t *detect, size_t *alarm)
{
    double sum = 0.0, U = 0.0, umin = 0.0;
    size_t imin = 0;
    for (size_t k = 0; k < n; k++) {
        sum += er[k];
        U += er[k] - sum / (double)(k + 1) - bias;
        if (k == 0 || U < umin) {
            umin = U;
            imin = k;
        }
        if (U - umin > threshold) {
            *detect = imin;
            *alarm = k;
            return 1;
        }
    }
    return 0;
}

void vbt_ei_clear(vbt_ei_result *r)
{
    if (!r)
        return;
    free(r->er);
    free(r->time_s);
    free(r->ei);
    free(r->detect_s);
    free(r->alarm_s);
    free(r->er_peak);
    free(r->er_peak_s);
    free(r->rank);
    memset(r, 0, sizeof *r);
}

/* Rank order: larger EI first, then earlier detection, then montage order. */
static int rank_cmp(const vbt_ei_result *r, size_t a, size_t b)
{
    if (r->ei[a] != r->ei[b])
        return r->ei[a] > r->ei[b] ? -1 : 1;
    double da = isnan(r->detect_s[a]) ? INFINITY : r->detect_s[a];
    double db = isnan(r->detect_s[b]) ? INFINITY : r->detect_s[b];
    if (da != db)
        return da < db ? -1 : 1;
    return a < b ? -1 : a > b;
}

int vbt_ei_compute(vbt_montage *m, double t0_s, double t1_s, const vbt_ei_opts *o,
                   vbt_ei_result *r, vbt_msg *msg)
{
    int64_t first;
    size_t n;
    er_plan p;
    double *x = NULL, *er = NULL;
    int rc;

    memset(r, 0, sizeof *r);
    if (!(o->tau_s > 0) || !(o->horizon_s >= 0) || !(o->threshold > 0) || !(o->bias >= 0))
        return vbt__fail(msg, VBT_EINVAL, "EI: need tau > 0, H >= 0, threshold > 0, bias >= 0");
    if ((rc = vbt__montage_window(m, t0_s, t1_s, &first, &n, msg)))
        return rc;
    const double fs = vbt_montage_fs(m);
    if ((rc = er_plan_init(&p, fs, o, msg)))
        return rc;
    const size_t nc = vbt_montage_n(m), nw = n >= p.win ? 1 + (n - p.win) / p.step : 0;
    if (nw == 0) {
        er_plan_free(&p);
        return vbt__fail(msg, VBT_ERANGE, "EI: the window (%zu samples) is shorter than one "
                                          "spectral window (%zu)", n, p.win);
    }
    r->n_chan = nc;
    r->n_win = nw;
    r->er = malloc(nw * nc * sizeof *r->er);
    r->time_s = malloc(nw * sizeof *r->time_s);
    r->ei = calloc(nc, sizeof *r->ei);
    r->detect_s = malloc(nc * sizeof *r->detect_s);
    r->alarm_s = malloc(nc * sizeof *r->alarm_s);
    r->er_peak = malloc(nc * sizeof *r->er_peak);
    r->er_peak_s = malloc(nc * sizeof *r->er_peak_s);
    r->rank = malloc(nc * sizeof *r->rank);
    x = malloc(n * sizeof *x);
    er = malloc(nw * sizeof *er);
    if (!r->er || !r->time_s || !r->ei || !r->detect_s || !r->alarm_s || !r->er_peak ||
        !r->er_peak_s || !r->rank || !x || !er) {
        rc = vbt__fail(msg, VBT_ENOMEM, "EI: out of memory (%zu samples, %zu windows)", n, nw);
        goto fail;
    }
    for (size_t w = 0; w < nw; w++)
        r->time_s[w] = ((double)first + (double)(w * p.step) + (double)p.win / 2.0) / fs;
    const size_t h = (size_t)floor(o->horizon_s / o->step_s + 0.5);
    size_t *det = (size_t *)r->rank; /* detection windows, until ranking */
    r->n0_s = NAN;
    for (size_t c = 0; c < nc; c++) {
        if ((rc = vbt_montage_read(m, c, first, n, x, msg)))
            goto fail;
        er_series(&p, x, n, er);
        size_t pk = 0;
        for (size_t w = 0; w < nw; w++) {
            if (!isfinite(er[w])) {
                rc = vbt__fail(msg, VBT_ENUMERIC, "EI: channel '%s': energy ratio not finite",
                               vbt_montage_label(m, c));
                goto fail;
            }
            r->er[w * nc + c] = er[w];
            if (er[w] > er[pk])
                pk = w;
        }
        r->er_peak[c] = er[pk];
        r->er_peak_s[c] = r->time_s[pk];
        size_t d, a;
        if (vbt_page_hinkley(er, nw, o->bias, o->threshold, &d, &a)) {
            det[c] = d;
            r->detect_s[c] = r->time_s[d];
            r->alarm_s[c] = r->time_s[a];
            if (isnan(r->n0_s) || r->detect_s[c] < r->n0_s)
                r->n0_s = r->detect_s[c];
        } else {
            det[c] = (size_t)-1;
            r->detect_s[c] = r->alarm_s[c] = NAN;
        }
    }
    double emax = 0.0;
    for (size_t c = 0; c < nc; c++) {
        if (det[c] == (size_t)-1)
            continue;
        size_t end = det[c] + h < nw - 1 ? det[c] + h : nw - 1;
        double s = 0.0;
        for (size_t w = det[c]; w <= end; w++)
            s += r->er[w * nc + c];
        r->ei[c] = s / (r->detect_s[c] - r->n0_s + o->tau_s);
        if (r->ei[c] > emax)
            emax = r->ei[c];
    }
    for (size_t c = 0; c < nc; c++) {
        r->ei[c] = emax > 0 ? r->ei[c] / emax : 0.0;
        r->rank[c] = c;
    }
    /* insertion sort: channel counts are small and this keeps no global state */
    for (size_t i = 1; i < nc; i++) {
        size_t v = r->rank[i], j = i;
        for (; j > 0 && rank_cmp(r, v, r->rank[j - 1]) < 0; j--)
            r->rank[j] = r->rank[j - 1];
        r->rank[j] = v;
    }
    free(x);
    free(er);
    er_plan_free(&p);
    return VBT_OK;
fail:
    free(x);
    free(er);
    er_plan_free(&p);
    vbt_ei_clear(r);
    return rc;
}
