// onnxruntime-node (CPU execution provider) as a benchmark peer. Each workload is an ONNX model
// written by bench/onnx.ts from the same weights the hodu rows use; timed through the public
// `await session.run(feeds)`, including wrapping the inputs in ort.Tensor and reading `.data`.
import * as ort from 'onnxruntime-node';
import { model, node, scalar, tensor, valueInfo } from '../onnx';
import { CnnWeights, MLP_PARAMS, MLP_SHAPES, MlpParam, MlpWeights, Peer, Runner, TrainData, TrainRunner } from './types';

export const ortVersion = (): string => ort.env.versions.node ?? ort.env.versions.common;

// ------------------------------------------------------------------ models

export function matmulModel(n: number): Uint8Array {
  return model({
    name: 'matmul',
    nodes: [node('MatMul', ['a', 'b'], ['y'])],
    inputs: [valueInfo('a', [n, n]), valueInfo('b', [n, n])],
    outputs: [valueInfo('y', [n, n])],
  });
}

/** Gemm + Relu, Gemm + Relu, Gemm, Softmax; the batch dimension is symbolic. */
export function mlpModel(w: MlpWeights): Uint8Array {
  return model({
    name: 'mlp',
    nodes: [
      node('Gemm', ['x', 'w1', 'b1'], ['z1']), node('Relu', ['z1'], ['h1']),
      node('Gemm', ['h1', 'w2', 'b2'], ['z2']), node('Relu', ['z2'], ['h2']),
      node('Gemm', ['h2', 'w3', 'b3'], ['z3']), node('Softmax', ['z3'], ['y'], { axis: -1 }),
    ],
    initializers: MLP_PARAMS.map((k) => tensor(k, MLP_SHAPES[k], w[k])),
    inputs: [valueInfo('x', ['N', 784])],
    outputs: [valueInfo('y', ['N', 10])],
  });
}

/** conv3x3 + Relu, conv3x3 + Relu, MaxPool 2, Flatten, Gemm + Relu, Gemm (NCHW, 'valid'). */
export function cnnModel(w: CnnWeights): Uint8Array {
  return model({
    name: 'cnn',
    nodes: [
      node('Conv', ['x', 'c1', 'cb1'], ['a1'], { kernel_shape: [3, 3] }), node('Relu', ['a1'], ['r1']),
      node('Conv', ['r1', 'c2', 'cb2'], ['a2'], { kernel_shape: [3, 3] }), node('Relu', ['a2'], ['r2']),
      node('MaxPool', ['r2'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }),
      node('Flatten', ['p'], ['f'], { axis: 1 }),
      node('Gemm', ['f', 'd1', 'db1'], ['z1']), node('Relu', ['z1'], ['h1']),
      node('Gemm', ['h1', 'd2', 'db2'], ['y']),
    ],
    initializers: [
      tensor('c1', [32, 1, 3, 3], w.c1), tensor('cb1', [32], w.cb1),
      tensor('c2', [64, 32, 3, 3], w.c2), tensor('cb2', [64], w.cb2),
      tensor('d1', [9216, 128], w.d1), tensor('db1', [128], w.db1),
      tensor('d2', [128, 10], w.d2), tensor('db2', [10], w.db2),
    ],
    inputs: [valueInfo('x', ['N', 1, 28, 28])],
    outputs: [valueInfo('y', ['N', 10])],
  });
}

/** tanh(x * 2 + 1) * sigmoid(x): five nodes. */
export function elementwiseModel(n: number): Uint8Array {
  return model({
    name: 'elementwise',
    nodes: [
      node('Mul', ['x', 'two'], ['t0']), node('Add', ['t0', 'one'], ['t1']), node('Tanh', ['t1'], ['t2']),
      node('Sigmoid', ['x'], ['s']), node('Mul', ['t2', 's'], ['y']),
    ],
    initializers: [scalar('two', 2), scalar('one', 1)],
    inputs: [valueInfo('x', [n])],
    outputs: [valueInfo('y', [n])],
  });
}

export function addModel(n: number): Uint8Array {
  return model({
    name: 'add',
    nodes: [node('Add', ['a', 'b'], ['y'])],
    inputs: [valueInfo('a', [n]), valueInfo('b', [n])],
    outputs: [valueInfo('y', [n])],
  });
}

/**
 * One SGD step of the MLP with mean softmax cross-entropy, the backward pass written by hand
 * (ONNX Runtime has no training API in onnxruntime-node). Parameters come in as inputs and the
 * updated parameters go out as `<name>_new`, to be fed back on the next step.
 */
