/* vep_multi.c -- the joint posterior of several seizures of one patient
 * (vbt_vep_multi.h) built on the single-seizure models and their sampler
 * targets (vep_target.c), and its sequential update by SMC from particles
 * (vbt_smc_from). */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "internal.h"
#include "vbt_rng.h"
#include "vbt_vep_multi.h"

#define NAME_MAX_LEN 48
/* update_surrogate's answer when no surrogate could be built */
#define NO_SURROGATE (-1)
/* the update's damped Newton on the exact joint: at most this many Hessians */
#define EXACT_NEWTON 60
/* the variance factor of vbt_vep_multi_smc_laplace's Gaussian start */
#define LAPLACE_INFLATE 2.0

/* One worker's view: scratch for one seizure's theta and gradient, and the
 * shared prior model's. */
typedef struct mctx {
    vbt_vep_multi *mm;
    size_t c;
    double *th, *g, *gs, *ths;
} mctx;

struct vbt_vep_multi {
    size_t K, n_ctx, n, n_shared, nr, nmax;
    vbt_vep_target **vt;   /* K single-seizure targets, n_ctx contexts each */
    size_t *nj;            /* K: each seizure's parameters */
    long **map;            /* K: joint index of each of seizure j's parameters */
    vbt_vep *sp;           /* the shared parameters' prior (nuisance held fixed) */
    long *sp_map;          /* n_shared: joint index of the shared model's parameters */
    long *x0_idx;          /* nr: index in the shared model's theta of "x0[i+1]", or -1 */
    char (*names)[NAME_MAX_LEN];
    mctx *ctx;
    void **ctxp;
    vbt_target t;
};

static const char *const nuisance[] = {"x_init[", "z_init[", "off[", "tau0", "amp", "eps",
                                       NULL};

static int is_nuisance(const char *name)
{
    for (size_t k = 0; nuisance[k]; k++) {
        size_t l = strlen(nuisance[k]);
        if (!strncmp(name, nuisance[k], l) && (nuisance[k][l - 1] == '[' || name[l] == 0))
            return 1;
    }
    return 0;
}

void vbt_vep_multi_free(vbt_vep_multi *mm)
{
    if (!mm)
        return;
    for (size_t j = 0; mm->vt && j < mm->K; j++) {
        vbt_vep_target_free(mm->vt[j]);
        if (mm->map)
            free(mm->map[j]);
    }
    for (size_t c = 0; mm->ctx && c < mm->n_ctx; c++) {
        free(mm->ctx[c].th);
        free(mm->ctx[c].g);
        free(mm->ctx[c].gs);
        free(mm->ctx[c].ths);
    }
    free(mm->vt);
    free(mm->map);
    free(mm->nj);
    vbt_vep_free(mm->sp);
    free(mm->sp_map);
    free(mm->x0_idx);
    free(mm->names);
    free(mm->ctx);
    free(mm->ctxp);
    free(mm);
}

size_t vbt_vep_multi_n_params(const vbt_vep_multi *mm) { return mm ? mm->n : 0; }
size_t vbt_vep_multi_n_shared(const vbt_vep_multi *mm) { return mm ? mm->n_shared : 0; }
size_t vbt_vep_multi_n_seizures(const vbt_vep_multi *mm) { return mm ? mm->K : 0; }
size_t vbt_vep_multi_n_regions(const vbt_vep_multi *mm) { return mm ? mm->nr : 0; }

const char *vbt_vep_multi_param_name(const vbt_vep_multi *mm, size_t i)
{
    return mm && i < mm->n ? mm->names[i] : NULL;
}

long vbt_vep_multi_param_index(const vbt_vep_multi *mm, const char *name)
{
    for (size_t i = 0; mm && name && i < mm->n; i++)
        if (!strcmp(mm->names[i], name))
            return (long)i;
    return -1;
}

vbt_vep *vbt_vep_multi_model(const vbt_vep_multi *mm, size_t j)
{
    return mm && j < mm->K ? vbt_vep_target_model(mm->vt[j], 0) : NULL;
}

void vbt_vep_multi_split(const vbt_vep_multi *mm, size_t j, const double *theta,
                         double *theta_j)
{
    for (size_t i = 0; i < mm->nj[j]; i++)
        theta_j[i] = theta[mm->map[j][i]];
}

/* ---- densities on context c ---------------------------------------------------- */

double vbt_vep_multi_shared_logprior(const vbt_vep_multi *mm, const double *theta,
                                     double *grad)
{
    double *ths = malloc(2 * (mm->n_shared + 1) * sizeof *ths), *gs = ths + mm->n_shared + 1;
    if (!ths)
        return NAN;
    for (size_t i = 0; i < mm->n_shared; i++)
        ths[i] = theta[mm->sp_map[i]];
    double lq = mm->n_shared ? vbt_vep_logprior(mm->sp, ths, grad ? gs : NULL) : 0.0;
    if (grad) {
        memset(grad, 0, mm->n * sizeof *grad);
        for (size_t i = 0; i < mm->n_shared; i++)
            grad[mm->sp_map[i]] = gs[i];
    }
    free(ths);
    return lq;
}

/* w times the shared parameters' log prior taken out of a log density:
 * returns -w log p(s) and adds -w times its gradient into grad (may be
 * NULL), on context x's scratch.  Every density that counts the shared
 * prior more than once (a sum of seizures' posteriors) corrects by it. */
static double shared_out(vbt_vep_multi *mm, mctx *x, const double *theta, double *grad, double w)
{
    if (!mm->n_shared)
        return 0.0;
    for (size_t i = 0; i < mm->n_shared; i++)
        x->ths[i] = theta[mm->sp_map[i]];
    double lq = vbt_vep_logprior(mm->sp, x->ths, grad ? x->gs : NULL);
    if (grad)
        for (size_t i = 0; i < mm->n_shared; i++)
            grad[mm->sp_map[i]] -= w * x->gs[i];
    return -w * lq;
}

/* (K - 1) log p(s) taken out of lp and grad (the joint's shared prior once). */
static double minus_shared(vbt_vep_multi *mm, mctx *x, const double *theta, double *grad)
{
    return mm->K < 2 ? 0.0 : shared_out(mm, x, theta, grad, (double)(mm->K - 1));
}

static void scatter(const vbt_vep_multi *mm, size_t j, const double *gj, double *grad)
{
    for (size_t i = 0; i < mm->nj[j]; i++)
        grad[mm->map[j][i]] += gj[i];
}

/* which: 0 log posterior, 1 log prior, 2 log likelihood; seizures [j0, j1). */
static double dens(vbt_vep_multi *mm, size_t c, const double *theta, double *grad, int which,
                   size_t j0, size_t j1)
{
    mctx *x = &mm->ctx[c];
    if (grad)
        memset(grad, 0, mm->n * sizeof *grad);
    double tot = 0.0;
    for (size_t j = j0; j < j1; j++) {
        vbt_vep_multi_split(mm, j, theta, x->th);
        const vbt_target *t = vbt_vep_target_get(mm->vt[j]);
        double v;
        if (which == 0) {
            if (vbt_vep_logp(vbt_vep_target_model(mm->vt[j], c), x->th, &v,
                             grad ? x->g : NULL) != VBT_OK)
                v = -HUGE_VAL;
        } else if (which == 1) {
            v = grad ? t->log_prior_grad(t->ctx[c], x->th, x->g) : t->log_prior(t->ctx[c], x->th);
        } else {
            v = grad ? t->log_lik_grad(t->ctx[c], x->th, x->g) : t->log_lik(t->ctx[c], x->th);
        }
        if (!isfinite(v)) {
            if (grad)
                memset(grad, 0, mm->n * sizeof *grad);
            return -HUGE_VAL;
        }
        tot += v;
        if (grad)
            scatter(mm, j, x->g, grad);
    }
    if (which != 2 && j0 == 0 && j1 == mm->K)
        tot += minus_shared(mm, x, theta, grad);
    return tot;
}

int vbt_vep_multi_logp(vbt_vep_multi *mm, size_t c, const double *theta, double *lp,
                       double *grad)
{
    *lp = dens(mm, c, theta, grad, 0, 0, mm->K);
    return isfinite(*lp) ? VBT_OK : VBT_ENUMERIC;
}

double vbt_vep_multi_logprior(vbt_vep_multi *mm, size_t c, const double *theta, double *grad)
{
    return dens(mm, c, theta, grad, 1, 0, mm->K);
}

void vbt_vep_multi_prior_draw(const vbt_vep_multi *mm, uint64_t seed, uint64_t stream,
                              double *theta)
{
    double *th = malloc(mm->nmax * sizeof *th);
    if (!th) {
        for (size_t i = 0; i < mm->n; i++)
            theta[i] = NAN;
        return;
    }
    for (size_t j = 0; j < mm->K; j++) {
        vbt_vep_prior_draw(vbt_vep_target_model(mm->vt[j], 0), seed,
                           stream + ((uint64_t)j << 48), th);
        for (size_t i = 0; i < mm->nj[j]; i++)
            if (j == 0 || (size_t)mm->map[j][i] >= mm->n_shared)
                theta[mm->map[j][i]] = th[i];
    }
    free(th);
}

void vbt_vep_multi_x0(const vbt_vep_multi *mm, const double *theta, double *x0)
{
    /* the shared prior model's constrain: no offsets to marginalise, so
     * no simulation and no workspace */
    double *ths = malloc(2 * (mm->n_shared + 1) * sizeof *ths), *nat = ths + mm->n_shared + 1;
    if (!ths) {
        for (size_t i = 0; i < mm->nr; i++)
            x0[i] = NAN;
        return;
    }
    for (size_t i = 0; i < mm->n_shared; i++)
        ths[i] = theta[mm->sp_map[i]];
    if (mm->n_shared)
        vbt_vep_constrain(mm->sp, ths, nat);
    for (size_t i = 0; i < mm->nr; i++)
        x0[i] = mm->x0_idx[i] < 0 ? NAN : nat[mm->x0_idx[i]];
    free(ths);
}

/* ---- the sampler target -------------------------------------------------------- */

static int t_logp(void *c, const double *th, double *lp, double *g)
{
    mctx *x = c;
    return vbt_vep_multi_logp(x->mm, x->c, th, lp, g);
}
static void t_draw(void *c, uint64_t seed, uint64_t stream, double *th)
{
    vbt_vep_multi_prior_draw(((mctx *)c)->mm, seed, stream, th);
}
static double t_prior_grad(void *c, const double *th, double *g)
{
    mctx *x = c;
    return dens(x->mm, x->c, th, g, 1, 0, x->mm->K);
}
static double t_prior(void *c, const double *th) { return t_prior_grad(c, th, NULL); }
static double t_lik_grad(void *c, const double *th, double *g)
{
    mctx *x = c;
    return dens(x->mm, x->c, th, g, 2, 0, x->mm->K);
}
static double t_lik(void *c, const double *th) { return t_lik_grad(c, th, NULL); }

const vbt_target *vbt_vep_multi_target(const vbt_vep_multi *mm)
{
    return mm ? &mm->t : NULL;
}

