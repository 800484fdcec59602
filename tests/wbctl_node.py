#!/usr/bin/env python3
"""wbctl_node.py WHITEBOARDD WBCTL TMPDIR: wbctl against a real node.

Called by tests/test_wbctl_node.sh. Exit status: the number of failed
checks (capped at 100). Only the node processes started here are signalled,
by PID.

  1. Tokens minted by `wbctl token` with the node's JWT_SECRET are accepted
     (global role, per-board role); tampered ones, ones signed with another
     secret and a viewer writing are refused.
  2. Restore equivalence: ops go in through the REST API in rounds (one
     board snapshot in between); after each round the board is read back
     (GET) with the round's oplog seq and a time after it. While the node
     still runs, `wbctl restore --until seq:N` and `--until @TIME` give
     exactly those elements and version vectors.
  3. While it runs, `wbctl compact` is refused (lock) and `wbctl stats`
     works. After SIGTERM, `wbctl restore --until seq:N --as FORK` forks
     round 2; the restarted node serves the fork with round 2's elements
     and the original with the last round's.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN, WBCTL, TMP = (os.path.abspath(a) for a in sys.argv[1:4])
DATA = os.path.join(TMP, "data")
SECRET = "wbctl-node-test-secret-0123456789abcdef"
SECRET_FILE = os.path.join(TMP, "secret")
START_TIMEOUT = 60.0
fails = 0
checks = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL: " + msg, flush=True)


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Node:
    def __init__(self):
        self.port = free_port()
        env = dict(os.environ)
        env.pop("JWT_SECRET_PREVIOUS", None)
        env["JWT_SECRET"] = SECRET
        env["WB_GUEST"] = "off"
        self.log = open(os.path.join(TMP, "node.log"), "ab")
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", DATA, "--listen", "127.0.0.1:%d" % self.port,
             "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=TMP)
        self.url = "http://127.0.0.1:%d" % self.port
        box = []
        t = threading.Thread(target=lambda: box.append(
            self.proc.stdout.readline().decode("utf-8", "replace")))
        t.daemon = True
        t.start()
        t.join(START_TIMEOUT)
        if not box or "listening on" not in box[0]:
            fail("node did not start: %r" % box)
            self.stop(sig=signal.SIGKILL)
            raise SystemExit(min(fails, 100))
        for _ in range(600):  # /readyz: recovery done
            if http(self.url + "/readyz")[0] == 200:
                break
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail("node still running %ds after signal %d" % (timeout, sig))
            self.proc.kill()
            rc = self.proc.wait(30)
        self.log.close()
        return rc


def http(url, method="GET", token=None, body=None, timeout=20):
    """(status, parsed JSON or text); status 0: no answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def wbctl(*args, want=0):
    p = subprocess.run([WBCTL] + list(args), capture_output=True, timeout=120)
    out, err = p.stdout.decode(), p.stderr.decode()
    check(p.returncode == want, "wbctl %s: exit %d, want %d: %s" %
          (" ".join(args), p.returncode, want, err.strip()[:300]))
    return out, err


def token(*args):
    out, _ = wbctl("token", "--secret-file", SECRET_FILE, *args)
    return out.splitlines()[-1] if out else ""


def same_state(got, want, what):
    check(got.get("elements") == want.get("elements"),
          "%s: elements differ (%d vs %d)" % (what, len(got.get("elements", [])),
                                              len(want.get("elements", []))))
    check(got.get("version") == want.get("version"),
          "%s: version %r vs %r" % (what, got.get("version"), want.get("version")))


