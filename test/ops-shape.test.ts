// Shape ops with PyTorch semantics (reshape flatten squeeze unsqueeze transpose permute broadcastTo
// expand narrow slice split chunk indexSelect gather concat), views sharing memory, and casts/copies
// (toDtype between all dtype pairs, contiguous, detach), against the float64 reference.
import { Tensor, DType, manualSeed, concat } from '../lib';
import * as R from './helpers/reference';
import {
  ALL_LAYOUTS,
  LayoutName,
  expectClose,
  expectExact,
  expectHoduError,
  intGen,
  layoutApplies,
  layoutCase,
  randnGen,
  refOf,
} from './helpers/assert';

beforeEach(() => manualSeed(4242));

const LAYOUTS3 = ALL_LAYOUTS.filter((l) => layoutApplies(l, 3));

function iota(shape: number[], dtype: DType = DType.F32): Tensor {
  return Tensor.arange(0, R.numel(shape), 1, dtype).reshape(shape);
}
function iotaRef(shape: number[]): R.Ref {
  return new R.Ref(Array.from({ length: R.numel(shape) }, (_, i) => i), shape);
}

// ------------------------------------------------------------------------------ reshape family

describe('reshape', () => {
  test.each([
    [[6, 4]],
    [[24]],
    [[4, -1]],
    [[-1]],
    [[2, -1, 2]],
    [[1, 24, 1]],
    [[2, 3, 4]],
  ])('[2,3,4] → %j', (shape) => {
    const t = iota([2, 3, 4]);
    expectExact(t.reshape(shape), iotaRef([2, 3, 4]).reshape(shape), DType.F32);
  });

  test.each(LAYOUTS3)('reshape of a %s input reads in logical row-major order', (layout) => {
    const c = layoutCase(layout, [2, 3, 4], randnGen());
    expectExact(c.t.reshape([4, -1]), c.r.reshape([4, 6]), DType.F32, layout);
    expectExact(c.t.reshape([-1]), c.r.reshape([24]), DType.F32, layout);
  });

  test('a one-element tensor reshapes to [] and back', () => {
    const t = Tensor.fromArray([[7]]);
    const s = t.reshape([]);
    expect(Array.from(s.shape)).toEqual([]);
    expect(s.item()).toBe(7);
    expectExact(s.reshape([1, 1, 1]), [[[7]]], DType.F32);
  });

  test('reshape of an empty tensor', () => {
    const t = Tensor.zeros([0, 4]);
    expect(Array.from(t.reshape([4, 0]).shape)).toEqual([4, 0]);
  });

  test('reshape of a contiguous tensor is a view (shares memory)', () => {
    const t = iota([2, 3]);
    const v = t.reshape([3, 2]);
    (t.toTypedArray() as Float32Array)[1] = 100;
    expect(v.toArray()).toEqual([[0, 100], [2, 3], [4, 5]]);
    (v.toTypedArray() as Float32Array)[5] = -5;
    expect(t.toArray()).toEqual([[0, 100, 2], [3, 4, -5]]);
  });

  test('reshape errors: count mismatch → SHAPE_MISMATCH, two -1 → INVALID_ARGUMENT', () => {
    const t = iota([2, 3]);
    expectHoduError(() => t.reshape([4, 2]), 'SHAPE_MISMATCH', /\[2, 3\]/, /\[4, 2\]/);
    expectHoduError(() => t.reshape([4, -1]), 'SHAPE_MISMATCH', /\[2, 3\]/);
    expectHoduError(() => t.reshape([-1, -1]), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => t.reshape([2, 1.5]), 'INVALID_ARGUMENT', /1\.5/);
  });
});

describe('flatten', () => {
  test.each([
    [undefined, undefined, [24]],
    [1, undefined, [2, 12]],
    [0, 1, [6, 4]],
    [-2, -1, [2, 12]],
    [1, 1, [2, 3, 4]],
    [0, -2, [6, 4]],
  ])('flatten(%s, %s) of [2,3,4] → %j', (s, e, shape) => {
    const t = iota([2, 3, 4]);
    const out = s === undefined ? t.flatten() : e === undefined ? t.flatten(s) : t.flatten(s, e);
    expectExact(out, iotaRef([2, 3, 4]).reshape(shape), DType.F32);
  });

  test('flatten of a transposed input', () => {
    const c = layoutCase('transposed', [2, 3], randnGen());
    expectExact(c.t.flatten(), c.r.reshape([6]), DType.F32);
  });

  test('flatten of a shape [] tensor gives [1]', () => {
    expectExact(Tensor.full([], 3).flatten(), [3], DType.F32);
  });

  test('flatten errors', () => {
    expectHoduError(() => iota([2, 3]).flatten(2), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => iota([2, 3, 4]).flatten(2, 1), 'INVALID_ARGUMENT');
  });
});

