/* test_twin.c -- the patient's twin (clinical/vbt_twin.h) on a synthetic
 * patient made here with vbt's own simulator: 6 regions in a chain, 8
 * contacts, three seizures of the 6-variable Epileptor (EZ region 1 at x0
 * -1.6, a PZ region 2 at -2.2, the rest -2.6) that differ by their noise
 * seeds and initial state, written as EDF+ in BIDS layout.
 *
 *  - init on the first seizure, then update by update with the second and
 *    the third: the posterior equals the joint fit of all three from the
 *    prior (P(EZ) of every region within 0.05), with the Monte Carlo error
 *    measured by two joint fits of different seeds;
 *  - atomicity under kill -9: a child process killed during an update leaves
 *    the previous version byte for byte, and the next update removes its
 *    staging folder and succeeds;
 *  - the refusals: a recording already absorbed (same SHA-256), contacts
 *    that are not the twin's, a sampling rate the feature cannot use, and
 *    a recording without a seizure onset; through `vbt twin` exit code 1
 *    and one line naming the file;
 *  - `vbt twin report` (TSV and HTML) and the provenance (no patient folder
 *    name, no absolute path). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_recording.h"
#include "vbt_twin.h"

static char *g_tmp;
static char g_patient[PATH_MAX], g_ieeg[PATH_MAX], g_twin[PATH_MAX], g_rec[4][PATH_MAX];
/* the default joint refit of the three seizures (seed 1001) that
 * test_updates_equal_joint_fit ran, for test_refit_from_latest */
static double g_refit_pez[6];
static vbt_twin_result g_refit;
static int g_refit_done;

static const char *vbt_exe(void)
{
    const char *e = getenv("VBT_EXE");
    return e ? e : "vbt";
}

static const char *const CHANNELS[8] = {"A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"};

/* Seizure k (0-based) of the patient: noise seed, initial z. */
static void simulate(size_t k)
{
    static const int seeds[4] = {3, 11, 29, 5};
    static const double z0[4] = {4.0, 4.0, 4.0, 4.0};
    static const int ez[4] = {1, 1, 1, 4};
    char cfg[PATH_MAX + 32], sim[PATH_MAX + 32], text[4 * PATH_MAX], cmd[4 * PATH_MAX];
    tu_fmt(cfg, sizeof cfg, "%s/sim%zu.json", g_tmp, k);
    tu_fmt(sim, sizeof sim, "%s/sim%zu", g_tmp, k);
    tu_fmt(text, sizeof text,
             "{\"connectome\": \"%s/connectome\", \"model\": {\"name\": \"epileptor\", "
             "\"params\": {\"Ks\": -0.5, \"r\": 0.00035, \"x0\": -2.6}, \"region_params\": "
             "[{\"regions\": [%d], \"x0\": -1.6}, {\"regions\": [2], \"x0\": -2.2}]}, "
             "\"coupling\": {\"name\": \"difference\", \"params\": {\"a\": 1}}, "
             "\"integrator\": {\"scheme\": \"heun\", \"dt_ms\": 0.05, \"noise\": {\"nsig\": "
             "[0, 0, 0, 0.00015, 0.00015, 0]}}, \"initial\": {\"constant\": [-1.9, -17.0, %.2f, "
             "-1.0, 0.04, -0.17]}, \"duration_ms\": 4000, \"seed\": %d, \"monitors\": "
             "[{\"kind\": \"seeg\", \"name\": \"seeg\", \"period_ms\": 2.0, \"variables\": "
             "[\"x2 - x1\"], \"sensors\": \"%s/sub-t1_ses-1_space-Other_electrodes.tsv\"}]}",
             g_patient, ez[k], z0[k], seeds[k], g_ieeg);
    tu_write_file(cfg, text);
    const char *const a[] = {"simulate", cfg, "-o", sim, "-q", NULL};
    char *out = NULL, *err = NULL;
    if (tu_run(vbt_exe(), a, g_tmp, &out, &err) != 0)
        fail_msg("simulate failed: %s", err ? err : "");
    free(out);
    free(err);
    tu_fmt(g_rec[k], sizeof g_rec[k], "%s/sub-t1_ses-1_task-seizure_run-0%zu_ieeg.edf", g_ieeg,
             k + 1);
    tu_fmt(cmd, sizeof cmd, "cp '%s/seeg.edf' '%s'", sim, g_rec[k]);
    assert_int_equal(system(cmd), 0);
    char base[PATH_MAX + 64];
    tu_fmt(base, sizeof base, "%s/sub-t1_ses-1_task-seizure_run-0%zu", g_ieeg, k + 1);
    char p[PATH_MAX + 96];
    tu_fmt(p, sizeof p, "%s_channels.tsv", base);
    tu_write_file(p, "name\ttype\tunits\tsampling_frequency\tstatus\nA1\tSEEG\tau\t500\tgood\n"
                     "A2\tSEEG\tau\t500\tgood\nA3\tSEEG\tau\t500\tgood\nA4\tSEEG\tau\t500\tgood\n"
                     "B1\tSEEG\tau\t500\tgood\nB2\tSEEG\tau\t500\tgood\nB3\tSEEG\tau\t500\tgood\n"
                     "B4\tSEEG\tau\t500\tgood\n");
    tu_fmt(p, sizeof p, "%s_events.tsv", base);
    tu_write_file(p, "onset\tduration\ttrial_type\n1.0\t3.0\tseizure\n");
}

