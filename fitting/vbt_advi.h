/* vbt_advi.h -- automatic differentiation variational inference (Kucukelbir
 * et al. 2017, JMLR 18(14)) on any log density with its gradient: a Gaussian
 * q on the unconstrained space, mean-field (diagonal) or full-rank
 * (Cholesky factor), fitted by stochastic gradient ascent on the ELBO with
 * reparameterised draws and Stan's adaptive step-size sequence, stopped when
 * the relative change of the ELBO falls below a tolerance. */
#ifndef VBT_ADVI_H
#define VBT_ADVI_H

#include <stddef.h>
#include <stdint.h>

#include "vbt_common.h"
#include "vbt_nuts.h"           /* vbt_logp_fn */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vbt_advi_family { VBT_ADVI_MEANFIELD = 0, VBT_ADVI_FULLRANK = 1 } vbt_advi_family;

typedef struct vbt_advi_opts {
    vbt_advi_family family;
    size_t max_iter;        /* 10000 */
    size_t grad_samples;    /* 1: draws per gradient estimate */
    size_t elbo_samples;    /* 100: draws per ELBO estimate */
    size_t eval_elbo;       /* 100: iterations between ELBO estimates */
    double eta;             /* 0.1: step-size scale (Stan's eta) */
    double tol_rel_obj;     /* 0.01: stop when the mean (or median) relative ELBO change is below */
    uint64_t seed;
} vbt_advi_opts;

void vbt_advi_opts_default(vbt_advi_opts *o);

typedef struct vbt_advi_result {
    double elbo;            /* last estimate */
    size_t iterations;
    int converged;          /* 1 when the tolerance was reached */
} vbt_advi_result;

/* Fit q to the density of dimension n.  mu (n) holds the start on entry and
 * the variational mean on return; scale receives n standard deviations
 * (mean-field) or the n x n lower Cholesky factor, row-major (full-rank).
 * Errors: VBT_EINVAL, VBT_ENOMEM, VBT_ENUMERIC (the density failed at every
 * draw of an iteration). */
int vbt_advi(vbt_logp_fn logp, void *ctx, size_t n, const vbt_advi_opts *o, double *mu,
             double *scale, vbt_advi_result *res, vbt_msg *msg);

/* n_draws draws of q (row-major, n_draws x n) from stream (seed, stream). */
void vbt_advi_draw(size_t n, vbt_advi_family family, const double *mu, const double *scale,
                   size_t n_draws, uint64_t seed, uint64_t stream, double *draws);

#ifdef __cplusplus
}
#endif
#endif
