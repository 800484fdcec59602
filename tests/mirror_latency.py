"""mirror_latency.py BUILD SOURCE TMP: issue 9 test 5.

The op path does not wait on Mongo. Four nodes run side by side on the same
machine, each with its own data directory:
  off      no mirror
  live     mirroring into tests/mongo_server.py (the MongoDB-wire TEST DOUBLE)
  refused  MONGO_URL names a port nothing listens on (connection refused)
  hole     MONGO_URL names a socket that accepts and never answers (the
           driver waits for its timeouts)
The same sequence of single-op POSTs goes to the four in turn (interleaved,
so they share the machine's state), each answered only when durable.
Printed: median, p90, p99 and max latency per node. Checked: every op acked;
the nodes with Mongo down report mongo_up 0 and a lag of every record while
the live one catches up; no op on a Mongo-down node waited for the driver
(p99 well under the 2 s connect/server-selection timeout) and their median
stays within 3x + 20 ms of the node without a mirror. The figures are
reported, the bounds only catch an op path that waits on Mongo.
"""
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mirror_lib import (Env, Mongo, Node, caught_up, check, finish,  # noqa: E402
                        free_port, info, rect, wait_until)

N = int(os.environ.get("WB_MIRROR_LATENCY_OPS", "200"))
env = Env(sys.argv)

# A black hole: accepts connections, never reads or answers.
hole = socket.socket()
hole.bind(("127.0.0.1", 0))
hole.listen(64)
held = []


def swallow():
    while True:
        try:
            c, _ = hole.accept()
        except OSError:
            return
        held.append(c)


threading.Thread(target=swallow, daemon=True).start()

mongo = Mongo(env)
urls = {"off": None, "live": mongo.url,
        "refused": "mongodb://127.0.0.1:%d/wbtest" % free_port(),
        "hole": "mongodb://127.0.0.1:%d/wbtest" % hole.getsockname()[1]}
nodes, ctx = {}, {}
for name, url in urls.items():
    nodes[name] = Node(env, os.path.join(env.tmp, name), url)
    tok, _ = nodes[name].guest("Ada")
    ctx[name] = (tok, nodes[name].board(tok, "latency"))

lat = {name: [] for name in nodes}
for i in range(N):
    for name, node in nodes.items():
        tok, board = ctx[name]
        t0 = time.monotonic()
        node.post(tok, board, [rect(i)])
        lat[name].append((time.monotonic() - t0) * 1000.0)


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


info("op latency over HTTP, %d single-op POSTs per node, fsync always, "
     "interleaved (ms):" % N)
for name in nodes:
    xs = lat[name]
    info("  %-8s median %.2f  p90 %.2f  p99 %.2f  max %.2f" % (
        name, statistics.median(xs), q(xs, 0.9), q(xs, 0.99), max(xs)))

base = statistics.median(lat["off"])
for name in ("refused", "hole"):
    check(q(lat[name], 0.99) < 1000,
          "%s: p99 %.1f ms: an op waited on Mongo" % (name, q(lat[name], 0.99)))
    check(statistics.median(lat[name]) <= 3 * base + 20,
          "%s: median %.2f ms vs %.2f without a mirror" % (
              name, statistics.median(lat[name]), base))
    # the mirror notices: failed rounds counted, the lag ages
    m = wait_until(lambda: (lambda x: x if x.get("mirror_errors_total", 0) >= 1
                            and x.get("mirror_lag_seconds", 0) > 0 else None)(
        nodes[name].metrics()), 20, "%s: errors and lag seconds" % name) or {}
    check(m.get("mongo_up") == 0 and m.get("mirror_lag_ops", 0) >= N and
          m.get("mirror_batches_total") == 0,
          "%s: metrics %r" % (name, {k: v for k, v in m.items()
                                     if "mirror" in k or "mongo" in k}))
    info("  %-8s mongo_up %d, mirror_lag_ops %d, mirror_lag_seconds %.1f, "
         "errors %d" % (name, m.get("mongo_up", -1), m.get("mirror_lag_ops", -1),
                        m.get("mirror_lag_seconds", -1),
                        m.get("mirror_errors_total", -1)))
wait_until(lambda: caught_up(nodes["live"], mongo.db(),
                             os.path.join(env.tmp, "live"), env), 60,
           "the live mirror to catch up")
check(mongo.db().ops.count_documents({}) == N, "live: %d ops in Mongo" %
      mongo.db().ops.count_documents({}))
for name, node in nodes.items():
    t0 = time.monotonic()
    rc = node.term()
    check(rc == 0, "%s: exit %s" % (name, rc))
    info("  %-8s SIGTERM to exit %.2f s" % (name, time.monotonic() - t0))
hole.close()
mongo.stop()
finish()
