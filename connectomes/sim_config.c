/* sim_config.c -- a simulation configuration (JSON) -> a planned simulator:
 * vbt_sim_config_load(), the schema of docs/simulate-config.md.
 *
 * Every key is checked: unknown keys, wrong types, sizes that disagree with
 * the connectome and out-of-range values are errors naming the file and the
 * key path ("model.region_params[1].regions[0]").  Relative paths are
 * resolved against the configuration file's directory first, then against
 * the current directory.  It lives in connectomes/ because a seeg or eeg
 * monitor reads its sensors with vbt_contacts_load(). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "internal.h"
#include "vbt_contacts.h"
#include "vbt_io.h"
#include "vbt_sim_config.h"

/* Error context: the file, the message and the status of the error. */
typedef struct ctx {
    const char *file;
    vbt_msg *msg;
    int status;
} ctx;

static int vfail_status(ctx *c, int status, const char *fmt, va_list ap)
{
    char buf[900];
    vsnprintf(buf, sizeof buf, fmt, ap);
    c->status = status;
    return vbt__fail(c->msg, status, "'%s': %s", c->file, buf);
}

/* A configuration error (VBT_EINVAL): "'<file>': <message>". */
static int fail(ctx *c, const char *fmt, ...) VBT_PRINTF(2, 3);
static int fail(ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = vfail_status(c, VBT_EINVAL, fmt, ap);
    va_end(ap);
    return st;
}

/* An error of another kind: the status of a failed call (VBT_EIO, ...). */
static int fail_status(ctx *c, int status, const char *fmt, ...) VBT_PRINTF(3, 4);
static int fail_status(ctx *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = vfail_status(c, status, fmt, ap);
    va_end(ap);
    return st;
}

static int oom(ctx *c)
{
    return fail_status(c, VBT_ENOMEM, "out of memory");
}

static const char *type_name(const cJSON *j)
{
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "invalid";
}

/* Refuse keys outside `allowed` and duplicated keys. */
static int check_keys(ctx *c, const cJSON *obj, const char *where,
                      const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(it->string, allowed[i]) == 0)
                ok = 1;
        if (!ok) {
            char list[512] = "";
            size_t len = 0;
            for (size_t i = 0; allowed[i] && len < sizeof list - 64; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                        allowed[i]);
            return fail(c, "unknown key '%s%s%s' (expected one of: %s)", where,
                        *where ? "." : "", it->string, list);
        }
        for (const cJSON *jt = it->next; jt; jt = jt->next)
            if (strcmp(it->string, jt->string) == 0)
                return fail(c, "duplicate key '%s%s%s'", where, *where ? "." : "",
                            it->string);
    }
    return 0;
}

static int get_number(ctx *c, const cJSON *obj, const char *key, const char *where,
                      int required, double def, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) {
        if (required)
            return fail(c, "missing key '%s%s%s'", where, *where ? "." : "", key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return fail(c, "'%s%s%s' must be a finite number, got %s", where, *where ? "." : "",
                    key, type_name(j));
    *out = j->valuedouble;
    return 0;
}

static int get_string(ctx *c, const cJSON *obj, const char *key, const char *where,
                      int required, const char *def, const char **out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) {
        if (required)
            return fail(c, "missing key '%s%s%s'", where, *where ? "." : "", key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsString(j))
        return fail(c, "'%s%s%s' must be a string, got %s", where, *where ? "." : "", key,
                    type_name(j));
    *out = j->valuestring;
    return 0;
}

static const cJSON *get_object(ctx *c, const cJSON *obj, const char *key, int required,
                               int *st)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    *st = 0;
    if (!j) {
        if (required)
            *st = fail(c, "missing key '%s'", key);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        *st = fail(c, "'%s' must be an object, got %s", key, type_name(j));
        return NULL;
    }
    return j;
}

/* Resolve a path from the configuration: next to the configuration file if
 * such a file exists there, else as given (relative to the working dir). */
static char *resolve_path(const char *config_path, const char *p)
{
    struct stat st;
    if (p[0] != '/') {
        const char *slash = strrchr(config_path, '/');
        if (slash) {
            size_t dl = (size_t)(slash - config_path);
            size_t len = dl + 1 + strlen(p) + 1;
            char *cand = malloc(len);
            if (!cand)
                return NULL;
            snprintf(cand, len, "%.*s/%s", (int)dl, config_path, p);
            if (stat(cand, &st) == 0)
                return cand;
            free(cand);
        }
    }
    return strdup(p);
}

/* A parameter value: a number, or an array of one number per region. */
static int param_values(ctx *c, const cJSON *j, const char *where, size_t n, double *buf,
                        size_t *count)
{
    if (cJSON_IsNumber(j)) {
        if (!isfinite(j->valuedouble))
            return fail(c, "'%s' must be finite", where);
        buf[0] = j->valuedouble;
        *count = 1;
        return 0;
    }
    if (!cJSON_IsArray(j))
        return fail(c, "'%s' must be a number or an array of %zu numbers (one per region), "
                       "got %s", where, n, type_name(j));
    size_t len = (size_t)cJSON_GetArraySize(j);
    if (len != n)
        return fail(c, "'%s' has %zu values, the connectome has %zu regions", where, len, n);
    size_t k = 0;
    for (const cJSON *it = j->child; it; it = it->next, k++) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
            return fail(c, "'%s[%zu]' must be a finite number, got %s", where, k,
                        type_name(it));
        buf[k] = it->valuedouble;
    }
    *count = n;
    return 0;
}

typedef int (*set_param_fn)(vbt_sim *, const char *, const double *, size_t);
typedef int (*get_param_fn)(const vbt_sim *, const char *, double *);

/* The per-region values of a parameter as configured (simulation 0 of a
 * batch): buf holds n_lanes doubles; the first n_regions are filled. */
