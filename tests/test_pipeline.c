/* test_pipeline.c -- `vbt pipeline` end to end on a tiny synthetic patient
 * made here (6 regions, 8 contacts, a 4 s seizure simulated by vbt and
 * written as EDF+ in BIDS layout), its resumability (a second run does
 * nothing), results.json and the report, `vbt cohort summarize`, and bad
 * patient folders.  The report is also loaded in headless Chromium when it is
 * installed.  The C API: vbt_patient_load's errors and region lists,
 * vbt_pipeline_run (progress callback, skipped steps, the same files as the
 * command line's run, any number of resections) and the fit preset. */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_patient.h"
#include "vbt_pipeline.h"

extern char **environ;

static char *g_tmp;

/* Run a command, capturing stdout+stderr into a file; returns the exit code. */
static int run_cmd(const char *const argv[], char **output)
{
    char log[PATH_MAX];
    static int serial;
    snprintf(log, sizeof log, "%s/cmd%d.log", g_tmp, serial++);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int st = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (st != 0)
        fail_msg("cannot run %s", argv[0]);
    int ws;
    waitpid(pid, &ws, 0);
    if (output) {
        size_t len;
        vbt_msg msg;
        if (vbt_file_read_all(log, output, &len, 0, &msg))
            *output = strdup("");
    }
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static const char *vbt_exe(void)
{
    const char *e = getenv("VBT_EXE");
    return e ? e : "vbt";
}

/* Six regions in a chain-like network; EZ = region 1. */
static void make_patient(const char *dir)
{
    char p[PATH_MAX];
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/conn", g_tmp);
    mkdir(p, 0777);
    tu_write_file(tu_path(p, "weights.txt"),
                  "0 1 0.2 0 0 0\n1 0 1 0.2 0 0\n0.2 1 0 1 0.2 0\n0 0.2 1 0 1 0.2\n"
                  "0 0 0.2 1 0 1\n0 0 0 0.2 1 0\n");
    tu_write_file(tu_path(p, "tract_lengths.txt"),
                  "0 20 40 60 80 100\n20 0 20 40 60 80\n40 20 0 20 40 60\n60 40 20 0 20 40\n"
                  "80 60 40 20 0 20\n100 80 60 40 20 0\n");
    tu_write_file(tu_path(p, "centres.txt"),
                  "r0 -30 -20 0\nr1 -30 0 0\nr2 -30 20 0\nr3 30 -20 0\nr4 30 0 0\nr5 30 20 0\n");
    tu_write_file(tu_path(p, "average_orientations.txt"),
                  "0.2 0.1 0.97\n-0.1 0.3 0.95\n0.3 -0.2 0.93\n0.1 0.2 0.97\n-0.3 0.1 0.95\n"
                  "0.2 0.3 0.93\n");
    /* the connectome as a TVB directory inside the patient folder */
    char cmd[8 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s/connectome'", p, dir);
    assert_int_equal(system(cmd), 0);
    /* BIDS contacts: two electrodes of four contacts near the regions */
    char ieeg[2 * PATH_MAX];
    snprintf(ieeg, sizeof ieeg, "%s/sub-t1", dir);
    mkdir(ieeg, 0777);
    snprintf(ieeg, sizeof ieeg, "%s/sub-t1/ses-1", dir);
    mkdir(ieeg, 0777);
    snprintf(ieeg, sizeof ieeg, "%s/sub-t1/ses-1/ieeg", dir);
    mkdir(ieeg, 0777);
    tu_write_file(tu_path(ieeg, "sub-t1_ses-1_space-Other_electrodes.tsv"),
                  "name\tx\ty\tz\nA1\t-25\t-20\t5\nA2\t-25\t-5\t5\nA3\t-25\t10\t5\nA4\t-25\t25\t5\n"
                  "B1\t25\t-20\t5\nB2\t25\t-5\t5\nB3\t25\t10\t5\nB4\t25\t25\t5\n");
    tu_write_file(tu_path(ieeg, "sub-t1_ses-1_space-Other_coordsystem.json"),
                  "{\"iEEGCoordinateSystem\": \"Other\", \"iEEGCoordinateUnits\": \"mm\"}\n");
    /* the seizure: 6-variable Epileptor, EZ region 1 */
    char cfg[2 * PATH_MAX], sim[2 * PATH_MAX];
    snprintf(cfg, sizeof cfg, "%s/sim.json", g_tmp);
    snprintf(sim, sizeof sim, "%s/sim", g_tmp);
    char text[8 * PATH_MAX];
    snprintf(text, sizeof text,
             "{\"connectome\": \"%s/connectome\", \"model\": {\"name\": \"epileptor\", "
             "\"params\": {\"Ks\": -0.5, \"r\": 0.00035, \"x0\": -2.6}, \"region_params\": "
             "[{\"regions\": [1], \"x0\": -1.6}]}, \"coupling\": {\"name\": \"difference\", "
             "\"params\": {\"a\": 1}}, \"integrator\": {\"scheme\": \"heun\", \"dt_ms\": 0.05, "
             "\"noise\": {\"nsig\": [0, 0, 0, 0.00015, 0.00015, 0]}}, \"initial\": {\"constant\": "
             "[-1.9, -17.0, 4.0, -1.0, 0.04, -0.17]}, \"duration_ms\": 4000, \"seed\": 3, "
             "\"monitors\": [{\"kind\": \"seeg\", \"name\": \"seeg\", \"period_ms\": 2.0, "
             "\"variables\": [\"x2 - x1\"], \"sensors\": \"%s/sub-t1_ses-1_space-Other_electrodes.tsv\"}]}",
             dir, ieeg);
    tu_write_file(cfg, text);
    const char *const a[] = {vbt_exe(), "simulate", cfg, "-o", sim, "-q", NULL};
    char *out;
    if (run_cmd(a, &out) != 0)
        fail_msg("simulate failed:\n%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "cp '%s/seeg.edf' '%s/sub-t1_ses-1_task-seizure_run-01_ieeg.edf'",
             sim, ieeg);
    assert_int_equal(system(cmd), 0);
    tu_write_file(tu_path(ieeg, "sub-t1_ses-1_task-seizure_run-01_channels.tsv"),
                  "name\ttype\tunits\tsampling_frequency\tstatus\nA1\tSEEG\tau\t500\tgood\n"
                  "A2\tSEEG\tau\t500\tgood\nA3\tSEEG\tau\t500\tgood\nA4\tSEEG\tau\t500\tgood\n"
                  "B1\tSEEG\tau\t500\tgood\nB2\tSEEG\tau\t500\tgood\nB3\tSEEG\tau\t500\tgood\n"
                  "B4\tSEEG\tau\t500\tgood\n");
    tu_write_file(tu_path(ieeg, "sub-t1_ses-1_task-seizure_run-01_events.tsv"),
                  "onset\tduration\ttrial_type\n1.0\t3.0\tseizure\n");
    tu_write_file(tu_path(dir, "resections.txt"),
                  "# candidate resections, one a line\nr1   # a trailing comment\n\nr4\n");
    tu_write_file(tu_path(dir, "spare.txt"), "# eloquent cortex\nr2 # motor\n");
    tu_write_file(tu_path(dir, "hypothesis.txt"), "# clinical EZ hypothesis\nr1, r4\n\n");
}

/* Writes `text` into the patient's `file`, runs the pipeline `a`, and expects
 * exit 1 with a message holding `where` and the unknown region `bad`. */
static void expect_region_error(const char *const *a, const char *patient, const char *file,
                                const char *text, const char *where, const char *bad)
{
    char *log;
    tu_write_file(tu_path(patient, file), text);
    assert_int_equal(run_cmd(a, &log), 1);
    assert_non_null(strstr(log, where));
    assert_non_null(strstr(log, bad));
    free(log);
}

/* The pipeline's paths, shared by the tests that follow the first run. */
static char g_patient[PATH_MAX], g_out[PATH_MAX];

static const char *const *pipeline_argv(void)
{
    /* a MAP fit is a point estimate, never "trustworthy" (exit 3): the tests
     * that only need the outputs allow it */
    static const char *a[11];
    const char *const v[11] = {vbt_exe(), "pipeline", g_patient, "-o", g_out, "--method", "map",
                               "--points", "40", "--allow-untrusted", NULL};
    memcpy(a, v, sizeof v);
    return a;
}

static char *slurp(const char *dir, const char *name)
{
    char *text = tu_slurp(tu_path(dir, name), NULL);
    if (!text)
        fail_msg("cannot read %s/%s", dir, name);
    return text;
}

/* results.json: versioned schema, one entry per region, surgery rows, the
 * plan's spared regions, precision and recall against hypothesis.txt. */
static void check_results(const char *out)
{
    char *text = slurp(out, "results.json");
    cJSON *r = cJSON_Parse(text);
    assert_non_null(r);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r, "schema")->valuestring,
                        "vbt.results/1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "regions")), 6);
    cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "surgery");
    /* none, r1, r4, plan: comments and blank lines of resections.txt dropped */
    assert_int_equal(cJSON_GetArraySize(s), 4);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(s, 1), "resection")->valuestring, "r1");
    /* spare.txt, comments dropped: r2 is spared by the plan */
    cJSON *spared = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r, "plan"), "spared");
    assert_int_equal(cJSON_GetArraySize(spared), 1);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(spared, 0), "label")->valuestring,
        "r2");
    /* precision and recall against hypothesis.txt, consistent with the regions' P(EZ) */
    cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "evaluation"), 0);
    assert_non_null(ev);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "against")->valuestring,
                        "hypothesis.txt");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ev, "regions")), 2);
    size_t n_pred = 0, tp = 0;
    cJSON *rg;
    cJSON_ArrayForEach(rg, cJSON_GetObjectItemCaseSensitive(r, "regions")) {
        const char *lab = cJSON_GetObjectItemCaseSensitive(rg, "label")->valuestring;
        /* a MAP fit (these runs): point estimates, no probabilities; the
         * class of the mode by BVEP's thresholds */
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rg, "p_ez")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rg, "p_pz")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rg, "p_hz")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(rg, "x0_q5")));
        double x0 = cJSON_GetObjectItemCaseSensitive(rg, "x0_mean")->valuedouble;
        const char *cls = cJSON_GetObjectItemCaseSensitive(rg, "class")->valuestring;
        assert_string_equal(cls, x0 >= -2.05 ? "EZ" : x0 >= -3.05 ? "PZ" : "HZ");
        int pred = !strcmp(cls, "EZ");
        n_pred += (size_t)pred;
        tp += (size_t)(pred && (!strcmp(lab, "r1") || !strcmp(lab, "r4")));
        /* onset quantiles: all null (never recruited) or ordered */
        cJSON *om = cJSON_GetObjectItemCaseSensitive(rg, "onset_median");
        cJSON *o5 = cJSON_GetObjectItemCaseSensitive(rg, "onset_q5");
        cJSON *o95 = cJSON_GetObjectItemCaseSensitive(rg, "onset_q95");
        assert_true(o5 && o95 && om);
        if (cJSON_IsNull(om))
            assert_true(cJSON_IsNull(o5) && cJSON_IsNull(o95));
        else
            assert_true(o5->valuedouble <= om->valuedouble &&
                        om->valuedouble <= o95->valuedouble);
    }
    assert_int_equal((size_t)cJSON_GetObjectItemCaseSensitive(ev, "true_positives")->valuedouble,
                     tp);
    assert_true(fabs(cJSON_GetObjectItemCaseSensitive(ev, "recall")->valuedouble -
                     (double)tp / 2.0) < 1e-12);
    if (n_pred)
        assert_true(fabs(cJSON_GetObjectItemCaseSensitive(ev, "precision")->valuedouble -
                         (double)tp / (double)n_pred) < 1e-12);
    else
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ev, "precision")));
    /* the verdict: every check with its fields; a MAP fit is a point
     * estimate only, so not trustworthy, and the reasons say it */
    cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "verdict");
    assert_non_null(v);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(v, "trustworthy")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "point_estimate")));
    cJSON *c;
    size_t n_failed = 0, n_checks = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(v, "checks")) {
        const char *keys[] = {"name", "value", "threshold", "passed", "reason"};
        for (size_t k = 0; k < 5; k++)
            assert_non_null(cJSON_GetObjectItemCaseSensitive(c, keys[k]));
        n_failed += cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "passed"));
        n_checks++;
    }
    assert_true(n_checks >= 3); /* map_converged, map_modes, prior_data_conflict, ... */
    cJSON *reasons = cJSON_GetObjectItemCaseSensitive(v, "reasons");
    assert_int_equal((size_t)cJSON_GetArraySize(reasons), n_failed);
    int said = 0;
    cJSON_ArrayForEach(c, reasons)
        said |= strstr(c->valuestring, "point estimate only") != NULL;
    assert_true(said);
    cJSON_Delete(r);
    free(text);
}

