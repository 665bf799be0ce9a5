// How compiled scripts hold their data: constant weights packed once at compile into the layout
// oneDNN reads, conv results kept channels-last (nhwc) between convs and pools, and the output
// memory of run() loops that never dispose nor yield. Results are checked against float64
// references computed here, and against the same script compiled without the layout choice.
import { Builder, Tensor } from '../lib';
import * as R from './helpers/reference';
import { expectNear, f32, record, values as valuesIn } from './helpers/script-util';

const values = (shape: number[], seed: number, lo = -1, hi = 1): Tensor => valuesIn(shape, seed, lo, hi);

afterEach(() => Builder._abortActive());

const ref = (t: Tensor): R.Ref => new R.Ref(Array.from(f32(t)), [...t.shape]);
const relu = (r: R.Ref): R.Ref => new R.Ref(r.data.map(R.fn.relu), r.shape);

describe('constant weights are packed at compile', () => {
  test.each([1, 5, 64])('x @ W + b, relu with a constant 300x70 W, batch %i: one matmul kernel, b pre-packed', (m) => {
    const w = values([300, 70], 1);
    const b = values([70], 2);
    const s = record('mm', { x: [m, 300] }, (i) => i.x.matmul(w).add(b).relu());
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.kernels[0]).toMatch(/\(b pre-packed\)/);
    expect(info.kernels[0]).not.toMatch(/ref/);
    // the plan keeps the packed copy only: of its constants just the bias (70 floats) is left
    expect(info.constantBytes).toBe(70 * 4);
    const x = values([m, 300], 3);
    s.addInput('x', x);
    const want = R.matmul(ref(x), ref(w)).data.map((v, k) => R.fn.relu(v + f32(b)[k % 70]));
    expectNear(f32(s.run().y), want, 1e-4, 1e-5);
    // new inputs, the same packed weights
    const x2 = values([m, 300], 4);
    s.addInput('x', x2);
    expectNear(f32(s.run().y), R.matmul(ref(x2), ref(w)).data.map((v, k) => R.fn.relu(v + f32(b)[k % 70])), 1e-4, 1e-5);
  });

  test('a transposed constant (a strided view) and weights given as an input both stay correct', () => {
    const wt = values([70, 300], 5);
    const s = record('mmt', { x: [4, 300] }, (i) => i.x.matmul(wt.t()));
    const x = values([4, 300], 6);
    s.addInput('x', x);
    const want = R.matmul(ref(x), new R.Ref(transpose(f32(wt), 70, 300), [300, 70]));
    expectNear(f32(s.run().y), want.data, 1e-4, 1e-5);

    const s2 = record('mmw', { x: [4, 300], w: [300, 70] }, (i) => i.x.matmul(i.w));
    expect(s2.planInfo().kernels.join(' ')).not.toMatch(/pre-packed/);
    const w = values([300, 70], 7);
    s2.addInput('x', x).addInput('w', w);
    expectNear(f32(s2.run().y), R.matmul(ref(x), ref(w)).data, 1e-4, 1e-5);
  });

  test('conv2d with constant weights reorders them at compile, not per run', () => {
    const w = values([16, 8, 3, 3], 8, -0.3, 0.3);
    const b = values([16], 9);
    const s = record('conv', { x: [2, 8, 10, 10] }, (i) => i.x.conv2d(w, b, { padding: 1 }));
    const k = s.planInfo().kernels[0];
    expect(k).not.toMatch(/weights reorder/);
    const x = values([2, 8, 10, 10], 10);
    s.addInput('x', x);
    expectNear(f32(s.run().y), R.conv2d(ref(x), ref(w), ref(b), { padding: [1, 1] }).data, 1e-4, 1e-5);
  });
});

