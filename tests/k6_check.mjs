// k6_check.mjs SCRIPT WS_URL JWT_SECRET: runs the protocol half of the k6
// script infra/k6/socket-load.js under Node (k6 is not installed here)
// against a real whiteboardd: the script's own mint(), helloFrame(),
// opFrame() and reader() (its k6 imports replaced by small Node shims)
// must give a token the node accepts, a hello that is welcomed, and 40 op
// frames (rectangle creates, moves, growing strokes) that are all acked
// with status 0 and broadcast back. Exit 0 on success.
import fs from 'fs';
import nodeCrypto from 'crypto';

const [script, url, secret] = process.argv.slice(2);
const src = fs.readFileSync(script, 'utf8')
  .replace(/^import .*$/gm, '')
  .replace(/^export default function/m, 'function vuMain')
  .replace(/^export /gm, '');
const shims = {
  __ENV: { URL: url, JWT_SECRET: secret },
  __VU: 1,
  http: {},
  ws: {},
  check: () => true,
  Counter: class { add() {} },
  Trend: class { add() {} },
  encoding: { b64encode: (s) => Buffer.from(s).toString('base64url') },
  crypto: {
    hmac: (alg, key, data) =>
      nodeCrypto.createHmac(alg, key).update(data).digest('base64url'),
  },
};
const k = new Function(...Object.keys(shims),
  `${src}; return { mint, helloFrame, opFrame, reader };`)(...Object.values(shims));

const token = k.mint('k6-check');
let res;
for (let i = 0; i < 300; i++) { // 503 until the node is ready (bounded: 30 s)
  res = await fetch(`${url.replace(/^ws/, 'http')}/api/v1/boards`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{"title":"k6"}',
  });
  if (res.status !== 503) break;
  await new Promise((ok) => setTimeout(ok, 100));
}
if (res.status !== 201) {
  console.log(`FAIL: POST /api/v1/boards with the minted token: ${res.status}`);
  process.exit(1);
}
const board = (await res.json()).id;
const N = 40;
let acked = 0;
let echoed = 0;
const sock = new WebSocket(`${url}/ws`, 'wb.v1');
sock.binaryType = 'arraybuffer';
sock.onopen = () => sock.send(k.helloFrame(token, board));
sock.onmessage = (ev) => {
  const r = k.reader(ev.data);
  const type = r.u8();
  r.u8();
  if (type === 0x81) {
    // distinct client op ids (equal ones are resends: acked, not applied)
    const t = Date.now();
    for (let i = 0; i < N; i++) sock.send(k.opFrame(board, 'k6c', (t + i) * 1024 + 7, i));
  } else if (type === 0x83) {
    const status = r.uvar();
    if (status !== 0) {
      console.log(`FAIL: op refused with status ${status}`);
      process.exit(1);
    }
    acked++;
  } else if (type === 0x82) {
    r.uvar(); // seq
    r.u8(); // batch version
    r.skip(r.uvar()); // board
    echoed += r.uvar(); // ops in the batch (the node may group batches)
  } else {
    console.log(`FAIL: unexpected frame type 0x${type.toString(16)}`);
    process.exit(1);
  }
  if (acked === N && echoed === N) {
    console.log(`k6 script frames: ${acked} acked, ${echoed} broadcast`);
    process.exit(0);
  }
};
sock.onclose = (ev) => {
  console.log(`FAIL: closed ${ev.code} ${ev.reason}`);
  process.exit(1);
};
setTimeout(() => {
  console.log(`FAIL: timeout (${acked} acked, ${echoed} broadcast of ${N})`);
  process.exit(1);
}, 60000);
