// Bench: HODU script variables written in place (issue 14) against the way before (each updated
// variable returned as an output buffer and copied into its tensor by JS), interleaved in one
// process (A, B, A, B, ... rounds; medians and mins of the per-step times), on two per-batch
// training steps: the MNIST CNN of bench/mnist-step.ts (batch 64, Adam) and a wide MLP
// (784-1024-1024-10, batch 64, Adam: 1.9M parameters, 3 floats of state each).
// Alone: node --import tsx bench/variables-inplace.ts [rounds]
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { fmtTime } from './harness';
import { mnistCnn, mnistMlp } from './train-models';

const B = 64;

const cnn = mnistCnn;

const mlp = (): ReturnType<typeof mnistMlp> => mnistMlp(1024);

function record(model: nn.Module, xShape: number[], inPlace: boolean): Script {
  const ce = new nn.CrossEntropy();
  const opt = new nn.Adam(1e-3);
  const b = new Builder('step');
  b.start();
  const loss = ce.forward([model.forward(Tensor.input('x', xShape)), Tensor.input('y', [B], DType.I64)]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  return b.build().setBackend(Backend.HODU).compile({ variablesInPlace: inPlace });
}

function median(a: number[]): number {
  const s = a.slice().sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

function compare(name: string, make: () => nn.Module, xShape: number[], rounds: number, steps: number): void {
  manualSeed(1);
  const x = Tensor.randn(xShape);
  const y = Tensor.fromArray(Array.from({ length: B }, (_, i) => (i * 7) % 10), undefined, DType.I64);
  const variants: [string, Script][] = [
    ['in place', record(make(), xShape, true)],
    ['write-back (before)', record(make(), xShape, false)],
  ];
  for (const [, s] of variants) s.addInput('x', x).addInput('y', y);
  // the same losses (the two scripts train identical models)
  for (let k = 0; k < 3; k++) {
    const l = variants.map(([, s]) => s.run()['loss'].item());
    if (l[0] !== l[1]) console.error(`WRONG RESULT: ${name} step ${k} losses ${l[0]} vs ${l[1]}`);
  }
  const times: number[][] = variants.map(() => []);
  for (let r = 0; r < rounds; r++)
    variants.forEach(([, s], v) => {
      for (let k = 0; k < steps; k++) {
        const t0 = process.hrtime.bigint();
        s.run();
        times[v].push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
    });
  const info = variants[0][1].planInfo();
  console.log(`${name}: ${info.variablesInPlace} variables in place, ${info.variablesCopied} copied at the end`);
  variants.forEach(([v], i) =>
    console.log(`  ${v.padEnd(20)} median ${fmtTime(median(times[i]))}  min ${fmtTime(Math.min(...times[i]))}  (n=${times[i].length})`),
  );
  console.log(`  before / in place: median ${(median(times[1]) / median(times[0])).toFixed(3)}x, min ${(Math.min(...times[1]) / Math.min(...times[0])).toFixed(3)}x`);
}

const rounds = Number(process.argv[2] ?? 10);
compare('train_step_mnist_cnn_b64 (Adam)', cnn, [B, 1, 28, 28], rounds, 5);
compare('train_step_mlp_784_1024_1024_10_b64 (Adam)', mlp, [B, 784], rounds, 5);
