#!/usr/bin/env bash
# test_wbctl_runbook.sh BUILD_DIR SOURCE_DIR: every line of every ```bash
# block of docs/RUNBOOK.md runs and exits 0, so the runbook cannot rot.
#
#   Offline blocks (no $URL or $TOKEN in them; only `wbctl` lines) run in
#   document order against engine data made by
#   `tests/test_wbctl_data --make-engine-data`, with the runbook's variables
#   set ($DATA, $BOARD=alpha, $WHEN, $SEQ, $OUT, $SCRATCH, $SECRET_FILE);
#   then the files the restore commands wrote are compared with the states
#   the engine recorded, and the fork and the --into copy are restored back.
#
#   Node blocks (they use $URL or $TOKEN: wbctl, curl, VAR=$(...) lines) run
#   in document order in this shell against a real whiteboardd started here
#   (127.0.0.1, free port, JWT_SECRET from $SECRET_FILE), with $DATA its data
#   directory and $BOARD a board seeded there; then what they wrote is
#   checked (the board served equals the board restored from disk, stats
#   and metrics captured, the seeded boards exist).
#
# ```sh blocks (Docker, Kubernetes, process control) are not run; a ```bash
# line of another kind fails the test, so nothing in them is skipped. Only
# the node started here is signalled, by PID.
set -uo pipefail
B=$1
S=$2
WBCTL=$B/tools/wbctl
GEN=$B/tests/test_wbctl_data
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
T=${WB_TEST_TMP:-/tmp}/wbctl-runbook-$$
rm -rf "$T"
mkdir -p "$T"
# shellcheck source=shtest.sh
source "$(dirname "$0")/shtest.sh"
ex() { python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print($1)" "$T/gen/expect.json"; }
wbctl() { "$WBCTL" "$@"; }
node_pid=
cleanup() {
    if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill -KILL "$node_pid" 2>/dev/null
        wait "$node_pid" 2>/dev/null
    fi
}
trap cleanup EXIT

[[ -x $WBCTL && -x $GEN && -x $BIN ]] || { echo "FAIL: wbctl, test_wbctl_data or whiteboardd not built"; exit 1; }
"$GEN" --make-engine-data "$T/gen" >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; echo "FAIL: make-engine-data"; exit 1; }

# Split the runbook: offline lines (one per line of $T/offline), the node
# blocks as a script ($T/node.sh: each line run, its exit status checked),
# and the lines that fit neither ($T/bad).
python3 - "$S/docs/RUNBOOK.md" "$T" <<'EOF'
import re, shlex, sys
doc, t = sys.argv[1], sys.argv[2]
blocks, cur, lang = [], None, None
for line in open(doc):
    s = line.rstrip("\n")
    if s.strip().startswith("```"):
        if cur is None:
            lang, cur = s.strip()[3:].strip(), []
        else:
            blocks.append((lang, cur))
            cur = None
        continue
    if cur is not None:
        cur.append(s)
offline, node, bad, sh = [], [], [], 0
for lang, lines in blocks:
    if lang == "sh":
        sh += 1
    if lang != "bash":
        continue
    joined, acc = [], ""
    for l in lines:
        acc += l.strip()
        if acc.endswith("\\"):
            acc = acc[:-1] + " "
            continue
        if acc and not acc.startswith("#"):
            joined.append(acc)
        acc = ""
    if any("$URL" in l or "$TOKEN" in l for l in joined):
        for l in joined:
            ok = re.match(r"(wbctl|curl) |[A-Z_]+=\$\((wbctl|curl) ", l)
            (node if ok else bad).append(l)
    else:
        for l in joined:
            (offline if l.startswith("wbctl ") else bad).append(l)
open(t + "/offline", "w").write("".join(l + "\n" for l in offline))
open(t + "/bad", "w").write("".join(l + "\n" for l in bad))
with open(t + "/node.sh", "w") as f:
    for i, l in enumerate(node, 1):
        f.write("echo %s >>\"$T/node-cmds.log\"\n" % shlex.quote("+ " + l))
        f.write("{ %s\n} >>\"$T/node-cmds.log\" 2>&1\n" % l)
        f.write("rc=$?; [[ $rc -eq 0 ]] || fail %s\"exited $rc\"\n" %
                shlex.quote("runbook node command %d: %s: " % (i, l)))
    f.write("node_cmds=%d\n" % len(node))
print("runbook: %d offline lines, %d node lines, %d sh blocks not run" %
      (len(offline), len(node), sh))
EOF
if [[ -s $T/bad ]]; then
    fail "runbook bash lines that are neither wbctl offline nor node commands:"
    sed 's/^/  /' "$T/bad"
fi
n=$(wc -l <"$T/offline")
[[ $n -ge 15 ]] || fail "want the runbook's offline wbctl commands, found $n"

