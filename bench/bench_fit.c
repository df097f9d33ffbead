/* bench_fit.c -- speed and quality of BVEP's inference (issue 6): the log
 * posterior and its adjoint gradient, multi-start MAP, the Laplace
 * approximation, NUTS, ADVI and SMC on synthetic patients.
 *
 *   bench_fit [--threads N] [--priors bvep2022|bvep2020] [--starts S] [--iters I]
 *             [--polish K] [--newton N] [--map-init prior|data] [--draws D] [--scheme euler|heun|rk4] [--nuts-only] [--chains C]
 *             [--warmup W] [--nuts-draws D] [--metric diag|dense|laplace]
 *             [--method map|nuts|smc|advi|both|all] [--advi-family meanfield|fullrank]
 *             [--write-problem DIR] [--particles N] [--smc-moves M] [--leapfrog L]
 *             [--smc-max-steps S] [--grad-only] [--grad-blocks B] [--grad-reps R]
 *             [--grad-batch N] [--grad-dump FILE]
 *
 * Part 1, the BVEP benchmark size (Hashemi et al. 2022: 84 regions, 162
 * SEEG sensors, 130 samples, dt 0.1, tau0 10) on a synthetic connectome and
 * gain (bench_synth.h): the time of logp and of logp + gradient for every
 * scheme and observation model; then, on a synthetic patient made as in
 * BVEP's benchmark (--priors bvep2022, the default): EZ regions 7 and 35
 * (1-based) at x0 = -1.6, the 3 regions the EZ drive most strongly as PZ at
 * x0 = -2.5 with their EZ -> PZ weights raised to the largest weight (BVEP's
 * synthetic patients raise them), every other region x0 = -3.5, initial
 * state (x, z) = (-2, 5) everywhere (the resting state at x0 = -3.5), K 1,
 * amp 1, offsets 0, eps 0.1, Euler, linear observation.  The simulated
 * trajectories are checked (EZ and PZ cross x = 0, the HZ do not).  Priors
 * as BVEP 2022: x_init ~ N(-2, 0.1), z_init ~ N(5, 0.1), x0 ~ N(-3.5, 0.75)
 * (weakly informative, as validate_recovery), the library's defaults for
 * the rest.  The fit (fit_bench): MAP from S starts (--starts, 16) with at
 * most I L-BFGS iterations each (--iters, 100), then at most N Newton steps
 * with BFGS steps between them (--newton, 30) on the K starts that ended
 * highest (--polish, 8; 0: every
 * start; --map-init data: even starts from vbt_vep_x0_from_data), the Laplace approximation
 * at the mode checked by PSIS (--draws 1000 draws: k-hat, ESS), then C NUTS
 * chains (--chains 4) on --threads threads from the jittered mode with the
 * Laplace covariance as metric (default here --metric laplace, --warmup
 * 500, --nuts-draws 2000, --adapt-delta 0.95: at 0.8 one chain of four can
 * end on a cliff of the log density where every transition diverges):
 * run by the fit object (fitting/vbt_fit.h) from these starts (seed 1):
 * per-chain step size, tree depth, leapfrogs per draw, divergences, E-BFMI,
 * wall time, the chains vbt fit would flag as stuck; max R-hat, min bulk and tail ESS
 * over the x0 and over every parameter, ESS/s, gradients/s, and the
 * EZ/PZ/HZ classification (BVEP's thresholds: EZ x0 >= -2.05, PZ >= -3.05)
 * of the posterior means against the truth, against the targets.
 * --priors bvep2020 reproduces the earlier run instead: healthy regions at
 * x0 = -2.4 and no PZ, initial state (-2, 3.6), the library's default
 * (BVEP 2020) priors with a broad free initial state; MAP + Laplace only
 * (its MAP does not converge), plus SMC or ADVI when asked.
 *
 * Part 2, the smaller patient: 18 regions (EZ 5 and 12, 1-based,
 * at x0 = -1.6, the others -2.4), 32 sensors, 100 samples, library
 * default priors, the same fit with its own defaults (8 starts, every one
 * Newton-polished (at most 10 steps), --metric diag adapted from the Laplace
 * diagonal, --warmup 500, --nuts-draws 1000, --adapt-delta 0.8).  --warmup, --nuts-draws,
 * --metric, --adapt-delta, --starts, --polish and --newton, when given, apply
 * to both parts.  --nuts-only runs part 2 alone; --write-problem DIR writes
 * its problem as a TVB connectome directory plus gain.npy and data.npy for
 * `vbt fit`, and stops.
 *
 * --method: map (MAP + Laplace only), nuts (default), smc, advi, both
 * (NUTS then SMC) or all (NUTS, ADVI, SMC).  ADVI (vbt_advi.h, one thread,
 * from the MAP, --advi-family meanfield by default): wall time, iterations,
 * ELBO, and its x0 means against the MAP's and NUTS's.  SMC (vbt_vep_smc:
 * likelihood-tempered, HMC moves, from the prior; --particles 512,
 * --smc-moves 10, --leapfrog 10, ESS target 0.5, --threads threads): wall
 * time, tempering steps, gradients, acceptance, log evidence, and its x0
 * means against the MAP's and NUTS's.  --smc-max-steps S stops after S
 * tempering steps (the run then reports how far the temperature got and the
 * cost per step: an estimate of a full run's cost where one does not fit).
 *
 * The gradient table times each entry in the CPU time of the thread
 * (CLOCK_THREAD_CPUTIME_ID) as the minimum over --grad-blocks blocks (9) of
 * --grad-reps calls (30), and prints the median beside it: the minimum is
 * the cost of the code, the rest is other processes on a shared machine.
 * Its last column: logp + gradient per point of vbt_vep_logp_batch on
 * --grad-batch N prior draws (8; 0: not measured), the same timing.
 * --grad-only stops after that table; --grad-dump FILE writes its logp and
 * gradients (%.17g) there, to compare the numbers of two builds.
 *
 * Set OPENBLAS_NUM_THREADS=1: the matrix products are small and the
 * parallelism is across starts and chains.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_synth.h"
#include "vbt_advi.h"
#include "vbt_diagnostics.h"
#include "vbt_fit.h"
#include "vbt_io.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"
#include "vbt_vep.h"

static const char *const scheme_name[] = {"euler", "heun", "rk4", NULL};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


static int vep_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

/* ---- problems --------------------------------------------------------------- */

#define MAX_EZ 4
#define MAX_NR 256 /* regions of a problem run by the fit object */
#define MAX_PZ 4

/* A synthetic patient and the defaults of its fit. */
typedef struct fit_problem {
    const char *name;
    size_t nr, ns, nt;
    uint64_t seed;               /* synth_problem's seed; the noise follows on its stream */
    size_t n_ez, n_pz;
    size_t ez[MAX_EZ];           /* 0-based */
    size_t pz[MAX_PZ];           /* n_pz == 0: the n_pz_auto regions the EZ drive most */
    size_t n_pz_auto;
    double row_sum;              /* > 0: weights scaled to this mean row sum (not max-normalised) */
    double pz_weight;            /* with row_sum: W[pz, ez] raised to at least this */
    double x0_ez, x0_pz, x0_hz;  /* truth */
    double x_init, z_init;       /* truth, every region */
    vbt_vep_scheme scheme;       /* of the fit (Euler) */
    vbt_vep_priors priors;
    size_t starts, warmup, draws;/* fit defaults */
    size_t polish, newton;       /* MAP: Newton on the best `polish` starts (0: all), steps */
    double adapt_delta;          /* NUTS target acceptance */
    vbt_nuts_metric metric;
    int keep_laplace;            /* 1: NUTS keeps the Laplace metric (--metric laplace) */
    int methods;                 /* mask of M_* this problem runs when asked */
} fit_problem;

