// Script: a recorded graph that compiles once (per backend and device) and runs many times.
import { Backend, Device } from './device';
import { AnyTypedArray, DType, dtypeFromCode } from './dtype';
import { ErrorCode, HoduError, describe, fromNative, invalidArg } from './errors';
import { didYouMean } from './suggest';
import { binding, call } from './native';
import { decodeScriptFile, encodeScriptFile, readScriptFile, writeScriptFile } from './script-file';
import { Storage } from './storage';
import { Tensor } from './tensor';
import { eager } from './ir/graph';
import { Dim } from './symbolic';
import { ShapeStats, Specialization, SpecializationCache, formatShapes, shapeSignature, shapesFromRecord } from './specialize';
import { ScriptShapes, feedInput, shapesMeta } from './script-shapes';
import { Baked, RunUpdates, ScriptState, VariableSpec, bakeReadOnly, isReservedName, isStale, VAR_PREFIX } from './variables';
import { IrOutput, IrValue } from './ir/graph';
import { encodeGraph } from './ir/encode';
import { DevicesOptions, checkDevices, checkHoduDevices, countCache } from './script-devices';
import { decodeGraph } from './ir/decode';
import { irToText, planToText } from './ir/text';
import { ResidentRuns, TransferStats, deviceSetKey } from './device-state';

export type { DevicesOptions } from './script-devices';

export type { Dim } from './symbolic';

/**
 * A script input or output. `shape` holds sizes, and for symbolic dims (`Tensor.input('x', [null, 784])`
 * or `['batch', 784]`) `null` or the dim's name.
 */
export interface TensorInfo {
  readonly name: string;
  readonly shape: readonly Dim[];
  readonly dtype: DType;
}

/**
 * What `script.stats()` counts (each a running total since the script was made); on Backend.XLA
 * also the bytes its runs copied between host and device (variables stay on the device).
 */
export type ScriptStats = ShapeStats & TransferStats;

/**
 * An input for `run(feeds)` / `runAsync(feeds)`: a Tensor, a typed array of the input's dtype (only
 * when the input's declared shape is fully static: a typed array has no shape), or `{ data, shape }`.
 */
export type Feed = Tensor | AnyTypedArray | { data: AnyTypedArray; shape: readonly number[] };

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
  /**
   * Scripts with symbolic dims: how many specializations (one per concrete shape signature) stay
   * compiled; the least recently used is dropped beyond it (default 8).
   */
  maxSpecializations?: number;
  /**
   * Compile the specialization for these input shapes now (warm-up), e.g. `{ x: [32, 784] }`.
   * Inputs whose shape is static, or whose symbolic dims are all named and given by another input,
   * may be left out.
   */
  shapes?: Record<string, readonly number[]>;
  /**
   * @internal HODU: write updated variables straight into their memory (default true); `false`
   * returns them as outputs that are copied in afterwards (the way before; benchmarks compare).
   */
  variablesInPlace?: boolean;
  /**
   * Backend.XLA: use the persistent compile cache (default true; see README "XLA compile cache").
   * `false` always compiles and stores nothing.
   */
  cache?: boolean;
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
   * HODU backend: updated variables whose new value the kernel computing it writes straight into
   * the variable's memory (no output buffer, no copy).
   */
  variablesInPlace?: number;
  /** HODU backend: updated variables copied into their memory by a last step of the run (no output buffer). */
  variablesCopied?: number;
  /**
   * HODU backend: whether runs use all threads or one, decided at compile from the plan's work
   * (one only when every step is too small to gain from more threads; `HODU_THREADS=all|one` fixes it).
   */
  threads?: 'all' | 'one';
}

interface NativeBackend {
  compile(ir: Uint8Array, constants: ArrayBuffer[], options: CompileOptions): unknown;
  run(handle: unknown, inputs: ArrayBufferView[]): (ArrayBuffer | undefined)[];
  runAsync(handle: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: (ArrayBuffer | undefined)[]) => void): void;
  release(handle: unknown): void;
  info(handle: unknown): PlanInfo;
}

