// HODU writes a script's updated variables straight into the variable tensors' memory (issue 14;
// native/hodu/in_place.cc): per-batch training still equals dynamic mode; the plan reports every
// update of a normal training step as written in place and no output buffer comes back for it
// (no write-back copy); the aliasing hazards (the old value read after the update, through a view
// or as an output; a variable that is also a user input; swapped variables; a rolled loop) fall
// back to a copy and stay correct; strided variables; runAsync, including a variable's memory
// detached while a run is in flight.
import { Backend, Builder, Script, Tensor, manualSeed, nn } from '../lib';
import { ScriptState } from '../lib/variables';
import { B, HID, IN, OUT, batch, flat, makeModel } from './helpers/train-fixture';

afterEach(() => {
  Builder._abortActive();
  jest.restoreAllMocks();
});

function maxRel(got: number[], want: number[]): number {
  expect(got.length).toBe(want.length);
  return got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]) / (1 + Math.abs(want[i]))), 0);
}

function updatedCount(s: Script): number {
  return s._allOutputs.filter((o) => o.name.startsWith('@var:')).length;
}

type MakeOpt = () => nn.Optimizer;
const OPTIMIZERS: [string, MakeOpt][] = [
  ['SGD momentum + weight decay', () => new nn.SGD(0.05, { momentum: 0.9, weightDecay: 0.01 })],
  ['Adam', () => new nn.Adam(0.01)],
];

