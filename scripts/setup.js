#!/usr/bin/env node
// Idempotent set-up for a fresh clone: npm deps, cmake, oneDNN 3.2 (pinned wheels), the XLA CPU plugin, the native
// addon, and the TypeScript build. Every step checks first and does nothing when already done, and prints one line.
// The output of the tools it runs (npm, pip, apt-get, cmake, the compiler) is shown only when a step fails, or always
// with --verbose (or HODU_VERBOSE=1).
//
//   node scripts/setup.js               everything
//   node scripts/setup.js --bench-deps  also the benchmark/reference packages in bench/ (npm test, npm run bench)
//   node scripts/setup.js --native-only  cmake + oneDNN + native build
//   node scripts/setup.js --asan         native build with AddressSanitizer into build-asan/
//   node scripts/setup.js --verbose      show every tool's output
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const deps = require('./deps');

const root = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const verbose = args.has('--verbose') || process.env.HODU_VERBOSE === '1';
deps.setQuiet(!verbose);
const say = (msg) => process.stderr.write(`[hodu setup] ${msg}\n`);
// Details from deps.js ("downloading ..."): shown with --verbose only; the step line says what happened.
const detail = (msg) => { if (verbose) say(`  ${msg}`); };
const secs = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** Runs a tool; its output is shown live with --verbose, else kept and printed only if it fails. Returns the output. */
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, {
    cwd: root, maxBuffer: 256 << 20, encoding: 'utf8', ...opts, stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw r.error;
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.status !== 0) {
    if (!verbose) process.stderr.write(out.endsWith('\n') || !out ? out : `${out}\n`);
    throw new Error(`${path.basename(cmd)} ${argv.join(' ')} failed with exit code ${r.status}`);
  }
  return out;
}

function newestMtime(p) {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}
const mtime = (p) => (fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0);

function ensureNpmDeps() {
  const stamp = path.join(root, 'node_modules', '.package-lock.json');
  if (mtime(stamp) >= mtime(path.join(root, 'package-lock.json')) && fs.existsSync(path.join(root, 'node_modules', 'cmake-js'))) {
    say('npm deps: up to date');
    return;
  }
  const t0 = Date.now();
  // --ignore-scripts: no dependency of the clone needs its install script (the native build is done below).
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
  say(`npm deps: installed with npm ci (${secs(t0)})`);
}

/** bench/package.json: onnxruntime-node, tfjs (benchmarks, reference tests) and bun (runtime smoke test). */
function ensureBenchDeps() {
  const dir = path.join(root, 'bench');
  const lock = path.join(dir, 'package-lock.json');
  const stamp = path.join(dir, 'node_modules', '.package-lock.json');
  const names = Object.keys(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).dependencies || {});
  const present = names.every((n) => fs.existsSync(path.join(dir, 'node_modules', n, 'package.json')));
  if (!(present && mtime(stamp) >= mtime(lock))) {
    const t0 = Date.now();
    // --ignore-scripts: onnxruntime-node's CPU binaries are in its npm tarball (its script only fetches GPU extras),
    // and bun's binary comes from its platform package (@oven/bun-linux-x64), so nothing reaches past the registry.
    run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir });
    say(`bench deps (${names.join(', ')}): installed in bench/node_modules (${secs(t0)})`);
  } else {
    say('bench deps: up to date');
  }
  // bench/ has its own package.json, so `import 'hodu'` there cannot self-reference the root package: link it.
  const link = path.join(dir, 'node_modules', 'hodu');
  if (!fs.existsSync(link)) {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.join('..', '..'), link, 'dir');
  }
}

function ensureTs() {
  const out = path.join(root, 'dist', 'index.js');
  const src = Math.max(newestMtime(path.join(root, 'lib')), mtime(path.join(root, 'tsconfig.json')));
  if (mtime(out) >= src) {
    say('TypeScript: up to date (dist/)');
    return;
  }
  const t0 = Date.now();
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  say(`TypeScript: compiled into dist/ (${secs(t0)})`);
}

function nativeStale(buildDir) {
  const out = path.join(root, buildDir, 'Release', 'hodu.node');
  const src = Math.max(newestMtime(path.join(root, 'native')), mtime(path.join(root, 'CMakeLists.txt')));
  return mtime(out) < src;
}

function buildNative({ asan = false } = {}) {
  const buildDir = asan ? 'build-asan' : 'build';
  if (!nativeStale(buildDir)) {
    say(`native build: up to date (${buildDir}/Release/hodu.node)`);
    return;
  }
  let t0 = Date.now();
  const cmake = deps.ensureCmake(detail);
  say(`cmake: ${path.relative(root, cmake).startsWith('..') ? cmake : path.relative(root, cmake)} (${secs(t0)})`);
  t0 = Date.now();
  const onednn = deps.ensureOneDnn(detail);
  say(`oneDNN 3.2: ${path.relative(root, onednn) || onednn} (${secs(t0)})`);
  t0 = Date.now();
  const pjrt = deps.ensurePjrtHeader ? deps.ensurePjrtHeader(detail) : null;
  say(pjrt ? `XLA CPU plugin and pjrt_c_api.h: ${path.relative(root, path.dirname(pjrt))} (${secs(t0)})`
    : 'XLA CPU plugin: not available, building without XLA support (--verbose says why)');
  t0 = Date.now();
  const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const defs = [`--CDHODU_ONEDNN_DIR=${onednn}`, '--CDCMAKE_BUILD_TYPE=Release'];
  if (pjrt) defs.push(`--CDHODU_PJRT_INCLUDE=${pjrt}`);
  if (asan) defs.push('--CDHODU_ASAN=ON');
  const jobs = String(Math.max(1, require('os').cpus().length));
  say(`native build: compiling ${buildDir}/Release/hodu.node${asan ? ' with AddressSanitizer' : ''} (cmake-js, ${jobs} jobs; a first build takes minutes)`);
  const out = run(process.execPath, [cmakeJs, 'compile', '-O', buildDir, '--prefer-make', '-c', cmake, '--parallel', jobs, ...defs], {
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs },
  });
  const warnings = (out.match(/\bwarning:/g) || []).length;
  say(`native build: done (${secs(t0)})${warnings ? `, ${warnings} compiler warning(s): run with --verbose to see them` : ''}`);
}

function main() {
  if (args.has('--native-only')) {
    buildNative();
    return;
  }
  ensureNpmDeps();
  buildNative({ asan: args.has('--asan') });
  ensureTs();
  if (args.has('--bench-deps')) ensureBenchDeps();
}

try {
  main();
} catch (e) {
  say(`failed: ${e.message}${verbose ? '' : ' (run `node scripts/setup.js --verbose` for every tool\'s output)'}`);
  process.exit(1);
}
