/* vbt_common.h -- status codes, error messages and version of libvbt.
 *
 * Every fallible libvbt function returns an int status: VBT_OK (0) on
 * success, one of the VBT_E* codes otherwise.  Functions that build an
 * object take a vbt_msg * (may be NULL) which receives one human-readable
 * line naming the input and the problem; objects keep the message of their
 * last failure (see e.g. vbt_sim_errmsg()).  The library never prints and
 * never exits.
 */
#ifndef VBT_COMMON_H
#define VBT_COMMON_H

#include <stddef.h>
#include "vbt_version.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vbt_status {
    VBT_OK = 0,
    VBT_EINVAL = 1,   /* invalid argument or configuration */
    VBT_ENOMEM = 2,   /* allocation failed */
    VBT_EIO = 3,      /* file could not be opened, read or written */
    VBT_EFORMAT = 4,  /* file content malformed */
    VBT_ENUMERIC = 5, /* NaN/Inf or numerical failure */
    VBT_ERANGE = 6,   /* value or size out of range */
    VBT_EEXIST = 7,   /* output exists and overwriting was not allowed */
    VBT_ENOTFOUND = 8 /* named item (model, parameter, label) not found */
};

/* Name of a status code ("invalid argument", ...); never NULL. */
const char *vbt_strerror(int status);

/* One error message line; always NUL-terminated. */
#define VBT_MSG_LEN 1024
typedef struct vbt_msg {
    char text[VBT_MSG_LEN];
} vbt_msg;

/* Run-time version string ("0.1.0"), to compare with VBT_VERSION. */
const char *vbt_version(void);

#ifdef __cplusplus
}
#endif
#endif
