/* nuts.c -- the No-U-Turn sampler, following Stan's implementation
 * (stan/mcmc/hmc/nuts/base_nuts.hpp, base_hmc.hpp, stepsize_adaptation.hpp,
 * windowed_adaptation.hpp, var_adaptation.hpp, covar_adaptation.hpp) so
 * that a chain behaves as a Stan chain with the same settings would:
 * multinomial sampling within and across subtrees (biased progressive
 * sampling at the top level), the generalised U-turn criterion also checked
 * across the boundaries of merged subtrees, divergence when the energy
 * error exceeds max_delta_h, Stan's initial step-size heuristic, dual
 * averaging, and the 75 / 25-doubling / 50 warm-up windows with the
 * regularisation (n / (n + 5)) C + 1e-3 (5 / (n + 5)) I of the estimate. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "vbt_io.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"
#include "internal.h"

void vbt_nuts_opts_default(vbt_nuts_opts *o)
{
    o->max_depth = 10;
    o->adapt_delta = 0.8;
    o->warmup = 1000;
    o->draws = 1000;
    o->metric = VBT_NUTS_DIAG;
    o->adapt_metric = 1;
    o->stepsize = 1.0;
    o->stepsize_jitter = 0.0;
    o->gamma = 0.05;
    o->t0 = 10.0;
    o->kappa = 0.75;
    o->init_buffer = 75;
    o->term_buffer = 50;
    o->base_window = 25;
    o->max_delta_h = 1000.0;
    o->jump_n = 0;
    o->jump_coords = NULL;
    o->jump_scale = NULL;
    o->jump_n_coords = 0;
    o->jump_lo = 0.0;
    o->jump_hi = 0.0;
}

/* A phase-space point: position, momentum, gradient of log p, potential. */
typedef struct ps {
    double *q, *p, *g;
    double V;
} ps;

/* Per-depth workspace of build_tree (both halves of a subtree of depth d
 * use level d - 1 one after the other). */
typedef struct level {
    ps zf; /* z_propose_final */
    double *p_init_end, *ps_init_end, *rho_init, *p_final_beg, *ps_final_beg, *rho_final,
        *rho_ext;
} level;

struct vbt_nuts {
    size_t n;
    vbt_logp_fn logp;
    void *ctx;
    vbt_nuts_opts o;
    double *minv, *chol; /* inverse metric; dense: its lower Cholesky factor */
    ps z, z_fwd, z_bck, z_sample, z_propose;
    double *p_ff, *ps_ff, *p_fb, *ps_fb, *p_bf, *ps_bf, *p_bb, *ps_bb;
    double *rho, *rho_fwd, *rho_bck, *rho_ext, *tmp;
    ps z_jump;  /* a mode jump's proposal (q, g; p unused) */
    level *lv;
    vbt_rng rng;
    double nom_eps, eps;
    int divergent;
    /* dual averaging */
    double da_counter, s_bar, x_bar, mu;
    /* warm-up windows */
    int windows;
    size_t win_counter, win_size, win_next, ib, tb, bw;
    double est_n, *est_mean, *est_m2;
    size_t iter;
    int started;
    void *block;
};

/* ---- Hamiltonian ------------------------------------------------------- */

static double dotp(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* out = M^{-1} p (Stan's dtau_dp). */
static void dtau_dp(const vbt_nuts *s, const double *p, double *out)
{
    if (s->o.metric == VBT_NUTS_DENSE) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)s->n, (int)s->n, 1.0, s->minv, (int)s->n,
                    p, 1, 0.0, out, 1);
    } else {
        for (size_t i = 0; i < s->n; i++)
            out[i] = s->minv[i] * p[i];
    }
}

static double tau(vbt_nuts *s, const double *p)
{
    dtau_dp(s, p, s->tmp);
    return 0.5 * dotp(p, s->tmp, s->n);
}

static double H(vbt_nuts *s, const ps *z)
{
    return z->V + tau(s, z->p);
}

static void eval(vbt_nuts *s, ps *z)
{
    double lp = -HUGE_VAL;
    int st = s->logp(s->ctx, z->q, &lp, z->g);
    if (st != 0 || !isfinite(lp)) {
        z->V = HUGE_VAL;
        memset(z->g, 0, s->n * sizeof *z->g);
    } else {
        z->V = -lp;
    }
}

static double unif(vbt_nuts *s)
{
    double u;
    vbt_rng_uniform(&s->rng, &u, 1);
    return u;
}

/* p ~ N(0, M): diag p_i = z_i / sqrt(minv_i); dense p = L^{-T} z with
 * L L^T = M^{-1}. */
static void sample_p(vbt_nuts *s, double *p)
{
    size_t n = s->n;
    vbt_rng_normal(&s->rng, s->tmp, n);
    if (s->o.metric == VBT_NUTS_DENSE) {
        for (size_t i = n; i-- > 0;) {
            double v = s->tmp[i];
            for (size_t k = i + 1; k < n; k++)
                v -= s->chol[k * n + i] * p[k];
            p[i] = v / s->chol[i * n + i];
        }
    } else {
        for (size_t i = 0; i < n; i++)
            p[i] = s->tmp[i] / sqrt(s->minv[i]);
    }
}

static void leapfrog(vbt_nuts *s, ps *z, double eps)
{
    size_t n = s->n;
    for (size_t i = 0; i < n; i++)
        z->p[i] += 0.5 * eps * z->g[i];
    dtau_dp(s, z->p, s->tmp);
    for (size_t i = 0; i < n; i++)
        z->q[i] += eps * s->tmp[i];
    eval(s, z);
    for (size_t i = 0; i < n; i++)
        z->p[i] += 0.5 * eps * z->g[i];
}

static void ps_copy(size_t n, ps *dst, const ps *src)
{
    memcpy(dst->q, src->q, n * sizeof *dst->q);
    memcpy(dst->p, src->p, n * sizeof *dst->p);
    memcpy(dst->g, src->g, n * sizeof *dst->g);
    dst->V = src->V;
}

static void vcopy(double *dst, const double *src, size_t n)
{
    memcpy(dst, src, n * sizeof *dst);
}

static double log_sum_exp(double a, double b)
{
    if (a == -HUGE_VAL)
        return b;
    if (b == -HUGE_VAL)
        return a;
    double m = fmax(a, b);
    return m + log(exp(a - m) + exp(b - m));
}

static int criterion(const vbt_nuts *s, const double *ps_minus, const double *ps_plus,
                     const double *rho)
{
    return dotp(ps_plus, rho, s->n) > 0 && dotp(ps_minus, rho, s->n) > 0;
}

/* In-place lower Cholesky; -1 when not positive definite. */
static int cholesky(double *A, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (size_t k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0) || !isfinite(d))
            return -1;
        d = sqrt(d);
        A[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double v = A[i * n + j];
            for (size_t k = 0; k < j; k++)
                v -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = v / d;
        }
        for (size_t i = 0; i < j; i++)
            A[i * n + j] = 0.0;
    }
    return 0;
}

