// The ONNX protobuf decoder (lib/onnx): facts of real models (as python onnx reports them in the
// research notes), zero-copy initializers, int64 edge cases, external data (and its path checks),
// and malformed input: truncations, bit flips and hand-made bad fields give HoduError only.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Builder, DType, Script, Tensor } from '../lib';
import { decodeOnnx, defaultOpset } from '../lib/onnx/model';
import { OnnxProgram } from '../lib/onnx/import';
import { tensorData } from '../lib/onnx/tensor-data';
import * as W from '../bench/onnx';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureOnnxModels } = require('../scripts/onnx-models.js') as { ensureOnnxModels: () => string };
const skipModels = process.env.HODU_SKIP_ONNX_MODELS === '1';

afterEach(() => Builder._abortActive());

// ---- a few protobuf writers for fields bench/onnx.ts does not write
function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}
const enc = (s: string) => Array.from(new TextEncoder().encode(s));
const fVar = (f: number, v: number | bigint) => [...varint(f * 8), ...varint(v)];
const fLen = (f: number, b: number[]) => [...varint(f * 8 + 2), ...varint(b.length), ...b];

/** A TensorProto whose data lives in an external file. */
function externalTensor(name: string, dims: number[], location: string, offset: number, length: number): number[] {
  const kv = (k: string, v: string) => fLen(13, [...fLen(1, enc(k)), ...fLen(2, enc(v))]);
  return [...dims.flatMap((d) => fVar(1, d)), ...fVar(2, 1), ...fLen(8, enc(name)), ...kv('location', location), ...kv('offset', String(offset)), ...kv('length', String(length)), ...fVar(14, 1)];
}

/** model: y = x + w, w an initializer given as raw TensorProto bytes. */
function addModel(initializer: number[]): Uint8Array {
  const graph = [
    ...fLen(1, Array.from(W.node('Add', ['x', 'w'], ['y']))),
    ...fLen(2, enc('g')),
    ...fLen(5, initializer),
    ...fLen(11, Array.from(W.valueInfo('x', [2, 3]))),
    ...fLen(12, Array.from(W.valueInfo('y', [2, 3]))),
  ];
  return Uint8Array.from([...fVar(1, 8), ...fLen(7, graph), ...fLen(8, [...fLen(1, []), ...fVar(2, 17)])]);
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? `non-HoduError ${String(e)}`;
  }
  return undefined;
}

