// The published packages work on their own, the way sharp and esbuild ship: `node scripts/pack.js` packs
//   hodu-<v>.tgz                 dist/, bin/, README, CHANGELOG; no install script; optionalDependencies @hodu/linux-x64-gnu
//   hodu-linux-x64-gnu-<v>.tgz   hodu.node (RUNPATH $ORIGIN) + libdnnl.so.3 + libgomp.so.1
// and an empty project installs both with `npm install --offline` and an empty npm cache, so nothing but the two
// tarballs can be used. There, require('hodu') runs a matmul against a float64 reference with oneDNN and libgomp taken
// from the platform package only; `npx hodu install xla-cpu --wheel <pinned wheel>` + Backend.XLA gives the same result;
// without the platform package (or on another platform) require('hodu') fails naming the platform and the way to build.
//
// The platform package is filled by `npm run prebuild:linux` (a no-op when the native sources are unchanged since the
// last prebuild; the first run compiles every native source with -DHODU_PREBUILD=ON into build-prebuild/).
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';
const maybe = onLinuxX64 ? describe : describe.skip;
const cacheDir = process.env.HODU_CACHE_DIR ? path.resolve(process.env.HODU_CACHE_DIR) : path.join(root, '.cache');
const cpuWheel = path.join(cacheDir, 'wheels', 'xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl');

