/* sim.c -- the network simulator: delays, history ring buffer, coupling,
 * time loop.  See vbt_sim.h for the contract.
 *
 * Layout.  State x[v*n + i] (structure of arrays, lanes = regions).  The
 * history keeps only the coupling variables, one ring of hp (a power of two
 * >= horizon) slots per (region, coupling variable): hist[(j*ncv + cv)*hp +
 * slot], the state of step s in slot s & (hp - 1).  For a fixed connection,
 * successive steps read successive slots, so each cache line fetched serves
 * eight steps.  Connections are kept in CSR by target row with their
 * integer delays.  When no connection of nonzero weight has a delay, the
 * ring is not used: the coupling reads the current state, through a dense
 * BLAS product when the matrix is dense enough, else through the CSR.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "internal.h"
#include "monitors/monitor.h"
#include "vbt_sim.h"

/* Above this fraction of nonzero weights the zero-delay coupling uses a
 * dense matrix-vector product (measured in bench/bench_sim.c). */
#define DENSE_MIN_DENSITY 0.25

/* How often (steps) the state is checked for NaN/Inf. */
#define FINITE_CHECK_EVERY 256

enum coupling_path { PATH_DELAYED, PATH_SPARSE, PATH_DENSE };

struct vbt_sim {
    const vbt_model_type *model;
    const vbt_coupling_type *coupling;
    const vbt_scheme_type *scheme;
    size_t n, nsv, ncv;
    size_t nst;                 /* rows of the pre-synaptic transform (stored in history) */
    double dt;
    char (*labels)[VBT_LABEL_MAX];

    /* connections */
    enum coupling_path path;
    size_t nnz;
    size_t *row_ptr;            /* n + 1 */
    size_t *col;                /* nnz: source region */
    size_t *hbase;              /* nnz: (col*nst)*hp, start of the source's rings */
    uint32_t *delay;            /* nnz: steps */
    double *w;                  /* nnz */
    double *dense_w;            /* n*n column-major when path == PATH_DENSE */
    double *rowsum;             /* n */
    long *idelay_full;          /* n*n integer delays, all pairs */
    size_t horizon;             /* 1 + max delay over all pairs */
    size_t hp;                  /* ring length, power of two >= horizon */
    double *hist;               /* n * nst * hp */

    /* parameters, per lane */
    double *mp;                 /* model: n_param * n */
    double *cp;                 /* coupling: n_param * n */

    /* state and workspaces */
    double *x;                  /* nsv * n */
    double *work;               /* n_work * nsv * n */
    double *xcv;                /* ncv * n: the current coupling variables */
    double *pre;                /* nst * n: pre(xcv); NULL when pre is the identity */
    double *csum;               /* nst * n: delayed weighted sums */
    double *c;                  /* ncv * n: coupling input of the model */
    uint64_t step;

    /* initial conditions */
    double *ic;                 /* horizon * nsv * n rows, oldest first */
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

static int plan_connections(vbt_sim *sim, const vbt_connectome *conn, double speed,
                            vbt_msg *msg)
{
    const size_t n = sim->n;
    const double *W = conn->weights, *L = conn->lengths;
    long maxd = 0, maxd_nz = 0;
    size_t nnz = 0;

    sim->idelay_full = malloc(n * n * sizeof *sim->idelay_full);
    sim->rowsum = calloc(n, sizeof *sim->rowsum);
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
            sim->rowsum[i / n] += W[i];
        }
    }
    sim->horizon = (size_t)maxd + 1;
    sim->nnz = nnz;

    double density = (double)nnz / ((double)n * (double)n);
    if (maxd_nz > 0)
        sim->path = PATH_DELAYED;
    else
        sim->path = density >= DENSE_MIN_DENSITY ? PATH_DENSE : PATH_SPARSE;

    sim->col = malloc((nnz ? nnz : 1) * sizeof *sim->col);
    sim->hbase = malloc((nnz ? nnz : 1) * sizeof *sim->hbase);
    sim->delay = malloc((nnz ? nnz : 1) * sizeof *sim->delay);
    sim->w = malloc((nnz ? nnz : 1) * sizeof *sim->w);
    if (!sim->col || !sim->hbase || !sim->delay || !sim->w)
        return vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory");
    sim->hp = sim->path == PATH_DELAYED ? next_pow2(sim->horizon) : 1;
    if (sim->hp > (size_t)UINT32_MAX ||
        sim->hp > SIZE_MAX / sizeof(double) / (n * sim->nst))
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
            sim->hbase[k] = j * sim->nst * sim->hp;
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
        sim->hist = calloc(n * sim->nst * sim->hp, sizeof *sim->hist);
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
    const size_t n = sim->n;

    st = plan_connections(sim, spec->conn, spec->speed_mm_per_ms, msg);
    if (st)
        goto fail;

    sim->labels = malloc(n * sizeof *sim->labels);
    sim->mp = malloc((sim->model->n_param ? sim->model->n_param : 1) * n * sizeof *sim->mp);
    sim->cp = malloc((sim->coupling->n_param ? sim->coupling->n_param : 1) * n *
                     sizeof *sim->cp);
    sim->x = calloc(sim->nsv * n, sizeof *sim->x);
    sim->work = malloc((sim->scheme->n_work ? sim->scheme->n_work : 1) * sim->nsv * n *
                       sizeof *sim->work);
    sim->xcv = malloc(sim->ncv * n * sizeof *sim->xcv);
    if (sim->coupling->pre)
        sim->pre = malloc(sim->nst * n * sizeof *sim->pre);
    sim->csum = malloc(sim->nst * n * sizeof *sim->csum);
    sim->c = malloc(sim->ncv * n * sizeof *sim->c);
    sim->ic = calloc(sim->horizon * sim->nsv * n, sizeof *sim->ic);
    if (!sim->labels || !sim->mp || !sim->cp || !sim->x || !sim->work || !sim->csum ||
        !sim->c || !sim->ic || !sim->xcv || (sim->coupling->pre && !sim->pre)) {
        st = vbt__fail(msg, VBT_ENOMEM, "simulator: out of memory (%zu regions, horizon %zu)",
                       n, sim->horizon);
        goto fail;
    }
    memcpy(sim->labels, spec->conn->labels, n * sizeof *sim->labels);
    set_defaults(sim->mp, sim->model->params, sim->model->n_param, n);
    set_defaults(sim->cp, sim->coupling->params, sim->coupling->n_param, n);
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
    free(sim->labels);
    free(sim->mp);
    free(sim->cp);
    free(sim->x);
    free(sim->work);
    free(sim->xcv);
    free(sim->pre);
    free(sim->csum);
    free(sim->c);
    free(sim->ic);
    free(sim);
}

