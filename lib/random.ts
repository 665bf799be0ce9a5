// The random state of this JS realm. Each random tensor takes one 64-bit seed from this stream;
// the native fill derives element i from (seed, i), so results are reproducible after manualSeed()
// and independent of threading.
import { randomBytes } from 'crypto';
import { describe, invalidArg } from './errors';

const MASK = (1n << 64n) - 1n;
let state = randomBytes(8).readBigUInt64LE(0);

/** Makes every random function (randn, rand, Dropout, weight init) reproducible. */
export function manualSeed(seed: number | bigint): void {
  if (typeof seed === 'number') {
    if (!Number.isInteger(seed)) throw invalidArg(`manualSeed: seed must be an integer, got ${describe(seed)}`);
    state = BigInt.asUintN(64, BigInt(seed));
  } else if (typeof seed === 'bigint') {
    state = BigInt.asUintN(64, seed);
  } else {
    throw invalidArg(`manualSeed: seed must be an integer, got ${describe(seed)}`);
  }
}

/** The next 64-bit seed, as [high 32 bits, low 32 bits] (splitmix64 step). */
export function nextSeed(): [number, number] {
  state = (state + 0x9e3779b97f4a7c15n) & MASK;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  z = z ^ (z >> 31n);
  return [Number(z >> 32n), Number(z & 0xffffffffn)];
}

/** @internal The generator state (to draw with another seed and put the stream back). */
export function _randomState(): bigint {
  return state;
}
/** @internal */
export function _setRandomState(s: bigint): void {
  state = s;
}
