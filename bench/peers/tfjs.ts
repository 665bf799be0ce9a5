// TensorFlow.js 4.22 as a benchmark peer, on its 'cpu' (pure JS) and 'wasm' (XNNPACK, SIMD,
// single-threaded in Node) backends. The union package '@tensorflow/tfjs' is loaded because its
// bundle registers the gradients that optimizer.minimize needs (tfjs-core's CJS build does not).
// Layers are written as tfjs-layers does: fused matMul / conv2d with bias and activation, NHWC.
// Each timed call wraps the inputs (tf.tensor), runs under tf.tidy and reads dataSync().
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { CnnWeights, MLP_PARAMS, MLP_SHAPES, MlpParam, MlpWeights, Peer, Runner, TrainData, TrainRunner } from './types';

export const tfjsVersion = (): string => tf.version.tfjs;

/** Conv filter OIHW (hodu, ONNX) -> HWIO (tfjs). */
export function oihwToHwio(k: Float32Array, O: number, I: number, H: number, W: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) out[((h * W + w) * I + i) * O + o] = k[((o * I + i) * H + h) * W + w];
  return out;
}

/** Dense rows in NCHW-flatten order (c, h, w) -> NHWC-flatten order (h, w, c), `cols` values per row. */
export function nchwRowsToNhwc(d: Float32Array, C: number, H: number, W: number, cols: number): Float32Array {
  const out = new Float32Array(d.length);
  for (let c = 0; c < C; c++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) {
        const src = ((c * H + h) * W + w) * cols;
        out.set(d.subarray(src, src + cols), ((h * W + w) * C + c) * cols);
      }
  return out;
}

type Backend = 'cpu' | 'wasm';

/** Output of a tidy'd computation as a fresh Float32Array (tfjs-cpu hands out its own buffer). */
function read(fn: () => tf.Tensor): Float32Array {
  const y = tf.tidy(fn);
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

const dense = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: 'relu' | 'linear'): tf.Tensor2D =>
  tf.fused.matMul({ a: x, b: w, bias: b, activation }) as tf.Tensor2D;

function mlpLogits(x: tf.Tensor2D, p: Record<MlpParam, tf.Tensor>): tf.Tensor2D {
  const h1 = dense(x, p.w1 as tf.Tensor2D, p.b1 as tf.Tensor1D, 'relu');
  const h2 = dense(h1, p.w2 as tf.Tensor2D, p.b2 as tf.Tensor1D, 'relu');
  return dense(h2, p.w3 as tf.Tensor2D, p.b3 as tf.Tensor1D, 'linear');
}

export class TfjsPeer implements Peer {
  readonly name: string;
  readonly maxReps?: Partial<Record<string, number>>;

  constructor(readonly backend: Backend, maxReps?: Partial<Record<string, number>>) {
    this.name = `tfjs ${backend}`;
    this.maxReps = maxReps;
  }

  /** Initializes the backends (the wasm one loads its .wasm module). */
  static async init(): Promise<void> {
    tf.enableProdMode(); // only silences tfjs's console warnings (the "install tfjs-node" banner)
    for (const b of ['wasm', 'cpu'] as const) {
      if (!(await tf.setBackend(b))) throw new Error(`tfjs backend ${b} failed to initialize`);
    }
    await tf.ready();
  }

  private async activate(): Promise<void> {
    if (tf.getBackend() !== this.backend && !(await tf.setBackend(this.backend))) throw new Error(`tfjs: cannot switch to ${this.backend}`);
  }

  /** A runner whose constant tensors live on this backend (made after switching to it). */
  private async runner(make: () => { run: () => Float32Array; keep: tf.Tensor[] }): Promise<Runner> {
    await this.activate();
    const { run, keep } = make();
    return {
      isAsync: false,
      activate: () => this.activate(),
      run,
      dispose: async () => {
        await this.activate();
        tf.dispose(keep);
      },
    };
  }

