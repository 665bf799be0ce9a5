// Finds and loads the native addon (hodu.node). Nothing is ever compiled or downloaded here or at install time.
//
// Search, first hit wins:
//   1. HODU_ADDON=/path/to/hodu.node (a build of your own);
//   2. the platform package that npm installed as an optional dependency, e.g. @hodu/linux-x64-gnu: its hodu.node
//      sits next to the libdnnl.so.3 and libgomp.so.1 it needs (RUNPATH $ORIGIN);
//   3. a local build in the package folder, build/Release/hodu.node (a clone after `npm run build`).
// A candidate that exists but fails to load is reported as such (it is never skipped silently).
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode, HoduError } from './errors';

/** The platform packages published next to hodu (npm/<tuple>/package.json in the repository). */
export const PREBUILT_PLATFORMS: readonly string[] = ['linux-x64-gnu'];

function muslLoaderPresent(): boolean {
  try {
    return fs.readdirSync('/lib').some((f) => f.startsWith('ld-musl-'));
  } catch {
    return false;
  }
}

/** This machine's platform tuple as the platform packages name it: `<os>-<arch>[-gnu|-musl]`. */
export function platformTuple(): string {
  let tuple = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') {
    let musl: boolean;
    try {
      const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
      musl = report?.header ? !report.header.glibcVersionRuntime : muslLoaderPresent();
    } catch {
      musl = muslLoaderPresent(); // runtimes without process.report (Bun)
    }
    tuple += musl ? '-musl' : '-gnu';
  }
  return tuple;
}

/** The name of the platform package for a tuple, e.g. `@hodu/linux-x64-gnu`. */
export function platformPackage(tuple: string = platformTuple()): string {
  return `@hodu/${tuple}`;
}

/** One place the loader looked at. */
export interface AddonCandidate {
  /** 'env' (HODU_ADDON), 'platform-package' or 'local-build'. */
  kind: 'env' | 'platform-package' | 'local-build';
  /** The hodu.node path, or a description when it could not be resolved. */
  where: string;
  found: boolean;
}

/** Where the addon would be taken from, in search order (for `hodu doctor` and the error message). */
export function addonCandidates(packageRoot: string = path.join(__dirname, '..')): AddonCandidate[] {
  const out: AddonCandidate[] = [];
  const env = process.env.HODU_ADDON;
  if (env) out.push({ kind: 'env', where: path.resolve(env), found: fs.existsSync(env) });
  const pkg = platformPackage();
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [packageRoot] }));
    const node = path.join(dir, 'hodu.node');
    out.push({ kind: 'platform-package', where: node, found: fs.existsSync(node) });
  } catch {
    out.push({ kind: 'platform-package', where: `${pkg} (not installed)`, found: false });
  }
  const local = path.join(packageRoot, 'build', 'Release', 'hodu.node');
  out.push({ kind: 'local-build', where: local, found: fs.existsSync(local) });
  return out;
}

let loadedFrom: string | null = null;

/** The hodu.node the process loaded (null before the first load). */
export function addonPath(): string | null {
  return loadedFrom;
}

function noAddon(candidates: AddonCandidate[]): HoduError {
  const tuple = platformTuple();
  const prebuilt = PREBUILT_PLATFORMS.includes(tuple);
  const why = prebuilt
    ? `the platform package ${platformPackage(tuple)} is not installed (was the install run with --no-optional or --omit=optional, ` +
      'or copied from another platform?). Reinstall hodu with optional dependencies'
    : `hodu has no prebuilt binary for this platform (${tuple}; prebuilt: ${PREBUILT_PLATFORMS.join(', ')})`;
  return new HoduError(
    ErrorCode.BACKEND_UNAVAILABLE,
    `hodu: the native addon was not found: ${why}. Looked at: ${candidates.map((c) => c.where).join('; ')}. ` +
      'To build it from source: clone the hodu repository and run `npm run build` there (it fetches cmake and oneDNN, needs ' +
      'a C++17 compiler and python3 with pip), then point HODU_ADDON at its build/Release/hodu.node or install that clone.',
  );
}

/** Loads the addon from the first candidate that exists. Throws a HoduError naming the platform when none does. */
export function loadAddon<T>(packageRoot: string = path.join(__dirname, '..')): T {
  const candidates = addonCandidates(packageRoot);
  const hit = candidates.find((c) => c.found);
  if (!hit) throw noAddon(candidates);
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const addon = require(hit.where) as T;
    loadedFrom = hit.where;
    return addon;
  } catch (e) {
    throw new HoduError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `hodu: the native addon ${hit.where} (${hit.kind}) exists but could not be loaded on ${platformTuple()}: ${(e as Error).message}`,
    );
  }
}