/* ---- the tree ---------------------------------------------------------- */

static int build_tree(vbt_nuts *s, size_t depth, ps *z_propose, double *ps_beg, double *ps_end,
                      double *rho, double *p_beg, double *p_end, double H0, double sign,
                      size_t *n_leapfrog, double *log_sum_weight, double *sum_metro)
{
    size_t n = s->n;
    if (depth == 0) {
        leapfrog(s, &s->z, sign * s->eps);
        ++*n_leapfrog;
        double h = H(s, &s->z);
        if (isnan(h))
            h = HUGE_VAL;
        if (h - H0 > s->o.max_delta_h)
            s->divergent = 1;
        *log_sum_weight = log_sum_exp(*log_sum_weight, H0 - h);
        *sum_metro += H0 - h > 0 ? 1.0 : exp(H0 - h);
        ps_copy(n, z_propose, &s->z);
        dtau_dp(s, s->z.p, ps_beg);
        vcopy(ps_end, ps_beg, n);
        for (size_t i = 0; i < n; i++)
            rho[i] += s->z.p[i];
        vcopy(p_beg, s->z.p, n);
        vcopy(p_end, p_beg, n);
        return !s->divergent;
    }
    level *L = &s->lv[depth];
    /* initial subtree */
    double lsw_init = -HUGE_VAL;
    memset(L->rho_init, 0, n * sizeof *L->rho_init);
    if (!build_tree(s, depth - 1, z_propose, ps_beg, L->ps_init_end, L->rho_init, p_beg,
                    L->p_init_end, H0, sign, n_leapfrog, &lsw_init, sum_metro))
        return 0;
    /* final subtree */
    ps_copy(n, &L->zf, &s->z);
    double lsw_final = -HUGE_VAL;
    memset(L->rho_final, 0, n * sizeof *L->rho_final);
    if (!build_tree(s, depth - 1, &L->zf, L->ps_final_beg, ps_end, L->rho_final,
                    L->p_final_beg, p_end, H0, sign, n_leapfrog, &lsw_final, sum_metro))
        return 0;
    /* multinomial sample from the right subtree */
    double lsw_sub = log_sum_exp(lsw_init, lsw_final);
    *log_sum_weight = log_sum_exp(*log_sum_weight, lsw_sub);
    if (lsw_final > lsw_sub) {
        ps_copy(n, z_propose, &L->zf);
    } else {
        double a = exp(lsw_final - lsw_sub);
        if (unif(s) < a)
            ps_copy(n, z_propose, &L->zf);
    }
    for (size_t i = 0; i < n; i++) {
        double r = L->rho_init[i] + L->rho_final[i];
        L->rho_ext[i] = r; /* rho_subtree */
        rho[i] += r;
    }
    int persist = criterion(s, ps_beg, ps_end, L->rho_ext);
    for (size_t i = 0; i < n; i++)
        L->rho_ext[i] = L->rho_init[i] + L->p_final_beg[i];
    persist = persist && criterion(s, ps_beg, L->ps_final_beg, L->rho_ext);
    for (size_t i = 0; i < n; i++)
        L->rho_ext[i] = L->rho_final[i] + L->p_init_end[i];
    persist = persist && criterion(s, L->ps_init_end, ps_end, L->rho_ext);
    return persist;
}

/* One NUTS transition from s->z (Stan's base_nuts::transition). */
static void transition(vbt_nuts *s, vbt_nuts_stats *st)
{
    size_t n = s->n;
    s->eps = s->nom_eps;
    if (s->o.stepsize_jitter > 0)
        s->eps = s->nom_eps * (1.0 + s->o.stepsize_jitter * (2.0 * unif(s) - 1.0));
    sample_p(s, s->z.p);
    ps_copy(n, &s->z_fwd, &s->z);
    ps_copy(n, &s->z_bck, &s->z);
    ps_copy(n, &s->z_sample, &s->z);
    ps_copy(n, &s->z_propose, &s->z);
    vcopy(s->p_ff, s->z.p, n);
    dtau_dp(s, s->z.p, s->ps_ff);
    vcopy(s->p_fb, s->z.p, n);
    vcopy(s->ps_fb, s->ps_ff, n);
    vcopy(s->p_bf, s->z.p, n);
    vcopy(s->ps_bf, s->ps_ff, n);
    vcopy(s->p_bb, s->z.p, n);
    vcopy(s->ps_bb, s->ps_ff, n);
    vcopy(s->rho, s->z.p, n);
    double log_sum_weight = 0.0;
    double H0 = H(s, &s->z);
    size_t n_leapfrog = 0, depth = 0;
    double sum_metro = 0.0;
    s->divergent = 0;
    while (depth < s->o.max_depth) {
        memset(s->rho_fwd, 0, n * sizeof(double));
        memset(s->rho_bck, 0, n * sizeof(double));
        int valid;
        double lsw_sub = -HUGE_VAL;
        if (unif(s) > 0.5) {
            ps_copy(n, &s->z, &s->z_fwd);
            vcopy(s->rho_bck, s->rho, n);
            vcopy(s->p_bf, s->p_fb, n);
            vcopy(s->ps_bf, s->ps_fb, n);
            valid = build_tree(s, depth, &s->z_propose, s->ps_fb, s->ps_ff, s->rho_fwd, s->p_fb,
                               s->p_ff, H0, 1.0, &n_leapfrog, &lsw_sub, &sum_metro);
            ps_copy(n, &s->z_fwd, &s->z);
        } else {
            ps_copy(n, &s->z, &s->z_bck);
            vcopy(s->rho_fwd, s->rho, n);
            vcopy(s->p_fb, s->p_bf, n);
            vcopy(s->ps_fb, s->ps_bf, n);
            valid = build_tree(s, depth, &s->z_propose, s->ps_bf, s->ps_bb, s->rho_bck, s->p_bf,
                               s->p_bb, H0, -1.0, &n_leapfrog, &lsw_sub, &sum_metro);
            ps_copy(n, &s->z_bck, &s->z);
        }
        if (!valid)
            break;
        ++depth;
        if (lsw_sub > log_sum_weight) {
            ps_copy(n, &s->z_sample, &s->z_propose);
        } else {
            double a = exp(lsw_sub - log_sum_weight);
            if (unif(s) < a)
                ps_copy(n, &s->z_sample, &s->z_propose);
        }
        log_sum_weight = log_sum_exp(log_sum_weight, lsw_sub);
        for (size_t i = 0; i < n; i++)
            s->rho[i] = s->rho_bck[i] + s->rho_fwd[i];
        int persist = criterion(s, s->ps_bb, s->ps_ff, s->rho);
        for (size_t i = 0; i < n; i++)
            s->rho_ext[i] = s->rho_bck[i] + s->p_fb[i];
        persist = persist && criterion(s, s->ps_bb, s->ps_fb, s->rho_ext);
        for (size_t i = 0; i < n; i++)
            s->rho_ext[i] = s->rho_fwd[i] + s->p_bf[i];
        persist = persist && criterion(s, s->ps_bf, s->ps_ff, s->rho_ext);
        if (!persist)
            break;
    }
    ps_copy(n, &s->z, &s->z_sample);
    st->lp = -s->z.V;
    st->accept_stat = n_leapfrog ? sum_metro / (double)n_leapfrog : 0.0;
    st->stepsize = s->eps;
    st->energy = H(s, &s->z);
    st->treedepth = (int)depth;
    st->divergent = s->divergent;
    st->n_leapfrog = n_leapfrog;
}

