import { HoduError, ErrorCode, describe } from './errors';

/** Element types. String values are the lowercase names printed and stored in files. */
export enum DType {
  BOOL = 'bool',
  U8 = 'u8',
  I8 = 'i8',
  I16 = 'i16',
  I32 = 'i32',
  I64 = 'i64',
  U16 = 'u16',
  U32 = 'u32',
  U64 = 'u64',
  F16 = 'f16',
  BF16 = 'bf16',
  F32 = 'f32',
  F64 = 'f64',
}

export type AnyTypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

interface DTypeInfo {
  code: number; // native code (native/core/dtype.h); part of the file format
  size: number;
  ctor: { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): AnyTypedArray; new (length: number): AnyTypedArray };
  float: boolean;
  int: boolean;
}

const INFO: Record<DType, DTypeInfo> = {
  [DType.BOOL]: { code: 0, size: 1, ctor: Uint8Array, float: false, int: false },
  [DType.U8]: { code: 1, size: 1, ctor: Uint8Array, float: false, int: true },
  [DType.I8]: { code: 2, size: 1, ctor: Int8Array, float: false, int: true },
  [DType.I16]: { code: 3, size: 2, ctor: Int16Array, float: false, int: true },
  [DType.I32]: { code: 4, size: 4, ctor: Int32Array, float: false, int: true },
  [DType.I64]: { code: 5, size: 8, ctor: BigInt64Array, float: false, int: true },
  [DType.U16]: { code: 6, size: 2, ctor: Uint16Array, float: false, int: true },
  [DType.U32]: { code: 7, size: 4, ctor: Uint32Array, float: false, int: true },
  [DType.U64]: { code: 8, size: 8, ctor: BigUint64Array, float: false, int: true },
  [DType.F16]: { code: 9, size: 2, ctor: Uint16Array, float: true, int: false },
  [DType.BF16]: { code: 10, size: 2, ctor: Uint16Array, float: true, int: false },
  [DType.F32]: { code: 11, size: 4, ctor: Float32Array, float: true, int: false },
  [DType.F64]: { code: 12, size: 8, ctor: Float64Array, float: true, int: false },
};

const BY_CODE: DType[] = [];
for (const d of Object.values(DType)) BY_CODE[INFO[d].code] = d;

export function dtypeInfo(d: DType): DTypeInfo {
  return INFO[d];
}
export function dtypeCode(d: DType): number {
  return INFO[d].code;
}
export function dtypeFromCode(code: number): DType {
  const d = BY_CODE[code];
  if (d === undefined) throw new HoduError(ErrorCode.INTERNAL, `unknown dtype code ${code}`);
  return d;
}
export function dtypeSize(d: DType): number {
  return INFO[d].size;
}
export function isFloat(d: DType): boolean {
  return INFO[d].float;
}
export function isInt(d: DType): boolean {
  return INFO[d].int;
}

/** Validates a user-supplied dtype (a DType or its string name). */
export function checkDType(d: unknown, what = 'dtype'): DType {
  if (typeof d === 'string' && (INFO as Record<string, unknown>)[d] !== undefined) return d as DType;
  throw new HoduError(
    ErrorCode.INVALID_ARGUMENT,
    `${what}: ${describe(d)} is not a dtype (expected one of ${Object.values(DType).join(', ')})`,
  );
}

/** The dtype a typed array naturally holds. */
export function dtypeOfTypedArray(a: ArrayBufferView): DType | undefined {
  switch (Object.prototype.toString.call(a)) {
    case '[object Float32Array]': return DType.F32;
    case '[object Float64Array]': return DType.F64;
    case '[object Int8Array]': return DType.I8;
    case '[object Int16Array]': return DType.I16;
    case '[object Int32Array]': return DType.I32;
    case '[object BigInt64Array]': return DType.I64;
    case '[object Uint8Array]': return DType.U8;
    case '[object Uint8ClampedArray]': return DType.U8;
    case '[object Uint16Array]': return DType.U16;
    case '[object Uint32Array]': return DType.U32;
    case '[object BigUint64Array]': return DType.U64;
    default: return undefined;
  }
}
