#!/usr/bin/env python3
"""node_http.py BINARY TMPDIR: drives a real whiteboardd over HTTP with curl.

Called by tests/test_node_http.sh. Each check prints what differed; the exit
status is the number of failed checks (capped at 100). Processes started
here are tracked by PID and only those are signalled.

Covers: startup with a generated secret (0600), health/readiness, the
static client, guest sign-in, boards (create, list, get, delete), ops
answered once durable and visible afterwards, auth failures (missing
token, bad signature, alg none, other algorithm, expired, viewer writing,
no role on the board), malformed JSON, unknown property, huge body,
unknown board, /metrics parsed as Prometheus text with the runbook's
names (and checked by `promtool check metrics` when installed; the fsync
histogram counts each durable batch), SIGTERM under load (exit 0, nothing
acked lost), and a SIGKILL loop (>= 20 cycles) after which every acked op
is present; WebSocket upgrade
only on /ws, and a 1001 close frame to open sessions at shutdown; a
WebSocket reader that stops reading (small TCP window) closed with 4010
as a slow consumer while another reader of the board gets every
broadcast; TLS with a self-signed certificate, HTTP and WebSocket; a
stalled disk (WB_FAULT_FSYNC_DELAY_MS): a REST write answered 504 after
--request-timeout, durable anyway, its resend deduplicated.
"""
import atexit
import base64
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

BIN, TMP = sys.argv[1], sys.argv[2]
DATA = os.path.join(TMP, "data")
CYCLES = int(os.environ.get("NODE_KILL_CYCLES", "20"))
START_TIMEOUT = 60.0  # seconds: ASan builds start slower
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL: " + msg, flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


STARTED = []  # every process started here, killed at exit if still running


def kill_started():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


atexit.register(kill_started)


class Node:
    """One whiteboardd process on a fresh port over DATA."""

    def __init__(self, extra_env=None, level="warn"):
        self.port = free_port()
        env = dict(os.environ)
        for k in ("JWT_SECRET", "JWT_SECRET_PREVIOUS", "WB_GUEST"):
            env.pop(k, None)
        env.update(extra_env or {})
        self.log = open(os.path.join(TMP, "node.log"), "ab")
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", DATA, "--listen", "127.0.0.1:%d" % self.port,
             "--log-level", level],
            stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=TMP)
        STARTED.append(self.proc)
        tls = bool(env.get("WB_TLS_CERT"))
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.line = self._wait_line()
        self.saw_recovering = self._wait_ready()

    def _wait_ready(self):
        """Polls /readyz until 200 (the engine recovers after the server
        listens). Returns 1 if a 503 'recovering' was seen first."""
        saw = 0
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            st, r = curl(self.url + "/readyz", timeout=5)
            if st == 200:
                return saw
            if st == 503:
                saw = 1
                check(err_code(r) == "unavailable", "readyz 503 body %r" % (r,))
            time.sleep(0.02)
        fail("not ready within %.0fs" % START_TIMEOUT)
        self.kill()
        raise SystemExit(min(fails, 100))

    def _wait_line(self):
        box = []
        t = threading.Thread(target=lambda: box.append(
            self.proc.stdout.readline().decode("utf-8", "replace")))
        t.daemon = True
        t.start()
        t.join(START_TIMEOUT)
        if not box or "listening on" not in box[0]:
            fail("no 'listening on' line within %.0fs: %r" % (START_TIMEOUT, box))
            self.kill()
            raise SystemExit(min(fails, 100))
        return box[0]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def term(self, timeout=60, send=True):
        if send:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail("SIGTERM: still running after %ds" % timeout)
            self.kill()
            return None
        self.log.close()
        return rc


def curl(url, method="GET", token=None, body=None, headers=(), timeout=20,
         dump=None):
    """Returns (status, parsed JSON or text). status 0: no answer. dump: a
    file for the response headers."""
    args = ["curl", "-s", "-S", "-k", "-o", "-", "-w", "\n%{http_code}", "-X", method,
            "--max-time", str(timeout), url]
    if dump:
        args += ["-D", dump]
    if token is not None:
        args += ["-H", "Authorization: Bearer " + token]
    for h in headers:
        args += ["-H", h]
    inp = None
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        inp = body if isinstance(body, bytes) else body.encode()
    p = subprocess.run(args, input=inp, capture_output=True, timeout=timeout + 10)
    out = p.stdout.decode("utf-8", "replace")
    text, _, code = out.rpartition("\n")
    try:
        status = int(code)
    except ValueError:
        status = 0
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(secret, payload, alg="HS256", sign=True):
    header = {"alg": alg, "typ": "JWT"}
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    if not sign:
        return head + "."
    sig = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(sig)


def err_code(resp):
    try:
        return resp["error"]["code"]
    except (TypeError, KeyError):
        return None


def parse_metrics(text):
    """Prometheus text format 0.0.4 -> {name: type}, [(name, labels, value)].
    Fails on any line that does not parse."""
    types, samples = {}, []
    name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    sample_re = re.compile(r"^(%s)(\{(.*)\})? (\S+)$" % name_re)
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
    for ln in text.split("\n"):
        if ln == "":
            continue
        if ln.startswith("# HELP "):
            check(re.match(r"^# HELP %s .*$" % name_re, ln), "bad HELP: " + ln)
            continue
        if ln.startswith("# TYPE "):
            m = re.match(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                         % name_re, ln)
            if check(m, "bad TYPE: " + ln):
                check(m.group(1) not in types, "TYPE twice: " + ln)
                types[m.group(1)] = m.group(2)
            continue
        m = sample_re.match(ln)
        if not check(m, "bad sample line: %r" % ln):
            continue
        labels = {}
        if m.group(3):
            rest = m.group(3)
            pos = 0
            while pos < len(rest):
                lm = label_re.match(rest, pos)
                if not check(lm, "bad labels: %r" % ln):
                    break
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        try:
            value = float(m.group(4))
        except ValueError:
            fail("bad value: %r" % ln)
            continue
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        check(m.group(1) in types or base in types,
              "sample before/without TYPE: %r" % ln)
        samples.append((m.group(1), labels, value))
    return types, samples


