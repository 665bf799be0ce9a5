// onnxruntime-node as a reference, resolved from the root node_modules or bench/node_modules
// (either layout works). Sessions run in a child node process: jest's realm rejects the typed
// arrays ORT's binding makes.
import { spawnSync } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');

let cached: string | null | undefined;

/** The path of onnxruntime-node's entry, or null when it is not installed. */
export function ortPath(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (const from of [root, path.join(root, 'bench')]) {
    try {
      cached = require.resolve('onnxruntime-node', { paths: [from] });
      break;
    } catch {
      /* try the next layout */
    }
  }
  return cached;
}

export type OrtType = 'float32' | 'int64' | 'int32' | 'bool' | 'uint8' | 'float64';
export interface OrtFeed {
  data: ArrayBufferView;
  dims: number[];
  type: OrtType;
}
export interface OrtOutput {
  type: string;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array;
}

/** Runs a model file in onnxruntime (CPU, all graph optimizations) and returns outputs by name. */
export function ortRun(model: string, feeds: Record<string, OrtFeed>, fetches?: string[], threads = 1): Record<string, OrtOutput> {
  const p = ortPath();
  if (!p) throw new Error('onnxruntime-node is not installed');
  const req = {
    ortPath: p,
    model: path.resolve(model),
    threads,
    fetches,
    feeds: Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [k, { type: v.type, dims: v.dims, b64: Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64') }]),
    ),
  };
  const r = spawnSync(process.execPath, [path.join(__dirname, 'ort-child.js')], { input: JSON.stringify(req), maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`onnxruntime failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout) as Record<string, { type: string; dims: number[]; b64: string }>;
  const ctor: Record<string, new (b: ArrayBuffer) => OrtOutput['data']> = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array, float64: Float64Array };
  const out: Record<string, OrtOutput> = {};
  for (const [k, v] of Object.entries(res)) {
    const b = Buffer.from(v.b64, 'base64');
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    out[k] = { type: v.type, dims: v.dims, data: new ctor[v.type](ab) };
  }
  return out;
}
