/* test_diagnostics.c -- fitting/vbt_diagnostics.h on draws with known
 * answers: independent normal draws (R-hat 1, ESS = the number of draws),
 * AR(1) chains (ESS = N (1 - phi) / (1 + phi)), chains with shifted
 * locations (bulk R-hat) or different scales (folded R-hat), quantiles,
 * E-BFMI, stuck chains and the error paths; the simulation-based
 * calibration helpers (ranks, thinning, chi-square uniformity) on exact
 * values, on exact and deliberately wrong conjugate posteriors, and a small
 * SBC of NUTS itself on a two-parameter normal model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt_diagnostics.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"

#define M 4
#define N 1000

/* m chains of n AR(1) draws x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t with
 * unit marginal variance, chain c from stream (seed, c). */
static void ar1(double *x, size_t m, size_t n, double phi, uint64_t seed)
{
    double *e = malloc(n * sizeof *e);
    for (size_t c = 0; c < m; c++) {
        vbt_rng r;
        vbt_rng_init(&r, seed, c);
        vbt_rng_normal(&r, e, n);
        double v = e[0];
        for (size_t t = 0; t < n; t++) {
            if (t)
                v = phi * v + sqrt(1.0 - phi * phi) * e[t];
            x[c * n + t] = v;
        }
    }
    free(e);
}

static void test_iid(void **state)
{
    (void)state;
    static double x[M * N];
    ar1(x, M, N, 0.0, 2385);
    vbt_diag_param d;
    assert_int_equal(vbt_diag_param_compute(x, M, N, &d), VBT_OK);
    printf("iid: mean %.4f sd %.4f rhat %.4f (bulk %.4f tail %.4f) ess_bulk %.0f ess_tail %.0f "
           "ess_mean %.0f mcse %.4f\n", d.mean, d.sd, d.rhat, d.rhat_bulk, d.rhat_tail,
           d.ess_bulk, d.ess_tail, d.ess_mean, d.mcse_mean);
    /* R-hat of 4000 independent draws: sd about 1/sqrt(N) ~ 0.003 */
    assert_true(d.rhat < 1.01);
    assert_true(d.rhat >= d.rhat_bulk && d.rhat >= d.rhat_tail);
    /* ESS of independent draws estimates M*N; its sampling sd is ~5 % here */
    assert_true(d.ess_bulk > 0.8 * M * N && d.ess_bulk < 1.25 * M * N);
    assert_true(d.ess_mean > 0.8 * M * N && d.ess_mean < 1.25 * M * N);
    /* the tail ESS of an indicator with p = 0.05 is noisier: 30 % */
    assert_true(d.ess_tail > 0.7 * M * N && d.ess_tail < 1.4 * M * N);
    assert_true(fabs(d.mean) < 4.0 / sqrt(M * N));
    assert_true(fabs(d.sd - 1.0) < 0.05);
    /* normal quantiles: +-1.645 sd, standard error ~0.035 */
    assert_close(d.q5, -1.645, 0.12);
    assert_close(d.q95, 1.645, 0.12);
    assert_close(d.q50, 0.0, 0.06);
    assert_close(d.mcse_mean, d.sd / sqrt(d.ess_mean), 1e-12);
}

static void test_ar1_ess(void **state)
{
    (void)state;
    /* Integrated autocorrelation time of AR(1): (1 + phi) / (1 - phi). */
    static double x[M * 4 * N];
    const double phis[3] = {0.5, 0.9, -0.3};
    for (int k = 0; k < 3; k++) {
        double phi = phis[k];
        ar1(x, M, 4 * N, phi, 77 + (uint64_t)k);
        double ess = vbt_diag_ess_basic(x, M, 4 * N);
        double want = (double)M * 4 * N * (1.0 - phi) / (1.0 + phi);
        if (want > M * 4.0 * N * log10(M * 4.0 * N))
            want = M * 4.0 * N * log10(M * 4.0 * N); /* posterior's cap tau >= 1/log10(S) */
        vbt_diag_param d;
        assert_int_equal(vbt_diag_param_compute(x, M, 4 * N, &d), VBT_OK);
        printf("AR(1) phi %+.1f: ess %.0f (theory %.0f), bulk %.0f, rhat %.4f\n", phi, ess, want,
               d.ess_bulk, d.rhat);
        /* relative sd of the ESS estimate of 16000 AR(1) draws is <= 10 %:
         * 25 % is a 2.5-sigma band */
        assert_true(fabs(ess / want - 1.0) < 0.25);
        assert_true(fabs(d.ess_bulk / want - 1.0) < 0.25);
        assert_true(d.rhat < 1.02);
    }
}

