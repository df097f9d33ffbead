/* test_vep.c -- fitting/vbt_vep.h: the BVEP model's log posterior against a
 * naive independent implementation, its adjoint gradient against central
 * finite differences for every scheme x observation model x steps per
 * sample, the trajectory at network sizes around the coupling product's
 * blocks (1 to 100 regions), vbt_vep_logp_batch byte for byte against lone
 * calls, the transforms' log-Jacobians, MAP recovery of a synthetic EZ,
 * reproducibility across thread counts, PSIS k-hat on known tails, the
 * Laplace approximation, the JSON prior file and the error paths. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>

#include "test_util.h"

#include "vbt.h"
#include "vbt_vep.h"

#define NR 8   /* regions */
#define NS 10  /* sensors */
#define NT 160 /* samples: two seizures of the EZ at tau0 = 10 */

typedef struct fixture {
    double W[NR * NR];      /* first NR regions of the Desikan 84 connectome */
    double G[NS * NR];      /* random positive gain */
    double Y[NT * NS];
    char labels[NR][VBT_LABEL_MAX];
} fixture;

static fixture FX;

static void load_fixture(void)
{
    static int done;
    if (done)
        return;
    vbt_connectome *c = NULL;
    vbt_msg msg;
    int st = vbt_connectome_load(&c, tu_path(tu_samples_dir(), "connectivity_84_desikan.zip"), &msg);
    if (st)
        fail_msg("%s", msg.text);
    for (size_t i = 0; i < NR; i++) {
        for (size_t j = 0; j < NR; j++)
            FX.W[i * NR + j] = c->weights[i * c->n + j];
        memcpy(FX.labels[i], c->labels[i], VBT_LABEL_MAX);
    }
    vbt_connectome_free(c);
    vbt_rng r;
    vbt_rng_init(&r, 2385, 7);
    vbt_rng_uniform(&r, FX.G, NS * NR);
    for (size_t k = 0; k < NS * NR; k++)
        FX.G[k] = 0.02 + FX.G[k] * FX.G[k]; /* skewed, like inverse-square gains */
    done = 1;
}

/* Natural values by name. */
static void set_nat(const vbt_vep *m, double *nat, const char *name, double v)
{
    long i = vbt_vep_param_index(m, name);
    if (i >= 0)
        nat[i] = v;
}

/* Ground truth: EZ = regions 2 and 5 (0-based) at -1.6, others -2.4. */
static void truth_nat(const vbt_vep *m, double *nat)
{
    char nm[32];
    for (size_t i = 0; i < NR; i++) {
        snprintf(nm, sizeof nm, "x0[%zu]", i + 1);
        set_nat(m, nat, nm, (i == 2 || i == 5) ? -1.6 : -2.4);
        snprintf(nm, sizeof nm, "x_init[%zu]", i + 1);
        set_nat(m, nat, nm, -2.1 + 0.03 * (double)i);
        snprintf(nm, sizeof nm, "z_init[%zu]", i + 1);
        set_nat(m, nat, nm, 3.6 + 0.02 * (double)i);
    }
    set_nat(m, nat, "K", 1.0);
    set_nat(m, nat, "tau0", 10.0);
    set_nat(m, nat, "amp", 1.3);
    set_nat(m, nat, "eps", 0.1);
    set_nat(m, nat, "off", 0.2);
    for (size_t s = 0; s < NS; s++) {
        snprintf(nm, sizeof nm, "off[%zu]", s + 1);
        set_nat(m, nat, nm, 0.1 * sin((double)s));
    }
}

/* Synthetic data: simulate the truth with a data-free model, add noise. */
static void make_data(vbt_vep_spec *sp)
{
    vbt_vep_spec s = *sp;
    s.data = NULL;
    vbt_vep *m = NULL;
    vbt_msg msg;
    if (vbt_vep_alloc(&m, &s, &msg))
        fail_msg("%s", msg.text);
    size_t np = vbt_vep_n_params(m);
    double *nat = calloc(np, sizeof *nat), *th = calloc(np, sizeof *th);
    truth_nat(m, nat);
    assert_int_equal(vbt_vep_unconstrain(m, nat, th), VBT_OK);
    assert_int_equal(vbt_vep_simulate(m, th, NULL, FX.Y), VBT_OK);
    double noise[NT * NS];
    vbt_rng r;
    vbt_rng_init(&r, 99, 1);
    vbt_rng_normal(&r, noise, NT * NS);
    for (size_t k = 0; k < NT * NS; k++)
        FX.Y[k] += 0.1 * noise[k];
    sp->data = FX.Y;
    free(nat);
    free(th);
    vbt_vep_free(m);
}

static void base_spec(vbt_vep_spec *s, vbt_vep_scheme scheme, vbt_vep_obs obs, size_t steps)
{
    load_fixture();
    vbt_vep_spec_default(s);
    s->n_regions = NR;
    s->n_sensors = NS;
    s->n_samples = NT;
    s->weights = FX.W;
    s->gain = FX.G;
    s->scheme = scheme;
    s->obs = obs;
    s->steps = steps;
    s->dt = 0.1;
    make_data(s);
}

static vbt_vep *build(const vbt_vep_spec *s)
{
    vbt_vep *m = NULL;
    vbt_msg msg;
    if (vbt_vep_alloc(&m, s, &msg))
        fail_msg("%s", msg.text);
    return m;
}

/* ---- naive reference ---------------------------------------------------- */

/* ge: each region's input gain (the coupling into i is K ge_i sum_j ...) */
static void naive_f(const double *C, double I1, const double *x0, double K, double tau0,
                    const double *ge, const double *s, double *k)
{
    for (size_t i = 0; i < NR; i++) {
        double x = s[i], z = s[NR + i], cpl = 0;
        for (size_t j = 0; j < NR; j++)
            cpl += C[i * NR + j] * (s[j] - x);
        k[i] = 1.0 - x * x * x - 2.0 * x * x - z + I1;
        k[NR + i] = (4.0 * (x - x0[i]) - z - K * ge[i] * cpl) / tau0;
    }
}

static double lnorm(double v, double mu, double sd)
{
    double zz = (v - mu) / sd;
    return -0.5 * zz * zz - log(sd) - 0.5 * log(2.0 * M_PI);
}

/* log posterior written from the equations, knowing the layout of
 * vbt_vep.h (all groups free, tau0 free, normal scalar priors; the log
 * input gains after z_init when priors.gin is free, else gains of 1). */
static double naive_logp(const vbt_vep_spec *sp, const double *th)
{
    const vbt_vep_priors *p = &sp->priors;
    double C[NR * NR], mx = 0;
    for (size_t k = 0; k < NR * NR; k++)
        C[k] = (k / NR == k % NR) ? 0.0 : sp->weights[k];
    for (size_t k = 0; k < NR * NR; k++)
        mx = fmax(mx, C[k]);
    for (size_t k = 0; k < NR * NR; k++)
        C[k] /= mx;
    double x0[NR], s[2 * NR], lp = 0;
    size_t o = 0;
    for (size_t i = 0; i < NR; i++) {
        int ez = 0;
        for (size_t e = 0; e < p->n_ez; e++)
            ez |= p->ez[e] == i;
        x0[i] = ez ? p->x0_ez_mu + p->x0_ez_sd * th[o + i] : p->x0.mu + p->x0.sd * th[o + i];
        lp += lnorm(th[o + i], 0, 1);
    }
    o += NR;
    for (size_t i = 0; i < NR; i++) {
        s[i] = p->x_init.mu + p->x_init.sd * th[o + i];
        s[NR + i] = p->z_init.mu + p->z_init.sd * th[o + NR + i];
        lp += lnorm(th[o + i], 0, 1) + lnorm(th[o + NR + i], 0, 1);
    }
    o += 2 * NR;
    double ge[NR];
    for (size_t i = 0; i < NR; i++)
        ge[i] = 1.0;
    if (!p->gin.fixed) {
        for (size_t i = 0; i < NR; i++) {
            ge[i] = exp(p->gin.mu + p->gin.sd * th[o + i]);
            lp += lnorm(th[o + i], 0, 1);
        }
        o += NR;
    }
    const vbt_vep_scalar_prior *sc[3] = {&p->K, &p->tau0, &p->amp};
    double val[4];
    for (int k = 0; k < 3; k++, o++) {
        val[k] = sc[k]->lo + exp(th[o]);
        lp += lnorm(val[k], sc[k]->mu, sc[k]->sd) + th[o] -
              log(0.5 * erfc((sc[k]->lo - sc[k]->mu) / sc[k]->sd / sqrt(2.0)));
    }
    size_t noff = sp->obs == VBT_VEP_OBS_LOGPOWER ? 1 : NS;
    double off[NS];
    for (size_t k = 0; k < noff; k++, o++) {
        off[k] = p->off.mu + p->off.sd * th[o];
        lp += lnorm(th[o], 0, 1);
    }
    double eps = p->eps.lo + exp(th[o]);
    lp += lnorm(eps, p->eps.mu, p->eps.sd) + th[o] -
          log(0.5 * erfc((p->eps.lo - p->eps.mu) / p->eps.sd / sqrt(2.0)));
    double K = val[0], tau0 = val[1], amp = val[2], h = sp->dt / (double)sp->steps;
    for (size_t t = 0; t < NT; t++) {
        if (t > 0)
            for (size_t q = 0; q < sp->steps; q++) {
                double k1[2 * NR], k2[2 * NR], k3[2 * NR], k4[2 * NR], y[2 * NR];
                naive_f(C, sp->I1, x0, K, tau0, ge, s, k1);
                if (sp->scheme == VBT_VEP_EULER) {
                    for (size_t v = 0; v < 2 * NR; v++)
                        s[v] += h * k1[v];
                } else if (sp->scheme == VBT_VEP_HEUN) {
                    for (size_t v = 0; v < 2 * NR; v++)
                        y[v] = s[v] + h * k1[v];
                    naive_f(C, sp->I1, x0, K, tau0, ge, y, k2);
                    for (size_t v = 0; v < 2 * NR; v++)
                        s[v] += 0.5 * h * (k1[v] + k2[v]);
                } else {
                    for (size_t v = 0; v < 2 * NR; v++)
                        y[v] = s[v] + 0.5 * h * k1[v];
                    naive_f(C, sp->I1, x0, K, tau0, ge, y, k2);
                    for (size_t v = 0; v < 2 * NR; v++)
                        y[v] = s[v] + 0.5 * h * k2[v];
                    naive_f(C, sp->I1, x0, K, tau0, ge, y, k3);
                    for (size_t v = 0; v < 2 * NR; v++)
                        y[v] = s[v] + h * k3[v];
                    naive_f(C, sp->I1, x0, K, tau0, ge, y, k4);
                    for (size_t v = 0; v < 2 * NR; v++)
                        s[v] += h / 6.0 * (k1[v] + 2.0 * k2[v] + 2.0 * k3[v] + k4[v]);
                }
            }
        for (size_t r = 0; r < NS; r++) {
            double g = 0;
            for (size_t j = 0; j < NR; j++)
                g += sp->gain[r * NR + j] *
                     (sp->obs == VBT_VEP_OBS_LINEAR     ? s[j]
                      : sp->obs == VBT_VEP_OBS_LOGPOWER ? exp(s[j])
                      : sp->obs == VBT_VEP_OBS_POWER    ? exp(amp * s[j])
                                                        : 1.0 / (1.0 + exp(-(s[j] - sp->sig_x) /
                                                                           sp->sig_w)));
            double mu = sp->obs == VBT_VEP_OBS_LOGPOWER ? amp * log(g) + off[0]
                        : sp->obs == VBT_VEP_OBS_POWER  ? log(g) + off[r]
                                                        : amp * g + off[r];
            lp += lnorm(sp->data[t * NS + r], mu, eps);
        }
    }
    return lp;
}

