/* test_samplers.c -- one battery over every sampler of the table
 * (vbt_sampler_types[]) on the same targets with known answers:
 *
 *   gauss   a correlated Gaussian in 3-D (mean and covariance exact);
 *   funnel  Neal's funnel, v ~ N(0, 3^2), x_1, x_2 | v ~ N(0, e^v) (e^v the
 *           variance; the marginal of v exact; the mode at x = 0, v = -9);
 *   mixture two well separated Gaussians with weights 0.3 and 0.7 (no
 *           trajectory crosses between them);
 *
 * each written as prior x likelihood with the prior's and the likelihood's
 * normalising constants, so that the evidence is exactly 1 (log Z = 0).
 * What each sampler must do on each follows from its flags: the exact
 * samplers (NUTS, SMC) reproduce the moments within 5 Monte Carlo standard
 * errors, SMC also the mixture's weights and log Z; NUTS chains stay in the
 * mode they start in; in the funnel's neck both fall short, NUTS with
 * divergences, SMC silently (held to its known bias); the point and
 * Gaussian approximations (MAP, Laplace, ADVI) land on the mode with the
 * spread a Gaussian approximation has there, and Laplace's k-hat flags the
 * funnel.  Then the VEP (tests/vep_fixture.h)
 * through its target adaptor: every sampler through the table gives the
 * same bits as the direct call vbt fit makes, and the exact samplers agree
 * with the PSIS-weighted Laplace reference.  Deterministic seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_diagnostics.h"
#include "vbt_rng.h"
#include "vbt_sampler.h"
#include "vep_fixture.h"

#define LOG_2PI 1.8378770664093453

/* ---- the analytic targets ---------------------------------------------- */

/* Every analytic target has the prior N(0, PS^2 I) (wide enough to hold the
 * posterior's mass) and the likelihood logp - log prior. */
#define PS 5.0

typedef struct atarget {
    const char *name;
    size_t n;
    vbt_logp_fn logp;
} atarget;

static double prior_lp(size_t n, const double *th, double *g)
{
    double lp = -0.5 * (double)n * (LOG_2PI + 2.0 * log(PS));
    for (size_t i = 0; i < n; i++) {
        lp -= 0.5 * th[i] * th[i] / (PS * PS);
        if (g)
            g[i] = -th[i] / (PS * PS);
    }
    return lp;
}

/* gauss: Sigma = L L^T, mean MU */
static const double MU[3] = {1.2, -0.7, 2.385};
static const double LG[9] = {1.0, 0, 0, 0.45, 0.3, 0, -0.6, 0.5, 1.8};

static int gauss_logp(void *ctx, const double *th, double *lp, double *grad)
{
    (void)ctx;
    double w[3], u[3];
    for (size_t i = 0; i < 3; i++) { /* L w = th - mu */
        double s = th[i] - MU[i];
        for (size_t k = 0; k < i; k++)
            s -= LG[i * 3 + k] * w[k];
        w[i] = s / LG[i * 3 + i];
    }
    double ld = 0;
    for (size_t i = 0; i < 3; i++)
        ld += log(LG[i * 3 + i]);
    *lp = -0.5 * (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]) - 1.5 * LOG_2PI - ld;
    if (grad) { /* -Sigma^-1 (th - mu) = -L^-T w */
        for (size_t i = 3; i-- > 0;) {
            double s = w[i];
            for (size_t k = i + 1; k < 3; k++)
                s -= LG[k * 3 + i] * u[k];
            u[i] = s / LG[i * 3 + i];
        }
        for (size_t i = 0; i < 3; i++)
            grad[i] = -u[i];
    }
    return 0;
}

/* funnel: theta = (v, x1, x2) */
#define FUN_SD 3.0
static int funnel_logp(void *ctx, const double *th, double *lp, double *grad)
{
    (void)ctx;
    double v = th[0], e = exp(-th[0]), q = th[1] * th[1] + th[2] * th[2];
    *lp = -0.5 * v * v / (FUN_SD * FUN_SD) - log(FUN_SD) - 0.5 * LOG_2PI - 0.5 * q * e - v -
          LOG_2PI;
    if (grad) {
        grad[0] = -v / (FUN_SD * FUN_SD) + 0.5 * q * e - 1.0;
        grad[1] = -th[1] * e;
        grad[2] = -th[2] * e;
    }
    return 0;
}

/* mixture: W0 N(M0, MS^2 I) + (1 - W0) N(M1, MS^2 I) in 2-D */
#define W0 0.3
#define MS 0.7
static const double M0[2] = {-4.0, 1.0}, M1[2] = {4.0, -1.0};

static int mix_logp(void *ctx, const double *th, double *lp, double *grad)
{
    (void)ctx;
    double a0 = 0, a1 = 0;
    for (size_t i = 0; i < 2; i++) {
        a0 += (th[i] - M0[i]) * (th[i] - M0[i]);
        a1 += (th[i] - M1[i]) * (th[i] - M1[i]);
    }
    double l0 = log(W0) - 0.5 * a0 / (MS * MS), l1 = log(1 - W0) - 0.5 * a1 / (MS * MS);
    double mx = fmax(l0, l1), p0 = exp(l0 - mx), p1 = exp(l1 - mx), s = p0 + p1;
    *lp = mx + log(s) - LOG_2PI - 2.0 * log(MS);
    if (grad)
        for (size_t i = 0; i < 2; i++)
            grad[i] = -(p0 * (th[i] - M0[i]) + p1 * (th[i] - M1[i])) / (s * MS * MS);
    return 0;
}

/* The context of an analytic target is the target itself. */
static void a_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    const atarget *a = ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_normal(&r, th, a->n);
    for (size_t i = 0; i < a->n; i++)
        th[i] *= PS;
}

static double a_prior_grad(void *ctx, const double *th, double *g)
{
    const atarget *a = ctx;
    return prior_lp(a->n, th, g);
}

static double a_lik_grad(void *ctx, const double *th, double *g)
{
    const atarget *a = ctx;
    double lp, gp[8];
    if (a->logp(ctx, th, &lp, g) != 0 || !isfinite(lp))
        return -HUGE_VAL;
    double lq = prior_lp(a->n, th, gp);
    for (size_t i = 0; i < a->n; i++)
        g[i] -= gp[i];
    return lp - lq;
}

