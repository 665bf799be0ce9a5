// XLA backend entry point: finds a PJRT plugin for the device and hands Script the native XLA
// functions (native/binding/xla_wrap.cc). The plugin is a shared library loaded with dlopen when a
// script first compiles for XLA; nothing of it is linked or bundled.
//
// Plugin search, first hit wins (every place tried is listed when none is found):
//   1. setXlaPlugin(platform, path), then the env var HODU_PJRT_PLUGIN_CPU / HODU_PJRT_PLUGIN_CUDA;
//   1b. the per-user plugin folder of `npx hodu install xla-cpu | xla-cuda` (lib/plugins.ts): $HODU_PLUGIN_DIR, else
//      $XDG_CACHE_HOME/hodu/plugins, else ~/.cache/hodu/plugins (xla-cpu/xla_cpu_pjrt.so, xla-cuda/xla_cuda_plugin.so);
//   2. the project cache: $HODU_CACHE_DIR/pjrt-cpu/xla_cpu_pjrt.so, else <package>/.cache/pjrt-cpu/xla_cpu_pjrt.so
//      (written by `node scripts/deps.js --pjrt`, which `npm run build` runs);
//   3. installed Python packages: xla_plugins/xla_cpu_pjrt/xla_cpu_pjrt.so (pip install xla-cpu-pjrt) and
//      jax_plugins/xla_cuda*/xla_cuda_plugin.so (pip install jax-cuda13-pjrt), in python3's sys.path and
//      in $VIRTUAL_ENV and /opt/torch/.venv.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Device } from './device';
import { ErrorCode, HoduError } from './errors';
import { binding, call } from './native';
import { checkXlaFlags } from './xla-flags';
import { installedPluginPath } from './plugins';
import { xlaCacheCompileOptions } from './xla-cache';
import { xlaCpuDebugOptions } from './xla-cpu-defaults';

export type XlaPlatform = 'cpu' | 'cuda';

export interface XlaTarget {
  plugin: string;
  platform: XlaPlatform;
  device: number;
  /** Several devices (indices; SPMD over them), when more than one. */
  devices?: number[];
}

/** Statistics of a compiled XLA executable (Script.planInfo() on Backend.XLA). */
export interface XlaPlanInfo {
  steps: number;
  arenaBytes: number;
  constantBytes: number;
  scratchBytes: number;
  folded: number;
  views: number;
  kernels: string[];
  /** Loops rolled into stablehlo.while. */
  loops: { trips: number }[];
  backend: 'xla';
  plugin: string;
  apiVersion: string;
  platform: string;
  device: string;
  emitMs: number;
  compileMs: number;
  constantsMs: number;
  textBytes: number;
  ops: number;
  params: number;
  constantParams: number;
  inlinedConstants: number;
  /** The persistent compile cache: 'hit' (loaded, not compiled), 'miss' (compiled, then stored) or 'off'. */
  cache: 'hit' | 'miss' | 'off';
  /** Time spent hashing and reading/writing the cache entry. */
  cacheMs: number;
  /** Devices the executable runs on (SPMD when more than one). */
  numDevices: number;
  text?: string;
}

export interface XlaClientInfo {
  plugin: string;
  apiVersion: string;
  platform: string;
  platformVersion: string;
  paddedArgs: boolean;
  devices: string[];
  attributes: Record<string, string>;
}

