#!/usr/bin/env node
// Fills the platform package npm/linux-x64-gnu/ (published as @hodu/linux-x64-gnu, an optional dependency of hodu):
//
//   npm/linux-x64-gnu/hodu.node      stripped, RUNPATH exactly $ORIGIN
//   npm/linux-x64-gnu/libdnnl.so.3   oneDNN 3.2 (gomp build, Apache-2.0), copied from the pinned wheel
//   npm/linux-x64-gnu/libgomp.so.1   GNU OpenMP runtime (GCC runtime library exception)
//
// lib/load-addon.ts resolves the installed package and loads its hodu.node (package.json and LICENSES.md there are
// committed; the three binaries are ignored by git). hodu.node NEEDs libdnnl.so.3 and libgomp.so.1 and finds both through
// $ORIGIN. libdnnl.so.3 has no RUNPATH of its own; its NEEDED libgomp.so.1 is satisfied by the copy that
// the loader already mapped for hodu.node (same SONAME), which the final load check below verifies.
//
// Built with cmake-js into build-prebuild/ with -DHODU_PREBUILD=ON (CMakeLists.txt), so the development
// build in build/ is never touched. Idempotent: a fingerprint of the sources, the oneDNN prefix, the
// compiler and this script is kept in build-prebuild/prebuild-stamp.json; when it matches and the outputs
// are intact, the script only re-checks them (about 0.1 s). Options:
//   --force          rebuild even when up to date
//   --quiet          less output
//   --onednn-prefix  only print the oneDNN prefix (fetching it first; fetch output goes to stderr), for binding.gyp
//   --pjrt-include   only print the folder holding pjrt_c_api.h, or nothing when XLA support is unavailable (ditto)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const log = (msg) => process.stderr.write(`[hodu prebuild] ${msg}\n`);
const info = (msg) => { if (!quiet) log(msg); };

const TUPLE = 'linux-x64-gnu';
const buildDir = path.join(root, 'build-prebuild');
const outDir = path.join(root, 'npm', TUPLE);
const stampFile = path.join(buildDir, 'prebuild-stamp.json');
const lockDir = path.join(buildDir, '.lock');
const LIBS = ['libdnnl.so.3', 'libgomp.so.1'];

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}
function must(cmd, argv, opts = {}) {
  const r = sh(cmd, argv, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status}\n${r.stderr || ''}`);
  return r.stdout;
}
const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Dynamic section facts of an ELF file, from readelf -d. */
function dynamic(file) {
  const out = must('readelf', ['-d', '-W', file]);
  const pick = (tag) => [...out.matchAll(new RegExp(`\\(${tag}\\)\\s+[^\\[]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
  return { needed: pick('NEEDED'), runpath: pick('RUNPATH'), rpath: pick('RPATH'), soname: pick('SONAME')[0] || null };
}

function listFiles(dir, acc = []) {
  if (!fs.existsSync(dir)) return acc;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listFiles(p, acc);
    else if (e.isFile()) acc.push(p);
  }
  return acc;
}

function compiler() {
  return process.env.CXX || 'c++';
}

/** The libgomp.so.1 that the compiler links against (a real file, symlinks resolved: `cp -L`). */
function findLibgomp() {
  const r = sh(compiler(), ['-print-file-name=libgomp.so.1']);
  const p = (r.stdout || '').trim();
  if (r.status === 0 && path.isAbsolute(p) && fs.existsSync(p)) return fs.realpathSync(p);
  const l = sh('sh', ['-c', 'ldconfig -p | grep "libgomp.so.1 (libc6,x86-64)"']);
  const m = /=>\s*(\S+)/.exec(l.stdout || '');
  if (m && fs.existsSync(m[1])) return fs.realpathSync(m[1]);
  throw new Error('libgomp.so.1 not found (install gcc / libgomp1)');
}

function fingerprint(onednn, pjrt) {
  const h = crypto.createHash('sha256');
  const add = (label, data) => { h.update(label); h.update('\0'); h.update(data); h.update('\0'); };
  for (const f of listFiles(path.join(root, 'native'))) add(path.relative(root, f), fs.readFileSync(f));
  add('CMakeLists.txt', fs.readFileSync(path.join(root, 'CMakeLists.txt')));
  add('script', fs.readFileSync(__filename));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  add('binary', JSON.stringify(pkg.binary || null));
  add('onednn', onednn);
  const stamp = path.join(onednn, '.complete');
  add('onednn-stamp', fs.existsSync(stamp) ? fs.readFileSync(stamp) : String(fs.statSync(path.join(onednn, 'lib', 'libdnnl.so.3')).mtimeMs));
  add('pjrt', pjrt || '');
  add('cxx', sh(compiler(), ['--version']).stdout || '');
  add('libgomp', findLibgomp());
  return h.digest('hex');
}

