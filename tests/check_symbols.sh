#!/bin/sh
# Every symbol libvbt exports carries the vbt_ prefix; internal vbt__ names
# shared between files must be hidden (VBT_HIDDEN), not exported.
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDRB]/ {print $3}' | grep -v '^vbt_[a-z0-9]' | grep -v '^_')
if [ -n "$bad" ]; then
    echo "symbols without the vbt_ prefix:"
    echo "$bad"
    echo "0 passed, 1 failed"
    exit 1
fi
n=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDRB]/' | wc -l)
echo "all $n exported symbols carry the vbt_ prefix"
echo "1 passed, 0 failed"
