// XLA:CPU compile defaults. hodu passes these as DebugOptions overrides in the compile options of
// every CPU compile (not through XLA_FLAGS, which the user owns; see lib/xla-flags.ts):
//   xla_cpu_prefer_vector_width = 512 on a CPU with AVX-512 (avx512f in /proc/cpuinfo). XLA:CPU emits
//   256-bit vectors by default; 512 made elementwise kernels 5-19 % faster on the 2-core AVX-512 hosts
//   measured (research/xla-workloads.md: -15 %; bench/xla-overhead.ts's sibling measurement in
//   README "XLA run path"), with no measurable loss on the MLP, CNN and training-step programs.
// HODU_XLA_VECTOR_WIDTH overrides it: `off` (or `0`) sets nothing, 128/256/512 set that width.
import * as fs from 'fs';
import { ErrorCode, HoduError } from './errors';

let hostAvx512: boolean | null = null;

/** Whether this host's CPU has AVX-512 (avx512f), from /proc/cpuinfo; false where that cannot be read. */
export function cpuHasAvx512(): boolean {
  if (hostAvx512 === null) {
    try {
      hostAvx512 = /^flags\s*:.*\bavx512f\b/m.test(fs.readFileSync('/proc/cpuinfo', 'latin1'));
    } catch {
      hostAvx512 = false;
    }
  }
  return hostAvx512;
}

/**
 * The DebugOptions overrides hodu compiles XLA:CPU programs with (name -> integer): see the file
 * comment. `env` and `avx512` are for tests; by default the process environment and this CPU.
 * A bad HODU_XLA_VECTOR_WIDTH is INVALID_ARGUMENT naming the value.
 */
export function xlaCpuDebugOptions(env: NodeJS.ProcessEnv = process.env, avx512: boolean = cpuHasAvx512()): Record<string, number> {
  const v = env.HODU_XLA_VECTOR_WIDTH;
  if (v === undefined || v.trim() === '') return avx512 ? { xla_cpu_prefer_vector_width: 512 } : {};
  const w = v.trim().toLowerCase();
  if (w === 'off' || w === '0') return {};
  if (w === '128' || w === '256' || w === '512') return { xla_cpu_prefer_vector_width: Number(w) };
  throw new HoduError(ErrorCode.INVALID_ARGUMENT, `HODU_XLA_VECTOR_WIDTH must be off, 128, 256 or 512, got '${v}'`);
}
