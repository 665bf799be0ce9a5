// The graph a Builder records: values in topological order (inputs, constants, op outputs) and
// named outputs. Recording asks the native core for each op's output shape and dtype (the same
// infer() that validates eager calls and the compiled IR), so a bad op fails at the call site.
import { DType, dtypeCode, dtypeFromCode } from '../dtype';
import { ErrorCode, HoduError, invalidArg } from '../errors';
import { hooks, Recorder } from '../hooks';
import { NativeDesc, binding, call, opcode } from '../native';
import { Tensor, TensorState } from '../tensor';
import { Dim, SymbolTable } from '../symbolic';
import { contiguousStrides } from '../strides';

export const enum ValueKind {
  Input = 0,
  Constant = 1,
  Op = 2,
}

export interface IrValue {
  kind: ValueKind;
  dtype: DType;
  shape: number[];
  name?: string; // Input
  constant?: number; // Constant: index into constants
  op?: number; // Op: opcode
  inputs?: number[]; // Op
  attrs?: number[]; // Op
}

export interface IrOutput {
  name: string;
  value: number;
}

/** Runs f with recording switched off (to read or copy concrete tensors while a builder is active). */
export function eager<T>(f: () => T): T {
  const saved = hooks.recorder;
  hooks.recorder = null;
  try {
    return f();
  } finally {
    hooks.recorder = saved;
  }
}

/** The bytes of a concrete tensor in row-major order (a copy). */
export function tensorBytes(t: Tensor): ArrayBuffer {
  return eager(() => {
    const c = t.contiguous();
    const a = c.toTypedArray();
    const out = a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;
    if (c !== t) c.dispose();
    return out;
  });
}

export class GraphRecorder implements Recorder {
  readonly values: IrValue[] = [];
  /** Constant bytes by index; null for a parameter's copy deferred to build (it usually becomes a variable). */
  readonly constants: (ArrayBuffer | null)[] = [];
  readonly outputs: IrOutput[] = [];
  /** Every concrete tensor an op read, with its value id (variables or constants, decided at build). */
  readonly concrete = new Map<Tensor, number>();
  /** Concrete tensors the recording updated (optimizer steps, assign) → their latest value id. */
  readonly updates = new Map<Tensor, number>();
  private randomCount = 0;
  private readonly inputNames = new Set<string>();
  private readonly rebound = new Map<Tensor, TensorState>();
  /** Symbolic input dims and their tracer sizes. */
  readonly symbols = new SymbolTable();

  constructor(readonly owner: string) {}

  /** The value id of a tensor used by an op: its node, or a new constant for a concrete tensor. */
  valueOf(t: Tensor): number {
    t._check();
    if (t._graph === this) return t._node;
    if (t._graph !== null)
      throw invalidArg(`a tensor recorded by another builder cannot be used in builder '${this.owner}'`);
    const known = this.concrete.get(t);
    if (known !== undefined) return known;
    this.constants.push(t._requiresGrad && t._gradFn === null ? null : tensorBytes(t));
    const id = this.values.length;
    this.values.push({ kind: ValueKind.Constant, dtype: t.dtype, shape: t.shape.slice(), constant: this.constants.length - 1 });
    this.concrete.set(t, id);
    return id;
  }

  /**
   * A constant whose bytes are `buffer` itself (not copied): importers pass the same ArrayBuffer
   * to every graph they trace, so specializations share weights. The caller must not mutate it.
   */
  sharedConstant(buffer: ArrayBuffer, dtype: DType, shape: number[]): Tensor {
    this.constants.push(buffer);
    const id = this.values.length;
    this.values.push({ kind: ValueKind.Constant, dtype, shape: shape.slice(), constant: this.constants.length - 1 });
    return this.symbolic(id);
  }

  noteUpdate(t: Tensor, value: Tensor): void {
    if (t._graph === this && !this.updates.has(t)) return; // a graph value rebound: no state
    if (t._graph !== this) this.valueOf(t); // the variable's value before the first update
    this.updates.set(t, this.valueOf(value));
  }

  /** Per (shape, dtype): one random input [draws, ...shape] that every draw slices its row from. */
  private readonly randomPools = new Map<string, { id: number; count: number }>();

