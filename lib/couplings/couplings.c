/* couplings.c -- the couplings of The Virtual Brain's coupling.py, in the
 * pre/post form of vbt_model.h.  The simulator supplies the delayed sums
 * s_i = sum_j w_ij pre(x_j(t - tau_ij)) and the row sums rs_i; parameters
 * are per lane (p[i*n + k]).
 *
 *   linear              c = a s + b
 *   scaling             c = a s
 *   difference          c = a sum_j w_ij (x_j - x_i) = a (s - x_i rs)
 *   sigmoidal           c = cmin + (cmax - cmin) / (1 + exp(-a (s - midpoint) / sigma))
 *   sigmoidal_jansen_rit  pre = cmin + (cmax - cmin) / (1 + exp(r (midpoint - (x_j0 - x_j1)))),
 *                       c0 = a s (one row, from the source's two coupling variables)
 *   hyperbolic_tangent  pre = a (1 + tanh((b x_j - midpoint) / sigma)), c = s
 *   kuramoto            c = (a / n_cvar) sum_j w_ij sin(x_j - x_i)
 *                         = (a / n_cvar) (S_sin cos x_i - S_cos sin x_i)
 *                       (TVB divides by the number of coupling variables, 1 for
 *                       the Kuramoto model, not by the number of nodes)
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "vbt_model.h"

/* ---- linear ----------------------------------------------------------- */
enum { LIN_A, LIN_B, LIN_N };
static const vbt_param_desc linear_params[LIN_N] = {
    [LIN_A] = {"a", 0.00390625, "1", -HUGE_VAL, HUGE_VAL, "global coupling strength (TVB default 1/256)"},
    [LIN_B] = {"b", 0.0, "1", -HUGE_VAL, HUGE_VAL, "offset added to every coupling input"},
};

VBT_KERNEL static void linear_post(size_t n, size_t ncv, const double *restrict s,
                                   const double *restrict xi, const double *restrict rs,
                                   const double *restrict p, double *restrict c)
{
    const double *a = p + LIN_A * n, *b = p + LIN_B * n;
    for (size_t cv = 0; cv < ncv; cv++)
        for (size_t k = 0; k < n; k++)
            c[cv * n + k] = a[k] * s[cv * n + k] + b[k];
}

static const vbt_coupling_type linear_type = {
    .name = "linear",
    .doc = "c_i = a * sum_j w_ij x_j(t - tau_ij) + b",
    .n_param = LIN_N,
    .params = linear_params,
    .min_cvar = 1,
    .post = linear_post,
};

/* ---- scaling ---------------------------------------------------------- */
enum { SCA_A, SCA_N };
static const vbt_param_desc scaling_params[SCA_N] = {
    [SCA_A] = {"a", 0.00390625, "1", -HUGE_VAL, HUGE_VAL, "global coupling strength (TVB default 1/256)"},
};

VBT_KERNEL static void scaling_post(size_t n, size_t ncv, const double *restrict s,
                                    const double *restrict xi, const double *restrict rs,
                                    const double *restrict p, double *restrict c)
{
    const double *a = p + SCA_A * n;
    for (size_t cv = 0; cv < ncv; cv++)
        for (size_t k = 0; k < n; k++)
            c[cv * n + k] = a[k] * s[cv * n + k];
}

static const vbt_coupling_type scaling_type = {
    .name = "scaling",
    .doc = "c_i = a * sum_j w_ij x_j(t - tau_ij)",
    .n_param = SCA_N,
    .params = scaling_params,
    .min_cvar = 1,
    .post = scaling_post,
};

/* ---- difference ------------------------------------------------------- */
enum { DIF_A, DIF_N };
static const vbt_param_desc difference_params[DIF_N] = {
    [DIF_A] = {"a", 0.1, "1", -HUGE_VAL, HUGE_VAL, "global coupling strength"},
};

VBT_KERNEL static void difference_post(size_t n, size_t ncv, const double *restrict s,
                                       const double *restrict xi, const double *restrict rs,
                                       const double *restrict p, double *restrict c)
{
    const double *a = p + DIF_A * n;
    for (size_t cv = 0; cv < ncv; cv++)
        for (size_t k = 0; k < n; k++)
            c[cv * n + k] = a[k] * (s[cv * n + k] - xi[cv * n + k] * rs[k]);
}

static const vbt_coupling_type difference_type = {
    .name = "difference",
    .doc = "c_i = a * sum_j w_ij (x_j(t - tau_ij) - x_i(t))",
    .n_param = DIF_N,
    .params = difference_params,
    .min_cvar = 1,
    .post = difference_post,
};

