// Optimizers. step(params) updates each parameter from its .grad: in dynamic mode the parameter
// takes the new values at once; inside a Builder the update is recorded as graph ops, and the
// parameters and the optimizer's state (moments, step count) become variables of the script
// (lib/variables.ts): every run of the script reads them and writes the new values back. The
// learning rate is a variable too (synced from `lr` before each run), and Adam's bias corrections
// are computed in the graph from its step-count variable, so a per-batch script recorded once
// trains exactly like the same steps in dynamic mode.
import { noGrad } from '../autograd/tape';
import { checkNumberIn } from '../check';
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { hooks } from '../hooks';
import { eager } from '../ir/graph';
import { Tensor, TensorLike } from '../tensor';
import { markVariable, nameVariable, variableName } from '../variables';

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

/** A scalar for the update formulas: a JS number in dynamic mode, a graph value while recording. */
type Scalar = TensorLike;

function recording(): boolean {
  return hooks.recorder !== null;
}

/** s (an F64 scalar graph value or a number) in p's dtype. */
function asDtype(s: Scalar, dtype: DType): Scalar {
  return typeof s === 'number' ? s : (s as Tensor).toDtype(dtype);
}

export abstract class Optimizer {
  protected readonly state = new Map<Tensor, Tensor[]>();
  /** Parameters in the order the optimizer first saw them (the keys of stateDict). */
  protected readonly order: Tensor[] = [];
  private _lr = 0;
  private lrVar: Tensor | null = null;
  private lrSynced = NaN;
  /** Names of the per-parameter state tensors (stateDict keys `state.<i>.<name>`). */
  protected abstract readonly slotNames: readonly string[];

  abstract step(params: Tensor[]): void;

  /** The learning rate; may change between runs of a recorded script (no recompile). */
  get lr(): number {
    return this._lr;
  }
  set lr(v: number) {
    this._lr = checkNumberIn(v, `${this.constructor.name}: lr`);
  }

  zeroGrad(params: Tensor[]): void {
    for (const p of checkParams(params, 'zeroGrad')) p.zeroGrad();
  }

  /** lr as a number (dynamic mode) or as an F64 graph value read from a variable (recording). */
  protected lrScalar(): Scalar {
    if (!recording()) return this._lr;
    if (!this.lrVar) {
      const t = eager(() => Tensor.full([], this._lr, DType.F64));
      this.lrSynced = this._lr;
      markVariable(t, () => {
        if (this.lrSynced !== this._lr) {
          eager(() => t.assign(this._lr));
          this.lrSynced = this._lr;
        }
      });
      nameVariable(t, `${this.constructor.name.toLowerCase()}.lr`);
      this.lrVar = t;
    }
    return this.lrVar; // read as a variable at run time
  }

  /** Optimizer state tensors of a parameter (created as zeros on first use). */
  protected slots(p: Tensor, n: number): Tensor[] {
    let s = this.state.get(p);
    if (!s) {
      s = Array.from({ length: n }, () => eager(() => Tensor.zeros(p.shape, p.dtype)));
      s.forEach((t, k) =>
        nameVariable(t, () => {
          const base = variableName(p);
          return base ? `${base}.${this.slotNames[k]}` : undefined;
        }),
      );
      this.state.set(p, s);
    }
    return s;
  }

  /** Loaded state of parameters not seen yet (loadStateDict before the first step): index → slot → value. */
  private pending = new Map<number, Map<string, Tensor>>();

