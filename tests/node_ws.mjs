// node_ws.mjs URL SECRET: drives a real whiteboardd over WebSocket (path /ws,
// subprotocol wb.v1) with Node's built-in WebSocket client (Node 20:
// --experimental-websocket; no npm package). Frames are encoded and decoded
// here from docs/protocol.md (parts 1 and 2), independently of the C codec.
// Prints "FAIL: ..." per failed check and exits with the number of failures.
import { createHmac } from "node:crypto";
import net from "node:net";

const [URL_, SECRET] = process.argv.slice(2);
let fails = 0;
function check(cond, msg) {
  if (!cond) {
    fails++;
    console.log("FAIL: " + msg);
  }
  return cond;
}

// ---- JWT (HS256) -----------------------------------------------------------
const b64u = (b) => Buffer.from(b).toString("base64url");
function jwt(claims, secret = SECRET) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now - 5, exp: now + 3600, ...claims };
  const head = b64u(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const pay = b64u(JSON.stringify(body));
  const sig = createHmac("sha256", secret).update(head + "." + pay).digest();
  return head + "." + pay + "." + b64u(sig);
}

// ---- encoding --------------------------------------------------------------
class W {
  constructor() { this.b = []; }
  u8(v) { this.b.push(v & 0xff); return this; }
  uvar(v) {
    let x = BigInt(v);
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x) byte |= 0x80;
      this.b.push(byte);
    } while (x);
    return this;
  }
  svar(v) { const x = BigInt(v); return this.uvar(x >= 0n ? x << 1n : ((-x) << 1n) - 1n); }
  bytes(u8a) { this.uvar(u8a.length); for (const c of u8a) this.b.push(c); return this; }
  str(s) { return this.bytes(Buffer.from(s, "utf8")); }
  raw(u8a) { for (const c of u8a) this.b.push(c); return this; }
  out() { return Uint8Array.from(this.b); }
}

// batch of rect upserts [{cid, id, x, y}] (type, x, y), unstamped, user ""
function batch(board, ops) {
  const w = new W().u8(1).str(board).uvar(ops.length);
  for (const o of ops) {
    w.u8(0x01).uvar(o.cid).str("").str(o.id);
    w.uvar(3).uvar(1).u8(2).uvar(2).svar(o.x).uvar(3).svar(o.y);
  }
  return w.out();
}
function vvEncode(map) {
  const keys = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const w = new W().uvar(keys.length);
  for (const k of keys) w.uvar(k).uvar(map.get(k));
  return w.out();
}
const hello = (token, board, resume = new Uint8Array(0)) =>
  new W().u8(0x01).u8(1).uvar(1).str(token).str(board).bytes(resume).out();
const opsFrame = (board, ops) => new W().u8(0x02).u8(1).raw(batch(board, ops)).out();
const presence = (x, y) => new W().u8(0x03).u8(1).svar(x).svar(y).u8(1).uvar(0).out();
const ping = (n) => new W().u8(0x04).u8(1).uvar(n).out();

