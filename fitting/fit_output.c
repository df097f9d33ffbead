/* fit_output.c -- the output files of a fit (vbt_fit_write): summary.json,
 * summary.csv, regions.csv, draws.npy, draws_chainN.csv (CmdStan's
 * columns), sampler.npy, log_weights.npy, map_starts.csv, predictive.npy,
 * data.npy and loo_pointwise.npy, byte for byte as `vbt fit` has always
 * written them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fit_internal.h"
#include "vbt_text.h"

/* ---- files ------------------------------------------------------------------------ */

static int write_text(vbt_outdir *od, const char *name, const vbt_textbuf *t, vbt_msg *msg)
{
    char path[4096];
    if (t->oom)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory writing %s", name);
    if (vbt_outdir_file(od, name, path, sizeof path))
        return vbt__fail(msg, VBT_EINVAL, "output path of %s too long", name);
    return vbt_file_write_atomic(path, t->s ? t->s : "", t->len, 0, msg);
}

static int write_npy(vbt_outdir *od, const char *name, const double *d, size_t ndim,
                     const size_t *shape, vbt_msg *msg)
{
    char path[4096];
    if (vbt_outdir_file(od, name, path, sizeof path))
        return vbt__fail(msg, VBT_EINVAL, "output path of %s too long", name);
    return vbt_npy_write(path, d, ndim, shape, 0, msg);
}

