#!/usr/bin/env bash
# test_wbctl_node.sh BUILD_DIR SOURCE_DIR: wbctl against a real whiteboardd
# (127.0.0.1, free port, temporary data dir), driven by tests/wbctl_node.py:
# tokens from `wbctl token` accepted (tampered ones not), restore by seq and
# by time equal to what the API served at that point while the node runs,
# compact refused beside it, and a fork made after SIGTERM served by the
# restarted node. Only the PIDs the script starts are signalled.
# The body is tests/wbctl_node_run.sh.
set -uo pipefail
exec bash "$2/tests/wbctl_node_run.sh" "$1" "$2" wbctl_node
