// The `hodu` command (bin/hodu.js -> dist/cli.js): `install` (pinned PJRT plugin wheels into the per-user plugin folder,
// sha256 checked), the plugin search finding what it installed, the wheel (zip) reader against Python's zipfile, the
// PJRT API version check of the native loader (fake plugins compiled here), and `doctor`'s output lines.
//
// The install tests use the xla-cpu-pjrt wheel that `npm run build` fetched into .cache/wheels (no download here);
// without it they fail with that reason (HODU_SKIP_XLA=1 skips them).
import { execFileSync, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { installPlugin, PLUGINS, pluginRoot, zipEntries, zipRead } from '../lib/plugins';
import { findPjrtPlugin, setXlaPlugin, xlaBuilt, xlaClientInfo } from '../lib/xla';

const root = path.resolve(__dirname, '..');
const cacheDir = process.env.HODU_CACHE_DIR ? path.resolve(process.env.HODU_CACHE_DIR) : path.join(root, '.cache');
const cpuWheel = path.join(cacheDir, 'wheels', PLUGINS['xla-cpu'].wheel);
const haveWheel = fs.existsSync(cpuWheel);
const skipXla = process.env.HODU_SKIP_XLA === '1';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tmp = '';
const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-cli-'));
  for (const k of ['HODU_PLUGIN_DIR', 'XDG_CACHE_HOME', 'HODU_PJRT_PLUGIN_CPU']) saved[k] = process.env[k];
  delete process.env.HODU_PJRT_PLUGIN_CPU;
  // dist/cli.js is what bin/hodu.js runs (npm test's set-up compiles it)
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs bin/hodu.js with an environment; returns status, stdout, stderr. */
function hodu(args: string[], env: Record<string, string | undefined>) {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'hodu.js'), ...args], { encoding: 'utf8', env: e, timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('plugin folder', () => {
  test('HODU_PLUGIN_DIR wins, then $XDG_CACHE_HOME/hodu/plugins, then ~/.cache/hodu/plugins', () => {
    process.env.HODU_PLUGIN_DIR = path.join(tmp, 'explicit');
    process.env.XDG_CACHE_HOME = path.join(tmp, 'xdg');
    expect(pluginRoot()).toBe(path.join(tmp, 'explicit'));
    delete process.env.HODU_PLUGIN_DIR;
    expect(pluginRoot()).toBe(path.join(tmp, 'xdg', 'hodu', 'plugins'));
    delete process.env.XDG_CACHE_HOME;
    expect(pluginRoot()).toBe(path.join(os.homedir(), '.cache', 'hodu', 'plugins'));
  });
});

describe('wheel reader', () => {
  test('reads stored and deflated members exactly as Python zipfile wrote them', () => {
    const zip = path.join(tmp, 'w.zip');
    const py = `
import zipfile, sys, os
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr(zipfile.ZipInfo('a/stored.bin'), bytes(range(256)) * 40, compress_type=zipfile.ZIP_STORED)
    z.writestr('b/deflated.txt', ('hodu ' * 5000).encode(), compress_type=zipfile.ZIP_DEFLATED)
    z.writestr('c/empty', b'', compress_type=zipfile.ZIP_DEFLATED)
`;
    execFileSync('python3', ['-c', py, zip]);
    const buf = fs.readFileSync(zip);
    expect(zipEntries(buf).map((e) => e.name)).toEqual(['a/stored.bin', 'b/deflated.txt', 'c/empty']);
    const stored = zipRead(buf, 'a/stored.bin');
    expect(stored.length).toBe(256 * 40);
    expect(stored[255]).toBe(255);
    expect(stored[256]).toBe(0);
    expect(zipRead(buf, 'b/deflated.txt').toString()).toBe('hodu '.repeat(5000));
    expect(zipRead(buf, 'c/empty').length).toBe(0);
    expect(() => zipRead(buf, 'nope')).toThrow(/has no member nope/);
    expect(() => zipEntries(Buffer.from('not a zip at all, just some bytes'))).toThrow(/end-of-central-directory/);
  });
});

(haveWheel && !skipXla ? describe : describe.skip)('hodu install (from the cached pinned wheel)', () => {
  let dir = '';
  beforeAll(() => {
    dir = path.join(tmp, 'plugins');
  });

  test('install xla-cpu --wheel: the plugin library is the wheel member, byte for byte (Python zipfile as reference)', () => {
    const r = hodu(['install', 'xla-cpu', '--wheel', cpuWheel], { HODU_PLUGIN_DIR: dir });
    expect(r.stderr).toContain('sha256 ok');
    expect(r.status).toBe(0);
    const so = path.join(dir, 'xla-cpu', 'xla_cpu_pjrt.so');
    expect(r.stdout).toContain(`installed: xla-cpu-pjrt==0.0.1 (PJRT API 0.81) -> ${so}`);
    const ref = execFileSync('python3', ['-c', `
import zipfile, hashlib, sys
print(hashlib.sha256(zipfile.ZipFile(sys.argv[1]).read('xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so')).hexdigest())`, cpuWheel], { encoding: 'utf8' }).trim();
    expect(sha256(fs.readFileSync(so))).toBe(ref);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'xla-cpu', 'manifest.json'), 'utf8'))).toMatchObject({ spec: 'xla-cpu-pjrt==0.0.1', pjrtApi: '0.81' });
    // again: nothing to do
    const again = hodu(['install', 'xla-cpu', '--wheel', cpuWheel], { HODU_PLUGIN_DIR: dir });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('already installed');
    expect(again.stderr).not.toContain('unpacking');
  });

  test('a wheel with another sha256 is refused, naming both hashes, and installs nothing', () => {
    const r = hodu(['install', 'xla-cuda', '--wheel', cpuWheel], { HODU_PLUGIN_DIR: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`expected ${PLUGINS['xla-cuda'].sha256}`);
    expect(r.stderr).toContain(`got ${PLUGINS['xla-cpu'].sha256}`);
    expect(fs.existsSync(path.join(dir, 'xla-cuda'))).toBe(false);
    const bad = hodu(['install', 'xla-tpu'], { HODU_PLUGIN_DIR: dir });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("unknown plugin 'xla-tpu': expected one of xla-cpu, xla-cuda");
  });

  test('the plugin search finds the installed plugin before the project cache', () => {
    process.env.HODU_PLUGIN_DIR = dir;
    const s = findPjrtPlugin('cpu');
    expect(s.path).toBe(path.join(dir, 'xla-cpu', 'xla_cpu_pjrt.so'));
    delete process.env.HODU_PLUGIN_DIR;
  });

  test('installPlugin() is idempotent and reports where it put the library', async () => {
    process.env.HODU_PLUGIN_DIR = dir;
    const r = await installPlugin('xla-cpu', { wheel: cpuWheel });
    expect(r.changed).toBe(false);
    expect(r.path).toBe(path.join(dir, 'xla-cpu', 'xla_cpu_pjrt.so'));
    delete process.env.HODU_PLUGIN_DIR;
  });

  test('doctor: versions, CPU, plugin search and no problem when the plugin is installed', () => {
    const r = hodu(['doctor'], { HODU_PLUGIN_DIR: dir });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const line = (key: string) => lines.find((l) => l.startsWith(`${key}:`));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(line('hodu')).toMatch(new RegExp(`^hodu:\\s+${pkg.version.replace(/\./g, '\\.')} `));
    expect(line('node')).toContain(`${process.version} (N-API ${process.versions.napi},`);
    expect(line('oneDNN')).toMatch(/^oneDNN:\s+3\.2\.0$/);
    expect(line('cpu threads')).toContain(`${os.cpus().length} logical CPUs`);
    const flags = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m) ?? ['', ''])[1].split(/\s+/);
    expect(line('cpu features')?.includes(' avx2') || line('cpu features')?.startsWith('cpu features:')).toBe(true);
    expect(/\bavx2\b/.test(line('cpu features') ?? '')).toBe(flags.includes('avx2'));
    expect(line('plugin folder')).toContain(`${dir} (HODU_PLUGIN_DIR)`);
    expect(line('installed xla-cpu')).toMatch(/xla-cpu-pjrt==0\.0\.1, PJRT API 0\.81$/);
    expect(line('cpu plugin')).toMatch(new RegExp(`^cpu plugin:\\s+${path.join(dir, 'xla-cpu', 'xla_cpu_pjrt.so').replace(/[.]/g, '\\.')}$`));
    expect(line('cpu plugin looked at')).toContain('HODU_PJRT_PLUGIN_CPU (not set)');
    expect(line('nvidia driver')).toBeDefined();
    expect(lines.filter((l) => l.startsWith('problem:') && l.includes('XLA CPU plugin'))).toEqual([]);
  });
});

