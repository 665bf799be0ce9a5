// The OpenMP wait policy hodu sets before loading the addon (lib/native.ts tuneOpenMp): a bounded
// spin unless the user chose one. Checked in a child process, since libgomp reads it once at load.
import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..');

function spinAfterLoad(env: Record<string, string>): string {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'GOMP_SPINCOUNT' && k !== 'OMP_WAIT_POLICY') clean[k] = v;
  return execFileSync(process.execPath, ['-e', "require('./dist'); console.log(String(process.env.GOMP_SPINCOUNT))"], {
    cwd: root,
    env: { ...clean, ...env },
    encoding: 'utf8',
  }).trim();
}

describe('OpenMP wait policy', () => {
  test('a bounded spin by default', () => {
    expect(spinAfterLoad({})).toBe('5000');
  });
  test("the user's GOMP_SPINCOUNT or OMP_WAIT_POLICY wins", () => {
    expect(spinAfterLoad({ GOMP_SPINCOUNT: '7' })).toBe('7');
    expect(spinAfterLoad({ OMP_WAIT_POLICY: 'passive' })).toBe('undefined');
  });
});

describe('script outputs reuse memory', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Builder, Tensor } = require('../lib');
  test('a disposed output returns its memory to the next run, and results stay right', () => {
    const b = new Builder('pool');
    b.start();
    const x = Tensor.input('x', [1000]);
    b.addOutput('y', x.mul(2).add(1));
    b.end();
    const s = b.build();
    for (let k = 0; k < 5; k++) {
      const xs = Array.from({ length: 1000 }, (_, i) => i * 0.5 + k);
      const y = s.addInput('x', Tensor.fromArray(xs)).run().y;
      const got = y.toTypedArray() as Float32Array;
      xs.forEach((v, i) => expect(got[i]).toBe(Math.fround(v * 2 + 1)));
      y.dispose();
      expect(got.length).toBe(0); // detached: the block now serves the next run
    }
  });
});

describe('HODU_THREADS=one', () => {
  // Runs capped at one thread use each conv's one-thread twin (oneDNN's conv kernels fix their
  // thread count when made): the results must be those of the default plan, checked against a
  // float64 reference in the child.
  test('a conv-relu-conv-pool script run on one thread matches the float64 reference', () => {
    const child = `
      const { Builder, Tensor } = require('./dist');
      let seed = 7;
      const rnd = (n, scale) => Float32Array.from({ length: n }, () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return (seed / 2 ** 32 - 0.5) * scale; });
      const N = 8, S = 16; // big enough that each conv is made for all threads, with a one-thread twin
      const x = rnd(N * 8 * S * S, 2), w1 = rnd(16 * 8 * 9, 0.5), w2 = rnd(32 * 16 * 9, 0.3);
      const b = new Builder('one'); b.start();
      const xi = Tensor.input('x', [N, 8, S, S]);
      const W1 = Tensor.fromArray(w1, [16, 8, 3, 3]), W2 = Tensor.fromArray(w2, [32, 16, 3, 3]);
      b.addOutput('y', xi.conv2d(W1, null).relu().conv2d(W2, null).maxPool2d({ kernel: 2 }));
      b.end();
      const s = b.build(); s.addInput('x', Tensor.fromArray(x, [N, 8, S, S]));
      let y; for (let i = 0; i < 12; i++) y = s.run().y;
      // float64 reference
      const conv = (inp, C, H, W, wt, O) => { const OH = H - 2, OW = W - 2, out = new Float64Array(N * O * OH * OW);
        for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
          let acc = 0; for (let c = 0; c < C; c++) for (let p = 0; p < 3; p++) for (let q = 0; q < 3; q++)
            acc += inp[((n * C + c) * H + i + p) * W + j + q] * wt[((o * C + c) * 3 + p) * 3 + q];
          out[((n * O + o) * OH + i) * OW + j] = acc; } return out; };
      const h1 = conv(x, 8, S, S, w1, 16).map((v) => Math.max(v, 0));
      const h2 = conv(h1, 16, S - 2, S - 2, w2, 32);
      const P = (S - 4) / 2, Q = S - 4;
      const got = y.toTypedArray(); let worst = 0;
      for (let n = 0; n < N; n++) for (let o = 0; o < 32; o++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
        let m = -Infinity; for (let p = 0; p < 2; p++) for (let q = 0; q < 2; q++) m = Math.max(m, h2[((n * 32 + o) * Q + 2 * i + p) * Q + 2 * j + q]);
        worst = Math.max(worst, Math.abs(got[((n * 32 + o) * P + i) * P + j] - m) / (1 + Math.abs(m)));
      }
      console.log(JSON.stringify({ threads: s.planInfo().threads, worst, n: got.length }));
    `;
    const out = execFileSync(process.execPath, ['-e', child], {
      cwd: root,
      env: { ...process.env, HODU_THREADS: 'one' },
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.threads).toBe('one');
    expect(r.n).toBe(8 * 32 * 6 * 6);
    expect(r.worst).toBeLessThan(1e-4);
  });
});
