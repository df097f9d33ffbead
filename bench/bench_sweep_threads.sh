#!/usr/bin/env bash
# bench_sweep_threads.sh -- `vbt sweep` on 1 and on 2 threads, alternated.
#
# The 6D Epileptor on the 84-region Desikan connectome with delays at
# 3 mm/ms (issue 19's sweep set-up), SIMS simulations in batches of 16 (the
# batch is shrunk so that both threads get as many batches), 1000 ms each.
# For each run: wall seconds, user CPU seconds and the load average; then
# the speed-up of 2 threads over 1 in wall time (the issue's target: >= 1.8)
# and the CPU seconds per simulation of each (equal when the threads do not
# slow each other down).  On a shared machine the wall-time speed-up is only
# meaningful when at least two cores are idle: the load average says so.
#
# Usage: bench/bench_sweep_threads.sh BUILD_DIR [ROUNDS] [SIMS]
#   run from the source root.
set -eu
build=${1:?usage: bench/bench_sweep_threads.sh BUILD_DIR [ROUNDS] [SIMS]}
rounds=${2:-2}
sims=${3:-32}
vbt=$build/cli/vbt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count=$(( (sims + 3) / 4 ))
cat >"$tmp/sweep.json" <<JSON
{
  "connectome": "$PWD/data-samples/connectivity_84_desikan.zip",
  "speed_mm_per_ms": 3.0,
  "normalize": "max",
  "model": {"name": "epileptor", "params": {"Ks": -0.2, "Kf": 0.1, "r": 0.00015, "x0": -2.4}},
  "coupling": {"name": "difference", "params": {"a": 1.0}},
  "integrator": {"scheme": "heun", "dt_ms": 0.05, "noise": {"nsig": [0, 0, 0, 0.0003, 0.0003, 0]}},
  "initial": {"constant": [-1.9, -17.0, 3.1, -1.0, 0.04, -0.17]},
  "duration_ms": 1000.0,
  "seed": 42,
  "sweep": {
    "mode": "grid",
    "parameters": [
      {"name": "model.x0", "regions": [62, 47, 40], "range": {"from": -2.2, "to": -1.6, "count": $count}},
      {"name": "coupling.a", "values": [0.5, 1.0, 1.5, 2.0]}
    ],
    "batch": 16,
    "monitor": {"kind": "temporal_average", "period_ms": 1.0},
    "summaries": [{"kind": "mean", "variable": "z"}]
  }
}
JSON
echo "vbt sweep, 6D Epileptor, $((count * 4)) simulations x 84 regions x 20000 steps, batches of 16"
printf '%-8s %8s %8s %8s  %s\n' threads wall_s user_s sys_s load
for r in $(seq "$rounds"); do
    for t in 1 2; do
        rm -rf "$tmp/out"
        load=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$vbt" sweep "$tmp/sweep.json" -o "$tmp/out" \
            --threads "$t" -q >/dev/null
        read -r wall user sys <"$tmp/time"
        printf '%-8s %8s %8s %8s  %s\n' "$t" "$wall" "$user" "$sys" "$load"
        echo "$t $wall $user" >>"$tmp/runs"
    done
done
awk -v n=$((count * 4)) '
    { if (!($1 in w) || $2 < w[$1]) w[$1] = $2; if (!($1 in u) || $3 < u[$1]) u[$1] = $3 }
    END { printf "best wall: 1 thread %.2f s, 2 threads %.2f s: %.2fx (target >= 1.8)\n",
                 w[1], w[2], w[1] / w[2];
          printf "user CPU per simulation: 1 thread %.3f s, 2 threads %.3f s\n",
                 u[1] / n, u[2] / n }' "$tmp/runs"
