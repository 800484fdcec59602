#!/usr/bin/env python3
"""wbctl_node.py WHITEBOARDD WBCTL TMPDIR [api]: wbctl against a real node.

Called by tests/test_wbctl_node.sh (and, with "api", by
tests/test_wbctl_api.sh: part 4 below instead of 1-3). Exit status: the number of failed
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
  4. ("api") `wbctl seed` and `wbctl snapshot take` through the REST API:
     seeded boards hold exactly the seed elements (all six types), owned
     by the minted user, the summary's seqs match the ops history; --token,
     --secret-env, guest sign-in on a development node; refusals (no
     credentials, tampered token, other secret, unknown board, viewer)
     exit 1 with the node's answer; the HTTP client's own errors (chunked,
     truncated, not HTTP, silent close, refused port, https) are named; a
     snapshot taken through the API is listed by `wbctl snapshots` and
     restores; a second take without new ops says so; a progress bar only
     under a terminal.
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
    def __init__(self, data=DATA, guest=False):
        self.port = free_port()
        env = dict(os.environ)
        env.pop("JWT_SECRET_PREVIOUS", None)
        env.pop("JWT_SECRET", None)
        if not guest:
            env["JWT_SECRET"] = SECRET
        env["WB_GUEST"] = "on" if guest else "off"
        self.log = open(os.path.join(TMP, "node.log"), "ab")
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", data, "--listen", "127.0.0.1:%d" % self.port,
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


# --- part "api": wbctl seed and snapshot take through the node's API ---------------

def wbctl_env(args, env=None, want=0, what=""):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([WBCTL] + args, capture_output=True, timeout=120, env=e)
    out, err = p.stdout.decode(), p.stderr.decode()
    check(p.returncode == want, "%s: wbctl %s: exit %d, want %d: %s" %
          (what, " ".join(args[:2]), p.returncode, want, err.strip()[:300]))
    return out, err


def check_seeded(url, tok, b, n, what):
    """Board b of a seed summary holds exactly seed-00000.. seed-(n-1) of
    all six types, and its last op batch has the summary's seq."""
    st, got = http(url + "/api/v1/boards/" + b["id"], token=tok)
    if not check(st == 200, "%s: GET %s: %s" % (what, b["id"], st)):
        return
    ids = [e["id"] for e in got["elements"]]
    check(ids == ["seed-%05d" % k for k in range(n)],
          "%s: %d elements, want %d seed ids" % (what, len(ids), n))
    types = {e["type"] for e in got["elements"]}
    check(n < 6 or types == {"rect", "ellipse", "sticky", "text", "arrow",
                             "stroke"}, "%s: element types %r" % (what, types))
    st, h = http(url + "/api/v1/boards/%s/ops?since=0&limit=1000" % b["id"],
                 token=tok)
    if check(st == 200, "%s: ops history %s" % (what, st)):
        seqs = [x["seq"] for x in h["batches"]]
        check((seqs[-1] if seqs else 0) == b["seq"],
              "%s: summary seq %r, history %r" % (what, b["seq"], seqs))


