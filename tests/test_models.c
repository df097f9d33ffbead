/* test_models.c -- the neural-mass models: derivatives at fixed states
 * against values computed by hand from the reference equations, the
 * registry battery run over every model (ranges, Jacobians, clamps), the 2D
 * Epileptor's bifurcation at the fold of the x1-nullcline, and known fixed
 * points of the generic 2D oscillator, reduced Wong-Wang and
 * Montbrio-Pazo-Roxin models and the free rotation of a Kuramoto node. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "vbt.h"

/* Relative tolerance for derivatives: the reference values were evaluated
 * in double precision from the sheet's formulas; 1e-12 leaves room for a
 * different but equivalent operation order. */
static void assert_rel(double got, double want, const char *what)
{
    double tol = 1e-12 * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol))
        fail_msg("%s = %.17g, expected %.17g (diff %.3g)", what, got, want, fabs(got - want));
}

/* Parameters stored per lane, p[i*n + k], from the defaults. */
static double *params_for(const vbt_model_type *m, size_t n)
{
    double *p = malloc(m->n_param * n * sizeof *p);
    for (size_t i = 0; i < m->n_param; i++)
        for (size_t k = 0; k < n; k++)
            p[i * n + k] = m->params[i].def;
    return p;
}

static void set_param(const vbt_model_type *m, double *p, size_t n, const char *name, double v)
{
    long i = vbt_param_index(m->params, m->n_param, name);
    assert_true(i >= 0);
    for (size_t k = 0; k < n; k++)
        p[(size_t)i * n + k] = v;
}

/* Two lanes, two states: A exercises the x1 < 0, z > 0, x2 < -0.25
 * branches; B the x1 >= 0, z < 0, x2 >= -0.25 branches.  Parameters:
 * defaults with x0 = -2.1, Ks = -0.2, Kf = 0.1, Kvf = 0.05, r = 0.00015,
 * tt = 1.3.  Expected values from the formulas of
 * ../shared/reference/network-models.md section 4, e.g. for A:
 *   f1  = -x1^2 + 3 x1 = -5.22731025
 *   dx1 = 1.3 (y1 - z + 3.1 + 0.05 c0 + f1 x1) = -12.452775772287499 */
static void test_epileptor_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_epileptor;
    const size_t n = 2;
    double *p = params_for(m, n);
    set_param(m, p, n, "x0", -2.1);
    set_param(m, p, n, "Ks", -0.2);
    set_param(m, p, n, "Kf", 0.1);
    set_param(m, p, n, "Kvf", 0.05);
    set_param(m, p, n, "r", 0.00015);
    set_param(m, p, n, "tt", 1.3);
    const double A[6] = {-1.2345, -15.678, 3.456, -0.789, 0.123, -0.0456};
    const double B[6] = {0.4321, -3.21, -0.567, 0.345, 1.234, 0.0789};
    double x[12], c[4] = {0.0321, -0.0456, -0.0123, 0.0789}, dx[12];
    for (size_t v = 0; v < 6; v++) {
        x[v * n + 0] = A[v];
        x[v * n + 1] = B[v];
    }
    m->dfun(n, x, c, p, dx);
    const double wantA[6] = {-12.452775772287499, 11.775463375000001, -8.189999999986896e-08,
                             -0.06507921029999994, -0.015990000000000001, -0.00101205};
    const double wantB[6] = {7.4271055275820004, 4.2593823350000006, 0.0020877487804346301,
                             1.1774442875, 0.30367999999999995, -0.00046397000000000002};
    for (size_t v = 0; v < 6; v++) {
        char what[32];
        snprintf(what, sizeof what, "A d%s", m->state_names[v]);
        assert_rel(dx[v * n + 0], wantA[v], what);
        snprintf(what, sizeof what, "B d%s", m->state_names[v]);
        assert_rel(dx[v * n + 1], wantB[v], what);
    }
    /* dz at A is a difference of nearly equal terms: check it absolutely too. */
    assert_close(dx[2 * n], -8.19e-08, 1e-15);

    /* modification = 1 in lane 0 only: the sigmoidal h changes dz there and
     * nothing else, and lane 1 keeps the polynomial h. */
    long im = vbt_param_index(m->params, m->n_param, "modification");
    p[(size_t)im * n + 0] = 1.0;
    m->dfun(n, x, c, p, dx);
    assert_rel(dx[2 * n + 0], -0.0010842943430110904, "A dz (modification)");
    assert_rel(dx[0], wantA[0], "A dx1 (modification)");
    assert_rel(dx[2 * n + 1], wantB[2], "B dz (no modification)");
    free(p);
}

static void test_epileptor2d_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_epileptor2d;
    const size_t n = 2;
    double *p = params_for(m, n);
    set_param(m, p, n, "x0", -2.1);
    set_param(m, p, n, "Ks", -0.2);
    set_param(m, p, n, "Kvf", 0.05);
    set_param(m, p, n, "slope", 0.3);
    set_param(m, p, n, "tt", 1.3);
    /* r stays at its default 0.00035 */
    double x[4] = {-1.2345, 0.4321, 3.456, -0.567}, c[2] = {0.0321, -0.0456}, dx[4];
    m->dfun(n, x, c, p, dx);
    assert_rel(dx[0], -0.67731239728749992, "A dx1");
    assert_rel(dx[2], -1.9109999999969423e-07, "A dz");
    assert_rel(dx[1], 12.048803712582002, "B dx1");
    assert_rel(dx[3], 0.0048714138210141375, "B dz");
    /* With defaults and x1 < 0, dx1 = 1 - x1^3 - 2 x1^2 - z + Iext (the VEP form). */
    free(p);
    p = params_for(m, 1);
    double x1 = -1.7, z = 3.2, xs[2] = {x1, z}, c0 = 0.0, d[2];
    m->dfun(1, xs, &c0, p, d);
    assert_close(d[0], 1.0 - x1 * x1 * x1 - 2.0 * x1 * x1 - z + 3.1, 1e-13);
    free(p);
}

