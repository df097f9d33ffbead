/* test_smc.c -- SMC against known answers: a conjugate Gaussian (posterior
 * moments and log marginal likelihood in closed form), a bimodal likelihood
 * (both modes found in their true proportions, evidence known), bitwise
 * independence of the thread count, and argument errors; the same with HMC
 * moves on a correlated Gaussian-linear model (posterior and log Z in closed
 * form) and a symmetric two-mode target that HMC alone cannot cross. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_rng.h"
#include "vbt_smc.h"
#include "vep_fixture.h"

/* theta ~ N(0, S0^2 I_2); y | theta ~ N(theta, S^2 I_2). */
#define S0 3.0
#define S 0.1
static const double Y[2] = {1.2, -0.8};

static void g_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    (void)ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_normal(&r, th, 2);
    th[0] *= S0;
    th[1] *= S0;
}

static double g_prior(void *ctx, const double *th)
{
    (void)ctx;
    return -0.5 * (th[0] * th[0] + th[1] * th[1]) / (S0 * S0) - log(2 * M_PI * S0 * S0);
}

static double g_lik(void *ctx, const double *th)
{
    (void)ctx;
    double a = th[0] - Y[0], b = th[1] - Y[1];
    return -0.5 * (a * a + b * b) / (S * S) - log(2 * M_PI * S * S);
}

static const vbt_smc_model gauss = {.n = 2, .draw_prior = g_draw, .log_prior = g_prior,
                                    .log_lik = g_lik};

static void test_conjugate(void **state)
{
    (void)state;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 2000;
    o.seed = 11;
    double *p = malloc(o.n_particles * 2 * sizeof *p);
    vbt_smc_result res;
    vbt_msg msg;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, p, &res, &msg), VBT_OK);
    const double v = S0 * S0 + S * S, pm = S0 * S0 / v, psd = sqrt(S0 * S0 * S * S / v);
    const double logz = -0.5 * (Y[0] * Y[0] + Y[1] * Y[1]) / v - log(2 * M_PI * v);
    double m[2] = {0, 0}, q[2] = {0, 0};
    for (size_t i = 0; i < o.n_particles; i++)
        for (int d = 0; d < 2; d++)
            m[d] += p[2 * i + d];
    for (int d = 0; d < 2; d++)
        m[d] /= (double)o.n_particles;
    for (size_t i = 0; i < o.n_particles; i++)
        for (int d = 0; d < 2; d++)
            q[d] += (p[2 * i + d] - m[d]) * (p[2 * i + d] - m[d]);
    for (int d = 0; d < 2; d++)
        q[d] = sqrt(q[d] / (double)(o.n_particles - 1));
    print_message("conjugate: %zu steps, accept %.2f, mean (%.4f, %.4f) vs (%.4f, %.4f), "
                  "sd (%.4f, %.4f) vs %.4f, log Z %.4f vs %.4f\n", res.n_steps, res.accept_rate,
                  m[0], m[1], pm * Y[0], pm * Y[1], q[0], q[1], psd, res.log_evidence, logz);
    /* The prior is 30x wider than the posterior: several tempering steps. */
    assert_true(res.n_steps >= 3);
    /* Posterior mean: Monte Carlo error psd / sqrt(ESS) ~ 0.003; allow 0.02.
     * Sds within 10 %.  log Z: SMC's error is O(steps / N), well under 0.2. */
    for (int d = 0; d < 2; d++) {
        assert_close(m[d], pm * Y[d], 0.02);
        assert_true(fabs(q[d] / psd - 1) < 0.10);
    }
    assert_close(res.log_evidence, logz, 0.2);
    free(p);
}

/* Uniform prior on [-5, 5]; likelihood 0.3 N(-2, 0.2^2) + 0.7 N(2, 0.2^2):
 * the posterior has two well separated modes and log Z = log(1 / 10). */
static void u_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    (void)ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_uniform(&r, th, 1);
    th[0] = -5.0 + 10.0 * th[0];
}

static double u_prior(void *ctx, const double *th)
{
    (void)ctx;
    return fabs(th[0]) <= 5.0 ? -log(10.0) : -HUGE_VAL;
}

static double u_lik(void *ctx, const double *th)
{
    (void)ctx;
    const double s = 0.2, c = -log(sqrt(2 * M_PI) * s);
    double a = th[0] + 2.0, b = th[0] - 2.0;
    return log(0.3 * exp(c - 0.5 * a * a / (s * s)) + 0.7 * exp(c - 0.5 * b * b / (s * s)));
}

