/* sampler_advi.c -- ADVI (vbt_advi) from the mode as a sampler: the fitted
 * Gaussian's draws (vbt_advi_draw, stream (seed, 1)), unweighted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

static int advi_run(const vbt_target *t, const vbt_sampler_opts *o, vbt_sampler_result *r,
                    vbt_msg *msg)
{
    const size_t n = t->n, D = o->n_draws;
    vbt_advi_opts a = o->advi;
    a.seed = o->seed;
    int st = vbt__sampler_alloc_draws(r, n, 1, D, msg);
    if (st)
        return st;
    r->mode = malloc(n * sizeof *r->mode);
    r->advi_mu = malloc(n * sizeof *r->advi_mu);
    r->advi_scale = malloc((a.family == VBT_ADVI_FULLRANK ? n * n : n) * sizeof *r->advi_scale);
    if (!r->mode || !r->advi_mu || !r->advi_scale)
        return vbt__fail(msg, VBT_ENOMEM, "advi: out of memory (%zu parameters)", n);
    if ((st = vbt__sampler_mode(t, o, r->mode, &r->mode_lp, msg)) != VBT_OK)
        return st;
    memcpy(r->advi_mu, r->mode, n * sizeof *r->advi_mu);
    if ((st = vbt_advi(t->logp, t->ctx[0], n, &a, r->advi_mu, r->advi_scale, &r->advi, msg)))
        return st;
    vbt_advi_draw(n, a.family, r->advi_mu, r->advi_scale, D, a.seed, 1, r->draws);
    for (size_t d = 0; d < D; d++)
        if (t->logp(t->ctx[0], r->draws + d * n, &r->lp[d], NULL) != 0 || !isfinite(r->lp[d]))
            r->lp[d] = -HUGE_VAL;
    return VBT_OK;
}

const vbt_sampler_type vbt__sampler_advi = {
    .name = "advi",
    .description = "automatic differentiation variational inference from the mode",
    .flags = 0,
    .run = advi_run,
};
