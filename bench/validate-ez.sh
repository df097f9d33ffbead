#!/usr/bin/env bash
# The EZ validation benchmark that is not an inverse crime (issue 17 item 1;
# docs/validation.md): virtual patients on the real ds004100 implantations
# whose data come from another model than the one vbt fits, run through the
# real `vbt cohort run` path one subject at a time (CPU seconds measured per
# patient), then scored over the regions the contacts observe.
#
#   bench/validate-ez.sh [-j N] [--set tune|heldout|all] [--tag TAG] WORK
#
#   WORK/vc0, WORK/vc0-truth   the virtual cohort (variant 0: EZ = the SOZ
#                              regions), every ds004100 subject with a SOZ
#   WORK/vc1, WORK/vc1-truth   held-out variant 1 (new seeds, new foci) of
#                              the HELDOUT_VARIANT subjects below
#   WORK/TAG/vc0, WORK/TAG/vc1 the `vbt cohort run` outputs; WORK/TAG/cpu.tsv
#                              (subject, variant, CPU seconds of its run)
#   WORK/TAG/validate-ez-SET.tsv  one row per patient; .json the summaries,
#                              .txt the printed table; WORK/TAG/logs/
#
# The split is fixed here, before any tuning, and never changes: the fit's
# settings may be tuned on the ten TUNE subjects (variant 0) only; every
# other subject and every variant-1 patient is held out.  --set tune runs
# and scores the tuning subjects only (what a method change is measured on
# first); --set heldout the others; --set all (default) every patient.
# Cohorts that are missing are generated first (scripts/make-virtual-
# cohort.sh; minutes).  Finished patients are skipped, so a run that was
# stopped goes on where it was.  TAG (default: "run") names the method
# being measured.  BUILD= picks the build directory (default build), VBT=
# the vbt program that fits (default BUILD/cli/vbt; e.g. a copy kept for
# one method while the tree changes).
# -j N: patients at once (default 1); each patient's CPU time is its own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
JOBS=1
SET=all
TAG=run
# Fixed split (every sixth subject of the 56, sorted, from the first).
TUNE="sub-HUP060 sub-HUP080 sub-HUP094 sub-HUP112 sub-HUP130 sub-HUP140 sub-HUP150 sub-HUP163
      sub-HUP177 sub-HUP188"
# Held-out variant 1 (every sixth subject from the fourth; none is a TUNE subject).
HELDOUT_VARIANT="sub-HUP070 sub-HUP087 sub-HUP106 sub-HUP117 sub-HUP135 sub-HUP144 sub-HUP158
                 sub-HUP171 sub-HUP181"
while [ $# -gt 0 ]; do
    case "$1" in
        -j) JOBS=$2; shift 2 ;;
        --set) SET=$2; shift 2 ;;
        --tag) TAG=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "validate-ez: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
case "$SET" in tune|heldout|all) ;; *) echo "validate-ez: --set tune|heldout|all" >&2; exit 2 ;; esac
case "$TAG" in ''|*/*|.*) echo "validate-ez: --tag: a plain name" >&2; exit 2 ;; esac
if [ $# -ne 1 ]; then
    echo "usage: bench/validate-ez.sh [-j N] [--set tune|heldout|all] [--tag TAG] WORK" >&2
    exit 2
fi
mkdir -p "$1"
WORK=$(cd "$1" && pwd)
DS=${DS004100:-$ROOT/../shared/data/ds004100}
VBT=${VBT:-$ROOT/$BUILD/cli/vbt}
[ -x "$VBT" ] || { echo "validate-ez: $VBT not built" >&2; exit 1; }
[ -f "$DS/participants.tsv" ] || { echo "validate-ez: $DS: no ds004100 (DS004100=...)" >&2; exit 1; }
RES=$WORK/$TAG
mkdir -p "$RES"
SPLIT=$RES/split.tsv
{ printf 'subject\tset\n'; for s in $TUNE; do printf '%s\ttune\n' "$s"; done; } > "$SPLIT"

# Generate what is missing: variant 0 for the wanted subjects, variant 1.
subjects_with_soz() {
    # every subject the generator made (truth), else every subject of the dataset
    ls "$WORK/vc0-truth"/sub-*.json 2>/dev/null | sed 's#.*/##; s#\.json$##'
}
if [ "$SET" = tune ]; then
    missing=
    for s in $TUNE; do [ -f "$WORK/vc0-truth/$s.json" ] || missing=$missing,$s; done
    if [ -n "$missing" ]; then
        BUILD=$BUILD "$ROOT/scripts/make-virtual-cohort.sh" -j "$JOBS" --subjects "${missing#,}" \
            --truth "$WORK/vc0-truth" "$DS" "$WORK/vc0"
    fi
