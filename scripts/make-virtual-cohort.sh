#!/usr/bin/env bash
# Build the virtual cohort on the real implantations of OpenNeuro ds004100
# (HUP iEEG, CC0; its sidecars are in ../shared/data/ds004100, MANIFEST.md
# section 8): a BIDS-iEEG dataset with the same subjects, contacts, channels
# and paths as the real one, whose seizures vbt simulated, so that
# `vbt cohort run OUT -o RESULTS` treats it exactly as it would the real data
# and can be scored against a known truth.
#
#   scripts/make-virtual-cohort.sh [-j N] [--subjects sub-A,sub-B] [--truth DIR]
#                                  [--gain jitter|centre|volume] [--variant K]
#                                  [--seizures N] [--duration S] DATASET OUT
#
# For every subject of DATASET/participants.tsv that has files and at least
# one seizure-onset channel (channels.tsv status_description contains
# 'soz'), in its first ictal run (the one seizure per patient):
# * Contacts: the run's SEEG/ECOG channels with numeric coordinates in the
#   subject's electrodes.tsv, in mm (ds004100's coordsystem.json says 'm' but
#   the values are mm: coordinates are taken as mm when any |value| > 1).
#   fsaverage coordinates are used as MNI152 (the dataset's README describes
#   them as ICBM152 MNI space).
# * Localisation (`vbt contacts localize`) in the MNI Desikan parcellation of
#   data-samples/neuroparc (70 labels, 2 mm), its names mapped to
#   the 84-region connectome by data-samples/desikan70_to_dk84.tsv; white
#   matter and corpus callosum count as unlabelled, so a contact there takes
#   the nearest grey-matter region within 5 mm (--radius 5); a contact
#   outside every region then takes the nearest centre among the 18
#   connectome regions that the volume lacks (insulae, subcortical,
#   cerebellum) when it lies within 15 mm, else it is in no region.
# * Ground truth: EZ = the regions of the SOZ contacts (x0 = -1.6); PZ = the
#   three other regions with the largest total connection weight from the EZ
#   in the subject's connectome (x0 = -2.3), every other region healthy
#   (x0 = -3.5).  A subject whose SOZ contacts lie in no region is skipped
#   (reason in TRUTH/skipped.tsv).
# * Connectome: the 84-region Desikan-Killiany atlas connectome
#   (data-samples/connectivity_84_desikan.zip), max-normalised, with
#   individual variation: each connection and its mirror multiplied by
#   exp(0.2 g - 0.02), g standard normal (log-normal, mean 1, about 20 %
#   spread; seed from the subject id), then the EZ -> PZ weights raised to 3
#   as in the sample patient (scripts/virtual_patient.py).  `vbt cohort run`
#   fits with the plain atlas connectome: neither the variation nor the
#   raised weights are in what the fit is given.
# * Seizure: `vbt simulate` with the sample patient's model
#   (scripts/virtual_patient.py: 6-variable Epileptor, noise, 3 mm/ms
#   conduction delays), 12 s, SEEG projected through the contacts' gain at
#   the run's sampling rate (the real *_ieeg.json; dt = the sampling period
#   over round(period / 0.05 ms)).  The gain is NOT the one `vbt cohort
#   run` fits with (the volume gain of the 2 mm atlas at the listed
#   positions; the validation benchmark, bench/validate-ez.sh,
#   docs/validation.md): --gain jitter (the default): the volume gain of
#   the 1 mm atlas (../shared/data/neuroparc; the 2 mm one when absent) at
#   positions displaced by a localisation error, each electrode by N(0, 2 mm)
#   and each contact by N(0, 1 mm) more per axis; --gain centre: every
#   region a point source at its centre (`vbt gain --method centre
#   --min-distance 5`; a harsher mismatch); --gain volume: the fit's own.
# * --variant K (K >= 1; default 0): a held-out variant of every subject:
#   the seeds (connectome variation, noise) are the subject's seed +
#   K * 1000003, and the EZ is a new focus instead of the SOZ regions: one
#   region that a contact lies in (not a SOZ region), drawn with that seed,
#   and with probability 1/2 the observed region most strongly connected
#   to it; channels.tsv's 'soz' marks move to the contacts in the new EZ.
#   Onset and offset from the simulated LFP proxy as in the sample patient.
# * Recording: bench/vcohort_edf writes the EDF with every channel of the
#   real channels.tsv in its order (channels without coordinates record
#   noise only) in uV: signal scaled to 150 uV standard deviation on the
#   strongest channel, 1/f background (15 uV), amplifier noise (2 uV) and
#   mains at the run's PowerLineFrequency (3 uV).
# * BIDS: the EDF at exactly the real path; the real channels.tsv,
#   electrodes.tsv, coordsystem.json copied as they are (quirks included),
#   ieeg.json copied with RecordingDuration set to the simulated length,
#   events.tsv in the real layout ('sz onset' / 'sz offset' with sample
#   numbers, UTF-8 byte-order mark as the real files), scans.tsv listing the
#   run (acq_time n/a: no dates), participants.tsv/.json copied as they are.
# * Ground truth apart from the BIDS files: TRUTH/sub-XX.json (EZ, PZ, the
#   contacts' regions, onset/offset, seeds) and TRUTH/truth.tsv; TRUTH
#   defaults to OUT-truth beside OUT.
# * --seizures N (default 1): N seizures of each virtual patient, as its
#   first N ictal runs (the real sidecars of its next ictal runs with the
#   same channels, else the first run's copied under the next free run
#   numbers): the same connectome, gain, EZ/PZ, sampling rate, EDF
#   background and mains; seizure k's noise seeds (simulation and EDF
#   background) are the subject's seed + (k - 1) * 7919, its initial state
#   the same.  TRUTH/sub-XX.json then lists them under "seizures"
#   (bench/twin_vcohort.sh: a twin with three seizures).
# * --duration S (default 12): seconds simulated per seizure.
# Deterministic; takes minutes (-j N subjects at a time, default 2).
# Needs the built vbt and bench/vcohort_edf (scripts/setup.sh; BUILD= picks
# the build directory, default build) and python3 (plumbing only).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
JOBS=2
SUBJECTS=
TRUTH=
GAIN=jitter
VARIANT=0
SEIZURES=1
DURATION=12
while [ $# -gt 0 ]; do
    case "$1" in
        -j) JOBS=$2; shift 2 ;;
        --subjects) SUBJECTS=$2; shift 2 ;;
        --truth) TRUTH=$2; shift 2 ;;
        --gain) GAIN=$2; shift 2 ;;
        --variant) VARIANT=$2; shift 2 ;;
        --seizures) SEIZURES=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "make-virtual-cohort: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