/* A MAP fit passes its mode on: x0 of regions.csv, K and tau0 of summary.json. */
static void check_map_mode(const char *out)
{
    char *text = slurp(out, "fit/summary.json");
    vbt_msg msg;
    cJSON *sm = cJSON_Parse(text);
    free(text);
    cJSON *mode = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sm, "map"),
                                                   "mode");
    vbt_array kd = {0}, x0d = {0};
    assert_int_equal(vbt_npy_read(tu_path(out, "draws/K.npy"), &kd, &msg), 0);
    assert_int_equal(vbt_npy_read(tu_path(out, "draws/x0.npy"), &x0d, &msg), 0);
    assert_int_equal(kd.size, 1);
    assert_true(kd.data[0] == cJSON_GetObjectItemCaseSensitive(mode, "K")->valuedouble);
    assert_true(fabs(x0d.data[1] - cJSON_GetObjectItemCaseSensitive(mode, "x0[2]")->valuedouble) <
                1e-5); /* regions.csv keeps 6 significant digits */
    vbt_array_clear(&kd);
    vbt_array_clear(&x0d);
    cJSON_Delete(sm);
}

/* The report holds its figures inline and fetches nothing. */
static void check_report(const char *out)
{
    char *text = slurp(out, "report.html");
    const char *ids[] = {"fig-x0", "fig-brain-ez", "fig-brain-onset", "fig-connectome",
                         "fig-feature", "<h2>Precision and recall</h2>",
                         "<h2>Sampler diagnostics</h2>", "<h2>Seizure propagation</h2>", NULL};
    for (size_t i = 0; ids[i]; i++)
        assert_non_null(strstr(text, ids[i]));
    assert_null(strstr(text, "http://www.w3.org/2000/svg\" src"));
    assert_null(strstr(text, "<script"));
    assert_null(strstr(text, "href=\"http"));
    free(text);
}

static void test_pipeline_end_to_end(void **state)
{
    (void)state;
    snprintf(g_patient, sizeof g_patient, "%s/patient", g_tmp);
    snprintf(g_out, sizeof g_out, "%s/out", g_tmp);
    make_patient(g_patient);
    char *log;
    int rc = run_cmd(pipeline_argv(), &log);
    if (rc != 0)
        fail_msg("pipeline failed (%d):\n%s", rc, log);
    assert_non_null(strstr(log, "5 step(s) run"));
    free(log);
    const char *files[] = {"report.html", "results.json", "figures/x0.svg",
                           "figures/connectome.svg", "figures/brain_ez.svg", "fit/summary.json",
                           "predict/recruitment.csv", "surgery/surgery.csv", NULL};
    for (size_t i = 0; files[i]; i++)
        if (!tu_exists(tu_path(g_out, files[i])))
            fail_msg("missing output %s", files[i]);
    check_results(g_out);
    check_map_mode(g_out);
    check_report(g_out);

    /* Without --allow-untrusted: the outputs are complete (every step up
     * to date) but the verdict is not trustworthy: exit 3, the verdict as
     * the last lines on stderr; --quiet prints none of it. */
    const char *const *a = pipeline_argv();
    const char *b[11];
    memcpy(b, a, sizeof b);
    b[9] = NULL;
    rc = run_cmd(b, &log);
    if (rc != 3)
        fail_msg("expected exit 3, got %d:\n%s", rc, log);
    const char *vl = strstr(log, "verdict: NOT TRUSTWORTHY");
    assert_non_null(vl);
    assert_non_null(strstr(vl, "point estimate only"));
    assert_non_null(strstr(vl, "  * point_estimate: "));
    free(log);
    b[9] = "-q";
    b[10] = NULL;
    assert_int_equal(run_cmd(b, &log), 3);
    assert_null(strstr(log, "verdict"));
    free(log);
}

