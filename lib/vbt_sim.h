/* vbt_sim.h -- the network simulator: plan once, run many.
 *
 * vbt_sim_alloc() does all the expensive work once: integer delays
 * rint(length / speed / dt) (round half to even), CSR weights, the history
 * ring buffer (only the model's coupling variables), parameter arrays and
 * workspaces.  Then vbt_sim_set_*(), vbt_sim_reset() and vbt_sim_run() are
 * cheap and never allocate, so inference can call them thousands of times.
 *
 * Time: the run starts at t = 0; after k steps t = k dt.  The coupling is
 * computed once per step from the state at t_n and the delayed history and
 * held fixed through the scheme's stages.
 *
 * Batches.  With spec.batch = B > 1 one plan runs B simulations of the same
 * connectome side by side.  Every per-lane array (state, monitor samples,
 * parameters) is laid out lane = region * B + simulation, simulation
 * innermost, so kernels vectorise across simulations.  Parameters may differ
 * between simulations (vbt_sim_set_model_param_of()); simulation b draws its
 * noise from stream (stream + b) of the seed, so its numbers do not depend on
 * the batch size or its position.  Initial conditions are shared.  The
 * delay history keeps, for each region and time step, the B simulations
 * side by side, so one delayed read serves the whole batch; a simulation
 * gives the same bytes alone and at any position in a batch.
 *
 * Monitors see the state after every step and keep their samples in a
 * buffer sized at vbt_sim_add_monitor(); the caller drains it between runs
 * (vbt_sim_monitor_data(), vbt_sim_monitor_clear()).  Sampling, unlike The
 * Virtual Brain (whose phase follows an absolute step counter that starts at
 * the history length), is anchored at the start of the run:
 *   raw               sample i is the state after step i+1, at t = (i+1) dt;
 *   subsample         the state at t = k P, k = 1, 2, ...;
 *   temporal_average  the mean of the P/dt states at the ends of the steps
 *                     in ((k-1) P, k P], stamped at the middle of that
 *                     window, t = (k - 1/2) P.
 * P must be a whole multiple of dt.
 */
#ifndef VBT_SIM_H
#define VBT_SIM_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_sim vbt_sim;

typedef struct vbt_sim_spec {
    const vbt_model_type *model;
    const vbt_coupling_type *coupling;
    const vbt_scheme_type *scheme;
    const vbt_connectome *conn;   /* borrowed during vbt_sim_alloc() only */
    double dt_ms;                 /* > 0 */
    double speed_mm_per_ms;       /* > 0; HUGE_VAL for no conduction delays */
    size_t batch;                 /* simulations run side by side; 0 or 1: one */
} vbt_sim_spec;

/* Plan a simulation.  Parameters start at their defaults, the initial state
 * at zero.  On failure *out is NULL and msg says why. */
int vbt_sim_alloc(vbt_sim **out, const vbt_sim_spec *spec, vbt_msg *msg);
void vbt_sim_free(vbt_sim *sim);

/* Precision of the delay history.  on = 1 keeps it in float32, as The
 * Virtual Brain can store it: half the memory and memory traffic of the
 * ring (what limits a batch), every delayed value rounded to 24 bits
 * (tutorial Epileptor: 2e-9 relative after 400 steps).  on = 0, the
 * default: double, the numbers of earlier versions bit for bit.  Either
 * way a simulation gives the same bytes alone and at any position in a
 * batch.  Reallocates the ring (VBT_ENOMEM leaves the precision as it
 * was) and resets the run. */
int vbt_sim_set_history_float32(vbt_sim *sim, int on);

/* Message of the last failed call on this simulator ("" when none). */
const char *vbt_sim_errmsg(const vbt_sim *sim);

/* ---- parameters ---------------------------------------------------------
 * count == 1 sets every region, count == n_regions sets one value per region
 * (for every simulation of a batch), count == n_regions * batch one value per
 * lane.  Non-finite values are refused (VBT_ENUMERIC); unknown names
 * VBT_ENOTFOUND. */
int vbt_sim_set_model_param(vbt_sim *sim, const char *name, const double *values,
                            size_t count);
int vbt_sim_set_coupling_param(vbt_sim *sim, const char *name, const double *values,
                               size_t count);
/* The same for simulation b of a batch only (count 1 or n_regions). */
int vbt_sim_set_model_param_of(vbt_sim *sim, size_t b, const char *name,
                               const double *values, size_t count);
