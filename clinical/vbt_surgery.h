/* vbt_surgery.h -- seizure propagation and virtual surgery over posterior
 * draws of the Virtual Epileptic Patient (docs/surgery.md).
 *
 * A vbt_surgery handle holds a connectome, the model settings and S
 * posterior draws of the excitability x0 (and optionally of K and tau0).
 * A scenario is a set of resected regions (possibly empty).  Running a
 * scenario simulates every draw forward (all draws of a scenario in
 * batches of `batch` simulations side by side through vbt_sim, batches on
 * `threads` threads) and records, per draw and region, the onset time: the
 * first time x1 rises above `threshold`, linearly interpolated between
 * steps; a region that never does within the horizon `duration` is not
 * recruited (onset NaN).
 *
 * Model (reference sheet section 1, the BVEP network):
 *   dx_i = 1 - x_i^3 - 2 x_i^2 - z_i + I1
 *   dz_i = (1/tau0) (4 (x_i - x0_i) - z_i - K sum_j C_ij (x_j - x_i))
 * run as libvbt's epileptor2d with the difference coupling: Iext = I1,
 * r = 1/tau0, tt = 1, Ks = -K, coupling a = 1.  libvbt's epileptor2d is
 * The Virtual Brain's Epileptor2D, identical to the VEP right-hand side for
 * x1 < 0; on the seizure branch (x1 >= 0) it uses TVB's piecewise form
 * (f = -0.6 (z - 4)^2 + 5 x1), so onsets (first crossing of x1 = 0) follow
 * the VEP equations exactly up to the coupling input of regions already in
 * seizure.  VBT_SURGERY_EPILEPTOR runs the 6-variable Epileptor instead
 * (same mapping for x0, Iext, r, Ks) with conduction delays when
 * speed_mm_per_ms is finite.  Time is in the simulator's unit (labelled
 * ms); for the 2D model it is the VEP's model time unit (tau0 = 10).
 *
 * Virtual surgery (The Virtual Brain's recipe): every connection to and
 * from a resected region is removed (row and column of the weights zeroed)
 * and the region takes the healthy excitability healthy_x0 in every draw.
 * A draw is seizure-free when no region outside the resection is recruited
 * within the horizon; P(seizure freedom) is the fraction of such draws.
 *
 * Initial state: region i starts at the fixed point of an isolated node
 * (coupling off) with excitability min(median_s x0_si, init_x0_max) --
 * healthy_x0 for resected regions -- so every region starts interictal,
 * and an epileptogenic region starts where a healthy node rests rather
 * than on its own unstable fixed point.  With init_fixed, every region not
 * resected starts at (init_x1, init_z) instead, as the fitted model did
 * (the 6D model derives its other variables from x1 and z as below).  The
 * state is shared by all draws
 * (vbt_sim's initial conditions are per region).  x1 and z of the fixed
 * point solve x^3 + 2 x^2 + 4 x = 4 x0 + I1 + 1, z = 4 (x - x0) (one real
 * root); the 6D model adds y1 = 1 - 5 x1^2, g = 0.1 x1, y2 = 0 and x2 the
 * root below -0.25 of x2 - x2^3 + Iext2 + 0.2 x1 - 0.3 (z - 3.5) = 0.
 *
 * Determinism: draw s uses noise stream s of the seed (only with noise),
 * and batches always hold `batch` simulations (a short last batch repeats
 * its first draw), so results do not depend on threads.
 *
 * The handle is not safe for concurrent calls; it runs its own threads.
 */
#ifndef VBT_SURGERY_H
#define VBT_SURGERY_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"
#include "vbt_connectome.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vbt_surgery_model {
    VBT_SURGERY_EPILEPTOR2D = 0,   /* the VEP's 2D Epileptor network (default) */
    VBT_SURGERY_EPILEPTOR = 1      /* the 6-variable Epileptor (TVB), delays possible */
} vbt_surgery_model;

/* Everything a handle is built from.  Arrays are borrowed during
 * vbt_surgery_alloc() and copied. */
typedef struct vbt_surgery_spec {
    const vbt_connectome *conn;  /* weights used as given: normalise first (the VEP: max) */
    size_t n_draws;              /* S >= 1 */
    const double *x0;            /* [S][n_regions] posterior draws of x0 */
    const double *K;             /* [S] per-draw coupling, or NULL: K_const */
    double K_const;              /* >= 0; default 1 */
    const double *tau0;          /* [S] per-draw time scale, or NULL: tau0_const */
    double tau0_const;           /* > 0; default 10 (2D), 2857 (6D: r = 0.00035) */
    double I1;                   /* Iext; default 3.1 */
    vbt_surgery_model model;
    const char *scheme;          /* "euler" (default, as BVEP), "heun", "rk4" */
    double dt;                   /* > 0; default 0.1 */
    double duration;             /* horizon > 0; default 100 */
    double speed_mm_per_ms;      /* HUGE_VAL: no delays (default; 2D always) */
    double threshold;            /* recruitment: x1 above it; default 0 */
    double healthy_x0;           /* resected regions; default -3.0 */
    double init_x0_max;          /* initial state cap, see above; default -2.5 */
    int init_fixed;              /* 1: every region not resected starts at (init_x1,
                                    init_z) instead, the state a fit held (vbt fit's
                                    x_init, z_init); default 0 */
    double init_x1, init_z;
    double noise;                /* D of additive noise on x1 and z; default 0 */
    uint64_t seed;               /* default 0 */
    size_t batch;                /* simulations side by side; default 64 */
    size_t threads;              /* default 1 */
} vbt_surgery_spec;

/* Fill in the defaults above (arrays NULL, sizes 0). */
void vbt_surgery_spec_default(vbt_surgery_spec *s);

typedef struct vbt_surgery vbt_surgery;

