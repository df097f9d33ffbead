/* smc.c -- SMC sampler with adaptive likelihood tempering (Del Moral, Doucet
 * & Jasra 2006; Jasra et al. 2011 for the adaptive temperatures), systematic
 * resampling, and MCMC moves on the tempered target p(theta) L(theta)^beta:
 *
 *  - random-walk Metropolis whose Gaussian proposal has the particles'
 *    per-coordinate variance scaled by 2.38^2/n and adapted to the
 *    acceptance rate, when the model has no gradients;
 *  - HMC (Neal 2011; as SMC moves: Buchholz, Chopin & Jacob 2021) when it
 *    has: momentum p ~ N(0, diag(1/v)) with v the particles' regularised
 *    per-coordinate variance after resampling, so that positions move by
 *    eps v p; a jittered number of leapfrog steps and step size per move;
 *    the step size adapted after every round of moves (each particle moves
 *    once per round) from the population's mean acceptance probability
 *    towards a target; a non-finite or exploding energy rejects the move.
 *    With move_jump > 0 a step's rounds of moves stop once the particles'
 *    mean squared jump since the resampling, per coordinate in units of
 *    their variance, reaches move_jump (computed in particle order).
 *
 * vbt_smc_from starts from given (weighted) particles instead of prior
 * draws: the first step's weights are the start weights times the
 * incremental ones, its temperature keeps their ESS at the target fraction
 * of the start weights' own ESS, and the evidence increment is the
 * weighted mean (Del Moral, Doucet & Jasra 2006, section 3.1: any weighted
 * sample of the initial density may start the sequence).
 *
 * log p(y) = sum over steps of log mean_i w_i.  Particle i draws its numbers
 * from stream (step, i) and every reduction over particles is done in
 * particle order on the calling thread: the result does not depend on the
 * number of threads. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_rng.h"
#include "vbt_smc.h"

#define MAX_THREADS 64
#define DIVERGENCE 1000.0   /* energy error beyond which a move counts as divergent */

void vbt_smc_opts_default(vbt_smc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_particles = 512;
    o->ess_target = 0.5;
    o->n_moves = 10;
    o->max_steps = 1000;
    o->n_threads = 1;
    o->n_leapfrog = 10;
    o->accept_target = 0.7;
}

typedef struct smc {
    const vbt_smc_model *m;
    void *ctx;
    const vbt_smc_opts *o;
    const double *start;        /* vbt_smc_from: the starting particles (else NULL) */
    size_t N, n;
    int hmc;
    double *th, *lp, *ll;       /* particles, log prior, log likelihood */
    double *scale;              /* n: proposal sd (random walk) or variance v (HMC) */
    double *acc;                /* N: acceptance probability of each particle's move(s) */
    double *grad, *cur;         /* HMC: N x n tempered gradients, N tempered densities */
    vbt_rng *rng;               /* HMC: N streams, kept from one move to the next */
    size_t move;                /* HMC: the move under way */
    double *work;               /* per-thread scratch, wlen each */
    size_t wlen;
    double beta, eps;
    size_t step;
    size_t n_div, n_eval;       /* integers: their sum does not depend on the order */
    size_t n_rounds;            /* HMC: rounds of moves made (every particle once a round) */
    pthread_mutex_t lock;
} smc;

typedef struct job {
    smc *s;
    size_t t;                   /* thread index */
    int phase;                  /* 0: prior draws; 1: moves */
} job;

/* log prior + beta log lik and its gradient g at x; gp, gl: n scratch. */
static double tempered(const smc *s, void *ctx, const double *x, double *lp, double *ll,
                       double *g, double *gp, double *gl)
{
    *lp = s->m->log_prior_grad(ctx, x, gp);
    *ll = isfinite(*lp) ? s->m->log_lik_grad(ctx, x, gl) : -HUGE_VAL;
    if (!isfinite(*lp) || !isfinite(*ll))
        return -HUGE_VAL;
    for (size_t d = 0; d < s->n; d++)
        g[d] = gp[d] + s->beta * gl[d];
    return *lp + s->beta * *ll;
}

/* Move k of particle i: one HMC transition; returns 1 when divergent.  Move
 * 0 starts the particle's stream (step, i) and its gradient. */
