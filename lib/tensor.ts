import {
  AnyTypedArray,
  DType,
  checkDType,
  dtypeCode,
  dtypeFromCode,
  dtypeInfo,
  dtypeOfTypedArray,
  dtypeSize,
  isFloat,
} from './dtype';
import { Device } from './device';
import { ErrorCode, HoduError, describe, invalidArg } from './errors';
import { formatNested } from './format';
import { hooks } from './hooks';
import { NativeDesc, NativeInput, binding, call, checkAttrs, opcode } from './native';
import { checkInt, checkPair as pair, checkShape, normDim } from './check';
import { nextSeed } from './random';
import { Storage } from './storage';
import { f16BitsToNumber, bf16BitsToNumber } from './half';
import { MAX_ELEMENTS, MAX_NESTED_ENTRIES, MAX_SPLIT_PIECES, nestedEntries, shapeExtent } from './limits';
import { Dim, checkDeclaredShape, symbolicSizeError } from './symbolic';
import { contiguousStrides } from './strides';

export type Shape = readonly number[];
export type TensorLike = Tensor | number;
export type NestedArray = number | boolean | NestedArray[];

/** Options of conv2d; a number applies to both spatial dims. */
export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}

/** Options of `backward()`. */
export interface BackwardOptions {
  /** Keep the recorded graph so that `backward()` may run through it again (default false). */
  retainGraph?: boolean;
}

/** Options of maxPool2d / avgPool2d. `stride` defaults to `kernel`. */
export interface Pool2dOptions {
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
}

const INTERNAL = Symbol('hodu.internal');

/** @internal */
export interface TensorState {
  storage: Storage | null;
  strides: number[];
  offset: number;
  node: number;
  graph: unknown;
  grad: Tensor | null;
  gradFn: unknown;
}

/** A new zeroed ArrayBuffer; a size the engine refuses is a HoduError, not a RangeError. */
function allocBuffer(bytes: number, what: string): ArrayBuffer {
  try {
    return new ArrayBuffer(Math.max(bytes, 1));
  } catch (e) {
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `${what}: cannot allocate ${bytes} bytes (${(e as Error).message})`);
  }
}

function numelOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** While a builder records: the first dim of `shape` that stands for a symbolic input dim, or -1. */
function symbolicDim(shape: Shape): number {
  const r = hooks.recorder;
  return r && r.symbolicDim ? r.symbolicDim(shape) : -1;
}

/** Refuses a data-carrying tensor whose size depends on a symbolic dim (it would be a constant). */
function refuseSymbolic(shape: Shape, what: string): void {
  const d = symbolicDim(shape);
  if (d >= 0) throw symbolicSizeError(what, shape, d);
}

export { checkShape };

/**
 * An n-dimensional array. In dynamic mode every op runs at once on the native core; while a
 * Builder is active, ops are recorded into its graph instead (the tensor is then symbolic).
 */
export class Tensor {
  /** @internal */ _storage: Storage | null;
  /** @internal */ _shape: number[];
  /** @internal */ _strides: number[];
  /** @internal */ _offset: number;
  /** @internal */ _dtype: DType;
  /** @internal */ _disposed = false;
  /** @internal */ _requiresGrad = false;
  /** @internal */ _grad: Tensor | null = null;
  /** @internal set by the builder for symbolic tensors (graph node id) */ _node = -1;
  /** @internal set by the builder: the builder that owns this symbolic tensor */ _graph: unknown = null;
  /** @internal set by autograd */ _gradFn: unknown = null;

  /** @internal Use the static creation functions. */
  constructor(token: symbol, storage: Storage | null, dtype: DType, shape: number[], strides?: number[], offset = 0) {
    if (token !== INTERNAL) throw invalidArg('use Tensor.fromArray, Tensor.zeros, ... to create tensors');
    this._storage = storage;
    this._dtype = dtype;
    this._shape = shape;
    this._strides = strides ?? contiguousStrides(shape);
    this._offset = offset;
  }

  /** @internal */
  static _make(storage: Storage | null, dtype: DType, shape: number[], strides?: number[], offset = 0): Tensor {
    return new Tensor(INTERNAL, storage, dtype, shape, strides, offset);
  }

  // ---------------------------------------------------------------- properties

  get shape(): readonly number[] {
    return this._shape;
  }
  get dtype(): DType {
    return this._dtype;
  }
  get ndim(): number {
    return this._shape.length;
  }
  get size(): number {
    return numelOf(this._shape);
  }
  get device(): Device {
    return Device.CPU;
  }
  get strides(): readonly number[] {
    return this._strides;
  }
  /** True for a tensor recorded by a builder (it has no data until the script runs). */
  get isSymbolic(): boolean {
    return this._storage === null;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }
  get isContiguous(): boolean {
    if (this.size === 0) return true;
    let acc = 1;
    for (let i = this._shape.length - 1; i >= 0; i--) {
      if (this._shape[i] === 1) continue;
      if (this._strides[i] !== acc) return false;
      acc *= this._shape[i];
    }
    return true;
  }

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(v: boolean) {
    this.setRequiresGrad(v);
  }
  setRequiresGrad(v = true): this {
    this._check();
    if (v && !isFloat(this._dtype))
      throw new HoduError(ErrorCode.DTYPE_MISMATCH, `requiresGrad needs a float dtype, but the tensor is ${this._dtype}`);
    this._requiresGrad = !!v;
    return this;
  }
  get grad(): Tensor | null {
    return this._grad;
  }
  set grad(g: Tensor | null) {
    if (g !== null && !(g instanceof Tensor)) throw invalidArg(`grad must be a Tensor or null, got ${describe(g)}`);
    this._grad = g;
  }

  /**
   * Computes gradients of this tensor (a scalar, or pass `grad`) into the `.grad` of the leaves it
   * depends on. The graph behind it is used up (PyTorch's rule): a second `backward()` through it
   * throws `INVALID_ARGUMENT` unless the first passed `{ retainGraph: true }`.
   * Forms: `backward()`, `backward(grad)`, `backward({ retainGraph })`, `backward(grad, { retainGraph })`.
   */
  backward(grad?: Tensor | BackwardOptions, options?: BackwardOptions): void {
    if (!hooks.backward) throw new HoduError(ErrorCode.INTERNAL, 'autograd is not loaded');
    let g: Tensor | undefined;
    let opts: BackwardOptions | undefined = options;
    if (grad instanceof Tensor || grad === undefined || grad === null) g = grad ?? undefined;
    else if (typeof grad === 'object' && !ArrayBuffer.isView(grad)) opts = grad as BackwardOptions;
    else g = grad as unknown as Tensor; // let autograd report the bad value
    if (opts !== undefined && (opts === null || typeof opts !== 'object'))
      throw invalidArg(`backward: options must be an object like { retainGraph: true }, got ${describe(opts)}`);
    hooks.backward(this, g, !!(opts && opts.retainGraph));
  }