def hist(samples, name):
    """A histogram's cumulative buckets [(le, value)] and its _count."""
    b = [(lb["le"], v) for (n, lb, v) in samples if n == name + "_bucket"]
    c = [v for (n, lb, v) in samples if n == name + "_count"]
    return b, (c[0] if c else None)


def promtool_check(text):
    """`promtool check metrics` (Debian's prometheus package) on a scrape:
    exit 1 is a parse error (fails); exit 3 lists lint problems, which fail
    too (the node's names are meant to be lint-clean). Skipped, with a
    note, when promtool is not installed (infra/deps.sh --test)."""
    tool = shutil.which("promtool")
    if not tool:
        print("SKIP promtool: not installed (infra/deps.sh --test)", flush=True)
        return
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
    check(p.returncode == 0, "promtool check metrics: exit %d: %s"
          % (p.returncode, out[:2000]))


def ws_open(port, path="/ws", rcvbuf=0, tls=False, headers=()):
    """A raw WebSocket handshake (RFC 6455) with subprotocol wb.v1; rcvbuf:
    a small receive buffer (set before connecting, so the TCP window stays
    small); tls: over TLS, the certificate not checked (self-signed).
    Returns (socket, status line)."""
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wb.v1\r\n%s\r\n"
               % (path, port, key, "".join(h + "\r\n" for h in headers))).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 101 " in status:
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        check(want in head.decode("latin-1"), "Sec-WebSocket-Accept missing/wrong")
    return s, status


def ws_upgrade_refused(port, headers=(), timeout=10):
    """An upgrade the node is expected to close at once: everything the node
    sends until it closes the socket, returned as (status line, close code
    of the first frame after the headers, or None)."""
    s = socket.socket()
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wb.v1\r\n%s\r\n"
               % (port, "".join(h + "\r\n" for h in headers))).encode())
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    code = None
    if len(body) >= 4 and body[0] == 0x88:
        code = int.from_bytes(body[2:4], "big")
    return status, code


def ws_close_code(s, timeout=30):
    """Reads frames until a close frame; returns its status code (None: the
    connection ended without one)."""
    s.settimeout(timeout)
    buf = b""
    while True:
        while len(buf) < 2 or len(buf) < ws_frame_len(buf):
            try:
                chunk = s.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        n = ws_frame_len(buf)
        frame, buf = buf[:n], buf[n:]
        if frame[0] & 0x0f == 0x8:
            hl = n - ws_payload_len(frame)
            payload = frame[hl:]
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


