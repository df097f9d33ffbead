/* fuzz_config.c -- libFuzzer target: the input is a `vbt simulate`
 * configuration, written to a temporary file and planned (not run). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tmpfile.h"
#include "sim_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Relative paths in the configuration resolve against the data samples
     * when FUZZ_CONFIG_DIR points there. */
    if (!fuzz_tmp_dir)
        fuzz_tmp_dir = getenv("FUZZ_CONFIG_DIR");
    const char *tmp_path = fuzz_tmpfile(data, size, "");
    if (!tmp_path)
        return 0;
    sim_job job;
    char err[1024];
    sim_job_opts opts = {.seed_override = -1, .buffer_steps = 64};
    if (sim_job_load(&job, tmp_path, &opts, err, sizeof err) == 0) {
        /* A few steps only: the target is the parser, not the physics. */
        vbt_sim_run(job.sim, 8);
    }
    sim_job_free(&job);
    return 0;
}