int vbt_sim_set_coupling_param_of(vbt_sim *sim, size_t b, const char *name,
                                  const double *values, size_t count);
/* Copy a parameter's per-lane values into out (n_regions * batch doubles). */
int vbt_sim_get_model_param(const vbt_sim *sim, const char *name, double *out);
int vbt_sim_get_coupling_param(const vbt_sim *sim, const char *name, double *out);

/* ---- initial conditions --------------------------------------------------
 * Both reset the run (t = 0, monitors emptied).
 * Constant: one value per state variable, for every region and the whole
 * history.  History: rows of [n_state][n_regions] doubles, oldest first, the
 * last row the state at t = 0; n_rows >= vbt_sim_horizon(), extra older rows
 * ignored; fewer rows give VBT_ERANGE. */
int vbt_sim_set_initial_constant(vbt_sim *sim, const double *state, size_t n_state);
int vbt_sim_set_initial_history(vbt_sim *sim, const double *hist, size_t n_rows);

/* ---- noise -----------------------------------------------------------------
 * Additive noise, as The Virtual Brain: dX = f dt + sqrt(2 D) dW, i.e. a
 * per-step increment sqrt(2 D dt) N(0, 1), drawn once per step and used in
 * every stage of the scheme (Euler-Maruyama, stochastic Heun).  nsig holds
 * D: 1 value, one per state variable, or [n_state][n_regions].  ntau_ms > 0
 * makes it coloured: an Ornstein-Uhlenbeck process eta with correlation
 * time ntau, eta <- eta E + sqrt(1 - E^2) N(0,1), E = exp(-dt/ntau), and
 * increment sqrt(2 D) dt eta / sqrt(ntau).  All zeros: deterministic.
 * VBT_EINVAL for negative values or a scheme without a stochastic form. */
int vbt_sim_set_noise(vbt_sim *sim, const double *nsig, size_t count, double ntau_ms);

/* Random stream (seed, stream index) of this simulation (simulation b of a
 * batch uses stream + b): counter-based, so a simulation's numbers do not
 * depend on threads or batch order.  Default (0, 0).  Resets the run. */
void vbt_sim_set_seed(vbt_sim *sim, uint64_t seed, uint64_t stream);

/* ---- stimulation ------------------------------------------------------------
 * A stimulus injects a current I(t) w_i into the derivative of one state
 * variable of every region i (w: a spatial pattern, 0 for unstimulated
 * regions), as The Virtual Brain's region stimuli: the step adds
 * dt I(t_n) w_i, held fixed through the scheme's stages.  I(t) is a pulse
 * train (amplitude during the first width_ms of every 1000/frequency_hz ms
 * from onset_ms, for train_ms or, when train_ms <= 0, to the end) or, when
 * waveform is given, that waveform sampled every sample_ms from onset_ms and
 * held between samples (0 outside it).  Everything is copied.  NULL removes
 * the stimulus.  VBT_EINVAL for a bad variable, sizes or values. */
typedef struct vbt_stimulus {
    size_t var;                 /* state variable receiving the current */
    const double *weights;      /* n_regions spatial pattern */
    double onset_ms;
    double amplitude, frequency_hz, width_ms, train_ms;     /* pulse train */
    const double *waveform;     /* or a sampled waveform ... */
    size_t n_samples;
    double sample_ms;           /* ... of n_samples values every sample_ms */
} vbt_stimulus;
int vbt_sim_set_stimulus(vbt_sim *sim, const vbt_stimulus *stim);

/* The stimulus current I(t) (without the spatial pattern); 0 when none. */
double vbt_sim_stimulus_at(const vbt_sim *sim, double t_ms);

/* Back to t = 0 with the last initial conditions and the start of the
 * random stream; empties monitors. */
void vbt_sim_reset(vbt_sim *sim);

/* Advance n_steps steps.  Fails (VBT_ERANGE) before doing anything when a
 * monitor's buffer cannot hold the samples these steps produce, and with
 * VBT_ENUMERIC when the state stops being finite (the message gives time and
 * region).  Never allocates. */
int vbt_sim_run(vbt_sim *sim, uint64_t n_steps);

/* ---- inspection ---------------------------------------------------------- */
size_t vbt_sim_n_regions(const vbt_sim *sim);
size_t vbt_sim_batch(const vbt_sim *sim);
size_t vbt_sim_n_lanes(const vbt_sim *sim);      /* n_regions * batch */
const vbt_model_type *vbt_sim_model(const vbt_sim *sim);
double vbt_sim_dt(const vbt_sim *sim);
uint64_t vbt_sim_steps_done(const vbt_sim *sim);
double vbt_sim_time(const vbt_sim *sim);
/* History rows needed: 1 + the largest integer delay over all region pairs
 * (as The Virtual Brain, including pairs of zero weight). */
