// Script: a recorded graph that compiles once (per backend and device) and runs many times.
import { Backend, Device } from './device';
import { DType, dtypeFromCode } from './dtype';
import { ErrorCode, HoduError, describe, fromNative, invalidArg } from './errors';
import { binding, call } from './native';
import { decodeScriptFile, encodeScriptFile, readScriptFile, writeScriptFile } from './script-file';
import { Storage } from './storage';
import { Tensor } from './tensor';
import { eager } from './ir/graph';
import { irToText, planToText } from './ir/text';

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

/** The HODU backend's native functions (native/binding/script_wrap.cc); part of lib/native.ts Binding. */
export interface ScriptBinding {
  describeIr(ir: Uint8Array, constants: ArrayBuffer[]): { inputs: { name: string; dtype: number; shape: number[] }[]; outputs: { name: string; dtype: number; shape: number[] }[] };
  compilePlan(ir: Uint8Array, constants: ArrayBuffer[], options: CompileOptions): unknown;
  runPlan(h: unknown, inputs: ArrayBufferView[]): ArrayBuffer[];
  runPlanAsync(h: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: ArrayBuffer[]) => void): void;
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

  private constructor(name: string, ir: Uint8Array, constants: ArrayBuffer[]) {
    const d = call(() => scriptNative.describeIr(ir, constants));
    this.name = name;
    this._ir = ir;
    this._constants = constants;
    const info = (x: { name: string; dtype: number; shape: number[] }): TensorInfo =>
      Object.freeze({ name: x.name, dtype: dtypeFromCode(x.dtype), shape: Object.freeze(x.shape.slice()) });
    this.inputs = Object.freeze(d.inputs.map(info));
    this.outputs = Object.freeze(d.outputs.map(info));
  }

  /** @internal */
  static _create(name: string, ir: Uint8Array, constants: ArrayBuffer[]): Script {
    return new Script(name, ir, constants);
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
    this.handle = call(() => this.native!.compile(this._ir, this._constants, opts));
    this.compiledWith = key;
    return this;
  }

  /**
   * Details of the compiled plan (kernels, memory); compiles first if needed. Its `toString()` is a
   * readable dump: a summary line, then one line per step (the same text as `asText('plan')`).
   */
  planInfo(): PlanInfo {
    if (!this.isCompiled) this.compile();
    const info = call(() => this.native!.info(this.handle));
    Object.defineProperty(info, 'toString', { value: () => planToText(info), enumerable: false });
    return info;
  }

  /**
   * A stage of the script as text (like JAX's `as_text()`):
   * - `'ir'` (default): the recorded graph, one value per line (`%3 = add(%1, %2) : f32[2, 3]`);
   * - `'plan'`: the compiled plan of the current backend (compiles first if needed);
   * - `'stablehlo'`: the StableHLO module the XLA backend compiles (needs an addon built with the
   *   PJRT header, not the plugin).
   */
  asText(stage: 'ir' | 'plan' | 'stablehlo' = 'ir'): string {
    if (stage === 'ir') return irToText(this._ir);
    if (stage === 'plan') return planToText(this.planInfo());
    if (stage === 'stablehlo') {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { emitStableHlo } = require('./xla') as { emitStableHlo(s: Script): string };
      return emitStableHlo(this);
    }
    throw invalidArg(`asText: stage must be 'ir', 'plan' or 'stablehlo', got ${describe(stage)}`);
  }

  run(): Record<string, Tensor> {
    const inputs = this.prepareInputs();
    if (!this.isCompiled) this.compile();
    const outs = call(() => this.native!.run(this.handle, inputs.views));
    return this.wrapOutputs(outs);
  }

  /** Runs on the libuv thread pool; the event loop stays free. */
  runAsync(): Promise<Record<string, Tensor>> {
    let inputs: { views: ArrayBufferView[]; storages: Storage[] };
    try {
      inputs = this.prepareInputs();
      if (!this.isCompiled) this.compile();
    } catch (e) {
      return Promise.reject(e);
    }
    const native = this.native!;
    const handle = this.handle;
    // keep the input memory alive even if a tensor is disposed during the run
    for (const s of inputs.storages) s.retain();
    const callSite = new Error(); // the caller's stack, for errors reported by the worker thread
    return new Promise((resolve, reject) => {
      try {
        native.runAsync(handle, inputs.views, (err, outs) => {
          for (const s of inputs.storages) s.release();
          if (err) reject(withStack(fromNative(err), callSite));
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
    return writeScriptFile(path, encodeScriptFile(this.name, this._ir, this._constants));
  }

  static load(path: string): Script {
    const f = decodeScriptFile(readScriptFile(path));
    return Script._fromParts(f.name, f.ir, f.constants);
  }

  toBytes(): Uint8Array {
    return encodeScriptFile(this.name, this._ir, this._constants);
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
    for (const info of this.inputs) {
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
    this.outputs.forEach((o, i) => {
      r[o.name] = Tensor._make(new Storage(outs[i]), o.dtype, o.shape.slice());
    });
    return r;
  }
}

/** An error from an async native call, with the stack of the call that started it. */
function withStack(e: HoduError, callSite: Error): HoduError {
  const frames = (callSite.stack ?? '').split('\n').slice(1).join('\n');
  e.stack = `${e.name}: ${e.message}\n${frames}`;
  return e;
}