static void test_rhat_detects(void **state)
{
    (void)state;
    static double x[M * N];
    /* one chain shifted by one sd: the split-chain means have variance
     * ~(2/8)(6/8)(8/7) = 0.21, so R-hat ~ sqrt(1 + 0.21 / W) ~ 1.09 */
    ar1(x, M, N, 0.0, 11);
    for (size_t t = 0; t < N; t++)
        x[3 * N + t] += 1.0;
    vbt_diag_param d;
    assert_int_equal(vbt_diag_param_compute(x, M, N, &d), VBT_OK);
    printf("shifted chain: rhat bulk %.3f tail %.3f\n", d.rhat_bulk, d.rhat_tail);
    assert_true(d.rhat_bulk > 1.05);
    assert_true(d.rhat > 1.05);
    /* same location, one chain 3x wider: the classic R-hat misses it, the
     * folded one does not (Vehtari et al. 2021, section 4.2) */
    ar1(x, M, N, 0.0, 12);
    for (size_t t = 0; t < N; t++)
        x[2 * N + t] *= 3.0;
    assert_int_equal(vbt_diag_param_compute(x, M, N, &d), VBT_OK);
    double basic = vbt_diag_rhat_basic(x, M, N);
    printf("wide chain: basic %.4f bulk %.4f tail %.4f\n", basic, d.rhat_bulk, d.rhat_tail);
    assert_true(basic < 1.01);
    assert_true(d.rhat_tail > 1.05);
    assert_true(d.rhat > 1.05);
    /* a trend inside every chain: split R-hat sees it */
    ar1(x, M, N, 0.0, 13);
    for (size_t c = 0; c < M; c++)
        for (size_t t = 0; t < N; t++)
            x[c * N + t] += 2.0 * (double)t / N;
    assert_int_equal(vbt_diag_param_compute(x, M, N, &d), VBT_OK);
    printf("trend: bulk %.3f\n", d.rhat_bulk);
    assert_true(d.rhat_bulk > 1.1);
}

static void test_rhat_basic_value(void **state)
{
    (void)state;
    /* 2 chains, 3 draws: means 2 and 5, variances 1 and 1:
     * B = 3 * var(2, 5) = 13.5, W = 1, R = sqrt((13.5 + 2) / 3) */
    const double x[6] = {1, 2, 3, 4, 5, 6};
    assert_close(vbt_diag_rhat_basic(x, 2, 3), sqrt(15.5 / 3.0), 1e-14);
    /* type-7 quantiles of 1..4 */
    double w[4];
    const double y[4] = {4, 1, 3, 2};
    assert_close(vbt_diag_quantile(y, 4, 0.5, w), 2.5, 1e-15);
    assert_close(vbt_diag_quantile(y, 4, 0.05, w), 1.15, 1e-14);
    assert_close(vbt_diag_quantile(y, 4, 1.0, w), 4.0, 0);
    assert_close(vbt_diag_quantile(y, 4, 0.0, w), 1.0, 0);
    /* ESS of an antithetic chain is capped by 1 / log10(S) (posterior) */
    double alt[2 * 100];
    for (size_t i = 0; i < 200; i++)
        alt[i] = (i % 2 ? 1.0 : -1.0) + 1e-3 * (double)(i % 7);
    double e = vbt_diag_ess_basic(alt, 2, 100);
    assert_true(e <= 200 * log10(200.0) + 1e-9);
}

