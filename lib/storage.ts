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

export class Storage {
  private holders = 1;
  /**
   * Changes (to a new realm-wide stamp) whenever hodu writes into this memory: `assign`, a script's
   * variable write-back, `loadStateDict`. A compiled script that baked a read-only variable in as a
   * constant compares it to decide whether to rebuild. Writes made directly into `toTypedArray()`
   * memory do not change it (call `tensor.assign(tensor)` or `markChanged()` after such writes).
   */
  version = nextVersion();

  constructor(readonly buffer: ArrayBuffer) {}

  /** Records that the memory changed. */
  bump(): void {
    this.version = nextVersion();
  }

  retain(): this {
    this.holders++;
    return this;
  }

  release(): void {
    if (--this.holders === 0) binding.detach(this.buffer);
  }

  get byteLength(): number {
    return this.buffer.byteLength;
  }
}
