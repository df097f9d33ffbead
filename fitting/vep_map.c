/* vep_map.c -- MAP of the BVEP posterior: L-BFGS with a strong-Wolfe line
 * search (Nocedal & Wright 2006, Algorithms 7.4, 3.5 and 3.6) and a
 * multi-start driver on POSIX threads.  Each start is a prior draw of
 * stream (seed, start) optimised on a private copy of the model, so its
 * result does not depend on the number of threads or on scheduling. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "vbt_rng.h"
#include "vep_internal.h"

#define C1 1e-4
#define C2 0.9
#define LS_MAX 40
#define NEWTON_FD_STEP 1e-6 /* ~ sqrt(eps |g|/|g''|) for gradients accurate to ~1e-12 */

void vbt_vep_lbfgs_opts_default(vbt_vep_lbfgs_opts *o)
{
    o->memory = 10;
    o->max_iter = 2000;
    o->gtol = 1e-5;
    o->ftol = 1e-12;
}

void vbt_vep_map_opts_default(vbt_vep_map_opts *o)
{
    o->n_starts = 16;
    o->n_threads = 1;
    o->seed = 0;
    vbt_vep_lbfgs_opts_default(&o->lbfgs);
    o->lbfgs.max_iter = 100; /* a screen: the Newton-BFGS polish climbs faster */
    o->mode_tol = 1.0;
    o->newton_iter = 10;
    o->n_polish = 0;
    o->x0_start = NULL;
    o->x0_jitter = 0.5;
    o->hop_rounds = 0;
    o->hops = 6;
    o->progress = NULL;
    o->progress_ctx = NULL;
}

typedef struct lbfgs_ws {
    vbt_vep *m;
    size_t np;
    double *x0, *g0, *d; /* line-search origin and direction */
    double *x, *g;       /* trial point */
    size_t nev;
} lbfgs_ws;

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* f = -log posterior at x0 + a d into ws->x, ws->g; +inf when not finite. */
static double eval_at(lbfgs_ws *w, double a, double *dg)
{
    for (size_t i = 0; i < w->np; i++)
        w->x[i] = w->x0[i] + a * w->d[i];
    double lp;
    w->nev++;
    if (vbt_vep_logp(w->m, w->x, &lp, w->g) != VBT_OK || !isfinite(lp)) {
        *dg = NAN;
        return HUGE_VAL;
    }
    for (size_t i = 0; i < w->np; i++)
        w->g[i] = -w->g[i];
    *dg = dot(w->g, w->d, w->np);
    return -lp;
}

static double cubic_min(double a_lo, double f_lo, double d_lo, double a_hi, double f_hi,
                        double d_hi)
{
    double lo = fmin(a_lo, a_hi), hi = fmax(a_lo, a_hi), wdt = hi - lo;
    double a = 0.5 * (a_lo + a_hi);
    if (isfinite(f_hi) && isfinite(d_hi)) {
        double d1 = d_lo + d_hi - 3.0 * (f_lo - f_hi) / (a_lo - a_hi);
        double disc = d1 * d1 - d_lo * d_hi;
        if (disc >= 0) {
            double d2 = copysign(sqrt(disc), a_hi - a_lo);
            double c = a_hi - (a_hi - a_lo) * (d_hi + d2 - d1) / (d_hi - d_lo + 2.0 * d2);
            if (isfinite(c) && c > lo + 0.1 * wdt && c < hi - 0.1 * wdt)
                a = c;
        }
    } else {
        /* non-finite far end: shrink towards the good end */
        a = a_lo + 0.25 * (a_hi - a_lo);
    }
    return a;
}

/* Strong-Wolfe line search from (x0, f0, g0) along d, first trial a1.  On
 * success x, g hold the accepted point (the strong-Wolfe point, else the
 * best point with sufficient decrease found by the zoom) and its f is
 * returned; NAN when no step decreased f. */
