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

/* The next record of a CSV/TSV text at *pos split into fields in place
 * (vbt_csv_record: RFC 4180 quotes, CRLF); the count, 0 for a blank line
 * and at the end. */
VBT_HIDDEN size_t vbt__pipe_record(char **pos, char sep, char **f, size_t max);
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
 * "inputs": {}}; an input by role: {"path" (vbt_path_public), "sha256"}, a
 * directory {"path", "sha256": dir_note}. */
VBT_HIDDEN cJSON *vbt__pipe_prov_new(const char *tool, int argc, char *const *argv);
VBT_HIDDEN int vbt__pipe_prov_add_input(cJSON *prov, const char *role, const char *path,
                                        const char *dir_note, vbt_msg *msg);

/* How the pipeline's outputs show a path (privacy: never the patient
 * folder's name, an absolute path): relative to the output folder when
 * inside it (as given or as vbt_path_public shows it), else relative
 * to the patient folder likewise, else vbt_path_public.  Points into
 * path. */
VBT_HIDDEN const char *vbt__pipe_shown_path(const char *path, const char *patient_dir,
                                            const char *out_dir);
/* Rewrite the JSON file at path (when there is one) with every string
 * shown by vbt__pipe_shown_path and without "absolute_path" members; the
 * file is left untouched when nothing changes. */
VBT_HIDDEN int vbt__pipe_scrub_json(const char *path, const char *patient_dir,
                                    const char *out_dir, vbt_msg *msg);

/* The fit step (pipeline_fit.c): the fit of o->fit's preset (seed,
 * threads) on the connectome, gain, data and prior files, its outputs and
 * run.json (recording argv, the equivalent vbt fit command) in outdir.  A
 * NUTS run saves itself to OUTDIR.checkpoint with stamp (the step's stamp
 * text) as its record; a rerun with the same stamp resumes it, and the
 * checkpoint is removed once the outputs are committed. */
typedef struct vbt__pipe_fit_job {
    const vbt_pipeline_opts *o;
    const char *connectome, *gain, *data, *prior, *outdir, *stamp;
    int argc;
    char *const *argv;
} vbt__pipe_fit_job;
VBT_HIDDEN int vbt__pipe_fit(const vbt__pipe_fit_job *j, vbt_msg *msg);
/* The fit's chains apart (vbt_pipeline_prepare_chains): the MAP stage and
 * the starts into OUTDIR.checkpoint (*n_chains: the chains; 0 and nothing
 * done when the method has none); chain `chain` alone into
 * OUTDIR.chainK.checkpoint (K = chain + 1), resumed from there after a
 * kill, nothing done once it has ended.  vbt__pipe_fit merges the chains'
 * files when every one has ended, and removes them with the checkpoint. */
VBT_HIDDEN int vbt__pipe_fit_prepare(const vbt__pipe_fit_job *j, size_t *n_chains,
                                     vbt_msg *msg);
VBT_HIDDEN int vbt__pipe_fit_chain(const vbt__pipe_fit_job *j, size_t chain, vbt_msg *msg);

/* The steps' results gathered: OUT/results.json and the report; *v gets
 * the verdict results.json holds (*has_verdict 1). */
VBT_HIDDEN int vbt__pipe_finish(const vbt_patient *pat, const char *out, const char *method,
                                vbt_verdict *v, int *has_verdict, vbt_msg *msg);

#endif
