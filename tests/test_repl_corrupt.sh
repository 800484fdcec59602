#!/usr/bin/env bash
# test_repl_corrupt.sh BUILD_DIR SOURCE_DIR: stream entries, metadata and
# heartbeats no node wrote are logged and skipped; the nodes stay up and
# converge.
# The work is in tests/repl_cluster.py corrupt (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" corrupt
