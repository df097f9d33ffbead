/* test_monitors.c -- observed expressions and the raw, subsample and
 * temporal-average monitors of the simulator (sampling rules of vbt_sim.h). */
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
    assert_null(vbt_monitor_find("bold"));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
