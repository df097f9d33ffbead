/* rng.c -- Philox4x32-10 streams (Random123) and normal deviates by the
 * ziggurat method.
 *
 * Ziggurat (Marsaglia & Tsang 2000, J. Stat. Softw. 5(8); Doornik 2005,
 * "An improved ziggurat method to generate normal random samples"): the
 * normal density is covered by 128 layers of equal area.  A 64-bit random
 * word gives a layer i (7 bits) and a signed uniform u (53 bits); x = u X_i
 * is accepted at once when |u| < X_{i+1}/X_i (about 99 % of draws).
 * Otherwise the wedge is tested against the density, or for the bottom
 * layer a value is drawn from the tail beyond R by Marsaglia's method.
 * Rejections consume further words of the same stream, so every stream is
 * a fixed sequence. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <Random123/philox.h>

#include "internal.h"
#include "vbt_rng.h"

#define ZIG_C 128
#define ZIG_R 3.442619855899            /* start of the tail */
#define ZIG_V 9.91256303526217e-3       /* area of each layer */

static double zig_x[ZIG_C + 1];          /* layer edges, X_0 = V / f(R) */
static double zig_ratio[ZIG_C];          /* X_{i+1} / X_i */
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_init(void)
{
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    zig_x[0] = ZIG_V / f;
    zig_x[1] = ZIG_R;
    zig_x[ZIG_C] = 0.0;
    for (int i = 2; i < ZIG_C; i++) {
        zig_x[i] = sqrt(-2.0 * log(ZIG_V / zig_x[i - 1] + f));
        f = exp(-0.5 * zig_x[i] * zig_x[i]);
    }
    for (int i = 0; i < ZIG_C; i++)
        zig_ratio[i] = zig_x[i + 1] / zig_x[i];
}

void vbt_rng_init(vbt_rng *r, uint64_t seed, uint64_t stream)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->stream[0] = (uint32_t)stream;
    r->stream[1] = (uint32_t)(stream >> 32);
    r->counter = 0;
    pthread_once(&zig_once, zig_init);
}

/* Words are produced in blocks of BLOCK Philox calls (2 words each). */
#define BLOCK 32
#define WORDS (2 * BLOCK)

/* Fill w[0..2 calls) from the next `calls` (<= BLOCK) counters of the
 * stream.  The counters are independent, so the loop vectorises (32x32->64
 * multiplies). */
VBT_KERNEL static void refill(vbt_rng *r, uint64_t *restrict w, size_t calls)
{
    const philox4x32_key_t key = {{r->key[0], r->key[1]}};
    const uint64_t c0 = r->counter;
#pragma omp simd
    for (size_t b = 0; b < calls; b++) {
        uint64_t c = c0 + b;
        philox4x32_ctr_t ctr = {{(uint32_t)c, (uint32_t)(c >> 32), r->stream[0], r->stream[1]}};
        philox4x32_ctr_t o = philox4x32(ctr, key);
        w[2 * b] = ((uint64_t)o.v[1] << 32) | o.v[0];
        w[2 * b + 1] = ((uint64_t)o.v[3] << 32) | o.v[2];
    }
    r->counter += calls;
}

/* Uniform in (0, 1): 53 random bits, offset by half a unit so that neither
 * end is reached. */
static inline double to_open01(uint64_t w)
{
    return ((double)(int64_t)(w >> 11) + 0.5) * 0x1.0p-53;
}

void vbt_rng_uniform(vbt_rng *r, double *out, size_t n)
{
    uint64_t w[WORDS];
    for (size_t i = 0; i < n; i += WORDS) {
        size_t m = n - i < WORDS ? n - i : WORDS;
        refill(r, w, (m + 1) / 2);
        for (size_t k = 0; k < m; k++)
            out[i + k] = to_open01(w[k]);
    }
}

/* The rare draws that the first box test rejects continue on a side stream
 * keyed by the word's position in the main stream, so that every output
 * depends only on (seed, stream, position). */
typedef struct side {
    const vbt_rng *r;
    uint64_t pos;
    uint32_t call;
    uint64_t w[2];
    int left;
} side;

static uint64_t side_word(side *sd)
{
    if (sd->left == 0) {
        const philox4x32_key_t key = {{sd->r->key[0],
                                       sd->r->key[1] ^ (0x9E3779B9u * (sd->call + 1))}};
        philox4x32_ctr_t ctr = {{(uint32_t)sd->pos, (uint32_t)(sd->pos >> 32), sd->r->stream[0],
                                 sd->r->stream[1] ^ 0x80000000u}};
        philox4x32_ctr_t o = philox4x32(ctr, key);
        sd->w[0] = ((uint64_t)o.v[1] << 32) | o.v[0];
        sd->w[1] = ((uint64_t)o.v[3] << 32) | o.v[2];
        sd->call++;
        sd->left = 2;
    }
    return sd->w[2 - sd->left--];
}