static double line_search(lbfgs_ws *w, double f0, double a1, double *step)
{
    double dg0 = dot(w->g0, w->d, w->np);
    double a_prev = 0, f_prev = f0, dg_prev = dg0;
    double a = a1, a_lo = 0, f_lo = f0, d_lo = dg0, a_hi = 0, f_hi = 0, d_hi = 0;
    int zoom = 0;
    for (int it = 0; it < LS_MAX && !zoom; it++) {
        double dg, f = eval_at(w, a, &dg);
        if (!isfinite(f) || f > f0 + C1 * a * dg0 || (it > 0 && f >= f_prev)) {
            a_lo = a_prev, f_lo = f_prev, d_lo = dg_prev;
            a_hi = a, f_hi = f, d_hi = dg;
            zoom = 1;
            break;
        }
        if (fabs(dg) <= -C2 * dg0) {
            *step = a;
            return f;
        }
        if (dg >= 0) {
            a_lo = a, f_lo = f, d_lo = dg;
            a_hi = a_prev, f_hi = f_prev, d_hi = dg_prev;
            zoom = 1;
            break;
        }
        a_prev = a, f_prev = f, dg_prev = dg;
        a *= 2.0;
    }
    if (!zoom)
        return NAN;
    for (int it = 0; it < LS_MAX; it++) {
        double a_t = cubic_min(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi);
        if (fabs(a_hi - a_lo) <= 1e-14 * fmax(1.0, a_lo))
            break;
        double dg, f = eval_at(w, a_t, &dg);
        if (!isfinite(f) || f > f0 + C1 * a_t * dg0 || f >= f_lo) {
            a_hi = a_t, f_hi = f, d_hi = dg;
        } else {
            if (fabs(dg) <= -C2 * dg0) {
                *step = a_t;
                return f;
            }
            if (dg * (a_hi - a_lo) >= 0)
                a_hi = a_lo, f_hi = f_lo, d_hi = d_lo;
            a_lo = a_t, f_lo = f, d_lo = dg;
        }
    }
    if (a_lo > 0 && f_lo < f0) {
        /* sufficient decrease without the curvature condition: accept a_lo */
        double dg;
        double f = eval_at(w, a_lo, &dg);
        if (f < f0) {
            *step = a_lo;
            return f;
        }
    }
    return NAN;
}

