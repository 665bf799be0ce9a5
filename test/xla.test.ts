// The XLA backend with the real OpenXLA CPU plugin (xla-cpu-pjrt, fetched by `npm run build`):
// every op case runs as a script on Backend.HODU and Backend.XLA with the same inputs and must agree;
// ops the HODU backend may not have kernels for are also checked against float64 references here;
// plus the seed examples, an MLP, a training script, the error cases and the compile cache.
//
// Without the plugin (or a build without pjrt_c_api.h) the first test fails with the reason, in CI
// and locally; HODU_SKIP_XLA=1 turns that into a skip for machines that cannot fetch it.
//
// XLA:CPU is pinned to one intra-op thread (PJRT_NPROC=1, read when the client is created): results
// are then bit-stable run to run (research/xla.md F11).
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Device, Script, Tensor, manualSeed, nn } from '../lib';
import {
  _resetPluginSearch,
  compileStableHlo,
  emitStableHlo,
  findPjrtPlugin,
  setXlaPlugin,
  xlaBuilt,
  xlaClientInfo,
} from '../lib/xla';
import { CASES } from './helpers/script-cases';
import { codeOf } from './helpers/assert';

const skipAll = process.env.HODU_SKIP_XLA === '1';
const why = !xlaBuilt()
  ? 'this build of the addon has no PJRT header (run `node scripts/deps.js --pjrt`, then rebuild: rm -rf build && npm run build)'
  : findPjrtPlugin('cpu').path === null
    ? `no PJRT CPU plugin found (looked at: ${findPjrtPlugin('cpu').tried.join('; ')}); run \`node scripts/deps.js --pjrt\``
    : '';
const ready = why === '' && !skipAll;
const describeXla = ready ? describe : describe.skip;

afterEach(() => Builder._abortActive());

function errorOf(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: String((e as Error).message) };
  }
  throw new Error('expected an error');
}

function values(t: Tensor): number[] {
  return Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);
}

/** max |a - b| / (1 + |b|); NaN matches NaN; shapes and dtypes must be equal. */
function maxRelDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  const x = values(a);
  const y = values(b);
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
    if (x[i] === y[i]) continue;
    const d = Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i]));
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

function expectNear(got: Tensor, want: number[], shape: number[], rtol = 1e-5): void {
  expect(got.shape).toEqual(shape);
  const g = values(got);
  expect(g.length).toBe(want.length);
  for (let i = 0; i < g.length; i++) {
    const ok = Math.abs(g[i] - want[i]) <= rtol * (1 + Math.abs(want[i]));
    if (!ok) throw new Error(`element ${i}: got ${g[i]}, want ${want[i]}`);
  }
}

/** A script of f over inputs (named in0, in1, ...), with the inputs bound. */
function scriptOf(name: string, f: (...t: Tensor[]) => Tensor | Record<string, Tensor>, inputs: Tensor[]): Script {
  const b = new Builder(name);
  b.start();
  const syms = inputs.map((t, i) => Tensor.input(`in${i}`, t.shape, t.dtype));
  const out = f(...syms);
  if (out instanceof Tensor) b.addOutput('out', out);
  else for (const [k, v] of Object.entries(out)) b.addOutput(k, v);
  b.end();
  const s = b.build();
  inputs.forEach((t, i) => s.addInput(`in${i}`, t));
  return s;
}

/** Records a raw op of ops.def (the gradient ops have no Tensor method). */
function rawOp(b: Builder, op: string, inputs: Tensor[], attrs: number[]): Tensor {
  return (b as unknown as { _graph: { record(op: string, i: Tensor[], a: number[]): Tensor } })._graph.record(op, inputs, attrs);
}

function runOn(s: Script, backend: Backend): Record<string, Tensor> {
  s.setBackend(backend);
  // a training script updates its variables (the model's parameters) on every run (SPEC §5): every
  // backend starts from the values the variables had before the first runOn of this script
  let start = initial.get(s);
  if (!start) initial.set(s, (start = Object.entries(s.variables).map(([, t]) => [t, t.contiguous().add(0)] as [Tensor, Tensor])));
  else for (const [t, v] of start) t.assign(v);
  return s.run();
}
const initial = new WeakMap<Script, [Tensor, Tensor][]>();

test('the XLA CPU plugin is available (CI fetches it with `npm run build`)', () => {
  if (skipAll) {
    console.warn('HODU_SKIP_XLA=1: the XLA backend tests are skipped');
    return;
  }
  if (why) throw new Error(`XLA backend tests cannot run: ${why}`);
  const info = xlaClientInfo();
  expect(info.platform).toBe('cpu');
  expect(info.apiVersion).toMatch(/^0\.\d+$/);
  expect(info.devices).toHaveLength(1);
  expect(Object.keys(info.attributes)).toContain('stablehlo_current_version');
});

describeXla('differential: every op case on HODU and on XLA, same inputs', () => {
  test.each(CASES)('%s', (name, f, make) => {
    manualSeed(42);
    const inputs = make();
    const s = scriptOf(`diff_${name}`, f, inputs);
    const want = runOn(s, Backend.HODU).out;
    const got = runOn(s, Backend.XLA).out;
    expect(maxRelDiff(got, want)).toBeLessThan(1e-5);
  });
});