// ---- decoding --------------------------------------------------------------
class R {
  constructor(u8a) { this.b = u8a; this.o = 0; }
  left() { return this.b.length - this.o; }
  u8() { if (this.o >= this.b.length) throw new Error("truncated"); return this.b[this.o++]; }
  uvar() {
    let x = 0n, s = 0n;
    for (;;) {
      const c = this.u8();
      x |= BigInt(c & 0x7f) << s;
      s += 7n;
      if (!(c & 0x80)) return x;
    }
  }
  svar() { const z = this.uvar(); return Number(z & 1n ? -((z + 1n) >> 1n) : z >> 1n); }
  bytes() { const n = Number(this.uvar()); const v = this.b.subarray(this.o, this.o + n); if (v.length !== n) throw new Error("truncated"); this.o += n; return v; }
  str() { return Buffer.from(this.bytes()).toString("utf8"); }
}
function readProp(r, key) {
  switch (key) {
    case 1: case 15: return r.u8();
    case 2: case 3: return r.svar();
    case 7: case 8: { const v = r.b.subarray(r.o, r.o + 4); r.o += 4; return v; }
    case 11: case 14: case 16: return r.str();
    case 13: {
      const n = Number(r.uvar()), fl = r.u8();
      for (let i = 0; i < n; i++) { r.svar(); r.svar(); if (fl & 1) r.uvar(); }
      return n;
    }
    default: return Number(r.uvar());
  }
}
function parseBatch(u8a) {
  const r = new R(u8a);
  const b = { version: r.u8(), board: r.str(), ops: [] };
  const n = Number(r.uvar());
  for (let i = 0; i < n; i++) {
    const head = r.u8();
    const op = { kind: head & 15, cid: r.uvar(), user: r.str(), id: r.str() };
    if (head & 0x10) op.stamp = { hlc: r.uvar(), node: r.uvar(), oseq: r.uvar() };
    if (op.kind === 1) {
      op.props = {};
      const np = Number(r.uvar());
      for (let k = 0; k < np; k++) { const key = Number(r.uvar()); op.props[key] = readProp(r, key); }
    }
    b.ops.push(op);
  }
  if (r.left()) throw new Error("trailing bytes in batch");
  return b;
}
function vvDecode(u8a) {
  const r = new R(u8a), m = new Map();
  const n = Number(r.uvar());
  for (let i = 0; i < n; i++) { const k = r.uvar(); m.set(k, r.uvar()); }
  return m;
}
function decode(buf) {
  const r = new R(new Uint8Array(buf));
  const f = { type: r.u8(), version: r.u8() };
  switch (f.type) {
    case 0x81:
      f.flags = r.u8(); f.role = r.u8(); f.user = r.str(); f.vv = vvDecode(r.bytes());
      if (f.flags & 1) {
        const n = Number(r.uvar());
        f.delta = [];
        for (let i = 0; i < n; i++) { const seq = r.uvar(); f.delta.push({ seq, batch: parseBatch(r.bytes()) }); }
      } else f.state = r.bytes();
      break;
    case 0x82: f.seq = r.uvar(); f.batch = parseBatch(r.b.subarray(r.o)); r.o = r.b.length; break;
    case 0x83: {
      f.status = Number(r.uvar()); f.firstSeq = r.uvar(); f.dups = Number(r.uvar());
      const n = Number(r.uvar());
      f.items = [];
      for (let i = 0; i < n; i++) {
        const it = { cid: r.uvar() };
        if (f.status === 0) it.stamp = { hlc: r.uvar(), node: r.uvar(), oseq: r.uvar() };
        f.items.push(it);
      }
      break;
    }
    case 0x84:
      f.user = r.str(); f.name = r.str(); r.o += 4; f.x = r.svar(); f.y = r.svar(); f.flags = r.u8();
      f.nsel = Number(r.uvar()); for (let i = 0; i < f.nsel; i++) r.str();
      break;
    case 0x85: f.code = Number(r.uvar()); f.fatal = r.u8(); f.msg = r.str(); break;
    case 0x86: f.code = Number(r.uvar()); f.msg = r.str(); break;
    case 0x87: f.nonce = r.uvar(); break;
    default: throw new Error("unknown frame type " + f.type);
  }
  if (r.left()) throw new Error("trailing bytes in frame " + f.type);
  return f;
}

// ---- a client: frames in arrival order, awaited by predicate -----------------
class Client {
  constructor(name) {
    this.name = name;
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    this.vv = new Map();
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(URL_, "wb.v1");
      this.ws.binaryType = "arraybuffer";
      this.ws.onopen = () => resolve(this);
      this.ws.onerror = (e) => { if (!this.opened) reject(new Error(this.name + ": connect failed")); };
      this.ws.onmessage = (ev) => {
        let f;
        try { f = decode(ev.data); } catch (e) { check(false, this.name + ": undecodable frame: " + e.message); return; }
        this.frames.push(f);
        this.poke();
      };
      this.ws.onclose = (ev) => { this.closed = ev.code; this.closedAt = Date.now(); this.poke(); };
    }).then((c) => { this.opened = true; return c; });
  }
  poke() { for (const w of [...this.waiters]) w(); }
  send(u8a) { this.ws.send(u8a); }
  // waits for the n-th (1-based) frame matching pred, or the close, up to ms
  wait(pred, n = 1, ms = 10000) {
    return new Promise((resolve) => {
      const tryIt = () => {
        const got = this.frames.filter(pred);
        if (got.length >= n) { done(); resolve(got[n - 1]); }
        else if (this.closed !== null) { done(); resolve(null); }
      };
      const timer = setTimeout(() => { done(); resolve(null); }, ms);
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== tryIt); };
      this.waiters.push(tryIt);
      tryIt();
    });
  }
  waitClose(ms = 10000) {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.closed), ms);
      const w = () => { if (this.closed !== null) { clearTimeout(t); resolve(this.closed); } };
      this.waiters.push(w);
      w();
    });
  }
  count(type) { return this.frames.filter((f) => f.type === type).length; }
  // raises the version token with the stamps of a batch
  raise(ops) {
    for (const o of ops) if (o.stamp) {
      const cur = this.vv.get(o.stamp.node) || 0n;
      if (o.stamp.oseq > cur) this.vv.set(o.stamp.node, o.stamp.oseq);
    }
  }
  close() { this.ws.close(); return this.waitClose(); }
}

