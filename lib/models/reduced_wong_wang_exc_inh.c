/* reduced_wong_wang_exc_inh.c -- the reduced Wong-Wang model with an
 * excitatory and an inhibitory pool (Deco et al. 2014, J. Neurosci.
 * 34:7886), exactly as The Virtual Brain's models/wong_wang_exc_inh.py:
 *
 *   cc   = G J_N c0
 *   x_e  = a_e (w_p J_N S_e - J_i S_i + W_e I_o + cc + I_ext) - b_e
 *   H_e  = x_e / (1 - exp(-d_e x_e))
 *   dS_e = -S_e / tau_e + (1 - S_e) H_e gamma_e
 *   x_i  = a_i (J_N S_e - S_i + W_i I_o + lamda cc) - b_i
 *   H_i  = x_i / (1 - exp(-d_i x_i))
 *   dS_i = -S_i / tau_i + H_i gamma_i
 *
 * S_e, S_i are synaptic gating variables bounded to [0, 1] (the schemes clamp
 * them after each stage).  Rates H are in Hz and d in s; the gammas carry the
 * 1/1000 that makes dS per ms.  The global coupling strength G lives in the
 * model and multiplies whatever the coupling delivers: a linear coupling with
 * a = 1, b = 0 gives cc = G J_N sum_j w_ij S_e_j(t - tau_ij).
 *
 * H(x) = x / (1 - exp(-d x)) has a removable singularity at x = 0, where it
 * tends to 1/d (unguarded in TVB).  As in reduced_wong_wang.c the denominator
 * is -expm1(-d x) and the series (1/d)(1 + z/2 + z^2/12), z = d x, replaces it
 * for |z| < 1e-6.
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"
#include "wong_wang_rate.h"

enum { A_E, B_E, D_E, GAMMA_E, TAU_E, W_P, J_N, W_E, A_I, B_I, D_I, GAMMA_I, TAU_I, J_I,
       W_I, I_O, I_EXT, G, LAMDA, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [A_E] = {"a_e", 310.0, "n/C", 0.0, 500.0, "input gain of the excitatory rate function"},
    [B_E] = {"b_e", 125.0, "Hz", 0.0, 300.0, "input shift of the excitatory rate function"},
    [D_E] = {"d_e", 0.160, "s", 0.0, 0.2, "curvature of the excitatory rate function (> 0)"},
    [GAMMA_E] = {"gamma_e", 0.641 / 1000.0, "1", 0.0, 1.0 / 1000.0, "kinetic parameter of the excitatory gating (0.641, over 1000: H in Hz, t in ms)"},
    [TAU_E] = {"tau_e", 100.0, "ms", 50.0, 150.0, "excitatory (NMDA) decay time constant"},
    [W_P] = {"w_p", 1.4, "1", 0.0, 2.0, "weight of the excitatory recurrence"},
    [J_N] = {"J_N", 0.15, "nA", 0.001, 0.5, "NMDA synaptic coupling"},
    [W_E] = {"W_e", 1.0, "1", 0.0, 2.0, "scaling of the external input to the excitatory pool"},
    [A_I] = {"a_i", 615.0, "n/C", 0.0, 1000.0, "input gain of the inhibitory rate function"},
    [B_I] = {"b_i", 177.0, "Hz", 0.0, 200.0, "input shift of the inhibitory rate function"},
    [D_I] = {"d_i", 0.087, "s", 0.0, 0.2, "curvature of the inhibitory rate function (> 0)"},
    [GAMMA_I] = {"gamma_i", 1.0 / 1000.0, "1", 0.0, 2.0 / 1000.0, "kinetic parameter of the inhibitory gating (1, over 1000: H in Hz, t in ms)"},
    [TAU_I] = {"tau_i", 10.0, "ms", 5.0, 100.0, "inhibitory (GABA) decay time constant"},
    [J_I] = {"J_i", 1.0, "nA", 0.001, 2.0, "local inhibitory synaptic coupling"},
    [W_I] = {"W_i", 0.7, "1", 0.0, 1.0, "scaling of the external input to the inhibitory pool"},
    [I_O] = {"I_o", 0.382, "nA", 0.0, 1.0, "effective external input current"},
    [I_EXT] = {"I_ext", 0.0, "nA", 0.0, 0.5, "external stimulation of the excitatory pool"},
    [G] = {"G", 2.0, "1", 0.0, 10.0, "global coupling strength (multiplies J_N c0)"},
    [LAMDA] = {"lamda", 0.0, "1", 0.0, 1.0, "fraction of the global coupling onto the inhibitory pool"},
};

static const char *const state_names[2] = {"S_e", "S_i"};
static const size_t cvar[1] = {0};
static const char *const observed[2] = {"S_e", "S_i"};
static const double state_range[2][2] = {{0.0, 1.0}, {0.0, 1.0}};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                            const double *restrict p, double *restrict dx)
{
    const double *se = x, *si = x + n, *c0 = c;
    const double *a_e = p + A_E * n, *b_e = p + B_E * n, *d_e = p + D_E * n,
                 *gamma_e = p + GAMMA_E * n, *tau_e = p + TAU_E * n, *w_p = p + W_P * n,
                 *j_n = p + J_N * n, *w_e = p + W_E * n, *a_i = p + A_I * n,
                 *b_i = p + B_I * n, *d_i = p + D_I * n, *gamma_i = p + GAMMA_I * n,
                 *tau_i = p + TAU_I * n, *j_i = p + J_I * n, *w_i = p + W_I * n,
                 *i_o = p + I_O * n, *i_ext = p + I_EXT * n, *g = p + G * n,
                 *lamda = p + LAMDA * n;
    double *restrict dse = dx, *restrict dsi = dx + n;

    /* The expm1 calls go through dx first (scalar loop; see
     * reduced_wong_wang.c); the arithmetic loop below vectorises. */
    for (size_t k = 0; k < n; k++) {
        double cc = g[k] * j_n[k] * c0[k], jse = j_n[k] * se[k];
        double xe = a_e[k] * (w_p[k] * jse - j_i[k] * si[k] + w_e[k] * i_o[k] + cc + i_ext[k])
                    - b_e[k];
        double xi = a_i[k] * (jse - si[k] + w_i[k] * i_o[k] + lamda[k] * cc) - b_i[k];
        dse[k] = expm1(-d_e[k] * xe);
        dsi[k] = expm1(-d_i[k] * xi);
    }
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double Se = se[k], Si = si[k], de = d_e[k], di = d_i[k];
        double cc = g[k] * j_n[k] * c0[k], jse = j_n[k] * Se;
        double xe = a_e[k] * (w_p[k] * jse - j_i[k] * Si + w_e[k] * i_o[k] + cc + i_ext[k])
                    - b_e[k];
        double xi = a_i[k] * (jse - Si + w_i[k] * i_o[k] + lamda[k] * cc) - b_i[k];
        double ze = de * xe, zi = di * xi;
        double he_closed = xe / -dse[k], hi_closed = xi / -dsi[k];
        double he_series = ww_h_series(ze, de);
        double hi_series = ww_h_series(zi, di);
        double he = fabs(ze) < WW_H_SERIES ? he_series : he_closed;
        double hi = fabs(zi) < WW_H_SERIES ? hi_series : hi_closed;
        dse[k] = -(Se / tau_e[k]) + (1.0 - Se) * he * gamma_e[k];
        dsi[k] = -(Si / tau_i[k]) + hi * gamma_i[k];
    }
}

