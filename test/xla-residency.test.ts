// Device-resident variables on XLA (SPEC §5, lib/device-state.ts): a training script's parameters
// and optimizer state stay on the device between runs (no per-run upload, updates donated in
// place), are copied to the host only when read there, and every host write is seen by the next
// run. References: dynamic mode (HODU's eager kernels) and a float64 SGD written here.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Device, Script, Tensor, manualSeed, nn, saveSafetensors, loadSafetensors } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { deviceCopies, hostIsStale } from '../lib/device-state';
import { B, HID, IN, OUT, batch, batchData, expectClose, flat, makeModel } from './helpers/train-fixture';

afterEach(() => Builder._abortActive());

const xlaWhy = !xlaBuilt() ? 'no PJRT header in this build' : findPjrtPlugin('cpu').path === null ? 'no PJRT CPU plugin' : '';
const run = xlaWhy === '' && process.env.HODU_SKIP_XLA !== '1' ? describe : describe.skip;
if (xlaWhy !== '') console.warn(`xla-residency.test: skipped (${xlaWhy})`);

/** One dynamic-mode step (the reference). */
function dynamicStep(model: nn.Module, opt: nn.Optimizer, k: number): void {
  const { x, y } = batch(k);
  const loss = new nn.MSE().forward([model.forward(x), y]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
}

function recordTrainStep(model: nn.Module, opt: nn.Optimizer): Script {
  const b = new Builder('train_step');
  b.start();
  const x = Tensor.input('x', [B, IN]);
  const y = Tensor.input('y', [B, OUT]);
  const loss = new nn.MSE().forward([model.forward(x), y]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  return b.build();
}

function recordEval(model: nn.Module): Script {
  const b = new Builder('eval');
  b.start();
  const x = Tensor.input('x', [B, IN]);
  b.addOutput('y', model.forward(x));
  return b.build();
}

const INPUT_BYTES = (B * IN + B * OUT) * 4;

run('XLA: variables stay on the device', () => {
  test.each([
    ['SGD momentum', () => new nn.SGD(0.05, { momentum: 0.9, weightDecay: 0.01 })],
    ['Adam', () => new nn.Adam(0.01)],
  ] as [string, () => nn.Optimizer][])('%s: 50 runs equal 50 dynamic steps; after warm-up a run uploads only x and y', (_n, makeOpt) => {
    const ref = makeModel(42);
    const refOpt = makeOpt();
    for (let k = 0; k < 50; k++) dynamicStep(ref, refOpt, k);

    const model = makeModel(42);
    const script = recordTrainStep(model, makeOpt()).setBackend(Backend.XLA);
    const { x, y } = batch(0);
    script.run({ x, y }); // warm-up: uploads every variable once
    const before = script.stats();
    for (let k = 1; k < 50; k++) script.run(batch(k));
    const after = script.stats();
    expect(after.hostToDeviceBytes - before.hostToDeviceBytes).toBe(49 * INPUT_BYTES);
    expect(after.deviceToHostBytes - before.deviceToHostBytes).toBe(49 * 4); // the loss only
    // every updated variable (parameters, optimizer state) was donated: updated in place
    const updated = Object.keys(script.variables).length - 1; // all but the lr
    expect(after.donatedBuffers - before.donatedBuffers).toBe(49 * updated);
    // the parameters live on the device; reading them copies them back
    const p0 = model.parameters()[0];
    expect(hostIsStale(p0)).toBe(true);
    ref.parameters().forEach((p, i) => expectClose(flat(model.parameters()[i]), flat(p), 2e-4, `parameter ${i}`));
    expect(hostIsStale(p0)).toBe(false);
  });

  test('the program marks each updated variable as aliasing its output (tf.aliasing_output), read-only ones not', () => {
    const model = makeModel(41);
    const script = recordTrainStep(model, new nn.SGD(0.1));
    const text = script.asText('stablehlo');
    const main = text.split('\n').find((l) => l.includes('func.func public @main'))!;
    const aliased = main.match(/tf\.aliasing_output = \d+ : i32/g) ?? [];
    // plain SGD updates the 4 parameters; the lr is read-only
    expect(aliased.length).toBe(4);
    const ev = recordEval(model).asText('stablehlo');
    expect(ev.includes('tf.aliasing_output')).toBe(false);
  });

  test('plain SGD on a linear model equals a float64 reference written here', () => {
    manualSeed(3);
    const lin = new nn.Linear(IN, OUT);
    const W = Array.from(lin.weight.toTypedArray() as Float32Array, Number); // [OUT, IN]
    const bias = Array.from(lin.bias!.toTypedArray() as Float32Array, Number);
    const lr = 0.1;
    const script = recordTrainStep(lin, new nn.SGD(lr)).setBackend(Backend.XLA);
    for (let k = 0; k < 30; k++) {
      script.run(batch(k));
      // float64: pred = x W^T + b, loss = mean((pred - y)^2), grads by hand
      const { x, y } = batchData(k);
      const gW = new Array(OUT * IN).fill(0);
      const gb = new Array(OUT).fill(0);
      for (let r = 0; r < B; r++)
        for (let o = 0; o < OUT; o++) {
          let p = bias[o];
          for (let i = 0; i < IN; i++) p += x[r * IN + i] * W[o * IN + i];
          const d = (2 * (p - y[r * OUT + o])) / (B * OUT);
          gb[o] += d;
          for (let i = 0; i < IN; i++) gW[o * IN + i] += d * x[r * IN + i];
        }
      for (let i = 0; i < W.length; i++) W[i] -= lr * gW[i];
      for (let o = 0; o < OUT; o++) bias[o] -= lr * gb[o];
      if (k === 9) expectClose(flat(lin.weight), W, 1e-5, 'weight read mid-training');
    }
    expectClose(flat(lin.weight), W, 1e-5, 'weight');
    expectClose(flat(lin.bias!), bias, 1e-5, 'bias');
  });

  test('reading a parameter mid-training gives its current value and does not re-upload it', () => {
    const ref = makeModel(7);
    const refOpt = new nn.Adam(0.01);
    const model = makeModel(7);
    const script = recordTrainStep(model, new nn.Adam(0.01)).setBackend(Backend.XLA);
    for (let k = 0; k < 20; k++) {
      dynamicStep(ref, refOpt, k);
      script.run(batch(k));
      if (k % 5 === 4) {
        // every way of reading: typed array, toArray, item of a slice, an eager op, stateDict
        expectClose(flat(model.parameters()[2]), flat(ref.parameters()[2]), 2e-4, `step ${k} toTypedArray`);
        const sd = model.stateDict();
        const refSd = ref.stateDict();
        for (const name of Object.keys(refSd)) expectClose(flat(sd[name]), flat(refSd[name]), 2e-4, `step ${k} ${name}`);
        expect(model.parameters()[3].sum().item()).toBeCloseTo(ref.parameters()[3].sum().item(), 4);
        const before = script.stats().hostToDeviceBytes;
        script.run(batch(100 + k));
        dynamicStep(ref, refOpt, 100 + k);
        expect(script.stats().hostToDeviceBytes - before).toBe(INPUT_BYTES); // a read is not a write
      }
    }
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 3e-4, `parameter ${i}`));
  });

  test('a host assign between runs is seen by the next run (and re-uploads only that tensor)', () => {
    const ref = makeModel(11);
    const refOpt = new nn.SGD(0.05, { momentum: 0.9 });
    const model = makeModel(11);
    const script = recordTrainStep(model, new nn.SGD(0.05, { momentum: 0.9 })).setBackend(Backend.XLA);
    const w = model.parameters()[0];
    for (let k = 0; k < 12; k++) {
      if (k === 6) {
        const v = Tensor.fromArray(Float32Array.from({ length: HID * IN }, (_, i) => Math.cos(i) * 0.3), [HID, IN]);
        w.assign(v);
        ref.parameters()[0].assign(v);
        const before = script.stats().hostToDeviceBytes;
        script.run(batch(k));
        dynamicStep(ref, refOpt, k);
        expect(script.stats().hostToDeviceBytes - before).toBe(INPUT_BYTES + HID * IN * 4);
        continue;
      }
      script.run(batch(k));
      dynamicStep(ref, refOpt, k);
    }
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
    // loadStateDict is a host write too
    const sd: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(ref.stateDict())) sd[k] = t.mul(0.5);
    model.loadStateDict(sd);
    ref.loadStateDict(sd);
    script.run(batch(50));
    dynamicStep(ref, refOpt, 50);
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `after loadStateDict ${i}`));
  });

  test('an XLA inference script uploads the weights once and sees weights changed by dynamic training', () => {
    const model = makeModel(5);
    const ev = recordEval(model).setBackend(Backend.XLA);
    const { x } = batch(3);
    const y0 = flat(ev.run({ x })['y']);
    expectClose(y0, flat(model.forward(x)), 1e-5, 'first run');
    let before = ev.stats().hostToDeviceBytes;
    for (let k = 0; k < 10; k++) ev.run({ x });
    expect(ev.stats().hostToDeviceBytes - before).toBe(10 * B * IN * 4);
    const opt = new nn.SGD(0.1);
    for (let k = 0; k < 3; k++) dynamicStep(model, opt, k);
    before = ev.stats().hostToDeviceBytes;
    const y1 = flat(ev.run({ x })['y']);
    expectClose(y1, flat(model.forward(x)), 1e-5, 'after dynamic training');
    expect(Math.max(...y1.map((v, i) => Math.abs(v - y0[i])))).toBeGreaterThan(1e-3);
    const paramBytes = model.parameters().reduce((s, p) => s + p.size * 4, 0);
    expect(ev.stats().hostToDeviceBytes - before).toBe(B * IN * 4 + paramBytes);
  });

  test('an XLA inference script sees weights an XLA training script left on the device', () => {
    const ref = makeModel(9);
    const refOpt = new nn.AdamW(0.01);
    const model = makeModel(9);
    const train = recordTrainStep(model, new nn.AdamW(0.01)).setBackend(Backend.XLA);
    const ev = recordEval(model).setBackend(Backend.XLA);
    const hodu = recordEval(model); // HODU bakes read-only weights in: rebuilt when they change
    const { x } = batch(1);
    for (let k = 0; k < 8; k++) {
      train.run(batch(k));
      dynamicStep(ref, refOpt, k);
      const want = flat(ref.forward(x));
      expectClose(flat(ev.run({ x })['y']), want, 3e-4, `xla eval after run ${k}`);
      expectClose(flat(hodu.run({ x })['y']), want, 3e-4, `hodu eval after run ${k}`);
    }
  });

  test('dynamic steps and XLA runs on the same parameters interleave', () => {
    const ref = makeModel(13);
    const refOpt = new nn.SGD(0.05, { momentum: 0.5 });
    const model = makeModel(13);
    const opt = new nn.SGD(0.05, { momentum: 0.5 });
    const script = recordTrainStep(model, opt).setBackend(Backend.XLA);
    for (let k = 0; k < 12; k++) {
      if (k % 3 === 2) dynamicStep(model, opt, k);
      else script.run(batch(k));
      dynamicStep(ref, refOpt, k);
    }
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
  });

  test('runAsync keeps variables on the device too (queued runs, no torn update)', async () => {
    const ref = makeModel(17);
    const refOpt = new nn.Adam(0.01);
    for (let k = 0; k < 20; k++) dynamicStep(ref, refOpt, k);
    const model = makeModel(17);
    const script = recordTrainStep(model, new nn.Adam(0.01)).setBackend(Backend.XLA);
    script.run(batch(0)); // uploads the variables (this run's own copies of the updated ones)
    script.run(batch(1)); // donates every updated variable's resident buffer
    const donated = Object.keys(script.variables).length - 1; // all but the lr
    expect(script.stats().donatedBuffers).toBe(donated);
    const before = script.stats().hostToDeviceBytes;
    const runs: Promise<unknown>[] = [];
    for (let k = 2; k < 20; k++) runs.push(script.runAsync(batch(k)));
    await Promise.all(runs);
    expect(script.stats().hostToDeviceBytes - before).toBe(18 * INPUT_BYTES);
    expect(script.stats().donatedBuffers).toBe(donated); // async runs never donate
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
  });

  test('save, saveSafetensors and a HODU run read the device values', () => {
    const ref = makeModel(21);
    const refOpt = new nn.SGD(0.1);
    const model = makeModel(21);
    const script = recordTrainStep(model, new nn.SGD(0.1)).setBackend(Backend.XLA);
    for (let k = 0; k < 5; k++) {
      script.run(batch(k));
      dynamicStep(ref, refOpt, k);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-resident-'));
    try {
      saveSafetensors(path.join(dir, 'w.safetensors'), model.stateDict());
      const back = loadSafetensors(path.join(dir, 'w.safetensors'));
      for (const [k, t] of Object.entries(ref.stateDict())) expectClose(flat(back[k]), flat(t), 2e-4, `safetensors ${k}`);
      script.run(batch(5));
      dynamicStep(ref, refOpt, 5);
      const loaded = Script.load(script.save(path.join(dir, 's')));
      const vars = loaded.variables;
      const names = Object.keys(script.variables);
      names.forEach((n) => expectClose(flat(vars[n]), flat(script.variables[n]), 0, `saved ${n}`));
      // the HODU backend reads the same tensors: it runs the next step from the device's values
      script.setBackend(Backend.HODU);
      script.run(batch(6));
      dynamicStep(ref, refOpt, 6);
      model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a run whose label index is out of range fails and leaves the donated variables unchanged', () => {
    const C = 4;
    const mk = (): nn.Sequential => {
      manualSeed(37);
      return new nn.Sequential(new nn.Linear(IN, C));
    };
    const ref = mk();
    const refOpt = new nn.Adam(0.01);
    const model = mk();
    const b = new Builder('ce_step');
    b.start();
    const opt = new nn.Adam(0.01);
    const loss = new nn.CrossEntropy().forward([model.forward(Tensor.input('x', [B, IN])), Tensor.input('y', [B], DType.I64)]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('loss', loss);
    const script = b.build().setBackend(Backend.XLA);
    const labels = (k: number): Tensor => Tensor.fromArray(Array.from({ length: B }, (_, i) => (i + k) % C), undefined, DType.I64);
    const refStep = (k: number): void => {
      const l = new nn.CrossEntropy().forward([ref.forward(batch(k).x), labels(k)]);
      l.backward();
      refOpt.step(ref.parameters());
      refOpt.zeroGrad(ref.parameters());
    };
    for (let k = 0; k < 3; k++) {
      script.run({ x: batch(k).x, y: labels(k) });
      refStep(k);
    }
    const donated = script.stats().donatedBuffers;
    expect(donated).toBeGreaterThan(0); // index checks do not turn donation off
    const bad = Tensor.fromArray(Array.from({ length: B }, (_, i) => (i === 2 ? C + 5 : i % C)), undefined, DType.I64);
    let code: string | undefined;
    try {
      script.run({ x: batch(3).x, y: bad });
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('INVALID_ARGUMENT');
    expect(script.stats().donatedBuffers).toBe(donated);
    // nothing changed: the next runs continue from the values before the failed run
    for (let k = 3; k < 6; k++) {
      script.run({ x: batch(k).x, y: labels(k) });
      refStep(k);
    }
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
  });

  test('disposing a parameter frees its device copies', () => {
    const model = makeModel(23);
    const script = recordTrainStep(model, new nn.SGD(0.1)).setBackend(Backend.XLA);
    script.run(batch(0));
    const p = model.parameters()[0];
    expect(deviceCopies(p)).toBe(1);
    const storage = p._storage!;
    p.dispose();
    expect(storage._device).toBeNull();
    expect((() => {
      try {
        script.run(batch(1));
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    })()).toBe('DISPOSED');
  });

  test('HODU_XLA_RESIDENT=0 uploads every variable on every run (the old path), same result', () => {
    const ref = makeModel(29);
    const refOpt = new nn.SGD(0.05);
    const model = makeModel(29);
    process.env.HODU_XLA_RESIDENT = '0';
    let script: Script;
    try {
      script = recordTrainStep(model, new nn.SGD(0.05)).setBackend(Backend.XLA).compile();
    } finally {
      delete process.env.HODU_XLA_RESIDENT;
    }
    for (let k = 0; k < 5; k++) {
      script.run(batch(k));
      dynamicStep(ref, refOpt, k);
    }
    expect(script.stats().hostToDeviceBytes).toBe(0); // not counted on the old path
    expect(hostIsStale(model.parameters()[0])).toBe(false);
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
  });

  test('HODU_XLA_DONATE=0 keeps variables resident but writes updates into fresh buffers, same result', () => {
    const ref = makeModel(33);
    const refOpt = new nn.Adam(0.01);
    const model = makeModel(33);
    process.env.HODU_XLA_DONATE = '0';
    let script: Script;
    try {
      script = recordTrainStep(model, new nn.Adam(0.01)).setBackend(Backend.XLA).compile();
    } finally {
      delete process.env.HODU_XLA_DONATE;
    }
    for (let k = 0; k < 6; k++) {
      script.run(batch(k));
      dynamicStep(ref, refOpt, k);
    }
    expect(script.stats().donatedBuffers).toBe(0);
    expect(script.stats().hostToDeviceBytes).toBeLessThan(6 * INPUT_BYTES + 4 * model.parameters().reduce((n, p) => n + p.size * 4, 0));
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
  });

  test('two devices (SPMD): variables stay resident on both, training equals dynamic mode', () => {
    const ref = makeModel(31);
    const refOpt = new nn.SGD(0.05, { momentum: 0.9 });
    const model = makeModel(31);
    const script = recordTrainStep(model, new nn.SGD(0.05, { momentum: 0.9 })).setBackend(Backend.XLA).setDevices([Device.cpu(0), Device.cpu(1)]);
    script.run(batch(0));
    dynamicStep(ref, refOpt, 0);
    const before = script.stats().hostToDeviceBytes;
    for (let k = 1; k < 10; k++) {
      script.run(batch(k));
      dynamicStep(ref, refOpt, k);
    }
    // x and y are split across the two devices: each device gets half, so the bytes are those of x and y once
    expect(script.stats().hostToDeviceBytes - before).toBe(9 * INPUT_BYTES);
    model.parameters().forEach((p, i) => expectClose(flat(p), flat(ref.parameters()[i]), 2e-4, `parameter ${i}`));
  });
});
