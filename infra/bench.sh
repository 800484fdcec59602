#!/usr/bin/env bash
# infra/bench.sh: the benchmark suite, one command, one table.
#
#   bash infra/bench.sh [--quick] [--runs N] [--build DIR] [--out DIR]
#                       [--skip-engine] [--skip-node] [--skip-ladder]
#
# Builds (RelWithDebInfo, gcc) whiteboardd, wb-load, wb-relay and the
# engine benchmarks in DIR (default build/), then runs
#   - the engine benchmarks (oplog, ingest, replay, snapshot), each with its
#     ceiling measured in the same run (raw write+fdatasync, raw
#     read+checksum) or its target; they take medians of 3 themselves;
#   - the node workloads of wb-load (tools/wbload/README.md) against a
#     fresh whiteboardd on 127.0.0.1 (default `--fsync always`, rate limits
#     off, a fresh data directory per run) and the same workloads against
#     wb-relay (a bare libwebsockets relay: no storage, no engine), N runs
#     each (default 3), medians;
#   - the rooms ladders (50 rooms x 10 clients, the issue's shape, and
#     100 x 2 for ops in with little fan-out): the highest offered rate at
#     which broadcast p99 stays <= 50 ms with every op delivered (one run
#     per step, node and relay);
# and prints ONE table: figure, measured, ceiling, measured/ceiling, target
# (for rates the share of the ceiling reached; for latencies and memory how
# many times the no-work floor).
# Everything is also written to OUT (default DIR/bench-results): the raw
# JSON of every run, the engine benchmarks' full output, results.md.
#
# --quick: shorter runs (engine benchmarks in quick mode, node runs of 5 s,
# 1 run, 2,000 idle connections) for a smoke pass. Figures are for reading,
# never pass/fail. Only the processes this script starts are signalled.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=build
OUT=
RUNS=3
QUICK=0
SKIP_ENGINE=0
SKIP_NODE=0
SKIP_LADDER=0
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --runs) RUNS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --out) OUT=$2; shift ;;
    --skip-engine) SKIP_ENGINE=1 ;;
    --skip-node) SKIP_NODE=1 ;;
    --skip-ladder) SKIP_LADDER=1 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
OUT=${OUT:-$BUILD/bench-results}
if ((QUICK)); then
    RUNS=1
    DUR=5
    IDLE=2000
