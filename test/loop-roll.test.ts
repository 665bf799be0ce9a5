// Loop rolling (native/ir/loop_roll.h): a recorded training loop compiles as one step run N times.
// Each script runs rolled (the default) and unrolled (compile({ rollLoops: false })): HODU results
// agree within f32 tolerance, XLA-CPU (one thread, PJRT_NPROC=1) results bit for bit on the seed
// script. The unrolled plan is the reference: it runs every recorded op as it was recorded.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';

afterEach(() => Builder._abortActive());

const xlaReady = process.env.HODU_SKIP_XLA !== '1' && xlaBuilt() && findPjrtPlugin('cpu').path !== null;
const testXla = xlaReady ? test : test.skip;

function flat(t: Tensor): Float64Array {
  return Float64Array.from(t.toTypedArray() as Float32Array);
}

/** max |a - b| / (1 + |b|) over every output */
function maxRel(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  let m = 0;
  for (const k of Object.keys(b)) {
    const x = flat(a[k]);
    const y = flat(b[k]);
    expect(x.length).toBe(y.length);
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  }
  return m;
}

function bitsEqual(a: Record<string, Tensor>, b: Record<string, Tensor>): boolean {
  for (const k of Object.keys(b)) {
    const x = a[k].toTypedArray() as Float32Array;
    const y = b[k].toTypedArray() as Float32Array;
    if (x.length !== y.length || !x.every((v, i) => Object.is(v, y[i]))) return false;
  }
  return true;
}

/** The seed's data: N rows, y = first feature. */
function seedData(n: number): { input: Tensor; target: Tensor } {
  const x = new Float32Array(n * 3);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = (i % 100) / 100;
    x.set([a, a + 0.01, a + 0.02], i * 3);
    y[i] = a;
  }
  return { input: Tensor.fromArray(x, [n, 3]), target: Tensor.fromArray(y, [n, 1]) };
}

/** The seed's training script: Linear(3, 1), MSE, SGD(0.01), `epochs` steps recorded in a builder. */
function seedScript(epochs: number, rows: number): Script {
  manualSeed(0);
  const model = new nn.Linear(3, 1);
  const mse = new nn.MSE();
  const opt = new nn.SGD(0.01);
  const b = new Builder(`seed_${epochs}`);
  b.start();
  const x = Tensor.input('input', [rows, 3]);
  const y = Tensor.input('target', [rows, 1]);
  let last!: Tensor;
  for (let e = 0; e < epochs; e++) {
    last = mse.forward([model.forward(x), y]);
    last.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
  }
  b.addOutput('loss', last);
  b.addOutput('weight', model.weight);
  b.addOutput('bias', model.bias!);
  b.end();
  return b.build();
}

function runBoth(s: Script, inputs: Record<string, Tensor>, backend = Backend.HODU): { rolled: Record<string, Tensor>; unrolled: Record<string, Tensor> } {
  const a = Script.fromBytes(s.toBytes()).setBackend(backend);
  const u = Script.fromBytes(s.toBytes()).setBackend(backend);
  for (const [k, v] of Object.entries(inputs)) {
    a.addInput(k, v);
    u.addInput(k, v);
  }
  a.compile();
  u.compile({ rollLoops: false });
  expect(u.planInfo().loops).toEqual([]);
  return { rolled: a.run(), unrolled: u.run() };
}

/** An MLP trained with Adam for 20 steps (cross-entropy on 3 classes). */
function adamScript(): { s: Script; xs: Tensor; ys: Tensor } {
  manualSeed(5);
  const net = new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Linear(16, 3));
  const ce = new nn.CrossEntropy();
  const opt = new nn.Adam(0.01);
  const b = new Builder('adam_mlp');
  b.start();
  const x = Tensor.input('x', [32, 6]);
  const y = Tensor.input('y', [32], DType.I32);
  let loss!: Tensor;
  for (let e = 0; e < 20; e++) {
    loss = ce.forward([net.forward(x), y]);
    loss.backward();
    opt.step(net.parameters());
    opt.zeroGrad(net.parameters());
  }
  b.addOutput('loss', loss);
  net.parameters().forEach((p, i) => b.addOutput(`p${i}`, p));
  b.end();
  return {
    s: b.build(),
    xs: Tensor.randn([32, 6]),
    ys: Tensor.fromArray(Array.from({ length: 32 }, (_, i) => i % 3), undefined, DType.I32),
  };
}