/* ---- building ------------------------------------------------------------------- */

/* The first spec's priors with every nuisance group held fixed: its free
 * parameters are the shared ones. */
static int shared_prior_model(const vbt_vep_spec *s0, vbt_vep **out, vbt_msg *msg)
{
    vbt_vep_spec sp = *s0;
    vbt_vep_priors *p = &sp.priors;
    sp.data = NULL;
    p->x_init.fixed = p->z_init.fixed = p->off.fixed = 1;
    p->off_marginal = 0;
    vbt_vep_scalar_prior *sc[3] = {&p->tau0, &p->amp, &p->eps};
    for (size_t k = 0; k < 3; k++)
        if (!sc[k]->fixed) {
            sc[k]->fixed = 1;
            sc[k]->value = sc[k]->lo + 1.0;
        }
    return vbt_vep_alloc(out, &sp, msg);
}

int vbt_vep_multi_alloc(vbt_vep_multi **out, const vbt_vep_spec *specs, size_t K,
                        size_t n_ctx, vbt_msg *msg)
{
    if (!out || !specs)
        return vbt__fail(msg, VBT_EINVAL, "vep multi: NULL argument");
    *out = NULL;
    if (K == 0 || n_ctx == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep multi: need at least one seizure and one context");
    vbt_vep_multi *mm = calloc(1, sizeof *mm);
    if (!mm)
        return vbt__fail(msg, VBT_ENOMEM, "vep multi: out of memory");
    int st = VBT_OK;
    mm->K = K;
    mm->n_ctx = n_ctx;
    mm->nr = specs[0].n_regions;
    mm->vt = calloc(K, sizeof *mm->vt);
    mm->nj = calloc(K, sizeof *mm->nj);
    mm->map = calloc(K, sizeof *mm->map);
    if (!mm->vt || !mm->nj || !mm->map)
        goto oom;
    for (size_t j = 0; j < K; j++) {
        if (!specs[j].data) {
            st = vbt__fail(msg, VBT_EINVAL, "vep multi: seizure %zu has no data", j + 1);
            goto fail;
        }
        if (specs[j].n_regions != mm->nr) {
            st = vbt__fail(msg, VBT_EINVAL, "vep multi: seizure %zu has %zu regions, seizure 1 "
                           "%zu", j + 1, specs[j].n_regions, mm->nr);
            goto fail;
        }
        vbt_vep *m = NULL;
        if ((st = vbt_vep_alloc(&m, &specs[j], msg)))
            goto fail;
        st = vbt_vep_target_alloc(&mm->vt[j], m, n_ctx, NULL, msg);
        vbt_vep_free(m);
        if (st)
            goto fail;
        mm->nj[j] = vbt_vep_n_params(vbt_vep_target_model(mm->vt[j], 0));
        if (mm->nj[j] > mm->nmax)
            mm->nmax = mm->nj[j];
        if (!(mm->map[j] = malloc(mm->nj[j] * sizeof *mm->map[j])))
            goto oom;
    }
    /* the layout: seizure 1's shared parameters, then each seizure's nuisance */
    vbt_vep *m0 = vbt_vep_target_model(mm->vt[0], 0);
    size_t total = 0;
    for (size_t j = 0; j < K; j++)
        total += mm->nj[j];
    if (!(mm->names = calloc(total, sizeof *mm->names)))
        goto oom;
    for (size_t i = 0; i < mm->nj[0]; i++) {
        const char *nm = vbt_vep_param_name(m0, i);
        if (!is_nuisance(nm)) {
            snprintf(mm->names[mm->n_shared], NAME_MAX_LEN, "%s", nm);
            mm->map[0][i] = (long)mm->n_shared++;
        }
    }
    mm->n = mm->n_shared;
    for (size_t j = 0; j < K; j++) {
        vbt_vep *mj = vbt_vep_target_model(mm->vt[j], 0);
        size_t shared_seen = 0;
        for (size_t i = 0; i < mm->nj[j]; i++) {
            const char *nm = vbt_vep_param_name(mj, i);
            if (is_nuisance(nm)) {
                snprintf(mm->names[mm->n], NAME_MAX_LEN, "s%zu:%s", j + 1, nm);
                mm->map[j][i] = (long)mm->n++;
                continue;
            }
            long k = -1;
            for (size_t q = 0; q < mm->n_shared && k < 0; q++)
                if (!strcmp(mm->names[q], nm))
                    k = (long)q;
            if (k < 0) {
                st = vbt__fail(msg, VBT_EINVAL, "vep multi: seizure %zu's parameter %s is not "
                               "one of seizure 1's shared parameters", j + 1, nm);
                goto fail;
            }
            mm->map[j][i] = k;
            shared_seen++;
        }
        if (shared_seen != mm->n_shared) {
            st = vbt__fail(msg, VBT_EINVAL, "vep multi: seizure %zu has %zu shared parameters, "
                           "seizure 1 %zu (priors differ)", j + 1, shared_seen, mm->n_shared);
            goto fail;
        }
    }
    /* the shared prior, and where its parameters sit */
    if ((st = shared_prior_model(&specs[0], &mm->sp, msg)))
        goto fail;
    if (vbt_vep_n_params(mm->sp) != mm->n_shared) {
        st = vbt__fail(msg, VBT_EINVAL, "vep multi: the model has %zu shared parameters but %zu "
                       "remain free with the per-seizure groups held (a parameter group this "
                       "module does not know)", mm->n_shared, vbt_vep_n_params(mm->sp));
        goto fail;
    }
    mm->sp_map = malloc((mm->n_shared ? mm->n_shared : 1) * sizeof *mm->sp_map);
    mm->x0_idx = malloc((mm->nr ? mm->nr : 1) * sizeof *mm->x0_idx);
    if (!mm->sp_map || !mm->x0_idx)
        goto oom;
    for (size_t i = 0; i < mm->n_shared; i++) {
        long k = vbt_vep_multi_param_index(mm, vbt_vep_param_name(mm->sp, i));
        if (k < 0 || (size_t)k >= mm->n_shared) {
            st = vbt__fail(msg, VBT_EINVAL, "vep multi: shared parameter %s not found",
                           vbt_vep_param_name(mm->sp, i));
            goto fail;
        }
        mm->sp_map[i] = k;
    }
    for (size_t i = 0; i < mm->nr; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "x0[%zu]", i + 1);
        mm->x0_idx[i] = vbt_vep_param_index(mm->sp, nm);
    }
    mm->ctx = calloc(n_ctx, sizeof *mm->ctx);
    mm->ctxp = calloc(n_ctx, sizeof *mm->ctxp);
    if (!mm->ctx || !mm->ctxp)
        goto oom;
    for (size_t c = 0; c < n_ctx; c++) {
        mctx *x = &mm->ctx[c];
        *x = (mctx){.mm = mm, .c = c};
        x->th = malloc(mm->nmax * sizeof *x->th);
        x->g = malloc(mm->nmax * sizeof *x->g);
        x->gs = malloc((mm->n_shared + 1) * sizeof *x->gs);
        x->ths = malloc((mm->n_shared + 1) * sizeof *x->ths);
        if (!x->th || !x->g || !x->gs || !x->ths)
            goto oom;
        mm->ctxp[c] = x;
    }
    mm->t = (vbt_target){.n = mm->n, .logp = t_logp, .draw_prior = t_draw,
                         .log_prior_grad = t_prior_grad, .log_lik_grad = t_lik_grad,
                         .ctx = mm->ctxp, .n_ctx = n_ctx, .log_prior = t_prior,
                         .log_lik = t_lik};
    *out = mm;
    return VBT_OK;
oom:
    st = vbt__fail(msg, VBT_ENOMEM, "vep multi: out of memory");
fail:
    vbt_vep_multi_free(mm);
    return st;
}

/* The SMC options of a call: o_in or the defaults, 0 threads meaning 1; at
 * most max_threads threads and no more than the model's evaluation
 * contexts. */
static int smc_opts(const vbt_vep_multi *mm, const vbt_smc_opts *o_in, size_t max_threads,
                    const char *who, vbt_smc_opts *o, vbt_msg *msg)
{
    if (o_in)
        *o = *o_in;
    else
        vbt_smc_opts_default(o);
    if (o->n_threads == 0)
        o->n_threads = 1;
    if (o->n_threads > mm->n_ctx || o->n_threads > max_threads)
        return vbt__fail(msg, VBT_EINVAL, "%s: %zu threads for %zu contexts", who, o->n_threads,
                         mm->n_ctx);
    return VBT_OK;
}

int vbt_vep_multi_smc(vbt_vep_multi *mm, const vbt_smc_opts *o_in, double *particles,
                      vbt_smc_result *res, vbt_msg *msg)
{
    if (!mm || !particles || !res)
        return vbt__fail(msg, VBT_EINVAL, "vep multi smc: NULL argument");
    vbt_smc_opts o;
    int st_o = smc_opts(mm, o_in, SIZE_MAX, "vep multi smc", &o, msg);
    if (st_o != VBT_OK)
        return st_o;
    const vbt_smc_model model = {.n = mm->n, .draw_prior = t_draw, .log_prior = t_prior,
                                 .log_lik = t_lik, .log_prior_grad = t_prior_grad,
                                 .log_lik_grad = t_lik_grad};
    o.thread_ctx = mm->ctxp;
    return vbt_smc(&model, mm->ctxp[0], &o, particles, res, msg);
}

/* ---- the update ------------------------------------------------------------------- */

static int newton_block(vbt_vep_multi *mm, size_t j, double *th, size_t a0, size_t m,
                        size_t max_iter, double *A, double *lp_out, size_t *iters);

/* Seizure j's own parameters (the block [a0, a0 + m) of th) at the shared
 * parameters th holds: damped Newton on seizure j's log posterior from the
 * 4 best of 64 prior draws of the block (streams (seed, stream0 + k)), the
 * best end kept in th (the conditional posterior of a seizure's own
 * parameters may have several modes: its timing matched by another tau0).
 * A (m x m) gets the Cholesky factor of the -Hessian there, *lp the log
 * posterior, *iters (may be NULL) Newton's steps.  VBT_ENUMERIC when no
 * draw is finite or no end has a factor; VBT_ENOMEM. */
