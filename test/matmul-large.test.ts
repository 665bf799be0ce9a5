// Large matmuls of two run-time operands (native/kernels/matmul.cc picks oneDNN's runtime-M
// gemm:jit for these, from 512 in each dim) against a float64 reference written here.
import { Builder, Tensor } from '../lib';

function ref(a: Float32Array, b: Float32Array, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const x = a[i * K + k];
      for (let j = 0; j < N; j++) c[i * N + j] += x * b[k * N + j];
    }
  return c;
}

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const r = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    r[i] = s / 2 ** 32 - 0.5;
  }
  return r;
}

describe('matmul of two large run-time operands', () => {
  const [M, K, N] = [520, 600, 512];
  const a = rand(M * K, 1);
  const b = rand(K * N, 2);
  const want = ref(a, b, M, K, N);
  const maxErr = (got: Float32Array): number => {
    let e = 0;
    for (let i = 0; i < got.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
    return e;
  };

  it('script run({ a, b }) matches float64 (K = 600: |err| < 1e-4)', () => {
    const bld = new Builder('mm');
    bld.start();
    bld.addOutput('y', Tensor.input('a', [M, K]).matmul(Tensor.input('b', [K, N])));
    bld.end();
    const s = bld.build();
    for (let r = 0; r < 3; r++) {
      const y = s.run({ a, b }).y;
      expect(y.shape).toEqual([M, N]);
      expect(maxErr(y.toTypedArray() as Float32Array)).toBeLessThan(1e-4);
    }
    const impl = (s.planInfo() as unknown as { kernels: string[] }).kernels.join(' ');
    expect(impl).not.toMatch(/ref/);
  });

  it('dynamic mode matches float64, and a transposed operand too', () => {
    const ta = Tensor.fromArray(a, [M, K]);
    const tb = Tensor.fromArray(b, [K, N]);
    expect(maxErr(ta.matmul(tb).toTypedArray() as Float32Array)).toBeLessThan(1e-4);
    // (b^T)^T: a strided operand takes the packing path
    const btt = Tensor.fromArray(b, [K, N]).transpose(0, 1).contiguous().transpose(0, 1);
    expect(maxErr(ta.matmul(btt).contiguous().toTypedArray() as Float32Array)).toBeLessThan(1e-4);
  });
});
