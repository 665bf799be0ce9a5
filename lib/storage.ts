import { binding } from './native';

/**
 * The memory behind one or more tensors (a tensor and its views). V8 owns the ArrayBuffer, so the
 * GC sees its size and frees it when no tensor refers to it; `release()` by the last holder frees
 * it at once (the buffer is detached, which drops V8's backing store).
 */
let stamp = 0;

/** A fresh, realm-wide increasing version stamp. */
export function nextVersion(): number {
  return ++stamp;
}

/**
 * @internal Installed by lib/device-state.ts: `sync` copies values that a device holds newer than
 * this memory (XLA-resident script variables) into it; `drop` frees the device copies of a
 * storage whose last holder released it.
 */
export const deviceHooks: { sync: (s: Storage) => void; drop: (s: Storage) => void } = { sync: () => undefined, drop: () => undefined };

export class Storage {
  private holders = 1;
  /** @internal Device copies of parts of this memory (lib/device-state.ts), null when none. */
  _device: unknown[] | null = null;
  /** @internal True while some device copy is newer than this memory (synced at the next access). */
  _stale = false;
  private readonly _buffer: ArrayBuffer;
  /**
   * Changes (to a new realm-wide stamp) whenever hodu writes into this memory: `assign`, a script's
   * variable write-back, `loadStateDict`. A compiled script that baked a read-only variable in as a
   * constant compares it to decide whether to rebuild. Writes made directly into `toTypedArray()`
   * memory do not change it (call `tensor.assign(tensor)` or `markChanged()` after such writes).
   */
  version = nextVersion();
  private readonly initialLength: number;

  /**
   * `owned` is false for memory a caller lent us (`Tensor.wrap`): the last release then only drops
   * our reference and never detaches the caller's buffer.
   */
  constructor(
    buffer: ArrayBuffer,
    readonly owned = true,
  ) {
    this._buffer = buffer;
    this.initialLength = buffer.byteLength;
  }

  /** The memory; values a device holds newer (XLA-resident variables) are copied in first. */
  get buffer(): ArrayBuffer {
    if (this._stale) deviceHooks.sync(this);
    return this._buffer;
  }

  /** @internal The memory as it is, without syncing device copies (lib/device-state.ts). */
  get _raw(): ArrayBuffer {
    return this._buffer;
  }

  /** True when the buffer was detached behind our back (transferred with postMessage/structuredClone). */
  get detached(): boolean {
    return this.initialLength > 0 && this._buffer.byteLength === 0;
  }

  /** Records that the memory changed. */
  bump(): void {
    this.version = nextVersion();
  }

  retain(): this {
    this.holders++;
    return this;
  }

  release(): void {
    if (--this.holders !== 0) return;
    if (this._device !== null) deviceHooks.drop(this);
    if (this.owned) binding.detach(this._buffer);
  }

  get byteLength(): number {
    return this._buffer.byteLength;
  }
}
