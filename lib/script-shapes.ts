// How a Script gets a concrete graph for concrete input shapes: its declared inputs/outputs
// (symbolic dims as null or names), and `derive(shapes)`:
//   - a recorded script without symbolic dims: its own graph;
//   - a recorded script with symbolic dims: the graph rewritten for the shapes (GraphSpecializer);
//   - a traced script (Script._fromTracer, importers): the tracer's graph for the shapes.
// Also the `{ shapes }` metadata saved in .hoduscript files, and typed-array feeds of run(feeds).
import { AnyTypedArray, DType, dtypeFromCode, dtypeOfTypedArray } from './dtype';
import { ErrorCode, HoduError, describe, invalidArg } from './errors';
import { binding, call } from './native';
import { ConcreteGraph, DeclaredTensor, GraphSpecializer, formatShapes, hasSymbolicDims } from './specialize';
import { Dim, checkDeclaredShape, formatDims, isSymbolicDim, isTracerPrime } from './symbolic';
import { checkShape } from './tensor';
import { VAR_PREFIX, isReservedName } from './variables';

interface Described {
  inputs: { name: string; dtype: number; shape: number[] }[];
  outputs: { name: string; dtype: number; shape: number[] }[];
}

const describeIr = (ir: Uint8Array, constants: ArrayBuffer[]): Described =>
  call(() => (binding as unknown as { describeIr(ir: Uint8Array, c: ArrayBuffer[]): Described }).describeIr(ir, constants));

const info = (name: string, dtype: DType, shape: readonly Dim[]): DeclaredTensor =>
  Object.freeze({ name, dtype, shape: Object.freeze(shape.slice()) });

export class ScriptShapes {
  /** The user's inputs (reserved ones, named '@...': variables, per-run random draws, left out). */
  readonly inputs: readonly DeclaredTensor[];
  /** Values of variables stored in a file after the constants (read by the Script), else null. */
  storedValues: ArrayBuffer[] | null = null;
  private outputsMemo: readonly DeclaredTensor[] | null = null;
  private allOutputsMemo: readonly DeclaredTensor[] | null = null;

  private constructor(
    readonly ir: Uint8Array,
    readonly constants: ArrayBuffer[],
    /** Every IR input, reserved ones included. */
    readonly allInputs: readonly DeclaredTensor[],
    /** Every IR output (name and dtype; shapes as recorded). */
    readonly outputSlots: readonly DeclaredTensor[],
    /** The declared outputs (symbolic dims found by a probe, run when first asked for). */
    private readonly outputsFn: () => readonly DeclaredTensor[],
    /** Whether some input has a symbolic dim. */
    readonly symbolic: boolean,
    /** Whether the graph comes from a tracer (not saveable). */
    readonly traced: boolean,
    private readonly deriveFn: (shapes: (number[] | null)[]) => ConcreteGraph,
  ) {
    this.inputs = Object.freeze(allInputs.filter((t) => !isReservedName(t.name)));
  }

  /** Every IR output with its declared shape, reserved ones included. */
  get allOutputs(): readonly DeclaredTensor[] {
    if (!this.allOutputsMemo) this.allOutputsMemo = Object.freeze(this.outputsFn().slice());
    return this.allOutputsMemo;
  }

  /** The user's outputs with their declared shapes (symbolic dims as null or names). */
  get outputs(): readonly DeclaredTensor[] {
    if (!this.outputsMemo) this.outputsMemo = Object.freeze(this.allOutputs.filter((t) => !isReservedName(t.name)));
    return this.outputsMemo;
  }

  /** The concrete graph for the user inputs' shapes (in `inputs` order). */
  derive(shapes: number[][]): ConcreteGraph {
    let k = 0;
    return this.deriveFn(this.allInputs.map((t) => (isReservedName(t.name) ? null : shapes[k++])));
  }

