/* smc.c -- SMC sampler with adaptive likelihood tempering (Del Moral, Doucet
 * & Jasra 2006; Jasra et al. 2011 for the adaptive temperatures), systematic
 * resampling and random-walk Metropolis moves whose Gaussian proposal has
 * the particles' per-coordinate variance scaled by 2.38^2/n and adapted to
 * the acceptance rate.  log p(y) = sum over steps of log mean_i w_i. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_rng.h"
#include "vbt_smc.h"

void vbt_smc_opts_default(vbt_smc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_particles = 512;
    o->ess_target = 0.5;
    o->n_moves = 10;
    o->max_steps = 1000;
    o->n_threads = 1;
}

typedef struct smc {
    const vbt_smc_model *m;
    void *ctx;
    const vbt_smc_opts *o;
    size_t N, n;
    double *th, *lp, *ll;       /* particles, log prior, log likelihood */
    double *scale;              /* n proposal sd */
    double beta;
    size_t step;
    size_t accepted;
    int oom;                    /* a worker could not allocate */
    pthread_mutex_t lock;
} smc;

typedef struct job {
    smc *s;
    size_t t;                   /* thread index */
    int phase;                  /* 0: prior draws; 1: moves */
} job;

static void *work(void *arg)
{
    job *j = arg;
    smc *s = j->s;
    const size_t n = s->n, T = s->o->n_threads;
    void *ctx = s->o->thread_ctx ? s->o->thread_ctx[j->t] : s->ctx;
    double *prop = malloc(n * sizeof *prop), *z = malloc(n * sizeof *z), u;
    size_t acc = 0;
    /* Particle i is owned by thread i mod T and uses stream (step, i): the
     * numbers do not depend on the number of threads. */
    for (size_t i = j->t; i < s->N && prop && z; i += T) {
        double *th = s->th + i * n;
        if (j->phase == 0) {
            s->m->draw_prior(ctx, s->o->seed, i, th);
            s->lp[i] = s->m->log_prior(ctx, th);
            s->ll[i] = isfinite(s->lp[i]) ? s->m->log_lik(ctx, th) : -HUGE_VAL;
            continue;
        }
        vbt_rng r;
        vbt_rng_init(&r, s->o->seed, ((uint64_t)(s->step + 1) << 32) + i);
        for (size_t k = 0; k < s->o->n_moves; k++) {
            vbt_rng_normal(&r, z, n);
            vbt_rng_uniform(&r, &u, 1);
            for (size_t d = 0; d < n; d++)
                prop[d] = th[d] + s->scale[d] * z[d];
            double lp = s->m->log_prior(ctx, prop);
            double ll = isfinite(lp) ? s->m->log_lik(ctx, prop) : -HUGE_VAL;
            double a = (lp + s->beta * ll) - (s->lp[i] + s->beta * s->ll[i]);
            if (isfinite(lp) && isfinite(ll) && log(u) < a) {
                memcpy(th, prop, n * sizeof *th);
                s->lp[i] = lp;
                s->ll[i] = ll;
                acc++;
            }
        }
    }
    pthread_mutex_lock(&s->lock);
    s->accepted += acc;
    s->oom |= !prop || !z;
    pthread_mutex_unlock(&s->lock);
    free(prop);
    free(z);
    return NULL;
}

static void run_phase(smc *s, int phase)
{
    const size_t T = s->o->n_threads ? s->o->n_threads : 1;
    pthread_t th[64];
    job jobs[64];
    size_t started = 0;
    for (size_t t = 0; t < T && t < 64; t++) {
        jobs[t] = (job){s, t, phase};
        if (T > 1 && pthread_create(&th[t], NULL, work, &jobs[t]) == 0)
            started++;
        else
            work(&jobs[t]);
    }
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

/* ESS fraction of weights exp(dbeta * ll) (normalised), and their log mean. */
static double ess_frac(const double *ll, size_t N, double dbeta, double *log_mean)
{
    double mx = -HUGE_VAL;
    for (size_t i = 0; i < N; i++)
        mx = fmax(mx, dbeta * ll[i]);
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < N; i++) {
        double w = isfinite(ll[i]) ? exp(dbeta * ll[i] - mx) : 0.0;
        s1 += w;
        s2 += w * w;
    }
    if (log_mean)
        *log_mean = mx + log(s1 / (double)N);
    return s2 > 0 ? s1 * s1 / (s2 * (double)N) : 0.0;
}