/* Strictly relative: |got - want| <= 1e-12 |want| (exact when want is 0). */
static void assert_relative(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want)))
        fail_msg("%s = %.17g, expected %.17g (relative error %.3g)", what, got, want,
                 fabs(got - want) / fabs(want));
}

/* dfun of m on two lanes holding states xa, xb and inputs ca, cb; the
 * derivatives of lane 0 go to da, of lane 1 to db. */
static void dfun2(const vbt_model_type *m, const double *p, const double *xa, const double *xb,
                  const double *ca, const double *cb, double *da, double *db)
{
    double x[12], c[4], dx[12];
    assert_true(m->n_state <= 6 && m->n_cvar <= 2);
    for (size_t v = 0; v < m->n_state; v++) {
        x[2 * v] = xa[v];
        x[2 * v + 1] = xb[v];
    }
    for (size_t v = 0; v < m->n_cvar; v++) {
        c[2 * v] = ca[v];
        c[2 * v + 1] = cb[v];
    }
    m->dfun(2, x, c, p, dx);
    for (size_t v = 0; v < m->n_state; v++) {
        da[v] = dx[2 * v];
        db[v] = dx[2 * v + 1];
    }
}

static void assert_derivs(const vbt_model_type *m, const char *lane, const double *got,
                          const double *want)
{
    for (size_t v = 0; v < m->n_state; v++) {
        char what[64];
        snprintf(what, sizeof what, "%s %s d%s", m->name, lane, m->state_names[v]);
        assert_relative(got[v], want[v], what);
    }
}

/* Jansen-Rit, non-default parameters A = 3.7, B = 24.5, a = 0.12, b = 0.055,
 * v0 = 5.9, nu_max = 0.0031, r = 0.61, J = 128, a_1 = 1.1, a_2 = 0.85,
 * a_3 = 0.27, a_4 = 0.23, mu = 0.19; S(v) = 2 nu_max / (1 + exp(r (v0 - v))).
 * Lane A: S(y1 - y2) = 0.0012561829467489334, S(a_1 J y0) =
 * 0.005801965301283742, S(a_3 J y0) = 0.0007021688592877345.  Lane B:
 * 3.325553161509119e-07, 3.2051595673632583e-06, 6.33744237803201e-05. */
static void test_jansen_rit_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_jansen_rit;
    const size_t n = 2;
    double *p = params_for(m, n);
    const char *names[] = {"A", "B", "a", "b", "v0", "nu_max", "r", "J", "a_1", "a_2", "a_3",
                           "a_4", "mu"};
    const double vals[] = {3.7, 24.5, 0.12, 0.055, 5.9, 0.0031, 0.61, 128.0, 1.1, 0.85, 0.27,
                           0.23, 0.19};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        set_param(m, p, n, names[i], vals[i]);
    const double xa[6] = {0.0731, 12.385, 8.731, -0.4567, 2.385, -3.21};
    const double xb[6] = {-0.0462, -7.31, 2.91, 1.234, -5.678, 13.2};
    /* c1 is a second coupling row the model must ignore. */
    const double ca[2] = {0.00237, 123.4}, cb[2] = {-0.00121, -56.7};
    const double wa[6] = {-0.4567, 2.385, -3.21, 0.10911310522835653, -0.38505502179782597,
                          0.35454404451548815};
    const double wb[6] = {1.234, -5.678, 13.2, -0.29549457234543963, 1.5519615922842525,
                          -1.4582886612588652};
    double da[6], db[6];
    dfun2(m, p, xa, xb, ca, cb, da, db);
    assert_derivs(m, "A", da, wa);
    assert_derivs(m, "B", db, wb);

    /* The sigmoid at hand-computed points, read through dfun with y0 = y3 =
     * y4 = y5 = 0, c0 = 0: dy3 = A a S(y1 - y2), dy4 = A a (mu + a_2 J S(0)),
     * dy5 = B b a_4 J S(0).  S(v0) = nu_max (half the maximum), S(0) =
     * 2 nu_max / (1 + exp(r v0)) = 0.00016506195166743936, S(v0 + 300) =
     * 2 nu_max (saturated), S(v0 - 300) = 2 nu_max exp(-183) (tiny, positive). */
    const double xs[6] = {0.0, 5.9, 0.0, 0.0, 0.0, 0.0};
    const double xt[6] = {0.0, 305.9, 0.0, 0.0, 0.0, 0.0};
    const double c0[2] = {0.0, 0.0};
    const double s0 = 0.00016506195166743936, Aa = 3.7 * 0.12;
    dfun2(m, p, xs, xt, c0, c0, da, db);
    assert_relative(da[3], Aa * 0.0031, "A a S(v0)");
    assert_relative(db[3], Aa * 2.0 * 0.0031, "A a S(v0 + 300)");
    assert_relative(da[4], Aa * (0.19 + 0.85 * 128.0 * s0) - 0.12 * 0.12 * 5.9,
                    "A a (mu + a_2 J S(0)) - a^2 y1");
    assert_relative(da[5], 24.5 * 0.055 * (0.23 * 128.0 * s0), "B b a_4 J S(0)");
    assert_relative(da[4], 0.007373680711589323, "dy4 at y = 0");
    const double xu[6] = {0.0, -294.1, 0.0, 0.0, 0.0, 0.0};
    dfun2(m, p, xu, xs, c0, c0, da, db);
    assert_relative(da[3], Aa * 2.0 * 0.0031 / (1.0 + exp(0.61 * 300.0)), "A a S(v0 - 300)");
    assert_true(da[3] > 0.0);
    free(p);
}

/* Reduced Wong-Wang, a = 0.25, b = 0.1, d = 140, gamma = 0.7, tau_s = 90,
 * w = 0.55, J_N = 0.28, I_o = 0.36.  Lane A: x = w J_N S + I_o + J_N c0 =
 * 0.408405, u = a x - b = 0.00210125, H = 0.008244919268336932.  Lane B:
 * x = 0.465994, u = 0.0164985, H = 0.018317055733614022. */