static const atarget T_GAUSS = {"gauss", 3, gauss_logp};
static const atarget T_FUNNEL = {"funnel", 3, funnel_logp};
static const atarget T_MIX = {"mixture", 2, mix_logp};

#define NCTX 8

static vbt_target make_target(const atarget *a, void **ctx)
{
    for (size_t k = 0; k < NCTX; k++)
        ctx[k] = (void *)a;
    return (vbt_target){.n = a->n, .logp = a->logp, .draw_prior = a_draw,
                        .log_prior_grad = a_prior_grad, .log_lik_grad = a_lik_grad,
                        .ctx = ctx, .n_ctx = NCTX};
}

/* The battery's options: 4 chains (NUTS) or 8 independent runs (SMC, so
 * that the spread of the runs' means gives the Monte Carlo error with 7
 * degrees of freedom) of 1000 draws, seed 2024. */
#ifndef BATTERY_SEED
#define BATTERY_SEED 2024 /* -DBATTERY_SEED=k to check the tolerances over other seeds */
#endif
static void battery_opts(const vbt_sampler_type *type, vbt_sampler_opts *o)
{
    vbt_sampler_opts_default(o);
    o->seed = BATTERY_SEED;
    o->n_draws = 1000;
    o->n_chains = strcmp(type->name, "smc") ? 4 : 8;
    o->nuts.warmup = 1000;
    o->nuts.adapt_delta = 0.95;
    o->map_starts = 8;
}

/* ---- shared checks ----------------------------------------------------- */

/* Shapes, finite draws, and lp = logp(draw) for every draw. */
static void check_result(const vbt_sampler_type *type, const vbt_target *t,
                         const vbt_sampler_result *r, const vbt_sampler_opts *o)
{
    size_t C = (type->flags & (VBT_SAMPLER_CHAINS | VBT_SAMPLER_EVIDENCE)) ? o->n_chains : 1;
    size_t D = (type->flags & VBT_SAMPLER_POINT) ? 1 : o->n_draws;
    assert_int_equal(r->n, t->n);
    assert_int_equal(r->n_chains, C);
    assert_int_equal(r->n_draws, D);
    assert_non_null(r->draws);
    assert_non_null(r->lp);
    assert_true((r->log_w != NULL) == ((type->flags & VBT_SAMPLER_WEIGHTED) != 0));
    assert_true((r->stats != NULL) == ((type->flags & VBT_SAMPLER_CHAINS) != 0));
    assert_true(isfinite(r->log_evidence) == ((type->flags & VBT_SAMPLER_EVIDENCE) != 0));
    double *g = malloc(t->n * sizeof *g);
    assert_non_null(g);
    for (size_t q = 0; q < C * D; q++) {
        double lp;
        for (size_t i = 0; i < t->n; i++)
            assert_true(isfinite(r->draws[q * t->n + i]));
        assert_int_equal(t->logp(t->ctx[0], r->draws + q * t->n, &lp, g), 0);
        /* SMC's lp is log prior + log lik: equal up to rounding */
        assert_true(fabs(r->lp[q] - lp) <= 1e-9 * (1.0 + fabs(lp)));
    }
    free(g);
}

/* Mean and sd of coordinate i, weighted by exp(log_w) when given. */
static void moments(const vbt_sampler_result *r, size_t i, double *mean, double *sd)
{
    size_t N = r->n_chains * r->n_draws;
    double s0 = 0, s1 = 0, s2 = 0;
    for (size_t q = 0; q < N; q++) {
        double w = r->log_w ? exp(r->log_w[q]) : 1.0, x = r->draws[q * r->n + i];
        s0 += w;
        s1 += w * x;
    }
    *mean = s1 / s0;
    for (size_t q = 0; q < N; q++) {
        double w = r->log_w ? exp(r->log_w[q]) : 1.0, x = r->draws[q * r->n + i] - *mean;
        s2 += w * x * x;
    }
    *sd = sqrt(s2 / s0);
}

/* Monte Carlo standard error of the mean of f(coordinate i) (f NULL: the
 * coordinate itself): NUTS from the chains' ESS (vbt_diag_param_compute);
 * SMC from the spread of the independent runs' means (their particles are
 * correlated within a run, through resampling). */
typedef double (*fn1)(double);
static double mcse(const vbt_sampler_type *type, const vbt_sampler_result *r, size_t i, fn1 f)
{
    size_t C = r->n_chains, D = r->n_draws;
    double *x = malloc(C * D * sizeof *x), out;
    assert_non_null(x);
    for (size_t q = 0; q < C * D; q++)
        x[q] = f ? f(r->draws[q * r->n + i]) : r->draws[q * r->n + i];
    if (type->flags & VBT_SAMPLER_CHAINS) {
        vbt_diag_param dp;
        assert_int_equal(vbt_diag_param_compute(x, C, D, &dp), VBT_OK);
        out = dp.mcse_mean;
    } else {
        double m[64], mm = 0, v = 0;
        assert_true(C >= 2 && C <= 64);
        for (size_t c = 0; c < C; c++) {
            m[c] = 0;
            for (size_t d = 0; d < D; d++)
                m[c] += x[c * D + d] / (double)D;
            mm += m[c] / (double)C;
        }
        for (size_t c = 0; c < C; c++)
            v += (m[c] - mm) * (m[c] - mm) / (double)(C - 1);
        out = sqrt(v / (double)C);
    }
    free(x);
    return out;
}

static double sq(double x) { return x * x; }

/* Divergent transitions an exact sampler reports: NUTS's post-warm-up
 * divergences, SMC's HMC moves with a non-finite or exploding energy. */
static size_t n_divergent(const vbt_sampler_result *r)
{
    size_t d = 0;
    for (size_t c = 0; c < r->n_chains; c++)
        d += r->info ? r->info[c].divergences : r->smc ? r->smc[c].n_divergent : 0;
    return d;
}

/* ---- the battery on each analytic target ------------------------------- */

