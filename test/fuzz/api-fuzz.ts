// JS API fuzzer: random tensors (shapes with 0, 1, small and huge dims; every dtype; views; disposed
// tensors) through random public ops with random arguments (valid, boundary and junk), eagerly and
// recorded into scripts run on HODU (and XLA when its plugin is there). The only allowed outcomes of a
// call are a result or a HoduError; a crash ends the process (scripts/fuzz.js records it), any other
// exception is a finding. Usage: node --import tsx test/fuzz/api-fuzz.ts SECONDS [SEED]; prints one
// JSON line of counts. fuzzApi() is also called by test/reliability-fuzz.test.ts for a short run.
import { writeSync } from 'fs';
import { Backend, Builder, DType, Tensor, concat, where } from '../../lib';
import { rng } from './rng';

const TRACE = process.env.HODU_FUZZ_TRACE === '1';  // each call's source on stderr before it runs (to find a crash)

export interface FuzzStats {
  calls: number;
  results: number;
  hoduErrors: number;
  scripts: number;
  findings: string[];
  seed: number;
}

const DTYPES = Object.values(DType) as DType[];
const SMALL = [0, 1, 1, 2, 2, 3, 3, 4, 5];
// huge dims: any tensor using one has 0 elements or more than any machine's memory, so the fuzzer
// never allocates for real; junk: values a dim/index must refuse
const HUGE = [2 ** 36, 2 ** 40, 2 ** 41, 2 ** 53, 694428065361];
const JUNK: unknown[] = [-1, -(2 ** 31), 1.5, NaN, Infinity, -Infinity, 1e300, null, undefined, '2', [], {}, true];

