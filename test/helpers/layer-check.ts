// Checks a layer against a float64 reference written in the test: the forward values, and the
// gradients of the input and of every parameter against central finite differences of that
// reference, in dynamic mode and in builder (script) mode.
import { Builder, DType, Module, Tensor, noGrad } from '../../lib';

/** Reference forward: flat input values and flat parameter values (in parameters() order) -> flat output. */
export type RefForward = (x: number[], params: number[][]) => number[];

export interface LayerCase {
  name: string;
  /** A fresh module with F64 parameters (called once; its parameters are read, never changed). */
  module: Module;
  input: Tensor;
  ref: RefForward;
  /** Check the input's gradient (default true; false for integer inputs). */
  inputGrad?: boolean;
  /** Called instead of module.forward. */
  forward?: (m: Module, x: Tensor) => Tensor;
  tol?: number;
}

const flat = (t: Tensor): number[] => Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);

function near(got: number[], want: number[], tol: number, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, want ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol * (1 + Math.abs(want[i])))) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]} (tol ${tol})`);
  }
}

/** Central differences of w·ref(x, params) with respect to x (k = -1) or params[k]. */
function numeric(ref: RefForward, x: number[], ps: number[][], w: number[], k: number, eps = 1e-6): number[] {
  const base = k < 0 ? x : ps[k];
  const out: number[] = [];
  const dot = (y: number[]) => y.reduce((a, v, i) => a + v * w[i], 0);
  for (let i = 0; i < base.length; i++) {
    const at = (d: number) => {
      const v = base.slice();
      v[i] += d;
      return k < 0 ? dot(ref(v, ps)) : dot(ref(x, ps.map((p, j) => (j === k ? v : p))));
    };
    out.push((at(eps) - at(-eps)) / (2 * eps));
  }
  return out;
}

export function checkLayer(c: LayerCase): void {
  const m = c.module;
  const tol = c.tol ?? 1e-6;
  const fwd = (x: Tensor) => (c.forward ? c.forward(m, x) : m.forward(x));
  const params = m.parameters();
  const pv = params.map(flat);
  const xv = flat(c.input);
  const want = c.ref(xv, pv);
  const inGrad = c.inputGrad ?? true;

  // dynamic
  const x = inGrad ? c.input.detach().setRequiresGrad(true) : c.input;
  const y = fwd(x);
  near(flat(y), want, tol, `${c.name} forward (dynamic)`);
  const w = noGrad(() => Tensor.randn(y.shape, DType.F64));
  const wv = flat(w);
  for (const p of params) p.zeroGrad();
  y.mul(w).sum().backward();
  const gx = inGrad ? numeric(c.ref, xv, pv, wv, -1) : [];
  const gp = params.map((_, k) => numeric(c.ref, xv, pv, wv, k));
  if (inGrad) near(flat(x.grad!), gx, tol * 10, `${c.name} d/dx (dynamic)`);
  params.forEach((p, k) => near(flat(p.grad!), gp[k], tol * 10, `${c.name} d/dparam${k} (dynamic)`));
  for (const p of params) p.zeroGrad();

  // builder
  const b = new Builder(`check_${c.name.replace(/\W/g, '_')}`);
  b.start();
  const xs = Tensor.input('x', c.input.shape.slice(), c.input.dtype);
  if (inGrad) xs.setRequiresGrad(true);
  const ys = fwd(xs);
  ys.mul(w).sum().backward();
  b.addOutput('y', ys);
  if (inGrad) b.addOutput('gx', xs.grad!);
  params.forEach((p, k) => b.addOutput(`g${k}`, p.grad!));
  b.end();
  const out = b.build().addInput('x', c.input).run();
  near(flat(out.y), want, tol, `${c.name} forward (script)`);
  if (inGrad) near(flat(out.gx), gx, tol * 10, `${c.name} d/dx (script)`);
  params.forEach((_, k) => near(flat(out[`g${k}`]), gp[k], tol * 10, `${c.name} d/dparam${k} (script)`));
}
