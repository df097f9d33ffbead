/* sim.c -- the network simulator: delays, history ring buffer, coupling,
 * time loop.  See vbt_sim.h for the contract.
 *
 * Layout.  State x[v*L + lane] (structure of arrays; lane = region * B +
 * simulation, simulation innermost).  The history keeps only the
 * pre-synaptic rows of the coupling variables, one ring of hp slots per
 * (region, row), each slot holding the B lanes of that region:
 * hist[((j*nst + r)*hs + slot)*B + b], the state of step s in slot s mod hp.
 * One delayed read thus brings all simulations of a source at once.  One
 * simulation uses a power of two hp >= horizon (a mask); a batch uses hp =
 * horizon, the smallest ring.  When every delay allows it, the sums of
 * several steps are taken in one pass, each connection reading a run of
 * consecutive slots (delayed_sums()); for those runs each ring keeps
 * copies of its first kblk - 1 slots after its end (hs = hp + kblk - 1
 * slots), so that a run never wraps around.  The ring may be float32
 * (vbt_sim_set_history_float32()); the default is double.  Connections are
 * kept in CSR by target row with their
 * integer delays.  When no connection of nonzero weight has a delay, the
 * ring is not used: the coupling reads the current state, through a dense
 * BLAS product when the matrix is dense enough, else through the CSR.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cblas.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "internal.h"
#include "monitors/monitor.h"
#include "vbt_rng.h"
#include "vbt_sim.h"

/* Above this fraction of nonzero weights the zero-delay coupling uses a
 * dense matrix-vector product (measured in bench/bench_sim.c). */
#define DENSE_MIN_DENSITY 0.25

/* How often (steps) the state is checked for NaN/Inf. */
#define FINITE_CHECK_EVERY 256

/* Delayed sums (delayed_sums()): steps per pass over the ring, at most
 * BLOCK_MAX (64 beat 32 and 16 for the 2D Epileptor on the Desikan
 * connectome, batches of 1 and 16) and at least BLOCK_MIN (else step by
 * step); step by step, the connections ahead whose slots are requested.
 * Measured in bench/bench_batch.c and bench/bench_sim.c. */
#define BLOCK_MAX 64
#define STEP_AHEAD 24
#define BLOCK_MIN 8
/* Vectors of 8 sums that delayed_block() keeps in registers per chunk. */
#define CHUNK_V 16


enum coupling_path { PATH_DELAYED, PATH_SPARSE, PATH_DENSE };

struct vbt_sim {
    const vbt_model_type *model;
    const vbt_coupling_type *coupling;
    const vbt_scheme_type *scheme;
    size_t n, nsv, ncv;
    size_t nst;                 /* rows of the pre-synaptic transform (stored in history) */
    size_t B;                   /* simulations side by side (batch) */
    int f32;                    /* history kept in float32 */
    size_t L;                   /* lanes = n * B; lane i*B + b is region i of simulation b */
    double dt;
    char (*labels)[VBT_LABEL_MAX];

    /* connections */
    enum coupling_path path;
    size_t nnz;
    size_t *row_ptr;            /* n + 1 */
    size_t *col;                /* nnz: source region */
    size_t *hbase;              /* nnz: col*nst*hs*B, start of the source's rings */
    uint32_t *delay;            /* nnz: steps */
    double *w;                  /* nnz */
    double *dense_w;            /* n*n column-major when path == PATH_DENSE */
    double *rowsum;             /* L: row sums of the weights, per lane */
    long *idelay_full;          /* n*n integer delays, all pairs */
    size_t horizon;             /* 1 + max delay over all pairs */
    size_t hp;                  /* ring length: a power of two >= horizon, or horizon */
    size_t hs;                  /* slots kept per ring: hp, plus kblk - 1 copies of the
                                   first slots after the end (windows never wrap) */
    double *hist;               /* n * nst * hs * B: [region][row][slot][simulation] */
    float *histf;               /* the same in float32 (vbt_sim_set_history_float32), else NULL */

    /* parameters, per lane */
    double *mp;                 /* model: n_param * L */
    double *cp;                 /* coupling: n_param * L */

    /* state and workspaces, all [row][lane] */
    double *x;                  /* nsv * L */
    double *work;               /* n_work * nsv * L */
    double *xcv;                /* ncv * L: the current coupling variables, copied ... */
    const double *cv;           /* ... there or, when they are consecutive rows of the
                                   state, read in place (gather_cvars()) */
    int cv_in_place;
    double *pre;                /* nst * L: pre(xcv); NULL when pre is the identity */
    double *csum;               /* nst * L: delayed weighted sums */
    double *c;                  /* ncv * L: coupling input of the model */
    uint64_t step;

    /* noise: dW = g * z per step (white), or g * dt sqrt(1/ntau) * eta (coloured) */
    int noisy;
    double *nsig;               /* nsv * L, D of dX = f dt + sqrt(2 D) dW */
    double *gain;               /* nsv * L, sqrt(2 D dt) (white) or sqrt(2 D) dt / sqrt(ntau) */
    double ntau;                /* ms; 0 for white noise */
    double *z;                  /* nsv * L normals of the step */
    double *eta;                /* nsv * L Ornstein-Uhlenbeck state (coloured) */
    double *dW;                 /* nsv * L increments of the step (0 for quiet variables) */
    double *acc4;               /* partial sums of the coupling (sparse: 4 * B; delayed
                                   blocks: 4 * 8 * CHUNK_V, then kblk * B) */
    size_t *woff;               /* 2 * n: window offsets of two targets (delayed_block()) */
    size_t kblk;                /* steps whose delayed sums one pass takes (delayed_sums()) */
    double *blk;                /* kblk * nst * L: those sums, [step][row][lane] */
    uint64_t blk_start;         /* first step of the block in blk ... */
    size_t blk_len;             /* ... and its steps (0: none) */

    /* stimulus */
    int stim_on;
    vbt_stimulus stim;          /* weights and waveform point to owned copies */
    double *stim_w;             /* n */
    double *stim_wave;          /* n_samples */
    double *inc;                /* nsv * L increments of a step with a stimulus */
    size_t n_noisy;             /* state variables with some D > 0 ... */
    size_t *noisy_var;          /* ... and which, nsv (normals are drawn only for them) */
    uint64_t seed, stream;
    vbt_rng *rng;               /* B streams: simulation b uses stream + b */

    /* initial conditions */
    double *ic;                 /* horizon * nsv * n rows, oldest first (all simulations) */
    int ic_set;

    /* monitors */
    vbt__monitor *mon;
    size_t n_mon;

    vbt_msg msg;
};

static int sim_fail(vbt_sim *sim, int status, const char *fmt, ...) VBT_PRINTF(3, 4);
static int sim_fail(vbt_sim *sim, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbt__vfail(&sim->msg, status, fmt, ap);
    va_end(ap);
    return status;
}