function dynamicTrain(makeOpt: MakeOpt, runs: number): number[][] {
  const model = makeModel(42);
  const opt = makeOpt();
  const mse = new nn.MSE();
  for (let k = 0; k < runs; k++) {
    const { x, y } = batch(k);
    const loss = mse.forward([model.forward(x), y]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
  }
  return model.parameters().map(flat);
}

function recordTrainStep(model: nn.Module, opt: nn.Optimizer): Script {
  const mse = new nn.MSE();
  const b = new Builder('train_step');
  b.start();
  const loss = mse.forward([model.forward(Tensor.input('x', [B, IN])), Tensor.input('y', [B, OUT])]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  return b.build().setBackend(Backend.HODU);
}

describe('per-batch training writes its variables in place', () => {
  test.each(OPTIMIZERS)('%s: 50 runs equal 50 dynamic steps; every update in place, no write-back', (_name, makeOpt) => {
    const want = dynamicTrain(makeOpt, 50);
    const model = makeModel(42);
    const script = recordTrainStep(model, makeOpt());
    const buffers = model.parameters().map((p) => p.toTypedArray().buffer);
    const writeBack = jest.spyOn(ScriptState.prototype, 'writeBack');
    for (let k = 0; k < 50; k++) {
      const { x, y } = batch(k);
      const out = script.run({ x, y });
      expect(Object.keys(out)).toEqual(['loss']);
    }
    model.parameters().forEach((p, i) => expect(maxRel(flat(p), want[i])).toBeLessThanOrEqual(2e-4));
    // the same memory, updated by the plan itself
    model.parameters().forEach((p, i) => expect(p.toTypedArray().buffer).toBe(buffers[i]));
    expect(writeBack).not.toHaveBeenCalled();
    const info = script.planInfo();
    const n = updatedCount(script);
    expect(n).toBeGreaterThanOrEqual(model.parameters().length * 2); // parameters and optimizer state
    expect(info.variablesInPlace).toBe(n);
    expect(info.variablesCopied).toBe(0);
  });

  test('the way before (variablesInPlace: false) returns outputs and writes them back: same weights', () => {
    const makeOpt = OPTIMIZERS[1][1];
    const a = makeModel(42);
    const c = makeModel(42);
    const sa = recordTrainStep(a, makeOpt());
    const sc = recordTrainStep(c, makeOpt()).compile({ variablesInPlace: false });
    const writeBack = jest.spyOn(ScriptState.prototype, 'writeBack');
    for (let k = 0; k < 5; k++) {
      const { x, y } = batch(k);
      sa.run({ x, y });
      sc.run({ x, y });
    }
    expect(writeBack).toHaveBeenCalledTimes(5 * updatedCount(sc));
    expect(sc.planInfo().variablesInPlace).toBe(0);
    a.parameters().forEach((p, i) => expect(flat(p)).toEqual(flat(c.parameters()[i])));
  });

  test('runAsync: queued runs equal dynamic steps, in place', async () => {
    const makeOpt = OPTIMIZERS[0][1];
    const want = dynamicTrain(makeOpt, 12);
    const model = makeModel(42);
    const script = recordTrainStep(model, makeOpt());
    const writeBack = jest.spyOn(ScriptState.prototype, 'writeBack');
    const runs: Promise<unknown>[] = [];
    for (let k = 0; k < 12; k++) {
      const { x, y } = batch(k);
      runs.push(script.runAsync({ x, y })); // queue up without awaiting
    }
    await Promise.all(runs);
    model.parameters().forEach((p, i) => expect(maxRel(flat(p), want[i])).toBeLessThanOrEqual(2e-4));
    expect(writeBack).not.toHaveBeenCalled();
    expect(script.planInfo().variablesInPlace).toBe(updatedCount(script));
  });

  test('runAsync: a variable whose memory is transferred during the run → DISPOSED, no crash', async () => {
    const w = Tensor.fromArray([1, 2, 3, 4]);
    const b = new Builder('detach');
    b.start();
    const x = Tensor.input('x', [4]);
    w.assign(w.add(x));
    b.addOutput('y', x.mul(2));
    const s = b.build();
    const p = s.runAsync({ x: Tensor.fromArray([1, 1, 1, 1]) });
    const a = w.toTypedArray();
    structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    await expect(p).rejects.toMatchObject({ code: 'DISPOSED' });
    // the script itself still works with a fresh variable value
    const v = Tensor.fromArray([5, 6, 7, 8]);
    const b2 = new Builder('after');
    b2.start();
    const x2 = Tensor.input('x', [4]);
    v.assign(v.add(x2));
    b2.addOutput('s', v.sum());
    const s2 = b2.build();
    expect((await s2.runAsync({ x: Tensor.fromArray([1, 2, 3, 4]) }))['s'].item()).toBe(36);
    expect(flat(v)).toEqual([6, 8, 10, 12]);
  });
});

test('an eval script that compiled a parameter in sees the in-place update (the version is bumped)', () => {
  const model = makeModel(42);
  const b = new Builder('eval');
  b.start();
  b.addOutput('y', model.forward(Tensor.input('x', [B, IN])));
  const evalScript = b.build();
  const train = recordTrainStep(model, OPTIMIZERS[0][1]());
  const { x, y } = batch(0);
  const before = flat(evalScript.run({ x })['y']);
  train.run({ x, y });
  const want = flat(model.forward(x)); // dynamic mode on the updated parameters
  const after = flat(evalScript.run({ x })['y']);
  expect(maxRel(after, want)).toBeLessThanOrEqual(1e-5);
  expect(maxRel(after, before)).toBeGreaterThan(1e-4);
  expect(train.planInfo().variablesInPlace).toBe(updatedCount(train));
});

describe('aliasing hazards stay correct', () => {
  const W0 = [0.5, -1, 2, 3, -0.25, 1.5];

  test('the old value read through a view after the update (transpose, then matmul after assign)', () => {
    const w = Tensor.fromArray(W0, [2, 3]);
    const b = new Builder('hazard_view');
    b.start();
    const x = Tensor.input('x', [2, 2]);
    const wt = w.transpose(0, 1); // a view of the old value
    w.assign(w.mul(0.5));
    b.addOutput('y', wt.matmul(x)); // recorded after the update: reads the old value
    b.addOutput('z', w.add(1)); // the new value
    const s = b.build();
    const X = [1, 2, -1, 0.5];
    let cur = W0.slice();
    for (let run = 0; run < 3; run++) {
      const out = s.run({ x: Tensor.fromArray(X, [2, 2]) });
      // y = cur^T @ X (3x2), z = cur*0.5 + 1
      const y: number[] = [];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) y.push(cur[0 * 3 + i] * X[0 * 2 + j] + cur[1 * 3 + i] * X[1 * 2 + j]);
      cur = cur.map((v) => v * 0.5);
      expect(maxRel(flat(out['y']), y)).toBeLessThanOrEqual(1e-6);
      expect(maxRel(flat(out['z']), cur.map((v) => v + 1))).toBeLessThanOrEqual(1e-6);
      expect(maxRel(flat(w), cur)).toBeLessThanOrEqual(1e-6);
    }
    const info = s.planInfo();
    expect(info.variablesInPlace! + info.variablesCopied!).toBe(1);
    expect(info.variablesCopied).toBe(1); // the view is read after the update: copied at the end
  });

  test('the old value as an output, and w + w^T (the update reads the old value at another layout)', () => {
    const w = Tensor.fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    const b = new Builder('hazard_out');
    b.start();
    b.addOutput('old', w.reshape([9]));
    w.assign(w.add(w.transpose(0, 1)));
    const s = b.build();
    let cur = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (let run = 0; run < 3; run++) {
      const out = s.run();
      expect(flat(out['old'])).toEqual(cur);
      const next: number[] = [];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) next.push(cur[i * 3 + j] + cur[j * 3 + i]);
      cur = next;
      expect(flat(w)).toEqual(cur);
    }
    expect(s.planInfo().variablesCopied).toBe(1);
  });

  test('w + w^T alone: the kernel may not write over an operand it reads transposed', () => {
    const w = Tensor.fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    const b = new Builder('transpose_add');
    b.start();
    w.assign(w.add(w.transpose(0, 1)));
    b.addOutput('s', w.sum());
    const s = b.build();
    expect(s.run()['s'].item()).toBe(90);
    expect(flat(w)).toEqual([2, 6, 10, 6, 10, 14, 10, 14, 18]);
    expect(s.planInfo().variablesInPlace).toBe(0);
  });

  test('swapped variables (a ← b, b ← old a through a view)', () => {
    const a = Tensor.fromArray([1, 2, 3]);
    const c = Tensor.fromArray([10, 20, 30]);
    const b = new Builder('swap');
    b.start();
    const oldA = a.reshape([3]);
    a.assign(c);
    c.assign(oldA);
    b.addOutput('sum', a.add(c)); // the new values
    const s = b.build();
    expect(flat(s.run()['sum'])).toEqual([11, 22, 33]);
    expect(flat(a)).toEqual([10, 20, 30]);
    expect(flat(c)).toEqual([1, 2, 3]);
    s.run();
    expect(flat(a)).toEqual([1, 2, 3]);
    expect(flat(c)).toEqual([10, 20, 30]);
  });

  test('a variable also fed as a user input: the run reads the input unchanged', () => {
    const w = Tensor.fromArray([1, 2, 3, 4]);
    const b = new Builder('fed');
    b.start();
    const x = Tensor.input('x', [4]);
    w.assign(w.mul(0.5));
    b.addOutput('y', x.add(w)); // after the update: x (= old w) + new w
    const s = b.build();
    const out = s.run({ x: w }); // the same memory as the variable
    expect(flat(out['y'])).toEqual([1.5, 3, 4.5, 6]);
    expect(flat(w)).toEqual([0.5, 1, 1.5, 2]);
    expect(s.planInfo().variablesInPlace).toBe(1);
  });

  test('a strided variable (a transposed view) is updated through its strides', () => {
    const base = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
    const w = base.transpose(0, 1); // [3, 2], strided
    const b = new Builder('strided');
    b.start();
    const x = Tensor.input('x', [3, 2]);
    w.assign(w.mul(2).add(x));
    b.addOutput('s', w.sum());
    const s = b.build();
    const X = [1, 0, 0, 1, 1, 1];
    const out = s.run({ x: Tensor.fromArray(X, [3, 2]) });
    // w^T values [[1,4],[2,5],[3,6]] → 2w + x
    const want = [1, 4, 2, 5, 3, 6].map((v, i) => 2 * v + X[i]);
    expect(flat(w.contiguous())).toEqual(want);
    expect(flat(base)).toEqual([want[0], want[2], want[4], want[1], want[3], want[5]]);
    expect(out['s'].item()).toBe(want.reduce((p, v) => p + v, 0));
  });
});