/** The XLA backend's native functions (native/binding/xla_wrap.cc; run/runAsync/info/release are the shared executable functions of native/binding/executable_wrap.cc); part of lib/native.ts Binding. */
export interface XlaBinding {
  xlaAvailable(): boolean;
  xlaCompile(
    target: XlaTarget,
    ir: Uint8Array,
    constants: ArrayBuffer[],
    options?: {
      optLevel?: number;
      rollLoops?: boolean;
      debugOptions?: Record<string, number>;
      cacheDir?: string;
      cacheMaxBytes?: number;
      cacheSalt?: string;
      split?: Record<string, number>;
    },
  ): unknown;
  xlaRun(h: unknown, inputs: ArrayBufferView[]): ArrayBuffer[];
  xlaRunAsync(h: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: ArrayBuffer[]) => void): void;
  xlaRelease(h: unknown): void;
  xlaInfo(h: unknown, withText?: boolean): XlaPlanInfo;
  xlaClientInfo(plugin: string, platform: XlaPlatform): XlaClientInfo;
  xlaEmit(ir: Uint8Array, constants: ArrayBuffer[], options?: { rollLoops?: boolean }): string;
  xlaCompileText(target: XlaTarget, text: string): number;
}

const xb: XlaBinding = binding;

/** The shape of Script's backend object (lib/script.ts NativeBackend). */
export interface XlaNativeBackend {
  readonly target: XlaTarget;
  compile(ir: Uint8Array, constants: ArrayBuffer[], options: { foldConstants?: boolean; rollLoops?: boolean; cache?: boolean }): unknown;
  run(handle: unknown, inputs: ArrayBufferView[]): ArrayBuffer[];
  runAsync(handle: unknown, inputs: ArrayBufferView[], cb: (err: unknown, out?: ArrayBuffer[]) => void): void;
  release(handle: unknown): void;
  info(handle: unknown): XlaPlanInfo;
}

const ENV_VAR: Record<XlaPlatform, string> = { cpu: 'HODU_PJRT_PLUGIN_CPU', cuda: 'HODU_PJRT_PLUGIN_CUDA' };
const explicit: Partial<Record<XlaPlatform, string>> = {};

/** Uses this plugin .so for a platform (null: back to the search). Takes effect at the next compile. */
export function setXlaPlugin(platform: XlaPlatform, pluginPath: string | null): void {
  if (platform !== 'cpu' && platform !== 'cuda') throw new HoduError(ErrorCode.INVALID_ARGUMENT, `setXlaPlugin: platform must be 'cpu' or 'cuda'`);
  if (pluginPath === null) delete explicit[platform];
  else explicit[platform] = path.resolve(pluginPath);
}

/** True when this build of the addon has the PJRT client (pjrt_c_api.h was found at build time). */
export function xlaBuilt(): boolean {
  return typeof xb.xlaAvailable === 'function' && xb.xlaAvailable();
}

