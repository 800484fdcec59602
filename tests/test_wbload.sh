#!/usr/bin/env bash
# test_wbload.sh BUILD_DIR SOURCE_DIR: wb-load's correctness (not speed)
# against a real whiteboardd on 127.0.0.1 (free port, temporary data dir,
# rate limits off, tokens minted from JWT_SECRET) and against wb-relay.
# Light loads of 1-2 s; the JSON is checked for what must hold at any
# speed: every op sent is acked, every broadcast reaches every other client
# of its room (delivery ratio exactly 1), the histograms count every sample,
# the open-loop schedule accounts for every slot (sent + missed), no errors;
# idle reads the server's RSS; join loads the whole board; presence frames
# arrive; a bad token is refused (exit 1). No timing thresholds.
# Only the PIDs this script starts are signalled.
set -uo pipefail
B=$1
S=$2
T=${WB_TEST_TMP:-$B/test-tmp}/wbload-$$
rm -rf "$T"
mkdir -p "$T"
source "$S/tests/shtest.sh"
WBD=$B/net/whiteboardd
WBL=$B/tools/wb-load
RELAY=$B/tools/wb-relay
for x in "$WBD" "$WBL" "$RELAY"; do
    [[ -x $x ]] || { echo "FAIL: $x not built"; exit 1; }
