// matmul (2-D, batched with broadcast batch dims, 1-D operands), softmax / logSoftmax, conv2d
// (stride, padding, dilation, groups, bias) and max/avg pooling against the float64 reference, on
// contiguous and strided inputs.
import { Tensor, DType, manualSeed } from '../lib';
import * as R from './helpers/reference';
import {
  ALL_LAYOUTS,
  Gen,
  LayoutName,
  expectClose,
  expectExact,
  expectHoduError,
  layoutApplies,
  layoutCase,
  randnGen,
  refOf,
  tol,
} from './helpers/assert';

beforeEach(() => manualSeed(31337));

const MM_TOL: Record<string, { rtol: number; atol: number }> = {
  [DType.F32]: { rtol: 1e-5, atol: 1e-5 },
  [DType.F64]: { rtol: 1e-12, atol: 1e-12 },
  [DType.F16]: { rtol: 1e-2, atol: 2e-2 },
  [DType.BF16]: { rtol: 1e-2, atol: 5e-2 },
};

// ------------------------------------------------------------------------------------ matmul

describe('matmul', () => {
  test('upstream conformance: [[1,2,3],[4,5,6]] · [[1,0],[0,1],[1,1]] = [[4,5],[10,11]]', () => {
    const a = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    const b = Tensor.fromArray([[1, 0], [0, 1], [1, 1]]);
    expectExact(a.matmul(b), [[4, 5], [10, 11]], DType.F32);
  });

  const SHAPES2D: [number[], number[]][] = [
    [[3, 5], [5, 4]],
    [[1, 7], [7, 1]],
    [[6, 1], [1, 6]],
    [[4, 16], [16, 3]],
    [[1, 1], [1, 1]],
    [[17, 33], [33, 9]],
  ];

  test.each(SHAPES2D)('2-D f32 %j · %j', (sa, sb) => {
    const a = randnGen()(sa);
    const b = randnGen()(sb);
    expectClose(a.matmul(b), R.matmul(refOf(a), refOf(b)), { ...MM_TOL[DType.F32], dtype: DType.F32 });
  });

  const LAYOUT_PAIRS: [LayoutName, LayoutName][] = [
    ['transposed', 'contiguous'],
    ['contiguous', 'transposed'],
    ['transposed', 'transposed'],
    ['sliced-step2', 'narrowed'],
    ['narrowed', 'sliced-step3-dim0'],
    ['broadcast-stride0', 'contiguous'],
    ['contiguous', 'broadcast-stride0'],
    ['transposed+sliced', 'sliced-step2'],
  ];

  test.each(LAYOUT_PAIRS)('2-D f32 with a %s lhs and a %s rhs', (la, lb) => {
    const a = layoutCase(la, [5, 6], randnGen());
    const b = layoutCase(lb, [6, 4], randnGen());
    expectClose(a.t.matmul(b.t), R.matmul(a.r, b.r), { ...MM_TOL[DType.F32], dtype: DType.F32, label: `${la} · ${lb}` });
  });

  test.each([DType.F64, DType.F16, DType.BF16])('2-D %s, contiguous and transposed', (dt) => {
    for (const [la, lb] of [['contiguous', 'contiguous'], ['transposed', 'transposed'], ['contiguous', 'sliced-step2']] as [LayoutName, LayoutName][]) {
      const a = layoutCase(la, [4, 8], randnGen(dt));
      const b = layoutCase(lb, [8, 3], randnGen(dt));
      expectClose(a.t.matmul(b.t), R.matmul(a.r, b.r), { ...MM_TOL[dt], dtype: dt, label: `${dt} ${la} · ${lb}` });
    }
  });

  test('a larger f32 product (blocked / library path), plain and transposed', () => {
    const a = randnGen()([64, 96]);
    const b = randnGen()([96, 48]);
    const ra = refOf(a);
    const rb = refOf(b);
    const c = { rtol: 1e-4, atol: 1e-4, dtype: DType.F32 };
    expectClose(a.matmul(b), R.matmul(ra, rb), c);
    const bt = randnGen()([48, 96]);
    expectClose(a.matmul(bt.t()), R.matmul(ra, refOf(bt).t()), c);
  });

  test.each([
    [[2, 3, 4], [2, 4, 5]],
    [[2, 3, 4], [4, 5]],
    [[3, 4], [2, 4, 5]],
    [[2, 1, 3, 4], [1, 5, 4, 2]],
    [[1, 3, 4], [3, 4, 2]],
    [[2, 2, 2, 3], [3, 1]],
  ])('batched f32 %j · %j (batch dims broadcast)', (sa, sb) => {
    const a = randnGen()(sa);
    const b = randnGen()(sb);
    expectClose(a.matmul(b), R.matmul(refOf(a), refOf(b)), { ...MM_TOL[DType.F32], dtype: DType.F32 });
  });

  test.each(ALL_LAYOUTS.filter((l) => layoutApplies(l, 3)))('batched f32 with a %s lhs', (layout) => {
    const a = layoutCase(layout, [2, 3, 4], randnGen());
    const b = layoutCase('transposed', [2, 4, 5], randnGen());
    expectClose(a.t.matmul(b.t), R.matmul(a.r, b.r), { ...MM_TOL[DType.F32], dtype: DType.F32, label: layout });
    expectClose(b.t.t().matmul(a.t.t()), R.matmul(b.r.t(), a.r.t()), { ...MM_TOL[DType.F32], dtype: DType.F32, label: `${layout} swapped` });
  });

  test('batched with an expand()ed (stride-0) batch operand', () => {
    const w = randnGen()([4, 5]);
    const x = randnGen()([3, 2, 4]);
    const wb = w.expand([3, 4, 5]);
    expectClose(x.matmul(wb), R.matmul(refOf(x), refOf(w).broadcastTo([3, 4, 5])), { ...MM_TOL[DType.F32], dtype: DType.F32 });
  });

  test.each([DType.F64, DType.F16, DType.BF16])('batched %s', (dt) => {
    const a = randnGen(dt)([2, 3, 8]);
    const b = randnGen(dt)([8, 2]);
    expectClose(a.matmul(b), R.matmul(refOf(a), refOf(b)), { ...MM_TOL[dt], dtype: dt });
  });

  test('1-D operands follow PyTorch (vector · matrix, matrix · vector, dot)', () => {
    const v = randnGen()([4]);
    const m = randnGen()([4, 3]);
    const n = randnGen()([3, 4]);
    const c = { ...MM_TOL[DType.F32], dtype: DType.F32 };
    expectClose(v.matmul(m), R.matmul(refOf(v), refOf(m)), c);
    expectClose(n.matmul(v), R.matmul(refOf(n), refOf(v)), c);
    const d = v.matmul(v);
    expect(Array.from(d.shape)).toEqual([]);
    expectClose(d, R.matmul(refOf(v), refOf(v)), c);
    const bat = randnGen()([2, 3, 4]);
    expectClose(bat.matmul(v), R.matmul(refOf(bat), refOf(v)), c);
  });

  test('an inner dimension of 0 gives zeros', () => {
    const out = Tensor.zeros([2, 0]).matmul(Tensor.zeros([0, 3]));
    expectExact(out, [[0, 0, 0], [0, 0, 0]], DType.F32);
  });

  test('special values: infinities and NaN propagate', () => {
    const a = Tensor.fromArray([[1, 0], [NaN, 1]]);
    const b = Tensor.fromArray([[Infinity, 1], [2, 3]]);
    expectClose(a.matmul(b), [[Infinity, 1], [NaN, NaN]], { dtype: DType.F32 });
  });

  test('the inputs are not modified and the output owns its memory', () => {
    const a = Tensor.fromArray([[1, 2], [3, 4]]);
    const out = a.matmul(a);
    (out.toTypedArray() as Float32Array)[0] = 0;
    expect(a.toArray()).toEqual([[1, 2], [3, 4]]);
  });

  test('errors: inner dims → SHAPE_MISMATCH naming both shapes; batch dims; dtypes; rank 0', () => {
    expectHoduError(() => Tensor.ones([2, 3]).matmul(Tensor.ones([4, 5])), 'SHAPE_MISMATCH', /\[2, 3\]/, /\[4, 5\]/);
    expectHoduError(() => Tensor.ones([2, 3, 4]).matmul(Tensor.ones([3, 4, 5])), 'SHAPE_MISMATCH', /\b2\b/, /\b3\b/);
    expectHoduError(() => Tensor.ones([2, 3]).matmul(Tensor.ones([3, 2], DType.F64)), 'DTYPE_MISMATCH', /f32/, /f64/);
    expectHoduError(() => Tensor.ones([]).matmul(Tensor.ones([3])), 'SHAPE_MISMATCH', /\[\]/);
  });
});

