#!/usr/bin/env bash
# infra/test.sh: the test command. Installs test dependencies, then builds and
# runs every test twice through ctest:
#   1. build/        gcc, RelWithDebInfo
#   2. build-asan/   clang, ASan + UBSan, libFuzzer harnesses
# Prints each ctest summary, then one closing line "N passed, N failed" over
# both runs, and exits non-zero if anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}

bash infra/deps.sh --test || exit 1

passed=0
failed=0

run_suite() { # name builddir cmake-args...
    local name=$1 dir=$2
    shift 2
    echo "=== $name: configure and build ($dir)"
    mkdir -p "$dir"
    if ! cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >"$dir/configure.log" 2>&1; then
        cat "$dir/configure.log"
        echo "=== $name: configure FAILED"
        failed=$((failed + 1))
        return
    fi
    if ! cmake --build "$dir" -j "$JOBS"; then
        echo "=== $name: build FAILED"
        failed=$((failed + 1))
        return
    fi
    echo "=== $name: ctest"
    rm -rf "$dir/test-tmp"
    (cd "$dir" && ctest -j "$JOBS" --output-on-failure --timeout 900) | tee "$dir/ctest.log"
    local line total fails
    line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$dir/ctest.log" | tail -1)
    if [[ -z "$line" ]]; then
        echo "=== $name: ctest printed no summary"
        failed=$((failed + 1))
        return
    fi
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
}

run_suite "normal" build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc
run_suite "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DWB_SANITIZE=ON -DWB_FUZZ=ON

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
