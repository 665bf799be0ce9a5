// The persistent XLA compile cache: where it lives and whether it is on. The entries themselves
// (format, checksums, atomic writes, LRU eviction) are handled natively (native/xla/compile_cache.h);
// this file only decides the folder and bound that each XLA compile is given.
//
// On by default for Backend.XLA. Folder, first rule that applies:
//   1. setXlaCache({ dir }) (null or { dir: null }: off for this process);
//   2. HODU_CACHE_DIR=off: off; HODU_CACHE_DIR=<root>: <root>/xla (the same root scripts/deps.js uses);
//   3. $XDG_CACHE_HOME/hodu/xla, else ~/.cache/hodu/xla.
// Bound: setXlaCache({ maxBytes }), else HODU_CACHE_MAX_BYTES, else 512 MiB (least recently used
// entries are deleted past it). `script.compile({ cache: false })` skips it for one script.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ErrorCode, HoduError, describe } from './errors';
import { binding } from './native';

/** Default bound of the compile cache folder: 512 MiB. */
export const DEFAULT_XLA_CACHE_MAX_BYTES = 512 * 1024 * 1024;

/** Counters of the persistent compile cache in this process (all scripts together). */
export interface XlaCacheCounters {
  /** Executables loaded from the cache instead of compiled. */
  hits: number;
  /** Compiles done with the cache on (the result was then stored). */
  misses: number;
  writes: number;
  evictions: number;
  /** Entries found but not used: wrong header, truncated, checksum mismatch, or refused by the plugin. */
  rejected: number;
  /** IO problems (unwritable folder, a folder of another user): those compiles ran uncached. */
  errors: number;
}

interface CacheSettings {
  dir?: string | null;
  maxBytes?: number;
}

let explicit: CacheSettings | null | undefined;  // undefined: not set (environment rules apply)

/**
 * Moves, bounds or disables the persistent XLA compile cache for this process. `null` (or
 * `{ dir: null }`) turns it off; `undefined` fields keep the environment's choice; call with
 * `undefined` to go back to the environment entirely. Takes effect at the next compile.
 */
export function setXlaCache(settings: { dir?: string | null; maxBytes?: number } | null | undefined): void {
  if (settings === undefined || settings === null) {
    explicit = settings;
    return;
  }
  if (typeof settings !== 'object') throw new HoduError(ErrorCode.INVALID_ARGUMENT, `setXlaCache: expected an object or null, got ${describe(settings)}`);
  if (settings.maxBytes !== undefined && !(Number.isSafeInteger(settings.maxBytes) && settings.maxBytes >= 0))
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `setXlaCache: maxBytes must be a non-negative integer, got ${describe(settings.maxBytes)}`);
  if (settings.dir !== undefined && settings.dir !== null && (typeof settings.dir !== 'string' || settings.dir === ''))
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `setXlaCache: dir must be a folder path or null, got ${describe(settings.dir)}`);
  explicit = { dir: settings.dir === undefined ? undefined : settings.dir === null ? null : path.resolve(settings.dir), maxBytes: settings.maxBytes };
}

/** The folder XLA executables are cached in, or null when the cache is off. */
export function xlaCacheDir(): string | null {
  if (explicit === null) return null;
  if (explicit && explicit.dir !== undefined) return explicit.dir;
  const env = process.env.HODU_CACHE_DIR;
  if (env !== undefined && env !== '') return env.toLowerCase() === 'off' ? null : path.join(path.resolve(env), 'xla');
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'hodu', 'xla');
}

/** The cache folder's bound in bytes. */
export function xlaCacheMaxBytes(): number {
  if (explicit && explicit.maxBytes !== undefined) return explicit.maxBytes;
  const env = process.env.HODU_CACHE_MAX_BYTES;
  if (env && /^\d+$/.test(env)) return Number(env);
  return DEFAULT_XLA_CACHE_MAX_BYTES;
}

let saltCache: string | null = null;

/** The compile options that point an XLA compile at the cache (empty when off). */
export function xlaCacheCompileOptions(enabled: boolean): { cacheDir?: string; cacheMaxBytes?: number; cacheSalt?: string } {
  const dir = enabled ? xlaCacheDir() : null;
  if (dir === null) return {};
  if (saltCache === null) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const pkg = require('../package.json') as { version: string };
    saltCache = `hodu ${pkg.version}`;
  }
  return { cacheDir: dir, cacheMaxBytes: xlaCacheMaxBytes(), cacheSalt: saltCache };
}

/** This process's compile-cache counters (see XlaCacheCounters). */
export function xlaCacheCounters(): XlaCacheCounters {
  const f = (binding as unknown as { xlaCacheCounters?: () => XlaCacheCounters }).xlaCacheCounters;
  return f ? f() : { hits: 0, misses: 0, writes: 0, evictions: 0, rejected: 0, errors: 0 };
}

/** Deletes every cached executable in the cache folder (or in `dir`). Returns how many were deleted. */
export function clearXlaCache(dir: string | null = xlaCacheDir()): number {
  if (dir === null) return 0;
  let n = 0;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.endsWith('.hxla')) continue;
    try {
      fs.unlinkSync(path.join(dir, name));
      n++;
    } catch {
      // removed by another process meanwhile
    }
  }
  return n;
}
