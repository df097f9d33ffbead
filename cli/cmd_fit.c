/* cmd_fit.c -- `vbt fit --connectome C --gain G --data Y.npy --method
 * nuts|map|laplace|advi|smc -o OUTDIR`: Bayesian inversion of the Virtual
 * Epileptic Patient (fitting/vbt_vep.h) by multi-start MAP, MAP + Laplace
 * with PSIS, ADVI, NUTS chains on threads started from jittered MAP with the
 * Laplace covariance as the initial metric, or likelihood-tempered SMC from
 * the prior (with the log evidence); convergence diagnostics (Vehtari et al.
 * 2021), stuck-chain detection, EZ/PZ/HZ probabilities, a posterior
 * predictive of the SEEG feature, and a provenance sidecar. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "cli.h"
#include "fit_checkpoint.h"
#include "strbuf.h"
#include "vbt_advi.h"
#include "vbt.h"
#include "vbt_diagnostics.h"
#include "vbt_loo.h"
#include "vbt_nuts.h"

#define PPC_MAX 200    /* posterior-predictive draws (evenly thinned) */
#define LOO_MAX 1000   /* PSIS-LOO draws (evenly thinned) */
#define LP_GAP 10.0    /* stuck chain: mean lp more than this below the best */
#define EPS_RATIO 0.1  /* stuck chain: step size below this x the median */

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
     .choices = "meanfield|fullrank", .doc = "[advi] the variational family"},
    {.name = "particles", .kind = CLI_INT, .metavar = "N", .def = "512", .min = 8, .max = 1e6,
     .doc = "[smc] particles (the draws written)"},
    {.name = "smc-ess", .kind = CLI_FLOAT, .metavar = "F", .def = "0.5", .min = 0.05,
     .max = 0.99, .doc = "[smc] each tempering step keeps the effective sample size of the "
                        "reweighted particles at this fraction"},
    {.name = "smc-moves", .kind = CLI_INT, .metavar = "N", .def = "10", .min = 1, .max = 10000,
     .doc = "[smc] HMC moves of every particle after each tempering step"},
    {.name = "leapfrog", .kind = CLI_INT, .metavar = "N", .def = "10", .min = 1, .max = 10000,
     .doc = "[smc] leapfrog steps per HMC move (jittered by +-50 % per move)"},
    {.name = "smc-runs", .kind = CLI_INT, .metavar = "R", .def = "1", .min = 1, .max = 64,
     .doc = "[smc] independent runs (seeds SEED + k 2^32): their particles are pooled (draws.npy "
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
     .doc = "[--obs seizure] the x above which a region counts as in seizure"},
    {.name = "seizure-width", .kind = CLI_FLOAT, .metavar = "W", .def = "0.1", .min = 1e-3,
     .max = 10, .doc = "[--obs seizure] width of the logistic step"},
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
     .doc = "[nuts] save the run to OUTDIR.checkpoint every N iterations of each chain, and "
            "when interrupted, so that --resume can finish it; 0: no checkpoint"},
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

/* ---- small helpers ------------------------------------------------------ */

static int vep_logp_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

/* Stan's CSV names: "x0[3]" -> "x0.3". */
static void stan_name(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s", name);
    char *b = strchr(out, '[');
    if (b) {
        *b = '.';
        char *e = strchr(b, ']');
        if (e)
            *e = '\0';
    }
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* Index in theta of region r's x0 (0-based r), or -1 when x0 is fixed. */
static long x0_index(const vbt_vep *m, size_t r)
{
    char nm[32];
    snprintf(nm, sizeof nm, "x0[%zu]", r + 1);
    return vbt_vep_param_index(m, nm);
}

static const char *region_class(double x0)
{
    return vbt_vep_class_name(vbt_vep_x0_class(x0));
}

/* Provenance of an input that may be a directory (a TVB connectome):
 * then the SHA-256 of every regular file in it, by name. */
static int add_input(cJSON *prov, const char *role, const char *path, char *err, size_t n)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_provenance_add_input(prov, role, path, err, n);
    cJSON *inputs = cJSON_GetObjectItemCaseSensitive(prov, "inputs");
    cJSON *item = cJSON_CreateObject(), *files = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "path", path);
    cJSON_AddItemToObject(item, "files", files);
    cJSON_AddItemToObject(inputs, role, item);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, n, "'%s': cannot read the directory", path);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char fp[4096], hex[65];
        vbt_msg msg;
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        if (e->d_name[0] == '.' || stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (vbt_sha256_file(fp, hex, &msg)) {
            snprintf(err, n, "%s", msg.text);
            closedir(d);
            return -1;
        }
        cJSON_AddStringToObject(files, e->d_name, hex);
    }
    closedir(d);
    return 0;
}

/* ---- progress ------------------------------------------------------------- */

#define MAXCH 64

typedef struct prog {
    pthread_mutex_t lock;
    cli_progress bar;
    size_t n_chains, it[MAXCH], total;
    double eps[MAXCH];
    size_t div[MAXCH];
} prog;

static int on_progress(void *pctx, size_t c, size_t it, size_t total, double eps, size_t div)
{
    prog *pg = pctx;
    pthread_mutex_lock(&pg->lock);
    pg->it[c] = it;
    pg->eps[c] = eps;
    pg->div[c] = div;
    pg->total = total;
    size_t done = 0;
    char extra[1024];
    size_t len = 0;
    for (size_t k = 0; k < pg->n_chains; k++) {
        done += pg->it[k];
        if (len < sizeof extra - 64)
            len += (size_t)snprintf(extra + len, sizeof extra - len, "%s%zu: %zu eps %.2g div %zu",
                                    k ? " | " : "", k + 1, pg->it[k], pg->eps[k], pg->div[k]);
    }
    cli_progress_update(&pg->bar, (double)done / (double)(total * pg->n_chains), extra);
    pthread_mutex_unlock(&pg->lock);
    return cli_interrupted;
}

/* ---- the fit ---------------------------------------------------------------- */

typedef struct fit {
    const cli_parsed *p;
    vbt_connectome *conn;
    vbt_array gain, data;
    vbt_vep_spec spec;
    vbt_vep *m;
    size_t np, nr, ns, nt;
    /* MAP */
    vbt_vep_map_opts mo;
    vbt_vep_map_result mr;
    double *map, *lp_starts, *th_starts;
    double map_wall;
    /* draws in natural units: [chain][draw][param], weights (laplace) */
    size_t n_chains, n_draws;
    double *nat;
    double *log_w;          /* laplace: normalised PSIS log weights */
    vbt_nuts_stats *stats;  /* nuts */
    vbt_nuts_chain_info *info;
    int *stuck;
    size_t n_stuck;
    double *mean_lp;
    vbt_vep_laplace_result lr;
    vbt_advi_result ar;
    vbt_smc_result sr;      /* smc: the pooled runs (log evidence: log of the mean of
                               the runs' evidences; counts summed; step size and steps of
                               the first run; accept_rate the lowest last-step rate) */
    vbt_smc_result *srs;    /* smc: each of the n_chains runs */
    double logz_sd;         /* smc: sd of the runs' log evidences (NAN for one run) */
    double *betas;          /* smc: the temperature after each step of the first run */
    double smc_wall;
    int laplace_metric_ok;
    char laplace_metric_msg[sizeof(vbt_msg)];
    double wall;
    cJSON *diag;            /* diagnostics object of summary.json */
    int loo_written;        /* loo_pointwise.npy is among the outputs */
    cJSON *failures;        /* array of strings */
    fit_ckpt *ck;           /* the checkpoint written while sampling, or NULL */
    int resumed;            /* ck was read from a checkpoint: MAP and starts come from it */
} fit;