export function trainStepModel(batch: number, lr: number): Uint8Array {
  const update = MLP_PARAMS.flatMap((k) => [node('Mul', [`d${k}`, 'lr'], [`s${k}`]), node('Sub', [k, `s${k}`], [`${k}_new`])]);
  return model({
    name: 'train_step',
    nodes: [
      // forward
      node('Gemm', ['x', 'w1', 'b1'], ['z1']), node('Relu', ['z1'], ['h1']),
      node('Gemm', ['h1', 'w2', 'b2'], ['z2']), node('Relu', ['z2'], ['h2']),
      node('Gemm', ['h2', 'w3', 'b3'], ['logits']),
      node('LogSoftmax', ['logits'], ['logp'], { axis: 1 }), node('Exp', ['logp'], ['p']),
      // loss = -sum(y * log p) / batch
      node('Mul', ['yt', 'logp'], ['ylogp']), node('ReduceSum', ['ylogp'], ['nll'], { keepdims: 0 }),
      node('Mul', ['nll', 'neg_inv_batch'], ['loss']),
      // d loss / d logits = (p - y) / batch
      node('Sub', ['p', 'yt'], ['p_minus_y']), node('Mul', ['p_minus_y', 'inv_batch'], ['dlogits']),
      node('Gemm', ['h2', 'dlogits'], ['dw3'], { transA: 1 }), node('ReduceSum', ['dlogits', 'axis0'], ['db3'], { keepdims: 0 }),
      node('Gemm', ['dlogits', 'w3'], ['dh2'], { transB: 1 }),
      node('Greater', ['z2', 'zero'], ['m2']), node('Where', ['m2', 'dh2', 'zero'], ['dz2']),
      node('Gemm', ['h1', 'dz2'], ['dw2'], { transA: 1 }), node('ReduceSum', ['dz2', 'axis0'], ['db2'], { keepdims: 0 }),
      node('Gemm', ['dz2', 'w2'], ['dh1'], { transB: 1 }),
      node('Greater', ['z1', 'zero'], ['m1']), node('Where', ['m1', 'dh1', 'zero'], ['dz1']),
      node('Gemm', ['x', 'dz1'], ['dw1'], { transA: 1 }), node('ReduceSum', ['dz1', 'axis0'], ['db1'], { keepdims: 0 }),
      ...update,
    ],
    initializers: [
      scalar('inv_batch', 1 / batch), scalar('neg_inv_batch', -1 / batch), scalar('zero', 0), scalar('lr', lr),
      tensor('axis0', [1], new BigInt64Array([0n])),
    ],
    inputs: [valueInfo('x', [batch, 784]), valueInfo('yt', [batch, 10]), ...MLP_PARAMS.map((k) => valueInfo(k, MLP_SHAPES[k]))],
    outputs: [valueInfo('loss', []), ...MLP_PARAMS.map((k) => valueInfo(`${k}_new`, MLP_SHAPES[k]))],
  });
}

// ------------------------------------------------------------------ runners

const f32 = (data: Float32Array, dims: readonly number[]) => new ort.Tensor('float32', data, dims);

/** One ONNX Runtime configuration: CPU EP, all graph optimizations, `threads` intra-op threads. */
export class OrtPeer implements Peer {
  readonly name: string;
  private readonly options: ort.InferenceSession.SessionOptions;
  // Models embed the weights; build each once and share it between configurations.
  private static readonly models = new Map<string, Uint8Array>();

  constructor(readonly threads: number) {
    this.name = `ort ${threads} thread${threads === 1 ? '' : 's'}`;
    this.options = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    };
  }

  private static model(key: string, make: () => Uint8Array): Uint8Array {
    let m = OrtPeer.models.get(key);
    if (!m) OrtPeer.models.set(key, (m = make()));
    return m;
  }

  private async runner(key: string, make: () => Uint8Array, feeds: () => ort.InferenceSession.FeedsType): Promise<Runner> {
    const session = await ort.InferenceSession.create(OrtPeer.model(key, make), this.options);
    return {
      isAsync: true,
      activate: async () => {},
      run: async () => (await session.run(feeds())).y.data as Float32Array,
      dispose: () => session.release(),
    };
  }

  matmul(a: Float32Array, b: Float32Array, n: number): Promise<Runner> {
    return this.runner(`matmul${n}`, () => matmulModel(n), () => ({ a: f32(a, [n, n]), b: f32(b, [n, n]) }));
  }

  mlp(w: MlpWeights, x: Float32Array, batch: number): Promise<Runner> {
    return this.runner('mlp', () => mlpModel(w), () => ({ x: f32(x, [batch, 784]) }));
  }

  cnn(w: CnnWeights, x: Float32Array, batch: number): Promise<Runner> {
    return this.runner('cnn', () => cnnModel(w), () => ({ x: f32(x, [batch, 1, 28, 28]) }));
  }

  elementwise(x: Float32Array): Promise<Runner> {
    return this.runner(`elementwise${x.length}`, () => elementwiseModel(x.length), () => ({ x: f32(x, [x.length]) }));
  }

  add(a: Float32Array, b: Float32Array): Promise<Runner> {
    return this.runner(`add${a.length}`, () => addModel(a.length), () => ({ a: f32(a, [a.length]), b: f32(b, [b.length]) }));
  }

  async trainStep(d: TrainData): Promise<TrainRunner> {
    const session = await ort.InferenceSession.create(OrtPeer.model(`train${d.batch}`, () => trainStepModel(d.batch, d.lr)), this.options);
    let params = Object.fromEntries(MLP_PARAMS.map((k) => [k, f32(d.init[k].slice(), MLP_SHAPES[k])])) as Record<MlpParam, ort.Tensor>;
    return {
      isAsync: true,
      activate: async () => {},
      run: async () => {
        const out = await session.run({ x: f32(d.x, [d.batch, 784]), yt: f32(d.onehot, [d.batch, 10]), ...params });
        params = Object.fromEntries(MLP_PARAMS.map((k) => [k, out[`${k}_new`]])) as Record<MlpParam, ort.Tensor>;
        return out.loss.data as Float32Array;
      },
      params: () => Object.fromEntries(MLP_PARAMS.map((k) => [k, params[k].data as Float32Array])) as Record<MlpParam, Float32Array>,
      dispose: () => session.release(),
    };
  }
}
