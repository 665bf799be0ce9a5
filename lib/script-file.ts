// The .hoduscript file format (little-endian):
//
//   0   "HODUSCRP"            magic (8 bytes)
//   8   u32 format version    (FORMAT_VERSION; a newer file is rejected with INVALID_FILE)
//   12  u32 flags             (0)
//   16  u32 name length, name (utf-8, at most 4096 bytes)
//       version 2 only: u32 metadata length, metadata (utf-8 JSON object, at most 1 MiB):
//         `shapes`: declared shapes of the inputs with symbolic dims ({ x: [null, 784] }); the IR
//         holds their record-time placeholder sizes (lib/symbolic.ts)
//       u32 constant count, then u64 byte length of each constant
//       u64 IR byte length
//       zero padding to a multiple of 64, IR bytes
//       per constant: zero padding to a multiple of 64, its bytes (row-major)
//   end 32-byte SHA-256 of everything before it
//
// Reading checks the checksum first, then every length against the file size, so a truncated,
// corrupted, foreign or future file gives INVALID_FILE and allocates no more than its size.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode, HoduError, describe, invalidArg } from './errors';

const MAGIC = 'HODUSCRP';
export const FORMAT_VERSION = 2;
/** The oldest version still read (version 1: no metadata). */
const OLDEST_VERSION = 1;
const MAX_META = 1 << 20;
const ALIGN = 64;
const HASH = 32;

