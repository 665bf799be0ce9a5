// THE op case table: one entry per behaviour of the ops of native/core/ops.def, each with a float64
// reference. test/op-suite.test.ts runs every case eagerly, as a HODU script and as an XLA script
// against the reference, and checks its gradient against central finite differences;
// test/op-coverage.test.ts fails when an op of the table has no case here (see docs/adding-an-op.md).
import { DType, Tensor } from '../../lib';
import * as R from './reference';
import { Ref } from './reference';

export interface OpCase {
  /** Unique label. */
  name: string;
  /** The ops of ops.def the case exercises on purpose (the coverage test reads this). */
  ops: string[];
  /** Inputs in float64 (index inputs as i64); the suite converts float inputs to the dtype under test. */
  inputs: () => Tensor[];
  f: (...x: Tensor[]) => Tensor;
  /** The float64 reference, from the inputs as the dtype under test stores them. */
  ref: (...x: Ref[]) => Ref;
  kind?: 'basic' | 'transcendental';
  /** Inputs to differentiate by finite differences (f64); omitted: every float input; [] = none. */
  grad?: number[];
  /** Why the case has no gradient check although its op is differentiable. */
  noGradWhy?: string;
  /** Ops whose VJP records these (Internal) gradient ops: the gradient check covers them. */
  gradOps?: string[];
  /** Float dtypes to run (default f32 and f64). */
  dtypes?: DType[];
}

// Deterministic inputs (an LCG: no global seed), float64.
function gen(shape: number[], seed: number, f: (u: number) => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = f(s / 2 ** 32);
  }
  return Tensor.fromArray(v, shape, DType.F64);
}
const rn = (shape: number[], seed: number, lo = -2, hi = 2) => gen(shape, seed, (u) => lo + (hi - lo) * u);
const pos = (shape: number[], seed: number) => rn(shape, seed, 0.5, 2);
/** |x| in [0.2, 1.5] with a random sign: away from the kinks of relu, abs, ... */
const away = (shape: number[], seed: number) => gen(shape, seed, (u) => (u < 0.5 ? -1 : 1) * (0.2 + 2.6 * Math.abs(u - 0.5)));
/** Small integers as floats: ties for the comparisons. */
const small = (shape: number[], seed: number) => gen(shape, seed, (u) => Math.floor(u * 4) - 2);
const index = (values: number[], shape: number[]) => Tensor.fromArray(values, shape, DType.F64).toDtype(DType.I64);

const map1 = (x: Ref, f: (v: number) => number) => Ref.build(x.shape, (i) => f(x.at(i)));

/** An error function accurate to ~1e-15 (the series erf x = 2/√π e^(-x²) Σ 2ⁿ x^(2n+1) / (1·3···(2n+1)), all terms positive). */
export function erfRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; n < 200 && term > sum * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** Layer norm over the last k dims in float64 (two-pass variance), then · w + b. */
function layerNormRef(x: Ref, w: Ref, b: Ref, k: number, eps: number): Ref {
  const C = x.shape.slice(x.shape.length - k).reduce((p, q) => p * q, 1);
  const v = x.flat();
  const wv = w.flat();
  const bv = b.flat();
  const out = new Array<number>(v.length);
  for (let r = 0; r < v.length / C; r++) {
    const row = v.slice(r * C, (r + 1) * C);
    const mean = row.reduce((p, q) => p + q, 0) / C;
    const variance = row.reduce((p, q) => p + (q - mean) ** 2, 0) / C;
    for (let j = 0; j < C; j++) out[r * C + j] = ((row[j] - mean) / Math.sqrt(variance + eps)) * wv[j] + bv[j];
  }
  return new Ref(out, x.shape);
}

