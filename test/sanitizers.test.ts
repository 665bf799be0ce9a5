// The sanitizer checks that fit in `npm test` (the full run is `npm run test:asan`):
//  - when the ASan+UBSan addon exists (build-asan/Release/hodu.node, from `npm run build:asan` or
//    `npm run test:asan`): the reliability reproducers in a Node with libasan preloaded, no report;
//  - when clang is there (scripts/install-clang.sh): the IR-decoder libFuzzer target (ASan+UBSan,
//    a few source files, ~2 min to build once) replays its seed corpus and fuzzes for 20 s, no crash;
//    so does the `.hoduscript` reader target (decode, validate, Plan::compile and one run: every
//    kernel and oneDNN, ~10 min to build once on 2 cores, then only changed sources are rebuilt).
// Each is skipped, with the reason printed, where its tool is missing.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');
const asanAddon = path.join(root, 'build-asan', 'Release', 'hodu.node');
const hasClang = spawnSync('clang++', ['--version']).status === 0;
const reports = (t: string): string[] =>
  t.split('\n').filter((l) => /ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer/.test(l));

(fs.existsSync(asanAddon) ? test : test.skip)('ASan+UBSan addon: the reproducers of R1-R5 run clean', () => {
  const libasan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  const libubsan = execFileSync('gcc', ['-print-file-name=libubsan.so'], { encoding: 'utf8' }).trim();
  const code = `
    const { Tensor, Builder } = require('./lib');
    const tryIt = (f) => { try { f(); } catch (e) { if (e.name !== 'HoduError') throw e; } };
    tryIt(() => Tensor.zeros([26563938, 0]).matmul(Tensor.zeros([0, 694428065361])));
    tryIt(() => Tensor.ones([1, 1, 1, 1]).conv2d(Tensor.ones([1, 1, 1, 1]), null, { padding: 2 ** 30 }));
    tryIt(() => Tensor.zeros([1]).broadcastTo([2 ** 40]).contiguous());
    tryIt(() => Tensor.zeros([0, 2 ** 40]).indexSelect(0, [0]));
    tryIt(() => Tensor.zeros([2, 0, 3]).reshape([0, 2 ** 40, 2 ** 40]));
    const b = new Builder('t'); b.start(); const x = Tensor.input('x', [1 << 16]); b.addOutput('y', x.mul(2).add(1)); b.end();
    const s = b.build();
    (async () => {
      for (let i = 0; i < 10; i++) {
        const inp = Tensor.ones([1 << 16]); s.addInput('x', inp); const p = s.runAsync();
        const buf = inp.toTypedArray().buffer; structuredClone(buf, { transfer: [buf] }); global.gc();
        const y = (await p).y.toTypedArray(); if (y.some((v) => v !== 3)) throw new Error('wrong value');
      }
      console.log('DONE');
    })();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300000,
    env: { ...process.env, LD_PRELOAD: `${libasan} ${libubsan}`, ASAN_OPTIONS: 'detect_leaks=0:allocator_may_return_null=1',
      UBSAN_OPTIONS: 'print_stacktrace=1', HODU_ADDON: asanAddon },
  });
  const out = `${r.stdout}${r.stderr}`;
  expect(reports(out)).toEqual([]);
  expect(out).toMatch(/DONE/);
}, 600000);

(hasClang ? test : test.skip)('libFuzzer IR decoder (ASan+UBSan): seeds and 20 s of mutants, no crash', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'fuzz.js'), '--only', 'ir_decode', '--seconds', '20', '--jobs', '2'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 900000,
  });
  const out = `${r.stdout}${r.stderr}`;
  expect(reports(out)).toEqual([]);
  expect(out).toMatch(/"ok":true/);
  expect(r.status).toBe(0);
}, 960000);

(hasClang ? test : test.skip)('libFuzzer .hoduscript reader (ASan+UBSan): seeds and 20 s of mutants, no crash', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'fuzz.js'), '--only', 'script_file', '--seconds', '20', '--jobs', '2'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 1800000,
  });
  const out = `${r.stdout}${r.stderr}`;
  expect(reports(out)).toEqual([]);
  expect(out).toMatch(/"ok":true/);
  expect(r.status).toBe(0);
}, 1860000);

if (!fs.existsSync(asanAddon)) console.log(`sanitizers: ${asanAddon} not built (npm run build:asan): the ASan reproducer run is skipped`);
if (!hasClang) console.log('sanitizers: no clang++ (scripts/install-clang.sh): the libFuzzer short runs (ir_decode, script_file) are skipped');
