/* vbt.h -- umbrella header of libvbt, the virtual brain twin toolkit.
 * Link with `pkg-config --cflags --libs vbt`. */
#ifndef VBT_H
#define VBT_H

#include "vbt_common.h"
#include "vbt_io.h"
#include "vbt_connectome.h"
#include "vbt_model.h"
#include "vbt_sim.h"

#endif
