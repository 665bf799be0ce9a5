// An HTTP inference server whose requests carry 1 to 32 rows: one script recorded with a symbolic
// batch (`Tensor.input('x', ['batch', 784])`), one compiled specialization per batch size (warmed at
// start-up, so no request pays for a compile), runAsync so the event loop stays free.
//
//   npx tsx examples/serve-http.ts           starts, sends requests of 1..32 rows to itself, checks
//                                            the answers against dynamic mode, prints stats, exits
//   npx tsx examples/serve-http.ts --serve   keeps serving on 127.0.0.1:$PORT (default 8080):
//     curl -s localhost:8080/predict -d '{"rows": [[0.1, ...784 numbers]]}'
//     curl -s localhost:8080/stats
import * as http from 'http';
import { AddressInfo } from 'net';
import { Builder, Script, Tensor, manualSeed } from 'hodu';

const FEATURES = 784;
const MAX_ROWS = 32;

// ---- the model: an MLP 784-256-10 with fixed weights (a real server would Script.load a file)
manualSeed(0);
const layer = (i: number, o: number) => ({ w: Tensor.randn([i, o], undefined, 0, Math.sqrt(2 / i)), b: Tensor.zeros([o]) });
const l1 = layer(FEATURES, 256);
const l2 = layer(256, 10);
const forward = (x: Tensor): Tensor => x.matmul(l1.w).add(l1.b).relu().matmul(l2.w).add(l2.b).softmax(1);

const builder = new Builder('classifier');
builder.start();
builder.addOutput('probs', forward(Tensor.input('x', ['batch', FEATURES])));
builder.end();
const script: Script = builder.build();
console.log(`inputs ${JSON.stringify(script.inputs)}, outputs ${JSON.stringify(script.outputs)}`);

// ---- warm-up: one specialization per batch size a request may have, kept compiled
let t0 = process.hrtime.bigint();
script.compile({ maxSpecializations: MAX_ROWS });
for (let n = 1; n <= MAX_ROWS; n++) script.compile({ shapes: { x: [n, FEATURES] } });
console.log(`warmed ${MAX_ROWS} batch sizes in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms: ${JSON.stringify(script.stats())}`);

// ---- the server
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) reject(new Error('request body over 1 MiB'));
      else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function predict(body: string): Promise<{ classes: number[]; probs: number[][] }> {
  const rows = (JSON.parse(body) as { rows?: unknown }).rows;
  if (!Array.isArray(rows) || rows.length < 1 || rows.length > MAX_ROWS)
    throw new Error(`"rows" must be an array of 1 to ${MAX_ROWS} rows`);
  const data = new Float32Array(rows.length * FEATURES);
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== FEATURES || r.some((v) => typeof v !== 'number'))
      throw new Error(`row ${i} must hold ${FEATURES} numbers`);
    data.set(r as number[], i * FEATURES);
  });
  // a typed array with its shape; the batch size picks the (already compiled) specialization
  const out = await script.runAsync({ x: { data, shape: [rows.length, FEATURES] } });
  const probs = out['probs'].toArray() as number[][];
  return { classes: probs.map((p) => p.indexOf(Math.max(...p))), probs };
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') return send(res, 200, script.stats());
  if (req.method !== 'POST' || req.url !== '/predict') return send(res, 404, { error: 'POST /predict or GET /stats' });
  readBody(req)
    .then(predict)
    .then((r) => send(res, 200, r))
    .catch((e: Error) => send(res, 400, { error: e.message }));
});

async function selfTest(port: number): Promise<void> {
  const sizes = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % MAX_ROWS)); // 1..32, interleaved
  let worst = 0;
  t0 = process.hrtime.bigint();
  await Promise.all(
    sizes.map(async (n, k) => {
      const x = Tensor.rand([n, FEATURES]);
      const rows = x.toArray() as number[][];
      const r = await fetch(`http://127.0.0.1:${port}/predict`, { method: 'POST', body: JSON.stringify({ rows }) });
      if (r.status !== 200) throw new Error(`request ${k}: HTTP ${r.status} ${await r.text()}`);
      const got = ((await r.json()) as { probs: number[][] }).probs.flat();
      const want = forward(x).toTypedArray() as Float32Array;
      got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[i]))));
    }),
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
  console.log(`${sizes.length} requests of 1..${MAX_ROWS} rows in ${ms.toFixed(0)} ms; max |server - dynamic| = ${worst.toExponential(2)}`);
  console.log(`stats after serving: ${JSON.stringify(stats)} (no compile while serving)`);
  const bad = await fetch(`http://127.0.0.1:${port}/predict`, { method: 'POST', body: JSON.stringify({ rows: [[1, 2]] }) });
  console.log(`a malformed request: HTTP ${bad.status} ${await bad.text()}`);
  if (worst > 1e-5) throw new Error('the server disagrees with dynamic mode');
}

const serve = process.argv.includes('--serve');
server.listen(serve ? Number(process.env.PORT ?? 8080) : 0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}`);
  if (serve) return;
  selfTest(port)
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    })
    .finally(() => server.close());
});
