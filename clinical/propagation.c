/* propagation.c -- forward simulations of the Virtual Epileptic Patient over
 * posterior draws: recruitment, onset times and propagation order of one
 * scenario (a set of resected regions).  See vbt_surgery.h.
 *
 * A scenario is planned once per worker thread (the resection changes the
 * weights, which vbt_sim fixes at allocation); the draws then run in
 * batches of B simulations side by side, batches taken by the threads in
 * turn.  Onsets are detected on the state after every step. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "vbt_sim.h"
#include "vbt_surgery.h"

struct vbt_surgery {
    size_t n, S;
    vbt_connectome *conn;
    double *x0;                 /* S * n */
    double *K, *tau0;           /* S */
    double *x0_init;            /* n: min(median x0, init_x0_max) */
    const vbt_model_type *model;
    const vbt_scheme_type *scheme;
    double I1, dt, duration, speed, threshold, healthy_x0, noise;
    int init_fixed;
    double init_x1, init_z;     /* with init_fixed: every unresected region's start */
    uint64_t seed, n_steps;
    size_t batch, threads;
    vbt_msg msg;
};

VBT_HIDDEN int vbt__surgery_fail(vbt_surgery *s, int status, const char *fmt, ...)
    VBT_PRINTF(3, 4);
VBT_HIDDEN int vbt__surgery_fail(vbt_surgery *s, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = vbt__vfail(&s->msg, status, fmt, ap);
    va_end(ap);
    return st;
}

void vbt_surgery_spec_default(vbt_surgery_spec *s)
{
    *s = (vbt_surgery_spec){.K_const = 1.0, .tau0_const = 10.0, .I1 = 3.1,
                            .model = VBT_SURGERY_EPILEPTOR2D, .scheme = "euler", .dt = 0.1,
                            .duration = 100.0, .speed_mm_per_ms = HUGE_VAL, .threshold = 0.0,
                            .healthy_x0 = -3.0, .init_x0_max = -2.5, .noise = 0.0,
                            .seed = 0, .batch = 64, .threads = 1};
}

const char *vbt_surgery_errmsg(const vbt_surgery *s) { return s ? s->msg.text : ""; }
size_t vbt_surgery_n_regions(const vbt_surgery *s) { return s->n; }
size_t vbt_surgery_n_draws(const vbt_surgery *s) { return s->S; }
uint64_t vbt_surgery_n_steps(const vbt_surgery *s) { return s->n_steps; }

