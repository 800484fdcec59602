"""mirror_lib.py: what the Mongo mirror tests (tests/mirror_*.py) share.

Processes: the test double tests/mongo_server.py (a MongoDB-wire server on
mockupdb + mongomock; NOT MongoDB, see docs/mongo.md) and whiteboardd nodes,
each on 127.0.0.1 and a free port. Every process started here is recorded
and killed (by its PID) at exit, also when a check raises. Every wait is
bounded in time.

The expected values always come from the node's own oplog, read with
`wbctl inspect DATA/oplog --json`, never from Mongo.

Run with /usr/bin/python3 (pymongo, mockupdb and mongomock are Debian's).
"""
import atexit
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pymongo

fails = 0
STARTED = []


def fail(msg):
    global fails
    fails += 1
    print("FAIL: " + msg, flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def info(msg):
    print(msg, flush=True)


def kill_started():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                pass


atexit.register(kill_started)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout, what, step=0.1):
    """Polls fn() until truthy; returns its value, or None after timeout
    (and records a failure naming what)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    fail("timed out after %.0fs waiting for %s" % (timeout, what))
    return None


class Env:
    """Paths from the command line: BUILD SOURCE TMP."""

    def __init__(self, argv):
        self.build, self.src, self.tmp = argv[1], argv[2], argv[3]
        self.bin = os.environ.get("WHITEBOARDD",
                                  os.path.join(self.build, "net/whiteboardd"))
        self.wbctl = os.path.join(self.build, "tools/wbctl")
        self.server = os.path.join(self.src, "tests/mongo_server.py")
        os.makedirs(self.tmp, exist_ok=True)


class Mongo:
    """One tests/mongo_server.py process. data: persistence file or None."""

    def __init__(self, env, data=None, port=0, extra=()):
        self.env = env
        self.data = data
        self.port_file = os.path.join(env.tmp, "mongo.port.%d" % len(STARTED))
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        args = [sys.executable, env.server, "--port-file", self.port_file,
                "--port", str(port)]
        if data:
            args += ["--data", data]
        args += list(extra)
        self.log = open(os.path.join(env.tmp, "mongo.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        STARTED.append(self.proc)
        got = wait_until(lambda: os.path.exists(self.port_file) or
                         self.proc.poll() is not None, 20, "mongo_server start")
        if not got or self.proc.poll() is not None:
            raise SystemExit("mongo_server did not start")
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = "mongodb://127.0.0.1:%d/wbtest" % self.port

    def client(self):
        return pymongo.MongoClient("127.0.0.1", self.port,
                                   serverSelectionTimeoutMS=5000)

    def db(self):
        return self.client().wbtest

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class Node:
    """One whiteboardd over data_dir; mongo_url None: no mirror."""

    def __init__(self, env, data_dir, mongo_url=None, flags=()):
        self.env = env
        self.data = data_dir
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        args = [env.bin, "--data-dir", data_dir, "--listen",
                "127.0.0.1:%d" % self.port, "--log-level", "info",
                "--rate-conn", "0", "--rate-user", "0", "--rate-ip", "0"]
        if mongo_url:
            args += ["--mongo", mongo_url]
        args += list(flags)
        environ = dict(os.environ)
        for k in ("JWT_SECRET", "JWT_SECRET_PREVIOUS", "WB_GUEST", "MONGO_URL",
                  "REDIS_URL"):
            environ.pop(k, None)
        self.log_path = os.path.join(env.tmp, "node.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=environ,
                                     cwd=env.tmp)
        STARTED.append(self.proc)
        if not wait_until(self.ready, 60, "node ready"):
            raise SystemExit("node did not start")

    def ready(self):
        if self.proc.poll() is not None:
            raise SystemExit("node exited with %s" % self.proc.returncode)
        st, _ = http(self.url + "/readyz", timeout=2)
        return st == 200

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def term(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            fail("node did not stop on SIGTERM within 60 s")
            self.kill()
            return None
        return rc

    def metrics(self):
        st, text = http(self.url + "/metrics", raw=True)
        out = {}
        if st != 200:
            return out
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, _, val = line.rpartition(" ")
            try:
                out[name] = float(val)
            except ValueError:
                pass
        return out

    def guest(self, name):
        st, r = http(self.url + "/api/v1/auth/guest", "POST",
                     body={"name": name})
        if st != 200:
            raise SystemExit("guest sign-in: %s %r" % (st, r))
        return r["token"], r["userId"]

    def board(self, token, title):
        st, r = http(self.url + "/api/v1/boards", "POST", token,
                     {"title": title})
        if st != 201:
            raise SystemExit("create board: %s %r" % (st, r))
        return r["id"]

    def post(self, token, board, ops):
        st, r = http(self.url + "/api/v1/boards/%s/ops" % board, "POST",
                     token, ops)
        check(st == 200 and r.get("applied") == len(ops),
              "post ops: %s %r" % (st, r))
        return r

    def snapshot(self, token, board):
        st, r = http(self.url + "/api/v1/boards/%s/snapshots" % board,
                     "POST", token)
        check(st in (200, 201, 202), "snapshot: %s %r" % (st, r))


def http(url, method="GET", token=None, body=None, timeout=20, raw=False):
    data = None
    req = urllib.request.Request(url, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data, timeout=timeout) as resp:
            text = resp.read().decode("utf-8", "replace")
            st = resp.status
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        st = e.code
    except (urllib.error.URLError, OSError):
        return 0, None
    if raw:
        return st, text
    try:
        return st, json.loads(text)
    except ValueError:
        return st, text


def oplog_ops(env, data_dir):
    """Every op in the node's oplog, from `wbctl inspect --json`: a list of
    dicts {seq, time_us, board, kind, user, id, node, oseq, hlc, props}."""
    p = subprocess.run([env.wbctl, "inspect", os.path.join(data_dir, "oplog"),
                        "--json"], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("wbctl inspect: %s" % p.stderr.decode()[-500:])
    out = []
    for rec in json.loads(p.stdout)["records"]:
        if rec.get("type_name") != "ops":
            continue
        pl = rec["payload"]
        for op in pl["ops"]:
            st = op["stamp"]
            out.append({"seq": rec["seq"], "time_us": rec["time_us"],
                        "board": pl["board"], "kind": op["kind"],
                        "user": op["user"], "id": op["id"],
                        "node": st["node"], "oseq": int(st["oseq"]),
                        "hlc": int(st["hlc"]), "props": op.get("props")})
    return out


def local_snapshots(env, data_dir):
    p = subprocess.run([env.wbctl, "snapshots", data_dir, "--json"],
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit("wbctl snapshots: %s" % p.stderr.decode()[-500:])
    return json.loads(p.stdout)["snapshots"]


def stats(env, data_dir):
    p = subprocess.run([env.wbctl, "stats", data_dir, "--json"],
                       capture_output=True, timeout=60)
    return json.loads(p.stdout)


def caught_up(node, db, data_dir, env):
    """The mirror has exported every record (its stored cursor is the
    oplog's last seq: the gauge alone may be up to one round old) and every
    local snapshot (by count)."""
    m = node.metrics()
    if m.get("mirror_lag_ops", 1) != 0 or m.get("mongo_up", 0) != 1:
        return False
    st = stats(env, data_dir)
    if st["snapshots"].get("mirror_cursor") != st["oplog"]["last_seq"]:
        return False
    return db.snapshots.count_documents({}) >= len(local_snapshots(env, data_dir))


def restore(env, args):
    """Runs wbctl restore ARGS; returns (rc, stdout, state hash or None)."""
    p = subprocess.run([env.wbctl, "restore"] + args, capture_output=True,
                       timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    out = p.stdout.decode("utf-8", "replace")
    h = None
    for text in (err, out):
        i = text.find("state_hash=")
        if i >= 0:
            h = text[i + 11:i + 27]
    if p.returncode != 0:
        info("wbctl restore %s: rc %d: %s" % (" ".join(args), p.returncode,
                                              err.strip()[-400:]))
    return p.returncode, out, h


def rect(i, user_note=""):
    return {"op": "upsert", "id": "r%d" % i, "type": "rect",
            "props": {"x": i * 1.5, "y": -i, "width": 10 + i, "height": 5,
                      "fillColor": "#ff000080", "text": "note %d %s" % (i, user_note)}}


def day(us):
    return datetime.datetime.utcfromtimestamp(us / 1e6).strftime("%Y-%m-%d")


def finish():
    kill_started()
    if fails:
        print("%d check(s) failed" % fails)
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)
