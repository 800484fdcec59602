// infra/k6/socket-load.js: wb-load's `rooms` workload as a k6 script, for
// operators who load-test with k6 (the runbook's `k6 run
// tests/load/socket-load.js`). The native generator (tools/wbload, wb-load)
// is the reference: it is open-loop, measures in microseconds and costs far
// less CPU per op; this script is for environments where k6 is the tool.
//
//   k6 run -e URL=ws://127.0.0.1:8080 -e JWT_SECRET=... \
//          -e ROOMS=50 -e CLIENTS=10 -e RATE=20 -e DURATION=30 \
//          infra/k6/socket-load.js
//
// ROOMS rooms x CLIENTS clients (one VU each) on /ws with subprotocol wb.v1
// (docs/protocol.md part 2); every client sends RATE one-op batches per
// second (80% moves of its rectangles, 20% stroke upserts with the whole
// points list), each op its own batch. Tokens are minted with HS256 from
// JWT_SECRET (editor on every board), or taken from guest sign-in when
// JWT_SECRET is empty. Boards are created in setup() with POST
// /api/v1/boards.
//
// The client op id carries the send time (ms since the test's start, times
// 1024, plus the VU number mod 1024), so every receiver measures the
// end-to-end broadcast latency (wb_broadcast_ms) and every sender its
// durable-ack latency (wb_ack_ms). Counters: wb_ops_sent, wb_acks,
// wb_deliveries (others' ops received), wb_errors. Thresholds follow the
// runbook's 500 ms p99 alert.
import http from 'k6/http';
import ws from 'k6/ws';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const URL = __ENV.URL || 'ws://127.0.0.1:8080';
const HTTP_URL = URL.replace(/^ws/, 'http').replace(/\/ws$/, '');
const ROOMS = parseInt(__ENV.ROOMS || '50', 10);
const CLIENTS = parseInt(__ENV.CLIENTS || '10', 10);
const RATE = parseFloat(__ENV.RATE || '20');
const DURATION = parseFloat(__ENV.DURATION || '30');
const SECRET = __ENV.JWT_SECRET || '';

export const options = {
  scenarios: {
    rooms: {
      executor: 'per-vu-iterations',
      vus: ROOMS * CLIENTS,
      iterations: 1,
      maxDuration: `${Math.ceil(DURATION + 60)}s`,
    },
  },
  thresholds: {
    wb_broadcast_ms: ['p(99)<500'],
    wb_ack_ms: ['p(99)<500'],
    wb_errors: ['count==0'],
  },
};

const broadcastMs = new Trend('wb_broadcast_ms', true);
const ackMs = new Trend('wb_ack_ms', true);
const opsSent = new Counter('wb_ops_sent');
const acks = new Counter('wb_acks');
const deliveries = new Counter('wb_deliveries');
const errors = new Counter('wb_errors');

// ---- tokens --------------------------------------------------------------

function b64url(s) {
  return encoding.b64encode(s, 'rawurl');
}

function mint(sub) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({
    sub, name: sub, role: 'editor', iat: now, exp: now + 6 * 3600,
  }));
  const sig = crypto.hmac('sha256', SECRET, `${head}.${body}`, 'base64rawurl');
  return `${head}.${body}.${sig}`;
}

function guestToken(name) {
  const r = http.post(`${HTTP_URL}/api/v1/auth/guest`, JSON.stringify({ name }),
    { headers: { 'Content-Type': 'application/json' } });
  check(r, { 'guest sign-in 200': (x) => x.status === 200 });
  return r.json('token');
}

function tokenFor(i, run) {
  return SECRET ? mint(`k6-${run}-${i}`) : guestToken(`k6 ${i}`);
}

// ---- the binary protocol (docs/protocol.md) -------------------------------

