/* vep_target.c -- the BVEP posterior as a sampler target (vbt_sampler.h):
 * one private clone of the model per context, as vbt_vep_smc and
 * vbt_vep_map make them, with the callbacks vbt fit calls directly, so that
 * a sampler through the table does the same arithmetic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vbt_sampler.h"
#include "vep_internal.h"

typedef struct vctx {
    vbt_vep *m;
    double *gp;           /* n_params: the prior gradient taken out of the posterior's */
    vbt_vep_target *owner;
} vctx;

struct vbt_vep_target {
    vbt_target t;
    vctx *c;
    void **ctx;
    size_t n_ctx, np;
    vbt_vep_map_opts mo;
    int has_map;
    vbt_vep_map_result mr;
    double *lp_starts, *th_starts;
    size_t n_starts;
};

static int t_logp(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(((vctx *)ctx)->m, th, lp, grad);
}

static void t_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    vbt_vep_prior_draw(((vctx *)ctx)->m, seed, stream, th);
}

static double t_prior(void *ctx, const double *th)
{
    return vbt_vep_logprior(((vctx *)ctx)->m, th, NULL);
}

static double t_prior_grad(void *ctx, const double *th, double *g)
{
    return vbt_vep_logprior(((vctx *)ctx)->m, th, g);
}

static double t_lik(void *ctx, const double *th)
{
    vctx *c = ctx;
    double lp;
    if (vbt_vep_logp(c->m, th, &lp, NULL) != VBT_OK || !isfinite(lp))
        return -HUGE_VAL;
    return lp - vbt_vep_logprior(c->m, th, NULL);
}

static double t_lik_grad(void *ctx, const double *th, double *g)
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

static int t_find_mode(void *ctx, const vbt_sampler_opts *o, double *mode, double *lp,
                       vbt_msg *msg)
{
    vctx *c = ctx;
    vbt_vep_target *vt = c->owner;
    vbt_vep_map_opts mo = vt->mo;
    mo.n_starts = o->map_starts;
    mo.n_threads = o->n_threads ? o->n_threads : 1;
    mo.seed = o->seed;
    if (mo.n_starts != vt->n_starts) {
        free(vt->lp_starts);
        free(vt->th_starts);
        vt->lp_starts = malloc((mo.n_starts ? mo.n_starts : 1) * sizeof *vt->lp_starts);
        vt->th_starts = malloc((mo.n_starts ? mo.n_starts : 1) * vt->np * sizeof *vt->th_starts);
        vt->n_starts = mo.n_starts;
        vt->has_map = 0;
        if (!vt->lp_starts || !vt->th_starts) {
            free(vt->lp_starts);
            free(vt->th_starts);
            vt->lp_starts = vt->th_starts = NULL;
            vt->n_starts = 0;
            return vbt__fail(msg, VBT_ENOMEM, "vep target: out of memory for %zu starts",
                             mo.n_starts);
        }
    }
    int st = vbt_vep_map(c->m, &mo, mode, &vt->mr, vt->lp_starts, vt->th_starts, msg);
    vt->has_map = st == VBT_OK;
    if (!st)
        *lp = vt->mr.best_lp;
    return st;
}

void vbt_vep_target_free(vbt_vep_target *vt)
{
    if (!vt)
        return;
    for (size_t k = 0; vt->c && k < vt->n_ctx; k++) {
        vbt_vep_free(vt->c[k].m);
        free(vt->c[k].gp);
    }
    free(vt->c);
    free(vt->ctx);
    free(vt->lp_starts);
    free(vt->th_starts);
    free(vt);
}

int vbt_vep_target_alloc(vbt_vep_target **out, const vbt_vep *m, size_t n_ctx,
                         const vbt_vep_map_opts *mo, vbt_msg *msg)
{
    if (!out || !m)
        return vbt__fail(msg, VBT_EINVAL, "vep target: NULL argument");
    *out = NULL;
    if (n_ctx == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep target: no contexts");
    const size_t np = vbt_vep_n_params(m);
    if (np == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep target: every parameter is fixed");
    vbt_vep_target *vt = calloc(1, sizeof *vt);
    if (!vt)
        return vbt__fail(msg, VBT_ENOMEM, "vep target: out of memory");
    int st = VBT_OK;
    vt->np = np;
    vt->n_ctx = n_ctx;
    if (mo)
        vt->mo = *mo;
    else
        vbt_vep_map_opts_default(&vt->mo);
    vt->c = calloc(n_ctx, sizeof *vt->c);
    vt->ctx = calloc(n_ctx, sizeof *vt->ctx);
    if (!vt->c || !vt->ctx) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep target: out of memory for %zu contexts", n_ctx);
        goto fail;
    }
    for (size_t k = 0; k < n_ctx; k++) {
        if ((st = vbt__vep_clone(m, &vt->c[k].m, msg)) != VBT_OK)
            goto fail;
        if (!(vt->c[k].gp = malloc(np * sizeof *vt->c[k].gp))) {
            st = vbt__fail(msg, VBT_ENOMEM, "vep target: out of memory");
            goto fail;
        }
        vt->c[k].owner = vt;
        vt->ctx[k] = &vt->c[k];
    }
    /* the likelihood needs data: check once here rather than fail in every sampler */
    double lp;
    vbt_vep_prior_draw(m, 0, 0, vt->c[0].gp);
    if (vbt_vep_logp(vt->c[0].m, vt->c[0].gp, &lp, NULL) == VBT_EINVAL) {
        st = vbt__fail(msg, VBT_EINVAL, "vep target: the model has no data");
        goto fail;
    }
    vt->t = (vbt_target){.n = np, .logp = t_logp, .draw_prior = t_draw,
                         .log_prior_grad = t_prior_grad, .log_lik_grad = t_lik_grad,
                         .find_mode = t_find_mode, .ctx = vt->ctx, .n_ctx = n_ctx,
                         .log_prior = t_prior, .log_lik = t_lik};
    *out = vt;
    return VBT_OK;
fail:
    vbt_vep_target_free(vt);
    return st;
}

const vbt_target *vbt_vep_target_get(const vbt_vep_target *vt)
{
    return vt ? &vt->t : NULL;
}

vbt_vep *vbt_vep_target_model(const vbt_vep_target *vt, size_t k)
{
    return vt && k < vt->n_ctx ? vt->c[k].m : NULL;
}

const vbt_vep_map_result *vbt_vep_target_map_result(const vbt_vep_target *vt,
                                                    const double **lp_starts,
                                                    const double **theta_starts,
                                                    size_t *n_starts)
{
    if (!vt || !vt->has_map)
        return NULL;
    if (lp_starts)
        *lp_starts = vt->lp_starts;
    if (theta_starts)
        *theta_starts = vt->th_starts;
    if (n_starts)
        *n_starts = vt->n_starts;
    return &vt->mr;
}
