// Bench: dynamic (eager) mode's training step against the same step as a HODU script, on the MLP
// 784-512-512-10 (batch 64, SGD, as bench/bench.ts train_step_mlp_b64) and the MNIST CNN (batch 64,
// Adam, as bench/mnist-step.ts), with the eager kernel cache (native/kernels/kernel_cache.h) on and
// off. Variants alternate within each round (A, B, C, A, B, C, ...) in this one process; it prints
// the median over rounds of each variant's per-round median, the min, and the ratio to the script.
//
//   node --expose-gc --import tsx bench/eager-step.ts [--rounds 7] [--steps 20]
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { binding } from '../lib/native';
import { mnistCnn, mnistMlp } from './train-models';

declare const gc: undefined | (() => void);

const args = process.argv.slice(2);
const arg = (name: string, d: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const ROUNDS = arg('--rounds', 7);
const STEPS = arg('--steps', 20);
const B = 64;

const cnn = mnistCnn;

const mlp = (): ReturnType<typeof mnistMlp> => mnistMlp(512);

interface Workload {
  name: string;
  dyn: () => number;
  script: () => number;
}

function workload(name: string, make: () => nn.Module, opt: () => nn.Optimizer, xShape: number[]): Workload {
  manualSeed(1);
  const x = Tensor.randn(xShape);
  const y = Tensor.fromArray(Array.from({ length: B }, (_, i) => (i * 7) % 10), undefined, DType.I64);
  const ce = new nn.CrossEntropy();
  const model = make();
  const o = opt();
  const dyn = (): number => {
    const loss = ce.forward([model.forward(x), y]);
    loss.backward();
    o.step(model.parameters());
    o.zeroGrad(model.parameters());
    return loss.item();
  };
  const sm = make();
  const so = opt();
  const b = new Builder(`${name}_step`);
  b.start();
  const loss = ce.forward([sm.forward(Tensor.input('x', xShape)), Tensor.input('y', [B], DType.I64)]);
  loss.backward();
  so.step(sm.parameters());
  so.zeroGrad(sm.parameters());
  b.addOutput('loss', loss);
  const s: Script = b.build().setBackend(Backend.HODU).addInput('x', x).addInput('y', y);
  const script = (): number => s.run()['loss'].item();
  // same first step (both from the same initial weights)
  const l0 = dyn(), l1 = script();
  if (!(Math.abs(l0 - l1) <= 1e-4 * (1 + Math.abs(l0)))) throw new Error(`${name}: dynamic loss ${l0} vs script ${l1}`);
  return { name, dyn, script };
}

// The median wall time of STEPS steps, and their mean CPU time (user + system, all threads: a
// measure that other processes' load disturbs less than wall time; with OMP_NUM_THREADS=1 it is
// the work of a step).
function timeSteps(fn: () => unknown): [number, number] {
  fn(); // one warm-up step per measurement
  if (typeof gc === 'function') gc();
  const t: number[] = [];
  const r0 = process.resourceUsage();
  for (let i = 0; i < STEPS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const r1 = process.resourceUsage();
  t.sort((a, b) => a - b);
  return [t[t.length >> 1], (r1.userCPUTime + r1.systemCPUTime - r0.userCPUTime - r0.systemCPUTime) / 1e6 / STEPS];
}

const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

function main(): void {
  const capacity = binding.kernelCache().capacity;
  const ws = [workload('mlp_b64', mlp, () => new nn.SGD(0.01), [B, 784]), workload('mnist_cnn_b64', cnn, () => new nn.Adam(1e-3), [B, 1, 28, 28])];
  const variants: [string, (w: Workload) => [number, number]][] = [
    ['dynamic, kernel cache on', (w) => (binding.kernelCache(capacity), timeSteps(w.dyn))],
    ['dynamic, kernel cache off', (w) => (binding.kernelCache(0), timeSteps(w.dyn))],
    ['script (HODU)', (w) => timeSteps(w.script)],
  ];
  const os = require('os') as typeof import('os');
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${ROUNDS} rounds x ${STEPS} steps per variant`);
  for (const w of ws) {
    const res = variants.map(() => [] as number[]);
    const cpu = variants.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++)
      variants.forEach(([, f], i) => {
        const [wall, c] = f(w);
        res[i].push(wall);
        cpu[i].push(c);
      });
    binding.kernelCache(capacity);
    const scriptMed = med(res[2]);
    const scriptCpu = med(cpu[2]);
    console.log(`\n${w.name}: ms per step: wall (median of per-round medians, min, ratio to script)   CPU (median, ratio to script)`);
    variants.forEach(([name], i) =>
      console.log(
        `  ${name.padEnd(28)} ${(med(res[i]) * 1e3).toFixed(2).padStart(8)} ${(Math.min(...res[i]) * 1e3).toFixed(2).padStart(8)} ${(med(res[i]) / scriptMed).toFixed(2).padStart(6)}x` +
          `   ${(med(cpu[i]) * 1e3).toFixed(2).padStart(8)} ${(med(cpu[i]) / scriptCpu).toFixed(2).padStart(6)}x`,
      ),
    );
    const c = binding.kernelCache();
    console.log(`  kernel cache: ${c.size} kernels (capacity ${c.capacity}), ${c.hits} hits, ${c.misses} misses`);
  }
}

main();
