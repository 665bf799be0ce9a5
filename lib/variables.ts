// Variables: state that lives across runs of a script (SPEC §5).
//
// While a builder records, every concrete tensor an op reads is remembered with its graph value
// (GraphRecorder.valueOf). At build() (finalizeGraph below) each such tensor becomes either
//   - a *variable*: a graph input with a reserved name `@var:<name>`, when the recording updated it
//     (an optimizer step, `tensor.assign`), when it is a parameter (a leaf with requiresGrad), or
//     when hodu marked it (an optimizer's lr); an updated variable's final value also becomes a
//     reserved output `@var:<name>`;
//   - or a constant, frozen at record time (plain data).
// Dropout's masks are reserved inputs `@rand:<k>` drawn afresh (from the seeded generator) for
// every run. Reserved names start with '@', which user input and output names may not.
//
// ScriptState (one per Script) binds each variable's current memory as an input on every run.
// HODU writes an updated variable's new value straight into that memory (native/hodu/in_place.cc:
// the kernel computing it writes there when nothing reads the old value later, else a copy step
// at the end of the run): the run returns no output for it, allocates nothing for it and the JS
// side only bumps the storage's version (so scripts that baked it in rebuild). The memory is the
// tensor's own when it is contiguous and no other input of the run overlaps it; otherwise a copy
// is bound and written back afterwards (strided variables, a variable also fed as a user input).
// runAsync: the native worker runs on a copy of the inputs and copies the new values into the
// variables' memory on the JS thread (an update whose memory was detached meanwhile → DISPOSED).
// On XLA, variables stay on the device instead (lib/device-state.ts): view() is then used only for
// what cannot (strided or empty variables), and writeBack() copies such a variable's new value in.
import { DType } from './dtype';
import { ErrorCode, HoduError, invalidArg } from './errors';
import { eager, GraphRecorder, IrOutput, IrValue, ValueKind, tensorBytes } from './ir/graph';
import { Storage } from './storage';
import { Tensor } from './tensor';

/** Prefix of the IR names of variables (inputs and outputs). */
export const VAR_PREFIX = '@var:';
/** Prefix of the IR names of per-run random inputs. */
export const RAND_PREFIX = '@rand:';

/** True for IR input/output names that hodu reserves (user names may not start with '@'). */
export function isReservedName(name: string): boolean {
  return name.startsWith('@');
}

/** Throws INVALID_ARGUMENT for a user name that takes the reserved prefix. */
export function checkUserName(name: string, what: string): void {
  if (typeof name === 'string' && isReservedName(name))
    throw invalidArg(`${what}: the name '${name}' starts with '@', which hodu reserves for script variables; choose another name`);
}

// ---------------------------------------------------------------------------- naming and marks

type Hint = string | (() => string | undefined);
const hints = new WeakMap<Tensor, Hint>();
const forced = new WeakSet<Tensor>();
const refreshers = new WeakMap<Tensor, () => void>();

/**
 * Names a tensor for `script.variables` (module paths: `0.weight`). The first name given wins,
 * except that a longer path of the same tensor (`0.weight` after `weight`: the same parameter seen
 * from an enclosing module) replaces it.
 */
export function nameVariable(t: Tensor, name: Hint): void {
  const old = hints.get(t);
  if (old === undefined || (typeof old === 'string' && typeof name === 'string' && name.endsWith(`.${old}`))) hints.set(t, name);
}

function hintOf(t: Tensor): string | undefined {
  const h = hints.get(t);
  return typeof h === 'function' ? h() : h;
}

/** The name given to a tensor with nameVariable, if any. */
export function variableName(t: Tensor): string | undefined {
  return hintOf(t);
}

/**
 * Makes a tensor a variable of every script that reads it, even if it is neither a parameter nor
 * updated (an optimizer's lr). `refresh`, when given, runs before every run (to sync it from JS).
 */
