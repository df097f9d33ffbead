/* fuzz_brainvision.c -- libFuzzer target: vbt's own BrainVision reader
 * (clinical/recording_brainvision.c).
 * The input is three files separated by the first two 0x00 bytes: the
 * header (.vhdr), the marker file (.vmrk) and the binary data (.eeg, the
 * rest).  They are written as f.vhdr, f.vmrk and f.eeg in a private
 * folder, so the header's DataFile=f.eeg / MarkerFile=f.vmrk find them.
 * When the open succeeds, up to 64 samples at both ends of every channel
 * are read, and a read past the end must be refused. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vbt_recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[4096];

static void cleanup(void)
{
    static const char *const names[] = {"f.vhdr", "f.vmrk", "f.eeg"};
    char p[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int put(const char *name, const uint8_t *d, size_t n)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    int ok = n == 0 || fwrite(d, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/.vbt-fuzz-bv-XXXXXX", t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            dir[0] = '\0';
            return 0;
        }
        atexit(cleanup);
    }
    const uint8_t *z1 = memchr(data, 0, size);
    size_t n0 = z1 ? (size_t)(z1 - data) : size;
    const uint8_t *p1 = z1 ? z1 + 1 : data + size;
    size_t left = size - (size_t)(p1 - data);
    const uint8_t *z2 = memchr(p1, 0, left);
    size_t n1 = z2 ? (size_t)(z2 - p1) : left;
    const uint8_t *p2 = z2 ? z2 + 1 : p1 + left;
    size_t n2 = size - (size_t)(p2 - data);
    if (put("f.vhdr", data, n0) || put("f.vmrk", p1, n1) || put("f.eeg", p2, n2))
        return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/f.vhdr", dir);
    vbt_recording *rec = NULL;
    vbt_msg msg;
    msg.text[0] = '\0';
    if (vbt_recording_open(&rec, path, &msg) != VBT_OK) {
        if (rec || !msg.text[0])
            abort();
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
        if (vbt_recording_read(rec, c, ns, 1, buf) != VBT_ERANGE)
            abort();
    }
    vbt_recording_free(rec);
    return 0;
}