/* The fit step's inputs also serve `vbt fit --method advi`, a short NUTS run
 * (PSIS-LOO) and the power observation with mode jumps. */
static void test_fit_variants(void **state)
{
    (void)state;
    char *log, *text;
    size_t len;
    vbt_msg msg;
    char conn[2 * PATH_MAX], gain[2 * PATH_MAX], feat[2 * PATH_MAX], fo[2 * PATH_MAX];
    snprintf(conn, sizeof conn, "%s/connectome", g_patient);
    snprintf(gain, sizeof gain, "%s/draws/gain_aligned.npy", g_out);
    snprintf(feat, sizeof feat, "%s/features/features.npy", g_out);
    snprintf(fo, sizeof fo, "%s/fit_advi", g_tmp);
    const char *const f[] = {vbt_exe(), "fit", "--connectome", conn, "--gain", gain,
                             "--data", feat, "--method", "advi", "--draws", "200", "-o", fo,
                             "-q", NULL};
    assert_int_equal(run_cmd(f, &log), 0);
    free(log);
    assert_int_equal(vbt_file_read_all(tu_path(fo, "summary.json"), &text, &len, 0, &msg), 0);
    assert_non_null(strstr(text, "advi_elbo"));
    free(text);
    assert_true(tu_exists(tu_path(fo, "regions.csv")));

    /* A short NUTS run (chains from the distinct MAP modes) adds PSIS-LOO:
     * p_loo, the effective number of parameters, is positive and at most
     * the free parameters + 1. */
    snprintf(fo, sizeof fo, "%s/fit_nuts", g_tmp);
    const char *const n[] = {vbt_exe(), "fit", "--connectome", conn, "--gain", gain,
                             "--data", feat, "--method", "nuts", "--chains", "2",
                             "--warmup", "100", "--draws", "50", "--starts", "2",
                             "--init", "modes", "-o", fo, "-q", NULL};
    int nrc = run_cmd(n, &log);
    assert_int_equal(nrc, 0);   /* failed diagnostics only warn without --strict */
    free(log);
    assert_int_equal(vbt_file_read_all(tu_path(fo, "summary.json"), &text, &len, 0, &msg), 0);
    cJSON *sj = cJSON_Parse(text);
    assert_non_null(sj);
    cJSON *loo = cJSON_GetObjectItemCaseSensitive(sj, "loo");
    assert_non_null(loo);
    double p_loo = cJSON_GetObjectItemCaseSensitive(loo, "p_loo")->valuedouble;
    double npar = cJSON_GetObjectItemCaseSensitive(sj, "n_params")->valuedouble;
    print_message("NUTS fit: p_loo %.1f for %.0f free parameters\n", p_loo, npar);
    assert_true(p_loo > 0 && p_loo <= npar + 1);
    /* loo_pointwise.npy [time, sensor] sums to elpd_loo */
    vbt_array pw = {0};
    assert_int_equal(vbt_npy_read(tu_path(fo, "loo_pointwise.npy"), &pw, &msg), 0);
    assert_int_equal(pw.ndim, 2);
    double tot = 0;
    for (size_t i = 0; i < pw.size; i++)
        tot += pw.data[i];
    double elpd = cJSON_GetObjectItemCaseSensitive(loo, "elpd_loo")->valuedouble;
    assert_true(fabs(tot - elpd) <= 1e-9 * (1 + fabs(elpd)));
    assert_int_equal((double)pw.size,
                     cJSON_GetObjectItemCaseSensitive(loo, "observations")->valuedouble);
    vbt_array_clear(&pw);
    cJSON_Delete(sj);
    free(text);

    /* The power observation of the log feature through the power gain,
     * data-informed MAP starts, NUTS on the fixed Laplace metric with
     * mode jumps of x0 (counted per chain in summary.json). */
    snprintf(fo, sizeof fo, "%s/fit_power", g_tmp);
    const char *const w[] = {vbt_exe(), "fit", "--connectome", conn, "--gain", gain,
                             "--data", feat, "--obs", "power", "--gain-norm", "power",
                             "--data-norm", "baseline", "--map-init", "data", "--method",
                             "nuts", "--metric", "laplace", "--chains", "2", "--warmup", "50",
                             "--draws", "20", "--starts", "2", "--jumps", "3", "-o", fo, "-q",
                             NULL};
    assert_int_equal(run_cmd(w, &log), 0);
    free(log);
    assert_int_equal(vbt_file_read_all(tu_path(fo, "summary.json"), &text, &len, 0, &msg), 0);
    sj = cJSON_Parse(text);
    const cJSON *chs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(sj, "diagnostics"), "chains");
    assert_int_equal(cJSON_GetArraySize(chs), 2);
    for (int c = 0; c < 2; c++) {
        const cJSON *ja =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(chs, c), "jumps_accepted");
        assert_true(cJSON_IsNumber(ja) && ja->valuedouble >= 0 && ja->valuedouble <= 3 * 20);
    }
    cJSON_Delete(sj);
    free(text);
    assert_int_equal(vbt_file_read_all(tu_path(fo, "run.json"), &text, &len, 0, &msg), 0);
    assert_non_null(strstr(text, "\"power\""));
    assert_non_null(strstr(text, "\"laplace\""));
    free(text);
    assert_true(tu_exists(tu_path(fo, "regions.csv")));
}

/* Idempotent: a second run does nothing; the report renders; `vbt cohort
 * summarize` reads results.json. */
static void test_resume_and_cohort(void **state)
{
    (void)state;
    const char *const *a = pipeline_argv();
    const char *out = g_out;
    char *log, *text;
    size_t len;
    vbt_msg msg;
    /* Idempotent: a second run does nothing. */
    assert_int_equal(run_cmd(a, &log), 0);
    if (!strstr(log, "0 step(s) run"))
        fail_msg("second run was not a no-op:\n%s", log);
    free(log);

    /* Headless Chromium, when installed: the page loads without console errors. */
    const char *chromium = tu_exists("/usr/bin/chromium") ? "/usr/bin/chromium" : NULL;
    if (!chromium) {
        print_message("chromium not installed: report rendering check skipped\n");
    } else {
        char url[2 * PATH_MAX], shot[2 * PATH_MAX];
        snprintf(url, sizeof url, "file://%s/report.html", out);
        snprintf(shot, sizeof shot, "--screenshot=%s/report.png", g_tmp);
        const char *const c[] = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                 "--enable-logging=stderr", "--v=0", shot,
                                 "--window-size=1200,3000", url, NULL};
        assert_int_equal(run_cmd(c, &log), 0);
        assert_null(strstr(log, "Uncaught"));
        assert_true(tu_exists(tu_path(g_tmp, "report.png")));
        free(log);
    }

    /* Cohort: one row per patient folder holding a results.json. */
    char csv[2 * PATH_MAX], cohort[2 * PATH_MAX], copy[12 * PATH_MAX];
    snprintf(csv, sizeof csv, "%s/cohort.csv", g_tmp);
    snprintf(cohort, sizeof cohort, "%s/cohort", g_tmp);
    snprintf(copy, sizeof copy, "mkdir -p '%s/p1' '%s/p2' && cp '%s/results.json' '%s/p1/' && "
             "cp '%s/results.json' '%s/p2/'", cohort, cohort, out, cohort, out, cohort);
    assert_int_equal(system(copy), 0);
    const char *const k[] = {vbt_exe(), "cohort", "summarize", cohort, "-o", csv, NULL};
    assert_int_equal(run_cmd(k, &log), 0);
    free(log);
    assert_int_equal(vbt_file_read_all(csv, &text, &len, 0, &msg), 0);
    size_t lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 3);     /* header + two patients */
    assert_non_null(strstr(text, "patient,"));
    assert_non_null(strstr(text, ",hypothesis_precision,hypothesis_recall,"));
    /* the verdict: not trustworthy (a MAP fit), with its reasons */
    assert_non_null(strstr(text, ",trustworthy,verdict_reasons\n"));
    assert_non_null(strstr(text, ",false,\""));
    assert_non_null(strstr(text, "point estimate only"));
    free(text);
    /* cohort.json beside the table: each results.json it read, with SHA-256 */
    char hex[65];
    assert_int_equal(vbt_sha256_file(tu_path(out, "results.json"), hex, &msg), VBT_OK);
    assert_int_equal(vbt_file_read_all(tu_path(g_tmp, "cohort.json"), &text, &len, 0, &msg), 0);
    cJSON *pj = cJSON_Parse(text);
    assert_non_null(pj);
    cJSON *pin = cJSON_GetObjectItemCaseSensitive(pj, "inputs");
    assert_int_equal(cJSON_GetArraySize(pin), 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(pin, "p2"), "sha256")->valuestring, hex);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(pj, "rows")->valuedouble, 2);
    cJSON_Delete(pj);
    free(text);
}


