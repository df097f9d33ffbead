/* test_seeg.c -- clinical/ processing: Butterworth design against the
 * closed-form magnitude, zero-phase filtering, the log-power envelope on a
 * signal of known envelope, features, the energy ratio, Page-Hinkley, the
 * Epileptogenicity Index on a synthetic seizure, pictures, and the
 * `vbt seeg` command end to end (exit codes, outputs, provenance, privacy). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_recording.h"
#include "vbt_seeg.h"

/* Set when a test skips (after printing why): the program then exits 77,
 * which meson counts as a skipped test, unless another test failed. */
static int g_skipped;

static char *g_tmp;

/* Deterministic uniform noise in [-1, 1) (xorshift64*). */
static double noise(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 4503599627370496.0 - 1.0;
}

/* ---- filters ------------------------------------------------------------------------- */

/* A bilinear Butterworth has |H|^2 = 1 / (1 + (tan(pi f/fs) / tan(pi fc/fs))^(+-2N))
 * exactly; checked to 1e-9 for orders 1..6, both kinds, several frequencies. */
static void test_butter_magnitude(void **state)
{
    (void)state;
    double sos[VBT_BUTTER_MAX_ORDER][6];
    size_t ns;
    const double fs = 512.0;
    for (int hp = 0; hp < 2; hp++)
        for (int order = 1; order <= 6; order++) {
            const double fc = hp ? 10.0 : 1.0;
            assert_int_equal(vbt_butter(order, fc, fs, hp, sos, &ns, NULL), 0);
            assert_int_equal(ns, (size_t)(order + 1) / 2);
            const double f[] = {0.1, 0.5, 1.0, 3.3, 10.0, 27.1, 100.0, 250.0};
            for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
                double r = tan(M_PI * f[k] / fs) / tan(M_PI * fc / fs);
                double want = 1.0 / sqrt(1.0 + pow(hp ? 1.0 / r : r, 2.0 * order));
                assert_close(vbt_sos_gain((const double(*)[6])sos, ns, f[k], fs), want, 1e-9);
            }
            assert_close(vbt_sos_gain((const double(*)[6])sos, ns, fc, fs), M_SQRT1_2, 1e-12);
        }
    vbt_msg msg;
    assert_int_equal(vbt_butter(0, 10, fs, 0, sos, &ns, &msg), VBT_EINVAL);
    assert_int_equal(vbt_butter(13, 10, fs, 0, sos, &ns, &msg), VBT_EINVAL);
    assert_int_equal(vbt_butter(3, 256, fs, 0, sos, &ns, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "half the sampling rate"));
    assert_int_equal(vbt_butter(3, 0, fs, 1, sos, &ns, &msg), VBT_EINVAL);
}

/* Forward-backward filtering has gain |H|^2 and no phase shift: a 2 Hz sine
 * through a 10 Hz low-pass comes back as |H(2)|^2 times itself (1e-3 of
 * the amplitude, away from the edges); a constant passes a low-pass
 * unchanged and a high-pass as zero (steady-state start, 1e-9). */
static void test_filtfilt(void **state)
{
    (void)state;
    const double fs = 256.0;
    const size_t n = 4096;
    double *x = malloc(n * sizeof *x), sos[VBT_BUTTER_MAX_ORDER][6];
    size_t ns;
    assert_int_equal(vbt_butter(3, 10.0, fs, 0, sos, &ns, NULL), 0);
    double g = vbt_sos_gain((const double(*)[6])sos, ns, 2.0, fs);
    for (size_t i = 0; i < n; i++)
        x[i] = 3.7 * sin(2 * M_PI * 2.0 * (double)i / fs + 0.3);
    assert_int_equal(vbt_sosfiltfilt((const double(*)[6])sos, ns, x, n, NULL), 0);
    for (size_t i = 256; i < n - 256; i++)
        assert_close(x[i], g * g * 3.7 * sin(2 * M_PI * 2.0 * (double)i / fs + 0.3), 3.7e-3);
    /* 50 Hz is in the stop band: |H(50)|^2 ~ 1.6e-4 */
    double g50 = vbt_sos_gain((const double(*)[6])sos, ns, 50.0, fs);
    for (size_t i = 0; i < n; i++)
        x[i] = sin(2 * M_PI * 50.0 * (double)i / fs);
    vbt_sosfiltfilt((const double(*)[6])sos, ns, x, n, NULL);
    for (size_t i = 256; i < n - 256; i++)
        assert_true(fabs(x[i]) < g50 * g50 + 1e-3);
    for (size_t i = 0; i < n; i++)
        x[i] = 2.385;
    vbt_sosfiltfilt((const double(*)[6])sos, ns, x, n, NULL);
    for (size_t i = 0; i < n; i++)
        assert_close(x[i], 2.385, 1e-9);
    assert_int_equal(vbt_butter(3, 10.0, fs, 1, sos, &ns, NULL), 0);
    vbt_sosfiltfilt((const double(*)[6])sos, ns, x, n, NULL);
    for (size_t i = 0; i < n; i++)
        assert_close(x[i], 0.0, 1e-9);
    /* short inputs: the padding shrinks to n - 1; one sample is refused */
    double y[3] = {1, 2, 3};
    assert_int_equal(vbt_sosfiltfilt((const double(*)[6])sos, ns, y, 3, NULL), 0);
    vbt_msg msg;
    assert_int_equal(vbt_sosfiltfilt((const double(*)[6])sos, ns, y, 1, &msg), VBT_EINVAL);
    assert_int_equal(vbt_sosfiltfilt((const double(*)[6])sos, 0, y, 3, &msg), VBT_EINVAL);
    free(x);
}