int vbt_smc(const vbt_smc_model *m, void *ctx, const vbt_smc_opts *o_in, double *particles,
            vbt_smc_result *res, vbt_msg *msg)
{
    vbt_smc_opts o;
    if (!m || !particles || !res || !m->draw_prior || !m->log_prior || !m->log_lik || !m->n)
        return vbt__fail(msg, VBT_EINVAL, "smc: incomplete model or NULL argument");
    if (o_in)
        o = *o_in;
    else
        vbt_smc_opts_default(&o);
    if (o.n_particles < 8 || !(o.ess_target > 0 && o.ess_target < 1) || o.n_threads > 64)
        return vbt__fail(msg, VBT_EINVAL, "smc: need >= 8 particles, ESS target in (0, 1), "
                                          "<= 64 threads");
    if (o.n_threads == 0)
        o.n_threads = 1;
    smc s = {.m = m, .ctx = ctx, .o = &o, .N = o.n_particles, .n = m->n, .th = particles};
    const size_t N = s.N, n = s.n;
    s.lp = malloc(N * sizeof *s.lp);
    s.ll = malloc(N * sizeof *s.ll);
    s.scale = malloc(n * sizeof *s.scale);
    double *copy = malloc(N * n * sizeof *copy), *cll = malloc(N * sizeof *cll);
    double *clp = malloc(N * sizeof *clp), *w = malloc(N * sizeof *w);
    int st = VBT_OK;
    pthread_mutex_init(&s.lock, NULL);
    if (!s.lp || !s.ll || !s.scale || !copy || !cll || !clp || !w) {
        st = vbt__fail(msg, VBT_ENOMEM, "smc: out of memory");
        goto out;
    }
    memset(res, 0, sizeof *res);
    run_phase(&s, 0);
    if (s.oom) {
        st = vbt__fail(msg, VBT_ENOMEM, "smc: out of memory");
        goto out;
    }
    size_t finite = 0;
    for (size_t i = 0; i < N; i++)
        finite += isfinite(s.ll[i]);
    if (finite == 0) {
        st = vbt__fail(msg, VBT_ENUMERIC, "smc: the likelihood is not finite at any prior draw");
        goto out;
    }
    double rw = 2.38 / sqrt((double)n);     /* proposal factor, adapted below */
    vbt_rng rr;
    vbt_rng_init(&rr, o.seed, (uint64_t)1 << 62);
    while (s.beta < 1.0 && s.step < o.max_steps) {
        /* next temperature: the largest dbeta keeping ESS >= target (bisection) */
        double lo = 0.0, hi = 1.0 - s.beta, lm;
        if (ess_frac(s.ll, N, hi, &lm) < o.ess_target) {
            for (int it = 0; it < 60; it++) {
                double mid = 0.5 * (lo + hi);
                if (ess_frac(s.ll, N, mid, NULL) >= o.ess_target)
                    lo = mid;
                else
                    hi = mid;
            }
            hi = lo > 0 ? lo : hi;
        }
        double dbeta = hi;
        ess_frac(s.ll, N, dbeta, &lm);
        res->log_evidence += lm;
        s.beta = fmin(1.0, s.beta + dbeta);
        /* systematic resampling by the incremental weights */
        double mx = -HUGE_VAL, tot = 0.0;
        for (size_t i = 0; i < N; i++)
            mx = fmax(mx, dbeta * s.ll[i]);
        for (size_t i = 0; i < N; i++) {
            w[i] = isfinite(s.ll[i]) ? exp(dbeta * s.ll[i] - mx) : 0.0;
            tot += w[i];
        }
        double u0;
        vbt_rng_uniform(&rr, &u0, 1);
        memcpy(copy, s.th, N * n * sizeof *copy);
        memcpy(cll, s.ll, N * sizeof *cll);
        memcpy(clp, s.lp, N * sizeof *clp);
        double c = w[0] / tot;
        size_t k = 0;
        for (size_t i = 0; i < N; i++) {
            double u = (u0 + (double)i) / (double)N;
            while (u > c && k + 1 < N)
                c += w[++k] / tot;
            memcpy(s.th + i * n, copy + k * n, n * sizeof *copy);
            s.ll[i] = cll[k];
            s.lp[i] = clp[k];
        }
        /* proposal scale from the particles' spread */
        for (size_t d = 0; d < n; d++) {
            double mean = 0.0, var = 0.0;
            for (size_t i = 0; i < N; i++)
                mean += s.th[i * n + d];
            mean /= (double)N;
            for (size_t i = 0; i < N; i++)
                var += (s.th[i * n + d] - mean) * (s.th[i * n + d] - mean);
            var /= (double)(N - 1);
            s.scale[d] = rw * sqrt(var > 1e-300 ? var : 1e-300);
        }
        s.accepted = 0;
        run_phase(&s, 1);
        if (s.oom) {
            st = vbt__fail(msg, VBT_ENOMEM, "smc: out of memory");
            goto out;
        }
        double rate = (double)s.accepted / (double)(N * o.n_moves);
        res->accept_rate = rate;
        /* keep the acceptance near 0.3 */
        rw *= rate > 0.4 ? 1.3 : rate < 0.15 ? 0.7 : 1.0;
        s.step++;
    }
    res->n_steps = s.step;
    if (s.beta < 1.0)
        st = vbt__fail(msg, VBT_ENUMERIC, "smc: the temperature reached only %g after %zu steps "
                       "(raise max_steps or the particles)", s.beta, s.step);
out:
    pthread_mutex_destroy(&s.lock);
    free(s.lp);
    free(s.ll);
    free(s.scale);
    free(copy);
    free(cll);
    free(clp);
    free(w);
    return st;
}