type UnaryRow = [op: string, f: (t: Tensor) => Tensor, ref: (v: number) => number, input: (seed: number) => Tensor, kind?: 'transcendental'];
const T = 'transcendental' as const;
const U: UnaryRow[] = [
  ['neg', (t) => t.neg(), R.fn.neg, (s) => rn([3, 4], s)],
  ['abs', (t) => t.abs(), R.fn.abs, (s) => away([3, 4], s)],
  ['sign', (t) => t.sign(), R.fn.sign, (s) => away([3, 4], s)],
  ['square', (t) => t.square(), R.fn.square, (s) => rn([3, 4], s)],
  ['relu', (t) => t.relu(), R.fn.relu, (s) => away([3, 4], s)],
  ['clamp', (t) => t.clamp(-0.5, 0.7), R.fn.clamp(-0.5, 0.7), (s) => away([3, 4], s)],
  ['sqrt', (t) => t.sqrt(), R.fn.sqrt, (s) => pos([3, 4], s), T],
  ['recip', (t) => t.recip(), R.fn.recip, (s) => pos([3, 4], s)],
  ['sigmoid', (t) => t.sigmoid(), R.fn.sigmoid, (s) => rn([3, 4], s, -4, 4), T],
  ['tanh', (t) => t.tanh(), R.fn.tanh, (s) => rn([3, 4], s), T],
  ['gelu', (t) => t.gelu(), R.fn.gelu, (s) => rn([3, 4], s, -3, 3), T],
  ['softplus', (t) => t.softplus(), R.fn.softplus, (s) => rn([3, 4], s, -4, 4), T],
  ['sin', (t) => t.sin(), R.fn.sin, (s) => rn([3, 4], s, -3, 3), T],
  ['cos', (t) => t.cos(), R.fn.cos, (s) => rn([3, 4], s, -3, 3), T],
  ['tan', (t) => t.tan(), R.fn.tan, (s) => rn([3, 4], s, -1, 1), T],
  ['exp', (t) => t.exp(), R.fn.exp, (s) => rn([3, 4], s), T],
  ['exp2', (t) => t.exp2(), R.fn.exp2, (s) => rn([3, 4], s), T],
  ['exp10', (t) => t.exp10(), R.fn.exp10, (s) => rn([3, 4], s, -1, 1), T],
  ['ln', (t) => t.ln(), R.fn.ln, (s) => pos([3, 4], s), T],
  ['log2', (t) => t.log2(), R.fn.log2, (s) => pos([3, 4], s), T],
  ['log10', (t) => t.log10(), R.fn.log10, (s) => pos([3, 4], s), T],
  ['leaky_relu', (t) => t.leakyRelu(0.1), R.fn.leakyRelu(0.1), (s) => away([3, 4], s)],
  ['elu', (t) => t.elu(0.7), R.fn.elu(0.7), (s) => away([3, 4], s), T],
  ['silu', (t) => t.silu(), R.fn.silu, (s) => rn([3, 4], s, -4, 4), T],
  ['erf', (t) => t.erf(), erfRef, (s) => rn([3, 4], s, -4.5, 4.5), T],
  ['gelu_erf', (t) => t.geluErf(), (x) => 0.5 * x * (1 + erfRef(x * Math.SQRT1_2)), (s) => rn([3, 4], s, -5, 5), T],
];

type BinaryRow = [op: string, f: (a: Tensor, b: Tensor) => Tensor, ref: (x: number, y: number) => number, a: () => Tensor, b: () => Tensor];
const B: BinaryRow[] = [
  ['add', (a, b) => a.add(b), R.fn.add, () => rn([3, 4], 1), () => rn([4], 2)],
  ['sub', (a, b) => a.sub(b), R.fn.sub, () => rn([3, 1], 3), () => rn([1, 4], 4)],
  ['mul', (a, b) => a.mul(b), R.fn.mul, () => rn([3, 4], 5), () => rn([3, 4], 6)],
  ['div', (a, b) => a.div(b), R.fn.div, () => rn([3, 4], 7), () => pos([4], 8)],
  ['pow', (a, b) => a.pow(b), R.fn.pow, () => pos([3, 4], 9), () => rn([3, 4], 10)],
  ['maximum', (a, b) => a.maximum(b), R.fn.maximum, () => away([3, 4], 11), () => away([3, 4], 12).mul(0.5)],
  ['minimum', (a, b) => a.minimum(b), R.fn.minimum, () => away([3, 4], 13), () => away([3, 4], 14).mul(0.5)],
];

type PredRow = [op: string, f: (a: Tensor, b: Tensor) => Tensor, ref: (x: number, y: number) => number];
const P: PredRow[] = [
  ['eq', (a, b) => a.eq(b), R.fn.eq],
  ['ne', (a, b) => a.ne(b), R.fn.ne],
  ['lt', (a, b) => a.lt(b), R.fn.lt],
  ['le', (a, b) => a.le(b), R.fn.le],
  ['gt', (a, b) => a.gt(b), R.fn.gt],
  ['ge', (a, b) => a.ge(b), R.fn.ge],
  ['logical_and', (a, b) => a.gt(0).logicalAnd(b.gt(0)), (x, y) => R.fn.logicalAnd(+(x > 0), +(y > 0))],
  ['logical_or', (a, b) => a.gt(0).logicalOr(b.gt(0)), (x, y) => R.fn.logicalOr(+(x > 0), +(y > 0))],
  ['logical_xor', (a, b) => a.gt(0).logicalXor(b.gt(0)), (x, y) => R.fn.logicalXor(+(x > 0), +(y > 0))],
];

const REDUCE = ['sum', 'mean', 'max', 'min', 'prod', 'var', 'std', 'norm'] as const;