/* ---- the envelope feature ---------------------------------------------------------------- */

/* x = A(t) sin(2 pi 40 t) with A = 20 (1 + 0.5 sin(2 pi 0.05 t)): the high-pass
 * keeps the 40 Hz carrier, the moving average of x^2 gives A^2/2 (its 80 Hz
 * ripple is removed by the 1 Hz low-pass), so the feature is
 * log(1 + A^2/2), to 0.02 (on values of 4.7..6.4) away from the edges. */
static void test_envelope_known(void **state)
{
    (void)state;
    const double fs = 512.0;
    const size_t n = 60 * 512;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / fs, A = 20.0 * (1.0 + 0.5 * sin(2 * M_PI * 0.05 * t));
        x[i] = A * sin(2 * M_PI * 40.0 * t);
    }
    vbt_features_opts o;
    vbt_features_opts_default(&o);
    assert_int_equal(o.n_points, 300);
    assert_int_equal(o.ma_samples, 100);
    assert_int_equal(vbt_seeg_envelope(x, n, fs, &o, NULL), 0);
    double maxerr = 0;
    for (size_t i = 5 * 512; i < n - 5 * 512; i++) {
        double t = (double)i / fs, A = 20.0 * (1.0 + 0.5 * sin(2 * M_PI * 0.05 * t));
        maxerr = fmax(maxerr, fabs(x[i] - log(1.0 + A * A / 2.0)));
    }
    assert_true(maxerr < 0.02);
    vbt_msg msg;
    o.ma_samples = 0;
    assert_int_equal(vbt_seeg_envelope(x, n, fs, &o, &msg), VBT_EINVAL);
    o.ma_samples = 100;
    o.lp_hz = 300;
    assert_int_equal(vbt_seeg_envelope(x, n, fs, &o, &msg), VBT_EINVAL);
    free(x);
}

/* ---- synthetic recordings ------------------------------------------------------------------- */

/* A 512 Hz EDF+ recording of `nch` channels, `seconds` long: background
 * theta/alpha (5 and 9 Hz) plus noise; channel k switches to fast activity
 * (30 + 60 Hz) at switch_s[k] (negative: never); amplitude amp[k]. */
static void write_seizure(const char *path, size_t nch, const char *const *labels,
                          const double *switch_s, const double *amp, size_t seconds,
                          double onset_annot)
{
    const double fs = 512;
    vbt_edf_spec spec = {nch, labels, "uV", fs, -2000, 2000, 0};
    vbt_edf_writer *w;
    vbt_msg msg;
    if (vbt_edf_writer_open(&w, path, &spec, 1, &msg))
        fail_msg("%s", msg.text);
    double *d = malloc(nch * 512 * sizeof *d);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (size_t s = 0; s < seconds; s++) {
        for (size_t c = 0; c < nch; c++)
            for (size_t i = 0; i < 512; i++) {
                double t = (double)s + (double)i / fs, v;
                double ph = 0.7 * (double)c;
                if (switch_s[c] >= 0 && t >= switch_s[c])
                    v = 1.3 * sin(2 * M_PI * 30.0 * t + ph) + 0.9 * sin(2 * M_PI * 60.0 * t);
                else
                    v = sin(2 * M_PI * 5.0 * t + ph) + 0.8 * sin(2 * M_PI * 9.0 * t);
                d[c * 512 + i] = amp[c] * (v + 0.05 * noise(&seed));
            }
        assert_int_equal(vbt_edf_writer_append(w, d, &msg), 0);
    }
    if (onset_annot >= 0)
        assert_int_equal(vbt_edf_writer_annotate(w, onset_annot, -1, "SZ onset", &msg), 0);
    assert_int_equal(vbt_edf_writer_close(w, &msg), 0);
    free(d);
}

static const char *g_sz;     /* B1 at 20 s, C1 at 24 s, A1 and D1 never */
static const char *g_calm;   /* nothing happens */

static void make_recordings(void)
{
    static char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/sz.edf", g_tmp);
    snprintf(b, sizeof b, "%s/calm.edf", g_tmp);
    const char *labels[] = {"A1", "B1", "C1", "D1"};
    const double sw[] = {-1, 20.0, 24.0, -1}, never[] = {-1, -1, -1, -1};
    const double amp[] = {50, 40, 60, 30};
    write_seizure(a, 4, labels, sw, amp, 60, 20.0);
    write_seizure(b, 4, labels, never, amp, 30, -1);
    g_sz = a;
    g_calm = b;
}

