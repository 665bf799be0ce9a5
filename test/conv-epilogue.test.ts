// CNN inference fusions: hard-swish patterns after a conv become one oneDNN eltwise post-op
// (native/hodu/fuse_conv.cc; hard-sigmoid stays a fused elementwise pass, for NaN), depthwise convs run on oneDNN (not ref), and ONNX
// BatchNormalization is folded into the conv before it at import (lib/onnx/fold-batchnorm.ts).
// Results are checked against float64 references computed here.
import * as fs from 'fs';
import * as path from 'path';
import { Builder, Tensor } from '../lib';
import { decodeOnnx } from '../lib/onnx/model';
import { foldBatchNorm } from '../lib/onnx/fold-batchnorm';
import { numericValues, tensorData } from '../lib/onnx/tensor-data';
import * as R from './helpers/reference';
import { expectNear, f32, record, values as valuesIn } from './helpers/script-util';

const values = (shape: number[], seed: number, lo = -3, hi = 3): Tensor => valuesIn(shape, seed, lo, hi);

afterEach(() => Builder._abortActive());

const hardSwish = (v: number) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6;
const hardSigmoid = (v: number, a = 0.2, b = 0.5) => Math.min(Math.max(a * v + b, 0), 1);

describe('conv epilogue patterns', () => {
  const N = 2, C = 4, H = 7, W = 9, O = 8;
  // inputs span the clamp's corners (x + 3 below 0 and above 6)
  const w = values([O, C, 3, 3], 31, -0.8, 0.8);
  const b = values([O], 32, -2, 2);
  const x = values([N, C, H, W], 33, -2, 2);
  const convRef = (): number[] =>
    R.conv2d(new R.Ref(Array.from(f32(x)), [N, C, H, W]), new R.Ref(Array.from(f32(w)), [O, C, 3, 3]), new R.Ref(Array.from(f32(b)), [O]), {
      padding: [1, 1],
    }).data;

  test('x * clamp(x + 3, 0, 6) / 6 after a conv is one convolution with a hard_swish post-op', () => {
    const s = record('hswish', { x: [N, C, H, W] }, (i) => {
      const y = i.x.conv2d(w, b, { padding: 1 });
      return y.mul(y.add(3).clamp(0, 6)).div(6);
    });
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.kernels[0]).toMatch(/onednn:\S+ \+hard_swish/);
    expect(info.kernels[0]).not.toMatch(/ref/);
    s.addInput('x', x);
    const ref = convRef();
    expect(ref.some((v) => v < -3) && ref.some((v) => v > 3)).toBe(true);
    expectNear(f32(s.run().y), ref.map(hardSwish), 1e-4, 1e-5);
  });

  test('ONNX HardSwish form x * clamp(x / 6 + 0.5, 0, 1) and a relu after it fuse too', () => {
    const s = record('hswish2', { x: [N, C, H, W] }, (i) => {
      const y = i.x.conv2d(w, b, { padding: 1 });
      return y.mul(y.div(6).add(0.5).clamp(0, 1)).relu();
    });
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    expect(info.kernels[0]).toMatch(/onednn:\S+ \+hard_swish \+relu/);
    s.addInput('x', x);
    expectNear(f32(s.run().y), convRef().map((v) => Math.max(hardSwish(v), 0)), 1e-4, 1e-5);
  });

  test('hard-sigmoid (mul 0.2, add 0.5, clamp 0..1) is not a conv post-op: oneDNN would map NaN to a bound', () => {
    const s = record('hsig', { x: [N, C, H, W] }, (i) => i.x.conv2d(w, b, { padding: 1 }).mul(0.2).add(0.5).clamp(0, 1));
    const info = s.planInfo();
    expect(info.steps).toBe(2); // the conv, then one fused mul/add/clamp pass
    expect(info.kernels.join(' ')).not.toMatch(/hard_sigmoid/);
    s.addInput('x', x);
    const ref = convRef();
    expect(ref.some((v) => v < -2.5) && ref.some((v) => v > 2.5)).toBe(true);
    expectNear(f32(s.run().y), ref.map((v) => hardSigmoid(v)), 1e-5, 1e-5);
  });

  test('near misses are not fused: a clamp that is not 0..6 / 6, and x read by a third op', () => {
    const s1 = record('miss1', { x: [N, C, H, W] }, (i) => {
      const y = i.x.conv2d(w, b, { padding: 1 });
      return y.mul(y.add(3).clamp(0, 6)).div(5);
    });
    expect(s1.planInfo().kernels.join(' ')).not.toMatch(/hard_swish/);
    s1.addInput('x', x);
    expectNear(f32(s1.run().y), convRef().map((v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 5), 1e-4, 1e-5);
    const s2 = record('miss2', { x: [N, C, H, W] }, (i) => {
      const y = i.x.conv2d(w, b, { padding: 1 });
      return y.mul(y.add(3).clamp(0, 6)).div(6).add(y);
    });
    expect(s2.planInfo().kernels.join(' ')).not.toMatch(/hard_swish/);
    s2.addInput('x', x);
    expectNear(f32(s2.run().y), convRef().map((v) => hardSwish(v) + v), 1e-4, 1e-5);
  });

  test('a depthwise 5x5 conv with a hard_swish post-op runs on a oneDNN depthwise kernel, not ref', () => {
    const G = 16;
    const xd = values([1, G, 12, 48], 41, -2, 2);
    const wd = values([G, 1, 5, 5], 42, -0.3, 0.3);
    const bd = values([G], 43, -1, 1);
    const s = record('dw', { x: [1, G, 12, 48] }, (i) => {
      const y = i.x.conv2d(wd, bd, { padding: 2, stride: [2, 1], groups: G });
      return y.mul(y.add(3).clamp(0, 6)).div(6);
    });
    const info = s.planInfo();
    expect(info.steps).toBe(1);
    // oneDNN's depthwise kernels: brdgmm_dw (batch-reduce, 3.x's first choice on AVX-512) or jit_dw
    expect(info.kernels[0]).toMatch(/onednn:(brdgmm_dw|jit\S*dw)\S* \+hard_swish/);
    expect(info.kernels[0]).not.toMatch(/ref/);
    s.addInput('x', xd);
    const ref = R.conv2d(new R.Ref(Array.from(f32(xd)), [1, G, 12, 48]), new R.Ref(Array.from(f32(wd)), [G, 1, 5, 5]), new R.Ref(Array.from(f32(bd)), [G]), {
      padding: [2, 2],
      stride: [2, 1],
      groups: G,
    }).data;
    expectNear(f32(s.run().y), ref.map(hardSwish), 1e-4, 1e-5);
  });
});