static void free_all_params(vbt_vep_spec *s)
{
    s->priors.tau0.fixed = 0;
    s->priors.tau0.mu = 12.0;
    s->priors.tau0.sd = 4.0;
    s->priors.n_ez = 1;
    s->priors.ez[0] = 5;
}

static const vbt_vep_scheme SCHEMES[3] = {VBT_VEP_EULER, VBT_VEP_HEUN, VBT_VEP_RK4};
static const char *SCHEME_NAMES[3] = {"euler", "heun", "rk4"};

/* A random point near the prior: raw groups N(0, 0.7), scalars from the
 * prior; stays where the dynamics are finite. */
static void random_point(const vbt_vep *m, uint64_t stream, double *th)
{
    vbt_vep_prior_draw(m, 4242, stream, th);
    for (size_t i = 0; i < vbt_vep_n_params(m); i++)
        th[i] *= 0.7;
}

static void test_logp_matches_naive(void **state)
{
    (void)state;
    double worst = 0;
    for (int sc = 0; sc < 3; sc++)
        for (int obs = 0; obs < 4; obs++)
            for (size_t steps = 1; steps <= 2; steps++) {
                vbt_vep_spec s;
                base_spec(&s, SCHEMES[sc], (vbt_vep_obs)obs, steps);
                free_all_params(&s);
                vbt_vep *m = build(&s);
                size_t np = vbt_vep_n_params(m);
                assert_int_equal(np, 3 * NR + 4 + (obs == VBT_VEP_OBS_LOGPOWER ? 1 : NS));
                double *th = malloc(np * sizeof *th);
                for (uint64_t k = 0; k < 3; k++) {
                    random_point(m, k, th);
                    double lp, want = naive_logp(&s, th);
                    assert_int_equal(vbt_vep_logp(m, th, &lp, NULL), VBT_OK);
                    double rel = fabs(lp - want) / fmax(1.0, fabs(want));
                    worst = fmax(worst, rel);
                    if (rel > 1e-11)
                        fail_msg("%s obs %d steps %zu: logp %.17g, naive %.17g", SCHEME_NAMES[sc],
                                 obs, steps, lp, want);
                }
                free(th);
                vbt_vep_free(m);
            }
    printf("# logp vs naive: worst relative difference %.2e\n", worst);
}

/* The adjoint gradient g of m at th (log density lp) against central
 * differences, component by component (fails naming `what` and the
 * parameter); returns the relative 2-norm error. */
static double fd_check(vbt_vep *m, double *th, const double *g, double lp, const char *what)
{
    size_t np = vbt_vep_n_params(m);
    double num = 0, den = 0;
    for (size_t i = 0; i < np; i++) {
        double t0 = th[i], h = 1e-6 * fmax(1.0, fabs(t0)), fp, fm;
        th[i] = t0 + h;
        vbt_vep_logp(m, th, &fp, NULL);
        th[i] = t0 - h;
        vbt_vep_logp(m, th, &fm, NULL);
        th[i] = t0;
        double fd = (fp - fm) / (2.0 * h);
        double tol = 1e-6 * fabs(g[i]) + 100.0 * DBL_EPSILON * fabs(lp) / h;
        if (!(fabs(fd - g[i]) <= tol))
            fail_msg("%s %s: adjoint %.12g, fd %.12g", what, vbt_vep_param_name(m, i), g[i], fd);
        num += (fd - g[i]) * (fd - g[i]);
        den += g[i] * g[i];
    }
    return sqrt(num / den);
}

/* Central differences with h = 1e-6 max(1, |theta_i|).  Truncation error
 * O(h^2 |f'''|) ~ 1e-12; rounding O(eps |lp| / h) ~ 2e-10 |lp|.  Each
 * component must agree within 1e-6 |g_i| + 100 eps |lp| / h (absolute part:
 * the rounding floor of the difference quotient itself), and the whole
 * vector within a relative 1e-6 in the 2-norm. */
static void test_gradient_fd(void **state)
{
    (void)state;
    double worst_norm = 0;
    for (int sc = 0; sc < 3; sc++)
        for (int obs = 0; obs < 4; obs++)
            for (size_t steps = 1; steps <= 2; steps++) {
                vbt_vep_spec s;
                base_spec(&s, SCHEMES[sc], (vbt_vep_obs)obs, steps);
                free_all_params(&s);
                if (steps == 2)
                    s.priors.eps.dist = VBT_VEP_LOGNORMAL; /* the other scalar prior */
                if (steps == 2) {
                    s.priors.eps.mu = -2.0;
                    s.priors.eps.sd = 1.0;
                }
                vbt_vep *m = build(&s);
                size_t np = vbt_vep_n_params(m);
                double *th = malloc(np * sizeof *th), *g = malloc(np * sizeof *g);
                for (uint64_t k = 0; k < 5; k++) {
                    random_point(m, 100 + k, th);
                    double lp;
                    assert_int_equal(vbt_vep_logp(m, th, &lp, g), VBT_OK);
                    double lp2;
                    assert_int_equal(vbt_vep_logp(m, th, &lp2, NULL), VBT_OK);
                    assert_true(lp == lp2);
                    char what[64];
                    snprintf(what, sizeof what, "%s obs %d steps %zu point %d",
                             SCHEME_NAMES[sc], obs, steps, (int)k);
                    double rel = fd_check(m, th, g, lp, what);
                    worst_norm = fmax(worst_norm, rel);
                    assert_true(rel < 1e-6);
                }
                free(th);
                free(g);
                vbt_vep_free(m);
            }
    printf("# gradient vs central differences: worst relative 2-norm error %.2e\n", worst_norm);
}

/* Per-region input gains (priors.gin free, log gains ~ N(0.1, 0.6)):
 * logp against the naive reference, which scales each region's coupling by
 * exp(gin_i) in the equations themselves (within 1e-11 relative, the
 * tolerance of test_logp_matches_naive), the adjoint gradient against
 * central differences (fd_check's tolerances, every component, the gains'
 * included), and at gains of exactly 1 (gin mu 0, raw 0) the model without
 * gains: the same log density but for the gains' own prior terms,
 * NR log N(0; 0, 1), to round-off; freed, the gains come after z_init. */
static void test_input_gains(void **state)
{
    (void)state;
    double worst = 0, worst_g = 0;
    for (int sc = 0; sc < 3; sc++)
        for (int obs = 0; obs < 4; obs += 3) { /* linear, seizure (the pipeline's) */
            vbt_vep_spec s;
            base_spec(&s, SCHEMES[sc], (vbt_vep_obs)obs, 1 + (size_t)(sc == 0));
            free_all_params(&s);
            vbt_vep *m0 = build(&s);
            s.priors.gin.fixed = 0;
            s.priors.gin.mu = 0.1;
            s.priors.gin.sd = 0.6;
            vbt_vep *m = build(&s);
            size_t np0 = vbt_vep_n_params(m0), np = vbt_vep_n_params(m);
            assert_int_equal(np, np0 + NR);
            long gi = vbt_vep_param_index(m, "log_input_gain[1]");
            assert_int_equal(gi, 3 * NR);
            assert_int_equal(vbt_vep_param_index(m, "K"), 4 * NR);
            double *th = malloc(np * sizeof *th), *g = malloc(np * sizeof *g);
            for (uint64_t k = 0; k < 3; k++) {
                random_point(m, 500 + k, th);
                double lp, want = naive_logp(&s, th);
                assert_int_equal(vbt_vep_logp(m, th, &lp, g), VBT_OK);
                double rel = fabs(lp - want) / fmax(1.0, fabs(want));
                worst = fmax(worst, rel);
                if (rel > 1e-11)
                    fail_msg("%s obs %d: logp %.17g, naive %.17g", SCHEME_NAMES[sc], obs, lp, want);
                char what[64];
                snprintf(what, sizeof what, "gains %s obs %d point %d", SCHEME_NAMES[sc], obs,
                         (int)k);
                double r = fd_check(m, th, g, lp, what);
                worst_g = fmax(worst_g, r);
                assert_true(r < 1e-6);
            }
            /* gains of exactly 1: the gain-free model's density */
            s.priors.gin.mu = 0.0;
            vbt_vep *m1 = build(&s);
            double *th0 = malloc(np0 * sizeof *th0);
            random_point(m0, 600, th0);
            for (size_t i = 0, j = 0; i < np; i++)
                th[i] = (i >= (size_t)gi && i < (size_t)gi + NR) ? 0.0 : th0[j++];
            double l0, l1;
            assert_int_equal(vbt_vep_logp(m0, th0, &l0, NULL), VBT_OK);
            assert_int_equal(vbt_vep_logp(m1, th, &l1, NULL), VBT_OK);
            assert_true(fabs(l1 - (l0 - 0.5 * NR * log(2.0 * M_PI))) <= 1e-12 * fabs(l0));
            free(th0);
            vbt_vep_free(m1);
            free(th);
            free(g);
            vbt_vep_free(m);
            vbt_vep_free(m0);
        }
    printf("# input gains: logp vs naive worst %.2e, gradient vs differences worst %.2e\n", worst,
           worst_g);
}

