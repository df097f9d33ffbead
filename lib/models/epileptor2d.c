/* epileptor2d.c -- the two-variable Epileptor (Proix et al. 2014), the
 * slow-fast reduction used by the Virtual Epileptic Patient, exactly as The
 * Virtual Brain's Epileptor2D:
 *
 *   f   = x1 < 0 ? a x1^2 + (d - b) x1 : -slope - 0.6 (z - 4)^2 + d x1
 *   dx1 = tt (c - z + Iext + Kvf c0 - f x1)
 *   h   = modification ? x0 + 3 / (1 + exp(-(x1 + 0.5) / 0.1))
 *                      : 4 (x1 - x0) + (z < 0 ? -0.1 z^7 : 0)
 *   dz  = tt r (h - z + Ks c0)
 *
 * For x1 < 0 and defaults, dx1 = 1 - x1^3 - 2 x1^2 - z + Iext.  The left
 * branch of the x1-nullcline folds at x1 = -4/3, so an isolated node has a
 * stable fixed point for x0 below x0c = -4/3 - z_fold/4 = -2.0620, with
 * z_fold = 4.1 + (4/3)^3 - 2 (4/3)^2, and seizes above it (tests/test_models.c).
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"
#include "epileptor_slow.h"

enum { A, B, C, D, R, X0, IEXT, SLOPE, KVF, KS, TT, MODIFICATION, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [A] = {"a", 1.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of the cubic term"},
    [B] = {"b", 3.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of the squared term"},
    [C] = {"c", 1.0, "1", -HUGE_VAL, HUGE_VAL, "additive constant of dx1"},
    [D] = {"d", 5.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of the squared term (d - b)"},
    [R] = {"r", 0.00035, "1/ms", 0.0, 0.001, "time-scale separation of z"},
    [X0] = {"x0", -1.6, "1", -3.0, -1.0, "excitability; an isolated node seizes for x0 > -2.062"},
    [IEXT] = {"Iext", 3.1, "1", 1.5, 5.0, "external input current"},
    [SLOPE] = {"slope", 0.0, "1", -16.0, 6.0, "linear coefficient on the right branch"},
    [KVF] = {"Kvf", 0.0, "1", 0.0, 4.0, "coupling into dx1"},
    [KS] = {"Ks", 0.0, "1", -4.0, 4.0, "permittivity coupling into dz (Ks = -K of Proix 2014)"},
    [TT] = {"tt", 1.0, "1", 0.001, 10.0, "time scaling"},
    [MODIFICATION] = {"modification", 0.0, "bool", 0.0, 1.0, "1: sigmoidal h"},
};

static const char *const state_names[2] = {"x1", "z"};
static const size_t cvar[1] = {0};
static const char *const observed[1] = {"x1"};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                 const double *restrict p, double *restrict dx)
{
    const double *x1 = x, *z = x + n, *c0 = c;
    const double *a = p + A * n, *b = p + B * n, *cc = p + C * n, *d = p + D * n,
                 *r = p + R * n, *x0 = p + X0 * n, *iext = p + IEXT * n,
                 *slope = p + SLOPE * n, *kvf = p + KVF * n, *ks = p + KS * n,
                 *tt = p + TT * n, *mod = p + MODIFICATION * n;
    double *restrict dx1 = dx, *restrict dz = dx + n;

    /* Both sides of each branch are computed, then selected: vectorises. */
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double X1 = x1[k], Z = z[k], T = tt[k], zm4 = Z - 4.0;
        double f_left = a[k] * X1 * X1 + (d[k] - b[k]) * X1;
        double f_right = -slope[k] - 0.6 * zm4 * zm4 + d[k] * X1;
        double f = X1 < 0.0 ? f_left : f_right;
        dx1[k] = T * (cc[k] - Z + iext[k] + kvf[k] * c0[k] - f * X1);
        double h = epileptor_h(X1, Z, x0[k]);
        dz[k] = T * (r[k] * (h - Z + ks[k] * c0[k]));
    }
    epileptor_sigmoid_dz(n, x1, z, x0, r, ks, tt, c0, mod, dz);
}

/* TVB's state_variable_range: those of x1 and z in the 6D Epileptor. */
static const double state_range[2][2] = {{-2.0, 1.0}, {2.0, 5.0}};

/* One lane; J[v * 2 + w] = d(dx_v)/d(x_w), on the branch dfun selects
 * (x1 < 0, z < 0, modification). */
static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict J)
{
    (void)c;
    double X1 = x[0], Z = x[1], T = p[TT], zm4 = Z - 4.0;
    double dh_dx1, dh_dz;
    epileptor_h_derivs(X1, Z, p[MODIFICATION], &dh_dx1, &dh_dz);
    /* dx1 = T (c - z + Iext + Kvf c0 - f x1) */
    if (X1 < 0.0) {
        J[0] = -T * (3.0 * p[A] * X1 * X1 + 2.0 * (p[D] - p[B]) * X1);
        J[1] = -T;
    } else {
        J[0] = -T * (-p[SLOPE] - 0.6 * zm4 * zm4 + 2.0 * p[D] * X1);
        J[1] = T * (-1.0 + 1.2 * zm4 * X1);
    }
    /* dz = T r (h - z + Ks c0) */
    J[2] = T * p[R] * dh_dx1;
    J[3] = T * p[R] * (dh_dz - 1.0);
}

VBT_HIDDEN const vbt_model_type vbt__model_epileptor2d = {
    .name = "epileptor2d",
    .title = "2D Epileptor (Proix et al. 2014), 2 state variables",
    .doc = "Slow-fast reduction of the Epileptor keeping the fast variable x1 and "
           "the slow permittivity z; the network model of the Virtual Epileptic "
           "Patient.  Equations and defaults of The Virtual Brain's Epileptor2D; "
           "time in ms.",
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
