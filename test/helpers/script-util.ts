// Helpers shared by the compiled-script tests (fusion, plan layouts): recording a script, reading
// f32 results, comparing against float64 references, deterministic input values.
import { Builder, DType, Script, Tensor } from '../../lib';

/** Records f over inputs of the given shapes into a script with output 'y'. */
export function record(name: string, shapes: Record<string, number[]>, f: (ins: Record<string, Tensor>) => Tensor): Script {
  const b = new Builder(name);
  b.start();
  const ins: Record<string, Tensor> = {};
  for (const [k, s] of Object.entries(shapes)) ins[k] = Tensor.input(k, s);
  b.addOutput('y', f(ins));
  b.end();
  return b.build();
}

export function f32(t: Tensor): Float32Array {
  expect(t.dtype).toBe(DType.F32);
  return t.toTypedArray() as Float32Array;
}

/** Every value within atol + rtol·|want| (NaN must match NaN); reports the first that is not. */
export function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  expect(got.length).toBe(want.length);
  let first = '';
  for (let i = 0; i < want.length && !first; i++) {
    const a = got[i];
    const b = want[i];
    const ok = (Number.isNaN(a) && Number.isNaN(b)) || a === b || Math.abs(a - b) <= atol + rtol * Math.abs(b);
    if (!ok) first = `[${i}] got ${a}, expected ${b}`;
  }
  expect(first).toBe('');
}

/** A float32 tensor of the given shape with pseudo-random values in [lo, hi) (an LCG: no global seed). */
export function values(shape: number[], seed: number, lo: number, hi: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return Tensor.fromArray(v, shape);
}
