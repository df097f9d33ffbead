/* seizure.c -- libvbt from C: the TVB epilepsy-tutorial seizure, planned once
 * and run for several excitabilities of the epileptogenic zone.
 *
 *   cc seizure.c $(pkg-config --cflags --libs vbt) -o seizure
 *   ./seizure path/to/connectivity_76.zip
 */
#include <stdio.h>
#include <stdlib.h>

#include <vbt.h>

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "data-samples/connectivity_76.zip";
    vbt_msg msg;
    vbt_connectome *conn;
    if (vbt_connectome_load(&conn, path, &msg)) {
        fprintf(stderr, "seizure: %s\n", msg.text);
        return 1;
    }
    /* Plan once: delays, history buffer and workspaces are set up here. */
    vbt_sim_spec spec = {vbt_model_epileptor, vbt_coupling_difference, vbt_scheme_heun,
                         conn, 0.05 /* dt, ms */, 3.0 /* mm/ms */, 1};
    vbt_sim *sim;
    if (vbt_sim_alloc(&sim, &spec, &msg)) {
        fprintf(stderr, "seizure: %s\n", msg.text);
        vbt_connectome_free(conn);
        return 1;
    }
    const size_t n = conn->n;
    double ks = -0.2, kf = 0.1, r = 0.00015, a = 1.0;
    double ic[6] = {-1.9, -17.0, 3.1, -1.0, 0.04, -0.17};
    vbt_sim_set_model_param(sim, "Ks", &ks, 1);
    vbt_sim_set_model_param(sim, "Kf", &kf, 1);
    vbt_sim_set_model_param(sim, "r", &r, 1);
    vbt_sim_set_coupling_param(sim, "a", &a, 1);
    vbt_sim_set_initial_constant(sim, ic, 6);
    const char *vars[] = {"x2 - x1"};
    vbt_monitor_spec mon = {.type = vbt_monitor_temporal_average, .period_ms = 1.0,
                            .n_vars = 1, .vars = vars, .buffer_steps = 40000};
    vbt_sim_add_monitor(sim, &mon, NULL);

    /* Run many: only parameters change between runs. */
    double *x0 = malloc(n * sizeof *x0);
    for (double ez = -2.2; ez <= -1.55; ez += 0.2) {
        for (size_t i = 0; i < n; i++)
            x0[i] = -2.4;
        x0[62 % n] = x0[47 % n] = x0[40 % n] = ez;
        vbt_sim_set_model_param(sim, "x0", x0, n);
        vbt_sim_reset(sim);
        if (vbt_sim_run(sim, 40000)) {             /* 2 s */
            fprintf(stderr, "seizure: %s\n", vbt_sim_errmsg(sim));
            break;
        }
        size_t T;
        const double *lfp = vbt_sim_monitor_data(sim, 0, &T, NULL);
        size_t seized = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < T; t++)
                if (lfp[t * n + i] < 0.0) {
                    seized++;
                    break;
                }
        printf("EZ x0 = %5.2f: %zu of %zu regions seized within 2 s\n", ez, seized, n);
    }
    free(x0);
    vbt_sim_free(sim);
    vbt_connectome_free(conn);
    return 0;
}
