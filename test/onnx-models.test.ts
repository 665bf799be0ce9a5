// Real pretrained ONNX models from registry packages (fetched by scripts/onnx-models.js with pinned
// sha256): paraphrase-MiniLM-L3-v2, the PaddleOCR text-angle classifier, the PP-OCRv4 detector and
// recognizer, and open_nsfw's ResNet-50. Each runs through Script.fromOnnx on HODU and on XLA at
// several batch sizes / sequence lengths and must match onnxruntime-node (max abs diff <= 1e-4).
// HODU_SKIP_ONNX_MODELS=1 skips the suite on machines that cannot fetch the packages.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import * as fs from 'fs';
import * as path from 'path';
import { Backend, Builder, DType, Script, Tensor } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { decodeOnnx } from '../lib/onnx/model';
import { OnnxProgram } from '../lib/onnx/import';
import { OrtFeed, ortPath, ortRun } from './helpers/ort';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureOnnxModels } = require('../scripts/onnx-models.js') as { ensureOnnxModels: (log?: (m: string) => void) => string };

const skip = process.env.HODU_SKIP_ONNX_MODELS === '1';
const xlaReady = xlaBuilt() && findPjrtPlugin('cpu').path !== null && process.env.HODU_SKIP_XLA !== '1';
const backends: Backend[] = xlaReady ? [Backend.HODU, Backend.XLA] : [Backend.HODU];
const TOL = 1e-4;

let dir = '';
beforeAll(() => {
  if (!skip) dir = ensureOnnxModels((m) => console.log(`[onnx-models] ${m}`));
  if (!xlaReady) console.warn('XLA plugin not available: the ONNX model tests run on HODU only');
}, 600000);
afterEach(() => Builder._abortActive());

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function maxAbsDiff(got: Tensor, want: { data: ArrayLike<number | bigint>; dims: number[] }): number {
  expect(got.shape).toEqual(want.dims);
  const a = got.toTypedArray();
  let m = 0;
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(want.data[i]));
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

interface Case {
  label: string;
  feeds: Record<string, OrtFeed>;
  fetch: string[];
}

/**
 * One script per backend, without fixed shapes: it keeps the model's symbolic dims and re-traces
 * for each new input-shape signature, so the cases also check the specialization path.
 */
function check(file: string, cases: Case[]): void {
  const model = path.join(dir, file);
  const refs = cases.map((c) => ortRun(model, c.feeds, c.fetch));
  for (const backend of backends) {
    const s = Script.fromOnnx(model);
    s.setBackend(backend);
    cases.forEach((c, k) => {
      s.clearInputs();
      for (const [name, v] of Object.entries(c.feeds)) {
        const dt = v.type === 'int64' ? DType.I64 : DType.F32;
        s.addInput(name, Tensor.fromArray(v.data as Float32Array, v.dims, dt));
      }
      const out = s.run();
      for (const name of c.fetch) {
        const ref = refs[k][name];
        const diff = maxAbsDiff(out[name], ref);
        const head = Array.from(ref.data.slice(0, 3) as ArrayLike<number>).map((v) => Number(v).toPrecision(4)).join(', ');
        console.log(`${file} ${c.label} ${backend} '${name}': max abs diff ${diff.toExponential(2)} (reference starts ${head})`);
        expect(diff).toBeLessThanOrEqual(TOL);
      }
    });
    s.dispose();
  }
}

function image(seed: number, dims: number[], lo = -1, hi = 1): OrtFeed {
  const r = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * r();
  return { data, dims, type: 'float32' };
}

const d = skip || !ortPath() ? describe.skip : describe;

