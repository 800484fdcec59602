#!/usr/bin/env bash
# infra/run.sh: the run command. Installs build dependencies, builds
# everything in build/, and runs the node, whiteboardd, in the foreground:
# it prints the URL it listens on (default http://127.0.0.1:8080/, data in
# ./data) and runs until Ctrl-C / SIGTERM (graceful: drain, fsync, snapshot).
# Extra arguments go to whiteboardd (e.g. --listen 0.0.0.0:8080,
# --data-dir /srv/wb; `--help` lists every setting).
#
# RUN_BENCH=1 runs the engine's benchmark suite instead (quick mode;
# BENCH_QUICK=0 for the full-length benchmarks), which is also what happens
# on a tree where whiteboardd does not build yet.
set -euo pipefail
cd "$(dirname "$0")/.."

bash infra/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
if [[ "${RUN_BENCH:-0}" != 1 && -x build/net/whiteboardd ]]; then
    exec build/net/whiteboardd "$@"
fi
BENCH_QUICK=${BENCH_QUICK:-1} cmake --build build --target bench
