/* vbt_sim_config.h -- a simulation described by a JSON configuration file
 * (the input of `vbt simulate` and `vbt sweep`), parsed, validated and
 * planned: the connectome loaded, the simulator built with its parameters,
 * noise, stimulus, initial conditions and monitors.  The schema is
 * documented in docs/simulate-config.md (and the "sweep" section in
 * docs/sweep.md).
 *
 * Every key is checked: unknown keys, wrong types, sizes that disagree with
 * the connectome and out-of-range values are errors naming the file and the
 * key path ("'cfg.json': 'model.region_params[1].regions[0]' = 999 is not a
 * region index in 0..75").  Relative paths in the file are resolved against
 * its folder first, then against the current directory.
 */
#ifndef VBT_SIM_CONFIG_H
#define VBT_SIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cJSON's node (<cJSON.h>); only pointers to it here. */
struct cJSON;

/* At most this many monitors in one configuration. */
#define VBT_SIM_CONFIG_MAX_MONITORS 16

/* One configured monitor (plain data, owned by its vbt_sim_config). */
typedef struct vbt_sim_config_monitor {
    char name[64];              /* output stem: <name>.npy, <name>_time.npy */
    size_t index;               /* monitor index in the simulator */
    int edf;                    /* seeg, eeg: also write <name>.edf */
    char *sensors_path;         /* seeg, eeg: as resolved, else NULL */
    char *gain_path;            /* seeg, eeg with gain_npy: as resolved, else NULL */
    struct cJSON *resolved;     /* internal: this monitor's keys while loading, moved
                                   into the configuration's resolved once loaded */
} vbt_sim_config_monitor;

/* A loaded configuration; its fields are read-only for the caller and
 * released together by vbt_sim_config_clear(). */
typedef struct vbt_sim_config {
    char *config_path;          /* the file, as given */
    char *connectome_path;      /* as resolved */
    char *history_path;         /* NULL unless initial.history_npy */
    vbt_connectome *conn;       /* loaded and normalised */
    vbt_sim *sim;               /* planned, seeded (stream 0), not yet run */
    double duration_ms;
    uint64_t n_steps;           /* ceil(duration_ms / dt_ms) */
    uint64_t seed;              /* the configuration's, or the override */
    size_t n_mon;
    vbt_sim_config_monitor mon[VBT_SIM_CONFIG_MAX_MONITORS];
    struct cJSON *resolved;     /* the configuration with every default filled in */
    struct cJSON *sweep;        /* the "sweep" section (opts.sweep), else NULL */
} vbt_sim_config;

typedef struct vbt_sim_config_opts {
    long long seed_override;    /* >= 0 replaces the configuration's seed; default -1 */
    uint64_t buffer_steps;      /* sizes the monitors' buffers (vbt_monitor_spec);
                                   default 0 */
    size_t batch;               /* simulations side by side; 0 or 1 (default): one */
    int sweep;                  /* 1: for `vbt sweep`: the file must have a "sweep"
                                   section, kept in cfg->sweep, and no monitor is set
                                   up; 0 (default): a "sweep" section is an error */
} vbt_sim_config_opts;

/* Fill opts with the defaults above. */
void vbt_sim_config_opts_default(vbt_sim_config_opts *opts);

/* Read, check and plan the configuration file at `path` into *cfg (opts
 * NULL: the defaults).  Returns VBT_OK, or VBT_EINVAL for a configuration
 * error, VBT_EIO / VBT_EFORMAT / VBT_ENOMEM ... for a file that cannot be
 * read, with one line in msg: "'<path>': <what>, naming the key".  On error
 * *cfg is left cleared (nothing to release). */
int vbt_sim_config_load(vbt_sim_config *cfg, const char *path, const vbt_sim_config_opts *opts,
                        vbt_msg *msg);

/* Release everything cfg holds and zero it; NULL is a no-op, and so is a
 * cleared configuration. */
void vbt_sim_config_clear(vbt_sim_config *cfg);

#ifdef __cplusplus
}
#endif

#endif
