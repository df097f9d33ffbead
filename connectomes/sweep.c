/* sweep.c -- the "sweep" section of a simulation configuration (docs/sweep.md)
 * planned: the parameters to vary and each simulation's values, the
 * monitor the summaries read, and the running summaries themselves. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "internal.h"
#include "vbt_rng.h"
#include "vbt_sweep.h"

static const char *const sum_names[] = {"mean", "variance", "min", "max", "time_above",
                                        "onset"};

/* Parsing context: the plan being filled, the file for messages. */
typedef struct pctx {
    vbt_sweep_plan *plan;
    const char *config;
    vbt_msg *msg;
    int failed;
} pctx;


static int bad(pctx *c, const char *fmt, ...) VBT_PRINTF(2, 3);
static int bad(pctx *c, const char *fmt, ...)
{
    char buf[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->failed = 1;
    return vbt__fail(c->msg, VBT_EINVAL, "'%s': %s", c->config, buf);
}

static int known_keys(pctx *c, const cJSON *o, const char *where, const char *const *keys)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (size_t i = 0; keys[i]; i++)
            ok |= strcmp(it->string, keys[i]) == 0;
        if (!ok)
            return bad(c, "unknown key '%s.%s'", where, it->string);
    }
    return 0;
}

/* Values of one parameter for grid and list modes: "values" or "range". */
static int param_values(pctx *c, const cJSON *pj, const char *where, double **out, size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(pj, "values");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(pj, "range");
    if ((v != NULL) == (r != NULL))
        return bad(c, "'%s' needs exactly one of \"values\" and \"range\"", where);
    if (v) {
        size_t len = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 0;
        if (len == 0)
            return bad(c, "'%s.values' must be a non-empty array of numbers", where);
        *out = malloc(len * sizeof **out);
        size_t k = 0;
        for (const cJSON *it = v->child; it; it = it->next, k++) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
                free(*out);
                *out = NULL;            /* the caller frees every list */
                return bad(c, "'%s.values[%zu]' must be a finite number", where, k);
            }
            (*out)[k] = it->valuedouble;
        }
        *n = len;
        return 0;
    }
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(r, "from");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(r, "to");
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(r, "count");
    if (!cJSON_IsObject(r) || !cJSON_IsNumber(from) || !cJSON_IsNumber(to) ||
        !cJSON_IsNumber(cnt) || cnt->valuedouble < 1 || cnt->valuedouble > 1e6 ||
        cnt->valuedouble != floor(cnt->valuedouble))
        return bad(c, "'%s.range' must be {\"from\": a, \"to\": b, \"count\": n >= 1}", where);
    *n = (size_t)cnt->valuedouble;
    *out = malloc(*n * sizeof **out);
    for (size_t k = 0; k < *n; k++)
        (*out)[k] = *n == 1 ? from->valuedouble
                            : from->valuedouble + (to->valuedouble - from->valuedouble) *
                                                      (double)k / (double)(*n - 1);
    return 0;
}

/* "name": "model.<parameter>" or "coupling.<parameter>", one the simulator
 * knows. */
static int param_name(pctx *c, const vbt_sim_config *job, const cJSON *pj, const char *where,
                      vbt_sweep_param *sp)
{
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(pj, "name");
    if (!cJSON_IsString(nj))
        return bad(c, "'%s.name' must be \"model.<parameter>\" or \"coupling.<parameter>\"",
                   where);
    const char *full = nj->valuestring, *dot = strchr(full, '.');
    if (!dot || strlen(dot + 1) >= sizeof sp->name)
        return bad(c, "'%s.name' = '%s': expected \"model.<parameter>\" or "
                       "\"coupling.<parameter>\"", where, full);
    snprintf(sp->name, sizeof sp->name, "%s", dot + 1);
    sp->coupling = !strncmp(full, "coupling.", 9);
    if (!sp->coupling && strncmp(full, "model.", 6))
        return bad(c, "'%s.name' = '%s': expected \"model.<parameter>\" or "
                       "\"coupling.<parameter>\"", where, full);
    double *tmp = malloc(vbt_sim_n_lanes(job->sim) * sizeof *tmp);
    int found = sp->coupling ? vbt_sim_get_coupling_param(job->sim, sp->name, tmp)
                             : vbt_sim_get_model_param(job->sim, sp->name, tmp);
    free(tmp);
    if (found)
        return bad(c, "'%s.name': %s '%s' has no parameter '%s'", where,
                   sp->coupling ? "this coupling" : "model",
                   sp->coupling ? "" : vbt_sim_model(job->sim)->name, sp->name);
    return 0;
}

