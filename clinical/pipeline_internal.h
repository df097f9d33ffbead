/* pipeline_internal.h -- what the pipeline's files share (not installed). */
#ifndef VBT_PIPELINE_INTERNAL_H
#define VBT_PIPELINE_INTERNAL_H

#include <stddef.h>

#include <cJSON.h>

#include "internal.h"
#include "vbt_io.h"
#include "vbt_pipeline.h"

/* At most this many posterior draws go on to the forward simulations:
 * enough for probabilities to 0.01, and planning stays fast. */
#define VBT__PIPE_MAX_DRAWS 200

/* Split one CSV/TSV line into fields in place (quotes removed); the count. */
VBT_HIDDEN size_t vbt__pipe_split(char *line, char sep, char **f, size_t max);
/* A JSON file parsed, or NULL when it is missing, unreadable or not JSON. */
VBT_HIDDEN cJSON *vbt__pipe_read_json(const char *path);

/* Gain rows (gain_dir/gain.npy, gain.tsv) in the order of the feature's
 * channels (feat_dir/channels.tsv), written to out_npy.  0 or nonzero with
 * err set. */
VBT_HIDDEN int vbt__pipe_align_gain(vbt_msg *err, const char *gain_dir, const char *feat_dir,
                                    const char *out_npy);
/* Posterior draws of x0 [draw, region], K and tau0 [draw] from the fit in
 * fit_dir (n regions), at most VBT__PIPE_MAX_DRAWS.  0 or nonzero with err. */
VBT_HIDDEN int vbt__pipe_extract_draws(vbt_msg *err, const char *fit_dir, size_t n,
                                       const char *x0_npy, const char *k_npy,
                                       const char *tau_npy);
/* "X,Z" when the priors file holds x_init and z_init fixed, else "". */
VBT_HIDDEN void vbt__pipe_held_init(const char *prior, char *buf, size_t n);

/* Provenance (pipeline_prov.c): {"vbt_version", "tool", "command": argv,
 * "inputs": {}}; an input by role: {"path", "absolute_path", "sha256"}, a
 * directory {"path", "sha256": dir_note}. */
VBT_HIDDEN cJSON *vbt__pipe_prov_new(const char *tool, int argc, char *const *argv);
VBT_HIDDEN int vbt__pipe_prov_add_input(cJSON *prov, const char *role, const char *path,
                                        const char *dir_note, vbt_msg *msg);

/* The fit step (pipeline_fit.c): the fit of o->fit's preset (seed,
 * threads) on the connectome, gain, data and prior files, its outputs and
 * run.json (recording argv, the equivalent vbt fit command) in outdir. */
typedef struct vbt__pipe_fit_job {
    const vbt_pipeline_opts *o;
    const char *connectome, *gain, *data, *prior, *outdir;
    int argc;
    char *const *argv;
} vbt__pipe_fit_job;
VBT_HIDDEN int vbt__pipe_fit(const vbt__pipe_fit_job *j, vbt_msg *msg);

/* The steps' results gathered: OUT/results.json and the report. */
VBT_HIDDEN int vbt__pipe_finish(const vbt_patient *pat, const char *out, const char *method,
                                vbt_msg *msg);

#endif