describe('squeeze / unsqueeze', () => {
  const shape = [1, 3, 1, 2];
  test.each([
    [undefined, [3, 2]],
    [0, [3, 1, 2]],
    [2, [1, 3, 2]],
    [-2, [1, 3, 2]],
    [1, [1, 3, 1, 2]], // no-op: dim 1 has size 3
    [-1, [1, 3, 1, 2]],
  ])('squeeze(%s) of [1,3,1,2] → %j', (dim, out) => {
    const t = iota(shape);
    expectExact(dim === undefined ? t.squeeze() : t.squeeze(dim), iotaRef(shape).reshape(out), DType.F32);
  });

  test('squeeze of an all-ones shape gives []', () => {
    const s = Tensor.fromArray([[[5]]]).squeeze();
    expect(Array.from(s.shape)).toEqual([]);
    expect(s.item()).toBe(5);
  });

  test.each([
    [0, [1, 2, 3]],
    [1, [2, 1, 3]],
    [2, [2, 3, 1]],
    [-1, [2, 3, 1]],
    [-2, [2, 1, 3]],
    [-3, [1, 2, 3]],
  ])('unsqueeze(%s) of [2,3] → %j', (dim, out) => {
    expectExact(iota([2, 3]).unsqueeze(dim), iotaRef([2, 3]).reshape(out), DType.F32);
  });

  test('unsqueeze of a strided input and of a scalar', () => {
    const c = layoutCase('transposed', [2, 3], randnGen());
    expectExact(c.t.unsqueeze(1), c.r.copy().reshape([2, 1, 3]), DType.F32);
    expectExact(Tensor.full([], 2).unsqueeze(0), [2], DType.F32);
    expectExact(Tensor.full([], 2).unsqueeze(-1), [2], DType.F32);
  });

  test('squeeze / unsqueeze errors name the dim', () => {
    expectHoduError(() => iota([2, 3]).unsqueeze(3), 'INVALID_ARGUMENT', /3/);
    expectHoduError(() => iota([2, 3]).unsqueeze(-4), 'INVALID_ARGUMENT', /-4/);
    expectHoduError(() => iota([2, 1]).squeeze(2), 'INVALID_ARGUMENT', /2/);
  });
});

describe('transpose / permute / t', () => {
  test.each([
    [0, 1],
    [0, 2],
    [1, 2],
    [-1, 0],
    [2, -3],
    [1, 1],
  ])('transpose(%s, %s) of [2,3,4]', (a, b) => {
    const c = layoutCase('contiguous', [2, 3, 4], randnGen());
    expectExact(c.t.transpose(a, b), c.r.transpose(a, b), DType.F32);
  });

  test.each([[[0, 1, 2]], [[2, 0, 1]], [[1, 2, 0]], [[2, 1, 0]], [[-1, 0, 1]], [[0, -1, -2]]])('permute(%j) of [2,3,4]', (perm) => {
    const c = layoutCase('contiguous', [2, 3, 4], randnGen());
    expectExact(c.t.permute(perm), c.r.permute(perm), DType.F32);
  });

  test.each(LAYOUTS3)('permute and transpose of a %s input', (layout) => {
    const c = layoutCase(layout, [2, 3, 4], randnGen());
    expectExact(c.t.permute([1, 2, 0]), c.r.permute([1, 2, 0]), DType.F32, layout);
    expectExact(c.t.transpose(0, 2).transpose(1, 2), c.r.transpose(0, 2).transpose(1, 2), DType.F32, layout);
    expectExact(c.t.t(), c.r.t(), DType.F32, layout);
  });

  test('t() of a 2-D tensor; t() of a batched tensor swaps the last two dims', () => {
    expectExact(Tensor.fromArray([[1, 2, 3], [4, 5, 6]]).t(), [[1, 4], [2, 5], [3, 6]], DType.F32);
    const c = layoutCase('contiguous', [2, 2, 3], randnGen());
    expectExact(c.t.t(), c.r.transpose(1, 2), DType.F32);
  });

  test('transpose and permute are views', () => {
    const t = iota([2, 3]);
    const v = t.transpose(0, 1);
    const p = t.permute([1, 0]);
    (t.toTypedArray() as Float32Array)[2] = 42;
    expect(v.toArray()).toEqual([[0, 3], [1, 4], [42, 5]]);
    expect(p.toArray()).toEqual([[0, 3], [1, 4], [42, 5]]);
  });

  test('permute errors: not a permutation / wrong length → INVALID_ARGUMENT naming it', () => {
    const t = iota([2, 3, 4]);
    expectHoduError(() => t.permute([0, 0, 1]), 'INVALID_ARGUMENT', /\[0, 0, 1\]/);
    expectHoduError(() => t.permute([0, 1]), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => t.permute([0, 1, 3]), 'INVALID_ARGUMENT', /3/);
    expectHoduError(() => t.transpose(0, 3), 'INVALID_ARGUMENT', /3/);
    expectHoduError(() => Tensor.fromArray([1, 2]).t(), 'INVALID_ARGUMENT', /\[2\]/);
  });
});

