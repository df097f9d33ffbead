/* vep_priors.c -- BVEP's default priors, their validation and the JSON
 * prior file. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vep_internal.h"

void vbt_vep_priors_default(vbt_vep_priors *p)
{
    memset(p, 0, sizeof *p);
    /* Hashemi et al. 2020, BVEP_noncentered.stan: eta = -2.5 + eta*,
     * x_init = -1.5 + x*, z_init = 3.5 + z*, K ~ N(Ks, 0.1), amplitude and
     * eps ~ N(0, 1)+, offset ~ N(0, 1). */
    p->x0 = (vbt_vep_group_prior){-2.5, 1.0, 0, 0};
    p->x_init = (vbt_vep_group_prior){-1.5, 1.0, 0, 0};
    p->z_init = (vbt_vep_group_prior){3.5, 1.0, 0, 0};
    p->off = (vbt_vep_group_prior){0.0, 1.0, 0, 0};
    /* Vattikonda et al. 2021: hypothesised EZ x0_mu = -1.5. */
    p->x0_ez_mu = -1.5;
    p->x0_ez_sd = 1.0;
    p->K = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 1.0, 0.1, 0.0, 0, 1.0};
    /* BVEP fixes tau0 = 10 (benchmark data); the free prior is V's
     * N(20, 10) above 5. */
    p->tau0 = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 20.0, 10.0, 5.0, 1, 10.0};
    p->amp = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 0.0, 1.0, 0.0, 0, 1.0};
    p->eps = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 0.0, 1.0, 0.0, 0, 1.0};
    /* no input gains: the connectome as given (sd: the scale when freed) */
    p->gin = (vbt_vep_group_prior){0.0, 0.5, 1, 0};
}

static int check_group(const vbt_vep_group_prior *g, const char *name, vbt_msg *msg)
{
    if (!isfinite(g->mu) || !(g->sd > 0) || !isfinite(g->sd))
        return vbt__fail(msg, VBT_EINVAL, "vep priors: %s needs a finite mu and sd > 0 (mu %g, sd %g)",
                         name, g->mu, g->sd);
    if (!(g->nu >= 0) || !isfinite(g->nu))
        return vbt__fail(msg, VBT_EINVAL,
                         "vep priors: %s: nu must be 0 (normal) or a Student-t's degrees of "
                         "freedom > 0 (nu %g)", name, g->nu);
    return VBT_OK;
}

static int check_scalar(const vbt_vep_scalar_prior *s, const char *name, vbt_msg *msg)
{
    if (s->dist != VBT_VEP_NORMAL && s->dist != VBT_VEP_LOGNORMAL)
        return vbt__fail(msg, VBT_EINVAL, "vep priors: %s: unknown distribution %d", name,
                         (int)s->dist);
    if (!isfinite(s->mu) || !(s->sd > 0) || !isfinite(s->sd) || !isfinite(s->lo))
        return vbt__fail(msg, VBT_EINVAL,
                         "vep priors: %s needs finite mu, lower and sd > 0 (mu %g, sd %g, lower %g)",
                         name, s->mu, s->sd, s->lo);
    if (s->fixed && !(s->value > s->lo && isfinite(s->value)))
        return vbt__fail(msg, VBT_ERANGE, "vep priors: fixed %s = %g must be above its lower bound %g",
                         name, s->value, s->lo);
    if (s->dist == VBT_VEP_NORMAL && (s->lo - s->mu) / s->sd > 30.0)
        return vbt__fail(msg, VBT_EINVAL, "vep priors: %s: truncation at %g is %g sd above the mean",
                         name, s->lo, (s->lo - s->mu) / s->sd);
    return VBT_OK;
}

