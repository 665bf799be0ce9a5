// `npm run bench`: the SPEC §4 workloads on hodu (dynamic mode, HODU scripts, XLA scripts) and on
// the peers a Node user would pick instead: onnxruntime-node (CPU EP, 1 and 2 intra-op threads)
// and TensorFlow.js (cpu and wasm backends), all fed the same weights and inputs, next to the
// machine's measured roofline. Every peer's output is checked against hodu's before it is timed;
// the process exits non-zero only on wrong results. Writes bench/results.md and bench/results.svg
// (with --quick: bench/out/results-quick.{md,svg}).
import { mnistStepRows, mnistStepTfjsRows } from './mnist-step';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn, versions, _native } from 'hodu';
import { ChartGroup, renderChart } from './chart';
import { Timing, Variant, fmtTime, interleaved, maxRelDiff, measure } from './harness';
import { cnnForward, cnnWeights, elementwise, mlpForward, mlpWeights, script } from './models';
import { CnnWeights, MLP_PARAMS, MlpWeights, Peer, Runner, TrainRunner } from './peers/types';
import { WHY } from './why';
import { symbolicBatchRows } from './shapes';

interface Row {
  workload: string;
  variant: string;
  t?: Timing;
  extra?: string;
  failed?: string; // why there is no timing
}

const rows: Row[] = [];
const notes: string[] = [];
let wrong = 0;
const quick = process.argv.includes('--quick');
const loadAtStart = os.loadavg()[0];
const minTime = quick ? 0.2 : 1.0;
/** Interleaved timing of each workload's variants: rounds × slices (bench/harness.ts). */
const ROUNDS = quick ? 3 : 7;
const SLICE = quick ? 0.05 : 0.15;
/** `--only=matmul,add_4`: run just the workloads whose names start with one of these. */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',').filter(Boolean);
const want = (workload: string): boolean => !only || only.some((o) => workload.startsWith(o));
const MATMUL_FLOPS = 2 * 1024 ** 3;
const EW_N = 1 << 20;
const EW_BYTES = 8 * EW_N; // read x, write y

function check(what: string, got: Tensor, want: Tensor, tol = 1e-4): void {
  const d = maxRelDiff(got.toTypedArray() as Float32Array, want.toTypedArray() as Float32Array);
  if (!(d <= tol)) {
    wrong++;
    console.error(`WRONG RESULT: ${what}: max relative difference ${d} > ${tol}`);
  }
}

function log(r: Row): void {
  const time = r.t ? `${fmtTime(r.t.median)} (min ${fmtTime(r.t.min)})` : r.failed ?? '';
  console.log(`  ${r.workload.padEnd(18)} ${r.variant.padEnd(14)} ${time.padStart(24)}  ${r.extra ?? ''}`);
}

/** One variant timed alone (rows of bench/mnist-step.ts: no competitor to interleave with). */
function row(workload: string, variant: string, fn: () => unknown, extra?: (t: Timing) => string, maxReps?: number): void {
  const t = measure(fn, { minTime, maxReps });
  const r: Row = { workload, variant, t, extra: extra?.(t) };
  rows.push(r);
  log(r);
}

/** A variant of a workload waiting to be timed: its call, a note for its row, its clean-up. */
interface Entry {
  variant: Variant;
  note?: string;
  dispose?: () => Promise<void>;
}

/** A hodu variant: `run` makes its inputs from typed arrays, runs, and reads the output. */
const hodu = (name: string, run: () => unknown): Entry => ({ variant: { name, run } });

/**
 * Times a workload's variants interleaved (bench/harness.ts `interleaved`), adds their rows, then
 * disposes the peers' sessions.
 */
async function timeWorkload(workload: string, entries: Entry[], extra?: (t: Timing) => string): Promise<void> {
  try {
    const ts = await interleaved(entries.map((e) => e.variant), { rounds: ROUNDS, slice: SLICE });
    entries.forEach((e, i) => {
      const t = ts[i];
      if (t.error !== undefined) {
        // a peer that fails is a missing row; a hodu variant that fails is a wrong result
        if (!peers.some((p) => p.name === e.variant.name)) wrong++;
        console.error(`FAILED: ${workload} ${e.variant.name}: ${t.error}`);
        if (t.n === 0) return peerFailed(workload, e.variant.name, `failed: ${t.error}`);
      }
      const x = [extra?.(t), e.note, t.error !== undefined ? `failed after ${t.n} calls: ${t.error}` : undefined].filter(Boolean).join('; ');
      const r: Row = { workload, variant: e.variant.name, t, extra: x || undefined };
      rows.push(r);
      log(r);
    });
  } finally {
    for (const e of entries) await e.dispose?.();
  }
}

/** A copy of a tensor's data as a Float32Array (the peers' inputs and the reference outputs). */
const f32 = (t: Tensor): Float32Array => Float32Array.from(t.toTypedArray() as Float32Array);

