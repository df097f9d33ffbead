/* fit_summary.c -- what the fit object computes after sampling: stuck
 * chains, the per-parameter summaries, the checks (diagnostics, MAP modes,
 * predictive coverage, prior-data conflict) and their one verdict, the
 * EZ/PZ/HZ probabilities of every region, PSIS-LOO and the
 * posterior predictive. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "fit_internal.h"
#include "vbt_rng.h"

#define PPC_MAX 200    /* posterior-predictive draws (evenly thinned) */
#define LOO_MAX 1000   /* PSIS-LOO draws (evenly thinned) */
#define LP_GAP 10.0    /* stuck chain: mean lp more than this below the best */
#define EPS_RATIO 0.1  /* stuck chain: step size below this x the median */

/* A check of the verdict; a failed one's reason also joins f->failures. */
static void check(vbt_fit *f, const char *name, double value, double threshold, int passed,
                  const char *fmt, ...) VBT_PRINTF(6, 7);
static void check(vbt_fit *f, const char *name, double value, double threshold, int passed,
                  const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    vbt_verdict_add(&f->verdict, name, value, threshold, passed, "%s", buf);
    if (passed)
        return;
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
    size_t worst = SIZE_MAX, first_stuck = SIZE_MAX;
    double min_ebfmi = INFINITY;
    for (size_t c = 0; c < f->n_chains; c++) {
        const vbt_fit_chain *ch = &f->chains[c];
        if (ch->stuck && first_stuck == SIZE_MAX)
            first_stuck = c;
        if (!f->keep[c])
            continue;
        f->div += ch->divergences;
        f->hits += ch->max_treedepth_hits;
        if (ch->ebfmi < min_ebfmi) {
            min_ebfmi = ch->ebfmi;
            worst = c;
        }
    }
    if (first_stuck == SIZE_MAX) {
        check(f, "stuck_chains", 0, 0, 1, "no chain is stuck (every chain's mean log density "
              "within %.0f of the best, step sizes within a factor 10 of the median)", LP_GAP);
    } else {
        const vbt_fit_chain *ch = &f->chains[first_stuck];
        check(f, "stuck_chains", (double)f->n_stuck, 0, 0,
              "chain %zu is stuck (%s%s%s): mean lp %.2f, step size %.3g; %s", first_stuck + 1,
              ch->stuck & VBT_DIAG_STUCK_LP ? "log density far below the others" : "",
              ch->stuck == 3 ? ", " : "",
              ch->stuck & VBT_DIAG_STUCK_STEPSIZE ? "collapsed step size" : "",
              ch->mean_lp, ch->stepsize,
              f->n_stuck > 1 ? "and others; excluded from the summaries"
                             : "excluded from the summaries");
    }
    if (worst == SIZE_MAX)
        check(f, "ebfmi", NAN, 0.3, 0, "E-BFMI could not be computed");
    else if (min_ebfmi < 0.3)
        check(f, "ebfmi", min_ebfmi, 0.3, 0, "chain %zu: E-BFMI %.3f < 0.3", worst + 1,
              min_ebfmi);
    else
        check(f, "ebfmi", min_ebfmi, 0.3, 1, "every chain's E-BFMI >= 0.3 (lowest %.3f)",
              min_ebfmi);
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
    if (!n_wide)
        check(f, "multimodal_regions", 0, 0, 1, "no region mixes poorly with a posterior wider "
              "than its prior");
    else
        check(f, "multimodal_regions", (double)n_wide, 0, 0, "%zu region(s) mix poorly with a posterior wider than their prior (worst "
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
        check(f, "divergences", (double)f->div, 0, 0,
              "%zu divergent transition(s) after warm-up (raise --adapt-delta)", f->div);
    else
        check(f, "divergences", 0, 0, 1, "no divergent transition after warm-up");
    if (f->hits)
        check(f, "treedepth", (double)f->hits, 0, 0, "%zu of %zu draws hit the maximum tree "
              "depth %zu", f->hits, kept * D, max_depth);
    else
        check(f, "treedepth", 0, 0, 1, "no draw hit the maximum tree depth %zu", max_depth);
    double worst_rhat = 0, worst_bulk = INFINITY, worst_tail = INFINITY;
    size_t n_rhat = 0, n_bulk = 0, n_tail = 0, n_ok = 0;
    const double ess_min = 100.0 * (double)kept;
    for (size_t i = 0; i < np; i++) {
        if (isnan(dp[i].rhat))
            continue;
        n_ok++;
        worst_rhat = fmax(worst_rhat, dp[i].rhat);
        worst_bulk = fmin(worst_bulk, dp[i].ess_bulk);
        worst_tail = fmin(worst_tail, dp[i].ess_tail);
        n_rhat += dp[i].rhat > 1.01;
        n_bulk += dp[i].ess_bulk < ess_min;
        n_tail += dp[i].ess_tail < ess_min;
    }
    f->max_rhat = worst_rhat;
    f->min_ess_bulk = worst_bulk;
    f->min_ess_tail = worst_tail;
    if (!n_ok) {
        check(f, "rhat", NAN, 1.01, 0, "R-hat and ESS could not be computed (constant or "
              "non-finite draws)");
        return;
    }
    if (n_rhat)
        check(f, "rhat", worst_rhat, 1.01, 0, "%zu parameter(s) with R-hat > 1.01 (worst %.3f)",
              n_rhat, worst_rhat);
    else
        check(f, "rhat", worst_rhat, 1.01, 1, "every R-hat <= 1.01 (worst %.4f)", worst_rhat);
    wide_check(f);
    /* 100 per chain: Vehtari et al. 2021 (400 for 4 chains) */
    if (n_bulk)
        check(f, "ess_bulk", worst_bulk, ess_min, 0, "%zu parameter(s) with bulk ESS < %.0f "
              "(100 per chain; worst %.0f)", n_bulk, ess_min, worst_bulk);
    else
        check(f, "ess_bulk", worst_bulk, ess_min, 1, "every bulk ESS >= %.0f (100 per chain; "
              "lowest %.0f)", ess_min, worst_bulk);
    if (n_tail)
        check(f, "ess_tail", worst_tail, ess_min, 0, "%zu parameter(s) with tail ESS < %.0f "
              "(100 per chain; worst %.0f)", n_tail, ess_min, worst_tail);
    else
        check(f, "ess_tail", worst_tail, ess_min, 1, "every tail ESS >= %.0f (100 per chain; "
              "lowest %.0f)", ess_min, worst_tail);
}

static void method_checks(vbt_fit *f)
{
    if (f->is_nuts)
        nuts_checks(f);
    if (f->is_lap)
        check(f, "psis_khat", f->lr.khat, 0.7, f->lr.khat < 0.7,
              f->lr.khat < 0.7 ? "PSIS k-hat %.2f < 0.7: the Laplace draws, reweighted, are "
                                 "usable"
                               : "PSIS k-hat %.2f >= 0.7: the Laplace approximation is not "
                                 "reliable here (use --method nuts); summaries are unweighted",
              f->lr.khat);
    if (f->is_advi)
        check(f, "advi_converged", (double)f->ar.iterations, NAN, f->ar.converged,
              f->ar.converged ? "ADVI reached its ELBO tolerance in %zu iterations"
                              : "ADVI did not reach its ELBO tolerance in %zu iterations",
              f->ar.iterations);
    if (f->is_smc) {
        check(f, "smc_accept", f->sr.accept_rate, 0.3, f->sr.accept_rate >= 0.3,
              f->sr.accept_rate >= 0.3
                  ? "SMC: the last step's HMC moves accepted %.2f (>= 0.3)"
                  : "SMC: the last step's HMC moves accepted %.2f (< 0.3): the particles "
                    "barely moved (raise --smc-moves or --particles)", f->sr.accept_rate);
        if (f->n_chains > 1)
            check(f, "smc_logz_sd", f->logz_sd, 1.0, !(f->logz_sd > 1.0),
                  !(f->logz_sd > 1.0)
                      ? "SMC: the %zu runs' log evidences agree (sd %.2f <= 1)"
                      : "SMC: the %zu runs' log evidences spread by sd %.2f (> 1): too few "
                        "particles or moves to rank hypotheses by the evidence (raise "
                        "--particles or --smc-moves)", f->n_chains, f->logz_sd);
    }
    if (f->from_map && !f->is_nuts)
        check(f, "map_converged", (double)f->mr.n_converged, 1, f->mr.n_converged > 0,
              f->mr.n_converged ? "%zu MAP start(s) converged"
                                : "no MAP start converged in %zu iterations",
              f->mr.n_converged ? f->mr.n_converged : f->mo.lbfgs.max_iter);
}

/* ---- the fit's other checks: MAP modes, predictive coverage, prior-data conflict -- */

/* Modes that disagree (another EZ set, or some x0 more than MODE_X0_TOL
 * apart) must be at least MODE_GAP below the best in log density: a mode
 * e^3 = 20 times less dense (at equal curvature, 20 times less posterior
 * mass) does not change the answer; a closer one means the optimiser (and
 * a sampler started at the best mode) may be reporting one of two answers
 * the data support about equally. */
#define MODE_GAP 3.0
#define MODE_X0_TOL 0.5

static void mode_check(vbt_fit *f)
{
    const size_t K = vbt_vep_map_n_rows(&f->mo), nr = f->nr, np = f->np;
    if (!f->from_map || !f->lp_starts || !f->th_starts || K < 2)
        return;
    double *x0 = malloc(K * nr * sizeof *x0), *nat = malloc(np * sizeof *nat),
           *lp = malloc(K * sizeof *lp);
    if (!x0 || !nat || !lp) {
        free(x0);
        free(nat);
        free(lp);
        return;
    }
    for (size_t k = 0; k < K; k++) {
        lp[k] = f->lp_starts[k];
        if (!isfinite(lp[k]) || vbt_vep_constrain(f->m, f->th_starts + k * np, nat)) {
            lp[k] = -INFINITY;
            continue;
        }
        for (size_t r = 0; r < nr; r++) {
            long ix = fit__x0_index(f->m, r);
            x0[k * nr + r] = ix < 0 ? f->spec.priors.x0.mu : nat[ix];
        }
    }
    size_t other;
    double gap = vbt_map_mode_gap(lp, x0, K, nr, VBT_VEP_X0_EZ, MODE_X0_TOL, &other);
    if (isnan(gap))
        check(f, "map_modes", NAN, MODE_GAP, 0, "no MAP start ended at a finite log density");
    else if (isinf(gap))
        check(f, "map_modes", gap, MODE_GAP, 1, "every MAP start that converged agrees with "
              "the best mode (the same EZ set, x0 within %.1f)", MODE_X0_TOL);
    else {
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            best = lp[k] > lp[best] ? k : best;
        size_t rr = 0;
        double dmax = -1;
        for (size_t r = 0; r < nr; r++) {
            double d = fabs(x0[best * nr + r] - x0[other * nr + r]);
            if (d > dmax) {
                dmax = d;
                rr = r;
            }
        }
        check(f, "map_modes", gap, MODE_GAP, gap >= MODE_GAP,
              gap >= MODE_GAP
                  ? "the best MAP mode that disagrees with the best (x0[%zu] %s: %.2f against "
                    "%.2f) is %.1f below it in log density (>= %.0f)"
                  : "two MAP modes disagree (x0[%zu] %s: %.2f against %.2f) and are only %.1f "
                    "apart in log density (< %.0f): the data support both answers",
              rr + 1, f->conn->labels[rr], x0[best * nr + rr], x0[other * nr + rr], gap,
              MODE_GAP);
    }
    free(x0);
    free(nat);
    free(lp);
}

/* Under the model, each observed point falls inside its 5-95 % predictive
 * band with probability 0.9.  The feature is smooth (about ten independent
 * stretches of a seizure per sensor), so one sensor's coverage has an sd of
 * about sqrt(0.9 x 0.1 / 10) = 0.095: below 0.5 (4 sd under 0.9) is misfit,
 * not chance.  Over all sensors the sd is smaller still; 0.75 leaves room
 * for the band's own Monte Carlo error (200 draws) and for sensors that see
 * nothing (whose band holds their flat trace). */
#define PPC_ALL_MIN 0.75
#define PPC_SENSOR_MIN 0.5

static void coverage_check(vbt_fit *f)
{
    const size_t T = f->nt, S = f->ns, TS = T * S;
    if (f->is_map || !f->pred || !(f->ppc_sensor = malloc((S ? S : 1) * sizeof *f->ppc_sensor)))
        return;
    f->ppc_all = vbt_ppc_coverage(f->data, f->pred, f->pred + 2 * TS, T, S, f->ppc_sensor);
    check(f, "ppc_coverage", f->ppc_all, PPC_ALL_MIN, f->ppc_all >= PPC_ALL_MIN,
          f->ppc_all >= PPC_ALL_MIN
              ? "%.0f %% of the observed feature lies inside the 5-95 %% posterior predictive "
                "band (nominal 90 %%, at least %.0f %%)"
              : "only %.0f %% of the observed feature lies inside the 5-95 %% posterior "
                "predictive band (nominal 90 %%, at least %.0f %%): the model does not "
                "reproduce the data",
          100 * f->ppc_all, 100 * PPC_ALL_MIN);
    size_t worst = 0, n_low = 0;
    for (size_t s = 0; s < S; s++) {
        worst = f->ppc_sensor[s] < f->ppc_sensor[worst] ? s : worst;
        n_low += f->ppc_sensor[s] < PPC_SENSOR_MIN;
    }
    double w = S ? f->ppc_sensor[worst] : NAN;
    if (n_low == 0 && S > 0)
        check(f, "ppc_coverage_sensor", w, PPC_SENSOR_MIN, 1, "every sensor has at least %.0f "
              "%% of its points inside the band (lowest %.0f %%, sensor %zu)",
              100 * PPC_SENSOR_MIN, 100 * w, worst + 1);
    else
        check(f, "ppc_coverage_sensor", w, PPC_SENSOR_MIN, 0, "%zu sensor(s) have fewer than "
              "%.0f %% of their points inside the band (lowest %.0f %%, sensor %zu)", n_low,
              100 * PPC_SENSOR_MIN, 100 * w, worst + 1);
}

/* The prior's central 99 % interval [q(0.005), q(0.995)] of free parameter
 * `name`; 0 when it has one, -1 for parameters not checked (offsets). */
static int prior_range(const vbt_fit *f, const char *name, double *lo, double *hi)
{
    const vbt_vep_priors *pr = &f->spec.priors;
    const double z = gsl_cdf_ugaussian_Pinv(0.995);
    const vbt_vep_group_prior *g = NULL;
    size_t k = 0;
    if (sscanf(name, "x0[%zu]", &k) == 1)
        g = &pr->x0;
    else if (sscanf(name, "x_init[%zu]", &k) == 1)
        g = &pr->x_init;
    else if (sscanf(name, "z_init[%zu]", &k) == 1)
        g = &pr->z_init;
    if (g) {
        double mu = g->mu, sd = g->sd, q = z;
        if (g == &pr->x0)
            for (size_t e = 0; e < pr->n_ez; e++)
                if (pr->ez[e] + 1 == k) {
                    mu = pr->x0_ez_mu;
                    sd = pr->x0_ez_sd;
                    g = NULL; /* a hypothesised EZ: normal */
                    break;
                }
        if (g && g->nu > 0)
            q = gsl_cdf_tdist_Pinv(0.995, g->nu);
        *lo = mu - q * sd;
        *hi = mu + q * sd;
        return 0;
    }
    const vbt_vep_scalar_prior *sp = !strcmp(name, "K")      ? &pr->K
                                     : !strcmp(name, "tau0") ? &pr->tau0
                                     : !strcmp(name, "amp")  ? &pr->amp
                                     : !strcmp(name, "eps")  ? &pr->eps
                                                             : NULL;
    if (!sp || !(sp->sd > 0))
        return -1;
    if (sp->dist == VBT_VEP_LOGNORMAL) {
        *lo = sp->lo + exp(sp->mu - z * sp->sd);
        *hi = sp->lo + exp(sp->mu + z * sp->sd);
    } else {
        /* N(mu, sd) truncated to (lo, inf) */
        double p0 = gsl_cdf_ugaussian_P((sp->lo - sp->mu) / sp->sd);
        *lo = sp->mu + sp->sd * gsl_cdf_ugaussian_Pinv(p0 + 0.005 * (1 - p0));
        *hi = sp->mu + sp->sd * gsl_cdf_ugaussian_Pinv(p0 + 0.995 * (1 - p0));
    }
    return 0;
}

/* Prior-data conflict (Evans & Moshonov 2006 in spirit): a posterior
 * median (the mode for map) outside its prior's central 99 % says the data
 * pull the parameter where the prior thought it nearly impossible.  Under a
 * right prior the truth falls outside 1 % of the time and the posterior
 * median, shrunk towards the prior, less often still.  Which tails count:
 *   - the scalars K, tau0, amp: either tail (a coupling or time scale the
 *     prior excluded);
 *   - eps, the noise scale: the upper tail only (far above what the model
 *     expects: the model does not explain the data; at its floor it fits
 *     better than the floor allows, which the floor is for);
 *   - a region's x0 (and initial state): below the lower tail (less
 *     excitable than the prior allows: nothing in the model asks for it);
 *     above the upper tail is what an EZ does under a "healthy unless the
 *     data say otherwise" prior, so it counts only when more than a quarter
 *     of the regions do it (an epileptogenic network is a minority of the
 *     brain; more says the prior's location is wrong for this patient). */
#define CONFLICT_UP_FRACTION 0.25

static void conflict_check(vbt_fit *f)
{
    size_t n = 0, worst = SIZE_MAX, n_up = 0, n_group = 0;
    double worst_z = 0, wlo = 0, whi = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < f->np; i++) {
            const char *name = vbt_vep_param_name(f->m, i);
            double lo, hi, x = f->dp[i].q50;
            if (!name || prior_range(f, name, &lo, &hi) || !isfinite(x))
                continue;
            int group = strchr(name, '[') != NULL, eps = !strcmp(name, "eps");
            if (pass == 0) {
                n_group += group;
                n_up += group && x > hi;
                continue;
            }
            int up = x > hi, down = x < lo;
            if (eps)
                down = 0;
            if (group && up && !((double)n_up > CONFLICT_UP_FRACTION * (double)n_group))
                up = 0;
            if (!up && !down)
                continue;
            n++;
            double z = up ? (x - hi) / (hi - lo) : (lo - x) / (hi - lo);
            if (worst == SIZE_MAX || z > worst_z) {
                worst = i;
                worst_z = z;
                wlo = lo;
                whi = hi;
            }
        }
    const char *what = f->is_map ? "mode" : "posterior median";
    if (!n) {
        check(f, "prior_data_conflict", 0, 0, 1, "no free parameter's %s lies where its prior "
              "thought it nearly impossible (%zu of %zu regions above their prior's 99 %%, as "
              "an epileptogenic network may; at most a quarter allowed)", what, n_up, n_group);
        return;
    }
    const char *name = vbt_vep_param_name(f->m, worst);
    size_t k = 0;
    const char *label = sscanf(name, "x0[%zu]", &k) == 1 && k >= 1 && k <= f->nr
                            ? f->conn->labels[k - 1] : "";
    check(f, "prior_data_conflict", (double)n, 0, 0,
          "%zu parameter(s) with the %s outside the prior's central 99 %% (worst %s%s%s: %.3g "
          "against [%.3g, %.3g]): the data contradict the prior%s", n, what, name,
          *label ? " " : "", label, f->dp[worst].q50, wlo, whi,
          !strcmp(name, "eps") ? " (the observation noise is far above what the model expects: "
                                 "misfit)" : "");
}

static void build_verdict(vbt_fit *f)
{
    vbt_verdict_init(&f->verdict);
    method_checks(f);
    mode_check(f);
    coverage_check(f);
    conflict_check(f);
    if (f->is_map) {
        f->verdict.point_estimate = 1;
        check(f, "point_estimate", NAN, NAN, 0, "point estimate only: method map gives the "
              "posterior mode, no probabilities and no uncertainty (use --method nuts)");
    }
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
    for (size_t c = 0; c < C; c++) {
        f->chains[c].used = f->keep[c];
        if (!f->is_nuts)
            f->chains[c].ebfmi = f->chains[c].stepsize = f->chains[c].mean_lp = NAN;
    }
    classify_regions(f);
    if (f->is_nuts)
        compute_loo(f);
    int st = compute_predictive(f, msg);
    if (!st) {
        build_verdict(f);
        fit__list_outputs(f);
    }
    return st;
}
