/* internal.h -- helpers shared by libvbt's own sources; not installed. */
#ifndef VBT_INTERNAL_H
#define VBT_INTERNAL_H

#include <stdarg.h>
#include "vbt_common.h"

#if defined(__GNUC__)
#define VBT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define VBT_UNUSED __attribute__((unused))
#else
#define VBT_PRINTF(a, b)
#define VBT_UNUSED
#endif

/* Hot kernels are compiled for several x86-64 levels (baseline SSE2, AVX2 +
 * FMA, AVX-512) and the best one for the running CPU is picked when the
 * library loads, so one binary is both portable and fast. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(VBT_NO_CLONES)
#define VBT_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VBT_KERNEL
#endif

/* Innermost arithmetic kernels that replace an optimised library call
 * (BLAS): not instrumented by AddressSanitizer, as the library they replace
 * was not, so that the sanitizer build runs the same tests in comparable
 * time.  Their callers stay instrumented, and the kernels' bounds are
 * tested against a naive reference at every size they block for. */
#if defined(__GNUC__)
#define VBT_NO_ASAN __attribute__((no_sanitize_address))
#else
#define VBT_NO_ASAN
#endif

/* Symbols shared between libvbt's files but not part of its API. */
#if defined(__GNUC__)
#define VBT_HIDDEN __attribute__((visibility("hidden")))
#else
#define VBT_HIDDEN
#endif

/* Set msg (may be NULL) from a printf format and return status.  Every
 * error in the library goes through here: one breakpoint catches them all. */
VBT_HIDDEN int vbt__fail(vbt_msg *msg, int status, const char *fmt, ...) VBT_PRINTF(3, 4);
VBT_HIDDEN int vbt__vfail(vbt_msg *msg, int status, const char *fmt, va_list ap);

/* Clear a message. */
VBT_HIDDEN void vbt__msg_clear(vbt_msg *msg);

/* Atomic file output (io_files.c): open a temporary file beside `path`,
 * then commit (flush, fsync, rename into place) or discard it.  Used by
 * every writer so that no output is ever half-written. */
#include <stdio.h>
VBT_HIDDEN int vbt__atomic_open(const char *path, int overwrite, FILE **f, char **tmp,
                                vbt_msg *msg);
VBT_HIDDEN int vbt__atomic_commit(const char *path, FILE *f, char *tmp, int overwrite,
                                  vbt_msg *msg);
VBT_HIDDEN void vbt__atomic_discard(FILE *f, char *tmp);

#endif
