// A rolled training loop on XLA against the same steps unrolled: the MNIST CNN of bench/mnist-epoch.ts
// (conv16-BN-relu-pool-conv32-BN-relu-pool-dense128-relu-dense10, Adam, batch 64) trained for
// `--steps` steps in one script on random data; each step picks its rows of one big input (either
// indexSelect by a per-step arange constant, as bench/mnist-epoch.ts does, or narrow()). The same
// script is compiled rolled (one stablehlo.while) and unrolled; runs alternate in one process and
// the variables are reset before each run, so both do the same work. Prints ms per step.
// Run: node --expose-gc --import tsx bench/xla-rolled.ts [--steps 8] [--rounds 5] [--narrow] [--dump DIR]
import * as fs from 'fs';
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';

const args = process.argv.slice(2);
const arg = (n: string, d: number) => (args.includes(`--${n}`) ? Number(args[args.indexOf(`--${n}`) + 1]) : d);
const STEPS = arg('steps', 8);
const ROUNDS = arg('rounds', 5);
const B = arg('batch', 64);
const NARROW = args.includes('--narrow');
const DUMP = args.includes('--dump') ? args[args.indexOf('--dump') + 1] : null;

function makeModel(): nn.Sequential {
  manualSeed(1);
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  );
}

function epoch(): Script {
  const model = makeModel();
  const opt = new nn.Adam(1e-3);
  const ce = new nn.CrossEntropy();
  const b = new Builder('xla_epoch').start();
  const xa = Tensor.input('x', [STEPS * B, 1, 28, 28]);
  const ya = Tensor.input('y', [STEPS * B], DType.I32);
  for (let k = 0; k < STEPS; k++) {
    let x: Tensor, y: Tensor;
    if (NARROW) {
      x = xa.narrow(0, k * B, B);
      y = ya.narrow(0, k * B, B);
    } else {
      const idx = Tensor.arange(k * B, (k + 1) * B, 1, DType.I64);
      x = xa.indexSelect(0, idx);
      y = ya.indexSelect(0, idx);
    }
    const loss = ce.forward([model.forward(x), y]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('losses', loss, { stack: true });
  }
  return b.build();
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function main(): void {
  const xs = new Float32Array(STEPS * B * 784);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 0.37) * 1.5;
  const ys = new Int32Array(STEPS * B);
  for (let i = 0; i < ys.length; i++) ys[i] = (i * 7) % 10;
  const X = Tensor.fromArray(xs, [STEPS * B, 1, 28, 28]);
  const Y = Tensor.fromArray(ys, [STEPS * B]);
  const variants = [
    { name: 'rolled', roll: true },
    { name: 'unrolled', roll: false },
  ].map((v) => {
    const s = epoch().setBackend(Backend.XLA).addInput('x', X).addInput('y', Y);
    const start = Object.values(s.variables).map((t) => t.contiguous().add(0));
    const t0 = now();
    s.compile({ rollLoops: v.roll });
    const compileMs = now() - t0;
    if (DUMP) fs.writeFileSync(`${DUMP}/${v.name}.mlir`, s.asText('stablehlo'));
    return { ...v, s, start, compileMs, loops: s.planInfo().loops, times: [] as number[], losses: [] as number[] };
  });
  for (let r = 0; r <= ROUNDS; r++)
    for (const v of variants) {
      Object.values(v.s.variables).forEach((t, i) => t.assign(v.start[i]));
      const t0 = now();
      const out = v.s.run();
      const dt = now() - t0;
      if (r > 0) v.times.push(dt / STEPS);  // round 0 warms up
      v.losses = Array.from(out.losses.toTypedArray() as Float32Array);
    }
  console.log(`XLA MNIST CNN, ${STEPS} steps of batch ${B} in one script (${NARROW ? 'narrow' : 'indexSelect'}), ${ROUNDS} interleaved rounds (PJRT_NPROC=${process.env.PJRT_NPROC ?? 'unset'})`);
  for (const v of variants)
    console.log(
      `${v.name.padEnd(9)} ${median(v.times).toFixed(2).padStart(8)} ms/step (min ${Math.min(...v.times).toFixed(2)})  compile ${(v.compileMs / 1000).toFixed(1)} s  loops ${JSON.stringify(v.loops)}  last loss ${v.losses[STEPS - 1].toFixed(4)}`,
    );
  const [a, b] = variants;
  console.log(`rolled / unrolled: ${(median(a.times) / median(b.times)).toFixed(2)}x; max |loss diff| ${Math.max(...a.losses.map((l, i) => Math.abs(l - b.losses[i]))).toExponential(2)}`);
}

main();