/* As cJSON_Print, with a newline at the end. */
static int write_json(vbt_outdir *od, const char *name, const cJSON *j, vbt_msg *msg)
{
    char *s = cJSON_Print(j);
    if (!s)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory writing %s", name);
    size_t len = strlen(s);
    s[len] = '\n'; /* over the NUL: written by length */
    vbt_textbuf t = {.s = s, .len = len + 1};
    int st = write_text(od, name, &t, msg);
    free(s);
    return st;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* Stan's CSV names: "x0[3]" -> "x0.3". */
static void stan_name(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s", name);
    char *b = strchr(out, '[');
    if (b) {
        *b = '.';
        char *e = strchr(b, ']');
        if (e)
            *e = '\0';
    }
}

/* ---- draws ------------------------------------------------------------------------- */

static const char *const sampler_cols[7] = {"lp__", "accept_stat__", "stepsize__",
                                            "treedepth__", "n_leapfrog__", "divergent__",
                                            "energy__"};

/* One CSV per chain, as CmdStan writes them; sp: the sampler columns. */
static int write_chain_csv(const vbt_fit *f, vbt_outdir *od, size_t c, const double *sp,
                           vbt_msg *msg)
{
    const size_t D = f->n_draws, np = f->np;
    vbt_textbuf b = {0};
    vbt_textbuf_printf(&b, "# vbt fit, method = %s, chain = %zu\n", f->method, c + 1);
    if (f->stats)
        vbt_textbuf_printf(&b, "# Step size = %.17g\n", f->info[c].stepsize);
    int first = 1;
    if (f->stats)
        for (int k = 0; k < 7; k++, first = 0)
            vbt_textbuf_printf(&b, "%s%s", first ? "" : ",", sampler_cols[k]);
    else if (f->log_w) {
        vbt_textbuf_printf(&b, "log_weight__");
        first = 0;
    }
    for (size_t i = 0; i < np; i++) {
        char nm[160];
        stan_name(vbt_vep_param_name(f->m, i), nm, sizeof nm);
        vbt_textbuf_printf(&b, "%s%s", first ? "" : ",", nm);
        first = 0;
    }
    vbt_textbuf_printf(&b, "\n");
    for (size_t d = 0; d < D; d++) {
        first = 1;
        if (f->stats) {
            const double *r = sp + 7 * (c * D + d);
            vbt_textbuf_printf(&b, "%.9g,%.6g,%.6g,%d,%d,%d,%.9g", r[0], r[1], r[2], (int)r[3], (int)r[4],
                    (int)r[5], r[6]);
            first = 0;
        } else if (f->log_w) {
            vbt_textbuf_printf(&b, "%.9g", f->log_w[d]);
            first = 0;
        }
        for (size_t i = 0; i < np; i++, first = 0)
            vbt_textbuf_printf(&b, "%s%.9g", first ? "" : ",", f->nat[(c * D + d) * np + i]);
        vbt_textbuf_printf(&b, "\n");
    }
    char name[64];
    snprintf(name, sizeof name, "draws_chain%zu.csv", c + 1);
    int st = write_text(od, name, &b, msg);
    vbt_textbuf_free(&b);
    return st;
}

static int write_draws(const vbt_fit *f, vbt_outdir *od, vbt_msg *msg)
{
    const size_t C = f->n_chains, D = f->n_draws, np = f->np;
    size_t shape[3] = {C, D, np};
    int st = write_npy(od, "draws.npy", f->nat, 3, shape, msg);
    if (st)
        return st;
    double *sp = NULL;
    if (f->stats) {
        if (!(sp = malloc(C * D * 7 * sizeof *sp)))
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        for (size_t k = 0; k < C * D; k++) {
            const vbt_nuts_stats *s = &f->stats[k];
            double row[7] = {s->lp, s->accept_stat, s->stepsize, (double)s->treedepth,
                             (double)s->n_leapfrog, (double)s->divergent, s->energy};
            memcpy(sp + 7 * k, row, sizeof row);
        }
        size_t sh[3] = {C, D, 7};
        st = write_npy(od, "sampler.npy", sp, 3, sh, msg);
    }
    if (!st && f->log_w) {
        size_t sh[1] = {D};
        st = write_npy(od, "log_weights.npy", f->log_w, 1, sh, msg);
    }
    for (size_t c = 0; !st && c < C; c++)
        st = write_chain_csv(f, od, c, sp, msg);
    free(sp);
    return st;
}

/* The per-start table of the MAP stage. */
static int write_map_starts(const vbt_fit *f, vbt_outdir *od, vbt_msg *msg)
{
    const size_t np = f->np;
    vbt_textbuf st = {0};
    vbt_textbuf_printf(&st, "start,lp");
    for (size_t i = 0; i < np; i++)
        vbt_textbuf_printf(&st, ",%s", vbt_vep_param_name(f->m, i));
    vbt_textbuf_printf(&st, "\n");
    double *nm = malloc(np * sizeof *nm);
    for (size_t s = 0; s < vbt_vep_map_n_rows(&f->mo) && nm; s++) {
        vbt_textbuf_printf(&st, "%zu,%.9g", s + 1, f->lp_starts[s]);
        vbt_vep_constrain(f->m, f->th_starts + s * np, nm);
        for (size_t i = 0; i < np; i++)
            vbt_textbuf_printf(&st, ",%.9g", nm[i]);
        vbt_textbuf_printf(&st, "\n");
    }
    int rc = !nm ? vbt__fail(msg, VBT_ENOMEM, "out of memory")
                 : write_text(od, "map_starts.csv", &st, msg);
    free(nm);
    vbt_textbuf_free(&st);
    return rc;
}

/* ---- summary.json ------------------------------------------------------------------- */

static void json_chains(const vbt_fit *f, cJSON *diag)
{
    cJSON *chains = cJSON_AddArrayToObject(diag, "chains");
    for (size_t c = 0; c < f->n_chains; c++) {
        const vbt_fit_chain *ch = &f->chains[c];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "chain", (double)(c + 1));
        add_num(o, "stepsize", ch->stepsize);
        add_num(o, "mean_lp", ch->mean_lp);
        add_num(o, "mean_accept_stat", ch->mean_accept_stat);
        add_num(o, "mean_treedepth", ch->mean_treedepth);
        cJSON_AddNumberToObject(o, "divergences", (double)ch->divergences);
        cJSON_AddNumberToObject(o, "max_treedepth_hits", (double)ch->max_treedepth_hits);
        cJSON_AddNumberToObject(o, "n_leapfrog", (double)ch->n_leapfrog);
        cJSON_AddNumberToObject(o, "jumps_accepted", (double)ch->jumps_accepted);
        add_num(o, "ebfmi", ch->ebfmi);
        add_num(o, "wall_s", ch->wall_s);
        cJSON_AddBoolToObject(o, "stuck", ch->stuck != 0);
        if (ch->stuck) {
            cJSON *why = cJSON_AddArrayToObject(o, "stuck_reason");
            if (ch->stuck & VBT_DIAG_STUCK_LP)
                cJSON_AddItemToArray(why, cJSON_CreateString("mean lp more than 10 below the "
                                                             "best chain"));
            if (ch->stuck & VBT_DIAG_STUCK_STEPSIZE)
                cJSON_AddItemToArray(why, cJSON_CreateString("step size below 0.1 x median"));
        }
        cJSON_AddBoolToObject(o, "used_in_summary", ch->used != 0);
        cJSON_AddItemToArray(chains, o);
    }
}

