// codec.js: the binary protocol of docs/protocol.md in JavaScript, for the
// browser and for Node (tests/web/codec_vectors.mjs checks it against the C
// codec's tests/vectors/ops.vectors and the frame examples of section 2.5).
//
// Part 1 (ops): decodeBatch / encodeBatch / batchToJson follow
// engine/codec_dec.c, codec_props.c and codec_json.c rule for rule, with the
// same error names (WB_E*) in the same order of checks, so that a bad input
// fails here exactly as it fails in C. Part 2 (frames): the client frames
// (hello, ops, presence, ping) are encoded, the server frames (welcome, ops,
// ack, presence, error, resync, pong) decoded. The board state of the
// welcome (docs/board-model.md section 6) is decoded by decodeState.
//
// Representation: 64-bit quantities (client op ids, stamps, version
// vectors) are BigInt; every model value stays in its wire unit (centi-px,
// 1/100 degree, permille, colour as an unsigned 32-bit number) so values
// round-trip exactly. Props are an object keyed by the JSON names of
// protocol.md 1.5; `type` holds the type name ("rect", ...); points are
// arrays [x, y] or [x, y, pressure]; text, z and groupId are JS strings.

export class CodecError extends Error {
  constructor(code, where) {
    super(code + (where ? " (" + where + ")" : ""));
    this.code = code;
  }
}
const fail = (code, where) => { throw new CodecError(code, where); };

export const TYPES = [null, "stroke", "rect", "ellipse", "line", "arrow", "text", "sticky"];
export const PROPS = [null, "type", "x", "y", "width", "height", "rotation", "strokeColor",
  "fillColor", "strokeWidth", "opacity", "text", "fontSize", "points", "z", "locked", "groupId"];
export const KEY_OF = Object.fromEntries(PROPS.map((n, k) => [n, k]).filter(([n]) => n));

const MAX_ID = 64, MAX_USER = 128, MAX_TEXT = 16384, MAX_POINTS = 16384, MAX_OPS = 1024;
const MAX_PROPS = 16, MAX_SIZE = 0x7fffffff, MAX_ROTATION = 35999, MAX_STROKE = 100000;
const MAX_OPACITY = 100, MAX_FONT = 100000, MAX_PRESSURE = 1000, MAX_Z = 64;
const I32_MIN = -2147483648, I32_MAX = 2147483647;
const DELTA_MAX = 2 ** 33;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

// ---- strict UTF-8 (RFC 3629 table, as engine/utf8.c) ------------------------
export function utf8Valid(s) {
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    if (c < 0x80) { i++; continue; }
    let len = 0, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) { len = 3; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
    if (len === 0 || n - i < len) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (let k = 2; k < len; k++) if (s[i + k] < 0x80 || s[i + k] > 0xbf) return false;
    i += len;
  }
  return true;
}

function idValid(s, allowEmpty) { // returns an error name or null
  if (s.length === 0) return allowEmpty ? null : "WB_EMALFORMED";
  if (s.length > MAX_ID) return "WB_ETOOBIG";
  return /^[A-Za-z0-9_-]+$/.test(s) ? null : "WB_EMALFORMED";
}
const zValid = (s) => (s.length === 0 ? "WB_EMALFORMED" : s.length > MAX_Z ? "WB_ETOOBIG"
  : /^[A-Za-z0-9]+$/.test(s) ? null : "WB_EMALFORMED");