static void test_reduced_wong_wang_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_reduced_wong_wang;
    const size_t n = 2;
    double *p = params_for(m, n);
    const char *names[] = {"a", "b", "d", "gamma", "tau_s", "w", "J_N", "I_o"};
    const double vals[] = {0.25, 0.1, 140.0, 0.7, 90.0, 0.55, 0.28, 0.36};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        set_param(m, p, n, names[i], vals[i]);
    const double xa[1] = {0.2385}, xb[1] = {0.731}, ca[1] = {0.0417}, cb[1] = {-0.0235};
    const double wa[1] = {0.001744954215987002}, wb[1] = {-0.0046731206275827004};
    double da[1], db[1];
    dfun2(m, p, xa, xb, ca, cb, da, db);
    assert_derivs(m, "A", da, wa);
    assert_derivs(m, "B", db, wb);
    free(p);

    /* H(u) = u / (1 - exp(-d u)) at hand-computed points, read through dfun:
     * with a = 1, b = 0, w = 0, gamma = 1, S = 0, c0 = 0, dS = H(I_o) exactly.
     * d = 154.  Reference values from u / -expm1(-d u) (the 1 - exp form
     * itself loses digits near u = 0: at u = 1e-12 it is off by 2e-7
     * relative); at u = 0 the limit is 1/d. */
    p = params_for(m, 1);
    set_param(m, p, 1, "a", 1.0);
    set_param(m, p, 1, "b", 0.0);
    set_param(m, p, 1, "w", 0.0);
    set_param(m, p, 1, "gamma", 1.0);
    long io = vbt_param_index(m->params, m->n_param, "I_o");
    const double u[] = {0.0123, -0.0456, 0.2, -1.5, 3e-7, -3e-7, 1e-8, -1e-8, 1e-12, -1e-12, 0.0};
    const double h[] = {0.014478059558370308, 4.069702834603404e-05, 0.20000000000000842,
                        7.146048170673492e-101, 0.006493656494661494, 0.006493356494661494,
                        0.006493511493507777, 0.006493501493507777, 0.006493506494006494,
                        0.006493506493006495, 1.0 / 154.0};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        double S = 0.0, c0 = 0.0, dS;
        p[io] = u[i];
        m->dfun(1, &S, &c0, p, &dS);
        char what[48];
        snprintf(what, sizeof what, "H(%g)", u[i]);
        assert_relative(dS, h[i], what);
    }
    /* Continuous across the switch to the series (|d u| = 1e-6) and smooth
     * near u = 0: H = 1/d + u/2 + d u^2/12 + O(u^4). */
    for (int i = -40; i <= 40; i++) {
        double uu = 1e-6 / 154.0 * (1.0 + 1e-3 * i) * (i % 2 ? -1.0 : 1.0);
        double S = 0.0, c0 = 0.0, dS;
        p[io] = uu;
        m->dfun(1, &S, &c0, p, &dS);
        double series = 1.0 / 154.0 + uu / 2.0 + 154.0 * uu * uu / 12.0;
        if (!(fabs(dS - series) <= 1e-15 * series))
            fail_msg("H(%.17g) = %.17g, series %.17g", uu, dS, series);
    }
    free(p);

    /* Clamp: S is projected onto [0, 1]. */
    double xc[4] = {-0.2, 1.3, 0.5, 1.0};
    m->clamp(4, xc);
    assert_true(xc[0] == 0.0 && xc[1] == 1.0 && xc[2] == 0.5 && xc[3] == 1.0);
}

/* Reduced Wong-Wang excitatory-inhibitory, a_e = 300, b_e = 120,
 * d_e = 0.155, gamma_e = 0.7/1000, tau_e = 95, w_p = 1.3, J_N = 0.16,
 * W_e = 0.95, a_i = 600, b_i = 170, d_i = 0.09, gamma_i = 1.1/1000,
 * tau_i = 11, J_i = 1.05, W_i = 0.72, I_o = 0.39, I_ext = 0.013, G = 2.3,
 * lamda = 0.15.  Lane A: cc = G J_N c0 = 0.0116656, x_e = -9.59442,
 * H_e = 2.8017797992588975, x_i = -21.434096, H_i = 3.6433357132414366.
 * Lane B: cc = 0.0302864, x_e = -101.20506, H_e = 1.5578241538722145e-05,
 * x_i = -213.553424, H_i = 9.603950520043057e-07. */
static void test_reduced_wong_wang_exc_inh_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_reduced_wong_wang_exc_inh;
    const size_t n = 2;
    double *p = params_for(m, n);
    const char *names[] = {"a_e", "b_e", "d_e", "gamma_e", "tau_e", "w_p", "J_N", "W_e", "a_i",
                           "b_i", "d_i", "gamma_i", "tau_i", "J_i", "W_i", "I_o", "I_ext", "G",
                           "lamda"};
    const double vals[] = {300.0, 120.0, 0.155, 0.7 / 1000.0, 95.0, 1.3, 0.16, 0.95, 600.0,
                           170.0, 0.09, 1.1 / 1000.0, 11.0, 1.05, 0.72, 0.39, 0.013, 2.3, 0.15};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        set_param(m, p, n, names[i], vals[i]);
    const double xa[2] = {0.2385, 0.0731}, xb[2] = {0.6173, 0.4567};
    const double ca[1] = {0.0317}, cb[1] = {0.0823};
    const double wa[2] = {-0.001017037593794518, -0.002637785260888965};
    const double wb[2] = {-0.006497890563586978, -0.04151818076174726};
    double da[2], db[2];
    dfun2(m, p, xa, xb, ca, cb, da, db);
    assert_derivs(m, "A", da, wa);
    assert_derivs(m, "B", db, wb);
    free(p);

    /* At x_e = 0 (removable singularity) H_e = 1/d_e: with a_e = 1, b_e = 0,
     * w_p = J_i = G = I_ext = 0, W_e I_o = 0, S_e = 0: dS_e = H_e gamma_e. */
    p = params_for(m, 1);
    set_param(m, p, 1, "a_e", 1.0);
    set_param(m, p, 1, "b_e", 0.0);
    set_param(m, p, 1, "w_p", 0.0);
    set_param(m, p, 1, "J_i", 0.0);
    set_param(m, p, 1, "W_e", 0.0);
    set_param(m, p, 1, "G", 0.0);
    double x[2] = {0.0, 0.3}, c0 = 0.0, dx[2];
    m->dfun(1, x, &c0, p, dx);
    assert_relative(dx[0], 1.0 / 0.160 * (0.641 / 1000.0), "H_e(0) gamma_e");

    double xc[6] = {-0.2, 1.3, 0.5, 1.7, -3.0, 0.25};     /* S_e lanes 0-2, S_i lanes 0-2 */
    m->clamp(3, xc);
    assert_true(xc[0] == 0.0 && xc[1] == 1.0 && xc[2] == 0.5);
    assert_true(xc[3] == 1.0 && xc[4] == 0.0 && xc[5] == 0.25);
    free(p);
}