static void run_one(const vbt_sampler_type *type, const vbt_target *t, vbt_sampler_opts *o,
                    vbt_sampler_result *r)
{
    vbt_msg msg;
    int st = vbt_sampler_run(type, t, o, r, &msg);
    if (st)
        fail_msg("%s: %s", type->name, msg.text);
    check_result(type, t, r, o);
}

static void test_gauss(void **state)
{
    (void)state;
    void *ctx[NCTX];
    vbt_target t = make_target(&T_GAUSS, ctx);
    /* exact covariance Sigma = L L^T and precision diagonal for ADVI */
    double sig[9] = {0}, prec_d[3];
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t k = 0; k < 3; k++)
                sig[i * 3 + j] += LG[i * 3 + k] * LG[j * 3 + k];
    {
        /* diagonal of Sigma^-1 by cofactors */
        double a = sig[0], b = sig[1], c = sig[2], d = sig[4], e = sig[5], f = sig[8];
        double det = a * (d * f - e * e) - b * (b * f - e * c) + c * (b * e - d * c);
        prec_d[0] = (d * f - e * e) / det;
        prec_d[1] = (a * f - c * c) / det;
        prec_d[2] = (a * d - b * b) / det;
    }
    for (size_t k = 0; vbt_sampler_types[k]; k++) {
        const vbt_sampler_type *type = vbt_sampler_types[k];
        vbt_sampler_opts o;
        battery_opts(type, &o);
        vbt_sampler_result r;
        run_one(type, &t, &o, &r);
        for (size_t i = 0; i < 3; i++) {
            double m, s, sd = sqrt(sig[i * 3 + i]);
            moments(&r, i, &m, &s);
            print_message("gauss %-8s x%zu: mean %.4f (%.4f) sd %.4f (%.4f)\n", type->name, i, m,
                          MU[i], s, sd);
            if (type->flags & VBT_SAMPLER_EXACT) {
                double se = mcse(type, &r, i, NULL);
                double se2 = mcse(type, &r, i, sq);
                print_message("   mcse %.4f, of x^2 %.4f\n", se, se2);
                assert_true(fabs(m - MU[i]) < 5 * se);
                /* the mean of x^2 (s is the sd with divisor N) against sd^2 + mu^2 */
                double m2 = s * s + m * m;
                assert_true(fabs(m2 - (sig[i * 3 + i] + MU[i] * MU[i])) < 5 * se2);
            } else if (type->flags & VBT_SAMPLER_POINT) {
                /* BFGS to |grad| 1e-8 on a unit-scale quadratic */
                assert_true(fabs(r.mode[i] - MU[i]) < 1e-6);
            } else if (type->flags & VBT_SAMPLER_WEIGHTED) {
                /* Laplace is exact here: weights ~ constant, k-hat low; the
                 * (weighted) mean within 5 sd / sqrt(D) of the truth */
                assert_true(fabs(r.mode[i] - MU[i]) < 1e-6);
                assert_true(fabs(m - MU[i]) < 5 * sd / sqrt((double)o.n_draws));
                assert_true(fabs(s / sd - 1) < 5 / sqrt(2.0 * (double)o.n_draws));
            } else {
                /* mean-field ADVI: the mean, and the sd 1 / sqrt(P_ii) of the
                 * exact mean-field optimum (narrower than the marginal) */
                double sd_mf = 1 / sqrt(prec_d[i]);
                assert_true(fabs(m - MU[i]) < 0.1 * sd);
                assert_true(fabs(s / sd_mf - 1) < 0.15);
            }
        }
        if (type->flags & VBT_SAMPLER_WEIGHTED)
            assert_true(r.khat < 0.5);
        if (type->flags & VBT_SAMPLER_EVIDENCE) {
            print_message("gauss smc: log Z %.4f (sd of runs %.4f) div %zu\n", r.log_evidence,
                          r.log_evidence_sd, n_divergent(&r));
            assert_true(fabs(r.log_evidence) < 5 * r.log_evidence_sd / sqrt((double)r.n_chains) +
                                                   0.02);
        }
        vbt_sampler_result_clear(&r);
    }
}

/* Funnel: the exact samplers should get v's N(0, 3^2) marginal (mean and
 * E[v^2] within 5 MCSE) but do not reach far into the neck (see below); the
 * mode is at x = 0, v = -9 (d/dv of -v^2/18 - v = 0),
 * where MAP lands; Laplace at that mode is far too narrow in v and PSIS
 * says so (k-hat > 0.7: unusable); ADVI fits a Gaussian whose spread in v is
 * well below 3. */