/* opts.jump_n Metropolis mode jumps of single coordinates from s->z (see
 * vbt_nuts.h).  The proposal q' = q + e_i d, d = +-scale U(lo, hi), is
 * symmetric: the reverse move is proposed with the same probability, so the
 * acceptance ratio is p(q') / p(q).  Returns the number accepted. */
static int jumps(vbt_nuts *s)
{
    const vbt_nuts_opts *o = &s->o;
    int acc = 0;
    for (size_t j = 0; j < o->jump_n; j++) {
        double u[3];
        vbt_rng_uniform(&s->rng, u, 3);
        size_t k = (size_t)(u[0] * (double)o->jump_n_coords);
        if (k >= o->jump_n_coords)
            k = o->jump_n_coords - 1;
        size_t i = o->jump_coords[k];
        double d = (o->jump_lo + (o->jump_hi - o->jump_lo) * u[1]) *
                   (o->jump_scale ? o->jump_scale[k] : 1.0);
        vcopy(s->z_jump.q, s->z.q, s->n);
        s->z_jump.q[i] += unif(s) < 0.5 ? -d : d;
        eval(s, &s->z_jump);
        /* V = -log p; a non-finite proposal has V = inf and is refused */
        if (isfinite(s->z_jump.V) && log(u[2]) < s->z.V - s->z_jump.V) {
            vcopy(s->z.q, s->z_jump.q, s->n);
            vcopy(s->z.g, s->z_jump.g, s->n);
            s->z.V = s->z_jump.V;
            acc++;
        }
    }
    return acc;
}

/* Stan's base_hmc::init_stepsize: double or halve eps until the acceptance
 * of one leapfrog step crosses 0.8.  Returns -1 when eps leaves (0, 1e7). */
static int init_stepsize(vbt_nuts *s)
{
    size_t n = s->n;
    ps *z0 = &s->z_sample; /* scratch copy of the starting point */
    if (s->nom_eps == 0 || s->nom_eps > 1e7 || isnan(s->nom_eps))
        return 0;
    ps_copy(n, z0, &s->z);
    sample_p(s, s->z.p);
    double H0 = H(s, &s->z);
    leapfrog(s, &s->z, s->nom_eps);
    double h = H(s, &s->z);
    if (isnan(h))
        h = HUGE_VAL;
    double dH = H0 - h;
    int dir = dH > log(0.8) ? 1 : -1;
    for (int it = 0; it < 2000; it++) {
        ps_copy(n, &s->z, z0);
        sample_p(s, s->z.p);
        H0 = H(s, &s->z);
        leapfrog(s, &s->z, s->nom_eps);
        h = H(s, &s->z);
        if (isnan(h))
            h = HUGE_VAL;
        dH = H0 - h;
        if (dir == 1 && !(dH > log(0.8)))
            break;
        else if (dir == -1 && !(dH < log(0.8)))
            break;
        else
            s->nom_eps = dir == 1 ? 2.0 * s->nom_eps : 0.5 * s->nom_eps;
        if (s->nom_eps > 1e7 || s->nom_eps == 0) {
            ps_copy(n, &s->z, z0);
            return -1;
        }
    }
    ps_copy(n, &s->z, z0);
    return 0;
}

/* ---- adaptation -------------------------------------------------------- */

static void da_restart(vbt_nuts *s)
{
    s->da_counter = 0;
    s->s_bar = 0;
    s->x_bar = 0;
}

static void da_learn(vbt_nuts *s, double adapt_stat)
{
    s->da_counter += 1.0;
    adapt_stat = adapt_stat > 1 ? 1 : adapt_stat;
    double eta = 1.0 / (s->da_counter + s->o.t0);
    s->s_bar = (1.0 - eta) * s->s_bar + eta * (s->o.adapt_delta - adapt_stat);
    double x = s->mu - s->s_bar * sqrt(s->da_counter) / s->o.gamma;
    double x_eta = pow(s->da_counter, -s->o.kappa);
    s->x_bar = (1.0 - x_eta) * s->x_bar + x_eta * x;
    s->nom_eps = exp(x);
}

static void windows_setup(vbt_nuts *s)
{
    size_t W = s->o.warmup;
    s->ib = s->o.init_buffer;
    s->tb = s->o.term_buffer;
    s->bw = s->o.base_window;
    s->windows = s->o.adapt_metric && W >= 20;
    if (s->windows && s->ib + s->bw + s->tb > W) {
        s->ib = (size_t)(0.15 * (double)W);
        s->tb = (size_t)(0.1 * (double)W);
        s->bw = W - (s->ib + s->tb);
    }
    s->win_counter = 0;
    s->win_size = s->bw;
    s->win_next = s->ib + s->win_size - 1;
}

static int in_window(const vbt_nuts *s)
{
    size_t W = s->o.warmup;
    return s->win_counter >= s->ib && s->win_counter < W - s->tb && s->win_counter != W;
}

static int end_window(const vbt_nuts *s)
{
    return s->win_counter == s->win_next && s->win_counter != s->o.warmup;
}

static void next_window(vbt_nuts *s)
{
    size_t W = s->o.warmup;
    if (s->win_next == W - s->tb - 1)
        return;
    s->win_size *= 2;
    s->win_next = s->win_counter + s->win_size;
    if (s->win_next != W - s->tb - 1) {
        size_t boundary = s->win_next + 2 * s->win_size;
        if (boundary >= W - s->tb)
            s->win_next = W - s->tb - 1;
    }
}

static void est_restart(vbt_nuts *s)
{
    size_t m = s->o.metric == VBT_NUTS_DENSE ? s->n * s->n : s->n;
    s->est_n = 0;
    memset(s->est_mean, 0, s->n * sizeof(double));
    memset(s->est_m2, 0, m * sizeof(double));
}

/* Welford update of the running (co)variance of q. */
static void est_add(vbt_nuts *s, const double *q)
{
    size_t n = s->n;
    s->est_n += 1.0;
    for (size_t i = 0; i < n; i++)
        s->tmp[i] = q[i] - s->est_mean[i]; /* delta before the mean update */
    for (size_t i = 0; i < n; i++)
        s->est_mean[i] += s->tmp[i] / s->est_n;
    if (s->o.metric == VBT_NUTS_DENSE) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                s->est_m2[i * n + j] += (q[i] - s->est_mean[i]) * s->tmp[j];
    } else {
        for (size_t i = 0; i < n; i++)
            s->est_m2[i] += s->tmp[i] * (q[i] - s->est_mean[i]);
    }
}