static size_t next_pow2(size_t v)
{
    size_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

/* The history of a batch is large (tens of MB) and read at thousands of
 * scattered places per step: back it with transparent huge pages where the
 * kernel offers them, so that the reads do not also miss the TLB. */
static void *alloc_history(size_t count, size_t size)
{
    const size_t huge = (size_t)2 << 20, bytes = count * size;
    void *p = NULL;
    if (bytes >= huge) {
        if (posix_memalign(&p, huge, (bytes + huge - 1) / huge * huge) != 0)
            return NULL;
#if defined(MADV_HUGEPAGE)
        madvise(p, (bytes + huge - 1) / huge * huge, MADV_HUGEPAGE);
#endif
        memset(p, 0, bytes);
        return p;
    }
    return calloc(count, size);
}

static int plan_connections(vbt_sim *sim, const vbt_connectome *conn, double speed,
                            vbt_msg *msg)
{
    const size_t n = sim->n;
    const double *W = conn->weights, *L = conn->lengths;
    long maxd = 0, maxd_nz = 0, mind_nz = -1;
    size_t nnz = 0;

    sim->idelay_full = malloc(n * n * sizeof *sim->idelay_full);
    sim->rowsum = calloc(sim->L, sizeof *sim->rowsum);
    sim->row_ptr = calloc(n + 1, sizeof *sim->row_ptr);
    if (!sim->idelay_full || !sim->rowsum || !sim->row_ptr)
        return vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory");
    for (size_t i = 0; i < n * n; i++) {
        double d = isinf(speed) ? 0.0 : L[i] / speed / sim->dt;
        if (!(d >= 0.0) || d > 1e9)
            return vbt__fail(msg, VBT_ERANGE,
                             "delay of connection %zu <- %zu is %g steps (length %g mm, "
                             "speed %g mm/ms, dt %g ms): out of range",
                             i / n, i % n, d, L[i], speed, sim->dt);
        /* rint() rounds half to even in the default rounding mode, as
         * numpy.rint does in The Virtual Brain. */
        long id = (long)rint(d);
        sim->idelay_full[i] = id;
        if (id > maxd)
            maxd = id;
        if (W[i] != 0.0) {
            nnz++;
            if (id > maxd_nz)
                maxd_nz = id;
            if (mind_nz < 0 || id < mind_nz)
                mind_nz = id;
            for (size_t b = 0; b < sim->B; b++)
                sim->rowsum[(i / n) * sim->B + b] += W[i];
        }
    }
    sim->horizon = (size_t)maxd + 1;
    sim->nnz = nnz;
    /* Steps of delayed sums taken in one pass: every delay must be at least
     * the block's length - 1 (see delayed_sums()); shorter blocks than
     * BLOCK_MIN do not pay for their bookkeeping, and the sums are taken
     * step by step.  (TVB's 76-region connectome has zero-length
     * self-connections: step by step.  Continuing each row step by step
     * from its first short connection, with the prefix taken per block,
     * measured slower there than plain steps.) */
    sim->kblk = 1;
    if (maxd_nz > 0 && (size_t)mind_nz + 1 >= BLOCK_MIN)
        sim->kblk = (size_t)mind_nz + 1 < BLOCK_MAX ? (size_t)mind_nz + 1 : BLOCK_MAX;

    double density = (double)nnz / ((double)n * (double)n);
    /* Batches never take the dense path: BLAS's rounding may depend on the
     * shape of the product, and a simulation must give the same bytes in any
     * batch (the batched CSR loop vectorises across simulations anyway). */
    if (maxd_nz > 0)
        sim->path = PATH_DELAYED;
    else
        sim->path = density >= DENSE_MIN_DENSITY && sim->B == 1 ? PATH_DENSE : PATH_SPARSE;

    sim->col = malloc((nnz ? nnz : 1) * sizeof *sim->col);
    sim->hbase = malloc((nnz ? nnz : 1) * sizeof *sim->hbase);
    sim->delay = malloc((nnz ? nnz : 1) * sizeof *sim->delay);
    sim->w = malloc((nnz ? nnz : 1) * sizeof *sim->w);
    if (!sim->col || !sim->hbase || !sim->delay || !sim->w)
        return vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory");
    /* One simulation indexes its ring with a mask (a power of two); a batch
     * keeps exactly `horizon` slots, so that its ring, a slot of B lanes per
     * step, is as small as the delays allow (the slot a step overwrites is
     * the one the longest delay has just read, still in cache). */
    if (sim->path != PATH_DELAYED)
        sim->hp = 1;
    else
        sim->hp = sim->B > 1 ? sim->horizon : next_pow2(sim->horizon);
    sim->hs = sim->hp + (sim->path == PATH_DELAYED && sim->kblk > 1 ? sim->kblk - 1 : 0);
    if (sim->hp > (size_t)UINT32_MAX ||
        sim->hs > SIZE_MAX / sizeof(double) / (n * sim->nst * sim->B))
        return vbt__fail(msg, VBT_ERANGE, "simulator: delay horizon of %zu steps is too long",
                         sim->horizon);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        sim->row_ptr[i] = k;
        for (size_t j = 0; j < n; j++) {
            double wij = W[i * n + j];
            if (wij == 0.0)
                continue;
            sim->col[k] = j;
            sim->hbase[k] = j * sim->nst * sim->hs * sim->B;
            sim->delay[k] = (uint32_t)sim->idelay_full[i * n + j];
            sim->w[k] = wij;
            k++;
        }
    }
    sim->row_ptr[n] = k;

    if (sim->path == PATH_DENSE) {
        /* Column-major (W^T row-major): OpenBLAS's NN kernels are the
         * fastest for these small products (bench/bench_sim.c). */
        sim->dense_w = malloc(n * n * sizeof *sim->dense_w);
        if (!sim->dense_w)
            return vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory");
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                sim->dense_w[j * n + i] = W[i * n + j];
    }
    if (sim->path == PATH_DELAYED) {
        sim->hist = alloc_history(n * sim->nst * sim->hs * sim->B, sizeof(double));
        if (!sim->hist)
            return vbt__fail(msg, VBT_ENOMEM,
                             "simulator: out of memory for a history of %zu steps", sim->hp);
    }
    return VBT_OK;
}

static void set_defaults(double *p, const vbt_param_desc *d, size_t np, size_t n)
{
    for (size_t i = 0; i < np; i++)
        for (size_t k = 0; k < n; k++)
            p[i * n + k] = d[i].def;
}

int vbt_sim_alloc(vbt_sim **out, const vbt_sim_spec *spec, vbt_msg *msg)
{
    vbt_sim *sim = NULL;
    int st;

    if (!out || !spec)
        return vbt__fail(msg, VBT_EINVAL, "vbt_sim_alloc: NULL argument");
    *out = NULL;
    if (!spec->model || !spec->coupling || !spec->scheme || !spec->conn)
        return vbt__fail(msg, VBT_EINVAL,
                         "vbt_sim_alloc: model, coupling, scheme and connectome are required");
    if (!spec->model->dfun || !spec->coupling->post || !spec->scheme->step ||
        spec->model->n_state == 0 || spec->model->n_cvar == 0)
        return vbt__fail(msg, VBT_EINVAL, "vbt_sim_alloc: incomplete plug-in type table");
    if (!(spec->dt_ms > 0.0) || !isfinite(spec->dt_ms))
        return vbt__fail(msg, VBT_EINVAL, "dt must be a positive number of ms, got %g",
                         spec->dt_ms);
    if (!(spec->speed_mm_per_ms > 0.0))
        return vbt__fail(msg, VBT_EINVAL,
                         "conduction speed must be > 0 mm/ms (HUGE_VAL for no delays), got %g",
                         spec->speed_mm_per_ms);
    st = vbt_connectome_validate(spec->conn, "connectome", msg);
    if (st)
        return st;
    for (size_t v = 0; v < spec->model->n_cvar; v++)
        if (spec->model->cvar[v] >= spec->model->n_state)
            return vbt__fail(msg, VBT_EINVAL, "model '%s': coupling variable out of range",
                             spec->model->name);
    if (spec->model->n_cvar < spec->coupling->min_cvar)
        return vbt__fail(msg, VBT_EINVAL,
                         "coupling '%s' needs %zu coupling variables, model '%s' has %zu",
                         spec->coupling->name, spec->coupling->min_cvar, spec->model->name,
                         spec->model->n_cvar);

    sim = calloc(1, sizeof *sim);
    if (!sim)
        return vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory");
    sim->model = spec->model;
    sim->coupling = spec->coupling;
    sim->scheme = spec->scheme;
    sim->n = spec->conn->n;
    sim->nsv = spec->model->n_state;
    sim->ncv = spec->model->n_cvar;
    sim->nst = sim->coupling->n_pre ? sim->coupling->n_pre(sim->ncv) : sim->ncv;
    sim->dt = spec->dt_ms;
    sim->B = spec->batch ? spec->batch : 1;
    const size_t n = sim->n;
    if (sim->B > SIZE_MAX / 64 / n) {
        st = vbt__fail(msg, VBT_ERANGE, "simulator: batch of %zu is too large", sim->B);
        goto fail;
    }
    sim->L = n * sim->B;
    const size_t L = sim->L;

    st = plan_connections(sim, spec->conn, spec->speed_mm_per_ms, msg);
    if (st)
        goto fail;

    sim->labels = malloc(n * sizeof *sim->labels);
    sim->mp = malloc((sim->model->n_param ? sim->model->n_param : 1) * L * sizeof *sim->mp);
    sim->cp = malloc((sim->coupling->n_param ? sim->coupling->n_param : 1) * L *
                     sizeof *sim->cp);
    sim->x = calloc(sim->nsv * L, sizeof *sim->x);
    sim->work = malloc((sim->scheme->n_work ? sim->scheme->n_work : 1) * sim->nsv * L *
                       sizeof *sim->work);
    sim->xcv = malloc(sim->ncv * L * sizeof *sim->xcv);
    if (sim->coupling->pre)
        sim->pre = malloc(sim->nst * L * sizeof *sim->pre);
    sim->csum = malloc(sim->nst * L * sizeof *sim->csum);
    sim->c = malloc(sim->ncv * L * sizeof *sim->c);
    sim->ic = calloc(sim->horizon * sim->nsv * n, sizeof *sim->ic);
    sim->nsig = calloc(sim->nsv * L, sizeof *sim->nsig);
    sim->gain = calloc(sim->nsv * L, sizeof *sim->gain);
    sim->z = calloc(sim->nsv * L, sizeof *sim->z);
    sim->eta = calloc(sim->nsv * L, sizeof *sim->eta);
    sim->dW = calloc(sim->nsv * L, sizeof *sim->dW);
    sim->acc4 = calloc(4 * sim->B + 32 * CHUNK_V + sim->kblk * sim->B, sizeof *sim->acc4);
    sim->woff = calloc(2 * n, sizeof *sim->woff);
    if (sim->path == PATH_DELAYED)
        sim->blk = malloc(sim->kblk * sim->nst * L * sizeof *sim->blk);
    sim->rng = calloc(sim->B, sizeof *sim->rng);
    sim->noisy_var = calloc(sim->nsv, sizeof *sim->noisy_var);
    if (!sim->labels || !sim->mp || !sim->cp || !sim->x || !sim->work || !sim->csum ||
        !sim->c || !sim->ic || !sim->xcv || (sim->coupling->pre && !sim->pre) ||
        !sim->nsig || !sim->gain || !sim->z || !sim->eta || !sim->dW || !sim->noisy_var ||
        !sim->rng || !sim->acc4 || !sim->woff || (sim->path == PATH_DELAYED && !sim->blk)) {
        st = vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory (%zu regions, horizon %zu)",
                       n, sim->horizon);
        goto fail;
    }
    memcpy(sim->labels, spec->conn->labels, n * sizeof *sim->labels);
    sim->cv_in_place = 1;
    for (size_t v = 1; v < sim->ncv; v++)
        sim->cv_in_place &= sim->model->cvar[v] == sim->model->cvar[0] + v;
    sim->cv = sim->xcv;
    set_defaults(sim->mp, sim->model->params, sim->model->n_param, L);
    set_defaults(sim->cp, sim->coupling->params, sim->coupling->n_param, L);
    vbt_sim_reset(sim);
    *out = sim;
    return VBT_OK;
