/* monitor.h -- internal monitor state shared by sim.c and monitors.c. */
#ifndef VBT_MONITOR_INTERNAL_H
#define VBT_MONITOR_INTERNAL_H

#include <stdint.h>
#include "internal.h"
#include "vbt_sim.h"

typedef struct vbt__monitor {
    const vbt_monitor_type *type;
    size_t n_vars;
    vbt_observable *obs;        /* n_vars */
    size_t n;                   /* lanes (regions) */
    double dt;
    uint64_t istep;             /* steps per sample */
    double *acc;                /* n_vars * n running sum (temporal_average) */
    double *data;               /* cap * n_vars * n */
    double *times;              /* cap */
    size_t cap, count;
} vbt__monitor;

/* Build a monitor for model m; fills *mon (zeroed by the caller). */
VBT_HIDDEN int vbt__monitor_init(vbt__monitor *mon, const vbt_monitor_spec *spec,
                                 const vbt_model_type *m, size_t n, double dt,
                                 vbt_msg *msg);
VBT_HIDDEN void vbt__monitor_destroy(vbt__monitor *mon);
/* Forget samples and the averaging window (start of a run). */
VBT_HIDDEN void vbt__monitor_reset(vbt__monitor *mon);
/* Samples emitted by the steps s0+1 .. s0+n_steps. */
VBT_HIDDEN uint64_t vbt__monitor_samples_between(const vbt__monitor *mon, uint64_t s0,
                                                 uint64_t n_steps);
/* Called after step `step` (1-based) with the new state x. */
VBT_HIDDEN void vbt__monitor_record(vbt__monitor *mon, uint64_t step, const double *x);

#endif
