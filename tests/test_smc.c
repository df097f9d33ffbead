/* test_smc.c -- SMC against known answers: a conjugate Gaussian (posterior
 * moments and log marginal likelihood in closed form), a bimodal likelihood
 * (both modes found in their true proportions, evidence known), bitwise
 * independence of the thread count, and argument errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_rng.h"
#include "vbt_smc.h"

/* theta ~ N(0, S0^2 I_2); y | theta ~ N(theta, S^2 I_2). */
#define S0 3.0
#define S 0.1
static const double Y[2] = {1.2, -0.8};

static void g_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    (void)ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_normal(&r, th, 2);
    th[0] *= S0;
    th[1] *= S0;
}

static double g_prior(void *ctx, const double *th)
{
    (void)ctx;
    return -0.5 * (th[0] * th[0] + th[1] * th[1]) / (S0 * S0) - log(2 * M_PI * S0 * S0);
}

static double g_lik(void *ctx, const double *th)
{
    (void)ctx;
    double a = th[0] - Y[0], b = th[1] - Y[1];
    return -0.5 * (a * a + b * b) / (S * S) - log(2 * M_PI * S * S);
}

static const vbt_smc_model gauss = {2, g_draw, g_prior, g_lik};

static void test_conjugate(void **state)
{
    (void)state;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 2000;
    o.seed = 11;
    double *p = malloc(o.n_particles * 2 * sizeof *p);
    vbt_smc_result res;
    vbt_msg msg;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, p, &res, &msg), VBT_OK);
    const double v = S0 * S0 + S * S, pm = S0 * S0 / v, psd = sqrt(S0 * S0 * S * S / v);
    const double logz = -0.5 * (Y[0] * Y[0] + Y[1] * Y[1]) / v - log(2 * M_PI * v);
    double m[2] = {0, 0}, q[2] = {0, 0};
    for (size_t i = 0; i < o.n_particles; i++)
        for (int d = 0; d < 2; d++)
            m[d] += p[2 * i + d];
    for (int d = 0; d < 2; d++)
        m[d] /= (double)o.n_particles;
    for (size_t i = 0; i < o.n_particles; i++)
        for (int d = 0; d < 2; d++)
            q[d] += (p[2 * i + d] - m[d]) * (p[2 * i + d] - m[d]);
    for (int d = 0; d < 2; d++)
        q[d] = sqrt(q[d] / (double)(o.n_particles - 1));
    print_message("conjugate: %zu steps, accept %.2f, mean (%.4f, %.4f) vs (%.4f, %.4f), "
                  "sd (%.4f, %.4f) vs %.4f, log Z %.4f vs %.4f\n", res.n_steps, res.accept_rate,
                  m[0], m[1], pm * Y[0], pm * Y[1], q[0], q[1], psd, res.log_evidence, logz);
    /* The prior is 30x wider than the posterior: several tempering steps. */
    assert_true(res.n_steps >= 3);
    /* Posterior mean: Monte Carlo error psd / sqrt(ESS) ~ 0.003; allow 0.02.
     * Sds within 10 %.  log Z: SMC's error is O(steps / N), well under 0.2. */
    for (int d = 0; d < 2; d++) {
        assert_close(m[d], pm * Y[d], 0.02);
        assert_true(fabs(q[d] / psd - 1) < 0.10);
    }
    assert_close(res.log_evidence, logz, 0.2);
    free(p);
}

/* Uniform prior on [-5, 5]; likelihood 0.3 N(-2, 0.2^2) + 0.7 N(2, 0.2^2):
 * the posterior has two well separated modes and log Z = log(1 / 10). */
static void u_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    (void)ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_uniform(&r, th, 1);
    th[0] = -5.0 + 10.0 * th[0];
}

static double u_prior(void *ctx, const double *th)
{
    (void)ctx;
    return fabs(th[0]) <= 5.0 ? -log(10.0) : -HUGE_VAL;
}

static double u_lik(void *ctx, const double *th)
{
    (void)ctx;
    const double s = 0.2, c = -log(sqrt(2 * M_PI) * s);
    double a = th[0] + 2.0, b = th[0] - 2.0;
    return log(0.3 * exp(c - 0.5 * a * a / (s * s)) + 0.7 * exp(c - 0.5 * b * b / (s * s)));
}

static const vbt_smc_model bimodal = {1, u_draw, u_prior, u_lik};

static void test_bimodal(void **state)
{
    (void)state;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 2000;
    o.seed = 5;
    double *p = malloc(o.n_particles * sizeof *p);
    vbt_smc_result res;
    assert_int_equal(vbt_smc(&bimodal, NULL, &o, p, &res, NULL), VBT_OK);
    size_t right = 0;
    for (size_t i = 0; i < o.n_particles; i++)
        right += p[i] > 0;
    double frac = (double)right / (double)o.n_particles;
    print_message("bimodal: %.3f of particles in the right mode (0.7), log Z %.4f vs %.4f\n", frac,
                  res.log_evidence, -log(10.0));
    /* Resampling noise on a proportion with ESS >= 1000: sd ~ 0.015; 0.06 is 4 sd.
     * log Z: over 12 seeds the error has sd ~ 0.03; 0.1 is 3 sd. */
    assert_close(frac, 0.7, 0.06);
    assert_close(res.log_evidence, -log(10.0), 0.1);
    free(p);
}

static void test_threads(void **state)
{
    (void)state;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 256;
    o.seed = 2;
    double *a = malloc(o.n_particles * 2 * sizeof *a), *b = malloc(o.n_particles * 2 * sizeof *b);
    vbt_smc_result ra, rb;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, a, &ra, NULL), VBT_OK);
    o.n_threads = 3;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, b, &rb, NULL), VBT_OK);
    assert_memory_equal(a, b, o.n_particles * 2 * sizeof *a);
    assert_true(ra.log_evidence == rb.log_evidence);
    free(a);
    free(b);
}

static double nan_lik(void *ctx, const double *th)
{
    (void)ctx;
    (void)th;
    return -HUGE_VAL;
}

static void test_errors(void **state)
{
    (void)state;
    double p[64];
    vbt_smc_result res;
    vbt_msg msg;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 4;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, p, &res, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "particles"));
    o.n_particles = 16;
    vbt_smc_model bad = gauss;
    bad.log_lik = nan_lik;
    assert_int_equal(vbt_smc(&bad, NULL, &o, p, &res, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "not finite"));
    o.max_steps = 1;    /* the conjugate problem needs ~6 steps */
    assert_int_equal(vbt_smc(&gauss, NULL, &o, p, &res, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "max_steps"));
    bad.log_lik = NULL;
    assert_int_equal(vbt_smc(&bad, NULL, &o, p, &res, &msg), VBT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conjugate),
        cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
