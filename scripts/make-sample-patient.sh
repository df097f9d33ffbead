#!/usr/bin/env bash
# Regenerate data-samples/patient/, the synthetic virtual patient used by the
# pipeline: the 84-region Desikan-Killiany connectome (BVEP), the 124 real SEEG
# contacts of the BIDS ieeg_epilepsy patient (left temporo-occipital focus),
# and a seizure recorded by vbt itself with the 6-variable Epileptor (noise,
# conduction delays), its SEEG projected through the volume gain (neuroparc Desikan) and written
# as EDF+ in BIDS layout.  Ground truth: EZ = left superior temporal gyrus
# and banks of the superior temporal sulcus (x0 = -1.6), PZ = their
# neighbours left middle temporal, transverse temporal and insula (x0 =
# -2.3), every other region x0 = -3.5: regions the contacts see (the
# inverse-square power gain of each is at least 0.13 on some contact).  As in
# the Bayesian VEP's synthetic patients, the EZ -> PZ weights are raised to 3
# (after normalising to max 1) so that the PZ is recruited, about 0.5 s after
# the EZ.  A slow permittivity (r = 1e-4) and a high initial z (4.2) give
# one seizure after a 3 s baseline; the events file marks its onset (first
# EZ LFP proxy below 0) and its end (no EZ/PZ region ictal for 0.5 s).
# Deterministic (seed 7).  Needs the built vbt (scripts/setup.sh) and python3
# (for the zip and TSV plumbing only).
set -euo pipefail
cd "$(dirname "$0")/.."
VBT=${VBT:-build/cli/vbt}
OUT=${OUT:-data-samples/patient}
SUB=sub-vep01
IEEG=$OUT/$SUB/ses-01/ieeg
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$OUT"
mkdir -p "$IEEG"

# EZ (28, 0) -> PZ (13, 32, 33) weights raised to 3 (scripts/virtual_patient.py).
python3 scripts/virtual_patient.py connectome data-samples/connectivity_84_desikan.zip \
    "$OUT/connectome.zip" 28,0 13,32,33

E=data-samples/ieeg_epilepsy/sub-01_ses-postimp_space-IXI549Space_electrodes.tsv
cp "$E" "$IEEG/${SUB}_ses-01_space-IXI549Space_electrodes.tsv"
cp "${E%_electrodes.tsv}_coordsystem.json" "$IEEG/${SUB}_ses-01_space-IXI549Space_coordsystem.json"
# The parcellation the volume gain integrates over: neuroparc's Desikan atlas
# (MNI152, 2 mm; 70 labels) named as the connectome's regions; the 18
# connectome regions it lacks (insulae, subcortical, cerebellum) are point
# sources at their centres (vbt gain --help).
cp data-samples/neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz "$OUT/parcellation.nii.gz"
cp data-samples/neuroparc/Desikan.csv "$OUT/parcellation_labels.csv"
cp data-samples/desikan70_to_dk84.tsv "$OUT/parcellation_names.tsv"
chmod 644 "$OUT"/parcellation*
$VBT gain --contacts "$E" --method volume --parcellation "$OUT/parcellation.nii.gz" \
    --labels "$OUT/parcellation_labels.csv" --name-map "$OUT/parcellation_names.tsv" \
    --connectome "$OUT/connectome.zip" -o "$TMP/gain.npy" -q

python3 - "$PWD/$OUT/connectome.zip" "$PWD/$E" "$TMP" <<'PY'
import sys
sys.path.insert(0, 'scripts')
import virtual_patient as vp
conn, sensors, tmp = sys.argv[1:4]
open(tmp + '/seizure.json', 'w').write(vp.seizure_config(
    "vbt sample patient: 6-variable Epileptor, noise, delays; SEEG through the volume gain",
    conn, ["ctx-lh-superiortemporal", "ctx-lh-bankssts"],
    ["ctx-lh-middletemporal", "ctx-lh-transversetemporal", "ctx-lh-insula"],
    sensors, tmp + '/gain.npy', 7))
PY
$VBT simulate "$TMP/seizure.json" -o "$TMP/sim" -q
cp "$TMP/sim/seeg.edf" "$IEEG/${SUB}_ses-01_task-seizure_run-01_ieeg.edf"

