#!/bin/sh
# The layers' dependencies point one way (README "Layout"):
#   lib <- connectomes, fitting <- clinical <- cli
# lib/ includes only lib/; connectomes/ and fitting/ include lib/ and
# themselves; clinical/ includes lib/, connectomes/, fitting/ and itself;
# cli/ includes anything.  The umbrella lib/vbt.h includes every layer of
# the library, so only clinical/ (the top one) and cli/ may include it.
#
# Usage: check_layering.sh SRC         scan SRC's layers, name every
#                                      wrong-way #include "..." (file:line)
#        check_layering.sh --self-test SRC
#                                      plant wrong-way includes in a scratch
#                                      copy of SRC: each must be caught
set -u

layers="lib connectomes fitting clinical cli"

# check SRC: print one line per wrong-way include; exit status 1 if any.
# A header named in #include "NAME" from a file in folder DIR is looked for
# as the compiler does: DIR/NAME first, then NAME in each layer's folder (a
# .in template counts: vbt_version.h); one found nowhere is a system header.
check() {
    (cd "$1" && find $layers \( -name '*.[ch]' -o -name '*.h.in' \) | LC_ALL=C sort |
     awk -v layers="$layers" '
        function may(from, to) {
            if (from == to || from == "cli") return 1
            if ((from == "connectomes" || from == "fitting") && to == "lib") return 1
            return from == "clinical" && (to == "lib" || to == "connectomes" || to == "fitting")
        }
        function layer_of(dir, name,    k) {
            if (name == "vbt.h") return "umbrella"
            if ((dir "/" name) in have) return substr(dir, 1, index(dir "/", "/") - 1)
            for (k = 1; k <= nl; k++)
                if ((L[k] "/" name) in have || (L[k] "/" name ".in") in have) return L[k]
            return ""
        }
        { have[$0] = 1; if ($0 ~ /\.[ch]$/) files[++nf] = $0 }
        END {
            nl = split(layers, L, " ")
            bad = 0
            for (i = 1; i <= nf; i++) {
                f = files[i]
                if (f == "lib/vbt.h") continue          # the umbrella itself
                from = substr(f, 1, index(f, "/") - 1)
                dir = f; sub(/\/[^\/]*$/, "", dir)
                line = 0
                while ((getline text < f) > 0) {
                    line++
                    if (text !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
                    name = text; sub(/^[^"]*"/, "", name); sub(/".*$/, "", name)
                    to = layer_of(dir, name)
                    if (to == "") continue
                    if (to == "umbrella") {
                        if (from == "cli" || from == "clinical") continue
                        printf "%s:%d: #include \"%s\": the umbrella includes every layer; " \
                               "%s/ may not include it (only clinical/ and cli/)\n", f, line,
                               name, from
                        bad++
                    } else if (!may(from, to)) {
                        printf "%s:%d: #include \"%s\" is in %s/: %s/ may not include %s/\n",
                               f, line, name, to, from, to
                        bad++
                    }
                }
                close(f)
            }
            if (bad) { printf "%d wrong-way include(s) in %d files\n", bad, nf; exit 1 }
            printf "%d files, no wrong-way include\n", nf
        }')
}

# self_test SRC: a clean copy passes; each planted wrong include fails and
# is named with its file and line.
self_test() {
    src="$1"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for l in $layers; do
        cp -R "$src/$l" "$tmp/$l"
    done
    failures=0
    if ! out=$(check "$tmp"); then
        echo "self-test: the unmodified copy fails:"
        echo "$out"
        failures=$((failures + 1))
    fi
    # FILE HEADER FORBIDDEN-LAYER: one planted include each.
    for case in "lib/sim.c vbt_gain.h connectomes" \
                "lib/monitors/projection.c vbt_vep.h fitting" \
                "lib/internal.h cli.h cli" \
                "connectomes/gain.c vbt_nuts.h fitting" \
                "connectomes/contacts.c vbt_recording.h clinical" \
                "fitting/nuts.c vbt_contacts.h connectomes" \
                "fitting/vep.c vbt_seeg.h clinical" \
                "clinical/ei.c cli.h cli" \
                "fitting/loo.c vbt.h umbrella"; do
        set -- $case
        f="$1" h="$2" want="$3"
        cp "$tmp/$f" "$tmp/$f.orig"
        printf '#include "%s"\n' "$h" >>"$tmp/$f"
        line=$(wc -l <"$tmp/$f" | tr -d ' ')
        if out=$(check "$tmp"); then
            echo "self-test: $f including \"$h\" ($want) passed the check"
            failures=$((failures + 1))
        elif ! echo "$out" | grep -q "^$f:$line: #include \"$h\""; then
            echo "self-test: $f including \"$h\": the report does not name $f:$line:"
            echo "$out"
            failures=$((failures + 1))
        elif [ "$want" != umbrella ] && ! echo "$out" | grep -q "is in $want/"; then
            echo "self-test: $f including \"$h\": the report does not name $want/:"
            echo "$out"
            failures=$((failures + 1))
        else
            echo "caught: $(echo "$out" | head -n 1)"
        fi
        mv "$tmp/$f.orig" "$tmp/$f"
    done
    if [ "$failures" -gt 0 ]; then
        echo "0 passed, 1 failed"
        return 1
    fi
    echo "1 passed, 0 failed"
    return 0
}

if [ "${1:-}" = --self-test ]; then
    self_test "$2"
    exit $?
fi
if check "$1"; then
    echo "1 passed, 0 failed"
    exit 0
fi
echo "0 passed, 1 failed"
exit 1