/* "regions": indices or labels (absent: every region). */
static int param_regions(pctx *c, const vbt_sim_config *job, const cJSON *pj,
                         const char *where, vbt_sweep_param *sp)
{
    vbt_sweep_plan *sw = c->plan;
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(pj, "regions");
    if (!rj)
        return 0;
    size_t len = cJSON_IsArray(rj) ? (size_t)cJSON_GetArraySize(rj) : 0;
    if (len == 0)
        return bad(c, "'%s.regions' must be a non-empty array of indices or labels", where);
    sp->regions = calloc(len, sizeof *sp->regions);
    sp->n_regions = len;
    size_t k = 0;
    for (const cJSON *it = rj->child; it; it = it->next, k++) {
        long idx = -1;
        if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) &&
            it->valuedouble >= 0 && it->valuedouble < (double)sw->n_regions)
            idx = (long)it->valuedouble;
        else if (cJSON_IsString(it))
            idx = vbt_connectome_find_label(job->conn, it->valuestring);
        if (idx < 0)
            return bad(c, "'%s.regions[%zu]' is not a region index or label", where, k);
        sp->regions[k] = (size_t)idx;
    }
    return 0;
}

/* The values a parameter takes: vals[p] / nv[p] (grid, list) or the bounds
 * lo[p], hi[p] (random). */
typedef struct param_draws {
    double *vals[VBT_SWEEP_MAX_PARAMS];
    size_t nv[VBT_SWEEP_MAX_PARAMS];
    double lo[VBT_SWEEP_MAX_PARAMS], hi[VBT_SWEEP_MAX_PARAMS];
} param_draws;

/* sweep.parameters[p]. */
static int parse_param(pctx *c, const vbt_sim_config *job, const cJSON *pj, size_t p, int rnd,
                       param_draws *d)
{
    vbt_sweep_plan *sw = c->plan;
    static const char *const pkeys[] = {"name", "regions", "values", "range", "uniform", NULL};
    char where[64];
    snprintf(where, sizeof where, "sweep.parameters[%zu]", p);
    vbt_sweep_param *sp = &sw->par[p];
    if (!cJSON_IsObject(pj) || known_keys(c, pj, where, pkeys))
        return c->failed ? VBT_EINVAL : bad(c, "'%s' must be an object", where);
    if (param_name(c, job, pj, where, sp) || param_regions(c, job, pj, where, sp))
        return VBT_EINVAL;
    if (!rnd)
        return param_values(c, pj, where, &d->vals[p], &d->nv[p]);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(pj, "uniform");
    if (!cJSON_IsArray(u) || cJSON_GetArraySize(u) != 2 || !cJSON_IsNumber(u->child) ||
        !cJSON_IsNumber(u->child->next) ||
        !(u->child->valuedouble <= u->child->next->valuedouble))
        return bad(c, "'%s.uniform' must be [low, high] (random mode)", where);
    d->lo[p] = u->child->valuedouble;
    d->hi[p] = u->child->next->valuedouble;
    return 0;
}

/* The number of simulations: "samples" (random), the grid's size, or the
 * common length of the lists. */
static int count_sims(pctx *c, const cJSON *s, int grid, int rnd, const param_draws *d)
{
    vbt_sweep_plan *sw = c->plan;
    const size_t p = sw->n_params;
    if (rnd) {
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(s, "samples");
        if (!cJSON_IsNumber(sj) || sj->valuedouble < 1 || sj->valuedouble > 1e7 ||
            sj->valuedouble != floor(sj->valuedouble))
            return bad(c, "'sweep.samples' must be the number of random draws (1 to 1e7)");
        sw->n_sims = (size_t)sj->valuedouble;
    } else if (grid) {
        sw->n_sims = 1;
        for (size_t q = 0; q < p; q++) {
            if (sw->n_sims > 10000000 / d->nv[q])
                return bad(c, "the grid has more than 1e7 points");
            sw->n_sims *= d->nv[q];
        }
    } else {
        sw->n_sims = d->nv[0];
        for (size_t q = 1; q < p; q++)
            if (d->nv[q] != d->nv[0])
                return bad(c, "'sweep.parameters[%zu]' has %zu values, parameter 0 has %zu "
                               "(list mode pairs them)", q, d->nv[q], d->nv[0]);
    }
    return 0;
}

