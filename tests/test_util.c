/* test_util.c -- helpers for the test programs. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_data_dir(void)
{
    const char *d = getenv("VBT_TEST_DATA");
    return d ? d : "tests/data";
}

const char *tu_samples_dir(void)
{
    const char *d = getenv("VBT_SAMPLES");
    return d ? d : "data-samples";
}

const char *tu_path(const char *dir, const char *name)
{
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot];
    slot = (slot + 1) % 8;
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/vbt-test-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d) {
        fail_msg("mkdtemp failed: %s", strerror(errno));
    }
    return strdup(d);
}

void tu_rmtree(const char *path)
{
    if (!path)
        return;
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                tu_rmtree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

void tu_write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    if (len && fwrite(buf, 1, len, f) != len)
        fail_msg("short write %s", path);
    fclose(f);
}

void tu_write_file(const char *path, const char *text)
{
    tu_write_bytes(path, text, strlen(text));
}

int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

double tu_relerr(double a, double b)
{
    double den = fabs(b) > 1e-300 ? fabs(b) : 1e-300;
    return fabs(a - b) / den;
}

void tu_assert_close(double a, double b, double tol, const char *expr,
                     const char *file, int line)
{
    if (!(fabs(a - b) <= tol)) {
        print_error("%s:%d: %s = %.17g, expected %.17g (tol %.3g, diff %.3g)\n",
                       file, line, expr, a, b, tol, fabs(a - b));
        _fail(file, line);
    }
}