static void fail_check(fit *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_check(fit *f, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(f->failures, cJSON_CreateString(buf));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --data-norm power: y'_ts = (exp(y_ts - b_s) - 1) / D, b_s the median of the
 * first --baseline samples of channel s, D the largest value over all.  The
 * feature is a log power envelope; exp(. - b) - 1 is the power relative to the
 * pre-ictal baseline, which adds up linearly over sources as the linear
 * observation amp G x + off assumes, and D brings it to [0, 1] so that BVEP's
 * unit priors on amp and off fit.  --data-norm baseline: y_ts - b_s, the log
 * power relative to the baseline.  --gain-norm max: G / max(G).  --gain-norm
 * power: G_si^2 / sum_j G_sj^2: sources add up in power, so the power gain of
 * an amplitude gain is its square; the row scaling only moves the per-sensor
 * offsets of the power observation. */
static int normalise_inputs(fit *f, vbt_msg *msg)
{
    const cli_parsed *p = f->p;
    if (!strcmp(cli_str(p, "gain-norm"), "power")) {
        size_t nr = f->gain.shape[1];
        for (size_t r = 0; r < f->gain.shape[0]; r++) {
            double *g = f->gain.data + r * nr, sum = 0.0;
            for (size_t j = 0; j < nr; j++)
                sum += g[j] * g[j];
            if (!(sum > 0.0) || !isfinite(sum)) {
                snprintf(msg->text, sizeof msg->text,
                         "--gain-norm power: gain row %zu is zero or not finite", r + 1);
                return -1;
            }
            for (size_t j = 0; j < nr; j++)
                g[j] = g[j] * g[j] / sum;
        }
    }
    if (!strcmp(cli_str(p, "gain-norm"), "power-abs")) {
        size_t nr = f->gain.shape[1], ns = f->gain.shape[0];
        double *rmax = malloc(ns * sizeof *rmax);
        if (!rmax) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            return -1;
        }
        for (size_t r = 0; r < ns; r++) {
            rmax[r] = 0.0;
            for (size_t j = 0; j < nr; j++) {
                double *g = f->gain.data + r * nr + j;
                *g *= *g;
                rmax[r] = fmax(rmax[r], *g);
            }
        }
        qsort(rmax, ns, sizeof *rmax, cmp_double);
        double med = ns % 2 ? rmax[ns / 2] : 0.5 * (rmax[ns / 2 - 1] + rmax[ns / 2]);
        free(rmax);
        if (!(med > 0.0) || !isfinite(med)) {
            snprintf(msg->text, sizeof msg->text, "--gain-norm power-abs: the gain is zero for "
                                                  "half the sensors or more");
            return -1;
        }
        for (size_t i = 0; i < f->gain.size; i++)
            f->gain.data[i] /= med;
    }
    if (!strcmp(cli_str(p, "gain-norm"), "max")) {
        double gm = 0.0;
        for (size_t i = 0; i < f->gain.size; i++)
            gm = fmax(gm, fabs(f->gain.data[i]));
        if (!(gm > 0.0) || !isfinite(gm)) {
            snprintf(msg->text, sizeof msg->text, "--gain-norm max: the gain is zero");
            return -1;
        }
        for (size_t i = 0; i < f->gain.size; i++)
            f->gain.data[i] /= gm;
    }
    const char *dn = cli_str(p, "data-norm");
    int rel = !strcmp(dn, "baseline"), exc = !strcmp(dn, "excess");
    if (!rel && !exc && strcmp(dn, "power"))
        return 0;
    size_t nb = (size_t)cli_float(p, "baseline");
    if (nb > f->nt)
        nb = f->nt;
    double *tmp = malloc(nb * sizeof *tmp);
    if (!tmp) {
        snprintf(msg->text, sizeof msg->text, "out of memory");
        return -1;
    }
    double *y = f->data.data, D = 0.0;
    for (size_t c = 0; c < f->ns; c++) {
        for (size_t t = 0; t < nb; t++)
            tmp[t] = y[t * f->ns + c];
        qsort(tmp, nb, sizeof *tmp, cmp_double);
        double b = nb % 2 ? tmp[nb / 2] : 0.5 * (tmp[nb / 2 - 1] + tmp[nb / 2]);
        for (size_t t = 0; t < f->nt; t++) {
            double v = rel   ? y[t * f->ns + c] - b
                       : exc ? exp(y[t * f->ns + c]) - exp(b)
                             : expm1(y[t * f->ns + c] - b);
            y[t * f->ns + c] = v;
            D = fmax(D, v);
        }
    }
    free(tmp);
    if (rel)
        return 0;
    if (!(D > 0.0) || !isfinite(D)) {
        snprintf(msg->text, sizeof msg->text,
                 "--data-norm %s: the feature never rises above its baseline (or overflows)", dn);
        return -1;
    }
    for (size_t i = 0; i < f->data.size; i++)
        y[i] /= D;
    return 0;
}

static int load_inputs(fit *f, vbt_msg *msg)
{
    const cli_parsed *p = f->p;
    if (vbt_connectome_load(&f->conn, cli_str(p, "connectome"), msg) ||
        vbt_npy_read(cli_str(p, "gain"), &f->gain, msg) ||
        vbt_npy_read(cli_str(p, "data"), &f->data, msg))
        return -1;
    f->nr = f->conn->n;
    if (f->gain.ndim != 2 || f->gain.shape[1] != f->nr) {
        snprintf(msg->text, sizeof msg->text, "'%s': gain must be [sensor, region] with %zu "
                 "regions (the connectome's), got %zu dimension(s)%s", cli_str(p, "gain"), f->nr,
                 f->gain.ndim, f->gain.ndim == 2 ? " of the wrong width" : "");
        return -1;
    }
    f->ns = f->gain.shape[0];
    if (f->data.ndim != 2 || f->data.shape[1] != f->ns) {
        snprintf(msg->text, sizeof msg->text, "'%s': data must be [time, sensor] with %zu "
                 "sensors (the gain's rows)", cli_str(p, "data"), f->ns);
        return -1;
    }
    f->nt = f->data.shape[0];
    if (normalise_inputs(f, msg))
        return -1;
    vbt_vep_spec *s = &f->spec;
    vbt_vep_spec_default(s);
    s->priors.off_marginal = 1; /* vbt fit's default; the prior file and --offsets override */
    if (cli_str(p, "prior") &&
        vbt_vep_priors_load_json(&s->priors, cli_str(p, "prior"),
                                 (const char (*)[VBT_LABEL_MAX])f->conn->labels, f->nr, msg))
        return -1;
    if (cli_str(p, "offsets"))
        s->priors.off_marginal = !strcmp(cli_str(p, "offsets"), "marginal");
    s->n_regions = f->nr;
    s->n_sensors = f->ns;
    s->n_samples = f->nt;
    s->weights = f->conn->weights;
    const char *norm = cli_str(p, "normalize");
    s->normalize = !strcmp(norm, "max") ? VBT_NORMALIZE_MAX
                   : !strcmp(norm, "row-sum") ? VBT_NORMALIZE_ROWSUM : VBT_NORMALIZE_NONE;
    s->gain = f->gain.data;
    s->data = f->data.data;
    const char *sc = cli_str(p, "scheme");
    s->scheme = !strcmp(sc, "rk4") ? VBT_VEP_RK4 : !strcmp(sc, "heun") ? VBT_VEP_HEUN
                                                                         : VBT_VEP_EULER;
    s->dt = cli_float(p, "dt");
    s->steps = (size_t)cli_float(p, "steps");
    const char *obs = cli_str(p, "obs");
    s->obs = !strcmp(obs, "log")       ? VBT_VEP_OBS_LOGPOWER
             : !strcmp(obs, "power")   ? VBT_VEP_OBS_POWER
             : !strcmp(obs, "seizure") ? VBT_VEP_OBS_SEIZURE
                                       : VBT_VEP_OBS_LINEAR;
    s->sig_x = cli_float(p, "seizure-x");
    s->sig_w = cli_float(p, "seizure-width");
    if (vbt_vep_alloc(&f->m, s, msg))
        return -1;
    f->np = vbt_vep_n_params(f->m);
    return 0;
}

static double *dup_doubles(const double *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d && n)
        memcpy(d, v, n * sizeof *d);
    return d;
}

