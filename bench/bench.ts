// `npm run bench`: the SPEC §4 workloads on hodu (dynamic mode and HODU scripts), next to the
// machine's measured roofline. Results are checked for equality before timing; the process exits
// non-zero only on wrong results. Writes bench/results.md.
import * as fs from 'fs';
import * as path from 'path';
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn, versions, _native } from 'hodu';
import { Timing, fmtTime, maxRelDiff, measure } from './harness';
import { cnnForward, cnnWeights, elementwise, mlpForward, mlpWeights, script } from './models';

interface Row {
  workload: string;
  variant: string;
  t: Timing;
  extra?: string;
}

const rows: Row[] = [];
let wrong = 0;
const quick = process.argv.includes('--quick');
const minTime = quick ? 0.2 : 1.0;

function check(what: string, got: Tensor, want: Tensor, tol = 1e-4): void {
  const d = maxRelDiff(got.toTypedArray() as Float32Array, want.toTypedArray() as Float32Array);
  if (!(d <= tol)) {
    wrong++;
    console.error(`WRONG RESULT: ${what}: max relative difference ${d} > ${tol}`);
  }
}

function row(workload: string, variant: string, fn: () => unknown, extra?: (t: Timing) => string, maxReps?: number): void {
  const t = measure(fn, { minTime, maxReps });
  rows.push({ workload, variant, t, extra: extra?.(t) });
  console.log(`  ${workload.padEnd(16)} ${variant.padEnd(18)} ${fmtTime(t.median).padStart(11)}  ${extra ? extra(t) : ''}`);
}

