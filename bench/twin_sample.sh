#!/usr/bin/env bash
# bench/twin_sample.sh -- the twin on the sample patient with three seizures
# (docs/twin.md): the sample's own seizure, then two new 20 s recordings
# simulated as scripts/make-sample-patient.sh made the first (same
# connectome, contacts, volume gain, EZ and PZ; noise seeds 8 and 9);
# `vbt twin init`, two `vbt twin update`s, and `vbt twin refit` (the joint fit
# of the three from scratch).  Prints the CPU time of the last update against
# the joint refit (issue 20's target: at most 25 %) and the largest
# difference of P(EZ) between them (target: 0.05).
#
#   bench/twin_sample.sh [OUT] [PARTICLES] [THREADS]
#
# REUSE=1 keeps the simulated recordings of an earlier run in OUT/new.
# REFIT_LATEST=1 also runs `vbt twin refit --start latest` (OUT/refit_latest.txt):
# the joint fit whose mode search starts from v0003's particles, to compare the
# two refits' modes by the same code (docs/twin.md, "Which mode").
# Needs the built vbt (VBT=build/cli/vbt) and python3 (plumbing only).  Each
# update prints its surrogate tempering and the ESS of its exact correction
# (docs/twin.md).  The chain and the summary are bench/twin_common.sh's, shared
# with bench/twin_vcohort.sh (a virtual cohort patient).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/twin_common.sh
VBT=${VBT:-build/cli/vbt}
OUT=${1:-out/twin_sample}
PARTICLES=${2:-512}
THREADS=${3:-2}
P=data-samples/patient
SUB=sub-vep01
E=$P/$SUB/ses-01/ieeg/${SUB}_ses-01_space-IXI549Space_electrodes.tsv
if [ "${REUSE:-0}" = 1 ] && [ -f "$OUT/new/${SUB}_ses-01_task-seizure_run-03_events.tsv" ]; then
    rm -rf "$OUT/twin"
else
rm -rf "$OUT"
mkdir -p "$OUT/new"
$VBT gain --contacts "$E" --method volume --parcellation "$P/parcellation.nii.gz" \
    --labels "$P/parcellation_labels.csv" --name-map "$P/parcellation_names.tsv" \
    --connectome "$P/connectome.zip" -o "$OUT/gain.npy" -q --force
for k in 2 3; do
    seed=$((k + 6))
    python3 - "$PWD/$P/connectome.zip" "$PWD/$E" "$OUT" "$seed" <<'PY'
import sys
sys.path.insert(0, 'scripts')
import virtual_patient as vp
conn, sensors, out, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
open(f"{out}/seizure{seed}.json", 'w').write(vp.seizure_config(
    "vbt sample patient, another seizure (twin benchmark)", conn,
    ["ctx-lh-superiortemporal", "ctx-lh-bankssts"],
    ["ctx-lh-middletemporal", "ctx-lh-transversetemporal", "ctx-lh-insula"],
    sensors, out + '/gain.npy', seed, duration_ms=20000))
PY
    $VBT simulate "$OUT/seizure$seed.json" -o "$OUT/sim$k" -q --force
    base=$OUT/new/${SUB}_ses-01_task-seizure_run-0${k}
    cp "$OUT/sim$k/seeg.edf" "${base}_ieeg.edf"
    python3 - "$OUT/sim$k" "$base" <<'PY'
import sys, json
sys.path.insert(0, 'scripts')
import virtual_patient as vp
sim, base = sys.argv[1:3]
chans = json.load(open(sim + '/run.json'))['outputs']['seeg']['channels']
with open(base + '_channels.tsv', 'w') as f:
    f.write("name\ttype\tunits\tsampling_frequency\tstatus\n")
    for c in chans:
        f.write(f"{c}\tSEEG\tau\t500\tgood\n")
onset, offset = vp.onset_offset(sim + '/lfp.npy', (28, 0), (28, 0, 13, 32, 33), 1000.0)
with open(base + '_events.tsv', 'w') as f:
    f.write("onset\tduration\ttrial_type\n")
    f.write(f"{onset:.3f}\t{offset - onset:.3f}\tseizure\n")
print(f"seizure: onset {onset:.3f} s, offset {offset:.3f} s")
PY
done
fi
T="$OUT/twin"
twin_chain "$T" "$P" "$PARTICLES" "$THREADS" "$OUT" \
    "$OUT/new/${SUB}_ses-01_task-seizure_run-02_ieeg.edf" \
    "$OUT/new/${SUB}_ses-01_task-seizure_run-03_ieeg.edf"
twin_summary "$T" "$OUT/refit.txt"
