/* vbt_predict.h -- `vbt predict` and `vbt surgery` as library calls: the
 * connectome and posterior draws loaded from their files into a
 * vbt_surgery handle (vbt_surgery.h), and the commands' output files
 * written from its results (docs/surgery.md):
 *
 *   predict   recruitment.csv, order.csv, onsets.npy, run.json
 *   surgery   surgery.csv, regions.csv, run.json (with the plan)
 *
 * run.json records the equivalent command line, the inputs with their
 * SHA-256, the seed, the resolved settings and the outputs. */
#ifndef VBT_PREDICT_H
#define VBT_PREDICT_H

#include <stddef.h>

#include "vbt_common.h"
#include "vbt_connectome.h"
#include "vbt_io.h"
#include "vbt_surgery.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_predict_opts {
    const char *connectome;     /* TVB connectivity (zip or folder); required */
    const char *draws;          /* x0 draws [draw, region] (.npy; 1-D: one draw); required */
    const char *k_npy;          /* per-draw K [draw] or [draw, 1]; NULL: spec.K_const */
    const char *tau0_npy;       /* per-draw tau0; NULL: spec.tau0_const */
    vbt_normalize normalize;    /* weight normalisation: VBT_NORMALIZE_MAX (the VEP's) */
    vbt_surgery_spec spec;      /* the model; conn, n_draws, x0, K and tau0 are set from the
                                   files by vbt_predict_alloc() */
    int argc;                   /* the equivalent command line, for run.json (may be 0) */
    char *const *argv;
} vbt_predict_opts;

/* vbt_surgery_spec_default() and VBT_NORMALIZE_MAX; paths NULL. */
void vbt_predict_opts_default(vbt_predict_opts *o);

typedef struct vbt_predict vbt_predict;

/* Load the connectome (normalised) and the draws, check them, and build the
 * vbt_surgery handle.  The options are copied (argv is borrowed and must
 * outlive the handle).  Errors name the file: VBT_EIO, VBT_EFORMAT,
 * VBT_EINVAL (shapes: "draws 'x0.npy': expected [draw, region] with 84
 * regions ...", a non-finite per-draw value), VBT_ENOMEM, or those of
 * vbt_surgery_alloc() ("draws 'x0.npy': x0 of draw 2, region 1 ('B') is not
 * finite"). */
int vbt_predict_alloc(vbt_predict **out, const vbt_predict_opts *o, vbt_msg *msg);

/* NULL is a no-op. */
void vbt_predict_free(vbt_predict *p);

/* The handle to run scenarios on, and its (normalised) connectome; owned by p. */
vbt_surgery *vbt_predict_surgery(vbt_predict *p);
const vbt_connectome *vbt_predict_connectome(const vbt_predict *p);

/* predict's outputs for r (the no-surgery scenario of vbt_predict_surgery(p))
 * into od (begun by the caller, who commits it); wall_s: the run's seconds.
 * VBT_EIO, VBT_ENOMEM. */
int vbt_predict_write(const vbt_predict *p, const vbt_surgery_result *r, double wall_s,
                      vbt_outdir *od, vbt_msg *msg);

/* One scenario of `vbt surgery`: a name (the resection as given, "none",
 * "plan") and its result. */
typedef struct vbt_predict_scenario {
    const char *name;
    vbt_surgery_result r;
} vbt_predict_scenario;

/* surgery's outputs for the n scenarios (and the plan, when plan is not
 * NULL, found with options po) into od.  VBT_EIO, VBT_ENOMEM. */
int vbt_predict_write_surgery(const vbt_predict *p, const vbt_predict_scenario *sc, size_t n,
                              const vbt_plan_result *plan, const vbt_plan_opts *po,
                              double wall_s, vbt_outdir *od, vbt_msg *msg);

/* Scenarios' region lists joined for a table: labels (labels != 0) or
 * indices separated by ';'.  A malloc'd string (free()), NULL when out of
 * memory. */
char *vbt_predict_join_regions(const vbt_predict *p, const size_t *idx, size_t n, int labels);

#ifdef __cplusplus
}
#endif
#endif
