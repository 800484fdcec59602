#!/usr/bin/env bash
# test_node_ws.sh BUILD_DIR SOURCE_DIR: a real whiteboardd on 127.0.0.1 (free
# port, temporary data dir) driven over WebSocket by tests/node_ws.mjs with
# Node's built-in WebSocket client (no npm package): hello/welcome, ops ->
# acks -> broadcast, presence, viewer refused, resume with exactly the missed
# batches, resync for a token pushed out of the resume ring, idempotent
# resend, refused tokens with their close codes, malformed frames answered
# with typed errors while the node keeps serving, oversized frame, foreign
# Origin, metrics; then SIGTERM -> exit 0. A second node with a low
# per-connection op rate takes a flood: typed rate_limited acks, only the
# accepted batches broadcast, --presence-rate holds back a burst of cursor
# frames, the node keeps serving. The main node runs lws on its epoll
# (libev) loop, the flood node on lws's poll loop (WB_LWS_POLL=1): both
# loops are exercised; /proc/PID/fd shows which one runs.
# Only the PID this script starts is signalled.
set -uo pipefail
B=$1
S=$2
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
command -v node >/dev/null || { echo "FAIL: node (>= 20) missing"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/node-ws-$$
rm -rf "$T"
mkdir -p "$T"
SECRET=ws-test-secret-0123456789abcdefghijklmnop
# run_node NAME MODE FLAGS...: one whiteboardd, the client in MODE, SIGTERM.
run_node() {
    local name=$1 mode=$2
    shift 2
    local port rc=0 code
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    JWT_SECRET=$SECRET WB_GUEST=off "$BIN" --data-dir "$T/$name" --listen "127.0.0.1:$port" \
        "$@" --log-level warn >"$T/$name.stdout" 2>>"$T/node.log" &
    local pid=$!
    for _ in $(seq 1 600); do # up to 60 s (ASan builds start slower)
        grep -q "listening on" "$T/$name.stdout" 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    local epfd
    epfd=$(ls -l /proc/$pid/fd 2>/dev/null | grep -c eventpoll)
    if [[ -n ${WB_LWS_POLL:-} && $epfd -ne 0 ]] || [[ -z ${WB_LWS_POLL:-} && $epfd -eq 0 ]]; then
        echo "FAIL: $name: event loop (eventpoll fds: $epfd, WB_LWS_POLL=${WB_LWS_POLL:-})"
        rc=1
    fi
    if ! grep -q "listening on" "$T/$name.stdout"; then
        echo "FAIL: $name: whiteboardd did not start"
        rc=1
    else
        timeout 300 node --experimental-websocket --no-warnings "$S/tests/node_ws.mjs" \
            "ws://127.0.0.1:$port/ws" "$SECRET" "$mode" || rc=1
    fi
    if kill -0 $pid 2>/dev/null; then
        kill -TERM $pid
        for _ in $(seq 1 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
        if kill -0 $pid 2>/dev/null; then
            echo "FAIL: $name: whiteboardd still running 60 s after SIGTERM"
            kill -KILL $pid
            rc=$((rc + 1))
        fi
    fi
    wait $pid
    code=$?
    if [[ $code -ne 0 ]]; then
        echo "FAIL: $name: whiteboardd exited with $code"
        rc=$((rc + 1))
    fi
    return $rc
}

rc=0
run_node main main --rate-conn 0 --rate-user 0 || rc=$((rc + 1))
WB_LWS_POLL=1 run_node flood flood --rate-conn 5 --rate-conn-burst 5 --presence-rate 3 || rc=$((rc + 1))
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log"; then
    echo "FAIL: sanitizer report in the node log:"
    grep -E -A5 "runtime error|AddressSanitizer|LeakSanitizer" "$T/node.log" | head -30
    rc=$((rc + 1))
fi
if [[ $rc -ne 0 ]]; then
    echo "FAIL: node log (last 30 lines):"
    tail -30 "$T/node.log"
    exit 1
fi
rm -rf "$T"
echo "PASS"