describe('hodu doctor without a plugin', () => {
  test('prints one problem line with its fix when no CPU plugin can be found', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    // no plugin anywhere: empty plugin folder and project cache, and no python3 on PATH for the site-packages search
    const r = hodu(['doctor'], { HODU_PLUGIN_DIR: empty, HODU_CACHE_DIR: empty, PATH: path.dirname(process.execPath), VIRTUAL_ENV: undefined });
    expect(r.status).toBe(0);
    const probs = r.stdout.split('\n').filter((l) => l.startsWith('problem: '));
    expect(probs).toContain('problem: no XLA CPU plugin found (Backend.XLA fails with BACKEND_UNAVAILABLE) -> fix: npx hodu install xla-cpu');
    expect(r.stdout).toMatch(/^cpu plugin:\s+none found$/m);
  });

  test('usage and unknown commands', () => {
    expect(hodu(['--version'], {}).stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    const u = hodu(['frobnicate'], {});
    expect(u.status).toBe(2);
    expect(u.stderr).toContain("unknown command 'frobnicate'");
  });
});

// A plugin reporting a PJRT C API version hodu cannot use must be refused before any of its functions is called.
const cc = spawnSync('cc', ['--version']).status === 0;
(cc && xlaBuilt() ? describe : describe.skip)('PJRT API version check (fake plugins)', () => {
  function fakePlugin(name: string, major: number, minor: number): string {
    const src = path.join(tmp, `${name}.c`);
    const so = path.join(tmp, `${name}.so`);
    fs.writeFileSync(src, `
#include <stddef.h>
struct Version { size_t struct_size; void* extension_start; int major_version; int minor_version; };
struct Api { size_t struct_size; void* extension_start; struct Version pjrt_api_version; void* fns[256]; };
static struct Api api;
const struct Api* GetPjrtApi(void) {
  api.struct_size = sizeof(api);
  api.pjrt_api_version.struct_size = sizeof(struct Version);
  api.pjrt_api_version.major_version = ${major};
  api.pjrt_api_version.minor_version = ${minor};
  return &api;  /* every function slot is null: calling one would crash */
}
`);
    execFileSync('cc', ['-shared', '-fPIC', '-o', so, src]);
    return so;
  }

  afterEach(() => setXlaPlugin('cpu', null));

  test('another major version: BACKEND_UNAVAILABLE naming the plugin\'s and hodu\'s versions', () => {
    const so = fakePlugin('major1', 1, 3);
    setXlaPlugin('cpu', so);
    let err: { code?: string; message?: string } = {};
    try {
      xlaClientInfo();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.message).toContain('implements PJRT C API 1.3');
    expect(err.message).toMatch(/speaks major version 0 \(header 0\.\d+\)/);
  });

  test('same major version without the functions hodu calls: an error, not a crash', () => {
    const so = fakePlugin('noslots', 0, 81);
    setXlaPlugin('cpu', so);
    let err: { code?: string; message?: string } = {};
    try {
      xlaClientInfo();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.message).toContain('PJRT_Plugin_Initialize');
  });
});