/* The patient folder (as test_pipeline.c's, one more PZ region). */
static int setup(void **state)
{
    (void)state;
    g_tmp = tu_mkdtemp();
    char p[PATH_MAX], cmd[3 * PATH_MAX];
    tu_fmt(g_patient, sizeof g_patient, "%s/patient-name", g_tmp);
    mkdir(g_patient, 0777);
    tu_fmt(p, sizeof p, "%s/connectome", g_patient);
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
    tu_fmt(g_ieeg, sizeof g_ieeg, "%s/sub-t1", g_patient);
    mkdir(g_ieeg, 0777);
    tu_fmt(g_ieeg, sizeof g_ieeg, "%s/sub-t1/ses-1", g_patient);
    mkdir(g_ieeg, 0777);
    tu_fmt(g_ieeg, sizeof g_ieeg, "%s/sub-t1/ses-1/ieeg", g_patient);
    mkdir(g_ieeg, 0777);
    tu_write_file(tu_path(g_ieeg, "sub-t1_ses-1_space-Other_electrodes.tsv"),
                  "name\tx\ty\tz\nA1\t-25\t-20\t5\nA2\t-25\t-5\t5\nA3\t-25\t10\t5\nA4\t-25\t25\t5\n"
                  "B1\t25\t-20\t5\nB2\t25\t-5\t5\nB3\t25\t10\t5\nB4\t25\t25\t5\n");
    tu_write_file(tu_path(g_ieeg, "sub-t1_ses-1_space-Other_coordsystem.json"),
                  "{\"iEEGCoordinateSystem\": \"Other\", \"iEEGCoordinateUnits\": \"mm\"}\n");
    for (size_t k = 0; k < 4; k++)
        simulate(k);
    /* the second, third (and a fourth, whose seizure starts elsewhere)
     * seizures are "new recordings": out of the patient folder, as a
     * monitoring unit would deliver them */
    for (size_t k = 1; k < 4; k++) {
        char dst[PATH_MAX + 16], src_base[PATH_MAX + 64];
        tu_fmt(src_base, sizeof src_base, "%s/sub-t1_ses-1_task-seizure_run-0%zu", g_ieeg, k + 1);
        tu_fmt(dst, sizeof dst, "%s/new%zu", g_tmp, k + 1);
        mkdir(dst, 0777);
        tu_fmt(cmd, sizeof cmd, "mv '%s'_* '%s/'", src_base, dst);
        assert_int_equal(system(cmd), 0);
        tu_fmt(g_rec[k], sizeof g_rec[k], "%s/sub-t1_ses-1_task-seizure_run-0%zu_ieeg.edf", dst,
                 k + 1);
    }
    tu_fmt(g_twin, sizeof g_twin, "%s/twin", g_tmp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("VBT_TEST_KEEP"))
        print_message("kept %s\n", g_tmp);
    else
        tu_rmtree(g_tmp);
    free(g_tmp);
    return 0;
}

static void opts(vbt_twin_opts *o)
{
    vbt_twin_opts_default(o);
    o->threads = 2;
}

static int count_staging(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    return n;
}

static char *sha(const char *path)
{
    static char hex[65];
    vbt_msg msg;
    if (vbt_sha256_file(path, hex, &msg))
        fail_msg("%s", msg.text);
    return hex;
}

/* init, update (+ kill -9 in the middle of the next one), update: then the
 * same posterior as the joint fit. */
