/* cmd_sweep.c -- `vbt sweep CONFIG.json -o OUTDIR`: many simulations that
 * differ in parameters, run in batches side by side and on threads, each
 * reduced to per-region summaries written as one table.
 *
 * Every simulation k draws its noise from stream k of the seed and runs in
 * a batch of the same size, so its numbers do not depend on the number of
 * threads or its position in a batch. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "cli.h"
#include "strbuf.h"
#include "sim_job.h"
#include "vbt_rng.h"

#define CHUNK_STEPS 2048
#define MAX_PARAMS 16
#define MAX_SUMMARIES 16

static const cli_argument args[] = {
    {"CONFIG", CLI_FILE_IN,
     "a `vbt simulate` configuration with a \"sweep\" section (docs/sweep.md)"},
};

static const cli_option opts[] = {
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",
     .doc = "output directory (created; its parent must exist)", .required = 1},
};

typedef enum { SUM_MEAN, SUM_VARIANCE, SUM_MIN, SUM_MAX, SUM_TIME, SUM_ONSET } sum_kind;
static const char *const sum_names[] = {"mean", "variance", "min", "max", "time_above",
                                        "onset"};

typedef struct summary {
    sum_kind kind;
    size_t var;                 /* index into the monitor's variables */
    double threshold;
    int below;                  /* direction: 1 counts values below the threshold */
    char label[96];
} summary;

typedef struct sweep_param {
    char name[64];              /* "x0" */
    int coupling;               /* 0: model parameter, 1: coupling parameter */
    size_t n_regions;           /* 0: every region */
    size_t *regions;
} sweep_param;

typedef struct sweep {
    sim_job_opts jo;
    const char *config;
    size_t n_params, n_sims, batch, n_sum, n_vars;
    sweep_param par[MAX_PARAMS];
    double *values;             /* n_sims * n_params */
    summary sum[MAX_SUMMARIES];
    const char *vars[MAX_SUMMARIES];
    const vbt_monitor_type *mon_type;
    double mon_period;
    size_t n_regions;
    double *table;              /* n_sims * n_sum * n_regions */
    char err[1024];
    atomic_size_t next_batch, done_sims;
    atomic_int failed;
    pthread_mutex_t err_lock;
} sweep;

/* ---- configuration -------------------------------------------------------- */

static int bad(sweep *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(sweep *sw, const char *fmt, ...)
{
    char buf[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    snprintf(sw->err, sizeof sw->err, "'%s': %s", sw->config, buf);
    return -1;
}

static int known_keys(sweep *sw, const cJSON *o, const char *where, const char *const *keys)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (size_t i = 0; keys[i]; i++)
            ok |= strcmp(it->string, keys[i]) == 0;
        if (!ok)
            return bad(sw, "unknown key '%s.%s'", where, it->string);
    }
    return 0;
}

