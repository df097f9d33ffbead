/* fuzz_tmpfile.h -- the fuzz targets whose parsers read a path: the input is
 * written to one temporary file per process (removed at exit), named with
 * the suffix the parser may look at. */
#ifndef VBT_FUZZ_TMPFILE_H
#define VBT_FUZZ_TMPFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_tmp_path[4096];

static void fuzz_tmp_remove(void)
{
    if (fuzz_tmp_path[0])
        unlink(fuzz_tmp_path);
}

/* The temporary file holding data[size], or NULL. */
static const char *fuzz_tmpfile(const uint8_t *data, size_t size, const char *suffix)
{
    if (!fuzz_tmp_path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_tmp_path, sizeof fuzz_tmp_path, "%s/vbt-fuzz-XXXXXX%s", dir ? dir : "/tmp",
                 suffix);
        int fd = mkstemps(fuzz_tmp_path, (int)strlen(suffix));
        if (fd < 0) {
            fuzz_tmp_path[0] = '\0';
            return NULL;
        }
        close(fd);
        atexit(fuzz_tmp_remove);
    }
    FILE *f = fopen(fuzz_tmp_path, "wb");
    if (!f)
        return NULL;
    int ok = size == 0 || fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? fuzz_tmp_path : NULL;
}

#endif
