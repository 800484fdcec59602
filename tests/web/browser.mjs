// browser.mjs WHITEBOARDD SOURCE_DIR WORK_DIR ARTIFACT_DIR: the web client in
// a real browser (Debian's chromium driven by playwright-core) against a
// real whiteboardd on 127.0.0.1 that this script starts, restarts (SIGTERM,
// then SIGKILL) and stops, by PID only (written to WORK_DIR/node.pid for the
// shell wrapper's trap). Checks issue 5's list:
//  1. A draws a stroke, a rectangle, an arrow and a text: each is rendered in
//     B (SVG nodes with the right geometry/colour/text) and the server's
//     element count (GET /api/v1/boards/{id}) matches;
//  2. A's cursor is visible in B with A's name;
//  3. A undoes: the element disappears in B; A redoes: it is back;
//  4. B reloads: the same board;
//  5. SIGTERM restart, then SIGKILL restart: both pages reconnect by
//     themselves and show the same state; an op drawn while the server was
//     down arrives once (the oplog history holds exactly one op for it);
//  6. a viewer cannot draw (tools hidden; a forced submit is refused by the
//     server and nothing is stored);
//  7. no uncaught errors in any page (the browser's own "connection failed"
//     lines while the server is down are network noise, not page errors).
// Screenshots of both pages go to ARTIFACT_DIR. Every wait is bounded.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import net from "node:net";
import { chromium } from "playwright-core";

const [BIN, SRC, WORK, ART] = process.argv.slice(2);
const SECRET = "web-test-secret-0123456789abcdefghijklmnop";
const CHROMIUM = process.env.WB_CHROMIUM || "/usr/bin/chromium";
let fails = 0;
const t0 = Date.now();
const log = (...a) => console.log("[" + ((Date.now() - t0) / 1000).toFixed(1) + "s]", ...a);
function check(cond, msg) {
  if (!cond) { fails++; console.log("FAIL: " + msg); } else log("ok: " + msg);
  return cond;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms = 10000, step = 100) {
  const end = Date.now() + ms;
  for (;;) {
    let v;
    try { v = await fn(); } catch (e) { v = false; }
    if (v) return v;
    if (Date.now() > end) return false;
    await sleep(step);
  }
}
mkdirSync(ART, { recursive: true });
setTimeout(() => { console.log("FAIL: browser test timed out (300 s)"); process.exit(100); }, 300000).unref();