static void test_funnel(void **state)
{
    (void)state;
    void *ctx[NCTX];
    vbt_target t = make_target(&T_FUNNEL, ctx);
    for (size_t k = 0; vbt_sampler_types[k]; k++) {
        const vbt_sampler_type *type = vbt_sampler_types[k];
        vbt_sampler_opts o;
        battery_opts(type, &o);
        if (type->flags & VBT_SAMPLER_WEIGHTED)
            o.n_draws = 4000; /* k-hat from 1000 draws is itself too noisy (0.57 to 1.0
                                 over 12 seeds; from 4000, 0.75 to 1.13) */
        vbt_sampler_result r;
        run_one(type, &t, &o, &r);
        double m, s;
        moments(&r, 0, &m, &s);
        print_message("funnel %-8s v: mean %.4f sd %.4f", type->name, m, s);
        if (type->flags & VBT_SAMPLER_CHAINS) {
            size_t div = 0;
            for (size_t c = 0; c < r.n_chains; c++)
                div += r.info[c].divergences;
            print_message(" divergences %zu", div);
        }
        if (r.mode)
            print_message(" mode (%.4f, %.2g, %.2g)", r.mode[0], r.mode[1], r.mode[2]);
        if (type->flags & VBT_SAMPLER_WEIGHTED)
            print_message(" khat %.3f", r.khat);
        print_message("\n");
        if (type->flags & VBT_SAMPLER_EXACT) {
            double se = mcse(type, &r, 0, NULL), se2 = mcse(type, &r, 0, sq);
            print_message("   mcse %.4f, of v^2 %.4f\n", se, se2);
            int ok = fabs(m) < 5 * se && fabs(s * s + m * m - FUN_SD * FUN_SD) < 5 * se2;
            if (type->flags & VBT_SAMPLER_CHAINS) {
                /* NUTS in the centred funnel cannot follow the neck's
                 * curvature: it misses part of the neck (v's mean drifts up,
                 * its spread shrinks) and must say so by divergences */
                assert_true(ok || n_divergent(&r) > 0);
            } else {
                /* SMC's HMC moves, with one step size for all particles, do not
                 * reach far into the neck either, and nothing in its output
                 * says so (divergent moves are common on every target).  Over
                 * 12 seeds v's mean was 0.17 to 0.70, its sd 2.36 to 2.67;
                 * hold it to that known bias, which the truth (0, 3) also
                 * meets: |mean| < 1.2, sd in (2.0, 3.5). */
                assert_true(fabs(m) < 1.2 && s > 2.0 && s < 3.5);
            }
            /* either way, most of the funnel's range is explored */
            assert_true(s > 2.0);
        } else if (type->flags & VBT_SAMPLER_POINT) {
            assert_true(fabs(r.mode[0] + 9.0) < 1e-4);
        } else if (type->flags & VBT_SAMPLER_WEIGHTED) {
            assert_true(fabs(r.mode[0] + 9.0) < 1e-4);
            assert_true(r.khat > 0.7);
            assert_true(m < -3.0); /* the weighted mean of v is far from 0 (about -6) */
        } else {
            assert_true(isfinite(m) && s < 0.5 * FUN_SD);
        }
        vbt_sampler_result_clear(&r);
    }
}

/* Mixture: SMC finds both modes in their proportions (the fraction of
 * particles in the left mode within 5 MCSE of 0.3, MCSE from the runs) and
 * log Z = 0; each NUTS chain stays in the mode it started in (no draw on
 * the other side), so the chains' pool weighs the modes by the chains'
 * starts, not by their mass; MAP finds the heavier mode (its log density is
 * higher by log(0.7/0.3)); Laplace and ADVI describe that mode alone (mean
 * within 5 sd / sqrt(D) of it, sd MS), Laplace with low k-hat: the other
 * mode is invisible to importance weights from one Gaussian. */
static double left(double x) { return x < 0; }

static void test_mixture(void **state)
{
    (void)state;
    void *ctx[NCTX];
    vbt_target t = make_target(&T_MIX, ctx);
    for (size_t k = 0; vbt_sampler_types[k]; k++) {
        const vbt_sampler_type *type = vbt_sampler_types[k];
        vbt_sampler_opts o;
        battery_opts(type, &o);
        vbt_sampler_result r;
        run_one(type, &t, &o, &r);
        const size_t C = r.n_chains, D = r.n_draws;
        double m, s, fl = 0;
        moments(&r, 0, &m, &s);
        for (size_t q = 0; q < C * D; q++)
            fl += left(r.draws[q * 2]) / (double)(C * D);
        print_message("mixture %-8s x0: mean %.4f sd %.4f left %.4f\n", type->name, m, s, fl);
        if (type->flags & VBT_SAMPLER_CHAINS) {
            for (size_t c = 0; c < C; c++) {
                double fc = 0;
                for (size_t d = 0; d < D; d++)
                    fc += left(r.draws[(c * D + d) * 2]);
                assert_true(fc == 0 || fc == (double)D);
            }
        } else if (type->flags & VBT_SAMPLER_EXACT) {
            double se = mcse(type, &r, 0, left);
            print_message("   mcse of the left fraction %.4f, log Z %.4f (sd %.4f)\n", se,
                          r.log_evidence, r.log_evidence_sd);
            assert_true(fabs(fl - W0) < 5 * se);
            assert_true(fabs(r.log_evidence) < 5 * r.log_evidence_sd / sqrt((double)C) + 0.02);
        } else {
            for (size_t i = 0; i < 2; i++)
                assert_true(fabs(r.mode[i] - M1[i]) < 1e-4);
            if (!(type->flags & VBT_SAMPLER_POINT)) {
                assert_true(fl == 0);
                assert_true(fabs(m - M1[0]) < 5 * MS / sqrt((double)D));
                assert_true(fabs(s / MS - 1) < 0.15);
            }
            if (type->flags & VBT_SAMPLER_WEIGHTED)
                assert_true(r.khat < 0.5);
        }
        vbt_sampler_result_clear(&r);
    }
}

/* ---- the VEP through its target adaptor --------------------------------- */

static int vep_logp_cb(void *ctx, const double *th, double *lp, double *grad)
{
    return vbt_vep_logp(ctx, th, lp, grad);
}

#define VC 2  /* chains, runs and threads on the VEP */
#define VD 400

/* The options vbt fit would pass: seed 7, 2 chains of 400 draws after 400
 * warm-up iterations, 2 SMC runs of 256 particles with 5 moves, 4 MAP
 * starts, 2 threads. */
static void vep_opts(vbt_sampler_opts *o)
{
    vbt_sampler_opts_default(o);
    o->seed = 7;
    o->n_chains = VC;
    o->n_draws = VD;
    o->n_threads = VC;
    o->map_starts = 4;
    o->nuts.warmup = 400;
    o->smc.n_moves = 5;
}

/* What vbt fit's direct call gives (cli/cmd_fit.c run_map, run_laplace,
 * run_nuts, run_advi, run_smc) for the sampler called name, with the mode
 * map: draws (C x D x np) and the scalar results. */