static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- refusing to guess ------------------------------------------------------------ */

/* vbt_pipeline_check_seizure on the patient folder dir with the options
 * given; expects status (and, when not OK, a message holding each needle). */
static void expect_seizure(const char *dir, const vbt_pipeline_opts *o, int status,
                           const char *const *needles)
{
    vbt_patient *p;
    vbt_msg msg = {{0}};
    assert_int_equal(vbt_patient_load(&p, dir, &msg), VBT_OK);
    int rc = vbt_pipeline_check_seizure(p, o, NULL, &msg);
    vbt_patient_free(p);
    if (rc != status)
        fail_msg("expected status %d, got %d: %s", status, rc, msg.text);
    for (size_t i = 0; needles && needles[i]; i++)
        if (!strstr(msg.text, needles[i]))
            fail_msg("expected '%s' in: %s", needles[i], msg.text);
}

/* The onset and offset vbt_recording_choose_seizure gives the recording. */
static void chosen(const char *edf, const vbt_seizure_choice *c, double *on, double *off)
{
    vbt_recording *rec;
    vbt_msg msg;
    if (vbt_recording_open_bids(&rec, edf, NULL, &msg) ||
        vbt_recording_choose_seizure(rec, c, NULL, &msg))
        fail_msg("%s", msg.text);
    vbt_recording_seizure(rec, on, off);
    vbt_recording_free(rec);
}

static void test_refusals(void **state)
{
    (void)state;
    char pat[PATH_MAX], ieeg[2 * PATH_MAX], out[PATH_MAX], edf[3 * PATH_MAX],
        ev[3 * PATH_MAX], cmd[6 * PATH_MAX];
    snprintf(pat, sizeof pat, "%s/refuse_patient", g_tmp);
    snprintf(out, sizeof out, "%s/out_refused", g_tmp);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", g_patient, pat);
    assert_int_equal(system(cmd), 0);
    snprintf(ieeg, sizeof ieeg, "%s/sub-t1/ses-1/ieeg", pat);
    snprintf(edf, sizeof edf, "%s/sub-t1_ses-1_task-seizure_run-01_ieeg.edf", ieeg);
    snprintf(ev, sizeof ev, "%s/sub-t1_ses-1_task-seizure_run-01_events.tsv", ieeg);
    vbt_pipeline_opts o;
    vbt_pipeline_opts_default(&o);
    vbt_seizure_choice c;
    vbt_seizure_choice_default(&c);
    double on, off;
    char *log;

    /* the patient as made: one seizure, events.tsv's onset and duration */
    expect_seizure(pat, &o, VBT_OK, NULL);
    chosen(edf, &c, &on, &off);
    assert_close(on, 1.0, 0);
    assert_close(off, 4.0, 0);

    /* no events.tsv (and no onset annotation in the EDF): the command
     * refuses at once, naming the recording, and writes nothing */
    assert_int_equal(unlink(ev), 0);
    const char *const a[] = {vbt_exe(), "pipeline", pat, "-o", out, "--method", "map",
                             "--points", "40", NULL};
    assert_int_equal(run_cmd(a, &log), 1);
    assert_non_null(strstr(log, "sub-t1_ses-1_task-seizure_run-01_ieeg.edf'"));
    assert_non_null(strstr(log, "no seizure onset"));
    assert_non_null(strstr(log, "--onset"));
    assert_int_equal(count_lines(log), 1);
    assert_false(tu_exists(out));
    free(log);
    /* an explicit onset (and offset) supplies it; an offset alone does not */
    o.onset_s = 1.0;
    o.offset_s = 4.0;
    expect_seizure(pat, &o, VBT_OK, NULL);
    o.onset_s = 9.0; /* past the 4 s recording */
    expect_seizure(pat, &o, VBT_EINVAL, (const char *const[]){"outside the recording", NULL});
    o.onset_s = NAN;
    expect_seizure(pat, &o, VBT_EINVAL, (const char *const[]){"--onset", NULL});
    o.offset_s = NAN;

    /* events without a recognised onset: the trial_types found are listed */
    tu_write_file(ev, "onset\tduration\ttrial_type\n0.5\t0\tartifact\n2.0\t1\teyes closed\n"
                      "2.5\t0\tartifact\n");
    expect_seizure(pat, &o, VBT_EFORMAT,
                   (const char *const[]){"events.tsv'", "no seizure onset", "'artifact'",
                                         "'eyes closed'", "--onset", NULL});

    /* several onsets: listed, until --seizure picks one; its offset is the
     * next offset event (ds004100 marks offsets as their own events) */
    tu_write_file(ev, "onset\tduration\ttrial_type\n0.5\t0\tsz onset\n1.5\t0\tsz offset\n"
                      "2.0\t0\tartifact\n2.5\t0\tsz onset\n3.5\t0\tsz offset\n");
    expect_seizure(pat, &o, VBT_EINVAL,
                   (const char *const[]){"2 seizure onsets", "1: 'sz onset' at 0.5 s",
                                         "2: 'sz onset' at 2.5 s", "--seizure N", NULL});
    o.seizure = 2;
    expect_seizure(pat, &o, VBT_OK, NULL);
    o.seizure = 3;
    expect_seizure(pat, &o, VBT_EINVAL, (const char *const[]){"--seizure 3", NULL});
    o.seizure = 0;
    c.index = 2;
    chosen(edf, &c, &on, &off);
    assert_close(on, 2.5, 0);
    assert_close(off, 3.5, 0);
    c.index = 0;
    /* `vbt seeg features` refuses likewise and takes --seizure */
    char fo[2 * PATH_MAX];
    snprintf(fo, sizeof fo, "%s/feat_refused", g_tmp);
    const char *const f1[] = {vbt_exe(), "seeg", "features", edf, "-o", fo, "-q", NULL};
    assert_int_equal(run_cmd(f1, &log), 1);
    assert_non_null(strstr(log, "2 seizure onsets"));
    assert_false(tu_exists(fo));
    free(log);
    const char *const f2[] = {vbt_exe(), "seeg", "features", edf, "-o", fo, "-q", "--seizure",
                              "2", "--points", "20", NULL};
    assert_int_equal(run_cmd(f2, &log), 0);
    free(log);
    char *rj = slurp(fo, "run.json");
    cJSON *r = cJSON_Parse(rj);
    free(rj);
    cJSON *sz = cJSON_GetObjectItemCaseSensitive(r, "seizure");
    assert_close(cJSON_GetObjectItemCaseSensitive(sz, "onset_s")->valuedouble, 2.5, 0);
    assert_close(cJSON_GetObjectItemCaseSensitive(sz, "offset_s")->valuedouble, 3.5, 0);
    cJSON_Delete(r);
    /* --seizure all: the pipeline fits one seizure; the error points to vbt twin */
    const char *const a2[] = {vbt_exe(), "pipeline", pat, "-o", out, "--seizure", "all", NULL};
    assert_int_equal(run_cmd(a2, &log), 1);
    assert_non_null(strstr(log, "--seizure all"));
    assert_non_null(strstr(log, "vbt twin"));
    assert_false(tu_exists(out));
    free(log);

    /* ds004100's events (a UTF-8 byte-order mark, 'sz onset' and 'sz offset'
     * rows with value and sample columns): one seizure, recognised */
    tu_write_file(ev, "\xEF\xBB\xBFonset\tduration\ttrial_type\tvalue\tsample\n"
                      "1.0\t0.0\tsz onset\t2\t500\n3.998\t0.0\tsz offset\t1\t1999");
    expect_seizure(pat, &o, VBT_OK, NULL);
    chosen(edf, &c, &on, &off);
    assert_close(on, 1.0, 0);
    assert_close(off, 3.998, 0);

    /* two recordings: listed, until --task/--run picks one */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/sub-t1_ses-1_task-seizure_run-02_ieeg.edf'", edf,
             ieeg);
    assert_int_equal(system(cmd), 0);
    expect_seizure(pat, &o, VBT_EINVAL,
                   (const char *const[]){"2 recordings", "task-seizure_run-01_ieeg.edf",
                                         "task-seizure_run-02_ieeg.edf", "--task and --run",
                                         NULL});
    o.run = "01";
    expect_seizure(pat, &o, VBT_OK, NULL);
    /* run 02 has no events.tsv: refused, naming it */
    o.run = "02";
    expect_seizure(pat, &o, VBT_EFORMAT, (const char *const[]){"run-02_ieeg.edf'", NULL});
    o.run = "07";
    expect_seizure(pat, &o, VBT_ENOTFOUND, (const char *const[]){"run=07", NULL});
    o.run = NULL;

    /* what each event text marks */
    assert_int_equal(vbt_event_kind("Seizure"), VBT_EVENT_ONSET);
    assert_int_equal(vbt_event_kind("sz onset"), VBT_EVENT_ONSET);
    assert_int_equal(vbt_event_kind("SZ"), VBT_EVENT_ONSET);
    assert_int_equal(vbt_event_kind("EEG onset"), VBT_EVENT_ONSET);
    assert_int_equal(vbt_event_kind("sz offset"), VBT_EVENT_OFFSET);
    assert_int_equal(vbt_event_kind("seizure end"), VBT_EVENT_OFFSET);
    assert_int_equal(vbt_event_kind("artifact"), VBT_EVENT_OTHER);
    assert_int_equal(vbt_event_kind("pending review"), VBT_EVENT_OTHER);
    assert_int_equal(vbt_event_kind(NULL), VBT_EVENT_OTHER);
}