/* Features over the default window (onset 20 s from the annotation - 1 s to
 * the end + 1 s, clipped): 300 points, time axis spanning the window, and
 * top-k keeping the channels of largest mean(feature^2), in montage order. */
static void test_features(void **state)
{
    (void)state;
    vbt_recording *rec;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, g_sz, &msg), 0);
    double on;
    assert_int_equal(vbt_recording_seizure(rec, &on, NULL), 0);
    assert_close(on, 20.0, 1e-9);
    vbt_montage *m;
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    vbt_features_opts o;
    vbt_features_opts_default(&o);
    vbt_features f;
    assert_int_equal(vbt_features_compute(m, on - 1, 61, &o, &f, &msg), 0);
    assert_int_equal(f.n_time, 300);
    assert_int_equal(f.n_chan, 4);
    assert_close(f.time_s[0], 19.0, 1e-12);
    assert_close(f.time_s[299], (60.0 * 512 - 1) / 512, 1e-9);
    assert_close(f.t1_s, 60.0, 1e-12);
    /* B1 after its switch carries 40 uV of 10+ Hz activity, before it ~0: the
     * feature rises by more than 3 (log units) */
    size_t before = 0, after = 299;
    assert_true(f.data[after * 4 + 1] - f.data[before * 4 + 1] > 3.0);
    /* A1 stays (its 5/9 Hz background is removed by the high-pass): flat within 0.5 */
    for (size_t j = 0; j < 300; j++)
        assert_true(fabs(f.data[j * 4 + 0] - f.data[150 * 4 + 0]) < 0.5);
    double p[4];
    memcpy(p, f.power, sizeof p);
    vbt_features_clear(&f);
    o.top_k = 2;
    assert_int_equal(vbt_features_compute(m, on - 1, 61, &o, &f, &msg), 0);
    assert_int_equal(f.n_chan, 2);
    /* the two largest of p, in montage order */
    size_t i1 = 0, i2;
    for (size_t c = 1; c < 4; c++)
        if (p[c] > p[i1])
            i1 = c;
    i2 = i1 == 0 ? 1 : 0;
    for (size_t c = 0; c < 4; c++)
        if (c != i1 && p[c] > p[i2])
            i2 = c;
    assert_int_equal(f.channel[0], i1 < i2 ? i1 : i2);
    assert_int_equal(f.channel[1], i1 < i2 ? i2 : i1);
    assert_close(f.power[0], p[f.channel[0]], 1e-12);
    vbt_features_clear(&f);
    vbt_features_clear(NULL);
    o.n_points = 1;
    assert_int_equal(vbt_features_compute(m, 0, 10, &o, &f, &msg), VBT_EINVAL);
    o.n_points = 300;
    assert_int_equal(vbt_features_compute(m, 70, 80, &o, &f, &msg), VBT_ERANGE);
    assert_null(f.data);
    vbt_montage_free(m);
    vbt_recording_free(rec);
}

/* ---- EI --------------------------------------------------------------------------------- */

/* Equal-power 9 Hz and 30 Hz sines in a 1 s window at 512 Hz: the Hann
 * leakage stays essentially within +-1 bin, inside alpha and gamma, so
 * ER = 1 (1e-6: the symmetric Hann window and the mean removal leak ~3e-8
 * further);
 * 5 Hz alone gives ER ~ 0 (< 1e-6), 40 Hz alone a huge ER. */
static void test_energy_ratio(void **state)
{
    (void)state;
    const double fs = 512;
    double x[2048], er[16];
    vbt_ei_opts o;
    vbt_ei_opts_default(&o);
    assert_int_equal(vbt_ei_n_windows(2048, fs, &o), 13);
    for (size_t i = 0; i < 2048; i++)
        x[i] = sin(2 * M_PI * 9 * (double)i / fs) + sin(2 * M_PI * 30 * (double)i / fs + 1);
    assert_int_equal(vbt_ei_energy_ratio(x, 2048, fs, &o, er, NULL), 0);
    for (size_t w = 0; w < 8; w++)
        assert_close(er[w], 1.0, 1e-6);
    for (size_t i = 0; i < 2048; i++)
        x[i] = sin(2 * M_PI * 5 * (double)i / fs);
    vbt_ei_energy_ratio(x, 2048, fs, &o, er, NULL);
    assert_true(er[0] < 1e-6);
    for (size_t i = 0; i < 2048; i++)
        x[i] = 0;
    vbt_ei_energy_ratio(x, 2048, fs, &o, er, NULL);
    assert_true(er[0] == 0.0);
    vbt_msg msg;
    o.win_s = 0.001;
    assert_int_equal(vbt_ei_energy_ratio(x, 2048, fs, &o, er, &msg), VBT_EINVAL);
    vbt_ei_opts_default(&o);
    o.nfft = 100;
    assert_int_equal(vbt_ei_energy_ratio(x, 2048, fs, &o, er, &msg), VBT_EINVAL);
    vbt_ei_opts_default(&o);
    o.bands[2] = 5;
    assert_int_equal(vbt_ei_energy_ratio(x, 2048, fs, &o, er, &msg), VBT_EINVAL);
    vbt_ei_opts_default(&o);
    assert_int_equal(vbt_ei_energy_ratio(x, 2048, 20, &o, er, &msg), VBT_EINVAL); /* Nyquist 10 */
    vbt_taper t;
    assert_int_equal(vbt_taper_parse("hamming", &t), 0);
    assert_int_equal(t, VBT_TAPER_HAMMING);
    assert_int_equal(vbt_taper_parse("kaiser", &t), VBT_EINVAL);
}