static size_t hmc_move(smc *s, void *ctx, size_t i, double *w, size_t *evals)
{
    const size_t n = s->n, L = s->o->n_leapfrog;
    double *x = s->th + i * n, *g = s->grad + i * n, *xn = w, *p = w + n, *gn = w + 2 * n,
           *gp = w + 3 * n, *gl = w + 4 * n, *z = w + 5 * n;
    const double *v = s->scale;
    vbt_rng *r = &s->rng[i];
    if (s->move == 0) {
        vbt_rng_init(r, s->o->seed, ((uint64_t)(s->step + 1) << 32) + i);
        s->cur[i] = tempered(s, ctx, x, &s->lp[i], &s->ll[i], g, gp, gl);
        (*evals)++;
    }
    s->acc[i] = 0.0;
    if (!isfinite(s->cur[i]))
        return 0;           /* cannot happen after resampling; leave it */
    const size_t lmin = L > 1 ? L - L / 2 : 1, lmax = L + L / 2;
    double u[3];
    vbt_rng_normal(r, z, n);
    vbt_rng_uniform(r, u, 3);
    size_t steps = lmin + (size_t)(u[0] * (double)(lmax - lmin + 1));
    if (steps > lmax)
        steps = lmax;
    const double eps = s->eps * (0.8 + 0.4 * u[1]);
    double k0 = 0.0;
    for (size_t d = 0; d < n; d++) {
        p[d] = z[d] / sqrt(v[d]);
        k0 += 0.5 * z[d] * z[d];
        xn[d] = x[d];
        gn[d] = g[d];
    }
    double lpn = s->lp[i], lln = s->ll[i], tn = s->cur[i];
    for (size_t l = 0; l < steps && isfinite(tn); l++) {
        for (size_t d = 0; d < n; d++) {
            p[d] += 0.5 * eps * gn[d];
            xn[d] += eps * v[d] * p[d];
        }
        tn = tempered(s, ctx, xn, &lpn, &lln, gn, gp, gl);
        (*evals)++;
        if (isfinite(tn))
            for (size_t d = 0; d < n; d++)
                p[d] += 0.5 * eps * gn[d];
    }
    double k1 = 0.0;
    for (size_t d = 0; d < n; d++)
        k1 += 0.5 * v[d] * p[d] * p[d];
    double a = (tn - k1) - (s->cur[i] - k0);
    if (!isfinite(a) || a < -DIVERGENCE)
        return 1;
    s->acc[i] = a >= 0 ? 1.0 : exp(a);
    if (log(u[2]) < a) {
        memcpy(x, xn, n * sizeof *x);
        memcpy(g, gn, n * sizeof *g);
        s->lp[i] = lpn;
        s->ll[i] = lln;
        s->cur[i] = tn;
    }
    return 0;
}

/* n_moves random-walk Metropolis steps of particle i. */
static void rw_moves(smc *s, void *ctx, size_t i, vbt_rng *r, double *w, size_t *evals)
{
    const size_t n = s->n;
    double *th = s->th + i * n, *prop = w, *z = w + n, u;
    s->acc[i] = 0.0;
    for (size_t k = 0; k < s->o->n_moves; k++) {
        vbt_rng_normal(r, z, n);
        vbt_rng_uniform(r, &u, 1);
        for (size_t d = 0; d < n; d++)
            prop[d] = th[d] + s->scale[d] * z[d];
        double lp = s->m->log_prior(ctx, prop);
        double ll = isfinite(lp) ? s->m->log_lik(ctx, prop) : -HUGE_VAL;
        (*evals)++;
        double a = (lp + s->beta * ll) - (s->lp[i] + s->beta * s->ll[i]);
        if (isfinite(lp) && isfinite(ll) && log(u) < a) {
            memcpy(th, prop, n * sizeof *th);
            s->lp[i] = lp;
            s->ll[i] = ll;
            s->acc[i] += 1.0;
        }
    }
}

