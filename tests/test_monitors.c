/* test_monitors.c -- observed expressions and the raw, subsample and
 * temporal-average monitors of the simulator (sampling rules of vbt_sim.h),
 * and the observation models: SEEG / EEG projections and BOLD. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

/* ---- helpers ---------------------------------------------------------- */

#define NR 3        /* regions of the test network */
#define DT 0.05     /* ms */
#define NSV 6       /* Epileptor state variables */

static const char *const all_vars[NSV] = {"x1", "y1", "z", "x2", "y2", "g"};
static const char *const lfp_vars[2] = {"x2 - x1", "z"};
static const double ic_epi[NSV] = {-1.9, -17.0, 3.1, -1.0, 0.04, -0.17};
static const double ic_2d[2] = {-1.62, 3.385};

/* A hand-made 3-region network with conduction delays, difference
 * coupling and Heun's scheme, started from a constant state. */
static vbt_sim *make_sim(const vbt_model_type *model)
{
    static const double W[NR * NR] = {
        0.0, 0.37, 1.25,
        0.83, 0.0, 0.219,
        1.07, 0.455, 0.0,
    };
    static const double L[NR * NR] = {
        0.0, 12.3, 27.85,
        12.3, 0.0, 8.61,
        27.85, 8.61, 0.0,
    };
    vbt_connectome *c = vbt_connectome_alloc(NR);
    assert_non_null(c);
    memcpy(c->weights, W, sizeof W);
    memcpy(c->lengths, L, sizeof L);
    for (size_t i = 0; i < NR; i++)
        snprintf(c->labels[i], VBT_LABEL_MAX, "region_%zu", i);
    vbt_sim_spec spec = {
        .model = model,
        .coupling = vbt_coupling_difference,
        .scheme = vbt_scheme_heun,
        .conn = c,
        .dt_ms = DT,
        .speed_mm_per_ms = 3.0,
    };
    vbt_sim *sim = NULL;
    vbt_msg msg;
    memset(&msg, 0, sizeof msg);
    int rc = vbt_sim_alloc(&sim, &spec, &msg);
    vbt_connectome_free(c);
    if (rc != VBT_OK)
        fail_msg("vbt_sim_alloc: %s", msg.text);
    assert_true(vbt_sim_has_delays(sim));
    if (model == vbt_model_epileptor)
        rc = vbt_sim_set_initial_constant(sim, ic_epi, NSV);
    else
        rc = vbt_sim_set_initial_constant(sim, ic_2d, 2);
    if (rc != VBT_OK)
        fail_msg("set_initial_constant: %s", vbt_sim_errmsg(sim));
    return sim;
}

static size_t add_mon(vbt_sim *sim, const vbt_monitor_type *type, double period,
                      size_t n_vars, const char *const *vars, uint64_t buffer_steps)
{
    vbt_monitor_spec ms = {
        .type = type,
        .period_ms = period,
        .n_vars = n_vars,
        .vars = vars,
        .buffer_steps = buffer_steps,
    };
    size_t idx = (size_t)-1;
    int rc = vbt_sim_add_monitor(sim, &ms, &idx);
    if (rc != VBT_OK)
        fail_msg("add_monitor %s: %s", type ? type->name : "(null)", vbt_sim_errmsg(sim));
    assert_int_equal(idx, vbt_sim_n_monitors(sim) - 1);
    return idx;
}

static void run_ok(vbt_sim *sim, uint64_t n)
{
    int rc = vbt_sim_run(sim, n);
    if (rc != VBT_OK)
        fail_msg("vbt_sim_run(%llu): %s", (unsigned long long)n, vbt_sim_errmsg(sim));
}

/* Size in doubles of one sample of monitor m. */
static size_t sample_len(const vbt_sim *sim, size_t m)
{
    return vbt_sim_monitor_n_vars(sim, m) * vbt_sim_n_regions(sim);
}

/* |a - b| <= rel * max(|b|, 1) */
static void assert_rel(double a, double b, double rel, const char *what, size_t i)
{
    double scale = fabs(b) > 1.0 ? fabs(b) : 1.0;
    if (!(fabs(a - b) <= rel * scale))
        fail_msg("%s[%zu]: %.17g vs %.17g (diff %.3g)", what, i, a, b, fabs(a - b));
}

/* ---- 1. observed expressions ------------------------------------------ */

static void parse_ok(const char *expr, vbt_observable *o)
{
    vbt_msg msg;
    memset(&msg, 0, sizeof msg);
    int rc = vbt_observable_parse(vbt_model_epileptor, expr, o, &msg);
    if (rc != VBT_OK)
        fail_msg("parse \"%s\": %d %s", expr, rc, msg.text);
}

static void test_observable_parse(void **state)
{
    (void)state;
    vbt_observable o;

    parse_ok("x2 - x1", &o);
    assert_string_equal(o.expr, "x2 - x1");
    assert_int_equal(o.n_terms, 2);
    assert_int_equal(o.var[0], 3);
    assert_true(o.coef[0] == 1.0);
    assert_int_equal(o.var[1], 0);
    assert_true(o.coef[1] == -1.0);

    parse_ok("0.5*x1 + x2", &o);
    assert_string_equal(o.expr, "0.5*x1 + x2");
    assert_int_equal(o.n_terms, 2);
    assert_int_equal(o.var[0], 0);
    assert_true(o.coef[0] == 0.5);
    assert_int_equal(o.var[1], 3);
    assert_true(o.coef[1] == 1.0);

    parse_ok("x1*0.5", &o);
    assert_int_equal(o.n_terms, 1);
    assert_int_equal(o.var[0], 0);
    assert_true(o.coef[0] == 0.5);

    parse_ok("-z", &o);
    assert_int_equal(o.n_terms, 1);
    assert_int_equal(o.var[0], 2);
    assert_true(o.coef[0] == -1.0);

    parse_ok("2*x1 - x1", &o);
    assert_int_equal(o.n_terms, 1);
    assert_int_equal(o.var[0], 0);
    assert_true(o.coef[0] == 1.0);

    parse_ok("x1 - x1", &o);
    assert_int_equal(o.n_terms, 1);
    assert_true(o.coef[0] == 0.0);

    parse_ok("  z  ", &o);
    assert_string_equal(o.expr, "z");
    assert_int_equal(o.n_terms, 1);
    assert_int_equal(o.var[0], 2);
    assert_true(o.coef[0] == 1.0);

    parse_ok("-2.385 * y1 + g*0.125 + 4*y2", &o);
    assert_int_equal(o.n_terms, 3);
    assert_int_equal(o.var[0], 1);
    assert_true(o.coef[0] == -2.385);
    assert_int_equal(o.var[1], 5);
    assert_true(o.coef[1] == 0.125);
    assert_int_equal(o.var[2], 4);
    assert_true(o.coef[2] == 4.0);
}

