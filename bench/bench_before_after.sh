#!/usr/bin/env bash
# bench_before_after.sh -- the simulator's throughput before and after, side by side.
#
# Builds revision REV (default HEAD) of libvbt in a temporary folder with the
# CURRENT bench/bench_batch.c (which needs only vbt_sim_set_history_float32(),
# present since issue 19's first part), then runs the old and the new program
# alternately ROUNDS times (default 3) and prints, for every line, the best
# rate (M simulation-region-steps per CPU second) of each: on a shared
# machine the best of alternated runs is the fairest comparison.
#
# Usage: bench/bench_before_after.sh BUILD_DIR [REV] [ROUNDS] [STEPS]
#   run from the source root; BUILD_DIR is a configured build of the
#   current tree (its bench/bench_batch is rebuilt).
set -eu
build=${1:?usage: bench/bench_before_after.sh BUILD_DIR [REV] [ROUNDS] [STEPS]}
rev=${2:-HEAD}
rounds=${3:-3}
steps=${4:-4000}
conn=data-samples/connectivity_84_desikan.zip
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

git archive "$rev" | tar -x -C "$tmp"
cp bench/bench_batch.c "$tmp/bench/bench_batch.c"
meson setup "$tmp/build" "$tmp" >/dev/null
ninja -C "$tmp/build" bench/bench_batch >/dev/null
ninja -C "$build" bench/bench_batch >/dev/null

for r in $(seq "$rounds"); do
    "$tmp/build/bench/bench_batch" "$conn" "$steps" >"$tmp/old.$r"
    "$build/bench/bench_batch" "$conn" "$steps" >"$tmp/new.$r"
done
echo "bench_batch, $steps steps, best of $rounds alternated runs, M simulation-region-steps/s (CPU time)"
echo "before: $rev ($(git rev-parse --short "$rev")); after: the working tree in $build"
printf '%-22s %5s %-7s %9s %9s %7s\n' model batch history before after ratio
# Lines "model batch history cpu rate ratio": keep the best rate per key.
cat "$tmp"/old.* | awk '$2 ~ /^[0-9]+$/ && NF == 6 { k = $1 " " $2 " " $3; if ($5 > b[k]) b[k] = $5 }
    END { for (k in b) print k, b[k] }' | sort >"$tmp/old.best"
cat "$tmp"/new.* | awk '$2 ~ /^[0-9]+$/ && NF == 6 { k = $1 " " $2 " " $3; if ($5 > b[k]) b[k] = $5 }
    END { for (k in b) print k, b[k] }' | sort >"$tmp/new.best"
join -j 1 <(awk '{print $1 "/" $2 "/" $3, $4}' "$tmp/old.best") \
          <(awk '{print $1 "/" $2 "/" $3, $4}' "$tmp/new.best") 2>/dev/null |
    awk '{ split($1, k, "/"); printf "%-22s %5s %-7s %9.2f %9.2f %6.2fx\n", k[1], k[2], k[3], $2, $3, $3 / $2 }' |
    sort -k1,1 -k3,3 -k2,2n
