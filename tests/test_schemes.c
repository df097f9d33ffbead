/* test_schemes.c -- integration schemes: convergence order on a system with
 * an exact solution, clamping after every stage, and the coupling held
 * fixed through a step's stages.  The test systems are plug-in model types
 * defined here, which also shows that the simulator takes user models. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

/* Harmonic oscillator dx = y, dy = -w^2 x; exact x = cos(w t) from (1, 0). */
static void osc_dfun(size_t n, const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict dx)
{
    (void)c;
    for (size_t k = 0; k < n; k++) {
        double w = p[k];
        dx[k] = x[n + k];
        dx[n + k] = -w * w * x[k];
    }
}
static const char *const osc_states[] = {"x", "y"};
static const size_t osc_cvar[] = {0};
static const vbt_param_desc osc_params[] = {{"w", 1.0, "rad/ms", 0, HUGE_VAL, "frequency"}};
static const char *const osc_obs[] = {"x"};
static const vbt_model_type oscillator = {
    .name = "oscillator", .title = "harmonic oscillator", .doc = "test system",
    .n_state = 2, .state_names = osc_states, .n_cvar = 1, .cvar = osc_cvar,
    .n_param = 1, .params = osc_params, .n_observed = 1, .observed = osc_obs,
    .dfun = osc_dfun,
};

static vbt_connectome *isolated(size_t n)
{
    vbt_connectome *c = vbt_connectome_alloc(n);
    for (size_t i = 0; i < n; i++)
        snprintf(c->labels[i], VBT_LABEL_MAX, "r%zu", i);
    return c;
}

static double oscillator_error(const vbt_scheme_type *sc, double dt)
{
    const double w = 1.3, T = 10.0;
    vbt_connectome *conn = isolated(1);
    vbt_sim_spec spec = {&oscillator, vbt_coupling_linear, sc, conn, dt, HUGE_VAL, 1};
    vbt_sim *sim;
    vbt_msg msg;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
    double ic[2] = {1.0, 0.0};
    vbt_sim_set_model_param(sim, "w", &w, 1);
    vbt_sim_set_initial_constant(sim, ic, 2);
    assert_int_equal(vbt_sim_run(sim, (uint64_t)llround(T / dt)), VBT_OK);
    double err = fabs(vbt_sim_state(sim)[0] - cos(w * T));
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
    return err;
}

/* Halving dt divides the global error by 2^order: 2 (Euler), 4 (Heun),
 * 16 (RK4).  The dt values are in the asymptotic range for w = 1.3, T = 10
 * (measured ratios are within 7 % of the limit; the bounds allow 10 %). */
static void test_convergence_order(void **state)
{
    (void)state;
    const struct { const vbt_scheme_type *sc; double dt, ratio; } cases[] = {
        {NULL, 0.01, 2.0}, {NULL, 0.02, 4.0}, {NULL, 0.05, 16.0},
    };
    const vbt_scheme_type *schemes[] = {vbt_scheme_euler, vbt_scheme_heun, vbt_scheme_rk4};
    for (size_t i = 0; i < 3; i++) {
        double e1 = oscillator_error(schemes[i], cases[i].dt);
        double e2 = oscillator_error(schemes[i], cases[i].dt / 2);
        double e4 = oscillator_error(schemes[i], cases[i].dt / 4);
        double r1 = e1 / e2, r2 = e2 / e4;
        print_message("%s: errors %.3e %.3e %.3e, ratios %.3f %.3f (expected %g)\n",
                      schemes[i]->name, e1, e2, e4, r1, r2, cases[i].ratio);
        assert_true(fabs(r1 / cases[i].ratio - 1.0) < 0.1);
        assert_true(fabs(r2 / cases[i].ratio - 1.0) < 0.1);
        assert_int_equal(1 << schemes[i]->order, (int)cases[i].ratio);
    }
}

/* A model that grows without bound, with a clamp at 0.5: every scheme
 * clamps after each stage and at the end of the step. */
