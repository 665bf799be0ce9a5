'use strict';
// Native dependencies, fetched from their registry packages with pinned hashes into an ignored
// cache (HODU_CACHE_DIR, default <repo>/.cache). Nothing fetched here is ever committed.
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const cacheDir = process.env.HODU_CACHE_DIR ? path.resolve(process.env.HODU_CACHE_DIR) : path.join(root, '.cache');

// oneDNN 3.2.0 (OpenMP / GNU libgomp build), Apache-2.0. One .so plus headers and a CMake config.
const ONEDNN_WHEELS = [
  {
    spec: 'onednn-cpu-gomp==2023.2.0',
    file: 'onednn_cpu_gomp-2023.2.0-py2.py3-none-manylinux1_x86_64.whl',
    sha256: '2f22a54d6a890ed14bfa185d42a4be65d8b5b1df85dc1f0f3a9abe31620416fb',
    dataDir: 'onednn_cpu_gomp-2023.2.0.data/data/',
  },
  {
    spec: 'onednn-devel-cpu-gomp==2023.2.0',
    file: 'onednn_devel_cpu_gomp-2023.2.0-py2.py3-none-manylinux1_x86_64.whl',
    sha256: '9763c69e8c907e119056bd52ad918ca84ac9ba939d130a99dfa95ccca3e5e284',
    dataDir: 'onednn_devel_cpu_gomp-2023.2.0.data/data/',
  },
];

function sh(cmd, argv, opts = {}) {
  return spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
}

// Quiet: the tools' output (pip, apt-get) is kept and shown only when they fail (scripts/setup.js without --verbose).
let quiet = false;
function setQuiet(q) {
  quiet = !!q;
}
const toolStdio = () => (quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit');

function must(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: toolStdio(), encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const out = quiet ? `\n${r.stdout || ''}${r.stderr || ''}`.trimEnd() : '';
    throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status}${out}`);
  }
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function python() {
  for (const p of ['python3', 'python']) if (sh(p, ['--version']).status === 0) return p;
  throw new Error('python3 with pip is needed to fetch wheels from PyPI (for oneDNN, HODU_ONEDNN_DIR can point at an install instead)');
}

/** Downloads pinned wheels with pip (no deps) into cacheDir/wheels and checks their sha256. */
function fetchWheels(wheels, log) {
  const dir = path.join(cacheDir, 'wheels');
  fs.mkdirSync(dir, { recursive: true });
  const missing = wheels.filter((w) => !fs.existsSync(path.join(dir, w.file)) || sha256(path.join(dir, w.file)) !== w.sha256);
  if (missing.length) {
    log(`downloading ${missing.map((w) => w.spec).join(', ')} (pip download --no-deps)`);
    must(python(), ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-q', '-d', dir, ...missing.map((w) => w.spec)]);
  }
  for (const w of wheels) {
    const f = path.join(dir, w.file);
    if (!fs.existsSync(f)) throw new Error(`pip did not produce ${w.file}`);
    const got = sha256(f);
    if (got !== w.sha256) {
      fs.rmSync(f);
      throw new Error(`sha256 mismatch for ${w.file}: expected ${w.sha256}, got ${got}`);
    }
  }
  return wheels.map((w) => path.join(dir, w.file));
}

/** Extracts the members of a wheel (a zip) whose names start with `prefix` into `dest`, stripping the prefix. */
function extractWheel(wheel, prefix, dest) {
  const code = `
import sys, zipfile, os, shutil
whl, prefix, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        n = info.filename
        if not n.startswith(prefix) or n.endswith('/'):
            continue
        out = os.path.join(dest, n[len(prefix):])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out, 'wb') as dst:
            shutil.copyfileobj(src, dst)
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(out, mode)
`;
  must(python(), ['-c', code, wheel, prefix, dest]);
}

/** Returns a oneDNN 3 prefix (include/, lib/, lib/cmake/dnnl). */
function ensureOneDnn(log = () => {}) {
  if (process.env.HODU_ONEDNN_DIR) return path.resolve(process.env.HODU_ONEDNN_DIR);
  const prefix = path.join(cacheDir, 'onednn-3.2.0');
  const stamp = path.join(prefix, '.complete');
  if (fs.existsSync(stamp)) return prefix;
  const files = fetchWheels(ONEDNN_WHEELS, log);
  log(`unpacking oneDNN into ${path.relative(root, prefix) || prefix}`);
  fs.rmSync(prefix, { recursive: true, force: true });
  fs.mkdirSync(prefix, { recursive: true });
  ONEDNN_WHEELS.forEach((w, i) => extractWheel(files[i], w.dataDir, prefix));
  if (!fs.existsSync(path.join(prefix, 'lib', 'libdnnl.so.3.2'))) throw new Error('oneDNN wheel layout unexpected: lib/libdnnl.so.3.2 missing');
  fs.writeFileSync(stamp, ONEDNN_WHEELS.map((w) => `${w.spec} ${w.sha256}`).join('\n') + '\n');
  return prefix;
}

function cmakeVersionOk(exe) {
  const r = sh(exe, ['--version']);
  if (r.status !== 0) return false;
  const m = /cmake version (\d+)\.(\d+)/.exec(r.stdout || '');
  return !!m && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 18));
}

/** Returns a cmake >= 3.18 executable: the system one, else Debian's (as root), else the PyPI wheel. */
function which(exe) {
  const r = sh('sh', ['-c', `command -v ${exe}`]);
  return r.status === 0 ? r.stdout.trim() : exe;
}

function ensureCmake(log = () => {}) {
  if (cmakeVersionOk('cmake')) return which('cmake');
  const wheelCmake = path.join(cacheDir, 'cmake-py', 'cmake', 'data', 'bin', 'cmake');
  if (cmakeVersionOk(wheelCmake)) return wheelCmake;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && sh('apt-get', ['--version']).status === 0) {
    log('installing cmake from the Debian packages (apt-get)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const u = sh('apt-get', ['update', '-q'], { stdio: toolStdio(), env });
    const i = u.status === 0 ? sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'cmake'], { stdio: toolStdio(), env }) : u;
    if (i.status === 0 && cmakeVersionOk('cmake')) return which('cmake');
    log('apt-get could not install cmake; trying the cmake wheel from PyPI');
  }
  log('installing cmake from PyPI (pip install --target)');
  must(python(), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '--target', path.join(cacheDir, 'cmake-py'), 'cmake==3.31.6']);
  if (!cmakeVersionOk(wheelCmake)) throw new Error(`cmake from PyPI is not usable at ${wheelCmake}`);
  return wheelCmake;
}


// OpenXLA CPU PJRT plugin (xla-cpu-pjrt 0.0.1, Apache-2.0, PJRT C API 0.81): the plugin .so (dlopen'ed at run time by
// the XLA backend, never linked) and the pjrt_c_api.h it ships (the addon compiles its PJRT client against it).
const PJRT_CPU_WHEEL = {
  spec: 'xla-cpu-pjrt==0.0.1',
  file: 'xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl',
  sha256: '55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc',
  members: {
    'xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so': 'xla_cpu_pjrt.so',
    'xla_plugins/xla_cpu_pjrt/include/pjrt_c_api.h': 'include/pjrt_c_api.h',
  },
};
const pjrtCpuDir = path.join(cacheDir, 'pjrt-cpu');

/** Path the CPU plugin has once fetched (it may not exist): <cache>/pjrt-cpu/xla_cpu_pjrt.so. */
function pjrtCpuPluginPath() {
  return path.join(pjrtCpuDir, 'xla_cpu_pjrt.so');
}

/** Extracts exactly the named members of a wheel: { memberName: relative destination }. */
function extractMembers(wheel, members, dest) {
  const code = `