static int nu_search(vbt_vep_multi *mm, size_t j, double *th, size_t a0, size_t m, uint64_t seed,
                     uint64_t stream0, double *A, double *lp, size_t *iters)
{
    enum { DRAWS = 64, STARTS = 4 };
    const size_t n = mm->n;
    double top_lp[STARTS], *top = malloc(STARTS * m * sizeof *top),
           *cand = malloc(n * sizeof *cand), *Ab = malloc(m * m * sizeof *Ab);
    size_t n_top = 0;
    int st = VBT_ENUMERIC;
    if (!top || !cand || !Ab) {
        st = VBT_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < DRAWS; k++) {
        vbt_vep_multi_prior_draw(mm, seed, stream0 + k, cand);
        memcpy(cand, th, a0 * sizeof *cand);
        memcpy(cand + a0 + m, th + a0 + m, (n - a0 - m) * sizeof *cand);
        double lpk = dens(mm, 0, cand, NULL, 0, j, j + 1);
        if (!isfinite(lpk))
            continue;
        size_t pos = n_top < STARTS ? n_top++ : STARTS;
        if (pos == STARTS) {
            if (lpk <= top_lp[STARTS - 1])
                continue;
            pos = STARTS - 1;
        }
        while (pos > 0 && top_lp[pos - 1] < lpk) {
            top_lp[pos] = top_lp[pos - 1];
            memcpy(top + pos * m, top + (pos - 1) * m, m * sizeof *top);
            pos--;
        }
        top_lp[pos] = lpk;
        memcpy(top + pos * m, cand + a0, m * sizeof *top);
    }
    *lp = -HUGE_VAL;
    for (size_t k = 0; k < n_top; k++) {
        double lpk;
        size_t itk;
        memcpy(cand, th, n * sizeof *cand);
        memcpy(cand + a0, top + k * m, m * sizeof *cand);
        if (newton_block(mm, j, cand, a0, m, 50, Ab, &lpk, &itk) == VBT_OK && lpk > *lp) {
            *lp = lpk;
            if (iters)
                *iters = itk;
            memcpy(th + a0, cand + a0, m * sizeof *th);
            memcpy(A, Ab, m * m * sizeof *A);
            st = VBT_OK;
        }
    }
out:
    free(top);
    free(cand);
    free(Ab);
    return st;
}

/* q(nu | s) = N(mu + B (s - sbar), (L L')^-1) over the new seizure's
 * nuisance (indices [n_old, n)) given the shared s (indices [0, ns)): the
 * conditional of the Laplace approximation of the new seizure's posterior
 * at (sbar, mu), so that the proposal follows each particle's s. */
typedef struct uq {
    vbt_vep_multi *mm;
    size_t n_old, m, ns;
    double *mu, *L;      /* m, m x m lower Cholesky factor of the precision */
    double *B, *sbar;    /* m x ns, ns: the centre moves as mu + B (s - sbar) */
    double log_norm;     /* sum log L_ii - m/2 log 2 pi */
} uq;

typedef struct uctx {
    const uq *q;
    size_t c;
    double *g;           /* n scratch */
    double *r;           /* 2 m scratch */
} uctx;

/* log q(nu | s) and its gradient (added into grad: nu and s); r: m scratch,
 * then m more. */
static double log_q(const uq *q, const double *theta, double *grad, double *r)
{
    const size_t m = q->m, ns = q->ns;
    const double *nu = theta + q->n_old;
    double *d = r + m;
    for (size_t a = 0; a < m; a++) {
        double v = nu[a] - q->mu[a];
        for (size_t k = 0; k < ns; k++)
            v -= q->B[a * ns + k] * (theta[k] - q->sbar[k]);
        d[a] = v;
    }
    /* r = L' d; log q = -|r|^2 / 2 + log_norm; d/dnu = -L r, d/ds = B' L r */
    double ss = 0.0;
    for (size_t a = 0; a < m; a++) {
        double v = 0.0;
        for (size_t b = a; b < m; b++)
            v += q->L[b * m + a] * d[b];
        r[a] = v;
        ss += v * v;
    }
    if (grad) {
        for (size_t a = 0; a < m; a++) {
            double v = 0.0;
            for (size_t b = 0; b <= a; b++)
                v += q->L[a * m + b] * r[b];
            d[a] = v;  /* (L r)_a */
            grad[q->n_old + a] -= v;
        }
        for (size_t k = 0; k < ns; k++) {
            double v = 0.0;
            for (size_t a = 0; a < m; a++)
                v += q->B[a * ns + k] * d[a];
            grad[k] += v;
        }
    }
    return -0.5 * ss + q->log_norm;
}

/* base: the posterior of the first K-1 seizures times q(nu_K) */
static double u_prior_grad(void *c, const double *th, double *g)
{
    uctx *u = c;
    vbt_vep_multi *mm = u->q->mm;
    const size_t K = mm->K;
    double v = dens(mm, u->c, th, g, 0, 0, K - 1);
    if (!isfinite(v))
        return -HUGE_VAL;
    /* the first K-1 seizures' posterior counts the shared prior K-1 times */
    if (K > 2)
        v += shared_out(mm, &mm->ctx[u->c], th, g, (double)(K - 2));
    return v + log_q(u->q, th, g, u->r);
}
static double u_prior(void *c, const double *th) { return u_prior_grad(c, th, NULL); }

/* increment: log p_K(s, nu_K | y_K) - log p(s) - log q(nu_K) */
static double u_lik_grad(void *c, const double *th, double *g)
{
    uctx *u = c;
    vbt_vep_multi *mm = u->q->mm;
    mctx *x = &mm->ctx[u->c];
    double v = dens(mm, u->c, th, g, 0, mm->K - 1, mm->K);
    if (!isfinite(v))
        return -HUGE_VAL;
    v += shared_out(mm, x, th, g, 1.0);
    /* minus log q: its gradient into scratch, then subtracted */
    double *gq = u->g;
    if (g)
        memset(gq, 0, mm->n * sizeof *gq);
    double lq = log_q(u->q, th, g ? gq : NULL, u->r);
    if (g)
        for (size_t k = 0; k < mm->n; k++)
            g[k] -= gq[k];
    return v - lq;
}
static double u_lik(void *c, const double *th) { return u_lik_grad(c, th, NULL); }

/* The new seizure's log posterior and gradient over nu at fixed shared s
 * (theta_K = s and nu laid out by the model); gnu: m. */
static double nu_logp(vbt_vep_multi *mm, const double *theta, double *gnu, double *gfull)
{
    double lp;
    const size_t j = mm->K - 1;
    double *thj = mm->ctx[0].th, *gj = mm->ctx[0].g;
    vbt_vep_multi_split(mm, j, theta, thj);
    if (vbt_vep_logp(vbt_vep_target_model(mm->vt[j], 0), thj, &lp, gnu ? gj : NULL) != VBT_OK)
        return -HUGE_VAL;
    if (gnu) {
        memset(gfull, 0, mm->n * sizeof *gfull);
        scatter(mm, j, gj, gfull);
        const size_t n_old = mm->n - (mm->nj[j] - mm->n_shared);
        memcpy(gnu, gfull + n_old, (mm->n - n_old) * sizeof *gnu);
    }
    return lp;
}

/* The proposal: damped Newton on nu at the shared mean s, Hessian by
 * forward differences of the exact gradient, then its Cholesky factor. */
static int build_q(vbt_vep_multi *mm, const double *old, const double *lw, size_t N,
                   size_t n_old, uint64_t seed, uq *q, vbt_vep_multi_update_info *info,
                   vbt_msg *msg)
{
    const size_t n = mm->n, m = n - n_old;
    double *th = calloc(n, sizeof *th), *gf = malloc(n * sizeof *gf), *g = malloc(m * sizeof *g),
           *g2 = malloc(m * sizeof *g2), *H = malloc(m * m * sizeof *H),
           *A = malloc(m * m * sizeof *A), *step = malloc(m * sizeof *step),
           *w = malloc(N * sizeof *w);
    int st = VBT_OK;
    if (!th || !gf || !g || !g2 || !H || !A || !step || !w) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep multi update: out of memory");
        goto out;
    }
    /* the weighted mean of the shared parameters */
    double mx = -HUGE_VAL, tot = 0.0;
    for (size_t i = 0; i < N; i++)
        mx = fmax(mx, lw ? lw[i] : 0.0);
    for (size_t i = 0; i < N; i++)
        tot += w[i] = exp((lw ? lw[i] : 0.0) - mx);
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < mm->n_shared; d++)
            th[d] += w[i] / tot * old[i * n_old + d];
    /* the centre: seizure K's own parameters at the shared mean */
    double lp;
    size_t it = 0;
    if ((st = nu_search(mm, mm->K - 1, th, n_old, m, seed, (uint64_t)1 << 60, A, &lp, &it))) {
        st = st == VBT_ENOMEM
                 ? vbt__fail(msg, st, "vep multi update: out of memory")
                 : vbt__fail(msg, st, "vep multi update: the new seizure's model is not finite "
                             "at any of 64 prior draws of its parameters, or its Hessian is "
                             "not positive definite even with a ridge");
        goto out;
    }
    /* the gradient at the centre (for B below) */
    nu_logp(mm, th, g, gf);
    const size_t ns = mm->n_shared;
    q->m = m;
    q->ns = ns;
    q->n_old = n_old;
    q->mm = mm;
    q->mu = malloc(m * sizeof *q->mu);
    q->L = calloc(m * m, sizeof *q->L);
    q->B = calloc(m * (ns ? ns : 1), sizeof *q->B);
    q->sbar = malloc((ns ? ns : 1) * sizeof *q->sbar);
    if (!q->mu || !q->L || !q->B || !q->sbar) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep multi update: out of memory");
        goto out;
    }
    memcpy(q->mu, th + n_old, m * sizeof *q->mu);
    memcpy(q->sbar, th, ns * sizeof *q->sbar);
    /* B = -H_nunu^-1 H_nus: column k from d(grad_nu)/d s_k (forward
     * differences) and the Cholesky factor in A */
    {
        gsl_matrix_view Av = gsl_matrix_view_array(A, m, m);
        for (size_t k = 0; k < ns; k++) {
            const double h = 1e-5 * fmax(1.0, fabs(th[k]));
            double keep = th[k];
            th[k] = keep + h;
            double lk = nu_logp(mm, th, g2, gf);
            th[k] = keep;
            if (!isfinite(lk))
                continue; /* B's column stays 0: q does not follow this s_k */
            for (size_t a = 0; a < m; a++)
                step[a] = (g2[a] - g[a]) / h;  /* = -(-Hessian)_nu,s = -H_nus */
            gsl_vector_view bv = gsl_vector_view_array(step, m);
            gsl_linalg_cholesky_svx(&Av.matrix, &bv.vector);
            for (size_t a = 0; a < m; a++)
                q->B[a * ns + k] = step[a];
        }
    }
    q->log_norm = -0.5 * (double)m * log(2.0 * M_PI);
    for (size_t a = 0; a < m; a++) {
        for (size_t b = 0; b <= a; b++)
            q->L[a * m + b] = A[a * m + b];
        q->log_norm += log(A[a * m + a]);
    }
    if (info) {
        info->nu_lp = lp;
        info->nu_iter = it;
        info->n_nuisance = m;
    }
out:
    free(th);
    free(gf);
    free(g);
    free(g2);
    free(H);
    free(A);
    free(step);
    free(w);
    return st;
}

/* The ESS of the start particles weighted by p(nu) p(y_K | s, nu) at nu
 * one Newton step (precision L L') from the proposal's centre: the new
 * seizure's likelihood of each particle's s with nu profiled out. */