void vbt_surgery_free(vbt_surgery *s)
{
    if (!s)
        return;
    vbt_connectome_free(s->conn);
    free(s->x0);
    free(s->K);
    free(s->tau0);
    free(s->x0_init);
    free(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile of sorted v[0..m) by linear interpolation (R's type 7). */
static double quantile_sorted(const double *v, size_t m, double q)
{
    if (m == 0)
        return NAN;
    double h = q * (double)(m - 1);
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= m)
        return v[m - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

int vbt_surgery_alloc(vbt_surgery **out, const vbt_surgery_spec *spec, vbt_msg *msg)
{
    *out = NULL;
    if (!spec || !spec->conn || !spec->x0)
        return vbt__fail(msg, VBT_EINVAL, "surgery: a connectome and x0 draws are required");
    const size_t n = spec->conn->n, S = spec->n_draws;
    if (n == 0 || S == 0)
        return vbt__fail(msg, VBT_EINVAL, "surgery: need at least one region and one draw "
                                          "(got %zu regions, %zu draws)", n, S);
    int st = vbt_connectome_validate(spec->conn, "surgery connectome", msg);
    if (st)
        return st;
    for (size_t k = 0; k < S; k++)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(spec->x0[k * n + i]))
                return vbt__fail(msg, VBT_ENUMERIC, "surgery: x0 of draw %zu, region %zu "
                                 "('%s') is not finite", k, i, spec->conn->labels[i]);
    for (size_t k = 0; spec->K && k < S; k++)
        if (!isfinite(spec->K[k]) || spec->K[k] < 0.0)
            return vbt__fail(msg, VBT_ERANGE, "surgery: K of draw %zu is %g, expected a "
                             "finite value >= 0", k, spec->K[k]);
    for (size_t k = 0; spec->tau0 && k < S; k++)
        if (!isfinite(spec->tau0[k]) || spec->tau0[k] <= 0.0)
            return vbt__fail(msg, VBT_ERANGE, "surgery: tau0 of draw %zu is %g, expected a "
                             "finite value > 0", k, spec->tau0[k]);
    if (!spec->K && (!isfinite(spec->K_const) || spec->K_const < 0.0))
        return vbt__fail(msg, VBT_ERANGE, "surgery: K = %g, expected a finite value >= 0",
                         spec->K_const);
    if (!spec->tau0 && (!isfinite(spec->tau0_const) || spec->tau0_const <= 0.0))
        return vbt__fail(msg, VBT_ERANGE, "surgery: tau0 = %g, expected a finite value > 0",
                         spec->tau0_const);
    if (!(spec->dt > 0.0) || !isfinite(spec->dt) || !(spec->duration >= spec->dt) ||
        !isfinite(spec->duration) || spec->duration / spec->dt > 1e9)
        return vbt__fail(msg, VBT_ERANGE, "surgery: need 0 < dt <= duration (finite, at most "
                         "1e9 steps); got dt = %g, duration = %g", spec->dt, spec->duration);
    if (!isfinite(spec->I1) || !isfinite(spec->threshold) || !isfinite(spec->healthy_x0) ||
        !isfinite(spec->init_x0_max))
        return vbt__fail(msg, VBT_ENUMERIC, "surgery: I1, threshold, healthy_x0 and "
                                            "init_x0_max must be finite");
    if (spec->init_fixed && (!isfinite(spec->init_x1) || !isfinite(spec->init_z)))
        return vbt__fail(msg, VBT_ENUMERIC, "surgery: the initial state (%g, %g) must be "
                         "finite", spec->init_x1, spec->init_z);
    if (!(spec->noise >= 0.0) || !isfinite(spec->noise))
        return vbt__fail(msg, VBT_ERANGE, "surgery: noise = %g, expected a finite value >= 0",
                         spec->noise);
    if (!(spec->speed_mm_per_ms > 0.0))
        return vbt__fail(msg, VBT_ERANGE, "surgery: conduction speed must be > 0 (HUGE_VAL: "
                                          "no delays)");
    if (spec->batch == 0 || spec->batch > 4096 || spec->threads == 0 || spec->threads > 1024)
        return vbt__fail(msg, VBT_ERANGE, "surgery: batch must be in [1, 4096] and threads in "
                                          "[1, 1024] (got %zu, %zu)", spec->batch,
                         spec->threads);
    const vbt_model_type *model;
    if (spec->model == VBT_SURGERY_EPILEPTOR2D)
        model = vbt_model_epileptor2d;
    else if (spec->model == VBT_SURGERY_EPILEPTOR)
        model = vbt_model_epileptor;
    else
        return vbt__fail(msg, VBT_EINVAL, "surgery: unknown model %d", (int)spec->model);
    const vbt_scheme_type *scheme = vbt_scheme_find(spec->scheme ? spec->scheme : "euler");
    if (!scheme)
        return vbt__fail(msg, VBT_EINVAL, "surgery: unknown scheme '%s' (euler, heun, rk4)",
                         spec->scheme);
    if (spec->noise > 0.0 && !scheme->stochastic)
        return vbt__fail(msg, VBT_EINVAL, "surgery: scheme '%s' takes no noise (use euler or "
                                          "heun)", scheme->name);

    vbt_surgery *s = calloc(1, sizeof *s);
    double *col = malloc(S * sizeof *col);
    if (!s || !col)
        goto nomem;
    s->n = n;
    s->S = S;
    s->conn = vbt_connectome_copy(spec->conn);
    s->x0 = malloc(S * n * sizeof *s->x0);
    s->K = malloc(S * sizeof *s->K);
    s->tau0 = malloc(S * sizeof *s->tau0);
    s->x0_init = malloc(n * sizeof *s->x0_init);
    if (!s->conn || !s->x0 || !s->K || !s->tau0 || !s->x0_init)
        goto nomem;
    memcpy(s->x0, spec->x0, S * n * sizeof *s->x0);
    for (size_t k = 0; k < S; k++) {
        s->K[k] = spec->K ? spec->K[k] : spec->K_const;
        s->tau0[k] = spec->tau0 ? spec->tau0[k] : spec->tau0_const;
    }
    /* The model has no self-connections (the VEP zeroes the diagonal). */
    for (size_t i = 0; i < n; i++)
        s->conn->weights[i * n + i] = 0.0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < S; k++)
            col[k] = s->x0[k * n + i];
        qsort(col, S, sizeof *col, cmp_double);
        double med = quantile_sorted(col, S, 0.5);
        s->x0_init[i] = med < spec->init_x0_max ? med : spec->init_x0_max;
    }
    free(col);
    s->model = model;
    s->scheme = scheme;
    s->I1 = spec->I1;
    s->dt = spec->dt;
    s->duration = spec->duration;
    s->speed = spec->speed_mm_per_ms;
    s->threshold = spec->threshold;
    s->healthy_x0 = spec->healthy_x0;
    s->init_fixed = spec->init_fixed != 0;
    s->init_x1 = spec->init_x1;
    s->init_z = spec->init_z;
    s->noise = spec->noise;
    s->seed = spec->seed;
    s->batch = spec->batch < S ? spec->batch : S;
    s->threads = spec->threads;
    s->n_steps = (uint64_t)floor(spec->duration / spec->dt + 1e-9);
    *out = s;
    return VBT_OK;
nomem:
    free(col);
    vbt_surgery_free(s);
    return vbt__fail(msg, VBT_ENOMEM, "surgery: out of memory for %zu draws of %zu regions",
                     S, n);
}

/* ---- initial state ------------------------------------------------------------ */

/* The resting fixed point of an isolated node: x^3 + 2x^2 + 4x = 4 x0 + I1 + 1
 * has one real root (the left side is increasing); bisection on a bracket. */
static void rest_state(double x0, double I1, double *x1, double *z)
{
    double rhs = 4.0 * x0 + I1 + 1.0, lo = -10.0, hi = 10.0;
    while (lo * lo * lo + 2 * lo * lo + 4 * lo > rhs)
        lo *= 2.0;
    while (hi * hi * hi + 2 * hi * hi + 4 * hi < rhs)
        hi *= 2.0;
    for (int it = 0; it < 200 && hi - lo > 1e-15 * (1.0 + fabs(lo)); it++) {
        double mid = 0.5 * (lo + hi);
        if (mid * mid * mid + 2 * mid * mid + 4 * mid < rhs)
            lo = mid;
        else
            hi = mid;
    }
    *x1 = 0.5 * (lo + hi);
    *z = 4.0 * (*x1 - x0);
}

/* Initial state [n_state][n] of a scenario (see vbt_surgery.h). */
static void initial_state(const vbt_surgery *s, const unsigned char *cut, double *st)
{
    const size_t n = s->n;
    const int six = s->model == vbt_model_epileptor;
    for (size_t i = 0; i < n; i++) {
        double x1, z;
        if (s->init_fixed && !cut[i]) {
            x1 = s->init_x1;
            z = s->init_z;
        } else {
            rest_state(cut[i] ? s->healthy_x0 : s->x0_init[i], s->I1, &x1, &z);
        }
        if (!six) {
            st[i] = x1;
            st[n + i] = z;
            continue;
        }
        /* x2 - x2^3 + k = 0 with y2 = 0 (x2 < -0.25): Newton from the
         * interictal side. */
        double k = 0.45 + 0.2 * x1 - 0.3 * (z - 3.5), x2 = -1.2;
        for (int it = 0; it < 100; it++) {
            double f = x2 - x2 * x2 * x2 + k, df = 1.0 - 3.0 * x2 * x2;
            double step = f / df;
            x2 -= step;
            if (fabs(step) < 1e-15)
                break;
        }
        st[i] = x1;                         /* x1 */
        st[n + i] = 1.0 - 5.0 * x1 * x1;    /* y1 */
        st[2 * n + i] = z;                  /* z */
        st[3 * n + i] = x2;                 /* x2 */
        st[4 * n + i] = 0.0;                /* y2 */
        st[5 * n + i] = 0.1 * x1;           /* g */
    }
}

/* ---- running a scenario ------------------------------------------------------------ */

typedef struct scen_job {
    vbt_surgery *s;
    const vbt_connectome *conn;     /* weights of the scenario */
    const unsigned char *cut;       /* [n] resected */
    const double *init;             /* [n_state][n] */
    double *onset;                  /* [S][n] */
    int stop_early;                 /* stop a batch once every draw has seized */
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    int status;
    vbt_msg err;
} scen_job;

static void job_fail(scen_job *j, int status, const char *fmt, ...) VBT_PRINTF(3, 4);
static void job_fail(scen_job *j, int status, const char *fmt, ...)
{
    pthread_mutex_lock(&j->lock);
    if (!atomic_load(&j->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vbt__vfail(&j->err, status, fmt, ap);
        va_end(ap);
        j->status = status;
        atomic_store(&j->failed, 1);
    }
    pthread_mutex_unlock(&j->lock);
}

static void *scen_worker(void *arg)
{
    scen_job *j = arg;
    vbt_surgery *s = j->s;
    const size_t n = s->n, B = s->batch, L = n * B, S = s->S, nsv = s->model->n_state;
    const size_t n_batches = (S + B - 1) / B;
    vbt_sim_spec spec = {.model = s->model, .coupling = vbt_coupling_difference,
                         .scheme = s->scheme, .conn = j->conn, .dt_ms = s->dt,
                         .speed_mm_per_ms = s->speed, .batch = B};
    vbt_sim *sim = NULL;
    vbt_msg msg;
    double *row = malloc(n * sizeof *row), *prev = malloc(L * sizeof *prev),
           *on = malloc(L * sizeof *on), *hist = NULL;
    unsigned char *seized = malloc(B);
    if (!row || !prev || !on || !seized) {
        job_fail(j, VBT_ENOMEM, "surgery: out of memory for a batch of %zu", B);
        goto out;
    }
    int st = vbt_sim_alloc(&sim, &spec, &msg);
    if (st) {
        job_fail(j, st, "surgery: %s", msg.text);
        goto out;
    }
    const double one = 1.0;
    size_t horizon = vbt_sim_horizon(sim);
    hist = malloc(horizon * nsv * n * sizeof *hist);
    if (!hist) {
        job_fail(j, VBT_ENOMEM, "surgery: out of memory for %zu history rows", horizon);
        goto out;
    }
    for (size_t r = 0; r < horizon; r++)
        memcpy(hist + r * nsv * n, j->init, nsv * n * sizeof *hist);
    st = vbt_sim_set_coupling_param(sim, "a", &one, 1) ||
         vbt_sim_set_model_param(sim, "Iext", &s->I1, 1) ||
         vbt_sim_set_model_param(sim, "tt", &one, 1) ||
         vbt_sim_set_initial_history(sim, hist, horizon);
    if (!st && s->noise > 0.0) {
        double nsig[6] = {0};
        nsig[0] = s->noise;                                  /* x1 */
        nsig[s->model == vbt_model_epileptor ? 2 : 1] = s->noise;   /* z */
        st = vbt_sim_set_noise(sim, nsig, nsv, 0.0);
    }
    if (st) {
        job_fail(j, VBT_EINVAL, "surgery: %s", vbt_sim_errmsg(sim));
        goto out;
    }
    const double thr = s->threshold, dt = s->dt;
    for (;;) {
        size_t bi = atomic_fetch_add(&j->next, 1);
        if (bi >= n_batches || atomic_load(&j->failed))
            break;
        size_t valid = S - bi * B < B ? S - bi * B : B;
        for (size_t b = 0; b < B; b++) {
            size_t k = b < valid ? bi * B + b : bi * B;
            for (size_t i = 0; i < n; i++)
                row[i] = j->cut[i] ? s->healthy_x0 : s->x0[k * n + i];
            double ks = -s->K[k], r = 1.0 / s->tau0[k];
            if (vbt_sim_set_model_param_of(sim, b, "x0", row, n) ||
                vbt_sim_set_model_param_of(sim, b, "Ks", &ks, 1) ||
                vbt_sim_set_model_param_of(sim, b, "r", &r, 1)) {
                job_fail(j, VBT_EINVAL, "surgery: draw %zu: %s", k, vbt_sim_errmsg(sim));
                goto out;
            }
        }
        vbt_sim_set_seed(sim, s->seed, bi * B);     /* also resets to t = 0 */
        const double *x = vbt_sim_state(sim);       /* x1 is the first variable */
        size_t left = 0, n_seized = 0;
        memset(seized, 0, B);
        for (size_t l = 0; l < L; l++) {
            size_t i = l / B, b = l % B;
            on[l] = NAN;
            prev[l] = x[l];
            if (j->cut[i])
                continue;
            if (x[l] > thr) {
                on[l] = 0.0;
                if (!seized[b]) {
                    seized[b] = 1;
                    n_seized++;
                }
            } else {
                left++;
            }
        }
        for (uint64_t step = 1; step <= s->n_steps && left > 0; step++) {
            if (j->stop_early && n_seized >= B)
                break;
            st = vbt_sim_run(sim, 1);
            if (st) {
                job_fail(j, st, "surgery: draw %zu: %s", bi * B, vbt_sim_errmsg(sim));
                goto out;
            }
            x = vbt_sim_state(sim);
            for (size_t l = 0; l < L; l++) {
                double xv = x[l];
                if (xv > thr && isnan(on[l]) && !j->cut[l / B]) {
                    double frac = (thr - prev[l]) / (xv - prev[l]);
                    frac = frac > 0.0 ? (frac < 1.0 ? frac : 1.0) : 0.0;
                    on[l] = ((double)(step - 1) + frac) * dt;
                    left--;
                    size_t b = l % B;
                    if (!seized[b]) {
                        seized[b] = 1;
                        n_seized++;
                    }
                }
                prev[l] = xv;
            }
        }
        for (size_t b = 0; b < valid; b++)
            for (size_t i = 0; i < n; i++)
                j->onset[(bi * B + b) * n + i] = on[i * B + b];
    }
out:
    vbt_sim_free(sim);
    free(row);
    free(prev);
    free(on);
    free(hist);
    free(seized);
    return NULL;
}

/* Simulate every draw of a scenario; onset [S][n]. */
static int run_scenario(vbt_surgery *s, const size_t *resect, size_t n_resect, int stop_early,
                        double *onset, unsigned char *cut)
{
    const size_t n = s->n, B = s->batch, n_batches = (s->S + B - 1) / B;
    memset(cut, 0, n);
    for (size_t q = 0; q < n_resect; q++) {
        if (resect[q] >= n)
            return vbt__fail(&s->msg, VBT_ERANGE, "surgery: resected region %zu is out of "
                             "range (the connectome has %zu regions)", resect[q], n);
        cut[resect[q]] = 1;
    }
    vbt_connectome *conn = vbt_connectome_copy(s->conn);
    double *init = malloc(s->model->n_state * n * sizeof *init);
    if (!conn || !init) {
        vbt_connectome_free(conn);
        free(init);
        return vbt__fail(&s->msg, VBT_ENOMEM, "surgery: out of memory for a scenario");
    }
    /* Resection: no connection to or from a resected region. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            if (cut[i] || cut[k])
                conn->weights[i * n + k] = 0.0;
    initial_state(s, cut, init);
    for (size_t q = 0; q < s->S * n; q++)
        onset[q] = NAN;

    scen_job j = {.s = s, .conn = conn, .cut = cut, .init = init, .onset = onset,
                  .stop_early = stop_early, .status = VBT_OK};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    size_t nt = s->threads < n_batches ? s->threads : n_batches, started = 0;
    pthread_t th[1024];
    for (; nt > 1 && started < nt; started++)
        if (pthread_create(&th[started], NULL, scen_worker, &j) != 0)
            break;
    if (started == 0)
        scen_worker(&j);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.lock);
    vbt_connectome_free(conn);
    free(init);
    if (atomic_load(&j.failed)) {
        s->msg = j.err;
        return j.status;
    }
    return VBT_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vbt_surgery_result_clear(vbt_surgery_result *r)
{
    if (!r)
        return;
    free(r->resected);
    free(r->is_resected);
    free(r->onset);
    free(r->p_recruited);
    free(r->onset_mean);
    free(r->onset_sd);
    free(r->onset_median);
    free(r->onset_q05);
    free(r->onset_q95);
    free(r->mean_rank);
    memset(r, 0, sizeof *r);
}

/* Freedom and number of recruited non-resected regions per draw. */
static void freedom_stats(const vbt_surgery *s, const double *onset, const unsigned char *cut,
                          double *p_freedom, double *mean_recruited)
{
    const size_t n = s->n, S = s->S;
    size_t free_draws = 0, total = 0;
    for (size_t k = 0; k < S; k++) {
        size_t rec = 0;
        for (size_t i = 0; i < n; i++)
            rec += !cut[i] && !isnan(onset[k * n + i]);
        free_draws += rec == 0;
        total += rec;
    }
    *p_freedom = (double)free_draws / (double)S;
    *mean_recruited = (double)total / (double)S;
}

int vbt_surgery_run(vbt_surgery *s, const size_t *resect, size_t n_resect,
                    vbt_surgery_result *res)
{
    const size_t n = s->n, S = s->S;
    double t0 = now_s();
    memset(res, 0, sizeof *res);
    vbt__msg_clear(&s->msg);
    res->n_regions = n;
    res->n_draws = S;
    res->resected = malloc((n_resect ? n_resect : 1) * sizeof *res->resected);
    res->is_resected = calloc(n, 1);
    res->onset = malloc(S * n * sizeof *res->onset);
    res->p_recruited = malloc(n * sizeof(double));
    res->onset_mean = malloc(n * sizeof(double));
    res->onset_sd = malloc(n * sizeof(double));
    res->onset_median = malloc(n * sizeof(double));
    res->onset_q05 = malloc(n * sizeof(double));
    res->onset_q95 = malloc(n * sizeof(double));
    res->mean_rank = malloc(n * sizeof(double));
    double *v = malloc(S * sizeof *v), *rank_sum = calloc(n, sizeof *rank_sum);
    size_t *order = malloc(n * sizeof *order);
    if (!res->resected || !res->is_resected || !res->onset || !res->p_recruited ||
        !res->onset_mean || !res->onset_sd || !res->onset_median || !res->onset_q05 ||
        !res->onset_q95 || !res->mean_rank || !v || !rank_sum || !order) {
        free(v);
        free(rank_sum);
        free(order);
        vbt_surgery_result_clear(res);
        return vbt__fail(&s->msg, VBT_ENOMEM, "surgery: out of memory for the results");
    }
    int st = run_scenario(s, resect, n_resect, 0, res->onset, res->is_resected);
    if (st) {
        free(v);
        free(rank_sum);
        free(order);
        vbt_surgery_result_clear(res);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        if (res->is_resected[i])
            res->resected[res->n_resected++] = i;
    /* Ranks within each draw: recruited regions by onset, ties share the
     * mean of their ranks. */
    for (size_t k = 0; k < S; k++) {
        const double *on = res->onset + k * n;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(on[i]))
                order[m++] = i;
        for (size_t a = 1; a < m; a++)      /* insertion sort: m is small */
            for (size_t b = a; b > 0 && on[order[b - 1]] > on[order[b]]; b--) {
                size_t t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        for (size_t a = 0; a < m;) {
            size_t e = a;
            while (e + 1 < m && on[order[e + 1]] == on[order[a]])
                e++;
            double r = 0.5 * (double)(a + e) + 1.0;
            for (size_t q = a; q <= e; q++)
                rank_sum[order[q]] += r;
            a = e + 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        double sum = 0.0;
        for (size_t k = 0; k < S; k++) {
            double t = res->onset[k * n + i];
            if (!isnan(t)) {
                v[m++] = t;
                sum += t;
            }
        }
        res->p_recruited[i] = (double)m / (double)S;
        double mean = m ? sum / (double)m : NAN, ss = 0.0;
        for (size_t q = 0; q < m; q++)
            ss += (v[q] - mean) * (v[q] - mean);
        qsort(v, m, sizeof *v, cmp_double);
        res->onset_mean[i] = mean;
        res->onset_sd[i] = m > 1 ? sqrt(ss / (double)(m - 1)) : (m ? 0.0 : NAN);
        res->onset_median[i] = quantile_sorted(v, m, 0.5);
        res->onset_q05[i] = quantile_sorted(v, m, 0.05);
        res->onset_q95[i] = quantile_sorted(v, m, 0.95);
        res->mean_rank[i] = m ? rank_sum[i] / (double)m : NAN;
    }
    freedom_stats(s, res->onset, res->is_resected, &res->p_freedom, &res->mean_recruited);
    free(v);
    free(rank_sum);
    free(order);
    res->wall_s = now_s() - t0;
    return VBT_OK;
}

int vbt_surgery_freedom(vbt_surgery *s, const size_t *resect, size_t n_resect,
                        double *p_freedom, double *mean_recruited)
{
    double *onset = malloc(s->S * s->n * sizeof *onset);
    unsigned char *cut = malloc(s->n);
    vbt__msg_clear(&s->msg);
    if (!onset || !cut) {
        free(onset);
        free(cut);
        return vbt__fail(&s->msg, VBT_ENOMEM, "surgery: out of memory for a scenario");
    }
    int st = run_scenario(s, resect, n_resect, mean_recruited == NULL, onset, cut);
    if (!st) {
        double pf, mr;
        freedom_stats(s, onset, cut, &pf, &mr);
        if (p_freedom)
            *p_freedom = pf;
        if (mean_recruited)
            *mean_recruited = mr;
    }
    free(onset);
    free(cut);
    return st;
}
