// render.js: elements as SVG. One function builds the SVG node of an
// element (the live board and both exports use it, so what is exported is
// what is drawn); geometry helpers give bounding boxes and hit tests.
//
// Units: the world is in the model's centi-px (1/100 px), so element values
// go into SVG attributes unconverted; the board view scales by zoom / 100.
// Freehand strokes are smoothed when drawn: quadratic curves through the
// midpoints of consecutive points.

export const SVGNS = "http://www.w3.org/2000/svg";
export const DEFAULT_STROKE = 0x1e1e1eff;
export const STICKY_FILL = 0xfff59dff;
export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

// The presence colour of a user id, 0xRRGGBBff, as the node derives it
// (protocol.md 2.3 rule 6; net/ws_session.c ws_colour_of): hue = FNV-1a of
// the id's UTF-8 bytes mod 360, HSL saturation 70 %, lightness 34 %.
export function userColour(user) {
  let x = 2166136261;
  for (const b of new TextEncoder().encode(user)) x = Math.imul(x ^ b, 16777619) >>> 0;
  const h = x % 360, sat = 0.70, lig = 0.34;
  const c = (1 - Math.abs(2 * lig - 1)) * sat;
  const hx = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = lig - c / 2;
  const [r, g, b] = [[c, hx, 0], [hx, c, 0], [0, c, hx], [0, hx, c], [hx, 0, c], [c, 0, hx]][Math.min(5, Math.floor(h / 60))];
  const q = (v) => Math.floor((v + m) * 255 + 0.5);
  return ((q(r) << 24) | (q(g) << 16) | (q(b) << 8) | 0xff) >>> 0;
}

export function css(c) {
  if (!c) return "none";
  const r = (c >>> 24) & 255, g = (c >>> 16) & 255, b = (c >>> 8) & 255, a = c & 255;
  return a === 255 ? "#" + ((c >>> 8) >>> 0).toString(16).padStart(6, "0") : "rgba(" + r + "," + g + "," + b + "," + (a / 255).toFixed(3) + ")";
}

function el(name, attrs) {
  const n = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) n.setAttribute(k, v);
  return n;
}

export function smoothPath(pts) {
  if (!pts.length) return "";
  if (pts.length === 1) return "M" + pts[0][0] + " " + pts[0][1] + "l0.1 0";
  if (pts.length === 2) return "M" + pts[0][0] + " " + pts[0][1] + "L" + pts[1][0] + " " + pts[1][1];
  let d = "M" + pts[0][0] + " " + pts[0][1];
  for (let i = 1; i < pts.length - 1; i++) {
    const mx = (pts[i][0] + pts[i + 1][0]) / 2, my = (pts[i][1] + pts[i + 1][1]) / 2;
    d += "Q" + pts[i][0] + " " + pts[i][1] + " " + mx + " " + my;
  }
  const l = pts[pts.length - 1];
  return d + "L" + l[0] + " " + l[1];
}

let measureCtx = null;
export function measure(text, fontSize) { // centi-px
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  measureCtx.font = (fontSize / 100) + "px " + FONT;
  return measureCtx.measureText(text).width * 100;
}

// Lines of text wrapped to a width (centi-px); maxWidth 0: no wrapping.
export function wrap(text, fontSize, maxWidth) {
  const out = [];
  for (const para of String(text).split("\n")) {
    if (!maxWidth) { out.push(para); continue; }
    let line = "";
    for (const word of para.split(/(\s+)/)) {
      const cand = line + word;
      if (line && measure(cand, fontSize) > maxWidth) { out.push(line.trimEnd()); line = word.trimStart(); }
      else line = cand;
    }
    out.push(line);
  }
  return out;
}

export function textSize(text, fontSize) {
  const lines = String(text).split("\n");
  const w = Math.max(fontSize, ...lines.map((l) => measure(l, fontSize)));
  return { width: Math.ceil(w), height: Math.ceil(lines.length * fontSize * 1.25) };
}

function textNode(lines, x, y, fontSize, fill, anchor) {
  const t = el("text", { x, y, "font-size": fontSize, fill, "font-family": FONT, "text-anchor": anchor || "start" });
  lines.forEach((line, i) => {
    const ts = el("tspan", { x, y: y + fontSize * (0.95 + 1.25 * i) });
    ts.textContent = line || " ";
    t.appendChild(ts);
  });
  return t;
}

