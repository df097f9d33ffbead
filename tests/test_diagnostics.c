/* test_diagnostics.c -- fitting/vbt_diagnostics.h on draws with known
 * answers: independent normal draws (R-hat 1, ESS = the number of draws),
 * AR(1) chains (ESS = N (1 - phi) / (1 + phi)), chains with shifted
 * locations (bulk R-hat) or different scales (folded R-hat), quantiles,
 * E-BFMI, stuck chains and the error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt_diagnostics.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iid),
        cmocka_unit_test(test_ar1_ess),
        cmocka_unit_test(test_rhat_detects),
        cmocka_unit_test(test_rhat_basic_value),
        cmocka_unit_test(test_ebfmi),
        cmocka_unit_test(test_stuck),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
