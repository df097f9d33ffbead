/* validate_sbc.c -- simulation-based calibration (Talts, Betancourt,
 * Simpson, Vehtari & Gelman 2018, arXiv:1804.06788) of NUTS or of SMC on
 * the BVEP model (fitting/vbt_vep.h, fitting/vbt_nuts.h, fitting/vbt_smc.h).
 *
 *   validate_sbc [--replicates 200] [--seed 1] [--threads 1] [--bins 10]
 *                [--max-rank 99] [--chains 2] [--warmup 400] [--draws 400]
 *                [--init map|prior] [--starts 4] [--prior FILE.json]
 *                [--network-seed 8] [--metric dense|diag] [--adapt-delta 0.95]
 *                [--method nuts|smc] [--particles 512] [--smc-moves 10]
 *                [--leapfrog 10] [--smc-ess 0.5]
 *                [--first R] [--out FILE.json] [--quiet] [--verbose]
 *
 * Problem: 6 regions (bench_synth.h's log-normal connectome, --network-seed
 * 8: 15 directed edges), 8 sensors (inverse-square gain), 80 samples, dt 0.1, Euler,
 * linear observation, tau0 fixed at 10.  Free: x0[6], x_init[6], z_init[6],
 * K, amp, off[8], eps (29 parameters) under the SBC prior below, which both
 * generates the replicates and is the prior of the fit.
 *
 * Replicate r (every random number from Philox streams of (seed, r), so the
 * result does not depend on --threads):
 *   1. theta ~ prior; redrawn while the Euler trajectory is not finite (the
 *      log posterior is -inf there, so the fit's prior is the prior
 *      truncated to finite trajectories, and so is this generator's);
 *   2. y = simulate(theta) + eps N(0, 1);
 *   3. NUTS, --chains chains x (--warmup + --draws), started from the data
 *      alone: --init map (default) runs a --starts-start MAP from prior draws
 *      and starts the chains at the best mode plus 0.5 Laplace sd jitter with
 *      the Laplace covariance as the initial (dense by default) metric,
 *      adapt_delta 0.95 (0.8 diverges in most replicates); --init prior starts each
 *      chain at its own prior draw.  Never from theta.  The chains are run by
 *      the fit object (fitting/vbt_fit.h, vbt_fit_set_inits: these starts,
 *      seed --seed x 1000003 + r, one thread), as is --method smc below;
 *   4. per parameter: L = vbt_sbc_thin(min(bulk, tail ESS)) draws, evenly
 *      spaced over the chains, and the rank of theta among them
 *      (vbt_sbc_rank), binned into --bins bins.
 *
 * --method smc replaces 3-4 by vbt_vep_smc from the prior (never from theta
 * nor a MAP): --particles particles, ESS target --smc-ess, --smc-moves HMC
 * moves of ~--leapfrog leapfrog steps per tempering step, one thread per
 * replicate (the replicates run in parallel; seed --seed x 1000003 + r, so
 * nothing depends on --threads).  The rank of theta is taken among L of the
 * final particles, the same L for every parameter:
 *   L = vbt_sbc_thin(D, N, bins, max_rank), D the number of distinct
 *       particles (rows) after the last move step: the largest L < D, <=
 *       --max-rank, with L + 1 a multiple of --bins;
 *   the L particles are rows floor(k N / L), k < L (vbt_sbc_rank),
 *       evenly spaced over the particle index -- deterministic.
 * Why this gives valid ranks: SBC needs the L draws to be (close to)
 * independent draws from the posterior, else their correlation narrows or
 * clumps the ranks.  Particles are correlated through resampling: copies of
 * one ancestor and descendants of common ancestors.  vbt_smc's systematic
 * resampling is monotone (particle i takes the ancestor at the i-th
 * systematic point, in ancestor order), so the copies of one ancestor, and
 * the descendants of one older ancestor, occupy contiguous blocks of
 * indices; taking every (N/L)-th particle (N/L ~ 2.6 at N 256, 5.2 at 512)
 * picks particles from different blocks, i.e. different recent ancestors,
 * and the --smc-moves HMC moves after the last resampling decorrelate
 * them further.  D itself is nearly N (each of the ~10 moves is accepted
 * with probability ~0.7), so the cap binds; D is still computed so that a
 * degenerate run (moves rejected, copies left) is ranked against fewer
 * particles and shows in --verbose ("distinct of the L ranked": exact
 * duplicates among the ranked particles).  A random subset would be no
 * better (it draws neighbours from one block as often as not).  Residual
 * correlation through older common ancestry is not removed by the
 * selection: it would show as a U-shaped (too narrow) or peaked histogram,
 * i.e. the test errs towards failing, never towards hiding a bias.
 * A replicate whose chains fail to start is counted as failed and listed
 * (never dropped silently); replicates with divergences, stuck chains or
 * R-hat > 1.05 keep their ranks and are counted.  Per parameter: the
 * chi-square statistic of the rank histogram, its degrees of freedom,
 * p-value (vbt_chisq_uniform) and pass at the 1 % level, an ASCII histogram.
 * --out writes every rank, L, truth and p-value as JSON.  --verbose prints
 * one line per replicate (divergences, R-hat, ESS, log posterior at the
 * truth against the draws' mean, and the parameters whose truth lies
 * outside every kept draw; for SMC: tempering steps, mean and last-step
 * acceptance, step size, divergent moves, gradients, log evidence,
 * distinct particles); --first R --replicates 1 reruns replicate R.
 *
 * Exit status 0 whatever the test says (it is a report), 1 on errors, 2 on
 * usage errors.  Set OPENBLAS_NUM_THREADS=1.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_synth.h"
#include "vbt_diagnostics.h"
#include "vbt_fit.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"
#include "vbt_vep.h"

#define NR 6
#define NS 8
#define NT 80

/* stream offsets within a replicate's seed (stream = offset + r) */
#define STREAM_THETA ((uint64_t)0)
#define STREAM_NOISE ((uint64_t)1 << 40)
#define STREAM_INIT ((uint64_t)2 << 40)
#define STREAM_PRIOR_INIT ((uint64_t)3 << 40)
#define MAX_REDRAW 1000

