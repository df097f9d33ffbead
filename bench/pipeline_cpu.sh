#!/usr/bin/env bash
# pipeline_cpu.sh -- CPU time of the sample patient's whole pipeline (issue
# 19's target: at most 30 s), optionally against another revision, side by
# side.
#
# Runs `vbt pipeline data-samples/patient --threads THREADS` ROUNDS times
# (default 3) and prints, per run, CPU seconds (user + system), wall seconds
# and the fit's MAP and NUTS wall seconds (fit/run.json); then the median CPU
# against the target.  With REV, that revision is built in a temporary
# folder (its own sample patient and build) and its runs alternate with the
# current build's, so that both see the same machine load: on a shared
# machine only alternated runs compare.  Exit status 0 whatever the figures
# (a benchmark prints, tests assert).
#
# Usage: bench/pipeline_cpu.sh [BUILD_DIR] [ROUNDS] [REV] [THREADS]
#   run from the source root; BUILD_DIR (default build) holds cli/vbt.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
rev=${3:-}
threads=${4:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ninja -C "$build" cli/vbt >/dev/null

declare -A vbt=([new]="$build/cli/vbt") patient=([new]=data-samples/patient)
versions=(new)
if [ -n "$rev" ]; then
    git archive "$rev" | tar -x -C "$tmp" --one-top-level=old
    { meson setup "$tmp/old/build" "$tmp/old" --buildtype=release &&
      ninja -C "$tmp/old/build" cli/vbt; } >"$tmp/old-build.log" 2>&1 ||
        { cat "$tmp/old-build.log" >&2; echo "pipeline_cpu: $rev does not build" >&2; exit 1; }
    vbt[old]=$tmp/old/build/cli/vbt
    patient[old]=$tmp/old/data-samples/patient
    versions=(old new)
fi

num() { sed -n "s/.*\"$1\":[[:space:]]*\([0-9.]*\).*/\1/p" "$2" | head -1; }
printf '%-4s %5s %8s %8s %8s %8s\n' run round cpu_s wall_s map_s nuts_s
for r in $(seq "$rounds"); do
    for v in "${versions[@]}"; do
        out=$tmp/out-$v
        rm -rf "$out"
        rc=0
        /usr/bin/time -f "%U %S %e" -o "$tmp/time" \
            "${vbt[$v]}" pipeline "${patient[$v]}" -o "$out" --threads "$threads" -q \
            >/dev/null || rc=$?
        # 3: every output written, the verdict "not trustworthy" (the sample's K)
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
            echo "pipeline_cpu: $v: vbt pipeline exited $rc" >&2
            exit 1
        fi
        # (time writes "Command exited with non-zero status 3" first then)
        read -r u s e < <(tail -n 1 "$tmp/time")
        cpu=$(echo "$u + $s" | bc -l)
        printf '%-4s %5d %8.2f %8.2f %8.2f %8.2f\n' "$v" "$r" "$cpu" "$e" \
            "$(num map_s "$out/fit/run.json")" "$(num nuts_s "$out/fit/run.json")"
        echo "$cpu" >>"$tmp/cpu-$v"
    done
done
median() { sort -g "$1" | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m=$(median "$tmp/cpu-new")
if [ -n "$rev" ]; then
    echo "median CPU: $rev ($(git rev-parse --short "$rev")) $(median "$tmp/cpu-old") s, current $m s"
fi
met=$(echo "$m <= 30" | bc -l)
echo "target (issue 19), the sample patient's whole pipeline, $threads threads: median $m s of CPU (<= 30: $([ "$met" = 1 ] && echo met || echo not met))"
