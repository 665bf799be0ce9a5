// What the bench hands a peer framework: the SAME weights and inputs as the hodu rows, as plain
// typed arrays in hodu's layouts, and what it gets back: one runnable per workload.

/** MLP 784-512-512-10: w* are [in, out] row-major (x @ w + b), as hodu's models.ts makes them. */
export interface MlpWeights {
  w1: Float32Array; b1: Float32Array; // [784, 512], [512]
  w2: Float32Array; b2: Float32Array; // [512, 512], [512]
  w3: Float32Array; b3: Float32Array; // [512, 10], [10]
}

export const MLP_PARAMS = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'] as const;
export type MlpParam = (typeof MLP_PARAMS)[number];
export const MLP_SHAPES: Record<MlpParam, number[]> = {
  w1: [784, 512], b1: [512], w2: [512, 512], b2: [512], w3: [512, 10], b3: [10],
};

/**
 * The CNN in hodu's (and ONNX's) layouts: conv filters OIHW, input NCHW [N, 1, 28, 28], d1 rows
 * in NCHW-flatten order (c * 144 + h * 12 + w) of the pooled [N, 64, 12, 12] activation.
 */
export interface CnnWeights {
  c1: Float32Array; cb1: Float32Array; // [32, 1, 3, 3], [32]
  c2: Float32Array; cb2: Float32Array; // [64, 32, 3, 3], [64]
  d1: Float32Array; db1: Float32Array; // [9216, 128], [128]
  d2: Float32Array; db2: Float32Array; // [128, 10], [10]
}

/** One SGD step of the MLP: mean softmax cross-entropy over the batch, one-hot targets. */
export interface TrainData {
  init: MlpWeights;
  x: Float32Array; // [batch, 784]
  onehot: Float32Array; // [batch, 10]
  batch: number;
  lr: number;
}

/** One timed call: wrap the inputs, run, and read the output back as a Float32Array. */
export interface Runner {
  /** Makes this runner's framework state current (tfjs: its backend); call before run(). */
  activate(): Promise<void>;
  run(): Float32Array | Promise<Float32Array>;
  /** True when run() returns a Promise (timed with await). */
  readonly isAsync: boolean;
  dispose(): Promise<void>;
}

/** A training step: run() returns the loss ([1]) and updates the parameters it holds. */
export interface TrainRunner extends Runner {
  params(): Record<MlpParam, Float32Array>;
}

/** One framework configuration (a column of the comparison). */
export interface Peer {
  readonly name: string;
  /** Repetition caps for workloads this configuration is too slow to repeat much. */
  readonly maxReps?: Partial<Record<string, number>>;
  matmul(a: Float32Array, b: Float32Array, n: number): Promise<Runner>;
  mlp(w: MlpWeights, x: Float32Array, batch: number): Promise<Runner>;
  cnn(w: CnnWeights, x: Float32Array, batch: number): Promise<Runner>;
  elementwise(x: Float32Array): Promise<Runner>;
  add(a: Float32Array, b: Float32Array): Promise<Runner>;
  trainStep(d: TrainData): Promise<TrainRunner>;
}
