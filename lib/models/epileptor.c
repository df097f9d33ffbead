/* epileptor.c -- the Epileptor (Jirsa et al. 2014, Brain 137:2210), six
 * state variables, exactly as The Virtual Brain's models/epileptor.py:
 *
 *   f1  = x1 < 0 ? -a x1^2 + b x1 : slope - x2 + 0.6 (z - 4)^2
 *   dx1 = tt (y1 - z + Iext + Kvf c0 + f1 x1)
 *   dy1 = tt (c - d x1^2 - y1)
 *   h   = modification ? x0 + 3 / (1 + exp(-(x1 + 0.5) / 0.1))
 *                      : 4 (x1 - x0) + (z < 0 ? -0.1 z^7 : 0)
 *   dz  = tt r (h - z + Ks c0)
 *   dx2 = tt (-y2 + x2 - x2^3 + Iext2 + bb g - 0.3 (z - 3.5) + Kf c1)
 *   dy2 = tt (-y2 + (x2 < -0.25 ? 0 : aa (x2 + 0.25))) / tau
 *   dg  = tt (-0.01 (g - 0.1 x1))
 *
 * c0 is the coupling of x1, c1 that of x2.  With the difference coupling,
 * c0_i = a sum_j w_ij (x1_j(t - tau_ij) - x1_i), so the slow permittivity
 * coupling of Proix et al. 2014, -K sum_j w_ij (x1_j - x1_i), is Ks = -K.
 * bb multiplies g (TVB's docstring says 0.002; its code and ours use 2).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "vbt_model.h"
#include "epileptor_slow.h"

enum { A, B, C, D, R, S, X0, IEXT, SLOPE, IEXT2, TAU, AA, BB, KVF, KF, KS, TT,
       MODIFICATION, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [A] = {"a", 1.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of the cubic term of the first population"},
    [B] = {"b", 3.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of the squared term of the first population"},
    [C] = {"c", 1.0, "1", -HUGE_VAL, HUGE_VAL, "additive coefficient of the second state variable (y1)"},
    [D] = {"d", 5.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of the squared term in y1"},
    [R] = {"r", 0.00035, "1/ms", 0.0, 0.001, "time-scale separation of the slow permittivity z"},
    [S] = {"s", 4.0, "1", -HUGE_VAL, HUGE_VAL, "linear coefficient of z (kept for TVB compatibility; the 4 is fixed in the equations)"},
    [X0] = {"x0", -1.6, "1", -3.0, -1.0, "excitability (epileptogenicity); seizures for x0 above about -2.05"},
    [IEXT] = {"Iext", 3.1, "1", 1.5, 5.0, "external input current to the first population"},
    [SLOPE] = {"slope", 0.0, "1", -16.0, 6.0, "linear coefficient in the first population"},
    [IEXT2] = {"Iext2", 0.45, "1", 0.0, 1.0, "external input current to the second population"},
    [TAU] = {"tau", 10.0, "ms", -HUGE_VAL, HUGE_VAL, "time constant of y2"},
    [AA] = {"aa", 6.0, "1", -HUGE_VAL, HUGE_VAL, "linear coefficient of the fifth state variable (y2)"},
    [BB] = {"bb", 2.0, "1", -HUGE_VAL, HUGE_VAL, "coefficient of g in dx2 (TVB code value; docstring says 0.002)"},
    [KVF] = {"Kvf", 0.0, "1", 0.0, 4.0, "coupling scaling on a very fast time scale (into dx1)"},
    [KF] = {"Kf", 0.0, "1", 0.0, 4.0, "coupling scaling on a fast time scale (x2 coupling into dx2)"},
    [KS] = {"Ks", 0.0, "1", -4.0, 4.0, "permittivity coupling on the slow time scale (negative: Ks = -K of Proix 2014)"},
    [TT] = {"tt", 1.0, "1", 0.001, 10.0, "time scaling of the whole system"},
    [MODIFICATION] = {"modification", 0.0, "bool", 0.0, 1.0, "1: nonlinear sigmoidal h = x0 + 3/(1+exp(-(x1+0.5)/0.1))"},
};

static const char *const state_names[6] = {"x1", "y1", "z", "x2", "y2", "g"};
static const size_t cvar[2] = {0, 3};
static const char *const observed[2] = {"x2 - x1", "z"};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                 const double *restrict p, double *restrict dx)
{
    const double *x1 = x, *y1 = x + n, *z = x + 2 * n, *x2 = x + 3 * n,
                 *y2 = x + 4 * n, *g = x + 5 * n;
    const double *c0 = c, *c1 = c + n;
    const double *a = p + A * n, *b = p + B * n, *cc = p + C * n, *d = p + D * n,
                 *r = p + R * n, *x0 = p + X0 * n, *iext = p + IEXT * n,
                 *slope = p + SLOPE * n, *iext2 = p + IEXT2 * n, *tau = p + TAU * n,
                 *aa = p + AA * n, *bb = p + BB * n, *kvf = p + KVF * n,
                 *kf = p + KF * n, *ks = p + KS * n, *tt = p + TT * n,
                 *mod = p + MODIFICATION * n;
    double *restrict dx1 = dx, *restrict dy1 = dx + n, *restrict dz = dx + 2 * n,
                     *restrict dx2 = dx + 3 * n, *restrict dy2 = dx + 4 * n,
                     *restrict dg = dx + 5 * n;

    /* Both sides of every branch are computed, then selected, so that the
     * loop vectorises. */
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double X1 = x1[k], Z = z[k], X2 = x2[k], T = tt[k];
        double zm4 = Z - 4.0;
        double f1_left = -a[k] * X1 * X1 + b[k] * X1;
        double f1_right = slope[k] - X2 + 0.6 * zm4 * zm4;
        double f1 = X1 < 0.0 ? f1_left : f1_right;
        dx1[k] = T * (y1[k] - Z + iext[k] + kvf[k] * c0[k] + f1 * X1);
        dy1[k] = T * (cc[k] - d[k] * X1 * X1 - y1[k]);
        double h = epileptor_h(X1, Z, x0[k]);
        dz[k] = T * (r[k] * (h - Z + ks[k] * c0[k]));
        dx2[k] = T * (-y2[k] + X2 - X2 * X2 * X2 + iext2[k] + bb[k] * g[k]
                      - 0.3 * (Z - 3.5) + kf[k] * c1[k]);
        double drive = aa[k] * (X2 + 0.25);
        dy2[k] = T * ((-y2[k] + (X2 < -0.25 ? 0.0 : drive)) / tau[k]);
        dg[k] = T * (-0.01 * (g[k] - 0.1 * X1));
    }
    epileptor_sigmoid_dz(n, x1, z, x0, r, ks, tt, c0, mod, dz);
}

