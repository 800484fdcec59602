#!/usr/bin/env bash
# test_repl_kill.sh BUILD_DIR SOURCE_DIR: one node SIGKILLed mid-traffic
# and restarted: it converges, nothing acknowledged is lost (issue 8 test 3).
# The work is in tests/repl_cluster.py kill (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" kill