/** The same script on the XLA backend (compiled now), or null when no PJRT plugin is available. */
function onXla(s: Script, inputs: Record<string, Tensor>): Script | null {
  try {
    const x = Script.fromBytes(s.toBytes()).setBackend(Backend.XLA);
    for (const [k, v] of Object.entries(inputs)) x.addInput(k, v);
    const t0 = process.hrtime.bigint();
    x.compile();
    xlaCompile.push(`${s.name} ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
    return x;
  } catch (e) {
    if (!xlaMissing) console.log(`  (XLA rows skipped: ${(e as Error).message.split('\n')[0]})`);
    xlaMissing = true;
    return null;
  }
}
let xlaMissing = false;
let trainCompile = '';
const xlaCompile: string[] = [];

function main(): void {
  manualSeed(1234);
  const v = versions();
  console.log(`hodu ${v.hodu}, oneDNN ${v.onednn}, ${v.threads} threads, node ${process.version}`);
  const roof = (_native as unknown as { roofline(n: number): { peakGflops: number; bandwidthGBs: number } }).roofline(v.threads);
  console.log(`roofline: fp32 peak ${roof.peakGflops.toFixed(0)} GFLOP/s, triad bandwidth ${roof.bandwidthGBs.toFixed(1)} GB/s\n`);

  // matmul 1024^3
  {
    const a = Tensor.randn([1024, 1024]);
    const b = Tensor.randn([1024, 1024]);
    const s = script('matmul', { a: [1024, 1024], b: [1024, 1024] }, (i) => i.a.matmul(i.b));
    s.addInput('a', a).addInput('b', b);
    check('matmul script vs dynamic', s.run().y, a.matmul(b), 1e-5);
    const gf = (t: Timing) => `${((2 * 1024 ** 3) / t.median / 1e9).toFixed(0)} GFLOP/s (${((2 * 1024 ** 3) / t.median / 1e9 / roof.peakGflops * 100).toFixed(0)}% of peak)`;
    row('matmul_1024', 'hodu dynamic', () => a.matmul(b).toTypedArray(), gf, 200);
    row('matmul_1024', 'hodu script', () => s.run().y.toTypedArray(), gf, 200);
    const x = onXla(s, { a, b });
    if (x) {
      check('matmul xla vs hodu', x.run().y, s.run().y, 1e-4);
      row('matmul_1024', 'xla script', () => x.run().y.toTypedArray(), gf, 200);
    }
  }

  // elementwise chain on 2^20 floats
  {
    const n = 1 << 20;
    const x = Tensor.randn([n]);
    const s = script('elementwise', { x: [n] }, (i) => elementwise(i.x));
    s.addInput('x', x);
    check('elementwise script vs dynamic', s.run().y, elementwise(x), 1e-5);
    const bw = (t: Timing) => `${((8 * n) / t.median / 1e9).toFixed(1)} GB/s of 8 MB moved (floor ${(((8 * n) / roof.bandwidthGBs / 1e3)).toFixed(0)} µs)`;
    row('elementwise_1M', 'hodu dynamic', () => elementwise(x).toTypedArray(), bw);
    row('elementwise_1M', 'hodu script', () => s.run().y.toTypedArray(), bw);
    const xs = onXla(s, { x });
    if (xs) {
      check('elementwise xla vs hodu', xs.run().y, s.run().y, 1e-5);
      row('elementwise_1M', 'xla script', () => xs.run().y.toTypedArray(), bw);
    }
  }

  // MLP
  const mlp = mlpWeights();
  for (const batch of [1, 64]) {
    const x = Tensor.randn([batch, 784]);
    const s = script(`mlp_b${batch}`, { x: [batch, 784] }, (i) => mlpForward(mlp, i.x));
    s.addInput('x', x);
    check(`mlp b${batch} script vs dynamic`, s.run().y, mlpForward(mlp, x));
    row(`mlp_b${batch}`, 'hodu dynamic', () => mlpForward(mlp, x).toTypedArray());
    row(`mlp_b${batch}`, 'hodu script', () => s.run().y.toTypedArray());
    const xs = onXla(s, { x });
    if (xs) {
      check(`mlp b${batch} xla vs hodu`, xs.run().y, s.run().y);
      row(`mlp_b${batch}`, 'xla script', () => xs.run().y.toTypedArray());
    }
  }

  // CNN
  const cnn = cnnWeights();
  for (const batch of [1, 32]) {
    const x = Tensor.randn([batch, 1, 28, 28]);
    const s = script(`cnn_b${batch}`, { x: [batch, 1, 28, 28] }, (i) => cnnForward(cnn, i.x));
    s.addInput('x', x);
    check(`cnn b${batch} script vs dynamic`, s.run().y, cnnForward(cnn, x));
    row(`cnn_b${batch}`, 'hodu dynamic', () => cnnForward(cnn, x).toTypedArray());
    row(`cnn_b${batch}`, 'hodu script', () => s.run().y.toTypedArray());
    const xs = onXla(s, { x });
    if (xs) {
      check(`cnn b${batch} xla vs hodu`, xs.run().y, s.run().y);
      row(`cnn_b${batch}`, 'xla script', () => xs.run().y.toTypedArray());
    }
  }

  // per-call overhead: add of two [4] tensors
  {
    const a = Tensor.fromArray([1, 2, 3, 4]);
    const b = Tensor.fromArray([5, 6, 7, 8]);
    const s = script('add_4', { a: [4], b: [4] }, (i) => i.a.add(i.b));
    s.addInput('a', a).addInput('b', b);
    check('add script', s.run().y, Tensor.fromArray([6, 8, 10, 12]), 0);
    row('add_4', 'hodu dynamic', () => a.add(b).toTypedArray());
    row('add_4', 'hodu script', () => s.addInput('a', a).addInput('b', b).run().y.toTypedArray());
    const xs = onXla(s, { a, b });
    if (xs) row('add_4', 'xla script', () => xs.addInput('a', a).addInput('b', b).run().y.toTypedArray());
  }

  // one SGD step of the MLP (batch 64, mean cross-entropy on logits, lr 0.01)
  {
    const names = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'] as const;
    const init = mlpWeights();
    const x = Tensor.randn([64, 784]);
    const labels = Tensor.fromArray(Array.from({ length: 64 }, (_, i) => i % 10), undefined, DType.I32);
    const ce = new nn.CrossEntropy();
    const logits = (m: Record<string, Tensor>, xx: Tensor) =>
      xx.matmul(m.w1).add(m.b1).relu().matmul(m.w2).add(m.b2).relu().matmul(m.w3).add(m.b3);
    // dynamic: parameters updated in place
    const dyn: Record<string, Tensor> = {};
    for (const k of names) dyn[k] = Tensor.fromArray(init[k].toTypedArray() as Float32Array, init[k].shape).setRequiresGrad(true);
    const sgd = new nn.SGD(0.01);
    const dynStep = () => {
      const loss = ce.forward([logits(dyn, x), labels]);
      loss.backward();
      sgd.step(Object.values(dyn));
      sgd.zeroGrad(Object.values(dyn));
      return loss.item();
    };
    // script: weights are inputs, the updated weights outputs, fed back each step
    const b = new Builder('train_step_mlp_b64');
    b.start();
    const sym: Record<string, Tensor> = {};
    for (const k of names) sym[k] = Tensor.input(k, init[k].shape).setRequiresGrad(true);
    const xs = Tensor.input('x', [64, 784]);
    const ys = Tensor.input('y', [64], DType.I32);
    const loss = ce.forward([logits(sym, xs), ys]);
    loss.backward();
    new nn.SGD(0.01).step(Object.values(sym));
    b.addOutput('loss', loss);
    for (const k of names) b.addOutput(k, sym[k]);
    b.end();
    const step = b.build();
    const state: Record<string, Tensor> = {};
    for (const k of names) state[k] = init[k];
    const scriptStep = (sc: Script, st: Record<string, Tensor>) => () => {
      sc.addInput('x', x).addInput('y', labels);
      for (const k of names) sc.addInput(k, st[k]);
      const out = sc.run();
      for (const k of names) st[k] = out[k];
      return out.loss;
    };
    const first = scriptStep(step, state)().item();
    const dynFirst = dynStep();
    if (!(Math.abs(first - dynFirst) <= 1e-4 * (1 + Math.abs(dynFirst)))) {
      wrong++;
      console.error(`WRONG RESULT: train step script loss ${first} vs dynamic ${dynFirst}`);
    }
    row('train_step_mlp_b64', 'hodu dynamic', dynStep);
    row('train_step_mlp_b64', 'hodu script', scriptStep(step, state));
    const xstate: Record<string, Tensor> = { ...state };
    const xs2 = onXla(step, { x, y: labels, ...xstate });
    if (xs2) row('train_step_mlp_b64', 'xla script', scriptStep(xs2, xstate));
  }

  // compile time of the seed's 1000-epoch training script (Linear(3,1) + MSE + SGD, unrolled)
  {
    const N = 10000;
    const model = new nn.Linear(3, 1);
    const mse = new nn.MSE();
    const opt = new nn.SGD(0.01);
    const t0 = process.hrtime.bigint();
    const b = new Builder('seed_train_1000');
    b.start();
    const xi = Tensor.input('input', [N, 3]);
    const yi = Tensor.input('target', [N, 1]);
    let last!: Tensor;
    for (let e = 0; e < 1000; e++) {
      last = mse.forward([model.forward(xi), yi]);
      last.backward();
      opt.step(model.parameters());
      opt.zeroGrad(model.parameters());
    }
    b.addOutput('loss', last);
    b.end();
    const train = b.build();
    const recordMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const compileOn = (backend: Backend): string => {
      try {
        const sc = Script.fromBytes(train.toBytes()).setBackend(backend);
        const c0 = process.hrtime.bigint();
        sc.compile();
        return `${(Number(process.hrtime.bigint() - c0) / 1e6).toFixed(0)} ms`;
      } catch (e) {
        return `unavailable (${(e as Error).message.split('\n')[0].slice(0, 60)})`;
      }
    };
    const hodu = compileOn(Backend.HODU);
    const xla = quick ? 'skipped (--quick)' : compileOn(Backend.XLA);
    trainCompile = `recorded in ${recordMs.toFixed(0)} ms; compile on HODU ${hodu}, on XLA ${xla}`;
    console.log(`  seed training script, 1000 epochs unrolled: ${trainCompile}`);
  }

  writeResults(v, roof);
  if (wrong) {
    console.error(`${wrong} workload(s) gave wrong results`);
    process.exit(1);
  }
}

function writeResults(v: { hodu: string; onednn: string; threads: number }, roof: { peakGflops: number; bandwidthGBs: number }): void {
  const lines = [
    '# Benchmark results',
    '',
    `Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: hodu ${v.hodu}, oneDNN ${v.onednn}, ${v.threads} threads, node ${process.version}.`,
    `Measured roofline: fp32 peak ${roof.peakGflops.toFixed(0)} GFLOP/s, triad bandwidth ${roof.bandwidthGBs.toFixed(1)} GB/s.`,
    'Each timed call includes producing the output as a typed array. Median of N calls after warm-up (min / max).',
    xlaCompile.length ? `XLA compile times: ${xlaCompile.join(', ')}.` : 'XLA rows: no PJRT plugin was available.',
    `Seed training script (1000 epochs unrolled): ${trainCompile}.`,
    '',
    '| workload | variant | median | min / max | N | notes |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.workload} | ${r.variant} | **${fmtTime(r.t.median)}** | ${fmtTime(r.t.min)} / ${fmtTime(r.t.max)} | ${r.t.n} | ${r.extra ?? ''} |`),
    '',
  ];
  const out = path.join(__dirname, quick ? 'results-quick.md' : 'results.md');
  fs.writeFileSync(out, lines.join('\n'));
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

main();
