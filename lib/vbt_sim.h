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
 * the batch size or its position.  Initial conditions are shared.
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

/* ---- monitors ------------------------------------------------------------ */
typedef struct vbt_monitor_type {
    const char *name;           /* "raw", "subsample", "temporal_average" */
    const char *doc;
    int uses_period;            /* raw: 0 (period forced to dt) */
    int averages;               /* temporal_average: 1 */
} vbt_monitor_type;

extern const vbt_monitor_type *const vbt_monitor_raw;
extern const vbt_monitor_type *const vbt_monitor_subsample;
extern const vbt_monitor_type *const vbt_monitor_temporal_average;
extern const vbt_monitor_type *const vbt_monitor_types[];
const vbt_monitor_type *vbt_monitor_find(const char *name);

typedef struct vbt_monitor_spec {
    const vbt_monitor_type *type;
    double period_ms;           /* ignored by raw */
    size_t n_vars;              /* 0: the model's observed expressions */
    const char *const *vars;    /* state names or observed expressions */
    uint64_t buffer_steps;      /* the buffer holds the samples of this many steps */
} vbt_monitor_spec;

/* Attach a monitor; *index receives its number.  Resets the run. */
int vbt_sim_add_monitor(vbt_sim *sim, const vbt_monitor_spec *spec, size_t *index);
size_t vbt_sim_n_monitors(const vbt_sim *sim);
/* Variables recorded and the sampling period actually used (ms). */
size_t vbt_sim_monitor_n_vars(const vbt_sim *sim, size_t m);
const char *vbt_sim_monitor_var(const vbt_sim *sim, size_t m, size_t v);
double vbt_sim_monitor_period(const vbt_sim *sim, size_t m);
/* Number of samples n_steps steps from t = 0 produce. */
uint64_t vbt_sim_monitor_samples_for(const vbt_sim *sim, size_t m, uint64_t n_steps);
/* Samples buffered so far: data is [n][n_vars][lane], times in ms. */
const double *vbt_sim_monitor_data(const vbt_sim *sim, size_t m, size_t *n,
                                   const double **times);
/* Drop buffered samples (the averaging window in progress is kept). */
void vbt_sim_monitor_clear(vbt_sim *sim, size_t m);

#ifdef __cplusplus
}
#endif
#endif
