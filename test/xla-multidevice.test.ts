// Data-parallel scripts over several devices (script.setDevices, SPMD lowering) on the XLA CPU
// plugin with 2 and 4 CPU devices: training gives the same weights as on one device (and as the
// HODU backend), rolled loops included; inputs split along an explicit axis; batches that do not
// divide; runAsync; the compile cache; and every guard is a HoduError (the launch guards below the
// public API run in the C++ driver: test/native/test_xla_multidevice.cc, xla_md_guards).
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Device, Script, Tensor } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { mlpTrainScript, detFloats } from './helpers/xla-train-scripts';
import { codeOf } from './helpers/assert';

const plugin = xlaBuilt() ? findPjrtPlugin('cpu').path : null;
const ready = plugin !== null && process.env.HODU_SKIP_XLA !== '1';
const describeXla = ready ? describe : describe.skip;
if (plugin) process.env.HODU_PJRT_PLUGIN_CPU = plugin;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-xla-md-'));
process.env.HODU_CACHE_DIR = root;  // the compile cache of these tests stays here

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => Builder._abortActive());

const TWO = [Device.cpu(0), Device.cpu(1)];
const FOUR = [0, 1, 2, 3].map((i) => Device.cpu(i));

function valuesOf(out: Record<string, Tensor>): Record<string, number[]> {
  const r: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(out)) r[k] = Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);
  return r;
}

/** max |a-b| / (1 + |b|) over every output. */
function maxRel(a: Record<string, number[]>, b: Record<string, number[]>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let m = 0;
  for (const k of Object.keys(a)) {
    expect([k, a[k].length]).toEqual([k, b[k].length]);
    for (let i = 0; i < a[k].length; i++) m = Math.max(m, Math.abs(a[k][i] - b[k][i]) / (1 + Math.abs(b[k][i])));
  }
  return m;
}

type Info = { numDevices: number; device: string; loops: { trips: number }[]; cache: string };
const infoOf = (s: Script): Info => s.planInfo() as unknown as Info;

