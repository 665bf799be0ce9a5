// Losses: forward([pred, target]) gives a scalar (mean over all elements, as PyTorch's defaults).
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { Module } from './module';

type LossInput = [Tensor, Tensor] | Tensor[];

function pair(input: LossInput | Tensor, target: Tensor | undefined, what: string): [Tensor, Tensor] {
  const args: unknown[] = Array.isArray(input) ? input : [input, target];
  if (args.length !== 2 || !(args[0] instanceof Tensor) || !(args[1] instanceof Tensor))
    throw invalidArg(`${what}: expected forward([pred, target]), got ${describe(args)}`);
  return [args[0] as Tensor, args[1] as Tensor];
}

function sameShape(p: Tensor, t: Tensor, what: string): void {
  if (p.ndim !== t.ndim || p.shape.some((d, i) => d !== t.shape[i]))
    throw new HoduError(ErrorCode.SHAPE_MISMATCH, `${what}: prediction ${describe(p.shape)} and target ${describe(t.shape)} differ in shape`);
}

/** A loss: forward([pred, target]) (or forward(pred, target)) returns a scalar tensor. */
export abstract class Loss extends Module {
  abstract forward(input: LossInput | Tensor, target?: Tensor): Tensor;
}

/** mean((pred - target)²) */
export class MSE extends Loss {
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [p, t] = pair(input, target, 'MSE');
    sameShape(p, t, 'MSE');
    return p.sub(t).square().mean();
  }
}

/** mean(|pred - target|) */
export class MAE extends Loss {
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [p, t] = pair(input, target, 'MAE');
    sameShape(p, t, 'MAE');
    return p.sub(t).abs().mean();
  }
}

/** mean of 0.5·d² where |d| < δ, δ·(|d| − 0.5·δ) elsewhere */
export class Huber extends Loss {
  constructor(readonly delta = 1.0) {
    super();
    if (typeof delta !== 'number' || !(delta > 0)) throw invalidArg(`Huber: delta must be positive, got ${describe(delta)}`);
  }
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [p, t] = pair(input, target, 'Huber');
    sameShape(p, t, 'Huber');
    const d = p.sub(t);
    const a = d.abs();
    const quad = d.square().mul(0.5);
    const lin = a.sub(0.5 * this.delta).mul(this.delta);
    return Tensor.where(a.lt(this.delta), quad, lin).mean();
  }
}

export interface CrossEntropyOptions {
  /** ε in [0, 1): the target becomes (1 − ε)·one-hot + ε/C (default 0). */
  labelSmoothing?: number;
}

/**
 * Cross entropy of logits [N, C] (or [C]) against class indices [N] (I32/I64): mean(−log softmax[i, target_i]).
 * With label smoothing ε: mean((1 − ε)·(−log p[i, t_i]) + ε·mean_c(−log p[i, c])).
 */
export class CrossEntropy extends Loss {
  readonly labelSmoothing: number;
  constructor(options: CrossEntropyOptions = {}) {
    super();
    const e = options?.labelSmoothing ?? 0;
    if (typeof e !== 'number' || !(e >= 0 && e < 1)) throw invalidArg(`CrossEntropy: labelSmoothing must be in [0, 1), got ${describe(e)}`);
    this.labelSmoothing = e;
  }
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [logits, labels] = pair(input, target, 'CrossEntropy');
    if (labels.dtype !== DType.I32 && labels.dtype !== DType.I64)
      throw new HoduError(ErrorCode.DTYPE_MISMATCH, `CrossEntropy: target must hold class indices (i32 or i64), got ${labels.dtype}`);
    const l2 = logits.ndim === 1 ? logits.unsqueeze(0) : logits;
    const t2 = labels.ndim === 0 ? labels.reshape([1]) : labels;
    if (l2.ndim !== 2 || t2.ndim !== 1 || t2.shape[0] !== l2.shape[0])
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `CrossEntropy: logits ${describe(logits.shape)} and target ${describe(labels.shape)} do not fit ([N, C] and [N])`);
    const logp = l2.logSoftmax(1);
    const nll = logp.gather(1, t2.unsqueeze(1)).neg().mean();
    if (!this.labelSmoothing) return nll;
    const e = this.labelSmoothing;
    return nll.mul(1 - e).add(logp.mean(1).neg().mean().mul(e));
  }
}

/** Negative log-likelihood of log-probabilities [N, C] (or [C]) against class indices [N]: mean(−logp[i, target_i]). */
export class NLLLoss extends Loss {
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [logp, labels] = pair(input, target, 'NLLLoss');
    if (labels.dtype !== DType.I32 && labels.dtype !== DType.I64)
      throw new HoduError(ErrorCode.DTYPE_MISMATCH, `NLLLoss: target must hold class indices (i32 or i64), got ${labels.dtype}`);
    const l2 = logp.ndim === 1 ? logp.unsqueeze(0) : logp;
    const t2 = labels.ndim === 0 ? labels.reshape([1]) : labels;
    if (l2.ndim !== 2 || t2.ndim !== 1 || t2.shape[0] !== l2.shape[0])
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `NLLLoss: input ${describe(logp.shape)} and target ${describe(labels.shape)} do not fit ([N, C] and [N])`);
    return l2.gather(1, t2.unsqueeze(1)).neg().mean();
  }
}

/** Binary cross entropy of probabilities: mean(−(t·ln p + (1−t)·ln(1−p))), logs clamped at −100 (PyTorch). */
export class BCE extends Loss {
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [p, t] = pair(input, target, 'BCE');
    sameShape(p, t, 'BCE');
    const lp = p.ln().clamp(-100, Infinity);
    const l1p = p.neg().add(1).ln().clamp(-100, Infinity);
    return t.mul(lp).add(t.neg().add(1).mul(l1p)).neg().mean();
  }
}

/** Binary cross entropy on logits, computed stably: mean(max(x, 0) − x·t + ln(1 + e^−|x|)). */
export class BCEWithLogits extends Loss {
  forward(input: LossInput | Tensor, target?: Tensor): Tensor {
    const [x, t] = pair(input, target, 'BCEWithLogits');
    sameShape(x, t, 'BCEWithLogits');
    return x.relu().sub(x.mul(t)).add(x.abs().neg().softplus()).mean();
  }
}