  matmul(a: Float32Array, b: Float32Array, n: number): Promise<Runner> {
    return this.runner(() => ({ keep: [], run: () => read(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n]))) }));
  }

  mlp(w: MlpWeights, x: Float32Array, batch: number): Promise<Runner> {
    return this.runner(() => {
      const p = Object.fromEntries(MLP_PARAMS.map((k) => [k, tf.tensor(w[k], MLP_SHAPES[k])])) as Record<MlpParam, tf.Tensor>;
      return { keep: Object.values(p), run: () => read(() => tf.softmax(mlpLogits(tf.tensor2d(x, [batch, 784]), p))) };
    });
  }

  cnn(w: CnnWeights, x: Float32Array, batch: number): Promise<Runner> {
    return this.runner(() => {
      const c1 = tf.tensor4d(oihwToHwio(w.c1, 32, 1, 3, 3), [3, 3, 1, 32]);
      const c2 = tf.tensor4d(oihwToHwio(w.c2, 64, 32, 3, 3), [3, 3, 32, 64]);
      const cb1 = tf.tensor1d(w.cb1), cb2 = tf.tensor1d(w.cb2);
      const d1 = tf.tensor2d(nchwRowsToNhwc(w.d1, 64, 12, 12, 128), [9216, 128]), db1 = tf.tensor1d(w.db1);
      const d2 = tf.tensor2d(w.d2, [128, 10]), db2 = tf.tensor1d(w.db2);
      const run = () =>
        read(() => {
          // NCHW with one channel has the same memory as NHWC with one channel.
          const input = tf.tensor4d(x, [batch, 28, 28, 1]);
          const a1 = tf.fused.conv2d({ x: input, filter: c1, strides: 1, pad: 'valid', bias: cb1, activation: 'relu' });
          const a2 = tf.fused.conv2d({ x: a1, filter: c2, strides: 1, pad: 'valid', bias: cb2, activation: 'relu' });
          const f = tf.reshape(tf.maxPool(a2, 2, 2, 'valid'), [batch, 9216]) as tf.Tensor2D;
          return dense(dense(f, d1, db1, 'relu'), d2, db2, 'linear');
        });
      return { keep: [c1, c2, cb1, cb2, d1, db1, d2, db2], run };
    });
  }

  elementwise(x: Float32Array): Promise<Runner> {
    return this.runner(() => ({
      keep: [],
      run: () =>
        read(() => {
          const t = tf.tensor1d(x);
          return tf.mul(tf.tanh(tf.add(tf.mul(t, 2), 1)), tf.sigmoid(t));
        }),
    }));
  }

  add(a: Float32Array, b: Float32Array): Promise<Runner> {
    return this.runner(() => ({ keep: [], run: () => read(() => tf.add(tf.tensor1d(a), tf.tensor1d(b))) }));
  }

  /** tf.train.sgd(lr).minimize of tf.losses.softmaxCrossEntropy (mean over the batch). */
  async trainStep(d: TrainData): Promise<TrainRunner> {
    await this.activate();
    const vars = Object.fromEntries(MLP_PARAMS.map((k) => [k, tf.variable(tf.tensor(d.init[k].slice(), MLP_SHAPES[k]))])) as Record<MlpParam, tf.Variable>;
    const varList = MLP_PARAMS.map((k) => vars[k]);
    const opt = tf.train.sgd(d.lr);
    const run = (): Float32Array => {
      const cost = opt.minimize(
        () => tf.losses.softmaxCrossEntropy(tf.tensor2d(d.onehot, [d.batch, 10]), mlpLogits(tf.tensor2d(d.x, [d.batch, 784]), vars)) as tf.Scalar,
        true,
        varList,
      );
      if (!cost) throw new Error('tfjs minimize returned no cost');
      const loss = cost.dataSync() as Float32Array;
      cost.dispose();
      return loss;
    };
    return {
      isAsync: false,
      activate: () => this.activate(),
      run,
      params: () => Object.fromEntries(MLP_PARAMS.map((k) => [k, vars[k].dataSync() as Float32Array])) as Record<MlpParam, Float32Array>,
      dispose: async () => {
        await this.activate();
        tf.dispose(varList);
        opt.dispose();
      },
    };
  }
}
