/* cmd_fit.c -- `vbt fit --connectome C --gain G --data Y.npy --method
 * nuts|map|laplace|advi|smc -o OUTDIR`: Bayesian inversion of the Virtual
 * Epileptic Patient.  The science is the fit object (fitting/vbt_fit.h);
 * this file reads the options into vbt_fit_opts, loads the inputs, runs
 * the fit with a progress bar, writes its outputs and run.json, prints the
 * table, and continues an interrupted NUTS run from its checkpoint. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "cli.h"
#include "fit_checkpoint.h"
#include "vbt.h"
#include "vbt_fit.h"

static const cli_option opts[] = {
    {.name = "connectome", .kind = CLI_FILE_IN, .metavar = "CONN", .required = 1,
     .doc = "TVB connectome (zip or directory); weights row = target, diagonal zeroed, then "
            "normalised as --normalize says"},
    {.name = "gain", .kind = CLI_FILE_IN, .metavar = "GAIN.npy", .required = 1,
     .doc = "gain matrix [sensor, region] (.npy)"},
    {.name = "data", .kind = CLI_FILE_IN, .metavar = "FEATURE.npy", .required = 1,
     .doc = "the fitted SEEG feature [time, sensor] (.npy), sampled every --dt"},
    {.name = "prior", .kind = CLI_FILE_IN, .metavar = "PRIOR.json",
     .doc = "prior file (docs/fitting.md); default: BVEP's priors"},
    {.name = "method", .kind = CLI_TEXT, .metavar = "M", .def = "nuts",
     .choices = "nuts|map|laplace|advi|smc",
     .doc = "nuts: NUTS chains; map: multi-start L-BFGS; laplace: MAP then Laplace draws "
            "checked by PSIS; advi: MAP then ADVI (--advi-family) from the mode; smc: "
            "likelihood-tempered SMC with HMC moves from the prior (no MAP), which also "
            "estimates the log evidence log p(y) to rank priors (hypotheses)"},
    {.name = "advi-family", .kind = CLI_TEXT, .metavar = "F", .def = "meanfield",
     .choices = "meanfield|fullrank", .when = "method=advi", .doc = "the variational family"},
    {.name = "particles", .kind = CLI_INT, .metavar = "N", .def = "512", .min = 8, .max = 1e6,
     .when = "method=smc", .doc = "particles (the draws written)"},
    {.name = "smc-ess", .kind = CLI_FLOAT, .metavar = "F", .def = "0.5", .min = 0.05,
     .max = 0.99, .when = "method=smc",
     .doc = "each tempering step keeps the effective sample size of the reweighted particles "
            "at this fraction"},
    {.name = "smc-moves", .kind = CLI_INT, .metavar = "N", .def = "10", .min = 1, .max = 10000,
     .when = "method=smc", .doc = "HMC moves of every particle after each tempering step"},
    {.name = "leapfrog", .kind = CLI_INT, .metavar = "N", .def = "10", .min = 1, .max = 10000,
     .when = "method=smc", .doc = "leapfrog steps per HMC move (jittered by +-50 % per move)"},
    {.name = "smc-runs", .kind = CLI_INT, .metavar = "R", .def = "1", .min = 1, .max = 64,
     .when = "method=smc",
     .doc = "independent runs (seeds SEED + k 2^32): their particles are pooled (draws.npy "
            "[run, particle, parameter]) and the spread of their log evidences is the error bar "
            "of the evidence, checked (sd > 1 fails: too few particles or moves to rank "
            "hypotheses)"},
    {.name = "chains", .kind = CLI_INT, .metavar = "N", .def = "4", .min = 1, .max = 64,
     .doc = "NUTS chains (run on --threads threads)"},
    {.name = "warmup", .kind = CLI_INT, .metavar = "N", .def = "1000", .min = 0, .max = 1e7,
     .doc = "NUTS warm-up iterations per chain"},
    {.name = "draws", .kind = CLI_INT, .metavar = "N", .def = "1000", .min = 4, .max = 1e7,
     .doc = "draws per chain (nuts) or Laplace draws (laplace)"},
    {.name = "max-depth", .kind = CLI_INT, .metavar = "N", .def = "10", .min = 1, .max = 20,
     .doc = "NUTS maximum tree depth"},
    {.name = "adapt-delta", .kind = CLI_FLOAT, .metavar = "D", .def = "0.8", .min = 0.5,
     .max = 0.9999, .doc = "NUTS target acceptance statistic"},
    {.name = "metric", .kind = CLI_TEXT, .metavar = "M", .def = "diag",
     .choices = "diag|dense|laplace",
     .doc = "NUTS inverse metric: diag or dense, adapted in warm-up from the Laplace "
            "covariance; laplace: the dense Laplace covariance at the MAP, kept (only the step "
            "size adapts; far fewer leapfrog steps when the posterior is near-Gaussian with "
            "strong correlations, as between amp and the offsets)"},
    {.name = "jumps", .kind = CLI_INT, .metavar = "N", .def = "0", .min = 0, .max = 1000,
     .doc = "NUTS mode jumps: after each transition, N Metropolis proposals that move one "
            "region's x0 (chosen at random) up or down by 1 to 2.5, accepted by the posterior "
            "ratio. They leave the posterior invariant and let chains cross between the modes "
            "of a region the sensors do not see (at rest, or seizing too late to show), which "
            "trajectories do not connect; each costs a gradient (docs/fitting.md)"},
    {.name = "init", .kind = CLI_TEXT, .metavar = "I", .def = "map",
     .choices = "map|modes|prior",
     .doc = "NUTS starting points: map (the best MAP mode jittered by half a Laplace sd, "
            "Laplace metric); modes (chain c at the c-th best distinct MAP mode within 10 of "
            "the best lp, cycling, same jitter and metric: chains then disagree, and say so, "
            "when the posterior has several modes of similar height); or prior (prior draws, "
            "unit metric)"},
    {.name = "starts", .kind = CLI_INT, .metavar = "N", .def = "16", .min = 1, .max = 4096,
     .doc = "MAP starts (prior draws)"},
    {.name = "map-init", .kind = CLI_TEXT, .metavar = "I", .def = "data", .choices = "data|prior",
     .doc = "MAP starting points: data (even starts at x0 back-projected from the sensors' "
            "rise above their first --baseline samples, jittered by 0.5; odd starts at prior "
            "draws) or prior (every start a prior draw)"},
    {.name = "map-iter", .kind = CLI_INT, .metavar = "N", .def = "100", .min = 1, .max = 1e7,
     .doc = "L-BFGS iterations per start: a cheap screen that ranks the starts for the "
            "polish (L-BFGS stalls on this posterior; the polish climbs much faster)"},
    {.name = "polish", .kind = CLI_INT, .metavar = "K", .def = "16", .min = 0, .max = 4096,
     .doc = "polish only the K starts whose L-BFGS ended highest; 0: every start. The "
            "polish takes at most 10 Newton steps on a finite-difference Hessian, each "
            "followed by BFGS steps from that Hessian's inverse, and proves the mode on a "
            "fresh Hessian. A Hessian costs a gradient per parameter: at 84 regions the "
            "polish is most of the MAP's time"},
    {.name = "hop-rounds", .kind = CLI_INT, .metavar = "R", .def = "0", .min = 0, .max = 64,
     .doc = "after the polish, R rounds of --hops hops, each from the best mode so far: K "
            "scaled by exp(0.5 N(0, 1)), each region below the EZ line put at x0 -1.8 with "
            "probability 0.05 and each one above it back at its prior mean with probability "
            "0.3, then L-BFGS and the polish. Modes that differ in K and in several regions "
            "at once are reached far more often than by more starts (docs/fitting.md); "
            "map_starts.csv lists the hops after the starts"},
    {.name = "hops", .kind = CLI_INT, .metavar = "H", .def = "6", .min = 1, .max = 4096,
     .doc = "hops per round (--hop-rounds)"},
    {.name = "offsets", .kind = CLI_TEXT, .metavar = "O", .choices = "marginal|sample",
     .doc = "the sensor offsets: marginal (the default, unless the prior file says "
            "\"offset\": {\"marginal\": false}): integrated out of the likelihood exactly, so "
            "the sampler sees the same posterior of everything else without the offsets' "
            "narrow ridges with amp and the dynamics (half the leapfrog steps), and each draw's "
            "offsets are drawn from their Gaussian conditional; or sample: one free parameter "
            "per offset, as BVEP's Stan model"},
    {.name = "scheme", .kind = CLI_TEXT, .metavar = "S", .def = "euler",
     .choices = "euler|heun|rk4", .doc = "integration scheme of the model"},
    {.name = "dt", .kind = CLI_FLOAT, .metavar = "DT", .def = "0.1", .min = 1e-9, .max = 1e9,
     .doc = "time between samples of the feature (model time units)"},
    {.name = "steps", .kind = CLI_INT, .metavar = "N", .def = "1", .min = 1, .max = 1000,
     .doc = "integration steps per sample"},
    {.name = "obs", .kind = CLI_TEXT, .metavar = "O", .def = "linear",
     .choices = "linear|log|power|seizure",
     .doc = "observation: linear amp G x + off[s]; log amp log(G exp x) + off; power "
            "log(G exp(amp x)) + off[s], the log power of the sensor when region i radiates "
            "power exp(amp x_i) through the power gain G (use with --gain-norm power); "
            "seizure amp G S(x) + off[s], S a logistic step at --seizure-x of width "
            "--seizure-width: each region adds amp while in seizure (use with --gain-norm "
            "power --data-norm power)"},
    {.name = "seizure-x", .kind = CLI_FLOAT, .metavar = "X", .def = "-1", .min = -10, .max = 10,
     .when = "obs=seizure", .doc = "the x above which a region counts as in seizure"},
    {.name = "seizure-width", .kind = CLI_FLOAT, .metavar = "W", .def = "0.1", .min = 1e-3,
     .max = 10, .when = "obs=seizure", .doc = "width of the logistic step"},
    {.name = "data-norm", .kind = CLI_TEXT, .metavar = "N", .def = "none",
     .choices = "none|power|excess|baseline",
     .doc = "feature normalisation before the fit: none; power: per channel "
            "exp(y - baseline) - 1 (power relative to the median of the first --baseline "
            "samples), all channels divided by the largest value; excess: exp(y) - "
            "exp(baseline), the power above the baseline, divided by the largest value; "
            "baseline: y - baseline (log power relative to the pre-ictal baseline) "
            "(docs/fitting.md)"},
    {.name = "baseline", .kind = CLI_INT, .metavar = "N", .def = "5", .min = 1, .max = 1e6,
     .doc = "samples at the start of the feature taken as its pre-ictal baseline "
            "(--data-norm power|baseline; --map-init data)"},
    {.name = "gain-norm", .kind = CLI_TEXT, .metavar = "N", .def = "none",
     .choices = "none|max|power|power-abs",
     .doc = "gain normalisation: none; max: divided by its largest entry; power: squared "
            "(amplitude gain to power gain) and each sensor's row scaled to sum 1 (for "
            "--data-norm power); power-abs: squared and divided by the median over sensors of "
            "their largest entry (for --data-norm excess)"},
    {.name = "normalize", .kind = CLI_TEXT, .metavar = "N", .def = "max",
     .choices = "max|row-sum|none", .doc = "connectome weight normalisation"},
    {.name = "strict", .kind = CLI_FLAG,
     .doc = "exit with status 1 when a diagnostic fails (outputs are still written)"},
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUTDIR",
     .required = 1, .doc = "output directory (created; its parent must exist)"},
    {.name = "checkpoint-every", .kind = CLI_INT, .metavar = "N", .def = "100", .min = 0,
     .max = 1e7,
     .when = "method=nuts",
     .doc = "save the run to OUTDIR.checkpoint every N iterations of each chain, and when "
            "interrupted, so that --resume can finish it; 0: no checkpoint"},
    {.name = "resume", .kind = CLI_TEXT, .metavar = "OUTDIR", .standalone = 1,
     .doc = "continue the interrupted run that was writing OUTDIR from OUTDIR.checkpoint, "
            "with that run's own command line (only --threads, --quiet and --verbose may be "
            "given with it); ends with the draws of an uninterrupted run"},
};

static const char *const refs[] = {
    "Hashemi et al. (2020) The Bayesian Virtual Epileptic Patient. NeuroImage 217:116839",
    "Betancourt (2017) A conceptual introduction to Hamiltonian Monte Carlo. arXiv:1701.02434",
    "Vehtari et al. (2021) Rank-normalization, folding, and localization: an improved R-hat. "
    "Bayesian Analysis 16(2):667-718",
    "Vehtari et al. (2024) Pareto smoothed importance sampling. JMLR 25(72)",
    "Del Moral, Doucet & Jasra (2006) Sequential Monte Carlo samplers. JRSS B 68(3):411-436",
    "Buchholz, Chopin & Jacob (2021) Adaptive tuning of Hamiltonian Monte Carlo within "
    "sequential Monte Carlo. Bayesian Analysis 16(3):745-771",
    NULL,
};

/* ---- progress and log ------------------------------------------------------------- */

