// New layers (BatchNorm1d/2d, LayerNorm, Embedding, MultiheadAttention, Dropout2d) against float64
// references written here, with input and parameter gradients checked against central finite
// differences of those references, in dynamic and in builder mode (test/helpers/layer-check.ts).
import { Builder, DType, Tensor, manualSeed, nn } from '../lib';
import { checkLayer } from './helpers/layer-check';
import { codeOf } from './helpers/assert';

afterEach(() => Builder._abortActive());

const F64 = DType.F64;
const flat = (t: Tensor): number[] => Array.from(t.toDtype(F64).toTypedArray() as Float64Array);
const param = (shape: number[]) => Tensor.randn(shape, F64).setRequiresGrad(true);
/** Normalizes groups of x: `group(i)` names the statistic group of flat index i, `chan(i)` its affine index. */
function normRef(x: number[], group: (i: number) => number, chan: (i: number) => number, w: number[] | null, b: number[] | null, eps: number): number[] {
  const sum = new Map<number, number>();
  const cnt = new Map<number, number>();
  x.forEach((v, i) => (sum.set(group(i), (sum.get(group(i)) ?? 0) + v), cnt.set(group(i), (cnt.get(group(i)) ?? 0) + 1)));
  const mean = (g: number) => sum.get(g)! / cnt.get(g)!;
  const sq = new Map<number, number>();
  x.forEach((v, i) => sq.set(group(i), (sq.get(group(i)) ?? 0) + (v - mean(group(i))) ** 2));
  return x.map((v, i) => {
    const g = group(i);
    const y = (v - mean(g)) / Math.sqrt(sq.get(g)! / cnt.get(g)! + eps);
    return y * (w ? w[chan(i)] : 1) + (b ? b[chan(i)] : 0);
  });
}

describe('BatchNorm', () => {
  test('BatchNorm1d [N, C], training: batch statistics, gradients', () => {
    manualSeed(1);
    const m = new nn.BatchNorm1d(3, { dtype: F64 });
    m.weight = param([3]);
    m.bias = param([3]);
    checkLayer({
      name: 'bn1d',
      module: m,
      input: Tensor.randn([5, 3], F64),
      ref: (x, [w, b]) => normRef(x, (i) => i % 3, (i) => i % 3, w, b, 1e-5),
    });
  });

  test('BatchNorm1d [N, C, L] and BatchNorm2d [N, C, H, W]', () => {
    manualSeed(2);
    const m1 = new nn.BatchNorm1d(2, { dtype: F64 });
    m1.weight = param([2]);
    m1.bias = param([2]);
    const c1 = (i: number) => Math.floor(i / 4) % 2; // [3, 2, 4]
    checkLayer({ name: 'bn1d3', module: m1, input: Tensor.randn([3, 2, 4], F64), ref: (x, [w, b]) => normRef(x, c1, c1, w, b, 1e-5) });
    const m2 = new nn.BatchNorm2d(3, { dtype: F64, eps: 1e-3 });
    m2.weight = param([3]);
    m2.bias = param([3]);
    const c2 = (i: number) => Math.floor(i / 6) % 3; // [2, 3, 2, 3]
    checkLayer({ name: 'bn2d', module: m2, input: Tensor.randn([2, 3, 2, 3], F64), ref: (x, [w, b]) => normRef(x, c2, c2, w, b, 1e-3) });
  });

  test('running statistics follow PyTorch (momentum 0.1, unbiased variance) and eval uses them', () => {
    manualSeed(3);
    const m = new nn.BatchNorm2d(2, { dtype: F64, momentum: 0.25 });
    const rm = [0, 0];
    const rv = [1, 1];
    for (let step = 0; step < 3; step++) {
      const x = Tensor.randn([4, 2, 3, 3], F64, step, 2);
      m.forward(x);
      const xv = flat(x);
      for (let c = 0; c < 2; c++) {
        const vals = xv.filter((_, i) => Math.floor(i / 9) % 2 === c);
        const mu = vals.reduce((a, v) => a + v, 0) / vals.length;
        const unb = vals.reduce((a, v) => a + (v - mu) ** 2, 0) / (vals.length - 1);
        rm[c] = 0.75 * rm[c] + 0.25 * mu;
        rv[c] = 0.75 * rv[c] + 0.25 * unb;
      }
      flat(m.runningMean!).forEach((v, c) => expect(v).toBeCloseTo(rm[c], 10));
      flat(m.runningVar!).forEach((v, c) => expect(v).toBeCloseTo(rv[c], 10));
    }
    expect(m.parameters().length).toBe(2); // running statistics are not parameters
    m.eval();
    const x = Tensor.randn([2, 2, 3, 3], F64);
    const y = flat(m.forward(x));
    const xv = flat(x);
    xv.forEach((v, i) => {
      const c = Math.floor(i / 9) % 2;
      expect(y[i]).toBeCloseTo((v - rm[c]) / Math.sqrt(rv[c] + 1e-5), 10);
    });
    // eval does not move the statistics
    m.forward(x);
    flat(m.runningMean!).forEach((v, c) => expect(v).toBeCloseTo(rm[c], 10));
  });

  test('eval mode inside a builder uses the running statistics', () => {
    const m = new nn.BatchNorm1d(2, { dtype: F64 });
    m.forward(Tensor.fromArray([[1, 10], [3, 14]], undefined, F64));
    m.eval();
    const b = new Builder('bn_eval').start();
    b.addOutput('y', m.forward(Tensor.input('x', [1, 2], F64)));
    const out = b.build().addInput('x', Tensor.fromArray([[2, 12]], undefined, F64)).run();
    // running mean 0.9·0 + 0.1·[2, 12]; running var 0.9·1 + 0.1·[2, 8] (unbiased)
    const want = [(2 - 0.2) / Math.sqrt(1.1 + 1e-5), (12 - 1.2) / Math.sqrt(1.7 + 1e-5)];
    flat(out.y).forEach((v, i) => expect(v).toBeCloseTo(want[i], 10));
  });

  test('errors name the bad value', () => {
    const m = new nn.BatchNorm2d(3);
    expect(codeOf(() => m.forward(Tensor.zeros([2, 4, 2, 2])))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => m.forward(Tensor.zeros([2, 3])))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => new nn.BatchNorm1d(0))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new nn.BatchNorm1d(2, { momentum: 2 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new nn.BatchNorm1d(2).forward(Tensor.zeros([1, 2])))).toBe('INVALID_ARGUMENT');
  });
});

