#!/usr/bin/env bash
# test_repl_ws.sh BUILD_DIR SOURCE_DIR: a WebSocket client moves from node
# A to node B with its version token: missed ops exactly once, its resends
# apply once (issue 8 test 5).
# The work is in tests/repl_cluster.py ws (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" ws
