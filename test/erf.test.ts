// erf (added through docs/adding-an-op.md): the f32 kernel within 2 ulp of a float64 erf over the
// float range (contiguous loop, strided loop, fused elementwise program), f64 within 1e-13, the
// special values, and exact GELU built from it.
import { Builder, DType, Tensor } from '../lib';
import { erfRef } from './helpers/op-cases';

afterEach(() => Builder._abortActive());

/** The distance from got to the exact value want, in units of the float32 spacing at want. */
function ulps(got: number, want: number): number {
  if (Number.isNaN(want)) return Number.isNaN(got) ? 0 : Infinity;
  if (got === want) return 0;
  const a = Math.abs(Math.fround(want));
  const spacing = a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
  return Math.abs(got - want) / spacing;
}

function grid(): Float32Array {
  const v: number[] = [];
  for (let i = -300000; i <= 300000; i++) v.push(i * 2e-5); // [-6, 6], through both branch joints
  for (let e = -149; e <= 3; e += 0.25) v.push(2 ** e, -(2 ** e)); // tiny to large magnitudes
  v.push(0, -0, 0.9999999, 1, 1.0000001, 3.9999998, 4, 4.0000005, 1e30, -1e30);
  return Float32Array.from(v);
}

function worst(x: Float32Array, y: Float32Array): { ulp: number; at: number } {
  let w = { ulp: 0, at: NaN };
  for (let i = 0; i < x.length; i++) {
    const u = ulps(y[i], erfRef(x[i]));
    if (u > w.ulp) w = { ulp: u, at: x[i] };
  }
  return w;
}

describe('erf', () => {
  const x = grid();

  test('the reference agrees with known values', () => {
    expect(erfRef(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erfRef(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erfRef(2)).toBeCloseTo(0.9953222650189527, 15);
    expect(erfRef(-3)).toBeCloseTo(-0.9999779095030014, 15);
  });

  test('f32 kernel (contiguous) within 2 ulp of float64 over the float range', () => {
    const y = Tensor.fromArray(x, [x.length]).erf().toTypedArray() as Float32Array;
    expect(worst(x, y).ulp).toBeLessThanOrEqual(2);
  });

  test('f32 kernel (strided input) within 2 ulp', () => {
    const t = Tensor.fromArray(x.subarray(0, 600000), [300000, 2]).permute([1, 0]);
    const y = t.erf().contiguous().toTypedArray() as Float32Array;
    const xs = t.contiguous().toTypedArray() as Float32Array;
    expect(worst(xs, y).ulp).toBeLessThanOrEqual(2);
  });

  test('f32 in a fused script (elementwise group) within 2 ulp', () => {
    const b = new Builder('erf_fused');
    b.start();
    const i = Tensor.input('x', [x.length]);
    b.addOutput('y', i.mul(1).erf().mul(1));
    b.end();
    const s = b.build();
    s.addInput('x', Tensor.fromArray(x, [x.length]));
    const y = s.run().y.toTypedArray() as Float32Array;
    expect(worst(x, y).ulp).toBeLessThanOrEqual(2);
  });

  test('special values: ±0 keep their sign, ±inf -> ±1, NaN -> NaN', () => {
    const y = Array.from(Tensor.fromArray([0, -0, Infinity, -Infinity, NaN], [5]).erf().toTypedArray() as Float32Array);
    expect(Object.is(y[0], 0)).toBe(true);
    expect(Object.is(y[1], -0)).toBe(true);
    expect(y.slice(2, 4)).toEqual([1, -1]);
    expect(Number.isNaN(y[4])).toBe(true);
  });

  test('f64 within 1e-13 (relative) of the reference', () => {
    const xs = Float64Array.from({ length: 20001 }, (_, i) => -6 + i * 6e-4);
    const y = Tensor.fromArray(xs, [xs.length], DType.F64).erf().toTypedArray() as Float64Array;
    for (let i = 0; i < xs.length; i++) {
      const w = erfRef(xs[i]);
      if (!(Math.abs(y[i] - w) <= 1e-13 * Math.abs(w) + 1e-300)) throw new Error(`erf(${xs[i]}) = ${y[i]}, expected ${w}`);
    }
  });

  test('f16 and bf16 compute in f32', () => {
    for (const dt of [DType.F16, DType.BF16]) {
      const y = Array.from(Tensor.fromArray([-1, 0.5, 2], [3]).toDtype(dt).erf().toDtype(DType.F64).toTypedArray() as Float64Array);
      [-1, 0.5, 2].forEach((v, i) => expect(Math.abs(y[i] - erfRef(v))).toBeLessThan(1e-2));
    }
  });

  test('exact GELU = x·(1 + erf(x/√2))/2 from it', () => {
    const v = [-3, -1, -0.25, 0, 0.5, 2];
    const y = Array.from(Tensor.fromArray(v, [v.length], DType.F64).mul(Math.SQRT1_2).erf().add(1).mul(Tensor.fromArray(v, [v.length], DType.F64)).mul(0.5).toTypedArray() as Float64Array);
    v.forEach((x0, i) => expect(y[i]).toBeCloseTo((x0 * (1 + erfRef(x0 / Math.SQRT2))) / 2, 12));
  });
});