/** The HODU backend's native functions (native/binding/script_wrap.cc; run/runAsync/stats/release are the shared executable functions of native/binding/executable_wrap.cc); part of lib/native.ts Binding. */
export interface ScriptBinding {
  describeIr(ir: Uint8Array, constants: ArrayBuffer[]): { inputs: { name: string; dtype: number; shape: number[] }[]; outputs: { name: string; dtype: number; shape: number[] }[] };
  compilePlan(ir: Uint8Array, constants: ArrayBuffer[], options: CompileOptions): unknown;
  runPlan(h: unknown, inputs: ArrayBufferView[]): (ArrayBuffer | undefined)[];
  runPlanAsync(h: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: (ArrayBuffer | undefined)[]) => void): void;
  planStats(h: unknown): PlanInfo;
  releasePlan(h: unknown): void;
}

const scriptNative: ScriptBinding = binding;

const HODU_BACKEND: NativeBackend = {
  compile: (ir, constants, options) => scriptNative.compilePlan(ir, constants, options),
  run: (h, inputs) => scriptNative.runPlan(h, inputs),
  runAsync: (h, inputs, cb) => scriptNative.runPlanAsync(h, inputs, cb),
  release: (h) => scriptNative.releasePlan(h),
  info: (h) => scriptNative.planStats(h),
};

export class Script {
  readonly name: string;
  readonly inputs: readonly TensorInfo[];
  /** @internal The recorded graph (sizes of symbolic dims are tracer sizes); empty for a traced script. */ readonly _ir: Uint8Array;
  /** @internal */ readonly _constants: ArrayBuffer[];
  /** @internal How this script gets a concrete graph per input shapes (lib/script-shapes.ts). */ readonly _shapes: ScriptShapes;
  private readonly bound = new Map<string, Tensor>();
  private _backend: Backend = Backend.HODU;
  private _device: Device = Device.CPU;
  private readonly cache: SpecializationCache;
  private options: CompileOptions = { foldConstants: true, fuse: true, rollLoops: true, channelsLast: true };
  private _devices: readonly Device[] = [Device.CPU];
  private _split: Record<string, number> | undefined;
  private compiledWith: string | null = null;
  private native: NativeBackend | null = null;
  /** Backend.XLA with variables: they stay on the device between runs (lib/device-state.ts). */
  private resident: ResidentRuns | null = null;
  private readonly transfers: TransferStats = { hostToDeviceBytes: 0, deviceToHostBytes: 0, donatedBuffers: 0 };
  /** @internal every IR input/output, reserved ones (variables, random draws) included */
  readonly _allInputs: readonly TensorInfo[];
  /** The outputs (name, dtype, shape; symbolic dims as null or the name of the input dim they are). */
  get outputs(): readonly TensorInfo[] {
    return this._shapes.outputs;
  }
  /** @internal */
  get _allOutputs(): readonly TensorInfo[] {
    return this._shapes.allOutputs;
  }
  /** @internal variables and per-run random inputs (null when the script has none) */
  readonly _state: ScriptState | null;

  private constructor(name: string, shapes: ScriptShapes, variables?: VariableSpec[]) {
    this.name = name;
    this._shapes = shapes;
    this._ir = shapes.ir;
    this._constants = shapes.constants;
    this._allInputs = shapes.allInputs;
    this.inputs = shapes.inputs;
    this.cache = new SpecializationCache((s) => shapes.derive(s));
    const reserved = this._allInputs.some((i) => isReservedName(i.name));
    let vars = variables;
    if (!vars && reserved) vars = ownVariables(this._allInputs, shapes.outputSlots, shapes.storedValues ?? []);
    this._state = reserved || (vars && vars.length) ? new ScriptState(vars ?? []) : null;
    // a reserved output writes back a variable: it needs that variable's input (a damaged file may lack it)
    for (const o of shapes.outputSlots)
      if (isReservedName(o.name) && !this._allInputs.some((i) => i.name === o.name))
        throw new HoduError(ErrorCode.INVALID_FILE, `invalid script '${name}': output '${o.name}' updates a variable the script does not read`);
  }

  /**
   * @internal A script from a recorded graph; `decls` are the declared shapes of inputs with
   * symbolic dims.
   */
  static _create(
    name: string,
    ir: Uint8Array,
    constants: ArrayBuffer[],
    variables?: VariableSpec[],
    parts?: { values: IrValue[]; outputs: IrOutput[] },
    decls?: ReadonlyMap<string, readonly Dim[]>,
  ): Script {
    const s = new Script(name, ScriptShapes.recorded(name, ir, constants, decls), variables);
    s._parts = parts ?? null;
    return s;
  }

  /** @internal the recorded graph of a built script (HODU bakes read-only parameters in from it) */
  _parts: { values: IrValue[]; outputs: IrOutput[] } | null = null;

