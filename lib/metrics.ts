// Metrics for classification.
import { DType } from './dtype';
import { ErrorCode, HoduError, describe, invalidArg } from './errors';
import { noGrad } from './autograd/tape';
import { Tensor } from './tensor';

function predictions(pred: Tensor, labels: Tensor, what: string): Tensor {
  if (!(pred instanceof Tensor) || !(labels instanceof Tensor)) throw invalidArg(`${what}: expected (predictions, labels) tensors, got ${describe(pred)}, ${describe(labels)}`);
  // scores [N, C] -> class ids [N]; class ids [N] stay
  const ids = pred.ndim === labels.ndim + 1 ? pred.argmax(-1) : pred;
  if (ids.ndim !== labels.ndim || ids.shape.some((d, i) => d !== labels.shape[i]))
    throw new HoduError(ErrorCode.SHAPE_MISMATCH, `${what}: predictions ${describe(pred.shape)} do not fit labels ${describe(labels.shape)} (expected scores [N, C] or ids [N])`);
  return ids;
}

/**
 * The fraction of rows whose prediction equals the label, as a scalar F32 tensor (usable inside a
 * builder: record it as a script output). `pred` holds scores [N, C] (argmax is taken) or class ids [N].
 */
export function accuracyTensor(pred: Tensor, labels: Tensor): Tensor {
  return noGrad(() => {
    const ids = predictions(pred, labels, 'accuracy');
    const a = ids.dtype === DType.I64 ? ids : ids.toDtype(DType.I64);
    const b = labels.dtype === DType.I64 ? labels : labels.toDtype(DType.I64);
    return a.eq(b).toDtype(DType.F32).mean();
  });
}

/** Number of rows whose prediction equals the label (dynamic mode). */
export function correct(pred: Tensor, labels: Tensor): number {
  return Math.round(accuracyTensor(pred, labels).item() * labels.size);
}

/** The fraction (0..1) of rows whose prediction equals the label, as a number (dynamic mode). */
export function accuracy(pred: Tensor, labels: Tensor): number {
  if (labels instanceof Tensor && labels.size === 0) return NaN;
  return accuracyTensor(pred, labels).item();
}

/** A [C, C] confusion matrix (rows: true class, columns: predicted), as numbers. */
export function confusionMatrix(pred: Tensor, labels: Tensor, numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw invalidArg(`confusionMatrix: numClasses must be a positive integer, got ${describe(numClasses)}`);
  const ids = noGrad(() => predictions(pred, labels, 'confusionMatrix'));
  const p = ids.toArray() as number[];
  const t = labels.toArray() as number[];
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < t.length; i++) {
    if (!(t[i] >= 0 && t[i] < numClasses && p[i] >= 0 && p[i] < numClasses)) throw invalidArg(`confusionMatrix: class ${t[i]} / ${p[i]} at row ${i} is outside 0..${numClasses - 1}`);
    m[t[i]][p[i]]++;
  }
  return m;
}
