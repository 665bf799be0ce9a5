// Optimizers. step(params) updates each parameter in place from its .grad: in dynamic mode the
// parameter takes the new values; inside a Builder the update is recorded as graph ops and the
// parameter is rebound to the result (restored when the builder ends), so a script can output
// the trained weights.
import { noGrad } from '../autograd/tape';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';

function checkParams(params: Tensor[], what: string): Tensor[] {
  if (!Array.isArray(params)) throw invalidArg(`${what}: expected an array of parameters, got ${describe(params)}`);
  for (const p of params) if (!(p instanceof Tensor)) throw invalidArg(`${what}: ${describe(p)} is not a Tensor`);
  return params;
}

function gradOf(p: Tensor, what: string): Tensor {
  const g = p.grad;
  if (!g)
    throw new HoduError(
      ErrorCode.GRADIENT_NOT_COMPUTED,
      `${what}: a parameter of shape ${describe(p.shape)} has no gradient (call backward() on the loss before step())`,
    );
  return g;
}

function checkRate(v: unknown, what: string, min = 0, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalidArg(`${what} must be a number in [${min}, ${max}], got ${describe(v)}`);
  return v;
}

export abstract class Optimizer {
  protected readonly state = new Map<Tensor, Tensor[]>();

  abstract step(params: Tensor[]): void;

  zeroGrad(params: Tensor[]): void {
    for (const p of checkParams(params, 'zeroGrad')) p.zeroGrad();
  }

  /** Optimizer state tensors of a parameter (created as zeros on first use). */
  protected slots(p: Tensor, n: number): Tensor[] {
    let s = this.state.get(p);
    if (!s) {
      s = Array.from({ length: n }, () => Tensor.zeros(p.shape, p.dtype));
      this.state.set(p, s);
    }
    return s;
  }
}

export interface SGDOptions {
  momentum?: number;
  weightDecay?: number;
}

/** p ← p − lr·(g + wd·p), with optional momentum: buf ← μ·buf + g (PyTorch's formulation). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly weightDecay: number;
  private started = new WeakSet<Tensor>();
  constructor(public lr: number, options: SGDOptions = {}) {
    super();
    checkRate(lr, 'SGD: lr');
    this.momentum = checkRate(options.momentum ?? 0, 'SGD: momentum', 0, 1);
    this.weightDecay = checkRate(options.weightDecay ?? 0, 'SGD: weightDecay');
  }
  step(params: Tensor[]): void {
    checkParams(params, 'SGD.step');
    noGrad(() => {
      for (const p of params) {
        let g = gradOf(p, 'SGD.step');
        if (this.weightDecay) g = g.add(p.mul(this.weightDecay));
        if (this.momentum) {
          const [buf] = this.slots(p, 1);
          const next = this.started.has(p) ? buf.mul(this.momentum).add(g) : g;
          this.started.add(p);
          buf._assign(next);
          g = next;
        }
        p._assign(p.sub(g.mul(this.lr)));
      }
    });
  }
}

/** Adam (Kingma & Ba) with the standard single bias correction. */
export class Adam extends Optimizer {
  protected t = 0;
  constructor(
    public lr = 1e-3,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
    readonly weightDecay = 0,
  ) {
    super();
    checkRate(lr, 'Adam: lr');
    checkRate(beta1, 'Adam: beta1', 0, 1);
    checkRate(beta2, 'Adam: beta2', 0, 1);
    checkRate(eps, 'Adam: eps');
    checkRate(weightDecay, 'Adam: weightDecay');
  }

  /** The decoupled decay of AdamW; none for Adam. */
  protected decoupledDecay(): number {
    return 0;
  }

  step(params: Tensor[]): void {
    checkParams(params, `${this.constructor.name}.step`);
    for (const p of params) gradOf(p, `${this.constructor.name}.step`);
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    const decay = this.decoupledDecay();
    noGrad(() => {
      for (const p of params) {
        let g = p.grad!;
        if (this.weightDecay && !decay) g = g.add(p.mul(this.weightDecay));
        const [m, v] = this.slots(p, 2);
        const m1 = m.mul(this.beta1).add(g.mul(1 - this.beta1));
        const v1 = v.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        m._assign(m1);
        v._assign(v1);
        const update = m1.div(c1).div(v1.div(c2).sqrt().add(this.eps)).mul(this.lr);
        const base = decay ? p.mul(1 - this.lr * decay) : p;
        p._assign(base.sub(update));
      }
    });
  }
}

/** AdamW: Adam with decoupled weight decay, p ← p·(1 − lr·wd) before the Adam update. */
export class AdamW extends Adam {
  constructor(lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01) {
    super(lr, beta1, beta2, eps, weightDecay);
  }
  protected decoupledDecay(): number {
    return this.weightDecay;
  }
}