/* Montbrio-Pazo-Roxin, tau = 1.3, I = 0.37, Delta = 0.8, J = 12.5,
 * eta = -4.6, cr = 0.85, cv = 0.23.  pi^2 tau^2 r^2 = 0.9487749653551322
 * (lane A), 31.995286014852585 (lane B). */
static void test_montbrio_pazo_roxin_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_montbrio_pazo_roxin;
    const size_t n = 2;
    double *p = params_for(m, n);
    const char *names[] = {"tau", "I", "Delta", "J", "eta", "cr", "cv"};
    const double vals[] = {1.3, 0.37, 0.8, 12.5, -4.6, 0.85, 0.23};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        set_param(m, p, n, names[i], vals[i]);
    const double xa[2] = {0.2385, -0.731}, xb[2] = {1.385, 0.4567};
    const double ca[2] = {0.0213, -0.0347}, cb[2] = {0.0562, 0.0121};
    const double wa[2] = {-0.11754153316743632, -0.5835884348885632};
    const double wb[2] = {1.1238015437556403, -10.35377548065583};
    double da[2], db[2];
    dfun2(m, p, xa, xb, ca, cb, da, db);
    assert_derivs(m, "A", da, wa);
    assert_derivs(m, "B", db, wb);
    free(p);

    /* Clamp: r >= 0, V untouched. */
    double xc[6] = {-0.5, 5.0, 0.25, -7.0, 3.0, -0.1};
    m->clamp(3, xc);
    assert_true(xc[0] == 0.0 && xc[1] == 5.0 && xc[2] == 0.25);
    assert_true(xc[3] == -7.0 && xc[4] == 3.0 && xc[5] == -0.1);
}

/* Generic 2D oscillator, tau = 1.4, I = 0.37, a = -1.7, b = -9.3, c = 0.45,
 * d = 0.023, e = 2.8, f = 1.1, g = 0.35, alpha = 0.93, beta = 1.07,
 * gamma = 0.85.  alpha W - f V^3 + e V^2 + g V + gamma (I + c0) =
 * 1.5088367124999975 (lane A), 9.4074107944 (lane B). */
static void test_generic_2d_oscillator_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_generic_2d_oscillator;
    const size_t n = 2;
    double *p = params_for(m, n);
    const char *names[] = {"tau", "I", "a", "b", "c", "d", "e", "f", "g", "alpha", "beta",
                           "gamma"};
    const double vals[] = {1.4, 0.37, -1.7, -9.3, 0.45, 0.023, 2.8, 1.1, 0.35, 0.93, 1.07, 0.85};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        set_param(m, p, n, names[i], vals[i]);
    const double xa[2] = {2.385, -0.731}, xb[2] = {-1.234, 3.456};
    const double ca[1] = {0.0417}, cb[1] = {-0.0235};
    const double wa[2] = {0.048584542142499916, -0.3374203294642857};
    const double wb[2] = {0.30291862757967997, 0.11111497471428576};
    double da[2], db[2];
    dfun2(m, p, xa, xb, ca, cb, da, db);
    assert_derivs(m, "A", da, wa);
    assert_derivs(m, "B", db, wb);
    free(p);
}

/* Kuramoto: dtheta = omega + c0, omega per lane. */
static void test_kuramoto_derivatives(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_kuramoto;
    double p[2] = {2.385, 0.731}, x[2] = {0.4321, 5.678}, c[2] = {0.0123, -0.3456}, dx[2];
    m->dfun(2, x, c, p, dx);
    assert_relative(dx[0], 2.385 + 0.0123, "kuramoto A dtheta");
    assert_relative(dx[1], 0.731 - 0.3456, "kuramoto B dtheta");
    assert_relative(dx[0], 2.3973, "kuramoto A dtheta (decimal)");
}

/* State v of lane k drawn inside the model's state_range, away from the
 * ends (fractions 0.05..0.95, high-entropy and distinct per lane). */
static double in_range(const vbt_model_type *m, size_t v, size_t k)
{
    double f = 0.2385 + 0.6180339887498949 * (double)(7 * v + 3 * k + 1);
    f = 0.05 + 0.9 * (f - floor(f));
    return m->state_range[v][0] + f * (m->state_range[v][1] - m->state_range[v][0]);
}

/* m->jacobian at one state (x, c, one lane of parameters p1) against
 * central differences of dfun, step h = 1e-6 max(1, |x_w|): their
 * truncation error (about h^2 times the third derivative) and rounding
 * error (about 1e-16 |f| / h) sit well under the tolerance, 1e-6 relative
 * to the row's largest entry.  `what` names the state in messages. */
