/* test_advi.c -- ADVI on Gaussian targets with known answers: full-rank
 * recovers mean and covariance; mean-field recovers the mean and, on a
 * correlated target, the known mean-field variances 1 / Lambda_ii (the
 * diagonal of the precision), smaller than the marginal variances. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_advi.h"

/* log N(theta | m, Sigma) with Sigma = [[4, 1.2], [1.2, 1]], up to a constant. */
static const double M[2] = {1.5, -0.7};
static const double SIG[2][2] = {{4.0, 1.2}, {1.2, 1.0}};

static int gauss2(void *ctx, const double *th, double *lp, double *grad)
{
    (void)ctx;
    const double det = SIG[0][0] * SIG[1][1] - SIG[0][1] * SIG[1][0];
    const double P[2][2] = {{SIG[1][1] / det, -SIG[0][1] / det},
                            {-SIG[1][0] / det, SIG[0][0] / det}};
    double d[2] = {th[0] - M[0], th[1] - M[1]};
    double pd[2] = {P[0][0] * d[0] + P[0][1] * d[1], P[1][0] * d[0] + P[1][1] * d[1]};
    *lp = -0.5 * (d[0] * pd[0] + d[1] * pd[1]);
    grad[0] = -pd[0];
    grad[1] = -pd[1];
    return 0;
}

static void test_fullrank(void **state)
{
    (void)state;
    vbt_advi_opts o;
    vbt_advi_opts_default(&o);
    o.family = VBT_ADVI_FULLRANK;
    o.seed = 3;
    o.grad_samples = 4;
    o.max_iter = 20000;
    o.tol_rel_obj = 0.001;
    double mu[2] = {0.0, 0.0}, L[4];
    vbt_advi_result res;
    vbt_msg msg;
    assert_int_equal(vbt_advi(gauss2, NULL, 2, &o, mu, L, &res, &msg), VBT_OK);
    double c00 = L[0] * L[0], c01 = L[2] * L[0], c11 = L[2] * L[2] + L[3] * L[3];
    print_message("full-rank: mu (%.3f, %.3f), cov [[%.3f, %.3f], [., %.3f]] after %zu iterations\n",
                  mu[0], mu[1], c00, c01, c11, res.iterations);
    /* Stochastic optimisation noise: means within 0.15, covariances within 15 %. */
    assert_close(mu[0], M[0], 0.15);
    assert_close(mu[1], M[1], 0.15);
    assert_true(fabs(c00 / SIG[0][0] - 1) < 0.15);
    assert_true(fabs(c11 / SIG[1][1] - 1) < 0.15);
    assert_true(fabs(c01 - SIG[0][1]) < 0.25);
}

static void test_meanfield(void **state)
{
    (void)state;
    vbt_advi_opts o;
    vbt_advi_opts_default(&o);
    o.seed = 5;
    o.grad_samples = 4;
    o.max_iter = 20000;
    o.tol_rel_obj = 0.001;
    double mu[2] = {0.0, 0.0}, sd[2];
    vbt_advi_result res;
    assert_int_equal(vbt_advi(gauss2, NULL, 2, &o, mu, sd, &res, NULL), VBT_OK);
    const double det = SIG[0][0] * SIG[1][1] - SIG[0][1] * SIG[0][1];
    const double mf0 = sqrt(det / SIG[1][1]), mf1 = sqrt(det / SIG[0][0]);  /* 1/sqrt(Lambda_ii) */
    print_message("mean-field: mu (%.3f, %.3f), sd (%.3f, %.3f), exact mean-field sd (%.3f, %.3f), "
                  "marginal sd (2, 1)\n", mu[0], mu[1], sd[0], sd[1], mf0, mf1);
    assert_close(mu[0], M[0], 0.15);
    assert_close(mu[1], M[1], 0.15);
    assert_true(fabs(sd[0] / mf0 - 1) < 0.1);
    assert_true(fabs(sd[1] / mf1 - 1) < 0.1);
    assert_true(sd[0] < 2.0 * 0.95);      /* the known under-dispersion */

    /* Draws of q have its moments (4000 draws: sd within 5 %). */
    enum { D = 4000 };
    double *dr = malloc(D * 2 * sizeof *dr), m0 = 0, v0 = 0;
    vbt_advi_draw(2, VBT_ADVI_MEANFIELD, mu, sd, D, 9, 0, dr);
    for (size_t d = 0; d < D; d++)
        m0 += dr[2 * d];
    m0 /= D;
    for (size_t d = 0; d < D; d++)
        v0 += (dr[2 * d] - m0) * (dr[2 * d] - m0);
    v0 /= D - 1;
    assert_true(fabs(sqrt(v0) / sd[0] - 1) < 0.05);
    free(dr);
}

static int nowhere(void *ctx, const double *th, double *lp, double *grad)
{
    (void)ctx;
    (void)th;
    (void)grad;
    *lp = -HUGE_VAL;
    return 1;
}

static void test_errors(void **state)
{
    (void)state;
    double mu[2] = {0, 0}, sd[2];
    vbt_advi_result res;
    vbt_msg msg;
    assert_int_equal(vbt_advi(gauss2, NULL, 0, NULL, mu, sd, &res, &msg), VBT_EINVAL);
    assert_int_equal(vbt_advi(nowhere, NULL, 2, NULL, mu, sd, &res, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "every draw"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fullrank),
        cmocka_unit_test(test_meanfield),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