static void vep_direct(const char *name, vbt_vep *m, vbt_vep *const *mc, const double *map,
                       const vbt_sampler_opts *o, double *draws, double *log_w, double *scal)
{
    const size_t np = vbt_vep_n_params(m);
    vbt_msg msg;
    if (!strcmp(name, "map")) {
        vbt_vep_map_opts mo;
        vbt_vep_map_opts_default(&mo);
        mo.n_starts = o->map_starts;
        mo.n_threads = o->n_threads;
        mo.seed = o->seed;
        vbt_vep_map_result mr;
        assert_int_equal(vbt_vep_map(m, &mo, draws, &mr, NULL, NULL, &msg), VBT_OK);
        scal[0] = mr.best_lp;
    } else if (!strcmp(name, "laplace")) {
        vbt_vep_laplace_result lr;
        assert_int_equal(vbt_vep_laplace(m, map, o->n_draws, o->seed, draws, log_w, &lr, &msg),
                         VBT_OK);
        scal[0] = lr.khat;
        scal[1] = lr.ess;
        scal[2] = lr.log_det_cov;
    } else if (!strcmp(name, "advi")) {
        vbt_advi_opts a = o->advi;
        a.seed = o->seed;
        double mu[16], sc[16];
        memcpy(mu, map, np * sizeof *mu);
        vbt_advi_result ar;
        assert_int_equal(vbt_advi(vep_logp_cb, m, np, &a, mu, sc, &ar, &msg), VBT_OK);
        vbt_advi_draw(np, a.family, mu, sc, o->n_draws, a.seed, 1, draws);
        scal[0] = ar.elbo;
    } else if (!strcmp(name, "smc")) {
        vbt_smc_opts so = o->smc;
        so.n_particles = o->n_draws;
        so.n_threads = o->n_threads;
        double lz[VC], lmax = -HUGE_VAL, se = 0;
        for (size_t r = 0; r < o->n_chains; r++) {
            so.seed = o->seed + ((uint64_t)r << 32);
            vbt_smc_result res;
            assert_int_equal(vbt_vep_smc(m, &so, draws + r * o->n_draws * np, &res, &msg), VBT_OK);
            lz[r] = res.log_evidence;
            lmax = fmax(lmax, lz[r]);
        }
        for (size_t r = 0; r < o->n_chains; r++)
            se += exp(lz[r] - lmax);
        scal[0] = lmax + log(se / (double)o->n_chains);
    } else {
        /* nuts from the MAP: Laplace metric, jittered starts */
        const size_t C = o->n_chains;
        double cov[16 * 16], inits[VC * 16];
        vbt_msg lm;
        int ok = vbt_nuts_laplace_cov(vep_logp_cb, m, np, map, 0, cov, &lm) == VBT_OK;
        assert_true(ok);
        for (size_t c = 0; c < C; c++)
            vbt_nuts_jitter(map, cov, np, o->seed, c, inits + c * np);
        vbt_nuts_run run = {.logp = vep_logp_cb, .ctx = (void *const *)mc, .n_params = np,
                            .n_chains = C, .n_threads = o->n_threads, .seed = o->seed,
                            .inits = inits, .inv_metric = cov, .inv_metric_full = 1};
        vbt_nuts_opts no = o->nuts;
        no.draws = o->n_draws;
        assert_int_equal(vbt_nuts_sample(&run, &no, draws, NULL, NULL, &msg), VBT_OK);
    }
}

/* Natural-unit moments of the draws of r (weighted when log_w is given). */
static void vep_moments(vbt_vep *m, const vbt_sampler_result *r, double *m1, double *m2)
{
    const size_t np = r->n, N = r->n_chains * r->n_draws;
    double nat[16], s0 = 0;
    for (size_t i = 0; i < np; i++)
        m1[i] = m2[i] = 0;
    for (size_t q = 0; q < N; q++) {
        double w = r->log_w ? exp(r->log_w[q]) : 1.0;
        vbt_vep_constrain(m, r->draws + q * np, nat);
        s0 += w;
        for (size_t i = 0; i < np; i++) {
            m1[i] += w * nat[i];
            m2[i] += w * nat[i] * nat[i];
        }
    }
    for (size_t i = 0; i < np; i++) {
        m1[i] /= s0;
        m2[i] /= s0;
    }
}

