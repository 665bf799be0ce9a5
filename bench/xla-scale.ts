// XLA at scale, measured: (1) compile time without the persistent compile cache, on a cache miss
// (compile + serialize + write) and on a hit (read + checksum + deserialize), for an MNIST-like
// training step, the same with 16 steps unrolled, and a CNN training step; plus the time a NEW
// PROCESS takes from start to its first result, cold and warm; (2) one MLP training step on 1 vs 2
// XLA CPU devices (SPMD).
//   node --expose-gc --import tsx bench/xla-scale.ts     (npm run bench:xla-scale)
// Prints a markdown table and writes bench/xla-scale-results.md. Exits non-zero on wrong results
// (2-device weights must equal 1-device weights).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Device, Script, Tensor, manualSeed, nn } from '../lib';
import { setXlaCache } from '../lib/xla-cache';
import { measure } from './harness';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-bench-xla-'));
const lines: string[] = [];
const out = (s: string): void => {
  console.log(s);
  lines.push(s);
};

function det(n: number, seed: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
}

/** MNIST-like MLP training: 784 -> hidden -> 10, cross-entropy, SGD, `steps` recorded steps. */
export function mnistStep(batch: number, hidden: number, steps: number): Script {
  manualSeed(3);
  const l1 = new nn.Linear(784, hidden);
  const l2 = new nn.Linear(hidden, 10);
  const params = [...l1.parameters(), ...l2.parameters()];
  const opt = new nn.SGD(0.05);
  const ce = new nn.CrossEntropy();
  const b = new Builder(`mnist_mlp_${batch}_${hidden}_x${steps}`);
  b.start();
  const x = Tensor.input('x', [batch, 784]);
  const t = Tensor.input('t', [batch], DType.I64);
  let loss!: Tensor;
  for (let k = 0; k < steps; k++) {
    loss = ce.forward([l2.forward(l1.forward(x).relu()), t]);
    loss.backward();
    opt.step(params);
    opt.zeroGrad(params);
  }
  b.addOutput('loss', loss);
  params.forEach((p, i) => b.addOutput(`p${i}`, p));
  b.end();
  const s = b.build();
  s.addInput('x', Tensor.fromArray(det(batch * 784, 1), [batch, 784]));
  s.addInput('t', Tensor.fromArray(Array.from({ length: batch }, (_, i) => (i * 7) % 10), [batch], DType.I64));
  return s;
}

/** A small CNN training step on 28x28: conv-relu-pool-conv-relu-pool-linear, cross-entropy, SGD. */
function cnnStep(batch: number): Script {
  manualSeed(4);
  const c1 = new nn.Conv2d(1, 8, 3, { padding: 1 });
  const c2 = new nn.Conv2d(8, 16, 3, { padding: 1 });
  const fc = new nn.Linear(16 * 7 * 7, 10);
  const params = [...c1.parameters(), ...c2.parameters(), ...fc.parameters()];
  const opt = new nn.SGD(0.05);
  const ce = new nn.CrossEntropy();
  const b = new Builder(`cnn_step_${batch}`);
  b.start();
  const x = Tensor.input('x', [batch, 1, 28, 28]);
  const t = Tensor.input('t', [batch], DType.I64);
  const h = c2.forward(c1.forward(x).relu().maxPool2d({ kernel: 2 })).relu().maxPool2d({ kernel: 2 }).flatten(1);
  const loss = ce.forward([fc.forward(h), t]);
  loss.backward();
  opt.step(params);
  b.addOutput('loss', loss);
  params.forEach((p, i) => b.addOutput(`p${i}`, p));
  b.end();
  const s = b.build();
  s.addInput('x', Tensor.fromArray(det(batch * 784, 2), [batch, 1, 28, 28]));
  s.addInput('t', Tensor.fromArray(Array.from({ length: batch }, (_, i) => (i * 3) % 10), [batch], DType.I64));
  return s;
}

function compileMs(make: () => Script, opts: { cache?: boolean; rollLoops?: boolean }): { ms: number; cache: string } {
  const s = make().setBackend(Backend.XLA);
  const t0 = process.hrtime.bigint();
  s.compile(opts);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, cache: (s.planInfo() as unknown as { cache: string }).cache };
}

function childFirstResult(model: string, cacheRoot: string): number {
  const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', model], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, HODU_CACHE_DIR: cacheRoot },
  });
  const m = /^first-result-ms (\S+)$/m.exec(r.stdout ?? '');
  if (!m) throw new Error(`child failed: ${r.stderr}`);
  return Number(m[1]);
}