// ---- the node -------------------------------------------------------------------
const port = await new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const BASE = "http://127.0.0.1:" + port;
let server = null;
async function startNode() {
  const out = WORK + "/node.stdout";
  writeFileSync(out, "");
  const p = spawn(BIN, ["--data-dir", WORK + "/data", "--listen", "127.0.0.1:" + port, "--log-level", "warn",
    "--rate-conn", "0", "--rate-user", "0"], {
    env: { ...process.env, JWT_SECRET: SECRET, WB_GUEST: "on", WB_WEB_ROOT: SRC + "/net/web" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  p.stdout.on("data", (d) => writeFileSync(out, d, { flag: "a" }));
  p.stderr.on("data", (d) => writeFileSync(WORK + "/node.log", d, { flag: "a" }));
  p.exited = new Promise((r) => p.on("exit", (code, sig) => r({ code, sig })));
  writeFileSync(WORK + "/node.pid", String(p.pid));
  server = p;
  const ready = await until(async () => (await fetch(BASE + "/readyz")).status === 200, 60000, 100);
  if (!check(ready, "whiteboardd ready on " + BASE)) process.exit(1);
}
async function stopNode(sig) {
  const p = server;
  p.kill(sig);
  const r = await Promise.race([p.exited, sleep(60000).then(() => null)]);
  check(r !== null, "whiteboardd exited after " + sig);
  if (sig === "SIGTERM") check(r && r.code === 0, "clean exit 0 after SIGTERM (got " + JSON.stringify(r) + ")");
  writeFileSync(WORK + "/node.pid", "");
}

// ---- helpers ----------------------------------------------------------------------
const b64u = (b) => Buffer.from(b).toString("base64url");
function jwt(claims) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64u(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const pay = b64u(JSON.stringify({ iat: now - 5, exp: now + 3600, ...claims }));
  return head + "." + pay + "." + b64u(createHmac("sha256", SECRET).update(head + "." + pay).digest());
}
const ADMIN = jwt({ sub: "test-admin", role: "owner" });
async function serverBoard(id) {
  const r = await fetch(BASE + "/api/v1/boards/" + id, { headers: { Authorization: "Bearer " + ADMIN } });
  return r.status === 200 ? r.json() : null;
}
async function history(id) {
  const ops = [];
  let since = 0;
  for (let i = 0; i < 50; i++) {
    const r = await (await fetch(BASE + "/api/v1/boards/" + id + "/ops?since=" + since + "&limit=1000", { headers: { Authorization: "Bearer " + ADMIN } })).json();
    for (const b of r.batches) ops.push(...b.ops);
    since = r.next;
    if (!r.more) break;
  }
  return ops;
}
// what a page has rendered: [{id, type}] from the SVG layer
const rendered = (page) => page.$$eval("#layer-elements > g[data-id]", (gs) => gs.map((g) => ({ id: g.dataset.id, type: g.dataset.type })));
const countType = async (page, type) => (await rendered(page)).filter((e) => e.type === type).length;
const connState = (page) => page.$eval("#conn", (e) => e.dataset.state);

// ---- the browser --------------------------------------------------------------------
await startNode();
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const errors = [];
let serverDown = false;
function watch(page, name) {
  page.on("pageerror", (e) => errors.push(name + ": uncaught " + e.message));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const t = m.text();
    const network = /WebSocket connection to .* failed|Failed to load resource|net::ERR_CONNECTION_REFUSED/.test(t);
    if (network && serverDown) return;
    errors.push(name + ": console.error " + t);
  });
}
async function newPage(name) {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await ctx.newPage();
  watch(page, name);
  return page;
}
async function guest(page, name) {
  await page.fill("#guest-name", name);
  await page.click("#guest-go");
}

const A = await newPage("A");
await A.goto(BASE + "/");
await guest(A, "Alice");
await A.waitForSelector("#create-form", { timeout: 10000 });
await A.fill("#new-title", "Browser test");
await A.click("#create-go");
await A.waitForURL(/\/b\/[A-Za-z0-9_-]+$/, { timeout: 10000 });
const BOARD = new URL(A.url()).pathname.split("/")[2];
check(await until(async () => (await connState(A)) === "connected"), "A: board " + BOARD + " open, connected");

const B = await newPage("B");
await B.goto(BASE + "/b/" + BOARD); // the shared link: sign-in first, then the board
await guest(B, "Bob");
await B.waitForURL(/\/b\//, { timeout: 10000 });
check(await until(async () => (await connState(B)) === "connected"), "B: followed the shared link, signed in, connected");

// 1. A draws a stroke, a rectangle (red), an arrow and a text
async function drag(page, from, to, steps = 12) {
  await page.mouse.move(from[0], from[1]);
  await page.mouse.down();
  await page.mouse.move(to[0], to[1], { steps });
  await page.mouse.up();
}
await A.keyboard.press("p");
await A.mouse.move(300, 300);
await A.mouse.down();
for (let i = 1; i <= 30; i++) {
  await A.mouse.move(300 + i * 8, 300 + Math.sin(i / 4) * 40);
  if (i === 20) { // the pen in motion is presence: B sees A's trail before the stroke exists
    check(await until(async () => (await B.$$("#layer-selection .peer-trail")).length === 1, 5000),
      "B sees A's stroke being drawn (presence trail)");
  }
  await sleep(40); // 30 moves over about 1.2 s: at least one interim upsert
}
check(await until(async () => (await countType(B, "stroke")) === 1, 5000),
  "a long stroke reaches B as an interim upsert before the pen is lifted");
await A.mouse.up();
await A.click('.swatch[title="strokeColor"][data-colour="e03131ff"]');
await A.keyboard.press("r");
await drag(A, [600, 250], [800, 380]);
await A.keyboard.press("Escape"); // deselect: a colour click restyles the selection
await A.click('.swatch[title="strokeColor"][data-colour="1971c2ff"]');
await A.keyboard.press("a");
await drag(A, [320, 500], [560, 430]);
await A.keyboard.press("t");
await A.mouse.click(650, 520);
await A.waitForFunction(() => document.activeElement && document.activeElement.classList.contains("wb-text-edit"), null, { timeout: 5000 });
await A.keyboard.type("Hello board");
await A.keyboard.press("Escape");

const want = { stroke: 1, rect: 1, arrow: 1, text: 1 };
for (const [type, n] of Object.entries(want)) {
  check(await until(async () => (await countType(B, type)) === n), "B renders A's " + type);
}
const geo = await B.evaluate(() => {
  const q = (s) => document.querySelector("#layer-elements " + s);
  return {
    stroke: q('g[data-type="stroke"] path')?.getAttribute("d") || "",
    rectStroke: q('g[data-type="rect"] rect')?.getAttribute("stroke"),
    rectW: Number(q('g[data-type="rect"] rect')?.getAttribute("width")),
    arrowPaths: document.querySelectorAll('#layer-elements g[data-type="arrow"] path').length,
    text: q('g[data-type="text"] text')?.textContent,
  };
});
check(geo.stroke.includes("Q"), "B: the stroke is drawn smoothed (quadratic segments): " + geo.stroke.slice(0, 40));
check(geo.rectStroke === "#e03131" && Math.abs(geo.rectW - 20000) < 200, "B: the rectangle is red and 200 px wide (" + geo.rectStroke + ", " + geo.rectW + ")");
check(geo.arrowPaths === 2, "B: the arrow has its shaft and head");
check(geo.text === "Hello board", "B: the text reads 'Hello board' (" + geo.text + ")");
const sb = await until(async () => { const b = await serverBoard(BOARD); return b && b.elements.length === 4 ? b : false; });
check(sb, "server: 4 elements (" + (sb ? sb.elements.map((e) => e.type).join(",") : "?") + ")");
const idsA = (await rendered(A)).map((e) => e.id).sort().join(",");
check(idsA === (await rendered(B)).map((e) => e.id).sort().join(","), "A and B render the same elements");
check(sb && sb.elements.map((e) => e.id).sort().join(",") === idsA, "the server holds exactly the rendered elements");

// 2. A's cursor in B with A's name
await A.mouse.move(500, 650);
await A.mouse.move(520, 660, { steps: 3 });
check(await until(async () => (await B.$$eval(".wb-cursor .name", (n) => n.map((x) => x.textContent))).includes("Alice")),
  "B shows A's cursor labelled Alice");
check(await until(async () => (await B.$$eval("#presence li", (n) => n.map((x) => x.textContent))).includes("Alice")), "B's presence list has Alice");
check(await until(async () => (await A.$$eval("#presence li", (n) => n.map((x) => x.textContent))).includes("Bob")),
  "A's presence list has Bob (who has not moved his pointer: heartbeat)");
// colours (protocol.md 2.3 rule 6): the colour the node gives Alice, as B
// sees it, is the one A's page computes for its own entry
{
  const bg = (page, sel) => page.$eval(sel, (e) => getComputedStyle(e).backgroundColor).catch(() => null);
  const userA = await A.evaluate(() => window.__wb.conn.user);
  const inB = await bg(B, '#presence li[data-user="' + userA + '"]');
  const own = await bg(A, "#presence li.me");
  check(inB && inB === own && inB !== "rgb(66, 99, 235)", "Alice's colour in B's list (" + inB + ") is her own entry's colour in A (" + own + ")");
}

// 3. undo / redo
await A.keyboard.press("Control+z");
check(await until(async () => (await countType(B, "text")) === 0), "A undoes the text: gone in B");
await A.keyboard.press("Control+Shift+z");
check(await until(async () => (await countType(B, "text")) === 1), "A redoes: the text is back in B");
check(await until(async () => (await serverBoard(BOARD)).elements.length === 4), "server: 4 elements after undo + redo");

// 4. B reloads
await B.reload();
check(await until(async () => (await connState(B)) === "connected"), "B reloaded and connected");
check(await until(async () => (await rendered(B)).map((e) => e.id).sort().join(",") === idsA), "B after reload: the same elements");

// 5. restarts; an op drawn while the node is down arrives once
async function outage(sig, shape, from, to) {
  serverDown = true;
  await stopNode(sig);
  check(await until(async () => (await connState(A)) !== "connected" && (await connState(B)) !== "connected", 10000),
    sig + ": both indicators leave 'connected' (" + (await connState(A)) + ")");
  await A.keyboard.press(shape === "ellipse" ? "o" : "r");
  const before = new Set((await rendered(A)).map((e) => e.id));
  await drag(A, from, to);
  const mine = await until(async () => (await rendered(A)).find((e) => !before.has(e.id)), 3000);
  check(mine && mine.type === shape, sig + ": A's offline " + shape + " shows at once in A");
  await sleep(700); // a reconnect attempt or two fail meanwhile
  check(await A.evaluate(() => window.__wb.conn.pending.length) >= 1, sig + ": the offline op waits in A's queue");
  const resent0 = await A.evaluate(() => window.__wb.conn.stats.resent);
  await startNode();
  serverDown = false;
  check(await until(async () => (await connState(A)) === "connected" && (await connState(B)) === "connected", 20000),
    sig + ": both pages reconnected by themselves");
  check(mine && await until(async () => (await rendered(B)).some((e) => e.id === mine.id), 10000), sig + ": B receives the offline " + shape);
  const sbx = await until(async () => { const b = await serverBoard(BOARD); return b && b.elements.length === before.size + 1 ? b : false; });
  check(sbx, sig + ": server has " + (before.size + 1) + " elements");
  const h = await history(BOARD);
  const n = mine ? h.filter((o) => o.id === mine.id).length : -1;
  check(n === 1, sig + ": the offline op is in the server's history exactly once (" + n + ")");
  const same = async () => {
    const a = (await rendered(A)).map((e) => e.id).sort().join(",");
    const b = (await rendered(B)).map((e) => e.id).sort().join(",");
    const s = (await serverBoard(BOARD)).elements.map((e) => e.id).sort().join(",");
    return a === b && b === s;
  };
  check(await until(same), sig + ": A, B and the server agree on the elements");
  check(await A.evaluate(() => window.__wb.conn.pending.length === 0), sig + ": A's queue is empty (acked)");
  const st = await A.evaluate(() => window.__wb.conn.stats);
  check(st.resent > resent0, sig + ": the queued batch went out after the welcome (" + st.resent + ")");
  check(st.resumeBytes > 0 && (st.welcomeFlags === 1 || st.welcomeFlags === 2),
    sig + ": A resumed with its version token (" + st.resumeBytes + " bytes; welcome flags " + st.welcomeFlags + ": " +
    (st.welcomeFlags === 1 ? "delta" : "resync") + ")");
}
await outage("SIGTERM", "rect", [350, 620], [450, 700]);
await outage("SIGKILL", "ellipse", [900, 500], [1050, 650]);

// more tools, each seen in B: sticky, fill, move, resize, z-order, eraser
const attr = (page, sel, name) => page.$eval("#layer-elements " + sel, (n, a) => n.getAttribute(a), name).catch(() => null);
await A.keyboard.press("Escape");
await A.keyboard.press("s");
await A.mouse.click(1000, 220);
await A.waitForFunction(() => document.activeElement && document.activeElement.classList.contains("wb-text-edit"), null, { timeout: 5000 });
await A.keyboard.type("Ship it");
await A.keyboard.press("Escape");
check(await until(async () => (await B.$eval('#layer-elements g[data-type="sticky"] text', (n) => n.textContent).catch(() => "")) === "Ship it"),
  "B renders A's sticky note 'Ship it'");
await A.keyboard.press("v");
await A.mouse.click(700, 250); // the red rectangle's top edge
await A.click('.swatch[title="fillColor"][data-colour="a5d8ffff"]');
check(await until(async () => (await attr(B, 'g[data-type="rect"] rect', "fill")) === "#a5d8ff"), "A fills the selected rectangle: B shows the fill");
await drag(A, [800, 380], [850, 400], 6); // its south-east handle
check(await until(async () => Number(await attr(B, 'g[data-type="rect"] rect', "width")) === 25000), "A resizes the rectangle to 250 px: B shows it");
const stickyY = Number(await attr(B, 'g[data-type="sticky"] rect', "y"));
await A.mouse.click(1000, 220);
await drag(A, [1000, 220], [1000, 320], 6);
check(await until(async () => Number(await attr(B, 'g[data-type="sticky"] rect', "y")) === stickyY + 10000), "A moves the sticky 100 px down: B shows it");
await A.keyboard.press("Control+d");
check(await until(async () => (await countType(B, "sticky")) === 2), "A duplicates the selected sticky (Ctrl+D): B has two");
await A.keyboard.press("Control+z");
check(await until(async () => (await countType(B, "sticky")) === 1), "undo of the duplicate: one sticky in B");
// the sticky resized to twice its size by its south-east handle: its font
// doubles with it (seen in B); undo restores both
{
  await A.keyboard.press("Escape");
  await A.mouse.click(1000, 320);
  const sfs = async () => Number(await attr(B, 'g[data-type="sticky"] text', "font-size"));
  const fs0 = await sfs();
  const hs = await A.evaluate(() => { const ed = window.__wb.editor; const b = ed.selBounds(); const r = ed.svg.getBoundingClientRect();
    const q = ed.toScreen(b.x + b.w, b.y + b.h), o = ed.toScreen(b.x, b.y); return [q.x + r.left, q.y + r.top, q.x - o.x, q.y - o.y]; });
  await drag(A, [hs[0], hs[1]], [hs[0] + hs[2], hs[1] + hs[3]], 8);
  check(await until(async () => Math.abs((await sfs()) - 2 * fs0) <= 2 * fs0 * 0.05),
    "resizing the sticky to twice its size doubles its font in B (" + fs0 + " -> " + (await sfs()) + ")");
  await A.keyboard.press("Control+z");
  check(await until(async () => (await sfs()) === fs0), "undo: the sticky's font is back at " + fs0);
}
await A.keyboard.press("Escape");
await A.mouse.click(440, 465); // the arrow
await A.keyboard.press("Control+BracketLeft");
check(await until(async () => (await rendered(B))[0]?.type === "arrow"), "A sends the arrow to the back: first in B's drawing order");
await A.keyboard.press("Escape");
await A.keyboard.press("l");
await drag(A, [700, 720], [860, 740]);
check(await until(async () => (await countType(B, "line")) === 1), "B renders A's line");
// a line has the rotation handle too: Shift-dragged to the right of its
// centre, its points turn a quarter around their centre; undo restores them
{
  await A.keyboard.press("v");
  await A.mouse.click(780, 730);
  const lineOf = async () => (await serverBoard(BOARD)).elements.find((e) => e.type === "line");
  const l0 = await lineOf();
  const lrot = await A.evaluate(() => { const ed = window.__wb.editor; const h = ed.rotHandle(); if (!h) return null;
    const r = ed.svg.getBoundingClientRect(); const q = ed.toScreen(h[0], h[1]); return [q.x + r.left, q.y + r.top]; });
  check(lrot && l0, "a selected line has a rotation handle");
  if (lrot && l0) {
    await A.keyboard.down("Shift");
    await drag(A, [lrot[0], lrot[1]], [780 + 150, 730 + 4], 8);
    await A.keyboard.up("Shift");
    const [a, b] = l0.points[l0.points.length - 1];
    const turned = async () => { const l = await lineOf(); const q = l && l.points[l.points.length - 1]; return q && Math.abs(q[0] + b) <= 1 && Math.abs(q[1] - a) <= 1; };
    check(await until(turned), "the rotation handle turns the line a quarter: " + JSON.stringify(l0.points) + " -> " + JSON.stringify((await lineOf())?.points));
    await A.keyboard.press("Control+z");
    check(await until(async () => JSON.stringify((await lineOf())?.points) === JSON.stringify(l0.points)), "undo: the line is back as drawn");
  }
  await A.keyboard.press("Escape");
}
await A.keyboard.press("e");
await drag(A, [780, 700], [780, 760], 8);
check(await until(async () => (await countType(B, "line")) === 0), "A erases the line: gone in B");
check(await until(async () => !(await serverBoard(BOARD)).elements.some((e) => e.type === "line")), "server: the line is deleted");
await A.keyboard.press("Control+z");
check(await until(async () => (await countType(B, "line")) === 1), "A undoes the erase: the line is back in B");
await A.keyboard.press("Control+y");
check(await until(async () => (await countType(B, "line")) === 0), "A redoes the erase (Ctrl+Y): gone again in B");
await A.keyboard.press("v");

// editing a text by double-click; Delete; marquee multi-selection nudged
await A.mouse.dblclick(700, 535);
await A.waitForFunction(() => document.activeElement && document.activeElement.classList.contains("wb-text-edit"), null, { timeout: 5000 });
await A.keyboard.press("End");
await A.keyboard.type("!");
await A.keyboard.press("Escape");
check(await until(async () => (await B.$eval('#layer-elements g[data-type="text"] text', (n) => n.textContent).catch(() => "")) === "Hello board!"),
  "A edits the text (double-click): B reads 'Hello board!'");
await A.mouse.click(700, 535);
await A.click('.font[data-font="3600"]');
check(await until(async () => (await attr(B, 'g[data-type="text"] text', "font-size")) === "3600"), "A sets the selected text's size to L: B draws it at 36 px");
// the text alone has resize handles; dragging the south-east one down by
// the box's height doubles it: the font scales with the height
{
  const hs = await A.evaluate(() => { const ed = window.__wb.editor; const b = ed.selBounds(); const r = ed.svg.getBoundingClientRect();
    const q = ed.toScreen(b.x + b.w, b.y + b.h), o = ed.toScreen(b.x, b.y); return [q.x + r.left, q.y + r.top, q.y - o.y]; });
  await drag(A, [hs[0], hs[1]], [hs[0] + 40, hs[1] + hs[2]], 8);
  const fs = async () => Number(await attr(B, 'g[data-type="text"] text', "font-size"));
  check(await until(async () => (await fs()) >= 6000 && (await fs()) <= 8400), "resizing the text to twice its height scales its font in B (3600 -> " + (await fs()) + ")");
  const srv = async () => { const t = (await serverBoard(BOARD)).elements.find((e) => e.type === "text"); return t ? Math.round(t.fontSize * 100) : 0; };
  check(await until(async () => (await srv()) === (await fs())), "the server holds the scaled font size (" + (await srv()) + ")");
  await A.keyboard.press("Control+z");
  check(await until(async () => (await fs()) === 3600), "undo: the text is back at 36 px in B");
  // the rotation handle above it, dragged (Shift: 15 degree steps) to the
  // right of its centre: a quarter turn, seen in B and on the server
  await A.mouse.click(700, 535);
  const rot = await A.evaluate(() => { const ed = window.__wb.editor; const h = ed.rotHandle(); if (!h) return null;
    const v = ed.view([...ed.sel][0]); const r = ed.svg.getBoundingClientRect();
    const q = ed.toScreen(h[0], h[1]), c = ed.toScreen(v.x + (v.width || 0) / 2, v.y + (v.height || 0) / 2);
    return [q.x + r.left, q.y + r.top, c.x + r.left, c.y + r.top]; });
  check(rot, "a single selected text has a rotation handle");
  if (rot) {
    await A.keyboard.down("Shift");
    await drag(A, [rot[0], rot[1]], [rot[2] + 150, rot[3] + 4], 8);
    await A.keyboard.up("Shift");
  }
  const tr = () => attr(B, 'g[data-type="text"]', "transform");
  check(await until(async () => /^rotate\(90 /.test((await tr()) || "")), "the rotation handle turns the text a quarter: B draws " + (await tr()));
  check(await until(async () => (await serverBoard(BOARD)).elements.find((e) => e.type === "text").rotation === 90), "the server holds rotation 90");
  // clicking where the turned text now is (above its centre, outside its
  // upright box) selects it
  await A.keyboard.press("Escape");
  const above = await A.evaluate(() => { const ed = window.__wb.editor; const v = ed.elements().find((e) => e.type === "text");
    const r = ed.svg.getBoundingClientRect(); const c = ed.toScreen(v.x + v.width / 2, v.y + v.height / 2 - v.width * 0.35);
    return [c.x + r.left, c.y + r.top]; });
  await A.mouse.click(above[0], above[1]);
  check(await A.evaluate(() => { const ed = window.__wb.editor; const s = [...ed.sel]; return s.length === 1 && ed.view(s[0]).type === "text"; }),
    "a click on the turned text (outside its upright box) selects it");
  await A.keyboard.press("Control+z");
  check(await until(async () => !(await tr())), "undo: the text is upright again in B");
}
await A.keyboard.press("Escape");
await A.keyboard.press("?");
check(await A.$eval("#help", (e) => getComputedStyle(e).display !== "none" && e.textContent.includes("undo")), "? shows the keyboard shortcuts");
await A.keyboard.press("Escape");
check(await A.$eval("#help", (e) => getComputedStyle(e).display === "none"), "Esc hides them");
await A.mouse.click(400, 625); // the small rectangle drawn during the SIGTERM outage
await A.keyboard.press("Delete");
check(await until(async () => (await countType(B, "rect")) === 1), "A deletes the selected rectangle (Delete): gone in B");
await A.keyboard.press("Control+z");
check(await until(async () => (await countType(B, "rect")) === 2), "undo brings it back in B");
const xsBefore = await B.evaluate(() => window.__wb.editor.elements().filter((e) => e.type === "stroke" || e.type === "arrow").map((e) => e.x).join(","));
await A.keyboard.press("Escape");
await drag(A, [280, 240], [580, 520], 8); // a marquee around the stroke and the arrow
check((await A.evaluate(() => window.__wb.editor.sel.size)) === 2, "the marquee selects the stroke and the arrow");
await A.keyboard.press("Shift+ArrowRight");
const xsWant = xsBefore.split(",").map((x) => Number(x) + 1000).join(",");
check(await until(async () => (await B.evaluate(() => window.__wb.editor.elements().filter((e) => e.type === "stroke" || e.type === "arrow").map((e) => e.x).join(","))) === xsWant),
  "Shift+Right moves both 10 px: B shows it (" + xsWant + ")");
// resizing the two together by the selection's south-east handle
const arrowDx = () => B.evaluate(() => { const a = window.__wb.editor.elements().find((e) => e.type === "arrow"); return a.points[a.points.length - 1][0]; });
const dx0 = await arrowDx();
const se = await A.evaluate(() => { const ed = window.__wb.editor; const h = ed.handles().find((x) => x[0] === "se"); const r = ed.svg.getBoundingClientRect(); const q = ed.toScreen(h[1], h[2]); return [q.x + r.left, q.y + r.top]; });
await drag(A, se, [se[0] + 130, se[1] + 40], 8);
check(await until(async () => (await arrowDx()) > dx0 * 1.3), "resizing the two-element selection scales the arrow in B (" + dx0 + " -> " + (await arrowDx()) + ")");
await A.keyboard.press("Escape");

// the browser goes offline (network emulation): B says so, B draws, and
// after going online again B's op reaches A once
await B.context().setOffline(true);
check(await until(async () => (await connState(B)) === "offline", 10000), "B offline: the indicator says offline (" + (await connState(B)) + ")");
await B.keyboard.press("o");
await drag(B, [1100, 700], [1180, 780]);
const bOff = await until(async () => {
  const inA = new Set((await rendered(A)).map((e) => e.id));
  return (await rendered(B)).find((e) => e.type === "ellipse" && !inA.has(e.id));
}, 3000);
check(bOff, "B's offline ellipse shows in B");
await sleep(1000);
check(bOff && !(await rendered(A)).some((e) => e.id === bOff.id) && (await B.evaluate(() => window.__wb.conn.pending.length)) === 1,
  "while B is offline its ellipse waits in B's queue and A does not have it");
await B.context().setOffline(false);
check(await until(async () => (await connState(B)) === "connected", 20000), "B back online: connected");
check(bOff && await until(async () => (await rendered(A)).some((e) => e.id === bOff.id)), "A receives B's offline ellipse");
check(bOff && await until(async () => (await history(BOARD)).filter((o) => o.id === bOff.id).length === 1), "B's offline op is in the history exactly once");

// 6. a viewer cannot draw
const V = await newPage("V");
await V.goto(BASE + "/");
await V.fill("#token-input", jwt({ sub: "viewer-1", name: "Vera", role: "viewer" }));
await V.click("#token-form button");
await V.goto(BASE + "/b/" + BOARD);
check(await until(async () => (await connState(V)) === "connected"), "viewer connected");
check(await until(async () => (await V.$eval("#role", (e) => e.textContent)) === "viewer"), "viewer: role shown");
const count0 = (await serverBoard(BOARD)).elements.length;
check(await V.evaluate(() => document.body.classList.contains("readonly") &&
  getComputedStyle(document.querySelector('[data-tool="pen"]')).display === "none"), "viewer: drawing tools hidden");
await V.keyboard.press("r");
await drag(V, [700, 600], [850, 700]);
await V.keyboard.press("Delete");
check((await rendered(V)).length === count0, "viewer: drag with the rectangle key draws nothing");
await V.evaluate(() => window.__wb.conn.submit([{ kind: "upsert", id: "forced-by-viewer", props: { type: "rect", x: 0, y: 0, width: 5000, height: 5000 } }]));
check(await until(() => V.evaluate(() => window.__wb.conn.pending.length === 0), 5000), "viewer: a forced op is answered (refused)");
await sleep(500);
const sv = await serverBoard(BOARD);
check(sv.elements.length === count0 && !sv.elements.some((e) => e.id === "forced-by-viewer"), "viewer: the server stored nothing");
check(!(await rendered(B)).some((e) => e.id === "forced-by-viewer"), "viewer: nothing reached B");
// the viewer still sees the others: A's cursor shows up in the viewer's page
await A.mouse.move(610, 640, { steps: 3 });
check(await until(async () => (await V.$$eval(".wb-cursor .name", (n) => n.map((x) => x.textContent))).includes("Alice")),
  "viewer: sees A's cursor");
check(await until(async () => (await B.$$eval("#presence li", (n) => n.map((x) => x.textContent))).includes("Vera")), "B's presence list has the viewer Vera");

// the viewer zooms with two fingers (touch events through the DevTools protocol)
{
  const cdp = await V.context().newCDPSession(V);
  const z0 = await V.evaluate(() => window.__wb.editor.cam.zoom);
  const pts = (d) => [{ x: 600 - d, y: 450, id: 1 }, { x: 600 + d, y: 450, id: 2 }];
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: pts(50) });
  for (const d of [60, 80, 100]) await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: pts(d) });
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  const z1 = await V.evaluate(() => window.__wb.editor.cam.zoom);
  check(z1 > z0 * 1.6 && z1 < z0 * 2.4, "viewer: a two-finger pinch zooms (" + z0 + " -> " + z1.toFixed(2) + ")");
  check((await serverBoard(BOARD)).elements.length === count0, "viewer: the pinch changed nothing on the board");
}