/** Checks the finished folder; throws with a precise message when something is off. Returns the facts. */
function verify(dir) {
  const node = path.join(dir, 'hodu.node');
  for (const f of ['hodu.node', ...LIBS]) {
    const p = path.join(dir, f);
    if (!fs.existsSync(p) || fs.lstatSync(p).isSymbolicLink()) throw new Error(`${p}: missing or a symlink`);
  }
  const d = dynamic(node);
  if (d.rpath.length) throw new Error(`hodu.node has DT_RPATH ${d.rpath.join(',')} (expected only RUNPATH $ORIGIN)`);
  if (d.runpath.length !== 1 || d.runpath[0] !== '$ORIGIN') throw new Error(`hodu.node RUNPATH is [${d.runpath.join('|')}], expected exactly $ORIGIN`);
  for (const lib of LIBS) if (!d.needed.includes(lib)) throw new Error(`hodu.node does not NEED ${lib} (NEEDED: ${d.needed.join(', ')})`);
  const syms = must('readelf', ['-S', '-W', node]);
  if (/\.symtab\b/.test(syms) || /\.debug_/.test(syms)) throw new Error('hodu.node is not stripped');
  const dnnl = dynamic(path.join(dir, 'libdnnl.so.3'));
  if (dnnl.soname !== 'libdnnl.so.3') throw new Error(`libdnnl.so.3 has SONAME ${dnnl.soname}`);
  const gomp = dynamic(path.join(dir, 'libgomp.so.1'));
  if (gomp.soname !== 'libgomp.so.1') throw new Error(`libgomp.so.1 has SONAME ${gomp.soname}`);
  return { node: d, libdnnl: dnnl, libgomp: gomp };
}

/** Loads the prebuild in a clean child (no LD_LIBRARY_PATH) and checks where the loader took the libraries from. */
function loadCheck(dir) {
  const env = { ...process.env };
  for (const k of ['LD_LIBRARY_PATH', 'LD_PRELOAD', 'HODU_ONEDNN_DIR']) delete env[k];
  const code = `
const m = { exports: {} };
process.dlopen(m, ${JSON.stringify(path.join(dir, 'hodu.node'))});
const i = m.exports.info();
const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter(Boolean);
const libs = [...new Set(maps.filter((p) => /\\/(libdnnl|libgomp)[^/]*\\.so/.test(p)))];
process.stdout.write(JSON.stringify({ info: i, libs, ops: m.exports.opTable().length }));
`;
  const r = sh(process.execPath, ['-e', code], { env, cwd: os.tmpdir() });
  if (r.status !== 0) throw new Error(`loading the prebuild failed:\n${r.stderr}`);
  const res = JSON.parse(r.stdout);
  const want = LIBS.map((l) => path.join(fs.realpathSync(dir), l)).sort();
  const got = res.libs.map((p) => p.replace(/ \(deleted\)$/, '')).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`the prebuild loaded ${got.join(', ')}; expected exactly ${want.join(', ')}`);
  return res;
}

