/* vbt_connectome_build.h -- a subject connectome from a parcellation, a
 * tractography matrix and an atlas prior; writing TVB connectivities.
 *
 * Matrices follow tck2connectome: node i = region i of the parcellation
 * (table order), no header, CSV/TSV/whitespace text or .npy.  "nan" (or
 * "n/a", or an empty CSV field) marks an entry as missing.  A matrix whose
 * strictly lower triangle is all zero while the upper is not is taken as
 * undirected and mirrored (tck2connectome's default output).
 *
 * Combination (documented in docs/connectomes.md):
 *   missing(i,j) = subject weight NaN, or mask(i,j), or region i or j lesioned
 *   prior none:  W = norm(subject), missing entries 0
 *   prior fill:  atlas rescaled to the subject's largest weight, used where
 *                missing, then norm() of the whole
 *   prior blend: W = alpha norm(subject) + (1 - alpha) norm(atlas) where both
 *                exist (atlas alone where the subject is missing, subject
 *                alone where the atlas has no matching region); with
 *                normalisation "none" both are max-normalised and the result
 *                multiplied by the subject's largest weight
 *   prior only:  W = norm(atlas)
 * Lengths, every pair i != j: the subject's length when finite, > 0 and not
 * missing; else the atlas length times d_subject(i,j) / d_atlas(i,j) (the
 * ratio of centroid distances) when the atlas has one; else tortuosity x the
 * Euclidean distance between the subject's centroids.  Diagonal lengths 0.
 */
#ifndef VBT_CONNECTOME_BUILD_H
#define VBT_CONNECTOME_BUILD_H

#include <stddef.h>
#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_parcellation.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default ratio of tract length to straight-line distance between centroids
 * (fibres curve: measured ratios are about 1.1 to 1.5). */
#define VBT_TORTUOSITY_DEFAULT 1.25

typedef enum vbt_weight_norm {
    VBT_WNORM_NONE = 0,
    VBT_WNORM_MAX,        /* divide by the largest weight */
    VBT_WNORM_ROWSUM,     /* each row by its sum */
    VBT_WNORM_LOG1P_MAX   /* log1p(w), then divide by the largest */
} vbt_weight_norm;

typedef enum vbt_prior_mode {
    VBT_PRIOR_NONE = 0, VBT_PRIOR_FILL, VBT_PRIOR_BLEND, VBT_PRIOR_ONLY
} vbt_prior_mode;

/* Where an entry came from. */
enum { VBT_SRC_NONE = 0, VBT_SRC_SUBJECT, VBT_SRC_ATLAS, VBT_SRC_BLEND, VBT_SRC_GEOMETRY,
       VBT_SRC_COUNT };

typedef struct vbt_build_opts {
    int symmetrise;                 /* W <- (W + W^T)/2 (after mirroring) */
    int zero_diagonal;
    vbt_weight_norm normalize;
    vbt_prior_mode prior;
    double alpha;                   /* blend: weight of the subject, in [0, 1] */
    double tortuosity;              /* >= 1 */
    const unsigned char *mask;      /* n*n, nonzero = subject entry flagged; or NULL */
    const int *lesioned;            /* n flags; or NULL */
} vbt_build_opts;

/* Defaults: no symmetrisation, diagonal kept, no normalisation, no prior,
 * alpha 0.5, tortuosity VBT_TORTUOSITY_DEFAULT. */
void vbt_build_opts_default(vbt_build_opts *o);

/* What the build did, entry by entry (owned; vbt_build_report_clear frees). */
typedef struct vbt_build_report {
    size_t n;
    unsigned char *weight_src;      /* n*n VBT_SRC_* of each weight */
    unsigned char *length_src;      /* n*n VBT_SRC_* of each length */
    size_t n_weight[VBT_SRC_COUNT]; /* counts over non-zero weights */
    size_t n_length[VBT_SRC_COUNT]; /* counts over connected pairs (weight > 0, i != j) */
    long *atlas_index;              /* n: atlas region of each subject region, -1 none */
    int mirrored;                   /* the subject matrix was upper-triangular */
} vbt_build_report;
void vbt_build_report_clear(vbt_build_report *r);