/* --method: bit 0 NUTS, bit 1 SMC, bit 2 ADVI (MAP + Laplace always run) */
enum { M_NUTS = 1, M_SMC = 2, M_ADVI = 4 };

#define NOT_SET ((size_t)-1)

/* Command-line settings; 0 (or -1 for the metric) keeps the problem's default. */
typedef struct bench_opts {
    size_t threads, starts, iters, lap_draws, chains, warmup, nuts_draws;
    size_t polish, newton;       /* vbt_vep_map_opts n_polish (NOT_SET: the problem's),
                                    newton_iter (0: the problem's) */
    int data_start;              /* --map-init data: even MAP starts from vbt_vep_x0_from_data */
    int offsets;                 /* --offsets: -1 the problem's, 0 sample, 1 marginal */
    int metric;                  /* -1, VBT_NUTS_DIAG, VBT_NUTS_DENSE, 2 = laplace */
    double adapt_delta;          /* 0: the problem's */
    int method;
    vbt_advi_family advi_family;
    size_t particles, moves, leapfrog, max_steps;
} bench_opts;

/* The 18-region problem of the issue (unchanged since the first NUTS runs). */
static void problem_small(fit_problem *p)
{
    *p = (fit_problem){.name = "18-region patient", .nr = 18, .ns = 32, .nt = 100,
                       .seed = 2021, .n_ez = 2, .ez = {4, 11}, .x0_ez = -1.6, .x0_pz = -2.4,
                       .x0_hz = -2.4, .x_init = -2.0, .z_init = 3.6, .starts = 8,
                       .warmup = 500, .draws = 1000, .adapt_delta = 0.8,
                       .metric = VBT_NUTS_DIAG,
                       .methods = M_NUTS | M_SMC | M_ADVI};
    vbt_vep_priors_default(&p->priors);
    p->priors.off_marginal = 1; /* as vbt fit; --offsets sample: BVEP's parameterisation */
}

/* The BVEP 2022 benchmark size; bvep2020: the earlier patient and priors. */
static void problem_bvep(fit_problem *p, int bvep2020)
{
    *p = (fit_problem){.name = "BVEP benchmark patient", .nr = 84, .ns = 162, .nt = 130,
                       .seed = 2020, .n_ez = 2, .ez = {6, 34}, .starts = 16, .warmup = 500,
                       .draws = 2000, .polish = 8, .newton = 30, .adapt_delta = 0.95,
                       .metric = VBT_NUTS_DENSE, .keep_laplace = 1,
                       .methods = M_NUTS | M_SMC | M_ADVI};
    vbt_vep_priors_default(&p->priors);
    p->priors.off_marginal = 1; /* as vbt fit; --offsets sample: BVEP's parameterisation */
    if (bvep2020) {
        p->x0_ez = -1.6;
        p->x0_pz = p->x0_hz = -2.4;
        p->x_init = -2.0;
        p->z_init = 3.6;
        p->methods = M_SMC | M_ADVI;
        return;
    }
    p->n_pz_auto = 3;
    p->row_sum = 0.66; /* the Desikan connectome of data-samples/, max-normalised */
    p->pz_weight = 2.0;
    p->x0_ez = -1.6;
    p->x0_pz = -2.5;
    p->x0_hz = -3.5;
    p->x_init = -2.0;
    p->z_init = 5.0;
    p->priors.x0 = (vbt_vep_group_prior){.mu = -3.5, .sd = 0.75};
    p->priors.x_init = (vbt_vep_group_prior){.mu = -2.0, .sd = 0.1};
    p->priors.z_init = (vbt_vep_group_prior){.mu = 5.0, .sd = 0.1};
}

static int in_set(const size_t *set, size_t n, size_t i)
{
    for (size_t k = 0; k < n; k++)
        if (set[k] == i)
            return 1;
    return 0;
}

static double truth_x0(const fit_problem *p, size_t i)
{
    return in_set(p->ez, p->n_ez, i) ? p->x0_ez : in_set(p->pz, p->n_pz, i) ? p->x0_pz
                                                                              : p->x0_hz;
}

/* A problem made concrete: connectome, gain, data, the model with data and
 * the true theta. */
typedef struct problem_data {
    double *W, *G, *Y, *pos_r, *pos_s;
    vbt_vep_spec sp;
    vbt_vep *m;
    double *th_true;
    size_t np;
} problem_data;

static void problem_data_free(problem_data *d)
{
    vbt_vep_free(d->m);
    free(d->W);
    free(d->G);
    free(d->Y);
    free(d->pos_r);
    free(d->pos_s);
    free(d->th_true);
}

/* Fills p->pz when chosen automatically: the regions (not EZ) with the
 * largest summed weight from the EZ (row = target). */
static void pick_pz(fit_problem *p, const double *W)
{
    for (size_t k = 0; k < p->n_pz_auto; k++) {
        double best = -1;
        for (size_t i = 0; i < p->nr; i++) {
            double w = 0;
            for (size_t e = 0; e < p->n_ez; e++)
                w += W[i * p->nr + p->ez[e]];
            if (!in_set(p->ez, p->n_ez, i) && !in_set(p->pz, k, i) && w > best) {
                best = w;
                p->pz[k] = i;
            }
        }
    }
    p->n_pz = p->n_pz_auto;
}

/* Synthetic connectome and gain, the truth, simulated data with noise 0.1,
 * the model; prints which regions seize in the simulation. */
