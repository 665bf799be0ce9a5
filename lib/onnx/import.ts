// ONNX graph -> hodu IR, traced at concrete input shapes. Every node becomes hodu ops through the
// normal recording API (a Builder, Tensor.input, Tensor methods); values known at import (Shape,
// Constant, shape arithmetic on them) are folded in JS, so shape-computation subgraphs leave no ops.
import { Builder } from '../builder';
import { DType, isFloat } from '../dtype';
import { ErrorCode, HoduError } from '../errors';
import { encodeGraph } from '../ir/encode';
import { eager } from '../ir/graph';
import { Script } from '../script';
import { Storage } from '../storage';
import { finalizeGraph, nameVariable } from '../variables';
import { hooks } from '../hooks';
import { Tensor } from '../tensor';
import { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo, defaultOpset } from './model';
import { ExternalSource, TensorData, dtypeOfOnnx, elementCount, numericValues, onnxTypeName, ownBuffer, tensorData } from './tensor-data';
import { invalidFile } from './proto';
import { PatternMatch, findPatterns } from './fuse-patterns';

/** A value known at import time (folded): small shape vectors, Constant nodes, initializers. */
interface Known {
  dtype: DType;
  shape: number[];
  /** Values as numbers, computed lazily for initializers. */
  vals: () => number[];
  /** Set for initializers: the shared buffer used when the value becomes a graph constant. */
  shared?: () => ArrayBuffer;
}

interface Val {
  known?: Known;
  t?: Tensor;
}

/** Per-model state shared by every trace: decoded initializers and their constant buffers. */
export class OnnxProgram {
  readonly model: OnnxModel;
  readonly opset: number;
  private readonly init = new Map<string, OnnxTensor>();
  private readonly data = new Map<OnnxTensor, TensorData>();
  private readonly buffers = new Map<OnnxTensor, ArrayBuffer>();
  private readonly valuesCache = new Map<OnnxTensor, number[]>();
  readonly inputs: OnnxValueInfo[];

  constructor(model: OnnxModel, readonly external: ExternalSource = {}) {
    this.model = model;
    this.opset = defaultOpset(model);
    if (this.opset === 0) this.opset = 1;
    for (const o of model.opsets) {
      if (o.domain !== '' && o.domain !== 'ai.onnx' && model.graph.nodes.some((n) => n.domain === o.domain))
        throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX: operator set domain '${o.domain}' (version ${o.version}) is not supported`);
    }
    if (model.functions.length > 0)
      for (const n of model.graph.nodes)
        if (n.domain !== '' && n.domain !== 'ai.onnx')
          throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX: node '${n.name}' calls model-local function ${n.domain}:${n.opType}, which hodu does not inline`);
    if (model.graph.sparseInitializers > 0) throw new HoduError(ErrorCode.UNSUPPORTED_OP, 'ONNX: sparse initializers are not supported');
    for (const t of model.graph.initializers) this.init.set(t.name, t);
    this.inputs = model.graph.inputs.filter((i) => !this.init.has(i.name));
  }