static void base_values(const vbt_sim *sim, get_param_fn get, const char *name, double *buf)
{
    const size_t n = vbt_sim_n_regions(sim), B = vbt_sim_batch(sim);
    get(sim, name, buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = buf[i * B];
}

static int apply_params(ctx *c, vbt_sim *sim, const cJSON *params, const char *where,
                        const vbt_param_desc *desc, size_t np, set_param_fn set,
                        const char *owner, double *buf)
{
    if (!params)
        return 0;
    if (!cJSON_IsObject(params))
        return fail(c, "'%s' must be an object, got %s", where, type_name(params));
    size_t n = vbt_sim_n_regions(sim);
    for (const cJSON *it = params->child; it; it = it->next) {
        char key[160];
        snprintf(key, sizeof key, "%s.%s", where, it->string);
        if (vbt_param_index(desc, np, it->string) < 0) {
            char list[600] = "";
            size_t len = 0;
            for (size_t i = 0; i < np && len < sizeof list - 32; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                        desc[i].name);
            return fail(c, "unknown parameter '%s' of %s (parameters: %s)", key, owner, list);
        }
        for (const cJSON *jt = it->next; jt; jt = jt->next)
            if (strcmp(it->string, jt->string) == 0)
                return fail(c, "duplicate key '%s'", key);
        size_t count = 0;
        if (param_values(c, it, key, n, buf, &count))
            return c->status;
        if (set(sim, it->string, buf, count))
            return fail(c, "'%s': %s", key, vbt_sim_errmsg(sim));
    }
    return 0;
}

/* model.region_params: [{"regions": [index or label, ...], "<param>": value}] */
static int apply_region_params(ctx *c, vbt_sim *sim, const vbt_connectome *conn,
                               const vbt_model_type *m, const cJSON *rp, double *buf)
{
    if (!rp)
        return 0;
    if (!cJSON_IsArray(rp))
        return fail(c, "'model.region_params' must be an array, got %s", type_name(rp));
    const size_t n = conn->n;
    size_t g = 0;
    char *mask = malloc(n);
    if (!mask)
        return oom(c);
    for (const cJSON *grp = rp->child; grp; grp = grp->next, g++) {
        char where[96];
        snprintf(where, sizeof where, "model.region_params[%zu]", g);
        if (!cJSON_IsObject(grp)) {
            free(mask);
            return fail(c, "'%s' must be an object, got %s", where, type_name(grp));
        }
        const cJSON *regions = cJSON_GetObjectItemCaseSensitive(grp, "regions");
        if (!regions || !cJSON_IsArray(regions) || cJSON_GetArraySize(regions) == 0) {
            free(mask);
            return fail(c, "'%s.regions' must be a non-empty array of region indices or labels",
                        where);
        }
        memset(mask, 0, n);
        size_t r = 0;
        for (const cJSON *it = regions->child; it; it = it->next, r++) {
            long idx = -1;
            if (cJSON_IsNumber(it)) {
                double v = it->valuedouble;
                if (v != floor(v) || v < 0 || v >= (double)n) {
                    free(mask);
                    return fail(c, "'%s.regions[%zu]' = %g is not a region index in 0..%zu",
                                where, r, v, n - 1);
                }
                idx = (long)v;
            } else if (cJSON_IsString(it)) {
                idx = vbt_connectome_find_label(conn, it->valuestring);
                if (idx < 0) {
                    free(mask);
                    return fail(c, "'%s.regions[%zu]': no region labelled '%s' in the connectome",
                                where, r, it->valuestring);
                }
            } else {
                free(mask);
                return fail(c, "'%s.regions[%zu]' must be an index or a label, got %s", where,
                            r, type_name(it));
            }
            mask[idx] = 1;
        }
        int any = 0;
        for (const cJSON *it = grp->child; it; it = it->next) {
            for (const cJSON *jt = it->next; jt; jt = jt->next)
                if (strcmp(it->string, jt->string) == 0) {
                    free(mask);
                    return fail(c, "duplicate key '%s.%s'", where, it->string);
                }
            if (strcmp(it->string, "regions") == 0)
                continue;
            char key[160];
            snprintf(key, sizeof key, "%s.%s", where, it->string);
            if (vbt_param_index(m->params, m->n_param, it->string) < 0) {
                free(mask);
                return fail(c, "unknown parameter '%s' of model '%s'", key, m->name);
            }
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
                free(mask);
                return fail(c, "'%s' must be a finite number, got %s", key, type_name(it));
            }
            base_values(sim, vbt_sim_get_model_param, it->string, buf);
            for (size_t k = 0; k < n; k++)
                if (mask[k])
                    buf[k] = it->valuedouble;
            vbt_sim_set_model_param(sim, it->string, buf, n);
            any = 1;
        }
        if (!any) {
            free(mask);
            return fail(c, "'%s' sets no parameter", where);
        }
    }
    free(mask);
    return 0;
}

/* integrator.noise: {"nsig": number | [per state variable] | [[per region]
 * per state variable], "ntau_ms": 0} */
static int setup_noise(ctx *c, vbt_sim_config *job, const cJSON *noise)
{
    static const char *const keys[] = {"nsig", "ntau_ms", NULL};
    if (!noise)
        return 0;
    if (!cJSON_IsObject(noise))
        return fail(c, "'integrator.noise' must be an object, got %s", type_name(noise));
    if (check_keys(c, noise, "integrator.noise", keys))
        return c->status;
    const vbt_model_type *m = vbt_sim_model(job->sim);
    const size_t n = vbt_sim_n_regions(job->sim), nsv = m->n_state;
    double ntau = 0.0;
    if (get_number(c, noise, "ntau_ms", "integrator.noise", 0, 0.0, &ntau))
        return c->status;
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(noise, "nsig");
    if (!nj)
        return fail(c, "missing key 'integrator.noise.nsig'");
    double *d = calloc(nsv * n, sizeof *d);
    if (!d)
        return oom(c);
    size_t count = 0;
    int st = 0;
    if (cJSON_IsNumber(nj)) {
        d[0] = nj->valuedouble;
        count = 1;
    } else if (cJSON_IsArray(nj) && (size_t)cJSON_GetArraySize(nj) == nsv) {
        size_t v = 0;
        int nested = cJSON_IsArray(nj->child);
        count = nested ? nsv * n : nsv;
        for (const cJSON *it = nj->child; it && !st; it = it->next, v++) {
            if (!nested && cJSON_IsNumber(it)) {
                d[v] = it->valuedouble;
            } else if (nested && cJSON_IsArray(it) && (size_t)cJSON_GetArraySize(it) == n) {
                size_t k = 0;
                for (const cJSON *jt = it->child; jt && !st; jt = jt->next, k++) {
                    if (!cJSON_IsNumber(jt))
                        st = fail(c, "'integrator.noise.nsig[%zu][%zu]' must be a number", v, k);
                    else
                        d[v * n + k] = jt->valuedouble;
                }
            } else {
                st = fail(c, "'integrator.noise.nsig[%zu]' must be %s", v,
                          nested ? "an array of one number per region" : "a number");
            }
        }
    } else {
        st = fail(c, "'integrator.noise.nsig' must be a number or an array of %zu values (one "
                     "per state variable of '%s')", nsv, m->name);
    }
    if (!st && vbt_sim_set_noise(job->sim, d, count, ntau))
        st = fail(c, "integrator.noise: %s", vbt_sim_errmsg(job->sim));
    free(d);
    return st;
}