static cJSON *json_diagnostics(const vbt_fit *f)
{
    cJSON *d = cJSON_CreateObject();
    if (f->is_nuts) {
        json_chains(f, d);
        cJSON_AddNumberToObject(d, "divergences", (double)f->div);
        cJSON_AddNumberToObject(d, "max_treedepth_hits", (double)f->hits);
        cJSON_AddNumberToObject(d, "max_treedepth", (double)f->o.max_depth);
        add_num(d, "max_rhat", f->max_rhat);
        add_num(d, "min_ess_bulk", f->min_ess_bulk);
        add_num(d, "min_ess_tail", f->min_ess_tail);
    }
    if (f->is_lap) {
        add_num(d, "psis_khat", f->lr.khat);
        add_num(d, "psis_ess", f->lr.ess);
        cJSON_AddStringToObject(d, "weights", f->lr.khat < 0.7 ? "psis" : "none (k-hat >= 0.7)");
    }
    if (f->is_advi) {
        add_num(d, "advi_elbo", f->ar.elbo);
        add_num(d, "advi_iterations", (double)f->ar.iterations);
        cJSON_AddBoolToObject(d, "advi_converged", f->ar.converged);
    }
    if (f->is_smc) {
        cJSON_AddStringToObject(d, "rhat", "not applicable: SMC particles are one population, "
                                           "not chains");
        add_num(d, "smc_accept_rate", f->sr.mean_accept);
        add_num(d, "smc_last_accept_rate", f->sr.accept_rate);
        cJSON_AddNumberToObject(d, "smc_divergent", (double)f->sr.n_divergent);
        add_num(d, "smc_step_size", f->sr.step_size);
        add_num(d, "smc_log_evidence_sd", f->logz_sd);
    }
    return d;
}

static void json_parameters(const vbt_fit *f, cJSON *sum, vbt_textbuf *csv)
{
    const vbt_diag_param *dp = f->dp;
    cJSON *pars = cJSON_AddObjectToObject(sum, "parameters");
    vbt_textbuf_printf(csv, "parameter,mean,sd,q5,q50,q95,mcse_mean,rhat,ess_bulk,ess_tail\n");
    for (size_t i = 0; i < f->np; i++) {
        cJSON *o = cJSON_CreateObject();
        add_num(o, "mean", dp[i].mean);
        add_num(o, "sd", dp[i].sd);
        add_num(o, "q5", dp[i].q5);
        add_num(o, "q50", dp[i].q50);
        add_num(o, "q95", dp[i].q95);
        add_num(o, "mcse_mean", dp[i].mcse_mean);
        add_num(o, "rhat", dp[i].rhat);
        add_num(o, "ess_bulk", dp[i].ess_bulk);
        add_num(o, "ess_tail", dp[i].ess_tail);
        cJSON_AddItemToObject(pars, vbt_vep_param_name(f->m, i), o);
        vbt_textbuf_printf(csv, "%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.6g,%.6g,%.6g\n",
                vbt_vep_param_name(f->m, i), dp[i].mean, dp[i].sd, dp[i].q5, dp[i].q50,
                dp[i].q95, dp[i].mcse_mean, dp[i].rhat, dp[i].ess_bulk, dp[i].ess_tail);
    }
}

static void json_regions(const vbt_fit *f, cJSON *sum, vbt_textbuf *rcsv)
{
    cJSON *regs = cJSON_AddArrayToObject(sum, "regions");
    vbt_textbuf_printf(rcsv, "region,label,x0_mean,x0_sd,x0_q5,x0_q95,p_ez,p_pz,p_hz,class\n");
    for (size_t r = 0; r < f->nr; r++) {
        const vbt_fit_region *g = &f->regions[r];
        const char *cls = vbt_vep_class_name(g->cls);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "region", (double)r);
        cJSON_AddStringToObject(o, "label", f->conn->labels[r]);
        add_num(o, "x0_mean", g->x0_mean);
        add_num(o, "x0_sd", g->x0_sd);
        add_num(o, "p_ez", g->p_ez);
        add_num(o, "p_pz", g->p_pz);
        add_num(o, "p_hz", g->p_hz);
        cJSON_AddStringToObject(o, "class", cls);
        cJSON_AddItemToArray(regs, o);
        vbt_textbuf_printf(rcsv, "%zu,\"%s\",%.6g,%.6g,%.6g,%.6g,%.4f,%.4f,%.4f,%s\n", r, f->conn->labels[r],
                g->x0_mean, g->x0_sd, g->x0_q5, g->x0_q95, g->p_ez, g->p_pz, g->p_hz, cls);
    }
    cJSON_AddStringToObject(sum, "classes", "EZ: x0 >= -2.05; PZ: -3.05 <= x0 < -2.05; HZ: "
                                            "x0 < -3.05 (BVEP); class by the posterior mean, "
                                            "p_* = fraction of draws");
}

