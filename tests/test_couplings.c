/* test_couplings.c -- every coupling against its definition in The Virtual
 * Brain, c_i = post(sum_j w_ij pre(x_i, x_j(t - tau_ij))), evaluated here
 * directly (sin(x_j - x_i), not the expanded form the library uses), with
 * and without delays, through the simulator.  The 4-region test matrix is
 * 56 % dense, so the runs without delays take the dense (BLAS) path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

/* Probe model with two coupling variables: dx_v = c_v, so one Euler step
 * from a constant history reveals c = (x(dt) - x(0)) / dt. */
static void probe_dfun(size_t n, const double *restrict x, const double *restrict c,
                       const double *restrict p, double *restrict dx)
{
    (void)p;
    for (size_t k = 0; k < 2 * n; k++)
        dx[k] = c[k] + 0.0 * x[k];
}
static const char *const probe_states[] = {"u", "v"};
static const size_t probe_cvar[] = {0, 1};
static const vbt_model_type probe = {
    .name = "probe2", .title = "probe", .doc = "test system",
    .n_state = 2, .state_names = probe_states, .n_cvar = 2, .cvar = probe_cvar,
    .n_param = 0, .params = NULL, .n_observed = 1, .observed = probe_states,
    .dfun = probe_dfun,
};

enum { N = 4 };
static const double W[N * N] = {
    0.0, 0.37, 1.25, 0.0,
    0.83, 0.0, 0.0, 0.219,
    0.0, 1.07, 0.0, 0.455,
    0.61, 0.0, 0.92, 0.0,
};

/* TVB's pre-synaptic terms and post functions, written directly. */
static double tvb_coupling(const char *name, const double *p, const double *xi,
                           const double *xj_u, const double *xj_v, size_t i, int row)
{
    double g = 0.0;
    for (size_t j = 0; j < N; j++) {
        double w = W[i * N + j], u = xj_u[j], v = xj_v[j], term;
        double xiv = row == 0 ? xi[i] : xi[N + i], xjv = row == 0 ? u : v;
        if (!strcmp(name, "linear") || !strcmp(name, "scaling") || !strcmp(name, "sigmoidal"))
            term = xjv;
        else if (!strcmp(name, "difference"))
            term = xjv - xiv;
        else if (!strcmp(name, "kuramoto"))
            term = sin(xjv - xiv);
        else if (!strcmp(name, "hyperbolic_tangent"))
            term = p[0] * (1.0 + tanh((p[1] * xjv - p[2]) / p[3]));
        else /* sigmoidal_jansen_rit */
            term = p[0] + (p[1] - p[0]) / (1.0 + exp(p[3] * (p[2] - (u - v))));
        g += w * term;
    }
    if (!strcmp(name, "linear"))
        return p[0] * g + p[1];
    if (!strcmp(name, "scaling") || !strcmp(name, "difference"))
        return p[0] * g;
    if (!strcmp(name, "kuramoto"))
        return p[0] / 2.0 * g;            /* a / n_cvar, n_cvar = 2 here */
    if (!strcmp(name, "sigmoidal"))
        return p[0] + (p[1] - p[0]) / (1.0 + exp(-p[3] * (g - p[2]) / p[4]));
    if (!strcmp(name, "sigmoidal_jansen_rit"))
        return row == 0 ? p[4] * g : 0.0;
    return g;                             /* hyperbolic_tangent */
}

static void check_coupling(const vbt_coupling_type *ct, int delays)
{
    vbt_connectome *conn = vbt_connectome_alloc(N);
    for (size_t i = 0; i < N; i++)
        snprintf(conn->labels[i], VBT_LABEL_MAX, "r%zu", i);
    memcpy(conn->weights, W, sizeof W);
    for (size_t k = 0; k < N * N; k++)
        conn->lengths[k] = 0.3 * (double)(1 + (k * 7) % 5);   /* 1..5 steps at dt 0.1 */
    vbt_sim_spec spec = {&probe, ct, vbt_scheme_euler, conn, 0.1, delays ? 3.0 : HUGE_VAL, 1};
    vbt_sim *sim;
    vbt_msg msg;
    if (vbt_sim_alloc(&sim, &spec, &msg))
        fail_msg("%s: %s", ct->name, msg.text);
    /* Non-default, high-entropy parameters. */
    double p[8];
    for (size_t i = 0; i < ct->n_param; i++) {
        p[i] = ct->params[i].def * 1.37 + 0.113 * (double)(i + 1);
        vbt_sim_set_coupling_param(sim, ct->params[i].name, &p[i], 1);
    }
    /* History: each row differs, so every delay reads a different value. */
    const size_t H = vbt_sim_horizon(sim);
    double *hist = malloc(H * 2 * N * sizeof *hist);
    for (size_t r = 0; r < H; r++)
        for (size_t k = 0; k < 2 * N; k++)
            hist[r * 2 * N + k] = sin(2.385 * (double)(r + 1) + 0.731 * (double)k);
    assert_int_equal(vbt_sim_set_initial_history(sim, hist, H), VBT_OK);
    const double *x0 = hist + (H - 1) * 2 * N;
    double xi[2 * N];
    memcpy(xi, x0, sizeof xi);
    assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
    const double *x1 = vbt_sim_state(sim);
    for (size_t i = 0; i < N; i++) {
        double u[N], v[N];
        for (size_t j = 0; j < N; j++) {
            long d = vbt_sim_delay_steps(sim, i, j);
            if (!delays)
                assert_int_equal(d, 0);
            const double *row = hist + (H - 1 - (size_t)(delays ? d : 0)) * 2 * N;
            u[j] = row[j];
            v[j] = row[N + j];
        }
        for (int r = 0; r < 2; r++) {
            double want = tvb_coupling(ct->name, p, xi, u, v, i, r);
            double got = (x1[r * N + i] - xi[r * N + i]) / 0.1;
            if (!(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want))))
                fail_msg("%s (%s): c%d of region %zu = %.17g, expected %.17g", ct->name,
                         delays ? "delays" : "no delays", r, i, got, want);
        }
    }
    free(hist);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

static void test_every_coupling(void **state)
{
    (void)state;
    size_t count = 0;
    for (size_t i = 0; vbt_coupling_types[i]; i++, count++) {
        const vbt_coupling_type *ct = vbt_coupling_types[i];
        assert_ptr_equal(vbt_coupling_find(ct->name), ct);
        assert_non_null(ct->post);
        check_coupling(ct, 0);
        check_coupling(ct, 1);
    }
    assert_int_equal(count, 7);
}

/* Jansen-Rit's coupling needs two coupling variables. */
static void test_min_cvar(void **state)
{
    (void)state;
    vbt_connectome *conn = vbt_connectome_alloc(2);
    strcpy(conn->labels[0], "a");
    strcpy(conn->labels[1], "b");
    vbt_sim_spec spec = {vbt_model_epileptor2d, vbt_coupling_sigmoidal_jansen_rit,
                         vbt_scheme_euler, conn, 0.1, HUGE_VAL, 1};
    vbt_sim *sim = NULL;
    vbt_msg msg;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_EINVAL);
    assert_null(sim);
    assert_non_null(strstr(msg.text, "needs 2 coupling variables"));
    vbt_connectome_free(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_coupling),
        cmocka_unit_test(test_min_cvar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