export function markVariable(t: Tensor, refresh?: () => void): void {
  forced.add(t);
  if (refresh) refreshers.set(t, refresh);
}

/** A uniform [0, 1) tensor drawn afresh on every run when recorded; eager otherwise. */
export function perRunRandom(shape: readonly number[], dtype: DType): Tensor {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { hooks } = require('./hooks') as typeof import('./hooks');
  if (hooks.recorder) return hooks.recorder.randomInput(shape.slice(), dtype);
  return Tensor.rand(shape, dtype);
}

// ---------------------------------------------------------------------------- build

export interface VariableSpec {
  name: string;
  tensor: Tensor;
  updated: boolean;
  /** A read-only parameter: HODU may compile it in as a constant (rebuilt when its value changes). */
  bakeable?: boolean;
}

export interface FinalGraph {
  values: IrValue[];
  outputs: IrOutput[];
  constants: ArrayBuffer[];
  variables: VariableSpec[];
}

function isParameter(t: Tensor): boolean {
  return t._requiresGrad && t._gradFn === null;
}

/** Installed by nn/module.ts: names the parameters of every live module by its path (at build). */
export const naming: { fromModules: (() => void) | null } = { fromModules: null };

/** Turns the recorder's concrete tensors into variables or constants (see the file comment). */
export function finalizeGraph(g: GraphRecorder): FinalGraph {
  if (naming.fromModules) {
    let unnamed = false;
    for (const [t] of g.concrete) if (isParameter(t) && !hints.has(t)) unnamed = true;
    if (unnamed) naming.fromModules();
  }
  const values = g.values.map((v) => ({ ...v }));
  const taken = new Set<string>();
  const variables: VariableSpec[] = [];
  const varIds = new Map<number, VariableSpec>();
  let generated = 0;
  for (const [t, id] of g.concrete) {
    const updated = g.updates.has(t);
    if (!updated && !forced.has(t) && !isParameter(t)) continue;
    let base = hintOf(t) ?? '';
    base = base.replace(/[^\w.\-/:]/g, '_');
    if (!base) base = `var${generated++}`;
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    const spec: VariableSpec = { name, tensor: t, updated, bakeable: !updated && !forced.has(t) };
    variables.push(spec);
    varIds.set(id, spec);
    values[id] = { kind: ValueKind.Input, dtype: values[id].dtype, shape: values[id].shape, name: VAR_PREFIX + name };
  }
  const constants: ArrayBuffer[] = [];
  const tensorOfId = new Map<number, Tensor>();
  for (const [t, id] of g.concrete) tensorOfId.set(id, t);
  values.forEach((v, id) => {
    if (v.kind !== ValueKind.Constant) return;
    let bytes = g.constants[v.constant!];
    if (bytes === null) bytes = tensorBytes(tensorOfId.get(id)!); // a deferred copy
    constants.push(bytes);
    v.constant = constants.length - 1;
  });
  const outputs = g.outputs.slice();
  for (const spec of variables)
    if (spec.updated) outputs.push({ name: VAR_PREFIX + spec.name, value: g.updates.get(spec.tensor)! });
  return { values, outputs, constants, variables };
}

// ---------------------------------------------------------------------------- baking (HODU)

/** A compile of the graph with read-only parameters in as constants, and what it was made from. */
export interface Baked {
  ir: Uint8Array;
  constants: ArrayBuffer[];
  /** The IR inputs that remain (user inputs, updated variables, random draws), in order. */
  keep: (info: { name: string }) => boolean;
  /** Each baked variable's storage and version at bake time. */
  stamps: [Tensor, Storage, number][];
}

/**
 * Read-only parameters as constants (HODU: its compile folds and pre-packs constant weights, as
 * before variables existed). Null when there are none. `encode` is the IR encoder (the caller's).
 */