// ---------------------------------------------------------------------------------------------
// Every dtype: one script per dtype holding many ops, run on both backends, compared exactly for
// integers and bool, within tolerance for floats.

const ALL = [DType.BOOL, DType.U8, DType.I8, DType.I16, DType.I32, DType.I64, DType.U16, DType.U32, DType.U64, DType.F16, DType.BF16, DType.F32, DType.F64];
const FLOATS = new Set<DType>([DType.F16, DType.BF16, DType.F32, DType.F64]);
const UNSIGNED = new Set<DType>([DType.U8, DType.U16, DType.U32, DType.U64]);

function gen(shape: number[], d: DType, seed: number): Tensor {
  let s = seed * 7919 + 17;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const n = shape.reduce((a, b) => a * b, 1);
  const data: number[] = [];
  for (let i = 0; i < n; i++) {
    if (d === DType.BOOL) data.push(rnd() < 0.5 ? 1 : 0);
    else if (FLOATS.has(d)) data.push(Math.round((rnd() * 6 - 3) * 64) / 64);
    else if (UNSIGNED.has(d)) data.push(Math.floor(rnd() * 7));
    else data.push(Math.floor(rnd() * 9) - 4);
  }
  return Tensor.fromArray(data, shape, DType.F64).toDtype(d);
}

function dtypeOps(d: DType, a: Tensor, b: Tensor, c: Tensor, cond: Tensor): Record<string, Tensor> {
  const o: Record<string, Tensor> = {};
  for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalXor'] as const) o[op] = a[op](b);
  o.not = a.logicalNot();
  o.where = Tensor.where(cond, a, b);
  o.slice = a.slice(1, 1, 4, 2).t();
  o.reshape = a.reshape([2, 6]).permute([1, 0]);
  o.broadcast = b.broadcastTo([2, 3, 4]);
  for (const to of ALL) o[`to_${to}`] = (FLOATS.has(d) ? a.mul(40) : a).toDtype(to);
  if (d === DType.BOOL) return o;
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'] as const) o[op] = a[op](b);
  for (const op of ['neg', 'abs', 'sign', 'square', 'relu'] as const) o[op] = a[op]();
  o.clamp = a.clamp(-1.5, 2.5);
  o.clamp_inf = a.clamp(-Infinity, 1);
  o.matmul = a.matmul(c.t());
  o.matmul_vec = b.matmul(c.t());
  for (const op of ['sum', 'max', 'min', 'prod'] as const) o[op] = a[op](1);
  o.sum_all = a.sum();
  o.argmax = a.argmax(1, true);
  o.argmin = a.argmin([0, 1]);
  if (!FLOATS.has(d)) return o;
  const pos = a.abs().add(0.5);
  for (const op of ['sigmoid', 'tanh', 'gelu', 'softplus', 'sin', 'cos', 'tan', 'exp', 'exp2', 'exp10', 'silu', 'recip'] as const) o[op] = a[op]();
  for (const op of ['sqrt', 'ln', 'log2', 'log10'] as const) o[op] = pos[op]();
  o.leaky = a.leakyRelu(0.1);
  o.elu = a.elu(0.7);
  for (const op of ['mean', 'var', 'std', 'norm'] as const) o[op] = a[op]([0, 1]);
  o.softmax = a.softmax(1).add(a.logSoftmax(0));
  return o;
}

