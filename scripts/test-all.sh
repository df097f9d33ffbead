#!/usr/bin/env bash
# The whole test suite: install, build, run every test, then build again with
# AddressSanitizer + UndefinedBehaviorSanitizer and run every test once more.
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1
scripts/setup.sh build
meson test -C build --print-errorlogs --num-processes 2
scripts/setup.sh build-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
    -Dc_args=-fno-sanitize-recover=all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 4
echo "all tests passed (release and sanitizer builds)"