static void test_observable_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"x3", "x2 - - x1", "x1 +", "3", "x1 x2", "x1 * ",
                                      "x1 ** 2", "4 *"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vbt_observable o;
        vbt_msg msg;
        memset(&msg, 0, sizeof msg);
        int rc = vbt_observable_parse(vbt_model_epileptor, bad[i], &o, &msg);
        if (rc != VBT_EINVAL || !strstr(msg.text, bad[i]) || strchr(msg.text, '\n'))
            fail_msg("\"%s\": rc %d, message \"%s\"", bad[i], rc, msg.text);
    }
    /* The unknown variable is named. */
    vbt_observable o;
    vbt_msg msg;
    memset(&msg, 0, sizeof msg);
    assert_int_equal(vbt_observable_parse(vbt_model_epileptor, "x2 - x3", &o, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "'x3'"));
    /* Empty and blank expressions. */
    static const char *const empty[] = {"", "   "};
    for (size_t i = 0; i < 2; i++) {
        memset(&msg, 0, sizeof msg);
        int rc = vbt_observable_parse(vbt_model_epileptor, empty[i], &o, &msg);
        if (rc != VBT_EINVAL || !strstr(msg.text, "empty"))
            fail_msg("\"%s\": rc %d, message \"%s\"", empty[i], rc, msg.text);
    }
    /* A state name of another model. */
    memset(&msg, 0, sizeof msg);
    assert_int_equal(vbt_observable_parse(vbt_model_epileptor2d, "x2 - x1", &o, &msg),
                     VBT_EINVAL);
    assert_non_null(strstr(msg.text, "x2 - x1"));
}

static void test_observable_eval(void **state)
{
    (void)state;
    enum { N = 3 };
    double x[NSV * N];
    for (size_t i = 0; i < NSV * N; i++)
        x[i] = 2.385 * (double)i - 7.31 + 0.0173 * (double)(i * i);
    vbt_observable o;
    double out[N];

    parse_ok("x2 - x1", &o);
    vbt_observable_eval(&o, N, x, out);
    for (size_t k = 0; k < N; k++)
        assert_rel(out[k], x[3 * N + k] - x[0 * N + k], 1e-15, "x2 - x1", k);

    parse_ok("z", &o);
    vbt_observable_eval(&o, N, x, out);
    for (size_t k = 0; k < N; k++)
        assert_true(out[k] == x[2 * N + k]);

    parse_ok("-z", &o);
    vbt_observable_eval(&o, N, x, out);
    for (size_t k = 0; k < N; k++)
        assert_true(out[k] == -x[2 * N + k]);

    parse_ok("0.5*x1 + x2", &o);
    vbt_observable_eval(&o, N, x, out);
    for (size_t k = 0; k < N; k++)
        assert_rel(out[k], 0.5 * x[k] + x[3 * N + k], 1e-15, "0.5*x1 + x2", k);

    parse_ok("-2.385 * y1 + g*0.125 + 4*y2", &o);
    vbt_observable_eval(&o, N, x, out);
    for (size_t k = 0; k < N; k++)
        assert_rel(out[k], -2.385 * x[1 * N + k] + 0.125 * x[5 * N + k] + 4.0 * x[4 * N + k],
                   1e-14, "3 terms", k);

    /* Hand-checked numbers: x1 = {-7.31, -4.9077, -2.4708}, x2 = x[9..11]. */
    parse_ok("x2 - x1", &o);
    vbt_observable_eval(&o, N, x, out);
    assert_close(out[0], (2.385 * 9 - 7.31 + 0.0173 * 81) - (-7.31), 1e-12);
    assert_close(out[0], 22.8663, 1e-12);

    parse_ok("x1 - x1", &o);
    vbt_observable_eval(&o, N, x, out);
    for (size_t k = 0; k < N; k++)
        assert_true(out[k] == 0.0);
}

/* ---- 2. raw monitor ---------------------------------------------------- */

static void test_raw_matches_state(void **state)
{
    (void)state;
    vbt_sim *a = make_sim(vbt_model_epileptor);
    vbt_sim *b = make_sim(vbt_model_epileptor);
    size_t m = add_mon(a, vbt_monitor_raw, 0.0, NSV, all_vars, 100);
    /* a second raw monitor on the same simulator */
    size_t m2 = add_mon(a, vbt_monitor_raw, 0.0, 1, (const char *const[]){"g"}, 100);
    assert_true(vbt_sim_monitor_period(a, m) == DT);
    run_ok(a, 100);
    size_t n = 0, n2 = 0;
    const double *times = NULL, *times2 = NULL;
    const double *d = vbt_sim_monitor_data(a, m, &n, &times);
    const double *d2 = vbt_sim_monitor_data(a, m2, &n2, &times2);
    assert_int_equal(n, 100);
    assert_int_equal(n2, 100);
    for (size_t i = 0; i < 100; i++) {
        run_ok(b, 1);
        assert_int_equal(vbt_sim_steps_done(b), i + 1);
        const double *x = vbt_sim_state(b);
        assert_memory_equal(d + i * NSV * NR, x, NSV * NR * sizeof(double));
        assert_memory_equal(d2 + i * NR, x + 5 * NR, NR * sizeof(double));
        assert_close(times[i], (double)(i + 1) * DT, 1e-12);
        assert_close(times2[i], (double)(i + 1) * DT, 1e-12);
    }
    /* the network actually moved */
    assert_true(d[99 * NSV * NR] != ic_epi[0]);
    vbt_sim_free(a);
    vbt_sim_free(b);
}

/* ---- 3 & 4. subsample and temporal average against raw ------------------ */

