#!/usr/bin/env bash
# infra/deps.sh: install what building (and, with --test, testing) needs.
# Debian 12, as root. Idempotent: installs only what is missing.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build pkg-config clang
            liburing-dev liblmdb-dev libzstd-dev libxxhash-dev
            libssl-dev libjansson-dev libwebsockets-dev libev-dev
            libhiredis-dev
            libmongoc-dev libbson-dev)
TEST_PKGS=(libclang-rt-14-dev lmdb-utils curl python3 util-linux bsdutils
           prometheus # promtool: test_node_http checks /metrics
           redis-server # test_repl_*: real Redis for replication
           python3-mockupdb python3-mongomock # tests/mongo_server.py (test_mirror_*)
           python3-yaml # test_infra_yaml: compose and k8s manifests
           chromium nodejs) # test_web_browser: the web client in a real browser

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
# The browser tests' driver (npm playwright-core, an exact version pinned in
# tests/web/package.json; it uses Debian's chromium, never downloads one).
if [[ "${1:-}" == "--test" ]]; then
    web=$(cd "$(dirname "$0")/../tests/web" && pwd)
    want_pw=$(sed -n 's/.*"playwright-core": "\([^"]*\)".*/\1/p' "$web/package.json")
    have_pw=""
    if [[ -f "$web/node_modules/playwright-core/package.json" ]]; then
        have_pw=$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' \
                  "$web/node_modules/playwright-core/package.json" | head -1)
    fi
    if [[ "$have_pw" != "$want_pw" ]]; then
        echo "deps: npm install playwright-core@$want_pw (tests/web)"
        npm install --prefix "$web" --no-audit --no-fund --no-package-lock \
            --loglevel=error >/dev/null
    fi
fi
echo "deps: ok"