static void check_jacobian(const vbt_model_type *m, const double *x, const double *c,
                           const double *p1, const char *what)
{
    const size_t ns = m->n_state;
    double x1[6], jac[36], fd[36], fp[6], fm[6];
    assert_true(ns <= 6);
    memcpy(x1, x, ns * sizeof *x1);
    m->jacobian(x1, c, p1, jac);
    for (size_t w = 0; w < ns; w++) {
        double x0 = x1[w], h = 1e-6 * fmax(1.0, fabs(x0));
        x1[w] = x0 + h;
        double xp = x1[w];
        m->dfun(1, x1, c, p1, fp);
        x1[w] = x0 - h;
        double xm = x1[w];
        m->dfun(1, x1, c, p1, fm);
        x1[w] = x0;
        for (size_t v = 0; v < ns; v++)
            fd[v * ns + w] = (fp[v] - fm[v]) / (xp - xm);
    }
    /* Relative to the row's largest entry: small entries of a row carry the
     * rounding error of the whole row's differences. */
    for (size_t v = 0; v < ns; v++) {
        double scale = 1e-9;
        for (size_t w = 0; w < ns; w++)
            scale = fmax(scale, fabs(jac[v * ns + w]));
        for (size_t w = 0; w < ns; w++) {
            double err = fabs(jac[v * ns + w] - fd[v * ns + w]) / scale;
            if (!(err < 1e-6))
                fail_msg("%s: J[d%s/d%s] = %.10g, finite differences %.10g "
                         "(relative error %.3g) at %s",
                         m->name, m->state_names[v], m->state_names[w], jac[v * ns + w],
                         fd[v * ns + w], err, what);
        }
    }
}

/* Finite derivatives at defaults on states inside state_range; the
 * Jacobian against central differences of dfun at 3 such states; the clamp
 * leaves in-range states alone and maps out-of-range ones to the bounds. */
static void battery_ranges(const vbt_model_type *m)
{
    const size_t ns = m->n_state, n = 3;
    double *p = params_for(m, n), *p1 = params_for(m, 1);
    double x[6 * 3], c[2 * 3], dx[6 * 3];
    assert_true(ns <= 6 && m->n_cvar <= 2);
    for (size_t v = 0; v < ns; v++)
        for (size_t k = 0; k < n; k++)
            x[v * n + k] = in_range(m, v, k);
    for (size_t k = 0; k < m->n_cvar * n; k++)
        c[k] = 0.01 * sin(2.385 * (double)k + 0.731);
    m->dfun(n, x, c, p, dx);
    for (size_t k = 0; k < ns * n; k++)
        if (!isfinite(dx[k]))
            fail_msg("%s: d%s not finite at a state inside state_range", m->name,
                     m->state_names[k / n]);

    for (size_t k = 0; k < n; k++) {
        double x1[6], c1[2];
        char what[48];
        for (size_t v = 0; v < ns; v++)
            x1[v] = x[v * n + k];
        for (size_t v = 0; v < m->n_cvar; v++)
            c1[v] = c[v * n + k];
        snprintf(what, sizeof what, "state %zu in state_range", k);
        check_jacobian(m, x1, c1, p1, what);
    }

    if (m->clamp) {
        double y[6 * 3];
        memcpy(y, x, sizeof y);
        m->clamp(n, y);
        assert_memory_equal(y, x, ns * n * sizeof *x);
        /* Lanes 0, 1 below / above the range, lane 2 inside. */
        int changed = 0;
        for (size_t v = 0; v < ns; v++) {
            double lo = m->state_range[v][0], hi = m->state_range[v][1], span = hi - lo;
            y[v * n + 0] = lo - 0.37 * span - 0.1;
            y[v * n + 1] = hi + 0.37 * span + 0.1;
            y[v * n + 2] = x[v * n + 2];
        }
        double z[6 * 3];
        memcpy(z, y, sizeof z);
        m->clamp(n, z);
        for (size_t v = 0; v < ns; v++) {
            double lo = m->state_range[v][0], hi = m->state_range[v][1];
            assert_true(z[v * n + 0] == y[v * n + 0] || z[v * n + 0] == lo);
            assert_true(z[v * n + 1] == y[v * n + 1] || z[v * n + 1] == hi);
            assert_true(z[v * n + 2] == y[v * n + 2]);
            changed += (z[v * n + 0] != y[v * n + 0]) + (z[v * n + 1] != y[v * n + 1]);
        }
        assert_true(changed > 0);
        double zz[6 * 3];
        memcpy(zz, z, sizeof zz);
        m->clamp(n, zz);
        assert_memory_equal(zz, z, ns * n * sizeof *z);
    }
    free(p);
    free(p1);
}

/* The same checks over every registered model: the battery a new model
 * must pass. */
static void test_registry_battery(void **state)
{
    (void)state;
    size_t count = 0;
    for (size_t i = 0; vbt_model_types[i]; i++, count++) {
        const vbt_model_type *m = vbt_model_types[i];
        assert_ptr_equal(vbt_model_find(m->name), m);
        assert_non_null(m->dfun);
        assert_true(m->n_state > 0 && m->n_cvar > 0 && m->n_observed > 0);
        for (size_t v = 0; v < m->n_cvar; v++)
            assert_true(m->cvar[v] < m->n_state);
        for (size_t a = 0; a < m->n_param; a++) {
            assert_int_equal(vbt_param_index(m->params, m->n_param, m->params[a].name), a);
            assert_true(isfinite(m->params[a].def));
            assert_non_null(m->params[a].unit);
            assert_non_null(m->params[a].doc);
        }
        for (size_t v = 0; v < m->n_state; v++)
            assert_int_equal(vbt_model_state_index(m, m->state_names[v]), v);
        for (size_t o = 0; o < m->n_observed; o++) {
            vbt_observable obs;
            vbt_msg msg;
            assert_int_equal(vbt_observable_parse(m, m->observed[o], &obs, &msg), VBT_OK);
        }
        /* Finite derivatives at defaults, on a spread of states and inputs. */
        const size_t n = 5;
        double *p = params_for(m, n);
        double *x = malloc(m->n_state * n * sizeof *x), *dx = malloc(m->n_state * n * sizeof *dx);
        double *c = malloc(m->n_cvar * n * sizeof *c);
        for (size_t k = 0; k < m->n_state * n; k++)
            x[k] = -1.5 + 0.731 * (double)(k % 7) - 0.0137 * (double)k;
        for (size_t k = 0; k < m->n_cvar * n; k++)
            c[k] = 0.1 * sin(2.385 * (double)k);
        m->dfun(n, x, c, p, dx);
        for (size_t k = 0; k < m->n_state * n; k++)
            assert_true(isfinite(dx[k]));
        /* Lanes are independent: lane 2 alone gives the same derivative. */
        double *x1 = malloc(m->n_state * sizeof *x1), *d1 = malloc(m->n_state * sizeof *d1);
        double *c1 = malloc(m->n_cvar * sizeof *c1), *p1 = params_for(m, 1);
        for (size_t v = 0; v < m->n_state; v++)
            x1[v] = x[v * n + 2];
        for (size_t v = 0; v < m->n_cvar; v++)
            c1[v] = c[v * n + 2];
        m->dfun(1, x1, c1, p1, d1);
        for (size_t v = 0; v < m->n_state; v++)
            assert_true(d1[v] == dx[v * n + 2]);
        free(p);
        free(x);
        free(dx);
        free(c);
        free(x1);
        free(d1);
        free(c1);
        free(p1);
        /* Every model declares its typical ranges and an analytic Jacobian. */
        if (!m->state_range || !m->jacobian)
            fail_msg("%s: no %s", m->name, m->state_range ? "jacobian" : "state_range");
        battery_ranges(m);
    }
    assert_int_equal(count, 8);
    assert_null(vbt_model_find("no-such-model"));
    assert_ptr_equal(vbt_coupling_find("difference"), vbt_coupling_difference);
    assert_ptr_equal(vbt_scheme_find("rk4"), vbt_scheme_rk4);
    assert_null(vbt_scheme_find("euler-maruyama"));
}

