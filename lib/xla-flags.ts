// XLA_FLAGS guard. XLA parses the XLA_FLAGS environment variable once, at the first compile, and ends
// the process (LOG(FATAL), exit 1) on an unknown flag, a value it cannot parse, or a word that is not a
// `--flag` (read as a flag file). hodu checks the variable before the first XLA use of each plugin:
//  1. every word must look like `--name` or `--name=value`;
//  2. every name must be one the plugin knows: XLA registers each flag by its name, so the name is
//     stored in the plugin binary as a NUL-terminated string; a name not found there is unknown;
//  3. the values: a child process (same environment) compiles a one-op program with the plugin; if it
//     dies, the flags are refused with XLA's own message, and this process never lets XLA parse them.
// Any failure is a HoduError (BACKEND_UNAVAILABLE) naming the flags; the result is cached per plugin and value.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { ErrorCode, HoduError } from './errors';
import { addonPath } from './load-addon';

const checked = new Map<string, HoduError | null>();

/** Splits XLA_FLAGS into words (spaces separate; XLA's own tokenizer also honours quotes, which we refuse). */
export function xlaFlagWords(value: string): string[] {
  return value.split(/\s+/).filter((w) => w.length > 0);
}

/** The malformed words of an XLA_FLAGS value (not `--name[=value]`). */
export function malformedXlaFlags(words: string[]): string[] {
  return words.filter((w) => !/^--?[A-Za-z_][A-Za-z0-9_]*(=[^"']*)?$/.test(w));
}

/** The flag names among `words` that the plugin binary at `plugin` does not contain. */
export function unknownXlaFlags(words: string[], plugin: string): string[] {
  const names = words.map((w) => w.replace(/^--?/, '').replace(/=.*$/, ''));
  let bin: Buffer;
  try {
    bin = fs.readFileSync(plugin);
  } catch {
    return [];  // the loader reports a missing or unreadable plugin itself
  }
  return names.filter((n) => bin.indexOf(Buffer.from(`\0${n}\0`, 'latin1')) < 0);
}

const PROBE = `
const [addon, plugin, platform] = process.argv.slice(1);
const b = require(addon);
b.xlaCompileText({ plugin, platform, device: 0 },
  'func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {\\n  %0 = stablehlo.add %a, %a : tensor<2xf32>\\n  return %0 : tensor<2xf32>\\n}\\n');
`;

function probe(plugin: string, platform: string): string | null {
  const addon = addonPath();
  if (addon === null) return null;  // the addon is loaded before any XLA use; nothing to probe with otherwise
  const r = spawnSync(process.execPath, ['-e', PROBE, addon, plugin, platform], {
    env: process.env,
    encoding: 'utf8',
    timeout: 120000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status === 0) return null;
  const text = `${r.stderr || ''}`.split('\n').filter((l) => /XLA_FLAGS|[Ff]lag|Unknown|parsing/.test(l));
  if (r.status !== 1 && text.length === 0) return null;  // failed for another reason (no GPU, ...): not the flags
  return (text.join(' ').trim() || `exit code ${r.status}, signal ${r.signal}`).slice(0, 600);
}

/**
 * Throws BACKEND_UNAVAILABLE when XLA_FLAGS would make XLA end the process with this plugin.
 * A no-op when XLA_FLAGS is unset or empty.
 */
export function checkXlaFlags(plugin: string, platform: string): void {
  const value = process.env.XLA_FLAGS;
  if (!value || value.trim() === '') return;
  const key = `${plugin}\n${platform}\n${value}`;
  if (!checked.has(key)) checked.set(key, findProblem(value, plugin, platform));
  const err = checked.get(key);
  if (err) throw new HoduError(err.code, err.message);
}

function findProblem(value: string, plugin: string, platform: string): HoduError | null {
  const words = xlaFlagWords(value);
  const bad = malformedXlaFlags(words);
  const where = `XLA_FLAGS='${value}'`;
  if (bad.length > 0)
    return new HoduError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `${where}: ${bad.map((w) => `'${w}'`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not of the form --name or --name=value; XLA would end the process. Fix or unset XLA_FLAGS`,
    );
  const unknown = unknownXlaFlags(words, plugin);
  if (unknown.length > 0)
    return new HoduError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `${where}: unknown flag${unknown.length === 1 ? '' : 's'} ${unknown.map((n) => `--${n}`).join(', ')} (not known to the plugin ${plugin}); XLA would end the process. Fix or unset XLA_FLAGS`,
    );
  const died = probe(plugin, platform);
  if (died)
    return new HoduError(
      ErrorCode.BACKEND_UNAVAILABLE,
      `${where}: XLA refuses these flags (a test compile in a child process failed: ${died}); XLA would end the process. Fix or unset XLA_FLAGS`,
    );
  return null;
}