/* Stan's learn_variance / learn_covariance: 1 when the metric changed. */
static int learn_metric(vbt_nuts *s, const double *q)
{
    if (!s->windows)
        return 0;
    size_t n = s->n;
    if (in_window(s))
        est_add(s, q);
    if (end_window(s)) {
        next_window(s);
        double c = s->est_n;
        double a = c / (c + 5.0), b = 1e-3 * (5.0 / (c + 5.0));
        if (s->o.metric == VBT_NUTS_DENSE) {
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    double v = s->est_m2[i * n + j] / (c - 1.0);
                    s->chol[i * n + j] = a * 0.5 * (v + s->est_m2[j * n + i] / (c - 1.0)) +
                                         (i == j ? b : 0.0);
                }
            memcpy(s->est_m2, s->chol, n * n * sizeof(double)); /* keep the new metric */
            if (cholesky(s->chol, n) == 0) {
                memcpy(s->minv, s->est_m2, n * n * sizeof(double));
            } else {
                /* not positive definite (too few draws): keep the old metric */
                memcpy(s->chol, s->minv, n * n * sizeof(double));
                cholesky(s->chol, n);
            }
        } else {
            for (size_t i = 0; i < n; i++)
                s->minv[i] = a * s->est_m2[i] / (c - 1.0) + b;
        }
        est_restart(s);
        ++s->win_counter;
        return 1;
    }
    ++s->win_counter;
    return 0;
}

/* ---- public ------------------------------------------------------------ */

int vbt_nuts_alloc(vbt_nuts **out, size_t n, vbt_logp_fn logp, void *ctx,
                   const vbt_nuts_opts *opts, vbt_msg *msg)
{
    if (!out)
        return vbt__fail(msg, VBT_EINVAL, "nuts: NULL output");
    *out = NULL;
    vbt_nuts_opts def;
    if (!opts) {
        vbt_nuts_opts_default(&def);
        opts = &def;
    }
    if (n == 0 || !logp)
        return vbt__fail(msg, VBT_EINVAL, "nuts: no parameters or no log density");
    if (opts->max_depth < 1 || opts->max_depth > 30)
        return vbt__fail(msg, VBT_EINVAL, "nuts: max_depth %zu is outside [1, 30]",
                         opts->max_depth);
    if (!(opts->adapt_delta > 0 && opts->adapt_delta < 1))
        return vbt__fail(msg, VBT_EINVAL, "nuts: adapt_delta %g is outside (0, 1)",
                         opts->adapt_delta);
    if (!(opts->stepsize > 0) || !(opts->stepsize_jitter >= 0 && opts->stepsize_jitter < 1) ||
        !(opts->gamma > 0) || !(opts->t0 >= 0) || !(opts->kappa > 0) || !(opts->max_delta_h > 0))
        return vbt__fail(msg, VBT_EINVAL, "nuts: stepsize, jitter or dual-averaging setting "
                                          "out of range");
    if (opts->metric != VBT_NUTS_DIAG && opts->metric != VBT_NUTS_DENSE)
        return vbt__fail(msg, VBT_EINVAL, "nuts: unknown metric %d", (int)opts->metric);
    if (opts->jump_n) {
        if (!opts->jump_coords || !opts->jump_n_coords ||
            !(opts->jump_lo >= 0 && opts->jump_hi >= opts->jump_lo && isfinite(opts->jump_hi)))
            return vbt__fail(msg, VBT_EINVAL, "nuts: mode jumps need coordinates and "
                                              "0 <= jump_lo <= jump_hi < inf");
        for (size_t k = 0; k < opts->jump_n_coords; k++)
            if (opts->jump_coords[k] >= n ||
                (opts->jump_scale && !(opts->jump_scale[k] > 0 && isfinite(opts->jump_scale[k]))))
                return vbt__fail(msg, VBT_EINVAL, "nuts: mode jump %zu: coordinate %zu of %zu, "
                                 "or its scale not positive", k, opts->jump_coords[k], n);
    }
    vbt_nuts *s = calloc(1, sizeof *s);
    if (!s)
        return vbt__fail(msg, VBT_ENOMEM, "nuts: out of memory");
    s->n = n;
    s->logp = logp;
    s->ctx = ctx;
    s->o = *opts;
    size_t D = opts->max_depth, m = opts->metric == VBT_NUTS_DENSE ? n * n : n;
    /* 6 points x 3 + 13 vectors + per level (3 + 7) + metric, chol, estimator */
    size_t nvec = 18 + 13 + D * 10;
    size_t total = nvec * n + 3 * m + n;
    s->block = malloc(total * sizeof(double));
    s->lv = calloc(D, sizeof *s->lv);
    if (!s->block || !s->lv) {
        vbt_nuts_free(s);
        return vbt__fail(msg, VBT_ENOMEM, "nuts: out of memory (%zu parameters)", n);
    }
    double *b = s->block;
#define TAKE(ptr, len) (ptr = b, b += (len))
    ps *pts[6] = {&s->z, &s->z_fwd, &s->z_bck, &s->z_sample, &s->z_propose, &s->z_jump};
    for (int k = 0; k < 6; k++) {
        TAKE(pts[k]->q, n);
        TAKE(pts[k]->p, n);
        TAKE(pts[k]->g, n);
    }
    TAKE(s->p_ff, n); TAKE(s->ps_ff, n); TAKE(s->p_fb, n); TAKE(s->ps_fb, n);
    TAKE(s->p_bf, n); TAKE(s->ps_bf, n); TAKE(s->p_bb, n); TAKE(s->ps_bb, n);
    TAKE(s->rho, n); TAKE(s->rho_fwd, n); TAKE(s->rho_bck, n); TAKE(s->rho_ext, n);
    TAKE(s->tmp, n);
    for (size_t d = 0; d < D; d++) {
        level *L = &s->lv[d];
        TAKE(L->zf.q, n); TAKE(L->zf.p, n); TAKE(L->zf.g, n);
        TAKE(L->p_init_end, n); TAKE(L->ps_init_end, n); TAKE(L->rho_init, n);
        TAKE(L->p_final_beg, n); TAKE(L->ps_final_beg, n); TAKE(L->rho_final, n);
        TAKE(L->rho_ext, n);
    }
    TAKE(s->minv, m);
    TAKE(s->chol, m);
    TAKE(s->est_m2, m);
    TAKE(s->est_mean, n);
#undef TAKE
    memset(s->block, 0, total * sizeof(double));
    if (opts->metric == VBT_NUTS_DENSE) {
        for (size_t i = 0; i < n; i++)
            s->minv[i * n + i] = s->chol[i * n + i] = 1.0;
    } else {
        for (size_t i = 0; i < n; i++)
            s->minv[i] = 1.0;
    }
    *out = s;
    return VBT_OK;
}

void vbt_nuts_free(vbt_nuts *s)
{
    if (!s)
        return;
    free(s->block);
    free(s->lv);
    free(s);
}