/* An EDF+ without events.tsv: its own annotations mark the seizure (a
 * second onset annotation is refused, naming the EDF file); an EDF+ whose
 * annotations mark none is refused likewise, listing them. */
static void test_edf_annotations(void **state)
{
    (void)state;
    const char *labels[] = {"A1", "A2"};
    vbt_edf_spec spec = {2, labels, "uV", 100, -100, 100, 0};
    char path[PATH_MAX];
    vbt_msg msg;
    double zero[200] = {0};
    const char *const texts[3][3] = {{"Seizure onset", "Seizure end", NULL},
                                     {"Sz onset", "Sz onset", NULL},
                                     {"eyes open", "artifact", NULL}};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/annot%d.edf", g_tmp, k);
        vbt_edf_writer *w;
        assert_int_equal(vbt_edf_writer_open(&w, path, &spec, 1, &msg), VBT_OK);
        for (int r = 0; r < 6; r++)
            assert_int_equal(vbt_edf_writer_append(w, zero, &msg), VBT_OK);
        assert_int_equal(vbt_edf_writer_annotate(w, 1.5, -1, texts[k][0], &msg), VBT_OK);
        assert_int_equal(vbt_edf_writer_annotate(w, 4.25, -1, texts[k][1], &msg), VBT_OK);
        assert_int_equal(vbt_edf_writer_close(w, &msg), VBT_OK);
        vbt_recording *rec;
        assert_int_equal(vbt_recording_open(&rec, path, &msg), VBT_OK);
        vbt_seizure_choice c;
        vbt_seizure_choice_default(&c);
        size_t n_on = 99;
        int rc = vbt_recording_choose_seizure(rec, &c, &n_on, &msg);
        if (k == 0) {
            /* one onset; its offset the "end" annotation after it */
            assert_int_equal(rc, VBT_OK);
            assert_int_equal(n_on, 1);
            double on, off;
            vbt_recording_seizure(rec, &on, &off);
            assert_close(on, 1.5, 1e-9);
            assert_close(off, 4.25, 1e-9);
        } else if (k == 1) {
            assert_int_equal(rc, VBT_EINVAL);
            assert_int_equal(n_on, 2);
            assert_non_null(strstr(msg.text, "annot1.edf'"));
            assert_non_null(strstr(msg.text, "2 seizure onsets"));
            c.index = 2;
            assert_int_equal(vbt_recording_choose_seizure(rec, &c, NULL, &msg), VBT_OK);
            double on, off;
            vbt_recording_seizure(rec, &on, &off);
            assert_close(on, 4.25, 1e-9);
            assert_true(isnan(off));
        } else {
            assert_int_equal(rc, VBT_EFORMAT);
            assert_int_equal(n_on, 0);
            assert_non_null(strstr(msg.text, "annot2.edf'"));
            assert_non_null(strstr(msg.text, "'eyes open'"));
            assert_non_null(strstr(msg.text, "--onset"));
            /* not required (vbt seeg features): the whole recording */
            c.require = 0;
            assert_int_equal(vbt_recording_choose_seizure(rec, &c, NULL, &msg), VBT_OK);
            double on, off;
            vbt_recording_seizure(rec, &on, &off);
            assert_true(isnan(on) && isnan(off));
        }
        vbt_recording_free(rec);
    }
}

/* Region lists with unknown regions: one line naming the file (and line). */
static void test_region_errors(void **state)
{
    (void)state;
    const char *const *a = pipeline_argv();
    const char *patient = g_patient;
    char *log;
    /* An unknown region in hypothesis.txt: one line naming the file, exit 1. */
    expect_region_error(a, patient, "hypothesis.txt", "r1\nnot-a-region\n", "hypothesis.txt",
                        "not-a-region");
    /* a comment on the last line, no newline: still r1 and r4 */
    tu_write_file(tu_path(patient, "hypothesis.txt"), "r1\n r4 # the second\n# end");
    assert_int_equal(run_cmd(a, &log), 0);
    free(log);

    /* An unknown region in resections.txt or spare.txt: one line naming the
     * file (and the line), from the check before any step runs (the surgery
     * step's own message would name --resect / --spare instead). */
    expect_region_error(a, patient, "resections.txt", "# candidates\nr1\nr4, r9x\n",
                        "resections.txt' line 3", "r9x");
    tu_write_file(tu_path(patient, "resections.txt"), "r1\nr4\n");
    expect_region_error(a, patient, "spare.txt", "r2\nnot-a-region # typo\n", "spare.txt'",
                        "not-a-region");
    tu_write_file(tu_path(patient, "spare.txt"), "# eloquent cortex\nr2 # motor\n");
}

/* ---- the C API (vbt_patient.h, vbt_pipeline.h) ------------------------------------ */

/* A minimal patient folder: a 3-region connectome folder, the BIDS
 * electrodes file and an (empty) recording. */
static void make_skeleton(const char *dir)
{
    char d[2 * PATH_MAX];
    mkdir(dir, 0777);
    snprintf(d, sizeof d, "%s/connectome", dir);
    mkdir(d, 0777);
    tu_write_file(tu_path(d, "weights.txt"), "0 1 0\n1 0 1\n0 1 0\n");
    tu_write_file(tu_path(d, "tract_lengths.txt"), "0 10 20\n10 0 10\n20 10 0\n");
    tu_write_file(tu_path(d, "centres.txt"), "lA 0 0 0\nlB 10 0 0\nlC 20 0 0\n");
    snprintf(d, sizeof d, "%s/sub-p", dir);
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/sub-p/ses-1", dir);
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/sub-p/ses-1/ieeg", dir);
    mkdir(d, 0777);
    tu_write_file(tu_path(d, "sub-p_ses-1_electrodes.tsv"), "name\tx\ty\tz\nA1\t0\t5\t0\n");
    tu_write_file(tu_path(d, "sub-p_ses-1_task-sz_ieeg.edf"), "");
}

