// Script: a recorded graph that compiles once (per backend and device) and runs many times.
import { Backend, Device } from './device';
import { DType, dtypeFromCode } from './dtype';
import { ErrorCode, HoduError, describe, fromNative, invalidArg } from './errors';
import { binding, call } from './native';
import { decodeScriptFile, encodeScriptFile, readScriptFile, writeScriptFile } from './script-file';
import { Storage } from './storage';
import { Tensor } from './tensor';
import { eager } from './ir/graph';
import { Baked, ScriptState, VariableSpec, bakeReadOnly, isReservedName, isStale, VAR_PREFIX } from './variables';
import { IrOutput, IrValue } from './ir/graph';
import { encodeGraph } from './ir/encode';
import { decodeGraph } from './ir/decode';

export interface TensorInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export interface CompileOptions {
  /** Evaluate ops whose inputs are all constants at compile time (default true). */
  foldConstants?: boolean;
  /** Fuse bias adds and activations into the matmul/conv before them (default true). */
  fuse?: boolean;
  /**
   * Roll repeated steps (a recorded training loop) into one loop: the body compiles once and runs
   * N times (default true). `false` compiles every recorded step, e.g. to compare results.
   */
  rollLoops?: boolean;
  /**
   * Keep conv results that only convs and pools read in channels-last (nhwc) order, the layout
   * oneDNN's convolutions run on, so no reorder runs between them (default true; HODU backend).
   */
  channelsLast?: boolean;
}

/** A loop the compiler rolled: `trips` runs of one step. */
export interface LoopInfo {
  trips: number;
  /** Kernel executions per iteration (HODU backend). */
  bodySteps?: number;
}

export interface PlanInfo {
  steps: number;
  arenaBytes: number;
  constantBytes: number;
  scratchBytes: number;
  folded: number;
  views: number;
  fused: number;
  kernels: string[];
  /** Rolled loops, in execution order (empty when none rolled). */
  loops: LoopInfo[];
  /**
   * HODU backend: whether runs use all threads or one now (each plan times its runs and picks;
   * `HODU_THREADS=all|one` fixes it).
   */
  threads?: 'all' | 'one';
}

interface NativeBackend {
  compile(ir: Uint8Array, constants: ArrayBuffer[], options: CompileOptions): unknown;
  run(handle: unknown, inputs: ArrayBufferView[]): ArrayBuffer[];
  runAsync(handle: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: ArrayBuffer[]) => void): void;
  release(handle: unknown): void;
  info(handle: unknown): PlanInfo;
}

const scriptNative = binding as unknown as {
  describeIr(ir: Uint8Array, constants: ArrayBuffer[]): { inputs: { name: string; dtype: number; shape: number[] }[]; outputs: { name: string; dtype: number; shape: number[] }[] };
  compilePlan(ir: Uint8Array, constants: ArrayBuffer[], options: CompileOptions): unknown;
  runPlan(h: unknown, inputs: ArrayBufferView[]): ArrayBuffer[];
  runPlanAsync(h: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: ArrayBuffer[]) => void): void;
  planStats(h: unknown): PlanInfo;
  releasePlan(h: unknown): void;
};

