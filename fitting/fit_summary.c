/* fit_summary.c -- what the fit object computes after sampling: stuck
 * chains, the per-parameter summaries, the diagnostic checks and their one
 * verdict, the EZ/PZ/HZ probabilities of every region, PSIS-LOO and the
 * posterior predictive. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"
#include "vbt_rng.h"

#define PPC_MAX 200    /* posterior-predictive draws (evenly thinned) */
#define LOO_MAX 1000   /* PSIS-LOO draws (evenly thinned) */
#define LP_GAP 10.0    /* stuck chain: mean lp more than this below the best */
#define EPS_RATIO 0.1  /* stuck chain: step size below this x the median */

static void fail_check(vbt_fit *f, const char *fmt, ...) VBT_PRINTF(2, 3);
static void fail_check(vbt_fit *f, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **q = realloc(f->failures, (f->n_failures + 1) * sizeof *q);
    if (!q)
        return;
    f->failures = q;
    if ((q[f->n_failures] = strdup(buf)))
        f->n_failures++;
}

/* ---- stuck chains ------------------------------------------------------------ */

static void find_stuck(vbt_fit *f)
{
    const size_t C = f->n_chains, D = f->n_draws;
    double mean_lp[FIT_MAXCH] = {0}, eps[FIT_MAXCH] = {0};
    int stuck[FIT_MAXCH] = {0};
    for (size_t c = 0; c < C; c++) {
        for (size_t d = 0; d < D; d++)
            mean_lp[c] += f->stats[c * D + d].lp / (double)D;
        eps[c] = f->info[c].stepsize;
    }
    f->n_stuck = vbt_diag_stuck_chains(mean_lp, eps, C, LP_GAP, EPS_RATIO, stuck);
    for (size_t c = 0; c < C; c++) {
        f->chains[c].mean_lp = mean_lp[c];
        f->chains[c].stuck = stuck[c];
    }
    if (f->n_stuck && f->n_stuck < C) {
        for (size_t c = 0; c < C; c++)
            if (stuck[c]) {
                f->keep[c] = 0;
                f->kept--;
            }
        fit__log(f, VBT_FIT_LOG_WARNING, "WARNING: %zu of %zu chains are stuck in a different "
                 "mode or have a collapsed step size; they are EXCLUDED from summary.json, "
                 "summary.csv, regions.csv and predictive.npy (draws.npy keeps every chain)",
                 f->n_stuck, C);
    } else if (f->n_stuck) {
        fit__log(f, VBT_FIT_LOG_WARNING, "WARNING: every chain is flagged as stuck; none "
                 "excluded");
    }
}

/* ---- summaries ------------------------------------------------------------------ */

typedef struct wv { double v, w; } wv;

