/* test_nuts.c -- fitting/vbt_nuts.h: NUTS on known targets.
 *
 * * a correlated 6-d Gaussian (scales 0.3 to 3, correlations up to 0.95):
 *   means within 4 MCSE, variances within 10 %, R-hat < 1.01, no
 *   divergences, for the diagonal and the dense metric;
 * * a linear-Gaussian regression (exact Gaussian posterior): the Laplace
 *   covariance equals the inverse posterior precision and the NUTS means
 *   agree with the Laplace (= exact) means within 4 MCSE;
 * * the warm-up: adapted diagonal metric ~ the marginal variances, mean
 *   acceptance near adapt_delta;
 * * the same draws for 1 and 3 threads (streams per chain);
 * * max tree depth, divergences, a log density with a hole, interruption;
 * * saved states: a chain saved at iteration k (in each warm-up phase and
 *   after it) and loaded into a fresh handle continues bit for bit, for both
 *   metrics; truncated, corrupt or mismatched states are refused; chains
 *   interrupted through the checkpoint callback and resumed on another
 *   number of threads end with the draws of an uninterrupted run;
 * * recovery of a synthetic 6-region Virtual Epileptic Patient (MAP,
 *   Laplace metric, NUTS from jittered MAP).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_diagnostics.h"
#include "vbt_nuts.h"

/* ---- correlated Gaussian: theta = mu + L z ------------------------------ */

#define DG 6

typedef struct gauss {
    size_t n;
    double mu[DG], L[DG * DG], cov[DG * DG];
    long evals;
    double hole;  /* > 0: logp fails for theta[0] > hole */
} gauss;

static void gauss_make(gauss *g)
{
    static const double sd[DG] = {0.3, 1.0, 3.0, 0.5, 2.0, 1.2};
    /* correlation: AR(1)-like 0.95^|i-j| between 0-1-2, 0.6 elsewhere */
    double R[DG * DG];
    for (size_t i = 0; i < DG; i++)
        for (size_t j = 0; j < DG; j++) {
            double r = i == j ? 1.0 : (i < 3 && j < 3) ? pow(0.95, fabs((double)i - (double)j))
                                                      : 0.6 * pow(0.5, fabs((double)i - (double)j));
            R[i * DG + j] = r;
        }
    memset(g, 0, sizeof *g);
    g->n = DG;
    for (size_t i = 0; i < DG; i++) {
        g->mu[i] = 1.7 - 0.9 * (double)i;
        for (size_t j = 0; j < DG; j++)
            g->cov[i * DG + j] = sd[i] * sd[j] * R[i * DG + j];
    }
    /* Cholesky of cov */
    memcpy(g->L, g->cov, sizeof g->L);
    for (size_t j = 0; j < DG; j++) {
        double d = g->L[j * DG + j];
        for (size_t k = 0; k < j; k++)
            d -= g->L[j * DG + k] * g->L[j * DG + k];
        assert_true(d > 0);
        d = sqrt(d);
        g->L[j * DG + j] = d;
        for (size_t i = j + 1; i < DG; i++) {
            double v = g->L[i * DG + j];
            for (size_t k = 0; k < j; k++)
                v -= g->L[i * DG + k] * g->L[j * DG + k];
            g->L[i * DG + j] = v / d;
        }
        for (size_t i = 0; i < j; i++)
            g->L[i * DG + j] = 0.0;
    }
}

static int gauss_logp(void *ctx, const double *th, double *lp, double *grad)
{
    gauss *g = ctx;
    size_t n = g->n;
    g->evals++;
    if (g->hole > 0 && th[0] > g->hole) {
        *lp = -HUGE_VAL;
        return VBT_ENUMERIC;
    }
    double z[DG], w[DG];
    for (size_t i = 0; i < n; i++) { /* L z = th - mu */
        double v = th[i] - g->mu[i];
        for (size_t k = 0; k < i; k++)
            v -= g->L[i * n + k] * z[k];
        z[i] = v / g->L[i * n + i];
    }
    double q = 0;
    for (size_t i = 0; i < n; i++)
        q += z[i] * z[i];
    *lp = -0.5 * q;
    for (size_t i = n; i-- > 0;) { /* L^T w = z */
        double v = z[i];
        for (size_t k = i + 1; k < n; k++)
            v -= g->L[k * n + i] * w[k];
        w[i] = v / g->L[i * n + i];
    }
    if (grad)
        for (size_t i = 0; i < n; i++)
            grad[i] = -w[i];
    return 0;
}

/* Run chains over a target with n parameters, the same context for every
 * chain (the targets here are stateless apart from a counter). */
static int run_chains(vbt_logp_fn f, void *ctx, size_t n, const vbt_nuts_opts *o, size_t chains,
                      size_t threads, const double *init, const double *metric, int full,
                      double *draws, vbt_nuts_stats *st, vbt_nuts_chain_info *info)
{
    void *ctxs[8];
    double inits[8 * 16];
    for (size_t c = 0; c < chains; c++) {
        ctxs[c] = ctx;
        for (size_t i = 0; i < n; i++)
            inits[c * n + i] = init[i] + 0.1 * (double)c * ((i % 2) ? 1.0 : -1.0);
    }
    vbt_nuts_run r = {.logp = f, .ctx = ctxs, .n_params = n, .n_chains = chains,
                      .n_threads = threads, .seed = 4242, .inits = inits,
                      .inv_metric = metric, .inv_metric_full = full};
    return vbt_nuts_sample(&r, o, draws, st, info, NULL);
}

