#!/bin/sh
# docs/cli.md is the output of `vbt help --markdown`, byte for byte: the usage
# tables are the one source of the command reference.
# Usage: check_cli_docs.sh VBT DOCS_CLI_MD           check
#        check_cli_docs.sh VBT DOCS_CLI_MD --write   regenerate (ninja -C BUILD cli-docs)
set -u
exe="$1"
doc="$2"
if [ "${3:-}" = "--write" ]; then
    "$exe" help --markdown > "$doc.tmp" && mv "$doc.tmp" "$doc" && echo "wrote $doc" && exit 0
    rm -f "$doc.tmp"
    exit 1
fi
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
if ! "$exe" help --markdown > "$tmp"; then
    echo "'vbt help --markdown' failed"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! cmp -s "$tmp" "$doc"; then
    diff -u "$doc" "$tmp" | head -n 80
    echo "docs/cli.md differs from 'vbt help --markdown' (diff above: - the file, + the tables)."
    echo "Regenerate it from the usage tables: ninja -C BUILD cli-docs"
    echo "(or: BUILD/cli/vbt help --markdown > docs/cli.md)"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "docs/cli.md equals 'vbt help --markdown' ($(wc -c < "$doc") bytes)"
echo "1 passed, 0 failed"
