#!/usr/bin/env bash
# test_node_http.sh BUILD_DIR SOURCE_DIR: a real whiteboardd on 127.0.0.1
# (free port, temporary data dir) driven over HTTP by tests/node_http.py
# with curl: sign-in, boards, ops acked only when durable, auth and input
# failures, /metrics, SIGTERM, and a SIGKILL loop checking that every acked
# op survives. Only the PIDs the script starts are signalled.
set -uo pipefail
B=$1
S=$2
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl missing (infra/deps.sh --test)"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/node-http-$$
rm -rf "$T"
mkdir -p "$T"
python3 "$S/tests/node_http.py" "$BIN" "$T"
rc=$?  # non-zero also when the script died (it kills its nodes at exit)
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log"; then
    echo "FAIL: sanitizer report in the node log:"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" | head -30
    rc=$((rc + 1))
fi
if [[ $rc -ne 0 ]]; then
    echo "FAIL: $rc check(s) failed; node log (last 20 lines):"
    tail -20 "$T/node.log"
    exit 1
fi
rm -rf "$T"
echo "PASS"
