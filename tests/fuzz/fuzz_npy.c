/* fuzz_npy.c -- libFuzzer target for the .npy parser: any byte string must
 * either parse into a consistent array or fail with a message, never read
 * out of bounds or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vbt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vbt_array a;
    vbt_msg msg;
    if (vbt_npy_parse(data, size, "fuzz", &a, &msg) == VBT_OK) {
        size_t n = 1;
        for (size_t d = 0; d < a.ndim; d++)
            n *= a.shape[d];
        if (n != a.size || (a.size > 0 && !a.data))
            abort();
        /* Touch every value so ASan checks the allocation's extent. */
        volatile double sum = 0.0;
        for (size_t i = 0; i < a.size; i++)
            sum += a.data[i];
        (void)sum;
    }
    vbt_array_clear(&a);
    return 0;
}