const models: Record<string, { make: () => Script; rollLoops?: boolean }> = {
  'MNIST MLP step (784-128-10, batch 64)': { make: () => mnistStep(64, 128, 1) },
  'MNIST MLP, 16 steps unrolled (rollLoops: false)': { make: () => mnistStep(64, 128, 16), rollLoops: false },
  'CNN training step (2 conv + fc, 28x28, batch 32)': { make: () => cnnStep(32) },
};

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const t0 = Date.now() - process.uptime() * 1000;  // process start
    const m = models[process.argv[3]];
    const s = m.make().setBackend(Backend.XLA);
    s.compile({ rollLoops: m.rollLoops });
    s.run();
    console.log(`first-result-ms ${Date.now() - t0}`);
    return;
  }
  // the plugin is found before HODU_CACHE_DIR points elsewhere (it is also where deps.js puts it)
  const { findPjrtPlugin } = await import('../lib/xla');
  const plugin = findPjrtPlugin('cpu').path;
  if (!plugin) throw new Error('no PJRT CPU plugin (node scripts/deps.js --pjrt)');
  process.env.HODU_PJRT_PLUGIN_CPU = plugin;
  process.env.HODU_CACHE_DIR = root;
  out(`XLA compile cache and multi-device rows, ${new Date().toISOString()}, ${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ''}, load ${os.loadavg()[0].toFixed(1)}, PJRT_NPROC=${process.env.PJRT_NPROC ?? '(unset: all cores)'}`);
  out('');
  out('| program | no cache: compile | cache miss: compile + store | cache hit: load | new process to first result, cold / warm cache | entry size |');
  out('|---|---|---|---|---|---|');
  compileMs(() => mnistStep(8, 8, 1), { cache: false });  // plugin load and client creation, not timed below
  for (const [name, m] of Object.entries(models)) {
    const off = compileMs(m.make, { cache: false, rollLoops: m.rollLoops });
    const dir = fs.mkdtempSync(path.join(root, 'run-'));
    setXlaCache({ dir });
    const miss = compileMs(m.make, { rollLoops: m.rollLoops });
    const hits = [0, 1, 2].map(() => compileMs(m.make, { rollLoops: m.rollLoops }));
    setXlaCache(undefined);
    if (miss.cache !== 'miss' || hits.some((h) => h.cache !== 'hit')) throw new Error(`${name}: expected miss then hits`);
    const hit = hits.map((h) => h.ms).sort((a, b) => a - b)[1];
    const size = fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
    const procRoot = fs.mkdtempSync(path.join(root, 'proc-'));
    const cold = childFirstResult(name, procRoot);
    const warm = childFirstResult(name, procRoot);
    out(`| ${name} | ${off.ms.toFixed(0)} ms | ${miss.ms.toFixed(0)} ms | **${hit.toFixed(1)} ms** | ${cold.toFixed(0)} ms / **${warm.toFixed(0)} ms** | ${(size / 1024).toFixed(0)} KiB |`);
  }
  out('');
  out('| MLP training step (784-256-10, batch 256, SGD), per run() | 1 device | 2 CPU devices (SPMD) | max weight difference |');
  out('|---|---|---|---|');
  for (const steps of [1, 10]) {
    const one = mnistStep(256, 256, steps).setBackend(Backend.XLA);
    const two = mnistStep(256, 256, steps).setBackend(Backend.XLA).setDevices([Device.cpu(0), Device.cpu(1)]);
    const a = one.run();
    const b = two.run();
    let diff = 0;
    for (const k of Object.keys(a)) {
      const x = a[k].toTypedArray() as Float32Array;
      const y = b[k].toTypedArray() as Float32Array;
      for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    if (!(diff < 1e-4)) throw new Error(`2-device weights differ from 1-device weights by ${diff}`);
    const t1 = measure(() => one.run(), { minTime: 2, warmup: 3 });
    const t2 = measure(() => two.run(), { minTime: 2, warmup: 3 });
    const f = (t: { median: number; min: number; max: number }) => `${(t.median * 1e3).toFixed(2)} ms (${(t.min * 1e3).toFixed(2)}–${(t.max * 1e3).toFixed(2)})`;
    out(`| ${steps === 1 ? '1 step' : `${steps} steps (one rolled loop)`} | ${f(t1)} | ${f(t2)} | ${diff.toExponential(1)} |`);
  }
  fs.writeFileSync(path.join(__dirname, 'xla-scale-results.md'), lines.join('\n') + '\n');
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    if (process.argv[2] !== '--child') fs.rmSync(root, { recursive: true, force: true });
  });
