#!/usr/bin/env bash
# test_repl_converge.sh BUILD_DIR SOURCE_DIR: clients on every node write
# concurrently to the same boards; all nodes end with identical boards equal
# to the LWW merge of every logged op (issue 8 test 1).
# The work is in tests/repl_cluster.py converge (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" converge