int vbt_vep_lbfgs(vbt_vep *m, const vbt_vep_lbfgs_opts *o, double *theta, double *lp_out,
                  size_t *iters)
{
    vbt_vep_lbfgs_opts def;
    if (!o) {
        vbt_vep_lbfgs_opts_default(&def);
        o = &def;
    }
    size_t np = vbt_vep_n_params(m), mem = o->memory ? o->memory : 1;
    if (iters)
        *iters = 0;
    double *buf = malloc((5 * np + 2 * mem * np + 2 * mem) * sizeof(double));
    if (!buf)
        return VBT_ENOMEM;
    lbfgs_ws w = {.m = m, .np = np};
    w.x0 = buf;
    w.g0 = buf + np;
    w.d = buf + 2 * np;
    w.x = buf + 3 * np;
    w.g = buf + 4 * np;
    double *S = buf + 5 * np, *Yv = S + mem * np, *rho = Yv + mem * np, *al = rho + mem;
    double hist[10];

    double lp;
    int st = vbt_vep_logp(m, theta, &lp, w.g0);
    if (st != VBT_OK || !isfinite(lp)) {
        free(buf);
        *lp_out = -HUGE_VAL;
        return VBT_ENUMERIC;
    }
    memcpy(w.x0, theta, np * sizeof(double));
    for (size_t i = 0; i < np; i++)
        w.g0[i] = -w.g0[i];
    double f = -lp;
    size_t head = 0, used = 0, it;
    int status = VBT_ERANGE;
    for (it = 0; it < o->max_iter; it++) {
        double gmax = 0;
        for (size_t i = 0; i < np; i++)
            gmax = fmax(gmax, fabs(w.g0[i]));
        if (gmax <= o->gtol * fmax(1.0, fabs(f))) {
            status = VBT_OK;
            break;
        }
        if (it >= 10 && (hist[it % 10] - f) <= o->ftol * fmax(1.0, fabs(f))) {
            status = VBT_OK;
            break;
        }
        hist[it % 10] = f;
        /* two-loop recursion: d = -H g */
        for (size_t i = 0; i < np; i++)
            w.d[i] = -w.g0[i];
        for (size_t q = 0; q < used; q++) {
            size_t j = (head + mem - 1 - q) % mem;
            al[j] = rho[j] * dot(S + j * np, w.d, np);
            for (size_t i = 0; i < np; i++)
                w.d[i] -= al[j] * Yv[j * np + i];
        }
        double a1 = 1.0;
        if (used) {
            size_t j = (head + mem - 1) % mem;
            double gam = 1.0 / (rho[j] * dot(Yv + j * np, Yv + j * np, np));
            for (size_t i = 0; i < np; i++)
                w.d[i] *= gam;
        } else {
            a1 = fmin(1.0, 1.0 / gmax);
        }
        for (size_t q = used; q-- > 0;) {
            size_t j = (head + mem - 1 - q) % mem;
            double be = rho[j] * dot(Yv + j * np, w.d, np);
            for (size_t i = 0; i < np; i++)
                w.d[i] += (al[j] - be) * S[j * np + i];
        }
        if (dot(w.d, w.g0, np) >= 0) {
            /* not a descent direction: restart from steepest descent */
            used = 0;
            for (size_t i = 0; i < np; i++)
                w.d[i] = -w.g0[i];
            a1 = fmin(1.0, 1.0 / gmax);
        }
        double step = 0, fn = line_search(&w, f, a1, &step);
        if (isnan(fn)) {
            if (used) {
                used = 0; /* forget the curvature pairs and retry once */
                hist[it % 10] = f + 1.0 + fabs(f);
                continue;
            }
            status = VBT_OK; /* no decrease along steepest descent: a stationary point */
            break;
        }
        /* pair (s, y) */
        double *sj = S + head * np, *yj = Yv + head * np;
        for (size_t i = 0; i < np; i++) {
            sj[i] = w.x[i] - w.x0[i];
            yj[i] = w.g[i] - w.g0[i];
        }
        double sy = dot(sj, yj, np);
        if (sy > 1e-12 * sqrt(dot(sj, sj, np) * dot(yj, yj, np))) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % mem;
            if (used < mem)
                used++;
        }
        memcpy(w.x0, w.x, np * sizeof(double));
        memcpy(w.g0, w.g, np * sizeof(double));
        f = fn;
    }
    memcpy(theta, w.x0, np * sizeof(double));
    *lp_out = -f;
    if (iters)
        *iters = it;
    free(buf);
    return status;
}

/* ---- Newton polish ------------------------------------------------------- */

/* Armijo backtracking from theta along the ascent direction d (dec = g.d >
 * 0): on success theta, g, lp move to the accepted point and 1 is
 * returned.  x, gx: np scratch. */
static int ascend(vbt_vep *m, size_t np, const double *d, double dec, double *theta, double *g,
                  double *lp, double *x, double *gx)
{
    for (double a = 1.0; a >= 1.0 / 64.0; a *= 0.5) {
        for (size_t i = 0; i < np; i++)
            x[i] = theta[i] + a * d[i];
        double lp2;
        if (vbt_vep_logp(m, x, &lp2, gx) == VBT_OK && isfinite(lp2) &&
            lp2 >= *lp + 1e-4 * a * dec) {
            memcpy(theta, x, np * sizeof *x);
            memcpy(g, gx, np * sizeof *g);
            *lp = lp2;
            return 1;
        }
    }
    return 0;
}

/* B = A^-1 from the lower Cholesky factor L held in A (row major):
 * B = L^-T L^-1. */
static void chol_inverse(const double *A, double *B, size_t n)
{
    memset(B, 0, n * n * sizeof *B);
    for (size_t i = 0; i < n; i++)
        B[i * n + i] = 1.0;
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)n, (int)n,
                1.0, A, (int)n, B, (int)n);
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)n, (int)n, 1.0,
                A, (int)n, B, (int)n);
}

