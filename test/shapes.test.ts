// Shapes that vary (SPEC §5): symbolic input dims (null / named), one specialization per concrete
// shape signature (LRU cache, stats()), on HODU and XLA. Every result is checked against float64
// references computed here (test/helpers/reference.ts), never against what the script gave before.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { expectClose, expectHoduError } from './helpers/assert';
import { Ref, conv2d, map2, matmul, pool2d } from './helpers/reference';
import { values } from './helpers/script-util';

afterEach(() => Builder._abortActive());

const xlaReady = process.env.HODU_SKIP_XLA !== '1' && xlaBuilt() && findPjrtPlugin('cpu').path !== null;
const BACKENDS: Backend[] = xlaReady ? [Backend.HODU, Backend.XLA] : [Backend.HODU];
const F32 = { rtol: 1e-4, atol: 1e-4 };

/** The three counters of SPEC §5 (stats() may carry more, e.g. the XLA compile cache's). */
const counts = (s: Script): { compiles: number; specializations: number; runs: number } => {
  const { compiles, specializations, runs } = s.stats();
  return { compiles, specializations, runs };
};
const ref = (t: Tensor): Ref => Ref.from(t.toArray() as number[]);
const relu = (r: Ref): Ref => r.map((v) => Math.max(v, 0));
const addRow = (a: Ref, b: Ref): Ref => map2(a, b, (x, y) => x + y);

function record(name: string, f: () => Record<string, Tensor>): Script {
  const b = new Builder(name);
  b.start();
  for (const [k, v] of Object.entries(f())) b.addOutput(k, v);
  b.end();
  return b.build();
}

// ------------------------------------------------------------------------------------------ models

const W1 = values([16, 12], 1, -0.5, 0.5);
const B1 = values([12], 2, -0.1, 0.1);
const W2 = values([12, 5], 3, -0.5, 0.5);
const B2 = values([5], 4, -0.1, 0.1);

function mlpScript(): Script {
  return record('mlp', () => {
    const x = Tensor.input('x', [null, 16]);
    return { y: x.matmul(W1).add(B1).relu().matmul(W2).add(B2) };
  });
}
const mlpRef = (x: Tensor): Ref => addRow(matmul(relu(addRow(matmul(ref(x), ref(W1)), ref(B1))), ref(W2)), ref(B2));

const K1 = values([4, 1, 3, 3], 5, -0.5, 0.5);
const C1 = values([4], 6, -0.1, 0.1);
const K2 = values([6, 4, 3, 3], 7, -0.3, 0.3);
const L1 = values([6 * 2 * 2, 3], 8, -0.3, 0.3);

function cnnScript(): Script {
  return record('cnn', () => {
    const x = Tensor.input('img', ['batch', 1, 10, 10]);
    const h = x.conv2d(K1, C1, { padding: 1 }).relu().maxPool2d({ kernel: 2 }); // [B, 4, 5, 5]
    const g = h.conv2d(K2, null).relu().avgPool2d({ kernel: 2, stride: 1 }); // [B, 6, 2, 2]
    return { logits: g.flatten(1).matmul(L1) };
  });
}
function cnnRef(x: Tensor): Ref {
  const h = pool2d(relu(conv2d(ref(x), ref(K1), ref(C1), { padding: [1, 1] })), 'max', { kernel: [2, 2] });
  const g = pool2d(relu(conv2d(h, ref(K2), null)), 'avg', { kernel: [2, 2], stride: [1, 1] });
  return matmul(g.reshape([x.shape[0], 24]), ref(L1));
}

// ------------------------------------------------------------------------------------------ tests