function acquireLock() {
  fs.mkdirSync(buildDir, { recursive: true });
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      return () => fs.rmSync(lockDir, { recursive: true, force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      // stale: its owner is gone, or (pid not written yet / unreadable) the lock is over a minute old
      let stale = false;
      let pid = 0;
      try { pid = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8')); } catch { /* not written yet */ }
      if (pid > 0) {
        try { process.kill(pid, 0); } catch (err) { stale = err.code === 'ESRCH'; }
      } else {
        try { stale = Date.now() - fs.statSync(lockDir).mtimeMs > 60000; } catch { stale = false; /* just released */ }
      }
      if (stale) { fs.rmSync(lockDir, { recursive: true, force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir} (another prebuild running?)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}

function readStamp() {
  try { return JSON.parse(fs.readFileSync(stampFile, 'utf8')); } catch { return null; }
}

function upToDate(fp) {
  const s = readStamp();
  if (!s || s.fingerprint !== fp || !s.files) return false;
  for (const [f, hash] of Object.entries(s.files)) {
    const p = path.join(outDir, f);
    if (!fs.existsSync(p)) return false;
    const st = fs.statSync(p);
    // size + mtime as recorded; the full sha256 of libdnnl (54 MB) costs ~0.2 s, so only the .node is hashed.
    if (st.size !== hash.size || st.mtimeMs !== hash.mtimeMs) return false;
    if (f === 'hodu.node' && sha256(p) !== hash.sha256) return false;
  }
  return true;
}

function build(onednn, pjrt) {
  const cmake = require('./deps').ensureCmake(log);
  const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  if (!fs.existsSync(cmakeJs)) throw new Error('cmake-js is missing: run `npm ci` (or `npm run build`) first');
  const jobs = String(Math.max(1, os.cpus().length));
  const defs = [`--CDHODU_ONEDNN_DIR=${onednn}`, '--CDCMAKE_BUILD_TYPE=Release', '--CDHODU_PREBUILD=ON', '--CDHODU_ASAN=OFF'];
  if (pjrt) defs.push(`--CDHODU_PJRT_INCLUDE=${pjrt}`);
  info(`building hodu.node with cmake-js into ${path.relative(root, buildDir)}/ (HODU_PREBUILD=ON)`);
  const env = { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs };
  delete env.LD_LIBRARY_PATH;
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '-O', path.relative(root, buildDir), '--prefer-make', '-c', cmake, '--parallel', jobs, ...defs], {
    cwd: root, env, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`cmake-js compile exited with ${r.status}`);
  const built = path.join(buildDir, 'Release', 'hodu.node');
  if (!fs.existsSync(built)) throw new Error(`${built} was not produced`);
  return built;
}

function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`prebuild-linux builds linux-x64 only (this is ${process.platform}-${process.arch})`);
  const t0 = Date.now();
  const mainVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  const platPkg = JSON.parse(fs.readFileSync(path.join(outDir, 'package.json'), 'utf8'));
  if (platPkg.version !== mainVersion)
    throw new Error(`npm/${TUPLE}/package.json has version ${platPkg.version}, package.json ${mainVersion}: they are published together, set both`);
  const release = acquireLock();
  try {
    const deps = require('./deps');
    const onednn = deps.ensureOneDnn(log);
    const pjrt = deps.ensurePjrtHeader ? deps.ensurePjrtHeader(log) : null;
    const fp = fingerprint(onednn, pjrt);
    if (!args.has('--force') && upToDate(fp)) {
      verify(outDir);
      info(`npm/${TUPLE} is up to date (${Date.now() - t0} ms)`);
      return;
    }
    const built = build(onednn, pjrt);

    // Assemble in a temporary folder, then move each file in (a rename), so a reader never sees half a file.
    const tmp = path.join(buildDir, `.${TUPLE}.tmp-${process.pid}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    const node = path.join(tmp, 'hodu.node');
    fs.copyFileSync(built, node);
    must('strip', ['--strip-unneeded', node]);
    // copyFileSync follows symlinks (cp -L): the wheel's .so/.so.3/.so.3.2 are copies anyway.
    fs.copyFileSync(fs.realpathSync(path.join(onednn, 'lib', 'libdnnl.so.3')), path.join(tmp, 'libdnnl.so.3'));
    fs.copyFileSync(findLibgomp(), path.join(tmp, 'libgomp.so.1'));
    for (const f of ['hodu.node', ...LIBS]) fs.chmodSync(path.join(tmp, f), 0o755);
    const facts = verify(tmp);

    for (const f of ['hodu.node', ...LIBS]) fs.renameSync(path.join(tmp, f), path.join(outDir, f));
    fs.rmSync(tmp, { recursive: true, force: true });

    const loaded = loadCheck(outDir);
    const files = {};
    for (const f of ['hodu.node', ...LIBS]) {
      const st = fs.statSync(path.join(outDir, f));
      files[f] = { size: st.size, mtimeMs: st.mtimeMs, sha256: f === 'hodu.node' ? sha256(path.join(outDir, f)) : undefined };
    }
    fs.writeFileSync(stampFile, JSON.stringify({ fingerprint: fp, files, facts, loaded }, null, 2) + '\n');
    info(`hodu.node NEEDED ${facts.node.needed.join(', ')}; RUNPATH ${facts.node.runpath.join(':')}`);
    info(`libdnnl.so.3 NEEDED ${facts.libdnnl.needed.join(', ')}; RUNPATH ${facts.libdnnl.runpath.join(':') || '(none)'}`);
    info(`load check: oneDNN ${loaded.info.onednn}, ${loaded.ops} ops, libraries from ${loaded.libs.join(', ')}`);
    info(`wrote npm/${TUPLE}/{hodu.node,${LIBS.join(',')}} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    release();
  }
}

/** For binding.gyp: stdout must carry nothing but the answer, so any fetch (pip) runs in a child writing to stderr. */
function printDep(fn) {
  const code = `const d = require("./scripts/deps"); if (d.${fn}) d.${fn}((m) => process.stderr.write(\`[hodu deps] \${m}\\n\`));`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`scripts/deps.js ${fn} failed`);
  const deps = require('./deps');
  process.stdout.write(typeof deps[fn] === 'function' ? deps[fn]() || '' : '');
}

try {
  if (args.has('--onednn-prefix')) printDep('ensureOneDnn');
  else if (args.has('--pjrt-include')) printDep('ensurePjrtHeader');
  else main();
} catch (e) {
  log(`failed: ${e.message}`);
  process.exit(1);
}