// Unsigned LEB128 of a non-negative integer below 2^53 (no 32-bit bit ops).
function uvar(out, v) {
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function svar(out, v) {
  uvar(out, v >= 0 ? v * 2 : -v * 2 - 1);
}

function str(out, s) {
  const bytes = [];
  for (let i = 0; i < s.length; i++) bytes.push(s.charCodeAt(i) & 0x7f);
  uvar(out, bytes.length);
  for (const b of bytes) out.push(b);
}

function toBuffer(bytes) {
  return new Uint8Array(bytes).buffer;
}

function helloFrame(token, board) {
  const f = [0x01, 0x01];
  uvar(f, 1); // proto
  str(f, token);
  str(f, board);
  uvar(f, 0); // no resume token
  return toBuffer(f);
}

// One upsert in one batch: a move of rectangle k % 8 (created by the first
// 8 ops), or every 5th op a stroke with 4..64 points.
function opFrame(board, prefix, cid, k) {
  const f = [0x02, 0x01, 0x01];
  str(f, board);
  uvar(f, 1); // one op
  f.push(0x01); // upsert, no stamp
  uvar(f, cid);
  uvar(f, 0); // user: the server fills it
  const x = (k * 7919) % 100000;
  const y = (k * 104729) % 80000;
  if (k < 8 || k % 5 !== 4) {
    str(f, `${prefix}e${k % 8}`);
    if (k < 8) {
      uvar(f, 6); // type x y width height strokeColor
      f.push(1, 2); // type rect
      f.push(2); svar(f, x);
      f.push(3); svar(f, y);
      f.push(4); uvar(f, 8000);
      f.push(5); uvar(f, 5000);
      f.push(7, 0x1e, 0x1e, 0x1e, 0xff);
    } else {
      uvar(f, 2);
      f.push(2); svar(f, x);
      f.push(3); svar(f, y);
    }
  } else {
    str(f, `${prefix}s${Math.floor(k / 80) % 4}`);
    const n = 4 * ((Math.floor(k / 5) % 16) + 1);
    uvar(f, 6); // type x y strokeColor strokeWidth points
    f.push(1, 1); // type stroke
    f.push(2); svar(f, x);
    f.push(3); svar(f, y);
    f.push(7, 0x2f, 0x6f, 0xdf, 0xff);
    f.push(9); uvar(f, 200);
    f.push(13); uvar(f, n); f.push(1); // n points with pressure
    let px = 0;
    let py = 0;
    for (let i = 0; i < n; i++) {
      const ax = i * 150;
      const ay = ((i + k) % 7) * 90;
      svar(f, ax - px);
      svar(f, ay - py);
      uvar(f, 300 + ((i * 37) % 700));
      px = ax;
      py = ay;
    }
  }
  return toBuffer(f);
}

function reader(buf) {
  const b = new Uint8Array(buf);
  let p = 0;
  return {
    left: () => b.length - p,
    u8: () => b[p++],
    uvar: () => {
      let v = 0;
      let m = 1;
      for (;;) {
        const c = b[p++];
        v += (c % 128) * m;
        if (c < 128) return v;
        m *= 128;
      }
    },
    skip: (n) => { p += n; },
  };
}

// ---- the test -----------------------------------------------------------

export function setup() {
  const run = `${Date.now() % 1000000}`;
  const owner = tokenFor(0, run);
  const boards = [];
  for (let r = 0; r < ROOMS; r++) {
    const res = http.post(`${HTTP_URL}/api/v1/boards`,
      JSON.stringify({ title: `k6 room ${r}` }),
      { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${owner}` } });
    check(res, { 'board created': (x) => x.status === 201 });
    boards.push(res.json('id'));
  }
  return { boards, run, t0: Date.now() };
}

export default function (data) {
  const vu = __VU - 1;
  const room = vu % ROOMS;
  const board = data.boards[room];
  const token = tokenFor(vu + 1, data.run);
  const prefix = `k6${data.run}v${vu}`;
  const me = vu % 1024;
  const url = URL.endsWith('/ws') ? URL : `${URL}/ws`;
  let k = 0;
  let sentMs = -1;
  const res = ws.connect(url, { headers: { 'Sec-WebSocket-Protocol': 'wb.v1' } },
    (socket) => {
      socket.on('open', () => socket.sendBinary(helloFrame(token, board)));
      socket.on('binaryMessage', (msg) => {
        const now = Date.now() - data.t0;
        const r = reader(msg);
        const type = r.u8();
        r.u8(); // version
        if (type === 0x81) { // welcome: start sending
          socket.setInterval(() => {
            // ids must differ (an equal id is a resend: acked, not applied)
            sentMs = Math.max(Date.now() - data.t0, sentMs + 1);
            const cid = sentMs * 1024 + me;
            socket.sendBinary(opFrame(board, prefix, cid, k++));
            opsSent.add(1);
          }, 1000 / RATE);
          socket.setTimeout(() => socket.close(), DURATION * 1000);
        } else if (type === 0x82) { // broadcast
          r.uvar(); // seq
          r.u8(); // batch version
          r.skip(r.uvar()); // board
          const nops = r.uvar();
          r.u8(); // head
          const cid = r.uvar();
          if (nops === 1 && cid % 1024 !== me) {
            deliveries.add(1);
            broadcastMs.add(now - Math.floor(cid / 1024));
          }
        } else if (type === 0x83) { // ack
          const status = r.uvar();
          r.uvar(); // first_seq
          r.uvar(); // dups
          const n = r.uvar();
          if (status !== 0) {
            errors.add(n);
            return;
          }
          for (let i = 0; i < n; i++) {
            const cid = r.uvar();
            r.uvar(); r.uvar(); r.uvar(); // stamp
            acks.add(1);
            ackMs.add(now - Math.floor(cid / 1024));
          }
        } else if (type === 0x85 || type === 0x86) { // error, resync
          errors.add(1);
        }
      });
      socket.on('error', () => errors.add(1));
    });
  check(res, { 'upgraded (101)': (r) => r && r.status === 101 });
}