/* A step from 0 to 5 at index 40: U falls by the bias (0.1) per step until
 * index 39, then jumps by 5 - 5/41 - 0.1 > 1: alarm at 40, change at 39. */
static void test_page_hinkley(void **state)
{
    (void)state;
    double er[60];
    for (size_t i = 0; i < 60; i++)
        er[i] = i < 40 ? 0.0 : 5.0;
    size_t d, a;
    assert_int_equal(vbt_page_hinkley(er, 60, 0.1, 1.0, &d, &a), 1);
    assert_int_equal(d, 39);
    assert_int_equal(a, 40);
    for (size_t i = 0; i < 60; i++)
        er[i] = 1.0;
    assert_int_equal(vbt_page_hinkley(er, 60, 0.1, 1.0, &d, &a), 0);
    /* a small step (0.5) below the threshold once the bias is paid is not seen */
    for (size_t i = 0; i < 60; i++)
        er[i] = i < 40 ? 0.0 : 0.15;
    assert_int_equal(vbt_page_hinkley(er, 60, 0.1, 1.0, &d, &a), 0);
}

/* B1 switches to fast activity at 20 s and C1 at 24 s: B1 is detected within
 * 0.5 s of 20 s and ranked first with EI 1, C1 second (EI in (0, 1)), the
 * others are not detected and have EI 0; without a seizure EI is all 0. */
static void test_ei_synthetic(void **state)
{
    (void)state;
    vbt_recording *rec;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, g_sz, &msg), 0);
    vbt_montage *m;
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    vbt_ei_opts o;
    vbt_ei_opts_default(&o);
    vbt_ei_result r;
    if (vbt_ei_compute(m, 0, 60, &o, &r, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(r.n_chan, 4);
    assert_int_equal(r.n_win, 1 + (60 * 512 - 512) / 128);
    assert_close(r.time_s[0], 0.5, 1e-12);
    assert_close(r.time_s[1] - r.time_s[0], 0.25, 1e-12);
    assert_int_equal(r.rank[0], 1);
    assert_int_equal(r.rank[1], 2);
    assert_close(r.ei[1], 1.0, 0);
    assert_true(r.ei[2] > 0 && r.ei[2] < 1);
    assert_close(r.detect_s[1], 20.0, 0.5);
    assert_close(r.detect_s[2], 24.0, 0.5);
    assert_close(r.n0_s, r.detect_s[1], 0);
    assert_true(r.alarm_s[1] >= r.detect_s[1]);
    assert_true(isnan(r.detect_s[0]) && isnan(r.detect_s[3]));
    assert_close(r.ei[0], 0.0, 0);
    assert_close(r.ei[3], 0.0, 0);
    assert_true(r.er_peak[1] > 100.0);
    assert_true(r.er_peak_s[1] > 19.5);
    /* er is [window][channel]: B1 before and after */
    assert_true(r.er[10 * 4 + 1] < 0.1);
    assert_true(r.er[(r.n_win - 1) * 4 + 1] > 100.0);
    vbt_ei_clear(&r);
    vbt_ei_clear(NULL);
    /* bipolar: pairs need consecutive contacts, here none exist */
    vbt_montage *bp;
    assert_int_equal(vbt_montage_alloc(&bp, rec, VBT_MONTAGE_BIPOLAR, NULL, 0, &msg),
                     VBT_EINVAL);
    /* a window shorter than one spectral window; invalid options */
    assert_int_equal(vbt_ei_compute(m, 10, 10.5, &o, &r, &msg), VBT_ERANGE);
    o.tau_s = 0;
    assert_int_equal(vbt_ei_compute(m, 0, 60, &o, &r, &msg), VBT_EINVAL);
    vbt_montage_free(m);
    vbt_recording_free(rec);

    assert_int_equal(vbt_recording_open(&rec, g_calm, &msg), 0);
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_AVERAGE, NULL, 0, &msg), 0);
    vbt_ei_opts_default(&o);
    assert_int_equal(vbt_ei_compute(m, 0, 30, &o, &r, &msg), 0);
    for (size_t c = 0; c < 4; c++) {
        assert_true(r.ei[c] == 0.0);
        assert_true(isnan(r.detect_s[c]));
        assert_int_equal(r.rank[c], c);
    }
    assert_true(isnan(r.n0_s));
    vbt_ei_clear(&r);
    vbt_montage_free(m);
    vbt_recording_free(rec);
}

