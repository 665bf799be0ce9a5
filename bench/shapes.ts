// Shapes that vary: the MLP 784-512-512-10 recorded once with a symbolic batch (`[null, 784]`) and
// run at batch 1, 7 and 64 interleaved, next to a fixed-shape script per batch size (the same
// weights), timed in the same loop so both see the same machine state; plus the cost of the first
// run at a new shape (specialization + compile) against the first run of a fixed-shape script.
// `npm run bench` includes these rows; alone: node --expose-gc --import tsx bench/shapes.ts [--quick]
import { Builder, Script, Tensor, manualSeed } from 'hodu';
import { Timing, fmtTime, maxRelDiff } from './harness';
import { Mlp, mlpForward, mlpWeights, script } from './models';

export interface ShapeRow {
  workload: string;
  variant: string;
  t: Timing;
  extra?: string;
}

const BATCHES = [1, 7, 64];

function timing(times: number[]): Timing {
  const s = times.slice().sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], n: s.length };
}

function symbolicMlp(m: Mlp): Script {
  const b = new Builder('mlp_symbolic');
  b.start();
  b.addOutput('y', mlpForward(m, Tensor.input('x', [null, 784])));
  b.end();
  return b.build();
}

const secs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/** The rows; `minTime` seconds of interleaved runs per batch size. Throws on a wrong result. */
export function symbolicBatchRows(m: Mlp, minTime: number): ShapeRow[] {
  const rows: ShapeRow[] = [];
  const xs = BATCHES.map((n) => Tensor.randn([n, 784]));
  const sym = symbolicMlp(m);
  const fixed = BATCHES.map((n) => script(`mlp_fixed_b${n}`, { x: [n, 784] }, (i) => mlpForward(m, i.x)));

  // first run at a new shape: specialize + compile + run, against a fixed script's compile + run
  const first: string[] = [];
  const firstSym: number[] = [];
  const firstFix: number[] = [];
  BATCHES.forEach((n, k) => {
    let t0 = process.hrtime.bigint();
    const a = sym.run({ x: xs[k] }).y;
    const tSym = secs(t0);
    t0 = process.hrtime.bigint();
    const b = fixed[k].run({ x: xs[k] }).y;
    const tFix = secs(t0);
    const d = maxRelDiff(a.toTypedArray() as Float32Array, b.toTypedArray() as Float32Array);
    if (!(d <= 1e-5)) throw new Error(`mlp symbolic b${n} vs fixed: max relative difference ${d}`);
    first.push(`b${n} ${fmtTime(tSym)} (fixed ${fmtTime(tFix)})`);
    firstSym.push(tSym);
    firstFix.push(tFix);
  });
  const stats = sym.stats();

  // interleaved steady state
  const tSym: number[][] = BATCHES.map(() => []);
  const tFix: number[][] = BATCHES.map(() => []);
  for (let w = 0; w < 20; w++) BATCHES.forEach((_, k) => (sym.run({ x: xs[k] }), fixed[k].run({ x: xs[k] })));
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
  const start = process.hrtime.bigint();
  let reps = 0;
  while (reps < 20000 && (reps < 20 || secs(start) < minTime * BATCHES.length)) {
    BATCHES.forEach((_, k) => {
      const a = reps % 2 === 0; // alternate which goes first
      for (const which of a ? [0, 1] : [1, 0]) {
        const t0 = process.hrtime.bigint();
        if (which === 0) sym.run({ x: xs[k] }).y.toTypedArray();
        else fixed[k].run({ x: xs[k] }).y.toTypedArray();
        (which === 0 ? tSym : tFix)[k].push(secs(t0));
      }
    });
    reps++;
  }
  BATCHES.forEach((n, k) => {
    const s = timing(tSym[k]);
    const f = timing(tFix[k]);
    rows.push({ workload: `mlp_symbolic_b${n}`, variant: 'hodu fixed', t: f });
    rows.push({
      workload: `mlp_symbolic_b${n}`,
      variant: 'hodu symbolic',
      t: s,
      extra: `${((s.median / f.median - 1) * 100).toFixed(1)} % vs the fixed-shape script (interleaved)`,
    });
  });
  const after = sym.stats();
  if (after.compiles !== stats.compiles) throw new Error(`the symbolic script compiled again in steady state: ${JSON.stringify(after)}`);
  rows.push({ workload: 'mlp_symbolic_first_run', variant: 'hodu fixed', t: timing(firstFix), extra: 'first run of a fixed-shape script (compile + run)' });
  rows.push({
    workload: 'mlp_symbolic_first_run',
    variant: 'hodu symbolic',
    t: timing(firstSym),
    extra: `first run at a new shape (specialize + compile + run): ${first.join('; ')}`,
  });
  return rows;
}

if (require.main === module) {
  manualSeed(1234);
  const quick = process.argv.includes('--quick');
  for (const r of symbolicBatchRows(mlpWeights(), quick ? 0.2 : 1.0))
    console.log(`  ${r.workload.padEnd(22)} ${r.variant.padEnd(14)} ${fmtTime(r.t.median).padStart(11)}  ${r.extra ?? ''}`);
}