size_t vbt_sim_horizon(const vbt_sim *sim);
/* 1 when some connection of nonzero weight has a nonzero delay. */
int vbt_sim_has_delays(const vbt_sim *sim);
/* Integer delay (steps) of the connection from j to i. */
long vbt_sim_delay_steps(const vbt_sim *sim, size_t i, size_t j);
/* Current state, [n_state][lane]; valid until the next call. */
const double *vbt_sim_state(const vbt_sim *sim);

/* ---- monitors ------------------------------------------------------------
 * Regional monitors (raw, subsample, temporal_average, bold, bold_balloon)
 * write one value per lane: data [sample][variable][lane], lane = region * B
 * + simulation.  Projection monitors (seeg, eeg) write one value per channel
 * and simulation: data [sample][variable][channel * B + simulation], where
 * channel c of simulation b is  sum_r G[c][r] obs[r * B + b]  (G the gain
 * after re-referencing or the bipolar montage).
 *
 *   seeg, eeg     the boxcar mean of the projected variable over the P/dt
 *                 steps in ((k-1) P, k P], stamped at t = k P (the mean of
 *                 G obs equals G times the mean of obs; the gain is applied
 *                 once per sample).  Default variable: the model's first
 *                 observed expression.  Optional observation noise: sd *
 *                 N(0, 1) added to every channel of every sample, drawn from
 *                 stream 2^62 + stream + b of the simulation's seed
 *                 (vbt_sim_set_seed), so it is reproducible and independent
 *                 of the batch.
 *   bold          The Virtual Brain's Bold monitor (FirstOrderVolterra HRF):
 *                 the variable is averaged over interims of ni = round(4 ms /
 *                 dt) steps into a stock of Ns = ceil(hrf_length_ms / 4)
 *                 slots; at t = k P (default P = 2000 ms)
 *                   bold = (sum_{m<Ns} G(m h) stock[j-1-m] - 1) k_1 V_0,
 *                 j the newest interim, h = hrf_length / Ns (s), G(t) =
 *                 exp(-t / (2 tau_s)) sin(w t) / (3 w), w = sqrt(1/tau_f -
 *                 1/(4 tau_s^2)); missing interims (before the start) are 0.
 *   bold_balloon  the Balloon-Windkessel model (Friston 2000, Stephan 2007)
 *                 in seconds, driven by the interim means u and integrated
 *                 with Heun's scheme, step h = ni dt:
 *                   s' = u - s/tau_s - (f-1)/tau_f,  f' = s,
 *                   v' = (f - v^(1/alpha))/tau_o,
 *                   q' = (f (1 - (1-E0)^(1/f))/E0 - v^(1/alpha) q/v)/tau_o,
 *                 from s = 0, f = v = q = 1; at t = k P
 *                   bold = V0 (k1 (1-q) + k2 (1-q/v) + k3 (1-v))
 *                 (nonlinear = 0: V0 ((k1+k2)(1-q) + (k3-k2)(1-v))), with
 *                 revised = 1: k1 = 4.3 nu_0 E0 TE, k2 = epsilon r_0 E0 TE,
 *                 k3 = 1 - epsilon; revised = 0 (classical): k1 = 7 E0,
 *                 k2 = 2 E0, k3 = 1 - epsilon.
 * The BOLD monitors' default variable is the model's first observed
 * expression; their tunables are listed in type->params and set through
 * spec.param_names / param_values. */
typedef struct vbt_monitor_type {
    const char *name;           /* "raw", "subsample", "temporal_average", "seeg", ... */
    const char *doc;
    int uses_period;            /* raw: 0 (period forced to dt) */
    int averages;               /* temporal_average, seeg, eeg: 1 */
    int projects;               /* seeg, eeg: channels through a gain matrix */
    size_t n_param;             /* tunables (bold, bold_balloon) */
    const vbt_param_desc *params;
} vbt_monitor_type;