const isType = (t) => (f) => f.type === t;
async function joined(name, claims, board, resume) {
  const c = await new Client(name).open();
  c.send(hello(jwt(claims), board, resume));
  const w = await c.wait(isType(0x81));
  check(w !== null, name + ": no welcome (close " + c.closed + ")");
  if (w) c.vv = new Map(w.vv);
  return [c, w];
}

// The node listens while it recovers and refuses upgrades until ready:
// wait for GET /readyz = 200 (at most 60 s).
{
  const u = new URL(URL_);
  const end = Date.now() + 60000;
  let ready = false;
  while (!ready && Date.now() < end) {
    try { ready = (await fetch("http://" + u.host + "/readyz")).status === 200; } catch (e) { /* not yet */ }
    if (!ready) await new Promise((r) => setTimeout(r, 50));
  }
  if (!check(ready, "node not ready within 60 s")) process.exit(1);
}

// Boards exist once created through the REST API (the WS layer refuses
// unknown ones); "admin" creates them, so admin is their owner.
async function createBoard(title) {
  const u = new URL(URL_);
  const res = await fetch("http://" + u.host + "/api/v1/boards", {
    method: "POST",
    headers: { Authorization: "Bearer " + jwt({ sub: "admin", role: "owner" }), "Content-Type": "application/json" },
    body: JSON.stringify({ title }),
  });
  const body = await res.json().catch(() => ({}));
  if (!check(res.status === 201 && typeof body.id === "string", "create board: " + res.status)) process.exit(1);
  return body.id;
}

// ---- flood mode: the node runs with --rate-conn 5 --rate-conn-burst 5 -------
if (process.argv[4] === "flood") {
  const BOARD = await createBoard("flood");
  const [c] = await joined("flooder", { sub: "flooder", role: "editor" }, BOARD);
  const [v] = await joined("watcher", { sub: "watcher", role: "viewer" }, BOARD);
  for (let i = 1; i <= 30; i++) c.send(opsFrame(BOARD, [{ cid: i, id: "f" + i, x: i, y: i }]));
  const last = await c.wait(isType(0x83), 30, 20000);
  const acks = c.frames.filter(isType(0x83));
  const ok = acks.filter((f) => f.status === 0).length;
  const limited = acks.filter((f) => f.status === 5).length;
  check(last !== null && ok >= 5 && ok < 30 && ok + limited === 30,
        "flood of 30 ops at 5/s: " + ok + " accepted, " + limited + " rate_limited");
  await v.wait(isType(0x82), ok, 5000);
  check(v.count(0x82) === ok, "watcher sees exactly the accepted batches (" + v.count(0x82) + ")");
  c.send(ping(1));
  check((await c.wait(isType(0x87))) !== null && c.closed === null, "the flooder is still served");
  // --presence-rate 3 (burst 3): a burst of 12 cursor frames, 3 or 4 forwarded
  for (let i = 0; i < 12; i++) c.send(presence(i, i));
  await v.wait(isType(0x84), 3, 5000);
  await new Promise((r) => setTimeout(r, 300));
  check(v.count(0x84) >= 3 && v.count(0x84) <= 4,
        "presence over --presence-rate 3: " + v.count(0x84) + " of 12 forwarded");
  const [d, wd] = await joined("late", { sub: "late", role: "viewer" }, BOARD);
  check(wd !== null, "the node keeps serving other clients");
  await d.close(); await c.close(); await v.close();
  console.log(fails ? fails + " check(s) failed" : "node_ws flood: all checks passed");
  process.exit(Math.min(fails, 100));
}

