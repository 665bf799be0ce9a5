// Script.fromOnnx: decode once, keep initializers as shared constant buffers, trace per shape.
import * as fs from 'fs';
import * as path from 'path';
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Script, TensorInfo } from '../script';
import { decodeOnnx, OnnxModel, OnnxValueInfo } from './model';
import { OnnxProgram } from './import';
import { foldBatchNorm } from './fold-batchnorm';
import { ExternalSource, TensorData, dtypeOfOnnx, onnxTypeName } from './tensor-data';

export { decodeOnnx } from './model';
export { OnnxProgram } from './import';

/** Options of Script.fromOnnx. */
export interface OnnxOptions {
  /** Script name (default: the file's base name, or 'onnx'). */
  name?: string;
  /**
   * Fix the input shapes: a plain Script recorded once at these shapes. Without it the script keeps
   * the model's symbolic dims and traces (then compiles) once per new input-shape signature.
   */
  shapes?: Record<string, number[]>;
  /** External data files by location, for models given as bytes. */
  externalData?: Record<string, Uint8Array>;
  /**
   * Float initializers become variables (`script.variables`, named as in the model) instead of
   * constants. Needs `shapes` for symbolic inputs (a trainable script has one fixed shape).
   */
  trainable?: boolean;
  /** @internal Inputs bound as import-time constants (shape operands in tests). */
  constantInputs?: Record<string, TensorData>;
}

/** A TensorInfo dim may be a name (dim_param) or null (unknown) on imported scripts. */
export type OnnxDimInfo = number | string | null;

function infoOf(v: OnnxValueInfo): { name: string; dtype: DType; shape: OnnxDimInfo[] } {
  const dt = dtypeOfOnnx(v.elemType);
  if (dt === null || !v.isTensor)
    throw new HoduError(ErrorCode.UNSUPPORTED_OP, `ONNX: '${v.name}' has type ${v.isTensor ? onnxTypeName(v.elemType) : 'non-tensor (sequence/map/optional)'}, which hodu does not support`);
  return { name: v.name, dtype: dt, shape: v.shape ? v.shape.slice() : [] };
}

/** Loads the model bytes and where its external data lives. */
export function loadOnnx(src: string | Uint8Array, options: OnnxOptions = {}): { model: OnnxModel; external: ExternalSource; name: string } {
  let bytes: Uint8Array;
  let external: ExternalSource = { data: options.externalData };
  let name = options.name;
  if (typeof src === 'string') {
    try {
      bytes = fs.readFileSync(src);
    } catch (e) {
      throw new HoduError(ErrorCode.INVALID_FILE, `cannot read ONNX model '${src}': ${(e as Error).message}`);
    }
    external = { dir: path.dirname(path.resolve(src)), data: options.externalData };
    name = name ?? path.basename(src).replace(/\.onnx$/i, '');
  } else if (src instanceof Uint8Array) bytes = src;
  else throw invalidArg(`Script.fromOnnx: expected a path or a Uint8Array, got ${describe(src)}`);
  return { model: decodeOnnx(bytes), external, name: name || 'onnx' };
}

/** Resolves concrete shapes for each input from the model's static dims and the given shapes. */
export function concreteShapes(prog: OnnxProgram, given: Record<string, number[]> = {}): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const inp of prog.inputs) {
    const g = given[inp.name];
    if (g) {
      out[inp.name] = g.slice();
      continue;
    }
    const sh = inp.shape ?? [];
    if (sh.some((d) => typeof d !== 'number'))
      throw invalidArg(`Script.fromOnnx: input '${inp.name}' has symbolic dims [${sh.map((d) => (d === null ? '?' : d)).join(', ')}]; give options.shapes['${inp.name}']`);
    out[inp.name] = sh as number[];
  }
  return out;
}

/** The body of Script.fromOnnx. */
export function scriptFromOnnx(src: string | Uint8Array, options: OnnxOptions = {}): Script {
  if (options === null || typeof options !== 'object') throw invalidArg(`Script.fromOnnx: options must be an object, got ${describe(options)}`);
  const loaded = loadOnnx(src, options);
  const { external, name } = loaded;
  // inference imports: BatchNormalization folded into the conv before it (trainable: left as is)
  const model = options.trainable ? loaded.model : foldBatchNorm(loaded.model, external).model;
  const prog = new OnnxProgram(model, external);
  const constantInputs = options.constantInputs ?? {};
  const inputs = prog.inputs.filter((i) => !constantInputs[i.name]).map(infoOf);
  const outputs = model.graph.outputs.map(infoOf);
  if (options.shapes || options.trainable) {
    // one fixed specialization (variables need a recorded script)
    const shapes = concreteShapes(prog, options.shapes);
    for (const k of Object.keys(constantInputs)) delete shapes[k];
    return prog.traceScript(shapes, name, constantInputs, options.trainable === true);
  }
  prog.validate();
  const trace = (shapes: Record<string, number[]>) => prog.trace(shapes, name, constantInputs);
  if (inputs.every((i) => i.shape.every((d) => typeof d === 'number'))) trace(concreteShapes(prog)); // static: fail early
  return Script._fromTracer(name, inputs as unknown as TensorInfo[], outputs as unknown as TensorInfo[], trace);
}
