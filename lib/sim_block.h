/* sim_block.h -- the delayed sums of a block of steps (sim.c), included
 * once per instruction set: VBT_TPL_SUF names the copy, VBT_CVT8F(p) turns
 * eight floats at p into a vbt_v8d.  Not a public header.
 *
 * Every sum is taken in the order of a single step of one simulation
 * (delayed_step_one()): four partial sums over the connections k0 + p,
 * k0 + p + 4, ..., each from 0.0 in increasing k, then (a0 + a1) +
 * (a2 + a3).  Vector lanes are independent sums, and the build keeps a
 * product and its sum two roundings (-ffp-contract=off in meson.build), so
 * the bytes do not depend on the instruction set, K, B or a simulation's
 * position in its batch. */
#define VBT_TPL_CAT(a, b) a##b
#define VBT_TPL_CAT2(a, b) VBT_TPL_CAT(a, b)
#define VBT_TPL(name) VBT_TPL_CAT2(name, VBT_TPL_SUF)

/* Eight values of the ring as doubles. */
#define VBT_LOAD8(hd, hf, off)                                                             \
    ((hf) ? VBT_CVT8F((hf) + (off))                                                        \
          : (vbt_v8d)(*(const vbt_v8d_u *)((hd) + (off))))

/* Sums of values pos .. pos + 8 NV of the windows (offsets off[q], q = k -
 * k0, weights w[k0 + q], nk connections) into out[pos ..]; part: 4 * 8 NV
 * scratch.  pf/npf: the offsets whose values from pf_pos are requested. */
#define VBT_CHUNK_FN(NV)                                                                   \
    static inline __attribute__((always_inline)) void VBT_TPL(chunk_sums_##NV)(            \
        const double *restrict hd, const float *restrict hf, const size_t *restrict off,   \
        const double *restrict w, size_t nk, size_t pos, const size_t *restrict pf,        \
        size_t npf, size_t pf_pos, double *restrict part, double *restrict out)            \
    {                                                                                      \
        for (size_t p = 0; p < 4; p++) {                                                   \
            vbt_v8d acc[NV];                                                               \
            _Pragma("GCC unroll 16") for (size_t v = 0; v < NV; v++) acc[v] =              \
                (vbt_v8d){0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};                         \
            for (size_t q = p; q < nk; q += 4) {                                           \
                const vbt_v8d wv = (vbt_v8d){0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0} +     \
                                   w[q];                                                   \
                const size_t o = off[q] + pos;                                             \
                _Pragma("GCC unroll 16") for (size_t v = 0; v < NV; v++) acc[v] +=         \
                    wv * VBT_LOAD8(hd, hf, o + 8 * v);                                     \
                if (q < npf)                                                               \
                    prefetch_chunk(hd, hf, pf[q] + pf_pos, 8 * NV);                        \
            }                                                                              \
            _Pragma("GCC unroll 16") for (size_t v = 0; v < NV; v++)                       \
                *(vbt_v8d_u *)(part + (p * NV + v) * 8) = acc[v];                          \
        }                                                                                  \
        for (size_t t = 0; t < 8 * NV; t++)                                                \
            out[pos + t] = (part[t] + part[8 * NV + t]) +                                  \
                           (part[16 * NV + t] + part[24 * NV + t]);                        \
    }
VBT_CHUNK_FN(16)
VBT_CHUNK_FN(4)
VBT_CHUNK_FN(1)
#undef VBT_CHUNK_FN

/* The sums of steps s .. s+K-1 into blk[(j * nst + r) * L + lane], from the
 * double (hf NULL) or float32 (hd NULL) ring. */
static inline __attribute__((always_inline)) void
VBT_TPL(delayed_block)(vbt_sim *sim, const double *restrict hd, const float *restrict hf,
                       uint64_t s, size_t K, double *restrict blk)
{
    const size_t n = sim->n, nst = sim->nst, B = sim->B, L = sim->L, hp = sim->hp;
    const size_t *restrict rp = sim->row_ptr;
    const double *restrict w = sim->w;
    const size_t now = (size_t)(s % (uint64_t)hp), KB = K * B;
    double *restrict part = sim->acc4;                  /* 4 * 8 * CHUNK_V */
    double *restrict sums = part + 32 * CHUNK_V;        /* K * B: one target */
    size_t *restrict off = sim->woff, *restrict offn = sim->woff + n;

    window_offsets(sim, 0, 0, now, off);
    for (size_t r = 0; r < nst; r++)
        for (size_t i = 0; i < n; i++) {
            const size_t k0 = rp[i], nk = rp[i + 1] - k0;
            const double *restrict wi = w + k0;
            /* the next target's windows, whose first chunk the last chunk requests */
            size_t nn = 0;
            if (i + 1 < n || r + 1 < nst) {
                const size_t rn = i + 1 < n ? r : r + 1, in = i + 1 < n ? i + 1 : 0;
                window_offsets(sim, rn, in, now, offn);
                nn = rp[in + 1] - rp[in];
            }
            size_t pos = 0;
            for (; pos + 8 * CHUNK_V <= KB; pos += 8 * CHUNK_V) {
                const int last = pos + 16 * CHUNK_V > KB;
                VBT_TPL(chunk_sums_16)(hd, hf, off, wi, nk, pos, last ? offn : off,
                                       last ? nn : nk, last ? 0 : pos + 8 * CHUNK_V, part, sums);
            }
            for (; pos + 32 <= KB; pos += 32)
                VBT_TPL(chunk_sums_4)(hd, hf, off, wi, nk, pos, off, 0, 0, part, sums);
            for (; pos + 8 <= KB; pos += 8)
                VBT_TPL(chunk_sums_1)(hd, hf, off, wi, nk, pos, off, 0, 0, part, sums);
            if (pos < KB) {                     /* fewer than 8 values left */
                double a[4][8] = {{0.0}};
                for (size_t q = 0; q < nk; q++)
                    for (size_t t = pos; t < KB; t++)
                        a[q & 3][t - pos] += wi[q] * (hf ? (double)hf[off[q] + t]
                                                         : hd[off[q] + t]);
                for (size_t t = pos; t < KB; t++)
                    sums[t] = (a[0][t - pos] + a[1][t - pos]) + (a[2][t - pos] + a[3][t - pos]);
            }
            for (size_t j = 0; j < K; j++)
                memcpy(blk + (j * nst + r) * L + i * B, sums + j * B, B * sizeof *sums);
            size_t *tmp = off;
            off = offn;
            offn = tmp;
        }
}

#undef VBT_LOAD8
#undef VBT_TPL
#undef VBT_TPL_CAT2
#undef VBT_TPL_CAT
