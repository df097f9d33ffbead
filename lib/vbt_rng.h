/* vbt_rng.h -- counter-based random streams (Philox4x32-10, Random123).
 *
 * A stream is the pair (seed, stream index): simulation b of a batch uses
 * stream b, so its numbers do not depend on the number of threads, the
 * order in which simulations run or their position in a batch.  The state
 * is a plain struct (a key and a counter), cheap to copy and reset.
 */
#ifndef VBT_RNG_H
#define VBT_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vbt_rng {
    uint32_t key[2];        /* from the seed */
    uint32_t stream[2];     /* stream index */
    uint64_t counter;       /* Philox blocks (128 bits) used so far */
} vbt_rng;

/* Start stream `stream` of `seed` at its beginning. */
void vbt_rng_init(vbt_rng *r, uint64_t seed, uint64_t stream);

/* n uniform deviates in the open interval (0, 1), 53-bit resolution. */
void vbt_rng_uniform(vbt_rng *r, double *out, size_t n);

/* n standard normal deviates (ziggurat method of Marsaglia and Tsang 2000,
 * in Doornik's 2005 formulation, 128 layers); a few nanoseconds each. */
void vbt_rng_normal(vbt_rng *r, double *out, size_t n);

/* The same for B streams side by side: out[i * B + b] is normal i of
 * stream r[b], the numbers vbt_rng_normal(&r[b], ., n) gives.  Streams of
 * one seed at the same position (a batch's) are drawn together in vector
 * blocks; others one after the other. */
void vbt_rng_normal_lanes(vbt_rng *r, size_t B, double *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
