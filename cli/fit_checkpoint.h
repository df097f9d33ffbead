/* fit_checkpoint.h -- the checkpoint of `vbt fit --method nuts`: one file,
 * OUTDIR.checkpoint beside the output directory, rewritten atomically
 * (temporary file, fsync, rename) every --checkpoint-every iterations of a
 * chain and where an interruption leaves the chains.  It holds what
 * `vbt fit --resume OUTDIR` needs to end with the draws of an uninterrupted
 * run: the command line and the directory it ran in, the vbt version, a
 * SHA-256 of the resolved options and of every input, the MAP stage, the
 * chains' starting points and metric, and each chain's sampler state with
 * its draws and sampler statistics so far.  The file ends with a SHA-256 of
 * its contents; a truncated or altered file is refused. */
#ifndef VBT_CLI_FIT_CHECKPOINT_H
#define VBT_CLI_FIT_CHECKPOINT_H

#include <pthread.h>
#include <stddef.h>

#include "cli.h"
#include "vbt.h"
#include "vbt_nuts.h"

#define CKPT_MAXCH 64

typedef struct fit_ckpt {
    char path[4096];            /* OUTDIR.checkpoint */
    /* identity of the run */
    char version[64];
    char options_sha[65];       /* of the resolved options that shape the draws */
    char *inputs;               /* "role<TAB>sha256\n" lines, files of a directory by name */
    char *cwd;                  /* working directory of the run */
    int argc;
    char **argv;                /* the whole command line, "vbt" "fit" ... */
    /* sizes */
    size_t np, chains, draws, warmup;
    /* the MAP stage (init map) */
    int has_map;
    vbt_vep_map_result mr;
    size_t starts;
    double map_wall;
    double *map, *lp_starts, *th_starts;   /* np, starts, starts x np */
    int laplace_ok;
    char laplace_msg[sizeof(vbt_msg)];
    /* the chains' start */
    double *inits;              /* chains x np */
    double *cov;                /* np x np initial inverse metric, or NULL (unit) */
    /* per chain: the last state (NULL: not yet saved, the chain starts
     * afresh) after iter transitions */
    unsigned char *state[CKPT_MAXCH];
    size_t state_len[CKPT_MAXCH], iter[CKPT_MAXCH];
    /* while sampling: the run's arrays (borrowed), read up to each chain's
     * saved iteration; after fit_ckpt_read: the saved draws (owned) */
    double *th;                 /* chains x draws x np, unconstrained */
    vbt_nuts_stats *stats;      /* chains x draws */
    int owns_draws;
    /* writing */
    pthread_mutex_t lock;
    int lock_ready, warned;
    const cli_parsed *p;
    long stop_after;            /* test hook VBT_TEST_STOP_AFTER (0: none) */
} fit_ckpt;

/* The checkpoint path of an output directory: OUTDIR.checkpoint (trailing
 * slashes of OUTDIR dropped).  -1 when too long. */
int fit_ckpt_path(const char *outdir, char *buf, size_t n);

/* Fill the identity of the run p (version, options hash, input hashes,
 * command line, working directory) and the sizes.  -1 with msg set. */
int fit_ckpt_identify(fit_ckpt *k, const cli_parsed *p, size_t np, size_t chains,
                      size_t draws, size_t warmup, vbt_msg *msg);

/* 0 when the run p (identified into `now`) may continue checkpoint k;
 * otherwise -1 and msg says what changed. */
int fit_ckpt_compare(const fit_ckpt *k, const fit_ckpt *now, vbt_msg *msg);

/* Write the checkpoint (atomically, replacing the previous one). */
int fit_ckpt_write(fit_ckpt *k, vbt_msg *msg);

/* Read and check a checkpoint written by fit_ckpt_write; -1 with msg set
 * ("'path': truncated or corrupt", ...). */
int fit_ckpt_read(fit_ckpt *k, const char *path, vbt_msg *msg);

/* vbt_nuts_checkpoint_fn: keeps chain c's state and rewrites the file.  A
 * write failure is reported once as a warning and sampling goes on. */
int fit_ckpt_on_state(void *ctx, size_t c, size_t iteration, const void *state, size_t len);

/* Free what k holds; k may be zeroed or partly filled. */
void fit_ckpt_clear(fit_ckpt *k);

#endif
