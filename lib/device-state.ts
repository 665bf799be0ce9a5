// Script variables that stay on an XLA device between runs (SPEC §5: "on XLA variables stay on the
// device between runs and an update does not copy them").
//
// A Storage (lib/storage.ts) may hold device copies of parts of its memory (`storage._device`):
// one DeviceEntry per (byte range, device set). An entry is reused as a run's input while its
// `version` equals the storage's version (hodu bumps it on every host write: assign, loadStateDict,
// an optimizer step, a HODU script's write-back), so a read-only variable (an inference script's
// weights, a training script's frozen parameters) is uploaded once and again only after a host
// write. A run that updates a variable leaves its new value on the device (the old buffer is
// donated to it: no copy) and marks the entry `hostStale`; the storage's `buffer` getter then
// copies it into host memory the first time anything reads or writes that memory there
// (toTypedArray, toArray, item, an eager op, stateDict/saveSafetensors, a HODU run reading it).
//
// Synchronous runs donate; runAsync never does (another run may read the same buffers meanwhile):
// XLA then writes the update into a fresh buffer, still without a host copy.
import { binding } from './native';
import { deviceHooks, Storage } from './storage';
import { Tensor } from './tensor';
import { dtypeInfo } from './dtype';
import { ScriptState, VariableSpec, isReservedName } from './variables';

/** The native functions of native/binding/xla_resident_wrap.cc; part of lib/native.ts Binding. */
export interface ResidentBinding {
  xlaRunResident(h: unknown, inputs: unknown[], keepUploads: boolean[], keepOutputs: boolean[], donate?: boolean): NativeResult;
  xlaRunResidentAsync(h: unknown, inputs: unknown[], keepUploads: boolean[], keepOutputs: boolean[], cb: (err: unknown, r?: NativeResult) => void): void;
  xlaValueRead(value: unknown, dst: ArrayBufferView): void;
  xlaValueFree(value: unknown): void;
  xlaValueDonated(value: unknown): boolean;
}

interface NativeResult {
  outputs: (ArrayBuffer | unknown)[];
  uploaded: (unknown | null)[];
  h2d: number;
  d2h: number;
  donated: number;
}

const nb = binding as unknown as ResidentBinding;

/** Host<->device traffic of a script's runs (script.stats(); Backend.XLA). */
export interface TransferStats {
  /** Bytes copied from host memory to the device(s) by this script's runs (inputs, and variables uploaded). */
  hostToDeviceBytes: number;
  /** Bytes copied back by its runs (outputs; variables are copied only when read on the host, not counted here). */
  deviceToHostBytes: number;
  /** Variable buffers that runs updated in place on the device (donated to the program; synchronous runs only). */
  donatedBuffers: number;
}

/** A device value (one buffer per device of the plan that made it), reference counted. */
class DeviceValue {
  private refs = 1;
  constructor(readonly handle: unknown) {}
  release(): void {
    if (--this.refs === 0) nb.xlaValueFree(this.handle);
  }
}

/** Whether a run consumed the value (false for one already freed: nothing refers to it). */
function donated(v: DeviceValue): boolean {
  try {
    return nb.xlaValueDonated(v.handle);
  } catch {
    return false;
  }
}

interface DeviceEntry {
  /** Byte range of the storage this copy holds. */
  offset: number;
  bytes: number;
  /** The device set (plugin and device indices) it lives on. */
  key: string;
  /** The storage version it equals (reused as an input only while the storage has this version). */
  version: number;
  value: DeviceValue;
  /** The device copy is newer than the host memory (synced at the next host access). */
  hostStale: boolean;
}

function entries(s: Storage): DeviceEntry[] {
  return (s._device ?? []) as DeviceEntry[];
}

function setEntries(s: Storage, list: DeviceEntry[]): void {
  s._device = list.length ? list : null;
  s._stale = list.some((e) => e.hostStale);
}

/** Copies every device value newer than the host memory into it. */
function syncStorage(s: Storage): void {
  const list = entries(s);
  s._stale = false; // before reading: the copies below use the raw memory
  const raw = s._raw;
  for (const e of list) {
    if (!e.hostStale) continue;
    nb.xlaValueRead(e.value.handle, new Uint8Array(raw, e.offset, e.bytes));
    e.hostStale = false;
  }
  setEntries(s, list.filter((e) => e.version === s.version || e.hostStale));
}

