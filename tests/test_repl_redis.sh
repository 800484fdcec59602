#!/usr/bin/env bash
# test_repl_redis.sh BUILD_DIR SOURCE_DIR: Redis killed mid-traffic and
# restarted, with and then without its data: local writes keep being acked,
# then the nodes converge (issue 8 test 2).
# The work is in tests/repl_cluster.py redis (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" redis