/* "stimulus": {"variable", "regions", "weights", "onset_ms",
 *              "pulse": {"amplitude", "frequency_hz", "width_ms", "train_ms"} |
 *              "waveform_npy": path, "sample_ms"} */
static int setup_stimulus(ctx *c, vbt_sim_config *job, const cJSON *sj)
{
    static const char *const keys[] = {"variable", "regions", "weights", "onset_ms", "pulse",
                                       "waveform_npy", "sample_ms", NULL};
    static const char *const pkeys[] = {"amplitude", "frequency_hz", "width_ms", "train_ms",
                                        NULL};
    if (!sj)
        return 0;
    if (!cJSON_IsObject(sj))
        return fail(c, "'stimulus' must be an object, got %s", type_name(sj));
    if (check_keys(c, sj, "stimulus", keys))
        return c->status;
    const vbt_model_type *m = vbt_sim_model(job->sim);
    const size_t n = job->conn->n;
    vbt_stimulus st = {0};
    const char *var = m->state_names[m->cvar[0]];
    if (get_string(c, sj, "variable", "stimulus", 0, var, &var) ||
        get_number(c, sj, "onset_ms", "stimulus", 0, 0.0, &st.onset_ms))
        return c->status;
    long vi = vbt_model_state_index(m, var);
    if (vi < 0)
        return fail(c, "'stimulus.variable': model '%s' has no state variable '%s'", m->name, var);
    st.var = (size_t)vi;
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(sj, "regions");
    const cJSON *wj = cJSON_GetObjectItemCaseSensitive(sj, "weights");
    size_t nr = cJSON_IsArray(rj) ? (size_t)cJSON_GetArraySize(rj) : 0;
    if (nr == 0)
        return fail(c, "'stimulus.regions' must be a non-empty array of region indices or labels");
    if (wj && (!cJSON_IsArray(wj) || (size_t)cJSON_GetArraySize(wj) != nr))
        return fail(c, "'stimulus.weights' must be an array of %zu numbers (one per region "
                       "of 'stimulus.regions')", nr);
    double *w = calloc(n, sizeof *w), *wave = NULL;
    vbt_array a = {0};
    int st_rc = 0;
    if (!w)
        return oom(c);
    const cJSON *it = rj->child, *wt = wj ? wj->child : NULL;
    for (size_t k = 0; it && !st_rc; it = it->next, k++, wt = wt ? wt->next : NULL) {
        long idx = -1;
        if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) &&
            it->valuedouble >= 0 && it->valuedouble < (double)n)
            idx = (long)it->valuedouble;
        else if (cJSON_IsString(it))
            idx = vbt_connectome_find_label(job->conn, it->valuestring);
        if (idx < 0)
            st_rc = fail(c, "'stimulus.regions[%zu]' is not a region index or label", k);
        else if (wt && !cJSON_IsNumber(wt))
            st_rc = fail(c, "'stimulus.weights[%zu]' must be a number", k);
        else
            w[idx] = wt ? wt->valuedouble : 1.0;
    }
    st.weights = w;
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(sj, "pulse");
    const cJSON *fj = cJSON_GetObjectItemCaseSensitive(sj, "waveform_npy");
    if (!st_rc && (pj != NULL) == (fj != NULL))
        st_rc = fail(c, "'stimulus' needs exactly one of 'pulse' and 'waveform_npy'");
    if (!st_rc && pj) {
        if (!cJSON_IsObject(pj))
            st_rc = fail(c, "'stimulus.pulse' must be an object");
        else if (check_keys(c, pj, "stimulus.pulse", pkeys) ||
                 get_number(c, pj, "amplitude", "stimulus.pulse", 1, 0, &st.amplitude) ||
                 get_number(c, pj, "frequency_hz", "stimulus.pulse", 1, 0, &st.frequency_hz) ||
                 get_number(c, pj, "width_ms", "stimulus.pulse", 1, 0, &st.width_ms) ||
                 get_number(c, pj, "train_ms", "stimulus.pulse", 0, 0.0, &st.train_ms))
            st_rc = c->status;
    }
    if (!st_rc && fj) {
        vbt_msg msg;
        char *path = cJSON_IsString(fj) ? resolve_path(job->config_path, fj->valuestring) : NULL;
        if (!path)
            st_rc = fail(c, "'stimulus.waveform_npy' must be a path");
        else if ((st_rc = vbt_npy_read(path, &a, &msg)))
            st_rc = fail_status(c, st_rc, "stimulus.waveform_npy: %s", msg.text);
        else if (a.ndim != 1 || a.size == 0)
            st_rc = fail(c, "stimulus.waveform_npy '%s': expected a 1-d array of samples", path);
        else if (get_number(c, sj, "sample_ms", "stimulus", 1, 0, &st.sample_ms))
            st_rc = c->status;
        free(path);
        st.waveform = a.data;
        st.n_samples = a.size;
    }
    if (!st_rc && vbt_sim_set_stimulus(job->sim, &st))
        st_rc = fail(c, "stimulus: %s", vbt_sim_errmsg(job->sim));
    free(w);
    free(wave);
    vbt_array_clear(&a);
    return st_rc;
}