function dropStorage(s: Storage): void {
  for (const e of entries(s)) e.value.release();
  s._device = null;
  s._stale = false;
}

deviceHooks.sync = syncStorage;
deviceHooks.drop = dropStorage;

/** Number of device values held by a tensor's storage (tests). @internal */
export function deviceCopies(t: Tensor): number {
  return t._storage ? entries(t._storage).length : 0;
}

/** True when a device holds a newer value of the tensor than its host memory (tests). @internal */
export function hostIsStale(t: Tensor): boolean {
  return t._storage !== null && t._storage._stale;
}

function rangeOf(t: Tensor): { offset: number; bytes: number } {
  const size = dtypeInfo(t.dtype).size;
  return { offset: t._offset * size, bytes: t.size * size };
}

/** One bound variable input of a resident run. */
class ResidentInput {
  constructor(
    readonly spec: VariableSpec,
    readonly storage: Storage,
    readonly version: number,
    /** The device value to pass, or null: host data (`view`) is uploaded and kept. */
    readonly value: DeviceValue | null,
    readonly view: ArrayBufferView | null,
  ) {}
}

/** Whether a variable's tensor can live on the device (contiguous, concrete, not empty). */
function eligible(t: Tensor): boolean {
  return !t.isDisposed && !t.isSymbolic && t._storage !== null && t.isContiguous && t.size > 0 && !t._storage.detached;
}

/**
 * The resident runs of one XLA-compiled script (one device set): binds variables as device values
 * and keeps updated ones on the device. Made by Script for Backend.XLA when it has variables.
 */
export class ResidentRuns {
  /** HODU_XLA_DONATE=0 (read when the script compiles): updates go to fresh buffers (benchmarks compare). */
  private readonly donate = process.env.HODU_XLA_DONATE !== '0';

  constructor(
    private readonly state: ScriptState,
    /** The device set (plugin, platform, device indices). */
    private readonly key: string,
    private readonly stats: TransferStats,
  ) {}

  /**
   * The input for a reserved IR input: a ResidentInput for an eligible variable (its device value
   * when current, else its host memory to upload and keep), else what ScriptState.view gives.
   */
  input(name: string, shape: readonly number[], dtype: import('./dtype').DType, scriptName: string): { view: unknown; storage: Storage } {
    const spec = name.startsWith('@var:') ? this.state.byIrName(name) : undefined;
    if (!spec || !eligible(spec.tensor)) return this.state.view(name, shape, dtype, scriptName);
    const t = spec.tensor;
    const s = t._storage!;
    const { offset, bytes } = rangeOf(t);
    const e = entries(s).find((x) => x.key === this.key && x.offset === offset && x.bytes === bytes && x.version === s.version);
    // no reference taken: the native run holds the buffer for as long as it uses it
    if (e && !donated(e.value)) return { view: new ResidentInput(spec, s, s.version, e.value, null), storage: s };
    const a = t.toTypedArray(); // host memory (synced from a device first when that is newer)
    return { view: new ResidentInput(spec, s, s.version, null, new Uint8Array(a.buffer, a.byteOffset, a.byteLength)), storage: s };
  }

  /** Runs synchronously; returns the outputs with updated variables' slots null (kept on the device). */
  run(handle: unknown, views: unknown[], slots: readonly { name: string }[]): (ArrayBuffer | null)[] {
    const a = this.args(views, slots);
    let r: NativeResult;
    try {
      r = nb.xlaRunResident(handle, a.inputs, a.keepUploads, a.keepOutputs, this.donate);
    } catch (err) {
      this.failed(a.bound);
      throw err;
    }
    return this.finish(a.bound, views, r, slots);
  }

  /** Runs on the libuv pool (never donating); `cb` gets the outputs as run() returns them. */
  runAsync(handle: unknown, views: unknown[], slots: readonly { name: string }[], cb: (err: unknown, outs?: (ArrayBuffer | null)[]) => void): void {
    const a = this.args(views, slots);
    try {
      nb.xlaRunResidentAsync(handle, a.inputs, a.keepUploads, a.keepOutputs, (err, r) => {
        if (err) {
          this.failed(a.bound);
          cb(err);
          return;
        }
        let outs: (ArrayBuffer | null)[];
        try {
          outs = this.finish(a.bound, views, r!, slots);
        } catch (e) {
          cb(e);
          return;
        }
        cb(null, outs);
      });
    } catch (err) {
      this.failed(a.bound);
      throw err;
    }
  }