  /** A recorded graph; `decls` holds the declared shape of each input with a symbolic dim. */
  static recorded(
    name: string,
    ir: Uint8Array,
    allConstants: ArrayBuffer[],
    decls?: ReadonlyMap<string, readonly Dim[]>,
    storedVariables = false,
  ): ScriptShapes {
    const d = describeIr(ir, allConstants);
    // a file stores each variable's value after the constants
    let constants = allConstants;
    let stored: ArrayBuffer[] | null = null;
    if (storedVariables) {
      const n = d.inputs.filter((i) => i.name.startsWith(VAR_PREFIX)).length;
      if (n > allConstants.length)
        throw new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${n} variables but only ${allConstants.length} stored values`);
      constants = allConstants.slice(0, allConstants.length - n);
      stored = allConstants.slice(allConstants.length - n);
    }
    const outputsFixed = d.outputs.map((o) => info(o.name, dtypeFromCode(o.dtype), o.shape));
    if (!decls || decls.size === 0) {
      const inputs = d.inputs.map((i) => info(i.name, dtypeFromCode(i.dtype), i.shape));
      const g: ConcreteGraph = { ir, constants, outputShapes: d.outputs.map((o) => o.shape) };
      const s = new ScriptShapes(ir, constants, Object.freeze(inputs), outputsFixed, () => outputsFixed, false, false, () => g);
      s.storedValues = stored;
      return s;
    }
    for (const k of decls.keys())
      if (!d.inputs.some((i) => i.name === k && !isReservedName(k)))
        throw new HoduError(ErrorCode.INVALID_FILE, `symbolic shape given for '${k}', which is not an input`);
    const byPrime = new Map<number, string>();
    const inputs = d.inputs.map((i) => {
      const decl = decls.get(i.name) ?? i.shape;
      const what = `input '${i.name}' declared ${formatDims(decl)} over recorded ${describe(i.shape)}`;
      if (decl.length !== i.shape.length) throw new HoduError(ErrorCode.INVALID_FILE, `${what}: ranks differ`);
      decl.forEach((dim, k) => {
        const size = i.shape[k];
        if (typeof dim === 'number') {
          if (dim !== size) throw new HoduError(ErrorCode.INVALID_FILE, `${what}: dim ${k} differs`);
          return;
        }
        if (!isSymbolicDim(dim) || !isTracerPrime(size)) throw new HoduError(ErrorCode.INVALID_FILE, `${what}: dim ${k} is not a symbolic dim`);
        const tag = dim === null ? `?${i.name}:${k}` : `=${dim}`;
        const seen = byPrime.get(size);
        if (seen !== undefined && (seen !== tag || dim === null))
          throw new HoduError(ErrorCode.INVALID_FILE, `${what}: dim ${k} shares its placeholder with another symbolic dim`);
        byPrime.set(size, tag);
      });
      return info(i.name, dtypeFromCode(i.dtype), decl);
    });
    // a fixed input size equal to a placeholder would be read as that symbolic dim
    inputs.forEach((t, k) =>
      t.shape.forEach((dim, j) => {
        if (typeof dim === 'number' && byPrime.has(dim) && !isReservedName(t.name))
          throw invalidArg(
            `Tensor.input('${t.name}'): dim ${j} has the fixed size ${dim}, which this script uses as the placeholder of a symbolic dim; ` +
              `declare that dim symbolic (null or a name) too (input ${k})`,
          );
      }),
    );
    const spec = new GraphSpecializer(name, ir, constants);
    // which output dims vary: a probe specialization, run when script.outputs is first read
    const outputs = (): DeclaredTensor[] => {
      const outDims = spec.outputDims(
        inputs,
        inputs.map((t) => isReservedName(t.name)),
      );
      return d.outputs.map((o, k) => info(o.name, dtypeFromCode(o.dtype), outDims[k]));
    };
    const user = inputs.filter((t) => !isReservedName(t.name));
    const s = new ScriptShapes(ir, constants, Object.freeze(inputs), outputsFixed, outputs, true, false, (shapes) =>
      spec.specialize(shapes, () => formatShapes(user, shapes.filter((x): x is number[] => x !== null))),
    );
    s.storedValues = stored;
    return s;
  }

  /** A graph traced per shape signature (Script._fromTracer). */
  static traced(
    name: string,
    inputsIn: readonly DeclaredTensor[],
    outputsIn: readonly DeclaredTensor[],
    trace: (shapes: Record<string, number[]>) => { ir: Uint8Array; constants: ArrayBuffer[] },
  ): ScriptShapes {
    if (typeof trace !== 'function') throw invalidArg(`Script._fromTracer('${name}'): trace must be a function`);
    const check = (list: readonly DeclaredTensor[], what: string): DeclaredTensor[] => {
      if (!Array.isArray(list)) throw invalidArg(`Script._fromTracer('${name}'): ${what} must be an array`);
      return list.map((t) => {
        if (!t || typeof t.name !== 'string' || t.name.length === 0) throw invalidArg(`Script._fromTracer('${name}'): an entry of ${what} has no name`);
        return info(t.name, t.dtype, checkDeclaredShape(t.shape, `Script._fromTracer('${name}') ${what} '${t.name}'`));
      });
    };
    const inputs = check(inputsIn, 'inputs');
    const outputs = check(outputsIn, 'outputs');
    const derive = (given: (number[] | null)[]): ConcreteGraph => {
      const shapes = given as number[][]; // a traced script has no reserved inputs
      const byName: Record<string, number[]> = {};
      inputs.forEach((t, k) => (byName[t.name] = shapes[k].slice()));
      const g = trace(byName);
      if (!g || !(g.ir instanceof Uint8Array || ArrayBuffer.isView(g.ir)) || !Array.isArray(g.constants))
        throw new HoduError(ErrorCode.INTERNAL, `script '${name}': the tracer returned no { ir, constants }`);
      const d = describeIr(g.ir, g.constants);
      const where = `script '${name}' traced for input shapes ${formatShapes(inputs, shapes)}`;
      if (d.inputs.length !== inputs.length || d.outputs.length !== outputs.length)
        throw new HoduError(ErrorCode.INTERNAL, `${where}: the graph has ${d.inputs.length} inputs and ${d.outputs.length} outputs, expected ${inputs.length} and ${outputs.length}`);
      d.inputs.forEach((i, k) => {
        if (i.name !== inputs[k].name || i.shape.length !== shapes[k].length || i.shape.some((s, j) => s !== shapes[k][j]))
          throw new HoduError(ErrorCode.INTERNAL, `${where}: graph input ${k} is '${i.name}' ${describe(i.shape)}, expected '${inputs[k].name}' ${describe(shapes[k])}`);
      });
      d.outputs.forEach((o, k) => {
        if (o.name !== outputs[k].name) throw new HoduError(ErrorCode.INTERNAL, `${where}: graph output ${k} is '${o.name}', expected '${outputs[k].name}'`);
      });
      return { ir: g.ir, constants: g.constants, outputShapes: d.outputs.map((o) => o.shape) };
    };
    return new ScriptShapes(new Uint8Array(0), [], Object.freeze(inputs), outputs, () => outputs, hasSymbolicDims(inputs), true, derive);
  }

  /** A script read from a file: `meta.shapes` (format 2) holds the declared symbolic input shapes. */
  static fromFile(name: string, ir: Uint8Array, constants: ArrayBuffer[], meta: Record<string, unknown>): ScriptShapes {
    const raw = meta.shapes;
    if (raw === undefined) return ScriptShapes.recorded(name, ir, constants, undefined, true);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new HoduError(ErrorCode.INVALID_FILE, 'invalid script file: bad symbolic shapes');
    const decls = new Map<string, Dim[]>();
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      try {
        decls.set(k, checkDeclaredShape(v, `input '${k}'`));
      } catch (e) {
        throw new HoduError(ErrorCode.INVALID_FILE, `invalid script file: ${(e as Error).message}`);
      }
    }
    return ScriptShapes.recorded(name, ir, constants, decls, true);
  }
}

/** The file metadata of a script: its declared symbolic input shapes. Traced scripts cannot be saved. */
export function shapesMeta(s: ScriptShapes): Record<string, unknown> {
  if (s.traced)
    throw invalidArg(
      'save: this script re-traces its graph for each input shape (an imported model); it cannot be saved as a .hoduscript. Save the source model instead.',
    );
  if (!s.symbolic) return {};
  const shapes: Record<string, Dim[]> = {};
  for (const t of s.inputs) if (t.shape.some(isSymbolicDim)) shapes[t.name] = t.shape.slice();
  return { shapes };
}

function fitsDtype(a: ArrayBufferView, dtype: DType): boolean {
  const t = dtypeOfTypedArray(a);
  if (t === dtype) return true;
  if (t === DType.U16 && (dtype === DType.F16 || dtype === DType.BF16)) return true; // raw bits
  return t === DType.U8 && dtype === DType.BOOL;
}

/**
 * A typed-array feed of run(feeds): a bare typed array only for an input whose declared shape is
 * fully static (a typed array has no shape), else `{ data, shape }`. F16/BF16 take raw bits
 * (Uint16Array), BOOL a Uint8Array of 0/1.
 */
export function feedInput(t: DeclaredTensor, f: unknown): { view: Uint8Array; shape: number[] } {
  let data: AnyTypedArray;
  let shape: number[];
  if (ArrayBuffer.isView(f)) {
    if (t.shape.some(isSymbolicDim))
      throw invalidArg(
        `input '${t.name}': a typed array has no shape, and the declared shape ${formatDims(t.shape)} has symbolic dims; pass { data, shape } or a Tensor`,
      );
    data = f as AnyTypedArray;
    shape = t.shape as number[];
  } else if (f !== null && typeof f === 'object' && 'data' in f && 'shape' in f) {
    const o = f as { data: unknown; shape: unknown };
    if (!ArrayBuffer.isView(o.data)) throw invalidArg(`input '${t.name}': data must be a typed array, got ${describe(o.data)}`);
    data = o.data as AnyTypedArray;
    shape = checkShape(o.shape, `input '${t.name}': shape`);
  } else {
    throw invalidArg(`input '${t.name}': expected a Tensor, a typed array or { data, shape }, got ${describe(f)}`);
  }
  if (!fitsDtype(data, t.dtype))
    throw new HoduError(
      ErrorCode.DTYPE_MISMATCH,
      `input '${t.name}': expected dtype ${t.dtype}, got a ${Object.prototype.toString.call(data).slice(8, -1)}`,
    );
  const n = shape.reduce((a, b) => a * b, 1);
  const len = (data as unknown as { length: number }).length;
  if (len !== n)
    throw new HoduError(ErrorCode.SHAPE_MISMATCH, `input '${t.name}': ${len} values for shape ${describe(shape)} (${n} elements)`);
  return { view: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), shape };
}