extern const vbt_monitor_type *const vbt_monitor_raw;
extern const vbt_monitor_type *const vbt_monitor_subsample;
extern const vbt_monitor_type *const vbt_monitor_temporal_average;
extern const vbt_monitor_type *const vbt_monitor_seeg;
extern const vbt_monitor_type *const vbt_monitor_eeg;
extern const vbt_monitor_type *const vbt_monitor_bold;
extern const vbt_monitor_type *const vbt_monitor_bold_balloon;
extern const vbt_monitor_type *const vbt_monitor_types[];
const vbt_monitor_type *vbt_monitor_find(const char *name);

/* Everything is borrowed during vbt_sim_add_monitor() only (copied). */
typedef struct vbt_monitor_spec {
    const vbt_monitor_type *type;
    double period_ms;           /* ignored by raw */
    size_t n_vars;              /* 0: the model's observed expressions (seeg, eeg,
                                   bold: the first one) */
    const char *const *vars;    /* state names or observed expressions */
    uint64_t buffer_steps;      /* the buffer holds the samples of this many steps */
    /* seeg, eeg */
    size_t n_sensors;
    const char *const *sensor_labels; /* n_sensors labels, required ("A1", "Fp1") */
    const double *gain;         /* [n_sensors][n_regions]; NULL: analytic, below */
    const double *sensor_pos_mm;      /* n_sensors * 3: for the analytic gain */
    const double *centres_mm;         /* n_regions * 3: for the analytic gain */
    const double *orientations;       /* n_regions * 3: dipole moments, analytic gain */
    const char *reference;      /* eeg: NULL or "" none, "average", or a sensor label */
    int bipolar;                /* seeg: channels A1-A2, A2-A3, ... (see below) */
    double obs_noise;           /* standard deviation of observation noise; 0: none */
    /* tunables of type->params by name; the others keep their defaults */
    size_t n_params;
    const char *const *param_names;
    const double *param_values;
} vbt_monitor_spec;

/* The analytic gain (spec.gain NULL) is the point dipole in an infinite
 * homogeneous medium of unit conductivity (Sarvas 1987, as TVB):
 *   G[k][j] = Q_j . (r_k - c_j) / (4 pi |r_k - c_j|^3),
 * Q = orientations, c = centres (|r_k - c_j| raised to VBT_GAIN_MIN_DIST_MM);
 * for eeg the sensors are first moved onto TVB's sphere (vbt_gain_eeg()).
 * Non-finite gain entries zero their row.  EEG reference: "average"
 * subtracts the mean of all channels, a label subtracts that sensor (whose
 * channel is then 0).  SEEG bipolar: pairs of sensors i, i+1 that are
 * consecutive in the given order with labels <prefix>k and <prefix>k+1
 * (the same electrode prefix, the label without its trailing digits),
 * named "<prefix>k-<prefix>k+1". */

/* Attach a monitor; *index receives its number.  Resets the run. */
int vbt_sim_add_monitor(vbt_sim *sim, const vbt_monitor_spec *spec, size_t *index);
size_t vbt_sim_n_monitors(const vbt_sim *sim);
const vbt_monitor_type *vbt_sim_monitor_type(const vbt_sim *sim, size_t m);
/* Variables recorded and the sampling period actually used (ms). */
size_t vbt_sim_monitor_n_vars(const vbt_sim *sim, size_t m);
const char *vbt_sim_monitor_var(const vbt_sim *sim, size_t m, size_t v);
double vbt_sim_monitor_period(const vbt_sim *sim, size_t m);
/* Channels per variable and simulation: n_regions for regional monitors,
 * sensors or bipolar pairs for projections; 0 for an unknown m. */
size_t vbt_sim_monitor_n_channels(const vbt_sim *sim, size_t m);
/* A projection's channel label ("TP1", "TP1-TP2"); NULL for regional
 * monitors or c out of range. */
const char *vbt_sim_monitor_channel(const vbt_sim *sim, size_t m, size_t c);
/* A projection's gain as applied, [n_channels][n_regions]; NULL otherwise. */
const double *vbt_sim_monitor_gain(const vbt_sim *sim, size_t m);
/* Number of samples n_steps steps from t = 0 produce. */
uint64_t vbt_sim_monitor_samples_for(const vbt_sim *sim, size_t m, uint64_t n_steps);
/* Samples buffered so far: data is [n][n_vars][lane], times in ms (lanes:
 * see above). */
const double *vbt_sim_monitor_data(const vbt_sim *sim, size_t m, size_t *n,
                                   const double **times);
/* Drop buffered samples (the averaging window in progress is kept). */
void vbt_sim_monitor_clear(vbt_sim *sim, size_t m);

#ifdef __cplusplus
}
#endif
#endif