describe('LayerNorm', () => {
  test('over the last dim and over the last two dims', () => {
    manualSeed(4);
    const m = new nn.LayerNorm(4, { dtype: F64 });
    m.weight = param([4]);
    m.bias = param([4]);
    checkLayer({ name: 'ln', module: m, input: Tensor.randn([2, 3, 4], F64), ref: (x, [w, b]) => normRef(x, (i) => Math.floor(i / 4), (i) => i % 4, w, b, 1e-5) });
    const m2 = new nn.LayerNorm([2, 3], { dtype: F64, eps: 1e-4 });
    m2.weight = param([2, 3]);
    m2.bias = param([2, 3]);
    checkLayer({ name: 'ln2', module: m2, input: Tensor.randn([3, 2, 3], F64), ref: (x, [w, b]) => normRef(x, (i) => Math.floor(i / 6), (i) => i % 6, w, b, 1e-4) });
    const m3 = new nn.LayerNorm(5, { dtype: F64, elementwiseAffine: false });
    expect(m3.parameters().length).toBe(0);
    checkLayer({ name: 'ln3', module: m3, input: Tensor.randn([2, 5], F64), ref: (x) => normRef(x, (i) => Math.floor(i / 5), () => 0, null, null, 1e-5) });
    expect(codeOf(() => m.forward(Tensor.zeros([2, 5], F64)))).toBe('SHAPE_MISMATCH');
  });
});

describe('Embedding', () => {
  test('rows of the table, gradient scattered back (repeated ids add up)', () => {
    manualSeed(5);
    const m = new nn.Embedding(6, 3, { dtype: F64 });
    const ids = [[1, 4, 1], [0, 5, 4]];
    checkLayer({
      name: 'emb',
      module: m,
      input: Tensor.fromArray(ids, undefined, DType.I64),
      inputGrad: false,
      ref: (_x, [w]) => ids.flat().flatMap((id) => w.slice(id * 3, id * 3 + 3)),
    });
    const y = m.forward(Tensor.fromArray([2, 3], undefined, DType.I32));
    expect(y.shape).toEqual([2, 3]);
    expect(codeOf(() => m.forward(Tensor.fromArray([0.5])))).toBe('DTYPE_MISMATCH');
  });

  test('paddingIdx: a zero row at init that gets no gradient', () => {
    const m = new nn.Embedding(4, 2, { paddingIdx: 0, dtype: F64 });
    expect(flat(m.weight).slice(0, 2)).toEqual([0, 0]);
    m.forward(Tensor.fromArray([0, 2, 0], undefined, DType.I64)).sum().backward();
    expect(flat(m.weight.grad!)).toEqual([0, 0, 0, 0, 1, 1, 0, 0]);
  });
});