static const vbt_smc_model bimodal = {.n = 1, .draw_prior = u_draw, .log_prior = u_prior,
                                      .log_lik = u_lik};

static void test_bimodal(void **state)
{
    (void)state;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 2000;
    o.seed = 5;
    double *p = malloc(o.n_particles * sizeof *p);
    vbt_smc_result res;
    assert_int_equal(vbt_smc(&bimodal, NULL, &o, p, &res, NULL), VBT_OK);
    size_t right = 0;
    for (size_t i = 0; i < o.n_particles; i++)
        right += p[i] > 0;
    double frac = (double)right / (double)o.n_particles;
    print_message("bimodal: %.3f of particles in the right mode (0.7), log Z %.4f vs %.4f\n", frac,
                  res.log_evidence, -log(10.0));
    /* Resampling noise on a proportion with ESS >= 1000: sd ~ 0.015; 0.06 is 4 sd.
     * log Z: over 12 seeds the error has sd ~ 0.03; 0.1 is 3 sd. */
    assert_close(frac, 0.7, 0.06);
    assert_close(res.log_evidence, -log(10.0), 0.1);
    free(p);
}

static void test_threads(void **state)
{
    (void)state;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 256;
    o.seed = 2;
    double *a = malloc(o.n_particles * 2 * sizeof *a), *b = malloc(o.n_particles * 2 * sizeof *b);
    vbt_smc_result ra, rb;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, a, &ra, NULL), VBT_OK);
    o.n_threads = 3;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, b, &rb, NULL), VBT_OK);
    assert_memory_equal(a, b, o.n_particles * 2 * sizeof *a);
    assert_true(ra.log_evidence == rb.log_evidence);
    free(a);
    free(b);
}

/* ---- HMC moves ------------------------------------------------------------ */

/* Gaussian linear model: theta ~ N(0, LS0^2 I_P), y = A theta + N(0, LS^2 I_M)
 * with a dense A: the posterior is a correlated Gaussian and
 * y ~ N(0, LS0^2 A A' + LS^2 I) gives log Z in closed form. */
enum { LP = 6, LM = 9 };
#define LS0 2.0
#define LS 0.3

typedef struct linear {
    double A[LM * LP], y[LM];
} linear;

static linear LIN;

static void lin_setup(void)
{
    for (size_t i = 0; i < LM; i++) {
        for (size_t j = 0; j < LP; j++)
            LIN.A[i * LP + j] = sin(2.385 * (double)(i * LP + j + 1)) + (i % LP == j ? 1.0 : 0.0);
        LIN.y[i] = 1.7 * cos(1.31 * (double)i) - 0.4;
    }
}

static void lin_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    (void)ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_normal(&r, th, LP);
    for (size_t j = 0; j < LP; j++)
        th[j] *= LS0;
}

static double lin_prior_grad(void *ctx, const double *th, double *g)
{
    (void)ctx;
    double q = 0.0;
    for (size_t j = 0; j < LP; j++) {
        q += th[j] * th[j];
        if (g)
            g[j] = -th[j] / (LS0 * LS0);
    }
    return -0.5 * q / (LS0 * LS0) - 0.5 * LP * log(2 * M_PI * LS0 * LS0);
}

static double lin_lik_grad(void *ctx, const double *th, double *g)
{
    (void)ctx;
    double q = 0.0;
    if (g)
        memset(g, 0, LP * sizeof *g);
    for (size_t i = 0; i < LM; i++) {
        double r = LIN.y[i];
        for (size_t j = 0; j < LP; j++)
            r -= LIN.A[i * LP + j] * th[j];
        q += r * r;
        if (g)
            for (size_t j = 0; j < LP; j++)
                g[j] += LIN.A[i * LP + j] * r / (LS * LS);
    }
    return -0.5 * q / (LS * LS) - 0.5 * LM * log(2 * M_PI * LS * LS);
}

static double lin_prior(void *ctx, const double *th) { return lin_prior_grad(ctx, th, NULL); }
static double lin_lik(void *ctx, const double *th) { return lin_lik_grad(ctx, th, NULL); }

