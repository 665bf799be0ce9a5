// The only place that loads the native addon. Everything else imports `binding` from here.
import * as path from 'path';
import { HoduError, ErrorCode, fromNative } from './errors';
import { loadAddon } from './load-addon';
import type { ScriptBinding } from './script';
import type { XlaBinding } from './xla';

/** [dtype code, shape, strides, offset] */
export type NativeDesc = [number, number[], number[], number];
/** [buffer, dtype code, shape, strides, offset] */
export type NativeInput = [ArrayBuffer, number, number[], number[], number];

/** One row of the native op table (native/core/ops.def), indexed by opcode. */
export interface OpTableEntry {
  name: string;
  /** Number of tensor inputs; -1 = one or more. */
  arity: number;
  /** The attribute schema, e.g. "keepdim, dims..." (a last name ending in "..." takes zero or more values). */
  attrs: string;
  /** Shape/dtype family, e.g. "UnaryFloat". */
  family: string;
  /** "vjp" (lib/autograd/vjp.ts has its VJP), "none" (not differentiable) or "internal" (a gradient op). */
  grad: 'vjp' | 'none' | 'internal';
  /** Fixed attribute count; with attrVariadic, the minimum. */
  attrCount: number;
  attrVariadic: boolean;
}

/** The core functions of the addon (native/binding/addon.cc). */
export interface CoreBinding {
  opTable(): OpTableEntry[];
  infer(op: number, attrs: number[], inputs: NativeDesc[]): [number, number[], number[], number, boolean];
  exec(op: number, attrs: number[], inputs: NativeInput[]): [ArrayBuffer, number, number[]] | [null, number, number[], number[], number];
  kernelImpl(op: number, attrs: number[], inputs: NativeDesc[]): string;
  /** @internal The eager kernel cache of this thread's addon instance (native/kernels/kernel_cache.h); a number sets its capacity first. */
  kernelCache(capacity?: number): { size: number; capacity: number; hits: number; misses: number };
  fillRandom(buf: ArrayBuffer, dtype: number, kind: number, a: number, b: number, seedHi: number, seedLo: number): void;
  detach(buf: ArrayBuffer): void;
  info(): { onednn: string; threads: number };
  /** The machine's fp32 peak and triad bandwidth, measured now (about a second; bench/). */
  roofline(threads: number): { peakGflops: number; bandwidthGBs: number };
}

/**
 * The whole native surface, typed once: the core functions above, the HODU backend's compiled
 * plans (lib/script.ts ScriptBinding) and the XLA backend's executables (lib/xla.ts XlaBinding).
 */
export interface Binding extends CoreBinding, ScriptBinding, XlaBinding {}

/**
 * OpenMP (libgomp, which oneDNN uses) reads its settings once, when the addon loads it. Its default
 * wait policy spins up to 300 000 times (about 24 ms on the 2-vCPU machine we measure on) before a
 * waiting thread sleeps. When other processes take the CPUs, the threads of a parallel region end up
 * sharing one, and every region then waits out the spin of the thread that finished first: a 27 µs
 * MLP run took 24-36 ms (README, "Benchmarks": under load). A bounded spin covers the gaps between
 * the parallel regions of a run and between runs called back to back, and bounds that loss. 5 000
 * is the measured compromise (bench/threads.ts and a CNN batch-1 loop, 2026-12-07): quiet, the CNN
 * at batch 1 ran at 222-237 µs per run against 288-313 µs with 2 000 (threads fell asleep between
 * runs) and 210-223 µs with 20 000; with a busy process pinned to one of the two CPUs, an MLP
 * training step (batch 64) took 5.6 ms against 4.3 ms with 2 000 and 7.7 ms with 10 000 (23 ms
 * with 20 000). Plans keep all threads under contention (native/hodu/thread_policy.h). A value the user set (GOMP_SPINCOUNT or
 * OMP_WAIT_POLICY) wins. Child processes inherit it, as with any env var.
 */
function tuneOpenMp(): void {
  const env = process.env;
  if (env.GOMP_SPINCOUNT === undefined && env.OMP_WAIT_POLICY === undefined) env.GOMP_SPINCOUNT = String(DEFAULT_SPIN);
}

/** The GOMP_SPINCOUNT hodu sets when the user set no wait policy (tuneOpenMp). */
export const DEFAULT_SPIN = 5000;

function load(): Binding {
  tuneOpenMp();
  // lib/load-addon.ts: HODU_ADDON, then the platform package (@hodu/linux-x64-gnu), then build/Release (a clone).
  return loadAddon<Binding>(path.join(__dirname, '..'));
}

export const binding: Binding = load();

/** Opcode by op name, from the native op table (native/core/ops.def). */
const OPCODES = new Map<string, number>();
const OP_TABLE = binding.opTable();
OP_TABLE.forEach((o, i) => OPCODES.set(o.name, i));

/** The native op table, indexed by opcode. */
export function opTable(): readonly OpTableEntry[] {
  return OP_TABLE;
}

/** Checks a call site's attribute list against the op's schema in ops.def (INTERNAL: a bug in hodu). */
export function checkAttrs(code: number, attrs: readonly number[]): void {
  const o = OP_TABLE[code];
  if (o.attrVariadic ? attrs.length < o.attrCount : attrs.length !== o.attrCount)
    throw new HoduError(
      ErrorCode.INTERNAL,
      `${o.name}: expected ${o.attrVariadic ? 'at least ' : ''}${o.attrCount} attribute(s) (${o.attrs}), got ${attrs.length}`,
    );
}

export function opcode(name: string): number {
  const c = OPCODES.get(name);
  if (c === undefined) throw new HoduError(ErrorCode.INTERNAL, `unknown op '${name}'`);
  return c;
}

/** The op name of an opcode (for messages). */
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