int vbt_vep_priors_validate(const vbt_vep_priors *p, size_t n_regions, vbt_msg *msg)
{
    if (!p)
        return vbt__fail(msg, VBT_EINVAL, "vep priors: NULL");
    int st;
    if ((st = check_group(&p->x0, "x0", msg)) || (st = check_group(&p->x_init, "x_init", msg)) ||
        (st = check_group(&p->z_init, "z_init", msg)) || (st = check_group(&p->off, "offset", msg)) ||
        (st = check_group(&p->gin, "input_gain", msg)))
        return st;
    if (p->gin.nu != 0)
        return vbt__fail(msg, VBT_EINVAL,
                         "vep priors: input_gain: the log input gains need a normal prior (nu %g)",
                         p->gin.nu);
    if (p->off.nu != 0)
        return vbt__fail(msg, VBT_EINVAL,
                         "vep priors: offset: the offsets need a normal prior (nu %g)", p->off.nu);
    vbt_vep_group_prior ez = {p->x0_ez_mu, p->x0_ez_sd, 0, 0};
    if ((st = check_group(&ez, "x0_ez", msg)))
        return st;
    if ((st = check_scalar(&p->K, "K", msg)) || (st = check_scalar(&p->tau0, "tau0", msg)) ||
        (st = check_scalar(&p->amp, "amp", msg)) || (st = check_scalar(&p->eps, "eps", msg)))
        return st;
    if (!(p->lik_weight >= 0 && p->lik_weight <= 1))
        return vbt__fail(msg, VBT_EINVAL, "vep priors: likelihood_weight %g is not in (0, 1]",
                         p->lik_weight);
    if (p->n_ez > VBT_VEP_MAX_EZ)
        return vbt__fail(msg, VBT_ERANGE, "vep priors: %zu EZ regions, at most %d", p->n_ez,
                         VBT_VEP_MAX_EZ);
    for (size_t e = 0; e < p->n_ez; e++)
        if (p->ez[e] >= n_regions)
            return vbt__fail(msg, VBT_ERANGE, "vep priors: EZ region index %zu out of range (%zu regions)",
                             p->ez[e], n_regions);
    return VBT_OK;
}

/* ---- JSON ---------------------------------------------------------------- */

static int get_num(const cJSON *o, const char *key, double *v, const char *what, vbt_msg *msg)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it)
        return VBT_OK;
    if (!cJSON_IsNumber(it))
        return vbt__fail(msg, VBT_EFORMAT, "%s: \"%s\" must be a number", what, key);
    *v = it->valuedouble;
    return VBT_OK;
}

static int get_bool(const cJSON *o, const char *key, int *v, const char *what, vbt_msg *msg)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it)
        return VBT_OK;
    if (!cJSON_IsBool(it))
        return vbt__fail(msg, VBT_EFORMAT, "%s: \"%s\" must be true or false", what, key);
    *v = cJSON_IsTrue(it);
    return VBT_OK;
}

static int only_keys(const cJSON *o, const char *const *keys, const char *what, vbt_msg *msg)
{
    if (!cJSON_IsObject(o))
        return vbt__fail(msg, VBT_EFORMAT, "%s must be an object", what);
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (size_t k = 0; keys[k]; k++)
            ok |= strcmp(it->string, keys[k]) == 0;
        if (!ok)
            return vbt__fail(msg, VBT_EFORMAT, "%s: unknown key \"%s\"", what, it->string);
    }
    return VBT_OK;
}

/* Which optional keys a group takes besides "mu" and "sd". */
enum { GK_FIXED = 1, GK_NU = 2 };

/* marginal: NULL, or where the group's "marginal" flag goes (offsets only) */
static int parse_group(const cJSON *o, vbt_vep_group_prior *g, int keys, int *marginal,
                       const char *what, vbt_msg *msg)
{
    const char *k[6] = {"mu", "sd"};
    size_t n = 2;
    if (keys & GK_FIXED)
        k[n++] = "fixed";
    if (keys & GK_NU)
        k[n++] = "nu";
    if (marginal)
        k[n++] = "marginal";
    k[n] = NULL;
    int st;
    if ((st = only_keys(o, k, what, msg)) || (st = get_num(o, "mu", &g->mu, what, msg)) ||
        (st = get_num(o, "sd", &g->sd, what, msg)) ||
        (st = get_bool(o, "fixed", &g->fixed, what, msg)) ||
        (st = get_num(o, "nu", &g->nu, what, msg)) ||
        (marginal && (st = get_bool(o, "marginal", marginal, what, msg))))
        return st;
    return VBT_OK;
}

static int parse_scalar(const cJSON *o, vbt_vep_scalar_prior *s, const char *what, vbt_msg *msg)
{
    static const char *const keys[] = {"dist", "mu", "sd", "lower", "fixed", "value", NULL};
    int st;
    if ((st = only_keys(o, keys, what, msg)))
        return st;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dist");
    if (d) {
        if (cJSON_IsString(d) && strcmp(d->valuestring, "normal") == 0)
            s->dist = VBT_VEP_NORMAL;
        else if (cJSON_IsString(d) && strcmp(d->valuestring, "lognormal") == 0)
            s->dist = VBT_VEP_LOGNORMAL;
        else
            return vbt__fail(msg, VBT_EFORMAT, "%s: \"dist\" must be \"normal\" or \"lognormal\"",
                             what);
    }
    if ((st = get_num(o, "mu", &s->mu, what, msg)) || (st = get_num(o, "sd", &s->sd, what, msg)) ||
        (st = get_num(o, "lower", &s->lo, what, msg)) ||
        (st = get_num(o, "value", &s->value, what, msg)) ||
        (st = get_bool(o, "fixed", &s->fixed, what, msg)))
        return st;
    return VBT_OK;
}

