#!/usr/bin/env bash
# test_repl_gap.sh BUILD_DIR SOURCE_DIR: a node stopped longer than the
# stream retention reports the gap, repairs from a peer and converges (issue
# 8 test 4).
# The work is in tests/repl_cluster.py gap (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" gap
