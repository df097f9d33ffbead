/* sampler_internal.h -- shared between the sampler sources (sampler*.c);
 * not installed. */
#ifndef VBT_SAMPLER_INTERNAL_H
#define VBT_SAMPLER_INTERNAL_H

#include "internal.h"
#include "vbt_sampler.h"

/* The type tables (sampler_<name>.c), exported as vbt_sampler_<name>. */
VBT_HIDDEN extern const vbt_sampler_type vbt__sampler_map;
VBT_HIDDEN extern const vbt_sampler_type vbt__sampler_laplace;
VBT_HIDDEN extern const vbt_sampler_type vbt__sampler_nuts;
VBT_HIDDEN extern const vbt_sampler_type vbt__sampler_advi;
VBT_HIDDEN extern const vbt_sampler_type vbt__sampler_smc;

/* The generic multi-start search (sampler_map.c): BFGS from o->inits
 * (n_chains rows), else from o->map_starts prior draws of streams (o->seed,
 * start), else standard normal draws; the best end point into mode. */
VBT_HIDDEN int vbt__sampler_multistart(const vbt_target *t, const vbt_sampler_opts *o,
                                       double *mode, double *lp, vbt_msg *msg);

/* The mode the mode-based samplers start from: o->mode (its log density
 * evaluated on ctx[0]), else the target's find_mode, else the generic
 * multi-start search of vbt_sampler_map.  mode: n. */
VBT_HIDDEN int vbt__sampler_mode(const vbt_target *t, const vbt_sampler_opts *o, double *mode,
                                 double *lp, vbt_msg *msg);

/* Allocate r->draws and r->lp for C x D draws of t->n parameters and set
 * the sizes; VBT_ENOMEM. */
VBT_HIDDEN int vbt__sampler_alloc_draws(vbt_sampler_result *r, size_t n, size_t C, size_t D,
                                        vbt_msg *msg);

/* A malloc'd copy of v (n doubles), NULL when out of memory. */
VBT_HIDDEN double *vbt__sampler_dup(const double *v, size_t n);

#endif
