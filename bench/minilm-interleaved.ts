// paraphrase-MiniLM-L3-v2 on hodu (Script.fromOnnx, HODU backend) against onnxruntime-node with 1 and
// 2 intra-op threads, interleaved in one process (rounds of hodu, ORT 1, ORT 2), so that a loaded
// machine slows all three alike. Prints medians, minimums and hodu / best-ORT ratios, and with
// SHOWPLAN=1 the plan's kernels (which fusions fired).
// Run: node scripts/onnx-models.js && node --import tsx bench/minilm-interleaved.ts [batch=1] [rounds=5] [runs per round=10]
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { Backend, DType, Script, Tensor } from '../lib';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureOnnxModels } = require('../scripts/onnx-models.js') as { ensureOnnxModels: () => string };

const B = Number(process.argv[2] ?? 1);
const ROUNDS = Number(process.argv[3] ?? 5);
const PER = Number(process.argv[4] ?? 10);
const S = 128;

async function main(): Promise<void> {
  const model = path.join(ensureOnnxModels(), 'paraphrase-MiniLM-L3-v2.onnx');
  const ids = new BigInt64Array(B * S);
  let r = 12345;
  for (let i = 0; i < ids.length; i++) {
    r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
    ids[i] = i % S === 0 ? 101n : i % S === S - 1 ? 102n : BigInt(1000 + (r % 29000));
  }
  const mask = new BigInt64Array(B * S).fill(1n);
  const s = Script.fromOnnx(model);
  s.setBackend(Backend.HODU);
  s.addInput('input_ids', Tensor.fromArray(ids, [B, S], DType.I64));
  s.addInput('attention_mask', Tensor.fromArray(mask, [B, S], DType.I64));
  s.run();
  const info = s.planInfo();
  if (process.env.SHOWPLAN) {
    const counts: Record<string, number> = {};
    for (const k of info.kernels) counts[k] = (counts[k] ?? 0) + 1;
    for (const [k, n] of Object.entries(counts)) console.log(`${String(n).padStart(3)} × ${k}`);
  }
  console.log(`b${B}×s${S}: ${info.steps} steps, ${info.fused} ops fused, threads ${info.threads}`);
  const sessions: ort.InferenceSession[] = [];
  for (const t of [1, 2])
    sessions.push(await ort.InferenceSession.create(model, { intraOpNumThreads: t, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' }));
  const times: number[][] = [[], [], []];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < PER; k++) {
      const t0 = performance.now();
      for (const t of Object.values(s.run())) t.toTypedArray();
      times[0].push(performance.now() - t0);
    }
    for (let j = 0; j < 2; j++)
      for (let k = 0; k < PER; k++) {
        const t0 = performance.now();
        const out = await sessions[j].run({ input_ids: new ort.Tensor('int64', ids, [B, S]), attention_mask: new ort.Tensor('int64', mask, [B, S]) });
        for (const t of Object.values(out)) void t.data;
        times[1 + j].push(performance.now() - t0);
      }
  }
  const median = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  const min = (a: number[]) => Math.min(...a);
  ['hodu', 'ORT 1 thread', 'ORT 2 threads'].forEach((n, i) => console.log(`${n.padEnd(14)} median ${median(times[i]).toFixed(2)} ms, min ${min(times[i]).toFixed(2)} ms (${times[i].length} runs)`));
  const bestMedian = Math.min(median(times[1]), median(times[2]));
  const bestMin = Math.min(min(times[1]), min(times[2]));
  console.log(`hodu / best ORT: median ${(median(times[0]) / bestMedian).toFixed(2)}x, min ${(min(times[0]) / bestMin).toFixed(2)}x`);
  s.dispose();
  for (const x of sessions) await x.release();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