static void test_subsample_and_average(void **state)
{
    (void)state;
    enum { STEPS = 140 };
    vbt_sim *sim = make_sim(vbt_model_epileptor);
    size_t mr = add_mon(sim, vbt_monitor_raw, 0.0, NSV, all_vars, STEPS);
    size_t ms = add_mon(sim, vbt_monitor_subsample, 0.35, NSV, all_vars, STEPS);
    size_t mrl = add_mon(sim, vbt_monitor_raw, 0.0, 2, lfp_vars, STEPS);
    size_t mt = add_mon(sim, vbt_monitor_temporal_average, 0.5, 2, lfp_vars, STEPS);
    run_ok(sim, STEPS);

    size_t nr, ns, nrl, nt;
    const double *tr, *ts, *trl, *tt;
    const double *dr = vbt_sim_monitor_data(sim, mr, &nr, &tr);
    const double *ds = vbt_sim_monitor_data(sim, ms, &ns, &ts);
    const double *drl = vbt_sim_monitor_data(sim, mrl, &nrl, &trl);
    const double *dt = vbt_sim_monitor_data(sim, mt, &nt, &tt);
    assert_int_equal(nr, STEPS);
    assert_int_equal(ns, STEPS / 7);
    assert_int_equal(nrl, STEPS);
    assert_int_equal(nt, STEPS / 10);

    /* subsample: sample k-1 at t = k * 0.35 equals raw sample 7k - 1 */
    for (size_t k = 1; k <= ns; k++) {
        assert_close(ts[k - 1], (double)k * 0.35, 1e-12);
        assert_memory_equal(ds + (k - 1) * NSV * NR, dr + (7 * k - 1) * NSV * NR,
                            NSV * NR * sizeof(double));
    }

    /* temporal average: mean of raw samples 10(k-1) .. 10k-1 */
    for (size_t k = 1; k <= nt; k++) {
        assert_close(tt[k - 1], ((double)k - 0.5) * 0.5, 1e-12);
        for (size_t i = 0; i < 2 * NR; i++) {
            double s = 0.0;
            for (size_t j = 10 * (k - 1); j < 10 * k; j++)
                s += drl[j * 2 * NR + i];
            assert_rel(dt[(k - 1) * 2 * NR + i], s / 10.0, 1e-13, "temporal average", i);
        }
    }
    /* the raw expression monitor agrees with the raw state monitor */
    for (size_t j = 0; j < nr; j++)
        for (size_t k = 0; k < NR; k++) {
            const double *x = dr + j * NSV * NR;
            assert_true(drl[j * 2 * NR + k] == x[3 * NR + k] - x[0 * NR + k]);
            assert_true(drl[j * 2 * NR + NR + k] == x[2 * NR + k]);
        }
    vbt_sim_free(sim);
}

/* ---- 5. chunked runs ------------------------------------------------------ */

static void test_chunked_equals_single(void **state)
{
    (void)state;
    enum { STEPS = 1000, CHUNK = 37 };
    vbt_sim *one = make_sim(vbt_model_epileptor);
    vbt_sim *chk = make_sim(vbt_model_epileptor);
    const vbt_monitor_type *types[3] = {vbt_monitor_raw, vbt_monitor_subsample,
                                        vbt_monitor_temporal_average};
    const double periods[3] = {0.0, 0.35, 0.5};
    for (size_t m = 0; m < 3; m++) {
        add_mon(one, types[m], periods[m], m == 2 ? 2 : NSV, m == 2 ? lfp_vars : all_vars,
                STEPS);
        add_mon(chk, types[m], periods[m], m == 2 ? 2 : NSV, m == 2 ? lfp_vars : all_vars,
                CHUNK);
    }
    run_ok(one, STEPS);

    double *data[3], *times[3];
    size_t count[3] = {0, 0, 0};
    for (size_t m = 0; m < 3; m++) {
        size_t len = sample_len(chk, m);
        data[m] = calloc(STEPS * len, sizeof(double));
        times[m] = calloc(STEPS, sizeof(double));
        assert_non_null(data[m]);
        assert_non_null(times[m]);
    }
    uint64_t done = 0;
    while (done < STEPS) {
        uint64_t k = STEPS - done < CHUNK ? STEPS - done : CHUNK;
        run_ok(chk, k);
        done += k;
        assert_int_equal(vbt_sim_steps_done(chk), done);
        for (size_t m = 0; m < 3; m++) {
            size_t n, len = sample_len(chk, m);
            const double *t;
            const double *d = vbt_sim_monitor_data(chk, m, &n, &t);
            assert_true(count[m] + n <= STEPS);
            memcpy(data[m] + count[m] * len, d, n * len * sizeof(double));
            memcpy(times[m] + count[m], t, n * sizeof(double));
            count[m] += n;
            vbt_sim_monitor_clear(chk, m);
            vbt_sim_monitor_data(chk, m, &n, NULL);
            assert_int_equal(n, 0);
        }
    }
    const size_t want[3] = {STEPS, STEPS / 7, STEPS / 10};
    for (size_t m = 0; m < 3; m++) {
        size_t n, len = sample_len(one, m);
        const double *t;
        const double *d = vbt_sim_monitor_data(one, m, &n, &t);
        assert_int_equal(n, want[m]);
        assert_int_equal(count[m], want[m]);
        assert_memory_equal(data[m], d, n * len * sizeof(double));
        assert_memory_equal(times[m], t, n * sizeof(double));
        free(data[m]);
        free(times[m]);
    }
    assert_memory_equal(vbt_sim_state(one), vbt_sim_state(chk), NSV * NR * sizeof(double));
    vbt_sim_free(one);
    vbt_sim_free(chk);
}

/* ---- 6. samples_for and period -------------------------------------------- */

static void test_samples_for_and_period(void **state)
{
    (void)state;
    vbt_sim *sim = make_sim(vbt_model_epileptor);
    size_t mr = add_mon(sim, vbt_monitor_raw, 0.0, 0, NULL, 1000);
    size_t ms = add_mon(sim, vbt_monitor_subsample, 0.35, 0, NULL, 1000);
    size_t mt = add_mon(sim, vbt_monitor_temporal_average, 0.5, 0, NULL, 1000);
    assert_close(vbt_sim_monitor_period(sim, mr), 0.05, 1e-15);
    assert_close(vbt_sim_monitor_period(sim, ms), 0.35, 1e-15);
    assert_close(vbt_sim_monitor_period(sim, mt), 0.5, 1e-15);
    assert_true(vbt_sim_monitor_period(sim, 3) == 0.0);
    const uint64_t ns[] = {0, 1, 6, 7, 9, 10, 13, 14, 69, 70, 71, 999, 1000, 123457};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        assert_int_equal(vbt_sim_monitor_samples_for(sim, mr, ns[i]), ns[i]);
        assert_int_equal(vbt_sim_monitor_samples_for(sim, ms, ns[i]), ns[i] / 7);
        assert_int_equal(vbt_sim_monitor_samples_for(sim, mt, ns[i]), ns[i] / 10);
    }
    assert_int_equal(vbt_sim_monitor_samples_for(sim, 3, 100), 0);
    /* and a run produces exactly that many */
    run_ok(sim, 613);
    size_t n;
    vbt_sim_monitor_data(sim, mr, &n, NULL);
    assert_int_equal(n, 613);
    vbt_sim_monitor_data(sim, ms, &n, NULL);
    assert_int_equal(n, 613 / 7);
    vbt_sim_monitor_data(sim, mt, &n, NULL);
    assert_int_equal(n, 613 / 10);
    /* out-of-range monitor index */
    assert_null(vbt_sim_monitor_data(sim, 3, &n, NULL));
    assert_int_equal(n, 0);
    assert_int_equal(vbt_sim_monitor_n_vars(sim, 3), 0);
    assert_null(vbt_sim_monitor_var(sim, 3, 0));
    assert_null(vbt_sim_monitor_var(sim, 0, 2));
    /* period rounding: 0.5 + 1e-9 is accepted as 10 steps */
    size_t mx = add_mon(sim, vbt_monitor_subsample, 0.5 + 1e-9, 0, NULL, 10);
    assert_close(vbt_sim_monitor_period(sim, mx), 0.5, 1e-15);
    vbt_sim_free(sim);
}