fail:
    vbt_sim_free(sim);
    return st;
}

void vbt_sim_free(vbt_sim *sim)
{
    if (!sim)
        return;
    for (size_t m = 0; m < sim->n_mon; m++)
        vbt__monitor_destroy(&sim->mon[m]);
    free(sim->mon);
    free(sim->row_ptr);
    free(sim->col);
    free(sim->hbase);
    free(sim->delay);
    free(sim->w);
    free(sim->dense_w);
    free(sim->rowsum);
    free(sim->idelay_full);
    free(sim->hist);
    free(sim->histf);
    free(sim->labels);
    free(sim->mp);
    free(sim->cp);
    free(sim->x);
    free(sim->work);
    free(sim->xcv);
    free(sim->pre);
    free(sim->nsig);
    free(sim->gain);
    free(sim->z);
    free(sim->eta);
    free(sim->dW);
    free(sim->noisy_var);
    free(sim->acc4);
    free(sim->woff);
    free(sim->blk);
    free(sim->stim_w);
    free(sim->stim_wave);
    free(sim->inc);
    free(sim->rng);
    free(sim->csum);
    free(sim->c);
    free(sim->ic);
    free(sim);
}

int vbt_sim_set_history_float32(vbt_sim *sim, int on)
{
    on = on != 0;
    if (sim->path == PATH_DELAYED && on != sim->f32) {
        const size_t count = sim->n * sim->nst * sim->hs * sim->B;
        void *p = alloc_history(count, on ? sizeof(float) : sizeof(double));
        if (!p)
            return sim_fail(sim, VBT_ENOMEM,
                            "simulator: out of memory for a history of %zu steps", sim->hp);
        free(sim->hist);
        free(sim->histf);
        sim->hist = on ? NULL : p;
        sim->histf = on ? p : NULL;
    }
    sim->f32 = on;
    vbt_sim_reset(sim);
    return VBT_OK;
}

const char *vbt_sim_errmsg(const vbt_sim *sim)
{
    return sim ? sim->msg.text : "no simulator";
}

/* ---- parameters ------------------------------------------------------- */

/* values: 1 (every lane), n (per region, every simulation) or L (per lane),
 * written to the lanes of simulation `only` (or all when only == SIZE_MAX). */
static int set_param(vbt_sim *sim, const char *what, const vbt_param_desc *d, size_t np,
                     double *store, const char *name, const double *values, size_t count,
                     size_t only)
{
    const size_t n = sim->n, B = sim->B, L = sim->L;
    long i = vbt_param_index(d, np, name);
    if (i < 0)
        return sim_fail(sim, VBT_ENOTFOUND, "%s has no parameter '%s'", what, name ? name : "");
    int lanes_ok = only == SIZE_MAX && B > 1 && count == L;
    if (!values || (count != 1 && count != n && !lanes_ok))
        return sim_fail(sim, VBT_EINVAL,
                        "parameter '%s': expected 1 or %zu values (one per region)%s, got %zu",
                        name, n, B > 1 && only == SIZE_MAX ? " or one per region and simulation"
                                                           : "", count);
    for (size_t k = 0; k < count; k++)
        if (!isfinite(values[k]))
            return sim_fail(sim, VBT_ENUMERIC, "parameter '%s': value %zu is not finite",
                            name, k);
    double *p = store + (size_t)i * L;
    for (size_t lane = 0; lane < L; lane++) {
        if (only != SIZE_MAX && lane % B != only)
            continue;
        p[lane] = values[count == 1 ? 0 : count == n ? lane / B : lane];
    }
    return VBT_OK;
}

static int get_param(const vbt_sim *sim, const vbt_param_desc *d, size_t np,
                     const double *store, const char *name, double *out)
{
    long i = vbt_param_index(d, np, name);
    if (i < 0 || !out)
        return VBT_ENOTFOUND;
    memcpy(out, store + (size_t)i * sim->L, sim->L * sizeof *out);
    return VBT_OK;
}

int vbt_sim_set_model_param(vbt_sim *sim, const char *name, const double *values,
                            size_t count)
{
    char what[96];
    snprintf(what, sizeof what, "model '%s'", sim->model->name);
    return set_param(sim, what, sim->model->params, sim->model->n_param, sim->mp, name,
                     values, count, SIZE_MAX);
}

int vbt_sim_set_model_param_of(vbt_sim *sim, size_t b, const char *name, const double *values,
                               size_t count)
{
    char what[96];
    if (b >= sim->B)
        return sim_fail(sim, VBT_ERANGE, "simulation %zu of a batch of %zu", b, sim->B);
    snprintf(what, sizeof what, "model '%s'", sim->model->name);
    return set_param(sim, what, sim->model->params, sim->model->n_param, sim->mp, name,
                     values, count, b);
}

int vbt_sim_set_coupling_param(vbt_sim *sim, const char *name, const double *values,
                               size_t count)
{
    char what[96];
    snprintf(what, sizeof what, "coupling '%s'", sim->coupling->name);
    return set_param(sim, what, sim->coupling->params, sim->coupling->n_param, sim->cp,
                     name, values, count, SIZE_MAX);
}

int vbt_sim_set_coupling_param_of(vbt_sim *sim, size_t b, const char *name,
                                  const double *values, size_t count)
{
    char what[96];
    if (b >= sim->B)
        return sim_fail(sim, VBT_ERANGE, "simulation %zu of a batch of %zu", b, sim->B);
    snprintf(what, sizeof what, "coupling '%s'", sim->coupling->name);
    return set_param(sim, what, sim->coupling->params, sim->coupling->n_param, sim->cp,
                     name, values, count, b);
}