/* ---- pictures ------------------------------------------------------------------------------ */

static int starts_with_file(const char *path, const char *magic, size_t n)
{
    char buf[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    if (n == 0)
        return strstr(buf, magic) != NULL;
    return got >= n && memcmp(buf, magic, n) == 0;
}

static void test_plots(void **state)
{
    (void)state;
    vbt_recording *rec;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&rec, g_sz, &msg), 0);
    vbt_montage *m;
    assert_int_equal(vbt_montage_alloc(&m, rec, VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg), 0);
    char png[4200], svg[4200], pdf[4200], bad[4200];
    snprintf(png, sizeof png, "%s/traces.png", g_tmp);
    snprintf(svg, sizeof svg, "%s/bars.svg", g_tmp);
    snprintf(pdf, sizeof pdf, "%s/traces.pdf", g_tmp);
    snprintf(bad, sizeof bad, "%s/traces.jpg", g_tmp);
    assert_int_equal(vbt_seeg_plot_traces(png, m, NULL, 0, 15, 30, 20, 0, &msg), 0);
    assert_true(starts_with_file(png, "\x89PNG", 4));
    assert_int_equal(vbt_seeg_plot_traces(png, m, NULL, 0, 15, 30, 20, 0, &msg), VBT_EEXIST);
    size_t two[] = {3, 1};
    assert_int_equal(vbt_seeg_plot_traces(pdf, m, two, 2, 15, 30, NAN, 0, &msg), 0);
    assert_true(starts_with_file(pdf, "%PDF", 4));
    assert_int_equal(vbt_seeg_plot_traces(bad, m, NULL, 0, 15, 30, 20, 0, &msg), VBT_EINVAL);
    assert_false(tu_exists(bad));
    size_t oob[] = {7};
    assert_int_equal(vbt_seeg_plot_traces(png, m, oob, 1, 15, 30, 20, 1, &msg), VBT_ERANGE);
    const char *labels[] = {"B1", "C1", "A1"};
    const double v[] = {1.0, 0.4, 0.0}, nan3[] = {1.0, NAN, 0.0};
    assert_int_equal(vbt_seeg_plot_bars(svg, "EI", labels, v, 3, 0, &msg), 0);
    assert_true(starts_with_file(svg, "<svg", 0));
    assert_int_equal(vbt_seeg_plot_bars(svg, "EI", labels, nan3, 3, 1, &msg), VBT_ENUMERIC);
    assert_int_equal(vbt_seeg_plot_bars(svg, "EI", labels, v, 0, 1, &msg), VBT_EINVAL);
    vbt_montage_free(m);
    vbt_recording_free(rec);
}

/* ---- the command line -------------------------------------------------------------------- */