describe.each(BACKENDS)('symbolic batch on %s', (backend) => {
  test('MLP: batch 1, 3, 17, 64 match the float64 reference; inputs/outputs report the symbolic dim', () => {
    const s = mlpScript().setBackend(backend);
    expect(s.inputs).toEqual([{ name: 'x', dtype: DType.F32, shape: [null, 16] }]);
    expect(s.outputs).toEqual([{ name: 'y', dtype: DType.F32, shape: [null, 5] }]);
    for (const n of [1, 3, 17, 64]) {
      const x = values([n, 16], 10 + n, -1, 1);
      expectClose(s.run({ x })['y'], mlpRef(x), { ...F32, label: `batch ${n}` });
    }
    expect(counts(s)).toEqual({ compiles: 4, specializations: 4, runs: 4 });
  });

  test('CNN (conv, max/avg pool, flatten) with a named batch: batch 1, 3, 17, 64', () => {
    const s = cnnScript().setBackend(backend);
    expect(s.outputs[0].shape).toEqual(['batch', 3]);
    for (const n of [1, 3, 17, 64]) {
      const x = values([n, 1, 10, 10], 20 + n, -1, 1);
      s.addInput('img', x);
      expectClose(s.run()['logits'], cnnRef(x), { ...F32, label: `batch ${n}` });
    }
    // every specialization plans like a script recorded at that shape (fusion, channels-last, kernels)
    const f = record('cnn_fixed', () => {
      const x = Tensor.input('img', [17, 1, 10, 10]);
      const h = x.conv2d(K1, C1, { padding: 1 }).relu().maxPool2d({ kernel: 2 });
      const g = h.conv2d(K2, null).relu().avgPool2d({ kernel: 2, stride: 1 });
      return { logits: g.flatten(1).matmul(L1) };
    }).setBackend(backend);
    const a = s.planInfo({ img: [17, 1, 10, 10] });
    const b = f.planInfo();
    expect(a.kernels).toEqual(b.kernels);
    expect([a.fused, a.steps, a.views]).toEqual([b.fused, b.steps, b.views]);
    if (backend === Backend.HODU) expect(a.fused).toBeGreaterThan(0);
  });

  test('runAsync with interleaved batch sizes', async () => {
    const s = mlpScript().setBackend(backend);
    const xs = [2, 9, 2, 5, 9].map((n, i) => values([n, 16], 40 + i, -1, 1));
    const outs = await Promise.all(xs.map((x) => s.runAsync({ x })));
    outs.forEach((o, i) => expectClose(o['y'], mlpRef(xs[i]), { ...F32, label: `run ${i}` }));
    expect(counts(s)).toEqual({ compiles: 3, specializations: 3, runs: 5 });
  });

  test('a training loop with a symbolic batch trains on batches of different sizes; the rolled loop still rolls', () => {
    // the seed's Linear(3, 1) + MSE + SGD(lr), `epochs` steps recorded; weights as constants, so each
    // run trains from the same initial weights: compare with float64 gradient descent on that batch
    const epochs = 12;
    const lr = 0.1;
    manualSeed(3);
    const w0 = Tensor.randn([3, 1]).mul(0.3);
    const b0 = Tensor.zeros([1]);
    const s = record('train', () => {
      const x = Tensor.input('x', ['n', 3]);
      const y = Tensor.input('y', ['n', 1]);
      let w = w0.detach().setRequiresGrad(true);
      let b = b0.detach().setRequiresGrad(true);
      let loss!: Tensor;
      for (let e = 0; e < epochs; e++) {
        loss = x.matmul(w).add(b).sub(y).square().mean();
        loss.backward();
        const nw = w.sub(w.grad!.mul(lr)).detach().setRequiresGrad(true);
        const nb = b.sub(b.grad!.mul(lr)).detach().setRequiresGrad(true);
        w = nw;
        b = nb;
      }
      return { loss, w, b };
    }).setBackend(backend);
    for (const n of [5, 23, 8]) {
      const xv = values([n, 3], 60 + n, 0, 1);
      const yv = values([n, 1], 70 + n, 0, 1);
      const X = xv.toArray() as number[][];
      const Y = yv.toArray() as number[][];
      let w = (w0.toArray() as number[][]).map((r) => r[0]);
      let bb = 0;
      let loss = 0;
      for (let e = 0; e < epochs; e++) {
        const err = X.map((r, i) => r[0] * w[0] + r[1] * w[1] + r[2] * w[2] + bb - Y[i][0]);
        loss = err.reduce((a, v) => a + v * v, 0) / n;
        const gw = [0, 1, 2].map((j) => (2 / n) * err.reduce((a, v, i) => a + v * X[i][j], 0));
        const gb = (2 / n) * err.reduce((a, v) => a + v, 0);
        w = w.map((v, j) => v - lr * gw[j]);
        bb -= lr * gb;
      }
      const r = s.run({ x: xv, y: yv });
      expectClose(r['loss'], loss, { ...F32, label: `loss, batch ${n}` });
      expectClose(r['w'], w.map((v) => [v]), { ...F32, label: `w, batch ${n}` });
      expectClose(r['b'], [bb], { ...F32, label: `b, batch ${n}` });
      expect(s.planInfo().loops.length).toBeGreaterThan(0);
      expect(s.planInfo().loops[0].trips).toBeGreaterThanOrEqual(epochs - 2);
    }
  });
});