int vbt_nuts_set_inv_metric(vbt_nuts *s, const double *m, int full)
{
    if (!s || !m)
        return VBT_EINVAL;
    size_t n = s->n;
    if (s->o.metric == VBT_NUTS_DENSE) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                s->est_m2[i * n + j] = 0.5 * (m[i * n + j] + m[j * n + i]);
        memcpy(s->chol, s->est_m2, n * n * sizeof(double));
        if (cholesky(s->chol, n) != 0) {
            memcpy(s->chol, s->minv, n * n * sizeof(double));
            cholesky(s->chol, n);
            memset(s->est_m2, 0, n * n * sizeof(double));
            return VBT_ENUMERIC;
        }
        memcpy(s->minv, s->est_m2, n * n * sizeof(double));
        memset(s->est_m2, 0, n * n * sizeof(double));
    } else {
        for (size_t i = 0; i < n; i++) {
            double v = full ? m[i * n + i] : m[i];
            if (!(v > 0) || !isfinite(v))
                return VBT_ENUMERIC;
        }
        for (size_t i = 0; i < n; i++)
            s->minv[i] = full ? m[i * n + i] : m[i];
    }
    return VBT_OK;
}

int vbt_nuts_init(vbt_nuts *s, const double *theta, uint64_t seed, uint64_t stream)
{
    if (!s || !theta)
        return VBT_EINVAL;
    vbt_rng_init(&s->rng, seed, stream);
    memcpy(s->z.q, theta, s->n * sizeof(double));
    eval(s, &s->z);
    s->started = 0;
    s->iter = 0;
    if (!isfinite(s->z.V))
        return VBT_ENUMERIC;
    s->nom_eps = s->o.stepsize;
    /* Stan sets mu from the user's step size before the first heuristic */
    s->mu = log(10.0 * s->o.stepsize);
    da_restart(s);
    windows_setup(s);
    est_restart(s);
    if (s->o.warmup > 0 && init_stepsize(s) != 0)
        return VBT_ENUMERIC;
    s->started = 1;
    return VBT_OK;
}

int vbt_nuts_iterate(vbt_nuts *s, double *theta_out, vbt_nuts_stats *stats)
{
    if (!s || !s->started)
        return VBT_EINVAL;
    vbt_nuts_stats st;
    transition(s, &st);
    st.jumps = 0;
    if (s->o.jump_n) {
        st.jumps = jumps(s);
        if (st.jumps) { /* the draw is where the jumps left it */
            st.lp = -s->z.V;
            st.energy = H(s, &s->z);
        }
    }
    if (s->iter < s->o.warmup) {
        da_learn(s, st.accept_stat);
        if (learn_metric(s, s->z.q)) {
            init_stepsize(s);
            s->mu = log(10.0 * s->nom_eps);
            da_restart(s);
        }
        if (s->iter + 1 == s->o.warmup)
            s->nom_eps = exp(s->x_bar); /* complete_adaptation */
    }
    s->iter++;
    if (theta_out)
        memcpy(theta_out, s->z.q, s->n * sizeof(double));
    if (stats)
        *stats = st;
    return VBT_OK;
}

size_t vbt_nuts_n_params(const vbt_nuts *s) { return s->n; }
size_t vbt_nuts_iteration(const vbt_nuts *s) { return s->iter; }
double vbt_nuts_stepsize(const vbt_nuts *s) { return s->nom_eps; }
const double *vbt_nuts_inv_metric(const vbt_nuts *s) { return s->minv; }
const double *vbt_nuts_position(const vbt_nuts *s) { return s->z.q; }

/* ---- saved states ---------------------------------------------------------
 *
 * Layout (native byte order, checked by a marker): magic, version, marker,
 * n, metric, the options, the iteration count, the random stream, the step
 * size and dual-averaging state, the warm-up window, the estimator count and
 * potential, then q, grad, the inverse metric, its Cholesky factor and the
 * estimator's mean and M2, and last the SHA-256 (hex) of everything before.
 * The momentum and every other buffer are scratch that a transition
 * overwrites before reading, so they are not saved. */

#define STATE_MAGIC "VBTNUTS"     /* 8 bytes with its NUL */
#define STATE_VERSION 2u          /* 2: mode-jump options */
#define STATE_ENDIAN 0x01020304u
#define STATE_N_OPT_U64 10        /* the options put_opts writes */
#define STATE_N_OPT_F64 9
#define STATE_N_U64 (STATE_N_OPT_U64 + 7) /* n, metric, options, iter, rng counter, window (3) */
#define STATE_N_F64 (STATE_N_OPT_F64 + 7) /* options, step size, dual averaging (4), est_n, V */
#define STATE_HASH 64

typedef struct wbuf {
    unsigned char *p;
} wbuf;

static void put(wbuf *w, const void *v, size_t len)
{
    memcpy(w->p, v, len);
    w->p += len;
}

static void put_u64(wbuf *w, uint64_t v) { put(w, &v, sizeof v); }
static void put_f64(wbuf *w, double v) { put(w, &v, sizeof v); }

typedef struct rbuf {
    const unsigned char *p;
} rbuf;

static void get(rbuf *r, void *v, size_t len)
{
    memcpy(v, r->p, len);
    r->p += len;
}

static uint64_t get_u64(rbuf *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}

static double get_f64(rbuf *r)
{
    double v;
    get(r, &v, sizeof v);
    return v;
}

static size_t metric_len(const vbt_nuts *s)
{
    return s->o.metric == VBT_NUTS_DENSE ? s->n * s->n : s->n;
}

static size_t state_header_size(void)
{
    return 8 + 3 * sizeof(uint32_t) + 4 * sizeof(uint32_t) + STATE_N_U64 * sizeof(uint64_t) +
           STATE_N_F64 * sizeof(double);
}

size_t vbt_nuts_state_size(const vbt_nuts *s)
{
    if (!s)
        return 0;
    return state_header_size() + (3 * s->n + 3 * metric_len(s)) * sizeof(double) + STATE_HASH;
}

/* The options that shape a chain, in a fixed order. */
static void put_opts(wbuf *w, const vbt_nuts_opts *o)
{
    put_u64(w, o->max_depth);
    put_u64(w, o->warmup);
    put_u64(w, o->draws);
    put_u64(w, (uint64_t)o->adapt_metric);
    put_u64(w, o->init_buffer);
    put_u64(w, o->term_buffer);
    put_u64(w, o->base_window);
    put_f64(w, o->adapt_delta);
    put_f64(w, o->stepsize);
    put_f64(w, o->stepsize_jitter);
    put_f64(w, o->gamma);
    put_f64(w, o->t0);
    put_f64(w, o->kappa);
    put_f64(w, o->max_delta_h);
    /* mode jumps: count, coordinates (FNV-1a of indices and scales), size */
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; o->jump_n && k < o->jump_n_coords; k++) {
        double sc = o->jump_scale ? o->jump_scale[k] : 1.0;
        uint64_t v[2] = {o->jump_coords[k], 0};
        memcpy(&v[1], &sc, sizeof sc);
        for (int b = 0; b < 2; b++)
            for (int byte = 0; byte < 8; byte++) {
                h ^= (v[b] >> (8 * byte)) & 0xffu;
                h *= 1099511628211ull;
            }
    }
    put_u64(w, o->jump_n);
    put_u64(w, o->jump_n ? o->jump_n_coords : 0);
    put_u64(w, h);
    put_f64(w, o->jump_n ? o->jump_lo : 0.0);
    put_f64(w, o->jump_n ? o->jump_hi : 0.0);
}

