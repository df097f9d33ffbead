/* bids_internal.h -- the BIDS TSV reader of bids.c, shared with the cohort
 * reader (cohort.c); not installed. */
#ifndef VBT_BIDS_INTERNAL_H
#define VBT_BIDS_INTERNAL_H

#include <stddef.h>

#include "internal.h"

/* A TSV file split in place: rows of NUL-terminated fields.  A leading
 * UTF-8 byte-order mark, CR before LF and blank lines are dropped; every
 * row must have the header's number of fields. */
typedef struct vbt__tsv {
    char *buf;
    size_t n_rows, n_cols;   /* n_rows excludes the header */
    char **cell;             /* (n_rows + 1) * n_cols */
} vbt__tsv;

VBT_HIDDEN int vbt__tsv_read(const char *path, vbt__tsv *t, vbt_msg *msg);
VBT_HIDDEN void vbt__tsv_free(vbt__tsv *t);
/* Column index of `name` (exact), -1 when absent. */
VBT_HIDDEN long vbt__tsv_col(const vbt__tsv *t, const char *name);
/* Field of data row `row` (0-based) in column col; NULL when col < 0. */
VBT_HIDDEN const char *vbt__tsv_get(const vbt__tsv *t, size_t row, long col);

#endif