// ---- reader -----------------------------------------------------------------
export class Reader {
  constructor(bytes, pos = 0, end = bytes.length) { this.b = bytes; this.pos = pos; this.end = end; }
  left() { return this.end - this.pos; }
  u8() { if (this.pos >= this.end) fail("WB_ETRUNCATED"); return this.b[this.pos++]; }
  u32be() {
    if (this.left() < 4) fail("WB_ETRUNCATED");
    const b = this.b, p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }
  // unsigned LEB128 as BigInt: minimal, at most 64 bits
  big() {
    let x = 0n, i = 0;
    for (;;) {
      if (this.pos + i >= this.end) fail("WB_ETRUNCATED");
      const c = this.b[this.pos + i];
      if (i === 9 && c > 1) fail("WB_EMALFORMED", "varint over 64 bits");
      x |= BigInt(c & 0x7f) << BigInt(7 * i);
      i++;
      if (!(c & 0x80)) {
        if (c === 0 && i > 1) fail("WB_EMALFORMED", "non-minimal varint");
        break;
      }
    }
    this.pos += i;
    return x;
  }
  // the same as a Number (exact below 2^53; larger values are only ever
  // compared against bounds far below that)
  num() {
    let x = 0, mul = 1, i = 0;
    for (;;) {
      if (i === 7) return Number(this.big()); // rare: exact as BigInt first
      if (this.pos + i >= this.end) fail("WB_ETRUNCATED");
      const c = this.b[this.pos + i];
      x += (c & 0x7f) * mul;
      mul *= 128;
      i++;
      if (!(c & 0x80)) {
        if (c === 0 && i > 1) fail("WB_EMALFORMED", "non-minimal varint");
        break;
      }
    }
    this.pos += i;
    return x;
  }
  snum() { const z = this.num(); return z % 2 ? -(z + 1) / 2 : z / 2; }
  bounded(max) {
    const save = this.pos;
    const v = this.num();
    if (v > max) { this.pos = save; fail("WB_EMALFORMED", "value out of range"); }
    return v;
  }
  rawBytes(n) {
    if (this.left() < n) fail("WB_ETRUNCATED");
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  // str with a maximum length: TOOBIG before TRUNCATED, as codec_get_str
  strBytes(max) {
    const save = this.pos;
    const n = this.num();
    if (n > max) { this.pos = save; fail("WB_ETOOBIG"); }
    if (this.left() < n) { this.pos = save; fail("WB_ETRUNCATED"); }
    return this.rawBytes(n);
  }
  utf8(max) {
    const b = this.strBytes(max);
    if (!utf8Valid(b)) fail("WB_EUTF8");
    return dec.decode(b);
  }
  id(allowEmpty = false) {
    const b = this.strBytes(MAX_ID);
    const s = String.fromCharCode(...b);
    const e = idValid(s, allowEmpty);
    if (e) fail(e, "id");
    return s;
  }
  stamp() {
    const save = this.pos;
    const hlc = this.big(), node = this.big(), oseq = this.big();
    if (node === 0n || oseq === 0n) { this.pos = save; fail("WB_EMALFORMED", "zero stamp field"); }
    return { hlc, node, oseq };
  }
}

// ---- writer -----------------------------------------------------------------
export class Writer {
  constructor() { this.buf = new Uint8Array(256); this.n = 0; }
  room(k) {
    if (this.n + k <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + k) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.n));
    this.buf = nb;
  }
  u8(v) { this.room(1); this.buf[this.n++] = v & 0xff; return this; }
  u32be(v) { this.room(4); const b = this.buf; const p = this.n; b[p] = v >>> 24; b[p + 1] = v >>> 16; b[p + 2] = v >>> 8; b[p + 3] = v; this.n += 4; return this; }
  uvar(v) {
    if (typeof v === "bigint") {
      if (v < 0n || v >= 1n << 64n) fail("WB_EMALFORMED", "varint range");
      this.room(10);
      while (v >= 0x80n) { this.buf[this.n++] = Number(v & 0x7fn) | 0x80; v >>= 7n; }
      this.buf[this.n++] = Number(v);
      return this;
    }
    if (!Number.isSafeInteger(v) || v < 0) fail("WB_EMALFORMED", "varint range");
    this.room(10);
    while (v >= 0x80) { this.buf[this.n++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
    this.buf[this.n++] = v;
    return this;
  }
  svar(v) { return this.uvar(v >= 0 ? v * 2 : -v * 2 - 1); }
  bytes(b) { this.room(b.length); this.buf.set(b, this.n); this.n += b.length; return this; }
  blob(b) { return this.uvar(b.length).bytes(b); }
  str(s) { return this.blob(typeof s === "string" ? enc.encode(s) : s); }
  stamp(s) { return this.uvar(s.hlc).uvar(s.node).uvar(s.oseq); }
  out() { return this.buf.slice(0, this.n); }
}

// ---- part 1: property values ------------------------------------------------
function getPoints(r) {
  const n = r.num();
  if (n > MAX_POINTS) fail("WB_ETOOBIG", "points");
  const flags = r.u8();
  if ((flags & ~1) || (n === 0 && flags)) fail("WB_EMALFORMED", "points flags");
  const pressure = flags & 1;
  if (n * (pressure ? 3 : 2) > r.left()) fail("WB_ETRUNCATED");
  const pts = new Array(n);
  let x = 0, y = 0;
  for (let i = 0; i < n; i++) {
    const dx = r.snum(), dy = r.snum();
    if (dx < -DELTA_MAX || dx > DELTA_MAX || dy < -DELTA_MAX || dy > DELTA_MAX) fail("WB_EMALFORMED", "point delta");
    x += dx; y += dy;
    if (x < I32_MIN || x > I32_MAX || y < I32_MIN || y > I32_MAX) fail("WB_EMALFORMED", "point range");
    pts[i] = pressure ? [x, y, r.bounded(MAX_PRESSURE)] : [x, y];
  }
  return pts;
}

function getI32(r) {
  const v = r.snum();
  if (v < I32_MIN || v > I32_MAX) fail("WB_EMALFORMED", "int32");
  return v;
}

export function getValue(r, key) {
  switch (key) {
    case 1: { const t = r.u8(); if (t < 1 || t > 7) fail("WB_EUNKNOWN", "type"); return TYPES[t]; }
    case 2: case 3: return getI32(r);
    case 4: case 5: return r.bounded(MAX_SIZE);
    case 6: return r.bounded(MAX_ROTATION);
    case 7: case 8: return r.u32be();
    case 9: return r.bounded(MAX_STROKE);
    case 10: return r.bounded(MAX_OPACITY);
    case 11: return r.utf8(MAX_TEXT);
    case 12: { const v = r.bounded(MAX_FONT); if (v === 0) fail("WB_EMALFORMED", "fontSize 0"); return v; }
    case 13: return getPoints(r);
    case 14: { const b = r.strBytes(MAX_Z); const s = String.fromCharCode(...b); const e = zValid(s); if (e) fail(e, "z"); return s; }
    case 15: { const b = r.u8(); if (b > 1) fail("WB_EMALFORMED", "locked"); return b === 1; }
    case 16: return r.id(true);
    default: return fail("WB_EUNKNOWN", "key " + key);
  }
}

function getProps(r) {
  const n = r.num();
  if (n === 0) fail("WB_EMALFORMED", "zero props");
  if (n > MAX_PROPS) fail("WB_ETOOBIG", "props");
  if (n * 2 > r.left()) fail("WB_ETRUNCATED");
  const props = {};
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const key = r.num();
    if (key < 1 || key > 16) fail("WB_EUNKNOWN", "key " + key);
    if (key <= prev) fail("WB_EMALFORMED", "keys unsorted");
    prev = key;
    props[PROPS[key]] = getValue(r, key);
  }
  return props;
}