static void check_gaussian(vbt_nuts_metric metric)
{
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.metric = metric;
    const size_t C = 4, D = o.draws;
    double *draws = malloc(C * D * DG * sizeof *draws), *x = malloc(C * D * sizeof *x);
    vbt_nuts_stats *st = malloc(C * D * sizeof *st);
    vbt_nuts_chain_info info[4];
    double init[DG] = {0};
    /* one thread: the context's evaluation counter is not atomic */
    assert_int_equal(run_chains(gauss_logp, &g, DG, &o, C, 1, init, NULL, 0, draws, st, info),
                     VBT_OK);
    size_t div = 0, leap = 0;
    double acc = 0;
    for (size_t k = 0; k < C * D; k++) {
        div += (size_t)st[k].divergent;
        leap += st[k].n_leapfrog;
        acc += st[k].accept_stat;
    }
    printf("%s metric: step sizes %.3f %.3f %.3f %.3f, mean leapfrogs %.1f, accept %.3f, "
           "divergences %zu\n", metric == VBT_NUTS_DENSE ? "dense" : "diag", info[0].stepsize,
           info[1].stepsize, info[2].stepsize, info[3].stepsize, (double)leap / (double)(C * D),
           acc / (double)(C * D), div);
    assert_int_equal(div, 0);
    for (size_t i = 0; i < DG; i++) {
        for (size_t c = 0; c < C; c++)
            for (size_t d = 0; d < D; d++)
                x[c * D + d] = draws[(c * D + d) * DG + i];
        vbt_diag_param p;
        assert_int_equal(vbt_diag_param_compute(x, C, D, &p), VBT_OK);
        /* variance estimate: its MCSE is ~ sqrt(2 / ESS) relative (< 3 % for
         * ESS > 2000), so 10 % is a > 3-sigma band */
        double var = p.sd * p.sd, tv = g.cov[i * DG + i];
        printf("  theta[%zu]: mean %+.4f (true %+.4f, mcse %.4f, %.1f mcse) var %.4f (true %.4f, "
               "%+.1f %%) rhat %.4f ess_bulk %.0f ess_tail %.0f\n", i, p.mean, g.mu[i],
               p.mcse_mean, fabs(p.mean - g.mu[i]) / p.mcse_mean, var, tv,
               100.0 * (var / tv - 1.0), p.rhat, p.ess_bulk, p.ess_tail);
        assert_true(fabs(p.mean - g.mu[i]) < 4.0 * p.mcse_mean);
        assert_true(fabs(var / tv - 1.0) < 0.10);
        assert_true(p.rhat < 1.01);
        assert_true(p.ess_bulk > 400);
    }
    /* E-BFMI per chain */
    double *e = malloc(D * sizeof *e);
    for (size_t c = 0; c < C; c++) {
        for (size_t d = 0; d < D; d++)
            e[d] = st[c * D + d].energy;
        assert_true(vbt_diag_ebfmi(e, D) > 0.3);
    }
    free(e);
    free(draws);
    free(x);
    free(st);
}

static void test_gaussian_diag(void **state)
{
    (void)state;
    check_gaussian(VBT_NUTS_DIAG);
}

static void test_gaussian_dense(void **state)
{
    (void)state;
    check_gaussian(VBT_NUTS_DENSE);
}

/* ---- warm-up ------------------------------------------------------------ */

static void test_adaptation(void **state)
{
    (void)state;
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    vbt_nuts *s = NULL;
    assert_int_equal(vbt_nuts_alloc(&s, DG, gauss_logp, &g, &o, NULL), VBT_OK);
    double init[DG] = {0.5, -0.5, 2, 0, 1, -1};
    assert_int_equal(vbt_nuts_init(s, init, 7, 0), VBT_OK);
    double acc = 0;
    for (size_t it = 0; it < o.warmup + o.draws; it++) {
        vbt_nuts_stats st;
        assert_int_equal(vbt_nuts_iterate(s, NULL, &st), VBT_OK);
        if (it >= o.warmup)
            acc += st.accept_stat;
        if (it >= o.warmup)
            assert_close(st.stepsize, vbt_nuts_stepsize(s), 0); /* frozen after warm-up */
    }
    acc /= (double)o.draws;
    assert_int_equal(vbt_nuts_iteration(s), o.warmup + o.draws);
    const double *m = vbt_nuts_inv_metric(s);
    printf("adapted: step %.3f accept %.3f metric", vbt_nuts_stepsize(s), acc);
    for (size_t i = 0; i < DG; i++)
        printf(" %.3f/%.3f", m[i], g.cov[i * DG + i]);
    printf("\n");
    /* the last slow window has 500 draws of autocorrelated chain: the
     * variance estimates are within ~20 % (ESS ~ 150-500) */
    for (size_t i = 0; i < DG; i++)
        assert_true(fabs(m[i] / g.cov[i * DG + i] - 1.0) < 0.3);
    /* dual averaging targets 0.8; Stan's realised post-warm-up mean is
     * typically 0.8-0.95 */
    assert_true(acc > 0.7 && acc < 0.97);
    vbt_nuts_free(s);
}

/* ---- reproducibility ---------------------------------------------------- */

static int gauss_logp_nocount(void *ctx, const double *th, double *lp, double *grad)
{
    gauss g = *(const gauss *)ctx; /* private copy: thread safe */
    return gauss_logp(&g, th, lp, grad);
}

static void test_threads(void **state)
{
    (void)state;
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = 200;
    o.draws = 150;
    o.metric = VBT_NUTS_DENSE;
    const size_t C = 4, N = C * o.draws * DG;
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    vbt_nuts_stats *sa = malloc(C * o.draws * sizeof *sa), *sb = malloc(C * o.draws * sizeof *sb);
    double init[DG] = {0};
    assert_int_equal(run_chains(gauss_logp_nocount, &g, DG, &o, C, 1, init, NULL, 0, a, sa, NULL),
                     VBT_OK);
    assert_int_equal(run_chains(gauss_logp_nocount, &g, DG, &o, C, 3, init, NULL, 0, b, sb, NULL),
                     VBT_OK);
    assert_memory_equal(a, b, N * sizeof *a);
    for (size_t k = 0; k < C * o.draws; k++) {
        assert_true(sa[k].lp == sb[k].lp && sa[k].n_leapfrog == sb[k].n_leapfrog);
    }
    /* chains differ from each other */
    assert_true(memcmp(a, a + o.draws * DG, o.draws * DG * sizeof *a) != 0);
    free(a);
    free(b);
    free(sa);
    free(sb);
}

/* ---- linear-Gaussian: NUTS vs Laplace ------------------------------------ */

#define LP 5
#define LN 30

typedef struct linreg {
    double X[LN * LP], y[LN], sigma, prior_sd;
} linreg;

static int linreg_logp(void *ctx, const double *b, double *lp, double *grad)
{
    const linreg *r = ctx;
    double s = 0;
    if (grad)
        for (size_t j = 0; j < LP; j++)
            grad[j] = -b[j] / (r->prior_sd * r->prior_sd);
    for (size_t j = 0; j < LP; j++)
        s -= 0.5 * b[j] * b[j] / (r->prior_sd * r->prior_sd);
    for (size_t i = 0; i < LN; i++) {
        double mu = 0;
        for (size_t j = 0; j < LP; j++)
            mu += r->X[i * LP + j] * b[j];
        double res = (r->y[i] - mu) / r->sigma;
        s -= 0.5 * res * res;
        if (grad)
            for (size_t j = 0; j < LP; j++)
                grad[j] += res / r->sigma * r->X[i * LP + j];
    }
    *lp = s;
    return 0;
}

