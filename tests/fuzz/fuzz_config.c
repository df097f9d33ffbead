/* fuzz_config.c -- libFuzzer target: the input is a `vbt simulate`
 * configuration, written to a temporary file and planned (not run). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmp_path[4096];

static void remove_tmp(void)
{
    if (tmp_path[0])
        unlink(tmp_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmp_path[0]) {
        /* Relative paths in the configuration resolve against the data
         * samples when FUZZ_CONFIG_DIR points there. */
        const char *dir = getenv("FUZZ_CONFIG_DIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/.vbt-fuzz-config-XXXXXX",
                 dir ? dir : "/tmp");
        int fd = mkstemp(tmp_path);
        if (fd < 0) {
            tmp_path[0] = '\0';
            return 0;
        }
        close(fd);
        atexit(remove_tmp);
    }
    FILE *f = fopen(tmp_path, "wb");
    if (!f)
        return 0;
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
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