/* BFGS update of the inverse negative Hessian B (lower triangle) for the
 * step from (th0, g0) to (th, g): s = th - th0, y = g0 - g; skipped when
 * s.y is not safely positive.  s, y, By: np scratch. */
static void bfgs_update(double *B, size_t np, const double *th0, const double *th,
                        const double *g0, const double *g, double *s, double *y, double *By)
{
    double sy = 0, ss = 0, yy = 0;
    for (size_t i = 0; i < np; i++) {
        s[i] = th[i] - th0[i];
        y[i] = g0[i] - g[i];
        sy += s[i] * y[i];
        ss += s[i] * s[i];
        yy += y[i] * y[i];
    }
    if (!(sy > 1e-12 * sqrt(ss * yy)))
        return;
    cblas_dsymv(CblasRowMajor, CblasLower, (int)np, 1.0, B, (int)np, y, 1, 0.0, By, 1);
    double yBy = 0;
    for (size_t i = 0; i < np; i++)
        yBy += y[i] * By[i];
    /* B += ((sy + yBy) / sy^2) s s' - (By s' + s By') / sy */
    double c = (sy + yBy) / (sy * sy);
    for (size_t i = 0; i < np; i++) {
        double *Bi = B + i * np, ci = c * s[i] - By[i] / sy, si = s[i] / sy;
        for (size_t j = 0; j <= i; j++)
            Bi[j] += ci * s[j] - si * By[j];
    }
}

/* Newton polish with quasi-Newton steps in between (Levenberg-Marquardt
 * safeguard): the negative Hessian by forward differences of the exact
 * gradient (n_params gradients), a Cholesky solve, Armijo backtracking; then
 * up to NEWTON_QN_MAX BFGS steps that start from the inverse of that
 * Hessian and cost about one gradient each, until the quasi-Newton decrement
 * falls below the tolerance or a step fails; then a fresh Hessian.  L-BFGS
 * stalls on the VEP posterior, whose curvature spans many orders of
 * magnitude (stiff seizure onsets against flat healthy regions); the
 * Hessian's inverse removes that scale and BFGS follows its change along
 * the path, so most of the climb costs single gradients.  Convergence is
 * only declared on a fresh Hessian: the Newton decrement with the undamped,
 * positive definite Hessian below the tolerance proves a local mode, which
 * the Laplace approximation needs. */
#define NEWTON_QN_MAX 200