static int saddle_logp(void *ctx, const double *t, double *lp, double *grad)
{
    (void)ctx;
    *lp = -0.5 * t[0] * t[0] + 0.5 * t[1] * t[1];
    grad[0] = -t[0];
    grad[1] = t[1];
    return 0;
}

static void test_linear_gaussian_laplace(void **state)
{
    (void)state;
    static linreg r;
    vbt_rng rng;
    vbt_rng_init(&rng, 31, 0);
    vbt_rng_normal(&rng, r.X, LN * LP);
    for (size_t i = 0; i < LN; i++) /* correlated columns */
        r.X[i * LP + 1] = 0.8 * r.X[i * LP + 0] + 0.6 * r.X[i * LP + 1];
    const double beta[LP] = {1.3, -0.7, 0.25, 2.1, -1.6};
    r.sigma = 0.5;
    r.prior_sd = 2.0;
    double e[LN];
    vbt_rng_normal(&rng, e, LN);
    for (size_t i = 0; i < LN; i++) {
        r.y[i] = r.sigma * e[i];
        for (size_t j = 0; j < LP; j++)
            r.y[i] += r.X[i * LP + j] * beta[j];
    }
    /* Laplace: covariance at any point (the Hessian is constant), mode by
     * one Newton step */
    double C[LP * LP], b0[LP] = {0}, g0[LP], lp, mode[LP];
    assert_int_equal(vbt_nuts_laplace_cov(linreg_logp, &r, LP, b0, 0, C, NULL), VBT_OK);
    /* exact precision X^T X / s^2 + I / prior_sd^2: C * P = I */
    double worst = 0;
    for (size_t i = 0; i < LP; i++)
        for (size_t j = 0; j < LP; j++) {
            double v = 0;
            for (size_t k = 0; k < LP; k++) {
                double P = (k == j ? 1.0 / (r.prior_sd * r.prior_sd) : 0.0);
                for (size_t t = 0; t < LN; t++)
                    P += r.X[t * LP + k] * r.X[t * LP + j] / (r.sigma * r.sigma);
                v += C[i * LP + k] * P;
            }
            worst = fmax(worst, fabs(v - (i == j)));
        }
    printf("Laplace covariance x exact precision: max |C P - I| = %.2e\n", worst);
    /* central differences of a linear gradient are exact up to rounding
     * (eps |g| / h ~ 1e-16 * 1e3 / 1e-5 = 1e-8) */
    assert_true(worst < 1e-6);
    linreg_logp(&r, b0, &lp, g0);
    for (size_t i = 0; i < LP; i++) {
        mode[i] = 0;
        for (size_t j = 0; j < LP; j++)
            mode[i] += C[i * LP + j] * g0[j];
    }
    /* NUTS, dense metric started at the Laplace covariance */
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.metric = VBT_NUTS_DENSE;
    const size_t K = 4, D = o.draws;
    double *draws = malloc(K * D * LP * sizeof *draws), *x = malloc(K * D * sizeof *x);
    assert_int_equal(run_chains(linreg_logp, &r, LP, &o, K, 2, mode, C, 1, draws, NULL, NULL),
                     VBT_OK);
    for (size_t i = 0; i < LP; i++) {
        for (size_t k = 0; k < K * D; k++)
            x[k] = draws[k * LP + i];
        vbt_diag_param p;
        vbt_diag_param_compute(x, K, D, &p);
        double sdl = sqrt(C[i * LP + i]);
        printf("  beta[%zu]: NUTS %.4f +- %.4f (mcse %.4f), Laplace %.4f +- %.4f; %.2f mcse apart\n",
               i, p.mean, p.sd, p.mcse_mean, mode[i], sdl, fabs(p.mean - mode[i]) / p.mcse_mean);
        assert_true(fabs(p.mean - mode[i]) < 4.0 * p.mcse_mean);
        assert_true(fabs(p.sd / sdl - 1.0) < 0.05); /* sd: ~sqrt(1/(2 ESS)) < 1.5 % */
    }
    free(draws);
    free(x);
    /* not a mode: a saddle has an indefinite Hessian */
    vbt_msg msg;
    assert_int_equal(vbt_nuts_laplace_cov(saddle_logp, NULL, 2, b0, 0, C, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "positive definite"));
}

/* ---- tree depth, divergences, holes, interruption ------------------------- */

static int stop_at_ten(void *pctx, size_t chain, size_t it, size_t total, double eps,
                       size_t ndiv)
{
    (void)chain;
    (void)total;
    (void)eps;
    (void)ndiv;
    int *count = pctx;
    (*count)++;
    return it >= 10;
}

