// Module: the base of layers, activations and containers.
import { Tensor } from '../tensor';
import { summary } from './summary';

export abstract class Module {
  /** @internal */ _training = true;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract forward(...inputs: any[]): Tensor;

  /** Calls forward. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(...inputs: any[]): Tensor {
    return this.forward(...inputs);
  }

  /** Every parameter (a tensor field that requires grad) of this module and its submodules, in field order. */
  parameters(): Tensor[] {
    const out: Tensor[] = [];
    const seen = new Set<Tensor>();
    const visit = (v: unknown): void => {
      if (v instanceof Tensor) {
        if (v.requiresGrad && !seen.has(v)) {
          seen.add(v);
          out.push(v);
        }
      } else if (v instanceof Module) {
        for (const p of v.parameters()) if (!seen.has(p)) (seen.add(p), out.push(p));
      } else if (Array.isArray(v)) {
        v.forEach(visit);
      }
    };
    for (const key of Object.keys(this)) if (!key.startsWith('_')) visit((this as Record<string, unknown>)[key]);
    return out;
  }

  /** Submodules, in field order. */
  children(): Module[] {
    const out: Module[] = [];
    for (const key of Object.keys(this)) {
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Module) out.push(v);
      else if (Array.isArray(v)) for (const m of v) if (m instanceof Module) out.push(m);
    }
    return out;
  }

  train(mode = true): this {
    this._training = mode;
    for (const c of this.children()) c.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  get training(): boolean {
    return this._training;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** The layer tree with parameter counts (`summary(this)`). */
  toString(): string {
    return summary(this);
  }

  /** The layer tree; with `inputShape`, also each layer's output shape (a zero input is run in eval mode). */
  summary(inputShape?: number[]): string {
    return summary(this, { inputShape });
  }
}