function getOp(r) {
  const head = r.u8();
  if (head & 0xe0) fail("WB_EMALFORMED", "reserved head bits");
  const k = head & 0x0f;
  if (k !== 1 && k !== 2) fail("WB_EUNKNOWN", "op kind");
  const op = { kind: k === 1 ? "upsert" : "delete", opId: r.big(), user: r.utf8(MAX_USER), id: r.id(), stamp: null };
  if (head & 0x10) op.stamp = r.stamp();
  if (k === 1) op.props = getProps(r);
  return op;
}

export function readBatch(r) {
  const version = r.u8();
  if (version !== 1) fail("WB_EBADVERSION");
  const board = r.id();
  const n = r.num();
  if (n === 0) fail("WB_EMALFORMED", "zero ops");
  if (n > MAX_OPS) fail("WB_ETOOBIG", "ops");
  if (n * 5 > r.left()) fail("WB_ETRUNCATED");
  const ops = [];
  for (let i = 0; i < n; i++) ops.push(getOp(r));
  if (r.left() !== 0) fail("WB_EMALFORMED", "trailing bytes");
  return { board, ops };
}

export const decodeBatch = (bytes) => readBatch(new Reader(bytes));

// ---- part 1: encoding (validated by the decoder's rules) --------------------
function checkValue(name, v) {
  const key = KEY_OF[name];
  const isInt = (x, lo, hi) => Number.isInteger(x) && x >= lo && x <= hi;
  switch (key) {
    case 1: return TYPES.indexOf(v) > 0 ? null : "WB_EUNKNOWN";
    case 2: case 3: return isInt(v, I32_MIN, I32_MAX) ? null : "WB_EMALFORMED";
    case 4: case 5: return isInt(v, 0, MAX_SIZE) ? null : "WB_EMALFORMED";
    case 6: return isInt(v, 0, MAX_ROTATION) ? null : "WB_EMALFORMED";
    case 7: case 8: return isInt(v, 0, 0xffffffff) ? null : "WB_EMALFORMED";
    case 9: return isInt(v, 0, MAX_STROKE) ? null : "WB_EMALFORMED";
    case 10: return isInt(v, 0, MAX_OPACITY) ? null : "WB_EMALFORMED";
    case 11: { const b = enc.encode(v); return b.length > MAX_TEXT ? "WB_ETOOBIG" : null; }
    case 12: return isInt(v, 1, MAX_FONT) ? null : "WB_EMALFORMED";
    case 13: {
      if (!Array.isArray(v)) return "WB_EMALFORMED";
      if (v.length > MAX_POINTS) return "WB_ETOOBIG";
      const pr = v.length > 0 && v[0].length === 3;
      for (const p of v) {
        if (p.length !== (pr ? 3 : 2) || !isInt(p[0], I32_MIN, I32_MAX) || !isInt(p[1], I32_MIN, I32_MAX)) return "WB_EMALFORMED";
        if (pr && !isInt(p[2], 0, MAX_PRESSURE)) return "WB_EMALFORMED";
      }
      return null;
    }
    case 14: return typeof v === "string" ? zValid(v) : "WB_EMALFORMED";
    case 15: return typeof v === "boolean" ? null : "WB_EMALFORMED";
    case 16: return typeof v === "string" ? idValid(v, true) : "WB_EMALFORMED";
    default: return "WB_EUNKNOWN";
  }
}

