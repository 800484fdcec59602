#!/usr/bin/env bash
# test_mirror_cluster.sh BUILD_DIR SOURCE_DIR: two whiteboardd nodes
# replicating through a real redis-server, one mirroring its own ops, one
# with --mirror-all, both into the Mongo TEST DOUBLE (tests/mongo_server.py):
# every op of the cluster is in Mongo exactly once. tests/mirror_cluster.py
# does the work; only its own processes are killed.
set -uo pipefail
command -v redis-server >/dev/null ||
    { echo "FAIL: redis-server missing (infra/deps.sh --test)"; exit 1; }
exec bash "$2/tests/mirror_run.sh" "$1" "$2" mirror_cluster