static int json_map(const vbt_fit *f, cJSON *sum)
{
    cJSON *mj = cJSON_AddObjectToObject(sum, "map");
    add_num(mj, "best_lp", f->mr.best_lp);
    cJSON_AddNumberToObject(mj, "best_start", (double)f->mr.best_start + 1);
    cJSON_AddNumberToObject(mj, "starts", (double)f->mo.n_starts);
    if (f->mo.hop_rounds) {
        cJSON_AddNumberToObject(mj, "hop_rounds", (double)f->mo.hop_rounds);
        cJSON_AddNumberToObject(mj, "hops", (double)f->mo.hops);
    }
    cJSON_AddNumberToObject(mj, "starts_at_best", (double)f->mr.n_best);
    cJSON_AddNumberToObject(mj, "starts_converged", (double)f->mr.n_converged);
    cJSON_AddNumberToObject(mj, "starts_polished", (double)f->mr.n_polished);
    add_num(mj, "wall_s", f->map_wall);
    cJSON *mode = cJSON_AddObjectToObject(mj, "mode");
    double *nm = malloc(f->np * sizeof *nm);
    if (!nm)
        return VBT_ENOMEM;
    vbt_vep_constrain(f->m, f->map, nm);
    for (size_t i = 0; i < f->np; i++)
        add_num(mode, vbt_vep_param_name(f->m, i), nm[i]);
    free(nm);
    if (f->is_nuts) {
        cJSON_AddBoolToObject(mj, "laplace_metric", f->laplace_metric_ok);
        if (!f->laplace_metric_ok)
            cJSON_AddStringToObject(mj, "laplace_metric_error", f->laplace_metric_msg);
    }
    return VBT_OK;
}

static void json_smc(const vbt_fit *f, cJSON *sum)
{
    const size_t C = f->n_chains;
    cJSON *sj = cJSON_AddObjectToObject(sum, "smc");
    add_num(sj, "log_evidence", f->sr.log_evidence);
    cJSON_AddNumberToObject(sj, "runs", (double)C);
    add_num(sj, "log_evidence_sd", f->logz_sd);
    cJSON *rj = cJSON_AddArrayToObject(sj, "run_log_evidence");
    for (size_t r = 0; r < C; r++)
        cJSON_AddItemToArray(rj, cJSON_CreateNumber(f->srs[r].log_evidence));
    add_num(sj, "max_p_ez_range", f->worst_range >= 0 ? f->worst_range : NAN);
    if (f->worst_range >= 0)
        cJSON_AddStringToObject(sj, "max_p_ez_range_region", f->conn->labels[f->worst_region]);
    cJSON_AddNumberToObject(sj, "steps", (double)f->sr.n_steps);
    add_num(sj, "accept_rate", f->sr.mean_accept);
    add_num(sj, "step_size", f->sr.step_size);
    cJSON_AddNumberToObject(sj, "particles", (double)f->n_draws);
    add_num(sj, "ess_target", f->o.smc_ess);
    cJSON_AddNumberToObject(sj, "moves", (double)f->o.smc_moves);
    cJSON_AddNumberToObject(sj, "leapfrog", (double)f->o.leapfrog);
    cJSON_AddNumberToObject(sj, "divergent", (double)f->sr.n_divergent);
    cJSON_AddNumberToObject(sj, "gradients", (double)f->sr.n_grad);
    add_num(sj, "wall_s", f->smc_wall);
    cJSON *tj = cJSON_AddArrayToObject(sj, "temperatures");
    for (size_t k = 0; k < f->sr.n_steps; k++)
        cJSON_AddItemToArray(tj, cJSON_CreateNumber(f->betas[k]));
    cJSON_AddStringToObject(sj, "note", "log_evidence estimates log p(data) under this run's "
                                        "priors: between two priors (hypotheses) for one "
                                        "patient, the larger is favoured, by a Bayes factor "
                                        "exp(difference)");
}

