// ONNX decoder fuzzer: mutants of real ONNX models (the ONNX node-test models and the smallest real
// model under .cache/, as fetched by the ONNX scripts) through decodeOnnx(bytes) from lib/onnx (helper
// h16's decoder). The only allowed outcomes: a decoded model or a HoduError. Skips (prints why, exit 0)
// when lib/onnx or the models are not there. Usage: node --import tsx test/fuzz/onnx-fuzz.ts SECONDS [SEED]
import * as fs from 'fs';
import * as path from 'path';
import { rng } from './rng';

const root = path.join(__dirname, '..', '..');

/** Seed models: up to `max` node-test models plus the smallest real model, or [] when none is fetched. */
export function onnxSeeds(max = 60): Uint8Array[] {
  const cache = process.env.HODU_CACHE_DIR ? path.resolve(process.env.HODU_CACHE_DIR) : path.join(root, '.cache');
  const out: Uint8Array[] = [];
  try {
    const nodeDir = fs.readdirSync(cache).find((d) => d.startsWith('onnx-node-'));
    if (nodeDir)
      for (const t of fs.readdirSync(path.join(cache, nodeDir)).sort().slice(0, max)) {
        const p = path.join(cache, nodeDir, t, 'model.onnx');
        if (fs.existsSync(p)) out.push(fs.readFileSync(p));
      }
    const models = path.join(cache, 'onnx-models');
    if (fs.existsSync(models)) {
      const files = fs.readdirSync(models).filter((f) => f.endsWith('.onnx')).map((f) => path.join(models, f));
      files.sort((a, b) => fs.statSync(a).size - fs.statSync(b).size);
      if (files[0] && fs.statSync(files[0]).size < 16 << 20) out.push(fs.readFileSync(files[0]));
    }
  } catch {
    // no cache: no seeds
  }
  return out;
}

export interface OnnxFuzzStats {
  mutants: number;
  decoded: number;
  hoduErrors: number;
  findings: string[];
  skipped?: string;
  seed: number;
}

export function fuzzOnnx(seconds: number, seed = Date.now() % 2 ** 31): OnnxFuzzStats {
  const stats: OnnxFuzzStats = { mutants: 0, decoded: 0, hoduErrors: 0, findings: [], seed };
  let decodeOnnx: ((b: Uint8Array) => unknown) | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    decodeOnnx = (require(process.env.HODU_ONNX_LIB || path.join(root, 'lib', 'onnx')) as { decodeOnnx?: (b: Uint8Array) => unknown }).decodeOnnx;
  } catch {
    decodeOnnx = undefined;
  }
  if (!decodeOnnx) return { ...stats, skipped: 'lib/onnx (decodeOnnx) is not in this build' };
  const seeds = onnxSeeds();
  if (!seeds.length) return { ...stats, skipped: 'no ONNX models fetched (.cache/onnx-node-*, .cache/onnx-models)' };
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    stats.mutants++;
    const m = Uint8Array.from(pick(seeds));
    let bytes: Uint8Array = m;
    for (let k = 0, n = 1 + Math.floor(r() * 6); k < n; k++) {
      const at = Math.floor(r() * m.length);
      const kind = r();
      if (kind < 0.5) m[at] = Math.floor(r() * 256);
      else if (kind < 0.7) m[at] = pick([0x00, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1a]);
      else if (kind < 0.85) for (let j = 0; j < 10 && at + j < m.length; j++) m[at + j] = 0xff;  // huge varints
      else bytes = m.subarray(0, at);
    }
    try {
      decodeOnnx(bytes);
      stats.decoded++;
    } catch (e) {
      const err = e as { name?: string; code?: unknown; message?: string };
      if (err && err.name === 'HoduError' && typeof err.code === 'string') stats.hoduErrors++;
      else if (stats.findings.length < 50) stats.findings.push(`${err?.name}: ${String(err?.message).slice(0, 200)}`);
    }
  }
  return stats;
}

if (require.main === module) {
  const s = fuzzOnnx(Number(process.argv[2] || 60), Number(process.argv[3] || Date.now() % 2 ** 31));
  for (const f of s.findings) console.error(`finding: ${f}`);
  console.log(JSON.stringify({ ...s, findings: s.findings.length }));
  process.exit(s.findings.length ? 1 : 0);
}
