/* vbt_seeg.h -- SEEG processing: montages, zero-phase Butterworth filters,
 * the log-power envelope feature that VEP models are fitted to, the
 * Epileptogenicity Index (Bartolomei et al. 2008), and pictures.
 *
 * Everything works channel by channel on one time window, reading samples
 * from the recording as it goes: memory is a few buffers the length of the
 * window for one channel, plus the (small) outputs, whatever the number of
 * channels.
 */
#ifndef VBT_SEEG_H
#define VBT_SEEG_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"
#include "vbt_recording.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- montages ---------------------------------------------------------------- */

typedef enum vbt_montage_kind {
    VBT_MONTAGE_MONOPOLAR = 0,  /* the contacts as recorded */
    VBT_MONTAGE_BIPOLAR = 1,    /* consecutive contacts of each electrode: "A1-A2" */
    VBT_MONTAGE_AVERAGE = 2     /* each contact minus the mean of the selected contacts */
} vbt_montage_kind;

/* Parse "monopolar", "bipolar" or "average"; VBT_EINVAL otherwise. */
int vbt_montage_kind_parse(const char *name, vbt_montage_kind *kind);

/* A montage keeps work buffers: use one montage per thread (several
 * montages may share a recording, whose reads are thread-safe). */
typedef struct vbt_montage vbt_montage;

/* Derived channels over a recording (borrowed: it must outlive the montage).
 * chans[n] are the recording channels to use (copied); chans == NULL picks
 * the default: every channel of type SEEG, ECOG, EEG or n/a at the most
 * common sampling rate among them.  The selected channels must share one
 * sampling rate (VBT_EINVAL otherwise).  Bipolar pairs contact k with
 * contact k+1 of the same electrode (group) when both are selected; a
 * montage with no channel is VBT_EINVAL. */
int vbt_montage_alloc(vbt_montage **m, vbt_recording *rec, vbt_montage_kind kind,
                      const size_t *chans, size_t n, vbt_msg *msg);
void vbt_montage_free(vbt_montage *m);
size_t vbt_montage_n(const vbt_montage *m);
const char *vbt_montage_label(const vbt_montage *m, size_t k);
/* The recording channels of derived channel k: first is always valid,
 * second is (size_t)-1 for monopolar and average channels. */
void vbt_montage_sources(const vbt_montage *m, size_t k, size_t *first, size_t *second);
double vbt_montage_fs(const vbt_montage *m);
int64_t vbt_montage_n_samples(const vbt_montage *m);
vbt_recording *vbt_montage_recording(const vbt_montage *m);
/* Keep only derived channels keep[n] (indices, in the given order). */
int vbt_montage_select(vbt_montage *m, const size_t *keep, size_t n, vbt_msg *msg);
/* Read derived channel k, samples [first, first + n), into out[n].  For the
 * average montage the mean over the contacts is computed once per window
 * and cached, so reading every channel of one window costs two passes. */
int vbt_montage_read(vbt_montage *m, size_t k, int64_t first, size_t n, double *out,
                     vbt_msg *msg);

/* ---- filters ---------------------------------------------------------------- */

#define VBT_BUTTER_MAX_ORDER 12

/* Digital Butterworth filter of `order` (1 to 12), cut-off fc_hz (-3 dB)
 * at sampling rate fs_hz (0 < fc < fs/2), designed from the analog
 * prototype with the pre-warped bilinear transform, as second-order
 * sections sos[k] = {b0, b1, b2, 1, a1, a2}, k < (order + 1) / 2; each
 * section has unit gain in the pass band (DC for low-pass, Nyquist for
 * high-pass).  *n_sections receives their count. */
int vbt_butter(int order, double fc_hz, double fs_hz, int highpass,
               double sos[][6], size_t *n_sections, vbt_msg *msg);

/* |H(f)| of a cascade of sections at f_hz. */
double vbt_sos_gain(const double sos[][6], size_t n_sections, double f_hz, double fs_hz);

/* Zero-phase filtering in place: forward then backward through the
 * sections, after odd-symmetric extension of both edges by
 * 3 * (2 n_sections + 1 - trailing zero coefficients) samples (at most
 * n - 1), each pass started from the steady state of the first sample, as
 * scipy.signal.sosfiltfilt.  n >= 2. */
int vbt_sosfiltfilt(const double sos[][6], size_t n_sections, double *x, size_t n,
                    vbt_msg *msg);

/* ---- the fitted feature ------------------------------------------------------- */

typedef struct vbt_features_opts {
    double pre_s, post_s;      /* window: onset - pre to offset + post [1, 1] */
    double hp_hz;              /* high-pass cut-off [10] */
    int hp_order;              /* [3] */
    size_t ma_samples;         /* centred moving average of the squared signal [100] */
    double lp_hz;              /* low-pass cut-off of the log envelope [1] */
    int lp_order;              /* [3] */
    size_t n_points;           /* output points [300] */
    size_t top_k;              /* keep the k channels of largest mean(feature^2); 0 = all */
} vbt_features_opts;

void vbt_features_opts_default(vbt_features_opts *o);

/* The log-power envelope of one channel, in place (x[n], fs_hz):
 * zero-phase high-pass, square, centred moving average (window shrunk at
 * the edges), log(. + 1), zero-phase low-pass.  n >= 2. */
int vbt_seeg_envelope(double *x, size_t n, double fs_hz, const vbt_features_opts *o,
                      vbt_msg *msg);