typedef struct opts {
    size_t replicates, first, threads, bins, max_rank, chains, warmup, draws, starts;
    size_t particles, smc_moves, leapfrog;
    uint64_t seed, network_seed;
    vbt_nuts_metric metric;
    double adapt_delta, smc_ess;
    int smc, init_map, quiet, verbose;
    const char *prior_path, *out_path;
} opts;

typedef struct rep {
    int failed;             /* 1: a chain could not start or sample */
    char why[160];
    size_t redraws;         /* prior draws rejected for a non-finite trajectory */
    size_t divergences, depth_hits, stuck;
    double max_rhat, min_ess, wall_s;
    size_t worst;           /* parameter with the largest R-hat */
    /* --method smc */
    size_t smc_steps, smc_grads, distinct, distinct_kept;
    double smc_accept, smc_last_accept, smc_step, log_evidence;
    double lp_truth, lp_mean; /* log posterior at theta and its mean over the draws */
    char extreme[640];      /* --verbose: parameters ranked 0 or L (truth outside the draws) */
    size_t *rank, *L;       /* n_params each */
    double *truth;          /* n_params natural values */
} rep;

typedef struct shared {
    const opts *o;
    const vbt_vep_spec *spec;  /* data NULL */
    const vbt_connectome *conn; /* the fit's: spec's weights, labels "r1" ... */
    const double *gain;        /* spec's */
    size_t np;
    rep *reps;
    pthread_mutex_t lock;
    size_t next, done, failed;
    double t0;
    int tty;
} shared;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The SBC prior: BVEP's defaults (docs/fitting.md) with the initial state
 * narrowed to sd 0.3 around the healthy fixed point region and a
 * log-normal amplitude and noise, so that a prior draw gives a finite,
 * non-degenerate Euler trajectory and an identifiable observation scale:
 *   x0 ~ N(-2.5, 1), x_init ~ N(-2, 0.3), z_init ~ N(3.5, 0.3),
 *   K ~ N(1, 0.1) on (0, inf), tau0 fixed 10, amp: log amp ~ N(0, 0.3),
 *   off ~ N(0, 1), eps: log eps ~ N(log 0.1, 0.3). */
static void sbc_prior(vbt_vep_priors *p)
{
    vbt_vep_priors_default(p);
    p->x0 = (vbt_vep_group_prior){.mu = -2.5, .sd = 1.0};
    p->x_init = (vbt_vep_group_prior){.mu = -2.0, .sd = 0.3};
    p->z_init = (vbt_vep_group_prior){.mu = 3.5, .sd = 0.3};
    p->off = (vbt_vep_group_prior){.mu = 0.0, .sd = 1.0};
    p->K = (vbt_vep_scalar_prior){.dist = VBT_VEP_NORMAL, .mu = 1.0, .sd = 0.1, .lo = 0.0};
    p->tau0 = (vbt_vep_scalar_prior){.dist = VBT_VEP_NORMAL, .mu = 20.0, .sd = 10.0, .lo = 5.0,
                                     .fixed = 1, .value = 10.0};
    p->amp = (vbt_vep_scalar_prior){.dist = VBT_VEP_LOGNORMAL, .mu = 0.0, .sd = 0.3, .lo = 0.0};
    p->eps = (vbt_vep_scalar_prior){.dist = VBT_VEP_LOGNORMAL, .mu = log(0.1), .sd = 0.3,
                                    .lo = 0.0};
}

static int vep_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

