#!/usr/bin/env python3
"""repl_cluster.py BIN TMP SCENARIO: replication tests against a real
redis-server and three real whiteboardd nodes, all on 127.0.0.1 with free
ports, started (and killed, by PID only) here.

Scenarios (docs/replication.md; the issue's tests 1-6):
  converge  clients on every node write concurrently to the same boards;
            after quiescence all nodes return identical boards, equal to
            the last-writer-wins merge of every op the nodes logged (which
            includes every acknowledged op).
  redis     Redis is killed for seconds mid-traffic and restarted, first
            with its data (appendonly), then without: nodes keep acking
            local writes, then converge; nothing acknowledged is missing.
  kill      one node is SIGKILLed mid-traffic and restarted: converges.
  gap       a node is stopped longer than the stream retention; on return
            it reports the gap (log, replication_gap_total), repairs from
            peers and converges.
  rotate    the same while a JWT secret rotation is half rolled out: the
            returning node has the new secret (and the old as previous),
            its peers only the old one; internal requests are verified
            with either and a refused one is signed again with the old.
  ws        WebSocket client moves from node A to node B with its version
            token (tests/repl_ws.mjs): every missed op exactly once, its
            unacked resends apply once; then the board is deleted on A and
            a session on B is closed with 4004.
  latency   op written on A (WebSocket) seen by a client on B: p50/p99;
            presence crosses nodes (Redis pub/sub) both ways.
  corrupt   stream entries, metadata and heartbeats no node wrote (cut
            and oversized record lengths, bytes that are no batch, board
            ids that are no ids, bad JSON): each is logged and skipped,
            the node stays up and replication goes on past them; an
            entry whose q is above its ops does not hide a later gap.
Prints "FAIL: ..." per failed check; exits with the number of failures.
"""
import atexit
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN, TMP, SCENARIO = sys.argv[1], sys.argv[2], sys.argv[3]
SRC = os.path.dirname(os.path.abspath(__file__))
SECRET = "repl-test-secret-0123456789abcdef0123456789"
NEW_SECRET = "repl-test-secret-rotated-0123456789abcdef01"
START_TIMEOUT = 60.0
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL: " + msg, flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def note(msg):
    print("  " + msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


STARTED = []


def kill_started():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


atexit.register(kill_started)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def http(url, method="GET", token=None, body=None, timeout=10):
    """(status, parsed JSON or text); status 0 when unreachable."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            st = r.status
    except urllib.error.HTTPError as e:
        raw, st = e.read(), e.code
    except (OSError, urllib.error.URLError):
        return 0, None
    try:
        return st, json.loads(raw)
    except ValueError:
        return st, raw.decode("utf-8", "replace")


class Redis:
    def __init__(self, persist):
        self.port = free_port()
        self.dir = os.path.join(TMP, "redis")
        self.persist = persist
        self.proc = None
        self.start()

    def start(self, wipe=False):
        if wipe:
            shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--dir", self.dir,
                # small stream nodes: approximate MAXLEN trims at test sizes
                "--stream-node-max-entries", "4"]
        args += (["--appendonly", "yes", "--appendfsync", "always"]
                 if self.persist else ["--appendonly", "no"])
        log = open(os.path.join(TMP, "redis.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        STARTED.append(self.proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        fail("redis-server did not start")
        raise SystemExit(min(fails, 100))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def url(self):
        return "redis://127.0.0.1:%d" % self.port


class Node:
    def __init__(self, idx, redis, env=None):
        self.idx = idx
        self.id = 100 + idx
        self.port = free_port()
        self.data = os.path.join(TMP, "node%d" % idx)
        self.url = "http://127.0.0.1:%d" % self.port
        self.redis = redis
        self.env = env or {}
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ)
        env.update({"JWT_SECRET": SECRET, "WB_GUEST": "on",
                    "REDIS_URL": self.redis.url(), "WB_REDIS_SHARDS": "4",
                    "WB_LOG_LEVEL": "info", "WB_SNAPSHOT_OPS": "200"})
        env.update(self.env)
        extra = []
        if self.idx == 2:  # node 2 takes the URL as a flag (alias --redis)
            extra = ["--redis", env.pop("REDIS_URL")]
        self.logpath = os.path.join(TMP, "node%d.log" % self.idx)
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", self.data, "--listen",
             "127.0.0.1:%d" % self.port, "--node-id", str(self.id)] + extra,
            stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=TMP)
        STARTED.append(self.proc)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            st, _ = http(self.url + "/readyz", timeout=2)
            if st == 200:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        fail("node %d not ready" % self.idx)
        raise SystemExit(min(fails, 100))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def term(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            fail("node %d: SIGTERM did not stop it" % self.idx)
            self.kill()

    def metric(self, name):
        st, text = http(self.url + "/metrics")
        if st != 200 or not isinstance(text, str):
            return None
        m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name),
                      text, re.M)
        return float(m.group(1)) if m else None

    def log_has(self, text):
        with open(self.logpath, "rb") as f:
            return text.encode() in f.read()


def guest(node, name):
    st, r = http(node.url + "/api/v1/auth/guest", "POST", body={"name": name})
    if not check(st == 200, "guest sign-in: %s %r" % (st, r)):
        raise SystemExit(min(fails, 100))
    return r["token"]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    fail("timed out (%ds) waiting for %s" % (timeout, what))
    return False


def make_boards(nodes, token, n):
    boards = []
    for i in range(n):
        st, r = http(nodes[i % len(nodes)].url + "/api/v1/boards", "POST",
                     token, {"title": "repl %d" % i})
        check(st == 201, "create board: %s %r" % (st, r))
        boards.append(r["id"])
    wait_for(lambda: all(http(nd.url + "/api/v1/boards/" + b, token=token)[0]
                         == 200 for nd in nodes for b in boards),
             20, "board metadata on every node")
    return boards


# ---- writers ---------------------------------------------------------------

class Writers:
    """Threads posting small batches (upserts and deletes over a few
    element ids per board, so nodes conflict) to every node; records the
    client op ids that were acknowledged and whether acks kept coming
    during a window."""

    def __init__(self, nodes, token, boards, per_node=2):
        self.nodes, self.token, self.boards = nodes, token, boards
        self.stop = threading.Event()
        self.acked = []  # (node idx, board, cid)
        self.ack_times = []
        self.errors = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(nd, k), daemon=True)
                        for nd in nodes for k in range(per_node)]

    def run(self, nd, k):
        rnd = random.Random(nd.idx * 1000 + k)
        seq = 0
        while not self.stop.is_set():
            b = rnd.choice(self.boards)
            ops = []
            for _ in range(rnd.randint(1, 3)):
                seq += 1
                cid = "%d%02d%06d" % (nd.idx, k, seq)
                el = "e%d" % rnd.randint(0, 7)
                if rnd.random() < 0.15:
                    ops.append({"op": "delete", "id": el, "clientOpId": cid})
                else:
                    props = {"x": rnd.randint(-500, 500), "y": rnd.randint(0, 900)}
                    if rnd.random() < 0.5:
                        props["fillColor"] = "#%06x" % rnd.randint(0, 0xffffff)
                    op = {"op": "upsert", "id": el, "clientOpId": cid, "props": props}
                    if rnd.random() < 0.6:
                        op["type"] = "rect"
                    ops.append(op)
            st, r = http(nd.url + "/api/v1/boards/%s/ops" % b, "POST",
                         self.token, ops, timeout=10)
            with self.lock:
                if st == 200:
                    for op in ops:
                        self.acked.append((nd.idx, b, op["clientOpId"]))
                    self.ack_times.append((time.monotonic(), nd.idx))
                else:
                    self.errors += 1
            if st != 200:
                time.sleep(0.05)
            time.sleep(rnd.uniform(0.005, 0.03))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def acks_between(self, t0, t1, idx=None):
        with self.lock:
            return sum(1 for t, i in self.ack_times
                       if t0 <= t <= t1 and (idx is None or i == idx))


# ---- the expected state: LWW over every logged op ---------------------------

def history(node, token, board):
    """Every op of board in node's oplog with its stamp."""
    out, since = [], 0
    for _ in range(10000):
        st, r = http(node.url + "/api/v1/boards/%s/ops?since=%d&limit=1000"
                     % (board, since), token=token, timeout=30)
        if not check(st == 200, "history %s: %s %r" % (board, st, r)):
            return out
        for bt in r["batches"]:
            out.extend(bt["ops"])
        since = r["next"]
        if not r["more"]:
            break
    return out


def lww(ops):
    """docs/board-model.md 2 over ops (history JSON): visible elements as
    {id: {prop: value}}."""
    recs = {}
    for op in ops:
        s = op["stamp"]
        stamp = (int(s["hlc"]), int(s["node"]), int(s["oseq"]))
        rec = recs.setdefault(op["id"], {"tomb": None, "props": {}})
        if op["kind"] == "delete":
            if rec["tomb"] is None or stamp > rec["tomb"]:
                rec["tomb"] = stamp
                rec["props"] = {k: v for k, v in rec["props"].items()
                                if v[0] > stamp}
            continue
        if rec["tomb"] is not None and stamp <= rec["tomb"]:
            continue
        for k, v in op["props"].items():
            if k not in rec["props"] or stamp > rec["props"][k][0]:
                rec["props"][k] = (stamp, v)
    return {eid: {k: v[1] for k, v in r["props"].items()}
            for eid, r in recs.items() if "type" in r["props"]}


def board_view(node, token, board):
    st, r = http(node.url + "/api/v1/boards/" + board, token=token)
    if st != 200:
        return None
    els = {e["id"]: {k: v for k, v in e.items() if k != "id"}
           for e in r["elements"]}
    return els, r["version"]


def converged(nodes, token, boards, with_version=True):
    for b in boards:
        views = [board_view(nd, token, b) for nd in nodes]
        if any(v is None for v in views):
            return False
        key = [(v[0], v[1] if with_version else None) for v in views]
        if any(k != key[0] for k in key):
            return False
    return True


def check_converged(nodes, token, boards, acked, timeout=40,
                    with_version=True, what=""):
    """Waits for identical boards on every node, then checks them against
    the LWW merge of every op the nodes logged as origin, and that every
    acknowledged op is among those."""
    if not wait_for(lambda: converged(nodes, token, boards, with_version),
                    timeout, "convergence " + what):
        for b in boards:
            for nd in nodes:
                v = board_view(nd, token, b)
                note("node %d board %s: %d elements version %s" % (
                    nd.idx, b, len(v[0]) if v else -1, v[1] if v else None))
        return False
    ok = True
    for b in boards:
        ops = []
        for nd in nodes:
            ops += [o for o in history(nd, token, b)
                    if int(o["stamp"]["node"]) == nd.id]
        logged = {(int(o["stamp"]["node"]) - 100, o["opId"]) for o in ops}
        missing = [a for a in acked if a[1] == b and (a[0], a[2]) not in logged]
        ok &= check(not missing, "%s: %d acknowledged ops of board %s are in "
                    "no origin's oplog, e.g. %r" % (what, len(missing), b,
                                                    missing[:3]))
        want = lww(ops)
        got = board_view(nodes[0], token, b)[0]
        if not check(got == want, "%s: board %s differs from the LWW merge of "
                     "its %d logged ops (%d vs %d elements)" % (
                         what, b, len(ops), len(got), len(want))):
            ok = False
            for eid in sorted(set(got) | set(want))[:5]:
                if got.get(eid) != want.get(eid):
                    note("  %s: node %r, merge %r" % (eid, got.get(eid), want.get(eid)))
    note("%s: %d boards identical on %d nodes, %d acked ops, all logged, "
         "state = LWW merge" % (what, len(boards), len(nodes), len(acked)))
    return ok


# ---- scenarios ------------------------------------------------------------------

def cluster(persist=False, env=None):
    redis = Redis(persist)
    nodes = [Node(i, redis, env) for i in (1, 2, 3)]
    token = guest(nodes[0], "tester")
    return redis, nodes, token


def sc_converge():
    redis, nodes, token = cluster()
    boards = make_boards(nodes, token, 3)
    w = Writers(nodes, token, boards)
    w.start()
    time.sleep(4)
    w.finish()
    check(len(w.acked) > 100, "only %d ops acknowledged" % len(w.acked))
    check_converged(nodes, token, boards, w.acked, what="concurrent writers")
    for nd in nodes:
        check(nd.metric("redis_up") == 1, "node %d redis_up != 1" % nd.idx)
        check((nd.metric("replication_published_total") or 0) > 0,
              "node %d published nothing" % nd.idx)
        check((nd.metric("replication_applied_total") or 0) > 0,
              "node %d applied nothing" % nd.idx)
        check(nd.metric("replication_gap_total") == 0,
              "node %d reports a gap" % nd.idx)
    # the replication series, per peer, and a scrape promtool accepts
    st, text = http(nodes[0].url + "/metrics")
    for peer in (102, 103):
        for name in ("replication_lag_seconds", "replication_lag_ops"):
            check('%s{peer="%d"}' % (name, peer) in text,
                  "node 1 has no %s for peer %d" % (name, peer))
    tool = shutil.which("promtool")
    if tool:
        p = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        check(p.returncode == 0, "promtool check metrics: %s"
              % (p.stdout + p.stderr).decode("utf-8", "replace")[:1000])
    else:
        note("SKIP promtool: not installed (infra/deps.sh --test)")
    # board metadata is replicated too: a delete on node 3 is a 404 everywhere
    st, _ = http(nodes[2].url + "/api/v1/boards/" + boards[0], "DELETE", token)
    check(st == 200, "DELETE board on node 3: %s" % st)
    wait_for(lambda: all(http(nd.url + "/api/v1/boards/" + boards[0],
                              token=token)[0] == 404 for nd in nodes),
             10, "the deleted board to answer 404 on every node")


def outage(redis, nodes, token, boards, wipe, what):
    w = Writers(nodes, token, boards)
    w.start()
    time.sleep(1.5)
    redis.kill()
    t0 = time.monotonic()
    wait_for(lambda: all(nd.metric("redis_up") == 0 for nd in nodes), 10,
             "redis_up 0 on every node (%s)" % what)
    time.sleep(3)
    t1 = time.monotonic()
    redis.start(wipe=wipe)
    time.sleep(1.5)
    w.finish()
    for nd in nodes:
        check(w.acks_between(t0, t1, nd.idx) > 5,
              "%s: node %d acknowledged only %d writes while Redis was down"
              % (what, nd.idx, w.acks_between(t0, t1, nd.idx)))
    wait_for(lambda: all(nd.metric("redis_up") == 1 for nd in nodes), 20,
             "redis_up 1 again (%s)" % what)
    check_converged(nodes, token, boards, w.acked, with_version=not wipe,
                    what=what)
    for nd in nodes:
        check(nd.log_has("Redis unavailable") and nd.log_has("Redis is back"),
              "node %d did not log Redis going away and coming back" % nd.idx)
    return w


def sc_redis():
    redis, nodes, token = cluster(persist=True)
    boards = make_boards(nodes, token, 3)
    outage(redis, nodes, token, boards, False, "Redis restarted with its data")
    gaps0 = [nd.metric("replication_gap_total") or 0 for nd in nodes]
    check(sum(gaps0) == 0, "gaps reported after a restart WITH data: %r" % gaps0)
    outage(redis, nodes, token, boards, True, "Redis restarted without data")
    gaps1 = [nd.metric("replication_gap_total") or 0 for nd in nodes]
    for nd, g in zip(nodes, gaps1):
        check(g > 0, "node %d did not report the data loss as a gap" % nd.idx)
        check(nd.log_has("Redis lost its data"),
              "node %d did not log that Redis lost its data" % nd.idx)
    note("gaps reported after the restart without data: %r" % gaps1)


def sc_kill():
    redis, nodes, token = cluster()
    boards = make_boards(nodes, token, 3)
    w = Writers(nodes, token, boards)
    w.start()
    time.sleep(1.5)
    nodes[1].kill()
    time.sleep(2)
    nodes[1].start()
    time.sleep(1.5)
    w.finish()
    check(w.errors > 0, "no write failed while node 2 was down (not killed?)")
    check_converged(nodes, token, boards, w.acked,
                    what="node 2 SIGKILLed and restarted")


def signed_get(node, path, secret):
    """A GET of the internal API signed like repl_auth.c does."""
    ts = int(time.time())
    msg = ("wb-internal-v1\n%d\nGET %s" % (ts, path)).encode()
    mac = hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()
    req = urllib.request.Request(node.url + path, headers={
        "Authorization": "WB-Node %d.%s" % (ts, mac)})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def sc_gap(rotate=False):
    redis, nodes, token = cluster(env={"WB_REDIS_RETENTION": "10"})
    boards = make_boards(nodes, token, 3)
    if rotate:
        # node 3 has the new secret, nodes 1 and 2 not yet: node 3 verifies
        # with both; its repair is signed with the new one, refused (401),
        # and asked again with the previous one
        nodes[2].env = {"WB_REDIS_RETENTION": "10", "JWT_SECRET": NEW_SECRET,
                        "JWT_SECRET_PREVIOUS": SECRET}
        nodes[2].term()
        nodes[2].start()
        path = "/internal/v1/boards/%s/state" % boards[0]
        check(signed_get(nodes[2], path, SECRET) == 200,
              "node 3 refuses a peer signature by its previous secret")
        check(signed_get(nodes[2], path, NEW_SECRET) == 200,
              "node 3 refuses a peer signature by its current secret")
        check(signed_get(nodes[2], path, "some-other-secret-0123456789abcdef")
              == 401, "node 3 takes a signature by an unknown secret")
        check(signed_get(nodes[0], path, NEW_SECRET) == 401,
              "node 1 takes a signature by a secret it does not have")
    w = Writers(nodes, token, boards)
    w.start()
    time.sleep(1)
    nodes[2].term()
    before = len(w.acked)
    time.sleep(4)
    stopped_acks = len(w.acked) - before
    w.finish()
    check(stopped_acks > 60, "only %d acks while node 3 was away (need far "
          "more entries than the retention of 10)" % stopped_acks)
    nodes[2].start()
    wait_for(lambda: (nodes[2].metric("replication_gap_total") or 0) >= 1, 20,
             "node 3 to report the gap (replication_gap_total)")
    check(nodes[2].log_has("replication gap"), "node 3 did not log the gap")
    wait_for(lambda: nodes[2].log_has("replication gap repaired"), 30,
             "node 3 to log the repair")
    if rotate:
        check(any(nd.log_has("internal request refused: bad or missing node "
                             "signature") for nd in nodes[:2]),
              "no peer refused node 3's new-secret signature: the retry "
              "with the previous secret was not exercised")
    check_converged(nodes, token, boards, w.acked, with_version=False,
                    what="node 3 back after the retention")
    # and it keeps up with new writes afterwards
    w2 = Writers(nodes, token, boards, per_node=1)
    w2.start()
    time.sleep(1.5)
    w2.finish()
    check_converged(nodes, token, boards, w.acked + w2.acked,
                    with_version=False, what="writes after the repair")


def run_node_script(args, timeout=120):
    script = os.path.join(SRC, "repl_ws.mjs")
    try:
        r = subprocess.run(["node", "--experimental-websocket",
                            "--no-warnings", script] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("repl_ws.mjs did not finish in %ds" % timeout)
        return ""
    out = r.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    if r.returncode != 0:
        fail("repl_ws.mjs reported %d failure(s)" % r.returncode)
    return out


def sc_ws():
    redis, nodes, token = cluster()
    boards = make_boards(nodes, token, 1)
    w = Writers([nodes[2]], token, boards, per_node=1)
    w.start()  # a third party keeps writing through node 3
    run_node_script(["move", nodes[0].url, nodes[1].url, SECRET, boards[0]])
    w.finish()
    check_converged(nodes, token, boards, w.acked, what="after the move")
    run_node_script(["gone", nodes[0].url, nodes[1].url, SECRET, boards[0]])


def sc_latency():
    redis, nodes, token = cluster()
    boards = make_boards(nodes, token, 1)
    run_node_script(["latency", nodes[0].url, nodes[1].url, SECRET, boards[0]])
    run_node_script(["presence", nodes[0].url, nodes[1].url, SECRET, boards[0]])


def resp(port, *args):
    """One Redis command over a raw socket (no client library needed)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), 5) as sk:
        sk.sendall(out)
        return sk.recv(65536)


def sc_corrupt():
    redis = Redis(False)
    nodes = [Node(1, redis), Node(2, redis)]
    token = guest(nodes[0], "tester")
    boards = make_boards(nodes, token, 2)
    # entries of a made-up origin with broken records, on every shard
    records = [b"\x32\x00\x00\x00" + b"x" * 10,   # length past the end
               b"\x03\x00\x00\x00abc",            # not a batch
               b"\x00\x00\x00\x00\x01",           # 1 byte left over
               b"\xff\xff\xff\xff"]               # length near 2^32
    for shard in range(4):
        for q, r in enumerate(records, 1):
            rep = resp(redis.port, "XADD", "wb:ops:%d" % shard, "*", "o",
                       "999", "t", "0", "q", str(q), "p", "0", "r", r)
            check(rep.startswith(b"$"), "XADD: %r" % rep)
        resp(redis.port, "XADD", "wb:ops:%d" % shard, "*", "o", "abc",
             "q", "x", "r", "")
    # metadata and heartbeats no node wrote
    bad = '{"u":1,"c":1,"t":"x","o":"","d":0}'
    resp(redis.port, "HSET", "wb:meta", "bad id\r\nX: y", bad)
    resp(redis.port, "HSET", "wb:meta", "../up", bad)
    resp(redis.port, "HSET", "wb:meta", "nojson", "{")
    resp(redis.port, "INCR", "wb:meta:ver")
    resp(redis.port, "HSET", "wb:nodes", "999", "{")
    resp(redis.port, "HSET", "wb:nodes", "998", json.dumps(
        {"addr": "127.0.0.1:1\r\nX: y", "ts": int(time.time() * 1000),
         "oseq": 1}))
    for nd in nodes:
        wait_for(lambda: nd.log_has("truncated stream entry") and
                 nd.log_has("undecodable batch dropped"), 20,
                 "node %d to log the broken stream entries" % nd.idx)
        for key, err in (("bad id\\r\\nX: y", "WB_EINVAL"),
                         ("../up", "WB_EINVAL"), ("nojson", "WB_EMALFORMED")):
            wait_for(lambda: nd.log_has('refused (bad id or JSON)","key":"%s",'
                                        '"err":"%s"' % (key, err)), 20,
                     "node %d to refuse the metadata of %r" % (nd.idx, key))
        check(http(nd.url + "/readyz")[0] == 200,
              "node %d not ready after the broken entries" % nd.idx)
        other = 103 - nd.idx  # 102 for node 1, 101 for node 2
        text = http(nd.url + "/metrics")[1]
        check('replication_lag_ops{peer="%d"}' % other in text and
              'peer="998"' not in text,
              "node %d: the heartbeat with a CR/LF address is a peer" % nd.idx)
    # replication goes on past them
    w = Writers(nodes, token, boards, per_node=1)
    w.start()
    time.sleep(2)
    w.finish()
    check(len(w.acked) > 20, "only %d ops acknowledged" % len(w.acked))
    check_converged(nodes, token, boards, w.acked, what="after broken entries")
    for nd in nodes:
        check(nd.metric("replication_gap_total") == 0,
              "node %d reports a gap" % nd.idx)
    # An entry of a real origin (node 1) whose q is far above its ops must
    # not raise what node 2 has seen of node 1: a later entry whose p shows
    # lost entries (p = 10^6, below that forged q) is still a gap, repaired
    # from node 1.
    for shard in range(4):
        resp(redis.port, "XADD", "wb:ops:%d" % shard, "*", "o", "101",
             "t", "0", "q", str(10 ** 15), "p", "0", "r", b"")
        resp(redis.port, "XADD", "wb:ops:%d" % shard, "*", "o", "101",
             "t", "0", "q", str(2 * 10 ** 6), "p", str(10 ** 6), "r", b"")
    wait_for(lambda: nodes[1].log_has("stream entry's q does not match its "
                                      "ops"), 20,
             "node 2 to log the entry whose q does not match its ops")
    wait_for(lambda: (nodes[1].metric("replication_gap_total") or 0) >= 1, 20,
             "node 2 to see the gap behind the forged q")
    wait_for(lambda: nodes[1].log_has("replication gap repaired"), 30,
             "node 2 to repair the gap")
    check(nodes[0].metric("replication_gap_total") == 0,
          "node 1 reports a gap for its own entries")
    w = Writers(nodes, token, boards, per_node=1)
    w.start()
    time.sleep(1)
    w.finish()
    check_converged(nodes, token, boards, w.acked, what="after the repair")
    for nd in nodes:
        nd.term()
        check(nd.proc.returncode == 0, "node %d exit %s" % (nd.idx,
                                                         nd.proc.returncode))


def main():
    os.makedirs(TMP, exist_ok=True)
    {"converge": sc_converge, "redis": sc_redis, "kill": sc_kill,
     "gap": sc_gap, "rotate": lambda: sc_gap(rotate=True), "ws": sc_ws, "latency": sc_latency,
     "corrupt": sc_corrupt}[SCENARIO]()
    kill_started()
    return min(fails, 100)


if __name__ == "__main__":
    sys.exit(main())
