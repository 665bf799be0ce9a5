// One NaN rule on every path (README "Decisions where the spec is silent"; PyTorch's): NaN propagates
// through maximum/minimum, max/min reductions, maxPool2d windows, softmax/logSoftmax rows, relu and
// sign. Eager, HODU scripts and XLA scripts against references computed here in float64.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { Backend, Builder, DType, Tensor } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';

const xlaReady = process.env.HODU_SKIP_XLA !== '1' && xlaBuilt() && findPjrtPlugin('cpu').path !== null;
const PATHS = ['eager', 'hodu', ...(xlaReady ? ['xla'] : [])] as const;

afterEach(() => Builder._abortActive());

const N = NaN;
// rows: NaN first, middle, last, all NaN, none, with -Inf/+Inf
const DATA = [
  [N, 1, 2, 3],
  [1, 2, N, 4],
  [4, 3, 2, N],
  [N, N, N, N],
  [3, -1, 0.5, 2],
  [-Infinity, 1, 2, 0],
];
const ROWS = DATA.length;
const flat = DATA.flat();

function values(t: Tensor): number[] {
  return Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);
}

/** f applied on the given path to x (shape [6, 4], dtype dt). */
function onPath(path: string, dt: DType, f: (x: Tensor) => Tensor, shape: number[] = [ROWS, 4], data: number[] = flat): number[] {
  const x = Tensor.fromArray(data, shape, DType.F64).toDtype(dt);
  if (path === 'eager') return values(f(x));
  const b = new Builder('nan');
  b.start();
  const inp = Tensor.input('x', shape, dt);
  b.addOutput('y', f(inp));
  b.end();
  const s = b.build().addInput('x', x);
  if (path === 'xla') s.setBackend(Backend.XLA);
  return values(s.run().y);
}

function expectSame(got: number[], want: number[], tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length && bad.length < 10; i++) {
    const ok = Number.isNaN(want[i])
      ? Number.isNaN(got[i])
      : !Number.isFinite(want[i])
        ? got[i] === want[i]
        : Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i]));
    if (!ok) bad.push(`[${i}] got ${got[i]}, want ${want[i]}`);
  }
  expect(bad).toEqual([]);
}

const anyNaN = (r: number[]): boolean => r.some((v) => Number.isNaN(v));
const refMax = (r: number[]): number => (anyNaN(r) ? NaN : Math.max(...r));
const refMin = (r: number[]): number => (anyNaN(r) ? NaN : Math.min(...r));
function refSoftmax(r: number[], log: boolean): number[] {
  if (anyNaN(r)) return r.map(() => NaN);
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return log ? r.map((v) => v - m - Math.log(s)) : e.map((v) => v / s);
}
const cols = (c: number): number[] => DATA.map((r) => r[c]);