  protected remember(params: Tensor[]): void {
    for (const p of params) {
      if (this.order.includes(p)) continue;
      this.order.push(p);
      const loaded = this.pending.get(this.order.length - 1);
      if (!loaded) continue;
      this.pending.delete(this.order.length - 1);
      const slots = this.slots(p, this.slotNames.length);
      for (const [name, v] of loaded) {
        const slot = slots[this.slotNames.indexOf(name)];
        if (v.shape.length !== slot.shape.length || v.shape.some((d, i) => d !== slot.shape[i]))
          throw new HoduError(ErrorCode.SHAPE_MISMATCH, `loadStateDict: 'state.${this.order.length - 1}.${name}' has shape ${describe(v.shape)}, but parameter ${this.order.length - 1} has shape ${describe(slot.shape)}`);
        eager(() => noGrad(() => slot.assign(v)));
      }
    }
  }

  /** Extra scalar state (Adam's step count) for stateDict. */
  protected extraState(): Record<string, Tensor> {
    return {};
  }
  protected loadExtraState(_dict: Record<string, Tensor>): void {}

  /**
   * The optimizer's state: `lr` (a scalar), per parameter `state.<i>.<slot>` (i: the order in which
   * step() first saw the parameters) and, for Adam, `step`. The tensors are copies.
   */
  stateDict(): Record<string, Tensor> {
    return eager(() => {
      const out: Record<string, Tensor> = { lr: Tensor.full([], this._lr, DType.F64) };
      this.order.forEach((p, i) => {
        const s = this.state.get(p);
        if (s) s.forEach((t, k) => (out[`state.${i}.${this.slotNames[k]}`] = t.contiguous().add(0)));
      });
      Object.assign(out, this.extraState());
      return out;
    });
  }

  /**
   * Loads a stateDict. `params` gives the parameters in stateDict order; without it, the state of
   * parameters this optimizer has not seen yet is applied when step() first sees them (in the
   * order of its params array, as PyTorch's parameter groups). Values are copied into the state
   * tensors, in place.
   */
  loadStateDict(dict: Record<string, Tensor>, params?: Tensor[]): void {
    if (dict === null || typeof dict !== 'object') throw invalidArg(`loadStateDict: expected an object of tensors, got ${describe(dict)}`);
    if (params) {
      checkParams(params, 'loadStateDict');
      this.remember(params);
    }
    const known = new Set<string>(['lr', ...Object.keys(this.extraState())]);
    const writes: [Tensor, Tensor][] = [];
    for (const [key, v] of Object.entries(dict)) {
      if (!(v instanceof Tensor)) throw invalidArg(`loadStateDict: '${key}' is not a Tensor`);
      const m = /^state\.(\d+)\.(.+)$/.exec(key);
      if (m) {
        const p = this.order[Number(m[1])];
        const k = this.slotNames.indexOf(m[2]);
        if (k < 0) throw invalidArg(`loadStateDict: unexpected key '${key}' (${this.constructor.name} keeps ${this.slotNames.join(', ')})`);
        if (!p) {
          const at = Number(m[1]);
          if (!this.pending.has(at)) this.pending.set(at, new Map());
          this.pending.get(at)!.set(m[2], eager(() => v.contiguous().add(0)));
          continue;
        }
        const slot = this.slots(p, this.slotNames.length)[k];
        if (v.shape.length !== slot.shape.length || v.shape.some((d, i) => d !== slot.shape[i]))
          throw new HoduError(ErrorCode.SHAPE_MISMATCH, `loadStateDict: '${key}' has shape ${describe(v.shape)}, expected ${describe(slot.shape)}`);
        writes.push([slot, v]);
      } else if (!known.has(key)) {
        throw invalidArg(`loadStateDict: unexpected key '${key}'`);
      }
    }
    eager(() => noGrad(() => {
      for (const [slot, v] of writes) slot.assign(v);
      if (dict.lr) this.lr = dict.lr.item();
      this.loadExtraState(dict);
    }));
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
  protected readonly slotNames = ['momentum_buffer'] as const;
  constructor(lr: number, options: SGDOptions = {}) {
    super();
    this.lr = lr;
    this.momentum = checkNumberIn(options.momentum ?? 0, 'SGD: momentum', 0, 1);
    this.weightDecay = checkNumberIn(options.weightDecay ?? 0, 'SGD: weightDecay');
  }
  step(params: Tensor[]): void {
    checkParams(params, 'SGD.step');
    for (const p of params) gradOf(p, 'SGD.step');
    this.remember(params);
    noGrad(() => {
      const lr = this.lrScalar();
      for (const p of params) {
        let g = p.grad!;
        if (this.weightDecay) g = g.add(p.mul(this.weightDecay));
        if (this.momentum) {
          // the buffer starts at zero, so the first step gives buf = g (PyTorch's first step)
          const [buf] = this.slots(p, 1);
          const next = buf.mul(this.momentum).add(g);
          buf._assign(next);
          g = next;
        }
        p._assign(p.sub(g.mul(asDtype(lr, p.dtype))));
      }
    });
  }
}

/** Adam (Kingma & Ba) with the standard single bias correction. */
export class Adam extends Optimizer {
  private stepVar: Tensor | null = null;
  protected readonly slotNames = ['exp_avg', 'exp_avg_sq'] as const;
  constructor(
    lr = 1e-3,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
    readonly weightDecay = 0,
  ) {
    super();
    this.lr = lr;
    checkNumberIn(beta1, 'Adam: beta1', 0, 1);
    checkNumberIn(beta2, 'Adam: beta2', 0, 1);
    checkNumberIn(eps, 'Adam: eps');
    checkNumberIn(weightDecay, 'Adam: weightDecay');
  }