static void grow_dfun(size_t n, const double *restrict x, const double *restrict c,
                      const double *restrict p, double *restrict dx)
{
    (void)c;
    (void)p;
    for (size_t k = 0; k < n; k++)
        dx[k] = 1.0 + 0.0 * x[k];
}
static void grow_clamp(size_t n, double *restrict x)
{
    for (size_t k = 0; k < n; k++)
        x[k] = x[k] > 0.5 ? 0.5 : x[k];
}
static const char *const grow_states[] = {"S"};
static const vbt_model_type grower = {
    .name = "grower", .title = "clamped growth", .doc = "test system",
    .n_state = 1, .state_names = grow_states, .n_cvar = 1, .cvar = osc_cvar,
    .n_param = 0, .params = NULL, .n_observed = 1, .observed = grow_states,
    .dfun = grow_dfun, .clamp = grow_clamp,
};

static void test_clamp_every_stage(void **state)
{
    (void)state;
    vbt_connectome *conn = isolated(3);
    const vbt_scheme_type *schemes[] = {vbt_scheme_euler, vbt_scheme_heun, vbt_scheme_rk4};
    for (size_t i = 0; i < 3; i++) {
        vbt_sim_spec spec = {&grower, vbt_coupling_linear, schemes[i], conn, 0.3, HUGE_VAL, 1};
        vbt_sim *sim;
        vbt_msg msg;
        assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
        double s0 = 0.35;
        vbt_sim_set_initial_constant(sim, &s0, 1);
        assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
        /* Unclamped, every scheme would give 0.35 + 0.3 = 0.65. */
        assert_true(vbt_sim_state(sim)[0] == 0.5);
        vbt_sim_free(sim);
    }
    vbt_connectome_free(conn);
}

/* Node 0: dx = 1 (so x0(t) = t); node 1: dx = c0 with linear coupling a = 1
 * from node 0, no delay.  The coupling is computed once per step at t_n and
 * held through the stages, so every scheme gives x1(t_{n+1}) = x1(t_n) +
 * dt * x0(t_n) exactly, i.e. x1(N dt) = dt^2 N (N - 1) / 2.  (Recomputing
 * the coupling in Heun's corrector would give dt^2 N^2 / 2.) */
static void drive_dfun(size_t n, const double *restrict x, const double *restrict c,
                       const double *restrict p, double *restrict dx)
{
    for (size_t k = 0; k < n; k++)
        dx[k] = p[k] + c[k] + 0.0 * x[k];
}
static const vbt_param_desc drive_params[] = {{"drive", 0.0, "1/ms", -HUGE_VAL, HUGE_VAL, "d"}};
static const vbt_model_type driven = {
    .name = "driven", .title = "driven integrator", .doc = "test system",
    .n_state = 1, .state_names = osc_states, .n_cvar = 1, .cvar = osc_cvar,
    .n_param = 1, .params = drive_params, .n_observed = 1, .observed = osc_obs,
    .dfun = drive_dfun,
};

static void test_coupling_fixed_through_stages(void **state)
{
    (void)state;
    vbt_connectome *conn = isolated(2);
    conn->weights[1 * 2 + 0] = 1.0;           /* to 1 from 0 */
    const vbt_scheme_type *schemes[] = {vbt_scheme_euler, vbt_scheme_heun, vbt_scheme_rk4};
    const double dt = 0.125;                  /* exact in binary */
    const uint64_t N = 40;
    for (size_t i = 0; i < 3; i++) {
        vbt_sim_spec spec = {&driven, vbt_coupling_linear, schemes[i], conn, dt, HUGE_VAL, 1};
        vbt_sim *sim;
        vbt_msg msg;
        assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
        double drive[2] = {1.0, 0.0}, a = 1.0, x = 0.0;
        vbt_sim_set_model_param(sim, "drive", drive, 2);
        vbt_sim_set_coupling_param(sim, "a", &a, 1);
        vbt_sim_set_initial_constant(sim, &x, 1);
        assert_int_equal(vbt_sim_run(sim, N), VBT_OK);
        const double *s = vbt_sim_state(sim);
        assert_close(s[0], dt * (double)N, 1e-13);
        assert_close(s[1], dt * dt * (double)(N * (N - 1)) / 2.0, 1e-13);
        vbt_sim_free(sim);
    }
    vbt_connectome_free(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convergence_order),
        cmocka_unit_test(test_clamp_every_stage),
        cmocka_unit_test(test_coupling_fixed_through_stages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