static void *work(void *arg)
{
    job *j = arg;
    smc *s = j->s;
    const size_t n = s->n, T = s->o->n_threads;
    void *ctx = s->o->thread_ctx ? s->o->thread_ctx[j->t] : s->ctx;
    double *w = s->work + j->t * s->wlen;
    size_t div = 0, evals = 0;
    /* Particle i is owned by thread i mod T and uses stream (step, i): the
     * numbers do not depend on the number of threads. */
    for (size_t i = j->t; i < s->N; i += T) {
        double *th = s->th + i * n;
        if (j->phase == 0) {
            if (s->start) {
                if (s->start != s->th)
                    memcpy(th, s->start + i * n, n * sizeof *th);
            } else {
                s->m->draw_prior(ctx, s->o->seed, i, th);
            }
            s->lp[i] = s->m->log_prior(ctx, th);
            s->ll[i] = isfinite(s->lp[i]) ? s->m->log_lik(ctx, th) : -HUGE_VAL;
            continue;
        }
        if (s->hmc) {
            div += hmc_move(s, ctx, i, w, &evals);
            continue;
        }
        vbt_rng r;
        vbt_rng_init(&r, s->o->seed, ((uint64_t)(s->step + 1) << 32) + i);
        rw_moves(s, ctx, i, &r, w, &evals);
    }
    pthread_mutex_lock(&s->lock);
    s->n_div += div;
    s->n_eval += evals;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void run_phase(smc *s, int phase)
{
    const size_t T = s->o->n_threads;
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (size_t t = 0; t < T; t++) {
        jobs[t] = (job){s, t, phase};
        if (t > 0 && pthread_create(&th[t], NULL, work, &jobs[t]) == 0)
            started[t] = 1;
        else if (t > 0)
            work(&jobs[t]);
    }
    work(&jobs[0]);
    for (size_t t = 1; t < T; t++)
        if (started[t])
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

/* The same with log weights lw (normalised: log-sum-exp 0) on the particles:
 * ESS of the weights lw + dbeta ll as a fraction of N, and the log of their
 * sum (the weighted mean of exp(dbeta ll)). */
static double ess_frac_w(const double *lw, const double *ll, size_t N, double dbeta,
                         double *log_mean)
{
    double mx = -HUGE_VAL;
    for (size_t i = 0; i < N; i++)
        if (isfinite(ll[i]))
            mx = fmax(mx, lw[i] + dbeta * ll[i]);
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < N; i++) {
        double w = isfinite(ll[i]) && isfinite(mx) ? exp(lw[i] + dbeta * ll[i] - mx) : 0.0;
        s1 += w;
        s2 += w * w;
    }
    if (log_mean)
        *log_mean = isfinite(mx) ? mx + log(s1) : -HUGE_VAL;
    return s2 > 0 ? s1 * s1 / (s2 * (double)N) : 0.0;
}

static int run(const vbt_smc_model *m, void *ctx, const vbt_smc_opts *o_in,
               const double *start, const double *start_lw, double *particles,
               vbt_smc_result *res, vbt_msg *msg)
{
    vbt_smc_opts o;
    if (!m || !particles || !res || (!start && !m->draw_prior) || !m->log_prior ||
        !m->log_lik || !m->n)
        return vbt__fail(msg, VBT_EINVAL, "smc: incomplete model or NULL argument");
    if (!m->log_prior_grad != !m->log_lik_grad)
        return vbt__fail(msg, VBT_EINVAL, "smc: give both gradients (log_prior_grad and "
                                          "log_lik_grad) or neither");
    if (o_in)
        o = *o_in;
    else
        vbt_smc_opts_default(&o);
    if (o.n_particles < 8 || !(o.ess_target > 0 && o.ess_target < 1) ||
        o.n_threads > MAX_THREADS)
        return vbt__fail(msg, VBT_EINVAL, "smc: need >= 8 particles, ESS target in (0, 1), "
                                          "<= %d threads", MAX_THREADS);
    if (m->log_prior_grad && (o.n_leapfrog == 0 || !(o.step_size >= 0) ||
                              !(o.accept_target > 0 && o.accept_target < 1)))
        return vbt__fail(msg, VBT_EINVAL, "smc: HMC moves need >= 1 leapfrog step, a step "
                                          "size >= 0 and an acceptance target in (0, 1)");
    if (o.n_threads == 0)
        o.n_threads = 1;
    if (o.n_threads > o.n_particles)
        o.n_threads = o.n_particles;
    smc s = {.m = m, .ctx = ctx, .o = &o, .N = o.n_particles, .n = m->n, .th = particles,
             .hmc = m->log_prior_grad != NULL, .start = start};
    const size_t N = s.N, n = s.n;
    int st = VBT_OK;
    pthread_mutex_init(&s.lock, NULL);
    memset(res, 0, sizeof *res);
    s.wlen = (s.hmc ? 6 : 2) * n;
    s.lp = malloc(N * sizeof *s.lp);
    s.ll = malloc(N * sizeof *s.ll);
    s.acc = malloc(N * sizeof *s.acc);
    s.scale = malloc(n * sizeof *s.scale);
    s.work = malloc(o.n_threads * s.wlen * sizeof *s.work);
    if (s.hmc) {
        s.grad = malloc(N * n * sizeof *s.grad);
        s.cur = malloc(N * sizeof *s.cur);
        s.rng = malloc(N * sizeof *s.rng);
    }
    double *copy = malloc(N * n * sizeof *copy), *cll = malloc(N * sizeof *cll);
    double *clp = malloc(N * sizeof *clp), *w = malloc(N * sizeof *w);
    double *lw = start ? malloc(N * sizeof *lw) : NULL;
    /* adaptive moves: the positions after resampling, to measure the jump */
    double *pos0 = s.hmc && o.move_jump > 0 ? malloc(N * n * sizeof *pos0) : NULL;
    res->start_ess = res->reweight_ess = NAN;
    if (!s.lp || !s.ll || !s.acc || !s.scale || !s.work || !copy || !cll || !clp || !w ||
        (start && !lw) || (s.hmc && o.move_jump > 0 && !pos0) ||
        (s.hmc && (!s.grad || !s.cur || !s.rng))) {
        st = vbt__fail(msg, VBT_ENOMEM, "smc: out of memory");
        goto out;
    }
    run_phase(&s, 0);
    size_t finite = 0;
    double ess0 = 1.0;          /* the start weights' ESS fraction (1: equal weights) */
    if (start) {
        /* the start weights, normalised; a particle whose density or weight
         * is not finite gets weight 0 */
        double mx = -HUGE_VAL, sum = 0.0, s2 = 0.0;
        for (size_t i = 0; i < N; i++) {
            lw[i] = start_lw ? start_lw[i] : 0.0;
            if (!isfinite(s.lp[i]) || !isfinite(lw[i]))
                lw[i] = -HUGE_VAL, s.ll[i] = -HUGE_VAL;
            mx = fmax(mx, lw[i]);
        }
        for (size_t i = 0; isfinite(mx) && i < N; i++)
            sum += exp(lw[i] - mx);
        for (size_t i = 0; i < N; i++) {
            lw[i] = isfinite(mx) ? lw[i] - mx - log(sum) : -HUGE_VAL;
            s2 += isfinite(lw[i]) ? exp(2.0 * lw[i]) : 0.0;
        }
        ess0 = s2 > 0 ? 1.0 / (s2 * (double)N) : 0.0;
        res->start_ess = ess0 * (double)N;
        res->reweight_ess = ess_frac_w(lw, s.ll, N, 1.0, NULL) * (double)N;
    }
    for (size_t i = 0; i < N; i++)
        finite += isfinite(s.ll[i]);
    if (finite == 0) {
        st = vbt__fail(msg, VBT_ENUMERIC, start ? "smc: the likelihood is not finite at any "
                                                  "start particle of non-zero weight"
                                                : "smc: the likelihood is not finite at any "
                                                  "prior draw");
        goto out;
    }
    double rw = 2.38 / sqrt((double)n);     /* proposal factor, adapted below */
    s.eps = o.step_size > 0 ? o.step_size : pow((double)n, -0.25);
    double acc_sum = 0.0;
    vbt_rng rr;
    vbt_rng_init(&rr, o.seed, (uint64_t)1 << 62);
    int final_left = o.final_moves > 0;
    while ((s.beta < 1.0 || final_left) && s.step < o.max_steps) {
        if (s.beta >= 1.0) {
            /* the final rejuvenation: a step of zero temperature increment
             * (identity resampling, no evidence) with final_moves moves */
            final_left = 0;
            o.n_moves = o.final_moves;
        }
        /* next temperature: the largest dbeta keeping ESS >= target (bisection) */
        double lo = 0.0, hi = 1.0 - s.beta, lm;
        if (lw) {
            /* the first step from weighted start particles */
            const double tgt = o.ess_target * ess0;
            if (ess_frac_w(lw, s.ll, N, hi, &lm) < tgt) {
                for (int it = 0; it < 60; it++) {
                    double mid = 0.5 * (lo + hi);
                    if (ess_frac_w(lw, s.ll, N, mid, NULL) >= tgt)
                        lo = mid;
                    else
                        hi = mid;
                }
                hi = lo > 0 ? lo : hi;
            }
            ess_frac_w(lw, s.ll, N, hi, &lm);
        } else if (ess_frac(s.ll, N, hi, &lm) < o.ess_target) {
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
        if (!lw)
            ess_frac(s.ll, N, dbeta, &lm);
        res->log_evidence += lm;
        s.beta = dbeta >= 1.0 - s.beta ? 1.0 : s.beta + dbeta;
        if (o.temperatures)
            o.temperatures[s.step] = s.beta;
        /* systematic resampling by the incremental weights */
        double mx = -HUGE_VAL, tot = 0.0;
        for (size_t i = 0; i < N; i++)
            if (!lw || isfinite(s.ll[i]))
                mx = fmax(mx, dbeta * s.ll[i] + (lw ? lw[i] : 0.0));
        for (size_t i = 0; i < N; i++) {
            w[i] = isfinite(s.ll[i]) ? exp(dbeta * s.ll[i] + (lw ? lw[i] : 0.0) - mx) : 0.0;
            tot += w[i];
        }
        /* after the first resampling the particles are equally weighted */
        free(lw);
        lw = NULL;
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
        /* the particles' spread: random-walk proposal sd, or the HMC inverse
         * mass matrix regularised towards 1e-3 as Stan does for its metric */
        for (size_t d = 0; d < n; d++) {
            double mean = 0.0, var = 0.0;
            for (size_t i = 0; i < N; i++)
                mean += s.th[i * n + d];
            mean /= (double)N;
            for (size_t i = 0; i < N; i++)
                var += (s.th[i * n + d] - mean) * (s.th[i * n + d] - mean);
            var /= (double)(N - 1);
            if (s.hmc)
                s.scale[d] = ((double)N * var + 5e-3) / ((double)N + 5.0);
            else
                s.scale[d] = rw * sqrt(var > 1e-300 ? var : 1e-300);
        }
        double rate = 0.0;
        if (s.hmc) {
            /* one move of every particle at a time; between two, the step
             * size takes a multiplicative step towards the acceptance
             * target (at most a factor 2 either way) */
            if (pos0)
                memcpy(pos0, s.th, N * n * sizeof *pos0);
            size_t made = 0;
            for (s.move = 0; s.move < o.n_moves; s.move++) {
                run_phase(&s, 1);
                made++;
                double r = 0.0;
                for (size_t i = 0; i < N; i++)
                    r += s.acc[i];
                r /= (double)N;
                rate += r;
                res->step_size = s.eps;
                double e = 1.5 * (r - o.accept_target);
                s.eps *= exp(e < -0.7 ? -0.7 : e > 0.7 ? 0.7 : e);
                if (pos0) {
                    /* the mean squared jump per coordinate, in the units of
                     * the particles' variance (s.scale: v), in particle order */
                    double jump = 0.0;
                    for (size_t i = 0; i < N; i++)
                        for (size_t d = 0; d < n; d++) {
                            double dx = s.th[i * n + d] - pos0[i * n + d];
                            jump += dx * dx / s.scale[d];
                        }
                    if (jump / (double)(N * n) >= o.move_jump)
                        break;
                }
            }
            rate /= (double)made;
            s.n_rounds += made;
        } else {
            run_phase(&s, 1);
            for (size_t i = 0; i < N; i++)
                rate += s.acc[i];
            rate /= (double)(N * o.n_moves);
            /* keep the acceptance near 0.3 */
            rw *= rate > 0.4 ? 1.3 : rate < 0.15 ? 0.7 : 1.0;
        }
        res->accept_rate = rate;
        acc_sum += rate;
        s.step++;
    }
    res->n_steps = s.step;
    res->mean_accept = s.step ? acc_sum / (double)s.step : 0.0;
    res->n_divergent = s.n_div;
    res->n_grad = s.n_eval;
    res->n_rounds = s.n_rounds;
    if (s.beta < 1.0)
        st = vbt__fail(msg, VBT_ENUMERIC, "smc: the temperature reached only %g after %zu steps "
                       "(raise max_steps or the particles)", s.beta, s.step);
out:
    pthread_mutex_destroy(&s.lock);
    free(s.lp);
    free(s.ll);
    free(s.acc);
    free(s.scale);
    free(s.work);
    free(s.grad);
    free(s.cur);
    free(s.rng);
    free(copy);
    free(cll);
    free(clp);
    free(w);
    free(lw);
    free(pos0);
    return st;
}

int vbt_smc(const vbt_smc_model *m, void *ctx, const vbt_smc_opts *o, double *particles,
            vbt_smc_result *res, vbt_msg *msg)
{
    return run(m, ctx, o, NULL, NULL, particles, res, msg);
}

int vbt_smc_from(const vbt_smc_model *m, void *ctx, const vbt_smc_opts *o,
                 const double *start, const double *start_log_w, double *particles,
                 vbt_smc_result *res, vbt_msg *msg)
{
    if (!start)
        return vbt__fail(msg, VBT_EINVAL, "smc: no start particles");
    return run(m, ctx, o, start, start_log_w, particles, res, msg);
}