function putValue(w, key, v) {
  switch (key) {
    case 1: w.u8(TYPES.indexOf(v)); break;
    case 2: case 3: w.svar(v); break;
    case 7: case 8: w.u32be(v); break;
    case 11: case 14: case 16: w.str(v); break;
    case 13: {
      const pr = v.length > 0 && v[0].length === 3;
      w.uvar(v.length).u8(pr ? 1 : 0);
      let px = 0, py = 0;
      for (const p of v) { w.svar(p[0] - px).svar(p[1] - py); if (pr) w.uvar(p[2]); px = p[0]; py = p[1]; }
      break;
    }
    case 15: w.u8(v ? 1 : 0); break;
    default: w.uvar(v);
  }
}

export function writeBatch(w, batch) {
  const e = idValid(batch.board, false);
  if (e) fail(e, "board id");
  if (batch.ops.length === 0) fail("WB_EMALFORMED", "zero ops");
  if (batch.ops.length > MAX_OPS) fail("WB_ETOOBIG", "ops");
  w.u8(1).str(batch.board).uvar(batch.ops.length);
  for (const op of batch.ops) {
    const kind = op.kind === "upsert" ? 1 : op.kind === "delete" ? 2 : fail("WB_EUNKNOWN", "op kind");
    const ie = idValid(op.id, false);
    if (ie) fail(ie, "element id");
    const user = enc.encode(op.user || "");
    if (user.length > MAX_USER) fail("WB_ETOOBIG", "user");
    w.u8(kind | (op.stamp ? 0x10 : 0)).uvar(BigInt(op.opId)).blob(user).str(op.id);
    if (op.stamp) {
      if (!op.stamp.node || !op.stamp.oseq) fail("WB_EMALFORMED", "zero stamp field");
      w.stamp(op.stamp);
    }
    if (kind === 1) {
      const keys = Object.keys(op.props).filter((k) => op.props[k] !== undefined)
        .map((k) => KEY_OF[k] ?? fail("WB_EUNKNOWN", "property " + k)).sort((a, b) => a - b);
      if (keys.length === 0) fail("WB_EMALFORMED", "zero props");
      w.uvar(keys.length);
      for (const k of keys) {
        const v = op.props[PROPS[k]];
        const ve = checkValue(PROPS[k], v);
        if (ve) fail(ve, PROPS[k]);
        w.uvar(k);
        putValue(w, k, v);
      }
    }
  }
  return w;
}