static int setup_initial(ctx *c, vbt_sim_config *job, const cJSON *init)
{
    static const char *const keys[] = {"constant", "history_npy", NULL};
    const vbt_model_type *m = vbt_sim_model(job->sim);
    if (!init)
        return fail(c, "missing key 'initial' ({\"constant\": [%zu values, one per state "
                       "variable]} or {\"history_npy\": \"file.npy\"})", m->n_state);
    if (!cJSON_IsObject(init))
        return fail(c, "'initial' must be an object, got %s", type_name(init));
    if (check_keys(c, init, "initial", keys))
        return c->status;
    const cJSON *cst = cJSON_GetObjectItemCaseSensitive(init, "constant");
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(init, "history_npy");
    if ((cst != NULL) == (hist != NULL))
        return fail(c, "'initial' needs exactly one of 'constant' and 'history_npy'");
    if (cst) {
        double v[32];
        if (!cJSON_IsArray(cst) || (size_t)cJSON_GetArraySize(cst) != m->n_state)
            return fail(c, "'initial.constant' must be an array of %zu numbers (%s has "
                           "%zu state variables)", m->n_state, m->name, m->n_state);
        size_t k = 0;
        for (const cJSON *it = cst->child; it; it = it->next, k++) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
                return fail(c, "'initial.constant[%zu]' must be a finite number", k);
            v[k] = it->valuedouble;
        }
        if (vbt_sim_set_initial_constant(job->sim, v, m->n_state))
            return fail(c, "initial.constant: %s", vbt_sim_errmsg(job->sim));
        return 0;
    }
    if (!cJSON_IsString(hist))
        return fail(c, "'initial.history_npy' must be a path string, got %s", type_name(hist));
    job->history_path = resolve_path(job->config_path, hist->valuestring);
    if (!job->history_path)
        return oom(c);
    vbt_array a = {0};
    vbt_msg msg;
    int rc = vbt_npy_read(job->history_path, &a, &msg);
    if (rc)
        return fail_status(c, rc, "initial.history_npy: %s", msg.text);
    size_t n = vbt_sim_n_regions(job->sim);
    int st = 0;
    if (a.ndim != 3 || a.shape[1] != m->n_state || a.shape[2] != n)
        st = fail(c, "initial.history_npy '%s': shape must be [steps, %zu, %zu] (step, "
                     "state variable, region), got %zu dimension(s) [%zu, %zu, %zu]",
                  job->history_path, m->n_state, n, a.ndim, a.ndim > 0 ? a.shape[0] : 0,
                  a.ndim > 1 ? a.shape[1] : 0, a.ndim > 2 ? a.shape[2] : 0);
    else if (vbt_sim_set_initial_history(job->sim, a.data, a.shape[0]))
        st = fail(c, "initial.history_npy '%s': %s", job->history_path,
                  vbt_sim_errmsg(job->sim));
    vbt_array_clear(&a);
    return st;
}

/* Monitor keys by kind; the rest are refused. */
#define MONITOR_MAX_PARAMS 32
static const char *const mon_keys_regional[] = {"kind", "period_ms", "variables", "name", NULL};
static const char *const mon_keys_projection[] = {
    "kind", "period_ms", "variables", "name", "sensors", "gain_npy", "reference", "bipolar",
    "obs_noise", "edf", NULL};
static const char *const mon_keys_bold[] = {"kind", "period_ms", "variables", "name", "method",
                                            "params", NULL};

static int get_bool(ctx *c, const cJSON *obj, const char *key, const char *where, int def,
                    int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!j) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(j))
        return fail(c, "'%s.%s' must be true or false, got %s", where, key, type_name(j));
    *out = cJSON_IsTrue(j);
    return 0;
}

/* The seeg / eeg part of a monitor: sensors (labels, positions), the gain
 * from gain_npy or the analytic dipoles, reference, montage, noise. */
static int setup_projection(ctx *c, vbt_sim_config *job, const cJSON *mj, const char *where,
                            const vbt_monitor_type *T, vbt_monitor_spec *spec,
                            vbt_sim_config_monitor *jm, vbt_contacts **contacts, const char ***labels,
                            vbt_array *gain)
{
    const char *sensors = NULL, *gain_npy = NULL, *ref = NULL;
    vbt_msg msg;
    int eeg = T == vbt_monitor_eeg, bip = 0, st;
    if ((st = get_string(c, mj, "sensors", where, 1, NULL, &sensors)) ||
        (st = get_string(c, mj, "gain_npy", where, 0, NULL, &gain_npy)) ||
        (st = get_string(c, mj, "reference", where, 0, NULL, &ref)) ||
        (st = get_bool(c, mj, "bipolar", where, 0, &bip)) ||
        (st = get_bool(c, mj, "edf", where, 1, &jm->edf)) ||
        (st = get_number(c, mj, "obs_noise", where, 0, 0.0, &spec->obs_noise)))
        return st;
    if (!eeg && ref)
        return fail(c, "'%s.reference': only for eeg monitors (seeg: \"bipolar\": true)", where);
    if (eeg && cJSON_GetObjectItemCaseSensitive(mj, "bipolar"))
        return fail(c, "'%s.bipolar': only for seeg monitors (eeg: \"reference\")", where);
    if (!(spec->obs_noise >= 0.0))
        return fail(c, "'%s.obs_noise' must be >= 0 (a standard deviation), got %g", where,
                    spec->obs_noise);
    jm->sensors_path = resolve_path(job->config_path, sensors);
    if (!jm->sensors_path)
        return oom(c);
    if ((st = vbt_contacts_load(contacts, jm->sensors_path, &msg)))
        return fail_status(c, st, "'%s.sensors': %s", where, msg.text);
    const vbt_contacts *ct = *contacts;
    *labels = malloc(ct->n * sizeof **labels);
    if (!*labels)
        return oom(c);
    for (size_t k = 0; k < ct->n; k++)
        (*labels)[k] = ct->labels[k];
    const size_t nr = job->conn->n;
    if (gain_npy) {
        jm->gain_path = resolve_path(job->config_path, gain_npy);
        if (!jm->gain_path)
            return oom(c);
        if ((st = vbt_npy_read(jm->gain_path, gain, &msg)))
            return fail_status(c, st, "'%s.gain_npy': %s", where, msg.text);
        if (gain->ndim != 2 || gain->shape[0] != ct->n || gain->shape[1] != nr)
            return fail(c, "'%s.gain_npy' '%s': shape must be [%zu, %zu] (sensor of '%s', "
                           "region), got %zu dimension(s) [%zu, %zu]",
                        where, jm->gain_path, ct->n, nr, jm->sensors_path, gain->ndim,
                        gain->ndim > 0 ? gain->shape[0] : 0, gain->ndim > 1 ? gain->shape[1] : 0);
        spec->gain = gain->data;
    } else if (!eeg && !job->conn->orientations) {
        return fail(c, "'%s': no gain_npy, and the connectome has no orientations for the "
                       "analytic dipole gain", where);
    }
    spec->n_sensors = ct->n;
    spec->sensor_labels = *labels;
    spec->sensor_pos_mm = ct->pos;
    spec->centres_mm = job->conn->centres;
    spec->orientations = job->conn->orientations;
    spec->reference = ref;
    spec->bipolar = bip;
    cJSON *r = jm->resolved;
    cJSON_AddStringToObject(r, "sensors", jm->sensors_path);
    if (jm->gain_path)
        cJSON_AddStringToObject(r, "gain_npy", jm->gain_path);
    else
        cJSON_AddStringToObject(r, "gain", eeg ? "analytic dipoles, sensors on TVB's sphere"
                                               : "analytic dipoles");
    if (eeg) {
        if (ref)
            cJSON_AddStringToObject(r, "reference", ref);
        else
            cJSON_AddNullToObject(r, "reference");
    } else {
        cJSON_AddBoolToObject(r, "bipolar", bip);
    }
    cJSON_AddNumberToObject(r, "obs_noise", spec->obs_noise);
    cJSON_AddBoolToObject(r, "edf", jm->edf);
    return 0;
}

