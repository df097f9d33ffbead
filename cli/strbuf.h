/* strbuf.h -- a growing text buffer for the CSV, JSON and HTML the commands
 * write.  Allocation failure is sticky (oom) and reported when written. */
#ifndef VBT_CLI_STRBUF_H
#define VBT_CLI_STRBUF_H

#include <stddef.h>

#include "vbt.h"

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

/* Append printf-formatted text. */
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A CSV field: the label in double quotes (quotes doubled). */
void sb_label(strbuf *b, const char *label);
/* Write the buffer as a file of the staged directory, then free it. */
int sb_write(strbuf *b, vbt_outdir *od, const char *name, vbt_msg *msg);

#endif