static void test_ebfmi(void **state)
{
    (void)state;
    double e[4000];
    vbt_rng r;
    vbt_rng_init(&r, 5, 0);
    vbt_rng_normal(&r, e, 4000);
    /* independent energies: E (e_i - e_{i-1})^2 = 2 var, so E-BFMI ~ 2 */
    double b = vbt_diag_ebfmi(e, 4000);
    printf("E-BFMI iid %.3f\n", b);
    assert_close(b, 2.0, 0.15);
    /* a random walk: increments of unit variance, spread ~ n: tiny E-BFMI */
    for (size_t i = 1; i < 4000; i++)
        e[i] += e[i - 1];
    b = vbt_diag_ebfmi(e, 4000);
    printf("E-BFMI random walk %.5f\n", b);
    assert_true(b < 0.05);
    assert_true(isnan(vbt_diag_ebfmi(e, 1)));
}

static void test_stuck(void **state)
{
    (void)state;
    const double lp[5] = {-100.2, -101.0, -131.7, -99.5, -100.0};
    const double eps[5] = {0.31, 0.29, 0.30, 0.02, 0.33};
    int f[5];
    assert_int_equal(vbt_diag_stuck_chains(lp, eps, 5, 0, 0, f), 2);
    assert_int_equal(f[0], 0);
    assert_int_equal(f[1], 0);
    assert_int_equal(f[2], VBT_DIAG_STUCK_LP);
    assert_int_equal(f[3], VBT_DIAG_STUCK_STEPSIZE);
    assert_int_equal(f[4], 0);
    /* a tighter gap flags chain 1 (1.5 below the best) too */
    assert_int_equal(vbt_diag_stuck_chains(lp, NULL, 5, 1.0, 0, f), 2);
    assert_int_equal(f[1], VBT_DIAG_STUCK_LP);
    assert_int_equal(f[3], 0);
    /* non-finite mean log density is stuck */
    const double lp2[2] = {-5.0, -HUGE_VAL};
    assert_int_equal(vbt_diag_stuck_chains(lp2, NULL, 2, 0, 0, f), 1);
    assert_int_equal(f[1], VBT_DIAG_STUCK_LP);
}

static void test_errors(void **state)
{
    (void)state;
    vbt_diag_param d;
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(vbt_diag_param_compute(x, 2, 3, &d), VBT_EINVAL);
    assert_int_equal(vbt_diag_param_compute(NULL, 2, 4, &d), VBT_EINVAL);
    double c[8] = {2, 2, 2, 2, 2, 2, 2, 2};
    assert_int_equal(vbt_diag_param_compute(c, 2, 4, &d), VBT_OK);
    assert_close(d.mean, 2.0, 0);
    assert_true(isnan(d.rhat) && isnan(d.ess_bulk) && isnan(d.ess_tail));
    x[3] = NAN;
    assert_int_equal(vbt_diag_param_compute(x, 2, 4, &d), VBT_OK);
    assert_true(isnan(d.rhat) && isnan(d.ess_bulk));
    assert_true(isnan(vbt_diag_ess_basic(x, 1, 2)));
    assert_int_equal(vbt_diag_stuck_chains(NULL, NULL, 3, 0, 0, (int[3]){0}), 0);
}