describe('declared shapes', () => {
  test('a named dim shared by two inputs is enforced; wrong rank and fixed dims name the input and dim', () => {
    const s = record('pair', () => {
      const x = Tensor.input('x', ['batch', 4]);
      const y = Tensor.input('y', ['batch', 2]);
      return { z: x.sum(1, true).add(y) };
    });
    expect(s.inputs.map((i) => i.shape)).toEqual([['batch', 4], ['batch', 2]]);
    expect(s.outputs[0].shape).toEqual(['batch', 2]);
    const x3 = values([3, 4], 1, -1, 1);
    expectHoduError(() => s.run({ x: x3, y: values([5, 2], 2, -1, 1) }), 'SHAPE_MISMATCH', /input 'y'/, /dim 0/, /'batch'/, /5/, /3/);
    expectHoduError(() => s.run({ x: x3, y: values([3, 3], 2, -1, 1) }), 'SHAPE_MISMATCH', /input 'y'/, /dim 1/, /expected 2/);
    expectHoduError(() => s.run({ x: values([3], 3, 0, 1), y: values([3, 2], 2, -1, 1) }), 'SHAPE_MISMATCH', /input 'x'/, /rank 2/);
    expect(counts(s)).toEqual({ compiles: 0, specializations: 0, runs: 0 });
    // warming with x alone: y's only symbolic dim is named, so its shape follows from x
    s.compile({ shapes: { x: [3, 4] } });
    expect(counts(s)).toEqual({ compiles: 1, specializations: 1, runs: 0 });
    const y3 = values([3, 2], 4, -1, 1);
    expectClose(s.run({ x: x3, y: y3 })['z'], map2(ref(x3).reshape([3, 4]).flat().reduce((acc: number[][], v, i) => {
      acc[Math.floor(i / 4)] = acc[Math.floor(i / 4)] ?? [0];
      acc[Math.floor(i / 4)][0] += v;
      return acc;
    }, []), ref(y3), (a, b) => a + b), F32);
    expect(counts(s)).toEqual({ compiles: 1, specializations: 1, runs: 1 });
  });

  test('Tensor.input rejects -1 with a hint, and other bad dims', () => {
    const b = new Builder('bad').start();
    expectHoduError(() => Tensor.input('x', [-1, 784]), 'INVALID_ARGUMENT', /null/, /name/);
    expectHoduError(() => Tensor.input('y', [1.5]), 'INVALID_ARGUMENT', /dim 0/);
    expectHoduError(() => Tensor.input('z', [''] as never), 'INVALID_ARGUMENT');
    // a symbolic dim never equals a fixed size: a matmul with a symbolic inner dim fails where it is written
    const x = Tensor.input('x', [null, 'k']);
    expectHoduError(() => x.matmul(Tensor.ones([784, 10])), 'SHAPE_MISMATCH', /matmul/);
    b.end();
  });

  test('the cache is bounded (least recently used dropped) and counted; compile({ shapes }) warms one', () => {
    const s = mlpScript().compile({ maxSpecializations: 2 });
    const x = (n: number): Tensor => values([n, 16], n, -1, 1);
    s.compile({ shapes: { x: [7, 16] } });
    expect(counts(s)).toEqual({ compiles: 1, specializations: 1, runs: 0 });
    s.run({ x: x(7) });
    expect(counts(s)).toEqual({ compiles: 1, specializations: 1, runs: 1 });
    s.run({ x: x(1) }); // cache: 7, 1
    s.run({ x: x(7) }); // hit; 7 most recent
    expect(counts(s)).toEqual({ compiles: 2, specializations: 2, runs: 3 });
    s.run({ x: x(3) }); // drops 1
    s.run({ x: x(7) }); // still cached
    expect(counts(s)).toEqual({ compiles: 3, specializations: 3, runs: 5 });
    const out = s.run({ x: x(1) }); // was dropped: specialized and compiled again
    expect(counts(s)).toEqual({ compiles: 4, specializations: 4, runs: 6 });
    expectClose(out['y'], mlpRef(x(1)), F32);
    expectHoduError(() => s.compile({ maxSpecializations: 0 }), 'INVALID_ARGUMENT', /maxSpecializations/);
    expectHoduError(() => s.compile({ shapes: { x: [2, 15] } }), 'SHAPE_MISMATCH', /input 'x'/, /dim 1/);
    expectHoduError(() => s.compile({ shapes: { w: [2, 16] } }), 'INPUT_UNKNOWN', /'w'/);
    expectHoduError(() => s.compile({ shapes: {} }), 'INPUT_MISSING', /'x'/);
    // a script without symbolic dims is one specialization
    const f = record('fixed', () => ({ y: Tensor.input('a', [2, 2]).mul(2) }));
    f.run({ a: values([2, 2], 1, 0, 1) });
    f.run({ a: values([2, 2], 2, 0, 1) });
    expect(counts(f)).toEqual({ compiles: 1, specializations: 1, runs: 2 });
  });

  test('setBackend drops compiled plans but not the specializations', () => {
    if (!xlaReady) return;
    const s = mlpScript();
    const x = values([4, 16], 5, -1, 1);
    s.run({ x });
    s.setBackend(Backend.XLA);
    expectClose(s.run({ x })['y'], mlpRef(x), F32);
    expect(counts(s)).toEqual({ compiles: 2, specializations: 1, runs: 2 });
  });
});