/* vbt_patient_load fails with VBT_ENOTFOUND and a message holding `needle`. */
static void expect_load_error(const char *dir, int status, const char *needle)
{
    vbt_patient *p = (vbt_patient *)1;
    vbt_msg msg;
    assert_int_equal(vbt_patient_load(&p, dir, &msg), status);
    assert_null(p);
    if (!strstr(msg.text, needle))
        fail_msg("expected '%s' in: %s", needle, msg.text);
}

static void test_patient_load(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s/api_patient", g_tmp);
    expect_load_error(dir, VBT_EIO, "not a patient folder");
    mkdir(dir, 0777);
    expect_load_error(dir, VBT_ENOTFOUND, "connectome.zip");
    make_skeleton(dir);
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-sz_ieeg.edf", dir);
    unlink(path);
    expect_load_error(dir, VBT_ENOTFOUND, "no *_ieeg.edf, .bdf or .vhdr recording");
    make_skeleton(dir);
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_electrodes.tsv", dir);
    unlink(path);
    expect_load_error(dir, VBT_ENOTFOUND, "_electrodes.tsv");
    make_skeleton(dir);
    tu_write_file(tu_path(dir, "parcellation.nii.gz"), "");
    expect_load_error(dir, VBT_ENOTFOUND, "parcellation_labels.tsv");
    unlink(tu_path(dir, "parcellation.nii.gz"));

    /* A resections file that is not text names the file. */
    int fd = open(tu_path(dir, "resections.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "lA\n\0lB\n", 7), 7);
    close(fd);
    expect_load_error(dir, VBT_EFORMAT, "resections.txt");

    /* Every resection is kept, however many: 150 lines, blank lines and
     * comments between them; each keeps its line number. */
    char *text = malloc(150 * 64), *w = text;
    for (int k = 0; k < 150; k++)
        w += sprintf(w, k % 3 == 2 ? "# note %d\n\n" : "l%c, l%c   # pair %d\n", "ABC"[k % 3],
                     "ABC"[(k + 1) % 3], k);
    tu_write_file(tu_path(dir, "resections.txt"), text);
    free(text);
    tu_write_file(tu_path(dir, "spare.txt"), "# eloquent\nlB\n");
    vbt_patient *p;
    vbt_msg msg;
    assert_int_equal(vbt_patient_load(&p, dir, &msg), VBT_OK);
    assert_string_equal(p->subject, "p");
    assert_int_equal(p->n_recordings, 1);
    assert_null(p->parcellation);
    assert_int_equal(p->n_resections, 100);
    assert_string_equal(p->resections[0], "lA,lB");
    assert_string_equal(p->resections[1], "lB,lC");
    assert_int_equal(p->resection_lines[1], 2);
    assert_int_equal(p->resection_lines[2], 5); /* after "# note", a blank line */
    assert_string_equal(p->spare, "lB");
    vbt_connectome *conn;
    assert_int_equal(vbt_connectome_load(&conn, p->connectome, &msg), VBT_OK);
    assert_int_equal(vbt_patient_check_regions(p, conn, &msg), VBT_OK);
    vbt_patient_free(p);

    /* BrainVision and BDF runs are recordings too, listed in name order
     * with the EDF; the sidecars come from the first one's stem. */
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-sz_ieeg.edf", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-a_ieeg.vhdr", dir);
    tu_write_file(path, "");
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-a_events.tsv", dir);
    tu_write_file(path, "onset\tduration\ttrial_type\n1\t2\tsz onset\n");
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-b_ieeg.bdf", dir);
    tu_write_file(path, "");
    assert_int_equal(vbt_patient_load(&p, dir, &msg), VBT_OK);
    assert_int_equal(p->n_recordings, 2);
    assert_non_null(strstr(p->recordings[0], "task-a_ieeg.vhdr"));
    assert_non_null(strstr(p->recordings[1], "task-b_ieeg.bdf"));
    assert_non_null(p->events);
    assert_non_null(strstr(p->events, "task-a_events.tsv"));
    vbt_patient_free(p);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-a_ieeg.vhdr", dir);
    unlink(path);
    make_skeleton(dir);

    /* An unknown region: the file, its line and the name. */
    tu_write_file(tu_path(dir, "resections.txt"), "lA\n\n# x\nlB, lQ\n");
    assert_int_equal(vbt_patient_load(&p, dir, &msg), VBT_OK);
    assert_int_not_equal(vbt_patient_check_regions(p, conn, &msg), VBT_OK);
    assert_non_null(strstr(msg.text, "resections.txt' line 4"));
    assert_non_null(strstr(msg.text, "lQ"));
    vbt_patient_free(p);
    vbt_patient_free(NULL);
    vbt_connectome_free(conn);

    char buf[] = "r1\n\n r4,, # second\r\n# end";
    vbt_patient_region_list(buf);
    assert_string_equal(buf, "r1,r4");
}

typedef struct events {
    int running[VBT_PIPELINE_N_STEPS], up_to_date[VBT_PIPELINE_N_STEPS],
        done[VBT_PIPELINE_N_STEPS];
} events;

static void on_progress(void *ctx, vbt_pipeline_step s, double fraction, const char *text)
{
    events *e = ctx;
    assert_true(s >= 0 && s < VBT_PIPELINE_N_STEPS);
    assert_true(fraction >= 0 && fraction <= 1);
    if (!strcmp(text, "running"))
        e->running[s]++;
    else if (!strcmp(text, "up to date"))
        e->up_to_date[s]++;
    else if (!strcmp(text, "done"))
        e->done[s]++;
    else if (s != VBT_PIPELINE_FIT) /* the fit's stages and log lines */
        fail_msg("unexpected progress text '%s'", text);
}

/* The library's run: the options of the command line's (--method map
 * --points 40; seed 42, one thread by default). */
static void run_api(const char *out, events *ev, vbt_pipeline_result *res)
{
    vbt_patient *p;
    vbt_msg msg;
    vbt_pipeline_opts o;
    assert_int_equal(vbt_patient_load(&p, g_patient, &msg), VBT_OK);
    vbt_pipeline_opts_default(&o);
    o.outdir = out;
    o.fit.method = "map";
    o.fit.points = 40;
    o.progress = on_progress;
    o.progress_ctx = ev;
    memset(ev, 0, sizeof *ev);
    int rc = vbt_pipeline_run(p, &o, res, &msg);
    if (rc)
        fail_msg("vbt_pipeline_run: %s", msg.text);
    vbt_patient_free(p);
}

static void same_file(const char *a, const char *b, const char *name)
{
    size_t la, lb;
    char *ta, *tb;
    vbt_msg msg;
    assert_int_equal(vbt_file_read_all(tu_path(a, name), &ta, &la, 0, &msg), 0);
    assert_int_equal(vbt_file_read_all(tu_path(b, name), &tb, &lb, 0, &msg), 0);
    if (la != lb || memcmp(ta, tb, la))
        fail_msg("%s differs between the command line's and the library's runs", name);
    free(ta);
    free(tb);
}

static void test_pipeline_api(void **state)
{
    (void)state;
    char out[PATH_MAX], *log;
    snprintf(out, sizeof out, "%s/out_api", g_tmp);
    assert_int_equal(run_cmd(pipeline_argv(), &log), 0); /* g_out up to date */
    free(log);
    events ev;
    vbt_pipeline_result res;
    run_api(out, &ev, &res);
    assert_int_equal(res.steps_run, 5);
    assert_true(res.has_verdict);
    assert_false(res.verdict.trustworthy);
    assert_true(res.verdict.point_estimate);
    assert_non_null(vbt_verdict_find(&res.verdict, "point_estimate"));
    for (int s = 0; s < VBT_PIPELINE_REPORT; s++) {
        assert_int_equal(res.ran[s], 1);
        assert_int_equal(ev.running[s], 1);
        assert_int_equal(ev.done[s], 1);
        assert_int_equal(ev.up_to_date[s], 0);
    }
    assert_int_equal(ev.done[VBT_PIPELINE_REPORT], 1);
    const char *files[] = {"gain/gain.npy", "features/features.npy", "draws/gain_aligned.npy",
                           "fit/regions.csv", "draws/x0.npy", "draws/K.npy", "draws/tau0.npy",
                           "predict/recruitment.csv", "predict/order.csv", "predict/onsets.npy",
                           "surgery/surgery.csv", "surgery/regions.csv", "prior.json", NULL};
    for (size_t i = 0; files[i]; i++)
        same_file(g_out, out, files[i]);
    check_results(out);

    /* Up to date: every step skipped, nothing run. */
    run_api(out, &ev, &res);
    assert_int_equal(res.steps_run, 0);
    for (int s = 0; s < VBT_PIPELINE_REPORT; s++) {
        assert_int_equal(res.ran[s], 0);
        assert_int_equal(ev.up_to_date[s], 1);
        assert_int_equal(ev.running[s], 0);
    }

    /* 70 candidate resections: all simulated (only the surgery step reruns). */
    char *text = malloc(70 * 16), *w = text;
    for (int k = 0; k < 70; k++)
        w += sprintf(w, "r%d%s\n", k % 6, k % 2 ? ", r2" : "");
    tu_write_file(tu_path(g_patient, "resections.txt"), text);
    free(text);
    run_api(out, &ev, &res);
    assert_int_equal(res.steps_run, 1);
    assert_int_equal(res.ran[VBT_PIPELINE_SURGERY], 1);
    text = slurp(out, "results.json");
    cJSON *r = cJSON_Parse(text);
    free(text);
    cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "surgery");
    assert_int_equal(cJSON_GetArraySize(s), 72); /* none, 70, plan */
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(s, 70), "resection")->valuestring,
        "r3,r2");
    cJSON_Delete(r);
    tu_write_file(tu_path(g_patient, "resections.txt"), "r1\nr4\n");

    /* Options checked; the patient is required. */
    vbt_pipeline_opts o;
    vbt_msg msg;
    vbt_pipeline_opts_default(&o);
    assert_int_equal(vbt_pipeline_run(NULL, &o, NULL, &msg), VBT_EINVAL);
    vbt_patient *p;
    assert_int_equal(vbt_patient_load(&p, g_patient, &msg), VBT_OK);
    assert_int_equal(vbt_pipeline_run(p, &o, NULL, &msg), VBT_EINVAL); /* no outdir */
    assert_non_null(strstr(msg.text, "outdir"));

    /* Cancelled (as by Ctrl-C): no step runs, nothing is written. */
    volatile sig_atomic_t stop = 1;
    snprintf(out, sizeof out, "%s/out_cancelled", g_tmp);
    o.outdir = out;
    o.cancel = &stop;
    assert_int_equal(vbt_pipeline_run(p, &o, &res, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "interrupted"));
    assert_int_equal(res.steps_run, 0);
    assert_false(tu_exists(tu_path(out, "gain/gain.npy")));
    vbt_patient_free(p);
    assert_string_equal(vbt_pipeline_step_name(VBT_PIPELINE_FIT), "fit");
    assert_null(vbt_pipeline_step_name(VBT_PIPELINE_N_STEPS));
}