int vbt_vep_newton(vbt_vep *m, size_t max_iter, double *theta, double *lp_out, size_t *iters)
{
    size_t np = vbt_vep_n_params(m);
    if (iters)
        *iters = 0;
    double *H = malloc(np * np * sizeof *H), *A = malloc(np * np * sizeof *A);
    double *buf = malloc(8 * np * sizeof *buf);
    if (!H || !A || !buf) {
        free(H);
        free(A);
        free(buf);
        return VBT_ENOMEM;
    }
    double *g = buf, *d = buf + np, *x = buf + 2 * np, *g2 = buf + 3 * np, *s1 = buf + 4 * np,
           *s2 = buf + 5 * np, *th0 = buf + 6 * np, *By = buf + 7 * np;
    double lp;
    int status = VBT_ERANGE;
    if (vbt_vep_logp(m, theta, &lp, g) != VBT_OK || !isfinite(lp)) {
        status = VBT_ENUMERIC;
        lp = -HUGE_VAL;
        goto done;
    }
    double tol = 1e-9 * fmax(1.0, fabs(lp));
    size_t it;
    for (it = 0; it < max_iter; it++) {
        if (vbt__vep_neg_hessian(m, theta, g, NEWTON_FD_STEP, H, x, s1, s2)) {
            status = VBT_ENUMERIC;
            break;
        }
        double dmax = 0;
        for (size_t i = 0; i < np; i++)
            dmax = fmax(dmax, fabs(H[i * np + i]));
        int moved = 0, pd = 0;
        double lp_it = lp;
        for (double lam = 0; lam <= 1e6 * dmax && !moved;
             lam = lam > 0 ? lam * 10.0 : 1e-8 * fmax(dmax, 1.0)) {
            memcpy(A, H, np * np * sizeof *A);
            for (size_t i = 0; i < np; i++)
                A[i * np + i] += lam;
            if (vbt__cholesky(A, np) != 0)
                continue;
            /* d = A^-1 g: L y = g, L^T d = y */
            for (size_t i = 0; i < np; i++) {
                double v = g[i];
                for (size_t k = 0; k < i; k++)
                    v -= A[i * np + k] * d[k];
                d[i] = v / A[i * np + i];
            }
            for (size_t i = np; i-- > 0;) {
                double v = d[i];
                for (size_t k = i + 1; k < np; k++)
                    v -= A[k * np + i] * d[k];
                d[i] = v / A[i * np + i];
            }
            double dec = 0;
            for (size_t i = 0; i < np; i++)
                dec += g[i] * d[i];
            tol = 1e-9 * fmax(1.0, fabs(lp));
            if (lam == 0 && 0.5 * dec <= tol) {
                status = VBT_OK; /* Newton decrement: lp is within it of the mode */
                goto done;
            }
            pd = lam == 0;
            moved = ascend(m, np, d, dec, theta, g, &lp, x, g2);
        }
        if (iters)
            *iters = it + 1;
        if (!moved)
            break; /* no ascent even with heavy damping: leave theta as it is */
        /* BFGS on the inverse of the (damped) negative Hessian just factored,
         * with pairs (s, y) = (step, -(change of g)) */
        double *B = H;
        chol_inverse(A, B, np);
        for (size_t q = 0; q < NEWTON_QN_MAX; q++) {
            if (q > 0)
                bfgs_update(B, np, th0, theta, s1, g, s2, x, By);
            cblas_dsymv(CblasRowMajor, CblasLower, (int)np, 1.0, B, (int)np, g, 1, 0.0, d, 1);
            double dec = 0;
            for (size_t i = 0; i < np; i++)
                dec += g[i] * d[i];
            if (!(dec > 0) || 0.5 * dec <= tol)
                break; /* near the mode (or B lost its sign): verify on a fresh Hessian */
            memcpy(th0, theta, np * sizeof *th0);
            memcpy(s1, g, np * sizeof *s1);
            if (!ascend(m, np, d, dec, theta, g, &lp, x, g2))
                break;
        }
        if (!pd && lp - lp_it <= 10.0 * tol)
            break; /* not concave here and (almost) no ascent: a ridge or saddle, give up */
    }
done:
    *lp_out = lp;
    free(H);
    free(A);
    free(buf);
    return status;
}

/* ---- multi-start ------------------------------------------------------- */

/* Even starts with opts.x0_start: x0 = x0_start + x0_jitter N(0, 1), stream
 * (seed, 2^61 + start); the other parameters keep their prior draw. */
static void informed_start(vbt_vep *m, const vbt_vep_map_opts *o, size_t s, double *th,
                           double *nat)
{
    long i0 = vbt_vep_param_index(m, "x0[1]");
    if (i0 < 0)
        return;
    size_t n = vbt_vep_n_regions(m);
    vbt_vep_constrain(m, th, nat);
    vbt_rng r;
    vbt_rng_init(&r, o->seed, ((uint64_t)1 << 61) + s);
    for (size_t i = 0; i < n; i++) {
        double z;
        vbt_rng_normal(&r, &z, 1);
        nat[(size_t)i0 + i] = o->x0_start[i] + o->x0_jitter * z;
    }
    vbt_vep_unconstrain(m, nat, th);
}