def uvar(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ws_send_binary(s, payload):
    """One masked binary frame (client to server, RFC 6455 5.3)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else
                            bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    s.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))


class WsReader:
    """Reads server frames (unmasked, unfragmented: the node's small
    frames) from s into (opcode, payload) pairs."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def frame(self, timeout=30):
        self.s.settimeout(timeout)
        while len(self.buf) < 2 or len(self.buf) < ws_frame_len(self.buf):
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        n = ws_frame_len(self.buf)
        fr, self.buf = self.buf[:n], self.buf[n:]
        return fr[0] & 0x0f, fr[n - ws_payload_len(fr):]


def ws_hello(token, board):
    """docs/protocol.md 2.2: type 0x01, version 1, proto 1, token, board,
    no resume token."""
    t, b = token.encode(), board.encode()
    return bytes([0x01, 0x01, 0x01]) + uvar(len(t)) + t + uvar(len(b)) + b + b"\x00"


def ws_payload_len(b):
    ln = b[1] & 0x7f
    if ln == 126:
        return int.from_bytes(b[2:4], "big")
    if ln == 127:
        return int.from_bytes(b[2:10], "big")
    return ln


def ws_frame_len(b):
    if len(b) < 2:
        return 2
    ln = b[1] & 0x7f
    hl = 2 + (2 if ln == 126 else 8 if ln == 127 else 0)
    if len(b) < hl:
        return hl
    return hl + ws_payload_len(b)


def board_elements(url, token, bid):
    st, b = curl(url + "/api/v1/boards/" + bid, token=token)
    if st != 200 or not isinstance(b, dict):
        if st == 200:
            fail("board answer is not JSON (%d chars): %r ... %r" % (len(b), b[:80], b[-200:]))
        return st, None
    return st, {e["id"]: e for e in b["elements"]}


# ---------------------------------------------------------------- scenario
os.makedirs(TMP, exist_ok=True)
node = Node()
U = node.url
check(re.search(r"listening on http://127\.0\.0\.1:%d/" % node.port, node.line),
      "startup line: %r" % node.line)

# generated secret: DATA/jwt.secret, mode 0600, 64 hex digits
spath = os.path.join(DATA, "jwt.secret")
SECRET = ""
if check(os.path.exists(spath), "no generated secret at " + spath):
    check(oct(os.stat(spath).st_mode & 0o777) == "0o600",
          "secret mode %o" % (os.stat(spath).st_mode & 0o777))
    SECRET = open(spath).read().strip()
    check(re.fullmatch(r"[0-9a-f]{64}", SECRET) is not None, "secret shape")

st, r = curl(U + "/healthz")
check(st == 200 and r.get("status") == "ok", "healthz: %s %r" % (st, r))
st, r = curl(U + "/readyz")
check(st == 200, "readyz: %s %r" % (st, r))
st, r = curl(U + "/")
check(st == 200 and "whiteboardd" in str(r), "static index: %s" % st)
st, r = curl(U + "/../../etc/passwd")
check(st in (400, 404), "path traversal answered %s" % st)

# guest sign-in
st, g = curl(U + "/api/v1/auth/guest", "POST", body='{"name":"Ada"}')
check(st == 200 and "token" in g, "guest: %s %r" % (st, g))
TOK = g["token"]
USER = g["userId"]
st, r = curl(U + "/api/v1/auth/guest", "POST", body='{"name":')
check(st == 400 and err_code(r) == "bad_request", "guest bad JSON: %s %r" % (st, r))

# boards
st, b = curl(U + "/api/v1/boards", "POST", TOK, '{"title":"Plan"}')
check(st == 201 and b.get("title") == "Plan" and b.get("owner") == USER,
      "create: %s %r" % (st, b))
BID = b["id"]
st, lst = curl(U + "/api/v1/boards", token=TOK)
check(st == 200 and BID in [x["id"] for x in lst["boards"]], "list: %s %r" % (st, lst))
st, els = board_elements(U, TOK, BID)
check(st == 200 and els == {}, "new board not empty: %s %r" % (st, els))

ops = [{"op": "upsert", "id": "e1", "type": "rect", "clientOpId": "1",
        "props": {"x": 10.5, "y": -2, "width": 100, "height": 50,
                  "fillColor": "#ff000080", "text": "héllo"}},
       {"op": "upsert", "id": "e2", "type": "stroke", "clientOpId": 2,
        "props": {"points": [[0, 0], [1.25, 2.5]], "strokeColor": "#00ff00"}},
       {"op": "upsert", "id": "e3", "type": "text", "props": {"text": "gone"}},
       {"op": "delete", "id": "e3"}]
st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", TOK, json.dumps(ops))
check(st == 200 and r.get("applied") == 4 and r.get("seq", 0) >= 1,
      "post ops: %s %r" % (st, r))
st, els = board_elements(U, TOK, BID)
if check(st == 200 and els is not None, "get after ops: %s" % st):
    check(sorted(els) == ["e1", "e2"], "elements %r" % sorted(els))
    e1 = els.get("e1", {})
    check(e1.get("x") == 10.5 and e1.get("y") == -2 and e1.get("type") == "rect"
          and e1.get("fillColor") == "#ff000080" and e1.get("text") == "héllo",
          "e1 props %r" % e1)
    check(els.get("e2", {}).get("points") == [[0, 0], [1.25, 2.5]],
          "e2 points %r" % els.get("e2"))

# W3C trace context: the answer continues the caller's trace with a new span
hdrs = os.path.join(TMP, "headers")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", TOK,
             json.dumps([{"op": "upsert", "id": "tr", "type": "rect", "props": {"x": 1}}]),
             headers=["traceparent: 00-%s-00f067aa0ba902b7-01" % TRACE], dump=hdrs)
tp = [ln.split(":", 1)[1].strip() for ln in open(hdrs).read().splitlines()
      if ln.lower().startswith("traceparent:")]
check(st == 200 and tp and re.fullmatch(r"00-%s-[0-9a-f]{16}-01" % TRACE, tp[0])
      and "00f067aa0ba902b7" not in tp[0], "traceparent answer %r" % tp)

# resend of the same client op ids: deduplicated, state unchanged
st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", TOK, json.dumps(ops[:2]))
check(st == 200 and r.get("duplicates") == 2, "resend: %s %r" % (st, r))

# history: the batch posted above, with stamps, filtered by since and limit
st, h = curl(U + "/api/v1/boards/%s/ops" % BID, token=TOK)
if check(st == 200 and isinstance(h, dict) and h.get("batches"),
         "history: %s %r" % (st, h)):
    b0 = h["batches"][0]
    check([o["id"] for o in b0["ops"]] == ["e1", "e2", "e3", "e3"]
          and [o["kind"] for o in b0["ops"]] == ["upsert"] * 3 + ["delete"]
          and b0["ops"][0]["opId"] == "1" and b0["ops"][0]["user"] == USER,
          "history batch %r" % b0["ops"])
    check(all(o.get("stamp", {}).get("oseq") for o in b0["ops"]),
          "history ops carry stamps")
    first = b0["seq"]
    st, h2 = curl(U + "/api/v1/boards/%s/ops?since=%d&limit=1" % (BID, first), token=TOK)
    check(st == 200 and all(x["seq"] > first for x in h2["batches"])
          and len(h2["batches"]) <= 1, "history since/limit: %s %r" % (st, h2))
st, r = curl(U + "/api/v1/boards/%s/ops?limit=0" % BID, token=TOK)
check(st == 400, "history limit=0: %s" % st)

