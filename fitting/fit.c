/* fit.c -- the fit object (vbt_fit.h): options, inputs and their
 * normalisation, the run, the getters.  The MAP and sampling stages are in
 * fit_sample.c, summaries and checks in fit_summary.c, the files in
 * fit_output.c, the checkpoint in fit_checkpoint.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fit_internal.h"

void vbt_fit_opts_default(vbt_fit_opts *o)
{
    memset(o, 0, sizeof *o);
    o->version = VBT_FIT_OPTS_VERSION;
    o->sampler = vbt_sampler_nuts;
    o->scheme = VBT_VEP_EULER;
    o->dt = 0.1;
    o->steps = 1;
    o->obs = VBT_VEP_OBS_LINEAR;
    o->seizure_x = -1.0;
    o->seizure_width = 0.1;
    o->normalize = VBT_NORMALIZE_MAX;
    o->offsets = VBT_FIT_OFFSETS_PRIORS;
    o->data_norm = VBT_FIT_DATA_NONE;
    o->gain_norm = VBT_FIT_GAIN_NONE;
    o->baseline = 5;
    o->starts = 16;
    o->map_init = VBT_FIT_MAP_DATA;
    o->map_iter = 100;
    o->polish = 16;
    o->hop_rounds = 0;
    o->hops = 6;
    o->chains = 4;
    o->warmup = 1000;
    o->draws = 1000;
    o->max_depth = 10;
    o->adapt_delta = 0.8;
    o->metric = VBT_FIT_METRIC_DIAG;
    o->init = VBT_FIT_INIT_MAP;
    o->jumps = 0;
    o->advi_family = VBT_ADVI_MEANFIELD;
    o->particles = 512;
    o->smc_ess = 0.5;
    o->smc_moves = 10;
    o->leapfrog = 10;
    o->smc_runs = 1;
    o->threads = 1;
    o->seed = 0;
}

void vbt_fit_priors_preset(vbt_vep_priors *p)
{
    vbt_vep_priors_default(p);
    p->off_marginal = 1;
}

double fit__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fit__log(struct vbt_fit *f, int level, const char *fmt, ...)
{
    if (!f->log)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&f->plock);
    f->log(f->log_ctx, level, buf);
    pthread_mutex_unlock(&f->plock);
}

long fit__x0_index(const vbt_vep *m, size_t r)
{
    char nm[32];
    snprintf(nm, sizeof nm, "x0[%zu]", r + 1);
    return vbt_vep_param_index(m, nm);
}

double fit__draw_eps(const struct vbt_fit *f, const double *nat)
{
    long ieps = vbt_vep_param_index(f->m, "eps");
    return ieps < 0 ? f->spec.priors.eps.value : nat[ieps];
}

static double *dup_doubles(const double *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- inputs --------------------------------------------------------------- */

/* gain_norm power: G_si^2 / sum_j G_sj^2: sources add up in power, so the
 * power gain of an amplitude gain is its square; the row scaling only moves
 * the per-sensor offsets of the power observation.  power-abs: squared and
 * divided by the median over sensors of their largest entry.  max: G /
 * max |G|. */
