// MNIST epoch time, one model and one data order on every row: a CNN with BatchNorm
// (conv16-BN-relu-pool-conv32-BN-relu-pool-dense128-relu-dense10, Adam 1e-3, batch 64), trained
// on the first `--batches` batches of a shuffled epoch (DataLoader seed 7), timed after one warm-up
// batch, and scaled to a full epoch (937 batches of 64). Rows:
//   hodu dynamic            eager ops + autograd, one batch at a time
//   hodu script (per batch) one training step recorded once, run per batch (variables written back)
//   hodu script (rolled)    all measured steps recorded in one builder; each step picks its rows
//                           with index_select by a per-step index constant, so the compiler rolls
//                           them into one loop (one run per epoch part)
//   xla script (per batch)  the per-batch script on Backend.XLA (when the PJRT plugin is there)
//   tfjs cpu / wasm         tf.layers model, trainOnBatch (tfjs resolved as bench/ resolves it)
// Run: node --expose-gc --import tsx bench/mnist-epoch.ts [--batches 40] [--tfjs-batches 10] [--no-tfjs]
import * as path from 'path';
import { Backend, Builder, DType, DataLoader, Script, Tensor, data, manualSeed, nn } from '../lib';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureMnist } = require('../scripts/fetch-datasets.js') as { ensureMnist(log?: (m: string) => void): string };

const args = process.argv.slice(2);
const arg = (n: string, d: number) => (args.includes(`--${n}`) ? Number(args[args.indexOf(`--${n}`) + 1]) : d);
const BATCHES = arg('batches', 40);
const TFJS_BATCHES = arg('tfjs-batches', 10);
const B = 64;
const EPOCH_BATCHES = Math.floor(60000 / B);

const dir = ensureMnist((m) => process.stderr.write(`[datasets] ${m}\n`));
const images = data.readIdx(path.join(dir, 'train-images-idx3-ubyte')).toUint8Array();
const labels = data.readIdx(path.join(dir, 'train-labels-idx1-ubyte')).toInt32Array();
const X = new Float32Array(images.length);
for (let i = 0; i < X.length; i++) X[i] = (images[i] / 255 - 0.25) / 0.35;
const loader = new DataLoader({ x: { data: X, shape: [60000, 1, 28, 28] }, y: labels }, { batchSize: B, shuffle: true, seed: 7, dropLast: true });
const order = loader.order(0);
const batchRows = (k: number) => order.subarray(k * B, (k + 1) * B);
const batch = (k: number) => loader.take(batchRows(k)) as { x: Tensor; y: Tensor };

function makeModel(): nn.Sequential {
  manualSeed(1);
  return new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  );
}
const ce = new nn.CrossEntropy();

interface Row { name: string; perBatchMs: number; batches: number; firstLoss?: number; lastLoss?: number; note?: string }
const rows: Row[] = [];
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Times `fn(k)` for batches 1..n after warm-up batch 0. */
async function time(name: string, n: number, fn: (k: number) => number | Promise<number>, note?: string): Promise<void> {
  global.gc?.();
  const first = await fn(0);
  const t0 = now();
  let last = first;
  for (let k = 1; k <= n; k++) last = await fn(k);
  const per = (now() - t0) / n;
  rows.push({ name, perBatchMs: per, batches: n, firstLoss: first, lastLoss: last, note });
  console.log(`${name.padEnd(26)} ${per.toFixed(1).padStart(8)} ms/batch  ${((per * EPOCH_BATCHES) / 1000).toFixed(1).padStart(7)} s/epoch  loss ${first.toFixed(3)} -> ${last.toFixed(3)}${note ? '  ' + note : ''}`);
}