static double marginal_ess(vbt_vep_multi *mm, const uq *q, const double *start,
                           const double *lw0, size_t N, double *scratch_m)
{
    const size_t n = mm->n, m = q->m, n_old = q->n_old, K = mm->K;
    double *th = malloc(n * sizeof *th), *gf = malloc(n * sizeof *gf),
           *lw = malloc(N * sizeof *lw);
    double ess = NAN;
    if (!th || !gf || !lw)
        goto out;
    gsl_matrix_const_view Lv = gsl_matrix_const_view_array(q->L, m, m);
    double mx = -HUGE_VAL;
    for (size_t i = 0; i < N; i++) {
        memcpy(th, start + i * n, n * sizeof *th);
        for (size_t a = 0; a < m; a++) {
            double c = q->mu[a];
            for (size_t k = 0; k < q->ns; k++)
                c += q->B[a * q->ns + k] * (th[k] - q->sbar[k]);
            th[n_old + a] = c;
        }
        double lp0 = dens(mm, 0, th, gf, 0, K - 1, K);
        double best = lp0;
        if (isfinite(lp0)) {
            memcpy(scratch_m, gf + n_old, m * sizeof *scratch_m);
            gsl_vector_view gv = gsl_vector_view_array(scratch_m, m);
            gsl_linalg_cholesky_svx(&Lv.matrix, &gv.vector);
            for (size_t a = 0; a < m; a++)
                th[n_old + a] += scratch_m[a];
            double lp1 = dens(mm, 0, th, NULL, 0, K - 1, K);
            if (isfinite(lp1) && lp1 > best)
                best = lp1;
        }
        lw[i] = isfinite(best) ? best - vbt_vep_multi_shared_logprior(mm, th, NULL) +
                                     (lw0 ? lw0[i] : 0.0)
                               : -HUGE_VAL;
        mx = fmax(mx, lw[i]);
    }
    double s1 = 0, s2 = 0;
    for (size_t i = 0; isfinite(mx) && i < N; i++) {
        double w = exp(lw[i] - mx);
        s1 += w;
        s2 += w * w;
    }
    ess = s2 > 0 ? s1 * s1 / s2 : 0.0;
out:
    free(th);
    free(gf);
    free(lw);
    return ess;
}

/* start rows [i0, i1): the old particles, nu ~ q (stream (seed, 2^61 + i));
 * z: m scratch. */
static void make_start(const uq *q, const double *old, uint64_t seed, size_t i0, size_t i1,
                       size_t n, size_t n_old, double *z, double *start)
{
    const size_t m = q->m;
    for (size_t i = i0; i < i1; i++) {
        double *th = start + i * n;
        memcpy(th, old + i * n_old, n_old * sizeof *th);
        vbt_rng r;
        vbt_rng_init(&r, seed, ((uint64_t)1 << 61) + i);
        vbt_rng_normal(&r, z, m);
        /* nu = mu + L'^-1 z: back substitution with L' (upper) */
        for (size_t a = m; a-- > 0;) {
            double v = z[a];
            for (size_t b = a + 1; b < m; b++)
                v -= q->L[b * m + a] * th[n_old + b];
            th[n_old + a] = v / q->L[a * m + a];
        }
        for (size_t a = 0; a < m; a++) {
            double c = q->mu[a];
            for (size_t k = 0; k < q->ns; k++)
                c += q->B[a * q->ns + k] * (th[k] - q->sbar[k]);
            th[n_old + a] += c;
        }
    }
}

/* ESS (particles) of the start particles weighted by the new seizure's
 * whole increment u_lik at once. */
static double reweight_ess(uctx *u, const double *start, const double *lw0, size_t N)
{
    const size_t n = u->q->mm->n;
    double *lw = malloc(N * sizeof *lw), mx = -HUGE_VAL, s1 = 0.0, s2 = 0.0;
    if (!lw)
        return NAN;
    for (size_t i = 0; i < N; i++) {
        double l = u_lik(u, start + i * n) + (lw0 ? lw0[i] : 0.0);
        lw[i] = isfinite(l) ? l : -HUGE_VAL;
        mx = fmax(mx, lw[i]);
    }
    for (size_t i = 0; isfinite(mx) && i < N; i++) {
        double w = exp(lw[i] - mx);
        s1 += w;
        s2 += w * w;
    }
    free(lw);
    return s2 > 0 ? s1 * s1 / s2 : 0.0;
}

static int update_surrogate(vbt_vep_multi *mm, const double *old, const double *old_log_w,
                            const vbt_smc_opts *o_in, const double *theta0,
                            double *particles, vbt_smc_result *res,
                            vbt_vep_multi_update_info *info, vbt_msg *msg);

int vbt_vep_multi_update(vbt_vep_multi *mm, const double *old, const double *old_log_w,
                         const vbt_smc_opts *o_in, double *particles, vbt_smc_result *res,
                         vbt_vep_multi_update_info *info, vbt_msg *msg)
{
    if (!mm || !old || !particles || !res || old == particles)
        return vbt__fail(msg, VBT_EINVAL, "vep multi update: NULL or aliased argument");
    if (mm->K < 2)
        return vbt__fail(msg, VBT_EINVAL, "vep multi update: the joint model needs at least "
                         "two seizures (the old ones and the new one)");
    vbt_smc_opts o;
    int st_o = smc_opts(mm, o_in, 64, "vep multi update", &o, msg);
    if (st_o != VBT_OK)
        return st_o;
    const size_t N = o.n_particles, n = mm->n, m = mm->nj[mm->K - 1] - mm->n_shared,
                 n_old = n - m;
    uq q = {0};
    if (info) {
        info->surrogate = 0;
        info->surrogate_newton = info->surrogate_steps = info->surrogate_rounds = 0;
        info->surrogate_grad = info->exact_steps = info->exact_rounds = info->exact_grad = 0;
        info->correction_ess = NAN;
    }
    int st = build_q(mm, old, old_log_w, N, n_old, o.seed, &q, info, msg);
    double *start = st ? NULL : malloc(N * n * sizeof *start);
    uctx uc[64];
    void *tc[64];
    double *scratch = st ? NULL : malloc(o.n_threads * (n + 2 * m) * sizeof *scratch);
    double *z = st ? NULL : malloc(m * sizeof *z);
    if (!st && (!start || !scratch || !z))
        st = vbt__fail(msg, VBT_ENOMEM, "vep multi update: out of memory");
    if (!st) {
        make_start(&q, old, o.seed, 0, N, n, n_old, z, start);
        if (info)
            info->marginal_ess = marginal_ess(mm, &q, start, old_log_w, N, z);
        for (size_t t = 0; t < o.n_threads; t++) {
            uc[t] = (uctx){.q = &q, .c = t, .g = scratch + t * (n + 2 * m),
                           .r = scratch + t * (n + 2 * m) + n};
            tc[t] = &uc[t];
        }
        /* the reweighting ESS: the start particles weighted by the whole
         * new seizure at once (vbt_smc_from's reweight_ess of the exact
         * tempering below) */
        double rw_ess = reweight_ess(&uc[0], start, old_log_w, N);
        /* the surrogate tempering and its exact correction; the exact
         * tempering from the old particles when no surrogate exists */
        double *th0 = start;   /* row 0, its nu set to q's centre (s: the mean) */
        memcpy(th0 + n_old, q.mu, m * sizeof *th0);
        st = update_surrogate(mm, old, old_log_w, &o, th0, particles, res, info, msg);
        if (st == NO_SURROGATE) {
            /* start row 0 again: nu ~ q as the others */
            make_start(&q, old, o.seed, 0, 1, n, n_old, z, start);
            const vbt_smc_model model = {.n = n, .log_prior = u_prior, .log_lik = u_lik,
                                         .log_prior_grad = u_prior_grad,
                                         .log_lik_grad = u_lik_grad};
            o.thread_ctx = tc;
            st = vbt_smc_from(&model, tc[0], &o, start, old_log_w, particles, res, msg);
        }
        if (st == VBT_OK)
            res->reweight_ess = rw_ess;
    }
    free(start);
    free(scratch);
    free(z);
    free(q.mu);
    free(q.L);
    free(q.B);
    free(q.sbar);
    return st;
}

/* ---- SMC from the Laplace approximation at the joint mode ---------------------- */

/* A log density over the joint theta and its gradient over all of it (gfull
 * NULL: the value only): the function Newton's method climbs. */
typedef double (*lpfn)(void *ctx, const double *th, double *gfull);

/* lp of f at th, and the block [a0, a0 + m) of its gradient in g. */
static double block_grad(lpfn f, void *fc, const double *th, size_t a0, size_t m, double *g,
                         double *gfull)
{
    double lp = f(fc, th, g ? gfull : NULL);
    if (g)
        memcpy(g, gfull + a0, m * sizeof *g);
    return lp;
}

/* -Hessian of the block by forward differences of the gradient, symmetrised. */
static void block_hessian(lpfn f, void *fc, double *th, size_t a0, size_t m, const double *g,
                          double *H, double *g2, double *gfull)
{
    for (size_t a = 0; a < m; a++) {
        const double h = 1e-5 * fmax(1.0, fabs(th[a0 + a]));
        double keep = th[a0 + a];
        th[a0 + a] = keep + h;
        block_grad(f, fc, th, a0, m, g2, gfull);
        th[a0 + a] = keep;
        for (size_t b = 0; b < m; b++)
            H[b * m + a] = -(g2[b] - g[b]) / h;
    }
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < a; b++)
            H[a * m + b] = H[b * m + a] = 0.5 * (H[a * m + b] + H[b * m + a]);
}

/* Seizure j's log posterior (j < K) or the joint's (j == K) on context 0. */
typedef struct seizure_fn {
    vbt_vep_multi *mm;
    size_t j;
} seizure_fn;

static double seizure_lp(void *c, const double *th, double *gfull)
{
    const seizure_fn *f = c;
    return f->j < f->mm->K ? dens(f->mm, 0, th, gfull, 0, f->j, f->j + 1)
                           : dens(f->mm, 0, th, gfull, 0, 0, f->mm->K);
}

static int newton_fn(lpfn f, void *fc, size_t n, double *th, size_t a0, size_t m,
                     size_t max_iter, double *A, double *lp_out, size_t *iters);

/* What a Newton search reports besides its mode (newton_fn_diag): the log
 * density at its start, the ridge added to the -Hessian so that it factors
 * (0: positive definite as it is), and the Newton decrement g' A^-1 g / 2 at
 * the end (A the factored -Hessian): the increase of the log density that a
 * full Newton step from there would still predict (0 at a mode). */
typedef struct newton_diag {
    double lp0, ridge, decrement;
} newton_diag;

static int newton_fn_diag(lpfn f, void *fc, size_t n, double *th, size_t a0, size_t m,
                          size_t max_iter, double *A, double *lp_out, size_t *iters,
                          newton_diag *d);

/* Damped Newton on the block [a0, a0 + m) of th (in place) for seizure j's
 * log posterior, or the joint's (j == K), at most max_iter Hessians.  On
 * return A holds the Cholesky factor (lower) of the -Hessian at th (with a
 * ridge when it was not positive definite).  VBT_ENUMERIC when th is not
 * finite or no factor exists. */
static int newton_block(vbt_vep_multi *mm, size_t j, double *th, size_t a0, size_t m,
                        size_t max_iter, double *A, double *lp_out, size_t *iters)
{
    seizure_fn f = {mm, j};
    return newton_fn(seizure_lp, &f, mm->n, th, a0, m, max_iter, A, lp_out, iters);
}

