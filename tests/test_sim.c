/* test_sim.c -- the simulator: conduction delays (pulse arrival, rounding,
 * horizon), history semantics, the three coupling paths against a naive
 * reference implementation, plan-once-run-many, and error handling. */
#include <malloc.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

/* The shipped 76-region TVB connectome. */
static vbt_connectome *load_conn76(void)
{
    vbt_connectome *conn;
    vbt_msg msg;
    if (vbt_connectome_load(&conn, tu_path(tu_samples_dir(), "connectivity_76.zip"), &msg))
        fail_msg("%s", msg.text);
    return conn;
}

/* The TVB epilepsy tutorial's parameters (data-samples/epileptor_tutorial.json)
 * on a simulator of the 76-region connectome. */
static void set_tutorial(vbt_sim *sim)
{
    const size_t n = vbt_sim_n_regions(sim);
    double x0[76], ks = -0.2, kf = 0.1, r = 0.00015, a = 1.0;
    double ic[6] = {-1.9, -17.0, 3.1, -1.0, 0.04, -0.17};
    assert_int_equal(n, 76);
    for (size_t k = 0; k < n; k++)
        x0[k] = -2.4;
    x0[62] = x0[47] = x0[40] = -1.6;
    x0[69] = x0[72] = -1.8;
    vbt_sim_set_model_param(sim, "x0", x0, n);
    vbt_sim_set_model_param(sim, "Ks", &ks, 1);
    vbt_sim_set_model_param(sim, "Kf", &kf, 1);
    vbt_sim_set_model_param(sim, "r", &r, 1);
    vbt_sim_set_coupling_param(sim, "a", &a, 1);
    vbt_sim_set_initial_constant(sim, ic, 6);
}

/* A probe model: dx = drive + c0.  With linear coupling a = 1 and Euler,
 * x_i(n+1) = x_i(n) + dt (drive_i + sum_j w_ij x_j(n - d_ij)). */
static void probe_dfun(size_t n, const double *restrict x, const double *restrict c,
                       const double *restrict p, double *restrict dx)
{
    for (size_t k = 0; k < n; k++)
        dx[k] = p[k] + c[k] + 0.0 * x[k];
}
static const char *const probe_states[] = {"x"};
static const size_t probe_cvar[] = {0};
static const vbt_param_desc probe_params[] = {{"drive", 0.0, "1/ms", -HUGE_VAL, HUGE_VAL, "d"}};
static const vbt_model_type probe = {
    .name = "probe", .title = "probe", .doc = "test system",
    .n_state = 1, .state_names = probe_states, .n_cvar = 1, .cvar = probe_cvar,
    .n_param = 1, .params = probe_params, .n_observed = 1, .observed = probe_states,
    .dfun = probe_dfun,
};

static vbt_connectome *make_conn(size_t n)
{
    vbt_connectome *c = vbt_connectome_alloc(n);
    for (size_t i = 0; i < n; i++)
        snprintf(c->labels[i], VBT_LABEL_MAX, "r%zu", i);
    return c;
}

static vbt_sim *make_sim_f(const vbt_model_type *m, const vbt_coupling_type *cp,
                           const vbt_scheme_type *sc, const vbt_connectome *conn, double dt,
                           double speed, int f32)
{
    vbt_sim_spec spec = {m, cp, sc, conn, dt, speed, 1};
    vbt_sim *sim = NULL;
    vbt_msg msg;
    int st = vbt_sim_alloc(&sim, &spec, &msg);
    if (st)
        fail_msg("vbt_sim_alloc: %s", msg.text);
    if (f32)
        assert_int_equal(vbt_sim_set_history_float32(sim, 1), VBT_OK);
    return sim;
}

static vbt_sim *make_sim(const vbt_model_type *m, const vbt_coupling_type *cp,
                         const vbt_scheme_type *sc, const vbt_connectome *conn, double dt,
                         double speed)
{
    return make_sim_f(m, cp, sc, conn, dt, speed, 0);
}

/* Two-node chain 0 -> 1, tract 37.3 mm at 2.9 mm/ms, dt 0.1 ms: the delay
 * is rint(128.62) = 129 steps.  Node 0 steps from 0 to 1 at t = 0 (history
 * 0 before); node 1 integrates its input, so it is exactly 0 up to and
 * including step 129 and dt*w after step 130. */
