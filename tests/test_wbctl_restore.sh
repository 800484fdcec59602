#!/usr/bin/env bash
# test_wbctl_restore.sh BUILD_DIR SOURCE_DIR: wbctl restore against engine
# data with recorded states. `tests/test_wbctl_data --make-engine-data DIR`
# runs an engine over three boards in four phases and writes, per phase,
# the seq of the last record, a time between that phase and the next, and
# each board's state hash, element count and JSON as the engine had it
# (DIR/expect.json). Every restore target must give exactly those states:
# --until seq:N, --until ISO 8601, --until @UNIX, --snapshot ID|latest; a
# fork (--as) and a copy into another data directory (--into) must restore
# (and open in an engine) to the same elements under the new id, leaving
# the original untouched; writing restores are refused while the node's
# lock is held (flock from util-linux), read-only ones are not.
set -uo pipefail
B=$1
WBCTL=$B/tools/wbctl
GEN=$B/tests/test_wbctl_data
T=${WB_TEST_TMP:-/tmp}/wbctl-restore-$$
rm -rf "$T"
mkdir -p "$T"
# shellcheck source=shtest.sh
source "$(dirname "$0")/shtest.sh"
# ex EXPR: a python expression over the expectations e (expect.json).
ex() { python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print($1)" "$T/gen/expect.json"; }
# hash_of FILE: the state_hash=... of a summary line.
hash_of() { sed -n 's/.*state_hash=\([0-9a-f]*\).*/\1/p' "$1" | tail -1; }

[[ -x $WBCTL && -x $GEN ]] || { echo "FAIL: wbctl or test_wbctl_data not built"; exit 1; }
"$GEN" --make-engine-data "$T/gen" >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; echo "FAIL: make-engine-data"; exit 1; }
D=$T/gen/data

# --- usage ---------------------------------------------------------------------
expect_rc 0 "$WBCTL" restore --help
grep -q "usage: wbctl restore" "$T/out" || fail "restore --help prints no usage"
grep -q "seq:N" "$T/out" || fail "restore --help does not document seq:N"
expect_rc 2 "$WBCTL" restore "$D"                                  # no --board
expect_rc 2 "$WBCTL" restore --board alpha                         # no DATA_DIR
expect_rc 2 "$WBCTL" restore "$D" --board alpha --until 12         # bare number
expect_rc 2 "$WBCTL" restore "$D" --board alpha --until yesterday
expect_rc 2 "$WBCTL" restore "$D" --board alpha --until 2026-13-01T00:00:00Z
expect_rc 2 "$WBCTL" restore "$D" --board alpha --until seq:x
expect_rc 2 "$WBCTL" restore "$D" --board alpha --snapshot 1 --until seq:3
expect_rc 2 "$WBCTL" restore "$D" --board alpha --snapshot nope
expect_rc 2 "$WBCTL" restore "$D" --board alpha --frobnicate
expect_rc 1 "$WBCTL" restore "$D" --board nosuchboard
grep -q "not found" "$T/err" || fail "unknown board: $(cat "$T/err")"
expect_rc 1 "$WBCTL" restore "$T/nosuchdir" --board alpha

# --- every checkpoint, by seq and by time --------------------------------------
ncp=$(ex 'len(e["checkpoints"])')
[[ $ncp == 4 ]] || fail "want 4 checkpoints, got $ncp"
for ((k = 0; k < ncp; k++)); do
    seq=$(ex "e['checkpoints'][$k]['seq']")
    tus=$(ex "e['checkpoints'][$k]['time_us']")
    iso=$(python3 -c "import datetime,sys; t=int(sys.argv[1]); print(datetime.datetime.fromtimestamp(t//1000000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S') + '.%06dZ' % (t%1000000))" "$tus")
    unix=$(python3 -c "import sys; t=int(sys.argv[1]); print('@%d.%06d' % (t//1000000, t%1000000))" "$tus")
    for b in alpha beta gamma; do
        want_hash=$(ex "e['checkpoints'][$k]['boards']['$b']['hash']")
        want_json=$(ex "e['checkpoints'][$k]['boards']['$b']['json']")
        for until in "seq:$seq" "$iso" "$unix"; do
            expect_rc 0 "$WBCTL" restore "$D" --board "$b" --until "$until"
            cmp -s "$T/out" <(cat "$want_json"; echo) ||
                fail "restore $b --until $until: JSON differs from the engine's at phase $((k + 1))"
            [[ $(hash_of "$T/err") == "$want_hash" ]] ||
                fail "restore $b --until $until: hash $(hash_of "$T/err"), want $want_hash"
        done
    done
done
# An offset time means the same instant.
t3=$(ex "e['checkpoints'][2]['time_us']")
off=$(python3 -c "import datetime,sys; t=int(sys.argv[1]); d=datetime.datetime.fromtimestamp(t//1000000, datetime.timezone(datetime.timedelta(hours=2))); print(d.strftime('%Y-%m-%dT%H:%M:%S') + '.%06d+02:00' % (t%1000000))" "$t3")
expect_rc 0 "$WBCTL" restore "$D" --board alpha --until "$off"
[[ $(hash_of "$T/err") == $(ex "e['checkpoints'][2]['boards']['alpha']['hash']") ]] ||
    fail "restore --until $off is not phase 3"
# Before the first record the board did not exist.
expect_rc 1 "$WBCTL" restore "$D" --board alpha --until @1000000000

