// Specializations: a Script whose inputs have symbolic dims (lib/symbolic.ts) compiles once per
// concrete shape signature. This file
//   - checks concrete input shapes against the declared ones (SHAPE_MISMATCH naming input and dim),
//   - rewrites the recorded graph for them (GraphSpecializer): every value shape is inferred again
//     by the native infer() with the concrete input shapes, and every attribute that holds a size
//     (reshape / broadcast_to targets, slice bounds, the input sizes of conv/pool gradients) is
//     mapped from its record-time (tracer) value to the concrete one,
//   - caches the results (SpecializationCache): bounded, least recently used dropped, with the
//     event counters of script.stats().
// Constants are shared by reference between specializations (only a scalar constant that holds a
// symbolic size, e.g. from `x.sum().div(x.shape[0])`, gets a new 8-byte buffer).
import { DType, dtypeCode, dtypeFromCode, dtypeInfo } from './dtype';
import { ErrorCode, HoduError, fromNative } from './errors';
import { DecodedGraph, decodeGraph } from './ir/decode';
import { encodeGraph } from './ir/encode';
import { IrOutput, IrValue, ValueKind } from './ir/graph';
import { NativeDesc, binding, opName, opcode } from './native';
import { Dim, PROBE_PRIMES, TRACER_PRIMES, formatDims, isSymbolicDim, isTracerPrime } from './symbolic';
import { contiguousStrides } from './strides';

/** A declared input or output (the shape of TensorInfo). */
export interface DeclaredTensor {
  readonly name: string;
  readonly shape: readonly Dim[];
  readonly dtype: DType;
}

/** A graph with concrete shapes, ready for the native compile. */
export interface ConcreteGraph {
  ir: Uint8Array;
  constants: ArrayBuffer[];
  /** Shapes of every IR output (reserved ones, e.g. variable updates, included). */
  outputShapes: number[][];
  /** Shapes of every IR input (reserved ones included); absent when they are the declared ones. */
  inputShapes?: number[][];
  /** The rewritten graph's values and outputs (a specialization of a recorded graph). */
  parts?: { values: IrValue[]; outputs: IrOutput[] };
}

const shapeStr = (s: readonly number[]): string => `[${s.join(', ')}]`;

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function numel(s: readonly number[]): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

/** `{x: [3, 784], y: [3]}` for messages. */
export function formatShapes(inputs: readonly DeclaredTensor[], shapes: readonly (readonly number[])[]): string {
  return `{${inputs.map((t, i) => `${t.name}: ${shapeStr(shapes[i])}`).join(', ')}}`;
}

export function hasSymbolicDims(inputs: readonly DeclaredTensor[]): boolean {
  return inputs.some((t) => t.shape.some(isSymbolicDim));
}

/**
 * Checks concrete input shapes against the declaration and returns the cache key. A wrong rank, a
 * fixed dim that differs or a named dim that disagrees between inputs -> SHAPE_MISMATCH naming
 * the input and the dim.
 */
export function shapeSignature(inputs: readonly DeclaredTensor[], shapes: readonly (readonly number[])[]): string {
  const named = new Map<string, { size: number; input: string; dim: number }>();
  let key = '';
  for (let k = 0; k < inputs.length; k++) {
    const { name, shape: decl } = inputs[k];
    const got = shapes[k];
    const symbolic = decl.some(isSymbolicDim);
    if (!symbolic) {
      if (got.length !== decl.length || got.some((d, i) => d !== decl[i]))
        throw new HoduError(ErrorCode.SHAPE_MISMATCH, `input '${name}': expected shape ${shapeStr(decl as number[])}, got ${shapeStr(got)}`);
      continue;
    }
    if (got.length !== decl.length)
      throw new HoduError(
        ErrorCode.SHAPE_MISMATCH,
        `input '${name}': expected shape ${formatDims(decl)} (rank ${decl.length}), got ${shapeStr(got)} (rank ${got.length})`,
      );
    for (let i = 0; i < decl.length; i++) {
      const want = decl[i];
      const d = got[i];
      if (typeof want === 'number') {
        if (d !== want)
          throw new HoduError(
            ErrorCode.SHAPE_MISMATCH,
            `input '${name}': dim ${i} is ${d}, expected ${want} (expected shape ${formatDims(decl)}, got ${shapeStr(got)})`,
          );
      } else if (typeof want === 'string') {
        const seen = named.get(want);
        if (seen === undefined) named.set(want, { size: d, input: name, dim: i });
        else if (seen.size !== d)
          throw new HoduError(
            ErrorCode.SHAPE_MISMATCH,
            `input '${name}': dim ${i} ('${want}') is ${d}, but '${want}' is ${seen.size} in input '${seen.input}' dim ${seen.dim} ` +
              `(expected shape ${formatDims(decl)}, got ${shapeStr(got)})`,
          );
      }
    }
    key += `${k}:${got.join('x')};`;
  }
  return key;
}

