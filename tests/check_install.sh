#!/bin/sh
# `meson install` gives a usable library: install into a scratch prefix,
# compile examples/seizure.c against it with pkg-config only, and run it.
set -eu
build="$1"; src="$2"; sanitize="${3:-none}"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" >/dev/null
pc=$(dirname "$(find "$dest" -name vbt.pc | head -n 1)")
export PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$dest"
libdir=$(pkg-config --variable=libdir vbt)
# A sanitized libvbt needs a sanitized program.
san=""
[ "$sanitize" = none ] || san="-fsanitize=$sanitize"
cc $san "$src/examples/seizure.c" $(pkg-config --cflags --libs vbt) -Wl,-rpath,"$libdir" \
   -o "$dest/seizure"
out=$("$dest/seizure" "$src/data-samples/connectivity_76.zip")
echo "$out"
echo "$out" | grep -q "EZ x0 = -1.60: 3 of 76 regions seized" || { echo "0 passed, 1 failed"; exit 1; }
echo "1 passed, 0 failed"
