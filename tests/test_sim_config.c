/* test_sim_config.c -- vbt_sim_config_load(): a simulation configuration
 * file -> a planned simulator (connectomes/sim_config.c), and its "sweep"
 * section planned (vbt_sweep.h, connectomes/sweep.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "gain_eeg.h"            /* lib/'s private copy of the EEG constants */
#include "test_util.h"
#include "vbt.h"

/* A temporary configuration file; every path in it is absolute. */
static char *write_config(char *dir, const char *name, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const char *p = tu_path(dir, name);
    tu_write_file(p, text);
    return strdup(p);
}

#define BODY                                                                                   \
    "\"connectome\": \"%s\", \"model\": {\"name\": \"epileptor\", \"params\": {\"x0\": -2.1}}, " \
    "\"integrator\": {\"dt_ms\": 0.05}, \"initial\": {\"constant\": [-1.9, -17, 3.1, -1, 0.04, " \
    "-0.17]}, \"duration_ms\": 10.0, \"seed\": 5"

/* The TVB tutorial shipped in data-samples: the connectome, the steps, the
 * seed, the per-region x0 of region_params and the two monitors. */
static void test_tutorial(void **state)
{
    (void)state;
    vbt_sim_config cfg;
    vbt_msg msg;
    const char *path = tu_path(tu_samples_dir(), "epileptor_tutorial.json");
    assert_int_equal(vbt_sim_config_load(&cfg, path, NULL, &msg), VBT_OK);
    assert_int_equal(cfg.conn->n, 76);
    assert_int_equal(vbt_sim_n_regions(cfg.sim), 76);
    assert_int_equal(cfg.n_steps, 80000);        /* 4000 ms / 0.05 ms */
    assert_int_equal(cfg.seed, 42);
    assert_int_equal(cfg.n_mon, 2);
    assert_string_equal(cfg.mon[0].name, "temporal_average");
    assert_string_equal(cfg.mon[1].name, "subsample");
    assert_ptr_equal(vbt_sim_monitor_type(cfg.sim, cfg.mon[1].index), vbt_monitor_subsample);
    assert_null(cfg.sweep);
    double x0[76];
    assert_int_equal(vbt_sim_get_model_param(cfg.sim, "x0", x0), VBT_OK);
    assert_true(x0[62] == -1.6 && x0[47] == -1.6 && x0[40] == -1.6);
    assert_true(x0[69] == -1.8 && x0[72] == -1.8);
    assert_true(x0[0] == -2.4 && x0[75] == -2.4);
    /* the resolved configuration names every default */
    const cJSON *integ = cJSON_GetObjectItemCaseSensitive(cfg.resolved, "integrator");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(integ, "scheme")->valuestring, "heun");
    assert_true(cJSON_GetObjectItemCaseSensitive(cfg.resolved, "seed")->valuedouble == 42.0);
    vbt_sim_config_clear(&cfg);
    assert_null(cfg.sim);
    vbt_sim_config_clear(&cfg);                 /* a cleared one: no-op */
    vbt_sim_config_clear(NULL);
}

/* Options: the seed override, a batch, the sweep section. */
static void test_opts(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *conn = tu_path(tu_samples_dir(), "connectivity_76.zip");
    char *plain = write_config(dir, "plain.json", "{" BODY "}", conn);
    char *sweep = write_config(dir, "sweep.json", "{" BODY ", \"sweep\": {\"mode\": \"grid\"}}",
                               conn);
    vbt_sim_config cfg;
    vbt_sim_config_opts o;
    vbt_msg msg;

    vbt_sim_config_opts_default(&o);
    assert_true(o.seed_override == -1 && o.batch == 0 && o.sweep == 0 && o.buffer_steps == 0);
    o.seed_override = 9;
    o.batch = 3;
    assert_int_equal(vbt_sim_config_load(&cfg, plain, &o, &msg), VBT_OK);
    assert_int_equal(cfg.seed, 9);
    assert_int_equal(vbt_sim_batch(cfg.sim), 3);
    assert_int_equal(cfg.n_steps, 200);
    assert_int_equal(cfg.n_mon, 1);             /* the default: raw */
    assert_string_equal(cfg.mon[0].name, "raw");
    vbt_sim_config_clear(&cfg);

    /* a "sweep" section only for a sweep, and required by one */
    assert_int_equal(vbt_sim_config_load(&cfg, sweep, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "run it with 'vbt sweep'"));
    assert_null(cfg.sim);
    vbt_sim_config_opts_default(&o);
    o.sweep = 1;
    assert_int_equal(vbt_sim_config_load(&cfg, plain, &o, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "missing key 'sweep'"));
    assert_int_equal(vbt_sim_config_load(&cfg, sweep, &o, &msg), VBT_OK);
    assert_true(cJSON_IsObject(cfg.sweep));
    assert_int_equal(cfg.n_mon, 0);             /* a sweep sets up its own monitor */
    vbt_sim_config_clear(&cfg);

    free(plain);
    free(sweep);
    tu_rmtree(dir);
    free(dir);
}