describe.each(PATHS)('NaN rule on %s', (path) => {
  for (const dt of [DType.F32, DType.F64]) {
    it(`${dt}: max/min reductions over either dim`, () => {
      expectSame(onPath(path, dt, (x) => x.max(1)), DATA.map(refMax));
      expectSame(onPath(path, dt, (x) => x.min(1)), DATA.map(refMin));
      expectSame(onPath(path, dt, (x) => x.max(0)), [0, 1, 2, 3].map((c) => refMax(cols(c))));
      expectSame(onPath(path, dt, (x) => x.min(0)), [0, 1, 2, 3].map((c) => refMin(cols(c))));
      expectSame(onPath(path, dt, (x) => x.max()), [NaN]);
    });

    it(`${dt}: maximum/minimum with a NaN on either side`, () => {
      const other = flat.map((_, i) => (i % 3 === 0 ? NaN : i % 5));
      const ref = (f: (a: number, b: number) => number) => flat.map((a, i) => (Number.isNaN(a) || Number.isNaN(other[i]) ? NaN : f(a, other[i])));
      const o = Tensor.fromArray(other, [ROWS, 4], DType.F64).toDtype(dt);
      if (path === 'eager') {
        const x = Tensor.fromArray(flat, [ROWS, 4], DType.F64).toDtype(dt);
        expectSame(values(x.maximum(o)), ref(Math.max));
        expectSame(values(o.minimum(x)), ref(Math.min));
      } else {
        expectSame(onPath(path, dt, (x) => x.maximum(o)), ref(Math.max));
        expectSame(onPath(path, dt, (x) => o.minimum(x)), ref(Math.min));
      }
    });

    it(`${dt}: maxPool2d windows holding a NaN in any slot`, () => {
      // [1,1,6,4], kernel [1,2]: windows (c0,c1), (c2,c3) of each row; kernel [2,2] too
      const want12 = DATA.flatMap((r) => [refMax([r[0], r[1]]), refMax([r[2], r[3]])]);
      expectSame(onPath(path, dt, (x) => x.reshape([1, 1, ROWS, 4]).maxPool2d({ kernel: [1, 2] })), want12);
      const want22: number[] = [];
      for (let i = 0; i < ROWS; i += 2)
        for (let j = 0; j < 4; j += 2) want22.push(refMax([DATA[i][j], DATA[i][j + 1], DATA[i + 1][j], DATA[i + 1][j + 1]]));
      expectSame(onPath(path, dt, (x) => x.reshape([1, 1, ROWS, 4]).maxPool2d({ kernel: 2 })), want22);
    });

    it(`${dt}: softmax/logSoftmax: a row with a NaN is NaN throughout (last dim and dim 0)`, () => {
      expectSame(onPath(path, dt, (x) => x.softmax(-1)), DATA.flatMap((r) => refSoftmax(r, false)));
      expectSame(onPath(path, dt, (x) => x.logSoftmax(-1)), DATA.flatMap((r) => refSoftmax(r, true)));
      const byCol = [0, 1, 2, 3].map((c) => refSoftmax(cols(c), false));
      expectSame(onPath(path, dt, (x) => x.softmax(0)), DATA.flatMap((_, i) => [0, 1, 2, 3].map((c) => byCol[c][i])));
    });

    it(`${dt}: relu(NaN) and sign(NaN) are NaN; relu equals maximum(0)`, () => {
      expectSame(onPath(path, dt, (x) => x.relu()), flat.map((v) => (Number.isNaN(v) ? NaN : Math.max(v, 0))));
      expectSame(onPath(path, dt, (x) => x.sign()), flat.map((v) => (Number.isNaN(v) ? NaN : Math.sign(v) + 0)));
      expectSame(onPath(path, dt, (x) => x.relu().sub(x.maximum(0)).abs().add(x.relu().eq(x.maximum(0)).logicalNot().toDtype(dt))), flat.map((v) => (Number.isNaN(v) ? NaN : 0)));
    });
  }

  it('bf16 relu on a large tensor (the size oneDNN used to take) keeps NaN', () => {
    const n = 1 << 17;
    const data = Array.from({ length: n }, (_, i) => (i % 1000 === 7 ? NaN : (i % 13) - 6));
    const got = onPath(path, DType.BF16, (x) => x.relu(), [n], data);
    expectSame(got, data.map((v) => (Number.isNaN(v) ? NaN : Math.max(v, 0))));
  });

  it('f32 relu on a large tensor keeps NaN', () => {
    const n = 1 << 17;
    const data = Array.from({ length: n }, (_, i) => (i % 1000 === 7 ? NaN : (i % 13) - 6));
    const got = onPath(path, DType.F32, (x) => x.relu(), [n], data);
    expectSame(got, data.map((v) => (Number.isNaN(v) ? NaN : Math.max(v, 0))));
  });

  // scripts fuse relu into the matmul / conv before it (oneDNN post-ops): NaN must survive there too
  const reluRef = (v: number): number => (Number.isNaN(v) ? NaN : Math.max(v, 0));
  const W = Array.from({ length: 4 * 5 }, (_, i) => ((i * 7) % 11) / 5 - 1); // [4, 5]
  const BIAS = [0.5, -2, 0, 1, -0.25];

  it('matmul + bias + relu keeps NaN rows (fused in scripts)', () => {
    const w = Tensor.fromArray(W, [4, 5]);
    const bias = Tensor.fromArray(BIAS, [5]);
    const got = onPath(path, DType.F32, (x) => x.matmul(w).add(bias).relu());
    const want: number[] = [];
    for (let i = 0; i < ROWS; i++)
      for (let j = 0; j < 5; j++) {
        let acc = BIAS[j];
        for (let k = 0; k < 4; k++) acc += DATA[i][k] * W[k * 5 + j];
        want.push(reluRef(acc));
      }
    expectSame(got, want);
    expect(want.filter((v) => v === 0).length).toBeGreaterThan(0); // relu clips somewhere
    expect(anyNaN(want)).toBe(true);
  });

  it('conv2d + bias + relu keeps NaN where a window reads NaN (fused in scripts)', () => {
    // x [1, 1, 6, 4] (the DATA grid), w [2, 1, 3, 3], padding 1
    const wv = Array.from({ length: 18 }, (_, i) => ((i * 5) % 7) / 3 - 1);
    const bv = [-0.5, 0.25];
    const w = Tensor.fromArray(wv, [2, 1, 3, 3]);
    const bias = Tensor.fromArray(bv, [2]);
    const got = onPath(path, DType.F32, (x) => x.reshape([1, 1, ROWS, 4]).conv2d(w, bias, { padding: 1 }).relu());
    const want: number[] = [];
    for (let o = 0; o < 2; o++)
      for (let y = 0; y < ROWS; y++)
        for (let x = 0; x < 4; x++) {
          let acc = bv[o];
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= ROWS || xx < 0 || xx >= 4) continue;
              acc += DATA[yy][xx] * wv[o * 9 + (dy + 1) * 3 + (dx + 1)];
            }
          want.push(reluRef(acc));
        }
    expectSame(got, want);
    expect(anyNaN(want)).toBe(true);
  });

  it('bf16 softmax rows with NaN (oneDNN path) are NaN throughout', () => {
    expectSame(onPath(path, DType.BF16, (x) => x.softmax(-1)), DATA.flatMap((r) => refSoftmax(r, false)), 1e-2);
  });
});
