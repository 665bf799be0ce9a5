// The XLA run path and lowering choices of issue 18 item 5:
// - convolutions are emitted as NHWC x HWIO (native/xla/stablehlo_emitter.cc Emitter::convolution),
//   also inside a rolled loop's stablehlo.while; a rolled CNN training loop equals the same steps
//   unrolled and the eager HODU reference;
// - small outputs (<= 4 KiB) are plain V8 ArrayBuffers, larger ones pooled blocks: both correct,
//   each run's outputs its own memory, dispose works;
// - the XLA:CPU DebugOptions defaults (lib/xla-cpu-defaults.ts) and their environment override.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { Backend, Builder, Script, Tensor, manualSeed, nn } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { xlaCpuDebugOptions } from '../lib/xla-cpu-defaults';
import { expectHoduError } from './helpers/assert';

afterEach(() => Builder._abortActive());

const xlaReady = process.env.HODU_SKIP_XLA !== '1' && xlaBuilt() && findPjrtPlugin('cpu').path !== null;
const onXla = xlaReady ? describe : describe.skip;

const flat = (t: Tensor): number[] => Array.from(t.toTypedArray() as Float32Array);

describe('XLA:CPU debug option defaults', () => {
  test('vector width 512 on AVX-512 only; HODU_XLA_VECTOR_WIDTH overrides; a bad value is refused', () => {
    expect(xlaCpuDebugOptions({}, true)).toEqual({ xla_cpu_prefer_vector_width: 512 });
    expect(xlaCpuDebugOptions({}, false)).toEqual({});
    expect(xlaCpuDebugOptions({ HODU_XLA_VECTOR_WIDTH: 'off' }, true)).toEqual({});
    expect(xlaCpuDebugOptions({ HODU_XLA_VECTOR_WIDTH: '0' }, true)).toEqual({});
    expect(xlaCpuDebugOptions({ HODU_XLA_VECTOR_WIDTH: '256' }, true)).toEqual({ xla_cpu_prefer_vector_width: 256 });
    expect(xlaCpuDebugOptions({ HODU_XLA_VECTOR_WIDTH: '512' }, false)).toEqual({ xla_cpu_prefer_vector_width: 512 });
    expectHoduError(() => xlaCpuDebugOptions({ HODU_XLA_VECTOR_WIDTH: '300' }, true), 'INVALID_ARGUMENT', /HODU_XLA_VECTOR_WIDTH.*'300'/);
  });
});

