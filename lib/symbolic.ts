// Symbolic dims ("shapes that vary"): `Tensor.input('x', [null, 784])` or `['batch', 784]`.
//
// Trace once, specialize per shape (as jax.jit does): while a builder records, every symbolic dim
// stands for a reserved *tracer size*, a prime from TRACER_PRIMES (one per named dim; each `null`
// dim gets its own). Shape checks at record time then work unchanged (batch vs batch agrees, batch
// vs 784 fails), arithmetic on `x.shape[0]` gives numbers that still carry the tracer (16411 * 784
// factors back to batch * 784), and the native validator sees an ordinary graph. A run with concrete
// shapes rewrites that graph for them (lib/specialize.ts) and compiles the result; nothing native
// ever sees a symbolic dim.
//
// Limits (README "Shapes that vary"): tracer sizes are about 2^14, so while recording every value
// must have at most 2^40 elements with each symbolic dim counted as ~16 400 (the native element
// limit): one symbolic dim leaves 2^26 elements for the rest of a value, two leave 2^12. A script
// has at most 32 symbolic dims (named ones count once). Recording never allocates memory in
// proportion to a tracer size: zeros/ones/full with a symbolic shape record a broadcast of a scalar,
// and random tensors, arange and data-filled tensors with a symbolic size are refused.
import { ErrorCode, HoduError, describe, invalidArg } from './errors';

/** A dim of a declared shape: a size, a name (the same size wherever it is used) or null (any size). */
export type Dim = number | string | null;

/** The tracer sizes: the 32 primes above 2^14. Fixed (saved scripts store them in their IR). */
export const TRACER_PRIMES: readonly number[] = Object.freeze([
  16411, 16417, 16421, 16427, 16433, 16447, 16451, 16453, 16477, 16481, 16487, 16493, 16519, 16529, 16547, 16553, 16561,
  16567, 16573, 16603, 16607, 16619, 16631, 16633, 16649, 16651, 16657, 16661, 16673, 16691, 16693, 16699,
]);

/** Sizes used to probe which output dims vary (other primes, never tracer sizes). */
export const PROBE_PRIMES: readonly number[] = Object.freeze([
  16703, 16729, 16741, 16747, 16759, 16763, 16787, 16811, 16823, 16829, 16831, 16843, 16871, 16879, 16883, 16889, 16901,
  16903, 16921, 16927, 16931, 16937, 16943, 16963, 16979, 16981, 16987, 16993, 17011, 17021, 17027, 17029,
]);

const TRACER_SET = new Set(TRACER_PRIMES);

/** The native element limit (native/core/tensor_desc.h kMaxElements). */
const MAX_TRACED_ELEMENTS = 2 ** 40;

export function isTracerPrime(n: number): boolean {
  return TRACER_SET.has(n);
}

/** Is `d` a symbolic (named or null) dim? */
export function isSymbolicDim(d: Dim): d is string | null {
  return d === null || typeof d === 'string';
}

/** Validates a declared shape of Tensor.input: non-negative integers, null or non-empty strings. */
export function checkDeclaredShape(shape: unknown, what: string): Dim[] {
  if (!Array.isArray(shape))
    throw invalidArg(`${what}: shape must be an array of sizes, null (any size) or names, got ${describe(shape)}`);
  if (shape.length > 16) throw invalidArg(`${what}: shape ${describe(shape)} has rank ${shape.length}; at most 16 is supported`);
  return shape.map((d, i) => {
    if (d === null || (typeof d === 'string' && d.length > 0 && d.length <= 256)) return d as Dim;
    if (typeof d === 'number' && Number.isInteger(d) && d >= 0) return d;
    if (d === -1)
      throw invalidArg(
        `${what}: dim ${i} is -1; for a dim whose size varies from run to run use null (any size) or a name such as 'batch' ` +
          `(e.g. Tensor.input('x', [null, 784]))`,
      );
    throw invalidArg(`${what}: dim ${i} of ${describe(shape)} must be a non-negative integer, null or a non-empty name, got ${describe(d)}`);
  });
}

