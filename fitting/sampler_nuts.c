/* sampler_nuts.c -- NUTS chains (vbt_nuts_sample) as a sampler: starts from
 * given points, from a mode jittered by its Laplace covariance (which is
 * also the initial inverse metric), or from prior draws; checkpoints and
 * resumption pass through. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

int vbt_sampler_nuts_inits(const vbt_target *t, const vbt_sampler_opts *o, double *inits,
                           double *cov, int *cov_ok, vbt_msg *cov_msg, vbt_msg *msg)
{
    if (!t || !o || !inits || !t->logp || t->n == 0 || !t->ctx || t->n_ctx == 0)
        return vbt__fail(msg, VBT_EINVAL, "nuts inits: NULL argument or empty target");
    const size_t n = t->n, C = o->n_chains;
    if (cov_ok)
        *cov_ok = 0;
    if (cov_msg)
        cov_msg->text[0] = '\0';
    if (!o->mode && t->draw_prior) {
        for (size_t c = 0; c < C; c++)
            t->draw_prior(t->ctx[0], o->seed, ((uint64_t)1 << 62) + c, inits + c * n);
        return VBT_OK;
    }
    double *mode = malloc(n * sizeof *mode), *cv = cov ? cov : malloc(n * n * sizeof *cv), lp;
    int st = VBT_OK;
    if (!mode || !cv) {
        st = vbt__fail(msg, VBT_ENOMEM, "nuts inits: out of memory (%zu parameters)", n);
        goto out;
    }
    if ((st = vbt__sampler_mode(t, o, mode, &lp, msg)) != VBT_OK)
        goto out;
    vbt_msg lm;
    int ok = vbt_nuts_laplace_cov(t->logp, t->ctx[0], n, mode, 0, cv, &lm) == VBT_OK;
    if (!ok && cov_msg)
        *cov_msg = lm;
    if (cov_ok)
        *cov_ok = ok;
    for (size_t c = 0; c < C; c++) {
        const double *centre = o->centres && o->n_centres
                                   ? o->centres + (c % o->n_centres) * n : mode;
        vbt_nuts_jitter(centre, ok ? cv : NULL, n, o->seed, c, inits + c * n);
    }
out:
    free(mode);
    if (cv != cov)
        free(cv);
    return st;
}

/* vbt_sampler_progress_fn from the chains' vbt_nuts_progress_fn calls. */
typedef struct nprog {
    const vbt_sampler_opts *o;
    pthread_mutex_t lock;
    size_t *it, n_chains;
    int stopped;
} nprog;

static int nuts_progress(void *pctx, size_t chain, size_t iteration, size_t total,
                         double stepsize, size_t divergences)
{
    nprog *p = pctx;
    pthread_mutex_lock(&p->lock);
    p->it[chain] = iteration;
    size_t done = 0;
    for (size_t c = 0; c < p->n_chains; c++)
        done += p->it[c];
    char status[96];
    snprintf(status, sizeof status, "chain %zu: %zu/%zu, step size %.3g, %zu divergent",
             chain + 1, iteration, total, stepsize, divergences);
    int stop = p->o->progress(p->o->progress_ctx,
                              (double)done / ((double)total * (double)p->n_chains), status);
    p->stopped |= stop != 0;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

static int nuts_run(const vbt_target *t, const vbt_sampler_opts *o, vbt_sampler_result *r,
                    vbt_msg *msg)
{
    const size_t n = t->n, C = o->n_chains, D = o->n_draws;
    int st = vbt__sampler_alloc_draws(r, n, C, D, msg);
    if (st)
        return st;
    r->stats = calloc(C * D, sizeof *r->stats);
    r->info = calloc(C, sizeof *r->info);
    r->inits = malloc(C * n * sizeof *r->inits);
    nprog pg = {.o = o, .n_chains = C, .it = calloc(C, sizeof *pg.it)};
    if (!r->stats || !r->info || !r->inits || !pg.it) {
        free(pg.it);
        return vbt__fail(msg, VBT_ENOMEM, "nuts: out of memory for %zu x %zu draws", C, D);
    }
    if (o->inits) {
        memcpy(r->inits, o->inits, C * n * sizeof *r->inits);
    } else {
        int ok = 0;
        if (!(r->cov = malloc(n * n * sizeof *r->cov))) {
            free(pg.it);
            return vbt__fail(msg, VBT_ENOMEM, "nuts: out of memory");
        }
        st = vbt_sampler_nuts_inits(t, o, r->inits, r->cov, &ok, &r->cov_msg, msg);
        if (!ok) {
            free(r->cov);
            r->cov = NULL;
        }
        if (st) {
            free(pg.it);
            return st;
        }
    }
    vbt_nuts_opts no = o->nuts;
    no.draws = D;
    const double *metric = o->inv_metric ? o->inv_metric : r->cov;
    if (!metric)
        no.adapt_metric = 1; /* nothing to keep */
    double *draws = o->nuts_draws ? o->nuts_draws : r->draws;
    vbt_nuts_stats *stats = o->nuts_stats ? o->nuts_stats : r->stats;
    pthread_mutex_init(&pg.lock, NULL);
    vbt_nuts_run run = {.logp = t->logp, .ctx = t->ctx, .n_params = n, .n_chains = C,
                        .n_threads = o->n_threads ? o->n_threads : 1, .seed = o->seed,
                        .inits = r->inits, .inv_metric = metric,
                        .inv_metric_full = o->inv_metric ? o->inv_metric_full : 1,
                        .progress = o->nuts_progress ? o->nuts_progress
                                    : o->progress ? nuts_progress : NULL,
                        .progress_ctx = o->nuts_progress ? o->nuts_progress_ctx : &pg,
                        .checkpoint = o->checkpoint, .checkpoint_ctx = o->checkpoint_ctx,
                        .checkpoint_every = o->checkpoint_every, .resume = o->resume,
                        .resume_len = o->resume_len};
    st = vbt_nuts_sample(&run, &no, draws, stats, r->info, msg);
    if (st && pg.stopped)
        st = vbt__fail(msg, VBT_ERANGE, "nuts: interrupted");
    pthread_mutex_destroy(&pg.lock);
    free(pg.it);
    if (draws != r->draws)
        memcpy(r->draws, draws, C * D * n * sizeof *r->draws);
    if (stats != r->stats)
        memcpy(r->stats, stats, C * D * sizeof *r->stats);
    for (size_t q = 0; q < C * D; q++)
        r->lp[q] = r->stats[q].lp;
    return st;
}

const vbt_sampler_type vbt__sampler_nuts = {
    .name = "nuts",
    .description = "No-U-Turn sampler chains with Stan's adaptation (from a mode or the prior)",
    .flags = VBT_SAMPLER_EXACT | VBT_SAMPLER_CHAINS,
    .run = nuts_run,
};