/* Validate and copy.  Errors: VBT_EINVAL (sizes, missing arrays, unknown
 * scheme, delays with the 2D model), VBT_ENUMERIC (a non-finite draw, with
 * its draw and region), VBT_ERANGE (K < 0, tau0 <= 0, dt >= duration ...),
 * VBT_ENOMEM.  *out is NULL on failure and msg says why. */
int vbt_surgery_alloc(vbt_surgery **out, const vbt_surgery_spec *spec, vbt_msg *msg);
void vbt_surgery_free(vbt_surgery *s);

/* Message of the last failed call ("" when none). */
const char *vbt_surgery_errmsg(const vbt_surgery *s);
size_t vbt_surgery_n_regions(const vbt_surgery *s);
size_t vbt_surgery_n_draws(const vbt_surgery *s);
/* Integration steps of one simulation. */
uint64_t vbt_surgery_n_steps(const vbt_surgery *s);

/* Parse a resection: comma-separated 0-based indices or region labels
 * ("62,47,lPHC"; spaces around items ignored; "" or "none" is the empty
 * set).  A label that holds a comma is written in double quotes, as a CSV
 * field (RFC 4180): "\"Left, anterior\",62"; inside the quotes commas and
 * spaces are kept and "" stands for one quote; a quoted item is always a
 * label, never an index.  Writes up to cap sorted unique indices into idx.
 * VBT_ENOTFOUND (unknown label), VBT_ERANGE (index out of range or too
 * many), VBT_EINVAL (an empty item, a quote not closed, text after a
 * closing quote). */
int vbt_surgery_parse_regions(const vbt_connectome *conn, const char *text, size_t *idx,
                              size_t cap, size_t *n, vbt_msg *msg);

/* Results of one scenario.  Arrays are owned by the struct: free with
 * vbt_surgery_result_clear().  Statistics of onsets are over the draws in
 * which the region is recruited (NaN when none). */
typedef struct vbt_surgery_result {
    size_t n_regions, n_draws;
    size_t n_resected;
    size_t *resected;        /* sorted indices */
    unsigned char *is_resected; /* [n_regions] 0/1 */
    double *onset;           /* [S][n] onset time, NaN when not recruited */
    double *p_recruited;     /* [n] fraction of draws */
    double *onset_mean, *onset_sd, *onset_median, *onset_q05, *onset_q95; /* [n] */
    double *mean_rank;       /* [n] mean rank (1 = first; ties share the mean rank) */
    double p_freedom;        /* fraction of seizure-free draws */
    double mean_recruited;   /* mean number of recruited non-resected regions */
    double wall_s;
} vbt_surgery_result;

/* Run one scenario (n_resect regions; 0: no surgery).  Allocates the
 * result arrays.  Errors: VBT_ERANGE (bad index), VBT_ENUMERIC (the state
 * stopped being finite), VBT_ENOMEM. */
int vbt_surgery_run(vbt_surgery *s, const size_t *resect, size_t n_resect,
                    vbt_surgery_result *res);
void vbt_surgery_result_clear(vbt_surgery_result *res);

/* P(seizure freedom) of a scenario, and when mean_recruited is not NULL
 * the mean number of recruited non-resected regions.  With mean_recruited
 * NULL a batch stops as soon as each of its draws has a recruited region,
 * which makes failing scenarios cheap. */
int vbt_surgery_freedom(vbt_surgery *s, const size_t *resect, size_t n_resect,
                        double *p_freedom, double *mean_recruited);

/* ---- resection planning ----------------------------------------------------
 * The smallest set of candidate regions whose resection reaches P(seizure
 * freedom) >= target.  Exhaustive when sum_{k=1..max_size} C(m, k) <=
 * max_evaluations (m candidates): sizes k = 1, 2, ... in turn, every subset
 * of size k; among the subsets of the smallest size that reach the target
 * the one of highest P(freedom), then the lexicographically smallest.
 * Otherwise greedy: from the empty set, add
 * the candidate giving the highest P(freedom), then the fewest recruited
 * regions (mean over draws), then the lowest index, until the target or
 * max_size is reached. */
typedef enum vbt_plan_method { VBT_PLAN_EXHAUSTIVE = 0, VBT_PLAN_GREEDY = 1 } vbt_plan_method;

typedef struct vbt_plan_opts {
    double target;            /* in (0, 1]; default 0.9 */
    size_t max_size;          /* >= 1; default 4 */
    size_t max_evaluations;   /* exhaustive limit; default 5000 */
    const size_t *candidates; /* NULL: regions recruited in some draw without surgery */
    size_t n_candidates;
    const size_t *spare;      /* regions never resected (eloquent cortex) */
    size_t n_spare;
    vbt_plan_method force;    /* only read when force_method != 0 */
    int force_method;
} vbt_plan_opts;

void vbt_plan_opts_default(vbt_plan_opts *o);

typedef struct vbt_plan_result {
    vbt_plan_method method;
    int reached;              /* 1: p_freedom >= target */
    size_t n_set;
    size_t set[64];           /* sorted indices of the plan (best found when !reached) */
    double p_freedom;         /* of the plan */
    double p_freedom_none;    /* without surgery */
    size_t n_candidates;
    size_t candidates[4096];
    size_t n_evaluations;     /* scenarios simulated */
} vbt_plan_result;

/* Plan a resection.  The empty set is returned (reached) when the patient
 * is already seizure-free at the target without surgery.  Errors:
 * VBT_EINVAL (options), VBT_ERANGE (index), VBT_ENUMERIC, VBT_ENOMEM. */
int vbt_surgery_plan(vbt_surgery *s, const vbt_plan_opts *opts, vbt_plan_result *out);

#ifdef __cplusplus
}
#endif
#endif
