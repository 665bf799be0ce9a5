// Dropout2d: drops whole channels of [N, C, H, W] (or [C, H, W]) inputs.
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { perRunRandom } from '../variables';
import { Module } from './module';

/**
 * Zeroes each channel with probability p in training mode (scaling kept ones by 1/(1−p)); the
 * identity in eval mode. Masks are drawn from the seeded generator (manualSeed).
 */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw invalidArg(`Dropout2d: p must be in [0, 1), got ${describe(p)}`);
  }
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor) || (x.ndim !== 3 && x.ndim !== 4))
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `Dropout2d: expected [N, C, H, W] or [C, H, W], got ${describe(x instanceof Tensor ? x.shape : x)}`);
    if (!this._training || this.p === 0) return x;
    const ms = x.ndim === 4 ? [x.shape[0], x.shape[1], 1, 1] : [x.shape[0], 1, 1];
    // a fresh mask on every run of a script (perRunRandom), a fresh draw per call in dynamic mode
    const keep = perRunRandom(ms, x.dtype === DType.F64 ? DType.F64 : DType.F32).ge(this.p).toDtype(x.dtype);
    return x.mul(keep).mul(1 / (1 - this.p));
  }
}