/* Run `vbt ARGS` with captured stdout and stderr; exit status. */
static int run_vbt(const char *const argv[], char **out, char **err)
{
    return tu_run(getenv("VBT_EXE"), argv, g_tmp, out, err);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void assert_no_patient(const char *text)
{
    if (text && (strstr(text, "Female") || strstr(text, "33yr")))
        fail_msg("patient field leaked into: %.200s", text);
}

static void test_cli(void **state)
{
    (void)state;
    if (!getenv("VBT_EXE")) {
        /* Run outside meson: no vbt executable to test. */
        print_message("skipped: VBT_EXE is not set (run through 'meson test')\n");
        g_skipped = 1;
        skip();
    }
    char psg[4096], out[4200], err_[4200], *o, *e;
    snprintf(psg, sizeof psg, "%s/clinical/edfio/short_psg.edf", tu_data_dir());

    /* info: text and JSON, never the patient field */
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", psg, NULL}, &o, &e), 0);
    assert_non_null(strstr(o, "Temp rectal"));
    assert_non_null(strstr(o, "-2849"));
    assert_no_patient(o);
    assert_no_patient(e);
    free(o);
    free(e);
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", psg, "--json", NULL}, &o, NULL),
                     0);
    assert_non_null(strstr(o, "\"format\":\t\"EDF\""));
    assert_no_patient(o);
    assert_null(strstr(o, "1989")); /* no date without --show-identifiers */
    assert_null(strstr(o, "\"start\""));
    free(o);
    /* the start date and time only on request; the text form neither */
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", psg, NULL}, &o, NULL), 0);
    assert_null(strstr(o, "1989"));
    assert_null(strstr(o, "16:13"));
    free(o);
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", psg, "--show-identifiers", NULL},
                             &o, NULL), 0);
    assert_non_null(strstr(o, "start        1989-04-24T16:13:00\n"));
    assert_no_patient(o);
    free(o);
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", psg, "--json",
                                              "--show-identifiers", NULL}, &o, NULL), 0);
    assert_non_null(strstr(o, "\"start\":\t\"1989-04-24T16:13:00\""));
    free(o);
    /* the fraction of a second, when the file has one (EDF+ first record at +0.25 s) */
    {
        const char *labels[] = {"A1"};
        vbt_edf_spec spec = {1, labels, "uV", 64, -100, 100, 0};
        vbt_edf_writer *w;
        vbt_msg msg;
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/subsec.edf", g_tmp);
        assert_int_equal(vbt_edf_writer_open(&w, sub, &spec, 1, &msg), 0);
        double zero[64] = {0};
        for (int r = 0; r < 2; r++)
            assert_int_equal(vbt_edf_writer_append(w, zero, &msg), 0);
        assert_int_equal(vbt_edf_writer_close(w, &msg), 0);
        size_t len;
        unsigned char *b = (unsigned char *)tu_slurp(sub, &len);
        /* header 3 x 256 bytes; a record = 64 samples of A1, then the annotations */
        for (size_t r = 0; r < 2; r++) {
            unsigned char *a = b + 768 + r * (len - 768) / 2 + 128;
            char tal[16];
            int n = snprintf(tal, sizeof tal, "+%zu.25%c%c", r, 0x14, 0x14);
            memcpy(a, tal, (size_t)n + 1);
        }
        tu_write_bytes(sub, b, len);
        free(b);
        assert_int_equal(run_vbt((const char *[]){"seeg", "info", sub, "--show-identifiers",
                                                  NULL}, &o, NULL), 0);
        assert_non_null(strstr(o, "start        2000-01-01T00:00:00.25\n"));
        free(o);
    }

    /* features on the PSG's EEG channels; outputs and provenance without the patient */
    snprintf(out, sizeof out, "%s/feat_psg", g_tmp);
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", psg, "-o", out, "--quiet",
                                              NULL}, &o, &e), 0);
    assert_string_equal(e, "");
    free(o);
    free(e);
    const char *files[] = {"features.npy", "features_time.npy", "channels.tsv", "run.json"};
    for (size_t i = 0; i < 4; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        char *t = tu_slurp(p, NULL);
        assert_non_null(t);
        assert_no_patient(t);
        free(t);
    }
    vbt_array a;
    char p[4400];
    snprintf(p, sizeof p, "%s/features.npy", out);
    assert_int_equal(vbt_npy_read(p, &a, NULL), 0);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 300);
    assert_int_equal(a.shape[1], 2);
    vbt_array_clear(&a);
    snprintf(p, sizeof p, "%s/run.json", out);
    char *j = tu_slurp(p, NULL);
    assert_non_null(strstr(j, "\"sha256\""));
    assert_non_null(strstr(j, "ff05447a6a4df29979b119d0643fd655a9c1641e8955f1fa020b4103295cd4ba"));
    free(j);
    /* refuse to overwrite (exit 1, one line), then --force */
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", psg, "-o", out, NULL}, NULL,
                             &e), 1);
    assert_int_equal(count_lines(e), 1);
    free(e);
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", psg, "-o", out, "--force",
                                              "--channels", "EEG Pz-Oz", "--points", "50",
                                              "-q", NULL}, NULL, NULL), 0);
    snprintf(p, sizeof p, "%s/features.npy", out);
    assert_int_equal(vbt_npy_read(p, &a, NULL), 0);
    assert_int_equal(a.shape[0], 50);
    assert_int_equal(a.shape[1], 1);
    vbt_array_clear(&a);

    /* ei on the synthetic seizure, ranked table, regions */
    snprintf(out, sizeof out, "%s/ei", g_tmp);
    char regions[4200];
    snprintf(regions, sizeof regions, "%s/regions.tsv", g_tmp);
    tu_write_file(regions, "channel\tregion\nA1\tctx-lh-insula\nB1\tctx-lh-fusiform\n"
                           "C1\tctx-lh-fusiform\nD1\tLeft-Hippocampus\n");
    assert_int_equal(run_vbt((const char *[]){"seeg", "ei", g_sz, "-o", out, "--regions",
                                              regions, "-q", NULL}, &o, NULL), 0);
    free(o);
    snprintf(p, sizeof p, "%s/ei.tsv", out);
    char *tab = tu_slurp(p, NULL);
    assert_non_null(tab);
    assert_non_null(strstr(tab, "1\tB1\t1.000000\t"));
    assert_non_null(strstr(tab, "\n2\tC1\t"));
    free(tab);
    snprintf(p, sizeof p, "%s/regions_ei.tsv", out);
    tab = tu_slurp(p, NULL);
    assert_non_null(strstr(tab, "ctx-lh-fusiform\t1.000000"));
    assert_non_null(strstr(tab, "ctx-lh-insula\t0.000000"));
    free(tab);
    snprintf(p, sizeof p, "%s/er.npy", out);
    assert_int_equal(vbt_npy_read(p, &a, NULL), 0);
    assert_int_equal(a.shape[0], 237);
    assert_int_equal(a.shape[1], 4);
    vbt_array_clear(&a);

    /* plot: traces and the EI bar chart */
    snprintf(out, sizeof out, "%s/tr.png", g_tmp);
    assert_int_equal(run_vbt((const char *[]){"seeg", "plot", g_sz, "-o", out, NULL}, NULL,
                             NULL), 0);
    assert_true(starts_with_file(out, "\x89PNG", 4));
    snprintf(out, sizeof out, "%s/ei.svg", g_tmp);
    snprintf(p, sizeof p, "%s/ei/ei.tsv", g_tmp);
    assert_int_equal(run_vbt((const char *[]){"seeg", "plot", p, "-o", out, NULL}, NULL, NULL),
                     0);
    assert_true(starts_with_file(out, "<svg", 0));

    /* usage errors: exit 2 */
    assert_int_equal(run_vbt((const char *[]){"seeg", "dance", psg, NULL}, NULL, NULL), 2);
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", psg, NULL}, NULL, NULL), 2);
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", psg, "--bias", "1", NULL}, NULL,
                             NULL), 2);
    assert_int_equal(run_vbt((const char *[]){"seeg", "ei", psg, "-o", out, "--bands", "1,2",
                                              NULL}, NULL, NULL), 2);
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", psg, "-o", out, "--montage",
                                              "laplace", NULL}, NULL, NULL), 2);
    /* errors: exit 1 with one line naming the file */
    snprintf(err_, sizeof err_, "%s/trunc.edf", g_tmp);
    char *raw = tu_slurp(psg, NULL);
    tu_write_bytes(err_, raw, 5000);
    free(raw);
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", err_, NULL}, NULL, &e), 1);
    assert_int_equal(count_lines(e), 1);
    assert_non_null(strstr(e, "truncated"));
    assert_non_null(strstr(e, "vbt seeg: '"));
    free(e);
    snprintf(out, sizeof out, "%s/never", g_tmp);
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", psg, "-o", out, "--channels",
                                              "EEG Cz", NULL}, NULL, &e), 1);
    assert_non_null(strstr(e, "no channel 'EEG Cz'"));
    assert_false(tu_exists(out));
    free(e);
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", "/nonexistent.edf", NULL}, NULL,
                             NULL), 1);
    assert_int_equal(run_vbt((const char *[]){"seeg", "--help", NULL}, &o, NULL), 0);
    assert_non_null(strstr(o, "Epileptogenicity"));
    free(o);
}