static int parse_priors(const cJSON *root, vbt_vep_priors *p, const char (*labels)[VBT_LABEL_MAX],
                        size_t n_regions, const char *path, vbt_msg *msg)
{
    static const char *const keys[] = {"x0", "x0_ez", "ez", "x_init", "z_init", "offset", "K",
                                       "tau0", "amp", "eps", "likelihood_weight", "input_gain",
                                       NULL};
    char what[600];
    snprintf(what, sizeof what, "priors '%s'", path);
    int st = only_keys(root, keys, what, msg);
    if (st)
        return st;
    struct { const char *key; vbt_vep_group_prior *g; int keys; } groups[] = {
        {"x0", &p->x0, GK_FIXED | GK_NU}, {"x_init", &p->x_init, GK_FIXED | GK_NU},
        {"z_init", &p->z_init, GK_FIXED | GK_NU}, {"offset", &p->off, GK_FIXED},
        {"input_gain", &p->gin, GK_FIXED}};
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, groups[k].key);
        snprintf(what, sizeof what, "priors '%s': %s", path, groups[k].key);
        if (o && (st = parse_group(o, groups[k].g, groups[k].keys,
                                   groups[k].g == &p->off ? &p->off_marginal : NULL, what, msg)))
            return st;
    }
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "x0_ez");
    if (o) {
        vbt_vep_group_prior g = {p->x0_ez_mu, p->x0_ez_sd, 0, 0};
        snprintf(what, sizeof what, "priors '%s': x0_ez", path);
        if ((st = parse_group(o, &g, 0, NULL, what, msg)))
            return st;
        p->x0_ez_mu = g.mu;
        p->x0_ez_sd = g.sd;
    }
    struct { const char *key; vbt_vep_scalar_prior *s; } scal[] = {
        {"K", &p->K}, {"tau0", &p->tau0}, {"amp", &p->amp}, {"eps", &p->eps}};
    for (size_t k = 0; k < sizeof scal / sizeof scal[0]; k++) {
        o = cJSON_GetObjectItemCaseSensitive(root, scal[k].key);
        snprintf(what, sizeof what, "priors '%s': %s", path, scal[k].key);
        if (o && (st = parse_scalar(o, scal[k].s, what, msg)))
            return st;
    }
    o = cJSON_GetObjectItemCaseSensitive(root, "likelihood_weight");
    if (o) {
        if (!cJSON_IsNumber(o) || !(o->valuedouble > 0 && o->valuedouble <= 1))
            return vbt__fail(msg, VBT_EFORMAT,
                             "priors '%s': \"likelihood_weight\" must be a number in (0, 1]", path);
        p->lik_weight = o->valuedouble;
    }
    o = cJSON_GetObjectItemCaseSensitive(root, "ez");
    if (o) {
        if (!cJSON_IsArray(o))
            return vbt__fail(msg, VBT_EFORMAT, "priors '%s': \"ez\" must be an array", path);
        p->n_ez = 0;
        for (const cJSON *it = o->child; it; it = it->next) {
            if (p->n_ez == VBT_VEP_MAX_EZ)
                return vbt__fail(msg, VBT_ERANGE, "priors '%s': more than %d EZ regions", path,
                                 VBT_VEP_MAX_EZ);
            size_t idx;
            if (cJSON_IsNumber(it)) {
                double v = it->valuedouble;
                if (!(v >= 0) || v != floor(v) || v >= (double)n_regions)
                    return vbt__fail(msg, VBT_ERANGE,
                                     "priors '%s': EZ index %g is not in 0..%zu", path, v,
                                     n_regions ? n_regions - 1 : 0);
                idx = (size_t)v;
            } else if (cJSON_IsString(it)) {
                size_t r = 0;
                for (; labels && r < n_regions; r++)
                    if (strcmp(labels[r], it->valuestring) == 0)
                        break;
                if (!labels || r == n_regions)
                    return vbt__fail(msg, VBT_ENOTFOUND, "priors '%s': EZ region '%s' not found",
                                     path, it->valuestring);
                idx = r;
            } else {
                return vbt__fail(msg, VBT_EFORMAT,
                                 "priors '%s': \"ez\" entries must be indices or labels", path);
            }
            p->ez[p->n_ez++] = idx;
        }
    }
    st = vbt_vep_priors_validate(p, n_regions, msg);
    if (st && msg) {
        /* the file names the problem: "priors 'PATH': x0: ..." */
        static const char pre[] = "vep priors: ";
        char why[sizeof msg->text];
        const char *t = msg->text;
        snprintf(why, sizeof why, "%s", strncmp(t, pre, sizeof pre - 1) ? t : t + sizeof pre - 1);
        vbt__fail(msg, st, "priors '%s': %s", path, why);
    }
    return st;
}

