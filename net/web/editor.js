// editor.js: the board view: an infinite SVG canvas (pan, zoom), the tools
// (select, pen, rectangle, ellipse, line, arrow, text, sticky, eraser),
// selection with move / resize / delete / z-order, style changes, undo and
// redo of this user's own changes, keyboard shortcuts, remote cursors.
//
// Every change is a list of ops handed to conn.submit (never applied
// locally first: the board model's pending overlay shows it at once).
// Undo: each action records its inverse ops, computed from the view just
// before the change (an upsert's previous values, a delete's full element,
// a creation's delete); undo submits the inverse as new ops, redo the
// original ones again. Transient state (a stroke being drawn, a drag) lives
// in `draft` / `preview` and is drawn on top until the pointer is released.
//
// Coordinates: world = centi-px (the model's unit); screen px =
// world / 100 * zoom + (tx, ty).
import { elementNode, bounds, hit, intersects, textSize, css, defs, rotCentre, SVGNS, DEFAULT_STROKE, STICKY_FILL, FONT } from "./render.js";
import { zBetween } from "./model.js";

export const TOOLS = ["select", "hand", "pen", "rect", "ellipse", "line", "arrow", "text", "sticky", "eraser"];
export const TOOL_KEYS = { v: "select", h: "hand", p: "pen", r: "rect", o: "ellipse", l: "line", a: "arrow", t: "text", s: "sticky", e: "eraser" };
const DEFAULTS = { x: 0, y: 0, width: 0, height: 0, rotation: 0, strokeColor: DEFAULT_STROKE, fillColor: 0, strokeWidth: 200,
  opacity: 100, text: "", fontSize: 2400, points: [], locked: false, groupId: "", z: "1" }; // z: near the bottom (it cannot be unset)
const POINT_TYPES = new Set(["stroke", "line", "arrow"]);