VBT_KERNEL static void clamp(size_t n, double *restrict x)
{
#pragma omp simd
    for (size_t k = 0; k < 2 * n; k++) {
        double S = x[k];
        x[k] = S < 0.0 ? 0.0 : (S > 1.0 ? 1.0 : S);
    }
}

static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict jac)
{
    double Se = x[0], Si = x[1], he, dhe, hi, dhi;
    double cc = p[G] * p[J_N] * c[0], jse = p[J_N] * Se;
    double xe = p[A_E] * (p[W_P] * jse - p[J_I] * Si + p[W_E] * p[I_O] + cc + p[I_EXT]) - p[B_E];
    double xi = p[A_I] * (jse - Si + p[W_I] * p[I_O] + p[LAMDA] * cc) - p[B_I];
    ww_rate(xe, p[D_E], &he, &dhe);
    ww_rate(xi, p[D_I], &hi, &dhi);
    double ge = (1.0 - Se) * p[GAMMA_E] * dhe;
    jac[0] = -1.0 / p[TAU_E] - he * p[GAMMA_E] + ge * p[A_E] * p[W_P] * p[J_N];
    jac[1] = -ge * p[A_E] * p[J_I];
    jac[2] = p[GAMMA_I] * dhi * p[A_I] * p[J_N];
    jac[3] = -1.0 / p[TAU_I] - p[GAMMA_I] * dhi * p[A_I];
}

VBT_HIDDEN const vbt_model_type vbt__model_reduced_wong_wang_exc_inh = {
    .name = "reduced_wong_wang_exc_inh",
    .title = "Reduced Wong-Wang, excitatory and inhibitory pools (Deco et al. 2014), 2 state variables",
    .doc = "Dynamic mean-field model of Deco et al. 2014: an excitatory and an "
           "inhibitory pool with NMDA and GABA gating variables S_e, S_i, used with "
           "feedback inhibition control for resting-state fMRI.  Equations and "
           "defaults of The Virtual Brain's ReducedWongWangExcInh; ms, nA, Hz.  The "
           "global coupling G is a model parameter; S_e and S_i are kept in [0, 1]; "
           "the removable singularities of the rate functions are guarded.",
    .n_state = 2,
    .state_names = state_names,
    .n_cvar = 1,
    .cvar = cvar,
    .n_param = N_PARAM,
    .params = params,
    .n_observed = 2,
    .observed = observed,
    .dfun = dfun,
    .clamp = clamp,
    .state_range = state_range,
    .jacobian = jacobian,
};