onXla('XLA run path', () => {
  const IMG = 6;
  const B = 4;
  const STEPS = 5;

  function cnn(): nn.Sequential {
    manualSeed(5);
    return new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(4, 4, 3, { stride: 2, padding: 1, groups: 2 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 3 * 3, 2));
  }

  function data(): { X: Tensor; Y: Tensor } {
    const x = new Float32Array(STEPS * B * 2 * IMG * IMG);
    const y = new Float32Array(STEPS * B * 2);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(0.31 * i) + 0.2 * Math.cos(0.07 * i);
    for (let i = 0; i < y.length; i++) y[i] = Math.cos(0.5 * i);
    return { X: Tensor.fromArray(x, [STEPS * B, 2, IMG, IMG]), Y: Tensor.fromArray(y, [STEPS * B, 2]) };
  }

  function epoch(m: nn.Module): Script {
    const opt = new nn.SGD(0.05, { momentum: 0.9 });
    const mse = new nn.MSE();
    const b = new Builder('cnn_epoch').start();
    const X = Tensor.input('X', [STEPS * B, 2, IMG, IMG]);
    const Y = Tensor.input('Y', [STEPS * B, 2]);
    for (let k = 0; k < STEPS; k++) {
      const loss = mse.forward([m.forward(X.narrow(0, k * B, B)), Y.narrow(0, k * B, B)]);
      loss.backward();
      opt.step(m.parameters());
      opt.zeroGrad(m.parameters());
      b.addOutput('losses', loss, { stack: true });
    }
    return b.build();
  }

  test('a rolled CNN training loop (convolutions inside stablehlo.while, NHWC) equals the unrolled steps and eager HODU', () => {
    // reference: the same steps in eager mode on HODU (another implementation of every op)
    const ref = cnn();
    const refOpt = new nn.SGD(0.05, { momentum: 0.9 });
    const mse = new nn.MSE();
    const { X, Y } = data();
    const want: number[] = [];
    for (let k = 0; k < STEPS; k++) {
      const loss = mse.forward([ref.forward(X.narrow(0, k * B, B)), Y.narrow(0, k * B, B)]);
      want.push(loss.item());
      loss.backward();
      refOpt.step(ref.parameters());
      refOpt.zeroGrad(ref.parameters());
    }
    const wantParams = ref.parameters().map(flat).flat();

    const m = cnn();
    const s = epoch(m).setBackend(Backend.XLA).addInput('X', X).addInput('Y', Y);
    const text = s.asText('stablehlo');
    const body = text.slice(text.indexOf('"stablehlo.while"'));
    expect(body).toContain('"stablehlo.convolution"');
    // every convolution of the program, in the loop body too, is NHWC x HWIO -> NHWC
    const dims = [...text.matchAll(/#stablehlo\.conv<(\[[^\]]*\]x\[[^\]]*\]->\[[^\]]*\])>/g)].map((x) => x[1]);
    expect(dims.length).toBeGreaterThanOrEqual(4);
    for (const d of dims) expect(d).toBe('[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]');

    const start = Object.values(s.variables).map((t) => t.contiguous().add(0));
    s.compile();
    expect(s.planInfo().loops.length).toBe(1);
    const rolled = flat(s.run()['losses']);
    const rolledParams = m.parameters().map(flat).flat();
    for (let k = 0; k < STEPS; k++) expect(Math.abs(rolled[k] - want[k])).toBeLessThan(1e-4 * (1 + Math.abs(want[k])));
    for (let i = 0; i < wantParams.length; i++) expect(Math.abs(rolledParams[i] - wantParams[i])).toBeLessThan(1e-4);

    Object.values(s.variables).forEach((t, i) => t.assign(start[i]));
    s.compile({ rollLoops: false });
    expect(s.planInfo().loops.length).toBe(0);
    const unrolled = flat(s.run()['losses']);
    for (let k = 0; k < STEPS; k++) expect(Math.abs(unrolled[k] - rolled[k])).toBeLessThan(1e-5 * (1 + Math.abs(rolled[k])));
    expect(rolled[STEPS - 1]).toBeLessThan(rolled[0]);
  });

  test.each([8, 2048])('outputs of %i floats: values, one buffer per run, dispose', (n) => {
    const b = new Builder(`affine_${n}`).start();
    const x = Tensor.input('x', [n]);
    b.addOutput('y', x.mul(3).add(1));
    b.addOutput('s', x.sum());
    const s = b.build().setBackend(Backend.XLA);
    const feed = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + k));
    const ref = (k: number) => feed(k).reduce((a, v) => a + v, 0);
    const r1 = s.run({ x: feed(1) });
    const r2 = s.run({ x: feed(2) });
    const y1 = flat(r1.y);
    const f1 = feed(1);
    const f2 = feed(2);
    for (let i = 0; i < n; i++) {
      expect(Math.abs(y1[i] - (3 * f1[i] + 1))).toBeLessThan(1e-5);
      expect(Math.abs(flat(r2.y)[i] - (3 * f2[i] + 1))).toBeLessThan(1e-5);
    }
    expect(Math.abs(r1.s.item() - ref(1))).toBeLessThan(1e-4 * (1 + Math.abs(ref(1))));
    expect(Math.abs(r2.s.item() - ref(2))).toBeLessThan(1e-4 * (1 + Math.abs(ref(2))));
    r1.y.dispose();
    r1.s.dispose();
    const r3 = s.run({ x: feed(3) });
    expect(flat(r2.y)[0]).toBeCloseTo(3 * f2[0] + 1, 5); // a later run does not write into an earlier output
    expect(flat(r3.y)[n - 1]).toBeCloseTo(3 * feed(3)[n - 1] + 1, 5);
  });

  test('async runs: small outputs stay correct', async () => {
    const b = new Builder('affine_async').start();
    const x = Tensor.input('x', [4]);
    b.addOutput('y', x.mul(-2));
    const s = b.build().setBackend(Backend.XLA);
    const rs = await Promise.all([1, 2, 3].map((k) => s.runAsync({ x: new Float32Array([k, k + 1, k + 2, k + 3]) })));
    rs.forEach((r, i) => expect(flat(r.y)).toEqual([1, 2, 3, 4].map((j) => -2 * (i + j))));
  });
});
