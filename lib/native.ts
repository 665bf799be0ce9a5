// The only place that loads the native addon. Everything else imports `binding` from here.
import * as path from 'path';
import { HoduError, ErrorCode, fromNative } from './errors';

/** [dtype code, shape, strides, offset] */
export type NativeDesc = [number, number[], number[], number];
/** [buffer, dtype code, shape, strides, offset] */
export type NativeInput = [ArrayBuffer, number, number[], number[], number];

export interface Binding {
  opTable(): { name: string; arity: number; attrs: string }[];
  infer(op: number, attrs: number[], inputs: NativeDesc[]): [number, number[], number[], number, boolean];
  exec(op: number, attrs: number[], inputs: NativeInput[]): [ArrayBuffer, number, number[]] | [null, number, number[], number[], number];
  kernelImpl(op: number, attrs: number[], inputs: NativeDesc[]): string;
  fillRandom(buf: ArrayBuffer, dtype: number, kind: number, a: number, b: number, seedHi: number, seedLo: number): void;
  detach(buf: ArrayBuffer): void;
  info(): { onednn: string; threads: number };
}

function load(): Binding {
  const root = path.join(__dirname, '..');
  try {
    // node-gyp-build: build/Release (a local build) first, then prebuilds/<platform>-<arch>/.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('node-gyp-build')(root) as Binding;
  } catch (e) {
    throw new HoduError(
      ErrorCode.INTERNAL,
      `hodu: the native addon could not be loaded (${(e as Error).message}). ` +
        'Prebuilt binaries exist for linux-x64; elsewhere run `npm run build` in the package folder ' +
        '(it fetches oneDNN and builds with cmake).',
    );
  }
}

export const binding: Binding = load();

/** Opcode by op name, from the native op table (native/core/ops.def). */
const OPCODES = new Map<string, number>();
binding.opTable().forEach((o, i) => OPCODES.set(o.name, i));

export function opcode(name: string): number {
  const c = OPCODES.get(name);
  if (c === undefined) throw new HoduError(ErrorCode.INTERNAL, `unknown op '${name}'`);
  return c;
}

export function opName(code: number): string {
  const t = binding.opTable();
  return t[code]?.name ?? `op#${code}`;
}

/** Calls into the addon, turning native errors into HoduErrors thrown from the caller's stack. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}