const HODU_BACKEND: NativeBackend = {
  compile: (ir, constants, options) => scriptNative.compilePlan(ir, constants, options),
  run: (h, inputs) => scriptNative.runPlan(h, inputs),
  runAsync: (h, inputs, cb) => scriptNative.runPlanAsync(h, inputs, cb),
  release: (h) => scriptNative.releasePlan(h),
  info: (h) => scriptNative.planStats(h),
};

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export class Script {
  readonly name: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** @internal */ readonly _ir: Uint8Array;
  /** @internal */ readonly _constants: ArrayBuffer[];
  private readonly bound = new Map<string, Tensor>();
  private _backend: Backend = Backend.HODU;
  private _device: Device = Device.CPU;
  private handle: unknown = null;
  private compiledWith: string | null = null;
  private native: NativeBackend | null = null;
  /** @internal every IR input/output, reserved ones (variables, random draws) included */
  readonly _allInputs: readonly TensorInfo[];
  /** @internal */ readonly _allOutputs: readonly TensorInfo[];
  /** @internal variables and per-run random inputs (null when the script has none) */
  readonly _state: ScriptState | null;

  private constructor(name: string, ir: Uint8Array, constants: ArrayBuffer[], variables?: VariableSpec[]) {
    const d = call(() => scriptNative.describeIr(ir, constants));
    this.name = name;
    this._ir = ir;
    this._constants = constants;
    const info = (x: { name: string; dtype: number; shape: number[] }): TensorInfo =>
      Object.freeze({ name: x.name, dtype: dtypeFromCode(x.dtype), shape: Object.freeze(x.shape.slice()) });
    this._allInputs = Object.freeze(d.inputs.map(info));
    this._allOutputs = Object.freeze(d.outputs.map(info));
    this.inputs = Object.freeze(this._allInputs.filter((i) => !isReservedName(i.name)));
    this.outputs = Object.freeze(this._allOutputs.filter((o) => !isReservedName(o.name)));
    const reserved = this._allInputs.some((i) => isReservedName(i.name));
    let vars = variables;
    if (!vars && reserved) {
      vars = ownVariables(this._allInputs, this._allOutputs, constants);
      this._constants = constants.slice(0, constants.length - vars.length); // the rest were the stored values
    }
    this._state = reserved || (vars && vars.length) ? new ScriptState(vars ?? []) : null;
  }

  /** @internal */
  static _create(name: string, ir: Uint8Array, constants: ArrayBuffer[], variables?: VariableSpec[]): Script {
    return new Script(name, ir, constants, variables);
  }

  /** @internal the recorded graph of a built script (HODU bakes read-only parameters in from it) */
  _parts: { values: IrValue[]; outputs: IrOutput[] } | null = null;
  /** @internal the current compile's baked parameters (HODU), or null */
  private baked: Baked | null = null;
  private lastOptions: CompileOptions = {};

  /**
   * The script's variables by name (SPEC §5): the same tensor objects the recording used
   * (parameters, optimizer state, assigned tensors). Every run reads their current values and
   * writes updated ones back into them. Empty for a script without state.
   */
  get variables(): Record<string, Tensor> {
    return this._state ? this._state.record() : {};
  }

  get backend(): Backend {
    return this._backend;
  }
  get device(): Device {
    return this._device;
  }
  get isCompiled(): boolean {
    return this.handle !== null;
  }

  setBackend(backend: Backend): this {
    if (backend !== Backend.HODU && backend !== Backend.XLA) throw invalidArg(`setBackend: ${describe(backend)} is not a Backend (HODU or XLA)`);
    if (backend !== this._backend) {
      this._backend = backend;
      this.dropCompiled();
    }
    return this;
  }

  setDevice(device: Device): this {
    if (!(device instanceof Device)) throw invalidArg(`setDevice: ${describe(device)} is not a Device (Device.CPU or Device.CUDA(n))`);
    if (!device.equals(this._device)) {
      this._device = device;
      this.dropCompiled();
    }
    return this;
  }

  addInput(name: string, tensor: Tensor): this {
    if (typeof name !== 'string') throw invalidArg(`addInput: name must be a string, got ${describe(name)}`);
    if (!(tensor instanceof Tensor)) throw invalidArg(`addInput('${name}'): expected a Tensor, got ${describe(tensor)}`);
    this.bound.set(name, tensor);
    return this;
  }

  clearInputs(): this {
    this.bound.clear();
    return this;
  }

  /** Compiles for the current backend and device; cached until setBackend/setDevice. */
  compile(options: CompileOptions = {}): this {
    const opts: CompileOptions = {
      foldConstants: options.foldConstants !== false,
      fuse: options.fuse !== false,
      rollLoops: options.rollLoops !== false,
      channelsLast: options.channelsLast !== false,
    };
    const key = JSON.stringify({ b: this._backend, d: this._device.toString(), ...opts });
    if (this.handle !== null && this.compiledWith === key) return this;
    this.dropCompiled();
    this.native = this.selectBackend();
    // HODU: read-only parameters compile in as constants (folded, pre-packed), rebuilt when changed
    if (!this._parts && this._backend === Backend.HODU && this._state && this._state.variables.some((v) => v.bakeable))
      this._parts = decodeGraph(this._ir); // a loaded script: its graph from the IR
    const baked = this._backend === Backend.HODU && this._state && this._parts
      ? bakeReadOnly(this._parts.values, this._parts.outputs, this._constants, this._state, encodeGraph)
      : null;
    this.handle = call(() => this.native!.compile(baked ? baked.ir : this._ir, baked ? baked.constants : this._constants, opts));
    this.baked = baked;
    this.lastOptions = options;
    this.compiledWith = key;
    return this;
  }

  /** Compiles, or recompiles when a baked parameter changed since the last compile. */
  private ensureCompiled(): void {
    if (!this.isCompiled) this.compile();
    else if (this.baked && isStale(this.baked)) {
      const o = this.lastOptions;
      this.dropCompiled();
      this.compile(o);
    }
  }

  /** Details of the compiled plan (kernels, memory); compiles first if needed. */
  planInfo(): PlanInfo {
    if (!this.isCompiled) this.compile();
    return call(() => this.native!.info(this.handle));
  }

  run(): Record<string, Tensor> {
    if (this._state) this._state.enterSync(this.name);
    if (this._state) this.ensureCompiled(); // before binding: baking decides which inputs are bound
    const inputs = this.prepareInputs();
    if (!this.isCompiled) this.compile();
    const outs = call(() => this.native!.run(this.handle, inputs.views));
    return this.wrapOutputs(outs);
  }

  /**
   * Runs on the libuv thread pool; the event loop stays free. Runs of a script that updates
   * variables queue up: each starts when the one before it has written its variables back.
   */
  runAsync(): Promise<Record<string, Tensor>> {
    return this._state ? this._state.serialize(() => this.runAsyncNow()) : this.runAsyncNow();
  }

  private runAsyncNow(): Promise<Record<string, Tensor>> {
    let inputs: { views: ArrayBufferView[]; storages: Storage[] };
    try {
      if (this._state) this.ensureCompiled();
      inputs = this.prepareInputs();
      if (!this.isCompiled) this.compile();
    } catch (e) {
      return Promise.reject(e);
    }
    const native = this.native!;
    const handle = this.handle;
    // keep the input memory alive even if a tensor is disposed during the run
    for (const s of inputs.storages) s.retain();
    return new Promise((resolve, reject) => {
      try {
        native.runAsync(handle, inputs.views, (err, outs) => {
          for (const s of inputs.storages) s.release();
          if (err) reject(fromNative(err));
          else resolve(this.wrapOutputs(outs!));
        });
      } catch (e) {
        for (const s of inputs.storages) s.release();
        reject(fromNative(e));
      }
    });
  }

  /** Writes the script (IR, constants, format version, checksum) atomically. Adds `.hoduscript` without an extension. */
  save(path: string): string {
    return writeScriptFile(path, this.toBytes());
  }

  static load(path: string): Script {
    const f = decodeScriptFile(readScriptFile(path));
    return Script._fromParts(f.name, f.ir, f.constants);
  }

  /** The script file's bytes; variables are stored with their current values (after the constants). */
  toBytes(): Uint8Array {
    return encodeScriptFile(this.name, this._ir, this._state ? saveVariables(this._allInputs, this._state, this._constants) : this._constants);
  }

  static fromBytes(bytes: Uint8Array | ArrayBuffer): Script {
    const f = decodeScriptFile(bytes);
    return Script._fromParts(f.name, f.ir, f.constants);
  }

  private static _fromParts(name: string, ir: Uint8Array, constants: ArrayBuffer[]): Script {
    try {
      return new Script(name, ir, constants);
    } catch (e) {
      const err = fromNative(e);
      if (err.code === ErrorCode.INVALID_FILE) throw err;
      throw new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${err.message}`);
    }
  }

  /** Frees the compiled plan now (it is rebuilt by the next compile or run). */
  dispose(): void {
    this.dropCompiled();
  }

  private dropCompiled(): void {
    if (this.handle !== null && this.native) this.native.release(this.handle);
    this.handle = null;
    this.compiledWith = null;
    this.native = null;
    this.baked = null;
  }

  private selectBackend(): NativeBackend {
    if (this._backend === Backend.HODU) {
      if (!this._device.isCpu)
        throw new HoduError(
          ErrorCode.DEVICE_UNAVAILABLE,
          `the HODU backend runs on the CPU only; for ${this._device} use setBackend(Backend.XLA) with a CUDA PJRT plugin`,
        );
      return HODU_BACKEND;
    }
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { xlaBackend } = require('./xla') as { xlaBackend(device: Device): NativeBackend };
    return xlaBackend(this._device);
  }

  private prepareInputs(): { views: ArrayBufferView[]; storages: Storage[] } {
    for (const name of this.bound.keys())
      if (!this.inputs.some((i) => i.name === name))
        throw new HoduError(
          ErrorCode.INPUT_UNKNOWN,
          `script '${this.name}' has no input named '${name}' (inputs: ${this.inputs.map((i) => `'${i.name}'`).join(', ') || 'none'})`,
        );
    const views: ArrayBufferView[] = [];
    const storages: Storage[] = [];
    if (this._state) this._state.refresh();
    const baked = this.baked;
    for (const info of this._allInputs) {
      if (baked && !baked.keep(info)) continue; // compiled in as a constant
      if (isReservedName(info.name)) {
        const r = this._state!.view(info.name, info.shape, info.dtype, this.name);
        views.push(r.view);
        storages.push(r.storage);
        continue;
      }
      const t = this.bound.get(info.name);
      if (!t)
        throw new HoduError(
          ErrorCode.INPUT_MISSING,
          `script '${this.name}': input '${info.name}' (${info.dtype}[${info.shape.join(', ')}]) was not given (use addInput)`,
        );
      t._check();
      if (t.isSymbolic) throw invalidArg(`input '${info.name}': a builder tensor has no data`);
      if (!sameShape(t.shape, info.shape))
        throw new HoduError(
          ErrorCode.SHAPE_MISMATCH,
          `input '${info.name}': expected shape [${info.shape.join(', ')}], got [${t.shape.join(', ')}]`,
        );
      if (t.dtype !== info.dtype)
        throw new HoduError(ErrorCode.DTYPE_MISMATCH, `input '${info.name}': expected dtype ${info.dtype}, got ${t.dtype}`);
      const c = t.isContiguous ? t : eager(() => t.contiguous());
      const a = c.toTypedArray();
      views.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      storages.push(c._storage!);
    }
    return { views, storages };
  }

  private wrapOutputs(outs: ArrayBuffer[]): Record<string, Tensor> {
    const r: Record<string, Tensor> = {};
    this._allOutputs.forEach((o, i) => {
      if (isReservedName(o.name)) this._state!.writeBack(o.name, outs[i]);
      else r[o.name] = Tensor._make(new Storage(outs[i]), o.dtype, o.shape.slice());
    });
    return r;
  }
}


/** The variables of a loaded script: its own tensors, from the values stored after the constants. */
function ownVariables(inputs: readonly TensorInfo[], outputs: readonly TensorInfo[], constants: ArrayBuffer[]): VariableSpec[] {
  const vars = inputs.filter((i) => i.name.startsWith(VAR_PREFIX));
  const first = constants.length - vars.length;
  if (first < 0) throw new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${vars.length} variables but only ${constants.length} stored values`);
  return vars.map((info, k) => {
    const bytes = constants[first + k];
    const t = Tensor._make(new Storage(bytes.slice(0)), info.dtype, info.shape.slice());
    const updated = outputs.some((o) => o.name === info.name);
    return { name: info.name.slice(VAR_PREFIX.length), tensor: t, updated, bakeable: !updated };
  });
}

/** Constants followed by each variable's current bytes, in IR input order. */
function saveVariables(inputs: readonly TensorInfo[], state: ScriptState, constants: ArrayBuffer[]): ArrayBuffer[] {
  const out = constants.slice();
  for (const info of inputs) {
    if (!info.name.startsWith(VAR_PREFIX)) continue;
    const v = state.byIrName(info.name)!;
    out.push(eager(() => {
      v.tensor._check();
      const c = v.tensor.contiguous();
      const a = c.toTypedArray();
      return a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;
    }));
  }
  return out;
}