describe('broadcastTo / expand', () => {
  test.each([
    [[3, 1], [3, 4]],
    [[3, 1], [2, 3, 4]],
    [[4], [3, 4]],
    [[1], [5]],
    [[], [2, 3]],
    [[2, 1, 4], [2, 3, 4]],
    [[3, 4], [3, 4]],
  ])('broadcastTo %j → %j', (from, to) => {
    const base = randnGen()(from);
    expectExact(base.broadcastTo(to), refOf(base).broadcastTo(to), DType.F32);
  });

  test('expand with -1 keeps a dim', () => {
    const base = randnGen()([3, 1]);
    expectExact(base.expand([-1, 4]), refOf(base).broadcastTo([3, 4]), DType.F32);
    expectExact(base.expand([2, -1, 5]), refOf(base).broadcastTo([2, 3, 5]), DType.F32);
    expectExact(base.expand([-1, -1]), refOf(base), DType.F32);
  });

  test('broadcast of a strided input', () => {
    const c = layoutCase('transposed', [3, 1], randnGen()); // base [1,3] transposed
    expectExact(c.t.broadcastTo([2, 3, 4]), c.r.broadcastTo([2, 3, 4]), DType.F32);
    const s = layoutCase('sliced-step2', [1, 3], randnGen());
    expectExact(s.t.expand([4, -1]), s.r.broadcastTo([4, 3]), DType.F32);
  });

  test('broadcast is a stride-0 view of the same memory', () => {
    const t = Tensor.fromArray([[1], [2]]);
    const b = t.broadcastTo([2, 3]);
    expect(Array.from(b.strides)).toContain(0);
    (t.toTypedArray() as Float32Array)[1] = 9;
    expect(b.toArray()).toEqual([[1, 1, 1], [9, 9, 9]]);
  });

  test('a broadcast view materialised by contiguous() has its own memory', () => {
    const t = Tensor.fromArray([1, 2]);
    const b = t.broadcastTo([3, 2]).contiguous();
    expect(b.isContiguous).toBe(true);
    expectExact(b, [[1, 2], [1, 2], [1, 2]], DType.F32);
    (b.toTypedArray() as Float32Array)[0] = 50;
    expect(t.toArray()).toEqual([1, 2]);
  });

  test('broadcast errors → SHAPE_MISMATCH naming both shapes', () => {
    const t = Tensor.ones([3, 2]);
    expectHoduError(() => t.broadcastTo([3, 4]), 'SHAPE_MISMATCH', /\[3, 2\]/, /\[3, 4\]/);
    expectHoduError(() => t.broadcastTo([2]), 'SHAPE_MISMATCH', /\[3, 2\]/);
    expectHoduError(() => t.expand([4, -1]), 'SHAPE_MISMATCH', /\[3, 2\]/);
  });
});

