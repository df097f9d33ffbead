/* kuramoto.c -- the Kuramoto phase oscillator (Kuramoto 1975; Cabral et al.
 * 2011, NeuroImage 57:130 for brain networks), exactly as The Virtual
 * Brain's models/oscillator.py Kuramoto in region simulations:
 *
 *   dtheta = omega + c0
 *
 * (TVB adds sin(lc theta), which vanishes without local coupling.)  With the
 * kuramoto coupling c0_i = a sum_j w_ij sin(theta_j(t - tau_ij) - theta_i),
 * with no 1/N, as TVB.  Phases are not wrapped.
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"

enum { OMEGA, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [OMEGA] = {"omega", 1.0, "rad/ms", 0.01, 200.0, "natural angular frequency of the oscillator"},
};

static const char *const state_names[1] = {"theta"};
static const size_t cvar[1] = {0};
static const char *const observed[1] = {"theta"};
static const double state_range[1][2] = {{0.0, 2.0 * M_PI}};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                            const double *restrict p, double *restrict dx)
{
    const double *omega = p + OMEGA * n, *c0 = c;

#pragma omp simd
    for (size_t k = 0; k < n; k++)
        dx[k] = omega[k] + c0[k];
}

static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict jac)
{
    jac[0] = 0.0;
}

VBT_HIDDEN const vbt_model_type vbt__model_kuramoto = {
    .name = "kuramoto",
    .title = "Kuramoto phase oscillator (Kuramoto 1975), 1 state variable",
    .doc = "Each region is a phase theta turning at its natural frequency omega and "
           "pulled by its neighbours through the kuramoto coupling, "
           "a sum_j w_ij sin(theta_j - theta_i) (no 1/N, as TVB).  Equations and "
           "defaults of The Virtual Brain's Kuramoto; rad and ms; phases not wrapped.",
    .n_state = 1,
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