function recordStep(model: nn.Sequential, opt: nn.Optimizer): Script {
  const b = new Builder('mnist_step').start();
  const loss = ce.forward([model.forward(Tensor.input('x', [B, 1, 28, 28])), Tensor.input('y', [B], DType.I32)]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  return b.build();
}

async function main(): Promise<void> {
  console.log(`MNIST CNN epoch time: ${BATCHES} timed batches of ${B} (tfjs: ${TFJS_BATCHES}), scaled to ${EPOCH_BATCHES} batches`);
  {
    const model = makeModel();
    const opt = new nn.Adam(1e-3);
    await time('hodu dynamic', BATCHES, (k) => {
      const { x, y } = batch(k);
      const loss = ce.forward([model.forward(x), y]);
      loss.backward();
      opt.step(model.parameters());
      opt.zeroGrad(model.parameters());
      return loss.item();
    });
  }
  const perBatch = async (backend: Backend, name: string) => {
    const model = makeModel();
    const s = recordStep(model, new nn.Adam(1e-3)).setBackend(backend);
    await time(name, BATCHES, (k) => {
      const { x, y } = batch(k);
      return s.addInput('x', x).addInput('y', y).run().loss.item();
    });
  };
  await perBatch(Backend.HODU, 'hodu script (per batch)');
  {
    // rolled: batches 0..BATCHES in one script; the data of those batches is one input
    const model = makeModel();
    const opt = new nn.Adam(1e-3);
    const steps = BATCHES + 1;
    const all = loader.take(order.subarray(0, steps * B)) as { x: Tensor; y: Tensor };
    const b = new Builder('mnist_epoch').start();
    const xa = Tensor.input('x', [steps * B, 1, 28, 28]);
    const ya = Tensor.input('y', [steps * B], DType.I32);
    let loss!: Tensor;
    let first!: Tensor;
    for (let k = 0; k < steps; k++) {
      const idx = Tensor.arange(k * B, (k + 1) * B, 1, DType.I64);
      loss = ce.forward([model.forward(xa.indexSelect(0, idx)), ya.indexSelect(0, idx)]);
      if (k === 0) first = loss;
      loss.backward();
      opt.step(model.parameters());
      opt.zeroGrad(model.parameters());
    }
    b.addOutput('loss', loss);
    const s = b.build().addInput('x', all.x).addInput('y', all.y);
    const tc = now();
    s.compile();
    const compileMs = now() - tc;
    const loops = s.planInfo().loops;
    global.gc?.();
    const t0 = now();
    const last = s.run().loss.item();
    const per = (now() - t0) / steps;
    const note = `compile ${(compileMs / 1000).toFixed(1)} s; rolled loops: ${loops.map((l) => `${l.trips} trips`).join(', ') || 'none'}`;
    void first;
    rows.push({ name: 'hodu script (rolled)', perBatchMs: per, batches: steps, lastLoss: last, note });
    console.log(`${'hodu script (rolled)'.padEnd(26)} ${per.toFixed(1).padStart(8)} ms/batch  ${((per * EPOCH_BATCHES) / 1000).toFixed(1).padStart(7)} s/epoch  final loss ${last.toFixed(3)}  ${note}`);
  }
  try {
    await perBatch(Backend.XLA, 'xla script (per batch)');
  } catch (e) {
    console.log(`xla script: skipped (${(e as Error).message.split('\n')[0]})`);
  }
  if (args.includes('--no-tfjs')) console.log('tfjs rows skipped (--no-tfjs)');
  else try {
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    for (const backend of ['wasm', 'cpu']) {
      try {
        await tf.setBackend(backend);
        await tf.ready();
        const m = tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same' }),
            tf.layers.batchNormalization({ axis: 3, momentum: 0.9, epsilon: 1e-5 }), tf.layers.reLU(), tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same' }),
            tf.layers.batchNormalization({ axis: 3, momentum: 0.9, epsilon: 1e-5 }), tf.layers.reLU(), tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.flatten(), tf.layers.dense({ units: 128, activation: 'relu' }), tf.layers.dense({ units: 10 }),
          ],
        });
        m.compile({ optimizer: tf.train.adam(1e-3), loss: (yt: unknown, yp: unknown) => tf.losses.softmaxCrossEntropy(yt as never, yp as never) });
        const n = backend === 'cpu' ? Math.max(2, Math.floor(TFJS_BATCHES / 2)) : TFJS_BATCHES;
        await time(`tfjs ${backend}`, n, async (k) => {
          const { x, y } = batch(k);
          // NCHW with C = 1 is NHWC with the same memory
          const xt = tf.tensor4d(x.toFloat32Array(), [B, 28, 28, 1]);
          const yt = tf.oneHot(tf.tensor1d(y.toInt32Array(), 'int32'), 10);
          const l = (await m.trainOnBatch(xt, yt)) as number;
          xt.dispose();
          yt.dispose();
          return l;
        }, `tfjs ${tf.version.tfjs}`);
      } catch (e) {
        // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel: it cannot train a conv net
        console.log(`tfjs ${backend}: cannot train this model (${(e as Error).message.split('\n')[0]})`);
        rows.push({ name: `tfjs ${backend}`, perBatchMs: NaN, batches: 0, note: (e as Error).message.split('\n')[0] });
      }
    }
  } catch (e) {
    console.log(`tfjs rows skipped (${(e as Error).message.split('\n')[0]})`);
  }
  console.log('\n| row | ms per batch | s per epoch (937 batches) | batches timed |\n|---|---:|---:|---:|');
  for (const r of rows)
    console.log(Number.isNaN(r.perBatchMs) ? `| ${r.name} | — | — (${r.note}) | 0 |` : `| ${r.name} | ${r.perBatchMs.toFixed(1)} | ${((r.perBatchMs * EPOCH_BATCHES) / 1000).toFixed(1)} | ${r.batches} |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