static int run_map(fit *f, vbt_msg *msg)
{
    const cli_parsed *p = f->p;
    fit_ckpt *k = f->ck;
    vbt_vep_map_opts_default(&f->mo);
    f->mo.n_starts = (size_t)cli_float(p, "starts");
    f->mo.n_threads = (size_t)p->common.threads;
    f->mo.seed = p->common.seed;
    f->mo.lbfgs.max_iter = (size_t)cli_float(p, "map-iter");
    f->mo.n_polish = (size_t)cli_float(p, "polish");
    if (f->resumed) {
        /* the MAP stage of the interrupted run */
        if (!k->has_map || k->starts != f->mo.n_starts) {
            snprintf(msg->text, sizeof msg->text, "'%.900s' holds no MAP stage", k->path);
            return -1;
        }
        f->mr = k->mr;
        f->map_wall = k->map_wall;
        f->map = dup_doubles(k->map, f->np);
        f->lp_starts = dup_doubles(k->lp_starts, k->starts);
        f->th_starts = dup_doubles(k->th_starts, k->starts * f->np);
        if (!f->map || !f->lp_starts || !f->th_starts) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            return -1;
        }
        cli_info(p, "MAP: from the checkpoint, best lp %.3f", f->mr.best_lp);
        return 0;
    }
    f->map = malloc(f->np * sizeof *f->map);
    f->lp_starts = malloc(f->mo.n_starts * sizeof *f->lp_starts);
    f->th_starts = malloc(f->mo.n_starts * f->np * sizeof *f->th_starts);
    if (!f->map || !f->lp_starts || !f->th_starts) {
        snprintf(msg->text, sizeof msg->text, "out of memory");
        return -1;
    }
    cli_info(p, "MAP: %zu starts, %zu parameters, %zu thread(s)", f->mo.n_starts, f->np,
             f->mo.n_threads);
    double *x0s = NULL;
    if (!strcmp(cli_str(p, "map-init"), "data")) {
        x0s = malloc(f->nr * sizeof *x0s);
        if (!x0s || vbt_vep_x0_from_data(f->m, (size_t)cli_float(p, "baseline"), -1.5, x0s)) {
            free(x0s);
            snprintf(msg->text, sizeof msg->text, "out of memory");
            return -1;
        }
        f->mo.x0_start = x0s;
    }
    double t0 = cli_now();
    int mst = vbt_vep_map(f->m, &f->mo, f->map, &f->mr, f->lp_starts, f->th_starts, msg);
    f->mo.x0_start = NULL;
    free(x0s);
    if (mst)
        return -1;
    f->map_wall = cli_now() - t0;
    cli_info(p, "MAP: best lp %.3f (start %zu), %zu/%zu starts within %.1f of it, %zu "
                "converged, %.2f s", f->mr.best_lp, f->mr.best_start + 1, f->mr.n_best,
             f->mo.n_starts, f->mo.mode_tol, f->mr.n_converged, f->map_wall);
    if (f->mr.n_converged == 0)
        cli_error(p, "WARNING: no MAP start met the convergence tolerance in %zu iterations "
                     "(the mode is not exact; see docs/fitting.md)", f->mo.lbfgs.max_iter);
    if (f->mr.n_best == 1 && f->mo.n_starts >= 4)
        cli_error(p, "WARNING: only one of %zu MAP starts reached the best mode: this posterior "
                     "has several modes and a better one may have been missed (raise --starts)",
                  f->mo.n_starts);
    if (k) {
        k->has_map = 1;
        k->mr = f->mr;
        k->starts = f->mo.n_starts;
        k->map_wall = f->map_wall;
        k->map = dup_doubles(f->map, f->np);
        k->lp_starts = dup_doubles(f->lp_starts, k->starts);
        k->th_starts = dup_doubles(f->th_starts, k->starts * f->np);
        if (!k->map || !k->lp_starts || !k->th_starts) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int run_laplace(fit *f, vbt_msg *msg)
{
    size_t D = f->n_draws;
    double *th = malloc(D * f->np * sizeof *th);
    f->log_w = malloc(D * sizeof *f->log_w);
    f->nat = malloc(D * f->np * sizeof *f->nat);
    if (!th || !f->log_w || !f->nat) {
        free(th);
        snprintf(msg->text, sizeof msg->text, "out of memory for %zu Laplace draws", D);
        return -1;
    }
    int st = vbt_vep_laplace(f->m, f->map, D, f->p->common.seed, th, f->log_w, &f->lr, msg);
    if (!st)
        for (size_t d = 0; d < D; d++)
            vbt_vep_constrain(f->m, th + d * f->np, f->nat + d * f->np);
    free(th);
    return st ? -1 : 0;
}

/* ADVI from the MAP mode; its draws then go through the same summaries as
 * Laplace's (without importance weights). */
static int run_advi(fit *f, vbt_msg *msg)
{
    const size_t D = f->n_draws, np = f->np;
    vbt_advi_opts o;
    vbt_advi_opts_default(&o);
    o.seed = f->p->common.seed;
    o.family = !strcmp(cli_str(f->p, "advi-family"), "fullrank") ? VBT_ADVI_FULLRANK
                                                                  : VBT_ADVI_MEANFIELD;
    double *mu = malloc(np * sizeof *mu);
    double *scale = malloc((o.family == VBT_ADVI_FULLRANK ? np * np : np) * sizeof *scale);
    double *th = malloc(D * np * sizeof *th);
    f->nat = malloc(D * np * sizeof *f->nat);
    int rc = -1;
    if (!mu || !scale || !th || !f->nat) {
        snprintf(msg->text, sizeof msg->text, "out of memory for ADVI");
        goto out;
    }
    memcpy(mu, f->map, np * sizeof *mu);
    if (vbt_advi(vep_logp_cb, f->m, np, &o, mu, scale, &f->ar, msg))
        goto out;
    vbt_advi_draw(np, o.family, mu, scale, D, o.seed, 1, th);
    for (size_t d = 0; d < D; d++)
        vbt_vep_constrain(f->m, th + d * np, f->nat + d * np);
    rc = 0;
out:
    free(mu);
    free(scale);
    free(th);
    return rc;
}

/* SMC from the prior: the particles are the draws of one "chain", equally
 * weighted, and go through the same summaries as ADVI's. */
static int run_smc(fit *f, vbt_msg *msg)
{
    const cli_parsed *p = f->p;
    const size_t np = f->np, R = f->n_chains;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = (size_t)cli_float(p, "particles");
    o.ess_target = cli_float(p, "smc-ess");
    o.n_moves = (size_t)cli_float(p, "smc-moves");
    o.n_leapfrog = (size_t)cli_float(p, "leapfrog");
    o.n_threads = (size_t)p->common.threads;
    const size_t N = o.n_particles;
    double *th = malloc(N * np * sizeof *th);
    f->nat = malloc(R * N * np * sizeof *f->nat);
    f->betas = malloc(o.max_steps * sizeof *f->betas);
    f->srs = calloc(R, sizeof *f->srs);
    if (!th || !f->nat || !f->betas || !f->srs) {
        free(th);
        snprintf(msg->text, sizeof msg->text, "out of memory for %zu particles", N);
        return -1;
    }
    cli_info(p, "SMC: %zu particles, %zu parameters, %zu run(s), %zu thread(s)", N, np, R,
             o.n_threads);
    double t0 = cli_now(), lmax = -HUGE_VAL;
    int st = 0;
    for (size_t r = 0; r < R && !st; r++) {
        /* run 0 is the single run's seed; the others are independent streams */
        o.seed = p->common.seed + ((uint64_t)r << 32);
        o.temperatures = r ? NULL : f->betas; /* the first run's are reported */
        vbt_smc_result *res = &f->srs[r];
        st = vbt_vep_smc(f->m, &o, th, res, msg);
        for (size_t d = 0; !st && d < N; d++)
            vbt_vep_constrain(f->m, th + d * np, f->nat + (r * N + d) * np);
        if (!st) {
            lmax = fmax(lmax, res->log_evidence);
            if (R > 1)
                cli_info(p, "SMC run %zu: log evidence %.3f, %zu steps, acceptance %.2f", r + 1,
                         res->log_evidence, res->n_steps, res->mean_accept);
        }
    }
    f->smc_wall = cli_now() - t0;
    free(th);
    if (st)
        return -1;
    /* pooled: the mean of the runs' (unbiased) evidence estimates */
    f->sr = f->srs[0];
    double se = 0, m1 = 0, m2 = 0;
    f->sr.n_grad = f->sr.n_divergent = 0;
    f->sr.mean_accept = 0;
    for (size_t r = 0; r < R; r++) {
        const vbt_smc_result *res = &f->srs[r];
        se += exp(res->log_evidence - lmax);
        m1 += res->log_evidence / (double)R;
        f->sr.n_grad += res->n_grad;
        f->sr.n_divergent += res->n_divergent;
        f->sr.mean_accept += res->mean_accept / (double)R;
        f->sr.accept_rate = fmin(f->sr.accept_rate, res->accept_rate);
    }
    for (size_t r = 0; r < R; r++)
        m2 += (f->srs[r].log_evidence - m1) * (f->srs[r].log_evidence - m1);
    f->sr.log_evidence = lmax + log(se / (double)R);
    f->logz_sd = R > 1 ? sqrt(m2 / (double)(R - 1)) : NAN;
    cli_info(p, "SMC: log evidence %.3f, %zu steps, acceptance %.2f, step size %.3g, %.2f s",
             f->sr.log_evidence, f->sr.n_steps, f->sr.mean_accept, f->sr.step_size,
             f->smc_wall);
    return 0;
}

static int run_nuts(fit *f, vbt_msg *msg)
{
    const cli_parsed *p = f->p;
    size_t C = f->n_chains, np = f->np, D = f->n_draws;
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = (size_t)cli_float(p, "warmup");
    o.draws = D;
    o.max_depth = (size_t)cli_float(p, "max-depth");
    o.adapt_delta = cli_float(p, "adapt-delta");
    const char *met = cli_str(p, "metric");
    o.metric = !strcmp(met, "diag") ? VBT_NUTS_DIAG : VBT_NUTS_DENSE;
    int from_map = strcmp(cli_str(p, "init"), "prior") != 0;
    int by_modes = !strcmp(cli_str(p, "init"), "modes");
    o.adapt_metric = strcmp(met, "laplace") != 0;
    /* mode jumps of every free x0 by 1 to 2.5 in natural units */
    size_t *jc = malloc(f->nr * sizeof *jc), njc = 0;
    double *js = malloc(f->nr * sizeof *js);
    o.jump_n = (size_t)cli_float(p, "jumps");
    for (size_t r = 0; o.jump_n && jc && js && r < f->nr; r++) {
        long ix = x0_index(f->m, r);
        if (ix >= 0) {
            jc[njc] = (size_t)ix;
            js[njc++] = 1.0 / vbt_vep_param_scale(f->m, (size_t)ix);
        }
    }
    o.jump_coords = jc;
    o.jump_scale = js;
    o.jump_n_coords = njc;
    o.jump_lo = 1.0;
    o.jump_hi = 2.5;
    if (!njc)
        o.jump_n = 0; /* x0 fixed: nothing to jump */
    double *cov = NULL, *inits = malloc(C * np * sizeof *inits), *th = NULL;
    vbt_vep *ms[MAXCH] = {0};
    void *ctx[MAXCH];
    int rc = -1;
    f->stats = malloc(C * D * sizeof *f->stats);
    f->info = calloc(C, sizeof *f->info);
    th = malloc(C * D * np * sizeof *th);
    f->nat = malloc(C * D * np * sizeof *f->nat);
    if (!inits || !f->stats || !f->info || !th || !f->nat || !jc || !js) {
        snprintf(msg->text, sizeof msg->text, "out of memory for %zu x %zu draws", C, D);
        goto out;
    }
    for (size_t c = 0; c < C; c++) {
        if (vbt_vep_alloc(&ms[c], &f->spec, msg))
            goto out;
        ctx[c] = ms[c];
    }
    fit_ckpt *k = f->ck;
    if (f->resumed) {
        /* the interrupted run's starts, metric and draws so far */
        memcpy(inits, k->inits, C * np * sizeof *inits);
        if (k->cov && !(cov = dup_doubles(k->cov, np * np))) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            goto out;
        }
        f->laplace_metric_ok = k->laplace_ok;
        snprintf(f->laplace_metric_msg, sizeof f->laplace_metric_msg, "%s", k->laplace_msg);
        memcpy(th, k->th, C * D * np * sizeof *th);
        memcpy(f->stats, k->stats, C * D * sizeof *f->stats);
        free(k->th);
        free(k->stats);
        k->owns_draws = 0;
        size_t done = 0;
        for (size_t c = 0; c < C; c++)
            done += k->state[c] ? k->iter[c] : 0;
        cli_info(p, "NUTS: resuming from '%s' (%zu of %zu iterations made)", k->path, done,
                 C * (o.warmup + D));
    } else if (from_map) {
        cov = malloc(np * np * sizeof *cov);
        if (!cov) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            goto out;
        }
        vbt_msg lm;
        f->laplace_metric_ok = vbt_nuts_laplace_cov(vep_logp_cb, f->m, np, f->map, 0, cov, &lm) ==
                               VBT_OK;
        if (!f->laplace_metric_ok) {
            snprintf(f->laplace_metric_msg, sizeof f->laplace_metric_msg, "%s", lm.text);
            cli_error(p, "WARNING: no Laplace metric at the MAP (%s): chains start with a unit "
                         "metric and 0.1 jitter", lm.text);
        }
        /* --init modes: the distinct MAP modes (lp apart by more than mode_tol)
         * within LP_GAP of the best, best first; chain c starts at mode c mod m */
        size_t modes[MAXCH], nm = 1;
        modes[0] = f->mr.best_start;
        while (by_modes && nm < C) {
            size_t pick = SIZE_MAX;
            for (size_t s2 = 0; s2 < f->mo.n_starts; s2++) {
                double l = f->lp_starts[s2];
                if (!(l >= f->mr.best_lp - LP_GAP))
                    continue;
                int dup = 0;
                for (size_t j = 0; j < nm; j++)
                    dup |= fabs(l - f->lp_starts[modes[j]]) <= f->mo.mode_tol;
                if (!dup && (pick == SIZE_MAX || l > f->lp_starts[pick]))
                    pick = s2;
            }
            if (pick == SIZE_MAX)
                break;
            modes[nm++] = pick;
        }
        if (by_modes)
            cli_info(p, "NUTS: %zu distinct MAP mode(s) within %.0f of the best for %zu chain(s)",
                     nm, LP_GAP, C);
        for (size_t c = 0; c < C; c++)
            vbt_nuts_jitter(c % nm ? f->th_starts + modes[c % nm] * np : f->map,
                            f->laplace_metric_ok ? cov : NULL, np, p->common.seed, c,
                            inits + c * np);
    } else {
        for (size_t c = 0; c < C; c++)
            vbt_vep_prior_draw(f->m, p->common.seed, ((uint64_t)1 << 62) + c, inits + c * np);
    }
    int use_cov = from_map && f->laplace_metric_ok;
    if (!use_cov)
        o.adapt_metric = 1; /* no Laplace covariance to keep */
    if (k) {
        k->th = th;
        k->stats = f->stats;
    }
    if (k && !f->resumed) {
        /* the MAP stage and the starts are saved before the first iteration */
        k->laplace_ok = f->laplace_metric_ok;
        snprintf(k->laplace_msg, sizeof k->laplace_msg, "%s", f->laplace_metric_msg);
        k->inits = dup_doubles(inits, C * np);
        k->cov = use_cov ? dup_doubles(cov, np * np) : NULL;
        if (!k->inits || (use_cov && !k->cov)) {
            snprintf(msg->text, sizeof msg->text, "out of memory");
            goto out;
        }
        if (fit_ckpt_write(k, msg))
            goto out;
    }
    const void *res[MAXCH];
    for (size_t c = 0; k && c < C; c++)
        res[c] = k->state[c];
    prog pg;
    memset(&pg, 0, sizeof pg);
    pthread_mutex_init(&pg.lock, NULL);
    pg.n_chains = C;
    cli_progress_begin(&pg.bar, p, "nuts");
    vbt_nuts_run run = {.logp = vep_logp_cb, .ctx = ctx, .n_params = np, .n_chains = C,
                        .n_threads = (size_t)p->common.threads, .seed = p->common.seed,
                        .inits = inits, .inv_metric = use_cov ? cov : NULL,
                        .inv_metric_full = 1, .progress = on_progress, .progress_ctx = &pg,
                        .checkpoint = k ? fit_ckpt_on_state : NULL, .checkpoint_ctx = k,
                        .checkpoint_every = (size_t)cli_float(p, "checkpoint-every"),
                        .resume = f->resumed ? res : NULL,
                        .resume_len = k ? k->state_len : NULL};
    cli_info(p, "NUTS: %zu chain(s) x (%zu warm-up + %zu draws), %s metric, max depth %zu, "
                "adapt_delta %.3g, %zu thread(s)", C, o.warmup, D,
             !o.adapt_metric ? "Laplace (fixed)" : o.metric == VBT_NUTS_DENSE ? "dense" : "diag",
             o.max_depth, o.adapt_delta,
             (size_t)p->common.threads);
    int st = vbt_nuts_sample(&run, &o, th, f->stats, f->info, msg);
    cli_progress_end(&pg.bar);
    pthread_mutex_destroy(&pg.lock);
    if (st)
        goto out;
    for (size_t q = 0; q < C * D; q++)
        vbt_vep_constrain(f->m, th + q * np, f->nat + q * np);
    rc = 0;