/* ---- 7. capacity ------------------------------------------------------------ */

static void test_capacity(void **state)
{
    (void)state;
    vbt_sim *sim = make_sim(vbt_model_epileptor);
    size_t m = add_mon(sim, vbt_monitor_raw, 0.0, NSV, all_vars, 10);
    run_ok(sim, 3);
    double before[NSV * NR];
    memcpy(before, vbt_sim_state(sim), sizeof before);
    size_t n0;
    const double *t0;
    vbt_sim_monitor_data(sim, m, &n0, &t0);
    assert_int_equal(n0, 3);

    assert_int_equal(vbt_sim_run(sim, 50), VBT_ERANGE);
    const char *msg = vbt_sim_errmsg(sim);
    if (!strstr(msg, "monitor") || !strstr(msg, "raw"))
        fail_msg("message \"%s\"", msg);
    assert_int_equal(vbt_sim_steps_done(sim), 3);
    assert_memory_equal(vbt_sim_state(sim), before, sizeof before);
    size_t n;
    vbt_sim_monitor_data(sim, m, &n, NULL);
    assert_int_equal(n, 3);

    /* after draining, 10 steps fit; the run continues where it stopped */
    vbt_sim_monitor_clear(sim, m);
    run_ok(sim, 10);
    assert_int_equal(vbt_sim_steps_done(sim), 13);
    const double *t;
    vbt_sim_monitor_data(sim, m, &n, &t);
    assert_int_equal(n, 10);
    assert_close(t[0], 4 * DT, 1e-12);
    assert_close(t[9], 13 * DT, 1e-12);

    /* a fresh simulator with buffer_steps 10 runs 10 at once */
    vbt_sim *s2 = make_sim(vbt_model_epileptor);
    size_t m2 = add_mon(s2, vbt_monitor_raw, 0.0, NSV, all_vars, 10);
    assert_int_equal(vbt_sim_run(s2, 50), VBT_ERANGE);
    assert_int_equal(vbt_sim_steps_done(s2), 0);
    for (size_t v = 0; v < NSV; v++)
        for (size_t k = 0; k < NR; k++)
            assert_true(vbt_sim_state(s2)[v * NR + k] == ic_epi[v]);
    run_ok(s2, 10);
    vbt_sim_monitor_data(s2, m2, &n, NULL);
    assert_int_equal(n, 10);
    /* a subsample monitor with room for its samples lets long runs through */
    vbt_sim *s3 = make_sim(vbt_model_epileptor);
    size_t m3 = add_mon(s3, vbt_monitor_subsample, 0.35, 0, NULL, 70);
    run_ok(s3, 70);
    vbt_sim_monitor_data(s3, m3, &n, NULL);
    assert_int_equal(n, 10);
    vbt_sim_monitor_clear(s3, m3);
    assert_int_equal(vbt_sim_run(s3, 1000), VBT_ERANGE);
    assert_int_equal(vbt_sim_steps_done(s3), 70);
    vbt_sim_free(s3);
    vbt_sim_free(s2);
    vbt_sim_free(sim);
}

/* ---- 8. errors at add_monitor ------------------------------------------------ */

static void expect_add_error(vbt_sim *sim, const vbt_monitor_spec *ms, int code,
                             const char *part)
{
    size_t before = vbt_sim_n_monitors(sim);
    size_t idx = 4242;
    int rc = vbt_sim_add_monitor(sim, ms, &idx);
    const char *msg = vbt_sim_errmsg(sim);
    if (rc != code || (part && !strstr(msg, part)) || !*msg)
        fail_msg("rc %d (want %d), message \"%s\" (want \"%s\")", rc, code, msg,
                 part ? part : "");
    assert_int_equal(idx, 4242);
    assert_int_equal(vbt_sim_n_monitors(sim), before);
}

static void test_add_errors(void **state)
{
    (void)state;
    vbt_sim *sim = make_sim(vbt_model_epileptor);
    vbt_monitor_spec ms = {.type = vbt_monitor_subsample, .period_ms = 0.07,
                           .buffer_steps = 100};
    expect_add_error(sim, &ms, VBT_EINVAL, "multiple");
    ms.type = vbt_monitor_temporal_average;
    expect_add_error(sim, &ms, VBT_EINVAL, "multiple");
    ms.period_ms = 0.0;
    expect_add_error(sim, &ms, VBT_EINVAL, "period");
    ms.period_ms = -0.35;
    expect_add_error(sim, &ms, VBT_EINVAL, "period");
    ms.period_ms = NAN;
    expect_add_error(sim, &ms, VBT_EINVAL, "period");
    ms.period_ms = 0.025;   /* shorter than dt */
    expect_add_error(sim, &ms, VBT_EINVAL, NULL);
    ms.period_ms = 0.35;
    ms.n_vars = 2;
    ms.vars = (const char *const[]){"z", "x7"};
    expect_add_error(sim, &ms, VBT_EINVAL, "x7");
    ms.vars = (const char *const[]){"z", "x1 x2"};
    expect_add_error(sim, &ms, VBT_EINVAL, "x1 x2");
    ms.type = NULL;
    ms.vars = lfp_vars;
    expect_add_error(sim, &ms, VBT_EINVAL, NULL);
    expect_add_error(sim, NULL, VBT_EINVAL, NULL);
    assert_int_equal(vbt_sim_n_monitors(sim), 0);

    /* raw ignores the period */
    ms.type = vbt_monitor_raw;
    ms.period_ms = 0.07;
    size_t idx = 99;
    assert_int_equal(vbt_sim_add_monitor(sim, &ms, &idx), VBT_OK);
    assert_int_equal(idx, 0);
    assert_true(vbt_sim_monitor_period(sim, 0) == DT);
    /* the failed attempts left nothing behind: the simulator still runs */
    run_ok(sim, 20);
    size_t n;
    vbt_sim_monitor_data(sim, 0, &n, NULL);
    assert_int_equal(n, 20);

    /* lookup of types by name */
    assert_ptr_equal(vbt_monitor_find("raw"), vbt_monitor_raw);
    assert_ptr_equal(vbt_monitor_find("subsample"), vbt_monitor_subsample);
    assert_ptr_equal(vbt_monitor_find("temporal_average"), vbt_monitor_temporal_average);
    assert_ptr_equal(vbt_monitor_find("seeg"), vbt_monitor_seeg);
    assert_ptr_equal(vbt_monitor_find("eeg"), vbt_monitor_eeg);
    assert_ptr_equal(vbt_monitor_find("bold"), vbt_monitor_bold);
    assert_ptr_equal(vbt_monitor_find("bold_balloon"), vbt_monitor_bold_balloon);
    assert_null(vbt_monitor_find("meg"));
    assert_null(vbt_monitor_find(NULL));
    vbt_sim_free(sim);
}