export const encodeBatch = (batch) => writeBatch(new Writer(), batch).out();

// ---- part 1: canonical JSON (engine/codec_json.c) ---------------------------
export function fixed(v, digits) {
  const scale = 10 ** digits;
  const a = Math.abs(v);
  const ip = Math.floor(a / scale), fp = a % scale;
  let s = (v < 0 ? "-" : "") + ip;
  if (fp) s += "." + String(fp).padStart(digits, "0").replace(/0+$/, "");
  return s;
}
export function jstr(s) {
  let o = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c >= 0x20 && ch !== '"' && ch !== "\\") { o += ch; continue; }
    const m = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" }[ch];
    o += m || "\\u00" + c.toString(16).padStart(2, "0");
  }
  return o + '"';
}
export const colourHex = (c) => "#" + (c >>> 0).toString(16).padStart(8, "0");
export function valueJson(name, v) {
  switch (name) {
    case "type": case "text": case "z": case "groupId": return jstr(v);
    case "x": case "y": case "width": case "height": case "rotation": case "strokeWidth": case "fontSize": return fixed(v, 2);
    case "strokeColor": case "fillColor": return v === 0 ? '"none"' : '"' + colourHex(v) + '"';
    case "opacity": return String(v);
    case "locked": return v ? "true" : "false";
    case "points": return "[" + v.map((p) => "[" + fixed(p[0], 2) + "," + fixed(p[1], 2) + (p.length > 2 ? "," + fixed(p[2], 3) : "") + "]").join(",") + "]";
    default: return "null";
  }
}
export function propsJson(props) {
  const parts = [];
  for (let k = 1; k <= 16; k++) if (props[PROPS[k]] !== undefined) parts.push(jstr(PROPS[k]) + ":" + valueJson(PROPS[k], props[PROPS[k]]));
  return parts.join(",");
}
export function batchToJson(b) {
  const ops = b.ops.map((op) => {
    let s = '{"kind":"' + op.kind + '","opId":"' + op.opId + '","user":' + jstr(op.user) + ',"id":' + jstr(op.id);
    if (op.stamp) s += ',"stamp":{"hlc":"' + op.stamp.hlc + '","node":"' + op.stamp.node + '","oseq":"' + op.stamp.oseq + '"}';
    if (op.kind === "upsert") s += ',"props":{' + propsJson(op.props) + "}";
    return s + "}";
  });
  return '{"board":' + jstr(b.board) + ',"ops":[' + ops.join(",") + "]}";
}