/* Values of one parameter for grid and list modes: "values" or "range". */
static int param_values(sweep *sw, const cJSON *pj, const char *where, double **out, size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(pj, "values");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(pj, "range");
    if ((v != NULL) == (r != NULL))
        return bad(sw, "'%s' needs exactly one of \"values\" and \"range\"", where);
    if (v) {
        size_t len = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 0;
        if (len == 0)
            return bad(sw, "'%s.values' must be a non-empty array of numbers", where);
        *out = malloc(len * sizeof **out);
        size_t k = 0;
        for (const cJSON *it = v->child; it; it = it->next, k++) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
                free(*out);
                return bad(sw, "'%s.values[%zu]' must be a finite number", where, k);
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
        return bad(sw, "'%s.range' must be {\"from\": a, \"to\": b, \"count\": n >= 1}", where);
    *n = (size_t)cnt->valuedouble;
    *out = malloc(*n * sizeof **out);
    for (size_t k = 0; k < *n; k++)
        (*out)[k] = *n == 1 ? from->valuedouble
                            : from->valuedouble + (to->valuedouble - from->valuedouble) *
                                                      (double)k / (double)(*n - 1);
    return 0;
}

static int parse_sweep(sweep *sw, const sim_job *job)
{
    static const char *const keys[] = {"mode", "samples", "parameters", "batch", "summaries",
                                       "monitor", NULL};
    static const char *const pkeys[] = {"name", "regions", "values", "range", "uniform", NULL};
    static const char *const skeys[] = {"kind", "variable", "threshold", "direction", NULL};
    static const char *const mkeys[] = {"kind", "period_ms", NULL};
    const cJSON *s = job->sweep;
    if (!cJSON_IsObject(s))
        return bad(sw, "'sweep' must be an object");
    if (known_keys(sw, s, "sweep", keys))
        return -1;
    const cJSON *mode_j = cJSON_GetObjectItemCaseSensitive(s, "mode");
    const char *mode = cJSON_IsString(mode_j) ? mode_j->valuestring : mode_j ? "" : "grid";
    int grid = !strcmp(mode, "grid"), list = !strcmp(mode, "list"), rnd = !strcmp(mode, "random");
    if (!grid && !list && !rnd)
        return bad(sw, "'sweep.mode' must be \"grid\", \"list\" or \"random\"");
    const cJSON *bj = cJSON_GetObjectItemCaseSensitive(s, "batch");
    sw->batch = 16;
    if (bj) {
        if (!cJSON_IsNumber(bj) || bj->valuedouble < 1 || bj->valuedouble > 4096 ||
            bj->valuedouble != floor(bj->valuedouble))
            return bad(sw, "'sweep.batch' must be an integer in [1, 4096]");
        sw->batch = (size_t)bj->valuedouble;
    }
    /* parameters */
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(s, "parameters");
    if (!cJSON_IsArray(ps) || cJSON_GetArraySize(ps) == 0 ||
        cJSON_GetArraySize(ps) > MAX_PARAMS)
        return bad(sw, "'sweep.parameters' must be an array of 1 to %d parameters", MAX_PARAMS);
    double *vals[MAX_PARAMS] = {0};
    size_t nv[MAX_PARAMS] = {0};
    double lo[MAX_PARAMS], hi[MAX_PARAMS];
    const vbt_model_type *m = vbt_sim_model(job->sim);
    size_t p = 0;
    int st = 0;
    for (const cJSON *pj = ps->child; pj && !st; pj = pj->next, p++) {
        char where[64];
        snprintf(where, sizeof where, "sweep.parameters[%zu]", p);
        sweep_param *sp = &sw->par[p];
        const cJSON *nj = cJSON_GetObjectItemCaseSensitive(pj, "name");
        if (!cJSON_IsObject(pj) || known_keys(sw, pj, where, pkeys)) {
            st = sw->err[0] ? -1 : bad(sw, "'%s' must be an object", where);
            break;
        }
        if (!cJSON_IsString(nj)) {
            st = bad(sw, "'%s.name' must be \"model.<parameter>\" or \"coupling.<parameter>\"",
                     where);
            break;
        }
        const char *full = nj->valuestring, *dot = strchr(full, '.');
        if (!dot || strlen(dot + 1) >= sizeof sp->name) {
            st = bad(sw, "'%s.name' = '%s': expected \"model.<parameter>\" or "
                         "\"coupling.<parameter>\"", where, full);
            break;
        }
        snprintf(sp->name, sizeof sp->name, "%s", dot + 1);
        sp->coupling = !strncmp(full, "coupling.", 9);
        if (!sp->coupling && strncmp(full, "model.", 6)) {
            st = bad(sw, "'%s.name' = '%s': expected \"model.<parameter>\" or "
                         "\"coupling.<parameter>\"", where, full);
            break;
        }
        double probe = 0.0;
        double *tmp = malloc(vbt_sim_n_lanes(job->sim) * sizeof *tmp);
        int found = sp->coupling ? vbt_sim_get_coupling_param(job->sim, sp->name, tmp)
                                 : vbt_sim_get_model_param(job->sim, sp->name, tmp);
        free(tmp);
        (void)probe;
        if (found) {
            st = bad(sw, "'%s.name': %s '%s' has no parameter '%s'", where,
                     sp->coupling ? "this coupling" : "model", sp->coupling ? "" : m->name,
                     sp->name);
            break;
        }
        const cJSON *rj = cJSON_GetObjectItemCaseSensitive(pj, "regions");
        if (rj) {
            size_t len = cJSON_IsArray(rj) ? (size_t)cJSON_GetArraySize(rj) : 0;
            if (len == 0) {
                st = bad(sw, "'%s.regions' must be a non-empty array of indices or labels", where);
                break;
            }
            sp->regions = calloc(len, sizeof *sp->regions);
            sp->n_regions = len;
            size_t k = 0;
            for (const cJSON *it = rj->child; it && !st; it = it->next, k++) {
                long idx = -1;
                if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) &&
                    it->valuedouble >= 0 && it->valuedouble < (double)sw->n_regions)
                    idx = (long)it->valuedouble;
                else if (cJSON_IsString(it))
                    idx = vbt_connectome_find_label(job->conn, it->valuestring);
                if (idx < 0)
                    st = bad(sw, "'%s.regions[%zu]' is not a region index or label", where, k);
                else
                    sp->regions[k] = (size_t)idx;
            }
            if (st)
                break;
        }
        if (rnd) {
            const cJSON *u = cJSON_GetObjectItemCaseSensitive(pj, "uniform");
            if (!cJSON_IsArray(u) || cJSON_GetArraySize(u) != 2 ||
                !cJSON_IsNumber(u->child) || !cJSON_IsNumber(u->child->next) ||
                !(u->child->valuedouble <= u->child->next->valuedouble)) {
                st = bad(sw, "'%s.uniform' must be [low, high] (random mode)", where);
                break;
            }
            lo[p] = u->child->valuedouble;
            hi[p] = u->child->next->valuedouble;
        } else if ((st = param_values(sw, pj, where, &vals[p], &nv[p]))) {
            break;
        }
    }
    sw->n_params = p;
    if (!st) {
        /* the simulations */
        if (rnd) {
            const cJSON *sj = cJSON_GetObjectItemCaseSensitive(s, "samples");
            if (!cJSON_IsNumber(sj) || sj->valuedouble < 1 || sj->valuedouble > 1e7 ||
                sj->valuedouble != floor(sj->valuedouble))
                st = bad(sw, "'sweep.samples' must be the number of random draws (1 to 1e7)");
            else
                sw->n_sims = (size_t)sj->valuedouble;
        } else if (grid) {
            sw->n_sims = 1;
            for (size_t q = 0; q < p && !st; q++) {
                if (sw->n_sims > 10000000 / nv[q])
                    st = bad(sw, "the grid has more than 1e7 points");
                sw->n_sims *= nv[q];
            }
        } else {
            sw->n_sims = nv[0];
            for (size_t q = 1; q < p && !st; q++)
                if (nv[q] != nv[0])
                    st = bad(sw, "'sweep.parameters[%zu]' has %zu values, parameter 0 has %zu "
                                 "(list mode pairs them)", q, nv[q], nv[0]);
        }
    }
    if (!st) {
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
                    sw->values[k * p + q] = lo[q] + (hi[q] - lo[q]) * u[k];
                free(u);
            }
        } else {
            for (size_t k = 0; k < sw->n_sims; k++) {
                size_t rem = k;
                for (size_t q = p; q-- > 0;) {      /* last parameter varies fastest */
                    size_t idx = list ? k : rem % nv[q];
                    rem = list ? rem : rem / nv[q];
                    sw->values[k * p + q] = vals[q][idx];
                }
            }
        }
    }
    for (size_t q = 0; q < MAX_PARAMS; q++)
        free(vals[q]);
    if (st)
        return st;

    /* the monitor the summaries read */
    sw->mon_type = vbt_monitor_raw;
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(s, "monitor");
    if (mj) {
        if (!cJSON_IsObject(mj) || known_keys(sw, mj, "sweep.monitor", mkeys))
            return sw->err[0] ? -1 : bad(sw, "'sweep.monitor' must be an object");
        const cJSON *kj = cJSON_GetObjectItemCaseSensitive(mj, "kind");
        sw->mon_type = cJSON_IsString(kj) ? vbt_monitor_find(kj->valuestring) : NULL;
        /* Summaries are taken per region: the region-space monitors only. */
        if (sw->mon_type && sw->mon_type != vbt_monitor_raw &&
            sw->mon_type != vbt_monitor_subsample && sw->mon_type != vbt_monitor_temporal_average)
            sw->mon_type = NULL;
        if (!sw->mon_type)
            return bad(sw, "'sweep.monitor.kind' must be raw, subsample or temporal_average");
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(mj, "period_ms");
        if (sw->mon_type->uses_period && !cJSON_IsNumber(pj))
            return bad(sw, "'sweep.monitor.period_ms' is required for '%s'",
                       sw->mon_type->name);
        sw->mon_period = pj && cJSON_IsNumber(pj) ? pj->valuedouble : 0.0;
    }
    /* summaries */
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(s, "summaries");
    if (!cJSON_IsArray(ss) || cJSON_GetArraySize(ss) == 0 ||
        cJSON_GetArraySize(ss) > MAX_SUMMARIES)
        return bad(sw, "'sweep.summaries' must be an array of 1 to %d summaries",
                   MAX_SUMMARIES);
    size_t q = 0;
    for (const cJSON *sj = ss->child; sj; sj = sj->next, q++) {
        char where[64];
        snprintf(where, sizeof where, "sweep.summaries[%zu]", q);
        if (!cJSON_IsObject(sj))
            return bad(sw, "'%s' must be an object", where);
        if (known_keys(sw, sj, where, skeys))
            return -1;
        summary *su = &sw->sum[q];
        const cJSON *kj = cJSON_GetObjectItemCaseSensitive(sj, "kind");
        size_t kind = 0;
        while (kind < 6 && !(cJSON_IsString(kj) && !strcmp(kj->valuestring, sum_names[kind])))
            kind++;
        if (kind == 6)
            return bad(sw, "'%s.kind' must be mean, variance, min, max, time_above or onset",
                       where);
        su->kind = (sum_kind)kind;
        const cJSON *vj = cJSON_GetObjectItemCaseSensitive(sj, "variable");
        const char *var = cJSON_IsString(vj) ? vj->valuestring : m->observed[0];
        vbt_observable obs;
        vbt_msg msg;
        if (vbt_observable_parse(m, var, &obs, &msg))
            return bad(sw, "'%s.variable': %s", where, msg.text);
        size_t vi = 0;
        while (vi < sw->n_vars && strcmp(sw->vars[vi], var) != 0)
            vi++;
        if (vi == sw->n_vars)
            sw->vars[sw->n_vars++] = var;
        su->var = vi;
        if (su->kind == SUM_TIME || su->kind == SUM_ONSET) {
            const cJSON *tj = cJSON_GetObjectItemCaseSensitive(sj, "threshold");
            const cJSON *dj = cJSON_GetObjectItemCaseSensitive(sj, "direction");
            if (!cJSON_IsNumber(tj))
                return bad(sw, "'%s.threshold' is required for %s", where, sum_names[kind]);
            su->threshold = tj->valuedouble;
            su->below = cJSON_IsString(dj) && !strcmp(dj->valuestring, "below");
            if (dj && !(cJSON_IsString(dj) && (!strcmp(dj->valuestring, "below") ||
                                               !strcmp(dj->valuestring, "above"))))
                return bad(sw, "'%s.direction' must be \"above\" or \"below\"", where);
            snprintf(su->label, sizeof su->label, "%s(%s %s %g)", sum_names[kind], var,
                     su->below ? "<" : ">", su->threshold);
        } else {
            snprintf(su->label, sizeof su->label, "%s(%s)", sum_names[kind], var);
        }
    }
    sw->n_sum = q;
    return 0;
}