/** The environment of a user's machine: no loader paths, no hodu hints, nothing inherited from `npm test`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|LD_LIBRARY_PATH$|LD_PRELOAD$|HODU_|NODE_OPTIONS$|INIT_CWD$|XDG_CACHE_HOME$)/i.test(k)) continue;
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

// Runs inside the temporary project: a 64x64 matmul (eager, and as a script on HODU and, with a plugin, XLA) against a
// float64 reference, and the libraries mapped.
const CHECK_SCRIPT = String.raw`
const hodu = require('hodu');
const n = 64, withXla = process.argv[1] === 'xla';
const a = new Float32Array(n * n), b = new Float32Array(n * n);
for (let i = 0; i < n * n; i++) { a[i] = (((i * 7) % 13) - 6) / 8; b[i] = (((i * 5) % 11) - 5) / 4 + (i % 3) / 1024; }
const ref = new Float64Array(n * n);
for (let i = 0; i < n; i++)
  for (let k = 0; k < n; k++) { const x = a[i * n + k]; for (let j = 0; j < n; j++) ref[i * n + j] += x * b[k * n + j]; }
const err = (out) => { let e = 0; for (let i = 0; i < n * n; i++) e = Math.max(e, Math.abs(out[i] - ref[i])); return e; };
const res = { error: null, maxAbsErr: null, xlaMaxAbsErr: null, maxRef: 0, shape: null, tag: null, versions: null, maps: [] };
try {
  const c = hodu.Tensor.fromArray(a, [n, n]).matmul(hodu.Tensor.fromArray(b, [n, n]));
  const out = c.toTypedArray();
  res.shape = Array.from(c.shape);
  res.tag = Object.prototype.toString.call(out);
  res.maxAbsErr = err(out);
  for (let i = 0; i < n * n; i++) res.maxRef = Math.max(res.maxRef, Math.abs(ref[i]));
  res.versions = hodu.versions();
  if (withXla) {
    const bld = new hodu.Builder('mm');
    bld.start();
    const x = hodu.Tensor.input('x', [n, n]), y = hodu.Tensor.input('y', [n, n]);
    bld.addOutput('z', x.matmul(y));
    bld.end();
    const s = bld.build();
    s.setBackend(hodu.Backend.XLA);
    s.addInput('x', hodu.Tensor.fromArray(a, [n, n]));
    s.addInput('y', hodu.Tensor.fromArray(b, [n, n]));
    res.xlaMaxAbsErr = err(s.run()['z'].toTypedArray());
  }
} catch (e) {
  res.error = { code: e && e.code, message: String(e && e.message) };
}
res.maps = [...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\n')
  .map((l) => l.trim().split(/\s+/).slice(5).join(' ')).filter((p) => p.startsWith('/')))];
process.stdout.write(JSON.stringify(res));
`;

interface PackRecord {
  name: string;
  filename: string;
  tarball: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

maybe('npm packages (hodu + @hodu/linux-x64-gnu)', () => {
  let tmp = '';
  let projDir = '';
  let mainPkg: PackRecord;
  let platPkg: PackRecord;
  let installLog = '';
  let emptyCache = '';
  let pluginDir = '';

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-pkg-'));
    // 1. both tarballs (the prebuild is incremental: a no-op when up to date)
    const buildEnv = { ...process.env };
    delete buildEnv.LD_LIBRARY_PATH;
    const packed = JSON.parse(run(process.execPath, [path.join(root, 'scripts', 'pack.js'), '--out', path.join(tmp, 'pack'), '--json'], { cwd: root, env: buildEnv }).stdout) as PackRecord[];
    mainPkg = packed.find((p) => p.name === 'hodu')!;
    platPkg = packed.find((p) => p.name === '@hodu/linux-x64-gnu')!;

    // 2. an empty project; npm may use nothing but the two tarballs (--offline, an empty cache)
    projDir = path.join(tmp, 'proj');
    emptyCache = path.join(tmp, 'npm-cache');
    pluginDir = path.join(tmp, 'plugins');
    fs.mkdirSync(projDir);
    fs.mkdirSync(emptyCache);
    fs.writeFileSync(path.join(projDir, 'package.json'), JSON.stringify({ name: 'hodu-consumer', version: '1.0.0', private: true }, null, 2));
    const inst = run(
      'npm',
      ['install', '--offline', '--cache', emptyCache, '--foreground-scripts', '--no-audit', '--no-fund', '--no-package-lock', platPkg.tarball, mainPkg.tarball],
      { cwd: projDir, env: cleanEnv({ HODU_CACHE_DIR: path.join(tmp, 'no-cache') }) },
    );
    installLog = inst.stdout + inst.stderr;
  }, 900000); // a cold prebuild compiles every native source (minutes on 2 cores); a warm run takes ~15 s

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the main tarball holds what a user needs and no sources, tests, benchmarks or binaries', () => {
    const files = mainPkg.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'CHANGELOG.md', 'bin/hodu.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/load-addon.js'])
      expect(files).toContain(f);
    expect(files.filter((f) => !/^(dist\/|bin\/hodu\.js$|package\.json$|README\.md$|CHANGELOG\.md$)/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.(map|node|so[.\d]*|ts)$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(mainPkg.size).toBeLessThan(1 << 20); // packed size: JavaScript and types only (a few hundred KB)
  });

  test('the published package.json runs nothing at install and names the platform package as an optional dependency', () => {
    const pj = JSON.parse(fs.readFileSync(path.join(projDir, 'node_modules', 'hodu', 'package.json'), 'utf8'));
    const own = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pj.scripts).toBeUndefined();
    expect(pj.devDependencies).toBeUndefined();
    expect(pj.dependencies).toBeUndefined();
    expect(pj.optionalDependencies).toEqual({ '@hodu/linux-x64-gnu': own.version });
    expect(pj.bin).toEqual({ hodu: 'bin/hodu.js' });
  });

  test('the platform tarball holds hodu.node with its two libraries, nothing else', () => {
    expect(platPkg.files.map((f) => f.path).sort()).toEqual(['LICENSES.md', 'hodu.node', 'libdnnl.so.3', 'libgomp.so.1', 'package.json']);
    const pj = JSON.parse(fs.readFileSync(path.join(root, 'npm', 'linux-x64-gnu', 'package.json'), 'utf8'));
    expect(pj).toMatchObject({ os: ['linux'], cpu: ['x64'], libc: ['glibc'] });
    expect(pj.scripts).toBeUndefined();
  });

  test('installing builds nothing and fetches nothing', () => {
    const pkgDir = path.join(projDir, 'node_modules', 'hodu');
    expect(installLog).not.toMatch(/hodu setup|cmake|node-gyp/);
    expect(fs.existsSync(path.join(pkgDir, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'no-cache'))).toBe(false);
    expect(fs.readdirSync(path.join(projDir, 'node_modules', '@hodu', 'linux-x64-gnu')).sort()).toEqual(['LICENSES.md', 'hodu.node', 'libdnnl.so.3', 'libgomp.so.1', 'package.json']);
  });

  test('the installed hodu.node is stripped and its RUNPATH is exactly $ORIGIN', () => {
    const node = path.join(projDir, 'node_modules', '@hodu', 'linux-x64-gnu', 'hodu.node');
    const dyn = run('readelf', ['-d', '-W', node], {}).stdout;
    const tags = (tag: string) => [...dyn.matchAll(new RegExp(`\\(${tag}\\)[^\\[]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
    expect(tags('RUNPATH')).toEqual(['$ORIGIN']);
    expect(tags('RPATH')).toEqual([]);
    expect(tags('NEEDED')).toEqual(expect.arrayContaining(['libdnnl.so.3', 'libgomp.so.1']));
    expect(run('readelf', ['-S', '-W', node], {}).stdout).not.toMatch(/\.symtab|\.debug_/);
    expect(dyn).not.toContain(root); // no path of the build machine in the dynamic section
  });

  test('require("hodu"): correct 64x64 matmul, oneDNN and libgomp only from the platform package', () => {
    const r = spawnSync(process.execPath, ['-e', CHECK_SCRIPT], { cwd: projDir, encoding: 'utf8', env: cleanEnv(), maxBuffer: 16 << 20 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.error).toBeNull();
    expect(res.shape).toEqual([64, 64]);
    expect(res.tag).toBe('[object Float32Array]');
    expect(res.maxRef).toBeGreaterThan(1);
    expect(res.maxAbsErr).toBeLessThan(1e-4);
    expect(res.versions.onednn).toBe('3.2.0');
    const pre = fs.realpathSync(path.join(projDir, 'node_modules', '@hodu', 'linux-x64-gnu'));
    const maps: string[] = res.maps;
    expect(maps.filter((p) => /\/libdnnl\.so/.test(p))).toEqual([path.join(pre, 'libdnnl.so.3')]);
    expect(maps.filter((p) => /\/libgomp\.so/.test(p))).toEqual([path.join(pre, 'libgomp.so.1')]);
    expect(maps.filter((p) => /\.node$/.test(p))).toEqual([path.join(pre, 'hodu.node')]);
    expect(maps.filter((p) => p.startsWith(root + '/'))).toEqual([]); // nothing from the development tree
  });

  (fs.existsSync(cpuWheel) && process.env.HODU_SKIP_XLA !== '1' ? test : test.skip)(
    'npx hodu install xla-cpu (the pinned wheel) in the project, then Backend.XLA gives the float64 result',
    () => {
      const env = cleanEnv({ HODU_PLUGIN_DIR: pluginDir, PJRT_NPROC: '1' });
      const inst = run('npx', ['--offline', '--cache', emptyCache, 'hodu', 'install', 'xla-cpu', '--wheel', cpuWheel], { cwd: projDir, env });
      expect(inst.stdout).toContain(`installed: xla-cpu-pjrt==0.0.1 (PJRT API 0.81) -> ${path.join(pluginDir, 'xla-cpu', 'xla_cpu_pjrt.so')}`);
      const r = spawnSync(process.execPath, ['-e', CHECK_SCRIPT, 'xla'], { cwd: projDir, encoding: 'utf8', env, maxBuffer: 16 << 20 });
      expect(r.status).toBe(0);
      const res = JSON.parse(r.stdout);
      expect(res.error).toBeNull();
      expect(res.xlaMaxAbsErr).toBeLessThan(1e-4);
      expect(res.maps).toContain(path.join(pluginDir, 'xla-cpu', 'xla_cpu_pjrt.so'));
      const doc = run('npx', ['--offline', '--cache', emptyCache, 'hodu', 'doctor'], { cwd: projDir, env }).stdout;
      expect(doc).toMatch(new RegExp(`^addon:\\s+${fs.realpathSync(path.join(projDir, 'node_modules', '@hodu', 'linux-x64-gnu'))}/hodu\\.node$`, 'm'));
      expect(doc).toContain('no problems found');
    },
    300000,
  );

  test('doctor: a platform package of another version than hodu is a problem with its fix', () => {
    const pj = path.join(projDir, 'node_modules', '@hodu', 'linux-x64-gnu', 'package.json');
    const orig = fs.readFileSync(pj, 'utf8');
    const version = JSON.parse(orig).version as string;
    try {
      fs.writeFileSync(pj, JSON.stringify({ ...JSON.parse(orig), version: '0.0.9' }));
      const doc = run(process.execPath, [path.join(projDir, 'node_modules', 'hodu', 'bin', 'hodu.js'), 'doctor'], {
        cwd: projDir, env: cleanEnv({ HODU_PLUGIN_DIR: pluginDir }),
      }).stdout;
      expect(doc).toContain(`problem: @hodu/linux-x64-gnu is version 0.0.9 but hodu is ${version} (the addon and the JavaScript must match) ` +
        `-> fix: npm install hodu@${version} @hodu/linux-x64-gnu@${version}`);
    } finally {
      fs.writeFileSync(pj, orig);
    }
  });

  test('without a prebuild for the platform, require("hodu") fails naming the platform and how to build from source', () => {
    // another architecture, as the loader sees it
    const arm = spawnSync(
      process.execPath,
      ['-e', "Object.defineProperty(process, 'arch', { value: 'arm64' }); try { require('hodu'); console.log('loaded'); } catch (e) { console.log(e.code + ': ' + e.message); }"],
      { cwd: projDir, encoding: 'utf8', env: cleanEnv() },
    );
    expect(arm.stdout).toContain('BACKEND_UNAVAILABLE: hodu: the native addon was not found: hodu has no prebuilt binary for this platform (linux-arm64-gnu; prebuilt: linux-x64-gnu)');
    expect(arm.stdout).toContain('`npm run build`');
    // the platform package left out (npm install --omit=optional)
    const bare = path.join(tmp, 'bare');
    fs.mkdirSync(path.join(bare, 'node_modules'), { recursive: true });
    fs.cpSync(path.join(projDir, 'node_modules', 'hodu'), path.join(bare, 'node_modules', 'hodu'), { recursive: true });
    const r = spawnSync(process.execPath, ['-e', "try { require('hodu'); console.log('loaded'); } catch (e) { console.log(e.code + ': ' + e.message); }"], {
      cwd: bare, encoding: 'utf8', env: cleanEnv(),
    });
    expect(r.stdout).toContain('the platform package @hodu/linux-x64-gnu is not installed');
    expect(r.stdout).toContain('`npm run build`');
  });
});