describe('narrow / slice', () => {
  test.each([
    [0, 1, 2],
    [1, 0, 3],
    [2, 2, 2],
    [-1, 1, 3],
    [0, -2, 2],
    [1, 1, 0],
  ])('narrow(%s, %s, %s) of [3,3,4]', (dim, start, len) => {
    const c = layoutCase('contiguous', [3, 3, 4], randnGen());
    expectExact(c.t.narrow(dim, start, len), c.r.narrow(dim, start, len), DType.F32);
  });

  test.each([
    [0, 1, 3, 1],
    [0, 0, 100, 1], // end clamped
    [1, 1, undefined, 2],
    [-1, 0, 5, 2],
    [-1, 1, 4, 3],
    [0, -2, undefined, 1],
    [2, -3, -1, 1],
    [1, 5, 10, 1], // empty
    [2, 0, 5, 10], // step longer than the dim
  ])('slice(%s, %s, %s, %s) of [3,4,5]', (dim, start, end, step) => {
    const c = layoutCase('contiguous', [3, 4, 5], randnGen());
    expectExact(c.t.slice(dim, start, end, step), c.r.slice(dim, start, end, step), DType.F32);
  });

  test.each(LAYOUTS3)('slice / narrow of a %s input', (layout) => {
    const c = layoutCase(layout, [2, 3, 4], randnGen());
    expectExact(c.t.slice(-1, 1, undefined, 2), c.r.slice(-1, 1, undefined, 2), DType.F32, layout);
    expectExact(c.t.narrow(1, 1, 2), c.r.narrow(1, 1, 2), DType.F32, layout);
    expectExact(c.t.slice(0, 1).slice(2, 0, 4, 3), c.r.slice(0, 1).slice(2, 0, 4, 3), DType.F32, layout);
  });

  test('slice and narrow are views', () => {
    const t = iota([4, 4]);
    const s = t.slice(1, 0, 4, 2);
    const n = t.narrow(0, 2, 2);
    const a = t.toTypedArray() as Float32Array;
    a[8] = -1; // t[2][0]
    expect(s.toArray()).toEqual([[0, 2], [4, 6], [-1, 10], [12, 14]]);
    expect(n.toArray()).toEqual([[-1, 9, 10, 11], [12, 13, 14, 15]]);
  });

  test('narrow / slice errors', () => {
    const t = iota([3, 4]);
    expectHoduError(() => t.narrow(0, 2, 2), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => t.narrow(2, 0, 1), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => t.slice(0, 0, 2, 0), 'INVALID_ARGUMENT', /0/);
    expectHoduError(() => t.slice(0, 0, 2, -1), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => t.slice(3, 0, 2), 'INVALID_ARGUMENT', /3/);
  });
});

describe('split / chunk', () => {
  const parts = (ts: Tensor[]) => ts.map((t) => Array.from(t.shape));

  test('split(2) of size 5 → sizes 2, 2, 1', () => {
    const t = iota([5, 2]);
    const p = t.split(2);
    expect(parts(p)).toEqual([[2, 2], [2, 2], [1, 2]]);
    expectExact(p[0], iotaRef([5, 2]).narrow(0, 0, 2), DType.F32);
    expectExact(p[1], iotaRef([5, 2]).narrow(0, 2, 2), DType.F32);
    expectExact(p[2], iotaRef([5, 2]).narrow(0, 4, 1), DType.F32);
  });

  test('split(sizes) along dim 1 and dim -1', () => {
    const c = layoutCase('contiguous', [2, 6], randnGen());
    const p = c.t.split([1, 3, 2], 1);
    expect(parts(p)).toEqual([[2, 1], [2, 3], [2, 2]]);
    expectExact(p[1], c.r.narrow(1, 1, 3), DType.F32);
    expectExact(p[2], c.r.narrow(1, 4, 2), DType.F32);
    const q = c.t.split(4, -1);
    expect(parts(q)).toEqual([[2, 4], [2, 2]]);
    expectExact(q[1], c.r.narrow(1, 4, 2), DType.F32);
  });

  test('split of a strided input, with a zero size', () => {
    const c = layoutCase('transposed', [4, 3], randnGen());
    const p = c.t.split([0, 3, 1]);
    expect(parts(p)).toEqual([[0, 3], [3, 3], [1, 3]]);
    expectExact(p[1], c.r.narrow(0, 0, 3), DType.F32);
    expectExact(p[2], c.r.narrow(0, 3, 1), DType.F32);
  });

  test.each([
    [5, 3, [2, 2, 1]],
    [4, 2, [2, 2]],
    [6, 4, [2, 2, 2]],
    [3, 5, [1, 1, 1]],
    [6, 1, [6]],
  ])('chunk: size %s into %s → %j', (size, n, sizes) => {
    const t = iota([2, size]);
    const p = t.chunk(n, 1);
    expect(p.map((x) => x.shape[1])).toEqual(sizes);
    let at = 0;
    for (const x of p) {
      expectExact(x, iotaRef([2, size]).narrow(1, at, x.shape[1]), DType.F32);
      at += x.shape[1];
    }
  });

  test('chunk along dim 0 by default, and dim -1', () => {
    expect(parts(iota([4, 3]).chunk(2))).toEqual([[2, 3], [2, 3]]);
    expect(parts(iota([4, 3]).chunk(2, -1))).toEqual([[4, 2], [4, 1]]);
  });

  test('split pieces are views of the input', () => {
    const t = iota([4]);
    const [a, b] = t.split(2);
    (t.toTypedArray() as Float32Array)[3] = 30;
    expect(a.toArray()).toEqual([0, 1]);
    expect(b.toArray()).toEqual([2, 30]);
  });

  test('split / chunk errors', () => {
    const t = iota([4, 3]);
    expectHoduError(() => t.split([1, 2]), 'SHAPE_MISMATCH', /\[1, 2\]/);
    expectHoduError(() => t.split(0), 'INVALID_ARGUMENT', /0/);
    expectHoduError(() => t.chunk(0), 'INVALID_ARGUMENT', /0/);
    expectHoduError(() => t.split(2, 2), 'INVALID_ARGUMENT', /2/);
  });
});

