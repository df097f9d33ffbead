/* test_stimulus.c -- stimulation: a pulse train and a sampled waveform
 * integrated by a model without dynamics give the exact charge
 * sum_n dt I(t_n) w_i, with every scheme. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

static void still_dfun(size_t n, const double *restrict x, const double *restrict c,
                       const double *restrict p, double *restrict dx)
{
    for (size_t k = 0; k < 2 * n; k++)
        dx[k] = 0.0 * x[k] + 0.0 * c[k % n];
}
static const char *const states[] = {"u", "v"};
static const size_t cvar[] = {0};
static const vbt_model_type still = {
    .name = "still", .title = "no dynamics", .doc = "test system",
    .n_state = 2, .state_names = states, .n_cvar = 1, .cvar = cvar,
    .n_param = 0, .params = NULL, .n_observed = 1, .observed = states,
    .dfun = still_dfun,
};

static vbt_sim *make(const vbt_scheme_type *sc, vbt_connectome **conn, size_t batch)
{
    *conn = vbt_connectome_alloc(3);
    for (size_t i = 0; i < 3; i++)
        snprintf((*conn)->labels[i], VBT_LABEL_MAX, "r%zu", i);
    vbt_sim_spec spec = {.model = &still, .coupling = vbt_coupling_linear, .scheme = sc,
                         .conn = *conn, .dt_ms = 0.1, .speed_mm_per_ms = HUGE_VAL,
                         .batch = batch};
    vbt_sim *sim;
    vbt_msg msg;
    if (vbt_sim_alloc(&sim, &spec, &msg))
        fail_msg("%s", msg.text);
    return sim;
}

static const double W[3] = {0.5, 0.0, 2.0};

/* 100 Hz, 2 ms pulses of amplitude 3 from 5 ms for 30 ms: three pulses of
 * 20 steps each at dt = 0.1, so the charge is 60 * 0.1 * 3 * w = 18 w. */
static void test_pulse_train(void **state)
{
    (void)state;
    const vbt_scheme_type *schemes[] = {vbt_scheme_euler, vbt_scheme_heun, vbt_scheme_rk4};
    for (size_t s = 0; s < 3; s++)
        for (size_t batch = 1; batch <= 2; batch++) {
            vbt_connectome *conn;
            vbt_sim *sim = make(schemes[s], &conn, batch);
            vbt_stimulus st = {.var = 0, .weights = W, .onset_ms = 5.0, .amplitude = 3.0,
                               .frequency_hz = 100.0, .width_ms = 2.0, .train_ms = 30.0};
            assert_int_equal(vbt_sim_set_stimulus(sim, &st), VBT_OK);
            assert_close(vbt_sim_stimulus_at(sim, 4.95), 0.0, 0.0);
            assert_close(vbt_sim_stimulus_at(sim, 5.0), 3.0, 0.0);
            assert_close(vbt_sim_stimulus_at(sim, 7.05), 0.0, 0.0);
            assert_close(vbt_sim_stimulus_at(sim, 15.5), 3.0, 0.0);
            assert_close(vbt_sim_stimulus_at(sim, 35.5), 0.0, 0.0);   /* after the train */
            assert_int_equal(vbt_sim_run(sim, 500), VBT_OK);
            const double *x = vbt_sim_state(sim);
            for (size_t i = 0; i < 3; i++)
                for (size_t b = 0; b < batch; b++) {
                    assert_close(x[i * batch + b], 18.0 * W[i], 1e-12);
                    assert_close(x[3 * batch + i * batch + b], 0.0, 0.0);   /* v untouched */
                }
            /* Removing the stimulus stops it. */
            vbt_sim_reset(sim);
            assert_int_equal(vbt_sim_set_stimulus(sim, NULL), VBT_OK);
            assert_int_equal(vbt_sim_run(sim, 500), VBT_OK);
            assert_close(vbt_sim_state(sim)[0], 0.0, 0.0);
            vbt_sim_free(sim);
            vbt_connectome_free(conn);
        }
}

/* Samples 1, -2, 0.5 every 0.3 ms from 1 ms, held: 3 steps each at
 * dt = 0.1, charge 0.1 (3 - 6 + 1.5) w = -0.15 w. */
static void test_waveform(void **state)
{
    (void)state;
    vbt_connectome *conn;
    vbt_sim *sim = make(vbt_scheme_heun, &conn, 1);
    const double wave[3] = {1.0, -2.0, 0.5};
    vbt_stimulus st = {.var = 1, .weights = W, .onset_ms = 1.0, .waveform = wave,
                       .n_samples = 3, .sample_ms = 0.3};
    assert_int_equal(vbt_sim_set_stimulus(sim, &st), VBT_OK);
    assert_int_equal(vbt_sim_run(sim, 40), VBT_OK);
    const double *x = vbt_sim_state(sim);
    for (size_t i = 0; i < 3; i++)
        assert_close(x[3 + i], -0.15 * W[i], 1e-12);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

static void test_stimulus_errors(void **state)
{
    (void)state;
    vbt_connectome *conn;
    vbt_sim *sim = make(vbt_scheme_euler, &conn, 1);
    vbt_stimulus st = {.var = 2, .weights = W, .amplitude = 1, .frequency_hz = 10,
                       .width_ms = 1};
    assert_int_equal(vbt_sim_set_stimulus(sim, &st), VBT_EINVAL);
    st.var = 0;
    st.frequency_hz = 0.0;
    assert_int_equal(vbt_sim_set_stimulus(sim, &st), VBT_EINVAL);
    st.frequency_hz = 10.0;
    st.weights = NULL;
    assert_int_equal(vbt_sim_set_stimulus(sim, &st), VBT_EINVAL);
    double bad[3] = {1.0, NAN, 0.0};
    st.weights = bad;
    assert_int_equal(vbt_sim_set_stimulus(sim, &st), VBT_EINVAL);
    assert_non_null(strstr(vbt_sim_errmsg(sim), "region 1"));
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pulse_train),
        cmocka_unit_test(test_waveform),
        cmocka_unit_test(test_stimulus_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
