/* vbt_parcellation.h -- parcellation (label) volumes and their label tables.
 *
 * A parcellation is an integer label volume (NIfTI-1 or NIfTI-2, .nii or
 * .nii.gz) plus a table naming its labels.  Loading it gives one region per
 * label of the table, with its centroid and volume measured on the voxels,
 * and an index from every voxel to its region, used to localise contacts
 * and to compute volume gain matrices.
 *
 * Label tables, detected from their content:
 *   - FreeSurfer colour LUT: "index name R G B A" (whitespace; '#' comments);
 *   - TSV or CSV: "index<TAB>name" / "index,name", optionally with a header
 *     line naming the columns "index" and "name" (as BIDS dseg.tsv);
 *   - TVB volume mapping: "code name region-index" (whitespace); region
 *     index -1 drops the code; several codes with one index are merged into
 *     one region (named after the first and noted).
 * Label 0 is background in every format.  Regions come in table order, or in
 * region-index order for the TVB mapping format.
 *
 * Coordinates: voxel (i,j,k) maps to mm through the sform when its code is
 * non-zero, else the qform (NIfTI's default pixdim scaling when both codes
 * are zero).  Centroid = affine applied to the mean voxel index.
 */
#ifndef VBT_PARCELLATION_H
#define VBT_PARCELLATION_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"
#include "vbt_connectome.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One region of a parcellation (plain data owned by the parcellation). */
typedef struct vbt_region_info {
    long label;               /* label value in the volume (first code when merged) */
    long index;               /* TVB region index (mapping format), else position */
    char name[VBT_LABEL_MAX];
    double centroid_mm[3];    /* NaN when the label has no voxel */
    double volume_mm3;        /* voxel count x voxel volume */
    size_t n_voxels;
    int hemisphere;           /* 1 right, 0 left (TVB convention) */
    int cortical;             /* 1 cortical, 0 not */
} vbt_region_info;

/* Label table formats. */
typedef enum vbt_label_format {
    VBT_LABELS_LUT = 1,       /* FreeSurfer colour LUT */
    VBT_LABELS_TABLE,         /* TSV/CSV index,name */
    VBT_LABELS_TVB_MAPPING    /* code name region-index */
} vbt_label_format;

typedef struct vbt_parcellation vbt_parcellation;

/* Load a label volume and its table.  Accepts any integer datatype, and
 * float volumes whose values are all integers; refuses other datatypes,
 * non-integer values, 4-D volumes with more than one frame, non-finite or
 * singular affines.  Every error puts one line naming the file and the
 * problem in msg and leaves *out NULL. */
int vbt_parcellation_load(vbt_parcellation **out, const char *volume_path,
                          const char *labels_path, vbt_msg *msg);

/* Free; NULL is a no-op. */
void vbt_parcellation_free(vbt_parcellation *p);

/* Regions, in table order (n of them). */
size_t vbt_parcellation_n_regions(const vbt_parcellation *p);
const vbt_region_info *vbt_parcellation_regions(const vbt_parcellation *p);

/* Format the label table was read as. */
vbt_label_format vbt_parcellation_label_format(const vbt_parcellation *p);

/* Labels listed in the table but absent from the volume (pointer to count
 * values owned by p). */
size_t vbt_parcellation_missing(const vbt_parcellation *p, const long **labels);

/* Non-zero values present in the volume but absent from the table, with
 * their voxel counts (ascending label order). */
size_t vbt_parcellation_unlisted(const vbt_parcellation *p, const long **labels,
                                 const size_t **voxels);

/* Notes on the table worth a user's attention ("codes 51 and 52 merged into
 * region 44"); count and i-th note. */
size_t vbt_parcellation_n_notes(const vbt_parcellation *p);
const char *vbt_parcellation_note(const vbt_parcellation *p, size_t i);

/* Grid: dims[3], the voxel -> mm affine as a 3x4 row-major matrix, the
 * source of that affine ("sform", "qform" or "pixdim") and its NIfTI code
 * name ("scanner", "aligned", "talairach", "mni152", "template", "unknown"). */
void vbt_parcellation_grid(const vbt_parcellation *p, size_t dims[3], double affine[12],
                           const char **source, const char **space);

/* Volume of one voxel in mm^3 (|det| of the affine). */
double vbt_parcellation_voxel_mm3(const vbt_parcellation *p);

/* Region containing the point xyz (mm): its index into the regions, or the
 * nearest labelled voxel whose centre lies within radius_mm; -1 when none.
 * *dist_mm (may be NULL) gets 0 inside, the distance to that voxel centre
 * otherwise, NaN when none. */
long vbt_parcellation_locate(const vbt_parcellation *p, const double xyz[3],
                             double radius_mm, double *dist_mm);

/* Labelled voxels: count, their centres in mm (3 per voxel) and region
 * indices, owned by p (used by the volume gain).  Voxels come grouped by
 * region, in region order (region r's voxels follow those of r-1). */
size_t vbt_parcellation_voxels(const vbt_parcellation *p, const double **xyz_mm,
                               const int32_t **region);

/* Hemisphere guessed from a region name ("Left-", "ctx-lh-", "L_", "lh", ...
 * -> 0; right -> 1), -1 when the name does not tell. */
int vbt_region_name_hemisphere(const char *name);

/* Cortical flag guessed from a region name: 0 for white matter, ventricles,
 * subcortical nuclei, cerebellum, brain stem, corpus callosum; 1 otherwise. */
int vbt_region_name_cortical(const char *name);

#ifdef __cplusplus
}
#endif
#endif