function bad(msg: string): HoduError {
  return new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${msg}`);
}

const pad = (n: number): number => (ALIGN - (n % ALIGN)) % ALIGN;

export function encodeScriptFile(name: string, ir: Uint8Array, constants: ArrayBuffer[], meta: Record<string, unknown> = {}): Uint8Array {
  const nameBytes = Buffer.from(name, 'utf8');
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  if (metaBytes.length > MAX_META) throw invalidArg(`save: script metadata of ${metaBytes.length} bytes exceeds ${MAX_META}`);
  let header = 8 + 4 + 4 + 4 + nameBytes.length + 4 + metaBytes.length + 4 + 8 * constants.length + 8;
  let size = header + pad(header) + ir.length;
  for (const c of constants) size += pad(size) + c.byteLength;
  const total = size + HASH;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let p = 0;
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  p = 8;
  dv.setUint32(p, FORMAT_VERSION, true);
  dv.setUint32(p + 4, 0, true);
  p += 8;
  dv.setUint32(p, nameBytes.length, true);
  out.set(nameBytes, p + 4);
  p += 4 + nameBytes.length;
  dv.setUint32(p, metaBytes.length, true);
  out.set(metaBytes, p + 4);
  p += 4 + metaBytes.length;
  dv.setUint32(p, constants.length, true);
  p += 4;
  for (const c of constants) {
    dv.setBigUint64(p, BigInt(c.byteLength), true);
    p += 8;
  }
  dv.setBigUint64(p, BigInt(ir.length), true);
  p += 8;
  header = p;
  p += pad(p);
  out.set(ir, p);
  p += ir.length;
  for (const c of constants) {
    p += pad(p);
    out.set(new Uint8Array(c), p);
    p += c.byteLength;
  }
  out.set(createHash('sha256').update(out.subarray(0, p)).digest(), p);
  return out;
}

/** A copy of bytes[at, at + n) in its own ArrayBuffer (Buffer#slice would share the pool). */
function copyOut(bytes: Uint8Array, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(bytes.subarray(at, at + n));
  return out;
}

export interface ScriptFile {
  name: string;
  ir: Uint8Array;
  constants: ArrayBuffer[];
  /** Metadata (format 2); `{}` for a version 1 file. */
  meta: Record<string, unknown>;
}

export function decodeScriptFile(input: Uint8Array | ArrayBuffer): ScriptFile {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array || Object.prototype.toString.call(input) === '[object Uint8Array]') bytes = input as Uint8Array;
  else if (Object.prototype.toString.call(input) === '[object ArrayBuffer]') bytes = new Uint8Array(input as ArrayBuffer);
  else if (ArrayBuffer.isView(input)) bytes = new Uint8Array((input as ArrayBufferView).buffer, (input as ArrayBufferView).byteOffset, (input as ArrayBufferView).byteLength);
  else throw invalidArg(`Script.fromBytes: expected a Uint8Array or ArrayBuffer, got ${describe(input)}`);
  if (bytes.length < 8 + 8 + HASH) throw bad(`${bytes.length} bytes is too short to be a hodu script`);
  if (Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') !== MAGIC) throw bad('not a hodu script (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version < OLDEST_VERSION || version > FORMAT_VERSION)
    throw bad(
      version > FORMAT_VERSION
        ? `format version ${version} was written by a newer hodu; this one reads version ${FORMAT_VERSION}`
        : `unknown format version ${version}`,
    );
  const body = bytes.length - HASH;
  const digest = createHash('sha256').update(bytes.subarray(0, body)).digest();
  if (!digest.equals(Buffer.from(bytes.buffer, bytes.byteOffset + body, HASH))) throw bad('checksum mismatch (the file is truncated or corrupted)');
  let p = 16;
  const need = (n: number, what: string): void => {
    if (p + n > body) throw bad(`truncated while reading ${what}`);
  };
  need(4, 'the name');
  const nameLen = dv.getUint32(p, true);
  if (nameLen > 4096) throw bad(`name length ${nameLen}`);
  p += 4;
  need(nameLen, 'the name');
  const name = Buffer.from(bytes.buffer, bytes.byteOffset + p, nameLen).toString('utf8');
  p += nameLen;
  let meta: Record<string, unknown> = {};
  if (version >= 2) {
    need(4, 'the metadata');
    const metaLen = dv.getUint32(p, true);
    if (metaLen > MAX_META) throw bad(`metadata length ${metaLen}`);
    p += 4;
    need(metaLen, 'the metadata');
    try {
      const m: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + p, metaLen).toString('utf8'));
      if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error('not an object');
      meta = m as Record<string, unknown>;
    } catch (e) {
      throw bad(`metadata is not a JSON object (${(e as Error).message})`);
    }
    p += metaLen;
  }
  need(4, 'the constant count');
  const count = dv.getUint32(p, true);
  p += 4;
  need(count * 8, 'constant sizes');
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = dv.getBigUint64(p, true);
    if (n > BigInt(body)) throw bad(`constant ${i} claims ${n} bytes`);
    sizes.push(Number(n));
    p += 8;
  }
  need(8, 'the IR size');
  const irLen = dv.getBigUint64(p, true);
  if (irLen > BigInt(body)) throw bad(`IR claims ${irLen} bytes`);
  p += 8;
  p += pad(p);
  need(Number(irLen), 'the IR');
  const ir = copyOut(bytes, p, Number(irLen));
  p += Number(irLen);
  const constants: ArrayBuffer[] = [];
  for (let i = 0; i < count; i++) {
    p += pad(p);
    need(sizes[i], `constant ${i}`);
    constants.push(copyOut(bytes, p, sizes[i]).buffer as ArrayBuffer);
    p += sizes[i];
  }
  if (p !== body) throw bad(`${body - p} unexpected bytes after the data`);
  return { name, ir, constants, meta };
}

/** Adds `.hoduscript` when the path has no extension. */
export function scriptPath(p: string): string {
  if (typeof p !== 'string' || p.length === 0) throw invalidArg(`save: path must be a non-empty string, got ${describe(p)}`);
  return path.extname(p) === '' ? `${p}.hoduscript` : p;
}

/** Writes atomically: a temporary file in the same folder, then rename. Returns the final path. */
export function writeScriptFile(p: string, data: Uint8Array): string {
  const target = scriptPath(p);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx' });
    fs.renameSync(tmp, target);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* ignore */
    }
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `save: cannot write '${target}': ${(e as Error).message}`);
  }
  return target;
}

export function readScriptFile(p: string): Uint8Array {
  if (typeof p !== 'string' || p.length === 0) throw invalidArg(`load: path must be a non-empty string, got ${describe(p)}`);
  let target = p;
  if (!fs.existsSync(target) && path.extname(p) === '' && fs.existsSync(`${p}.hoduscript`)) target = `${p}.hoduscript`;
  try {
    return fs.readFileSync(target);
  } catch (e) {
    throw new HoduError(ErrorCode.INVALID_FILE, `load: cannot read '${target}': ${(e as Error).message}`);
  }
}
