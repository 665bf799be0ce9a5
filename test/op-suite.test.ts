// The one backend-parameterised op suite: every case of test/helpers/op-cases.ts runs
//   - eagerly (f32 and f64),
//   - as a HODU script and as an XLA script (f32 and f64),
// each against the case's float64 reference, and its gradient (f64) against central finite
// differences. XLA runs need the PJRT CPU plugin (as test/xla.test.ts); HODU_SKIP_XLA=1 skips them.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { Backend, Builder, DType, Tensor, noGrad } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { tol } from './helpers/assert';
import { OP_CASES, OpCase } from './helpers/op-cases';
import { Ref } from './helpers/reference';

afterEach(() => Builder._abortActive());

const xlaReady = process.env.HODU_SKIP_XLA !== '1' && xlaBuilt() && findPjrtPlugin('cpu').path !== null;

const flat = (t: Tensor): number[] => Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);
const isFloat = (t: Tensor) => t.dtype === DType.F32 || t.dtype === DType.F64 || t.dtype === DType.F16 || t.dtype === DType.BF16;

/** The case's inputs with float inputs stored as `dt`. */
function inputsAs(c: OpCase, dt: DType): Tensor[] {
  return c.inputs().map((t) => (isFloat(t) ? t.toDtype(dt) : t));
}

function reference(c: OpCase, ins: Tensor[]): Ref {
  return c.ref(...ins.map((t) => new Ref(flat(t), t.shape)));
}

function expectMatches(got: Tensor, want: Ref, dt: DType, c: OpCase, how: string): void {
  expect(got.shape).toEqual(want.shape);
  const g = flat(got);
  const w = want.flat();
  const exact = !isFloat(got);
  const { rtol, atol } = exact ? { rtol: 0, atol: 0 } : tol(dt, c.kind ?? 'basic');
  for (let i = 0; i < w.length; i++) {
    const ok = (Number.isNaN(g[i]) && Number.isNaN(w[i])) || g[i] === w[i] || Math.abs(g[i] - w[i]) <= atol + rtol * Math.abs(w[i]);
    if (!ok) throw new Error(`${c.name} (${how}, ${dt}) [${i}]: got ${g[i]}, expected ${w[i]}`);
  }
}

function runScript(c: OpCase, ins: Tensor[], backend: Backend): Tensor {
  const b = new Builder(`suite_${c.name.replace(/\W/g, '_')}`);
  b.start();
  const syms = ins.map((t, i) => Tensor.input(`in${i}`, t.shape, t.dtype));
  b.addOutput('out', c.f(...syms));
  b.end();
  const s = b.build();
  ins.forEach((t, i) => s.addInput(`in${i}`, t));
  s.setBackend(backend);
  return s.run().out;
}

const DTYPES = (c: OpCase) => c.dtypes ?? [DType.F32, DType.F64];
const rows = OP_CASES.flatMap((c) => DTYPES(c).map((dt) => [c.name, dt, c] as const));

describe('every op case against its float64 reference', () => {
  test.each(rows)('%s %s: eager', (_n, dt, c) => {
    const ins = inputsAs(c, dt);
    expectMatches(c.f(...ins), reference(c, ins), dt, c, 'eager');
  });

  test.each(rows)('%s %s: HODU script', (_n, dt, c) => {
    const ins = inputsAs(c, dt);
    expectMatches(runScript(c, ins, Backend.HODU), reference(c, ins), dt, c, 'HODU script');
  });

  (xlaReady ? test.each(rows) : test.skip.each(rows))('%s %s: XLA script', (_n, dt, c) => {
    const ins = inputsAs(c, dt);
    expectMatches(runScript(c, ins, Backend.XLA), reference(c, ins), dt, c, 'XLA script');
  });
});

/** The float inputs a case differentiates. */
export function gradInputs(c: OpCase, ins: Tensor[]): number[] {
  return c.grad ?? ins.map((t, i) => (isFloat(t) ? i : -1)).filter((i) => i >= 0);
}

describe('every differentiable case against central finite differences (f64)', () => {
  const withGrad = OP_CASES.filter((c) => (c.grad === undefined || c.grad.length > 0) && !c.noGradWhy);
  test.each(withGrad.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const ins = inputsAs(c, DType.F64);
    const diff = gradInputs(c, ins);
    const w = noGrad(() => {
      const o = c.f(...ins);
      const n = o.shape.reduce((a, b) => a * b, 1);
      return Tensor.fromArray(Array.from({ length: n }, (_, i) => Math.cos(1 + 0.7 * i)), o.shape, DType.F64);
    });
    const loss = (xs: Tensor[]) => c.f(...xs).mul(w).sum();
    const leaves = ins.map((t, i) => (diff.includes(i) ? t.detach().setRequiresGrad(true) : t));
    loss(leaves).backward();
    const eps = 1e-6;
    noGrad(() => {
      for (const k of diff) {
        const g = leaves[k].grad;
        expect(g).not.toBeNull();
        const got = flat(g!);
        const base = flat(ins[k]);
        for (let i = 0; i < base.length; i++) {
          const at = (d: number) => {
            const v = base.slice();
            v[i] += d;
            const xs = ins.slice();
            xs[k] = Tensor.fromArray(v, ins[k].shape, DType.F64);
            return loss(xs).item();
          };
          const num = (at(eps) - at(-eps)) / (2 * eps);
          if (!(Math.abs(got[i] - num) <= 1e-5 * (1 + Math.abs(num))))
            throw new Error(`${c.name} d/dx${k}[${i}]: got ${got[i]}, finite differences ${num}`);
        }
      }
    });
  });
});