/* ---- sigmoidal ---------------------------------------------------------- */
enum { SIG_CMIN, SIG_CMAX, SIG_MID, SIG_A, SIG_SIGMA, SIG_N };
static const vbt_param_desc sigmoidal_params[SIG_N] = {
    [SIG_CMIN] = {"cmin", -1.0, "1", -HUGE_VAL, HUGE_VAL, "minimum of the sigmoid"},
    [SIG_CMAX] = {"cmax", 1.0, "1", -HUGE_VAL, HUGE_VAL, "maximum of the sigmoid"},
    [SIG_MID] = {"midpoint", 0.0, "1", -HUGE_VAL, HUGE_VAL, "input at the sigmoid's midpoint"},
    [SIG_A] = {"a", 1.0, "1", -HUGE_VAL, HUGE_VAL, "steepness factor"},
    [SIG_SIGMA] = {"sigma", 230.0, "1", 0.0, HUGE_VAL, "width of the sigmoid"},
};

static void sigmoidal_post(size_t n, size_t ncv, const double *restrict s,
                           const double *restrict xi, const double *restrict rs,
                           const double *restrict p, double *restrict c)
{
    const double *cmin = p + SIG_CMIN * n, *cmax = p + SIG_CMAX * n, *mid = p + SIG_MID * n,
                 *a = p + SIG_A * n, *sigma = p + SIG_SIGMA * n;
    for (size_t cv = 0; cv < ncv; cv++)
        for (size_t k = 0; k < n; k++)
            c[cv * n + k] = cmin[k] + (cmax[k] - cmin[k]) /
                                          (1.0 + exp(-a[k] * (s[cv * n + k] - mid[k]) / sigma[k]));
}

static const vbt_coupling_type sigmoidal_type = {
    .name = "sigmoidal",
    .doc = "c_i = cmin + (cmax - cmin) / (1 + exp(-a (sum_j w_ij x_j(t - tau_ij) - midpoint) / sigma))",
    .n_param = SIG_N,
    .params = sigmoidal_params,
    .min_cvar = 1,
    .post = sigmoidal_post,
};

/* ---- sigmoidal Jansen-Rit ------------------------------------------------- */
enum { SJR_CMIN, SJR_CMAX, SJR_MID, SJR_R, SJR_A, SJR_N };
static const vbt_param_desc sjr_params[SJR_N] = {
    [SJR_CMIN] = {"cmin", 0.0, "1/ms", -HUGE_VAL, HUGE_VAL, "minimum firing rate"},
    [SJR_CMAX] = {"cmax", 0.005, "1/ms", -HUGE_VAL, HUGE_VAL, "maximum firing rate (2 e0)"},
    [SJR_MID] = {"midpoint", 6.0, "mV", -HUGE_VAL, HUGE_VAL, "membrane potential at half the maximum rate"},
    [SJR_R] = {"r", 0.56, "1/mV", -HUGE_VAL, HUGE_VAL, "steepness of the sigmoid"},
    [SJR_A] = {"a", 1.0, "1", -HUGE_VAL, HUGE_VAL, "global coupling strength"},
};

static size_t sjr_n_pre(size_t ncv)
{
    (void)ncv;
    return 1;
}

static void sjr_pre(size_t n, size_t ncv, const double *restrict x, const double *restrict p,
                    double *restrict out)
{
    const double *cmin = p + SJR_CMIN * n, *cmax = p + SJR_CMAX * n, *mid = p + SJR_MID * n,
                 *r = p + SJR_R * n;
    for (size_t k = 0; k < n; k++)
        out[k] = cmin[k] + (cmax[k] - cmin[k]) / (1.0 + exp(r[k] * (mid[k] - (x[k] - x[n + k]))));
}

VBT_KERNEL static void sjr_post(size_t n, size_t ncv, const double *restrict s,
                                const double *restrict xi, const double *restrict rs,
                                const double *restrict p, double *restrict c)
{
    const double *a = p + SJR_A * n;
    for (size_t k = 0; k < n; k++)
        c[k] = a[k] * s[k];
    for (size_t k = n; k < ncv * n; k++)
        c[k] = 0.0;
}

static const vbt_coupling_type sigmoidal_jansen_rit_type = {
    .name = "sigmoidal_jansen_rit",
    .doc = "c0_i = a * sum_j w_ij S(x0_j - x1_j)(t - tau_ij), "
           "S(v) = cmin + (cmax - cmin) / (1 + exp(r (midpoint - v))); "
           "for Jansen-Rit (x0, x1 = y1, y2)",
    .n_param = SJR_N,
    .params = sjr_params,
    .min_cvar = 2,
    .n_pre = sjr_n_pre,
    .pre = sjr_pre,
    .post = sjr_post,
};