static void test_vep(void **state)
{
    (void)state;
    double yd[VF_NT * VF_NS], ym[VC][VF_NT * VF_NS];
    vbt_vep *m = vf_problem(-3.0, yd), *mc[VC];
    for (size_t c = 0; c < VC; c++)
        mc[c] = vf_problem(-3.0, ym[c]);
    const size_t np = vbt_vep_n_params(m);
    assert_true(np <= 16);
    vbt_msg msg;
    double map[16], lm[16], l2[16];
    vf_laplace_reference(m, map, lm, l2);
    vbt_vep_target *vt;
    assert_int_equal(vbt_vep_target_alloc(&vt, m, VC, NULL, &msg), VBT_OK);
    const vbt_target *t = vbt_vep_target_get(vt);
    assert_int_equal(t->n, np);
    assert_null(vbt_vep_target_map_result(vt, NULL, NULL, NULL));
    double *dd = malloc(VC * VD * np * sizeof *dd), lw[VD], scal[3] = {NAN, NAN, NAN};
    assert_non_null(dd);
    for (size_t k = 0; vbt_sampler_types[k]; k++) {
        const vbt_sampler_type *type = vbt_sampler_types[k];
        vbt_sampler_opts o;
        vep_opts(&o);
        if (!(type->flags & VBT_SAMPLER_POINT))
            o.mode = map; /* vbt fit's MAP stage comes first */
        vbt_sampler_result r;
        run_one(type, t, &o, &r);
        /* the same bits as the direct call */
        vep_direct(type->name, m, mc, map, &o, dd, lw, scal);
        size_t N = r.n_chains * r.n_draws;
        assert_memory_equal(r.draws, dd, N * np * sizeof *dd);
        if (!strcmp(type->name, "map")) {
            assert_true(r.mode_lp == scal[0]);
            const double *lps;
            size_t ns = 0;
            const vbt_vep_map_result *mr = vbt_vep_target_map_result(vt, &lps, NULL, &ns);
            assert_non_null(mr);
            assert_int_equal(ns, o.map_starts);
            assert_true(mr->best_lp == r.mode_lp && lps[mr->best_start] == r.mode_lp);
        } else if (type->flags & VBT_SAMPLER_WEIGHTED) {
            assert_memory_equal(r.log_w, lw, N * sizeof *lw);
            assert_true(r.khat == scal[0] && r.ess == scal[1] && r.log_det_cov == scal[2]);
        } else if (type->flags & VBT_SAMPLER_EVIDENCE) {
            assert_true(r.log_evidence == scal[0]);
        } else if (!(type->flags & VBT_SAMPLER_EXACT)) {
            assert_true(r.advi.elbo == scal[0]);
        }
        /* the exact samplers against the reference: within 5 MCSE of the
         * natural mean plus the PSIS reference's own error (~0.02 sd, test_smc.c) */
        if (type->flags & VBT_SAMPLER_EXACT) {
            double s1[16], s2[16];
            vep_moments(m, &r, s1, s2);
            for (size_t i = 0; i < np; i++) {
                double lsd = sqrt(l2[i] - lm[i] * lm[i]), ssd = sqrt(s2[i] - s1[i] * s1[i]);
                print_message("vep %-5s %-7s %.4f (sd %.4f)  reference %.4f (sd %.4f)\n",
                              type->name, vbt_vep_param_name(m, i), s1[i], ssd, lm[i], lsd);
                if (type->flags & VBT_SAMPLER_CHAINS) {
                    /* NUTS: 5 MCSE (from the chains' ESS) plus the reference's
                     * error; the sd within 20 % (about 5 times the relative error
                     * 1 / sqrt(2 ESS) of an sd from a few hundred effective draws) */
                    double *x = malloc(N * sizeof *x), nat[16];
                    assert_non_null(x);
                    for (size_t q = 0; q < N; q++) {
                        vbt_vep_constrain(m, r.draws + q * np, nat);
                        x[q] = nat[i];
                    }
                    vbt_diag_param dp;
                    assert_int_equal(vbt_diag_param_compute(x, r.n_chains, r.n_draws, &dp),
                                     VBT_OK);
                    free(x);
                    assert_true(fabs(s1[i] - lm[i]) < 5 * dp.mcse_mean + 0.02 * lsd);
                    assert_true(fabs(ssd / lsd - 1.0) < 0.2);
                    assert_true(dp.rhat < 1.05);
                } else {
                    /* SMC with these settings (test_smc.c, over 8 seeds): means
                     * spread by ~0.08 sd, sds by ~5 %; 2 pooled runs do better */
                    assert_true(fabs(s1[i] - lm[i]) < 0.25 * lsd);
                    assert_true(fabs(ssd / lsd - 1.0) < 0.2);
                }
            }
        }
        if (type->flags & VBT_SAMPLER_CHAINS) {
            /* the starts are those vbt_sampler_nuts_inits gives, the metric the
             * Laplace covariance */
            double inits[VC * 16], cov[16 * 16];
            int ok = 0;
            assert_int_equal(vbt_sampler_nuts_inits(t, &o, inits, cov, &ok, NULL, &msg), VBT_OK);
            assert_true(ok);
            assert_memory_equal(inits, r.inits, VC * np * sizeof *inits);
            assert_non_null(r.cov);
            assert_memory_equal(cov, r.cov, np * np * sizeof *cov);
        }
        vbt_sampler_result_clear(&r);
    }
    /* NUTS from the prior (vbt fit --init prior): starts of stream (seed,
     * 2^62 + c), adapted metric from the identity */
    {
        vbt_sampler_opts o;
        vep_opts(&o);
        o.n_draws = 50;
        o.nuts.warmup = 50;
        vbt_sampler_result r;
        run_one(vbt_sampler_nuts, t, &o, &r);
        assert_null(r.cov);
        double inits[VC * 16];
        for (size_t c = 0; c < VC; c++)
            vbt_vep_prior_draw(m, o.seed, ((uint64_t)1 << 62) + c, inits + c * np);
        vbt_nuts_run run = {.logp = vep_logp_cb, .ctx = (void *const *)mc, .n_params = np,
                            .n_chains = VC, .n_threads = 1, .seed = o.seed, .inits = inits,
                            .inv_metric_full = 1};
        vbt_nuts_opts no = o.nuts;
        no.draws = o.n_draws;
        assert_int_equal(vbt_nuts_sample(&run, &no, dd, NULL, NULL, &msg), VBT_OK);
        assert_memory_equal(r.draws, dd, VC * o.n_draws * np * sizeof *dd);
        assert_memory_equal(r.inits, inits, VC * np * sizeof *inits);
        vbt_sampler_result_clear(&r);
    }
    /* the mode search through the table without a mode: MAP's */
    {
        vbt_sampler_opts o;
        vep_opts(&o);
        o.n_draws = 20;
        o.seed = 1; /* vf_laplace_reference's MAP: 4 starts, seed 1 */
        vbt_sampler_result r;
        run_one(vbt_sampler_laplace, t, &o, &r);
        assert_memory_equal(r.mode, map, np * sizeof *map);
        vbt_sampler_result_clear(&r);
    }
    free(dd);
    vbt_vep_target_free(vt);
    for (size_t c = 0; c < VC; c++)
        vbt_vep_free(mc[c]);
    vbt_vep_free(m);
}


/* ---- the 18-region VEP ------------------------------------------------------
 * An 18-region network (weights decaying with index distance, high-entropy
 * factors), 10 sensors along the chain with a 1 / (1 + d^2) gain, 80 samples:
 * one EZ (region 4, x0 -1.6), two PZ (regions 5 and 11, x0 -2.5), the other
 * fifteen healthy at -3.4; data from the model plus N(0, 0.1^2) noise of stream
 * (29, 0); prior x0 ~ N(-3.4, 0.6), offsets free, the rest held.  Every sampler
 * of the table, run as vbt fit runs it (the MAP first for the others), must give
 * every region its true BVEP class (EZ x0 >= -2.05, PZ >= -3.05) by its
 * (weighted) posterior mean; the exact samplers must put the EZ's truth within
 * 4 posterior sd, and SMC and NUTS must agree on every x0 mean within 0.3 of
 * NUTS's posterior sd (SMC's spread with 5 moves, test_smc.c), and NUTS's
 * chains must agree (R-hat < 1.05, no divergence).  Mean-field ADVI gets the
 * classes but not the spread: its sds are about a quarter of NUTS's here. */