describe('shape ops next to a symbolic batch', () => {
  test('reshape with -1, flatten, unsqueeze/squeeze, transpose, expand', () => {
    const s = record('shapes', () => {
      const x = Tensor.input('x', [null, 2, 6]);
      const a = x.reshape([-1, 12]); // [B, 12]
      const b = x.reshape([x.shape[0], -1, 3]).flatten(1); // [B, 12]
      const c = x.flatten(0, 1).reshape([-1, 2, 6]).transpose(1, 2).flatten(1); // [B, 12] (transposed)
      const d = x.sum(2, true).unsqueeze(0).squeeze(0).expand([-1, 2, 6]).flatten(1); // [B, 12]
      return { y: a.add(b).mul(c).add(d) };
    });
    for (const n of [1, 4, 9]) {
      const x = values([n, 2, 6], n, -1, 1);
      const X = ref(x);
      const A = X.reshape([n, 12]);
      const C = X.transpose(1, 2).copy().reshape([n, 12]);
      const sums = Ref.build([n, 2, 1], ([i, j]) => [0, 1, 2, 3, 4, 5].reduce((acc, k) => acc + X.at([i, j, k]), 0));
      const D = sums.broadcastTo([n, 2, 6]).copy().reshape([n, 12]);
      const want = map2(map2(map2(A, A, (p, q) => p + q), C, (p, q) => p * q), D, (p, q) => p + q);
      expectClose(s.run({ x })['y'], want, { ...F32, label: `batch ${n}` });
    }
  });

  test('narrow / slice / split along the batch and along a fixed dim, concat with the batch', () => {
    const s = record('slices', () => {
      const x = Tensor.input('x', ['n', 5]);
      const last2 = x.narrow(0, -2, 2); // [2, 5]
      const allButFirst = x.narrow(0, 1, x.shape[0] - 1); // [n-1, 5]
      const allButLast = x.narrow(0, 0, x.shape[0] - 1); // [n-1, 5]
      const [p, q] = x.split([2, 3], 1); // [n, 2], [n, 3]
      const cat = Tensor.concat([x, last2], 0); // [n+2, 5]
      const [head, tail] = cat.split([x.shape[0], 2], 0); // [n, 5], [2, 5]
      return {
        diff: allButFirst.sub(allButLast), // [n-1, 5]
        pq: p.sum(1, true).add(q), // [n, 3]
        tail: tail.mul(2), // [2, 5]
        head: head.slice(1, 1).add(1), // [n, 4]
        firsts: x.slice(0, 0, 3), // min(3, n) rows (end clamped)
      };
    });
    expect(s.outputs.map((o) => o.shape)).toEqual([[null, 5], ['n', 3], [2, 5], ['n', 4], [3, 5]]);
    for (const n of [2, 3, 7]) {
      const x = values([n, 5], 30 + n, -1, 1);
      const X = ref(x);
      const r = s.run({ x });
      expectClose(r['diff'], Ref.build([n - 1, 5], ([i, j]) => X.at([i + 1, j]) - X.at([i, j])), { ...F32, label: `diff ${n}` });
      expectClose(r['pq'], Ref.build([n, 3], ([i, j]) => X.at([i, 0]) + X.at([i, 1]) + X.at([i, 2 + j])), { ...F32, label: `pq ${n}` });
      expectClose(r['tail'], Ref.build([2, 5], ([i, j]) => 2 * X.at([n - 2 + i, j])), { ...F32, label: `tail ${n}` });
      expectClose(r['head'], Ref.build([n, 4], ([i, j]) => X.at([i, j + 1]) + 1), { ...F32, label: `head ${n}` });
      expectClose(r['firsts'], Ref.build([Math.min(3, n), 5], ([i, j]) => X.at([i, j])), { ...F32, label: `firsts ${n}` });
    }
  });

  test('zeros/ones/full with a symbolic shape record a broadcast; a number taken from the batch size follows it', () => {
    const s = record('sizes', () => {
      const x = Tensor.input('x', [null, 3]);
      const z = Tensor.ones(x.shape).mul(2).add(Tensor.zeros([x.shape[0], 1]));
      const meanRows = x.sum(0).div(x.shape[0]); // == x.mean(0)
      const scaled = x.mul(1 / x.shape[0]);
      return { z: z.add(x), m: meanRows, sc: scaled };
    });
    for (const n of [1, 6]) {
      const x = values([n, 3], 50 + n, -1, 1);
      const X = ref(x);
      const r = s.run({ x });
      expectClose(r['z'], X.map((v) => v + 2), F32);
      expectClose(r['m'], Ref.build([3], ([j]) => Array.from({ length: n }, (_, i) => X.at([i, j])).reduce((a, v) => a + v, 0) / n), F32);
      expectClose(r['sc'], X.map((v) => v / n), F32);
    }
  });

  test('gradients of mean and var over a symbolic batch divide by the run size (counts past f32 integers)', () => {
    // 1101 columns: the recorded count 16411 * 1101 is not a float32 integer, so only a count the
    // graph computes per specialization is right
    const cols = 1101;
    const w1 = values([cols], 1, 0.5, 1.5);
    const w2 = values([cols], 2, 0.5, 1.5);
    const s = record('grads', () => {
      const x = Tensor.input('x', [null, cols]);
      const a = w1.detach().setRequiresGrad(true);
      const b = w2.detach().setRequiresGrad(true);
      x.mul(a).mean().backward();
      x.mul(b).var().backward();
      return { ga: a.grad!, gb: b.grad! };
    });
    for (const n of [2, 5]) {
      const x = values([n, cols], 90 + n, -1, 1);
      const X = ref(x);
      const W2 = ref(w2);
      const N = n * cols;
      let mean = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) mean += (X.at([i, j]) * W2.at([j])) / N;
      const r = s.run({ x });
      expectClose(r['ga'], Ref.build([cols], ([j]) => Array.from({ length: n }, (_, i) => X.at([i, j])).reduce((p, v) => p + v, 0) / N), F32);
      expectClose(
        r['gb'],
        Ref.build([cols], ([j]) => Array.from({ length: n }, (_, i) => (2 / N) * (X.at([i, j]) * W2.at([j]) - mean) * X.at([i, j])).reduce((p, v) => p + v, 0)),
        F32,
      );
    }
  });

  test('gradients through narrow and CrossEntropy with a symbolic batch (zeros of a symbolic shape in the VJPs)', () => {
    const sv = values([1, 5], 11, 0.5, 1.5);
    const Wv = values([4, 3], 12, -1, 1);
    const s = record('ce', () => {
      const x = Tensor.input('x', ['n', 5]);
      const labels = Tensor.input('labels', ['n'], DType.I64);
      const sc = sv.detach().setRequiresGrad(true);
      const W = Wv.detach().setRequiresGrad(true);
      const logits = x.mul(sc).narrow(1, 1, 4).matmul(W);
      new nn.CrossEntropy().forward([logits, labels]).backward();
      return { gs: sc.grad!, gw: W.grad! };
    });
    for (const n of [1, 6]) {
      const x = values([n, 5], 300 + n, -1, 1);
      const lab = Array.from({ length: n }, (_, i) => (i * 2) % 3);
      const X = ref(x);
      const S = ref(sv);
      const Wr = ref(Wv);
      const h = Ref.build([n, 4], ([i, j]) => X.at([i, j + 1]) * S.at([0, j + 1]));
      const z = matmul(h, Wr);
      // d loss / d logits = (softmax - onehot) / n
      const d = Ref.build([n, 3], ([i, c]) => {
        const m = Math.max(z.at([i, 0]), z.at([i, 1]), z.at([i, 2]));
        const e = [0, 1, 2].map((k) => Math.exp(z.at([i, k]) - m));
        return (e[c] / (e[0] + e[1] + e[2]) - (lab[i] === c ? 1 : 0)) / n;
      });
      const gw = matmul(h.transpose(0, 1), d);
      const dh = matmul(d, Wr.transpose(0, 1));
      const gs = Ref.build([1, 5], ([, j]) => (j === 0 ? 0 : Array.from({ length: n }, (_, i) => dh.at([i, j - 1]) * X.at([i, j])).reduce((a, v) => a + v, 0)));
      const r = s.run({ x, labels: Tensor.fromArray(lab, [n], DType.I64) });
      expectClose(r['gw'], gw, { ...F32, label: `gw ${n}` });
      expectClose(r['gs'], gs, { ...F32, label: `gs ${n}` });
    }
  });

  test('recording refuses data whose size would depend on a symbolic dim, before allocating it', () => {
    const b = new Builder('refuse').start();
    const x = Tensor.input('x', [null, 4]);
    expectHoduError(() => Tensor.randn(x.shape), 'INVALID_ARGUMENT', /symbolic/);
    expectHoduError(() => Tensor.rand([x.shape[0] * 1000, 4]), 'INVALID_ARGUMENT', /symbolic/);
    expectHoduError(() => Tensor.arange(0, x.shape[0]), 'INVALID_ARGUMENT', /symbolic/);
    expectHoduError(() => Tensor.fromArray(new Float32Array(x.shape[0])), 'INVALID_ARGUMENT', /symbolic/);
    expectHoduError(() => x.split(2, 0), 'INVALID_ARGUMENT', /symbolic/);
    expectHoduError(() => x.chunk(2, 0), 'INVALID_ARGUMENT', /symbolic/);
    expect(x.split(2, 1).length).toBe(2); // a fixed dim splits as usual
    b.end();
  });
});

