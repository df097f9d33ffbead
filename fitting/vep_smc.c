/* vep_smc.c -- SMC on the BVEP posterior (vbt_vep_smc): the prior is the
 * model's own (vbt_vep_prior_draw, vbt_vep_logprior), the likelihood is the
 * log posterior minus the log prior, both with the adjoint gradient, so the
 * moves are HMC.  Every thread works on a private clone of the model (its
 * workspaces are mutable): the contexts of the model's sampler target
 * (vbt_vep_target_alloc), whose callbacks these are. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vbt_sampler.h"
#include "vbt_smc.h"
#include "vep_internal.h"

int vbt_vep_smc(const vbt_vep *m, const vbt_smc_opts *o_in, double *particles,
                vbt_smc_result *res, vbt_msg *msg)
{
    if (!m || !particles || !res)
        return vbt__fail(msg, VBT_EINVAL, "vep smc: NULL argument");
    if (vbt_vep_n_params(m) == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep smc: every parameter is fixed");
    vbt_smc_opts o;
    if (o_in)
        o = *o_in;
    else
        vbt_smc_opts_default(&o);
    size_t T = o.n_threads ? o.n_threads : 1;
    if (T > 64)
        return vbt__fail(msg, VBT_EINVAL, "vep smc: at most 64 threads");
    /* the target's private clones and prior/likelihood split (vep_target.c);
     * it refuses a model without data once, rather than at every particle */
    vbt_vep_target *vt = NULL;
    int st = vbt_vep_target_alloc(&vt, m, T, NULL, msg);
    if (st != VBT_OK)
        return st;
    const vbt_target *t = vbt_vep_target_get(vt);
    const vbt_smc_model model = {.n = t->n, .draw_prior = t->draw_prior,
                                 .log_prior = t->log_prior, .log_lik = t->log_lik,
                                 .log_prior_grad = t->log_prior_grad,
                                 .log_lik_grad = t->log_lik_grad};
    o.n_threads = T;
    o.thread_ctx = (void **)t->ctx;
    st = vbt_smc(&model, NULL, &o, particles, res, msg);
    vbt_vep_target_free(vt);
    return st;
}
