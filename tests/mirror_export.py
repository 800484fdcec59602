"""mirror_export.py BUILD SOURCE TMP: issue 9 tests 1 and 3.

1. Ops and snapshots written through a node appear in Mongo (the test
   double, tests/mongo_server.py) with the right BSON types, and the counts
   match the oplog exactly; boards and indexes are there.
3. The analytics queries of docs/mongo.md (read from the document itself)
   return what this script computes from the oplog (`wbctl inspect`).
"""
import collections
import datetime
import json
import os
import re
import subprocess
import sys

import pymongo

from bson.int64 import Int64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mirror_lib import (Env, Mongo, Node, caught_up, check, day, finish,  # noqa: E402
                        info, local_snapshots, oplog_ops, rect, wait_until)

env = Env(sys.argv)
DATA = os.path.join(env.tmp, "data")
mongo = Mongo(env)
node = Node(env, DATA, mongo.url, ["--snapshot-ops", "40"])
db = mongo.db()

# ---- traffic: 3 users, 3 boards, every element type, moves and deletes ----
users = [node.guest(n) for n in ("Ada", "Bob", "Cy")]
boards = [node.board(users[0][0], "Plan"), node.board(users[1][0], "Sketch"),
          node.board(users[2][0], "Notes")]
shapes = [
    lambda i: rect(i),
    lambda i: {"op": "upsert", "id": "el%d" % i, "type": "ellipse",
               "props": {"x": i, "y": i, "width": 3, "height": 4}},
    lambda i: {"op": "upsert", "id": "t%d" % i, "type": "text",
               "props": {"x": 0, "y": i, "text": "héllo %d" % i,
                         "fontSize": 16}},
    lambda i: {"op": "upsert", "id": "s%d" % i, "type": "sticky",
               "props": {"width": 200, "height": 200, "text": "todo %d" % i,
                         "fillColor": "#fff59dff"}},
    lambda i: {"op": "upsert", "id": "k%d" % i, "type": "stroke",
               "props": {"x": i, "y": 2, "strokeColor": "#e03131ff",
                         "points": [[0, 0], [1.5, 0.75], [3.25, i]]}},
    lambda i: {"op": "upsert", "id": "a%d" % i, "type": "arrow",
               "props": {"points": [[0, 0], [300, 150]], "locked": True}},
]
i = 0
for rnd in range(40):
    tok, _ = users[rnd % 3]
    # board owners only: each user writes to the board they created
    b = boards[rnd % 3]
    ops = [shapes[(i + k) % len(shapes)](i + k) for k in range(1 + rnd % 6)]
    i += len(ops)
    node.post(tok, b, ops)
    if rnd % 5 == 4:  # a move and a delete of earlier elements
        node.post(tok, b, [{"op": "upsert", "id": ops[0]["id"],
                            "props": {"x": 99, "y": 98}},
                           {"op": "delete", "id": ops[-1]["id"]}])
for k, b in enumerate(boards):
    node.snapshot(users[k][0], b)

if not wait_until(lambda: caught_up(node, db, DATA, env), 90,
                  "the mirror to catch up"):
    finish()

# ---- 1. ops: counts, ids, types, values ---------------------------------
ops = oplog_ops(env, DATA)
info("oplog: %d ops in %d records" % (len(ops), len(set(o["seq"] for o in ops))))
docs = list(db.ops.find({}))
check(len(ops) > 100, "traffic too small: %d ops" % len(ops))
check(len(docs) == len(ops) == db.ops.count_documents({}),
      "ops in Mongo %d, in the oplog %d" % (len(docs), len(ops)))
by_id = {d["_id"]: d for d in docs}
want_ids = ["%s:%d" % (o["node"], o["oseq"]) for o in ops]
check(len(set(want_ids)) == len(want_ids), "oplog (node, oseq) not unique")
check(set(by_id) == set(want_ids),
      "ids differ: missing %r extra %r" % (sorted(set(want_ids) - set(by_id))[:5],
                                           sorted(set(by_id) - set(want_ids))[:5]))