static int problem_make(fit_problem *p, problem_data *d, int quiet)
{
    const size_t nr = p->nr, ns = p->ns, nt = p->nt;
    vbt_msg msg;
    memset(d, 0, sizeof *d);
    d->W = malloc(nr * nr * sizeof *d->W);
    d->G = malloc(ns * nr * sizeof *d->G);
    d->Y = malloc(nt * ns * sizeof *d->Y);
    d->pos_r = malloc(nr * 3 * sizeof *d->pos_r);
    d->pos_s = malloc(ns * 3 * sizeof *d->pos_s);
    double *X = malloc(nt * nr * sizeof *X), *noise = malloc(nt * ns * sizeof *noise);
    if (!d->W || !d->G || !d->Y || !d->pos_r || !d->pos_s || !X || !noise)
        goto fail;
    vbt_rng r;
    synth_problem(p->seed, nr, ns, d->W, d->G, d->pos_r, d->pos_s, &r);
    vbt_vep_spec_default(&d->sp);
    if (p->n_pz_auto)
        pick_pz(p, d->W);
    if (p->row_sum > 0) {
        /* scaled here, not by vbt_vep_alloc, so the raised weights are in the model's units */
        double tot = 0;
        for (size_t k = 0; k < nr * nr; k++) {
            if (k / nr == k % nr)
                d->W[k] = 0;
            tot += d->W[k];
        }
        for (size_t k = 0; k < nr * nr; k++)
            d->W[k] *= p->row_sum * (double)nr / tot;
        for (size_t k = 0; k < p->n_pz; k++)
            for (size_t e = 0; e < p->n_ez; e++)
                d->W[p->pz[k] * nr + p->ez[e]] = fmax(d->W[p->pz[k] * nr + p->ez[e]],
                                                      p->pz_weight);
        d->sp.normalize = VBT_NORMALIZE_NONE;
    }
    d->sp.n_regions = nr;
    d->sp.n_sensors = ns;
    d->sp.n_samples = nt;
    d->sp.weights = d->W;
    d->sp.gain = d->G;
    d->sp.dt = 0.1;
    d->sp.scheme = p->scheme;
    d->sp.priors = p->priors;
    d->sp.priors.off_marginal = 0; /* the data come from the joint model */
    if (vbt_vep_alloc(&d->m, &d->sp, &msg))
        goto fail_msg;
    d->np = vbt_vep_n_params(d->m);
    double *nat = calloc(d->np, sizeof *nat);
    d->th_true = calloc(d->np, sizeof *d->th_true);
    if (!nat || !d->th_true) {
        free(nat);
        goto fail;
    }
    for (size_t i = 0; i < nr; i++)
        nat[i] = truth_x0(p, i);
    for (size_t i = 0; i < nr && !p->priors.x_init.fixed; i++)
        nat[nr + i] = p->x_init;
    for (size_t i = 0; i < nr && !p->priors.z_init.fixed; i++)
        nat[2 * nr + i] = p->z_init;
    nat[vbt_vep_param_index(d->m, "K")] = 1.0;
    nat[vbt_vep_param_index(d->m, "amp")] = 1.0;
    nat[vbt_vep_param_index(d->m, "eps")] = 0.1;
    vbt_vep_unconstrain(d->m, nat, d->th_true);
    vbt_vep_simulate(d->m, d->th_true, X, d->Y);
    vbt_rng_normal(&r, noise, nt * ns);
    for (size_t k = 0; k < nt * ns; k++)
        d->Y[k] += 0.1 * noise[k];
    vbt_vep_free(d->m);
    d->m = NULL;
    d->sp.data = d->Y;
    d->sp.priors.off_marginal = p->priors.off_marginal;
    if (vbt_vep_alloc(&d->m, &d->sp, &msg)) {
        free(nat);
        goto fail_msg;
    }
    /* the truth in the fit's parameterisation (marginal offsets: u) */
    vbt_vep_unconstrain(d->m, nat, d->th_true);
    free(nat);
    if (!quiet) {
        static const char *const role_name[3] = {"other", "PZ", "EZ"};
        size_t seize[3] = {0, 0, 0}, count[3] = {0, 0, 0};
        printf("\n%s: %zu regions, %zu sensors, %zu samples, dt 0.1, %s, linear, %zu free "
               "parameters\n  truth (1-based regions): EZ", p->name, nr, ns, nt,
               scheme_name[p->scheme], d->np);
        for (size_t e = 0; e < p->n_ez; e++)
            printf(" %zu", p->ez[e] + 1);
        printf(" (x0 %.2f)", p->x0_ez);
        if (p->n_pz) {
            printf(", PZ");
            for (size_t k = 0; k < p->n_pz; k++)
                printf(" %zu", p->pz[k] + 1);
            printf(" (x0 %.2f)", p->x0_pz);
        }
        printf(", other regions x0 %.2f; (x, z)(0) = (%.2f, %.2f); K 1, amp 1, eps 0.1\n",
               p->x0_hz, p->x_init, p->z_init);
        if (p->row_sum > 0)
            printf("  weights scaled to a mean row sum of %.2f, EZ -> PZ weights raised to "
                   ">= %.2g\n", p->row_sum, p->pz_weight);
        printf("  simulated seizures (first sample with x > 0):");
        for (size_t i = 0; i < nr; i++) {
            int c = in_set(p->ez, p->n_ez, i)   ? VBT_VEP_EZ
                    : in_set(p->pz, p->n_pz, i) ? VBT_VEP_PZ
                                                : VBT_VEP_HZ;
            size_t t = 0;
            while (t < nt && !(X[t * nr + i] > 0.0))
                t++;
            seize[c] += t < nt;
            count[c]++;
            if (t < nt)
                printf(" %zu (%s) t %.1f;", i + 1, role_name[c], 0.1 * (double)t);
            else if (c != VBT_VEP_HZ)
                printf(" %zu (%s) DOES NOT seize;", i + 1, role_name[c]);
        }
        printf(" EZ %zu/%zu, PZ %zu/%zu, others %zu/%zu seize\n", seize[VBT_VEP_EZ],
               count[VBT_VEP_EZ], seize[VBT_VEP_PZ], count[VBT_VEP_PZ], seize[VBT_VEP_HZ],
               count[VBT_VEP_HZ]);
    }
    free(X);
    free(noise);
    return 0;
fail_msg:
    fprintf(stderr, "bench_fit: %s\n", msg.text);
    goto out;
fail:
    fprintf(stderr, "bench_fit: out of memory\n");
out:
    free(X);
    free(noise);
    problem_data_free(d);
    return -1;
}

static int write_problem(const char *dir, const fit_problem *p, const problem_data *d)
{
    char path[4096];
    vbt_msg msg;
    FILE *fw, *fl, *fc;
    const size_t nr = p->nr;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_fit: cannot create '%s'\n", dir);
        return -1;
    }
    snprintf(path, sizeof path, "%s/connectome", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/connectome/weights.txt", dir);
    fw = fopen(path, "w");
    snprintf(path, sizeof path, "%s/connectome/tract_lengths.txt", dir);
    fl = fopen(path, "w");
    snprintf(path, sizeof path, "%s/connectome/centres.txt", dir);
    fc = fopen(path, "w");
    if (!fw || !fl || !fc)
        return -1;
    for (size_t i = 0; i < nr; i++) {
        for (size_t j = 0; j < nr; j++) {
            fprintf(fw, "%s%.17g", j ? " " : "", d->W[i * nr + j]);
            fprintf(fl, "%s%.6g", j ? " " : "", i == j ? 0.0 : 40.0);
        }
        fprintf(fw, "\n");
        fprintf(fl, "\n");
        fprintf(fc, "region%02zu %.6g %.6g %.6g\n", i, 30 * d->pos_r[3 * i],
                30 * d->pos_r[3 * i + 1], 30 * d->pos_r[3 * i + 2]);
    }
    fclose(fw);
    fclose(fl);
    fclose(fc);
    size_t sg[2] = {p->ns, nr}, sy[2] = {p->nt, p->ns};
    snprintf(path, sizeof path, "%s/gain.npy", dir);
    if (vbt_npy_write(path, d->G, 2, sg, 1, &msg))
        return -1;
    snprintf(path, sizeof path, "%s/data.npy", dir);
    if (vbt_npy_write(path, d->Y, 2, sy, 1, &msg))
        return -1;
    printf("wrote the %zu-region problem to %s (connectome/, gain.npy, data.npy); EZ = regions",
           nr, dir);
    for (size_t e = 0; e < p->n_ez; e++)
        printf(" %zu", p->ez[e] + 1);
    printf(" (1-based)\n");
    return 0;
}

/* Classification of x0 (nr values) against the truth: prints "k/nr regions
 * classified" with the wrong ones, and (when the truth has no PZ band, as
 * the 18-region patient) the EZ / non-EZ count as well; returns the count. */