/* ---- 9. default variables ------------------------------------------------- */

static void test_default_vars(void **state)
{
    (void)state;
    vbt_sim *sim = make_sim(vbt_model_epileptor);
    size_t m = add_mon(sim, vbt_monitor_raw, 0.0, 0, NULL, 50);
    assert_int_equal(vbt_sim_monitor_n_vars(sim, m), 2);
    assert_string_equal(vbt_sim_monitor_var(sim, m, 0), "x2 - x1");
    assert_string_equal(vbt_sim_monitor_var(sim, m, 1), "z");
    for (uint64_t s = 1; s <= 25; s++) {
        run_ok(sim, 1);
        const double *x = vbt_sim_state(sim);
        size_t n;
        const double *d = vbt_sim_monitor_data(sim, m, &n, NULL);
        assert_int_equal(n, s);
        const double *last = d + (n - 1) * 2 * NR;
        for (size_t k = 0; k < NR; k++) {
            assert_true(last[k] == x[3 * NR + k] - x[0 * NR + k]);
            assert_true(last[NR + k] == x[2 * NR + k]);
        }
    }
    vbt_sim_free(sim);

    vbt_sim *s2 = make_sim(vbt_model_epileptor2d);
    m = add_mon(s2, vbt_monitor_subsample, 0.35, 0, NULL, 70);
    assert_int_equal(vbt_sim_monitor_n_vars(s2, m), 1);
    assert_string_equal(vbt_sim_monitor_var(s2, m, 0), "x1");
    run_ok(s2, 70);
    size_t n;
    const double *t;
    const double *d = vbt_sim_monitor_data(s2, m, &n, &t);
    assert_int_equal(n, 10);
    assert_close(t[9], 3.5, 1e-12);
    assert_memory_equal(d + 9 * NR, vbt_sim_state(s2), NR * sizeof(double));
    vbt_sim_free(s2);
}

/* ---- 10. reset ------------------------------------------------------------ */

static void test_reset(void **state)
{
    (void)state;
    enum { STEPS = 100 };
    vbt_sim *sim = make_sim(vbt_model_epileptor);
    vbt_sim *ref = make_sim(vbt_model_epileptor);
    const vbt_monitor_type *types[3] = {vbt_monitor_raw, vbt_monitor_subsample,
                                        vbt_monitor_temporal_average};
    const double periods[3] = {0.0, 0.35, 0.5};
    for (size_t m = 0; m < 3; m++) {
        add_mon(sim, types[m], periods[m], 2, lfp_vars, STEPS);
        add_mon(ref, types[m], periods[m], 2, lfp_vars, STEPS);
    }
    run_ok(ref, STEPS);

    for (int pass = 0; pass < 3; pass++) {
        for (size_t m = 0; m < 3; m++)
            vbt_sim_monitor_clear(sim, m);
        /* a partial run leaves an averaging window in progress */
        run_ok(sim, pass == 0 ? 15 : 3 + (uint64_t)pass * 4);
        vbt_sim_reset(sim);
        assert_int_equal(vbt_sim_steps_done(sim), 0);
        assert_true(vbt_sim_time(sim) == 0.0);
        for (size_t m = 0; m < 3; m++) {
            size_t n = 99;
            vbt_sim_monitor_data(sim, m, &n, NULL);
            assert_int_equal(n, 0);
        }
        run_ok(sim, STEPS);
        for (size_t m = 0; m < 3; m++) {
            size_t n, nref, len = sample_len(sim, m);
            const double *t, *tref;
            const double *d = vbt_sim_monitor_data(sim, m, &n, &t);
            const double *dref = vbt_sim_monitor_data(ref, m, &nref, &tref);
            assert_int_equal(n, nref);
            assert_memory_equal(d, dref, n * len * sizeof(double));
            assert_memory_equal(t, tref, n * sizeof(double));
        }
    }
    /* set_initial_constant resets as well */
    vbt_sim_set_initial_constant(sim, ic_epi, NSV);
    size_t n;
    vbt_sim_monitor_data(sim, 2, &n, NULL);
    assert_int_equal(n, 0);
    vbt_sim_free(sim);
    vbt_sim_free(ref);
}

/* ---- observation models: seeg, eeg, bold --------------------------------- */

/* A probe model that follows its "target" parameter: dy = rate (target - y);
 * with Euler, rate = 1/dt puts y on the target after every step (to an ulp),
 * so a test controls the state step by step. */
static void follow_dfun(size_t n, const double *restrict x, const double *restrict c,
                        const double *restrict p, double *restrict dx)
{
    for (size_t k = 0; k < n; k++)
        dx[k] = p[n + k] * (p[k] - x[k]) + 0.0 * c[k];
}
static const char *const follow_states[] = {"y"};
static const size_t follow_cvar[] = {0};
static const vbt_param_desc follow_params[] = {
    {"target", 0.0, "1", -HUGE_VAL, HUGE_VAL, "value y follows"},
    {"rate", 2.0, "1/ms", 0.0, HUGE_VAL, "1/dt"},
};
static const vbt_model_type follow = {
    .name = "follow", .title = "follow", .doc = "test system",
    .n_state = 1, .state_names = follow_states, .n_cvar = 1, .cvar = follow_cvar,
    .n_param = 2, .params = follow_params, .n_observed = 1, .observed = follow_states,
    .dfun = follow_dfun,
};
#define FDT 0.5         /* ms; rate 2 = 1/dt */

