/* fit_internal.h -- the fit object's state, shared by fit.c (set-up, the
 * run), fit_sample.c (the MAP and sampling stages), fit_summary.c
 * (summaries, checks, regions, LOO, predictive), fit_output.c (the files)
 * and fit_checkpoint.c; not installed. */
#ifndef VBT_FIT_INTERNAL_H
#define VBT_FIT_INTERNAL_H

#include <pthread.h>

#include "internal.h"
#include "vbt_fit.h"

#define FIT_MAXCH VBT_FIT_MAX_CHAINS

/* The checkpoint of a NUTS run (fit_checkpoint.c). */
typedef struct fit_ckpt {
    char *path;
    unsigned char *record;      /* the caller's record */
    size_t record_len;
    size_t np, chains, draws, warmup;
    /* the MAP stage */
    int has_map;
    vbt_vep_map_result mr;
    size_t starts;
    double map_wall;
    double *map, *lp_starts, *th_starts;
    int laplace_ok;
    char laplace_msg[sizeof(vbt_msg)];
    /* the chains' start */
    double *inits;              /* chains x np */
    double *cov;                /* np x np, or NULL */
    unsigned char *state[FIT_MAXCH];
    size_t state_len[FIT_MAXCH], iter[FIT_MAXCH];
    /* while sampling: the run's arrays (borrowed); after reading: owned */
    double *th;
    vbt_nuts_stats *stats;
    int owns_draws;
    /* writing */
    size_t every;
    vbt_fit_checkpoint_fn on_saved;
    void *saved_ctx;
    pthread_mutex_t lock;
    int lock_ready, warned;
    struct vbt_fit *fit;        /* for the log */
} fit_ckpt;

struct vbt_fit {
    vbt_fit_opts o;
    const vbt_connectome *conn;
    double *gain, *data;        /* owned, normalised */
    vbt_vep_spec spec;
    vbt_vep *m;
    size_t np, nr, ns, nt;
    int is_map, is_lap, is_nuts, is_advi, is_smc, from_map;
    const char *method;
    vbt_fit_log_fn log;
    void *log_ctx;
    vbt_fit_progress_fn progress;
    void *progress_ctx;
    pthread_mutex_t plock;      /* serialises progress and log calls from threads */
    fit_ckpt *ck;
    int resumed, ran;
    /* MAP */
    vbt_vep_map_opts mo;
    vbt_vep_map_result mr;
    double *map, *lp_starts, *th_starts;
    double map_wall;
    /* draws in natural units [chain][draw][param] */
    size_t n_chains, n_draws;
    double *nat;
    double *theta;              /* the same draws, unconstrained */
    double *user_inits, *user_cov; /* vbt_fit_set_inits */
    double *log_w;
    vbt_nuts_stats *stats;
    vbt_nuts_chain_info *info;
    vbt_vep_laplace_result lr;
    vbt_advi_result ar;
    vbt_smc_result sr;
    vbt_smc_result *srs;
    double logz_sd;
    double *betas;
    double smc_wall;
    int laplace_metric_ok;
    char laplace_metric_msg[sizeof(vbt_msg)];
    double wall;
    /* progress bookkeeping (nuts) */
    size_t pit[FIT_MAXCH];
    /* summaries and checks */
    vbt_diag_param *dp;
    int *keep;
    size_t kept, n_stuck;
    vbt_fit_chain *chains;
    size_t div, hits;
    double max_rhat, min_ess_bulk, min_ess_tail;
    char **failures;            /* the failed checks' reasons, in the verdict's order */
    size_t n_failures;
    vbt_verdict verdict;        /* every check (fit_summary.c) */
    double *ppc_sensor;         /* ns: posterior-predictive coverage per sensor */
    double ppc_all;
    vbt_fit_region *regions;
    double worst_range;
    size_t worst_region;
    /* PSIS-LOO: state 0 none, 1 computed, 2 failed (loo_err) */
    int loo_state;
    vbt_loo_result loo;
    char loo_err[sizeof(vbt_msg)];
    size_t loo_K;
    double *loo_elpd;           /* nt x ns */
    double *pred;               /* 3 x nt x ns */
    const char *outputs[16];
};

/* Report a line through the log callback (serialised). */
VBT_HIDDEN void fit__log(struct vbt_fit *f, int level, const char *fmt, ...) VBT_PRINTF(3, 4);
/* Seconds on a monotonic clock. */
VBT_HIDDEN double fit__now(void);
/* Index in theta of region r's x0, or -1 when fixed. */
VBT_HIDDEN long fit__x0_index(const vbt_vep *m, size_t r);
/* The NUTS options of the fit's chains (fit_sample.c run_nuts(), and each
 * chain run apart, fit_chains.c): f's warm-up, draws, depth, adapt_delta,
 * metric, and mode jumps of every free x0 (jc, js: n_regions slots).  A run
 * without a Laplace covariance then sets adapt_metric = 1. */
VBT_HIDDEN void fit__nuts_options(const vbt_fit *f, vbt_nuts_opts *o, size_t *jc, double *js);
/* The observation noise sd of a natural draw. */
VBT_HIDDEN double fit__draw_eps(const struct vbt_fit *f, const double *nat);

/* fit_sample.c: the MAP stage; the sampling stage of the method. */
VBT_HIDDEN int fit__run_map(struct vbt_fit *f, vbt_msg *msg);
VBT_HIDDEN int fit__run_sampler(struct vbt_fit *f, vbt_msg *msg);

/* fit_summary.c: everything after the sampling stage. */
VBT_HIDDEN int fit__post(struct vbt_fit *f, vbt_msg *msg);

/* fit_output.c: the names of the files vbt_fit_write writes (f->outputs). */
VBT_HIDDEN void fit__list_outputs(struct vbt_fit *f);

/* fit_checkpoint.c */
VBT_HIDDEN int fit__ckpt_write(fit_ckpt *k, vbt_msg *msg);
VBT_HIDDEN int fit__ckpt_read(fit_ckpt *k, const char *path, vbt_msg *msg);
VBT_HIDDEN int fit__ckpt_on_state(void *ctx, size_t c, size_t iteration, const void *state,
                                  size_t len);
VBT_HIDDEN void fit__ckpt_clear(fit_ckpt *k);

#endif
