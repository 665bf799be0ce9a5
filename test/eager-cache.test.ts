// Eager mode keeps the kernels it made in a bounded LRU cache per addon instance
// (native/kernels/kernel_cache.h): the same op at many shapes and layouts must give the results of
// a float64 reference computed here, whether its kernel is new, cached or evicted and made again;
// the cache never holds more than its capacity; each worker_thread has its own.
import * as path from 'path';
import { Worker } from 'worker_threads';
import { Tensor } from '../lib';
import { binding } from '../lib/native';

const root = path.resolve(__dirname, '..');

let seed = 12345;
function rnd(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    a[i] = (seed / 2 ** 32 - 0.5) * 2;
  }
  return a;
}

/** C = relu(A B + bias) in float64; A [m,k], B [k,n] row-major. */
function refLinearRelu(a: Float32Array, b: Float32Array, bias: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = Math.max(0, s + bias[j]);
    }
  return c;
}

function worstErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  return worst;
}

describe('eager kernel cache', () => {
  const saved = binding.kernelCache().capacity;
  afterAll(() => {
    binding.kernelCache(saved);
  });

  test('the same ops at many shapes give the reference results, and the cache stays within its capacity', () => {
    binding.kernelCache(6);
    const shapes: [number, number, number][] = [];
    for (let m = 1; m <= 9; m += 4) for (const k of [1, 7, 33]) for (const n of [2, 17]) shapes.push([m, k, n]);
    let worst = 0;
    // twice over: the second pass finds most kernels evicted (18 shapes x 3 ops > 6), some cached
    for (let pass = 0; pass < 2; pass++)
      for (const [m, k, n] of shapes) {
        const a = rnd(m * k), b = rnd(k * n), bias = rnd(n);
        const y = Tensor.fromArray(a, [m, k]).matmul(Tensor.fromArray(b, [k, n])).add(Tensor.fromArray(bias, [n])).relu();
        worst = Math.max(worst, worstErr(y.toTypedArray() as Float32Array, refLinearRelu(a, b, bias, m, k, n)));
        expect(binding.kernelCache().size).toBeLessThanOrEqual(6);
      }
    expect(worst).toBeLessThan(1e-5);
    expect(binding.kernelCache().size).toBe(6);
  });

  test('repeated calls reuse the kernel, and give the same results each time', () => {
    binding.kernelCache(64);
    const a = rnd(5 * 11), b = rnd(11 * 3), bias = rnd(3);
    const want = refLinearRelu(a, b, bias, 5, 11, 3);
    const A = Tensor.fromArray(a, [5, 11]), B = Tensor.fromArray(b, [11, 3]), C = Tensor.fromArray(bias, [3]);
    const first = Array.from(A.matmul(B).add(C).relu().toTypedArray() as Float32Array);
    expect(worstErr(first, want)).toBeLessThan(1e-5);
    const before = binding.kernelCache();
    for (let r = 0; r < 5; r++) expect(Array.from(A.matmul(B).add(C).relu().toTypedArray() as Float32Array)).toEqual(first);
    const after = binding.kernelCache();
    expect(after.hits - before.hits).toBe(15); // 5 x (matmul, add, relu)
    expect(after.misses).toBe(before.misses);
  });

  test('a strided view and a contiguous tensor of the same shape get different kernels, both right', () => {
    binding.kernelCache(64);
    const m = 6, k = 4, n = 5;
    const at = rnd(k * m); // A stored transposed: A[i][p] = at[p * m + i]
    const b = rnd(k * n);
    const a = new Float32Array(m * k);
    for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) a[i * k + p] = at[p * m + i];
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) want[i * n + j] += a[i * k + p] * b[p * n + j];
    const B = Tensor.fromArray(b, [k, n]);
    for (let rep = 0; rep < 3; rep++) {
      const viaView = Tensor.fromArray(at, [k, m]).transpose(0, 1).matmul(B);
      const viaCopy = Tensor.fromArray(a, [m, k]).matmul(B);
      expect(worstErr(viaView.toTypedArray() as Float32Array, want)).toBeLessThan(1e-5);
      expect(worstErr(viaCopy.toTypedArray() as Float32Array, want)).toBeLessThan(1e-5);
    }
  });

  test('capacity 0 turns the cache off and results stay right', () => {
    binding.kernelCache(0);
    expect(binding.kernelCache().size).toBe(0);
    const a = rnd(3 * 4), b = rnd(4 * 2), bias = rnd(2);
    const y = Tensor.fromArray(a, [3, 4]).matmul(Tensor.fromArray(b, [4, 2])).add(Tensor.fromArray(bias, [2])).relu();
    expect(worstErr(y.toTypedArray() as Float32Array, refLinearRelu(a, b, bias, 3, 4, 2))).toBeLessThan(1e-5);
    expect(binding.kernelCache().size).toBe(0);
  });

  test('each worker_thread has its own cache, bounded, with right results', async () => {
    // workers load the compiled package (dist/), as a user's worker would
    const code = `
      const { parentPort, workerData } = require('worker_threads');
      const hodu = require(workerData.root + '/dist');
      const { binding } = require(workerData.root + '/dist/native');
      binding.kernelCache(4);
      let seed = workerData.seed, worst = 0, maxSize = 0;
      const rnd = (n) => Float32Array.from({ length: n }, () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 - 0.5; });
      for (let pass = 0; pass < 3; pass++) for (let m = 1; m <= 6; m++) {
        const k = 3 + m, n = 2 + (m % 3);
        const a = rnd(m * k), b = rnd(k * n);
        const y = hodu.Tensor.fromArray(a, [m, k]).matmul(hodu.Tensor.fromArray(b, [k, n])).mul(2).toTypedArray();
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = 0; for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
          worst = Math.max(worst, Math.abs(y[i * n + j] - 2 * s));
        }
        maxSize = Math.max(maxSize, binding.kernelCache().size);
      }
      const c = binding.kernelCache();
      parentPort.postMessage({ worst, maxSize, capacity: c.capacity, hits: c.hits, misses: c.misses });
    `;
    binding.kernelCache(64);
    const mainBefore = binding.kernelCache();
    const run = (s: number) =>
      new Promise<{ worst: number; maxSize: number; capacity: number; hits: number; misses: number }>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { root, seed: s } });
        w.once('message', (m) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
      });
    const results = await Promise.all([run(1), run(2), run(3)]);
    for (const r of results) {
      expect(r.worst).toBeLessThan(1e-5);
      expect(r.capacity).toBe(4);
      expect(r.maxSize).toBeLessThanOrEqual(4);
      expect(r.misses).toBeGreaterThanOrEqual(12); // 6 shapes x 2 ops at least once each
    }
    // the workers' capacity settings and kernels did not touch the main thread's cache
    const mainAfter = binding.kernelCache();
    expect(mainAfter.capacity).toBe(64);
    expect(mainAfter.misses).toBe(mainBefore.misses);
  });
});