// ------------------------------------------------------------------------------ indexing and joining

describe('indexSelect', () => {
  test.each([DType.I32, DType.I64])('dims 0, 1, -1 with %s indices', (idt) => {
    const c = layoutCase('contiguous', [3, 4, 2], randnGen());
    const i0 = [2, 0, 2, 1];
    expectExact(c.t.indexSelect(0, Tensor.fromArray(i0, undefined, idt)), R.indexSelect(c.r, 0, i0), DType.F32);
    const i1 = [3, 3, 0];
    expectExact(c.t.indexSelect(1, Tensor.fromArray(i1, undefined, idt)), R.indexSelect(c.r, 1, i1), DType.F32);
    const i2 = [1];
    expectExact(c.t.indexSelect(-1, Tensor.fromArray(i2, undefined, idt)), R.indexSelect(c.r, 2, i2), DType.F32);
  });

  test('a number[] of indices', () => {
    const c = layoutCase('contiguous', [4, 3], randnGen());
    expectExact(c.t.indexSelect(1, [2, 1, 0, 0]), R.indexSelect(c.r, 1, [2, 1, 0, 0]), DType.F32);
  });

  test.each(LAYOUTS3)('on a %s input, and with strided indices', (layout) => {
    const c = layoutCase(layout, [2, 3, 4], randnGen());
    const idx = Tensor.fromArray([3, 0, 1, 3, 2, 0], undefined, DType.I64).slice(0, 0, 6, 2); // [3, 1, 2]
    expectExact(c.t.indexSelect(2, idx), R.indexSelect(c.r, 2, [3, 1, 2]), DType.F32, layout);
    expectExact(c.t.indexSelect(1, [1, 1]), R.indexSelect(c.r, 1, [1, 1]), DType.F32, layout);
  });

  test.each([DType.F64, DType.I32, DType.I64, DType.U8, DType.BOOL, DType.F16])('keeps dtype %s', (dt) => {
    const x = Tensor.fromArray([[1, 0, 3], [4, 5, 0]], undefined, dt);
    expectExact(x.indexSelect(1, [2, 0]), R.indexSelect(refOf(x), 1, [2, 0]), dt);
  });

  test('empty indices give a size-0 dim', () => {
    const x = Tensor.ones([2, 3]);
    const out = x.indexSelect(1, Tensor.fromArray(new Int32Array(0)));
    expect(Array.from(out.shape)).toEqual([2, 0]);
  });

  test('errors: index out of range → INVALID_ARGUMENT naming it; float indices → DTYPE_MISMATCH; 2-D indices → SHAPE_MISMATCH', () => {
    const x = Tensor.ones([2, 3]);
    expectHoduError(() => x.indexSelect(1, [0, 3]), 'INVALID_ARGUMENT', /3/);
    expectHoduError(() => x.indexSelect(0, [-5]), 'INVALID_ARGUMENT', /-5/);
    expectHoduError(() => x.indexSelect(1, Tensor.fromArray([0, 1])), 'DTYPE_MISMATCH', /f32/);
    expectHoduError(() => x.indexSelect(1, Tensor.fromArray([[0, 1]], undefined, DType.I64)), 'SHAPE_MISMATCH', /\[1, 2\]/);
    expectHoduError(() => x.indexSelect(2, [0]), 'INVALID_ARGUMENT', /2/);
  });
});