/* ---- a BrainVision recording end to end ------------------------------------------------ */

/* The seizure recording g_sz (EDF, 16 bits over +-2000 uV: steps of
 * q = 4000/65535 uV) rewritten as BrainVision by the format's
 * specification: INT_16 multiplexed at 0.1 uV resolution, the annotation as
 * a "Comment" marker at its sample.  Each BrainVision sample is
 * round(x / 0.1) of the EDF value x, so the two recordings differ by at
 * most 0.05 uV a sample. */
static const char *make_brainvision(void)
{
    static char vhdr[4200];
    vbt_recording *edf;
    vbt_msg msg;
    assert_int_equal(vbt_recording_open(&edf, g_sz, &msg), 0);
    size_t nch = vbt_recording_n_channels(edf);
    int64_t n = vbt_recording_channel(edf, 0)->n_samples;
    double fs = vbt_recording_channel(edf, 0)->fs_hz, on;
    assert_int_equal(vbt_recording_seizure(edf, &on, NULL), 0);
    char text[2048];
    int k = snprintf(text, sizeof text,
                     "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\n"
                     "Codepage=UTF-8\nDataFile=sz.eeg\nMarkerFile=sz.vmrk\n"
                     "DataFormat=BINARY\nDataOrientation=MULTIPLEXED\nNumberOfChannels=%zu\n"
                     "SamplingInterval=%.17g\n[Binary Infos]\nBinaryFormat=INT_16\n"
                     "[Channel Infos]\n", nch, 1e6 / fs);
    for (size_t c = 0; c < nch; c++)
        k += snprintf(text + k, sizeof text - (size_t)k, "Ch%zu=%s,,0.1,\xC2\xB5V\n", c + 1,
                      vbt_recording_channel(edf, c)->label);
    snprintf(vhdr, sizeof vhdr, "%s/sz.vhdr", g_tmp);
    tu_write_file(vhdr, text);
    snprintf(text, sizeof text,
             "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\n"
             "Codepage=UTF-8\nDataFile=sz.eeg\n[Marker Infos]\n"
             "Mk1=New Segment,,1,1,0,20000101000000000000\nMk2=Comment,SZ onset,%lld,1,0\n",
             (long long)llround(on * fs) + 1);
    tu_write_file(tu_path(g_tmp, "sz.vmrk"), text);
    double *x = malloc((size_t)n * sizeof *x);
    int16_t *d = malloc((size_t)n * nch * sizeof *d);
    for (size_t c = 0; c < nch; c++) {
        assert_int_equal(vbt_recording_read(edf, c, 0, (size_t)n, x), 0);
        for (int64_t i = 0; i < n; i++) {
            long v = lround(x[i] / 0.1);
            assert_true(v >= -32768 && v <= 32767);
            d[(size_t)i * nch + c] = (int16_t)v; /* little-endian host, as the format */
        }
    }
    tu_write_bytes(tu_path(g_tmp, "sz.eeg"), d, (size_t)n * nch * sizeof *d);
    free(d);
    free(x);
    vbt_recording_free(edf);
    return vhdr;
}