/* Marginal offsets against the joint model they integrate.  Writing off =
 * m + sd z (joint, raw z) and off = E[off | rest] + tau u (marginal), the
 * change of variables gives, exactly,
 *   logp_marg(rest, u) = logp_joint(rest, z) - sum log sd + sum log tau,
 * for every u: which holds only if the marginal likelihood, the conditional
 * mean and the conditional sd tau are all right (the joint density is
 * Gaussian in off with that mean and sd).  tau is read off constrain() as
 * off(u + 1) - off(u).  Also: the adjoint gradient against central
 * differences, constrain/unconstrain round trips, and simulate() predicting
 * the same mean as the joint model at the corresponding point. */
static void test_marginal_offsets(void **state)
{
    (void)state;
    double worst = 0, worst_g = 0;
    for (int sc = 0; sc < 3; sc += 2)
        for (int obs = 0; obs < 4; obs++) {
            vbt_vep_spec s;
            base_spec(&s, SCHEMES[sc], (vbt_vep_obs)obs, 1);
            free_all_params(&s);
            s.priors.off.sd = 0.7;
            s.priors.off.mu = 0.2;
            vbt_vep *mj = build(&s);
            s.priors.off_marginal = 1;
            vbt_vep *mm = build(&s);
            size_t np = vbt_vep_n_params(mm);
            assert_int_equal(np, vbt_vep_n_params(mj));
            long o = vbt_vep_param_index(mm, obs == VBT_VEP_OBS_LOGPOWER ? "off" : "off[1]");
            assert_true(o > 0);
            size_t noff = obs == VBT_VEP_OBS_LOGPOWER ? 1 : NS;
            double *th = malloc(np * sizeof *th), *thj = malloc(np * sizeof *thj),
                   *nat = malloc(np * sizeof *nat), *nat1 = malloc(np * sizeof *nat1),
                   *g = malloc(np * sizeof *g), *back = malloc(np * sizeof *back);
            double ym[NT * NS], yj[NT * NS];
            for (uint64_t k = 0; k < 3; k++) {
                random_point(mm, 300 + k, th);
                assert_int_equal(vbt_vep_constrain(mm, th, nat), VBT_OK);
                double lsum = 0;
                for (size_t q = 0; q < noff; q++) {
                    th[o + q] += 1.0;
                    assert_int_equal(vbt_vep_constrain(mm, th, nat1), VBT_OK);
                    th[o + q] -= 1.0;
                    double tau = nat1[o + q] - nat[o + q];
                    assert_true(tau > 0 && tau < 0.7);
                    lsum += log(tau) - log(0.7);
                }
                assert_int_equal(vbt_vep_unconstrain(mj, nat, thj), VBT_OK);
                double lm, lj;
                assert_int_equal(vbt_vep_logp(mm, th, &lm, g), VBT_OK);
                assert_int_equal(vbt_vep_logp(mj, thj, &lj, NULL), VBT_OK);
                double rel = fabs(lm - (lj + lsum)) / fmax(1.0, fabs(lm));
                worst = fmax(worst, rel);
                if (rel > 1e-11)
                    fail_msg("%s obs %d: marginal logp %.17g, joint + log-Jacobian %.17g",
                             SCHEME_NAMES[sc], obs, lm, lj + lsum);
                /* the round trip through natural values */
                assert_int_equal(vbt_vep_unconstrain(mm, nat, back), VBT_OK);
                for (size_t i = 0; i < np; i++)
                    assert_close(back[i], th[i], 1e-9 * fmax(1.0, fabs(th[i])));
                /* the same predicted mean as the joint model */
                assert_int_equal(vbt_vep_simulate(mm, th, NULL, ym), VBT_OK);
                assert_int_equal(vbt_vep_simulate(mj, thj, NULL, yj), VBT_OK);
                for (size_t i = 0; i < NT * NS; i++)
                    assert_close(ym[i], yj[i], 1e-10 * fmax(1.0, fabs(yj[i])));
                /* gradient: u enters only through its N(0, 1) prior */
                for (size_t q = 0; q < noff; q++)
                    assert_close(g[o + q], -th[o + q], 1e-12);
                char what[64];
                snprintf(what, sizeof what, "marginal %s obs %d point %d", SCHEME_NAMES[sc],
                         obs, (int)k);
                double rel_g = fd_check(mm, th, g, lm, what);
                worst_g = fmax(worst_g, rel_g);
                assert_true(rel_g < 1e-6);
            }
            free(th);
            free(thj);
            free(nat);
            free(nat1);
            free(g);
            free(back);
            vbt_vep_free(mj);
            vbt_vep_free(mm);
        }
    printf("# marginal offsets: logp vs joint + log-Jacobian worst relative %.2e; gradient vs "
           "central differences worst relative 2-norm %.2e\n", worst, worst_g);
}

/* p = lo + exp(u): density of u = density of p times dp/du; checked with a
 * finite-difference dp/du from vbt_vep_constrain. */
static void test_transforms(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    free_all_params(&s);
    vbt_vep *m = build(&s);
    size_t np = vbt_vep_n_params(m);
    double *th = calloc(np, sizeof *th), *nat = calloc(np, sizeof *nat),
           *nat2 = calloc(np, sizeof *nat2), *back = calloc(np, sizeof *back);
    random_point(m, 7, th);
    vbt_vep_constrain(m, th, nat);
    assert_int_equal(vbt_vep_unconstrain(m, nat, back), VBT_OK);
    for (size_t i = 0; i < np; i++)
        assert_close(back[i], th[i], 1e-12 * fmax(1, fabs(th[i])));
    const char *names[3] = {"K", "tau0", "eps"};
    const vbt_vep_scalar_prior *pr[3] = {&s.priors.K, &s.priors.tau0, &s.priors.eps};
    for (int k = 0; k < 3; k++) {
        long i = vbt_vep_param_index(m, names[k]);
        assert_true(i >= 0);
        double h = 1e-6;
        th[i] += h;
        vbt_vep_constrain(m, th, nat2);
        double pp = nat2[i];
        th[i] -= 2 * h;
        vbt_vep_constrain(m, th, nat2);
        double pm = nat2[i];
        th[i] += h;
        double lp0 = vbt_vep_logprior(m, th, NULL);
        vbt_vep_constrain(m, th, nat2);
        double p = nat2[i];
        double logjac_fd = log((pp - pm) / (2 * h));
        /* natural-scale density of this scalar (truncated normal) */
        double lnat = lnorm(p, pr[k]->mu, pr[k]->sd) -
                      log(0.5 * erfc((pr[k]->lo - pr[k]->mu) / pr[k]->sd / sqrt(2.0)));
        /* the rest of the prior does not change with theta[i]: take it
         * from u = 0, where the log-Jacobian log(dp/du) = u vanishes */
        double others;
        {
            double t0 = th[i];
            th[i] = 0.0;
            vbt_vep_constrain(m, th, nat2);
            double p00 = nat2[i];
            double l00 = vbt_vep_logprior(m, th, NULL);
            double lnat00 = lnorm(p00, pr[k]->mu, pr[k]->sd) -
                            log(0.5 * erfc((pr[k]->lo - pr[k]->mu) / pr[k]->sd / sqrt(2.0)));
            others = l00 - lnat00;
            th[i] = t0;
        }
        assert_close(lp0 - others - lnat, logjac_fd, 1e-8);
        assert_close(logjac_fd, th[i], 1e-8); /* log(dp/du) = u */
    }
    /* non-centred groups: d x0 / d raw = sd (EZ region uses the EZ sd) */
    long i5 = vbt_vep_param_index(m, "x0[6]"), i1 = vbt_vep_param_index(m, "x0[1]");
    th[i5] += 0.5;
    th[i1] += 0.5;
    vbt_vep_constrain(m, th, nat2);
    assert_close(nat2[i5] - nat[i5], 0.5 * s.priors.x0_ez_sd, 1e-12);
    assert_close(nat2[i1] - nat[i1], 0.5 * s.priors.x0.sd, 1e-12);
    free(th);
    free(nat);
    free(nat2);
    free(back);
    vbt_vep_free(m);
}

static void test_names_layout(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = build(&s);
    /* tau0 fixed by default */
    assert_int_equal(vbt_vep_n_params(m), 3 * NR + 2 + NS + 1);
    assert_string_equal(vbt_vep_param_name(m, 0), "x0[1]");
    assert_string_equal(vbt_vep_param_name(m, NR), "x_init[1]");
    assert_string_equal(vbt_vep_param_name(m, 2 * NR), "z_init[1]");
    assert_string_equal(vbt_vep_param_name(m, 3 * NR), "K");
    assert_string_equal(vbt_vep_param_name(m, 3 * NR + 1), "amp");
    assert_string_equal(vbt_vep_param_name(m, 3 * NR + 2), "off[1]");
    assert_string_equal(vbt_vep_param_name(m, 3 * NR + 2 + NS), "eps");
    assert_null(vbt_vep_param_name(m, 3 * NR + 3 + NS));
    assert_int_equal(vbt_vep_param_index(m, "tau0"), -1);
    assert_int_equal(vbt_vep_n_regions(m), NR);
    assert_int_equal(vbt_vep_n_sensors(m), NS);
    assert_int_equal(vbt_vep_n_samples(m), NT);
    vbt_vep_free(m);
    s.priors.x_init.fixed = s.priors.z_init.fixed = 1;
    s.priors.K.fixed = 1;
    s.obs = VBT_VEP_OBS_LOGPOWER;
    m = build(&s);
    assert_int_equal(vbt_vep_n_params(m), NR + 3);
    assert_string_equal(vbt_vep_param_name(m, NR), "amp");
    assert_string_equal(vbt_vep_param_name(m, NR + 1), "off");
    vbt_vep_free(m);
    vbt_vep_free(NULL);
}

/* MAP from 16 starts on Euler / linear SEEG data of the truth: EZ regions
 * (2, 5) end above x0c = -2.05, the others below.  The posterior is
 * multimodal (some starts end with a healthy region at x0 ~ -0.5): about a
 * third of the starts reach the best mode on these data. */