static int finite_all(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* A particle (row of n doubles) for sorting; equal rows are equal
 * particles (resampled copies that no move has changed since). */
typedef struct rowref {
    const double *x;
    size_t n;
} rowref;

static int row_cmp(const void *a, const void *b)
{
    const rowref *p = a, *q = b;
    for (size_t d = 0; d < p->n; d++)
        if (p->x[d] != q->x[d])
            return p->x[d] < q->x[d] ? -1 : 1;
    return 0;
}

/* Distinct rows among the N particles x (N x n), or, with L > 0, among the
 * L that vbt_sbc_rank ranks against (rows floor(k N / L), k < L). */
static size_t count_distinct(const double *x, size_t N, size_t n, size_t L, rowref *rr)
{
    size_t K = L ? L : N;
    for (size_t k = 0; k < K; k++)
        rr[k] = (rowref){x + (L ? (size_t)((unsigned long long)k * N / L) : k) * n, n};
    qsort(rr, K, sizeof *rr, row_cmp);
    size_t c = K > 0;
    for (size_t k = 1; k < K; k++)
        c += row_cmp(&rr[k - 1], &rr[k]) != 0;
    return c;
}

/* Scratch of one worker thread. */
typedef struct work {
    vbt_vep *gen;          /* data-free model: prior draws and simulation */
    double *theta, *y, *noise, *inits, *x, *map, *cov, *mean_lp, *step;
    rowref *rows;          /* --method smc: particles, for counting the distinct ones */
    int *flags;
} work;

/* 1. theta ~ prior, finite trajectory; 2. y = mu + eps z.  0, or 1 with
 * the replicate marked failed. */
static int draw_truth(const shared *sh, work *w, size_t r, rep *out)
{
    const opts *o = sh->o;
    size_t np = sh->np, ny = (size_t)NT * NS, a;
    for (a = 0; a < MAX_REDRAW; a++) {
        vbt_vep_prior_draw(w->gen, o->seed, STREAM_THETA + r + ((uint64_t)a << 24), w->theta);
        if (vbt_vep_simulate(w->gen, w->theta, NULL, w->y) == VBT_OK && finite_all(w->y, ny))
            break;
    }
    out->redraws = a;
    if (a == MAX_REDRAW) {
        out->failed = 1;
        snprintf(out->why, sizeof out->why, "no finite prior draw in %d", MAX_REDRAW);
        return 1;
    }
    double *nat = w->x; /* np scratch, reused below */
    vbt_vep_constrain(w->gen, w->theta, nat);
    memcpy(out->truth, nat, np * sizeof *nat);
    double eps = nat[np - 1];
    vbt_rng g;
    vbt_rng_init(&g, o->seed, STREAM_NOISE + r);
    vbt_rng_normal(&g, w->noise, ny);
    for (size_t k = 0; k < ny; k++)
        w->y[k] += eps * w->noise[k];
    return 0;
}

/* 3. The chains' starts, from the data alone: a --starts-start MAP from
 * prior draws (its own seed) and 0.5 Laplace sd jitter of stream (seed,
 * STREAM_INIT + r) with the Laplace covariance as the initial metric; or
 * prior draws with a finite log posterior.  0, or 1 with the replicate
 * marked failed. */
static int chain_starts(const shared *sh, work *w, vbt_fit *f, size_t r, rep *out,
                        vbt_msg *msg)
{
    const opts *o = sh->o;
    const size_t np = sh->np, C = o->chains;
    vbt_vep *m = vbt_fit_model(f);
    int have_metric = 0;
    if (o->init_map) {
        vbt_vep_map_opts mo;
        vbt_vep_map_opts_default(&mo);
        mo.n_starts = o->starts;
        mo.n_threads = 1;
        mo.seed = o->seed ^ (0x9E3779B97F4A7C15ULL * (r + 1));
        vbt_vep_map_result mr;
        if (vbt_vep_map(m, &mo, w->map, &mr, NULL, NULL, msg)) {
            out->failed = 1;
            snprintf(out->why, sizeof out->why, "map: %.140s", msg->text);
            return 1;
        }
        have_metric = vbt_nuts_laplace_cov(vep_cb, m, np, w->map, 0, w->cov, msg) == VBT_OK;
        vbt_rng g;
        vbt_rng_init(&g, o->seed, STREAM_INIT + r);
        for (size_t c = 0; c < C; c++) {
            double *in = w->inits + c * np;
            vbt_rng_normal(&g, in, np);
            for (size_t i = 0; i < np; i++)
                in[i] = w->map[i] +
                        (have_metric ? 0.5 * sqrt(w->cov[i * np + i]) : 0.1) * in[i];
        }
    } else {
        for (size_t c = 0; c < C; c++) {
            double *in = w->inits + c * np, lp = -HUGE_VAL;
            for (size_t a = 0; a < MAX_REDRAW; a++) {
                vbt_vep_prior_draw(w->gen, o->seed,
                                   STREAM_PRIOR_INIT + (r * C + c) + ((uint64_t)a << 32), in);
                if (vbt_vep_logp(m, in, &lp, NULL) == VBT_OK && isfinite(lp))
                    break;
            }
        }
    }
    if (vbt_fit_set_inits(f, w->inits, have_metric ? w->cov : NULL, msg)) {
        out->failed = 1;
        snprintf(out->why, sizeof out->why, "nuts: %.140s", msg->text);
        return 1;
    }
    return 0;
}

/* 4. NUTS diagnostics (every chain, unconstrained: the transforms are
 * monotone) and the rank count of every parameter. */
static void nuts_tally(const shared *sh, work *w, vbt_fit *f, rep *out)
{
    const opts *o = sh->o;
    const size_t np = sh->np, C = o->chains, D = o->draws;
    const double *draws = vbt_fit_draws_unconstrained(f);
    const vbt_nuts_stats *st = vbt_fit_nuts_stats(f);
    const vbt_nuts_chain_info *info = vbt_fit_nuts_info(f);
    out->divergences = out->depth_hits = 0;
    for (size_t c = 0; c < C; c++) {
        out->divergences += info[c].divergences;
        out->depth_hits += info[c].max_depth_hits;
        double s = 0;
        for (size_t d = 0; d < D; d++)
            s += st[c * D + d].lp;
        w->mean_lp[c] = s / (double)D;
        w->step[c] = info[c].stepsize;
    }
    out->stuck = vbt_diag_stuck_chains(w->mean_lp, w->step, C, 0, 0, w->flags);
    out->lp_mean = 0;
    for (size_t c = 0; c < C; c++)
        out->lp_mean += w->mean_lp[c] / (double)C;
    out->max_rhat = 0;
    out->min_ess = INFINITY;
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < C * D; k++)
            w->x[k] = draws[k * np + i];
        vbt_diag_param dp;
        double ess = NAN;
        if (vbt_diag_param_compute(w->x, C, D, &dp) == VBT_OK) {
            ess = fmin(dp.ess_bulk, dp.ess_tail);
            double rh = isnan(dp.rhat) ? INFINITY : dp.rhat;
            if (rh > out->max_rhat) {
                out->max_rhat = rh;
                out->worst = i;
            }
        }
        out->min_ess = isnan(ess) ? 0 : fmin(out->min_ess, ess);
        out->L[i] = vbt_sbc_thin(ess, C * D, o->bins, o->max_rank);
    }
}

/* 3'-4'. SMC's figures, and the rank count: distinct particles, capped by
 * --max-rank, a multiple of --bins less one (see the header). */