int vbt_nuts_state_save(const vbt_nuts *s, void *buf, size_t len)
{
    if (!s || !buf || !s->started || len < vbt_nuts_state_size(s))
        return VBT_EINVAL;
    size_t n = s->n, m = metric_len(s);
    wbuf w = {buf};
    uint32_t head[3] = {STATE_VERSION, STATE_ENDIAN, 0};
    put(&w, STATE_MAGIC, 8);
    put(&w, head, sizeof head);
    put(&w, s->rng.key, sizeof s->rng.key);
    put(&w, s->rng.stream, sizeof s->rng.stream);
    put_u64(&w, n);
    put_u64(&w, (uint64_t)s->o.metric);
    put_opts(&w, &s->o);
    put_u64(&w, s->iter);
    put_u64(&w, s->rng.counter);
    put_u64(&w, s->win_counter);
    put_u64(&w, s->win_size);
    put_u64(&w, s->win_next);
    put_f64(&w, s->nom_eps);
    put_f64(&w, s->mu);
    put_f64(&w, s->da_counter);
    put_f64(&w, s->s_bar);
    put_f64(&w, s->x_bar);
    put_f64(&w, s->est_n);
    put_f64(&w, s->z.V);
    put(&w, s->z.q, n * sizeof(double));
    put(&w, s->z.g, n * sizeof(double));
    put(&w, s->minv, m * sizeof(double));
    put(&w, s->chol, m * sizeof(double));
    put(&w, s->est_mean, n * sizeof(double));
    put(&w, s->est_m2, m * sizeof(double));
    char hex[65];
    vbt_sha256_buffer(buf, (size_t)(w.p - (unsigned char *)buf), hex);
    put(&w, hex, STATE_HASH);
    return VBT_OK;
}

static int all_finite(const unsigned char *p, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        double v;
        memcpy(&v, p + i * sizeof v, sizeof v);
        if (!isfinite(v))
            return 0;
    }
    return 1;
}

int vbt_nuts_state_load(vbt_nuts *s, const void *buf, size_t len, vbt_msg *msg)
{
    if (!s || !buf)
        return vbt__fail(msg, VBT_EINVAL, "nuts state: NULL argument");
    size_t n = s->n, m = metric_len(s), want = vbt_nuts_state_size(s);
    rbuf r = {buf};
    if (len < state_header_size() || memcmp(buf, STATE_MAGIC, 8) != 0)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: not a saved NUTS state (%zu bytes)",
                         len);
    r.p += 8;
    uint32_t head[3], key[2], stream[2];
    get(&r, head, sizeof head);
    if (head[0] != STATE_VERSION)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: version %u, this library reads %u",
                         (unsigned)head[0], STATE_VERSION);
    if (head[1] != STATE_ENDIAN)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: saved on a machine of another byte "
                                           "order");
    get(&r, key, sizeof key);
    get(&r, stream, sizeof stream);
    uint64_t sn = get_u64(&r), smetric = get_u64(&r);
    if (sn != n || smetric != (uint64_t)s->o.metric)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: saved for %llu parameters with a %s "
                         "metric, this chain has %zu with a %s metric", (unsigned long long)sn,
                         smetric == VBT_NUTS_DENSE ? "dense" : "diagonal", n,
                         s->o.metric == VBT_NUTS_DENSE ? "dense" : "diagonal");
    if (len != want)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: %zu bytes, expected %zu (truncated?)",
                         len, want);
    char hex[65];
    vbt_sha256_buffer(buf, want - STATE_HASH, hex);
    if (memcmp(hex, (const unsigned char *)buf + want - STATE_HASH, STATE_HASH) != 0)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: checksum mismatch (corrupt)");
    /* the options: compared through their serialised form */
    unsigned char ob[STATE_N_OPT_U64 * sizeof(uint64_t) + STATE_N_OPT_F64 * sizeof(double)];
    wbuf ow = {ob};
    put_opts(&ow, &s->o);
    if (memcmp(ob, r.p, sizeof ob) != 0)
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: saved with other sampler options "
                                           "(warm-up, draws, depth, adaptation, mode jumps)");
    r.p += sizeof ob;
    uint64_t iter = get_u64(&r), counter = get_u64(&r);
    uint64_t wc = get_u64(&r), ws = get_u64(&r), wn = get_u64(&r);
    double f[7];
    for (int k = 0; k < 7; k++)
        f[k] = get_f64(&r);
    const unsigned char *arr = r.p;
    if (iter > s->o.warmup + s->o.draws || wc > s->o.warmup || ws > s->o.warmup ||
        wn > 2 * s->o.warmup + 1 || !(f[0] > 0) || !all_finite((const unsigned char *)f, 7) ||
        !all_finite(arr, 3 * n + 3 * m))
        return vbt__fail(msg, VBT_EFORMAT, "nuts state: values out of range");
    /* accepted: overwrite the chain */
    windows_setup(s);
    memcpy(s->rng.key, key, sizeof key);
    memcpy(s->rng.stream, stream, sizeof stream);
    s->rng.counter = counter;
    s->iter = (size_t)iter;
    s->win_counter = (size_t)wc;
    s->win_size = (size_t)ws;
    s->win_next = (size_t)wn;
    s->nom_eps = f[0];
    s->mu = f[1];
    s->da_counter = f[2];
    s->s_bar = f[3];
    s->x_bar = f[4];
    s->est_n = f[5];
    s->z.V = f[6];
    get(&r, s->z.q, n * sizeof(double));
    get(&r, s->z.g, n * sizeof(double));
    get(&r, s->minv, m * sizeof(double));
    get(&r, s->chol, m * sizeof(double));
    get(&r, s->est_mean, n * sizeof(double));
    get(&r, s->est_m2, m * sizeof(double));
    s->started = 1;
    return VBT_OK;
}

/* ---- chains on threads --------------------------------------------------- */

/* Chains are run in slices of CHAIN_SLICE iterations, each slice on
 * whichever thread is free, the chain furthest behind first: 4 chains on 2
 * threads then finish together instead of when the slower pair does.  A
 * chain's transitions depend only on its own state and stream, so the draws
 * do not depend on the scheduling. */
#define CHAIN_SLICE 10

/* One chain between slices. */
typedef struct chain_slot {
    vbt_nuts *s;
    void *state;             /* checkpoint buffer */
    size_t state_len;
    size_t it;               /* transitions done */
    int started, busy, finished;
} chain_slot;

