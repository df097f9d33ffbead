/* vbt_gain.h -- lead-field (gain) matrices from sources to sensors, and the
 * cortical surfaces they may need.
 *
 * A gain matrix is float64, row-major [sensor, region]: gain[s*nr + r].
 * Positions are in mm; the medium is infinite and homogeneous with unit
 * conductivity (sigma = 1), as in TVB and the VEP papers:
 *   centre  G[s,r] = 1 / (4 pi |s - c_r|^2)
 *   volume  G[s,r] = sum over voxels v of r of  V_vox / (4 pi |s - v|^2)
 *   dipole  G[s,r] = sum over vertices v of r of A_v n_v.(s - x_v) / (4 pi |s - x_v|^3)
 *           A_v = one third of the area of the triangles around v,
 *           n_v = unit vertex normal
 *   eeg     G[s,r] = Q_r.(s' - c_r) / (4 pi |s' - c_r|^3), sensors moved onto
 *           a sphere around the regions: c = mean of the centres,
 *           R = 1.05125 max |c_r - c|, s' = R s/|s| + c (TVB's EEG monitor);
 *           Q_r = the region's orientation (TVB's average_orientations, as
 *           given) or, when none, the unit radial vector (c_r - c)/|c_r - c|.
 * Distances below min_dist_mm are raised to min_dist_mm (a contact sitting
 * on a voxel or vertex); VBT_GAIN_MIN_DIST_MM is the default.
 */
#ifndef VBT_GAIN_H
#define VBT_GAIN_H

#include <stddef.h>
#include "vbt_common.h"
#include "vbt_parcellation.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default smallest source-sensor distance (mm): about the radius of an SEEG
 * contact (0.4 mm) plus half a 1 mm voxel. */
#define VBT_GAIN_MIN_DIST_MM 1.0

/* EEG sphere radius factor (TVB). */
#define VBT_GAIN_EEG_RADIUS_FACTOR 1.05125

/* A triangulated surface (plain data). */
typedef struct vbt_surface {
    size_t nv, nt;
    double *vertices;     /* nv*3 (mm) */
    size_t *triangles;    /* nt*3 vertex indices (0-based) */
    double *normals;      /* nv*3 unit vertex normals */
    int normals_computed; /* 1 when computed from the triangles, 0 when read */
} vbt_surface;

/* Load a TVB surface: a .zip or directory with vertices.txt, triangles.txt
 * and optionally vertex_normals.txt or normals.txt (each possibly .bz2).
 * Normals absent from the files are computed from the triangles (area-
 * weighted face normals, in the triangles' winding).  Checks index ranges,
 * finiteness, and zero-length normals. */
int vbt_surface_load(vbt_surface **out, const char *path, vbt_msg *msg);
void vbt_surface_free(vbt_surface *s);

/* Vertex areas A_v (nv values, mm^2): one third of the summed area of the
 * triangles touching v. */
int vbt_surface_vertex_areas(const vbt_surface *s, double *areas, vbt_msg *msg);

/* Read a region mapping: one integer region index per vertex (text, one per
 * line or whitespace separated; floats such as "3.0" are accepted when they
 * hold an integer).  Its length must equal n_vertices.  *map (malloc'd)
 * gets the indices, *n_regions 1 + the largest. */
int vbt_region_mapping_load(const char *path, size_t n_vertices, int **map,
                            size_t *n_regions, vbt_msg *msg);

/* The volume formula over a uniform ball of sources of radius R (mm) at
 * distance d from its centre (unit volume density; sum_v V_vox/(4 pi
 * |s-v|^2) as an integral):
 *   G(d) = R/2 + (R^2 - d^2)/(4 d) ln|(d + R)/(d - R)|,
 * R at the centre, R/2 on the surface, R^3/(3 d^2) (a point source of the
 * ball's volume) far away.  0 when R <= 0. */
double vbt_gain_ball(double d, double R);

/* (a) Region-centre inverse square.  centres: nr*3. */
int vbt_gain_centre(const double *sensors, size_t ns, const double *centres, size_t nr,
                    double min_dist_mm, double *gain, vbt_msg *msg);

/* (b) Volume inverse square over the parcellation's labelled voxels;
 * nr = vbt_parcellation_n_regions(p). */
int vbt_gain_volume(const double *sensors, size_t ns, const vbt_parcellation *p,
                    double min_dist_mm, double *gain, vbt_msg *msg);

/* (b') The volume gain in the columns of a connectome (nr regions): idx[k]
 * (one per parcellation region, vbt_parcellation_match_connectome) is the
 * column that region k adds its voxels to, -1 to leave it out.  A column no
 * parcellation region maps to is a uniform ball of sources centred at
 * centres[3r] whose volume is the mean volume of the mapped columns (so that
 * all columns share one scale): vbt_gain_ball(d, R), the volume formula
 * integrated over the ball, at most the point source's value at
 * min_dist_mm.  A point source of that volume (R = 13 mm) would give a
 * contact within 1 mm of the centre 56 times what the ball gives (R^3/3
 * against R), one 3 mm away 6 times.  fallback[r] = 1 marks such a column (fallback may be
 * NULL).  With centres NULL such a column stays 0. */
