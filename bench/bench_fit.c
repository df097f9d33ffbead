/* bench_fit.c -- speed of the BVEP log posterior, its adjoint gradient, the
 * multi-start MAP and the Laplace approximation at the size of the BVEP
 * benchmark (Hashemi et al.: 84 regions, 162 SEEG sensors, 130 samples,
 * dt 0.1, tau0 10), on a synthetic connectome and gain.
 *
 *   bench_fit [--threads N] [--starts S] [--iters I] [--draws D]
 *             [--scheme euler|heun|rk4] [--nuts-only] [--chains C]
 *             [--warmup W] [--nuts-draws D] [--metric diag|dense|laplace]
 *             [--write-problem DIR] [--method nuts|smc|both] [--particles N]
 *             [--smc-moves M] [--leapfrog L] [--smc-max-steps S]
 *
 * Then NUTS (fitting/vbt_nuts.h) on the smaller problem: 18
 * regions, 32 sensors, 100 samples (same synthetic recipe): MAP, Laplace
 * metric, C chains from jittered MAP; wall time, ESS/s and diagnostics.
 * --nuts-only skips the 84-region part; --write-problem DIR writes that
 * 18-region problem as a TVB connectome directory plus gain.npy and
 * data.npy for `vbt fit`.
 *
 * --method smc (or both: NUTS then SMC) runs vbt_vep_smc (likelihood-
 * tempered SMC with HMC moves, from the prior; --particles 512,
 * --smc-moves 10, --leapfrog 10, ESS target 0.5, --threads threads) on the
 * 18-region problem after its MAP, and at the 84-region size after MAP +
 * Laplace: wall time, tempering steps, gradients, acceptance, log evidence,
 * and the agreement of its posterior x0 means with the MAP's and (both)
 * NUTS's.  --smc-max-steps S stops after S tempering steps (the run then
 * reports how far the temperature got and the cost per step: an estimate
 * of a full run's cost where one does not fit).
 *
 * Set OPENBLAS_NUM_THREADS=1: the matrix products are small and the
 * parallelism is across starts.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_synth.h"
#include "vbt_diagnostics.h"
#include "vbt_io.h"
#include "vbt_nuts.h"
#include "vbt_rng.h"
#include "vbt_vep.h"

#define NR 84
#define NS 162
#define NT 130

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_ez(size_t i) { return i == 6 || i == 34; }

/* ---- NUTS on the 18-region problem ---------------------------------------- */

#define SR 18
#define SS 32
#define STT 100

static int small_ez(size_t i) { return i == 4 || i == 11; }

static int vep_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

static int write_problem(const char *dir, const double *W, const double *G, const double *Y,
                         const double *pos)
{
    char path[4096];
    vbt_msg msg;
    FILE *fw, *fl, *fc;
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
    for (size_t i = 0; i < SR; i++) {
        for (size_t j = 0; j < SR; j++) {
            fprintf(fw, "%s%.17g", j ? " " : "", W[i * SR + j]);
            fprintf(fl, "%s%.6g", j ? " " : "", i == j ? 0.0 : 40.0);
        }
        fprintf(fw, "\n");
        fprintf(fl, "\n");
        fprintf(fc, "region%02zu %.6g %.6g %.6g\n", i, 30 * pos[3 * i], 30 * pos[3 * i + 1],
                30 * pos[3 * i + 2]);
    }
    fclose(fw);
    fclose(fl);
    fclose(fc);
    size_t sg[2] = {SS, SR}, sy[2] = {STT, SS};
    snprintf(path, sizeof path, "%s/gain.npy", dir);
    if (vbt_npy_write(path, G, 2, sg, 1, &msg))
        return -1;
    snprintf(path, sizeof path, "%s/data.npy", dir);
    if (vbt_npy_write(path, Y, 2, sy, 1, &msg))
        return -1;
    printf("wrote the %d-region problem to %s (connectome/, gain.npy, data.npy); EZ = regions "
           "5 and 12 (1-based)\n", SR, dir);
    return 0;
}