/* The bold part: method and params. */
static int setup_bold(ctx *c, const cJSON *mj, const char *where, const vbt_monitor_type **T,
                      vbt_monitor_spec *spec, const char **pnames, double *pvals,
                      vbt_sim_config_monitor *jm)
{
    const char *method = NULL;
    int st;
    if ((st = get_string(c, mj, "method", where, 0, "kernel", &method)))
        return st;
    if (strcmp(method, "kernel") == 0)
        *T = vbt_monitor_bold;
    else if (strcmp(method, "balloon") == 0)
        *T = vbt_monitor_bold_balloon;
    else
        return fail(c, "'%s.method': unknown BOLD method '%s' (kernel, balloon)", where, method);
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(mj, "params");
    size_t np = 0;
    if (pj) {
        if (!cJSON_IsObject(pj))
            return fail(c, "'%s.params' must be an object, got %s", where, type_name(pj));
        for (const cJSON *it = pj->child; it; it = it->next) {
            size_t i = 0;
            while (i < (*T)->n_param && strcmp((*T)->params[i].name, it->string) != 0)
                i++;
            if (i == (*T)->n_param) {
                char list[512] = "";
                size_t len = 0;
                for (size_t k = 0; k < (*T)->n_param && len < sizeof list - 64; k++)
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "",
                                            (*T)->params[k].name);
                return fail(c, "'%s.params.%s': unknown parameter of BOLD method '%s' (%s)",
                            where, it->string, method, list);
            }
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
                return fail(c, "'%s.params.%s' must be a finite number, got %s", where,
                            it->string, type_name(it));
            for (size_t k = 0; k < np; k++)
                if (strcmp(pnames[k], it->string) == 0)
                    return fail(c, "duplicate key '%s.params.%s'", where, it->string);
            pnames[np] = it->string;
            pvals[np++] = it->valuedouble;
        }
    }
    spec->n_params = np;
    spec->param_names = pnames;
    spec->param_values = pvals;
    cJSON_AddStringToObject(jm->resolved, "method", method);
    cJSON *rp = cJSON_AddObjectToObject(jm->resolved, "params");
    for (size_t i = 0; i < (*T)->n_param; i++) {
        double v = (*T)->params[i].def;
        for (size_t k = 0; k < np; k++)
            if (strcmp(pnames[k], (*T)->params[i].name) == 0)
                v = pvals[k];
        cJSON_AddNumberToObject(rp, (*T)->params[i].name, v);
    }
    return 0;
}

static int setup_monitors(ctx *c, vbt_sim_config *job, const cJSON *mons, uint64_t buffer_steps)
{
    static const char *const raw_default[] = {"raw"};
    cJSON *fallback = NULL;
    vbt_contacts *contacts = NULL;
    const char **labels = NULL;
    vbt_array gain = {0};
    vbt_sim_config_monitor *jm = NULL;
    if (!mons) {
        fallback = cJSON_CreateArray();
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "kind", raw_default[0]);
        cJSON_AddItemToArray(fallback, r);
        mons = fallback;
    }
    int st = 0;
    if (!cJSON_IsArray(mons) || cJSON_GetArraySize(mons) == 0) {
        st = fail(c, "'monitors' must be a non-empty array of monitor objects");
        goto done;
    }
    size_t i = 0;
    for (const cJSON *mj = mons->child; mj; mj = mj->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "monitors[%zu]", i);
        if (i >= sizeof job->mon / sizeof job->mon[0]) {
            st = fail(c, "at most %zu monitors", sizeof job->mon / sizeof job->mon[0]);
            goto done;
        }
        if (!cJSON_IsObject(mj)) {
            st = fail(c, "'%s' must be an object, got %s", where, type_name(mj));
            goto done;
        }
        const char *kind = NULL, *name = NULL;
        if ((st = get_string(c, mj, "kind", where, 1, NULL, &kind)))
            goto done;
        const vbt_monitor_type *T = vbt_monitor_find(kind);
        if (!T || T == vbt_monitor_bold_balloon) {
            st = fail(c, "'%s.kind': unknown monitor '%s' (raw, subsample, temporal_average, "
                         "seeg, eeg, bold)", where, kind);
            goto done;
        }
        const int bold = T == vbt_monitor_bold;
        if ((st = check_keys(c, mj, where, T->projects ? mon_keys_projection
                                           : bold       ? mon_keys_bold
                                                        : mon_keys_regional)))
            goto done;
        double period = 0.0;
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(mj, "period_ms");
        if (!T->uses_period && pj) {
            st = fail(c, "'%s.period_ms': the raw monitor records every step; remove the key",
                      where);
            goto done;
        }
        if (T->uses_period &&
            (st = get_number(c, mj, "period_ms", where, !bold, 2000.0, &period)))
            goto done;
        if ((st = get_string(c, mj, "name", where, 0, kind, &name)))
            goto done;
        if (strlen(name) == 0 || strlen(name) >= sizeof job->mon[0].name ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                strlen(name)) {
            st = fail(c, "'%s.name' = '%s' must be 1-63 letters, digits, '_' or '-'", where,
                      name);
            goto done;
        }
        for (size_t k = 0; k < job->n_mon; k++)
            if (strcmp(job->mon[k].name, name) == 0) {
                st = fail(c, "'%s': a second monitor writing '%s.npy'; give it a distinct "
                             "\"name\"", where, name);
                goto done;
            }
        const char *vars[64];
        size_t nv = 0;
        const cJSON *vj = cJSON_GetObjectItemCaseSensitive(mj, "variables");
        if (vj) {
            if (!cJSON_IsArray(vj) || cJSON_GetArraySize(vj) == 0 ||
                cJSON_GetArraySize(vj) > 64) {
                st = fail(c, "'%s.variables' must be an array of 1 to 64 strings", where);
                goto done;
            }
            for (const cJSON *it = vj->child; it; it = it->next) {
                if (!cJSON_IsString(it)) {
                    st = fail(c, "'%s.variables[%zu]' must be a string, got %s", where, nv,
                              type_name(it));
                    goto done;
                }
                vars[nv++] = it->valuestring;
            }
        }
        vbt_monitor_spec spec = {
            .type = T, .period_ms = period, .n_vars = nv, .vars = vars,
            .buffer_steps = buffer_steps,
        };
        jm = &job->mon[job->n_mon];
        memset(jm, 0, sizeof *jm);
        jm->resolved = cJSON_CreateObject();
        if (!jm->resolved) {
            st = oom(c);
            goto done;
        }
        const char *pnames[MONITOR_MAX_PARAMS];
        double pvals[MONITOR_MAX_PARAMS];
        if (T->projects &&
            (st = setup_projection(c, job, mj, where, T, &spec, jm, &contacts, &labels, &gain)))
            goto done;
        if (bold && (st = setup_bold(c, mj, where, &T, &spec, pnames, pvals, jm)))
            goto done;
        spec.type = T;
        size_t idx;
        if (vbt_sim_add_monitor(job->sim, &spec, &idx)) {
            st = fail(c, "'%s': %s", where, vbt_sim_errmsg(job->sim));
            goto done;
        }
        if (T->projects)
            cJSON_AddNumberToObject(jm->resolved, "n_channels",
                                    (double)vbt_sim_monitor_n_channels(job->sim, idx));
        snprintf(jm->name, sizeof jm->name, "%s", name);
        jm->index = idx;
        job->n_mon++;
        jm = NULL;
        vbt_contacts_free(contacts);
        contacts = NULL;
        free(labels);
        labels = NULL;
        vbt_array_clear(&gain);
    }
