// Fails when an op of the native op table (native/core/ops.def) is incomplete:
//   - no case in the one op suite (test/helpers/op-cases.ts), or a differentiable op without a
//     gradient check there;
//   - a grad column that disagrees with lib/autograd/vjp.ts (a VJP for a `none` op, none for a `vjp` op);
//   - no HODU kernel for a dtype its family admits (elementwise families: every admitted dtype;
//     the others: the suite runs them in f32 and f64);
//   - no XLA lowering (StableHLO is emitted for every elementwise op and dtype, and for every case;
//     needs an addon built with the PJRT header, not the plugin).
// See docs/adding-an-op.md.
import { Builder, DType, Tensor } from '../lib';
import { dtypeCode } from '../lib/dtype';
import { binding, opTable } from '../lib/native';
import { VJP } from '../lib/autograd/vjp';
import { emitStableHlo, xlaBuilt } from '../lib/xla';
import { OP_CASES } from './helpers/op-cases';

afterEach(() => Builder._abortActive());

const ALL: DType[] = [DType.BOOL, DType.U8, DType.I8, DType.I16, DType.I32, DType.I64, DType.U16, DType.U32, DType.U64, DType.F16, DType.BF16, DType.F32, DType.F64];
const FLOATS: DType[] = [DType.F16, DType.BF16, DType.F32, DType.F64];
const NUMERIC = ALL.filter((d) => d !== DType.BOOL);

/** The dtypes an elementwise family admits (native/ops/infer.cc); undefined for other families. */
function admitted(family: string): DType[] | undefined {
  switch (family) {
    case 'Logical':
    case 'Compare':
    case 'LogicalNot':
      return ALL;
    case 'Binary':
    case 'UnarySigned':
      return NUMERIC;
    case 'UnaryFloat':
      return FLOATS;
    default:
      return undefined;
  }
}

const table = opTable();
const names = table.map((o) => o.name);
const covered = new Set(OP_CASES.flatMap((c) => c.ops));
const gradChecked = new Set(
  OP_CASES.filter((c) => (c.grad === undefined || c.grad.length > 0) && !c.noGradWhy).flatMap((c) => [...c.ops, ...(c.gradOps ?? [])]),
);
const gradExcused = new Set(OP_CASES.filter((c) => c.noGradWhy).flatMap((c) => c.ops));

describe('the op table is complete', () => {
  test('opcodes are dense and names unique', () => {
    expect(new Set(names).size).toBe(names.length);
    for (const o of table) expect(['vjp', 'none', 'internal']).toContain(o.grad);
  });

  test.each(names)('%s has a case in the op suite', (name) => {
    const internal = table.find((o) => o.name === name)!.grad === 'internal';
    expect({ name, covered: covered.has(name) || (internal && gradChecked.has(name)) }).toEqual({ name, covered: true });
  });

  test.each(names)('%s: its grad column agrees with lib/autograd/vjp.ts and the suite checks it', (name) => {
    const o = table.find((t) => t.name === name)!;
    expect({ name, hasVjp: name in VJP }).toEqual({ name, hasVjp: o.grad === 'vjp' });
    if (o.grad !== 'none') expect({ name, gradChecked: gradChecked.has(name) || gradExcused.has(name) }).toEqual({ name, gradChecked: true });
  });

  test('every VJP belongs to an op of the table', () => {
    for (const k of Object.keys(VJP)) expect(names).toContain(k);
  });

  const elementwise = table.map((o, code) => ({ ...o, code })).filter((o) => admitted(o.family));
  test.each(elementwise.map((o) => [o.name, o] as const))('%s has a HODU kernel for every dtype its family admits', (_n, o) => {
    const attrs = new Array<number>(o.attrCount).fill(0.5);
    for (const dt of admitted(o.family)!) {
      const desc: [number, number[], number[], number] = [dtypeCode(dt), [2, 3], [3, 1], 0];
      const ins = new Array(o.arity).fill(desc);
      let impl = '';
      try {
        impl = binding.kernelImpl(o.code, attrs, ins);
      } catch (e) {
        impl = `error: ${(e as Error).message}`;
      }
      expect({ op: o.name, dt, impl }).toEqual({ op: o.name, dt, impl: expect.not.stringMatching(/^error/) });
    }
  });

  (xlaBuilt() ? test.each : test.skip.each)(elementwise.map((o) => [o.name, o] as const))(
    '%s has an XLA lowering for every dtype its family admits',
    (_n, o) => {
      const attrs = new Array<number>(o.attrCount).fill(0.5);
      for (const dt of admitted(o.family)!) {
        const b = new Builder(`cov_${o.name}`);
        b.start();
        const ins = Array.from({ length: o.arity }, (_, i) => Tensor.input(`in${i}`, [2, 3], dt));
        b.addOutput('out', Tensor._op(o.name, ins, attrs));
        b.end();
        const text = emitStableHlo(b.build());
        expect(text).toContain('func.func');
      }
    },
  );

  (xlaBuilt() ? test.each : test.skip.each)(OP_CASES.map((c) => [c.name, c] as const))('case %s lowers to StableHLO', (_n, c) => {
    const ins = c.inputs();
    const b = new Builder(`cov_case`);
    b.start();
    const syms = ins.map((t, i) => Tensor.input(`in${i}`, t.shape, t.dtype === DType.F64 ? DType.F32 : t.dtype));
    b.addOutput('out', c.f(...syms));
    b.end();
    expect(emitStableHlo(b.build())).toContain('func.func');
  });
});
