// IDX files (the MNIST / Fashion-MNIST format): a big-endian header (0, 0, type code, rank,
// then rank u32 dims) followed by the values, big-endian. Gzipped files (.gz) are inflated first.
import { readFileSync } from 'fs';
import { gunzipSync } from 'zlib';
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';

const TYPES: Record<number, { dtype: DType; size: number; name: string }> = {
  0x08: { dtype: DType.U8, size: 1, name: 'u8' },
  0x09: { dtype: DType.I8, size: 1, name: 'i8' },
  0x0b: { dtype: DType.I16, size: 2, name: 'i16' },
  0x0c: { dtype: DType.I32, size: 4, name: 'i32' },
  0x0d: { dtype: DType.F32, size: 4, name: 'f32' },
  0x0e: { dtype: DType.F64, size: 8, name: 'f64' },
};

function bad(what: string, msg: string): HoduError {
  return new HoduError(ErrorCode.INVALID_FILE, `readIdx(${what}): ${msg}`);
}

/**
 * Reads an IDX file (path, or its bytes) into a tensor of the stored type (u8 images stay U8).
 * A gzip stream is inflated first. A short, truncated or inconsistent file → `INVALID_FILE`.
 */
export function readIdx(source: string | Uint8Array): Tensor {
  let bytes: Uint8Array;
  let what: string;
  if (typeof source === 'string') {
    what = `'${source}'`;
    try {
      bytes = readFileSync(source);
    } catch (e) {
      throw invalidArg(`readIdx: cannot read '${source}' (${(e as Error).message})`);
    }
  } else if (ArrayBuffer.isView(source)) {
    what = `${source.byteLength} bytes`;
    bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  } else {
    throw invalidArg(`readIdx: expected a path or a Uint8Array, got ${describe(source)}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw bad(what, `a gzip stream that does not inflate (${(e as Error).message})`);
    }
  }
  if (bytes.length < 4) throw bad(what, `${bytes.length} bytes is shorter than the 4-byte header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw bad(what, `magic starts with ${bytes[0]}, ${bytes[1]}, expected 0, 0`);
  const type = TYPES[bytes[2]];
  if (!type) throw bad(what, `unknown type code 0x${bytes[2].toString(16)}`);
  const rank = bytes[3];
  const head = 4 + 4 * rank;
  if (bytes.length < head) throw bad(what, `${bytes.length} bytes cannot hold the ${rank} dims of the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let n = 1;
  for (let i = 0; i < rank; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    shape.push(d);
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) throw bad(what, `shape [${shape.join(', ')}...] overflows`);
  }
  const need = n * type.size;
  if (bytes.length - head !== need)
    throw bad(what, `shape [${shape.join(', ')}] of ${type.name} needs ${need} data bytes, the file has ${bytes.length - head}`);
  let t: Tensor;
  switch (type.dtype) {
    case DType.U8: t = Tensor.fromArray(bytes.slice(head, head + n), shape, DType.U8); break;
    case DType.I8: t = Tensor.fromArray(new Int8Array(bytes.slice(head, head + n).buffer), shape, DType.I8); break;
    default: {
      const out = type.dtype === DType.I16 ? new Int16Array(n) : type.dtype === DType.I32 ? new Int32Array(n) : type.dtype === DType.F32 ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const o = head + i * type.size;
        out[i] = type.size === 2 ? dv.getInt16(o, false) : type.dtype === DType.I32 ? dv.getInt32(o, false) : type.dtype === DType.F32 ? dv.getFloat32(o, false) : dv.getFloat64(o, false);
      }
      t = Tensor.fromArray(out, shape, type.dtype);
    }
  }
  return t;
}

/** The bytes of an IDX file holding `t` (U8, I8, I16, I32, F32 or F64), e.g. to write test fixtures. */
export function encodeIdx(t: Tensor): Uint8Array {
  const entry = Object.entries(TYPES).find(([, v]) => v.dtype === t.dtype);
  if (!entry) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `encodeIdx: IDX has no type for ${t.dtype}`);
  const code = Number(entry[0]);
  const { size } = entry[1];
  const head = 4 + 4 * t.ndim;
  const out = new Uint8Array(head + t.size * size);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = t.ndim;
  t.shape.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const src = t.toTypedArray() as unknown as ArrayLike<number>;
  for (let i = 0; i < t.size; i++) {
    const o = head + i * size;
    switch (t.dtype) {
      case DType.U8: dv.setUint8(o, src[i]); break;
      case DType.I8: dv.setInt8(o, src[i]); break;
      case DType.I16: dv.setInt16(o, src[i], false); break;
      case DType.I32: dv.setInt32(o, src[i], false); break;
      case DType.F32: dv.setFloat32(o, src[i], false); break;
      default: dv.setFloat64(o, src[i], false);
    }
  }
  return out;
}