static void test_map_recovery(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = build(&s);
    size_t np = vbt_vep_n_params(m);
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = 16;
    o.n_threads = 4;
    o.seed = 11;
    o.lbfgs.max_iter = 5000;
    double *th = malloc(np * sizeof *th), *nat = malloc(np * sizeof *nat), lps[16];
    vbt_vep_map_result res;
    vbt_msg msg;
    if (vbt_vep_map(m, &o, th, &res, lps, NULL, &msg))
        fail_msg("%s", msg.text);
    vbt_vep_constrain(m, th, nat);
    printf("# MAP: best lp %.3f (start %zu), %zu/%zu starts within 1, %zu converged; lp:",
           res.best_lp, res.best_start, res.n_best, o.n_starts, res.n_converged);
    for (size_t k = 0; k < o.n_starts; k++)
        printf(" %.1f", lps[k]);
    printf("\n# x0:");
    for (size_t i = 0; i < NR; i++)
        printf(" %.3f", nat[i]);
    printf("  K %.3f amp %.3f eps %.4f\n", nat[vbt_vep_param_index(m, "K")],
           nat[vbt_vep_param_index(m, "amp")], nat[vbt_vep_param_index(m, "eps")]);
    for (size_t i = 0; i < NR; i++) {
        if (i == 2 || i == 5)
            assert_true(nat[i] > -2.05);
        else
            assert_true(nat[i] < -2.05);
    }
    assert_true(res.n_best >= 1);
    /* the gradient vanishes at the optimum */
    double lp, *g = malloc(np * sizeof *g), gmax = 0;
    vbt_vep_logp(m, th, &lp, g);
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(g[i]));
    assert_true(gmax < 1e-3 * fmax(1, fabs(lp)));

    /* Laplace + PSIS at the mode */
    size_t nd = 1000;
    double *draws = malloc(nd * np * sizeof *draws), *lw = malloc(nd * sizeof *lw);
    vbt_vep_laplace_result lr;
    if (vbt_vep_laplace(m, th, nd, 5, draws, lw, &lr, &msg))
        fail_msg("%s", msg.text);
    double sum = 0;
    for (size_t d = 0; d < nd; d++)
        sum += exp(lw[d]);
    assert_close(sum, 1.0, 1e-12);
    printf("# Laplace: %zu draws, Pareto k-hat %.3f, ESS %.1f\n", nd, lr.khat, lr.ess);
    assert_true(isfinite(lr.khat));
    assert_true(lr.ess > 0 && lr.ess <= (double)nd + 1e-9);
    free(draws);
    free(lw);
    free(g);
    free(th);
    free(nat);
    vbt_vep_free(m);
}

/* g' H^-1 g with H the negative Hessian at th by central differences of the
 * gradient (step 1e-5), symmetrised and Cholesky-factored here; -1 when H is
 * not positive definite (th is no mode). */
static double newton_decrement(vbt_vep *m, const double *th, const double *g, size_t np)
{
    double *H = malloc(np * np * sizeof *H), *t = malloc(np * sizeof *t);
    double *gp = malloc(np * sizeof *gp), *gm = malloc(np * sizeof *gm), lp, dec = 0;
    const double h = 1e-5;
    assert_non_null(H);
    for (size_t j = 0; j < np; j++) {
        memcpy(t, th, np * sizeof *t);
        t[j] = th[j] + h;
        vbt_vep_logp(m, t, &lp, gp);
        t[j] = th[j] - h;
        vbt_vep_logp(m, t, &lp, gm);
        for (size_t i = 0; i < np; i++)
            H[i * np + j] = -(gp[i] - gm[i]) / (2 * h);
    }
    for (size_t i = 0; i < np; i++)
        for (size_t j = 0; j < i; j++)
            H[i * np + j] = H[j * np + i] = 0.5 * (H[i * np + j] + H[j * np + i]);
    /* H = L L' in the lower triangle, then |L^-1 g|^2 */
    for (size_t j = 0; j < np && dec >= 0; j++) {
        double d = H[j * np + j];
        for (size_t k = 0; k < j; k++)
            d -= H[j * np + k] * H[j * np + k];
        if (!(d > 0)) {
            dec = -1;
            break;
        }
        H[j * np + j] = sqrt(d);
        for (size_t i = j + 1; i < np; i++) {
            double v = H[i * np + j];
            for (size_t k = 0; k < j; k++)
                v -= H[i * np + k] * H[j * np + k];
            H[i * np + j] = v / H[j * np + j];
        }
    }
    for (size_t i = 0; i < np && dec >= 0; i++) {
        double v = g[i];
        for (size_t k = 0; k < i; k++)
            v -= H[i * np + k] * t[k];
        t[i] = v / H[i * np + i];
        dec += t[i] * t[i];
    }
    free(H);
    free(t);
    free(gp);
    free(gm);
    return dec;
}

/* Newton polish: from a 300-iteration L-BFGS end point on the 8-region
 * problem it reaches the mode a 5000-iteration L-BFGS finds, never lowers the
 * log density, and proves it a mode (status VBT_OK: positive definite
 * undamped Hessian, Newton decrement below tolerance). */
static void test_newton_polish(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = build(&s);
    size_t np = vbt_vep_n_params(m);
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = 16;
    o.n_threads = 2;
    o.seed = 11;
    o.newton_iter = 0; /* plain L-BFGS first */
    o.lbfgs.max_iter = 300;
    double *th = malloc(np * sizeof *th), *g = malloc(np * sizeof *g), lp0, lp1;
    vbt_vep_map_result res;
    vbt_msg msg;
    if (vbt_vep_map(m, &o, th, &res, NULL, NULL, &msg))
        fail_msg("%s", msg.text);
    vbt_vep_logp(m, th, &lp0, NULL);
    size_t it = 0;
    int st = vbt_vep_newton(m, 30, th, &lp1, &it);
    assert_int_equal(st, VBT_OK);
    assert_true(lp1 >= lp0 - 1e-9);
    double lp, gmax = 0;
    vbt_vep_logp(m, th, &lp, g);
    assert_close(lp, lp1, 1e-9 * fabs(lp));
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(g[i]));
    double dec = newton_decrement(m, th, g, np);
    printf("# Newton: lp %.6f -> %.6f in %zu steps, |grad|_inf %.2e, Newton decrement "
           "%.2e\n", lp0, lp1, it, gmax, dec);
    /* test_map_recovery's 5000-iteration L-BFGS reaches lp 1410.348 here.
     * The gradient's size alone is no test of a mode: along the stiffest
     * directions (curvature ~1e4 here) a gradient of 0.1 is 1e-5 away from
     * the mode, and how close the last step lands depends on the BLAS's
     * rounding.  The Newton decrement g' H^-1 g, twice the log density still
     * to gain, is scale-free: at a mode it is below 1e-9 |lp| (vbt_vep_newton's
     * stopping rule), here recomputed with this test's own Hessian. */
    assert_true(lp1 > 1410.34);
    assert_true(dec >= 0 && dec < 1e-8 * fabs(lp1));
    /* a second polish from the mode takes no step */
    double lp2;
    assert_int_equal(vbt_vep_newton(m, 30, th, &lp2, &it), VBT_OK);
    assert_int_equal(it, 0);
    assert_close(lp2, lp1, 1e-12 * fabs(lp1));
    free(th);
    free(g);
    vbt_vep_free(m);
}

/* Data-informed starts by hand: 3 regions, 2 sensors, |G| = [[1 0 1]
 * [0 1 1]], rises 2 and 0 above the first sample: back-projections 2, 0,
 * 1 -> scaled 1, 0, 0.5 -> x0 = mu + a^2 (x0_hi - mu) with mu = -2.5 and
 * x0_hi = -1.5: -1.5, -2.5, -2.25. */
static void test_x0_from_data(void **state)
{
    (void)state;
    static const double W[9] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
    static const double G[6] = {1, 0, 1, 0, -1, 1};
    static const double Y[6] = {0, 5, 1, 5, 2, 5}; /* 3 samples x 2 sensors */
    vbt_vep_spec s;
    vbt_vep_spec_default(&s);
    s.n_regions = 3;
    s.n_sensors = 2;
    s.n_samples = 3;
    s.weights = W;
    s.gain = G;
    s.data = Y;
    vbt_vep *m = build(&s);
    double x0[3];
    assert_int_equal(vbt_vep_x0_from_data(m, 1, -1.5, x0), VBT_OK);
    assert_close(x0[0], -1.5, 1e-14);
    assert_close(x0[1], -2.5, 1e-14);
    assert_close(x0[2], -2.25, 1e-14);
    vbt_vep_free(m);
}

static void test_map_reproducible(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_HEUN, VBT_VEP_OBS_LOGPOWER, 1);
    vbt_vep *m = build(&s);
    size_t np = vbt_vep_n_params(m);
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = 4;
    o.seed = 3;
    o.lbfgs.max_iter = 200;
    double *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    double *ta = malloc(4 * np * sizeof *ta), *tb = malloc(4 * np * sizeof *tb), la[4], lb[4];
    vbt_vep_map_result ra, rb;
    o.n_threads = 1;
    assert_int_equal(vbt_vep_map(m, &o, a, &ra, la, ta, NULL), VBT_OK);
    o.n_threads = 2;
    assert_int_equal(vbt_vep_map(m, &o, b, &rb, lb, tb, NULL), VBT_OK);
    assert_memory_equal(a, b, np * sizeof *a);
    assert_memory_equal(la, lb, sizeof la);
    assert_memory_equal(ta, tb, 4 * np * sizeof *ta);
    assert_int_equal(ra.n_best, rb.n_best);
    free(a);
    free(b);
    free(ta);
    free(tb);
    vbt_vep_free(m);
}

/* MAP progress: one call per start and per polish, serialised, done
 * counting up to total = starts + polishes; the same optimum with and
 * without the callback.  A callback that returns non-zero stops the MAP:
 * on one thread after exactly that call, VBT_EINVAL "interrupted". */
typedef struct map_calls {
    size_t calls, last_done, last_total, stop_at;
    int monotone;
} map_calls;

static int count_map(void *ctx, size_t done, size_t total)
{
    map_calls *c = ctx;
    c->monotone &= done == c->last_done + 1;
    c->calls++;
    c->last_done = done;
    c->last_total = total;
    return c->stop_at && c->calls >= c->stop_at;
}

