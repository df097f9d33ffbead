/* vep_smc.c -- SMC on the BVEP posterior (vbt_vep_smc): the prior is the
 * model's own (vbt_vep_prior_draw, vbt_vep_logprior), the likelihood is the
 * log posterior minus the log prior, both with the adjoint gradient, so the
 * moves are HMC.  Every thread works on a private clone of the model (its
 * workspaces are mutable), with its own scratch for the prior gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vep_internal.h"
#include "vbt_smc.h"

typedef struct vctx {
    vbt_vep *m;
    double *gp;     /* n_params: the prior gradient taken out of the posterior's */
} vctx;

static void v_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    vbt_vep_prior_draw(((vctx *)ctx)->m, seed, stream, th);
}

static double v_prior(void *ctx, const double *th)
{
    return vbt_vep_logprior(((vctx *)ctx)->m, th, NULL);
}

static double v_prior_grad(void *ctx, const double *th, double *g)
{
    return vbt_vep_logprior(((vctx *)ctx)->m, th, g);
}

static double v_lik(void *ctx, const double *th)
{
    vctx *c = ctx;
    double lp;
    if (vbt_vep_logp(c->m, th, &lp, NULL) != VBT_OK || !isfinite(lp))
        return -HUGE_VAL;
    return lp - vbt_vep_logprior(c->m, th, NULL);
}

static double v_lik_grad(void *ctx, const double *th, double *g)
{
    vctx *c = ctx;
    double lp;
    if (vbt_vep_logp(c->m, th, &lp, g) != VBT_OK || !isfinite(lp))
        return -HUGE_VAL;
    double lq = vbt_vep_logprior(c->m, th, c->gp);
    const size_t n = vbt_vep_n_params(c->m);
    for (size_t d = 0; d < n; d++)
        g[d] -= c->gp[d];
    return lp - lq;
}

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
    const size_t n = vbt_vep_n_params(m);
    vctx *c = calloc(T, sizeof *c);
    void **tc = calloc(T, sizeof *tc);
    int st = VBT_OK;
    if (!c || !tc) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep smc: out of memory");
        goto out;
    }
    for (size_t t = 0; t < T; t++) {
        if ((st = vbt__vep_clone(m, &c[t].m, msg)) != VBT_OK)
            goto out;
        if (!(c[t].gp = malloc(n * sizeof *c[t].gp))) {
            st = vbt__fail(msg, VBT_ENOMEM, "vep smc: out of memory");
            goto out;
        }
        tc[t] = &c[t];
    }
    /* the likelihood needs data; check once here rather than fail at every particle */
    double lp;
    vbt_vep_prior_draw(m, o.seed, 0, particles);
    if (vbt_vep_logp(c[0].m, particles, &lp, NULL) == VBT_EINVAL) {
        st = vbt__fail(msg, VBT_EINVAL, "vep smc: the model has no data");
        goto out;
    }
    const vbt_smc_model model = {.n = n, .draw_prior = v_draw, .log_prior = v_prior,
                                 .log_lik = v_lik, .log_prior_grad = v_prior_grad,
                                 .log_lik_grad = v_lik_grad};
    o.n_threads = T;
    o.thread_ctx = tc;
    st = vbt_smc(&model, NULL, &o, particles, res, msg);
out:
    if (c)
        for (size_t t = 0; t < T; t++) {
            vbt_vep_free(c[t].m);
            free(c[t].gp);
        }
    free(c);
    free(tc);
    return st;
}