import sys, json, zipfile, os, shutil
whl, members, dest = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(whl) as z:
    names = set(z.namelist())
    for m, rel in members.items():
        if m not in names:
            sys.exit('wheel has no member ' + m)
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(m) as src, open(out + '.part', 'wb') as dst:
            shutil.copyfileobj(src, dst)
        os.replace(out + '.part', out)
`;
  must(python(), ['-c', code, wheel, JSON.stringify(members), dest]);
}

/**
 * Fetches the CPU PJRT plugin wheel (pinned sha256) and unpacks only the plugin .so and include/pjrt_c_api.h into
 * <cache>/pjrt-cpu/. Returns the include folder, or null when that is impossible (no python/pip, no network, hash
 * mismatch): the addon then builds without XLA support and Backend.XLA reports BACKEND_UNAVAILABLE.
 * HODU_PJRT_INCLUDE (a folder holding pjrt_c_api.h) skips the fetch; HODU_SKIP_PJRT=1 disables it.
 */
function ensurePjrtHeader(log = () => {}) {
  if (process.env.HODU_PJRT_INCLUDE) return path.resolve(process.env.HODU_PJRT_INCLUDE);
  if (process.env.HODU_SKIP_PJRT === '1') return null;
  const include = path.join(pjrtCpuDir, 'include');
  const stamp = path.join(pjrtCpuDir, '.complete');
  const want = `${PJRT_CPU_WHEEL.spec} ${PJRT_CPU_WHEEL.sha256}\n`;
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want && fs.existsSync(path.join(include, 'pjrt_c_api.h')) &&
      fs.existsSync(pjrtCpuPluginPath()))
    return include;
  try {
    const [wheel] = fetchWheels([PJRT_CPU_WHEEL], log);
    log(`unpacking the PJRT CPU plugin and pjrt_c_api.h into ${path.relative(root, pjrtCpuDir) || pjrtCpuDir}`);
    fs.rmSync(pjrtCpuDir, { recursive: true, force: true });
    fs.mkdirSync(pjrtCpuDir, { recursive: true });
    extractMembers(wheel, PJRT_CPU_WHEEL.members, pjrtCpuDir);
    fs.writeFileSync(stamp, want);
    return include;
  } catch (e) {
    log(`XLA support disabled: could not fetch ${PJRT_CPU_WHEEL.spec} (${e.message}); ` +
        'the addon builds without it and Backend.XLA reports BACKEND_UNAVAILABLE');
    return null;
  }
}

module.exports = {
  setQuiet, cacheDir, ensureOneDnn, ensureCmake, fetchWheels, extractWheel, sha256, ONEDNN_WHEELS,
  ensurePjrtHeader, pjrtCpuPluginPath, PJRT_CPU_WHEEL,
};

if (require.main === module) {
  const log = (m) => process.stderr.write(`[hodu deps] ${m}\n`);
  if (process.argv.includes('--pjrt')) {
    // node scripts/deps.js --pjrt: fetch only the XLA CPU plugin (+ header); prints the plugin path.
    if (!ensurePjrtHeader(log)) process.exit(1);
    console.log(pjrtCpuPluginPath());
  } else {
    console.log(ensureCmake(log));
    console.log(ensureOneDnn(log));
    console.log(ensurePjrtHeader(log) || '(no PJRT header: XLA support disabled)');
  }
}