enum { V18_NR = 18, V18_NS = 18, V18_NT = 80, V18_NP = V18_NR + V18_NS };

static const double v18_x0[V18_NR] = {-3.6, -3.6, -3.6, -3.6, -1.6, -2.5, -3.6, -3.6, -3.6,
                                      -3.6, -3.6, -2.5, -3.6, -3.6, -3.6, -3.6, -3.6, -3.6};

static vbt_vep *v18_problem(double *y, double *W, double *G)
{
    for (size_t i = 0; i < V18_NR; i++)
        for (size_t j = 0; j < V18_NR; j++) {
            double d = fabs((double)i - (double)j);
            double f = 0.55 + 0.45 * fabs(sin(2.385 * (double)(i + j) + 0.7 * (double)(i * j)));
            W[i * V18_NR + j] = i == j ? 0.0 : f * exp(-d / 2.5);
        }
    for (size_t s = 0; s < V18_NS; s++)
        for (size_t i = 0; i < V18_NR; i++) {
            double d = (double)s + 0.3 - (double)i;
            G[s * V18_NR + i] = 1.0 / (1.0 + 3.0 * d * d);
        }
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = V18_NR;
    sp.n_sensors = V18_NS;
    sp.n_samples = V18_NT;
    sp.weights = W;
    sp.gain = G;
    sp.priors.x0 = (vbt_vep_group_prior){.mu = -3.6, .sd = 0.5};
    sp.priors.x_init = (vbt_vep_group_prior){.mu = -2.0, .sd = 1.0, .fixed = 1};
    sp.priors.z_init = (vbt_vep_group_prior){.mu = 4.0, .sd = 1.0, .fixed = 1};
    sp.priors.K.fixed = sp.priors.amp.fixed = sp.priors.eps.fixed = 1;
    sp.priors.K.value = sp.priors.amp.value = 1.0;
    sp.priors.eps.value = 0.1;
    vbt_vep *m;
    vbt_msg msg;
    if (vbt_vep_alloc(&m, &sp, &msg))
        fail_msg("%s", msg.text);
    double th[V18_NP], nat[V18_NP] = {0};
    memcpy(nat, v18_x0, sizeof v18_x0);
    assert_int_equal(vbt_vep_n_params(m), V18_NP);
    assert_int_equal(vbt_vep_unconstrain(m, nat, th), VBT_OK);
    assert_int_equal(vbt_vep_simulate(m, th, NULL, y), VBT_OK);
    vbt_rng r;
    vbt_rng_init(&r, 29, 0);
    double e[V18_NT * V18_NS];
    vbt_rng_normal(&r, e, V18_NT * V18_NS);
    for (size_t k = 0; k < V18_NT * V18_NS; k++)
        y[k] += 0.05 * e[k];
    vbt_vep_free(m);
    sp.data = y;
    if (vbt_vep_alloc(&m, &sp, &msg))
        fail_msg("%s", msg.text);
    return m;
}

/* Natural-unit mean and sd of parameter i over the (weighted) draws of r. */
static void v18_moment(vbt_vep *m, const vbt_sampler_result *r, size_t i, double *mean,
                       double *sd)
{
    const size_t N = r->n_chains * r->n_draws;
    double nat[V18_NP], s0 = 0, s1 = 0, s2 = 0;
    for (size_t q = 0; q < N; q++) {
        double w = r->log_w ? exp(r->log_w[q]) : 1.0;
        vbt_vep_constrain(m, r->draws + q * r->n, nat);
        s0 += w;
        s1 += w * nat[i];
        s2 += w * nat[i] * nat[i];
    }
    *mean = s1 / s0;
    *sd = sqrt(fmax(s2 / s0 - *mean * *mean, 0.0));
}

static void test_vep18(void **state)
{
    (void)state;
    static double y[V18_NT * V18_NS], W[V18_NR * V18_NR], G[V18_NS * V18_NR];
    vbt_vep *m = v18_problem(y, W, G);
    vbt_msg msg;
    vbt_vep_target *vt;
    assert_int_equal(vbt_vep_target_alloc(&vt, m, VC, NULL, &msg), VBT_OK);
    const vbt_target *t = vbt_vep_target_get(vt);
    double map[V18_NP], nuts_mean[V18_NR], nuts_sd[V18_NR];
    int have_nuts = 0;
    /* the registry's order puts map first, nuts before smc */
    for (size_t k = 0; vbt_sampler_types[k]; k++) {
        const vbt_sampler_type *type = vbt_sampler_types[k];
        vbt_sampler_opts o;
        vep_opts(&o);
        o.map_starts = 8;
        o.nuts.warmup = 300;
        o.n_draws = (type->flags & VBT_SAMPLER_CHAINS) ? 300 : 400;
        if (!(type->flags & VBT_SAMPLER_POINT))
            o.mode = map;
        vbt_sampler_result r;
        run_one(type, t, &o, &r);
        if (type->flags & VBT_SAMPLER_POINT)
            memcpy(map, r.mode, sizeof map);
        for (size_t i = 0; i < V18_NR; i++) {
            double mean, sd;
            v18_moment(m, &r, i, &mean, &sd);
            print_message("vep18 %-7s x0[%2zu] %7.3f (sd %.3f) truth %5.2f\n", type->name,
                          i + 1, mean, sd, v18_x0[i]);
            assert_int_equal(vbt_vep_x0_class(mean), vbt_vep_x0_class(v18_x0[i]));
            if ((type->flags & VBT_SAMPLER_EXACT) && v18_x0[i] > VBT_VEP_X0_EZ)
                assert_true(fabs(mean - v18_x0[i]) < 4 * sd);
            if (type->flags & VBT_SAMPLER_CHAINS) {
                nuts_mean[i] = mean;
                nuts_sd[i] = sd;
                /* the chains agree (rank-normalised split R-hat) */
                const size_t N = r.n_chains * r.n_draws;
                double *x = malloc(N * sizeof *x), nat[V18_NP];
                assert_non_null(x);
                for (size_t q = 0; q < N; q++) {
                    vbt_vep_constrain(m, r.draws + q * r.n, nat);
                    x[q] = nat[i];
                }
                vbt_diag_param dp;
                assert_int_equal(vbt_diag_param_compute(x, r.n_chains, r.n_draws, &dp), VBT_OK);
                free(x);
                assert_true(dp.rhat < 1.05);
            } else if ((type->flags & VBT_SAMPLER_EVIDENCE) && have_nuts) {
                assert_true(fabs(mean - nuts_mean[i]) < 0.3 * nuts_sd[i] + 0.01);
            }
        }
        if (type->flags & VBT_SAMPLER_CHAINS) {
            have_nuts = 1;
            assert_int_equal(n_divergent(&r), 0);
        }
        vbt_sampler_result_clear(&r);
    }
    assert_true(have_nuts);
    vbt_vep_target_free(vt);
    vbt_vep_free(m);
}

