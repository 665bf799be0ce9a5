// PJRT plugins on demand: `npx hodu install xla-cpu | xla-cuda` fetches a pinned wheel from PyPI, checks its sha256,
// and unpacks the one plugin library into a per-user cache that the XLA plugin search (lib/xla.ts) looks in:
//
//   $HODU_PLUGIN_DIR, else $XDG_CACHE_HOME/hodu/plugins, else ~/.cache/hodu/plugins
//     xla-cpu/xla_cpu_pjrt.so        + manifest.json
//     xla-cuda/xla_cuda_plugin.so    + manifest.json
//
// No Python is needed: the wheel (a zip) is downloaded with fetch and read here. Behind a proxy or offline, download the
// wheel by other means (`pip download --no-deps <spec>`) and pass it with --wheel; its sha256 is checked all the same.
// This file does not load the native addon.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ErrorCode, HoduError } from './errors';

/** A plugin hodu knows how to install. */
export interface PluginSpec {
  /** The name `hodu install` takes. */
  id: 'xla-cpu' | 'xla-cuda';
  /** The XLA platform it serves (Device.CPU / Device.CUDA(n)). */
  platform: 'cpu' | 'cuda';
  /** The pip requirement it comes from. */
  spec: string;
  wheel: string;
  url: string;
  sha256: string;
  bytes: number;
  /** The member of the wheel that is the plugin library. */
  member: string;
  /** The file name it gets in the plugin folder. */
  file: string;
  /** The PJRT C API version the plugin reports (the addon refuses another major version). */
  pjrtApi: string;
  /** What else it needs on the machine. */
  needs: string;
}

const PYPI_FILES = 'https://files.pythonhosted.org/packages';

/** The pinned plugins (linux x86_64 wheels). xla-cpu is the wheel scripts/deps.js pins for development builds. */
export const PLUGINS: Record<PluginSpec['id'], PluginSpec> = {
  'xla-cpu': {
    id: 'xla-cpu',
    platform: 'cpu',
    spec: 'xla-cpu-pjrt==0.0.1',
    wheel: 'xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl',
    url: `${PYPI_FILES}/5d/ca/5487881b30d07396c168749ead36f57dbc4538cafdc535943afc81b3e5a2/xla_cpu_pjrt-0.0.1-py3-none-manylinux_2_27_x86_64.whl`,
    sha256: '55837b6b7b47daa717f2d9a5a03563ea0ceaa338d06a81a1e2d3f060d960decc',
    bytes: 63461052,
    member: 'xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so',
    file: 'xla_cpu_pjrt.so',
    pjrtApi: '0.81',
    needs: 'an x86-64 CPU and glibc >= 2.27',
  },
  'xla-cuda': {
    id: 'xla-cuda',
    platform: 'cuda',
    spec: 'jax-cuda13-pjrt==0.11.2',
    wheel: 'jax_cuda13_pjrt-0.11.2-py3-none-manylinux_2_27_x86_64.whl',
    url: `${PYPI_FILES}/a8/13/247ba4ea1ac057309f2e1328d743ba355631b76d31fbebd076421a74e26e/jax_cuda13_pjrt-0.11.2-py3-none-manylinux_2_27_x86_64.whl`,
    sha256: 'e5ff589d43064913bb74027682d89639c7ea48f9f81c2bae6fc75117e913f93e',
    bytes: 134162640,
    member: 'jax_plugins/xla_cuda13/xla_cuda_plugin.so',
    file: 'xla_cuda_plugin.so',
    pjrtApi: '0.115',
    needs:
      'an NVIDIA GPU with driver >= 580 (CUDA 13), and the CUDA 13 libraries the plugin loads at run time (cudart, cuBLAS, ' +
      'cuDNN 9, cuFFT, cuSOLVER, cuSPARSE, NCCL, nvJitLink, CUPTI): `pip install "jax-cuda13-plugin[with-cuda]==0.11.2"` puts ' +
      'them in Python\'s site-packages (then run this install again: it links <plugin folder>/nvidia to them, where the plugin\'s ' +
      'RPATH $ORIGIN/../nvidia/cu13/lib looks), or install CUDA 13 and cuDNN 9 system-wide (ldconfig or LD_LIBRARY_PATH)',
  },
};

