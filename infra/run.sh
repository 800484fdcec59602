#!/usr/bin/env bash
# infra/run.sh: the run command. Installs build dependencies, builds
# everything in build/, and runs the main job.
#
# Until the node (whiteboardd) lands, the main job is the engine's benchmark
# suite in its quick mode: it exercises the durable oplog, the board model
# and the snapshot store on this machine's disk and prints the figures.
# BENCH_QUICK=0 runs the full-length benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

bash infra/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
BENCH_QUICK=${BENCH_QUICK:-1} cmake --build build --target bench
