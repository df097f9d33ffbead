/* fuzz_connectome.c -- libFuzzer target: the input is a connectivity .zip,
 * written to a temporary file and loaded. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_connectome.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tmp_path = fuzz_tmpfile(data, size, "");
    if (!tmp_path)
        return 0;
    vbt_connectome *c = NULL;
    vbt_msg msg;
    if (vbt_connectome_load(&c, tmp_path, &msg) == VBT_OK) {
        vbt_connectome_validate(c, "fuzz", &msg);
        vbt_connectome_normalize(c, VBT_NORMALIZE_ROWSUM, &msg);
        vbt_connectome_free(c);
    }
    return 0;
}