out:
    for (size_t c = 0; c < C; c++)
        vbt_vep_free(ms[c]);
    if (f->ck) {
        f->ck->th = NULL;
        f->ck->stats = NULL;
    }
    free(cov);
    free(inits);
    free(jc);
    free(js);
    free(th);
    return rc;
}

/* ---- summaries ---------------------------------------------------------------- */

typedef struct wv { double v, w; } wv;

static int cmp_wv(const void *a, const void *b)
{
    const wv *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* Weighted quantile (weights normalised), by the cumulative weight. */
static double wquantile(wv *p, size_t n, double q)
{
    double c = 0;
    for (size_t i = 0; i < n; i++) {
        c += p[i].w;
        if (c >= q)
            return p[i].v;
    }
    return p[n - 1].v;
}

/* Per-parameter summaries over the chains kept (keep[c] != 0). */
static int summarise(fit *f, const int *keep, vbt_diag_param *out)
{
    size_t C = f->n_chains, D = f->n_draws, np = f->np, kc = 0;
    for (size_t c = 0; c < C; c++)
        kc += keep[c] != 0;
    double *x = malloc(kc * D * sizeof *x);
    wv *pw = f->log_w ? malloc(D * sizeof *pw) : NULL;
    if (!x || (f->log_w && !pw)) {
        free(x);
        free(pw);
        return -1;
    }
    int use_w = f->log_w && f->lr.khat < 0.7;
    for (size_t i = 0; i < np; i++) {
        size_t k = 0;
        for (size_t c = 0; c < C; c++)
            if (keep[c])
                for (size_t d = 0; d < D; d++)
                    x[k++] = f->nat[(c * D + d) * np + i];
        vbt_diag_param_compute(x, kc, D, &out[i]);
        if (f->betas) {
            /* one population of resampled particles, ordered by ancestor: the
             * chain-based R-hat and ESS do not apply */
            out[i].rhat = out[i].rhat_bulk = out[i].rhat_tail = NAN;
            out[i].ess_bulk = out[i].ess_tail = out[i].ess_mean = out[i].mcse_mean = NAN;
        }
        if (f->log_w) {
            /* independent draws: no R-hat; ESS from the PSIS weights */
            out[i].rhat = out[i].rhat_bulk = out[i].rhat_tail = NAN;
            out[i].ess_bulk = out[i].ess_tail = out[i].ess_mean = f->lr.ess;
            if (use_w) {
                double m = 0, v = 0;
                for (size_t d = 0; d < D; d++) {
                    pw[d] = (wv){x[d], exp(f->log_w[d])};
                    m += pw[d].w * x[d];
                }
                for (size_t d = 0; d < D; d++)
                    v += pw[d].w * (x[d] - m) * (x[d] - m);
                qsort(pw, D, sizeof *pw, cmp_wv);
                out[i].mean = m;
                out[i].sd = sqrt(v);
                out[i].q5 = wquantile(pw, D, 0.05);
                out[i].q50 = wquantile(pw, D, 0.50);
                out[i].q95 = wquantile(pw, D, 0.95);
            }
            out[i].mcse_mean = out[i].sd / sqrt(f->lr.ess);
        }
    }
    free(x);
    free(pw);
    return 0;
}

/* ---- outputs ------------------------------------------------------------------ */

static int write_text(vbt_outdir *od, const char *name, const char *text, size_t len,
                      vbt_msg *msg)
{
    char path[4096];
    return vbt_outdir_file(od, name, path, sizeof path) ||
           vbt_file_write_atomic(path, text, len, 0, msg);
}

static int write_npy(vbt_outdir *od, const char *name, const double *d, size_t ndim,
                     const size_t *shape, vbt_msg *msg)
{
    char path[4096];
    return vbt_outdir_file(od, name, path, sizeof path) ||
           vbt_npy_write(path, d, ndim, shape, 0, msg);
}

static const char *const sampler_cols[7] = {"lp__", "accept_stat__", "stepsize__", "treedepth__",
                                            "n_leapfrog__", "divergent__", "energy__"};

static int write_draws(fit *f, vbt_outdir *od, const char *method, vbt_msg *msg)
{
    size_t C = f->n_chains, D = f->n_draws, np = f->np;
    size_t shape[3] = {C, D, np};
    if (write_npy(od, "draws.npy", f->nat, 3, shape, msg))
        return -1;
    double *sp = NULL;
    if (f->stats) {
        sp = malloc(C * D * 7 * sizeof *sp);
        if (!sp)
            return -1;
        for (size_t k = 0; k < C * D; k++) {
            const vbt_nuts_stats *s = &f->stats[k];
            double row[7] = {s->lp, s->accept_stat, s->stepsize, (double)s->treedepth,
                             (double)s->n_leapfrog, (double)s->divergent, s->energy};
            memcpy(sp + 7 * k, row, sizeof row);
        }
        size_t sh[3] = {C, D, 7};
        if (write_npy(od, "sampler.npy", sp, 3, sh, msg)) {
            free(sp);
            return -1;
        }
    }
    if (f->log_w) {
        size_t sh[1] = {D};
        if (write_npy(od, "log_weights.npy", f->log_w, 1, sh, msg))
            return -1;
    }
    /* one CSV per chain, as CmdStan writes them */
    for (size_t c = 0; c < C; c++) {
        strbuf b = {0};
        sb_printf(&b, "# vbt fit, method = %s, chain = %zu\n", method, c + 1);
        if (f->stats)
            sb_printf(&b, "# Step size = %.17g\n", f->info[c].stepsize);
        int first = 1;
        if (f->stats)
            for (int k = 0; k < 7; k++, first = 0)
                sb_printf(&b, "%s%s", first ? "" : ",", sampler_cols[k]);
        else if (f->log_w) {
            sb_printf(&b, "log_weight__");
            first = 0;
        }
        for (size_t i = 0; i < np; i++) {
            char nm[160];
            stan_name(vbt_vep_param_name(f->m, i), nm, sizeof nm);
            sb_printf(&b, "%s%s", first ? "" : ",", nm);
            first = 0;
        }
        sb_printf(&b, "\n");
        for (size_t d = 0; d < D; d++) {
            first = 1;
            if (f->stats) {
                const double *r = sp + 7 * (c * D + d);
                sb_printf(&b, "%.9g,%.6g,%.6g,%d,%d,%d,%.9g", r[0], r[1], r[2], (int)r[3],
                       (int)r[4], (int)r[5], r[6]);
                first = 0;
            } else if (f->log_w) {
                sb_printf(&b, "%.9g", f->log_w[d]);
                first = 0;
            }
            for (size_t i = 0; i < np; i++, first = 0)
                sb_printf(&b, "%s%.9g", first ? "" : ",", f->nat[(c * D + d) * np + i]);
            sb_printf(&b, "\n");
        }
        char name[64];
        snprintf(name, sizeof name, "draws_chain%zu.csv", c + 1);
        int st = b.oom || write_text(od, name, b.s, b.len, msg);
        free(b.s);
        if (st) {
            free(sp);
            return -1;
        }
    }
    free(sp);
    return 0;
}

/* The observation noise sd of a draw in natural values. */
static double draw_eps(const fit *f, const double *nat)
{
    long ieps = vbt_vep_param_index(f->m, "eps");
    return ieps < 0 ? f->spec.priors.eps.value : nat[ieps];
}

/* The g-th of the kept chains' draws (natural parameters). */
static const double *kept_draw(const fit *f, const int *keep, size_t g)
{
    size_t c = 0, D = f->n_draws;
    while (!keep[c] || g >= D) {
        if (keep[c])
            g -= D;
        c++;
    }
    return f->nat + (c * D + g) * f->np;
}

/* PSIS-LOO and WAIC of a NUTS fit from the pointwise Gaussian log-likelihood
 * of every (sample, sensor) observation at up to LOO_MAX evenly spaced kept
 * draws: the "loo" object of summary.json and loo_pointwise.npy [time,
 * sensor] (each observation's elpd), so that fits of one patient under
 * different priors (EZ hypotheses) can be compared with vbt_loo_compare. */
static int add_loo(fit *f, const int *keep, size_t kept, cJSON *sum, vbt_outdir *od,
                   vbt_msg *msg)
{
    const size_t N = f->nt * f->ns, np = f->np, total = kept * f->n_draws;
    /* at most LOO_MAX draws and 2^24 log-likelihoods (128 MiB), at least 100 draws */
    size_t cap = N ? ((size_t)1 << 24) / N : LOO_MAX;
    cap = cap < 100 ? 100 : cap > LOO_MAX ? LOO_MAX : cap;
    const size_t K = total < cap ? total : cap;
    if (K < 10)
        return 0;
    double *ll = malloc(K * N * sizeof *ll), *th = malloc(np * sizeof *th),
           *mu = malloc(N * sizeof *mu), *elpd = malloc(N * sizeof *elpd);
    int rc = 0;
    vbt_msg lm = {0};
    vbt_loo_result r;
    cJSON *o = cJSON_AddObjectToObject(sum, "loo");
    if (!ll || !th || !mu || !elpd) {
        snprintf(lm.text, sizeof lm.text, "out of memory for %zu x %zu log-likelihoods", K, N);
    } else {
        for (size_t k = 0; k < K && !lm.text[0]; k++) {
            const double *d = kept_draw(f, keep, (size_t)((double)k * (double)total / (double)K));
            if (vbt_vep_unconstrain(f->m, d, th) || vbt_vep_simulate(f->m, th, NULL, mu)) {
                snprintf(lm.text, sizeof lm.text, "the model failed at a posterior draw");
                break;
            }
            vbt_loglik_gauss(f->data.data, mu, N, draw_eps(f, d), ll + k * N);
        }
        if (!lm.text[0] && vbt_loo(ll, K, N, elpd, NULL, &r, &lm) && !lm.text[0])
            snprintf(lm.text, sizeof lm.text, "PSIS-LOO failed");
    }
    if (lm.text[0]) {
        /* a secondary output: the fit itself stands; say why LOO is missing */
        cJSON_AddStringToObject(o, "error", lm.text);
        fprintf(stderr, "vbt fit: WARNING: no PSIS-LOO: %s\n", lm.text);
        goto out;
    }
    add_num(o, "draws", (double)K);
    add_num(o, "observations", (double)N);
    add_num(o, "elpd_loo", r.elpd_loo);
    add_num(o, "se_elpd_loo", r.se_elpd_loo);
    add_num(o, "p_loo", r.p_loo);
    add_num(o, "looic", r.looic);
    add_num(o, "elpd_waic", r.elpd_waic);
    add_num(o, "se_elpd_waic", r.se_elpd_waic);
    add_num(o, "p_waic", r.p_waic);
    add_num(o, "waic", r.waic);
    add_num(o, "pareto_k_max", r.khat_max);
    add_num(o, "n_k_ok", (double)r.n_k_ok);
    add_num(o, "n_k_warn", (double)r.n_k_warn);
    add_num(o, "n_k_bad", (double)r.n_k_bad);
    if (r.n_k_bad)
        cJSON_AddStringToObject(o, "warning", "some observations have Pareto k >= 0.7: their "
                                              "PSIS-LOO terms are unreliable");
    size_t shape[2] = {f->nt, f->ns};
    rc = write_npy(od, "loo_pointwise.npy", elpd, 2, shape, msg) ? -1 : 0;
    f->loo_written = rc == 0;
out:
    free(ll);
    free(th);
    free(mu);
    free(elpd);
    return rc;
}

/* Posterior predictive of the feature: up to PPC_MAX evenly spaced draws
 * of the kept chains, the model's noise-free observation plus N(0, eps). */
static int write_predictive(fit *f, vbt_outdir *od, const int *keep, vbt_msg *msg)
{
    size_t T = f->nt, S = f->ns, np = f->np, C = f->n_chains, D = f->n_draws;
    size_t total = 0;
    for (size_t c = 0; c < C; c++)
        total += keep[c] ? D : 0;
    size_t K = total < PPC_MAX ? total : PPC_MAX;
    int point = f->nat == NULL; /* map: the mode only */
    if (point)
        K = 1;
    double *y = malloc(K * T * S * sizeof *y), *th = malloc(np * sizeof *th),
           *out = malloc(3 * T * S * sizeof *out), *e = malloc(T * S * sizeof *e),
           *col = malloc(K * sizeof *col), *work = malloc(K * sizeof *work);
    int rc = -1;
    if (!y || !th || !out || !e || !col || !work) {
        snprintf(msg->text, sizeof msg->text, "out of memory for the predictive");
        goto done;
    }
    for (size_t k = 0; k < K; k++) {
        const double *d = NULL; /* the draw in natural values */
        if (point) {
            memcpy(th, f->map, np * sizeof *th);
        } else {
            d = kept_draw(f, keep, (size_t)((double)k * (double)total / (double)K));
            if (vbt_vep_unconstrain(f->m, d, th))
                goto done;
        }
        double *yk = y + k * T * S;
        if (vbt_vep_simulate(f->m, th, NULL, yk)) {
            for (size_t q = 0; q < T * S; q++)
                yk[q] = NAN;
            continue;
        }
        if (!point) {
            double nat_eps = draw_eps(f, d);
            vbt_rng r;
            vbt_rng_init(&r, f->p->common.seed, ((uint64_t)1 << 61) + k);
            vbt_rng_normal(&r, e, T * S);
            for (size_t q = 0; q < T * S; q++)
                yk[q] += nat_eps * e[q];
        }
    }
    for (size_t q = 0; q < T * S; q++) {
        double m = 0;
        for (size_t k = 0; k < K; k++) {
            col[k] = y[k * T * S + q];
            m += col[k];
        }
        out[T * S + q] = m / (double)K;
        out[q] = K > 1 ? vbt_diag_quantile(col, K, 0.05, work) : col[0];
        out[2 * T * S + q] = K > 1 ? vbt_diag_quantile(col, K, 0.95, work) : col[0];
    }
    size_t shape[3] = {3, T, S};
    rc = write_npy(od, "predictive.npy", out, 3, shape, msg) ? -1 : 0;
done:
    free(y);
    free(th);
    free(out);
    free(e);
    free(col);
    free(work);
    return rc;
}

/* ---- diagnostics --------------------------------------------------------------- */

static void nuts_checks(fit *f, const vbt_diag_param *dp, const int *keep, size_t kept)
{
    size_t C = f->n_chains, D = f->n_draws, np = f->np;
    size_t max_depth = (size_t)cli_float(f->p, "max-depth");
    cJSON *chains = cJSON_AddArrayToObject(f->diag, "chains");
    size_t div = 0, hits = 0;
    double *e = malloc(D * sizeof *e);
    for (size_t c = 0; c < C; c++) {
        cJSON *o = cJSON_CreateObject();
        double acc = 0, depth = 0;
        for (size_t d = 0; d < D; d++) {
            acc += f->stats[c * D + d].accept_stat / (double)D;
            depth += (double)f->stats[c * D + d].treedepth / (double)D;
            if (e)
                e[d] = f->stats[c * D + d].energy;
        }
        double ebfmi = e ? vbt_diag_ebfmi(e, D) : NAN;
        cJSON_AddNumberToObject(o, "chain", (double)(c + 1));
        add_num(o, "stepsize", f->info[c].stepsize);
        add_num(o, "mean_lp", f->mean_lp[c]);
        add_num(o, "mean_accept_stat", acc);
        add_num(o, "mean_treedepth", depth);
        cJSON_AddNumberToObject(o, "divergences", (double)f->info[c].divergences);
        cJSON_AddNumberToObject(o, "max_treedepth_hits", (double)f->info[c].max_depth_hits);
        cJSON_AddNumberToObject(o, "n_leapfrog", (double)f->info[c].n_leapfrog);
        cJSON_AddNumberToObject(o, "jumps_accepted", (double)f->info[c].jumps_accepted);
        add_num(o, "ebfmi", ebfmi);
        add_num(o, "wall_s", f->info[c].wall_s);
        cJSON_AddBoolToObject(o, "stuck", f->stuck[c] != 0);
        if (f->stuck[c]) {
            cJSON *why = cJSON_AddArrayToObject(o, "stuck_reason");
            if (f->stuck[c] & VBT_DIAG_STUCK_LP)
                cJSON_AddItemToArray(why, cJSON_CreateString("mean lp more than 10 below the "
                                                             "best chain"));
            if (f->stuck[c] & VBT_DIAG_STUCK_STEPSIZE)
                cJSON_AddItemToArray(why, cJSON_CreateString("step size below 0.1 x median"));
        }
        cJSON_AddBoolToObject(o, "used_in_summary", keep[c] != 0);
        cJSON_AddItemToArray(chains, o);
        if (f->stuck[c])
            fail_check(f, "chain %zu is stuck (%s%s%s): mean lp %.2f, step size %.3g; excluded "
                          "from the summaries", c + 1,
                       f->stuck[c] & VBT_DIAG_STUCK_LP ? "log density far below the others" : "",
                       f->stuck[c] == 3 ? ", " : "",
                       f->stuck[c] & VBT_DIAG_STUCK_STEPSIZE ? "collapsed step size" : "",
                       f->mean_lp[c], f->info[c].stepsize);
        if (!keep[c])
            continue;
        div += f->info[c].divergences;
        hits += f->info[c].max_depth_hits;
        if (ebfmi < 0.3)
            fail_check(f, "chain %zu: E-BFMI %.3f < 0.3", c + 1, ebfmi);
    }
    free(e);
    cJSON_AddNumberToObject(f->diag, "divergences", (double)div);
    cJSON_AddNumberToObject(f->diag, "max_treedepth_hits", (double)hits);
    cJSON_AddNumberToObject(f->diag, "max_treedepth", (double)max_depth);
    if (div)
        fail_check(f, "%zu divergent transition(s) after warm-up (raise --adapt-delta)", div);
    if (hits)
        fail_check(f, "%zu of %zu draws hit the maximum tree depth %zu", hits, kept * D,
                   max_depth);
    double worst_rhat = 0, worst_bulk = INFINITY, worst_tail = INFINITY;
    size_t n_rhat = 0, n_ess = 0;
    for (size_t i = 0; i < np; i++) {
        if (isnan(dp[i].rhat))
            continue;
        worst_rhat = fmax(worst_rhat, dp[i].rhat);
        worst_bulk = fmin(worst_bulk, dp[i].ess_bulk);
        worst_tail = fmin(worst_tail, dp[i].ess_tail);
        n_rhat += dp[i].rhat > 1.01;
        n_ess += dp[i].ess_bulk < 100.0 * (double)kept || dp[i].ess_tail < 100.0 * (double)kept;
    }
    add_num(f->diag, "max_rhat", worst_rhat);
    add_num(f->diag, "min_ess_bulk", worst_bulk);
    add_num(f->diag, "min_ess_tail", worst_tail);
    if (n_rhat)
        fail_check(f, "%zu parameter(s) with R-hat > 1.01 (worst %.3f)", n_rhat, worst_rhat);
    /* the usual cause at this problem: a region the sensors do not see with
     * a second mode at seizure level (it seizes too late to show); its
     * posterior is then wider than its prior, which one mode never is */
    size_t n_wide = 0, wr = 0;
    double wide_rhat = 0, wide_sd = 0, wide_prior = 0;
    for (size_t r = 0; r < f->nr; r++) {
        long ix = x0_index(f->m, r);
        if (ix < 0 || !(dp[ix].rhat > 1.01))
            continue;
        double psd = vbt_vep_param_prior_sd(f->m, (size_t)ix);
        if (dp[ix].sd > psd && dp[ix].rhat > wide_rhat) {
            wide_rhat = dp[ix].rhat;
            wide_sd = dp[ix].sd;
            wide_prior = psd;
            wr = r;
        }
        n_wide += dp[ix].sd > psd;
    }
    if (n_wide)
        fail_check(f, "%zu region(s) mix poorly with a posterior wider than their prior (worst "
                      "x0[%zu] %s: R-hat %.3f, sd %.2f against the prior's %.2f): a second mode "
                      "the chains rarely cross; --method smc samples such posteriors",
                   n_wide, wr + 1, f->conn->labels[wr], wide_rhat, wide_sd, wide_prior);
    if (n_ess)
        fail_check(f, "%zu parameter(s) with bulk or tail ESS < %zu (100 per chain; worst bulk "
                      "%.0f, tail %.0f)", n_ess, 100 * kept, worst_bulk, worst_tail);
}

static void print_table(const fit *f, const vbt_diag_param *dp)
{
    printf("%-14s %10s %9s %10s %10s %10s %7s %8s %8s\n", "parameter", "mean", "sd", "5%", "50%",
           "95%", "R-hat", "ESS_bulk", "ESS_tail");
    for (size_t i = 0; i < f->np; i++)
        printf("%-14s %10.4g %9.3g %10.4g %10.4g %10.4g %7.3f %8.0f %8.0f\n",
               vbt_vep_param_name(f->m, i), dp[i].mean, dp[i].sd, dp[i].q5, dp[i].q50,
               dp[i].q95, dp[i].rhat, dp[i].ess_bulk, dp[i].ess_tail);
}

/* The checkpoint of a fresh run: refuse to start over an interrupted run
 * (unless --force, which deletes its checkpoint); with --method nuts and
 * --checkpoint-every > 0, own is set up as f->ck.  -1 with msg set. */
static int checkpoint_begin(fit *f, fit_ckpt *own, const char *path, vbt_msg *msg)
{
    const cli_parsed *p = f->p;
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
    if (strcmp(cli_str(p, "method"), "nuts") || cli_float(p, "checkpoint-every") == 0)
        return 0;
    snprintf(own->path, sizeof own->path, "%s", path);
    f->ck = own;
    return 0;
}

/* Common set-up of a checkpoint that will be written to. */
static void checkpoint_arm(fit_ckpt *k, const cli_parsed *p)
{
    const char *e = getenv("VBT_TEST_STOP_AFTER");
    k->p = p;
    k->stop_after = e ? atol(e) : 0;
    pthread_mutex_init(&k->lock, NULL);
    k->lock_ready = 1;
}

static int run_fit(const cli_parsed *p, fit_ckpt *resume)
{
    fit f;
    memset(&f, 0, sizeof f);
    f.p = p;
    fit_ckpt own;
    memset(&own, 0, sizeof own);
    char ckpath[4096];
    vbt_msg msg = {{0}};
    vbt_outdir *od = NULL;
    int rc = CLI_ERROR;
    const char *method = cli_str(p, "method");
    int is_nuts = !strcmp(method, "nuts"), is_lap = !strcmp(method, "laplace");
    int is_advi = !strcmp(method, "advi"), is_smc = !strcmp(method, "smc");
    int from_map = !is_smc && (!is_nuts || strcmp(cli_str(p, "init"), "prior") != 0);
    vbt_diag_param *dp = NULL;
    int *keep = NULL;
    cJSON *sum = NULL, *prov = NULL;
    strbuf csv = {0}, rcsv = {0};
    f.n_chains = is_nuts ? (size_t)cli_float(p, "chains")
                 : is_smc ? (size_t)cli_float(p, "smc-runs")
                          : 1;
    f.n_draws = (size_t)cli_float(p, is_smc ? "particles" : "draws");
    if (f.n_chains > MAXCH) {
        cli_error(p, "--chains is at most %d", MAXCH);
        return CLI_USAGE;
    }
    openblas_set_num_threads(1); /* the parallelism is across starts and chains */
    if (fit_ckpt_path(cli_str(p, "output"), ckpath, sizeof ckpath)) {
        cli_error(p, "--output: path too long");
        return CLI_ERROR;
    }
    if (resume) {
        f.ck = resume;
        f.resumed = 1;
    } else if (checkpoint_begin(&f, &own, ckpath, &msg)) {
        goto fail_msg;
    }
    if (vbt_outdir_begin(&od, cli_str(p, "output"), p->common.force, &msg))
        goto fail_msg;
    if (load_inputs(&f, &msg))
        goto fail_msg;
    if (f.ck) {
        /* identify the run; a resumed one must be the interrupted one */
        fit_ckpt now;
        memset(&now, 0, sizeof now);
        fit_ckpt *id = f.resumed ? &now : f.ck;
        int bad = fit_ckpt_identify(id, p, f.np, f.n_chains, f.n_draws,
                                    (size_t)cli_float(p, "warmup"), &msg);
        if (!bad && f.resumed && fit_ckpt_compare(f.ck, &now, &msg)) {
            cli_error(p, "cannot resume from '%s': %s", ckpath, msg.text);
            fit_ckpt_clear(&now);
            goto fail;
        }
        fit_ckpt_clear(&now);
        if (bad)
            goto fail_msg;
        checkpoint_arm(f.ck, p);
    }
    cli_install_signal_handlers();
    double t0 = cli_now() - (f.resumed ? f.ck->map_wall : 0.0);
    if (from_map && run_map(&f, &msg))
        goto fail_msg;
    if (is_lap && run_laplace(&f, &msg))
        goto fail_msg;
    if (is_nuts && run_nuts(&f, &msg)) {
        struct stat sb;
        if (f.ck && stat(ckpath, &sb) == 0) {
            size_t l = strlen(msg.text);
            snprintf(msg.text + l, sizeof msg.text - l, "; checkpoint '%.400s': continue with "
                     "'vbt fit --resume %.400s'", ckpath, cli_str(p, "output"));
        }
        goto fail_msg;
    }
    if (is_advi && run_advi(&f, &msg))
        goto fail_msg;
    if (is_smc && run_smc(&f, &msg))
        goto fail_msg;
    f.wall = cli_now() - t0;
    if (cli_interrupted) {
        cli_error(p, "interrupted; nothing written");
        goto fail;
    }

    size_t np = f.np, C = f.n_chains, D = f.n_draws;
    int is_map = !strcmp(method, "map");
    if (is_map) {
        /* the mode as a single "draw" */
        f.nat = malloc(np * sizeof *f.nat);
        if (!f.nat)
            goto oom;
        vbt_vep_constrain(f.m, f.map, f.nat);
        D = f.n_draws = 1;
    }
    f.failures = cJSON_CreateArray();
    f.diag = cJSON_CreateObject();
    dp = calloc(np, sizeof *dp);
    keep = malloc(C * sizeof *keep);
    f.stuck = calloc(C, sizeof *f.stuck);
    f.mean_lp = calloc(C, sizeof *f.mean_lp);
    if (!dp || !keep || !f.stuck || !f.mean_lp)
        goto oom;
    size_t kept = C;
    for (size_t c = 0; c < C; c++)
        keep[c] = 1;
    if (is_nuts) {
        double eps[MAXCH];
        for (size_t c = 0; c < C; c++) {
            for (size_t d = 0; d < D; d++)
                f.mean_lp[c] += f.stats[c * D + d].lp / (double)D;
            eps[c] = f.info[c].stepsize;
        }
        f.n_stuck = vbt_diag_stuck_chains(f.mean_lp, eps, C, LP_GAP, EPS_RATIO, f.stuck);
        if (f.n_stuck && f.n_stuck < C) {
            for (size_t c = 0; c < C; c++)
                if (f.stuck[c]) {
                    keep[c] = 0;
                    kept--;
                }
            cli_error(p, "WARNING: %zu of %zu chains are stuck in a different mode or have a "
                         "collapsed step size; they are EXCLUDED from summary.json, summary.csv, "
                         "regions.csv and predictive.npy (draws.npy keeps every chain)",
                      f.n_stuck, C);
        } else if (f.n_stuck) {
            cli_error(p, "WARNING: every chain is flagged as stuck; none excluded");
        }
    }
    if (!is_map) {
        if (summarise(&f, keep, dp))
            goto oom;
    } else {
        for (size_t i = 0; i < np; i++)
            dp[i] = (vbt_diag_param){.mean = f.nat[i], .sd = NAN, .q5 = NAN, .q50 = f.nat[i],
                                     .q95 = NAN, .rhat = NAN, .ess_bulk = NAN, .ess_tail = NAN,
                                     .mcse_mean = NAN, .rhat_bulk = NAN, .rhat_tail = NAN,
                                     .ess_mean = NAN};
    }
    if (is_nuts)
        nuts_checks(&f, dp, keep, kept);
    if (is_lap) {
        add_num(f.diag, "psis_khat", f.lr.khat);
        add_num(f.diag, "psis_ess", f.lr.ess);
        cJSON_AddStringToObject(f.diag, "weights", f.lr.khat < 0.7 ? "psis" : "none (k-hat >= "
                                                                               "0.7)");
        if (!(f.lr.khat < 0.7))
            fail_check(&f, "PSIS k-hat %.2f >= 0.7: the Laplace approximation is not reliable "
                           "here (use --method nuts); summaries are unweighted", f.lr.khat);
    }
    if (is_advi) {
        add_num(f.diag, "advi_elbo", f.ar.elbo);
        add_num(f.diag, "advi_iterations", (double)f.ar.iterations);
        cJSON_AddBoolToObject(f.diag, "advi_converged", f.ar.converged);
        if (!f.ar.converged)
            fail_check(&f, "ADVI did not reach its ELBO tolerance in %zu iterations",
                       f.ar.iterations);
    }
    if (is_smc) {
        cJSON_AddStringToObject(f.diag, "rhat", "not applicable: SMC particles are one "
                                                "population, not chains");
        add_num(f.diag, "smc_accept_rate", f.sr.mean_accept);
        add_num(f.diag, "smc_last_accept_rate", f.sr.accept_rate);
        cJSON_AddNumberToObject(f.diag, "smc_divergent", (double)f.sr.n_divergent);
        add_num(f.diag, "smc_step_size", f.sr.step_size);
        if (f.sr.accept_rate < 0.3)
            fail_check(&f, "SMC: the last step's HMC moves accepted %.2f (< 0.3): the particles "
                           "barely moved (raise --smc-moves or --particles)", f.sr.accept_rate);
        add_num(f.diag, "smc_log_evidence_sd", f.logz_sd);
        if (f.logz_sd > 1.0)
            fail_check(&f, "SMC: the %zu runs' log evidences spread by sd %.2f (> 1): too few "
                           "particles or moves to rank hypotheses by the evidence (raise "
                           "--particles or --smc-moves)", f.n_chains, f.logz_sd);
    }
    if (from_map && !is_nuts && f.mr.n_converged == 0)
        fail_check(&f, "no MAP start converged in %zu iterations", f.mo.lbfgs.max_iter);

    /* summary.json / summary.csv / regions.csv */
    sum = cJSON_CreateObject();
    cJSON_AddStringToObject(sum, "method", method);
    cJSON_AddNumberToObject(sum, "n_params", (double)np);
    cJSON_AddNumberToObject(sum, "chains", (double)C);
    cJSON_AddNumberToObject(sum, "chains_used", (double)kept);
    cJSON_AddNumberToObject(sum, "draws_per_chain", (double)D);
    cJSON *pars = cJSON_AddObjectToObject(sum, "parameters");
    sb_printf(&csv, "parameter,mean,sd,q5,q50,q95,mcse_mean,rhat,ess_bulk,ess_tail\n");
    for (size_t i = 0; i < np; i++) {
        cJSON *o = cJSON_CreateObject();
        add_num(o, "mean", dp[i].mean);
        add_num(o, "sd", dp[i].sd);
        add_num(o, "q5", dp[i].q5);
        add_num(o, "q50", dp[i].q50);
        add_num(o, "q95", dp[i].q95);
        add_num(o, "mcse_mean", dp[i].mcse_mean);
        add_num(o, "rhat", dp[i].rhat);
        add_num(o, "ess_bulk", dp[i].ess_bulk);
        add_num(o, "ess_tail", dp[i].ess_tail);
        cJSON_AddItemToObject(pars, vbt_vep_param_name(f.m, i), o);
        sb_printf(&csv, "%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.6g,%.6g,%.6g\n",
               vbt_vep_param_name(f.m, i), dp[i].mean, dp[i].sd, dp[i].q5, dp[i].q50, dp[i].q95,
               dp[i].mcse_mean, dp[i].rhat, dp[i].ess_bulk, dp[i].ess_tail);
    }
    /* EZ / PZ / HZ probabilities of every region */
    cJSON *regs = cJSON_AddArrayToObject(sum, "regions");
    sb_printf(&rcsv, "region,label,x0_mean,x0_sd,x0_q5,x0_q95,p_ez,p_pz,p_hz,class\n");
    /* independent SMC runs: how far apart their P(EZ) of a region are (an EZ
     * map that changes between runs is not yet an answer) */
    int runs_apart = is_smc && C > 1;
    double worst_range = -1.0; /* stays below 0 without runs or free x0: reported null */
    size_t worst_region = 0;
    for (size_t r = 0; r < f.nr; r++) {
        long ix = x0_index(f.m, r);
        double pe = 0, pp = 0, ph = 0, wsum = 0, mean = f.spec.priors.x0.mu;
        double sd = NAN, q5 = NAN, q95 = NAN;
        if (ix >= 0) {
            mean = dp[ix].mean;
            sd = dp[ix].sd;
            q5 = dp[ix].q5;
            q95 = dp[ix].q95;
            double lo = 1.0, hi = 0.0; /* P(EZ) of the least and most EZ chain (run) */
            for (size_t c = 0; c < C; c++) {
                if (!keep[c])
                    continue;
                double pe_c = 0, w_c = 0;
                for (size_t d = 0; d < D; d++) {
                    double w = f.log_w && f.lr.khat < 0.7 ? exp(f.log_w[d]) : 1.0;
                    double x0 = f.nat[(c * D + d) * np + (size_t)ix];
                    vbt_vep_class k = vbt_vep_x0_class(x0);
                    pe += k == VBT_VEP_EZ ? w : 0.0;
                    pp += k == VBT_VEP_PZ ? w : 0.0;
                    ph += k == VBT_VEP_HZ ? w : 0.0;
                    wsum += w;
                    pe_c += k == VBT_VEP_EZ ? w : 0.0;
                    w_c += w;
                }
                lo = fmin(lo, pe_c / w_c);
                hi = fmax(hi, pe_c / w_c);
            }
            pe /= wsum;
            pp /= wsum;
            ph /= wsum;
            if (runs_apart && hi - lo > worst_range) {
                worst_range = hi - lo;
                worst_region = r;
            }
        } else {
            vbt_vep_class k = vbt_vep_x0_class(mean);
            pe = k == VBT_VEP_EZ, pp = k == VBT_VEP_PZ, ph = k == VBT_VEP_HZ;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "region", (double)r);
        cJSON_AddStringToObject(o, "label", f.conn->labels[r]);
        add_num(o, "x0_mean", mean);
        add_num(o, "x0_sd", sd);
        add_num(o, "p_ez", pe);
        add_num(o, "p_pz", pp);
        add_num(o, "p_hz", ph);
        cJSON_AddStringToObject(o, "class", region_class(mean));
        cJSON_AddItemToArray(regs, o);
        sb_printf(&rcsv, "%zu,\"%s\",%.6g,%.6g,%.6g,%.6g,%.4f,%.4f,%.4f,%s\n", r, f.conn->labels[r],
               mean, sd, q5, q95, pe, pp, ph, region_class(mean));
    }
    cJSON_AddStringToObject(sum, "classes", "EZ: x0 >= -2.05; PZ: -3.05 <= x0 < -2.05; HZ: "
                                            "x0 < -3.05 (BVEP); class by the posterior mean, "
                                            "p_* = fraction of draws");
    if (from_map) {
        cJSON *mj = cJSON_AddObjectToObject(sum, "map");
        add_num(mj, "best_lp", f.mr.best_lp);
        cJSON_AddNumberToObject(mj, "best_start", (double)f.mr.best_start + 1);
        cJSON_AddNumberToObject(mj, "starts", (double)f.mo.n_starts);
        cJSON_AddNumberToObject(mj, "starts_at_best", (double)f.mr.n_best);
        cJSON_AddNumberToObject(mj, "starts_converged", (double)f.mr.n_converged);
        cJSON_AddNumberToObject(mj, "starts_polished", (double)f.mr.n_polished);
        add_num(mj, "wall_s", f.map_wall);
        cJSON *mode = cJSON_AddObjectToObject(mj, "mode");
        double *nm = malloc(np * sizeof *nm);
        if (!nm)
            goto oom;
        vbt_vep_constrain(f.m, f.map, nm);
        for (size_t i = 0; i < np; i++)
            add_num(mode, vbt_vep_param_name(f.m, i), nm[i]);
        free(nm);
        if (is_nuts) {
            cJSON_AddBoolToObject(mj, "laplace_metric", f.laplace_metric_ok);
            if (!f.laplace_metric_ok)
                cJSON_AddStringToObject(mj, "laplace_metric_error", f.laplace_metric_msg);
        }
    }
    if (is_smc) {
        cJSON *sj = cJSON_AddObjectToObject(sum, "smc");
        add_num(sj, "log_evidence", f.sr.log_evidence);
        cJSON_AddNumberToObject(sj, "runs", (double)C);
        add_num(sj, "log_evidence_sd", f.logz_sd);
        cJSON *rj = cJSON_AddArrayToObject(sj, "run_log_evidence");
        for (size_t r = 0; r < C; r++)
            cJSON_AddItemToArray(rj, cJSON_CreateNumber(f.srs[r].log_evidence));
        add_num(sj, "max_p_ez_range", worst_range >= 0 ? worst_range : NAN);
        if (worst_range >= 0)
            cJSON_AddStringToObject(sj, "max_p_ez_range_region", f.conn->labels[worst_region]);
        cJSON_AddNumberToObject(sj, "steps", (double)f.sr.n_steps);
        add_num(sj, "accept_rate", f.sr.mean_accept);
        add_num(sj, "step_size", f.sr.step_size);
        cJSON_AddNumberToObject(sj, "particles", (double)D);
        add_num(sj, "ess_target", cli_float(p, "smc-ess"));
        cJSON_AddNumberToObject(sj, "moves", cli_float(p, "smc-moves"));
        cJSON_AddNumberToObject(sj, "leapfrog", cli_float(p, "leapfrog"));
        cJSON_AddNumberToObject(sj, "divergent", (double)f.sr.n_divergent);
        cJSON_AddNumberToObject(sj, "gradients", (double)f.sr.n_grad);
        add_num(sj, "wall_s", f.smc_wall);
        cJSON *tj = cJSON_AddArrayToObject(sj, "temperatures");
        for (size_t k = 0; k < f.sr.n_steps; k++)
            cJSON_AddItemToArray(tj, cJSON_CreateNumber(f.betas[k]));
        cJSON_AddStringToObject(sj, "note", "log_evidence estimates log p(data) under this run's "
                                            "priors: between two priors (hypotheses) for one "
                                            "patient, the larger is favoured, by a Bayes factor "
                                            "exp(difference)");
    }
    if (is_nuts && add_loo(&f, keep, kept, sum, od, &msg))
        goto fail_msg;
    cJSON_AddItemToObject(sum, "diagnostics", f.diag);
    f.diag = NULL;
    cJSON_AddBoolToObject(sum, "diagnostics_passed", cJSON_GetArraySize(f.failures) == 0);
    cJSON_AddItemToObject(sum, "diagnostic_failures", f.failures);
    int failed = cJSON_GetArraySize(f.failures) > 0;
    if (csv.oom || rcsv.oom)
        goto oom;
    if (cli_write_json(od, "summary.json", sum, &msg) ||
        write_text(od, "summary.csv", csv.s, csv.len, &msg) ||
        write_text(od, "regions.csv", rcsv.s, rcsv.len, &msg))
        goto fail_msg;
    if (!is_map && write_draws(&f, od, method, &msg))
        goto fail_msg;
    if (from_map) {
        /* the per-start table */
        strbuf st = {0};
        sb_printf(&st, "start,lp");
        for (size_t i = 0; i < np; i++)
            sb_printf(&st, ",%s", vbt_vep_param_name(f.m, i));
        sb_printf(&st, "\n");
        double *nm = malloc(np * sizeof *nm);
        for (size_t s = 0; s < f.mo.n_starts && nm; s++) {
            sb_printf(&st, "%zu,%.9g", s + 1, f.lp_starts[s]);
            vbt_vep_constrain(f.m, f.th_starts + s * np, nm);
            for (size_t i = 0; i < np; i++)
                sb_printf(&st, ",%.9g", nm[i]);
            sb_printf(&st, "\n");
        }
        int bad = !nm || st.oom || write_text(od, "map_starts.csv", st.s, st.len, &msg);
        free(nm);
        free(st.s);
        if (bad)
            goto fail_msg;
    }
    if (is_map) {
        free(f.nat);
        f.nat = NULL; /* predictive at the mode */
    }
    if (write_predictive(&f, od, keep, &msg))
        goto fail_msg;
    /* the feature as fitted (after --data-norm), the predictive's units */
    if (write_npy(od, "data.npy", f.data.data, 2, (size_t[2]){f.nt, f.ns}, &msg))
        goto fail_msg;

    /* provenance */
    prov = cli_provenance_new(p);
    char err[1024];
    const char *roles[4] = {"connectome", "gain", "data", "prior"};
    for (int k = 0; k < 4; k++)
        if (cli_str(p, roles[k]) &&
            add_input(prov, roles[k], cli_str(p, roles[k]), err, sizeof err)) {
            cli_error(p, "%s", err);
            goto fail;
        }
    cJSON_AddNumberToObject(prov, "seed", (double)p->common.seed);
    cJSON *ro = cJSON_AddObjectToObject(prov, "options");
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const cli_option *o = &opts[k];
        if (o->kind == CLI_FILE_IN || o->kind == CLI_FILE_OUT)
            continue;
        if (o->kind == CLI_FLAG)
            cJSON_AddBoolToObject(ro, o->name, cli_flag(p, o->name));
        else if (o->kind == CLI_INT || o->kind == CLI_FLOAT)
            cJSON_AddNumberToObject(ro, o->name, cli_float(p, o->name));
        else
            cJSON_AddStringToObject(ro, o->name, cli_str(p, o->name));
    }
    cJSON_AddNumberToObject(ro, "threads", (double)p->common.threads);
    cJSON *mj = cJSON_AddObjectToObject(prov, "model");
    cJSON_AddNumberToObject(mj, "regions", (double)f.nr);
    cJSON_AddNumberToObject(mj, "sensors", (double)f.ns);
    cJSON_AddNumberToObject(mj, "samples", (double)f.nt);
    cJSON_AddNumberToObject(mj, "free_parameters", (double)np);
    /* resolved from --offsets, the prior file and the default */
    cJSON_AddStringToObject(mj, "offsets",
                            f.spec.priors.off.fixed          ? "fixed"
                            : f.spec.priors.off_marginal     ? "marginal"
                                                             : "sampled");
    {
        /* every prior the fit used, in the prior file's format (--prior reads it back) */
        char *pj = vbt_vep_priors_json(&f.spec.priors);
        cJSON *po = pj ? cJSON_Parse(pj) : NULL;
        if (po)
            cJSON_AddItemToObject(mj, "priors", po);
        free(pj);
    }
    cJSON *names = cJSON_AddArrayToObject(mj, "parameter_names");
    for (size_t i = 0; i < np; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(vbt_vep_param_name(f.m, i)));
    cJSON *tj = cJSON_AddObjectToObject(prov, "timing");
    cJSON_AddNumberToObject(tj, "wall_s", f.wall);
    if (from_map)
        cJSON_AddNumberToObject(tj, "map_s", f.map_wall);
    if (is_smc) {
        cJSON_AddNumberToObject(tj, "smc_s", f.smc_wall);
        cJSON_AddNumberToObject(tj, "gradients", (double)f.sr.n_grad);
    }
    if (is_nuts) {
        double grads = 0;
        for (size_t c = 0; c < C; c++)
            grads += (double)f.info[c].n_leapfrog;
        cJSON_AddNumberToObject(tj, "nuts_s", f.wall - f.map_wall);
        cJSON_AddNumberToObject(tj, "post_warmup_gradients", grads);
    }
    cJSON *oj = cJSON_AddArrayToObject(prov, "outputs");
    const char *outs[] = {"summary.json", "summary.csv", "regions.csv", "predictive.npy", "data.npy",
                          is_map ? NULL : "draws.npy", is_nuts ? "sampler.npy" : NULL,
                          is_lap ? "log_weights.npy" : NULL, from_map ? "map_starts.csv" : NULL,
                          f.loo_written ? "loo_pointwise.npy" : NULL};
    for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++)
        if (outs[k])
            cJSON_AddItemToArray(oj, cJSON_CreateString(outs[k]));
    if (!is_map)
        cJSON_AddItemToArray(oj, cJSON_CreateString("draws_chain*.csv"));
    if (f.resumed)
        cJSON_AddStringToObject(prov, "resumed_from", ckpath);
    if (cli_write_json(od, "run.json", prov, &msg) || vbt_outdir_commit(od, &msg)) {
        od = NULL;
        goto fail_msg;
    }
    od = NULL;
    if (f.ck && unlink(ckpath) != 0 && errno != ENOENT)
        cli_error(p, "WARNING: cannot remove the checkpoint '%s': %s", ckpath, strerror(errno));

    if (!p->common.quiet) {
        print_table(&f, dp);
        printf("\n%-6s %-9s %7s %7s %9s %s\n", "region", "class", "P(EZ)", "P(PZ)", "x0", "label");
        cJSON *it;
        cJSON_ArrayForEach(it, regs)
        {
            printf("%-6d %-9s %7.3f %7.3f %9.3f %s\n",
                   (int)cJSON_GetObjectItem(it, "region")->valuedouble + 1,
                   cJSON_GetObjectItem(it, "class")->valuestring,
                   cJSON_GetObjectItem(it, "p_ez")->valuedouble,
                   cJSON_GetObjectItem(it, "p_pz")->valuedouble,
                   cJSON_GetObjectItem(it, "x0_mean")->valuedouble,
                   cJSON_GetObjectItem(it, "label")->valuestring);
        }
        if (is_nuts) {
            printf("\n%-5s %9s %10s %6s %7s %8s %6s %s\n", "chain", "stepsize", "mean lp", "div",
                   "maxdep", "E-BFMI", "wall", "status");
            cJSON *ch = cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "diagnostics"), "chains");
            cJSON_ArrayForEach(it, ch)
            {
                cJSON *eb = cJSON_GetObjectItem(it, "ebfmi");
                printf("%-5d %9.4g %10.2f %6d %7d %8.3f %6.1f %s\n",
                       (int)cJSON_GetObjectItem(it, "chain")->valuedouble,
                       cJSON_GetObjectItem(it, "stepsize")->valuedouble,
                       cJSON_GetObjectItem(it, "mean_lp")->valuedouble,
                       (int)cJSON_GetObjectItem(it, "divergences")->valuedouble,
                       (int)cJSON_GetObjectItem(it, "max_treedepth_hits")->valuedouble,
                       cJSON_IsNumber(eb) ? eb->valuedouble : NAN,
                       cJSON_GetObjectItem(it, "wall_s")->valuedouble,
                       cJSON_IsTrue(cJSON_GetObjectItem(it, "stuck")) ? "STUCK (excluded)" : "ok");
            }
        }
        if (is_lap)
            printf("\nPSIS k-hat %.3f, ESS %.1f of %zu draws\n", f.lr.khat, f.lr.ess, D);
        if (is_smc)
            printf("\nSMC: log evidence %.4f, %zu tempering steps, HMC acceptance %.2f, step "
                   "size %.3g, %zu particles\n", f.sr.log_evidence, f.sr.n_steps,
                   f.sr.mean_accept, f.sr.step_size, D);
        printf("\noutputs in %s (%.2f s)\n", cli_str(p, "output"), f.wall);
    }
    if (failed) {
        cJSON *it;
        cJSON *fl = cJSON_GetObjectItem(sum, "diagnostic_failures");
        fprintf(stderr, "vbt fit: WARNING: DIAGNOSTICS FAILED -- do not trust these results "
                        "as they stand:\n");
        cJSON_ArrayForEach(it, fl)
            fprintf(stderr, "  * %s\n", it->valuestring);
        rc = cli_flag(p, "strict") ? CLI_ERROR : CLI_OK;
    } else {
        cli_info(p, "diagnostics passed");
        rc = CLI_OK;
    }
    goto out;