// ---- the scenario ------------------------------------------------------------
const BOARD = await createBoard("main");
// a connection that never says hello: closed by the 10 s hello timeout
const silent = await new Client("silent").open();
const silentT0 = Date.now();
const TIMEOUT = setTimeout(() => { console.log("FAIL: scenario timed out"); process.exit(100); }, 240000);

// 1. hello / welcome
const [a, wa] = await joined("alice", { sub: "alice", name: "Alice", role: "editor" }, BOARD);
const [b, wb] = await joined("bob", { sub: "bob", name: "Bob", role: "viewer" }, BOARD);
check(wa && wa.role === 2 && wa.user === "alice" && !(wa.flags & 1), "alice welcome: editor, full state");
check(wb && wb.role === 1, "bob welcome: viewer");

// 2. ops -> ack (durable, stamped) -> broadcast to the room, sender included
a.send(opsFrame(BOARD, [{ cid: 1, id: "r1", x: 100, y: 200 }, { cid: 2, id: "r2", x: -5, y: 7 }]));
const ack1 = await a.wait(isType(0x83));
check(ack1 && ack1.status === 0 && ack1.items.length === 2 && ack1.items[0].cid === 1n &&
      ack1.items[1].cid === 2n && ack1.firstSeq > 0n && ack1.items[0].stamp.node > 0n,
      "alice: ack ok with stamps for op ids 1, 2: " + JSON.stringify(ack1, (k, v) => typeof v === "bigint" ? v.toString() : v));
const bo1 = await b.wait(isType(0x82));
check(bo1 && bo1.batch.ops.length === 2 && bo1.batch.ops[0].user === "alice" &&
      bo1.batch.ops[0].props[2] === 100 && ack1 && bo1.batch.ops[0].stamp.oseq === ack1.items[0].stamp.oseq,
      "bob: broadcast of alice's batch with the acked stamps");
check((await a.wait(isType(0x82))) !== null, "alice: her own batch broadcast too");
if (bo1) b.raise(bo1.batch.ops);

// 3. presence fan-out (not echoed)
a.send(presence(1050, -250));
const pr = await b.wait(isType(0x84));
check(pr && pr.user === "alice" && pr.name === "Alice" && pr.x === 1050 && pr.y === -250 && pr.flags === 1,
      "bob: alice's presence");

// 4. a viewer cannot write; nothing is broadcast
b.send(opsFrame(BOARD, [{ cid: 9, id: "v1", x: 0, y: 0 }]));
const ackv = await b.wait(isType(0x83));
check(ackv && ackv.status === 4 && ackv.items[0].cid === 9n, "bob (viewer): ack forbidden");

// 5. resume: bob leaves, alice writes two batches, bob comes back with his token
const bobToken = vvEncode(b.vv);
await b.close();
a.send(opsFrame(BOARD, [{ cid: 3, id: "r3", x: 1, y: 1 }]));
a.send(opsFrame(BOARD, [{ cid: 4, id: "r4", x: 2, y: 2 }, { cid: 5, id: "r5", x: 3, y: 3 }]));
check((await a.wait(isType(0x83), 3)) !== null, "alice: acks for the batches bob misses");
const [b2, wb2] = await joined("bob2", { sub: "bob", name: "Bob", role: "viewer" }, BOARD, bobToken);
const cids = wb2 && wb2.delta ? wb2.delta.flatMap((d) => d.batch.ops.map((o) => o.cid)) : [];
check(wb2 && (wb2.flags & 1) && wb2.delta.length === 2 && cids.join(",") === "3,4,5",
      "bob resumes: delta of exactly the 2 missed batches (op ids " + cids.join(",") + ")");
await b2.close();

// 6. idempotent resend: alice reconnects and resends op ids 1 and 2
await a.close();
const [a2] = await joined("alice2", { sub: "alice", name: "Alice", role: "editor" }, BOARD);
a2.send(opsFrame(BOARD, [{ cid: 1, id: "r1", x: 100, y: 200 }, { cid: 2, id: "r2", x: -5, y: 7 }]));
const ack2 = await a2.wait(isType(0x83));
check(ack2 && ack1 && ack2.status === 0 && ack2.dups === 2 &&
      ack2.items[0].stamp.oseq === ack1.items[0].stamp.oseq && ack2.items[1].stamp.hlc === ack1.items[1].stamp.hlc,
      "alice resends op ids 1, 2: acked as duplicates with the original stamps");