  /**
   * Checks what can be checked before shapes are known: every initializer's payload (sizes,
   * external data) and that every node's op type has a lowering (UNSUPPORTED_OP otherwise).
   */
  validate(): void {
    for (const t of this.model.graph.initializers) this.tensorData(t);
    for (const n of this.model.graph.nodes) {
      if (n.domain !== '' && n.domain !== 'ai.onnx')
        throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX ${n.opType} (node '${n.name}', opset ${this.opset}): domain '${n.domain}' is not supported`);
      if (!KNOWN_OPS.has(n.opType) && !(n.opType in OPS))
        throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX ${n.opType} (node '${n.name}', opset ${this.opset}): this operator is not supported by the hodu importer`);
    }
  }

  tensorData(t: OnnxTensor): TensorData {
    let d = this.data.get(t);
    if (!d) {
      d = tensorData(t, this.external);
      this.data.set(t, d);
    }
    return d;
  }

  /** The one ArrayBuffer that backs an initializer in every traced graph. */
  sharedBuffer(t: OnnxTensor): ArrayBuffer {
    let b = this.buffers.get(t);
    if (!b) {
      b = ownBuffer(this.tensorData(t).bytes);
      this.buffers.set(t, b);
    }
    return b;
  }

  knownOf(t: OnnxTensor, shareable: boolean): Known {
    const d = this.tensorData(t);
    return {
      dtype: d.dtype,
      shape: d.shape,
      vals: () => {
        let v = this.valuesCache.get(t);
        if (!v) {
          v = numericValues(d);
          if (d.bytes.length <= 1 << 16) this.valuesCache.set(t, v);
        }
        return v;
      },
      shared: shareable ? () => this.sharedBuffer(t) : undefined,
    };
  }

  private patternsCache?: Map<OnnxNode, PatternMatch>;
  /** The fusable idioms of the main graph (fuse-patterns.ts), found once. */
  patterns(): Map<OnnxNode, PatternMatch> {
    if (!this.patternsCache) this.patternsCache = findPatterns(this.model.graph);
    return this.patternsCache;
  }

  initializer(name: string): OnnxTensor | undefined {
    return this.init.get(name);
  }

  /** Traces the graph at concrete input shapes; returns the hodu IR and its constants. */
  trace(shapes: Record<string, number[]>, name = 'onnx', constantInputs: Record<string, TensorData> = {}): { ir: Uint8Array; constants: ArrayBuffer[] } {
    const b = this.record(shapes, name, constantInputs, false);
    const fin = finalizeGraph(b._graph);
    if (fin.variables.length > 0) throw new HoduError(ErrorCode.INTERNAL, 'ONNX trace: unexpected variables');
    return { ir: encodeGraph(fin.values, fin.outputs), constants: fin.constants };
  }

  /** Traces at concrete shapes into a plain Script; with `trainable`, float initializers become variables. */
  traceScript(shapes: Record<string, number[]>, name: string, constantInputs: Record<string, TensorData>, trainable: boolean): Script {
    return this.record(shapes, name, constantInputs, trainable).build();
  }

  private readonly params = new Map<OnnxTensor, Tensor>();

  /** The variable tensor of a float initializer (created once; its name is the initializer's). */
  parameter(t: OnnxTensor): Tensor | null {
    let p = this.params.get(t);
    if (!p) {
      const d = this.tensorData(t);
      if (!isFloat(d.dtype)) return null;
      p = Tensor._make(new Storage(ownBuffer(d.bytes)), d.dtype, d.shape.slice());
      p.setRequiresGrad(true);
      nameVariable(p, t.name);
      this.params.set(t, p);
    }
    return p;
  }

  private record(shapes: Record<string, number[]>, name: string, constantInputs: Record<string, TensorData>, trainable: boolean): Builder {
    const b = new Builder(name);
    b.start();
    try {
      const env = new Map<string, Val>();
      for (const t of this.model.graph.initializers) {
        const p = trainable ? this.parameter(t) : null;
        env.set(t.name, p ? { t: p } : { known: this.knownOf(t, true) });
      }
      for (const inp of this.inputs) {
        const c = constantInputs[inp.name];
        if (c) {
          env.set(inp.name, { known: { dtype: c.dtype, shape: c.shape, vals: memo(() => numericValues(c)) } });
          continue;
        }
        const dt = dtypeOfOnnx(inp.elemType);
        if (dt === null || !inp.isTensor)
          throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX: input '${inp.name}' has type ${inp.isTensor ? onnxTypeName(inp.elemType) : 'non-tensor'}, which hodu does not support`);
        const sh = shapes[inp.name];
        if (!sh) throw new HoduError(ErrorCode.INVALID_ARGUMENT, `ONNX: no shape given for input '${inp.name}'`);
        env.set(inp.name, { t: Tensor.input(inp.name, sh, dt) });
      }
      const ctx = new Ctx(this, env);
      for (const node of this.model.graph.nodes) ctx.run(node);
      for (const out of this.model.graph.outputs) {
        const v = env.get(out.name);
        if (!v) throw invalidFile(`graph output '${out.name}' is produced by no node`);
        let t = ctx.tensor(v, out.name);
        // an output that is a graph input or another output passes through as a copy
        t = t.reshape(t.shape.slice());
        b.addOutput(out.name, t);
      }
      b.end();
      return b;
    } finally {
      if (!b.isEnded) Builder._abortActive();
    }
  }
}

function memo<T>(f: () => T): () => T {
  let v: T | undefined;
  let done = false;
  return () => {
    if (!done) {
      v = f();
      done = true;
    }
    return v as T;
  };
}

function prod(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new HoduError(ErrorCode.SHAPE_MISMATCH, `ONNX broadcast: [${a.join(', ')}] vs [${b.join(', ')}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Index into a broadcast source for flat output index i. */
function bcastIndex(i: number, outShape: number[], inShape: readonly number[]): number {
  let idx = 0;
  let rem = i;
  const off = outShape.length - inShape.length;
  const ost = stridesOf(outShape);
  const ist = stridesOf(inShape);
  for (let d = 0; d < outShape.length; d++) {
    const c = Math.floor(rem / ost[d]);
    rem -= c * ost[d];
    const k = d - off;
    if (k >= 0 && inShape[k] !== 1) idx += c * ist[k];
  }
  return idx;
}

const FOLD_LIMIT = 1 << 16;

function castValue(v: number, dt: DType): number {
  switch (dt) {
    case DType.BOOL: return v ? 1 : 0;
    case DType.I64: case DType.I32: case DType.I16: case DType.I8: case DType.U8: case DType.U16: case DType.U32: case DType.U64:
      return Number.isFinite(v) ? Math.trunc(v) : 0;
    case DType.F32: return Math.fround(v);
    default: return v;
  }
}

class Ctx {
  private node!: OnnxNode;
  constructor(
    private readonly prog: OnnxProgram,
    private readonly env: Map<string, Val>,
  ) {}

  // ------------------------------------------------------------ helpers

  fail(msg: string): never {
    const n = this.node;
    throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX ${n.opType} (node '${n.name}', opset ${this.prog.opset}): ${msg}`);
  }

  tensor(v: Val, what: string): Tensor {
    if (v.t) return v.t;
    const k = v.known!;
    const rec = hooks.recorder as unknown as SharedRecorder | null;
    if (!rec) return Tensor._fromValues(k.vals(), k.shape, k.dtype); // import-time folding (eager)
    if (k.shared) v.t = rec.sharedConstant(k.shared(), k.dtype, k.shape);
    else v.t = Tensor._fromValues(k.vals(), k.shape, k.dtype);
    void what;
    return v.t;
  }

  private val(i: number): Val | undefined {
    const name = this.node.inputs[i];
    if (name === undefined || name === '') return undefined;
    const v = this.env.get(name);
    if (!v) throw invalidFile(`node '${this.node.name}' (${this.node.opType}) reads '${name}', which nothing produced before it`);
    return v;
  }

  has(i: number): boolean {
    return this.val(i) !== undefined;
  }

  in(i: number): Tensor {
    const v = this.val(i);
    if (!v) this.fail(`input ${i} is required`);
    return this.tensor(v, this.node.inputs[i]);
  }

  /** Shape and dtype of an input without materializing it. */
  meta(i: number): { shape: number[]; dtype: DType } {
    const v = this.val(i)!;
    if (v.t) return { shape: v.t.shape.slice(), dtype: v.t.dtype };
    return { shape: v.known!.shape.slice(), dtype: v.known!.dtype };
  }

  known(i: number): Known | undefined {
    return this.val(i)?.known;
  }

  /** The values of an input that must be known at import (shape operands). */
  ints(i: number, what: string): number[] {
    const v = this.val(i);
    if (!v) this.fail(`${what} is required`);
    if (!v.known) this.fail(`${what} ('${this.node.inputs[i]}') must be known at import (a constant or computed from shapes), but depends on runtime data`);
    return v.known.vals();
  }

  attr(name: string): OnnxAttribute | undefined {
    return this.node.attributes.find((a) => a.name === name);
  }
  attrInt(name: string, def: number): number {
    const a = this.attr(name);
    return a && a.i !== undefined ? a.i : def;
  }
  attrFloat(name: string, def: number): number {
    const a = this.attr(name);
    return a && a.f !== undefined ? a.f : def;
  }
  attrInts(name: string): number[] | undefined {
    const a = this.attr(name);
    return a ? a.ints : undefined;
  }
  attrString(name: string, def: string): string {
    const a = this.attr(name);
    return a && a.s ? Buffer.from(a.s).toString('utf8') : def;
  }

  out(t: Tensor, i = 0): void {
    const name = this.node.outputs[i];
    if (name) this.env.set(name, { t });
  }
  outKnown(k: { dtype: DType; shape: number[]; vals: number[] }, i = 0): void {
    const name = this.node.outputs[i];
    const vals = k.vals.map((v) => castValue(v, k.dtype));
    if (name) this.env.set(name, { known: { dtype: k.dtype, shape: k.shape, vals: () => vals } });
  }

  /** All given inputs known and small: fold in JS. */
  private allKnown(): boolean {
    let any = false;
    for (let i = 0; i < this.node.inputs.length; i++) {
      const v = this.val(i);
      if (!v) continue;
      if (!v.known || prod(v.known.shape) > FOLD_LIMIT) return false;
      any = true;
    }
    return any;
  }

  norm(axis: number, rank: number): number {
    const a = axis < 0 ? axis + rank : axis;
    if (!Number.isInteger(a) || a < 0 || a >= rank) this.fail(`axis ${axis} is out of range for rank ${rank}`);
    return a;
  }

  // ------------------------------------------------------------ dispatch

  run(node: OnnxNode): void {
    this.node = node;
    if (node.domain !== '' && node.domain !== 'ai.onnx') this.fail(`domain '${node.domain}' is not supported`);
    if (this.tryFold()) return;
    if (this.tryPattern()) return;
    const f = (OPS as Record<string, ((c: Ctx) => void) | undefined>)[node.opType];
    if (!f) this.fail('this operator is not supported by the hodu importer');
    try {
      f(this);
    } catch (e) {
      if (e instanceof HoduError && e.code !== ErrorCode.UNSUPPORTED_OP && e.code !== ErrorCode.INVALID_FILE)
        throw new HoduError(e.code, `ONNX ${node.opType} (node '${node.name}'): ${e.message}`);
      throw e;
    }
  }

  /** A recognised multi-node idiom ending at this node (fuse-patterns.ts): its fused result. */
  private tryPattern(): boolean {
    const m = this.prog.patterns().get(this.node);
    if (!m) return false;
    const r = m.apply({
      knownVals: (name) => {
        const v = this.env.get(name);
        return v && v.known ? { shape: v.known.shape, vals: v.known.vals } : undefined;
      },
      tensorOf: (name) => {
        const v = this.env.get(name);
        return v ? this.tensor(v, name) : undefined;
      },
    });
    if (!r) return false;
    this.out(r);
    return true;
  }

  /** Runs another lowering on given tensors (compositions reuse lowerings); returns its first output. */
  sub(node: OnnxNode, inputs: Record<string, Tensor>, opType: string): Tensor {
    const env2 = new Map<string, Val>(this.env);
    for (const [k, t] of Object.entries(inputs)) env2.set(k, { t });
    const c2 = new Ctx(this.prog, env2);
    c2.node = { ...node, opType };
    OPS[opType](c2);
    return env2.get(node.outputs[0])!.t!;
  }

  /**
   * Runs a subgraph (If / Loop / Scan bodies) with the outer scope visible; `inputs` bind the
   * body's formal inputs in order. Returns the body's outputs.
   */
  runGraph(g: OnnxGraph, inputs: (Tensor | { scalar: number; dtype: DType })[]): Tensor[] {
    if (++this.depth > 16) this.fail('subgraphs nested too deeply');
    try {
      const env2 = new Map<string, Val>(this.env);
      for (const t of g.initializers) env2.set(t.name, { known: this.prog.knownOf(t, false) });
      g.inputs.forEach((vi, k) => {
        const v = inputs[k];
        if (v === undefined) return;
        if (v instanceof Tensor) env2.set(vi.name, { t: v });
        else env2.set(vi.name, { known: { dtype: v.dtype, shape: [], vals: () => [v.scalar] } });
      });
      const c2 = new Ctx(this.prog, env2);
      c2.depth = this.depth;
      for (const n of g.nodes) c2.run(n);
      const saved = this.node;
      const outs = g.outputs.map((o) => {
        const v = env2.get(o.name);
        if (!v) invalidFileNode(saved, `subgraph output '${o.name}' is produced by no node`);
        return c2.tensor(v, o.name);
      });
      this.node = saved;
      return outs;
    } finally {
      this.depth--;
    }
  }

  private depth = 0;

  get opset(): number {
    return this.prog.opset;
  }
  get n(): OnnxNode {
    return this.node;
  }

  // ------------------------------------------------------------ import-time folding

  private tryFold(): boolean {
    const op = this.node.opType;
    if (op === 'Constant') {
      this.constantNode();
      return true;
    }
    if (op === 'Shape') {
      const m = this.meta(0);
      const r = m.shape.length;
      let s = this.attrInt('start', 0);
      let e = this.attrInt('end', r);
      if (s < 0) s += r;
      if (e < 0) e += r;
      s = Math.min(Math.max(s, 0), r);
      e = Math.min(Math.max(e, 0), r);
      const dims = m.shape.slice(s, Math.max(s, e));
      this.outKnown({ dtype: DType.I64, shape: [dims.length], vals: dims });
      return true;
    }
    if (op === 'CastLike' && this.known(0) && prod(this.known(0)!.shape) <= FOLD_LIMIT) {
      const a = this.known(0)!;
      this.outKnown({ dtype: this.meta(1).dtype, shape: a.shape, vals: a.vals() });
      return true;
    }
    if (op === 'Size') {
      this.outKnown({ dtype: DType.I64, shape: [], vals: [prod(this.meta(0).shape)] });
      return true;
    }
    if (!this.allKnown()) return false;
    if (!FOLDABLE.has(op)) return this.foldEager();
    const k = (i: number) => this.known(i)!;
    const kv = (i: number) => k(i).vals();
    switch (op) {
      case 'Identity': {
        const a = k(0);
        this.outKnown({ dtype: a.dtype, shape: a.shape, vals: a.vals() });
        return true;
      }
      case 'Cast': {
        const to = dtypeOfOnnx(this.attrInt('to', 0));
        if (to === null) return false;
        this.outKnown({ dtype: to, shape: k(0).shape, vals: kv(0) });
        return true;
      }
      case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Equal': case 'Less': case 'Greater': case 'Max': case 'Min':
      case 'And': case 'Or': case 'LessOrEqual': case 'GreaterOrEqual': case 'Mod': {
        if (this.node.inputs.length !== 2) return false;
        const a = k(0), b = k(1);
        const shape = broadcastShapes(a.shape, b.shape);
        const av = a.vals(), bv = b.vals();
        const n = prod(shape);
        const isInt = !isFloat(a.dtype);
        const vals: number[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const x = av[bcastIndex(i, shape, a.shape)], y = bv[bcastIndex(i, shape, b.shape)];
          let r: number;
          switch (op) {
            case 'Add': r = x + y; break;
            case 'Sub': r = x - y; break;
            case 'Mul': r = x * y; break;
            case 'Div': if (isInt) { if (y === 0) return false; r = Math.trunc(x / y); } else r = x / y; break;
            case 'Mod': if (!isInt || y === 0) return false; r = this.attrInt('fmod', 0) ? x % y : ((x % y) + y) % y; break;
            case 'Equal': r = x === y ? 1 : 0; break;
            case 'Less': r = x < y ? 1 : 0; break;
            case 'Greater': r = x > y ? 1 : 0; break;
            case 'LessOrEqual': r = x <= y ? 1 : 0; break;
            case 'GreaterOrEqual': r = x >= y ? 1 : 0; break;
            case 'Max': r = Math.max(x, y); break;
            case 'Min': r = Math.min(x, y); break;
            case 'And': r = x && y ? 1 : 0; break;
            default: r = x || y ? 1 : 0;
          }
          vals[i] = r;
        }
        const cmp = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or'].includes(op);
        this.outKnown({ dtype: cmp ? DType.BOOL : a.dtype, shape, vals });
        return true;
      }
      case 'Not': {
        this.outKnown({ dtype: DType.BOOL, shape: k(0).shape, vals: kv(0).map((x) => (x ? 0 : 1)) });
        return true;
      }
      case 'Neg': case 'Abs': {
        const a = k(0);
        this.outKnown({ dtype: a.dtype, shape: a.shape, vals: a.vals().map((x) => (op === 'Neg' ? -x : Math.abs(x))) });
        return true;
      }
      case 'Where': {
        const c = k(0), a = k(1), b = k(2);
        const shape = broadcastShapes(broadcastShapes(c.shape, a.shape), b.shape);
        const cv = c.vals(), av = a.vals(), bv = b.vals();
        const vals = new Array<number>(prod(shape));
        for (let i = 0; i < vals.length; i++)
          vals[i] = cv[bcastIndex(i, shape, c.shape)] ? av[bcastIndex(i, shape, a.shape)] : bv[bcastIndex(i, shape, b.shape)];
        this.outKnown({ dtype: a.dtype, shape, vals });
        return true;
      }
      case 'ConstantOfShape': {
        const shape = kv(0);
        if (prod(shape) > FOLD_LIMIT) return false;
        const a = this.attr('value');
        let dtype = DType.F32;
        let v = 0;
        if (a && a.t) {
          const d = tensorData(a.t, {}, 'ConstantOfShape value');
          dtype = d.dtype;
          v = numericValues(d)[0] ?? 0;
        }
        this.outKnown({ dtype, shape, vals: new Array(prod(shape)).fill(v) });
        return true;
      }
      case 'Range': {
        const [s] = kv(0), [l] = kv(1), [d] = kv(2);
        if (d === 0) this.fail('delta is 0');
        const n = Math.max(Math.ceil((l - s) / d), 0);
        if (n > FOLD_LIMIT) return false;
        const vals = Array.from({ length: n }, (_, i) => s + i * d);
        this.outKnown({ dtype: k(0).dtype, shape: [n], vals });
        return true;
      }
      case 'Unsqueeze': case 'Squeeze': case 'Reshape': case 'Flatten': case 'Expand': case 'Concat': case 'Gather': case 'Slice':
      case 'ReduceProd': case 'ReduceSum': case 'Transpose': case 'Tile':
        return this.foldShaped(op);
      default:
        return false;
    }
  }

  /**
   * Folds any other op whose inputs are all known and small: its own lowering runs eagerly on
   * concrete tensors (hodu's kernels), and the outputs become known values.
   */
  private foldEager(): boolean {
    const op = this.node.opType;
    const f = OPS[op];
    if (!f) return false;
    return eager(() => {
      try {
        const env2 = new Map<string, Val>(this.env);
        const names: string[] = [];
        this.node.inputs.forEach((nm, i) => {
          const v = this.val(i);
          if (!v) {
            names.push(nm);
            return;
          }
          const k = v.known!;
          const alias = `\u0000fold-in-${i}`;
          env2.set(alias, { known: { dtype: k.dtype, shape: k.shape, vals: k.vals } });
          names.push(alias);
        });
        const outs = this.node.outputs.map((o, i) => (o ? `\u0000fold-out-${i}` : ''));
        const c2 = new Ctx(this.prog, env2);
        c2.node = { ...this.node, inputs: names, outputs: outs };
        f(c2);
        const results: { dtype: DType; shape: number[]; vals: number[] }[] = [];
        for (const o of outs) {
          if (!o) {
            results.push({ dtype: DType.F32, shape: [], vals: [] });
            continue;
          }
          const t = env2.get(o)?.t;
          if (!t) return false;
          const a = t.contiguous().toTypedArray();
          const vals = numericValues({ dtype: t.dtype, shape: t.shape.slice(), bytes: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });
          results.push({ dtype: t.dtype, shape: t.shape.slice(), vals });
        }
        results.forEach((r, i) => {
          if (this.node.outputs[i]) this.outKnown(r, i);
        });
        return true;
      } catch {
        return false; // the regular lowering reports its own error
      }
    });
  }

  /**
   * Folds data-movement ops (and ReduceProd) on known values: the op's own lowering runs eagerly
   * on a small f64 tensor (of element indices for movement ops, of values for reductions).
   */
  private foldShaped(op: string): boolean {
    const a = this.known(0)!;
    return eager(() => {
      try {
        let table = a.vals();
        let src: Tensor;
        const reduce = op === 'ReduceProd' || op === 'ReduceSum';
        if (op === 'Concat') {
          const parts: Tensor[] = [];
          const all: number[] = [];
          for (let i = 0; i < this.node.inputs.length; i++) {
            const kk = this.known(i)!;
            const vv = kk.vals();
            parts.push(Tensor._fromValues(vv.map((_, j) => all.length + j), kk.shape, DType.F64));
            for (const x of vv) all.push(x);
          }
          const axis = this.norm(this.attrInt('axis', 0), a.shape.length);
          const r = Tensor.concat(parts, axis);
          this.outKnown({ dtype: a.dtype, shape: r.shape.slice(), vals: Array.from(r.contiguous().toTypedArray() as Float64Array, (i) => all[i]) });
          return true;
        }
        src = Tensor._fromValues(reduce ? table : table.map((_, i) => i), a.shape, DType.F64);
        const env2 = new Map<string, Val>(this.env);
        const tmp = '\u0000fold-in';
        const outName = '\u0000fold-out';
        env2.set(tmp, { t: src });
        const c2 = new Ctx(this.prog, env2);
        c2.node = { ...this.node, inputs: [tmp, ...this.node.inputs.slice(1)], outputs: [outName] };
        OPS[op](c2);
        const r = env2.get(outName)!.t!;
        const rv = Array.from(r.contiguous().toTypedArray() as Float64Array);
        if (reduce) table = rv.map((_, i) => i).map((i) => rv[i]);
        this.outKnown({ dtype: a.dtype, shape: r.shape.slice(), vals: reduce ? rv : rv.map((i) => table[i]) });
        return true;
      } catch (e) {
        if (e instanceof HoduError && e.code === ErrorCode.UNSUPPORTED_OP) throw e;
        return false;
      }
    });
  }

  private constantNode(): void {
    const a = this.node.attributes[0];
    if (!a) invalidFileNode(this.node, 'Constant without a value');
    let k: { dtype: DType; shape: number[]; vals: number[] } | null = null;
    switch (a.name) {
      case 'value': {
        const d = tensorData(a.t!, this.prog.external, `Constant '${this.node.name}'`);
        const vals = memo(() => numericValues(d));
        const name = this.node.outputs[0];
        const big = d.bytes.length > FOLD_LIMIT;
        if (name)
          this.env.set(name, {
            known: { dtype: d.dtype, shape: d.shape, vals, shared: big ? memo(() => ownBuffer(d.bytes)) : undefined },
          });
        return;
      }
      case 'value_float': k = { dtype: DType.F32, shape: [], vals: [a.f ?? 0] }; break;
      case 'value_floats': k = { dtype: DType.F32, shape: [a.floats.length], vals: a.floats }; break;
      case 'value_int': k = { dtype: DType.I64, shape: [], vals: [a.i ?? 0] }; break;
      case 'value_ints': k = { dtype: DType.I64, shape: [a.ints.length], vals: a.ints }; break;
      default:
        this.fail(`attribute '${a.name}' is not supported`);
    }
    this.outKnown(k);
  }
}

function invalidFileNode(n: OnnxNode, msg: string): never {
  throw invalidFile(`node '${n.name}' (${n.opType}): ${msg}`);
}

interface SharedRecorder {
  sharedConstant(buffer: ArrayBuffer, dtype: DType, shape: number[]): Tensor;
}

const KNOWN_OPS = new Set(['Constant', 'Shape', 'Size']);

const FOLDABLE = new Set([
  'Identity', 'Cast', 'Add', 'Sub', 'Mul', 'Div', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Max', 'Min', 'And', 'Or',
  'Not', 'Neg', 'Abs', 'Where', 'ConstantOfShape', 'Range', 'Unsqueeze', 'Squeeze', 'Reshape', 'Flatten', 'Expand', 'Concat', 'Gather',
  'Slice', 'ReduceProd', 'Transpose', 'Tile', 'Mod',
]);

export type { Ctx };
// The op table lives in ops.ts (imported here for dispatch).
import { OPS } from './ops';