static void smc_tally(const shared *sh, work *w, vbt_fit *f, rep *out)
{
    const opts *o = sh->o;
    const size_t np = sh->np, D = o->particles;
    const double *draws = vbt_fit_draws_unconstrained(f);
    const vbt_smc_result *sr = vbt_fit_smc_result(f);
    out->smc_steps = sr->n_steps;
    out->smc_grads = sr->n_grad;
    out->smc_accept = sr->mean_accept;
    out->smc_last_accept = sr->accept_rate;
    out->smc_step = sr->step_size;
    out->log_evidence = sr->log_evidence;
    out->divergences = sr->n_divergent;
    out->depth_hits = out->stuck = 0;
    out->max_rhat = NAN;
    out->worst = 0;
    out->distinct = count_distinct(draws, D, np, 0, w->rows);
    out->min_ess = (double)out->distinct;
    size_t L = vbt_sbc_thin((double)out->distinct, D, o->bins, o->max_rank);
    out->distinct_kept = count_distinct(draws, D, np, L, w->rows);
    out->lp_mean = 0;
    for (size_t k = 0; k < D; k++) {
        double lp;
        if (vbt_vep_logp(vbt_fit_model(f), draws + k * np, &lp, NULL) != VBT_OK)
            lp = -HUGE_VAL;
        out->lp_mean += lp / (double)D;
    }
    for (size_t i = 0; i < np; i++)
        out->L[i] = L;
}

/* The rank of theta among the draws, parameter by parameter; --verbose:
 * the parameters whose truth lies outside every kept draw. */
static void rank_truth(const shared *sh, work *w, vbt_fit *f, rep *out)
{
    const opts *o = sh->o;
    const size_t np = sh->np, N = vbt_fit_n_chains(f) * vbt_fit_n_draws(f);
    const double *draws = vbt_fit_draws_unconstrained(f);
    if (vbt_vep_logp(vbt_fit_model(f), w->theta, &out->lp_truth, NULL) != VBT_OK)
        out->lp_truth = -HUGE_VAL;
    out->extreme[0] = 0;
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < N; k++)
            w->x[k] = draws[k * np + i];
        out->rank[i] = vbt_sbc_rank(w->x, N, out->L[i], w->theta[i]);
        if (o->verbose && (out->rank[i] == 0 || out->rank[i] == out->L[i])) {
            /* natural mean and sd of the draws of parameter i */
            double s1 = 0, s2 = 0;
            for (size_t k = 0; k < N; k++) {
                vbt_vep_constrain(w->gen, draws + k * np, w->map);
                s1 += w->map[i];
                s2 += w->map[i] * w->map[i];
            }
            double mu = s1 / (double)N, sd = sqrt(fmax(0, s2 / (double)N - mu * mu));
            size_t len = strlen(out->extreme);
            snprintf(out->extreme + len, sizeof out->extreme - len, " %s %.3f (draws %.3f +- %.3f)",
                     vbt_vep_param_name(w->gen, i), out->truth[i], mu, sd);
        }
    }
}

/* The fit of replicate r: NUTS from the chains' starts, or SMC from the
 * prior, one thread (the replicates run in parallel). */
static void fit_options(const opts *o, size_t r, vbt_fit_opts *fo)
{
    vbt_fit_opts_default(fo);
    fo->sampler = o->smc ? vbt_sampler_smc : vbt_sampler_nuts;
    fo->threads = 1;
    fo->seed = o->seed * 1000003ULL + r;
    fo->chains = o->chains;
    fo->warmup = o->warmup;
    fo->draws = o->draws;
    fo->metric = o->metric == VBT_NUTS_DIAG ? VBT_FIT_METRIC_DIAG : VBT_FIT_METRIC_DENSE;
    fo->adapt_delta = o->adapt_delta;
    fo->particles = o->particles;
    fo->smc_moves = o->smc_moves;
    fo->leapfrog = o->leapfrog;
    fo->smc_ess = o->smc_ess;
}

static void run_replicate(const shared *sh, work *w, size_t r, rep *out)
{
    const opts *o = sh->o;
    double t0 = now();
    vbt_msg msg;
    vbt_fit *f = NULL;
    out->failed = 0;
    out->why[0] = 0;
    if (draw_truth(sh, w, r, out))
        goto done;
    vbt_fit_opts fo;
    fit_options(o, r, &fo);
    vbt_array gain = {.data = (double *)sh->gain, .ndim = 2, .shape = {NS, NR}, .size = NS * NR};
    vbt_array data = {.data = w->y, .ndim = 2, .shape = {NT, NS}, .size = (size_t)NT * NS};
    if (vbt_fit_alloc(&f, sh->conn, &gain, &data, &sh->spec->priors, &fo, &msg)) {
        out->failed = 1;
        snprintf(out->why, sizeof out->why, "model: %.140s", msg.text);
        goto done;
    }
    if (!o->smc && chain_starts(sh, w, f, r, out, &msg))
        goto done;
    if (vbt_fit_run(f, &msg)) {
        out->failed = 1;
        snprintf(out->why, sizeof out->why, "%s: %.140s", o->smc ? "smc" : "nuts", msg.text);
        goto done;
    }
    if (o->smc)
        smc_tally(sh, w, f, out);
    else
        nuts_tally(sh, w, f, out);
    rank_truth(sh, w, f, out);
done:
    for (char *q = out->why; *q; q++)
        if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
            *q = '\'';  /* the reason goes into JSON unescaped */
    vbt_fit_free(f);
    out->wall_s = now() - t0;
}

