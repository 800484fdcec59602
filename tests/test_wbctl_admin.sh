#!/usr/bin/env bash
# test_wbctl_admin.sh BUILD_DIR SOURCE_DIR: wbctl snapshots, stats, export
# (json, svg) and compact against engine data made by
# `tests/test_wbctl_data --make-engine-data DIR` (three boards, four phases,
# snapshots after phases 1 and 3 and at close, two kept per board, 4 KiB
# segments). Expected figures come from that program's expect.json, the
# segment files themselves and python3's own parsers (json, xml.etree).
set -uo pipefail
B=$1
WBCTL=$B/tools/wbctl
GEN=$B/tests/test_wbctl_data
T=${WB_TEST_TMP:-/tmp}/wbctl-admin-$$
rm -rf "$T"
mkdir -p "$T"
# shellcheck source=shtest.sh
source "$(dirname "$0")/shtest.sh"
# py SCRIPT ARGS...: runs a python check; e = expect.json, o = $T/out as JSON.
py() {
    local code=$1
    shift
    python3 -c "import json,sys,os,glob
e=json.load(open('$T/gen/expect.json'))
o=json.load(open('$T/out'))
$code" "$@"
}

[[ -x $WBCTL && -x $GEN ]] || { echo "FAIL: wbctl or test_wbctl_data not built"; exit 1; }
"$GEN" --make-engine-data "$T/gen" >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; echo "FAIL: make-engine-data"; exit 1; }
D=$T/gen/data

for cmd in snapshots stats export compact; do
    expect_rc 0 "$WBCTL" $cmd --help
    grep -q "usage: wbctl $cmd" "$T/out" || fail "$cmd --help prints no usage"
    expect_rc 2 "$WBCTL" $cmd
    expect_rc 2 "$WBCTL" $cmd "$D" --no-such-option
done
expect_rc 2 "$WBCTL" export "$D" --board alpha                 # no --format
expect_rc 2 "$WBCTL" export "$D" --board alpha --format png
expect_rc 2 "$WBCTL" export "$D" --format svg                  # no --board
expect_rc 2 "$WBCTL" compact "$D" --retain-seconds soon
expect_rc 1 "$WBCTL" stats "$T/nosuchdir"

expect_rc 0 "$WBCTL" --help
for cmd in verify inspect repair restore snapshots export compact stats token; do
    grep -q "^  $cmd " "$T/out" || fail "wbctl --help lists no $cmd"
done

