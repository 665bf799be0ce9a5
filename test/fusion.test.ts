// Fusion in compiled scripts: elementwise chains run as one fused kernel, conv2d takes its bias
// add and activation as oneDNN post-ops. Checks the plan (planInfo) and the results against
// float64 references computed here, and against the same script compiled without fusion.
import { Builder, Tensor } from '../lib';
import * as R from './helpers/reference';
import { expectNear, f32, record, values as valuesIn } from './helpers/script-util';

const values = (shape: number[], seed: number, lo = -3, hi = 3): Tensor => valuesIn(shape, seed, lo, hi);

afterEach(() => Builder._abortActive());

const FUSED_CHAIN = /^mul loop:fused\[mul,add,tanh,sigmoid,mul\]/;

describe('elementwise chains', () => {
  test.each([1, 7, 1000, 4099, 70001])('tanh(x*2+1)*sigmoid(x) on %i floats is one fused kernel', (n) => {
    const s = record('chain', { x: [n] }, (i) => i.x.mul(2).add(1).tanh().mul(i.x.sigmoid()));
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.fused).toBe(4);
    expect(info.kernels).toHaveLength(1);
    expect(info.kernels[0]).toMatch(FUSED_CHAIN);
    const x = values([n], n);
    s.addInput('x', x);
    const got = f32(s.run().y);
    const xv = f32(x);
    const want = Array.from(xv, (v) => Math.tanh(v * 2 + 1) * R.fn.sigmoid(v));
    expectNear(got, want, 1e-5, 1e-6);

    // the same script without fusion: five kernels, the same values (bit for bit while the separate
    // kernels run the same loop math, below oneDNN's sizes)
    s.compile({ fuse: false });
    expect(s.planInfo().steps).toBe(5);
    expect(s.planInfo().fused).toBe(0);
    const unfused = f32(s.run().y);
    if (n < 16384) expect(Array.from(got)).toEqual(Array.from(unfused));
    else expectNear(got, unfused, 1e-6, 1e-7);
  });

  test('a broadcast constant, a scalar and a permuted (strided) input in one fused pass', () => {
    const bias = values([5], 11, -1, 1);
    const s = record('bcast', { x: [3, 4, 5], y: [5, 4, 3] }, (i) =>
      i.x.mul(0.5).add(i.y.permute([2, 1, 0])).sub(bias).relu().exp().minimum(3),
    );
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.kernels[0]).toMatch(/^minimum loop:fused\[mul,add,sub,relu,exp,minimum\]/);
    expect(info.fused).toBe(5);
    const x = values([3, 4, 5], 1);
    const y = values([5, 4, 3], 2);
    s.addInput('x', x).addInput('y', y);
    const got = f32(s.run().y);
    const X = new R.Ref(Array.from(f32(x)), [3, 4, 5]);
    const Y = new R.Ref(Array.from(f32(y)), [5, 4, 3]);
    const B = Array.from(f32(bias));
    const want = R.Ref.build([3, 4, 5], ([a, b, c]) => {
      const v = R.fn.relu(X.at([a, b, c]) * 0.5 + Y.at([c, b, a]) - B[c]);
      return Math.min(Math.exp(v), 3);
    });
    expectNear(got, want.data, 1e-5, 1e-6);
  });

  test('maximum and minimum propagate NaN from either operand inside a fused chain', () => {
    const s = record('nan', { x: [6], y: [6] }, (i) => i.x.neg().maximum(i.y).mul(2).minimum(i.y.abs()));
    expect(s.planInfo().kernels[0]).toMatch(/loop:fused\[neg,maximum,mul,abs,minimum\]/);
    s.addInput('x', Tensor.fromArray([NaN, 1, -2, 3, NaN, 0.5])).addInput('y', Tensor.fromArray([1, NaN, 0.5, -4, NaN, 2]));
    const got = Array.from(f32(s.run().y));
    const xs = [NaN, 1, -2, 3, NaN, 0.5];
    const ys = [1, NaN, 0.5, -4, NaN, 2];
    const want = xs.map((v, k) => R.fn.minimum(R.fn.maximum(-v, ys[k]) * 2, Math.abs(ys[k])));
    expectNear(got, want, 1e-6, 0);
    expect(got.map(Number.isNaN)).toEqual([true, true, false, false, true, false]);
  });

  test('an intermediate read twice is not fused away', () => {
    // t = x * 2 feeds two ops: it is computed once, the two readers form their own groups
    const s = record('shared', { x: [100] }, (i) => {
      const t = i.x.mul(2);
      return t.tanh().add(t.sigmoid());
    });
    const info = s.planInfo();
    expect(info.kernels.some((k) => /loop:fused\[tanh,sigmoid,add\]/.test(k))).toBe(true);
    const x = values([100], 3);
    s.addInput('x', x);
    const want = Array.from(f32(x), (v) => Math.tanh(v * 2) + R.fn.sigmoid(v * 2));
    expectNear(f32(s.run().y), want, 1e-5, 1e-6);
  });
});

