// Trains a small CNN (conv-relu-pool-conv-relu-pool-linear) on a synthetic MNIST-like task until
// its accuracy on held-out data passes a stated bar, in dynamic mode, then trains the same network
// for a few steps as a script and checks that the script's weights match dynamic mode's.
//
// The data: 14x14 images of one of 4 classes (a horizontal bar, a vertical bar, a diagonal, a
// square outline) at a random position, with Gaussian noise. Bar: 90 % held-out accuracy.
// Run: npx tsx examples/mnist-like-cnn.ts
import { Builder, DType, Tensor, manualSeed, nn } from 'hodu';

const SIZE = 14;
const CLASSES = 4;
const BAR = 0.9;

function makeData(n: number, seed: number): { x: Tensor; y: Tensor } {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const x = new Float32Array(n * SIZE * SIZE);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    y[i] = c;
    const img = x.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
    for (let k = 0; k < img.length; k++) img[k] = 0.3 * gauss();
    const r0 = 2 + Math.floor(rnd() * 6);
    const c0 = 2 + Math.floor(rnd() * 6);
    const L = 6;
    for (let k = 0; k < L; k++) {
      if (c === 0) img[r0 * SIZE + c0 + k] += 1;
      if (c === 1) img[(r0 + k) * SIZE + c0] += 1;
      if (c === 2) img[(r0 + k) * SIZE + c0 + k] += 1;
      if (c === 3) {
        img[r0 * SIZE + c0 + k] += 1;
        img[(r0 + L - 1) * SIZE + c0 + k] += 1;
        img[(r0 + k) * SIZE + c0] += 1;
        img[(r0 + k) * SIZE + c0 + L - 1] += 1;
      }
    }
  }
  return { x: Tensor.fromArray(x, [n, 1, SIZE, SIZE]), y: Tensor.fromArray(y, [n], DType.I32) };
}

function model(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 8x7x7
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 16x3x3
    new nn.Flatten(), new nn.Linear(16 * 3 * 3, CLASSES),
  );
}

function accuracy(net: nn.Sequential, x: Tensor, y: Tensor): number {
  const pred = net.forward(x).argmax(1).toArray() as number[];
  const want = y.toArray() as number[];
  return pred.filter((p, i) => p === want[i]).length / want.length;
}

manualSeed(42);
const train = makeData(2048, 1);
const test = makeData(512, 2);
const net = model();
const ce = new nn.CrossEntropy();
const opt = new nn.Adam(3e-3);
const BATCH = 64;
const t0 = process.hrtime.bigint();
let acc = 0;
for (let epoch = 1; epoch <= 20 && acc < BAR; epoch++) {
  let total = 0;
  for (let b = 0; b < 2048 / BATCH; b++) {
    const xb = train.x.narrow(0, b * BATCH, BATCH);
    const yb = train.y.narrow(0, b * BATCH, BATCH);
    const loss = ce.forward([net.forward(xb), yb]);
    loss.backward();
    opt.step(net.parameters());
    opt.zeroGrad(net.parameters());
    total += loss.item();
  }
  net.eval();
  acc = accuracy(net, test.x, test.y);
  net.train();
  console.log(`epoch ${epoch}: mean loss ${(total / (2048 / BATCH)).toFixed(4)}, held-out accuracy ${(acc * 100).toFixed(1)}%`);
}
console.log(`dynamic mode: ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);
if (acc < BAR) {
  console.error(`accuracy ${(acc * 100).toFixed(1)}% is below the bar of ${BAR * 100}%`);
  process.exit(1);
}

// Script mode: 5 SGD steps on one batch recorded as one graph, compared with the same steps in
// dynamic mode. The builder gives the parameters their values back when it ends; running the
// script then trains them (they are variables of the script), so the dynamic steps start again
// from a copy of the weights taken before the run.
const xb = train.x.narrow(0, 0, BATCH);
const yb = train.y.narrow(0, 0, BATCH);
const sgd = new nn.SGD(0.05);
const builder = new Builder('cnn_train_steps');
builder.start();
const xs = Tensor.input('x', [BATCH, 1, SIZE, SIZE]);
const ys = Tensor.input('y', [BATCH], DType.I32);
let last!: Tensor;
for (let k = 0; k < 5; k++) {
  last = ce.forward([net.forward(xs), ys]);
  last.backward();
  sgd.step(net.parameters());
  sgd.zeroGrad(net.parameters());
}
builder.addOutput('loss', last);
net.parameters().forEach((p, i) => builder.addOutput(`p${i}`, p));
builder.end();
const script = builder.build().addInput('x', xb).addInput('y', yb);
const before = Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [k, t.contiguous().add(0)]));
const out = script.run();
net.loadStateDict(before);

for (let k = 0; k < 5; k++) {
  ce.forward([net.forward(xb), yb]).backward();
  sgd.step(net.parameters());
  sgd.zeroGrad(net.parameters());
}
let maxDiff = 0;
net.parameters().forEach((p, i) => {
  const w = p.toTypedArray() as Float32Array;
  const s = out[`p${i}`].toTypedArray() as Float32Array;
  for (let k = 0; k < w.length; k++) maxDiff = Math.max(maxDiff, Math.abs(w[k] - s[k]));
});
console.log(`script mode: 5 steps as one graph (${script.planInfo().steps} kernels); max weight difference vs dynamic ${maxDiff.toExponential(2)}`);
