// The tables both languages hold agree: error codes (native/core/error.h HODU_ERROR_CODES vs
// lib/errors.ts) and dtype codes, names and sizes (native/core/dtype.h vs lib/dtype.ts), read
// from the C++ sources; and the dtype codes as the addon itself reports them (cast's inference).
import * as fs from 'fs';
import * as path from 'path';
import { DType, ErrorCode } from '../lib';
import { dtypeCode, dtypeFromCode, dtypeSize } from '../lib/dtype';
import { binding, opcode } from '../lib/native';

const src = (f: string) => fs.readFileSync(path.join(__dirname, '..', 'native', 'core', f), 'utf8');

test('error codes: the C++ X-macro lists exactly the TypeScript codes, in order', () => {
  const m = /#define HODU_ERROR_CODES\(X\)([\s\S]*?)\n\s*\n/.exec(src('error.h'));
  expect(m).not.toBeNull();
  const native = [...m![1].matchAll(/X\((\w+)\)/g)].map((x) => x[1]);
  expect(native).toEqual(Object.values(ErrorCode));
});

test('dtype codes, names and sizes agree with native/core/dtype.h', () => {
  const d = src('dtype.h');
  const codes = Object.fromEntries([...d.matchAll(/\b(\w+) = (\d+)/g)].map((x) => [x[1], Number(x[2])]));
  const names = Object.fromEntries([...d.matchAll(/case DType::(\w+): return "(\w+)";/g)].map((x) => [x[1], x[2]]));
  const sizes: Record<string, number> = {};
  for (const m of d.matchAll(/((?:case DType::\w+: )+)return (\d);/g))
    for (const c of m[1].matchAll(/DType::(\w+)/g)) sizes[c[1]] = Number(m[2]);
  const all = Object.values(DType);
  expect(Object.keys(names).length).toBe(all.length);
  for (const [enumName, name] of Object.entries(names)) {
    const dt = name as DType;
    expect({ name, code: dtypeCode(dt) }).toEqual({ name, code: codes[enumName] });
    expect({ name, size: dtypeSize(dt) }).toEqual({ name, size: sizes[enumName] });
  }
});

test('the addon reads every TypeScript dtype code as that dtype (cast inference)', () => {
  for (const dt of Object.values(DType)) {
    const r = binding.infer(opcode('cast'), [dtypeCode(dt)], [[dtypeCode(DType.F32), [2], [1], 0]]);
    expect(dtypeFromCode(r[0])).toBe(dt);
  }
});
