/* textbuf.h -- a growing text buffer for the CSV, JSON and HTML the
 * clinical library writes (internal; cli/strbuf.h is the command line's).
 * Allocation failure is sticky (oom) and reported when written. */
#ifndef VBT_CLINICAL_TEXTBUF_H
#define VBT_CLINICAL_TEXTBUF_H

#include <stddef.h>

#include "internal.h"
#include "vbt_io.h"

typedef struct vbt__textbuf {
    char *s;
    size_t len, cap;
    int oom;
} vbt__textbuf;

/* Append printf-formatted text. */
VBT_HIDDEN void vbt__tb_printf(vbt__textbuf *b, const char *fmt, ...) VBT_PRINTF(2, 3);
/* A CSV field: the label in double quotes (quotes doubled). */
VBT_HIDDEN void vbt__tb_label(vbt__textbuf *b, const char *label);
/* Write the buffer atomically as `path` (overwriting), then free it:
 * VBT_OK, VBT_ENOMEM (an append failed) or VBT_EIO. */
VBT_HIDDEN int vbt__tb_write(vbt__textbuf *b, const char *path, vbt_msg *msg);

#endif