// ------------------------------------------------------------------------------------ softmax

describe('softmax / logSoftmax', () => {
  const SHAPE = [2, 3, 4];
  const dims = [0, 1, 2, -1, -2, -3];
  const layouts = ALL_LAYOUTS.filter((l) => layoutApplies(l, 3));

  test.each(dims.flatMap((d) => layouts.map((l) => [d, l] as const)))('f32 softmax and logSoftmax over dim %s of a %s input', (dim, layout) => {
    const c = layoutCase(layout, SHAPE, randnGen(DType.F32, 0, 3));
    const o = { dtype: DType.F32, rtol: 1e-5, atol: 1e-6, label: `dim ${dim} ${layout}` };
    expectClose(c.t.softmax(dim), R.softmax(c.r, dim), o);
    expectClose(c.t.logSoftmax(dim), R.logSoftmax(c.r, dim), { ...o, atol: 1e-5 });
  });

  test.each(dims)('f64 softmax and logSoftmax over dim %s', (dim) => {
    for (const layout of ['contiguous', 'transposed+sliced'] as LayoutName[]) {
      const c = layoutCase(layout, SHAPE, randnGen(DType.F64, 0, 3));
      expectClose(c.t.softmax(dim), R.softmax(c.r, dim), { ...tol(DType.F64, 'transcendental'), dtype: DType.F64, label: layout });
      expectClose(c.t.logSoftmax(dim), R.logSoftmax(c.r, dim), { ...tol(DType.F64, 'transcendental'), dtype: DType.F64, label: layout });
    }
  });

  test.each([DType.F16, DType.BF16])('%s softmax', (dt) => {
    const x = randnGen(dt)([3, 5]);
    expectClose(x.softmax(1), R.softmax(refOf(x), 1), { dtype: dt, rtol: 1e-2, atol: 1e-2 });
    expectClose(x.logSoftmax(0), R.logSoftmax(refOf(x), 0), { dtype: dt, rtol: 1e-2, atol: 2e-2 });
  });

  test('rows sum to 1', () => {
    const x = randnGen()([4, 7]);
    const s = R.Ref.from(x.softmax(-1).toArray() as R.Nested);
    for (let i = 0; i < 4; i++) expect(Math.abs(s.slice(0, i, i + 1).flat().reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
  });

  test.each([DType.F32, DType.F64])('large inputs do not overflow (%s)', (dt) => {
    const x = Tensor.fromArray([[1000, 1001, 1002], [-1000, -1001, -1002]], undefined, dt);
    const r = R.Ref.from([[1000, 1001, 1002], [-1000, -1001, -1002]]);
    expectClose(x.softmax(1), R.softmax(r, 1), { dtype: dt, rtol: 1e-5, atol: 1e-6 });
    // atol 1e-4: an f32 kernel may form x - (max + log(sum)) at magnitude 1000 (ulp 6e-5)
    expectClose(x.logSoftmax(1), R.logSoftmax(r, 1), { dtype: dt, rtol: 1e-5, atol: 1e-4 });
    expectClose(x.softmax(1).slice(0, 0, 1), [[0.09003057, 0.24472847, 0.66524096]], { dtype: dt, rtol: 1e-5, atol: 1e-6 });
    expectClose(x.logSoftmax(1).slice(0, 0, 1), [[-2.40760596, -1.40760596, -0.40760596]], { dtype: dt, rtol: 1e-5, atol: 1e-4 });
  });

  test('-Infinity entries get probability 0', () => {
    const x = Tensor.fromArray([[0, -Infinity, 0], [-Infinity, 5, -Infinity]]);
    expectClose(x.softmax(1), [[0.5, 0, 0.5], [0, 1, 0]], { dtype: DType.F32, rtol: 1e-6, atol: 1e-7 });
    expectClose(x.logSoftmax(1), [[-Math.LN2, -Infinity, -Math.LN2], [-Infinity, 0, -Infinity]], { dtype: DType.F32, rtol: 1e-6, atol: 1e-6 });
  });

  test('softmax over a size-1 dim is 1; a 1-D input', () => {
    expectClose(Tensor.fromArray([[3], [-2]]).softmax(1), [[1], [1]], { dtype: DType.F32 });
    const v = Tensor.fromArray([1, 2, 3]);
    expectClose(v.softmax(0), R.softmax([1, 2, 3], 0), { dtype: DType.F32, rtol: 1e-6, atol: 1e-7 });
  });

  test('errors: dim out of range → INVALID_ARGUMENT; integer dtype → DTYPE_MISMATCH', () => {
    expectHoduError(() => Tensor.ones([2, 3]).softmax(2), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => Tensor.ones([2, 3]).logSoftmax(-3), 'INVALID_ARGUMENT', /-3/);
    expectHoduError(() => Tensor.ones([2, 3], DType.I32).softmax(1), 'DTYPE_MISMATCH', /i32/);
  });
});

// ------------------------------------------------------------------------------------ conv2d

interface ConvCase {
  name: string;
  x: number[]; // N C H W
  w: number[]; // O I KH KW
  bias: boolean;
  opts: { stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number | [number, number]; groups?: number };
}

const pairOf = (v: number | [number, number] | undefined): [number, number] | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? [v, v] : v;

function refConvOpts(o: ConvCase['opts']): R.ConvOpts {
  return { stride: pairOf(o.stride), padding: pairOf(o.padding), dilation: pairOf(o.dilation), groups: o.groups };
}

const CONV_CASES: ConvCase[] = [
  { name: '1x1x5x5, 3x3, no bias', x: [1, 1, 5, 5], w: [1, 1, 3, 3], bias: false, opts: {} },
  { name: '2x3x7x6 → 4 channels, bias', x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, opts: {} },
  { name: 'stride 2, padding 1', x: [1, 2, 7, 7], w: [3, 2, 3, 3], bias: true, opts: { stride: 2, padding: 1 } },
  { name: 'stride [2,1], padding [1,0]', x: [2, 2, 6, 5], w: [2, 2, 3, 2], bias: false, opts: { stride: [2, 1], padding: [1, 0] } },
  { name: 'dilation 2', x: [1, 2, 9, 8], w: [2, 2, 3, 3], bias: true, opts: { dilation: 2 } },
  { name: 'dilation [1,2], padding 2, stride 3, 5x5 kernel', x: [1, 2, 10, 11], w: [3, 2, 5, 5], bias: true, opts: { dilation: [1, 2], padding: 2, stride: 3 } },
  { name: 'groups 2', x: [2, 4, 6, 6], w: [6, 2, 3, 3], bias: true, opts: { groups: 2, padding: 1 } },
  { name: 'depthwise (groups = channels)', x: [1, 3, 5, 5], w: [3, 1, 3, 3], bias: true, opts: { groups: 3, padding: 1 } },
  { name: 'depthwise with multiplier 2', x: [1, 3, 5, 4], w: [6, 1, 2, 2], bias: false, opts: { groups: 3 } },
  { name: '1x1 kernel', x: [2, 5, 4, 3], w: [7, 5, 1, 1], bias: true, opts: {} },
  { name: 'kernel as large as the padded input', x: [1, 1, 3, 3], w: [1, 1, 5, 5], bias: false, opts: { padding: 1 } },
  { name: 'CNN-sized: 3x8x12x12 → 16, 3x3, padding 1', x: [3, 8, 12, 12], w: [16, 8, 3, 3], bias: true, opts: { padding: 1 } },
];

function checkConv(c: ConvCase, dt: DType, xLayout: 'nchw' | 'nhwc-permuted', wLayout: 'oihw' | 'iohw-permuted', biasNull = false): void {
  const g: Gen = randnGen(dt);
  let x: Tensor;
  let rx: R.Ref;
  if (xLayout === 'nchw') {
    x = g(c.x);
    rx = refOf(x);
  } else {
    const [n, ch, h, w] = c.x;
    const base = g([n, h, w, ch]);
    x = base.permute([0, 3, 1, 2]);
    rx = refOf(base).permute([0, 3, 1, 2]);
  }
  let w: Tensor;
  let rw: R.Ref;
  if (wLayout === 'oihw') {
    w = g(c.w);
    rw = refOf(w);
  } else {
    const [o, i, kh, kw] = c.w;
    const base = g([i, o, kh, kw]);
    w = base.permute([1, 0, 2, 3]);
    rw = refOf(base).permute([1, 0, 2, 3]);
  }
  let b: Tensor | null = null;
  let rb: R.Ref | null = null;
  if (c.bias) {
    const base = g([2 * c.w[0]]);
    b = base.slice(0, 0, undefined, 2); // a strided bias
    rb = refOf(base).slice(0, 0, undefined, 2);
  }
  const out = biasNull || !c.bias ? (biasNull ? x.conv2d(w, null, c.opts) : x.conv2d(w, undefined, c.opts)) : x.conv2d(w, b, c.opts);
  const expected = R.conv2d(rx, rw, biasNull ? null : rb, refConvOpts(c.opts));
  const t = dt === DType.F64 ? { rtol: 1e-11, atol: 1e-11 } : dt === DType.F32 ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 2e-2, atol: 5e-2 };
  expectClose(out, expected, { ...t, dtype: dt, label: `${c.name} ${dt} ${xLayout} ${wLayout}` });
}

describe('conv2d', () => {
  test('hand-computed: 3x3 input 1..9, 2x2 ones kernel = [[12,16],[24,28]]', () => {
    const x = Tensor.arange(1, 10).reshape([1, 1, 3, 3]);
    const w = Tensor.ones([1, 1, 2, 2]);
    expectExact(x.conv2d(w), [[[[12, 16], [24, 28]]]], DType.F32);
    expectExact(x.conv2d(w, Tensor.fromArray([0.5])), [[[[12.5, 16.5], [24.5, 28.5]]]], DType.F32);
    expectExact(x.conv2d(w, null, { padding: 1, stride: 2 }), [[[[1, 5], [11, 28]]]], DType.F32);
  });

  test.each(CONV_CASES.map((c) => [c.name, c] as const))('f32 %s', (_n, c) => checkConv(c, DType.F32, 'nchw', 'oihw'));

  test.each(CONV_CASES.map((c) => [c.name, c] as const))('f32 %s, NHWC-permuted input and transposed weight', (_n, c) =>
    checkConv(c, DType.F32, 'nhwc-permuted', 'iohw-permuted'),
  );

  test.each(CONV_CASES.filter((c) => c.bias).map((c) => [c.name, c] as const))('f32 %s with bias = null', (_n, c) =>
    checkConv(c, DType.F32, 'nchw', 'oihw', true),
  );

  test.each(CONV_CASES.slice(0, 8).map((c) => [c.name, c] as const))('f64 %s', (_n, c) => {
    checkConv(c, DType.F64, 'nchw', 'oihw');
    checkConv(c, DType.F64, 'nhwc-permuted', 'oihw');
  });

  test('an expand()ed (stride-0) batch input', () => {
    const base = randnGen()([1, 2, 5, 5]);
    const x = base.expand([3, -1, -1, -1]);
    const w = randnGen()([2, 2, 3, 3]);
    expectClose(x.conv2d(w), R.conv2d(refOf(base).broadcastTo([3, 2, 5, 5]), refOf(w), null), { rtol: 1e-4, atol: 1e-4, dtype: DType.F32 });
  });

  test('errors: channel mismatch → SHAPE_MISMATCH naming the shapes; bad stride / groups → INVALID_ARGUMENT', () => {
    const x = Tensor.ones([1, 3, 5, 5]);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 4, 3, 3])), 'SHAPE_MISMATCH', /\[2, 4, 3, 3\]/, /\[1, 3, 5, 5\]/);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 3, 3, 3]), Tensor.ones([3])), 'SHAPE_MISMATCH', /\[3\]/);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 3, 3, 3]), null, { stride: 0 }), 'INVALID_ARGUMENT', /stride/);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 3, 3, 3]), null, { groups: 0 }), 'INVALID_ARGUMENT', /groups/);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 3, 3, 3]), null, { groups: 2 }), 'SHAPE_MISMATCH', /2/);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 3, 7, 7])), 'SHAPE_MISMATCH', /7/);
    expectHoduError(() => Tensor.ones([3, 5, 5]).conv2d(Tensor.ones([2, 3, 3, 3])), 'SHAPE_MISMATCH', /\[3, 5, 5\]/);
    expectHoduError(() => x.conv2d(Tensor.ones([2, 3, 3, 3], DType.F64)), 'DTYPE_MISMATCH', /f64/);
  });
});