/* nr unconnected regions, batch B, Euler at FDT. */
static vbt_sim *make_follow(size_t nr, size_t B)
{
    vbt_connectome *c = vbt_connectome_alloc(nr);
    assert_non_null(c);
    for (size_t i = 0; i < nr; i++)
        snprintf(c->labels[i], VBT_LABEL_MAX, "r%zu", i);
    vbt_sim_spec spec = {&follow, vbt_coupling_linear, vbt_scheme_euler, c, FDT, HUGE_VAL, B};
    vbt_sim *sim = NULL;
    vbt_msg msg;
    int rc = vbt_sim_alloc(&sim, &spec, &msg);
    vbt_connectome_free(c);
    if (rc)
        fail_msg("vbt_sim_alloc: %s", msg.text);
    return sim;
}

/* The state of lane (region r, simulation b) after step n of the tests. */
static double wave(uint64_t n, size_t r, size_t b)
{
    return sin(0.37 * (double)n + 1.13 * (double)r + 0.5 * (double)b) + 0.25 * (double)r;
}

/* Run n_steps one at a time with y = wave(step) in every lane. */
static void run_wave(vbt_sim *sim, uint64_t n_steps)
{
    const size_t nr = vbt_sim_n_regions(sim), B = vbt_sim_batch(sim);
    double tgt[64];
    assert_true(nr * B <= 64);
    for (uint64_t i = 0; i < n_steps; i++) {
        uint64_t n = vbt_sim_steps_done(sim) + 1;
        for (size_t r = 0; r < nr; r++)
            for (size_t b = 0; b < B; b++)
                tgt[r * B + b] = wave(n, r, b);
        assert_int_equal(vbt_sim_set_model_param(sim, "target", tgt, nr * B), VBT_OK);
        run_ok(sim, 1);
    }
}

static size_t add_spec(vbt_sim *sim, const vbt_monitor_spec *ms)
{
    size_t idx = (size_t)-1;
    if (vbt_sim_add_monitor(sim, ms, &idx) != VBT_OK)
        fail_msg("add_monitor %s: %s", ms->type->name, vbt_sim_errmsg(sim));
    return idx;
}

#define PNR 4           /* regions of the projection tests */
#define PB 2            /* simulations */
#define PI 6            /* steps per sample: 3 ms */
static const double G34[3 * PNR] = {
    0.731, -0.254, 1.385, 0.0917,
    -1.206, 0.448, 0.0625, 2.117,
    0.319, 1.842, -0.577, -0.806,
};

/* Expected channel values: sum_r G[c][r] mean_{n in window k} wave(n, r, b). */
static double expect_proj(const double *G, size_t c, size_t k, size_t b)
{
    double v = 0.0;
    for (size_t r = 0; r < PNR; r++) {
        double m = 0.0;
        for (uint64_t n = (uint64_t)k * PI + 1; n <= (uint64_t)(k + 1) * PI; n++)
            m += wave(n, r, b);
        v += G[c * PNR + r] * m / PI;
    }
    return v;
}

/* A known state through a known 3x4 gain, per simulation of a batch of 2:
 * the boxcar mean over each period, stamped at t = k P.  Values agree to
 * 1e-12 (the state follows its target to an ulp; sums of a few terms). */
static void test_projection_known_gain(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(PNR, PB);
    const char *const labels[3] = {"A1", "A2", "B7"};
    vbt_monitor_spec ms = {.type = vbt_monitor_seeg, .period_ms = PI * FDT, .buffer_steps = 100,
                           .n_sensors = 3, .sensor_labels = labels, .gain = G34};
    size_t m = add_spec(sim, &ms);
    assert_int_equal(vbt_sim_monitor_n_channels(sim, m), 3);
    assert_string_equal(vbt_sim_monitor_channel(sim, m, 2), "B7");
    assert_null(vbt_sim_monitor_channel(sim, m, 3));
    assert_memory_equal(vbt_sim_monitor_gain(sim, m), G34, sizeof G34);
    assert_int_equal(vbt_sim_monitor_n_vars(sim, m), 1);
    assert_string_equal(vbt_sim_monitor_var(sim, m, 0), "y");
    run_wave(sim, 5 * PI + 2);                       /* 5 samples, a window in progress */
    size_t n;
    const double *t;
    const double *d = vbt_sim_monitor_data(sim, m, &n, &t);
    assert_int_equal(n, 5);
    for (size_t k = 0; k < n; k++) {
        assert_true(fabs(t[k] - (double)(k + 1) * PI * FDT) < 1e-12);
        for (size_t c = 0; c < 3; c++)
            for (size_t b = 0; b < PB; b++)
                assert_rel(d[k * 3 * PB + c * PB + b], expect_proj(G34, c, k, b), 1e-12,
                           "channel", c);
    }
    /* A hand value: channel 0, simulation 1, first window (steps 1..6). */
    double hand = 0.0;
    for (size_t r = 0; r < PNR; r++) {
        double mean = 0.0;
        for (int i = 1; i <= PI; i++)
            mean += sin(0.37 * i + 1.13 * (double)r + 0.5) + 0.25 * (double)r;
        hand += G34[r] * mean / 6.0;
    }
    assert_rel(d[0 * 3 * PB + 0 * PB + 1], hand, 1e-12, "hand", 0);
    vbt_sim_free(sim);
}

/* EEG references: "average" makes channels sum to zero at every sample;
 * a label makes its channel zero and subtracts it from the others. */
static void test_eeg_reference(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(PNR, PB);
    const char *const labels[3] = {"Fp1", "Cz", "O2"};
    vbt_monitor_spec none = {.type = vbt_monitor_eeg, .period_ms = PI * FDT,
                             .buffer_steps = 100, .n_sensors = 3, .sensor_labels = labels,
                             .gain = G34};
    vbt_monitor_spec avg = none, cz = none;
    avg.reference = "average";
    cz.reference = "Cz";
    size_t m0 = add_spec(sim, &none), m1 = add_spec(sim, &avg), m2 = add_spec(sim, &cz);
    run_wave(sim, 4 * PI);
    size_t n;
    const double *d0 = vbt_sim_monitor_data(sim, m0, &n, NULL);
    const double *d1 = vbt_sim_monitor_data(sim, m1, NULL, NULL);
    const double *d2 = vbt_sim_monitor_data(sim, m2, NULL, NULL);
    assert_int_equal(n, 4);
    for (size_t k = 0; k < n; k++)
        for (size_t b = 0; b < PB; b++) {
            const double *u = d0 + k * 3 * PB, *a = d1 + k * 3 * PB, *e = d2 + k * 3 * PB;
            double sum = 0.0, mean = (u[b] + u[PB + b] + u[2 * PB + b]) / 3.0;
            for (size_t c = 0; c < 3; c++) {
                sum += a[c * PB + b];
                assert_true(fabs(a[c * PB + b] - (u[c * PB + b] - mean)) < 1e-12);
                assert_true(fabs(e[c * PB + b] - (u[c * PB + b] - u[PB + b])) < 1e-12);
            }
            assert_true(fabs(sum) < 1e-12);
            assert_true(e[PB + b] == 0.0);
        }
    vbt_sim_free(sim);
}

