#!/usr/bin/env bash
# infra/deps.sh: install what building (and, with --test, testing) needs.
# Debian 12, as root. Idempotent: installs only what is missing.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build pkg-config clang
            liburing-dev liblmdb-dev libzstd-dev libxxhash-dev
            libssl-dev libjansson-dev libwebsockets-dev
            libhiredis-dev
            libmongoc-dev libbson-dev)
TEST_PKGS=(libclang-rt-14-dev lmdb-utils curl python3 util-linux bsdutils
           prometheus # promtool: test_node_http checks /metrics
           redis-server # test_repl_*: real Redis for replication
           python3-mockupdb python3-mongomock # tests/mongo_server.py (test_mirror_*)
           python3-yaml) # test_infra_yaml: compose and k8s manifests

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
    want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: ok"