d('real ONNX models match onnxruntime-node', () => {
  test('paraphrase-MiniLM-L3-v2: token embeddings and mean-pooled sentence embeddings', () => {
    const cases: Case[] = [];
    for (const [b, s] of [[1, 7], [2, 16], [4, 33]]) {
      const r = rng(b * 100 + s);
      const ids = new BigInt64Array(b * s);
      const mask = new BigInt64Array(b * s);
      for (let i = 0; i < b; i++) {
        const len = i === 0 ? s : Math.max(2, Math.floor(s * (0.4 + 0.5 * r()))); // padded rows
        for (let j = 0; j < s; j++) {
          const at = i * s + j;
          ids[at] = j === 0 ? 101n : j === len - 1 ? 102n : j < len ? BigInt(1000 + Math.floor(r() * 29000)) : 0n;
          mask[at] = j < len ? 1n : 0n;
        }
      }
      cases.push({
        label: `b${b} s${s}`,
        feeds: { input_ids: { data: ids, dims: [b, s], type: 'int64' }, attention_mask: { data: mask, dims: [b, s], type: 'int64' } },
        fetch: ['onnx::Shape_422', '461'],
      });
    }
    check('paraphrase-MiniLM-L3-v2.onnx', cases);
  }, 900000);

  test('paraphrase-MiniLM-L3-v2: every specialization reuses the same initializer buffers', () => {
    const prog = new OnnxProgram(decodeOnnx(new Uint8Array(fs.readFileSync(path.join(dir, 'paraphrase-MiniLM-L3-v2.onnx')))));
    const a = prog.trace({ input_ids: [1, 8], attention_mask: [1, 8] }).constants;
    const b = prog.trace({ input_ids: [3, 20], attention_mask: [3, 20] }).constants;
    const shared = prog.model.graph.initializers.filter((t) => (t.raw?.length ?? 0) >= 1 << 16).map((t) => prog.sharedBuffer(t));
    expect(shared.length).toBeGreaterThan(10);
    for (const buf of shared) {
      expect(a.includes(buf)).toBe(true); // the very same ArrayBuffer in both graphs
      expect(b.includes(buf)).toBe(true);
    }
  });

  test('PaddleOCR text-angle classifier (MobileNetV3, opset 9): batch 1 and 6', () => {
    check('ch_ppocr_mobile_v2.0_cls_infer.onnx', [
      { label: 'b1', feeds: { x: image(1, [1, 3, 48, 192]) }, fetch: ['softmax_0.tmp_0'] },
      { label: 'b6', feeds: { x: image(2, [6, 3, 48, 192]) }, fetch: ['softmax_0.tmp_0'] },
    ]);
  }, 900000);

  test('open_nsfw ResNet-50 (NHWC, asymmetric max-pool pads): batch 1 and 2', () => {
    check('open-nsfw.onnx', [
      { label: 'b1', feeds: { 'input:0': image(3, [1, 224, 224, 3], -8, 8) }, fetch: ['outputs'] },
      { label: 'b2', feeds: { 'input:0': image(4, [2, 224, 224, 3], -8, 8) }, fetch: ['outputs'] },
    ]);
  }, 900000);

  test('PP-OCRv4 detector (Resize, ConvTranspose): two page sizes', () => {
    check('ch_PP-OCRv4_det_infer.onnx', [
      { label: '1x3x96x128', feeds: { x: image(5, [1, 3, 96, 128]) }, fetch: ['sigmoid_0.tmp_0'] },
      { label: '2x3x64x64', feeds: { x: image(6, [2, 3, 64, 64]) }, fetch: ['sigmoid_0.tmp_0'] },
    ]);
  }, 900000);

  test('PP-OCRv4 recognizer: widths 160 and 320', () => {
    check('ch_PP-OCRv4_rec_infer.onnx', [
      { label: '1x3x48x160', feeds: { x: image(7, [1, 3, 48, 160]) }, fetch: ['softmax_11.tmp_0'] },
      { label: '2x3x48x320', feeds: { x: image(8, [2, 3, 48, 320]) }, fetch: ['softmax_11.tmp_0'] },
    ]);
  }, 900000);
});