static void test_pulse_arrival(void **state)
{
    (void)state;
    vbt_connectome *conn = make_conn(2);
    conn->weights[1 * 2 + 0] = 0.75;
    conn->lengths[1 * 2 + 0] = conn->lengths[0 * 2 + 1] = 37.3;
    vbt_sim *sim = make_sim(&probe, vbt_coupling_linear, vbt_scheme_euler, conn, 0.1, 2.9);
    const long d = 129;
    assert_int_equal(vbt_sim_delay_steps(sim, 1, 0), d);
    assert_int_equal(vbt_sim_horizon(sim), d + 1);
    assert_true(vbt_sim_has_delays(sim));
    double a = 1.0;
    vbt_sim_set_coupling_param(sim, "a", &a, 1);
    size_t H = vbt_sim_horizon(sim);
    double *hist = calloc(H * 2, sizeof *hist);
    hist[(H - 1) * 2 + 0] = 1.0;              /* x0(t=0) = 1, earlier 0 */
    assert_int_equal(vbt_sim_set_initial_history(sim, hist, H), VBT_OK);
    for (long s = 1; s <= d; s++) {
        assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
        if (vbt_sim_state(sim)[1] != 0.0)
            fail_msg("node 1 moved at step %ld, before the delay of %ld steps", s, d);
    }
    assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
    assert_close(vbt_sim_state(sim)[1], 0.1 * 0.75, 1e-15);
    assert_close(vbt_sim_state(sim)[0], 1.0, 0.0);
    free(hist);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

/* rint() rounds half to even: 12.5 -> 12, 13.5 -> 14 (dt, speed and
 * lengths chosen exact in binary). */
static void test_delay_rounding(void **state)
{
    (void)state;
    vbt_connectome *conn = make_conn(3);
    conn->weights[0 * 3 + 1] = conn->weights[0 * 3 + 2] = 1.0;
    conn->lengths[0 * 3 + 1] = 3.125;         /* /2/0.125 = 12.5 */
    conn->lengths[0 * 3 + 2] = 3.375;         /* 13.5 */
    conn->lengths[2 * 3 + 1] = 4.0;           /* zero weight, still sets the horizon */
    vbt_sim *sim = make_sim(&probe, vbt_coupling_linear, vbt_scheme_euler, conn, 0.125, 2.0);
    assert_int_equal(vbt_sim_delay_steps(sim, 0, 1), 12);
    assert_int_equal(vbt_sim_delay_steps(sim, 0, 2), 14);
    assert_int_equal(vbt_sim_delay_steps(sim, 2, 1), 16);
    assert_int_equal(vbt_sim_horizon(sim), 17);
    assert_int_equal(vbt_sim_delay_steps(sim, 5, 0), -1);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

/* The horizon of the TVB 76-region connectome at 3 mm/ms, as measured in
 * The Virtual Brain (reference sheet, section 2): 1024 rows at dt 0.05 ms,
 * 513 at dt 0.1 ms. */
static void test_conn76_horizon(void **state)
{
    (void)state;
    vbt_connectome *conn = load_conn76();
    const double dts[2] = {0.05, 0.1};
    const size_t want[2] = {1024, 513};
    for (size_t i = 0; i < 2; i++) {
        vbt_sim *sim = make_sim(vbt_model_epileptor, vbt_coupling_difference, vbt_scheme_heun,
                                conn, dts[i], 3.0);
        assert_int_equal(vbt_sim_horizon(sim), want[i]);
        vbt_sim_free(sim);
    }
    vbt_connectome_free(conn);
}

/* History rows: row T-1 is t = 0, row T-1-m is t = -m dt; extra older rows
 * are ignored; the current state is the last row (TVB rotates wrongly when
 * T > H; we do not). */
static void test_history_semantics(void **state)
{
    (void)state;
    vbt_connectome *conn = make_conn(2);
    conn->weights[1 * 2 + 0] = 0.5;
    conn->lengths[1 * 2 + 0] = 0.7;           /* 0.7 / 1.0 / 0.1 = 7 steps */
    vbt_sim *sim = make_sim(&probe, vbt_coupling_linear, vbt_scheme_euler, conn, 0.1, 1.0);
    size_t H = vbt_sim_horizon(sim);
    assert_int_equal(H, 8);
    double a = 1.0;
    vbt_sim_set_coupling_param(sim, "a", &a, 1);
    const size_t T = H + 5;
    double *hist = malloc(T * 2 * sizeof *hist);
    for (size_t r = 0; r < T; r++) {
        hist[r * 2 + 0] = 2.385 * (double)r;  /* node 0: a ramp over rows */
        hist[r * 2 + 1] = -0.37;
    }
    assert_int_equal(vbt_sim_set_initial_history(sim, hist, H - 1), VBT_ERANGE);
    assert_non_null(strstr(vbt_sim_errmsg(sim), "at least 8"));
    assert_int_equal(vbt_sim_set_initial_history(sim, hist, T), VBT_OK);
    assert_true(vbt_sim_state(sim)[0] == hist[(T - 1) * 2]);
    assert_true(vbt_sim_state(sim)[1] == -0.37);
    /* Step k (k = 0..6) reads x0 at t = (k - 7) dt, i.e. row T-1-7+k. */
    double x1 = -0.37;
    for (size_t k = 0; k < 7; k++) {
        assert_int_equal(vbt_sim_run(sim, 1), VBT_OK);
        x1 += 0.1 * 0.5 * hist[(T - 8 + k) * 2];
        assert_close(vbt_sim_state(sim)[1], x1, 1e-12);
    }
    hist[0] = NAN;                            /* ignored: older than the horizon */
    assert_int_equal(vbt_sim_set_initial_history(sim, hist, T), VBT_OK);
    hist[(T - 2) * 2 + 1] = INFINITY;
    assert_int_equal(vbt_sim_set_initial_history(sim, hist, T), VBT_ENUMERIC);
    free(hist);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

/* Delayed sums are taken several steps per pass, as many as the shortest
 * delay of a nonzero weight allows (8 to 32, else step by step), and a
 * block outlives a run.  Seven regions, every pair connected, delays from
 * dmin to dmin + 40 steps (dmin 0 and 5: step by step; 12: blocks of 13
 * steps; 33: blocks of 32), a ramp as initial history so that every read
 * has its own value.
 * Against the recurrence written out by hand,
 *   x_i(n+1) = x_i(n) + dt (drive_i + sum_j w_ij x_j(n - d_ij)),
 * summed in a different order: 1e-12 relative covers the rounding of 7
 * terms over 150 steps (values below 1e3).  One run, runs of 1 and of 7
 * steps, and a batch of 3 give the same bytes. */
static void test_blocked_delays(void **state)
{
    (void)state;
    const size_t n = 7, steps = 150;
    const double dt = 0.1, speed = 1.0;
    const long dmins[4] = {0, 5, 12, 33};
    for (size_t t = 0; t < 4; t++) {
        vbt_connectome *conn = make_conn(n);
        long d[49];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                d[i * n + j] = dmins[t] + (long)((i * 5 + j * 3) % 41);
                conn->weights[i * n + j] = 0.05 + 0.013 * (double)((i + 2 * j) % 5);
                conn->lengths[i * n + j] = (double)d[i * n + j] * dt * speed;
            }
        d[0] = dmins[t];            /* the shortest delay is dmin exactly */
        conn->lengths[0] = (double)dmins[t] * dt * speed;
        vbt_sim *one = make_sim(&probe, vbt_coupling_linear, vbt_scheme_euler, conn, dt, speed);
        for (size_t k = 0; k < n * n; k++)
            assert_int_equal(vbt_sim_delay_steps(one, k / n, k % n), d[k]);
        const size_t H = vbt_sim_horizon(one), T = H + steps;
        double *past = malloc(T * n * sizeof *past), drive[7], a = 1.0;
        for (size_t r = 0; r < H; r++)
            for (size_t i = 0; i < n; i++)
                past[r * n + i] = 0.01 * (double)(r * (i + 1) % 17) - 0.07 * (double)i;
        for (size_t i = 0; i < n; i++)
            drive[i] = 0.3 - 0.11 * (double)i;
        for (size_t s = 0; s < steps; s++)
            for (size_t i = 0; i < n; i++) {
                const size_t now = H - 1 + s;
                double c = 0.0;
                for (size_t j = 0; j < n; j++)
                    c += conn->weights[i * n + j] * past[(now - (size_t)d[i * n + j]) * n + j];
                past[(now + 1) * n + i] = past[now * n + i] + dt * (drive[i] + c);
            }
        vbt_sim *chunks = make_sim(&probe, vbt_coupling_linear, vbt_scheme_euler, conn, dt,
                                   speed);
        vbt_sim *ones = make_sim(&probe, vbt_coupling_linear, vbt_scheme_euler, conn, dt, speed);
        vbt_sim_spec spec = {&probe, vbt_coupling_linear, vbt_scheme_euler, conn, dt, speed, 3};
        vbt_sim *batch;
        vbt_msg msg;
        assert_int_equal(vbt_sim_alloc(&batch, &spec, &msg), VBT_OK);
        vbt_sim *sims[4] = {one, chunks, ones, batch};
        for (size_t q = 0; q < 4; q++) {
            vbt_sim_set_coupling_param(sims[q], "a", &a, 1);
            vbt_sim_set_model_param(sims[q], "drive", drive, n);
            assert_int_equal(vbt_sim_set_initial_history(sims[q], past, H), VBT_OK);
        }
        double other[7];
        for (size_t i = 0; i < n; i++)
            other[i] = -0.2 + 0.05 * (double)i;
        vbt_sim_set_model_param_of(batch, 0, "drive", other, n);   /* simulation 1 is `one` */
        vbt_sim_set_model_param_of(batch, 2, "drive", other, n);
        assert_int_equal(vbt_sim_run(one, steps), VBT_OK);
        for (size_t s = 0; s < steps; s += 7)
            assert_int_equal(vbt_sim_run(chunks, steps - s < 7 ? steps - s : 7), VBT_OK);
        for (size_t s = 0; s < steps; s++)
            assert_int_equal(vbt_sim_run(ones, 1), VBT_OK);
        assert_int_equal(vbt_sim_run(batch, steps), VBT_OK);
        const double *x = vbt_sim_state(one), *xb = vbt_sim_state(batch);
        double worst = 0.0;
        for (size_t i = 0; i < n; i++) {
            double want = past[(T - 1) * n + i];
            worst = fmax(worst, fabs(x[i] - want) / fmax(1.0, fabs(want)));
            assert_true(xb[i * 3 + 1] == x[i]);
        }
        assert_memory_equal(vbt_sim_state(chunks), x, n * sizeof *x);
        assert_memory_equal(vbt_sim_state(ones), x, n * sizeof *x);
        print_message("shortest delay %ld: max relative difference to the recurrence %.3g\n",
                      dmins[t], worst);
        assert_true(worst < 1e-12);
        for (size_t q = 0; q < 4; q++)
            vbt_sim_free(sims[q]);
        free(past);
        vbt_connectome_free(conn);
    }
}

/* Naive reference: full-history Heun for the Epileptor with difference
 * coupling, written directly from the equations (no ring buffer, no CSR). */
static void reference_run(const vbt_connectome *conn, const long *d, double a, double dt,
                          const double *p, size_t steps, const double *ic, double *out)
{
    const size_t n = conn->n, H = 2048;
    const vbt_model_type *m = vbt_model_epileptor;
    double *past = malloc((steps + H) * 2 * n * sizeof *past);  /* x1, x2 per step */
    double *x = malloc(6 * n * sizeof *x), *k1 = malloc(6 * n * sizeof *k1);
    double *k2 = malloc(6 * n * sizeof *k2), *xp = malloc(6 * n * sizeof *xp);
    double *c = malloc(2 * n * sizeof *c);
    for (size_t v = 0; v < 6; v++)
        for (size_t i = 0; i < n; i++)
            x[v * n + i] = ic[v];
    for (size_t s = 0; s < H; s++)
        for (size_t i = 0; i < n; i++) {
            past[s * 2 * n + i] = ic[0];
            past[s * 2 * n + n + i] = ic[3];
        }
    for (size_t s = 0; s < steps; s++) {
        size_t now = H - 1 + s;
        for (size_t i = 0; i < n; i++) {
            double s0 = 0.0, s1 = 0.0;
            for (size_t j = 0; j < n; j++) {
                double w = conn->weights[i * n + j];
                size_t row = now - (size_t)d[i * n + j];
                s0 += w * (past[row * 2 * n + j] - x[i]);
                s1 += w * (past[row * 2 * n + n + j] - x[3 * n + i]);
            }
            c[i] = a * s0;
            c[n + i] = a * s1;
        }
        m->dfun(n, x, c, p, k1);
        for (size_t k = 0; k < 6 * n; k++)
            xp[k] = x[k] + dt * k1[k];
        m->dfun(n, xp, c, p, k2);
        for (size_t k = 0; k < 6 * n; k++)
            x[k] += 0.5 * dt * (k1[k] + k2[k]);
        for (size_t i = 0; i < n; i++) {
            past[(now + 1) * 2 * n + i] = x[i];
            past[(now + 1) * 2 * n + n + i] = x[3 * n + i];
        }
    }
    memcpy(out, x, 6 * n * sizeof *x);
    free(past);
    free(x);
    free(k1);
    free(k2);
    free(xp);
    free(c);
}

/* The delayed (ring buffer + CSR), sparse and dense paths against the
 * naive reference on the 76-region connectome with the tutorial's
 * parameters.  Only the summation order differs (measured: 4e-16 after
 * 400 steps); 1e-12 leaves room for other compilers and vector widths.
 * A float32 history (as TVB may keep it) rounds every delayed value to 24
 * bits (relative 6e-8): the brief's bound for it is 1e-5. */
static void test_paths_against_reference(void **state)
{
    (void)state;
    vbt_connectome *conn = load_conn76();
    const size_t n = conn->n, steps = 400;
    const double dt = 0.05, a = 1.0, ic[6] = {-1.9, -17.0, 3.1, -1.0, 0.04, -0.17};
    const vbt_model_type *m = vbt_model_epileptor;
    double *p = malloc(m->n_param * n * sizeof *p);
    for (size_t i = 0; i < m->n_param; i++)
        for (size_t k = 0; k < n; k++)
            p[i * n + k] = m->params[i].def;
    long ix0 = vbt_param_index(m->params, m->n_param, "x0");
    long iks = vbt_param_index(m->params, m->n_param, "Ks");
    long ikf = vbt_param_index(m->params, m->n_param, "Kf");
    double *x0 = p + (size_t)ix0 * n;
    for (size_t k = 0; k < n; k++) {
        x0[k] = -2.4;
        p[(size_t)iks * n + k] = -0.2;
        p[(size_t)ikf * n + k] = 0.1;
    }
    x0[62] = x0[47] = x0[40] = -1.6;
    x0[69] = x0[72] = -1.8;
    long *d = calloc(n * n, sizeof *d), *d0 = calloc(n * n, sizeof *d0);
    double *want = malloc(6 * n * sizeof *want);

    /* conn76 is 27 % dense: zero delays take the dense path; keeping only
     * the strongest weights makes it sparse. */
    vbt_connectome *sparse = vbt_connectome_copy(conn);
    for (size_t k = 0; k < n * n; k++)
        if (sparse->weights[k] < 2.0)
            sparse->weights[k] = 0.0;
    struct {
        const vbt_connectome *c;
        double speed;
        const char *what;
        int f32;
        double tol;
    } cases[] = {
        {conn, 3.0, "delayed", 0, 1e-12},
        {conn, HUGE_VAL, "dense", 0, 1e-12},
        {sparse, HUGE_VAL, "sparse", 0, 1e-12},
        {conn, 3.0, "delayed float32", 1, 1e-5},
    };
    for (size_t t = 0; t < 4; t++) {
        vbt_sim *sim = make_sim_f(m, vbt_coupling_difference, vbt_scheme_heun, cases[t].c, dt,
                                  cases[t].speed, cases[t].f32);
        for (size_t i = 0; i < m->n_param; i++)
            vbt_sim_set_model_param(sim, m->params[i].name, p + i * n, n);
        vbt_sim_set_coupling_param(sim, "a", &a, 1);
        vbt_sim_set_initial_constant(sim, ic, 6);
        for (size_t k = 0; k < n * n; k++)
            d[k] = vbt_sim_delay_steps(sim, k / n, k % n);
        assert_int_equal(vbt_sim_has_delays(sim), !isinf(cases[t].speed));
        reference_run(cases[t].c, isinf(cases[t].speed) ? d0 : d, a, dt, p, steps, ic, want);
        assert_int_equal(vbt_sim_run(sim, steps), VBT_OK);
        const double *x = vbt_sim_state(sim);
        double maxdiff = 0.0;
        for (size_t k = 0; k < 6 * n; k++)
            maxdiff = fmax(maxdiff, fabs(x[k] - want[k]) / fmax(1.0, fabs(want[k])));
        print_message("%s path: max relative difference to the reference %.3g\n",
                      cases[t].what, maxdiff);
        assert_true(maxdiff < cases[t].tol);
        if (cases[t].f32)
            assert_true(maxdiff > 0.0);     /* the float32 history is in use */
        vbt_sim_free(sim);
    }
    vbt_connectome_free(sparse);
    vbt_connectome_free(conn);
    free(p);
    free(d);
    free(d0);
    free(want);
}

/* Plan once, run many: reset reproduces a run bit for bit; parameters set
 * between runs take effect; a run allocates nothing. */
static void test_plan_once_run_many(void **state)
{
    (void)state;
    vbt_connectome *conn = load_conn76();
    const size_t n = conn->n;
    vbt_sim *sim = make_sim(vbt_model_epileptor2d, vbt_coupling_difference, vbt_scheme_heun,
                            conn, 0.1, 3.0);
    double ic[2] = {-1.8, 3.2}, ks = -1.0, x0 = -2.0, r = 0.01;
    vbt_sim_set_model_param(sim, "Ks", &ks, 1);
    vbt_sim_set_model_param(sim, "x0", &x0, 1);
    vbt_sim_set_model_param(sim, "r", &r, 1);
    vbt_sim_set_initial_constant(sim, ic, 2);
    vbt_monitor_spec ms = {.type = vbt_monitor_temporal_average, .period_ms = 1.0,
                           .buffer_steps = 2000};
    assert_int_equal(vbt_sim_add_monitor(sim, &ms, NULL), VBT_OK);

    struct mallinfo2 before = mallinfo2();
#if defined(__SSE2__)
    unsigned int csr = _mm_getcsr();
#endif
    assert_int_equal(vbt_sim_run(sim, 2000), VBT_OK);
#if defined(__SSE2__)
    /* The run flushes subnormals internally but restores the caller's mode. */
    assert_int_equal(_mm_getcsr(), csr);
#endif
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(before.uordblks, after.uordblks);

    double *first = malloc(2 * n * sizeof *first);
    memcpy(first, vbt_sim_state(sim), 2 * n * sizeof *first);
    size_t count;
    vbt_sim_monitor_data(sim, 0, &count, NULL);
    assert_int_equal(count, 200);
    vbt_sim_reset(sim);
    assert_int_equal(vbt_sim_steps_done(sim), 0);
    vbt_sim_monitor_data(sim, 0, &count, NULL);
    assert_int_equal(count, 0);
    assert_int_equal(vbt_sim_run(sim, 2000), VBT_OK);
    assert_memory_equal(first, vbt_sim_state(sim), 2 * n * sizeof *first);
    assert_close(vbt_sim_time(sim), 200.0, 1e-9);

    double x0s[76];
    for (size_t k = 0; k < n; k++)
        x0s[k] = -2.0 - 0.01 * (double)k;
    assert_int_equal(vbt_sim_set_model_param(sim, "x0", x0s, n), VBT_OK);
    double back[76];
    assert_int_equal(vbt_sim_get_model_param(sim, "x0", back), VBT_OK);
    assert_memory_equal(back, x0s, n * sizeof *back);
    vbt_sim_reset(sim);
    assert_int_equal(vbt_sim_run(sim, 2000), VBT_OK);
    assert_true(memcmp(first, vbt_sim_state(sim), 2 * n * sizeof *first) != 0);
    free(first);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

/* The TVB epilepsy tutorial on the 76-region connectome (the shipped sample
 * configuration): the EZ regions (62, 47, 40; x0 = -1.6) seize first, the
 * PZ regions (69, 72; x0 = -1.8) are recruited later through the network,
 * and healthy regions (x0 = -2.4) never leave the interictal state.  A
 * region is "in seizure" when its LFP proxy x2 - x1 drops below 0 (it sits
 * near +0.8 interictally, and swings to about -2 in seizure). */
static void test_tutorial_seizure(void **state)
{
    (void)state;
    vbt_connectome *conn = load_conn76();
    const size_t n = conn->n;
    vbt_sim *sim = make_sim(vbt_model_epileptor, vbt_coupling_difference, vbt_scheme_heun,
                            conn, 0.05, 3.0);
    set_tutorial(sim);
    const char *vars[] = {"x2 - x1"};
    vbt_monitor_spec ms = {.type = vbt_monitor_temporal_average, .period_ms = 1.0,
                           .n_vars = 1, .vars = vars, .buffer_steps = 80000};
    assert_int_equal(vbt_sim_add_monitor(sim, &ms, NULL), VBT_OK);
    assert_int_equal(vbt_sim_run(sim, 80000), VBT_OK);       /* 4 s */
    size_t T;
    const double *lfp = vbt_sim_monitor_data(sim, 0, &T, NULL);
    assert_int_equal(T, 4000);
    double onset[76];
    for (size_t k = 0; k < n; k++) {
        onset[k] = HUGE_VAL;
        for (size_t t = 0; t < T; t++)
            if (lfp[t * n + k] < 0.0) {
                onset[k] = (double)t + 0.5;
                break;
            }
    }
    const size_t ez[] = {62, 47, 40}, pz[] = {69, 72};
    double last_ez = 0.0;
    for (size_t i = 0; i < 3; i++) {
        assert_true(onset[ez[i]] < 1500.0);
        last_ez = fmax(last_ez, onset[ez[i]]);
    }
    for (size_t i = 0; i < 2; i++) {
        assert_true(isfinite(onset[pz[i]]));
        assert_true(onset[pz[i]] > last_ez);
    }
    size_t seized = 0;
    for (size_t k = 0; k < n; k++)
        seized += isfinite(onset[k]);
    print_message("onsets (ms): EZ %g %g %g, PZ %g %g; %zu of %zu regions seized\n",
                  onset[62], onset[47], onset[40], onset[69], onset[72], seized, n);
    assert_int_equal(seized, 5);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
}

static void test_errors(void **state)
{
    (void)state;
    vbt_connectome *conn = make_conn(3);
    conn->weights[1] = 1.0;
    conn->lengths[1] = 10.0;
    vbt_sim_spec spec = {vbt_model_epileptor, vbt_coupling_difference, vbt_scheme_heun, conn,
                         0.05, 3.0, 1};
    vbt_sim *sim = NULL;
    vbt_msg msg;
    spec.dt_ms = 0.0;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_EINVAL);
    assert_null(sim);
    assert_non_null(strstr(msg.text, "dt"));
    spec.dt_ms = 0.05;
    spec.speed_mm_per_ms = -3.0;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_EINVAL);
    spec.speed_mm_per_ms = 3.0;
    spec.model = NULL;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_EINVAL);
    spec.model = vbt_model_epileptor;
    conn->weights[4] = NAN;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_ENUMERIC);
    conn->weights[4] = 0.0;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, NULL), VBT_OK);

    double v = 1.0, three[3] = {1, 2, 3}, bad = NAN;
    assert_int_equal(vbt_sim_set_model_param(sim, "x00", &v, 1), VBT_ENOTFOUND);
    assert_non_null(strstr(vbt_sim_errmsg(sim), "x00"));
    assert_int_equal(vbt_sim_set_model_param(sim, "x0", three, 2), VBT_EINVAL);
    assert_int_equal(vbt_sim_set_model_param(sim, "x0", &bad, 1), VBT_ENUMERIC);
    assert_int_equal(vbt_sim_set_coupling_param(sim, "b", &v, 1), VBT_ENOTFOUND);
    assert_int_equal(vbt_sim_set_initial_constant(sim, three, 3), VBT_EINVAL);

    /* A run that blows up (dt far too large) is stopped, time and region named. */
    double ic[6] = {-1.9, -17.0, 3.1, -1.0, 0.04, -0.17}, huge = 5.0;
    vbt_sim_free(sim);
    spec.dt_ms = 2.0;
    spec.speed_mm_per_ms = HUGE_VAL;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
    vbt_sim_set_initial_constant(sim, ic, 6);
    vbt_sim_set_model_param(sim, "tt", &huge, 1);
    assert_int_equal(vbt_sim_run(sim, 10000), VBT_ENUMERIC);
    assert_non_null(strstr(vbt_sim_errmsg(sim), "smaller dt"));
    vbt_sim_free(sim);
    vbt_sim_free(NULL);
    vbt_connectome_free(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pulse_arrival),
        cmocka_unit_test(test_delay_rounding),
        cmocka_unit_test(test_conn76_horizon),
        cmocka_unit_test(test_history_semantics),
        cmocka_unit_test(test_blocked_delays),
        cmocka_unit_test(test_paths_against_reference),
        cmocka_unit_test(test_plan_once_run_many),
        cmocka_unit_test(test_tutorial_seizure),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