// ---- version vectors --------------------------------------------------------
// A vv is a Map of BigInt node -> BigInt seq; encoded nodes ascending.
export function readVV(r) {
  const n = r.num();
  if (n > 1024) fail("WB_ETOOBIG", "vv");
  if (n * 2 > r.left()) fail("WB_ETRUNCATED");
  const m = new Map();
  let prev = -1n;
  for (let i = 0; i < n; i++) {
    const node = r.big(), seq = r.big();
    if (node <= prev || seq === 0n) fail("WB_EMALFORMED", "vv order");
    prev = node;
    m.set(node, seq);
  }
  return m;
}
export function encodeVV(m) {
  const keys = [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const w = new Writer().uvar(keys.length);
  for (const k of keys) w.uvar(k).uvar(m.get(k));
  return w.out();
}

// ---- board state (docs/board-model.md section 6) ----------------------------
// -> {board, vv, records: [{id, tomb, props: {name: {v, s}}}]}
export const stampCmp = (a, b) => (a.hlc !== b.hlc ? (a.hlc < b.hlc ? -1 : 1)
  : a.node !== b.node ? (a.node < b.node ? -1 : 1) : a.oseq !== b.oseq ? (a.oseq < b.oseq ? -1 : 1) : 0);

export function decodeState(bytes) {
  const r = new Reader(bytes);
  const magic = r.rawBytes(4);
  if (String.fromCharCode(...magic) !== "WBST") fail("WB_EBADMAGIC");
  if (r.u8() !== 1) fail("WB_EBADVERSION");
  const board = r.id();
  const vv = readVV(r);
  const nrec = r.num();
  if (nrec * 5 > r.left()) fail("WB_ETRUNCATED");
  const records = [];
  let prevId = null;
  for (let i = 0; i < nrec; i++) {
    const id = r.id();
    if (prevId !== null && !(prevId < id)) fail("WB_EMALFORMED", "records unsorted");
    prevId = id;
    const tflag = r.u8();
    if (tflag > 1) fail("WB_EMALFORMED", "tflag");
    const tomb = tflag ? r.stamp() : null;
    const nst = r.num();
    if (nst > 17) fail("WB_ETOOBIG", "stamps");
    const st = [];
    for (let k = 0; k < nst; k++) {
      const s = r.stamp();
      if ((k > 0 && stampCmp(st[k - 1], s) >= 0) || (tomb && stampCmp(s, tomb) <= 0)) fail("WB_EMALFORMED", "stamp order");
      st.push(s);
    }
    const np = r.num();
    if (np > 16) fail("WB_ETOOBIG", "props");
    const props = {};
    const used = new Array(nst).fill(false);
    let prev = 0;
    for (let k = 0; k < np; k++) {
      const key = r.num();
      if (key < 1 || key > 16) fail("WB_EUNKNOWN", "key");
      if (key <= prev) fail("WB_EMALFORMED", "keys unsorted");
      prev = key;
      const sidx = r.num();
      if (sidx >= nst) fail("WB_EMALFORMED", "stamp index");
      used[sidx] = true;
      props[PROPS[key]] = { v: getValue(r, key), s: st[sidx] };
    }
    if (used.some((u) => !u) || (!tomb && np === 0)) fail("WB_EMALFORMED", "record");
    records.push({ id, tomb, props });
  }
  if (r.left() !== 0) fail("WB_EMALFORMED", "trailing bytes");
  return { board, vv, records };
}

// ---- part 2: frames ---------------------------------------------------------
export const FRAME = { HELLO: 0x01, OPS: 0x02, PRESENCE: 0x03, PING: 0x04, WELCOME: 0x81,
  SOPS: 0x82, ACK: 0x83, SPRESENCE: 0x84, ERROR: 0x85, RESYNC: 0x86, PONG: 0x87 };
export const CODES = ["ok", "malformed", "too_big", "unauthorized", "forbidden", "rate_limited",
  "limit", "unavailable", "protocol", "version", "internal", "stale", "not_found"];

// proto 2: version 1 plus presence leaves (protocol.md 2.2); the default 1
// is what the documented examples use.
export function encodeHello(token, board, resume, proto = 1) {
  return new Writer().u8(0x01).u8(1).uvar(proto).str(token).str(board).blob(resume || new Uint8Array(0)).out();
}
export function encodeOps(batch) {
  for (const op of batch.ops) if (op.stamp) fail("WB_EMALFORMED", "stamped op from a client");
  return writeBatch(new Writer().u8(0x02).u8(1), batch).out();
}
export function encodePresence(x, y, drawing, sel = []) {
  const w = new Writer().u8(0x03).u8(1).svar(x).svar(y).u8(drawing ? 1 : 0).uvar(Math.min(sel.length, 64));
  for (const id of sel.slice(0, 64)) w.str(id);
  return w.out();
}
export const encodePing = (nonce) => new Writer().u8(0x04).u8(1).uvar(nonce).out();

// flags bit 0 drawing; bit 1 (server frames only) the user left the board
export const PRESENCE_LEFT = 2;
function readPresenceBody(r, f, server) {
  f.x = getI32(r); f.y = getI32(r);
  f.flags = r.u8();
  if (f.flags & ~(server ? 1 | PRESENCE_LEFT : 1)) fail("WB_EMALFORMED", "presence flags");
  const n = r.num();
  if (n > 64) fail("WB_ETOOBIG", "selection");
  f.sel = [];
  for (let i = 0; i < n; i++) f.sel.push(r.id());
}

export function decodeServerFrame(bytes) {
  const r = new Reader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const f = { type: r.u8() };
  if (r.u8() !== 1) fail("WB_EBADVERSION");
  switch (f.type) {
    case 0x81: {
      f.flags = r.u8();
      if ((f.flags & ~3) || f.flags === 3) fail("WB_EMALFORMED", "welcome flags");
      f.role = r.u8();
      if (f.role < 1 || f.role > 3) fail("WB_EMALFORMED", "role");
      f.user = r.utf8(MAX_USER);
      const vb = r.strBytes(1 << 20);
      f.vv = readVV(new Reader(vb));
      if (f.flags & 1) {
        const n = r.num();
        f.delta = [];
        for (let i = 0; i < n; i++) {
          const seq = r.big();
          const bb = r.strBytes(r.left());
          if (bb.length === 0) fail("WB_EMALFORMED", "empty batch");
          const batch = decodeBatch(bb);
          if (batch.ops.some((o) => !o.stamp)) fail("WB_EMALFORMED", "unstamped op from the server");
          f.delta.push({ seq, batch });
        }
      } else {
        f.state = r.strBytes(r.left());
      }
      break;
    }
    case 0x82:
      f.seq = r.big();
      f.batch = readBatch(r);
      if (f.batch.ops.some((o) => !o.stamp)) fail("WB_EMALFORMED", "unstamped op from the server");
      break;
    case 0x83: {
      f.status = r.num(); f.firstSeq = r.big(); f.dups = r.num();
      const n = r.num();
      if (n < 1 || n > MAX_OPS) fail(n ? "WB_ETOOBIG" : "WB_EMALFORMED", "ack count");
      if (f.dups > n) fail("WB_EMALFORMED", "dups");
      f.items = [];
      for (let i = 0; i < n; i++) {
        const it = { opId: r.big(), stamp: null };
        if (f.status === 0) it.stamp = r.stamp();
        f.items.push(it);
      }
      break;
    }
    case 0x84:
      f.user = r.utf8(MAX_USER); f.name = r.utf8(MAX_USER); f.colour = r.u32be();
      readPresenceBody(r, f, true);
      break;
    case 0x85: f.code = r.num(); f.fatal = r.u8(); f.msg = r.utf8(256); break;
    case 0x86: f.code = r.num(); f.msg = r.utf8(256); break;
    case 0x87: f.nonce = r.big(); break;
    default: fail("WB_EUNKNOWN", "frame type");
  }
  if (r.left() !== 0) fail("WB_EMALFORMED", "trailing bytes");
  return f;
}

export const toHex = (b) => Array.from(b, (c) => c.toString(16).padStart(2, "0")).join("");
export function fromHex(h) {
  const s = h.replace(/\s+/g, "");
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
  return b;
}