done:
    if (jm) {                   /* the monitor that failed */
        free(jm->sensors_path);
        free(jm->gain_path);
        cJSON_Delete(jm->resolved);
        memset(jm, 0, sizeof *jm);
    }
    vbt_contacts_free(contacts);
    free(labels);
    vbt_array_clear(&gain);
    cJSON_Delete(fallback);
    return st;
}

/* Per-region values of a parameter as JSON: a number when uniform. */
static cJSON *param_json(const double *v, size_t n)
{
    for (size_t k = 1; k < n; k++)
        if (v[k] != v[0])
            return cJSON_CreateDoubleArray(v, (int)n);
    return cJSON_CreateNumber(v[0]);
}

static void build_resolved(vbt_sim_config *job, double speed, int delays, vbt_normalize norm,
                           const vbt_coupling_type *ct, const vbt_scheme_type *sc,
                           const cJSON *integ_src, const cJSON *init, double *buf)
{
    const vbt_model_type *m = vbt_sim_model(job->sim);
    const size_t n = job->conn->n;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "connectome", job->connectome_path);
    if (delays)
        cJSON_AddNumberToObject(r, "speed_mm_per_ms", speed);
    else
        cJSON_AddNullToObject(r, "speed_mm_per_ms");
    cJSON_AddBoolToObject(r, "delays", delays);
    cJSON_AddStringToObject(r, "normalize", vbt_normalize_name(norm));
    cJSON *mj = cJSON_AddObjectToObject(r, "model");
    cJSON_AddStringToObject(mj, "name", m->name);
    cJSON *mp = cJSON_AddObjectToObject(mj, "params");
    for (size_t i = 0; i < m->n_param; i++) {
        base_values(job->sim, vbt_sim_get_model_param, m->params[i].name, buf);
        cJSON_AddItemToObject(mp, m->params[i].name, param_json(buf, n));
    }
    cJSON *cj = cJSON_AddObjectToObject(r, "coupling");
    cJSON_AddStringToObject(cj, "name", ct->name);
    cJSON *cp = cJSON_AddObjectToObject(cj, "params");
    for (size_t i = 0; i < ct->n_param; i++) {
        base_values(job->sim, vbt_sim_get_coupling_param, ct->params[i].name, buf);
        cJSON_AddItemToObject(cp, ct->params[i].name, param_json(buf, n));
    }
    cJSON *ij = cJSON_AddObjectToObject(r, "integrator");
    cJSON_AddStringToObject(ij, "scheme", sc->name);
    cJSON_AddNumberToObject(ij, "dt_ms", vbt_sim_dt(job->sim));
    const cJSON *noise = integ_src ? cJSON_GetObjectItemCaseSensitive(integ_src, "noise") : NULL;
    if (noise) {
        cJSON *nz = cJSON_Duplicate(noise, 1);
        if (!cJSON_GetObjectItemCaseSensitive(nz, "ntau_ms"))
            cJSON_AddNumberToObject(nz, "ntau_ms", 0.0);
        cJSON_AddItemToObject(ij, "noise", nz);
    }
    cJSON *init_copy = cJSON_Duplicate(init, 1);
    if (job->history_path)
        cJSON_ReplaceItemInObject(init_copy, "history_npy",
                                  cJSON_CreateString(job->history_path));
    cJSON_AddItemToObject(r, "initial", init_copy);
    cJSON_AddNumberToObject(r, "duration_ms", job->duration_ms);
    cJSON *ma = cJSON_AddArrayToObject(r, "monitors");
    for (size_t k = 0; k < job->n_mon; k++) {
        size_t idx = job->mon[k].index;
        cJSON *o = cJSON_CreateObject();
        const vbt_monitor_type *T = vbt_sim_monitor_type(job->sim, idx);
        cJSON_AddStringToObject(o, "name", job->mon[k].name);
        cJSON_AddStringToObject(o, "kind", T == vbt_monitor_bold_balloon ? "bold" : T->name);
        cJSON_AddNumberToObject(o, "period_ms", vbt_sim_monitor_period(job->sim, idx));
        cJSON *vars = cJSON_AddArrayToObject(o, "variables");
        for (size_t v = 0; v < vbt_sim_monitor_n_vars(job->sim, idx); v++)
            cJSON_AddItemToArray(vars, cJSON_CreateString(vbt_sim_monitor_var(job->sim, idx, v)));
        /* the kind's own keys, moved from setup_monitors() */
        cJSON *extra = job->mon[k].resolved;
        while (extra && extra->child) {
            cJSON *it = cJSON_DetachItemViaPointer(extra, extra->child);
            cJSON_AddItemToObject(o, it->string, it);
        }
        cJSON_AddItemToArray(ma, o);
    }
    cJSON_AddNumberToObject(r, "seed", (double)job->seed);
    job->resolved = r;
}