# ---- auth failures: each refused, nothing written
now = int(time.time())
bad = {
    "missing token": None,
    "bad signature": mint("x" * 64, {"sub": "mallory", "role": "owner", "exp": now + 600}),
    "alg none": mint(SECRET, {"sub": "mallory", "role": "owner", "exp": now + 600},
                     alg="none", sign=False),
    "alg HS512": mint(SECRET, {"sub": "mallory", "role": "owner", "exp": now + 600},
                      alg="HS512"),
    "expired": mint(SECRET, {"sub": "mallory", "role": "owner", "exp": now - 600}),
    "no exp": mint(SECRET, {"sub": "mallory", "role": "owner"}),
    "garbage": "not.a.jwt",
}
for what, tok in bad.items():
    st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", tok,
                 json.dumps([{"op": "upsert", "id": "evil", "type": "rect",
                              "props": {"x": 1}}]))
    check(st == 401 and err_code(r) == "unauthorized", "%s: %s %r" % (what, st, r))
    st, r = curl(U + "/api/v1/boards", token=tok)
    check(st == 401, "%s on list: %s" % (what, st))
viewer = mint(SECRET, {"sub": "vera", "role": "viewer", "exp": now + 600})
st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", viewer,
             json.dumps([{"op": "upsert", "id": "evil", "type": "rect", "props": {"x": 1}}]))
check(st == 403 and err_code(r) == "forbidden", "viewer writing: %s %r" % (st, r))
st, r = curl(U + "/api/v1/boards/" + BID, token=viewer)
check(st == 200, "viewer reading: %s" % st)
st, r = curl(U + "/api/v1/boards/" + BID, "DELETE", viewer)
check(st == 403, "viewer deleting: %s" % st)
other = mint(SECRET, {"sub": "otto", "boards": {"someother": "owner"}, "exp": now + 600})
st, r = curl(U + "/api/v1/boards/" + BID, token=other)
check(st == 403, "token for another board reading: %s %r" % (st, r))
st, els = board_elements(U, TOK, BID)
check(els is not None and "evil" not in els, "refused writes left a trace: %r" % els)

# ---- bad input
P = U + "/api/v1/boards/%s/ops" % BID
for what, body in [("malformed JSON", '[{"op":"upsert",'),
                   ("not an array", '{"x":1}'),
                   ("unknown property", '[{"op":"upsert","id":"e9","props":{"bogus":1}}]'),
                   ("bad kind", '[{"op":"merge","id":"e9"}]'),
                   ("bad id", '[{"op":"delete","id":"a b"}]'),
                   ("empty", "[]")]:
    st, r = curl(P, "POST", TOK, body)
    check(st == 400 and err_code(r) == "bad_request", "%s: %s %r" % (what, st, r))
st, r = curl(P, "POST", TOK, b"[" + b" " * (2 << 20) + b"]")
check(st == 413, "huge body: %s %r" % (st, r))
st, r = curl(U + "/api/v1/boards/nosuchboard", token=TOK)
check(st == 404 and err_code(r) == "not_found", "unknown board: %s %r" % (st, r))
st, r = curl(U + "/api/v1/boards/nosuchboard/ops", "POST", TOK,
             '[{"op":"delete","id":"x"}]')
check(st == 404, "ops to unknown board: %s" % st)
st, r = curl(U + "/api/v1/nothing", token=TOK)
check(st == 404, "unknown endpoint: %s" % st)
st, r = curl(U + "/healthz")
check(st == 200, "node still serving after bad input: %s" % st)

# snapshots
st, r = curl(U + "/api/v1/boards/%s/snapshots" % BID, "POST", TOK)
check(st == 201 and len(r.get("snapshots", [])) >= 1, "take snapshot: %s %r" % (st, r))
# an explicit empty body (Content-Length: 0) is routed once, not twice
for i in range(3):
    st, r = curl(U + "/api/v1/boards/%s/snapshots" % BID, "POST", TOK, body="")
    check(st == 201, "snapshot with an empty body: %s %r" % (st, r))
st, r = curl(U + "/api/v1/boards", "POST", TOK, body="")
check(st == 201, "create with an empty body: %s %r" % (st, r))
st, r = curl(U + "/api/v1/boards/%s/snapshots" % BID, token=TOK)
check(st == 200 and r["snapshots"] and r["snapshots"][-1]["elements"] == 3
      and r["snapshots"][-1]["ok"] is True,
      "list snapshots: %s %r" % (st, r))

# ---- /metrics
st, text = curl(U + "/metrics")
check(st == 200, "metrics status %s" % st)
types, samples = parse_metrics(text if isinstance(text, str) else "")
want = {"events_total": "counter", "socket_connected_users": "gauge",
        "snapshot_duration_seconds": "histogram", "oplog_queue_size": "gauge",
        "http_requests_total": "counter", "boards_loaded": "gauge",
        "process_resident_memory_bytes": "gauge", "process_open_fds": "gauge",
        "process_cpu_seconds_total": "counter",
        "oplog_fsync_duration_seconds": "histogram",
        "op_apply_duration_seconds": "histogram"}
for name, t in want.items():
    check(types.get(name) == t, "metric %s: type %r" % (name, types.get(name)))
ev = [v for (n, lb, v) in samples if n == "events_total" and lb.get("board") == BID]
check(ev and ev[0] >= 4, "events_total for the board: %r" % ev)
buckets = [(lb["le"], v) for (n, lb, v) in samples
           if n == "snapshot_duration_seconds_bucket"]
cnt = [v for (n, lb, v) in samples if n == "snapshot_duration_seconds_count"]
check(buckets and buckets[-1][0] == "+Inf" and cnt and cnt[0] == buckets[-1][1]
      and cnt[0] >= 1, "snapshot histogram: %r count %r" % (buckets[-3:], cnt))
check(all(buckets[i][1] <= buckets[i + 1][1] for i in range(len(buckets) - 1)),
      "histogram buckets not cumulative")
