#!/usr/bin/env bash
# test_mirror_export.sh BUILD_DIR SOURCE_DIR: issue 9 tests 1 and 3. A real
# whiteboardd mirrors into tests/mongo_server.py (a MongoDB-wire TEST
# DOUBLE on python3-mockupdb + python3-mongomock; production uses MongoDB):
# op, snapshot and board documents with their BSON types, counts equal to
# the oplog's, indexes, metrics; and the analytics queries of docs/mongo.md
# against answers computed from the oplog. tests/mirror_export.py does the
# work; only the processes it starts are signalled.
set -uo pipefail
B=$1
S=$2
exec bash "$S/tests/mirror_run.sh" "$B" "$S" mirror_export
