/* vbt.h -- umbrella header of libvbt, the virtual brain twin toolkit.
 * Link with `pkg-config --cflags --libs vbt`. */
#ifndef VBT_H
#define VBT_H

#include "vbt_common.h"
#include "vbt_io.h"
#include "vbt_text.h"
#include "vbt_connectome.h"
#include "vbt_model.h"
#include "vbt_sim.h"
#include "vbt_rng.h"

/* connectomes/: subject connectomes, contacts, gain matrices, simulation
 * configurations */
#include "vbt_parcellation.h"
#include "vbt_contacts.h"
#include "vbt_gain.h"
#include "vbt_connectome_build.h"
#include "vbt_sim_config.h"
#include "vbt_sweep.h"

/* clinical/: recordings (EDF/BDF, BIDS iEEG), SEEG features, EI,
 * propagation and virtual surgery, the patient and its pipeline, the report,
 * the patient's twin */
#include "vbt_recording.h"
#include "vbt_seeg.h"
#include "vbt_seeg_features.h"
#include "vbt_surgery.h"
#include "vbt_predict.h"
#include "vbt_patient.h"
#include "vbt_pipeline.h"
#include "vbt_report.h"
#include "vbt_twin.h"

/* fitting/: Bayesian inversion of the virtual epileptic patient */
#include "vbt_vep.h"
#include "vbt_nuts.h"
#include "vbt_diagnostics.h"
#include "vbt_loo.h"
#include "vbt_advi.h"
#include "vbt_smc.h"
#include "vbt_sampler.h"
#include "vbt_fit.h"
#include "vbt_vep_multi.h"

#endif