static void test_sbc_rank_thin_bin(void **state)
{
    (void)state;
    const double x[6] = {0.5, 2.385, -1.0, 3.0, 0.1, 7.0};
    assert_int_equal(vbt_sbc_rank(x, 6, 6, 1.0), 3);
    assert_int_equal(vbt_sbc_rank(x, 6, 6, -2.0), 0);
    assert_int_equal(vbt_sbc_rank(x, 6, 6, 9.0), 6);
    /* L = 3 of 6 keeps x[0], x[2], x[4] */
    assert_int_equal(vbt_sbc_rank(x, 6, 3, 1.0), 3);
    assert_int_equal(vbt_sbc_rank(x, 6, 3, 0.3), 2);
    assert_int_equal(vbt_sbc_rank(x, 6, 3, NAN), 0);
    assert_true(vbt_sbc_rank(x, 6, 0, 1.0) == SIZE_MAX);
    assert_true(vbt_sbc_rank(x, 6, 7, 1.0) == SIZE_MAX);
    assert_true(vbt_sbc_rank(NULL, 6, 3, 1.0) == SIZE_MAX);

    assert_int_equal(vbt_sbc_thin(300.0, 1000, 10, 99), 99);
    assert_int_equal(vbt_sbc_thin(57.3, 1000, 10, 99), 49);
    assert_int_equal(vbt_sbc_thin(5.0, 1000, 10, 99), 9);
    assert_int_equal(vbt_sbc_thin(NAN, 1000, 10, 99), 9);
    assert_int_equal(vbt_sbc_thin(300.0, 45, 10, 99), 39);
    assert_int_equal(vbt_sbc_thin(300.0, 1000, 20, 99), 99);
    assert_int_equal(vbt_sbc_thin(300.0, 1000, 7, 99), 97);
    assert_int_equal(vbt_sbc_thin(300.0, 5, 10, 99), 0);
    assert_int_equal(vbt_sbc_thin(300.0, 1000, 0, 99), 0);
    assert_int_equal(vbt_sbc_thin(300.0, 1000, 10, 5), 0);

    assert_int_equal(vbt_sbc_bin(0, 99, 10), 0);
    assert_int_equal(vbt_sbc_bin(9, 99, 10), 0);
    assert_int_equal(vbt_sbc_bin(10, 99, 10), 1);
    assert_int_equal(vbt_sbc_bin(50, 99, 10), 5);
    assert_int_equal(vbt_sbc_bin(99, 99, 10), 9);
    assert_int_equal(vbt_sbc_bin(19, 19, 20), 19);
}

static void test_chisq_uniform(void **state)
{
    (void)state;
    double stat, p;
    /* E = 20: (100 + 0 + 100) / 20 = 10 on 2 dof, where P(chi2 > x) = exp(-x/2) */
    const size_t c3[3] = {10, 20, 30};
    assert_int_equal(vbt_chisq_uniform(c3, 3, &stat, &p), VBT_OK);
    assert_close(stat, 10.0, 1e-12);
    assert_close(p, exp(-5.0), 1e-12);
    const size_t c4[4] = {7, 7, 7, 7};
    assert_int_equal(vbt_chisq_uniform(c4, 4, &stat, &p), VBT_OK);
    assert_close(stat, 0.0, 0);
    assert_close(p, 1.0, 1e-12);
    assert_int_equal(vbt_chisq_uniform(c4, 4, NULL, NULL), VBT_OK);
    const size_t z[3] = {0, 0, 0};
    assert_int_equal(vbt_chisq_uniform(z, 3, &stat, &p), VBT_EINVAL);
    assert_int_equal(vbt_chisq_uniform(c4, 1, &stat, &p), VBT_EINVAL);
    assert_int_equal(vbt_chisq_uniform(NULL, 4, &stat, &p), VBT_EINVAL);
}

/* SBC of a conjugate normal model with exact posterior draws: mu ~ N(0, 1),
 * NY observations y_i ~ N(mu, SIG); posterior N(m, s).  The "sampler" draws
 * from N(m + shift s, scale s): (0, 1) is right, a shift biases the ranks,
 * a scale below 1 (overconfident) piles them at both ends.  Returns the
 * chi-square p-value of R replicates, L = 99 draws, 10 bins. */
