/* vep_internal.h -- shared between the fitting/ sources; not installed. */
#ifndef VBT_VEP_INTERNAL_H
#define VBT_VEP_INTERNAL_H

#include "internal.h"
#include "vbt_vep.h"

/* A private copy of m (same spec, own workspaces) for another thread. */
VBT_HIDDEN int vbt__vep_clone(const vbt_vep *m, vbt_vep **out, vbt_msg *msg);

/* log(1 - Phi(a)): the log mass of N(0,1) above a, stable in both tails. */
VBT_HIDDEN double vbt__log_upper_tail(double a);

/* In-place lower Cholesky (row major, n x n); -1 when not positive definite. */
VBT_HIDDEN int vbt__cholesky(double *A, size_t n);

/* Negative Hessian of the log posterior by differences of the gradient
 * (step h), symmetrised, into H (np x np): central differences when g0 is
 * NULL (2 np gradients, error O(h^2)), else forward differences from g0,
 * the gradient at theta (np gradients, error O(h)); th, gp, gm: np scratch
 * (gm unused with g0).  0, or 1 + the index of a parameter whose perturbed
 * gradient failed. */
VBT_HIDDEN size_t vbt__vep_neg_hessian(vbt_vep *m, const double *theta, const double *g0,
                                       double h, double *H, double *th, double *gp, double *gm);

#endif