static int cmp_wv(const void *a, const void *b)
{
    const wv *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* Weighted quantile (weights normalised), by the cumulative weight. */
static double wquantile(wv *p, size_t n, double q)
{
    double c = 0;
    for (size_t i = 0; i < n; i++) {
        c += p[i].w;
        if (c >= q)
            return p[i].v;
    }
    return p[n - 1].v;
}

/* Laplace draws: independent, so no R-hat; ESS from the PSIS weights, and
 * weighted moments and quantiles when k-hat says the weights are usable. */
static void weighted_summary(const vbt_fit *f, const double *x, wv *pw, vbt_diag_param *out)
{
    const size_t D = f->n_draws;
    out->rhat = out->rhat_bulk = out->rhat_tail = NAN;
    out->ess_bulk = out->ess_tail = out->ess_mean = f->lr.ess;
    if (f->lr.khat < 0.7) {
        double m = 0, v = 0;
        for (size_t d = 0; d < D; d++) {
            pw[d] = (wv){x[d], exp(f->log_w[d])};
            m += pw[d].w * x[d];
        }
        for (size_t d = 0; d < D; d++)
            v += pw[d].w * (x[d] - m) * (x[d] - m);
        qsort(pw, D, sizeof *pw, cmp_wv);
        out->mean = m;
        out->sd = sqrt(v);
        out->q5 = wquantile(pw, D, 0.05);
        out->q50 = wquantile(pw, D, 0.50);
        out->q95 = wquantile(pw, D, 0.95);
    }
    out->mcse_mean = out->sd / sqrt(f->lr.ess);
}

/* Per-parameter summaries over the chains kept. */
static int summarise(vbt_fit *f)
{
    const size_t C = f->n_chains, D = f->n_draws, np = f->np, kc = f->kept;
    vbt_diag_param *out = f->dp;
    if (f->is_map) {
        for (size_t i = 0; i < np; i++)
            out[i] = (vbt_diag_param){.mean = f->nat[i], .sd = NAN, .q5 = NAN,
                                      .q50 = f->nat[i], .q95 = NAN, .rhat = NAN,
                                      .ess_bulk = NAN, .ess_tail = NAN, .mcse_mean = NAN,
                                      .rhat_bulk = NAN, .rhat_tail = NAN, .ess_mean = NAN};
        return VBT_OK;
    }
    double *x = malloc(kc * D * sizeof *x);
    wv *pw = f->log_w ? malloc(D * sizeof *pw) : NULL;
    if (!x || (f->log_w && !pw)) {
        free(x);
        free(pw);
        return VBT_ENOMEM;
    }
    for (size_t i = 0; i < np; i++) {
        size_t k = 0;
        for (size_t c = 0; c < C; c++)
            if (f->keep[c])
                for (size_t d = 0; d < D; d++)
                    x[k++] = f->nat[(c * D + d) * np + i];
        vbt_diag_param_compute(x, kc, D, &out[i]);
        if (f->betas) {
            /* one population of resampled particles, ordered by ancestor: the
             * chain-based R-hat and ESS do not apply */
            out[i].rhat = out[i].rhat_bulk = out[i].rhat_tail = NAN;
            out[i].ess_bulk = out[i].ess_tail = out[i].ess_mean = out[i].mcse_mean = NAN;
        }
        if (f->log_w)
            weighted_summary(f, x, pw, &out[i]);
    }
    free(x);
    free(pw);
    return VBT_OK;
}

/* ---- checks ------------------------------------------------------------------------ */

static void chain_stats(vbt_fit *f, double *e)
{
    const size_t C = f->n_chains, D = f->n_draws;
    for (size_t c = 0; c < C; c++) {
        vbt_fit_chain *ch = &f->chains[c];
        double acc = 0, depth = 0;
        for (size_t d = 0; d < D; d++) {
            acc += f->stats[c * D + d].accept_stat / (double)D;
            depth += (double)f->stats[c * D + d].treedepth / (double)D;
            if (e)
                e[d] = f->stats[c * D + d].energy;
        }
        ch->ebfmi = e ? vbt_diag_ebfmi(e, D) : NAN;
        ch->stepsize = f->info[c].stepsize;
        ch->mean_accept_stat = acc;
        ch->mean_treedepth = depth;
        ch->divergences = f->info[c].divergences;
        ch->max_treedepth_hits = f->info[c].max_depth_hits;
        ch->n_leapfrog = f->info[c].n_leapfrog;
        ch->jumps_accepted = f->info[c].jumps_accepted;
        ch->wall_s = f->info[c].wall_s;
    }
}

static void chain_checks(vbt_fit *f)
{
    for (size_t c = 0; c < f->n_chains; c++) {
        const vbt_fit_chain *ch = &f->chains[c];
        if (ch->stuck)
            fail_check(f, "chain %zu is stuck (%s%s%s): mean lp %.2f, step size %.3g; excluded "
                          "from the summaries", c + 1,
                       ch->stuck & VBT_DIAG_STUCK_LP ? "log density far below the others" : "",
                       ch->stuck == 3 ? ", " : "",
                       ch->stuck & VBT_DIAG_STUCK_STEPSIZE ? "collapsed step size" : "",
                       ch->mean_lp, ch->stepsize);
        if (!f->keep[c])
            continue;
        f->div += ch->divergences;
        f->hits += ch->max_treedepth_hits;
        if (ch->ebfmi < 0.3)
            fail_check(f, "chain %zu: E-BFMI %.3f < 0.3", c + 1, ch->ebfmi);
    }
}

/* The usual cause of a poor R-hat at this problem: a region the sensors do
 * not see with a second mode at seizure level (it seizes too late to show);
 * its posterior is then wider than its prior, which one mode never is. */
static void wide_check(vbt_fit *f)
{
    const vbt_diag_param *dp = f->dp;
    size_t n_wide = 0, wr = 0;
    double wide_rhat = 0, wide_sd = 0, wide_prior = 0;
    for (size_t r = 0; r < f->nr; r++) {
        long ix = fit__x0_index(f->m, r);
        if (ix < 0 || !(dp[ix].rhat > 1.01))
            continue;
        double psd = vbt_vep_param_prior_sd(f->m, (size_t)ix);
        if (dp[ix].sd > psd && dp[ix].rhat > wide_rhat) {
            wide_rhat = dp[ix].rhat;
            wide_sd = dp[ix].sd;
            wide_prior = psd;
            wr = r;
        }
        n_wide += dp[ix].sd > psd;
    }
    if (n_wide)
        fail_check(f, "%zu region(s) mix poorly with a posterior wider than their prior (worst "
                      "x0[%zu] %s: R-hat %.3f, sd %.2f against the prior's %.2f): a second mode "
                      "the chains rarely cross; --method smc samples such posteriors",
                   n_wide, wr + 1, f->conn->labels[wr], wide_rhat, wide_sd, wide_prior);
}

static void nuts_checks(vbt_fit *f)
{
    const size_t D = f->n_draws, np = f->np, kept = f->kept, max_depth = f->o.max_depth;
    const vbt_diag_param *dp = f->dp;
    double *e = malloc(D * sizeof *e);
    chain_stats(f, e);
    free(e);
    chain_checks(f);
    if (f->div)
        fail_check(f, "%zu divergent transition(s) after warm-up (raise --adapt-delta)", f->div);
    if (f->hits)
        fail_check(f, "%zu of %zu draws hit the maximum tree depth %zu", f->hits, kept * D,
                   max_depth);
    double worst_rhat = 0, worst_bulk = INFINITY, worst_tail = INFINITY;
    size_t n_rhat = 0, n_ess = 0;
    for (size_t i = 0; i < np; i++) {
        if (isnan(dp[i].rhat))
            continue;
        worst_rhat = fmax(worst_rhat, dp[i].rhat);
        worst_bulk = fmin(worst_bulk, dp[i].ess_bulk);
        worst_tail = fmin(worst_tail, dp[i].ess_tail);
        n_rhat += dp[i].rhat > 1.01;
        n_ess += dp[i].ess_bulk < 100.0 * (double)kept || dp[i].ess_tail < 100.0 * (double)kept;
    }
    f->max_rhat = worst_rhat;
    f->min_ess_bulk = worst_bulk;
    f->min_ess_tail = worst_tail;
    if (n_rhat)
        fail_check(f, "%zu parameter(s) with R-hat > 1.01 (worst %.3f)", n_rhat, worst_rhat);
    wide_check(f);
    if (n_ess)
        fail_check(f, "%zu parameter(s) with bulk or tail ESS < %zu (100 per chain; worst bulk "
                      "%.0f, tail %.0f)", n_ess, 100 * kept, worst_bulk, worst_tail);
}

static void method_checks(vbt_fit *f)
{
    if (f->is_nuts)
        nuts_checks(f);
    if (f->is_lap && !(f->lr.khat < 0.7))
        fail_check(f, "PSIS k-hat %.2f >= 0.7: the Laplace approximation is not reliable here "
                      "(use --method nuts); summaries are unweighted", f->lr.khat);
    if (f->is_advi && !f->ar.converged)
        fail_check(f, "ADVI did not reach its ELBO tolerance in %zu iterations",
                   f->ar.iterations);
    if (f->is_smc) {
        if (f->sr.accept_rate < 0.3)
            fail_check(f, "SMC: the last step's HMC moves accepted %.2f (< 0.3): the particles "
                          "barely moved (raise --smc-moves or --particles)", f->sr.accept_rate);
        if (f->logz_sd > 1.0)
            fail_check(f, "SMC: the %zu runs' log evidences spread by sd %.2f (> 1): too few "
                          "particles or moves to rank hypotheses by the evidence (raise "
                          "--particles or --smc-moves)", f->n_chains, f->logz_sd);
    }
    if (f->from_map && !f->is_nuts && f->mr.n_converged == 0)
        fail_check(f, "no MAP start converged in %zu iterations", f->mo.lbfgs.max_iter);
}

/* ---- regions ------------------------------------------------------------------------- */

/* P(EZ), P(PZ), P(HZ) of region r with free x0 at ix; *lo, *hi: P(EZ) of
 * the least and most EZ chain (run). */
static void region_probs(const vbt_fit *f, size_t ix, vbt_fit_region *g, double *lo,
                         double *hi)
{
    const size_t C = f->n_chains, D = f->n_draws, np = f->np;
    double pe = 0, pp = 0, ph = 0, wsum = 0;
    *lo = 1.0;
    *hi = 0.0;
    for (size_t c = 0; c < C; c++) {
        if (!f->keep[c])
            continue;
        double pe_c = 0, w_c = 0;
        for (size_t d = 0; d < D; d++) {
            double w = f->log_w && f->lr.khat < 0.7 ? exp(f->log_w[d]) : 1.0;
            double x0 = f->nat[(c * D + d) * np + ix];
            vbt_vep_class k = vbt_vep_x0_class(x0);
            pe += k == VBT_VEP_EZ ? w : 0.0;
            pp += k == VBT_VEP_PZ ? w : 0.0;
            ph += k == VBT_VEP_HZ ? w : 0.0;
            wsum += w;
            pe_c += k == VBT_VEP_EZ ? w : 0.0;
            w_c += w;
        }
        *lo = fmin(*lo, pe_c / w_c);
        *hi = fmax(*hi, pe_c / w_c);
    }
    g->p_ez = pe / wsum;
    g->p_pz = pp / wsum;
    g->p_hz = ph / wsum;
}

static void classify_regions(vbt_fit *f)
{
    /* independent SMC runs: how far apart their P(EZ) of a region are (an EZ
     * map that changes between runs is not yet an answer) */
    int runs_apart = f->is_smc && f->n_chains > 1;
    f->worst_range = -1.0; /* stays below 0 without runs or free x0 */
    f->worst_region = 0;
    for (size_t r = 0; r < f->nr; r++) {
        vbt_fit_region *g = &f->regions[r];
        long ix = fit__x0_index(f->m, r);
        *g = (vbt_fit_region){.x0_mean = f->spec.priors.x0.mu, .x0_sd = NAN, .x0_q5 = NAN,
                              .x0_q95 = NAN};
        if (ix >= 0) {
            g->x0_mean = f->dp[ix].mean;
            g->x0_sd = f->dp[ix].sd;
            g->x0_q5 = f->dp[ix].q5;
            g->x0_q95 = f->dp[ix].q95;
            double lo, hi;
            region_probs(f, (size_t)ix, g, &lo, &hi);
            if (runs_apart && hi - lo > f->worst_range) {
                f->worst_range = hi - lo;
                f->worst_region = r;
            }
        } else {
            vbt_vep_class k = vbt_vep_x0_class(g->x0_mean);
            g->p_ez = k == VBT_VEP_EZ, g->p_pz = k == VBT_VEP_PZ, g->p_hz = k == VBT_VEP_HZ;
        }
        g->cls = vbt_vep_x0_class(g->x0_mean);
    }
}

/* ---- PSIS-LOO and the predictive --------------------------------------------------- */

/* The g-th of the kept chains' draws (natural parameters). */
static const double *kept_draw(const vbt_fit *f, size_t g)
{
    size_t c = 0, D = f->n_draws;
    while (!f->keep[c] || g >= D) {
        if (f->keep[c])
            g -= D;
        c++;
    }
    return f->nat + (c * D + g) * f->np;
}

/* PSIS-LOO and WAIC of a NUTS fit from the pointwise Gaussian log-likelihood
 * of every (sample, sensor) observation at up to LOO_MAX evenly spaced kept
 * draws, so that fits of one patient under different priors (EZ
 * hypotheses) can be compared with vbt_loo_compare.  A secondary result:
 * when it fails the fit stands and loo_err says why. */
static int compute_loo(vbt_fit *f)
{
    const size_t N = f->nt * f->ns, np = f->np, total = f->kept * f->n_draws;
    /* at most LOO_MAX draws and 2^24 log-likelihoods (128 MiB), at least 100 draws */
    size_t cap = N ? ((size_t)1 << 24) / N : LOO_MAX;
    cap = cap < 100 ? 100 : cap > LOO_MAX ? LOO_MAX : cap;
    const size_t K = total < cap ? total : cap;
    if (K < 10)
        return VBT_OK;
    double *ll = malloc(K * N * sizeof *ll), *th = malloc(np * sizeof *th),
           *mu = malloc(N * sizeof *mu);
    f->loo_elpd = malloc(N * sizeof *f->loo_elpd);
    vbt_msg lm = {{0}};
    if (!ll || !th || !mu || !f->loo_elpd) {
        snprintf(lm.text, sizeof lm.text, "out of memory for %zu x %zu log-likelihoods", K, N);
    } else {
        for (size_t k = 0; k < K && !lm.text[0]; k++) {
            const double *d = kept_draw(f, (size_t)((double)k * (double)total / (double)K));
            if (vbt_vep_unconstrain(f->m, d, th) || vbt_vep_simulate(f->m, th, NULL, mu)) {
                snprintf(lm.text, sizeof lm.text, "the model failed at a posterior draw");
                break;
            }
            vbt_loglik_gauss(f->data, mu, N, fit__draw_eps(f, d), ll + k * N);
        }
        if (!lm.text[0] && vbt_loo(ll, K, N, f->loo_elpd, NULL, &f->loo, &lm) && !lm.text[0])
            snprintf(lm.text, sizeof lm.text, "PSIS-LOO failed");
    }
    f->loo_K = K;
    if (lm.text[0]) {
        f->loo_state = 2;
        snprintf(f->loo_err, sizeof f->loo_err, "%s", lm.text);
        fit__log(f, VBT_FIT_LOG_WARNING, "WARNING: no PSIS-LOO: %s", lm.text);
    } else {
        f->loo_state = 1;
    }
    free(ll);
    free(th);
    free(mu);
    return VBT_OK;
}

/* Draw k of K of the predictive into yk (T x S): the model's noise-free
 * observation plus N(0, eps); at the mode (map) without noise. */
static int predictive_draw(vbt_fit *f, size_t k, size_t K, size_t total, double *th,
                           double *e, double *yk)
{
    const size_t TS = f->nt * f->ns;
    const double *d = NULL; /* the draw in natural values */
    if (f->is_map) {
        memcpy(th, f->map, f->np * sizeof *th);
    } else {
        d = kept_draw(f, (size_t)((double)k * (double)total / (double)K));
        if (vbt_vep_unconstrain(f->m, d, th))
            return -1;
    }
    if (vbt_vep_simulate(f->m, th, NULL, yk)) {
        for (size_t q = 0; q < TS; q++)
            yk[q] = NAN;
        return 0;
    }
    if (!f->is_map) {
        double nat_eps = fit__draw_eps(f, d);
        vbt_rng r;
        vbt_rng_init(&r, f->o.seed, ((uint64_t)1 << 61) + k);
        vbt_rng_normal(&r, e, TS);
        for (size_t q = 0; q < TS; q++)
            yk[q] += nat_eps * e[q];
    }
    return 0;
}

/* Posterior predictive of the feature: 5 %, mean and 95 % over up to
 * PPC_MAX evenly spaced draws of the kept chains. */
static int compute_predictive(vbt_fit *f, vbt_msg *msg)
{
    const size_t TS = f->nt * f->ns, total = f->kept * f->n_draws;
    size_t K = f->is_map ? 1 : total < PPC_MAX ? total : PPC_MAX;
    double *y = malloc(K * TS * sizeof *y), *th = malloc(f->np * sizeof *th),
           *e = malloc(TS * sizeof *e), *col = malloc(K * sizeof *col),
           *work = malloc(K * sizeof *work);
    f->pred = malloc(3 * TS * sizeof *f->pred);
    int st = VBT_ENOMEM;
    if (!y || !th || !f->pred || !e || !col || !work) {
        vbt__fail(msg, st, "out of memory for the predictive");
        goto done;
    }
    for (size_t k = 0; k < K; k++)
        if (predictive_draw(f, k, K, total, th, e, y + k * TS)) {
            st = vbt__fail(msg, VBT_ERANGE, "the predictive: a draw outside the support");
            goto done;
        }
    double *out = f->pred;
    for (size_t q = 0; q < TS; q++) {
        double m = 0;
        for (size_t k = 0; k < K; k++) {
            col[k] = y[k * TS + q];
            m += col[k];
        }
        out[TS + q] = m / (double)K;
        out[q] = K > 1 ? vbt_diag_quantile(col, K, 0.05, work) : col[0];
        out[2 * TS + q] = K > 1 ? vbt_diag_quantile(col, K, 0.95, work) : col[0];
    }
    st = VBT_OK;
done:
    free(y);
    free(th);
    free(e);
    free(col);
    free(work);
    return st;
}

int fit__post(vbt_fit *f, vbt_msg *msg)
{
    const size_t C = f->n_chains;
    f->dp = calloc(f->np, sizeof *f->dp);
    f->keep = malloc(C * sizeof *f->keep);
    f->chains = calloc(C, sizeof *f->chains);
    f->regions = calloc(f->nr, sizeof *f->regions);
    if (!f->dp || !f->keep || !f->chains || !f->regions)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    f->kept = C;
    for (size_t c = 0; c < C; c++)
        f->keep[c] = 1;
    if (f->is_nuts)
        find_stuck(f);
    if (summarise(f))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    method_checks(f);
    for (size_t c = 0; c < C; c++) {
        f->chains[c].used = f->keep[c];
        if (!f->is_nuts)
            f->chains[c].ebfmi = f->chains[c].stepsize = f->chains[c].mean_lp = NAN;
    }
    classify_regions(f);
    if (f->is_nuts)
        compute_loo(f);
    int st = compute_predictive(f, msg);
    if (!st)
        fit__list_outputs(f);
    return st;
}