  /** The number of steps taken so far (script runs included). */
  get stepCount(): number {
    return this.stepVar ? eager(() => this.stepVar!.item()) : 0;
  }

  /** The decoupled decay of AdamW; none for Adam. */
  protected decoupledDecay(): number {
    return 0;
  }

  private counter(): Tensor {
    if (!this.stepVar) {
      this.stepVar = eager(() => Tensor.zeros([], DType.F64));
      nameVariable(this.stepVar, `${this.constructor.name.toLowerCase()}.step`);
    }
    return this.stepVar;
  }

  protected extraState(): Record<string, Tensor> {
    return { step: eager(() => Tensor.full([], this.stepCount, DType.F64)) };
  }
  protected loadExtraState(dict: Record<string, Tensor>): void {
    if (dict.step) this.counter().assign(dict.step.item());
  }

  step(params: Tensor[]): void {
    const what = `${this.constructor.name}.step`;
    checkParams(params, what);
    for (const p of params) gradOf(p, what);
    this.remember(params);
    const decay = this.decoupledDecay();
    noGrad(() => {
      const counter = this.counter();
      let c1: Scalar, c2: Scalar;
      if (recording()) {
        const t = counter.add(1);
        counter.assign(t);
        // 1 − βᵗ in float64, from the step-count variable
        c1 = t.mul(Math.log(this.beta1)).exp().neg().add(1);
        c2 = t.mul(Math.log(this.beta2)).exp().neg().add(1);
      } else {
        const t = this.stepCount + 1;
        counter.assign(t);
        c1 = 1 - this.beta1 ** t;
        c2 = 1 - this.beta2 ** t;
      }
      const lr = this.lrScalar();
      const keep: Scalar = decay ? (typeof lr === 'number' ? 1 - lr * decay : lr.mul(-decay).add(1)) : 1;
      for (const p of params) {
        let g = p.grad!;
        if (this.weightDecay && !decay) g = g.add(p.mul(this.weightDecay));
        const [m, v] = this.slots(p, 2);
        const m1 = m.mul(this.beta1).add(g.mul(1 - this.beta1));
        const v1 = v.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        m._assign(m1);
        v._assign(v1);
        const dt = p.dtype;
        const update = m1.div(asDtype(c1, dt)).div(v1.div(asDtype(c2, dt)).sqrt().add(this.eps)).mul(asDtype(lr, dt));
        const base = decay ? p.mul(asDtype(keep, dt)) : p;
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