test('NaN and ±inf give what the composed ops give (NaN stays NaN; hard-swish of -inf is NaN)', () => {
  const w1 = Tensor.fromArray(new Float32Array([1]), [1, 1, 1, 1]);
  const xs = Tensor.fromArray(new Float32Array([NaN, -Infinity, Infinity, 1, -7, 2.5]), [1, 1, 2, 3]);
  const hsig = record('nan_hsig', { x: [1, 1, 2, 3] }, (i) => i.x.conv2d(w1, null).mul(0.2).add(0.5).clamp(0, 1));
  const hsw = record('nan_hsw', { x: [1, 1, 2, 3] }, (i) => {
    const y = i.x.conv2d(w1, null);
    return y.mul(y.add(3).clamp(0, 6)).div(6);
  });
  expect(hsw.planInfo().kernels[0]).toMatch(/\+hard_swish/);
  hsig.addInput('x', xs);
  hsw.addInput('x', xs);
  const xv = [NaN, -Infinity, Infinity, 1, -7, 2.5];
  expectNear(f32(hsig.run().y), xv.map((v) => hardSigmoid(v)), 1e-6, 1e-6);
  expectNear(f32(hsw.run().y), xv.map(hardSwish), 1e-6, 1e-6);
});

describe('residual blocks stay channels-last', () => {
  test('a value read by a conv and as the residual add of the next conv is kept nhwc: no operand reorder', () => {
    const C = 16, H = 10, W = 12;
    const x = values([1, C, H, W], 51, -1, 1);
    const ws = [52, 54, 56].map((k) => values([C, C, 3, 3], k, -0.2, 0.2));
    const bs = [53, 55, 57].map((k) => values([C], k, -0.5, 0.5));
    const s = record('residual', { x: [1, C, H, W] }, (i) => {
      const a = i.x.conv2d(ws[0], bs[0], { padding: 1 }).relu();
      const y = a.conv2d(ws[1], bs[1], { padding: 1 }).add(a).relu();
      return y.conv2d(ws[2], bs[2], { padding: 1 });
    });
    const info = s.planInfo();
    expect(info.steps).toBe(3);
    expect(info.kernels[1]).toMatch(/onednn:\S+ \+add \+relu/);
    expect(info.kernels.join(' ')).not.toMatch(/operand reorder/);
    s.addInput('x', x);
    const ref = (t: R.Ref, k: number) =>
      R.conv2d(t, new R.Ref(Array.from(f32(ws[k])), [C, C, 3, 3]), new R.Ref(Array.from(f32(bs[k])), [C]), { padding: [1, 1] });
    const a = ref(new R.Ref(Array.from(f32(x)), [1, C, H, W]), 0).data.map(R.fn.relu);
    const y = ref(new R.Ref(a, [1, C, H, W]), 1).data.map((v, k) => R.fn.relu(v + a[k]));
    const z = ref(new R.Ref(y, [1, C, H, W]), 2).data;
    expectNear(f32(s.run().y), z, 1e-4, 1e-5);
  });
});