typedef struct prog {
    const cli_parsed *p;
    cli_progress bar;
    int begun, stopped;         /* begun: 0 no bar, 1 NUTS's, 2 the MAP stage's */
    size_t it[VBT_FIT_MAX_CHAINS], div[VBT_FIT_MAX_CHAINS];
    double eps[VBT_FIT_MAX_CHAINS];
    long stop_after;            /* test hook VBT_TEST_STOP_AFTER (0: none) */
} prog;

/* The library serialises these calls. */
static int on_progress(void *ctx, const vbt_fit_progress *fp)
{
    prog *pg = ctx;
    if (!strcmp(fp->stage, "done")) {
        if (pg->begun)
            cli_progress_end(&pg->bar);
        pg->begun = 0;
        return pg->stopped = cli_interrupted != 0;
    }
    int is_map = !strcmp(fp->stage, "map");
    if (pg->begun && pg->begun != 1 + is_map) { /* the MAP stage ended: a bar for NUTS */
        cli_progress_end(&pg->bar);
        pg->begun = 0;
    }
    if (!pg->begun) {
        cli_progress_begin(&pg->bar, pg->p, is_map ? "map" : "nuts");
        pg->begun = 1 + is_map;
    }
    if (is_map) {
        char steps[96];
        snprintf(steps, sizeof steps, "%zu of %zu starts, polishes and hops", fp->iteration,
                 fp->total);
        cli_progress_update(&pg->bar, fp->fraction, steps);
        return cli_interrupted;
    }
    pg->it[fp->chain] = fp->iteration;
    pg->eps[fp->chain] = fp->stepsize;
    pg->div[fp->chain] = fp->divergences;
    char extra[1024];
    size_t len = 0;
    for (size_t k = 0; k < fp->n_chains; k++)
        if (len < sizeof extra - 64)
            len += (size_t)snprintf(extra + len, sizeof extra - len, "%s%zu: %zu eps %.2g div %zu",
                                    k ? " | " : "", k + 1, pg->it[k], pg->eps[k], pg->div[k]);
    cli_progress_update(&pg->bar, fp->fraction, extra);
    return cli_interrupted;
}