codes = {lb.get("code") for (n, lb, v) in samples if n == "http_requests_total"}
check({"200", "401", "403", "404", "400", "413"} <= codes,
      "http_requests_total codes %r" % codes)
rss = [v for (n, lb, v) in samples if n == "process_resident_memory_bytes"]
check(rss and rss[0] > 1 << 20, "rss %r" % rss)
cpu = [v for (n, lb, v) in samples if n == "process_cpu_seconds_total"]
check(cpu and cpu[0] > 0, "process_cpu_seconds_total %r" % cpu)
for name in ("oplog_fsync_duration_seconds", "op_apply_duration_seconds"):
    b, c = hist(samples, name)
    check(len(b) == 14 and b[-1][0] == "+Inf" and c == b[-1][1] and c >= 1
          and all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)),
          "%s: buckets %r count %r" % (name, b, c))
promtool_check(text if isinstance(text, str) else "")
# every durable batch is one more fdatasync under --fsync always
_, fsyncs = hist(samples, "oplog_fsync_duration_seconds")
st, r = curl(P, "POST", TOK, json.dumps([{"op": "upsert", "id": "fs1",
                                          "type": "rect", "props": {"x": 1}}]))
check(st == 200, "op before the second scrape: %s %r" % (st, r))
st, text = curl(U + "/metrics")
types, samples = parse_metrics(text if isinstance(text, str) else "")
_, fsyncs2 = hist(samples, "oplog_fsync_duration_seconds")
check(fsyncs is not None and fsyncs2 is not None and fsyncs2 > fsyncs,
      "oplog_fsync_duration_seconds_count did not grow: %r -> %r"
      % (fsyncs, fsyncs2))

# ---- delete: the board's WebSocket sessions are closed with 4004
st, b2 = curl(U + "/api/v1/boards", "POST", TOK, '{"title":"temp"}')
ws, status = ws_open(node.port)
check(" 101 " in status, "WS upgrade: %r" % status)
ws_send_binary(ws, ws_hello(TOK, b2["id"]))
time.sleep(0.3)  # the hello is processed (welcome) before the delete
st, r = curl(U + "/api/v1/boards/" + b2["id"], "DELETE", TOK)
check(st == 200, "delete by owner: %s %r" % (st, r))
code = ws_close_code(ws, timeout=10)
check(code == 4004, "WS close code after the board was deleted: %r" % code)
ws.close()
st, r = curl(U + "/api/v1/boards/" + b2["id"], token=TOK)
check(st == 404, "deleted board still served: %s" % st)


# ---- SIGTERM under load: exits 0, every acked op survives
def poster(url, token, bid, prefix, acked, stop):
    i = 0
    while not stop.is_set():
        eid = "%s-%d" % (prefix, i)
        st, r = curl(url + "/api/v1/boards/%s/ops" % bid, "POST", token,
                     json.dumps([{"op": "upsert", "id": eid, "type": "rect",
                                  "props": {"x": i}}]), timeout=10)
        if st == 200:
            acked.append(eid)
        elif st == 0:
            break  # the node went away
        i += 1


# WebSocket upgrade only on /ws with wb.v1; at shutdown a 1001 close frame
ws, status = ws_open(node.port)
check(" 101 " in status, "WS upgrade on /ws: %r" % status)
bad_ws, bad_status = ws_open(node.port, "/elsewhere")
check(" 101 " not in bad_status, "WS upgrade accepted on another path: %r" % bad_status)
bad_ws.close()

acked = []
stop = threading.Event()
t = threading.Thread(target=poster, args=(U, TOK, BID, "t", acked, stop))
t.start()
time.sleep(0.5)
node.proc.send_signal(signal.SIGTERM)
code = ws_close_code(ws)
check(code == 1001, "WS close code at shutdown: %r (want 1001 going away)" % code)
ws.close()
rc = node.term(send=False)
stop.set()
t.join(60)
check(rc == 0, "SIGTERM exit status %r" % rc)
check(len(acked) > 0, "no op acked before SIGTERM")

node = Node()
U = node.url
st, r = curl(U + "/readyz")
check(st == 200, "readyz after restart: %s" % st)
st, els = board_elements(U, TOK, BID)  # the old token still verifies
if check(st == 200 and els is not None, "board after restart: %s" % st):
    check({"e1", "e2"} <= set(els), "elements lost over restart: %r" % sorted(els)[:5])
    lost = [e for e in acked if e not in els]
    check(not lost, "acked before SIGTERM but lost: %r" % lost[:5])
    check(els.get("e1", {}).get("text") == "héllo", "e1 after restart %r" % els.get("e1"))

# ---- SIGKILL loop: every acked op is present afterwards
all_acked = list(acked)
for cycle in range(CYCLES):
    acked = []
    stop = threading.Event()
    t = threading.Thread(target=poster,
                         args=(U, TOK, BID, "k%d" % cycle, acked, stop))
    t.start()
    time.sleep(random.uniform(0.05, 0.4))
    node.kill()
    stop.set()
    t.join(60)
    all_acked += acked
    node = Node()
    U = node.url
st, els = board_elements(U, TOK, BID)
if check(st == 200 and els is not None, "board after kill loop: %s" % st):
    lost = [e for e in all_acked if e not in els]
    check(not lost, "%d of %d acked ops lost after %d SIGKILLs: %r"
          % (len(lost), len(all_acked), CYCLES, lost[:5]))
check(len(all_acked) >= CYCLES, "too few acked ops to mean anything: %d"
      % len(all_acked))