export function fuzzApi(seconds: number, seed = Date.now() % 2 ** 31, xla = false): FuzzStats {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const chance = (p: number): boolean => r() < p;
  const stats: FuzzStats = { calls: 0, results: 0, hoduErrors: 0, scripts: 0, findings: [], seed };
  const dim = (): unknown => (chance(0.9) ? pick(SMALL) : chance(0.6) ? pick(HUGE) : pick(JUNK));
  const shape = (): unknown => {
    if (chance(0.03)) return pick(JUNK);
    const n = chance(0.1) ? 0 : 1 + Math.floor(r() * 4);
    return Array.from({ length: n }, () => (chance(0.95) ? pick(SMALL) : dim()));
  };
  const int = (lo: number, hi: number): unknown => (chance(0.92) ? lo + Math.floor(r() * (hi - lo + 1)) : chance(0.5) ? pick(HUGE) : pick(JUNK));
  const pool: Tensor[] = [];
  const some = (): Tensor | undefined => (pool.length ? pick(pool) : undefined);
  const scalarOrTensor = (): unknown => (chance(0.3) ? pick([0, 1, -1, 2.5, NaN, Infinity, true]) : chance(0.05) ? pick(JUNK) : some());

  const makers: (() => unknown)[] = [
    () => Tensor.zeros(shape() as number[], pick(DTYPES)),
    () => Tensor.ones(shape() as number[], pick(DTYPES)),
    () => Tensor.full(shape() as number[], pick([0, 1, -3, NaN, Infinity, true, 1e300]) as number, pick(DTYPES)),
    () => Tensor.randn(shape() as number[], pick([DType.F32, DType.F64, DType.F16, DType.BF16, DType.I32])),
    () => Tensor.rand(shape() as number[]),
    () => Tensor.arange(int(-3, 10) as number, int(0, 20) as number, pick([1, 2, -1, 0.5, 0, NaN]) as number, pick(DTYPES)),
    () => Tensor.fromArray(pick([[1, 2, 3], [[1, 2], [3, 4]], [[1], [2, 3]], [NaN, -0, Infinity], [], [[[]]]]) as number[], undefined, pick(DTYPES)),
    () => Tensor.fromArray(new Float32Array([1, NaN, -2, 4]), pick([[4], [2, 2], [1, 4], [3], [0]]) as number[]),
    () => Tensor.zeros(pick([[0, 694428065361], [0, 2 ** 40], [2, 0, 2 ** 36]]) as number[]),
  ];
  const methods: ((t: Tensor) => unknown)[] = [
    ...['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'logicalAnd', 'logicalOr', 'logicalXor', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'].map(
      (m) => (t: Tensor) => (t as unknown as Record<string, (o: unknown) => unknown>)[m](scalarOrTensor()),
    ),
    ...['logicalNot', 'neg', 'abs', 'sign', 'square', 'sqrt', 'recip', 'relu', 'sigmoid', 'tanh', 'gelu', 'softplus', 'sin', 'cos', 'tan', 'exp', 'exp2', 'exp10', 'ln', 'log2', 'log10', 'silu', 't', 'contiguous', 'detach', 'toTypedArray', 'toArray', 'toString', 'item', 'dispose'].map(
      (m) => (t: Tensor) => (t as unknown as Record<string, () => unknown>)[m](),
    ),
    (t) => t.leakyRelu(pick([0.01, -1, NaN, 1e300]) as number),
    (t) => t.elu(pick([1, 0, NaN]) as number),
    (t) => t.clamp(pick([-1, 0, NaN, -Infinity]) as number, pick([1, 0, NaN, Infinity]) as number),
    (t) => t.matmul(some() as Tensor),
    ...['sum', 'mean', 'max', 'min', 'prod', 'var', 'std', 'norm', 'argmax', 'argmin'].map(
      (m) => (t: Tensor) => (t as unknown as Record<string, (d: unknown, k: unknown) => unknown>)[m](chance(0.3) ? undefined : chance(0.8) ? int(-3, 3) : [int(-2, 2), int(-2, 2)], chance(0.5)),
    ),
    (t) => t.reshape(shape() as number[]),
    (t) => t.view(shape() as number[]),
    (t) => t.flatten(int(-2, 2) as number, int(-2, 2) as number),
    (t) => t.squeeze(chance(0.5) ? undefined : (int(-3, 3) as number)),
    (t) => t.unsqueeze(int(-3, 3) as number),
    (t) => t.transpose(int(-3, 3) as number, int(-3, 3) as number),
    (t) => t.permute([int(0, 3), int(0, 3), int(0, 3)].slice(0, t.shape.length) as number[]),
    (t) => t.broadcastTo(shape() as number[]),
    (t) => t.expand(shape() as number[]),
    (t) => t.narrow(int(-2, 2) as number, int(-2, 4) as number, int(0, 4) as number),
    (t) => t.slice(int(-2, 2) as number, int(-3, 4) as number, chance(0.5) ? undefined : (int(-3, 6) as number), pick([1, 2, 3, 0, -1]) as number),
    (t) => t.split(pick([1, 2, [1, 1], [0, 2], 0, -1]) as number, int(-2, 2) as number),
    (t) => t.chunk(int(1, 4) as number, int(-2, 2) as number),
    (t) => t.indexSelect(int(-2, 2) as number, pick([[0], [1, 0], [], [5], [-1], [0, 0, 0]]) as number[]),
    (t) => t.gather(int(-2, 2) as number, some() as Tensor),
    (t) => concat([t, some() as Tensor], int(-2, 2) as number),
    (t) => where(t, scalarOrTensor() as Tensor, scalarOrTensor() as Tensor),
    (t) => t.softmax(int(-2, 2) as number),
    (t) => t.logSoftmax(int(-2, 2) as number),
    (t) => t.conv2d(some() as Tensor, chance(0.5) ? null : some(), chance(0.1) ? (pick(JUNK) as object) : { stride: int(1, 3) as number, padding: chance(0.9) ? (int(0, 2) as number) : pick([2 ** 30, 2 ** 20, 2 ** 31]), dilation: int(1, 2) as number, groups: int(1, 2) as number }),
    (t) => t.maxPool2d(chance(0.1) ? (pick(JUNK) as never) : { kernel: int(1, 3) as number, stride: int(1, 3) as number, padding: int(0, 1) as number }),
    (t) => t.avgPool2d({ kernel: int(1, 3) as number, stride: chance(0.5) ? undefined : (int(1, 3) as number), padding: int(0, 1) as number }),
    (t) => t.toDtype(pick(DTYPES)),
    (t) => t.setRequiresGrad(chance(0.8)),
    (t) => { const y = t.sum(); y.backward(); return t.grad; },
  ];

  const call = (f: () => unknown): unknown => {
    stats.calls++;
    if (TRACE) writeSync(2, `call ${stats.calls}: ${f.toString().slice(0, 300)}\n`);
    try {
      const v = f();
      stats.results++;
      return v;
    } catch (e) {
      const err = e as { name?: string; code?: unknown; message?: string };
      if (err && err.name === 'HoduError' && typeof err.code === 'string') stats.hoduErrors++;
      else if (stats.findings.length < 50) stats.findings.push(`${err?.name}: ${String(err?.message).slice(0, 200)} @ ${f.toString().slice(0, 160)}`);
      return undefined;
    }
  };
  const keep = (v: unknown): void => {
    const add = (x: unknown): void => {
      if (x && typeof x === 'object' && (x as Tensor).shape !== undefined && typeof (x as Tensor).dispose === 'function') pool.push(x as Tensor);
    };
    if (Array.isArray(v)) v.forEach(add);
    else add(v);
    while (pool.length > 24) {
      const t = pool.splice(Math.floor(r() * pool.length), 1)[0];
      if (chance(0.5)) call(() => t.dispose());
    }
  };

  const end = Date.now() + seconds * 1000;
  let iter = 0;
  while (Date.now() < end) {
    iter++;
    if (pool.length < 4 || chance(0.25)) keep(call(pick(makers)));
    const t = some();
    if (t) {
      const m = pick(methods);
      if (TRACE) writeSync(2, `method: ${m.toString().slice(0, 300)} on ${JSON.stringify(t.shape)} ${t.dtype}\n`);
      keep(call(() => m(t)));
    }
    if (chance(0.02)) {
      // the same kind of calls recorded into a script, then compiled and run
      stats.scripts++;
      const b = new Builder(`fuzz${iter}`);
      const shp = (shape() as number[]) ?? [2];
      const dt = pick(DTYPES);
      let script: ReturnType<Builder['build']> | undefined;
      const saved = pool.splice(0, pool.length);
      call(() => {
        b.start();
        try {
          const x = Tensor.input('x', shp, dt);
          pool.push(x);
          let y: unknown = x;
          for (let k = 0; k < 1 + Math.floor(r() * 4); k++) {
            const v = call(() => pick(methods)(pool[pool.length - 1]));
            if (v && typeof v === 'object' && (v as Tensor).shape !== undefined && (v as Tensor).isSymbolic) {
              pool.push(v as Tensor);
              y = v;
            }
          }
          b.addOutput('y', y as Tensor);
        } finally {
          b.end();
        }
        script = b.build();
      });
      pool.splice(0, pool.length, ...saved);
      if (script) {
        const s = script;
        const backends = xla && chance(0.3) ? [Backend.HODU, Backend.XLA] : [Backend.HODU];
        for (const be of backends) {
          call(() => s.setBackend(be));
          call(() => s.addInput('x', Tensor.ones(shp, dt)));
          call(() => s.run());
          if (chance(0.2)) call(() => s.compile({ fuse: chance(0.5), foldConstants: chance(0.5), rollLoops: chance(0.5) }));
        }
        call(() => s.dispose?.());
      }
    }
  }
  return stats;
}

if (require.main === module) {
  const seconds = Number(process.argv[2] || 60);
  const seed = Number(process.argv[3] || Date.now() % 2 ** 31);
  const xla = process.env.HODU_FUZZ_XLA === '1';
  const s = fuzzApi(seconds, seed, xla);
  for (const f of s.findings) console.error(`finding: ${f}`);
  console.log(JSON.stringify({ ...s, findings: s.findings.length }));
  process.exit(s.findings.length ? 1 : 0);
}
