// Bench workload: one per-batch training step of the MNIST CNN of examples/train-mnist.ts (batch 64,
// cross-entropy, Adam), as a PyTorch user writes it: dynamic mode, and a script recorded once whose
// variables (parameters, Adam's state, lr) are read and written back by every run (SPEC §5), on
// HODU and on XLA. The first step's losses of the three must agree (else a WRONG RESULT).
// Alone: node --import tsx bench/mnist-step.ts   (bench/bench.ts also calls mnistStepRows)
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { fmtTime, measure, Timing } from './harness';
import type * as TF from '@tensorflow/tfjs';
import { mnistCnn } from './train-models';

const B = 64;

const cnn = mnistCnn;

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
  firstLosses.length = 0;
  for (let k = 0; k < 2; k++) {
    const want = dynStep();
    firstLosses.push(want);
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

/** The dynamic-mode losses of the first two steps (the reference of the tfjs rows). */
const firstLosses: number[] = [];

/**
 * The same step in TensorFlow.js (cpu and wasm backends) from the same initial weights: NHWC, conv
 * filters HWIO, dense weights [in, out] with the first dense layer's rows in NHWC-flatten order;
 * tf.train.adam(1e-3, 0.9, 0.999, 1e-8).minimize of tf.losses.softmaxCrossEntropy. Call after
 * mnistStepRows. Returns the number of wrong results; skips (with a note) when tfjs is missing.
 */
export async function mnistStepTfjsRows(
  row: (workload: string, variant: string, fn: () => unknown, maxReps?: number) => void,
  log: (m: string) => void = console.log,
  backends: ('wasm' | 'cpu')[] = ['wasm', 'cpu'],
): Promise<number> {
  let tf: typeof TF;
  let conv: typeof import('./peers/tfjs');
  try {
    tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    conv = await import('./peers/tfjs');
    tf.enableProdMode();
  } catch (e) {
    log(`  (train_step_mnist_cnn_b64 tfjs rows skipped: ${(e as Error).message.split('\n')[0]})`);
    return 0;
  }
  const m = cnn();
  const P = m.parameters().map((p) => Float32Array.from(p.toTypedArray() as Float32Array));
  const transpose = (a: Float32Array, rows: number, cols: number): Float32Array => {
    const out = new Float32Array(a.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
    return out;
  };
  manualSeed(1);
  const xNchw = Float32Array.from(Tensor.randn([B, 1, 28, 28]).toTypedArray() as Float32Array); // C = 1: NCHW = NHWC
  const onehot = new Float32Array(B * 10);
  for (let i = 0; i < B; i++) onehot[i * 10 + ((i * 7) % 10)] = 1;
  let wrong = 0;
  for (const backend of backends) {
    if (!(await tf.setBackend(backend))) {
      log(`  (tfjs ${backend} unavailable)`);
      continue;
    }
    await tf.ready();
    const vars = [
      tf.variable(tf.tensor4d(conv.oihwToHwio(P[0], 16, 1, 3, 3), [3, 3, 1, 16])),
      tf.variable(tf.tensor1d(P[1])),
      tf.variable(tf.tensor4d(conv.oihwToHwio(P[2], 32, 16, 3, 3), [3, 3, 16, 32])),
      tf.variable(tf.tensor1d(P[3])),
      tf.variable(tf.tensor2d(conv.nchwRowsToNhwc(transpose(P[4], 128, 1568), 32, 7, 7, 128), [1568, 128])),
      tf.variable(tf.tensor1d(P[5])),
      tf.variable(tf.tensor2d(transpose(P[6], 10, 128), [128, 10])),
      tf.variable(tf.tensor1d(P[7])),
    ];
    const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
    const step = (): number => {
      const cost = opt.minimize(() => {
        const x = tf.tensor4d(xNchw, [B, 28, 28, 1]);
        let h = tf.fused.conv2d({ x, filter: vars[0] as TF.Tensor4D, strides: 1, pad: 'same', bias: vars[1], activation: 'relu' });
        h = tf.maxPool(h, 2, 2, 'valid');
        h = tf.fused.conv2d({ x: h, filter: vars[2] as TF.Tensor4D, strides: 1, pad: 'same', bias: vars[3], activation: 'relu' });
        h = tf.maxPool(h, 2, 2, 'valid');
        const f = tf.reshape(h, [B, 1568]) as TF.Tensor2D;
        const d1 = tf.fused.matMul({ a: f, b: vars[4] as TF.Tensor2D, bias: vars[5], activation: 'relu' });
        const logits = tf.fused.matMul({ a: d1, b: vars[6] as TF.Tensor2D, bias: vars[7] });
        return tf.losses.softmaxCrossEntropy(tf.tensor2d(onehot, [B, 10]), logits) as TF.Scalar;
      }, true, vars);
      const v = (cost!.dataSync() as Float32Array)[0];
      cost!.dispose();
      return v;
    };
    try {
      step(); // tfjs-wasm 4.22 has no Conv2DBackpropFilter kernel: the CNN cannot train there
    } catch (e) {
      log(`  (train_step_mnist_cnn_b64 tfjs ${backend}: cannot train this CNN: ${(e as Error).message.split('\n')[0]})`);
      tf.dispose(vars);
      opt.dispose();
      continue;
    }
    for (let k = 1; k < 2; k++) {
      const got = step();
      const want = firstLosses[k];
      if (want === undefined || !(Math.abs(got - want) <= 1e-3 * (1 + Math.abs(want)))) {
        wrong++;
        console.error(`WRONG RESULT: train_step_mnist_cnn_b64 tfjs ${backend} step ${k + 1} loss ${got} vs hodu dynamic ${want}`);
      }
    }
    row('train_step_mnist_cnn_b64', `tfjs ${backend}`, step, backend === 'cpu' ? 5 : undefined);
    tf.dispose(vars);
    opt.dispose();
  }
  return wrong;
}

if (require.main === module) {
  const print = (w: string, v: string, fn: () => unknown, maxReps?: number): void => {
    const t: Timing = measure(fn, { minTime: 2, warmup: 2, maxReps });
    console.log(`${w} | ${v} | ${fmtTime(t.median)} (min ${fmtTime(t.min)}, max ${fmtTime(t.max)}, n ${t.n})`);
  };
  (async () => {
    let wrong = mnistStepRows(print);
    if (!process.argv.includes('--no-tfjs')) wrong += await mnistStepTfjsRows(print);
    process.exit(wrong ? 1 : 0);
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