typedef struct chain_shared {
    const vbt_nuts_run *run;
    const vbt_nuts_opts *o;
    double *draws;
    vbt_nuts_stats *stats;
    vbt_nuts_chain_info *info;
    chain_slot *slot;
    int stop;
    pthread_mutex_t lock;
} chain_shared;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Add k post-warm-up draws' stats to the chain's counters (a resumed chain's
 * earlier draws, or each new one). */
static void count_stats(const vbt_nuts_stats *st, size_t k, size_t max_depth,
                        vbt_nuts_chain_info *inf)
{
    for (size_t d = 0; d < k; d++) {
        inf->divergences += (size_t)st[d].divergent;
        inf->max_depth_hits += (size_t)(st[d].treedepth >= (int)max_depth);
        inf->n_leapfrog += st[d].n_leapfrog;
        inf->jumps_accepted += (size_t)st[d].jumps;
    }
}

static void set_stop(chain_shared *sh)
{
    pthread_mutex_lock(&sh->lock);
    sh->stop = 1;
    pthread_mutex_unlock(&sh->lock);
}

/* The chain's sampler: allocated, then loaded from its resume state or
 * initialised at its starting point.  0, or the status to report. */
static int chain_start(chain_shared *sh, size_t c)
{
    const vbt_nuts_run *r = sh->run;
    const vbt_nuts_opts *o = sh->o;
    chain_slot *sl = &sh->slot[c];
    vbt_nuts_chain_info *inf = &sh->info[c];
    size_t n = r->n_params;
    int st = vbt_nuts_alloc(&sl->s, n, r->logp, r->ctx[c], o, NULL);
    if (st)
        return st;
    if (r->checkpoint) {
        sl->state_len = vbt_nuts_state_size(sl->s);
        if (!(sl->state = malloc(sl->state_len)))
            return VBT_ENOMEM;
    }
    if (r->resume && r->resume[c]) {
        /* checked by vbt_nuts_sample before the threads start */
        if ((st = vbt_nuts_state_load(sl->s, r->resume[c], r->resume_len[c], NULL)))
            return st;
        sl->it = vbt_nuts_iteration(sl->s);
        if (sl->it > o->warmup && sh->stats)
            count_stats(sh->stats + c * o->draws, sl->it - o->warmup, o->max_depth, inf);
        return VBT_OK;
    }
    if (r->inv_metric && (st = vbt_nuts_set_inv_metric(sl->s, r->inv_metric,
                                                       r->inv_metric_full)))
        return st;
    return vbt_nuts_init(sl->s, r->inits + c * n, r->seed, c);
}

static void chain_finish(chain_slot *sl, vbt_nuts_chain_info *inf)
{
    if (sl->s && (inf->status == VBT_OK || inf->status == VBT_EINVAL))
        inf->stepsize = vbt_nuts_stepsize(sl->s); /* ran to the end, or stopped */
    vbt_nuts_free(sl->s);
    free(sl->state);
    sl->s = NULL;
    sl->state = NULL;
    sl->finished = 1;
}

/* Saves chain c where it stands, unless it has nothing left to do.  1 when
 * the checkpoint callback asks to stop. */
static int chain_save(chain_shared *sh, size_t c)
{
    const vbt_nuts_run *r = sh->run;
    chain_slot *sl = &sh->slot[c];
    if (!r->checkpoint || sl->it >= sh->o->warmup + sh->o->draws)
        return 0;
    vbt_nuts_state_save(sl->s, sl->state, sl->state_len);
    return r->checkpoint(r->checkpoint_ctx, c, sl->it, sl->state, sl->state_len) != 0;
}

/* Up to CHAIN_SLICE transitions of chain c; stop: the run was stopped when
 * this slice was picked (the chain then saves where it stands and ends). */
static void chain_slice(chain_shared *sh, size_t c, int stop)
{
    const vbt_nuts_run *r = sh->run;
    const vbt_nuts_opts *o = sh->o;
    const size_t n = r->n_params, total = o->warmup + o->draws;
    chain_slot *sl = &sh->slot[c];
    vbt_nuts_chain_info *inf = &sh->info[c];
    double t0 = wall_now();
    if (!sl->started) {
        sl->started = 1;
        if (stop) { /* never started: nothing to save, nothing to report */
            sl->finished = 1;
            return;
        }
        if ((inf->status = chain_start(sh, c))) {
            chain_finish(sl, inf);
            goto out;
        }
    } else if (stop) {
        chain_save(sh, c);
        inf->status = VBT_EINVAL;
        chain_finish(sl, inf);
        goto out;
    }
    size_t end = sl->it + CHAIN_SLICE < total ? sl->it + CHAIN_SLICE : total;
    while (sl->it < end) {
        size_t it = sl->it;
        vbt_nuts_stats st;
        size_t k = it - o->warmup;
        double *th = it >= o->warmup && sh->draws ? sh->draws + (c * o->draws + k) * n : NULL;
        vbt_nuts_iterate(sl->s, th, &st);
        sl->it = it + 1;
        if (it >= o->warmup) {
            count_stats(&st, 1, o->max_depth, inf);
            if (sh->stats)
                sh->stats[c * o->draws + k] = st;
        }
        if (r->progress && r->progress(r->progress_ctx, c, it + 1, total,
                                       vbt_nuts_stepsize(sl->s), inf->divergences))
            set_stop(sh);
        pthread_mutex_lock(&sh->lock);
        stop = sh->stop;
        pthread_mutex_unlock(&sh->lock);
        /* a checkpoint every checkpoint_every iterations, and where a stop
         * leaves the chain (nothing to save after the last iteration) */
        if ((stop || (r->checkpoint_every && (it + 1) % r->checkpoint_every == 0)) &&
            chain_save(sh, c) && !stop) {
            stop = 1;
            set_stop(sh);
        }
        if (stop) {
            inf->status = VBT_EINVAL;
            chain_finish(sl, inf);
            goto out;
        }
    }
    if (sl->it == total)
        chain_finish(sl, inf);
out:
    inf->wall_s += wall_now() - t0;
}

static void *chain_worker(void *arg)
{
    chain_shared *sh = arg;
    const size_t C = sh->run->n_chains;
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        size_t c = C;
        for (size_t k = 0; k < C; k++) {
            const chain_slot *sl = &sh->slot[k];
            if (!sl->busy && !sl->finished && (c == C || sl->it < sh->slot[c].it))
                c = k;
        }
        int stop = sh->stop;
        if (c < C)
            sh->slot[c].busy = 1;
        pthread_mutex_unlock(&sh->lock);
        if (c == C)
            break; /* every chain is finished or on another thread */
        chain_slice(sh, c, stop);
        pthread_mutex_lock(&sh->lock);
        sh->slot[c].busy = 0;
        pthread_mutex_unlock(&sh->lock);
    }
    return NULL;
}

