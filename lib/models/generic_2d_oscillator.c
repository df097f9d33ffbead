/* generic_2d_oscillator.c -- the generic two-dimensional oscillator
 * (Sanz-Leon et al. 2015, NeuroImage 111:385; after FitzHugh 1961 and
 * Nagumo et al. 1962), exactly as The Virtual Brain's Generic2dOscillator:
 *
 *   dV = d tau (alpha W - f V^3 + e V^2 + g V + gamma I + gamma c0)
 *   dW = d (a + b V + c V^2 - beta W) / tau
 *
 * V is a fast, W a slow variable; the cubic V-nullcline and the (at most
 * quadratic) W-nullcline are set by the parameters, so the model covers
 * FitzHugh-Nagumo, Morris-Lecar-like and excitable regimes.  With the
 * defaults and no input the one fixed point, V^3 - 3 V^2 + 10 V + 2 = 0
 * (V = -0.1886...), W = -2 - 10 V, is a stable focus (tests/test_models.c).
 * d carries the time scale (1/ms).
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"

enum { TAU, I, LA, LB, LC, LD, LE, LF, LG, ALPHA, BETA, GAMMA, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [TAU] = {"tau", 1.0, "1", 1.0, 5.0, "time-scale hierarchy between V and W (1: none)"},
    [I] = {"I", 0.0, "1", -5.0, 5.0, "baseline shift of the cubic nullcline (external input)"},
    [LA] = {"a", -2.0, "1", -5.0, 5.0, "vertical shift of the configurable nullcline"},
    [LB] = {"b", -10.0, "1", -20.0, 15.0, "linear slope of the configurable nullcline"},
    [LC] = {"c", 0.0, "1", -10.0, 10.0, "parabolic term of the configurable nullcline"},
    [LD] = {"d", 0.02, "1/ms", 0.0001, 1.0, "temporal scale factor (changes the oscillation frequency)"},
    [LE] = {"e", 3.0, "1", -5.0, 5.0, "coefficient of the quadratic term of the cubic nullcline"},
    [LF] = {"f", 1.0, "1", -5.0, 5.0, "coefficient of the cubic term of the cubic nullcline"},
    [LG] = {"g", 0.0, "1", -5.0, 5.0, "coefficient of the linear term of the cubic nullcline"},
    [ALPHA] = {"alpha", 1.0, "1", -5.0, 5.0, "rate of feedback from the slow variable W to V"},
    [BETA] = {"beta", 1.0, "1", -5.0, 5.0, "rate of feedback from W to itself"},
    [GAMMA] = {"gamma", 1.0, "1", -1.0, 1.0, "scaling of the input I and coupling c0 (negative for FitzHugh-Nagumo)"},
};

static const char *const state_names[2] = {"V", "W"};
static const size_t cvar[1] = {0};
static const char *const observed[1] = {"V"};
static const double state_range[2][2] = {{-2.0, 4.0}, {-6.0, 6.0}};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                            const double *restrict p, double *restrict dx)
{
    const double *v = x, *w = x + n, *c0 = c;
    const double *tau = p + TAU * n, *in = p + I * n, *a = p + LA * n, *b = p + LB * n,
                 *cc = p + LC * n, *d = p + LD * n, *e = p + LE * n, *f = p + LF * n,
                 *g = p + LG * n, *alpha = p + ALPHA * n, *beta = p + BETA * n,
                 *gamma = p + GAMMA * n;
    double *restrict dv = dx, *restrict dw = dx + n;

#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double V = v[k], W = w[k], V2 = V * V;
        dv[k] = d[k] * tau[k] * (alpha[k] * W - f[k] * (V2 * V) + e[k] * V2 + g[k] * V
                                 + gamma[k] * in[k] + gamma[k] * c0[k]);
        dw[k] = d[k] * (a[k] + b[k] * V + cc[k] * V2 - beta[k] * W) / tau[k];
    }
}

static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict jac)
{
    double V = x[0], dt = p[LD] * p[TAU];
    jac[0] = dt * (-3.0 * p[LF] * V * V + 2.0 * p[LE] * V + p[LG]);
    jac[1] = dt * p[ALPHA];
    jac[2] = p[LD] * (p[LB] + 2.0 * p[LC] * V) / p[TAU];
    jac[3] = -p[LD] * p[BETA] / p[TAU];
}

VBT_HIDDEN const vbt_model_type vbt__model_generic_2d_oscillator = {
    .name = "generic_2d_oscillator",
    .title = "Generic 2D oscillator (Sanz-Leon et al. 2015), 2 state variables",
    .doc = "A fast variable V with a cubic nullcline and a slow variable W with a "
           "configurable (linear or quadratic) nullcline, generalising the "
           "FitzHugh-Nagumo model; the parameters select excitable, oscillatory or "
           "bistable regimes.  Equations and defaults of The Virtual Brain's "
           "Generic2dOscillator; time in ms (through d).",
    .n_state = 2,
    .state_names = state_names,
    .n_cvar = 1,
    .cvar = cvar,
    .n_param = N_PARAM,
    .params = params,
    .n_observed = 1,
    .observed = observed,
    .dfun = dfun,
    .clamp = NULL,
    .state_range = state_range,
    .jacobian = jacobian,
};
