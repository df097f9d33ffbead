#!/bin/sh
# Wall and CPU time of `vbt cohort run` on 1 and 2 MPI ranks (benchmark,
# not a test): one subject (its fit's 4 chains apart on 2 ranks), then
# several subjects (one per rank at a time), and the outputs of 1 and 2
# ranks compared (timings aside).  The machine is shared: the load
# (uptime) is printed before and after each run; CPU time is user + sys
# of mpirun and its ranks.
#
# Usage: bench/cohort_mpi.sh BUILD DATASET OUT ONE_SUBJECT SUBJECTS
#   e.g. bench/cohort_mpi.sh build-mpi /tmp/ezb/vc0 /tmp/cmb HUP060 HUP060,HUP064
set -eu
build=$1 ds=$2 out=$3 one=$4 many=$5
vbt=$build/cli/vbt
cmp=$build/tests/test_cohort_mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_base_warn_component_unused=0 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
run() { # NAME RANKS SUBJECTS
    echo "== $1: $2 rank(s), --subjects $3; load: $(uptime | sed 's/.*average: //')"
    rm -rf "${out:?}/$1"
    /usr/bin/time -f "$1: wall %e s, CPU %U s user + %S s sys" \
        mpirun --oversubscribe -n "$2" "$vbt" cohort run "$ds" -o "$out/$1" --subjects "$3" \
        --atlas data-samples -q > "$out/$1.log" 2>&1 || { tail -5 "$out/$1.log"; exit 1; }
    grep -E '^[a-zA-Z0-9_-]+: wall' "$out/$1.log"
    echo "   load after: $(uptime | sed 's/.*average: //')"
}
run one-r1 1 "$one"
run one-r2 2 "$one"
run many-r1 1 "$many"
run many-r2 2 "$many"
for pair in "one-r1 one-r2" "many-r1 many-r2"; do
    set -- $pair
    "$cmp" --compare "$out/$1" "$out/$2" && echo "$1 = $2 (timings aside)"
done
