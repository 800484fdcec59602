// repl_ws.mjs MODE URL_A URL_B SECRET BOARD: WebSocket clients across two
// replicated nodes (started by tests/repl_cluster.py), Node 20 with
// --experimental-websocket. Frames come from the web client's codec
// (net/web/codec.js, docs/protocol.md); tokens are minted here (HS256).
//   move     a client on A with ops in flight moves to B with its version
//            token: every op it had not seen arrives exactly once, and its
//            unacked ops, resent to B with the same client op ids, are
//            applied once (cluster-wide: one stamp per op id).
//   latency  an op written by a client on A reaches a client on B: p50/p99
//            of the time between the send on A and the frame on B.
//   presence a client's presence on A reaches a client on B and back
//            (Redis pub/sub), with the sender's user id and position.
//   gone     the board is deleted through A's REST API: a client joined
//            to it on B is closed with 4004 (not_found), as on A.
// Prints "FAIL: ..." per failed check; exits with the number of failures.
import { createHmac } from "node:crypto";
import { decodeServerFrame, encodeHello, encodeOps, encodePresence, encodeVV, FRAME } from "../net/web/codec.js";

const [MODE, URL_A, URL_B, SECRET, BOARD] = process.argv.slice(2);
let fails = 0;
function check(cond, msg) {
  if (!cond) {
    fails++;
    console.log("FAIL: " + msg);
  }
  return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const b64u = (b) => Buffer.from(b).toString("base64url");
function jwt(claims) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now - 5, exp: now + 3600, ...claims };
  const head = b64u(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const pay = b64u(JSON.stringify(body));
  const sig = createHmac("sha256", SECRET).update(head + "." + pay).digest();
  return head + "." + pay + "." + b64u(sig);
}

class Client {
  constructor(url, name, token) {
    this.url = url.replace(/^http/, "ws") + "/ws";
    this.name = name;
    this.token = token;
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    this.onOps = null;
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(this.url, "wb.v1");
      this.ws.binaryType = "arraybuffer";
      this.ws.onopen = () => resolve(this);
      this.ws.onerror = () => reject(new Error(this.name + ": connect failed"));
      this.ws.onmessage = (ev) => {
        let f;
        try { f = decodeServerFrame(new Uint8Array(ev.data)); } catch (e) {
          check(false, this.name + ": undecodable frame: " + e.message);
          return;
        }
        f.at = performance.now();
        this.frames.push(f);
        if (f.type === FRAME.SOPS && this.onOps) this.onOps(f);
        for (const w of [...this.waiters]) w();
      };
      this.ws.onclose = (ev) => { this.closed = ev.code; for (const w of [...this.waiters]) w(); };
    });
  }
  send(u8a) { this.ws.send(u8a); }
  wait(pred, ms = 10000) {
    return new Promise((resolve) => {
      const t0 = Date.now();
      const tick = () => {
        const f = this.frames.find(pred);
        if (f || this.closed !== null || Date.now() - t0 > ms) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== tick);
          resolve(f || null);
        }
      };
      const timer = setTimeout(tick, ms + 5);
      this.waiters.push(tick);
      tick();
    });
  }
  close() { this.ws.close(1000); }
}

const key = (s) => s.node + ":" + s.oseq;
function upsert(id, opId, x) {
  return { kind: "upsert", opId, id, props: { type: "rect", x, y: 10, width: 500, height: 300 } };
}

async function getJson(url, token) {
  const r = await fetch(url, { headers: { Authorization: "Bearer " + token } });
  return [r.status, await r.json().catch(() => null)];
}

// Every op of BOARD in one node's oplog, with stamps (history API).
async function history(url, token) {
  const ops = [];
  let since = 0;
  for (let i = 0; i < 1000; i++) {
    const [st, r] = await getJson(`${url}/api/v1/boards/${BOARD}/ops?since=${since}&limit=1000`, token);
    if (!check(st === 200, "history " + st)) return ops;
    for (const b of r.batches) ops.push(...b.ops);
    since = r.next;
    if (!r.more) break;
  }
  return ops;
}