else
    DUR=10
    IDLE=10000
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
((SKIP_ENGINE || SKIP_NODE)) || rm -f "$OUT/machine.txt"
# a part run again replaces its own results only (--skip-* keeps the rest)
((SKIP_ENGINE)) || rm -f "$OUT"/rows.tsv "$OUT"/bench_*.txt
((SKIP_NODE)) || rm -f "$OUT"/*.json
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== building in $BUILD"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
TARGETS=(whiteboardd wb-load wb-relay)
for b in tools/bench/bench_*.c; do TARGETS+=("$(basename "$b" .c)"); done
cmake --build "$BUILD" -j2 --target "${TARGETS[@]}" >/dev/null || exit 1
BUILD=$(cd "$BUILD" && pwd)
WBD=$BUILD/net/whiteboardd
WBL=$BUILD/tools/wb-load
RELAY=$BUILD/tools/wb-relay
SCRATCH=${BENCH_DIR:-$BUILD/bench-tmp}/suite-$$
mkdir -p "$SCRATCH"

machine() {
    echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ); commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null)"
}
machine | tee -a "$OUT/machine.txt"

# ---- engine ------------------------------------------------------------------
if ((!SKIP_ENGINE)); then
    for b in oplog engine replay snap; do
        echo "== bench_$b"
        (cd "$SCRATCH" && BENCH_QUICK=$QUICK BENCH_DIR=$SCRATCH "$BUILD/tools/bench_$b") \
            >"$OUT/bench_$b.txt" 2>&1
        grep -v '^@row' "$OUT/bench_$b.txt" | sed 's/^/  /'
        grep '^@row' "$OUT/bench_$b.txt" | cut -f2- >>"$OUT/rows.tsv"
    done
fi

# ---- node ----------------------------------------------------------------------
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
export JWT_SECRET=bench-secret-0123456789abcdefghijklmnopqrstuvw
SPID=
SURL=
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
start_server() { # node|relay
    local port
    port=$(free_port)
    rm -rf "$SCRATCH/data"
    if [[ $1 == node ]]; then
        "$WBD" --data-dir "$SCRATCH/data" --listen "127.0.0.1:$port" \
            --rate-conn 0 --rate-user 0 --rate-ip 0 --log-level warn \
            >"$SCRATCH/server.out" 2>>"$OUT/node.log" &
    else
        "$RELAY" --listen "127.0.0.1:$port" >"$SCRATCH/server.out" 2>>"$OUT/relay.log" &
    fi
    SPID=$!
    PIDS+=($SPID)
    SURL=ws://127.0.0.1:$port
    for _ in $(seq 1 300); do
        grep -q "listening on" "$SCRATCH/server.out" 2>/dev/null && break
        sleep 0.1
    done
    # the node answers 503 until its engine is ready
    if [[ $1 == node ]]; then
        for _ in $(seq 1 300); do
            curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
            sleep 0.1
        done
    fi
}
stop_server() {
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 1 300); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    PIDS=()
}
# one NAME SERVER RUN WORKLOAD FLAGS...: a fresh server, one wb-load run
one() {
    local name=$1 server=$2 run=$3 wl=$4
    shift 4
    local setup=()
    [[ $server == relay ]] && setup=(--no-setup)
    start_server "$server"
    timeout 600 "$WBL" "$wl" --url "$SURL" --server-pid "$SPID" "${setup[@]}" \
        "$@" --json >"$OUT/$name.$server.$run.json" 2>>"$OUT/wbload.log" ||
        echo "  ($name on $server, run $run: wb-load failed, see $OUT/wbload.log)"
    stop_server
}
workload() { # NAME SERVERS WORKLOAD FLAGS...
    local name=$1 servers=$2
    shift 2
    echo "== $name ($servers; $RUNS run(s)): wb-load $*"
    for run in $(seq 1 "$RUNS"); do
        for s in $servers; do one "$name" "$s" "$run" "$@"; done
    done
}

if ((!SKIP_NODE)); then
    workload rooms "node relay" rooms --rooms 50 --clients 10 --rate 20 --duration "$DUR"
    workload bigroom "node relay" bigroom --clients 200 --writers 1 --rate 200 --duration "$DUR"
    workload idle "node relay" idle --clients "$IDLE" --rooms 100 --duration 5
    workload join "node" join --elements 20000 --clients 20
    workload presence "node relay" presence --rooms 10 --clients 10 --rate 5 \
        --presence-hz 30 --duration "$DUR"
    if ((!SKIP_LADDER)); then
        # ladder NAME ROOMS CLIENTS RATES...: one run per step (offered rate
        # = ROOMS x CLIENTS x RATE), up to the first step over 50 ms p99,
        # short of a full delivery, or with missed slots
        ladder() {
            local name=$1 rooms=$2 clients=$3
            shift 3
            for s in node relay; do
                echo "== $name ladder ($s): $rooms rooms x $clients clients, rate per client"
                for rate in "$@"; do
                    one "$name-$rate" "$s" 1 rooms --rooms "$rooms" --clients "$clients" \
                        --rate "$rate" --duration 5
                    ok=$(python3 -c 'import json,sys
try:
    j = json.load(open(sys.argv[1]))
    good = j["delivery_ratio"] >= 0.9999 and (j["broadcast_p99_ms"] or 1e9) <= 50 and j["ops_missed_slots"] == 0
    print("%d %.0f %.1f" % (good, j["acked_ops_per_s"], j["broadcast_p99_ms"] or -1))
except Exception:
    print("0 0 -1")' "$OUT/$name-$rate.$s.1.json")
                    echo "  rate $rate/client: acked $(echo "$ok" | cut -d' ' -f2) ops/s, broadcast p99 $(echo "$ok" | cut -d' ' -f3) ms"
                    [[ ${ok%% *} == 1 ]] || break
                done
            done
        }
        # the issue's shape: 10 clients a room, 9 deliveries per op
        ladder ladder 50 10 20 30 40 50 60 80 100 120 160 200 300 400
        # ops in with little fan-out: 2 clients a room, 1 delivery per op
        ladder ladder2 100 2 50 100 150 200 300 400 500 600 800 1000
    fi
fi

# ---- the table ------------------------------------------------------------------
python3 - "$OUT" "$RUNS" <<'EOF' | tee "$OUT/results.md"
import glob, json, os, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])

def load(name, server):
    res = []
    for f in sorted(glob.glob(os.path.join(out, f"{name}.{server}.*.json"))):
        try:
            res.append(json.load(open(f)))
        except Exception:
            pass
    return res

def med(name, server, key):
    vals = [j[key] for j in load(name, server) if j.get(key) is not None]
    return statistics.median(vals) if vals else None

rows = []  # (figure, node, ceiling, ceiling label, unit, target)
try:
    for line in open(os.path.join(out, "rows.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 5:
            ceil = float(f[4]) if f[4] else None
            label = f[3] or ""
            target = ""
            if label == "target":
                target, ceil, label = f"<= {f[4]} {f[2]}", None, ""
            rows.append((f[0], float(f[1]), ceil, label, f[2], target))
except FileNotFoundError:
    pass

def node_row(fig, name, key, unit, target="", ceiling=True, scale=1.0):
    n = med(name, "node", key)
    if n is None:
        return
    c = med(name, "relay", key) if ceiling else None
    rows.append((fig, n * scale, None if c is None else c * scale,
                 "wb-relay" if c is not None else "", unit, target))

node_row("rooms 50x10x20/s: delivery ratio", "rooms", "delivery_ratio", "", "1.0")
node_row("rooms 50x10x20/s: acked ops/s", "rooms", "acked_ops_per_s", "ops/s", "10,000")
node_row("rooms 50x10x20/s: deliveries/s", "rooms", "deliveries_per_s", "/s", "90,000")
node_row("rooms 50x10x20/s: broadcast p50", "rooms", "broadcast_p50_ms", "ms")
node_row("rooms 50x10x20/s: broadcast p99", "rooms", "broadcast_p99_ms", "ms", "<= 10 ms")
node_row("rooms 50x10x20/s: ack p99 (durable)", "rooms", "ack_p99_ms", "ms", "<= 15 ms")
node_row("rooms 50x10x20/s: generator CPU", "rooms", "generator_cpu_pct", "% of a core")
node_row("rooms 50x10x20/s: server CPU", "rooms", "server_cpu_pct", "% of a core")
node_row("rooms 50x10x20/s: server CPU per op (with its 9 deliveries)", "rooms", "server_cpu_us_per_op", "us")
# the ladders: highest acked rate with p99 <= 50 ms and full delivery
def ladder_best(name, server):
    best = None
    for f in glob.glob(os.path.join(out, f"{name}-*.{server}.1.json")):
        try:
            j = json.load(open(f))
        except Exception:
            continue
        if j["delivery_ratio"] >= 0.9999 and (j["broadcast_p99_ms"] or 1e9) <= 50 \
                and j["ops_missed_slots"] == 0:
            if best is None or j["acked_ops_per_s"] > best["acked_ops_per_s"]:
                best = j
    return best
for name, fig, target in (
        ("ladder", "rooms 50x10: highest ops/s in with broadcast p99 <= 50 ms", ">= 100,000"),
        ("ladder2", "rooms 100x2: highest ops/s in with broadcast p99 <= 50 ms", "")):
    bn, br = ladder_best(name, "node"), ladder_best(name, "relay")
    if bn or br:
        rows.append((fig, bn["acked_ops_per_s"] if bn else 0.0,
                     br["acked_ops_per_s"] if br else None, "wb-relay", "ops/s", target))
node_row("idle: server memory per connection", "idle", "server_rss_per_conn_kib", "KiB", "<= 6 KiB")
node_row("join 20k elements: p50 (open -> state decoded)", "join", "join_p50_ms", "ms", "<= 30 ms", False)
node_row("join 20k elements: p50 (open -> welcome received)", "join", "join_recv_p50_ms", "ms", "", False)
node_row("bigroom 1x200, 1 writer 200/s: broadcast p99", "bigroom", "broadcast_p99_ms", "ms", "<= 5 ms")
node_row("bigroom 1x200: delivery ratio", "bigroom", "delivery_ratio", "", "1.0")
node_row("presence 10x10, 30 Hz: presence p99", "presence", "presence_p99_ms", "ms")
node_row("presence 10x10, 30 Hz: op broadcast p99", "presence", "broadcast_p99_ms", "ms")

def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("ms", "KiB", ""):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

print()
if os.path.exists(os.path.join(out, "machine.txt")):
    print(open(os.path.join(out, "machine.txt")).read().strip())
print(f"node figures: medians of {runs} run(s); engine figures: each benchmark's own medians")
print()
print("| figure | measured | ceiling | measured/ceiling | unit | target |")
print("|---|---:|---:|---:|---|---|")
for fig, v, c, label, unit, target in rows:
    # measured / ceiling: for rates the share of the ceiling reached, for
    # latencies and memory how many times the no-work floor
    ratio = f"{v / c:.2f}x" if c else ""
    cl = f"{fmt(c, unit)} ({label})" if c is not None else "-"
    print(f"| {fig} | {fmt(v, unit)} | {cl} | {ratio} | {unit} | {target} |")
EOF
