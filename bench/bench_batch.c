/* bench_batch.c -- throughput of single and batched stochastic simulations,
 * in CPU time.
 *
 * 84-region Desikan-Killiany connectome (data-samples, weights normalised
 * to max 1), conduction delays at 3 mm/ms, dt 0.05 ms, stochastic Heun,
 * linear coupling (a = 0.01, 5 % more in each further simulation of a
 * batch), one thread.  Every model of the table (2D and 6D Epileptor,
 * reduced Wong-Wang, Jansen-Rit, generic 2D oscillator, Montbrio-Pazo-Roxin)
 * at batch 1, 8 and 16, with the default double history and with
 * vbt_sim_set_history_float32().  Each line gives CPU seconds (best of three
 * runs; the machine is shared, so wall time is noise), millions of
 * simulation-region-steps per CPU second and the speed-up over one
 * simulation in the same precision.  The last lines compare with the
 * targets of issue 19: for a batch of 16 of the 2D Epileptor >= 100 M
 * simulation-region-steps/s and >= 6x one simulation; for the 6D Epileptor
 * (the sweep's model) >= 4x.
 *
 * The same source builds against an older libvbt (the API it uses is that
 * of issue 19's first part), so before and after are measured by one
 * program: bench/bench_before_after.sh.
 *
 * Usage: bench_batch [CONNECTOME.zip] [STEPS] [MODEL] [BATCH]
 *   MODEL and BATCH (8 or 16; batch 1, the reference, always runs) restrict
 *   the table, e.g. for a profiler.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "vbt.h"
#include "vbt_rng.h"

/* CPU time of this thread: on a shared, loaded machine the wall clock
 * also counts the time other processes hold the core. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Initial state and noise of a model: its own set-up for the Epileptors
 * (interictal, as in the tutorials), else the middle of each variable's
 * range with weak noise on every variable. */
static void setup_of(const vbt_model_type *m, double *ic, double *nsig)
{
    for (size_t v = 0; v < m->n_state; v++) {
        ic[v] = m->state_range ? 0.5 * (m->state_range[v][0] + m->state_range[v][1]) : 0.0;
        nsig[v] = 1e-6;
    }
    if (strcmp(m->name, "epileptor2d") == 0) {
        ic[0] = -1.8;
        ic[1] = 3.2;
        nsig[0] = 1e-4;
        nsig[1] = 0.0;
    } else if (strcmp(m->name, "epileptor") == 0) {
        const double i6[6] = {-1.9, -17.0, 3.1, -1.0, 0.04, -0.17};
        memcpy(ic, i6, sizeof i6);
        for (size_t v = 0; v < 6; v++)
            nsig[v] = v == 0 || v == 3 ? 1e-4 : 0.0;
    }
}

/* CPU seconds of the best of three runs of `steps` steps, or -1 on
 * failure (printed). */
