/* vep_internal.h -- shared between the fitting/ sources; not installed. */
#ifndef VBT_VEP_INTERNAL_H
#define VBT_VEP_INTERNAL_H

#include "internal.h"
#include "vbt_vep.h"

/* A private copy of m (same spec, own workspaces) for another thread. */
VBT_HIDDEN int vbt__vep_clone(const vbt_vep *m, vbt_vep **out, vbt_msg *msg);

/* log(1 - Phi(a)): the log mass of N(0,1) above a, stable in both tails. */
VBT_HIDDEN double vbt__log_upper_tail(double a);

#endif