/* The same for any log density f over n parameters. */
static int newton_fn(lpfn f, void *fc, size_t n, double *th, size_t a0, size_t m,
                     size_t max_iter, double *A, double *lp_out, size_t *iters)
{
    return newton_fn_diag(f, fc, n, th, a0, m, max_iter, A, lp_out, iters, NULL);
}

/* newton_fn, and (d not NULL) what newton_diag holds; d changes nothing of
 * the search. */
static int newton_fn_diag(lpfn f, void *fc, size_t n, double *th, size_t a0, size_t m,
                          size_t max_iter, double *A, double *lp_out, size_t *iters,
                          newton_diag *d)
{
    double *g = malloc(m * sizeof *g), *g2 = malloc(m * sizeof *g2), *gf = malloc(n * sizeof *gf),
           *H = malloc(m * m * sizeof *H), *step = malloc(m * sizeof *step),
           *trial = malloc(n * sizeof *trial);
    int st = VBT_OK;
    if (!g || !g2 || !gf || !H || !step || !trial) {
        st = VBT_ENOMEM;
        goto out;
    }
    gsl_error_handler_t *old_h = gsl_set_error_handler_off();
    double lp = block_grad(f, fc, th, a0, m, g, gf), lambda = 1e-3;
    size_t it = 0;
    if (d)
        *d = (newton_diag){.lp0 = lp, .ridge = NAN, .decrement = NAN};
    if (!isfinite(lp)) {
        st = VBT_ENUMERIC;
        gsl_set_error_handler(old_h);
        goto out;
    }
    for (;;) {
        block_hessian(f, fc, th, a0, m, g, H, g2, gf);
        if (it >= max_iter)
            break;
        int moved = 0, converged = 0;
        for (int tries = 0; tries < 30 && !moved; tries++) {
            memcpy(A, H, m * m * sizeof *A);
            for (size_t a = 0; a < m; a++)
                A[a * m + a] += lambda * fmax(1.0, fabs(H[a * m + a]));
            gsl_matrix_view Av = gsl_matrix_view_array(A, m, m);
            gsl_vector_view gv = gsl_vector_view_array(g, m), sv = gsl_vector_view_array(step, m);
            if (gsl_linalg_cholesky_decomp1(&Av.matrix) ||
                gsl_linalg_cholesky_solve(&Av.matrix, &gv.vector, &sv.vector)) {
                lambda *= 10.0;
                continue;
            }
            memcpy(trial, th, n * sizeof *trial);
            for (size_t a = 0; a < m; a++)
                trial[a0 + a] += step[a];
            double lpn = block_grad(f, fc, trial, a0, m, NULL, gf);
            if (isfinite(lpn) && lpn >= lp) {
                moved = 1;
                converged = lpn - lp < 1e-8 * fmax(1.0, fabs(lp));
                memcpy(th, trial, n * sizeof *th);
                lp = block_grad(f, fc, th, a0, m, g, gf);
                lambda = fmax(lambda / 10.0, 1e-9);
            } else {
                lambda *= 10.0;
            }
        }
        it++;
        if (!moved || converged) {
            block_hessian(f, fc, th, a0, m, g, H, g2, gf);
            break;
        }
    }
    int ok = 0;
    double ridge = 0.0;
    for (; ridge < 1e6 && !ok; ridge = ridge ? ridge * 10.0 : 1e-6) {
        memcpy(A, H, m * m * sizeof *A);
        for (size_t a = 0; a < m; a++)
            A[a * m + a] += ridge * fmax(1.0, fabs(H[a * m + a]));
        gsl_matrix_view Av = gsl_matrix_view_array(A, m, m);
        ok = gsl_linalg_cholesky_decomp1(&Av.matrix) == 0;
        if (ok)
            break;
    }
    if (ok && d) {
        /* the Newton decrement at th: g is the gradient there, A the factor */
        gsl_matrix_view Av = gsl_matrix_view_array(A, m, m);
        gsl_vector_view gv = gsl_vector_view_array(g, m), sv = gsl_vector_view_array(step, m);
        if (gsl_linalg_cholesky_solve(&Av.matrix, &gv.vector, &sv.vector) == 0) {
            double dec = 0.0;
            for (size_t a = 0; a < m; a++)
                dec += g[a] * step[a];
            d->decrement = 0.5 * dec;
        }
        d->ridge = ridge;
    }
    gsl_set_error_handler(old_h);
    if (!ok)
        st = VBT_ENUMERIC;
    *lp_out = lp;
    if (iters)
        *iters = it;
out:
    free(g);
    free(g2);
    free(gf);
    free(H);
    free(step);
    free(trial);
    return st;
}

typedef struct sur sur;
static int staged_search(vbt_vep_multi *mm, const vbt_smc_opts *o_in, double *th, double *A,
                         vbt_vep_multi_laplace_info *info, vbt_msg *msg);

typedef struct lq {
    vbt_vep_multi *mm;
    size_t n, j1;        /* the parameters: the first n of the joint, seizures [0, j1) */
    const double *mu, *L;
    double log_norm;
} lq;

/* q's precision Cholesky factor L (lower; A, n x n, row-major, its upper
 * part cleared) scaled by f (the covariance by 1 / f^2), log |L| added to
 * q->log_norm. */
static void lq_scale(lq *q, double *A, double f)
{
    const size_t n = q->n;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++)
            A[a * n + b] = 0.0;
        for (size_t b = 0; b <= a; b++)
            A[a * n + b] *= f;
        q->log_norm += log(A[a * n + a]);
    }
}

/* N draws of q into particles (N x n): mu + L'^-1 z, z ~ N(0, I) of stream
 * (seed, stream0 + i) for draw i; z: n scratch. */
static void lq_draw(const lq *q, size_t N, uint64_t seed, uint64_t stream0, double *particles,
                    double *z)
{
    const size_t n = q->n;
    const double *A = q->L;
    for (size_t i = 0; i < N; i++) {
        double *p = particles + i * n;
        vbt_rng r;
        vbt_rng_init(&r, seed, stream0 + i);
        vbt_rng_normal(&r, z, n);
        for (size_t a = n; a-- > 0;) {
            double v = z[a];
            for (size_t b = a + 1; b < n; b++)
                v -= A[b * n + a] * p[b];
            p[a] = v / A[a * n + a];
        }
        for (size_t a = 0; a < n; a++)
            p[a] += q->mu[a];
    }
}

typedef struct lctx {
    const lq *q;
    size_t c;
    double *r, *gq;      /* n, n scratch */
    double *gfull;       /* the joint's gradient when q->n < mm->n (mm->n scratch), else NULL */
} lctx;

/* log q of the Laplace approximation and its gradient (written into g). */
static double lap_q(const lctx *x, const double *th, double *g)
{
    const size_t n = x->q->n;
    const double *L = x->q->L, *mu = x->q->mu;
    double ss = 0.0;
    for (size_t a = 0; a < n; a++) {
        double v = 0.0;
        for (size_t b = a; b < n; b++)
            v += L[b * n + a] * (th[b] - mu[b]);
        x->r[a] = v;
        ss += v * v;
    }
    if (g)
        for (size_t a = 0; a < n; a++) {
            double v = 0.0;
            for (size_t b = 0; b <= a; b++)
                v += L[a * n + b] * x->r[b];
            g[a] = -v;
        }
    return -0.5 * ss + x->q->log_norm;
}

static double l_prior_grad(void *c, const double *th, double *g) { return lap_q(c, th, g); }
static double l_prior(void *c, const double *th) { return lap_q(c, th, NULL); }
static double l_lik_grad(void *c, const double *th, double *g)
{
    lctx *x = c;
    double *gd = g && x->gfull ? x->gfull : g;
    double lp = dens(x->q->mm, x->c, th, gd, 0, 0, x->q->j1);
    if (!isfinite(lp))
        return -HUGE_VAL;
    if (g && gd != g)
        memcpy(g, gd, x->q->n * sizeof *g);
    double l = lap_q(x, th, g ? x->gq : NULL);
    if (g)
        for (size_t a = 0; a < x->q->n; a++)
            g[a] -= x->gq[a];
    return lp - l;
}
static double l_lik(void *c, const double *th) { return l_lik_grad(c, th, NULL); }

/* The Laplace log mass of a mode: log p + m/2 log 2 pi - 1/2 log det P, P =
 * A A' the -Hessian (A: m x m lower Cholesky factor, plus the ridge Newton
 * added when P was not positive definite); log det P in *log_det (may be
 * NULL). */
static double laplace_log_mass(const double *A, size_t m, double lp, double *log_det)
{
    double ld = 0.0;
    for (size_t a = 0; a < m; a++)
        ld += 2.0 * log(A[a * m + a]);
    if (log_det)
        *log_det = ld;
    return lp + 0.5 * (double)m * log(2.0 * M_PI) - 0.5 * ld;
}

/* SMC of the posterior of seizures [0, j1) over the first m joint parameters
 * (all of them when j1 = K) from its Laplace approximation at mu (A: the
 * m x m Cholesky factor of the -Hessian there, scaled in place): q is that
 * Gaussian with its covariance inflated by LAPLACE_INFLATE (precision factor
 * L / sqrt(inflate)), so that a posterior wider than the curvature at its
 * mode in some direction (a skewed or flat one) is still covered by the
 * particles and the tempering takes the weights' share; N draws of q on
 * streams (draw_seed, draw_stream + i), then tempering along q^(1 - beta)
 * p^beta (vbt_smc_from with *o, threads on the contexts) into particles
 * (N x m). */
static int laplace_smc(vbt_vep_multi *mm, size_t m, size_t j1, const double *mu, double *A,
                       const vbt_smc_opts *o, uint64_t draw_seed, uint64_t draw_stream,
                       double *particles, vbt_smc_result *res, vbt_msg *msg)
{
    const size_t T = o->n_threads, full = m < mm->n ? mm->n : 0, w = 2 * m + full;
    double *scratch = malloc(T * w * sizeof *scratch), *z = malloc(m * sizeof *z);
    int st;
    if (!scratch || !z) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep multi smc: out of memory");
        goto out;
    }
    lq q = {.mm = mm, .n = m, .j1 = j1, .mu = mu, .L = A,
            .log_norm = -0.5 * (double)m * log(2.0 * M_PI)};
    lq_scale(&q, A, 1.0 / sqrt(LAPLACE_INFLATE));
    lq_draw(&q, o->n_particles, draw_seed, draw_stream, particles, z);
    lctx lc[64];
    void *tc[64];
    for (size_t t = 0; t < T; t++) {
        double *x = scratch + t * w;
        lc[t] = (lctx){.q = &q, .c = t, .r = x, .gq = x + m, .gfull = full ? x + 2 * m : NULL};
        tc[t] = &lc[t];
    }
    const vbt_smc_model model = {.n = m, .log_prior = l_prior, .log_lik = l_lik,
                                 .log_prior_grad = l_prior_grad, .log_lik_grad = l_lik_grad};
    vbt_smc_opts oc = *o;
    oc.thread_ctx = tc;
    st = vbt_smc_from(&model, tc[0], &oc, particles, NULL, particles, res, msg);
