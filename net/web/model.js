// model.js: the client's copy of a board, merged exactly as the server
// merges it (docs/board-model.md section 2: per-property last writer wins by
// stamp, tombstones), plus the overlay of this client's own ops that the
// server has not acknowledged yet.
//
// Confirmed state: `recs` (id -> {tomb, props: {name: {v, s}}}) and the
// version vector `vv` (node -> highest oseq applied, both BigInt), fed by
// the welcome (loadState / a delta of batches) and by stamped ops (server
// broadcasts and acks; applying an op twice is harmless).
// Pending overlay: unstamped local ops in submission order; an unstamped
// op wins every property, as the server judges a freshly stamped local op,
// so the view is "confirmed, then the pending ops applied in order". The
// connection (conn.js) owns the pending list and calls setPending.
//
// view(id) and elements() return plain prop objects in wire units
// (centi-px, ...) with `id` added; `ver(id)` grows on every change of an
// element so renderers redraw only what changed.
import { stampCmp } from "./codec.js";

function valueCmp(a, b) {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export class Board {
  constructor(id) {
    this.id = id;
    this.recs = new Map();
    this.vv = new Map();
    this.pending = [];      // [{ops: [{kind, id, props}]}]
    this.vers = new Map();  // id -> change counter
    this.tick = 0;
    this.onChange = null;   // (ids: Set|null) => void; null means everything
  }

  touch(id) {
    this.vers.set(id, ++this.tick);
  }
  ver(id) { return this.vers.get(id) || 0; }
  changed(ids) { if (this.onChange) this.onChange(ids); }

  // Replaces the confirmed state by a decoded board state (codec.decodeState).
  loadState(st) {
    this.tick++;
    for (const id of this.recs.keys()) this.touch(id);
    this.recs = new Map();
    for (const r of st.records) { this.recs.set(r.id, { tomb: r.tomb, props: r.props }); this.touch(r.id); }
    this.vv = new Map(st.vv);
    this.changed(null);
  }

  raise(s) {
    const cur = this.vv.get(s.node);
    if (cur === undefined || s.oseq > cur) this.vv.set(s.node, s.oseq);
  }

  // Applies stamped ops (the merge rule); returns the ids touched.
  applyOps(ops, notify = true) {
    const ids = new Set();
    for (const op of ops) {
      if (!op.stamp) continue;
      const s = op.stamp;
      let rec = this.recs.get(op.id);
      if (op.kind === "delete") {
        if (!rec) { rec = { tomb: null, props: {} }; this.recs.set(op.id, rec); }
        if (!rec.tomb || stampCmp(s, rec.tomb) > 0) {
          rec.tomb = s;
          for (const k of Object.keys(rec.props)) if (stampCmp(rec.props[k].s, s) <= 0) delete rec.props[k];
        }
      } else {
        if (rec && rec.tomb && stampCmp(s, rec.tomb) <= 0) { this.raise(s); continue; }
        if (!rec) { rec = { tomb: null, props: {} }; this.recs.set(op.id, rec); }
        for (const [k, v] of Object.entries(op.props)) {
          const cur = rec.props[k];
          const c = cur ? stampCmp(s, cur.s) : 1;
          if (c > 0 || (c === 0 && valueCmp(v, cur.v) > 0)) rec.props[k] = { v, s };
        }
      }
      this.raise(s);
      this.touch(op.id);
      ids.add(op.id);
    }
    if (notify && ids.size) this.changed(ids);
    return ids;
  }

  setPending(batches) {
    const ids = new Set();
    for (const b of this.pending) for (const o of b.ops) ids.add(o.id);
    for (const b of batches) for (const o of b.ops) ids.add(o.id);
    this.pending = batches;
    for (const id of ids) this.touch(id);
    this.changed(ids);
  }

  confirmed(id) {
    const rec = this.recs.get(id);
    if (!rec || !rec.props.type) return null;
    const o = { id };
    for (const [k, pv] of Object.entries(rec.props)) o[k] = pv.v;
    return o;
  }

  // The element as this client sees it (pending ops applied), or null.
  view(id) {
    let o = null;
    const rec = this.recs.get(id);
    if (rec) { o = { id }; for (const [k, pv] of Object.entries(rec.props)) o[k] = pv.v; }
    for (const b of this.pending) for (const op of b.ops) {
      if (op.id !== id) continue;
      if (op.kind === "delete") o = { id };
      else o = Object.assign(o || { id }, op.props);
    }
    return o && o.type ? o : null;
  }

  ids() {
    const s = new Set(this.recs.keys());
    for (const b of this.pending) for (const op of b.ops) s.add(op.id);
    return s;
  }

  // Visible elements, bottom to top (z bytewise, then id); cached until
  // the next change (every change moves `tick`).
  elements() {
    if (this.cache && this.cache.tick === this.tick) return this.cache.list;
    const out = [];
    for (const id of this.ids()) { const v = this.view(id); if (v) out.push(v); }
    out.sort((a, b) => {
      const za = a.z || "", zb = b.z || "";
      if (za !== zb) return za < zb ? -1 : 1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    this.cache = { tick: this.tick, list: out };
    return out;
  }
}

// ---- fractional indices for z (1..64 chars of [0-9A-Za-z], bytewise) --------
const D = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function mid(a, b) { // a < b (b may be null: +infinity); neither ends in "0"
  if (b !== null) {
    let n = 0;
    while (n < b.length && (a[n] || "0") === b[n]) n++;
    if (n > 0) return b.slice(0, n) + mid(a.slice(n), b.slice(n));
  }
  const da = a ? D.indexOf(a[0]) : 0, db = b !== null ? D.indexOf(b[0]) : D.length;
  if (db - da > 1) return D[Math.floor((da + db) / 2)];
  if (b !== null && b.length > 1) return b.slice(0, 1);
  return D[da] + mid(a.slice(1), null);
}
// A z strictly between a and b (either may be null: no bound).
export function zBetween(a, b) {
  const lo = a || "";
  if (b !== null && b !== undefined && lo >= b) return null;
  const hi = b === undefined ? null : b;
  const z = mid(lo, hi);
  return z.length <= 64 && z > lo && (hi === null || z < hi) ? z : null;
}