int vbt_sim_get_model_param(const vbt_sim *sim, const char *name, double *out)
{
    return get_param(sim, sim->model->params, sim->model->n_param, sim->mp, name, out);
}

int vbt_sim_get_coupling_param(const vbt_sim *sim, const char *name, double *out)
{
    return get_param(sim, sim->coupling->params, sim->coupling->n_param, sim->cp, name, out);
}

/* ---- initial conditions ------------------------------------------------ */

int vbt_sim_set_initial_constant(vbt_sim *sim, const double *state, size_t n_state)
{
    if (!state || n_state != sim->nsv)
        return sim_fail(sim, VBT_EINVAL,
                        "initial state: model '%s' has %zu state variables, got %zu values",
                        sim->model->name, sim->nsv, n_state);
    for (size_t v = 0; v < n_state; v++)
        if (!isfinite(state[v]))
            return sim_fail(sim, VBT_ENUMERIC, "initial state: value of '%s' is not finite",
                            sim->model->state_names[v]);
    const size_t n = sim->n, row = sim->nsv * n;
    for (size_t r = 0; r < sim->horizon; r++)
        for (size_t v = 0; v < sim->nsv; v++)
            for (size_t k = 0; k < n; k++)
                sim->ic[r * row + v * n + k] = state[v];
    sim->ic_set = 1;
    vbt_sim_reset(sim);
    return VBT_OK;
}

int vbt_sim_set_initial_history(vbt_sim *sim, const double *hist, size_t n_rows)
{
    const size_t row = sim->nsv * sim->n;
    if (!hist)
        return sim_fail(sim, VBT_EINVAL, "initial history: NULL");
    if (n_rows < sim->horizon)
        return sim_fail(sim, VBT_ERANGE,
                        "initial history has %zu rows, the delays need at least %zu "
                        "(1 + the longest delay in steps)", n_rows, sim->horizon);
    /* Only the newest `horizon` rows matter; older ones are ignored. */
    const double *src = hist + (n_rows - sim->horizon) * row;
    for (size_t i = 0; i < sim->horizon * row; i++)
        if (!isfinite(src[i])) {
            size_t r = n_rows - sim->horizon + i / row;
            return sim_fail(sim, VBT_ENUMERIC,
                            "initial history: row %zu, variable '%s', region %zu is not finite",
                            r, sim->model->state_names[(i % row) / sim->n], i % sim->n);
        }
    memcpy(sim->ic, src, sim->horizon * row * sizeof *src);
    sim->ic_set = 1;
    vbt_sim_reset(sim);
    return VBT_OK;
}

/* Point sim->cv at the coupling variables of state x: its rows when they
 * are consecutive (the 2D Epileptor's x1), else a copy in sim->xcv. */
static void gather_cvars(vbt_sim *sim, const double *x)
{
    const size_t L = sim->L;
    if (sim->cv_in_place) {
        sim->cv = x + sim->model->cvar[0] * L;
        return;
    }
    for (size_t cv = 0; cv < sim->ncv; cv++)
        memcpy(sim->xcv + cv * L, x + sim->model->cvar[cv] * L, L * sizeof *x);
    sim->cv = sim->xcv;
}

/* Spread a state row of regions ([nsv][n]) over every simulation's lanes. */
static void broadcast_row(const vbt_sim *sim, const double *row, double *x)
{
    const size_t n = sim->n, B = sim->B, L = sim->L;
    for (size_t v = 0; v < sim->nsv; v++)
        for (size_t lane = 0; lane < L; lane++)
            x[v * L + lane] = row[v * n + lane / B];
}

/* The pre-synaptic rows of sim->cv: what the history stores and the
 * weighted sums are taken of. */
static const double *presynaptic(vbt_sim *sim)
{
    if (!sim->coupling->pre)
        return sim->cv;
    sim->coupling->pre(sim->L, sim->ncv, sim->cv, sim->cp, sim->pre);
    return sim->pre;
}

/* The ring slot of step `step` (a step before the start wraps around:
 * 2^64 - k stands for -k). */
static size_t ring_slot(const vbt_sim *sim, uint64_t step)
{
    if ((sim->hp & (sim->hp - 1)) == 0)
        return (size_t)step & (sim->hp - 1);
    int64_t s = (int64_t)step, m = s % (int64_t)sim->hp;
    return (size_t)(m < 0 ? m + (int64_t)sim->hp : m);
}

/* Write pre-synaptic rows ([nst][lane]) into slot `slot` (< hs) of the rings. */
static void write_slot(vbt_sim *sim, size_t slot, const double *restrict rows)
{
    const size_t n = sim->n, nst = sim->nst, hs = sim->hs, B = sim->B, L = sim->L;
    double *restrict hist = sim->hist;
    if (sim->histf) {
        float *restrict hf = sim->histf;
        for (size_t r = 0; r < nst; r++)
            for (size_t j = 0; j < n; j++)
                for (size_t b = 0; b < B; b++)
                    hf[((j * nst + r) * hs + slot) * B + b] = (float)rows[r * L + j * B + b];
        return;
    }
    if (B == 1) {
        for (size_t r = 0; r < nst; r++)
            for (size_t j = 0; j < n; j++)
                hist[(j * nst + r) * hs + slot] = rows[r * L + j];
        return;
    }
    for (size_t r = 0; r < nst; r++)
        for (size_t j = 0; j < n; j++)
            memcpy(hist + ((j * nst + r) * hs + slot) * B, rows + r * L + j * B,
                   B * sizeof *hist);
}

/* Write pre-synaptic rows ([nst][lane]) as the state of step `step`, and
 * request the lines that the next step will write: a slot of every ring,
 * each far from the others, whose fetch would otherwise hold up the next
 * write (the step's other work hides it; the copy of the 2D Epileptor's
 * batch of 16 took 4.1 % of the run without, 2.5 % with). */
static void write_history(vbt_sim *sim, uint64_t step, const double *restrict rows)
{
    const size_t slot = ring_slot(sim, step);
    write_slot(sim, slot, rows);
    if (slot + sim->hp < sim->hs)       /* its copy after the end of the ring */
        write_slot(sim, slot + sim->hp, rows);
    const size_t next = slot + 1 < sim->hp ? slot + 1 : 0;
    const size_t bytes = sim->B * (sim->histf ? sizeof(float) : sizeof(double));
    const char *base = sim->histf ? (const char *)sim->histf : (const char *)sim->hist;
    for (size_t q = 0; q < sim->n * sim->nst; q++) {
        const char *p = base + (q * sim->hs + next) * bytes;
        for (size_t o = 0; o < bytes; o += 64)
            __builtin_prefetch(p + o, 1, 3);
        __builtin_prefetch(p + bytes - 1, 1, 3);
    }
}

/* Write the pre-synaptic rows of the current state (sim->cv). */
static void store_history(vbt_sim *sim, uint64_t step)
{
    write_history(sim, step, presynaptic(sim));
}

/* Fill the ring from the initial history: ic row r holds the state of step
 * r - (H - 1) (wrapping for past steps).  A row equal to the one before it
 * (always, for constant initial conditions) reuses its pre-synaptic rows. */
static void fill_history(vbt_sim *sim)
{
    const size_t n = sim->n, row = sim->nsv * n, H = sim->horizon, B = sim->B, L = sim->L;
    const double *rows = NULL;
    for (size_t r = 0; r < H; r++) {
        const double *ic = sim->ic + r * row;
        if (!rows || memcmp(ic, ic - row, row * sizeof *ic) != 0) {
            sim->cv = sim->xcv;
            for (size_t cv = 0; cv < sim->ncv; cv++) {
                const double *src = ic + sim->model->cvar[cv] * n;
                double *dst = sim->xcv + cv * L;
                for (size_t i = 0; i < n; i++)
                    for (size_t b = 0; b < B; b++)
                        dst[i * B + b] = src[i];
            }
            rows = presynaptic(sim);
        }
        write_history(sim, (uint64_t)r - (uint64_t)(H - 1), rows);
    }
}

/* One normal per lane of a row: simulation b draws its n regions, in
 * order, from its own stream, so its numbers do not depend on the batch;
 * a batch's streams are drawn side by side in vector blocks (the same
 * numbers, vbt_rng_normal_lanes()). */