/* ---- running ---------------------------------------------------------------- */

typedef struct acc {
    double a, b;                /* running values (mean/M2, min, max, count, onset) */
    double count;
} acc;

static void apply_params(sweep *sw, vbt_sim *sim, size_t b, size_t k, double *buf)
{
    const size_t n = sw->n_regions, B = vbt_sim_batch(sim);
    for (size_t q = 0; q < sw->n_params; q++) {
        const sweep_param *sp = &sw->par[q];
        double v = sw->values[k * sw->n_params + q];
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

static void worker_fail(sweep *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void worker_fail(sweep *sw, const char *fmt, ...)
{
    pthread_mutex_lock(&sw->err_lock);
    if (!atomic_load(&sw->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sw->err, sizeof sw->err, fmt, ap);
        va_end(ap);
        atomic_store(&sw->failed, 1);
    }
    pthread_mutex_unlock(&sw->err_lock);
}

static void *worker(void *arg)
{
    sweep *sw = arg;
    sim_job job;
    char err[1024];
    sim_job_opts jo = sw->jo;
    jo.batch = sw->batch;
    if (sim_job_load(&job, sw->config, &jo, err, sizeof err)) {
        worker_fail(sw, "%s", err);
        sim_job_free(&job);
        return NULL;
    }
    const size_t n = sw->n_regions, B = sw->batch, L = n * B;
    vbt_monitor_spec ms = {.type = sw->mon_type, .period_ms = sw->mon_period,
                           .n_vars = sw->n_vars, .vars = sw->vars, .buffer_steps = CHUNK_STEPS};
    size_t mi;
    double *buf = malloc(L * sizeof *buf);
    acc *ac = malloc(sw->n_sum * L * sizeof *ac);
    if (!buf || !ac || vbt_sim_add_monitor(job.sim, &ms, &mi)) {
        worker_fail(sw, "'%s': sweep.monitor: %s", sw->config,
                    buf && ac ? vbt_sim_errmsg(job.sim) : "out of memory");
        goto out;
    }
    const size_t n_batches = (sw->n_sims + B - 1) / B;
    for (;;) {
        size_t bi = atomic_fetch_add(&sw->next_batch, 1);
        if (bi >= n_batches || atomic_load(&sw->failed) || cli_interrupted)
            break;
        /* Every batch has B lanes; a short last batch repeats its first
         * simulation in the unused lanes, so all batches are alike. */
        for (size_t b = 0; b < B; b++) {
            size_t k = bi * B + b < sw->n_sims ? bi * B + b : bi * B;
            apply_params(sw, job.sim, b, k, buf);
        }
        vbt_sim_set_seed(job.sim, job.seed, bi * B);
        for (size_t i = 0; i < sw->n_sum * L; i++)
            ac[i] = (acc){0.0, 0.0, 0.0};
        for (uint64_t done = 0; done < job.n_steps;) {
            uint64_t chunk = job.n_steps - done < CHUNK_STEPS ? job.n_steps - done : CHUNK_STEPS;
            if (vbt_sim_run(job.sim, chunk)) {
                worker_fail(sw, "'%s': simulation %zu: %s", sw->config, bi * B,
                            vbt_sim_errmsg(job.sim));
                goto out;
            }
            done += chunk;
            size_t T;
            const double *times;
            const double *d = vbt_sim_monitor_data(job.sim, mi, &T, &times);
            for (size_t q = 0; q < sw->n_sum; q++) {
                const summary *su = &sw->sum[q];
                acc *a = ac + q * L;
                for (size_t t = 0; t < T; t++) {
                    const double *row = d + (t * sw->n_vars + su->var) * L;
                    for (size_t l = 0; l < L; l++) {
                        double x = row[l];
                        int hit = su->below ? x < su->threshold : x > su->threshold;
                        switch (su->kind) {
                        case SUM_MEAN:
                        case SUM_VARIANCE: {    /* Welford */
                            a[l].count += 1.0;
                            double delta = x - a[l].a;
                            a[l].a += delta / a[l].count;
                            a[l].b += delta * (x - a[l].a);
                            break;
                        }
                        case SUM_MIN:
                            a[l].a = a[l].count == 0.0 || x < a[l].a ? x : a[l].a;
                            a[l].count = 1.0;
                            break;
                        case SUM_MAX:
                            a[l].a = a[l].count == 0.0 || x > a[l].a ? x : a[l].a;
                            a[l].count = 1.0;
                            break;
                        case SUM_TIME:
                            a[l].a += hit ? vbt_sim_monitor_period(job.sim, mi) : 0.0;
                            break;
                        case SUM_ONSET:
                            if (hit && a[l].count == 0.0) {
                                a[l].a = times[t];
                                a[l].count = 1.0;
                            }
                            break;
                        }
                    }
                }
            }
            vbt_sim_monitor_clear(job.sim, mi);
        }
        for (size_t b = 0; b < B && bi * B + b < sw->n_sims; b++) {
            size_t k = bi * B + b;
            for (size_t q = 0; q < sw->n_sum; q++)
                for (size_t i = 0; i < n; i++) {
                    const acc *a = ac + q * L + i * B + b;
                    double v;
                    switch (sw->sum[q].kind) {
                    case SUM_VARIANCE:
                        v = a->count > 1.0 ? a->b / (a->count - 1.0) : 0.0;
                        break;
                    case SUM_ONSET:
                        v = a->count > 0.0 ? a->a : NAN;
                        break;
                    default:
                        v = a->a;
                    }
                    sw->table[(k * sw->n_sum + q) * n + i] = v;
                }
            atomic_fetch_add(&sw->done_sims, 1);
        }
    }
out:
    free(buf);
    free(ac);
    sim_job_free(&job);
    return NULL;
}

/* ---- outputs ------------------------------------------------------------------ */

static int write_outputs(sweep *sw, const sim_job *job, vbt_outdir *od, const cli_parsed *p,
                         double wall, vbt_msg *msg)
{
    const size_t n = sw->n_regions, ncol = 1 + sw->n_params + sw->n_sum * n;
    char path[4096];
    double *rows = malloc(sw->n_sims * ncol * sizeof *rows);
    if (!rows) {
        snprintf(msg->text, sizeof msg->text, "out of memory for the table");
        return 1;
    }
    for (size_t k = 0; k < sw->n_sims; k++) {
        double *r = rows + k * ncol;
        r[0] = (double)k;
        for (size_t q = 0; q < sw->n_params; q++)
            r[1 + q] = sw->values[k * sw->n_params + q];
        memcpy(r + 1 + sw->n_params, sw->table + k * sw->n_sum * n,
               sw->n_sum * n * sizeof *r);
    }
    size_t shape[2] = {sw->n_sims, ncol};
    int st = vbt_outdir_file(od, "table.npy", path, sizeof path) ||
             vbt_npy_write(path, rows, 2, shape, 0, msg);
    /* CSV: a header naming every column, then one row per simulation. */
    strbuf csv = {0};
    cJSON *cols = cJSON_CreateArray();
    sb_printf(&csv, "simulation");
    cJSON_AddItemToArray(cols, cJSON_CreateString("simulation"));
    for (size_t q = 0; q < sw->n_params; q++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s%s", sw->par[q].coupling ? "coupling" : "model",
                 sw->par[q].name, sw->par[q].n_regions ? "[regions]" : "");
        sb_printf(&csv, ",%s", name);
        cJSON_AddItemToArray(cols, cJSON_CreateString(name));
    }
    for (size_t q = 0; q < sw->n_sum; q++)
        for (size_t i = 0; i < n; i++) {
            char name[256];
            snprintf(name, sizeof name, "%s:%s", sw->sum[q].label, job->conn->labels[i]);
            sb_printf(&csv, ",\"%s\"", name);
            cJSON_AddItemToArray(cols, cJSON_CreateString(name));
        }
    sb_printf(&csv, "\n");
    for (size_t k = 0; k < sw->n_sims; k++) {
        for (size_t c = 0; c < ncol; c++)
            sb_printf(&csv, c ? ",%.17g" : "%.17g", rows[k * ncol + c]);
        sb_printf(&csv, "\n");
    }
    if (!st)
        st = sb_write(&csv, od, "table.csv", msg);
    free(csv.s);
    free(rows);

    cJSON *prov = cli_provenance_new(p);
    char err[1024];
    if (!st && (cli_provenance_add_input(prov, "config", sw->config, err, sizeof err) ||
                cli_provenance_add_input(prov, "connectome", job->connectome_path, err,
                                         sizeof err))) {
        snprintf(msg->text, sizeof msg->text, "%s", err);
        st = 1;
    }
    cJSON_AddNumberToObject(prov, "seed", (double)job->seed);
    cJSON_AddItemToObject(prov, "resolved_config", cJSON_Duplicate(job->resolved, 1));
    cJSON *o = cJSON_AddObjectToObject(prov, "outputs");
    cJSON_AddStringToObject(o, "table", "table.npy");
    cJSON_AddStringToObject(o, "table_csv", "table.csv");
    cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray((double[]){(double)sw->n_sims,
                                                                         (double)ncol}, 2));
    cJSON_AddItemToObject(o, "columns", cols);
    cJSON *t = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(t, "wall_s", wall);
    cJSON_AddNumberToObject(t, "threads", (double)p->common.threads);
    cJSON_AddNumberToObject(t, "batch", (double)sw->batch);
    cJSON_AddNumberToObject(t, "simulation_region_steps_per_s",
                            wall > 0 ? (double)sw->n_sims * (double)n * (double)job->n_steps / wall
                                     : 0.0);
    if (!st && cli_write_json(od, "run.json", prov, msg))
        st = 1;
    cJSON_Delete(prov);
    return st;
}

static void sweep_free(sweep *sw)
{
    for (size_t q = 0; q < MAX_PARAMS; q++)
        free(sw->par[q].regions);
    free(sw->values);
    free(sw->table);
    pthread_mutex_destroy(&sw->err_lock);
}

static int run(const cli_parsed *p)
{
    const char *outdir = cli_str(p, "output");
    sweep sw;
    memset(&sw, 0, sizeof sw);
    pthread_mutex_init(&sw.err_lock, NULL);
    sw.config = p->args[0];
    sw.jo = (sim_job_opts){.seed_override = p->common.seed_given ? (long long)p->common.seed
                                                                 : -1,
                           .buffer_steps = CHUNK_STEPS, .sweep = 1};
    /* One threaded pool of simulations: BLAS stays single-threaded. */
    openblas_set_num_threads(1);
    sim_job job;
    char err[1024];
    vbt_outdir *od = NULL;
    vbt_msg msg;
    int rc = CLI_ERROR;
    if (sim_job_load(&job, sw.config, &sw.jo, err, sizeof err)) {
        cli_error(p, "%s", err);
        sim_job_free(&job);
        sweep_free(&sw);
        return CLI_ERROR;
    }
    sw.n_regions = job.conn->n;
    if (parse_sweep(&sw, &job)) {
        cli_error(p, "%s", sw.err);
        goto out;
    }
    sw.table = calloc(sw.n_sims * sw.n_sum * sw.n_regions, sizeof *sw.table);
    if (!sw.table) {
        cli_error(p, "out of memory for %zu simulations", sw.n_sims);
        goto out;
    }
    if (sw.batch > sw.n_sims)
        sw.batch = sw.n_sims;
    if (vbt_outdir_begin(&od, outdir, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    cli_install_signal_handlers();
    size_t nt = (size_t)p->common.threads;
    pthread_t th[1024];
    double t0 = cli_now();
    size_t started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, worker, &sw) != 0)
            break;
    if (started == 0) {
        worker(&sw);
    } else {
        cli_progress pr;
        cli_progress_begin(&pr, p, "sweep");
        while (atomic_load(&sw.done_sims) < sw.n_sims && !atomic_load(&sw.failed) &&
               !cli_interrupted) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            char extra[64];
            snprintf(extra, sizeof extra, "%zu of %zu simulations", atomic_load(&sw.done_sims),
                     sw.n_sims);
            cli_progress_update(&pr, (double)atomic_load(&sw.done_sims) / (double)sw.n_sims,
                                extra);
        }
        for (size_t t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        cli_progress_end(&pr);
    }
    double wall = cli_now() - t0;
    if (atomic_load(&sw.failed)) {
        cli_error(p, "%s", sw.err);
        goto out;
    }
    if (cli_interrupted) {
        cli_error(p, "interrupted; nothing written");
        goto out;
    }
    if (write_outputs(&sw, &job, od, p, wall, &msg) || vbt_outdir_commit(od, &msg)) {
        od = NULL;
        cli_error(p, "%s", msg.text);
        goto out;
    }
    od = NULL;
    cli_info(p, "%zu simulations of %zu regions (%llu steps each) in %.2f s, %.2f M "
                "simulation-region-steps/s, %zu thread(s), batches of %zu",
             sw.n_sims, sw.n_regions, (unsigned long long)job.n_steps, wall,
             wall > 0 ? (double)sw.n_sims * (double)sw.n_regions * (double)job.n_steps / wall / 1e6
                      : 0.0,
             (size_t)p->common.threads, sw.batch);
    printf("outputs in %s: table.npy table.csv run.json\n", outdir);
    rc = CLI_OK;
out:
    vbt_outdir_abort(od);
    sim_job_free(&job);
    sweep_free(&sw);
    return rc;
}

const cli_command cli_cmd_sweep = {
    .name = "sweep",
    .synopsis = "run many simulations that differ in parameters and tabulate summaries",
    .description =
        "Runs the simulation of CONFIG (a `vbt simulate` configuration) for every point of "
        "its \"sweep\" section: a grid (every combination), a list (values paired "
        "position by position) or random draws (uniform in given ranges) of model or "
        "coupling parameters, for every region or chosen regions.  Simulations run in "
        "batches side by side (simulation index innermost, for the vectoriser) on "
        "--threads threads; simulation k uses noise stream k of the seed, so the results "
        "do not depend on the number of threads or the batch position.  Each simulation is "
        "reduced to per-region summaries (mean, variance, min, max, time above or below a "
        "threshold, onset time) of a monitor's variables, written as OUTDIR/table.npy and "
        "OUTDIR/table.csv (one row per simulation: its index, its parameter values, then "
        "every summary for every region) with OUTDIR/run.json.  The schema is in "
        "docs/sweep.md.",
    .args = args,
    .n_args = 1,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .run = run,
};
