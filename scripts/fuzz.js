#!/usr/bin/env node
// libFuzzer targets (fuzz/*.cc) and the JS fuzzers (test/fuzz/*.ts), built and run for N seconds each.
//
//   node scripts/fuzz.js [--seconds N] [--only NAME] [--jobs J] [--build-only]
//
// Native targets are built with clang (scripts/install-clang.sh installs it from Debian) under
// libFuzzer + ASan + UBSan into build-fuzz/ (ignored), one object per source, rebuilt when a source
// or header changes. Seed corpora are real scripts (build-fuzz/seeds/*), written with the built
// package (dist/). Each run appends a line to build-fuzz/results.jsonl: target, seconds, executions,
// corpus size, outcome. A crash leaves libFuzzer's reproducer in build-fuzz/crashes/ and a non-zero exit.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync, spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build-fuzz');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const seconds = Number(opt('--seconds', '60'));
const only = opt('--only', null);
const jobs = Number(opt('--jobs', '2'));
const log = (m) => process.stderr.write(`[fuzz] ${m}\n`);

const onednn = path.join(root, '.cache', 'onednn-3.2.0');
const TARGETS = {
  ir_decode: {
    main: 'fuzz/ir_decode_fuzzer.cc',
    sources: ['native/core', 'native/ops', 'native/ir', 'native/xla/stablehlo_emitter.cc'],
    seeds: 'ir',
    dnnl: false,
  },
  script_file: {
    main: 'fuzz/script_file_fuzzer.cc',
    sources: ['native/core', 'native/ops', 'native/ir', 'native/kernels', 'native/hodu'],
    seeds: 'scripts',
    dnnl: true,
  },
};
const JS_TARGETS = { api: 'test/fuzz/api-fuzz.ts', script_file_js: 'test/fuzz/script-file-fuzz.ts', onnx: 'test/fuzz/onnx-fuzz.ts' };

function ccFiles(entries) {
  const r = [];
  for (const e of entries) {
    const p = path.join(root, e);
    if (p.endsWith('.cc')) r.push(p);
    else for (const f of fs.readdirSync(p)) if (f.endsWith('.cc')) r.push(path.join(p, f));
  }
  return r;
}

function newestHeader(dir) {
  let m = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) m = Math.max(m, newestHeader(p));
    else if (/\.(h|def)$/.test(e.name)) m = Math.max(m, fs.statSync(p).mtimeMs);
  }
  return m;
}