/** The per-user plugin folder: $HODU_PLUGIN_DIR, else $XDG_CACHE_HOME/hodu/plugins, else ~/.cache/hodu/plugins. */
export function pluginRoot(): string {
  if (process.env.HODU_PLUGIN_DIR) return path.resolve(process.env.HODU_PLUGIN_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  const cache = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(cache, 'hodu', 'plugins');
}

/** Where `hodu install <id>` puts the plugin library (it may not exist). */
export function installedPluginPath(id: PluginSpec['id']): string {
  return path.join(pluginRoot(), id, PLUGINS[id].file);
}

/** What manifest.json next to an installed plugin records. */
export interface PluginManifest {
  id: string;
  spec: string;
  wheel: string;
  sha256: string;
  pjrtApi: string;
  file: string;
  installed: string;
}

/** The manifest of an installed plugin, or null when it is not installed (or its library is missing). */
export function installedPlugin(id: PluginSpec['id']): PluginManifest | null {
  const dir = path.join(pluginRoot(), id);
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as PluginManifest;
    return fs.statSync(path.join(dir, m.file)).isFile() ? m : null;
  } catch {
    return null;
  }
}

// ---- zip (wheel) reading: only what wheels use (stored or deflated members, zip64 sizes) ----

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function zip64Extra(extra: Buffer, want: { size: boolean; csize: boolean; offset: boolean }): { size?: number; csize?: number; offset?: number } {
  const out: { size?: number; csize?: number; offset?: number } = {};
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    if (id === 0x0001) {
      let q = p + 4;
      if (want.size) { out.size = Number(extra.readBigUInt64LE(q)); q += 8; }
      if (want.csize) { out.csize = Number(extra.readBigUInt64LE(q)); q += 8; }
      if (want.offset) { out.offset = Number(extra.readBigUInt64LE(q)); q += 8; }
      return out;
    }
    p += 4 + len;
  }
  return out;
}

function badZip(file: string, what: string): HoduError {
  return new HoduError(ErrorCode.INVALID_FILE, `${file} is not a readable wheel (zip): ${what}`);
}