  randomInput(shape: number[], dtype: DType): Tensor {
    // Draw k of a shape is row k of one pool input: steps of a recorded loop then differ only in a
    // slice start, which the loop roller turns into a per-step index table (the loop still rolls).
    const key = `${dtype}:${shape.join(',')}`;
    let pool = this.randomPools.get(key);
    if (!pool) {
      const id = this.values.length;
      this.values.push({ kind: ValueKind.Input, dtype, shape: [0, ...shape], name: `@rand:${this.randomCount++}` });
      pool = { id, count: 0 };
      this.randomPools.set(key, pool);
    }
    const k = pool.count++;
    this.values[pool.id].shape = [k + 1, ...shape]; // grows with every draw; final at build
    const row = this.record('slice', [this.symbolic(pool.id)], [0, k, k + 1, 1]);
    return this.record('reshape', [row], shape.slice());
  }

  private symbolic(id: number): Tensor {
    const v = this.values[id];
    const t = Tensor._make(null, v.dtype, v.shape);
    t._node = id;
    t._graph = this;
    return t;
  }

  record(op: string, inputs: Tensor[], attrs: number[]): Tensor {
    const ids = inputs.map((t) => this.valueOf(t));
    const code = opcode(op);
    const descs: NativeDesc[] = ids.map((id) => {
      const v = this.values[id];
      return [dtypeCode(v.dtype), v.shape, contiguousStrides(v.shape), 0];
    });
    let r: ReturnType<typeof binding.infer>;
    try {
      r = this.symbols.explain(op, () => call(() => binding.infer(code, attrs, descs)));
    } catch (e) {
      // the op was recorded, not run: say so (a builder left active makes eager code record)
      const err = e as HoduError;
      if (err && typeof err.message === 'string' && !err.message.includes('is recording'))
        err.message += ` (recorded into builder '${this.owner}', which is recording; to run ops eagerly, call end() on it first)`;
      throw err;
    }
    const id = this.values.length;
    this.values.push({ kind: ValueKind.Op, dtype: dtypeFromCode(r[0]), shape: r[1], op: code, inputs: ids, attrs: attrs.slice() });
    const out = this.symbolic(id);
    if (hooks.afterOp) hooks.afterOp(op, inputs, attrs, out);
    return out;
  }

  symbolicDim(shape: readonly number[]): number {
    return this.symbols.symbolicDimOf(shape);
  }

  input(name: string, declared: Dim[], dtype: DType): Tensor {
    if (typeof name !== 'string' || name.length === 0) throw invalidArg(`Tensor.input: name must be a non-empty string, got ${String(name)}`);
    if (name.startsWith('@')) throw invalidArg(`Tensor.input: the name '${name}' starts with '@', which hodu reserves for script variables; choose another name`);
    if (this.inputNames.has(name)) throw new HoduError(ErrorCode.DUPLICATE_NAME, `Tensor.input: an input named '${name}' already exists in builder '${this.owner}'`);
    const shape = this.symbols.declare(name, declared);
    this.inputNames.add(name);
    const id = this.values.length;
    this.values.push({ kind: ValueKind.Input, dtype, shape: shape.slice(), name });
    return this.symbolic(id);
  }

  saveBeforeRebind(t: Tensor): void {
    if (!this.rebound.has(t)) this.rebound.set(t, t._saveState());
  }

  /** Gives tensors rebound to graph values (parameters updated inside the builder) their data back. */
  restoreRebound(): void {
    for (const [t, state] of this.rebound) t._restore(state);
    this.rebound.clear();
  }

  /** Stacked outputs (addOutput with { stack: true }): name → one value id per step. */
  readonly stacks = new Map<string, number[]>();

  addOutput(name: string, t: Tensor, stack = false): void {
    if (typeof name !== 'string' || name.length === 0) throw invalidArg(`addOutput: name must be a non-empty string, got ${String(name)}`);
    if (name.startsWith('@')) throw invalidArg(`addOutput: the name '${name}' starts with '@', which hodu reserves for script variables; choose another name`);
    if (!(t instanceof Tensor)) throw invalidArg(`addOutput('${name}'): expected a Tensor`);
    if (this.outputs.some((o) => o.name === name) || (!stack && this.stacks.has(name)))
      throw new HoduError(ErrorCode.DUPLICATE_NAME, `addOutput: an output named '${name}' already exists in builder '${this.owner}'`);
    if (stack) {
      const list = this.stacks.get(name) ?? [];
      list.push(this.valueOf(t));
      this.stacks.set(name, list);
      return;
    }
    this.outputs.push({ name, value: this.valueOf(t) });
  }
}