async function compileAll(files, flags) {
  const hdr = newestHeader(path.join(root, 'native'));
  const objs = [];
  const todo = [];
  for (const f of files) {
    const o = path.join(out, 'obj', path.relative(root, f).replace(/[\\/]/g, '_') + '.o');
    objs.push(o);
    const om = fs.existsSync(o) ? fs.statSync(o).mtimeMs : 0;
    if (om < fs.statSync(f).mtimeMs || om < hdr) todo.push([f, o]);
  }
  fs.mkdirSync(path.join(out, 'obj'), { recursive: true });
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (next < todo.length && !failed) {
      const [f, o] = todo[next++];
      log(`clang++ ${path.relative(root, f)}`);
      await new Promise((resolve) => {
        const p = spawn('clang++', [...flags, '-c', f, '-o', o], { stdio: 'inherit', cwd: root });
        p.on('exit', (code) => {
          if (code !== 0) failed = f;
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  if (failed) throw new Error(`compiling ${failed} failed`);
  return objs;
}

async function build(name) {
  const t = TARGETS[name];
  const flags = ['-std=c++17', '-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=fuzzer-no-link,address,undefined',
    '-fno-sanitize-recover=undefined', '-fopenmp', '-I', path.join(root, 'native'), '-isystem', path.join(onednn, 'include'),
    '-DHODU_FUZZ=1', '-w'];
  const objs = await compileAll([...ccFiles(t.sources), path.join(root, t.main)], flags);
  const exe = path.join(out, `${name}_fuzzer`);
  const link = ['-fsanitize=fuzzer,address,undefined', '-fopenmp', ...objs, '-o', exe, '-ldl', '-lpthread'];
  if (t.dnnl) link.push('-L', path.join(onednn, 'lib'), '-ldnnl', `-Wl,-rpath,${path.join(onednn, 'lib')}`);
  log(`linking ${path.relative(root, exe)}`);
  const r = spawnSync('clang++', link, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) throw new Error(`linking ${name} failed`);
  return exe;
}

// Seeds: real scripts made with the built package.
function writeSeeds() {
  const dir = path.join(out, 'seeds');
  if (fs.existsSync(path.join(dir, '.done'))) return dir;
  fs.mkdirSync(path.join(dir, 'ir'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  const r = spawnSync(process.execPath, [path.join(root, 'test', 'fuzz', 'make-seeds.js'), dir], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) throw new Error('writing the seed corpus failed');
  fs.writeFileSync(path.join(dir, '.done'), '');
  return dir;
}

function record(entry) {
  fs.mkdirSync(out, { recursive: true });
  fs.appendFileSync(path.join(out, 'results.jsonl'), JSON.stringify({ at: new Date().toISOString(), ...entry }) + '\n');
  log(JSON.stringify(entry));
}

function runNative(name, exe, seeds) {
  const corpus = path.join(out, 'corpus', name);
  const crashes = path.join(out, 'crashes') + path.sep;
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(crashes, { recursive: true });
  const r = spawnSync(exe, [`-max_total_time=${seconds}`, '-print_final_stats=1', '-rss_limit_mb=3072', '-timeout=60',
    '-max_len=1048576', `-artifact_prefix=${crashes}`, corpus, path.join(seeds, TARGETS[name].seeds)], {
    cwd: root, encoding: 'utf8', maxBuffer: 1 << 28,
    env: { ...process.env, ASAN_OPTIONS: 'allocator_may_return_null=1:detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1', OMP_NUM_THREADS: '1' },
  });
  const text = `${r.stdout}${r.stderr}`;
  const stat = (k) => Number((text.match(new RegExp(`stat::${k}:\\s*(\\d+)`)) || [])[1] || 0);
  const entry = { target: name, kind: 'libFuzzer', seconds, executions: stat('number_of_executed_units'),
    corpus: fs.readdirSync(corpus).length, exit: r.status, ok: r.status === 0 };
  if (!entry.ok) fs.writeFileSync(path.join(out, `${name}.log`), text.slice(-200000));
  record(entry);
  return entry.ok;
}

function runJs(name, file) {
  const seed = Number(opt('--seed', String(Date.now() % 2 ** 31)));
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(root, file), String(seconds), String(seed)], {
    cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, PJRT_NPROC: '1' },
  });
  const last = `${r.stdout}`.trim().split('\n').pop() || '{}';
  let stats = {};
  try {
    stats = JSON.parse(last);
  } catch {
    stats = { raw: last.slice(0, 500) };
  }
  const entry = { target: name, kind: 'js', seconds, seed, ...stats, exit: r.status, signal: r.signal, ok: r.status === 0 };
  if (!entry.ok) fs.writeFileSync(path.join(out, `${name}.log`), `${r.stdout}${r.stderr}`.slice(-200000));
  record(entry);
  return entry.ok;
}

async function main() {
  let ok = true;
  const names = only ? [only] : [...Object.keys(TARGETS), ...Object.keys(JS_TARGETS)];
  const seeds = writeSeeds();
  for (const n of names) {
    if (TARGETS[n]) {
      const exe = await build(n);
      if (!argv.includes('--build-only')) ok = runNative(n, exe, seeds) && ok;
    } else if (JS_TARGETS[n]) {
      if (!argv.includes('--build-only')) ok = runJs(n, JS_TARGETS[n]) && ok;
    } else throw new Error(`unknown target ${n}`);
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  log(e.message);
  process.exit(2);
});
