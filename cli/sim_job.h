/* sim_job.h -- a simulation described by a `vbt simulate` JSON configuration,
 * parsed, validated and planned.  The schema is documented in
 * docs/simulate-config.md. */
#ifndef VBT_CLI_SIM_JOB_H
#define VBT_CLI_SIM_JOB_H

#include <stdint.h>
#include <cJSON.h>

#include "vbt.h"

typedef struct sim_job_monitor {
    char name[64];              /* output stem: <name>.npy, <name>_time.npy */
    size_t index;               /* monitor index in the simulator */
    int edf;                    /* seeg, eeg: also write <name>.edf */
    char *sensors_path;         /* seeg, eeg: as resolved, else NULL */
    char *gain_path;            /* seeg, eeg with gain_npy: as resolved, else NULL */
    cJSON *resolved;            /* this monitor's keys with every default (moved into
                                   sim_job.resolved) */
} sim_job_monitor;

typedef struct sim_job {
    char *config_path;
    char *connectome_path;      /* as resolved */
    char *history_path;         /* NULL unless initial.history_npy */
    vbt_connectome *conn;
    vbt_sim *sim;
    double duration_ms;
    uint64_t n_steps;
    uint64_t seed;
    size_t n_mon;
    sim_job_monitor mon[16];
    cJSON *resolved;            /* the configuration with every default */
    cJSON *sweep;               /* the "sweep" section (vbt sweep), or NULL */
} sim_job;

typedef struct sim_job_opts {
    long long seed_override;    /* >= 0 replaces the configuration's seed */
    uint64_t buffer_steps;      /* sizes the monitors' buffers */
    size_t batch;               /* simulations side by side; 0 or 1: one */
    int sweep;                  /* 1: for `vbt sweep`: keep the "sweep" section in
                                   job->sweep and set up no monitors */
} sim_job_opts;

/* Parse and plan.  On error returns non-zero with one line in err (naming
 * the file and the key). */
int sim_job_load(sim_job *job, const char *config_path, const sim_job_opts *opts, char *err,
                 size_t errlen);
void sim_job_free(sim_job *job);

#endif
