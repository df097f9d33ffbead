/* test_util.h -- small helpers shared by the cmocka test programs. */
#ifndef VBT_TEST_UTIL_H
#define VBT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>

/* Directory of the shipped test data (env VBT_TEST_DATA) and sample data
 * (env VBT_SAMPLES); fall back to paths relative to the source tree. */
const char *tu_data_dir(void);
const char *tu_samples_dir(void);

/* Path inside a directory into a static rotating buffer (8 slots). */
const char *tu_path(const char *dir, const char *name);

/* A fresh empty temporary directory (removed by tu_rmtree). */
char *tu_mkdtemp(void);
/* Remove a directory tree; NULL-safe. */
void tu_rmtree(const char *path);

/* Write a text file (creating parent dirs is not done). */
void tu_write_file(const char *path, const char *text);
/* Write bytes. */
void tu_write_bytes(const char *path, const void *buf, size_t len);
/* 1 when the path exists. */
int tu_exists(const char *path);
/* Number of entries (excluding . and ..) in a directory, -1 if absent. */
int tu_count_entries(const char *dir);

/* snprintf into buf (n bytes) that fails the test when the text does not
 * fit (paths built from a temporary folder: no silently truncated name). */
void tu_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read a whole file into a NUL-terminated malloc'd buffer (length in *len
 * when len is not NULL); NULL when the file cannot be opened. */
char *tu_slurp(const char *path, size_t *len);

/* kill -9 of a forked child once it has written `path` (a checkpoint):
 * waits for the file (about two minutes at most), then SIGKILL and reaps
 * the child.  Fails the test naming `what` when the child ends before the
 * file appears, when the file never appears, or when the child ended before
 * the kill (nothing would be left to resume). */
void tu_kill_when_exists(pid_t pid, const char *path, const char *what);

/* Run `exe ARGS...` (argv is NULL-terminated and excludes the program name)
 * with stdin from /dev/null; stdout and stderr are captured through files in
 * tmpdir and returned in *out and *err (malloc'd; freed when NULL).  Returns
 * the exit status, 128 + signal when killed, -1 otherwise; fails the test
 * when the program cannot be started. */
int tu_run(const char *exe, const char *const argv[], const char *tmpdir, char **out,
           char **err);

/* Relative error |a-b| / max(|b|, tiny). */
double tu_relerr(double a, double b);

/* Assert |a - b| <= tol with a readable message. */
#define assert_close(a, b, tol) \
    tu_assert_close((a), (b), (tol), #a, __FILE__, __LINE__)
void tu_assert_close(double a, double b, double tol, const char *expr,
                     const char *file, int line);

#endif