typedef struct ms_shared {
    const vbt_vep *m;
    const vbt_vep_map_opts *o;
    double *lp, *theta;
    int *status;
    const size_t *order; /* phase 2: the starts to polish, best L-BFGS lp first */
    size_t n_work;       /* starts (phase 1) or starts to polish (phase 2) */
    int phase;           /* 1: L-BFGS from each start; 2: Newton polish; 3: hops */
    const double *hop_from; /* phase 3: the best mode so far, where the round's hops leave */
    size_t hop_row;      /* phase 3: the row of the round's first hop */
    size_t next;
    size_t done, total; /* progress: steps finished, steps planned */
    int stop;           /* the progress callback asked to stop */
    pthread_mutex_t lock;
    int err;
} ms_shared;

/* The L-BFGS screen of row s from its point in sh->theta. */
static void ms_screen(ms_shared *sh, vbt_vep *mine, size_t s)
{
    double lp;
    sh->status[s] = vbt_vep_lbfgs(mine, &sh->o->lbfgs, sh->theta + s * vbt_vep_n_params(mine),
                                  &lp, NULL);
    sh->lp[s] = isfinite(lp) ? lp : -HUGE_VAL;
}

static void ms_phase1(ms_shared *sh, vbt_vep *mine, size_t s, double *nat)
{
    double *th = sh->theta + s * vbt_vep_n_params(mine);
    vbt_vep_prior_draw(mine, sh->o->seed, s, th);
    if (sh->o->x0_start && s % 2 == 0)
        informed_start(mine, sh->o, s, th, nat);
    ms_screen(sh, mine, s);
}

static void ms_phase2(ms_shared *sh, vbt_vep *mine, size_t s)
{
    double lpn, *th = sh->theta + s * vbt_vep_n_params(mine);
    if (sh->status[s] == VBT_ENUMERIC)
        return; /* L-BFGS met a non-finite value: nothing to polish */
    int ns = vbt_vep_newton(mine, sh->o->newton_iter, th, &lpn, NULL);
    if (ns != VBT_ENOMEM && ns != VBT_ENUMERIC && isfinite(lpn)) {
        sh->lp[s] = lpn;
        sh->status[s] = ns;
    }
}

/* Hop s (row s of sh->theta, phase 3) from the best mode so far: K scaled by
 * exp(HOP_K_SD N(0, 1)); every region below the EZ line starts at x0
 * HOP_X0_ON with probability HOP_P_ON, every region at or above it back at
 * its prior mean with probability HOP_P_OFF; the other parameters stay.
 * Then the start's L-BFGS screen and the polish.  Stream (seed, 2^60 + s).
 * The modes of this posterior differ by K and by which regions sit just
 * above the EZ line (the ones that seize); a hop changes a few of them at
 * once, which an independent start rarely gets right all together. */
#define HOP_K_SD 0.5
#define HOP_X0_ON -1.8
#define HOP_P_ON 0.05
#define HOP_P_OFF 0.3
static void ms_phase3(ms_shared *sh, vbt_vep *mine, size_t s, double *nat)
{
    const size_t np = vbt_vep_n_params(mine), n = vbt_vep_n_regions(mine);
    double *th = sh->theta + s * np;
    memcpy(th, sh->hop_from, np * sizeof *th);
    vbt_rng r;
    vbt_rng_init(&r, sh->o->seed, ((uint64_t)1 << 60) + s);
    long ik = vbt_vep_param_index(mine, "K"), i0 = vbt_vep_param_index(mine, "x0[1]");
    if (vbt_vep_constrain(mine, th, nat) == VBT_OK) {
        double z, u;
        if (ik >= 0) {
            vbt_rng_normal(&r, &z, 1);
            nat[ik] *= exp(HOP_K_SD * z);
        }
        for (size_t i = 0; i0 >= 0 && i < n; i++) {
            vbt_rng_uniform(&r, &u, 1);
            double *x = nat + (size_t)i0 + i;
            if (*x < VBT_VEP_X0_EZ && u < HOP_P_ON)
                *x = HOP_X0_ON;
            else if (*x >= VBT_VEP_X0_EZ && u < HOP_P_OFF)
                *x = vbt_vep_param_prior_mean(mine, (size_t)i0 + i);
        }
        if (vbt_vep_unconstrain(mine, nat, th) != VBT_OK)
            memcpy(th, sh->hop_from, np * sizeof *th);
    }
    ms_screen(sh, mine, s);
    ms_phase2(sh, mine, s);
}

