#!/usr/bin/env bash
# test_mirror_faults.sh BUILD_DIR SOURCE_DIR: issue 9 test 2 and the gap
# report. The Mongo TEST DOUBLE (tests/mongo_server.py) dies mid-bulk and
# restarts; the node is SIGKILLed mid-mirror and restarts; each time Mongo
# ends up with exactly the oplog's ops (no duplicate, none missing). Oplog
# segments removed before they were mirrored are reported as a gap.
# tests/mirror_faults.py does the work; only its own processes are killed.
set -uo pipefail
exec bash "$2/tests/mirror_run.sh" "$1" "$2" mirror_faults