static size_t classify(const fit_problem *p, const double *x0, const char *what)
{
    size_t correct = 0, ez_ok = 0;
    for (size_t i = 0; i < p->nr; i++) {
        correct += vbt_vep_x0_class(x0[i]) == vbt_vep_x0_class(truth_x0(p, i));
        ez_ok += (vbt_vep_x0_class(x0[i]) == VBT_VEP_EZ) == in_set(p->ez, p->n_ez, i);
    }
    printf("  %s: %zu/%zu regions classified (EZ x0 >= -2.05, PZ >= -3.05, else HZ); EZ vs "
           "not %zu/%zu", what, correct, p->nr, ez_ok, p->nr);
    if (correct < p->nr) {
        printf("; wrong:");
        for (size_t i = 0; i < p->nr; i++)
            if (vbt_vep_x0_class(x0[i]) != vbt_vep_x0_class(truth_x0(p, i)))
                printf(" %zu (%s, x0 %.2f, truth %.2f %s)", i + 1,
                       vbt_vep_class_name(vbt_vep_x0_class(x0[i])), x0[i], truth_x0(p, i),
                       vbt_vep_class_name(vbt_vep_x0_class(truth_x0(p, i))));
    }
    printf("\n");
    return correct;
}

/* max |a - b| over n values */
static double max_diff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

/* ---- SMC and ADVI --------------------------------------------------------------- */

/* SMC on d's model: cost, steps, acceptance, evidence, and the x0 means'
 * agreement with map_nat and nuts_mean (NULL when NUTS did not run).
 * Returns 0, or 1 on an error other than reaching --smc-max-steps. */
static int smc_bench(const fit_problem *p, const problem_data *d, const bench_opts *bo,
                     const double *map_nat, const double *nuts_mean)
{
    size_t np = d->np, nr = p->nr, N = bo->particles;
    vbt_smc_opts so;
    vbt_smc_opts_default(&so);
    so.n_particles = N;
    so.n_moves = bo->moves;
    so.n_leapfrog = bo->leapfrog;
    so.n_threads = bo->threads;
    so.max_steps = bo->max_steps;
    so.seed = 1;
    double *pt = malloc(N * np * sizeof *pt), *nd = malloc(np * sizeof *nd);
    double *temps = calloc(bo->max_steps, sizeof *temps);
    double *s1 = calloc(nr, sizeof *s1), *s2 = calloc(nr, sizeof *s2);
    int ret = 1;
    if (!pt || !nd || !temps || !s1 || !s2) {
        fprintf(stderr, "bench_fit: out of memory\n");
        goto out;
    }
    so.temperatures = temps;
    vbt_smc_result sr;
    vbt_msg msg;
    double t0 = now();
    int rc = vbt_vep_smc(d->m, &so, pt, &sr, &msg);
    double ts = now() - t0;
    printf("SMC: %zu particles, %zu HMC moves x ~%zu leapfrog steps per tempering step, ESS "
           "target %.2g, %zu threads: %.2f s, %zu tempering steps (%.2f s each), %zu gradients "
           "(%.0f/s), mean acceptance %.3f (last step %.3f), step size %.4f, %zu divergent "
           "moves, log evidence %.2f\n", N, bo->moves, bo->leapfrog, so.ess_target, bo->threads,
           ts, sr.n_steps, sr.n_steps ? ts / (double)sr.n_steps : 0.0, sr.n_grad,
           (double)sr.n_grad / ts, sr.mean_accept, sr.accept_rate, sr.step_size, sr.n_divergent,
           sr.log_evidence);
    if (rc != VBT_OK) {
        double b = sr.n_steps ? temps[sr.n_steps - 1] : 0.0;
        printf("SMC stopped: %s; temperature %.3g after %zu steps (%.2f s per step)\n",
               msg.text, b, sr.n_steps, sr.n_steps ? ts / (double)sr.n_steps : 0.0);
        printf("  temperatures:");
        for (size_t k = 0; k < sr.n_steps; k++)
            printf(" %.3g", temps[k]);
        printf("\n");
        ret = rc == VBT_ENUMERIC && sr.n_steps == bo->max_steps ? 0 : 1;
        goto out;
    }
    for (size_t k = 0; k < N; k++) {
        vbt_vep_constrain(d->m, pt + k * np, nd);
        for (size_t i = 0; i < nr; i++) {
            s1[i] += nd[i] / (double)N;
            s2[i] += nd[i] * nd[i] / (double)N;
        }
    }
    double zmax = 0;
    for (size_t i = 0; i < nr && nuts_mean; i++)
        zmax = fmax(zmax, fabs(s1[i] - nuts_mean[i]) / sqrt(fmax(0, s2[i] - s1[i] * s1[i])));
    printf("  x0 posterior means: max |SMC - MAP| %.3f", max_diff(s1, map_nat, nr));
    if (nuts_mean)
        printf(", max |SMC - NUTS| %.3f (%.2f posterior sd)", max_diff(s1, nuts_mean, nr),
               zmax);
    printf("\n");
    classify(p, s1, "SMC posterior mean");
    printf("  x0 (SMC mean +- sd | MAP%s):", nuts_mean ? " | NUTS" : "");
    for (size_t i = 0; i < nr; i++) {
        printf(" %.2f+-%.2f|%.2f", s1[i], sqrt(fmax(0, s2[i] - s1[i] * s1[i])), map_nat[i]);
        if (nuts_mean)
            printf("|%.2f", nuts_mean[i]);
    }
    printf("\n");
    ret = 0;
out:
    free(pt);
    free(nd);
    free(temps);
    free(s1);
    free(s2);
    return ret;
}

/* ADVI from the mode theta_map: time, iterations, ELBO, x0 means against the
 * MAP's and NUTS's (NULL when NUTS did not run).  0 or 1 on error. */
static int advi_bench(const fit_problem *p, const problem_data *d, const bench_opts *bo,
                      const double *theta_map, const double *map_nat, const double *nuts_mean)
{
    size_t np = d->np;
    vbt_advi_opts ao;
    vbt_advi_opts_default(&ao);
    ao.family = bo->advi_family;
    ao.seed = 1;
    int full = ao.family == VBT_ADVI_FULLRANK;
    double *mu = malloc(np * sizeof *mu), *nat = malloc(np * sizeof *nat);
    double *scale = malloc((full ? np * np : np) * sizeof *scale);
    int ret = 1;
    if (!mu || !nat || !scale) {
        fprintf(stderr, "bench_fit: out of memory\n");
        goto out;
    }
    memcpy(mu, theta_map, np * sizeof *mu);
    vbt_advi_result ar;
    vbt_msg msg;
    double t0 = now();
    if (vbt_advi(vep_cb, d->m, np, &ao, mu, scale, &ar, &msg)) {
        printf("ADVI: failed: %s (%.2f s)\n", msg.text, now() - t0);
        goto out;
    }
    double ta = now() - t0;
    /* x0 = mu + sd * raw is affine in theta: the natural value of q's mean is its x0 mean */
    vbt_vep_constrain(d->m, mu, nat);
    printf("ADVI (%s, from the MAP, 1 thread): %.2f s, %zu iterations (%.1f ms each), %s, "
           "ELBO %.2f; x0 means: max |ADVI - MAP| %.3f", full ? "full-rank" : "mean-field", ta,
           ar.iterations, 1e3 * ta / (double)(ar.iterations ? ar.iterations : 1),
           ar.converged ? "converged" : "NOT converged", ar.elbo, max_diff(nat, map_nat, p->nr));
    if (nuts_mean)
        printf(", max |ADVI - NUTS| %.3f", max_diff(nat, nuts_mean, p->nr));
    printf("\n");
    classify(p, nat, "ADVI mean");
    ret = 0;
out:
    free(mu);
    free(nat);
    free(scale);
    return ret;
}