static void *ms_worker(void *arg)
{
    ms_shared *sh = arg;
    vbt_vep *mine = NULL;
    if (vbt__vep_clone(sh->m, &mine, NULL) != VBT_OK) {
        pthread_mutex_lock(&sh->lock);
        sh->err = VBT_ENOMEM;
        pthread_mutex_unlock(&sh->lock);
        return NULL;
    }
    size_t np = vbt_vep_n_params(mine);
    double *nat = malloc((np ? np : 1) * sizeof *nat);
    if (!nat) {
        vbt_vep_free(mine);
        pthread_mutex_lock(&sh->lock);
        sh->err = VBT_ENOMEM;
        pthread_mutex_unlock(&sh->lock);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        size_t k = sh->stop ? sh->n_work : sh->next++;
        pthread_mutex_unlock(&sh->lock);
        if (k >= sh->n_work)
            break;
        if (sh->phase == 1)
            ms_phase1(sh, mine, k, nat);
        else if (sh->phase == 3)
            ms_phase3(sh, mine, sh->hop_row + k, nat);
        else
            ms_phase2(sh, mine, sh->order[k]);
        if (sh->o->progress) {
            pthread_mutex_lock(&sh->lock);
            sh->done++;
            if (!sh->stop && sh->o->progress(sh->o->progress_ctx, sh->done, sh->total))
                sh->stop = 1;
            pthread_mutex_unlock(&sh->lock);
        }
    }
    free(nat);
    vbt_vep_free(mine);
    return NULL;
}