/** Multi-head attention in float64: x [B, T, E], params in field order (q, k, v, out; weight then bias). */
function mhaRef(x: number[], p: number[][], B: number, T: number, E: number, H: number, causal: boolean): number[] {
  const D = E / H;
  const lin = (inp: number[], w: number[], b: number[]) => {
    const out: number[] = [];
    for (let r = 0; r < inp.length / E; r++)
      for (let o = 0; o < E; o++) {
        let s = b[o];
        for (let i = 0; i < E; i++) s += inp[r * E + i] * w[o * E + i];
        out.push(s);
      }
    return out;
  };
  const q = lin(x, p[0], p[1]);
  const k = lin(x, p[2], p[3]);
  const v = lin(x, p[4], p[5]);
  const o = new Array<number>(B * T * E).fill(0);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const sc: number[] = [];
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[(b * T + i) * E + h * D + d] * k[(b * T + j) * E + h * D + d];
          sc.push(causal && j > i ? -Infinity : s / Math.sqrt(D));
        }
        const mx = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < T; j++) for (let d = 0; d < D; d++) o[(b * T + i) * E + h * D + d] += (e[j] / z) * v[(b * T + j) * E + h * D + d];
      }
  return lin(o, p[6], p[7]);
}

describe('MultiheadAttention', () => {
  test('self-attention, 2 heads, against a float64 reference (dynamic and script)', () => {
    manualSeed(6);
    const m = new nn.MultiheadAttention(4, 2, { dtype: F64 });
    expect(m.parameters().length).toBe(8);
    checkLayer({ name: 'mha', module: m, input: Tensor.randn([2, 3, 4], F64), ref: (x, p) => mhaRef(x, p, 2, 3, 4, 2, false), tol: 1e-6 });
  });

  test('causal mask: a position never sees later ones', () => {
    manualSeed(7);
    const m = new nn.MultiheadAttention(6, 3, { dtype: F64, causal: true });
    checkLayer({ name: 'mha_causal', module: m, input: Tensor.randn([1, 4, 6], F64), ref: (x, p) => mhaRef(x, p, 1, 4, 6, 3, true), tol: 1e-6 });
    // changing the last token leaves the earlier outputs unchanged
    const x = Tensor.randn([1, 4, 6], F64);
    const xv = flat(x);
    xv.splice(18, 6, ...[9, 9, 9, 9, 9, 9]);
    const a = flat(m.forward(x));
    const b = flat(m.forward(Tensor.fromArray(xv, [1, 4, 6], F64)));
    for (let i = 0; i < 18; i++) expect(b[i]).toBeCloseTo(a[i], 12);
    expect(a.slice(18).some((v, i) => Math.abs(v - b[18 + i]) > 1e-6)).toBe(true);
  });

  test('scaledDotProductAttention with an explicit mask equals the causal option', () => {
    const q = Tensor.randn([2, 3, 4], F64);
    const k = Tensor.randn([2, 3, 4], F64);
    const v = Tensor.randn([2, 3, 5], F64);
    const a = flat(nn.scaledDotProductAttention(q, k, v, { causal: true }));
    const b = flat(nn.scaledDotProductAttention(q, k, v, { mask: nn.causalMask(3, 3, F64) }));
    a.forEach((x, i) => expect(x).toBeCloseTo(b[i], 12));
    expect(codeOf(() => new nn.MultiheadAttention(5, 2))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new nn.MultiheadAttention(4, 2).forward(Tensor.zeros([2, 3, 5])))).toBe('SHAPE_MISMATCH');
  });
});

describe('Dropout2d', () => {
  test('drops whole channels with probability p, scales the rest, identity in eval', () => {
    manualSeed(8);
    const d = new nn.Dropout2d(0.5);
    const y = flat(d.forward(Tensor.ones([50, 20, 2, 3])));
    let kept = 0;
    for (let ch = 0; ch < 1000; ch++) {
      const vals = y.slice(ch * 6, ch * 6 + 6);
      expect(vals.every((v) => v === vals[0])).toBe(true); // one decision per channel
      expect([0, 2]).toContain(vals[0]);
      if (vals[0] === 2) kept++;
    }
    expect(kept).toBeGreaterThan(430);
    expect(kept).toBeLessThan(570);
    d.eval();
    const x = Tensor.randn([2, 3, 2, 2]);
    expect(d.forward(x).toArray()).toEqual(x.toArray());
    expect(codeOf(() => new nn.Dropout2d(1))).toBe('INVALID_ARGUMENT');
    // in a script: a fresh channel mask on every run
    d.train();
    const b = new Builder('drop2d').start();
    b.addOutput('y', d.forward(Tensor.input('x', [4, 8, 1, 1])));
    const s = b.build().addInput('x', Tensor.ones([4, 8, 1, 1]));
    const runs = [0, 1, 2].map(() => flat(s.run().y));
    runs.forEach((r) => r.forEach((v) => expect([0, 2]).toContain(v)));
    expect(runs[0]).not.toEqual(runs[1]);
    expect(codeOf(() => d.forward(Tensor.zeros([2, 3])))).toBe('SHAPE_MISMATCH');
  });
});
