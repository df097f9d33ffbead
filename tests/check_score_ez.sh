#!/usr/bin/env bash
# The EZ benchmark's scorer (scripts/score-virtual-cohort.py) on a hand-made
# two-patient cohort whose every figure is counted by hand below.
#   check_score_ez.sh SCRIPT
set -euo pipefail
SCRIPT=$1
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/truth" "$T/res/sub-A/run" "$T/res/sub-B/run"
# Patient A: EZ r1 r2, PZ r3; contacts on electrodes LA (r1, r2), LB (r3, r4), LC (r5).
cat > "$T/truth/sub-A.json" <<'J'
{"subject": "sub-A", "variant": 0, "EZ": {"labels": ["r1", "r2"]}, "PZ": {"labels": ["r3"]},
 "contact_regions": {"LA1": "r1", "LA2": "r2", "LB1": "r3", "LB2": "r4", "LC1": "r5", "LC2": null}}
J
# called: r1 (right), r3 (a PZ), r5 (healthy, elsewhere: at 0.95 a confident error);
# missed: r2, x0 at its prior mean (-3.5, sd 0.15), beside the called r1 (confident: P 0).
cat > "$T/res/sub-A/run/results.json" <<'J'
{"regions": [
 {"label": "r1", "p_ez": 1.0, "x0_mean": -1.7}, {"label": "r2", "p_ez": 0.0, "x0_mean": -3.45},
 {"label": "r3", "p_ez": 0.97, "x0_mean": -1.9}, {"label": "r4", "p_ez": 0.0, "x0_mean": -3.5},
 {"label": "r5", "p_ez": 0.95, "x0_mean": -1.95}, {"label": "r6", "p_ez": 1.0, "x0_mean": -1.5}],
 "verdict": {"trustworthy": false}}
J
# Patient B: EZ r1; r1 at 0.6 (called, not confident), r2 missed after moving (x0 -2.6, P 0.2:
# not a confident error), nothing else called.  The verdict passes.
cat > "$T/truth/sub-B.json" <<'J'
{"subject": "sub-B", "variant": 0, "EZ": {"labels": ["r1", "r2"]}, "PZ": {"labels": []},
 "contact_regions": {"X1": "r1", "Y1": "r2", "Y2": "r3"}}
J
cat > "$T/res/sub-B/run/results.json" <<'J'
{"regions": [{"label": "r1", "p_ez": 0.6, "x0_mean": -2.0}, {"label": "r2", "p_ez": 0.2, "x0_mean": -2.6},
 {"label": "r3", "p_ez": 0.0, "x0_mean": -3.5}], "verdict": {"trustworthy": true}}
J
for s in A B; do
    echo '{"status": "done"}' > "$T/res/sub-$s/subject.json"
    printf '{"x0": {"mu": -3.5, "sd": 0.15}}\n' > "$T/res/sub-$s/run/prior.json"
done
printf 'subject\tvariant\tcpu_s\nsub-A\t0\t10\nsub-B\t0\t30\nsub-C\t0\t\n' > "$T/cpu.tsv"
python3 "$SCRIPT" --cpu "$T/cpu.tsv" --out "$T/out" "$T/res" "$T/truth" > "$T/table.txt"
cat "$T/table.txt"
fail() { echo "FAIL: $*"; exit 1; }
# tp 2 (A r1, B r1), fp 2 (A r3, r5; r6 is not observed), fn 2 (A r2, B r2):
# precision 0.5, recall 0.5; A F1 2/(2+2+1) = 0.4, B 2/(2+0+1) = 0.667.
grep -q '^all  *2 pts (0 failed)  P 0.500  R 0.500  F1 0.500 (median 0.533 \[0.467, 0.600\])' \
    "$T/table.txt" || fail "precision, recall or F1"
# Brier: (A: 0 + 1 + 0.97^2 + 0 + 0.95^2 = 2.8434; B: 0.16 + 0.64 + 0 = 0.8) / 8 regions;
# P >= 0.8: A r1, r3, r5, one of them EZ
grep -q 'Brier 0.4554  P>=0.8: 0.333 of 3 EZ' "$T/table.txt" || fail "Brier or reliability"
# confident errors: A (r5 healthy > 0.9, r2 EZ < 0.1), B none; A is wrong and flagged,
# B right (F1 0.667 >= 0.5) and not flagged; CPU mean (10 + 30) / 2, the killed run skipped.
grep -q 'conf.err 1 pts (50% clean)  PZ>0.9 1  wrong 1, flagged 1 of 1 (right answers flagged 0 of 1)  CPU 20.0 s' \
    "$T/table.txt" || fail "confident errors, verdict or CPU"
grep -qF '# errors (all): false EZ 2 = 1 PZ + 0 healthy next to an EZ + 1 healthy elsewhere;  missed EZ 2 = 1 at the prior + 1 moved (1 with a called EZ on their electrode)' \
    "$T/table.txt" || fail "error decomposition"
head -1 "$T/out.tsv" | grep -q 'fn_neighbour_called' || fail "tsv columns"
echo "score-virtual-cohort: all figures as counted by hand"