/* Bipolar SEEG: consecutive contacts of one electrode, named A1-A2;
 * A1-A2 = A1 - A2 for every sample. */
static void test_seeg_bipolar(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(PNR, PB);
    const char *const labels[6] = {"A1", "A2", "A3", "B'1", "B'2", "C5"};
    double G[6 * PNR];
    for (size_t i = 0; i < 6 * PNR; i++)
        G[i] = sin(2.385 * (double)i + 0.3);
    vbt_monitor_spec mono = {.type = vbt_monitor_seeg, .period_ms = PI * FDT,
                             .buffer_steps = 100, .n_sensors = 6, .sensor_labels = labels,
                             .gain = G};
    vbt_monitor_spec bip = mono;
    bip.bipolar = 1;
    size_t m0 = add_spec(sim, &mono), m1 = add_spec(sim, &bip);
    static const char *const names[3] = {"A1-A2", "A2-A3", "B'1-B'2"};
    static const size_t pa[3] = {0, 1, 3}, pb[3] = {1, 2, 4};
    assert_int_equal(vbt_sim_monitor_n_channels(sim, m1), 3);
    for (size_t c = 0; c < 3; c++)
        assert_string_equal(vbt_sim_monitor_channel(sim, m1, c), names[c]);
    run_wave(sim, 3 * PI);
    size_t n;
    const double *u = vbt_sim_monitor_data(sim, m0, &n, NULL);
    const double *bp = vbt_sim_monitor_data(sim, m1, NULL, NULL);
    assert_int_equal(n, 3);
    for (size_t k = 0; k < n; k++)
        for (size_t c = 0; c < 3; c++)
            for (size_t b = 0; b < PB; b++)
                assert_true(fabs(bp[k * 3 * PB + c * PB + b] -
                                 (u[k * 6 * PB + pa[c] * PB + b] - u[k * 6 * PB + pb[c] * PB + b]))
                            < 1e-12);
    vbt_sim_free(sim);
}

/* The analytic SEEG gain is the point dipole: one sensor, one region. */
static void test_analytic_gain(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(2, 1);
    const char *const labels[2] = {"X1", "X2"};
    const double pos[6] = {10.0, 2.0, -3.0, -4.5, 7.25, 1.0};
    const double cen[6] = {1.0, -1.5, 0.5, 0.0, 0.0, 0.0};
    const double ori[6] = {0.3, -0.7, 0.2, 1.0, 0.0, 0.0};
    vbt_monitor_spec ms = {.type = vbt_monitor_seeg, .period_ms = FDT, .buffer_steps = 10,
                           .n_sensors = 2, .sensor_labels = labels, .sensor_pos_mm = pos,
                           .centres_mm = cen, .orientations = ori};
    size_t m = add_spec(sim, &ms);
    const double *G = vbt_sim_monitor_gain(sim, m);
    for (size_t k = 0; k < 2; k++)
        for (size_t j = 0; j < 2; j++) {
            double d[3], r2 = 0.0, dot = 0.0;
            for (int a = 0; a < 3; a++) {
                d[a] = pos[3 * k + a] - cen[3 * j + a];
                r2 += d[a] * d[a];
                dot += ori[3 * j + a] * d[a];
            }
            assert_rel(G[k * 2 + j], dot / (4.0 * M_PI * r2 * sqrt(r2)), 1e-14, "gain", k);
        }
    vbt_sim_free(sim);
}

/* Observation noise: mean 0 and standard deviation sd within 5 standard
 * errors over 3 channels x 2 simulations x 4000 samples; reproducible after
 * a reset; off (exactly the projection) when sd = 0. */
static void test_obs_noise(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(PNR, PB);
    const char *const labels[3] = {"A1", "A2", "A3"};
    const double zero[3 * PNR] = {0};
    const double sd = 0.37;
    vbt_monitor_spec ms = {.type = vbt_monitor_seeg, .period_ms = FDT, .buffer_steps = 4000,
                           .n_sensors = 3, .sensor_labels = labels, .gain = zero,
                           .obs_noise = sd};
    size_t m = add_spec(sim, &ms);
    vbt_sim_set_seed(sim, 2024, 0);
    run_ok(sim, 4000);
    size_t n;
    const double *d = vbt_sim_monitor_data(sim, m, &n, NULL);
    assert_int_equal(n, 4000);
    const size_t N = n * 3 * PB;
    double s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < N; i++) {
        s1 += d[i];
        s2 += d[i] * d[i];
    }
    double mean = s1 / (double)N, sdev = sqrt(s2 / (double)N - mean * mean);
    assert_true(fabs(mean) < 5.0 * sd / sqrt((double)N));
    assert_true(fabs(sdev - sd) < 5.0 * sd / sqrt(2.0 * (double)N));
    double first[6];
    memcpy(first, d, sizeof first);
    vbt_sim_reset(sim);
    run_ok(sim, 1);
    d = vbt_sim_monitor_data(sim, m, &n, NULL);
    assert_memory_equal(d, first, sizeof first);
    /* simulation 1 of the batch draws the same numbers as stream 1 alone */
    vbt_sim *one = make_follow(PNR, 1);
    size_t m1 = add_spec(one, &ms);
    vbt_sim_set_seed(one, 2024, 1);
    run_ok(one, 1);
    const double *d1 = vbt_sim_monitor_data(one, m1, &n, NULL);
    for (size_t c = 0; c < 3; c++)
        assert_true(d1[c] == first[c * PB + 1]);
    vbt_sim_free(one);
    vbt_sim_free(sim);
}

/* TVB's FirstOrderVolterra kernel at t seconds, defaults. */
static double hrf(double t)
{
    const double tau_s = 0.8, tau_f = 0.4;
    const double w = sqrt(1.0 / tau_f - 1.0 / (4.0 * tau_s * tau_s));
    return 1.0 / 3.0 * exp(-0.5 * t / tau_s) * sin(w * t) / w;
}

/* A unit impulse during one interim (the 8 steps of 4 ms ending at interim
 * J = 3) against the kernel: with j = the interim of the sample step,
 * bold = (G((j - 1 - J) * 4 ms) - 1) k_1 V_0 while 0 <= j-1-J < 5000, else
 * -k_1 V_0 (an empty stock).  1e-12: the sum has one nonzero term. */