describe('setDevices: arguments', () => {
  const s = () => mlpTrainScript();
  test('an empty list, mixed kinds, a repeated device, a non-Device, an unknown split input', () => {
    expect(codeOf(() => s().setDevices([]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => s().setDevices([Device.cpu(0), Device.CUDA(0)]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => s().setDevices([Device.cpu(1), Device.cpu(1)]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => s().setDevices([Device.CPU, 'cpu' as unknown as Device]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => s().setDevices(TWO, { split: { nope: 0 } }))).toBe('INPUT_UNKNOWN');
    expect(codeOf(() => s().setDevices(TWO, { split: { x: 0.5 } }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => Device.cpu(-1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => Device.cpu(1.5))).toBe('INVALID_ARGUMENT');
  });

  test('Device.cpu(0) is Device.CPU; one device is setDevice; setDevice goes back to one', () => {
    expect(Device.cpu(0)).toBe(Device.CPU);
    expect(Device.cpu(2).toString()).toBe('cpu:2');
    const x = s().setDevices([Device.CPU]);
    expect(x.devices).toEqual([Device.CPU]);
    x.setDevices(TWO);
    expect(x.devices.map(String)).toEqual(['cpu', 'cpu:1']);
    expect(x.device).toBe(Device.CPU);
    x.setDevice(Device.CPU);
    expect(x.devices).toEqual([Device.CPU]);
  });

  test('the HODU backend runs on one device: several are DEVICE_UNAVAILABLE at compile', () => {
    const x = s().setDevices(TWO);
    expect(codeOf(() => x.compile())).toBe('DEVICE_UNAVAILABLE');
    expect(codeOf(() => x.run())).toBe('DEVICE_UNAVAILABLE');
  });
});

describeXla('data-parallel scripts on several XLA CPU devices', () => {
  test('a training step on 2 devices gives the weights and loss of 1 device and of HODU', () => {
    const one = valuesOf(mlpTrainScript().setBackend(Backend.XLA).run());
    const s2 = mlpTrainScript().setBackend(Backend.XLA).setDevices(TWO);
    const two = valuesOf(s2.run());
    const hodu = valuesOf(mlpTrainScript().run());
    expect(maxRel(two, one)).toBeLessThan(1e-5);
    expect(maxRel(two, hodu)).toBeLessThan(1e-5);
    const info = infoOf(s2);
    expect(info.numDevices).toBe(2);
    expect(info.device).toContain('TFRT_CPU_1');
  });

  test('rolled training loops (10 steps in one stablehlo.while) on 2 and 4 devices equal 1 device', () => {
    const opts = { steps: 10, batch: 16 };
    const one = valuesOf(mlpTrainScript(opts).setBackend(Backend.XLA).run());
    const hodu = valuesOf(mlpTrainScript(opts).run());
    expect(maxRel(one, hodu)).toBeLessThan(1e-4);
    for (const devs of [TWO, FOUR]) {
      const s = mlpTrainScript(opts).setBackend(Backend.XLA).setDevices(devs);
      const got = valuesOf(s.run());
      expect([devs.length, maxRel(got, one) < 1e-5]).toEqual([devs.length, true]);
      expect(infoOf(s).loops.map((l) => l.trips)).toEqual([10]);
      expect(infoOf(s).numDevices).toBe(devs.length);
    }
    // training moved the loss: the comparison is not of untouched weights
    const first = valuesOf(mlpTrainScript({ ...opts, steps: 1 }).run());
    expect(one.loss[0]).toBeLessThan(first.loss[0]);
  });

  test('devices other than 0..N-1, in any order (a device_assignment in the compile options), give the same weights', () => {
    const one = valuesOf(mlpTrainScript({ steps: 3 }).setBackend(Backend.XLA).run());
    for (const ids of [[1, 0], [2, 3], [3, 1]]) {
      const s = mlpTrainScript({ steps: 3 }).setBackend(Backend.XLA).setDevices(ids.map((i) => Device.cpu(i)));
      expect([ids, maxRel(valuesOf(s.run()), one) < 1e-5]).toEqual([ids, true]);
      expect(infoOf(s).device).toBe(ids.map((i) => `TFRT_CPU_${i} (cpu)`).join(', '));
    }
  });

  test('per-example outputs are gathered whole; inputs split along an explicit axis or replicated', () => {
    const b = new Builder('md_gather');
    b.start();
    const x = Tensor.input('x', [4, 6]);
    const w = Tensor.input('w', [6, 6]);
    const h = x.matmul(w).tanh();
    b.addOutput('h', h);
    b.addOutput('colsum', h.sum(0));
    b.addOutput('total', x.mul(x).sum());
    b.end();
    const s = b.build();
    const xs = detFloats(24, 3);
    const ws = detFloats(36, 4);
    s.addInput('x', Tensor.fromArray(xs, [4, 6])).addInput('w', Tensor.fromArray(ws, [6, 6]));
    // float64 reference
    const ref = { h: [] as number[], colsum: new Array(6).fill(0), total: [0] };
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 6; j++) {
        let a = 0;
        for (let k = 0; k < 6; k++) a += xs[i * 6 + k] * ws[k * 6 + j];
        ref.h.push(Math.tanh(a));
        ref.colsum[j] += Math.tanh(a);
      }
    for (const v of xs) ref.total[0] += v * v;
    s.setBackend(Backend.XLA);
    for (const [devs, split] of [
      [TWO, undefined],           // default: x and w both have a first dim divisible by 2 -> split
      [TWO, { x: 1 }],            // x split along its columns, w replicated
      [TWO, { x: 0, w: 1 }],     // w split along its columns
      [FOUR, { x: 0 }],
    ] as [Device[], Record<string, number> | undefined][]) {
      s.setDevices(devs, split ? { split } : {});
      const got = valuesOf(s.run());
      expect([devs.length, split, maxRel(got, ref) < 1e-5]).toEqual([devs.length, split, true]);
      expect(got.h.length).toBe(24);
    }
  });

  test('a batch that does not divide by the device count is replicated (same results); asking to split it is INVALID_ARGUMENT', () => {
    const opts = { batch: 6 };
    const one = valuesOf(mlpTrainScript(opts).setBackend(Backend.XLA).run());
    const s = mlpTrainScript(opts).setBackend(Backend.XLA).setDevices(FOUR);
    expect(maxRel(valuesOf(s.run()), one)).toBeLessThan(1e-5);
    s.setDevices(FOUR, { split: { x: 0 } });
    expect(codeOf(() => s.compile())).toBe('INVALID_ARGUMENT');
    s.setDevices(FOUR, { split: { x: 5 } });
    expect(codeOf(() => s.compile())).toBe('INVALID_ARGUMENT');
  });

  test('runAsync on 2 devices; repeated runs from the same variables are identical', async () => {
    const s = mlpTrainScript().setBackend(Backend.XLA).setDevices(TWO);
    // the script trains its parameters (variables): each run starts from where the last one ended,
    // so runs are compared from the same saved starting values
    const start = Object.entries(s.variables).map(([k, t]) => [k, Tensor.fromArray(t.toTypedArray().slice(), t.shape.slice(), t.dtype)] as const);
    const restore = (): void => {
      for (const [k, v] of start) s.variables[k].assign(v);
    };
    const a = valuesOf(await s.runAsync());
    restore();
    const b = valuesOf(s.run());
    expect(maxRel(a, b)).toBe(0);
    expect(s.stats().runs).toBe(2);
    // overlapping runs of one multi-device script (launches are serialized per client: no deadlock;
    // runs of a script that updates variables queue up) equal the same runs made one after another
    restore();
    const seq = [0, 1, 2, 3].map(() => valuesOf(s.run()));
    restore();
    const many = await Promise.all([0, 1, 2, 3].map(() => s.runAsync()));
    many.forEach((r, k) => expect(maxRel(valuesOf(r), seq[k])).toBe(0));
    expect(maxRel(seq[0], seq[3])).toBeGreaterThan(0); // the runs did train
  });

  test('multi-device executables go through the compile cache too', () => {
    const s1 = mlpTrainScript({ batch: 20 }).setBackend(Backend.XLA).setDevices(TWO).compile();
    expect(infoOf(s1).cache).toBe('miss');
    const s2 = mlpTrainScript({ batch: 20 }).setBackend(Backend.XLA).setDevices(TWO).compile();
    expect(infoOf(s2).cache).toBe('hit');
    expect(maxRel(valuesOf(s2.run()), valuesOf(s1.run()))).toBe(0);
    // the same program on 1 device is another entry
    expect(infoOf(mlpTrainScript({ batch: 20 }).setBackend(Backend.XLA).compile()).cache).toBe('miss');
  });

  test('guards reachable from a script: too many CPU devices, a one-device script on CPU device 1', () => {
    const s = mlpTrainScript().setBackend(Backend.XLA);
    s.setDevices([Device.cpu(0), Device.cpu(300)]);
    expect(codeOf(() => s.compile())).toBe('INVALID_ARGUMENT');
    s.setDevice(Device.cpu(1));
    expect(codeOf(() => s.compile())).toBe('DEVICE_UNAVAILABLE');
    s.setDevices(TWO);
    expect(s.run().loss.shape).toEqual([]);  // still usable
  });
});

// The launch guards under the public API (0-device client, fewer argument lists than devices, a
// buffer of another client or on the wrong device or of the wrong shape, launches after a failed
// one): the C++ driver checks that each is a HoduError with its code, raised before any launch.
(ready ? test : test.skip)('native launch guards (hodu_native_tests xla_md_) each raise a HoduError', () => {
  const build = path.join(__dirname, '..', 'build');
  expect(fs.existsSync(path.join(build, 'CMakeCache.txt'))).toBe(true);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const deps = require('../scripts/deps.js') as { ensureCmake(log?: (m: string) => void): string };
  execFileSync(deps.ensureCmake(), ['--build', build, '--target', 'hodu_native_tests', '--parallel', '2'], { stdio: 'pipe', maxBuffer: 64 << 20 });
  const exe = [path.join(build, 'hodu_native_tests'), path.join(build, 'Release', 'hodu_native_tests')].find((p) => fs.existsSync(p));
  expect(exe).toBeDefined();
  const out = execFileSync(exe!, ['xla_md_'], { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 300000, env: { ...process.env, HODU_PJRT_PLUGIN_CPU: plugin! } });
  expect(out).not.toMatch(/FAIL|SKIP/);
  expect(out).toMatch(/^5 passed, 0 failed$/m);
}, 30 * 60 * 1000);