static void json_loo(const vbt_fit *f, cJSON *sum)
{
    if (!f->loo_state)
        return;
    cJSON *o = cJSON_AddObjectToObject(sum, "loo");
    if (f->loo_state == 2) {
        cJSON_AddStringToObject(o, "error", f->loo_err);
        return;
    }
    const vbt_loo_result *r = &f->loo;
    add_num(o, "draws", (double)f->loo_K);
    add_num(o, "observations", (double)(f->nt * f->ns));
    add_num(o, "elpd_loo", r->elpd_loo);
    add_num(o, "se_elpd_loo", r->se_elpd_loo);
    add_num(o, "p_loo", r->p_loo);
    add_num(o, "looic", r->looic);
    add_num(o, "elpd_waic", r->elpd_waic);
    add_num(o, "se_elpd_waic", r->se_elpd_waic);
    add_num(o, "p_waic", r->p_waic);
    add_num(o, "waic", r->waic);
    add_num(o, "pareto_k_max", r->khat_max);
    add_num(o, "n_k_ok", (double)r->n_k_ok);
    add_num(o, "n_k_warn", (double)r->n_k_warn);
    add_num(o, "n_k_bad", (double)r->n_k_bad);
    if (r->n_k_bad)
        cJSON_AddStringToObject(o, "warning", "some observations have Pareto k >= 0.7: their "
                                              "PSIS-LOO terms are unreliable");
}

/* summary.json, summary.csv and regions.csv. */
static int write_summaries(const vbt_fit *f, vbt_outdir *od, vbt_msg *msg)
{
    cJSON *sum = cJSON_CreateObject();
    vbt_textbuf csv = {0}, rcsv = {0};
    int st = VBT_ENOMEM;
    if (!sum)
        return vbt__fail(msg, st, "out of memory");
    cJSON_AddStringToObject(sum, "method", f->method);
    cJSON_AddNumberToObject(sum, "n_params", (double)f->np);
    cJSON_AddNumberToObject(sum, "chains", (double)f->n_chains);
    cJSON_AddNumberToObject(sum, "chains_used", (double)f->kept);
    cJSON_AddNumberToObject(sum, "draws_per_chain", (double)f->n_draws);
    json_parameters(f, sum, &csv);
    json_regions(f, sum, &rcsv);
    if (f->from_map && json_map(f, sum)) {
        vbt__fail(msg, st, "out of memory");
        goto out;
    }
    if (f->is_smc)
        json_smc(f, sum);
    json_loo(f, sum);
    cJSON_AddItemToObject(sum, "diagnostics", json_diagnostics(f));
    cJSON_AddBoolToObject(sum, "diagnostics_passed", f->n_failures == 0);
    cJSON *fl = cJSON_AddArrayToObject(sum, "diagnostic_failures");
    for (size_t i = 0; i < f->n_failures; i++)
        cJSON_AddItemToArray(fl, cJSON_CreateString(f->failures[i]));
    /* every check of the verdict (vbt_fit_verdict) */
    char *vt = vbt_verdict_json(&f->verdict);
    cJSON *vj = vt ? cJSON_Parse(vt) : NULL;
    free(vt);
    if (vj)
        cJSON_AddItemToObject(sum, "verdict", vj);
    if ((st = write_json(od, "summary.json", sum, msg)) ||
        (st = write_text(od, "summary.csv", &csv, msg)) ||
        (st = write_text(od, "regions.csv", &rcsv, msg)))
        goto out;
out:
    cJSON_Delete(sum);
    vbt_textbuf_free(&csv);
    vbt_textbuf_free(&rcsv);
    return st;
}

int vbt_fit_write(const vbt_fit *f, vbt_outdir *od, vbt_msg *msg)
{
    if (!f || !od)
        return vbt__fail(msg, VBT_EINVAL, "fit write: NULL argument");
    if (!f->dp || !f->pred)
        return vbt__fail(msg, VBT_EINVAL, "fit write: the fit has not run");
    const size_t T = f->nt, S = f->ns;
    int st;
    if ((st = write_summaries(f, od, msg)))
        return st;
    if (f->loo_state == 1 &&
        (st = write_npy(od, "loo_pointwise.npy", f->loo_elpd, 2, (size_t[2]){T, S}, msg)))
        return st;
    if (!f->is_map && (st = write_draws(f, od, msg)))
        return st;
    if (f->from_map && (st = write_map_starts(f, od, msg)))
        return st;
    if ((st = write_npy(od, "predictive.npy", f->pred, 3, (size_t[3]){3, T, S}, msg)))
        return st;
    /* the feature as fitted (after data_norm), the predictive's units */
    return write_npy(od, "data.npy", f->data, 2, (size_t[2]){T, S}, msg);
}