static void *worker(void *arg)
{
    shared *sh = arg;
    const opts *o = sh->o;
    size_t np = sh->np, C = o->smc ? 1 : o->chains, N = o->smc ? o->particles : C * o->draws,
           ny = (size_t)NT * NS;
    work w = {0};
    vbt_msg msg;
    if (vbt_vep_alloc(&w.gen, sh->spec, &msg))
        return NULL;
    w.theta = malloc(np * sizeof(double));
    w.y = malloc(ny * sizeof(double));
    w.noise = malloc(ny * sizeof(double));
    w.inits = malloc(C * np * sizeof(double));
    w.x = malloc((N > np ? N : np) * sizeof(double));
    w.map = malloc(np * sizeof(double));
    w.cov = malloc(np * np * sizeof(double));
    w.mean_lp = malloc(C * sizeof(double));
    w.step = malloc(C * sizeof(double));
    w.flags = malloc(C * sizeof(int));
    w.rows = malloc(N * sizeof *w.rows);
    if (!w.theta || !w.y || !w.noise || !w.inits || !w.x || !w.map || !w.cov || !w.mean_lp ||
        !w.step || !w.flags || !w.rows)
        goto out;
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        size_t r = sh->next++;
        pthread_mutex_unlock(&sh->lock);
        if (r >= o->replicates)
            break;
        run_replicate(sh, &w, o->first + r, &sh->reps[r]);
        pthread_mutex_lock(&sh->lock);
        sh->done++;
        sh->failed += sh->reps[r].failed;
        if (!o->quiet && sh->tty) {
            double el = now() - sh->t0;
            fprintf(stderr, "\rvalidate_sbc: %zu/%zu replicates, %zu failed, %.0f s elapsed, "
                            "~%.0f s left   ", sh->done, o->replicates, sh->failed, el,
                    el / (double)sh->done * (double)(o->replicates - sh->done));
        }
        pthread_mutex_unlock(&sh->lock);
    }
out:
    vbt_vep_free(w.gen);
    free(w.theta);
    free(w.y);
    free(w.noise);
    free(w.inits);
    free(w.x);
    free(w.map);
    free(w.cov);
    free(w.mean_lp);
    free(w.step);
    free(w.flags);
    free(w.rows);
    return NULL;
}

/* One line of ASCII: each bin's count as a bar height 0-8 relative to the
 * largest count, so a flat histogram reads as a row of equal symbols. */
static void ascii_hist(const size_t *cnt, size_t B, char *buf)
{
    static const char lv[] = " .:-=+*#%@";
    size_t mx = 1;
    for (size_t b = 0; b < B; b++)
        mx = cnt[b] > mx ? cnt[b] : mx;
    for (size_t b = 0; b < B; b++)
        buf[b] = lv[(cnt[b] * 9 + mx / 2) / mx];
    buf[B] = 0;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *v)
{
    char *e;
    unsigned long long x = strtoull(s, &e, 10);
    if (*s == '-' || *e || e == s || x < lo || x > hi)
        return -1;
    *v = (size_t)x;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: validate_sbc [--replicates N (200)] [--seed S (1)] [--threads T (1)]\n"
               "                    [--bins B (10)] [--max-rank L (99)] [--chains C (2)]\n"
               "                    [--warmup W (400)] [--draws D (400)] [--init map|prior]\n"
               "                    [--starts S (4)] [--prior FILE.json] [--out FILE.json]\n"
               "                    [--network-seed N (8)] [--metric dense|diag] [--adapt-delta A (0.95)]\n"
               "                    [--method nuts|smc] [--particles N (512)] [--smc-moves M (10)]\n"
               "                    [--leapfrog L (10)] [--smc-ess E (0.5)]\n"
               "                    [--first R (0)] [--quiet] [--verbose]\n");
}

/* The options from the command line: 0, -1 (help printed: exit 0) or 2
 * (usage error, printed). */
