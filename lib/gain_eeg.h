/* gain_eeg.h -- the analytic scalp-EEG gain (TVB's sphere), shared by the eeg
 * monitor (lib/monitors/projection.c) and vbt_gain_eeg() (connectomes/);
 * not installed.  The formula is documented in vbt_gain.h and vbt_sim.h. */
#ifndef VBT_GAIN_EEG_INTERNAL_H
#define VBT_GAIN_EEG_INTERNAL_H

#include <stddef.h>
#include "internal.h"

/* The same values as VBT_GAIN_MIN_DIST_MM and VBT_GAIN_EEG_RADIUS_FACTOR of
 * vbt_gain.h (connectomes/), which lib/ cannot include. */
#define VBT__GAIN_MIN_DIST_MM 1.0
#define VBT__GAIN_EEG_RADIUS_FACTOR 1.05125

/* gain (ns x nr, row-major) of dipoles at `centres` (nr x 3, mm) with
 * `orientations` (nr x 3, or NULL: radial) seen from `sensors` (ns x 3, mm)
 * moved onto the sphere around the regions; distances under min_dist_mm
 * count as min_dist_mm.  VBT_EINVAL / VBT_ENUMERIC on bad input. */
VBT_HIDDEN int vbt__gain_eeg(const double *sensors, size_t ns, const double *centres,
                             const double *orientations, size_t nr, double min_dist_mm,
                             double *gain, vbt_msg *msg);

#endif
