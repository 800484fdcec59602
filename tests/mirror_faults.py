"""mirror_faults.py BUILD SOURCE TMP: issue 9 test 2, and the gap report.

A. Mongo dies mid-bulk: tests/mongo_server.py (the MongoDB-wire TEST
   DOUBLE, persisting to a file) applies half of an ops bulk, saves and
   exits without answering. The node keeps acking ops meanwhile (mongo_up
   0, errors counted, lag grows); Mongo restarts on the same port with the
   same file; afterwards the ops in Mongo are exactly the oplog's: same
   count, same ids, nothing missing, nothing twice.
B. The node is SIGKILLed mid-mirror: Mongo answers slowly, the node is
   killed while a bulk is in flight (the server then completes it), so
   Mongo holds ops past the node's stored cursor; the restarted node
   re-sends them: still exactly the oplog's ops.
C. A gap: with Mongo unreachable, oplog segments the mirror had not
   exported are deleted while the node is stopped (an operator forcing
   retention); the restarted node reports the gap (log line, metric
   mirror_gap_ops_total = the records deleted) and exports the rest.
"""
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mirror_lib import (Env, Mongo, Node, caught_up, check, finish,  # noqa: E402
                        free_port, info, oplog_ops, rect, stats, wait_until)

env = Env(sys.argv)


def exact(db, data, label):
    """Mongo's ops are exactly the oplog's (all of this node's origin)."""
    ops = oplog_ops(env, data)
    want = ["%s:%d" % (o["node"], o["oseq"]) for o in ops]
    ids = [d["_id"] for d in db.ops.find({}, {"_id": 1})]
    n = db.ops.count_documents({})
    check(len(want) == len(set(want)), "%s: oplog ids not unique" % label)
    ok = check(n == len(want) == len(ids) and set(ids) == set(want),
               "%s: Mongo has %d ops (%d distinct ids), the oplog %d; "
               "missing %r extra %r" % (label, n, len(set(ids)), len(want),
                                        sorted(set(want) - set(ids))[:5],
                                        sorted(set(ids) - set(want))[:5]))
    # the content is the oplog's too (a replay rewrote the same document)
    seqs = {"%s:%d" % (o["node"], o["oseq"]): o["seq"] for o in ops}
    bad = [d["_id"] for d in db.ops.find({}, {"seq": 1})
           if seqs.get(d["_id"]) != d["seq"]]
    check(not bad, "%s: documents with the wrong seq: %r" % (label, bad[:5]))
    if ok:
        info("%s: %d ops in Mongo = the oplog's" % (label, n))
    return ops


def log_has(path, text):
    with open(path, "rb") as f:
        return text.encode() in f.read()


# ---- A. Mongo killed mid-bulk and restarted ---------------------------------
DATA = os.path.join(env.tmp, "a")
MFILE = os.path.join(env.tmp, "mongo-a.bson")
mongo = Mongo(env, MFILE, extra=["--crash-mid-update", "3"])
port = mongo.port
node = Node(env, DATA, mongo.url)
tok, _ = node.guest("Ada")
board = node.board(tok, "faults")
n = 0
for r in range(40):
    node.post(tok, board, [rect(n + k) for k in range(5)])
    n += 5
    if r % 4 == 3:
        time.sleep(0.2)  # let the mirror make several bulks
    if mongo.proc.poll() is not None:
        break
if wait_until(lambda: mongo.proc.poll() is not None, 30,
              "the Mongo double to crash mid-bulk"):
    check(mongo.proc.returncode == 137, "crash exit %s" % mongo.proc.returncode)
    check(log_has(mongo.log.name, "crash mid-update: applied"),
          "no 'crash mid-update' line in the server log")
# The node is unaffected: ops keep being acked while Mongo is gone.
for r in range(10):
    node.post(tok, board, [rect(n + k) for k in range(5)])
    n += 5
m = wait_until(lambda: (lambda x: x if x.get("mongo_up") == 0 and
                        x.get("mirror_lag_ops", 0) > 0 else None)(node.metrics()),
               20, "mongo_up 0 and a lag while Mongo is down")
