import { binding } from './native';

/**
 * The memory behind one or more tensors (a tensor and its views). V8 owns the ArrayBuffer, so the
 * GC sees its size and frees it when no tensor refers to it; `release()` by the last holder frees
 * it at once (the buffer is detached, which drops V8's backing store).
 */
export class Storage {
  private holders = 1;
  private readonly initialLength: number;

  constructor(readonly buffer: ArrayBuffer) {
    this.initialLength = buffer.byteLength;
  }

  /** True when the buffer was detached behind our back (transferred with postMessage/structuredClone). */
  get detached(): boolean {
    return this.initialLength > 0 && this.buffer.byteLength === 0;
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