static void test_map_progress(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = build(&s);
    size_t np = vbt_vep_n_params(m);
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = 6;
    o.n_polish = 2;
    o.seed = 5;
    o.lbfgs.max_iter = 50;
    o.newton_iter = 2;
    double *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    vbt_vep_map_result ra, rb;
    assert_int_equal(vbt_vep_map(m, &o, a, &ra, NULL, NULL, NULL), VBT_OK);
    for (size_t th = 1; th <= 2; th++) {
        map_calls c = {.monotone = 1};
        o.n_threads = th;
        o.progress = count_map;
        o.progress_ctx = &c;
        assert_int_equal(vbt_vep_map(m, &o, b, &rb, NULL, NULL, NULL), VBT_OK);
        assert_int_equal(c.calls, 6 + 2); /* 6 L-BFGS starts, 2 polishes */
        assert_true(c.monotone);
        assert_int_equal(c.last_done, 8);
        assert_int_equal(c.last_total, 8);
        assert_memory_equal(a, b, np * sizeof *a); /* the callback changes nothing */
    }
    map_calls c = {.monotone = 1, .stop_at = 3};
    o.n_threads = 1;
    o.progress_ctx = &c;
    vbt_msg msg;
    assert_int_equal(vbt_vep_map(m, &o, b, &rb, NULL, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "interrupted"));
    assert_int_equal(c.calls, 3); /* no start began after the stop */
    free(a);
    free(b);
    vbt_vep_free(m);
}

/* n_polish = k: Newton polishes exactly the k starts whose L-BFGS ended
 * highest, each as it would be polished with n_polish = 0 (bitwise), and
 * leaves the others at their L-BFGS end points (as newton_iter = 0 does);
 * the result does not depend on the thread count. */
static void test_map_polish_best(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = build(&s);
    const size_t np = vbt_vep_n_params(m), ns = 8, k = 3;
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = ns;
    o.seed = 11;
    o.lbfgs.max_iter = 300;
    o.n_threads = 2;
    double *best = malloc(np * sizeof *best), *bp = malloc(np * sizeof *bp);
    double *t_none = malloc(ns * np * sizeof *t_none), *t_all = malloc(ns * np * sizeof *t_all);
    double *t_k = malloc(ns * np * sizeof *t_k), *t_k1 = malloc(ns * np * sizeof *t_k1);
    double l_none[8], l_all[8], l_k[8], l_k1[8];
    vbt_vep_map_result r_none, r_all, r_k, r_k1;
    o.newton_iter = 0;
    assert_int_equal(vbt_vep_map(m, &o, best, &r_none, l_none, t_none, NULL), VBT_OK);
    o.newton_iter = 10;
    assert_int_equal(vbt_vep_map(m, &o, best, &r_all, l_all, t_all, NULL), VBT_OK);
    o.n_polish = k;
    assert_int_equal(vbt_vep_map(m, &o, bp, &r_k, l_k, t_k, NULL), VBT_OK);
    o.n_threads = 1;
    assert_int_equal(vbt_vep_map(m, &o, bp, &r_k1, l_k1, t_k1, NULL), VBT_OK);
    assert_memory_equal(t_k, t_k1, ns * np * sizeof *t_k);
    assert_memory_equal(l_k, l_k1, sizeof l_k);
    size_t polished = 0;
    for (size_t a = 0; a < ns; a++) {
        size_t rank = 0; /* starts whose L-BFGS ended higher */
        for (size_t b = 0; b < ns; b++)
            rank += l_none[b] > l_none[a] || (l_none[b] == l_none[a] && b < a);
        const double *want = rank < k ? t_all : t_none;
        assert_memory_equal(t_k + a * np, want + a * np, np * sizeof *t_k);
        assert_true(l_k[a] == (rank < k ? l_all[a] : l_none[a]));
        polished += rank < k;
    }
    assert_int_equal(polished, k);
    assert_int_equal(r_k.n_polished, k);
    assert_int_equal(r_all.n_polished, ns);
    printf("# polish the best %zu of %zu: best lp %.3f (every start polished: %.3f), %zu "
           "converged (%zu)\n", k, ns, r_k.best_lp, r_all.best_lp, r_k.n_converged,
           r_all.n_converged);
    /* the same mode, to within the polish's stopping rule (lp within 1e-9 |lp| of
     * it); which start lands on it last-bit highest depends on the arithmetic */
    assert_close(r_k.best_lp, r_all.best_lp, 1e-9 * fabs(r_all.best_lp));
    assert_true(r_k.n_converged <= k + r_none.n_converged);
    free(best);
    free(bp);
    free(t_none);
    free(t_all);
    free(t_k);
    free(t_k1);
    vbt_vep_free(m);
}

/* Hops (hop_rounds x hops after the polish): the starts' rows are those of
 * the same search without hops, bit for bit; the hops' rows follow them; the
 * best lp is the largest of all rows and never below the search without
 * hops; the result does not depend on the thread count; hop rounds without
 * hops are refused. */
static void test_map_hops(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = build(&s);
    const size_t np = vbt_vep_n_params(m), ns = 6, R = 2, H = 3, rows = ns + R * H;
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = ns;
    o.seed = 5;
    o.n_polish = 2;
    o.n_threads = 2;
    assert_int_equal(o.hop_rounds, 0);
    assert_int_equal(vbt_vep_map_n_rows(&o), ns);
    double *best0 = malloc(np * sizeof *best0), *best = malloc(np * sizeof *best);
    double *t0 = malloc(ns * np * sizeof *t0), *th = malloc(rows * np * sizeof *th);
    double *th1 = malloc(rows * np * sizeof *th1), l0[6], lh[12], lh1[12];
    vbt_vep_map_result r0, rh, rh1;
    assert_int_equal(vbt_vep_map(m, &o, best0, &r0, l0, t0, NULL), VBT_OK);
    o.hop_rounds = R;
    o.hops = H;
    assert_int_equal(vbt_vep_map_n_rows(&o), rows);
    assert_int_equal(vbt_vep_map(m, &o, best, &rh, lh, th, NULL), VBT_OK);
    o.n_threads = 1;
    assert_int_equal(vbt_vep_map(m, &o, best, &rh1, lh1, th1, NULL), VBT_OK);
    assert_memory_equal(th, th1, rows * np * sizeof *th);
    assert_memory_equal(lh, lh1, sizeof lh);
    assert_memory_equal(th, t0, ns * np * sizeof *th);
    assert_memory_equal(lh, l0, sizeof l0);
    size_t b = 0, finite = 0;
    for (size_t k = 0; k < rows; k++) {
        b = lh[k] > lh[b] ? k : b;
        finite += k >= ns && isfinite(lh[k]);
    }
    assert_true(rh.best_lp == lh[b] && rh.best_start == b);
    assert_memory_equal(best, th + b * np, np * sizeof *best);
    assert_true(rh.best_lp >= r0.best_lp);
    assert_true(finite > 0);
    printf("# %zu starts: best lp %.3f; with %zu x %zu hops: %.3f (row %zu), %zu of %zu hops "
           "finite\n", ns, r0.best_lp, R, H, rh.best_lp, rh.best_start, finite, R * H);
    vbt_msg msg = {0};
    o.hops = 0;
    assert_int_equal(vbt_vep_map(m, &o, best, &rh, NULL, NULL, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "hops"));
    free(best0);
    free(best);
    free(t0);
    free(th);
    free(th1);
    vbt_vep_free(m);
}

/* GPD(k, sigma = 1) ratios: k-hat near k; light tails: k-hat small.  One
 * k-hat from M = 190 tail draws has a standard deviation of about 0.06-0.12
 * (measured over 20 seeds), so the mean of 10 replicates is compared with
 * tolerance 0.1 (about 3 standard errors). */
static void test_psis_khat(void **state)
{
    (void)state;
    const size_t n = 4000;
    double *lw = malloc(n * sizeof *lw), *u = malloc(n * sizeof *u);
    const double ks[3] = {0.2, 0.5, 0.7};
    for (int c = 0; c < 3; c++) {
        double kmean = 0, k = 0;
        for (uint64_t rep = 0; rep < 10; rep++) {
            vbt_rng r;
            vbt_rng_init(&r, 17 + rep, (uint64_t)c);
            vbt_rng_uniform(&r, u, n);
            for (size_t i = 0; i < n; i++)
                lw[i] = log(expm1(-ks[c] * log(u[i])) / ks[c]);
            assert_int_equal(vbt_psis(lw, n, &k), VBT_OK);
            kmean += k / 10.0;
        }
        printf("# PSIS: GPD k = %.1f, mean k-hat of 10 replicates %.3f\n", ks[c], kmean);
        assert_true(fabs(kmean - ks[c]) < 0.1);
        double sum = 0, mx = -HUGE_VAL;
        for (size_t i = 0; i < n; i++) {
            sum += exp(lw[i]);
            mx = fmax(mx, lw[i]);
        }
        assert_close(sum, 1.0, 1e-12);
        assert_true(mx < log(0.05)); /* smoothing tamed the largest weight */
    }
    /* normal log ratios: exp(N(0, 0.5)) has light tails */
    vbt_rng r;
    vbt_rng_init(&r, 17, 9);
    vbt_rng_normal(&r, lw, n);
    for (size_t i = 0; i < n; i++)
        lw[i] *= 0.5;
    double k;
    assert_int_equal(vbt_psis(lw, n, &k), VBT_OK);
    assert_true(k < 0.3);
    assert_int_equal(vbt_psis(lw, 4, &k), VBT_EINVAL);
    for (size_t i = 0; i < 10; i++)
        lw[i] = -HUGE_VAL;
    assert_int_equal(vbt_psis(lw, 10, &k), VBT_ENUMERIC);
    free(lw);
    free(u);
}