describe('gather', () => {
  test.each([DType.I32, DType.I64])('dim 1 and dim 0 with %s indices', (idt) => {
    const c = layoutCase('contiguous', [3, 4], randnGen());
    const idx1 = [[0, 3], [1, 1], [2, 0]];
    expectExact(c.t.gather(1, Tensor.fromArray(idx1, undefined, idt)), R.gather(c.r, 1, idx1), DType.F32);
    const idx0 = [[2, 0, 1, 1], [0, 0, 2, 1]];
    expectExact(c.t.gather(0, Tensor.fromArray(idx0, undefined, idt)), R.gather(c.r, 0, idx0), DType.F32);
    expectExact(c.t.gather(-1, Tensor.fromArray(idx1, undefined, idt)), R.gather(c.r, 1, idx1), DType.F32);
  });

  test('indices smaller than the input in the other dims', () => {
    const c = layoutCase('contiguous', [3, 4], randnGen());
    const idx = [[3], [0]];
    expectExact(c.t.gather(1, Tensor.fromArray(idx, undefined, DType.I64)), R.gather(c.r, 1, idx), DType.F32);
  });

  test.each(LAYOUTS3)('3-D gather on a %s input, with random indices', (layout) => {
    const c = layoutCase(layout, [2, 3, 4], randnGen());
    for (const dim of [0, 1, 2]) {
      const ishape = [2, 3, 4];
      ishape[dim] = 5;
      const idx = intGen(DType.I64, 0, [2, 3, 4][dim])(ishape);
      expectExact(c.t.gather(dim, idx), R.gather(c.r, dim, refOf(idx)), DType.F32, `${layout} dim ${dim}`);
    }
  });

  test('strided (transposed) indices', () => {
    const c = layoutCase('contiguous', [3, 3], randnGen());
    const idx = Tensor.fromArray([[0, 2, 1], [1, 0, 0], [2, 2, 1]], undefined, DType.I64).t();
    expectExact(c.t.gather(1, idx), R.gather(c.r, 1, [[0, 1, 2], [2, 0, 2], [1, 0, 1]]), DType.F32);
  });

  test('errors: out-of-range index → INVALID_ARGUMENT; rank mismatch → SHAPE_MISMATCH; float indices → DTYPE_MISMATCH', () => {
    const x = Tensor.ones([2, 3]);
    expectHoduError(() => x.gather(1, Tensor.fromArray([[0, 3]], undefined, DType.I64)), 'INVALID_ARGUMENT', /3/);
    expectHoduError(() => x.gather(1, Tensor.fromArray([0, 1], undefined, DType.I64)), 'SHAPE_MISMATCH', /\[2\]/);
    expectHoduError(() => x.gather(1, Tensor.fromArray([[0, 1]])), 'DTYPE_MISMATCH', /f32/);
  });
});

describe('concat', () => {
  test.each([0, 1, -1])('two tensors along dim %s', (dim) => {
    const a = layoutCase('contiguous', [2, 3], randnGen());
    const shapeB = [2, 3];
    shapeB[dim < 0 ? dim + 2 : dim] = 4;
    const b = layoutCase('contiguous', shapeB, randnGen());
    expectExact(Tensor.concat([a.t, b.t], dim), R.concat([a.r, b.r], dim), DType.F32);
    expectExact(concat([b.t, a.t], dim), R.concat([b.r, a.r], dim), DType.F32);
  });

  test('three strided inputs (transposed, sliced, broadcast) along each dim', () => {
    for (const dim of [0, 1, 2]) {
      const a = layoutCase('transposed', [2, 3, 4], randnGen());
      const b = layoutCase('sliced-step2', [2, 3, 4], randnGen());
      const c = layoutCase('broadcast-stride0', [2, 3, 4], randnGen());
      expectExact(concat([a.t, b.t, c.t], dim), R.concat([a.r, b.r, c.r], dim), DType.F32, `dim ${dim}`);
    }
  });

  test('default dim is 0; a single tensor; an empty piece', () => {
    const a = iota([2, 2]);
    expectExact(concat([a, a]), R.concat([iotaRef([2, 2]), iotaRef([2, 2])], 0), DType.F32);
    expectExact(concat([a]), iotaRef([2, 2]), DType.F32);
    expectExact(concat([a, Tensor.zeros([0, 2]), a], 0), R.concat([iotaRef([2, 2]), iotaRef([2, 2])], 0), DType.F32);
  });

  test.each([DType.F64, DType.I32, DType.I64, DType.U8, DType.BOOL, DType.F16, DType.BF16])('keeps dtype %s', (dt) => {
    const a = Tensor.fromArray([[1, 0]], undefined, dt);
    const b = Tensor.fromArray([[0, 3], [5, 1]], undefined, dt);
    expectExact(concat([a, b], 0), R.concat([refOf(a), refOf(b)], 0), dt);
    expectExact(concat([a.t(), b.t()], 1), R.concat([refOf(a).t(), refOf(b).t()], 1), dt);
  });

  test('the result owns its memory', () => {
    const a = Tensor.fromArray([1, 2]);
    const out = concat([a, a]);
    (out.toTypedArray() as Float32Array)[0] = 9;
    expect(a.toArray()).toEqual([1, 2]);
  });

  test('errors: shapes → SHAPE_MISMATCH naming them; dtypes → DTYPE_MISMATCH; dim → INVALID_ARGUMENT; empty list → INVALID_ARGUMENT', () => {
    const a = Tensor.ones([2, 3]);
    expectHoduError(() => concat([a, Tensor.ones([2, 4])], 0), 'SHAPE_MISMATCH', /\[2, 4\]/, /\[2, 3\]/);
    expectHoduError(() => concat([a, Tensor.ones([2, 3, 1])], 0), 'SHAPE_MISMATCH', /\[2, 3, 1\]/);
    expectHoduError(() => concat([a, Tensor.ones([2, 3], DType.F64)], 0), 'DTYPE_MISMATCH', /f64/);
    expectHoduError(() => concat([a, a], 2), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => concat([]), 'INVALID_ARGUMENT');
  });
});