// 7. an unusable resume token (pushed out of the resume ring): full state, RESYNC
for (let i = 0; i < 5; i++) {
  const ops = [];
  for (let k = 0; k < 1000; k++) ops.push({ cid: 1000 + i * 1000 + k, id: "m" + i + "_" + k, x: k, y: i });
  a2.send(opsFrame(BOARD, ops));
}
const bigAck = (f) => f.type === 0x83 && f.items[0].cid >= 1000n;
check((await a2.wait(bigAck, 5, 60000)) !== null &&
      a2.frames.filter(bigAck).every((f) => f.status === 0), "alice2: 5000 ops acked");
const [b3, wb3] = await joined("bob3", { sub: "bob", name: "Bob", role: "viewer" }, BOARD, bobToken);
check(wb3 && wb3.flags === 2 && wb3.state && wb3.state.length > 5000,
      "an old token gets the full state flagged RESYNC (flags " + (wb3 && wb3.flags) + ")");
check(b3.closed === null, "RESYNC is not an error: the connection stays");
await b3.close();

// 7b. a fresh client joins the large board (its welcome is several 64 KiB
// WebSocket fragments, built off the service thread) while alice keeps
// writing and a watcher keeps receiving: the watcher gets every batch in
// order, the joiner gets its welcome first and then exactly the batches its
// welcome's version vector does not cover, each once.
{
  const [w] = await joined("watcher7", { sub: "watcher7", role: "viewer" }, BOARD);
  const N = 40, ids = [];
  let j = null;
  for (let i = 0; i < N; i++) {
    ids.push("s" + i);
    a2.send(opsFrame(BOARD, [{ cid: 9000 + i, id: "s" + i, x: i, y: -i }]));
    if (i === 10) {
      j = await new Client("joiner7").open();
      j.send(hello(jwt({ sub: "joiner7", role: "viewer" }), BOARD));
    }
    if (i % 8 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  const streamAck = (f) => f.type === 0x83 && f.items[0].cid >= 9000n && f.items[0].cid < 9000n + BigInt(N);
  check((await a2.wait(streamAck, N, 30000)) !== null, "alice2: the stream acked");
  const oseq = new Map();
  for (const f of a2.frames.filter(streamAck)) oseq.set(f.items[0].cid, f.items[0].stamp.oseq);
  const streamOp = (f) => f.type === 0x82 && f.batch.ops.some((o) => o.id.startsWith("s"));
  check((await w.wait(streamOp, N, 30000)) !== null, "watcher: every batch of the stream");
  const seen = w.frames.filter(streamOp).map((f) => f.batch.ops[0].id);
  check(seen.join(",") === ids.join(","), "watcher: the stream in order, each once");
  const wel = await j.wait(isType(0x81), 1, 30000);
  check(wel && wel.state && wel.state.length > 65536 && j.frames[0].type === 0x81,
        "joiner: the welcome first, a full state of " + (wel && wel.state && wel.state.length) + " bytes");
  const node = wel ? [...wel.vv.keys()][0] : 0n;
  const covered = wel ? wel.vv.get(node) || 0n : 0n;
  const missing = [...oseq.entries()].filter(([, q]) => q > covered).map(([cid]) => "s" + (Number(cid) - 9000));
  if (missing.length) await j.wait(streamOp, missing.length, 10000);
  await new Promise((r) => setTimeout(r, 200));
  const got = j.frames.filter(streamOp).map((f) => f.batch.ops[0].id);
  check(got.join(",") === missing.join(","),
        "joiner: exactly the " + missing.length + " batches after its welcome, once, in order (got " + got.length + ")");
  await w.close(); await j.close();
}

// 8. refused: bad signature, expired, no role on the board, other algorithm
async function refused(name, token, code, close) {
  const c = await new Client(name).open();
  c.send(hello(token, BOARD));
  const e = await c.wait(isType(0x85));
  const cl = await c.waitClose();
  check(e && e.code === code && e.fatal === 1 && cl === close,
        name + ": error " + (e && e.code) + " close " + cl + ", want " + code + "/" + close);
  check(c.count(0x81) === 0, name + ": no welcome");
}
await refused("badsig", jwt({ sub: "eve", role: "owner" }, "x".repeat(40)), 3, 4001);
await refused("expired", jwt({ sub: "eve", role: "owner", exp: Math.floor(Date.now() / 1000) - 3600 }), 3, 4001);
await refused("norole", jwt({ sub: "eve", boards: { other: "owner" } }), 4, 4003);
{
  const c = await new Client("unknown").open();
  c.send(hello(jwt({ sub: "eve", role: "owner" }), "no-such-board"));
  const e = await c.wait(isType(0x85));
  const cl = await c.waitClose();
  check(e && e.code === 12 && e.fatal === 1 && cl === 4004, "unknown board: not_found, close " + cl);
}
{
  const h = b64u(JSON.stringify({ alg: "none", typ: "JWT" }));
  const p = b64u(JSON.stringify({ sub: "eve", role: "owner", exp: 9999999999 }));
  await refused("alg-none", h + "." + p + "." + b64u(Buffer.alloc(32)), 3, 4001);
}

// 9. malformed frames: typed error, the connection and the node keep serving
a2.send(Uint8Array.from([0x02, 0x01, 0x01, 0x02, 0x62, 0x31, 0x01, 0x07]));
const em = await a2.wait(isType(0x85));
check(em && em.code === 1 && em.fatal === 0, "malformed ops frame: non-fatal error malformed");
a2.send(Uint8Array.from([0x02, 0x01, 0x01]));
check((await a2.wait(isType(0x85), 2)) !== null, "truncated batch: typed error");
a2.send(ping(77));
const pong = await a2.wait(isType(0x87));
check(pong && pong.nonce === 77n && a2.closed === null, "after bad frames alice still gets her pong");
const [c4, wc4] = await joined("carol", { sub: "carol", role: "editor" }, BOARD);
check(wc4 !== null, "another client still joins");
await c4.close();
await a2.close();

// 10. a frame over --max-frame (1 MiB): typed error, close 4009
{
  const [c] = await joined("big", { sub: "big", role: "editor" }, BOARD);
  const big = new Uint8Array((1 << 20) + 100);
  big[0] = 0x02; big[1] = 0x01;
  c.send(big);
  const e = await c.wait(isType(0x85));
  const cl = await c.waitClose();
  check(e && e.code === 2 && e.fatal === 1 && cl === 4009, "oversized frame: too_big, close " + cl);
}

// 11. Origin of another site: the upgrade is closed with 4012 (raw socket:
// the built-in client cannot set Origin)
{
  const u = new URL(URL_);
  const bytes = await new Promise((resolve) => {
    const chunks = [];
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write("GET /ws HTTP/1.1\r\nHost: " + u.host + "\r\nUpgrade: websocket\r\n" +
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wb.v1\r\n" +
                 "Origin: https://evil.example\r\n\r\n");
    });
    sock.on("data", (d) => chunks.push(d));
    sock.on("close", () => resolve(Buffer.concat(chunks)));
    sock.on("error", () => resolve(Buffer.concat(chunks)));
    setTimeout(() => sock.destroy(), 5000);
  });
  const hdrEnd = bytes.indexOf("\r\n\r\n");
  const body = hdrEnd >= 0 ? bytes.subarray(hdrEnd + 4) : Buffer.alloc(0);
  const refusedAtHandshake = /^HTTP\/1\.1 4\d\d/.test(bytes.toString("latin1"));
  const closed4012 = body.length >= 4 && body[0] === 0x88 && body.readUInt16BE(2) === 4012;
  check(refusedAtHandshake || closed4012,
        "foreign Origin refused (handshake 4xx or close 4012): " + bytes.toString("latin1").slice(0, 80));
}

// 12. metrics carry the WebSocket series
{
  const u = new URL(URL_);
  const text = await (await fetch("http://" + u.host + "/metrics")).text();
  const m = /^ws_messages_total\{dir="in"\} (\d+)/m.exec(text);
  check(m && Number(m[1]) > 10, "ws_messages_total{dir=\"in\"} counted: " + (m && m[1]));
  check(/^socket_connected_users /m.test(text), "socket_connected_users exported");
}

// 13. the silent connection was closed by the hello timeout (10 s)
{
  const code = await silent.waitClose(Math.max(1000, 20000 - (Date.now() - silentT0)));
  const secs = ((silent.closedAt || Date.now()) - silentT0) / 1000;
  check(code !== null && secs >= 9 && secs < 20, "silent connection closed after " + secs + " s (code " + code + ")");
}

clearTimeout(TIMEOUT);
console.log(fails ? fails + " check(s) failed" : "node_ws: all checks passed");
process.exit(Math.min(fails, 100));
