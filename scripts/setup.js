#!/usr/bin/env node
// Idempotent set-up for a fresh clone: npm deps, cmake, oneDNN 3.2 (pinned wheels), the native
// addon, and the TypeScript build. Every step checks first and does nothing when already done.
//
//   node scripts/setup.js               everything
//   node scripts/setup.js --native-only  cmake + oneDNN + native build (used by `npm install`)
//   node scripts/setup.js --asan         native build with AddressSanitizer into build-asan/
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const deps = require('./deps');

const root = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const log = (msg) => process.stderr.write(`[hodu setup] ${msg}\n`);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed with exit code ${r.status}`);
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
  if (mtime(stamp) >= mtime(path.join(root, 'package-lock.json')) && fs.existsSync(path.join(root, 'node_modules', 'cmake-js'))) return;
  log('installing npm dependencies (npm ci)');
  // --ignore-scripts: our own install script would recurse into this file; we build below.
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
}

function ensureTs() {
  const out = path.join(root, 'dist', 'index.js');
  const src = Math.max(newestMtime(path.join(root, 'lib')), mtime(path.join(root, 'tsconfig.json')));
  if (mtime(out) >= src) return;
  log('compiling TypeScript (tsc)');
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}

function nativeStale(buildDir) {
  const out = path.join(root, buildDir, 'Release', 'hodu.node');
  const src = Math.max(newestMtime(path.join(root, 'native')), mtime(path.join(root, 'CMakeLists.txt')));
  return mtime(out) < src;
}

function buildNative({ asan = false } = {}) {
  const buildDir = asan ? 'build-asan' : 'build';
  if (!nativeStale(buildDir)) return;
  const cmake = deps.ensureCmake(log);
  const onednn = deps.ensureOneDnn(log);
  const pjrt = deps.ensurePjrtHeader ? deps.ensurePjrtHeader(log) : null;
  log(`building the native addon${asan ? ' with AddressSanitizer' : ''} (cmake-js)`);
  const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const defs = [`--CDHODU_ONEDNN_DIR=${onednn}`, '--CDCMAKE_BUILD_TYPE=Release'];
  if (pjrt) defs.push(`--CDHODU_PJRT_INCLUDE=${pjrt}`);
  if (asan) defs.push('--CDHODU_ASAN=ON');
  const jobs = String(Math.max(1, require('os').cpus().length));
  run(process.execPath, [cmakeJs, 'compile', '-O', buildDir, '--prefer-make', '-c', cmake, '--parallel', jobs, ...defs], {
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs },
  });
}

function main() {
  if (args.has('--native-only')) {
    // Called from `npm install` of a clone: dependencies are already being installed by npm.
    buildNative();
    return;
  }
  ensureNpmDeps();
  buildNative({ asan: args.has('--asan') });
  ensureTs();
}

try {
  main();
} catch (e) {
  log(`failed: ${e.message}`);
  process.exit(1);
}
