/* test_loo.c -- PSIS-LOO and WAIC against the exact leave-one-out predictive
 * densities of a conjugate normal model, outliers flagged by Pareto k, and
 * the comparison of two models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_loo.h"

/* y_i ~ N(mu, 1), mu ~ N(0, tau^2).  The posterior given y_-i is
 * N(m_-i, v_-i) with v = 1 / (1/tau^2 + (N-1)), m = v * sum_{j != i} y_j,
 * so p(y_i | y_-i) = N(y_i | m_-i, 1 + v_-i) exactly. */
enum { N = 40, S = 4000 };

static void posterior_draws(const double *y, size_t n, double tau, double *mu, size_t S_)
{
    double v = 1.0 / (1.0 / (tau * tau) + (double)n), sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += y[i];
    double m = v * sum;
    double *z = malloc(S_ * sizeof *z);
    vbt_rng r;
    vbt_rng_init(&r, 11, 0);
    vbt_rng_normal(&r, z, S_);
    for (size_t s = 0; s < S_; s++)
        mu[s] = m + sqrt(v) * z[s];
    free(z);
}

static void data(double *y, double shift)
{
    vbt_rng r;
    vbt_rng_init(&r, 5, 0);
    vbt_rng_normal(&r, y, N);
    for (size_t i = 0; i < N; i++)
        y[i] += 0.7 + shift;
}

static void loglik_matrix(const double *y, const double *mu, double *ll, double scale)
{
    for (size_t s = 0; s < S; s++)
        for (size_t i = 0; i < N; i++) {
            double z = (y[i] - mu[s]) / scale;
            ll[s * N + i] = -0.5 * log(2.0 * M_PI) - log(scale) - 0.5 * z * z;
        }
}

static void test_loo_exact(void **state)
{
    (void)state;
    const double tau = 10.0;
    double y[N], *mu = malloc(S * sizeof *mu), *ll = malloc(S * N * sizeof *ll);
    double elpd[N], k[N];
    data(y, 0.0);
    posterior_draws(y, N, tau, mu, S);
    loglik_matrix(y, mu, ll, 1.0);
    vbt_loo_result res;
    vbt_msg msg;
    assert_int_equal(vbt_loo(ll, S, N, elpd, k, &res, &msg), VBT_OK);
    double exact = 0.0, worst = 0.0, lppd = 0.0;
    double vf = 1.0 / (1.0 / (tau * tau) + (double)N), sf = 0.0;
    for (size_t i = 0; i < N; i++)
        sf += y[i];
    for (size_t i = 0; i < N; i++) {
        double d = y[i] - vf * sf;
        lppd += -0.5 * log(2.0 * M_PI * (1.0 + vf)) - 0.5 * d * d / (1.0 + vf);
    }
    for (size_t i = 0; i < N; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < N; j++)
            if (j != i)
                sum += y[j];
        double v = 1.0 / (1.0 / (tau * tau) + (double)(N - 1)), m = v * sum, var = 1.0 + v;
        double e = -0.5 * log(2.0 * M_PI * var) - 0.5 * (y[i] - m) * (y[i] - m) / var;
        exact += e;
        worst = fmax(worst, fabs(elpd[i] - e));
        /* a regular model: every k is small */
        assert_true(k[i] < 0.5);
    }
    print_message("elpd_loo %.4f (exact %.4f, se %.3f), p_loo %.3f (exact %.3f), waic elpd "
                  "%.4f, worst pointwise error %.2e, k max %.3f\n", res.elpd_loo, exact,
                  res.se_elpd_loo, res.p_loo, lppd - exact, res.elpd_waic, worst, res.khat_max);
    /* Monte Carlo error with 4000 draws: each elpd_i within 0.01 (measured
     * 6e-3), the total within 0.06 (measured 0.043); p_loo against the exact
     * lppd - elpd (the log of a mean of exp is exact only as S grows). */
    assert_true(worst < 0.01);
    assert_close(res.elpd_loo, exact, 0.06);
    assert_close(res.p_loo, lppd - exact, 0.1);
    assert_close(res.elpd_waic, res.elpd_loo, 0.05);
    assert_close(res.looic, -2.0 * res.elpd_loo, 1e-12);
    assert_int_equal(res.n_k_ok, N);
    free(mu);
    free(ll);
}

/* One gross outlier: its leave-one-out posterior differs strongly from the
 * full posterior, which a large Pareto k reports. */
static void test_outlier_k(void **state)
{
    (void)state;
    double y[N], *mu = malloc(S * sizeof *mu), *ll = malloc(S * N * sizeof *ll), k[N];
    data(y, 0.0);
    y[3] = 12.0;
    /* a tight posterior (a small sd for the data) makes the outlier influential */
    posterior_draws(y, N, 10.0, mu, S);
    loglik_matrix(y, mu, ll, 0.3);
    vbt_loo_result res;
    assert_int_equal(vbt_loo(ll, S, N, NULL, k, &res, NULL), VBT_OK);
    size_t worst = 0;
    for (size_t i = 1; i < N; i++)
        if (k[i] > k[worst])
            worst = i;
    print_message("outlier k %.2f, k max of the others below it\n", k[3]);
    assert_int_equal(worst, 3);
    assert_true(k[3] > 0.5);
    free(mu);
    free(ll);
}

/* The right model (unit noise) beats a wrong one (noise sd 0.5) by many
 * standard errors. */
static void test_compare(void **state)
{
    (void)state;
    double y[N], *mu = malloc(S * sizeof *mu), *ll = malloc(S * N * sizeof *ll);
    double ea[N], eb[N];
    data(y, 0.0);
    posterior_draws(y, N, 10.0, mu, S);
    vbt_loo_result ra, rb;
    loglik_matrix(y, mu, ll, 1.0);
    assert_int_equal(vbt_loo(ll, S, N, ea, NULL, &ra, NULL), VBT_OK);
    loglik_matrix(y, mu, ll, 0.5);
    assert_int_equal(vbt_loo(ll, S, N, eb, NULL, &rb, NULL), VBT_OK);
    double diff, se;
    vbt_loo_compare(ea, eb, N, &diff, &se);
    assert_close(diff, ra.elpd_loo - rb.elpd_loo, 1e-9);
    print_message("elpd difference %.2f (se %.2f)\n", diff, se);
    assert_true(diff > 2.0 * se && diff > 0);
    free(mu);
    free(ll);
}

static void test_errors_and_gauss(void **state)
{
    (void)state;
    double ll[20 * 2];
    for (size_t i = 0; i < 40; i++)
        ll[i] = -1.0;
    vbt_loo_result res;
    vbt_msg msg;
    assert_int_equal(vbt_loo(ll, 5, 2, NULL, NULL, &res, &msg), VBT_EINVAL);
    ll[7] = NAN;
    assert_int_equal(vbt_loo(ll, 20, 2, NULL, NULL, &res, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "draw 3, observation 1"));
    double y[2] = {1.0, -0.5}, m[2] = {0.25, 0.5}, out[2];
    vbt_loglik_gauss(y, m, 2, 2.0, out);
    assert_close(out[0], -0.5 * log(2 * M_PI) - log(2.0) - 0.5 * 0.375 * 0.375, 1e-15);
    assert_close(out[1], -0.5 * log(2 * M_PI) - log(2.0) - 0.125, 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loo_exact),
        cmocka_unit_test(test_outlier_k),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_errors_and_gauss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
