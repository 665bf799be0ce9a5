// IR bytes -> values and outputs: the inverse of ./encode.ts, used to rewrite a recorded graph for
// concrete shapes (lib/specialize.ts). The bytes were validated by the native describeIr when the
// Script was made, so this reader only guards against running past the end.
import { dtypeFromCode } from '../dtype';
import { ErrorCode, HoduError } from '../errors';
import { IR_MAGIC, IR_VERSION } from './encode';
import { IrOutput, IrValue, ValueKind } from './graph';

export interface DecodedGraph {
  values: IrValue[];
  outputs: IrOutput[];
}

export function decodeGraph(ir: Uint8Array): DecodedGraph {
  const dv = new DataView(ir.buffer, ir.byteOffset, ir.byteLength);
  let p = 0;
  const need = (n: number): void => {
    if (p + n > ir.byteLength) throw new HoduError(ErrorCode.INVALID_FILE, `IR truncated at byte ${p}`);
  };
  const u8 = (): number => (need(1), dv.getUint8(p++));
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const i64 = (): number => {
    need(8);
    const v = Number(dv.getBigInt64(p, true));
    p += 8;
    return v;
  };
  const f64 = (): number => {
    need(8);
    const v = dv.getFloat64(p, true);
    p += 8;
    return v;
  };
  const str = (): string => {
    const n = u32();
    need(n);
    const s = Buffer.from(ir.buffer, ir.byteOffset + p, n).toString('utf8');
    p += n;
    return s;
  };
  if (u32() !== IR_MAGIC) throw new HoduError(ErrorCode.INVALID_FILE, 'IR: bad magic');
  const version = u32();
  if (version !== IR_VERSION) throw new HoduError(ErrorCode.INVALID_FILE, `IR: version ${version} is not supported`);
  const count = u32();
  const values: IrValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = u8() as ValueKind;
    const dtype = dtypeFromCode(u8());
    const rank = u8();
    u8();
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) shape.push(i64());
    if (kind === ValueKind.Input) values.push({ kind, dtype, shape, name: str() });
    else if (kind === ValueKind.Constant) values.push({ kind, dtype, shape, constant: u32() });
    else {
      const op = u16();
      const nin = u16();
      const inputs: number[] = [];
      for (let k = 0; k < nin; k++) inputs.push(u32());
      const nattr = u32();
      const attrs: number[] = [];
      for (let k = 0; k < nattr; k++) attrs.push(f64());
      values.push({ kind, dtype, shape, op, inputs, attrs });
    }
  }
  const nout = u32();
  const outputs: IrOutput[] = [];
  for (let i = 0; i < nout; i++) {
    const value = u32();
    outputs.push({ value, name: str() });
  }
  return { values, outputs };
}
