/* test_models.c -- the neural-mass models: derivatives at fixed states
 * against values computed by hand from the reference equations, the
 * registry battery run over every model, and the 2D Epileptor's bifurcation
 * at the fold of the x1-nullcline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

/* Relative tolerance for derivatives: the reference values were evaluated
 * in double precision from the sheet's formulas; 1e-12 leaves room for a
 * different but equivalent operation order. */
static void assert_rel(double got, double want, const char *what)
{
    double tol = 1e-12 * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol))
        fail_msg("%s = %.17g, expected %.17g (diff %.3g)", what, got, want, fabs(got - want));
}

/* Parameters stored per lane, p[i*n + k], from the defaults. */
static double *params_for(const vbt_model_type *m, size_t n)
{
    double *p = malloc(m->n_param * n * sizeof *p);
    for (size_t i = 0; i < m->n_param; i++)
        for (size_t k = 0; k < n; k++)
            p[i * n + k] = m->params[i].def;
    return p;
}

static void set_param(const vbt_model_type *m, double *p, size_t n, const char *name, double v)
{
    long i = vbt_param_index(m->params, m->n_param, name);
    assert_true(i >= 0);
    for (size_t k = 0; k < n; k++)
        p[(size_t)i * n + k] = v;
}

/* Two lanes, two states: A exercises the x1 < 0, z > 0, x2 < -0.25
 * branches; B the x1 >= 0, z < 0, x2 >= -0.25 branches.  Parameters:
 * defaults with x0 = -2.1, Ks = -0.2, Kf = 0.1, Kvf = 0.05, r = 0.00015,
 * tt = 1.3.  Expected values from the formulas of
 * ../shared/reference/network-models.md section 4, e.g. for A:
 *   f1  = -x1^2 + 3 x1 = -5.22731025
 *   dx1 = 1.3 (y1 - z + 3.1 + 0.05 c0 + f1 x1) = -12.452775772287499 */
static void test_epileptor_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_epileptor;
    const size_t n = 2;
    double *p = params_for(m, n);
    set_param(m, p, n, "x0", -2.1);
    set_param(m, p, n, "Ks", -0.2);
    set_param(m, p, n, "Kf", 0.1);
    set_param(m, p, n, "Kvf", 0.05);
    set_param(m, p, n, "r", 0.00015);
    set_param(m, p, n, "tt", 1.3);
    const double A[6] = {-1.2345, -15.678, 3.456, -0.789, 0.123, -0.0456};
    const double B[6] = {0.4321, -3.21, -0.567, 0.345, 1.234, 0.0789};
    double x[12], c[4] = {0.0321, -0.0456, -0.0123, 0.0789}, dx[12];
    for (size_t v = 0; v < 6; v++) {
        x[v * n + 0] = A[v];
        x[v * n + 1] = B[v];
    }
    m->dfun(n, x, c, p, dx);
    const double wantA[6] = {-12.452775772287499, 11.775463375000001, -8.189999999986896e-08,
                             -0.06507921029999994, -0.015990000000000001, -0.00101205};
    const double wantB[6] = {7.4271055275820004, 4.2593823350000006, 0.0020877487804346301,
                             1.1774442875, 0.30367999999999995, -0.00046397000000000002};
    for (size_t v = 0; v < 6; v++) {
        char what[32];
        snprintf(what, sizeof what, "A d%s", m->state_names[v]);
        assert_rel(dx[v * n + 0], wantA[v], what);
        snprintf(what, sizeof what, "B d%s", m->state_names[v]);
        assert_rel(dx[v * n + 1], wantB[v], what);
    }
    /* dz at A is a difference of nearly equal terms: check it absolutely too. */
    assert_close(dx[2 * n], -8.19e-08, 1e-15);

    /* modification = 1 in lane 0 only: the sigmoidal h changes dz there and
     * nothing else, and lane 1 keeps the polynomial h. */
    long im = vbt_param_index(m->params, m->n_param, "modification");
    p[(size_t)im * n + 0] = 1.0;
    m->dfun(n, x, c, p, dx);
    assert_rel(dx[2 * n + 0], -0.0010842943430110904, "A dz (modification)");
    assert_rel(dx[0], wantA[0], "A dx1 (modification)");
    assert_rel(dx[2 * n + 1], wantB[2], "B dz (no modification)");
    free(p);
}

