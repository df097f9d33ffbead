/* fuzz_edf.c -- libFuzzer target: the input is an EDF/BDF(+) file, opened
 * (header checks, EDFlib, annotations) and, when accepted, read: up to 64
 * samples at the start and at the end of every channel. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmpfile(data, size, ".edf");
    if (!path)
        return 0;
    vbt_recording *rec = NULL;
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_recording_open(&rec, path, &msg) != VBT_OK) {
        if (rec || !msg.text[0])
            abort(); /* no handle on failure, and a message */
        return 0;
    }
    double buf[64];
    for (size_t c = 0; c < vbt_recording_n_channels(rec); c++) {
        const vbt_rec_channel *ch = vbt_recording_channel(rec, c);
        int64_t ns = ch->n_samples, n = ns < 64 ? ns : 64;
        if (n > 0) {
            vbt_recording_read(rec, c, 0, (size_t)n, buf);
            vbt_recording_read(rec, c, ns - n, (size_t)n, buf);
        }
        /* out of range: refused, not read */
        if (vbt_recording_read(rec, c, ns, 1, buf) != VBT_ERANGE)
            abort();
    }
    for (size_t a = 0; a < vbt_recording_n_annotations(rec); a++)
        (void)vbt_recording_annotation(rec, a);
    vbt_recording_free(rec);
    return 0;
}