/* TVB's state_variable_range (the range of random initial conditions). */
static const double state_range[6][2] = {
    {-2.0, 1.0}, {-20.0, 2.0}, {2.0, 5.0}, {-2.0, 0.0}, {0.0, 2.0}, {-1.0, 1.0},
};

/* One lane; J[v * 6 + w] = d(dx_v)/d(x_w).  On each branch the derivative
 * of that branch's formula (x1 < 0, x2 < -0.25, z < 0, modification), as
 * dfun selects them; at a kink, the side dfun uses there. */
static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict J)
{
    (void)c;
    double X1 = x[0], Z = x[2], X2 = x[3], T = p[TT], zm4 = Z - 4.0;
    double dh_dx1, dh_dz;
    epileptor_h_derivs(X1, Z, p[MODIFICATION], &dh_dx1, &dh_dz);
    for (size_t i = 0; i < 36; i++)
        J[i] = 0.0;
    /* dx1 = T (y1 - z + Iext + Kvf c0 + f1 x1) */
    if (X1 < 0.0) {
        J[0 * 6 + 0] = T * (-3.0 * p[A] * X1 * X1 + 2.0 * p[B] * X1);
        J[0 * 6 + 2] = -T;
    } else {
        J[0 * 6 + 0] = T * (p[SLOPE] - X2 + 0.6 * zm4 * zm4);
        J[0 * 6 + 2] = T * (-1.0 + 1.2 * zm4 * X1);
        J[0 * 6 + 3] = -T * X1;
    }
    J[0 * 6 + 1] = T;
    /* dy1 = T (c - d x1^2 - y1) */
    J[1 * 6 + 0] = -2.0 * T * p[D] * X1;
    J[1 * 6 + 1] = -T;
    /* dz = T r (h - z + Ks c0) */
    J[2 * 6 + 0] = T * p[R] * dh_dx1;
    J[2 * 6 + 2] = T * p[R] * (dh_dz - 1.0);
    /* dx2 = T (-y2 + x2 - x2^3 + Iext2 + bb g - 0.3 (z - 3.5) + Kf c1) */
    J[3 * 6 + 2] = -0.3 * T;
    J[3 * 6 + 3] = T * (1.0 - 3.0 * X2 * X2);
    J[3 * 6 + 4] = -T;
    J[3 * 6 + 5] = T * p[BB];
    /* dy2 = T (-y2 + (x2 < -0.25 ? 0 : aa (x2 + 0.25))) / tau */
    J[4 * 6 + 3] = X2 < -0.25 ? 0.0 : T * p[AA] / p[TAU];
    J[4 * 6 + 4] = -T / p[TAU];
    /* dg = -0.01 T (g - 0.1 x1) */
    J[5 * 6 + 0] = 0.001 * T;
    J[5 * 6 + 5] = -0.01 * T;
}

VBT_HIDDEN const vbt_model_type vbt__model_epileptor = {
    .name = "epileptor",
    .title = "Epileptor (Jirsa et al. 2014), 6 state variables",
    .doc = "Phenomenological seizure model: a fast subsystem (x1, y1) generating "
           "low-voltage fast discharges, a spike-wave subsystem (x2, y2), a slow "
           "permittivity variable z driving the system in and out of seizures, and "
           "a low-pass filter g coupling the two.  Equations and defaults of The "
           "Virtual Brain's Epileptor; time in ms.",
    .n_state = 6,
    .state_names = state_names,
    .n_cvar = 2,
    .cvar = cvar,
    .n_param = N_PARAM,
    .params = params,
    .n_observed = 2,
    .observed = observed,
    .dfun = dfun,
    .clamp = NULL,
    .state_range = state_range,
    .jacobian = jacobian,
};