/* Errors name the file and the key; the configuration is left cleared. */
static void test_errors(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *conn = tu_path(tu_samples_dir(), "connectivity_76.zip");
    static const struct {
        const char *name, *extra, *expect;
        int status;
    } cases[] = {
        {"key.json", ", \"modle\": 1", "unknown key 'modle'", VBT_EINVAL},
        {"region.json", ", \"stimulus\": {\"regions\": [76], \"pulse\": {}}",
         "'stimulus.regions[0]' is not a region index or label", VBT_EINVAL},
        {"mon.json", ", \"monitors\": [{\"kind\": \"seeg\", \"period_ms\": 1, \"sensors\": "
                     "\"/nonexistent/s.txt\"}]",
         "'monitors[0].sensors': ", VBT_OK /* the contacts' own status */},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *p = write_config(dir, cases[k].name, "{" BODY "%s}", conn, cases[k].extra);
        vbt_sim_config cfg;
        vbt_msg msg;
        int st = vbt_sim_config_load(&cfg, p, NULL, &msg);
        if (cases[k].status != VBT_OK)
            assert_int_equal(st, cases[k].status);
        else
            assert_true(st != VBT_OK && st != VBT_EINVAL);
        assert_non_null(strstr(msg.text, p));   /* "'<file>': ..." */
        assert_non_null(strstr(msg.text, cases[k].expect));
        assert_true(cfg.sim == NULL && cfg.conn == NULL && cfg.config_path == NULL);
        free(p);
    }
    /* not JSON: the line; no file: the reader's status */
    char *bad = write_config(dir, "bad.json", "{\"a\": 1,\n \"b\": }");
    vbt_sim_config cfg;
    vbt_msg msg;
    assert_int_equal(vbt_sim_config_load(&cfg, bad, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "invalid JSON near line 2"));
    int st = vbt_sim_config_load(&cfg, tu_path(dir, "absent.json"), NULL, &msg);
    assert_true(st != VBT_OK && st != VBT_EINVAL);
    assert_int_equal(vbt_sim_config_load(NULL, bad, NULL, &msg), VBT_EINVAL);
    assert_int_equal(vbt_sim_config_load(&cfg, NULL, NULL, &msg), VBT_EINVAL);
    free(bad);
    tu_rmtree(dir);
    free(dir);
}

/* An eeg monitor with no gain_npy uses the analytic gain computed in lib/
 * (gain_eeg.c), which cannot include vbt_gain.h: its constants must be the
 * public ones, and the monitor's gain vbt_gain_eeg()'s at the default
 * minimum distance, bit for bit. */
static void test_eeg_analytic_gain(void **state)
{
    (void)state;
    assert_true(VBT__GAIN_MIN_DIST_MM == VBT_GAIN_MIN_DIST_MM);
    assert_true(VBT__GAIN_EEG_RADIUS_FACTOR == VBT_GAIN_EEG_RADIUS_FACTOR);
    char *dir = tu_mkdtemp();
    const char *conn = tu_path(tu_samples_dir(), "connectivity_76.zip");
    const char *sensors = tu_path(tu_samples_dir(), "eeg_brainstorm_65.txt");
    char *p = write_config(dir, "eeg.json",
                           "{" BODY ", \"monitors\": [{\"kind\": \"eeg\", \"period_ms\": 1, "
                           "\"sensors\": \"%s\", \"edf\": false}]}", conn, sensors);
    vbt_sim_config cfg;
    vbt_msg msg;
    assert_int_equal(vbt_sim_config_load(&cfg, p, NULL, &msg), VBT_OK);
    vbt_contacts *ct = NULL;
    assert_int_equal(vbt_contacts_load(&ct, sensors, &msg), VBT_OK);
    const size_t ns = ct->n, nr = cfg.conn->n;
    assert_int_equal(ns, 65);
    assert_int_equal(vbt_sim_monitor_n_channels(cfg.sim, cfg.mon[0].index), ns);
    double *g = malloc(ns * nr * sizeof *g);
    assert_non_null(g);
    assert_int_equal(vbt_gain_eeg(ct->pos, ns, cfg.conn->centres, cfg.conn->orientations, nr,
                                  VBT_GAIN_MIN_DIST_MM, g, &msg), VBT_OK);
    const double *mg = vbt_sim_monitor_gain(cfg.sim, cfg.mon[0].index);
    size_t nonzero = 0;
    for (size_t i = 0; i < ns * nr; i++) {
        assert_true(mg[i] == g[i]);
        nonzero += g[i] != 0.0;
    }
    assert_true(nonzero > ns * nr / 2);         /* a real gain, not zeroed rows */
    free(g);
    vbt_contacts_free(ct);
    vbt_sim_config_clear(&cfg);
    free(p);
    tu_rmtree(dir);
    free(dir);
}

