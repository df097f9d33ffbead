/* fuzz_config.c -- libFuzzer target: the input is a `vbt simulate`
 * configuration, written to a temporary file and planned (not run). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt.h"

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
    vbt_sim_config job;
    vbt_msg msg;
    vbt_sim_config_opts opts;
    vbt_sim_config_opts_default(&opts);
    opts.buffer_steps = 64;
    if (vbt_sim_config_load(&job, tmp_path, &opts, &msg) == 0) {
        /* A few steps only: the target is the parser, not the physics. */
        vbt_sim_run(job.sim, 8);
    }
    vbt_sim_config_clear(&job);
    return 0;
}