describe('feeds', () => {
  test('run(feeds): a typed array for a static input, { data, shape } for a symbolic one; wrong ones are named', () => {
    const s = record('feeds', () => {
      const x = Tensor.input('x', [null, 2]);
      const w = Tensor.input('w', [2, 2]);
      return { y: x.matmul(w) };
    });
    const w = new Float32Array([1, 2, 3, 4]);
    const y = s.run({ x: { data: new Float32Array([1, 1, 0, 2, 5, 0]), shape: [3, 2] }, w })['y'];
    expectClose(y, [[4, 6], [6, 8], [5, 10]], F32);
    expectHoduError(() => s.run({ x: new Float32Array(4), w }), 'INVALID_ARGUMENT', /input 'x'/, /\{ data, shape \}/);
    expectHoduError(() => s.run({ x: { data: new Float32Array(5), shape: [3, 2] }, w }), 'SHAPE_MISMATCH', /input 'x'/, /5 values/);
    expectHoduError(() => s.run({ x: { data: new Float64Array(2), shape: [1, 2] }, w }), 'DTYPE_MISMATCH', /input 'x'/, /f32/);
    expectHoduError(() => s.run({ x: { data: new Float32Array(2), shape: [1, 2] } }), 'INPUT_MISSING', /'w'/);
    expectHoduError(() => s.run({ x: { data: new Float32Array(2), shape: [1, 2] }, w, v: w }), 'INPUT_UNKNOWN', /'v'/);
    // feeds override addInput for this run only
    s.addInput('w', Tensor.fromArray([[0, 0], [0, 0]]));
    expectClose(s.run({ x: { data: new Float32Array([1, 1]), shape: [1, 2] }, w })['y'], [[4, 6]], F32);
    expectClose(s.run({ x: { data: new Float32Array([1, 1]), shape: [1, 2] } })['y'], [[0, 0]], F32);
  });
});

