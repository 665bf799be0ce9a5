/**
 * Size limits checked in TypeScript before anything is allocated (the native core checks the same
 * ones: native/core/checked_size.h).
 */

/** Most elements of one tensor, and most the non-zero dims of a shape may multiply to (also next to a 0 dim). */
export const MAX_ELEMENTS = 2 ** 40;

/** Most pieces split()/chunk() make (one Tensor object each: a dim of 2^40 split by 1 would exhaust the JS heap). */
export const MAX_SPLIT_PIECES = 2 ** 20;

/** Product of the non-zero dims (saturates at Infinity; exact below 2^53). */
export function shapeExtent(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d > 0 ? d : 1;
  return n;
}

/**
 * toArray()/toString() build one JS value per element and one array per row: a tensor with few or no
 * elements but huge leading dims (`zeros([2**28, 0])` is 2^28 empty arrays) would exhaust the JS heap,
 * which aborts the process. They refuse more than this many entries (toTypedArray() has no limit).
 */
export const MAX_NESTED_ENTRIES = 2 ** 27;

/** Arrays plus leaves that nested arrays of `shape` hold (saturates above 2^53, never wraps). */
export function nestedEntries(shape: readonly number[]): number {
  let total = 0;
  let rows = 1;
  for (const d of shape) {
    rows *= d;
    total += rows;
    if (total > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  }
  return shape.length === 0 ? 1 : total;
}