/* The "sweep" section planned: grid order (the last parameter fastest),
 * regions, summaries, the monitor; one simulation's values applied to a
 * lane of a batch. */
static void test_sweep_plan(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    const char *conn = tu_path(tu_samples_dir(), "connectivity_76.zip");
    char *p = write_config(dir, "grid.json", "{" BODY ", \"sweep\": {\"parameters\": ["
        "{\"name\": \"model.x0\", \"regions\": [1, 7], \"values\": [-2.2, -2.0, -1.8]},"
        "{\"name\": \"coupling.a\", \"range\": {\"from\": 0.5, \"to\": 1.5, \"count\": 2}}],"
        "\"batch\": 4, \"monitor\": {\"kind\": \"temporal_average\", \"period_ms\": 1.0},"
        "\"summaries\": [{\"kind\": \"mean\", \"variable\": \"z\"}, {\"kind\": \"onset\", "
        "\"variable\": \"x2 - x1\", \"threshold\": 0, \"direction\": \"below\"}]}}", conn);
    vbt_sim_config cfg;
    vbt_sim_config_opts o;
    vbt_sweep_plan plan;
    vbt_msg msg;
    vbt_sim_config_opts_default(&o);
    o.sweep = 1;
    o.batch = 2;
    assert_int_equal(vbt_sim_config_load(&cfg, p, &o, &msg), VBT_OK);
    assert_int_equal(vbt_sweep_plan_load(&plan, &cfg, &msg), VBT_OK);
    assert_int_equal(plan.n_params, 2);
    assert_int_equal(plan.n_sims, 6);
    assert_int_equal(plan.batch, 4);
    assert_int_equal(plan.n_regions, 76);
    static const double want[6][2] = {{-2.2, 0.5}, {-2.2, 1.5}, {-2.0, 0.5}, {-2.0, 1.5},
                                      {-1.8, 0.5}, {-1.8, 1.5}};
    for (size_t k = 0; k < 6; k++)
        for (size_t q = 0; q < 2; q++)
            assert_true(plan.values[k * 2 + q] == want[k][q]);
    assert_string_equal(plan.par[0].name, "x0");
    assert_true(!plan.par[0].coupling && plan.par[1].coupling);
    assert_int_equal(plan.par[0].n_regions, 2);
    assert_int_equal(plan.par[0].regions[1], 7);
    assert_int_equal(plan.par[1].n_regions, 0);
    assert_ptr_equal(plan.mon_type, vbt_monitor_temporal_average);
    assert_true(plan.mon_period == 1.0);
    assert_int_equal(plan.n_sum, 2);
    assert_int_equal(plan.n_vars, 2);
    assert_string_equal(plan.vars[plan.sum[1].var], "x2 - x1");
    assert_string_equal(plan.sum[1].label, "onset(x2 - x1 < 0)");
    assert_string_equal(vbt_sweep_kind_name(plan.sum[0].kind), "mean");

    /* simulation 5 into lane 1: regions 1 and 7 take -1.8, the rest keep -2.1 */
    double *buf = malloc(vbt_sim_n_lanes(cfg.sim) * sizeof *buf);
    assert_non_null(buf);
    vbt_sweep_plan_apply(&plan, cfg.sim, 1, 5, buf);
    assert_int_equal(vbt_sim_get_model_param(cfg.sim, "x0", buf), VBT_OK);
    assert_true(buf[1 * 2 + 1] == -1.8 && buf[7 * 2 + 1] == -1.8);
    assert_true(buf[0 * 2 + 1] == -2.1 && buf[1 * 2 + 0] == -2.1);   /* lane 0 untouched */
    assert_int_equal(vbt_sim_get_coupling_param(cfg.sim, "a", buf), VBT_OK);
    assert_true(buf[3 * 2 + 1] == 1.5);
    free(buf);
    vbt_sweep_plan_clear(&plan);
    assert_null(plan.values);
    vbt_sweep_plan_clear(&plan);
    vbt_sweep_plan_clear(NULL);
    vbt_sim_config_clear(&cfg);
    free(p);

    /* list mode pairs values: unequal lengths are refused, naming the file */
    p = write_config(dir, "list.json", "{" BODY ", \"sweep\": {\"mode\": \"list\", "
        "\"parameters\": [{\"name\": \"model.x0\", \"values\": [-2.2, -2.0]}, "
        "{\"name\": \"coupling.a\", \"values\": [1.0]}], \"summaries\": [{\"kind\": \"max\"}]}}",
        conn);
    assert_int_equal(vbt_sim_config_load(&cfg, p, &o, &msg), VBT_OK);
    assert_int_equal(vbt_sweep_plan_load(&plan, &cfg, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, p));
    assert_non_null(strstr(msg.text, "'sweep.parameters[1]' has 1 values, parameter 0 has 2"));
    assert_null(plan.values);
    vbt_sim_config_clear(&cfg);
    free(p);

    /* random mode: in bounds, the same draws for the same seed */
    p = write_config(dir, "random.json", "{" BODY ", \"sweep\": {\"mode\": \"random\", "
        "\"samples\": 200, \"parameters\": [{\"name\": \"model.x0\", \"uniform\": [-3.1, -1.4]}],"
        " \"summaries\": [{\"kind\": \"variance\", \"variable\": \"z\"}]}}", conn);
    double first[200];
    for (int run = 0; run < 3; run++) {
        o.seed_override = run < 2 ? 17 : 18;
        assert_int_equal(vbt_sim_config_load(&cfg, p, &o, &msg), VBT_OK);
        assert_int_equal(vbt_sweep_plan_load(&plan, &cfg, &msg), VBT_OK);
        assert_int_equal(plan.n_sims, 200);
        size_t same = 0;
        for (size_t k = 0; k < 200; k++) {
            double v = plan.values[k];
            assert_true(v >= -3.1 && v <= -1.4);
            if (run == 0)
                first[k] = v;
            same += v == first[k];
        }
        assert_int_equal(same, run < 2 ? 200 : 0);
        vbt_sweep_plan_clear(&plan);
        vbt_sim_config_clear(&cfg);
    }
    free(p);
    tu_rmtree(dir);
    free(dir);
}

