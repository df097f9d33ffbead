/* jansen_rit.c -- the Jansen-Rit cortical column (Jansen & Rit 1995, Biol.
 * Cybern. 73:357), exactly as The Virtual Brain's models/jansen_rit.py:
 *
 *   S(v) = 2 nu_max / (1 + exp(r (v0 - v)))
 *   dy0 = y3,  dy1 = y4,  dy2 = y5
 *   dy3 = A a S(y1 - y2) - 2 a y3 - a^2 y0
 *   dy4 = A a (mu + a_2 J S(a_1 J y0) + c0) - 2 a y4 - a^2 y1
 *   dy5 = B b a_4 J S(a_3 J y0) - 2 b y5 - b^2 y2
 *
 * y0 is the pyramidal cells' membrane potential, y1 and y2 the excitatory
 * and inhibitory post-synaptic potentials onto them (y1 - y2 is the usual
 * EEG proxy), y3..y5 their derivatives; mV and ms.  The coupling variables
 * are y1 and y2 (cvar {1, 2}), but only one input is used: c0, the single
 * row of the sigmoidal Jansen-Rit coupling, sum_j w_ij S(y1_j - y2_j).
 * p_min and p_max are kept for TVB compatibility; TVB's dfun ignores them.
 */
#include <math.h>

#include "internal.h"
#include "vbt_model.h"

enum { A, B, LA, LB, V0, NU_MAX, R, J, A_1, A_2, A_3, A_4, P_MIN, P_MAX, MU, N_PARAM };

static const vbt_param_desc params[N_PARAM] = {
    [A] = {"A", 3.25, "mV", 2.6, 9.75, "maximum amplitude of the excitatory post-synaptic potential"},
    [B] = {"B", 22.0, "mV", 17.6, 110.0, "maximum amplitude of the inhibitory post-synaptic potential"},
    [LA] = {"a", 0.1, "1/ms", 0.05, 0.15, "reciprocal time constant of the excitatory synapses and dendrites"},
    [LB] = {"b", 0.05, "1/ms", 0.025, 0.075, "reciprocal time constant of the inhibitory synapses and dendrites"},
    [V0] = {"v0", 5.52, "mV", 3.12, 6.0, "potential at which the sigmoid gives half its maximum firing rate"},
    [NU_MAX] = {"nu_max", 0.0025, "1/ms", 0.00125, 0.00375, "half the maximum firing rate of the sigmoid (S saturates at 2 nu_max)"},
    [R] = {"r", 0.56, "1/mV", 0.28, 0.84, "steepness of the sigmoid"},
    [J] = {"J", 135.0, "1", 65.0, 1350.0, "average number of synapses between the populations"},
    [A_1] = {"a_1", 1.0, "1", 0.5, 1.5, "connectivity, pyramidal to excitatory interneurons (times J)"},
    [A_2] = {"a_2", 0.8, "1", 0.4, 1.2, "connectivity, excitatory interneurons to pyramidal (times J)"},
    [A_3] = {"a_3", 0.25, "1", 0.125, 0.375, "connectivity, pyramidal to inhibitory interneurons (times J)"},
    [A_4] = {"a_4", 0.25, "1", 0.125, 0.375, "connectivity, inhibitory interneurons to pyramidal (times J)"},
    [P_MIN] = {"p_min", 0.12, "1/ms", 0.0, 0.12, "minimum input firing rate (unused by the equations, as in TVB)"},
    [P_MAX] = {"p_max", 0.32, "1/ms", 0.0, 0.32, "maximum input firing rate (unused by the equations, as in TVB)"},
    [MU] = {"mu", 0.22, "1/ms", 0.0, 0.22, "mean input firing rate onto the excitatory interneurons' targets"},
};

static const char *const state_names[6] = {"y0", "y1", "y2", "y3", "y4", "y5"};
static const size_t cvar[2] = {1, 2};
static const char *const observed[4] = {"y0", "y1", "y2", "y3"};
static const double state_range[6][2] = {
    {-1.0, 1.0}, {-500.0, 500.0}, {-50.0, 50.0}, {-6.0, 6.0}, {-20.0, 20.0}, {-500.0, 500.0},
};

