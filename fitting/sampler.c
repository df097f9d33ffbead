/* sampler.c -- the registry of samplers, their shared options and result,
 * the one entry point that checks a target against a type's needs, and the
 * mode every mode-based sampler starts from.  The types themselves are at
 * the end of sampler_<name>.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

void vbt_sampler_opts_default(vbt_sampler_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_chains = 4;
    o->n_draws = 1000;
    o->n_threads = 1;
    o->map_starts = 16;
    vbt_nuts_opts_default(&o->nuts);
    vbt_advi_opts_default(&o->advi);
    vbt_smc_opts_default(&o->smc);
}

void vbt_sampler_result_clear(vbt_sampler_result *r)
{
    if (!r)
        return;
    free(r->draws);
    free(r->lp);
    free(r->log_w);
    free(r->mode);
    free(r->run_log_evidence);
    free(r->stats);
    free(r->info);
    free(r->inits);
    free(r->cov);
    free(r->advi_mu);
    free(r->advi_scale);
    free(r->smc);
    free(r->temperatures);
    memset(r, 0, sizeof *r);
    r->mode_lp = r->khat = r->log_evidence = r->log_evidence_sd = NAN;
    r->ess = r->log_det_cov = r->hess_h = NAN;
}

const vbt_sampler_type *const vbt_sampler_map = &vbt__sampler_map;
const vbt_sampler_type *const vbt_sampler_laplace = &vbt__sampler_laplace;
const vbt_sampler_type *const vbt_sampler_nuts = &vbt__sampler_nuts;
const vbt_sampler_type *const vbt_sampler_advi = &vbt__sampler_advi;
const vbt_sampler_type *const vbt_sampler_smc = &vbt__sampler_smc;

const vbt_sampler_type *const vbt_sampler_types[] = {
    &vbt__sampler_map, &vbt__sampler_laplace, &vbt__sampler_nuts, &vbt__sampler_advi,
    &vbt__sampler_smc, NULL,
};

const vbt_sampler_type *vbt_sampler_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t k = 0; vbt_sampler_types[k]; k++)
        if (!strcmp(vbt_sampler_types[k]->name, name))
            return vbt_sampler_types[k];
    return NULL;
}

int vbt_sampler_run(const vbt_sampler_type *type, const vbt_target *t,
                    const vbt_sampler_opts *o, vbt_sampler_result *r, vbt_msg *msg)
{
    if (!type || !type->run || !t || !o || !r)
        return vbt__fail(msg, VBT_EINVAL, "sampler: NULL argument");
    /* a cleared result, so that every field the type leaves is NULL or NAN */
    memset(r, 0, sizeof *r);
    vbt_sampler_result_clear(r);
    if (t->n == 0 || !t->logp)
        return vbt__fail(msg, VBT_EINVAL, "sampler %s: the target has no parameters or no "
                                          "log density", type->name);
    if (!t->ctx || t->n_ctx == 0)
        return vbt__fail(msg, VBT_EINVAL, "sampler %s: the target has no context", type->name);
    if ((type->flags & VBT_SAMPLER_NEEDS_PRIOR) &&
        (!t->draw_prior || !t->log_prior_grad || !t->log_lik_grad))
        return vbt__fail(msg, VBT_EINVAL, "sampler %s: the target needs draw_prior, "
                                          "log_prior_grad and log_lik_grad", type->name);
    if (o->n_draws == 0)
        return vbt__fail(msg, VBT_EINVAL, "sampler %s: no draws", type->name);
    size_t C = (type->flags & VBT_SAMPLER_CHAINS) ? o->n_chains : 1;
    if (C == 0)
        return vbt__fail(msg, VBT_EINVAL, "sampler %s: no chains", type->name);
    if (t->n_ctx < C)
        return vbt__fail(msg, VBT_EINVAL, "sampler %s: %zu context(s) for %zu chain(s)",
                         type->name, t->n_ctx, C);
    return type->run(t, o, r, msg);
}

double *vbt__sampler_dup(const double *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

int vbt__sampler_alloc_draws(vbt_sampler_result *r, size_t n, size_t C, size_t D, vbt_msg *msg)
{
    r->n = n;
    r->n_chains = C;
    r->n_draws = D;
    r->draws = malloc(C * D * n * sizeof *r->draws);
    r->lp = malloc(C * D * sizeof *r->lp);
    if (!r->draws || !r->lp)
        return vbt__fail(msg, VBT_ENOMEM, "sampler: out of memory for %zu x %zu draws", C, D);
    return VBT_OK;
}

int vbt__sampler_mode(const vbt_target *t, const vbt_sampler_opts *o, double *mode, double *lp,
                      vbt_msg *msg)
{
    if (o->mode) {
        memcpy(mode, o->mode, t->n * sizeof *mode);
        if (t->logp(t->ctx[0], mode, lp, NULL) != 0 || !isfinite(*lp))
            return vbt__fail(msg, VBT_ENUMERIC, "sampler: the log density is not finite at the "
                                                "given mode");
        return VBT_OK;
    }
    if (t->find_mode)
        return t->find_mode(t->ctx[0], o, mode, lp, msg);
    return vbt__sampler_multistart(t, o, mode, lp, msg);
}
