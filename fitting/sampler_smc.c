/* sampler_smc.c -- likelihood-tempered SMC (vbt_smc) over the target's
 * prior and likelihood as a sampler: o->n_chains independent runs of
 * o->n_draws particles, run k with seed o->seed + k 2^32 (run 0 is the
 * single run's seed), and the pooled evidence, the mean of the runs'
 * unbiased estimates.  The threads of a run use the target's contexts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

#define SMC_MAX_THREADS 64

/* The target's callbacks on one of its contexts, with the gradient scratch
 * the value-only forms need when the target does not give them. */
typedef struct sctx {
    const vbt_target *t;
    void *ctx;
    double *g;
} sctx;

static void s_draw(void *c, uint64_t seed, uint64_t stream, double *th)
{
    sctx *s = c;
    s->t->draw_prior(s->ctx, seed, stream, th);
}

static double s_prior(void *c, const double *th)
{
    sctx *s = c;
    return s->t->log_prior ? s->t->log_prior(s->ctx, th) : s->t->log_prior_grad(s->ctx, th, s->g);
}

static double s_lik(void *c, const double *th)
{
    sctx *s = c;
    return s->t->log_lik ? s->t->log_lik(s->ctx, th) : s->t->log_lik_grad(s->ctx, th, s->g);
}

static double s_prior_grad(void *c, const double *th, double *g)
{
    sctx *s = c;
    return s->t->log_prior_grad(s->ctx, th, g);
}

static double s_lik_grad(void *c, const double *th, double *g)
{
    sctx *s = c;
    return s->t->log_lik_grad(s->ctx, th, g);
}

static int smc_run(const vbt_target *t, const vbt_sampler_opts *o, vbt_sampler_result *r,
                   vbt_msg *msg)
{
    const size_t n = t->n, R = o->n_chains, N = o->n_draws;
    const size_t T = o->n_threads ? o->n_threads : 1;
    if (T > SMC_MAX_THREADS || T > t->n_ctx)
        return vbt__fail(msg, VBT_EINVAL, "smc: %zu thread(s) for %zu context(s) (at most %d)",
                         T, t->n_ctx, SMC_MAX_THREADS);
    int st = vbt__sampler_alloc_draws(r, n, R, N, msg);
    if (st)
        return st;
    r->smc = calloc(R, sizeof *r->smc);
    r->run_log_evidence = malloc(R * sizeof *r->run_log_evidence);
    r->temperatures = malloc((o->smc.max_steps ? o->smc.max_steps : 1) *
                             sizeof *r->temperatures);
    sctx sc[SMC_MAX_THREADS];
    void *tc[SMC_MAX_THREADS];
    double *g = malloc(T * n * sizeof *g);
    if (!r->smc || !r->run_log_evidence || !r->temperatures || !g) {
        free(g);
        return vbt__fail(msg, VBT_ENOMEM, "smc: out of memory for %zu particles", N);
    }
    for (size_t k = 0; k < T; k++) {
        sc[k] = (sctx){.t = t, .ctx = t->ctx[k], .g = g + k * n};
        tc[k] = &sc[k];
    }
    const vbt_smc_model model = {.n = n, .draw_prior = s_draw, .log_prior = s_prior,
                                 .log_lik = s_lik, .log_prior_grad = s_prior_grad,
                                 .log_lik_grad = s_lik_grad};
    vbt_smc_opts so = o->smc;
    so.n_particles = N;
    so.n_threads = T;
    so.thread_ctx = tc;
    double lmax = -HUGE_VAL;
    for (size_t k = 0; k < R && !st; k++) {
        so.seed = o->seed + ((uint64_t)k << 32);
        so.temperatures = k ? NULL : r->temperatures; /* the first run's are reported */
        double *p = r->draws + k * N * n;
        st = vbt_smc(&model, tc[0], &so, p, &r->smc[k], msg);
        if (st)
            break;
        r->run_log_evidence[k] = r->smc[k].log_evidence;
        lmax = fmax(lmax, r->smc[k].log_evidence);
        for (size_t d = 0; d < N; d++) {
            double lq = s_prior(&sc[0], p + d * n);
            double ll = isfinite(lq) ? s_lik(&sc[0], p + d * n) : -HUGE_VAL;
            r->lp[k * N + d] = isfinite(ll) ? lq + ll : -HUGE_VAL;
        }
        if (o->progress && o->progress(o->progress_ctx, (double)(k + 1) / (double)R, "smc run")) {
            st = vbt__fail(msg, VBT_ERANGE, "smc: interrupted after %zu of %zu runs", k + 1, R);
            break;
        }
    }
    free(g);
    if (st)
        return st;
    r->n_temperatures = r->smc[0].n_steps;
    /* pooled: the log of the mean of the runs' evidences */
    double se = 0, m1 = 0, m2 = 0;
    for (size_t k = 0; k < R; k++) {
        se += exp(r->smc[k].log_evidence - lmax);
        m1 += r->smc[k].log_evidence / (double)R;
    }
    for (size_t k = 0; k < R; k++)
        m2 += (r->smc[k].log_evidence - m1) * (r->smc[k].log_evidence - m1);
    r->log_evidence = lmax + log(se / (double)R);
    r->log_evidence_sd = R > 1 ? sqrt(m2 / (double)(R - 1)) : NAN;
    return VBT_OK;
}

const vbt_sampler_type vbt__sampler_smc = {
    .name = "smc",
    .description = "likelihood-tempered sequential Monte Carlo from the prior; log evidence",
    .flags = VBT_SAMPLER_EXACT | VBT_SAMPLER_EVIDENCE | VBT_SAMPLER_NEEDS_PRIOR,
    .run = smc_run,
};