static int normalise_gain(vbt_fit *f, vbt_msg *msg)
{
    const size_t nr = f->nr, ns = f->ns, size = nr * ns;
    double *G = f->gain;
    if (f->o.gain_norm == VBT_FIT_GAIN_POWER) {
        for (size_t r = 0; r < ns; r++) {
            double *g = G + r * nr, sum = 0.0;
            for (size_t j = 0; j < nr; j++)
                sum += g[j] * g[j];
            if (!(sum > 0.0) || !isfinite(sum))
                return vbt__fail(msg, VBT_EINVAL,
                                 "--gain-norm power: gain row %zu is zero or not finite", r + 1);
            for (size_t j = 0; j < nr; j++)
                g[j] = g[j] * g[j] / sum;
        }
    } else if (f->o.gain_norm == VBT_FIT_GAIN_POWER_ABS) {
        double *rmax = malloc(ns * sizeof *rmax);
        if (!rmax)
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        for (size_t r = 0; r < ns; r++) {
            rmax[r] = 0.0;
            for (size_t j = 0; j < nr; j++) {
                double *g = G + r * nr + j;
                *g *= *g;
                rmax[r] = fmax(rmax[r], *g);
            }
        }
        qsort(rmax, ns, sizeof *rmax, cmp_double);
        double med = ns % 2 ? rmax[ns / 2] : 0.5 * (rmax[ns / 2 - 1] + rmax[ns / 2]);
        free(rmax);
        if (!(med > 0.0) || !isfinite(med))
            return vbt__fail(msg, VBT_EINVAL, "--gain-norm power-abs: the gain is zero for "
                                              "half the sensors or more");
        for (size_t i = 0; i < size; i++)
            G[i] /= med;
    } else if (f->o.gain_norm == VBT_FIT_GAIN_MAX) {
        double gm = 0.0;
        for (size_t i = 0; i < size; i++)
            gm = fmax(gm, fabs(G[i]));
        if (!(gm > 0.0) || !isfinite(gm))
            return vbt__fail(msg, VBT_EINVAL, "--gain-norm max: the gain is zero");
        for (size_t i = 0; i < size; i++)
            G[i] /= gm;
    }
    return VBT_OK;
}

/* data_norm power: y'_ts = (exp(y_ts - b_s) - 1) / D, b_s the median of the
 * first `baseline` samples of channel s, D the largest value over all.  The
 * feature is a log power envelope; exp(. - b) - 1 is the power relative to
 * the pre-ictal baseline, which adds up linearly over sources as the linear
 * observation amp G x + off assumes, and D brings it to [0, 1] so that
 * BVEP's unit priors on amp and off fit.  baseline: y_ts - b_s, the log power
 * relative to the baseline.  excess: exp(y) - exp(b), divided by D. */
static int normalise_data(vbt_fit *f, vbt_msg *msg)
{
    static const char *const name[] = {"none", "power", "excess", "baseline"};
    vbt_fit_data_norm dn = f->o.data_norm;
    int rel = dn == VBT_FIT_DATA_BASELINE, exc = dn == VBT_FIT_DATA_EXCESS;
    if (dn == VBT_FIT_DATA_NONE)
        return VBT_OK;
    size_t nb = f->o.baseline, ns = f->ns;
    if (nb > f->nt)
        nb = f->nt;
    double *tmp = malloc((nb ? nb : 1) * sizeof *tmp);
    if (!tmp)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    double *y = f->data, D = 0.0;
    for (size_t c = 0; c < ns; c++) {
        for (size_t t = 0; t < nb; t++)
            tmp[t] = y[t * ns + c];
        qsort(tmp, nb, sizeof *tmp, cmp_double);
        double b = nb % 2 ? tmp[nb / 2] : 0.5 * (tmp[nb / 2 - 1] + tmp[nb / 2]);
        for (size_t t = 0; t < f->nt; t++) {
            double v = rel   ? y[t * ns + c] - b
                       : exc ? exp(y[t * ns + c]) - exp(b)
                             : expm1(y[t * ns + c] - b);
            y[t * ns + c] = v;
            D = fmax(D, v);
        }
    }
    free(tmp);
    if (rel)
        return VBT_OK;
    if (!(D > 0.0) || !isfinite(D))
        return vbt__fail(msg, VBT_EINVAL, "--data-norm %s: the feature never rises above its "
                         "baseline (or overflows)", name[dn]);
    for (size_t i = 0; i < f->nt * ns; i++)
        y[i] /= D;
    return VBT_OK;
}

