/* reduced_wong_wang.c -- the reduced Wong-Wang model (Wong & Wang 2006,
 * J. Neurosci. 26:1314; the network form of Deco et al. 2013, J. Neurosci.
 * 33:11239), exactly as The Virtual Brain's models/wong_wang.py:
 *
 *   x  = w J_N S + I_o + J_N c0
 *   H  = (a x - b) / (1 - exp(-d (a x - b)))
 *   dS = -S / tau_s + (1 - S) H gamma
 *
 * S is the fraction of open NMDA channels, bounded to [0, 1] (the schemes
 * clamp it after each stage, as TVB's state_variable_boundaries); x is the
 * synaptic current in nA, H the population rate in kHz, time in ms.
 *
 * H(u), u = a x - b, has a removable singularity at u = 0, where it tends to
 * 1/d (TVB does not guard it: exactly u = 0 gives NaN there).  We write the
 * denominator as -expm1(-d u), accurate for every u != 0 (1 - exp(-d u)
 * loses digits as u -> 0), and use the series
 *   H = (1/d) (1 + z/2 + z^2/12 - z^4/720 + ...),  z = d u,
 * for |z| < 1e-6, where its first omitted term is below 1e-26 relative; so H
 * is finite, smooth and accurate to rounding everywhere.  sigma_noise is kept
 * for TVB compatibility; the dfun does not use it.
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"
#include "wong_wang_rate.h"

enum { LA, LB, LD, GAMMA, TAU_S, W, J_N, I_O, SIGMA_NOISE, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [LA] = {"a", 0.270, "n/C", 0.0, 0.270, "input gain of the rate function, fitted to the spiking model"},
    [LB] = {"b", 0.108, "kHz", 0.0, 1.0, "input shift of the rate function, fitted to the spiking model"},
    [LD] = {"d", 154.0, "ms", 0.0, 200.0, "curvature of the rate function, fitted to the spiking model (> 0)"},
    [GAMMA] = {"gamma", 0.641, "1", 0.0, 1.0, "kinetic parameter of the NMDA gating"},
    [TAU_S] = {"tau_s", 100.0, "ms", 50.0, 150.0, "NMDA decay time constant"},
    [W] = {"w", 0.6, "1", 0.0, 1.0, "weight of the excitatory recurrence"},
    [J_N] = {"J_N", 0.2609, "nA", 0.2609, 0.5, "NMDA synaptic coupling (recurrence and network input)"},
    [I_O] = {"I_o", 0.33, "nA", 0.0, 1.0, "effective external input current"},
    [SIGMA_NOISE] = {"sigma_noise", 1e-9, "nA", 0.0, 0.005, "noise amplitude (unused by the equations, as in TVB)"},
};

static const char *const state_names[1] = {"S"};
static const size_t cvar[1] = {0};
static const char *const observed[1] = {"S"};
static const double state_range[1][2] = {{0.0, 1.0}};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                            const double *restrict p, double *restrict dx)
{
    const double *s = x, *c0 = c;
    const double *a = p + LA * n, *b = p + LB * n, *d = p + LD * n, *gamma = p + GAMMA * n,
                 *tau = p + TAU_S * n, *w = p + W * n, *jn = p + J_N * n, *io = p + I_O * n;
    double *restrict ds = dx;

    /* expm1 goes through ds first: the loop calling it stays scalar (no
     * vector expm1 without -ffast-math) and the arithmetic below vectorises,
     * with the same bits in every lane whatever the vector width. */
    for (size_t k = 0; k < n; k++) {
        double u = a[k] * (w[k] * jn[k] * s[k] + io[k] + jn[k] * c0[k]) - b[k];
        ds[k] = expm1(-d[k] * u);
    }
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double S = s[k], dk = d[k];
        double u = a[k] * (w[k] * jn[k] * S + io[k] + jn[k] * c0[k]) - b[k];
        double z = dk * u;
        double h_closed = u / -ds[k];
        double h_series = ww_h_series(z, dk);
        double h = fabs(z) < WW_H_SERIES ? h_series : h_closed;
        ds[k] = -(S / tau[k]) + (1.0 - S) * h * gamma[k];
    }
}

VBT_KERNEL static void clamp(size_t n, double *restrict x)
{
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double S = x[k];
        x[k] = S < 0.0 ? 0.0 : (S > 1.0 ? 1.0 : S);
    }
}

static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict jac)
{
    double S = x[0], h, dh;
    double u = p[LA] * (p[W] * p[J_N] * S + p[I_O] + p[J_N] * c[0]) - p[LB];
    ww_rate(u, p[LD], &h, &dh);
    jac[0] = -1.0 / p[TAU_S] - h * p[GAMMA] + (1.0 - S) * dh * p[LA] * p[W] * p[J_N] * p[GAMMA];
}

VBT_HIDDEN const vbt_model_type vbt__model_reduced_wong_wang = {
    .name = "reduced_wong_wang",
    .title = "Reduced Wong-Wang (Wong & Wang 2006; Deco et al. 2013), 1 state variable",
    .doc = "Mean-field reduction of a spiking network with NMDA synapses to the "
           "fraction S of open NMDA channels of one excitatory pool; the network model "
           "of Deco et al. 2013 for resting-state fMRI.  Equations and defaults of The "
           "Virtual Brain's ReducedWongWang; ms, nA, kHz.  S is kept in [0, 1]; the "
           "removable singularity of the rate function at a x = b is guarded.",
    .n_state = 1,
    .state_names = state_names,
    .n_cvar = 1,
    .cvar = cvar,
    .n_param = N_PARAM,
    .params = params,
    .n_observed = 1,
    .observed = observed,
    .dfun = dfun,
    .clamp = clamp,
    .state_range = state_range,
    .jacobian = jacobian,
};