# --- latest, --out, snapshots ---------------------------------------------------
last_json=$(ex "e['checkpoints'][3]['boards']['alpha']['json']")
expect_rc 0 "$WBCTL" restore "$D" --board alpha --out "$T/latest.json"
cmp -s "$T/latest.json" <(cat "$last_json"; echo) || fail "restore latest --out differs from phase 4"
[[ ! -s $T/out ]] || fail "restore --out also wrote to stdout"
expect_rc 0 "$WBCTL" restore "$D" --board alpha --snapshot latest
cmp -s "$T/out" <(cat "$last_json"; echo) || fail "restore --snapshot latest differs from phase 4"
grep -q "snapshot [0-9]* (pos" "$T/err" || fail "--snapshot latest: summary names no snapshot: $(cat "$T/err")"
# The snapshot taken after phase 3 holds exactly phase 3.
seq3=$(ex "e['checkpoints'][2]['seq']")
expect_rc 0 "$WBCTL" snapshots "$D" --board beta --json
sid=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print([s['id'] for s in j['snapshots'] if s['pos']==int(sys.argv[2])][0])" "$T/out" "$seq3") ||
    fail "no beta snapshot at pos $seq3: $(cat "$T/out")"
expect_rc 0 "$WBCTL" restore "$D" --board beta --snapshot "$sid"
cmp -s "$T/out" <(cat "$(ex "e['checkpoints'][2]['boards']['beta']['json']")"; echo) ||
    fail "restore --snapshot $sid is not beta at phase 3"
expect_rc 1 "$WBCTL" restore "$D" --board alpha --snapshot "$sid"   # another board's
expect_rc 1 "$WBCTL" restore "$D" --board alpha --snapshot 999999

# --- fork in place (--as) -----------------------------------------------------------
cp -a "$D" "$T/work"
W=$T/work
seq2=$(ex "e['checkpoints'][1]['seq']")
h4=$(ex "e['checkpoints'][3]['boards']['alpha']['hash']")
expect_rc 0 "$WBCTL" restore "$W" --board alpha --until "seq:$seq2" --as alpha-fork
grep -q "forked board alpha as alpha-fork" "$T/out" || fail "fork summary: $(cat "$T/out")"
expect_rc 0 "$WBCTL" restore "$W" --board alpha-fork
python3 - "$T/out" "$(ex "e['checkpoints'][1]['boards']['alpha']['json']")" <<'EOF' || fail "fork is not alpha at phase 2 under the new id"
import json, sys
got = json.load(open(sys.argv[1])); want = json.load(open(sys.argv[2]))
assert got["id"] == "alpha-fork", got["id"]
assert got["elements"] == want["elements"], "elements differ"
assert got["version"] == want["version"], "version vectors differ"
EOF
expect_rc 0 "$WBCTL" restore "$W" --board alpha
[[ $(hash_of "$T/err") == "$h4" ]] || fail "fork changed the original"
expect_rc 1 "$WBCTL" restore "$W" --board alpha --as alpha-fork    # exists
expect_rc 1 "$WBCTL" restore "$W" --board alpha --as alpha         # same id
# What a node started on the directory serves.
"$GEN" --engine-json "$W" alpha-fork >"$T/eng.json" 2>"$T/eng.err" || fail "engine cannot open the forked dir: $(cat "$T/eng.err")"
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a['elements']==b['elements']" \
    "$T/eng.json" "$(ex "e['checkpoints'][1]['boards']['alpha']['json']")" || fail "engine serves another alpha-fork"

# --- into another data directory ---------------------------------------------------
seq1=$(ex "e['checkpoints'][0]['seq']")
expect_rc 0 "$WBCTL" restore "$D" --board beta --until "seq:$seq1" --into "$T/other"
expect_rc 0 "$WBCTL" restore "$T/other" --board beta
cmp -s "$T/out" <(cat "$(ex "e['checkpoints'][0]['boards']['beta']['json']")"; echo) ||
    fail "--into: beta in the new dir is not phase 1"
expect_rc 1 "$WBCTL" restore "$D" --board beta --into "$T/other"   # exists there
expect_rc 0 "$WBCTL" restore "$D" --board gamma --into "$T/other" --as gamma-copy
"$GEN" --engine-json "$T/other" gamma-copy >"$T/eng.json" 2>"$T/eng.err" || fail "engine cannot open --into dir"
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a['id']=='gamma-copy' and a['elements']==b['elements']" \
    "$T/eng.json" "$(ex "e['checkpoints'][3]['boards']['gamma']['json']")" || fail "engine serves another gamma-copy"
expect_rc 1 "$WBCTL" restore "$D" --board beta --into "$D"        # itself

# --- the node's lock --------------------------------------------------------------
L=$W/oplog/LOCK
expect_rc 1 flock -n "$L" "$WBCTL" restore "$W" --board alpha --as alpha-locked
grep -q "a node is running" "$T/err" || fail "locked fork: no clear message: $(cat "$T/err")"
expect_rc 1 flock -n "$T/other/oplog/LOCK" "$WBCTL" restore "$D" --board alpha --into "$T/other" --as a3
expect_rc 0 flock -n "$L" "$WBCTL" restore "$W" --board alpha      # read-only: fine
[[ $(hash_of "$T/err") == "$h4" ]] || fail "read-only restore under the lock"
expect_rc 0 "$WBCTL" restore "$W" --board alpha --as alpha-unlocked  # lock released

rm -rf "$T"
if ((fails)); then
    echo "test_wbctl_restore: $fails failure(s)"
    exit 1
fi
echo "test_wbctl_restore: ok"