/* --method: bit 0 NUTS, bit 1 SMC */
enum { M_NUTS = 1, M_SMC = 2 };

typedef struct smc_cfg {
    size_t particles, moves, leapfrog, max_steps;
} smc_cfg;

/* SMC on m (nr regions; x0 the first nr parameters) with `threads` threads:
 * prints cost, steps, acceptance, evidence, and the x0 means' agreement with
 * map_nat (natural MAP values) and nuts_mean (NUTS x0 means; may be NULL).
 * is_ezf classifies the regions.  Returns 0, or 1 on an error other than
 * reaching --smc-max-steps. */
static int smc_bench(const vbt_vep *m, size_t nr, size_t threads, const smc_cfg *cf,
                     const double *map_nat, const double *nuts_mean, int (*is_ezf)(size_t))
{
    size_t np = vbt_vep_n_params(m), N = cf->particles;
    vbt_smc_opts so;
    vbt_smc_opts_default(&so);
    so.n_particles = N;
    so.n_moves = cf->moves;
    so.n_leapfrog = cf->leapfrog;
    so.n_threads = threads;
    so.max_steps = cf->max_steps;
    so.seed = 1;
    double *pt = malloc(N * np * sizeof *pt), *nd = malloc(np * sizeof *nd);
    double *temps = calloc(cf->max_steps, sizeof *temps);
    double *s1 = calloc(nr, sizeof *s1), *s2 = calloc(nr, sizeof *s2);
    if (!pt || !nd || !temps || !s1 || !s2) {
        fprintf(stderr, "bench_fit: out of memory\n");
        return 1;
    }
    so.temperatures = temps;
    vbt_smc_result sr;
    vbt_msg msg;
    double t0 = now();
    int rc = vbt_vep_smc(m, &so, pt, &sr, &msg);
    double ts = now() - t0;
    int ret = 0;
    printf("SMC: %zu particles, %zu HMC moves x ~%zu leapfrog steps per tempering step, ESS "
           "target %.2g, %zu threads: %.2f s, %zu tempering steps (%.2f s each), %zu gradients "
           "(%.0f/s), mean acceptance %.3f (last step %.3f), step size %.4f, %zu divergent "
           "moves, log evidence %.2f\n", N, cf->moves, cf->leapfrog, so.ess_target, threads, ts,
           sr.n_steps, sr.n_steps ? ts / (double)sr.n_steps : 0.0, sr.n_grad,
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
        ret = rc == VBT_ENUMERIC && sr.n_steps == cf->max_steps ? 0 : 1;
        goto out;
    }
    for (size_t k = 0; k < N; k++) {
        vbt_vep_constrain(m, pt + k * np, nd);
        for (size_t i = 0; i < nr; i++) {
            s1[i] += nd[i] / (double)N;
            s2[i] += nd[i] * nd[i] / (double)N;
        }
    }
    double dmap = 0, dnuts = 0, zmax = 0;
    size_t correct = 0;
    for (size_t i = 0; i < nr; i++) {
        double sd = sqrt(fmax(0, s2[i] - s1[i] * s1[i]));
        dmap = fmax(dmap, fabs(s1[i] - map_nat[i]));
        if (nuts_mean) {
            dnuts = fmax(dnuts, fabs(s1[i] - nuts_mean[i]));
            zmax = fmax(zmax, fabs(s1[i] - nuts_mean[i]) / sd);
        }
        correct += (s1[i] >= -2.05) == is_ezf(i);
    }
    printf("  x0 posterior means: max |SMC - MAP| %.3f", dmap);
    if (nuts_mean)
        printf(", max |SMC - NUTS| %.3f (%.2f posterior sd)", dnuts, zmax);
    printf("; %zu/%zu regions classified (mean x0 >= -2.05 = EZ)\n", correct, nr);
    printf("  x0 (SMC mean +- sd | MAP%s):", nuts_mean ? " | NUTS" : "");
    for (size_t i = 0; i < nr; i++) {
        printf(" %.2f+-%.2f|%.2f", s1[i], sqrt(fmax(0, s2[i] - s1[i] * s1[i])), map_nat[i]);
        if (nuts_mean)
            printf("|%.2f", nuts_mean[i]);
    }
    printf("\n");
out:
    free(pt);
    free(nd);
    free(temps);
    free(s1);
    free(s2);
    return ret;
}