// ------------------------------------------------------------------------------------ pooling

interface PoolCase {
  name: string;
  x: number[];
  opts: { kernel: number | [number, number]; stride?: number | [number, number]; padding?: number | [number, number] };
}

const POOL_CASES: PoolCase[] = [
  { name: 'kernel 2 (stride defaults to kernel)', x: [2, 3, 6, 6], opts: { kernel: 2 } },
  { name: 'kernel 2 on an odd size (last row dropped)', x: [1, 2, 5, 7], opts: { kernel: 2 } },
  { name: 'kernel 3, stride 2, padding 1', x: [1, 2, 7, 8], opts: { kernel: 3, stride: 2, padding: 1 } },
  { name: 'kernel [2,3], stride [1,2]', x: [2, 1, 5, 7], opts: { kernel: [2, 3], stride: [1, 2] } },
  { name: 'kernel 3, stride 1, padding 1 (same size)', x: [1, 3, 4, 4], opts: { kernel: 3, stride: 1, padding: 1 } },
  { name: 'kernel [3,2], padding [1,0], stride 2', x: [1, 1, 6, 6], opts: { kernel: [3, 2], padding: [1, 0], stride: 2 } },
  { name: 'global (kernel = input size)', x: [2, 4, 3, 5], opts: { kernel: [3, 5] } },
];

