/* bench_synth.h -- the synthetic connectome and gain shared by the bench/
 * programs (bench_fit, validate_sbc).  Header-only: one static function. */
#ifndef VBT_BENCH_SYNTH_H
#define VBT_BENCH_SYNTH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "vbt_rng.h"

/* A synthetic problem from stream 0 of `seed`: log-normal weights on ~30 % of
 * the pairs (nr x nr) and an inverse-square gain (ns x nr) between sensors
 * and regions scattered as normal clouds. */
static void synth_problem(uint64_t seed, size_t nr, size_t ns, double *W, double *G,
                          double *pos_r, double *pos_s, vbt_rng *r)
{
    vbt_rng_init(r, seed, 0);
    for (size_t k = 0; k < nr * nr; k++) {
        double u[2];
        vbt_rng_uniform(r, u, 2);
        W[k] = u[0] < 0.3 ? exp(2.0 * (u[1] - 0.5) * 3.0) : 0.0;
    }
    vbt_rng_normal(r, pos_r, nr * 3);
    vbt_rng_normal(r, pos_s, ns * 3);
    for (size_t s = 0; s < ns; s++)
        for (size_t j = 0; j < nr; j++) {
            double d2 = 0.05;
            for (int c = 0; c < 3; c++) {
                double d = pos_s[s * 3 + c] - pos_r[j * 3 + c];
                d2 += d * d;
            }
            G[s * nr + j] = 0.1 / d2;
        }
}

#endif
