#!/usr/bin/env bash
# test_web_codec.sh BUILD_DIR SOURCE_DIR: the web client's codec
# (net/web/codec.js) against the C codec's vectors (tests/vectors/ops.vectors)
# and the frame examples of docs/protocol.md 2.5, and its board model
# (net/web/model.js: merge rule, convergence, pending overlay, z indices),
# run with Node (>= 18).
set -uo pipefail
S=$2
command -v node >/dev/null || { echo "FAIL: node missing"; exit 1; }
rc=0
node "$S/tests/web/codec_vectors.mjs" "$S" || { echo "FAIL: codec vectors"; rc=1; }
node "$S/tests/web/model_test.mjs" || { echo "FAIL: board model"; rc=1; }
[[ $rc -eq 0 ]] || exit 1
echo "PASS"
