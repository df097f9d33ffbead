# bench/twin_common.sh -- what bench/twin_sample.sh and bench/twin_vcohort.sh
# share (sourced, not run): a twin taken through its seizures and compared with
# the joint refit of all of them (docs/twin.md, issue 20).
#
#   twin_chain TWIN PATIENT PARTICLES THREADS OUTDIR REC2.edf [REC3.edf ...]
#       `vbt twin init PATIENT -o TWIN`, one `vbt twin update` per recording
#       (each brings its BIDS events.tsv and channels.tsv), `vbt twin refit`
#       (its output in OUTDIR/refit.txt), `vbt twin report` (OUTDIR/report.tsv
#       and .html).  Needs VBT (the built vbt).  REFIT_LATEST=1 also runs
#       `vbt twin refit --start latest` (OUTDIR/refit_latest.txt): the joint
#       fit whose mode search starts from the last version's particles, whose
#       mode's log posterior and Laplace log mass compare with the default
#       refit's by the same code (docs/twin.md, "Which mode").
#   twin_summary TWIN REFIT.txt
#       per version: CPU, tempering steps, gradients, ESS, the surrogate
#       tempering; the last update's CPU against the refit's (issue 20's
#       target: at most 25 %), the largest P(EZ) difference (target 0.05), and
#       the log evidence log p(y_1..y_K) summed over the versions' chain
#       against the refit's (which fit found more posterior mass).
# python3 is plumbing only (JSON and text).

twin_chain() {
    local t=$1 patient=$2 particles=$3 threads=$4 outdir=$5
    shift 5
    $VBT twin init "$patient" -o "$t" --particles "$particles" --threads "$threads" -q
    local r
    for r in "$@"; do
        $VBT twin update "$t" --recording "$r" --threads "$threads"
    done
    $VBT twin refit "$t" --threads "$threads" | tee "$outdir/refit.txt"
    if [ "${REFIT_LATEST:-0}" = 1 ]; then
        $VBT twin refit "$t" --threads "$threads" --start latest | tee "$outdir/refit_latest.txt"
    fi
    $VBT twin report "$t" -o "$outdir/report.tsv" --html "$outdir/report.html" --force
}

twin_summary() {
    python3 - "$1" "$2" <<'PY'
import sys, json, re, os
t, refit = sys.argv[1:3]
vers = sorted(v for v in os.listdir(t) if re.fullmatch(r"v[0-9]{4}", v))
ev = 0.0
for v in vers:
    j = json.load(open(f"{t}/{v}/version.json"))
    s, tm = j["sampling"], j["timing"]
    ev += s["log_evidence"]
    print(f"{v}: CPU {tm['cpu_s']:.1f} s (sampling {tm['smc_cpu_s']:.1f} s), "
          f"{s['tempering_steps']} steps, {s['gradients']} gradients"
          + (f", reweighting ESS {s['reweight_ess']:.0f}" if 'reweight_ess' in s else ""))
    sg = j.get("surrogate", {})
    if sg.get("used"):
        print(f"  surrogate tempering: {sg['surrogate_steps']} steps, "
              f"{sg['surrogate_move_rounds']} move rounds, {sg['surrogate_gradients']} "
              f"one-seizure gradients; exact correction: ESS {sg['correction_ess']:.1f}, "
              f"{sg['exact_steps']} steps, {sg['exact_move_rounds']} move rounds, "
              f"{sg['exact_gradients']} joint gradients; {sg['newton_steps']} Newton steps")
text = open(refit).read()
u = json.load(open(f"{t}/{vers[-1]}/version.json"))["timing"]["cpu_s"]
r = float(re.search(r"CPU ([0-9.]+) s", text).group(1))
k = len(vers)
print(f"update with seizure {k}: CPU {u:.1f} s; joint refit of the {k}: CPU {r:.1f} s; "
      f"ratio {100 * u / r:.0f} % (target <= 25 %)")
m = re.search(r"largest \|P\(EZ\).*= ([0-9.]+) \(region ([0-9]+)\)", text)
if m:
    print(f"largest |P(EZ) {vers[-1]} - P(EZ) refit| = {m.group(1)} (region {m.group(2)}; "
          f"target <= 0.05)")
m = re.search(r"log evidence log p\(y_1\.\.y_[0-9]+\): ([-0-9.einfa]+)", text)
if m:
    print(f"log p(y_1..y_{k}): {ev:.1f} summed over the versions' chain, {float(m.group(1)):.1f} "
          f"for the joint refit")
# the modes the refits tempered from, by the same code (the default refit's and,
# with REFIT_LATEST=1, the one started from the last version's particles)
for name in (refit, os.path.join(os.path.dirname(refit), "refit_latest.txt")):
    if not os.path.exists(name):
        continue
    text = open(name).read()
    m = re.search(r"joint mode \(Newton from (.*?), ([0-9]+) of .*?log posterior ([-0-9.einfa]+) at "
                  r"the start, ([-0-9.einfa]+) at the mode.*?Laplace log mass ([-0-9.einfa]+)", text)
    e = re.search(r"log evidence log p\(y_1\.\.y_[0-9]+\): ([-0-9.einfa]+)", text)
    if m and e:
        print(f"{os.path.basename(name)}: Newton from {m.group(1)} ({m.group(2)} steps), log "
              f"posterior at the mode {float(m.group(4)):.1f}, Laplace log mass "
              f"{float(m.group(5)):.1f}, SMC log evidence {float(e.group(1)):.1f}")
PY
}
