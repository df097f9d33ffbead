#!/usr/bin/env bash
# bench/twin_vcohort.sh -- the twin on a virtual cohort patient with three
# seizures (docs/twin.md, issue 20): one subject of the virtual cohort
# (scripts/make-virtual-cohort.sh on ds004100's sidecars, default
# sub-HUP140: 86 good SEEG contacts at 1024 Hz, EZ the left superior temporal
# gyrus, which its 'soz' contacts lie in) made with --seizures 3
# --duration 20: three 20 s seizures of the same virtual patient (its
# individual connectome, its jittered volume gain, sampling rate, EDF
# background and mains; noise seeds the subject's + 0, 7919, 15838), written
# by the generator as the clinic's BIDS runs run-01..03 with their events.tsv
# ('sz onset' / 'sz offset', byte-order mark, as ds004100's).
# The runs are staged as `vbt cohort run` stages them (clinical/cohort_run.c:
# the plain atlas connectome and the 2 mm atlas's volume gain, electrodes in
# mm without n/a rows, a channel bad unless it is a good SEEG/ECOG channel
# with a position, the onset and offset as one 'seizure onset' row): run-01
# as the patient folder OUT/patient, run-02 and run-03 (EDF linked) in
# OUT/new.  Then `vbt twin init`, two `vbt twin update`s and `vbt twin refit`
# (bench/twin_common.sh, shared with bench/twin_sample.sh): the CPU time of
# the last update against the joint refit (target: at most 25 %) and the
# largest difference of P(EZ) (target: 0.05).
#
#   bench/twin_vcohort.sh [OUT] [PARTICLES] [THREADS]
#
# SUB=sub-HUPxxx picks another subject (one with a 'soz' channel);
# DS004100= the sidecars (default ../shared/data/ds004100); REUSE=1 keeps the
# generated recordings of an earlier run in OUT/ds; BUILD= the build folder
# (default build; VBT= overrides the vbt in it).  python3 is plumbing only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/twin_common.sh
BUILD=${BUILD:-build}
VBT=${VBT:-$BUILD/cli/vbt}
OUT=${1:-out/twin_vcohort}
PARTICLES=${2:-512}
THREADS=${3:-2}
SUB=${SUB:-sub-HUP140}
DS004100=${DS004100:-../shared/data/ds004100}
if [ "${REUSE:-0}" = 1 ] && [ -f "$OUT/truth/$SUB.json" ]; then
    rm -rf "$OUT/twin" "$OUT/patient" "$OUT/new"
else
    rm -rf "$OUT"
    mkdir -p "$OUT"
    BUILD=$BUILD scripts/make-virtual-cohort.sh -j 1 --subjects "$SUB" --seizures 3 \
        --duration 20 --truth "$OUT/truth" "$DS004100" "$OUT/ds"
fi
python3 - "$PWD" "$OUT" "$SUB" <<'PY'
# Stage the generated runs as `vbt cohort run` does (clinical/cohort_run.c).
import glob, json, os, sys
root, out, sub = sys.argv[1:4]
truth = json.load(open(f"{out}/truth/{sub}.json"))
runs = [s["run"] for s in truth.get("seizures", [])]
if len(runs) != 3:
    sys.exit(f"twin_vcohort: {sub}: the generator made {len(runs)} seizure(s), not 3")
def tsv(path):
    text = open(path, encoding="utf-8-sig").read().replace("\r\n", "\n")
    lines = [l.split("\t") for l in text.split("\n") if l.strip()]
    return [h.strip() for h in lines[0]], [[c.strip() for c in l] for l in lines[1:]]
def number(s):
    try:
        return float(s)
    except ValueError:
        return None
ieeg = os.path.dirname(f"{out}/ds/{runs[0]}")
eh, er = tsv(glob.glob(f"{ieeg}/*_electrodes.tsv")[0])
ec = {h: i for i, h in enumerate(eh)}
pos = {}
for r in er:
    xyz = [number(r[ec[a]]) for a in "xyz"]
    if None not in xyz:
        pos[r[ec["name"]]] = xyz
if max(abs(v) for p in pos.values() for v in p) <= 1.0:   # really metres
    pos = {k: [1000 * v for v in p] for k, p in pos.items()}
space = json.load(open(glob.glob(f"{ieeg}/*_coordsystem.json")[0]))["iEEGCoordinateSystem"]
pdir = f"{out}/patient"
sdir = f"{pdir}/{sub}/ses-presurgery/ieeg"
os.makedirs(sdir)
os.makedirs(f"{out}/new")
ds = f"{root}/data-samples"
for name, src in (("connectome.zip", "connectivity_84_desikan.zip"),
                  ("parcellation.nii.gz", "neuroparc/Desikan_space-MNI152NLin6_res-2x2x2.nii.gz"),
                  ("parcellation_labels.csv", "neuroparc/Desikan.csv"),
                  ("parcellation_names.tsv", "desikan70_to_dk84.tsv")):
    os.symlink(f"{ds}/{src}", f"{pdir}/{name}")
with open(f"{sdir}/{sub}_space-{space}_electrodes.tsv", "w") as f:
    f.write("name\tx\ty\tz\n")
    for c, p in pos.items():
        f.write("%s\t%.4f\t%.4f\t%.4f\n" % (c, *p))
with open(f"{sdir}/{sub}_space-{space}_coordsystem.json", "w") as f:
    f.write('{\n  "iEEGCoordinateSystem": "%s",\n  "iEEGCoordinateUnits": "mm"\n}\n' % space)
for k, run in enumerate(runs):
    src = f"{out}/ds/{run}"[:-len("_ieeg.edf")]
    dst = (sdir if k == 0 else f"{out}/new") + "/" + os.path.basename(src)
    os.symlink(os.path.abspath(src + "_ieeg.edf"), dst + "_ieeg.edf")
    ch, cr = tsv(src + "_channels.tsv")
    cc = {h: i for i, h in enumerate(ch)}
    with open(dst + "_channels.tsv", "w") as f:
        f.write("name\ttype\tunits\tstatus\n")
        for r in cr:
            name, typ = r[cc["name"]], r[cc["type"]]
            good = (r[cc["status"]].lower() != "bad" and name in pos
                    and typ.upper() in ("SEEG", "ECOG"))
            f.write(f"{name}\t{typ}\tuV\t{'good' if good else 'bad'}\n")
    eh_, er_ = tsv(src + "_events.tsv")
    ev = {r[eh_.index("trial_type")]: float(r[eh_.index("onset")]) for r in er_}
    with open(dst + "_events.tsv", "w") as f:
        f.write("onset\tduration\ttrial_type\n")
        f.write("%.6f\t%.6f\tseizure onset\n" % (ev["sz onset"], ev["sz offset"] - ev["sz onset"]))
print(f"{sub}: EZ {', '.join(truth['EZ']['labels'])}; PZ {', '.join(truth['PZ']['labels'])}; "
      f"{len(runs)} seizures of 20 s, onsets "
      + ", ".join("%.2f s" % s["onset_s"] for s in truth["seizures"]))
PY
new=()
for f in "$OUT"/new/*_ieeg.edf; do new+=("$f"); done
twin_chain "$OUT/twin" "$OUT/patient" "$PARTICLES" "$THREADS" "$OUT" "${new[@]}"
twin_summary "$OUT/twin" "$OUT/refit.txt"