  /** Clears `.grad`. */
  zeroGrad(): void {
    this._grad = null;
  }

  /**
   * @internal In-place update (optimizers): this tensor takes `value`'s data. In dynamic mode the
   * memory is swapped in; inside a builder the tensor is rebound to the graph value (and restored
   * when the builder ends).
   */
  _assign(value: Tensor): void {
    this._check();
    value._check();
    if (value._shape.length !== this._shape.length || value._shape.some((d, i) => d !== this._shape[i]) || value._dtype !== this._dtype)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `assign: ${value._dtype}${describe(value._shape)} into ${this._dtype}${describe(this._shape)}`);
    if (value._storage === null && hooks.recorder) {
      hooks.recorder.noteUpdate(this, value);
      hooks.recorder.saveBeforeRebind(this);
    }
    const old = this._storage;
    this._storage = value._storage ? value._storage.retain() : null;
    if (old) old.release();
    this._strides = value._strides.slice();
    this._offset = value._offset;
    this._node = value._node;
    this._graph = value._graph;
    this._gradFn = null;
  }

  /**
   * Copies `value` (a tensor broadcastable to this shape, or a number; cast to this dtype) into
   * this tensor. In dynamic mode the copy goes into this tensor's own memory, in place (views of it
   * see the change). While a Builder records, the update is recorded instead: the tensor becomes a
   * *variable* of the script, and every run of the script writes the new value into it.
   */
  assign(value: TensorLike): this {
    this._check();
    let v: Tensor;
    if (value instanceof Tensor) v = value;
    else if (typeof value === 'number' || typeof value === 'boolean') v = Tensor._scalar(value, this._dtype);
    else throw invalidArg(`assign: value must be a Tensor or a number, got ${describe(value)}`);
    v._check();
    const rec = hooks.recorder;
    const sameShape = v._shape.length === this._shape.length && v._shape.every((d, i) => d === this._shape[i]);
    if (!sameShape) {
      const lead = this._shape.length - v._shape.length;
      const ok = lead >= 0 && v._shape.every((d, i) => d === 1 || d === this._shape[lead + i]);
      if (!ok) throw new HoduError(ErrorCode.SHAPE_MISMATCH, `assign: a value of shape ${describe(v._shape)} does not broadcast to the tensor's shape ${describe(this._shape)}`);
    }
    if (rec) {
      if (this._storage === null && this._graph !== rec)
        throw invalidArg(`assign: the tensor belongs to another builder than '${rec.owner}'`);
      if (v._dtype !== this._dtype) v = v.toDtype(this._dtype);
      if (!sameShape) v = v.broadcastTo(this._shape.slice());
      if (v._storage !== null) v = v._alias(); // a concrete value becomes a graph value (recorded)
      this._assign(v);
      return this;
    }
    if (this._storage === null) throw invalidArg('assign: the tensor belongs to a builder graph and has no data');
    let src = v._dtype !== this._dtype ? v.toDtype(this._dtype) : v;
    if (!sameShape) src = src.broadcastTo(this._shape.slice());
    writeInto(this, src);
    this._storage.bump();
    return this;
  }

  /** @internal Restores a state saved by saveBeforeRebind. */
  _restore(state: TensorState): void {
    this._storage = state.storage;
    this._strides = state.strides;
    this._offset = state.offset;
    this._node = state.node;
    this._graph = state.graph;
    this._grad = state.grad;
    this._gradFn = state.gradFn;
  }

  /** @internal */
  _saveState(): TensorState {
    return {
      storage: this._storage ? this._storage.retain() : null,
      strides: this._strides,
      offset: this._offset,
      node: this._node,
      graph: this._graph,
      grad: this._grad,
      gradFn: this._gradFn,
    };
  }

  // ---------------------------------------------------------------- internals

  /** @internal */
  _check(): void {
    if (this._disposed) throw new HoduError(ErrorCode.DISPOSED, `this tensor (shape ${describe(this._shape)}, ${this._dtype}) was disposed`);
  }

  /** @internal */
  _desc(): NativeDesc {
    return [dtypeCode(this._dtype), this._shape, this._strides, this._offset];
  }

  /** @internal */
  _native(): NativeInput {
    this._check();
    if (!this._storage) {
      const rec = hooks.recorder;
      if (rec && this._graph === rec)
        throw new HoduError(
          ErrorCode.BUILDER_INACTIVE, // the code of round 1 (reading a graph value); the message says what to do
          `builder '${rec.owner}' is still recording: this tensor is a graph value with no data yet. ` +
            `Call builder.end() (or build()) before reading values or running eager ops, then run the script`,
        );
      throw new HoduError(
        ErrorCode.BUILDER_INACTIVE,
        'this tensor belongs to a builder graph and has no data; run the built script to get values',
      );
    }
    if (this._storage.detached)
      throw new HoduError(
        ErrorCode.DISPOSED,
        `the memory of this tensor (shape ${describe(this._shape)}, ${this._dtype}) was transferred or detached (postMessage/structuredClone with transfer)`,
      );
    return [this._storage.buffer, dtypeCode(this._dtype), this._shape, this._strides, this._offset];
  }

  /** @internal Runs (or records) one op of the native op table. */
  static _op(op: string, inputs: Tensor[], attrs: number[] = []): Tensor {
    for (const t of inputs) t._check();
    const code = opcode(op);
    checkAttrs(code, attrs);
    const rec = hooks.recorder;
    if (rec) return rec.record(op, inputs, attrs);
    const r = call(() => binding.exec(code, attrs, inputs.map((t) => t._native())));
    let out: Tensor;
    if (r[0] === null) {
      const base = inputs[0];
      out = Tensor._make(base._storage!.retain(), dtypeFromCode(r[1]), r[2], r[3] as number[], r[4] as number);
    } else {
      out = Tensor._make(new Storage(r[0]), dtypeFromCode(r[1]), r[2]);
    }
    if (hooks.afterOp) hooks.afterOp(op, inputs, attrs, out);
    return out;
  }

  /** @internal Turns a number operand into a scalar tensor of `dtype`. */
  static _scalar(v: number | boolean, dtype: DType): Tensor {
    return Tensor.full([], v as number, dtype);
  }

  /** @internal Operand coercion for binary ops: numbers adapt, BOOL is cast to the other side. */
  private _pair(other: TensorLike, what: string): [Tensor, Tensor] {
    this._check();
    let b: Tensor;
    if (other instanceof Tensor) b = other;
    else if (typeof other === 'number' || typeof other === 'boolean') b = Tensor._scalar(other, this._dtype);
    else throw invalidArg(`${what}: operand must be a Tensor or a number, got ${describe(other)}`);
    let a: Tensor = this;
    if (a._dtype !== b._dtype) {
      if (a._dtype === DType.BOOL) a = a.toDtype(b._dtype);
      else if (b._dtype === DType.BOOL) b = b.toDtype(a._dtype);
    }
    return [a, b];
  }

  private _binary(op: string, other: TensorLike): Tensor {
    const [a, b] = this._pair(other, op);
    return Tensor._op(op, [a, b]);
  }

  private _unary(op: string, attrs: number[] = []): Tensor {
    return Tensor._op(op, [this], attrs);
  }

  private _reduce(op: string, dims: number | number[] | undefined, keepdim: boolean): Tensor {
    this._check();
    let list: number[];
    if (dims === undefined || dims === null) list = this._shape.map((_, i) => i);
    else if (typeof dims === 'number') list = [dims];
    else if (Array.isArray(dims)) list = dims.slice();
    else throw invalidArg(`${op}: dims must be a number or an array of numbers, got ${describe(dims)}`);
    if (typeof keepdim !== 'boolean') throw invalidArg(`${op}: keepdim must be a boolean, got ${describe(keepdim)}`);
    for (const d of list) checkInt(d, `${op}: dim`);
    return Tensor._op(op, [this], [keepdim ? 1 : 0, ...list]);
  }

  // ---------------------------------------------------------------- creation

  /**
   * A tensor from nested arrays, a typed array or a number. `shape` reshapes flat data; `dtype`
   * defaults to the typed array's type, BOOL for booleans, else F32.
   */
  static fromArray(data: NestedArray | ArrayLike<number> | ArrayBufferView, shape?: Shape, dtype?: DType): Tensor {
    let values: ArrayLike<number | boolean | bigint>;
    let inferred: number[];
    let natural: DType = DType.F32;
    if (ArrayBuffer.isView(data)) {
      const t = dtypeOfTypedArray(data);
      if (!t) throw invalidArg(`fromArray: unsupported typed array ${Object.prototype.toString.call(data)}`);
      natural = t;
      values = data as unknown as ArrayLike<number | bigint>;
      inferred = [values.length];
    } else if (typeof data === 'number' || typeof data === 'boolean') {
      values = [data];
      inferred = [];
      if (typeof data === 'boolean') natural = DType.BOOL;
    } else if (Array.isArray(data)) {
      inferred = [];
      let probe: unknown = data;
      while (Array.isArray(probe)) {
        inferred.push(probe.length);
        probe = probe[0];
      }
      if (typeof probe === 'boolean') natural = DType.BOOL;
      const flat: (number | boolean)[] = [];
      const walk = (v: unknown, depth: number, path: string): void => {
        if (depth === inferred.length) {
          if (typeof v !== 'number' && typeof v !== 'boolean')
            throw invalidArg(`fromArray: element at ${path || '[]'} is ${describe(v)}, expected a number or boolean`);
          flat.push(v);
          return;
        }
        if (!Array.isArray(v) || v.length !== inferred[depth])
          throw invalidArg(
            `fromArray: ragged nested array: element at ${path || '[]'} has ${Array.isArray(v) ? `length ${v.length}` : describe(v)}, expected an array of length ${inferred[depth]}`,
          );
        for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
      };
      walk(data, 0, '');
      values = flat;
    } else {
      throw invalidArg(`fromArray: expected nested arrays, a typed array or a number, got ${describe(data)}`);
    }
    const dt = dtype === undefined ? natural : checkDType(dtype);
    let sh = inferred;
    if (shape !== undefined) {
      sh = checkShape(shape);
      if (numelOf(sh) !== values.length)
        throw new HoduError(
          ErrorCode.SHAPE_MISMATCH,
          `fromArray: ${values.length} values do not fill shape ${describe(sh)} (${numelOf(sh)} elements)`,
        );
    }
    if (ArrayBuffer.isView(data)) {
      const fast = Tensor._fromTypedArrayCopy(data, natural, sh, dt);
      if (fast) return fast;
    }
    return Tensor._fromValues(values, sh, dt);
  }

  /**
   * A tensor over the caller's typed array, sharing its memory (no copy), like `torch.from_numpy`:
   * writes through either side are seen by the other. The dtype is the array's (`Float32Array` →
   * F32, `Int32Array` → I32, `BigInt64Array` → I64, `Uint8Array`/`Buffer` → U8, …); `shape`
   * defaults to `[length]` and must hold exactly `length` elements. `dispose()` drops the tensor's
   * reference but leaves the array usable. Arrays over a SharedArrayBuffer are refused (another
   * thread could change them while a kernel reads): use `fromArray`, which copies.
   */
  static wrap(data: ArrayBufferView, shape?: Shape): Tensor {
    if (!ArrayBuffer.isView(data)) throw invalidArg(`wrap: expected a typed array, got ${describe(data)}`);
    const dt = dtypeOfTypedArray(data);
    if (!dt) throw invalidArg(`wrap: unsupported array ${Object.prototype.toString.call(data)} (expected a typed array such as Float32Array)`);
    if (!(data.buffer instanceof ArrayBuffer) && Object.prototype.toString.call(data.buffer) !== '[object ArrayBuffer]')
      throw invalidArg('wrap: the array is backed by a SharedArrayBuffer; use Tensor.fromArray to copy it');
    const length = (data as unknown as { length: number }).length;
    const sh = shape === undefined ? [length] : checkShape(shape);
    if (numelOf(sh) !== length)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `wrap: ${length} elements do not fill shape ${describe(sh)} (${numelOf(sh)} elements)`);
    refuseSymbolic(sh, 'wrap');
    const t = Tensor._make(new Storage(data.buffer as ArrayBuffer, false), dt, sh, undefined, data.byteOffset / dtypeInfo(dt).size);
    return t;
  }

  /**
   * @internal fromArray of a typed array without a per-element JS loop: one memcpy when the dtype
   * matches, else the engine's typed-array conversion (the same rules as element assignment).
   * Returns null where only the loop can convert (BOOL, half floats, number <-> bigint).
   */
  static _fromTypedArrayCopy(data: ArrayBufferView, natural: DType, shape: number[], dtype: DType): Tensor | null {
    if (dtype === DType.BOOL || dtype === DType.F16 || dtype === DType.BF16) return null;
    refuseSymbolic(shape, 'fromArray');
    const info = dtypeInfo(dtype);
    const n = (data as unknown as { length: number }).length;
    const bigDst = dtype === DType.I64 || dtype === DType.U64;
    const bigSrc = natural === DType.I64 || natural === DType.U64;
    if (bigDst !== bigSrc) return null;
    const buf = allocBuffer(n * info.size, 'fromArray');
    if (dtype === natural) {
      new Uint8Array(buf).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      (new info.ctor(buf, 0, n) as unknown as { set(a: ArrayLike<number>): void }).set(data as unknown as ArrayLike<number>);
    }
    return Tensor._make(new Storage(buf), dtype, shape);
  }

  /** @internal Copies JS values into a new tensor of `dtype`. */
  static _fromValues(values: ArrayLike<number | boolean | bigint>, shape: number[], dtype: DType): Tensor {
    if (dtype === DType.F16 || dtype === DType.BF16) {
      return Tensor._fromValues(values, shape, DType.F32)._castNoRecord(dtype);
    }
    refuseSymbolic(shape, 'fromArray');
    const n = values.length;
    const info = dtypeInfo(dtype);
    const buf = allocBuffer(n * info.size, 'fromArray');
    const view = new info.ctor(buf, 0, n) as unknown as { [i: number]: number | bigint };
    if (dtype === DType.I64 || dtype === DType.U64) {
      for (let i = 0; i < n; i++) {
        const v = values[i];
        view[i] = typeof v === 'bigint' ? v : BigInt(Number.isFinite(Number(v)) ? Math.trunc(Number(v)) : 0);
      }
    } else if (dtype === DType.BOOL) {
      for (let i = 0; i < n; i++) view[i] = values[i] ? 1 : 0;
    } else {
      for (let i = 0; i < n; i++) view[i] = Number(values[i]);
    }
    return Tensor._make(new Storage(buf), dtype, shape);
  }

  /** @internal cast that runs eagerly even while recording (used to build constants) */
  _castNoRecord(dtype: DType): Tensor {
    const r = call(() => binding.exec(opcode('cast'), [dtypeCode(dtype)], [this._native()]));
    return Tensor._make(new Storage(r[0] as ArrayBuffer), dtype, r[2]);
  }

  static full(shape: Shape, value: number | boolean, dtype: DType = DType.F32): Tensor {
    const sh = checkShape(shape);
    const dt = checkDType(dtype);
    if (typeof value !== 'number' && typeof value !== 'boolean')
      throw invalidArg(`full: value must be a number or boolean, got ${describe(value)}`);
    // a symbolic size inside a builder: a recorded broadcast of one value, never a buffer of that size
    if (symbolicDim(sh) >= 0) return Tensor.full([], value, dt).broadcastTo(sh);
    const n = numelOf(sh);
    if (dt === DType.F16 || dt === DType.BF16) return Tensor.full(sh, value, DType.F32)._castNoRecord(dt);
    const info = dtypeInfo(dt);
    const buf = allocBuffer(n * info.size, 'full');
    const view = new info.ctor(buf, 0, n) as unknown as { fill(v: number | bigint): void };
    if (dt === DType.I64 || dt === DType.U64) view.fill(BigInt(Number.isFinite(Number(value)) ? Math.trunc(Number(value)) : 0));
    else if (dt === DType.BOOL) view.fill(value ? 1 : 0);
    else if (Number(value) !== 0) view.fill(Number(value));
    return Tensor._make(new Storage(buf), dt, sh);
  }

  static zeros(shape: Shape, dtype: DType = DType.F32): Tensor {
    return Tensor.full(shape, 0, dtype);
  }
  static ones(shape: Shape, dtype: DType = DType.F32): Tensor {
    return Tensor.full(shape, 1, dtype);
  }
  static zerosLike(t: Tensor, dtype?: DType): Tensor {
    return Tensor.full(t.shape, 0, dtype ?? t.dtype);
  }
  static onesLike(t: Tensor, dtype?: DType): Tensor {
    return Tensor.full(t.shape, 1, dtype ?? t.dtype);
  }
  static fullLike(t: Tensor, value: number | boolean, dtype?: DType): Tensor {
    return Tensor.full(t.shape, value, dtype ?? t.dtype);
  }

  private static _random(what: string, kind: 0 | 1, shape: Shape, dtype: DType, a: number, b: number): Tensor {
    const sh = checkShape(shape);
    const dt = checkDType(dtype);
    if (!isFloat(dt)) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `${what}: dtype ${dt} is not a float dtype`);
    if (typeof a !== 'number' || typeof b !== 'number' || Number.isNaN(a) || Number.isNaN(b))
      throw invalidArg(`${what}: parameters must be numbers, got ${describe(a)} and ${describe(b)}`);
    // f16/bf16 are drawn natively too, so that rounding never reaches `high`
    const base = dt === DType.F64 || dt === DType.F16 || dt === DType.BF16 ? dt : DType.F32;
    refuseSymbolic(sh, what);
    const n = numelOf(sh);
    const buf = allocBuffer(n * dtypeSize(base), what);
    const [hi, lo] = nextSeed();
    if (n > 0) call(() => binding.fillRandom(buf, dtypeCode(base), kind, a, b, hi, lo));
    let t = Tensor._make(new Storage(buf), base, sh);
    if (base !== dt) t = t._castNoRecord(dt);
    return t;
  }

  /** Normal(mean, std) samples; reproducible after manualSeed(). */
  static randn(shape: Shape, dtype: DType = DType.F32, mean = 0, std = 1): Tensor {
    return Tensor._random('randn', 0, shape, dtype, mean, std);
  }

  /** Uniform samples in [low, high); reproducible after manualSeed(). */
  static rand(shape: Shape, dtype: DType = DType.F32, low = 0, high = 1): Tensor {
    return Tensor._random('rand', 1, shape, dtype, low, high);
  }

  /** Values start, start+step, ... below end. `arange(n)` is `arange(0, n)`. */
  static arange(start: number, end?: number, step = 1, dtype: DType = DType.F32): Tensor {
    if (end === undefined) [start, end] = [0, start];
    for (const [k, v] of [['start', start], ['end', end], ['step', step]] as const)
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArg(`arange: ${k} must be a finite number, got ${describe(v)}`);
    if (step === 0) throw invalidArg('arange: step must not be 0');
    const n = Math.max(0, Math.ceil((end - start) / step));
    // the values are built in a Float64Array first: 2^28 of them is 2 GiB
    if (n > 2 ** 28) throw invalidArg(`arange: ${n} elements is too many (at most 2^28)`);
    refuseSymbolic([n], 'arange');
    const vals = new Float64Array(n);
    for (let i = 0; i < n; i++) vals[i] = start + i * step;
    return Tensor._fromValues(vals, [n], checkDType(dtype));
  }

  /**
   * A named graph input; only while a Builder is active. A dim may be `null` (any size) or a name
   * (`'batch'`: every input dim with that name has the same size in one run); the script then
   * compiles once per concrete shape signature (README "Shapes that vary"). While recording, such
   * a dim reads as a placeholder size (16411, 16417, ...).
   */
  static input(name: string, shape: readonly Dim[], dtype: DType = DType.F32): Tensor {
    const rec = hooks.recorder;
    if (!rec) throw new HoduError(ErrorCode.BUILDER_INACTIVE, `Tensor.input('${name}'): no builder is active (call builder.start() first)`);
    return rec.input(name, checkDeclaredShape(shape, `Tensor.input('${name}')`), checkDType(dtype));
  }

  // ---------------------------------------------------------------- data access

  /**
   * A typed array over the tensor's own memory (no copy) for contiguous tensors; a strided view is
   * first made contiguous. F16/BF16 give the raw bits (Uint16Array), BOOL a Uint8Array of 0/1,
   * I64/U64 BigInt64Array/BigUint64Array.
   */
  toTypedArray(): AnyTypedArray {
    this._native();
    if (!this.isContiguous) return this.contiguous().toTypedArray();
    const info = dtypeInfo(this._dtype);
    if (this.size === 0) return new info.ctor(0);  // an empty view may carry an offset past its (empty) buffer
    return new info.ctor(this._storage!.buffer, this._offset * info.size, this.size);
  }

  /** Nested JS arrays (numbers; booleans for BOOL; a bare value for shape []). */
  toArray(): NestedArray {
    this._check();
    const entries = nestedEntries(this._shape);
    if (entries > MAX_NESTED_ENTRIES)
      throw invalidArg(
        `toArray: shape ${describe(this._shape)} needs ${entries} nested array entries, more than the ${MAX_NESTED_ENTRIES} allowed; use toTypedArray()`,
      );
    const flat = this.toTypedArray() as ArrayLike<number | bigint>;
    const dt = this._dtype;
    const get = (i: number): number | boolean => {
      const v = flat[i];
      switch (dt) {
        case DType.BOOL: return v !== 0;
        case DType.F16: return f16BitsToNumber(v as number);
        case DType.BF16: return bf16BitsToNumber(v as number);
        case DType.I64: case DType.U64: return Number(v);
        default: return v as number;
      }
    };
    const shape = this._shape;
    if (shape.length === 0) return get(0);
    let k = 0;
    const build = (d: number): NestedArray[] => {
      const out = new Array<NestedArray>(shape[d]);
      for (let i = 0; i < shape[d]; i++) out[i] = d === shape.length - 1 ? get(k++) : build(d + 1);
      return out;
    };
    return build(0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    this._check();
    if (this.size !== 1) throw invalidArg(`item: the tensor has ${this.size} elements (shape ${describe(this._shape)}); item() needs exactly 1`);
    let v: NestedArray = this.toArray();
    while (Array.isArray(v)) v = v[0];
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }

  toString(): string {
    if (this._disposed) return '<disposed>';
    if (!this._storage) return '<none>';
    if (nestedEntries(this._shape) > MAX_NESTED_ENTRIES) return `Tensor(shape ${describe(this._shape)}, dtype ${this._dtype}, too large to print)`;
    return formatNested(this.toArray(), this._shape, isFloat(this._dtype));
  }

  /** Frees the tensor's memory now (views keep shared memory alive until they are disposed too). */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._grad = null;
    if (this._storage) this._storage.release();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---------------------------------------------------------------- binary ops

  add(other: TensorLike): Tensor { return this._binary('add', other); }
  sub(other: TensorLike): Tensor { return this._binary('sub', other); }
  mul(other: TensorLike): Tensor { return this._binary('mul', other); }
  div(other: TensorLike): Tensor { return this._binary('div', other); }
  pow(other: TensorLike): Tensor { return this._binary('pow', other); }
  maximum(other: TensorLike): Tensor { return this._binary('maximum', other); }
  minimum(other: TensorLike): Tensor { return this._binary('minimum', other); }
  logicalAnd(other: TensorLike): Tensor { return this._binary('logical_and', other); }
  logicalOr(other: TensorLike): Tensor { return this._binary('logical_or', other); }
  logicalXor(other: TensorLike): Tensor { return this._binary('logical_xor', other); }
  logicalNot(): Tensor { return this._unary('logical_not'); }
  eq(other: TensorLike): Tensor { return this._binary('eq', other); }
  ne(other: TensorLike): Tensor { return this._binary('ne', other); }
  lt(other: TensorLike): Tensor { return this._binary('lt', other); }
  le(other: TensorLike): Tensor { return this._binary('le', other); }
  gt(other: TensorLike): Tensor { return this._binary('gt', other); }
  ge(other: TensorLike): Tensor { return this._binary('ge', other); }

  // ---------------------------------------------------------------- unary ops

  neg(): Tensor { return this._unary('neg'); }
  abs(): Tensor { return this._unary('abs'); }
  sign(): Tensor { return this._unary('sign'); }
  square(): Tensor { return this._unary('square'); }
  sqrt(): Tensor { return this._unary('sqrt'); }
  recip(): Tensor { return this._unary('recip'); }
  relu(): Tensor { return this._unary('relu'); }
  sigmoid(): Tensor { return this._unary('sigmoid'); }
  tanh(): Tensor { return this._unary('tanh'); }
  /** GELU, tanh approximation (as upstream hodu). */
  gelu(): Tensor { return this._unary('gelu'); }
  softplus(): Tensor { return this._unary('softplus'); }
  sin(): Tensor { return this._unary('sin'); }
  cos(): Tensor { return this._unary('cos'); }
  tan(): Tensor { return this._unary('tan'); }
  exp(): Tensor { return this._unary('exp'); }
  exp2(): Tensor { return this._unary('exp2'); }
  exp10(): Tensor { return this._unary('exp10'); }
  ln(): Tensor { return this._unary('ln'); }
  log2(): Tensor { return this._unary('log2'); }
  log10(): Tensor { return this._unary('log10'); }
  silu(): Tensor { return this._unary('silu'); }
  /** The error function erf(x) = 2/√π ∫₀ˣ e^(-t²) dt (float dtypes; f32 within ~1 ulp of float64). */
  erf(): Tensor { return this._unary('erf'); }
  /**
   * Exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2 (float dtypes), as PyTorch's `gelu(approximate='none')`
   * and ONNX's `Gelu`. `gelu()` is the tanh approximation. A HODU script runs it inside a preceding
   * matmul or conv as a oneDNN post-op.
   */
  geluErf(): Tensor { return this._unary('gelu_erf'); }
  leakyRelu(slope = 0.01): Tensor {
    if (typeof slope !== 'number') throw invalidArg(`leakyRelu: slope must be a number, got ${describe(slope)}`);
    return this._unary('leaky_relu', [slope]);
  }
  elu(alpha = 1.0): Tensor {
    if (typeof alpha !== 'number') throw invalidArg(`elu: alpha must be a number, got ${describe(alpha)}`);
    return this._unary('elu', [alpha]);
  }
  /** Clamps into [min, max]; either bound may be ±Infinity (or omitted). */
  clamp(min = -Infinity, max = Infinity): Tensor {
    if (typeof min !== 'number' || typeof max !== 'number' || Number.isNaN(min) || Number.isNaN(max))
      throw invalidArg(`clamp: bounds must be numbers, got ${describe(min)} and ${describe(max)}`);
    return this._unary('clamp', [min, max]);
  }

  // ---------------------------------------------------------------- matrix

  matmul(other: Tensor): Tensor {
    this._check();
    if (!(other instanceof Tensor)) throw invalidArg(`matmul: operand must be a Tensor, got ${describe(other)}`);
    return Tensor._op('matmul', [this, other]);
  }

  /** Transpose of the last two dims. */
  t(): Tensor {
    this._check();
    if (this.ndim < 2) throw invalidArg(`t: needs a tensor with at least 2 dims, got shape ${describe(this._shape)}`);
    return this.transpose(-2, -1);
  }

  // ---------------------------------------------------------------- reductions

  sum(dims?: number | number[], keepdim = false): Tensor { return this._reduce('sum', dims, keepdim); }
  mean(dims?: number | number[], keepdim = false): Tensor { return this._reduce('mean', dims, keepdim); }
  max(dims?: number | number[], keepdim = false): Tensor { return this._reduce('max', dims, keepdim); }
  min(dims?: number | number[], keepdim = false): Tensor { return this._reduce('min', dims, keepdim); }
  prod(dims?: number | number[], keepdim = false): Tensor { return this._reduce('prod', dims, keepdim); }
  /** Population variance (÷N). */
  var(dims?: number | number[], keepdim = false): Tensor { return this._reduce('var', dims, keepdim); }
  /** Population standard deviation (÷N). */
  std(dims?: number | number[], keepdim = false): Tensor { return this._reduce('std', dims, keepdim); }
  /** L2 norm, √Σx². */
  norm(dims?: number | number[], keepdim = false): Tensor { return this._reduce('norm', dims, keepdim); }
  /** Index (I64) of the maximum; over several dims, the flat row-major index within them. */
  argmax(dims?: number | number[], keepdim = false): Tensor { return this._reduce('argmax', dims, keepdim); }
  argmin(dims?: number | number[], keepdim = false): Tensor { return this._reduce('argmin', dims, keepdim); }

  // ---------------------------------------------------------------- shape ops

  reshape(shape: Shape): Tensor {
    this._check();
    if (!Array.isArray(shape)) throw invalidArg(`reshape: shape must be an array, got ${describe(shape)}`);
    const out = shape.slice();
    let infer = -1;
    let known = 1;
    for (let i = 0; i < out.length; i++) {
      const d = out[i];
      if (d === -1) {
        if (infer >= 0) throw invalidArg(`reshape: only one dim may be -1, got ${describe(shape)}`);
        infer = i;
      } else if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
        throw invalidArg(`reshape: ${describe(shape)} must contain non-negative integers or one -1 (found ${describe(d)})`);
      } else {
        known *= d;
      }
    }
    if (infer >= 0) {
      if (known === 0 || this.size % known !== 0)
        throw new HoduError(ErrorCode.SHAPE_MISMATCH, `reshape: cannot reshape a tensor of shape ${describe(this._shape)} (${this.size} elements) to ${describe(shape)}`);
      out[infer] = this.size / known;
    }
    return Tensor._op('reshape', [this], out);
  }

  view(shape: Shape): Tensor {
    return this.reshape(shape);
  }

  flatten(startDim = 0, endDim = -1): Tensor {
    this._check();
    if (this.ndim === 0) return this.reshape([1]);
    const s = normDim(startDim, this.ndim, 'flatten');
    const e = normDim(endDim, this.ndim, 'flatten');
    if (s > e) throw invalidArg(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
    const sh = this._shape;
    const mid = sh.slice(s, e + 1).reduce((a, b) => a * b, 1);
    return this.reshape([...sh.slice(0, s), mid, ...sh.slice(e + 1)]);
  }

  /** Removes size-1 dims: the given one (a no-op if its size is not 1), or all when omitted. */
  squeeze(dim?: number | number[]): Tensor {
    this._check();
    const sh = this._shape;
    let drop: Set<number>;
    if (dim === undefined) drop = new Set(sh.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0));
    else drop = new Set((Array.isArray(dim) ? dim : [dim]).map((d) => normDim(d, this.ndim, 'squeeze')).filter((d) => sh[d] === 1));
    return this.reshape(sh.filter((_, i) => !drop.has(i)));
  }

  unsqueeze(dim: number): Tensor {
    this._check();
    const d = normDim(dim, this.ndim + 1, 'unsqueeze');
    const sh = this._shape.slice();
    sh.splice(d, 0, 1);
    return this.reshape(sh);
  }

  transpose(dim0: number, dim1: number): Tensor {
    this._check();
    const a = normDim(dim0, this.ndim, 'transpose');
    const b = normDim(dim1, this.ndim, 'transpose');
    const perm = this._shape.map((_, i) => i);
    perm[a] = b;
    perm[b] = a;
    return Tensor._op('permute', [this], perm);
  }

  permute(dims: number[]): Tensor {
    this._check();
    if (!Array.isArray(dims)) throw invalidArg(`permute: dims must be an array, got ${describe(dims)}`);
    return Tensor._op('permute', [this], dims.slice());
  }

  broadcastTo(shape: Shape): Tensor {
    this._check();
    return Tensor._op('broadcast_to', [this], checkShape(shape, 'broadcastTo: shape'));
  }

  /** Like broadcastTo, where -1 keeps the existing size of a dim. */
  expand(shape: Shape): Tensor {
    this._check();
    if (!Array.isArray(shape)) throw invalidArg(`expand: shape must be an array, got ${describe(shape)}`);
    const lead = shape.length - this.ndim;
    if (lead < 0)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `expand: shape ${describe(shape)} has fewer dims than the tensor ${describe(this._shape)}`);
    const out = shape.map((d, i) => {
      if (d !== -1) return d;
      if (i < lead) throw invalidArg(`expand: -1 is not allowed for the new leading dim ${i} in ${describe(shape)}`);
      return this._shape[i - lead];
    });
    return this.broadcastTo(out);
  }

  narrow(dim: number, start: number, length: number): Tensor {
    this._check();
    const d = normDim(dim, this.ndim, 'narrow');
    const size = this._shape[d];
    let s = checkInt(start, 'narrow: start');
    checkInt(length, 'narrow: length');
    if (s < -size || s > size) throw invalidArg(`narrow: start ${start} is out of range for dim ${dim} of size ${size}`);
    if (s < 0) s += size;
    if (length < 0 || s + length > size)
      throw invalidArg(`narrow: start ${start} + length ${length} exceeds dim ${dim} of size ${size}`);
    // a negative start stays relative to the end (so it follows a symbolic size)
    if (start < 0) return Tensor._op('slice', [this], [d, start, start + length < 0 ? start + length : size, 1]);
    return Tensor._op('slice', [this], [d, s, s + length, 1]);
  }

  /** Elements start, start+step, ... below end along dim (end clamped to the size; negatives count from the end). */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    this._check();
    const d = normDim(dim, this.ndim, 'slice');
    checkInt(start, 'slice: start');
    const e = end === undefined || end === Infinity ? this._shape[d] : checkInt(end, 'slice: end');
    if (checkInt(step, 'slice: step') <= 0) throw invalidArg(`slice: step must be positive, got ${step}`);
    return Tensor._op('slice', [this], [d, start, e, step]);
  }

  /** Splits into pieces of `size` (the last may be smaller) or of the given sizes, along dim. */
  split(sizeOrSizes: number | number[], dim = 0): Tensor[] {
    this._check();
    const d = normDim(dim, this.ndim, 'split');
    const total = this._shape[d];
    let sizes: number[];
    if (typeof sizeOrSizes === 'number') {
      const s = checkInt(sizeOrSizes, 'split: size');
      if (s <= 0) throw invalidArg(`split: size must be positive, got ${s}`);
      if (symbolicDim([total]) >= 0)
        throw invalidArg(`split: dim ${dim} is symbolic; the number of pieces would depend on its size (give the sizes, e.g. from x.shape)`);
      if (Math.ceil(total / s) > MAX_SPLIT_PIECES)
        throw invalidArg(`split: ${Math.ceil(total / s)} pieces of size ${s} (dim of size ${total}) is more than the ${MAX_SPLIT_PIECES} allowed`);
      sizes = [];
      for (let at = 0; at < total; at += s) sizes.push(Math.min(s, total - at));
      if (total === 0) sizes.push(0);
    } else if (Array.isArray(sizeOrSizes)) {
      sizes = sizeOrSizes.map((s) => checkInt(s, 'split: sizes'));
      if (sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== total)
        throw new HoduError(ErrorCode.SHAPE_MISMATCH, `split: sizes ${describe(sizeOrSizes)} do not add up to dim ${dim} of size ${total}`);
    } else {
      throw invalidArg(`split: expected a size or an array of sizes, got ${describe(sizeOrSizes)}`);
    }
    const out: Tensor[] = [];
    let at = 0;
    for (const s of sizes) {
      out.push(this.narrow(d, at, s));
      at += s;
    }
    return out;
  }

  /** Splits into `n` pieces of ceil(size / n) (fewer when the size is small), along dim. */
  chunk(n: number, dim = 0): Tensor[] {
    this._check();
    if (checkInt(n, 'chunk: n') <= 0) throw invalidArg(`chunk: n must be positive, got ${n}`);
    const d = normDim(dim, this.ndim, 'chunk');
    if (symbolicDim([this._shape[d]]) >= 0) throw invalidArg(`chunk: dim ${dim} is symbolic; chunk sizes would depend on its size`);
    const size = Math.ceil(this._shape[d] / n) || 1;
    return this.split(size, d);
  }

  indexSelect(dim: number, indices: Tensor | number[]): Tensor {
    this._check();
    if (Array.isArray(indices)) {
      // checked before any output is allocated (and also when the output would be empty)
      const d = normDim(dim, this.ndim, 'indexSelect');
      const size = this._shape[d];
      for (const i of indices)
        if (typeof i === 'number' && Number.isInteger(i) && (i < 0 || i >= size))
          throw invalidArg(`indexSelect: index ${i} is out of range for dim ${d} of size ${size}${size ? ` (expected 0..${size - 1})` : ' (the dim is empty)'}`);
    }
    const idx = indices instanceof Tensor ? indices : Tensor.fromArray(indices, undefined, DType.I64);
    return Tensor._op('index_select', [this, idx], [dim]);
  }

  gather(dim: number, indices: Tensor): Tensor {
    this._check();
    if (!(indices instanceof Tensor)) throw invalidArg(`gather: indices must be a Tensor, got ${describe(indices)}`);
    return Tensor._op('gather', [this, indices], [dim]);
  }

  static concat(tensors: Tensor[], dim = 0): Tensor {
    if (!Array.isArray(tensors) || tensors.length === 0) throw invalidArg('concat: expected a non-empty array of tensors');
    for (const t of tensors) if (!(t instanceof Tensor)) throw invalidArg(`concat: ${describe(t)} is not a Tensor`);
    return Tensor._op('concat', tensors, [dim]);
  }

  /** Elementwise cond ? a : b, broadcasting all three. A non-bool cond counts nonzero as true. */
  static where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
    if (!(cond instanceof Tensor)) throw invalidArg(`where: cond must be a Tensor, got ${describe(cond)}`);
    const c = cond.dtype === DType.BOOL ? cond : cond.toDtype(DType.BOOL);
    let ta: Tensor, tb: Tensor;
    if (a instanceof Tensor) {
      ta = a;
      tb = b instanceof Tensor ? b : Tensor._scalar(b as number, a.dtype);
    } else if (b instanceof Tensor) {
      tb = b;
      ta = Tensor._scalar(a as number, b.dtype);
    } else {
      ta = Tensor._scalar(a as number, DType.F32);
      tb = Tensor._scalar(b as number, DType.F32);
    }
    if (ta.dtype !== tb.dtype) {
      if (ta.dtype === DType.BOOL) ta = ta.toDtype(tb.dtype);
      else if (tb.dtype === DType.BOOL) tb = tb.toDtype(ta.dtype);
    }
    return Tensor._op('where', [c, ta, tb]);
  }

  // ---------------------------------------------------------------- nn functional

  softmax(dim: number): Tensor {
    return this._unary('softmax', [checkInt(dim, 'softmax: dim')]);
  }
  logSoftmax(dim: number): Tensor {
    return this._unary('log_softmax', [checkInt(dim, 'logSoftmax: dim')]);
  }

  /**
   * Layer normalization over the trailing dims `normalizedShape` (as PyTorch's
   * `F.layer_norm(x, normalizedShape, weight, bias, eps)`): `(x - mean) / sqrt(var + eps) * weight + bias`
   * with the biased variance. `weight` and `bias` have shape `normalizedShape`; null or omitted means
   * ones and zeros. One op (`layer_norm`): HODU runs oneDNN's layer normalization for f32.
   */
  layerNorm(normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
    this._check();
    const ns = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(ns) || ns.length === 0) throw invalidArg(`layerNorm: normalizedShape must be a positive integer or a non-empty array, got ${describe(normalizedShape)}`);
    ns.forEach((d) => checkInt(d, 'layerNorm: normalizedShape'));
    const k = ns.length;
    if (this.ndim < k || ns.some((d, i) => d !== this.shape[this.ndim - k + i]))
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `layerNorm: input ${describe(this.shape)} does not end with normalizedShape ${describe(ns)}`);
    if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw invalidArg(`layerNorm: eps must be a finite number >= 0, got ${describe(eps)}`);
    if (weight != null && !(weight instanceof Tensor)) throw invalidArg(`layerNorm: weight must be a Tensor or null, got ${describe(weight)}`);
    if (bias != null && !(bias instanceof Tensor)) throw invalidArg(`layerNorm: bias must be a Tensor or null, got ${describe(bias)}`);
    const w = weight ?? Tensor.ones(ns.slice(), this.dtype);
    const b = bias ?? Tensor.zeros(ns.slice(), this.dtype);
    return Tensor._op('layer_norm', [this, w, b], [this.ndim - k, eps]);
  }

  /** 2-D convolution; input NCHW, weight OIHW, bias [O] or null. */
  conv2d(weight: Tensor, bias?: Tensor | null, options: Conv2dOptions = {}): Tensor {
    this._check();
    if (!(weight instanceof Tensor)) throw invalidArg(`conv2d: weight must be a Tensor, got ${describe(weight)}`);
    if (bias != null && !(bias instanceof Tensor)) throw invalidArg(`conv2d: bias must be a Tensor or null, got ${describe(bias)}`);
    if (options === null || options === undefined) options = {};  // null: the defaults, like {}
    if (typeof options !== 'object') throw invalidArg(`conv2d: options must be an object, got ${describe(options)}`);
    const [sh, sw] = pair(options.stride, 1, 'conv2d: stride');
    const [ph, pw] = pair(options.padding, 0, 'conv2d: padding');
    const [dh, dw] = pair(options.dilation, 1, 'conv2d: dilation');
    const groups = options.groups === undefined ? 1 : checkInt(options.groups, 'conv2d: groups');
    const inputs = bias ? [this, weight, bias] : [this, weight];
    return Tensor._op('conv2d', inputs, [sh, sw, ph, pw, dh, dw, groups]);
  }

  private _pool(op: string, options: Pool2dOptions): Tensor {
    this._check();
    if (options === null || typeof options !== 'object') throw invalidArg(`${op}: expected options {kernel, stride?, padding?}`);
    const [kh, kw] = pair(options.kernel, NaN, `${op}: kernel`);
    if (Number.isNaN(kh)) throw invalidArg(`${op}: kernel is required`);
    const [sh, sw] = options.stride === undefined ? [kh, kw] : pair(options.stride, 1, `${op}: stride`);
    const [ph, pw] = pair(options.padding, 0, `${op}: padding`);
    return Tensor._op(op, [this], [kh, kw, sh, sw, ph, pw]);
  }
  maxPool2d(options: Pool2dOptions): Tensor {
    return this._pool('max_pool2d', options);
  }
  /** Average pooling; divides by the full kernel size, padded cells included (PyTorch's default). */
  avgPool2d(options: Pool2dOptions): Tensor {
    return this._pool('avg_pool2d', options);
  }

  // ---------------------------------------------------------------- casts and copies

  toDtype(dtype: DType): Tensor {
    this._check();
    const dt = checkDType(dtype, 'toDtype');
    if (dt === this._dtype) return this._alias();
    return Tensor._op('cast', [this], [dtypeCode(dt)]);
  }

  /** A row-major copy when the tensor is strided; otherwise a new handle on the same memory. */
  contiguous(): Tensor {
    this._check();
    if (this.isContiguous) return this._alias();
    return Tensor._op('copy', [this]);
  }

  /** A new handle on the same data, cut from the gradient graph. */
  detach(): Tensor {
    this._check();
    const t = Tensor._make(this._storage ? this._storage.retain() : null, this._dtype, this._shape, this._strides, this._offset);
    t._node = this._node;
    t._graph = this._graph;
    return t;
  }

  /** @internal same data, same graph position (a no-op op) */
  _alias(): Tensor {
    if (hooks.recorder) return Tensor._op('reshape', [this], this._shape.slice());
    const t = Tensor._make(this._storage ? this._storage.retain() : null, this._dtype, this._shape, this._strides, this._offset);
    if (hooks.afterOp) hooks.afterOp('reshape', [this], this._shape.slice(), t);
    return t;
  }
}

/** Copies src (same shape and dtype, any strides) into dst's memory element by element order. */
function writeInto(dst: Tensor, src: Tensor): void {
  const from = src.toTypedArray() as unknown as { [i: number]: number | bigint; length: number }; // contiguous copy if strided
  if (dst.isContiguous) {
    (dst.toTypedArray() as unknown as { set(a: ArrayLike<number | bigint>): void }).set(from as ArrayLike<number | bigint>);
    return;
  }
  const info = dtypeInfo(dst.dtype);
  const mem = new info.ctor(dst._storage!.buffer) as unknown as { [i: number]: number | bigint };
  const shape = dst.shape;
  const strides = dst.strides;
  const n = dst.size;
  const idx = new Array<number>(shape.length).fill(0);
  let at = dst._offset;
  for (let k = 0; k < n; k++) {
    mem[at] = from[k];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      at += strides[d];
      if (idx[d] < shape[d]) break;
      at -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Free-function forms. */
export function concat(tensors: Tensor[], dim = 0): Tensor {
  return Tensor.concat(tensors, dim);
}
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return Tensor.where(cond, a, b);
}