print("kill loop: %d cycles, %d acked ops, all present" % (CYCLES, len(all_acked)),
      flush=True)
rc = node.term()
check(rc == 0, "final SIGTERM exit status %r" % rc)

# ---- per-user op rate limit (ops, not requests): 429 with Retry-After
node = Node({"WB_RATE_USER": "2", "WB_RATE_USER_BURST": "3"})
U = node.url


def nops(prefix, k):
    return json.dumps([{"op": "upsert", "id": "%s%d" % (prefix, i), "type": "rect",
                        "props": {"x": i}} for i in range(k)])


st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", TOK, nops("rl", 4))
check(st == 429 and err_code(r) == "rate_limited", "4 ops over a burst of 3: %s %r"
      % (st, r))
t0 = time.monotonic()
st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", TOK, nops("rm", 3))
check(st == 200, "3 ops within the burst: %s %r" % (st, r))
st, r = curl(U + "/api/v1/boards/%s/ops" % BID, "POST", TOK, nops("rn", 3))
if time.monotonic() - t0 < 1.0:  # the bucket refills 2 ops/s
    check(st == 429, "3 more ops at once: %s %r" % (st, r))
st, text = curl(U + "/metrics")
types, samples = parse_metrics(text if isinstance(text, str) else "")
rl = [v for (n, lb, v) in samples if n == "rate_limited_total" and lb.get("kind") == "user"]
check(rl and rl[0] >= 1, "rate_limited_total{kind=user}: %r" % rl)
promtool_check(text if isinstance(text, str) else "")
st, els = board_elements(U, TOK, BID)
check(els is not None and "rl0" not in els and "rm0" in els,
      "refused batch written or accepted one missing")
# TLS on the same port when a certificate is configured (self-signed here)
cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
gen = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                     capture_output=True)
if gen.returncode == 0:
    rc = node.term()
    check(rc == 0, "SIGTERM before TLS exit status %r" % rc)
    node = Node({"WB_TLS_CERT": cert, "WB_TLS_KEY": key})
    check(node.line.startswith("whiteboardd listening on https://"), "TLS line %r" % node.line)
    st, els = board_elements(node.url, TOK, BID)
    check(st == 200 and "rm0" in els, "board over TLS: %s" % st)
    st, r = curl("http://127.0.0.1:%d/healthz" % node.port, timeout=5)
    check(st != 200, "plain HTTP answered on the TLS port: %s" % st)
    # WebSocket over TLS: welcome, then a REST op's broadcast (written at
    # the end of the service turn through lws's TLS write)
    tws, tstatus = ws_open(node.port, tls=True)
    check(" 101 " in tstatus, "wss upgrade: %r" % tstatus)
    ws_send_binary(tws, ws_hello(TOK, BID))
    tr = WsReader(tws)
    f = tr.frame()
    check(f is not None and f[1][:1] == bytes([0x81]), "wss: no welcome")
    st, r = curl(node.url + "/api/v1/boards/%s/ops" % BID, "POST", TOK,
                 json.dumps([{"op": "upsert", "id": "tls1", "type": "rect",
                              "props": {"x": 3}}]))
    check(st == 200, "op over TLS: %s %r" % (st, r))
    got = None
    for _ in range(10):
        f = tr.frame(timeout=10)
        if f is None or f[1][:1] == bytes([0x82]):
            got = f
            break
    check(got is not None and b"tls1" in got[1], "wss: no broadcast of tls1")
    tws.close()
else:
    print("SKIP TLS: openssl could not make a certificate", flush=True)

# a second signal (later than the 200 ms repeat window) exits at once with
# status 1, unless the graceful stop finished first; nothing acked is lost
node.proc.send_signal(signal.SIGTERM)
time.sleep(0.25)
if node.proc.poll() is None:
    node.proc.send_signal(signal.SIGTERM)
rc = node.term(timeout=10, send=False)
check(rc in (0, 1), "double SIGTERM exit status %r" % rc)
print("double SIGTERM: exit status %r" % rc, flush=True)
# ---- a WebSocket client that stops reading is closed as a slow consumer
# (4010) once its queue passes ws-sendq-max (1 MiB here), while a reader of the same
# board gets every broadcast and the node stays responsive. Frames go out
# at the end of the service turn; what the socket does not take waits in
# lws and in the session's queue (net/ws_conn.c).
node = Node({"WB_WS_SENDQ_MAX": "1048576", "WB_MAX_FRAME": "262144"})
U = node.url
st, b = curl(U + "/api/v1/boards", "POST", TOK, '{"title":"Slow"}')
check(st == 201, "slow board: %s %r" % (st, b))
SB = b.get("id", "")
slow, _ = ws_open(node.port, rcvbuf=4096)
fast, _ = ws_open(node.port)
for s in (slow, fast):
    ws_send_binary(s, ws_hello(TOK, SB))
slow_r, fast_r = WsReader(slow), WsReader(fast)
for name, r in (("slow", slow_r), ("fast", fast_r)):
    f = r.frame()
    check(f is not None and f[1][:1] == bytes([0x81]), "%s: no welcome: %r"
          % (name, f and f[1][:1]))
fast_ops = [0]
fast_end = [None]


def read_fast():
    while True:
        try:
            f = fast_r.frame(timeout=60)
        except OSError:
            return
        if f is None or f[0] == 0x8:
            fast_end[0] = f
            return
        if f[1][:1] == bytes([0x82]):
            fast_ops[0] += 1