int vbt_gain_volume_mapped(const double *sensors, size_t ns, const vbt_parcellation *p,
                           const long *idx, const double *centres, size_t nr,
                           double min_dist_mm, double *gain, unsigned char *fallback,
                           vbt_msg *msg);

/* Least-squares affine map between two sets of n paired points (3 each,
 * row-major): to[i] ~ A from[i] + b over the pairs with use[i] != 0 (use
 * NULL: every pair).  affine gets A row-major then b (12 values); rms_given
 * (may be NULL) the RMS of |to - from|, rms_fit (may be NULL) that of
 * |to - (A from + b)|, both over the used pairs, in the points' unit.
 * VBT_EINVAL when fewer than 8 pairs are used, a point is not finite, or
 * the used points of `from` are (nearly) coplanar. */
int vbt_affine_fit(const double *from, const double *to, const unsigned char *use, size_t n,
                   double affine[12], double *rms_given, double *rms_fit, vbt_msg *msg);

/* p = A q + b for the affine of vbt_affine_fit (p and q may alias). */
void vbt_affine_apply(const double affine[12], const double q[3], double p[3]);

/* A connectome's centres need not lie in a parcellation's space (BVEP's
 * 84-region centres lie 24.5 mm RMS from the MNI Desikan atlas's centroids,
 * about 22 mm too low).  The registration of the centres onto the volume: */
typedef struct vbt_centre_registration {
    int registered;       /* 1: the affine at least halves the distance, use it */
    size_t pairs;         /* columns with voxels it was fitted on (0: none tried) */
    double rms_given_mm;  /* their centres' RMS distance to their voxels' centroids */
    double rms_fit_mm;    /* ... after the affine (NaN when it could not be fitted) */
    double affine[12];    /* vbt_affine_fit's layout */
} vbt_centre_registration;

/* Fit the affine from the centres (nr*3) of the columns that parcellation
 * regions map to (col[k] for parcellation region k, -1 none, as in
 * vbt_gain_volume_mapped) onto those columns' voxel centroids (the
 * centroids of their regions weighted by voxel count), and accept it when
 * the RMS distance after it is below half the distance before: centres
 * already in the volume's space, which differ from centroids only by how a
 * centre is defined, stay as they are.  Fewer than 8 columns with voxels,
 * or coplanar centres: not registered (rms_fit_mm NaN).  Errors: VBT_EINVAL
 * for NULL arguments, VBT_ENOMEM. */
int vbt_centres_register(const double *centres, size_t nr, const vbt_parcellation *p,
                         const long *col, vbt_centre_registration *info, vbt_msg *msg);

/* (c) Surface dipole; mapping[v] in [0, nr) assigns each vertex (a negative
 * value leaves it out). */
int vbt_gain_dipole(const double *sensors, size_t ns, const vbt_surface *s,
                    const int *mapping, size_t nr, double min_dist_mm, double *gain,
                    vbt_msg *msg);

/* (d) Scalp EEG, spherical approximation; orientations nr*3 or NULL. */
int vbt_gain_eeg(const double *sensors, size_t ns, const double *centres,
                 const double *orientations, size_t nr, double min_dist_mm, double *gain,
                 vbt_msg *msg);

/* Bipolar rows: out[p] = gain[pairs[2p]] - gain[pairs[2p+1]] (np rows). */
void vbt_gain_bipolar(const double *gain, size_t nr, const size_t *pairs, size_t np,
                      double *out);

typedef enum vbt_gain_norm {
    VBT_GAIN_NORM_NONE = 0,
    VBT_GAIN_NORM_ROW_MAX,   /* each row divided by its largest |value| */
    VBT_GAIN_NORM_ROW_SUM    /* each row divided by the sum of its |values| */
} vbt_gain_norm;

/* Normalise rows in place; all-zero rows stay zero. */
void vbt_gain_normalize_rows(double *gain, size_t ns, size_t nr, vbt_gain_norm how);

/* ---- The whole `vbt gain` computation, from files to GAIN.npy/.tsv/.json ---- */

typedef enum vbt_gain_method {
    VBT_GAIN_CENTRE = 0, /* (a) at the connectome's centres, else the parcellation's centroids */
    VBT_GAIN_VOLUME,     /* (b) parcellation voxels; with a connectome (b') in its columns */
    VBT_GAIN_DIPOLE,     /* (c) surface dipoles */
    VBT_GAIN_EEG         /* (d) scalp EEG, spherical approximation */
} vbt_gain_method;

/* What to compute.  Paths are borrowed (NULL = not given); which ones a
 * method needs:
 *   centre  connectome, or parcellation + labels
 *   volume  parcellation + labels; with connectome, the gain is in the
 *           connectome's columns (regions matched by name, or by name_map:
 *           'parcellation-name connectome-name' per line, '-' = none)
 *   dipole  surface + region_mapping; connectome (optional) names the
 *           regions and sets their number
 *   eeg     connectome
 * name_map is valid only with volume + connectome. */
