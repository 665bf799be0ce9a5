// Real ONNX models on hodu (Script.fromOnnx, HODU backend) against onnxruntime-node (CPU EP,
// graphOptimizationLevel 'all', 1 and 2 intra-op threads): paraphrase-MiniLM-L3-v2 at b1 x s128 and
// b32 x s128, the PaddleOCR text-angle classifier at b1 and b6 (3x48x192), the PP-OCRv4 detector at
// one page size, open_nsfw at b1. Also import time (decode + checks) and first-run time (trace +
// compile + run at a new shape) next to ORT's session-create time.
// Run: node scripts/onnx-models.js && node --expose-gc --import tsx bench/onnx-models.ts [regex]
// Writes bench/onnx-models-results.md (and prints it).
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { Backend, DType, Script, Tensor } from 'hodu';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureOnnxModels } = require('../scripts/onnx-models.js') as { ensureOnnxModels: () => string };

interface Feed {
  data: Float32Array | BigInt64Array;
  dims: number[];
}
interface Case {
  label: string;
  file: string;
  feeds: Record<string, Feed>;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
function image(seed: number, dims: number[], lo = -1, hi = 1): Feed {
  const r = rng(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * r();
  return { data, dims };
}
function tokens(b: number, s: number): Record<string, Feed> {
  const r = rng(b * 1000 + s);
  const ids = new BigInt64Array(b * s);
  for (let i = 0; i < ids.length; i++) ids[i] = i % s === 0 ? 101n : i % s === s - 1 ? 102n : BigInt(1000 + Math.floor(r() * 29000));
  return { input_ids: { data: ids, dims: [b, s] }, attention_mask: { data: new BigInt64Array(b * s).fill(1n), dims: [b, s] } };
}

const CASES: Case[] = [
  { label: 'MiniLM-L3 b1 x s128', file: 'paraphrase-MiniLM-L3-v2.onnx', feeds: tokens(1, 128) },
  { label: 'MiniLM-L3 b32 x s128', file: 'paraphrase-MiniLM-L3-v2.onnx', feeds: tokens(32, 128) },
  { label: 'OCR cls b1 3x48x192', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', feeds: { x: image(1, [1, 3, 48, 192]) } },
  { label: 'OCR cls b6 3x48x192', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', feeds: { x: image(2, [6, 3, 48, 192]) } },
  { label: 'PP-OCRv4 det 1x3x640x480', file: 'ch_PP-OCRv4_det_infer.onnx', feeds: { x: image(3, [1, 3, 640, 480]) } },
  { label: 'open_nsfw b1 224x224x3', file: 'open-nsfw.onnx', feeds: { 'input:0': image(4, [1, 224, 224, 3], -8, 8) } },
];

/** Median of repeated calls: 3 warm-ups, then at least 5 calls and about `budgetMs` in total. */
async function timeIt(f: () => unknown | Promise<unknown>, budgetMs = 3000): Promise<{ median: number; n: number }> {
  for (let i = 0; i < 3; i++) await f();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < budgetMs && times.length < 500)) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], n: times.length };
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) + ' ms';

async function main(): Promise<void> {
  const dir = ensureOnnxModels();
  const only = process.argv[2] ? new RegExp(process.argv[2]) : null;
  const rows: string[] = [];
  for (const c of CASES) {
    if (only && !only.test(c.label)) continue;
    const model = path.join(dir, c.file);
    // hodu: import, first run (trace + compile + run at this shape), steady runs
    let t0 = performance.now();
    const s = Script.fromOnnx(model);
    const importMs = performance.now() - t0;
    s.setBackend(Backend.HODU);
    for (const [k, v] of Object.entries(c.feeds))
      s.addInput(k, Tensor.fromArray(v.data as Float32Array, v.dims, v.data instanceof BigInt64Array ? DType.I64 : DType.F32));
    t0 = performance.now();
    s.run();
    const firstMs = performance.now() - t0;
    const hodu = await timeIt(() => {
      const out = s.run();
      for (const t of Object.values(out)) t.toTypedArray();
    });
    s.dispose();
    // onnxruntime-node, 1 and 2 threads
    const ortRes: { create: number; median: number; n: number }[] = [];
    for (const threads of [1, 2]) {
      t0 = performance.now();
      const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
      const create = performance.now() - t0;
      const r = await timeIt(async () => {
        const feeds: Record<string, ort.Tensor> = {};
        for (const [k, v] of Object.entries(c.feeds)) feeds[k] = new ort.Tensor(v.data instanceof BigInt64Array ? 'int64' : 'float32', v.data, v.dims);
        const out = await session.run(feeds);
        for (const t of Object.values(out)) void t.data;
      });
      await session.release();
      ortRes.push({ create, ...r });
    }
    const best = Math.min(ortRes[0].median, ortRes[1].median);
    const row = `| ${c.label} | ${fmt(hodu.median)} (${hodu.n}) | ${fmt(ortRes[0].median)} (${ortRes[0].n}) | ${fmt(ortRes[1].median)} (${ortRes[1].n}) | ${(hodu.median / best).toFixed(2)}x | ${fmt(importMs)} | ${fmt(firstMs)} | ${fmt(ortRes[0].create)} / ${fmt(ortRes[1].create)} |`;
    console.log(row);
    rows.push(row);
  }
  const header = [
    '# Real ONNX models: hodu (Script.fromOnnx, HODU backend) vs onnxruntime-node',
    '',
    `Measured ${new Date().toISOString()} on ${require('os').cpus().length} CPUs (${require('os').cpus()[0]?.model ?? 'cpu'}), onnxruntime-node ${ort.env.versions.node ?? ''}.`,
    'Median of runs (count in parentheses) after 3 warm-ups; hodu reads every output, ORT wraps inputs in `ort.Tensor` and reads `.data`.',
    'Import = `Script.fromOnnx` (decode + checks); first run = trace + compile + run at a new shape; ORT create = session create (1 / 2 threads).',
    '',
    '| model | hodu | ORT 1 thread | ORT 2 threads | hodu / best ORT | hodu import | hodu first run | ORT create |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const md = [...header, ...rows, ''].join('\n');
  fs.writeFileSync(path.join(__dirname, 'onnx-models-results.md'), md);
  console.log('\n' + md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
