// Training helpers: nn.init (distributions against their formulas), gradient clipping (hand-computed
// norms, dynamic and script), LR schedulers (closed forms; a per-batch script follows them without
// recompiling), NLLLoss and label smoothing (closed-form values and gradients), metrics, and
// BatchNorm's running statistics carried across runs of a training script.
import { Builder, DType, Tensor, manualSeed, metrics, nn } from '../lib';
import { codeOf } from './helpers/assert';

afterEach(() => Builder._abortActive());

const F64 = DType.F64;
const flat = (t: Tensor): number[] => Array.from(t.toDtype(F64).toTypedArray() as Float64Array);
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));
function near(got: number[], want: number[], tol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    if (!(Math.abs(g - want[i]) <= tol * (1 + Math.abs(want[i])))) throw new Error(`[${i}]: got ${g}, want ${want[i]}`);
  });
}

describe('nn.init', () => {
  test('kaiming and xavier follow their formulas (fan in/out of a conv weight)', () => {
    manualSeed(1);
    const w = Tensor.zeros([64, 32, 3, 3]); // fan_in 288, fan_out 576
    expect(nn.init.calculateFanInAndFanOut(w)).toEqual([288, 576]);
    let v = flat(nn.init.kaimingUniform(w, { nonlinearity: 'relu' }));
    const bound = Math.sqrt(2) * Math.sqrt(3 / 288);
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound * (1 + 1e-6));
    expect(std(v)).toBeCloseTo(bound / Math.sqrt(3), 3);
    v = flat(nn.init.kaimingNormal(w, { mode: 'fanOut', nonlinearity: 'relu' }));
    expect(Math.abs(std(v) / Math.sqrt(2 / 576) - 1)).toBeLessThan(0.03);
    expect(Math.abs(mean(v))).toBeLessThan(0.003);
    v = flat(nn.init.xavierUniform(w, 2));
    const a = 2 * Math.sqrt(6 / (288 + 576));
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(a * (1 + 1e-6));
    expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(a * 0.99);
    v = flat(nn.init.xavierNormal(w));
    expect(Math.abs(std(v) / Math.sqrt(2 / 864) - 1)).toBeLessThan(0.03);
    expect(flat(nn.init.zeros(Tensor.ones([3])))).toEqual([0, 0, 0]);
    expect(flat(nn.init.ones(Tensor.zeros([2])))).toEqual([1, 1]);
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(nn.init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
  });

  test('a seed gives the same values and leaves the global stream where it was', () => {
    manualSeed(5);
    const ref = flat(Tensor.rand([4]));
    manualSeed(5);
    const a = flat(nn.init.xavierUniform(Tensor.zeros([3, 4]), 1, { seed: 11 }));
    const after = flat(Tensor.rand([4]));
    const b = flat(nn.init.xavierUniform(Tensor.zeros([3, 4]), 1, { seed: 11 }));
    expect(a).toEqual(b);
    expect(after).toEqual(ref); // the global stream did not move
    const c = flat(nn.init.xavierUniform(Tensor.zeros([3, 4]), 1, { seed: 12 }));
    expect(c).not.toEqual(a);
  });

  test('a parameter stays a parameter and keeps its identity', () => {
    const lin = new nn.Linear(4, 3);
    const w = lin.weight;
    nn.init.kaimingNormal(lin.weight);
    expect(lin.weight).toBe(w);
    expect(lin.weight.requiresGrad).toBe(true);
    expect(codeOf(() => nn.init.kaimingUniform(Tensor.zeros([3])))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => nn.init.zeros(Tensor.zeros([3], DType.I32)))).toBe('DTYPE_MISMATCH');
  });
});

describe('gradient clipping', () => {
  const grads = [[3, 0], [0, 4, 0]]; // joint norm 5
  function params(): Tensor[] {
    return grads.map((g) => {
      const p = Tensor.zeros([g.length], F64).setRequiresGrad(true);
      p.grad = Tensor.fromArray(g, undefined, F64);
      return p;
    });
  }
  test('clipGradNorm scales all gradients by maxNorm / norm and returns the norm', () => {
    const ps = params();
    expect(nn.clipGradNorm(ps, 1).item()).toBeCloseTo(5, 12);
    near(flat(ps[0].grad!), [3 / (5 + 1e-6), 0], 1e-12);
    near(flat(ps[1].grad!), [0, 4 / (5 + 1e-6), 0], 1e-12);
    const qs = params();
    nn.clipGradNorm(qs, 10); // below the limit: unchanged
    near(flat(qs[1].grad!), [0, 4, 0], 1e-12);
    expect(codeOf(() => nn.clipGradNorm(qs, 0))).toBe('INVALID_ARGUMENT');
  });
  test('clipGradValue clamps', () => {
    const ps = params();
    nn.clipGradValue(ps, 2);
    expect(flat(ps[0].grad!)).toEqual([2, 0]);
    expect(flat(ps[1].grad!)).toEqual([0, 2, 0]);
  });
  test('clipping recorded in a builder gives the same gradients', () => {
    const w = Tensor.fromArray([1, -2, 3], undefined, F64).setRequiresGrad(true);
    const b = new Builder('clip').start();
    const x = Tensor.input('x', [3], F64);
    w.mul(x).sum().backward();
    const n = nn.clipGradNorm([w], 1);
    b.addOutput('n', n);
    b.addOutput('g', w.grad!);
    const out = b.build().addInput('x', Tensor.fromArray([6, 0, 8], undefined, F64)).run();
    expect(out.n.item()).toBeCloseTo(10, 10);
    near(flat(out.g), [0.6, 0, 0.8], 1e-6);
  });
});

