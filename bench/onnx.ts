// A minimal ONNX ModelProto writer: the protobuf wire format written by hand, no dependencies.
// Field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto, TypeProto, TensorShapeProto). Writes ir_version 8, opset 17;
// initializers go in as raw_data (little-endian, as on the host). Covers what the benchmark's
// models need: float32 / int64 tensors, int / float / ints attributes, symbolic dimensions.

type Bytes = Uint8Array;

enum Wire {
  Varint = 0,
  Fixed32 = 5,
  Len = 2,
}

/** ONNX TensorProto.DataType values. */
export enum ElemType {
  Float = 1,
  Int64 = 7,
}

function concat(parts: Bytes[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Base-128 varint; negative numbers as 64-bit two's complement (10 bytes), as protobuf int64 wants. */
function varint(v: number | bigint): Bytes {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) byte |= 0x80;
    out.push(byte);
  } while (x !== 0n);
  return Uint8Array.from(out);
}

const tag = (field: number, wire: Wire): Bytes => varint((field << 3) | wire);
const fieldVarint = (field: number, v: number | bigint): Bytes => concat([tag(field, Wire.Varint), varint(v)]);
const fieldBytes = (field: number, b: Bytes): Bytes => concat([tag(field, Wire.Len), varint(b.length), b]);
const fieldString = (field: number, s: string): Bytes => fieldBytes(field, new TextEncoder().encode(s));
function fieldFloat(field: number, x: number): Bytes {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return concat([tag(field, Wire.Fixed32), b]);
}

/** A serialized TensorProto (dims = 1, data_type = 2, name = 8, raw_data = 9). */
export interface TensorProto {
  readonly kind: 'tensor';
  readonly bytes: Bytes;
}

/** An initializer: float32 or int64 data with the given dims ([] for a scalar). */
export function tensor(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): TensorProto {
  const elem = data instanceof BigInt64Array ? ElemType.Int64 : ElemType.Float;
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`onnx tensor ${name}: dims [${dims}] hold ${size} values, data has ${data.length}`);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return {
    kind: 'tensor',
    bytes: concat([...dims.map((d) => fieldVarint(1, d)), fieldVarint(2, elem), fieldString(8, name), fieldBytes(9, raw)]),
  };
}

export const scalar = (name: string, v: number): TensorProto => tensor(name, [], new Float32Array([v]));

/**
 * A graph input or output (ValueInfoProto: name = 1, type = 2). A string dimension is symbolic
 * (dim_param), a number fixed (dim_value).
 */
export function valueInfo(name: string, dims: readonly (number | string)[], elem: ElemType = ElemType.Float): Bytes {
  const dimMsgs = dims.map((d) => fieldBytes(1, typeof d === 'string' ? fieldString(2, d) : fieldVarint(1, d)));
  const shape = fieldBytes(2, concat(dimMsgs)); // TypeProto.Tensor.shape = 2
  const tensorType = fieldBytes(1, concat([fieldVarint(1, elem), shape])); // TypeProto.tensor_type = 1
  return concat([fieldString(1, name), fieldBytes(2, tensorType)]);
}

/** Attribute values: an integer, a float ({ float: x } forces a float for integral values), or ints. */
export type AttrValue = number | { float: number } | readonly number[];

// AttributeProto: name = 1, f = 2, i = 3, ints = 8, type = 20 (FLOAT = 1, INT = 2, INTS = 7).
function attribute(name: string, value: AttrValue): Bytes {
  const parts = [fieldString(1, name)];
  if (Array.isArray(value)) {
    for (const v of value as readonly number[]) parts.push(fieldVarint(8, v));
    parts.push(fieldVarint(20, 7));
  } else if (typeof value === 'object') {
    parts.push(fieldFloat(2, (value as { float: number }).float), fieldVarint(20, 1));
  } else if (Number.isInteger(value)) {
    parts.push(fieldVarint(3, value), fieldVarint(20, 2));
  } else {
    parts.push(fieldFloat(2, value), fieldVarint(20, 1));
  }
  return concat(parts);
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
export function node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}): Bytes {
  return concat([
    ...inputs.map((s) => fieldString(1, s)),
    ...outputs.map((s) => fieldString(2, s)),
    fieldString(3, `${opType}_${outputs[0]}`),
    fieldString(4, opType),
    ...Object.entries(attrs).map(([k, v]) => fieldBytes(5, attribute(k, v))),
  ]);
}

export interface GraphSpec {
  name: string;
  nodes: Bytes[];
  inputs: Bytes[];
  outputs: Bytes[];
  initializers?: TensorProto[];
}

/**
 * A ModelProto (ir_version = 1, producer_name = 2, graph = 7, opset_import = 8) holding one
 * GraphProto (node = 1, name = 2, initializer = 5, input = 11, output = 12).
 */
export function model(g: GraphSpec, opset = 17, irVersion = 8): Uint8Array {
  const graph = concat([
    ...g.nodes.map((n) => fieldBytes(1, n)),
    fieldString(2, g.name),
    ...(g.initializers ?? []).map((t) => fieldBytes(5, t.bytes)),
    ...g.inputs.map((v) => fieldBytes(11, v)),
    ...g.outputs.map((v) => fieldBytes(12, v)),
  ]);
  const opsetImport = concat([fieldString(1, ''), fieldVarint(2, opset)]); // OperatorSetIdProto: domain, version
  return concat([fieldVarint(1, irVersion), fieldString(2, 'hodu-bench'), fieldBytes(7, graph), fieldBytes(8, opsetImport)]);
}
