// Module: the base of layers, activations and containers.
import { noGrad } from '../autograd/tape';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { eager } from '../ir/graph';
import { Tensor } from '../tensor';
import { nameVariable } from '../variables';

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
    return this.namedParameters().map((e) => e[1]);
  }

  /** @internal The fields to walk for parameters and submodules, with their names. */
  _fields(): [string, unknown][] {
    return Object.keys(this)
      .filter((k) => !k.startsWith('_'))
      .map((k) => [k, (this as Record<string, unknown>)[k]]);
  }

  /**
   * Every parameter with its path, PyTorch style: `weight`, `0.bias` (a Sequential's layers are
   * numbered), `layers.2.weight` (an array field). A tensor shared by two paths is listed once.
   * The names also label the parameters in `script.variables`.
   */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const visit = (name: string, v: unknown): void => {
      if (v instanceof Tensor) {
        if (v.requiresGrad && !seen.has(v)) {
          seen.add(v);
          out.push([name, v]);
          nameVariable(v, name);
        }
      } else if (v instanceof Module) {
        for (const [n, p] of v.namedParameters()) visit(`${name}.${n}`, p);
      } else if (Array.isArray(v)) {
        v.forEach((x, i) => visit(`${name}.${i}`, x));
      }
    };
    for (const [k, v] of this._fields()) visit(k, v);
    return out;
  }

  /** @internal non-parameter tensors that belong in the state dict (running statistics), by name */
  readonly _buffers = new Map<string, Tensor>();

  /** Registers a state tensor that is not a parameter (e.g. running statistics): it joins stateDict(). */
  registerBuffer(name: string, t: Tensor): Tensor {
    if (typeof name !== 'string' || !name) throw invalidArg(`registerBuffer: name must be a non-empty string, got ${describe(name)}`);
    if (!(t instanceof Tensor)) throw invalidArg(`registerBuffer('${name}'): expected a Tensor, got ${describe(t)}`);
    this._buffers.set(name, t);
    nameVariable(t, name);
    return t;
  }

  /** Registered buffers of this module and its submodules, with their paths. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this._buffers) out.push([n, t]);
    const visit = (name: string, v: unknown): void => {
      if (v instanceof Module) for (const [n, t] of v.namedBuffers()) out.push([`${name}.${n}`, t]);
      else if (Array.isArray(v)) v.forEach((x, i) => visit(`${name}.${i}`, x));
    };
    for (const [k, v] of this._fields()) visit(k, v);
    return out;
  }

  /** Parameters and buffers by path (the same tensor objects, not copies). */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [n, t] of this.namedParameters()) out[n] = t;
    for (const [n, t] of this.namedBuffers()) out[n] = t;
    return out;
  }

  /**
   * Copies `dict`'s tensors into this module's parameters and buffers, in place (scripts that read
   * them see the new values on their next run). With `strict` (the default) a missing or an
   * unexpected key is `INVALID_ARGUMENT`; a wrong shape is always `SHAPE_MISMATCH`; each names the
   * key. Nothing is written unless every check passes. Values are cast to the parameter's dtype.
   */
  loadStateDict(dict: Record<string, Tensor>, options: { strict?: boolean } = {}): void {
    if (dict === null || typeof dict !== 'object') throw invalidArg(`loadStateDict: expected an object of tensors, got ${describe(dict)}`);
    const strict = options.strict !== false;
    const own = this.stateDict();
    const writes: [Tensor, Tensor][] = [];
    for (const [key, t] of Object.entries(own)) {
      const v = (dict as Record<string, unknown>)[key];
      if (v === undefined) {
        if (strict) throw invalidArg(`loadStateDict: missing key '${key}' (expected ${t.dtype}${describe(t.shape)})`);
        continue;
      }
      if (!(v instanceof Tensor)) throw invalidArg(`loadStateDict: '${key}' is ${describe(v)}, expected a Tensor`);
      if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i]))
        throw new HoduError(ErrorCode.SHAPE_MISMATCH, `loadStateDict: '${key}' has shape ${describe(v.shape)}, expected ${describe(t.shape)}`);
      writes.push([t, v]);
    }
    if (strict) {
      const unexpected = Object.keys(dict).filter((k) => !(k in own));
      if (unexpected.length) throw invalidArg(`loadStateDict: unexpected key${unexpected.length > 1 ? 's' : ''} ${unexpected.map((k) => `'${k}'`).join(', ')}`);
    }
    eager(() => noGrad(() => {
      for (const [t, v] of writes) t.assign(v);
    }));
  }

  /** Submodules, in field order. */
  children(): Module[] {
    const out: Module[] = [];
    for (const [, v] of this._fields()) {
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
}