static void test_limits(void **state)
{
    (void)state;
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.max_depth = 1;
    o.warmup = 50;
    o.draws = 40;
    vbt_nuts_stats st[40];
    vbt_nuts_chain_info info;
    double init[DG] = {0};
    assert_int_equal(run_chains(gauss_logp, &g, DG, &o, 1, 1, init, NULL, 0, NULL, st, &info),
                     VBT_OK);
    for (size_t k = 0; k < 40; k++) {
        assert_int_equal(st[k].treedepth, 1);
        assert_int_equal(st[k].n_leapfrog, 1);
    }
    assert_int_equal(info.max_depth_hits, 40);
    assert_int_equal(info.n_leapfrog, 40);

    /* a far too large fixed step: every trajectory diverges */
    vbt_nuts_opts_default(&o);
    o.warmup = 0;
    o.draws = 20;
    o.stepsize = 20.0;
    vbt_nuts_stats st2[20];
    assert_int_equal(run_chains(gauss_logp, &g, DG, &o, 1, 1, g.mu, NULL, 0, NULL, st2, &info),
                     VBT_OK);
    assert_int_equal(info.divergences, 20);
    for (size_t k = 0; k < 20; k++) {
        assert_int_equal(st2[k].divergent, 1);
        assert_true(st2[k].accept_stat < 0.01);
        assert_close(st2[k].stepsize, 20.0, 0);
    }

    /* a hole in the support: never entered, and counted as divergences */
    g.hole = g.mu[0] + 0.1;
    vbt_nuts_opts_default(&o);
    o.warmup = 300;
    o.draws = 300;
    double *dr = malloc(300 * DG * sizeof *dr);
    assert_int_equal(run_chains(gauss_logp, &g, DG, &o, 1, 1, g.mu, NULL, 0, dr, NULL, &info),
                     VBT_OK);
    for (size_t k = 0; k < 300; k++)
        assert_true(dr[k * DG] <= g.hole);
    printf("hole: %zu divergences in 300 draws\n", info.divergences);
    assert_true(info.divergences > 0);
    free(dr);

    /* a chain that cannot start */
    double out[DG] = {g.hole + 1.0, 0, 0, 0, 0, 0};
    assert_int_equal(run_chains(gauss_logp, &g, DG, &o, 1, 1, out, NULL, 0, NULL, NULL, &info),
                     VBT_ENUMERIC);
    assert_int_equal(info.status, VBT_ENUMERIC);
    g.hole = 0;

    /* interruption through the progress callback */
    int count = 0;
    void *ctxs[2] = {&g, &g};
    double inits[2 * DG] = {0};
    vbt_nuts_run r = {.logp = gauss_logp, .ctx = ctxs, .n_params = DG, .n_chains = 2,
                      .n_threads = 1, .seed = 1, .inits = inits, .progress = stop_at_ten,
                      .progress_ctx = &count};
    vbt_msg msg;
    assert_int_equal(vbt_nuts_sample(&r, &o, NULL, NULL, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "interrupted"));
    assert_int_equal(count, 10);
}

static void test_errors(void **state)
{
    (void)state;
    static gauss g;
    gauss_make(&g);
    vbt_nuts *s = NULL;
    vbt_nuts_opts o;
    vbt_msg msg;
    vbt_nuts_opts_default(&o);
    assert_int_equal(vbt_nuts_alloc(&s, 0, gauss_logp, &g, &o, &msg), VBT_EINVAL);
    assert_null(s);
    assert_int_equal(vbt_nuts_alloc(&s, DG, NULL, &g, &o, &msg), VBT_EINVAL);
    o.max_depth = 0;
    assert_int_equal(vbt_nuts_alloc(&s, DG, gauss_logp, &g, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "max_depth"));
    vbt_nuts_opts_default(&o);
    o.adapt_delta = 1.0;
    assert_int_equal(vbt_nuts_alloc(&s, DG, gauss_logp, &g, &o, &msg), VBT_EINVAL);
    vbt_nuts_opts_default(&o);
    o.metric = (vbt_nuts_metric)7;
    assert_int_equal(vbt_nuts_alloc(&s, DG, gauss_logp, &g, &o, &msg), VBT_EINVAL);
    assert_int_equal(vbt_nuts_alloc(&s, DG, gauss_logp, &g, NULL, &msg), VBT_OK);
    assert_int_equal(vbt_nuts_iterate(s, NULL, NULL), VBT_EINVAL); /* before init */
    double bad[DG] = {1, 1, -1, 1, 1, 1};
    assert_int_equal(vbt_nuts_set_inv_metric(s, bad, 0), VBT_ENUMERIC);
    assert_int_equal(vbt_nuts_set_inv_metric(s, g.cov, 1), VBT_OK);
    assert_close(vbt_nuts_inv_metric(s)[2], 9.0, 1e-12);
    assert_int_equal(vbt_nuts_n_params(s), DG);
    g.hole = 0.5;
    double far[DG] = {3, 0, 0, 0, 0, 0};
    assert_int_equal(vbt_nuts_init(s, far, 1, 0), VBT_ENUMERIC);
    assert_int_equal(vbt_nuts_iterate(s, NULL, NULL), VBT_EINVAL);
    g.hole = 0;
    assert_int_equal(vbt_nuts_init(s, far, 1, 0), VBT_OK);
    assert_close(vbt_nuts_position(s)[0], 3.0, 0);
    vbt_nuts_free(s);
    vbt_nuts_free(NULL);
    /* dense: a non-positive-definite metric is refused, the old one kept */
    vbt_nuts_opts_default(&o);
    o.metric = VBT_NUTS_DENSE;
    assert_int_equal(vbt_nuts_alloc(&s, 2, gauss_logp, &g, &o, &msg), VBT_OK);
    const double indef[4] = {1, 2, 2, 1};
    assert_int_equal(vbt_nuts_set_inv_metric(s, indef, 1), VBT_ENUMERIC);
    assert_close(vbt_nuts_inv_metric(s)[1], 0.0, 0);
    vbt_nuts_free(s);
    vbt_nuts_run r = {0};
    assert_int_equal(vbt_nuts_sample(&r, NULL, NULL, NULL, NULL, &msg), VBT_EINVAL);
    assert_int_equal(vbt_nuts_laplace_cov(NULL, NULL, 2, NULL, 0, NULL, &msg), VBT_EINVAL);
}

/* ---- saved states --------------------------------------------------------- */

/* A chain saved after k iterations, loaded into another handle (started
 * elsewhere on another stream, so that everything must be overwritten) and
 * continued, makes the draws of the uninterrupted chain bit for bit. */