#define NY 5
#define SIG 0.5
static double sbc_conjugate(size_t R, double shift, double scale, uint64_t seed)
{
    size_t counts[10] = {0};
    double y[NY], d[99], mu;
    for (size_t r = 0; r < R; r++) {
        vbt_rng g;
        vbt_rng_init(&g, seed, r);
        vbt_rng_normal(&g, &mu, 1);
        vbt_rng_normal(&g, y, NY);
        double sum = 0;
        for (size_t i = 0; i < NY; i++)
            sum += mu + SIG * y[i];
        double prec = 1.0 + NY / (SIG * SIG), m = sum / (SIG * SIG) / prec, s = 1.0 / sqrt(prec);
        vbt_rng_normal(&g, d, 99);
        for (size_t k = 0; k < 99; k++)
            d[k] = m + shift * s + scale * s * d[k];
        counts[vbt_sbc_bin(vbt_sbc_rank(d, 99, 99, mu), 99, 10)]++;
    }
    double p;
    assert_int_equal(vbt_chisq_uniform(counts, 10, NULL, &p), VBT_OK);
    return p;
}

static void test_sbc_conjugate(void **state)
{
    (void)state;
    double ok = sbc_conjugate(200, 0.0, 1.0, 2385), ok2 = sbc_conjugate(1000, 0.0, 1.0, 77);
    double bias = sbc_conjugate(200, 0.5, 1.0, 2385), narrow = sbc_conjugate(200, 0.0, 0.6, 2385);
    double wide = sbc_conjugate(200, 0.0, 1.6, 2385);
    printf("SBC conjugate normal: exact p %.3f (200) %.3f (1000); shifted 0.5 sd p %.2g; "
           "sd x0.6 p %.2g; sd x1.6 p %.2g\n", ok, ok2, bias, narrow, wide);
    assert_true(ok > 0.01 && ok2 > 0.01);
    assert_true(bias < 1e-3);
    assert_true(narrow < 1e-3);
    assert_true(wide < 1e-3);
}

/* SBC of NUTS: mu ~ N(0, 1), log sigma ~ N(-1, 0.5), NY2 observations
 * y_i ~ N(mu, sigma); theta = (mu, log sigma).  `overfit` multiplies the
 * log likelihood the sampler sees (1: right; 3: a posterior too narrow). */
#define NY2 8
typedef struct {
    double y[NY2];
    double overfit;
} gctx;

static int gauss_logp(void *ctx, const double *th, double *lp, double *grad)
{
    const gctx *c = ctx;
    double mu = th[0], ls = th[1], iv = exp(-2.0 * ls), ss = 0, sr = 0;
    for (size_t i = 0; i < NY2; i++) {
        ss += (c->y[i] - mu) * (c->y[i] - mu);
        sr += c->y[i] - mu;
    }
    double w = c->overfit;
    *lp = -0.5 * mu * mu - 0.5 * (ls + 1.0) * (ls + 1.0) / 0.25 +
          w * (-(double)NY2 * ls - 0.5 * ss * iv);
    grad[0] = -mu + w * sr * iv;
    grad[1] = -(ls + 1.0) / 0.25 + w * (-(double)NY2 + ss * iv);
    return 0;
}

