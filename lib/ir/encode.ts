// Graph -> IR bytes, read by native/ir/decode.cc. Little-endian:
//   u32 magic "HDIR", u32 version, u32 value count, then per value:
//     u8 kind, u8 dtype, u8 rank, u8 0, i64 dims[rank], and
//       input:    u32 name length, utf-8 name
//       constant: u32 constant index
//       op:       u16 opcode, u16 input count, u32 input ids[], u32 attribute count, f64 attributes[]
//   u32 output count, per output: u32 value id, u32 name length, utf-8 name
import { dtypeCode } from '../dtype';
import { IrOutput, IrValue, ValueKind } from './graph';

export const IR_MAGIC = 0x52494448;
export const IR_VERSION = 1;

class Writer {
  private buf = new ArrayBuffer(1024);
  private view = new DataView(this.buf);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(new Uint8Array(this.buf, 0, this.pos));
    this.buf = next;
    this.view = new DataView(next);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  i64(v: number): void {
    this.ensure(8);
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v)) {
      // two 32-bit halves: no BigInt per dim (graphs of 100 000 values encode in a few ms)
      this.view.setUint32(this.pos, v % 0x100000000, true);
      this.view.setUint32(this.pos + 4, Math.floor(v / 0x100000000), true);
    } else {
      this.view.setBigInt64(this.pos, BigInt(v), true);
    }
    this.pos += 8;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u32(b.length);
    this.ensure(b.length);
    new Uint8Array(this.buf, this.pos, b.length).set(b);
    this.pos += b.length;
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.buf.slice(0, this.pos));
  }
}

export function encodeGraph(values: readonly IrValue[], outputs: readonly IrOutput[]): Uint8Array {
  const w = new Writer();
  w.u32(IR_MAGIC);
  w.u32(IR_VERSION);
  w.u32(values.length);
  for (const v of values) {
    w.u8(v.kind);
    w.u8(dtypeCode(v.dtype));
    w.u8(v.shape.length);
    w.u8(0);
    for (const d of v.shape) w.i64(d);
    if (v.kind === ValueKind.Input) w.str(v.name!);
    else if (v.kind === ValueKind.Constant) w.u32(v.constant!);
    else {
      w.u16(v.op!);
      w.u16(v.inputs!.length);
      for (const id of v.inputs!) w.u32(id);
      w.u32(v.attrs!.length);
      for (const a of v.attrs!) w.f64(a);
    }
  }
  w.u32(outputs.length);
  for (const o of outputs) {
    w.u32(o.value);
    w.str(o.name);
  }
  return w.bytes();
}
