// Every VJP against central finite differences in float64, in dynamic mode and in builder mode;
// accumulation, detach, noGrad, errors; the tape does not grow across steps.
import { Builder, DType, Tensor, manualSeed, noGrad } from '../lib';
import { codeOf } from './helpers/assert';

afterEach(() => Builder._abortActive());

const flat = (t: Tensor): number[] => Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);

interface GradCase {
  name: string;
  f: (...x: Tensor[]) => Tensor;
  inputs: () => Tensor[]; // F64 inputs (the differentiable ones first)
  diff?: number[]; // which inputs to differentiate (default: all float inputs)
  eps?: number;
  tol?: number;
}

manualSeed(11);
const rn = (...s: number[]) => Tensor.randn(s, DType.F64);
const rpos = (...s: number[]) => Tensor.rand(s, DType.F64, 0.5, 2);
// values kept away from kinks (0 for relu/abs, ties for max) so finite differences are valid
const away = (...s: number[]) => {
  const t = Tensor.rand(s, DType.F64, 0.2, 1.5);
  const sign = Tensor.rand(s, DType.F64, -1, 1).sign();
  return t.mul(sign);
};

const CASES: GradCase[] = [
  { name: 'add broadcast', f: (a, b) => a.add(b), inputs: () => [rn(3, 4), rn(4)] },
  { name: 'sub broadcast', f: (a, b) => a.sub(b), inputs: () => [rn(3, 1), rn(1, 4)] },
  { name: 'mul', f: (a, b) => a.mul(b), inputs: () => [rn(2, 3), rn(2, 3)] },
  { name: 'div', f: (a, b) => a.div(b), inputs: () => [rn(2, 3), rpos(3)] },
  { name: 'pow', f: (a, b) => a.pow(b), inputs: () => [rpos(4), rn(4)] },
  { name: 'maximum/minimum', f: (a, b) => a.maximum(b).add(a.minimum(b).mul(2)), inputs: () => [away(5), away(5).mul(0.5)] },
  { name: 'neg/abs/square', f: (a) => a.neg().add(a.abs()).add(a.square()), inputs: () => [away(6)] },
  { name: 'sqrt/recip/ln', f: (a) => a.sqrt().add(a.recip()).add(a.ln()), inputs: () => [rpos(6)] },
  { name: 'log2/log10/exp2/exp10', f: (a) => a.log2().add(a.log10()).add(a.exp2()).add(a.exp10()), inputs: () => [rpos(5)] },
  { name: 'exp/sin/cos/tan', f: (a) => a.exp().add(a.sin()).add(a.cos()).add(a.mul(0.3).tan()), inputs: () => [rn(6)] },
  { name: 'relu/leakyRelu/elu', f: (a) => a.relu().add(a.leakyRelu(0.1)).add(a.elu(0.7)), inputs: () => [away(8)] },
  { name: 'sigmoid/tanh/softplus/silu/gelu', f: (a) => a.sigmoid().add(a.tanh()).add(a.softplus()).add(a.silu()).add(a.gelu()), inputs: () => [rn(8)] },
  { name: 'clamp', f: (a) => a.clamp(-0.5, 0.5).add(a.clamp(-Infinity, 0.1)), inputs: () => [away(8)] },
  { name: 'where', f: (c, a, b) => Tensor.where(c.gt(0), a, b), inputs: () => [rn(3, 3), rn(3, 3), rn(3)], diff: [1, 2] },
  { name: 'matmul 2-D', f: (a, b) => a.matmul(b), inputs: () => [rn(3, 4), rn(4, 2)] },
  { name: 'matmul batched broadcast', f: (a, b) => a.matmul(b), inputs: () => [rn(2, 3, 4), rn(4, 5)] },
  { name: 'matmul 1-D', f: (a, b) => a.matmul(b).add(b.t().matmul(a).sum()), inputs: () => [rn(4), rn(4, 3)] },
  { name: 'matmul transposed view', f: (a, b) => a.t().matmul(b), inputs: () => [rn(4, 3), rn(4, 2)] },
  { name: 'sum/mean dims keepdim', f: (a) => a.sum(1).add(a.mean([0, 2], true).sum()).add(a.sum(-1, true).mean()), inputs: () => [rn(2, 3, 4)] },
  { name: 'max/min', f: (a) => a.max(1).add(a.min(0).sum()), inputs: () => [rn(3, 4)] },
  { name: 'prod', f: (a) => a.prod(1), inputs: () => [rpos(2, 3)] },
  { name: 'var/std/norm', f: (a) => a.var(1).add(a.std(1)).add(a.norm(1)), inputs: () => [rn(3, 5)] },
  { name: 'full reductions', f: (a) => a.sum().add(a.mean()).add(a.var()).add(a.norm()).reshape([1]), inputs: () => [rn(2, 3)] },
  { name: 'reshape/permute/transpose', f: (a) => a.reshape([4, 6]).t().reshape([2, 3, 4]).permute([2, 0, 1]).transpose(0, 1), inputs: () => [rn(2, 3, 4)] },
  { name: 'broadcastTo/expand', f: (a) => a.broadcastTo([2, 3, 4]).add(a.expand([-1, 4])), inputs: () => [rn(3, 1)] },
  { name: 'slice/narrow', f: (a) => a.slice(1, 1, 6, 2).add(a.narrow(1, 0, 3)), inputs: () => [rn(3, 6)] },
  { name: 'split/chunk/concat', f: (a) => Tensor.concat([a.split(2, 1)[1], a.chunk(3, 1)[0]], 0), inputs: () => [rn(2, 6)] },
  { name: 'squeeze/unsqueeze/flatten', f: (a) => a.unsqueeze(1).squeeze().flatten(), inputs: () => [rn(3, 4)] },
  { name: 'indexSelect', f: (a) => a.indexSelect(0, Tensor.fromArray([2, 0, 2], undefined, DType.I64)), inputs: () => [rn(3, 4)] },
  { name: 'gather', f: (a) => a.gather(1, Tensor.fromArray([[0, 2, 2], [1, 0, 1]], undefined, DType.I64)), inputs: () => [rn(2, 3)] },
  { name: 'softmax/logSoftmax', f: (a) => a.softmax(1).add(a.logSoftmax(0)), inputs: () => [rn(3, 4)] },
  { name: 'cast f32 roundtrip', f: (a) => a.toDtype(DType.F32).toDtype(DType.F64).mul(a), inputs: () => [rn(4)], eps: 1e-3, tol: 1e-3 }, // f32 rounding: a larger step
  { name: 'conv2d', f: (x, w, b) => x.conv2d(w, b, { stride: 2, padding: 1 }), inputs: () => [rn(2, 2, 5, 5), rn(3, 2, 3, 3), rn(3)] },
  { name: 'conv2d groups dilation', f: (x, w) => x.conv2d(w, null, { padding: 2, dilation: 2, groups: 2 }), inputs: () => [rn(1, 4, 5, 5), rn(4, 2, 3, 3)] },
  { name: 'maxPool2d', f: (x) => x.maxPool2d({ kernel: 2, stride: 2 }), inputs: () => [rn(1, 2, 4, 4)] },
  { name: 'avgPool2d padded', f: (x) => x.avgPool2d({ kernel: 3, stride: 2, padding: 1 }), inputs: () => [rn(1, 2, 5, 5)] },
];

