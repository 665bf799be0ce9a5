// A minimal protobuf wire-format reader for ONNX files. Every read is bounds-checked against the
// message it belongs to; any malformed input throws HoduError INVALID_FILE (never a RangeError,
// never an allocation larger than the bytes that justify it).
import { ErrorCode, HoduError } from '../errors';

export const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

export function invalidFile(message: string): HoduError {
  return new HoduError(ErrorCode.INVALID_FILE, `invalid ONNX file: ${message}`);
}

const TWO32 = 4294967296;

/** Reads one length-delimited message (a window [pos, end) of the file bytes). */
export class ProtoReader {
  pos: number;
  readonly end: number;
  private view: DataView | null = null;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint as [low 32 bits, high 32 bits]. */
  private varint64(): [number, number] {
    let lo = 0;
    let hi = 0;
    const b = this.buf;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw invalidFile(`truncated varint at byte ${this.pos}`);
      const byte = b[this.pos++];
      if (i < 4) lo |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x7f) >> 4;
      } else hi |= (byte & 0x7f) << (7 * i - 32);
      if ((byte & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw invalidFile(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** An unsigned varint that must fit a JS safe integer (lengths, tags, counts). */
  uint(): number {
    const [lo, hi] = this.varint64();
    if (hi >= 0x200000) throw invalidFile(`value too large at byte ${this.pos}`);
    return hi * TWO32 + lo;
  }

  /** A signed int64 varint as a number (exact up to 2^53; larger magnitudes are rounded). */
  int64(): number {
    const [lo, hi] = this.varint64();
    if (hi & 0x80000000) {
      // two's complement negative
      const nlo = ~lo >>> 0;
      const nhi = ~hi >>> 0;
      return -(nhi * TWO32 + nlo + 1);
    }
    return hi * TWO32 + lo;
  }

  /** int32 / enum fields (a negative int32 is encoded sign-extended to 64 bits). */
  int32(): number {
    const [lo] = this.varint64();
    return lo | 0;
  }

  /** Tag: [field number, wire type]. */
  tag(): [number, number] {
    const t = this.uint();
    const field = Math.floor(t / 8);
    if (field === 0) throw invalidFile(`field number 0 at byte ${this.pos}`);
    return [field, t & 7];
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw invalidFile(`truncated data: ${n} bytes needed at byte ${this.pos}, ${this.end - this.pos} left`);
  }

  private dv(): DataView {
    if (!this.view) this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.view;
  }

  float(): number {
    this.need(4);
    const v = this.dv().getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.dv().getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited field's extent; the caller reads it from [start, end). */
  lengthDelimited(): [number, number] {
    const n = this.uint();
    this.need(n);
    const start = this.pos;
    this.pos += n;
    return [start, start + n];
  }

  /** Zero-copy view of a bytes field. */
  bytes(): Uint8Array {
    const [s, e] = this.lengthDelimited();
    return this.buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.lengthDelimited();
    return utf8.decode(this.buf.subarray(s, e));
  }

  /** A sub-reader over a nested message. */
  message(): ProtoReader {
    const [s, e] = this.lengthDelimited();
    return new ProtoReader(this.buf, s, e);
  }

  skip(wire: number): void {
    switch (wire) {
      case Wire.Varint:
        this.varint64();
        return;
      case Wire.Fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case Wire.Bytes:
        this.lengthDelimited();
        return;
      case Wire.Fixed32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw invalidFile(`unsupported wire type ${wire} at byte ${this.pos}`);
    }
  }

  /** Repeated int64 field (packed or not), appended to out. */
  int64s(wire: number, out: number[]): void {
    if (wire === Wire.Bytes) {
      const [s, e] = this.lengthDelimited();
      const r = new ProtoReader(this.buf, s, e);
      while (!r.done) out.push(r.int64());
    } else if (wire === Wire.Varint) out.push(this.int64());
    else throw invalidFile(`wire type ${wire} for an integer field at byte ${this.pos}`);
  }

  /** Repeated int32 / uint64-as-number fields (packed or not). */
  int32s(wire: number, out: number[]): void {
    if (wire === Wire.Bytes) {
      const [s, e] = this.lengthDelimited();
      const r = new ProtoReader(this.buf, s, e);
      while (!r.done) out.push(r.int32());
    } else if (wire === Wire.Varint) out.push(this.int32());
    else throw invalidFile(`wire type ${wire} for an integer field at byte ${this.pos}`);
  }

  floats(wire: number, out: number[]): void {
    if (wire === Wire.Bytes) {
      const [s, e] = this.lengthDelimited();
      if ((e - s) % 4 !== 0) throw invalidFile(`packed float field of ${e - s} bytes at byte ${s}`);
      const dv = this.dv();
      for (let p = s; p < e; p += 4) out.push(dv.getFloat32(p, true));
    } else if (wire === Wire.Fixed32) out.push(this.float());
    else throw invalidFile(`wire type ${wire} for a float field at byte ${this.pos}`);
  }

  doubles(wire: number, out: number[]): void {
    if (wire === Wire.Bytes) {
      const [s, e] = this.lengthDelimited();
      if ((e - s) % 8 !== 0) throw invalidFile(`packed double field of ${e - s} bytes at byte ${s}`);
      const dv = this.dv();
      for (let p = s; p < e; p += 8) out.push(dv.getFloat64(p, true));
    } else if (wire === Wire.Fixed64) out.push(this.double());
    else throw invalidFile(`wire type ${wire} for a double field at byte ${this.pos}`);
  }

  /** uint64 values (uint64_data) as numbers (exact up to 2^53). */
  uint64s(wire: number, out: number[]): void {
    const one = (r: ProtoReader) => {
      const [lo, hi] = r.varint64();
      out.push(hi * TWO32 + lo);
    };
    if (wire === Wire.Bytes) {
      const [s, e] = this.lengthDelimited();
      const r = new ProtoReader(this.buf, s, e);
      while (!r.done) one(r);
    } else if (wire === Wire.Varint) one(this);
    else throw invalidFile(`wire type ${wire} for an integer field at byte ${this.pos}`);
  }

  expect(wire: number, want: number, what: string): void {
    if (wire !== want) throw invalidFile(`${what}: wire type ${wire}, expected ${want} (byte ${this.pos})`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
