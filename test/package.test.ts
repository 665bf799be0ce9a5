// The published package works on its own: `npm pack` -> install the tarball into an empty project with no
// build tools' help (no .cache, no LD_LIBRARY_PATH) -> require('hodu') loads prebuilds/linux-x64/hodu.node,
// which takes libdnnl.so.3 and libgomp.so.1 from the same folder ($ORIGIN) and from nowhere else.
//
// The prebuild comes from `npm run prebuild:linux`, which is a no-op (~0.2 s) when the native sources are
// unchanged since the last prebuild (fingerprint in build-prebuild/prebuild-stamp.json).
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';
const maybe = onLinuxX64 ? describe : describe.skip;

/** The environment of a user's machine: no loader paths, no oneDNN hints, nothing inherited from `npm test`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|LD_LIBRARY_PATH$|LD_PRELOAD$|HODU_|NODE_OPTIONS$|INIT_CWD$)/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
  return { stdout, stderr };
}

// Runs inside the temporary project: a 64x64 matmul against a float64 reference, and the libraries mapped.
const CHECK_SCRIPT = String.raw`
const hodu = require('hodu');
const n = 64;
const a = new Float32Array(n * n), b = new Float32Array(n * n);
for (let i = 0; i < n * n; i++) { a[i] = (((i * 7) % 13) - 6) / 8; b[i] = (((i * 5) % 11) - 5) / 4 + (i % 3) / 1024; }
const ref = new Float64Array(n * n);
for (let i = 0; i < n; i++)
  for (let k = 0; k < n; k++) { const x = a[i * n + k]; for (let j = 0; j < n; j++) ref[i * n + j] += x * b[k * n + j]; }
const res = { error: null, maxAbsErr: null, maxRef: 0, shape: null, tag: null, versions: null, maps: [] };
try {
  const c = hodu.Tensor.fromArray(a, [n, n]).matmul(hodu.Tensor.fromArray(b, [n, n]));
  const out = c.toTypedArray();
  res.shape = Array.from(c.shape);
  res.tag = Object.prototype.toString.call(out);
  let e = 0, m = 0;
  for (let i = 0; i < n * n; i++) { e = Math.max(e, Math.abs(out[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  res.maxAbsErr = e; res.maxRef = m;
  res.versions = hodu.versions();
} catch (e) {
  res.error = { code: e && e.code, message: String(e && e.message) };
}
res.maps = [...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\n')
  .map((l) => l.trim().split(/\s+/).slice(5).join(' ')).filter((p) => p.startsWith('/')))];
process.stdout.write(JSON.stringify(res));
`;

maybe('npm package (prebuilt linux-x64 binary)', () => {
  let tmp = '';
  let pkgDir = '';
  let projDir = '';
  let packedFiles: string[] = [];
  let installLog = '';
  let emptyCache = '';

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-pkg-'));
    // dist/ is normally fresh (`npm test` runs scripts/setup.js first); compile it if it is missing.
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
      run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root });
    }
    // 1. the prebuild (incremental; a no-op when up to date)
    const buildEnv = { ...process.env };
    delete buildEnv.LD_LIBRARY_PATH;
    run('npm', ['run', '--silent', 'prebuild:linux', '--', '--quiet'], { cwd: root, env: buildEnv });

    // 2. the tarball
    const packDir = path.join(tmp, 'pack');
    fs.mkdirSync(packDir);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: root, env: cleanEnv() }).stdout);
    packedFiles = (packed[0].files as { path: string }[]).map((f) => f.path);
    const tgz = path.join(packDir, packed[0].filename as string);
    expect(fs.existsSync(tgz)).toBe(true);

    // 3. an empty project that installs it; the fetch cache is an empty folder, so a fallback build would have nothing to use
    projDir = path.join(tmp, 'proj');
    emptyCache = path.join(tmp, 'empty-cache');
    fs.mkdirSync(projDir);
    fs.mkdirSync(emptyCache);
    fs.writeFileSync(
      path.join(projDir, 'package.json'),
      JSON.stringify({ name: 'hodu-consumer', version: '1.0.0', private: true, allowScripts: { hodu: true } }, null, 2),
    );
    const inst = run(
      'npm',
      ['install', '--ignore-scripts=false', '--foreground-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', tgz],
      { cwd: projDir, env: cleanEnv({ HODU_CACHE_DIR: emptyCache }) },
    );
    installLog = inst.stdout + inst.stderr;
    pkgDir = fs.realpathSync(path.join(projDir, 'node_modules', 'hodu'));
  }, 600000); // a cold prebuild compiles every native source (minutes on 2 cores); a warm run takes ~10 s

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the tarball holds dist/ and the prebuild, and none of the build folders or the fetch cache', () => {
    for (const f of ['package.json', 'dist/index.js', 'dist/index.d.ts', 'prebuilds/linux-x64/hodu.node', 'prebuilds/linux-x64/libdnnl.so.3', 'prebuilds/linux-x64/libgomp.so.1']) {
      expect(packedFiles).toContain(f);
    }
    const forbidden = packedFiles.filter((f) => /^(\.cache|build|build-[^/]*|node_modules|test)\//.test(f) || /\.tgz$/.test(f));
    expect(forbidden).toEqual([]);
    expect(packedFiles.filter((f) => f.startsWith('prebuilds/')).sort()).toEqual([
      'prebuilds/linux-x64/hodu.node',
      'prebuilds/linux-x64/libdnnl.so.3',
      'prebuilds/linux-x64/libgomp.so.1',
    ]);
  });

  test('installing runs the install script, which finds the prebuild and builds nothing', () => {
    expect(installLog).toContain('node-gyp-build-test'); // the install script ran (foreground)
    expect(installLog).not.toContain('[hodu setup]'); // ...and did not fall back to scripts/setup.js
    expect(fs.existsSync(path.join(pkgDir, 'build'))).toBe(false);
    expect(fs.readdirSync(emptyCache)).toEqual([]); // nothing fetched
    expect(fs.existsSync(path.join(pkgDir, '.cache'))).toBe(false);
    expect(fs.readdirSync(path.join(pkgDir, 'prebuilds', 'linux-x64')).sort()).toEqual(['hodu.node', 'libdnnl.so.3', 'libgomp.so.1']);
  });

  test('the installed hodu.node is stripped and its RUNPATH is exactly $ORIGIN', () => {
    const node = path.join(pkgDir, 'prebuilds', 'linux-x64', 'hodu.node');
    const dyn = run('readelf', ['-d', '-W', node], {}).stdout;
    const tags = (tag: string) => [...dyn.matchAll(new RegExp(`\\(${tag}\\)[^\\[]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
    expect(tags('RUNPATH')).toEqual(['$ORIGIN']);
    expect(tags('RPATH')).toEqual([]);
    expect(tags('NEEDED')).toEqual(expect.arrayContaining(['libdnnl.so.3', 'libgomp.so.1']));
    const sections = run('readelf', ['-S', '-W', node], {}).stdout;
    expect(sections).not.toMatch(/\.symtab|\.debug_/);
    expect(dyn).not.toContain(root); // no path of the build machine in the dynamic section
  });

  test('require("hodu") in the project: correct 64x64 matmul, oneDNN and libgomp only from the package prebuild', () => {
    const r = spawnSync(process.execPath, ['-e', CHECK_SCRIPT], {
      cwd: projDir,
      encoding: 'utf8',
      env: cleanEnv({ HODU_CACHE_DIR: emptyCache }),
      maxBuffer: 16 << 20,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.error).toBeNull();
    expect(res.shape).toEqual([64, 64]);
    expect(res.tag).toBe('[object Float32Array]');
    expect(res.maxRef).toBeGreaterThan(1);
    expect(res.maxAbsErr).toBeLessThan(1e-4);
    expect(res.versions.onednn).toBe('3.2.0');

    const pre = path.join(pkgDir, 'prebuilds', 'linux-x64');
    const maps: string[] = res.maps;
    expect(maps.filter((p) => /\/libdnnl\.so/.test(p))).toEqual([path.join(pre, 'libdnnl.so.3')]);
    expect(maps.filter((p) => /\/libgomp\.so/.test(p))).toEqual([path.join(pre, 'libgomp.so.1')]);
    expect(maps.filter((p) => /\.node$/.test(p))).toEqual([path.join(pre, 'hodu.node')]);
    // nothing from the development tree (its build/, .cache/ or prebuilds/)
    expect(maps.filter((p) => p.startsWith(root + '/'))).toEqual([]);
  });
});