static void test_priors_json(void **state)
{
    (void)state;
    load_fixture();
    char *dir = tu_mkdtemp();
    const char *path = tu_path(dir, "priors.json");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"x0\": {\"mu\": -3.0, \"sd\": 2.5, \"nu\": 4}, \"x0_ez\": {\"mu\": -1.4, \"sd\": 0.5},"
             " \"ez\": [1, \"%s\"], \"K\": {\"dist\": \"lognormal\", \"mu\": 0.1, \"sd\": 0.2},"
             " \"tau0\": {\"fixed\": false, \"lower\": 4},"
             " \"offset\": {\"sd\": 3, \"marginal\": true}, \"likelihood_weight\": 0.25,"
             " \"input_gain\": {\"sd\": 0.4, \"fixed\": false}}",
             FX.labels[6]);
    tu_write_file(path, text);
    vbt_vep_priors p;
    vbt_vep_priors_default(&p);
    vbt_msg msg;
    if (vbt_vep_priors_load_json(&p, path, (const char (*)[VBT_LABEL_MAX])FX.labels, NR, &msg))
        fail_msg("%s", msg.text);
    assert_close(p.x0.mu, -3.0, 0);
    assert_close(p.x0.sd, 2.5, 0);
    assert_close(p.x0.nu, 4.0, 0);
    assert_close(p.x_init.nu, 0.0, 0); /* normal unless told */
    assert_close(p.x0_ez_mu, -1.4, 0);
    assert_int_equal(p.n_ez, 2);
    assert_int_equal(p.ez[0], 1);
    assert_int_equal(p.ez[1], 6);
    assert_int_equal(p.K.dist, VBT_VEP_LOGNORMAL);
    assert_int_equal(p.tau0.fixed, 0);
    assert_close(p.tau0.lo, 4.0, 0);
    assert_close(p.tau0.mu, 20.0, 0); /* untouched default */
    assert_close(p.off.sd, 3.0, 0);
    assert_int_equal(p.off_marginal, 1);
    assert_close(p.lik_weight, 0.25, 0);
    assert_int_equal(p.gin.fixed, 0);
    assert_close(p.gin.sd, 0.4, 0);
    assert_close(p.gin.mu, 0.0, 0); /* untouched default */

    struct { const char *json; int status; } bad[] = {
        {"{\"x0\": {\"mean\": 1}}", VBT_EFORMAT},
        {"{\"K\": {\"dist\": \"gamma\"}}", VBT_EFORMAT},
        {"{\"ez\": [\"no-such-region\"]}", VBT_ENOTFOUND},
        {"{\"ez\": [8]}", VBT_ERANGE},
        {"{\"eps\": {\"sd\": -1}}", VBT_EINVAL},
        {"{\"amp\": {\"fixed\": true, \"value\": -1}}", VBT_ERANGE},
        {"{\"bogus\": 1}", VBT_EFORMAT},
        {"{\"x0\": {\"marginal\": true}}", VBT_EFORMAT}, /* offsets only */
        {"{\"offset\": {\"marginal\": 1}}", VBT_EFORMAT},
        {"{\"offset\": {\"nu\": 3}}", VBT_EFORMAT}, /* the offsets stay normal */
        {"{\"x0_ez\": {\"nu\": 3}}", VBT_EFORMAT},  /* so does the hypothesis */
        {"{\"x0\": {\"nu\": -2}}", VBT_EINVAL},
        {"{\"z_init\": {\"nu\": \"3\"}}", VBT_EFORMAT},
        {"{\"likelihood_weight\": 0}", VBT_EFORMAT},   /* (0, 1] */
        {"{\"likelihood_weight\": 1.5}", VBT_EFORMAT},
        {"{\"likelihood_weight\": \"0.5\"}", VBT_EFORMAT},
        {"{\"input_gain\": {\"nu\": 3}}", VBT_EFORMAT}, /* the log gains stay normal */
        {"{\"input_gain\": {\"sd\": 0}}", VBT_EINVAL},
        {"[1, 2", VBT_EFORMAT},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        vbt_vep_priors q;
        vbt_vep_priors_default(&q);
        tu_write_file(path, bad[k].json);
        int st = vbt_vep_priors_load_json(&q, path, (const char (*)[VBT_LABEL_MAX])FX.labels, NR,
                                          &msg);
        if (st != bad[k].status)
            fail_msg("%s: status %d, expected %d (%s)", bad[k].json, st, bad[k].status, msg.text);
        if (!strstr(msg.text, "priors.json")) /* one line naming the file */
            fail_msg("%s: the message does not name the file: %s", bad[k].json, msg.text);
        assert_close(q.x0.mu, -2.5, 0); /* left untouched on error */
    }
    assert_int_equal(vbt_vep_priors_load_json(&p, tu_path(dir, "absent.json"), NULL, NR, &msg),
                     VBT_EIO);

    /* vbt_vep_priors_json: the text reads back to the same priors, every
     * field, from the defaults (so keys the text might omit would show) */
    p.x0_ez_sd = 0.1 + 1e-16 * 3; /* a value that needs 17 digits */
    p.z_init.nu = 6.5;
    p.eps.fixed = 1;
    p.eps.value = 0.25;
    char *txt = vbt_vep_priors_json(&p);
    assert_non_null(txt);
    tu_write_file(path, txt);
    vbt_vep_priors q;
    vbt_vep_priors_default(&q);
    if (vbt_vep_priors_load_json(&q, path, NULL, NR, &msg))
        fail_msg("%s\n%s", msg.text, txt);
    /* both start from vbt_vep_priors_default's memset: padding compares too */
    assert_memory_equal(&p, &q, sizeof p);
    free(txt);
    tu_rmtree(dir);
    free(dir);
}

/* The tempered likelihood (priors.lik_weight = w): by definition
 * logp_w = logprior + w (logp_1 - logprior) at every point, and so is the
 * gradient; checked against the untempered model at random points of every
 * observation model, plus the adjoint gradient against central differences.
 * w = 1 and w = 0 (unset) give the plain model bit for bit; a weight outside
 * [0, 1] is refused. */
static void test_likelihood_weight(void **state)
{
    (void)state;
    for (int obs = 0; obs < 4; obs++) {
        vbt_vep_spec s;
        base_spec(&s, VBT_VEP_HEUN, (vbt_vep_obs)obs, 1);
        free_all_params(&s);
        vbt_vep *m1 = build(&s);
        s.priors.lik_weight = 1.0;
        vbt_vep *mone = build(&s);
        s.priors.lik_weight = 0.3;
        vbt_vep *mw = build(&s);
        size_t np = vbt_vep_n_params(m1);
        assert_int_equal(vbt_vep_n_params(mw), np);
        double *th = malloc(np * sizeof *th), *g1 = malloc(np * sizeof *g1),
               *gw = malloc(np * sizeof *gw), *gp = malloc(np * sizeof *gp),
               *gone = malloc(np * sizeof *gone);
        for (uint64_t k = 0; k < 4; k++) {
            random_point(m1, 300 + k, th);
            double lp1, lpw, lpone;
            assert_int_equal(vbt_vep_logp(m1, th, &lp1, g1), VBT_OK);
            assert_int_equal(vbt_vep_logp(mone, th, &lpone, gone), VBT_OK);
            assert_true(lp1 == lpone);
            assert_memory_equal(g1, gone, np * sizeof *g1);
            assert_int_equal(vbt_vep_logp(mw, th, &lpw, gw), VBT_OK);
            double pr = vbt_vep_logprior(m1, th, gp);
            double want = pr + 0.3 * (lp1 - pr);
            /* the same sums in another order: rounding of |lp| ~ 1e3 */
            assert_close(lpw, want, 1e-10 * fmax(1.0, fabs(want)));
            for (size_t i = 0; i < np; i++) {
                double gi = gp[i] + 0.3 * (g1[i] - gp[i]);
                assert_close(gw[i], gi, 1e-9 * fmax(1.0, fabs(gi)));
            }
            char what[64];
            snprintf(what, sizeof what, "tempered obs %d point %d", obs, (int)k);
            assert_true(fd_check(mw, th, gw, lpw, what) < 1e-6);
        }
        free(th);
        free(g1);
        free(gw);
        free(gp);
        free(gone);
        vbt_vep_free(m1);
        vbt_vep_free(mone);
        vbt_vep_free(mw);
    }
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_msg msg;
    vbt_vep *m = NULL;
    s.priors.lik_weight = 1.5;
    assert_int_equal(vbt_vep_alloc(&m, &s, &msg), VBT_EINVAL);
    assert_null(m);
    assert_non_null(strstr(msg.text, "likelihood_weight"));
    s.priors.lik_weight = -0.1;
    assert_int_equal(vbt_vep_alloc(&m, &s, &msg), VBT_EINVAL);
}

/* Student-t group priors (nu > 0): the log prior against GSL's t and normal
 * densities element by element, its gradient and the whole posterior's
 * against central differences, the prior draws against the t CDF
 * (Kolmogorov-Smirnov), and the hypothesised EZ region keeping its normal
 * prior. */