describe('LR schedulers', () => {
  const run = (s: nn.LRScheduler, n: number) => [s.lr, ...Array.from({ length: n }, () => s.step())];
  test('StepLR and ExponentialLR', () => {
    near(run(new nn.StepLR(new nn.SGD(1), 2, 0.5), 5), [1, 1, 0.5, 0.5, 0.25, 0.25], 1e-12);
    near(run(new nn.ExponentialLR(new nn.SGD(0.1), 0.9), 3), [0.1, 0.09, 0.081, 0.0729], 1e-12);
  });
  test('CosineLR with warm-up', () => {
    const s = new nn.CosineLR(new nn.Adam(0.1), { totalSteps: 6, warmupSteps: 2, minLr: 0.01 });
    const cos = (n: number) => 0.01 + 0.09 * (1 + Math.cos((Math.PI * (n - 2)) / 4)) / 2;
    near(run(s, 7), [0.05, 0.1, cos(2), cos(3), cos(4), cos(5), 0.01, 0.01], 1e-12);
  });
  test('OneCycleLR (PyTorch phases: rise to step pct·T − 1, fall to T − 1)', () => {
    const s = new nn.OneCycleLR(new nn.SGD(0.5), { maxLr: 1, totalSteps: 10, pctStart: 0.3 });
    const lrs = run(s, 9);
    const init = 1 / 25;
    const fin = init / 1e4;
    const up = (n: number) => 1 + (init - 1) * (1 + Math.cos((Math.PI * n) / 2)) / 2;
    const down = (n: number) => fin + (1 - fin) * (1 + Math.cos((Math.PI * (n - 2)) / 7)) / 2;
    near(lrs, [init, up(1), 1, down(3), down(4), down(5), down(6), down(7), down(8), fin], 1e-12);
    expect(codeOf(() => new nn.OneCycleLR(new nn.SGD(1), { maxLr: 1, totalSteps: 1 }))).toBe('INVALID_ARGUMENT');
  });

  test('a per-batch training script follows the scheduler without recompiling (matches dynamic mode)', () => {
    const X = Tensor.fromArray(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [8, 3], F64);
    const Y = Tensor.fromArray(Array.from({ length: 8 }, (_, i) => Math.cos(i)), [8, 1], F64);
    const make = () => {
      const l = new nn.Linear(3, 1, true, F64);
      l.weight = Tensor.fromArray([[0.1, -0.2, 0.3]], undefined, F64).setRequiresGrad(true);
      l.bias = Tensor.fromArray([0.05], undefined, F64).setRequiresGrad(true);
      return l;
    };
    const dyn = make();
    const dOpt = new nn.SGD(0.2, { momentum: 0.5 });
    const dSch = new nn.StepLR(dOpt, 3, 0.3);
    for (let k = 0; k < 10; k++) {
      new nn.MSE().forward([dyn.forward(X), Y]).backward();
      dOpt.step(dyn.parameters());
      dOpt.zeroGrad(dyn.parameters());
      dSch.step();
    }
    const model = make();
    const opt = new nn.SGD(0.2, { momentum: 0.5 });
    const sch = new nn.StepLR(opt, 3, 0.3);
    const b = new Builder('sched').start();
    const loss = new nn.MSE().forward([model.forward(Tensor.input('x', [8, 3], F64)), Tensor.input('y', [8, 1], F64)]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('loss', loss);
    const script = b.build().addInput('x', X).addInput('y', Y);
    let handle: unknown;
    for (let k = 0; k < 10; k++) {
      script.run();
      if (k === 0) handle = (script as unknown as { handle: unknown }).handle;
      else expect((script as unknown as { handle: unknown }).handle).toBe(handle);
      sch.step();
    }
    near(flat(model.weight), flat(dyn.weight), 1e-10);
    near(flat(model.bias!), flat(dyn.bias!), 1e-10);
    expect(opt.lr).toBeCloseTo(0.2 * 0.3 ** 3, 12);
  });
});

describe('losses', () => {
  const logits = [[1, 2, 0.5], [0.3, -1, 2], [0, 0, 1]];
  const labels = [1, 2, 0];
  const softmax = (r: number[]) => {
    const e = r.map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  };
  test('NLLLoss of log-probabilities equals CrossEntropy of logits', () => {
    const want = mean(logits.map((r, i) => -Math.log(softmax(r)[labels[i]])));
    const x = Tensor.fromArray(logits, undefined, F64);
    const t = Tensor.fromArray(labels, undefined, DType.I64);
    expect(new nn.NLLLoss().forward([x.logSoftmax(1), t]).item()).toBeCloseTo(want, 12);
    expect(new nn.NLLLoss().forward(Tensor.fromArray([[-1, -2]], undefined, F64), Tensor.fromArray([1], undefined, DType.I32)).item()).toBe(2);
    expect(codeOf(() => new nn.NLLLoss().forward([x, Tensor.fromArray([0, 1])]))).toBe('DTYPE_MISMATCH');
  });
  test('CrossEntropy with label smoothing: value and gradient (softmax − q) / N', () => {
    const eps = 0.2;
    const C = 3;
    const q = labels.map((y) => Array.from({ length: C }, (_, c) => (c === y ? 1 - eps : 0) + eps / C));
    const want = mean(logits.map((r, i) => -softmax(r).reduce((a, p, c) => a + q[i][c] * Math.log(p), 0)));
    const x = Tensor.fromArray(logits, undefined, F64).setRequiresGrad(true);
    const loss = new nn.CrossEntropy({ labelSmoothing: eps }).forward([x, Tensor.fromArray(labels, undefined, DType.I64)]);
    expect(loss.item()).toBeCloseTo(want, 12);
    loss.backward();
    near(flat(x.grad!), logits.flatMap((r, i) => softmax(r).map((p, c) => (p - q[i][c]) / 3)), 1e-10);
    expect(codeOf(() => new nn.CrossEntropy({ labelSmoothing: 1 }))).toBe('INVALID_ARGUMENT');
  });
});

describe('metrics', () => {
  test('accuracy from scores or ids, in dynamic mode and as a script output', () => {
    const scores = Tensor.fromArray([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]);
    const labels = Tensor.fromArray([1, 1, 1, 0], undefined, DType.I32);
    expect(metrics.accuracy(scores, labels)).toBe(0.75);
    expect(metrics.correct(scores, labels)).toBe(3);
    expect(metrics.accuracy(Tensor.fromArray([1, 0, 0, 0], undefined, DType.I64), labels)).toBe(0.5);
    expect(metrics.confusionMatrix(scores, labels, 2)).toEqual([[1, 0], [1, 2]]);
    const b = new Builder('acc').start();
    b.addOutput('acc', metrics.accuracyTensor(Tensor.input('s', [4, 2]), Tensor.input('y', [4], DType.I32)));
    expect(b.build().addInput('s', scores).addInput('y', labels).run().acc.item()).toBe(0.75);
    expect(codeOf(() => metrics.accuracy(scores, Tensor.fromArray([1, 0], undefined, DType.I32)))).toBe('SHAPE_MISMATCH');
  });
});

describe('BatchNorm in a training script', () => {
  test('running statistics are variables: updated on every run like dynamic mode', () => {
    const batch = (k: number) => Tensor.fromArray(Array.from({ length: 12 }, (_, i) => Math.sin(i * 0.7 + k) * (1 + k)), [4, 3], F64);
    const make = () => new nn.Sequential(new nn.Linear(3, 2, true, F64), new nn.BatchNorm1d(2, { dtype: F64 }));
    manualSeed(9);
    const dyn = make();
    manualSeed(9);
    const model = make();
    const dOpt = new nn.SGD(0.1);
    for (let k = 0; k < 4; k++) {
      dyn.forward(batch(k)).square().mean().backward();
      dOpt.step(dyn.parameters());
      dOpt.zeroGrad(dyn.parameters());
    }
    const opt = new nn.SGD(0.1);
    const b = new Builder('bn_train').start();
    const loss = model.forward(Tensor.input('x', [4, 3], F64)).square().mean();
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('loss', loss);
    const s = b.build();
    for (let k = 0; k < 4; k++) s.addInput('x', batch(k)).run();
    const bn = (m: nn.Sequential) => m.layers[1] as nn.BatchNorm1d;
    near(flat(bn(model).runningMean!), flat(bn(dyn).runningMean!), 1e-10);
    near(flat(bn(model).runningVar!), flat(bn(dyn).runningVar!), 1e-10);
    expect(flat(bn(model).runningMean!).some((v) => v !== 0)).toBe(true);
    expect(Object.keys(model.stateDict())).toEqual(expect.arrayContaining(['1.runningMean', '1.runningVar']));
    // an eval script recorded now reads the running statistics at their value on each run
    model.eval();
    const e = new Builder('bn_eval_var').start();
    e.addOutput('y', model.forward(Tensor.input('x', [4, 3], F64)));
    const evalScript = e.build();
    const y0 = flat(evalScript.addInput('x', batch(0)).run().y);
    near(y0, flat(model.forward(batch(0))), 1e-10);
    model.train();
    s.addInput('x', batch(5)).run(); // moves weights and statistics
    model.eval();
    const y1 = flat(evalScript.addInput('x', batch(0)).run().y);
    near(y1, flat(model.forward(batch(0))), 1e-10);
    expect(y1).not.toEqual(y0);
  });
});