/**
 * Concrete input shapes from `compile({ shapes })`: every input with a symbolic dim must be given,
 * unless all its symbolic dims are named and known from other inputs; static inputs may be left out.
 */
export function shapesFromRecord(
  scriptName: string,
  inputs: readonly DeclaredTensor[],
  given: Record<string, readonly number[]>,
): number[][] {
  if (given === null || typeof given !== 'object' || Array.isArray(given))
    throw new HoduError(ErrorCode.INVALID_ARGUMENT, `compile: shapes must be an object of input name -> shape, got ${typeof given}`);
  for (const k of Object.keys(given))
    if (!inputs.some((t) => t.name === k))
      throw new HoduError(
        ErrorCode.INPUT_UNKNOWN,
        `compile: script '${scriptName}' has no input named '${k}' (inputs: ${inputs.map((t) => `'${t.name}'`).join(', ') || 'none'})`,
      );
  const named = new Map<string, number>();
  const out: (number[] | null)[] = inputs.map((t) => {
    const s = given[t.name];
    if (s === undefined) return null;
    if (!Array.isArray(s) || s.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0))
      throw new HoduError(ErrorCode.INVALID_ARGUMENT, `compile: shape of input '${t.name}' must be an array of non-negative integers, got ${JSON.stringify(s)}`);
    t.shape.forEach((d, i) => {
      if (typeof d === 'string' && i < s.length && !named.has(d)) named.set(d, s[i]);
    });
    return s.slice();
  });
  return out.map((s, k) => {
    if (s) return s;
    const t = inputs[k];
    return t.shape.map((d) => {
      if (typeof d === 'number') return d;
      if (typeof d === 'string' && named.has(d)) return named.get(d)!;
      throw new HoduError(
        ErrorCode.INPUT_MISSING,
        `compile: shapes has no entry for input '${t.name}' (declared ${formatDims(t.shape)}), and its size is not known from another input`,
      );
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Graph rewriting

const AMBIGUOUS = -1;

/** Per-specialization state: what each record-time size became. */
class SizeMap {
  /** Record-time size -> concrete size, learned from every value's shape (AMBIGUOUS when two differ). */
  private readonly learned = new Map<number, number>();
  /** Tracer prime -> concrete size. */
  readonly sizes = new Map<number, number>();

  learn(old: readonly number[], now: readonly number[]): void {
    for (let i = 0; i < old.length; i++) {
      const m = this.learned.get(old[i]);
      if (m === undefined) this.learned.set(old[i], now[i]);
      else if (m !== now[i] && m !== AMBIGUOUS) this.learned.set(old[i], AMBIGUOUS);
    }
  }

  /** The concrete size of a record-time size by factoring it over the tracer primes, or null when it has none. */
  factor(a: number): number | null {
    if (!Number.isSafeInteger(a) || a < 2) return null;
    let rest = a;
    let r = 1;
    let hit = false;
    for (const [p, c] of this.sizes) {
      while (rest % p === 0) {
        rest /= p;
        r *= c;
        hit = true;
      }
    }
    return hit ? rest * r : null;
  }

  /**
   * The concrete value of a record-time size found in an attribute: a size seen in some value's
   * shape, else one that factors over the tracer primes; null when neither (a literal). A size that
   * two values map differently cannot be resolved: an error.
   */
  resolve(a: number, what: () => string): number | null {
    if (!Number.isSafeInteger(a) || a < 2) return null;
    const m = this.learned.get(a);
    if (m === AMBIGUOUS)
      throw new HoduError(
        ErrorCode.SHAPE_MISMATCH,
        `${what()}: the recorded size ${a} stands for different sizes in this specialization; record it with fixed sizes`,
      );
    if (m !== undefined) return m;
    return this.factor(a);
  }

  /** A changed size for a scalar constant, or null (learned sizes count only where they changed). */
  resolveScalar(a: number): number | null {
    if (!Number.isSafeInteger(a) || a < 2) return null;
    const f = this.factor(a);
    if (f !== null) return f;
    const m = this.learned.get(a);
    return m !== undefined && m !== AMBIGUOUS && m !== a ? m : null;
  }

  /**
   * A slice bound: resolved as above, else a bound within 1024 of a small multiple of a tracer size
   * (e.g. `narrow(0, 0, x.shape[0] - 1)` records 16410) moves with it.
   */
  resolveBound(a: number, what: () => string): number {
    const r = this.resolve(a, what);
    if (r !== null) return r;
    for (const [p, c] of this.sizes) {
      const k = Math.round(a / p);
      const off = a - k * p;
      if (k >= 1 && k <= 16 && Math.abs(off) <= 1024) return k * c + off;
    }
    return a;
  }
}

/** Groups dims of equal products (old input dims vs old output dims of a reshape), size-1 dims skipped. */
function reshapeBlocks(oldIn: readonly number[], oldOut: readonly number[]): { ins: number[]; outs: number[] }[] | null {
  if (oldIn.some((d) => d === 0) || oldOut.some((d) => d === 0)) return null;
  const I = oldIn.map((_, i) => i).filter((i) => oldIn[i] !== 1);
  const O = oldOut.map((_, i) => i).filter((i) => oldOut[i] !== 1);
  const blocks: { ins: number[]; outs: number[] }[] = [];
  let i = 0;
  let j = 0;
  while (i < I.length && j < O.length) {
    const ins = [I[i]];
    const outs = [O[j]];
    let pin = oldIn[I[i++]];
    let pout = oldOut[O[j++]];
    while (pin !== pout) {
      if (pin < pout) {
        if (i >= I.length) return null;
        pin *= oldIn[I[i]];
        ins.push(I[i++]);
      } else {
        if (j >= O.length) return null;
        pout *= oldOut[O[j]];
        outs.push(O[j++]);
      }
    }
    blocks.push({ ins, outs });
  }
  return i === I.length && j === O.length ? blocks : null;
}

/**
 * Fits dims whose record-time sizes are `old` into `total` concrete elements: resolved sizes are
 * taken; when they do not multiply to `total`, the one unresolved dim is inferred (else an error).
 */
function fitDims(old: readonly number[], map: SizeMap, total: number, what: () => string): number[] {
  const resolved = old.map((a) => map.resolve(a, what));
  const dims = old.map((a, i) => resolved[i] ?? a);
  if (numel(dims) === total) return dims;
  const open = resolved.map((r, i) => (r === null && old[i] > 1 ? i : -1)).filter((i) => i >= 0);
  if (open.length === 1) {
    const rest = numel(dims.filter((_, i) => i !== open[0]));
    if (rest > 0 && total % rest === 0) {
      dims[open[0]] = total / rest;
      return dims;
    }
  }
  throw new HoduError(
    ErrorCode.SHAPE_MISMATCH,
    `${what()}: cannot tell the sizes of the recorded shape ${shapeStr(old)} for ${total} elements`,
  );
}

function reshapeTarget(oldIn: number[], newIn: number[], oldOut: number[], map: SizeMap, what: () => string): number[] {
  const total = numel(newIn);
  const blocks = reshapeBlocks(oldIn, oldOut);
  if (!blocks) return fitDims(oldOut, map, total, what);
  const out = oldOut.map(() => 1);
  for (const b of blocks) {
    const blockTotal = numel(b.ins.map((i) => newIn[i]));
    if (b.outs.length === 1) out[b.outs[0]] = blockTotal;
    else {
      const dims = fitDims(b.outs.map((i) => oldOut[i]), map, blockTotal, what);
      b.outs.forEach((i, k) => (out[i] = dims[k]));
    }
  }
  return out;
}

const OP = {
  reshape: opcode('reshape'),
  broadcastTo: opcode('broadcast_to'),
  slice: opcode('slice'),
  sliceScatter: opcode('slice_scatter'),
  convGradInput: opcode('conv2d_grad_input'),
  convGradWeight: opcode('conv2d_grad_weight'),
  avgPoolGrad: opcode('avg_pool2d_grad'),
};

// Shape inference in JS for the ops whose output shape is a plain function of their input shapes
// (elementwise, reductions, permute, reshape/broadcast targets): a specialization of a big
// recorded graph (an unrolled training loop) then makes few native calls. The native compile
// validates the whole rewritten graph again.
const OP_NAMES: string[] = binding.opTable().map((o) => o.name);
const SAME_SHAPE = new Set([
  'cast', 'copy', 'neg', 'abs', 'sign', 'square', 'relu', 'clamp', 'sqrt', 'recip', 'sigmoid', 'tanh', 'gelu', 'gelu_erf', 'softplus',
  'sin', 'cos', 'tan', 'exp', 'exp2', 'exp10', 'ln', 'log2', 'log10', 'leaky_relu', 'elu', 'silu', 'logical_not', 'softmax',
  'log_softmax',
]);
const BROADCAST = new Set([
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'logical_and', 'logical_or', 'logical_xor', 'eq', 'ne', 'lt', 'le',
  'gt', 'ge', 'where',
]);
const REDUCE = new Set(['sum', 'mean', 'max', 'min', 'prod', 'var', 'std', 'norm', 'argmax', 'argmin']);

/** The output shape, or null where the native infer() should decide. */
function fastInfer(op: number, attrs: readonly number[], ins: readonly (readonly number[])[]): number[] | null {
  const name = OP_NAMES[op];
  if (SAME_SHAPE.has(name)) return ins.length === 1 ? ins[0].slice() : null;
  if (name === 'reshape') return ins.length === 1 && numel(attrs) === numel(ins[0]) ? attrs.slice() : null;
  if (name === 'broadcast_to') {
    if (ins.length !== 1 || attrs.length < ins[0].length) return null;
    const lead = attrs.length - ins[0].length;
    return ins[0].every((d, i) => d === 1 || d === attrs[lead + i]) ? attrs.slice() : null;
  }
  if (BROADCAST.has(name)) {
    const rank = Math.max(...ins.map((s) => s.length));
    const out: number[] = [];
    for (let i = 0; i < rank; i++) {
      let d = 1;
      for (const s of ins) {
        const v = s[i - (rank - s.length)] ?? 1;
        if (v === 1) continue;
        if (d !== 1 && d !== v) return null; // let the native infer word the error
        d = v;
      }
      out.push(d);
    }
    return out;
  }
  if (REDUCE.has(name) && ins.length === 1 && attrs.length >= 1) {
    const rank = ins[0].length;
    const dims = new Set(attrs.slice(1).map((d) => (d < 0 ? d + rank : d)));
    if ([...dims].some((d) => !(d >= 0 && d < rank))) return null;
    const keep = attrs[0] !== 0;
    const out: number[] = [];
    ins[0].forEach((d, i) => {
      if (!dims.has(i)) out.push(d);
      else if (keep) out.push(1);
    });
    return out;
  }
  if (name === 'permute' && ins.length === 1 && attrs.length === ins[0].length)
    return attrs.map((p) => ins[0][p < 0 ? p + attrs.length : p]);
  return null;
}

/** Attributes of an op whose sizes are rewritten (indices), other than the shape-list ops above. */
const SIZE_ATTRS = new Map<number, number[]>([
  [OP.convGradInput, [7, 8]],
  [OP.convGradWeight, [7, 8]],
  [OP.avgPoolGrad, [6, 7]],
]);

function rewriteAttrs(v: IrValue, oldIns: number[][], newIns: number[][], map: SizeMap, what: () => string): number[] {
  const a = v.attrs!;
  const op = v.op!;
  if (op === OP.reshape) return reshapeTarget(oldIns[0], newIns[0], a, map, what);
  if (op === OP.broadcastTo) {
    const lead = a.length - oldIns[0].length;
    return a.map((d, k) => {
      const j = k - lead;
      if (j >= 0 && oldIns[0][j] === d) return newIns[0][j];
      return map.resolve(d, what) ?? d;
    });
  }
  if (op === OP.slice || op === OP.sliceScatter) {
    if (a.length !== 4 || oldIns[0].length === 0) return a.slice();
    const rank = oldIns[0].length;
    const dim = a[0] < 0 ? a[0] + rank : a[0];
    const oldSize = oldIns[0][dim];
    const newSize = newIns[0][dim];
    if (oldSize === undefined || oldSize === newSize) return a.slice();
    const bound = (b: number): number => (b === oldSize ? newSize : b <= 0 ? b : map.resolveBound(b, what));
    return [a[0], bound(a[1]), bound(a[2]), a[3]];
  }
  const idx = SIZE_ATTRS.get(op);
  if (!idx) return a.slice();
  const out = a.slice();
  for (const i of idx) if (i < out.length) out[i] = map.resolve(out[i], what) ?? out[i];
  return out;
}

function readScalar(buf: ArrayBuffer, dtype: DType): number | null {
  switch (dtype) {
    case DType.F32: return new Float32Array(buf, 0, 1)[0];
    case DType.F64: return new Float64Array(buf, 0, 1)[0];
    case DType.I32: return new Int32Array(buf, 0, 1)[0];
    case DType.I64: return Number(new BigInt64Array(buf, 0, 1)[0]);
    default: return null;
  }
}

function scalarBuffer(v: number, dtype: DType): ArrayBuffer {
  const info = dtypeInfo(dtype);
  const buf = new ArrayBuffer(info.size);
  if (dtype === DType.I64) new BigInt64Array(buf)[0] = BigInt(Math.round(v));
  else (new info.ctor(buf) as unknown as number[])[0] = v;
  return buf;
}

/** Rewrites a graph recorded with tracer sizes for concrete input shapes. */
export class GraphSpecializer {
  private readonly graph: DecodedGraph;
  private readonly inputIds: number[];

  constructor(
    readonly scriptName: string,
    ir: Uint8Array,
    readonly constants: readonly ArrayBuffer[],
  ) {
    this.graph = decodeGraph(ir);
    this.inputIds = [];
    this.graph.values.forEach((v, i) => v.kind === ValueKind.Input && this.inputIds.push(i));
  }

  /** Record-time shapes of the inputs, in input order. */
  get inputShapes(): number[][] {
    return this.inputIds.map((i) => this.graph.values[i].shape);
  }

  /**
   * The concrete graph for input shapes given in IR input order (already checked by
   * shapeSignature); a null entry (a reserved input: a per-run random draw) takes its recorded
   * shape with the symbolic sizes substituted.
   */
  specialize(shapes: readonly (readonly number[] | null)[], describeShapes: () => string): ConcreteGraph {
    const { values, outputs } = this.graph;
    const map = new SizeMap();
    this.inputIds.forEach((id, k) => {
      const given = shapes[k];
      if (!given) return;
      values[id].shape.forEach((d, i) => {
        if (isTracerPrime(d)) map.sizes.set(d, given[i]);
      });
    });
    const inputShapes: number[][] = [];
    const constants = this.constants.slice();
    const shapesNow: number[][] = new Array(values.length);
    const out: IrValue[] = new Array(values.length);
    let inputK = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const what = (): string => `script '${this.scriptName}' for input shapes ${describeShapes()}: value ${i} (${v.kind === ValueKind.Op ? opName(v.op!) : 'constant'})`;
      let now: number[];
      if (v.kind === ValueKind.Input) {
        const given = shapes[inputK++];
        now = given ? given.slice() : v.shape.map((d) => map.factor(d) ?? d);
        if (sameNumbers(now, v.shape)) now = v.shape;
        inputShapes.push(now);
        out[i] = { ...v, shape: now };
      } else if (v.kind === ValueKind.Constant) {
        now = v.shape;
        out[i] = v;
        if (numel(v.shape) === 1 && map.sizes.size > 0) {
          const c = v.constant!;
          const buf = this.constants[c];
          const x = buf && buf.byteLength >= dtypeInfo(v.dtype).size ? readScalar(buf, v.dtype) : null;
          if (x !== null && x !== 0 && Number.isFinite(x)) {
            let r: number | null = null;
            if (Number.isInteger(x)) r = map.resolveScalar(x);
            else if (Math.abs(x) < 1 && v.dtype !== DType.I32 && v.dtype !== DType.I64) {
              const inv = Math.round(1 / Math.abs(x));
              if (inv > 1 && Math.abs(1 / Math.abs(x) - inv) <= 1e-6 * inv) {
                const c2 = map.resolveScalar(inv);
                if (c2 !== null) r = Math.sign(x) / c2;
              }
            }
            if (r !== null && r !== x) constants[c] = scalarBuffer(r, v.dtype);
          }
        }
      } else {
        const oldIns = v.inputs!.map((id) => values[id].shape);
        const newIns = v.inputs!.map((id) => shapesNow[id]);
        let attrs: number[];
        try {
          attrs = rewriteAttrs(v, oldIns, newIns, map, what);
          if (newIns.every((s, k) => s === oldIns[k]) && sameNumbers(attrs, v.attrs!)) {
            // nothing this op sees changed: its recorded shape stands (the common case in big graphs)
            now = v.shape;
            out[i] = v;
          } else {
            const fast = fastInfer(v.op!, attrs, newIns);
            let res: [number, number[], ...unknown[]];
            if (fast && fast.length === v.shape.length) res = [dtypeCode(v.dtype), fast];
            else {
              const descs: NativeDesc[] = v.inputs!.map((id) => [dtypeCode(out[id].dtype), shapesNow[id], contiguousStrides(shapesNow[id]), 0]);
              res = binding.infer(v.op!, attrs, descs);
            }
            now = sameNumbers(res[1], v.shape) ? v.shape : res[1];
            if (now.length !== v.shape.length || dtypeFromCode(res[0]) !== v.dtype)
              throw new HoduError(ErrorCode.INTERNAL, `${what()}: re-inferred ${dtypeFromCode(res[0])}${shapeStr(res[1])} for recorded ${v.dtype}${shapeStr(v.shape)}`);
            out[i] = { ...v, shape: now, attrs };
          }
        } catch (e) {
          const err = fromNative(e);
          if (err.message.startsWith(`script '${this.scriptName}'`) || err.code === ErrorCode.INTERNAL) throw err;
          throw new HoduError(ErrorCode.SHAPE_MISMATCH, `${what()}: ${err.message}`);
        }
      }
      shapesNow[i] = now;
      map.learn(v.shape, now);
    }
    return {
      ir: encodeGraph(out, outputs),
      constants,
      outputShapes: outputs.map((o) => shapesNow[o.value].slice()),
      inputShapes,
      parts: { values: out, outputs },
    };
  }

  /**
   * The declared shapes of the outputs: a dim that changes when the symbolic sizes change is
   * symbolic (its name when it is exactly a named input dim, else null).
   */
  outputDims(inputs: readonly DeclaredTensor[], reserved: readonly boolean[]): Dim[][] {
    const { values, outputs } = this.graph;
    const nameOf = new Map<number, string>();
    const recorded = this.inputShapes;
    inputs.forEach((t, k) => t.shape.forEach((d, i) => typeof d === 'string' && nameOf.set(recorded[k][i], d)));
    const probe = recorded.map((s, k) => (reserved[k] ? null : s.map((d) => (isTracerPrime(d) ? PROBE_PRIMES[TRACER_PRIMES.indexOf(d)] : d))));
    let probed: number[][] | null = null;
    try {
      probed = this.specialize(probe, () => 'probe').outputShapes;
    } catch {
      probed = null; // fall back to the sizes that carry a tracer prime
    }
    return outputs.map((o, k) =>
      values[o.value].shape.map((d, i) => {
        const varies = probed ? probed[k][i] !== d : TRACER_PRIMES.some((p) => d % p === 0 && d > 0);
        if (!varies) return d;
        return nameOf.get(d) ?? null;
      }),
    );
  }
}

// ------------------------------------------------------------------------------------------------
// The cache

/** One concrete shape signature of a script: its graph and, once compiled, its plan. */
export interface Specialization {
  readonly key: string;
  readonly shapes: number[][];
  readonly graph: ConcreteGraph;
  handle: unknown;
  /** HODU: the read-only parameters compiled in as constants (lib/variables.ts bakeReadOnly), or null. */
  baked?: import('./variables').Baked | null;
}

/** Counters of script.stats(). */
export interface ShapeStats {
  /** Native compiles (a new specialization, or one compiled again after setBackend/setDevice or eviction). */
  compiles: number;
  /** Concrete graphs made for a new shape signature (cache misses). */
  specializations: number;
  /** run()/runAsync() calls that started a run. */
  runs: number;
  /** Backend.XLA: plans loaded from the persistent compile cache instead of compiled. */
  cacheHits: number;
  /** Backend.XLA: plans compiled with the compile cache on (and then stored in it). */
  cacheMisses: number;
}

export const DEFAULT_MAX_SPECIALIZATIONS = 8;

/** Specializations by shape signature, least recently used dropped beyond `max`. */
export class SpecializationCache {
  private readonly entries = new Map<string, Specialization>();
  private maxSize = DEFAULT_MAX_SPECIALIZATIONS;
  readonly counts: ShapeStats = { compiles: 0, specializations: 0, runs: 0, cacheHits: 0, cacheMisses: 0 };
  /** The specialization used last (planInfo()). */
  last: Specialization | null = null;

  constructor(private readonly derive: (shapes: number[][]) => ConcreteGraph) {}

  get max(): number {
    return this.maxSize;
  }
  get size(): number {
    return this.entries.size;
  }
  get hasPlans(): boolean {
    for (const e of this.entries.values()) if (e.handle !== null) return true;
    return false;
  }

  setMax(n: number, release: (h: unknown) => void): void {
    if (!Number.isInteger(n) || n < 1)
      throw new HoduError(ErrorCode.INVALID_ARGUMENT, `compile: maxSpecializations must be a positive integer, got ${String(n)}`);
    this.maxSize = n;
    this.trim(release);
  }

  /** The specialization for `key`, made when missing; marks it most recently used. */
  get(key: string, shapes: number[][], release: (h: unknown) => void): Specialization {
    const hit = this.last;
    if (hit !== null && hit.key === key) return hit; // already the most recently used
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    } else {
      e = { key, shapes: shapes.map((s) => s.slice()), graph: this.derive(shapes), handle: null };
      this.counts.specializations++;
      this.entries.set(key, e);
      this.trim(release, e);
    }
    this.last = e;
    return e;
  }

  /** Compiles a specialization when it has no plan yet. */
  compiled(e: Specialization, compile: (g: ConcreteGraph) => unknown): Specialization {
    if (e.handle === null) {
      e.handle = compile(e.graph);
      this.counts.compiles++;
    }
    return e;
  }

  private trim(release: (h: unknown) => void, keep?: Specialization): void {
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxSize) break;
      if (e === keep) continue;
      this.entries.delete(k);
      if (e.handle !== null) release(e.handle);
      e.handle = null;
      if (this.last === e) this.last = null;
    }
  }

  /** Frees every compiled plan (backend or options changed); the concrete graphs stay. */
  dropPlans(release: (h: unknown) => void): void {
    for (const e of this.entries.values()) {
      if (e.handle !== null) release(e.handle);
      e.handle = null;
    }
  }
}