/* The pipeline's fit settings, defined once in fitting/: the prior file is
 * the one the pipeline has always written (its hash is a fit input). */
static void test_preset(void **state)
{
    (void)state;
    vbt_vep_pipeline_preset f;
    vbt_vep_pipeline_preset_default(&f);
    assert_true(f.x0.mu == -3.5 && f.x0.sd == 0.15);
    assert_int_equal(f.points, 100);
    assert_true(fabs(f.window / (double)f.points - 0.175) < 1e-15);
    /* steps per sample: each at most 0.175 (hand-counted: 17.5 / 40 = 0.4375
     * takes 3 of 0.146; 17.5 / 10 = 1.75 exactly 10; 200 points one) */
    assert_int_equal(vbt_vep_pipeline_preset_steps(&f), 1);
    vbt_fit_opts fo;
    vbt_msg fm;
    assert_int_equal(vbt_vep_pipeline_preset_fit_opts(&f, &fo, &fm), VBT_OK);
    assert_int_equal(fo.steps, 1);
    const size_t pts[] = {40, 10, 200, 99, 17}, want[] = {3, 10, 1, 2, 6};
    for (size_t i = 0; i < 5; i++) {
        vbt_vep_pipeline_preset g = f;
        g.points = pts[i];
        assert_int_equal(vbt_vep_pipeline_preset_steps(&g), want[i]);
        assert_int_equal(vbt_vep_pipeline_preset_fit_opts(&g, &fo, &fm), VBT_OK);
        assert_int_equal(fo.steps, want[i]);
        assert_true(fo.dt / (double)fo.steps <= 0.175 + 1e-12);
    }
    char *text = vbt_vep_pipeline_prior_json(&f);
    assert_non_null(text);
    assert_string_equal(text,
        "{\"x0\": {\"mu\": -3.5, \"sd\": 0.15},\n"
        " \"x_init\": {\"mu\": -2.0, \"sd\": 1, \"fixed\": true},\n"
        " \"z_init\": {\"mu\": 4.0, \"sd\": 0.5, \"fixed\": true},\n"
        " \"tau0\": {\"dist\": \"normal\", \"mu\": 10, \"sd\": 5, \"lower\": 2, "
        "\"fixed\": false},\n"
        " \"amp\": {\"dist\": \"lognormal\", \"mu\": 0, \"sd\": 3},\n"
        " \"eps\": {\"dist\": \"normal\", \"mu\": 0, \"sd\": 1, \"lower\": 0.05},\n"
        " \"K\": {\"dist\": \"normal\", \"mu\": 1, \"sd\": 0.1, \"lower\": 0, "
        "\"fixed\": false, \"value\": 1}}\n");
    /* and vbt fit's prior reader takes it */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/preset_prior.json", g_tmp);
    tu_write_file(path, text);
    free(text);
    vbt_vep_priors pr;
    vbt_msg msg;
    vbt_vep_priors_default(&pr);
    assert_int_equal(vbt_vep_priors_load_json(&pr, path, NULL, 0, &msg), VBT_OK);
    assert_true(pr.x0.sd == 0.15 && pr.z_init.fixed && pr.eps.lo == 0.05);
    assert_int_equal(pr.amp.dist, VBT_VEP_LOGNORMAL);
    assert_int_equal(pr.K.dist, VBT_VEP_NORMAL); /* written, as the fit uses it */
    assert_true(pr.K.mu == 1 && pr.K.sd == 0.1 && !pr.K.fixed);
}

static void test_bad_patient(void **state)
{
    (void)state;
    char empty[PATH_MAX], out[PATH_MAX];
    snprintf(empty, sizeof empty, "%s/empty_patient", g_tmp);
    snprintf(out, sizeof out, "%s/out_bad", g_tmp);
    mkdir(empty, 0777);
    const char *const a[] = {vbt_exe(), "pipeline", empty, "-o", out, NULL};
    char *log;
    assert_int_equal(run_cmd(a, &log), 1);
    assert_non_null(strstr(log, "connectome.zip"));
    size_t nl = 0;
    for (char *c = log; *c; c++)
        nl += *c == '\n';
    assert_int_equal(nl, 1);
    free(log);
    const char *const b[] = {vbt_exe(), "pipeline", "/nonexistent/patient", "-o", out, NULL};
    assert_int_equal(run_cmd(b, &log), 1);
    free(log);

    /* A parcellation (for the volume gain) without its label table. */
    char pat[PATH_MAX], d[2 * PATH_MAX];
    snprintf(pat, sizeof pat, "%s/parc_patient", g_tmp);
    mkdir(pat, 0777);
    tu_write_file(tu_path(pat, "connectome.zip"), "");
    tu_write_file(tu_path(pat, "parcellation.nii.gz"), "");
    snprintf(d, sizeof d, "%s/sub-p", pat);
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/sub-p/ses-1", pat);
    mkdir(d, 0777);
    snprintf(d, sizeof d, "%s/sub-p/ses-1/ieeg", pat);
    mkdir(d, 0777);
    tu_write_file(tu_path(d, "sub-p_ses-1_electrodes.tsv"), "name\tx\ty\tz\n");
    const char *const c[] = {vbt_exe(), "pipeline", pat, "-o", out, NULL};
    assert_int_equal(run_cmd(c, &log), 1);
    assert_non_null(strstr(log, "parcellation_labels.tsv"));
    free(log);
}

