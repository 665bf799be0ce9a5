// A rolled epoch (issue 14): a recorded loop whose step k reads batch k of a larger input with
// narrow()/slice() rolls into one loop (planInfo().loops), every step's loss comes out stacked
// (addOutput(..., { stack: true })), and the result equals the unrolled plan and the same steps in
// dynamic mode. The script is stateful: each run continues training (one run = one epoch).
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { Backend, Builder, Script, Tensor, manualSeed, nn } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';

afterEach(() => Builder._abortActive());

const xlaReady = process.env.HODU_SKIP_XLA !== '1' && xlaBuilt() && findPjrtPlugin('cpu').path !== null;
const backends: Backend[] = xlaReady ? [Backend.HODU, Backend.XLA] : [Backend.HODU];

const IN = 6;
const OUT = 2;
const B = 8;
const STEPS = 12;

function data(): { X: Tensor; Y: Tensor } {
  const x = new Float32Array(STEPS * B * IN);
  const y = new Float32Array(STEPS * B * OUT);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(0.13 * i);
  for (let i = 0; i < y.length; i++) y[i] = Math.cos(0.07 * i);
  return { X: Tensor.fromArray(x, [STEPS * B, IN]), Y: Tensor.fromArray(y, [STEPS * B, OUT]) };
}

function model(): nn.Sequential {
  manualSeed(11);
  return new nn.Sequential(new nn.Linear(IN, 5), new nn.ReLU(), new nn.Linear(5, OUT));
}

const flat = (t: Tensor): number[] => Array.from(t.toTypedArray() as Float32Array);

function maxRel(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / (1 + Math.abs(b[i]))), 0);
}

function epochScript(m: nn.Module, opt: nn.Optimizer, useSlice: boolean): Script {
  const mse = new nn.MSE();
  const b = new Builder('epoch');
  b.start();
  const X = Tensor.input('X', [STEPS * B, IN]);
  const Y = Tensor.input('Y', [STEPS * B, OUT]);
  for (let k = 0; k < STEPS; k++) {
    const x = useSlice ? X.slice(0, k * B, (k + 1) * B) : X.narrow(0, k * B, B);
    const y = useSlice ? Y.slice(0, k * B, (k + 1) * B) : Y.narrow(0, k * B, B);
    const loss = mse.forward([m.forward(x), y]);
    loss.backward();
    opt.step(m.parameters());
    opt.zeroGrad(m.parameters());
    b.addOutput('losses', loss, { stack: true });
  }
  return b.build();
}

/** The dynamic-mode reference: `epochs` epochs of the same steps; each step's loss. */
function dynamic(epochs: number): { losses: number[]; params: number[][] } {
  const m = model();
  const opt = new nn.SGD(0.05, { momentum: 0.9 });
  const mse = new nn.MSE();
  const { X, Y } = data();
  const losses: number[] = [];
  for (let e = 0; e < epochs; e++)
    for (let k = 0; k < STEPS; k++) {
      const loss = mse.forward([m.forward(X.narrow(0, k * B, B)), Y.narrow(0, k * B, B)]);
      losses.push(loss.item());
      loss.backward();
      opt.step(m.parameters());
      opt.zeroGrad(m.parameters());
    }
  return { losses, params: m.parameters().map(flat) };
}

describe.each(backends)('rolled epoch on %s', (backend) => {
  test.each([false, true])('narrow/slice (slice: %s) rolls; stacked losses; two runs = two epochs', (useSlice) => {
    const want = dynamic(2);
    const m = model();
    const s = epochScript(m, new nn.SGD(0.05, { momentum: 0.9 }), useSlice).setBackend(backend);
    expect(s.outputs.find((o) => o.name === 'losses')!.shape).toEqual([STEPS]);
    const { X, Y } = data();
    s.addInput('X', X).addInput('Y', Y);
    const start = Object.values(s.variables).map((t) => t.contiguous().add(0));
    s.compile();
    const loops = s.planInfo().loops;
    expect(loops.length).toBe(1);
    expect(loops[0].trips).toBeGreaterThanOrEqual(STEPS - 1);
    const e1 = flat(s.run()['losses']);
    const e2 = flat(s.run()['losses']);
    expect(maxRel([...e1, ...e2], want.losses)).toBeLessThan(1e-4);
    expect(maxRel(m.parameters().map(flat).flat(), want.params.flat())).toBeLessThan(1e-4);
    expect(e2[STEPS - 1]).toBeLessThan(e1[0]);
    // the unrolled plan from the same start agrees
    Object.values(s.variables).forEach((t, i) => t.assign(start[i]));
    s.compile({ rollLoops: false });
    expect(s.planInfo().loops.length).toBe(0);
    const u1 = flat(s.run()['losses']);
    expect(maxRel(u1, e1)).toBeLessThan(1e-5);
  });
});

test('stacked outputs: a shape mismatch between steps and a name clash are refused', () => {
  const b = new Builder('stack_errors');
  b.start();
  const x = Tensor.input('x', [3]);
  b.addOutput('s', x.sum(), { stack: true });
  expect(() => b.addOutput('s', x)).toThrow(expect.objectContaining({ code: 'DUPLICATE_NAME' }));
  b.addOutput('s', x, { stack: true });
  b.end();
  expect(() => b.build()).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
});

test('an epoch with Dropout still rolls (one random pool input sliced per step) and equals the unrolled plan', () => {
  manualSeed(3);
  const m = new nn.Sequential(new nn.Linear(IN, 16), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(16, OUT));
  const s = epochScript(m, new nn.SGD(0.05), false);
  const { X, Y } = data();
  s.addInput('X', X).addInput('Y', Y);
  const start = Object.values(s.variables).map((t) => t.contiguous().add(0));
  s.compile();
  expect(s.planInfo().loops.length).toBe(1);
  manualSeed(9);
  const rolled = flat(s.run()['losses']);
  const after = m.parameters().map(flat).flat();
  Object.values(s.variables).forEach((t, i) => t.assign(start[i]));
  s.compile({ rollLoops: false });
  manualSeed(9);
  const unrolled = flat(s.run()['losses']);
  expect(maxRel(rolled, unrolled)).toBeLessThan(1e-5);
  expect(maxRel(m.parameters().map(flat).flat(), after)).toBeLessThan(1e-5);
  // a different seed gives other masks
  Object.values(s.variables).forEach((t, i) => t.assign(start[i]));
  manualSeed(10);
  expect(maxRel(flat(s.run()['losses']), unrolled)).toBeGreaterThan(1e-6);
});