const conv = { stride: [1, 1] as [number, number], padding: [1, 1] as [number, number] };

export const OP_CASES: OpCase[] = [
  ...U.map(([op, f, ref, input, kind], i): OpCase => ({
    name: op,
    ops: [op],
    inputs: () => [input(100 + i)],
    f,
    ref: (x) => map1(x, ref),
    kind,
  })),
  ...B.map(([op, f, ref, a, b]): OpCase => ({ name: op, ops: [op], inputs: () => [a(), b()], f, ref: (x, y) => R.map2(x, y, ref) })),
  ...P.map(([op, f, ref], i): OpCase => ({
    name: op,
    ops: [op],
    inputs: () => [small([3, 4], 40 + i), small([4], 60 + i)],
    f,
    ref: (x, y) => R.map2(x, y, ref),
    grad: [],
  })),
  { name: 'logical_not', ops: ['logical_not'], inputs: () => [small([3, 4], 70)], f: (a) => a.gt(0).logicalNot(), ref: (x) => map1(x, (v) => +!(v > 0)), grad: [] },
  {
    name: 'cast to i32',
    ops: ['cast'],
    inputs: () => [rn([3, 4], 71, -5, 5)],
    f: (a) => a.toDtype(DType.I32),
    ref: (x) => map1(x, R.truncToInt),
    grad: [],
  },
  {
    name: 'cast between floats',
    ops: ['cast'],
    inputs: () => [rn([3, 4], 72)],
    f: (a) => a.toDtype(a.dtype === DType.F64 ? DType.F32 : DType.F64).toDtype(a.dtype),
    ref: (x) => map1(x, Math.fround),
    noGradWhy: 'a round trip through f32 is not smooth at the finite-difference step',
    grad: [],
  },
  { name: 'copy of a transposed view', ops: ['copy', 'permute'], inputs: () => [rn([3, 4], 73)], f: (a) => a.permute([1, 0]).contiguous(), ref: (x) => Ref.build([4, 3], ([i, j]) => x.at([j, i])) },
  { name: 'reshape', ops: ['reshape'], inputs: () => [rn([3, 4], 74)], f: (a) => a.reshape([2, 6]).mul(1), ref: (x) => new Ref(x.flat(), [2, 6]) },
  { name: 'broadcast_to', ops: ['broadcast_to'], inputs: () => [rn([4], 75)], f: (a) => a.broadcastTo([3, 4]).mul(1), ref: (x) => Ref.build([3, 4], ([, j]) => x.at([j])) },
  { name: 'slice with step', ops: ['slice'], inputs: () => [rn([3, 5], 76)], f: (a) => a.slice(1, 1, 5, 2).mul(1), ref: (x) => Ref.build([3, 2], ([i, j]) => x.at([i, 1 + 2 * j])) },
  {
    name: 'where',
    ops: ['where'],
    inputs: () => [away([3, 4], 77), rn([3, 4], 78), rn([4], 79)],
    f: (c, a, b) => Tensor.where(c.gt(0), a, b),
    ref: (c, a, b) => R.where(map1(c, (v) => +(v > 0)), a, b),
    grad: [1, 2],
  },
  { name: 'matmul', ops: ['matmul'], inputs: () => [rn([3, 4], 80), rn([4, 2], 81)], f: (a, b) => a.matmul(b), ref: (a, b) => R.matmul(a, b) },
  ...REDUCE.map(
    (op, i): OpCase => ({
      name: op,
      ops: [op],
      inputs: () => [op === 'prod' || op === 'norm' ? away([3, 4], 90 + i) : rn([3, 4], 90 + i)],
      f: (a) => (a as unknown as Record<string, (d: number, k: boolean) => Tensor>)[op](1, false),
      ref: (x) => R.reduce(x, 1, false, R.rfn[op]),
    }),
  ),
  { name: 'argmax', ops: ['argmax'], inputs: () => [rn([3, 4], 100)], f: (a) => a.argmax(1), ref: (x) => R.reduce(x, 1, false, R.rfn.argmax), grad: [] },
  { name: 'argmin', ops: ['argmin'], inputs: () => [rn([3, 4], 101)], f: (a) => a.argmin(1), ref: (x) => R.reduce(x, 1, false, R.rfn.argmin), grad: [] },
  { name: 'concat', ops: ['concat'], inputs: () => [rn([2, 3], 102), rn([1, 3], 103)], f: (a, b) => Tensor.concat([a, b], 0), ref: (a, b) => R.concat([a, b], 0) },
  { name: 'index_select', ops: ['index_select'], inputs: () => [rn([3, 4], 104)], f: (a) => a.indexSelect(0, [2, 0, 2]), ref: (x) => R.indexSelect(x, 0, [2, 0, 2]) },
  {
    name: 'gather',
    ops: ['gather'],
    inputs: () => [rn([3, 4], 105), index([3, 0, 1, 1, 2, 0], [3, 2])],
    f: (a, i) => a.gather(1, i),
    ref: (x, i) => R.gather(x, 1, i),
    grad: [0],
  },
  {
    name: 'scatter_add',
    ops: ['scatter_add'],
    inputs: () => [rn([3, 4], 106), index([3, 0, 1, 1, 2, 0], [3, 2]), rn([3, 2], 107)],
    f: (base, i, src) => Tensor._op('scatter_add', [base, i, src], [1]),
    ref: (base, i, src) => {
      const out = base.copy();
      const o = R.contiguousStrides(base.shape);
      R.forEachIndex(src.shape, ([r, c]) => {
        out.data[r * o[0] + i.at([r, c]) * o[1]] += src.at([r, c]);
      });
      return out;
    },
    grad: [0, 2],
  },
  {
    name: 'index_add',
    ops: ['index_add'],
    inputs: () => [rn([3, 4], 108), index([2, 0, 2], [3]), rn([3, 4], 109)],
    f: (base, i, src) => Tensor._op('index_add', [base, i, src], [0]),
    ref: (base, i, src) => {
      const out = base.copy();
      R.forEachIndex(src.shape, ([r, c]) => {
        out.data[i.at([r]) * 4 + c] += src.at([r, c]);
      });
      return out;
    },
    grad: [0, 2],
  },
  {
    name: 'slice_scatter',
    ops: ['slice_scatter'],
    inputs: () => [rn([3, 5], 110), rn([3, 2], 111)],
    f: (base, src) => Tensor._op('slice_scatter', [base, src], [1, 1, 5, 2]),
    ref: (base, src) => Ref.build([3, 5], ([r, c]) => (c % 2 === 1 && c < 5 ? src.at([r, (c - 1) / 2]) : base.at([r, c]))),
  },
  {
    name: 'layer_norm over the last two dims',
    ops: ['layer_norm'],
    inputs: () => [rn([2, 3, 4], 130, -3, 3), rn([3, 4], 131), rn([3, 4], 132)],
    f: (x, w, b) => x.layerNorm([3, 4], w, b, 1e-5),
    ref: (x, w, b) => layerNormRef(x, w, b, 2, 1e-5),
    kind: T,
  },
  {
    name: 'layer_norm of a transposed view over the last dim',
    ops: ['layer_norm', 'permute'],
    inputs: () => [rn([5, 3], 133, -2, 2), rn([5], 134), rn([5], 135)],
    f: (x, w, b) => x.permute([1, 0]).layerNorm(5, w, b, 0.01),
    ref: (x, w, b) => layerNormRef(Ref.build([3, 5], ([i, j]) => x.at([j, i])), w, b, 1, 0.01),
    kind: T,
  },
  { name: 'softmax', ops: ['softmax'], inputs: () => [rn([3, 4], 112)], f: (a) => a.softmax(1), ref: (x) => R.softmax(x, 1), kind: T },
  { name: 'log_softmax', ops: ['log_softmax'], inputs: () => [rn([3, 4], 113)], f: (a) => a.logSoftmax(1), ref: (x) => R.logSoftmax(x, 1), kind: T },
  {
    name: 'conv2d',
    ops: ['conv2d'],
    gradOps: ['conv2d_grad_input', 'conv2d_grad_weight'],
    inputs: () => [rn([1, 2, 5, 5], 114), rn([3, 2, 3, 3], 115), rn([3], 116)],
    f: (x, w, b) => x.conv2d(w, b, { stride: 1, padding: 1 }),
    ref: (x, w, b) => R.conv2d(x, w, b, conv),
  },
  {
    name: 'max_pool2d',
    ops: ['max_pool2d'],
    gradOps: ['max_pool2d_grad'],
    inputs: () => [rn([1, 2, 4, 4], 117)],
    f: (x) => x.maxPool2d({ kernel: 2 }),
    ref: (x) => R.pool2d(x, 'max', { kernel: [2, 2], stride: [2, 2] }),
  },
  {
    name: 'avg_pool2d',
    ops: ['avg_pool2d'],
    gradOps: ['avg_pool2d_grad'],
    inputs: () => [rn([1, 2, 4, 4], 118)],
    f: (x) => x.avgPool2d({ kernel: 2, stride: 1, padding: 1 }),
    ref: (x) => R.pool2d(x, 'avg', { kernel: [2, 2], stride: [1, 1], padding: [1, 1] }),
  },
];
