/* montbrio_pazo_roxin.c -- the exact mean field of a network of quadratic
 * integrate-and-fire neurons with Lorentzian-distributed excitabilities
 * (Montbrio, Pazo & Roxin 2015, Phys. Rev. X 5:021028), exactly as The
 * Virtual Brain's MontbrioPazoRoxin (models/infinite_theta.py):
 *
 *   dr = (1/tau) (Delta / (pi tau) + 2 V r)
 *   dV = (1/tau) (V^2 - pi^2 tau^2 r^2 + eta + J tau r + I + cr c0 + cv c1)
 *
 * r is the population firing rate, V the mean membrane potential, both
 * dimensionless, time in ms through tau.  Both are coupling variables
 * (cvar {0, 1}): c0 couples through the rates (weight cr), c1 through the
 * potentials (weight cv).  r is bounded below by 0 (the schemes clamp it
 * after each stage, as TVB's state_variable_boundaries r in [0, inf)).
 * Gamma is kept for TVB compatibility; TVB's dfun ignores it.
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"

enum { TAU, I, DELTA, J, ETA, GAMMA, CR, CV, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [TAU] = {"tau", 1.0, "ms", 1.0, 10.0, "characteristic time (membrane time constant)"},
    [I] = {"I", 0.0, "1", -10.0, 10.0, "external current"},
    [DELTA] = {"Delta", 1.0, "1", 0.0, 10.0, "half-width of the Lorentzian distribution of excitabilities"},
    [J] = {"J", 15.0, "1", -25.0, 25.0, "mean synaptic weight"},
    [ETA] = {"eta", -5.0, "1", -10.0, 10.0, "centre of the Lorentzian distribution of excitabilities"},
    [GAMMA] = {"Gamma", 0.0, "1", 0.0, 10.0, "half-width of the synaptic weight distribution (unused by the equations, as in TVB)"},
    [CR] = {"cr", 1.0, "1", 0.0, 1.0, "weight of the coupling through the rates r (c0)"},
    [CV] = {"cv", 0.0, "1", 0.0, 1.0, "weight of the coupling through the potentials V (c1)"},
};

static const char *const state_names[2] = {"r", "V"};
static const size_t cvar[2] = {0, 1};
static const char *const observed[2] = {"r", "V"};
static const double state_range[2][2] = {{0.0, 2.0}, {-2.0, 1.5}};

#define PI_SQUARED (M_PI * M_PI)

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                            const double *restrict p, double *restrict dx)
{
    const double *r = x, *v = x + n, *c0 = c, *c1 = c + n;
    const double *tau = p + TAU * n, *in = p + I * n, *delta = p + DELTA * n, *jj = p + J * n,
                 *eta = p + ETA * n, *cr = p + CR * n, *cv = p + CV * n;
    double *restrict dr = dx, *restrict dv = dx + n;

#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double R = r[k], V = v[k], T = tau[k], rtau = 1.0 / T;
        dr[k] = rtau * (delta[k] / (M_PI * T) + 2.0 * V * R);
        dv[k] = rtau * (V * V - PI_SQUARED * (T * T) * (R * R) + eta[k] + jj[k] * T * R + in[k]
                        + cr[k] * c0[k] + cv[k] * c1[k]);
    }
}

VBT_KERNEL static void clamp(size_t n, double *restrict x)
{
#pragma omp simd
    for (size_t k = 0; k < n; k++)
        x[k] = x[k] < 0.0 ? 0.0 : x[k];
}

static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict jac)
{
    double R = x[0], V = x[1], T = p[TAU], rtau = 1.0 / T;
    jac[0] = rtau * 2.0 * V;
    jac[1] = rtau * 2.0 * R;
    jac[2] = rtau * (-2.0 * PI_SQUARED * T * T * R + p[J] * T);
    jac[3] = rtau * 2.0 * V;
}

VBT_HIDDEN const vbt_model_type vbt__model_montbrio_pazo_roxin = {
    .name = "montbrio_pazo_roxin",
    .title = "Montbrio-Pazo-Roxin mean field of QIF neurons (Montbrio et al. 2015), 2 state variables",
    .doc = "Exact low-dimensional description of an infinite population of quadratic "
           "integrate-and-fire neurons with Lorentzian heterogeneity: firing rate r and "
           "mean membrane potential V.  Bistable between a low-activity focus and a "
           "high-activity state for the defaults.  Equations and defaults of The Virtual "
           "Brain's MontbrioPazoRoxin; time in ms through tau.  r is kept >= 0.",
    .n_state = 2,
    .state_names = state_names,
    .n_cvar = 2,
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