void fit__list_outputs(vbt_fit *f)
{
    const char *outs[] = {"summary.json", "summary.csv", "regions.csv", "predictive.npy",
                          "data.npy", f->is_map ? NULL : "draws.npy",
                          f->is_nuts ? "sampler.npy" : NULL,
                          f->is_lap ? "log_weights.npy" : NULL,
                          f->from_map ? "map_starts.csv" : NULL,
                          f->loo_state == 1 ? "loo_pointwise.npy" : NULL,
                          f->is_map ? NULL : "draws_chain*.csv"};
    size_t n = 0;
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++)
        if (outs[k])
            f->outputs[n++] = outs[k];
    f->outputs[n] = NULL;
}

const char *const *vbt_fit_output_names(const vbt_fit *f)
{
    static const char *const none[] = {NULL};
    return f && f->pred ? (const char *const *)f->outputs : none;
}

char *vbt_fit_run_json(vbt_fit *f)
{
    if (!f || !f->pred)
        return NULL;
    const vbt_vep_priors *pr = vbt_fit_priors(f);
    vbt_vep *m = vbt_fit_model(f);
    cJSON *root = cJSON_CreateObject(), *mj = cJSON_AddObjectToObject(root, "model");
    cJSON_AddNumberToObject(mj, "regions", (double)vbt_fit_n_regions(f));
    cJSON_AddNumberToObject(mj, "sensors", (double)vbt_fit_n_sensors(f));
    cJSON_AddNumberToObject(mj, "samples", (double)vbt_fit_n_samples(f));
    cJSON_AddNumberToObject(mj, "free_parameters", (double)vbt_fit_n_params(f));
    /* resolved from the options, the prior file and the default */
    cJSON_AddStringToObject(mj, "offsets", pr->off.fixed      ? "fixed"
                                           : pr->off_marginal ? "marginal"
                                                              : "sampled");
    /* every prior the fit used, in the prior file's format (--prior reads it back) */
    char *pj = vbt_vep_priors_json(pr);
    cJSON *po = pj ? cJSON_Parse(pj) : NULL;
    if (po)
        cJSON_AddItemToObject(mj, "priors", po);
    free(pj);
    cJSON *names = cJSON_AddArrayToObject(mj, "parameter_names");
    for (size_t i = 0; i < vbt_fit_n_params(f); i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(vbt_vep_param_name(m, i)));
    const char *method = vbt_fit_options(f)->sampler->name;
    vbt_fit_timing t = vbt_fit_get_timing(f);
    cJSON *tj = cJSON_AddObjectToObject(root, "timing");
    cJSON_AddNumberToObject(tj, "wall_s", t.wall_s);
    if (vbt_fit_map_result(f))
        cJSON_AddNumberToObject(tj, "map_s", t.map_s);
    if (!strcmp(method, "smc")) {
        cJSON_AddNumberToObject(tj, "smc_s", t.smc_s);
        cJSON_AddNumberToObject(tj, "gradients", t.gradients);
    }
    if (!strcmp(method, "nuts")) {
        cJSON_AddNumberToObject(tj, "nuts_s", t.wall_s - t.map_s);
        cJSON_AddNumberToObject(tj, "post_warmup_gradients", t.gradients);
    }
    cJSON *oj = cJSON_AddArrayToObject(root, "outputs");
    for (const char *const *o = vbt_fit_output_names(f); *o; o++)
        cJSON_AddItemToArray(oj, cJSON_CreateString(*o));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

int vbt_fit_write_dir(const vbt_fit *f, const char *dir, int overwrite, vbt_msg *msg)
{
    if (!f || !dir)
        return vbt__fail(msg, VBT_EINVAL, "fit write: NULL argument");
    vbt_outdir *od = NULL;
    int st = vbt_outdir_begin(&od, dir, overwrite, msg);
    if (st)
        return st;
    if ((st = vbt_fit_write(f, od, msg))) {
        vbt_outdir_abort(od);
        return st;
    }
    return vbt_outdir_commit(od, msg);
}
