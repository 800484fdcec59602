#!/usr/bin/env bash
# test_wbctl_runbook.sh BUILD_DIR SOURCE_DIR: every `wbctl` command of
# docs/runbook.md (lines starting with "wbctl " inside ```bash blocks) runs,
# in document order, against engine data made by
# `tests/test_wbctl_data --make-engine-data`, with the runbook's variables
# set ($DATA, $BOARD, $WHEN, $SEQ, $OUT, $SCRATCH, $SECRET_FILE), and exits
# 0; then the files the restore commands wrote are compared with the states
# the engine recorded, and the fork and the --into copy are restored back.
# So the runbook's commands cannot rot.
set -uo pipefail
B=$1
S=$2
WBCTL=$B/tools/wbctl
GEN=$B/tests/test_wbctl_data
T=${WB_TEST_TMP:-/tmp}/wbctl-runbook-$$
rm -rf "$T"
mkdir -p "$T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ex() { python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print($1)" "$T/gen/expect.json"; }

[[ -x $WBCTL && -x $GEN ]] || { echo "FAIL: wbctl or test_wbctl_data not built"; exit 1; }
"$GEN" --make-engine-data "$T/gen" >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; echo "FAIL: make-engine-data"; exit 1; }

python3 - "$S/docs/runbook.md" >"$T/commands" <<'EOF'
import sys
inside = False
for line in open(sys.argv[1]):
    s = line.strip()
    if s.startswith("```"):
        inside = s == "```bash" if not inside else False
        continue
    if inside and s.startswith("wbctl "):
        print(s)
EOF
n=$(wc -l <"$T/commands")
[[ $n -ge 15 ]] || fail "want the runbook's wbctl commands, found $n"

export DATA=$T/gen/data BOARD=alpha OUT=$T/out SCRATCH=$T/scratch
export SECRET_FILE=$T/secret
mkdir -p "$OUT"
printf '%s\n' "runbook-test-secret-0123456789abcdef" >"$SECRET_FILE"
tus=$(ex "e['checkpoints'][2]['time_us']")
export WHEN
WHEN=$(python3 -c "import datetime,sys; t=int(sys.argv[1]); print(datetime.datetime.fromtimestamp(t//1000000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S') + '.%06dZ' % (t%1000000))" "$tus")
export SEQ
SEQ=$(ex "e['checkpoints'][1]['seq']")

i=0
while IFS= read -r line; do
    i=$((i + 1))
    cmd="\"\$WBCTL\" ${line#wbctl }"
    if ! eval "$cmd" >"$T/cmd.out" 2>"$T/cmd.err"; then
        fail "runbook command $i exited non-zero: $line"
        sed 's/^/  /' "$T/cmd.err" | head -5
    fi
done <"$T/commands"

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

rm -rf "$T"
if ((fails)); then
    echo "test_wbctl_runbook: $fails failure(s)"
    exit 1
fi
echo "test_wbctl_runbook: ok ($n commands)"