/* Read an n x n matrix (n = 0: any square size, returned in *n_out).
 * Text or .npy (by extension).  NaN marks missing entries; negative values
 * are refused.  *out is malloc'd. */
int vbt_matrix_load(const char *path, size_t n, double **out, size_t *n_out, vbt_msg *msg);

/* Read a name map "subject-name atlas-name" (TSV, CSV or whitespace; '#'
 * comments; "-" as atlas name = no atlas match) for the regions of p.
 * *names gets n malloc'd entries (NULL where the file does not name the
 * region), freed by vbt_name_map_free.  A subject name not in p is an error. */
int vbt_name_map_load(const char *path, const vbt_parcellation *p, char ***names,
                      vbt_msg *msg);
void vbt_name_map_free(char **names, size_t n);

/* The region of c that each region k of p is, by name: names[k] (a name map,
 * or NULL to use p's own names; "-" = none), matched exactly, then ignoring
 * case.  idx[k] (n_regions(p) entries) gets the index in c, or -1. */
void vbt_parcellation_match_connectome(const vbt_parcellation *p, const vbt_connectome *c,
                                       char *const *names, long *idx);

/* Build.  weights/lengths: n*n row-major (row = target as TVB) or NULL;
 * atlas may be NULL (prior must then be NONE); atlas_names: per subject
 * region, the atlas label to match (NULL entry or NULL array: the region's
 * own name; "-": none), matched exactly, then ignoring case.  Regions with
 * no voxel take the atlas centre when matched, else are an error.  rep may
 * be NULL. */
int vbt_connectome_build(vbt_connectome **out, const vbt_parcellation *p,
                         const double *weights, const double *lengths,
                         const vbt_connectome *atlas, char *const *atlas_names,
                         const vbt_build_opts *opt, vbt_build_report *rep, vbt_msg *msg);

/* Write a connectome in TVB's format: a .zip archive when path ends in
 * ".zip", else a directory (weights.txt, tract_lengths.txt, centres.txt,
 * cortical.txt, hemispheres.txt, areas.txt and average_orientations.txt
 * when present), numbers with 17 significant digits.  Atomic; refuses to
 * replace an existing output unless overwrite. */
int vbt_connectome_save(const vbt_connectome *c, const char *path, int overwrite,
                        vbt_msg *msg);

/* Summary of a connectome (plain numbers). */
typedef struct vbt_connectome_summary {
    size_t n;
    size_t n_edges;          /* non-zero off-diagonal weights */
    double density;          /* n_edges / (n (n - 1)) */
    double w_min, w_max;     /* over non-zero weights (0 when none) */
    double l_min, l_max;     /* tract lengths over non-zero off-diagonal weights */
    double asymmetry;        /* ||W - W^T||_F / ||W||_F (0 symmetric, 0 when W = 0) */
    size_t n_isolated;       /* regions with no incoming nor outgoing edge */
    size_t n_self;           /* non-zero diagonal weights */
} vbt_connectome_summary;

/* Fill *s; *isolated (may be NULL) gets a malloc'd array of the isolated
 * regions' indices (n_isolated of them; NULL when none). */
int vbt_connectome_summarize(const vbt_connectome *c, vbt_connectome_summary *s,
                             size_t **isolated, vbt_msg *msg);

/* Draw the weight matrix (rows = targets) with a colour bar and region
 * labels to a PNG or SVG file (by extension), through cairo.  Colours are
 * log10 of the weights when the non-zero weights span more than three
 * decades, linear otherwise; zero weights are white.  Atomic; refuses to
 * replace an existing file unless overwrite. */
int vbt_connectome_plot(const vbt_connectome *c, const char *path, const char *title,
                        int overwrite, vbt_msg *msg);

/* Parse "none", "max", "row-sum", "log1p-max" / "none", "fill", "blend",
 * "only"; VBT_ENOTFOUND otherwise. */
int vbt_weight_norm_parse(const char *s, vbt_weight_norm *out);
int vbt_prior_mode_parse(const char *s, vbt_prior_mode *out);
const char *vbt_source_name(int src);

#ifdef __cplusplus
}
#endif
#endif