describe('files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-shapes-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('saved and loaded scripts keep their symbolic dims and specialize the same way', () => {
    const s = cnnScript();
    const file = s.save(path.join(dir, 'cnn'));
    const t = Script.load(file);
    const u = Script.fromBytes(s.toBytes());
    for (const v of [t, u]) {
      expect(v.inputs).toEqual(s.inputs);
      expect(v.outputs).toEqual(s.outputs);
      for (const n of [2, 5]) {
        const x = values([n, 1, 10, 10], 80 + n, -1, 1);
        expectClose(v.run({ img: x })['logits'], cnnRef(x), F32);
      }
    }
  });

  test('format 1 files (no metadata) still load', () => {
    const s = record('old', () => ({ y: Tensor.input('a', [2, 3]).mul(3) }));
    const v2 = s.toBytes();
    // rebuild the same file in the version 1 layout: no metadata block, version 1, new checksum
    const dv = new DataView(v2.buffer, v2.byteOffset, v2.byteLength);
    expect(dv.getUint32(8, true)).toBe(2);
    const nameLen = dv.getUint32(16, true);
    const metaAt = 20 + nameLen;
    const metaLen = dv.getUint32(metaAt, true);
    const pad = (n: number): number => (64 - (n % 64)) % 64;
    // the header after the metadata, then the 64-aligned data: re-align it for the shorter header
    const rest = v2.subarray(metaAt + 4 + metaLen, v2.length - 32);
    const count = new DataView(rest.buffer, rest.byteOffset).getUint32(0, true);
    const headerRest = 4 + 8 * count + 8;
    const oldHeader = metaAt + 4 + metaLen + headerRest;
    const data = v2.subarray(oldHeader + pad(oldHeader), v2.length - 32);
    const newHeader = metaAt + headerRest;
    const body = new Uint8Array(newHeader + pad(newHeader) + data.length);
    body.set(v2.subarray(0, metaAt), 0);
    body.set(rest.subarray(0, headerRest), metaAt);
    body.set(data, newHeader + pad(newHeader));
    new DataView(body.buffer).setUint32(8, 1, true);
    const v1 = new Uint8Array(body.length + 32);
    v1.set(body, 0);
    v1.set(createHash('sha256').update(body).digest(), body.length);
    const t = Script.fromBytes(v1);
    expect(t.inputs).toEqual(s.inputs);
    expectClose(t.run({ a: Tensor.fromArray([[1, 2, 3], [4, 5, 6]]) })['y'], [[3, 6, 9], [12, 15, 18]], F32);
  });

  test('bad symbolic metadata is INVALID_FILE', () => {
    const s = mlpScript();
    const good = s.toBytes();
    const text = Buffer.from(good).toString('latin1').replace('"shapes":{"x":[null,16]}', '"shapes":{"x":[null,17]}');
    const bytes = Buffer.from(text, 'latin1');
    const body = bytes.subarray(0, bytes.length - 32);
    createHash('sha256').update(body).digest().copy(bytes, bytes.length - 32);
    expectHoduError(() => Script.fromBytes(new Uint8Array(bytes)), 'INVALID_FILE', /dim 1/);
  });
});

