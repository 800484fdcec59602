#!/usr/bin/env bash
# test_mirror_latency.sh BUILD_DIR SOURCE_DIR: issue 9 test 5. The op path's
# latency with Mongo refused or a Mongo that never answers, beside a node
# without a mirror and one mirroring into the TEST DOUBLE
# (tests/mongo_server.py); figures printed, every op acked, no op waits on
# Mongo. tests/mirror_latency.py does the work.
set -uo pipefail
exec bash "$2/tests/mirror_run.sh" "$1" "$2" mirror_latency