/* `seeg info` and `seeg features` read the BrainVision file like the EDF:
 * the same channels, seizure onset and window, and features equal to the
 * EDF's within 0.01 (log units).  The two files differ by at most
 * 0.05 uV + q/2 a sample, quantisation noise of variance below
 * 0.1^2/12 uV^2, against at least 0.75 uV^2 of noise power in the feature's
 * band before the seizure (0.05 x 30 uV uniform noise on D1) and far more
 * after: the log power moves by less than 0.0011; 0.01 leaves a margin of
 * 9. */
static void test_brainvision(void **state)
{
    (void)state;
    const char *vhdr = make_brainvision();
    vbt_recording *rec[2];
    vbt_msg msg;
    if (vbt_recording_open(&rec[0], g_sz, &msg) || vbt_recording_open(&rec[1], vhdr, &msg))
        fail_msg("%s", msg.text);
    assert_string_equal(vbt_recording_format(rec[1]), "BrainVision");
    vbt_features f[2];
    vbt_montage *m[2];
    for (int r = 0; r < 2; r++) {
        double on;
        assert_int_equal(vbt_recording_seizure(rec[r], &on, NULL), 0);
        assert_close(on, 20.0, 1e-9);
        assert_int_equal(vbt_montage_alloc(&m[r], rec[r], VBT_MONTAGE_MONOPOLAR, NULL, 0, &msg),
                         0);
        vbt_features_opts o;
        vbt_features_opts_default(&o);
        assert_int_equal(vbt_features_compute(m[r], on - 1, 61, &o, &f[r], &msg), 0);
    }
    assert_int_equal(f[1].n_time, f[0].n_time);
    assert_int_equal(f[1].n_chan, f[0].n_chan);
    double worst = 0;
    for (size_t i = 0; i < f[0].n_time * f[0].n_chan; i++)
        worst = fmax(worst, fabs(f[1].data[i] - f[0].data[i]));
    if (!(worst <= 0.01))
        fail_msg("BrainVision and EDF features differ by %g", worst);
    for (int r = 0; r < 2; r++) {
        vbt_features_clear(&f[r]);
        vbt_montage_free(m[r]);
        vbt_recording_free(rec[r]);
    }
    if (!getenv("VBT_EXE")) {
        print_message("skipped: the CLI half (VBT_EXE is not set; run through 'meson test')\n");
        return;
    }
    char *o, *e, out[4200], p[4400];
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", vhdr, NULL}, &o, &e), 0);
    assert_non_null(strstr(o, "BrainVision"));
    assert_non_null(strstr(o, "C1"));
    assert_null(strstr(o, "2000-01-01")); /* no date without --show-identifiers */
    free(o);
    free(e);
    snprintf(out, sizeof out, "%s/feat_bv", g_tmp);
    assert_int_equal(run_vbt((const char *[]){"seeg", "features", vhdr, "-o", out, "--quiet",
                                              NULL}, &o, &e), 0);
    assert_string_equal(e, "");
    free(o);
    free(e);
    vbt_array a;
    snprintf(p, sizeof p, "%s/features.npy", out);
    assert_int_equal(vbt_npy_read(p, &a, NULL), 0);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 300);
    vbt_array_clear(&a);
    /* provenance hashes the header, the data and the markers */
    snprintf(p, sizeof p, "%s/run.json", out);
    char *j = tu_slurp(p, NULL);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"recording_data\""));
    assert_non_null(strstr(j, "\"recording_markers\""));
    free(j);
    /* a broken header: exit 1, one line naming the file */
    snprintf(p, sizeof p, "%s/broken.vhdr", g_tmp);
    tu_write_file(p, "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\n"
                     "DataFile=../sz.eeg\n");
    assert_int_equal(run_vbt((const char *[]){"seeg", "info", p, NULL}, NULL, &e), 1);
    assert_int_equal(count_lines(e), 1);
    assert_non_null(strstr(e, "broken.vhdr"));
    free(e);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    make_recordings();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_tmp);
    free(g_tmp);
    vbt_seeg_plot_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_butter_magnitude),
        cmocka_unit_test(test_filtfilt),
        cmocka_unit_test(test_envelope_known),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_energy_ratio),
        cmocka_unit_test(test_page_hinkley),
        cmocka_unit_test(test_ei_synthetic),
        cmocka_unit_test(test_plots),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_brainvision),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed ? failed : g_skipped ? 77 : 0;
}