def main():
    with open(SECRET_FILE, "w") as f:
        f.write(SECRET + "\n")
    node = Node()
    api = node.url + "/api/v1/boards"

    # --- 1. tokens ----------------------------------------------------------------
    owner = token("--user", "ops", "--all-boards", "owner", "--ttl", "600")
    st, b = http(api, "POST", owner, {"title": "wbctl <test>"})
    if not check(st == 201 and isinstance(b, dict) and "id" in b,
                 "create board with a wbctl token: %s %r" % (st, b)):
        node.stop()
        return
    bid = b["id"]
    check(http(api, token=owner)[0] == 200, "list boards with a wbctl token")
    h, p, s = owner.split(".")
    flip = "A" if p[5] != "A" else "B"
    tampered = ".".join([h, p[:5] + flip + p[6:], s])
    check(http(api, token=tampered)[0] == 401, "tampered token accepted")
    with open(os.path.join(TMP, "other"), "w") as f:
        f.write("another-secret-of-more-than-32-bytes-xx\n")
    other, _ = wbctl("token", "--secret-file", os.path.join(TMP, "other"),
                     "--user", "ops", "--all-boards", "owner")
    check(http(api, token=other.splitlines()[-1])[0] == 401,
          "token signed with another secret accepted")
    viewer = token("--user", "v1", "--board", bid, "--role", "viewer")
    check(http(api + "/" + bid, token=viewer)[0] == 200, "viewer cannot read")
    st, _ = http(api + "/" + bid + "/ops", "POST", viewer,
                 [{"op": "upsert", "id": "nope", "type": "rect",
                   "props": {"x": 1, "y": 1}}])
    check(st == 403, "viewer wrote (status %s)" % st)

    # --- 2. rounds of ops, recorded states --------------------------------------
    rounds = []
    cid = 0
    for r in range(1, 5):
        seq = 0
        for j in range(5):
            ops = [{"op": "upsert", "id": "r%d-%d" % (r, j), "type": "rect",
                    "clientOpId": cid + 1,
                    "props": {"x": 10 * j + r, "y": 20 * r, "width": 30,
                              "height": 20, "fillColor": "#ffcc00"}}]
            if r >= 2 and j == 0:
                ops.append({"op": "upsert", "id": "r%d-1" % (r - 1),
                            "clientOpId": cid + 2, "props": {"x": 500 + r}})
            if r == 3 and j == 1:
                ops.append({"op": "delete", "id": "r1-2", "clientOpId": cid + 3})
            cid += 10
            st, a = http(api + "/" + bid + "/ops", "POST", owner, ops)
            if not check(st == 200 and isinstance(a, dict) and "seq" in a,
                         "round %d ops: %s %r" % (r, st, a)):
                node.stop()
                return
            seq = a["seq"]
        if r == 2:
            st, _ = http(api + "/" + bid + "/snapshots", "POST", owner)
            check(st == 201, "snapshot through the API: %s" % st)
        st, state = http(api + "/" + bid, token=owner)
        check(st == 200, "GET board round %d" % r)
        time.sleep(0.02)
        t_us = int(time.time() * 1e6)
        time.sleep(0.02)
        rounds.append((seq, t_us, state))

    # Restore each round while the node runs (read-only, beside it).
    for i, (seq, t_us, state) in enumerate(rounds):
        out, _ = wbctl("restore", DATA, "--board", bid, "--until", "seq:%d" % seq)
        same_state(json.loads(out or "{}"), state, "round %d by seq" % (i + 1))
        out, _ = wbctl("restore", DATA, "--board", bid, "--until",
                       "@%d.%06d" % (t_us // 1000000, t_us % 1000000))
        same_state(json.loads(out or "{}"), state, "round %d by time" % (i + 1))

    # --- 3. beside the node, then a fork served by it ---------------------------
    _, err = wbctl("compact", DATA, want=1)
    check("a node is running" in err, "compact beside the node: %s" % err)
    out, _ = wbctl("stats", DATA, "--json")
    st = json.loads(out or "{}")
    check(bid in st.get("boards", {}).get("ids", []), "stats lacks the board")
    check(st.get("oplog", {}).get("last_seq", 0) >= rounds[-1][0], "stats last_seq")
    _, err = wbctl("restore", DATA, "--board", bid, "--as", "forked", want=1)

    check(node.stop() == 0, "node exit status after SIGTERM")
    fork = bid + "-r2"
    out, _ = wbctl("restore", DATA, "--board", bid, "--until",
                   "seq:%d" % rounds[1][0], "--as", fork)
    node = Node()
    api = node.url + "/api/v1/boards"
    st, got = http(api + "/" + fork, token=owner)
    if check(st == 200, "GET fork from the node: %s %r" % (st, got)):
        same_state(got, rounds[1][2], "fork served by the node")
    st, got = http(api + "/" + bid, token=owner)
    if check(st == 200, "GET original after the fork: %s" % st):
        same_state(got, rounds[-1][2], "original after the fork")
    # The fork is a board of its own: an op on it leaves the original alone.
    st, _ = http(api + "/" + fork + "/ops", "POST", owner,
                 [{"op": "upsert", "id": "only-in-fork", "type": "rect",
                   "clientOpId": 99999, "props": {"x": 1, "y": 2}}])
    check(st == 200, "op on the fork: %s" % st)
    st, got = http(api + "/" + bid, token=owner)
    check(st == 200 and all(e["id"] != "only-in-fork" for e in got["elements"]),
          "an op on the fork reached the original")
    check(node.stop() == 0, "node exit status after the second SIGTERM")


try:
    main()
except SystemExit:
    raise
except Exception as e:  # report, never hang
    fail("exception: %r" % e)
print("wbctl_node: %d checks, %d failed" % (checks, fails))
sys.exit(min(fails, 100))
