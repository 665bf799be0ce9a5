// ONNX TensorProto payloads -> hodu dtypes and little-endian bytes (raw_data stays a view over the
// file; typed fields are packed once; external data is read from a file beside the model or from
// a caller-supplied map). Every size is checked against the bytes that back it.
import * as fs from 'fs';
import * as path from 'path';
import { DType, dtypeSize } from '../dtype';
import { ErrorCode, HoduError } from '../errors';
import { OnnxTensor, OnnxType } from './model';
import { invalidFile } from './proto';

const TO_DTYPE: Record<number, DType> = {
  [OnnxType.FLOAT]: DType.F32,
  [OnnxType.UINT8]: DType.U8,
  [OnnxType.INT8]: DType.I8,
  [OnnxType.UINT16]: DType.U16,
  [OnnxType.INT16]: DType.I16,
  [OnnxType.INT32]: DType.I32,
  [OnnxType.INT64]: DType.I64,
  [OnnxType.BOOL]: DType.BOOL,
  [OnnxType.FLOAT16]: DType.F16,
  [OnnxType.DOUBLE]: DType.F64,
  [OnnxType.UINT32]: DType.U32,
  [OnnxType.UINT64]: DType.U64,
  [OnnxType.BFLOAT16]: DType.BF16,
};

const TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL',
  10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16',
  17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ', 19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4', 23: 'FLOAT4E2M1',
};

export function onnxTypeName(code: number): string {
  return TYPE_NAMES[code] ?? `type ${code}`;
}

/** The hodu dtype of an ONNX element type, or null when hodu has none. */
export function dtypeOfOnnx(code: number): DType | null {
  return TO_DTYPE[code] ?? null;
}

const FROM_DTYPE = new Map<DType, number>(Object.entries(TO_DTYPE).map(([k, v]) => [v, Number(k)]));
export function onnxOfDtype(d: DType): number {
  return FROM_DTYPE.get(d)!;
}

/** Where external data files are found: the model's folder, or a map from location to bytes. */
export interface ExternalSource {
  dir?: string;
  data?: Record<string, Uint8Array>;
}

/** Element count of dims, checked (≤ 2^53 and each dim non-negative). */
export function elementCount(dims: readonly number[], what: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw invalidFile(`${what}: bad dim ${d}`);
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) throw invalidFile(`${what}: element count overflows`);
  }
  return n;
}