static double bench(const vbt_connectome *conn, const vbt_model_type *m, size_t batch, int f32,
                    uint64_t steps)
{
    vbt_sim_spec spec = {.model = m, .coupling = vbt_coupling_linear, .scheme = vbt_scheme_heun,
                         .conn = conn, .dt_ms = 0.05, .speed_mm_per_ms = 3.0, .batch = batch};
    vbt_sim *sim;
    vbt_msg msg;
    if (vbt_sim_alloc(&sim, &spec, &msg)) {
        fprintf(stderr, "bench_batch: %s: %s\n", m->name, msg.text);
        return -1.0;
    }
    double ic[16], nsig[16], a = 0.01;
    setup_of(m, ic, nsig);
    int st = vbt_sim_set_history_float32(sim, f32) ||
             vbt_sim_set_coupling_param(sim, "a", &a, 1) ||
             vbt_sim_set_initial_constant(sim, ic, m->n_state) ||
             vbt_sim_set_noise(sim, nsig, m->n_state, 0.0);
    for (size_t b = 0; !st && b < batch; b++) {
        double ab = a * (1.0 + 0.05 * (double)b);
        st = vbt_sim_set_coupling_param_of(sim, b, "a", &ab, 1);
    }
    vbt_sim_set_seed(sim, 1, 0);
    double best = HUGE_VAL;
    for (int rep = 0; rep < 3 && !st; rep++) {
        vbt_sim_reset(sim);
        double t0 = cpu_now();
        st = vbt_sim_run(sim, steps);
        double el = cpu_now() - t0;
        best = el < best ? el : best;
    }
    if (st) {
        fprintf(stderr, "bench_batch: %s: %s\n", m->name, vbt_sim_errmsg(sim));
        best = -1.0;
    }
    vbt_sim_free(sim);
    return best;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data-samples/connectivity_84_desikan.zip";
    uint64_t steps = argc > 2 ? (uint64_t)atoll(argv[2]) : 4000;
    const char *only = argc > 3 ? argv[3] : NULL;
    const size_t only_batch = argc > 4 ? (size_t)atoll(argv[4]) : 0;
    vbt_connectome *conn;
    vbt_msg msg;
    if (vbt_connectome_load(&conn, path, &msg) ||
        vbt_connectome_normalize(conn, VBT_NORMALIZE_MAX, &msg)) {
        fprintf(stderr, "bench_batch: %s\n", msg.text);
        return 1;
    }
    openblas_set_num_threads(1);
    printf("vbt %s bench_batch: %zu regions (%s), delays 3 mm/ms, dt 0.05 ms, stochastic Heun, "
           "%llu steps, 1 thread, CPU time\n", vbt_version(), conn->n, path,
           (unsigned long long)steps);
    {
        /* Gaussian draws (Philox4x32-10 + ziggurat) in blocks of 84, as one
         * simulation's step draws them. */
        double z[84];
        vbt_rng r;
        vbt_rng_init(&r, 7, 0);
        double t0 = cpu_now();
        for (int k = 0; k < 100000; k++)
            vbt_rng_normal(&r, z, 84);
        printf("normal deviates: %.2f ns each (blocks of 84)\n",
               (cpu_now() - t0) / (100000.0 * 84) * 1e9);
    }
    static const char *const models[] = {"epileptor2d", "epileptor", "reduced_wong_wang",
                                         "jansen_rit", "generic_2d_oscillator",
                                         "montbrio_pazo_roxin"};
    static const size_t batches[] = {1, 8, 16};
    double rate2d[2][3] = {{0}}, rate6d[2][3] = {{0}};
    int bad = 0;
    printf("%-22s %5s %-7s %9s %9s %8s\n", "model", "batch", "history", "cpu s", "M/s",
           "x batch1");
    for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++) {
        const vbt_model_type *m = vbt_model_find(models[mi]);
        if (!m || (only && strcmp(only, models[mi]) != 0))
            continue;
        for (int f32 = 0; f32 <= 1; f32++) {
            double one = 0.0;
            for (size_t bi = 0; bi < 3; bi++) {
                size_t B = batches[bi];
                if (only_batch && B != 1 && B != only_batch)
                    continue;
                double cpu = bench(conn, m, B, f32, steps);
                if (cpu < 0.0) {
                    bad = 1;
                    continue;
                }
                double rate = (double)steps * (double)conn->n * (double)B / cpu / 1e6;
                if (B == 1)
                    one = rate;
                printf("%-22s %5zu %-7s %9.3f %9.2f %7.2fx\n", m->name, B,
                       f32 ? "float32" : "double", cpu, rate, one > 0.0 ? rate / one : 0.0);
                fflush(stdout);
                if (strcmp(m->name, "epileptor2d") == 0)
                    rate2d[f32][bi] = rate;
                if (strcmp(m->name, "epileptor") == 0)
                    rate6d[f32][bi] = rate;
            }
        }
    }
    for (int f32 = 0; f32 <= 1; f32++) {
        const char *h = f32 ? "float32" : "double";
        if (rate2d[f32][0] > 0.0 && rate2d[f32][2] > 0.0)
            printf("target (issue 19), 2D Epileptor batch 16, %s: %.1f M/s (>= 100: %s), "
                   "%.2fx one simulation (>= 6: %s)\n", h, rate2d[f32][2],
                   rate2d[f32][2] >= 100.0 ? "met" : "not met", rate2d[f32][2] / rate2d[f32][0],
                   rate2d[f32][2] >= 6.0 * rate2d[f32][0] ? "met" : "not met");
        if (rate6d[f32][0] > 0.0 && rate6d[f32][2] > 0.0)
            printf("target (issue 19), 6D Epileptor batch 16, %s: %.2fx one simulation "
                   "(>= 4: %s)\n", h, rate6d[f32][2] / rate6d[f32][0],
                   rate6d[f32][2] >= 4.0 * rate6d[f32][0] ? "met" : "not met");
    }
    vbt_connectome_free(conn);
    return bad;
}