describeXla('every dtype the HODU backend supports', () => {
  test.each(ALL)('%s', (d) => {
    const inputs = [gen([3, 4], d, 1), gen([4], d, 2), gen([3, 4], d, 3), gen([3, 1], DType.BOOL, 4)];
    const s = scriptOf(`dtype_${d}`, (a, b, c, cond) => dtypeOps(d, a, b, c, cond), inputs);
    const want = runOn(s, Backend.HODU);
    const got = runOn(s, Backend.XLA);
    const tol = d === DType.F16 || d === DType.BF16 ? 1e-2 : d === DType.F32 ? 1e-5 : d === DType.F64 ? 1e-12 : 0;
    for (const k of Object.keys(want)) {
      const diff = maxRelDiff(got[k], want[k]);
      if (!(diff <= (k.startsWith('to_') || ['tan', 'exp10', 'exp2'].includes(k) ? Math.max(tol, 1e-5) * 10 : tol)))
        throw new Error(`${d} ${k}: XLA and HODU differ by ${diff}\nXLA:  ${got[k]}\nHODU: ${want[k]}`);
    }
  });

  test('conv2d and pools in f16, bf16, f64 (computed in f32 for the 16-bit types)', () => {
    for (const d of [DType.F16, DType.BF16, DType.F64]) {
      const s = scriptOf(
        `conv_${d}`,
        (x, w) => ({
          conv: x.conv2d(w, null, { stride: 2, padding: 1, dilation: 2 }),
          pool: x.maxPool2d({ kernel: 3, stride: 2, padding: 1 }).add(x.avgPool2d({ kernel: 3, stride: 2, padding: 1 })),
        }),
        [gen([1, 2, 7, 7], d, 5), gen([3, 2, 3, 3], d, 6)],
      );
      const want = runOn(s, Backend.HODU);
      const got = runOn(s, Backend.XLA);
      const tol = d === DType.F64 ? 1e-12 : 1e-2;
      expect(maxRelDiff(got.conv, want.conv)).toBeLessThanOrEqual(tol);
      expect(maxRelDiff(got.pool, want.pool)).toBeLessThanOrEqual(tol);
    }
  });

  test('edge values: NaN, infinities, saturating casts, integer division by zero, MIN / -1, negative powers', () => {
    const f = Tensor.fromArray([NaN, Infinity, -Infinity, 3e9, -3e9, 2.7, -2.7, 0, -0.5, 1e20]);
    const i = Tensor.fromArray([7, -7, -2147483648, 5, 0, -1, 1, 2], undefined, DType.I32);
    const j = Tensor.fromArray([0, 2, -1, -3, 0, -2, -5, 3], undefined, DType.I32);
    const s = scriptOf(
      'edges',
      (x, p, q) => {
        const o: Record<string, Tensor> = {};
        for (const to of [DType.I8, DType.U8, DType.I32, DType.U32, DType.I64, DType.U64, DType.BOOL, DType.F16, DType.BF16])
          o[`f_${to}`] = x.toDtype(to);
        o.div = p.div(q);
        o.pow = q.pow(q);
        o.max = x.maximum(x.neg());
        o.maxnan = x.maximum(Tensor.fromArray([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        o.minnan = Tensor.fromArray([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]).minimum(x);
        o.sign = x.sign();
        o.relu = x.relu();
        o.clamp = x.clamp(-1, 1);
        o.argmax = x.argmax();
        o.argmin = x.slice(0, 1, 10).argmin();
        o.clamp_i = p.clamp(-2.5, Infinity);
        o.clamp_i2 = p.clamp(1e12, 2e12);
        o.abs_i = p.abs();
        o.neg_i = p.neg();
        return o;
      },
      [f, i, j],
    );
    const want = runOn(s, Backend.HODU);
    const got = runOn(s, Backend.XLA);
    for (const k of Object.keys(want)) expect([k, maxRelDiff(got[k], want[k])]).toEqual([k, 0]);
    expect(values(got.div)).toEqual([0, -3, -2147483648, -1, 0, 0, 0, 0]);
  });
});

// ---------------------------------------------------------------------------------------------
// Ops whose HODU kernels may be missing in a build: XLA against float64 references (and against
// HODU as well when it can run them).

type Ref = { data: number[]; shape: number[] };
const flat = (t: Tensor): number[] => values(t);
const strides = (shape: number[]): number[] => {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
};
function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}
const ravel = (idx: number[], shape: number[]): number => idx.reduce((acc, v, d) => acc * shape[d] + v, 0);

function refConcat(ts: Tensor[], dim: number): Ref {
  const shape = ts[0].shape.slice();
  shape[dim] = ts.reduce((a, t) => a + t.shape[dim], 0);
  const out = new Array<number>(shape.reduce((a, b) => a * b, 1));
  let off = 0;
  for (const t of ts) {
    const v = flat(t);
    v.forEach((x, i) => {
      const idx = unravel(i, t.shape as number[]);
      idx[dim] += off;
      out[ravel(idx, shape)] = x;
    });
    off += t.shape[dim];
  }
  return { data: out, shape };
}

function refIndexSelect(x: Tensor, dim: number, index: number[]): Ref {
  const shape = x.shape.slice();
  shape[dim] = index.length;
  const xv = flat(x);
  const out = new Array<number>(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    idx[dim] = index[idx[dim]];
    out[i] = xv[ravel(idx, x.shape as number[])];
  }
  return { data: out, shape };
}

function refGather(x: Tensor, dim: number, index: Tensor): Ref {
  const shape = index.shape.slice();
  const xv = flat(x);
  const iv = flat(index);
  return {
    data: iv.map((k, i) => {
      const idx = unravel(i, shape);
      idx[dim] = k;
      return xv[ravel(idx, x.shape as number[])];
    }),
    shape,
  };
}

function refScatterAdd(base: Tensor, dim: number, index: Tensor, src: Tensor): Ref {
  const out = flat(base);
  const iv = flat(index);
  const sv = flat(src);
  iv.forEach((k, i) => {
    const idx = unravel(i, index.shape as number[]);
    idx[dim] = k;
    out[ravel(idx, base.shape as number[])] += sv[i];
  });
  return { data: out, shape: base.shape.slice() };
}

function refIndexAdd(base: Tensor, dim: number, index: number[], src: Tensor): Ref {
  const out = flat(base);
  flat(src).forEach((v, i) => {
    const idx = unravel(i, src.shape as number[]);
    idx[dim] = index[idx[dim]];
    out[ravel(idx, base.shape as number[])] += v;
  });
  return { data: out, shape: base.shape.slice() };
}

function refSliceScatter(base: Tensor, src: Tensor, dim: number, start: number, step: number): Ref {
  const out = flat(base);
  flat(src).forEach((v, i) => {
    const idx = unravel(i, src.shape as number[]);
    idx[dim] = start + idx[dim] * step;
    out[ravel(idx, base.shape as number[])] = v;
  });
  return { data: out, shape: base.shape.slice() };
}

interface ConvP {
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  groups: number;
}

/** For every (n, o, oy, ox, ci, ky, kx) term of conv2d that reads an input cell, calls f. */
function convTerms(xs: number[], ws: number[], os: number[], p: ConvP, f: (xi: number, wi: number, oi: number) => void): void {
  const [N, C, H, W] = xs;
  const [O, Cg, KH, KW] = ws;
  const [, , OH, OW] = os;
  const Og = O / p.groups;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++)
          for (let ci = 0; ci < Cg; ci++)
            for (let ky = 0; ky < KH; ky++)
              for (let kx = 0; kx < KW; kx++) {
                const y = oy * p.sh + ky * p.dh - p.ph;
                const x = ox * p.sw + kx * p.dw - p.pw;
                if (y < 0 || y >= H || x < 0 || x >= W) continue;
                const c = Math.floor(o / Og) * Cg + ci;
                f(((n * C + c) * H + y) * W + x, ((o * Cg + ci) * KH + ky) * KW + kx, ((n * O + o) * OH + oy) * OW + ox);
              }
}

function poolWindows(xs: number[], k: number[], os: number[], f: (cells: number[], oi: number) => void): void {
  const [N, C, H, W] = xs;
  const [kh, kw, sh, sw, ph, pw] = k;
  const [, , OH, OW] = os;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          const cells: number[] = [];
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const y = oy * sh + ky - ph;
              const x = ox * sw + kx - pw;
              if (y >= 0 && y < H && x >= 0 && x < W) cells.push(((n * C + c) * H + y) * W + x);
            }
          f(cells, ((n * C + c) * OH + oy) * OW + ox);
        }
}