  /**
   * The script's variables by name (SPEC §5): the same tensor objects the recording used
   * (parameters, optimizer state, assigned tensors). Every run reads their current values and
   * writes updated ones back into them. Empty for a script without state.
   */
  get variables(): Record<string, Tensor> {
    return this._state ? this._state.record() : {};
  }

  /**
   * @internal A script whose graph is traced again for each concrete shape signature (importers):
   * `inputs`/`outputs` may have symbolic dims; `trace(shapes)` returns the concrete graph for the
   * concrete input shapes by input name. It shares the specialization cache and stats() of every
   * script. Such a script cannot be saved (save()/toBytes() throw INVALID_ARGUMENT).
   */
  static _fromTracer(
    name: string,
    inputs: TensorInfo[],
    outputs: TensorInfo[],
    trace: (shapes: Record<string, number[]>) => { ir: Uint8Array; constants: ArrayBuffer[] },
  ): Script {
    return new Script(name, ScriptShapes.traced(name, inputs, outputs, trace));
  }

  get backend(): Backend {
    return this._backend;
  }
  get device(): Device {
    return this._device;
  }
  /** True when a compiled plan exists (for a script with symbolic dims: for at least one shape signature). */
  get isCompiled(): boolean {
    return this.native !== null && this.cache.hasPlans;
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
    if (!device.equals(this._device) || this._devices.length !== 1) {
      this._device = device;
      this._devices = [device];
      this._split = undefined;
      this.dropCompiled();
    }
    return this;
  }

  /** The devices the script runs on: `[device]`, or several after setDevices. */
  get devices(): readonly Device[] {
    return this._devices;
  }