function refPoolOpts(o: PoolCase['opts']): R.PoolOpts {
  return { kernel: pairOf(o.kernel)!, stride: pairOf(o.stride), padding: pairOf(o.padding) };
}

describe('maxPool2d / avgPool2d', () => {
  const layouts = ['contiguous', 'nhwc-permuted', 'sliced'] as const;
  const cases = POOL_CASES.flatMap((c) => layouts.map((l) => [c.name, l, c] as const));

  function input(c: PoolCase, layout: (typeof layouts)[number], dt: DType): { x: Tensor; r: R.Ref } {
    const [n, ch, h, w] = c.x;
    if (layout === 'contiguous') {
      const x = randnGen(dt)(c.x);
      return { x, r: refOf(x) };
    }
    if (layout === 'nhwc-permuted') {
      const base = randnGen(dt)([n, h, w, ch]);
      return { x: base.permute([0, 3, 1, 2]), r: refOf(base).permute([0, 3, 1, 2]) };
    }
    const base = randnGen(dt)([n, ch, h, 2 * w]);
    return { x: base.slice(3, 1, undefined, 2), r: refOf(base).slice(3, 1, undefined, 2) };
  }

  test.each(cases)('f32 %s, %s input', (_n, layout, c) => {
    const { x, r } = input(c, layout, DType.F32);
    expectExact(x.maxPool2d(c.opts), R.pool2d(r, 'max', refPoolOpts(c.opts)), DType.F32, `max ${c.name} ${layout}`);
    expectClose(x.avgPool2d(c.opts), R.pool2d(r, 'avg', refPoolOpts(c.opts)), { dtype: DType.F32, rtol: 1e-5, atol: 1e-6, label: `avg ${c.name} ${layout}` });
  });

  test.each(POOL_CASES.map((c) => [c.name, c] as const))('f64 %s', (_n, c) => {
    const { x, r } = input(c, 'contiguous', DType.F64);
    expectExact(x.maxPool2d(c.opts), R.pool2d(r, 'max', refPoolOpts(c.opts)), DType.F64);
    expectClose(x.avgPool2d(c.opts), R.pool2d(r, 'avg', refPoolOpts(c.opts)), { dtype: DType.F64, ...tol(DType.F64) });
  });

  test('avgPool2d divides by the full kernel size, padded cells included (PyTorch default)', () => {
    const x = Tensor.ones([1, 1, 2, 2]);
    expectExact(x.avgPool2d({ kernel: 2, stride: 1, padding: 1 }), [[[[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]]]], DType.F32);
    const y = Tensor.arange(1, 10).reshape([1, 1, 3, 3]);
    expectClose(y.avgPool2d({ kernel: 3, stride: 1, padding: 1 }), [[[[12 / 9, 21 / 9, 16 / 9], [27 / 9, 45 / 9, 33 / 9], [24 / 9, 39 / 9, 28 / 9]]]], {
      dtype: DType.F32,
      rtol: 1e-6,
      atol: 1e-6,
    });
  });

  test('maxPool2d ignores padded cells (all-negative input)', () => {
    const x = Tensor.full([1, 1, 2, 2], -1);
    expectExact(x.maxPool2d({ kernel: 2, stride: 1, padding: 1 }), [[[[-1, -1, -1], [-1, -1, -1], [-1, -1, -1]]]], DType.F32);
  });

  test('hand-computed 4x4 max and avg with kernel 2', () => {
    const x = Tensor.arange(0, 16).reshape([1, 1, 4, 4]);
    expectExact(x.maxPool2d({ kernel: 2 }), [[[[5, 7], [13, 15]]]], DType.F32);
    expectExact(x.avgPool2d({ kernel: 2 }), [[[[2.5, 4.5], [10.5, 12.5]]]], DType.F32);
  });

  test('maxPool2d propagates NaN (PyTorch)', () => {
    const x = Tensor.fromArray([[[[NaN, 1], [2, 3]]]]);
    expectClose(x.maxPool2d({ kernel: 2 }), [[[[NaN]]]], { dtype: DType.F32 });
    const y = Tensor.fromArray([[[[1, 2], [3, NaN]]]], undefined, DType.F64);
    expectClose(y.maxPool2d({ kernel: 2 }), [[[[NaN]]]], { dtype: DType.F64 });
  });

  test('maxPool2d with infinities (an all -Infinity window gives -Infinity)', () => {
    const x = Tensor.fromArray([[[[-Infinity, -Infinity], [-Infinity, -Infinity]]]]);
    expectExact(x.maxPool2d({ kernel: 2 }), [[[[-Infinity]]]], DType.F32);
    const y = Tensor.fromArray([[[[1, Infinity], [2, 3]]]]);
    expectExact(y.maxPool2d({ kernel: 2 }), [[[[Infinity]]]], DType.F32);
  });

  test.each([DType.F16, DType.BF16])('%s pooling', (dt) => {
    const x = randnGen(dt)([1, 2, 4, 4]);
    expectExact(x.maxPool2d({ kernel: 2 }), R.pool2d(refOf(x), 'max', { kernel: [2, 2] }), dt);
    expectClose(x.avgPool2d({ kernel: 2 }), R.pool2d(refOf(x), 'avg', { kernel: [2, 2] }), { dtype: dt, rtol: 1e-2, atol: 1e-2 });
  });

  test('errors: non-positive kernel / stride → INVALID_ARGUMENT naming the value; non-4-D input → SHAPE_MISMATCH', () => {
    const x = Tensor.ones([1, 1, 4, 4]);
    expectHoduError(() => x.maxPool2d({ kernel: 0 }), 'INVALID_ARGUMENT', /kernel/, /0/);
    expectHoduError(() => x.avgPool2d({ kernel: -1 }), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => x.maxPool2d({ kernel: 2, stride: 0 }), 'INVALID_ARGUMENT', /stride/);
    expectHoduError(() => x.avgPool2d({ kernel: [2, 2], stride: [1, -2] }), 'INVALID_ARGUMENT', /-2/);
    expectHoduError(() => x.maxPool2d({ kernel: 5 }), 'SHAPE_MISMATCH', /5/);
    expectHoduError(() => Tensor.ones([4, 4]).maxPool2d({ kernel: 2 }), 'SHAPE_MISMATCH', /\[4, 4\]/);
  });
});
