/* sampler_laplace.c -- the Laplace approximation at the mode, its draws
 * weighted by Pareto-smoothed importance sampling.  The arithmetic is
 * vbt_vep_laplace's, step for step (negative Hessian by central differences
 * of the gradient with h = 1e-5, symmetrised; Cholesky of the precision;
 * draws by back substitution from stream (seed, 0); log weights relative to
 * the mode), so that on the VEP target the two give the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"
#include "vbt_rng.h"
#include "vbt_vep.h"       /* vbt_psis */
#include "vep_internal.h"  /* vbt__cholesky */

#define LAPLACE_H 1e-5

static int laplace_run(const vbt_target *t, const vbt_sampler_opts *o, vbt_sampler_result *r,
                       vbt_msg *msg)
{
    const size_t n = t->n, D = o->n_draws;
    void *ctx = t->ctx[0];
    int st = vbt__sampler_alloc_draws(r, n, 1, D, msg);
    if (st)
        return st;
    r->mode = malloc(n * sizeof *r->mode);
    r->log_w = malloc(D * sizeof *r->log_w);
    double *H = malloc(n * n * sizeof *H), *th = malloc(n * sizeof *th),
           *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm), *z = malloc(n * sizeof *z);
    if (!r->mode || !r->log_w || !H || !th || !gp || !gm || !z) {
        st = vbt__fail(msg, VBT_ENOMEM, "laplace: out of memory (%zu parameters)", n);
        goto out;
    }
    if ((st = vbt__sampler_mode(t, o, r->mode, &r->mode_lp, msg)) != VBT_OK)
        goto out;
    /* the value at the mode as the weights see it (a mode search may report one from
     * another evaluation path) */
    if (t->logp(ctx, r->mode, &r->mode_lp, NULL) != 0 || !isfinite(r->mode_lp)) {
        st = vbt__fail(msg, VBT_ENUMERIC, "laplace: log density not finite at the mode");
        goto out;
    }
    const double *mode = r->mode, h = LAPLACE_H;
    r->hess_h = h;
    memcpy(th, mode, n * sizeof *th);
    for (size_t j = 0; j < n; j++) {
        double l;
        th[j] = mode[j] + h;
        int s1 = t->logp(ctx, th, &l, gp);
        th[j] = mode[j] - h;
        int s2 = t->logp(ctx, th, &l, gm);
        th[j] = mode[j];
        if (s1 || s2) {
            st = vbt__fail(msg, VBT_ENUMERIC, "laplace: gradient not finite near the mode "
                                              "(parameter %zu)", j);
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            H[i * n + j] = -(gp[i] - gm[i]) / (2.0 * h);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) {
            double a = 0.5 * (H[i * n + j] + H[j * n + i]);
            H[i * n + j] = H[j * n + i] = a;
        }
    if (vbt__cholesky(H, n) != 0) {
        st = vbt__fail(msg, VBT_ENUMERIC,
                       "laplace: the negative Hessian is not positive definite (not a mode?)");
        goto out;
    }
    double sumlog = 0;
    for (size_t i = 0; i < n; i++)
        sumlog += log(H[i * n + i]);
    r->log_det_cov = -2.0 * sumlog;
    vbt_rng rng;
    vbt_rng_init(&rng, o->seed, 0);
    for (size_t d = 0; d < D; d++) {
        vbt_rng_normal(&rng, z, n);
        double zz = 0;
        for (size_t i = 0; i < n; i++)
            zz += z[i] * z[i];
        /* L^T v = z: v ~ N(0, (L L^T)^-1) */
        double *v = r->draws + d * n;
        for (size_t i = n; i-- > 0;) {
            double s = z[i];
            for (size_t k = i + 1; k < n; k++)
                s -= H[k * n + i] * v[k];
            v[i] = s / H[i * n + i];
        }
        for (size_t i = 0; i < n; i++)
            v[i] += mode[i];
        double lp;
        if (t->logp(ctx, v, &lp, NULL) != 0 || !isfinite(lp))
            lp = -HUGE_VAL;
        r->lp[d] = lp;
        /* log q and log p relative to their values at the mode: the constants cancel in
         * the normalised weights */
        r->log_w[d] = (isfinite(lp) ? lp - r->mode_lp : -HUGE_VAL) + 0.5 * zz;
    }
    r->khat = r->ess = NAN;
    if (D >= 5) {
        if (vbt_psis(r->log_w, D, &r->khat) != VBT_OK) {
            st = vbt__fail(msg, VBT_ENUMERIC, "laplace: no draw has a finite log density");
            goto out;
        }
        double s2 = 0;
        for (size_t d = 0; d < D; d++)
            s2 += exp(2.0 * r->log_w[d]);
        r->ess = 1.0 / s2;
    }
out:
    free(H);
    free(th);
    free(gp);
    free(gm);
    free(z);
    return st;
}

const vbt_sampler_type vbt__sampler_laplace = {
    .name = "laplace",
    .description = "Gaussian at the mode (finite-difference Hessian), draws weighted by PSIS",
    .flags = VBT_SAMPLER_WEIGHTED,
    .run = laplace_run,
};
