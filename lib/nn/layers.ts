// Layers and activations. Weights follow PyTorch's layouts (Linear [out, in], Conv2d OIHW) and
// default initialisation (uniform ±1/√fan_in), drawn from the seeded generator (manualSeed).
import { checkFloatDtype, checkPositiveInt } from '../check';
import { DType, isFloat } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { Module } from './module';
import { perRunRandom } from '../variables';

const positiveInt = checkPositiveInt;
const floatDtype = (d: DType, what: string): DType => checkFloatDtype(d, `${what}: parameter dtype`);

function uniformParam(shape: number[], bound: number, dtype: DType): Tensor {
  return Tensor.rand(shape, dtype, -bound, bound).setRequiresGrad(true);
}

/** y = x Wᵀ + b, with W of shape [out, in]. */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true, dtype: DType = DType.F32) {
    super();
    positiveInt(inFeatures, 'Linear: inFeatures');
    positiveInt(outFeatures, 'Linear: outFeatures');
    floatDtype(dtype, 'Linear');
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParam([outFeatures, inFeatures], bound, dtype);
    this.bias = bias ? uniformParam([outFeatures], bound, dtype) : null;
  }
  forward(x: Tensor): Tensor {
    const y = x.matmul(this.weight.t());
    return this.bias ? y.add(this.bias) : y;
  }
}

export interface Conv2dLayerOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
  dtype?: DType;
}

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  private readonly opts: { stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number | [number, number]; groups?: number };
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dLayerOptions = {}) {
    super();
    positiveInt(inChannels, 'Conv2d: inChannels');
    positiveInt(outChannels, 'Conv2d: outChannels');
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    positiveInt(kh, 'Conv2d: kernelSize');
    positiveInt(kw, 'Conv2d: kernelSize');
    const groups = options.groups ?? 1;
    positiveInt(groups, 'Conv2d: groups');
    if (inChannels % groups || outChannels % groups)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `Conv2d: channels ${inChannels} -> ${outChannels} are not divisible by groups ${groups}`);
    const dtype = floatDtype(options.dtype ?? DType.F32, 'Conv2d');
    const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    this.weight = uniformParam([outChannels, inChannels / groups, kh, kw], bound, dtype);
    this.bias = options.bias === false ? null : uniformParam([outChannels], bound, dtype);
    this.opts = { stride: options.stride, padding: options.padding, dilation: options.dilation, groups };
  }
  forward(x: Tensor): Tensor {
    return x.conv2d(this.weight, this.bias, this.opts);
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernel: number | [number, number], readonly stride?: number | [number, number], readonly padding: number | [number, number] = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.maxPool2d({ kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernel: number | [number, number], readonly stride?: number | [number, number], readonly padding: number | [number, number] = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.avgPool2d({ kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/**
 * Zeroes each element with probability p in training mode and scales the rest by 1/(1-p);
 * the identity in eval mode. Inside a builder the mask is a per-run random input: every run of the
 * script draws a fresh one from the seeded generator (reproducible under manualSeed).
 */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw invalidArg(`Dropout: p must be in [0, 1), got ${describe(p)}`);
  }
  forward(x: Tensor): Tensor {
    if (!this._training || this.p === 0) return x;
    const keep = perRunRandom(x.shape, x.dtype === DType.F64 ? DType.F64 : DType.F32).ge(this.p).toDtype(x.dtype);
    return x.mul(keep).mul(1 / (1 - this.p));
  }
}

/** Runs its layers in order. Generic: `new Sequential(a, b).layers` keeps the layers' types ([A, B]). */
export class Sequential<L extends Module[] = Module[]> extends Module {
  readonly layers: L;
  constructor(...layers: L) {
    super();
    for (const l of layers) if (!(l instanceof Module)) throw invalidArg(`Sequential: ${describe(l)} is not a Module`);
    this.layers = layers;
  }
  /** @internal layers are named by index (`0.weight`), as PyTorch's Sequential */
  _fields(): [string, unknown][] {
    return this.layers.map((l, i) => [String(i), l]);
  }
  forward(x: Tensor): Tensor {
    return this.layers.reduce((h, l) => l.forward(h), x);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return x.relu(); }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return x.sigmoid(); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return x.tanh(); }
}
/**
 * GELU. `new GELU()` is the tanh approximation (`Tensor.gelu`); `new GELU({ approximate: 'none' })`
 * is the exact x·Φ(x) (`Tensor.geluErf`, PyTorch's default), which HODU fuses into a preceding
 * Linear's matmul.
 */
export class GELU extends Module {
  readonly approximate: 'tanh' | 'none';
  constructor(options: { approximate?: 'tanh' | 'none' } = {}) {
    super();
    const a = options?.approximate ?? 'tanh';
    if (a !== 'tanh' && a !== 'none') throw invalidArg(`GELU: approximate must be 'tanh' or 'none', got ${describe(a)}`);
    this.approximate = a;
  }
  forward(x: Tensor): Tensor { return this.approximate === 'none' ? x.geluErf() : x.gelu(); }
}
export class Softplus extends Module {
  forward(x: Tensor): Tensor { return x.softplus(); }
}
export class SiLU extends Module {
  forward(x: Tensor): Tensor { return x.silu(); }
}
export class LeakyReLU extends Module {
  constructor(readonly slope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor { return x.leakyRelu(this.slope); }
}
export class ELU extends Module {
  constructor(readonly alpha = 1.0) {
    super();
  }
  forward(x: Tensor): Tensor { return x.elu(this.alpha); }
}
export class Softmax extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  forward(x: Tensor): Tensor { return x.softmax(this.dim); }
}