// presence leave (protocol.md 2.3 rule 6): the viewer leaves the board; B
// drops her cursor and list entry at once, not after the 9 s timeout
const names = (page, sel) => page.$$eval(sel, (n) => n.map((x) => x.textContent));
await V.mouse.move(300, 300, { steps: 3 });
check(await until(async () => (await names(B, ".wb-cursor .name")).includes("Vera")), "B shows Vera's cursor");
const tLeave = Date.now();
await V.goto(BASE + "/");
const gone = await until(async () => !(await names(B, ".wb-cursor .name")).includes("Vera") &&
  !(await names(B, "#presence li")).includes("Vera"), 4000, 50);
check(gone, "Vera left: B dropped her cursor and list entry in " + (Date.now() - tLeave) + " ms (timeout 9 s)");

// the home page lists the board; opening it from there works
await V.waitForSelector("#board-list a", { timeout: 10000 });
check((await V.$$eval("#board-list a", (n) => n.map((a) => a.textContent))).includes("Browser test"), "home: the board list has 'Browser test'");
await V.click("#board-list a >> text=Browser test");
check(await until(async () => V.url().endsWith("/b/" + BOARD) && (await connState(V)) === "connected"), "home: clicking the board opens it");

// a token the node refuses (wrong key): back to sign-in with a message, and
// after signing in, back on the board (this page's console is not watched:
// the browser itself logs the refused REST call as a resource error)
{
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const X = await ctx.newPage();
  X.on("pageerror", (e) => errors.push("X: uncaught " + e.message));
  await X.goto(BASE + "/");
  const forged = jwt({ sub: "mallory", name: "Mallory", role: "owner" }).replace(/.{4}$/, "AAAA");
  await X.evaluate((t) => localStorage.setItem("wb.auth", JSON.stringify({ token: t, userId: "mallory", name: "Mallory", exp: 0 })), forged);
  await X.goto(BASE + "/b/" + BOARD);
  check(await until(async () => new URL(X.url()).pathname === "/" && /no longer valid/.test(await X.$eval("#signin-msg", (e) => e.textContent))),
    "a refused token (close 4001) sends the page back to sign-in with a message");
  await guest(X, "Xavier");
  check(await until(async () => X.url().endsWith("/b/" + BOARD) && (await connState(X)) === "connected"), "after signing in again: back on the board");
  await ctx.close();
}

