/* test_batch.c -- batched simulation: B simulations side by side give the
 * same bytes as B separate runs, whatever their position in the batch, with
 * per-simulation parameters and noise streams. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_rng.h"

/* The connectome and run length of check_batch(): TVB's 76 regions (its
 * zero-length self-connections keep the sums step by step), or the Desikan
 * 84 (weights scaled to a maximum of 1; every delay >= 51 steps at 3 mm/ms
 * and dt 0.1 ms, so the sums of 51 steps are taken per pass). */
static const char *conn_file = "connectivity_76.zip";
static size_t n_steps = 600;

static vbt_connectome *load_conn76(void)
{
    vbt_connectome *conn;
    vbt_msg msg;
    if (vbt_connectome_load(&conn, tu_path(tu_samples_dir(), conn_file), &msg))
        fail_msg("%s", msg.text);
    if (strcmp(conn_file, "connectivity_76.zip") != 0 &&
        vbt_connectome_normalize(conn, VBT_NORMALIZE_MAX, &msg))
        fail_msg("%s", msg.text);
    return conn;
}

static int f32_history;     /* history_float32 of the simulators make() builds */

static vbt_sim *make(const vbt_connectome *conn, double speed, size_t batch)
{
    vbt_sim_spec spec = {.model = vbt_model_epileptor2d, .coupling = vbt_coupling_difference,
                         .scheme = vbt_scheme_heun, .conn = conn, .dt_ms = 0.1,
                         .speed_mm_per_ms = speed, .batch = batch};
    vbt_sim *sim;
    vbt_msg msg;
    if (vbt_sim_alloc(&sim, &spec, &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(vbt_sim_set_history_float32(sim, f32_history), VBT_OK);
    double ic[2] = {-1.8, 3.2}, r = 0.01, nsig[2] = {0.002, 0.0};
    vbt_sim_set_model_param(sim, "r", &r, 1);
    vbt_sim_set_initial_constant(sim, ic, 2);
    assert_int_equal(vbt_sim_set_noise(sim, nsig, 2, 0.0), VBT_OK);
    return sim;
}

/* Simulation b: its own x0 map and coupling strength. */
static void params_of(size_t b, size_t n, double *x0, double *ks)
{
    for (size_t i = 0; i < n; i++)
        x0[i] = -2.3 + 0.05 * (double)((i * 7 + b * 3) % 11);
    *ks = -0.5 - 0.25 * (double)b;
}

static void check_batch(double speed, size_t B, int exact)
{
    vbt_connectome *conn = load_conn76();
    const size_t n = conn->n, steps = n_steps;
    vbt_sim *batch = make(conn, speed, B);
    double x0[128], ks;
    for (size_t b = 0; b < B; b++) {
        params_of(b, n, x0, &ks);
        assert_int_equal(vbt_sim_set_model_param_of(batch, b, "x0", x0, n), VBT_OK);
        assert_int_equal(vbt_sim_set_model_param_of(batch, b, "Ks", &ks, 1), VBT_OK);
    }
    vbt_sim_set_seed(batch, 99, 10);
    assert_int_equal(vbt_sim_run(batch, steps), VBT_OK);
    const double *xb = vbt_sim_state(batch);
    assert_int_equal(vbt_sim_n_lanes(batch), n * B);
    double worst = 0.0;
    for (size_t b = 0; b < B; b++) {
        vbt_sim *one = make(conn, speed, 1);
        params_of(b, n, x0, &ks);
        vbt_sim_set_model_param(one, "x0", x0, n);
        vbt_sim_set_model_param(one, "Ks", &ks, 1);
        vbt_sim_set_seed(one, 99, 10 + b);
        assert_int_equal(vbt_sim_run(one, steps), VBT_OK);
        const double *x1 = vbt_sim_state(one);
        for (size_t v = 0; v < 2; v++)
            for (size_t i = 0; i < n; i++) {
                double a = xb[v * n * B + i * B + b], e = x1[v * n + i];
                if (exact && a != e)
                    fail_msg("speed %g, batch %zu: simulation %zu, variable %zu, region %zu: "
                             "%.17g in the batch, %.17g alone", speed, B, b, v, i, a, e);
                worst = fmax(worst, fabs(a - e));
            }
        vbt_sim_free(one);
    }
    print_message("speed %g, batch of %zu: max |batch - single| = %.3g\n", speed, B, worst);
    assert_true(worst < 1e-10);
    vbt_sim_free(batch);
    vbt_connectome_free(conn);
}

/* With delays (CSR over the ring buffer) the summation order is the same as
 * a single run: identical bytes.  The batched kernel takes lanes eight at a
 * time and the rest one by one: 5 (only the rest), 16 (only blocks of
 * eight) and 11 (both) cover every path. */
static void test_batch_delayed(void **state)
{
    (void)state;
    check_batch(3.0, 5, 1);
    check_batch(3.0, 16, 1);
    check_batch(3.0, 11, 1);
}

/* The float32 history keeps the invariant: the same bytes alone and at any
 * position in a batch. */
static void test_batch_delayed_f32(void **state)
{
    (void)state;
    f32_history = 1;
    check_batch(3.0, 1, 1);
    check_batch(3.0, 11, 1);
    check_batch(3.0, 16, 1);
    f32_history = 0;
}

/* Blocked delayed sums (the Desikan connectome): the sums of 51 steps per
 * pass, a connection's 51 slots of B lanes as one run of values summed in
 * chunks of 128, 32, 8 and 1 values (batches of 16: 816 values; 11: 561; 1:
 * 51, all four kinds), with the next chunk requested ahead; 1500 steps wrap
 * the rings (659 slots for a batch, 1024 alone) twice and once, so windows
 * read the copies of the first slots kept after a ring's end.  Double and
 * float32 history: the same bytes alone and at any position. */
static void test_batch_blocked(void **state)
{
    (void)state;
    conn_file = "connectivity_84_desikan.zip";
    n_steps = 1500;
    {   /* the premise: every connection of nonzero weight has a delay >= 50 steps */
        vbt_connectome *conn = load_conn76();
        vbt_sim *sim = make(conn, 3.0, 1);
        long dmin = -1;
        for (size_t i = 0; i < conn->n; i++)
            for (size_t j = 0; j < conn->n; j++)
                if (conn->weights[i * conn->n + j] != 0.0 &&
                    (dmin < 0 || vbt_sim_delay_steps(sim, i, j) < dmin))
                    dmin = vbt_sim_delay_steps(sim, i, j);
        assert_int_equal(dmin, 50);
        vbt_sim_free(sim);
        vbt_connectome_free(conn);
    }
    for (f32_history = 0; f32_history <= 1; f32_history++) {
        check_batch(3.0, 16, 1);
        check_batch(3.0, 11, 1);
    }
    f32_history = 0;
    n_steps = 600;
    conn_file = "connectivity_76.zip";
}

/* Without delays a single run of the 76-region matrix takes the dense BLAS
 * path and a batch the CSR path: they agree to rounding, not bitwise. */
static void test_batch_dense(void **state)
{
    (void)state;
    check_batch(HUGE_VAL, 7, 0);
}

static void test_batch_param_errors(void **state)
{
    (void)state;
    vbt_connectome *conn = load_conn76();
    vbt_sim *sim = make(conn, 3.0, 4);
    double v = -2.0, many[76 * 4];
    for (size_t k = 0; k < 76 * 4; k++)
        many[k] = -2.2 + 0.001 * (double)k;
    assert_int_equal(vbt_sim_set_model_param_of(sim, 4, "x0", &v, 1), VBT_ERANGE);
    assert_int_equal(vbt_sim_set_model_param_of(sim, 0, "x0", many, 76 * 4), VBT_EINVAL);
    assert_int_equal(vbt_sim_set_model_param(sim, "x0", many, 76 * 4), VBT_OK);
    double back[76 * 4];
    assert_int_equal(vbt_sim_get_model_param(sim, "x0", back), VBT_OK);
    assert_memory_equal(back, many, sizeof back);
    assert_int_equal(vbt_sim_batch(sim), 4);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

/* Normals of B streams side by side are the numbers each stream gives
 * alone: 40 streams (a group of 32 and one of 8), 16 (a group written
 * straight into the output), 11 (a group whose last vector is part
 * padding) and 1; 150 per stream (three blocks of 64 words, the last one
 * odd); and streams at different positions (drawn one after the other).
 * 2 x 150 x 40 normals include about 300 that the ziggurat's box rejects
 * (2.8 %), so the slow path is exercised in every group. */
static void test_rng_lanes(void **state)
{
    (void)state;
    enum { NSMAX = 40, N = 150 };
    static const size_t widths[] = {40, 16, 11, 1};
    vbt_rng lanes[NSMAX], one;
    double *got = malloc(NSMAX * N * sizeof *got), want[N];
    for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++) {
        const size_t NS = widths[wi];
        for (int round = 0; round < 2; round++) {
            for (size_t b = 0; b < NS; b++)
                vbt_rng_init(&lanes[b], 2385, 17 + b);
            if (round == 1 && NS > 3) {     /* stream 3 ahead of the others */
                double skip[5];
                vbt_rng_normal(&lanes[3], skip, 5);
            }
            vbt_rng_normal_lanes(lanes, NS, got, N);
            vbt_rng_normal_lanes(lanes, NS, got, N);    /* the second call continues */
            for (size_t b = 0; b < NS; b++) {
                vbt_rng_init(&one, 2385, 17 + b);
                double skip[N];
                if (round == 1 && NS > 3 && b == 3)
                    vbt_rng_normal(&one, skip, 5);
                vbt_rng_normal(&one, skip, N);
                vbt_rng_normal(&one, want, N);
                for (size_t i = 0; i < N; i++)
                    if (got[i * NS + b] != want[i])
                        fail_msg("%zu streams, round %d, stream %zu, normal %zu: %.17g side "
                                 "by side, %.17g alone", NS, round, b, i, got[i * NS + b],
                                 want[i]);
            }
        }
    }
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_delayed),
        cmocka_unit_test(test_batch_delayed_f32),
        cmocka_unit_test(test_batch_blocked),
        cmocka_unit_test(test_batch_dense),
        cmocka_unit_test(test_batch_param_errors),
        cmocka_unit_test(test_rng_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
