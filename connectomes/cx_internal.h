/* cx_internal.h -- helpers shared by the connectomes/ sources; not installed. */
#ifndef VBT_CX_INTERNAL_H
#define VBT_CX_INTERNAL_H

#include <stddef.h>
#include "internal.h"
#include "vbt_common.h"

/* Largest text input accepted (labels, matrices, sensors, surfaces). */
#define VBT__CX_TEXT_MAX ((size_t)256 << 20)

/* Read a whole text file; a name ending in ".bz2" is decompressed in memory.
 * The buffer is NUL-terminated; embedded NUL bytes are an error. */
VBT_HIDDEN int vbt__cx_read_text(const char *path, char **buf, size_t *len, vbt_msg *msg);

/* A line cursor over a NUL-terminated buffer: returns the next line (without
 * its end of line, a CR before LF removed) as [*b, *e), or 0 at the end. */
typedef struct vbt__cx_lines {
    const char *p;
    size_t lineno;
} vbt__cx_lines;
VBT_HIDDEN int vbt__cx_next_line(vbt__cx_lines *c, const char **b, const char **e);

/* Split [b, e) into at most max fields.  sep: '\t', ',' or ' ' (runs of
 * blanks).  Fields are trimmed of blanks.  Returns the number of fields;
 * f[i] and flen[i] give each one (not NUL-terminated). */
VBT_HIDDEN size_t vbt__cx_split(const char *b, const char *e, char sep, const char **f,
                                size_t *flen, size_t max);

/* 1 when [b, e) is blank or a comment ('#'). */
VBT_HIDDEN int vbt__cx_blank(const char *b, const char *e);

/* Parse a whole field as a finite double / as an integer (a float text such
 * as "3.0" holding an integer is accepted when allow_float).  0 on success. */
VBT_HIDDEN int vbt__cx_parse_double(const char *s, size_t len, double *out);
VBT_HIDDEN int vbt__cx_parse_long(const char *s, size_t len, int allow_float, long *out);

/* Copy a field into a NUL-terminated buffer of size n (truncating). */
VBT_HIDDEN void vbt__cx_copy(char *dst, size_t n, const char *s, size_t len);

/* Base name of a path (pointer into it). */
VBT_HIDDEN const char *vbt__cx_base(const char *path);

/* 1 when path ends with suffix (case-insensitive). */
VBT_HIDDEN int vbt__cx_ends_with(const char *path, const char *suffix);

/* Parse a numeric matrix from text: rows are lines (blank and '#' lines
 * skipped), fields separated by commas, tabs or blanks (a row's separator
 * is a comma when it holds one, else blanks).  Every row must have the same
 * number of fields.  "nan"/"n/a" fields become NaN when allow_nan, else
 * are errors.  `what` names the input in messages. */
VBT_HIDDEN int vbt__cx_parse_matrix(const char *what, const char *buf, int allow_nan,
                                    double **out, size_t *rows, size_t *cols, vbt_msg *msg);

#endif