typedef struct vbt_gain_opts {
    vbt_gain_method method;
    const char *contacts;       /* BIDS *_electrodes.tsv or TVB text (required) */
    const char *connectome;     /* TVB connectome zip or directory */
    const char *parcellation;   /* label volume (NIfTI) */
    const char *labels;         /* label table of the parcellation */
    const char *name_map;
    const char *surface;        /* TVB surface zip or directory */
    const char *region_mapping; /* one region index per surface vertex */
    int bipolar;                /* rows for bipolar pairs of consecutive contacts */
    vbt_gain_norm normalize;    /* row normalisation, after the bipolar rows */
    double min_dist_mm;         /* smallest source-sensor distance (mm) */
    int force_space;            /* go on when contacts and volume spaces differ */
    int register_centres;       /* volume + connectome: the point sources of the columns
                                   without voxels are placed at the connectome's centres
                                   mapped into the parcellation's space by the affine
                                   that best maps the centres of the other columns onto
                                   their voxels' centroids (vbt_centres_register),
                                   when that map at least halves their distance; 0:
                                   at the centres as given */
} vbt_gain_opts;

/* Defaults: VBT_GAIN_CENTRE, every path NULL, monopolar, VBT_GAIN_NORM_NONE,
 * min_dist_mm = VBT_GAIN_MIN_DIST_MM, force_space 0, register_centres 1. */
void vbt_gain_opts_default(vbt_gain_opts *o);

/* A computed gain matrix with what GAIN.tsv and GAIN.json record (plain
 * data; owned by the caller, freed with vbt_gain_matrix_free). */
typedef struct vbt_gain_matrix {
    vbt_gain_method method;
    size_t n_rows;                    /* contacts, or bipolar pairs */
    size_t n_regions;
    double *gain;                     /* n_rows*n_regions, row-major [sensor, region] */
    char (*row_names)[2 * VBT_LABEL_MAX + 2]; /* contact label, or "A1-A2" */
    double *row_pos;                  /* n_rows*3 (mm): contact, or the pair's midpoint */
    char (*region_names)[VBT_LABEL_MAX]; /* column names */
    int bipolar;
    vbt_gain_norm normalize;
    double min_dist_mm;
    char contacts_space[64];          /* the contacts' coordinate system, "" when unknown */
    int normals_computed;             /* dipole: 1 when computed from the triangles; else -1 */
    unsigned char *centre_fallback;   /* volume + connectome: n_regions flags (1 = the
                                         region had no voxels and uses formula (a)); else NULL */
    size_t n_centre_fallback;         /* number of flags set */
    double *fallback_mm;              /* with centre_fallback: n_regions*3, the centres
                                         the formula was given (b'): the connectome's,
                                         the flagged columns' registered when
                                         centres_registered; else NULL */
    vbt_centre_registration registration; /* of the connectome's centres onto the
                                             volume, tried when a column lacks voxels
                                             and register_centres is set; registered:
                                             fallback_mm are registered centres */
    char (*parcellation_unused)[VBT_LABEL_MAX]; /* volume + connectome: parcellation regions
                                                   matched to no column; else NULL */
    size_t n_parcellation_unused;
    double wall_s;                    /* seconds spent in the gain formula itself */
} vbt_gain_matrix;

/* Load the inputs named in o and compute the gain exactly as `vbt gain`
 * does: the formula, then bipolar rows, then row normalisation.  Errors
 * (VBT_EINVAL for a missing or inconsistent input, contacts and volume in
 * different coordinate systems without force_space, no parcellation region
 * matching the connectome, a non-finite entry; the loaders' codes
 * otherwise) leave *out NULL with one line in msg. */
int vbt_gain_matrix_compute(vbt_gain_matrix **out, const vbt_gain_opts *o, vbt_msg *msg);

/* Write g as npy_path (must end in ".npy"; float64 [row, region]), the
 * sensor table beside it (".npy" replaced by ".tsv": row, name, x, y, z)
 * and the provenance (".json"): the members of provenance_json (the text of
 * a JSON object, e.g. vbt_version, tool, command and inputs; NULL for none)
 * followed by "gain" (method, formula, shape, region names, ...), pretty-
 * printed by cJSON with a trailing newline; the bytes `vbt gain` writes.
 * Each file is written atomically; an existing one is replaced only when
 * overwrite is non-zero (else VBT_EEXIST).  VBT_EINVAL for a bad path or
 * provenance_json that is not an object. */
int vbt_gain_matrix_write(const vbt_gain_matrix *g, const char *npy_path,
                          const char *provenance_json, int overwrite, vbt_msg *msg);

/* "centre", "volume", "dipole", "eeg"; NULL when out of range. */
const char *vbt_gain_method_name(vbt_gain_method m);

/* Free g and everything it owns; NULL is a no-op. */
void vbt_gain_matrix_free(vbt_gain_matrix *g);

#ifdef __cplusplus
}
#endif
#endif