static double normal_slow(const vbt_rng *r, uint64_t pos, int layer, double u)
{
    side sd = {.r = r, .pos = pos};
    for (;;) {
        if (layer == 0) {
            /* The tail beyond R (Marsaglia 1964). */
            double x, y;
            do {
                x = log(to_open01(side_word(&sd))) / ZIG_R;
                y = log(to_open01(side_word(&sd)));
            } while (-2.0 * y < x * x);
            return u < 0.0 ? x - ZIG_R : ZIG_R - x;
        }
        double x = u * zig_x[layer];
        double f0 = exp(-0.5 * (zig_x[layer] * zig_x[layer] - x * x));
        double f1 = exp(-0.5 * (zig_x[layer + 1] * zig_x[layer + 1] - x * x));
        if (f1 + to_open01(side_word(&sd)) * (f0 - f1) < 1.0)
            return x;
        /* Rejected: a fresh draw. */
        uint64_t w = side_word(&sd);
        layer = (int)(w & 0x7f);
        u = 2.0 * ((double)(int64_t)(w >> 11) * 0x1.0p-53) - 1.0;
        if (fabs(u) < zig_ratio[layer])
            return u * zig_x[layer];
    }
}

/* Fast path for a block of words: accepted when inside the layer's box.
 * (Left scalar: table gathers are slower than scalar loads on AMD Zen.) */
static void normal_block(const uint64_t *restrict w, size_t m, double *restrict out,
                         unsigned char *restrict reject)
{
    for (size_t k = 0; k < m; k++) {
        int layer = (int)(w[k] & 0x7f);
        double u = 2.0 * ((double)(int64_t)(w[k] >> 11) * 0x1.0p-53) - 1.0;
        out[k] = u * zig_x[layer];
        reject[k] = !(fabs(u) < zig_ratio[layer]);
    }
}

void vbt_rng_normal(vbt_rng *r, double *out, size_t n)
{
    uint64_t w[WORDS];
    unsigned char reject[WORDS];
    for (size_t i = 0; i < n; i += WORDS) {
        uint64_t pos = r->counter * 2;
        size_t m = n - i < WORDS ? n - i : WORDS;
        refill(r, w, (m + 1) / 2);
        normal_block(w, m, out + i, reject);
        for (size_t k = 0; k < m; k++)
            if (reject[k]) {
                double u = 2.0 * ((double)(int64_t)(w[k] >> 11) * 0x1.0p-53) - 1.0;
                out[i + k] = normal_slow(r, pos + k, (int)(w[k] & 0x7f), u);
            }
    }
}

#define LANES_MAX 32

typedef uint64_t vbt_v8q __attribute__((vector_size(64)));
typedef uint64_t vbt_v8q_u __attribute__((vector_size(64), aligned(8), may_alias));

/* Words of G streams at once: w[k * GP + b] is word k of the next `calls`
 * (<= BLOCK) counters of stream b (GP: G rounded up to 8; the lanes beyond
 * G are scratch).  Streams of one seed at the same counter differ only in
 * the stream words of the Philox counter, so eight streams go through the
 * ten rounds side by side, written out with vector types (a 32-bit word in
 * each 64-bit lane): the rounds of Random123's philox4x32(), so the same
 * words (test_batch's test_rng_lanes compares with vbt_rng_normal()).
 * Together with zig_box() and the direct write below, a batch of 16 on 84
 * regions drew its normals in 3.8 instead of 5.6 us per step. */