describe('Script._fromTracer', () => {
  test('re-traces per shape signature, shares the cache and stats; cannot be saved', () => {
    const traced: number[][] = [];
    const s = Script._fromTracer(
      'traced',
      [{ name: 'x', shape: ['n', 3], dtype: DType.F32 }],
      [{ name: 'y', shape: ['n'], dtype: DType.F32 }],
      (shapes) => {
        traced.push(shapes.x);
        const b = new Builder('t').start();
        b.addOutput('y', Tensor.input('x', shapes.x).sum(1).mul(shapes.x[0]));
        const g = b.build();
        return { ir: g._ir, constants: g._constants };
      },
    );
    expect(s.inputs[0].shape).toEqual(['n', 3]);
    for (const n of [2, 4, 2]) {
      const x = values([n, 3], n, -1, 1);
      const X = ref(x);
      expectClose(s.run({ x })['y'], Ref.build([n], ([i]) => n * (X.at([i, 0]) + X.at([i, 1]) + X.at([i, 2]))), F32);
    }
    expect(traced).toEqual([[2, 3], [4, 3]]);
    expect(counts(s)).toEqual({ compiles: 2, specializations: 2, runs: 3 });
    expectHoduError(() => s.toBytes(), 'INVALID_ARGUMENT', /cannot be saved/);
    expectHoduError(() => s.run({ x: values([2, 4], 1, 0, 1) }), 'SHAPE_MISMATCH', /input 'x'/, /dim 1/);
  });
});

