// The thread mode of a plan is decided at compile time (native/hodu/thread_policy.h): one thread for
// a plan whose every step is small, all threads otherwise; HODU_THREADS=all|one overrides it. These
// tests check results only (never timings): the same scripts run in child processes under each
// mode must match a float64 reference computed here, and planInfo().threads must say which mode
// the runs use. A child process per mode, since HODU_THREADS is read once per process.
import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..');

// Runs in the child: three scripts (a tiny add, a 96x200x160 matmul + bias + relu, a small CNN
// forward) five times each, then prints their modes and last results.
const child = `
  const { Builder, Tensor } = require('./dist');
  let seed = 99;
  const rnd = (n, s) => Float32Array.from({ length: n }, () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed / 2 ** 32 - 0.5) * s; });
  const out = {};
  const build = (name, shapes, f) => { const b = new Builder(name); b.start(); const ins = shapes.map(([k, s]) => Tensor.input(k, s)); b.addOutput('y', f(...ins)); b.end(); return b.build(); };
  const runIt = (name, s, inputs) => { for (const [k, v] of Object.entries(inputs)) s.addInput(k, v); let y; for (let i = 0; i < 5; i++) y = s.run().y; out[name] = { mode: s.planInfo().threads, y: Array.from(y.toTypedArray()) }; };
  // tiny: one add of 4 floats
  const a4 = rnd(4, 2), b4 = rnd(4, 2);
  runIt('tiny', build('tiny', [['a', [4]], ['b', [4]]], (a, b) => a.add(b)), { a: Tensor.fromArray(a4), b: Tensor.fromArray(b4) });
  // linear: relu(x w + bias), 96x200x160
  const x = rnd(96 * 200, 2), w = rnd(200 * 160, 0.2), bias = rnd(160, 1);
  runIt('linear', build('linear', [['x', [96, 200]]], (xi) => xi.matmul(Tensor.fromArray(w, [200, 160])).add(Tensor.fromArray(bias, [160])).relu()), { x: Tensor.fromArray(x, [96, 200]) });
  // conv: relu(conv3x3(x, k)) then 2x2 max pool, N=8, 8->16 channels, 20x20
  const cx = rnd(8 * 8 * 20 * 20, 2), ck = rnd(16 * 8 * 9, 0.5);
  runIt('conv', build('conv', [['x', [8, 8, 20, 20]]], (xi) => xi.conv2d(Tensor.fromArray(ck, [16, 8, 3, 3]), null).relu().maxPool2d({ kernel: 2 })), { x: Tensor.fromArray(cx, [8, 8, 20, 20]) });
  console.log(JSON.stringify({ out, a4: Array.from(a4), b4: Array.from(b4), x: Array.from(x), w: Array.from(w), bias: Array.from(bias), cx: Array.from(cx), ck: Array.from(ck) }));
`;

interface ChildOut {
  out: Record<string, { mode: string; y: number[] }>;
  a4: number[]; b4: number[]; x: number[]; w: number[]; bias: number[]; cx: number[]; ck: number[];
}

function runChild(mode: string | undefined): ChildOut {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'HODU_THREADS') env[k] = v;
  if (mode) env.HODU_THREADS = mode;
  const s = execFileSync(process.execPath, ['-e', child], { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(s.trim().split('\n').pop()!);
}

function references(c: ChildOut): Record<string, number[]> {
  const tiny = c.a4.map((v, i) => Math.fround(v + c.b4[i]));
  const linear: number[] = [];
  for (let i = 0; i < 96; i++)
    for (let j = 0; j < 160; j++) {
      let s = c.bias[j];
      for (let p = 0; p < 200; p++) s += c.x[i * 200 + p] * c.w[p * 160 + j];
      linear.push(Math.max(0, s));
    }
  const conv: number[] = [];
  const H = 20, P = 9;
  const at = (n: number, o: number, i: number, j: number) => {
    let s = 0;
    for (let ch = 0; ch < 8; ch++)
      for (let p = 0; p < 3; p++)
        for (let q = 0; q < 3; q++) s += c.cx[((n * 8 + ch) * H + i + p) * H + j + q] * c.ck[((o * 8 + ch) * 3 + p) * 3 + q];
    return Math.max(0, s);
  };
  for (let n = 0; n < 8; n++)
    for (let o = 0; o < 16; o++)
      for (let i = 0; i < P; i++)
        for (let j = 0; j < P; j++) conv.push(Math.max(at(n, o, 2 * i, 2 * j), at(n, o, 2 * i, 2 * j + 1), at(n, o, 2 * i + 1, 2 * j), at(n, o, 2 * i + 1, 2 * j + 1)));
  return { tiny, linear, conv };
}

function worst(got: number[], want: number[]): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  return w;
}

describe('thread modes', () => {
  const runs: Record<string, ChildOut> = {};
  beforeAll(() => {
    for (const m of ['default', 'all', 'one']) runs[m] = runChild(m === 'default' ? undefined : m);
  });

  test.each(['default', 'all', 'one'])('HODU_THREADS=%s: every script matches the float64 reference', (m) => {
    const c = runs[m];
    const ref = references(c);
    expect(worst(c.out.tiny.y, ref.tiny)).toBe(0);
    expect(worst(c.out.linear.y, ref.linear)).toBeLessThan(1e-5);
    expect(worst(c.out.conv.y, ref.conv)).toBeLessThan(1e-5);
  });

  test('planInfo().threads: one for a tiny plan, all for a bigger one, and what HODU_THREADS forces', () => {
    // A plan is "one" only when no step would use more than one thread; the matmul moves ~250 KB
    // and computes ~6 MFLOP, the conv ~6 MFLOP: both above the one-thread size.
    const cpus = require('os').cpus().length as number;
    expect(runs.default.out.tiny.mode).toBe(cpus > 1 ? 'one' : 'all');
    expect(runs.default.out.linear.mode).toBe('all');
    expect(runs.default.out.conv.mode).toBe('all');
    for (const k of ['tiny', 'linear', 'conv']) {
      expect(runs.all.out[k].mode).toBe('all');
      expect(runs.one.out[k].mode).toBe('one');
    }
  });
});