describeXla('indexing, joining and gradient ops against float64 references', () => {
  /** Runs on XLA, checks against the reference, and against HODU too when HODU can run the script. */
  function check(s: Script, refs: Record<string, Ref>, rtol = 1e-5): void {
    const got = runOn(s, Backend.XLA);
    for (const [k, r] of Object.entries(refs)) expectNear(got[k], r.data, r.shape, rtol);
    let hodu: Record<string, Tensor> | null = null;
    try {
      hodu = runOn(s, Backend.HODU);
    } catch (e) {
      if (!/no kernel/.test(String((e as Error).message))) throw e;  // a kernel not built yet: the reference decides
    }
    if (hodu) for (const k of Object.keys(refs)) expect(maxRelDiff(got[k], hodu[k])).toBeLessThan(rtol);
  }

  test('concat, index_select, gather', () => {
    const a = gen([3, 4], DType.F32, 7);
    const b = gen([2, 4], DType.F32, 8);
    const gi = Tensor.fromArray([[0, 3, 2], [1, 1, 2]], undefined, DType.I32);
    const s = scriptOf(
      'index',
      (x, y) => ({
        concat0: Tensor.concat([x, y, x], 0),
        concat1: Tensor.concat([x.t(), y.t()], 1),
        isel: x.indexSelect(1, Tensor.fromArray([3, 0, 1, 2, 2], undefined, DType.I64)),
        gather: x.gather(1, gi),
      }),
      [a, b],
    );
    check(s, {
      concat0: refConcat([a, b, a], 0),
      concat1: refConcat([a.t().contiguous(), b.t().contiguous()], 1),
      isel: refIndexSelect(a, 1, [3, 0, 1, 2, 2]),
      gather: refGather(a, 1, gi),
    });
  });

  test('scatter_add, index_add, slice_scatter', () => {
    const base = gen([3, 5], DType.F32, 9);
    const src = gen([3, 5], DType.F32, 10);
    const idx = Tensor.fromArray([[0, 4, 4, 1, 0], [2, 2, 2, 3, 3], [1, 0, 1, 0, 4]], undefined, DType.I64);
    const rows = [2, 0, 2, 1];
    const b = new Builder('scatter_ops');
    b.start();
    const x = Tensor.input('x', [3, 5]);
    const y = Tensor.input('y', [3, 5]);
    const r4 = Tensor.input('r4', [4, 5]);
    b.addOutput('scatter', rawOp(b, 'scatter_add', [x, idx, y], [1]));
    b.addOutput('index_add', rawOp(b, 'index_add', [x, Tensor.fromArray(rows, undefined, DType.I32), r4], [0]));
    b.addOutput('slice_scatter', rawOp(b, 'slice_scatter', [x, y.slice(1, 0, 2)], [1, 1, 5, 2]));
    b.end();
    const sc = b.build();
    const r4v = gen([4, 5], DType.F32, 11);
    sc.addInput('x', base).addInput('y', src).addInput('r4', r4v);
    check(sc, {
      scatter: refScatterAdd(base, 1, idx, src),
      index_add: refIndexAdd(base, 0, rows, r4v),
      slice_scatter: refSliceScatter(base, src.slice(1, 0, 2).contiguous(), 1, 1, 2),
    });
  });

  test.each([
    ['stride 2, pad 1, groups 2', { sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1, groups: 2 }, [2, 4, 7, 7], [6, 2, 3, 3]],
    ['dilation 2, stride 1x3', { sh: 1, sw: 3, ph: 0, pw: 2, dh: 2, dw: 1, groups: 1 }, [1, 3, 8, 9], [2, 3, 2, 3]],
    ['padding larger than the kernel reach', { sh: 2, sw: 2, ph: 3, pw: 3, dh: 1, dw: 1, groups: 1 }, [1, 2, 5, 5], [2, 2, 2, 2]],
  ] as [string, ConvP, number[], number[]][])('conv2d_grad_input and conv2d_grad_weight: %s', (_name, p, xs, ws) => {
    const OH = Math.floor((xs[2] + 2 * p.ph - (p.dh * (ws[2] - 1) + 1)) / p.sh) + 1;
    const OW = Math.floor((xs[3] + 2 * p.pw - (p.dw * (ws[3] - 1) + 1)) / p.sw) + 1;
    const os = [xs[0], ws[0], OH, OW];
    const x = gen(xs, DType.F32, 12);
    const w = gen(ws, DType.F32, 13);
    const g = gen(os, DType.F32, 14);
    const conv = [p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, p.groups];
    const b = new Builder('conv_grads');
    b.start();
    const [xi, wi, gi] = [Tensor.input('x', xs), Tensor.input('w', ws), Tensor.input('g', os)];
    b.addOutput('dx', rawOp(b, 'conv2d_grad_input', [gi, wi], [...conv, xs[2], xs[3]]));
    b.addOutput('dw', rawOp(b, 'conv2d_grad_weight', [xi, gi], [...conv, ws[2], ws[3]]));
    b.end();
    const s = b.build();
    s.addInput('x', x).addInput('w', w).addInput('g', g);
    const xv = flat(x);
    const wv = flat(w);
    const gv = flat(g);
    const dx = new Array<number>(xv.length).fill(0);
    const dw = new Array<number>(wv.length).fill(0);
    convTerms(xs, ws, os, p, (xi2, wi2, oi) => {
      dx[xi2] += gv[oi] * wv[wi2];
      dw[wi2] += gv[oi] * xv[xi2];
    });
    check(s, { dx: { data: dx, shape: xs }, dw: { data: dw, shape: ws } });
  });

  test('max_pool2d_grad (first maximum of each window) and avg_pool2d_grad (padded cells count)', () => {
    const k = [3, 3, 2, 2, 1, 1];
    const xs = [2, 3, 7, 7];
    const os = [2, 3, 4, 4];
    // distinct values so that the maximum of a window is unique, plus one tie to test "first wins"
    const xdata = Array.from({ length: 2 * 3 * 49 }, (_, i) => ((i * 37) % 101) / 7 - 5);
    xdata[8] = xdata[9];
    const x = Tensor.fromArray(xdata, xs);
    const g = gen(os, DType.F32, 15);
    const b = new Builder('pool_grads');
    b.start();
    const [xi, gi] = [Tensor.input('x', xs), Tensor.input('g', os)];
    b.addOutput('max', rawOp(b, 'max_pool2d_grad', [xi, gi], k));
    b.addOutput('avg', rawOp(b, 'avg_pool2d_grad', [gi], [...k, 7, 7]));
    b.end();
    const s = b.build();
    s.addInput('x', x).addInput('g', g);
    const xv = flat(x);
    const gv = flat(g);
    const dmax = new Array<number>(xv.length).fill(0);
    const davg = new Array<number>(xv.length).fill(0);
    poolWindows(xs, k, os, (cells, oi) => {
      let best = cells[0];
      for (const c of cells) if (xv[c] > xv[best]) best = c;
      dmax[best] += gv[oi];
      for (const c of cells) davg[c] += gv[oi] / 9;
    });
    check(s, { max: { data: dmax, shape: xs }, avg: { data: davg, shape: xs } });
  });
});

