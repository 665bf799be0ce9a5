import { binding } from './native';

/**
 * The memory behind one or more tensors (a tensor and its views). V8 owns the ArrayBuffer, so the
 * GC sees its size and frees it when no tensor refers to it; `release()` by the last holder frees
 * it at once (the buffer is detached, which drops V8's backing store).
 */
export class Storage {
  private holders = 1;

  /**
   * `owned` is false for memory a caller lent us (`Tensor.wrap`): the last release then only drops
   * our reference and never detaches the caller's buffer.
   */
  constructor(
    readonly buffer: ArrayBuffer,
    readonly owned = true,
  ) {}

  retain(): this {
    this.holders++;
    return this;
  }

  release(): void {
    if (--this.holders === 0 && this.owned) binding.detach(this.buffer);
  }

  get byteLength(): number {
    return this.buffer.byteLength;
  }
}