static const vbt_smc_model lin_model = {.n = LP, .draw_prior = lin_draw, .log_prior = lin_prior,
                                        .log_lik = lin_lik, .log_prior_grad = lin_prior_grad,
                                        .log_lik_grad = lin_lik_grad};

/* In-place lower Cholesky of the k x k matrix M_; returns log det M_. */
static double chol(double *M_, size_t k)
{
    double ld = 0.0;
    for (size_t j = 0; j < k; j++) {
        double d = M_[j * k + j];
        for (size_t l = 0; l < j; l++)
            d -= M_[j * k + l] * M_[j * k + l];
        assert_true(d > 0);
        M_[j * k + j] = sqrt(d);
        ld += log(d);
        for (size_t i = j + 1; i < k; i++) {
            double v = M_[i * k + j];
            for (size_t l = 0; l < j; l++)
                v -= M_[i * k + l] * M_[j * k + l];
            M_[i * k + j] = v / M_[j * k + j];
        }
    }
    return ld;
}

/* x = S^-1 b with S = L L' factored by chol(). */
static void chol_solve(const double *L, size_t k, const double *b, double *x)
{
    for (size_t i = 0; i < k; i++) {
        double v = b[i];
        for (size_t l = 0; l < i; l++)
            v -= L[i * k + l] * x[l];
        x[i] = v / L[i * k + i];
    }
    for (size_t i = k; i-- > 0;) {
        double v = x[i];
        for (size_t l = i + 1; l < k; l++)
            v -= L[l * k + i] * x[l];
        x[i] = v / L[i * k + i];
    }
}

/* The exact posterior mean, variances and log evidence of LIN. */
static void lin_exact(double *mean, double *var, double *logz)
{
    double P[LP * LP], b[LP], e[LP], col[LP], Sig[LM * LM], w[LM];
    for (size_t a = 0; a < LP; a++) {
        b[a] = 0.0;
        for (size_t i = 0; i < LM; i++)
            b[a] += LIN.A[i * LP + a] * LIN.y[i] / (LS * LS);
        for (size_t c = 0; c < LP; c++) {
            double v = a == c ? 1.0 / (LS0 * LS0) : 0.0;
            for (size_t i = 0; i < LM; i++)
                v += LIN.A[i * LP + a] * LIN.A[i * LP + c] / (LS * LS);
            P[a * LP + c] = v;
        }
    }
    chol(P, LP);
    chol_solve(P, LP, b, mean);
    for (size_t a = 0; a < LP; a++) {
        for (size_t c = 0; c < LP; c++)
            e[c] = a == c;
        chol_solve(P, LP, e, col);
        var[a] = col[a];
    }
    for (size_t i = 0; i < LM; i++)
        for (size_t k = 0; k < LM; k++) {
            double v = i == k ? LS * LS : 0.0;
            for (size_t j = 0; j < LP; j++)
                v += LS0 * LS0 * LIN.A[i * LP + j] * LIN.A[k * LP + j];
            Sig[i * LM + k] = v;
        }
    double ld = chol(Sig, LM), q = 0.0;
    chol_solve(Sig, LM, LIN.y, w);
    for (size_t i = 0; i < LM; i++)
        q += LIN.y[i] * w[i];
    *logz = -0.5 * q - 0.5 * ld - 0.5 * LM * log(2 * M_PI);
}

static void moments(const double *p, size_t N, size_t n, double *m, double *v)
{
    for (size_t d = 0; d < n; d++) {
        m[d] = v[d] = 0.0;
        for (size_t i = 0; i < N; i++)
            m[d] += p[i * n + d] / (double)N;
        for (size_t i = 0; i < N; i++)
            v[d] += (p[i * n + d] - m[d]) * (p[i * n + d] - m[d]) / (double)(N - 1);
    }
}

static int run_linear(uint64_t seed, size_t N, double *p, vbt_smc_result *res)
{
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = N;
    o.n_moves = 5;
    o.seed = seed;
    return vbt_smc(&lin_model, NULL, &o, p, res, NULL);
}

