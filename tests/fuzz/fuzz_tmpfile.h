/* fuzz_tmpfile.h -- the fuzz targets whose parsers read a path: the input is
 * written to one temporary file per process (removed at exit), named with
 * the suffix the parser may look at (a second slot for a companion file). */
#ifndef VBT_FUZZ_TMPFILE_H
#define VBT_FUZZ_TMPFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_TMP_SLOTS 2
static char fuzz_tmp_path[FUZZ_TMP_SLOTS][4096];
/* The folder of the files: $TMPDIR or /tmp unless a target sets it before
 * its first call (fuzz_config: beside the data its inputs name). */
static const char *fuzz_tmp_dir;

static void fuzz_tmp_remove(void)
{
    for (int k = 0; k < FUZZ_TMP_SLOTS; k++)
        if (fuzz_tmp_path[k][0])
            unlink(fuzz_tmp_path[k]);
}

/* Temporary file `slot` (0 or 1; its suffix is fixed by the first call)
 * holding data[size], or NULL. */
static const char *fuzz_tmpfile_slot(int slot, const uint8_t *data, size_t size,
                                     const char *suffix)
{
    static int registered;
    char *path = fuzz_tmp_path[slot];
    if (!path[0]) {
        const char *dir = fuzz_tmp_dir ? fuzz_tmp_dir : getenv("TMPDIR");
        snprintf(path, sizeof fuzz_tmp_path[slot], "%s/.vbt-fuzz-XXXXXX%s", dir ? dir : "/tmp",
                 suffix);
        int fd = mkstemps(path, (int)strlen(suffix));
        if (fd < 0) {
            path[0] = '\0';
            return NULL;
        }
        close(fd);
        if (!registered++)
            atexit(fuzz_tmp_remove);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    int ok = size == 0 || fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? path : NULL;
}

/* The temporary file holding data[size], or NULL. */
static const char *fuzz_tmpfile(const uint8_t *data, size_t size, const char *suffix)
{
    return fuzz_tmpfile_slot(0, data, size, suffix);
}

#endif