static void on_log(void *ctx, int level, const char *text)
{
    if (level == VBT_FIT_LOG_WARNING)
        cli_error(ctx, "%s", text);
    else
        cli_info(ctx, "%s", text);
}

/* Test hook: die as a kill would, right after a checkpoint. */
static void on_saved(void *ctx, size_t iterations)
{
    const prog *pg = ctx;
    if (pg->stop_after > 0 && iterations >= (size_t)pg->stop_after)
        _exit(CLI_ERROR);
}

/* ---- checkpoint ------------------------------------------------------------------- */

/* A fresh run refuses to start over an interrupted one (unless --force,
 * which deletes its checkpoint); *use: it will write one. */
static int checkpoint_begin(const cli_parsed *p, const char *path, int *use, vbt_msg *msg)
{
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!p->common.force) {
            snprintf(msg->text, sizeof msg->text, "'%.500s' holds an interrupted run: continue "
                     "it with 'vbt fit --resume %.400s', or give --force to start over", path,
                     cli_str(p, "output"));
            return -1;
        }
        if (unlink(path) != 0) {
            snprintf(msg->text, sizeof msg->text, "'%.900s': %s", path, strerror(errno));
            return -1;
        }
    }
    *use = !strcmp(cli_str(p, "method"), "nuts") && cli_float(p, "checkpoint-every") != 0;
    return 0;
}