elif [ ! -f "$WORK/vc0-truth/.complete" ]; then
    BUILD=$BUILD "$ROOT/scripts/make-virtual-cohort.sh" -j "$JOBS" --truth "$WORK/vc0-truth" \
        "$DS" "$WORK/vc0"
    touch "$WORK/vc0-truth/.complete"
fi
if [ "$SET" != tune ] && [ ! -f "$WORK/vc1-truth/truth.tsv" ]; then
    BUILD=$BUILD "$ROOT/scripts/make-virtual-cohort.sh" -j "$JOBS" --variant 1 \
        --subjects "$(echo $HELDOUT_VARIANT | tr ' ' ,)" --truth "$WORK/vc1-truth" "$DS" "$WORK/vc1"
fi

# The patients to run: "variant subject" lines.
todo=$RES/todo.txt
: > "$todo"
for s in $(subjects_with_soz); do
    in_tune=0
    for t in $TUNE; do [ "$s" = "$t" ] && in_tune=1; done
    if [ "$SET" = all ] || { [ "$SET" = tune ] && [ $in_tune = 1 ]; } ||
       { [ "$SET" = heldout ] && [ $in_tune = 0 ]; }; then
        echo "0 $s" >> "$todo"
    fi
done
if [ "$SET" != tune ]; then
    for f in "$WORK/vc1-truth"/sub-*.json; do
        [ -e "$f" ] && echo "1 $(basename "$f" .json)" >> "$todo"
    done
fi
# Order: the tuning subjects first, then the held-out patients (variants
# among them) in a fixed shuffled order, so that a run stopped early has
# scored a fair sample of the held-out set.
python3 - "$todo" "$TUNE" <<'PY'
import sys, zlib
path, tune = sys.argv[1], set(sys.argv[2].split())
rows = [l.split() for l in open(path) if l.strip()]
rows.sort(key=lambda r: (r[1] not in tune or r[0] != '0', zlib.crc32(' '.join(r).encode())))
open(path, 'w').write(''.join('%s %s\n' % tuple(r) for r in rows))
PY
touch "$RES/cpu.tsv"
export VBT WORK RES ROOT
one() {
    v=$1 s=$2
    [ -f "$RES/vc$v/$s/subject.json" ] && return 0
    t=$(mktemp)
    mkdir -p "$RES/logs"
    /usr/bin/time -f '%U %S' -o "$t" "$VBT" cohort run "$WORK/vc$v" -o "$RES/vc$v" --subjects "$s" \
        --atlas "$ROOT/data-samples" > "$RES/logs/vc$v-$s.log" 2>&1 || true
    cpu=$(tail -n 1 "$t" | awk '{printf "%.2f", $1 + $2}')
    rm -f "$t"
    printf '%s\t%s\t%s\n' "$s" "$v" "$cpu" >> "$RES/cpu.tsv"
    echo "validate-ez: vc$v $s: $cpu s CPU" >&2
}
export -f one
xargs -P "$JOBS" -L 1 bash -c 'one "$@"' _ < "$todo"

# Score (over the patients of this set that have results).
pairs=("$RES/vc0" "$WORK/vc0-truth")
[ -d "$RES/vc1" ] && pairs+=("$RES/vc1" "$WORK/vc1-truth")
python3 "$ROOT/scripts/score-virtual-cohort.py" --cpu "$RES/cpu.tsv" --split "$SPLIT" \
    --only "$SET" --out "$RES/validate-ez-$SET" "${pairs[@]}" | tee "$RES/validate-ez-$SET.txt"