rt = threading.Thread(target=read_fast, daemon=True)
rt.start()
# NB batches of 4 text elements of 12 KB: about 19 MB of broadcasts, far
# past 1 MiB plus what the sockets can buffer (the server's send buffer
# grows to tcp_wmem's maximum, 4 MiB by default)
NB = 400
posted = 0
for i in range(NB):
    body = json.dumps([{"op": "upsert", "id": "s%d-%d" % (i, k), "type": "text",
                        "props": {"text": "x" * 12000}} for k in range(4)])
    st, r = curl(U + "/api/v1/boards/%s/ops" % SB, "POST", TOK, body)
    posted += st == 200
check(posted == NB, "slow-reader phase: %d of %d batches acked" % (posted, NB))
deadline = time.monotonic() + 30
while fast_ops[0] < NB and time.monotonic() < deadline:
    time.sleep(0.05)
check(fast_ops[0] == NB, "fast reader got %d of %d broadcasts" % (fast_ops[0], NB))
st, text = curl(U + "/metrics")
types, samples = parse_metrics(text if isinstance(text, str) else "")
sc = [v for (n, lb, v) in samples
      if n == "rate_limited_total" and lb.get("kind") == "slow_consumer"]
check(sc and sc[0] == 1, "rate_limited_total{kind=slow_consumer}: %r" % sc)
# it reads what was sent before the close, then the close frame
code, got = None, 0
while True:
    try:
        f = slow_r.frame(timeout=30)
    except OSError:
        break
    if f is None:
        break
    if f[0] == 0x8:
        code = int.from_bytes(f[1][:2], "big") if len(f[1]) >= 2 else 1005
        break
    got += f[1][:1] == bytes([0x82])
check(code == 4010 and got < NB, "slow reader close code %r (want 4010) after "
      "%d of %d broadcasts" % (code, got, NB))
st, r = curl(U + "/healthz")
check(st == 200, "healthz after the slow reader: %s" % st)
check(fast_end[0] is None and rt.is_alive(), "fast reader was closed: %r"
      % (fast_end[0],))
fast.close()
slow.close()
print("slow reader: closed 4010, fast reader got all %d broadcasts" % fast_ops[0],
      flush=True)
rc = node.term()
check(rc == 0, "SIGTERM after the slow reader: %r" % rc)

# ---- behind a trusted proxy the client is the LAST X-Forwarded-For entry
# (the one the proxy appended), for REST and WebSocket alike; what a client
# writes in front of it does not choose its rate-limit bucket
node = Node({"WB_TRUST_PROXY": "true", "WB_RATE_IP": "1",
             "WB_RATE_IP_BURST": "2"})
def listing(xff):
    return curl(node.url + "/api/v1/boards", token=TOK,
                headers=["X-Forwarded-For: " + xff])[0]
codes = [listing("198.51.100.7, 10.0.0.1") for _ in range(3)]
check(codes[:2] == [200, 200] and codes[2] == 429,
      "per-IP limit by the proxy's entry 10.0.0.1 (burst 2): %r" % codes)
check(listing("203.0.113.9, 10.0.0.1") == 429,
      "a new first X-Forwarded-For entry escaped the per-IP limit")
check(listing("198.51.100.7, 10.0.0.2") == 200,
      "another client behind the proxy was limited with 10.0.0.1")
status, code = ws_upgrade_refused(
    node.port, headers=["X-Forwarded-For: 203.0.113.5, 10.0.0.1"])
check(code == 4029, "WebSocket from 10.0.0.1 (bucket empty): %r, close %r, "
      "not 4029" % (status, code))
ws, status = ws_open(node.port, headers=["X-Forwarded-For: 10.0.0.3"])
ws_send_binary(ws, ws_hello(TOK, BID))
f = WsReader(ws).frame() if " 101 " in status else None
check(f is not None and f[1][:1] == bytes([0x81]),
      "WebSocket from 10.0.0.3 behind the proxy: no welcome")
ws.close()
rc = node.term()
check(rc == 0, "SIGTERM after the proxy checks: %r" % rc)

# ---- --max-conns-per-ip: the connection over the cap is closed with 4029;
# when one closes, a new one is admitted
node = Node({"WB_MAX_CONNS_PER_IP": "3"})
held = []
for i in range(3):
    ws, status = ws_open(node.port)
    ws_send_binary(ws, ws_hello(TOK, BID))
    f = WsReader(ws).frame() if " 101 " in status else None
    check(f is not None and f[1][:1] == bytes([0x81]),
          "connection %d of 3 from one address: no welcome" % (i + 1))
    held.append(ws)
status, code = ws_upgrade_refused(node.port)
check(code == 4029, "a 4th connection from one address (cap 3): %r, close %r"
      % (status, code))
held.pop().close()
admitted = False
for _ in range(50):  # the node sees the close within a few ms: bounded
    time.sleep(0.05)
    ws, status = ws_open(node.port)
    try:
        ws_send_binary(ws, ws_hello(TOK, BID))
        f = WsReader(ws).frame(timeout=5) if " 101 " in status else None
    except OSError:
        f = None
    if f is not None and f[1][:1] == bytes([0x81]):
        admitted = True
        held.append(ws)
        break
    ws.close()
check(admitted, "after one of 3 closed, a new connection was not admitted")
st, text = curl(node.url + "/metrics")
check(isinstance(text, str) and
      re.search(r'rate_limited_total\{kind="ip_conns"\} [1-9]', text),
      "rate_limited_total{kind=\"ip_conns\"} not counted")
for ws in held:
    ws.close()