/** The central directory of a zip file held in memory. */
export function zipEntries(buf: Buffer, file = 'wheel'): ZipEntry[] {
  const min = Math.max(0, buf.length - 22 - 65535);
  let eocd = -1;
  for (let p = buf.length - 22; p >= min; p--) {
    if (buf.readUInt32LE(p) === 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw badZip(file, 'no end-of-central-directory record');
  let count = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if ((count === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 && buf.readUInt32LE(eocd - 20) === 0x07064b50) {
    const z64 = Number(buf.readBigUInt64LE(eocd - 12));
    if (z64 + 56 > buf.length || buf.readUInt32LE(z64) !== 0x06064b50) throw badZip(file, 'bad zip64 end record');
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw badZip(file, `central directory entry ${i} is damaged`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let csize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    let localOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (size === 0xffffffff || csize === 0xffffffff || localOffset === 0xffffffff) {
      const z = zip64Extra(buf.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), {
        size: size === 0xffffffff, csize: csize === 0xffffffff, offset: localOffset === 0xffffffff,
      });
      size = z.size ?? size;
      csize = z.csize ?? csize;
      localOffset = z.offset ?? localOffset;
    }
    entries.push({ name, method: buf.readUInt16LE(p + 10), compressedSize: csize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of one member of a zip file held in memory. */
export function zipRead(buf: Buffer, member: string, file = 'wheel'): Buffer {
  const e = zipEntries(buf, file).find((x) => x.name === member);
  if (!e) throw badZip(file, `it has no member ${member}`);
  const p = e.localOffset;
  if (p + 30 > buf.length || buf.readUInt32LE(p) !== 0x04034b50) throw badZip(file, `the local header of ${member} is damaged`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const data = buf.subarray(start, start + e.compressedSize);
  if (data.length !== e.compressedSize) throw badZip(file, `${member} is truncated`);
  let out: Buffer;
  if (e.method === 0) out = Buffer.from(data);
  else if (e.method === 8) out = zlib.inflateRawSync(data);
  else throw badZip(file, `${member} uses compression method ${e.method} (only stored and deflate are read)`);
  if (out.length !== e.size) throw badZip(file, `${member} unpacked to ${out.length} bytes, expected ${e.size}`);
  return out;
}

// ---- install ----

const sha256Of = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

async function download(spec: PluginSpec, log: (m: string) => void): Promise<Buffer> {
  const url = process.env.HODU_PLUGIN_URL_BASE ? `${process.env.HODU_PLUGIN_URL_BASE.replace(/\/$/, '')}/${spec.wheel}` : spec.url;
  log(`downloading ${spec.wheel} (${(spec.bytes / 1048576).toFixed(0)} MiB) from ${new URL(url).host}`);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    throw new HoduError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `could not download ${url} (${(e as Error).message}${cause ? `: ${cause}` : ''}). Offline or behind a proxy, fetch the wheel ` +
        `another way (\`pip download --no-deps ${spec.spec}\`) and run \`npx hodu install ${spec.id} --wheel <file.whl>\``,
    );
  }
  if (!res.ok) throw new HoduError(ErrorCode.BACKEND_UNAVAILABLE, `downloading ${url} failed: HTTP ${res.status} ${res.statusText}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Options of installPlugin. */
export interface InstallOptions {
  /** A wheel file already on disk (skips the download; its sha256 is still checked). */
  wheel?: string;
  /** Reinstall even when the same wheel is installed. */
  force?: boolean;
  log?: (message: string) => void;
}

/** Result of installPlugin. */
export interface InstallResult {
  id: PluginSpec['id'];
  path: string;
  /** False when the same wheel was installed already. */
  changed: boolean;
  manifest: PluginManifest;
}

/**
 * Installs a pinned PJRT plugin into the per-user plugin folder (see pluginRoot()). Checks the wheel's sha256 before
 * unpacking anything. Idempotent: a plugin installed from the same wheel is left alone unless `force`.
 */
export async function installPlugin(id: string, options: InstallOptions = {}): Promise<InstallResult> {
  const log = options.log ?? (() => {});
  if (!Object.prototype.hasOwnProperty.call(PLUGINS, id))
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `unknown plugin '${id}': expected one of ${Object.keys(PLUGINS).join(', ')}`);
  const spec = PLUGINS[id as PluginSpec['id']];
  const dir = path.join(pluginRoot(), spec.id);
  const target = path.join(dir, spec.file);
  const have = installedPlugin(spec.id);
  if (have && have.sha256 === spec.sha256 && !options.force) {
    if (spec.id === 'xla-cuda' && !fs.existsSync(path.join(pluginRoot(), 'nvidia'))) linkNvidiaLibraries(log);
    return { id: spec.id, path: target, changed: false, manifest: have };
  }

  const wheel = options.wheel ? fs.readFileSync(options.wheel) : await download(spec, log);
  const got = sha256Of(wheel);
  if (got !== spec.sha256)
    throw new HoduError(
      ErrorCode.INVALID_FILE,
      `sha256 mismatch for ${options.wheel ?? spec.wheel}: expected ${spec.sha256} (${spec.spec}), got ${got}; nothing was installed`,
    );
  log(`sha256 ok; unpacking ${spec.member}`);
  const lib = zipRead(wheel, spec.member, options.wheel ?? spec.wheel);
  fs.mkdirSync(dir, { recursive: true });
  const part = `${target}.part-${process.pid}`;
  fs.writeFileSync(part, lib, { mode: 0o755 });
  fs.renameSync(part, target);
  const manifest: PluginManifest = {
    id: spec.id, spec: spec.spec, wheel: spec.wheel, sha256: spec.sha256, pjrtApi: spec.pjrtApi, file: spec.file,
    installed: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  if (spec.id === 'xla-cuda') linkNvidiaLibraries(log);
  return { id: spec.id, path: target, changed: true, manifest };
}

/**
 * The CUDA plugin finds its CUDA libraries through RPATH entries relative to itself ($ORIGIN/../nvidia/cu13/lib,
 * …/nvidia/cudnn/lib, …/nvidia/nccl/lib), laid out for Python's site-packages. Installed into <plugin folder>/xla-cuda/,
 * $ORIGIN/../nvidia is <plugin folder>/nvidia: link that to the `nvidia` folder of the pip packages
 * (jax-cuda13-plugin[with-cuda]) when python3 has them. Returns the folder linked, or null.
 */
export function linkNvidiaLibraries(log: (m: string) => void = () => {}): string | null {
  let dirs: string[] = [];
  try {
    const out = execFileSync('python3', ['-c', 'import json, site, sys\nprint(json.dumps(sys.path + site.getsitepackages() + [site.getusersitepackages()]))'], {
      encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'],
    });
    dirs = JSON.parse(out.trim()) as string[];
  } catch {
    // no python3
  }
  for (const venv of [process.env.VIRTUAL_ENV, '/opt/torch/.venv']) {
    if (!venv || !fs.existsSync(path.join(venv, 'lib'))) continue;
    for (const py of fs.readdirSync(path.join(venv, 'lib')).filter((d) => d.startsWith('python'))) dirs.push(path.join(venv, 'lib', py, 'site-packages'));
  }
  const nvidia = dirs.map((d) => path.join(d, 'nvidia')).find((d) => fs.existsSync(path.join(d, 'cu13', 'lib')));
  const link = path.join(pluginRoot(), 'nvidia');
  if (!nvidia) {
    log('no pip-installed CUDA 13 libraries (site-packages/nvidia/cu13) found; the plugin will look in the system library path');
    return null;
  }
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(nvidia, link, 'dir');
  log(`linked ${link} -> ${nvidia} (the CUDA libraries the plugin loads)`);
  return nvidia;
}