static void check_resume_at(vbt_nuts_metric metric, size_t k, int with_jumps)
{
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.metric = metric;
    static const size_t jc[2] = {0, 3};
    static const double js[2] = {1.0, 0.5};
    if (with_jumps) { /* their draws come from the stream too */
        o.jump_n = 2;
        o.jump_coords = jc;
        o.jump_scale = js;
        o.jump_n_coords = 2;
        o.jump_lo = 0.2;
        o.jump_hi = 1.0;
    }
    o.warmup = 150;
    o.draws = 100;
    o.stepsize_jitter = 0.1; /* the jitter's uniforms come from the stream too */
    const size_t T = o.warmup + o.draws;
    double init[DG] = {0.5, -0.5, 2, 0, 1, -1};
    double *ref = malloc(T * DG * sizeof *ref), *got = malloc(T * DG * sizeof *got);
    vbt_nuts_stats *sr = malloc(T * sizeof *sr), *sg = malloc(T * sizeof *sg);
    vbt_nuts *a = NULL, *b = NULL;
    assert_int_equal(vbt_nuts_alloc(&a, DG, gauss_logp_nocount, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_set_inv_metric(a, g.cov, 1), VBT_OK);
    assert_int_equal(vbt_nuts_init(a, init, 31, 2), VBT_OK);
    for (size_t it = 0; it < T; it++)
        assert_int_equal(vbt_nuts_iterate(a, ref + it * DG, &sr[it]), VBT_OK);
    vbt_nuts_free(a);

    assert_int_equal(vbt_nuts_alloc(&a, DG, gauss_logp_nocount, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_set_inv_metric(a, g.cov, 1), VBT_OK);
    assert_int_equal(vbt_nuts_init(a, init, 31, 2), VBT_OK);
    for (size_t it = 0; it < k; it++)
        assert_int_equal(vbt_nuts_iterate(a, got + it * DG, &sg[it]), VBT_OK);
    size_t len = vbt_nuts_state_size(a);
    unsigned char *buf = malloc(len);
    assert_int_equal(vbt_nuts_state_save(a, buf, len), VBT_OK);
    vbt_nuts_free(a);
    assert_int_equal(vbt_nuts_alloc(&b, DG, gauss_logp_nocount, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_init(b, g.mu, 5, 9), VBT_OK);
    for (size_t it = 0; it < 3; it++)
        assert_int_equal(vbt_nuts_iterate(b, NULL, NULL), VBT_OK);
    vbt_msg msg;
    assert_int_equal(vbt_nuts_state_load(b, buf, len, &msg), VBT_OK);
    assert_int_equal(vbt_nuts_iteration(b), k);
    for (size_t it = k; it < T; it++)
        assert_int_equal(vbt_nuts_iterate(b, got + it * DG, &sg[it]), VBT_OK);
    assert_memory_equal(ref, got, T * DG * sizeof *ref);
    for (size_t it = 0; it < T; it++) {
        assert_true(memcmp(&sr[it].lp, &sg[it].lp, sizeof(double)) == 0);
        assert_true(memcmp(&sr[it].stepsize, &sg[it].stepsize, sizeof(double)) == 0);
        assert_true(memcmp(&sr[it].energy, &sg[it].energy, sizeof(double)) == 0);
        assert_int_equal(sr[it].n_leapfrog, sg[it].n_leapfrog);
        assert_int_equal(sr[it].jumps, sg[it].jumps);
    }
    /* a state saved at the end reloads too, with nothing left to do */
    assert_int_equal(vbt_nuts_state_save(b, buf, len), VBT_OK);
    assert_int_equal(vbt_nuts_state_load(b, buf, len, &msg), VBT_OK);
    assert_int_equal(vbt_nuts_iteration(b), T);
    vbt_nuts_free(b);
    free(buf);
    free(ref);
    free(got);
    free(sr);
    free(sg);
}

/* Two modes 32 within-mode sds apart in coordinate 0, weights 0.3 and 0.7,
 * times N(0, 1) in coordinate 1: no trajectory crosses (the density between
 * them is e^-128 of the peaks). */
#define MJ_M 4.0
#define MJ_S 0.25
static int bimodal_logp(void *ctx, const double *t, double *lp, double *grad)
{
    (void)ctx;
    double a = (t[0] + MJ_M) / MJ_S, b = (t[0] - MJ_M) / MJ_S;
    double la = log(0.3) - 0.5 * a * a, lb = log(0.7) - 0.5 * b * b;
    double mx = fmax(la, lb), r = exp(la - mx) / (exp(la - mx) + exp(lb - mx));
    *lp = mx + log(exp(la - mx) + exp(lb - mx)) - 0.5 * t[1] * t[1];
    if (grad) {
        grad[0] = -(r * a + (1.0 - r) * b) / MJ_S; /* responsibility-weighted */
        grad[1] = -t[1];
    }
    return 0;
}

/* Mode jumps (opts.jump_n): without them every chain stays in the mode it
 * starts in; with them the chains find the modes' weights, 0.3 and 0.7,
 * and the within-mode spread stays MJ_S (the jumps leave p invariant). */
static void test_mode_jumps(void **state)
{
    (void)state;
    enum { C = 4, D = 2000 };
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = 300;
    o.draws = D;
    double init[2] = {-MJ_M, 0.0}, *dr = malloc(C * D * 2 * sizeof *dr);
    vbt_nuts_stats *st = malloc(C * D * sizeof *st);
    vbt_nuts_chain_info info[C];
    assert_int_equal(run_chains(bimodal_logp, NULL, 2, &o, C, 2, init, NULL, 0, dr, st, info),
                     VBT_OK);
    for (size_t k = 0; k < C * D; k++)
        assert_true(dr[2 * k] < 0); /* stuck where they started */
    size_t coord = 0;
    o.jump_n = 1;
    o.jump_coords = &coord;
    o.jump_n_coords = 1;
    o.jump_lo = 7.0;
    o.jump_hi = 9.0;
    assert_int_equal(run_chains(bimodal_logp, NULL, 2, &o, C, 2, init, NULL, 0, dr, st, info),
                     VBT_OK);
    double right = 0, m1 = 0, s2 = 0, y2 = 0;
    size_t acc = 0, acc_stats = 0;
    for (size_t k = 0; k < C * D; k++) {
        double x = dr[2 * k];
        right += x > 0;
        double dm = x - (x > 0 ? MJ_M : -MJ_M);
        s2 += dm * dm;
        m1 += dr[2 * k + 1];
        y2 += dr[2 * k + 1] * dr[2 * k + 1];
        acc_stats += (size_t)st[k].jumps;
    }
    for (size_t c = 0; c < C; c++)
        acc += info[c].jumps_accepted;
    right /= C * D;
    printf("# mode jumps: weight of the right mode %.4f (0.7), within-mode sd %.4f (%.2f), "
           "%zu of %d jumps accepted\n", right, sqrt(s2 / (C * D)), MJ_S, acc, C * D);
    assert_int_equal(acc, acc_stats);
    assert_true(acc > C * D / 10);
    /* every accepted jump switches mode: about 1 200 switches put the
     * weight's Monte Carlo sd near 0.013, so 0.05 is about 4 of them */
    assert_true(fabs(right - 0.7) < 0.05);
    assert_true(fabs(sqrt(s2 / (C * D)) - MJ_S) < 0.02);
    assert_true(fabs(m1 / (C * D)) < 0.1);
    assert_true(fabs(y2 / (C * D) - 1.0) < 0.1);
    /* bad jump settings */
    vbt_nuts *s = NULL;
    o.jump_hi = 6.0; /* below jump_lo */
    assert_int_equal(vbt_nuts_alloc(&s, 2, bimodal_logp, NULL, &o, NULL), VBT_EINVAL);
    o.jump_hi = 9.0;
    coord = 2; /* out of range */
    assert_int_equal(vbt_nuts_alloc(&s, 2, bimodal_logp, NULL, &o, NULL), VBT_EINVAL);
    assert_null(s);
    free(dr);
    free(st);
}

/* vbt_nuts_jitter: centre + 0.5 sqrt(cov_ii) z (0.1 z without cov), z from
 * the stream (seed, 2^62 + chain), written out by hand. */
static void test_jitter(void **state)
{
    (void)state;
    enum { N = 3 };
    const double centre[N] = {1.0, -2.0, 0.5};
    const double cov[N * N] = {4.0, 0.3, 0.0, 0.3, 0.25, 0.0, 0.0, 0.0, 1e-4};
    double th[N], z[N];
    vbt_rng r;
    vbt_rng_init(&r, 77, ((uint64_t)1 << 62) + 2);
    vbt_rng_normal(&r, z, N);
    vbt_nuts_jitter(centre, cov, N, 77, 2, th);
    const double sd[N] = {2.0, 0.5, 0.01};
    for (size_t i = 0; i < N; i++)
        assert_close(th[i], centre[i] + 0.5 * sd[i] * z[i], 1e-15);
    vbt_nuts_jitter(centre, NULL, N, 77, 2, th);
    for (size_t i = 0; i < N; i++)
        assert_close(th[i], centre[i] + 0.1 * z[i], 1e-15);
    /* another chain, another start */
    double t3[N];
    vbt_nuts_jitter(centre, NULL, N, 77, 3, t3);
    assert_true(t3[0] != th[0]);
}

static void test_state_resume(void **state)
{
    (void)state;
    /* 150 warm-up iterations: buffer 0-74, slow windows 75-99 and 100-99+..,
     * terminal buffer 100-149, then draws */
    const size_t ks[] = {1, 40, 90, 120, 149, 150, 201};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        check_resume_at(VBT_NUTS_DIAG, ks[i], 0);
        check_resume_at(VBT_NUTS_DENSE, ks[i], 0);
        check_resume_at(VBT_NUTS_DIAG, ks[i], 1);
    }
}

static void test_state_errors(void **state)
{
    (void)state;
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = 30;
    o.draws = 10;
    vbt_nuts *s = NULL, *t = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_nuts_alloc(&s, DG, gauss_logp, &g, &o, NULL), VBT_OK);
    size_t len = vbt_nuts_state_size(s);
    assert_true(len > DG * 3 * sizeof(double));
    assert_int_equal(vbt_nuts_state_size(NULL), 0);
    unsigned char *buf = malloc(len + 8), *bad = malloc(len + 8);
    assert_int_equal(vbt_nuts_state_save(s, buf, len), VBT_EINVAL); /* before init */
    double init[DG] = {0};
    assert_int_equal(vbt_nuts_init(s, init, 3, 0), VBT_OK);
    assert_int_equal(vbt_nuts_iterate(s, NULL, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_state_save(s, buf, len - 1), VBT_EINVAL);
    assert_int_equal(vbt_nuts_state_save(s, buf, len), VBT_OK);
    assert_int_equal(vbt_nuts_state_load(s, NULL, len, &msg), VBT_EINVAL);
    /* truncated, too long, empty */
    assert_int_equal(vbt_nuts_state_load(s, buf, len - 1, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "truncated"));
    assert_int_equal(vbt_nuts_state_load(s, buf, len + 8, &msg), VBT_EFORMAT);
    assert_int_equal(vbt_nuts_state_load(s, buf, 0, &msg), VBT_EFORMAT);
    assert_int_equal(vbt_nuts_state_load(s, buf, 20, &msg), VBT_EFORMAT);
    /* one flipped bit anywhere: magic, header, options, state, checksum */
    const size_t at[] = {0, 9, 60, 200, len / 2, len - 70, len - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        memcpy(bad, buf, len);
        bad[at[i]] ^= 0x10;
        assert_int_equal(vbt_nuts_state_load(s, bad, len, &msg), VBT_EFORMAT);
    }
    /* another number of parameters, metric or warm-up */
    assert_int_equal(vbt_nuts_alloc(&t, DG - 1, gauss_logp, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_state_load(t, buf, len, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "parameters"));
    vbt_nuts_free(t);
    o.metric = VBT_NUTS_DENSE;
    assert_int_equal(vbt_nuts_alloc(&t, DG, gauss_logp, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_state_load(t, buf, len, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "metric"));
    vbt_nuts_free(t);
    o.metric = VBT_NUTS_DIAG;
    o.warmup = 31;
    assert_int_equal(vbt_nuts_alloc(&t, DG, gauss_logp, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_state_load(t, buf, len, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "options"));
    vbt_nuts_free(t);
    o.warmup = 30; /* mode jumps differ */
    size_t jc = 1;
    o.jump_n = 1;
    o.jump_coords = &jc;
    o.jump_n_coords = 1;
    o.jump_hi = 1.0;
    assert_int_equal(vbt_nuts_alloc(&t, DG, gauss_logp, &g, &o, NULL), VBT_OK);
    assert_int_equal(vbt_nuts_state_load(t, buf, len, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "jumps"));
    /* a refused state leaves the chain as it was: not started */
    assert_int_equal(vbt_nuts_iterate(t, NULL, NULL), VBT_EINVAL);
    vbt_nuts_free(t);
    /* the original loads */
    assert_int_equal(vbt_nuts_state_load(s, buf, len, &msg), VBT_OK);
    assert_int_equal(vbt_nuts_iteration(s), 1);
    vbt_nuts_free(s);
    free(buf);
    free(bad);
}

/* Checkpoint callback of the tests: keeps the last state of every chain and
 * stops the run once chain 1 (the second) has made stop_at iterations. */
typedef struct ckpt {
    pthread_mutex_t lock;
    unsigned char *state[4];
    size_t len[4], iter[4], calls, stop_at;
} ckpt;

static int on_checkpoint(void *cctx, size_t c, size_t it, const void *st, size_t len)
{
    ckpt *k = cctx;
    pthread_mutex_lock(&k->lock);
    if (!k->state[c])
        k->state[c] = malloc(len);
    memcpy(k->state[c], st, len);
    k->len[c] = len;
    k->iter[c] = it;
    k->calls++;
    int stop = c == 1 && it >= k->stop_at;
    pthread_mutex_unlock(&k->lock);
    return stop;
}

static void test_sample_resume(void **state)
{
    (void)state;
    static gauss g;
    gauss_make(&g);
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = 150;
    o.draws = 100;
    o.metric = VBT_NUTS_DENSE;
    enum { C = 3 };
    const size_t D = o.draws, N = C * D * DG;
    void *ctxs[C] = {&g, &g, &g};
    double inits[C * DG];
    for (size_t i = 0; i < C * DG; i++)
        inits[i] = 0.3 * sin(2.385 * (double)i);
    double *ref = calloc(N, sizeof *ref), *part = calloc(N, sizeof *part),
           *got = calloc(N, sizeof *got);
    vbt_nuts_stats *sr = calloc(C * D, sizeof *sr), *sp = calloc(C * D, sizeof *sp),
                   *sg = calloc(C * D, sizeof *sg);
    vbt_nuts_chain_info ir[C], ig[C];
    vbt_msg msg;
    vbt_nuts_run r = {.logp = gauss_logp_nocount, .ctx = ctxs, .n_params = DG, .n_chains = C,
                      .n_threads = 1, .seed = 77, .inits = inits, .inv_metric = g.cov,
                      .inv_metric_full = 1};
    assert_int_equal(vbt_nuts_sample(&r, &o, ref, sr, ir, &msg), VBT_OK);

    /* on one thread, interrupted by the checkpoint callback at the second
     * chain's iteration 120 (in warm-up).  The chains advance in turns of 10
     * iterations, the one furthest behind first: the first chain stands at
     * 120 too (its periodic state at 120, saved again at the stop), the
     * third at 110, saved where the stop found it; 3 + 3 + 2 periodic
     * checkpoints (40, 80, 120) and 2 at the stop */
    ckpt k = {.stop_at = 120};
    pthread_mutex_init(&k.lock, NULL);
    r.checkpoint = on_checkpoint;
    r.checkpoint_ctx = &k;
    r.checkpoint_every = 40;
    assert_int_equal(vbt_nuts_sample(&r, &o, part, sp, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "interrupted"));
    assert_int_equal(k.iter[0], 120);
    assert_int_equal(k.iter[1], 120);
    assert_int_equal(k.iter[2], 110);
    assert_int_equal(k.calls, 10);
    /* what a checkpoint file would hold: the states and the draws before them */
    const void *res[C];
    for (size_t c = 0; c < C; c++) {
        res[c] = k.state[c];
        size_t done = k.state[c] && k.iter[c] > o.warmup ? k.iter[c] - o.warmup : 0;
        memcpy(got + c * D * DG, part + c * D * DG, done * DG * sizeof *got);
        memcpy(sg + c * D, sp + c * D, done * sizeof *sg);
    }
    /* resumed on three threads, without further checkpoints */
    r.checkpoint = NULL;
    r.n_threads = 3;
    r.resume = res;
    r.resume_len = k.len;
    assert_int_equal(vbt_nuts_sample(&r, &o, got, sg, ig, &msg), VBT_OK);
    assert_memory_equal(ref, got, N * sizeof *ref);
    for (size_t q = 0; q < C * D; q++)
        assert_true(memcmp(&sr[q].energy, &sg[q].energy, sizeof(double)) == 0 &&
                    sr[q].n_leapfrog == sg[q].n_leapfrog);
    for (size_t c = 0; c < C; c++) {
        assert_int_equal(ir[c].n_leapfrog, ig[c].n_leapfrog);
        assert_int_equal(ir[c].divergences, ig[c].divergences);
        assert_int_equal(ir[c].max_depth_hits, ig[c].max_depth_hits);
        assert_true(ir[c].stepsize == ig[c].stepsize);
    }

    /* a state of another seed or chain is refused before anything runs */
    r.seed = 78;
    assert_int_equal(vbt_nuts_sample(&r, &o, got, sg, ig, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "another seed"));
    r.seed = 77;
    const void *swapped[C] = {k.state[0], k.state[0], NULL};
    r.resume = swapped;
    assert_int_equal(vbt_nuts_sample(&r, &o, got, sg, ig, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "chain 2"));
    /* and a truncated one with load's reason */
    size_t short_len[C] = {k.len[0] - 1, k.len[1], k.len[2]};
    r.resume = res;
    r.resume_len = short_len;
    assert_int_equal(vbt_nuts_sample(&r, &o, got, sg, ig, &msg), VBT_EFORMAT);
    assert_non_null(strstr(msg.text, "truncated"));

    for (size_t c = 0; c < C; c++)
        free(k.state[c]);
    pthread_mutex_destroy(&k.lock);
    free(ref);
    free(part);
    free(got);
    free(sr);
    free(sp);
    free(sg);
}

/* ---- a synthetic Virtual Epileptic Patient --------------------------------- */

#define NR 6
#define NS 8
#define NT 160

static int vep_logp_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

static void test_vep_recovery(void **state)
{
    (void)state;
    static double W[NR * NR], G[NS * NR], Y[NT * NS];
    vbt_connectome *c = NULL;
    vbt_msg msg;
    if (vbt_connectome_load(&c, tu_path(tu_samples_dir(), "connectivity_84_desikan.zip"), &msg))
        fail_msg("%s", msg.text);
    for (size_t i = 0; i < NR; i++)
        for (size_t j = 0; j < NR; j++)
            W[i * NR + j] = c->weights[i * c->n + j];
    vbt_connectome_free(c);
    vbt_rng rng;
    vbt_rng_init(&rng, 2385, 7);
    vbt_rng_uniform(&rng, G, NS * NR);
    for (size_t k = 0; k < NS * NR; k++)
        G[k] = 0.02 + G[k] * G[k];
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = NR;
    sp.n_sensors = NS;
    sp.n_samples = NT;
    sp.weights = W;
    sp.gain = G;
    vbt_vep *m = NULL;
    assert_int_equal(vbt_vep_alloc(&m, &sp, &msg), VBT_OK);
    size_t np = vbt_vep_n_params(m);
    double *nat = calloc(np, sizeof *nat), *th = calloc(np, sizeof *th);
    /* truth: EZ = region 2 (x0 -1.6), a propagation-zone-like region 4 at
     * -2.3, others -2.8 */
    for (size_t i = 0; i < NR; i++) {
        nat[i] = i == 2 ? -1.6 : i == 4 ? -2.3 : -2.8;
        nat[NR + i] = -2.1 + 0.03 * (double)i;
        nat[2 * NR + i] = 3.6 + 0.02 * (double)i;
    }
    nat[vbt_vep_param_index(m, "K")] = 1.0;
    nat[vbt_vep_param_index(m, "amp")] = 1.3;
    nat[vbt_vep_param_index(m, "eps")] = 0.1;
    for (size_t s = 0; s < NS; s++)
        nat[vbt_vep_param_index(m, "off[1]") + (long)s] = 0.1 * sin((double)s);
    assert_int_equal(vbt_vep_unconstrain(m, nat, th), VBT_OK);
    assert_int_equal(vbt_vep_simulate(m, th, NULL, Y), VBT_OK);
    double noise[NT * NS];
    vbt_rng_init(&rng, 99, 1);
    vbt_rng_normal(&rng, noise, NT * NS);
    for (size_t k = 0; k < NT * NS; k++)
        Y[k] += 0.1 * noise[k];
    vbt_vep_free(m);
    sp.data = Y;
    assert_int_equal(vbt_vep_alloc(&m, &sp, &msg), VBT_OK);

    /* MAP, Laplace covariance, NUTS from jittered MAP */
    vbt_vep_map_opts mo;
    vbt_vep_map_opts_default(&mo);
    mo.n_starts = 8;
    mo.n_threads = 2;
    mo.seed = 3;
    double *map = calloc(np, sizeof *map), *cov = calloc(np * np, sizeof *cov);
    vbt_vep_map_result mr;
    assert_int_equal(vbt_vep_map(m, &mo, map, &mr, NULL, NULL, &msg), VBT_OK);
    assert_int_equal(vbt_nuts_laplace_cov(vep_logp_cb, m, np, map, 0, cov, &msg), VBT_OK);
    enum { CH = 4 };
    vbt_vep *ms[CH];
    void *ctx[CH];
    double *inits = malloc(CH * np * sizeof *inits);
    for (size_t k = 0; k < CH; k++) {
        assert_int_equal(vbt_vep_alloc(&ms[k], &sp, &msg), VBT_OK);
        ctx[k] = ms[k];
        double z[64];
        vbt_rng_init(&rng, 5, k);
        vbt_rng_normal(&rng, z, np);
        for (size_t i = 0; i < np; i++) /* jitter: 0.5 Laplace sd */
            inits[k * np + i] = map[i] + 0.5 * sqrt(cov[i * np + i]) * z[i];
    }
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = 400;
    o.draws = 400;
    vbt_nuts_run r = {.logp = vep_logp_cb, .ctx = ctx, .n_params = np, .n_chains = CH,
                      .n_threads = 2, .seed = 11, .inits = inits, .inv_metric = cov,
                      .inv_metric_full = 1};
    const size_t D = o.draws;
    double *draws = malloc(CH * D * np * sizeof *draws), *x = malloc(CH * D * sizeof *x);
    vbt_nuts_stats *st = malloc(CH * D * sizeof *st);
    vbt_nuts_chain_info info[CH];
    assert_int_equal(vbt_nuts_sample(&r, &o, draws, st, info, &msg), VBT_OK);
    size_t div = 0;
    double mlp[CH], eps[CH];
    for (size_t k = 0; k < CH; k++) {
        div += info[k].divergences;
        mlp[k] = 0;
        for (size_t d = 0; d < D; d++)
            mlp[k] += st[k * D + d].lp / (double)D;
        eps[k] = info[k].stepsize;
        printf("chain %zu: step %.3f, mean lp %.2f, leapfrogs/draw %.1f, divergences %zu, "
               "%.2f s\n", k + 1, eps[k], mlp[k], (double)info[k].n_leapfrog / (double)D,
               info[k].divergences, info[k].wall_s);
    }
    int flags[CH];
    assert_int_equal(vbt_diag_stuck_chains(mlp, eps, CH, 0, 0, flags), 0);
    assert_true(div <= CH * D / 100);
    double *natd = malloc(np * sizeof *natd);
    double worst_rhat = 0;
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < CH * D; k++) {
            vbt_vep_constrain(m, draws + k * np, natd);
            x[k] = natd[i];
        }
        vbt_diag_param p;
        vbt_diag_param_compute(x, CH, D, &p);
        worst_rhat = fmax(worst_rhat, p.rhat);
        if (i < NR) {
            double pez = 0;
            for (size_t k = 0; k < CH * D; k++)
                pez += x[k] >= -2.05;
            pez /= (double)(CH * D);
            printf("  x0[%zu]: %.3f +- %.3f (truth %.2f) P(EZ) %.3f rhat %.3f ess %.0f\n", i + 1,
                   p.mean, p.sd, nat[i], pez, p.rhat, p.ess_bulk);
            /* the truth lies in the 99.7 % band; EZ recovered with certainty */
            assert_true(fabs(p.mean - nat[i]) < 3.0 * p.sd + 0.05);
            if (i == 2)
                assert_true(pez > 0.95);
            else
                assert_true(pez < 0.05);
        } else if (!strcmp(vbt_vep_param_name(m, i), "K") ||
                   !strcmp(vbt_vep_param_name(m, i), "eps") ||
                   !strcmp(vbt_vep_param_name(m, i), "amp")) {
            printf("  %s: %.3f +- %.3f (truth %.2f) rhat %.3f ess %.0f\n",
                   vbt_vep_param_name(m, i), p.mean, p.sd, nat[i], p.rhat, p.ess_bulk);
            assert_true(fabs(p.mean - nat[i]) < 3.0 * p.sd + 0.02);
        }
    }
    printf("worst R-hat %.4f\n", worst_rhat);
    assert_true(worst_rhat < 1.05);
    for (size_t k = 0; k < CH; k++)
        vbt_vep_free(ms[k]);
    vbt_vep_free(m);
    free(natd);
    free(nat);
    free(th);
    free(map);
    free(cov);
    free(inits);
    free(draws);
    free(x);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaussian_diag),
        cmocka_unit_test(test_gaussian_dense),
        cmocka_unit_test(test_adaptation),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_linear_gaussian_laplace),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_mode_jumps),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_state_resume),
        cmocka_unit_test(test_state_errors),
        cmocka_unit_test(test_sample_resume),
        cmocka_unit_test(test_vep_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