const char *vbt_sim_errmsg(const vbt_sim *sim)
{
    return sim ? sim->msg.text : "no simulator";
}

/* ---- parameters ------------------------------------------------------- */

static int set_param(vbt_sim *sim, const char *what, const vbt_param_desc *d, size_t np,
                     double *store, const char *name, const double *values, size_t count)
{
    long i = vbt_param_index(d, np, name);
    if (i < 0)
        return sim_fail(sim, VBT_ENOTFOUND, "%s has no parameter '%s'", what, name ? name : "");
    if (!values || (count != 1 && count != sim->n))
        return sim_fail(sim, VBT_EINVAL,
                        "parameter '%s': expected 1 or %zu values (one per region), got %zu",
                        name, sim->n, count);
    for (size_t k = 0; k < count; k++)
        if (!isfinite(values[k]))
            return sim_fail(sim, VBT_ENUMERIC, "parameter '%s': value %zu is not finite",
                            name, k);
    double *p = store + (size_t)i * sim->n;
    for (size_t k = 0; k < sim->n; k++)
        p[k] = values[count == 1 ? 0 : k];
    return VBT_OK;
}

static int get_param(const vbt_sim *sim, const vbt_param_desc *d, size_t np,
                     const double *store, const char *name, double *out)
{
    long i = vbt_param_index(d, np, name);
    if (i < 0 || !out)
        return VBT_ENOTFOUND;
    memcpy(out, store + (size_t)i * sim->n, sim->n * sizeof *out);
    return VBT_OK;
}

int vbt_sim_set_model_param(vbt_sim *sim, const char *name, const double *values,
                            size_t count)
{
    char what[96];
    snprintf(what, sizeof what, "model '%s'", sim->model->name);
    return set_param(sim, what, sim->model->params, sim->model->n_param, sim->mp, name,
                     values, count);
}