// exports work (PNG and SVG from the client)
const exp = await A.evaluate(async () => {
  const { exportSvg, exportPng } = await import("/render.js");
  const els = window.__wb.editor.elements();
  const svg = exportSvg(els).text;
  const png = await exportPng(els);
  const head = new Uint8Array(await png.slice(0, 8).arrayBuffer());
  return { svgShapes: (svg.match(/data-id=/g) || []).length, png: Array.from(head), size: png.size, n: els.length };
});
check(exp.svgShapes === exp.n && exp.n >= 6, "SVG export holds every element (" + exp.svgShapes + "/" + exp.n + ")");
check(exp.png[0] === 0x89 && exp.png[1] === 0x50 && exp.size > 1000, "PNG export is a PNG (" + exp.size + " bytes)");

// screenshots, then 7.
await A.mouse.move(760, 420);
await sleep(600);
await A.screenshot({ path: ART + "/web-A.png" });
await B.screenshot({ path: ART + "/web-B.png" });
check(existsSync(ART + "/web-A.png") && existsSync(ART + "/web-B.png"), "screenshots saved in " + ART);
check(errors.length === 0, "no uncaught errors in the pages" + (errors.length ? ":\n  " + errors.join("\n  ") : ""));

await browser.close();
await stopNode("SIGTERM");
const nodeLog = existsSync(WORK + "/node.log") ? readFileSync(WORK + "/node.log", "utf8") : "";
check(!/AddressSanitizer|runtime error|LeakSanitizer/.test(nodeLog), "no sanitizer report in the node log");
console.log(fails ? fails + " check(s) failed" : "browser: all checks passed");
process.exit(Math.min(fails, 100));