static void draw_normals(vbt_sim *sim, double *restrict row)
{
    const size_t n = sim->n, B = sim->B;
    if (B == 1) {
        vbt_rng_normal(&sim->rng[0], row, n);
        return;
    }
    vbt_rng_normal_lanes(sim->rng, B, row, n);
}

void vbt_sim_reset(vbt_sim *sim)
{
    const size_t n = sim->n, row = sim->nsv * n, H = sim->horizon;
    if (sim->path == PATH_DELAYED)
        fill_history(sim);
    broadcast_row(sim, sim->ic + (H - 1) * row, sim->x);
    sim->step = 0;
    sim->blk_len = 0;
    for (size_t b = 0; b < sim->B; b++)
        vbt_rng_init(&sim->rng[b], sim->seed, sim->stream + b);
    if (sim->noisy && sim->ntau > 0.0)
        for (size_t i = 0; i < sim->n_noisy; i++)              /* eta_0 ~ N(0, 1) */
            draw_normals(sim, sim->eta + sim->noisy_var[i] * sim->L);
    for (size_t m = 0; m < sim->n_mon; m++)
        vbt__monitor_reset(&sim->mon[m]);
}

/* ---- noise --------------------------------------------------------------- */

int vbt_sim_set_noise(vbt_sim *sim, const double *nsig, size_t count, double ntau_ms)
{
    const size_t n = sim->n, nsv = sim->nsv, B = sim->B, L = sim->L;
    if (!nsig || (count != 1 && count != nsv && count != nsv * n))
        return sim_fail(sim, VBT_EINVAL,
                        "noise: expected 1, %zu (one per state variable) or %zu (per variable "
                        "and region) values of nsig, got %zu", nsv, nsv * n, count);
    if (!(ntau_ms >= 0.0) || !isfinite(ntau_ms))
        return sim_fail(sim, VBT_EINVAL, "noise: ntau must be >= 0 ms, got %g", ntau_ms);
    int any = 0;
    for (size_t i = 0; i < count; i++) {
        if (!(nsig[i] >= 0.0) || !isfinite(nsig[i]))
            return sim_fail(sim, VBT_EINVAL, "noise: nsig must be finite and >= 0, value %zu is %g",
                            i, nsig[i]);
        any |= nsig[i] > 0.0;
    }
    if (any && !sim->scheme->stochastic)
        return sim_fail(sim, VBT_EINVAL,
                        "noise: scheme '%s' has no stochastic form (use euler or heun)",
                        sim->scheme->name);
    for (size_t v = 0; v < nsv; v++)
        for (size_t k = 0; k < L; k++) {
            double d = count == 1 ? nsig[0] : count == nsv ? nsig[v] : nsig[v * n + k / B];
            sim->nsig[v * L + k] = d;
            /* TVB: white dW = sqrt(2 D) sqrt(dt) N(0,1); coloured dW = sqrt(2 D) dt
             * sqrt(1/ntau) eta with eta an Ornstein-Uhlenbeck process. */
            sim->gain[v * L + k] = ntau_ms > 0.0 ? sqrt(2.0 * d) * sim->dt / sqrt(ntau_ms)
                                                 : sqrt(2.0 * d * sim->dt);
        }
    sim->noisy = any;
    sim->ntau = ntau_ms;
    sim->n_noisy = 0;
    for (size_t v = 0; v < nsv; v++) {
        int on = 0;
        for (size_t k = 0; k < L; k++)
            on |= sim->nsig[v * L + k] > 0.0;
        if (on)
            sim->noisy_var[sim->n_noisy++] = v;
    }
    memset(sim->dW, 0, nsv * L * sizeof *sim->dW);
    vbt_sim_reset(sim);
    return VBT_OK;
}

void vbt_sim_set_seed(vbt_sim *sim, uint64_t seed, uint64_t stream)
{
    sim->seed = seed;
    sim->stream = stream;
    vbt_sim_reset(sim);
}

/* The noise increments of one step: normals only for the variables that
 * have noise, in (variable, region) order. */
static const double *noise_increments(vbt_sim *sim)
{
    const size_t L = sim->L;
    const double E = sim->ntau > 0.0 ? exp(-sim->dt / sim->ntau) : 0.0;
    const double s = sqrt(1.0 - E * E);
    for (size_t i = 0; i < sim->n_noisy; i++) {
        const size_t off = sim->noisy_var[i] * L;
        double *restrict z = sim->z + off, *restrict dW = sim->dW + off,
                         *restrict eta = sim->eta + off;
        const double *restrict g = sim->gain + off;
        draw_normals(sim, z);
        if (sim->ntau > 0.0) {
            for (size_t k = 0; k < L; k++) {
                eta[k] = eta[k] * E + s * z[k];
                dW[k] = g[k] * eta[k];
            }
        } else {
            for (size_t k = 0; k < L; k++)
                dW[k] = g[k] * z[k];
        }
    }
    return sim->dW;
}

/* ---- stimulation ----------------------------------------------------------- */

int vbt_sim_set_stimulus(vbt_sim *sim, const vbt_stimulus *st)
{
    const size_t n = sim->n;
    if (!st) {
        sim->stim_on = 0;
        return VBT_OK;
    }
    if (st->var >= sim->nsv)
        return sim_fail(sim, VBT_EINVAL, "stimulus: model '%s' has %zu state variables, not %zu",
                        sim->model->name, sim->nsv, st->var + 1);
    if (!st->weights)
        return sim_fail(sim, VBT_EINVAL, "stimulus: no spatial pattern (weights)");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(st->weights[i]))
            return sim_fail(sim, VBT_EINVAL, "stimulus: weight of region %zu is not finite", i);
    if (!isfinite(st->onset_ms))
        return sim_fail(sim, VBT_EINVAL, "stimulus: onset must be finite");
    if (st->waveform) {
        if (st->n_samples == 0 || !(st->sample_ms > 0.0))
            return sim_fail(sim, VBT_EINVAL,
                            "stimulus: a waveform needs samples and sample_ms > 0");
        for (size_t k = 0; k < st->n_samples; k++)
            if (!isfinite(st->waveform[k]))
                return sim_fail(sim, VBT_EINVAL, "stimulus: waveform sample %zu is not finite",
                                k);
    } else if (!isfinite(st->amplitude) || !(st->frequency_hz > 0.0) ||
               !(st->width_ms > 0.0) || !isfinite(st->train_ms)) {
        return sim_fail(sim, VBT_EINVAL, "stimulus: a pulse train needs a finite amplitude, "
                                         "frequency_hz > 0 and width_ms > 0");
    }
    double *w = realloc(sim->stim_w, n * sizeof *w);
    if (w)
        sim->stim_w = w;
    double *wave = NULL;
    if (st->waveform) {
        wave = realloc(sim->stim_wave, st->n_samples * sizeof *wave);
        if (wave)
            sim->stim_wave = wave;
    }
    if (!sim->inc)
        sim->inc = calloc(sim->nsv * sim->L, sizeof *sim->inc);
    if (!w || (st->waveform && !wave) || !sim->inc)
        return sim_fail(sim, VBT_ENOMEM, "stimulus: out of memory");
    memcpy(sim->stim_w, st->weights, n * sizeof *w);
    if (st->waveform)
        memcpy(sim->stim_wave, st->waveform, st->n_samples * sizeof *wave);
    sim->stim = *st;
    sim->stim.weights = sim->stim_w;
    sim->stim.waveform = st->waveform ? sim->stim_wave : NULL;
    sim->stim_on = 1;
    return VBT_OK;
}

double vbt_sim_stimulus_at(const vbt_sim *sim, double t)
{
    if (!sim->stim_on)
        return 0.0;
    const vbt_stimulus *st = &sim->stim;
    double u = t - st->onset_ms;
    if (u < 0.0)
        return 0.0;
    if (st->waveform) {
        /* A small tolerance keeps t = onset + k sample_ms on sample k. */
        double k = floor(u / st->sample_ms + 1e-9);
        return k < (double)st->n_samples ? st->waveform[(size_t)k] : 0.0;
    }
    if (st->train_ms > 0.0 && u >= st->train_ms)
        return 0.0;
    double period = 1000.0 / st->frequency_hz;
    double phase = u - period * floor(u / period + 1e-12);
    return phase < st->width_ms - 1e-12 ? st->amplitude : 0.0;
}