/* Features of a window: out.data[t * n_chan + c], time x channel. */
typedef struct vbt_features {
    size_t n_time, n_chan;
    double *data;
    double *time_s;            /* n_time, seconds from the recording start */
    size_t *channel;           /* n_chan montage indices of the kept channels */
    double *power;             /* n_chan mean(feature^2) (VEP "sensor power") */
    double t0_s, t1_s;         /* the window actually used */
} vbt_features;

/* Envelope of every montage channel over [t0_s, t1_s), resampled by linear
 * interpolation to n_points equally spaced times spanning the window, then
 * the top-k selection.  Frees nothing on failure but leaves out empty. */
int vbt_features_compute(vbt_montage *m, double t0_s, double t1_s,
                         const vbt_features_opts *o, vbt_features *out, vbt_msg *msg);
void vbt_features_clear(vbt_features *f);

/* ---- Epileptogenicity Index ----------------------------------------------------- */

typedef enum vbt_taper { VBT_TAPER_HANN = 0, VBT_TAPER_HAMMING = 1, VBT_TAPER_RECT = 2 } vbt_taper;
int vbt_taper_parse(const char *name, vbt_taper *taper);

typedef struct vbt_ei_opts {
    double win_s, step_s;      /* sliding window [1 s, 0.25 s] (AnyWave's EI defaults) */
    vbt_taper taper;           /* [hann] */
    size_t nfft;               /* FFT length, >= window samples; 0 = window samples */
    double bands[5];           /* edges theta|alpha|beta|gamma [3.5 7.4 12.4 24 97] Hz
                                  (Bartolomei et al. 2008); clipped to fs/2 */
    double bias;               /* Page-Hinkley nu [0.1] */
    double threshold;          /* Page-Hinkley lambda [1] */
    double tau_s;              /* [1 s] */
    double horizon_s;          /* H [5 s] */
} vbt_ei_opts;

void vbt_ei_opts_default(vbt_ei_opts *o);

/* Energy ratio (E_beta + E_gamma) / (E_theta + E_alpha) of x[n] over
 * windows starting at sample w * step (each window's mean removed, tapered,
 * zero-padded to nfft, band energies summed over the FFT bins whose
 * frequency lies in [lo, hi)).  er receives n_win = 1 + (n - win) / step
 * values (0 when n < win).  A window with no energy in either band has
 * ER 0. */
size_t vbt_ei_n_windows(size_t n, double fs_hz, const vbt_ei_opts *o);
int vbt_ei_energy_ratio(const double *x, size_t n, double fs_hz, const vbt_ei_opts *o,
                        double *er, vbt_msg *msg);

/* Page-Hinkley test for an increase of er[n]: U_N = sum_{k<=N} (er[k] -
 * mean(er[0..k]) - bias), u_N = min_{k<=N} U_k; the alarm is the first N
 * with U_N - u_N > threshold and the change (detection) index is where
 * that minimum was reached.  Returns 1 and sets *detect, *alarm when an
 * alarm was raised, 0 otherwise. */
int vbt_page_hinkley(const double *er, size_t n, double bias, double threshold,
                     size_t *detect, size_t *alarm);

typedef struct vbt_ei_result {
    size_t n_chan, n_win;
    double *er;                /* [n_win][n_chan] */
    double *time_s;            /* n_win window centres, seconds from the recording start */
    double *ei;                /* n_chan, max 1; all 0 when nothing is detected */
    double *detect_s, *alarm_s;/* n_chan, NaN when not detected */
    double *er_peak, *er_peak_s;
    size_t *rank;              /* channel indices by decreasing EI (ties: earlier detection,
                                  then montage order) */
    double n0_s;               /* earliest detection, NaN when none */
} vbt_ei_result;

/* EI of every montage channel over [t0_s, t1_s):
 * EI_i = (1 / (N_d,i - N_0 + tau)) * sum_{n = N_d,i}^{N_d,i + H} ER_i[n]
 * (times in seconds, the sum over the windows from detection to H seconds
 * later), normalised to a maximum of 1. */
int vbt_ei_compute(vbt_montage *m, double t0_s, double t1_s, const vbt_ei_opts *o,
                   vbt_ei_result *r, vbt_msg *msg);
void vbt_ei_clear(vbt_ei_result *r);

/* ---- pictures --------------------------------------------------------------------- */

/* Stacked traces of montage channels chans[n] (NULL: all) over [t0_s, t1_s),
 * each scaled to its own robust range, with a vertical line at mark_s
 * (NaN: none).  The format follows the extension of path: .png, .svg or
 * .pdf.  Written atomically. */
int vbt_seeg_plot_traces(const char *path, vbt_montage *m, const size_t *chans, size_t n,
                         double t0_s, double t1_s, double mark_s, int overwrite,
                         vbt_msg *msg);

/* Horizontal bar chart of values[n] labelled labels[n], in the given order. */
int vbt_seeg_plot_bars(const char *path, const char *title, const char *const *labels,
                       const double *values, size_t n, int overwrite, vbt_msg *msg);

/* Release the process-wide font caches that cairo and fontconfig keep after
 * drawing text (seen as leaks by leak checkers).  Call at most once, at the
 * end of the program, when no thread draws any more. */
void vbt_seeg_plot_release(void);

#ifdef __cplusplus
}
#endif
#endif
