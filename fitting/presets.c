/* presets.c -- named sets of fit settings: the patient pipeline's
 * (docs/pipeline.md), defined here once so that the pipeline, its tests and
 * a cohort runner share them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_fit.h"

void vbt_vep_pipeline_preset_default(vbt_vep_pipeline_preset *p)
{
    memset(p, 0, sizeof *p);
    p->method = "nuts";
    p->obs = "seizure";
    p->data_norm = "excess";
    p->gain_norm = "power-abs";
    /* The window spans 0.69 seizure durations before the onset and 0.5 after
     * the offset: with dt = 17.5 / points (0.175 at 100 points) the seizure
     * lasts 8 model time units and starts 5.5 units in, as the 2D
     * Epileptor's does from (x, z) = (-2, 4) at x0 = -1.6 and tau0 = 10. */
    p->points = 100;
    p->window = 17.5;
    p->pre_scale = 0.69;
    p->post_scale = 0.5;
    /* 128 starts with the best 8 polished, then 8 rounds of 6 hops from the
     * best mode so far, for about the CPU of the 256 starts and 16 polishes
     * before (the sample patient's pipeline: 50 instead of 45 s):
     * on the 10 tuning patients of the EZ benchmark the search reached the
     * best mode any setting found for 7 (before: 2), and the fit's F1 went
     * from 0.610 to 0.667 (docs/fitting.md, "Hops"; docs/validation.md) */
    p->map_starts = 128;
    p->map_polish = 8;
    p->map_hop_rounds = 8;
    p->map_hops = 6;
    p->map_init = "data";
    /* NUTS from the best mode with the Laplace covariance as a fixed metric
     * (docs/fitting.md: on the sample patient R-hat <= 1.007, no divergences) */
    p->nuts_metric = "laplace";
    p->nuts_warmup = 300; /* 4 x 500 draws: bulk ESS > 1000 for P(EZ) to 0.01 */
    p->nuts_draws = 500;
    p->nuts_adapt_delta = 0.95;
    /* Every region x0 ~ N(-3.5, 0.15): healthy unless the data say otherwise
     * (BVEP 2022's healthy mean; prior mass 0.036 above the PZ threshold per
     * region, so that regions no contact sees do not make draws seize).  The
     * window starts at rest, so the initial state is held at (x, z) = (-2, 4)
     * (a free z_init lets a region delay its own onset instead of being
     * recruited).  tau0 ~ N(10, 5) on (2, inf) absorbs the seizure's
     * duration; amp (power per seizing region, in units of the largest
     * feature rise) log-normal(0, 3); eps >= 0.05, a floor for model error
     * (without it the fit tunes healthy regions' resting states to time the
     * recruitment). */
    p->x0 = (vbt_vep_group_prior){-3.5, 0.15, 0, 0};
    p->x_init = (vbt_vep_group_prior){-2.0, 1.0, 1, 0};
    p->z_init = (vbt_vep_group_prior){4.0, 0.5, 1, 0};
    p->tau0 = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 10.0, 5.0, 2.0, 0, 10.0};
    p->amp = (vbt_vep_scalar_prior){VBT_VEP_LOGNORMAL, 0.0, 3.0, 0.0, 0, 1.0};
    p->eps = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 0.0, 1.0, 0.05, 0, 1.0};
    /* K: BVEP's N(1, 0.1).  A free global scale (log-normal(0, 1), for an
     * atlas connectome that is not the patient's) went down to K ~ 0.04 on
     * the benchmark's tuning patients and let healthy regions seize on their
     * own: lower precision (docs/validation.md). */
    p->K = (vbt_vep_scalar_prior){VBT_VEP_NORMAL, 1.0, 0.1, 0.0, 0, 1.0};
    /* No tempering: a likelihood weight of 0.1 or 0.3 left true EZ regions
     * at the prior (docs/validation.md). */
    p->lik_weight = 1.0;
    /* The connectome's edges as given (docs/validation.md: free log input
     * gains, for edges into the propagation zone that the atlas lacks) */
    p->gin = (vbt_vep_group_prior){0.0, 0.5, 1, 0};
}

/* The layout (key order, "-2.0" beside "1") is that of the prior.json the
 * pipeline has always written, with K (and likelihood_weight when it is
 * not 1, x0's nu when it is set, input_gain when it is not fixed at 0) added: the file's SHA-256 is a fit input,
 * so the same settings must give the same bytes or every earlier fit
 * reruns. */