// ------------------------------------------------------------------------------ casts and copies

const ALL_DTYPES = [
  DType.BOOL, DType.U8, DType.I8, DType.I16, DType.I32, DType.I64, DType.U16, DType.U32, DType.U64,
  DType.F16, DType.BF16, DType.F32, DType.F64,
];
const FLOAT_DTYPES = [DType.F16, DType.BF16, DType.F32, DType.F64];
const SIGNED = [DType.I8, DType.I16, DType.I32, DType.I64];
const UNSIGNED = [DType.U8, DType.U16, DType.U32, DType.U64];

describe('toDtype', () => {
  const pairs = ALL_DTYPES.flatMap((a) => ALL_DTYPES.map((b) => [a, b] as const));

  test.each(pairs)('%s → %s on values representable in both', (from, to) => {
    const vals = from === DType.BOOL ? [0, 1, 1, 0] : [0, 1, 2, 100];
    const x = Tensor.fromArray(vals, [2, 2], from);
    const y = x.toDtype(to);
    const want = vals.map((v) => (to === DType.BOOL ? (v !== 0 ? 1 : 0) : v));
    expectExact(y, new R.Ref(want, [2, 2]), to);
    // the same through a transposed view
    expectExact(x.t().toDtype(to), new R.Ref(want, [2, 2]).t(), to, 'transposed');
  });

  test.each(FLOAT_DTYPES.flatMap((f) => SIGNED.map((i) => [f, i] as const)))('%s → %s truncates toward zero', (from, to) => {
    const x = Tensor.fromArray([-2.75, -1.5, -0.5, 0.5, 1.5, 2.75, 100.5], undefined, from);
    expectExact(x.toDtype(to), [-2, -1, 0, 0, 1, 2, 100], to);
  });

  test.each(FLOAT_DTYPES.flatMap((f) => UNSIGNED.map((i) => [f, i] as const)))('%s → %s truncates non-negative values', (from, to) => {
    const x = Tensor.fromArray([0.25, 1.5, 2.75, 100.5, 0], undefined, from);
    expectExact(x.toDtype(to), [0, 1, 2, 100, 0], to);
  });

  test.each(FLOAT_DTYPES)('%s → bool: nonzero is true', (from) => {
    const x = Tensor.fromArray([0, 0.5, -1, -0, 3], undefined, from);
    expectExact(x.toDtype(DType.BOOL), [false, true, true, false, true], DType.BOOL);
  });

  test.each(ALL_DTYPES)('bool → %s gives 0 and 1', (to) => {
    const b = Tensor.fromArray([true, false, true]);
    expectExact(b.toDtype(to), [1, 0, 1], to);
  });

  test.each([DType.F32, DType.F64])('%s → f16 / bf16 / f32 round to nearest', (from) => {
    const v = [0.1, 1000.3, 3.14159265358979, -2.7182818, 1e-3, 70000, 1e39];
    const x = Tensor.fromArray(v, undefined, from);
    const read = refOf(x).flat(); // the stored values (rounded to f32 when `from` is f32)
    expectExact(x.toDtype(DType.F16), read.map(R.roundF16), DType.F16);
    expectExact(x.toDtype(DType.BF16), read.map(R.roundBF16), DType.BF16);
    expectExact(x.toDtype(DType.F32), read.map(R.roundF32), DType.F32);
  });

  test('f16 / bf16 → f32 / f64 are exact', () => {
    const v = [0.5, -1.25, 1024, 0.0009765625];
    for (const h of [DType.F16, DType.BF16])
      for (const to of [DType.F32, DType.F64]) expectExact(Tensor.fromArray(v, undefined, h).toDtype(to), v, to, `${h}→${to}`);
  });

  test('special float values survive float casts', () => {
    const x = Tensor.fromArray([NaN, Infinity, -Infinity, -0], undefined, DType.F64);
    for (const to of [DType.F32, DType.F16, DType.BF16, DType.F64]) {
      const y = x.toDtype(to);
      expectClose(y, [NaN, Infinity, -Infinity, 0], { dtype: to, rtol: 0, atol: 0 });
      expect(Object.is((y.toArray() as number[])[3], -0)).toBe(true);
    }
  });

  test('integer widening and large i64 values', () => {
    const x = Tensor.fromArray([-128, -1, 0, 127], undefined, DType.I8);
    expectExact(x.toDtype(DType.I64), [-128, -1, 0, 127], DType.I64);
    expectExact(x.toDtype(DType.F32), [-128, -1, 0, 127], DType.F32);
    const big = Tensor.fromArray([2 ** 40, -(2 ** 40) - 1], undefined, DType.I64);
    expectExact(big.toDtype(DType.F64), [2 ** 40, -(2 ** 40) - 1], DType.F64);
  });

  test('the result of a cast owns its memory and is contiguous', () => {
    const x = Tensor.fromArray([[1, 2], [3, 4]]);
    const y = x.t().toDtype(DType.F64);
    expect(y.isContiguous).toBe(true);
    (y.toTypedArray() as Float64Array)[0] = 7;
    expect(x.toArray()).toEqual([[1, 2], [3, 4]]);
  });

  test('toDtype to the same dtype keeps the values', () => {
    const x = Tensor.fromArray([1.5, 2.5]);
    expectExact(x.toDtype(DType.F32), [1.5, 2.5], DType.F32);
  });

  test('an unknown dtype → INVALID_ARGUMENT naming it', () => {
    expectHoduError(() => Tensor.ones([2]).toDtype('f8' as DType), 'INVALID_ARGUMENT', /'f8'/);
  });
});