static void test_student_t_prior(void **state)
{
    (void)state;
    vbt_vep_spec s;
    base_spec(&s, VBT_VEP_HEUN, VBT_VEP_OBS_LINEAR, 1);
    free_all_params(&s); /* region 5 is the hypothesised EZ */
    s.priors.x0.nu = 3.0;
    s.priors.z_init.nu = 7.5;
    vbt_vep *m = build(&s);
    size_t np = vbt_vep_n_params(m);
    double *th = malloc(np * sizeof *th), *g = malloc(np * sizeof *g),
           *gp = malloc(np * sizeof *gp);
    random_point(m, 3, th);
    th[0] = 6.0; /* far in the tail, where t and normal differ most */

    /* log prior, element by element from GSL; scalars as the normal model
     * has them (the same spec without nu) */
    vbt_vep_spec sn = s;
    sn.priors.x0.nu = sn.priors.z_init.nu = 0;
    vbt_vep *mn = build(&sn);
    double want = vbt_vep_logprior(mn, th, NULL);
    for (size_t r = 0; r < NR; r++) {
        double x = th[r], z = th[2 * NR + r];
        if (r != 5)
            want += log(gsl_ran_tdist_pdf(x, 3.0)) - log(gsl_ran_ugaussian_pdf(x));
        want += log(gsl_ran_tdist_pdf(z, 7.5)) - log(gsl_ran_ugaussian_pdf(z));
    }
    double lp0 = vbt_vep_logprior(m, th, gp);
    assert_close(lp0, want, 1e-12 * fabs(want));
    for (size_t i = 0; i < np; i++) {
        double t0 = th[i], h = 1e-6 * fmax(1.0, fabs(t0));
        th[i] = t0 + h;
        double fp = vbt_vep_logprior(m, th, NULL);
        th[i] = t0 - h;
        double fm = vbt_vep_logprior(m, th, NULL);
        th[i] = t0;
        assert_close(gp[i], (fp - fm) / (2 * h), 1e-7 * fmax(1.0, fabs(gp[i])));
    }
    /* natural units per unit of theta: the prior's scale; the EZ's own */
    assert_close(vbt_vep_param_scale(m, 0), s.priors.x0.sd, 0);
    assert_close(vbt_vep_param_scale(m, 5), s.priors.x0_ez_sd, 0);
    assert_close(vbt_vep_param_scale(m, 2 * NR + 1), s.priors.z_init.sd, 0);
    assert_true(isnan(vbt_vep_param_scale(m, (size_t)vbt_vep_param_index(m, "K"))));
    assert_true(isnan(vbt_vep_param_scale(m, np)));
    /* prior sd: scale sqrt(nu / (nu - 2)) for a t, the EZ's own normal sd */
    assert_close(vbt_vep_param_prior_sd(m, 0), s.priors.x0.sd * sqrt(3.0), 1e-15);
    assert_close(vbt_vep_param_prior_sd(m, 5), s.priors.x0_ez_sd, 0);
    assert_close(vbt_vep_param_prior_sd(m, 2 * NR), s.priors.z_init.sd * sqrt(7.5 / 5.5), 1e-15);
    assert_close(vbt_vep_param_prior_sd(m, NR), s.priors.x_init.sd, 0);
    assert_true(isnan(vbt_vep_param_prior_sd(m, np)));
    /* the pull of the t prior on x0[1] at raw 6: (nu + 1) r / (nu + r^2) */
    assert_close(gp[0], -4.0 * 6.0 / 39.0, 1e-15);
    double lp;
    assert_int_equal(vbt_vep_logp(m, th, &lp, g), VBT_OK);
    printf("# Student-t prior: whole-posterior gradient vs FD, relative %.2e\n",
           fd_check(m, th, g, lp, "student-t"));

    /* prior draws: the raw x0 of the t regions follow t_3, the EZ's N(0, 1) */
    enum { ND = 1000 };
    double *t3 = malloc(ND * (NR - 1) * sizeof *t3), ez[ND];
    size_t nt3 = 0;
    for (size_t d = 0; d < ND; d++) {
        vbt_vep_prior_draw(m, 99, d, th);
        for (size_t r = 0; r < NR; r++)
            if (r == 5)
                ez[d] = th[r];
            else
                t3[nt3++] = th[r];
    }
    gsl_sort(t3, 1, nt3);
    gsl_sort(ez, 1, ND);
    double D = 0, Dez = 0;
    for (size_t k = 0; k < nt3; k++) {
        double F = gsl_cdf_tdist_P(t3[k], 3.0);
        D = fmax(D, fmax(fabs(F - (double)k / nt3), fabs(F - (double)(k + 1) / nt3)));
    }
    for (size_t k = 0; k < ND; k++) {
        double F = gsl_cdf_ugaussian_P(ez[k]);
        Dez = fmax(Dez, fmax(fabs(F - (double)k / ND), fabs(F - (double)(k + 1) / ND)));
    }
    /* 1 % critical value of the KS statistic: 1.63 / sqrt(n) */
    printf("# Student-t prior draws: KS D = %.4f (t_3, n %zu), %.4f (EZ normal, n %d)\n", D, nt3,
           Dez, ND);
    assert_true(D < 1.63 / sqrt((double)nt3));
    assert_true(Dez < 1.63 / sqrt((double)ND));
    /* t_3 has heavier tails than N(0, 1): P(|r| > 3) = 0.058, against 0.0027 */
    size_t tail = 0;
    for (size_t k = 0; k < nt3; k++)
        tail += fabs(t3[k]) > 3.0;
    assert_true(tail > nt3 / 50);

    /* invalid degrees of freedom; offsets must stay normal */
    vbt_vep *bad = NULL;
    vbt_msg msg;
    vbt_vep_spec b = s;
    b.priors.x0.nu = -1;
    assert_int_equal(vbt_vep_alloc(&bad, &b, &msg), VBT_EINVAL);
    b = s;
    b.priors.off.nu = 3;
    assert_int_equal(vbt_vep_alloc(&bad, &b, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "offset"));
    assert_null(bad);
    free(t3);
    free(th);
    free(g);
    free(gp);
    vbt_vep_free(m);
    vbt_vep_free(mn);
}

/* ---- batches ---------------------------------------------------------------- */

/* vbt_vep_logp_batch against vbt_vep_logp row by row, byte for byte (the
 * batch promises the same operations per row, so no tolerance): every scheme
 * and observation model, 1 and 2 steps per sample, batches of 1, 3, 8 and 3
 * again (lanes kept from the larger batch), values alone and with the
 * gradient, marginal offsets and a tempered likelihood on some, and one row
 * whose trajectory is not finite (that row -HUGE_VAL and a zero gradient,
 * the others untouched).  Also at 84 regions (two blocks of 32 and a tail in
 * the coupling's product) on RK4. */
static void check_batch(vbt_vep *m, size_t B, uint64_t stream, int with_bad, const char *what)
{
    size_t np = vbt_vep_n_params(m);
    double *th = malloc(B * np * sizeof *th), *g = malloc(B * np * sizeof *g);
    double *g1 = malloc(np * sizeof *g1), *lp = malloc(B * sizeof *lp), *lpv = malloc(B * sizeof *lpv);
    assert_non_null(th);
    assert_non_null(g);
    assert_non_null(g1);
    assert_non_null(lp);
    assert_non_null(lpv);
    for (size_t b = 0; b < B; b++)
        random_point(m, stream + b, th + b * np);
    long ik = vbt_vep_param_index(m, "K");
    size_t bad = B / 2;
    if (with_bad && ik >= 0)
        th[bad * np + (size_t)ik] = 30.0; /* K = e^30: the trajectory overflows */
    int st = vbt_vep_logp_batch(m, B, th, lp, g);
    int stv = vbt_vep_logp_batch(m, B, th, lpv, NULL);
    int any_bad = 0;
    for (size_t b = 0; b < B; b++) {
        double lp1, lpv1;
        int s1 = vbt_vep_logp(m, th + b * np, &lp1, g1);
        int sv1 = vbt_vep_logp(m, th + b * np, &lpv1, NULL);
        any_bad |= s1 != VBT_OK;
        if (memcmp(&lp1, &lp[b], sizeof lp1) || memcmp(&lpv1, &lpv[b], sizeof lpv1))
            fail_msg("%s B %zu row %zu: batch lp %.17g / %.17g, alone %.17g / %.17g", what, B, b,
                     lp[b], lpv[b], lp1, lpv1);
        if (memcmp(g1, g + b * np, np * sizeof *g1))
            fail_msg("%s B %zu row %zu: batch gradient differs from the lone one", what, B, b);
        if (s1 != VBT_OK) {
            assert_int_equal(s1, VBT_ENUMERIC);
            assert_int_equal(sv1, VBT_ENUMERIC);
            assert_true(lp[b] == -HUGE_VAL);
            for (size_t i = 0; i < np; i++)
                assert_true(g[b * np + i] == 0.0);
        }
    }
    if (with_bad && ik >= 0)
        assert_true(any_bad); /* the test row did blow up */
    assert_int_equal(st, any_bad ? VBT_ENUMERIC : VBT_OK);
    assert_int_equal(stv, any_bad ? VBT_ENUMERIC : VBT_OK);
    free(th);
    free(g);
    free(g1);
    free(lp);
    free(lpv);
}

static void test_logp_batch(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 3, 8, 3};
    for (int sc = 0; sc < 3; sc++)
        for (int obs = 0; obs < 4; obs++)
            for (size_t steps = 1; steps <= 2; steps++) {
                vbt_vep_spec s;
                base_spec(&s, SCHEMES[sc], (vbt_vep_obs)obs, steps);
                free_all_params(&s);
                s.priors.off_marginal = steps == 2;
                if (obs == VBT_VEP_OBS_LINEAR && steps == 2)
                    s.priors.lik_weight = 0.5;
                vbt_vep *m = build(&s);
                char what[64];
                snprintf(what, sizeof what, "%s obs %d steps %zu", SCHEME_NAMES[sc], obs, steps);
                for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
                    check_batch(m, sizes[k], 10 * k, k == 2, what);
                vbt_vep_free(m);
            }
    /* 84 regions: the Desikan weights, a random gain, data from a prior draw */
    enum { NB = 84, NSB = 12, NTB = 40 };
    vbt_connectome *c = NULL;
    vbt_msg msg;
    if (vbt_connectome_load(&c, tu_path(tu_samples_dir(), "connectivity_84_desikan.zip"), &msg))
        fail_msg("%s", msg.text);
    assert_int_equal(c->n, NB);
    double *G = malloc(NSB * NB * sizeof *G), *Y = malloc(NTB * NSB * sizeof *Y);
    assert_non_null(G);
    assert_non_null(Y);
    vbt_rng r;
    vbt_rng_init(&r, 5, 5);
    vbt_rng_uniform(&r, G, NSB * NB);
    vbt_vep_spec s;
    vbt_vep_spec_default(&s);
    s.n_regions = NB;
    s.n_sensors = NSB;
    s.n_samples = NTB;
    s.weights = c->weights;
    s.gain = G;
    s.scheme = VBT_VEP_RK4;
    vbt_vep *m0 = build(&s);
    double *th = malloc(vbt_vep_n_params(m0) * sizeof *th);
    assert_non_null(th);
    vbt_vep_prior_draw(m0, 1, 2, th);
    assert_int_equal(vbt_vep_simulate(m0, th, NULL, Y), VBT_OK);
    vbt_vep_free(m0);
    s.data = Y;
    vbt_vep *m = build(&s);
    check_batch(m, 8, 3, 1, "84 regions rk4");
    check_batch(m, 5, 30, 0, "84 regions rk4");
    vbt_vep_free(m);
    vbt_connectome_free(c);
    free(th);
    free(G);
    free(Y);
}

/* ---- network sizes ------------------------------------------------------- */

/* f of the Epileptor network for any n, written from the equations. */
static void naive_f_n(size_t n, const double *C, double I1, const double *x0, double K,
                      double tau0, const double *s, double *k)
{
    for (size_t i = 0; i < n; i++) {
        double x = s[i], z = s[n + i], cpl = 0;
        for (size_t j = 0; j < n; j++)
            cpl += C[i * n + j] * (s[j] - x);
        k[i] = 1.0 - x * x * x - 2.0 * x * x - z + I1;
        k[n + i] = (4.0 * (x - x0[i]) - z - K * cpl) / tau0;
    }
}