const isFile = (p: string): boolean => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};
const isDir = (p: string): boolean => {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

let sitePackagesCache: string[] | null = null;

/** Folders where Python packages may be installed: python3's sys.path, $VIRTUAL_ENV, /opt/torch/.venv. */
export function pythonSitePackages(): string[] {
  if (sitePackagesCache) return sitePackagesCache;
  const dirs: string[] = [];
  for (const py of ['python3', 'python']) {
    try {
      const out = execFileSync(
        py,
        ['-c', 'import json, site, sys\nprint(json.dumps(sys.path + site.getsitepackages() + [site.getusersitepackages()]))'],
        { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      dirs.push(...(JSON.parse(out.trim()) as string[]));
      break;
    } catch {
      // no python here: scan the known environments only
    }
  }
  for (const venv of [process.env.VIRTUAL_ENV, '/opt/torch/.venv']) {
    if (!venv) continue;
    const lib = path.join(venv, 'lib');
    if (!isDir(lib)) continue;
    for (const py of fs.readdirSync(lib).filter((d) => d.startsWith('python')).sort().reverse()) dirs.push(path.join(lib, py, 'site-packages'));
  }
  const seen = new Set<string>();
  sitePackagesCache = dirs.filter((d) => d && !seen.has(d) && (seen.add(d), true) && isDir(d));
  return sitePackagesCache;
}

/** Where scripts/deps.js puts the plugin: $HODU_CACHE_DIR, else <package>/.cache (the same rule as deps.js). */
function cacheCandidate(): string {
  const env = process.env.HODU_CACHE_DIR;
  // HODU_CACHE_DIR=off turns the compile cache off (lib/xla-cache.ts); the plugin is then in <package>/.cache
  const root = env && env.toLowerCase() !== 'off' ? path.resolve(env) : path.join(__dirname, '..', '.cache');
  return path.join(root, 'pjrt-cpu', 'xla_cpu_pjrt.so');
}

export interface PluginSearch {
  platform: XlaPlatform;
  /** The plugin found, or null. */
  path: string | null;
  /** Every place looked at, in order. */
  tried: string[];
}

/** Finds the PJRT plugin for a platform (see the search order at the top of this file). */
export function findPjrtPlugin(platform: XlaPlatform): PluginSearch {
  const tried: string[] = [];
  const hit = (p: string): PluginSearch => ({ platform, path: p, tried });
  const ex = explicit[platform];
  if (ex) {
    tried.push(`setXlaPlugin('${platform}'): ${ex}`);
    return hit(ex);  // chosen explicitly: the native loader reports it if it is not a plugin
  }
  const env = process.env[ENV_VAR[platform]];
  if (env) {
    tried.push(`${ENV_VAR[platform]}=${env}`);
    return hit(path.resolve(env));
  }
  tried.push(`${ENV_VAR[platform]} (not set)`);
  const user = installedPluginPath(platform === 'cpu' ? 'xla-cpu' : 'xla-cuda');
  tried.push(user);
  if (isFile(user)) return hit(user);
  if (platform === 'cpu') {
    const c = cacheCandidate();
    tried.push(c);
    if (isFile(c)) return hit(c);
  }
  for (const site of pythonSitePackages()) {
    if (platform === 'cpu') {
      const c = path.join(site, 'xla_plugins', 'xla_cpu_pjrt', 'xla_cpu_pjrt.so');
      tried.push(c);
      if (isFile(c)) return hit(c);
    } else {
      const jp = path.join(site, 'jax_plugins');
      tried.push(path.join(jp, 'xla_cuda*', 'xla_cuda_plugin.so'));
      if (!isDir(jp)) continue;
      const dirs = fs.readdirSync(jp).filter((d) => d.startsWith('xla_cuda')).sort().reverse();  // newest CUDA first
      for (const d of dirs) {
        const c = path.join(jp, d, 'xla_cuda_plugin.so');
        if (isFile(c)) return hit(c);
      }
    }
  }
  return { platform, path: null, tried };
}

function howToGet(platform: XlaPlatform): string {
  return platform === 'cpu'
    ? 'Get the OpenXLA CPU plugin with `npx hodu install xla-cpu` (xla-cpu-pjrt==0.0.1 from PyPI, sha256-checked, into ' +
        'the per-user plugin folder; in a clone of hodu, `node scripts/deps.js --pjrt` puts it in .cache/pjrt-cpu), or ' +
        '`pip install xla-cpu-pjrt==0.0.1`, or set HODU_PJRT_PLUGIN_CPU=/path/to/xla_cpu_pjrt.so'
    : 'Install a CUDA PJRT plugin with `npx hodu install xla-cuda` (it prints what the GPU driver and CUDA libraries must be), ' +
        'or `pip install jax-cuda13-pjrt "jax-cuda13-plugin[with-cuda]"`, or set HODU_PJRT_PLUGIN_CUDA=/path/to/xla_cuda_plugin.so';
}

function notFound(search: PluginSearch, device: Device): HoduError {
  const code = search.platform === 'cpu' ? ErrorCode.BACKEND_UNAVAILABLE : ErrorCode.DEVICE_UNAVAILABLE;
  return new HoduError(
    code,
    `the XLA backend on ${device} needs a PJRT ${search.platform.toUpperCase()} plugin and none was found. ` +
      `Looked at: ${search.tried.join('; ')}. ${howToGet(search.platform)}.`,
  );
}

/**
 * The backend object Script uses for Backend.XLA on `device` (throws when no plugin/GPU is found).
 * `devices` (more than one, all of `device`'s kind): SPMD over them; `split` maps input names to the
 * axis each is split along (inputs not named are replicated; omitted: every input whose first dim
 * is a multiple of the device count is split along it, hodu's reserved '@' inputs replicated).
 */
export function xlaBackend(device: Device, devices?: readonly Device[], split?: Record<string, number>): XlaNativeBackend {
  const platform: XlaPlatform = device.isCpu ? 'cpu' : 'cuda';
  if (!xlaBuilt())
    throw new HoduError(
      platform === 'cpu' ? ErrorCode.BACKEND_UNAVAILABLE : ErrorCode.DEVICE_UNAVAILABLE,
      `the XLA backend (${device}) is not available: this build of hodu has no XLA support because pjrt_c_api.h ` +
        'was not found when the addon was built. Run `node scripts/deps.js --pjrt` (fetches xla-cpu-pjrt==0.0.1 with pip: ' +
        'the CPU plugin and its header) and rebuild with `npm run build` (remove build/ first if it was configured without it).',
    );
  const search = findPjrtPlugin(platform);
  if (!search.path) throw notFound(search, device);
  if (platform === 'cuda' && !fs.existsSync('/dev/nvidiactl'))
    throw new HoduError(
      ErrorCode.DEVICE_UNAVAILABLE,
      `${device} is not available: this machine has no NVIDIA GPU (/dev/nvidiactl does not exist); the CUDA plugin found is ${search.path}`,
    );
  checkXlaFlags(search.path, platform);  // a bad XLA_FLAGS would end the process at the first compile
  const target: XlaTarget = { plugin: search.path, platform, device: device.index };
  if (devices && devices.length > 1) target.devices = devices.map((d) => d.index);
  const level = process.env.HODU_XLA_OPT_LEVEL;
  const options: { optLevel?: number; debugOptions?: Record<string, number> } = level !== undefined && /^\d+$/.test(level) ? { optLevel: Number(level) } : {};
  if (platform === 'cpu') {
    const debugOptions = xlaCpuDebugOptions();  // lib/xla-cpu-defaults.ts (AVX-512 vector width)
    if (Object.keys(debugOptions).length > 0) options.debugOptions = debugOptions;
  }
  return {
    target,
    compile: (ir, constants, o) =>
      xb.xlaCompile(target, ir, constants, {
        ...options,
        rollLoops: o.rollLoops !== false,
        ...xlaCacheCompileOptions(o.cache !== false),
        ...(split ? { split } : {}),
      }),
    run: (h, inputs) => xb.xlaRun(h, inputs),
    runAsync: (h, inputs, cb) => xb.xlaRunAsync(h, inputs, cb),
    release: (h) => xb.xlaRelease(h),
    info: (h) => xb.xlaInfo(h),
  };
}

/** Loads the plugin for `device` and describes its client (PJRT version, devices, attributes). */
export function xlaClientInfo(device: Device = Device.CPU): XlaClientInfo {
  const be = xlaBackend(device);
  return call(() => xb.xlaClientInfo(be.target.plugin, be.target.platform));
}

/** The StableHLO text the XLA backend compiles for a script (no plugin needed). */
export function emitStableHlo(script: { _ir: Uint8Array; _constants: ArrayBuffer[] }, options: { rollLoops?: boolean } = {}): string {
  return call(() => xb.xlaEmit(script._ir, script._constants, { rollLoops: options.rollLoops !== false }));
}

/** Compiles raw StableHLO text with the plugin for `device` and discards it; returns the output count.
 * COMPILE_FAILED (with XLA's diagnostics) when XLA rejects it. For debugging lowerings. */
export function compileStableHlo(text: string, device: Device = Device.CPU): number {
  const be = xlaBackend(device);
  return call(() => xb.xlaCompileText(be.target, text));
}

/** @internal Forgets the cached Python site-packages list (tests). */
export function _resetPluginSearch(): void {
  sitePackagesCache = null;
}