if m:
    check(m.get("mirror_errors_total", 0) >= 1, "errors %r" % m)
    info("Mongo down: lag %d records, %.2f s; errors %d" % (
        m["mirror_lag_ops"], m["mirror_lag_seconds"], m["mirror_errors_total"]))
mongo = Mongo(env, MFILE, port=port)
db = mongo.db()
wait_until(lambda: caught_up(node, db, DATA, env), 60, "catch-up after restart")
exact(db, DATA, "A (Mongo killed mid-bulk)")
check(node.metrics().get("mongo_up") == 1, "mongo_up after the restart")

# ---- B. the node SIGKILLed mid-mirror -----------------------------------------
mongo.stop()
mongo = Mongo(env, MFILE, port=port, extra=["--delay-ms", "400"])
db = mongo.db()
wait_until(lambda: node.metrics().get("mongo_up") == 1, 30, "mongo_up again")
before = open(mongo.log.name, "rb").read().count(b"ops update n=")
for r in range(10):
    node.post(tok, board, [rect(n + k) for k in range(5)])
    n += 5
# kill while a bulk is in flight (the server has logged its start)
if wait_until(lambda: open(mongo.log.name, "rb").read().count(b"ops update n=")
              > before, 20, "an ops bulk in flight"):
    node.kill()
time.sleep(1.0)  # the slow server completes the bulk the node left
cursor = stats(env, DATA)["snapshots"].get("mirror_cursor") or 0
max_seq = max([d["seq"] for d in db.ops.find({}, {"seq": 1})] or [0])
info("node killed: stored cursor %d, Mongo has up to seq %d" % (cursor, max_seq))
check(cursor > 0 and max_seq > cursor,
      "the kill should leave ops in Mongo past the stored cursor (cursor %d, "
      "Mongo max seq %d)" % (cursor, max_seq))
node = Node(env, DATA, mongo.url)
for r in range(4):
    node.post(tok, board, [rect(n + k) for k in range(5)])
    n += 5
wait_until(lambda: caught_up(node, db, DATA, env), 60, "catch-up after the kill")
ops = exact(db, DATA, "B (node SIGKILLed mid-mirror)")
check(len(ops) == n, "the oplog has %d ops, the test posted %d" % (len(ops), n))
node.term()
mongo.stop()

# ---- C. retention forced past the cursor: a gap, reported -------------------
DATA = os.path.join(env.tmp, "c")
dead = "mongodb://127.0.0.1:%d/wbtest" % free_port()  # nothing listens
node = Node(env, DATA, dead, ["--segment-size", "1MiB"])
tok, _ = node.guest("Bo")
board = node.board(tok, "gap")
big = "x" * 12000
k = 0
while len(glob.glob(os.path.join(DATA, "oplog", "*.wbseg"))) < 3 and k < 400:
    node.post(tok, board, [{"op": "upsert", "id": "g%d" % (k % 50),
                            "type": "text", "props": {"text": big + str(k)}}])
    k += 1
check(node.metrics().get("mongo_up") == 0, "mongo_up with nothing listening")
check(node.term() == 0, "SIGTERM exit")
segs = sorted(glob.glob(os.path.join(DATA, "oplog", "*.wbseg")))
check(len(segs) >= 3, "segments: %d" % len(segs))
all_ops = oplog_ops(env, DATA)
os.unlink(segs[0])  # the operator forces retention past the mirror
left = oplog_ops(env, DATA)
lost = len({o["seq"] for o in all_ops}) - len({o["seq"] for o in left})
check(lost > 0, "deleting the oldest segment removed no record")
mongo = Mongo(env)
db = mongo.db()
node = Node(env, DATA, mongo.url)
wait_until(lambda: caught_up(node, db, DATA, env), 60, "catch-up after the gap")
m = node.metrics()
check(m.get("mirror_gap_ops_total") == lost,
      "mirror_gap_ops_total %r, records deleted %d" % (
          m.get("mirror_gap_ops_total"), lost))
check(log_has(node.log_path, "mirror gap"), "no 'mirror gap' log line")
check(db.ops.count_documents({}) == len(left),
      "after the gap Mongo has %d ops, the oplog %d" % (
          db.ops.count_documents({}), len(left)))
info("C: gap of %d records reported; %d ops exported" % (lost, len(left)))
node.term()
mongo.stop()
finish()