describe('BatchNormalization folded into conv weights at import', () => {
  const file = path.join(__dirname, '..', '.cache', 'onnx-models', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
  const have = fs.existsSync(file);
  (have ? test : test.skip)('all 35 BNs of the OCR classifier fold; the folded weights are W·γ/√(σ²+ε) in float64', () => {
    const model = decodeOnnx(new Uint8Array(fs.readFileSync(file)));
    const before = model.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length;
    const { model: m2, folded } = foldBatchNorm(model);
    expect(before).toBe(35);
    expect(folded).toBe(35);
    expect(m2.graph.nodes.filter((n) => n.opType === 'BatchNormalization')).toHaveLength(0);
    expect(model.graph.nodes.filter((n) => n.opType === 'BatchNormalization')).toHaveLength(35); // input untouched
    // an independent recomputation for the first conv → BN pair
    const bn = model.graph.nodes.find((n) => n.opType === 'BatchNormalization')!;
    const conv = model.graph.nodes.find((n) => n.outputs[0] === bn.inputs[0])!;
    const constOf = (name: string) => {
      const init = model.graph.initializers.find((t) => t.name === name);
      const t = init ?? model.graph.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === name)!.attributes.find((a) => a.name === 'value')!.t!;
      return numericValues(tensorData(t));
    };
    const W0 = constOf(conv.inputs[1]);
    const [g, be, mu, va] = [1, 2, 3, 4].map((k) => constOf(bn.inputs[k]));
    const eps = bn.attributes.find((a) => a.name === 'epsilon')!.f!;
    const newConv = m2.graph.nodes.find((n) => n.opType === 'Conv' && n.outputs[0] === bn.outputs[0])!;
    const W1 = numericValues(tensorData(m2.graph.initializers.find((t) => t.name === newConv.inputs[1])!));
    const B1 = numericValues(tensorData(m2.graph.initializers.find((t) => t.name === newConv.inputs[2])!));
    const O = g.length;
    const per = W0.length / O;
    for (let o = 0; o < O; o++) {
      const sc = g[o] / Math.sqrt(va[o] + eps);
      expect(B1[o]).toBeCloseTo(Math.fround(be[o] - mu[o] * sc), 6);
      for (let j = 0; j < per; j++) expect(W1[o * per + j]).toBe(Math.fround(W0[o * per + j] * sc));
    }
  });
});