  /**
   * Runs the script data-parallel on several devices of one kind (Backend.XLA), e.g.
   * `[Device.CUDA(0), Device.CUDA(1)]` or, on the CPU, `[Device.cpu(0), Device.cpu(1)]`: one SPMD
   * program, the batch inputs split across the devices (see DevicesOptions.split), constants and
   * variables replicated and updated identically, every output whole. One device is the same as
   * setDevice. Errors: an empty list, mixed kinds or a repeated device → INVALID_ARGUMENT.
   */
  setDevices(devices: readonly Device[], options: DevicesOptions = {}): this {
    const c = checkDevices(this.name, this.inputs.map((i) => i.name), devices, options);
    if (c.devices.length === 1) return this.setDevice(c.devices[0]);
    this._device = c.devices[0];
    this._devices = c.devices;
    this._split = c.split;
    this.dropCompiled();
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

  /**
   * Compiles for the current backend and device; cached until setBackend/setDevice. A script with
   * symbolic dims compiles one specialization per concrete input shapes, at the first run with them
   * or here with `{ shapes }`; `maxSpecializations` bounds how many stay compiled.
   */
  compile(options: CompileOptions = {}): this {
    if (options === null || typeof options !== 'object') throw invalidArg(`compile: options must be an object, got ${describe(options)}`);
    const opts: CompileOptions = {
      foldConstants: options.foldConstants !== false,
      fuse: options.fuse !== false,
      rollLoops: options.rollLoops !== false,
      channelsLast: options.channelsLast !== false,
    };
    if (options.maxSpecializations !== undefined) this.cache.setMax(options.maxSpecializations, (h) => this.release(h));
    if (options.cache === false) opts.cache = false;
    if (options.variablesInPlace === false) opts.variablesInPlace = false;
    const key = JSON.stringify({ b: this._backend, d: this._devices.map(String), s: this._split, ...opts });
    if (this.native === null || this.compiledWith !== key) {
      this.dropCompiled();
      this.native = this.selectBackend();
      this.options = opts;
      this.compiledWith = key;
    }
    if (options.shapes !== undefined) this.specialization(shapesFromRecord(this.name, this.inputs, options.shapes));
    else if (!this._shapes.symbolic) this.specialization(this.inputs.map((i) => i.shape as number[]));
    return this;
  }

  /**
   * Details of a compiled plan (kernels, memory): the one for `shapes` when given (compiled if
   * needed), else the one used last; a script without symbolic dims compiles first if needed.
   */
  planInfo(shapes?: Record<string, readonly number[]>): PlanInfo {
    let e: Specialization | null;
    if (shapes !== undefined) {
      if (this.native === null) this.compile(this.options);
      e = this.specialization(shapesFromRecord(this.name, this.inputs, shapes));
    } else {
      e = this.native !== null && this.cache.last?.handle != null ? this.cache.last : null;
      if (!e) {
        if (this._shapes.symbolic)
          throw invalidArg(`planInfo: script '${this.name}' has symbolic dims and no compiled specialization yet; run it or call compile({ shapes })`);
        this.compile(this.options);
        e = this.cache.last!;
      }
    }
    const info = call(() => this.native!.info(e!.handle));
    Object.defineProperty(info, 'toString', { value: () => planToText(info), enumerable: false });
    return info;
  }

  /**
   * A stage of the script as text (like JAX's `as_text()`):
   * - `'ir'` (default): the graph, one value per line (`%3 = add(%1, %2) : f32[2, 3]`): for a script
   *   with symbolic dims or an ONNX import, the graph of the specialization used last (if any), else
   *   the recorded one;
   * - `'plan'`: the compiled plan of the current backend (compiles first if needed);
   * - `'stablehlo'`: the StableHLO module the XLA backend compiles for that graph (needs an addon
   *   built with the PJRT header, not the plugin).
   */
  asText(stage: 'ir' | 'plan' | 'stablehlo' = 'ir'): string {
    const g = this.cache.last?.graph;
    const ir = g ? g.ir : this._ir;
    const constants = g ? g.constants : this._constants;
    if (stage === 'ir') {
      if (ir.length === 0) throw invalidArg(`asText: script '${this.name}' is traced per input shapes; run it (or compile({ shapes })) first`);
      return irToText(ir);
    }
    if (stage === 'plan') return planToText(this.planInfo());
    if (stage === 'stablehlo') {
      if (ir.length === 0) throw invalidArg(`asText: script '${this.name}' is traced per input shapes; run it (or compile({ shapes })) first`);
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { emitStableHlo } = require('./xla') as { emitStableHlo(s: { _ir: Uint8Array; _constants: ArrayBuffer[] }): string };
      return emitStableHlo({ _ir: ir, _constants: constants });
    }
    throw invalidArg(`asText: stage must be 'ir', 'plan' or 'stablehlo', got ${describe(stage)}`);
  }

  /** Counters: native compiles, specializations made (one per new shape signature), runs. */
  stats(): ScriptStats {
    return { ...this.cache.counts, ...this.transfers };
  }

  /**
   * Runs the script. `feeds` gives inputs for this run by name (a Tensor, a typed array when the
   * input's shape is static, or `{ data, shape }`); inputs it does not name come from addInput.
   */
  run(feeds?: Record<string, Feed>): Record<string, Tensor> {
    if (this._state) this._state.enterSync(this.name);
    const inputs = this.prepareInputs(feeds);
    const e = inputs.entry;
    const res = this.resident;
    let outs: (ArrayBuffer | null | undefined)[];
    try {
      outs = res
        ? call(() => res.run(e.handle, inputs.views, this._shapes.outputSlots))
        : call(() => this.native!.run(e.handle, inputs.views));
    } catch (err) {
      this._state?.failed(inputs.updates);
      throw err;
    }
    this.cache.counts.runs++;
    return this.wrapOutputs(outs, e.graph.outputShapes, inputs.updates);
  }

  /**
   * Runs on the libuv thread pool; the event loop stays free. `feeds` as for run(). Runs of a
   * script that updates variables queue up: each starts when the one before it has written its
   * variables back.
   */
  runAsync(feeds?: Record<string, Feed>): Promise<Record<string, Tensor>> {
    return this._state ? this._state.serialize(() => this.runAsyncNow(feeds)) : this.runAsyncNow(feeds);
  }

  private runAsyncNow(feeds?: Record<string, Feed>): Promise<Record<string, Tensor>> {
    let inputs: { views: ArrayBufferView[]; storages: Storage[]; entry: Specialization; updates: RunUpdates | null };
    let e: Specialization;
    try {
      inputs = this.prepareInputs(feeds);
      e = inputs.entry;
    } catch (err) {
      return Promise.reject(err);
    }
    const native = this.native!;
    const handle = e.handle;
    const outShapes = e.graph.outputShapes;
    // keep the input memory alive even if a tensor is disposed during the run
    for (const s of inputs.storages) s.retain();
    this.cache.counts.runs++;
    const callSite = new Error(); // the caller's stack, for errors reported by the worker thread
    return new Promise((resolve, reject) => {
      try {
        const done = (err: unknown, outs?: (ArrayBuffer | null | undefined)[]): void => {
          for (const s of inputs.storages) s.release();
          if (err) {
            const e = fromNative(err);
            const lost = this._state ? this._state.failed(inputs.updates) : [];
            if (e.code === ErrorCode.DISPOSED && lost.length)
              e.message = `script '${this.name}': variable ${lost.map((n) => `'${n}'`).join(', ')} was transferred or detached during runAsync: ${e.message}`;
            reject(withStack(e, callSite));
          } else resolve(this.wrapOutputs(outs!, outShapes, inputs.updates));
        };
        if (this.resident) this.resident.runAsync(handle, inputs.views, this._shapes.outputSlots, done);
        else native.runAsync(handle, inputs.views, done);
      } catch (err) {
        for (const s of inputs.storages) s.release();
        reject(fromNative(err));
      }
    });
  }

  /**
   * Writes the script (IR, constants, declared symbolic dims, format version, checksum) atomically.
   * Adds `.hoduscript` without an extension.
   */
  save(path: string): string {
    return writeScriptFile(path, this.toBytes());
  }

  /**
   * Imports an ONNX model (a `.onnx` path, with any external data files beside it, or its bytes).
   * Inputs and outputs keep their ONNX names and dtypes; initializers become constants shared by
   * every specialization. See README "Running ONNX models".
   */
  static fromOnnx(src: string | Uint8Array, options?: import('./onnx').OnnxOptions): Script {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { scriptFromOnnx } = require('./onnx') as typeof import('./onnx');
    return scriptFromOnnx(src, options);
  }

  static load(path: string): Script {
    const f = decodeScriptFile(readScriptFile(path));
    return Script._fromParts(f.name, f.ir, f.constants, f.meta);
  }

  /** The script file's bytes; variables are stored with their current values (after the constants). */
  toBytes(): Uint8Array {
    const meta = shapesMeta(this._shapes);
    return encodeScriptFile(this.name, this._ir, this._state ? saveVariables(this._allInputs, this._state, this._constants) : this._constants, meta);
  }

  static fromBytes(bytes: Uint8Array | ArrayBuffer): Script {
    const f = decodeScriptFile(bytes);
    return Script._fromParts(f.name, f.ir, f.constants, f.meta);
  }

  private static _fromParts(name: string, ir: Uint8Array, constants: ArrayBuffer[], meta: Record<string, unknown>): Script {
    try {
      return new Script(name, ScriptShapes.fromFile(name, ir, constants, meta));
    } catch (e) {
      const err = fromNative(e);
      if (err.code === ErrorCode.INVALID_FILE) throw err;
      throw new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${err.message}`);
    }
  }

  /** Frees the compiled plans now (they are rebuilt by the next compile or run). */
  dispose(): void {
    this.dropCompiled();
  }

  /** Baked parameter bytes (a copy per bake) are shared by every specialization while the parameter is unchanged. */
  private readonly bakedBytes = new WeakMap<object, { version: number; bytes: ArrayBuffer }>();

  private shareBaked(baked: Baked, base: number): void {
    baked.stamps.forEach(([, storage, version], i) => {
      const k = base + i;
      const seen = this.bakedBytes.get(storage);
      if (seen && seen.version === version && seen.bytes.byteLength === baked.constants[k].byteLength) baked.constants[k] = seen.bytes;
      else this.bakedBytes.set(storage, { version, bytes: baked.constants[k] });
    });
  }

  /** @internal The plan of the specialization used last (null when none is compiled); tests read it. */
  private get handle(): unknown {
    return this.native !== null && this.cache.last ? this.cache.last.handle : null;
  }

  private release(h: unknown): void {
    if (this.native) this.native.release(h);
  }

  private dropCompiled(): void {
    this.cache.dropPlans((h) => this.release(h));
    this.compiledWith = null;
    this.native = null;
    this.resident = null;
  }

  /** The compiled specialization for concrete input shapes (checked against the declaration). */
  private specialization(shapes: number[][], checkedKey?: string): Specialization {
    const key = checkedKey ?? shapeSignature(this.inputs, shapes);
    if (this.native === null) this.compile(this.options);
    const e = this.cache.get(key, shapes, (h) => this.release(h));
    // HODU: read-only parameters compile in as constants (folded, pre-packed), rebuilt when changed
    if (e.handle !== null && e.baked && isStale(e.baked)) {
      this.release(e.handle);
      e.handle = null;
    }
    return this.cache.compiled(e, (g) => {
      try {
        // a loaded script has no recorded parts: its graph from the IR
        if (!this._shapes.symbolic && !this._parts && this._backend === Backend.HODU && this._state && this._state.variables.some((v) => v.bakeable))
          this._parts = decodeGraph(this._ir);
        const parts = this._shapes.symbolic ? g.parts : this._parts;
        const baked: Baked | null =
          this._backend === Backend.HODU && this._state && parts ? bakeReadOnly(parts.values, parts.outputs, g.constants, this._state, encodeGraph) : null;
        if (baked) this.shareBaked(baked, g.constants.length);
        const h = this.native!.compile(baked ? baked.ir : g.ir, baked ? baked.constants : g.constants, this.options);
        e.baked = baked;
        countCache(this.cache.counts, this._backend, () => this.native!.info(h));
        return h;
      } catch (err) {
        const h = fromNative(err);
        if (!this._shapes.symbolic) throw h;
        throw new HoduError(h.code, `script '${this.name}' for input shapes ${formatShapes(this.inputs, shapes)}: ${h.message}`);
      }
    });
  }

  private selectBackend(): NativeBackend {
    if (this._backend === Backend.HODU) {
      checkHoduDevices(this._devices);
      if (!this._device.isCpu)
        throw new HoduError(
          ErrorCode.DEVICE_UNAVAILABLE,
          `the HODU backend runs on the CPU only; for ${this._device} use setBackend(Backend.XLA) with a CUDA PJRT plugin`,
        );
      return HODU_BACKEND;
    }
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { xlaBackend } = require('./xla') as typeof import('./xla');
    const be = xlaBackend(this._device, this._devices, this._split);
    // variables stay on the device between runs (HODU_XLA_RESIDENT=0: uploaded every run, as before)
    if (this._state && process.env.HODU_XLA_RESIDENT !== '0') this.resident = new ResidentRuns(this._state, deviceSetKey(be.target), this.transfers);
    return be as unknown as NativeBackend;
  }

  /** The user inputs checked and bound, the specialization for their shapes, then the reserved inputs. */
  private prepareInputs(feeds?: Record<string, Feed>): { views: ArrayBufferView[]; storages: Storage[]; entry: Specialization; updates: RunUpdates | null } {
    if (feeds !== undefined && (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds) || feeds instanceof Tensor))
      throw invalidArg(`run: feeds must be an object of input name -> tensor, got ${describe(feeds)}`);
    const names = new Set<string>(this.bound.keys());
    if (feeds) for (const k of Object.keys(feeds)) names.add(k);
    for (const name of names)
      if (!this.inputs.some((i) => i.name === name))
        throw new HoduError(
          ErrorCode.INPUT_UNKNOWN,
          `script '${this.name}' has no input named '${name}'${didYouMean(name, this.inputs.map((i) => i.name))} (inputs: ${this.inputs.map((i) => `'${i.name}'`).join(', ') || 'none'})`,
        );
    const views: ArrayBufferView[] = [];
    const storages: Storage[] = [];
    const shapes: number[][] = [];
    const dtypeChecks: (() => void)[] = [];
    for (const info of this.inputs) {
      const f: Feed | undefined = feeds && Object.prototype.hasOwnProperty.call(feeds, info.name) ? feeds[info.name] : this.bound.get(info.name);
      if (f === undefined)
        throw new HoduError(
          ErrorCode.INPUT_MISSING,
          `script '${this.name}': input '${info.name}' (${info.dtype}[${info.shape.map((d) => (d === null ? '?' : d)).join(', ')}]) was not given (use addInput or run({ ${info.name}: ... }))`,
        );
      if (!(f instanceof Tensor)) {
        const r = feedInput(info, f);
        views.push(r.view);
        shapes.push(r.shape);
        continue;
      }
      const t = f;
      t._check();
      if (t.isSymbolic) throw invalidArg(`input '${info.name}': a builder tensor has no data`);
      shapes.push(t.shape.slice());
      dtypeChecks.push(() => {
        if (t.dtype !== info.dtype)
          throw new HoduError(ErrorCode.DTYPE_MISMATCH, `input '${info.name}': expected dtype ${info.dtype}, got ${t.dtype}`);
      });
      const c = t.isContiguous ? t : eager(() => t.contiguous());
      const a = c.toTypedArray();
      views.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      storages.push(c._storage!);
    }
    // the shapes of the run before (the common case) were checked then: no new signature to build
    const last = this.cache.last;
    const key = last !== null && sameShapes(last.shapes, shapes) ? last.key : shapeSignature(this.inputs, shapes);
    for (const check of dtypeChecks) check();
    const entry = this.specialization(shapes, key);
    if (!this._state) return { views, storages, entry, updates: null };
    // variables (their current memory) and per-run random draws, in IR input order
    this._state.refresh();
    const allViews: ArrayBufferView[] = [];
    const allStorages: Storage[] = storages.slice();
    const irNames: string[] = [];
    const direct: boolean[] = [];
    const owners: (Storage | null)[] = [];
    const concrete = entry.graph.inputShapes;
    let k = 0;
    const baked = entry.baked;
    this._allInputs.forEach((info, i) => {
      if (!isReservedName(info.name)) {
        allViews.push(views[k++]);
        irNames.push(info.name);
        direct.push(false);
        owners.push(null);
        return;
      }
      if (baked && !baked.keep(info)) return; // compiled in as a constant
      const shape = concrete ? concrete[i] : (info.shape as number[]);
      // XLA: a device-resident value (never written by the run); HODU: the variable's memory
      const r = this.resident
        ? { ...this.resident.input(info.name, shape, info.dtype, this.name), direct: false }
        : this._state!.view(info.name, shape, info.dtype, this.name);
      allViews.push(r.view as ArrayBufferView);
      allStorages.push(r.storage);
      irNames.push(info.name);
      direct.push(r.direct);
      owners.push(r.storage);
    });
    // updated variables: their memory is written by the run (a copy when another input overlaps it)
    const updates = this._state.writes ? this._state.bindUpdates(irNames, allViews, direct, owners) : null;
    return { views: allViews, storages: allStorages, entry, updates };
  }

  private wrapOutputs(outs: (ArrayBuffer | null | undefined)[], shapes: number[][], updates: RunUpdates | null): Record<string, Tensor> {
    const r: Record<string, Tensor> = {};
    this._shapes.outputSlots.forEach((o, i) => {
      const out = outs[i];
      if (out === null) return; // an updated variable left on the device (XLA: lib/device-state.ts)
      // HODU returns no buffer for a variable it updated in place
      if (isReservedName(o.name)) {
        if (out === undefined) this._state!.updatedInPlace(o.name, updates?.get(o.name));
        else this._state!.writeBack(o.name, out);
      } else r[o.name] = Tensor._make(new Storage(out!), o.dtype, shapes[i].slice());
    });
    return r;
  }
}

function sameShapes(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

/** The variables of a loaded script: its own tensors, from the values stored after the constants. */
function ownVariables(inputs: readonly TensorInfo[], outputs: readonly TensorInfo[], stored: ArrayBuffer[]): VariableSpec[] {
  const vars = inputs.filter((i) => i.name.startsWith(VAR_PREFIX));
  if (stored.length < vars.length) throw new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${vars.length} variables but only ${stored.length} stored values`);
  return vars.map((info, k) => {
    const bytes = stored[k];
    const t = Tensor._make(new Storage(bytes.slice(0)), info.dtype, (info.shape as number[]).slice());
    return { name: info.name.slice(VAR_PREFIX.length), tensor: t, updated: outputs.some((o) => o.name === info.name), bakeable: !outputs.some((o) => o.name === info.name) };
  });
}

/** Constants followed by each variable's current bytes, in IR input order. */
function saveVariables(inputs: readonly TensorInfo[], state: ScriptState, constants: ArrayBuffer[]): ArrayBuffer[] {
  const out = constants.slice();
  for (const info of inputs) {
    if (!info.name.startsWith(VAR_PREFIX)) continue;
    const v = state.byIrName(info.name)!;
    out.push(
      eager(() => {
        v.tensor._check();
        const c = v.tensor.contiguous();
        const a = c.toTypedArray();
        return a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;
      }),
    );
  }
  return out;
}

/** An error from an async native call, with the stack of the call that started it. */
function withStack(e: HoduError, callSite: Error): HoduError {
  const frames = (callSite.stack ?? '').split('\n').slice(1).join('\n');
  e.stack = `${e.name}: ${e.message}\n${frames}`;
  return e;
}
