// conn.js: one board's live connection (docs/protocol.md part 2): hello with
// the token and the version token, the welcome (full state, delta or
// resync), server ops, acks, presence, reconnects with backoff.
//
// Offline queue: every local change is a batch with client op ids chosen
// here; batches stay in `pending` (and in localStorage, so a reload keeps
// them) until their ack with status ok. After every welcome all pending
// batches are sent again with the SAME op ids: the server answers a resend
// from its dedupe window with the original stamps, so nothing is applied
// twice. Op ids: unix seconds << 32 | 12 random bits << 20 | a counter,
// unique per user across tabs and reloads (the server dedupes on user + id).
//
// Version token: the board model's vv (the welcome's version, raised by
// every stamped op applied); it is sent as `resume` on reconnect.
// States for the indicator: connecting, connected, reconnecting, offline.
import * as C from "./codec.js";

const BACKOFF_MS = [200, 400, 800, 1500, 2500];
const PING_MS = 10000;
const PRESENCE_TTL_MS = 9000;

export class Conn {
  constructor({ token, board, model, url }) {
    this.token = token;
    this.boardId = board;
    this.model = model;
    this.url = url || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    this.state = "connecting";
    this.role = 0;
    this.user = "";
    this.peers = new Map(); // user -> {name, colour, x, y, drawing, sel, t}
    this.pending = [];      // [{ops: [{kind, id, props, opId}]}], in order
    this.attempt = 0;
    this.stopped = false;
    this.fatal = null;
    const seed = BigInt(Math.floor(Date.now() / 1000)) << 32n;
    this.opBase = seed | (BigInt(Math.floor(Math.random() * 4096)) << 20n);
    this.opCounter = 0n;
    this.on = { state: () => {}, welcome: () => {}, presence: () => {}, fatal: () => {}, refused: () => {}, applied: () => {} };
    this.stats = { welcomes: 0, resent: 0, acked: 0, dups: 0, resumeBytes: 0, welcomeFlags: -1 };
    this.storeKey = "wb.pending." + board;
    this.restore();
    // The browser's own word on the network: offline closes the socket (it
    // would only die at the next missed pong) and waits for online.
    this.onOnline = () => { this.attempt = 0; if (!this.ws) this.connect(); };
    this.onOffline = () => { if (this.ws) this.ws.close(4000); this.setState("offline"); };
    addEventListener("online", this.onOnline);
    addEventListener("offline", this.onOffline);
  }

  setState(s) {
    if (s !== "connected" && !navigator.onLine) s = "offline";
    if (this.state === s) return;
    this.state = s;
    this.on.state(s);
  }

  // ---- local changes ---------------------------------------------------------
  nextOpId() { this.opCounter += 1n; return this.opBase | (this.opCounter & 0xfffffn); }

  // ops: [{kind: "upsert"|"delete", id, props?}] -> queued and sent when open
  submit(ops) {
    if (!ops.length) return;
    for (let i = 0; i < ops.length; i += 1024) {
      const batch = { ops: ops.slice(i, i + 1024).map((o) => ({ ...o, opId: this.nextOpId() })) };
      try {
        C.encodeBatch(this.toBatch(batch)); // what the server would refuse never enters the queue
      } catch (e) {
        console.warn("wb: change not sent:", e.code || e.message);
        this.on.refused(e.code || "invalid");
        continue;
      }
      this.pending.push(batch);
      if (this.state === "connected") this.sendBatch(batch);
    }
    this.pendingChanged();
  }

  pendingChanged() {
    this.model.setPending(this.pending);
    this.persist();
  }

  persist() {
    try {
      if (!this.pending.length) { localStorage.removeItem(this.storeKey); return; }
      const hex = this.pending.map((b) => C.toHex(C.encodeBatch(this.toBatch(b))));
      localStorage.setItem(this.storeKey, JSON.stringify({ user: this.user, batches: hex }));
    } catch (e) { /* storage full or unavailable: the queue stays in memory */ }
  }

