#!/usr/bin/env bash
# mirror_run.sh BUILD_DIR SOURCE_DIR NAME: runs tests/NAME.py for a
# test_mirror_*.sh with Debian's python (pymongo, mockupdb, mongomock), a
# fresh temporary directory, and a scan of the node log for sanitizer
# reports. Not a test itself (no test_ prefix).
set -uo pipefail
B=$1
S=$2
NAME=$3
PY=/usr/bin/python3
for m in pymongo mockupdb mongomock; do
    $PY -c "import $m" 2>/dev/null ||
        { echo "FAIL: $PY cannot import $m (infra/deps.sh --test)"; exit 1; }
done
[[ -x $B/net/whiteboardd && -x $B/tools/wbctl ]] ||
    { echo "FAIL: whiteboardd or wbctl not built in $B"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/$NAME-$$
rm -rf "$T"
mkdir -p "$T"
$PY "$S/tests/$NAME.py" "$B" "$S" "$T"
rc=$?
if [[ -f $T/node.log ]] && grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log"; then
    echo "FAIL: sanitizer report in the node log:"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" | head -30
    rc=1
fi
if [[ $rc -ne 0 ]]; then
    echo "FAIL ($NAME); node log (last 15 lines):"
    tail -15 "$T/node.log" 2>/dev/null
    exit 1
fi
rm -rf "$T"
echo "PASS"