oom:
    cli_error(p, "out of memory");
    goto fail;
fail_msg:
    cli_error(p, "%s", msg.text);
fail:
    rc = CLI_ERROR;
out:
    vbt_outdir_abort(od);
    cJSON_Delete(sum);
    cJSON_Delete(prov);
    cJSON_Delete(f.diag);
    if (!sum)
        cJSON_Delete(f.failures);
    free(csv.s);
    free(rcsv.s);
    free(dp);
    free(keep);
    free(f.stuck);
    free(f.mean_lp);
    free(f.nat);
    free(f.log_w);
    free(f.betas);
    free(f.srs);
    free(f.stats);
    free(f.info);
    free(f.map);
    free(f.lp_starts);
    free(f.th_starts);
    vbt_vep_free(f.m);
    vbt_connectome_free(f.conn);
    vbt_array_clear(&f.gain);
    vbt_array_clear(&f.data);
    fit_ckpt_clear(&own);
    return rc;
}

/* `vbt fit --resume OUTDIR`: read OUTDIR.checkpoint, go to the directory the
 * interrupted run was started in, parse its command line again and run it
 * from the checkpoint.  --threads, --quiet and --verbose may be given anew;
 * they do not change the draws. */
static int run_resume(const cli_parsed *p)
{
    const char *dir = cli_str(p, "resume");
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
    int threads_given = 0;
    for (int a = 2; a < p->argc; a++)
        threads_given |= !strncmp(p->argv[a], "--threads", 9);
    char path[4096];
    struct stat sb;
    if (fit_ckpt_path(dir, path, sizeof path) || stat(path, &sb) != 0) {
        cli_error(p, "no checkpoint '%s' to resume from (the run finished, never began "
                     "sampling with --checkpoint-every > 0, or OUTDIR is another)", path);
        return CLI_ERROR;
    }
    fit_ckpt k;
    memset(&k, 0, sizeof k);
    vbt_msg msg = {{0}};
    cli_parsed run;
    int rc = CLI_ERROR;
    if (fit_ckpt_read(&k, path, &msg)) {
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
    if (cli_str(&run, "resume") || fit_ckpt_path(cli_str(&run, "output"), again, sizeof again) ||
        stat(again, &sa) != 0 || sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino) {
        cli_error(p, "cannot resume: '%s' belongs to a run writing elsewhere", path);
        rc = CLI_ERROR;
        goto out;
    }
    /* relative to the run's directory from now on */
    snprintf(k.path, sizeof k.path, "%s", again);
    if (threads_given)
        run.common.threads = p->common.threads;
    run.common.quiet |= p->common.quiet;
    run.common.verbose |= p->common.verbose;
    rc = run_fit(&run, &k);
out:
    fit_ckpt_clear(&k);
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