/* The running summaries against values computed by hand. */
static void test_sweep_summaries(void **state)
{
    (void)state;
    static const double x[] = {2.385, -1.25, 0.5, 3.75, -0.125};
    const size_t T = sizeof x / sizeof x[0];
    const double period = 0.5;
    double mean = 0.0, m2 = 0.0;
    for (size_t t = 0; t < T; t++)
        mean += x[t] / (double)T;
    for (size_t t = 0; t < T; t++)
        m2 += (x[t] - mean) * (x[t] - mean);
    static const struct {
        vbt_sweep_kind kind;
        double threshold;
        int below;
    } cases[] = {{VBT_SWEEP_MEAN, 0, 0}, {VBT_SWEEP_VARIANCE, 0, 0}, {VBT_SWEEP_MIN, 0, 0},
                 {VBT_SWEEP_MAX, 0, 0}, {VBT_SWEEP_TIME_ABOVE, 0.25, 0},
                 {VBT_SWEEP_TIME_ABOVE, 0.25, 1}, {VBT_SWEEP_ONSET, 3.0, 0},
                 {VBT_SWEEP_ONSET, -1.0, 1}, {VBT_SWEEP_ONSET, 10.0, 0}};
    /* 1e-15 relative: Welford and the two-pass sums round differently */
    const double want[] = {mean, m2 / (double)(T - 1), -1.25, 3.75, 3 * period, 2 * period,
                           3 * period, 1 * period, NAN};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vbt_sweep_summary su = {.kind = cases[c].kind, .threshold = cases[c].threshold,
                                .below = cases[c].below};
        vbt_sweep_acc a = {0.0, 0.0, 0.0};
        for (size_t t = 0; t < T; t++)
            vbt_sweep_acc_update(&su, &a, 1, &x[t], (double)t * period, period);
        double v = vbt_sweep_acc_value(&su, &a);
        if (isnan(want[c]))
            assert_true(isnan(v));
        else
            assert_true(fabs(v - want[c]) <= 1e-15 * fabs(want[c]));
    }
    assert_null(vbt_sweep_kind_name((vbt_sweep_kind)6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tutorial),
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_eeg_analytic_gain),
        cmocka_unit_test(test_sweep_plan),
        cmocka_unit_test(test_sweep_summaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