describe('conv2d post-ops', () => {
  const N = 2, C = 3, H = 9, W = 8, O = 8;
  const w = values([O, C, 3, 3], 21, -0.5, 0.5);
  const b = values([O], 22, -0.5, 0.5);
  const x = values([N, C, H, W], 23, -1, 1);
  const convRef = (): R.Ref => R.conv2d(new R.Ref(Array.from(f32(x)), [N, C, H, W]), new R.Ref(Array.from(f32(w)), [O, C, 3, 3]),
    new R.Ref(Array.from(f32(b)), [O]), { padding: [1, 1] });

  test('conv2d(w, b).relu() runs as one oneDNN convolution with a relu post-op', () => {
    const s = record('conv_relu', { x: [N, C, H, W] }, (i) => i.x.conv2d(w, b, { padding: 1 }).relu());
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.fused).toBe(1);
    expect(info.kernels[0]).toMatch(/^relu onednn:\S+ \+relu/);
    expect(info.kernels[0]).not.toMatch(/ref/);
    s.addInput('x', x);
    const got = f32(s.run().y);
    expectNear(got, convRef().data.map(R.fn.relu), 1e-4, 1e-5);
  });

  test('a per-channel add and a full-shaped residual add fuse too', () => {
    const scale = values([O, 1, 1], 24, -1, 1);
    const s = record('conv_add', { x: [N, C, H, W], r: [N, O, H, W] }, (i) =>
      i.x.conv2d(w, b, { padding: 1 }).add(scale).add(i.r).tanh(),
    );
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.fused).toBe(3);
    expect(info.kernels[0]).toMatch(/^tanh onednn:\S+ \+add \+add \+tanh/);
    expect(info.kernels[0]).not.toMatch(/ref/);
    const r = values([N, O, H, W], 25, -1, 1);
    s.addInput('x', x).addInput('r', r);
    const got = f32(s.run().y);
    const sc = Array.from(f32(scale));
    const rv = Array.from(f32(r));
    const per = H * W;
    const want = convRef().data.map((v, k) => Math.tanh(v + sc[Math.floor(k / per) % O] + rv[k]));
    expectNear(got, want, 1e-4, 1e-5);
  });

  test('a post-op oneDNN cannot express is left to its own kernel', () => {
    // exp: oneDNN gives exp(NaN) = inf, so it is not a post-op: conv2d and exp run as two kernels
    const s = record('conv_exp', { x: [N, C, H, W] }, (i) => i.x.conv2d(w, b, { padding: 1 }).exp());
    const info = s.planInfo();
    expect(info.steps).toBe(2);
    expect(info.fused).toBe(0);
    s.addInput('x', x);
    expectNear(f32(s.run().y), convRef().data.map(Math.exp), 1e-4, 1e-5);
  });
});