static void test_bold_kernel_impulse(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(1, 1);
    vbt_monitor_spec ms = {.type = vbt_monitor_bold, .period_ms = 100.0,
                           .buffer_steps = 60000};
    size_t m = add_spec(sim, &ms);
    const uint64_t ni = 8, J = 3;           /* 4 ms / 0.5 ms */
    double one = 1.0, zero = 0.0;
    vbt_sim_set_model_param(sim, "target", &zero, 1);
    run_ok(sim, (J - 1) * ni);
    vbt_sim_set_model_param(sim, "target", &one, 1);
    run_ok(sim, ni);
    vbt_sim_set_model_param(sim, "target", &zero, 1);
    run_ok(sim, 60000 - J * ni);             /* 30 s: past the 20 s kernel */
    size_t n;
    const double *t;
    const double *d = vbt_sim_monitor_data(sim, m, &n, &t);
    assert_int_equal(n, 300);
    const double k1V0 = 5.6 * 0.02;
    size_t nonzero = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t step = (k + 1) * 200, j = step / ni;
        double g = 0.0;
        if (j >= J + 1 && j - 1 - J < 5000)
            g = hrf((double)(j - 1 - J) * 0.004);
        assert_true(fabs(t[k] - (double)step * FDT) < 1e-9);
        if (fabs(d[k] - (g - 1.0) * k1V0) > 1e-12)
            fail_msg("bold sample %zu: %.17g, kernel %.17g", k, d[k], (g - 1.0) * k1V0);
        nonzero += g != 0.0;
    }
    assert_true(nonzero > 150);
    vbt_sim_free(sim);
}

/* Balloon-Windkessel: x = 0 stays at rest (BOLD 0); constant x = c reaches
 * s = 0, f = 1 + tau_f c, v = f^alpha, q = v (1 - (1-E0)^(1/f)) / E0
 * (ds = df = dv = dq = 0), whose BOLD the monitor matches to 1e-6
 * relative after 120 s (slowest decay rate 1/(2 tau_s) = 0.32/s). */
static void test_bold_balloon_steady(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(2, 1);
    const char *names[1] = {"TE"};
    const double vals[1] = {0.04};
    vbt_monitor_spec ms = {.type = vbt_monitor_bold_balloon, .period_ms = 2000.0,
                           .buffer_steps = 240000, .n_params = 1, .param_names = names,
                           .param_values = vals};
    size_t m = add_spec(sim, &ms);
    const double c = 0.3127;
    const double tgt[2] = {0.0, c};
    vbt_sim_set_model_param(sim, "target", tgt, 2);
    run_ok(sim, 240000);
    size_t n;
    const double *d = vbt_sim_monitor_data(sim, m, &n, NULL);
    assert_int_equal(n, 60);
    for (size_t k = 0; k < n; k++)
        assert_true(fabs(d[2 * k]) < 1e-12);
    const double tau_f = 1.44, alpha = 0.32, E0 = 0.4, V0 = 4.0, TE = 0.04, eps = 0.5;
    const double f = 1.0 + tau_f * c, v = pow(f, alpha);
    const double q = v * (1.0 - pow(1.0 - E0, 1.0 / f)) / E0;
    const double k1 = 4.3 * 40.3 * E0 * TE, k2 = eps * 25.0 * E0 * TE, k3 = 1.0 - eps;
    const double bold = V0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v));
    assert_rel(d[2 * (n - 1) + 1], bold, 1e-6, "balloon steady state", 0);
    assert_true(fabs(bold) > 1e-3);
    vbt_sim_free(sim);
}

static void test_observation_errors(void **state)
{
    (void)state;
    vbt_sim *sim = make_follow(PNR, 1);
    const char *const labels[3] = {"A1", "A2", "A3"};
    vbt_monitor_spec base = {.type = vbt_monitor_seeg, .period_ms = FDT, .buffer_steps = 10,
                             .n_sensors = 3, .sensor_labels = labels, .gain = G34};
    vbt_monitor_spec ms = base;
    ms.n_sensors = 0;
    expect_add_error(sim, &ms, VBT_EINVAL, "no sensors");
    ms = base;
    ms.gain = NULL;
    expect_add_error(sim, &ms, VBT_EINVAL, "analytic");
    ms = base;
    ms.reference = "average";
    expect_add_error(sim, &ms, VBT_EINVAL, "bipolar");
    ms = base;
    ms.type = vbt_monitor_eeg;
    ms.reference = "Oz";
    expect_add_error(sim, &ms, VBT_ENOTFOUND, "Oz");
    ms.reference = NULL;
    ms.bipolar = 1;
    expect_add_error(sim, &ms, VBT_EINVAL, "bipolar");
    ms = base;
    ms.obs_noise = -1.0;
    expect_add_error(sim, &ms, VBT_EINVAL, "obs_noise");
    const char *const lone[3] = {"A1", "B2", "C3"};
    ms = base;
    ms.sensor_labels = lone;
    ms.bipolar = 1;
    expect_add_error(sim, &ms, VBT_EINVAL, "consecutive");
    vbt_monitor_spec bold = {.type = vbt_monitor_bold, .period_ms = 2000.0, .buffer_steps = 10};
    const char *pn[1] = {"tau_x"};
    const double pv[1] = {1.0};
    bold.n_params = 1;
    bold.param_names = pn;
    bold.param_values = pv;
    expect_add_error(sim, &bold, VBT_ENOTFOUND, "tau_x");
    const char *pn2[1] = {"tau_s"};
    const double pv2[1] = {-1.0};
    bold.param_names = pn2;
    bold.param_values = pv2;
    expect_add_error(sim, &bold, VBT_EINVAL, "tau_s");
    vbt_monitor_spec ta = {.type = vbt_monitor_temporal_average, .period_ms = FDT,
                           .buffer_steps = 10, .obs_noise = 0.1};
    expect_add_error(sim, &ta, VBT_EINVAL, "seeg and eeg");
    assert_int_equal(vbt_sim_n_monitors(sim), 0);
    vbt_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observable_parse),
        cmocka_unit_test(test_observable_errors),
        cmocka_unit_test(test_observable_eval),
        cmocka_unit_test(test_raw_matches_state),
        cmocka_unit_test(test_subsample_and_average),
        cmocka_unit_test(test_chunked_equals_single),
        cmocka_unit_test(test_samples_for_and_period),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_default_vars),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_projection_known_gain),
        cmocka_unit_test(test_eeg_reference),
        cmocka_unit_test(test_seeg_bipolar),
        cmocka_unit_test(test_analytic_gain),
        cmocka_unit_test(test_obs_noise),
        cmocka_unit_test(test_bold_kernel_impulse),
        cmocka_unit_test(test_bold_balloon_steady),
        cmocka_unit_test(test_observation_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
