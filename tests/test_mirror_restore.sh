#!/usr/bin/env bash
# test_mirror_restore.sh BUILD_DIR SOURCE_DIR: issue 9 test 4. wbctl
# restore --from-mongo (from tests/mongo_server.py, a MongoDB-wire TEST
# DOUBLE) equals the local wbctl restore at several seqs and times, for
# inline and chunked snapshot documents, and --into writes a data directory
# with the same state. tests/mirror_restore.py does the work.
set -uo pipefail
exec bash "$2/tests/mirror_run.sh" "$1" "$2" mirror_restore
