#!/usr/bin/env bash
# test_web_browser.sh BUILD_DIR SOURCE_DIR: the web client (net/web/) in
# Debian's chromium, headless, driven by npm's playwright-core (installed by
# infra/deps.sh --test into tests/web/node_modules; no browser download),
# against a real whiteboardd on 127.0.0.1 that tests/web/browser.mjs starts,
# restarts with SIGTERM and with SIGKILL, and stops. Issue 5's list: two
# users draw together, cursors, undo/redo, reload, both restarts with an op
# drawn while the node is down delivered once, a viewer cannot draw, no
# uncaught page errors. Screenshots of both pages: BUILD_DIR/test-artifacts/.
# The trap stops only the whiteboardd PID the test wrote down.
set -uo pipefail
B=$1
S=$2
BIN=${WHITEBOARDD:-$B/net/whiteboardd}
[[ -x $BIN ]] || { echo "FAIL: $BIN not built"; exit 1; }
command -v node >/dev/null || { echo "FAIL: node missing"; exit 1; }
CHROMIUM=${WB_CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || { echo "FAIL: $CHROMIUM missing (infra/deps.sh --test installs chromium)"; exit 1; }
[[ -d $S/tests/web/node_modules/playwright-core ]] ||
    { echo "FAIL: playwright-core missing (infra/deps.sh --test installs it)"; exit 1; }
T=${WB_TEST_TMP:-$B/test-tmp}/web-browser-$$
ART=$B/test-artifacts
rm -rf "$T"
mkdir -p "$T" "$ART"
cleanup() {
    local pid
    pid=$(cat "$T/node.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
}
trap cleanup EXIT
rc=0
WB_CHROMIUM=$CHROMIUM timeout 330 node "$S/tests/web/browser.mjs" "$BIN" "$S" "$T" "$ART" || rc=1
if [[ $rc -ne 0 ]]; then
    echo "FAIL: node log (last 30 lines):"
    tail -30 "$T/node.log" 2>/dev/null
    exit 1
fi
rm -rf "$T"
echo "PASS"