static int parse_args(int argc, char **argv, opts *o)
{
    for (int a = 1; a < argc; a++) {
        const char *k = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
        size_t s = 0;
        int bad = 0;
        if (!strcmp(k, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(k, "--verbose")) {
            o->verbose = 1;
            continue;
        }
        if (!strcmp(k, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        a++;
        if (!strcmp(k, "--replicates"))
            bad = parse_size(v, 1, 1000000, &o->replicates);
        else if (!strcmp(k, "--seed"))
            bad = parse_size(v, 0, SIZE_MAX, &s), o->seed = s;
        else if (!strcmp(k, "--first"))
            bad = parse_size(v, 0, SIZE_MAX / 2, &o->first);
        else if (!strcmp(k, "--network-seed"))
            bad = parse_size(v, 0, SIZE_MAX, &s), o->network_seed = s;
        else if (!strcmp(k, "--adapt-delta")) {
            char *e;
            o->adapt_delta = strtod(v, &e);
            bad = *e || !(o->adapt_delta > 0 && o->adapt_delta < 1);
        } else if (!strcmp(k, "--smc-ess")) {
            char *e;
            o->smc_ess = strtod(v, &e);
            bad = *e || !(o->smc_ess > 0 && o->smc_ess < 1);
        } else if (!strcmp(k, "--method")) {
            bad = strcmp(v, "nuts") && strcmp(v, "smc");
            o->smc = !strcmp(v, "smc");
        } else if (!strcmp(k, "--particles"))
            bad = parse_size(v, 16, 1000000, &o->particles);
        else if (!strcmp(k, "--smc-moves"))
            bad = parse_size(v, 1, 100000, &o->smc_moves);
        else if (!strcmp(k, "--leapfrog"))
            bad = parse_size(v, 1, 100000, &o->leapfrog);
        else if (!strcmp(k, "--metric")) {
            bad = strcmp(v, "diag") && strcmp(v, "dense");
            o->metric = !strcmp(v, "diag") ? VBT_NUTS_DIAG : VBT_NUTS_DENSE;
        } else if (!strcmp(k, "--threads"))
            bad = parse_size(v, 1, 256, &o->threads);
        else if (!strcmp(k, "--bins"))
            bad = parse_size(v, 2, 1000, &o->bins);
        else if (!strcmp(k, "--max-rank"))
            bad = parse_size(v, 1, 100000, &o->max_rank);
        else if (!strcmp(k, "--chains"))
            bad = parse_size(v, 1, 64, &o->chains);
        else if (!strcmp(k, "--warmup"))
            bad = parse_size(v, 0, 1000000, &o->warmup);
        else if (!strcmp(k, "--draws"))
            bad = parse_size(v, 4, 1000000, &o->draws);
        else if (!strcmp(k, "--starts"))
            bad = parse_size(v, 1, 1000, &o->starts);
        else if (!strcmp(k, "--init")) {
            bad = strcmp(v, "map") && strcmp(v, "prior");
            o->init_map = !strcmp(v, "map");
        } else if (!strcmp(k, "--prior"))
            o->prior_path = v;
        else if (!strcmp(k, "--out"))
            o->out_path = v;
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "validate_sbc: bad option %s %s\n", k, v);
            usage(stderr);
            return 2;
        }
    }
    if (o->max_rank + 1 < o->bins || (o->smc ? o->particles : o->chains * o->draws) + 1 < o->bins) {
        fprintf(stderr, "validate_sbc: --max-rank and chains x draws (or --particles) must reach "
                        "--bins - 1\n");
        return 2;
    }

    return 0;
}

/* The problem and the run, two lines. */
static void print_header(const opts *o, const double *W, double dt, size_t np)
{
    size_t R = o->replicates, B = o->bins, nedges = 0;
    for (size_t i = 0; i < NR; i++)
        for (size_t j = 0; j < NR; j++)
            nedges += i != j && W[i * NR + j] > 0;
    printf("SBC of %s on the BVEP model: %d regions (%zu directed edges), %d sensors, %d "
           "samples, dt %.2g, Euler, linear observation, tau0 fixed; %zu free parameters\n",
           o->smc ? "SMC" : "NUTS", NR, nedges, NS, NT, dt, np);
    if (o->smc)
        printf("%zu replicates, SMC from the prior: %zu particles, ESS target %.2g, %zu HMC "
               "moves x ~%zu leapfrog steps per tempering step; rank among <= %zu evenly spaced "
               "particles (<= distinct particles), %zu bins, seed %llu, %zu threads\n", R,
               o->particles, o->smc_ess, o->smc_moves, o->leapfrog, o->max_rank, B,
               (unsigned long long)o->seed, o->threads);
    else
        printf("%zu replicates, %zu chains x (%zu warm-up + %zu draws), init %s, rank among <= "
               "%zu ESS-thinned draws, %zu bins, seed %llu, %zu threads\n", R, o->chains,
               o->warmup, o->draws,
               o->init_map ? "MAP (prior-draw starts) + Laplace jitter" : "prior draws",
               o->max_rank, B, (unsigned long long)o->seed, o->threads);
}

/* The summary of the fits; returns the number that failed. */
static size_t summarise_fits(const opts *o, const rep *reps, const vbt_vep *m, double wall)
{
    size_t R = o->replicates;
    /* summary of the fits */
    size_t nfail = 0, ndiv = 0, nstuck = 0, nrhat = 0, ndepth = 0, nlowess = 0, redraws = 0;
    size_t steps_min = SIZE_MAX, steps_max = 0, dist_min = SIZE_MAX, kept_min = SIZE_MAX;
    double cpu = 0, steps_sum = 0, acc_sum = 0, acc_min = INFINITY, last_min = INFINITY,
           grads = 0;
    for (size_t r = 0; r < R; r++) {
        const rep *p = &reps[r];
        cpu += p->wall_s;
        redraws += p->redraws;
        if (p->failed) {
            nfail++;
            printf("replicate %zu FAILED: %s\n", o->first + r, p->why);
            continue;
        }
        if (o->smc) {
            if (o->verbose)
                printf("replicate %zu: %zu steps, acceptance %.3f (last step %.3f), step size "
                       "%.3f, %zu divergent moves, %zu gradients, log evidence %.2f, %zu distinct "
                       "particles, %zu distinct of the %zu ranked, lp at truth %.1f vs mean "
                       "%.1f, %.2f s%s%s\n", o->first + r, p->smc_steps, p->smc_accept,
                       p->smc_last_accept, p->smc_step, p->divergences, p->smc_grads,
                       p->log_evidence, p->distinct, p->distinct_kept, p->L[0], p->lp_truth,
                       p->lp_mean, p->wall_s, p->extreme[0] ? "; outside the draws:" : "",
                       p->extreme);
            ndiv += p->divergences > 0;
            nlowess += p->distinct < o->max_rank + 1;
            steps_sum += (double)p->smc_steps;
            steps_min = p->smc_steps < steps_min ? p->smc_steps : steps_min;
            steps_max = p->smc_steps > steps_max ? p->smc_steps : steps_max;
            acc_sum += p->smc_accept;
            acc_min = fmin(acc_min, p->smc_accept);
            last_min = fmin(last_min, p->smc_last_accept);
            dist_min = p->distinct < dist_min ? p->distinct : dist_min;
            kept_min = p->distinct_kept < kept_min ? p->distinct_kept : kept_min;
            grads += (double)p->smc_grads;
            continue;
        }
        if (o->verbose)
            printf("replicate %zu: %zu divergences, %zu stuck chains, max R-hat %.3f (%s), min "
                   "ESS %.1f, lp at truth %.1f vs mean %.1f, %.2f s%s%s\n", o->first + r,
                   p->divergences, p->stuck, p->max_rhat, vbt_vep_param_name(m, p->worst),
                   p->min_ess, p->lp_truth, p->lp_mean, p->wall_s,
                   p->extreme[0] ? "; outside the draws:" : "", p->extreme);
        ndiv += p->divergences > 0;
        nstuck += p->stuck > 0;
        nrhat += !(p->max_rhat <= 1.05);
        ndepth += p->depth_hits > 0;
        nlowess += !(p->min_ess >= (double)(o->max_rank + 1));
    }
    printf("wall %.1f s (%.2f s per replicate); prior draws rejected for a non-finite "
           "trajectory: %zu\n", wall, cpu / (double)R, redraws);
    if (o->smc && nfail < R) {
        double nu = (double)(R - nfail);
        printf("replicates: %zu failed (no ranks), %zu with divergent moves, %zu with fewer than "
               "%zu distinct particles (ranked against fewer)\n", nfail, ndiv, nlowess,
               o->max_rank + 1);
        printf("SMC: tempering steps mean %.1f (%zu-%zu), mean acceptance %.3f (lowest %.3f; "
               "last step's lowest %.3f), gradients %.3g per replicate; distinct particles >= "
               "%zu of %zu, distinct among the ranked >= %zu\n", steps_sum / nu, steps_min,
               steps_max, acc_sum / nu, acc_min, last_min, grads / nu, dist_min, o->particles,
               kept_min);
    } else if (!o->smc)
        printf("replicates: %zu failed (no ranks), %zu with divergences, %zu with a stuck "
               "chain, %zu with max R-hat > 1.05, %zu hitting max tree depth, %zu with min ESS "
               "< %zu (ranked against fewer draws)\n", nfail, ndiv, nstuck, nrhat, ndepth,
               nlowess, o->max_rank + 1);

    return nfail;
}

/* Per parameter: the rank histogram (cnt, np x bins), its chi-square
 * statistic and p-value (stat, pv). */
static void per_parameter(const opts *o, const rep *reps, size_t nfail, const vbt_vep *m,
                          size_t np, size_t *cnt, double *stat, double *pv)
{
    size_t R = o->replicates, B = o->bins;
    char *hist = malloc(B + 1);
    size_t npass = 0, nused = R - nfail;
    printf("\n%-10s %8s %4s %9s %-5s  rank histogram (%zu bins, %zu replicates)\n", "parameter",
           "chi2", "dof", "p", "1 %", B, nused);
    for (size_t i = 0; i < np; i++) {
        for (size_t r = 0; r < R; r++)
            if (!reps[r].failed)
                cnt[i * B + vbt_sbc_bin(reps[r].rank[i], reps[r].L[i], B)]++;
        if (vbt_chisq_uniform(cnt + i * B, B, &stat[i], &pv[i]) != VBT_OK)
            stat[i] = pv[i] = NAN;
        int pass = pv[i] >= 0.01;
        npass += pass;
        ascii_hist(cnt + i * B, B, hist);
        printf("%-10s %8.2f %4zu %9.4f %-5s  |%s|", vbt_vep_param_name(m, i), stat[i], B - 1,
               pv[i], pass ? "pass" : "FAIL", hist);
        for (size_t b = 0; b < B; b++)
            printf(" %zu", cnt[i * B + b]);
        printf("\n");
    }
    double pmin = 1;
    for (size_t i = 0; i < np; i++)
        pmin = fmin(pmin, pv[i]);
    printf("\n%zu/%zu parameters pass at 1 %% (expected false failures under uniformity: "
           "%.2f); smallest p %.4f, Bonferroni-adjusted %.4f\n", npass, np, 0.01 * (double)np,
           pmin, fmin(1.0, pmin * (double)np));

    free(hist);
}

/* --out: every rank, L, truth and p-value as JSON; 0, or 1 when it cannot
 * be written. */
static int write_out(const opts *o, const rep *reps, size_t nfail, const vbt_vep *m, size_t np,
                     double wall, const size_t *cnt, const double *stat, const double *pv)
{
    size_t R = o->replicates, B = o->bins;
    int ret = 0;
    if (o->out_path) {
        FILE *f = fopen(o->out_path, "w");
        if (!f) {
            fprintf(stderr, "validate_sbc: cannot write '%s'\n", o->out_path);
            ret = 1;
        } else {
            fprintf(f, "{\"method\": \"%s\", ", o->smc ? "smc" : "nuts");
            if (o->smc)
                fprintf(f, "\"particles\": %zu, \"smc_moves\": %zu, \"leapfrog\": %zu, "
                           "\"smc_ess\": %g, ", o->particles, o->smc_moves, o->leapfrog, o->smc_ess);
            fprintf(f, "\"replicates\": %zu, \"failed\": %zu, \"seed\": %llu, \"bins\": %zu, "
                       "\"chains\": %zu, \"warmup\": %zu, \"draws\": %zu, \"init\": \"%s\", "
                       "\"max_rank\": %zu, \"wall_s\": %.3f,\n \"parameters\": [\n", R, nfail,
                    (unsigned long long)o->seed, B, o->chains, o->warmup, o->draws,
                    o->init_map ? "map" : "prior", o->max_rank, wall);
            for (size_t i = 0; i < np; i++) {
                fprintf(f, "  {\"name\": \"%s\", \"chi2\": %.6g, \"dof\": %zu, \"p\": %.6g, "
                           "\"counts\": [", vbt_vep_param_name(m, i), stat[i], B - 1, pv[i]);
                for (size_t b = 0; b < B; b++)
                    fprintf(f, "%s%zu", b ? ", " : "", cnt[i * B + b]);
                fprintf(f, "]}%s\n", i + 1 < np ? "," : "");
            }
            fprintf(f, " ],\n \"replicate\": [\n");
            for (size_t r = 0; r < R; r++) {
                const rep *p = &reps[r];
                fprintf(f, "  {\"index\": %zu, \"failed\": %s", o->first + r,
                        p->failed ? "true" : "false");
                if (p->failed)
                    fprintf(f, ", \"why\": \"%s\"", p->why);
                else if (o->smc)
                    fprintf(f, ", \"smc_steps\": %zu, \"mean_accept\": %.4f, \"last_accept\": "
                               "%.4f, \"step_size\": %.4g, \"divergent\": %zu, \"gradients\": "
                               "%zu, \"log_evidence\": %.4f, \"distinct\": %zu, "
                               "\"distinct_ranked\": %zu", p->smc_steps, p->smc_accept,
                            p->smc_last_accept, p->smc_step, p->divergences, p->smc_grads,
                            p->log_evidence, p->distinct, p->distinct_kept);
                else
                    fprintf(f, ", \"divergences\": %zu, \"max_depth_hits\": %zu, \"stuck\": "
                               "%zu, \"max_rhat\": %.4f, \"min_ess\": %.1f",
                            p->divergences, p->depth_hits, p->stuck,
                            isfinite(p->max_rhat) ? p->max_rhat : 99.0, p->min_ess);
                if (!p->failed) {
                    fprintf(f, ", \"rank\": [");
                    for (size_t i = 0; i < np; i++)
                        fprintf(f, "%s%zu", i ? ", " : "", p->rank[i]);
                    fprintf(f, "], \"truth\": [");
                    for (size_t i = 0; i < np; i++)
                        fprintf(f, "%s%.6g", i ? ", " : "", p->truth[i]);
                    fprintf(f, "], \"L\": [");
                    for (size_t i = 0; i < np; i++)
                        fprintf(f, "%s%zu", i ? ", " : "", p->L[i]);
                    fprintf(f, "]");
                }
                fprintf(f, ", \"redraws\": %zu, \"wall_s\": %.3f}%s\n", p->redraws, p->wall_s,
                        r + 1 < R ? "," : "");
            }
            fprintf(f, " ]}\n");
            if (fclose(f) != 0) {
                fprintf(stderr, "validate_sbc: error writing '%s'\n", o->out_path);
                ret = 1;
            }
        }
    }
    return ret;
}

int main(int argc, char **argv)
{
    opts o = {.replicates = 200, .threads = 1, .bins = 10, .max_rank = 99, .chains = 2,
              .warmup = 400, .draws = 400, .starts = 4, .seed = 1, .network_seed = 8, .metric = VBT_NUTS_DENSE,
              .adapt_delta = 0.95, .particles = 512, .smc_moves = 10, .leapfrog = 10,
              .smc_ess = 0.5, .init_map = 1};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    static double W[NR * NR], G[NS * NR];
    double pos_r[NR * 3], pos_s[NS * 3];
    vbt_rng rr;
    synth_problem(o.network_seed, NR, NS, W, G, pos_r, pos_s, &rr);
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = NR;
    sp.n_sensors = NS;
    sp.n_samples = NT;
    sp.weights = W;
    sp.gain = G;
    sbc_prior(&sp.priors);
    vbt_msg msg;
    if (o.prior_path && vbt_vep_priors_load_json(&sp.priors, o.prior_path, NULL, NR, &msg)) {
        fprintf(stderr, "validate_sbc: %s\n", msg.text);
        return 1;
    }
    vbt_vep *m = NULL;
    if (vbt_vep_alloc(&m, &sp, &msg)) {
        fprintf(stderr, "validate_sbc: %s\n", msg.text);
        return 1;
    }
    size_t np = vbt_vep_n_params(m), R = o.replicates, B = o.bins;
    if (strcmp(vbt_vep_param_name(m, np - 1), "eps") != 0) {
        fprintf(stderr, "validate_sbc: eps must be free (it scales the simulated noise)\n");
        vbt_vep_free(m);
        return 1;
    }
    rep *reps = calloc(R, sizeof *reps);
    size_t *ranks = calloc(2 * R * np, sizeof *ranks);
    double *truths = calloc(R * np, sizeof *truths);
    if (!reps || !ranks || !truths) {
        fprintf(stderr, "validate_sbc: out of memory\n");
        return 1;
    }
    for (size_t r = 0; r < R; r++) {
        reps[r].rank = ranks + r * np;
        reps[r].L = ranks + (R + r) * np;
        reps[r].truth = truths + r * np;
    }
    print_header(&o, W, sp.dt, np);

    /* the fit object's inputs: the same network and gain, labels r1 ... */
    static char labels[NR][VBT_LABEL_MAX];
    for (size_t i = 0; i < NR; i++)
        snprintf(labels[i], VBT_LABEL_MAX, "r%zu", i + 1);
    vbt_connectome conn = {.n = NR, .weights = W, .labels = labels};
    shared sh = {.o = &o, .spec = &sp, .conn = &conn, .gain = G, .np = np, .reps = reps,
                 .t0 = now(), .tty = isatty(2)};
    pthread_mutex_init(&sh.lock, NULL);
    pthread_t *tid = calloc(o.threads, sizeof *tid);
    for (size_t t = 0; t < o.threads; t++)
        pthread_create(&tid[t], NULL, worker, &sh);
    for (size_t t = 0; t < o.threads; t++)
        pthread_join(tid[t], NULL);
    double wall = now() - sh.t0;
    if (!o.quiet && sh.tty)
        fprintf(stderr, "\n");
    if (sh.done != R) {
        fprintf(stderr, "validate_sbc: a worker could not start (out of memory)\n");
        return 1;
    }
    size_t nfail = summarise_fits(&o, reps, m, wall);
    size_t *cnt = calloc(np * B, sizeof *cnt);
    double *stat = calloc(np, sizeof *stat), *pv = calloc(np, sizeof *pv);
    per_parameter(&o, reps, nfail, m, np, cnt, stat, pv);
    int ret = write_out(&o, reps, nfail, m, np, wall, cnt, stat, pv);
    free(cnt);
    free(stat);
    free(pv);
    free(reps);
    free(ranks);
    free(truths);
    free(tid);
    pthread_mutex_destroy(&sh.lock);
    vbt_vep_free(m);
    return ret;
}