  restore() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storeKey) || "null");
      if (!saved) return;
      for (const hex of saved.batches) {
        const b = C.decodeBatch(C.fromHex(hex));
        this.pending.push({ ops: b.ops.map((o) => ({ kind: o.kind, id: o.id, props: o.props, opId: o.opId })) });
      }
      this.restoredUser = saved.user;
      this.model.setPending(this.pending);
    } catch (e) { localStorage.removeItem(this.storeKey); }
  }

  toBatch(b) {
    return { board: this.boardId, ops: b.ops.map((o) => ({ kind: o.kind, opId: o.opId, user: "", id: o.id, stamp: null, props: o.props })) };
  }

  sendBatch(b) {
    if (!this.ws || this.ws.readyState !== 1) return;
    this.ws.send(C.encodeOps(this.toBatch(b)));
  }

  presence(x, y, drawing, sel) {
    if (this.state !== "connected" || !this.ws || this.ws.readyState !== 1) return;
    this.ws.send(C.encodePresence(Math.round(x), Math.round(y), drawing, sel));
  }

  // ---- the socket --------------------------------------------------------------
  start() { this.connect(); }

  stop() {
    this.stopped = true;
    removeEventListener("online", this.onOnline);
    removeEventListener("offline", this.onOffline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    if (!navigator.onLine) { this.setState("offline"); return; } // the online event reconnects
    let ws;
    try {
      ws = new WebSocket(this.url, "wb.v1");
    } catch (e) {
      this.scheduleRetry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.resync = false;
    ws.onopen = () => {
      const resume = this.model.vv.size && !this.forgetVV ? C.encodeVV(this.model.vv) : new Uint8Array(0);
      this.forgetVV = false;
      this.stats.resumeBytes = resume.length;
      ws.send(C.encodeHello(this.token, this.boardId, resume, 2)); // 2: with presence leaves
    };
    ws.onmessage = (ev) => {
      let f;
      try { f = C.decodeServerFrame(new Uint8Array(ev.data)); } catch (e) {
        console.warn("wb: undecodable frame", e.code || e.message);
        return;
      }
      try {
        this.frame(f);
      } catch (e) { // e.g. a welcome state that does not decode: start over
        console.warn("wb: frame not applied:", e.code || e.message);
        this.forgetVV = true;
        ws.close(4000);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if ([4001, 4003, 4004].includes(ev.code)) {
        this.fatal = { 4001: "unauthorized", 4003: "forbidden", 4004: "not_found" }[ev.code];
        this.setState("offline");
        this.on.fatal(this.fatal);
        return;
      }
      this.setState("reconnecting");
      this.scheduleRetry();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  scheduleRetry() {
    if (this.stopped) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), base + Math.random() * base * 0.3);
  }

  frame(f) {
    switch (f.type) {
      case C.FRAME.WELCOME: return this.welcome(f);
      case C.FRAME.SOPS: this.model.applyOps(f.batch.ops); this.on.applied(f.batch.ops); return;
      case C.FRAME.ACK: return this.ack(f);
      case C.FRAME.SPRESENCE: {
        if (f.flags & C.PRESENCE_LEFT) { // their last tab here closed
          if (this.peers.delete(f.user)) this.on.presence(null);
          return;
        }
        const p = { user: f.user, name: f.name || f.user, colour: f.colour, x: f.x, y: f.y, drawing: !!(f.flags & 1), sel: f.sel, t: Date.now() };
        // while someone draws, their positions form a trail others see
        const old = this.peers.get(f.user);
        p.trail = p.drawing ? [...(old && old.drawing ? old.trail : []), [f.x, f.y]].slice(-2000) : [];
        this.peers.set(f.user, p);
        this.on.presence(p);
        return;
      }
      case C.FRAME.ERROR:
        if (!f.fatal) console.warn("wb: server error", C.CODES[f.code], f.msg);
        return;
      case C.FRAME.RESYNC:
        this.forgetVV = true;
        if (this.ws) this.ws.close(4000);
        return;
      case C.FRAME.PONG: this.lastPong = Date.now(); return;
      default:
    }
  }

  welcome(f) {
    this.role = f.role;
    this.user = f.user;
    this.attempt = 0;
    this.stats.welcomes++;
    this.stats.welcomeFlags = f.flags;
    if (f.flags & 1) {
      const ids = new Set();
      for (const d of f.delta) for (const id of this.model.applyOps(d.batch.ops, false)) ids.add(id);
      for (const [k, v] of f.vv) this.model.raise({ node: k, oseq: v });
      this.model.changed(ids);
    } else {
      const st = C.decodeState(f.state);
      st.vv = f.vv;
      this.model.loadState(st);
    }
    // A queue restored from storage belongs to the user who made it.
    if (this.restoredUser && this.restoredUser !== f.user) { this.pending = []; this.pendingChanged(); }
    this.restoredUser = null;
    if (f.role < 2 && this.pending.length) { this.pending = []; this.pendingChanged(); }
    this.setState("connected");
    this.on.welcome(f);
    for (const b of this.pending) { this.stats.resent++; this.sendBatch(b); }
    this.lastPong = Date.now();
    clearInterval(this.pingTimer);
    let nonce = 0;
    this.pingTimer = setInterval(() => {
      if (!this.ws || this.ws.readyState !== 1) return;
      if (Date.now() - this.lastPong > 2 * PING_MS + 1000) { this.ws.close(4000); return; }
      this.ws.send(C.encodePing(++nonce));
      this.prunePeers();
    }, PING_MS / 2);
  }

  prunePeers() {
    const now = Date.now();
    for (const [u, p] of this.peers) if (now - p.t > PRESENCE_TTL_MS) { this.peers.delete(u); this.on.presence(null); }
  }

  ack(f) {
    const first = f.items[0].opId;
    const i = this.pending.findIndex((b) => b.ops[0].opId === first);
    if (i < 0) return; // a second ack of a batch already settled
    const b = this.pending[i];
    if (f.status === 0) {
      const ops = b.ops.map((o, k) => ({ kind: o.kind, id: o.id, props: o.props, opId: o.opId, user: this.user, stamp: f.items[k].stamp }));
      this.stats.acked += ops.length;
      this.stats.dups += f.dups;
      this.pending.splice(i, 1);
      this.model.applyOps(ops, false);
      this.pendingChanged();
      return;
    }
    const code = C.CODES[f.status] || String(f.status);
    if (code === "rate_limited" || code === "unavailable") {
      setTimeout(() => { if (this.pending.includes(b) && this.state === "connected") this.sendBatch(b); }, 1000);
      return;
    }
    this.pending.splice(i, 1);
    this.pendingChanged();
    this.on.refused(code);
  }

  activePeers() {
    this.prunePeers();
    return [...this.peers.values()];
  }
}