static void test_epileptor2d_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_epileptor2d;
    const size_t n = 2;
    double *p = params_for(m, n);
    set_param(m, p, n, "x0", -2.1);
    set_param(m, p, n, "Ks", -0.2);
    set_param(m, p, n, "Kvf", 0.05);
    set_param(m, p, n, "slope", 0.3);
    set_param(m, p, n, "tt", 1.3);
    /* r stays at its default 0.00035 */
    double x[4] = {-1.2345, 0.4321, 3.456, -0.567}, c[2] = {0.0321, -0.0456}, dx[4];
    m->dfun(n, x, c, p, dx);
    assert_rel(dx[0], -0.67731239728749992, "A dx1");
    assert_rel(dx[2], -1.9109999999969423e-07, "A dz");
    assert_rel(dx[1], 12.048803712582002, "B dx1");
    assert_rel(dx[3], 0.0048714138210141375, "B dz");
    /* With defaults and x1 < 0, dx1 = 1 - x1^3 - 2 x1^2 - z + Iext (the VEP form). */
    free(p);
    p = params_for(m, 1);
    double x1 = -1.7, z = 3.2, xs[2] = {x1, z}, c0 = 0.0, d[2];
    m->dfun(1, xs, &c0, p, d);
    assert_close(d[0], 1.0 - x1 * x1 * x1 - 2.0 * x1 * x1 - z + 3.1, 1e-13);
    free(p);
}

/* The same checks over every registered model: the battery a new model
 * must pass. */
static void test_registry_battery(void **state)
{
    (void)state;
    size_t count = 0;
    for (size_t i = 0; vbt_model_types[i]; i++, count++) {
        const vbt_model_type *m = vbt_model_types[i];
        assert_ptr_equal(vbt_model_find(m->name), m);
        assert_non_null(m->dfun);
        assert_true(m->n_state > 0 && m->n_cvar > 0 && m->n_observed > 0);
        for (size_t v = 0; v < m->n_cvar; v++)
            assert_true(m->cvar[v] < m->n_state);
        for (size_t a = 0; a < m->n_param; a++) {
            assert_int_equal(vbt_param_index(m->params, m->n_param, m->params[a].name), a);
            assert_true(isfinite(m->params[a].def));
            assert_non_null(m->params[a].unit);
            assert_non_null(m->params[a].doc);
        }
        for (size_t v = 0; v < m->n_state; v++)
            assert_int_equal(vbt_model_state_index(m, m->state_names[v]), v);
        for (size_t o = 0; o < m->n_observed; o++) {
            vbt_observable obs;
            vbt_msg msg;
            assert_int_equal(vbt_observable_parse(m, m->observed[o], &obs, &msg), VBT_OK);
        }
        /* Finite derivatives at defaults, on a spread of states and inputs. */
        const size_t n = 5;
        double *p = params_for(m, n);
        double *x = malloc(m->n_state * n * sizeof *x), *dx = malloc(m->n_state * n * sizeof *dx);
        double *c = malloc(m->n_cvar * n * sizeof *c);
        for (size_t k = 0; k < m->n_state * n; k++)
            x[k] = -1.5 + 0.731 * (double)(k % 7) - 0.0137 * (double)k;
        for (size_t k = 0; k < m->n_cvar * n; k++)
            c[k] = 0.1 * sin(2.385 * (double)k);
        m->dfun(n, x, c, p, dx);
        for (size_t k = 0; k < m->n_state * n; k++)
            assert_true(isfinite(dx[k]));
        /* Lanes are independent: lane 2 alone gives the same derivative. */
        double *x1 = malloc(m->n_state * sizeof *x1), *d1 = malloc(m->n_state * sizeof *d1);
        double *c1 = malloc(m->n_cvar * sizeof *c1), *p1 = params_for(m, 1);
        for (size_t v = 0; v < m->n_state; v++)
            x1[v] = x[v * n + 2];
        for (size_t v = 0; v < m->n_cvar; v++)
            c1[v] = c[v * n + 2];
        m->dfun(1, x1, c1, p1, d1);
        for (size_t v = 0; v < m->n_state; v++)
            assert_true(d1[v] == dx[v * n + 2]);
        free(p);
        free(x);
        free(dx);
        free(c);
        free(x1);
        free(d1);
        free(c1);
        free(p1);
    }
    assert_int_equal(count, 2);
    assert_null(vbt_model_find("no-such-model"));
    assert_ptr_equal(vbt_coupling_find("difference"), vbt_coupling_difference);
    assert_ptr_equal(vbt_scheme_find("rk4"), vbt_scheme_rk4);
    assert_null(vbt_scheme_find("euler-maruyama"));
}