// A stroke, line or arrow turned by deg degrees (clockwise on screen, as the
// rotation property turns a shape) around the world point c: its origin is
// turned around c and its points (relative to the origin) around (0, 0);
// pressure is kept. Integer units, as the protocol carries them.
function turnPoints(o, c, deg) {
  const a = (deg * Math.PI) / 180, cos = Math.cos(a), sin = Math.sin(a);
  const ox = (o.x || 0) - c[0], oy = (o.y || 0) - c[1];
  const points = (o.points || []).map((q) => {
    const r = [Math.round(q[0] * cos - q[1] * sin), Math.round(q[0] * sin + q[1] * cos)];
    if (q.length > 2) r.push(q[2]);
    return r;
  });
  return { x: Math.round(c[0] + ox * cos - oy * sin), y: Math.round(c[1] + ox * sin + oy * cos), points };
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
export function newId() {
  const r = crypto.getRandomValues(new Uint8Array(21));
  return Array.from(r, (b) => ALPHABET[b & 63]).join("");
}

// Ramer-Douglas-Peucker on [x, y] points, tolerance in centi-px.
function simplify(pts, tol) {
  if (pts.length < 3) return pts;
  const keep = new Uint8Array(pts.length);
  keep[0] = keep[pts.length - 1] = 1;
  const stack = [[0, pts.length - 1]];
  while (stack.length) {
    const [a, b] = stack.pop();
    let best = -1, bi = -1;
    const [ax, ay] = pts[a], [bx, by] = pts[b];
    const dx = bx - ax, dy = by - ay, len = Math.hypot(dx, dy) || 1;
    for (let i = a + 1; i < b; i++) {
      const d = Math.abs(dy * pts[i][0] - dx * pts[i][1] + bx * ay - by * ax) / len;
      if (d > best) { best = d; bi = i; }
    }
    if (best > tol) { keep[bi] = 1; stack.push([a, bi], [bi, b]); }
  }
  return pts.filter((_, i) => keep[i]);
}

export class Editor {
  constructor(host, board, conn, ui) {
    this.host = host;
    this.board = board;
    this.conn = conn;
    this.ui = ui; // {onTool, onSelection, onStatus}
    this.readonly = true;
    this.tool = "select";
    this.style = { strokeColor: DEFAULT_STROKE, fillColor: 0, strokeWidth: 200, fontSize: 2400 };
    this.cam = { tx: 0, ty: 0, zoom: 1 };
    this.sel = new Set();
    this.undoStack = [];
    this.redoStack = [];
    this.nodes = new Map(); // id -> {node, key}
    this.preview = new Map(); // id -> props override while dragging
    this.hidden = new Set(); // erased while the eraser is down
    this.draft = null;
    this.drag = null;
    this.cursor = null; // last pointer world position
    this.lastPresence = 0;
    this.build();
    board.onChange = () => this.schedule();
    this.schedule();
  }

  build() {
    this.host.innerHTML = "";
    this.svg = document.createElementNS(SVGNS, "svg");
    this.svg.id = "board-svg";
    this.svg.appendChild(defs());
    this.world = document.createElementNS(SVGNS, "g");
    this.world.id = "world";
    this.layer = document.createElementNS(SVGNS, "g");
    this.layer.id = "layer-elements";
    this.draftLayer = document.createElementNS(SVGNS, "g");
    this.draftLayer.id = "layer-draft";
    this.selLayer = document.createElementNS(SVGNS, "g");
    this.selLayer.id = "layer-selection";
    this.world.append(this.layer, this.draftLayer, this.selLayer);
    this.svg.appendChild(this.world);
    this.cursors = document.createElement("div");
    this.cursors.id = "cursors";
    this.host.append(this.svg, this.cursors);
    const s = this.svg;
    s.addEventListener("pointerdown", (e) => this.down(e));
    s.addEventListener("pointermove", (e) => this.move(e));
    s.addEventListener("pointerup", (e) => this.up(e));
    s.addEventListener("pointercancel", (e) => { this.touch(e, "up"); this.cancel(); });
    s.addEventListener("dblclick", (e) => this.dblclick(e));
    s.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    this.keyHandler = (e) => this.key(e);
    addEventListener("keydown", this.keyHandler);
    this.keyUpHandler = (e) => { if (e.code === "Space") this.space = false; };
    this.resizeHandler = () => this.schedule();
    addEventListener("keyup", this.keyUpHandler);
    addEventListener("resize", this.resizeHandler);
  }

  setReadonly(ro) {
    this.readonly = ro;
    if (ro && !["select", "hand"].includes(this.tool)) this.setTool("select");
    this.ui.onTool(this.tool);
  }

  setTool(t) {
    if (this.readonly && !["select", "hand"].includes(t)) return;
    this.commitText();
    this.tool = t;
    if (t !== "select") this.select([]);
    this.svg.dataset.tool = t;
    this.ui.onTool(t);
  }

  // ---- coordinates ---------------------------------------------------------------
  toWorld(e) {
    const r = this.svg.getBoundingClientRect();
    return { x: Math.round(((e.clientX - r.left - this.cam.tx) / this.cam.zoom) * 100), y: Math.round(((e.clientY - r.top - this.cam.ty) / this.cam.zoom) * 100) };
  }
  toScreen(x, y) { return { x: (x / 100) * this.cam.zoom + this.cam.tx, y: (y / 100) * this.cam.zoom + this.cam.ty }; }
  zoomAt(f, sx, sy) {
    const z = Math.min(8, Math.max(0.1, this.cam.zoom * f));
    const k = z / this.cam.zoom;
    this.cam.tx = sx - (sx - this.cam.tx) * k;
    this.cam.ty = sy - (sy - this.cam.ty) * k;
    this.cam.zoom = z;
    this.schedule();
  }
  zoomBy(f) { const r = this.svg.getBoundingClientRect(); this.zoomAt(f, r.width / 2, r.height / 2); }

  // ---- model helpers ---------------------------------------------------------------
  view(id) {
    if (this.hidden.has(id)) return null;
    const v = this.board.view(id);
    if (!v) return null;
    const p = this.preview.get(id);
    return p ? { ...v, ...p } : v;
  }
  elements() {
    const out = [];
    for (const e of this.board.elements()) {
      if (this.hidden.has(e.id)) continue;
      const p = this.preview.get(e.id);
      out.push(p ? { ...e, ...p } : e);
    }
    return out;
  }
  topZ() { const els = this.board.elements(); return els.length ? els[els.length - 1].z || null : null; }
  hitAt(p, tol, list) {
    const els = list || this.elements();
    for (let i = els.length - 1; i >= 0; i--) if (!this.hidden.has(els[i].id) && hit(els[i], p.x, p.y, tol)) return els[i];
    return null;
  }
  tol() { return 600 / this.cam.zoom; }

  // Submits ops as one undoable action.
  act(ops, record = true, inverse = null) {
    if (this.readonly || !ops.length) return;
    if (record && inverse) {
      this.undoStack.push({ fwd: ops, inv: inverse });
      this.redoStack = [];
    } else if (record) {
      const inv = [];
      for (const op of ops) {
        const prev = this.board.view(op.id);
        if (op.kind === "delete") {
          if (prev) { const { id, ...props } = prev; inv.unshift({ kind: "upsert", id, props }); }
        } else if (!prev) {
          inv.unshift({ kind: "delete", id: op.id });
        } else {
          const props = {};
          for (const k of Object.keys(op.props)) {
            const v = prev[k] !== undefined ? prev[k] : DEFAULTS[k];
            if (v !== undefined) props[k] = v;
          }
          if (Object.keys(props).length) inv.unshift({ kind: "upsert", id: op.id, props });
        }
      }
      this.undoStack.push({ fwd: ops, inv });
      if (this.undoStack.length > 200) this.undoStack.shift();
      this.redoStack = [];
    }
    this.conn.submit(ops);
  }
  undo() {
    const u = this.undoStack.pop();
    if (!u || this.readonly) return;
    this.conn.submit(u.inv);
    this.redoStack.push(u);
    this.select([...this.sel].filter((id) => this.board.view(id)));
  }
  redo() {
    const u = this.redoStack.pop();
    if (!u || this.readonly) return;
    this.conn.submit(u.fwd);
    this.undoStack.push(u);
  }

  select(ids) {
    this.sel = new Set(ids);
    this.ui.onSelection([...this.sel]);
    this.sendPresence(true);
    this.schedule();
  }

  // ---- pointer ---------------------------------------------------------------------
  // The browser took the pointer away: drop what was in progress.
  cancel() {
    if (this.drag && this.drag.mode === "pen" && this.drag.interim) // keep what was sent, undoably
      this.act([this.strokeOp(this.draft, this.drag.z, true)], true, [{ kind: "delete", id: this.draft.id }]);
    this.drag = null;
    this.draft = null;
    this.preview.clear();
    this.hidden.clear();
    this.schedule();
  }

  // Two fingers: pinch to zoom and pan (whatever the tool).
  touch(e, phase) {
    if (e.pointerType !== "touch") return false;
    const t = this.touches || (this.touches = new Map());
    if (phase === "up") { t.delete(e.pointerId); if (t.size < 2) this.pinch = null; return false; }
    t.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (t.size !== 2) return !!this.pinch;
    const [a, b] = [...t.values()];
    const dist = Math.hypot(a.x - b.x, a.y - b.y) || 1, mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
    if (!this.pinch) {
      this.cancel();
      this.pinch = { dist, mx, my, cam: { ...this.cam } };
      return true;
    }
    const r = this.svg.getBoundingClientRect();
    const c = this.pinch.cam, z = Math.min(8, Math.max(0.1, (c.zoom * dist) / this.pinch.dist));
    const k = z / c.zoom;
    const sx = this.pinch.mx - r.left, sy = this.pinch.my - r.top;
    this.cam = { zoom: z, tx: sx - (sx - c.tx) * k + (mx - this.pinch.mx), ty: sy - (sy - c.ty) * k + (my - this.pinch.my) };
    this.schedule();
    return true;
  }

  down(e) {
    if (this.touch(e, "down")) return;
    if (this.textEdit) { this.commitText(); return; }
    e.preventDefault(); // no text selection, no native drag (which cancels the pointer)
    getSelection().removeAllRanges();
    this.svg.setPointerCapture(e.pointerId);
    const p = this.toWorld(e);
    this.cursor = p;
    if (e.button === 1 || this.space || this.tool === "hand") {
      this.drag = { mode: "pan", sx: e.clientX, sy: e.clientY, tx: this.cam.tx, ty: this.cam.ty };
      return;
    }
    if (e.button !== 0) return;
    const st = this.style;
    switch (this.tool) {
      case "select": {
        const h = this.handleAt(p);
        if (h === "rot") {
          const id = [...this.sel][0], v = this.board.view(id), pts = POINT_TYPES.has(v.type);
          const b = pts ? bounds(v) : null, c = pts ? [b.x + b.w / 2, b.y + b.h / 2] : rotCentre(v);
          this.drag = { mode: "rotate", id, c, a0: Math.atan2(p.y - c[1], p.x - c[0]), r0: pts ? 0 : v.rotation || 0, orig: pts ? v : null };
          return;
        }
        if (h && !this.readonly) {
          const origs = new Map([...this.sel].map((id) => [id, this.board.view(id)]).filter(([, v]) => v));
          this.drag = { mode: "resize", start: p, handle: h, origs, ob: this.selBounds() };
          return;
        }
        const target = this.hitAt(p, this.tol());
        if (target) {
          if (e.shiftKey) {
            const s = new Set(this.sel);
            if (s.has(target.id)) s.delete(target.id); else s.add(target.id);
            this.select([...s]);
          } else if (!this.sel.has(target.id)) this.select([target.id]);
          if (!this.readonly && this.sel.has(target.id)) {
            const orig = new Map();
            for (const id of this.sel) { const v = this.board.view(id); if (v && !v.locked) orig.set(id, v); }
            this.drag = { mode: "move", start: p, orig, moved: false };
          }
        } else {
          if (!e.shiftKey) this.select([]);
          this.drag = { mode: "marquee", start: p, cur: p, base: new Set(this.sel) };
        }
        return;
      }
      case "pen":
        this.draft = { id: newId(), type: "stroke", x: p.x, y: p.y, points: [[0, 0]], strokeColor: st.strokeColor, strokeWidth: st.strokeWidth };
        this.drag = { mode: "pen", sentAt: Date.now(), interim: false, z: zBetween(this.topZ(), null) };
        break;
      case "rect":
      case "ellipse":
        this.draft = { id: newId(), type: this.tool, x: p.x, y: p.y, width: 0, height: 0, strokeColor: st.strokeColor, fillColor: st.fillColor, strokeWidth: st.strokeWidth };
        this.drag = { mode: "box", start: p };
        break;
      case "line":
      case "arrow":
        this.draft = { id: newId(), type: this.tool, x: p.x, y: p.y, points: [[0, 0], [0, 0]], strokeColor: st.strokeColor, strokeWidth: st.strokeWidth };
        this.drag = { mode: "segment", start: p };
        break;
      case "text":
        e.preventDefault(); // keep the focus for the text box
        this.openText({ id: newId(), type: "text", x: p.x, y: p.y, text: "", fontSize: st.fontSize, strokeColor: st.strokeColor }, true);
        return;
      case "sticky":
        e.preventDefault();
        this.openText({ id: newId(), type: "sticky", x: p.x - 10000, y: p.y - 10000, width: 20000, height: 20000, text: "", fontSize: Math.round(st.fontSize * 5 / 6), fillColor: st.fillColor || STICKY_FILL }, true);
        return;
      case "eraser":
        this.drag = { mode: "erase", last: p };
        this.eraseAt(p);
        return;
      default:
    }
    this.schedule();
  }

  move(e) {
    if (this.touch(e, "move")) return;
    const p = this.toWorld(e);
    this.cursor = p;
    const d = this.drag;
    if (d) {
      switch (d.mode) {
        case "pan":
          this.cam.tx = d.tx + e.clientX - d.sx;
          this.cam.ty = d.ty + e.clientY - d.sy;
          break;
        case "pen": {
          // every coalesced position, not only the one per frame
          const evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
          for (const ce of evs.length ? evs : [e]) this.penPoint(this.toWorld(ce));
          // a long stroke is also sent every 500 ms as a full upsert
          // (protocol.md 1.6): a closed tab loses little; each replaces the last
          // (only while connected: offline they would pile up in the queue)
          if (Date.now() - d.sentAt >= 500 && this.draft.points.length > 1 && !this.readonly && this.conn.state === "connected") {
            this.conn.submit([this.strokeOp(this.draft, d.z, false)]);
            d.interim = true;
            d.sentAt = Date.now();
          }
          break;
        }
        case "box": {
          let w = p.x - d.start.x, h = p.y - d.start.y;
          if (e.shiftKey) { const m = Math.max(Math.abs(w), Math.abs(h)); w = Math.sign(w || 1) * m; h = Math.sign(h || 1) * m; }
          Object.assign(this.draft, { x: Math.min(d.start.x, d.start.x + w), y: Math.min(d.start.y, d.start.y + h), width: Math.abs(w), height: Math.abs(h) });
          break;
        }
        case "segment":
          this.draft.points = [[0, 0], [p.x - d.start.x, p.y - d.start.y]];
          break;
        case "move": {
          const dx = p.x - d.start.x, dy = p.y - d.start.y;
          if (Math.abs(dx) + Math.abs(dy) > 0) d.moved = true;
          this.preview.clear();
          for (const [id, v] of d.orig) this.preview.set(id, { x: (v.x || 0) + dx, y: (v.y || 0) + dy });
          break;
        }
        case "resize":
          this.preview = this.resized(d, p);
          break;
        case "rotate": { // 1/100 degree; Shift: steps of 15 degrees
          let r = d.r0 + ((Math.atan2(p.y - d.c[1], p.x - d.c[0]) - d.a0) * 18000) / Math.PI;
          if (e.shiftKey) r = Math.round(r / 1500) * 1500;
          this.preview = new Map([[d.id, d.orig ? turnPoints(d.orig, d.c, r / 100) : { rotation: ((Math.round(r) % 36000) + 36000) % 36000 }]]);
          break;
        }
        case "marquee":
          d.cur = p;
          break;
        case "erase":
          this.eraseAlong(d, p);
          break;
        default:
      }
      this.schedule();
    }
    this.sendPresence(false);
  }

  up(e) {
    this.touch(e, "up");
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    const pe = this.toWorld(e);
    if (d.mode === "pen") this.penPoint(pe);
    if (d.mode === "erase") this.eraseAlong(d, pe);
    const z = zBetween(this.topZ(), null);
    const create = (el) => { if (z) el.z = z; const { id, ...props } = el; this.act([{ kind: "upsert", id, props }]); return id; };
    switch (d.mode) {
      case "pen": {
        const dr = this.draft;
        this.draft = null;
        // undo of a stroke already sent in part is its delete
        this.act([this.strokeOp(dr, d.z, true)], true, d.interim ? [{ kind: "delete", id: dr.id }] : null);
        break;
      }
      case "box": {
        const dr = this.draft;
        this.draft = null;
        if (dr.width * this.cam.zoom < 300 && dr.height * this.cam.zoom < 300) break;
        this.select([create(dr)]);
        this.setToolKeepSel("select");
        break;
      }
      case "segment": {
        const dr = this.draft;
        this.draft = null;
        const [, q] = dr.points;
        if (Math.hypot(q[0], q[1]) * this.cam.zoom < 300) break;
        this.select([create(dr)]);
        this.setToolKeepSel("select");
        break;
      }
      case "move": {
        const ops = [];
        if (d.moved) for (const [id, pv] of this.preview) ops.push({ kind: "upsert", id, props: { x: pv.x, y: pv.y } });
        this.act(ops);
        this.preview.clear();
        break;
      }
      case "rotate":
      case "resize": {
        const ops = [...this.preview].map(([id, props]) => ({ kind: "upsert", id, props }));
        this.preview.clear();
        this.act(ops);
        break;
      }
      case "marquee": {
        const r = { x: Math.min(d.start.x, d.cur.x), y: Math.min(d.start.y, d.cur.y), w: Math.abs(d.cur.x - d.start.x), h: Math.abs(d.cur.y - d.start.y) };
        if (r.w + r.h > 0) {
          const ids = new Set(d.base);
          for (const el of this.elements()) if (intersects(r, bounds(el))) ids.add(el.id);
          this.select([...ids]);
        }
        break;
      }
      case "erase": {
        const ids = [...this.hidden];
        this.hidden.clear();
        this.act(ids.map((id) => ({ kind: "delete", id })));
        break;
      }
      default:
    }
    this.schedule();
    this.sendPresence(true);
  }

  setToolKeepSel(t) { this.tool = t; this.svg.dataset.tool = t; this.ui.onTool(t); }

  // The upsert of a stroke: points relative to the first one.
  strokeOp(dr, z, simple) {
    let pts = simple ? simplify(dr.points, 40 / this.cam.zoom) : dr.points;
    const [ox, oy] = pts[0];
    pts = pts.map((q) => [q[0] - ox, q[1] - oy]);
    const props = { type: "stroke", x: dr.x + ox, y: dr.y + oy, points: pts, strokeColor: dr.strokeColor, strokeWidth: dr.strokeWidth };
    if (z) props.z = z;
    return { kind: "upsert", id: dr.id, props };
  }

  penPoint(p) {
    const pts = this.draft.points;
    const q = [p.x - this.draft.x, p.y - this.draft.y];
    const l = pts[pts.length - 1];
    if (Math.hypot(q[0] - l[0], q[1] - l[1]) * this.cam.zoom >= 150 && pts.length < 16000) pts.push(q);
  }

  // Erases along the segment from the last position (the browser delivers
  // at most one move per frame: a fast swipe must not skip elements).
  eraseAlong(d, p) {
    const a = d.last, step = this.tol() / 2;
    const n = Math.min(200, Math.ceil(Math.hypot(p.x - a.x, p.y - a.y) / step));
    const list = this.elements();
    for (let i = 1; i <= n; i++) this.eraseAt({ x: a.x + ((p.x - a.x) * i) / n, y: a.y + ((p.y - a.y) * i) / n }, list);
    d.last = p;
  }

  eraseAt(p, list) {
    if (this.readonly) return;
    const t = this.hitAt(p, this.tol(), list);
    if (t && !t.locked) { this.hidden.add(t.id); this.schedule(); }
  }

  dblclick(e) {
    if (this.readonly || this.tool !== "select") return;
    const t = this.hitAt(this.toWorld(e), this.tol());
    if (t && (t.type === "text" || t.type === "sticky")) this.openText(t, false);
  }

  wheel(e) {
    e.preventDefault();
    const r = this.svg.getBoundingClientRect();
    if (e.ctrlKey || e.metaKey) this.zoomAt(Math.exp(-e.deltaY * 0.01), e.clientX - r.left, e.clientY - r.top);
    else { this.cam.tx -= e.deltaX; this.cam.ty -= e.deltaY; this.schedule(); }
  }

  // ---- resize handles (the selection's bounding box) ---------------------------------
  selBounds() {
    const vs = [...this.sel].map((id) => this.view(id)).filter(Boolean);
    if (!vs.length || vs.some((v) => v.locked)) return null;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const v of vs) { const b = bounds(v); x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y); x1 = Math.max(x1, b.x + b.w); y1 = Math.max(y1, b.y + b.h); }
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
  handles() {
    if (!this.sel.size || this.readonly) return [];
    const b = this.selBounds();
    if (!b) return [];
    return [["nw", b.x, b.y], ["ne", b.x + b.w, b.y], ["sw", b.x, b.y + b.h], ["se", b.x + b.w, b.y + b.h]];
  }
  // The rotation handle: above the box of a single selected element. A shape
  // with a box of its own turns around the box's centre (its rotation); a
  // stroke, line or arrow has its points turned around the centre of their
  // bounds instead (turnPoints), so it needs two points at least.
  rotHandle() {
    if (this.sel.size !== 1 || this.readonly) return null;
    const v = this.view([...this.sel][0]);
    if (!v || v.locked || (POINT_TYPES.has(v.type) && (v.points || []).length < 2)) return null;
    const b = bounds(v);
    return [b.x + b.w / 2, b.y - 2400 / this.cam.zoom];
  }
  handleAt(p) {
    const r = 800 / this.cam.zoom;
    const rh = this.rotHandle();
    if (rh && Math.hypot(p.x - rh[0], p.y - rh[1]) <= r) return "rot";
    for (const [name, x, y] of this.handles()) if (Math.abs(p.x - x) <= r && Math.abs(p.y - y) <= r) return name;
    return null;
  }
  // Every selected element scaled from the old box d.ob to the one the
  // handle now makes; a text's font scales with the box's height (1 px ..
  // 1000 px, the protocol's bounds) and its box follows its content; a
  // sticky's font scales with the smaller of the two factors, so widening
  // or heightening it alone only rewraps its text.
  resized(d, p) {
    const b = d.ob;
    let x0 = b.x, y0 = b.y, x1 = b.x + b.w, y1 = b.y + b.h;
    if (d.handle.includes("w")) x0 = p.x; else x1 = p.x;
    if (d.handle.includes("n")) y0 = p.y; else y1 = p.y;
    const nx = Math.min(x0, x1), ny = Math.min(y0, y1), nw = Math.max(1, Math.abs(x1 - x0)), nh = Math.max(1, Math.abs(y1 - y0));
    const sx = b.w ? nw / b.w : 1, sy = b.h ? nh / b.h : 1;
    const map = (X, Y) => [Math.round(nx + (X - b.x) * sx), Math.round(ny + (Y - b.y) * sy)];
    const out = new Map();
    for (const [id, o] of d.origs) {
      const [ex, ey] = map(o.x || 0, o.y || 0);
      if (POINT_TYPES.has(o.type)) {
        const pts = (o.points || []).map((q) => {
          const [ax, ay] = map((o.x || 0) + q[0], (o.y || 0) + q[1]);
          const r = [ax - ex, ay - ey];
          if (q.length > 2) r.push(q[2]);
          return r;
        });
        out.set(id, { x: ex, y: ey, points: pts });
      } else if (o.type === "text") {
        const fontSize = Math.min(100000, Math.max(100, Math.round((o.fontSize || 2400) * sy)));
        const sz = textSize(o.text || "", fontSize);
        out.set(id, { x: ex, y: ey, fontSize, width: sz.width, height: sz.height });
      } else {
        const box = { x: ex, y: ey, width: Math.max(1, Math.round((o.width || 0) * sx)), height: Math.max(1, Math.round((o.height || 0) * sy)) };
        if (o.type === "sticky") box.fontSize = Math.min(100000, Math.max(100, Math.round((o.fontSize || 2000) * Math.min(sx, sy))));
        out.set(id, box);
      }
    }
    return out;
  }

  // ---- text editing -------------------------------------------------------------------
  openText(el, isNew) {
    this.commitText();
    const ta = document.createElement("textarea");
    ta.className = "wb-text-edit";
    ta.value = el.text || "";
    const s = this.toScreen(el.x, el.y);
    const fs = ((el.fontSize || 2400) / 100) * this.cam.zoom;
    Object.assign(ta.style, { left: s.x + "px", top: s.y + "px", fontSize: fs + "px", fontFamily: FONT, color: css(el.strokeColor ?? DEFAULT_STROKE) });
    if (el.type === "sticky") Object.assign(ta.style, { width: (el.width / 100) * this.cam.zoom + "px", height: (el.height / 100) * this.cam.zoom + "px", background: css(el.fillColor ?? STICKY_FILL), padding: Math.max(8, el.width / 100 * 0.06) * this.cam.zoom + "px" });
    this.host.appendChild(ta);
    this.textEdit = { ta, el, isNew };
    if (!isNew) this.hidden.add(el.id);
    ta.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Escape" || (e.key === "Enter" && (e.ctrlKey || e.metaKey))) { e.preventDefault(); this.commitText(); }
    });
    ta.addEventListener("blur", () => setTimeout(() => this.commitText(), 0));
    ta.focus();
    setTimeout(() => ta.focus(), 0);
    this.schedule();
  }

  commitText() {
    const t = this.textEdit;
    if (!t) return;
    this.textEdit = null;
    t.ta.remove();
    this.hidden.delete(t.el.id);
    const text = t.ta.value;
    const el = t.el;
    if (el.type === "text") {
      if (!text.trim()) { if (!t.isNew) this.act([{ kind: "delete", id: el.id }]); this.schedule(); return; }
      const sz = textSize(text, el.fontSize || 2400);
      const props = { text, width: sz.width, height: sz.height };
      if (t.isNew) {
        const z = zBetween(this.topZ(), null);
        const { id, ...rest } = el;
        this.act([{ kind: "upsert", id, props: { ...rest, ...props, ...(z ? { z } : {}) } }]);
      } else this.act([{ kind: "upsert", id: el.id, props }]);
    } else if (t.isNew) {
      const z = zBetween(this.topZ(), null);
      const { id, ...rest } = el;
      this.act([{ kind: "upsert", id, props: { ...rest, text, ...(z ? { z } : {}) } }]);
    } else if (text !== (el.text || "")) this.act([{ kind: "upsert", id: el.id, props: { text } }]);
    this.setToolKeepSel("select");
    this.schedule();
  }

  // ---- commands -------------------------------------------------------------------------
  deleteSelection() {
    const ids = [...this.sel].filter((id) => { const v = this.board.view(id); return v && !v.locked; });
    this.act(ids.map((id) => ({ kind: "delete", id })));
    this.select([]);
  }
  // Copy / paste inside the app (Ctrl+C, Ctrl+V; Ctrl+D duplicates).
  copy() {
    this.clip = [...this.sel].map((id) => this.board.view(id)).filter(Boolean).map((v) => structuredClone(v));
    this.pasteN = 0;
  }
  paste() {
    if (!this.clip || !this.clip.length) return;
    this.pasteN = (this.pasteN || 0) + 1;
    const off = 2000 * this.pasteN;
    let z = this.topZ();
    const ops = [], ids = [];
    for (const v of [...this.clip].sort((a, b) => ((a.z || "") < (b.z || "") ? -1 : 1))) {
      const { id, ...props } = v;
      const nid = newId();
      props.x = (props.x || 0) + off;
      props.y = (props.y || 0) + off;
      const nz = zBetween(z, null);
      if (nz) { props.z = nz; z = nz; } else delete props.z;
      ops.push({ kind: "upsert", id: nid, props });
      ids.push(nid);
    }
    this.act(ops);
    this.select(ids);
  }

  nudge(dx, dy) {
    const ops = [];
    for (const id of this.sel) { const v = this.board.view(id); if (v && !v.locked) ops.push({ kind: "upsert", id, props: { x: (v.x || 0) + dx, y: (v.y || 0) + dy } }); }
    this.act(ops);
  }
  applyStyle(props) {
    Object.assign(this.style, props);
    const ops = [];
    for (const id of this.sel) {
      const v = this.board.view(id);
      if (!v || v.locked) continue;
      const p = {};
      if ("strokeColor" in props) p.strokeColor = props.strokeColor;
      if ("strokeWidth" in props && !["text", "sticky"].includes(v.type)) p.strokeWidth = props.strokeWidth;
      if ("fillColor" in props && ["rect", "ellipse", "sticky"].includes(v.type)) p.fillColor = v.type === "sticky" && !props.fillColor ? STICKY_FILL : props.fillColor;
      if ("fontSize" in props && (v.type === "text" || v.type === "sticky")) {
        p.fontSize = v.type === "sticky" ? Math.round(props.fontSize * 5 / 6) : props.fontSize;
        if (v.type === "text") { const sz = textSize(v.text || "", p.fontSize); p.width = sz.width; p.height = sz.height; }
      }
      if (Object.keys(p).length) ops.push({ kind: "upsert", id, props: p });
    }
    this.act(ops);
  }
  // dir: +1 forward, -1 backward, +2 to front, -2 to back
  reorder(dir) {
    const els = this.board.elements();
    const ops = [];
    if (Math.abs(dir) === 2) {
      const ids = els.filter((e) => this.sel.has(e.id));
      let z = dir > 0 ? (els.length ? els[els.length - 1].z || null : null) : (els.length ? els[0].z || null : null);
      const seq = dir > 0 ? ids : ids.reverse();
      for (const e of seq) {
        const nz = dir > 0 ? zBetween(z, null) : zBetween(null, z);
        if (!nz) break;
        ops.push({ kind: "upsert", id: e.id, props: { z: nz } });
        z = nz;
      }
    } else {
      const order = dir > 0 ? [...els].reverse() : els;
      for (let i = 1; i < order.length; i++) {
        const e = order[i];
        if (!this.sel.has(e.id) || this.sel.has(order[i - 1].id)) continue;
        // step over the neighbour: between it and the one after it
        const a = order[i - 1].z || null, b = i >= 2 ? order[i - 2].z || null : null;
        const nz = dir > 0 ? zBetween(a, b) : zBetween(b, a);
        if (nz) ops.push({ kind: "upsert", id: e.id, props: { z: nz } });
      }
    }
    this.act(ops);
  }

  key(e) {
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || this.textEdit) return;
    const mod = e.ctrlKey || e.metaKey;
    const k = e.key.toLowerCase();
    if (e.code === "Space") { this.space = true; return; }
    if (mod && k === "z") { e.preventDefault(); if (e.shiftKey) this.redo(); else this.undo(); return; }
    if (mod && k === "y") { e.preventDefault(); this.redo(); return; }
    if (mod && k === "c") { this.copy(); return; }
    if (mod && k === "v") { e.preventDefault(); this.paste(); return; }
    if (mod && k === "d") { e.preventDefault(); this.copy(); this.paste(); return; }
    if (mod && k === "a") { e.preventDefault(); this.setToolKeepSel("select"); this.select(this.elements().map((x) => x.id)); return; }
    if (e.code === "BracketRight") { e.preventDefault(); this.reorder(mod || e.shiftKey ? 2 : 1); return; }
    if (e.code === "BracketLeft") { e.preventDefault(); this.reorder(mod || e.shiftKey ? -2 : -1); return; }
    if (mod) return;
    if (k === "delete" || k === "backspace") { e.preventDefault(); this.deleteSelection(); return; }
    if (k === "escape") { this.select([]); this.setTool("select"); if (this.ui.onHelp) this.ui.onHelp(false); return; }
    if (e.key === "?") { if (this.ui.onHelp) this.ui.onHelp(); return; }
    if (k === "+" || k === "=") { this.zoomBy(1.2); return; }
    if (k === "-") { this.zoomBy(1 / 1.2); return; }
    if (k === "0") { this.cam = { tx: 0, ty: 0, zoom: 1 }; this.schedule(); return; }
    if (e.code === "Digit1" && e.shiftKey) { this.zoomToFit(); return; }
    const arrows = { arrowleft: [-1, 0], arrowright: [1, 0], arrowup: [0, -1], arrowdown: [0, 1] };
    if (arrows[k] && this.sel.size) { e.preventDefault(); const s = e.shiftKey ? 1000 : 100; this.nudge(arrows[k][0] * s, arrows[k][1] * s); return; }
    if (TOOL_KEYS[k]) this.setTool(TOOL_KEYS[k]);
  }

  // ---- presence ------------------------------------------------------------------------
  sendPresence(force) {
    const now = Date.now();
    if (!force && now - this.lastPresence < 80) return;
    if (!this.cursor) { // never pointed yet: where this user is looking
      const r = this.svg.getBoundingClientRect();
      this.cursor = this.toWorld({ clientX: r.left + r.width / 2, clientY: r.top + r.height / 2 });
    }
    this.lastPresence = now;
    const drawing = !!(this.drag && ["pen", "box", "segment"].includes(this.drag.mode));
    this.conn.presence(this.cursor.x, this.cursor.y, drawing, [...this.sel]);
  }
  heartbeat() { if (Date.now() - this.lastPresence > 2500) this.sendPresence(true); }

  // ---- drawing -------------------------------------------------------------------------
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  render() {
    this.world.setAttribute("transform", "translate(" + this.cam.tx + " " + this.cam.ty + ") scale(" + this.cam.zoom / 100 + ")");
    this.svg.style.backgroundPosition = this.cam.tx + "px " + this.cam.ty + "px";
    this.svg.style.backgroundSize = 24 * this.cam.zoom + "px " + 24 * this.cam.zoom + "px";
    const els = this.elements();
    const seen = new Set();
    let i = 0;
    for (const e of els) {
      seen.add(e.id);
      const p = this.preview.get(e.id);
      const key = this.board.ver(e.id) + (p ? ":" + JSON.stringify(p) : "");
      let ent = this.nodes.get(e.id);
      if (!ent || ent.key !== key) {
        const node = elementNode(e);
        if (ent) ent.node.replaceWith(node);
        ent = { node, key };
        this.nodes.set(e.id, ent);
      }
      if (this.layer.children[i] !== ent.node) this.layer.insertBefore(ent.node, this.layer.children[i] || null);
      i++;
    }
    for (const [id, ent] of this.nodes) if (!seen.has(id)) { ent.node.remove(); this.nodes.delete(id); }
    this.draftLayer.replaceChildren(...(this.draft ? [elementNode(this.draft)] : []));
    this.renderSelection();
    this.renderCursors();
  }

  renderSelection() {
    const out = [];
    const z = this.cam.zoom;
    const box = (b, colour, dash) => {
      const r = document.createElementNS(SVGNS, "rect");
      const pad = 400 / z;
      r.setAttribute("x", b.x - pad); r.setAttribute("y", b.y - pad);
      r.setAttribute("width", b.w + 2 * pad); r.setAttribute("height", b.h + 2 * pad);
      r.setAttribute("fill", "none"); r.setAttribute("stroke", colour);
      r.setAttribute("stroke-width", 150 / z);
      if (dash) r.setAttribute("stroke-dasharray", 500 / z + " " + 400 / z);
      out.push(r);
    };
    for (const id of this.sel) { const v = this.view(id); if (v) box(bounds(v), "#4263eb"); }
    for (const [x, y] of this.handles().map((h) => [h[1], h[2]])) {
      const r = document.createElementNS(SVGNS, "rect");
      const s = 900 / z;
      r.setAttribute("x", x - s / 2); r.setAttribute("y", y - s / 2); r.setAttribute("width", s); r.setAttribute("height", s);
      r.setAttribute("fill", "#fff"); r.setAttribute("stroke", "#4263eb"); r.setAttribute("stroke-width", 150 / z);
      r.setAttribute("class", "handle");
      out.push(r);
    }
    const rh = this.rotHandle();
    if (rh) {
      const c = document.createElementNS(SVGNS, "circle");
      c.setAttribute("cx", rh[0]); c.setAttribute("cy", rh[1]); c.setAttribute("r", 500 / z);
      c.setAttribute("fill", "#fff"); c.setAttribute("stroke", "#4263eb"); c.setAttribute("stroke-width", 150 / z);
      c.setAttribute("class", "handle rot");
      out.push(c);
    }
    for (const peer of this.conn.activePeers()) {
      for (const id of peer.sel || []) { const v = this.view(id); if (v) box(bounds(v), css(peer.colour), true); }
      if (peer.drawing && peer.trail.length > 1) { // someone's pen in motion
        const path = document.createElementNS(SVGNS, "path");
        path.setAttribute("d", "M" + peer.trail.map((q) => q[0] + " " + q[1]).join("L"));
        path.setAttribute("fill", "none"); path.setAttribute("stroke", css(peer.colour));
        path.setAttribute("stroke-width", 200); path.setAttribute("stroke-opacity", 0.5);
        path.setAttribute("stroke-linecap", "round"); path.setAttribute("class", "peer-trail");
        out.push(path);
      }
    }
    const d = this.drag;
    if (d && d.mode === "marquee") box({ x: Math.min(d.start.x, d.cur.x), y: Math.min(d.start.y, d.cur.y), w: Math.abs(d.cur.x - d.start.x), h: Math.abs(d.cur.y - d.start.y) }, "#868e96", true);
    this.selLayer.replaceChildren(...out);
  }

  renderCursors() {
    const peers = this.conn.activePeers();
    const keep = new Set();
    for (const p of peers) {
      keep.add(p.user);
      let c = this.cursors.querySelector('[data-user="' + CSS.escape(p.user) + '"]');
      if (!c) {
        c = document.createElement("div");
        c.className = "wb-cursor";
        c.dataset.user = p.user;
        c.innerHTML = '<svg width="18" height="18" viewBox="0 0 18 18"><path d="M1 1 L1 15 L5 11 L8 17 L10 16 L7 10 L13 10 Z"/></svg><span class="name"></span>';
        this.cursors.appendChild(c);
      }
      c.querySelector(".name").textContent = p.name;
      c.style.setProperty("--c", css(p.colour));
      c.classList.toggle("drawing", p.drawing);
      const s = this.toScreen(p.x, p.y);
      c.style.transform = "translate(" + s.x + "px," + s.y + "px)";
    }
    for (const c of [...this.cursors.children]) if (!keep.has(c.dataset.user)) c.remove();
  }

  destroy() {
    removeEventListener("keydown", this.keyHandler);
    removeEventListener("keyup", this.keyUpHandler);
    removeEventListener("resize", this.resizeHandler);
  }

  // Fits every element into the view (Shift+1).
  zoomToFit() {
    const els = this.elements();
    if (!els.length) { this.cam = { tx: 0, ty: 0, zoom: 1 }; this.schedule(); return; }
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const e of els) { const b = bounds(e); x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y); x1 = Math.max(x1, b.x + b.w); y1 = Math.max(y1, b.y + b.h); }
    const r = this.svg.getBoundingClientRect();
    const w = (x1 - x0) / 100 || 1, h = (y1 - y0) / 100 || 1;
    const z = Math.min(4, Math.max(0.1, Math.min((r.width - 80) / w, (r.height - 80) / h)));
    this.cam = { zoom: z, tx: r.width / 2 - ((x0 + x1) / 200) * z, ty: r.height / 2 - ((y0 + y1) / 200) * z };
    this.schedule();
  }
}
