#!/usr/bin/env bash
# test_wbctl_api.sh BUILD_DIR SOURCE_DIR: `wbctl seed` and `wbctl snapshot
# take` against real whiteboardd nodes (127.0.0.1, free ports, temporary
# data dirs) and against fake servers for the HTTP client's error paths,
# driven by tests/wbctl_node.py (part "api"). Only the PIDs it starts are
# signalled.
# The body is tests/wbctl_node_run.sh.
set -uo pipefail
exec bash "$2/tests/wbctl_node_run.sh" "$1" "$2" wbctl_api api
