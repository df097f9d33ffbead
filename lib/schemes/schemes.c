/* schemes.c -- deterministic integration schemes, as The Virtual Brain's
 * integrators.py.  The coupling input c is computed once per step by the
 * simulator (from the state at t_n and the delayed history) and held fixed
 * through every stage.  When the model has bounds, clamp() is applied to
 * each stage and to the result, as TVB does.
 *
 *   euler: x' = x + dt f(x) [+ dW]                      (Euler-Maruyama with noise)
 *   heun:  k1 = f(x); xp = x + dt k1 [+ dW];
 *          x' = x + dt/2 (k1 + f(xp)) [+ dW]            (stochastic Heun with noise:
 *                                                        the same dW in both stages)
 *   rk4:   k1 = f(x); k2 = f(x + dt/2 k1); k3 = f(x + dt/2 k2);
 *          k4 = f(x + dt k3); x' = x + dt/6 (k1 + 2 k2 + 2 k3 + k4) [+ dW]
 *                                                       (a stimulus; rk4 takes no noise)
 *
 * Work vectors are state-sized (n_state * n doubles) and supplied by the
 * caller, so a step never allocates.
 */
#include <string.h>

#include "internal.h"
#include "vbt_model.h"

static inline void clamp(const vbt_model_type *m, size_t n, double *x)
{
    if (m->clamp)
        m->clamp(n, x);
}

VBT_KERNEL static void euler_step(const vbt_model_type *m, size_t n, const double *restrict p,
                       const double *restrict c, double dt, const double *restrict dW,
                       double *restrict x, double *restrict work)
{
    const size_t len = m->n_state * n;
    double *restrict k1 = work;
    m->dfun(n, x, c, p, k1);
    if (dW) {
        for (size_t i = 0; i < len; i++)
            x[i] += dt * k1[i] + dW[i];
    } else {
        for (size_t i = 0; i < len; i++)
            x[i] += dt * k1[i];
    }
    clamp(m, n, x);
}

VBT_KERNEL static void heun_step(const vbt_model_type *m, size_t n, const double *restrict p,
                      const double *restrict c, double dt, const double *restrict dW,
                      double *restrict x, double *restrict work)
{
    const size_t len = m->n_state * n;
    double *restrict k1 = work, *restrict xp = work + len, *restrict k2 = work + 2 * len;
    const double h = 0.5 * dt;
    m->dfun(n, x, c, p, k1);
    if (dW) {
        for (size_t i = 0; i < len; i++)
            xp[i] = x[i] + dt * k1[i] + dW[i];
        clamp(m, n, xp);
        m->dfun(n, xp, c, p, k2);
        for (size_t i = 0; i < len; i++)
            x[i] += h * (k1[i] + k2[i]) + dW[i];
    } else {
        for (size_t i = 0; i < len; i++)
            xp[i] = x[i] + dt * k1[i];
        clamp(m, n, xp);
        m->dfun(n, xp, c, p, k2);
        for (size_t i = 0; i < len; i++)
            x[i] += h * (k1[i] + k2[i]);
    }
    clamp(m, n, x);
}

VBT_KERNEL static void rk4_step(const vbt_model_type *m, size_t n, const double *restrict p,
                     const double *restrict c, double dt, const double *restrict dW,
                     double *restrict x, double *restrict work)
{
    const size_t len = m->n_state * n;
    double *restrict k = work, *restrict acc = work + len, *restrict xs = work + 2 * len;
    const double h = 0.5 * dt;

    m->dfun(n, x, c, p, k);                               /* k1 */
    for (size_t i = 0; i < len; i++) {
        acc[i] = k[i];
        xs[i] = x[i] + h * k[i];
    }
    clamp(m, n, xs);
    m->dfun(n, xs, c, p, k);                              /* k2 */
    for (size_t i = 0; i < len; i++) {
        acc[i] += 2.0 * k[i];
        xs[i] = x[i] + h * k[i];
    }
    clamp(m, n, xs);
    m->dfun(n, xs, c, p, k);                              /* k3 */
    for (size_t i = 0; i < len; i++) {
        acc[i] += 2.0 * k[i];
        xs[i] = x[i] + dt * k[i];
    }
    clamp(m, n, xs);
    m->dfun(n, xs, c, p, k);                              /* k4 */
    const double s = dt / 6.0;
    for (size_t i = 0; i < len; i++)
        x[i] += s * (acc[i] + k[i]);
    if (dW)                     /* deterministic increments (stimulus) only */
        for (size_t i = 0; i < len; i++)
            x[i] += dW[i];
    clamp(m, n, x);
}

static const vbt_scheme_type euler_type = {
    .name = "euler",
    .doc = "explicit Euler, first order",
    .order = 1,
    .stochastic = 1,
    .n_work = 1,
    .step = euler_step,
};

static const vbt_scheme_type heun_type = {
    .name = "heun",
    .doc = "Heun's method (explicit trapezoidal predictor-corrector), second order",
    .order = 2,
    .stochastic = 1,
    .n_work = 3,
    .step = heun_step,
};

static const vbt_scheme_type rk4_type = {
    .name = "rk4",
    .doc = "classical fourth-order Runge-Kutta",
    .order = 4,
    .n_work = 3,
    .step = rk4_step,
};

const vbt_scheme_type *const vbt_scheme_euler = &euler_type;
const vbt_scheme_type *const vbt_scheme_heun = &heun_type;
const vbt_scheme_type *const vbt_scheme_rk4 = &rk4_type;

const vbt_scheme_type *const vbt_scheme_types[] = {
    &euler_type,
    &heun_type,
    &rk4_type,
    NULL,
};

const vbt_scheme_type *vbt_scheme_find(const char *name)
{
    for (size_t i = 0; name && vbt_scheme_types[i]; i++)
        if (strcmp(vbt_scheme_types[i]->name, name) == 0)
            return vbt_scheme_types[i];
    return NULL;
}