case "$GAIN" in jitter|centre|volume) ;; *) echo "make-virtual-cohort: --gain jitter|centre|volume" >&2; exit 2 ;; esac
case "$VARIANT" in ''|*[!0-9]*) echo "make-virtual-cohort: --variant takes a number" >&2; exit 2 ;; esac
case "$SEIZURES" in ''|0|*[!0-9]*) echo "make-virtual-cohort: --seizures takes a number >= 1" >&2; exit 2 ;; esac
case "$DURATION" in ''|0|*[!0-9]*) echo "make-virtual-cohort: --duration takes whole seconds >= 1" >&2; exit 2 ;; esac
if [ $# -ne 2 ]; then
    echo "usage: scripts/make-virtual-cohort.sh [-j N] [--subjects LIST] [--truth DIR] [--gain jitter|centre|volume] [--variant K] [--seizures N] [--duration S] DATASET OUT" >&2
    exit 2
fi
DATASET=$(cd "$1" && pwd)
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
TRUTH=${TRUTH:-$OUT-truth}
mkdir -p "$TRUTH"
TRUTH=$(cd "$TRUTH" && pwd)
VBT=$ROOT/$BUILD/cli/vbt
EDF=$ROOT/$BUILD/bench/vcohort_edf
for x in "$VBT" "$EDF"; do
    [ -x "$x" ] || { echo "make-virtual-cohort: $x not built (scripts/setup.sh $BUILD)" >&2; exit 1; }
done
exec python3 "$ROOT/scripts/virtual_cohort.py" "$ROOT" "$VBT" "$EDF" "$DATASET" "$OUT" "$TRUTH" \
    "$JOBS" "$SUBJECTS" "$GAIN" "$VARIANT" "$SEIZURES" "$DURATION"