/* Each simulation's parameter values: sw->values[k * n_params + q]. */
static void fill_values(pctx *c, const vbt_sim_config *job, int list, int rnd,
                        const param_draws *d)
{
    vbt_sweep_plan *sw = c->plan;
    const size_t p = sw->n_params;
    sw->values = malloc(sw->n_sims * p * sizeof *sw->values);
    if (rnd) {
        /* Parameter draws come from streams of their own (2^63 + p), apart
         * from the simulations' noise streams. */
        for (size_t q = 0; q < p; q++) {
            vbt_rng r;
            double *u = malloc(sw->n_sims * sizeof *u);
            vbt_rng_init(&r, job->seed, ((uint64_t)1 << 63) + q);
            vbt_rng_uniform(&r, u, sw->n_sims);
            for (size_t k = 0; k < sw->n_sims; k++)
                sw->values[k * p + q] = d->lo[q] + (d->hi[q] - d->lo[q]) * u[k];
            free(u);
        }
        return;
    }
    for (size_t k = 0; k < sw->n_sims; k++) {
        size_t rem = k;
        for (size_t q = p; q-- > 0;) {      /* last parameter varies fastest */
            size_t idx = list ? k : rem % d->nv[q];
            rem = list ? rem : rem / d->nv[q];
            sw->values[k * p + q] = d->vals[q][idx];
        }
    }
}

/* "mode", "batch", "parameters", "samples": the simulations to run. */
static int parse_simulations(pctx *c, const vbt_sim_config *job, const cJSON *s)
{
    vbt_sweep_plan *sw = c->plan;
    const cJSON *mode_j = cJSON_GetObjectItemCaseSensitive(s, "mode");
    const char *mode = cJSON_IsString(mode_j) ? mode_j->valuestring : mode_j ? "" : "grid";
    int grid = !strcmp(mode, "grid"), list = !strcmp(mode, "list"), rnd = !strcmp(mode, "random");
    if (!grid && !list && !rnd)
        return bad(c, "'sweep.mode' must be \"grid\", \"list\" or \"random\"");
    const cJSON *bj = cJSON_GetObjectItemCaseSensitive(s, "batch");
    sw->batch = 16;
    if (bj) {
        if (!cJSON_IsNumber(bj) || bj->valuedouble < 1 || bj->valuedouble > 4096 ||
            bj->valuedouble != floor(bj->valuedouble))
            return bad(c, "'sweep.batch' must be an integer in [1, 4096]");
        sw->batch = (size_t)bj->valuedouble;
    }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(s, "parameters");
    if (!cJSON_IsArray(ps) || cJSON_GetArraySize(ps) == 0 ||
        cJSON_GetArraySize(ps) > VBT_SWEEP_MAX_PARAMS)
        return bad(c, "'sweep.parameters' must be an array of 1 to %d parameters", VBT_SWEEP_MAX_PARAMS);
    param_draws d;
    memset(&d, 0, sizeof d);
    size_t p = 0;
    int st = 0;
    for (const cJSON *pj = ps->child; pj && !st; pj = pj->next, p++)
        if ((st = parse_param(c, job, pj, p, rnd, &d)))
            break;
    sw->n_params = p;
    if (!st && !(st = count_sims(c, s, grid, rnd, &d)))
        fill_values(c, job, list, rnd, &d);
    for (size_t q = 0; q < VBT_SWEEP_MAX_PARAMS; q++)
        free(d.vals[q]);
    return st;
}

/* "monitor": the region-space monitor the summaries read (default raw). */
static int parse_monitor(pctx *c, const cJSON *s)
{
    vbt_sweep_plan *sw = c->plan;
    static const char *const mkeys[] = {"kind", "period_ms", NULL};
    sw->mon_type = vbt_monitor_raw;
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(s, "monitor");
    if (!mj)
        return 0;
    if (!cJSON_IsObject(mj) || known_keys(c, mj, "sweep.monitor", mkeys))
        return c->failed ? VBT_EINVAL : bad(c, "'sweep.monitor' must be an object");
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(mj, "kind");
    sw->mon_type = cJSON_IsString(kj) ? vbt_monitor_find(kj->valuestring) : NULL;
    /* Summaries are taken per region: the region-space monitors only. */
    if (sw->mon_type && sw->mon_type != vbt_monitor_raw &&
        sw->mon_type != vbt_monitor_subsample && sw->mon_type != vbt_monitor_temporal_average)
        sw->mon_type = NULL;
    if (!sw->mon_type)
        return bad(c, "'sweep.monitor.kind' must be raw, subsample or temporal_average");
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(mj, "period_ms");
    if (sw->mon_type->uses_period && !cJSON_IsNumber(pj))
        return bad(c, "'sweep.monitor.period_ms' is required for '%s'", sw->mon_type->name);
    sw->mon_period = pj && cJSON_IsNumber(pj) ? pj->valuedouble : 0.0;
    return 0;
}