done
export JWT_SECRET=wbload-test-secret-0123456789abcdefghijkl
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
}
trap cleanup EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_listen() { # FILE PID
    for _ in $(seq 1 600); do
        grep -q "listening on" "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# check NAME FILE PYTHON-ASSERTIONS: j is the JSON object of wb-load's output
check() {
    local name=$1 file=$2 code=$3
    if ! python3 - "$file" "$code" <<'EOF'; then
import json, sys
j = json.load(open(sys.argv[1]))
env = {"j": j}
for line in sys.argv[2].strip().splitlines():
    line = line.strip()
    if not line:
        continue
    if not eval(line, env):
        print("  assertion failed:", line)
        print("  json:", json.dumps(j)[:1500])
        sys.exit(1)
EOF
        fail "$name"
    fi
}

# Conditions for every writing workload: acks, deliveries, bookkeeping.
COMMON='
j["errors_total"] == 0
j["joined"] == j["connections"]
j["ops_sent"] > 0
j["acked_ops"] == j["ops_sent"]
j["ack_count"] == j["acked_ops"]
j["deliveries_expected"] > 0
j["deliveries"] == j["deliveries_expected"]
j["delivery_ratio"] == 1.0
j["broadcast_count"] == j["deliveries"]
j["self_echoes"] == j["ops_sent"]
j["broadcast_p50_ms"] is not None and 0 <= j["broadcast_p50_ms"] <= j["broadcast_p99_ms"] <= j["broadcast_max_ms"]
j["ack_p50_ms"] is not None and 0 <= j["ack_p50_ms"] <= j["ack_p99_ms"] <= j["ack_max_ms"]
j["generator_cpu_s"] >= 0
'

run_loads() { # LABEL URL EXTRA-FLAGS...
    local label=$1 url=$2
    shift 2
    # rooms: 2 rooms x 3 clients x 20 ops/s for 2 s = 240 slots
    expect_rc 0 timeout 120 "$WBL" rooms --url "$url" --rooms 2 --clients 3 \
        --rate 20 --duration 2 --drain 10 --threads 2 --json "$@"
    cp "$T/out" "$T/$label-rooms.json"
    check "$label rooms" "$T/$label-rooms.json" "$COMMON
j['workload'] == 'rooms' and j['connections'] == 6 and j['writers'] == 6
j['deliveries_expected'] == 2 * j['ops_sent']
j['ops_sent'] + j['ops_missed_slots'] == 240
"
    # bigroom: 1 room of 5, 2 writers at 10 ops/s
    expect_rc 0 timeout 120 "$WBL" bigroom --url "$url" --clients 5 --writers 2 \
        --rate 10 --duration 2 --drain 10 --json "$@"
    cp "$T/out" "$T/$label-bigroom.json"
    check "$label bigroom" "$T/$label-bigroom.json" "$COMMON
j['connections'] == 5 and j['writers'] == 2
j['deliveries_expected'] == 4 * j['ops_sent']
"
    # --max-ops bounds the run in count
    expect_rc 0 timeout 120 "$WBL" rooms --url "$url" --rooms 1 --clients 2 \
        --rate 50 --duration 5 --max-ops 20 --drain 10 --json "$@"
    cp "$T/out" "$T/$label-maxops.json"
    check "$label max-ops" "$T/$label-maxops.json" "$COMMON
j['ops_sent'] == 20
"
    # presence under the node's 20/s presence limit: every frame arrives
    expect_rc 0 timeout 120 "$WBL" presence --url "$url" --rooms 1 --clients 3 \
        --rate 2 --presence-hz 5 --duration 2 --drain 10 --json "$@"
    cp "$T/out" "$T/$label-presence.json"
    check "$label presence" "$T/$label-presence.json" "$COMMON
j['presence_sent'] > 0
j['presence_expected'] == 2 * j['presence_sent']
j['presence_received'] == j['presence_expected']
j['presence_count'] == j['presence_received']
"
}

# ---- against whiteboardd -----------------------------------------------------
PORT=$(free_port)
"$WBD" --data-dir "$T/data" --listen "127.0.0.1:$PORT" --rate-conn 0 \
    --rate-user 0 --rate-ip 0 --guest on --log-level warn >"$T/node.out" 2>"$T/node.log" &
NODE=$!
PIDS+=($NODE)
if ! wait_listen "$T/node.out" $NODE; then
    echo "FAIL: whiteboardd did not start"
    tail -20 "$T/node.log"
    exit 1
fi
for _ in $(seq 1 600); do # the API answers 503 until recovery is done
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done
URL=ws://127.0.0.1:$PORT
run_loads node "$URL" --server-pid $NODE
check "node rooms server CPU" "$T/node-rooms.json" '
j["server_cpu_s"] > 0 and j["server_cpu_us_per_op"] > 0
'

# idle: 20 connections over 4 rooms; RSS from /proc and from /metrics
expect_rc 0 timeout 120 "$WBL" idle --url "$URL" --clients 20 --rooms 4 \
    --duration 1 --server-pid $NODE --json
cp "$T/out" "$T/idle.json"
check "idle (proc)" "$T/idle.json" '
j["errors_total"] == 0 and j["joined"] == 20 and j["ops_sent"] == 0
j["server_rss_before_bytes"] > 0 and j["server_rss_after_bytes"] > 0
j["server_rss_per_conn_bytes"] is not None
abs(j["server_rss_per_conn_bytes"] * 20 - (j["server_rss_after_bytes"] - j["server_rss_before_bytes"])) < 1
'
expect_rc 0 timeout 120 "$WBL" idle --url "$URL" --clients 10 --rooms 2 \
    --duration 1 --json
cp "$T/out" "$T/idle-metrics.json"
check "idle (metrics)" "$T/idle-metrics.json" '
j["joined"] == 10 and j["server_rss_after_bytes"] > 0
'

# join: a board of 300 elements, 3 fresh clients load it whole (the element
# count of the decoded state is checked by wb-load: join_incomplete)
expect_rc 0 timeout 120 "$WBL" join --url "$URL" --elements 300 --clients 3 --json
cp "$T/out" "$T/join.json"
check "join" "$T/join.json" '
j["errors_total"] == 0 and j["errors"]["join_incomplete"] == 0
j["join_count"] == 3 and j["join_recv_count"] == 3 and j["elements"] == 300
0 < j["join_recv_p50_ms"] <= j["join_p50_ms"]
'

# guest sign-in when there is no JWT_SECRET (the node allows guests here)
expect_rc 0 env -u JWT_SECRET timeout 120 "$WBL" rooms --url "$URL" --rooms 1 \
    --clients 3 --rate 10 --duration 1 --drain 10 --json
cp "$T/out" "$T/node-guest.json"
check "guest tokens" "$T/node-guest.json" "$COMMON"

# a bad token: nobody is welcomed, exit 1
expect_rc 1 timeout 120 "$WBL" rooms --url "$URL" --rooms 1 --clients 2 \
    --duration 1 --token not-a-token --boards nosuchboard --json

# the node counted what wb-load sent
curl -s "http://127.0.0.1:$PORT/metrics" >"$T/metrics"
python3 - "$T/metrics" "$T"/node-*.json <<'EOF' || fail "node metrics"
import json, re, sys
m = open(sys.argv[1]).read()
got = sum(float(v) for v in re.findall(r'^ws_messages_total\{dir="in"\} (\S+)$', m, re.M))
sent = sum(json.load(open(f))["ops_sent"] for f in sys.argv[2:])
if got < sent:
    print(f"  ws_messages_total in = {got} < ops sent {sent}")
    sys.exit(1)
EOF

kill -TERM $NODE
wait $NODE
code=$?
[[ $code -eq 0 ]] || fail "whiteboardd exited with $code"
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log"; then
    fail "sanitizer report in the node log"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" | head -30
fi

# ---- against wb-relay -----------------------------------------------------------
PORT=$(free_port)
"$RELAY" --listen "127.0.0.1:$PORT" >"$T/relay.out" 2>"$T/relay.log" &
RELAYPID=$!
PIDS+=($RELAYPID)
if ! wait_listen "$T/relay.out" $RELAYPID; then
    echo "FAIL: wb-relay did not start"
    exit 1
fi
run_loads relay "ws://127.0.0.1:$PORT" --no-setup
expect_rc 0 timeout 120 "$WBL" idle --url "ws://127.0.0.1:$PORT" --no-setup \
    --clients 20 --rooms 4 --duration 1 --server-pid $RELAYPID --json
cp "$T/out" "$T/relay-idle.json"
check "relay idle" "$T/relay-idle.json" '
j["errors_total"] == 0 and j["joined"] == 20 and j["server_rss_after_bytes"] > 0
'
kill -TERM $RELAYPID
wait $RELAYPID
code=$?
[[ $code -eq 0 ]] || fail "wb-relay exited with $code"
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/relay.log"; then
    fail "sanitizer report in the relay log"
    head -30 "$T/relay.log"
fi
PIDS=()

if ((fails)); then
    echo "FAIL: $fails check(s) failed (files in $T)"
    exit 1
fi
rm -rf "$T"
echo "PASS"