/* ---- NUTS ------------------------------------------------------------------------ */

typedef struct nuts_summary {
    double wall, max_rhat, min_bulk, min_tail, x0_rhat, x0_bulk, x0_tail;
    size_t divergences;
} nuts_summary;

/* The time the sampling stage of a fit ended (its progress stage "done"). */
static int mark_done(void *ctx, const vbt_fit_progress *pr)
{
    if (!strcmp(pr->stage, "done"))
        *(double *)ctx = now();
    return 0;
}

/* The fit object (fitting/vbt_fit.h) on d's problem, set up as d's model. */
static int nuts_fit(const problem_data *d, const vbt_fit_opts *o, const double *inits,
                    const double *cov, vbt_fit **f, double *t_done, vbt_msg *msg)
{
    static char labels[MAX_NR][VBT_LABEL_MAX];
    const size_t nr = d->sp.n_regions, ns = d->sp.n_sensors, nt = d->sp.n_samples;
    for (size_t i = 0; i < nr && i < MAX_NR; i++)
        snprintf(labels[i], VBT_LABEL_MAX, "r%zu", i + 1);
    vbt_connectome conn = {.n = nr, .weights = (double *)d->sp.weights, .labels = labels};
    vbt_array gain = {.data = d->G, .ndim = 2, .shape = {ns, nr}, .size = ns * nr};
    vbt_array data = {.data = d->Y, .ndim = 2, .shape = {nt, ns}, .size = nt * ns};
    if (nr > MAX_NR) {
        snprintf(msg->text, sizeof msg->text, "more than %d regions", MAX_NR);
        return 1;
    }
    if (vbt_fit_alloc(f, &conn, &gain, &data, &d->sp.priors, o, msg) ||
        vbt_fit_set_inits(*f, inits, cov, msg))
        return 1;
    vbt_fit_set_progress(*f, mark_done, t_done);
    return vbt_fit_run(*f, msg) != VBT_OK;
}

/* Per chain: step size, tree depth, leapfrogs, divergences, E-BFMI, mean
 * lp, wall; and the chains vbt fit would flag as stuck.  Gradients and
 * divergences summed into *grads, *divs. */
static int chain_lines(const vbt_fit *f, size_t max_depth, double *e, size_t *grads,
                       size_t *divs)
{
    const size_t chains = vbt_fit_n_chains(f), draws = vbt_fit_n_draws(f);
    const vbt_nuts_stats *st = vbt_fit_nuts_stats(f);
    const vbt_nuts_chain_info *info = vbt_fit_nuts_info(f);
    double *mlps = calloc(chains, sizeof *mlps), *steps = calloc(chains, sizeof *steps);
    int *stuck = calloc(chains, sizeof *stuck);
    if (!mlps || !steps || !stuck) {
        free(mlps);
        free(steps);
        free(stuck);
        fprintf(stderr, "bench_fit: out of memory\n");
        return 1;
    }
    for (size_t c = 0; c < chains; c++) {
        double mlp = 0, depth = 0;
        size_t sat = 0;
        for (size_t k = 0; k < draws; k++) {
            const vbt_nuts_stats *s = st + c * draws + k;
            e[k] = s->energy;
            mlp += s->lp / (double)draws;
            depth += s->treedepth / (double)draws;
            sat += s->treedepth >= (int)max_depth;
        }
        *grads += info[c].n_leapfrog;
        *divs += info[c].divergences;
        printf("  chain %zu: step %.4f, mean tree depth %.2f (%zu at max), leapfrogs/draw %.1f, "
               "divergences %zu, E-BFMI %.3f, mean lp %.2f, %.2f s\n", c + 1, info[c].stepsize,
               depth, sat, (double)info[c].n_leapfrog / (double)draws, info[c].divergences,
               vbt_diag_ebfmi(e, draws), mlp, info[c].wall_s);
        mlps[c] = mlp;
        steps[c] = info[c].stepsize;
    }
    /* as vbt fit does, with the library's thresholds (10 below the best mean
     * lp, 0.1 x the median step size); here the chain stays in the figures */
    if (vbt_diag_stuck_chains(mlps, steps, chains, 0, 0, stuck)) {
        printf("  stuck chains (vbt fit would exclude them and fail its diagnostics):");
        for (size_t c = 0; c < chains; c++)
            if (stuck[c])
                printf(" %zu", c + 1);
        printf("\n");
    }
    free(mlps);
    free(steps);
    free(stuck);
    return 0;
}

/* R-hat and ESS over every parameter and over the x0, every chain, natural
 * units; x0_mean (nr) receives the posterior means. */
static void nuts_figures(const fit_problem *p, vbt_fit *f, double *x, double tn,
                         size_t grads, double *x0_mean, nuts_summary *s)
{
    const size_t np = vbt_fit_n_params(f), nr = p->nr, chains = vbt_fit_n_chains(f),
                 draws = vbt_fit_n_draws(f), N = chains * draws;
    const double *dr = vbt_fit_draws(f);
    const vbt_nuts_stats *st = vbt_fit_nuts_stats(f);
    size_t worst = 0;
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < N; k++)
            x[k] = dr[k * np + i];
        vbt_diag_param dp;
        vbt_diag_param_compute(x, chains, draws, &dp);
        if (!(dp.rhat <= s->max_rhat))
            worst = i;
        s->max_rhat = fmax(s->max_rhat, dp.rhat);
        s->min_bulk = fmin(s->min_bulk, dp.ess_bulk);
        s->min_tail = fmin(s->min_tail, dp.ess_tail);
        if (i < nr) {
            s->x0_rhat = fmax(s->x0_rhat, dp.rhat);
            s->x0_bulk = fmin(s->x0_bulk, dp.ess_bulk);
            s->x0_tail = fmin(s->x0_tail, dp.ess_tail);
            x0_mean[i] = dp.mean;
        }
    }
    for (size_t k = 0; k < N; k++)
        x[k] = st[k].lp;
    vbt_diag_param pl;
    vbt_diag_param_compute(x, chains, draws, &pl);
    printf("  all %zu parameters: max R-hat %.4f (%s), min bulk ESS %.0f, min tail ESS %.0f; "
           "lp__ bulk ESS %.0f\n", np, s->max_rhat, vbt_vep_param_name(vbt_fit_model(f), worst),
           s->min_bulk, s->min_tail, pl.ess_bulk);
    printf("  x0 only: max R-hat %.4f, min bulk ESS %.0f, min tail ESS %.0f (targets < 1.01, "
           "> 400)\n", s->x0_rhat, s->x0_bulk, s->x0_tail);
    printf("  min bulk ESS/s (NUTS wall): %.2f all, %.2f x0; %.0f gradients/s (the draws' "
           "gradients over the wall time with warm-up); %zu divergences\n",
           s->min_bulk / tn, s->x0_bulk / tn, (double)grads / tn, s->divergences);
}

