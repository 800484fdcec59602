#!/usr/bin/env bash
# wbctl_node_run.sh BUILD_DIR SOURCE_DIR NAME [PART]: what test_wbctl_node.sh
# and test_wbctl_api.sh run. tests/wbctl_node.py drives wbctl against real
# whiteboardd nodes (127.0.0.1, free ports, a temporary data dir named after
# NAME); PART selects its part ("api"; none: the default part). Fails on a
# failed check or a sanitizer report in the node log, then prints the
# node's last log lines. Only the PIDs the harness starts are signalled.
set -uo pipefail
B=$1
S=$2
NAME=$3
PART=${4:-}
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
WBCTL=$B/tools/wbctl
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
[[ -x $WBCTL ]] || { echo "FAIL: $WBCTL not built"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/$NAME-$$
rm -rf "$T"
mkdir -p "$T"
python3 "$S/tests/wbctl_node.py" "$BIN" "$WBCTL" "$T" $PART
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
echo "test_$NAME: ok"