python3 - "$TMP/sim" "$IEEG" "$SUB" "$OUT" <<'PY'
import sys, json
sim, ieeg, sub, out = sys.argv[1:5]
run = json.load(open(sim + '/run.json'))
chans = run['outputs']['seeg']['channels']
base = f"{ieeg}/{sub}_ses-01_task-seizure_run-01"
with open(base + '_channels.tsv', 'w') as f:
    f.write("name\ttype\tunits\tsampling_frequency\tstatus\n")
    for c in chans:
        f.write(f"{c}\tSEEG\tau\t500\tgood\n")
# Onset: the first time the LFP proxy of an EZ region drops below 0; offset:
# the end of the first seizure, the first time after the onset from which no
# EZ or PZ region is in seizure (LFP proxy below 0) for 0.5 s.
sys.path.insert(0, 'scripts')
import virtual_patient as vp
onset, offset = vp.onset_offset(sim + '/lfp.npy', (28, 0), (28, 0, 13, 32, 33), 1000.0)
dur_s = vp.read_npy(sim + '/lfp.npy')[0][0] / 1000.0
with open(base + '_events.tsv', 'w') as f:
    f.write("onset\tduration\ttrial_type\n")
    f.write(f"{onset:.3f}\t{offset - onset:.3f}\tseizure\n")
json.dump({"TaskName": "seizure", "SamplingFrequency": 500, "PowerLineFrequency": "n/a",
           "SEEGChannelCount": len(chans), "RecordingDuration": dur_s,
           "SoftwareFilters": "n/a", "Manufacturer": "vbt (simulated)"},
          open(base + '_ieeg.json', 'w'), indent=2)
json.dump({"Name": "vbt synthetic virtual patient", "BIDSVersion": "1.8.0",
           "DatasetType": "raw", "License": "GPL-3.0-or-later (vbt); contacts: BIDS ieeg_epilepsy"},
          open(out + '/dataset_description.json', 'w'), indent=2)
json.dump({"description": "ground truth of the simulated seizure (0-based region indices of connectome.zip)",
           "model": "epileptor (6 variables), Ks = -1, r = 0.0001, difference coupling a = 1, "
                    "stochastic Heun dt 0.05 ms, 3 mm/ms, initial z 4.2, seed 7; "
                    "EZ -> PZ weights raised to 3 after max-normalisation",
           "EZ": {"regions": [28, 0], "labels": ["ctx-lh-superiortemporal", "ctx-lh-bankssts"],
                  "x0": -1.6},
           "PZ": {"regions": [13, 32, 33],
                  "labels": ["ctx-lh-middletemporal", "ctx-lh-transversetemporal", "ctx-lh-insula"],
                  "x0": -2.3},
           "HZ": {"x0": -3.5},
           "onset_s": onset, "offset_s": offset},
          open(out + '/ground_truth.json', 'w'), indent=2)
PY
cat > "$OUT/hypothesis.txt" <<'TXT'
# Clinical EZ hypothesis (labels or 0-based indices, one a line or comma-separated).
# An example of what a clinician might write from the recording: the lateral temporal
# neocortex.  vbt pipeline reports the fit's precision and recall against it.
ctx-lh-superiortemporal
ctx-lh-middletemporal
TXT
cat > "$OUT/resections.txt" <<'TXT'
# Candidate resections that vbt pipeline compares (vbt surgery): one scenario a line,
# regions as labels or 0-based indices, comma-separated.
# 1. the clinical hypothesis (hypothesis.txt): lateral temporal neocortex
ctx-lh-superiortemporal,ctx-lh-middletemporal
# 2. the superior temporal gyrus alone
ctx-lh-superiortemporal
# 3. a standard left anterior temporal lobectomy: temporal pole, anterior lateral and
#    mesial temporal structures (the banks of the STS lie behind it)
ctx-lh-temporalpole,ctx-lh-superiortemporal,ctx-lh-middletemporal,ctx-lh-inferiortemporal,Left-Hippocampus,Left-Amygdala,ctx-lh-entorhinal,ctx-lh-parahippocampal
TXT
cat > "$OUT/spare.txt" <<'TXT'
# Eloquent cortex the resection plan must spare (vbt surgery --spare): left primary
# motor and sensory cortex and Broca's area, one region a line.
ctx-lh-precentral
ctx-lh-postcentral
ctx-lh-parsopercularis
ctx-lh-parstriangularis
TXT
echo "sample patient written to $OUT"