out:
    free(scratch);
    free(z);
    return st;
}

int vbt_vep_multi_smc_laplace(vbt_vep_multi *mm, const vbt_vep_map_opts *mo_in,
                              const vbt_smc_opts *o_in, double *particles, vbt_smc_result *res,
                              double *mode_lp, vbt_msg *msg)
{
    vbt_vep_multi_laplace_info info;
    int st = vbt_vep_multi_smc_laplace_from(mm, mo_in, o_in, VBT_VEP_MULTI_SEARCH_MAP, NULL, NULL,
                                            0, particles, res, &info, msg);
    if (mode_lp && !isnan(info.mode_lp)) /* set once the joint Newton succeeded */
        *mode_lp = info.mode_lp;
    return st;
}

/* Newton's start from given points: the best, by the joint log posterior,
 * of their weighted mean and each point of non-zero weight (th: n).  The index of
 * the chosen point in *which (-1: the mean), its log posterior returned
 * (-HUGE_VAL when none is finite). */
static double start_from_points(vbt_vep_multi *mm, const double *pts, const double *lw,
                                size_t N, double *th, long *which)
{
    const size_t n = mm->n;
    double wmax = -HUGE_VAL, wsum = 0.0;
    for (size_t i = 0; i < N; i++)
        if (lw && lw[i] > wmax)
            wmax = lw[i];
    memset(th, 0, n * sizeof *th);
    for (size_t i = 0; i < N; i++) {
        double w = lw ? (isfinite(lw[i]) ? exp(lw[i] - wmax) : 0.0) : 1.0;
        if (w <= 0.0)
            continue;
        wsum += w;
        for (size_t a = 0; a < n; a++)
            th[a] += w * pts[i * n + a];
    }
    double best = -HUGE_VAL;
    *which = -1;
    if (wsum > 0.0) {
        for (size_t a = 0; a < n; a++)
            th[a] /= wsum;
        best = dens(mm, 0, th, NULL, 0, 0, mm->K);
        if (!isfinite(best))
            best = -HUGE_VAL;
    }
    for (size_t i = 0; i < N; i++) {
        if (lw && !(isfinite(lw[i]) && exp(lw[i] - wmax) > 0.0))
            continue;
        double lp = dens(mm, 0, pts + i * n, NULL, 0, 0, mm->K);
        if (isfinite(lp) && lp > best) {
            best = lp;
            *which = (long)i;
        }
    }
    if (*which >= 0)
        memcpy(th, pts + (size_t)*which * n, n * sizeof *th);
    return best;
}

int vbt_vep_multi_smc_laplace_from(vbt_vep_multi *mm, const vbt_vep_map_opts *mo_in,
                                   const vbt_smc_opts *o_in, int search, const double *start,
                                   const double *start_log_w, size_t n_start,
                                   double *particles, vbt_smc_result *res,
                                   vbt_vep_multi_laplace_info *info, vbt_msg *msg)
{
    if (!mm || !particles || !res)
        return vbt__fail(msg, VBT_EINVAL, "vep multi smc: NULL argument");
    if (start && !n_start)
        return vbt__fail(msg, VBT_EINVAL, "vep multi smc: no start points");
    if (search != VBT_VEP_MULTI_SEARCH_MAP && search != VBT_VEP_MULTI_SEARCH_STAGED)
        return vbt__fail(msg, VBT_EINVAL, "vep multi smc: unknown mode search %d", search);
    vbt_vep_multi_laplace_info inf_scratch;
    if (!info)
        info = &inf_scratch;
    *info = (vbt_vep_multi_laplace_info){.start_lp = NAN, .mode_lp = NAN, .log_mass = NAN,
                                         .log_det = NAN, .decrement = NAN, .ridge = NAN,
                                         .start_index = -1, .best_start = -1};
    vbt_smc_opts o;
    int st_o = smc_opts(mm, o_in, 64, "vep multi smc", &o, msg);
    if (st_o != VBT_OK)
        return st_o;
    const size_t n = mm->n;
    vbt_vep_map_opts mo;
    if (mo_in)
        mo = *mo_in;
    else
        vbt_vep_map_opts_default(&mo);
    vbt_vep *m1 = vbt_vep_target_model(mm->vt[0], 0);
    double *x0s = malloc((mm->nr + 1) * sizeof *x0s), *th1 = malloc(mm->nj[0] * sizeof *th1),
           *th = malloc(n * sizeof *th), *A = malloc(n * n * sizeof *A);
    int st = VBT_OK;
    if (!x0s || !th1 || !th || !A) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep multi smc: out of memory");
        goto out;
    }
    if (start) {
        /* Newton from the given points (a posterior's particles): steps 1
         * and 2 are skipped, everything from the joint Newton on is the same */
        info->from_points = 1;
        if (!isfinite(start_from_points(mm, start, start_log_w, n_start, th,
                                        &info->start_index))) {
            st = vbt__fail(msg, VBT_ENUMERIC, "vep multi smc: the joint log posterior is not "
                           "finite at the start points nor at their mean");
            goto out;
        }
        goto joint_newton;
    }
    /* 1. the first seizure's MAP from data-informed starts */
    if (!mo.x0_start && vbt_vep_x0_from_data(m1, 5, -1.5, x0s) == VBT_OK)
        mo.x0_start = x0s;
    mo.seed = o.seed;
    mo.n_threads = o.n_threads;
    vbt_vep_map_result mr;
    if ((st = vbt_vep_map(m1, &mo, th1, &mr, NULL, NULL, msg)))
        goto out;
    vbt_vep_multi_prior_draw(mm, o.seed, (uint64_t)1 << 59, th);
    for (size_t i = 0; i < mm->nj[0]; i++)
        th[mm->map[0][i]] = th1[i];
    /* 2. every other seizure's own parameters at that shared point (the
     * update's search, nu_search) */
    size_t a0 = mm->nj[0];
    for (size_t j = 1; j < mm->K; j++) {
        const size_t mj = mm->nj[j] - mm->n_shared;
        double lpj;
        int sj = nu_search(mm, j, th, a0, mj, o.seed, (uint64_t)1 << 58, A, &lpj, NULL);
        if (sj) {
            st = sj == VBT_ENOMEM
                     ? vbt__fail(msg, sj, "vep multi smc: out of memory")
                     : vbt__fail(msg, sj, "vep multi smc: seizure %zu's model is not finite "
                                 "near the first seizure's mode", j + 1);
            goto out;
        }
        a0 += mj;
    }
    if (search == VBT_VEP_MULTI_SEARCH_STAGED && mm->K > 1 &&
        (st = staged_search(mm, &o, th, A, info, msg)))
        goto out;
    /* 3. the joint mode and the Laplace approximation there */
joint_newton:;
    double lp;
    newton_diag nd;
    seizure_fn jf = {mm, mm->K};
    info->newton_cap = mm->K > 1 ? 20 : 3;
    if ((st = newton_fn_diag(seizure_lp, &jf, n, th, 0, n, info->newton_cap, A, &lp,
                             &info->newton_steps, &nd))) {
        st = vbt__fail(msg, st, "vep multi smc: no Laplace approximation at the joint mode "
                       "(not finite, or no positive definite Hessian)");
        goto out;
    }
    info->start_lp = nd.lp0;
    info->mode_lp = lp;
    info->log_mass = laplace_log_mass(A, n, lp, &info->log_det);
    info->decrement = nd.decrement;
    info->ridge = nd.ridge;
    /* 4. draws of the inflated Laplace approximation (stream (seed, 2^60 +
     * i)), then tempering to the posterior */
    st = laplace_smc(mm, n, mm->K, th, A, &o, o.seed, (uint64_t)1 << 60, particles, res, msg);
out:
    free(x0s);
    free(th1);
    free(th);
    free(A);
    return st;
}

/* ---- the update by surrogate tempering and an exact correction ------------------ */

/* G: a Gaussian stand-in for the posterior of the first K-1 seizures over
 * their parameters theta_old = theta[0, n_old), in precision form. */
typedef struct sur {
    size_t n_old;
    double *mu, *L;      /* n_old, n_old x n_old lower Cholesky factor of the precision */
    double log_norm;     /* sum log L_ii - n_old/2 log 2 pi */
} sur;

/* log G(theta_old); sgn times its gradient added into g[0, n_old) when g;
 * r: n_old scratch.  r = L' (theta - mu), log G = -|r|^2/2 + log_norm,
 * d log G / d theta = -L r. */
static double sur_logg(const sur *G, const double *th, double *g, double sgn, double *r)
{
    const size_t n = G->n_old;
    const double *L = G->L;
    double ss = 0.0;
    for (size_t a = 0; a < n; a++) {
        double v = 0.0;
        for (size_t b = a; b < n; b++)
            v += L[b * n + a] * (th[b] - G->mu[b]);
        r[a] = v;
        ss += v * v;
    }
    if (g)
        for (size_t a = 0; a < n; a++) {
            double v = 0.0;
            for (size_t b = 0; b <= a; b++)
                v += L[a * n + b] * r[b];
            g[a] -= sgn * v;
        }
    return -0.5 * ss + G->log_norm;
}

/* log_norm from L (its upper triangle zeroed). */
static void sur_norm(sur *G)
{
    const size_t n = G->n_old;
    G->log_norm = -0.5 * (double)n * log(2.0 * M_PI);
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++)
            G->L[a * n + b] = 0.0;
        G->log_norm += log(G->L[a * n + a]);
    }
}

/* The new (last) seizure's part of the joint: log p_K(s, nu_K | y_K) - log
 * p(s) (gradient written into g, all of it). */
static double new_part(vbt_vep_multi *mm, size_t c, const double *th, double *g)
{
    double v = dens(mm, c, th, g, 0, mm->K - 1, mm->K);
    if (!isfinite(v))
        return -HUGE_VAL;
    return v + shared_out(mm, &mm->ctx[c], th, g, 1.0);
}

/* The earlier seizures' exact log posterior log p(theta_old, y_1..y_K-1)
 * (their K-1 log posteriors minus the shared prior counted K-2 times too
 * often; gradient written into g). */
static double old_part(vbt_vep_multi *mm, size_t c, const double *th, double *g)
{
    const size_t K = mm->K;
    double v = dens(mm, c, th, g, 0, 0, K - 1);
    if (!isfinite(v) || K <= 2)
        return v;
    return v + shared_out(mm, &mm->ctx[c], th, g, (double)(K - 2));
}
static double old_cb(void *c, const double *th, double *g) { return old_part(c, 0, th, g); }

/* One worker's view of the two stages: Q (the Laplace approximation of the
 * joint, with its scratch), G, the model and its context. */
typedef struct sctx {
    lctx l;
    const sur *G;
    vbt_vep_multi *mm;
    double *rg;          /* n_old scratch */
} sctx;

/* The surrogate target: log G(theta_old) + log p_K(s, nu_K | y_K) - log p(s),
 * which costs one seizure's likelihood. */