static int method_of(vbt_fit *f, vbt_msg *msg)
{
    const char *n = f->o.sampler ? f->o.sampler->name : NULL;
    if (!n)
        return vbt__fail(msg, VBT_EINVAL, "fit: no sampler");
    f->is_map = !strcmp(n, "map");
    f->is_lap = !strcmp(n, "laplace");
    f->is_nuts = !strcmp(n, "nuts");
    f->is_advi = !strcmp(n, "advi");
    f->is_smc = !strcmp(n, "smc");
    if (!f->is_map && !f->is_lap && !f->is_nuts && !f->is_advi && !f->is_smc)
        return vbt__fail(msg, VBT_EINVAL, "fit: sampler '%s' is not one vbt fit runs", n);
    f->method = n;
    f->from_map = !f->is_smc && (!f->is_nuts || f->o.init != VBT_FIT_INIT_PRIOR);
    f->n_chains = f->is_nuts ? f->o.chains : f->is_smc ? f->o.smc_runs : 1;
    f->n_draws = f->is_smc ? f->o.particles : f->o.draws;
    return VBT_OK;
}

static int check_opts(const vbt_fit_opts *o, vbt_msg *msg)
{
    if (o->version != VBT_FIT_OPTS_VERSION)
        return vbt__fail(msg, VBT_EINVAL, "fit: options version %u, this vbt knows %u "
                         "(call vbt_fit_opts_default)", o->version, VBT_FIT_OPTS_VERSION);
    if (o->chains < 1 || o->chains > VBT_FIT_MAX_CHAINS)
        return vbt__fail(msg, VBT_EINVAL, "--chains is at most %d", VBT_FIT_MAX_CHAINS);
    if (o->smc_runs < 1 || o->smc_runs > VBT_FIT_MAX_CHAINS)
        return vbt__fail(msg, VBT_EINVAL, "fit: smc_runs must be 1 to %d", VBT_FIT_MAX_CHAINS);
    if (o->draws < 4 || o->particles < 8 || o->starts < 1 || o->map_iter < 1 ||
        o->steps < 1 || o->threads < 1 || o->smc_moves < 1 || o->leapfrog < 1 ||
        o->max_depth < 1 || o->baseline < 1 || o->hops < 1)
        return vbt__fail(msg, VBT_EINVAL, "fit: draws >= 4, particles >= 8, and starts, "
                         "map_iter, steps, threads, smc_moves, leapfrog, max_depth, "
                         "baseline and hops >= 1");
    if (!(o->dt > 0) || !(o->adapt_delta > 0 && o->adapt_delta < 1) ||
        !(o->smc_ess > 0 && o->smc_ess < 1) || !(o->seizure_width > 0))
        return vbt__fail(msg, VBT_EINVAL, "fit: dt and seizure_width must be > 0, adapt_delta "
                         "and smc_ess in (0, 1)");
    if ((unsigned)o->data_norm > VBT_FIT_DATA_BASELINE ||
        (unsigned)o->gain_norm > VBT_FIT_GAIN_POWER_ABS ||
        (unsigned)o->metric > VBT_FIT_METRIC_LAPLACE || (unsigned)o->init > VBT_FIT_INIT_PRIOR ||
        (unsigned)o->map_init > VBT_FIT_MAP_PRIOR ||
        (unsigned)o->offsets > VBT_FIT_OFFSETS_SAMPLE)
        return vbt__fail(msg, VBT_EINVAL, "fit: an option holds an unknown value");
    return VBT_OK;
}

static int check_inputs(const vbt_connectome *conn, const vbt_array *gain,
                        const vbt_array *data, vbt_msg *msg)
{
    if (!conn || !gain || !data || !gain->data || !data->data)
        return vbt__fail(msg, VBT_EINVAL, "fit: a NULL connectome, gain or data");
    if (conn->n == 0 || !conn->weights)
        return vbt__fail(msg, VBT_EINVAL, "fit: the connectome is empty");
    if (gain->ndim != 2 || gain->shape[1] != conn->n)
        return vbt__fail(msg, VBT_EINVAL, "fit: gain must be [sensor, region] with %zu regions "
                         "(the connectome's), got %zu dimension(s)%s", conn->n, gain->ndim,
                         gain->ndim == 2 ? " of the wrong width" : "");
    if (gain->shape[0] == 0)
        return vbt__fail(msg, VBT_EINVAL, "fit: the gain has no sensor");
    if (data->ndim != 2 || data->shape[1] != gain->shape[0] || data->shape[0] == 0)
        return vbt__fail(msg, VBT_EINVAL, "fit: data must be [time, sensor] with %zu sensors "
                         "(the gain's rows)", gain->shape[0]);
    return VBT_OK;
}

