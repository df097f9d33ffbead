/* sampler_map.c -- the posterior mode as a sampler (one draw), and the
 * generic multi-start mode search the mode-based samplers fall back on when
 * the target has no search of its own: GSL's BFGS (Fletcher's line search,
 * gsl_multimin_fdfminimizer_vector_bfgs2) on -log p from several starts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h> /* GSL_SUCCESS; the iteration reports by status, never by the
                               error handler */
#include <gsl/gsl_multimin.h>

#include "sampler_internal.h"
#include "vbt_rng.h"

#define MS_MAX_ITER 1000
#define MS_GTOL 1e-8    /* |grad|_2 at which a start has converged */

typedef struct ms_ctx {
    const vbt_target *t;
    double *th, *g;     /* n scratch */
} ms_ctx;

/* -log p and its gradient; +inf outside the support (GSL's line search then
 * shortens the step). */
static void ms_fdf(const gsl_vector *x, void *p, double *f, gsl_vector *df)
{
    ms_ctx *c = p;
    const size_t n = c->t->n;
    for (size_t i = 0; i < n; i++)
        c->th[i] = gsl_vector_get(x, i);
    double lp;
    int st = c->t->logp(c->t->ctx[0], c->th, &lp, c->g);
    int ok = st == 0 && isfinite(lp);
    for (size_t i = 0; ok && i < n; i++)
        ok = isfinite(c->g[i]);
    if (f)
        *f = ok ? -lp : HUGE_VAL;
    if (df)
        for (size_t i = 0; i < n; i++)
            gsl_vector_set(df, i, ok ? -c->g[i] : 0.0);
}

static double ms_f(const gsl_vector *x, void *p)
{
    double f;
    ms_fdf(x, p, &f, NULL);
    return f;
}

static void ms_df(const gsl_vector *x, void *p, gsl_vector *df)
{
    ms_fdf(x, p, NULL, df);
}

/* One start: BFGS from x0 (n); the end point into x0 and its log density. */
static double ms_climb(ms_ctx *c, gsl_multimin_fdfminimizer *mz, gsl_vector *x, double *x0)
{
    const size_t n = c->t->n;
    gsl_multimin_function_fdf fn = {.f = ms_f, .df = ms_df, .fdf = ms_fdf, .n = n, .params = c};
    for (size_t i = 0; i < n; i++)
        gsl_vector_set(x, i, x0[i]);
    double f0;
    ms_fdf(x, c, &f0, NULL);
    if (!isfinite(f0))
        return -HUGE_VAL;
    /* first step 0.1 (unconstrained parameters are of unit scale), line search tolerance 0.1
     * as GSL recommends for BFGS */
    if (gsl_multimin_fdfminimizer_set(mz, &fn, x, 0.1, 0.1) != GSL_SUCCESS)
        return -HUGE_VAL;
    for (size_t it = 0; it < MS_MAX_ITER; it++) {
        if (gsl_multimin_fdfminimizer_iterate(mz) != GSL_SUCCESS)
            break; /* no further progress along the line: as good as it gets */
        if (gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(mz), MS_GTOL) ==
            GSL_SUCCESS)
            break;
    }
    const gsl_vector *xm = gsl_multimin_fdfminimizer_x(mz);
    for (size_t i = 0; i < n; i++)
        x0[i] = gsl_vector_get(xm, i);
    double f = gsl_multimin_fdfminimizer_minimum(mz);
    return isfinite(f) ? -f : -HUGE_VAL;
}

int vbt__sampler_multistart(const vbt_target *t, const vbt_sampler_opts *o, double *mode,
                            double *lp, vbt_msg *msg)
{
    const size_t n = t->n;
    const size_t S = o->inits ? o->n_chains : o->map_starts;
    if (S == 0)
        return vbt__fail(msg, VBT_EINVAL, "map: no starts");
    double *th = malloc(n * sizeof *th), *g = malloc(n * sizeof *g),
           *x0 = malloc(n * sizeof *x0);
    gsl_vector *x = gsl_vector_alloc(n);
    gsl_multimin_fdfminimizer *mz =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, n);
    int st = VBT_OK;
    if (!th || !g || !x0 || !x || !mz) {
        st = vbt__fail(msg, VBT_ENOMEM, "map: out of memory (%zu parameters)", n);
        goto out;
    }
    ms_ctx c = {.t = t, .th = th, .g = g};
    double best = -HUGE_VAL;
    for (size_t s = 0; s < S; s++) {
        if (o->inits) {
            memcpy(x0, o->inits + s * n, n * sizeof *x0);
        } else if (t->draw_prior) {
            t->draw_prior(t->ctx[0], o->seed, s, x0);
        } else {
            vbt_rng r;
            vbt_rng_init(&r, o->seed, s);
            vbt_rng_normal(&r, x0, n);
        }
        double l = ms_climb(&c, mz, x, x0);
        if (l > best) {
            best = l;
            memcpy(mode, x0, n * sizeof *mode);
        }
    }
    if (!isfinite(best)) {
        st = vbt__fail(msg, VBT_ENUMERIC, "map: the log density is not finite at any of %zu "
                                          "starts", S);
        goto out;
    }
    *lp = best;
out:
    gsl_multimin_fdfminimizer_free(mz);
    gsl_vector_free(x);
    free(th);
    free(g);
    free(x0);
    return st;
}

static int map_run(const vbt_target *t, const vbt_sampler_opts *o, vbt_sampler_result *r,
                   vbt_msg *msg)
{
    int st = vbt__sampler_alloc_draws(r, t->n, 1, 1, msg);
    if (st)
        return st;
    if (!(r->mode = malloc(t->n * sizeof *r->mode)))
        return vbt__fail(msg, VBT_ENOMEM, "map: out of memory");
    if ((st = vbt__sampler_mode(t, o, r->mode, &r->mode_lp, msg)) != VBT_OK)
        return st;
    memcpy(r->draws, r->mode, t->n * sizeof *r->draws);
    r->lp[0] = r->mode_lp;
    return VBT_OK;
}

const vbt_sampler_type vbt__sampler_map = {
    .name = "map",
    .description = "posterior mode: the target's own search, else multi-start BFGS",
    .flags = VBT_SAMPLER_POINT,
    .run = map_run,
};
