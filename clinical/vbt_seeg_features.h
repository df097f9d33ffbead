/* vbt_seeg_features.h -- `vbt seeg features` as a library call: the SEEG
 * feature of the seizure (vbt_features_compute, vbt_seeg.h) over the
 * recording's seizure window and the command's output files
 * (features.npy [time, channel], features_time.npy, channels.tsv with each
 * channel's name and mean(feature^2), run.json with the inputs' SHA-256). */
#ifndef VBT_SEEG_FEATURES_H
#define VBT_SEEG_FEATURES_H

#include <stddef.h>

#include "vbt_common.h"
#include "vbt_io.h"
#include "vbt_recording.h"
#include "vbt_seeg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_seeg_features_job {
    vbt_recording *rec;          /* borrowed; its seizure onset and offset as set */
    vbt_montage *m;              /* borrowed: the channels */
    const char *montage;         /* the montage's name, for run.json */
    vbt_features_opts opts;      /* vbt_features_opts_default() and the caller's changes */
    double pre_scale, post_scale; /* pre_scale > 0: the window spans pre_scale and
                                    post_scale seizure durations around the seizure
                                    (instead of opts.pre_s, opts.post_s) */
    const char *regions;         /* another input recorded in run.json ("regions"), or NULL */
    int sidecars;                /* 1: record the BIDS sidecars found beside the recording */
    int argc;                    /* the equivalent command line, for run.json (may be 0) */
    char *const *argv;
} vbt_seeg_features_job;

/* What the run computed. */
typedef struct vbt_seeg_features_info {
    size_t n_chan, n_time;
    double t0_s, t1_s;           /* the window */
    double wall_s;
} vbt_seeg_features_info;

/* Compute the feature and write the outputs into od (begun by the caller,
 * who commits it).  info may be NULL.  Errors of vbt_features_compute, or
 * VBT_EIO / VBT_ENOMEM writing. */
int vbt_seeg_features_run(const vbt_seeg_features_job *j, vbt_outdir *od,
                          vbt_seeg_features_info *info, vbt_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