static int nuts_bench(size_t threads, size_t chains, size_t warmup, size_t draws, int keep_laplace,
                      vbt_nuts_metric metric, const char *write_dir, int method,
                      const smc_cfg *cf)
{
    static double W[SR * SR], G[SS * SR], Y[STT * SS];
    double pos_r[SR * 3], pos_s[SS * 3];
    vbt_rng r;
    synth_problem(2021, SR, SS, W, G, pos_r, pos_s, &r);
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = SR;
    sp.n_sensors = SS;
    sp.n_samples = STT;
    sp.weights = W;
    sp.gain = G;
    vbt_msg msg;
    vbt_vep *m = NULL;
    if (vbt_vep_alloc(&m, &sp, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    size_t np = vbt_vep_n_params(m);
    double *nat = calloc(np, sizeof *nat), *th = calloc(np, sizeof *th);
    for (size_t i = 0; i < SR; i++) {
        nat[i] = small_ez(i) ? -1.6 : -2.4;
        nat[SR + i] = -2.0;
        nat[2 * SR + i] = 3.6;
    }
    nat[vbt_vep_param_index(m, "K")] = 1.0;
    nat[vbt_vep_param_index(m, "amp")] = 1.0;
    nat[vbt_vep_param_index(m, "eps")] = 0.1;
    vbt_vep_unconstrain(m, nat, th);
    vbt_vep_simulate(m, th, NULL, Y);
    double noise[STT * SS];
    vbt_rng_normal(&r, noise, STT * SS);
    for (size_t k = 0; k < STT * SS; k++)
        Y[k] += 0.1 * noise[k];
    vbt_vep_free(m);
    sp.data = Y;
    if (write_dir)
        return write_problem(write_dir, W, G, Y, pos_r) ? 1 : 0;
    if (vbt_vep_alloc(&m, &sp, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    printf("\nNUTS problem: %d regions, %d sensors, %d samples, Euler, linear, %zu free "
           "parameters\n", SR, SS, STT, np);
    double lp1, *g = malloc(np * sizeof *g);
    int reps = 2000;
    double t0 = now();
    for (int k = 0; k < reps; k++)
        vbt_vep_logp(m, th, &lp1, g);
    double tg = (now() - t0) / reps;
    printf("logp + gradient: %.1f us\n", 1e6 * tg);
    /* MAP */
    vbt_vep_map_opts mo;
    vbt_vep_map_opts_default(&mo);
    mo.n_starts = 8;
    mo.n_threads = threads;
    mo.seed = 1;
    double *map = malloc(np * sizeof *map), *cov = malloc(np * np * sizeof *cov);
    vbt_vep_map_result mr;
    t0 = now();
    if (vbt_vep_map(m, &mo, map, &mr, NULL, NULL, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    double tmap = now() - t0;
    t0 = now();
    int lap_ok = vbt_nuts_laplace_cov(vep_cb, m, np, map, 0, cov, &msg) == VBT_OK;
    double tlap = now() - t0;
    printf("MAP: 8 starts %.2f s, best lp %.2f, %zu/8 at it, %zu converged; Laplace metric %s "
           "(%.2f s)\n", tmap, mr.best_lp, mr.n_best, mr.n_converged, lap_ok ? "ok" : msg.text,
           tlap);
    double *map_nat = malloc(np * sizeof *map_nat), *x0_nuts = calloc(SR, sizeof *x0_nuts);
    vbt_vep_constrain(m, map, map_nat);
    if (!(method & M_NUTS)) {
        int ret = smc_bench(m, SR, threads, cf, map_nat, NULL, small_ez);
        vbt_vep_free(m);
        free(map_nat);
        free(x0_nuts);
        free(map);
        free(cov);
        free(g);
        free(nat);
        free(th);
        return ret;
    }
    vbt_vep **ms = calloc(chains, sizeof *ms);
    void **ctx = calloc(chains, sizeof *ctx);
    double *inits = malloc(chains * np * sizeof *inits);
    for (size_t c = 0; c < chains; c++) {
        vbt_vep_alloc(&ms[c], &sp, &msg);
        ctx[c] = ms[c];
        vbt_rng rr;
        vbt_rng_init(&rr, 1, ((uint64_t)1 << 62) + c);
        vbt_rng_normal(&rr, inits + c * np, np);
        for (size_t i = 0; i < np; i++)
            inits[c * np + i] = map[i] + (lap_ok ? 0.5 * sqrt(cov[i * np + i]) : 0.1) *
                                             inits[c * np + i];
    }
    vbt_nuts_opts o;
    vbt_nuts_opts_default(&o);
    o.warmup = warmup;
    o.draws = draws;
    o.metric = metric;
    o.adapt_metric = !(keep_laplace && lap_ok);
    vbt_nuts_run run = {.logp = vep_cb, .ctx = ctx, .n_params = np, .n_chains = chains,
                        .n_threads = threads, .seed = 1, .inits = inits,
                        .inv_metric = lap_ok ? cov : NULL, .inv_metric_full = 1};
    double *dr = malloc(chains * draws * np * sizeof *dr), *x = malloc(chains * draws * sizeof *x);
    vbt_nuts_stats *st = malloc(chains * draws * sizeof *st);
    vbt_nuts_chain_info *info = calloc(chains, sizeof *info);
    t0 = now();
    int rc = vbt_nuts_sample(&run, &o, dr, st, info, &msg);
    double tn = now() - t0;
    if (rc) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    printf("NUTS: %zu chains x (%zu warm-up + %zu draws), %s metric, %zu threads: %.2f s "
           "(MAP + Laplace + NUTS %.2f s)\n", chains, warmup, draws,
           !o.adapt_metric ? "Laplace (fixed)" : metric == VBT_NUTS_DENSE ? "dense" : "diag", threads, tn, tmap + tlap + tn);
    double *e = malloc(draws * sizeof *e);
    size_t grads = 0;
    for (size_t c = 0; c < chains; c++) {
        double mlp = 0, depth = 0;
        size_t sat = 0;
        for (size_t d = 0; d < draws; d++) {
            e[d] = st[c * draws + d].energy;
            mlp += st[c * draws + d].lp / (double)draws;
            depth += st[c * draws + d].treedepth / (double)draws;
            sat += st[c * draws + d].treedepth >= (int)o.max_depth;
        }
        grads += info[c].n_leapfrog;
        printf("  chain %zu: step %.4f, mean tree depth %.2f (%zu at max), leapfrogs/draw %.1f, "
               "divergences %zu, E-BFMI %.3f, mean lp %.2f, %.2f s\n", c + 1, info[c].stepsize,
               depth, sat, (double)info[c].n_leapfrog / (double)draws, info[c].divergences,
               vbt_diag_ebfmi(e, draws), mlp, info[c].wall_s);
    }
    double min_bulk = INFINITY, min_tail = INFINITY, max_rhat = 0, ess_lp;
    double x0_bulk = INFINITY, x0_rhat = 0; /* the targets are on the x0 */
    size_t correct = 0;
    double *nd = malloc(np * sizeof *nd);
    for (size_t i = 0; i < np; i++) {
        for (size_t k = 0; k < chains * draws; k++) {
            vbt_vep_constrain(m, dr + k * np, nd);
            x[k] = nd[i];
        }
        vbt_diag_param p;
        vbt_diag_param_compute(x, chains, draws, &p);
        min_bulk = fmin(min_bulk, p.ess_bulk);
        min_tail = fmin(min_tail, p.ess_tail);
        max_rhat = fmax(max_rhat, p.rhat);
        if (i < SR) {
            x0_bulk = fmin(x0_bulk, p.ess_bulk);
            x0_rhat = fmax(x0_rhat, p.rhat);
        }
        if (i < SR) {
            correct += (p.mean >= -2.05) == small_ez(i);
            x0_nuts[i] = p.mean;
        }
    }
    for (size_t k = 0; k < chains * draws; k++)
        x[k] = st[k].lp;
    vbt_diag_param pl;
    vbt_diag_param_compute(x, chains, draws, &pl);
    ess_lp = pl.ess_bulk;
    printf("  max R-hat %.4f, min bulk ESS %.0f, min tail ESS %.0f, lp__ bulk ESS %.0f; "
           "min bulk ESS/s %.1f (NUTS wall), %.0f gradients/s; %zu/%d regions classified "
           "(posterior mean x0 >= -2.05 = EZ)\n", max_rhat, min_bulk, min_tail, ess_lp,
           min_bulk / tn, (double)grads / tn, correct, SR);
    printf("  x0 only: max R-hat %.4f, min bulk ESS %.0f (targets < 1.01, > 400)\n", x0_rhat,
           x0_bulk);
    int ret = method & M_SMC ? smc_bench(m, SR, threads, cf, map_nat, x0_nuts, small_ez) : 0;
    free(map_nat);
    free(x0_nuts);
    for (size_t c = 0; c < chains; c++)
        vbt_vep_free(ms[c]);
    vbt_vep_free(m);
    free(ms);
    free(ctx);
    free(inits);
    free(dr);
    free(x);
    free(st);
    free(info);
    free(e);
    free(nd);
    free(map);
    free(cov);
    free(g);
    free(nat);
    free(th);
    return ret;
}

int main(int argc, char **argv)
{
    size_t threads = 1, starts = 16, draws = 1000, iters = 2000;
    vbt_vep_scheme map_scheme = VBT_VEP_EULER;
    size_t chains = 4, warmup = 1000, nuts_draws = 1000;
    int nuts_only = 0;
    vbt_nuts_metric metric = VBT_NUTS_DIAG;
    int keep_laplace = 0;
    const char *write_dir = NULL;
    int method = M_NUTS;
    smc_cfg cf = {.particles = 512, .moves = 10, .leapfrog = 10, .max_steps = 1000};
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--starts") && a + 1 < argc)
            starts = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--iters") && a + 1 < argc)
            iters = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--draws") && a + 1 < argc)
            draws = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--scheme") && a + 1 < argc) {
            a++;
            map_scheme = !strcmp(argv[a], "rk4") ? VBT_VEP_RK4
                         : !strcmp(argv[a], "heun") ? VBT_VEP_HEUN : VBT_VEP_EULER;
        } else if (!strcmp(argv[a], "--chains") && a + 1 < argc)
            chains = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--warmup") && a + 1 < argc)
            warmup = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--nuts-draws") && a + 1 < argc)
            nuts_draws = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--metric") && a + 1 < argc) {
            a++;
            metric = !strcmp(argv[a], "diag") ? VBT_NUTS_DIAG : VBT_NUTS_DENSE;
            keep_laplace = !strcmp(argv[a], "laplace");
        }
        else if (!strcmp(argv[a], "--write-problem") && a + 1 < argc)
            write_dir = argv[++a];
        else if (!strcmp(argv[a], "--nuts-only"))
            nuts_only = 1;
        else if (!strcmp(argv[a], "--method") && a + 1 < argc &&
                 (!strcmp(argv[a + 1], "nuts") || !strcmp(argv[a + 1], "smc") ||
                  !strcmp(argv[a + 1], "both"))) {
            a++;
            method = !strcmp(argv[a], "nuts") ? M_NUTS : !strcmp(argv[a], "smc") ? M_SMC
                                                                               : M_NUTS | M_SMC;
        } else if (!strcmp(argv[a], "--particles") && a + 1 < argc)
            cf.particles = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--smc-moves") && a + 1 < argc)
            cf.moves = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--leapfrog") && a + 1 < argc)
            cf.leapfrog = strtoul(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--smc-max-steps") && a + 1 < argc)
            cf.max_steps = strtoul(argv[++a], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_fit [--threads N] [--starts S] [--iters I] [--draws D] "
                            "[--scheme euler|heun|rk4] [--nuts-only] [--chains C] [--warmup W] "
                            "[--nuts-draws D] [--metric diag|dense|laplace] [--write-problem DIR] "
                            "[--method nuts|smc|both] [--particles N] [--smc-moves M] "
                            "[--leapfrog L] [--smc-max-steps S]\n");
            return 2;
        }
    }
    if (cf.particles < 8 || cf.moves < 1 || cf.leapfrog < 1 || cf.max_steps < 1) {
        fprintf(stderr, "bench_fit: --particles >= 8, --smc-moves, --leapfrog and "
                        "--smc-max-steps >= 1\n");
        return 2;
    }
    if (write_dir)
        return nuts_bench(threads, chains, warmup, nuts_draws, keep_laplace, metric, write_dir,
                          method, &cf);
    if (nuts_only)
        return nuts_bench(threads, chains, warmup, nuts_draws, keep_laplace, metric, NULL, method,
                          &cf);
    static double W[NR * NR], G[NS * NR], Y[NT * NS];
    double pos_r[NR * 3], pos_s[NS * 3];
    vbt_rng r;
    synth_problem(2020, NR, NS, W, G, pos_r, pos_s, &r);

    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = NR;
    sp.n_sensors = NS;
    sp.n_samples = NT;
    sp.weights = W;
    sp.gain = G;
    sp.dt = 0.1;
    vbt_msg msg;
    vbt_vep *m = NULL;
    if (vbt_vep_alloc(&m, &sp, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    size_t np = vbt_vep_n_params(m);
    double *nat = calloc(np, sizeof *nat), *th = calloc(np, sizeof *th),
           *g = calloc(np, sizeof *g);
    for (size_t i = 0; i < NR; i++) {
        nat[i] = is_ez(i) ? -1.6 : -2.4;
        nat[NR + i] = -2.0;
        nat[2 * NR + i] = 3.6;
    }
    nat[vbt_vep_param_index(m, "K")] = 1.0;
    nat[vbt_vep_param_index(m, "amp")] = 1.0;
    nat[vbt_vep_param_index(m, "eps")] = 0.1;
    vbt_vep_unconstrain(m, nat, th);
    vbt_vep_simulate(m, th, NULL, Y);
    double noise[NT * NS];
    vbt_rng_normal(&r, noise, NT * NS);
    for (size_t k = 0; k < NT * NS; k++)
        Y[k] += 0.1 * noise[k];
    vbt_vep_free(m);
    sp.data = Y;

    printf("BVEP benchmark size: %d regions, %d sensors, %d samples, dt 0.1, tau0 10 (fixed)\n",
           NR, NS, NT);
    printf("%-6s %-9s %5s %12s %12s %8s\n", "scheme", "obs", "steps", "logp (ms)",
           "grad (ms)", "ratio");
    const char *sn[3] = {"euler", "heun", "rk4"}, *on[2] = {"linear", "logpower"};
    for (int sc = 0; sc < 3; sc++)
        for (int ob = 0; ob < 2; ob++) {
            sp.scheme = (vbt_vep_scheme)sc;
            sp.obs = (vbt_vep_obs)ob;
            if (vbt_vep_alloc(&m, &sp, &msg)) {
                fprintf(stderr, "bench_fit: %s\n", msg.text);
                return 1;
            }
            size_t npp = vbt_vep_n_params(m);
            double *t2 = calloc(npp, sizeof *t2), *g2 = calloc(npp, sizeof *g2), lp;
            vbt_vep_prior_draw(m, 1, 0, t2);
            int reps = 300;
            vbt_vep_logp(m, t2, &lp, g2);
            double t0 = now();
            for (int k = 0; k < reps; k++)
                vbt_vep_logp(m, t2, &lp, NULL);
            double tv = (now() - t0) / reps;
            t0 = now();
            for (int k = 0; k < reps; k++)
                vbt_vep_logp(m, t2, &lp, g2);
            double tg = (now() - t0) / reps;
            printf("%-6s %-9s %5d %12.3f %12.3f %8.2f\n", sn[sc], on[ob], 1, 1e3 * tv, 1e3 * tg,
                   tg / tv);
            free(t2);
            free(g2);
            vbt_vep_free(m);
        }

    sp.scheme = map_scheme;
    sp.obs = VBT_VEP_OBS_LINEAR;
    if (vbt_vep_alloc(&m, &sp, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    np = vbt_vep_n_params(m);
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = starts;
    o.n_threads = threads;
    o.seed = 1;
    o.lbfgs.max_iter = iters;
    double *best = calloc(np, sizeof *best), *lps = calloc(starts, sizeof *lps);
    vbt_vep_map_result res;
    double t0 = now();
    if (vbt_vep_map(m, &o, best, &res, lps, NULL, &msg)) {
        fprintf(stderr, "bench_fit: %s\n", msg.text);
        return 1;
    }
    double tmap = now() - t0;
    vbt_vep_constrain(m, best, nat);
    size_t correct = 0;
    for (size_t i = 0; i < NR; i++)
        correct += (nat[i] > -2.05) == is_ez(i);
    double lpt;
    vbt_vep_logp(m, th, &lpt, NULL);
    printf("MAP (%s, linear, %zu starts, %zu threads, <= %zu iterations): %.2f s; best lp %.2f (truth %.2f); "
           "%zu/%zu starts within 1 of it; %zu converged; %zu/%d regions classified "
           "(EZ x0 > -2.05)\n",
           sn[map_scheme], starts, threads, iters, tmap, res.best_lp, lpt, res.n_best, starts,
           res.n_converged, correct, NR);
    printf("start lp:");
    for (size_t s = 0; s < starts; s++)
        printf(" %.1f", lps[s]);
    printf("\n");
    double *dr = malloc(draws * np * sizeof *dr), *lw = malloc(draws * sizeof *lw);
    vbt_vep_laplace_result lr;
    t0 = now();
    int st = vbt_vep_laplace(m, best, draws, 2, dr, lw, &lr, &msg);
    double tlap = now() - t0;
    if (st)
        printf("Laplace: failed: %s (%.2f s)\n", msg.text, tlap);
    else
        printf("Laplace (%zu parameters, %zu draws): %.2f s; Pareto k-hat %.2f; ESS %.1f\n", np,
               draws, tlap, lr.khat, lr.ess);
    printf("MAP + Laplace: %.2f s\n", tmap + tlap);
    if (method & M_SMC) {
        double *mapn = malloc(np * sizeof *mapn);
        vbt_vep_constrain(m, best, mapn);
        printf("SMC at the benchmark size (%zu parameters):\n", np);
        if (smc_bench(m, NR, threads, &cf, mapn, NULL, is_ez)) {
            free(mapn);
            return 1;
        }
        free(mapn);
    }
    free(dr);
    free(lw);
    free(best);
    free(lps);
    free(nat);
    free(th);
    free(g);
    vbt_vep_free(m);
    return nuts_bench(threads, chains, warmup, nuts_draws, keep_laplace, metric, NULL, method,
                      &cf);
}
