#!/usr/bin/env bash
# Install what is missing (Debian 12 packages), then configure and build vbt
# in ./build.  Works as root or through sudo; installs nothing when every
# package is already there.  Usage: scripts/setup.sh [BUILD_DIR [meson options]]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential meson ninja-build pkg-config
          libgsl-dev libopenblas-dev libnifti2-dev libcjson-dev libcmocka-dev
          libarchive-dev libbz2-dev nettle-dev libedf-dev libbiosig-dev libfftw3-dev libcairo2-dev
          librandom123-dev libopenmpi-dev openmpi-bin)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# Optional: headless Chromium (and xmllint) for the tests that render the
# patient report (tests/test_report.c, tests/test_pipeline.c; skipped with a
# message without them).  VBT_SETUP_CHROMIUM=1 installs them; a failure to
# install them is reported, not fatal.
if [ "${VBT_SETUP_CHROMIUM:-0}" = 1 ]; then
    optional=()
    for p in chromium libxml2-utils; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            optional+=("$p")
    done
    if [ ${#optional[@]} -gt 0 ]; then
        echo "setup: installing ${optional[*]} (report rendering tests)" >&2
        if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
        { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
          $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${optional[@]}" \
              >/dev/null; } ||
            echo "setup: ${optional[*]} could not be installed; the report rendering checks" \
                 "will be skipped" >&2
    fi
fi

builddir="${1:-build}"
shift || true
if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" "$@" >/dev/null
fi
ninja -C "$builddir" >/dev/null
echo "setup: built $builddir/cli/vbt" >&2
