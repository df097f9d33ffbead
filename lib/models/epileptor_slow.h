/* epileptor_slow.h -- the slow permittivity variable z shared by the 6D and
 * 2D Epileptors (TVB's Epileptor and Epileptor2D use the same form). */
#ifndef VBT_EPILEPTOR_SLOW_H
#define VBT_EPILEPTOR_SLOW_H

#include <math.h>
#include <stddef.h>

/* Polynomial h = 4 (x1 - x0) + (z < 0 ? -0.1 z^7 : 0), branch-free so that
 * the calling loop vectorises (the condition is on z, not x1). */
static inline double epileptor_h(double x1, double z, double x0)
{
    double z2 = z * z, z7 = -0.1 * (z2 * z2 * z2 * z);
    return 4.0 * (x1 - x0) + (z < 0.0 ? z7 : 0.0);
}

/* dz for the lanes with modification != 0, where h is the sigmoid
 * x0 + 3 / (1 + exp(-(x1 + 0.5) / 0.1)).  Rarely used, so it patches dz
 * after the main loop and keeps exp() out of the common path. */
static inline void epileptor_sigmoid_dz(size_t n, const double *x1, const double *z,
                                        const double *x0, const double *r,
                                        const double *ks, const double *tt,
                                        const double *c0, const double *mod, double *dz)
{
    int any = 0;
    for (size_t k = 0; k < n; k++)
        any |= mod[k] != 0.0;
    for (size_t k = 0; any && k < n; k++)
        if (mod[k] != 0.0) {
            double h = x0[k] + 3.0 / (1.0 + exp(-(x1[k] + 0.5) / 0.1));
            dz[k] = tt[k] * (r[k] * (h - z[k] + ks[k] * c0[k]));
        }
}

/* Partial derivatives of h (either form) for one lane: dh/dx1 and dh/dz.
 * The sigmoid's slope 30 e / (1 + e)^2, e = exp(-|x1 + 0.5| / 0.1), is
 * even in x1 + 0.5 and written so that e never overflows. */
static inline void epileptor_h_derivs(double x1, double z, double modification,
                                      double *dh_dx1, double *dh_dz)
{
    if (modification != 0.0) {
        double e = exp(-fabs(x1 + 0.5) / 0.1);
        *dh_dx1 = 30.0 * e / ((1.0 + e) * (1.0 + e));
        *dh_dz = 0.0;
    } else {
        double z2 = z * z;
        *dh_dx1 = 4.0;
        *dh_dz = z < 0.0 ? -0.7 * (z2 * z2 * z2) : 0.0;
    }
}

#endif
