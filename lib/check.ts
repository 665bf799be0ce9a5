// Argument validation, in one place, with one message template: `<name> must be <expected>, got <value>`
// (INVALID_ARGUMENT), or DTYPE_MISMATCH for a dtype an operation cannot take.
import { DType, isFloat } from './dtype';
import { ErrorCode, HoduError, describe } from './errors';
import { MAX_ELEMENTS, shapeExtent } from './limits';

/** The INVALID_ARGUMENT error for `name`: "`name` must be `expected`, got `describe(got)`". */
export function invalidArgument(name: string, expected: string, got: unknown): HoduError {
  return new HoduError(ErrorCode.INVALID_ARGUMENT, `${name} must be ${expected}, got ${describe(got)}`);
}

/** A finite number in [min, max] (a learning rate, a momentum, a probability). */
export function checkNumberIn(v: unknown, name: string, min = 0, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalidArgument(name, `a number in [${min}, ${max}]`, v);
  return v;
}

export function checkInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidArgument(name, 'an integer', v);
  return v;
}

export function checkPositiveInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalidArgument(name, 'a positive integer', v);
  return v;
}

/** A shape argument: an array of at most 16 non-negative integers. */
export function checkShape(shape: unknown, name = 'shape'): number[] {
  const ok =
    Array.isArray(shape) && shape.length <= 16 && shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0);
  if (!ok) throw invalidArgument(name, 'an array of at most 16 non-negative integers', shape);
  if (shapeExtent(shape as number[]) > MAX_ELEMENTS)
    throw invalidArgument(name, 'a shape of at most 2^40 elements (the product of its non-zero dims)', shape);
  return (shape as number[]).slice();
}

/** A dim of a tensor of `rank`, negative counting from the end; returns it in 0..rank-1. */
export function normDim(dim: unknown, rank: number, what: string): number {
  const d = checkInt(dim, `${what}: dim`);
  if (d < -rank || d >= rank || rank === 0)
    throw invalidArgument(`${what}: dim`, rank ? `in ${-rank}..${rank - 1} for a tensor of rank ${rank}` : 'a dim of a tensor of rank > 0', d);
  return d < 0 ? d + rank : d;
}

/** A number or a pair of integers (kernel sizes, strides, paddings). */
export function checkPair(v: number | [number, number] | undefined, dflt: number, name: string): [number, number] {
  if (v === undefined) return [dflt, dflt];
  if (typeof v === 'number') return [checkInt(v, name), v];
  if (Array.isArray(v) && v.length === 2) return [checkInt(v[0], name), checkInt(v[1], name)];
  throw invalidArgument(name, 'an integer or a pair of integers', v);
}

/** A float dtype for parameters (DTYPE_MISMATCH otherwise). */
export function checkFloatDtype(d: DType, name: string): DType {
  if (!isFloat(d)) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `${name} must be a float dtype, got ${d}`);
  return d;
}