static void fill_spec(vbt_fit *f, const vbt_vep_priors *priors)
{
    vbt_vep_spec *s = &f->spec;
    vbt_vep_spec_default(s);
    if (priors)
        s->priors = *priors;
    else
        vbt_fit_priors_preset(&s->priors);
    if (f->o.offsets != VBT_FIT_OFFSETS_PRIORS)
        s->priors.off_marginal = f->o.offsets == VBT_FIT_OFFSETS_MARGINAL;
    s->n_regions = f->nr;
    s->n_sensors = f->ns;
    s->n_samples = f->nt;
    s->weights = f->conn->weights;
    s->normalize = f->o.normalize;
    s->gain = f->gain;
    s->data = f->data;
    s->scheme = f->o.scheme;
    s->dt = f->o.dt;
    s->steps = f->o.steps;
    s->obs = f->o.obs;
    s->sig_x = f->o.seizure_x;
    s->sig_w = f->o.seizure_width;
}

int vbt_fit_alloc(vbt_fit **out, const vbt_connectome *conn, const vbt_array *gain,
                  const vbt_array *data, const vbt_vep_priors *priors, const vbt_fit_opts *o,
                  vbt_msg *msg)
{
    if (!out)
        return vbt__fail(msg, VBT_EINVAL, "fit: NULL output");
    *out = NULL;
    if (!o)
        return vbt__fail(msg, VBT_EINVAL, "fit: NULL options");
    int st = check_opts(o, msg);
    if (st || (st = check_inputs(conn, gain, data, msg)))
        return st;
    vbt_fit *f = calloc(1, sizeof *f);
    if (!f)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    pthread_mutex_init(&f->plock, NULL);
    f->o = *o;
    f->conn = conn;
    f->nr = conn->n;
    f->ns = gain->shape[0];
    f->nt = data->shape[0];
    f->logz_sd = NAN;
    if ((st = method_of(f, msg)))
        goto fail;
    f->gain = dup_doubles(gain->data, f->ns * f->nr);
    f->data = dup_doubles(data->data, f->nt * f->ns);
    if (!f->gain || !f->data) {
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((st = normalise_gain(f, msg)) || (st = normalise_data(f, msg)))
        goto fail;
    fill_spec(f, priors);
    if ((st = vbt_vep_alloc(&f->m, &f->spec, msg)))
        goto fail;
    f->np = vbt_vep_n_params(f->m);
    *out = f;
    return VBT_OK;
fail:
    vbt_fit_free(f);
    return st;
}

void vbt_fit_free(vbt_fit *f)
{
    if (!f)
        return;
    vbt_vep_free(f->m);
    free(f->gain);
    free(f->data);
    free(f->map);
    free(f->lp_starts);
    free(f->th_starts);
    free(f->nat);
    free(f->theta);
    free(f->user_inits);
    free(f->user_cov);
    free(f->log_w);
    free(f->stats);
    free(f->info);
    free(f->srs);
    free(f->betas);
    free(f->dp);
    free(f->keep);
    free(f->chains);
    for (size_t i = 0; i < f->n_failures; i++)
        free(f->failures[i]);
    free(f->failures);
    free(f->ppc_sensor);
    free(f->regions);
    free(f->loo_elpd);
    free(f->pred);
    if (f->ck) {
        fit__ckpt_clear(f->ck);
        free(f->ck);
    }
    pthread_mutex_destroy(&f->plock);
    free(f);
}

void vbt_fit_set_log(vbt_fit *f, vbt_fit_log_fn fn, void *ctx)
{
    if (!f)
        return;
    f->log = fn;
    f->log_ctx = ctx;
}

int vbt_fit_set_inits(vbt_fit *f, const double *inits, const double *inv_metric, vbt_msg *msg)
{
    if (!f || !inits)
        return vbt__fail(msg, VBT_EINVAL, "fit inits: NULL argument");
    if (!f->is_nuts || f->ran)
        return vbt__fail(msg, VBT_EINVAL, "fit inits: for a NUTS fit, before its run");
    double *in = dup_doubles(inits, f->n_chains * f->np);
    double *cv = inv_metric ? dup_doubles(inv_metric, f->np * f->np) : NULL;
    if (!in || (inv_metric && !cv)) {
        free(in);
        free(cv);
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    }
    free(f->user_inits);
    free(f->user_cov);
    f->user_inits = in;
    f->user_cov = cv;
    f->from_map = 0;
    return VBT_OK;
}

void vbt_fit_set_progress(vbt_fit *f, vbt_fit_progress_fn fn, void *ctx)
{
    if (!f)
        return;
    f->progress = fn;
    f->progress_ctx = ctx;
}

/* ---- the run ----------------------------------------------------------------------- */

int vbt_fit_run(vbt_fit *f, vbt_msg *msg)
{
    if (!f)
        return vbt__fail(msg, VBT_EINVAL, "fit: NULL handle");
    if (f->ran)
        return vbt__fail(msg, VBT_EINVAL, "fit: vbt_fit_run called twice on one handle");
    f->ran = 1;
    if (f->ck && !f->ck->lock_ready) {
        pthread_mutex_init(&f->ck->lock, NULL);
        f->ck->lock_ready = 1;
    }
    double t0 = fit__now() - (f->resumed ? f->ck->map_wall : 0.0);
    int st;
    if (f->from_map && (st = fit__run_map(f, msg)))
        return st;
    if ((st = fit__run_sampler(f, msg)))
        return st;
    f->wall = fit__now() - t0;
    if (f->progress) {
        vbt_fit_progress p = {.stage = "done", .n_chains = f->n_chains, .fraction = 1.0};
        if (f->progress(f->progress_ctx, &p))
            return vbt__fail(msg, VBT_EINVAL, "fit: interrupted");
    }
    return fit__post(f, msg);
}

/* ---- getters ---------------------------------------------------------------------- */

size_t vbt_fit_n_params(const vbt_fit *f) { return f ? f->np : 0; }
size_t vbt_fit_n_regions(const vbt_fit *f) { return f ? f->nr : 0; }
size_t vbt_fit_n_sensors(const vbt_fit *f) { return f ? f->ns : 0; }
size_t vbt_fit_n_samples(const vbt_fit *f) { return f ? f->nt : 0; }
vbt_vep *vbt_fit_model(vbt_fit *f) { return f ? f->m : NULL; }
const vbt_vep_priors *vbt_fit_priors(const vbt_fit *f) { return f ? &f->spec.priors : NULL; }
const vbt_vep_spec *vbt_fit_spec(const vbt_fit *f) { return f ? &f->spec : NULL; }
const vbt_fit_opts *vbt_fit_options(const vbt_fit *f) { return f ? &f->o : NULL; }
const double *vbt_fit_data(const vbt_fit *f) { return f ? f->data : NULL; }
const double *vbt_fit_gain(const vbt_fit *f) { return f ? f->gain : NULL; }
size_t vbt_fit_n_chains(const vbt_fit *f) { return f ? f->n_chains : 0; }
size_t vbt_fit_n_draws(const vbt_fit *f) { return f ? f->n_draws : 0; }
const double *vbt_fit_draws(const vbt_fit *f) { return f && f->dp ? f->nat : NULL; }
const double *vbt_fit_draws_unconstrained(const vbt_fit *f)
{
    return f && f->dp ? f->theta : NULL;
}

const double *vbt_fit_log_weights(const vbt_fit *f) { return f ? f->log_w : NULL; }
const vbt_nuts_stats *vbt_fit_nuts_stats(const vbt_fit *f) { return f ? f->stats : NULL; }
const vbt_nuts_chain_info *vbt_fit_nuts_info(const vbt_fit *f) { return f ? f->info : NULL; }
const vbt_diag_param *vbt_fit_summary(const vbt_fit *f) { return f ? f->dp : NULL; }
const vbt_fit_chain *vbt_fit_chains(const vbt_fit *f) { return f ? f->chains : NULL; }
size_t vbt_fit_n_chains_used(const vbt_fit *f) { return f ? f->kept : 0; }
int vbt_fit_trustworthy(const vbt_fit *f) { return f && f->dp && f->n_failures == 0; }
size_t vbt_fit_n_failures(const vbt_fit *f) { return f ? f->n_failures : 0; }
const vbt_fit_region *vbt_fit_regions(const vbt_fit *f) { return f ? f->regions : NULL; }
int vbt_fit_resumed(const vbt_fit *f) { return f ? f->resumed : 0; }

const vbt_verdict *vbt_fit_verdict(const vbt_fit *f)
{
    return f && f->dp ? &f->verdict : NULL;
}

const double *vbt_fit_ppc_coverage(const vbt_fit *f, double *overall)
{
    if (overall)
        *overall = f && f->ppc_sensor ? f->ppc_all : NAN;
    return f ? f->ppc_sensor : NULL;
}

const char *vbt_fit_failure(const vbt_fit *f, size_t i)
{
    return f && i < f->n_failures ? f->failures[i] : NULL;
}

const double *vbt_fit_map_mode(const vbt_fit *f)
{
    return f && f->from_map ? f->map : NULL;
}

const vbt_vep_map_result *vbt_fit_map_result(const vbt_fit *f)
{
    return f && f->from_map && f->map ? &f->mr : NULL;
}

size_t vbt_fit_map_n_starts(const vbt_fit *f)
{
    return f && f->from_map && f->map ? vbt_vep_map_n_rows(&f->mo) : 0;
}

const double *vbt_fit_map_lp_starts(const vbt_fit *f)
{
    return f && f->from_map ? f->lp_starts : NULL;
}

const char *vbt_fit_laplace_metric_error(const vbt_fit *f)
{
    return f && f->is_nuts && f->from_map && f->info && !f->laplace_metric_ok
               ? f->laplace_metric_msg
               : NULL;
}

const vbt_vep_laplace_result *vbt_fit_laplace_result(const vbt_fit *f)
{
    return f && f->is_lap && f->log_w ? &f->lr : NULL;
}

const vbt_advi_result *vbt_fit_advi_result(const vbt_fit *f)
{
    return f && f->is_advi && f->nat ? &f->ar : NULL;
}

const vbt_smc_result *vbt_fit_smc_result(const vbt_fit *f)
{
    return f && f->is_smc && f->srs ? &f->sr : NULL;
}

double vbt_fit_log_evidence(const vbt_fit *f)
{
    return f && f->is_smc && f->srs ? f->sr.log_evidence : NAN;
}

double vbt_fit_log_evidence_sd(const vbt_fit *f)
{
    return f && f->is_smc ? f->logz_sd : NAN;
}

const vbt_loo_result *vbt_fit_loo(const vbt_fit *f)
{
    return f && f->loo_state == 1 ? &f->loo : NULL;
}

const char *vbt_fit_loo_error(const vbt_fit *f)
{
    return f && f->loo_state == 2 ? f->loo_err : NULL;
}

vbt_fit_timing vbt_fit_get_timing(const vbt_fit *f)
{
    vbt_fit_timing t = {0};
    if (!f)
        return t;
    t.wall_s = f->wall;
    t.map_s = f->map_wall;
    t.smc_s = f->smc_wall;
    if (f->is_smc)
        t.gradients = (double)f->sr.n_grad;
    for (size_t c = 0; f->is_nuts && f->info && c < f->n_chains; c++)
        t.gradients += (double)f->info[c].n_leapfrog;
    return t;
}