describe('loop rolling on the HODU backend', () => {
  test('the seed script (1000 epochs) rolls into one loop of 1000 and trains as unrolled', () => {
    const s = seedScript(1000, 10000);
    const { input, target } = seedData(10000);
    s.addInput('input', input).addInput('target', target).compile();
    const loops = s.planInfo().loops;
    expect(loops.length).toBe(1);
    expect(loops[0].trips).toBe(1000);
    const { rolled, unrolled } = runBoth(s, { input, target });
    expect(rolled.loss.item()).toBeLessThan(1e-3);
    expect(maxRel(rolled, unrolled)).toBeLessThanOrEqual(1e-5);
    // runs again from the initial weights: same results
    expect(maxRel(s.run(), rolled)).toBe(0);
  });

  test('an MLP trained with Adam rolls (bias corrections become a table) and matches unrolled', () => {
    const { s, xs, ys } = adamScript();
    s.addInput('x', xs).addInput('y', ys).compile();
    const loops = s.planInfo().loops;
    expect(loops.length).toBe(1);
    expect(loops[0].trips).toBeGreaterThanOrEqual(19); // Adam's first step reads zero moments: it may stay outside
    const { rolled, unrolled } = runBoth(s, { x: xs, y: ys });
    expect(maxRel(rolled, unrolled)).toBeLessThanOrEqual(1e-5);
  });

  test('a loop whose steps differ rolls only where they repeat, and stays correct', () => {
    // every 4th step uses tanh instead of sigmoid
    const b = new Builder('differ');
    b.start();
    const x = Tensor.input('x', [64]);
    let h = x;
    for (let e = 0; e < 24; e++) h = (e % 4 === 3 ? h.mul(0.9).tanh() : h.mul(0.9).sigmoid()).add(x);
    b.addOutput('h', h);
    b.end();
    const s = b.build();
    const xs = Tensor.randn([64]);
    s.addInput('x', xs).compile();
    for (const l of s.planInfo().loops) expect(l.trips).toBeLessThanOrEqual(6); // the period of 4 steps at most 6 times
    const { rolled, unrolled } = runBoth(s, { x: xs });
    expect(maxRel(rolled, unrolled)).toBeLessThanOrEqual(1e-6);
    // and against a float64 reference
    const ref = flat(xs).map((v) => v);
    let hr = Float64Array.from(ref);
    for (let e = 0; e < 24; e++)
      hr = hr.map((v, i) => {
        const a = v * 0.9;
        return (e % 4 === 3 ? Math.tanh(a) : 1 / (1 + Math.exp(-a))) + ref[i];
      });
    const got = flat(rolled.h);
    got.forEach((v, i) => expect(Math.abs(v - hr[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(hr[i]))));
  });

  test('recording 10 000 epochs stays light, and the script compiles fast', () => {
    const t0 = process.hrtime.bigint();
    const s = seedScript(10000, 100);
    const recordMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const { input, target } = seedData(100);
    const c0 = process.hrtime.bigint();
    s.addInput('input', input).addInput('target', target).compile();
    const compileMs = Number(process.hrtime.bigint() - c0) / 1e6;
    expect(s.planInfo().loops.map((l) => l.trips)).toEqual([10000]);
    // generous bounds: this checks the order of magnitude, not speed (the bench measures that)
    expect(recordMs).toBeLessThan(60000);
    expect(compileMs).toBeLessThan(20000);
    expect(s.run().loss.item()).toBeLessThan(1e-3);
  });
});

describe('loop rolling on the XLA backend', () => {
  testXla('the seed script: one while loop, bit-identical to unrolled', () => {
    const s = seedScript(100, 1000);
    const { input, target } = seedData(1000);
    const { rolled, unrolled } = runBoth(s, { input, target }, Backend.XLA);
    const x = Script.fromBytes(s.toBytes()).setBackend(Backend.XLA).addInput('input', input).addInput('target', target).compile();
    expect(x.planInfo().loops).toEqual([{ trips: 100 }]);
    expect(bitsEqual(rolled, unrolled)).toBe(true);
  });

  testXla('the 1000-epoch seed script compiles in well under the unrolled time', () => {
    const s = seedScript(1000, 10000);
    const { input, target } = seedData(10000);
    const x = Script.fromBytes(s.toBytes()).setBackend(Backend.XLA).addInput('input', input).addInput('target', target);
    const t0 = process.hrtime.bigint();
    x.compile();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(x.planInfo().loops).toEqual([{ trips: 1000 }]);
    expect(ms).toBeLessThan(10000); // unrolled: 25-37 s on this machine
    const h = Script.fromBytes(s.toBytes()).addInput('input', input).addInput('target', target);
    expect(maxRel(x.run(), h.run())).toBeLessThanOrEqual(1e-4);
  });

  testXla('an MLP trained with Adam: rolled matches unrolled (XLA may pick other kernels in a while body)', () => {
    const { s, xs, ys } = adamScript();
    const { rolled, unrolled } = runBoth(s, { x: xs, y: ys }, Backend.XLA);
    expect(maxRel(rolled, unrolled)).toBeLessThanOrEqual(1e-6);
  });

  testXla('a loop whose steps differ gives the unrolled results', () => {
    const b = new Builder('differ_xla');
    b.start();
    const x = Tensor.input('x', [64]);
    let h = x;
    for (let e = 0; e < 24; e++) h = (e % 4 === 3 ? h.mul(0.9).tanh() : h.mul(0.9).sigmoid()).add(x);
    b.addOutput('h', h);
    b.end();
    const { rolled, unrolled } = runBoth(b.build(), { x: Tensor.randn([64]) }, Backend.XLA);
    expect(maxRel(rolled, unrolled)).toBeLessThanOrEqual(1e-6);
  });
});
