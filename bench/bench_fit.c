/* bench_fit.c -- speed of the BVEP log posterior, its adjoint gradient, the
 * multi-start MAP and the Laplace approximation at the size of the BVEP
 * benchmark (Hashemi et al.: 84 regions, 162 SEEG sensors, 130 samples,
 * dt 0.1, tau0 10), on a synthetic connectome and gain.
 *
 *   bench_fit [--threads N] [--starts S] [--iters I] [--draws D]
 *             [--scheme euler|heun|rk4]
 *
 * Set OPENBLAS_NUM_THREADS=1: the matrix products are small and the
 * parallelism is across starts.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv)
{
    size_t threads = 1, starts = 16, draws = 1000, iters = 2000;
    vbt_vep_scheme map_scheme = VBT_VEP_EULER;
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
        } else {
            fprintf(stderr, "usage: bench_fit [--threads N] [--starts S] [--iters I] [--draws D] "
                            "[--scheme euler|heun|rk4]\n");
            return 2;
        }
    }
    /* Synthetic connectome: log-normal weights on ~30% of the pairs. */
    static double W[NR * NR], G[NS * NR], Y[NT * NS];
    vbt_rng r;
    vbt_rng_init(&r, 2020, 0);
    for (size_t k = 0; k < NR * NR; k++) {
        double u[2];
        vbt_rng_uniform(&r, u, 2);
        W[k] = u[0] < 0.3 ? exp(2.0 * (u[1] - 0.5) * 3.0) : 0.0;
    }
    /* Synthetic inverse-square gain: sensors and regions on a sphere-ish cloud. */
    double pos_r[NR * 3], pos_s[NS * 3];
    vbt_rng_normal(&r, pos_r, NR * 3);
    vbt_rng_normal(&r, pos_s, NS * 3);
    for (size_t s = 0; s < NS; s++)
        for (size_t j = 0; j < NR; j++) {
            double d2 = 0.05;
            for (int c = 0; c < 3; c++) {
                double d = pos_s[s * 3 + c] - pos_r[j * 3 + c];
                d2 += d * d;
            }
            G[s * NR + j] = 0.1 / d2;
        }

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
    free(dr);
    free(lw);
    free(best);
    free(lps);
    free(nat);
    free(th);
    free(g);
    vbt_vep_free(m);
    return 0;
}
