// BERT-class fusions: the exact GELU op (gelu_erf) and its oneDNN matmul post-op, the layer_norm op
// (oneDNN layer normalization), an encoder block built from hodu's own nn modules whose compiled
// plan uses both, and the ONNX importer's recognition of the decomposed GELU and LayerNorm idioms.
// References are float64 math written here (erf by its series, erfc by its continued fraction).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Builder, DType, Script, Tensor, nn } from '../lib';
import { erfRef } from './helpers/op-cases';
import { expectNear, f32, record, values } from './helpers/script-util';

afterEach(() => Builder._abortActive());

/** erfc in float64: 1 - erf below 2, the continued fraction (60 terms, evaluated backwards) above. */
function erfcRef(a: number): number {
  if (a < 2) return 1 - erfRef(a);
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
}
/** Exact GELU in float64 without cancellation in the left tail. */
function geluRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === -Infinity) return -0;
  if (x === Infinity) return Infinity;
  const u = x * Math.SQRT1_2;
  const phi = u < 0 ? erfcRef(-u) / 2 : 1 - erfcRef(u) / 2;
  return x * phi;
}
/** Distance in float32 ulps (of the reference's magnitude), for finite values. */
function ulps(got: number, want: number): number {
  const w = Math.fround(want);
  if (got === w) return 0;
  const a = Math.abs(w);
  const e = a < 1.1754943508222875e-38 ? 1.401298464324817e-45 : 2 ** (Math.floor(Math.log2(a)) - 23);
  return Math.abs(got - want) / e;
}

describe('gelu_erf', () => {
  const grid = (): number[] => {
    const v: number[] = [];
    for (let x = -16; x <= 8; x += 1 / 64) v.push(x);
    for (const x of [-13.9, -10, -9, -7.5, -6, -5.66, -5.65, -4, -1.4142, -1.41, 1e-3, -1e-3, 1e-20, -1e-20, 3.9, 4.1]) v.push(x);
    return v.map(Math.fround);
  };

  test('f32 eager, contiguous and strided: within 8 ulp of float64 exact GELU down to x = -13 (the left tail keeps its relative accuracy)', () => {
    const xs = grid();
    const t = Tensor.fromArray(xs, [xs.length]);
    const checks: [string, Float32Array][] = [['contiguous', f32(t.geluErf())]];
    // a strided view: the same values read through a transpose
    const n = xs.length - (xs.length % 8);
    const m = Tensor.fromArray(xs.slice(0, n), [n / 8, 8]).permute([1, 0]);
    const strided = f32(m.geluErf().permute([1, 0]).contiguous());
    checks.push(['strided', strided]);
    for (const [what, got] of checks) {
      let worst = 0;
      let at = 0;
      for (let i = 0; i < got.length; i++) {
        if (xs[i] < -13) continue; // results below 1e-38: denormal floats, checked below
        const u = ulps(got[i], geluRef(xs[i]));
        if (u > worst) [worst, at] = [u, xs[i]];
      }
      expect({ what, worst: worst <= 8 ? 'ok' : `${worst} ulp at x = ${at}` }).toEqual({ what, worst: 'ok' });
    }
  });

  test('special values: NaN stays NaN, +inf gives +inf, -inf and x < -14 give -0, 0 gives 0', () => {
    const got = f32(Tensor.fromArray([NaN, Infinity, -Infinity, -20, -14.5, 0, -0], [7]).geluErf());
    expect(Number.isNaN(got[0])).toBe(true);
    expect(got[1]).toBe(Infinity);
    for (const i of [2, 3, 4]) expect(Object.is(got[i], -0)).toBe(true);
    expect(got[5]).toBe(0);
    expect(got[6] === 0).toBe(true); // -0 in, ±0 out
  });

  test('f64 matches the float64 reference to 1e-13 relative (the reference rounds a² in e^(-a²))', () => {
    const xs = [-30, -12, -7, -3, -1, -0.5, 0, 0.25, 1, 2.5, 6, 40];
    const got = Tensor.fromArray(xs, [xs.length], DType.F64).geluErf().toTypedArray() as Float64Array;
    xs.forEach((x, i) => expect(Math.abs(got[i] - geluRef(x))).toBeLessThanOrEqual(1e-13 * Math.abs(geluRef(x)) + 1e-300));
  });

  test('matmul + bias + gelu_erf compile to one oneDNN matmul with the GELU as a post-op', () => {
    const w = values([32, 48], 2, -0.3, 0.3);
    const b = values([48], 3, -1, 1);
    const s = record('mlp', { x: [64, 32] }, (i) => i.x.matmul(w).add(b).geluErf());
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.kernels[0]).toMatch(/onednn:.*\+add \+gelu_erf/);
    const x = values([64, 32], 1, -2, 2);
    s.addInput('x', x);
    const got = f32(s.run().y);
    const X = f32(x);
    const W = f32(w);
    const B = f32(b);
    const want: number[] = [];
    for (let r = 0; r < 64; r++)
      for (let c = 0; c < 48; c++) {
        let acc = B[c];
        for (let k = 0; k < 32; k++) acc += X[r * 32 + k] * W[k * 48 + c];
        want.push(geluRef(acc));
      }
    expectNear(got, want, 1e-5, 1e-5);
    // and the same script without fusion: the gelu_erf kernel of its own
    s.compile({ fuse: false });
    expect(s.planInfo().steps).toBe(3);
    expectNear(f32(s.run().y), want, 1e-5, 1e-6);
  });
});