VBT_KERNEL static void dfun(size_t n, const double *restrict x, const double *restrict c,
                            const double *restrict p, double *restrict dx)
{
    const double *y0 = x, *y1 = x + n, *y2 = x + 2 * n, *y3 = x + 3 * n, *y4 = x + 4 * n,
                 *y5 = x + 5 * n, *c0 = c;
    const double *pa = p + A * n, *pb = p + B * n, *la = p + LA * n, *lb = p + LB * n,
                 *v0 = p + V0 * n, *nu = p + NU_MAX * n, *r = p + R * n, *pj = p + J * n,
                 *a1 = p + A_1 * n, *a2 = p + A_2 * n, *a3 = p + A_3 * n, *a4 = p + A_4 * n,
                 *mu = p + MU * n;
    double *restrict dy0 = dx, *restrict dy1 = dx + n, *restrict dy2 = dx + 2 * n,
                     *restrict dy3 = dx + 3 * n, *restrict dy4 = dx + 4 * n,
                     *restrict dy5 = dx + 5 * n;

    /* The three exponentials of the sigmoids go through dy3..dy5 first: the
     * loop calling exp() stays scalar (glibc's vector exp is only used under
     * -ffast-math), the arithmetic loop below vectorises, and every lane
     * gives the same bits whatever the vector width. */
    for (size_t k = 0; k < n; k++) {
        double rk = r[k], vk = v0[k];
        dy3[k] = exp(rk * (vk - (y1[k] - y2[k])));
        dy4[k] = exp(rk * (vk - a1[k] * pj[k] * y0[k]));
        dy5[k] = exp(rk * (vk - a3[k] * pj[k] * y0[k]));
    }
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        double two_nu = 2.0 * nu[k], a = la[k], b = lb[k];
        double s_pyr = two_nu / (1.0 + dy3[k]);
        double s_exc = two_nu / (1.0 + dy4[k]);
        double s_inh = two_nu / (1.0 + dy5[k]);
        dy0[k] = y3[k];
        dy1[k] = y4[k];
        dy2[k] = y5[k];
        dy3[k] = pa[k] * a * s_pyr - 2.0 * a * y3[k] - a * a * y0[k];
        dy4[k] = pa[k] * a * (mu[k] + a2[k] * pj[k] * s_exc + c0[k]) - 2.0 * a * y4[k]
                 - a * a * y1[k];
        dy5[k] = pb[k] * b * (a4[k] * pj[k] * s_inh) - 2.0 * b * y5[k] - b * b * y2[k];
    }
}

/* S and dS/dv at v; dS/dv = r S (1 - S / (2 nu_max)) stays finite when
 * exp() overflows (S = 0 there). */
static void sigmoid(double v, double v0, double nu, double r, double *s, double *ds)
{
    *s = 2.0 * nu / (1.0 + exp(r * (v0 - v)));
    *ds = r * *s * (1.0 - *s / (2.0 * nu));
}

static void jacobian(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict jac)
{
    double a = p[LA], b = p[LB], pj = p[J], s, ds_pyr, ds_exc, ds_inh;
    sigmoid(x[1] - x[2], p[V0], p[NU_MAX], p[R], &s, &ds_pyr);
    sigmoid(p[A_1] * pj * x[0], p[V0], p[NU_MAX], p[R], &s, &ds_exc);
    sigmoid(p[A_3] * pj * x[0], p[V0], p[NU_MAX], p[R], &s, &ds_inh);
    for (size_t i = 0; i < 36; i++)
        jac[i] = 0.0;
    jac[0 * 6 + 3] = 1.0;
    jac[1 * 6 + 4] = 1.0;
    jac[2 * 6 + 5] = 1.0;
    jac[3 * 6 + 0] = -a * a;
    jac[3 * 6 + 1] = p[A] * a * ds_pyr;
    jac[3 * 6 + 2] = -p[A] * a * ds_pyr;
    jac[3 * 6 + 3] = -2.0 * a;
    jac[4 * 6 + 0] = p[A] * a * p[A_2] * pj * ds_exc * p[A_1] * pj;
    jac[4 * 6 + 1] = -a * a;
    jac[4 * 6 + 4] = -2.0 * a;
    jac[5 * 6 + 0] = p[B] * b * p[A_4] * pj * ds_inh * p[A_3] * pj;
    jac[5 * 6 + 2] = -b * b;
    jac[5 * 6 + 5] = -2.0 * b;
}

VBT_HIDDEN const vbt_model_type vbt__model_jansen_rit = {
    .name = "jansen_rit",
    .title = "Jansen-Rit cortical column (Jansen & Rit 1995), 6 state variables",
    .doc = "Three populations of a cortical column (pyramidal cells, excitatory and "
           "inhibitory interneurons) as second-order linear synapses driven by a "
           "sigmoidal potential-to-rate function.  Equations, defaults and ranges of "
           "The Virtual Brain's JansenRit; mV and ms.  Only c0 is used: pair it with "
           "the sigmoidal_jansen_rit coupling (its one row, from y1 - y2).",
    .n_state = 6,
    .state_names = state_names,
    .n_cvar = 2,
    .cvar = cvar,
    .n_param = N_PARAM,
    .params = params,
    .n_observed = 4,
    .observed = observed,
    .dfun = dfun,
    .clamp = NULL,
    .state_range = state_range,
    .jacobian = jacobian,
};