describe('examples/serve-http.ts', () => {
  test('serves 1..32-row requests on 127.0.0.1 (ephemeral port) with warmed specializations and answers like dynamic mode', () => {
    const root = path.join(__dirname, '..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'examples', 'serve-http.ts')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 110000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/"compiles":32,"specializations":32,"runs":40/);
    expect(r.stdout).toMatch(/HTTP 400/);
  });
});

describe('limits', () => {
  test('a recording whose placeholder sizes exceed the element limit fails with a clear error', () => {
    const b = new Builder('big').start();
    expectHoduError(() => Tensor.input('x', [null, null, null, 1000]), 'INVALID_ARGUMENT', /too large to record/, /2\^40/);
    const x = Tensor.input('x2', [null, 'seq', 1, 64]);
    const y = Tensor.input('y2', ['seq', 64]);
    expect(x.shape[0]).toBe(16411); // the failed declaration took no placeholder
    expectHoduError(() => x.mul(y), 'INVALID_ARGUMENT', /placeholder size/, /2\^40/);
    b.end();
  });
});

describe.each(BACKENDS)('variables with a symbolic batch on %s', (backend) => {
  test('a per-batch training step recorded once learns across runs on batches of different sizes (float64 SGD reference)', () => {
    manualSeed(7);
    const model = new nn.Linear(3, 1);
    const mse = new nn.MSE();
    const opt = new nn.SGD(0.05);
    const b = new Builder('step').start();
    const x = Tensor.input('x', ['n', 3]);
    const y = Tensor.input('y', ['n', 1]);
    const loss = mse.forward([model.forward(x), y]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('loss', loss);
    const s = b.end().build().setBackend(backend);
    expect(s.inputs.map((i) => i.shape)).toEqual([['n', 3], ['n', 1]]);
    expect(s.outputs).toEqual([{ name: 'loss', dtype: DType.F32, shape: [] }]);
    let w = (model.weight.toArray() as number[][])[0].slice();
    let bias = (model.bias!.toArray() as number[])[0];
    for (const [k, n] of [4, 11, 1, 4, 23].entries()) {
      const xv = values([n, 3], 100 + k, -1, 1);
      const yv = values([n, 1], 200 + k, -1, 1);
      const X = xv.toArray() as number[][];
      const Y = (yv.toArray() as number[][]).map((r) => r[0]);
      const err = X.map((r, i) => r[0] * w[0] + r[1] * w[1] + r[2] * w[2] + bias - Y[i]);
      const lossRef = err.reduce((a, v) => a + v * v, 0) / n;
      w = w.map((v, j) => v - 0.05 * (2 / n) * err.reduce((a, e, i) => a + e * X[i][j], 0));
      bias -= 0.05 * (2 / n) * err.reduce((a, e) => a + e, 0);
      expectClose(s.run({ x: xv, y: yv })['loss'], lossRef, { ...F32, label: `step ${k} (batch ${n})` });
      expectClose(model.weight, [w], { ...F32, label: `weight after step ${k}` });
      expectClose(model.bias!, [bias], { ...F32, label: `bias after step ${k}` });
    }
    expect(counts(s)).toEqual({ compiles: 4, specializations: 4, runs: 5 });
    // saved with its variables and symbolic dims; the loaded script owns a copy of the weights
    const t = Script.fromBytes(s.toBytes()).setBackend(backend);
    expect(t.inputs).toEqual(s.inputs);
    const before = model.weight.toArray();
    t.run({ x: values([6, 3], 1, -1, 1), y: values([6, 1], 2, -1, 1) });
    expect(model.weight.toArray()).toEqual(before);
    expect(t.variables['weight'].toArray()).not.toEqual(before);
  });

  test('Dropout draws a mask of the run\'s batch size', () => {
    manualSeed(1);
    const drop = new nn.Dropout(0.5);
    const b = new Builder('drop').start();
    b.addOutput('y', drop.forward(Tensor.input('x', [null, 8])));
    const s = b.end().build().setBackend(backend);
    for (const n of [3, 40]) {
      const x = values([n, 8], n, 1, 2);
      const X = ref(x).flat();
      const got = s.run({ x })['y'];
      expect(Array.from(got.shape)).toEqual([n, 8]);
      const g = Array.from(got.toTypedArray() as Float32Array);
      g.forEach((v, i) => expect(v === 0 || Math.abs(v - 2 * X[i]) <= 1e-5 * 2 * X[i]).toBe(true));
      const kept = g.filter((v) => v !== 0).length;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(g.length);
    }
  });
});

describe.each(BACKENDS)('read-only parameters with a symbolic batch on %s', (backend) => {
  test('an evaluation script sees the current weights at every batch size (HODU bakes them in per specialization)', () => {
    manualSeed(5);
    const model = new nn.Linear(4, 2);
    const b = new Builder('eval').start();
    b.addOutput('y', model.forward(Tensor.input('x', [null, 4])));
    const s = b.end().build().setBackend(backend);
    const check = (n: number, label: string): void => {
      const x = values([n, 4], 400 + n, -1, 1);
      const want = addRow(matmul(ref(x), ref(model.weight).transpose(0, 1)), ref(model.bias!));
      expectClose(s.run({ x })['y'], want, { ...F32, label });
    };
    check(3, 'b3');
    check(8, 'b8');
    const c0 = counts(s).compiles;
    // change the weights in place (a dynamic-mode training step would do the same)
    model.weight.assign(values([2, 4], 9, -2, 2));
    model.bias!.assign(values([2], 10, -1, 1));
    check(3, 'b3 after the update');
    check(8, 'b8 after the update');
    check(1, 'b1 after the update');
    if (backend === Backend.HODU) expect(counts(s).compiles).toBeGreaterThanOrEqual(c0 + 1);
  });
});