/* Increments of a step with a stimulus: the noise (if any) plus
 * dt I(t_n) w_i on the stimulated variable. */
static const double *stimulus_increments(vbt_sim *sim, const double *noise)
{
    const size_t L = sim->L, B = sim->B, len = sim->nsv * L;
    if (noise)
        memcpy(sim->inc, noise, len * sizeof *sim->inc);
    else
        memset(sim->inc, 0, len * sizeof *sim->inc);
    double cur = vbt_sim_stimulus_at(sim, (double)sim->step * sim->dt);
    if (cur != 0.0) {
        double *row = sim->inc + sim->stim.var * L;
        const double a = sim->dt * cur;
        for (size_t lane = 0; lane < L; lane++)
            row[lane] += a * sim->stim_w[lane / B];
    }
    return sim->inc;
}

/* ---- the time loop ----------------------------------------------------- */

/* Delayed sums, several steps per pass.  Step s + j (0 <= j < K) reads
 * slot s + j - d of a connection of delay d; when every connection of
 * nonzero weight has d >= K - 1, all K steps read slots written before step
 * s, so their sums can be taken at once at the start of step s (plan: kblk).
 * A connection then reads K consecutive slots of its source's ring, K * B
 * contiguous values (the [region][row][slot][simulation] layout): one
 * streaming read that the hardware prefetcher follows, instead of K
 * scattered reads, one per step.  Every sum keeps the order of a single
 * step: four partial sums by connection (k - k0) mod 4, then
 * (a0 + a1) + (a2 + a3); so a simulation gives the same bytes whatever K,
 * B and its position in the batch, in double or float32 history. */

/* The kernel (sim_block.h).  A connection's window, K slots of B lanes, is one
 * contiguous run of K * B values (the ring keeps a copy of its first slots
 * after its end, so a window never wraps: plan_connections()), and the sums
 * of a target are the same run of K * B values, whatever B.  They are taken
 * a chunk of CHUNK_V vectors of 8 values at a time, with the partial sum
 * (k - k0) mod 4 of the chunk in registers: one pass over the connections
 * k0 + p, k0 + p + 4, ... per partial sum p, then (a0 + a1) + (a2 + a3).
 * So the partial sums never go through memory, and each value of the ring
 * is loaded once; while a chunk is summed, the next chunk of every window
 * (or the first chunk of the next target's) is requested (without these
 * requests a batch of 16 ran at 23.5 instead of 19.1 us per step, 2D
 * Epileptor, float32 ring).  Both the double and the float32 ring are
 * summed in double. */
typedef double vbt_v8d __attribute__((vector_size(64)));
typedef double vbt_v8d_u __attribute__((vector_size(64), aligned(8), may_alias));
typedef float vbt_v8f_u __attribute__((vector_size(32), aligned(4), may_alias));

/* Request len values of the ring from off. */
static inline void prefetch_run(const double *hd, const float *hf, size_t off, size_t len)
{
    const char *p = hf ? (const char *)(hf + off) : (const char *)(hd + off);
    const size_t bytes = len * (hf ? sizeof *hf : sizeof *hd);
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch(p + o);
}

/* The same for the next chunk of a window (sim_block.h): into L1 from the
 * float32 ring, into L2 from the double one, whose next chunks (82 KB a pass
 * for a batch of 16 on the Desikan connectome) would not fit L1 beside the
 * current ones (measured: 35 instead of 38 us per step, 2D Epileptor, batch
 * of 16, double). */
static inline void prefetch_chunk(const double *hd, const float *hf, size_t off, size_t len)
{
    if (hf) {
        prefetch_run(hd, hf, off, len);
        return;
    }
    const char *p = (const char *)(hd + off);
    for (size_t o = 0; o < len * sizeof *hd; o += 64)
        __builtin_prefetch(p + o, 0, 2);
}

/* Offsets of the windows of target i's connections, row r, from slot `now`. */
static inline void window_offsets(const vbt_sim *sim, size_t r, size_t i, size_t now,
                                  size_t *restrict off)
{
    const size_t *restrict rp = sim->row_ptr, *restrict hb = sim->hbase;
    const uint32_t *restrict dl = sim->delay;
    const size_t hp = sim->hp, hs = sim->hs, B = sim->B;
    for (size_t k = rp[i]; k < rp[i + 1]; k++) {
        const size_t d = dl[k], slot = now >= d ? now - d : now + hp - d;
        off[k - rp[i]] = hb[k] + (r * hs + slot) * B;
    }
}

/* The chunk sums and the block, twice: with the portable float32 -> double
 * conversion (compiled for every x86-64 level, VBT_KERNEL) and, where the
 * compiler offers it, with AVX-512's one-instruction conversion (GCC 12
 * splits the portable one into three), picked at run time. */
#define VBT_TPL_SUF _any
#define VBT_CVT8F(p) __builtin_convertvector(*(const vbt_v8f_u *)(p), vbt_v8d)
#include "sim_block.h"
#undef VBT_TPL_SUF
#undef VBT_CVT8F
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(VBT_NO_CLONES)
#define VBT_HAVE_X512 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f")
#define VBT_TPL_SUF _x512
#define VBT_CVT8F(p) ((vbt_v8d)_mm512_cvtps_pd(_mm256_loadu_ps(p)))
#include "sim_block.h"
#undef VBT_TPL_SUF
#undef VBT_CVT8F
static void delayed_block_f32_x512(vbt_sim *sim, uint64_t s, size_t K, double *blk)
{
    delayed_block_x512(sim, NULL, sim->histf, s, K, blk);
}
static void delayed_block_f64_x512(vbt_sim *sim, uint64_t s, size_t K, double *blk)
{
    delayed_block_x512(sim, sim->hist, NULL, s, K, blk);
}
#pragma GCC pop_options
#else
#define VBT_HAVE_X512 0
#endif

static inline void axpy8h(double *restrict a, double w, const double *restrict hd,
                          const float *restrict hf, size_t off)
{
    if (hf) {
        for (size_t t = 0; t < 8; t++)
            a[t] += w * (double)hf[off + t];
    } else {
        for (size_t t = 0; t < 8; t++)
            a[t] += w * hd[off + t];
    }
}

/* One simulation, step by step: the partial sums in registers; two rows
 * (the 6D Epileptor's x1 and x2, two = 1) from one pass over the
 * connections.  The ring has a power-of-two length (plan_connections()). */
static inline __attribute__((always_inline)) void
delayed_step_one(vbt_sim *sim, const double *restrict hd, const float *restrict hf,
                 uint64_t s, double *restrict cs, const int two)
{
    const size_t n = sim->n, nst = sim->nst, L = sim->L, hp = sim->hp, mask = hp - 1;
    const size_t hs = sim->hs;
    const size_t *restrict rp = sim->row_ptr, *restrict hb = sim->hbase;
    const uint32_t *restrict dl = sim->delay;
    const double *restrict w = sim->w;
    const size_t now = (size_t)(s % (uint64_t)hp);
#define VBT_H(off) (hd ? hd[off] : (double)hf[off])
    const size_t R = two ? 1 : nst;         /* passes over the connections */
    for (size_t r = 0; r < R; r++)
        for (size_t i = 0; i < n; i++) {
            double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
            double b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0;
            size_t k = rp[i];
            const size_t end = rp[i + 1];
#define VBT_TERM(acc, bcc, kk)                                        \
    do {                                                              \
        const size_t o_ = hb[kk] + r * hs + ((now - dl[kk]) & mask);  \
        acc += w[kk] * VBT_H(o_);                                     \
        if (two)                                                      \
            bcc += w[kk] * VBT_H(o_ + hs);                            \
    } while (0)
            for (; k + 4 <= end; k += 4) {
                VBT_TERM(a0, b0, k);
                VBT_TERM(a1, b1, k + 1);
                VBT_TERM(a2, b2, k + 2);
                VBT_TERM(a3, b3, k + 3);
            }
            if (k < end)
                VBT_TERM(a0, b0, k);
            if (k + 1 < end)
                VBT_TERM(a1, b1, k + 1);
            if (k + 2 < end)
                VBT_TERM(a2, b2, k + 2);
#undef VBT_TERM
            cs[r * L + i] = (a0 + a1) + (a2 + a3);
            if (two)
                cs[L + i] = (b0 + b1) + (b2 + b3);
        }
#undef VBT_H
}