/* sweep.summaries[q] into sw->sum[q]; its variable joins sw->vars. */
static int parse_summary(pctx *c, const vbt_model_type *m, const cJSON *sj, size_t q)
{
    vbt_sweep_plan *sw = c->plan;
    static const char *const skeys[] = {"kind", "variable", "threshold", "direction", NULL};
    char where[64];
    snprintf(where, sizeof where, "sweep.summaries[%zu]", q);
    if (!cJSON_IsObject(sj))
        return bad(c, "'%s' must be an object", where);
    if (known_keys(c, sj, where, skeys))
        return VBT_EINVAL;
    vbt_sweep_summary *su = &sw->sum[q];
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(sj, "kind");
    size_t kind = 0;
    while (kind < 6 && !(cJSON_IsString(kj) && !strcmp(kj->valuestring, sum_names[kind])))
        kind++;
    if (kind == 6)
        return bad(c, "'%s.kind' must be mean, variance, min, max, time_above or onset", where);
    su->kind = (vbt_sweep_kind)kind;
    const cJSON *vj = cJSON_GetObjectItemCaseSensitive(sj, "variable");
    const char *var = cJSON_IsString(vj) ? vj->valuestring : m->observed[0];
    vbt_observable obs;
    vbt_msg msg;
    if (vbt_observable_parse(m, var, &obs, &msg))
        return bad(c, "'%s.variable': %s", where, msg.text);
    size_t vi = 0;
    while (vi < sw->n_vars && strcmp(sw->vars[vi], var) != 0)
        vi++;
    if (vi == sw->n_vars) {
        sw->vars[sw->n_vars] = strdup(var);
        if (!sw->vars[sw->n_vars])
            return vbt__fail(c->msg, VBT_ENOMEM, "'%s': out of memory", c->config);
        sw->n_vars++;
    }
    su->var = vi;
    if (su->kind != VBT_SWEEP_TIME_ABOVE && su->kind != VBT_SWEEP_ONSET) {
        snprintf(su->label, sizeof su->label, "%s(%s)", sum_names[kind], var);
        return 0;
    }
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(sj, "threshold");
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(sj, "direction");
    if (!cJSON_IsNumber(tj))
        return bad(c, "'%s.threshold' is required for %s", where, sum_names[kind]);
    su->threshold = tj->valuedouble;
    su->below = cJSON_IsString(dj) && !strcmp(dj->valuestring, "below");
    if (dj && !(cJSON_IsString(dj) && (!strcmp(dj->valuestring, "below") ||
                                       !strcmp(dj->valuestring, "above"))))
        return bad(c, "'%s.direction' must be \"above\" or \"below\"", where);
    snprintf(su->label, sizeof su->label, "%s(%s %s %g)", sum_names[kind], var,
             su->below ? "<" : ">", su->threshold);
    return 0;
}

/* The "sweep" section (docs/sweep.md). */
static int parse_sweep(pctx *c, const vbt_sim_config *job)
{
    vbt_sweep_plan *sw = c->plan;
    static const char *const keys[] = {"mode", "samples", "parameters", "batch", "summaries",
                                       "monitor", NULL};
    const cJSON *s = job->sweep;
    if (!cJSON_IsObject(s))
        return bad(c, "'sweep' must be an object");
    if (known_keys(c, s, "sweep", keys) || parse_simulations(c, job, s) ||
        parse_monitor(c, s))
        return VBT_EINVAL;
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(s, "summaries");
    if (!cJSON_IsArray(ss) || cJSON_GetArraySize(ss) == 0 ||
        cJSON_GetArraySize(ss) > VBT_SWEEP_MAX_SUMMARIES)
        return bad(c, "'sweep.summaries' must be an array of 1 to %d summaries",
                   VBT_SWEEP_MAX_SUMMARIES);
    size_t q = 0;
    for (const cJSON *sj = ss->child; sj; sj = sj->next, q++)
        if (parse_summary(c, vbt_sim_model(job->sim), sj, q))
            return VBT_EINVAL;
    sw->n_sum = q;
    return 0;
}


