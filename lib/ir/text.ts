// Readable text of a script's stages (Script.asText): the IR, decoded from its bytes (the format of
// ./encode.ts), and the HODU plan, from PlanInfo. One line per value / step.
import { dtypeFromCode } from '../dtype';
import { opTable } from '../native';
import { IR_MAGIC } from './encode';
import { ValueKind } from './graph';

/**
 * The IR bytes as text, one value per line:
 * `%3 = add(%1, %2) : f32[2, 3]`, `%0 = input "x" : f32[2, 3]`, `%2 = constant #0 : f32[3]`,
 * then `return y = %3, ...`. Attributes print after the operands: `sum(%0; keepdim=0, dims=1)`.
 */
export function irToText(ir: Uint8Array): string {
  const v = new DataView(ir.buffer, ir.byteOffset, ir.byteLength);
  let p = 0;
  const u8 = () => v.getUint8(p++);
  const u16 = () => ((p += 2), v.getUint16(p - 2, true));
  const u32 = () => ((p += 4), v.getUint32(p - 4, true));
  const i64 = () => ((p += 8), Number(v.getBigInt64(p - 8, true)));
  const f64 = () => ((p += 8), v.getFloat64(p - 8, true));
  const str = () => {
    const n = u32();
    p += n;
    return Buffer.from(ir.buffer, ir.byteOffset + p - n, n).toString('utf8');
  };
  if (u32() !== IR_MAGIC) throw new Error('not hodu IR bytes');
  const version = u32();
  const count = u32();
  const table = opTable();
  const lines = [`// hodu IR v${version}, ${count} values`];
  for (let i = 0; i < count; i++) {
    const kind = u8();
    const dtype = dtypeFromCode(u8());
    const rank = u8();
    u8();
    const dims = Array.from({ length: rank }, i64);
    const type = `${dtype}[${dims.join(', ')}]`;
    if (kind === ValueKind.Input) lines.push(`%${i} = input "${str()}" : ${type}`);
    else if (kind === ValueKind.Constant) lines.push(`%${i} = constant #${u32()} : ${type}`);
    else {
      const op = table[u16()];
      const ins = Array.from({ length: u16() }, () => `%${u32()}`);
      const attrs = Array.from({ length: u32() }, f64);
      lines.push(`%${i} = ${op?.name ?? '?'}(${ins.join(', ')}${attrs.length ? `; ${namedAttrs(op?.attrs ?? '', attrs)}` : ''}) : ${type}`);
    }
  }
  const outs = Array.from({ length: u32() }, () => {
    const id = u32();
    return `${str()} = %${id}`;
  });
  lines.push(`return ${outs.join(', ')}`);
  return lines.join('\n') + '\n';
}

/** "keepdim, dims..." with [0, 1, 2] -> "keepdim=0, dims=1, 2". */
function namedAttrs(schema: string, attrs: number[]): string {
  const names = schema.split(',').map((s) => s.trim()).filter((s) => s);
  const parts: string[] = [];
  for (let k = 0; k < attrs.length; k++) {
    const name = names[Math.min(k, names.length - 1)] ?? '';
    const variadic = name.endsWith('...');
    if (!variadic || k === names.length - 1) parts.push(`${name.replace('...', '')}=${attrs[k]}`);
    else parts.push(String(attrs[k]));
  }
  return parts.join(', ');
}

/** The plan's statistics and steps as text: a summary line, then one line per step. */
export function planToText(plan: { kernels: string[] }): string {
  const info = plan as { kernels: string[]; loops?: unknown } & Record<string, unknown>;
  const skip = new Set(['kernels', 'loops', 'toString']);
  const summary = Object.entries(info)
    .filter(([k, v]) => !skip.has(k) && (typeof v === 'number' || typeof v === 'string'))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const loops = Array.isArray(info.loops) && info.loops.length ? `\nloops: ${JSON.stringify(info.loops)}` : '';
  const steps = info.kernels.map((k, i) => `  ${String(i).padStart(3)}  ${k}`).join('\n');
  return `plan: ${summary}${loops}\n${steps}\n`;
}
