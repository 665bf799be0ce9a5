// Child process of test/xla-cache.test.ts: records the training script given by argv[2] (JSON
// options of mlpTrainScript), compiles it on Backend.XLA (cache folder from HODU_CACHE_DIR) and
// prints one JSON line: the script's stats, the process's cache counters, the plan's cache status
// and compile time, and the outputs.
import { Backend, DType } from '../../lib';
import { xlaCacheCounters } from '../../lib/xla-cache';
import { mlpTrainScript } from './xla-train-scripts';

const s = mlpTrainScript(JSON.parse(process.argv[2] ?? '{}')).setBackend(Backend.XLA);
s.compile();
const info = s.planInfo() as unknown as { cache: string; compileMs: number };
const out = s.run();
const values: Record<string, number[]> = {};
for (const [k, t] of Object.entries(out)) values[k] = Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);
process.stdout.write(JSON.stringify({ stats: s.stats(), counters: xlaCacheCounters(), cache: info.cache, compileMs: info.compileMs, values }) + '\n');