static double pit(void *c, const double *th, double *g)
{
    sctx *x = c;
    double v = new_part(x->mm, x->l.c, th, g);
    return isfinite(v) ? v + sur_logg(x->G, th, g, 1.0, x->rg) : -HUGE_VAL;
}

/* Stage 1: from Q to the surrogate target. */
static double s1_prior_grad(void *c, const double *th, double *g)
{
    return lap_q(&((sctx *)c)->l, th, g);
}
static double s1_prior(void *c, const double *th) { return s1_prior_grad(c, th, NULL); }
static double s1_lik_grad(void *c, const double *th, double *g)
{
    sctx *x = c;
    double v = pit(c, th, g);
    if (!isfinite(v))
        return -HUGE_VAL;
    double l = lap_q(&x->l, th, g ? x->l.gq : NULL);
    if (g)
        for (size_t a = 0; a < x->l.q->n; a++)
            g[a] -= x->l.gq[a];
    return v - l;
}
static double s1_lik(void *c, const double *th) { return s1_lik_grad(c, th, NULL); }

/* Stage 2: from the surrogate target to the joint posterior: the increment
 * is the exact log p(theta_old, y_1..y_K-1) - log G(theta_old). */
static double s2_prior(void *c, const double *th) { return pit(c, th, NULL); }
static double s2_lik_grad(void *c, const double *th, double *g)
{
    sctx *x = c;
    double v = old_part(x->mm, x->l.c, th, g);
    return isfinite(v) ? v - sur_logg(x->G, th, g, -1.0, x->rg) : -HUGE_VAL;
}
static double s2_lik(void *c, const double *th) { return s2_lik_grad(c, th, NULL); }

/* G from the old particles: weighted mean and covariance (a ridge of 1e-10
 * of the diagonal, growing by 10 until the Cholesky factor exists), its
 * precision's factor. */
static int sur_fit(const double *old, const double *lw, size_t N, size_t n_old, sur *G)
{
    G->n_old = n_old;
    G->mu = calloc(n_old, sizeof *G->mu);
    G->L = calloc(n_old * n_old, sizeof *G->L);
    double *w = malloc(N * sizeof *w), *S = malloc(n_old * n_old * sizeof *S);
    int st = VBT_OK;
    if (!G->mu || !G->L || !w || !S) {
        st = VBT_ENOMEM;
        goto out;
    }
    double mx = -HUGE_VAL, tot = 0.0, w2 = 0.0;
    for (size_t i = 0; i < N; i++)
        mx = fmax(mx, lw ? lw[i] : 0.0);
    for (size_t i = 0; i < N; i++)
        tot += w[i] = isfinite(mx) ? exp((lw ? lw[i] : 0.0) - mx) : 0.0;
    if (!(tot > 0)) {
        st = VBT_ENUMERIC;
        goto out;
    }
    for (size_t i = 0; i < N; i++) {
        w[i] /= tot;
        w2 += w[i] * w[i];
        for (size_t a = 0; a < n_old; a++)
            G->mu[a] += w[i] * old[i * n_old + a];
    }
    if (!(w2 < 1.0)) {
        st = VBT_ENUMERIC;  /* one particle: no spread */
        goto out;
    }
    for (size_t a = 0; a < n_old; a++)
        for (size_t b = 0; b <= a; b++) {
            double v = 0.0;
            for (size_t i = 0; i < N; i++)
                v += w[i] * (old[i * n_old + a] - G->mu[a]) * (old[i * n_old + b] - G->mu[b]);
            S[a * n_old + b] = S[b * n_old + a] = v / (1.0 - w2);
        }
    gsl_error_handler_t *old_h = gsl_set_error_handler_off();
    int ok = 0;
    for (double ridge = 1e-10; ridge < 1.0 && !ok; ridge *= 10.0) {
        memcpy(G->L, S, n_old * n_old * sizeof *G->L);
        for (size_t a = 0; a < n_old; a++)
            G->L[a * n_old + a] += ridge * S[a * n_old + a] + 1e-300;
        gsl_matrix_view Cv = gsl_matrix_view_array(G->L, n_old, n_old);
        ok = gsl_linalg_cholesky_decomp1(&Cv.matrix) == 0 &&
             gsl_linalg_cholesky_invert(&Cv.matrix) == 0 &&
             gsl_linalg_cholesky_decomp1(&Cv.matrix) == 0;
    }
    gsl_set_error_handler(old_h);
    if (!ok) {
        st = VBT_ENUMERIC;
        goto out;
    }
    sur_norm(G);
out:
    free(w);
    free(S);
    return st;
}

/* The update by a surrogate (vbt_vep_multi_update): VBT_OK, VBT_ENOMEM, the
 * errors of vbt_smc_from, or NO_SURROGATE when no surrogate could be built
 * (the caller then tempers on the exact target).  theta0: nu_K's start (q's
 * centre) in [n_old, n). */
static int update_surrogate(vbt_vep_multi *mm, const double *old, const double *old_log_w,
                            const vbt_smc_opts *o_in, const double *theta0,
                            double *particles, vbt_smc_result *res,
                            vbt_vep_multi_update_info *info, vbt_msg *msg)
{
    const size_t N = o_in->n_particles, n = mm->n, m = mm->nj[mm->K - 1] - mm->n_shared,
                 n_old = n - m, T = o_in->n_threads;
    sur Gm = {0}, G = {.n_old = n_old};
    int st = sur_fit(old, old_log_w, N, n_old, &Gm);
    double *th = malloc(n * sizeof *th), *A = malloc(n * n * sizeof *A),
           *scratch = malloc(T * (2 * n + n_old) * sizeof *scratch),
           *z = malloc(n * sizeof *z), *rg = malloc(n_old * sizeof *rg),
           *gf = malloc(n * sizeof *gf), *lr = malloc(N * sizeof *lr);
    G.mu = malloc(n_old * sizeof *G.mu);
    G.L = malloc(n_old * n_old * sizeof *G.L);
    if (st == VBT_OK && (!th || !A || !scratch || !z || !rg || !gf || !lr || !G.mu || !G.L))
        st = VBT_ENOMEM;
    if (st != VBT_OK) {
        st = st == VBT_ENOMEM ? vbt__fail(msg, VBT_ENOMEM, "vep multi update: out of memory")
                              : NO_SURROGATE;
        goto out;
    }
    lq q = {.mm = mm, .n = n, .j1 = mm->K, .mu = th, .L = A,
            .log_norm = -0.5 * (double)n * log(2.0 * M_PI)};
    sctx sc[64];
    void *tc[64];
    for (size_t t = 0; t < T; t++) {
        double *w = scratch + t * (2 * n + n_old);
        sc[t] = (sctx){.l = {.q = &q, .c = t, .r = w, .gq = w + n}, .G = &Gm, .mm = mm,
                       .rg = w + 2 * n};
        tc[t] = &sc[t];
    }
    /* 1. the joint mode: damped Newton on G_m(theta_old) p_K / p(s), G_m the
     * particles' Gaussian (one seizure's gradients), from their mean and
     * q's centre; then on the exact joint from there (Hessians of every
     * seizure, at most EXACT_NEWTON: on the sample's second seizure, 339
     * parameters, it converges in 24; capped at 15 it stopped short, G was
     * expanded away from the mode, the correction's ESS fell to 1 of 512
     * and 45 exact tempering steps took 7 times the CPU) */
    memcpy(th, theta0, n * sizeof *th);
    memcpy(th, Gm.mu, n_old * sizeof *th);
    double lp;
    size_t it = 0, it2 = 0;
    if (!isfinite(pit(&sc[0], th, NULL)) ||
        newton_fn(pit, &sc[0], n, th, 0, n, 30, A, &lp, &it) != VBT_OK ||
        newton_block(mm, mm->K, th, 0, n, EXACT_NEWTON, A, &lp, &it2) != VBT_OK) {
        st = NO_SURROGATE;
        goto out;
    }
    /* 2. G: the old seizures' exact log posterior expanded to second order
     * at the joint mode theta* (its gradient there, go, is not 0: it
     * balances the new seizure's): log G = const + go' d - d' H d / 2, the
     * Gaussian of precision H and mean theta*_old + H^-1 go.  Where the
     * joint posterior lives, G is then the old posterior up to its third
     * derivatives, and the correction's weights stay even. */
    {
        double lpo;
        memcpy(z, th, n * sizeof *z);
        if (!isfinite(old_part(mm, 0, th, gf)) ||
            newton_fn(old_cb, mm, n, z, 0, n_old, 0, G.L, &lpo, NULL) != VBT_OK) {
            st = NO_SURROGATE;
            goto out;
        }
        gsl_matrix_view Lv = gsl_matrix_view_array(G.L, n_old, n_old);
        gsl_vector_view gv = gsl_vector_view_array(gf, n_old);
        gsl_linalg_cholesky_svx(&Lv.matrix, &gv.vector);
        for (size_t a = 0; a < n_old; a++)
            G.mu[a] = th[a] + gf[a];
        sur_norm(&G);
    }
    for (size_t t = 0; t < T; t++)
        sc[t].G = &G;
    /* Q: the Laplace approximation of the surrogate target at its mode
     * (theta* when Newton on the joint converged: G has the old part's
     * gradient and Hessian there; a few more steps of one seizure's
     * gradients when it did not), its covariance inflated by 1 +
     * sqrt(1.4 / n): a Gaussian of
     * variance c times the target's has importance weights of ESS fraction
     * (sqrt(2c - 1) / c)^n, about exp(-n (c - 1)^2 / 2) = 1/2 for this c: a
     * margin for a target wider than its curvature, for about one tempering
     * step */
    size_t it3 = 0;
    if (newton_fn(pit, &sc[0], n, th, 0, n, 30, A, &lp, &it3) != VBT_OK) {
        st = NO_SURROGATE;
        goto out;
    }
    lq_scale(&q, A, 1.0 / sqrt(1.0 + sqrt(1.4 / (double)n)));
    /* draws of Q (stream (seed, 2^61 + 2^40 + i)) */
    lq_draw(&q, N, o_in->seed, ((uint64_t)1 << 61) + ((uint64_t)1 << 40), particles, z);
    /* 3. stage 1: temper from Q to the surrogate target (moves: one seizure) */
    vbt_smc_opts o = *o_in;
    o.thread_ctx = tc;
    o.final_moves = 0;
    if (!(o.move_jump > 0))
        o.move_jump = VBT_VEP_MULTI_MOVE_JUMP;
    vbt_smc_result r1, r2;
    const vbt_smc_model m1 = {.n = n, .log_prior = s1_prior, .log_lik = s1_lik,
                              .log_prior_grad = s1_prior_grad, .log_lik_grad = s1_lik_grad};
    if ((st = vbt_smc_from(&m1, tc[0], &o, particles, NULL, particles, &r1, msg)))
        goto out;
    /* 4. stage 2: the exact correction p(theta_old, y_1..y_K-1) / G(theta_old),
     * tempered when its weights alone would collapse; its moves are exact
     * joint HMC moves (the final rejuvenation).  Another seed: other
     * streams than stage 1's. */
    o.seed = o_in->seed ^ UINT64_C(0x9e3779b97f4a7c15);
    if (o.n_moves > VBT_VEP_MULTI_EXACT_MOVES)
        o.n_moves = VBT_VEP_MULTI_EXACT_MOVES;
    const vbt_smc_model m2 = {.n = n, .log_prior = s2_prior, .log_lik = s2_lik,
                              .log_prior_grad = pit, .log_lik_grad = s2_lik_grad};
    if ((st = vbt_smc_from(&m2, tc[0], &o, particles, NULL, particles, &r2, msg)))
        goto out;
    /* log p(y_1..y_K-1) by reciprocal importance sampling on the old
     * particles with their Gaussian G_m: E_post[G_m / p(theta, y)] = 1 / p(y)
     * for a normalised G_m (Gelfand & Dey 1994) */
    double mx = -HUGE_VAL, mw = -HUGE_VAL, s1 = 0.0, sw = 0.0;
    for (size_t i = 0; i < N; i++) {
        memcpy(th, old + i * n_old, n_old * sizeof *th);
        double lo = old_part(mm, 0, th, NULL), lw = old_log_w ? old_log_w[i] : 0.0;
        lr[i] = isfinite(lo) && isfinite(lw) ? lw + sur_logg(&Gm, th, NULL, 0.0, rg) - lo
                                             : -HUGE_VAL;
        mx = fmax(mx, lr[i]);
        mw = fmax(mw, lw);
    }
    for (size_t i = 0; i < N; i++) {
        s1 += isfinite(lr[i]) ? exp(lr[i] - mx) : 0.0;
        sw += exp((old_log_w ? old_log_w[i] : 0.0) - mw);
    }
    const double log_inv_z = mx + log(s1) - (mw + log(sw));
    *res = r2;
    res->log_evidence = r1.log_evidence + r2.log_evidence + log_inv_z;
    res->n_steps = r1.n_steps + r2.n_steps;
    res->n_grad = r1.n_grad + r2.n_grad;
    res->n_divergent = r1.n_divergent + r2.n_divergent;
    res->n_rounds = r1.n_rounds + r2.n_rounds;
    res->mean_accept = res->n_steps ? (r1.mean_accept * (double)r1.n_steps +
                                       r2.mean_accept * (double)r2.n_steps) /
                                          (double)res->n_steps
                                    : 0.0;
    if (info) {
        info->surrogate = 1;
        info->surrogate_newton = it + it2 + it3;
        info->surrogate_steps = r1.n_steps;
        info->surrogate_rounds = r1.n_rounds;
        info->surrogate_grad = r1.n_grad;
        info->exact_steps = r2.n_steps;
        info->exact_rounds = r2.n_rounds;
        info->exact_grad = r2.n_grad;
        info->correction_ess = r2.reweight_ess;
    }
out:
    free(Gm.mu);
    free(Gm.L);
    free(G.mu);
    free(G.L);
    free(th);
    free(A);
    free(scratch);
    free(z);
    free(rg);
    free(gf);
    free(lr);
    return st;
}