/** Writes a declared shape for messages: [batch, 784], [?, 3]. */
export function formatDims(shape: readonly Dim[]): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** The symbolic dims of one recording: which tracer prime stands for which symbol. */
export class SymbolTable {
  /** Tracer prime of each named dim. */
  private readonly named = new Map<string, number>();
  /** Every prime handed out, in order. */
  readonly primes: number[] = [];
  /** Declared shapes of the inputs that have a symbolic dim, by input name. */
  readonly decls = new Map<string, Dim[]>();

  get isEmpty(): boolean {
    return this.primes.length === 0;
  }

  private next(what: string): number {
    if (this.primes.length >= TRACER_PRIMES.length)
      throw invalidArg(`${what}: a script may have at most ${TRACER_PRIMES.length} symbolic dims (named dims count once)`);
    const p = TRACER_PRIMES[this.primes.length];
    this.primes.push(p);
    return p;
  }

  /** The record-time sizes of a declared input shape (tracer primes for its symbolic dims). */
  declare(input: string, shape: Dim[]): number[] {
    const what = `Tensor.input('${input}')`;
    const taken = this.primes.length;
    const sizes = shape.map((d) => {
      if (typeof d === 'number') return d;
      if (d === null) return this.next(what);
      let p = this.named.get(d);
      if (p === undefined) {
        p = this.next(what);
        this.named.set(d, p);
      }
      return p;
    });
    if (shape.some(isSymbolicDim)) {
      let n = 1;
      for (const s of sizes) n *= s;
      if (n > MAX_TRACED_ELEMENTS) {
        // give back the placeholders this failed declaration took
        for (const [k, p] of [...this.named]) if (this.primes.indexOf(p) >= taken) this.named.delete(k);
        this.primes.length = taken;
        throw invalidArg(
          `${what}: shape ${formatDims(shape)} is too large to record: with each symbolic dim counted as its placeholder size ` +
            `(~16 400) it has ${n.toExponential(2)} elements, over the limit of 2^40 (README "Shapes that vary": limits)`,
        );
      }
      this.decls.set(input, shape.slice());
    }
    return sizes;
  }

  /**
   * Runs a shape inference (`f` returns [dtype, shape, ...]); with symbolic dims, an element count
   * over the native limit (the result's too) is an error that explains the placeholder sizes.
   */
  explain<T extends [number, number[], ...unknown[]]>(op: string, f: () => T): T {
    try {
      const r = f();
      if (this.primes.length > 0) {
        let n = 1;
        for (const d of r[1]) n *= d;
        if (n > MAX_TRACED_ELEMENTS)
          throw new HoduError(ErrorCode.INVALID_ARGUMENT, `${op}: the result of shape ${describe(r[1])} has too many elements`);
      }
      return r;
    } catch (e) {
      const err = e as HoduError;
      if (this.primes.length > 0 && err && typeof err.message === 'string' && /too many elements/.test(err.message))
        throw new HoduError(
          err.code,
          `${err.message} (while recording, each symbolic dim counts as its placeholder size ~16 400; ` +
            'values must stay under 2^40 elements: README "Shapes that vary": limits)',
        );
      throw e;
    }
  }

  /** True when `n` carries a tracer prime of this recording (it is, or is a multiple of, a symbolic size). */
  carries(n: number): boolean {
    if (this.primes.length === 0 || !Number.isInteger(n) || n <= 0) return false;
    for (const p of this.primes) if (n % p === 0) return true;
    return false;
  }

  /** The first dim of `shape` that carries a symbolic size, or -1. */
  symbolicDimOf(shape: readonly number[]): number {
    if (this.primes.length === 0) return -1;
    for (let i = 0; i < shape.length; i++) if (this.carries(shape[i])) return i;
    return -1;
  }
}

/** The error for a data-carrying tensor whose size would depend on a symbolic dim. */
export function symbolicSizeError(what: string, shape: readonly number[], dim: number): HoduError {
  return new HoduError(
    ErrorCode.INVALID_ARGUMENT,
    `${what}: dim ${dim} of shape ${describe(shape)} depends on a symbolic input dim (the recording stands for it with the ` +
      `placeholder size ${shape[dim]}); a tensor with data made inside a builder is a constant and needs a fixed shape. ` +
      'Use Tensor.zeros/ones/full (recorded as a broadcast) or make it from an input.',
  );
}