async function move() {
  const user = "mover";
  const token = jwt({ sub: user, name: "Mover", role: "editor" });
  const a = new Client(URL_A, "client@A", token);
  await a.open();
  const vv = new Map();
  const seen = new Map(); // stamp key -> times received
  const take = (ops) => {
    for (const op of ops) {
      const k = key(op.stamp);
      seen.set(k, (seen.get(k) || 0) + 1);
      if (!vv.has(op.stamp.node) || vv.get(op.stamp.node) < op.stamp.oseq) vv.set(op.stamp.node, op.stamp.oseq);
    }
  };
  // set before the hello: the node may write the welcome and the next ops
  // frame in one go, and both messages are dispatched before the await
  // below resumes; an ops frame never precedes the welcome
  a.onOps = (f) => take(f.batch.ops);
  a.send(encodeHello(token, BOARD, null));
  const wa = await a.wait((f) => f.type === FRAME.WELCOME || f.type === FRAME.ERROR);
  if (!check(wa && wa.type === FRAME.WELCOME, "no welcome from A")) return;
  const base = new Map(wa.vv); // covered by the welcome state
  for (const [n, q] of wa.vv) if (!vv.has(n) || vv.get(n) < q) vv.set(n, q);
  await sleep(400); // ops of the third-party writer stream in
  // ops in flight: sent, then the client moves at once (no ack awaited)
  const mine = [];
  for (let i = 0; i < 5; i++) {
    const batch = { board: BOARD, ops: [upsert("mv" + i, 9000 + i, i), upsert("mw" + i, 9100 + i, i)] };
    mine.push(batch);
    a.send(encodeOps(batch));
  }
  a.close();
  await sleep(300); // a real client's reconnect backoff
  const b = new Client(URL_B, "client@B", token);
  await b.open();
  b.onOps = (f) => take(f.batch.ops);
  const resumeTok = encodeVV(vv);
  b.send(encodeHello(token, BOARD, resumeTok));
  const wb = await b.wait((f) => f.type === FRAME.WELCOME || f.type === FRAME.ERROR || f.type === FRAME.RESYNC);
  if (!check(wb && wb.type === FRAME.WELCOME, "no welcome from B: " + JSON.stringify(wb && wb.type))) return;
  check((wb.flags & 1) === 1, "B answered the version token with a full state, not the missed ops");
  for (const d of wb.delta || []) take(d.batch.ops);
  for (const batch of mine) b.send(encodeOps(batch)); // the resends
  const acks = [];
  for (let i = 1; i <= mine.length; i++) {
    const f = await b.wait((x) => x.type === FRAME.ACK && !acks.includes(x) && (acks.push(x), true), 10000);
    check(f && f.status === 0, "resend " + i + " not acked OK by B");
  }
  const dups = acks.reduce((s, f) => s + f.dups, 0);
  console.log(`  move: resends answered from B's dedupe window: ${dups} of ${mine.length * 2} ops`);
  await sleep(1500); // quiescence (the writer on the third node has stopped or slows)
  // every op it had not seen, exactly once
  const twice = [...seen].filter(([, n]) => n > 1);
  check(twice.length === 0, "ops received more than once: " + twice.slice(0, 5).map(([k]) => k).join(", "));
  for (const [k] of seen) {
    const [node, oseq] = k.split(":").map(BigInt);
    check(!(base.has(node) && oseq <= base.get(node)), "op " + k + " was already in the welcome state");
  }
  const [st, brd] = await getJson(`${URL_B}/api/v1/boards/${BOARD}`, token);
  check(st === 200, "GET board on B");
  await sleep(500); // ops B applied by then have reached its sessions
  let missing = 0;
  // one board only in this cluster: each origin's oseqs on it are 1..n
  for (const [node, top] of Object.entries(brd.version)) {
    const n = BigInt(node);
    for (let q = (base.get(n) || 0n) + 1n; q <= BigInt(top); q++) if (!seen.has(n + ":" + q)) missing++;
  }
  check(missing === 0, missing + " ops of the board never reached the client (version " + JSON.stringify(brd.version) + ")");
  // own ops applied once: every op id of ours has one stamp in the cluster
  const stamps = new Map();
  for (const url of [URL_A, URL_B]) {
    for (const op of await history(url, token)) {
      if (op.user !== user) continue;
      const set = stamps.get(op.opId) || new Set();
      set.add(op.stamp.node + ":" + op.stamp.oseq);
      stamps.set(op.opId, set);
    }
  }
  for (const batch of mine) for (const op of batch.ops) {
    const s = stamps.get(String(op.opId));
    check(s && s.size === 1, "op id " + op.opId + " has " + (s ? s.size : 0) + " stamps in the cluster (want 1)");
  }
  console.log(`  move: ${seen.size} ops received across A and B, none twice, none missing; ` +
              `${mine.length * 2} own ops applied once`);
  b.close();
}

