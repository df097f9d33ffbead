/* monitor.h -- internal monitor state shared by sim.c and monitors.c,
 * projection.c and bold.c. */
#ifndef VBT_MONITOR_INTERNAL_H
#define VBT_MONITOR_INTERNAL_H

#include <stdint.h>
#include "internal.h"
#include "vbt_rng.h"
#include "vbt_sim.h"

/* Channel labels of projections: "<label>-<label>" fits. */
#define VBT__CHANNEL_MAX (2 * VBT_LABEL_MAX)

enum { VBT__BW_TAU_S, VBT__BW_TAU_F, VBT__BW_TAU_O, VBT__BW_ALPHA, VBT__BW_TE, VBT__BW_V0,
       VBT__BW_E0, VBT__BW_EPSILON, VBT__BW_NU0, VBT__BW_R0, VBT__BW_REVISED,
       VBT__BW_NONLINEAR, VBT__BW_N };
enum { VBT__HRF_TAU_S, VBT__HRF_TAU_F, VBT__HRF_K1, VBT__HRF_V0, VBT__HRF_LENGTH,
       VBT__HRF_N };

typedef struct vbt__monitor {
    const vbt_monitor_type *type;
    size_t n_vars;
    vbt_observable *obs;        /* n_vars */
    size_t n;                   /* lanes (regions * batch) */
    size_t nr, B;               /* regions, simulations */
    size_t width;               /* output values per variable: n, or n_ch * B */
    double dt;
    uint64_t istep;             /* steps per sample */
    double *acc;                /* n_vars * n running sum (temporal_average, seeg, eeg,
                                   interim of bold) */
    double *data;               /* cap * n_vars * width */
    double *times;              /* cap */
    size_t cap, count;

    /* seeg, eeg */
    size_t n_ch;
    double *gain;               /* n_ch * nr, as applied */
    char (*chan)[VBT__CHANNEL_MAX]; /* n_ch labels */
    double obs_noise;
    vbt_rng *rng;               /* B streams, NULL without noise */
    double *z;                  /* n_ch normals */
    const uint64_t *seed, *stream;  /* the simulator's, read at reset */

    /* bold, bold_balloon */
    double par[VBT__BW_N];      /* tunables of the type, in its params order */
    uint64_t ni;                /* steps per interim */
    size_t ns;                  /* stock slots (bold) */
    double *kernel;             /* ns: G(k h) (bold) */
    double *stock;              /* ns * n_vars * n interim means, slot-major (bold) */
    double *bw;                 /* 4 * n_vars * n: s, f, v, q (bold_balloon) */
} vbt__monitor;

/* Build a monitor for model m on nr regions times B simulations; fills *mon
 * (zeroed by the caller).  seed and stream point at the simulator's (read
 * at every reset, for the observation noise). */
VBT_HIDDEN int vbt__monitor_init(vbt__monitor *mon, const vbt_monitor_spec *spec,
                                 const vbt_model_type *m, size_t nr, size_t B, double dt,
                                 const uint64_t *seed, const uint64_t *stream,
                                 vbt_msg *msg);
VBT_HIDDEN void vbt__monitor_destroy(vbt__monitor *mon);
/* Forget samples and the averaging window (start of a run). */
VBT_HIDDEN void vbt__monitor_reset(vbt__monitor *mon);
/* Samples emitted by the steps s0+1 .. s0+n_steps. */
VBT_HIDDEN uint64_t vbt__monitor_samples_between(const vbt__monitor *mon, uint64_t s0,
                                                 uint64_t n_steps);
/* Called after step `step` (1-based) with the new state x. */
VBT_HIDDEN void vbt__monitor_record(vbt__monitor *mon, uint64_t step, const double *x);

/* acc[v][lane] += obs_v(x) */
VBT_HIDDEN void vbt__monitor_accumulate(vbt__monitor *mon, const double *x);

/* projection.c: the gain, channels and noise streams of seeg / eeg. */
VBT_HIDDEN int vbt__projection_init(vbt__monitor *mon, const vbt_monitor_spec *spec,
                                    vbt_msg *msg);
/* Project the window mean mean[v][lane] into out[v][channel * B + b], add
 * the observation noise. */
VBT_HIDDEN void vbt__projection_sample(vbt__monitor *mon, const double *mean, double *out);

/* bold.c */
VBT_HIDDEN int vbt__bold_init(vbt__monitor *mon, vbt_msg *msg);
VBT_HIDDEN void vbt__bold_reset(vbt__monitor *mon);
VBT_HIDDEN void vbt__bold_record(vbt__monitor *mon, uint64_t step, const double *x);

#endif