/* The coupling's matrix-vector product works on blocks of 32 regions and a
 * tail of 8, 16 or 24 (rows padded to a multiple of 8), in either direction:
 * sizes on both sides of every boundary.  The trajectory of vbt_vep_simulate
 * against a naive Euler / RK4 written here (coupling summed as
 * sum_j C_ij (x_j - x_i), not as L x: only rounding differs, about n eps
 * |x| per step, grown by the dynamics over 30 steps of 0.1 to well under
 * 1e-9 relative; a block or tail that is missed or misplaced is wrong by
 * O(1)).  At 41 and 84 regions, the adjoint gradient against central
 * differences as in test_gradient_fd. */
static void test_network_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 7, 8, 9, 24, 31, 32, 33, 41, 57, 64, 84, 100};
    enum { NSZ = 5, NTZ = 30 };
    double worst = 0;
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++)
        for (int sc = 0; sc < 3; sc += 2) { /* Euler, RK4 */
            size_t n = sizes[q];
            double *W = calloc(n * n, sizeof *W), *G = malloc(NSZ * n * sizeof *G);
            double *X = malloc(NTZ * n * sizeof *X), *Yd = malloc(NTZ * NSZ * sizeof *Yd);
            double *nat = NULL, *th = NULL, *g = NULL, *x0 = malloc(n * sizeof *x0);
            double *st = malloc(2 * n * sizeof *st), *k1 = malloc(10 * n * sizeof *k1);
            assert_non_null(W);
            assert_non_null(G);
            assert_non_null(X);
            assert_non_null(Yd);
            assert_non_null(x0);
            assert_non_null(st);
            assert_non_null(k1);
            vbt_rng r;
            vbt_rng_init(&r, 31, n);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    double u[2];
                    vbt_rng_uniform(&r, u, 2);
                    W[i * n + j] = i != j && u[0] < 0.5 ? 2.0 * u[1] / (double)n : 0.0;
                }
            vbt_rng_uniform(&r, G, NSZ * n);
            vbt_vep_spec s;
            vbt_vep_spec_default(&s);
            s.n_regions = n;
            s.n_sensors = NSZ;
            s.n_samples = NTZ;
            s.weights = W;
            s.normalize = VBT_NORMALIZE_NONE;
            s.gain = G;
            s.scheme = SCHEMES[sc];
            s.dt = 0.1;
            s.priors.tau0.fixed = 0;
            vbt_vep *m = build(&s);
            size_t np = vbt_vep_n_params(m);
            nat = malloc(np * sizeof *nat);
            th = malloc(np * sizeof *th);
            g = malloc(np * sizeof *g);
            assert_non_null(nat);
            assert_non_null(th);
            assert_non_null(g);
            random_point(m, 7 + n, th);
            assert_int_equal(vbt_vep_simulate(m, th, X, Yd), VBT_OK);
            assert_int_equal(vbt_vep_constrain(m, th, nat), VBT_OK);
            double K = nat[vbt_vep_param_index(m, "K")], tau0 = nat[vbt_vep_param_index(m, "tau0")];
            for (size_t i = 0; i < n; i++) {
                x0[i] = nat[i];
                st[i] = nat[n + i];
                st[n + i] = nat[2 * n + i];
            }
            /* naive integration; k1..k4, y in k1[0 .. 10 n) */
            double *ka = k1, *kb = k1 + 2 * n, *kc = k1 + 4 * n, *kd = k1 + 6 * n,
                   *y = k1 + 8 * n, h = 0.1, err = 0, mx = 0;
            for (size_t t = 0; t < NTZ; t++) {
                if (t > 0) {
                    naive_f_n(n, W, s.I1, x0, K, tau0, st, ka);
                    if (sc == 0) {
                        for (size_t v = 0; v < 2 * n; v++)
                            st[v] += h * ka[v];
                    } else {
                        for (size_t v = 0; v < 2 * n; v++)
                            y[v] = st[v] + 0.5 * h * ka[v];
                        naive_f_n(n, W, s.I1, x0, K, tau0, y, kb);
                        for (size_t v = 0; v < 2 * n; v++)
                            y[v] = st[v] + 0.5 * h * kb[v];
                        naive_f_n(n, W, s.I1, x0, K, tau0, y, kc);
                        for (size_t v = 0; v < 2 * n; v++)
                            y[v] = st[v] + h * kc[v];
                        naive_f_n(n, W, s.I1, x0, K, tau0, y, kd);
                        for (size_t v = 0; v < 2 * n; v++)
                            st[v] += h / 6.0 * (ka[v] + 2.0 * kb[v] + 2.0 * kc[v] + kd[v]);
                    }
                }
                for (size_t i = 0; i < n; i++) {
                    err = fmax(err, fabs(X[t * n + i] - st[i]));
                    mx = fmax(mx, fabs(st[i]));
                }
            }
            worst = fmax(worst, err / mx);
            if (!(err <= 1e-9 * mx))
                fail_msg("%zu regions, %s: trajectory off the naive one by %.3g (max |x| %.3g)",
                         n, SCHEME_NAMES[sc], err, mx);
            if (n == 41 || n == 84) {
                /* the gradient, on data from this model */
                for (size_t k = 0; k < NTZ * NSZ; k++)
                    Yd[k] += 0.05 * sin((double)k);
                vbt_vep_free(m);
                s.data = Yd;
                m = build(&s);
                random_point(m, 3, th);
                double lp;
                assert_int_equal(vbt_vep_logp(m, th, &lp, g), VBT_OK);
                char what[64];
                snprintf(what, sizeof what, "%zu regions %s", n, SCHEME_NAMES[sc]);
                assert_true(fd_check(m, th, g, lp, what) < 1e-6);
            }
            vbt_vep_free(m);
            free(W);
            free(G);
            free(X);
            free(Yd);
            free(nat);
            free(th);
            free(g);
            free(x0);
            free(st);
            free(k1);
        }
    printf("# network sizes 1..100: worst relative trajectory difference to the naive %.2e\n",
           worst);
}

/* BVEP's classes at their boundaries (vep-inference.md 8). */
static void test_x0_class(void **state)
{
    (void)state;
    assert_int_equal(vbt_vep_x0_class(-1.6), VBT_VEP_EZ);
    assert_int_equal(vbt_vep_x0_class(-2.05), VBT_VEP_EZ);
    assert_int_equal(vbt_vep_x0_class(nextafter(-2.05, -10.0)), VBT_VEP_PZ);
    assert_int_equal(vbt_vep_x0_class(-3.05), VBT_VEP_PZ);
    assert_int_equal(vbt_vep_x0_class(nextafter(-3.05, -10.0)), VBT_VEP_HZ);
    assert_int_equal(vbt_vep_x0_class(NAN), VBT_VEP_HZ);
    assert_string_equal(vbt_vep_class_name(VBT_VEP_EZ), "EZ");
    assert_string_equal(vbt_vep_class_name(VBT_VEP_PZ), "PZ");
    assert_string_equal(vbt_vep_class_name(VBT_VEP_HZ), "HZ");
}

static void test_errors(void **state)
{
    (void)state;
    vbt_vep_spec s, b;
    base_spec(&s, VBT_VEP_EULER, VBT_VEP_OBS_LINEAR, 1);
    vbt_vep *m = NULL;
    vbt_msg msg;
    double Gneg[NS * NR], Wnan[NR * NR];
    memcpy(Gneg, FX.G, sizeof Gneg);
    Gneg[3] = -0.1;
    memcpy(Wnan, FX.W, sizeof Wnan);
    Wnan[5] = NAN;

    b = s; b.n_regions = 0;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    assert_null(m);
    b = s; b.weights = NULL;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    b = s; b.dt = 0;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    b = s; b.steps = 0;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    b = s; b.scheme = (vbt_vep_scheme)7;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    b = s; b.obs = VBT_VEP_OBS_LOGPOWER; b.gain = Gneg;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    assert_non_null(strstr(msg.text, "gain"));
    b = s; b.weights = Wnan;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_ENUMERIC);
    b = s; b.priors.n_ez = 1; b.priors.ez[0] = NR;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_ERANGE);
    b = s; b.priors.K.sd = 0;
    assert_int_equal(vbt_vep_alloc(&m, &b, &msg), VBT_EINVAL);
    assert_int_equal(vbt_vep_alloc(NULL, &s, &msg), VBT_EINVAL);
    assert_int_equal(vbt_vep_alloc(&m, NULL, &msg), VBT_EINVAL);

    /* a blown-up trajectory is reported, not a crash */
    b = s;
    b.priors.tau0.fixed = 0;
    m = build(&b);
    size_t np = vbt_vep_n_params(m);
    double *th = calloc(np, sizeof *th), *g = malloc(np * sizeof *g), lp;
    for (size_t i = NR; i < 2 * NR; i++)
        th[i] = 40.0; /* x_init = 38.5: the cubic explodes under Euler at dt 0.1 */
    assert_int_equal(vbt_vep_logp(m, th, &lp, g), VBT_ENUMERIC);
    assert_true(lp == -HUGE_VAL);
    assert_true(g[0] == 0.0);
    /* a model without data simulates but has no log posterior */
    vbt_vep_free(m);
    b = s;
    b.data = NULL;
    m = build(&b);
    assert_int_equal(vbt_vep_logp(m, th, &lp, NULL), VBT_EINVAL);
    vbt_vep_map_opts o;
    vbt_vep_map_opts_default(&o);
    o.n_starts = 0;
    assert_int_equal(vbt_vep_map(m, &o, th, &(vbt_vep_map_result){0}, NULL, NULL, &msg),
                     VBT_EINVAL);
    free(th);
    free(g);
    vbt_vep_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_layout),
        cmocka_unit_test(test_logp_matches_naive),
        cmocka_unit_test(test_gradient_fd),
        cmocka_unit_test(test_input_gains),
        cmocka_unit_test(test_network_sizes),
        cmocka_unit_test(test_logp_batch),
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_marginal_offsets),
        cmocka_unit_test(test_psis_khat),
        cmocka_unit_test(test_map_recovery),
        cmocka_unit_test(test_map_reproducible),
        cmocka_unit_test(test_map_progress),
        cmocka_unit_test(test_map_polish_best),
        cmocka_unit_test(test_map_hops),
        cmocka_unit_test(test_newton_polish),
        cmocka_unit_test(test_x0_from_data),
        cmocka_unit_test(test_priors_json),
        cmocka_unit_test(test_student_t_prior),
        cmocka_unit_test(test_likelihood_weight),
        cmocka_unit_test(test_x0_class),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