/* The Epileptors' Jacobians on each side of every branch of dfun, at the
 * states of test_epileptor_derivatives: A has x1 < 0, z > 0, x2 < -0.25;
 * B has x1 >= 0, z < 0 (h's z^7 term), x2 >= -0.25; each with the
 * polynomial and with the sigmoidal h (modification = 1), the latter also
 * near its steepest point x1 = -0.5.  The states keep at least 0.03 from
 * every kink (x1 = 0, x2 = -0.25, z = 0), far beyond the difference step
 * 1e-6, so the differences never straddle one. */
static void test_epileptor_jacobians(void **state)
{
    (void)state;
    const double A6[6] = {-1.2345, -15.678, 3.456, -0.789, 0.123, -0.0456};
    const double B6[6] = {0.4321, -3.21, -0.567, 0.345, 1.234, 0.0789};
    const double S6[6] = {-0.4731, -7.89, 2.91, -0.22, 0.61, 0.0337};
    const double A2[2] = {-1.2345, 3.456}, B2[2] = {0.4321, -0.567}, S2[2] = {-0.4731, 2.91};
    const double c[2] = {0.0321, -0.0456};
    const vbt_model_type *models[2] = {vbt_model_epileptor, vbt_model_epileptor2d};
    const double *states[2][3] = {{A6, B6, S6}, {A2, B2, S2}};
    static const char *const names[3] = {"A", "B", "near the sigmoid centre"};
    for (size_t i = 0; i < 2; i++) {
        const vbt_model_type *m = models[i];
        const size_t ns = m->n_state, iz = i == 0 ? 2 : 1;
        double *p = params_for(m, 1);
        set_param(m, p, 1, "x0", -2.1);
        set_param(m, p, 1, "Ks", -0.2);
        set_param(m, p, 1, "Kvf", 0.05);
        set_param(m, p, 1, "r", 0.0123);
        set_param(m, p, 1, "slope", 0.3);
        set_param(m, p, 1, "tt", 1.3);
        if (i == 0)
            set_param(m, p, 1, "Kf", 0.1);
        for (int mod = 0; mod < 2; mod++) {
            set_param(m, p, 1, "modification", (double)mod);
            for (size_t k = 0; k < 3; k++) {
                char what[64];
                snprintf(what, sizeof what, "%s, modification %d", names[k], mod);
                check_jacobian(m, states[i][k], c, p, what);
            }
        }
        /* Hand values at B (polynomial h, z < 0): d(dz)/dx1 = tt r 4 and
         * d(dz)/dz = tt r (-0.7 z^6 - 1). */
        double jac[36], z = states[i][1][iz];
        set_param(m, p, 1, "modification", 0.0);
        m->jacobian(states[i][1], c, p, jac);
        assert_rel(jac[iz * ns + 0], 1.3 * 0.0123 * 4.0, "J[dz/dx1] at B");
        assert_rel(jac[iz * ns + iz], 1.3 * 0.0123 * (-0.7 * pow(z, 6) - 1.0), "J[dz/dz] at B");
        /* Sigmoidal h at its centre x1 = -0.5: dh/dx1 = 3 / (4 * 0.1). */
        double xc[6];
        memcpy(xc, states[i][2], ns * sizeof *xc);
        xc[0] = -0.5;
        set_param(m, p, 1, "modification", 1.0);
        m->jacobian(xc, c, p, jac);
        assert_rel(jac[iz * ns + 0], 1.3 * 0.0123 * 7.5, "J[dz/dx1] at the sigmoid centre");
        assert_rel(jac[iz * ns + iz], -1.3 * 0.0123, "J[dz/dz] with the sigmoid");
        free(p);
    }
}

/* An isolated 2D Epileptor node.  Fixed points satisfy dz = 0, z = 4 (x1 -
 * x0), and dx1 = 0, z = 4.1 - x1^3 - 2 x1^2, i.e. x1^3 + 2 x1^2 + 4 x1 -
 * 4 x0 - 4.1 = 0 (one real root: the derivative 3x^2 + 4x + 4 never
 * vanishes).  The left branch of the x1-nullcline ends at its fold
 * x1 = -4/3, z_fold = 4.1 + 64/27 - 32/9; the root lies on the stable left
 * branch iff x0 < x0c = -4/3 - z_fold/4 = -2.0620370... */
static double fixed_point_x1(double x0)
{
    double lo = -5.0, hi = 0.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        double f = mid * mid * mid + 2.0 * mid * mid + 4.0 * mid - 4.0 * x0 - 4.1;
        if (f > 0)
            hi = mid;
        else
            lo = mid;
    }
    return 0.5 * (lo + hi);
}