/* ---- the joint fit's staged mode search ----------------------------------------------- */

/* The log posterior of the first seizures, or its surrogate, for the staged
 * search: log G(theta[0, G->n_old)) (G NULL: nothing) plus seizures
 * [j0, j1)'s log posteriors, with the shared prior counted once in all:
 * without G, j0 = 0 and the prior taken out j1 - 1 times; with G (a
 * Gaussian of the posterior of seizures [0, j0), prior included) taken out
 * j1 - j0 times. */
typedef struct pfx {
    vbt_vep_multi *mm;
    size_t j0, j1;
    const sur *G;
    double *r;           /* G->n_old scratch */
} pfx;

static double pfx_lp(void *c, const double *th, double *g)
{
    pfx *x = c;
    vbt_vep_multi *mm = x->mm;
    double v = dens(mm, 0, th, g, 0, x->j0, x->j1);
    if (!isfinite(v))
        return -HUGE_VAL;
    /* dens takes the prior out itself for the whole joint */
    const double w = x->j0 == 0 && x->j1 == mm->K ? 0.0
                                                  : (double)(x->j1 - x->j0) - (x->G ? 0.0 : 1.0);
    if (w > 0.0)
        v += shared_out(mm, &mm->ctx[0], th, g, w);
    return x->G ? v + sur_logg(x->G, th, g, 1.0, x->r) : v;
}

/* One staged path from cand, whose first seizure's parameters are set:
 * for k = 1 .. K-1, seizure k's own parameters by nu_search, damped Newton
 * on G times seizure k's posterior (G: Gm, the first seizure's particles'
 * Gaussian, for k = 1; the Laplace approximation at the previous stage's
 * mode after), then Newton on the exact posterior of seizures [0, k].  A
 * ends with the factor of the joint's -Hessian at cand's end, *lp its log
 * posterior.  Gk: scratch of n_old up to n. */
static int staged_path(vbt_vep_multi *mm, const sur *Gm, double *cand, double *A, sur *Gk,
                       double *r, uint64_t seed, uint64_t stream, double *lp)
{
    const size_t n = mm->n;
    size_t nk = mm->nj[0];    /* parameters of seizures [0, k) */
    for (size_t k = 1; k < mm->K; k++) {
        const size_t mk = mm->nj[k] - mm->n_shared;
        const sur *G = Gm;
        if (k > 1) {
            /* the Laplace approximation of seizures [0, k) at their mode
             * (A: the factor of the -Hessian there, from the exact Newton) */
            Gk->n_old = nk;
            memcpy(Gk->mu, cand, nk * sizeof *Gk->mu);
            memcpy(Gk->L, A, nk * nk * sizeof *Gk->L);
            sur_norm(Gk);
            G = Gk;
        }
        double lpk;
        if (nu_search(mm, k, cand, nk, mk, seed, stream + (k << 8), A, &lpk, NULL))
            return VBT_ENUMERIC;
        pfx sf = {mm, k, k + 1, G, r}, ef = {mm, 0, k + 1, NULL, r};
        nk += mk;
        if (!isfinite(pfx_lp(&sf, cand, NULL)) ||
            newton_fn(pfx_lp, &sf, n, cand, 0, nk, 30, A, lp, NULL) != VBT_OK ||
            newton_fn(pfx_lp, &ef, n, cand, 0, nk, 60, A, lp, NULL) != VBT_OK)
            return VBT_ENUMERIC;
    }
    return VBT_OK;
}

/* The staged mode search (VBT_VEP_MULTI_SEARCH_STAGED, K > 1).  th holds
 * the default search's start (the first seizure's MAP, every other
 * seizure's own parameters by nu_search there).  Seizure 1's posterior by
 * SMC from its Laplace approximation at the MAP (what `vbt twin init`
 * fits, on streams of its own) and its particles' Gaussian Gm.  The starts:
 * the default one (exact joint Newton from it, as the default search), then
 * Gm's mean and STARTS - 2 evenly spaced particles, each taken one seizure
 * at a time to the joint mode (staged_path: the path of the twin's updates,
 * with each stage's Laplace approximation in place of its particles).  th
 * ends at the end point of largest Laplace log mass.  A: n x n scratch. */
static int staged_search(vbt_vep_multi *mm, const vbt_smc_opts *o_in, double *th, double *A,
                         vbt_vep_multi_laplace_info *info, vbt_msg *msg)
{
    const size_t n = mm->n, m1 = mm->nj[0], N = o_in->n_particles;
    sur Gm = {0}, Gk = {0};
    double *P = malloc(N * m1 * sizeof *P), *mu = malloc(m1 * sizeof *mu),
           *r = malloc(n * sizeof *r), *start0 = malloc(n * sizeof *start0),
           *cand = malloc(n * sizeof *cand);
    Gk.mu = malloc(n * sizeof *Gk.mu);
    Gk.L = malloc(n * n * sizeof *Gk.L);
    int st = VBT_OK;
    if (!P || !mu || !r || !start0 || !cand || !Gk.mu || !Gk.L) {
        st = vbt__fail(msg, VBT_ENOMEM, "vep multi smc: out of memory");
        goto out;
    }
    memcpy(start0, th, n * sizeof *start0);
    /* 1. seizure 1's Laplace approximation at its MAP (3 Newton steps, as a
     * one-seizure fit), inflated as the joint's, and SMC from it */
    double lp;
    seizure_fn f1 = {mm, 0}, fj = {mm, mm->K};
    if (newton_fn(seizure_lp, &f1, n, th, 0, m1, 3, A, &lp, NULL) != VBT_OK) {
        st = vbt__fail(msg, VBT_ENUMERIC, "vep multi smc: no Laplace approximation of the first "
                       "seizure's posterior at its MAP");
        goto out;
    }
    memcpy(mu, th, m1 * sizeof *mu);
    vbt_smc_opts o = *o_in;
    o.seed = o_in->seed + ((uint64_t)1 << 32);
    vbt_smc_result r1;
    if ((st = laplace_smc(mm, m1, 1, mu, A, &o, o_in->seed,
                          ((uint64_t)1 << 60) + ((uint64_t)1 << 41), P, &r1, msg)))
        goto out;
    info->staged_smc_steps = r1.n_steps;
    if (sur_fit(P, NULL, N, m1, &Gm) != VBT_OK) {
        st = vbt__fail(msg, VBT_ENUMERIC, "vep multi smc: the first seizure's particles have no "
                       "Gaussian (one distinct particle, or out of memory)");
        goto out;
    }
    /* 2. the starts, each to its joint mode; the heaviest kept */
    double best = -HUGE_VAL;
    info->n_starts = VBT_VEP_MULTI_STARTS;
    for (size_t c = 0; c < VBT_VEP_MULTI_STARTS; c++) {
        double *lm = &info->start_log_mass[c];
        *lm = NAN;
        memcpy(cand, start0, n * sizeof *cand);
        if (c == 0) {
            if (newton_fn(seizure_lp, &fj, n, cand, 0, n, 60, A, &lp, NULL) != VBT_OK)
                continue;
        } else {
            const size_t pi = c == 1 ? 0 : (c - 2) * N / (VBT_VEP_MULTI_STARTS - 2);
            memcpy(cand, c == 1 ? Gm.mu : P + pi * m1, m1 * sizeof *cand);
            if (staged_path(mm, &Gm, cand, A, &Gk, r, o_in->seed,
                            ((uint64_t)1 << 57) + (c << 24), &lp) != VBT_OK)
                continue;
        }
        *lm = laplace_log_mass(A, n, lp, NULL);
        if (*lm > best) {
            best = *lm;
            info->best_start = (long)c;
            memcpy(th, cand, n * sizeof *th);
        }
    }
    if (!isfinite(best))
        st = vbt__fail(msg, VBT_ENUMERIC, "vep multi smc: no start of the staged search reached "
                       "a joint mode with a positive definite Hessian");
out:
    free(Gm.mu);
    free(Gm.L);
    free(Gk.mu);
    free(Gk.L);
    free(P);
    free(mu);
    free(r);
    free(start0);
    free(cand);
    return st;
}
