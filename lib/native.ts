// The only place that loads the native addon. Everything else imports `binding` from here.
import * as path from 'path';
import { HoduError, ErrorCode, fromNative } from './errors';
import { loadAddon } from './load-addon';

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

/**
 * OpenMP (libgomp, which oneDNN uses) reads its settings once, when the addon loads it. Its default
 * wait policy spins up to 300 000 times (about 24 ms on the 2-vCPU machine we measure on) before a
 * waiting thread sleeps. When another process takes a CPU, the two threads of a parallel region can
 * end up on one CPU, and every region then waits out the whole spin: a 27 µs MLP run took 24-36 ms
 * (README, "Benchmarks": under load). A spin of 20 000 keeps the fast path (a run's regions follow
 * each other within microseconds) and bounds that case at about 1.6 ms per region. A value the user
 * set (GOMP_SPINCOUNT or OMP_WAIT_POLICY) wins. Child processes inherit it, as with any env var.
 */
function tuneOpenMp(): void {
  const env = process.env;
  if (env.GOMP_SPINCOUNT === undefined && env.OMP_WAIT_POLICY === undefined) env.GOMP_SPINCOUNT = '20000';
}

function load(): Binding {
  tuneOpenMp();
  // lib/load-addon.ts: HODU_ADDON, then the platform package (@hodu/linux-x64-gnu), then build/Release (a clone).
  return loadAddon<Binding>(path.join(__dirname, '..'));
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
