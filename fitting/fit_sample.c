/* fit_sample.c -- the fit object's MAP stage and the sampling stage of
 * every method: laplace directly (vbt_vep_laplace), advi, smc and nuts
 * through the sampler table (vbt_sampler_run on the model's target,
 * vbt_vep_target), with the NUTS starts, metric, mode jumps, progress and
 * checkpoints of vbt fit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

#define LP_GAP 10.0 /* --init modes: distinct modes within this of the best lp */

static int vep_logp_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

static double *dup_doubles(const double *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

/* ---- the MAP stage ------------------------------------------------------------ */

static int map_from_checkpoint(vbt_fit *f, vbt_msg *msg)
{
    fit_ckpt *k = f->ck;
    if (!k->has_map || k->starts != vbt_vep_map_n_rows(&f->mo))
        return vbt__fail(msg, VBT_EINVAL, "'%.900s' holds no MAP stage", k->path);
    f->mr = k->mr;
    f->map_wall = k->map_wall;
    f->map = dup_doubles(k->map, f->np);
    f->lp_starts = dup_doubles(k->lp_starts, k->starts);
    f->th_starts = dup_doubles(k->th_starts, k->starts * f->np);
    if (!f->map || !f->lp_starts || !f->th_starts)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    fit__log(f, VBT_FIT_LOG_INFO, "MAP: from the checkpoint, best lp %.3f", f->mr.best_lp);
    return VBT_OK;
}

static int map_to_checkpoint(vbt_fit *f, vbt_msg *msg)
{
    fit_ckpt *k = f->ck;
    k->has_map = 1;
    k->mr = f->mr;
    k->starts = vbt_vep_map_n_rows(&f->mo);
    k->map_wall = f->map_wall;
    k->map = dup_doubles(f->map, f->np);
    k->lp_starts = dup_doubles(f->lp_starts, k->starts);
    k->th_starts = dup_doubles(f->th_starts, k->starts * f->np);
    if (!k->map || !k->lp_starts || !k->th_starts)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    return VBT_OK;
}

/* The MAP stage's progress (vbt_vep_map calls it serialised): stage "map",
 * the fraction of starts and polishes done; non-zero stops the MAP. */
static int map_progress(void *pctx, size_t done, size_t total)
{
    vbt_fit *f = pctx;
    vbt_fit_progress p = {.stage = "map", .iteration = done, .total = total,
                          .fraction = total ? (double)done / (double)total : 1.0};
    return f->progress(f->progress_ctx, &p);
}

int fit__run_map(vbt_fit *f, vbt_msg *msg)
{
    vbt_vep_map_opts_default(&f->mo);
    f->mo.n_starts = f->o.starts;
    f->mo.n_threads = f->o.threads;
    f->mo.seed = f->o.seed;
    f->mo.lbfgs.max_iter = f->o.map_iter;
    f->mo.n_polish = f->o.polish;
    f->mo.hop_rounds = f->o.hop_rounds;
    f->mo.hops = f->o.hops;
    if (f->progress) {
        f->mo.progress = map_progress;
        f->mo.progress_ctx = f;
    }
    if (f->resumed)
        return map_from_checkpoint(f, msg);
    f->map = malloc(f->np * sizeof *f->map);
    const size_t rows = vbt_vep_map_n_rows(&f->mo);
    f->lp_starts = malloc(rows * sizeof *f->lp_starts);
    f->th_starts = malloc(rows * f->np * sizeof *f->th_starts);
    if (!f->map || !f->lp_starts || !f->th_starts)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    fit__log(f, VBT_FIT_LOG_INFO, "MAP: %zu starts, %zu x %zu hops, %zu parameters, %zu "
             "thread(s)", f->mo.n_starts, f->mo.hop_rounds, f->mo.hops, f->np, f->mo.n_threads);
    double *x0s = NULL;
    if (f->o.map_init == VBT_FIT_MAP_DATA) {
        x0s = malloc(f->nr * sizeof *x0s);
        if (!x0s || vbt_vep_x0_from_data(f->m, f->o.baseline, -1.5, x0s)) {
            free(x0s);
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        }
        f->mo.x0_start = x0s;
    }
    double t0 = fit__now();
    int st = vbt_vep_map(f->m, &f->mo, f->map, &f->mr, f->lp_starts, f->th_starts, msg);
    f->mo.x0_start = NULL;
    free(x0s);
    if (st)
        return st;
    f->map_wall = fit__now() - t0;
    fit__log(f, VBT_FIT_LOG_INFO, "MAP: best lp %.3f (row %zu), %zu/%zu starts and hops within "
             "%.1f of it, %zu converged, %.2f s", f->mr.best_lp, f->mr.best_start + 1,
             f->mr.n_best, rows, f->mo.mode_tol, f->mr.n_converged, f->map_wall);
    if (f->mr.n_converged == 0)
        fit__log(f, VBT_FIT_LOG_WARNING, "WARNING: no MAP start met the convergence tolerance "
                 "in %zu iterations (the mode is not exact; see docs/fitting.md)",
                 f->mo.lbfgs.max_iter);
    if (f->mr.n_best == 1 && rows >= 4)
        fit__log(f, VBT_FIT_LOG_WARNING, "WARNING: only one of %zu MAP starts%s reached the "
                 "best mode: this posterior has several modes and a better one may have been "
                 "missed (raise --starts%s)", rows, f->mo.hop_rounds ? " and hops" : "",
                 f->mo.hop_rounds ? " or --hop-rounds" : ", or use --hop-rounds");
    return f->ck && f->is_nuts ? map_to_checkpoint(f, msg) : VBT_OK;
}

/* ---- the sampling stage: one function per method -------------------------------- */

/* The model as the sampler table's target: one private copy per chain and
 * thread; the mode search is never needed (the MAP stage gives the mode). */
static int table_target(vbt_fit *f, vbt_vep_target **vt, vbt_msg *msg)
{
    size_t n_ctx = f->n_chains > f->o.threads ? f->n_chains : f->o.threads;
    return vbt_vep_target_alloc(vt, f->m, n_ctx, &f->mo, msg);
}

/* Options of the table common to every method. */
static void table_opts(const vbt_fit *f, vbt_sampler_opts *so)
{
    vbt_sampler_opts_default(so);
    so->n_chains = f->n_chains;
    so->n_draws = f->n_draws;
    so->n_threads = f->o.threads;
    so->seed = f->o.seed;
    so->mode = f->from_map ? f->map : NULL;
}

/* r's draws (unconstrained) into f->theta, in natural units into f->nat. */
static int table_draws(vbt_fit *f, vbt_sampler_result *r, vbt_msg *msg)
{
    const size_t n = f->n_chains * f->n_draws;
    if (!(f->nat = malloc(n * f->np * sizeof *f->nat)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory for %zu draws", n);
    for (size_t d = 0; d < n; d++)
        vbt_vep_constrain(f->m, r->draws + d * f->np, f->nat + d * f->np);
    f->theta = r->draws;
    r->draws = NULL;
    return VBT_OK;
}

/* Laplace draws at the MAP mode, weighted by PSIS.  Called directly: the
 * table's laplace gives the same draws, but its errors read "laplace: ..."
 * where vbt fit has always said "vep laplace: ...". */
static int run_laplace(vbt_fit *f, vbt_msg *msg)
{
    size_t D = f->n_draws;
    double *th = malloc(D * f->np * sizeof *th);
    f->log_w = malloc(D * sizeof *f->log_w);
    f->nat = malloc(D * f->np * sizeof *f->nat);
    if (!th || !f->log_w || !f->nat) {
        free(th);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory for %zu Laplace draws", D);
    }
    int st = vbt_vep_laplace(f->m, f->map, D, f->o.seed, th, f->log_w, &f->lr, msg);
    if (!st)
        for (size_t d = 0; d < D; d++)
            vbt_vep_constrain(f->m, th + d * f->np, f->nat + d * f->np);
    f->theta = th;
    return st;
}

/* ADVI from the MAP mode; its draws then go through the same summaries as
 * Laplace's (without importance weights). */
static int run_advi(vbt_fit *f, vbt_msg *msg)
{
    vbt_vep_target *vt = NULL;
    vbt_sampler_opts so;
    vbt_sampler_result r;
    memset(&r, 0, sizeof r);
    table_opts(f, &so);
    so.advi.family = f->o.advi_family;
    int st = table_target(f, &vt, msg);
    if (!st)
        st = vbt_sampler_run(vbt_sampler_advi, vbt_vep_target_get(vt), &so, &r, msg);
    if (!st && !(st = table_draws(f, &r, msg)))
        f->ar = r.advi;
    vbt_sampler_result_clear(&r);
    vbt_vep_target_free(vt);
    return st;
}

/* The runs pooled: the mean of the runs' (unbiased) evidence estimates,
 * counts summed, the lowest last-step acceptance. */
static void smc_pool(vbt_fit *f, double lmax)
{
    const size_t R = f->n_chains;
    f->sr = f->srs[0];
    double se = 0, m1 = 0, m2 = 0;
    f->sr.n_grad = f->sr.n_divergent = 0;
    f->sr.mean_accept = 0;
    for (size_t r = 0; r < R; r++) {
        const vbt_smc_result *res = &f->srs[r];
        se += exp(res->log_evidence - lmax);
        m1 += res->log_evidence / (double)R;
        f->sr.n_grad += res->n_grad;
        f->sr.n_divergent += res->n_divergent;
        f->sr.mean_accept += res->mean_accept / (double)R;
        f->sr.accept_rate = fmin(f->sr.accept_rate, res->accept_rate);
    }
    for (size_t r = 0; r < R; r++)
        m2 += (f->srs[r].log_evidence - m1) * (f->srs[r].log_evidence - m1);
    f->sr.log_evidence = lmax + log(se / (double)R);
    f->logz_sd = R > 1 ? sqrt(m2 / (double)(R - 1)) : NAN;
}

/* SMC from the prior: the particles of each run are the draws of one
 * "chain", equally weighted. */
static int run_smc(vbt_fit *f, vbt_msg *msg)
{
    const size_t np = f->np, R = f->n_chains, N = f->n_draws;
    vbt_vep_target *vt = NULL;
    vbt_sampler_opts so;
    vbt_sampler_result r;
    memset(&r, 0, sizeof r);
    table_opts(f, &so);
    so.smc.ess_target = f->o.smc_ess;
    so.smc.n_moves = f->o.smc_moves;
    so.smc.n_leapfrog = f->o.leapfrog;
    fit__log(f, VBT_FIT_LOG_INFO, "SMC: %zu particles, %zu parameters, %zu run(s), %zu "
             "thread(s)", N, np, R, f->o.threads);
    double t0 = fit__now(), lmax = -HUGE_VAL;
    int st = table_target(f, &vt, msg);
    if (!st)
        st = vbt_sampler_run(vbt_sampler_smc, vbt_vep_target_get(vt), &so, &r, msg);
    f->smc_wall = fit__now() - t0;
    if (!st && !(st = table_draws(f, &r, msg))) {
        f->srs = r.smc;
        r.smc = NULL;
        f->betas = r.temperatures;
        r.temperatures = NULL;
        for (size_t k = 0; k < R; k++) {
            lmax = fmax(lmax, f->srs[k].log_evidence);
            if (R > 1)
                fit__log(f, VBT_FIT_LOG_INFO, "SMC run %zu: log evidence %.3f, %zu steps, "
                         "acceptance %.2f", k + 1, f->srs[k].log_evidence, f->srs[k].n_steps,
                         f->srs[k].mean_accept);
        }
        smc_pool(f, lmax);
        fit__log(f, VBT_FIT_LOG_INFO, "SMC: log evidence %.3f, %zu steps, acceptance %.2f, "
                 "step size %.3g, %.2f s", f->sr.log_evidence, f->sr.n_steps,
                 f->sr.mean_accept, f->sr.step_size, f->smc_wall);
    }
    vbt_sampler_result_clear(&r);
    vbt_vep_target_free(vt);
    return st;
}

/* ---- NUTS ------------------------------------------------------------------------ */

static int nuts_progress(void *pctx, size_t c, size_t it, size_t total, double eps, size_t div)
{
    vbt_fit *f = pctx;
    if (!f->progress)
        return 0;
    pthread_mutex_lock(&f->plock);
    f->pit[c] = it;
    size_t done = 0;
    for (size_t k = 0; k < f->n_chains; k++)
        done += f->pit[k];
    vbt_fit_progress p = {.stage = "nuts", .chain = c, .n_chains = f->n_chains,
                          .iteration = it, .total = total, .stepsize = eps,
                          .divergences = div,
                          .fraction = (double)done / (double)(total * f->n_chains)};
    int stop = f->progress(f->progress_ctx, &p);
    pthread_mutex_unlock(&f->plock);
    return stop;
}

/* --init modes: the distinct MAP modes (lp apart by more than mode_tol)
 * within LP_GAP of the best, best first; returns how many (at most C). */
static size_t distinct_modes(const vbt_fit *f, size_t C, size_t *modes)
{
    size_t nm = 1;
    modes[0] = f->mr.best_start;
    while (nm < C) {
        size_t pick = SIZE_MAX;
        for (size_t s2 = 0; s2 < vbt_vep_map_n_rows(&f->mo); s2++) {
            double l = f->lp_starts[s2];
            if (!(l >= f->mr.best_lp - LP_GAP))
                continue;
            int dup = 0;
            for (size_t j = 0; j < nm; j++)
                dup |= fabs(l - f->lp_starts[modes[j]]) <= f->mo.mode_tol;
            if (!dup && (pick == SIZE_MAX || l > f->lp_starts[pick]))
                pick = s2;
        }
        if (pick == SIZE_MAX)
            break;
        modes[nm++] = pick;
    }
    return nm;
}

/* The chains' starting points (and the Laplace covariance *cov as the
 * initial metric when the start is the MAP). */
static int nuts_starts(vbt_fit *f, double *inits, double **cov, vbt_msg *msg)
{
    const size_t C = f->n_chains, np = f->np;
    if (f->user_inits) {
        /* the caller's (vbt_fit_set_inits) */
        memcpy(inits, f->user_inits, C * np * sizeof *inits);
        if (f->user_cov && !(*cov = dup_doubles(f->user_cov, np * np)))
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        f->laplace_metric_ok = f->user_cov != NULL;
        return VBT_OK;
    }
    if (!f->from_map) {
        for (size_t c = 0; c < C; c++)
            vbt_vep_prior_draw(f->m, f->o.seed, ((uint64_t)1 << 62) + c, inits + c * np);
        return VBT_OK;
    }
    if (!(*cov = malloc(np * np * sizeof **cov)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    vbt_msg lm;
    f->laplace_metric_ok =
        vbt_nuts_laplace_cov(vep_logp_cb, f->m, np, f->map, 0, *cov, &lm) == VBT_OK;
    if (!f->laplace_metric_ok) {
        snprintf(f->laplace_metric_msg, sizeof f->laplace_metric_msg, "%s", lm.text);
        fit__log(f, VBT_FIT_LOG_WARNING, "WARNING: no Laplace metric at the MAP (%s): chains "
                 "start with a unit metric and 0.1 jitter", lm.text);
    }
    size_t modes[FIT_MAXCH], nm = 1;
    modes[0] = f->mr.best_start;
    if (f->o.init == VBT_FIT_INIT_MODES) {
        nm = distinct_modes(f, C, modes);
        fit__log(f, VBT_FIT_LOG_INFO, "NUTS: %zu distinct MAP mode(s) within %.0f of the best "
                 "for %zu chain(s)", nm, LP_GAP, C);
    }
    for (size_t c = 0; c < C; c++)
        vbt_nuts_jitter(c % nm ? f->th_starts + modes[c % nm] * np : f->map,
                        f->laplace_metric_ok ? *cov : NULL, np, f->o.seed, c, inits + c * np);
    return VBT_OK;
}

/* A resumed run: the interrupted run's starts, metric and draws so far. */
static int nuts_resume_state(vbt_fit *f, const vbt_nuts_opts *o, double *inits, double **cov,
                             double *th, vbt_msg *msg)
{
    fit_ckpt *k = f->ck;
    const size_t C = f->n_chains, np = f->np, D = f->n_draws;
    memcpy(inits, k->inits, C * np * sizeof *inits);
    if (k->cov && !(*cov = dup_doubles(k->cov, np * np)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    f->laplace_metric_ok = k->laplace_ok;
    snprintf(f->laplace_metric_msg, sizeof f->laplace_metric_msg, "%s", k->laplace_msg);
    memcpy(th, k->th, C * D * np * sizeof *th);
    memcpy(f->stats, k->stats, C * D * sizeof *f->stats);
    free(k->th);
    free(k->stats);
    k->th = NULL;
    k->stats = NULL;
    k->owns_draws = 0;
    size_t done = 0;
    for (size_t c = 0; c < C; c++)
        done += k->state[c] ? k->iter[c] : 0;
    fit__log(f, VBT_FIT_LOG_INFO, "NUTS: resuming from '%s' (%zu of %zu iterations made)",
             k->path, done, C * (o->warmup + D));
    return VBT_OK;
}

/* The MAP stage and the starts are saved before the first iteration. */
static int nuts_first_checkpoint(vbt_fit *f, const double *inits, const double *cov,
                                 int use_cov, vbt_msg *msg)
{
    fit_ckpt *k = f->ck;
    k->laplace_ok = f->laplace_metric_ok;
    snprintf(k->laplace_msg, sizeof k->laplace_msg, "%s", f->laplace_metric_msg);
    k->inits = dup_doubles(inits, f->n_chains * f->np);
    k->cov = use_cov ? dup_doubles(cov, f->np * f->np) : NULL;
    if (!k->inits || (use_cov && !k->cov))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    return fit__ckpt_write(k, msg);
}

void fit__nuts_options(const vbt_fit *f, vbt_nuts_opts *o, size_t *jc, double *js)
{
    vbt_nuts_opts_default(o);
    o->warmup = f->o.warmup;
    o->draws = f->n_draws;
    o->max_depth = f->o.max_depth;
    o->adapt_delta = f->o.adapt_delta;
    o->metric = f->o.metric == VBT_FIT_METRIC_DIAG ? VBT_NUTS_DIAG : VBT_NUTS_DENSE;
    o->adapt_metric = f->o.metric != VBT_FIT_METRIC_LAPLACE;
    /* mode jumps of every free x0 by 1 to 2.5 in natural units */
    size_t njc = 0;
    o->jump_n = f->o.jumps;
    for (size_t r = 0; o->jump_n && r < f->nr; r++) {
        long ix = fit__x0_index(f->m, r);
        if (ix >= 0) {
            jc[njc] = (size_t)ix;
            js[njc++] = 1.0 / vbt_vep_param_scale(f->m, (size_t)ix);
        }
    }
    o->jump_coords = jc;
    o->jump_scale = js;
    o->jump_n_coords = njc;
    o->jump_lo = 1.0;
    o->jump_hi = 2.5;
    if (!njc)
        o->jump_n = 0; /* x0 fixed: nothing to jump */
}

static int run_nuts(vbt_fit *f, vbt_msg *msg)
{
    const size_t C = f->n_chains, np = f->np, D = f->n_draws;
    vbt_sampler_opts so;
    vbt_sampler_result r;
    memset(&r, 0, sizeof r);
    table_opts(f, &so);
    size_t *jc = malloc(f->nr * sizeof *jc);
    double *js = malloc(f->nr * sizeof *js);
    double *cov = NULL, *inits = malloc(C * np * sizeof *inits);
    double *th = malloc(C * D * np * sizeof *th);
    vbt_vep_target *vt = NULL;
    fit_ckpt *k = f->ck;
    int st;
    f->stats = malloc(C * D * sizeof *f->stats);
    f->info = calloc(C, sizeof *f->info);
    f->nat = malloc(C * D * np * sizeof *f->nat);
    if (!inits || !f->stats || !f->info || !th || !f->nat || !jc || !js) {
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory for %zu x %zu draws", C, D);
        goto out;
    }
    fit__nuts_options(f, &so.nuts, jc, js);
    if ((st = table_target(f, &vt, msg)))
        goto out;
    st = f->resumed ? nuts_resume_state(f, &so.nuts, inits, &cov, th, msg)
                    : nuts_starts(f, inits, &cov, msg);
    if (st)
        goto out;
    int use_cov = (f->from_map || f->user_inits) && f->laplace_metric_ok;
    if (!use_cov)
        so.nuts.adapt_metric = 1; /* no Laplace covariance to keep */
    if (k) {
        k->th = th;
        k->stats = f->stats;
    }
    if (k && !f->resumed && (st = nuts_first_checkpoint(f, inits, cov, use_cov, msg)))
        goto out;
    const void *res[FIT_MAXCH];
    for (size_t c = 0; k && c < C; c++)
        res[c] = k->state[c];
    so.mode = NULL;
    so.inits = inits;
    so.inv_metric = use_cov ? cov : NULL;
    so.inv_metric_full = 1;
    so.nuts_progress = nuts_progress;
    so.nuts_progress_ctx = f;
    so.nuts_draws = th;
    so.nuts_stats = f->stats;
    so.checkpoint = k ? fit__ckpt_on_state : NULL;
    so.checkpoint_ctx = k;
    so.checkpoint_every = k ? k->every : 0;
    so.resume = f->resumed ? res : NULL;
    so.resume_len = k ? k->state_len : NULL;
    fit__log(f, VBT_FIT_LOG_INFO, "NUTS: %zu chain(s) x (%zu warm-up + %zu draws), %s metric, "
             "max depth %zu, adapt_delta %.3g, %zu thread(s)", C, so.nuts.warmup, D,
             !so.nuts.adapt_metric ? "Laplace (fixed)"
             : so.nuts.metric == VBT_NUTS_DENSE ? "dense" : "diag",
             so.nuts.max_depth, so.nuts.adapt_delta, f->o.threads);
    if ((st = vbt_sampler_run(vbt_sampler_nuts, vbt_vep_target_get(vt), &so, &r, msg)))
        goto out;
    memcpy(f->info, r.info, C * sizeof *f->info);
    for (size_t q = 0; q < C * D; q++)
        vbt_vep_constrain(f->m, th + q * np, f->nat + q * np);
    f->theta = th;
    th = NULL;
out:
    if (k) {
        k->th = NULL;
        k->stats = NULL;
    }
    vbt_sampler_result_clear(&r);
    vbt_vep_target_free(vt);
    free(cov);
    free(inits);
    free(jc);
    free(js);
    free(th);
    return st;
}

/* ---- the run ---------------------------------------------------------------------- */

/* The sampling stage of the method: the one place that dispatches on it. */
int fit__run_sampler(vbt_fit *f, vbt_msg *msg)
{
    if (f->is_lap)
        return run_laplace(f, msg);
    if (f->is_nuts)
        return run_nuts(f, msg);
    if (f->is_advi)
        return run_advi(f, msg);
    if (f->is_smc)
        return run_smc(f, msg);
    /* map: the mode as a single "draw" */
    if (!(f->nat = malloc(f->np * sizeof *f->nat)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    vbt_vep_constrain(f->m, f->map, f->nat);
    f->n_draws = 1;
    if (!(f->theta = dup_doubles(f->map, f->np)))
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    return VBT_OK;
}

