// XLA per-run overhead through the public API, against the raw PJRT numbers of
// research/xla-workloads.md and research/pjrt-probe.md (same machine, C++ straight on the C API):
//   one-add      f32[4] + f32[4], both inputs fed per run       (raw round trip 12-19 µs)
//   mlp b1       784-512-512-10 + softmax, x fed per run, weights as constants (Tensor.fromArray
//                captured by the builder)                       (raw round trip 77 µs, execute 45 µs)
// Variants run interleaved in one process (A, B, A, B, ...), median and min of each round's mean.
// --raw BIN: also runs bench/xla-raw-pjrt.cc (built to BIN) on the same StableHLO after each round,
// for a same-moment raw reference (the machine may be loaded). Caveat: the raw binary is a fresh,
// short process each round; on a loaded machine that favours it (in one session its one-add round
// trip read 29 µs over 0.4 s and 82 µs over 4 s). Its last column, the calling thread's CPU time
// per round trip, is the steadier comparison.
// Run: node --expose-gc --import tsx bench/xla-overhead.ts [--rounds 15] [--reps 300] [--raw /tmp/xla-raw-pjrt]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, Script, Tensor, manualSeed } from '../lib';
import { findPjrtPlugin } from '../lib/xla';

const args = process.argv.slice(2);
const arg = (n: string, d: number) => (args.includes(`--${n}`) ? Number(args[args.indexOf(`--${n}`) + 1]) : d);
const ROUNDS = arg('rounds', 15);
const REPS = arg('reps', 300);
const RAW = args.includes('--raw') ? args[args.indexOf('--raw') + 1] : null;

function oneAdd(): { s: Script; feed: () => void } {
  const b = new Builder('one_add').start();
  const a = Tensor.input('a', [4]);
  const c = Tensor.input('c', [4]);
  b.addOutput('y', a.add(c));
  const s = b.build().setBackend(Backend.XLA);
  const x = Tensor.fromArray(new Float32Array([1, 2, 3, 4]), [4]);
  const y = Tensor.fromArray(new Float32Array([5, 6, 7, 8]), [4]);
  s.addInput('a', x).addInput('c', y);
  return { s, feed: () => s.run() };
}

function rand(n: number, scale: number): Float32Array {
  const r = new Float32Array(n);
  let z = 12345;
  for (let i = 0; i < n; i++) {
    z = (z * 1103515245 + 12345) >>> 0;
    r[i] = ((z / 2 ** 32) * 2 - 1) * scale;
  }
  return r;
}

function mlp(): { s: Script; feed: () => void } {
  manualSeed(1);
  const dims = [784, 512, 512, 10];
  const b = new Builder('mlp_b1').start();
  let h = Tensor.input('x', [1, 784]);
  for (let l = 0; l < 3; l++) {
    const W = Tensor.fromArray(rand(dims[l] * dims[l + 1], 1 / Math.sqrt(dims[l])), [dims[l], dims[l + 1]]);
    const bias = Tensor.fromArray(rand(dims[l + 1], 0.1), [dims[l + 1]]);
    h = h.matmul(W).add(bias);
    h = l < 2 ? h.relu() : h.softmax(-1);
  }
  b.addOutput('p', h);
  const s = b.build().setBackend(Backend.XLA);
  s.addInput('x', Tensor.fromArray(rand(784, 1), [1, 784]));
  return { s, feed: () => s.run() };
}

const now = () => Number(process.hrtime.bigint()) / 1e3;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function main(): void {
  const cases = [
    { name: 'one-add (2 inputs f32[4])', raw: '12-19 µs round trip (pjrt-probe)', ...oneAdd() },
    { name: 'mlp b1 (weights constant)', raw: '77 µs round trip, 45 µs execute (xla-workloads)', ...mlp() },
  ];
  for (const c of cases) {
    c.s.compile();
    for (let i = 0; i < 50; i++) c.feed();
  }
  const per: number[][] = cases.map(() => []);
  const raw: number[][][] = cases.map(() => [[], []]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-xla-overhead-'));
  const files = cases.map((c, i) => {
    const f = path.join(dir, `${i}.mlir`);
    fs.writeFileSync(f, c.s.asText('stablehlo'));
    return `${f}:${c.s.inputs.length}`;
  });
  for (let r = 0; r < ROUNDS; r++) {
    cases.forEach((c, i) => {
      const t0 = now();
      for (let k = 0; k < REPS; k++) c.feed();
      per[i].push((now() - t0) / REPS);
    });
    if (RAW) {
      const p = spawnSync(RAW, [findPjrtPlugin('cpu').path!, ...files], { encoding: 'utf8', env: { ...process.env, RAW_SECONDS: '0.3' } });
      if (p.status !== 0) throw new Error(`${RAW} failed: ${p.stderr}`);
      p.stdout.trim().split('\n').forEach((l, i) => {
        const [, rt, ex] = l.split(' ');
        raw[i][0].push(Number(rt));
        raw[i][1].push(Number(ex));
      });
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`XLA per-run overhead, ${ROUNDS} interleaved rounds of ${REPS} runs (PJRT_NPROC=${process.env.PJRT_NPROC ?? 'unset'})`);
  cases.forEach((c, i) =>
    console.log(
      `${c.name.padEnd(28)} median ${median(per[i]).toFixed(1).padStart(6)} µs  min ${Math.min(...per[i]).toFixed(1).padStart(6)} µs` +
        (RAW
          ? `   raw now: round trip ${median(raw[i][0]).toFixed(1)} µs (min ${Math.min(...raw[i][0]).toFixed(1)}), execute ${median(raw[i][1]).toFixed(1)} µs; hodu / raw ${(median(per[i]) / median(raw[i][0])).toFixed(2)}x`
          : `   raw (research): ${c.raw}`),
    ),
  );
}

main();
