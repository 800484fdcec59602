#!/usr/bin/env bash
# repl_run.sh BUILD_DIR SOURCE_DIR SCENARIO: what every tests/test_repl_*.sh
# runs. Three whiteboardd nodes and a real redis-server (127.0.0.1, free
# ports) driven by tests/repl_cluster.py SCENARIO; only the PIDs the harness
# starts are signalled. Fails on a failed check or a sanitizer report in a
# node log, and then prints the nodes' last log lines.
set -uo pipefail
B=$1
S=$2
SCEN=$3
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