/* Identify the run (a resumed one must be the interrupted one: rec) and
 * set the checkpoint up; -1 with msg set, -2 when reported. */
static int checkpoint_arm(const cli_parsed *p, vbt_fit *f, const fit_record *rec,
                          const char *path, prog *pg, vbt_msg *msg)
{
    fit_record now;
    memset(&now, 0, sizeof now);
    size_t len = 0;
    unsigned char *bytes = NULL;
    int rc = fit_record_identify(&now, p, msg);
    if (!rc && rec && fit_record_compare(rec, &now, msg))
        rc = -3;
    if (!rc && !(bytes = fit_record_encode(&now, &len))) {
        snprintf(msg->text, sizeof msg->text, "out of memory");
        rc = -1;
    }
    const char *e = getenv("VBT_TEST_STOP_AFTER");
    pg->stop_after = e ? atol(e) : 0;
    if (!rc && vbt_fit_set_checkpoint(f, path, (size_t)cli_float(p, "checkpoint-every"), bytes,
                                      len, on_saved, pg, msg))
        rc = -1;
    if (!rc && rec && vbt_fit_resume(f, path, msg))
        rc = -3;
    if (rc == -3) {
        cli_error(p, "cannot resume from '%s': %s", path, msg->text);
        rc = -2;
    }
    free(bytes);
    fit_record_clear(&now);
    return rc;
}

