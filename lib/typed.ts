// Typed data access: helpers whose return type TypeScript knows, and integer results as plain
// numbers (no BigInt) where they fit. Added to Tensor's prototype; declared below.
import { DType, isFloat } from './dtype';
import { ErrorCode, HoduError } from './errors';
import { Tensor } from './tensor';

declare module './tensor' {
  interface Tensor {
    /** F32 data: the tensor's own memory when it is F32 (no copy), else a converted copy. */
    toFloat32Array(): Float32Array;
    /** F64 data: the tensor's own memory when it is F64 (no copy), else a converted copy. */
    toFloat64Array(): Float64Array;
    /**
     * I32 data: the tensor's own memory when it is I32 (no copy), else a converted copy (floats are
     * truncated toward zero). An integer outside the i32 range → `INVALID_ARGUMENT`.
     */
    toInt32Array(): Int32Array;
    /** U8 data: the tensor's own memory when it is U8 or BOOL (no copy), else a converted copy (integers must be in 0..255). */
    toUint8Array(): Uint8Array;
    /**
     * The values as a flat array of numbers in row-major order: I64/U64 (e.g. argmax) become
     * numbers, F16/BF16 are decoded, BOOL gives 0/1. An I64/U64 beyond ±2⁵³ → `INVALID_ARGUMENT`.
     */
    toNumbers(): number[];
  }
}

function intRange(t: Tensor, lo: number, hi: number, what: string): void {
  if (isFloat(t.dtype) || t.dtype === DType.BOOL || t.size === 0) return;
  const a = t.toTypedArray() as unknown as ArrayLike<number | bigint>;
  for (let i = 0; i < a.length; i++) {
    const v = Number(a[i]);
    if (v < lo || v > hi) throw new HoduError(ErrorCode.INVALID_ARGUMENT, `${what}: element ${i} (${a[i]}) of a ${t.dtype} tensor is outside ${lo}..${hi}`);
  }
}

function as<T>(t: Tensor, dtype: DType): T {
  return (t.dtype === dtype ? t.toTypedArray() : t.toDtype(dtype).toTypedArray()) as unknown as T;
}

Tensor.prototype.toFloat32Array = function (this: Tensor): Float32Array {
  return as<Float32Array>(this, DType.F32);
};
Tensor.prototype.toFloat64Array = function (this: Tensor): Float64Array {
  return as<Float64Array>(this, DType.F64);
};
Tensor.prototype.toInt32Array = function (this: Tensor): Int32Array {
  if (this.dtype !== DType.I32) intRange(this, -(2 ** 31), 2 ** 31 - 1, 'toInt32Array');
  return as<Int32Array>(this, DType.I32);
};
Tensor.prototype.toUint8Array = function (this: Tensor): Uint8Array {
  if (this.dtype === DType.BOOL) return this.toTypedArray() as Uint8Array;
  if (this.dtype !== DType.U8) intRange(this, 0, 255, 'toUint8Array');
  return as<Uint8Array>(this, DType.U8);
};
Tensor.prototype.toNumbers = function (this: Tensor): number[] {
  if (this.dtype === DType.I64 || this.dtype === DType.U64) {
    const a = this.toTypedArray() as BigInt64Array | BigUint64Array;
    const out = new Array<number>(a.length);
    for (let i = 0; i < a.length; i++) {
      const v = Number(a[i]);
      if (!Number.isSafeInteger(v)) throw new HoduError(ErrorCode.INVALID_ARGUMENT, `toNumbers: element ${i} (${a[i]}n) does not fit a JS number exactly`);
      out[i] = v;
    }
    return out;
  }
  if (this.dtype === DType.F16 || this.dtype === DType.BF16) return Array.from(this.toDtype(DType.F32).toTypedArray() as Float32Array);
  return Array.from(this.toTypedArray() as unknown as ArrayLike<number>);
};

export {};