export function bakeReadOnly(
  values: readonly IrValue[],
  outputs: readonly IrOutput[],
  constants: readonly ArrayBuffer[],
  state: ScriptState,
  encode: (values: readonly IrValue[], outputs: readonly IrOutput[]) => Uint8Array,
): Baked | null {
  const bake = new Map<string, VariableSpec>();
  for (const v of state.variables) if (v.bakeable && !v.tensor.isDisposed && !v.tensor.isSymbolic) bake.set(VAR_PREFIX + v.name, v);
  if (bake.size === 0) return null;
  const cs = constants.slice();
  const stamps: [Tensor, Storage, number][] = [];
  const vs = values.map((v) => {
    if (v.kind !== ValueKind.Input || !bake.has(v.name!)) return v;
    const t = bake.get(v.name!)!.tensor;
    cs.push(tensorBytes(t));
    stamps.push([t, t._storage!, t._storage!.version]);
    return { kind: ValueKind.Constant, dtype: v.dtype, shape: v.shape, constant: cs.length - 1 } as IrValue;
  });
  return { ir: encode(vs, outputs), constants: cs, keep: (i) => !bake.has(i.name), stamps };
}

/** Whether a baked variable changed since (a hodu write, or a new storage). */
export function isStale(b: Baked): boolean {
  return b.stamps.some(([t, st, ver]) => t._storage !== st || st.version !== ver);
}

// ---------------------------------------------------------------------------- runs

/** Where one run bound an updated variable: its own memory (`direct`) or a copy to write back from. */
export interface RunUpdate {
  view: Uint8Array;
  direct: boolean;
  storage: Storage | null;
}
export type RunUpdates = Map<string, RunUpdate>;

/**
 * The variables of one Script and how its IR inputs/outputs map to them. A script without
 * variables or random inputs has `stateful === false` and runs exactly as before.
 */
export class ScriptState {
  readonly variables: VariableSpec[];
  private busy = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(variables: VariableSpec[]) {
    this.variables = variables;
  }

  /** True when some run writes back (updated variables): runs must not overlap. */
  get writes(): boolean {
    return this.variables.some((v) => v.updated);
  }

  /** `script.variables`: name → the tensor (the same objects the recording used). */
  record(): Record<string, Tensor> {
    const r: Record<string, Tensor> = {};
    for (const v of this.variables) r[v.name] = v.tensor;
    return r;
  }

  byIrName(name: string): VariableSpec | undefined {
    if (!name.startsWith(VAR_PREFIX)) return undefined;
    const n = name.slice(VAR_PREFIX.length);
    return this.variables.find((v) => v.name === n);
  }

  /** Runs each variable's refresher (lr from the optimizer) before a run. */
  refresh(): void {
    for (const v of this.variables) {
      const f = refreshers.get(v.tensor);
      if (f) f();
    }
  }

  /**
   * The view for a reserved input: a variable's current memory (row-major; a strided one is copied)
   * or a fresh random draw. `keep` collects storages to retain during an async run.
   */
  view(name: string, shape: readonly number[], dtype: DType, scriptName: string): { view: Uint8Array; storage: Storage; direct: boolean } {
    let t: Tensor;
    if (name.startsWith(RAND_PREFIX)) {
      t = eager(() => Tensor.rand(shape, dtype));
    } else {
      const spec = this.byIrName(name);
      if (!spec) throw new HoduError(ErrorCode.INTERNAL, `script '${scriptName}': reserved input '${name}' has no variable`);
      t = spec.tensor;
      if (t.isDisposed)
        throw new HoduError(ErrorCode.DISPOSED, `script '${scriptName}': variable '${spec.name}' (${t.dtype}[${t.shape.join(', ')}]) was disposed`);
      if (t.isSymbolic)
        throw new HoduError(
          ErrorCode.BUILDER_ALREADY_ACTIVE,
          `script '${scriptName}': variable '${spec.name}' is being recorded by an active builder; call end() on it before running the script`,
        );
      if (!t.isContiguous) {
        const c = eager(() => t.contiguous());
        const a = c.toTypedArray();
        return { view: new Uint8Array(a.buffer, a.byteOffset, a.byteLength), storage: c._storage!, direct: false };
      }
    }
    const a = t.toTypedArray();
    return { view: new Uint8Array(a.buffer, a.byteOffset, a.byteLength), storage: t._storage!, direct: true };
  }