static void sbc_nuts(size_t R, double overfit, double p_out[2], size_t *div)
{
    enum { W = 150, D = 400, B = 10 };
    size_t counts[2][B] = {{0}};
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = W;
    o.draws = D;
    double *dr = malloc(D * 2 * sizeof *dr), x[D];
    vbt_nuts_chain_info info;
    *div = 0;
    for (size_t r = 0; r < R; r++) {
        vbt_rng g;
        vbt_rng_init(&g, 4242, r);
        double th[2], init[2];
        gctx c = {.overfit = overfit};
        vbt_rng_normal(&g, th, 2);
        th[1] = -1.0 + 0.5 * th[1];
        vbt_rng_normal(&g, c.y, NY2);
        for (size_t i = 0; i < NY2; i++)
            c.y[i] = th[0] + exp(th[1]) * c.y[i];
        vbt_rng_normal(&g, init, 2); /* a prior draw, not the truth */
        init[1] = -1.0 + 0.5 * init[1];
        void *ctx[1] = {&c};
        vbt_nuts_run run = {.logp = gauss_logp, .ctx = ctx, .n_params = 2, .n_chains = 1,
                            .n_threads = 1, .seed = 1000 + r, .inits = init};
        vbt_msg msg;
        assert_int_equal(vbt_nuts_sample(&run, &o, dr, NULL, &info, &msg), VBT_OK);
        *div += info.divergences;
        for (size_t j = 0; j < 2; j++) {
            for (size_t k = 0; k < D; k++)
                x[k] = dr[k * 2 + j];
            vbt_diag_param dp;
            assert_int_equal(vbt_diag_param_compute(x, 1, D, &dp), VBT_OK);
            size_t L = vbt_sbc_thin(fmin(dp.ess_bulk, dp.ess_tail), D, B, 99);
            size_t rank = vbt_sbc_rank(x, D, L, th[j]);
            counts[j][vbt_sbc_bin(rank, L, B)]++;
        }
    }
    for (size_t j = 0; j < 2; j++)
        assert_int_equal(vbt_chisq_uniform(counts[j], B, NULL, &p_out[j]), VBT_OK);
    free(dr);
}

static void test_sbc_nuts(void **state)
{
    (void)state;
    double p[2], q[2];
    size_t d1, d2;
    sbc_nuts(200, 1.0, p, &d1);
    sbc_nuts(200, 3.0, q, &d2);
    printf("SBC of NUTS, 200 replicates: right model p(mu) %.3f p(log sigma) %.3f (%zu "
           "divergences); likelihood x3 p(mu) %.2g p(log sigma) %.2g\n", p[0], p[1], d1, q[0],
           q[1]);
    assert_true(p[0] > 0.01 && p[1] > 0.01);
    assert_true(q[0] < 1e-3);
}


/* Coverage counted by hand: 3 times x 2 sensors; sensor 0 inside at t = 0
 * and 2 (the bounds count as inside), sensor 1 only at t = 1; a NaN band
 * is outside. */
static void test_ppc_coverage(void **state)
{
    (void)state;
    const double y[6] = {0.5, 9.0, 1.0, 2.0, 3.0, 0.0};
    const double lo[6] = {0.0, 0.0, 1.0, 1.5, 2.0, NAN};
    const double hi[6] = {1.0, 1.0, 1.5, 2.5, 3.0, NAN};
    double per[2];
    /* sensor 0: t0 0.5 in [0,1], t1 1.0 in [1,1.5], t2 3.0 in [2,3]: 3/3;
     * sensor 1: t0 9 out, t1 2 in [1.5,2.5], t2 NaN band out: 1/3 */
    assert_close(vbt_ppc_coverage(y, lo, hi, 3, 2, per), 4.0 / 6.0, 1e-15);
    assert_close(per[0], 1.0, 1e-15);
    assert_close(per[1], 1.0 / 3.0, 1e-15);
    assert_true(isnan(vbt_ppc_coverage(y, lo, hi, 0, 2, NULL)));
}

/* Mode agreement: start 2 is the best (lp -10); start 0 gives the same EZ
 * set with x0 within 0.5 (agrees); start 1 (lp -11.5) another EZ set;
 * start 3 (lp -12) the same set but one x0 1.0 apart.  The nearest
 * disagreeing start is 1, 1.5 below. */