/* Read the file and parse it: *root is a JSON object (to cJSON_Delete, also
 * on error). */
static int parse_file(ctx *c, const char *path, cJSON **root)
{
    char *text = NULL;
    size_t len;
    vbt_msg m;
    int rc;

    *root = NULL;
    if ((rc = vbt_file_read_all(path, &text, &len, 64u << 20, &m))) {
        c->status = rc;
        return vbt__fail(c->msg, rc, "%s", m.text);
    }
    if (memchr(text, '\0', len)) {
        free(text);
        return fail(c, "not a text file (contains a NUL byte)");
    }
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!*root) {
        size_t off = end ? (size_t)(end - text) : 0, line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++, col++)
            if (text[i] == '\n') {
                line++;
                col = 0;
            }
        free(text);
        return fail(c, "invalid JSON near line %zu, column %zu", line, col);
    }
    free(text);
    if (!cJSON_IsObject(*root))
        return fail(c, "the configuration must be a JSON object, got %s", type_name(*root));
    return VBT_OK;
}

/* What the top level names, read before the simulator is built. */
typedef struct plan {
    const cJSON *model, *coupling, *integ, *sweep;
    const vbt_model_type *mt;
    const vbt_coupling_type *ct;
    const vbt_scheme_type *sc;
    double speed, dt;
    int delays;
    vbt_normalize norm;
} plan;

/* The top-level keys, and "sweep" present exactly for `vbt sweep`. */
static int check_top(ctx *c, const cJSON *root, const vbt_sim_config_opts *opts, plan *pl)
{
    static const char *const top_keys[] = {
        "connectome", "speed_mm_per_ms", "delays", "normalize", "model", "coupling",
        "integrator", "initial", "duration_ms", "monitors", "seed", "description", "sweep",
        "stimulus", NULL};
    if (check_keys(c, root, "", top_keys))
        return c->status;
    pl->sweep = cJSON_GetObjectItemCaseSensitive(root, "sweep");
    if (pl->sweep && !opts->sweep)
        return fail(c, "'sweep' describes a parameter sweep: run it with 'vbt sweep'");
    if (opts->sweep && !pl->sweep)
        return fail(c, "missing key 'sweep' (the parameters to vary and the summaries to keep)");
    return VBT_OK;
}

/* "connectome", "speed_mm_per_ms", "delays", "normalize": the connectome
 * loaded and normalised. */
static int load_connectome(ctx *c, vbt_sim_config *job, const cJSON *root, plan *pl)
{
    const char *cpath = NULL, *norm_name = NULL;
    vbt_msg m;
    int rc;
    if (get_string(c, root, "connectome", "", 1, NULL, &cpath) ||
        get_number(c, root, "speed_mm_per_ms", "", 0, 3.0, &pl->speed) ||
        get_string(c, root, "normalize", "", 0, "none", &norm_name))
        return c->status;
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(root, "delays");
    if (dj && !cJSON_IsBool(dj))
        return fail(c, "'delays' must be true or false, got %s", type_name(dj));
    pl->delays = dj ? cJSON_IsTrue(dj) : 1;
    if (!(pl->speed > 0.0))
        return fail(c, "'speed_mm_per_ms' must be > 0, got %g (use \"delays\": false for none)",
                    pl->speed);
    if (vbt_normalize_parse(norm_name, &pl->norm))
        return fail(c, "'normalize': unknown normalisation '%s' (none, max, row-sum)", norm_name);
    job->connectome_path = resolve_path(job->config_path, cpath);
    if (!job->connectome_path)
        return oom(c);
    if ((rc = vbt_connectome_load(&job->conn, job->connectome_path, &m)) ||
        (rc = vbt_connectome_normalize(job->conn, pl->norm, &m)))
        return fail_status(c, rc, "connectome: %s", m.text);
    return VBT_OK;
}

/* "model", "coupling", "integrator": the types and the time step. */
static int read_types(ctx *c, const cJSON *root, plan *pl)
{
    static const char *const model_keys[] = {"name", "params", "region_params", NULL};
    static const char *const coupling_keys[] = {"name", "params", NULL};
    static const char *const integ_keys[] = {"scheme", "dt_ms", "noise", NULL};
    const char *scheme_name = NULL, *model_name = NULL, *coupling_name = NULL;
    int s2;
    pl->model = get_object(c, root, "model", 1, &s2);
    if (s2 || check_keys(c, pl->model, "model", model_keys) ||
        get_string(c, pl->model, "name", "model", 1, NULL, &model_name))
        return c->status;
    pl->mt = vbt_model_find(model_name);
    if (!pl->mt)
        return fail(c, "'model.name': unknown model '%s' (see 'vbt models')", model_name);
    pl->coupling = get_object(c, root, "coupling", 0, &s2);
    if (s2 || (pl->coupling && check_keys(c, pl->coupling, "coupling", coupling_keys)) ||
        get_string(c, pl->coupling, "name", "coupling", pl->coupling != NULL, "difference",
                   &coupling_name))
        return c->status;
    pl->ct = vbt_coupling_find(coupling_name);
    if (!pl->ct) {
        char list[256] = "";
        size_t ll = 0;
        for (size_t i = 0; vbt_coupling_types[i] && ll < sizeof list - 32; i++)
            ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%s", i ? ", " : "",
                                   vbt_coupling_types[i]->name);
        return fail(c, "'coupling.name': unknown coupling '%s' (%s)", coupling_name, list);
    }
    pl->integ = get_object(c, root, "integrator", 0, &s2);
    if (s2 || (pl->integ && check_keys(c, pl->integ, "integrator", integ_keys)) ||
        get_string(c, pl->integ, "scheme", "integrator", 0, "heun", &scheme_name) ||
        get_number(c, pl->integ, "dt_ms", "integrator", 0, 0.05, &pl->dt))
        return c->status;
    pl->sc = vbt_scheme_find(scheme_name);
    if (!pl->sc)
        return fail(c, "'integrator.scheme': unknown scheme '%s' (euler, heun, rk4)", scheme_name);
    if (!(pl->dt > 0.0))
        return fail(c, "'integrator.dt_ms' must be > 0, got %g", pl->dt);
    return VBT_OK;
}