static void test_updates_equal_joint_fit(void **state)
{
    (void)state;
    vbt_twin_opts o;
    opts(&o);
    vbt_twin_result r;
    vbt_msg msg;
    if (vbt_twin_init(g_patient, g_twin, &o, &r, &msg))
        fail_msg("%s", msg.text);
    print_message("init: %s, %zu particles x %zu parameters, %zu steps, CPU %.2f s\n", r.version,
                  r.n_particles, r.n_params, r.n_steps, r.cpu_s);
    assert_string_equal(r.version, "v0001");
    assert_int_equal(vbt_twin_init(g_patient, g_twin, &o, &r, &msg), VBT_EEXIST);
    if (vbt_twin_update(g_twin, g_rec[1], NULL, &o, &r, &msg))
        fail_msg("%s", msg.text);
    print_message("update 2: %s, %zu steps, reweight ESS %.0f (x0, K: %.0f), %zu changed, CPU "
                  "%.2f s (SMC %.2f s)\n", r.version, r.n_steps, r.reweight_ess, r.marginal_ess,
                  r.n_changed, r.cpu_s, r.smc_cpu_s);
    assert_string_equal(r.version, "v0002");
    assert_int_equal(r.n_recordings, 2);
    print_message("  variance explained: new %.3f, earlier %.3f\n", r.r2_new, r.r2_old);
    print_message("  surrogate: %zu steps, exact %zu steps, correction ESS %.1f\n",
                  r.surrogate_steps, r.exact_steps, r.correction_ess);
    assert_false(r.unexplained);  /* the same EZ, another noise seed */

    /* kill -9 during the third update: fork, wait for its staging folder,
     * let it run a little, kill it */
    char v2[PATH_MAX + 32], v2p[PATH_MAX + 64];
    tu_fmt(v2, sizeof v2, "%s/v0002", g_twin);
    tu_fmt(v2p, sizeof v2p, "%s/particles.npy", v2);
    char before[65];
    tu_fmt(before, sizeof before, "%s", sha(v2p));
    char *vj_before = tu_slurp(tu_path(v2, "version.json"), NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vbt_twin_opts oc;
        opts(&oc);
        oc.threads = 1;
        vbt_msg m2;
        _exit(vbt_twin_update(g_twin, g_rec[2], NULL, &oc, NULL, &m2) ? 3 : 0);
    }
    int seen = 0;
    for (int i = 0; i < 20000 && !seen; i++) {
        seen = count_staging(g_twin) > 0;
        if (!seen)
            usleep(500);
    }
    usleep(50000);   /* into the feature or the sampling */
    kill(pid, SIGKILL);
    int ws;
    waitpid(pid, &ws, 0);
    print_message("kill -9: staging seen %d, child %s\n", seen,
                  WIFSIGNALED(ws) ? "killed" : "had finished");
    assert_true(seen);
    assert_true(WIFSIGNALED(ws)); /* the update takes far longer than 50 ms */
    char v3[PATH_MAX + 32];
    tu_fmt(v3, sizeof v3, "%s/v0003", g_twin);
    assert_false(tu_exists(v3));
    assert_string_equal(sha(v2p), before);
    char *vj_after = tu_slurp(tu_path(v2, "version.json"), NULL);
    assert_string_equal(vj_before, vj_after);
    free(vj_before);
    free(vj_after);
    assert_true(count_staging(g_twin) >= 1);   /* what the killed update left */
    size_t nr = 0;
    char ver[16];
    double pez2[6];
    assert_int_equal(vbt_twin_p_ez(g_twin, pez2, 6, &nr, ver, &msg), VBT_OK);
    assert_string_equal(ver, "v0002");

    /* the next update cleans up and works */
    if (vbt_twin_update(g_twin, g_rec[2], NULL, &o, &r, &msg))
        fail_msg("%s", msg.text);
    print_message("update 3: %s, %zu steps, reweight ESS %.0f (x0, K: %.0f), %zu changed, CPU "
                  "%.2f s (SMC %.2f s)\n", r.version, r.n_steps, r.reweight_ess, r.marginal_ess,
                  r.n_changed, r.cpu_s, r.smc_cpu_s);
    print_message("  variance explained: new %.3f, earlier %.3f\n", r.r2_new, r.r2_old);
    print_message("  surrogate: %zu steps, exact %zu steps, correction ESS %.1f\n",
                  r.surrogate_steps, r.exact_steps, r.correction_ess);
    assert_false(r.unexplained);
    assert_string_equal(r.version, "v0003");
    assert_int_equal(count_staging(g_twin), 0);
    const double update_cpu = r.smc_cpu_s;

    /* the joint fit of the three from the prior, twice (two seeds: the
     * Monte Carlo error of P(EZ)) */
    double pez[6], j1[6], j2[6], m1[6], s1[6], m2[6], s2[6], mu[6], su[6];
    assert_int_equal(vbt_twin_p_ez(g_twin, pez, 6, &nr, ver, &msg), VBT_OK);
    assert_int_equal(nr, 6);
    vbt_twin_result rj;
    o.seed = 1001;
    if (vbt_twin_refit(g_twin, &o, j1, m1, s1, &rj, &msg))
        fail_msg("%s", msg.text);
    memcpy(g_refit_pez, j1, sizeof g_refit_pez);
    g_refit = rj;
    g_refit_done = 1;
    o.seed = 2002;
    if (vbt_twin_refit(g_twin, &o, j2, m2, s2, NULL, &msg))
        fail_msg("%s", msg.text);
    /* the updates' x0 mean and sd: ezmap.tsv of v0003 */
    char *ez = tu_slurp(tu_path(v3, "ezmap.tsv"), NULL), *line = strchr(ez, '\n') + 1;
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(sscanf(line, "%*d\t%*s\t%*f\t%*f\t%*f\t%lf\t%lf", &mu[i], &su[i]), 2);
        line = strchr(line, '\n') + 1;
    }
    free(ez);
    double d_upd = 0, d_mc = 0;
    int x0_ok = 1;
    for (size_t i = 0; i < 6; i++) {
        print_message("  r%zu: P(EZ) updates %.3f, joint fits %.3f %.3f; x0 updates %.3f (sd "
                      "%.3f), joint %.3f (%.3f) %.3f (%.3f)\n", i, pez[i], j1[i], j2[i], mu[i],
                      su[i], m1[i], s1[i], m2[i], s2[i]);
        d_upd = fmax(d_upd, fmax(fabs(pez[i] - j1[i]), fabs(pez[i] - j2[i])));
        d_mc = fmax(d_mc, fabs(j1[i] - j2[i]));
        /* x0: the sequential chain carries the Monte Carlo error of every
         * update (three SMC runs, two resamplings that left 1-6 distinct
         * ancestors in trials), more than the two joint fits' spread, which
         * share one Laplace start: in trials the means differed by up to 0.8
         * joint sd (0.018 in x0 for the EZ region, whose sd is 0.023), the
         * sds by up to 25 %.  Checked: within max(0.03, 1 sd) plus the joint
         * fits' spread, sds within 50 % (the classes' thresholds are 1 apart) */
        const double tol = fmax(0.03, s1[i]) + fabs(m1[i] - m2[i]);
        x0_ok &= fabs(mu[i] - m1[i]) < tol && fabs(su[i] / s1[i] - 1.0) < 0.5;
    }
    print_message("max |P(EZ) updates - joint| %.3f; between the two joint fits (MC error) "
                  "%.3f; CPU of the last update's SMC %.2f s, of the joint refit's %.2f s "
                  "(%.0f %%)\n", d_upd, d_mc, update_cpu, rj.smc_cpu_s,
                  100.0 * update_cpu / rj.smc_cpu_s);
    /* the target: every region within 0.05 */
    assert_true(d_upd <= 0.05);
    assert_true(x0_ok);
    /* the truth: region 1 is the EZ */
    assert_true(pez[1] > 0.9);
    /* issue 20's CPU target (an update at most 25 % of a joint refit) is a
     * benchmark (bench/twin_sample.sh, docs/twin.md: 15-20 % here, printed
     * above); tests never time anything.  What makes it cheap is asserted
     * instead, and is deterministic for the seed: the surrogate was built,
     * and the exact joint target (every seizure per move) took at most 3
     * tempering steps (2 on this patient; the exact tempering it replaced
     * took 5). */
    assert_true(isfinite(r.correction_ess));
    assert_true(r.surrogate_steps >= 1);
    assert_true(r.exact_steps <= 3);

    /* a seizure the twin cannot explain (it starts in region 4): the
     * reweighting collapses and the update says so (on a copy of the twin) */
    char copy[PATH_MAX + 32], cmd[3 * PATH_MAX];
    tu_fmt(copy, sizeof copy, "%s/twin-copy", g_tmp);
    tu_fmt(cmd, sizeof cmd, "cp -r '%s' '%s'", g_twin, copy);
    assert_int_equal(system(cmd), 0);
    if (vbt_twin_update(copy, g_rec[3], NULL, &o, &r, &msg))
        fail_msg("%s", msg.text);
    print_message("conflicting seizure: reweight ESS %.1f (x0, K: %.1f) of %zu, collapsed %d, "
                  "variance explained %.3f (earlier %.3f), %zu steps, %zu changed\n",
                  r.reweight_ess, r.marginal_ess, r.n_particles, r.collapsed, r.r2_new,
                  r.r2_old, r.n_steps, r.n_changed);
    assert_true(r.unexplained);
    const char *const a[] = {"twin", "report", copy, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(tu_run(vbt_exe(), a, g_tmp, &out, &err), 0);
    assert_non_null(strstr(out, "NOT EXPLAINED"));
    free(out);
    free(err);
}