function readExternal(t: OnnxTensor, nbytes: number, src: ExternalSource): Uint8Array {
  const e = t.external!;
  if (e.length !== null && e.length !== nbytes)
    throw invalidFile(`tensor '${t.name}': external length ${e.length} does not match ${nbytes} bytes for dims [${t.dims.join(', ')}]`);
  const loc = e.location;
  if (src.data && Object.prototype.hasOwnProperty.call(src.data, loc)) {
    const b = src.data[loc];
    if (e.offset + nbytes > b.length) throw invalidFile(`tensor '${t.name}': external data '${loc}' has ${b.length} bytes, needs ${e.offset + nbytes}`);
    return b.subarray(e.offset, e.offset + nbytes);
  }
  if (!src.dir) throw new HoduError(ErrorCode.INVALID_FILE, `tensor '${t.name}' keeps its data in '${loc}': load the model from a path or pass options.externalData`);
  if (path.isAbsolute(loc) || loc.split(/[\\/]/).some((p) => p === '..') || loc.includes('\0'))
    throw invalidFile(`tensor '${t.name}': external data location '${loc}' must be a relative path inside the model's folder`);
  const root = fs.realpathSync(src.dir);
  let file: string;
  try {
    file = fs.realpathSync(path.join(root, loc));
  } catch {
    throw invalidFile(`tensor '${t.name}': external data file '${loc}' not found beside the model`);
  }
  if (!file.startsWith(root + path.sep)) throw invalidFile(`tensor '${t.name}': external data '${loc}' resolves outside the model's folder`);
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (e.offset + nbytes > size) throw invalidFile(`tensor '${t.name}': external data '${loc}' has ${size} bytes, needs ${e.offset + nbytes}`);
    const out = new Uint8Array(nbytes);
    let done = 0;
    while (done < nbytes) {
      const n = fs.readSync(fd, out, done, nbytes - done, e.offset + done);
      if (n <= 0) throw invalidFile(`tensor '${t.name}': short read from '${loc}'`);
      done += n;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

export interface TensorData {
  dtype: DType;
  shape: number[];
  /** Little-endian element bytes (may be an unaligned view over the file). */
  bytes: Uint8Array;
}

/** The payload of a TensorProto as hodu bytes. */
export function tensorData(t: OnnxTensor, src: ExternalSource = {}, what = `tensor '${t.name}'`): TensorData {
  const dtype = dtypeOfOnnx(t.dataType);
  if (dtype === null)
    throw new HoduError(ErrorCode.UNSUPPORTED_OP, `${what}: element type ${onnxTypeName(t.dataType)} is not supported by hodu`);
  const n = elementCount(t.dims, what);
  const size = dtypeSize(dtype);
  const nbytes = n * size;
  if (t.external) return { dtype, shape: t.dims.slice(), bytes: readExternal(t, nbytes, src) };
  if (t.raw) {
    if (t.raw.length !== nbytes) throw invalidFile(`${what}: raw_data has ${t.raw.length} bytes, dims [${t.dims.join(', ')}] of ${dtype} need ${nbytes}`);
    return { dtype, shape: t.dims.slice(), bytes: t.raw };
  }
  let src32: number[];
  switch (t.dataType) {
    case OnnxType.FLOAT:
      src32 = t.floatData;
      break;
    case OnnxType.INT64:
      src32 = t.int64Data;
      break;
    case OnnxType.DOUBLE:
      src32 = t.doubleData;
      break;
    case OnnxType.UINT32:
    case OnnxType.UINT64:
      src32 = t.uint64Data;
      break;
    default:
      src32 = t.int32Data;
  }
  if (src32.length !== n) throw invalidFile(`${what}: ${src32.length} values for dims [${t.dims.join(', ')}] (${n} elements)`);
  const buf = new ArrayBuffer(nbytes);
  const dv = new DataView(buf);
  for (let i = 0; i < n; i++) {
    const v = src32[i];
    switch (dtype) {
      case DType.F32: dv.setFloat32(i * 4, v, true); break;
      case DType.F64: dv.setFloat64(i * 8, v, true); break;
      case DType.I64: dv.setBigInt64(i * 8, BigInt(Math.trunc(v)), true); break;
      case DType.U64: dv.setBigUint64(i * 8, BigInt(Math.trunc(v)), true); break;
      case DType.U32: dv.setUint32(i * 4, v, true); break;
      case DType.I32: dv.setInt32(i * 4, v, true); break;
      case DType.I16: dv.setInt16(i * 2, v, true); break;
      case DType.U16: case DType.F16: case DType.BF16: dv.setUint16(i * 2, v, true); break;
      case DType.I8: dv.setInt8(i, v); break;
      case DType.BOOL: dv.setUint8(i, v ? 1 : 0); break;
      default: dv.setUint8(i, v);
    }
  }
  return { dtype, shape: t.dims.slice(), bytes: new Uint8Array(buf) };
}

/** A fresh ArrayBuffer holding exactly the bytes (aligned; one copy). */
export function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Element values as JS numbers (int64 beyond 2^53 rounded; f16/bf16 decoded). */
export function numericValues(d: TensorData): number[] {
  const n = elementCount(d.shape, 'tensor');
  const dv = new DataView(d.bytes.buffer, d.bytes.byteOffset, d.bytes.byteLength);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (d.dtype) {
      case DType.F32: out[i] = dv.getFloat32(i * 4, true); break;
      case DType.F64: out[i] = dv.getFloat64(i * 8, true); break;
      case DType.I64: out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case DType.U64: out[i] = Number(dv.getBigUint64(i * 8, true)); break;
      case DType.I32: out[i] = dv.getInt32(i * 4, true); break;
      case DType.U32: out[i] = dv.getUint32(i * 4, true); break;
      case DType.I16: out[i] = dv.getInt16(i * 2, true); break;
      case DType.U16: out[i] = dv.getUint16(i * 2, true); break;
      case DType.F16: out[i] = halfToNumber(dv.getUint16(i * 2, true)); break;
      case DType.BF16: out[i] = bf16ToNumber(dv.getUint16(i * 2, true)); break;
      case DType.I8: out[i] = dv.getInt8(i); break;
      default: out[i] = dv.getUint8(i);
    }
  }
  return out;
}

function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function bf16ToNumber(b: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, b << 16);
  return dv.getFloat32(0);
}