// The SVG node of one element (a <g data-id data-type>).
export function elementNode(e) {
  const stroke = css(e.strokeColor ?? DEFAULT_STROKE);
  const sw = e.strokeWidth ?? 200;
  const fill = css(e.fillColor ?? 0);
  const g = el("g", { "data-id": e.id, "data-type": e.type });
  if (e.opacity !== undefined && e.opacity !== 100) g.setAttribute("opacity", e.opacity / 100);
  const x = e.x || 0, y = e.y || 0, w = e.width || 0, h = e.height || 0;
  if (e.rotation) g.setAttribute("transform", "rotate(" + e.rotation / 100 + " " + (x + w / 2) + " " + (y + h / 2) + ")");
  const common = { stroke, "stroke-width": sw, "stroke-linecap": "round", "stroke-linejoin": "round" };
  switch (e.type) {
    case "rect":
      g.appendChild(el("rect", { x, y, width: w, height: h, rx: Math.min(w, h) * 0.04, fill, ...common }));
      break;
    case "ellipse":
      g.appendChild(el("ellipse", { cx: x + w / 2, cy: y + h / 2, rx: w / 2, ry: h / 2, fill, ...common }));
      break;
    case "stroke": {
      const pts = (e.points || []).map((p) => [p[0] + x, p[1] + y]);
      g.appendChild(el("path", { d: smoothPath(pts), fill: "none", ...common }));
      break;
    }
    case "line":
    case "arrow": {
      const pts = (e.points || []).map((p) => [p[0] + x, p[1] + y]);
      if (pts.length < 2) break;
      g.appendChild(el("path", { d: "M" + pts.map((p) => p[0] + " " + p[1]).join("L"), fill: "none", ...common }));
      if (e.type === "arrow") {
        const a = pts[pts.length - 2], b = pts[pts.length - 1];
        const ang = Math.atan2(b[1] - a[1], b[0] - a[0]);
        const len = Math.max(1200, sw * 4);
        const p1 = [b[0] - len * Math.cos(ang - 0.45), b[1] - len * Math.sin(ang - 0.45)];
        const p2 = [b[0] - len * Math.cos(ang + 0.45), b[1] - len * Math.sin(ang + 0.45)];
        g.appendChild(el("path", { d: "M" + p1.join(" ") + "L" + b.join(" ") + "L" + p2.join(" "), fill: "none", ...common }));
      }
      break;
    }
    case "text": {
      const fs = e.fontSize || 2400;
      g.appendChild(textNode(String(e.text || "").split("\n"), x, y, fs, stroke));
      break;
    }
    case "sticky": {
      const fs = e.fontSize || 2000;
      g.appendChild(el("rect", { x, y, width: w, height: h, fill: css(e.fillColor ?? STICKY_FILL), stroke: "rgba(0,0,0,0.15)", "stroke-width": 100, filter: "url(#wb-shadow)" }));
      const pad = Math.max(800, w * 0.06);
      g.appendChild(textNode(wrap(e.text || "", fs, w - 2 * pad), x + pad, y + pad, fs, css(e.strokeColor ?? DEFAULT_STROKE)));
      break;
    }
    default:
  }
  return g;
}

// ---- geometry (world centi-px) --------------------------------------------------
// The centre elementNode rotates e around, and (px, py) turned by deg
// degrees around it (a negative deg undoes e's rotation).
export const rotCentre = (e) => [(e.x || 0) + (e.width || 0) / 2, (e.y || 0) + (e.height || 0) / 2];
function turn(e, px, py, deg) {
  const [cx, cy] = rotCentre(e), a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
  return [cx + (px - cx) * c - (py - cy) * s, cy + (px - cx) * s + (py - cy) * c];
}

