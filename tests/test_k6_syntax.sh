#!/usr/bin/env bash
# test_k6_syntax.sh BUILD_DIR SOURCE_DIR: infra/k6/socket-load.js parses as
# an ES module (k6 itself is not installed here: `node --check` on a .mjs
# copy checks the syntax, not the k6 APIs) and has what `k6 run` needs:
# options, setup and a default function, the wb.v1 subprotocol. Then the
# script's protocol code (token minting, hello, op frames, frame reader) runs
# under Node against a real whiteboardd (tests/k6_check.mjs): every op frame
# it builds is acked and broadcast. Only the PID started here is signalled.
set -uo pipefail
B=$1
S=$2
T=${WB_TEST_TMP:-$B/test-tmp}/k6-syntax-$$
rm -rf "$T"
mkdir -p "$T"
source "$S/tests/shtest.sh"
command -v node >/dev/null || { echo "FAIL: node missing"; exit 1; }
SCRIPT=$S/infra/k6/socket-load.js
[[ -f $SCRIPT ]] || { echo "FAIL: $SCRIPT missing"; exit 1; }
cp "$SCRIPT" "$T/socket-load.mjs"
expect_rc 0 node --check "$T/socket-load.mjs"
# a broken copy must fail the same check (the check can fail)
sed 's/export default function (data) {/export default function (data) {{/' \
    "$SCRIPT" >"$T/broken.mjs"
expect_rc 1 node --check "$T/broken.mjs"
for want in "export const options" "export function setup" \
    "export default function" "'Sec-WebSocket-Protocol': 'wb.v1'" \
    "from 'k6/ws'"; do
    grep -qF "$want" "$SCRIPT" || fail "socket-load.js lacks: $want"
done

WBD=$B/net/whiteboardd
if [[ -x $WBD ]]; then
    SECRET=k6-check-secret-0123456789abcdefghijklmnop
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    JWT_SECRET=$SECRET "$WBD" --data-dir "$T/data" --listen "127.0.0.1:$PORT" \
        --log-level warn >"$T/node.out" 2>"$T/node.log" &
    NODE=$!
    trap 'kill -TERM $NODE 2>/dev/null' EXIT
    for _ in $(seq 1 600); do
        grep -q "listening on" "$T/node.out" 2>/dev/null && break
        kill -0 $NODE 2>/dev/null || break
        sleep 0.1
    done
    timeout 120 node --experimental-websocket --no-warnings "$S/tests/k6_check.mjs" \
        "$SCRIPT" "ws://127.0.0.1:$PORT" "$SECRET" || fail "k6 script frames"
    kill -TERM $NODE
    wait $NODE || fail "whiteboardd exit status"
    trap - EXIT
else
    fail "$WBD not built"
fi
((fails)) && exit 1
rm -rf "$T"
echo "PASS"