describe('layer_norm', () => {
  /** Float64 layer norm of rows of C. */
  function lnRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, C: number, eps: number): number[] {
    const out: number[] = [];
    for (let r = 0; r < x.length / C; r++) {
      let m = 0;
      for (let j = 0; j < C; j++) m += x[r * C + j];
      m /= C;
      let v = 0;
      for (let j = 0; j < C; j++) v += (x[r * C + j] - m) ** 2;
      v /= C;
      for (let j = 0; j < C; j++) out.push(((x[r * C + j] - m) / Math.sqrt(v + eps)) * w[j] + b[j]);
    }
    return out;
  }

  test('f32 in a script runs oneDNN layer normalization and matches float64 (rows with a large mean too)', () => {
    const C = 384;
    const w = values([C], 5, 0.5, 1.5);
    const b = values([C], 6, -0.5, 0.5);
    const s = record('ln', { x: [2, 16, C] }, (i) => i.x.layerNorm(C, w, b, 1e-12));
    expect(s.planInfo().kernels.join('\n')).toMatch(/layer_norm onednn:/);
    const xv = Array.from(f32(values([2, 16, C], 7, -3, 3)));
    for (let j = 0; j < C; j++) xv[j] += 1000; // one row far from 0: the two-pass variance matters
    const x = Tensor.fromArray(xv, [2, 16, C]);
    s.addInput('x', x);
    const want = lnRef(f32(x), f32(w), f32(b), C, 1e-12);
    expectNear(f32(s.run().y), want, 1e-4, 2e-4);
    expectNear(f32(x.layerNorm(C, w, b, 1e-12)), want, 1e-4, 2e-4);
  });

  test('f64, f16 and weightless forms run the loop kernel and match float64', () => {
    const x = values([3, 10], 8, -2, 2).toDtype(DType.F64);
    const got = x.layerNorm([10]).toTypedArray() as Float64Array;
    const ones = new Array(10).fill(1);
    const zeros = new Array(10).fill(0);
    expectNear(got, lnRef(x.toTypedArray() as Float64Array, ones, zeros, 10, 1e-5), 1e-13, 1e-13);
    const h = x.toDtype(DType.F16);
    const hv = Array.from(h.toDtype(DType.F64).toTypedArray() as Float64Array);
    const gh = Array.from(h.layerNorm(10).toDtype(DType.F64).toTypedArray() as Float64Array);
    expectNear(gh, lnRef(hv, ones, zeros, 10, 1e-5), 2e-3, 2e-3);
  });

  test('bad arguments are HoduErrors naming the value', () => {
    const x = Tensor.zeros([2, 3]);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return `${(e as { code?: string }).code}: ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(code(() => x.layerNorm(4))).toMatch(/^SHAPE_MISMATCH: .*\[2, 3\].*\[4\]/);
    expect(code(() => x.layerNorm(3, null, null, -1))).toMatch(/^INVALID_ARGUMENT: .*eps.*-1/);
    expect(code(() => x.layerNorm(3, Tensor.ones([2])))).toMatch(/^SHAPE_MISMATCH: layer_norm/);
    expect(code(() => x.layerNorm([]))).toMatch(/^INVALID_ARGUMENT: .*normalizedShape/);
    expect(code(() => Tensor.zeros([2, 3], DType.I32).layerNorm(3, Tensor.ones([3], DType.I32), Tensor.zeros([3], DType.I32)))).toMatch(/^DTYPE_MISMATCH/);
  });
});

describe('attention scores: scale and mask as matmul post-ops', () => {
  /** softmax(q·kᵀ·scale + mask) in float64, q and k [B, H, T, D], mask broadcast to [B, H, T, T]. */
  function ref(q: Float32Array, k: Float32Array, mask: Float32Array, mshape: number[], [B, H, T, D]: number[], scale: number): number[] {
    const out: number[] = [];
    const mAt = (b: number, h: number, i: number, j: number) => {
      const idx = [b, h, i, j].slice(4 - mshape.length).map((v, n) => (mshape[n] === 1 ? 0 : v));
      let off = 0;
      for (let n = 0; n < mshape.length; n++) off = off * mshape[n] + idx[n];
      return mask[off];
    };
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++) {
          const row: number[] = [];
          for (let j = 0; j < T; j++) {
            let acc = 0;
            for (let d = 0; d < D; d++) acc += q[((b * H + h) * T + i) * D + d] * k[((b * H + h) * T + j) * D + d];
            row.push(acc * scale + mAt(b, h, i, j));
          }
          const m = Math.max(...row);
          const e = row.map((v) => Math.exp(v - m));
          const sum = e.reduce((p, v) => p + v, 0);
          out.push(...e.map((v) => v / sum));
        }
    return out;
  }

  // oneDNN 3.2's matmul has jit post-op adds for operands that broadcast along rows or are full;
  // others (a [T, T] mask over [B·H] batches) run as their own kernel after the scaled matmul
  test.each([
    ['a mask [B, 1, 1, T] with B = 1 (broadcast over heads and rows, as BERT\'s padding mask): fused', [1, 1, 1, 8], true],
    ['a causal mask [T, T] (broadcast over batch and heads): the scale fused', [8, 8], false],
    ['a padding mask [B, 1, 1, T] with B = 2 (batch kept, heads broadcast): the scale fused', [2, 1, 1, 8], false],
  ] as const)('%s', (_name, mshape, mustFuse) => {
    const shape = [mshape.length === 4 && mshape[0] === 1 ? 1 : 2, 3, 8, 16];
    const mask = values([...mshape], 21, -4, 0);
    const s = record('scores', { q: shape, k: shape }, (i) => i.q.matmul(i.k.transpose(2, 3)).div(4).add(mask).softmax(-1));
    const kernels = s.planInfo().kernels.join('\n');
    if (mustFuse) expect(kernels).toMatch(/onednn:.*\+scale \+add/);
    else expect(kernels).toMatch(/\+scale/);
    const q = values(shape, 22, -1, 1);
    const k = values(shape, 23, -1, 1);
    s.addInput('q', q).addInput('k', k);
    expectNear(f32(s.run().y), ref(f32(q), f32(k), f32(mask), [...mshape], shape, 0.25), 1e-5, 1e-6);
  });
});

describe('a BERT-class encoder built from hodu nn', () => {
  /** Post-LN encoder layer (BERT): x = LN(x + MHA(x)); x = LN(x + W2·GELU(W1·x)). */
  class EncoderLayer extends nn.Module {
    attn: nn.MultiheadAttention;
    ln1: nn.LayerNorm;
    ff1: nn.Linear;
    act: nn.GELU;
    ff2: nn.Linear;
    ln2: nn.LayerNorm;
    constructor(e: number, heads: number, hidden: number) {
      super();
      this.attn = new nn.MultiheadAttention(e, heads);
      this.ln1 = new nn.LayerNorm(e, { eps: 1e-12 });
      this.ff1 = new nn.Linear(e, hidden);
      this.act = new nn.GELU({ approximate: 'none' });
      this.ff2 = new nn.Linear(hidden, e);
      this.ln2 = new nn.LayerNorm(e, { eps: 1e-12 });
    }
    forward(x: Tensor): Tensor {
      const h = this.ln1.forward(x.add(this.attn.forward(x)));
      return this.ln2.forward(h.add(this.ff2.forward(this.act.forward(this.ff1.forward(h)))));
    }
  }

  test('two layers: every FFN GELU fuses into its matmul, every LayerNorm is one oneDNN step; matches eager', () => {
    const layers = [new EncoderLayer(32, 4, 64), new EncoderLayer(32, 4, 64)];
    const run = (x: Tensor) => layers.reduce((h, l) => l.forward(h), x);
    const s = record('encoder', { x: [2, 8, 32] }, (i) => run(i.x));
    const info = s.planInfo();
    const kernels = info.kernels.join('\n');
    expect(kernels.match(/\+gelu_erf/g)?.length).toBe(2);
    expect(kernels.match(/layer_norm onednn:/g)?.length).toBe(4);
    expect(kernels).not.toMatch(/gelu_erf loop/);
    const x = values([2, 8, 32], 9, -1, 1);
    s.addInput('x', x);
    expectNear(f32(s.run().y), f32(run(x)), 2e-4, 2e-4);
  });
});

describe('ONNX: decomposed GELU and LayerNorm idioms import as one op each', () => {
  // A minimal ONNX protobuf writer (the fields the decoder reads), for hand-built graphs.
  const varint = (n: number): number[] => {
    const out: number[] = [];
    let v = BigInt(n) & ((1n << 64n) - 1n);
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v) b |= 0x80;
      out.push(b);
    } while (v);
    return out;
  };
  const field = (no: number, bytes: number[] | Uint8Array): number[] => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
  const num = (no: number, v: number): number[] => [...varint(no << 3), ...varint(v)];
  const str = (no: number, s: string) => field(no, Array.from(Buffer.from(s, 'utf8')));
  const f32Bytes = (v: number[]) => Array.from(new Uint8Array(new Float32Array(v).buffer));
  const i64Bytes = (v: number[]) => Array.from(new Uint8Array(new BigInt64Array(v.map(BigInt)).buffer));
  // TensorProto: dims 1, data_type 2, name 8, raw_data 9
  const tensor = (name: string, dims: number[], vals: number[], type = 1) => [
    ...dims.flatMap((d) => num(1, d)), ...num(2, type), ...str(8, name), ...field(9, type === 1 ? f32Bytes(vals) : i64Bytes(vals)),
  ];
  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5 (AttributeProto: name 1, i 3, type 20, ints 8)
  let count = 0;
  const node = (op: string, ins: string[], outs: string[], attrs: number[][] = []) => [
    ...ins.flatMap((i) => str(1, i)), ...outs.flatMap((o) => str(2, o)), ...str(3, `n${count++}`), ...str(4, op), ...attrs.flatMap((a) => field(5, a)),
  ];
  const attrInts = (name: string, v: number[]) => [...str(1, name), ...v.flatMap((x) => num(8, x)), ...num(20, 7)];
  // ValueInfoProto: name 1, type 2 (TypeProto.tensor_type 1: elem_type 1, shape 2 (dim 1: dim_value 1))
  const valueInfo = (name: string, dims: number[]) =>
    [...str(1, name), ...field(2, field(1, [...num(1, 1), ...field(2, dims.flatMap((d) => field(1, num(1, d))))]))];

  /** y = LN(x)·w + b (decomposed, opset-13 ReduceMean with an axes attribute), then GELU(y·W) (decomposed). */
  function model(file: string): void {
    const C = 16;
    const inits = [
      tensor('two', [], [2]), tensor('eps', [], [1e-12]), tensor('w', [C], Array.from({ length: C }, (_, i) => 0.5 + i / C)),
      tensor('b', [C], Array.from({ length: C }, (_, i) => Math.sin(i))), tensor('sqrt2', [], [Math.SQRT2]), tensor('one', [], [1]),
      tensor('half', [], [0.5]), tensor('W', [C, 24], Array.from({ length: C * 24 }, (_, i) => Math.cos(i * 0.37) * 0.4)),
    ];
    const nodes = [
      node('ReduceMean', ['x'], ['m'], [attrInts('axes', [-1])]), node('Sub', ['x', 'm'], ['c']), node('Pow', ['c', 'two'], ['c2']),
      node('ReduceMean', ['c2'], ['v'], [attrInts('axes', [-1])]), node('Add', ['v', 'eps'], ['ve']), node('Sqrt', ['ve'], ['sd']),
      node('Div', ['c', 'sd'], ['n']), node('Mul', ['n', 'w'], ['nw']), node('Add', ['nw', 'b'], ['ln']),
      node('MatMul', ['ln', 'W'], ['h']), node('Div', ['h', 'sqrt2'], ['hd']), node('Erf', ['hd'], ['he']), node('Add', ['he', 'one'], ['h1']),
      node('Mul', ['h', 'h1'], ['hm']), node('Mul', ['hm', 'half'], ['y']),
    ];
    // GraphProto: node 1, name 2, initializer 5, input 11, output 12
    const graph = [...nodes.flatMap((n) => field(1, n)), ...str(2, 'g'), ...inits.flatMap((t) => field(5, t)), ...field(11, valueInfo('x', [3, 5, C])), ...field(12, valueInfo('y', [3, 5, 24]))];
    // ModelProto: ir_version 1, graph 7, opset_import 8 (version 2)
    const bytes = [...num(1, 8), ...field(7, graph), ...field(8, num(2, 13))];
    fs.writeFileSync(file, Buffer.from(bytes));
  }

  test('the plan has one layer_norm step and one matmul with the GELU fused; values match float64', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-bert-')), 'decomposed.onnx');
    model(file);
    const s = Script.fromOnnx(file);
    const xs = values([3, 5, 16], 12, -2, 2);
    s.addInput('x', xs);
    const out = f32(s.run().y);
    const kernels = s.planInfo().kernels.join('\n');
    expect(kernels).toMatch(/layer_norm onednn:/);
    expect(kernels).toMatch(/\+gelu_erf/);
    expect(kernels).not.toMatch(/mean|pow|sqrt|erf,|fused\[/);
    // float64 reference
    const C = 16;
    const X = f32(xs);
    const w = Array.from({ length: C }, (_, i) => Math.fround(0.5 + i / C));
    const b = Array.from({ length: C }, (_, i) => Math.fround(Math.sin(i)));
    const W = Array.from({ length: C * 24 }, (_, i) => Math.fround(Math.cos(i * 0.37) * 0.4));
    const want: number[] = [];
    for (let r = 0; r < 15; r++) {
      const row = Array.from(X.slice(r * C, (r + 1) * C));
      const m = row.reduce((p, q) => p + q, 0) / C;
      const v = row.reduce((p, q) => p + (q - m) ** 2, 0) / C;
      const ln = row.map((q, j) => ((q - m) / Math.sqrt(v + Math.fround(1e-12))) * w[j] + b[j]);
      for (let c = 0; c < 24; c++) {
        let acc = 0;
        for (let k = 0; k < C; k++) acc += ln[k] * W[k * 24 + c];
        want.push(geluRef(acc));
      }
    }
    expectNear(out, want, 1e-4, 1e-4);
  });
});