rc = node.term()
check(rc == 0, "SIGTERM after the connection cap: %r" % rc)

# ---- trace spans: every sampled REST write gets its op.apply record (not
# cut to the flood control's 20 lines per 10 s), a caller's unsampled
# parent gets none and flags 00 back (the --span-rate budget itself is
# checked with a fake clock in test_net_log)
log_path = os.path.join(TMP, "node.log")
log_mark = os.path.getsize(log_path)
node = Node({"WB_SPAN_RATE": "100"}, level="info")
for i in range(30):
    st, r = curl(node.url + "/api/v1/boards/%s/ops" % BID, "POST", TOK,
                 json.dumps([{"op": "upsert", "id": "sp%d" % i, "type": "rect",
                              "props": {"x": i}}]))
    check(st == 200, "span op %d: %s %r" % (i, st, r))
UNSAMPLED = "5bf92f3577b34da6a3ce929d0e0e4737"
hdrs = os.path.join(TMP, "hdrs-unsampled")
st, r = curl(node.url + "/api/v1/boards/%s/ops" % BID, "POST", TOK,
             json.dumps([{"op": "upsert", "id": "sp-u", "type": "rect",
                          "props": {"x": 1}}]),
             headers=["traceparent: 00-%s-00f067aa0ba902b7-00" % UNSAMPLED],
             dump=hdrs)
tp = [ln.split(":", 1)[1].strip() for ln in open(hdrs).read().splitlines()
      if ln.lower().startswith("traceparent:")]
check(st == 200 and tp and tp[0].startswith("00-%s-" % UNSAMPLED) and
      tp[0].endswith("-00"), "unsampled parent: answer traceparent %r" % tp)
rc = node.term()
check(rc == 0, "SIGTERM after the span checks: %r" % rc)
with open(log_path, "rb") as f:
    f.seek(log_mark)
    recs = []
    for ln in f.read().decode("utf-8", "replace").splitlines():
        try:
            recs.append(json.loads(ln))
        except ValueError:
            pass
spans = [x for x in recs if x.get("msg") == "span" and
         x.get("span") == "op.apply"]
ids = {x.get("traceId") for x in spans}
check(len(spans) == 30, "%d op.apply span records for 30 sampled writes"
      % len(spans))
check(UNSAMPLED not in ids, "a span was recorded for an unsampled parent")
check(not any(x.get("msg") == "suppressed similar messages" and
              x.get("similar") == "span" for x in recs),
      "span records went through the per-message flood control")
print("spans: %d op.apply records, unsampled parent skipped" % len(spans),
      flush=True)

# ---- a stalled disk: a REST write not acked within --request-timeout is
# answered 504; the op still becomes durable, and its resend with the same
# clientOpId is answered from the dedupe window, applied once
node = Node({"WB_FAULT_FSYNC_DELAY_MS": "4000", "WB_REQUEST_TIMEOUT": "1s"})
slow_op = json.dumps([{"op": "upsert", "id": "stall1", "type": "rect",
                       "clientOpId": 777001, "props": {"x": 5}}])
t0 = time.monotonic()
st, r = curl(node.url + "/api/v1/boards/%s/ops" % BID, "POST", TOK, slow_op)
took = time.monotonic() - t0
check(st == 504 and err_code(r) == "timeout" and "clientOpId" in str(r),
      "stalled fsync: %s %r" % (st, r))
check(1.0 <= took < 3.9, "504 after %.2fs (timeout 1 s, fsync 4 s)" % took)
st, r = curl(node.url + "/healthz", timeout=5)
check(st == 200, "healthz while the disk stalls: %s" % st)
time.sleep(4.0 - took + 0.5)  # the stalled fsync completes
resent, tries = None, 0
for tries in range(1, 6):  # a resend may wait for a (slow) fsync: bounded
    st, r = curl(node.url + "/api/v1/boards/%s/ops" % BID, "POST", TOK, slow_op)
    if st == 200:
        resent = r
        break
    check(st == 504, "resend after the stall: %s %r" % (st, r))
    time.sleep(4.5)
check(resent is not None and resent.get("duplicates") == 1 and
      resent.get("applied") == 1, "resend of the timed-out op: %r" % (resent,))
st, text = curl(node.url + "/metrics")
check(isinstance(text, str) and 'code="504"' in text,
      "no 504 in http_requests_total")
with open(os.path.join(TMP, "node.log"), "rb") as f:
    check(b"request timed out waiting for the engine" in f.read(),
          "the timeout was not logged")
since, stall_ops = 0, 0
for _ in range(200):  # the whole history, 1000 batches a page: bounded
    st, h = curl(node.url + "/api/v1/boards/%s/ops?since=%d&limit=1000"
                 % (BID, since), token=TOK)
    if st != 200 or not h.get("batches"):
        break
    for b in h["batches"]:
        stall_ops += sum(1 for o in b["ops"] if o["id"] == "stall1")
        since = b["seq"]
check(stall_ops == 1, "the timed-out op is in the history %d times" % stall_ops)
print("stalled disk: 504 after %.2fs, resend answered 200 on try %d, op "
      "logged once" % (took, tries), flush=True)
rc = node.term()
check(rc == 0, "SIGTERM after the stalled disk: %r" % rc)

node = Node()
st, els = board_elements(node.url, TOK, BID)
check(els is not None and "rm0" in els and "e1" in els,
      "data after a double SIGTERM: %s" % st)
rc = node.term()
check(rc == 0, "last SIGTERM exit status %r" % rc)
sys.exit(min(fails, 100))
