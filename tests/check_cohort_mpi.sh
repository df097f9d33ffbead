#!/bin/sh
# The cohort scheduler over 3 MPI ranks on loopback gives the same files as
# threads in one process: test_cohort_mpi --write DIR N run on threads and
# under `mpirun --oversubscribe -n 3`, for N = 11 tasks and N = 2 (fewer
# tasks than ranks), the folders compared byte for byte (every task exactly
# once: a task run twice fails and changes summary.tsv).  Skipped (77) when
# vbt was built without MPI or mpirun is absent.
#
# Then a cohort of one subject whose fit's 4 chains run apart (see below).
#
# Usage: check_cohort_mpi.sh TEST_COHORT_MPI
set -u
exe=$1
if ! "$exe" --have-mpi; then
    echo "SKIP: vbt built without MPI (meson -Dmpi=enabled needs libopenmpi-dev)"
    exit 77
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: mpirun not found (Debian: openmpi-bin)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Loopback only; no warnings about missing high-speed networks.
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_base_warn_component_unused=0 OMPI_MCA_mpi_yield_when_idle=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for n in 11 2; do
    mkdir -p "$tmp/threads-$n" "$tmp/mpi-$n"
    env -u OMPI_COMM_WORLD_SIZE "$exe" --write "$tmp/threads-$n" "$n" || fail=1
    # Under AddressSanitizer, Open MPI's own allocations (its dlopen'ed
    # components) are left at exit: leak checks stay on for the threads run.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        timeout 120 mpirun --oversubscribe -n 3 "$exe" --write "$tmp/mpi-$n" "$n" || {
        echo "FAIL: mpirun -n 3 exited $?"
        fail=1
    }
    if ! diff -r "$tmp/threads-$n" "$tmp/mpi-$n"; then
        echo "FAIL: $n tasks: MPI output differs from threads"
        fail=1
    fi
    [ -s "$tmp/mpi-$n/summary.tsv" ] || { echo "FAIL: no summary.tsv"; fail=1; }
    [ "$(wc -l < "$tmp/mpi-$n/summary.tsv")" -eq "$n" ] || { echo "FAIL: summary rows"; fail=1; }
done
grep -q 'task 3 refused on purpose' "$tmp/mpi-11/summary.tsv" || { echo "FAIL: reason not gathered"; fail=1; }

# A cohort of one subject whose NUTS fit has 4 chains (test_cohort_mpi
# --make-cohort, a short fit): the subject whole on 1 thread (the
# reference), its chains apart on 3 threads, on 1 MPI rank (whole) and on 3
# MPI ranks (rank 0 hands out the MAP stage, the 4 chains and the rest).
# Every output file must be the same, the run's timings aside
# (test_cohort_mpi --compare says which fields those are).
mkdir -p "$tmp/ds"
"$exe" --make-cohort "$tmp/ds" || fail=1
env -u OMPI_COMM_WORLD_SIZE "$exe" --cohort "$tmp/ds" "$tmp/c-whole" 1 || fail=1
env -u OMPI_COMM_WORLD_SIZE "$exe" --cohort "$tmp/ds" "$tmp/c-threads3" 3 2> "$tmp/t3.log" || fail=1
grep -q '6 task(s) on 3 worker(s), backend threads' "$tmp/t3.log" || { cat "$tmp/t3.log"; echo "FAIL: 3 threads did not split the chains"; fail=1; }
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 400 mpirun -n 1 "$exe" --cohort "$tmp/ds" "$tmp/c-mpi1" 1 || { echo "FAIL: mpirun -n 1"; fail=1; }
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout 400 mpirun --oversubscribe -n 3 "$exe" --cohort "$tmp/ds" "$tmp/c-mpi3" 1 2> "$tmp/m3.log" || {
    cat "$tmp/m3.log"; echo "FAIL: mpirun -n 3 (cohort)"; fail=1; }
grep -q '6 task(s) on 3 worker(s), backend mpi' "$tmp/m3.log" || { cat "$tmp/m3.log"; echo "FAIL: 3 ranks did not split the chains"; fail=1; }
for run in c-threads3 c-mpi1 c-mpi3; do
    if ! "$exe" --compare "$tmp/c-whole" "$tmp/$run"; then
        echo "FAIL: $run differs from the subject run whole on one thread"
        fail=1
    fi
done
[ $fail -eq 0 ] && echo "OK: 3 ranks = threads, byte for byte; a fit's chains on 1 or 3 ranks or threads give the same files"
exit $fail
