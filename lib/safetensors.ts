// The safetensors format, as the Python `safetensors` package reads and writes it:
//   u64 LE  N: the header's byte length
//   N bytes a JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
//           "__metadata__": { "<key>": "<string>" } } (padded with spaces to a multiple of 8)
//   the data: each tensor row-major, little-endian, at [begin, end) from the end of the header.
// Loading from a path reads the header, then each tensor straight into its own memory (the file is
// never copied whole); a malformed file is INVALID_FILE and nothing is allocated beyond what the
// file's size justifies.
import * as fs from 'fs';
import * as path from 'path';
import { DType, dtypeInfo } from './dtype';
import { ErrorCode, HoduError, describe, invalidArg } from './errors';
import { eager } from './ir/graph';
import { Storage } from './storage';
import { Tensor } from './tensor';

const TO_FILE: Record<DType, string> = {
  [DType.BOOL]: 'BOOL',
  [DType.U8]: 'U8',
  [DType.I8]: 'I8',
  [DType.I16]: 'I16',
  [DType.U16]: 'U16',
  [DType.I32]: 'I32',
  [DType.U32]: 'U32',
  [DType.I64]: 'I64',
  [DType.U64]: 'U64',
  [DType.F16]: 'F16',
  [DType.BF16]: 'BF16',
  [DType.F32]: 'F32',
  [DType.F64]: 'F64',
};
const FROM_FILE = new Map<string, DType>(Object.entries(TO_FILE).map(([d, s]) => [s, d as DType]));

/** The largest header the Python package accepts (100 MB). */
const MAX_HEADER = 100_000_000;

