// Bench workload: one per-batch training step of the MNIST CNN of examples/train-mnist.ts (batch 64,
// cross-entropy, Adam), as a PyTorch user writes it: dynamic mode, and a script recorded once whose
// variables (parameters, Adam's state, lr) are read and written back by every run (SPEC §5), on
// HODU and on XLA. The first step's losses of the three must agree (else a WRONG RESULT).
// Alone: node --import tsx bench/mnist-step.ts   (bench/bench.ts also calls mnistStepRows)
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { fmtTime, measure, Timing } from './harness';

const B = 64;

function cnn(): nn.Sequential {
  manualSeed(0);
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  );
}

function recordStep(model: nn.Module, opt: nn.Optimizer, backend: Backend): Script {
  const ce = new nn.CrossEntropy();
  const b = new Builder(`mnist_step_${backend}`);
  b.start();
  const loss = ce.forward([model.forward(Tensor.input('x', [B, 1, 28, 28])), Tensor.input('y', [B], DType.I64)]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  return b.build().setBackend(backend);
}

/**
 * Adds the rows `train_step_mnist_cnn_b64` / hodu dynamic, hodu script, xla script. Returns the
 * number of wrong results (first-step losses that disagree).
 */
export function mnistStepRows(row: (workload: string, variant: string, fn: () => unknown) => void, log: (m: string) => void = console.log): number {
  manualSeed(1);
  const x = Tensor.randn([B, 1, 28, 28]);
  const y = Tensor.fromArray(Array.from({ length: B }, (_, i) => (i * 7) % 10), undefined, DType.I64);
  const ce = new nn.CrossEntropy();

  const dynModel = cnn();
  const dynOpt = new nn.Adam(1e-3);
  const dynStep = (): number => {
    const loss = ce.forward([dynModel.forward(x), y]);
    loss.backward();
    dynOpt.step(dynModel.parameters());
    dynOpt.zeroGrad(dynModel.parameters());
    return loss.item();
  };
  const scripts: [string, Script][] = [['hodu script', recordStep(cnn(), new nn.Adam(1e-3), Backend.HODU).addInput('x', x).addInput('y', y)]];
  try {
    const xs = recordStep(cnn(), new nn.Adam(1e-3), Backend.XLA).addInput('x', x).addInput('y', y);
    xs.compile();
    scripts.push(['xla script', xs]);
  } catch (e) {
    log(`  (train_step_mnist_cnn_b64 xla row skipped: ${(e as Error).message.split('\n')[0]})`);
  }
  // the first two steps agree (the second one checks that the scripts' variables were updated)
  let wrong = 0;
  for (let k = 0; k < 2; k++) {
    const want = dynStep();
    for (const [name, s] of scripts) {
      const got = s.run()['loss'].item();
      if (!(Math.abs(got - want) <= 1e-4 * (1 + Math.abs(want)))) {
        wrong++;
        console.error(`WRONG RESULT: train_step_mnist_cnn_b64 ${name} step ${k + 1} loss ${got} vs dynamic ${want}`);
      }
    }
  }
  row('train_step_mnist_cnn_b64', 'hodu dynamic', dynStep);
  for (const [name, s] of scripts) row('train_step_mnist_cnn_b64', name, () => s.run()['loss'].item());
  return wrong;
}

if (require.main === module) {
  const rows: [string, Timing][] = [];
  const wrong = mnistStepRows((w, v, fn) => {
    const t = measure(fn, { minTime: 2, warmup: 3 });
    rows.push([v, t]);
    console.log(`${w} | ${v} | ${fmtTime(t.median)} (min ${fmtTime(t.min)}, max ${fmtTime(t.max)}, n ${t.n})`);
  });
  process.exit(wrong ? 1 : 0);
}