static void test_hmc_linear(void **state)
{
    (void)state;
    lin_setup();
    double em[LP], ev[LP], logz, m[LP], v[LP];
    lin_exact(em, ev, &logz);
    const size_t N = 1000;
    double *p = malloc(N * LP * sizeof *p);
    vbt_smc_result res;
    assert_int_equal(run_linear(3, N, p, &res), VBT_OK);
    moments(p, N, LP, m, v);
    print_message("linear HMC: %zu steps, accept %.2f (last %.2f), step size %.3f, %zu "
                  "divergent, %zu gradients, log Z %.4f vs %.4f\n", res.n_steps, res.mean_accept,
                  res.accept_rate, res.step_size, res.n_divergent, res.n_grad, res.log_evidence,
                  logz);
    for (size_t d = 0; d < LP; d++) {
        print_message("  theta[%zu] mean %.4f vs %.4f, sd %.4f vs %.4f\n", d, m[d], em[d],
                      sqrt(v[d]), sqrt(ev[d]));
        /* Over 20 seeds (120 means and sds) the worst mean error was 0.08
         * posterior sd and the worst relative sd error 0.08, as expected from
         * ~300 effective draws; 0.15 leaves room for this seed. */
        assert_true(fabs(m[d] - em[d]) < 0.15 * sqrt(ev[d]));
        assert_true(fabs(sqrt(v[d] / ev[d]) - 1.0) < 0.15);
    }
    assert_true(res.n_steps >= 3);
    assert_true(res.accept_rate > 0.5 && res.accept_rate < 0.95);
    /* log Z over 20 seeds: error mean -0.001, sd 0.09; 0.3 is 3.3 sd. */
    assert_close(res.log_evidence, logz, 0.3);
    free(p);
}

/* A symmetric bimodal target for HMC moves, which cannot cross between the
 * modes themselves: prior N(0, 4^2 I_2), likelihood the mixture
 * 0.5 N((-3, 0.5), 0.3^2 I) + 0.5 N((3, 0.5), 0.3^2 I) as a function of
 * theta.  By symmetry each mode holds half the posterior mass; log Z =
 * log N((3, 0.5); 0, (16 + 0.09) I). */
#define MB 3.0
#define MS 0.3
static void mix_draw(void *ctx, uint64_t seed, uint64_t stream, double *th)
{
    (void)ctx;
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    vbt_rng_normal(&r, th, 2);
    th[0] *= 4.0;
    th[1] *= 4.0;
}

static double mix_prior_grad(void *ctx, const double *th, double *g)
{
    (void)ctx;
    if (g) {
        g[0] = -th[0] / 16.0;
        g[1] = -th[1] / 16.0;
    }
    return -0.5 * (th[0] * th[0] + th[1] * th[1]) / 16.0 - log(2 * M_PI * 16.0);
}

static double mix_lik_grad(void *ctx, const double *th, double *g)
{
    (void)ctx;
    const double c = -log(2 * M_PI * MS * MS), b = th[1] - 0.5;
    double la = c - 0.5 * ((th[0] + MB) * (th[0] + MB) + b * b) / (MS * MS);
    double lb = c - 0.5 * ((th[0] - MB) * (th[0] - MB) + b * b) / (MS * MS);
    double mx = fmax(la, lb), wa = exp(la - mx), wb = exp(lb - mx);
    if (g) {
        double pa = wa / (wa + wb), pb = 1.0 - pa;
        g[0] = (-pa * (th[0] + MB) - pb * (th[0] - MB)) / (MS * MS);
        g[1] = -b / (MS * MS);
    }
    return log(0.5) + mx + log(wa + wb);
}

static double mix_prior(void *ctx, const double *th) { return mix_prior_grad(ctx, th, NULL); }
static double mix_lik(void *ctx, const double *th) { return mix_lik_grad(ctx, th, NULL); }

static const vbt_smc_model mix_model = {.n = 2, .draw_prior = mix_draw, .log_prior = mix_prior,
                                        .log_lik = mix_lik, .log_prior_grad = mix_prior_grad,
                                        .log_lik_grad = mix_lik_grad};

static int run_mix(uint64_t seed, size_t N, double *p, vbt_smc_result *res)
{
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = N;
    o.n_moves = 5;
    o.seed = seed;
    return vbt_smc(&mix_model, NULL, &o, p, res, NULL);
}

