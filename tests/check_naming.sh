#!/bin/sh
# One naming convention for the functions that fill a struct with its
# defaults (STYLE.md 6): `void <type>_default(<type> *)`, where <type> is the
# struct the function fills (vbt_nuts_opts_default(vbt_nuts_opts *)).  Other
# spellings (_defaults, _options_default, a function named for one type that
# fills another) are refused, naming the header and line.
#
# Usage: check_naming.sh SRC
set -u
cd "$1" || exit 2
bad=0
for h in $(find lib connectomes fitting clinical -name 'vbt_*.h' | LC_ALL=C sort); do
    out=$(awk -v file="$h" '
        /^[a-z].*[ (]vbt_[a-z0-9_]*default[a-z]*\(/ {
            line = $0
            match(line, /vbt_[a-z0-9_]*default[a-z]*\(/)
            fn = substr(line, RSTART, RLENGTH - 1)
            rest = substr(line, RSTART + RLENGTH)
            if (fn !~ /_default$/) {
                printf "%s:%d: %s: a defaults function ends in _default\n", file, NR, fn
                next
            }
            type = fn
            sub(/_default$/, "", type)
            if (type ~ /_options$/) {
                printf "%s:%d: %s: options structs are named _opts\n", file, NR, fn
                next
            }
            if (rest !~ ("^(const )?" type " \\*")) {
                printf "%s:%d: %s: must fill a %s (takes %s)\n", file, NR, fn, type, rest
            }
        }' "$h")
    if [ -n "$out" ]; then
        echo "$out"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "check_naming: every defaults function is <type>_default(<type> *)"
exit $bad
