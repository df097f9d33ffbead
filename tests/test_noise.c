/* test_noise.c -- random streams and additive noise: normal deviates'
 * moments and distribution within sampling error, stream independence and
 * reproducibility, increments sqrt(2 D dt) N(0,1) drawn once per step
 * (the same in Heun's predictor and corrector), coloured noise's
 * autocorrelation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_rng.h"

enum { NDRAW = 1 << 20 };

/* Standard normal CDF. */
static double phi(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static void test_normal_distribution(void **state)
{
    (void)state;
    double *x = malloc(NDRAW * sizeof *x);
    vbt_rng r;
    vbt_rng_init(&r, 20261124, 3);
    vbt_rng_normal(&r, x, NDRAW);
    double m = 0, v = 0;
    for (size_t i = 0; i < NDRAW; i++)
        m += x[i];
    m /= NDRAW;
    for (size_t i = 0; i < NDRAW; i++)
        v += (x[i] - m) * (x[i] - m);
    v /= NDRAW - 1;
    /* 5 standard errors: 5/sqrt(n) for the mean, 5 sqrt(2/n) for the variance. */
    assert_true(fabs(m) < 5.0 / sqrt(NDRAW));
    assert_true(fabs(v - 1.0) < 5.0 * sqrt(2.0 / NDRAW));
    /* Chi-square over 40 equiprobable-ish bins on [-4, 4] plus two tails:
     * 41 degrees of freedom, 0.1 % critical value 74.7. */
    enum { NB = 42 };
    double edges[NB + 1], count[NB] = {0};
    edges[0] = -HUGE_VAL;
    edges[NB] = HUGE_VAL;
    for (int b = 1; b < NB; b++)
        edges[b] = -4.0 + 8.0 * (b - 1) / (NB - 2);
    for (size_t i = 0; i < NDRAW; i++) {
        int b = x[i] < -4.0 ? 0 : x[i] >= 4.0 ? NB - 1 : 1 + (int)((x[i] + 4.0) / 8.0 * (NB - 2));
        count[b]++;
    }
    double chi2 = 0;
    for (int b = 0; b < NB; b++) {
        double p = phi(edges[b + 1]) - phi(edges[b]);
        double e = p * NDRAW;
        chi2 += (count[b] - e) * (count[b] - e) / e;
    }
    print_message("normal: mean %.2e, variance %.5f, chi2 %.1f (41 dof)\n", m, v, chi2);
    assert_true(chi2 < 74.7);
    /* Tails, where the ziggurat's slow paths act: P(|x| > 3.5) = 4.65e-4. */
    size_t tail = 0;
    for (size_t i = 0; i < NDRAW; i++)
        tail += fabs(x[i]) > 3.5;
    double p35 = 2.0 * (1.0 - phi(3.5)), se = sqrt(p35 * (1 - p35) / NDRAW);
    assert_true(fabs((double)tail / NDRAW - p35) < 5.0 * se);
    free(x);
}

static void test_streams(void **state)
{
    (void)state;
    enum { M = 100000 };
    double *a = malloc(M * sizeof *a), *b = malloc(M * sizeof *b), *c = malloc(M * sizeof *c);
    vbt_rng r;
    vbt_rng_init(&r, 42, 0);
    vbt_rng_normal(&r, a, M);
    vbt_rng_init(&r, 42, 1);
    vbt_rng_normal(&r, b, M);
    double s = 0;
    for (size_t i = 0; i < M; i++)
        s += a[i] * b[i];
    /* Correlation of independent streams: |r| < 5 / sqrt(M). */
    assert_true(fabs(s / M) < 5.0 / sqrt(M));
    /* Same (seed, stream): the same numbers, whatever the call sizes. */
    vbt_rng_init(&r, 42, 0);
    vbt_rng_normal(&r, c, 64 * 10);
    vbt_rng_normal(&r, c + 640, M - 640);
    assert_memory_equal(a, c, M * sizeof *a);
    vbt_rng_init(&r, 43, 0);
    vbt_rng_normal(&r, c, M);
    assert_true(memcmp(a, c, M * sizeof *a) != 0);
    /* Uniforms in the open interval. */
    vbt_rng_init(&r, 7, 0);
    vbt_rng_uniform(&r, a, M);
    double mu = 0;
    for (size_t i = 0; i < M; i++) {
        assert_true(a[i] > 0.0 && a[i] < 1.0);
        mu += a[i];
    }
    assert_true(fabs(mu / M - 0.5) < 5.0 * sqrt(1.0 / 12.0 / M));
    free(a);
    free(b);
    free(c);
}

/* Isolated nodes with dx = 0: the state is the sum of the noise increments. */
static void zero_dfun(size_t n, const double *restrict x, const double *restrict c,
                      const double *restrict p, double *restrict dx)
{
    for (size_t k = 0; k < 2 * n; k++)
        dx[k] = 0.0 * x[k] + 0.0 * c[k % n];
}
static const char *const zero_states[] = {"u", "v"};
static const size_t zero_cvar[] = {0};
static const vbt_model_type still = {
    .name = "still", .title = "no dynamics", .doc = "test system",
    .n_state = 2, .state_names = zero_states, .n_cvar = 1, .cvar = zero_cvar,
    .n_param = 0, .params = NULL, .n_observed = 1, .observed = zero_states,
    .dfun = zero_dfun,
};

enum { NREG = 2000 };

static vbt_sim *still_sim(const vbt_scheme_type *sc, vbt_connectome **conn)
{
    *conn = vbt_connectome_alloc(NREG);
    for (size_t i = 0; i < NREG; i++)
        snprintf((*conn)->labels[i], VBT_LABEL_MAX, "r%zu", i);
    vbt_sim_spec spec = {&still, vbt_coupling_linear, sc, *conn, 0.05, HUGE_VAL, 1};
    vbt_sim *sim;
    vbt_msg msg;
    if (vbt_sim_alloc(&sim, &spec, &msg))
        fail_msg("%s", msg.text);
    return sim;
}

static void test_increments(void **state)
{
    (void)state;
    vbt_connectome *conn;
    vbt_sim *sim = still_sim(vbt_scheme_euler, &conn);
    const double D[2] = {0.37, 0.0}, dt = 0.05;
    assert_int_equal(vbt_sim_set_noise(sim, D, 2, 0.0), VBT_OK);
    vbt_sim_set_seed(sim, 11, 0);
    /* One step: u = sqrt(2 D dt) z, v untouched. */
    assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
    const double *x = vbt_sim_state(sim);
    double m = 0, v = 0;
    for (size_t k = 0; k < NREG; k++) {
        m += x[k];
        v += x[k] * x[k];
        assert_true(x[NREG + k] == 0.0);
    }
    m /= NREG;
    v = v / NREG - m * m;
    double want = 2.0 * D[0] * dt;
    print_message("increment variance %.5f, expected 2 D dt = %.5f\n", v, want);
    assert_true(fabs(m) < 5.0 * sqrt(want / NREG));
    assert_true(fabs(v / want - 1.0) < 5.0 * sqrt(2.0 / NREG));
    /* After 100 steps the variance is 100 times larger (independent steps). */
    assert_int_equal(vbt_sim_run(sim, 99), VBT_OK);
    v = 0;
    for (size_t k = 0; k < NREG; k++)
        v += x[k] * x[k];
    v /= NREG;
    assert_true(fabs(v / (100 * want) - 1.0) < 5.0 * sqrt(2.0 / NREG));

    /* Stochastic Heun uses the same increment in predictor and corrector:
     * with f = 0 it must give exactly Euler-Maruyama's path. */
    double *euler = malloc(2 * NREG * sizeof *euler);
    memcpy(euler, x, 2 * NREG * sizeof *euler);
    vbt_connectome *conn2;
    vbt_sim *heun = still_sim(vbt_scheme_heun, &conn2);
    vbt_sim_set_noise(heun, D, 2, 0.0);
    vbt_sim_set_seed(heun, 11, 0);
    assert_int_equal(vbt_sim_run(heun, 100), VBT_OK);
    assert_memory_equal(euler, vbt_sim_state(heun), 2 * NREG * sizeof *euler);

    /* Reproducible after reset, in any chunking; another stream differs. */
    vbt_sim_reset(heun);
    assert_int_equal(vbt_sim_run(heun, 37), VBT_OK);
    assert_int_equal(vbt_sim_run(heun, 63), VBT_OK);
    assert_memory_equal(euler, vbt_sim_state(heun), 2 * NREG * sizeof *euler);
    vbt_sim_set_seed(heun, 11, 1);
    assert_int_equal(vbt_sim_run(heun, 100), VBT_OK);
    double cov = 0;
    for (size_t k = 0; k < NREG; k++)
        cov += euler[k] * vbt_sim_state(heun)[k];
    cov /= NREG * 100 * want;
    assert_true(fabs(cov) < 5.0 / sqrt(NREG));

    free(euler);
    vbt_sim_free(heun);
    vbt_connectome_free(conn2);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

/* Coloured noise: successive increments of an Ornstein-Uhlenbeck process
 * have correlation E = exp(-dt / ntau). */
static void test_coloured(void **state)
{
    (void)state;
    vbt_connectome *conn;
    vbt_sim *sim = still_sim(vbt_scheme_euler, &conn);
    const double D = 0.5, ntau = 0.4, dt = 0.05;
    assert_int_equal(vbt_sim_set_noise(sim, &D, 1, ntau), VBT_OK);
    double *prev = malloc(NREG * sizeof *prev), *inc = malloc(NREG * sizeof *inc);
    double *last = malloc(NREG * sizeof *last);
    memset(last, 0, NREG * sizeof *last);
    double sxy = 0, sxx = 0, syy = 0;
    for (int s = 0; s < 40; s++) {
        assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
        const double *x = vbt_sim_state(sim);
        for (size_t k = 0; k < NREG; k++) {
            inc[k] = x[k] - last[k];
            last[k] = x[k];
        }
        if (s > 0)
            for (size_t k = 0; k < NREG; k++) {
                sxy += prev[k] * inc[k];
                sxx += prev[k] * prev[k];
                syy += inc[k] * inc[k];
            }
        memcpy(prev, inc, NREG * sizeof *prev);
    }
    double r = sxy / sqrt(sxx * syy), E = exp(-dt / ntau);
    /* Stationary increment variance: 2 D dt^2 / ntau (eta has unit variance). */
    double var = syy / (39.0 * NREG), want = 2.0 * D * dt * dt / ntau;
    print_message("coloured: lag-1 correlation %.4f (E = %.4f), variance %.3e (%.3e)\n", r, E,
                  var, want);
    /* Standard errors with n_eff = N (1 - E^2) / (1 + E^2) ~ 9800 effective
     * samples: ~0.002 for r and ~0.014 for the relative variance; 5 SE. */
    assert_true(fabs(r - E) < 0.01);
    assert_true(fabs(var / want - 1.0) < 0.07);
    free(prev);
    free(inc);
    free(last);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

static void test_noise_errors(void **state)
{
    (void)state;
    vbt_connectome *conn;
    vbt_sim *sim = still_sim(vbt_scheme_rk4, &conn);
    double d = 0.1, neg = -0.1, zero = 0.0, three[3] = {1, 2, 3};
    assert_int_equal(vbt_sim_set_noise(sim, &d, 1, 0.0), VBT_EINVAL);
    assert_non_null(strstr(vbt_sim_errmsg(sim), "rk4"));
    assert_int_equal(vbt_sim_set_noise(sim, &zero, 1, 0.0), VBT_OK);   /* no noise: fine */
    assert_int_equal(vbt_sim_set_noise(sim, &neg, 1, 0.0), VBT_EINVAL);
    assert_int_equal(vbt_sim_set_noise(sim, three, 3, 0.0), VBT_EINVAL);
    assert_int_equal(vbt_sim_set_noise(sim, &zero, 1, -1.0), VBT_EINVAL);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_distribution),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_increments),
        cmocka_unit_test(test_coloured),
        cmocka_unit_test(test_noise_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