char *vbt_vep_pipeline_prior_json(const vbt_vep_pipeline_preset *p)
{
    static const char *const dist[2] = {"normal", "lognormal"};
    const vbt_vep_scalar_prior *t = &p->tau0, *a = &p->amp, *e = &p->eps, *k = &p->K;
    const char *fmt =
        "{\"x0\": {\"mu\": %.15g, \"sd\": %.15g%s},\n"
        " \"x_init\": {\"mu\": %.1f, \"sd\": %.15g, \"fixed\": %s},\n"
        " \"z_init\": {\"mu\": %.1f, \"sd\": %.15g, \"fixed\": %s},\n"
        " \"tau0\": {\"dist\": \"%s\", \"mu\": %.15g, \"sd\": %.15g, \"lower\": %.15g, "
        "\"fixed\": %s},\n"
        " \"amp\": {\"dist\": \"%s\", \"mu\": %.15g, \"sd\": %.15g},\n"
        " \"eps\": {\"dist\": \"%s\", \"mu\": %.15g, \"sd\": %.15g, \"lower\": %.15g},\n"
        " \"K\": {\"dist\": \"%s\", \"mu\": %.15g, \"sd\": %.15g, \"lower\": %.15g, "
        "\"fixed\": %s, \"value\": %.15g}%s%s}\n";
    char nu[48] = "", lw[64] = "", gi[96] = "";
    if (p->x0.nu > 0)
        snprintf(nu, sizeof nu, ", \"nu\": %.15g", p->x0.nu);
    if (p->lik_weight > 0 && p->lik_weight != 1)
        snprintf(lw, sizeof lw, ",\n \"likelihood_weight\": %.15g", p->lik_weight);
    if (!p->gin.fixed || p->gin.mu != 0)
        snprintf(gi, sizeof gi, ",\n \"input_gain\": {\"mu\": %.15g, \"sd\": %.15g, \"fixed\": %s}",
                 p->gin.mu, p->gin.sd, p->gin.fixed ? "true" : "false");
#define VBT_PRESET_ARGS                                                                    \
    p->x0.mu, p->x0.sd, nu, p->x_init.mu, p->x_init.sd, p->x_init.fixed ? "true" : "false", \
        p->z_init.mu, p->z_init.sd, p->z_init.fixed ? "true" : "false", dist[t->dist != 0], \
        t->mu, t->sd, t->lo, t->fixed ? "true" : "false", dist[a->dist != 0], a->mu, a->sd,  \
        dist[e->dist != 0], e->mu, e->sd, e->lo, dist[k->dist != 0], k->mu, k->sd, k->lo,    \
        k->fixed ? "true" : "false", k->value, lw, gi
    int len = snprintf(NULL, 0, fmt, VBT_PRESET_ARGS);
    char *s = len < 0 ? NULL : malloc((size_t)len + 1);
    if (s)
        snprintf(s, (size_t)len + 1, fmt, VBT_PRESET_ARGS);
#undef VBT_PRESET_ARGS
    return s;
}

/* Index of s in the NULL-terminated list (vbt fit's option values, in the
 * order of the enum they name), or -1. */
static int pick(const char *s, const char *const *list)
{
    for (int k = 0; s && list[k]; k++)
        if (!strcmp(s, list[k]))
            return k;
    return -1;
}

#define PRESET_MAX_STEP 0.175 /* 17.5 / 100: see vbt_vep_pipeline_preset_steps */

size_t vbt_vep_pipeline_preset_steps(const vbt_vep_pipeline_preset *p)
{
    if (!p || !p->points || !(p->window > 0))
        return 1;
    double k = ceil(p->window / (double)p->points / PRESET_MAX_STEP - 1e-9);
    return k > 1 ? (size_t)k : 1;
}

int vbt_vep_pipeline_preset_fit_opts(const vbt_vep_pipeline_preset *p, vbt_fit_opts *o,
                                     vbt_msg *msg)
{
    static const char *const obs[] = {"linear", "log", "power", "seizure", NULL};
    static const char *const dnorm[] = {"none", "power", "excess", "baseline", NULL};
    static const char *const gnorm[] = {"none", "max", "power", "power-abs", NULL};
    static const char *const metrics[] = {"diag", "dense", "laplace", NULL};
    static const char *const minits[] = {"data", "prior", NULL};
    vbt_fit_opts_default(o);
    int ob = pick(p->obs, obs), dn = pick(p->data_norm, dnorm), gn = pick(p->gain_norm, gnorm),
        me = pick(p->nuts_metric, metrics), mi = pick(p->map_init, minits);
    o->sampler = p->method ? vbt_sampler_find(p->method) : NULL;
    if (!o->sampler || ob < 0 || dn < 0 || gn < 0 || me < 0 || mi < 0 || !p->points)
        return vbt__fail(msg, VBT_EINVAL, "pipeline preset: unknown method, obs, data_norm, "
                         "gain_norm, map_init or nuts_metric, or no points");
    char dt[32];
    snprintf(dt, sizeof dt, "%.6g", p->window / (double)p->points);
    o->dt = strtod(dt, NULL);
    o->steps = vbt_vep_pipeline_preset_steps(p);
    o->obs = (vbt_vep_obs)ob;
    o->data_norm = (vbt_fit_data_norm)dn;
    o->gain_norm = (vbt_fit_gain_norm)gn;
    o->starts = p->map_starts;
    o->polish = p->map_polish;
    o->hop_rounds = p->map_hop_rounds;
    o->hops = p->map_hops;
    o->map_init = (vbt_fit_map_init)mi;
    if (!strcmp(p->method, "nuts")) {
        o->metric = (vbt_fit_metric)me;
        o->warmup = p->nuts_warmup;
        o->draws = p->nuts_draws;
        o->adapt_delta = p->nuts_adapt_delta;
    }
    return VBT_OK;
}
