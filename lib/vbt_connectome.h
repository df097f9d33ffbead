/* vbt_connectome.h -- structural connectomes in The Virtual Brain's format.
 *
 * A connectome is a plain struct the caller may also fill in by hand
 * (vbt_connectome_alloc() gives one with zeroed arrays).  Convention, as in
 * TVB: weights[i*n + j] is the connection FROM region j TO region i
 * (row = target).  Lengths are tract lengths in mm.
 */
#ifndef VBT_CONNECTOME_H
#define VBT_CONNECTOME_H

#include <stddef.h>
#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VBT_LABEL_MAX 128

typedef struct vbt_connectome {
    size_t n;              /* number of regions */
    double *weights;       /* n*n, row = target, >= 0 */
    double *lengths;       /* n*n tract lengths (mm), >= 0 */
    double *centres;       /* n*3 region centres (mm) */
    char (*labels)[VBT_LABEL_MAX]; /* n labels, NUL-terminated UTF-8 */
    double *areas;         /* n, or NULL when absent */
    int *cortical;         /* n (0/1), or NULL when absent */
    int *hemispheres;      /* n (1 = right, 0 = left as in TVB), or NULL */
    double *orientations;  /* n*3, or NULL when absent */
} vbt_connectome;

/* Weight normalisation applied after loading. */
typedef enum vbt_normalize {
    VBT_NORMALIZE_NONE = 0,
    VBT_NORMALIZE_MAX,     /* divide every weight by the largest weight */
    VBT_NORMALIZE_ROWSUM   /* divide each row (target) by its sum; empty rows stay 0 */
} vbt_normalize;

/* Allocate a connectome of n regions with weights, lengths, centres and
 * labels zeroed; optional arrays are NULL.  Returns NULL when out of memory
 * or n == 0. */
vbt_connectome *vbt_connectome_alloc(size_t n);

/* Free a connectome and all its arrays; NULL is a no-op. */
void vbt_connectome_free(vbt_connectome *c);

/* Deep copy; NULL when out of memory. */
vbt_connectome *vbt_connectome_copy(const vbt_connectome *c);

/* Load a TVB connectivity from a .zip archive or a directory holding
 * weights.txt, tract_lengths.txt, centres.txt (label x y z) and optionally
 * areas.txt, cortical.txt, hemispheres.txt, average_orientations.txt; any
 * member may instead be stored bzip2-compressed as NAME.bz2.  Members may sit
 * in one sub-folder of the zip.  On success *out owns a new connectome.
 * Errors (VBT_EIO, VBT_EFORMAT, VBT_ENUMERIC, VBT_ENOMEM) leave *out NULL and
 * put one line in msg naming the file, the member and the problem. */
int vbt_connectome_load(vbt_connectome **out, const char *path, vbt_msg *msg);

/* Check sizes, finiteness and signs (weights and lengths >= 0, finite
 * centres).  `what` names the connectome in the message. */
int vbt_connectome_validate(const vbt_connectome *c, const char *what, vbt_msg *msg);

/* Normalise weights in place. */
int vbt_connectome_normalize(vbt_connectome *c, vbt_normalize how, vbt_msg *msg);

/* Parse "none", "max", "row-sum" (also "rowsum"); VBT_ENOTFOUND otherwise. */
int vbt_normalize_parse(const char *name, vbt_normalize *how);
const char *vbt_normalize_name(vbt_normalize how);

/* Index of the region with this label, or -1. */
long vbt_connectome_find_label(const vbt_connectome *c, const char *label);

#ifdef __cplusplus
}
#endif
#endif