/* Every file under dir, recursively, holds none of the needles (byte
 * search: binary files too). */
static void expect_absent(const char *dir, const char *const *needles)
{
    char cmd[4 * PATH_MAX];
    for (size_t i = 0; needles[i]; i++) {
        snprintf(cmd, sizeof cmd, "grep -rlaF -e '%s' '%s' > '%s/leak.txt'", needles[i], dir,
                 g_tmp);
        if (system(cmd) == 0) {
            char *hits = slurp(g_tmp, "leak.txt");
            fail_msg("'%s' found in:\n%s", needles[i], hits);
        }
    }
}

/* One EDF header field (offset, width) set to text padded with blanks. */
static void edf_field(const char *edf, long off, size_t width, const char *text)
{
    char buf[96];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, text, strlen(text) < width ? strlen(text) : width);
    FILE *f = fopen(edf, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fwrite(buf, 1, width, f), width);
    fclose(f);
}

/* Privacy: a patient folder named like a person, with the name and dates in
 * every EDF identifier field: no output file (every byte, .stamps/ too)
 * holds the name, the dates or an absolute path; results.json names the
 * patient by the BIDS subject. */
static void test_pseudonymous_outputs(void **state)
{
    (void)state;
    char pat[PATH_MAX], out[PATH_MAX], cmd[3 * PATH_MAX], edf[2 * PATH_MAX];
    snprintf(pat, sizeof pat, "%s/Doe_Jane_1957", g_tmp);
    snprintf(out, sizeof out, "%s/priv_out", g_tmp);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", g_patient, pat);
    assert_int_equal(system(cmd), 0);
    snprintf(edf, sizeof edf, "%s/sub-t1/ses-1/ieeg/sub-t1_ses-1_task-seizure_run-01_ieeg.edf",
             pat);
    edf_field(edf, 8, 80, "Doe_Jane_1957 F 14-FEB-1957 Doe_Jane_1957");
    edf_field(edf, 88, 80, "Startdate 02-MAR-2019 Doe_Jane_1957 Doe_Jane_1957 X");
    edf_field(edf, 168, 8, "02.03.19");
    edf_field(edf, 176, 8, "13.37.42");
    const char *const a[] = {vbt_exe(), "pipeline", pat, "-o", out, "--method", "map",
                             "--points", "40", "--allow-untrusted", NULL};
    char *log;
    int rc = run_cmd(a, &log);
    if (rc != 0)
        fail_msg("pipeline failed (%d):\n%s", rc, log);
    free(log);
    /* (not "1957" alone: numbers in the CSVs may hold those digits) */
    const char *const needles[] = {"Doe_Jane", "Jane", "FEB-1957", "02-MAR-2019", "02.03.19",
                                   "13.37.42", g_tmp, NULL};
    expect_absent(out, needles);
    char *res = slurp(out, "results.json");
    assert_non_null(strstr(res, "\"patient\":\t\"sub-t1\""));
    free(res);
}

/* A directory where the patient loader expects a file is an error naming
 * it, never a silent fallback (to the centre gain, to no prior...). */
static void test_directory_for_file(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s/dir_patient", g_tmp);
    mkdir(dir, 0777);
    make_skeleton(dir);
    const char *names[] = {"parcellation.nii.gz", "prior.json", "resections.txt", NULL};
    for (size_t i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        mkdir(path, 0777);
        expect_load_error(dir, VBT_EFORMAT, "a directory where a file is expected");
        expect_load_error(dir, VBT_EFORMAT, names[i]);
        rmdir(path);
    }
    snprintf(path, sizeof path, "%s/sub-p/ses-1/ieeg/sub-p_ses-1_task-sz_channels.tsv", dir);
    mkdir(path, 0777);
    expect_load_error(dir, VBT_EFORMAT, "_channels.tsv': a directory");
    rmdir(path);
    vbt_patient *p;
    vbt_msg msg;
    assert_int_equal(vbt_patient_load(&p, dir, &msg), VBT_OK);
    char id[80];
    assert_int_equal(vbt_patient_pseudonym(p, id, sizeof id, &msg), VBT_OK);
    assert_string_equal(id, "sub-p");
    free(p->subject);
    p->subject = NULL;
    assert_int_equal(vbt_patient_pseudonym(p, id, sizeof id, &msg), VBT_OK);
    /* the empty recording's SHA-256 hex, hashed again */
    assert_int_equal(strncmp(id, "anon-", 5), 0);
    assert_int_equal(strlen(id), 17);
    vbt_patient_free(p);
}

static void on_resume_note(void *ctx, vbt_pipeline_step s, double fraction, const char *text)
{
    (void)fraction;
    if (s == VBT_PIPELINE_FIT && text && strstr(text, "resuming"))
        *(int *)ctx = 1;
}

/* A short NUTS pipeline run of g_patient into out; 0 or the status. */
static int run_nuts(const char *out, int *resumed)
{
    vbt_patient *p;
    vbt_msg msg;
    vbt_pipeline_opts o;
    if (vbt_patient_load(&p, g_patient, &msg))
        return -1;
    vbt_pipeline_opts_default(&o);
    o.outdir = out;
    o.fit.method = "nuts";
    o.fit.points = 40;
    o.fit.map_starts = 4;
    o.fit.map_hop_rounds = 0;
    o.fit.nuts_warmup = 200;
    o.fit.nuts_draws = 200;
    o.progress = on_resume_note;
    o.progress_ctx = resumed;
    int rc = vbt_pipeline_run(p, &o, NULL, &msg);
    if (rc)
        print_message("vbt_pipeline_run: %s\n", msg.text);
    vbt_patient_free(p);
    return rc;
}

/* Killed (SIGKILL) during NUTS, the pipeline's rerun resumes the fit from
 * its checkpoint and ends with the outputs of an uninterrupted run, byte
 * for byte; the checkpoint is gone once the step completes. */
static void test_fit_resume(void **state)
{
    (void)state;
    char full[PATH_MAX], killed[PATH_MAX], ck[2 * PATH_MAX];
    snprintf(full, sizeof full, "%s/nuts_full", g_tmp);
    snprintf(killed, sizeof killed, "%s/nuts_killed", g_tmp);
    snprintf(ck, sizeof ck, "%s/fit.checkpoint", killed);
    int resumed = 0;
    assert_int_equal(run_nuts(full, &resumed), 0);
    assert_int_equal(resumed, 0);
    assert_false(tu_exists(tu_path(full, "fit.checkpoint")));

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(run_nuts(killed, &resumed) ? 1 : 0);
    /* the first checkpoint is written when NUTS starts (after the MAP stage) */
    tu_kill_when_exists(pid, ck, "the pipeline");
    assert_false(tu_exists(tu_path(killed, "fit/draws.npy")));

    assert_int_equal(run_nuts(killed, &resumed), 0);
    assert_int_equal(resumed, 1);
    assert_false(tu_exists(ck));
    const char *files[] = {"fit/draws.npy", "fit/summary.csv", "fit/regions.csv",
                           "fit/draws_chain1.csv", "draws/x0.npy", "draws/K.npy",
                           "predict/recruitment.csv", "surgery/surgery.csv", NULL};
    for (size_t i = 0; files[i]; i++)
        same_file(full, killed, files[i]);
}

static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_end_to_end),
        cmocka_unit_test(test_fit_variants),
        cmocka_unit_test(test_resume_and_cohort),
        cmocka_unit_test(test_region_errors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_edf_annotations),
        cmocka_unit_test(test_pipeline_api),
        cmocka_unit_test(test_patient_load),
        cmocka_unit_test(test_preset),
        cmocka_unit_test(test_bad_patient),
        cmocka_unit_test(test_pseudonymous_outputs),
        cmocka_unit_test(test_directory_for_file),
        cmocka_unit_test(test_fit_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