static vbt_sim *single_node(double x0, double r, const vbt_scheme_type *sc, double dt)
{
    vbt_connectome *conn = vbt_connectome_alloc(1);
    strcpy(conn->labels[0], "node");
    vbt_sim_spec spec = {vbt_model_epileptor2d, vbt_coupling_difference, sc, conn, dt, HUGE_VAL, 1};
    vbt_sim *sim;
    vbt_msg msg;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
    vbt_connectome_free(conn);
    assert_int_equal(vbt_sim_set_model_param(sim, "x0", &x0, 1), VBT_OK);
    assert_int_equal(vbt_sim_set_model_param(sim, "r", &r, 1), VBT_OK);
    double ic[2] = {-1.0, 3.0};
    assert_int_equal(vbt_sim_set_initial_constant(sim, ic, 2), VBT_OK);
    return sim;
}

static void test_epileptor2d_critical_excitability(void **state)
{
    (void)state;
    const double zf = 4.1 + 64.0 / 27.0 - 32.0 / 9.0;
    const double x0c = -4.0 / 3.0 - zf / 4.0;
    assert_close(x0c, -2.0620370370370370, 1e-15);
    /* At x0c the fixed point sits exactly on the fold. */
    assert_close(fixed_point_x1(x0c), -4.0 / 3.0, 1e-9);

    /* Below x0c: converges to the analytic fixed point.  r = 0.01 speeds up
     * the slow variable; the fixed point does not depend on r. */
    const double below[] = {-2.2, x0c - 0.02};
    for (size_t i = 0; i < 2; i++) {
        vbt_sim *sim = single_node(below[i], 0.01, vbt_scheme_rk4, 0.05);
        assert_int_equal(vbt_sim_run(sim, 200000), VBT_OK);      /* 10 s */
        const double *x = vbt_sim_state(sim);
        double xs = fixed_point_x1(below[i]);
        assert_true(xs < -4.0 / 3.0);
        assert_close(x[0], xs, 1e-7);
        assert_close(x[1], 4.0 * (xs - below[i]), 1e-7);
        vbt_sim_free(sim);
    }
    /* Above x0c: no stable rest state; x1 keeps leaving for the seizure
     * branch (x1 > 0) and coming back. */
    const double above[] = {-1.9, x0c + 0.02};
    for (size_t i = 0; i < 2; i++) {
        vbt_sim *sim = single_node(above[i], 0.01, vbt_scheme_rk4, 0.05);
        int crossings = 0, prev_pos = 0;
        for (int chunk = 0; chunk < 400; chunk++) {              /* 10 s */
            assert_int_equal(vbt_sim_run(sim, 500), VBT_OK);
            int pos = vbt_sim_state(sim)[0] > 0.0;
            crossings += pos && !prev_pos;
            prev_pos = pos;
        }
        if (crossings < 3)
            fail_msg("x0 = %g: %d seizure onsets in 10 s, expected recurrent seizures",
                     above[i], crossings);
        vbt_sim_free(sim);
    }
}

/* An isolated node of model m (one region, no connections: every coupling
 * input is 0), starting at the constant state ic. */
static vbt_sim *isolated_node(const vbt_model_type *m, const vbt_coupling_type *cpl,
                              const vbt_scheme_type *sc, double dt, const double *ic)
{
    vbt_connectome *conn = vbt_connectome_alloc(1);
    strcpy(conn->labels[0], "node");
    vbt_sim_spec spec = {m, cpl, sc, conn, dt, HUGE_VAL, 1};
    vbt_sim *sim;
    vbt_msg msg;
    assert_int_equal(vbt_sim_alloc(&sim, &spec, &msg), VBT_OK);
    vbt_connectome_free(conn);
    assert_int_equal(vbt_sim_set_initial_constant(sim, ic, m->n_state), VBT_OK);
    return sim;
}

/* Generic 2D oscillator with defaults and I = 0: the W-nullcline gives
 * W = (a + b V + c V^2) / beta = -2 - 10 V, the V-nullcline W = V^3 - 3 V^2,
 * so V^3 - 3 V^2 + 10 V + 2 = 0, whose derivative 3 V^2 - 6 V + 10 never
 * vanishes: one root, V* = -0.18865175297705..., W* = -0.11348247022947...
 * Jacobian there d [[-3 V^2 + 6 V, 1], [-10, -1]]: trace < 0 < det, a stable
 * focus decaying at about 0.022 per ms. */
static void test_generic_2d_oscillator_fixed_point(void **state)
{
    (void)state;
    const vbt_model_type *m = vbt_model_generic_2d_oscillator;
    double lo = -1.0, hi = 1.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid * mid * mid - 3.0 * mid * mid + 10.0 * mid + 2.0 > 0.0)
            hi = mid;
        else
            lo = mid;
    }
    const double vs = 0.5 * (lo + hi), ws = -2.0 - 10.0 * vs;
    assert_close(vs, -0.18865175297705240, 1e-14);
    const double j00 = -3.0 * vs * vs + 6.0 * vs;
    assert_true(j00 - 1.0 < 0.0 && -j00 + 10.0 > 0.0);          /* trace < 0 < det */

    double *p = params_for(m, 1), xs[2] = {vs, ws}, c0 = 0.0, d[2];
    m->dfun(1, xs, &c0, p, d);
    assert_close(d[0], 0.0, 1e-15);
    assert_close(d[1], 0.0, 1e-15);
    free(p);

    const double ic[2] = {1.385, -2.731};
    vbt_sim *sim = isolated_node(m, vbt_coupling_linear, vbt_scheme_rk4, 0.1, ic);
    assert_int_equal(vbt_sim_run(sim, 30000), VBT_OK);              /* 3 s */
    assert_close(vbt_sim_state(sim)[0], vs, 1e-10);
    assert_close(vbt_sim_state(sim)[1], ws, 1e-10);
    vbt_sim_free(sim);
}

/* Kuramoto, omega = 1 rad/ms, isolated: theta(t) = theta0 + t.  With
 * dt = 0.125 (a power of two) and Euler every step is exact in binary. */
