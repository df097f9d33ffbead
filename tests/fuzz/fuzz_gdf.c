/* fuzz_gdf.c -- libFuzzer target: the single-file formats read through
 * libbiosig, which runs in a child process (clinical/recording_biosig.c):
 * a crash of libbiosig must come back as an error, never crash this
 * process.  The first input byte picks the file name's suffix (0: .gdf,
 * 1: .trc Micromed, 2: .eeg Nihon Kohden; others: .gdf), the rest is the
 * file.  When the open succeeds, up to 64 samples at both ends of every
 * channel are read (all the starts, then all the ends), and a read past the
 * end must be refused. */
#define _GNU_SOURCE
#include <string.h>

#include "fuzz_tmpfile.h"
#include "vbt_recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const suffix[] = {".gdf", ".trc", ".eeg"};
    if (size < 1)
        return 0;
    int k = data[0] < 3 ? data[0] : 0;
    /* one slot per suffix: a slot's suffix is fixed by its first use */
    const char *path = k == 0 ? fuzz_tmpfile(data + 1, size - 1, suffix[0])
                              : fuzz_tmpfile_slot(1, data + 1, size - 1, suffix[k]);
    if (!path || (k != 0 && strcmp(path + strlen(path) - 4, suffix[k]) != 0))
        return 0;
    vbt_recording *rec = NULL;
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_recording_open(&rec, path, &msg) != VBT_OK) {
        if (rec || !msg.text[0])
            abort();
        return 0;
    }
    /* the starts of every channel, then the ends: each pass is one block
     * range for the reader process, as a montage reads a window */
    double buf[64];
    for (int end = 0; end < 2; end++)
        for (size_t c = 0; c < vbt_recording_n_channels(rec); c++) {
            const vbt_rec_channel *ch = vbt_recording_channel(rec, c);
            int64_t ns = ch->n_samples, n = ns < 64 ? ns : 64;
            if (n > 0)
                vbt_recording_read(rec, c, end ? ns - n : 0, (size_t)n, buf);
            if (end && vbt_recording_read(rec, c, ns, 1, buf) != VBT_ERANGE)
                abort();
        }
    vbt_recording_free(rec);
    return 0;
}