/* `vbt twin refit --start latest`: the joint Newton starts from v0003's
 * particles instead of the default (staged) search, the rest unchanged.  On
 * this patient the updates and the default refit agree, so the refit from
 * the twin's mode must give the same P(EZ) as the default refit (the same
 * seed 1001; within the 0.05) and reach the same mode: the staged
 * search's point.  Newton from the first seizure's MAP alone (--start map)
 * reaches it too here (with the nuisance search of the updates; with the
 * single Newton run it had before, it ended 300 nats lower, at a mode of the
 * same EZ map); on the sample patient it does not (docs/twin.md). */
static void test_refit_from_latest(void **state)
{
    (void)state;
    if (!g_refit_done)
        skip();
    vbt_twin_opts o;
    opts(&o);
    o.seed = 1001;
    o.refit_start = VBT_TWIN_START_LATEST;
    double pez[6], mean[6], sd[6];
    vbt_twin_result r;
    vbt_msg msg;
    if (vbt_twin_refit(g_twin, &o, pez, mean, sd, &r, &msg))
        fail_msg("%s", msg.text);
    const vbt_twin_result *d = &g_refit;
    print_message("staged refit: log evidence %.2f; Newton %zu/%zu steps, log p %.2f -> "
                  "%.2f, decrement %.2g, ridge %.2g, Laplace log mass %.2f\n", d->log_evidence,
                  d->newton_steps, d->newton_cap, d->mode_start_lp, d->mode_lp,
                  d->mode_decrement, d->mode_ridge, d->mode_log_mass);
    print_message("  its starts' Laplace log masses (MAP, posterior mean, particles):");
    for (size_t k = 0; k < d->n_starts; k++)
        print_message(" %.2f%s", d->start_log_mass[k], (long)k == d->best_start ? "*" : "");
    print_message("\n");
    print_message("refit from v0003 (particle %ld): log evidence %.2f; Newton %zu/%zu steps, "
                  "log p %.2f -> %.2f, decrement %.2g, ridge %.2g, Laplace log mass %.2f; "
                  "CPU %.2f s\n", r.start_index, r.log_evidence, r.newton_steps, r.newton_cap,
                  r.mode_start_lp, r.mode_lp, r.mode_decrement, r.mode_ridge, r.mode_log_mass,
                  r.smc_cpu_s);
    double dmax = 0.0;
    for (size_t i = 0; i < 6; i++) {
        print_message("  r%zu: P(EZ) staged refit %.3f, from v0003 %.3f; x0 %.3f (sd %.3f)\n",
                      i, g_refit_pez[i], pez[i], mean[i], sd[i]);
        dmax = fmax(dmax, fabs(pez[i] - g_refit_pez[i]));
    }
    assert_true(dmax <= 0.05);
    assert_true(pez[1] > 0.9);   /* the truth: region 1 is the EZ */
    /* the staged search: every start tried, the heaviest kept, and it is
     * the mode Newton from the twin's particles reaches (both converged:
     * decrements below 1e-8, so one point to far below 0.01 in log p) */
    assert_int_equal(d->n_starts, VBT_VEP_MULTI_STARTS);
    assert_true(d->best_start >= 0 && d->best_start < (long)d->n_starts);
    for (size_t k = 0; k < d->n_starts; k++)
        assert_true(!(d->start_log_mass[k] > d->start_log_mass[d->best_start]));
    assert_true(fabs(d->mode_log_mass - d->start_log_mass[d->best_start]) < 0.01);
    assert_true(fabs(d->mode_lp - r.mode_lp) < 0.01);
    assert_int_equal(r.n_starts, 0);
    assert_int_equal(r.best_start, -1);
    /* --start map: Newton from the first seizure's MAP alone, the staged
     * search's start 0 (its cap 20 against 60: the same end once converged) */
    vbt_twin_result rm;
    o.refit_start = VBT_TWIN_START_MAP;
    if (vbt_twin_refit(g_twin, &o, NULL, NULL, NULL, &rm, &msg))
        fail_msg("%s", msg.text);
    print_message("refit from the MAP alone: Newton %zu/%zu steps, log p %.2f, decrement %.2g, "
                  "Laplace log mass %.2f, log evidence %.2f\n", rm.newton_steps, rm.newton_cap,
                  rm.mode_lp, rm.mode_decrement, rm.mode_log_mass, rm.log_evidence);
    assert_int_equal(rm.n_starts, 0);
    assert_true(rm.mode_decrement < 1e-6);
    assert_true(fabs(rm.mode_log_mass - d->start_log_mass[0]) < 0.01);
    assert_true(rm.mode_log_mass <= d->mode_log_mass + 0.01);
    /* finite numbers of both searches; Newton only climbs (its steps are
     * accepted when log p does not decrease) */
    assert_true(isfinite(r.log_evidence) && isfinite(d->log_evidence));
    assert_true(isfinite(r.mode_lp) && isfinite(r.mode_log_mass) && isfinite(r.mode_start_lp));
    assert_true(isfinite(d->mode_lp) && isfinite(d->mode_log_mass));
    assert_true(r.mode_lp >= r.mode_start_lp && d->mode_lp >= d->mode_start_lp);
    assert_true(r.newton_steps <= r.newton_cap && r.newton_cap == 20);
    assert_true(r.start_index >= -1 && r.start_index < (long)r.n_particles);
    /* the Laplace log mass is log p(mode) + n/2 log 2 pi - 1/2 log det P:
     * with the mode's log p it gives log det P back, and P (the -Hessian at
     * a mode of a posterior whose sds are below 1 in most coordinates) has
     * a positive log determinant */
    const double log_det = 2.0 * (r.mode_lp - r.mode_log_mass) +
                           (double)r.n_params * log(2.0 * M_PI);
    print_message("  log det P at the mode from v0003: %.2f (%zu parameters)\n", log_det,
                  r.n_params);
    assert_true(isfinite(log_det) && log_det > 0.0);
    /* two estimators of the mass of the mode each refit tempered from: the
     * Laplace log mass (analytic at the mode) and SMC's log evidence
     * (tempering from the doubled Laplace approximation to the exact
     * posterior).  Where the posterior is close to Gaussian they agree (in
     * trials 0.36 and 0.38 nats here); a wrong term of the formula would
     * put them 37-88 nats apart on these 40 parameters (n/2 log 2 pi = 36.8
     * left out, log det P = 88 without its 1/2 or with the wrong sign).
     * Tolerance 2 nats: the posterior's departure from a Gaussian and the
     * SMC estimate's Monte Carlo error.  (Before the staged search the two
     * refits reached different modes here, 300 nats apart in both
     * estimates, with the same EZ map: docs/twin.md.) */
    print_message("  Laplace log mass - SMC log evidence: %.2f (staged), %.2f (from "
                  "v0003)\n", d->mode_log_mass - d->log_evidence,
                  r.mode_log_mass - r.log_evidence);
    assert_true(fabs(d->mode_log_mass - d->log_evidence) < 2.0);
    assert_true(fabs(r.mode_log_mass - r.log_evidence) < 2.0);

    /* through `vbt twin`: an unknown start is a usage error (exit 2) */
    const char *const bad[] = {"twin", "refit", g_twin, "--start", "median", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(tu_run(vbt_exe(), bad, g_tmp, &out, &err), 2);
    free(out);
    free(err);
}

/* A recording of 8 channels (labels), fs Hz, 6 s of a 3 Hz sine with a
 * burst from 2 s, and its events. */
static void write_edf(const char *path, const char *const *labels, double fs, int events)
{
    vbt_edf_spec sp = {.n_channels = 8, .labels = labels, .fs_hz = fs, .phys_min = -100,
                       .phys_max = 100};
    vbt_edf_writer *w;
    vbt_msg msg;
    if (vbt_edf_writer_open(&w, path, &sp, 1, &msg))
        fail_msg("%s", msg.text);
    const size_t n = (size_t)fs;
    double *d = malloc(8 * n * sizeof *d);
    for (int s = 0; s < 6; s++) {
        for (size_t c = 0; c < 8; c++)
            for (size_t i = 0; i < n; i++) {
                double t = s + (double)i / fs;
                d[c * n + i] = sin(2 * M_PI * 3 * t) + (t > 2 ? 20 * sin(2 * M_PI * 17 * t) : 0);
            }
        if (vbt_edf_writer_append(w, d, &msg))
            fail_msg("%s", msg.text);
    }
    free(d);
    if (vbt_edf_writer_close(w, &msg))
        fail_msg("%s", msg.text);
    if (events) {
        char ev[PATH_MAX + 32];
        tu_fmt(ev, sizeof ev, "%s.events.tsv", path);
        tu_write_file(ev, "onset\tduration\ttrial_type\n2.0\t3.0\tseizure onset\n");
    }
}

static void test_refusals(void **state)
{
    (void)state;
    vbt_twin_opts o;
    opts(&o);
    vbt_msg msg;
    vbt_twin_result r;
    /* already absorbed: the first recording (by SHA-256, whatever its name) */
    char copy[PATH_MAX + 32], cmd[3 * PATH_MAX];
    tu_fmt(copy, sizeof copy, "%s/renamed.edf", g_tmp);
    tu_fmt(cmd, sizeof cmd, "cp '%s' '%s'", g_rec[0], copy);
    assert_int_equal(system(cmd), 0);
    char ev1[PATH_MAX + 32];
    tu_fmt(ev1, sizeof ev1, "%s/ev1.tsv", g_tmp);
    tu_write_file(ev1, "onset\tduration\ttrial_type\n1.0\t3.0\tseizure\n");
    assert_int_equal(vbt_twin_update(g_twin, copy, ev1, &o, &r, &msg), VBT_EEXIST);
    print_message("%s\n", msg.text);
    assert_non_null(strstr(msg.text, "already in the twin"));
    assert_non_null(strstr(msg.text, "renamed.edf"));
    /* contacts that are not the twin's */
    static const char *const other[8] = {"A1", "A2", "A3", "A4", "B1", "B2", "B3", "C9"};
    char bad[PATH_MAX + 32], ev[PATH_MAX + 64];
    tu_fmt(bad, sizeof bad, "%s/other_contacts.edf", g_tmp);
    write_edf(bad, other, 500, 1);
    tu_fmt(ev, sizeof ev, "%s.events.tsv", bad);
    assert_int_equal(vbt_twin_update(g_twin, bad, ev, &o, &r, &msg), VBT_EINVAL);
    print_message("%s\n", msg.text);
    assert_non_null(strstr(msg.text, "contacts do not match"));
    assert_non_null(strstr(msg.text, "B4"));
    assert_non_null(strstr(msg.text, "C9"));
    /* events as ds004100 writes them (a byte-order mark, 'sz onset' of
     * duration 0, the offset a row of its own) are read, given with --events
     * or found beside a BIDS recording: the update goes on to the contacts
     * (it used to stop at "events need the columns onset and trial_type" and
     * at "the seizure needs an offset") */
    static const char ds_events[] = "\xEF\xBB\xBFonset\tduration\ttrial_type\tvalue\tsample\n"
                                    "2.0\t0.0\tsz onset\t2\t1000\n5.0\t0.0\tsz offset\t1\t2500\n";
    tu_fmt(ev, sizeof ev, "%s/ds_events.tsv", g_tmp);
    tu_write_file(ev, ds_events);
    assert_int_equal(vbt_twin_update(g_twin, bad, ev, &o, &r, &msg), VBT_EINVAL);
    print_message("%s\n", msg.text);
    assert_non_null(strstr(msg.text, "contacts do not match"));
    char bids[PATH_MAX + 64];
    tu_fmt(bids, sizeof bids, "%s/sub-t1_ses-1_task-seizure_run-09_ieeg.edf", g_tmp);
    write_edf(bids, other, 500, 0);
    tu_fmt(ev, sizeof ev, "%s/sub-t1_ses-1_task-seizure_run-09_events.tsv", g_tmp);
    tu_write_file(ev, ds_events);
    assert_int_equal(vbt_twin_update(g_twin, bids, NULL, &o, &r, &msg), VBT_EINVAL);
    print_message("%s\n", msg.text);
    assert_non_null(strstr(msg.text, "contacts do not match"));
    /* a sampling rate the feature cannot use */
    tu_fmt(bad, sizeof bad, "%s/slow.edf", g_tmp);
    write_edf(bad, CHANNELS, 40, 1);
    tu_fmt(ev, sizeof ev, "%s.events.tsv", bad);
    assert_int_equal(vbt_twin_update(g_twin, bad, ev, &o, &r, &msg), VBT_EINVAL);
    print_message("%s\n", msg.text);
    assert_non_null(strstr(msg.text, "sampling rate 40 Hz cannot be handled"));
    /* no seizure onset: events without one, then no events at all */
    tu_fmt(bad, sizeof bad, "%s/good.edf", g_tmp);
    write_edf(bad, CHANNELS, 500, 0);
    tu_fmt(ev, sizeof ev, "%s/noonset.tsv", g_tmp);
    tu_write_file(ev, "onset\tduration\ttrial_type\n1.0\t1.0\tartifact\n3.0\t0\tsleep\n");
    assert_int_equal(vbt_twin_update(g_twin, bad, ev, &o, &r, &msg), VBT_ENOTFOUND);
    print_message("%s\n", msg.text);
    assert_non_null(strstr(msg.text, "artifact, sleep"));
    assert_int_equal(vbt_twin_update(g_twin, bad, NULL, &o, &r, &msg), VBT_ENOTFOUND);
    assert_non_null(strstr(msg.text, "no seizure onset"));
    /* nothing was written by the refusals */
    char v4[PATH_MAX + 32];
    tu_fmt(v4, sizeof v4, "%s/v0004", g_twin);
    assert_false(tu_exists(v4));
    assert_int_equal(count_staging(g_twin), 0);
    /* the command: exit 1, one line naming the file */
    const char *const a[] = {"twin", "update", g_twin, "--recording", copy, "--events", ev1, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(tu_run(vbt_exe(), a, g_tmp, &out, &err), 1);
    print_message("vbt twin update: %s", err);
    assert_non_null(strstr(err, "renamed.edf"));
    assert_non_null(strstr(err, "already in the twin"));
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n'));
    free(out);
    free(err);
}

static void test_report_and_provenance(void **state)
{
    (void)state;
    char html[PATH_MAX + 32], tsv[PATH_MAX + 32];
    tu_fmt(html, sizeof html, "%s/report.html", g_tmp);
    tu_fmt(tsv, sizeof tsv, "%s/report.tsv", g_tmp);
    const char *const a[] = {"twin", "report", g_twin, "-o", tsv, "--html", html, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(tu_run(vbt_exe(), a, g_tmp, &out, &err), 0);
    free(out);
    free(err);
    char *t = tu_slurp(tsv, NULL), *h = tu_slurp(html, NULL);
    assert_non_null(t);
    assert_non_null(h);
    print_message("%s", t);
    assert_non_null(strstr(t, "p_ez_v0001\tclass_v0001\tp_ez_v0002"));
    assert_non_null(strstr(t, "p_ez_v0003"));
    assert_non_null(strstr(t, "reweighting ESS"));
    assert_non_null(strstr(h, "<svg"));
    assert_non_null(strstr(h, "<polyline"));
    free(t);
    free(h);
    /* provenance: the chain, the recordings' SHA-256, and no folder names */
    char v3[PATH_MAX + 32];
    tu_fmt(v3, sizeof v3, "%s/v0003", g_twin);
    char *vj = tu_slurp(tu_path(v3, "version.json"), NULL);
    assert_non_null(vj);
    assert_non_null(strstr(vj, "\"parent\":\t\"v0002\""));
    assert_non_null(strstr(vj, sha(g_rec[2])));
    assert_non_null(strstr(vj, sha(g_rec[0])));
    assert_non_null(strstr(vj, "reweight_ess"));
    assert_non_null(strstr(vj, "correction_ess"));
    assert_null(strstr(vj, "patient-name"));
    assert_null(strstr(vj, g_tmp));
    free(vj);
    /* the model's settings fix the integration steps per sample at init
     * (the preset's for its points and window), so that a later vbt with
     * another rule still fits every version's model */
    char md[PATH_MAX + 32], want[64];
    tu_fmt(md, sizeof md, "%s/model", g_twin);
    vbt_twin_opts o;
    opts(&o);
    tu_fmt(want, sizeof want, "\"steps_per_sample\":\t%zu",
           vbt_vep_pipeline_preset_steps(&o.fit));
    vj = tu_slurp(tu_path(md, "settings.json"), NULL);
    assert_non_null(vj);
    if (!strstr(vj, want))
        fail_msg("settings.json lacks %s:\n%s", want, vj);
    free(vj);
    /* a setting out of range in a copy of the twin: refused, by name, before
     * any work, the copy untouched */
    char copy[PATH_MAX + 32], cmd[3 * PATH_MAX], cset[PATH_MAX + 64];
    tu_fmt(copy, sizeof copy, "%s/twin-badsettings", g_tmp);
    tu_fmt(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", copy, g_twin, copy);
    assert_int_equal(system(cmd), 0);
    tu_fmt(cset, sizeof cset, "%s/model/settings.json", copy);
    char *sj = tu_slurp(cset, NULL), *e = strstr(sj, "\"ess\":");
    assert_non_null(e);
    e = strchr(e, ':') + 1;
    while (*e == '\t' || *e == ' ')
        e++;
    *e = '7';   /* 0.5 -> 7.5: outside (0, 1) */
    tu_write_file(cset, sj);
    free(sj);
    vbt_twin_result ru;
    vbt_msg msg;
    assert_int_equal(vbt_twin_update(copy, g_rec[3], NULL, &o, &ru, &msg), VBT_EFORMAT);
    print_message("bad setting: %s\n", msg.text);
    assert_non_null(strstr(msg.text, "\"ess\""));
    char v4[PATH_MAX + 48];
    struct stat sb;
    tu_fmt(v4, sizeof v4, "%s/v0004", copy);
    assert_int_not_equal(stat(v4, &sb), 0);
    assert_int_equal(count_staging(copy), 0);
    char v1[PATH_MAX + 32];
    tu_fmt(v1, sizeof v1, "%s/v0001", g_twin);
    vj = tu_slurp(tu_path(v1, "version.json"), NULL);
    assert_null(strstr(vj, "patient-name"));
    assert_non_null(strstr(vj, "sub-t1"));
    free(vj);
    char r1[PATH_MAX + 64];
    tu_fmt(r1, sizeof r1, "%s/v0003/recordings/r1", g_twin);
    vj = tu_slurp(tu_path(r1, "run.json"), NULL);
    assert_non_null(vj);
    assert_null(strstr(vj, "patient-name"));
    assert_null(strstr(vj, g_tmp));
    free(vj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_updates_equal_joint_fit),
        cmocka_unit_test(test_refit_from_latest),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_report_and_provenance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