static void test_hmc_bimodal(void **state)
{
    (void)state;
    const size_t N = 1000;
    double *p = malloc(N * 2 * sizeof *p);
    vbt_smc_result res;
    assert_int_equal(run_mix(7, N, p, &res), VBT_OK);
    size_t right = 0;
    for (size_t i = 0; i < N; i++)
        right += p[2 * i] > 0;
    double frac = (double)right / (double)N;
    const double v = 16.0 + MS * MS;
    const double logz = -0.5 * (MB * MB + 0.25) / v - log(2 * M_PI * v);
    print_message("bimodal HMC: %zu steps, accept %.2f, %.3f of particles in the right mode "
                  "(0.5), log Z %.4f vs %.4f\n", res.n_steps, res.mean_accept, frac,
                  res.log_evidence, logz);
    /* Over 40 seeds the fraction had mean 0.501 and sd 0.029 (binomial alone
     * would give 0.016; the reweighting steps with ESS >= 500 add the rest),
     * log Z an error of mean 0.008 and sd 0.058: 0.1 and 0.2 are 3.4 sd. */
    assert_close(frac, 0.5, 0.1);
    assert_close(res.log_evidence, logz, 0.2);
    free(p);
}

static void test_hmc_threads(void **state)
{
    (void)state;
    lin_setup();
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 128;
    o.n_moves = 3;
    o.seed = 4;
    double temps[1000];
    o.temperatures = temps;
    double *a = malloc(o.n_particles * LP * sizeof *a), *b = malloc(o.n_particles * LP * sizeof *b);
    vbt_smc_result ra, rb;
    assert_int_equal(vbt_smc(&lin_model, NULL, &o, a, &ra, NULL), VBT_OK);
    assert_true(temps[ra.n_steps - 1] == 1.0);
    for (size_t k = 1; k < ra.n_steps; k++)
        assert_true(temps[k] > temps[k - 1]);
    o.n_threads = 3;
    assert_int_equal(vbt_smc(&lin_model, NULL, &o, b, &rb, NULL), VBT_OK);
    assert_memory_equal(a, b, o.n_particles * LP * sizeof *a);
    assert_true(ra.log_evidence == rb.log_evidence);
    assert_true(ra.step_size == rb.step_size);
    assert_int_equal(ra.n_grad, rb.n_grad);
    free(a);
    free(b);
}

/* ---- the VEP adapter -------------------------------------------------------- */

/* The near-Gaussian VEP posterior of test_advi.c: 3 healthy regions (x0
 * -2.8, -3.2, -3.0) relaxing from the fixed initial state (-2, 4), seen by 4
 * sensors for 60 samples; free x0 (prior N(-3, 0.5)) and 4 offsets.  SMC's
 * posterior means agree with the Laplace approximation with PSIS weights
 * (k-hat < 0.5 there), the particles do not depend on the thread count, and
 * the log evidence is ranked correctly against a prior centred far from the
 * truth. */