# --- the oplog subcommands take the node's DATA_DIR as well ----------------------------
nseg=$(ls "$D"/oplog/*.wbseg | wc -l)
expect_rc 0 "$WBCTL" verify "$D"
grep -q "oplog: clean ($nseg segments)" "$T/out" || fail "verify DATA_DIR: $(cat "$T/out")"
expect_rc 0 "$WBCTL" inspect "$D" --json --limit 3
py 'assert [r["seq"] for r in o["records"]]==[1,2,3] and o["records"][0]["type_name"]=="ops"' ||
    fail "inspect DATA_DIR: $(head -c 300 "$T/out")"
expect_rc 1 flock -n "$D/oplog/LOCK" "$WBCTL" repair "$D"
grep -q "in use by a running node" "$T/out" || fail "repair under the lock: $(cat "$T/out" "$T/err")"
expect_rc 0 flock -n "$D/oplog/LOCK" "$WBCTL" verify "$D"   # read-only: fine
# repair on a copy (it may remove an empty segment the engine left ahead of
# use); the data is intact afterwards.
cp -a "$D" "$T/rep"
expect_rc 0 "$WBCTL" repair "$T/rep"
expect_rc 0 "$WBCTL" verify "$T/rep"
expect_rc 0 "$WBCTL" restore "$T/rep" --board alpha
cmp -s "$T/out" <(cat "$T/gen/expect/alpha-4.json"; echo) || fail "restore after repair"

# --- snapshots ---------------------------------------------------------------------
expect_rc 0 "$WBCTL" snapshots "$D" --json
cp "$T/out" "$T/snaps.json"
py '
s=o["snapshots"]
assert len(s)==6, len(s)                                   # 2 kept x 3 boards
assert sorted({x["board"] for x in s})==["alpha","beta","gamma"]
ids=[x["id"] for x in s]; assert len(set(ids))==6
cp3, cp4 = e["checkpoints"][2], e["checkpoints"][3]
for b in ["alpha","beta","gamma"]:
    mine=sorted(x["pos"] for x in s if x["board"]==b)
    assert mine==[cp3["seq"], cp4["seq"]], (b, mine)       # phase 3 and close
    for x in s:
        if x["board"]==b:
            cp = cp3 if x["pos"]==cp3["seq"] else cp4
            assert x["elements"]==cp["boards"][b]["elements"], (b, x)
            assert x["status"]=="ok" and x["bytes"]>0 and x["raw_bytes"]>0
            assert x["created"].endswith("Z") and x["created_us"]>0
' || fail "snapshots --json: $(head -c 400 "$T/snaps.json")"
expect_rc 0 "$WBCTL" snapshots "$D" --board gamma --json
py 'assert [x["board"] for x in o["snapshots"]]==["gamma","gamma"]' || fail "snapshots --board gamma"
expect_rc 0 "$WBCTL" snapshots "$D"
[[ $(grep -c . "$T/out") == 7 ]] || fail "snapshots text: want header + 6 lines: $(cat "$T/out")"
mkdir -p "$T/empty"
expect_rc 0 "$WBCTL" snapshots "$T/empty" --json
py 'assert o=={"snapshots": []}' || fail "snapshots of an empty dir: $(cat "$T/out")"

# --- stats ------------------------------------------------------------------------------
expect_rc 0 "$WBCTL" stats "$D" --json
cp "$T/out" "$T/stats.json"
py '
d=sys.argv[1]
segs=sorted(glob.glob(d+"/oplog/*.wbseg"))
op=o["oplog"]; cps=e["checkpoints"]
assert op["segments"]==len(segs)>=3, (op["segments"], len(segs))
assert op["bytes"]==sum(os.path.getsize(f) for f in segs)
assert op["records"]==cps[3]["seq"] and op["ops_records"]==op["records"]
assert op["first_seq"]==1 and op["last_seq"]==cps[3]["seq"]
assert op["oldest_time_us"] < cps[0]["time_us"] and cps[2]["time_us"] < op["newest_time_us"] < cps[3]["time_us"]
assert op["error"] is None
sn=o["snapshots"]
assert sn["count"]==6 and sn["damaged"]==0 and sn["min_pos"]==cps[2]["seq"] and sn["applied_pos"]==cps[3]["seq"]
assert sn["mirror_cursor"] is None
assert o["boards"]=={"count":3,"ids":["alpha","beta","gamma"]}
' "$D" || fail "stats --json: $(cat "$T/stats.json")"
expect_rc 0 "$WBCTL" stats "$D"
grep -q "^boards *3$" "$T/out" || fail "stats text: $(cat "$T/out")"
expect_rc 0 "$WBCTL" stats "$T/empty" --json
py 'assert o["oplog"]["records"]==0 and o["boards"]["count"]==0' || fail "stats of an empty dir"

# A progress bar only on a terminal (script(1) gives wbctl a pseudo-terminal).
expect_rc 0 "$WBCTL" stats "$D"
grep -q "reading oplog" "$T/err" && fail "progress bar printed to a pipe"
script -qec "\"$WBCTL\" stats \"$D\"" /dev/null >"$T/tty" 2>&1 || fail "stats under script failed"
grep -q "stats: reading oplog \[" "$T/tty" || fail "no progress bar on a terminal: $(head -c 300 "$T/tty")"
grep -q "^boards *3" <(tr -d '\r' <"$T/tty" | sed 's/\x1b\[K//g') || fail "stats output lost under a terminal"
WBCTL_NO_PROGRESS=1 script -qec "\"$WBCTL\" stats \"$D\"" /dev/null >"$T/tty" 2>&1
grep -q "reading oplog" "$T/tty" && fail "WBCTL_NO_PROGRESS did not silence the bar"
# verify (segments checked) and restore (records replayed) draw theirs too,
# and what they print is left intact. alpha as of checkpoint 1 (seq 34)
# predates its kept snapshots: a replay from the start of the log.
untty() { sed 's/\x1b\[K//g' "$1" | tr '\r' '\n'; } # a bar's "\r" starts a line
expect_rc 0 "$WBCTL" verify "$D"
grep -q "checking segments" "$T/err" && fail "verify progress bar printed to a pipe"
script -qec "\"$WBCTL\" verify \"$D\"" /dev/null >"$T/tty" 2>&1 || fail "verify under script failed"
grep -q "verify: checking segments \[" "$T/tty" || fail "no verify progress bar on a terminal: $(head -c 300 "$T/tty")"
untty "$T/tty" | grep -q ": clean (.* segments)$" || fail "verify output lost under a terminal: $(untty "$T/tty")"
seq1=$(python3 -c "import json; print(json.load(open('$T/gen/expect.json'))['checkpoints'][0]['seq'])")
expect_rc 0 "$WBCTL" restore "$D" --board alpha --until "seq:$seq1"
grep -q "replaying oplog" "$T/err" && fail "restore progress bar printed to a pipe"
script -qec "\"$WBCTL\" restore \"$D\" --board alpha --until seq:$seq1 --out \"$T/tty.json\"" /dev/null >"$T/tty" 2>&1 ||
    fail "restore under script failed: $(untty "$T/tty")"
grep -q "restore: replaying oplog \[" "$T/tty" || fail "no restore progress bar on a terminal: $(head -c 300 "$T/tty")"
untty "$T/tty" | grep -q "^board alpha: .* replayed" || fail "restore summary lost under a terminal: $(untty "$T/tty")"
cmp -s "$T/tty.json" <(cat "$T/gen/expect/alpha-1.json"; echo) || fail "restore under a terminal wrote another state"
cp -a "$D" "$T/flipped"
seg=$(ls "$T/flipped"/oplog/*.wbseg | head -2 | tail -1)
printf '\xff' | dd of="$seg" bs=1 seek=200 conv=notrunc status=none
script -qec "\"$WBCTL\" verify \"$T/flipped\"" /dev/null >"$T/tty" 2>&1 && fail "verify of a flipped bit exited 0 under script"
untty "$T/tty" | grep -q "^$seg:[0-9]*: " || fail "verify problem line not at a line start under a terminal: $(untty "$T/tty")"

# --- export -------------------------------------------------------------------------------
expect_rc 0 "$WBCTL" export "$D" --board alpha --format json
cmp -s "$T/out" <(cat "$T/gen/expect/alpha-4.json"; echo) || fail "export json is not the board at the end"
expect_rc 0 "$WBCTL" export "$D" --board alpha --format svg --out "$T/a.svg"
expect_rc 0 "$WBCTL" export "$D" --board alpha --format svg
cmp -s "$T/out" "$T/a.svg" || fail "export svg is not stable (stdout vs --out)"
check_svg() { # SVG_FILE BOARD_JSON
    python3 - "$1" "$2" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
board = json.load(open(sys.argv[2]))
assert root.tag == ns + "svg", root.tag
groups = [g for g in root.iter(ns + "g") if "data-type" in g.attrib]
els = {x["id"]: x for x in board["elements"]}
assert len(groups) == len(els), (len(groups), len(els))
want = {"rect": ["rect"], "ellipse": ["ellipse"], "line": ["polyline"],
        "arrow": ["polyline"], "stroke": ["path"], "text": ["text"],
        "sticky": ["rect", "text"]}
for g in groups:
    x = els[g.attrib["data-id"]]
    assert g.attrib["data-type"] == x["type"]
    kids = [c.tag[len(ns):] for c in g]
    assert kids == want[x["type"]], (x["id"], kids)
    if x["type"] == "arrow":
        assert g[0].attrib.get("marker-end") == "url(#wb-arrow)"
    if x["type"] == "line":
        assert "marker-end" not in g[0].attrib
    if x["type"] in ("text", "sticky"):
        assert g[-1].text == x["text"], (g[-1].text, x["text"])
    if x["type"] == "rect":
        assert float(g[0].attrib["x"]) == x["x"] and float(g[0].attrib["width"]) == x["width"]
assert root.find(ns + "defs/" + ns + "marker").attrib["id"] == "wb-arrow"
EOF
}
check_svg "$T/a.svg" "$T/gen/expect/alpha-4.json" || fail "svg of alpha at the end"
seq1=$(python3 -c "import json; print(json.load(open('$T/gen/expect.json'))['checkpoints'][0]['seq'])")
expect_rc 0 "$WBCTL" export "$D" --board alpha --format svg --until "seq:$seq1"
check_svg "$T/out" "$T/gen/expect/alpha-1.json" || fail "svg of alpha at phase 1 (every type)"
grep -q 'data-type="ellipse"' "$T/out" || fail "phase 1 svg lacks the ellipse"
grep -q '&lt;plan&gt; &amp; &quot;goals&quot;' "$T/out" || fail "svg text not escaped"
expect_rc 0 "$WBCTL" export "$D" --board beta --format svg
check_svg "$T/out" "$T/gen/expect/beta-4.json" || fail "svg of beta"
expect_rc 1 "$WBCTL" export "$D" --board nosuch --format svg

# --- compact ----------------------------------------------------------------------------
C=$T/c
cp -a "$D" "$C"
ls "$C"/oplog/*.wbseg >"$T/before"
expect_rc 0 "$WBCTL" compact "$C" --dry-run --json
cp "$T/out" "$T/dry.json"
cmp -s "$T/before" <(ls "$C"/oplog/*.wbseg) || fail "compact --dry-run deleted files"
py '
segs=sorted(glob.glob(sys.argv[1]+"/oplog/*.wbseg"))
firsts=[int(os.path.basename(f)[:20]) for f in segs]
cps=e["checkpoints"]
keep=min(cps[2]["seq"]+1, cps[3]["seq"]+1)          # min snapshot pos + 1, applied + 1
assert o["keep_from"]==keep, (o["keep_from"], keep)
want=[segs[i] for i in range(len(segs)-1) if firsts[i+1]<=keep]
assert [s["file"] for s in o["segments"]]==want, (o["segments"], want)
assert len(want)>=1, "the data should let compact free something"
assert o["freed_bytes"]==sum(os.path.getsize(f) for f in want) and o["dry_run"] is True
' "$C" || fail "compact --dry-run: $(cat "$T/dry.json")"
expect_rc 1 flock -n "$C/oplog/LOCK" "$WBCTL" compact "$C"
grep -q "a node is running" "$T/err" || fail "compact under the lock: $(cat "$T/err")"
cmp -s "$T/before" <(ls "$C"/oplog/*.wbseg) || fail "refused compact deleted files"
expect_rc 0 flock -n "$C/oplog/LOCK" "$WBCTL" compact "$C" --dry-run
expect_rc 0 "$WBCTL" compact "$C" --json
py '
d=json.load(open(sys.argv[1]))
assert o["dry_run"] is False and o["segments"]==d["segments"] and o["freed_bytes"]==d["freed_bytes"]
for s in o["segments"]: assert not os.path.exists(s["file"]), s["file"]
' "$T/dry.json" || fail "compact: $(cat "$T/out")"
expect_rc 0 "$WBCTL" verify "$C/oplog"
for b in alpha beta gamma; do                       # the end state is intact
    expect_rc 0 "$WBCTL" restore "$C" --board $b
    cmp -s "$T/out" <(cat "$T/gen/expect/$b-4.json"; echo) || fail "restore $b after compact"
done
expect_rc 1 "$WBCTL" restore "$C" --board alpha --until "seq:$seq1"  # history gone
grep -q "no longer reaches" "$T/err" || fail "restore into compacted history: $(cat "$T/err")"
expect_rc 0 "$WBCTL" compact "$C"
grep -q "freed 0 segment" "$T/out" || fail "second compact freed more: $(cat "$T/out")"
# Retention keeps what is younger than N seconds.
cp -a "$D" "$T/r"
expect_rc 0 "$WBCTL" compact "$T/r" --retain-seconds 86400 --json
py 'assert o["segments"]==[] and o["limits"]["retain"]==1' || fail "retain 1 day: $(cat "$T/out")"
expect_rc 0 "$WBCTL" compact "$T/r" --retain-seconds 0 --json
py 'assert len(o["segments"])>=1' || fail "retain 0 s: $(cat "$T/out")"
# A bare oplog directory has no snapshots: nothing can go.
expect_rc 0 "$WBCTL" compact "$D/oplog" --dry-run --json
py 'assert o["segments"]==[] and o["keep_from"]==1' || fail "bare oplog dir: $(cat "$T/out")"

rm -rf "$T"
if ((fails)); then
    echo "test_wbctl_admin: $fails failure(s)"
    exit 1
fi
echo "test_wbctl_admin: ok"
