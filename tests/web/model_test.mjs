// model_test.mjs: the web client's board model (net/web/model.js) in Node:
// the merge rule of docs/board-model.md section 2 case by case, convergence
// of random op sets applied in random orders with duplicates (the same
// visible state whatever the order), the pending overlay (an unacked op
// wins, an ack folds it into the confirmed state), the version vector, and
// fractional z indices (strictly between their bounds, valid z strings).
// Exit status = number of failures (capped at 100).
import { Board, zBetween } from "../../net/web/model.js";
import { encodeBatch } from "../../net/web/codec.js";

let fails = 0, checks = 0;
function check(cond, msg) {
  checks++;
  if (!cond) { fails++; console.log("FAIL: " + msg); }
}
const st = (hlc, node = 1n, oseq = hlc) => ({ hlc: BigInt(hlc), node: BigInt(node), oseq: BigInt(oseq) });
const up = (id, s, props) => ({ kind: "upsert", id, stamp: s, props });
const del = (id, s) => ({ kind: "delete", id, stamp: s });
// canonical: keys sorted (objects keep insertion order, which follows apply order)
const view = (b) => JSON.stringify(b.elements().map((e) => Object.fromEntries(Object.entries(e).sort(([a], [c]) => (a < c ? -1 : 1)))));

// ---- the merge rule ------------------------------------------------------------
{
  const b = new Board("b1");
  b.applyOps([up("e", st(10), { type: "rect", x: 1 }), up("e", st(5), { x: 2, y: 3 })]);
  const v = b.view("e");
  check(v && v.x === 1 && v.y === 3, "per property: the newer stamp wins (x from 10, y from 5)");
  b.applyOps([del("e", st(7))]);
  check(b.view("e") && b.view("e").x === 1 && b.view("e").y === undefined,
        "a delete older than some writes kills only the older properties; type (10) keeps it visible");
  b.applyOps([del("e", st(20))]);
  check(b.view("e") === null, "a delete newer than every property removes the element");
  b.applyOps([up("e", st(15), { type: "ellipse" })]);
  check(b.view("e") === null, "an upsert older than the tombstone is dead on arrival");
  b.applyOps([up("e", st(25), { x: 9 })]);
  check(b.view("e") === null, "a newer upsert without type does not resurrect");
  b.applyOps([up("e", st(26), { type: "rect" })]);
  const r = b.view("e");
  check(r && r.type === "rect" && r.x === 9 && r.y === undefined, "a newer upsert with type resurrects with the props written after the delete");
  check(b.vv.get(1n) === 26n, "version vector: highest oseq per node (" + b.vv.get(1n) + ")");
}

// ---- convergence: random op sets, random orders, duplicates ------------------------
function rng(seed) { let x = seed >>> 0 || 1; return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; }; }
for (let round = 0; round < 300; round++) {
  const R = rng(round + 1);
  const ops = [];
  const n = 5 + Math.floor(R() * 20);
  for (let i = 0; i < n; i++) {
    const id = "e" + Math.floor(R() * 3);
    const s = st(1 + Math.floor(R() * 30), 1 + Math.floor(R() * 2), i + 1);
    if (R() < 0.25) ops.push(del(id, s));
    else {
      const p = {};
      if (R() < 0.6) p.type = ["rect", "ellipse", "text"][Math.floor(R() * 3)];
      if (R() < 0.7) p.x = Math.floor(R() * 100);
      if (R() < 0.5) p.text = "t" + Math.floor(R() * 5);
      if (!Object.keys(p).length) p.y = 1;
      ops.push(up(id, s, p));
    }
  }
  const ref = new Board("b");
  ref.applyOps(ops);
  for (let k = 0; k < 3; k++) {
    const shuffled = [...ops, ...ops.filter(() => R() < 0.3)];
    for (let i = shuffled.length - 1; i > 0; i--) { const j = Math.floor(R() * (i + 1)); [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]]; }
    const b = new Board("b");
    for (const op of shuffled) b.applyOps([op]);
    if (view(b) !== view(ref)) { check(false, "round " + round + ": order changed the state"); break; }
  }
}
checks++;

// ---- pending overlay ---------------------------------------------------------------
{
  const b = new Board("b1");
  b.applyOps([up("e", st(10), { type: "rect", x: 1, y: 1 })]);
  const pend = [{ ops: [{ kind: "upsert", id: "e", props: { x: 50 }, opId: 1n }] }];
  b.setPending(pend);
  check(b.view("e").x === 50 && b.view("e").y === 1, "a pending upsert overrides what it sets");
  b.applyOps([up("e", st(11), { x: 2 })]);
  check(b.view("e").x === 50, "a pending op wins over a confirmed one until acked");
  b.setPending([{ ops: [{ kind: "delete", id: "e", opId: 2n }] }]);
  check(b.view("e") === null, "a pending delete hides the element");
  b.setPending([]);
  b.applyOps([up("e", st(12), { x: 50 })]);
  check(b.view("e").x === 50, "after the ack the stamped op is in the confirmed state");
  const v0 = b.ver("e");
  b.setPending([{ ops: [{ kind: "upsert", id: "n", props: { type: "text", text: "hi" }, opId: 3n }] }]);
  check(b.view("n") && b.elements().length === 2 && b.ver("e") === v0, "a pending creation is visible; other elements keep their version");
  // every pending batch the UI can make is encodable
  let ok = true;
  try { encodeBatch({ board: "b1", ops: b.pending[0].ops.map((o) => ({ ...o, user: "", stamp: null })) }); } catch (e) { ok = false; }
  check(ok, "pending batches encode");
}

// ---- z indices ---------------------------------------------------------------------
{
  const valid = (z) => typeof z === "string" && /^[0-9A-Za-z]{1,64}$/.test(z);
  let z = null, prev = null;
  let okUp = true;
  for (let i = 0; i < 200; i++) { z = zBetween(prev, null); if (!valid(z) || (prev && !(z > prev))) { okUp = false; break; } prev = z; }
  check(okUp, "200 bring-to-front steps give increasing valid z");
  let lo = "a0", hi = "a1", okIn = true;
  for (let i = 0; i < 40; i++) { const m = zBetween(lo, hi); if (!valid(m) || !(m > lo && m < hi)) { okIn = false; break; } if (i % 2) lo = m; else hi = m; }
  check(okIn, "40 insertions between neighbours stay strictly between");
  let back = "V", okBack = true;
  for (let i = 0; i < 60; i++) { const m = zBetween(null, back); if (!valid(m) || !(m < back)) { okBack = false; break; } back = m; }
  check(okBack, "60 send-to-back steps give decreasing valid z");
  check(zBetween("b", "a") === null, "no z between reversed bounds");
}

console.log(fails ? fails + " of " + checks + " check(s) failed" : "model_test: " + checks + " checks passed");
process.exit(Math.min(fails, 100));