/* "duration_ms" (-> the number of steps) and "seed". */
static int read_run(ctx *c, vbt_sim_config *job, const cJSON *root, double dt,
                    const vbt_sim_config_opts *opts)
{
    double seed_d = 0;
    if (get_number(c, root, "duration_ms", "", 1, 0, &job->duration_ms))
        return c->status;
    double steps = job->duration_ms / dt;
    if (!(job->duration_ms > 0.0) || steps > 1e12)
        return fail(c, "'duration_ms' must be > 0 and at most 1e12 steps, got %g",
                    job->duration_ms);
    /* Like TVB: ceil(duration / dt) steps, tolerant of rounding in the ratio. */
    job->n_steps = (uint64_t)ceil(steps - 1e-9 * steps);
    if (get_number(c, root, "seed", "", 0, 0.0, &seed_d))
        return c->status;
    if (seed_d < 0 || seed_d != floor(seed_d) || seed_d > 9007199254740992.0)
        return fail(c, "'seed' must be a non-negative integer, got %g", seed_d);
    job->seed = opts->seed_override >= 0 ? (uint64_t)opts->seed_override : (uint64_t)seed_d;
    return VBT_OK;
}

/* The simulator, with the model's and the coupling's parameters; *buf: a
 * scratch of one value per lane (to free). */
static int build_sim(ctx *c, vbt_sim_config *job, const plan *pl,
                     const vbt_sim_config_opts *opts, double **buf)
{
    vbt_msg m;
    int rc;
    vbt_sim_spec spec = {
        .model = pl->mt, .coupling = pl->ct, .scheme = pl->sc, .conn = job->conn,
        .dt_ms = pl->dt, .speed_mm_per_ms = pl->delays ? pl->speed : HUGE_VAL,
        .batch = opts->batch,
    };
    if ((rc = vbt_sim_alloc(&job->sim, &spec, &m)))
        return fail_status(c, rc, "%s", m.text);
    *buf = malloc(vbt_sim_n_lanes(job->sim) * sizeof **buf);
    if (!*buf)
        return oom(c);
    char owner[96];
    snprintf(owner, sizeof owner, "model '%s'", pl->mt->name);
    if (apply_params(c, job->sim, cJSON_GetObjectItemCaseSensitive(pl->model, "params"),
                     "model.params", pl->mt->params, pl->mt->n_param, vbt_sim_set_model_param,
                     owner, *buf) ||
        apply_region_params(c, job->sim, job->conn, pl->mt,
                            cJSON_GetObjectItemCaseSensitive(pl->model, "region_params"), *buf))
        return c->status;
    snprintf(owner, sizeof owner, "coupling '%s'", pl->ct->name);
    if (pl->coupling && apply_params(c, job->sim,
                                     cJSON_GetObjectItemCaseSensitive(pl->coupling, "params"),
                                     "coupling.params", pl->ct->params, pl->ct->n_param,
                                     vbt_sim_set_coupling_param, owner, *buf))
        return c->status;
    return VBT_OK;
}

void vbt_sim_config_opts_default(vbt_sim_config_opts *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->seed_override = -1;
}

int vbt_sim_config_load(vbt_sim_config *job, const char *config_path,
                        const vbt_sim_config_opts *opts, vbt_msg *msg)
{
    ctx c = {config_path, msg, VBT_OK};
    vbt_sim_config_opts defaults;
    cJSON *root = NULL;
    double *buf = NULL;
    plan pl = {0};

    if (!job || !config_path)
        return vbt__fail(msg, VBT_EINVAL, "simulation configuration: NULL argument");
    memset(job, 0, sizeof *job);
    if (!opts) {
        vbt_sim_config_opts_default(&defaults);
        opts = &defaults;
    }
    job->config_path = strdup(config_path);
    if (!job->config_path)
        return oom(&c);
    const cJSON *init = NULL, *integ_noise = NULL, *stim = NULL;
    if (parse_file(&c, config_path, &root) || check_top(&c, root, opts, &pl) ||
        load_connectome(&c, job, root, &pl) || read_types(&c, root, &pl) ||
        read_run(&c, job, root, pl.dt, opts) || build_sim(&c, job, &pl, opts, &buf))
        goto out;
    init = cJSON_GetObjectItemCaseSensitive(root, "initial");
    integ_noise = pl.integ ? cJSON_GetObjectItemCaseSensitive(pl.integ, "noise") : NULL;
    stim = cJSON_GetObjectItemCaseSensitive(root, "stimulus");
    if ((!opts->sweep &&
         setup_monitors(&c, job, cJSON_GetObjectItemCaseSensitive(root, "monitors"),
                        opts->buffer_steps)) ||
        setup_noise(&c, job, integ_noise) || setup_stimulus(&c, job, stim) ||
        setup_initial(&c, job, init))
        goto out;
    vbt_sim_set_seed(job->sim, job->seed, 0);
    build_resolved(job, pl.speed, pl.delays, pl.norm, pl.ct, pl.sc, pl.integ, init, buf);
    if (stim)
        cJSON_AddItemToObject(job->resolved, "stimulus", cJSON_Duplicate(stim, 1));
    if (pl.sweep) {
        job->sweep = cJSON_Duplicate(pl.sweep, 1);
        cJSON_AddItemToObject(job->resolved, "sweep", cJSON_Duplicate(pl.sweep, 1));
    }
out:
    free(buf);
    cJSON_Delete(root);
    if (c.status)
        vbt_sim_config_clear(job);
    return c.status;
}

void vbt_sim_config_clear(vbt_sim_config *job)
{
    if (!job)
        return;
    vbt_sim_free(job->sim);
    vbt_connectome_free(job->conn);
    free(job->config_path);
    free(job->connectome_path);
    free(job->history_path);
    for (size_t k = 0; k < job->n_mon; k++) {
        free(job->mon[k].sensors_path);
        free(job->mon[k].gain_path);
        cJSON_Delete(job->mon[k].resolved);
    }
    cJSON_Delete(job->resolved);
    cJSON_Delete(job->sweep);
    memset(job, 0, sizeof *job);
}