# --- offline blocks --------------------------------------------------------------
export DATA=$T/gen/data BOARD=alpha OUT=$T/out SCRATCH=$T/scratch
export SECRET_FILE=$T/secret
mkdir -p "$OUT"
printf '%s\n' "runbook-test-secret-0123456789abcdef" >"$SECRET_FILE"
chmod 600 "$SECRET_FILE"
tus=$(ex "e['checkpoints'][2]['time_us']")
export WHEN
WHEN=$(python3 -c "import datetime,sys; t=int(sys.argv[1]); print(datetime.datetime.fromtimestamp(t//1000000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S') + '.%06dZ' % (t%1000000))" "$tus")
export SEQ
SEQ=$(ex "e['checkpoints'][1]['seq']")

i=0
while IFS= read -r line; do
    i=$((i + 1))
    if ! eval "$line" >"$T/cmd.out" 2>"$T/cmd.err"; then
        fail "runbook command $i exited non-zero: $line"
        sed 's/^/  /' "$T/cmd.err" | head -5
    fi
done <"$T/offline"

same() { cmp -s "$1" <(cat "$2"; echo) || fail "$1 is not $2"; }
same "$OUT/board.json" "$(ex "e['checkpoints'][3]['boards']['alpha']['json']")"
same "$OUT/at-snapshot.json" "$(ex "e['checkpoints'][3]['boards']['alpha']['json']")"
same "$OUT/before-incident.json" "$(ex "e['checkpoints'][2]['boards']['alpha']['json']")"
same "$OUT/at-seq.json" "$(ex "e['checkpoints'][1]['boards']['alpha']['json']")"
"$WBCTL" restore "$DATA" --board alpha-restored >"$T/fork.json" 2>/dev/null || fail "the fork does not restore"
"$WBCTL" restore "$SCRATCH" --board alpha >"$T/scratch.json" 2>/dev/null || fail "the --into copy does not restore"
same "$T/scratch.json" "$(ex "e['checkpoints'][2]['boards']['alpha']['json']")"
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a['id']=='alpha-restored' and a['elements']==b['elements']" \
    "$T/fork.json" "$(ex "e['checkpoints'][2]['boards']['alpha']['json']")" || fail "the fork is not alpha at the incident time"
"$WBCTL" export "$DATA" --board alpha --format svg --until "$WHEN" >"$T/svg" 2>/dev/null
cmp -s "$T/svg" "$OUT/before-incident.svg" || fail "the runbook's export is not the board at the incident time"

# --- node blocks -------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -u JWT_SECRET_PREVIOUS JWT_SECRET="$(cat "$SECRET_FILE")" WB_GUEST=off \
    "$BIN" --data-dir "$T/node-data" --listen "127.0.0.1:$port" --log-level warn \
    >"$T/node.out" 2>"$T/node.log" &
node_pid=$!
export URL=http://127.0.0.1:$port DATA=$T/node-data OUT=$T/out-node
mkdir -p "$OUT"
for ((k = 0; k < 600; k++)); do
    curl -fsS "$URL/readyz" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fsS "$URL/readyz" >/dev/null 2>&1 || fail "the node did not become ready: $(tail -5 "$T/node.log")"
BOARD=$("$WBCTL" seed --url "$URL" --secret-file "$SECRET_FILE" --boards 1 --elements 40 --json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["boards"][0]["id"])')
[[ -n $BOARD ]] || fail "could not seed a board for the node blocks"
export BOARD
node_cmds=0
# shellcheck disable=SC1091
source "$T/node.sh"
[[ $node_cmds -ge 10 ]] || fail "want the runbook's node commands, found $node_cmds"

python3 - "$OUT" "$BOARD" <<'EOF' || fail "node blocks wrote what they should not: see above"
import json, sys
out, board = sys.argv[1], sys.argv[2]
served = json.load(open(out + "/after-restart.json"))
disk = json.load(open(out + "/from-disk.json"))
assert len(served["elements"]) == 40, len(served["elements"])
assert served["elements"] == disk["elements"], "served board differs from the restore"
assert served["version"] == disk["version"], (served["version"], disk["version"])
stats = json.load(open(out + "/stats.json"))
assert board in stats["boards"]["ids"], stats["boards"]
metrics = open(out + "/metrics.txt").read()
assert "\nevents_total{" in metrics or metrics.startswith("events_total{"), "no events_total"
EOF
TOK=$("$WBCTL" token --secret-file "$SECRET_FILE" --user check --all-boards viewer 2>/dev/null | tail -n 1)
nb=$(curl -fsS -H "Authorization: Bearer $TOK" "$URL/api/v1/boards" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["boards"]))')
((nb >= 5)) || fail "the runbook's seed commands made $nb boards in all, want at least 5"
kill -TERM "$node_pid"
wait "$node_pid"
rc=$?
node_pid=
[[ $rc -eq 0 ]] || fail "node exit status $rc after SIGTERM"
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log"; then
    fail "sanitizer report in the node log"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" | head -20
fi
if ((fails)); then
    echo "node command log (last 30 lines):"
    tail -30 "$T/node-cmds.log" 2>/dev/null
    echo "test_wbctl_runbook: $fails failure(s)"
    exit 1
fi
rm -rf "$T"
echo "test_wbctl_runbook: ok ($n offline commands, $node_cmds node commands)"