/* The registry, the look-up and every argument error of vbt_sampler_run. */
static void test_registry_errors(void **state)
{
    (void)state;
    size_t k = 0;
    for (; vbt_sampler_types[k]; k++) {
        const vbt_sampler_type *type = vbt_sampler_types[k];
        assert_ptr_equal(vbt_sampler_find(type->name), type);
        assert_non_null(type->description);
        assert_non_null(type->run);
        for (size_t j = 0; j < k; j++)
            assert_string_not_equal(vbt_sampler_types[j]->name, type->name);
    }
    assert_int_equal(k, 5);
    assert_ptr_equal(vbt_sampler_find("nuts"), vbt_sampler_nuts);
    assert_ptr_equal(vbt_sampler_find("map"), vbt_sampler_map);
    assert_ptr_equal(vbt_sampler_find("laplace"), vbt_sampler_laplace);
    assert_ptr_equal(vbt_sampler_find("advi"), vbt_sampler_advi);
    assert_ptr_equal(vbt_sampler_find("smc"), vbt_sampler_smc);
    assert_null(vbt_sampler_find("hmc"));
    assert_null(vbt_sampler_find(NULL));

    void *ctx[NCTX];
    vbt_target t = make_target(&T_GAUSS, ctx);
    vbt_sampler_opts o;
    vbt_sampler_opts_default(&o);
    vbt_sampler_result r;
    vbt_msg msg;
    assert_int_equal(vbt_sampler_run(NULL, &t, &o, &r, &msg), VBT_EINVAL);
    assert_int_equal(vbt_sampler_run(vbt_sampler_nuts, NULL, &o, &r, &msg), VBT_EINVAL);
    assert_int_equal(vbt_sampler_run(vbt_sampler_nuts, &t, NULL, &r, &msg), VBT_EINVAL);
    assert_int_equal(vbt_sampler_run(vbt_sampler_nuts, &t, &o, NULL, &msg), VBT_EINVAL);
    vbt_target bad = t;
    bad.n = 0;
    assert_int_equal(vbt_sampler_run(vbt_sampler_map, &bad, &o, &r, &msg), VBT_EINVAL);
    bad = t;
    bad.logp = NULL;
    assert_int_equal(vbt_sampler_run(vbt_sampler_map, &bad, &o, &r, &msg), VBT_EINVAL);
    bad = t;
    bad.n_ctx = 3; /* 4 chains */
    assert_int_equal(vbt_sampler_run(vbt_sampler_nuts, &bad, &o, &r, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "context"));
    bad.ctx = NULL;
    assert_int_equal(vbt_sampler_run(vbt_sampler_map, &bad, &o, &r, &msg), VBT_EINVAL);
    bad = t;
    bad.log_lik_grad = NULL; /* smc needs the split, the others do not */
    assert_int_equal(vbt_sampler_run(vbt_sampler_smc, &bad, &o, &r, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "log_lik_grad"));
    o.n_draws = 10;
    o.map_starts = 2;
    assert_int_equal(vbt_sampler_run(vbt_sampler_map, &bad, &o, &r, &msg), VBT_OK);
    vbt_sampler_result_clear(&r);
    o.n_draws = 0;
    assert_int_equal(vbt_sampler_run(vbt_sampler_laplace, &t, &o, &r, &msg), VBT_EINVAL);
    o.n_draws = 10;
    o.n_threads = NCTX + 1; /* smc's threads use the contexts */
    o.n_chains = 1;
    assert_int_equal(vbt_sampler_run(vbt_sampler_smc, &t, &o, &r, &msg), VBT_EINVAL);
    vbt_sampler_result_clear(&r);
    vbt_sampler_result_clear(NULL);
    /* a log density that is not finite at the given mode */
    o.n_threads = 1;
    double far[3] = {NAN, 0, 0};
    o.mode = far;
    assert_int_equal(vbt_sampler_run(vbt_sampler_advi, &t, &o, &r, &msg), VBT_ENUMERIC);
    vbt_sampler_result_clear(&r);

    /* the VEP adaptor */
    double yd[VF_NT * VF_NS];
    vbt_vep *m = vf_problem(-3.0, yd);
    vbt_vep_target *vt = (vbt_vep_target *)&msg;
    assert_int_equal(vbt_vep_target_alloc(&vt, m, 0, NULL, &msg), VBT_EINVAL);
    assert_null(vt);
    assert_int_equal(vbt_vep_target_alloc(&vt, NULL, 1, NULL, &msg), VBT_EINVAL);
    assert_int_equal(vbt_vep_target_alloc(NULL, m, 1, NULL, &msg), VBT_EINVAL);
    assert_null(vbt_vep_target_get(NULL));
    assert_null(vbt_vep_target_model(NULL, 0));
    assert_int_equal(vbt_vep_target_alloc(&vt, m, 2, NULL, &msg), VBT_OK);
    assert_non_null(vbt_vep_target_model(vt, 1));
    assert_null(vbt_vep_target_model(vt, 2));
    vbt_vep_target_free(vt);
    vbt_vep_target_free(NULL);
    vbt_vep_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gauss),
        cmocka_unit_test(test_funnel),
        cmocka_unit_test(test_mixture),
        cmocka_unit_test(test_vep),
        cmocka_unit_test(test_vep18),
        cmocka_unit_test(test_registry_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