function bad(where: string, msg: string): HoduError {
  return new HoduError(ErrorCode.INVALID_FILE, `invalid safetensors ${where}: ${msg}`);
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and checks the header against the data size (in bytes after the header). */
function parseHeader(json: string, dataBytes: number, where: string): { entries: Entry[]; metadata: Record<string, string> } {
  let h: unknown;
  try {
    h = JSON.parse(json);
  } catch (e) {
    throw bad(where, `the header is not JSON (${(e as Error).message})`);
  }
  if (h === null || typeof h !== 'object' || Array.isArray(h)) throw bad(where, 'the header is not a JSON object');
  const entries: Entry[] = [];
  const metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(h as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(where, '__metadata__ is not an object');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') throw bad(where, `__metadata__ '${k}' is ${describe(s)}, expected a string`);
        metadata[k] = s;
      }
      continue;
    }
    if (v === null || typeof v !== 'object') throw bad(where, `tensor '${name}' is not an object`);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string') throw bad(where, `tensor '${name}' has no dtype`);
    const dtype = FROM_FILE.get(e.dtype);
    if (!dtype)
      throw new HoduError(
        ErrorCode.DTYPE_MISMATCH,
        `safetensors ${where}: tensor '${name}' has dtype ${e.dtype}, which hodu does not have (it reads ${[...FROM_FILE.keys()].join(', ')})`,
      );
    if (!Array.isArray(e.shape) || e.shape.length > 16 || e.shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0))
      throw bad(where, `tensor '${name}' has shape ${describe(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) || off[0] > off[1])
      throw bad(where, `tensor '${name}' has data_offsets ${describe(off)}`);
    let n = dtypeInfo(dtype).size;
    for (const d of e.shape as number[]) {
      n *= d;
      if (n > dataBytes) break; // checked below; stops an overflow
    }
    if (off[1] > dataBytes) throw bad(where, `tensor '${name}' ends at byte ${off[1]} of ${dataBytes} data bytes (truncated?)`);
    if (off[1] - off[0] !== n)
      throw bad(where, `tensor '${name}' (${e.dtype}${describe(e.shape)}) needs ${n} bytes, data_offsets give ${off[1] - off[0]}`);
    entries.push({ name, dtype, shape: (e.shape as number[]).slice(), begin: off[0], end: off[1] });
  }
  // the data must be covered exactly, without overlaps (as the Python package checks)
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) throw bad(where, `tensor '${e.name}' starts at byte ${e.begin}, expected ${at} (overlap or gap)`);
    at = e.end;
  }
  if (at !== dataBytes) throw bad(where, `the tensors cover ${at} of ${dataBytes} data bytes`);
  return { entries, metadata };
}

function makeTensor(e: Entry, buf: ArrayBuffer): Tensor {
  return Tensor._make(new Storage(buf), e.dtype, e.shape);
}

function allocate(n: number, where: string): ArrayBuffer {
  try {
    return new ArrayBuffer(Math.max(n, 1));
  } catch (err) {
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `safetensors ${where}: cannot allocate ${n} bytes (${(err as Error).message})`);
  }
}

function readAll(pathOrBytes: string | Uint8Array | ArrayBuffer): { entries: Entry[]; metadata: Record<string, string>; tensors: () => Record<string, Tensor> } {
  if (typeof pathOrBytes === 'string') {
    const where = `file '${pathOrBytes}'`;
    const { fd, dataStart, parsed } = openFile(pathOrBytes, 'loadSafetensors');
    try {
      const out: Record<string, Tensor> = {};
      for (const e of parsed.entries) {
        const buf = allocate(e.end - e.begin, where);
        let got = 0;
        while (got < e.end - e.begin) {
          const r = fs.readSync(fd, new Uint8Array(buf, got, e.end - e.begin - got), 0, e.end - e.begin - got, dataStart + e.begin + got);
          if (r <= 0) throw bad(where, `tensor '${e.name}' is truncated`);
          got += r;
        }
        out[e.name] = makeTensor(e, buf);
      }
      return { entries: parsed.entries, metadata: parsed.metadata, tensors: () => out };
    } finally {
      fs.closeSync(fd);
    }
  }
  let bytes: Uint8Array;
  if (pathOrBytes instanceof Uint8Array || Object.prototype.toString.call(pathOrBytes) === '[object Uint8Array]') bytes = pathOrBytes as Uint8Array;
  else if (Object.prototype.toString.call(pathOrBytes) === '[object ArrayBuffer]') bytes = new Uint8Array(pathOrBytes as ArrayBuffer);
  else if (ArrayBuffer.isView(pathOrBytes)) bytes = new Uint8Array(pathOrBytes.buffer, pathOrBytes.byteOffset, pathOrBytes.byteLength);
  else throw invalidArg(`loadSafetensors: expected a path, a Uint8Array or an ArrayBuffer, got ${describe(pathOrBytes)}`);
  const where = 'bytes';
  if (bytes.length < 8) throw bad(where, `${bytes.length} bytes is too short`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) throw bad(where, `the header claims ${n} bytes of ${bytes.length}`);
  const dataStart = 8 + Number(n);
  const parsed = parseHeader(Buffer.from(bytes.buffer, bytes.byteOffset + 8, Number(n)).toString('utf8'), bytes.length - dataStart, where);
  return {
    entries: parsed.entries,
    metadata: parsed.metadata,
    tensors: () => {
      const out: Record<string, Tensor> = {};
      for (const e of parsed.entries) {
        const buf = allocate(e.end - e.begin, where);
        new Uint8Array(buf, 0, e.end - e.begin).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
        out[e.name] = makeTensor(e, buf);
      }
      return out;
    },
  };
}

/**
 * Reads a safetensors file (a path, or its bytes): every tensor by name, each in its own memory.
 * A malformed file → `INVALID_FILE`; a dtype hodu does not have (e.g. F8_E4M3) → `DTYPE_MISMATCH`.
 */
export function loadSafetensors(pathOrBytes: string | Uint8Array | ArrayBuffer): Record<string, Tensor> {
  return readAll(pathOrBytes).tensors();
}

/** The `__metadata__` of a safetensors file (string → string; empty when it has none). */
export function safetensorsMetadata(pathOrBytes: string | Uint8Array | ArrayBuffer): Record<string, string> {
  if (typeof pathOrBytes === 'string') {
    // header only: read through the same checks without loading the data
    return readHeaderOnly(pathOrBytes);
  }
  return readAll(pathOrBytes).metadata;
}

function readHeaderOnly(file: string): Record<string, string> {
  const { fd, parsed } = openFile(file, 'safetensorsMetadata');
  fs.closeSync(fd);
  return parsed.metadata;
}

/**
 * Opens a safetensors file and reads and checks its 8-byte length and JSON header (never more than the
 * file holds); the caller reads the data after `dataStart` and closes `fd`.
 */
function openFile(file: string, caller: string): { fd: number; dataStart: number; parsed: ReturnType<typeof parseHeader> } {
  const where = `file '${file}'`;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new HoduError(ErrorCode.INVALID_FILE, `${caller}: cannot read '${file}': ${(e as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw bad(where, `${size} bytes is too short`);
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const n = head.readBigUInt64LE(0);
    if (n > BigInt(Math.min(MAX_HEADER, size - 8))) throw bad(where, `the header claims ${n} bytes of a ${size}-byte file`);
    const hb = Buffer.alloc(Number(n));
    fs.readSync(fd, hb, 0, hb.length, 8);
    const dataStart = 8 + hb.length;
    return { fd, dataStart, parsed: parseHeader(hb.toString('utf8'), size - dataStart, where) };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** The header and each tensor's bytes (row-major) for writing. */
function prepare(tensors: Record<string, Tensor>, metadata: Record<string, string> | undefined): { header: Buffer; parts: Uint8Array[] } {
  if (tensors === null || typeof tensors !== 'object') throw invalidArg(`saveSafetensors: tensors must be an object of name → Tensor, got ${describe(tensors)}`);
  const head: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object') throw invalidArg(`saveSafetensors: metadata must be an object of strings, got ${describe(metadata)}`);
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw invalidArg(`saveSafetensors: metadata '${k}' is ${describe(v)}, expected a string`);
    if (Object.keys(metadata).length) head.__metadata__ = { ...metadata };
  }
  const parts: Uint8Array[] = [];
  let at = 0;
  // larger alignment first, then by name (the Python package's order), so every tensor is aligned
  const names = Object.keys(tensors).sort((a, b) => {
    const sa = tensors[a] instanceof Tensor ? dtypeInfo(tensors[a].dtype).size : 0;
    const sb = tensors[b] instanceof Tensor ? dtypeInfo(tensors[b].dtype).size : 0;
    return sb - sa || (a < b ? -1 : a > b ? 1 : 0);
  });
  for (const name of names) {
    if (name === '__metadata__') throw invalidArg("saveSafetensors: '__metadata__' is reserved for the metadata; rename the tensor");
    const t = tensors[name];
    if (!(t instanceof Tensor)) throw invalidArg(`saveSafetensors: '${name}' is ${describe(t)}, expected a Tensor`);
    t._check();
    if (t.isSymbolic) throw invalidArg(`saveSafetensors: '${name}' is a builder graph value with no data`);
    const a = eager(() => t.toTypedArray());
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    head[name] = { dtype: TO_FILE[t.dtype], shape: t.shape.slice(), data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(head);
  const padded = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (padded % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(8 + hb.length);
  header.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(header, 8);
  return { header, parts };
}

/** The safetensors bytes of `tensors` (and `metadata`) in memory. */
export function toSafetensorsBytes(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const { header, parts } = prepare(tensors, metadata);
  const out = new Uint8Array(header.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(header, 0);
  let at = header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes `tensors` (and string `metadata`) as a safetensors file that the Python package reads.
 * The write is atomic (a temporary file, then rename) and streams each tensor's memory to the file
 * (no copy of the whole file in memory). Returns the path.
 */
export function saveSafetensors(file: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): string {
  if (typeof file !== 'string' || file.length === 0) throw invalidArg(`saveSafetensors: path must be a non-empty string, got ${describe(file)}`);
  const { header, parts } = prepare(tensors, metadata);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeSync(fd, header);
    for (const p of parts) {
      let done = 0;
      while (done < p.length) done += fs.writeSync(fd, p, done, p.length - done);
    }
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* ignore */
    }
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `saveSafetensors: cannot write '${file}': ${(e as Error).message}`);
  }
  return file;
}
