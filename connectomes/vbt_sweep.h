/* vbt_sweep.h -- the "sweep" section of a simulation configuration
 * (docs/sweep.md), planned: the parameters to vary with each simulation's
 * values, the region-space monitor the summaries read, and the per-region
 * summaries (mean, variance, min, max, time above a threshold, onset)
 * accumulated as the samples come.  `vbt sweep` runs the simulations in
 * batches on threads with these pieces. */
#ifndef VBT_SWEEP_H
#define VBT_SWEEP_H

#include <stddef.h>
#include "vbt_common.h"
#include "vbt_sim.h"
#include "vbt_sim_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VBT_SWEEP_MAX_PARAMS 16
#define VBT_SWEEP_MAX_SUMMARIES 16

typedef enum vbt_sweep_kind {
    VBT_SWEEP_MEAN, VBT_SWEEP_VARIANCE, VBT_SWEEP_MIN, VBT_SWEEP_MAX, VBT_SWEEP_TIME_ABOVE,
    VBT_SWEEP_ONSET
} vbt_sweep_kind;

/* Its name in the configuration ("time_above"); NULL when out of range. */
const char *vbt_sweep_kind_name(vbt_sweep_kind kind);

/* One summary of one variable of the monitor. */
typedef struct vbt_sweep_summary {
    vbt_sweep_kind kind;
    size_t var;                 /* index into the plan's vars */
    double threshold;           /* time_above, onset */
    int below;                  /* 1: counts values below the threshold */
    char label[96];             /* "time_above(x2 - x1 < 0)", "mean(z)" */
} vbt_sweep_summary;

/* One parameter varied. */
typedef struct vbt_sweep_param {
    char name[64];              /* "x0" */
    int coupling;               /* 0: model parameter, 1: coupling parameter */
    size_t n_regions;           /* 0: every region */
    size_t *regions;            /* the regions that take the value */
} vbt_sweep_param;

/* A planned sweep (plain data, released by vbt_sweep_plan_clear()). */
typedef struct vbt_sweep_plan {
    size_t n_params, n_sims, batch, n_sum, n_vars, n_regions;
    vbt_sweep_param par[VBT_SWEEP_MAX_PARAMS];
    double *values;             /* n_sims * n_params: simulation k's values */
    vbt_sweep_summary sum[VBT_SWEEP_MAX_SUMMARIES];
    char *vars[VBT_SWEEP_MAX_SUMMARIES];  /* the monitor's variables (expressions) */
    const vbt_monitor_type *mon_type;     /* raw, subsample or temporal_average */
    double mon_period;          /* ms; 0 for raw */
} vbt_sweep_plan;

/* Plan the "sweep" section of cfg (loaded with opts.sweep = 1): its keys are
 * checked like the rest of the file, with messages "'<file>': <what>".  In
 * random mode the values are drawn from streams 2^63 + q of cfg->seed, apart
 * from the simulations' noise streams.  VBT_EINVAL (the plan left cleared)
 * or VBT_ENOMEM. */
int vbt_sweep_plan_load(vbt_sweep_plan *plan, const vbt_sim_config *cfg, vbt_msg *msg);

/* Release what plan holds and zero it; NULL is a no-op. */
void vbt_sweep_plan_clear(vbt_sweep_plan *plan);

/* Give simulation b of the batch `sim` the parameter values of simulation k
 * of the plan; regions not listed keep their configured values.  buf:
 * scratch of vbt_sim_n_lanes(sim) doubles. */
void vbt_sweep_plan_apply(const vbt_sweep_plan *plan, vbt_sim *sim, size_t b, size_t k,
                          double *buf);

/* A running summary of one lane; zero it to start. */
typedef struct vbt_sweep_acc {
    double a, b;                /* mean and M2 (Welford), min, max, time, onset */
    double count;
} vbt_sweep_acc;

/* Add one sample of n lanes, x[l] taken at t_ms, to a[0..n), for summary
 * su; period_ms: the monitor's period (time_above counts it per sample). */
void vbt_sweep_acc_update(const vbt_sweep_summary *su, vbt_sweep_acc *a, size_t n,
                          const double *x, double t_ms, double period_ms);

/* The summary's value: the mean, the unbiased variance (0 with fewer than
 * two samples), min, max, the time above in ms, or the onset time (NaN
 * when never). */
double vbt_sweep_acc_value(const vbt_sweep_summary *su, const vbt_sweep_acc *a);

#ifdef __cplusplus
}
#endif

#endif