/* Runs one phase over sh->n_work items on nth threads (the caller is one). */
static void ms_run(ms_shared *sh, pthread_t *tid, size_t nth)
{
    size_t started = 0;
    sh->next = 0;
    for (size_t t = 1; t < nth && t < sh->n_work; t++) {
        if (pthread_create(&tid[t], NULL, ms_worker, sh) != 0)
            break;
        started = t;
    }
    ms_worker(sh);
    for (size_t t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
}

/* order[0..n) = the starts by decreasing lp, ties by index (insertion sort:
 * n is the number of starts). */
static void rank_starts(const double *lp, size_t n, size_t *order)
{
    for (size_t s = 0; s < n; s++) {
        size_t k = s;
        for (; k > 0 && lp[order[k - 1]] < lp[s]; k--)
            order[k] = order[k - 1];
        order[k] = s;
    }
}

size_t vbt_vep_map_n_rows(const vbt_vep_map_opts *o)
{
    return o->n_starts + o->hop_rounds * o->hops;
}

/* The row of largest lp among the first `rows` (ties: the first). */
static size_t best_row(const double *lp, size_t rows)
{
    size_t b = 0;
    for (size_t s = 1; s < rows; s++)
        if (lp[s] > lp[b])
            b = s;
    return b;
}

int vbt_vep_map(const vbt_vep *m, const vbt_vep_map_opts *o, double *theta_best,
                vbt_vep_map_result *res, double *lp_starts, double *theta_starts, vbt_msg *msg)
{
    vbt_vep_map_opts def;
    if (!m || !theta_best || !res)
        return vbt__fail(msg, VBT_EINVAL, "vep map: NULL argument");
    if (!o) {
        vbt_vep_map_opts_default(&def);
        o = &def;
    }
    if (o->n_starts == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep map: n_starts must be >= 1");
    if (o->hop_rounds && !o->hops)
        return vbt__fail(msg, VBT_EINVAL, "vep map: hop rounds need hops >= 1");
    size_t np = vbt_vep_n_params(m), ns = o->n_starts, rows = vbt_vep_map_n_rows(o);
    size_t nth = o->n_threads ? o->n_threads : 1;
    if (nth > ns)
        nth = ns;
    ms_shared sh = {.m = m, .o = o};
    sh.lp = malloc(rows * sizeof(double));
    sh.theta = malloc(rows * (np ? np : 1) * sizeof(double));
    sh.status = malloc(rows * sizeof(int));
    pthread_t *tid = malloc(nth * sizeof *tid);
    if (!sh.lp || !sh.theta || !sh.status || !tid) {
        free(sh.lp);
        free(sh.theta);
        free(sh.status);
        free(tid);
        return vbt__fail(msg, VBT_ENOMEM, "vep map: out of memory");
    }
    pthread_mutex_init(&sh.lock, NULL);
    sh.total = ns + (o->newton_iter ? (o->n_polish && o->n_polish < ns ? o->n_polish : ns) : 0) +
               o->hop_rounds * o->hops;
    /* phase 1: L-BFGS from every start */
    sh.phase = 1;
    sh.n_work = ns;
    ms_run(&sh, tid, nth);
    /* phase 2: Newton polish of the n_polish best end points (all with 0);
     * a Newton step costs n_params gradients (417 at the BVEP benchmark size) */
    size_t *order = NULL;
    if (!sh.err && !sh.stop && o->newton_iter) {
        order = malloc(ns * sizeof *order);
        if (!order)
            sh.err = VBT_ENOMEM;
    }
    size_t n_pol = 0;
    if (order) {
        rank_starts(sh.lp, ns, order);
        n_pol = o->n_polish && o->n_polish < ns ? o->n_polish : ns;
        while (n_pol > 0 && !isfinite(sh.lp[order[n_pol - 1]]))
            n_pol--;
        sh.phase = 2;
        sh.order = order;
        sh.n_work = n_pol;
        sh.total = ns + n_pol + o->hop_rounds * o->hops; /* polishes of finite starts */
        ms_run(&sh, tid, nth);
        free(order);
    }
    /* phase 3: rounds of hops, each from the best mode of the rows so far */
    for (size_t s = ns; s < rows; s++) { /* rows no hop reaches (stopped) stay empty */
        sh.lp[s] = -HUGE_VAL;
        sh.status[s] = VBT_ENUMERIC;
        memcpy(sh.theta + s * np, sh.theta, np * sizeof(double));
    }
    for (size_t rd = 0; rd < o->hop_rounds && !sh.err && !sh.stop; rd++) {
        size_t row = ns + rd * o->hops, b = best_row(sh.lp, row);
        if (!isfinite(sh.lp[b]))
            break;
        sh.phase = 3;
        sh.hop_from = sh.theta + b * np;
        sh.hop_row = row;
        sh.n_work = o->hops;
        ms_run(&sh, tid, nth);
    }
    pthread_mutex_destroy(&sh.lock);
    free(tid);
    int st = VBT_OK;
    if (sh.err) {
        st = vbt__fail(msg, sh.err, "vep map: out of memory in a worker");
        goto done;
    }
    if (sh.stop) {
        st = vbt__fail(msg, VBT_EINVAL, "vep map: interrupted");
        goto done;
    }
    size_t best = best_row(sh.lp, rows);
    if (!isfinite(sh.lp[best])) {
        st = vbt__fail(msg, VBT_ENUMERIC, "vep map: no start gave a finite log posterior");
        goto done;
    }
    res->best_lp = sh.lp[best];
    res->best_start = best;
    res->n_best = 0;
    res->n_converged = 0;
    res->n_polished = n_pol;
    for (size_t s = 0; s < rows; s++) {
        if (sh.lp[s] >= sh.lp[best] - o->mode_tol)
            res->n_best++;
        if (sh.status[s] == VBT_OK)
            res->n_converged++;
    }
    memcpy(theta_best, sh.theta + best * np, np * sizeof(double));
    if (lp_starts)
        memcpy(lp_starts, sh.lp, rows * sizeof(double));
    if (theta_starts)
        memcpy(theta_starts, sh.theta, rows * np * sizeof(double));
done:
    free(sh.lp);
    free(sh.theta);
    free(sh.status);
    return st;
}
