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
