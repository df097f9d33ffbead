/* fuzz_connectome.c -- libFuzzer target: the input is a connectivity .zip,
 * written to a temporary file and loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbt_connectome.h"

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
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof tmp_path, "%s/vbt-fuzz-conn-XXXXXX", dir ? dir : "/tmp");
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
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);

    vbt_connectome *c = NULL;
    vbt_msg msg;
    if (vbt_connectome_load(&c, tmp_path, &msg) == VBT_OK) {
        vbt_connectome_validate(c, "fuzz", &msg);
        vbt_connectome_normalize(c, VBT_NORMALIZE_ROWSUM, &msg);
        vbt_connectome_free(c);
    }
    return 0;
}