static void test_kuramoto_free_rotation(void **state)
{
    (void)state;
    const double ic[1] = {0.5};
    vbt_sim *sim = isolated_node(vbt_model_kuramoto, vbt_coupling_kuramoto, vbt_scheme_euler,
                                 0.125, ic);
    double omega = 1.0;
    assert_int_equal(vbt_sim_set_model_param(sim, "omega", &omega, 1), VBT_OK);
    for (int chunk = 1; chunk <= 10; chunk++) {
        assert_int_equal(vbt_sim_run(sim, 80), VBT_OK);
        assert_true(vbt_sim_state(sim)[0] == 0.5 + 10.0 * chunk);
        assert_true(vbt_sim_time(sim) == 10.0 * chunk);
    }
    vbt_sim_free(sim);
}

/* Reduced Wong-Wang with defaults, isolated (c0 = 0): the steady state
 * solves -S/tau_s + (1 - S) H(a (w J_N S + I_o) - b) gamma = 0; the left
 * side is positive at S = 0 and equals -1/tau_s at S = 1, and bisection
 * finds S* = 0.0980184531568..., where its slope is -0.0068 per ms
 * (stable, time constant about 150 ms).  H written here independently of
 * the library. */
static double rww_rhs(double S)
{
    const double a = 0.270, b = 0.108, d = 154.0, gamma = 0.641, tau_s = 100.0, w = 0.6,
                 j_n = 0.2609, i_o = 0.33;
    double u = a * (w * j_n * S + i_o) - b;
    return -S / tau_s + (1.0 - S) * (u / (1.0 - exp(-d * u))) * gamma;
}

static void test_reduced_wong_wang_steady_state(void **state)
{
    (void)state;
    double lo = 0.0, hi = 1.0;
    assert_true(rww_rhs(lo) > 0.0 && rww_rhs(hi) < 0.0);
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (rww_rhs(mid) > 0.0)
            lo = mid;
        else
            hi = mid;
    }
    const double ss = 0.5 * (lo + hi);
    assert_close(ss, 0.098018453156827, 1e-12);
    assert_true(rww_rhs(ss + 1e-4) < 0.0 && rww_rhs(ss - 1e-4) > 0.0);

    /* From both sides, one of them on the upper bound. */
    const double starts[2] = {1.0, 0.0123};
    for (size_t i = 0; i < 2; i++) {
        vbt_sim *sim = isolated_node(vbt_model_reduced_wong_wang, vbt_coupling_linear,
                                     vbt_scheme_rk4, 0.5, &starts[i]);
        assert_int_equal(vbt_sim_run(sim, 20000), VBT_OK);          /* 10 s */
        assert_close(vbt_sim_state(sim)[0], ss, 1e-10);
        vbt_sim_free(sim);
    }
}

/* Montbrio-Pazo-Roxin with J = 0, Delta = 1, eta = -5, tau = 1, isolated:
 * dr = 0 gives V = -Delta / (2 pi tau r), and dV = 0 then
 * pi^2 q^2 + 5 q - 1/(4 pi^2) = 0 in q = r^2: r* = sqrt((sqrt(26) - 5) /
 * (2 pi^2)) = 0.0708264580538..., V* = -2.2471114250958...  A Newton
 * iteration on (dr, dV) written here finds the same point; the Jacobian
 * there, [[2V, 2r], [-2 pi^2 r, 2V]], has trace 4V < 0 < det: a stable focus
 * decaying at 2|V| = 4.5 per ms. */
static void test_montbrio_pazo_roxin_fixed_point(void **state)
{
    (void)state;
    const double pi = 3.14159265358979323846;
    double r = 0.1, v = -2.0;
    for (int it = 0; it < 50; it++) {
        double f0 = 1.0 / pi + 2.0 * v * r, f1 = v * v - pi * pi * r * r - 5.0;
        double a = 2.0 * v, b = 2.0 * r, c = -2.0 * pi * pi * r, d = 2.0 * v;
        double det = a * d - b * c;
        r -= (d * f0 - b * f1) / det;
        v -= (-c * f0 + a * f1) / det;
    }
    const double rs = sqrt((sqrt(26.0) - 5.0) / (2.0 * pi * pi)), vs = -1.0 / (2.0 * pi * rs);
    assert_close(r, rs, 1e-14);
    assert_close(v, vs, 1e-13);
    assert_close(rs, 0.070826458053857, 1e-14);

    const vbt_model_type *m = vbt_model_montbrio_pazo_roxin;
    double *p = params_for(m, 1);
    set_param(m, p, 1, "J", 0.0);
    double xs[2] = {rs, vs}, c[2] = {0.0, 0.0}, dx[2];
    m->dfun(1, xs, c, p, dx);
    assert_close(dx[0], 0.0, 1e-14);
    assert_close(dx[1], 0.0, 1e-13);
    free(p);

    const double ic[2] = {0.5, -1.0};
    vbt_sim *sim = isolated_node(m, vbt_coupling_linear, vbt_scheme_rk4, 0.01, ic);
    double jj = 0.0;
    assert_int_equal(vbt_sim_set_model_param(sim, "J", &jj, 1), VBT_OK);
    assert_int_equal(vbt_sim_run(sim, 3000), VBT_OK);               /* 30 ms */
    assert_close(vbt_sim_state(sim)[0], rs, 1e-12);
    assert_close(vbt_sim_state(sim)[1], vs, 1e-11);
    vbt_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epileptor_derivatives),
        cmocka_unit_test(test_epileptor2d_derivatives),
        cmocka_unit_test(test_jansen_rit_derivatives),
        cmocka_unit_test(test_reduced_wong_wang_derivatives),
        cmocka_unit_test(test_reduced_wong_wang_exc_inh_derivatives),
        cmocka_unit_test(test_montbrio_pazo_roxin_derivatives),
        cmocka_unit_test(test_generic_2d_oscillator_derivatives),
        cmocka_unit_test(test_kuramoto_derivatives),
        cmocka_unit_test(test_registry_battery),
        cmocka_unit_test(test_epileptor_jacobians),
        cmocka_unit_test(test_epileptor2d_critical_excitability),
        cmocka_unit_test(test_generic_2d_oscillator_fixed_point),
        cmocka_unit_test(test_kuramoto_free_rotation),
        cmocka_unit_test(test_reduced_wong_wang_steady_state),
        cmocka_unit_test(test_montbrio_pazo_roxin_fixed_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
