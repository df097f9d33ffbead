#!/bin/sh
# `vbt help --cwl CMD [SUB]` writes CWL CommandLineTools that Debian's cwltool
# accepts: `cohort run` and `pipeline` validated with `cwltool --validate`
# (skipped, 77, when cwltool is absent); a command that does not exist, or a
# missing sub-command, is a usage error (exit 2).
#
# Usage: check_cwl.sh VBT
set -u
vbt=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
"$vbt" help --cwl cohort run > "$tmp/vbt-cohort-run.cwl" || { echo "FAIL: cohort run"; fail=1; }
"$vbt" help --cwl pipeline > "$tmp/vbt-pipeline.cwl" || { echo "FAIL: pipeline"; fail=1; }
grep -q '"baseCommand": \["vbt", "cohort", "run"\]' "$tmp/vbt-cohort-run.cwl" || { echo "FAIL: baseCommand"; fail=1; }
grep -q '"output_result": {"type": "Directory"' "$tmp/vbt-pipeline.cwl" || { echo "FAIL: output"; fail=1; }
"$vbt" help --cwl no-such-command > /dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: unknown command not a usage error"; fail=1; }
"$vbt" help --cwl cohort > /dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: missing sub-command not a usage error"; fail=1; }
if ! command -v cwltool > /dev/null 2>&1; then
    echo "SKIP: cwltool not installed (Debian: cwltool); descriptors generated but not validated"
    [ $fail -eq 0 ] && exit 77
    exit 1
fi
for f in "$tmp"/*.cwl; do
    if ! (cd "$tmp" && timeout 120 cwltool --validate "$f" > "$f.log" 2>&1); then
        echo "FAIL: $(basename "$f") is not valid CWL:"
        cat "$f.log"
        fail=1
    fi
done
[ $fail -eq 0 ] && echo "OK: vbt-cohort-run.cwl and vbt-pipeline.cwl are valid CWL"
exit $fail
