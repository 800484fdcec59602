#!/usr/bin/env bash
# test_repl_latency.sh BUILD_DIR SOURCE_DIR: cross-node latency of an op
# and of presence, printed as p50/p99 (issue 8 test 6).
# The work is in tests/repl_cluster.py latency (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" latency
