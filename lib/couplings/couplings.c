/* couplings.c -- couplings whose pre-synaptic term is linear, as in The
 * Virtual Brain's coupling.py.  The simulator supplies the delayed weighted
 * sum s_i = sum_j w_ij x_j(t - tau_ij) and the row sums rs_i = sum_j w_ij. */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "vbt_model.h"

/* Linear: c_i = a s_i + b. */
enum { LIN_A, LIN_B, LIN_N };
static const vbt_param_desc linear_params[LIN_N] = {
    [LIN_A] = {"a", 0.00390625, "1", -HUGE_VAL, HUGE_VAL, "global coupling strength (TVB default 1/256)"},
    [LIN_B] = {"b", 0.0, "1", -HUGE_VAL, HUGE_VAL, "offset added to every coupling input"},
};

VBT_KERNEL static void linear_post(size_t n, const double *restrict s, const double *restrict xi,
                        const double *restrict rs, const double *restrict p,
                        double *restrict c)
{
    const double *a = p + LIN_A * n, *b = p + LIN_B * n;
    for (size_t k = 0; k < n; k++)
        c[k] = a[k] * s[k] + b[k];
}

static const vbt_coupling_type linear_type = {
    .name = "linear",
    .doc = "c_i = a * sum_j w_ij x_j(t - tau_ij) + b",
    .n_param = LIN_N,
    .params = linear_params,
    .post = linear_post,
};

/* Difference: c_i = a sum_j w_ij (x_j(t - tau_ij) - x_i(t)) = a (s_i - x_i rs_i). */
enum { DIF_A, DIF_N };
static const vbt_param_desc difference_params[DIF_N] = {
    [DIF_A] = {"a", 0.1, "1", -HUGE_VAL, HUGE_VAL, "global coupling strength"},
};

VBT_KERNEL static void difference_post(size_t n, const double *restrict s, const double *restrict xi,
                            const double *restrict rs, const double *restrict p,
                            double *restrict c)
{
    const double *a = p + DIF_A * n;
    for (size_t k = 0; k < n; k++)
        c[k] = a[k] * (s[k] - xi[k] * rs[k]);
}

static const vbt_coupling_type difference_type = {
    .name = "difference",
    .doc = "c_i = a * sum_j w_ij (x_j(t - tau_ij) - x_i(t))",
    .n_param = DIF_N,
    .params = difference_params,
    .post = difference_post,
};

const vbt_coupling_type *const vbt_coupling_linear = &linear_type;
const vbt_coupling_type *const vbt_coupling_difference = &difference_type;

const vbt_coupling_type *const vbt_coupling_types[] = {
    &linear_type,
    &difference_type,
    NULL,
};

const vbt_coupling_type *vbt_coupling_find(const char *name)
{
    for (size_t i = 0; name && vbt_coupling_types[i]; i++)
        if (strcmp(vbt_coupling_types[i]->name, name) == 0)
            return vbt_coupling_types[i];
    return NULL;
}
