/* vbt_contacts.h -- SEEG/EEG contact positions.
 *
 * Two formats, detected from the file name:
 *   - BIDS iEEG "*_electrodes.tsv" (columns name, x, y, z; contacts with
 *     "n/a" coordinates are skipped and counted) with its sibling
 *     "*_coordsystem.json" (same name with _electrodes.tsv replaced; its
 *     iEEGCoordinateSystem names the space and iEEGCoordinateUnits, mm, cm
 *     or m, the unit: positions are converted to mm);
 *   - TVB sensor text "label x y z" (whitespace, mm), possibly .bz2;
 *     labels are UTF-8 ("A´1").
 * Contacts are grouped into electrodes by label prefix (the label without
 * its trailing digits), electrodes in order of first appearance, contacts
 * in increasing number within an electrode.
 */
#ifndef VBT_CONTACTS_H
#define VBT_CONTACTS_H

#include <stddef.h>
#include "vbt_common.h"
#include "vbt_connectome.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_contacts {
    size_t n;                        /* contacts */
    char (*labels)[VBT_LABEL_MAX];   /* n labels */
    double *pos;                     /* n*3 positions (mm) */
    size_t *electrode;               /* n electrode indices */
    long *number;                    /* n contact numbers (-1 when the label has none) */
    size_t n_electrodes;
    char (*electrodes)[VBT_LABEL_MAX]; /* n_electrodes electrode names */
    char space[64];                  /* coordinate system ("IXI549Space"), "" when unknown */
    size_t n_skipped;                /* BIDS rows without coordinates */
} vbt_contacts;

/* Load contacts (format by name: *.tsv = BIDS, else TVB text).  *out owns a
 * new struct; errors leave it NULL with one line in msg. */
int vbt_contacts_load(vbt_contacts **out, const char *path, vbt_msg *msg);

/* Free; NULL is a no-op. */
void vbt_contacts_free(vbt_contacts *c);

/* Bipolar pairs: consecutive contacts (numbers k and k+1) of one electrode.
 * *pairs gets 2*(*n_pairs) contact indices (malloc'd, caller frees):
 * pair p is pairs[2p] - pairs[2p+1]. */
int vbt_contacts_bipolar(const vbt_contacts *c, size_t **pairs, size_t *n_pairs,
                         vbt_msg *msg);

/* Centroid-cloud overlap test for contacts and a set of region centres:
 * 1 when the contacts' bounding box, grown by margin_mm, contains none of
 * the centres' bounding box (clouds that cannot be in one space). */
int vbt_contacts_disjoint(const vbt_contacts *c, const double *centres, size_t n,
                          double margin_mm);

/* Whether contacts in BIDS space `contacts_space` may be compared with a
 * volume whose NIfTI transform code is `volume_space` (as given by
 * vbt_parcellation_grid: "scanner", "aligned", "talairach", "mni152",
 * "template", "unknown").  Template spaces (MNI152*, IXI549Space, ICBM452*,
 * MNI305, fsaverage*, Talairach) need a template volume (mni152, talairach,
 * template or aligned); native spaces (ScanRAS, ACPC, Other, ...) need a
 * scanner or aligned volume.  Returns 1 compatible, 0 not, -1 unknown (an
 * empty space or an "unknown" volume code). */
int vbt_space_compatible(const char *contacts_space, const char *volume_space);

#ifdef __cplusplus
}
#endif
#endif