/* ---- hyperbolic tangent ---------------------------------------------------- */
enum { TANH_A, TANH_B, TANH_MID, TANH_SIGMA, TANH_N };
static const vbt_param_desc tanh_params[TANH_N] = {
    [TANH_A] = {"a", 1.0, "1", -HUGE_VAL, HUGE_VAL, "amplitude"},
    [TANH_B] = {"b", 1.0, "1", -HUGE_VAL, HUGE_VAL, "gain on the source variable"},
    [TANH_MID] = {"midpoint", 0.0, "1", -HUGE_VAL, HUGE_VAL, "midpoint of the tanh"},
    [TANH_SIGMA] = {"sigma", 1.0, "1", 0.0, HUGE_VAL, "width of the tanh"},
};

static void tanh_pre(size_t n, size_t ncv, const double *restrict x, const double *restrict p,
                     double *restrict out)
{
    const double *a = p + TANH_A * n, *b = p + TANH_B * n, *mid = p + TANH_MID * n,
                 *sigma = p + TANH_SIGMA * n;
    for (size_t cv = 0; cv < ncv; cv++)
        for (size_t k = 0; k < n; k++)
            out[cv * n + k] = a[k] * (1.0 + tanh((b[k] * x[cv * n + k] - mid[k]) / sigma[k]));
}

VBT_KERNEL static void sum_post(size_t n, size_t ncv, const double *restrict s,
                                const double *restrict xi, const double *restrict rs,
                                const double *restrict p, double *restrict c)
{
    memcpy(c, s, ncv * n * sizeof *c);
}

static const vbt_coupling_type hyperbolic_tangent_type = {
    .name = "hyperbolic_tangent",
    .doc = "c_i = sum_j w_ij a (1 + tanh((b x_j(t - tau_ij) - midpoint) / sigma))",
    .n_param = TANH_N,
    .params = tanh_params,
    .min_cvar = 1,
    .pre = tanh_pre,
    .post = sum_post,
};

/* ---- Kuramoto -------------------------------------------------------------- */
enum { KUR_A, KUR_N };
static const vbt_param_desc kuramoto_params[KUR_N] = {
    [KUR_A] = {"a", 1.0, "1/ms", -HUGE_VAL, HUGE_VAL, "global coupling strength (no 1/N, as TVB)"},
};

static size_t kuramoto_n_pre(size_t ncv)
{
    return 2 * ncv;
}

static void kuramoto_pre(size_t n, size_t ncv, const double *restrict x,
                         const double *restrict p, double *restrict out)
{
    for (size_t k = 0; k < ncv * n; k++) {
        out[k] = sin(x[k]);
        out[ncv * n + k] = cos(x[k]);
    }
}

static void kuramoto_post(size_t n, size_t ncv, const double *restrict s,
                          const double *restrict xi, const double *restrict rs,
                          const double *restrict p, double *restrict c)
{
    const double *a = p + KUR_A * n;
    const double inv = 1.0 / (double)ncv;
    for (size_t cv = 0; cv < ncv; cv++)
        for (size_t k = 0; k < n; k++) {
            double th = xi[cv * n + k];
            c[cv * n + k] = a[k] * inv *
                            (s[cv * n + k] * cos(th) - s[(ncv + cv) * n + k] * sin(th));
        }
}

static const vbt_coupling_type kuramoto_type = {
    .name = "kuramoto",
    .doc = "c_i = (a / n_cvar) * sum_j w_ij sin(x_j(t - tau_ij) - x_i(t))",
    .n_param = KUR_N,
    .params = kuramoto_params,
    .min_cvar = 1,
    .n_pre = kuramoto_n_pre,
    .pre = kuramoto_pre,
    .post = kuramoto_post,
};

/* ---- registry -------------------------------------------------------------- */
const vbt_coupling_type *const vbt_coupling_linear = &linear_type;
const vbt_coupling_type *const vbt_coupling_scaling = &scaling_type;
const vbt_coupling_type *const vbt_coupling_difference = &difference_type;
const vbt_coupling_type *const vbt_coupling_sigmoidal = &sigmoidal_type;
const vbt_coupling_type *const vbt_coupling_sigmoidal_jansen_rit = &sigmoidal_jansen_rit_type;
const vbt_coupling_type *const vbt_coupling_hyperbolic_tangent = &hyperbolic_tangent_type;
const vbt_coupling_type *const vbt_coupling_kuramoto = &kuramoto_type;

const vbt_coupling_type *const vbt_coupling_types[] = {
    &linear_type,
    &scaling_type,
    &difference_type,
    &sigmoidal_type,
    &sigmoidal_jansen_rit_type,
    &hyperbolic_tangent_type,
    &kuramoto_type,
    NULL,
};

const vbt_coupling_type *vbt_coupling_find(const char *name)
{
    for (size_t i = 0; name && vbt_coupling_types[i]; i++)
        if (strcmp(vbt_coupling_types[i]->name, name) == 0)
            return vbt_coupling_types[i];
    return NULL;
}
