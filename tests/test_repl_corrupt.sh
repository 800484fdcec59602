#!/usr/bin/env bash
# test_repl_converge.sh BUILD_DIR SOURCE_DIR: three whiteboardd nodes and a
# real redis-server (127.0.0.1, free ports); the scenario is named after
# this file (test_repl_<scenario>.sh -> tests/repl_cluster.py <scenario>).
# Only the PIDs the harness starts are signalled.
set -uo pipefail
B=$1
S=$2
SCEN=$(basename "$0" .sh)
SCEN=${SCEN#test_repl_}
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
command -v redis-server >/dev/null ||
    { echo "FAIL: redis-server missing (infra/deps.sh --test)"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/repl-$SCEN-$$
rm -rf "$T"
mkdir -p "$T"
timeout -k 10 170 python3 "$S/tests/repl_cluster.py" "$BIN" "$T" "$SCEN"
rc=$?
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T"/node*.log; then
    echo "FAIL: sanitizer report in a node log:"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T"/node*.log | head -30
    rc=$((rc + 1))
fi
if [[ $rc -ne 0 ]]; then
    echo "FAIL: $rc check(s) failed; node logs (last 10 lines each):"
    for f in "$T"/node*.log; do echo "== $f"; tail -10 "$f"; done
    exit 1
fi
rm -rf "$T"
echo "PASS"