/* The sums of step s alone (delays shorter than a block): the kernel of
 * earlier versions, for the double or float32 ring.  One simulation keeps
 * the four partial sums in registers, and with two rows (the 6D Epileptor's
 * x1 and x2) takes both from one pass over the connections; a batch takes
 * lanes eight at a time with the partial sums in registers and the lanes
 * left over one by one, and requests the slots of the connections
 * STEP_AHEAD places on while the current ones are summed. */
static inline __attribute__((always_inline)) void
delayed_step(vbt_sim *sim, const double *restrict hd, const float *restrict hf, uint64_t s,
             double *restrict cs)
{
    const size_t n = sim->n, nst = sim->nst, B = sim->B, L = sim->L, hp = sim->hp;
    const size_t hs = sim->hs;
    const size_t *restrict rp = sim->row_ptr, *restrict hb = sim->hbase;
    const uint32_t *restrict dl = sim->delay;
    const double *restrict w = sim->w;
    const size_t now = (size_t)(s % (uint64_t)hp), nnz = sim->nnz;

#define VBT_SLOT(kk) (now >= dl[kk] ? now - dl[kk] : now + hp - dl[kk])
#define VBT_H(off) (hd ? hd[off] : (double)hf[off])
    if (B == 1) {
        if (nst == 2)
            delayed_step_one(sim, hd, hf, s, cs, 1);
        else
            delayed_step_one(sim, hd, hf, s, cs, 0);
        return;
    }
    const size_t B8 = B & ~(size_t)7;
#define VBT_OFF(kk) (hb[kk] + (r * hs + VBT_SLOT(kk)) * B)
#define VBT_AX(acc, kk) axpy8h(acc, w[kk], hd, hf, VBT_OFF(kk) + b0)
    for (size_t r = 0; r < nst; r++)
        for (size_t i = 0; i < n; i++) {
            const size_t k0 = rp[i], end = rp[i + 1];
            double *restrict out = cs + r * L + i * B;
            for (size_t k = k0; B >= 8 && k < end && k + STEP_AHEAD < nnz; k++)
                prefetch_run(hd, hf, VBT_OFF(k + STEP_AHEAD), B);
            for (size_t b0 = 0; b0 < B8; b0 += 8) {
                double a0[8] = {0}, a1[8] = {0}, a2[8] = {0}, a3[8] = {0};
                size_t k = k0;
                for (; k + 4 <= end; k += 4) {
                    VBT_AX(a0, k);
                    VBT_AX(a1, k + 1);
                    VBT_AX(a2, k + 2);
                    VBT_AX(a3, k + 3);
                }
                if (k < end)
                    VBT_AX(a0, k);
                if (k + 1 < end)
                    VBT_AX(a1, k + 1);
                if (k + 2 < end)
                    VBT_AX(a2, k + 2);
                for (size_t t = 0; t < 8; t++)
                    out[b0 + t] = (a0[t] + a1[t]) + (a2[t] + a3[t]);
            }
            for (size_t b = B8; b < B; b++) {
                double a[4] = {0.0, 0.0, 0.0, 0.0};
                for (size_t k = k0; k < end; k++)
                    a[(k - k0) & 3] += w[k] * VBT_H(VBT_OFF(k) + b);
                out[b] = (a[0] + a[1]) + (a[2] + a[3]);
            }
        }
#undef VBT_AX
#undef VBT_OFF
#undef VBT_H
#undef VBT_SLOT
}

VBT_KERNEL static void delayed_block_f64(vbt_sim *sim, uint64_t s, size_t K, double *blk)
{
    delayed_block_any(sim, sim->hist, NULL, s, K, blk);
}

VBT_KERNEL static void delayed_block_f32(vbt_sim *sim, uint64_t s, size_t K, double *blk)
{
    delayed_block_any(sim, NULL, sim->histf, s, K, blk);
}

VBT_KERNEL static void delayed_step_f64(vbt_sim *sim, uint64_t s, double *cs)
{
    delayed_step(sim, sim->hist, NULL, s, cs);
}

VBT_KERNEL static void delayed_step_f32(vbt_sim *sim, uint64_t s, double *cs)
{
    delayed_step(sim, NULL, sim->histf, s, cs);
}

/* The delayed sums of the current step: from the block computed at its
 * start, or a new block of kblk steps.  A block outlives vbt_sim_run()
 * (runs of one step at a time, as propagation.c makes, still take kblk
 * steps per pass); vbt_sim_reset() drops it.  At most kblk - 1 steps of
 * sums are taken in vain at the end of a simulation. */
static const double *delayed_sums(vbt_sim *sim)
{
    if (sim->kblk == 1) {                   /* step by step */
        if (sim->histf)
            delayed_step_f32(sim, sim->step, sim->csum);
        else
            delayed_step_f64(sim, sim->step, sim->csum);
        return sim->csum;
    }
    if (sim->blk_len == 0 || sim->step >= sim->blk_start + sim->blk_len) {
#if VBT_HAVE_X512
        if (__builtin_cpu_supports("avx512f")) {
            if (sim->histf)
                delayed_block_f32_x512(sim, sim->step, sim->kblk, sim->blk);
            else
                delayed_block_f64_x512(sim, sim->step, sim->kblk, sim->blk);
        } else
#endif
        if (sim->histf)
            delayed_block_f32(sim, sim->step, sim->kblk, sim->blk);
        else
            delayed_block_f64(sim, sim->step, sim->kblk, sim->blk);
        sim->blk_start = sim->step;
        sim->blk_len = sim->kblk;
    }
    return sim->blk + (size_t)(sim->step - sim->blk_start) * sim->nst * sim->L;
}

/* Sums without delays over the CSR, for one simulation or a batch: lane
 * i*B + b accumulates B simulations at once, so the inner loop over the
 * batch is contiguous and vectorises; the four partial sums (k - k0) mod 4
 * are the delayed kernel's and a single run's.  (Lanes eight at a time
 * with the partial sums in registers measured 2x slower for a batch of
 * 64: the columns of a step are 512 bytes apart.) */
VBT_KERNEL static void coupling_sums_sparse(vbt_sim *sim)
{
    const size_t n = sim->n, nst = sim->nst, B = sim->B, L = sim->L;
    const size_t *restrict rp = sim->row_ptr, *restrict col = sim->col;
    const double *restrict w = sim->w;
    const double *restrict rows = presynaptic(sim);
    double *restrict cs = sim->csum;
    double *restrict acc = sim->acc4;

    for (size_t r = 0; r < nst; r++)
        for (size_t i = 0; i < n; i++) {
            for (size_t b = 0; b < 4 * B; b++)
                acc[b] = 0.0;
            for (size_t k = rp[i]; k < rp[i + 1]; k++) {
                const double *restrict xr = rows + r * L + col[k] * B;
                double *restrict a = acc + ((k - rp[i]) & 3) * B;
                const double wk = w[k];
                for (size_t b = 0; b < B; b++)
                    a[b] += wk * xr[b];
            }
            double *restrict out = cs + r * L + i * B;
            for (size_t b = 0; b < B; b++)
                out[b] = (acc[b] + acc[B + b]) + (acc[2 * B + b] + acc[3 * B + b]);
        }
}

/* The weighted sums of the current step, sum_j w_ij pre_r(x_j(t - d_ij)),
 * [nst][lane]. */
static const double *coupling_sums(vbt_sim *sim)
{
    switch (sim->path) {
    case PATH_DELAYED:
        return delayed_sums(sim);
    case PATH_SPARSE:
        coupling_sums_sparse(sim);
        return sim->csum;
    case PATH_DENSE:
        /* One simulation only (see plan_connections).  All pre-synaptic
         * rows are the columns of one matrix: a single product reads W once. */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)sim->n, (int)sim->nst,
                    (int)sim->n, 1.0, sim->dense_w, (int)sim->n, presynaptic(sim), (int)sim->n,
                    0.0, sim->csum, (int)sim->n);
        return sim->csum;
    }
    return sim->csum;
}