VBT_KERNEL static void refill_lanes(vbt_rng *r, size_t G, size_t GP, uint64_t *restrict w,
                                    size_t calls)
{
    const uint64_t c0 = r[0].counter, M = 0xffffffffu;
    vbt_v8q s0[LANES_MAX / 8], s1[LANES_MAX / 8];
    for (size_t g = 0; g < GP / 8; g++)
        for (size_t b = 0; b < 8; b++) {
            const size_t bb = g * 8 + b < G ? g * 8 + b : G - 1;
            s0[g][b] = r[bb].stream[0];
            s1[g][b] = r[bb].stream[1];
        }
    for (size_t c = 0; c < calls; c++) {
        const uint64_t cc = c0 + c;
        uint64_t *restrict w0 = w + 2 * c * GP, *restrict w1 = w0 + GP;
        for (size_t g = 0; g < GP / 8; g++) {
            vbt_v8q x0 = (vbt_v8q){0} + (cc & M), x1 = (vbt_v8q){0} + (cc >> 32);
            vbt_v8q x2 = s0[g], x3 = s1[g];
            uint32_t k0 = r[0].key[0], k1 = r[0].key[1];
            for (int round = 0; round < 10; round++) {
                const vbt_v8q p0 = x0 * 0xD2511F53u, p1 = x2 * 0xCD9E8D57u;
                const vbt_v8q y0 = (p1 >> 32) ^ x1 ^ k0, y2 = (p0 >> 32) ^ x3 ^ k1;
                x1 = p1 & M;
                x3 = p0 & M;
                x0 = y0;
                x2 = y2;
                k0 += 0x9E3779B9u;
                k1 += 0xBB67AE85u;
            }
            *(vbt_v8q_u *)(w0 + g * 8) = (x1 << 32) | x0;
            *(vbt_v8q_u *)(w1 + g * 8) = (x3 << 32) | x2;
        }
    }
    for (size_t b = 0; b < G; b++)
        r[b].counter += calls;
}

/* The ziggurat's first test for cnt words at once: x[k] the value if
 * accepted, rej[k] = 1 where the box test fails (normal_slow() decides). */
VBT_KERNEL static void zig_box(const uint64_t *restrict w, size_t cnt, double *restrict x,
                               unsigned char *restrict rej)
{
#pragma omp simd
    for (size_t k = 0; k < cnt; k++) {
        const uint64_t layer = w[k] & 0x7f;
        const double u = 2.0 * ((double)(int64_t)(w[k] >> 11) * 0x1.0p-53) - 1.0;
        x[k] = u * zig_x[layer];
        rej[k] = !(fabs(u) < zig_ratio[layer]);
    }
}

/* Normals of streams r[0..G) into out[i * stride + b]. */
static void normal_group(vbt_rng *r, size_t G, size_t stride, double *out, size_t n)
{
    int same = 1;
    for (size_t b = 1; same && b < G; b++)
        same = r[b].key[0] == r[0].key[0] && r[b].key[1] == r[0].key[1] &&
               r[b].counter == r[0].counter;
    if (!same) {
        /* Streams of different seeds or positions: one at a time. */
        double z[WORDS];
        for (size_t b = 0; b < G; b++)
            for (size_t i = 0; i < n; i += WORDS) {
                size_t m = n - i < WORDS ? n - i : WORDS;
                vbt_rng_normal(&r[b], z, m);
                for (size_t k = 0; k < m; k++)
                    out[(i + k) * stride + b] = z[k];
            }
        return;
    }
    const size_t GP = (G + 7) & ~(size_t)7;
    uint64_t w[LANES_MAX * WORDS];
    double x[LANES_MAX * WORDS];
    unsigned char rej[LANES_MAX * WORDS];
    for (size_t i = 0; i < n; i += WORDS) {
        const uint64_t pos = r[0].counter * 2;
        const size_t m = n - i < WORDS ? n - i : WORDS;
        refill_lanes(r, G, GP, w, (m + 1) / 2);
        /* Straight into out when a row of it is exactly the GP lanes. */
        double *restrict dst = stride == GP && G == GP ? out + i * stride : x;
        zig_box(w, m * GP, dst, rej);
        for (size_t q = 0; q < m * GP; q += 8) {
            uint64_t any;
            memcpy(&any, rej + q, sizeof any);
            for (size_t t = q; any && t < q + 8; t++) {
                const size_t k = t / GP, b = t % GP;
                if (rej[t] && b < G) {
                    const double u = 2.0 * ((double)(int64_t)(w[t] >> 11) * 0x1.0p-53) - 1.0;
                    dst[t] = normal_slow(&r[b], pos + k, (int)(w[t] & 0x7f), u);
                }
            }
        }
        if (dst == x)
            for (size_t k = 0; k < m; k++)
                memcpy(out + (i + k) * stride, x + k * GP, G * sizeof *out);
    }
}

void vbt_rng_normal_lanes(vbt_rng *r, size_t B, double *out, size_t n)
{
    for (size_t g = 0; g < B; g += LANES_MAX)
        normal_group(r + g, B - g < LANES_MAX ? B - g : LANES_MAX, B, out + g, n);
}
