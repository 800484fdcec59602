// bench_board.mjs WHITEBOARDD [N]: figures for the web client, not a test.
// Starts its own whiteboardd on 127.0.0.1 (free port, temporary data dir,
// stopped by PID at the end), posts a board of N elements (default 2000:
// rectangles, ellipses and 40-point strokes) through the REST API, then in
// headless chromium (playwright-core from tests/web/node_modules):
//   * opening the board's URL until every element is in the SVG, 5 runs;
//   * a move posted through REST until the page has redrawn the element,
//     11 runs (includes the node's durable ack: fdatasync).
// Prints medians and all samples. Run: node tests/web/bench_board.mjs
// build/net/whiteboardd 2000
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
const BIN = process.argv[2];
const N = Number(process.argv[3] || 2000);
const secret = "bench-secret-0123456789abcdefghijklmnopqrstuv";
const port = await new Promise((resolve) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const dir = mkdtempSync(tmpdir() + "/wb-bench-");
const node = spawn(BIN, ["--data-dir", dir + "/data", "--listen", "127.0.0.1:" + port, "--log-level", "warn", "--rate-user", "0", "--rate-conn", "0"],
  { env: { ...process.env, JWT_SECRET: secret }, stdio: "ignore" });
const base = "http://127.0.0.1:" + port;
for (let i = 0; i < 600; i++) { try { if ((await fetch(base + "/readyz")).status === 200) break; } catch (e) { /* not yet */ } await new Promise((r) => setTimeout(r, 100)); }
const b64u = (b) => Buffer.from(b).toString("base64url");
function jwt(c) { const now = Math.floor(Date.now() / 1000); const h = b64u(JSON.stringify({ alg: "HS256", typ: "JWT" })); const p = b64u(JSON.stringify({ iat: now - 5, exp: now + 3600, ...c })); return h + "." + p + "." + b64u(createHmac("sha256", secret).update(h + "." + p).digest()); }
const T = jwt({ sub: "perf", name: "Perf", role: "owner" });
const H = { Authorization: "Bearer " + T, "Content-Type": "application/json" };
const board = (await (await fetch(base + "/api/v1/boards", { method: "POST", headers: H, body: JSON.stringify({ title: "perf" }) })).json()).id;
for (let k = 0; k < N; k += 1000) {
  const ops = [];
  for (let i = k; i < Math.min(N, k + 1000); i++) {
    const t = ["rect", "ellipse", "stroke"][i % 3];
    const props = { x: (i % 50) * 30, y: Math.floor(i / 50) * 30, strokeColor: "#1e1e1eff" };
    if (t === "stroke") props.points = Array.from({ length: 40 }, (_, j) => [j, Math.round(Math.sin(j / 5) * 10)]);
    else { props.width = 20; props.height = 20; }
    ops.push({ op: "upsert", id: "p" + i, type: t, props });
  }
  const r = await fetch(base + "/api/v1/boards/" + board + "/ops", { method: "POST", headers: H, body: JSON.stringify(ops) });
  if (r.status !== 200) console.log("post", r.status, await r.text());
}
const br = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
const p = await (await br.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
await p.goto(base + "/");
await p.evaluate((t) => localStorage.setItem("wb.auth", JSON.stringify({ token: t, userId: "perf", name: "Perf", exp: 0 })), T);
const times = [];
for (let r = 0; r < 5; r++) {
  const t0 = Date.now();
  await p.goto(base + "/b/" + board);
  await p.waitForFunction((n) => document.querySelectorAll("#layer-elements > g").length === n, N, { timeout: 60000, polling: 20 });
  times.push(Date.now() - t0);
}
times.sort((a, b) => a - b);
console.log("open board with", N, "elements, load to all rendered, median ms:", times[2], times);
const lat = [];
for (let r = 0; r < 11; r++) {
  const x = 5000 + r;
  const t0 = Date.now();
  await fetch(base + "/api/v1/boards/" + board + "/ops", { method: "POST", headers: H, body: JSON.stringify([{ op: "upsert", id: "p7", props: { x } }]) });
  await p.waitForFunction((x) => { const g = document.querySelector('#layer-elements > g[data-id="p7"] > *'); return g && (g.getAttribute("x") === String(x * 100) || g.getAttribute("cx") === String(x * 100 + 1000)); }, x, { timeout: 10000, polling: "raf" });
  lat.push(Date.now() - t0);
}
lat.sort((a, b) => a - b);
console.log("REST move -> rendered in the page, median ms:", lat[5], lat);
await br.close();
node.kill("SIGTERM");
await new Promise((r) => node.on("exit", r));
rmSync(dir, { recursive: true, force: true });
