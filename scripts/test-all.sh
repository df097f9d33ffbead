#!/usr/bin/env bash
# The whole test suite: install, build, run every test, then build again with
# AddressSanitizer + UndefinedBehaviorSanitizer and run every test once more.
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Headless Chromium and xmllint render and check the patient report
# (tests/test_report.c, tests/test_pipeline.c): setup.sh installs them.
VBT_SETUP_CHROMIUM=1 scripts/setup.sh build
# MNE (python3-mne) reads BrainVision files in tests/test_recording.c: the
# independent check of vbt's own BrainVision reader; cwltool validates the CWL
# descriptors of `vbt help --cwl` (tests/check_cwl.sh).  Both tests skip when
# their tool is absent, so a failed install is said, not fatal.
extra=()
/usr/bin/python3 -c 'import mne' >/dev/null 2>&1 || extra+=(python3-mne)
command -v cwltool >/dev/null 2>&1 || extra+=(cwltool)
if [ ${#extra[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          "${extra[@]}" >/dev/null; } ||
        echo "test-all: ${extra[*]} could not be installed; their checks are skipped" >&2
fi
meson test -C build --print-errorlogs --num-processes 2 | tee "$log"
scripts/setup.sh build-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
    -Dc_args=-fno-sanitize-recover=all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 4 | tee -a "$log"

passed=$(awk '/^Ok:/ {s += $2} END {print s + 0}' "$log")
failed=$(awk '/^Fail:|^Timeout:|^Unexpected Pass:/ {s += $NF} END {print s + 0}' "$log")
echo "release and sanitizer builds: all tests passed"
echo "$passed passed, $failed failed"