/** weights make the loss sensitive to every output element differently */
function lossOf(out: Tensor, w: Tensor): Tensor {
  return out.mul(w).sum();
}

function numericGrads(c: GradCase, inputs: Tensor[], w: Tensor): number[][] {
  const eps = c.eps ?? 1e-6;
  const diff = c.diff ?? inputs.map((_, i) => i);
  return noGrad(() =>
    inputs.map((x, k) => {
      if (!diff.includes(k)) return [];
      const base = flat(x);
      const g: number[] = [];
      for (let i = 0; i < base.length; i++) {
        const at = (d: number) => {
          const v = base.slice();
          v[i] += d;
          const xs = inputs.slice();
          xs[k] = Tensor.fromArray(v, x.shape, DType.F64);
          return lossOf(c.f(...xs), w).item();
        };
        g.push((at(eps) - at(-eps)) / (2 * eps));
      }
      return g;
    }),
  );
}

function expectClose(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol * (1 + Math.abs(want[i])))) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]} (tol ${tol})`);
  }
}

describe('VJPs match central finite differences (f64)', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s (dynamic)', (_name, c) => {
    const inputs = c.inputs();
    const diff = c.diff ?? inputs.map((_, i) => i);
    const w = noGrad(() => Tensor.randn(c.f(...inputs).shape, DType.F64));
    const leaves = inputs.map((t, i) => (diff.includes(i) ? t.detach().setRequiresGrad(true) : t));
    lossOf(c.f(...leaves), w).backward();
    const num = numericGrads(c, inputs, w);
    for (const k of diff) {
      expect(leaves[k].grad).not.toBeNull();
      expectClose(flat(leaves[k].grad!), num[k], c.tol ?? 1e-5, `${c.name} d/dx${k}`);
    }
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s (builder)', (_name, c) => {
    const inputs = c.inputs();
    const diff = c.diff ?? inputs.map((_, i) => i);
    const w = noGrad(() => Tensor.randn(c.f(...inputs).shape, DType.F64));
    const b = new Builder(`grad_${c.name}`);
    b.start();
    const syms = inputs.map((t, i) => {
      const s = Tensor.input(`x${i}`, t.shape, t.dtype);
      if (diff.includes(i)) s.requiresGrad = true;
      return s;
    });
    lossOf(c.f(...syms), w).backward();
    for (const k of diff) b.addOutput(`g${k}`, syms[k].grad!);
    b.end();
    const s = b.build();
    inputs.forEach((t, i) => s.addInput(`x${i}`, t));
    const out = s.run();
    const num = numericGrads(c, inputs, w);
    for (const k of diff) expectClose(flat(out[`g${k}`]), num[k], c.tol ?? 1e-5, `${c.name} d/dx${k} (script)`);
  });
});

describe('autograd semantics', () => {
  test('upstream conformance: (X*X).sum() and mean()', () => {
    const X = Tensor.fromArray([[1, 2], [3, 4]]).setRequiresGrad(true);
    X.mul(X).sum().backward();
    expect(X.grad!.toArray()).toEqual([[2, 4], [6, 8]]);
    X.zeroGrad();
    X.mean().backward();
    expect(X.grad!.toArray()).toEqual([[0.25, 0.25], [0.25, 0.25]]);
  });

  test('upstream conformance: sum(A·B)', () => {
    const A = Tensor.fromArray([[1, 2], [3, 4]]).setRequiresGrad(true);
    const B = Tensor.fromArray([[5, 6], [7, 8]]).setRequiresGrad(true);
    A.matmul(B).sum().backward();
    expect(A.grad!.toArray()).toEqual([[11, 15], [11, 15]]);
    expect(B.grad!.toArray()).toEqual([[4, 4], [6, 6]]);
  });

  test('gradients accumulate until zeroGrad', () => {
    const x = Tensor.fromArray([1, 2, 3]).setRequiresGrad(true);
    x.mul(2).sum().backward();
    x.mul(3).sum().backward();
    expect(x.grad!.toArray()).toEqual([5, 5, 5]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
    x.square().sum().backward();
    expect(x.grad!.toArray()).toEqual([2, 4, 6]);
  });

  test('non-differentiable ops cut the gradient without breaking backward', () => {
    const x = Tensor.fromArray([1, -2, 3]).setRequiresGrad(true);
    const mask = x.gt(0).toDtype(DType.F32); // compare: cut
    const idx = x.argmax(); // argmax: cut
    expect(idx.requiresGrad).toBe(false);
    x.mul(mask).sum().backward();
    expect(x.grad!.toArray()).toEqual([1, 0, 1]);
  });

  test('detach and noGrad', () => {
    const x = Tensor.fromArray([1, 2]).setRequiresGrad(true);
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    x.mul(d).sum().backward(); // d is a constant
    expect(x.grad!.toArray()).toEqual([1, 2]);
  });

  test('errors: requiresGrad on ints, backward without grad, non-scalar backward', () => {
    expect(codeOf(() => (Tensor.fromArray([1, 2], undefined, DType.I32).requiresGrad = true))).toBe('DTYPE_MISMATCH');
    expect(codeOf(() => Tensor.fromArray([1, 2]).sum().backward())).toBe('GRADIENT_NOT_COMPUTED');
    const x = Tensor.fromArray([1, 2]).setRequiresGrad(true);
    expect(codeOf(() => x.mul(2).backward())).toBe('INVALID_ARGUMENT');
    x.mul(2).backward(Tensor.fromArray([1, 1]));
    expect(x.grad!.toArray()).toEqual([2, 2]);
  });

  test('the tape does not grow across many dynamic steps', () => {
    const w = Tensor.randn([64, 64]).setRequiresGrad(true);
    const x = Tensor.randn([8, 64]);
    const step = () => {
      const loss = x.matmul(w).relu().sum();
      loss.backward();
      noGrad(() => w._assign(w.sub(w.grad!.mul(1e-4))));
      w.zeroGrad();
    };
    for (let i = 0; i < 1000; i++) step();
    if (global.gc) global.gc();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 10000; i++) step();
    if (global.gc) global.gc();
    expect(process.memoryUsage().rss - before).toBeLessThan(96 * 1024 * 1024);
  });
});