// Axis-aligned bounds as drawn (a rotated element: the box around its
// turned corners).
export function bounds(e) {
  const b = rawBounds(e);
  if (!e.rotation) return b;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [qx, qy] of [[b.x, b.y], [b.x + b.w, b.y], [b.x, b.y + b.h], [b.x + b.w, b.y + b.h]]) {
    const [tx, ty] = turn(e, qx, qy, e.rotation / 100);
    x0 = Math.min(x0, tx); y0 = Math.min(y0, ty); x1 = Math.max(x1, tx); y1 = Math.max(y1, ty);
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

function rawBounds(e) {
  const x = e.x || 0, y = e.y || 0;
  if (e.type === "stroke" || e.type === "line" || e.type === "arrow") {
    const pts = e.points || [];
    if (!pts.length) return { x, y, w: 0, h: 0 };
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const p of pts) { x0 = Math.min(x0, p[0]); y0 = Math.min(y0, p[1]); x1 = Math.max(x1, p[0]); y1 = Math.max(y1, p[1]); }
    return { x: x + x0, y: y + y0, w: x1 - x0, h: y1 - y0 };
  }
  if (e.type === "text" && !(e.width && e.height)) {
    const s = textSize(e.text || "", e.fontSize || 2400);
    return { x, y, w: s.width, h: s.height };
  }
  return { x, y, w: e.width || 0, h: e.height || 0 };
}

function segDist(px, py, a, b) {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const l2 = dx * dx + dy * dy;
  let t = l2 ? ((px - a[0]) * dx + (py - a[1]) * dy) / l2 : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (a[0] + t * dx), py - (a[1] + t * dy));
}

// Does world point (px, py) touch e, within tol centi-px?
export function hit(e, px, py, tol) {
  if (e.rotation) [px, py] = turn(e, px, py, -e.rotation / 100);
  const b = rawBounds(e);
  const sw = (e.strokeWidth ?? 200) / 2;
  if (px < b.x - tol - sw || px > b.x + b.w + tol + sw || py < b.y - tol - sw || py > b.y + b.h + tol + sw) return false;
  if (e.type === "stroke" || e.type === "line" || e.type === "arrow") {
    const pts = (e.points || []).map((p) => [p[0] + (e.x || 0), p[1] + (e.y || 0)]);
    if (pts.length === 1) return Math.hypot(px - pts[0][0], py - pts[0][1]) <= tol + sw;
    for (let i = 1; i < pts.length; i++) if (segDist(px, py, pts[i - 1], pts[i]) <= tol + sw) return true;
    return false;
  }
  if (e.type === "ellipse") {
    const rx = b.w / 2 + tol, ry = b.h / 2 + tol;
    const dx = px - (b.x + b.w / 2), dy = py - (b.y + b.h / 2);
    return rx > 0 && ry > 0 && (dx * dx) / (rx * rx) + (dy * dy) / (ry * ry) <= 1;
  }
  return true;
}

export const intersects = (a, b) => a.x <= b.x + b.w && b.x <= a.x + a.w && a.y <= b.y + b.h && b.y <= a.y + a.h;

// ---- export ---------------------------------------------------------------------
// A standalone SVG document of the elements (px units), with a margin.
export function exportSvg(elements, background = "#ffffff") {
  const m = 2000;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const e of elements) {
    const b = bounds(e);
    const sw = e.strokeWidth ?? 200;
    x0 = Math.min(x0, b.x - sw); y0 = Math.min(y0, b.y - sw); x1 = Math.max(x1, b.x + b.w + sw); y1 = Math.max(y1, b.y + b.h + sw);
  }
  if (!elements.length) { x0 = 0; y0 = 0; x1 = 10000; y1 = 10000; }
  x0 -= m; y0 -= m; x1 += m; y1 += m;
  const W = Math.ceil((x1 - x0) / 100), H = Math.ceil((y1 - y0) / 100);
  const svg = el("svg", { xmlns: SVGNS, width: W, height: H, viewBox: x0 + " " + y0 + " " + (x1 - x0) + " " + (y1 - y0) });
  svg.appendChild(defs());
  svg.appendChild(el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: background }));
  for (const e of elements) svg.appendChild(elementNode(e));
  return { text: new XMLSerializer().serializeToString(svg), width: W, height: H };
}

export function defs() {
  const d = el("defs", {});
  const f = el("filter", { id: "wb-shadow", x: "-10%", y: "-10%", width: "130%", height: "130%" });
  f.appendChild(el("feDropShadow", { dx: 0, dy: 150, stdDeviation: 200, "flood-opacity": 0.18 }));
  d.appendChild(f);
  return d;
}

// PNG of the elements (a Blob), drawn from the same SVG.
export function exportPng(elements, scale = 2) {
  const { text, width, height } = exportSvg(elements);
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = Math.max(1, Math.round(width * scale));
      c.height = Math.max(1, Math.round(height * scale));
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0, c.width, c.height);
      c.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob failed"))), "image/png");
    };
    img.onerror = () => reject(new Error("SVG did not load"));
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
  });
}