async function latency() {
  const ta = jwt({ sub: "writer", name: "W", role: "editor" });
  const tb = jwt({ sub: "reader", name: "R", role: "editor" });
  const a = new Client(URL_A, "writer@A", ta);
  const b = new Client(URL_B, "reader@B", tb);
  await a.open();
  await b.open();
  a.send(encodeHello(ta, BOARD, null));
  b.send(encodeHello(tb, BOARD, null));
  check(await a.wait((f) => f.type === FRAME.WELCOME), "welcome A");
  check(await b.wait((f) => f.type === FRAME.WELCOME), "welcome B");
  const arrived = new Map();
  b.onOps = (f) => { for (const op of f.batch.ops) if (op.user === "writer") arrived.set(String(op.opId), f.at); };
  const N = 300, lat = [];
  for (let i = 0; i < N; i++) {
    const id = String(1000 + i);
    const t0 = performance.now();
    a.send(encodeOps({ board: BOARD, ops: [upsert("l" + (i % 20), id, i)] }));
    const f = await b.wait(() => arrived.has(id), 5000);
    if (!check(arrived.has(id), "op " + id + " did not reach B within 5 s")) break;
    lat.push(arrived.get(id) - t0);
    void f;
    await sleep(5);
  }
  lat.sort((x, y) => x - y);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  if (check(lat.length === N, "latency samples " + lat.length)) {
    console.log(`  latency A->B (WebSocket op sent on A to frame on B, ${N} ops, one at a time): ` +
                `p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms, max ${lat[lat.length - 1].toFixed(2)} ms`);
  }
  a.close();
  b.close();
}

async function presence() {
  const ta = jwt({ sub: "alice", name: "Alice", role: "editor" });
  const tb = jwt({ sub: "bob", name: "Bob", role: "editor" });
  const a = new Client(URL_A, "alice@A", ta);
  const b = new Client(URL_B, "bob@B", tb);
  await a.open();
  await b.open();
  a.send(encodeHello(ta, BOARD, null));
  b.send(encodeHello(tb, BOARD, null));
  check(await a.wait((f) => f.type === FRAME.WELCOME), "welcome A");
  check(await b.wait((f) => f.type === FRAME.WELCOME), "welcome B");
  await sleep(300);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) {
    a.send(encodePresence(1234, -56, true));
    const got = await b.wait((f) => f.type === FRAME.SPRESENCE && f.user === "alice", 200);
    if (got) break;
  }
  const fb = b.frames.find((f) => f.type === FRAME.SPRESENCE && f.user === "alice");
  if (check(fb, "alice's presence on A never reached bob on B")) {
    check(fb.x === 1234 && fb.y === -56 && fb.name === "Alice", "presence relayed wrong: " + JSON.stringify([fb.x, fb.y, fb.name]));
    console.log(`  presence A->B: ${(fb.at - t0).toFixed(1)} ms`);
  }
  for (let i = 0; i < 10; i++) {
    b.send(encodePresence(7, 8, false));
    if (await a.wait((f) => f.type === FRAME.SPRESENCE && f.user === "bob", 200)) break;
  }
  check(a.frames.some((f) => f.type === FRAME.SPRESENCE && f.user === "bob" && f.x === 7),
        "bob's presence on B never reached alice on A");
  check(!a.frames.some((f) => f.type === FRAME.SPRESENCE && f.user === "alice"),
        "alice got her own presence back");
  a.close();
  b.close();
}

async function gone() {
  const tb = jwt({ sub: "bob", name: "Bob", role: "editor" });
  const b = new Client(URL_B, "bob@B", tb);
  await b.open();
  b.send(encodeHello(tb, BOARD, null));
  check(await b.wait((f) => f.type === FRAME.WELCOME), "welcome B");
  const admin = jwt({ sub: "admin", role: "owner" });
  const r = await fetch(`${URL_A}/api/v1/boards/${BOARD}`, { method: "DELETE", headers: { Authorization: "Bearer " + admin } });
  check(r.status === 200, "DELETE on A: " + r.status);
  const t0 = Date.now();
  while (b.closed === null && Date.now() - t0 < 10000) await sleep(50);
  check(b.closed === 4004, "the session on B was not closed with 4004 (got " + b.closed + ")");
  const err = b.frames.find((f) => f.type === FRAME.ERROR);
  check(err && err.code === 12, "no not_found error frame before the close");
  console.log(`  gone: board deleted on A, session on B closed ${b.closed} after ${Date.now() - t0} ms`);
}

const timer = setTimeout(() => { check(false, "timed out"); process.exit(fails); }, 100000);
try {
  if (MODE === "move") await move();
  else if (MODE === "latency") await latency();
  else if (MODE === "presence") await presence();
  else if (MODE === "gone") await gone();
  else check(false, "unknown mode " + MODE);
} catch (e) {
  check(false, "exception: " + (e.stack || e));
}
clearTimeout(timer);
process.exit(Math.min(fails, 100));