describe('rolled loop', () => {
  const IN2 = 6;
  const OUT2 = 2;
  const B2 = 8;
  const STEPS = 10;

  function data(): { X: Tensor; Y: Tensor } {
    const x = new Float32Array(STEPS * B2 * IN2);
    const y = new Float32Array(STEPS * B2 * OUT2);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(0.13 * i);
    for (let i = 0; i < y.length; i++) y[i] = Math.cos(0.07 * i);
    return { X: Tensor.fromArray(x, [STEPS * B2, IN2]), Y: Tensor.fromArray(y, [STEPS * B2, OUT2]) };
  }

  function model(): nn.Sequential {
    manualSeed(11);
    return new nn.Sequential(new nn.Linear(IN2, 5), new nn.ReLU(), new nn.Linear(5, OUT2));
  }

  test('an epoch that also reads the old weights after the loop: rolls, equals dynamic mode', () => {
    // reference: the steps in dynamic mode, drift = final weight - weight before the epoch
    const ref = model();
    const refOpt = new nn.SGD(0.05, { momentum: 0.9 });
    const mse = new nn.MSE();
    const { X, Y } = data();
    const drifts: number[][] = [];
    for (let e = 0; e < 2; e++) {
      const before = flat(ref.parameters()[0]);
      for (let k = 0; k < STEPS; k++) {
        const loss = mse.forward([ref.forward(X.narrow(0, k * B2, B2)), Y.narrow(0, k * B2, B2)]);
        loss.backward();
        refOpt.step(ref.parameters());
        refOpt.zeroGrad(ref.parameters());
      }
      drifts.push(flat(ref.parameters()[0]).map((v, i) => v - before[i]));
    }

    const m = model();
    const opt = new nn.SGD(0.05, { momentum: 0.9 });
    const w = m.parameters()[0];
    const b = new Builder('epoch_hazard');
    b.start();
    const Xi = Tensor.input('X', [STEPS * B2, IN2]);
    const Yi = Tensor.input('Y', [STEPS * B2, OUT2]);
    const old = w.transpose(0, 1); // a view of the weight before the epoch
    for (let k = 0; k < STEPS; k++) {
      const loss = mse.forward([m.forward(Xi.narrow(0, k * B2, B2)), Yi.narrow(0, k * B2, B2)]);
      loss.backward();
      opt.step(m.parameters());
      opt.zeroGrad(m.parameters());
    }
    b.addOutput('drift', w.sub(old.transpose(0, 1)));
    const s = b.build();
    for (let e = 0; e < 2; e++) {
      const out = s.run({ X, Y });
      expect(maxRel(flat(out['drift']), drifts[e])).toBeLessThanOrEqual(1e-4);
    }
    expect(s.planInfo().loops.length).toBe(1);
    m.parameters().forEach((p, i) => expect(maxRel(flat(p), flat(ref.parameters()[i]))).toBeLessThanOrEqual(1e-4));
    const info = s.planInfo();
    expect(info.variablesInPlace! + info.variablesCopied!).toBe(updatedCount(s));
  });
});