/* ---- the run ---------------------------------------------------------------------- */

/* run.json, the commit of the outputs, the checkpoint's removal. */
static int finish(const cli_parsed *p, vbt_fit *f, vbt_outdir *od, const char *ckpath,
                  int resumed, int has_ck, vbt_msg *msg)
{
    char err[1024];
    cJSON *prov = fit_provenance(p, f, resumed ? ckpath : NULL, err, sizeof err);
    if (!prov) {
        vbt_outdir_abort(od);
        snprintf(msg->text, sizeof msg->text, "%s", err);
        return -1;
    }
    int bad = cli_write_json(od, "run.json", prov, msg);
    cJSON_Delete(prov);
    if (bad) {
        vbt_outdir_abort(od);
        return -1;
    }
    if (vbt_outdir_commit(od, msg))
        return -1;
    if (has_ck && unlink(ckpath) != 0 && errno != ENOENT)
        cli_error(p, "WARNING: cannot remove the checkpoint '%s': %s", ckpath, strerror(errno));
    return 0;
}

static int run_fit(const cli_parsed *p, const fit_record *resume)
{
    vbt_fit_opts o;
    fit_options(p, &o);
    char ckpath[4096];
    vbt_msg msg = {{0}};
    if (vbt_fit_checkpoint_path(cli_str(p, "output"), ckpath, sizeof ckpath)) {
        cli_error(p, "--output: path too long");
        return CLI_ERROR;
    }
    openblas_set_num_threads(1); /* the parallelism is across starts and chains */
    fit_inputs in;
    memset(&in, 0, sizeof in);
    vbt_fit *f = NULL;
    vbt_outdir *od = NULL;
    prog pg = {.p = p};
    int rc = CLI_ERROR, use_ck = resume != NULL, arm = 0;
    if ((!resume && checkpoint_begin(p, ckpath, &use_ck, &msg)) ||
        vbt_outdir_begin(&od, cli_str(p, "output"), p->common.force, &msg) ||
        fit_load_inputs(p, &in, &msg) ||
        vbt_fit_alloc(&f, in.conn, &in.gain, &in.data, &in.priors, &o, &msg) ||
        (use_ck && (arm = checkpoint_arm(p, f, resume, ckpath, &pg, &msg)) != 0)) {
        if (arm != -2)
            cli_error(p, "%s", msg.text);
        goto out;
    }
    vbt_fit_set_log(f, on_log, (void *)p);
    vbt_fit_set_progress(f, on_progress, &pg);
    cli_install_signal_handlers();
    int st = vbt_fit_run(f, &msg);
    if (pg.begun)
        cli_progress_end(&pg.bar);
    struct stat sb;
    if (st && pg.stopped) {
        cli_error(p, "interrupted; nothing written");
        goto out;
    }
    if (st && use_ck && stat(ckpath, &sb) == 0) {
        size_t l = strlen(msg.text);
        snprintf(msg.text + l, sizeof msg.text - l, "; checkpoint '%.400s': continue with "
                 "'vbt fit --resume %.400s'", ckpath, cli_str(p, "output"));
    }
    if (!st && !vbt_fit_write(f, od, &msg)) {
        int bad = finish(p, f, od, ckpath, resume != NULL, use_ck, &msg);
        od = NULL; /* committed or aborted */
        if (!bad) {
            fit_print(p, f, in.conn);
            rc = vbt_fit_trustworthy(f) || !cli_flag(p, "strict") ? CLI_OK : CLI_ERROR;
            goto out;
        }
    }
    cli_error(p, "%s", msg.text);
out:
    vbt_outdir_abort(od);
    vbt_fit_free(f);
    vbt_connectome_free(in.conn);
    vbt_array_clear(&in.gain);
    vbt_array_clear(&in.data);
    return rc;
}