// ---------------------------------------------------------------------------------------------

describeXla('the seed examples, an MLP and training on XLA', () => {
  test('the seed matmul script (SPEC §3) against a float64 reference and HODU', () => {
    const builder = new Builder('my_script');
    builder.start();
    const x = Tensor.input('x', [2, 3]);
    const y = Tensor.input('y', [3, 4]);
    builder.addOutput('result', x.matmul(y));
    builder.end();
    const script = builder.build();
    script.setBackend(Backend.XLA);
    for (let rep = 0; rep < 3; rep++) {
      const a = Tensor.randn([2, 3], DType.F32);
      const b = Tensor.randn([3, 4], DType.F32);
      script.addInput('x', a);
      script.addInput('y', b);
      const result = script.run()['result'];
      const av = a.toArray() as number[][];
      const bv = b.toArray() as number[][];
      const want: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 4; j++) want.push(av[i][0] * bv[0][j] + av[i][1] * bv[1][j] + av[i][2] * bv[2][j]);
      expectNear(result, want, [2, 4], 1e-6);
    }
    expect(script.planInfo()).toMatchObject({ backend: 'xla', platform: 'cpu' });
  });

  test('an MLP 784-256-10 (nn.Sequential, softmax) at batch 1 and 32', () => {
    manualSeed(3);
    const model = new nn.Sequential(new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10), new nn.Softmax(1));
    for (const batch of [1, 32]) {
      const b = new Builder(`mlp_${batch}`);
      b.start();
      const x = Tensor.input('x', [batch, 784]);
      b.addOutput('y', model.forward(x));
      b.end();
      const s = b.build();
      s.addInput('x', Tensor.randn([batch, 784]));
      const want = runOn(s, Backend.HODU).y;
      const got = runOn(s, Backend.XLA).y;
      expect(maxRelDiff(got, want)).toBeLessThan(1e-5);
      const info = s.planInfo() as unknown as { constantParams: number; textBytes: number };
      // the weights are parameters of the module, so variables of the script (SPEC §5): inputs of
      // the executable, read at their current value on every run, not literals in the program text
      expect(Object.keys(s.variables).length).toBe(4);
      expect(info.textBytes).toBeLessThan(20000);
    }
  });

  const hasAutograd = typeof (Tensor.prototype as unknown as { backward?: unknown }).backward === 'function';
  (hasAutograd ? test : test.skip)('a training script (Linear + MSE + SGD, unrolled) gives the same loss and weights', () => {
    const EPOCHS = 60;
    const N = 100;
    const xs = new Float32Array(N * 3);
    const ys = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      const a = (i % 100) / 100;
      xs.set([a, a + 0.01, a + 0.02], i * 3);
      ys[i] = a;
    }
    manualSeed(0);
    const model = new nn.Linear(3, 1);
    const mse = new nn.MSE();
    const opt = new nn.SGD(0.1);
    const builder = new Builder('train_linear');
    builder.start();
    const x = Tensor.input('input', [N, 3]);
    const y = Tensor.input('target', [N, 1]);
    let first!: Tensor;
    let last!: Tensor;
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      last = mse.forward([model.forward(x), y]);
      if (epoch === 0) first = last;
      last.backward();
      opt.step(model.parameters());
      opt.zeroGrad(model.parameters());
    }
    builder.addOutput('first', first);
    builder.addOutput('loss', last);
    builder.addOutput('weight', model.weight);
    builder.addOutput('bias', model.bias!);
    builder.end();
    const s = builder.build();
    s.addInput('input', Tensor.fromArray(xs, [N, 3])).addInput('target', Tensor.fromArray(ys, [N, 1]));
    const want = runOn(s, Backend.HODU);
    const got = runOn(s, Backend.XLA);
    for (const k of ['first', 'loss', 'weight', 'bias']) expect([k, maxRelDiff(got[k], want[k]) < 1e-4]).toEqual([k, true]);
    expect(got.loss.item()).toBeLessThan(got.first.item());
  });

  (hasAutograd ? test : test.skip)('a CNN training step (conv, pool, cross-entropy gradients) matches HODU', () => {
    manualSeed(5);
    const conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
    const fc = new nn.Linear(4 * 3 * 3, 3);
    const opt = new nn.SGD(0.05);
    const ce = new nn.CrossEntropy();
    const b = new Builder('cnn_step');
    b.start();
    const x = Tensor.input('x', [2, 2, 6, 6]);
    const t = Tensor.input('t', [2], DType.I64);
    const params = [...conv.parameters(), ...fc.parameters()];
    const h = conv.forward(x).relu().maxPool2d({ kernel: 2 }).avgPool2d({ kernel: 1 }).flatten(1);
    const loss = ce.forward([fc.forward(h), t]);
    loss.backward();
    opt.step(params);
    b.addOutput('loss', loss);
    params.forEach((p, i) => b.addOutput(`p${i}`, p));
    b.end();
    const s = b.build();
    s.addInput('x', Tensor.randn([2, 2, 6, 6])).addInput('t', Tensor.fromArray([2, 0], undefined, DType.I64));
    let want: Record<string, Tensor>;
    try {
      want = runOn(s, Backend.HODU);
    } catch (e) {
      if (/no kernel/.test(String((e as Error).message))) return;  // HODU's gradient kernels not built yet
      throw e;
    }
    const got = runOn(s, Backend.XLA);
    for (const k of Object.keys(want)) expect([k, maxRelDiff(got[k], want[k]) < 1e-4]).toEqual([k, true]);
  });

  test('a 1000-op graph compiles and matches HODU', () => {
    const x0 = Tensor.randn([8, 8]);
    const s = scriptOf(
      'chain1000',
      (x) => {
        let v = x;
        for (let i = 0; i < 1000; i++) v = i % 3 === 0 ? v.tanh() : i % 3 === 1 ? v.add(x) : v.mul(0.5);
        return v;
      },
      [x0],
    );
    const want = runOn(s, Backend.HODU).out;
    const got = runOn(s, Backend.XLA).out;
    expect(maxRelDiff(got, want)).toBeLessThan(1e-5);
  });
});

