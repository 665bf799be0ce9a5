// Gradient clipping. Works on `.grad` of each parameter, in dynamic mode and inside a builder
// (where the clipping is recorded as graph ops).
import { noGrad } from '../autograd/tape';
import { describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';

function grads(params: Tensor[], what: string): Tensor[] {
  if (!Array.isArray(params)) throw invalidArg(`${what}: expected an array of parameters, got ${describe(params)}`);
  for (const p of params) if (!(p instanceof Tensor)) throw invalidArg(`${what}: ${describe(p)} is not a Tensor`);
  return params.filter((p) => p.grad !== null);
}

/**
 * Scales all gradients together so that their joint L2 norm is at most `maxNorm`
 * (coefficient min(1, maxNorm / (norm + 1e-6)), as PyTorch). Returns the norm before clipping
 * (a scalar tensor). Parameters without a gradient are skipped.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  if (typeof maxNorm !== 'number' || !(maxNorm > 0)) throw invalidArg(`clipGradNorm: maxNorm must be a positive number, got ${describe(maxNorm)}`);
  const ps = grads(params, 'clipGradNorm');
  return noGrad(() => {
    if (ps.length === 0) return Tensor.zeros([]);
    let sq: Tensor | null = null;
    for (const p of ps) {
      const s = p.grad!.square().sum();
      sq = sq ? sq.add(s.toDtype(sq.dtype)) : s;
    }
    const total = sq!.sqrt();
    const coef = total.add(1e-6).recip().mul(maxNorm).clamp(-Infinity, 1);
    for (const p of ps) p.grad = p.grad!.mul(coef.toDtype(p.grad!.dtype));
    return total;
  });
}

/** Clamps every gradient element into [−clipValue, clipValue]. */
export function clipGradValue(params: Tensor[], clipValue: number): void {
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw invalidArg(`clipGradValue: clipValue must be a number >= 0, got ${describe(clipValue)}`);
  const ps = grads(params, 'clipGradValue');
  noGrad(() => {
    for (const p of ps) p.grad = p.grad!.clamp(-clipValue, clipValue);
  });
}
