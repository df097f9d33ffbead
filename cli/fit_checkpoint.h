/* fit_checkpoint.h -- the command-line side of `vbt fit`: its options read
 * into vbt_fit_opts, its inputs, the caller record of its checkpoint, its
 * run.json and its printed table.  The checkpoint file itself (its format, the MAP stage, the
 * chains' states and draws) belongs to the fit object (fitting/vbt_fit.h);
 * the command stores in it, as the object's opaque caller record, what
 * `vbt fit --resume OUTDIR` needs to run the command again and to refuse a
 * changed run: the vbt version, a SHA-256 of the resolved options, a
 * SHA-256 of every input, the working directory and the command line.
 * Also here: run.json's provenance and the table `vbt fit` prints. */
#ifndef VBT_CLI_FIT_CHECKPOINT_H
#define VBT_CLI_FIT_CHECKPOINT_H

#include <stddef.h>

#include "cli.h"
#include "vbt.h"
#include "vbt_fit.h"

/* The options of `vbt fit` p (its table in cmd_fit.c) as vbt_fit_opts. */
void fit_options(const cli_parsed *p, vbt_fit_opts *o);

/* The inputs of `vbt fit`: connectome, gain, data and the priors (vbt fit's
 * defaults, then the prior file).  Free conn, gain and data when done. */
typedef struct fit_inputs {
    vbt_connectome *conn;
    vbt_array gain, data;
    vbt_vep_priors priors;
} fit_inputs;

/* Load them, checking the shapes; -1 with msg set (naming the file). */
int fit_load_inputs(const cli_parsed *p, fit_inputs *in, vbt_msg *msg);

typedef struct fit_record {
    char version[64];
    char options_sha[65];       /* of the resolved options that shape the draws */
    char *inputs;               /* "role<TAB>sha256\n" lines, files of a directory by name */
    char *cwd;                  /* working directory of the run */
    int argc;
    char **argv;                /* the whole command line, "vbt" "fit" ... */
} fit_record;

/* The identity of the run p into r.  -1 with msg set. */
int fit_record_identify(fit_record *r, const cli_parsed *p, vbt_msg *msg);

/* r as the bytes of a caller record (malloc'd, free()); NULL when out of
 * memory. */
unsigned char *fit_record_encode(const fit_record *r, size_t *len);

/* A caller record back into r; -1 (msg: "'path': truncated or corrupt
 * checkpoint") when it is not one. */
int fit_record_decode(fit_record *r, const void *rec, size_t len, const char *path,
                      vbt_msg *msg);

/* 0 when the run `now` may continue the run k; otherwise -1 and msg says
 * what changed. */
int fit_record_compare(const fit_record *k, const fit_record *now, vbt_msg *msg);

/* Free what r holds; r may be zeroed or partly filled. */
void fit_record_clear(fit_record *r);

/* run.json of the fit f run by p (resumed_from: the checkpoint a resumed
 * run continued, or NULL).  NULL with err set when an input cannot be
 * hashed. */
cJSON *fit_provenance(const cli_parsed *p, vbt_fit *f, const char *resumed_from, char *err,
                      size_t n);

/* The table `vbt fit` prints on stdout (unless --quiet), and the list of
 * failed diagnostics on stderr. */
void fit_print(const cli_parsed *p, vbt_fit *f, const vbt_connectome *conn);

#endif