describe('decoding', () => {
  test('a hand-written model: nodes, attributes, value infos, raw initializer as a view', () => {
    const bytes = W.model({
      name: 'g',
      nodes: [W.node('Gemm', ['x', 'w'], ['y'], { alpha: { float: 0.5 }, transB: 1, perm: [2, -1, 9007199254740991] })],
      inputs: [W.valueInfo('x', ['batch', 4])],
      outputs: [W.valueInfo('y', ['batch', 3])],
      initializers: [W.tensor('w', [3, 4], new Float32Array(12).map((_, i) => i / 4))],
    });
    const m = decodeOnnx(bytes);
    expect(m.irVersion).toBe(8);
    expect(defaultOpset(m)).toBe(17);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Gemm']);
    const attrs = Object.fromEntries(m.graph.nodes[0].attributes.map((a) => [a.name, a]));
    expect(attrs.alpha.f).toBe(0.5);
    expect(attrs.transB.i).toBe(1);
    expect(attrs.perm.ints).toEqual([2, -1, 9007199254740991]);
    expect(m.graph.inputs[0].shape).toEqual(['batch', 4]);
    const w = m.graph.initializers[0];
    expect(w.dims).toEqual([3, 4]);
    expect(w.raw!.buffer).toBe(bytes.buffer); // zero-copy view over the file bytes
    const d = tensorData(w);
    expect(Array.from(new Float32Array(d.bytes.slice().buffer))).toEqual(Array.from({ length: 12 }, (_, i) => i / 4));
  });

  test('INT64_MAX and negative int64 values read as numbers', () => {
    const attr = [...fLen(1, enc('ends')), ...fVar(8, 9223372036854775807n), ...fVar(8, -9223372036854775808n), ...fVar(8, -3), ...fVar(20, 7)];
    const nodeB = [...fLen(1, enc('x')), ...fLen(2, enc('y')), ...fLen(4, enc('Slice')), ...fLen(5, attr)];
    const bytes = Uint8Array.from([...fVar(1, 8), ...fLen(7, fLen(1, nodeB))]);
    const ints = decodeOnnx(bytes).graph.nodes[0].attributes[0].ints;
    expect(ints[0]).toBe(2 ** 63); // rounded to the nearest double
    expect(ints[1]).toBe(-(2 ** 63));
    expect(ints[2]).toBe(-3);
  });

  (skipModels ? test.skip : test)('real models: counts as python onnx reports them (research/onnx-import.md)', () => {
    const dir = ensureOnnxModels();
    const para = decodeOnnx(fs.readFileSync(path.join(dir, 'paraphrase-MiniLM-L3-v2.onnx')));
    expect([para.irVersion, defaultOpset(para), para.graph.nodes.length, para.graph.initializers.length]).toEqual([8, 17, 354, 53]);
    expect(para.graph.nodes.filter((n) => n.opType === 'Constant').length).toBe(112);
    expect(para.graph.inputs.map((i) => [i.name, i.elemType, i.shape])).toEqual([
      ['input_ids', 7, ['batch_size', 'sequence_length']],
      ['attention_mask', 7, ['batch_size', 'sequence_length']],
    ]);
    const cls = decodeOnnx(fs.readFileSync(path.join(dir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx')));
    expect([cls.irVersion, defaultOpset(cls), cls.graph.nodes.length, cls.graph.initializers.length]).toEqual([8, 9, 471, 0]);
    const nsfw = decodeOnnx(fs.readFileSync(path.join(dir, 'open-nsfw.onnx')));
    expect([nsfw.irVersion, defaultOpset(nsfw), nsfw.graph.nodes.length, nsfw.graph.initializers.length]).toEqual([4, 9, 126, 110]);
    const bytes = nsfw.graph.initializers.reduce((a, t) => a + tensorData(t).bytes.length, 0);
    expect(bytes).toBeGreaterThan(23_500_000);
  });
});

describe('external data', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-onnx-ext-'));
  const wv = [0.5, -1, 2, 3.25, 100, -7];
  beforeAll(() => {
    const blob = Buffer.alloc(16 + 24);
    Buffer.from(new Float32Array(wv).buffer).copy(blob, 16);
    fs.writeFileSync(path.join(dir, 'weights.bin'), blob);
    fs.writeFileSync(path.join(dir, 'ok.onnx'), addModel(externalTensor('w', [2, 3], 'weights.bin', 16, 24)));
    fs.writeFileSync(path.join(dir, 'escape.onnx'), addModel(externalTensor('w', [2, 3], '../weights.bin', 16, 24)));
    fs.writeFileSync(path.join(dir, 'long.onnx'), addModel(externalTensor('w', [2, 3], 'weights.bin', 24, 24)));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const x = [1, 2, 3, 4, 5, 6];
  const want = x.map((v, i) => Math.fround(v + wv[i]));

  test('a model with its data file beside it loads and runs', () => {
    const s = Script.fromOnnx(path.join(dir, 'ok.onnx'));
    const y = s.addInput('x', Tensor.fromArray(x, [2, 3], DType.F32)).run().y;
    expect(Array.from(y.toTypedArray() as Float32Array)).toEqual(want);
  });

  test('bytes plus options.externalData', () => {
    const s = Script.fromOnnx(new Uint8Array(fs.readFileSync(path.join(dir, 'ok.onnx'))), { externalData: { 'weights.bin': new Uint8Array(fs.readFileSync(path.join(dir, 'weights.bin'))) } });
    const y = s.addInput('x', Tensor.fromArray(x, [2, 3], DType.F32)).run().y;
    expect(Array.from(y.toTypedArray() as Float32Array)).toEqual(want);
    expect(codeOf(() => Script.fromOnnx(new Uint8Array(fs.readFileSync(path.join(dir, 'ok.onnx')))))).toBe('INVALID_FILE');
  });

  test('a location outside the folder or past the end of the file is INVALID_FILE', () => {
    expect(codeOf(() => Script.fromOnnx(path.join(dir, 'escape.onnx')))).toBe('INVALID_FILE');
    expect(codeOf(() => Script.fromOnnx(path.join(dir, 'long.onnx')))).toBe('INVALID_FILE');
  });
});

describe('malformed files', () => {
  test('hand-made bad fields', () => {
    const good = addModel([...fVar(1, 2), ...fVar(1, 3), ...fVar(2, 1), ...fLen(8, enc('w')), ...fLen(9, new Array(24).fill(0))]);
    expect(codeOf(() => new OnnxProgram(decodeOnnx(good)).trace({ x: [2, 3] }))).toBeUndefined();
    // raw_data shorter than the dims need
    const short = addModel([...fVar(1, 2), ...fVar(1, 3), ...fVar(2, 1), ...fLen(8, enc('w')), ...fLen(9, new Array(20).fill(0))]);
    expect(codeOf(() => Script.fromOnnx(short))).toBe('INVALID_FILE');
    // dims whose product is huge: rejected before any allocation
    const huge = addModel([...fVar(1, 2 ** 40), ...fVar(1, 2 ** 40), ...fVar(2, 1), ...fLen(8, enc('w')), ...fLen(9, [0, 0, 0, 0])]);
    expect(codeOf(() => Script.fromOnnx(huge))).toBe('INVALID_FILE');
    // a negative dim
    const neg = addModel([...fVar(1, -2), ...fVar(2, 1), ...fLen(8, enc('w'))]);
    expect(codeOf(() => decodeOnnx(neg))).toBe('INVALID_FILE');
    // a length prefix past the end, a group wire type, an over-long varint, no graph, not bytes
    expect(codeOf(() => decodeOnnx(Uint8Array.from([0x3a, 0xff, 0x01, 0x00])))).toBe('INVALID_FILE');
    expect(codeOf(() => decodeOnnx(Uint8Array.from([0x0b])))).toBe('INVALID_FILE');
    expect(codeOf(() => decodeOnnx(Uint8Array.from([0x08, ...new Array(11).fill(0xff)])))).toBe('INVALID_FILE');
    expect(codeOf(() => decodeOnnx(Uint8Array.from([0x08, 0x08])))).toBe('INVALID_FILE');
    expect(codeOf(() => decodeOnnx('model' as unknown as Uint8Array))).toBe('INVALID_FILE');
  });

  test('an unsupported op names the op type, the node and the opset', () => {
    const bytes = W.model({ name: 'g', nodes: [W.node('Unique', ['x'], ['y'])], inputs: [W.valueInfo('x', [4])], outputs: [W.valueInfo('y', [4])] }, 15);
    let err: { code?: string; message?: string } = {};
    try {
      Script.fromOnnx(bytes);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('UNSUPPORTED_OP');
    expect(err.message).toContain('Unique');
    expect(err.message).toContain("'Unique_y'");
    expect(err.message).toContain('opset 15');
  });

  (skipModels ? test.skip : test)('2000 mutants of a real model (truncations, bit flips, byte runs) throw only HoduErrors', () => {
    const dir = ensureOnnxModels();
    const base = new Uint8Array(fs.readFileSync(path.join(dir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx')));
    let s = 12345;
    const r = (n: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s % n;
    };
    const codes = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      let m: Uint8Array;
      const kind = i % 4;
      if (kind === 0) m = base.subarray(0, r(base.length));
      else {
        m = base.slice();
        const flips = kind === 1 ? 1 : kind === 2 ? 8 : 1;
        for (let k = 0; k < flips; k++) m[r(m.length)] ^= 1 << r(8);
        if (kind === 3) {
          const at = r(m.length - 16);
          for (let k = 0; k < 10; k++) m[at + k] = 0xff;
        }
      }
      let code = 'ok';
      try {
        const model = decodeOnnx(m);
        for (const t of model.graph.initializers) tensorData(t);
        for (const n of model.graph.nodes) for (const a of n.attributes) if (a.t) tensorData(a.t);
        if (i % 10 === 0) new OnnxProgram(model).trace({ x: [1, 3, 48, 192] });
      } catch (e) {
        const c = (e as { code?: string }).code;
        if (typeof c !== 'string' || (e as Error).name !== 'HoduError') throw new Error(`mutant ${i} threw a non-HoduError: ${String(e)}`);
        code = c;
      } finally {
        Builder._abortActive();
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    console.log(`mutant outcomes: ${[...codes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    expect(codes.get('INVALID_FILE') ?? 0).toBeGreaterThan(100);
  }, 300000);
});

describe('Script.fromOnnx({ trainable: true })', () => {
  // y = x·W + B; reference in float64 written here
  const Wv = [0.5, -1, 2, 0.25, -0.75, 1.5]; // [3, 2]
  const Bv = [0.1, -0.2];
  const bytes = W.model({
    name: 'affine',
    nodes: [W.node('MatMul', ['x', 'W'], ['xw']), W.node('Add', ['xw', 'B'], ['y'])],
    initializers: [W.tensor('W', [3, 2], new Float32Array(Wv)), W.tensor('B', [2], new Float32Array(Bv))],
    inputs: [W.valueInfo('x', ['n', 3])],
    outputs: [W.valueInfo('y', ['n', 2])],
  });
  const xv = [1, 2, 3, -1, 0.5, 4, 0, 0, 1, 2, -2, 0.5]; // [4, 3]
  const ref = (w: number[], b: number[]): number[] => {
    const out: number[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) out.push(b[j] + [0, 1, 2].reduce((a, k) => a + xv[i * 3 + k] * w[k * 2 + j], 0));
    return out;
  };
  const close = (got: Float32Array, want: number[]) => want.forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThan(1e-5));

  test('float initializers become variables read at their current value on every run', () => {
    const s = Script.fromOnnx(bytes, { trainable: true, shapes: { x: [4, 3] } });
    expect(Object.keys(s.variables).sort()).toEqual(['B', 'W']);
    expect(Array.from(s.variables['W'].shape)).toEqual([3, 2]);
    close(s.variables['W'].toTypedArray() as Float32Array, Wv);
    const x = Tensor.fromArray(xv, [4, 3]);
    close(s.run({ x })['y'].toTypedArray() as Float32Array, ref(Wv, Bv));
    const W2 = Wv.map((v) => v * -2 + 0.5);
    s.variables['W'].assign(Tensor.fromArray(W2, [3, 2]));
    s.variables['B'].assign(Tensor.fromArray([1, 2], [2]));
    close(s.run({ x })['y'].toTypedArray() as Float32Array, ref(W2, [1, 2]));
  });

  test('without it, initializers stay constants; trainable needs fixed shapes for symbolic inputs', () => {
    const s = Script.fromOnnx(bytes);
    expect(Object.keys(s.variables)).toEqual([]);
    close(s.run({ x: Tensor.fromArray(xv, [4, 3]) })['y'].toTypedArray() as Float32Array, ref(Wv, Bv));
    expect(codeOf(() => Script.fromOnnx(bytes, { trainable: true }))).toBe('INVALID_ARGUMENT');
  });
});
