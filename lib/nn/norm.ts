// Normalization layers: BatchNorm1d/2d (batch statistics in training, running statistics in
// eval) and LayerNorm. Composed from tensor ops, so gradients come from autograd in both modes.
import { DType, isFloat } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { markVariable } from '../variables';
import { updateBuffer } from './buffers';
import { Module } from './module';

export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running statistics (default 0.1, PyTorch's convention). */
  momentum?: number;
  /** Learnable scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without them eval uses batch statistics. */
  trackRunningStats?: boolean;
  dtype?: DType;
}

function checkPos(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalidArg(`${what} must be a positive integer, got ${describe(v)}`);
  return v;
}

abstract class BatchNormBase extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  /** Running mean of the batch means (not a parameter). */
  runningMean: Tensor | null;
  /** Running mean of the unbiased batch variances (not a parameter). */
  runningVar: Tensor | null;
  readonly eps: number;
  readonly momentum: number;
  protected abstract readonly dims: number[];
  protected abstract readonly what: string;

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    checkPos(numFeatures, `${new.target.name}: numFeatures`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    if (typeof this.eps !== 'number' || !(this.eps >= 0)) throw invalidArg(`${new.target.name}: eps must be >= 0, got ${describe(this.eps)}`);
    if (typeof this.momentum !== 'number' || !(this.momentum >= 0 && this.momentum <= 1))
      throw invalidArg(`${new.target.name}: momentum must be in [0, 1], got ${describe(this.momentum)}`);
    const dtype = options.dtype ?? DType.F32;
    if (!isFloat(dtype)) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `${new.target.name}: parameters need a float dtype, got ${dtype}`);
    const affine = options.affine ?? true;
    this.weight = affine ? Tensor.ones([numFeatures], dtype).setRequiresGrad(true) : null;
    this.bias = affine ? Tensor.zeros([numFeatures], dtype).setRequiresGrad(true) : null;
    const track = options.trackRunningStats ?? true;
    // variables of every script that reads them: an eval script sees what training scripts wrote
    this.runningMean = track ? this.registerBuffer('runningMean', Tensor.zeros([numFeatures], dtype)) : null;
    this.runningVar = track ? this.registerBuffer('runningVar', Tensor.ones([numFeatures], dtype)) : null;
    if (this.runningMean) markVariable(this.runningMean);
    if (this.runningVar) markVariable(this.runningVar);
  }

  protected abstract checkInput(x: Tensor): void;
  /** Shape that broadcasts a [C] vector against the input. */
  protected abstract featureShape(x: Tensor): number[];

  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw invalidArg(`${this.what}: expected a Tensor, got ${describe(x)}`);
    this.checkInput(x);
    if (x.shape[1] !== this.numFeatures)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `${this.what}: input ${describe(x.shape)} has ${x.shape[1]} channels in dim 1, expected ${this.numFeatures}`);
    const fs = this.featureShape(x);
    const dims = this.dims.filter((d) => d < x.ndim);
    let mean: Tensor;
    let varB: Tensor;
    if (this._training || !this.runningMean || !this.runningVar) {
      const count = dims.reduce((a, d) => a * x.shape[d], 1);
      mean = x.mean(dims, true);
      varB = x.var(dims, true);
      if (this._training && this.runningMean && this.runningVar) {
        if (count < 2) throw invalidArg(`${this.what}: training needs more than one value per channel, got input ${describe(x.shape)}`);
        const m = this.momentum;
        const unbiased = varB.reshape([this.numFeatures]).mul(count / (count - 1));
        updateBuffer(this.runningMean, this.runningMean.mul(1 - m).add(mean.reshape([this.numFeatures]).mul(m)));
        updateBuffer(this.runningVar, this.runningVar.mul(1 - m).add(unbiased.mul(m)));
      }
    } else {
      mean = this.runningMean.reshape(fs);
      varB = this.runningVar.reshape(fs);
    }
    let y = x.sub(mean).div(varB.add(this.eps).sqrt());
    if (this.weight) y = y.mul(this.weight.reshape(fs));
    if (this.bias) y = y.add(this.bias.reshape(fs));
    return y;
  }
}

/** Batch normalization over [N, C] or [N, C, L]: statistics per channel C over N (and L). */
export class BatchNorm1d extends BatchNormBase {
  protected readonly dims = [0, 2];
  protected readonly what = 'BatchNorm1d';
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new HoduError(ErrorCode.SHAPE_MISMATCH, `BatchNorm1d: expected [N, C] or [N, C, L], got ${describe(x.shape)}`);
  }
  protected featureShape(x: Tensor): number[] {
    return x.ndim === 2 ? [1, this.numFeatures] : [1, this.numFeatures, 1];
  }
}

/** Batch normalization over [N, C, H, W]: statistics per channel C over N, H and W. */
export class BatchNorm2d extends BatchNormBase {
  protected readonly dims = [0, 2, 3];
  protected readonly what = 'BatchNorm2d';
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new HoduError(ErrorCode.SHAPE_MISMATCH, `BatchNorm2d: expected [N, C, H, W], got ${describe(x.shape)}`);
  }
  protected featureShape(): number[] {
    return [1, this.numFeatures, 1, 1];
  }
}

export interface LayerNormOptions {
  eps?: number;
  /** Learnable per-element scale and shift of the normalized shape (default true). */
  elementwiseAffine?: boolean;
  dtype?: DType;
}

/** Normalizes over the last dims (`normalizedShape`), per sample: (x − mean) / √(var + eps) · w + b. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  weight: Tensor | null;
  bias: Tensor | null;
  readonly eps: number;
  constructor(normalizedShape: number | number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : Array.isArray(normalizedShape) ? normalizedShape.slice() : [];
    if (this.normalizedShape.length === 0) throw invalidArg(`LayerNorm: normalizedShape must be a positive integer or a non-empty array, got ${describe(normalizedShape)}`);
    this.normalizedShape.forEach((d) => checkPos(d, 'LayerNorm: normalizedShape'));
    this.eps = options.eps ?? 1e-5;
    if (typeof this.eps !== 'number' || !(this.eps >= 0)) throw invalidArg(`LayerNorm: eps must be >= 0, got ${describe(this.eps)}`);
    const dtype = options.dtype ?? DType.F32;
    if (!isFloat(dtype)) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `LayerNorm: parameters need a float dtype, got ${dtype}`);
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? Tensor.ones(this.normalizedShape, dtype).setRequiresGrad(true) : null;
    this.bias = affine ? Tensor.zeros(this.normalizedShape, dtype).setRequiresGrad(true) : null;
  }
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw invalidArg(`LayerNorm: expected a Tensor, got ${describe(x)}`);
    const k = this.normalizedShape.length;
    const tail = x.shape.slice(x.ndim - k);
    if (x.ndim < k || tail.some((d, i) => d !== this.normalizedShape[i]))
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `LayerNorm: input ${describe(x.shape)} does not end with ${describe(this.normalizedShape)}`);
    // one layer_norm op: HODU runs oneDNN's layer normalization (f32); its VJP is in autograd/vjp.ts
    return x.layerNorm(this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