int vbt_sweep_plan_load(vbt_sweep_plan *plan, const vbt_sim_config *cfg, vbt_msg *msg)
{
    if (!plan || !cfg || !cfg->sim || !cfg->conn || !cfg->config_path)
        return vbt__fail(msg, VBT_EINVAL, "sweep: NULL or unloaded configuration");
    memset(plan, 0, sizeof *plan);
    plan->n_regions = cfg->conn->n;
    pctx c = {plan, cfg->config_path, msg, 0};
    int st = parse_sweep(&c, cfg);
    if (st)
        vbt_sweep_plan_clear(plan);
    return st;
}

void vbt_sweep_plan_clear(vbt_sweep_plan *plan)
{
    if (!plan)
        return;
    for (size_t q = 0; q < VBT_SWEEP_MAX_PARAMS; q++)
        free(plan->par[q].regions);
    for (size_t v = 0; v < VBT_SWEEP_MAX_SUMMARIES; v++)
        free(plan->vars[v]);
    free(plan->values);
    memset(plan, 0, sizeof *plan);
}

void vbt_sweep_plan_apply(const vbt_sweep_plan *plan, vbt_sim *sim, size_t b, size_t k,
                          double *buf)
{
    const size_t n = plan->n_regions, B = vbt_sim_batch(sim);
    for (size_t q = 0; q < plan->n_params; q++) {
        const vbt_sweep_param *sp = &plan->par[q];
        double v = plan->values[k * plan->n_params + q];
        if (!sp->n_regions) {
            if (sp->coupling)
                vbt_sim_set_coupling_param_of(sim, b, sp->name, &v, 1);
            else
                vbt_sim_set_model_param_of(sim, b, sp->name, &v, 1);
            continue;
        }
        /* Regions listed get v; the others keep the configured value. */
        if (sp->coupling)
            vbt_sim_get_coupling_param(sim, sp->name, buf);
        else
            vbt_sim_get_model_param(sim, sp->name, buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = buf[i * B + b];
        for (size_t r = 0; r < sp->n_regions; r++)
            buf[sp->regions[r]] = v;
        if (sp->coupling)
            vbt_sim_set_coupling_param_of(sim, b, sp->name, buf, n);
        else
            vbt_sim_set_model_param_of(sim, b, sp->name, buf, n);
    }
}

const char *vbt_sweep_kind_name(vbt_sweep_kind kind)
{
    return (unsigned)kind < sizeof sum_names / sizeof sum_names[0] ? sum_names[kind] : NULL;
}

void vbt_sweep_acc_update(const vbt_sweep_summary *su, vbt_sweep_acc *a, size_t n,
                          const double *x, double t_ms, double period_ms)
{
    for (size_t l = 0; l < n; l++) {
        double v = x[l];
        int hit = su->below ? v < su->threshold : v > su->threshold;
        switch (su->kind) {
        case VBT_SWEEP_MEAN:
        case VBT_SWEEP_VARIANCE: {  /* Welford */
            a[l].count += 1.0;
            double delta = v - a[l].a;
            a[l].a += delta / a[l].count;
            a[l].b += delta * (v - a[l].a);
            break;
        }
        case VBT_SWEEP_MIN:
            a[l].a = a[l].count == 0.0 || v < a[l].a ? v : a[l].a;
            a[l].count = 1.0;
            break;
        case VBT_SWEEP_MAX:
            a[l].a = a[l].count == 0.0 || v > a[l].a ? v : a[l].a;
            a[l].count = 1.0;
            break;
        case VBT_SWEEP_TIME_ABOVE:
            a[l].a += hit ? period_ms : 0.0;
            break;
        case VBT_SWEEP_ONSET:
            if (hit && a[l].count == 0.0) {
                a[l].a = t_ms;
                a[l].count = 1.0;
            }
            break;
        }
    }
}

double vbt_sweep_acc_value(const vbt_sweep_summary *su, const vbt_sweep_acc *a)
{
    switch (su->kind) {
    case VBT_SWEEP_VARIANCE:
        return a->count > 1.0 ? a->b / (a->count - 1.0) : 0.0;
    case VBT_SWEEP_ONSET:
        return a->count > 0.0 ? a->a : NAN;
    default:
        return a->a;
    }
}