/* `vbt fit --resume OUTDIR`: read the record of OUTDIR.checkpoint, go to the
 * directory the interrupted run was started in, parse its command line
 * again and run it from the checkpoint.  --threads, --quiet and --verbose
 * may be given anew; they do not change the draws. */
static int resume_args(const cli_parsed *p)
{
    for (size_t i = 0; i < p->cmd->n_opts; i++)
        if (p->values[i] && strcmp(p->cmd->opts[i].name, "resume")) {
            cli_error(p, "--%s cannot be given with --resume: the interrupted run's own "
                         "options are used (only --threads, --quiet and --verbose may be "
                         "given)", p->cmd->opts[i].name);
            return CLI_USAGE;
        }
    if (p->common.force || p->common.seed_given) {
        cli_error(p, "--%s cannot be given with --resume: the interrupted run's own options "
                     "are used (only --threads, --quiet and --verbose may be given)",
                  p->common.force ? "force" : "seed");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int run_resume(const cli_parsed *p)
{
    const char *dir = cli_str(p, "resume");
    int rc = resume_args(p), threads_given = 0;
    if (rc)
        return rc;
    for (int a = 2; a < p->argc; a++)
        threads_given |= !strncmp(p->argv[a], "--threads", 9);
    char path[4096];
    struct stat sb;
    if (vbt_fit_checkpoint_path(dir, path, sizeof path) || stat(path, &sb) != 0) {
        cli_error(p, "no checkpoint '%s' to resume from (the run finished, never began "
                     "sampling with --checkpoint-every > 0, or OUTDIR is another)", path);
        return CLI_ERROR;
    }
    fit_record k;
    memset(&k, 0, sizeof k);
    vbt_msg msg = {{0}};
    cli_parsed run;
    void *rec = NULL;
    size_t len = 0;
    rc = CLI_ERROR;
    if (vbt_fit_checkpoint_record(path, &rec, &len, &msg) ||
        fit_record_decode(&k, rec, len, path, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    if (chdir(k.cwd) != 0) {
        cli_error(p, "cannot resume: the run's working directory '%s': %s", k.cwd,
                  strerror(errno));
        goto out;
    }
    if (cli_parse(p->cmd, k.argc, k.argv, 2, &run, &rc) != 0)
        goto out;
    /* the command line must lead back to this very checkpoint */
    char again[4096];
    struct stat sa;
    if (cli_str(&run, "resume") ||
        vbt_fit_checkpoint_path(cli_str(&run, "output"), again, sizeof again) ||
        stat(again, &sa) != 0 || sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino) {
        cli_error(p, "cannot resume: '%s' belongs to a run writing elsewhere", path);
        rc = CLI_ERROR;
        goto out;
    }
    if (threads_given)
        run.common.threads = p->common.threads;
    run.common.quiet |= p->common.quiet;
    run.common.verbose |= p->common.verbose;
    rc = run_fit(&run, &k);
out:
    free(rec);
    fit_record_clear(&k);
    return rc;
}

static int run(const cli_parsed *p)
{
    return cli_str(p, "resume") ? run_resume(p) : run_fit(p, NULL);
}

const cli_command cli_cmd_fit = {
    .name = "fit",
    .synopsis = "Bayesian inversion of the Virtual Epileptic Patient (NUTS, MAP, Laplace, ADVI, "
                "SMC)",
    .description =
        "Fits BVEP's 2D Epileptor network (docs/fitting.md) to an SEEG feature FEATURE.npy "
        "[time, sensor] through the gain [sensor, region] and the connectome.  --method map "
        "runs multi-start L-BFGS and writes the mode and the per-start table; laplace adds "
        "draws from the Gaussian at the mode with Pareto-smoothed importance weights (k-hat "
        "says whether they can be trusted); nuts (default) runs --chains NUTS chains on "
        "--threads threads, as Stan does (multinomial trajectories, generalised U-turn, "
        "dual-averaging step size, windowed warm-up of a diagonal or dense metric), started "
        "from the best MAP mode jittered by half a Laplace standard deviation with the "
        "Laplace covariance as the initial metric.  Chain c uses the random stream (seed, "
        "c): the draws do not depend on --threads.  smc runs likelihood-tempered sequential "
        "Monte Carlo from the prior: --particles prior draws are reweighted by L^(beta' - "
        "beta) with the next temperature chosen so that the effective sample size stays at "
        "--smc-ess, resampled, and moved by --smc-moves HMC transitions (--leapfrog steps, "
        "diagonal mass matrix from the particles' spread, step size adapted to an "
        "acceptance of 0.7) until beta = 1; the particles are the draws, and summary.json's "
        "\"smc\" object gives the log evidence log p(y), which ranks priors (EZ hypotheses) "
        "for one patient; R-hat and ESS do not apply to it (null).\n\n"
        "Diagnostics (Vehtari et al. 2021): rank-normalised split R-hat, bulk and tail ESS, "
        "divergences, tree-depth saturation, E-BFMI, step sizes.  A chain whose mean log "
        "density is more than 10 below the best chain's, or whose step size is below a "
        "tenth of the median, is reported as stuck and excluded from the summaries with a "
        "warning.  Failing diagnostics are listed on stderr and in summary.json; with "
        "--strict the exit status is then 1.\n\n"
        "Outputs in OUTDIR: summary.json and summary.csv (mean, sd, 5/50/95 %, MCSE, R-hat, "
        "ESS per parameter, natural units), regions.csv (P(EZ), P(PZ), P(HZ) per region with "
        "BVEP's thresholds: EZ x0 >= -2.05, PZ -3.05 <= x0 < -2.05, HZ below), "
        "data.npy [time, sensor] (the feature as fitted, after --data-norm: the predictive's "
        "units), predictive.npy [3, time, sensor] (5 %, mean, 95 % of the posterior predictive "
        "feature, observation noise included; at the mode for map), draws.npy [chain, draw, "
        "parameter], draws_chainN.csv (CmdStan's columns: lp__ ... energy__ then x0.1 ...), "
        "sampler.npy [chain, draw, 7], map_starts.csv, log_weights.npy (laplace), "
        "loo_pointwise.npy [time, sensor] (nuts: each observation's PSIS-LOO elpd; elpd_loo, "
        "p_loo, LOOIC, WAIC and Pareto k counts under \"loo\" in summary.json, to compare "
        "fits of one patient under different priors) and run.json "
        "(SHA-256 of the inputs, options, seed, timing).\n\n"
        "Checkpoints (nuts): the run is saved to OUTDIR.checkpoint (beside OUTDIR, written "
        "atomically) after the MAP stage, every --checkpoint-every iterations of each chain "
        "and when interrupted. After a kill or Ctrl-C, 'vbt fit --resume OUTDIR' continues "
        "it with its own recorded command line, refuses (exit 1) when an input, an option or "
        "the vbt version changed, and ends with the draws of an uninterrupted run; the "
        "checkpoint is removed once the outputs are in place. A new run refuses to start "
        "while OUTDIR.checkpoint exists; --force deletes it and starts over.",
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = run,
};
