#!/usr/bin/env bash
# test_wbctl_live.sh BUILD_DIR SOURCE_DIR: wbctl beside a running engine.
# `tests/test_wbctl_data --live DIR` keeps an engine open on DIR/data (the
# node's data directory, its real LOCK held by the oplog) writing a rect to
# board "live" every 2 ms and snapshotting every 50 ops. Meanwhile the
# read-only subcommands must work (and see a consistent, growing state),
# and the writing ones must refuse with a clear message, without touching
# anything. After the engine stops, restore must give exactly its final
# state.
set -uo pipefail
B=$1
WBCTL=$B/tools/wbctl
GEN=$B/tests/test_wbctl_data
T=${WB_TEST_TMP:-/tmp}/wbctl-live-$$
rm -rf "$T"
mkdir -p "$T"
# shellcheck source=shtest.sh
source "$(dirname "$0")/shtest.sh"
count() { python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['elements']))" "$1"; }

[[ -x $WBCTL && -x $GEN ]] || { echo "FAIL: wbctl or test_wbctl_data not built"; exit 1; }
"$GEN" --make-engine-data "$T/gen" >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; echo "FAIL: make-engine-data"; exit 1; }
D=$T/gen/data
cp -a "$D" "$T/src"
"$GEN" --live "$T/gen" >"$T/live.log" 2>&1 &
pid=$!
for ((i = 0; i < 200; i++)); do
    [[ -e $T/gen/live.ready ]] && break
    sleep 0.05
done
[[ -e $T/gen/live.ready ]] || { kill "$pid"; cat "$T/live.log"; echo "FAIL: engine did not start"; exit 1; }
# Wait (bounded) until the first op of "live" is durable.
for ((i = 0; i < 200; i++)); do
    "$WBCTL" restore "$D" --board live >/dev/null 2>&1 && break
    sleep 0.05
done

# Read-only subcommands, several rounds while the engine writes.
prev=0
for round in 1 2 3; do
    expect_rc 0 "$WBCTL" restore "$D" --board live --out "$T/live.json"
    n=$(count "$T/live.json")
    ((n >= prev && n > 0)) || fail "round $round: live board has $n elements after $prev"
    prev=$n
    expect_rc 0 "$WBCTL" restore "$D" --board alpha
    cmp -s "$T/out" <(cat "$T/gen/expect/alpha-4.json"; echo) || fail "round $round: alpha changed under a live engine"
    expect_rc 0 "$WBCTL" stats "$D" --json
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert 'live' in j['boards']['ids'] and j['oplog']['error'] is None" "$T/out" ||
        fail "round $round: stats: $(head -c 300 "$T/out")"
    expect_rc 0 "$WBCTL" snapshots "$D" --json
    python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/out" || fail "round $round: snapshots --json"
    expect_rc 0 "$WBCTL" verify "$D"
    expect_rc 0 "$WBCTL" export "$D" --board live --format svg
    expect_rc 0 "$WBCTL" compact "$D" --dry-run
    sleep 0.2
done

# Writing subcommands refuse while the engine holds the lock.
expect_rc 1 "$WBCTL" compact "$D"
grep -q "a node is running" "$T/err" || fail "compact beside the engine: $(cat "$T/err")"
expect_rc 1 "$WBCTL" restore "$D" --board alpha --as alpha-copy
grep -q "a node is running" "$T/err" || fail "fork beside the engine: $(cat "$T/err")"
expect_rc 1 "$WBCTL" repair "$D"
expect_rc 1 "$WBCTL" restore "$T/src" --board beta --into "$D" --as beta2
grep -q "a node is running" "$T/err" || fail "--into a live dir: $(cat "$T/err")"

touch "$T/gen/live.stop"
wait "$pid" || fail "the live engine failed: $(cat "$T/live.log")"
expect_rc 0 "$WBCTL" restore "$D" --board live
grep -q "state_hash=$(cat "$T/gen/live.hash")" "$T/err" || fail "after stop: restore is not the engine's final state: $(cat "$T/err")"
(($(count "$T/out") >= prev)) || fail "final live board smaller than seen while running"
expect_rc 0 "$WBCTL" snapshots "$D" --board live --json
python3 -c "import json,sys; assert len(json.load(open(sys.argv[1]))['snapshots'])>=1" "$T/out" || fail "no snapshot of live"
expect_rc 0 "$WBCTL" snapshots "$D" --board beta2 --json             # refused: nothing written
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))=={'snapshots': []}" "$T/out" || fail "a refused --into wrote beta2"
expect_rc 0 "$WBCTL" snapshots "$D" --board alpha-copy --json
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))=={'snapshots': []}" "$T/out" || fail "a refused fork wrote alpha-copy"
expect_rc 0 "$WBCTL" restore "$D" --board alpha --as alpha-copy   # stopped: allowed

rm -rf "$T"
if ((fails)); then
    echo "test_wbctl_live: $fails failure(s)"
    exit 1
fi
echo "test_wbctl_live: ok"