static void test_map_mode_gap(void **state)
{
    (void)state;
    const double lp[4] = {-10.2, -11.5, -10.0, -12.0};
    const double x0[4 * 3] = {-1.8, -2.9, -3.0,   /* 0: EZ {0} */
                              -2.5, -1.9, -3.0,   /* 1: EZ {1} */
                              -1.6, -3.1, -3.2,   /* 2: EZ {0}, best */
                              -1.7, -3.1, -2.2};  /* 3: EZ {0}, region 2 1.0 apart */
    size_t k;
    assert_close(vbt_map_mode_gap(lp, x0, 4, 3, -2.05, 0.5, &k), 1.5, 1e-12);
    assert_int_equal(k, 1);
    /* without start 1 (failed: -inf), start 3 is the nearest disagreement */
    const double lp2[4] = {-10.2, -INFINITY, -10.0, -12.0};
    assert_close(vbt_map_mode_gap(lp2, x0, 4, 3, -2.05, 0.5, &k), 2.0, 1e-12);
    assert_int_equal(k, 3);
    /* a looser tolerance: only the EZ set counts, start 3 agrees */
    assert_true(isinf(vbt_map_mode_gap(lp2, x0, 4, 3, -2.05, 1.5, &k)));
    assert_int_equal(k, SIZE_MAX);
    const double none[2] = {NAN, -INFINITY};
    assert_true(isnan(vbt_map_mode_gap(none, x0, 2, 3, -2.05, 0.5, NULL)));
}

/* The verdict: trustworthy only when every check passed; JSON and back. */
static void test_verdict_object(void **state)
{
    (void)state;
    vbt_verdict v, w;
    vbt_msg msg;
    vbt_verdict_init(&v);
    assert_false(v.trustworthy); /* no check: nothing to trust */
    assert_int_equal(vbt_verdict_add(&v, "rhat", 1.004, 1.01, 1, "every R-hat <= %.2f", 1.01),
                     VBT_OK);
    assert_true(v.trustworthy);
    assert_int_equal(vbt_verdict_add(&v, "ppc_coverage", 0.4, 0.75, 0, "only %d %% inside", 40),
                     VBT_OK);
    assert_false(v.trustworthy);
    vbt_verdict_add(&v, "point_estimate", NAN, NAN, 0, "point estimate only");
    v.point_estimate = 1;
    assert_int_equal(vbt_verdict_n_failed(&v), 2);
    assert_string_equal(vbt_verdict_failed(&v, 1)->name, "point_estimate");
    assert_null(vbt_verdict_failed(&v, 2));
    assert_null(vbt_verdict_find(&v, "ess_bulk"));
    char *text = vbt_verdict_json(&v);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"reasons\""));
    assert_non_null(strstr(text, "only 40 % inside"));
    assert_int_equal(vbt_verdict_parse(&w, text, &msg), VBT_OK);
    free(text);
    assert_int_equal(w.n_checks, 3);
    assert_false(w.trustworthy);
    assert_true(w.point_estimate);
    assert_close(vbt_verdict_find(&w, "ppc_coverage")->value, 0.4, 0);
    assert_true(isnan(vbt_verdict_find(&w, "point_estimate")->value)); /* null and back */
    assert_string_equal(vbt_verdict_find(&w, "rhat")->reason, "every R-hat <= 1.01");
    assert_int_equal(vbt_verdict_parse(&w, "{\"checks\": 3}", &msg), VBT_EFORMAT);
    assert_int_equal(vbt_verdict_parse(&w, "not json", &msg), VBT_EFORMAT);
    /* full: the 33rd check is refused */
    vbt_verdict_init(&v);
    for (int i = 0; i < VBT_VERDICT_MAX_CHECKS; i++)
        assert_int_equal(vbt_verdict_add(&v, "c", 0, 0, 1, "fine %d", i), VBT_OK);
    assert_int_equal(vbt_verdict_add(&v, "c", 0, 0, 1, "one too many"), VBT_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iid),
        cmocka_unit_test(test_ar1_ess),
        cmocka_unit_test(test_rhat_detects),
        cmocka_unit_test(test_rhat_basic_value),
        cmocka_unit_test(test_ebfmi),
        cmocka_unit_test(test_stuck),
        cmocka_unit_test(test_ppc_coverage),
        cmocka_unit_test(test_map_mode_gap),
        cmocka_unit_test(test_verdict_object),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sbc_rank_thin_bin),
        cmocka_unit_test(test_chisq_uniform),
        cmocka_unit_test(test_sbc_conjugate),
        cmocka_unit_test(test_sbc_nuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