// ---------------------------------------------------------------------------------------------

describeXla('Script on Backend.XLA', () => {
  function addScript(): Script {
    const b = new Builder('add_one');
    b.start();
    const x = Tensor.input('x', [2, 2]);
    b.addOutput('y', x.add(1));
    b.addOutput('x_again', x);
    b.addOutput('y_too', x.add(1));
    b.addOutput('const', Tensor.fromArray([[5, 6], [7, 8]]));
    b.end();
    return b.build().setBackend(Backend.XLA);
  }

  test('outputs by name: ops, an input passed through, a repeated value, a constant', () => {
    const s = addScript().addInput('x', Tensor.fromArray([[1, 2], [3, 4]]));
    const out = s.run();
    expect(Object.keys(out).sort()).toEqual(['const', 'x_again', 'y', 'y_too']);
    expect(out.y.toArray()).toEqual([[2, 3], [4, 5]]);
    expect(out.y_too.toArray()).toEqual([[2, 3], [4, 5]]);
    expect(out.x_again.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(out.const.toArray()).toEqual([[5, 6], [7, 8]]);
  });

  test('input checks are the same as on HODU', () => {
    const s = addScript();
    expect(codeOf(() => s.run())).toBe('INPUT_MISSING');
    s.addInput('x', Tensor.zeros([3, 2]));
    expect(codeOf(() => s.run())).toBe('SHAPE_MISMATCH');
    s.addInput('x', Tensor.zeros([2, 2], DType.F64));
    expect(codeOf(() => s.run())).toBe('DTYPE_MISMATCH');
    s.addInput('x', Tensor.fromArray([[1, 2], [3, 4]]).t());  // strided input
    expect(s.run().y.toArray()).toEqual([[2, 4], [3, 5]]);
  });

  test('the compile cache is per (script, backend, device); setBackend/setDevice drop it; inputs do not', () => {
    const s = addScript();
    const handle = () => (s as unknown as { handle: unknown }).handle;
    expect(s.isCompiled).toBe(false);
    s.compile();
    const h1 = handle();
    s.addInput('x', Tensor.ones([2, 2]));
    s.run();
    s.compile();
    expect(handle()).toBe(h1);  // cached
    s.setDevice(Device.CPU);  // the same device: kept
    expect(handle()).toBe(h1);
    s.setBackend(Backend.HODU);
    expect(s.isCompiled).toBe(false);
    s.run();
    s.setBackend(Backend.XLA);
    expect(s.isCompiled).toBe(false);
    s.compile();
    expect(handle()).not.toBe(h1);
    const other = addScript().compile();
    expect((other as unknown as { handle: unknown }).handle).not.toBe(handle());
    s.setDevice(Device.CUDA(0));
    expect(s.isCompiled).toBe(false);
    expect(codeOf(() => s.run())).toBe('DEVICE_UNAVAILABLE');
    s.setDevice(Device.CPU);
    expect(s.run().y.toArray()).toEqual([[2, 2], [2, 2]]);
  });

  test('runAsync runs off the event loop and matches run()', async () => {
    const b = new Builder('mm_async');
    b.start();
    const x = Tensor.input('x', [64, 64]);
    b.addOutput('y', x.matmul(x).tanh());
    b.end();
    const s = b.build().setBackend(Backend.XLA).addInput('x', Tensor.randn([64, 64]));
    const sync = s.run().y;
    const all = await Promise.all([s.runAsync(), s.runAsync(), s.runAsync()]);
    for (const r of all) expect(maxRelDiff(r.y, sync)).toBe(0);
  });

  test('results are bit-identical run to run (PJRT_NPROC=1)', () => {
    const s = scriptOf('det', (x) => x.matmul(x.t()).softmax(1).sum(0), [Tensor.randn([128, 128])]).setBackend(Backend.XLA);
    const a = values(s.run().out);
    const b = values(s.run().out);
    expect(a).toEqual(b);
  });

  test('zero-size tensors', () => {
    const s = scriptOf('empty', (x) => ({ sum: x.sum(0), y: x.mul(2) }), [Tensor.zeros([0, 3])]);
    const got = runOn(s, Backend.XLA);
    expect(got.sum.toArray()).toEqual([0, 0, 0]);
    expect(got.y.shape).toEqual([0, 3]);
  });

  test('the emitted StableHLO keeps constants out of the text and compiles', () => {
    const w = Tensor.randn([128, 128]);
    const s = scriptOf('emit', (x) => x.matmul(w).relu(), [Tensor.randn([4, 128])]);
    const text = emitStableHlo(s as unknown as { _ir: Uint8Array; _constants: ArrayBuffer[] });
    expect(text).toMatch(/func\.func public @main\(%arg0: tensor<4x128xf32>, %arg1: tensor<128x128xf32>\)/);
    expect(text.length).toBeLessThan(3000);
    expect(compileStableHlo(text)).toBe(1);
  });
});

describeXla('errors: the process survives and each gives the right HoduError', () => {
  const saved = { cpu: process.env.HODU_PJRT_PLUGIN_CPU, cuda: process.env.HODU_PJRT_PLUGIN_CUDA };
  afterEach(() => {
    setXlaPlugin('cpu', null);
    setXlaPlugin('cuda', null);
    for (const [k, v] of [['HODU_PJRT_PLUGIN_CPU', saved.cpu], ['HODU_PJRT_PLUGIN_CUDA', saved.cuda]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  function script(): Script {
    return scriptOf('err', (x) => x.exp(), [Tensor.fromArray([0, 1])]).setBackend(Backend.XLA);
  }

  test('a missing plugin: BACKEND_UNAVAILABLE naming the path', () => {
    process.env.HODU_PJRT_PLUGIN_CPU = '/nonexistent/xla_cpu_pjrt.so';
    const e = errorOf(() => script().run());
    expect(e.code).toBe('BACKEND_UNAVAILABLE');
    expect(e.message).toContain('/nonexistent/xla_cpu_pjrt.so');
  });

  test('a file that is not a PJRT plugin: BACKEND_UNAVAILABLE', () => {
    const junk = path.join(os.tmpdir(), `hodu-not-a-plugin-${process.pid}.so`);
    fs.writeFileSync(junk, 'this is not an ELF file');
    try {
      setXlaPlugin('cpu', junk);
      const e = errorOf(() => script().run());
      expect(e.code).toBe('BACKEND_UNAVAILABLE');
      expect(e.message).toMatch(/cannot load the PJRT plugin/);
    } finally {
      fs.rmSync(junk, { force: true });
    }
    // a real shared library without GetPjrtApi (libdnnl from the oneDNN cache, when present)
    const dnnl = path.join(__dirname, '..', '.cache', 'onednn-3.2.0', 'lib', 'libdnnl.so.3');
    if (fs.existsSync(dnnl)) {
      setXlaPlugin('cpu', dnnl);
      const e = errorOf(() => script().run());
      expect(e.code).toBe('BACKEND_UNAVAILABLE');
      expect(e.message).toMatch(/not a PJRT plugin/);
    }
    setXlaPlugin('cpu', null);
    expect((script().run().out.toArray() as number[])[1]).toBeCloseTo(Math.E, 5);  // still works
  });

  test('no plugin anywhere: BACKEND_UNAVAILABLE listing every place tried and how to fetch one', () => {
    const keep = { cache: process.env.HODU_CACHE_DIR, path: process.env.PATH, venv: process.env.VIRTUAL_ENV };
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-empty-cache-'));
    try {
      delete process.env.HODU_PJRT_PLUGIN_CPU;
      process.env.HODU_CACHE_DIR = empty;  // the only project cache looked at when set
      process.env.PATH = '/nonexistent';  // no python3: no site-packages from sys.path
      delete process.env.VIRTUAL_ENV;
      _resetPluginSearch();
      const search = findPjrtPlugin('cpu');
      if (search.path !== null) return;  // a plugin installed in /opt/torch/.venv on this machine
      const e = errorOf(() => script().run());
      expect(e.code).toBe('BACKEND_UNAVAILABLE');
      expect(e.message).toContain('HODU_PJRT_PLUGIN_CPU (not set)');
      expect(e.message).toContain(path.join(empty, 'pjrt-cpu', 'xla_cpu_pjrt.so'));
      expect(e.message).toMatch(/scripts\/deps\.js --pjrt/);
      expect(e.message).toMatch(/pip install xla-cpu-pjrt==0\.0\.1/);
    } finally {
      for (const [k, v] of [['HODU_CACHE_DIR', keep.cache], ['PATH', keep.path], ['VIRTUAL_ENV', keep.venv]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      _resetPluginSearch();
      fs.rmSync(empty, { recursive: true, force: true });
    }
    expect((script().run().out.toArray() as number[])[0]).toBe(1);
  });

  test('an index out of range: INVALID_ARGUMENT as on HODU (XLA would clamp it)', () => {
    const s = scriptOf('oob', (x, i) => ({ isel: x.indexSelect(0, i), g: x.gather(0, i.reshape([2, 1])) }), [
      Tensor.randn([3, 2]),
      Tensor.fromArray([1, 2], undefined, DType.I64),
    ]);
    expect(runOn(s, Backend.XLA).isel.shape).toEqual([2, 2]);
    for (const bad of [[0, 3], [-1, 0]]) {
      s.addInput('in1', Tensor.fromArray(bad, undefined, DType.I64));
      const e = errorOf(() => runOn(s, Backend.XLA));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/index_select: an index is out of range for dim 0 of size 3/);
    }
  });

  test('a program XLA rejects: COMPILE_FAILED with the compiler message', () => {
    const e = errorOf(() =>
      compileStableHlo(
        'func.func @main(%a: tensor<2xf32>, %b: tensor<3xf32>) -> tensor<2xf32> {\n' +
          '  %c = stablehlo.add %a, %b : (tensor<2xf32>, tensor<3xf32>) -> tensor<2xf32>\n  return %c : tensor<2xf32>\n}\n',
      ),
    );
    expect(e.code).toBe('COMPILE_FAILED');
    expect(e.message).toMatch(/stablehlo\.add/);
    expect((script().run().out.toArray() as number[])[0]).toBe(1);  // the client keeps working
  });

  test('Device.CUDA(n): DEVICE_UNAVAILABLE without a CUDA plugin or a GPU; the plugin search finds jax_plugins/xla_cuda*', () => {
    const s = script().setDevice(Device.CUDA(0));
    process.env.HODU_PJRT_PLUGIN_CUDA = '/nonexistent/xla_cuda_plugin.so';
    expect(codeOf(() => s.run())).toBe('DEVICE_UNAVAILABLE');
    delete process.env.HODU_PJRT_PLUGIN_CUDA;
    // a pip-style layout: <venv>/lib/python3.12/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so
    const venv = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-venv-'));
    const plugin = path.join(venv, 'lib', 'python3.12', 'site-packages', 'jax_plugins', 'xla_cuda13', 'xla_cuda_plugin.so');
    fs.mkdirSync(path.dirname(plugin), { recursive: true });
    fs.writeFileSync(plugin, '');
    const savedVenv = process.env.VIRTUAL_ENV;
    try {
      process.env.VIRTUAL_ENV = venv;
      _resetPluginSearch();
      expect(findPjrtPlugin('cuda').path).toBe(plugin);
      const e = errorOf(() => s.run());
      expect(e.code).toBe('DEVICE_UNAVAILABLE');
      if (!fs.existsSync('/dev/nvidiactl')) expect(e.message).toMatch(/no NVIDIA GPU/);
    } finally {
      if (savedVenv === undefined) delete process.env.VIRTUAL_ENV;
      else process.env.VIRTUAL_ENV = savedVenv;
      _resetPluginSearch();
      fs.rmSync(venv, { recursive: true, force: true });
    }
    expect(codeOf(() => script().setDevice(Device.CUDA(3)).run())).toBe('DEVICE_UNAVAILABLE');
  });
});