def fake_server(answer):
    """A one-shot TCP server on a free port that reads a request and sends
    answer (bytes) then closes. Returns the port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(20)

    def run():
        try:
            c, _ = srv.accept()
            c.settimeout(5)
            c.recv(65536)
            c.sendall(answer)
            c.close()
        except OSError:
            pass
        srv.close()
    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1]


def api_client_errors():
    for args in (["seed", "--help"], ["snapshot", "take", "--help"], ["snapshot", "--help"]):
        out, _ = wbctl(*args)
        check(out.startswith("usage: wbctl %s" % " ".join(args[:-1] if args[1] == "take" else args[:1])),
              "%s: %r" % (" ".join(args), out[:80]))
    wbctl("snapshot", want=2)
    wbctl("snapshot", "take", "--url", "http://127.0.0.1:1", want=2)  # no --board
    wbctl("snapshot", "take", "--url", "http://127.0.0.1:1", "--board", "a/b", want=2)
    wbctl("seed", "--url", "http://127.0.0.1:1", "--batch", "1025", want=2)
    wbctl("seed", "--url", "ftp://127.0.0.1:1", want=2)
    wbctl("seed", "--url", "http://127.0.0.1:99999", want=2)
    out, _ = wbctl("--help")
    check(" seed " in out and " snapshot " in out, "wbctl --help lacks seed/snapshot")
    cases = [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         "Transfer-Encoding"),
        (b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n{\"id\":",
         "connection closed after 6 of 100 body bytes"),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x status line"),
        (b"", "closed the connection without answering"),
    ]
    for answer, want in cases:
        port = fake_server(answer)
        _, err = wbctl("seed", "--url", "http://127.0.0.1:%d" % port,
                       "--token", "x", want=1)
        check(want in err, "fake server %r: %s" % (answer[:30], err.strip()))
    port = free_port()  # nothing listens there
    _, err = wbctl("seed", "--url", "http://127.0.0.1:%d/" % port, "--token", "x",
                   want=1)
    check("Connection refused" in err, "closed port: %s" % err.strip())
    _, err = wbctl("seed", "--url", "https://127.0.0.1:%d" % port, want=2)
    check("https:// is not supported" in err, "https: %s" % err.strip())
    wbctl("seed", "--url", "http://127.0.0.1:%d" % port, "--boards", "0", want=2)
    wbctl("seed", "--url", "http://127.0.0.1:%d" % port, "--token", "a",
          "--secret-file", SECRET_FILE, want=2)


def api_seed(node, owner):
    url = node.url
    out, err = wbctl("seed", "--url", url, "--secret-file", SECRET_FILE,
                     "--boards", "3", "--elements", "250", "--batch", "100",
                     "--json")
    try:
        summary = json.loads(out)
    except ValueError:
        fail("seed --json: %r %s" % (out[:200], err))
        return None
    check(summary["elements"] == 750 and len(summary["boards"]) == 3,
          "seed summary %r" % summary)
    check("posting ops" not in err, "a progress bar went into a pipe")
    for b in summary["boards"]:
        check_seeded(url, owner, b, 250, "seed --secret-file")
    st, lst = http(url + "/api/v1/boards", token=owner)
    owners = {x["id"]: x["owner"] for x in lst.get("boards", [])} if st == 200 else {}
    check(all(owners.get(b["id"]) == "wbctl-seed" for b in summary["boards"]),
          "seeded boards not owned by the minted user: %r" % owners)
    # --token and --secret-env; an empty board.
    out, _ = wbctl("seed", "--url", url, "--token", owner, "--boards", "1",
                   "--elements", "7", "--json")
    one = json.loads(out or "{}").get("boards", [{}])[0]
    if check("id" in one, "seed --token: %r" % out):
        check_seeded(url, owner, one, 7, "seed --token")
    out, _ = wbctl_env(["seed", "--url", url, "--secret-env", "WB_SEED_SECRET",
                        "--elements", "0", "--boards", "1", "--json"],
                       {"WB_SEED_SECRET": SECRET}, what="seed --secret-env")
    empty = json.loads(out or "{}").get("boards", [{}])[0]
    if check("id" in empty, "seed --secret-env: %r" % out):
        check_seeded(url, owner, empty, 0, "seed --elements 0")
    # Over the per-user rate limit (500 ops/s, burst 1000): the refused
    # batches (429, not applied) are resent after Retry-After, none lost.
    def limited():
        st, text = http(url + "/metrics")
        return sum(float(l.split()[-1]) for l in str(text).splitlines()
                   if l.startswith('rate_limited_total{kind="user"}'))
    before = limited()
    out, _ = wbctl("seed", "--url", url, "--secret-file", SECRET_FILE, "--user",
                   "pacer", "--boards", "1", "--elements", "2500", "--batch", "500",
                   "--json")
    paced = json.loads(out or "{}").get("boards", [{}])[0]
    check(limited() > before, "the 2500-op seed was never rate limited: "
          "the resend path is not exercised")
    if check("id" in paced, "rate-limited seed: %r" % out[:200]):
        check_seeded(url, owner, paced, 2500, "rate-limited seed")
    # Refusals carry the node's answer.
    _, err = wbctl("seed", "--url", url, want=1)
    check("guest sign-in is disabled" in err, "seed without credentials: %s" % err)
    h, p, sg = owner.split(".")
    bad = ".".join([h, p, sg[:-2] + ("AA" if sg[-2:] != "AA" else "BB")])
    _, err = wbctl("seed", "--url", url, "--token", bad, want=1)
    check("HTTP 401 unauthorized" in err, "seed with a tampered token: %s" % err)
    other = os.path.join(TMP, "other-secret")
    with open(other, "w") as f:
        f.write("another-secret-of-more-than-32-bytes-xx\n")
    _, err = wbctl("seed", "--url", url, "--secret-file", other, want=1)
    check("HTTP 401" in err, "seed signed with another secret: %s" % err)
    # A progress bar on a terminal only: script(1) gives wbctl a pty.
    cmd = "'%s' seed --url %s --secret-file '%s' --boards 1 --elements 600 --batch 10" % (
        WBCTL, url, SECRET_FILE)
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                       timeout=120)
    tty = p.stdout.decode("utf-8", "replace")
    check(p.returncode == 0 and "seed: posting ops [" in tty and "seeded 1 board" in tty,
          "seed under a terminal: rc %d %r" % (p.returncode, tty[-300:]))
    return summary["boards"][0]["id"]


def api_snapshot(node, owner, bid):
    url = node.url
    out, err = wbctl("snapshot", "take", "--url", url, "--board", bid,
                     "--secret-file", SECRET_FILE, "--json")
    first = json.loads(out or "{}")
    snap = first.get("snapshot") or {}
    check(first.get("taken") is True and snap.get("elements") == 250,
          "snapshot take: %r %s" % (first, err))
    # The node wrote it: the read-only listing beside the node shows it.
    out, _ = wbctl("snapshots", DATA, "--board", bid, "--json")
    listed = {x["id"]: x for x in json.loads(out or "{}").get("snapshots", [])}
    check(snap.get("id") in listed and listed[snap["id"]]["pos"] == snap.get("pos"),
          "snapshot %r not in wbctl snapshots: %r" % (snap, listed))
    out, _ = wbctl("restore", DATA, "--board", bid, "--snapshot", str(snap.get("id", 0)))
    check(len(json.loads(out or "{}").get("elements", [])) == 250,
          "restore of the snapshot taken through the API")
    # Nothing new: no new snapshot, the same one reported.
    out, _ = wbctl("snapshot", "take", "--url", url, "--board", bid, "--token", owner)
    check(out.startswith("no new snapshot; newest is snapshot %s " % snap.get("id")),
          "second snapshot take: %r" % out)
    st, a = http(url + "/api/v1/boards/%s/ops" % bid, "POST", owner,
                 [{"op": "delete", "id": "seed-00000"}])
    check(st == 200, "op before the third snapshot: %s" % st)
    out, _ = wbctl("snapshot", "take", "--url", url, "--board", bid, "--token", owner,
                   "--json")
    third = json.loads(out or "{}")
    s3 = third.get("snapshot") or {}
    check(third.get("taken") is True and s3.get("id", 0) > snap.get("id", 0) and
          s3.get("pos", 0) >= a.get("seq", 1 << 62) and s3.get("elements") == 249,
          "snapshot after an op: %r (op seq %r)" % (third, a))
    _, err = wbctl("snapshot", "take", "--url", url, "--board", "no-such-board",
                   "--token", owner, want=1)
    check("HTTP 404 not_found" in err, "snapshot of an unknown board: %s" % err)
    viewer = token("--user", "v2", "--board", bid, "--role", "viewer")
    _, err = wbctl("snapshot", "take", "--url", url, "--board", bid,
                   "--token", viewer, want=1)
    check("HTTP 403" in err, "snapshot take by a viewer: %s" % err)
    wbctl("snapshot", "list", "--url", url, want=2)


def api_main():
    with open(SECRET_FILE, "w") as f:
        f.write(SECRET + "\n")
    api_client_errors()
    node = Node()
    try:
        owner = token("--user", "ops", "--all-boards", "owner", "--ttl", "600")
        bid = api_seed(node, owner)
        if bid:
            api_snapshot(node, owner, bid)
    finally:
        check(node.stop() == 0, "node exit status after SIGTERM")
    # A development node (guest sign-in on): no credentials needed.
    node = Node(data=os.path.join(TMP, "guest-data"), guest=True)
    try:
        out, err = wbctl("seed", "--url", node.url, "--boards", "2",
                         "--elements", "12")
        check(out.count("12 elements") == 2, "guest seed: %r %s" % (out, err))
    finally:
        check(node.stop() == 0, "guest node exit status")


try:
    if len(sys.argv) > 4 and sys.argv[4] == "api":
        api_main()
    else:
        main()
except SystemExit:
    raise
except Exception as e:  # report, never hang
    fail("exception: %r" % e)
print("wbctl_node: %d checks, %d failed" % (checks, fails))
sys.exit(min(fails, 100))
