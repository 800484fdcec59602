"""mirror_restore.py BUILD SOURCE TMP: issue 9 test 4.

`wbctl restore --from-mongo` reproduces a board at several points (every
phase's last seq and time, and the latest state) exactly as the local
`wbctl restore DATA_DIR` does: same state hash (stamps, tombstones and
version vector included) and same JSON. One board is small (inline snapshot
documents); the other has large texts and the node runs with
--mirror-doc-max 64KiB, so its snapshots are chunked (snapshot_chunks).
--into writes a data directory whose local restore gives the same state.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mirror_lib import (Env, Mongo, Node, caught_up, check, finish, http,  # noqa: E402
                        info, rect, restore, wait_until)

env = Env(sys.argv)
DATA = os.path.join(env.tmp, "data")
mongo = Mongo(env)
SECRET = "mirror-restore-secret-0123456789abcdef01"
node = Node(env, DATA, mongo.url, ["--snapshot-ops", "12",
                                   "--mirror-doc-max", "64KiB",
                                   "--jwt-secret", SECRET, "--guest", "on"])
db = mongo.db()
tok, _ = node.guest("Ada")
small = node.board(tok, "small")
big = node.board(tok, "big")

points = []  # (label, seq, time_us) after each phase
n = 0
for phase in range(6):
    last = 0
    for k in range(6):
        ops = [rect(n + j) for j in range(3)]
        n += 3
        last = node.post(tok, small, ops)["seq"]
        text = ("phase %d element %d " % (phase, k)) * 600  # ~12 KB
        bops = [{"op": "upsert", "id": "big%d" % ((phase * 6 + k) % 20),
                 "type": "text", "props": {"x": k, "y": phase, "text": text}}]
        last = node.post(tok, big, bops)["seq"]
    # edits of earlier elements: moves, deletes, a re-create
    node.post(tok, small, [{"op": "upsert", "id": "r%d" % (phase * 2),
                            "props": {"x": 500 + phase}},
                           {"op": "delete", "id": "r%d" % (phase * 3 + 1)}])
    last = node.post(tok, big, [{"op": "delete", "id": "big%d" % phase}])["seq"]
    if phase == 3:
        node.snapshot(tok, small)
        node.snapshot(tok, big)
    time.sleep(0.05)
    points.append(("phase %d" % phase, last, int(time.time() * 1e6)))
    time.sleep(0.05)

if not wait_until(lambda: caught_up(node, db, DATA, env), 90,
                  "the mirror to catch up"):
    finish()

chunked = db.snapshots.count_documents({"boardId": big, "chunks": {"$gt": 0}})
inline = db.snapshots.count_documents({"boardId": small, "chunks": 0})
check(chunked >= 2, "board %s: %d chunked snapshot documents" % (big, chunked))
check(inline >= 2, "board %s: %d inline snapshot documents" % (small, inline))
check(db.snapshot_chunks.count_documents({}) >= 2 * chunked,
      "snapshot_chunks: %d" % db.snapshot_chunks.count_documents({}))
info("snapshots: %d chunked, %d inline; chunks %d" % (
    chunked, inline, db.snapshot_chunks.count_documents({})))

targets = [("latest", [])]
for label, seq, t_us in points:
    targets.append((label + " seq", ["--until", "seq:%d" % seq]))
    targets.append((label + " time", ["--until", "@%d.%06d" % (
        t_us // 1000000, t_us % 1000000)]))
compared = 0
for b in (small, big):
    for label, until in targets:
        rc1, out1, h1 = restore(env, [DATA, "--board", b] + until)
        rc2, out2, h2 = restore(env, ["--from-mongo", mongo.url, "--board", b]
                                + until)
        if not check(rc1 == 0 and rc2 == 0, "%s %s: rc local %d, mongo %d" % (
                b, label, rc1, rc2)):
            continue
        check(h1 is not None and h1 == h2,
              "%s %s: state hash local %s, mongo %s" % (b, label, h1, h2))
        check(json.loads(out1) == json.loads(out2),
              "%s %s: JSON differs" % (b, label))
        compared += 1
check(compared == 2 * len(targets), "compared %d of %d" % (compared,
                                                          2 * len(targets)))
# the points differ from each other (the test restores distinct states)
hashes = {restore(env, [DATA, "--board", small, "--until", "seq:%d" % s])[2]
          for _, s, _ in points}
check(len(hashes) == len(points), "phases gave %d distinct states" % len(hashes))

# --into: a data directory a node can serve (once the boards pass, every
# 2 s, has exported the board's metadata)
wait_until(lambda: db.boards.find_one({"_id": big}), 20, "the boards pass")
INTO = os.path.join(env.tmp, "into")
rc, out, h = restore(env, ["--from-mongo", mongo.url, "--board", big,
                           "--into", INTO])
_, _, h_local = restore(env, [DATA, "--board", big])
rc2, _, h2 = restore(env, [INTO, "--board", big])
check(rc == 0 and rc2 == 0 and h == h_local == h2,
      "--into: rc %d/%d hashes mongo %s local %s into %s" % (rc, rc2, h,
                                                            h_local, h2))
rc, _, _ = restore(env, ["--from-mongo", mongo.url, "--board", big,
                         "--into", INTO])
check(rc == 1, "--into a directory that has the board: rc %d" % rc)
# the runbook's next step: a node started on that directory serves the
# board, to its owner (the metadata came from `boards`)
st0, want = http(node.url + "/api/v1/boards/" + big, token=tok)
node2 = Node(env, INTO, None, ["--jwt-secret", SECRET, "--guest", "on"])
st, got = http(node2.url + "/api/v1/boards/" + big, token=tok)
check(st0 == 200 and st == 200 and isinstance(got, dict) and
      got.get("elements") == want.get("elements") and
      got.get("title") == "big",
      "node on --into dir: %s %r" % (st, got if st != 200 else got.get("title")))
node2.term()
rc, _, _ = restore(env, ["--from-mongo", mongo.url, "--board", "nosuchboard"])
check(rc == 1, "unknown board: rc %d" % rc)
info("compared %d restores (2 boards x %d targets)" % (compared, len(targets)))
node.term()
mongo.stop()
finish()
