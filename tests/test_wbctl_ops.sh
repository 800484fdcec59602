#!/usr/bin/env bash
# test_wbctl_ops.sh BUILD_DIR SOURCE_DIR: `wbctl inspect` decodes WB_REC_OPS
# records (tools/wbctl_ops.c). The log is written by
# `tests/test_restore --make-ops-log DIR` through the real oplog writer; the
# generator prints what each record holds ("SEQ other", "SEQ BOARD NOPS
# KIND:ELEM..." or "SEQ bad": an ops record that does not decode), and both
# renderings of inspect must agree with it.
set -uo pipefail
B=$1
WBCTL=$B/tools/wbctl
GEN=$B/tests/test_restore
T=${WB_TEST_TMP:-/tmp}/wbctl-ops-$$
rm -rf "$T"
mkdir -p "$T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

[[ -x $WBCTL ]] || { echo "FAIL: $WBCTL not built"; exit 1; }
[[ -x $GEN ]] || { echo "FAIL: $GEN not built"; exit 1; }

"$GEN" --make-ops-log "$T/log" >"$T/expect" || { echo "FAIL: make-ops-log"; exit 1; }
n=$(wc -l <"$T/expect")
[[ $n -ge 50 ]] || fail "generator wrote $n records"
grep -q " other$" "$T/expect" || fail "no record of another type in the log"
grep -q " bad$" "$T/expect" || fail "no undecodable ops record in the log"

# --- JSON: every ops record decoded, matching the generator ---------------
"$WBCTL" inspect --json "$T/log" >"$T/json" 2>"$T/err" || fail "inspect --json exited $?"
python3 - "$T/json" "$T/expect" <<'PY' || fail "inspect --json does not match the log"
import json, sys
doc = json.load(open(sys.argv[1]))
expect = {}
for line in open(sys.argv[2]):
    f = line.split()
    expect[int(f[0])] = f[1:]
recs = doc["records"]
bad = 0
def err(msg):
    global bad
    bad += 1
    print("  " + msg)
if doc["end"] != "clean":
    err("end is %r" % doc["end"])
if [r["seq"] for r in recs] != sorted(expect):
    err("seqs differ: %d records, want %d" % (len(recs), len(expect)))
for r in recs:
    e = expect.get(r["seq"])
    if e is None:
        continue
    if e[0] == "other":
        if r["type"] == 1 or "payload" in r:
            err("seq %d: other-type record rendered as ops" % r["seq"])
        continue
    if e[0] == "bad":
        p = r.get("payload")
        if not isinstance(p, dict) or not str(p.get("error", "")).startswith("WB_E"):
            err("seq %d: undecodable batch not flagged: %s" % (r["seq"], p))
        continue
    p = r.get("payload")
    if r["type"] != 1 or r.get("type_name") != "ops" or not isinstance(p, dict):
        err("seq %d: ops record not decoded: %s" % (r["seq"], r))
        continue
    if p.get("board") != e[0] or len(p.get("ops", [])) != int(e[1]):
        err("seq %d: board/ops %s/%d, want %s/%s" % (r["seq"], p.get("board"),
            len(p.get("ops", [])), e[0], e[1]))
        continue
    got = ["%s:%s" % (o["kind"], o["id"]) for o in p["ops"]]
    if got != e[2:]:
        err("seq %d: ops %s, want %s" % (r["seq"], got, e[2:]))
    for o in p["ops"]:
        s = o.get("stamp")
        if not s or int(s["node"]) not in (1, 2, 3) or int(s["oseq"]) < 1:
            err("seq %d: op without a valid stamp: %s" % (r["seq"], o))
        if o["kind"] == "upsert" and not o.get("props"):
            err("seq %d: upsert without props" % r["seq"])
print("  %d records checked, %d problems" % (len(recs), bad))
sys.exit(1 if bad else 0)
PY

# --- text: one summary line per ops record ---------------------------------
"$WBCTL" inspect "$T/log" >"$T/text" 2>"$T/err" || fail "inspect exited $?"
[[ $(wc -l <"$T/text") -eq $n ]] || fail "text: $(wc -l <"$T/text") lines, want $n"
while read -r seq board nops rest; do
    [[ $board == other ]] && continue
    if [[ $board == bad ]]; then
        line=$(awk -v s="$seq" '$1 == s' "$T/text")
        [[ $line == *"undecodable ops batch"* ]] || fail "seq $seq: bad batch not flagged: $line"
        continue
    fi
    line=$(awk -v s="$seq" '$1 == s' "$T/text")
    [[ $line == *"type=1/ops"* ]] || { fail "seq $seq: not shown as ops: $line"; continue; }
    [[ $line == *"board=$board ops=$nops "* ]] || fail "seq $seq: no 'board=$board ops=$nops': $line"
    for op in $rest; do
        [[ $line == *" $op"* ]] || fail "seq $seq: '$op' missing: $line"
    done
done <"$T/expect"
# properties of an upsert are named
grep -q "upsert:e[0-9]*{[a-zA-Z,]*}" "$T/text" || fail "text: upserts list no property names"

# --limit and --from still apply to decoded records
"$WBCTL" inspect --json --from 10 --limit 3 "$T/log" >"$T/json2" || fail "inspect --from/--limit"
python3 -c "
import json,sys
j=json.load(open(sys.argv[1]))
assert [r['seq'] for r in j['records']]==[10,11,12], j['records']
" "$T/json2" || fail "--from 10 --limit 3 gave other records"

rm -rf "$T"
if [[ $fails -ne 0 ]]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "ok"