describe('contiguous / detach', () => {
  test.each(LAYOUTS3)('contiguous() of a %s input', (layout) => {
    const c = layoutCase(layout as LayoutName, [2, 3, 4], randnGen());
    const out = c.t.contiguous();
    expect(out.isContiguous).toBe(true);
    expect(Array.from(out.strides)).toEqual([12, 4, 1]);
    expectExact(out, c.r, DType.F32, layout);
  });

  test('contiguous() of a strided tensor copies; of a contiguous tensor shares memory', () => {
    const t = iota([2, 3]);
    const copy = t.t().contiguous();
    (copy.toTypedArray() as Float32Array)[0] = 99;
    expect(t.toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    const same = t.contiguous();
    (same.toTypedArray() as Float32Array)[0] = 99;
    expect(t.toArray()).toEqual([[99, 1, 2], [3, 4, 5]]);
  });

  test.each([DType.I32, DType.I64, DType.BOOL, DType.F16, DType.U8])('contiguous() of a transposed %s tensor', (dt) => {
    const x = Tensor.fromArray([[1, 0, 3], [0, 5, 6]], undefined, dt);
    expectExact(x.t().contiguous(), refOf(x).t(), dt);
  });

  test('detach() keeps values, shares memory and does not require grad', () => {
    const x = Tensor.fromArray([1, 2, 3]);
    x.requiresGrad = true;
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expectExact(d, [1, 2, 3], DType.F32);
    (x.toTypedArray() as Float32Array)[0] = 5;
    expect(d.toArray()).toEqual([5, 2, 3]);
  });

  test('detach() of a view keeps the view', () => {
    const x = iota([2, 3]).t();
    const d = x.detach();
    expect(Array.from(d.shape)).toEqual([3, 2]);
    expectExact(d, iotaRef([2, 3]).t(), DType.F32);
  });
});
