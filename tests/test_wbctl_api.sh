#!/usr/bin/env bash
# test_wbctl_api.sh BUILD_DIR SOURCE_DIR: `wbctl seed` and `wbctl snapshot
# take` against real whiteboardd nodes (127.0.0.1, free ports, temporary
# data dirs) and against fake servers for the HTTP client's error paths,
# driven by tests/wbctl_node.py (part "api"). Only the PIDs it starts are
# signalled.
set -uo pipefail
B=$1
S=$2
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
WBCTL=$B/tools/wbctl
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
[[ -x $WBCTL ]] || { echo "FAIL: $WBCTL not built"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/wbctl-api-$$
rm -rf "$T"
mkdir -p "$T"
python3 "$S/tests/wbctl_node.py" "$BIN" "$WBCTL" "$T" api
rc=$?
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" 2>/dev/null; then
    echo "FAIL: sanitizer report in the node log:"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" | head -30
    rc=$((rc + 1))
fi
if [[ $rc -ne 0 ]]; then
    echo "FAIL: $rc check(s) failed; node log (last 20 lines):"
    tail -20 "$T/node.log" 2>/dev/null
    exit 1
fi
rm -rf "$T"
echo "test_wbctl_api: ok"