bad = 0
for o in ops:
    d = by_id.get("%s:%d" % (o["node"], o["oseq"]))
    if d is None:
        continue
    exp_time = datetime.datetime(1970, 1, 1) + datetime.timedelta(
        milliseconds=o["time_us"] // 1000)
    props = o["props"] or {}
    probs = []
    for k, want in (("boardId", o["board"]), ("elementId", o["id"]),
                    ("userId", o["user"]), ("op", o["kind"]),
                    ("node", o["node"]), ("seq", o["seq"]),
                    ("oseq", o["oseq"]), ("hlc", o["hlc"]),
                    ("timeUs", o["time_us"]), ("time", exp_time)):
        if d.get(k) != want:
            probs.append("%s=%r want %r" % (k, d.get(k), want))
    for k in ("seq", "oseq", "hlc", "timeUs"):
        if type(d.get(k)) is not Int64:
            probs.append("%s is %s, not int64" % (k, type(d.get(k)).__name__))
    if not isinstance(d.get("time"), datetime.datetime):
        probs.append("time is not a BSON date")
    if d.get("stamp") != {"hlc": o["hlc"], "node": o["node"], "oseq": o["oseq"]}:
        probs.append("stamp %r" % d.get("stamp"))
    if not isinstance(d.get("enc"), bytes) or not d["enc"]:
        probs.append("enc is not binary")
    if o["kind"] == "upsert":
        if d.get("properties") != props:
            probs.append("properties %r want %r" % (d.get("properties"), props))
        if "type" in props and d.get("type") != props["type"]:
            probs.append("type %r want %r" % (d.get("type"), props["type"]))
        pts = (d.get("properties") or {}).get("points")
        if pts is not None and not (isinstance(pts, list) and
                                    all(isinstance(p, list) for p in pts)):
            probs.append("points not arrays")
    elif "properties" in d:
        probs.append("a delete has properties")
    if probs:
        bad += 1
        if bad <= 5:
            check(False, "op %s: %s" % (d["_id"], "; ".join(probs)))
check(bad == 0, "%d op documents differ from the oplog" % bad)

# ---- 1. snapshots ---------------------------------------------------------
snaps = local_snapshots(env, DATA)
node_id = ops[0]["node"]
check(len(snaps) >= 3, "expected snapshots of 3 boards, got %d" % len(snaps))
# Mongo keeps every snapshot it got; the local store prunes to the newest
# few per board: every local one must be in Mongo.
check(db.snapshots.count_documents({}) >= len(snaps),
      "snapshots in Mongo %d, local %d" % (db.snapshots.count_documents({}),
                                           len(snaps)))
for s in snaps:
    d = db.snapshots.find_one({"_id": "%s:%d" % (node_id, s["id"])})
    if not check(d is not None, "snapshot %d not in Mongo" % s["id"]):
        continue
    check(d["boardId"] == s["board"] and d["pos"] == s["pos"] and
          type(d["pos"]) is Int64 and d["elementCount"] == s["elements"] and
          type(d["elementCount"]) is int and
          isinstance(d["createdAt"], datetime.datetime) and
          d["createdUs"] == s["created_us"] and
          d["createdAt"] == datetime.datetime(1970, 1, 1) + datetime.timedelta(
              milliseconds=s["created_us"] // 1000) and
          d["chunks"] == 0 and isinstance(d["state"], bytes) and
          isinstance(d["version"], dict),
          "snapshot %d document: %r" % (s["id"], {k: v for k, v in d.items()
                                                   if k not in ("state", "elements")}))
    p = subprocess.run([env.wbctl, "restore", DATA, "--board", s["board"],
                        "--snapshot", str(s["id"])], capture_output=True,
                       timeout=60)
    local = json.loads(p.stdout)
    check(d.get("elements") == local["elements"],
          "snapshot %d elements differ from the local snapshot" % s["id"])
    check(len(d.get("elements") or []) == s["elements"],
          "snapshot %d: %d elements, header says %d" % (
              s["id"], len(d.get("elements") or []), s["elements"]))

# ---- 1. boards, indexes, metrics -------------------------------------------
wait_until(lambda: db.boards.count_documents({}) >= 3, 20,
           "the boards pass (every 2 s)")
for b, title in zip(boards, ("Plan", "Sketch", "Notes")):
    d = db.boards.find_one({"_id": b})
    check(d is not None and d["title"] == title and d["deleted"] is False and
          isinstance(d["createdAt"], datetime.datetime),
          "board %s: %r" % (b, d))
ix_ops = set(db.ops.index_information())
ix_snap = set(db.snapshots.index_information())
check({"boardId_time", "userId_time"} <= ix_ops, "ops indexes %r" % ix_ops)
check("boardId_createdAt" in ix_snap, "snapshots indexes %r" % ix_snap)
m = node.metrics()
check(m.get("mirror_batches_total", 0) >= 1 and m.get("mirror_errors_total") == 0
      and m.get("mongo_up") == 1 and m.get("mirror_lag_ops") == 0 and
      m.get("mirror_lag_seconds") == 0 and
      m.get("mirror_ops_total", 0) >= len(ops),
      "metrics %r" % {k: v for k, v in m.items() if "mirror" in k or "mongo" in k})

# The runbook's query: the newest snapshot of a board.
for b in boards:
    newest = list(db.snapshots.find({"boardId": b}).sort("createdAt", -1).limit(1))
    want = max((s for s in snaps if s["board"] == b), key=lambda s: s["created_us"])
    check(newest and newest[0]["snapshotId"] == want["id"],
          "runbook query for %s: %r, want snapshot %d" % (
              b, newest and newest[0]["_id"], want["id"]))

# ---- 3. analytics queries from docs/mongo.md --------------------------------
doc = open(os.path.join(env.src, "docs/mongo.md"), encoding="utf-8").read()
queries = {}
for name, body in re.findall(
        r"<!-- analytics:(\w+) -->\s*```js\s*(.*?)```", doc, re.S):
    mt = re.match(r"db\.(\w+)\.aggregate\((.*)\)\s*$", body.strip(), re.S)
    if check(mt is not None, "analytics %s: not db.X.aggregate([...])" % name):
        queries[name] = (mt.group(1), json.loads(mt.group(2)))
check(set(queries) == {"ops_per_user_per_day", "most_edited_boards",
                       "element_type_mix"}, "analytics queries %r" % sorted(queries))


def run(name):
    coll, pipeline = queries[name]
    return list(db[coll].aggregate(pipeline))


if "ops_per_user_per_day" in queries:
    want = collections.Counter((o["user"], day(o["time_us"])) for o in ops)
    got = run("ops_per_user_per_day")
    check([(r["_id"]["userId"], r["_id"]["day"], r["ops"]) for r in got] ==
          sorted((u, dd, n) for (u, dd), n in want.items()),
          "ops per user per day: %r want %r" % (got, sorted(want.items())))
if "most_edited_boards" in queries:
    cnt = collections.Counter(o["board"] for o in ops)
    want = sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    got = run("most_edited_boards")
    check([(r["_id"], r["ops"]) for r in got] == want,
          "most edited boards: %r want %r" % (got, want))
    users_by_board = collections.defaultdict(set)
    for o in ops:
        users_by_board[o["board"]].add(o["user"])
    check(all(r["editors"] == len(users_by_board[r["_id"]]) for r in got),
          "editors per board: %r" % got)
if "element_type_mix" in queries:
    elems = {(o["props"]["type"], o["board"], o["id"]) for o in ops
             if o["kind"] == "upsert" and "type" in (o["props"] or {})}
    want = sorted(collections.Counter(t for t, _, _ in elems).items())
    got = run("element_type_mix")
    check([(r["_id"], r["elements"]) for r in got] == want,
          "element type mix: %r want %r" % (got, want))
    check(len(want) == 6, "traffic should cover 6 element types: %r" % want)

# ---- the test double itself: duplicate keys, count, delete ------------------
scratch = db.scratch
scratch.insert_one({"_id": "a", "v": 1})
try:
    scratch.insert_one({"_id": "a", "v": 2})
    check(False, "a duplicate _id was accepted")
except pymongo.errors.DuplicateKeyError as e:
    check(e.code == 11000 and "E11000" in str(e), "duplicate key: %r" % e)
scratch.create_index([("v", 1)], unique=True, name="v_unique")
try:
    scratch.insert_many([{"_id": "b", "v": 1}, {"_id": "c", "v": 3}],
                        ordered=False)
    check(False, "a duplicate unique key was accepted")
except pymongo.errors.BulkWriteError as e:
    errs = e.details["writeErrors"]
    check(len(errs) == 1 and errs[0]["code"] == 11000 and
          e.details["nInserted"] == 1, "unordered bulk with one dup: %r" % e.details)
check(scratch.count_documents({}) == 2 and
      db.command("count", "scratch")["n"] == 2, "count")
check(scratch.delete_many({}).deleted_count == 2, "delete")

# ---- the driver's framing, as the test double saw it -----------------------
# libmongoc's handshake (hello/isMaster) then every command as OP_MSG with
# $db, and pymongo's reads above needed getMore (first batches are 101).
seen = open(mongo.log.name, encoding="utf-8", errors="replace").read()
check(re.search(r"mongo_server: \w+ (hello|isMaster|ismaster) db=", seen),
      "no hello/isMaster in the server log")
check(re.search(r"mongo_server: OpMsg update db=wbtest \$db", seen),
      "the mirror's updates did not arrive as OP_MSG with $db")
check(re.search(r"mongo_server: OpMsg createIndexes db=wbtest \$db", seen),
      "no createIndexes as OP_MSG")
check(re.search(r"mongo_server: OpMsg getMore db=wbtest", seen),
      "no getMore")
node.term()
mongo.stop()
finish()
