#!/usr/bin/env bash
# test_repl_rotate.sh BUILD_DIR SOURCE_DIR: a gap repaired while a JWT
# secret rotation is half rolled out (the returning node has the new secret
# and the old one as JWT_SECRET_PREVIOUS, its peers only the old one).
# The work is in tests/repl_cluster.py rotate (run by tests/repl_run.sh).
set -uo pipefail
exec bash "$2/tests/repl_run.sh" "$1" "$2" rotate
