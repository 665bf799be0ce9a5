// Learning-rate schedulers. Each sets `optimizer.lr` from a step count; call `step()` once per
// epoch (or per batch, as the schedule is defined). A script recorded with a variable lr reads the
// new value on its next run, without recompiling.
import { describe, invalidArg } from '../errors';

/** Anything with a settable learning rate (SGD, Adam, AdamW). */
export interface HasLr {
  lr: number;
}

function num(v: unknown, what: string, min = -Infinity, max = Infinity, minOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (minOpen && v === min))
    throw invalidArg(`${what} must be a number in ${minOpen ? '(' : '['}${min}, ${max}], got ${describe(v)}`);
  return v;
}
function posInt(v: unknown, what: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalidArg(`${what} must be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

export abstract class LRScheduler {
  /** The optimizer's lr when the scheduler was made. */
  readonly baseLr: number;
  /** Steps taken so far (0 right after construction). */
  stepCount = 0;
  constructor(readonly optimizer: HasLr) {
    if (!optimizer || typeof optimizer.lr !== 'number') throw invalidArg(`${new.target.name}: expected an optimizer with a numeric lr, got ${describe(optimizer)}`);
    this.baseLr = optimizer.lr;
  }
  /** The lr after `n` steps. */
  abstract lrAt(n: number): number;
  /** Advances one step and sets the optimizer's lr; returns it. */
  step(): number {
    this.stepCount++;
    this.optimizer.lr = this.lrAt(this.stepCount);
    return this.optimizer.lr;
  }
  /** The lr in effect now. */
  get lr(): number {
    return this.optimizer.lr;
  }
  /** Sets lr for step 0 (the schedulers whose first value differs from baseLr). */
  protected start(): void {
    this.optimizer.lr = this.lrAt(0);
  }
}

/** lr = base · gamma^⌊n / stepSize⌋ */
export class StepLR extends LRScheduler {
  constructor(optimizer: HasLr, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    posInt(stepSize, 'StepLR: stepSize');
    num(gamma, 'StepLR: gamma', 0);
  }
  lrAt(n: number): number {
    return this.baseLr * this.gamma ** Math.floor(n / this.stepSize);
  }
}

/** lr = base · gamma^n */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: HasLr, readonly gamma: number) {
    super(optimizer);
    num(gamma, 'ExponentialLR: gamma', 0);
  }
  lrAt(n: number): number {
    return this.baseLr * this.gamma ** n;
  }
}

export interface CosineOptions {
  /** Steps of the whole schedule (warm-up included); after it lr stays at minLr. */
  totalSteps: number;
  /** Linear warm-up from base/warmupSteps·1 to base over the first steps (default 0). */
  warmupSteps?: number;
  /** Floor of the cosine (default 0). */
  minLr?: number;
}

/**
 * Linear warm-up then cosine annealing: for n < w, lr = base·(n+1)/w; then
 * lr = minLr + (base − minLr)·(1 + cos(π·(n − w)/(T − w)))/2, and minLr from T on.
 */
export class CosineLR extends LRScheduler {
  readonly totalSteps: number;
  readonly warmupSteps: number;
  readonly minLr: number;
  constructor(optimizer: HasLr, options: CosineOptions) {
    super(optimizer);
    if (!options || typeof options !== 'object') throw invalidArg(`CosineLR: expected options { totalSteps, warmupSteps?, minLr? }, got ${describe(options)}`);
    this.totalSteps = posInt(options.totalSteps, 'CosineLR: totalSteps');
    this.warmupSteps = posInt(options.warmupSteps ?? 0, 'CosineLR: warmupSteps', 0);
    if (this.warmupSteps >= this.totalSteps) throw invalidArg(`CosineLR: warmupSteps ${this.warmupSteps} must be below totalSteps ${this.totalSteps}`);
    this.minLr = num(options.minLr ?? 0, 'CosineLR: minLr', 0);
    this.start();
  }
  lrAt(n: number): number {
    const w = this.warmupSteps;
    if (n < w) return (this.baseLr * (n + 1)) / w;
    if (n >= this.totalSteps) return this.minLr;
    const p = (n - w) / (this.totalSteps - w);
    return this.minLr + ((this.baseLr - this.minLr) * (1 + Math.cos(Math.PI * p))) / 2;
  }
}

export interface OneCycleOptions {
  /** Peak lr. */
  maxLr: number;
  /** Steps of the whole cycle. */
  totalSteps: number;
  /** Fraction of the steps spent rising (default 0.3). */
  pctStart?: number;
  /** Start lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** Final lr = start lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
}

/**
 * One-cycle policy (Smith), cosine shape as PyTorch's default: from maxLr/div up to maxLr over
 * the first pctStart·T − 1 steps, then down to maxLr/(div·finalDiv) at step T−1 (PyTorch's phases).
 */
export class OneCycleLR extends LRScheduler {
  readonly maxLr: number;
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly initialLr: number;
  readonly finalLr: number;
  constructor(optimizer: HasLr, options: OneCycleOptions) {
    super(optimizer);
    if (!options || typeof options !== 'object') throw invalidArg(`OneCycleLR: expected options { maxLr, totalSteps, ... }, got ${describe(options)}`);
    this.maxLr = num(options.maxLr, 'OneCycleLR: maxLr', 0, Infinity, true);
    this.totalSteps = posInt(options.totalSteps, 'OneCycleLR: totalSteps', 2);
    this.pctStart = num(options.pctStart ?? 0.3, 'OneCycleLR: pctStart', 0, 1, true);
    const div = num(options.divFactor ?? 25, 'OneCycleLR: divFactor', 0, Infinity, true);
    const fdiv = num(options.finalDivFactor ?? 1e4, 'OneCycleLR: finalDivFactor', 0, Infinity, true);
    this.initialLr = this.maxLr / div;
    this.finalLr = this.initialLr / fdiv;
    this.start();
  }
  lrAt(n: number): number {
    const last = this.totalSteps - 1;
    const up = Math.max(this.pctStart * this.totalSteps - 1, 0);
    const cos = (a: number, b: number, p: number) => b + ((a - b) * (1 + Math.cos(Math.PI * p))) / 2;
    if (n >= last) return this.finalLr;
    if (n <= up) return cos(this.initialLr, this.maxLr, up === 0 ? 1 : n / up);
    return cos(this.maxLr, this.finalLr, (n - up) / (last - up));
  }
}
