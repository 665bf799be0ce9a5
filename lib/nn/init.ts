// nn.init: in-place weight initialisation (PyTorch's formulas), drawn from the seeded generator
// (manualSeed), or from `seed` when given (which then leaves the global stream untouched).
import { noGrad } from '../autograd/tape';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { isFloat } from '../dtype';
import { _randomState, _setRandomState, manualSeed } from '../random';
import { Tensor } from '../tensor';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

export interface InitOptions {
  /** Draw from this seed instead of the global stream. */
  seed?: number;
}

export interface KaimingOptions extends InitOptions {
  /** Negative slope of leaky_relu (default 0). */
  a?: number;
  /** Preserve the variance of the forward pass ('fanIn', default) or of the backward pass ('fanOut'). */
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
}

function target(t: Tensor, what: string): Tensor {
  if (!(t instanceof Tensor)) throw invalidArg(`init.${what}: expected a Tensor, got ${describe(t)}`);
  if (t.isSymbolic) throw invalidArg(`init.${what}: a builder tensor has no data to initialise`);
  if (!isFloat(t.dtype)) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `init.${what}: needs a float tensor, got ${t.dtype}`);
  return t;
}

/** fan_in and fan_out of a weight: [out, in, ...receptive field]. */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  if (t.ndim < 2) throw invalidArg(`init: fan in/out needs a tensor of rank >= 2, got shape ${describe(t.shape)}`);
  const rf = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1] * rf, t.shape[0] * rf];
}

/** The recommended gain of a nonlinearity (PyTorch's table). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv2d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': { const s = param ?? 0.01; return Math.sqrt(2 / (1 + s * s)); }
    case 'selu': return 3 / 4;
    default: throw invalidArg(`init.calculateGain: unknown nonlinearity ${describe(nonlinearity)}`);
  }
}

function fill(t: Tensor, make: () => Tensor, seed: number | undefined): Tensor {
  let v: Tensor;
  if (seed === undefined) v = make();
  else {
    if (!Number.isInteger(seed)) throw invalidArg(`init: seed must be an integer, got ${describe(seed)}`);
    // draw with `seed`, then put the global stream back where it was
    const saved = _randomState();
    manualSeed(seed);
    try {
      v = make();
    } finally {
      _setRandomState(saved);
    }
  }
  noGrad(() => t.assign(v));
  return t;
}

/** Fills with U(low, high). */
export function uniform(t: Tensor, low = 0, high = 1, options: InitOptions = {}): Tensor {
  target(t, 'uniform');
  return fill(t, () => Tensor.rand(t.shape, t.dtype, low, high), options.seed);
}
/** Fills with N(mean, std²). */
export function normal(t: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  target(t, 'normal');
  return fill(t, () => Tensor.randn(t.shape, t.dtype, mean, std), options.seed);
}
/** Fills with `value`. */
export function constant(t: Tensor, value: number): Tensor {
  target(t, 'constant');
  return fill(t, () => Tensor.full(t.shape, value, t.dtype), undefined);
}
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/** U(−a, a) with a = gain·√(6 / (fan_in + fan_out)). */
export function xavierUniform(t: Tensor, gain = 1, options: InitOptions = {}): Tensor {
  const [fi, fo] = calculateFanInAndFanOut(target(t, 'xavierUniform'));
  const a = gain * Math.sqrt(6 / (fi + fo));
  return uniform(t, -a, a, options);
}
/** N(0, std²) with std = gain·√(2 / (fan_in + fan_out)). */
export function xavierNormal(t: Tensor, gain = 1, options: InitOptions = {}): Tensor {
  const [fi, fo] = calculateFanInAndFanOut(target(t, 'xavierNormal'));
  return normal(t, 0, gain * Math.sqrt(2 / (fi + fo)), options);
}

function kaimingStd(t: Tensor, o: KaimingOptions, what: string): number {
  const [fi, fo] = calculateFanInAndFanOut(target(t, what));
  const fan = (o.mode ?? 'fanIn') === 'fanIn' ? fi : fo;
  if (o.mode !== undefined && o.mode !== 'fanIn' && o.mode !== 'fanOut') throw invalidArg(`init.${what}: mode must be 'fanIn' or 'fanOut', got ${describe(o.mode)}`);
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}
/** U(−b, b) with b = gain·√(3 / fan) (He et al.); defaults: a = 0, fanIn, leaky_relu (so gain √2). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(t, options, 'kaimingUniform');
  return uniform(t, -b, b, options);
}
/** N(0, std²) with std = gain / √fan. */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, options, 'kaimingNormal'), options);
}
