/* bench_batch.c -- throughput of single and batched stochastic simulations.
 *
 * 84-region Desikan-Killiany connectome (data-samples, weights normalised
 * to max 1), conduction delays at 3 mm/ms, dt 0.05 ms, stochastic Heun;
 * the 2D Epileptor and the Montbrio-Pazo-Roxin model; one simulation and a
 * batch of 16 on one thread, with the default double history and with
 * vbt_sim_set_history_float32().  Targets: >= 15 M region-steps/s for one
 * simulation (issue 3); for a batch of 16 of the 2D Epileptor >= 100 M
 * simulation-region-steps/s and >= 6x one simulation's throughput (issue
 * 19).  The line of each batch gives its speed-up over one simulation.
 *
 * Usage: bench_batch [CONNECTOME.zip] [STEPS]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

#include "vbt.h"
#include "vbt_rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this thread: on a shared, loaded machine the wall clock
 * also counts the time other processes hold the core. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Simulation-region-steps per CPU second (M) of the best of three runs; 0 on
 * failure. */
static double bench(const vbt_connectome *conn, const vbt_model_type *m, size_t batch, int f32,
                    uint64_t steps, const double *ic, const double *nsig, double coupling_a,
                    double single)
{
    vbt_sim_spec spec = {.model = m, .coupling = vbt_coupling_linear, .scheme = vbt_scheme_heun,
                         .conn = conn, .dt_ms = 0.05, .speed_mm_per_ms = 3.0, .batch = batch};
    vbt_sim *sim;
    vbt_msg msg;
    if (vbt_sim_alloc(&sim, &spec, &msg)) {
        fprintf(stderr, "bench_batch: %s\n", msg.text);
        return 0.0;
    }
    if (vbt_sim_set_history_float32(sim, f32)) {
        fprintf(stderr, "bench_batch: %s\n", vbt_sim_errmsg(sim));
        vbt_sim_free(sim);
        return 0.0;
    }
    vbt_sim_set_coupling_param(sim, "a", &coupling_a, 1);
    for (size_t b = 0; b < batch; b++) {
        double a = coupling_a * (1.0 + 0.05 * (double)b);
        vbt_sim_set_coupling_param_of(sim, b, "a", &a, 1);
    }
    vbt_sim_set_initial_constant(sim, ic, m->n_state);
    vbt_sim_set_noise(sim, nsig, m->n_state, 0.0);
    vbt_sim_set_seed(sim, 1, 0);
    double best = HUGE_VAL, best_wall = HUGE_VAL;
    for (int rep = 0; rep < 3; rep++) {
        vbt_sim_reset(sim);
        double t0 = cpu_now(), w0 = now();
        if (vbt_sim_run(sim, steps)) {
            fprintf(stderr, "bench_batch: %s\n", vbt_sim_errmsg(sim));
            vbt_sim_free(sim);
            return 0.0;
        }
        double el = cpu_now() - t0, wall = now() - w0;
        best = el < best ? el : best;
        best_wall = wall < best_wall ? wall : best_wall;
    }
    double rate = (double)steps * (double)conn->n * (double)batch / best / 1e6;
    printf("%-22s batch %2zu %-7s  %7.3f s cpu (%7.3f s wall)  %7.2f M "
           "simulation-region-steps/s", m->name, batch, f32 ? "float32" : "double", best,
           best_wall, rate);
    if (single > 0.0)
        printf("  %5.2fx one simulation", rate / single);
    printf("  (horizon %zu)\n", vbt_sim_horizon(sim));
    vbt_sim_free(sim);
    return rate;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data-samples/connectivity_84_desikan.zip";
    uint64_t steps = argc > 2 ? (uint64_t)atoll(argv[2]) : 20000;
    vbt_connectome *conn;
    vbt_msg msg;
    if (vbt_connectome_load(&conn, path, &msg) ||
        vbt_connectome_normalize(conn, VBT_NORMALIZE_MAX, &msg)) {
        fprintf(stderr, "bench_batch: %s\n", msg.text);
        return 1;
    }
    openblas_set_num_threads(1);
    printf("vbt %s bench_batch: %zu regions (%s), delays 3 mm/ms, dt 0.05 ms, stochastic Heun, "
           "%llu steps, 1 thread\n", vbt_version(), conn->n, path, (unsigned long long)steps);
    const double ic2[2] = {-1.8, 3.2}, ns2[2] = {1e-4, 0.0};
    const double icm[2] = {0.1, -2.0}, nsm[2] = {1e-5, 1e-4};
    /* Gaussian draws (Philox4x32-10 + ziggurat), in blocks of 84 as a step draws them. */
    {
        double z[84];
        vbt_rng r;
        vbt_rng_init(&r, 7, 0);
        double t0 = now();
        for (int k = 0; k < 200000; k++)
            vbt_rng_normal(&r, z, 84);
        double el = now() - t0;
        printf("normal deviates: %.2f ns each (blocks of 84)\n", el / (200000.0 * 84) * 1e9);
        t0 = now();
        double big[4096];
        for (int k = 0; k < 4000; k++)
            vbt_rng_normal(&r, big, 4096);
        el = now() - t0;
        printf("normal deviates: %.2f ns each (blocks of 4096)\n", el / (4000.0 * 4096) * 1e9);
    }
    int bad = 0;
    const vbt_model_type *mpr = vbt_model_find("montbrio_pazo_roxin");
    double one2 = bench(conn, vbt_model_epileptor2d, 1, 0, steps, ic2, ns2, 0.01, 0.0);
    double onem = mpr ? bench(conn, mpr, 1, 0, steps, icm, nsm, 0.01, 0.0) : 1.0;
    bad |= one2 == 0.0 || onem == 0.0;
    for (int f32 = 0; f32 <= 1; f32++) {
        bad |= bench(conn, vbt_model_epileptor2d, 16, f32, steps, ic2, ns2, 0.01, one2) == 0.0;
        if (mpr)
            bad |= bench(conn, mpr, 16, f32, steps, icm, nsm, 0.01, onem) == 0.0;
    }
    vbt_connectome_free(conn);
    return bad;
}
