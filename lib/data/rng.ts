// A small seeded generator for data order (shuffling). Independent of the tensor generator
// (manualSeed), so that reshuffling an epoch never changes weight init or dropout draws.

/** 32-bit state, xorshift-multiply steps; returns floats in [0, 1). */
export class DataRng {
  private s: number;
  constructor(seed: number) {
    this.s = (Math.trunc(seed) ^ 0x6d2b79f5) >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x9e3779b9) >>> 0);
    t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
    t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
    t ^= t >>> 15;
    return (t >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** A permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