/* An isolated 2D Epileptor node.  Fixed points satisfy dz = 0, z = 4 (x1 -
 * x0), and dx1 = 0, z = 4.1 - x1^3 - 2 x1^2, i.e. x1^3 + 2 x1^2 + 4 x1 -
 * 4 x0 - 4.1 = 0 (one real root: the derivative 3x^2 + 4x + 4 never
 * vanishes).  The left branch of the x1-nullcline ends at its fold
 * x1 = -4/3, z_fold = 4.1 + 64/27 - 32/9; the root lies on the stable left
 * branch iff x0 < x0c = -4/3 - z_fold/4 = -2.0620370... */
static double fixed_point_x1(double x0)
{
    double lo = -5.0, hi = 0.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        double f = mid * mid * mid + 2.0 * mid * mid + 4.0 * mid - 4.0 * x0 - 4.1;
        if (f > 0)
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}

static vbt_sim *single_node(double x0, double r, const vbt_scheme_type *sc, double dt)
{
    vbt_connectome *conn = vbt_connectome_alloc(1);
    strcpy(conn->labels[0], "node");
    vbt_sim_spec spec = {vbt_model_epileptor2d, vbt_coupling_difference, sc, conn, dt, HUGE_VAL};
    vbt_sim *sim;
    vbt_msg msg;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
    vbt_connectome_free(conn);
    assert_int_equal(vbt_sim_set_model_param(sim, "x0", &x0, 1), VBT_OK);
    assert_int_equal(vbt_sim_set_model_param(sim, "r", &r, 1), VBT_OK);
    double ic[2] = {-1.0, 3.0};
    assert_int_equal(vbt_sim_set_initial_constant(sim, ic, 2), VBT_OK);
    return sim;
}

static void test_epileptor2d_critical_excitability(void **state)
{
    (void)state;
    const double zf = 4.1 + 64.0 / 27.0 - 32.0 / 9.0;
    const double x0c = -4.0 / 3.0 - zf / 4.0;
    assert_close(x0c, -2.0620370370370370, 1e-15);
    /* At x0c the fixed point sits exactly on the fold. */
    assert_close(fixed_point_x1(x0c), -4.0 / 3.0, 1e-9);

    /* Below x0c: converges to the analytic fixed point.  r = 0.01 speeds up
     * the slow variable; the fixed point does not depend on r. */
    const double below[] = {-2.2, x0c - 0.02};
    for (size_t i = 0; i < 2; i++) {
        vbt_sim *sim = single_node(below[i], 0.01, vbt_scheme_rk4, 0.05);
        assert_int_equal(vbt_sim_run(sim, 200000), VBT_OK);      /* 10 s */
        const double *x = vbt_sim_state(sim);
        double xs = fixed_point_x1(below[i]);
        assert_true(xs < -4.0 / 3.0);
        assert_close(x[0], xs, 1e-7);
        assert_close(x[1], 4.0 * (xs - below[i]), 1e-7);
        vbt_sim_free(sim);
    }
    /* Above x0c: no stable rest state; x1 keeps leaving for the seizure
     * branch (x1 > 0) and coming back. */
    const double above[] = {-1.9, x0c + 0.02};
    for (size_t i = 0; i < 2; i++) {
        vbt_sim *sim = single_node(above[i], 0.01, vbt_scheme_rk4, 0.05);
        int crossings = 0, prev_pos = 0;
        for (int chunk = 0; chunk < 400; chunk++) {              /* 10 s */
            assert_int_equal(vbt_sim_run(sim, 500), VBT_OK);
            int pos = vbt_sim_state(sim)[0] > 0.0;
            crossings += pos && !prev_pos;
            prev_pos = pos;
        }
        if (crossings < 3)
            fail_msg("x0 = %g: %d seizure onsets in 10 s, expected recurrent seizures",
                     above[i], crossings);
        vbt_sim_free(sim);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epileptor_derivatives),
        cmocka_unit_test(test_epileptor2d_derivatives),
        cmocka_unit_test(test_registry_battery),
        cmocka_unit_test(test_epileptor2d_critical_excitability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