int vbt_sim_set_coupling_param(vbt_sim *sim, const char *name, const double *values,
                               size_t count)
{
    char what[96];
    snprintf(what, sizeof what, "coupling '%s'", sim->coupling->name);
    return set_param(sim, what, sim->coupling->params, sim->coupling->n_param, sim->cp,
                     name, values, count);
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

/* Copy the coupling variables of state x into sim->xcv. */
static void gather_cvars(vbt_sim *sim, const double *x)
{
    const size_t n = sim->n;
    for (size_t cv = 0; cv < sim->ncv; cv++)
        memcpy(sim->xcv + cv * n, x + sim->model->cvar[cv] * n, n * sizeof *x);
}

/* The pre-synaptic rows of sim->xcv: what the history stores and the
 * weighted sums are taken of. */
static const double *presynaptic(vbt_sim *sim)
{
    if (!sim->coupling->pre)
        return sim->xcv;
    sim->coupling->pre(sim->n, sim->ncv, sim->xcv, sim->cp, sim->pre);
    return sim->pre;
}

/* Write the pre-synaptic rows of the current state into the ring slot of
 * step `step`. */
static void store_history(vbt_sim *sim, uint64_t step)
{
    const size_t n = sim->n, nst = sim->nst, hp = sim->hp;
    const size_t slot = (size_t)step & (hp - 1);
    const double *restrict rows = presynaptic(sim);
    double *restrict hist = sim->hist;
    for (size_t r = 0; r < nst; r++)
        for (size_t j = 0; j < n; j++)
            hist[(j * nst + r) * hp + slot] = rows[r * n + j];
}

void vbt_sim_reset(vbt_sim *sim)
{
    const size_t n = sim->n, row = sim->nsv * n, H = sim->horizon;
    /* ic row r holds the state of step r - (H - 1). */
    memcpy(sim->x, sim->ic + (H - 1) * row, row * sizeof *sim->x);
    if (sim->hist) {
        for (size_t r = 0; r < H; r++) {
            gather_cvars(sim, sim->ic + r * row);
            store_history(sim, (uint64_t)r - (uint64_t)(H - 1));  /* wraps for past steps */
        }
    }
    sim->step = 0;
    for (size_t m = 0; m < sim->n_mon; m++)
        vbt__monitor_reset(&sim->mon[m]);
}

/* ---- the time loop ----------------------------------------------------- */

/* csum[r*n + i] = sum_j w_ij pre_r(x_j(t - d_ij)), for the current step. */
static void coupling_sums(vbt_sim *sim)
{
    const size_t n = sim->n, nst = sim->nst;
    const size_t *restrict rp = sim->row_ptr;
    const double *restrict w = sim->w;
    double *restrict cs = sim->csum;

    switch (sim->path) {
    case PATH_DELAYED: {
        const double *restrict hist = sim->hist;
        const size_t *restrict hb = sim->hbase;
        const uint32_t *restrict dl = sim->delay;
        const size_t mask = sim->hp - 1, hp = sim->hp;
        const size_t s = (size_t)sim->step;
        if (nst == 1) {
            for (size_t i = 0; i < n; i++) {
                double a0 = 0.0;
                for (size_t k = rp[i]; k < rp[i + 1]; k++)
                    a0 += w[k] * hist[hb[k] + ((s - dl[k]) & mask)];
                cs[i] = a0;
            }
        } else if (nst == 2) {
            for (size_t i = 0; i < n; i++) {
                double a0 = 0.0, a1 = 0.0;
                for (size_t k = rp[i]; k < rp[i + 1]; k++) {
                    const double *h = hist + hb[k] + ((s - dl[k]) & mask);
                    a0 += w[k] * h[0];
                    a1 += w[k] * h[hp];
                }
                cs[i] = a0;
                cs[n + i] = a1;
            }
        } else {
            for (size_t r = 0; r < nst; r++)
                for (size_t i = 0; i < n; i++) {
                    double a = 0.0;
                    for (size_t k = rp[i]; k < rp[i + 1]; k++)
                        a += w[k] * hist[hb[k] + r * hp + ((s - dl[k]) & mask)];
                    cs[r * n + i] = a;
                }
        }
        break;
    }
    case PATH_SPARSE: {
        const size_t *restrict col = sim->col;
        const double *restrict rows = presynaptic(sim);
        for (size_t r = 0; r < nst; r++) {
            const double *restrict xr = rows + r * n;
            for (size_t i = 0; i < n; i++) {
                double a = 0.0;
                for (size_t k = rp[i]; k < rp[i + 1]; k++)
                    a += w[k] * xr[col[k]];
                cs[r * n + i] = a;
            }
        }
        break;
    }
    case PATH_DENSE:
        /* All pre-synaptic rows are the columns of one matrix: a single
         * product reads W once. */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)nst, (int)n, 1.0,
                    sim->dense_w, (int)n, presynaptic(sim), (int)n, 0.0, cs, (int)n);
        break;
    }
}

static int check_finite(vbt_sim *sim)
{
    const size_t len = sim->nsv * sim->n;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(sim->x[i])) {
            size_t k = i % sim->n;
            return sim_fail(sim, VBT_ENUMERIC,
                            "state variable '%s' of region %zu (%s) became %s by t = %g ms; "
                            "try a smaller dt",
                            sim->model->state_names[i / sim->n], k, sim->labels[k],
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
    const size_t n = sim->n, ncv = sim->ncv;

    for (uint64_t it = 0; it < n_steps; it++) {
        gather_cvars(sim, sim->x);
        coupling_sums(sim);
        sim->coupling->post(n, ncv, sim->csum, sim->xcv, sim->rowsum, sim->cp, sim->c);
        step(model, n, sim->mp, sim->c, sim->dt, NULL, sim->x, sim->work);
        sim->step++;
        if (sim->hist) {
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
    int st = vbt__monitor_init(mon, spec, sim->model, sim->n, sim->dt, &sim->msg);
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