int vbt_vep_priors_load_json(vbt_vep_priors *p, const char *path,
                             const char (*labels)[VBT_LABEL_MAX], size_t n_regions, vbt_msg *msg)
{
    if (!p || !path)
        return vbt__fail(msg, VBT_EINVAL, "priors: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return vbt__fail(msg, VBT_EIO, "priors '%s': cannot open", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t nc = cap ? 2 * cap : 8192;
            if (nc > ((size_t)1 << 26)) {
                free(buf);
                fclose(f);
                return vbt__fail(msg, VBT_EFORMAT, "priors '%s': file too large", path);
            }
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return vbt__fail(msg, VBT_ENOMEM, "priors '%s': out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return vbt__fail(msg, VBT_EIO, "priors '%s': read error", path);
    }
    buf[len] = '\0';
    cJSON *root = cJSON_Parse(buf);
    free(buf);
    if (!root)
        return vbt__fail(msg, VBT_EFORMAT, "priors '%s': not valid JSON", path);
    vbt_vep_priors tmp = *p;
    int st = parse_priors(root, &tmp, labels, n_regions, path, msg);
    cJSON_Delete(root);
    if (st == VBT_OK)
        *p = tmp;
    return st;
}

/* ---- the resolved priors as JSON (vbt_vep.h) ---------------------------- */

static cJSON *group_json(const vbt_vep_group_prior *g, int keys, const int *marginal)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "mu", g->mu);
    cJSON_AddNumberToObject(o, "sd", g->sd);
    if (keys & GK_FIXED)
        cJSON_AddBoolToObject(o, "fixed", g->fixed);
    if (keys & GK_NU)
        cJSON_AddNumberToObject(o, "nu", g->nu);
    if (marginal)
        cJSON_AddBoolToObject(o, "marginal", *marginal);
    return o;
}

static cJSON *scalar_json(const vbt_vep_scalar_prior *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "dist", s->dist == VBT_VEP_LOGNORMAL ? "lognormal" : "normal");
    cJSON_AddNumberToObject(o, "mu", s->mu);
    cJSON_AddNumberToObject(o, "sd", s->sd);
    cJSON_AddNumberToObject(o, "lower", s->lo);
    cJSON_AddBoolToObject(o, "fixed", s->fixed);
    cJSON_AddNumberToObject(o, "value", s->value);
    return o;
}

char *vbt_vep_priors_json(const vbt_vep_priors *p)
{
    if (!p)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    vbt_vep_group_prior ez = {p->x0_ez_mu, p->x0_ez_sd, 0, 0};
    cJSON_AddItemToObject(root, "x0", group_json(&p->x0, GK_FIXED | GK_NU, NULL));
    cJSON_AddItemToObject(root, "x0_ez", group_json(&ez, 0, NULL));
    cJSON *e = cJSON_AddArrayToObject(root, "ez");
    for (size_t k = 0; e && k < p->n_ez && k < VBT_VEP_MAX_EZ; k++)
        cJSON_AddItemToArray(e, cJSON_CreateNumber((double)p->ez[k]));
    cJSON_AddItemToObject(root, "x_init", group_json(&p->x_init, GK_FIXED | GK_NU, NULL));
    cJSON_AddItemToObject(root, "z_init", group_json(&p->z_init, GK_FIXED | GK_NU, NULL));
    cJSON_AddItemToObject(root, "offset", group_json(&p->off, GK_FIXED, &p->off_marginal));
    cJSON_AddItemToObject(root, "K", scalar_json(&p->K));
    cJSON_AddItemToObject(root, "tau0", scalar_json(&p->tau0));
    cJSON_AddItemToObject(root, "amp", scalar_json(&p->amp));
    cJSON_AddItemToObject(root, "eps", scalar_json(&p->eps));
    int nkeys = 10;
    if (p->lik_weight > 0 && p->lik_weight != 1) { /* written only when it tempers */
        cJSON_AddNumberToObject(root, "likelihood_weight", p->lik_weight);
        nkeys++;
    }
    if (!p->gin.fixed || p->gin.mu != 0 || p->gin.sd != 0.5) { /* only when not the default */
        cJSON_AddItemToObject(root, "input_gain", group_json(&p->gin, GK_FIXED, NULL));
        nkeys++;
    }
    /* a key missing (out of memory) would not read back to *p */
    int whole = cJSON_GetArraySize(root) == nkeys &&
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "ez")) == (int)p->n_ez;
    /* cJSON prints a double with 15 significant digits when that reads back
     * to the same value, else 17: the text round-trips exactly */
    char *txt = whole ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return txt;
}