static int check_finite(vbt_sim *sim)
{
    const size_t len = sim->nsv * sim->L;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(sim->x[i])) {
            size_t lane = i % sim->L, k = lane / sim->B;
            char which[48] = "";
            if (sim->B > 1)
                snprintf(which, sizeof which, " of simulation %zu", lane % sim->B);
            return sim_fail(sim, VBT_ENUMERIC,
                            "state variable '%s' of region %zu (%s)%s became %s by t = %g ms; "
                            "try a smaller dt",
                            sim->model->state_names[i / sim->L], k, sim->labels[k], which,
                            isnan(sim->x[i]) ? "NaN" : "infinite",
                            (double)sim->step * sim->dt);
        }
    return VBT_OK;
}

/* Variables that decay towards zero (the Epileptor's y2 between seizures)
 * end up as subnormal numbers, which cost ~100 cycles an operation on x86:
 * the run slowed from 28 to 15 M region-steps/s after 10 s of simulated
 * time.  Runs therefore flush subnormals to zero (FTZ/DAZ) on the calling
 * thread and restore its floating-point mode afterwards.  Values below
 * 2.2e-308 are physically zero; results stay deterministic. */
typedef struct fp_mode {
#if defined(__SSE2__)
    unsigned int csr;
#else
    int unused;
#endif
} fp_mode;

static fp_mode fp_enter(void)
{
    fp_mode m;
#if defined(__SSE2__)
    m.csr = _mm_getcsr();
    _mm_setcsr(m.csr | 0x8040u);    /* FTZ (bit 15) | DAZ (bit 6) */
#else
    m.unused = 0;
#endif
    return m;
}

static void fp_leave(fp_mode m)
{
#if defined(__SSE2__)
    _mm_setcsr(m.csr);
#else
    (void)m;
#endif
}

static int run_steps(vbt_sim *sim, uint64_t n_steps);

int vbt_sim_run(vbt_sim *sim, uint64_t n_steps)
{
    for (size_t m = 0; m < sim->n_mon; m++) {
        vbt__monitor *mon = &sim->mon[m];
        uint64_t need = vbt__monitor_samples_between(mon, sim->step, n_steps);
        if (need > mon->cap - mon->count)
            return sim_fail(sim, VBT_ERANGE,
                            "monitor %zu ('%s') has room for %zu more samples, %llu steps "
                            "produce %llu: drain it or run fewer steps",
                            m, mon->type->name, mon->cap - mon->count,
                            (unsigned long long)n_steps, (unsigned long long)need);
    }
    fp_mode mode = fp_enter();
    int st = run_steps(sim, n_steps);
    fp_leave(mode);
    return st;
}

static int run_steps(vbt_sim *sim, uint64_t n_steps)
{
    const vbt_model_type *model = sim->model;
    const vbt_step_fn step = sim->scheme->step;
    const size_t n = sim->L, ncv = sim->ncv;    /* kernels see lanes */

    for (uint64_t it = 0; it < n_steps; it++) {
        gather_cvars(sim, sim->x);
        const double *cs = coupling_sums(sim);
        sim->coupling->post(n, ncv, cs, sim->cv, sim->rowsum, sim->cp, sim->c);
        const double *inc = sim->noisy ? noise_increments(sim) : NULL;
        if (sim->stim_on)
            inc = stimulus_increments(sim, inc);
        step(model, n, sim->mp, sim->c, sim->dt, inc, sim->x, sim->work);
        sim->step++;
        if (sim->path == PATH_DELAYED) {
            gather_cvars(sim, sim->x);
            store_history(sim, sim->step);
        }
        for (size_t m = 0; m < sim->n_mon; m++)
            vbt__monitor_record(&sim->mon[m], sim->step, sim->x);
        if ((sim->step % FINITE_CHECK_EVERY) == 0 || it + 1 == n_steps) {
            int st = check_finite(sim);
            if (st)
                return st;
        }
    }
    return VBT_OK;
}

/* ---- inspection -------------------------------------------------------- */

size_t vbt_sim_n_regions(const vbt_sim *sim) { return sim->n; }
size_t vbt_sim_batch(const vbt_sim *sim) { return sim->B; }
size_t vbt_sim_n_lanes(const vbt_sim *sim) { return sim->L; }
const vbt_model_type *vbt_sim_model(const vbt_sim *sim) { return sim->model; }
double vbt_sim_dt(const vbt_sim *sim) { return sim->dt; }
uint64_t vbt_sim_steps_done(const vbt_sim *sim) { return sim->step; }
double vbt_sim_time(const vbt_sim *sim) { return (double)sim->step * sim->dt; }
size_t vbt_sim_horizon(const vbt_sim *sim) { return sim->horizon; }
int vbt_sim_has_delays(const vbt_sim *sim) { return sim->path == PATH_DELAYED; }
const double *vbt_sim_state(const vbt_sim *sim) { return sim->x; }

long vbt_sim_delay_steps(const vbt_sim *sim, size_t i, size_t j)
{
    if (i >= sim->n || j >= sim->n)
        return -1;
    return sim->idelay_full[i * sim->n + j];
}

/* ---- monitors ------------------------------------------------------------ */

int vbt_sim_add_monitor(vbt_sim *sim, const vbt_monitor_spec *spec, size_t *index)
{
    if (!spec)
        return sim_fail(sim, VBT_EINVAL, "monitor: NULL spec");
    vbt__monitor *grown = realloc(sim->mon, (sim->n_mon + 1) * sizeof *grown);
    if (!grown)
        return sim_fail(sim, VBT_ENOMEM, "monitor: out of memory");
    sim->mon = grown;
    vbt__monitor *mon = &sim->mon[sim->n_mon];
    memset(mon, 0, sizeof *mon);
    int st = vbt__monitor_init(mon, spec, sim->model, sim->n, sim->B, sim->dt, &sim->seed,
                               &sim->stream, &sim->msg);
    if (st) {
        vbt__monitor_destroy(mon);
        return st;
    }
    if (index)
        *index = sim->n_mon;
    sim->n_mon++;
    vbt_sim_reset(sim);
    return VBT_OK;
}

size_t vbt_sim_n_monitors(const vbt_sim *sim) { return sim->n_mon; }

const vbt_monitor_type *vbt_sim_monitor_type(const vbt_sim *sim, size_t m)
{
    return m < sim->n_mon ? sim->mon[m].type : NULL;
}

size_t vbt_sim_monitor_n_channels(const vbt_sim *sim, size_t m)
{
    if (m >= sim->n_mon)
        return 0;
    return sim->mon[m].type->projects ? sim->mon[m].n_ch : sim->n;
}

const char *vbt_sim_monitor_channel(const vbt_sim *sim, size_t m, size_t c)
{
    if (m >= sim->n_mon || !sim->mon[m].type->projects || c >= sim->mon[m].n_ch)
        return NULL;
    return sim->mon[m].chan[c];
}

const double *vbt_sim_monitor_gain(const vbt_sim *sim, size_t m)
{
    return m < sim->n_mon ? sim->mon[m].gain : NULL;
}

size_t vbt_sim_monitor_n_vars(const vbt_sim *sim, size_t m)
{
    return m < sim->n_mon ? sim->mon[m].n_vars : 0;
}

const char *vbt_sim_monitor_var(const vbt_sim *sim, size_t m, size_t v)
{
    if (m >= sim->n_mon || v >= sim->mon[m].n_vars)
        return NULL;
    return sim->mon[m].obs[v].expr;
}

double vbt_sim_monitor_period(const vbt_sim *sim, size_t m)
{
    return m < sim->n_mon ? (double)sim->mon[m].istep * sim->dt : 0.0;
}

uint64_t vbt_sim_monitor_samples_for(const vbt_sim *sim, size_t m, uint64_t n_steps)
{
    return m < sim->n_mon ? vbt__monitor_samples_between(&sim->mon[m], 0, n_steps) : 0;
}

const double *vbt_sim_monitor_data(const vbt_sim *sim, size_t m, size_t *n,
                                   const double **times)
{
    if (m >= sim->n_mon) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = sim->mon[m].count;
    if (times)
        *times = sim->mon[m].times;
    return sim->mon[m].data;
}

void vbt_sim_monitor_clear(vbt_sim *sim, size_t m)
{
    if (m < sim->n_mon)
        sim->mon[m].count = 0;
}
