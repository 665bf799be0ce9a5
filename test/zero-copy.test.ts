// Inputs without copies: fromArray of a typed array copies with one memcpy (or the engine's typed-array
// conversion), Tensor.wrap shares the caller's memory. References: values computed element by element
// in the test with the ECMAScript conversion rules (Math.fround, ToInt32-style wrapping).
import { Builder, DType, Tensor } from '../lib';
import { expectHoduError } from './helpers/assert';

describe('fromArray of typed arrays', () => {
  test('same dtype: an independent copy with the same values', () => {
    const src = new Float32Array([1.5, -2, 3.25, 1e-30, NaN, Infinity]);
    const t = Tensor.fromArray(src);
    expect(t.dtype).toBe(DType.F32);
    const got = t.toTypedArray() as Float32Array;
    expect(Array.from(got)).toEqual(Array.from(src));
    src[0] = 99; // the tensor owns a copy
    expect((t.toTypedArray() as Float32Array)[0]).toBe(1.5);
  });

  test('a subarray at an offset copies only its own elements', () => {
    const base = new Int32Array([10, 11, 12, 13, 14, 15]);
    const t = Tensor.fromArray(base.subarray(2, 5), [3]);
    expect(Array.from(t.toTypedArray() as Int32Array)).toEqual([12, 13, 14]);
  });

  test('Float64Array into F32 rounds like Math.fround', () => {
    const vals = [0.1, 1 / 3, -2.5e-8, 1e39, -1e39, 123456789.123];
    const t = Tensor.fromArray(new Float64Array(vals), [2, 3], DType.F32);
    expect(Array.from(t.shape)).toEqual([2, 3]);
    expect(Array.from(t.toTypedArray() as Float32Array)).toEqual(vals.map(Math.fround));
  });

  test('Float32Array into I32 truncates and wraps like element assignment', () => {
    const vals = [1.7, -1.7, 2 ** 31 + 5, NaN, -0.5];
    const expected = vals.map((v) => (Number.isFinite(v) ? Math.trunc(v) | 0 : 0));
    const t = Tensor.fromArray(new Float64Array(vals), undefined, DType.I32);
    expect(Array.from(t.toTypedArray() as Int32Array)).toEqual(expected);
  });

  test('BigInt64Array stays exact; bigint to number dtypes still convert', () => {
    const big = new BigInt64Array([2n ** 62n + 1n, -7n]);
    const t = Tensor.fromArray(big);
    expect(t.dtype).toBe(DType.I64);
    expect(Array.from(t.toTypedArray() as BigInt64Array)).toEqual([2n ** 62n + 1n, -7n]);
    const f = Tensor.fromArray(new BigInt64Array([3n, -4n]), undefined, DType.F32);
    expect(Array.from(f.toTypedArray() as Float32Array)).toEqual([3, -4]);
    const i = Tensor.fromArray(new Float32Array([3.9, -4.2]), undefined, DType.I64);
    expect(Array.from(i.toTypedArray() as BigInt64Array)).toEqual([3n, -4n]);
  });

  test('BOOL from numbers: nonzero is true', () => {
    const t = Tensor.fromArray(new Float32Array([0, 2, -0, 0.5]), undefined, DType.BOOL);
    expect(t.toArray()).toEqual([false, true, false, true]);
  });

  test('shape that does not fit is SHAPE_MISMATCH', () => {
    expectHoduError(() => Tensor.fromArray(new Float32Array(6), [4, 2]), 'SHAPE_MISMATCH', /6 values/);
  });
});

describe('Tensor.wrap (zero-copy)', () => {
  test('shares memory both ways', () => {
    const arr = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.wrap(arr, [2, 3]);
    expect(Array.from(t.shape)).toEqual([2, 3]);
    arr[4] = 50;
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 50, 6]]);
    (t.toTypedArray() as Float32Array)[0] = -1;
    expect(arr[0]).toBe(-1);
  });

  test('ops read a wrapped subarray at its offset', () => {
    const base = new Float32Array([100, 200, 1, 2, 3, 4, 300]);
    const t = Tensor.wrap(base.subarray(2, 6), [2, 2]);
    const s = t.matmul(t);
    // [[1,2],[3,4]]^2 = [[7,10],[15,22]]
    expect(s.toArray()).toEqual([[7, 10], [15, 22]]);
    expect(t.sum().item()).toBe(10);
  });

  test('dispose() leaves the caller\'s array usable', () => {
    const arr = new Int32Array([1, 2, 3]);
    const t = Tensor.wrap(arr);
    expect(t.dtype).toBe(DType.I32);
    t.dispose();
    expect(arr.byteLength).toBe(12);
    expect(Array.from(arr)).toEqual([1, 2, 3]);
    expectHoduError(() => t.toArray(), 'DISPOSED');
  });

  test('a Node Buffer wraps as U8', () => {
    const b = Buffer.from([1, 2, 250]);
    const t = Tensor.wrap(b);
    expect(t.dtype).toBe(DType.U8);
    expect(t.toArray()).toEqual([1, 2, 250]);
  });

  test('feeds a script without a copy and sees the caller\'s later writes', () => {
    const b = new Builder('wrap_feed');
    b.start();
    const x = Tensor.input('x', [4]);
    b.addOutput('y', x.mul(2));
    b.end();
    const script = b.build();
    const arr = new Float32Array([1, 2, 3, 4]);
    script.addInput('x', Tensor.wrap(arr));
    expect(Array.from(script.run()['y'].toTypedArray() as Float32Array)).toEqual([2, 4, 6, 8]);
    arr.set([10, 20, 30, 40]);
    expect(Array.from(script.run()['y'].toTypedArray() as Float32Array)).toEqual([20, 40, 60, 80]);
  });

  test('bad arguments are HoduErrors', () => {
    expectHoduError(() => Tensor.wrap([1, 2] as unknown as Float32Array), 'INVALID_ARGUMENT', /typed array/);
    expectHoduError(() => Tensor.wrap(new DataView(new ArrayBuffer(8))), 'INVALID_ARGUMENT', /DataView/);
    expectHoduError(() => Tensor.wrap(new Float32Array(new SharedArrayBuffer(16))), 'INVALID_ARGUMENT', /SharedArrayBuffer/);
    expectHoduError(() => Tensor.wrap(new Float32Array(6), [4, 2]), 'SHAPE_MISMATCH', /6 elements/);
  });
});
