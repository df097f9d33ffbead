/* wong_wang_rate.h -- the transfer function of the Wong-Wang models,
 * H(u) = u / (1 - exp(-d u)), shared by reduced_wong_wang.c and
 * reduced_wong_wang_exc_inh.c.
 *
 * H has a removable singularity at u = 0 (H -> 1/d), which The Virtual
 * Brain does not guard.  The closed form is written with expm1, accurate
 * for every u != 0; below WW_H_SERIES in |d u| the series
 * (1/d)(1 + z/2 + z^2/12), z = d u, takes over.  dH/du has a closed form
 * that cancels badly for small z, so below WW_DH_SERIES its series is used. */
#ifndef VBT_WONG_WANG_RATE_H
#define VBT_WONG_WANG_RATE_H

#include <math.h>

#define WW_H_SERIES 1e-6
#define WW_DH_SERIES 1e-3

/* H near the singularity (|d u| < WW_H_SERIES). */
static inline double ww_h_series(double z, double d)
{
    return (1.0 + z * (0.5 + z / 12.0)) / d;
}

/* H(u) and dH/du for curvature d (Jacobians). */
static inline void ww_rate(double u, double d, double *h, double *dh)
{
    double z = d * u;
    double z2 = z * z;
    *h = fabs(z) < WW_H_SERIES ? ww_h_series(z, d) : u / -expm1(-z);
    *dh = fabs(z) < WW_DH_SERIES
              ? 0.5 + z * (1.0 / 6.0 - z2 * (1.0 / 180.0 - z2 / 5040.0))
              : (1.0 - z / expm1(z)) / -expm1(-z);
}

#endif
