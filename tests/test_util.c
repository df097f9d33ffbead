/* test_util.c -- helpers for the test programs. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

void tu_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        fail_msg("tu_fmt: '%.80s...' does not fit in %zu bytes", buf, n);
}

void tu_kill_when_exists(pid_t pid, const char *path, const char *what)
{
    struct stat sb;
    int ws, seen = 0;
    for (long i = 0; i < 600000 && !seen; i++) {
        seen = stat(path, &sb) == 0;
        if (!seen && waitpid(pid, &ws, WNOHANG) == pid)
            fail_msg("%s ended before it wrote %s", what, path);
        if (!seen)
            usleep(200);
    }
    if (!seen) {
        kill(pid, SIGKILL);
        waitpid(pid, &ws, 0);
        fail_msg("%s never wrote %s", what, path);
    }
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (!WIFSIGNALED(ws))
        fail_msg("%s ended before the kill: nothing to resume", what);
}

char *tu_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

extern char **environ;

int tu_run(const char *exe, const char *const argv[], const char *tmpdir, char **out,
           char **err)
{
    static int serial;
    char outp[4200], errp[4200];
    char *args[64];
    size_t n = 0;
    int k = serial++;
    snprintf(outp, sizeof outp, "%s/.tu_run%d.out", tmpdir, k);
    snprintf(errp, sizeof errp, "%s/.tu_run%d.err", tmpdir, k);
    args[n++] = (char *)exe;
    for (size_t i = 0; argv[i]; i++) {
        assert_true(n < sizeof args / sizeof args[0] - 1);
        args[n++] = (char *)argv[i];
    }
    args[n] = NULL;

    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, outp,
                                                      O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
    assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, errp,
                                                      O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot run %s: %s", exe, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));

    char *o = tu_slurp(outp, NULL), *e = tu_slurp(errp, NULL);
    assert_non_null(o);
    assert_non_null(e);
    unlink(outp);
    unlink(errp);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}