function transpose(a: Float32Array, rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

describe('channels-last between convs and pools', () => {
  const w1 = values([32, 3, 3, 3], 11, -0.3, 0.3), b1 = values([32], 12, -0.1, 0.1);
  const w2 = values([64, 32, 3, 3], 13, -0.1, 0.1), b2 = values([64], 14, -0.1, 0.1);
  const cnn = (x: Tensor): Tensor => x.conv2d(w1, b1).relu().conv2d(w2, b2).relu().maxPool2d({ kernel: 2 }).flatten(1);
  const cnnRef = (x: Tensor): R.Ref => {
    const h1 = relu(R.conv2d(ref(x), ref(w1), ref(b1)));
    const h2 = relu(R.conv2d(h1, ref(w2), ref(b2)));
    return R.pool2d(h2, 'max', { kernel: [2, 2] });
  };

  test.each([1, 3])('conv-relu-conv-relu-pool, batch %i: no reorder into the second conv or the pool', (n) => {
    const s = record('cnn', { x: [n, 3, 14, 14] }, (i) => cnn(i.x));
    const kernels = s.planInfo().kernels;
    // conv+relu, conv+relu, the pool, and the copy of the flattened (view) output
    expect(kernels.map((k) => k.split(' ')[0])).toEqual(['relu', 'relu', 'max_pool2d', 'output_copy']);
    // the first conv writes nhwc, which the second reads in place; its nhwc result feeds the pool
    expect(kernels[0]).not.toMatch(/dst reorder/);
    expect(kernels[1]).not.toMatch(/src reorder|dst reorder/);
    expect(kernels[2]).not.toMatch(/src reorder/);
    for (const k of kernels) expect(k).not.toMatch(/ref/);
    const x = values([n, 3, 14, 14], 15 + n);
    s.addInput('x', x);
    const got = f32(s.run().y);
    expectNear(got, cnnRef(x).data, 1e-4, 1e-5);

    s.compile({ channelsLast: false });
    expect(s.planInfo().kernels[1]).toMatch(/src reorder/);
    expectNear(f32(s.run().y), got, 1e-5, 1e-6);
  });

  test('a conv result also read by a non-conv op stays contiguous and correct', () => {
    const s = record('two_readers', { x: [2, 3, 12, 12] }, (i) => {
      const h = i.x.conv2d(w1, b1).relu();
      return h.conv2d(w2, b2).sum([2, 3]).add(h.mean([2, 3]).sum(1, true));
    });
    const x = values([2, 3, 12, 12], 16);
    s.addInput('x', x);
    const h = relu(R.conv2d(ref(x), ref(w1), ref(b1)));
    const c2 = R.conv2d(h, ref(w2), ref(b2));
    const s2 = R.reduce(c2, [2, 3], false, (v) => v.reduce((a, b) => a + b, 0));
    const hm = R.reduce(R.reduce(h, [2, 3], false, (v) => v.reduce((a, b) => a + b, 0) / v.length), 1, true, (v) => v.reduce((a, b) => a + b, 0));
    const want = s2.data.map((v, k) => v + hm.data[Math.floor(k / 64)]);
    expectNear(f32(s.run().y), want, 1e-4, 1e-4);
  });

  test.each([
    [2, 2, 0],
    [3, 2, 1],
    [3, 1, 1],
  ])('max pooling %i/%i pad %i of a channels-last conv result (with -inf and NaN) matches the reference', (k, st, pad) => {
    const s = record('pool_cl', { x: [2, 3, 9, 9] }, (i) => i.x.conv2d(w1, b1).maxPool2d({ kernel: k, stride: st, padding: pad }));
    expect(s.planInfo().kernels[1]).toMatch(/^max_pool2d loop:max_pool2d_nhwc/);
    const xv = f32(values([2, 3, 9, 9], 20 + k)).slice();
    xv[3 * 81 + 40] = NaN; // image 1, channel 0, the middle pixel
    const x = Tensor.fromArray(xv, [2, 3, 9, 9]);
    // a bias of -inf on channel 5: that channel's whole conv output is -inf
    const bInf = Tensor.fromArray(Array.from(f32(b1), (v, c) => (c === 5 ? -Infinity : v)), [32]);
    const s2 = record('pool_cl_inf', { x: [2, 3, 9, 9] }, (i) => i.x.conv2d(w1, bInf).maxPool2d({ kernel: k, stride: st, padding: pad }));
    for (const [script, bias] of [[s, b1], [s2, bInf]] as const) {
      script.addInput('x', x);
      const want = R.pool2d(R.conv2d(ref(x), ref(w1), ref(bias)), 'max', { kernel: [k, k], stride: [st, st], padding: [pad, pad] });
      const got = f32(script.run().y);
      expectNear(got, want.data, 1e-4, 1e-5);
      expect(got.some(Number.isNaN)).toBe(true);
    }
  });

  test('average pooling, and max pooling of few channels, over channels-last conv results', () => {
    const w4 = values([4, 3, 3, 3], 30, -0.3, 0.3), b4 = values([4], 31, -0.1, 0.1);
    const x = values([2, 3, 10, 10], 32);
    const avg = record('avg_cl', { x: [2, 3, 10, 10] }, (i) => i.x.conv2d(w1, b1).relu().avgPool2d({ kernel: 3, stride: 2, padding: 1 }));
    avg.addInput('x', x);
    const h = relu(R.conv2d(ref(x), ref(w1), ref(b1)));
    expectNear(f32(avg.run().y), R.pool2d(h, 'avg', { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }).data, 1e-4, 1e-5);

    const xv = f32(x).slice();
    xv[17] = NaN;
    const xn = Tensor.fromArray(xv, [2, 3, 10, 10]);
    const few = record('max_c4', { x: [2, 3, 10, 10] }, (i) => i.x.conv2d(w4, b4).maxPool2d({ kernel: 2 }));
    few.addInput('x', xn);
    const got = f32(few.run().y);
    expectNear(got, R.pool2d(R.conv2d(ref(xn), ref(w4), ref(b4)), 'max', { kernel: [2, 2] }).data, 1e-4, 1e-5);
    expect(got.some(Number.isNaN)).toBe(true);
  });

  test('max pooling over a channels-last conv result propagates NaN', () => {
    const s = record('nan_pool', { x: [1, 3, 8, 8] }, (i) => i.x.conv2d(w1, b1).maxPool2d({ kernel: 2 }));
    const xv = f32(values([1, 3, 8, 8], 17)).slice();
    xv[0] = NaN; // reaches every output channel's window at (0, 0)
    const x = Tensor.fromArray(xv, [1, 3, 8, 8]);
    s.addInput('x', x);
    const got = f32(s.run().y);
    const want = R.pool2d(R.conv2d(ref(x), ref(w1), ref(b1)), 'max', { kernel: [2, 2] });
    expectNear(got, want.data, 1e-4, 1e-5);
    expect(Number.isNaN(got[0])).toBe(true);
  });
});

describe('output memory', () => {
  test('a synchronous run() loop that drops 4 MB outputs keeps its memory bounded', () => {
    const s = record('big', { x: [1 << 20] }, (i) => i.x.mul(2).add(1));
    const x = values([1 << 20], 18);
    s.addInput('x', x);
    const xv = f32(x);
    const first = f32(s.run().y);
    expect(first[12345]).toBeCloseTo(xv[12345] * 2 + 1, 5);
    const rss0 = process.memoryUsage().rss;
    let check = 0;
    // 250 runs x 4 MB = 1 GB if no output memory came back before the loop ends
    for (let i = 0; i < 250; i++) {
      const y = f32(s.run().y);
      check += y[i * 4001] - (xv[i * 4001] * 2 + 1);
    }
    const grown = process.memoryUsage().rss - rss0;
    expect(Math.abs(check)).toBeLessThan(1e-3);
    expect(grown).toBeLessThan(400 * 2 ** 20);

    // past the pool's bound: the outputs are V8-owned, and dispose() still frees them at once
    const y = s.run().y;
    const view = f32(y);
    expect(view[99]).toBeCloseTo(xv[99] * 2 + 1, 5);
    y.dispose();
    expect(view.buffer.byteLength).toBe(0);
    expect(() => y.toTypedArray()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });
});