/* C chains from the jittered mode (map, Laplace covariance cov or NULL) with
 * the problem's (or the command line's) metric, run by the fit object from
 * these starts (seed 1); prints the diagnostics and the classification;
 * x0_mean (nr) receives the posterior means.  NUTS wall: until the
 * sampling stage ended (the object's summaries, PSIS-LOO and predictive
 * after it are not timed).  0 or 1. */
static int nuts_bench(const fit_problem *p, const problem_data *d, const bench_opts *bo,
                      const double *map, const double *cov, double pre_s, double *x0_mean,
                      nuts_summary *sum)
{
    const size_t np = d->np, chains = bo->chains;
    const size_t warmup = bo->warmup ? bo->warmup : p->warmup;
    const size_t draws = bo->nuts_draws ? bo->nuts_draws : p->draws;
    vbt_nuts_metric metric = bo->metric < 0 ? p->metric
                             : bo->metric == VBT_NUTS_DIAG ? VBT_NUTS_DIAG : VBT_NUTS_DENSE;
    int keep_laplace = bo->metric < 0 ? p->keep_laplace : bo->metric == 2;
    vbt_fit_opts o;
    vbt_fit_opts_default(&o);
    o.sampler = vbt_sampler_nuts;
    o.scheme = d->sp.scheme;
    o.dt = d->sp.dt;
    o.steps = d->sp.steps;
    o.obs = d->sp.obs;
    o.normalize = d->sp.normalize;
    o.chains = chains;
    o.warmup = warmup;
    o.draws = draws;
    o.metric = keep_laplace ? VBT_FIT_METRIC_LAPLACE
               : metric == VBT_NUTS_DIAG ? VBT_FIT_METRIC_DIAG : VBT_FIT_METRIC_DENSE;
    o.adapt_delta = bo->adapt_delta > 0 ? bo->adapt_delta : p->adapt_delta;
    o.threads = bo->threads;
    o.seed = 1;
    vbt_msg msg;
    vbt_fit *f = NULL;
    int ret = 1;
    double *inits = malloc(chains * np * sizeof *inits);
    double *x = malloc(chains * draws * sizeof *x), *e = malloc(draws * sizeof *e);
    if (!inits || !x || !e) {
        fprintf(stderr, "bench_fit: out of memory\n");
        goto out;
    }
    for (size_t c = 0; c < chains; c++)
        vbt_nuts_jitter(map, cov, np, 1, c, inits + c * np);
    double t0 = now(), t_done = 0;
    if (nuts_fit(d, &o, inits, cov, &f, &t_done, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        goto out;
    }
    double tn = t_done - t0;
    vbt_nuts_opts no;
    vbt_nuts_opts_default(&no);
    printf("NUTS: %zu chains x (%zu warm-up + %zu draws), %s metric, max depth %zu, %zu "
           "threads: %.2f s (MAP + Laplace metric + NUTS %.2f s)\n", chains, warmup, draws,
           keep_laplace && cov ? "Laplace (fixed)" : metric == VBT_NUTS_DENSE ? "dense" : "diag",
           no.max_depth, bo->threads, tn, pre_s + tn);
    size_t grads = 0, divs = 0;
    if (chain_lines(f, no.max_depth, e, &grads, &divs))
        goto out;
    nuts_summary s = {.wall = tn, .min_bulk = INFINITY, .min_tail = INFINITY,
                      .x0_bulk = INFINITY, .x0_tail = INFINITY, .divergences = divs};
    nuts_figures(p, f, x, tn, grads, x0_mean, &s);
    classify(p, x0_mean, "NUTS posterior mean");
    *sum = s;
    ret = 0;
out:
    vbt_fit_free(f);
    free(inits);
    free(x);
    free(e);
    return ret;
}

/* ---- the fit: MAP -> Laplace -> NUTS -> diagnostics (-> ADVI, SMC) ---------- */

static int fit_bench(fit_problem *p, const bench_opts *bo, double nuts_target_s)
{
    problem_data d;
    if (problem_make(p, &d, 0))
        return 1;
    const size_t np = d.np, nr = p->nr;
    const size_t starts = bo->starts ? bo->starts : p->starts;
    const int methods = bo->method & p->methods;
    vbt_msg msg;
    int ret = 1;
    double *g = malloc(np * sizeof *g), *map = malloc(np * sizeof *map);
    double *map_nat = malloc(np * sizeof *map_nat), *lps = malloc(starts * sizeof *lps);
    double *ldr = malloc(bo->lap_draws * np * sizeof *ldr), *lw = malloc(bo->lap_draws * sizeof *lw);
    double *cov = malloc(np * np * sizeof *cov), *x0_nuts = malloc(nr * sizeof *x0_nuts);
    double *x0_start = malloc(nr * sizeof *x0_start);
    if (!g || !map || !map_nat || !lps || !ldr || !lw || !cov || !x0_nuts || !x0_start) {
        fprintf(stderr, "bench_fit: out of memory\n");
        goto out;
    }
    double lpt;
    int reps = 2000 * 18 * 18 / (int)(nr * nr) + 20;
    double t0 = now();
    for (int k = 0; k < reps; k++)
        vbt_vep_logp(d.m, d.th_true, &lpt, g);
    printf("logp + gradient at the truth: %.3f ms (%d repetitions)\n",
           1e3 * (now() - t0) / reps, reps);

    vbt_vep_map_opts mo;
    vbt_vep_map_opts_default(&mo);
    mo.n_starts = starts;
    mo.n_threads = bo->threads;
    mo.seed = 1;
    mo.lbfgs.max_iter = bo->iters;
    mo.n_polish = bo->polish != NOT_SET ? bo->polish : p->polish;
    mo.newton_iter = bo->newton ? bo->newton : p->newton ? p->newton : mo.newton_iter;
    if (bo->data_start && vbt_vep_x0_from_data(d.m, 5, -1.5, x0_start) == VBT_OK)
        mo.x0_start = x0_start;
    vbt_vep_map_result mr;
    t0 = now();
    if (vbt_vep_map(d.m, &mo, map, &mr, lps, NULL, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        goto out;
    }
    double tmap = now() - t0;
    vbt_vep_constrain(d.m, map, map_nat);
    char pol[64];
    if (mo.n_polish && mo.n_polish < starts)
        snprintf(pol, sizeof pol, "the best %zu", mo.n_polish);
    else
        snprintf(pol, sizeof pol, "every start");
    printf("MAP (%s, %zu %s starts, %zu threads, <= %zu L-BFGS iterations, then <= %zu Newton "
           "steps on %s): %.2f s; best lp %.2f (truth %.2f); %zu/%zu starts within %.0f of it; "
           "%zu converged\n", scheme_name[p->scheme], starts,
           mo.x0_start ? "prior/data" : "prior", bo->threads, bo->iters, mo.newton_iter, pol,
           tmap, mr.best_lp, lpt, mr.n_best, starts, mo.mode_tol, mr.n_converged);
    printf("  start lp:");
    for (size_t s = 0; s < starts; s++)
        printf(" %.1f", lps[s]);
    printf("\n");
    classify(p, map_nat, "MAP");

    vbt_vep_laplace_result lr;
    t0 = now();
    int lst = vbt_vep_laplace(d.m, map, bo->lap_draws, 2, ldr, lw, &lr, &msg);
    double tlap = now() - t0;
    if (lst)
        printf("Laplace: failed: %s (%.2f s)\n", msg.text, tlap);
    else
        printf("Laplace (%zu parameters, %zu draws, PSIS): %.2f s; Pareto k-hat %.2f (%s); "
               "ESS %.1f\n", np, bo->lap_draws, tlap, lr.khat,
               lr.khat < 0.7 ? "usable" : "not usable", lr.ess);
    printf("MAP + Laplace: %.2f s (target < 10 s)\n", tmap + tlap);

    const double *nuts_mean = NULL;
    if (methods & M_NUTS) {
        t0 = now();
        int lap_ok = vbt_nuts_laplace_cov(vep_cb, d.m, np, map, 0, cov, &msg) == VBT_OK;
        double tcov = now() - t0;
        printf("Laplace metric (vbt_nuts_laplace_cov): %s, %.2f s\n", lap_ok ? "ok" : msg.text,
               tcov);
        nuts_summary ns;
        if (nuts_bench(p, &d, bo, map, lap_ok ? cov : NULL, tmap + tcov, x0_nuts, &ns))
            goto out;
        nuts_mean = x0_nuts;
        printf("  issue targets: R-hat < 1.01 for every x0 %s, bulk ESS > 400 for every x0 %s, "
               "NUTS wall <= %.0f s %s\n", ns.x0_rhat < 1.01 ? "MET" : "NOT MET",
               ns.x0_bulk > 400 ? "MET" : "NOT MET", nuts_target_s,
               ns.wall <= nuts_target_s ? "MET" : "NOT MET");
    }
    if ((methods & M_ADVI) && advi_bench(p, &d, bo, map, map_nat, nuts_mean))
        goto out;
    if ((methods & M_SMC) && smc_bench(p, &d, bo, map_nat, nuts_mean))
        goto out;
    ret = 0;
out:
    free(g);
    free(map);
    free(map_nat);
    free(lps);
    free(ldr);
    free(lw);
    free(cov);
    free(x0_nuts);
    free(x0_start);
    problem_data_free(&d);
    return ret;
}

/* CPU time of the calling thread (s): what one evaluation costs, not what
 * the other processes on a shared machine take from the wall clock. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define GRAD_MAX_BLOCKS 101

/* Seconds per call of vbt_vep_logp (with the gradient when g is not NULL):
 * the minimum and the median over `blocks` blocks of `reps` calls, each
 * block timed in the thread's CPU time. */
static void time_logp(vbt_vep *m, const double *th, double *g, size_t blocks, size_t reps,
                      double *tmin, double *tmed)
{
    double per[GRAD_MAX_BLOCKS], lp;
    for (size_t b = 0; b < blocks; b++) {
        double t0 = cpu_now();
        for (size_t k = 0; k < reps; k++)
            vbt_vep_logp(m, th, &lp, g);
        per[b] = (cpu_now() - t0) / (double)reps;
    }
    qsort(per, blocks, sizeof *per, cmp_double);
    *tmin = per[0];
    *tmed = blocks % 2 ? per[blocks / 2] : 0.5 * (per[blocks / 2 - 1] + per[blocks / 2]);
}

/* The same for vbt_vep_logp_batch on B points (th: B rows), per point. */
static void time_logp_batch(vbt_vep *m, size_t B, const double *th, double *lp, double *g,
                            size_t blocks, size_t reps, double *tmin, double *tmed)
{
    double per[GRAD_MAX_BLOCKS];
    vbt_vep_logp_batch(m, B, th, lp, g); /* the lanes' workspaces, made on first use */
    for (size_t b = 0; b < blocks; b++) {
        double t0 = cpu_now();
        for (size_t k = 0; k < reps; k++)
            vbt_vep_logp_batch(m, B, th, lp, g);
        per[b] = (cpu_now() - t0) / (double)(reps * B);
    }
    qsort(per, blocks, sizeof *per, cmp_double);
    *tmin = per[0];
    *tmed = blocks % 2 ? per[blocks / 2] : 0.5 * (per[blocks / 2 - 1] + per[blocks / 2]);
}

/* logp and logp + gradient for every scheme and observation model on p's
 * data, at a prior draw, alone and (batch > 0) in batches of `batch` prior
 * draws (vbt_vep_logp_batch, per point); with dump, also writes each logp and
 * gradient (%.17g) there, to compare two builds' numbers. */
static int grad_table(fit_problem *p, size_t blocks, size_t reps, size_t batch, const char *dump)
{
    problem_data d;
    if (problem_make(p, &d, 1))
        return 1;
    FILE *df = NULL;
    if (dump && !(df = fopen(dump, "w"))) {
        fprintf(stderr, "bench_fit: %s: %s\n", dump, strerror(errno));
        problem_data_free(&d);
        return 1;
    }
    printf("BVEP benchmark size: %zu regions, %zu sensors, %zu samples, dt 0.1, tau0 10 "
           "(fixed); at a prior draw\n", p->nr, p->ns, p->nt);
    printf("per call, CPU time of the thread: minimum (median) over %zu blocks of %zu calls\n",
           blocks, reps);
    char bh[40];
    snprintf(bh, sizeof bh, "batch of %zu (ms/pt)", batch);
    printf("%-6s %-9s %5s %18s %18s %8s %20s\n", "scheme", "obs", "steps", "logp (ms)",
           "logp + grad (ms)", "ratio", batch ? bh : "");
    const char *on[2] = {"linear", "logpower"};
    vbt_msg msg;
    int ret = 0;
    double worst = 0;
    for (int sc = 0; sc < 3 && !ret; sc++)
        for (int ob = 0; ob < 2 && !ret; ob++) {
            vbt_vep *m;
            d.sp.scheme = (vbt_vep_scheme)sc;
            d.sp.obs = (vbt_vep_obs)ob;
            if (vbt_vep_alloc(&m, &d.sp, &msg)) {
                fprintf(stderr, "bench_fit: %s\n", msg.text);
                ret = 1;
                break;
            }
            size_t npp = vbt_vep_n_params(m);
            size_t nb = batch ? batch : 1;
            double *t2 = calloc(npp * nb, sizeof *t2), *g2 = calloc(npp * nb, sizeof *g2), lp;
            double *lpb = calloc(nb, sizeof *lpb);
            if (!t2 || !g2 || !lpb) {
                fprintf(stderr, "bench_fit: out of memory\n");
                ret = 1;
            } else {
                vbt_vep_prior_draw(m, 1, 0, t2);
                vbt_vep_logp(m, t2, &lp, g2); /* warm the caches */
                if (df) {
                    fprintf(df, "%s %s logp %.17g\n", scheme_name[sc], on[ob], lp);
                    for (size_t i = 0; i < npp; i++)
                        fprintf(df, "%s %s grad %zu %.17g\n", scheme_name[sc], on[ob], i, g2[i]);
                }
                double vmin, vmed, gmin, gmed;
                time_logp(m, t2, NULL, blocks, reps, &vmin, &vmed);
                time_logp(m, t2, g2, blocks, reps, &gmin, &gmed);
                char vs[40], gs[40], bs[40] = "";
                snprintf(vs, sizeof vs, "%.3f (%.3f)", 1e3 * vmin, 1e3 * vmed);
                snprintf(gs, sizeof gs, "%.3f (%.3f)", 1e3 * gmin, 1e3 * gmed);
                if (batch) {
                    /* row 0 is the point above; the others more prior draws */
                    for (size_t b = 1; b < batch; b++)
                        vbt_vep_prior_draw(m, 1, b, t2 + b * npp);
                    double bmin, bmed;
                    time_logp_batch(m, batch, t2, lpb, g2, blocks, reps, &bmin, &bmed);
                    snprintf(bs, sizeof bs, "%.3f (%.3f)", 1e3 * bmin, 1e3 * bmed);
                }
                printf("%-6s %-9s %5d %18s %18s %8.2f %20s\n", scheme_name[sc], on[ob], 1, vs, gs,
                       gmin / vmin, bs);
                worst = gmin > worst ? gmin : worst;
            }
            free(t2);
            free(g2);
            free(lpb);
            vbt_vep_free(m);
        }
    if (!ret)
        printf("(target: one logp + gradient <= 1 ms for every scheme: slowest %.3f ms, %s)\n",
               1e3 * worst, worst <= 1e-3 ? "met" : "NOT met");
    if (df && fclose(df)) {
        fprintf(stderr, "bench_fit: %s: write failed\n", dump);
        ret = 1;
    }
    problem_data_free(&d);
    return ret;
}

static const char usage[] =
    "usage: bench_fit [--threads N] [--priors bvep2022|bvep2020] [--starts S] [--iters I] "
    "[--polish K] [--newton N] [--map-init prior|data] "
    "[--draws D] [--scheme euler|heun|rk4] [--nuts-only] [--chains C] [--warmup W] "
    "[--nuts-draws D] [--metric diag|dense|laplace] [--adapt-delta A] [--offsets sample|marginal] "
    "[--method map|nuts|smc|advi|both|all] [--advi-family meanfield|fullrank] "
    "[--write-problem DIR] [--particles N] [--smc-moves M] [--leapfrog L] "
    "[--smc-max-steps S] [--grad-only] [--grad-blocks B] [--grad-reps R] [--grad-batch N] "
    "[--grad-dump FILE]\n";

/* index of s in the NULL-terminated list, or -1 */
static int choice(const char *s, const char *const *list)
{
    for (int k = 0; list[k]; k++)
        if (!strcmp(s, list[k]))
            return k;
    return -1;
}

int main(int argc, char **argv)
{
    bench_opts bo = {.threads = 1, .iters = 100, .lap_draws = 1000, .chains = 4,
                     .polish = NOT_SET, .offsets = -1,
                     .metric = -1, .method = M_NUTS, .advi_family = VBT_ADVI_MEANFIELD,
                     .particles = 512, .moves = 10, .leapfrog = 10, .max_steps = 1000};
    vbt_vep_scheme scheme = VBT_VEP_EULER;
    int nuts_only = 0, bvep2020 = 0, grad_only = 0;
    size_t grad_blocks = 9, grad_reps = 30, grad_batch = 8;
    const char *write_dir = NULL, *grad_dump = NULL;
    static const char *const metrics[] = {"diag", "dense", "laplace", NULL};
    static const char *const methods[] = {"map", "nuts", "smc", "advi", "both", "all", NULL};
    static const int method_mask[] = {0, M_NUTS, M_SMC, M_ADVI, M_NUTS | M_SMC,
                                      M_NUTS | M_SMC | M_ADVI};
    static const char *const families[] = {"meanfield", "fullrank", NULL};
    static const char *const priors[] = {"bvep2022", "bvep2020", NULL};
    static const char *const offsets[] = {"sample", "marginal", NULL};
    static const char *const map_inits[] = {"prior", "data", NULL};
    for (int a = 1; a < argc; a++) {
        const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
        int k = 0;
        if (!strcmp(o, "--nuts-only"))
            nuts_only = 1;
        else if (!strcmp(o, "--grad-only"))
            grad_only = 1;
        else if (!v)
            k = -1;
        else if (!strcmp(o, "--threads"))
            bo.threads = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--starts"))
            bo.starts = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--iters"))
            bo.iters = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--draws"))
            bo.lap_draws = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--chains"))
            bo.chains = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--warmup"))
            bo.warmup = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--nuts-draws"))
            bo.nuts_draws = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--particles"))
            bo.particles = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--smc-moves"))
            bo.moves = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--leapfrog"))
            bo.leapfrog = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--smc-max-steps"))
            bo.max_steps = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--adapt-delta"))
            bo.adapt_delta = strtod(v, NULL);
        else if (!strcmp(o, "--polish"))
            bo.polish = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--newton"))
            bo.newton = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--map-init") && (k = choice(v, map_inits)) >= 0)
            bo.data_start = k;
        else if (!strcmp(o, "--write-problem"))
            write_dir = v;
        else if (!strcmp(o, "--grad-blocks"))
            grad_blocks = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--grad-reps"))
            grad_reps = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--grad-batch"))
            grad_batch = strtoul(v, NULL, 10);
        else if (!strcmp(o, "--grad-dump"))
            grad_dump = v;
        else if (!strcmp(o, "--scheme") && (k = choice(v, scheme_name)) >= 0)
            scheme = (vbt_vep_scheme)k;
        else if (!strcmp(o, "--metric") && (k = choice(v, metrics)) >= 0)
            bo.metric = k;
        else if (!strcmp(o, "--method") && (k = choice(v, methods)) >= 0)
            bo.method = method_mask[k];
        else if (!strcmp(o, "--advi-family") && (k = choice(v, families)) >= 0)
            bo.advi_family = k ? VBT_ADVI_FULLRANK : VBT_ADVI_MEANFIELD;
        else if (!strcmp(o, "--priors") && (k = choice(v, priors)) >= 0)
            bvep2020 = k;
        else if (!strcmp(o, "--offsets") && (k = choice(v, offsets)) >= 0)
            bo.offsets = k;
        else
            k = -1;
        if (k < 0) {
            fputs(usage, stderr);
            return 2;
        }
        a += strcmp(o, "--nuts-only") != 0 && strcmp(o, "--grad-only") != 0;
    }
    if (bo.particles < 8 || bo.moves < 1 || bo.leapfrog < 1 || bo.max_steps < 1 ||
        bo.threads < 1 || bo.chains < 1 || grad_blocks < 1 || grad_blocks > GRAD_MAX_BLOCKS ||
        grad_reps < 1 || bo.iters < 1 || bo.lap_draws < 5 ||
        (bo.nuts_draws && bo.nuts_draws < 4) || bo.adapt_delta < 0 || bo.adapt_delta >= 1) {
        fprintf(stderr, "bench_fit: --particles >= 8, --draws >= 5, --nuts-draws >= 4, "
                        "--threads, --chains, --iters, --smc-moves, --leapfrog and "
                        "--smc-max-steps >= 1, --adapt-delta in (0, 1), --grad-blocks "
                        "in [1, 101], --grad-reps >= 1\n");
        return 2;
    }
    fit_problem small, big;
    problem_small(&small);
    problem_bvep(&big, bvep2020);
    if (bo.offsets >= 0)
        small.priors.off_marginal = big.priors.off_marginal = bo.offsets;
    if (write_dir) {
        problem_data d;
        if (problem_make(&small, &d, 1))
            return 1;
        int rc = write_problem(write_dir, &small, &d);
        problem_data_free(&d);
        return rc ? 1 : 0;
    }
    if (!nuts_only) {
        if (grad_table(&big, grad_blocks, grad_reps, grad_batch, grad_dump))
            return 1;
        if (grad_only)
            return 0;
        big.scheme = scheme; /* after the table, which covers every scheme */
        if (fit_bench(&big, &bo, 300))
            return 1;
    }
    return fit_bench(&small, &bo, 30);
}