/* Every resume state loads into a chain of this run and continues its
 * stream (seed, c): refused here, with the reason, before any chain runs. */
static int check_resume(const vbt_nuts_run *run, const vbt_nuts_opts *o, vbt_msg *msg)
{
    if (!run->resume_len)
        return vbt__fail(msg, VBT_EINVAL, "nuts sample: resume states without lengths");
    vbt_nuts *s = NULL;
    int st = vbt_nuts_alloc(&s, run->n_params, run->logp, run->ctx[0], o, msg);
    for (size_t c = 0; c < run->n_chains && !st; c++) {
        if (!run->resume[c])
            continue;
        vbt_msg lm = {{0}};
        vbt_rng want;
        vbt_rng_init(&want, run->seed, c);
        if ((st = vbt_nuts_state_load(s, run->resume[c], run->resume_len[c], &lm)))
            st = vbt__fail(msg, st, "nuts sample: chain %zu: %s", c + 1, lm.text);
        else if (memcmp(s->rng.key, want.key, sizeof want.key) != 0 ||
                 memcmp(s->rng.stream, want.stream, sizeof want.stream) != 0)
            st = vbt__fail(msg, VBT_EFORMAT, "nuts sample: chain %zu: the saved state belongs "
                                             "to another seed or chain", c + 1);
    }
    vbt_nuts_free(s);
    return st;
}

int vbt_nuts_sample(const vbt_nuts_run *run, const vbt_nuts_opts *opts, double *draws,
                    vbt_nuts_stats *stats, vbt_nuts_chain_info *info, vbt_msg *msg)
{
    vbt_nuts_opts def;
    if (!opts) {
        vbt_nuts_opts_default(&def);
        opts = &def;
    }
    if (!run || !run->logp || !run->ctx || !run->inits || run->n_chains == 0 ||
        run->n_params == 0)
        return vbt__fail(msg, VBT_EINVAL, "nuts sample: missing log density, contexts, "
                                          "initial points or chains");
    if (run->resume) {
        int st = check_resume(run, opts, msg);
        if (st)
            return st;
    }
    vbt_nuts_chain_info *inf = info ? info : calloc(run->n_chains, sizeof *inf);
    if (!inf)
        return vbt__fail(msg, VBT_ENOMEM, "nuts sample: out of memory");
    memset(inf, 0, run->n_chains * sizeof *inf);
    chain_shared sh = {.run = run, .o = opts, .draws = draws, .stats = stats, .info = inf};
    sh.slot = calloc(run->n_chains, sizeof *sh.slot);
    if (!sh.slot) {
        if (inf != info)
            free(inf);
        return vbt__fail(msg, VBT_ENOMEM, "nuts sample: out of memory");
    }
    pthread_mutex_init(&sh.lock, NULL);
    size_t nth = run->n_threads ? run->n_threads : 1;
    if (nth > run->n_chains)
        nth = run->n_chains;
    pthread_t *tid = malloc(nth * sizeof *tid);
    size_t started = 0;
    if (tid)
        for (size_t t = 1; t < nth; t++) {
            if (pthread_create(&tid[t], NULL, chain_worker, &sh) != 0)
                break;
            started = t;
        }
    chain_worker(&sh);
    for (size_t t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&sh.lock);
    free(sh.slot);
    int st = VBT_OK;
    for (size_t c = 0; c < run->n_chains && !st; c++) {
        if (inf[c].status == VBT_EINVAL && sh.stop)
            st = vbt__fail(msg, VBT_EINVAL, "nuts sample: interrupted");
        else if (inf[c].status == VBT_ENUMERIC)
            st = vbt__fail(msg, VBT_ENUMERIC, "nuts sample: chain %zu could not start (log "
                                              "density not finite at its initial point, or no "
                                              "step size gave a finite energy)", c + 1);
        else if (inf[c].status)
            st = vbt__fail(msg, inf[c].status, "nuts sample: chain %zu failed: %s", c + 1,
                           vbt_strerror(inf[c].status));
    }
    if (!st && sh.stop)
        st = vbt__fail(msg, VBT_EINVAL, "nuts sample: interrupted");
    if (inf != info)
        free(inf);
    return st;
}

/* ---- Laplace covariance ---------------------------------------------------- */

void vbt_nuts_jitter(const double *centre, const double *cov, size_t n, uint64_t seed,
                     uint64_t chain, double *theta)
{
    vbt_rng r;
    vbt_rng_init(&r, seed, ((uint64_t)1 << 62) + chain);
    vbt_rng_normal(&r, theta, n);
    for (size_t i = 0; i < n; i++)
        theta[i] = centre[i] + (cov ? 0.5 * sqrt(cov[i * n + i]) : 0.1) * theta[i];
}

int vbt_nuts_laplace_cov(vbt_logp_fn logp, void *ctx, size_t n, const double *theta,
                         double h, double *cov, vbt_msg *msg)
{
    if (!logp || !theta || !cov || n == 0)
        return vbt__fail(msg, VBT_EINVAL, "laplace cov: NULL argument");
    if (!(h > 0))
        h = 1e-5;
    double *A = malloc(n * n * sizeof *A), *th = malloc(n * sizeof *th),
           *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
    int st = VBT_OK;
    if (!A || !th || !gp || !gm) {
        st = vbt__fail(msg, VBT_ENOMEM, "laplace cov: out of memory (%zu parameters)", n);
        goto done;
    }
    memcpy(th, theta, n * sizeof *th);
    for (size_t j = 0; j < n; j++) {
        double lp1, lp2;
        th[j] = theta[j] + h;
        int s1 = logp(ctx, th, &lp1, gp);
        th[j] = theta[j] - h;
        int s2 = logp(ctx, th, &lp2, gm);
        th[j] = theta[j];
        if (s1 || s2 || !isfinite(lp1) || !isfinite(lp2)) {
            st = vbt__fail(msg, VBT_ENUMERIC, "laplace cov: gradient not finite near theta "
                                              "(parameter %zu)", j);
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            A[i * n + j] = -(gp[i] - gm[i]) / (2.0 * h);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            A[i * n + j] = A[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
    if (cholesky(A, n) != 0) {
        st = vbt__fail(msg, VBT_ENUMERIC, "laplace cov: the negative Hessian is not positive "
                                          "definite (not a mode?)");
        goto done;
    }
    /* inverse of L (lower) in place, then cov = L^{-T} L^{-1} */
    for (size_t j = 0; j < n; j++) {
        A[j * n + j] = 1.0 / A[j * n + j];
        for (size_t i = j + 1; i < n; i++) {
            double v = 0;
            for (size_t k = j; k < i; k++)
                v -= A[i * n + k] * A[k * n + j];
            A[i * n + j] = v / A[i * n + i];
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= i; j++) {
            double v = 0;
            for (size_t k = i; k < n; k++)
                v += A[k * n + i] * A[k * n + j];
            cov[i * n + j] = cov[j * n + i] = v;
        }
done:
    free(A);
    free(th);
    free(gp);
    free(gm);
    return st;
}
