// hodu outside plain Node's main context: under Bun (the `bun` npm package, from bench/node_modules, installed by
// `npm test`'s set-up), and in a second V8 context of one Node process (node:vm, as Electron's isolated worlds and
// jest's own test realm are). worker_threads are covered by test/workers.test.ts.
//
// Each runs the same script: a 16x24 @ 24x8 matmul in dynamic mode and a compiled script (matmul + bias + relu, run
// twice with new inputs), checked against float64 loops written in the script.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist', 'index.js');

// Plain JavaScript run by every runtime; `hodu` and the typed-array constructors come from the runtime's own context.
const SCRIPT = String.raw`
const m = 16, k = 24, n = 8;
const mk = (len, s) => { const a = new Float32Array(len); for (let i = 0; i < len; i++) a[i] = (((i * s) % 17) - 8) / 8; return a; };
const ref = (a, b, bias, relu) => {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = bias ? bias[j] : 0;
    for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
    out[i * n + j] = relu ? Math.max(0, s) : s;
  }
  return out;
};
const maxErr = (got, want) => { let e = 0; for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i])); return e; };
const res = {};
const a = mk(m * k, 5), b = mk(k * n, 7), bias = mk(n, 3);
const c = hodu.Tensor.fromArray(a, [m, k]).matmul(hodu.Tensor.fromArray(b, [k, n]));
res.eagerTag = Object.prototype.toString.call(c.toTypedArray());
res.eagerErr = maxErr(c.toTypedArray(), ref(a, b, null, false));
const bld = new hodu.Builder('runtime_smoke');
bld.start();
const x = hodu.Tensor.input('x', [m, k]);
const w = hodu.Tensor.fromArray(b, [k, n]);
const bb = hodu.Tensor.fromArray(bias, [n]);
bld.addOutput('y', x.matmul(w).add(bb).relu());
bld.end();
const script = bld.build();
res.scriptErr = [];
for (const s of [11, 13]) {
  const xs = mk(m * k, s);
  script.addInput('x', hodu.Tensor.fromArray(xs, [m, k]));
  res.scriptErr.push(maxErr(script.run()['y'].toTypedArray(), ref(xs, b, bias, true)));
}
res.onednn = hodu.versions().onednn;
`;

function expectResult(res: { eagerTag: string; eagerErr: number; scriptErr: number[]; onednn: string }): void {
  expect(res.eagerTag).toBe('[object Float32Array]');
  expect(res.eagerErr).toBeLessThan(1e-4);
  expect(res.scriptErr).toHaveLength(2);
  for (const e of res.scriptErr) expect(e).toBeLessThan(1e-4);
  expect(res.onednn).toBe('3.2.0');
}

function bunBinary(): string | null {
  for (const dir of [path.join(root, 'bench', 'node_modules'), path.join(root, 'node_modules')]) {
    for (const pkg of ['bun-linux-x64', 'bun-linux-x64-baseline']) {
      const p = path.join(dir, '@oven', pkg, 'bin', 'bun');
      if (fs.existsSync(p) && spawnSync(p, ['--version']).status === 0) return p;
    }
  }
  return null;
}

beforeAll(() => {
  if (!fs.existsSync(dist)) throw new Error('dist/ is missing: run `npm run build` first');
});

const bun = process.platform === 'linux' && process.arch === 'x64' ? bunBinary() : null;
(bun ? describe : describe.skip)(`Bun (${bun ?? 'not installed: node scripts/setup.js --bench-deps'})`, () => {
  test('loads the addon through N-API and runs eager ops and a compiled script correctly', () => {
    const code = `const hodu = require(${JSON.stringify(dist)});\n${SCRIPT}\nconsole.log(JSON.stringify(res));`;
    const r = spawnSync(bun as string, ['-e', code], { encoding: 'utf8', timeout: 120000, env: { ...process.env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const version = spawnSync(bun as string, ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expectResult(JSON.parse(r.stdout.trim().split('\n').pop() as string));
  });
});

describe('a second V8 context (node:vm)', () => {
  test('hodu loaded in the main context, used from a new context with its own typed arrays', () => {
    // In a child: the addon is loaded once, in the main context; the script runs in a fresh context whose Float32Array
    // is not the main context's (cross-realm inputs, as from an Electron isolated world).
    const child = String.raw`
const vm = require('vm');
const hodu = require(${JSON.stringify(dist)});
const ctx = vm.createContext({ hodu });
vm.runInContext(${JSON.stringify(SCRIPT)}, ctx);
process.stdout.write(JSON.stringify({ res: vm.runInContext('res', ctx), ownF32: vm.runInContext('Float32Array', ctx) !== Float32Array }));
`;
    const r = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8', timeout: 120000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ownF32).toBe(true); // the context really has its own built-ins
    expectResult(out.res);
  });

  test('in this (jest) process: a vm context given the already loaded module', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const hodu = require(dist);
    const ctx = vm.createContext({ hodu });
    vm.runInContext(SCRIPT, ctx);
    expectResult(vm.runInContext('res', ctx));
  });
});
