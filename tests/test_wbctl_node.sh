#!/usr/bin/env bash
# test_wbctl_node.sh BUILD_DIR SOURCE_DIR: wbctl against a real whiteboardd
# (127.0.0.1, free port, temporary data dir), driven by tests/wbctl_node.py:
# tokens from `wbctl token` accepted (tampered ones not), restore by seq and
# by time equal to what the API served at that point while the node runs,
# compact refused beside it, and a fork made after SIGTERM served by the
# restarted node. Only the PIDs the script starts are signalled.
set -uo pipefail
B=$1
S=$2
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
WBCTL=$B/tools/wbctl
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
[[ -x $WBCTL ]] || { echo "FAIL: $WBCTL not built"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/wbctl-node-$$
rm -rf "$T"
mkdir -p "$T"
python3 "$S/tests/wbctl_node.py" "$BIN" "$WBCTL" "$T"
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
echo "test_wbctl_node: ok"