static void test_vep_smc(void **state)
{
    (void)state;
    double yd[VF_NT * VF_NS];
    vbt_vep *m = vf_problem(-3.0, yd);
    vbt_msg msg;
    const size_t np = vbt_vep_n_params(m);
    assert_int_equal(np, VF_NR + VF_NS);
    /* the reference: Laplace at the MAP with PSIS weights */
    double map[VF_NR + VF_NS], lm[VF_NR + VF_NS], lv[VF_NR + VF_NS];
    vf_laplace_reference(m, map, lm, lv);
    /* SMC on 1 and on 2 threads */
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 256;
    o.n_moves = 5;
    o.seed = 3;
    const size_t N = o.n_particles;
    double *a = malloc(N * np * sizeof *a), *b = malloc(N * np * sizeof *b);
    double *x = malloc(N * np * sizeof *x);
    vbt_smc_result ra, rb;
    if (vbt_vep_smc(m, &o, a, &ra, &msg))
        fail_msg("%s", msg.text);
    o.n_threads = 2;
    if (vbt_vep_smc(m, &o, b, &rb, &msg))
        fail_msg("%s", msg.text);
    assert_memory_equal(a, b, N * np * sizeof *a);
    assert_true(ra.log_evidence == rb.log_evidence);
    for (size_t k = 0; k < N; k++)
        vbt_vep_constrain(m, a + k * np, x + k * np);
    double sm[VF_NR + VF_NS], sv[VF_NR + VF_NS];
    moments(x, N, np, sm, sv);
    print_message("VEP SMC: %zu steps, accept %.2f, step size %.3f, %zu divergent, %zu "
                  "gradients, log Z %.3f\n", ra.n_steps, ra.mean_accept, ra.step_size,
                  ra.n_divergent, ra.n_grad, ra.log_evidence);
    for (size_t i = 0; i < np; i++) {
        double lsd = sqrt(lv[i] - lm[i] * lm[i]);
        print_message("  %-7s SMC %.4f (sd %.4f)  Laplace+PSIS %.4f (sd %.4f)\n",
                      vbt_vep_param_name(m, i), sm[i], sqrt(sv[i]), lm[i], lsd);
        /* Over 8 seeds SMC's x0 means spread by ~0.08 posterior sd and its
         * sds by ~5 %; the PSIS estimate's error is ~0.02 sd: 0.25 sd and 20 %
         * are about 3 combined errors. */
        assert_true(fabs(sm[i] - lm[i]) < 0.25 * lsd);
        assert_true(fabs(sqrt(sv[i]) / lsd - 1.0) < 0.2);
    }
    /* hypothesis ranking: the same data under a prior centred far from the
     * truth (x0 ~ N(-1.5, 0.5), an epileptogenic hypothesis) is less likely */
    double y2[VF_NT * VF_NS];
    vbt_vep *far = vf_problem(-1.5, y2);
    assert_memory_equal(yd, y2, sizeof yd);
    vbt_smc_result rf;
    o.n_threads = 1;
    if (vbt_vep_smc(far, &o, b, &rf, &msg))
        fail_msg("%s", msg.text);
    print_message("  log Z: prior N(-3, 0.5) %.3f, prior N(-1.5, 0.5) %.3f\n", ra.log_evidence,
                  rf.log_evidence);
    assert_true(isfinite(rf.log_evidence));
    /* log Z varies by ~0.2 over seeds; the measured gap is ~13 */
    assert_true(ra.log_evidence > rf.log_evidence + 5.0);
    /* errors: no data */
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    static const double W1[1] = {0}, G1[1] = {1};
    sp.n_regions = sp.n_sensors = 1;
    sp.n_samples = 4;
    sp.weights = W1;
    sp.gain = G1;
    vbt_vep *nod;
    assert_int_equal(vbt_vep_alloc(&nod, &sp, &msg), VBT_OK);
    assert_int_equal(vbt_vep_smc(nod, &o, b, &rf, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "data"));
    assert_int_equal(vbt_vep_smc(NULL, &o, b, &rf, &msg), VBT_EINVAL);
    vbt_vep_free(nod);
    vbt_vep_free(far);
    vbt_vep_free(m);
    free(a);
    free(b);
    free(x);
}

static double nan_lik(void *ctx, const double *th)
{
    (void)ctx;
    (void)th;
    return -HUGE_VAL;
}

static void test_errors(void **state)
{
    (void)state;
    double p[16 * LP];
    vbt_smc_result res;
    vbt_msg msg;
    vbt_smc_opts o;
    vbt_smc_opts_default(&o);
    o.n_particles = 4;
    assert_int_equal(vbt_smc(&gauss, NULL, &o, p, &res, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "particles"));
    o.n_particles = 16;
    vbt_smc_model bad = gauss;
    bad.log_lik = nan_lik;
    assert_int_equal(vbt_smc(&bad, NULL, &o, p, &res, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "not finite"));
    o.max_steps = 1;    /* the conjugate problem needs ~6 steps */
    assert_int_equal(vbt_smc(&gauss, NULL, &o, p, &res, &msg), VBT_ENUMERIC);
    assert_non_null(strstr(msg.text, "max_steps"));
    bad.log_lik = NULL;
    assert_int_equal(vbt_smc(&bad, NULL, &o, p, &res, &msg), VBT_EINVAL);
    /* one gradient without the other; HMC options out of range */
    vbt_smc_model half = lin_model;
    half.log_lik_grad = NULL;
    assert_int_equal(vbt_smc(&half, NULL, &o, p, &res, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "gradients"));
    o.max_steps = 100;
    o.n_leapfrog = 0;
    assert_int_equal(vbt_smc(&lin_model, NULL, &o, p, &res, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "leapfrog"));
    o.n_leapfrog = 10;
    o.accept_target = 1.0;
    assert_int_equal(vbt_smc(&lin_model, NULL, &o, p, &res, &msg), VBT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conjugate),
        cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_hmc_linear),
        cmocka_unit_test(test_hmc_bimodal),
        cmocka_unit_test(test_hmc_threads),
        cmocka_unit_test(test_vep_smc),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