/** The same script on the XLA backend (compiled now), or null when no PJRT plugin is available. */
function onXla(s: Script, inputs: Record<string, Tensor>): Script | null {
  try {
    const x = Script.fromBytes(s.toBytes()).setBackend(Backend.XLA);
    for (const [k, v] of Object.entries(inputs)) x.addInput(k, v);
    const t0 = process.hrtime.bigint();
    x.compile({ cache: false });  // the compile itself (warm-cache loads: bench/xla-scale.ts)
    xlaCompile.push(`${s.name} ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
    return x;
  } catch (e) {
    if (!xlaMissing) console.log(`  (XLA rows skipped: ${(e as Error).message.split('\n')[0]})`);
    xlaMissing = true;
    return null;
  }
}
let xlaMissing = false;
const loopRows: string[] = [];
const xlaCompile: string[] = [];

// ------------------------------------------------------------------ peers

const peers: Peer[] = [];
const peerVersions: string[] = [];

/** onnxruntime-node and tfjs, when installed (they are devDependencies). */
async function loadPeers(): Promise<void> {
  try {
    const { OrtPeer, ortVersion } = await import('./peers/ort');
    peers.push(new OrtPeer(1), new OrtPeer(2));
    peerVersions.push(`onnxruntime-node ${ortVersion()}`);
  } catch (e) {
    notes.push(`onnxruntime-node rows skipped: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    const { TfjsPeer, tfjsVersion } = await import('./peers/tfjs');
    await TfjsPeer.init();
    // tfjs-cpu is pure JS, 100-300x slower than the others: cap its calls so the whole bench
    // stays within minutes (its median then rests on few calls; see N).
    const cpuCaps = quick
      ? { matmul_1024: 1, cnn_b32: 1, mlp_b64: 3, cnn_b1: 5, elementwise_1M: 3, train_step_mlp_b64: 2 }
      : { matmul_1024: 3, cnn_b32: 5, mlp_b64: 15, cnn_b1: 30, elementwise_1M: 10, train_step_mlp_b64: 5 };
    peers.push(new TfjsPeer('wasm'), new TfjsPeer('cpu', cpuCaps));
    peerVersions.push(`@tensorflow/tfjs ${tfjsVersion()} (cpu, wasm)`);
  } catch (e) {
    notes.push(`TensorFlow.js rows skipped: ${(e as Error).message.split('\n')[0]}`);
  }
  for (const n of notes) console.log(`  (${n})`);
}

function peerFailed(workload: string, variant: string, why: string): void {
  const r: Row = { workload, variant, failed: why };
  rows.push(r);
  log(r);
}

/**
 * Builds the workload on every peer and checks its first output against hodu's (`want`, relative
 * tolerance as in `check`; `alsoCheck` adds a difference of the runner's state after that run).
 * A mismatch is a WRONG RESULT and is not timed; the rest come back as entries to time.
 */
async function peerEntries(
  workload: string,
  want: Float32Array,
  tol: number,
  make: (p: Peer) => Promise<Runner>,
  alsoCheck?: (r: Runner) => number,
): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const p of peers) {
    let r: Runner;
    try {
      r = await make(p);
    } catch (e) {
      peerFailed(workload, p.name, `failed: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    await r.activate();
    const got = await r.run();
    // alsoCheck: a further relative difference after the first run (the train step's parameters).
    const d = Math.max(maxRelDiff(got, want), alsoCheck ? alsoCheck(r) : 0);
    if (!(d <= tol)) {
      wrong++;
      console.error(`WRONG RESULT: ${workload} ${p.name} vs hodu: max relative difference ${d} > ${tol}`);
      peerFailed(workload, p.name, `WRONG RESULT (max rel. diff ${d.toExponential(1)})`);
      await r.dispose();
      continue;
    }
    const runner = r;
    out.push({
      variant: { name: p.name, run: () => runner.run(), activate: () => runner.activate(), maxCalls: p.maxReps?.[workload] },
      note: `max rel. diff vs hodu ${d.toExponential(1)}`,
      dispose: () => runner.dispose(),
    });
  }
  return out;
}

// ------------------------------------------------------------------ workloads
//
// Every hodu variant is timed the way users call it: the inputs come from JS typed arrays on every
// call (`Tensor.fromArray(f32, shape)` in dynamic mode, `script.run({ x: f32 })` for scripts) and
// the output is read back (`toTypedArray()`), as the peers' calls wrap typed arrays
// (`new ort.Tensor`, `tf.tensor`) and read `.data` / `dataSync()`.

async function main(): Promise<void> {
  manualSeed(1234);
  const v = versions();
  console.log(`hodu ${v.hodu}, oneDNN ${v.onednn}, ${v.threads} threads, node ${process.version}`);
  const measureRoof = (): Roof => (_native as unknown as { roofline(n: number): Roof }).roofline(v.threads);
  const roofStart = measureRoof();
  console.log(`roofline: fp32 peak ${roofStart.peakGflops.toFixed(0)} GFLOP/s, triad bandwidth ${roofStart.bandwidthGBs.toFixed(1)} GB/s`);
  await loadPeers();
  console.log(`peers: ${peers.map((p) => p.name).join(', ') || 'none'}`);
  console.log(`timing: ${ROUNDS} interleaved rounds of ~${SLICE * 1000} ms per variant; median (min) over all calls\n`);

  // matmul 1024^3, both operands inputs
  if (want('matmul_1024')) {
    const a = Tensor.randn([1024, 1024]);
    const b = Tensor.randn([1024, 1024]);
    const [aa, bb] = [f32(a), f32(b)];
    const s = script('matmul', { a: [1024, 1024], b: [1024, 1024] }, (i) => i.a.matmul(i.b));
    check('matmul script vs dynamic', s.run({ a: aa, b: bb }).y, a.matmul(b), 1e-5);
    const gf = (t: Timing) => `${(MATMUL_FLOPS / t.median / 1e9).toFixed(0)} GFLOP/s (best ${(MATMUL_FLOPS / t.min / 1e9).toFixed(0)})`;
    const sh = [1024, 1024];
    const entries = [
      hodu('hodu dynamic', () => Tensor.fromArray(aa, sh).matmul(Tensor.fromArray(bb, sh)).toTypedArray()),
      hodu('hodu script', () => s.run({ a: aa, b: bb }).y.toTypedArray()),
    ];
    const x = onXla(s, { a, b });
    if (x) {
      check('matmul xla vs hodu', x.run({ a: aa, b: bb }).y, s.run({ a: aa, b: bb }).y, 1e-4);
      entries.push(hodu('xla script', () => x.run({ a: aa, b: bb }).y.toTypedArray()));
    }
    entries.push(...(await peerEntries('matmul_1024', f32(s.run({ a: aa, b: bb }).y), 1e-4, (p) => p.matmul(aa, bb, 1024))));
    await timeWorkload('matmul_1024', entries, gf);
  }

  // elementwise chain on 2^20 floats
  if (want('elementwise_1M')) {
    const x = Tensor.randn([EW_N]);
    const xx = f32(x);
    const s = script('elementwise', { x: [EW_N] }, (i) => elementwise(i.x));
    check('elementwise script vs dynamic', s.run({ x: xx }).y, elementwise(x), 1e-5);
    const bw = (t: Timing) => `${(EW_BYTES / t.median / 1e9).toFixed(1)} GB/s of 8 MB moved`;
    const entries = [
      hodu('hodu dynamic', () => elementwise(Tensor.fromArray(xx, [EW_N])).toTypedArray()),
      hodu('hodu script', () => s.run({ x: xx }).y.toTypedArray()),
    ];
    const xs = onXla(s, { x });
    if (xs) {
      check('elementwise xla vs hodu', xs.run({ x: xx }).y, s.run({ x: xx }).y, 1e-5);
      entries.push(hodu('xla script', () => xs.run({ x: xx }).y.toTypedArray()));
    }
    entries.push(...(await peerEntries('elementwise_1M', f32(s.run({ x: xx }).y), 1e-5, (p) => p.elementwise(xx))));
    await timeWorkload('elementwise_1M', entries, bw);
  }

  // MLP
  const mlp = mlpWeights();
  const mlpArrays: MlpWeights = {
    w1: f32(mlp.w1), b1: f32(mlp.b1), w2: f32(mlp.w2), b2: f32(mlp.b2), w3: f32(mlp.w3), b3: f32(mlp.b3),
  };
  for (const batch of [1, 64]) {
    if (!want(`mlp_b${batch}`)) continue;
    const x = Tensor.randn([batch, 784]);
    const xx = f32(x);
    const s = script(`mlp_b${batch}`, { x: [batch, 784] }, (i) => mlpForward(mlp, i.x));
    check(`mlp b${batch} script vs dynamic`, s.run({ x: xx }).y, mlpForward(mlp, x));
    const entries = [
      hodu('hodu dynamic', () => mlpForward(mlp, Tensor.fromArray(xx, [batch, 784])).toTypedArray()),
      hodu('hodu script', () => s.run({ x: xx }).y.toTypedArray()),
    ];
    const xs = onXla(s, { x });
    if (xs) {
      check(`mlp b${batch} xla vs hodu`, xs.run({ x: xx }).y, s.run({ x: xx }).y);
      entries.push(hodu('xla script', () => xs.run({ x: xx }).y.toTypedArray()));
    }
    entries.push(...(await peerEntries(`mlp_b${batch}`, f32(s.run({ x: xx }).y), 1e-4, (p) => p.mlp(mlpArrays, xx, batch))));
    await timeWorkload(`mlp_b${batch}`, entries);
  }

  // MLP with a symbolic batch (bench/shapes.ts): batch 1, 7, 64 interleaved with fixed-shape scripts
  for (const r of want('mlp_symbolic') ? symbolicBatchRows(mlp, minTime) : []) {
    rows.push(r);
    log(r);
  }

  // CNN
  const cnn = cnnWeights();
  const cnnArrays: CnnWeights = {
    c1: f32(cnn.c1), cb1: f32(cnn.cb1), c2: f32(cnn.c2), cb2: f32(cnn.cb2),
    d1: f32(cnn.d1), db1: f32(cnn.db1), d2: f32(cnn.d2), db2: f32(cnn.db2),
  };
  for (const batch of [1, 32]) {
    if (!want(`cnn_b${batch}`)) continue;
    const x = Tensor.randn([batch, 1, 28, 28]);
    const xx = f32(x);
    const sh = [batch, 1, 28, 28];
    const s = script(`cnn_b${batch}`, { x: sh }, (i) => cnnForward(cnn, i.x));
    check(`cnn b${batch} script vs dynamic`, s.run({ x: xx }).y, cnnForward(cnn, x));
    console.log(`  (cnn_b${batch} hodu script: runs on ${s.planInfo().threads === 'one' ? 'one thread' : 'all threads'})`);
    const entries = [
      hodu('hodu dynamic', () => cnnForward(cnn, Tensor.fromArray(xx, sh)).toTypedArray()),
      hodu('hodu script', () => s.run({ x: xx }).y.toTypedArray()),
    ];
    const xs = onXla(s, { x });
    if (xs) {
      check(`cnn b${batch} xla vs hodu`, xs.run({ x: xx }).y, s.run({ x: xx }).y);
      entries.push(hodu('xla script', () => xs.run({ x: xx }).y.toTypedArray()));
    }
    entries.push(...(await peerEntries(`cnn_b${batch}`, f32(s.run({ x: xx }).y), 1e-4, (p) => p.cnn(cnnArrays, xx, batch))));
    await timeWorkload(`cnn_b${batch}`, entries);
  }

  // per-call overhead: add of two [4] tensors
  if (want('add_4')) {
    const aa = new Float32Array([1, 2, 3, 4]);
    const bb = new Float32Array([5, 6, 7, 8]);
    const [a, b] = [Tensor.fromArray(aa), Tensor.fromArray(bb)];
    const s = script('add_4', { a: [4], b: [4] }, (i) => i.a.add(i.b));
    check('add script', s.run({ a: aa, b: bb }).y, Tensor.fromArray([6, 8, 10, 12]), 0);
    const entries = [
      hodu('hodu dynamic', () => Tensor.fromArray(aa).add(Tensor.fromArray(bb)).toTypedArray()),
      hodu('hodu script', () => s.run({ a: aa, b: bb }).y.toTypedArray()),
    ];
    const xs = onXla(s, { a, b });
    if (xs) entries.push(hodu('xla script', () => xs.run({ a: aa, b: bb }).y.toTypedArray()));
    entries.push(...(await peerEntries('add_4', new Float32Array([6, 8, 10, 12]), 0, (p) => p.add(aa, bb))));
    await timeWorkload('add_4', entries);
  }

  // one SGD step of the MLP (batch 64, mean cross-entropy on logits, lr 0.01)
  if (want('train_step_mlp_b64')) {
    const names = MLP_PARAMS;
    const batch = 64;
    const lr = 0.01;
    const init = mlpWeights();
    const initArrays = Object.fromEntries(names.map((k) => [k, f32(init[k])])) as unknown as MlpWeights;
    const x = Tensor.randn([batch, 784]);
    const xx = f32(x);
    const labelOf = (i: number) => i % 10;
    const labelArr = Int32Array.from({ length: batch }, (_, i) => labelOf(i));
    const labels = Tensor.fromArray(labelArr, [batch]);
    const ce = new nn.CrossEntropy();
    const logits = (m: Record<string, Tensor>, xt: Tensor) =>
      xt.matmul(m.w1).add(m.b1).relu().matmul(m.w2).add(m.b2).relu().matmul(m.w3).add(m.b3);
    // dynamic: parameters updated in place; the batch made from typed arrays per step
    const dyn: Record<string, Tensor> = {};
    for (const k of names) dyn[k] = Tensor.fromArray(initArrays[k].slice(), init[k].shape).setRequiresGrad(true);
    const sgd = new nn.SGD(lr);
    const dynStep = () => {
      const loss = ce.forward([logits(dyn, Tensor.fromArray(xx, [batch, 784])), Tensor.fromArray(labelArr, [batch])]);
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
    const xs = Tensor.input('x', [batch, 784]);
    const ys = Tensor.input('y', [batch], DType.I32);
    const loss = ce.forward([logits(sym, xs), ys]);
    loss.backward();
    new nn.SGD(lr).step(Object.values(sym));
    b.addOutput('loss', loss);
    for (const k of names) b.addOutput(k, sym[k]);
    b.end();
    const step = b.build();
    const state: Record<string, Tensor> = {};
    for (const k of names) state[k] = init[k];
    const scriptStep = (sc: Script, st: Record<string, Tensor>) => () => {
      const out = sc.run({ x: xx, y: labelArr, ...st });
      for (const k of names) st[k] = out[k];
      return (out.loss.toTypedArray() as Float32Array)[0];
    };
    const first = scriptStep(step, state)();
    const firstParams = Object.fromEntries(names.map((k) => [k, f32(state[k])])) as unknown as MlpWeights;
    const dynFirst = dynStep();
    if (!(Math.abs(first - dynFirst) <= 1e-4 * (1 + Math.abs(dynFirst)))) {
      wrong++;
      console.error(`WRONG RESULT: train step script loss ${first} vs dynamic ${dynFirst}`);
    }
    const entries = [hodu('hodu dynamic', dynStep), hodu('hodu script', scriptStep(step, state))];
    const xstate: Record<string, Tensor> = { ...state };
    const xs2 = onXla(step, { x, y: labels, ...xstate });
    if (xs2) entries.push(hodu('xla script', scriptStep(xs2, xstate)));

    // Peers: the same first step from the same weights and one-hot targets of the same labels,
    // checked on the loss and on every updated parameter.
    const onehot = new Float32Array(batch * 10);
    for (let i = 0; i < batch; i++) onehot[i * 10 + labelOf(i)] = 1;
    const data = { init: initArrays, x: xx, onehot, batch, lr };
    const paramsDiff = (r: Runner): number => {
      const params = (r as TrainRunner).params();
      let d = 0;
      for (const k of names) d = Math.max(d, maxRelDiff(params[k], firstParams[k]));
      return d;
    };
    entries.push(...(await peerEntries('train_step_mlp_b64', new Float32Array([first]), 1e-4, (p) => p.trainStep(data), paramsDiff)));
    await timeWorkload('train_step_mlp_b64', entries);
  }

  // one per-batch training step of the MNIST CNN (Adam) with script variables (bench/mnist-step.ts)
  if (want('mnist')) wrong += mnistStepRows(row);
  // tfjs-wasm cannot train a CNN (no Conv2DBackpropFilter kernel: a note); tfjs-cpu takes ~30 s per
  // step, so its row runs only with --tfjs-cpu-cnn
  if (want('mnist')) wrong += await mnistStepTfjsRows((w, v, fn, maxReps) => row(w, v, fn, undefined, maxReps), console.log,
    process.argv.includes('--tfjs-cpu-cnn') ? ['wasm', 'cpu'] : ['wasm']);

  // loop rolling: the seed's training script at 1000 and 10 000 epochs, rolled and unrolled, one
  // process per configuration (bench/seed-loop.ts) so that each peak RSS is its own
  if (want('seed')) {
    const configs: [number, string, string][] = [
      [1000, 'hodu', 'rolled'], [1000, 'hodu', 'unrolled'], [1000, 'xla', 'rolled'], [1000, 'xla', 'unrolled'],
      [10000, 'hodu', 'rolled'], [10000, 'hodu', 'unrolled'], [10000, 'xla', 'rolled'],
    ];
    const losses = new Map<string, number>();
    for (const [epochs, backend, mode] of configs) {
      if (quick && backend === 'xla' && mode === 'unrolled') continue;
      if (backend === 'xla' && xlaMissing) continue;
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'seed-loop.ts'), String(epochs), backend, mode], {
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, PJRT_NPROC: process.env.PJRT_NPROC ?? '1' },
      });
      const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
      let j: { recordMs: number; irBytes: number; compileMs: number; runMs: number; peakRssMB: number; loss: number; loops: number[] };
      try {
        j = JSON.parse(line);
      } catch {
        console.error(`  seed ${epochs} ${backend} ${mode}: failed (${(r.stderr ?? '').split('\n').filter(Boolean).pop() ?? r.error})`);
        wrong++;
        continue;
      }
      const other = losses.get(`${epochs} ${backend}`);
      if (other !== undefined && !(Math.abs(other - j.loss) <= 1e-4 * (1 + Math.abs(other)))) {
        wrong++;
        console.error(`WRONG RESULT: seed ${epochs} ${backend}: rolled and unrolled losses differ (${other} vs ${j.loss})`);
      }
      losses.set(`${epochs} ${backend}`, j.loss);
      const row = `| ${epochs} | ${backend === 'xla' ? 'XLA' : 'HODU'} | ${mode}${j.loops.length ? ` (loop of ${j.loops.join(', ')})` : ''} | ${j.recordMs.toFixed(0)} ms | ${(j.irBytes / 1e6).toFixed(2)} MB | **${j.compileMs.toFixed(0)} ms** | ${j.runMs.toFixed(2)} ms | ${j.peakRssMB.toFixed(0)} MB | ${j.loss.toExponential(3)} |`;
      loopRows.push(row);
      console.log(`  seed ${String(epochs).padStart(5)} ${backend.padEnd(4)} ${mode.padEnd(8)} record ${j.recordMs.toFixed(0)} ms, compile ${j.compileMs.toFixed(0)} ms, run ${j.runMs.toFixed(2)} ms, peak RSS ${j.peakRssMB.toFixed(0)} MB, loss ${j.loss.toExponential(3)}`);
    }
  }

  // The roofline again at the end: on a loaded machine one measurement can come out far too low,
  // which would make the targets look easy. The targets use the higher of the two.
  const roofEnd = measureRoof();
  const roof: Roof = {
    peakGflops: Math.max(roofStart.peakGflops, roofEnd.peakGflops),
    bandwidthGBs: Math.max(roofStart.bandwidthGBs, roofEnd.bandwidthGBs),
  };
  roofNote = `measured before and after the run: fp32 peak ${roofStart.peakGflops.toFixed(0)} / ${roofEnd.peakGflops.toFixed(0)} GFLOP/s, triad bandwidth ${roofStart.bandwidthGBs.toFixed(1)} / ${roofEnd.bandwidthGBs.toFixed(1)} GB/s; the higher of each is used`;
  console.log(`roofline at the end: fp32 peak ${roofEnd.peakGflops.toFixed(0)} GFLOP/s, triad bandwidth ${roofEnd.bandwidthGBs.toFixed(1)} GB/s`);
  writeResults(v, roof);
  if (wrong) {
    console.error(`${wrong} wrong result(s)`);
    process.exit(1);
  }
}

// ------------------------------------------------------------------ report

type Roof = { peakGflops: number; bandwidthGBs: number };
let roofNote = '';

/** The median of a row (all its calls). */
const median = (workload: string, variant: string): number | undefined =>
  rows.find((r) => r.workload === workload && r.variant === variant)?.t?.median;

function bestOrt(workload: string): { variant: string; median: number } | undefined {
  let best: { variant: string; median: number } | undefined;
  for (const r of rows) {
    if (r.workload !== workload || !r.variant.startsWith('ort') || !r.t) continue;
    if (!best || r.t.median < best.median) best = { variant: r.variant, median: r.t.median };
  }
  return best;
}

/** The lowest min over the onnxruntime-node configurations of a workload. */
function bestOrtMin(workload: string): number | undefined {
  const ms = rows.filter((r) => r.workload === workload && r.variant.startsWith('ort') && r.t).map((r) => r.t!.min);
  return ms.length ? Math.min(...ms) : undefined;
}

/** Roofline lower bound of a workload's time, in seconds, where one applies. */
function floorOf(workload: string, roof: Roof): number | undefined {
  if (workload === 'matmul_1024') return MATMUL_FLOPS / (roof.peakGflops * 1e9);
  if (workload === 'elementwise_1M') return EW_BYTES / (roof.bandwidthGBs * 1e9);
  return undefined;
}

function rooflineCell(workload: string, t: number, roof: Roof): string {
  const floor = floorOf(workload, roof);
  if (floor === undefined) return '';
  if (workload === 'matmul_1024') return `${((floor / t) * 100).toFixed(0)}% of peak`;
  return `${(t / floor).toFixed(1)}× floor`;
}

/** How far over a time limit a measured/limit ratio is: "29% over" or "7.4× the limit". */
const slower = (r: number): string => (r < 2 ? `${((r - 1) * 100).toFixed(0)}% over the limit` : `${r.toFixed(1)}× the limit`);

const ratio = (x: number): string => `${x < 0.1 ? x.toFixed(3) : x.toFixed(2)}×`;

interface Target {
  id: string; // key into WHY
  what: string;
  goal: string;
  /** The measured value, or a reason it is missing. */
  value: () => number | string;
  show: (v: number) => string;
  met: (v: number) => boolean;
  missedBy: (v: number) => string;
  /** The goal as a number: met when value <= limit, or >= limit with `higher` (bench/median-of-runs.ts). */
  limit: number;
  higher?: boolean;
}

function targets(roof: Roof): Target[] {
  const vsOrt = (workload: string, limit: number, what: string): Target => ({
    id: workload,
    what,
    goal: `≤ ${limit.toFixed(1)}× best ORT`,
    value: () => {
      const h = median(workload, 'hodu script');
      const o = bestOrt(workload);
      if (h === undefined) return 'no hodu script row';
      if (!o) return 'no onnxruntime-node row';
      return h / o.median;
    },
    show: (x) => `${ratio(x)} (hodu script ${fmtTime(median(workload, 'hodu script')!)} vs ${bestOrt(workload)!.variant} ${fmtTime(bestOrt(workload)!.median)})`,
    met: (x) => x <= limit,
    missedBy: (x) => slower(x / limit),
    limit,
  });
  return [
    vsOrt('mlp_b1', 1, 'MLP inference, batch 1'),
    vsOrt('mlp_b64', 1, 'MLP inference, batch 64'),
    vsOrt('cnn_b1', 1, 'CNN inference, batch 1'),
    vsOrt('cnn_b32', 1, 'CNN inference, batch 32'),
    {
      id: 'matmul_1024',
      what: 'matmul 1024³, HODU script',
      goal: '≥ 80% of measured fp32 peak',
      value: () => {
        const h = median('matmul_1024', 'hodu script');
        return h === undefined ? 'no hodu script row' : (floorOf('matmul_1024', roof)! / h) * 100;
      },
      show: (p) => `${p.toFixed(0)}% (${(MATMUL_FLOPS / median('matmul_1024', 'hodu script')! / 1e9).toFixed(0)} of ${roof.peakGflops.toFixed(0)} GFLOP/s)`,
      met: (p) => p >= 80,
      missedBy: (p) => `${(80 - p).toFixed(0)} points short`,
      limit: 80,
      higher: true,
    },
    vsOrt('add_4', 0.5, 'one-add script run() (per-call overhead)'),
    {
      id: 'elementwise_1M',
      what: 'elementwise chain, 1M floats, HODU script',
      goal: '≤ 1.5× memory-bandwidth floor',
      value: () => {
        const h = median('elementwise_1M', 'hodu script');
        return h === undefined ? 'no hodu script row' : h / floorOf('elementwise_1M', roof)!;
      },
      show: (x) => `${ratio(x)} (${fmtTime(median('elementwise_1M', 'hodu script')!)} vs floor ${fmtTime(floorOf('elementwise_1M', roof)!)})`,
      met: (x) => x <= 1.5,
      missedBy: (x) => slower(x / 1.5),
      limit: 1.5,
    },
    { ...vsOrt('train_step_mlp_b64', 1, 'SGD step, MLP batch 64 (ORT: hand-written backward graph)') },
    {
      id: 'train_step_mlp_b64 vs tfjs wasm',
      what: 'SGD step, MLP batch 64, speed-up over tfjs wasm',
      goal: '≥ 20× faster',
      value: () => {
        const h = median('train_step_mlp_b64', 'hodu script');
        const t = median('train_step_mlp_b64', 'tfjs wasm');
        if (h === undefined) return 'no hodu script row';
        if (t === undefined) return 'no tfjs wasm row';
        return t / h;
      },
      show: (x) => `${x.toFixed(1)}× (tfjs wasm ${fmtTime(median('train_step_mlp_b64', 'tfjs wasm')!)})`,
      met: (x) => x >= 20,
      missedBy: (x) => `${ratio(20 / x)} short`,
      limit: 20,
      higher: true,
    },
  ];
}

/**
 * The machine's 1-minute load average before and after the run. Other processes competing for
 * the CPUs make multi-threaded rows (hodu's oneDNN/OpenMP threads, ORT with 2 threads) much
 * slower and noisier than single-threaded ones, so the report says so.
 */
function loadLines(): string[] {
  const cpus = os.cpus().length;
  const end = os.loadavg()[0];
  const lines = [`Load average (1 min) before / after the run: ${loadAtStart.toFixed(2)} / ${end.toFixed(2)} on ${cpus} CPUs.`];
  if (loadAtStart > 0.5 * cpus || end > cpus + 0.5) {
    lines.push(
      '',
      `> **Warning: other processes were using the CPUs during this run** (load ${loadAtStart.toFixed(1)} before, ${end.toFixed(1)} after, on ${cpus} CPUs).`,
      '> Multi-threaded rows suffer most; these timings are not representative. Re-run on an otherwise idle machine.',
    );
  }
  return lines;
}

function writeResults(v: { hodu: string; onednn: string; threads: number }, roof: Roof): void {
  // partial or quick runs never overwrite the committed bench/results.{md,svg}
  const dir = quick || only ? path.join(__dirname, 'out') : __dirname;
  const base = quick ? 'results-quick' : only ? 'results-only' : 'results';
  fs.mkdirSync(dir, { recursive: true });
  const workloads = [...new Set(rows.map((r) => r.workload))];

  // targets
  const targetLines: string[] = ['| target | goal | measured | status |', '|---|---|---|---|'];
  const missed: string[] = [];
  const targetJson: unknown[] = [];
  for (const t of targets(roof)) {
    const val = t.value();
    targetJson.push({ id: t.id, what: t.what, goal: t.goal, limit: t.limit, higher: !!t.higher, value: typeof val === 'number' ? val : null });
    if (typeof val === 'string') {
      targetLines.push(`| ${t.what} | ${t.goal} | ${val} | not measured |`);
      continue;
    }
    const ok = t.met(val);
    targetLines.push(`| ${t.what} | ${t.goal} | ${t.show(val)} | ${ok ? '**met**' : `**missed**: ${t.missedBy(val)}`} |`);
    if (!ok) missed.push(`- **${t.what}** (\`${t.id}\`): ${WHY[t.id] ?? 'cause under investigation'}`);
  }

  // summary: one line per workload, one column per variant
  const variants = [...new Set(rows.map((r) => r.variant))];
  const summary = [
    `| workload | ${variants.join(' | ')} | hodu script vs best ORT (median) | (min) |`,
    `|---|${variants.map(() => '---|').join('')}---|---|`,
    ...workloads.map((w) => {
      const o = bestOrt(w);
      const h = median(w, 'hodu script');
      const cells = variants.map((vn) => {
        const m = median(w, vn);
        return m === undefined ? '' : fmtTime(m);
      });
      const hm = rows.find((r) => r.workload === w && r.variant === 'hodu script')?.t?.min;
      const om = bestOrtMin(w);
      return `| ${w} | ${cells.join(' | ')} | ${o && h !== undefined ? ratio(h / o.median) : ''} | ${om !== undefined && hm !== undefined ? ratio(hm / om) : ''} |`;
    }),
  ];

  const all = [
    '| workload | variant | median | min | median ÷ min | round medians | max | N | vs best ORT | roofline | notes |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      if (!r.t) return `| ${r.workload} | ${r.variant} | ${r.failed} | | | | | | | | |`;
      const o = bestOrt(r.workload);
      const rm = r.t.rounds?.length ? `${fmtTime(Math.min(...r.t.rounds))} – ${fmtTime(Math.max(...r.t.rounds))}` : '';
      return `| ${r.workload} | ${r.variant} | **${fmtTime(r.t.median)}** | ${fmtTime(r.t.min)} | ${(r.t.median / r.t.min).toFixed(2)} | ${rm} | ${fmtTime(r.t.max)} | ${r.t.n} | ${o ? ratio(r.t.median / o.median) : ''} | ${rooflineCell(r.workload, r.t.median, roof)} | ${r.extra ?? ''} |`;
    }),
  ];

  const lines = [
    '# Benchmark results',
    '',
    `Produced by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 10)}: hodu ${v.hodu}, oneDNN ${v.onednn}, ${v.threads} threads, node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}.`,
    `Peers: ${peerVersions.join('; ') || 'none installed'}.`,
    `Measured roofline: fp32 peak ${roof.peakGflops.toFixed(0)} GFLOP/s, triad bandwidth ${roof.bandwidthGBs.toFixed(1)} GB/s (${roofNote}).`,
    ...loadLines(),
    '',
    'Every timed call is a call as users make it: the inputs come from JS Float32Arrays on every call and',
    'the output is read back as a typed array (hodu scripts: `script.run({ x: f32 }).y.toTypedArray()`;',
    'hodu dynamic mode: `Tensor.fromArray(f32, shape)`, the ops, `toTypedArray()`; onnxruntime-node:',
    '`new ort.Tensor` + `await session.run()` + `.data`; tfjs: `tf.tensor` + op under `tf.tidy` + `dataSync()`).',
    `The variants of a workload are timed interleaved: after a warm-up, ${ROUNDS} rounds, each giving every variant`,
    `a slice of about ${SLICE * 1000} ms (at least 3 calls; one untimed call first) in turn, the order rotated every round`,
    '(bench/harness.ts). Median and min are over all N timed calls; "round medians" is the range of the',
    'per-round medians, and median ÷ min shows how far the typical call is from the best one.',
    'All variants get the same weights and inputs; each peer\'s first output is checked against hodu\'s',
    'before it is timed. ONNX models are written by `bench/onnx.ts` from hodu\'s weights; ORT runs the CPU',
    'execution provider at graph optimization level "all". tfjs runs NHWC with the weights permuted.',
    '"vs best ORT" = median ÷ the fastest onnxruntime-node configuration\'s median on the same workload',
    '(lower is faster). Roofline: matmul as % of the measured fp32 peak, elementwise as a multiple of the',
    'time to move its 8 MB at the measured bandwidth.',
    ...notes.map((n) => `Note: ${n}.`),
    '',
    `![median time per workload and variant](${base}.svg)`,
    '',
    '## Targets',
    '',
    ...targetLines,
    '',
    '### Why (missed targets)',
    '',
    '<!-- Generated from bench/why.ts: edit the explanations there. -->',
    ...(missed.length ? missed : ['All targets met.']),
    '',
    '## Summary (medians)',
    '',
    ...summary,
    '',
    '## All rows',
    '',
    ...all,
    '',
    '## Loop rolling: the seed training script',
    '',
    'Linear(3, 1), MSE, SGD(0.01) over 10 000 rows, recorded in a Builder for E epochs, compiled with loop rolling',
    '(the default) or with `compile({ rollLoops: false })`, each configuration in its own process (bench/seed-loop.ts).',
    'Run = one `run()` of the whole training script (median of 5). XLA runs with PJRT_NPROC=1.',
    '',
    '| epochs | backend | compile | record | IR | compile time | run | peak RSS | final loss |',
    '|---|---|---|---|---|---|---|---|---|',
    ...loopRows,
    '',
    '## Notes',
    '',
    xlaCompile.length ? `- XLA compile times: ${xlaCompile.join(', ')}.` : '- XLA rows: no PJRT plugin was available.',
    '- tfjs cpu is pure JavaScript and 100–300× slower than the rest: its repetitions are capped (see N), so its',
    '  medians rest on few calls. tfjs wasm is single-threaded in Node (tfjs disables wasm threads there).',
    '- The SGD step for ORT is one ONNX graph with a hand-written backward pass (onnxruntime-node has no',
    '  training API); weights go in as inputs and the updated weights come out and are fed back, as in the',
    '  HODU script. tfjs uses `tf.train.sgd(lr).minimize` of `tf.losses.softmaxCrossEntropy`.',
    '- This machine is a shared 2-vCPU VM: compare ratios within one run, not absolute times across runs.',
    '',
  ];
  fs.writeFileSync(path.join(dir, `${base}.md`), lines.join('\n'));
  // every run's numbers, for bench/median-of-runs.ts (the targets judge the median of three runs)
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = path.join(__dirname, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const json = { date: new Date().toISOString(), quick, only: only ?? null, roof, roofNote, load: [loadAtStart, os.loadavg()[0]], targets: targetJson, rows };
  fs.writeFileSync(path.join(outDir, `run-${stamp}.json`), JSON.stringify(json, null, 1));

  const groups: ChartGroup[] = workloads.map((w) => {
    const o = bestOrt(w);
    return {
      workload: w,
      bestOrt: o?.median,
      floor: floorOf(w, roof),
      bars: rows
        .filter((r) => r.workload === w && r.t)
        .map((r) => ({
          variant: r.variant,
          median: r.t!.median,
          label: `${fmtTime(r.t!.median)}${o ? ` · ${ratio(r.t!.median / o.median)} best ORT` : ''}`,
        })),
    };
  });
  fs.writeFileSync(path.join(dir, `${base}.svg`), renderChart(`hodu benchmark, ${new Date().toISOString().slice(0, 10)}`, groups));
  console.log(`\nwrote ${path.relative(process.cwd(), path.join(dir, base))}.{md,svg}`);
  // real ONNX models against onnxruntime-node: their own process and results file
  // (bench/onnx-models.ts, bench/onnx-models-results.md); `--no-onnx` skips them
  if (!quick && !only && !process.argv.includes('--no-onnx')) {
    console.log('\nreal ONNX models (bench/onnx-models.ts)');
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(__dirname, 'onnx-models.ts')], { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`bench/onnx-models.ts failed (exit ${r.status})`);
      process.exitCode = 1;
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
