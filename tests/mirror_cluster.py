"""mirror_cluster.py BUILD SOURCE TMP: the mirror in a replicated cluster.

A real redis-server and two whiteboardd nodes replicating through it, both
mirroring into one database of tests/mongo_server.py (the MongoDB-wire TEST
DOUBLE): node 1 with the default (only the ops it originated), node 2 with
--mirror-all (every op in its oplog, replicated ones too). Clients write the
same boards on both nodes. After replication and both mirrors caught up:
  - every op of the cluster is in Mongo exactly once (the ids are the
    union of the nodes' own ops, nothing twice, nothing missing), although
    node 2 wrote node 1's ops too;
  - node 1 exported only its own ops (mirror_ops_total, mirroredBy);
  - node 2 exported every op of its oplog.
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mirror_lib import (STARTED, Env, Mongo, Node, check, finish,  # noqa: E402
                        free_port, info, oplog_ops, rect, stats, wait_until)

env = Env(sys.argv)
SECRET = "mirror-cluster-secret-0123456789abcdef0123"

rport = free_port()
rlog = open(os.path.join(env.tmp, "redis.log"), "ab")
redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind",
                          "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", env.tmp], stdout=rlog, stderr=rlog)
STARTED.append(redis)


def redis_up():
    try:
        socket.create_connection(("127.0.0.1", rport), 0.5).close()
        return True
    except OSError:
        return False


if not wait_until(redis_up, 20, "redis-server"):
    finish()
mongo = Mongo(env)
db = mongo.db()
common = ["--redis-url", "redis://127.0.0.1:%d" % rport, "--jwt-secret",
          SECRET, "--guest", "on", "--snapshot-ops", "50"]
n1 = Node(env, os.path.join(env.tmp, "n1"), mongo.url,
          common + ["--node-id", "101"])
n2 = Node(env, os.path.join(env.tmp, "n2"), mongo.url,
          common + ["--node-id", "102", "--mirror-all"])
tok, _ = n1.guest("Ada")
boards = [n1.board(tok, "shared-%d" % k) for k in range(2)]


def board_on(node, b):
    from mirror_lib import http
    st, _ = http(node.url + "/api/v1/boards/" + b, token=tok)
    return st == 200


wait_until(lambda: all(board_on(n2, b) for b in boards), 30,
           "the boards on node 2 (replicated metadata)")
i = 0
for r in range(30):
    for node in (n1, n2):
        node.post(tok, boards[r % 2], [rect(i), rect(i + 1)])
        i += 2


def own(ops, node_id):
    return {"%s:%d" % (o["node"], o["oseq"]) for o in ops
            if o["node"] == node_id}


def replicated():
    a = oplog_ops(env, n1.data)
    b = oplog_ops(env, n2.data)
    ida = {"%s:%d" % (o["node"], o["oseq"]) for o in a}
    idb = {"%s:%d" % (o["node"], o["oseq"]) for o in b}
    return (a, b) if ida == idb and len(ida) == i else None


got = wait_until(replicated, 60, "both oplogs to hold every op")
if not got:
    finish()
ops1, ops2 = got


def mirrored(node):
    st = stats(env, node.data)
    return st["snapshots"].get("mirror_cursor") == st["oplog"]["last_seq"]


wait_until(lambda: mirrored(n1) and mirrored(n2), 60, "both mirrors")
ids = [d["_id"] for d in db.ops.find({}, {"_id": 1})]
everything = own(ops1, "101") | own(ops1, "102")
check(len(everything) == i, "cluster ops %d, posted %d" % (len(everything), i))
check(len(ids) == len(set(ids)) == db.ops.count_documents({}) == i and
      set(ids) == everything,
      "Mongo has %d ops (%d distinct), the cluster %d" % (
          len(ids), len(set(ids)), i))
m1, m2 = n1.metrics(), n2.metrics()
check(m1.get("mirror_ops_total") == len(own(ops1, "101")),
      "node 1 (own ops only) exported %r, it originated %d" % (
          m1.get("mirror_ops_total"), len(own(ops1, "101"))))
check(m2.get("mirror_ops_total", 0) >= len(ops2),
      "node 2 (--mirror-all) exported %r of the %d ops in its oplog" % (
          m2.get("mirror_ops_total"), len(ops2)))
by = {}
for d in db.ops.find({}, {"node": 1, "mirroredBy": 1}):
    by.setdefault((d["node"], d["mirroredBy"]), 0)
    by[(d["node"], d["mirroredBy"])] += 1
check(by.get(("102", "101"), 0) == 0, "node 1 exported node 2's ops: %r" % by)
check(by.get(("102", "102"), 0) == len(own(ops1, "102")),
      "node 2's own ops: %r" % by)
info("cluster: %d ops, Mongo %d documents; by (origin, mirroredBy): %r; "
     "exported: node 1 %d, node 2 %d" % (i, len(ids), by,
                                         m1.get("mirror_ops_total", -1),
                                         m2.get("mirror_ops_total", -1)))
n1.term()
n2.term()
mongo.stop()
redis.terminate()
redis.wait(30)
finish()