  private args(views: unknown[], slots: readonly { name: string }[]) {
    const bound = new Map<string, ResidentInput>();
    const inputs: unknown[] = [];
    const keepUploads: boolean[] = [];
    for (const v of views) {
      if (v instanceof ResidentInput) {
        bound.set('@var:' + v.spec.name, v);
        inputs.push(v.value ? v.value.handle : v.view);
        keepUploads.push(v.value === null && !v.spec.updated);
      } else {
        inputs.push(v);
        keepUploads.push(false);
      }
    }
    const keepOutputs = slots.map((o) => isReservedName(o.name) && bound.has(o.name));
    return { bound, inputs, keepUploads, keepOutputs };
  }

  /**
   * After a failed run: a device value the run consumed before failing is gone (dropped; the host
   * memory then holds the last value synced to it). A failed index check is not such a case: the
   * native run gives the donated values their old buffers back.
   */
  private failed(bound: Map<string, ResidentInput>): void {
    for (const b of bound.values()) {
      if (!b.value || !donated(b.value)) continue;
      const list = entries(b.storage);
      for (const e of list) if (e.value === b.value) e.value.release();
      setEntries(b.storage, list.filter((e) => e.value !== b.value));
    }
  }

  private finish(bound: Map<string, ResidentInput>, views: unknown[], r: NativeResult, slots: readonly { name: string }[]): (ArrayBuffer | null)[] {
    this.stats.hostToDeviceBytes += r.h2d;
    this.stats.deviceToHostBytes += r.d2h;
    this.stats.donatedBuffers += r.donated;
    // read-only variables uploaded now: kept for the next runs (at the version they were read at)
    r.uploaded.forEach((h, i) => {
      if (h === null || h === undefined) return;
      const b = views[i];
      if (b instanceof ResidentInput) this.remember(b, new DeviceValue(h), false);
      else nb.xlaValueFree(h);
    });
    return r.outputs.map((o, j) => {
      const b = isReservedName(slots[j].name) ? bound.get(slots[j].name) : undefined;
      if (!b) return o as ArrayBuffer;
      this.updated(b, new DeviceValue(o));
      return null;
    });
  }

  /** Records a device copy of a variable (replacing the one of the same range and device set). */
  private remember(b: ResidentInput, value: DeviceValue, newer: boolean): void {
    const t = b.spec.tensor;
    const s = t._storage;
    // an upload is kept only while it still equals the host memory; an update always lands (in the
    // tensor's current memory, as a host write-back would: an async run's result wins over a write
    // made while it ran)
    const gone = !s || t.isDisposed || s.detached || !t.isContiguous;
    if (gone || (!newer && (s !== b.storage || s!.version !== b.version))) {
      value.release();
      return;
    }
    const { offset, bytes } = rangeOf(t);
    const keep: DeviceEntry[] = [];
    for (const e of entries(s)) {
      const same = e.offset === offset && e.bytes === bytes;
      // an older copy of the same range goes; so does any copy of it that the host already has
      if ((same && (e.key === this.key || newer)) || (!e.hostStale && e.version !== s.version && !newer)) e.value.release();
      else keep.push(e);
    }
    if (newer) {
      // copies of other ranges that are newer than the host stay pending; the rest are outdated by the bump
      s.bump();
      keep.splice(0, keep.length, ...keep.filter((e) => {
        if (e.hostStale) return true;
        e.value.release();
        return false;
      }));
    }
    keep.push({ offset, bytes, key: this.key, version: newer ? s.version : b.version, value, hostStale: newer });
    setEntries(s, keep);
  }

  /** A run's new value of an updated variable, left on the device. */
  private updated(b: ResidentInput, value: DeviceValue): void {
    this.remember(b, value, true);
  }
}

/** The device-set key of an XLA target. */
export function deviceSetKey(target: { plugin: string; platform: string; device: number; devices?: number[] }): string {
  return JSON.stringify([target.plugin, target.platform, target.devices && target.devices.length > 1 ? target.devices : [target.device]]);
}