  /**
   * Per run: the input memory of each updated variable (`names[i]` is the IR name of `views[i]`).
   * A direct view that overlaps another input of the run is replaced (in `views`) by a copy, so an
   * in-place write cannot change what the run reads through the other input.
   */
  bindUpdates(names: readonly string[], views: ArrayBufferView[], direct: readonly boolean[], storages: readonly (Storage | null)[]): RunUpdates {
    const updates: RunUpdates = new Map();
    const byBuffer = new Map<ArrayBufferLike, number[]>();
    views.forEach((v, i) => {
      if (v.byteLength === 0) return;
      const list = byBuffer.get(v.buffer);
      if (list) list.push(i);
      else byBuffer.set(v.buffer, [i]);
    });
    names.forEach((name, i) => {
      const spec = this.byIrName(name);
      if (!spec || !spec.updated) return;
      let d = direct[i];
      if (d) {
        const v = views[i];
        const same = byBuffer.get(v.buffer) ?? [];
        for (const k of same) {
          const w = views[k];
          if (k !== i && w.byteOffset < v.byteOffset + v.byteLength && v.byteOffset < w.byteOffset + w.byteLength) d = false;
        }
        if (!d) views[i] = new Uint8Array(v as Uint8Array);
      }
      updates.set(name, { view: views[i] as Uint8Array, direct: d, storage: storages[i] });
    });
    return updates;
  }

  /**
   * After a run that wrote `name`'s new value into its bound memory (no output returned): bumps the
   * version of the variable's memory, or writes a copy's value back into the tensor.
   */
  updatedInPlace(name: string, u: RunUpdate | undefined): void {
    if (!u) return;
    if (u.direct) {
      if (u.storage) u.storage.bump();
      return;
    }
    const v = u.view;
    this.writeBack(name, v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? (v.buffer as ArrayBuffer) : v.slice().buffer);
  }

  /**
   * After a failed run: variables bound directly may have been partly written (their versions are
   * bumped). Returns the names of those whose memory was detached (transferred) meanwhile.
   */
  failed(updates: RunUpdates | null): string[] {
    const lost: string[] = [];
    if (updates)
      for (const [name, u] of updates) {
        if (u.direct && u.storage) u.storage.bump();
        if (u.storage?.detached) lost.push(name.slice(VAR_PREFIX.length));
      }
    return lost;
  }

  /** Copies an updated variable's new value (a row-major output buffer) into its tensor, in place. */
  writeBack(name: string, out: ArrayBuffer): void {
    const spec = this.byIrName(name);
    if (!spec) return;
    const t = spec.tensor;
    if (t.isDisposed || t.isSymbolic) return;
    const src = new Uint8Array(out);
    if (t.isContiguous) {
      const a = t.toTypedArray();
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(src.subarray(0, a.byteLength));
    } else {
      eager(() => t.assign(Tensor._make(new Storage(out), t.dtype, t.shape.slice())));
    }
    t._storage!.bump();
  }

  /** Guards a synchronous run against an async one still in flight (a torn update). */
  enterSync(scriptName: string): void {
    if (this.busy && this.writes)
      throw new HoduError(
        ErrorCode.INVALID_ARGUMENT,
        `script '${scriptName}' updates variables and a runAsync() of it is still in flight; await it before run() (runAsync calls queue up by themselves)`,
      );
  }

  /** Runs `f` after every earlier async run of this script has finished (stateful scripts only). */
  serialize<T>(f: () => Promise<T>): Promise<T> {
    if (!this.writes) return f();
    const next = this.queue.then(async () => {
      this.busy = true;
      try {
        return await f();
      } finally {
        this.busy = false;
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

