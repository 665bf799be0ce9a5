// ONNX ModelProto decoding (the subset hodu reads) on top of the wire reader in proto.ts.
// Tensor payloads stay zero-copy views over the file bytes (raw_data); typed repeated fields are
// kept as the numbers read. External data is resolved later (tensorData) against a folder or a map.
import { ProtoReader, Wire, invalidFile } from './proto';

/** ONNX TensorProto.DataType codes. */
export const OnnxType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

export interface OnnxExternal {
  location: string;
  offset: number;
  length: number | null;
}

export interface OnnxTensor {
  name: string;
  /** ONNX data type code (OnnxType). */
  dataType: number;
  dims: number[];
  /** raw_data: a view over the file bytes (little-endian). */
  raw: Uint8Array | null;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  uint64Data: number[];
  stringData: Uint8Array[];
  /** Set when data_location is EXTERNAL. */
  external: OnnxExternal | null;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: OnnxTensor[];
  graphs: OnnxGraph[];
  refAttrName?: string;
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

/** A dim: a number, a symbolic name, or null (unknown). */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  name: string;
  /** Element type (0 when not a tensor type). */
  elemType: number;
  /** null when the rank is unknown. */
  shape: OnnxDim[] | null;
  /** false for sequence/map/optional types. */
  isTensor: boolean;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  sparseInitializers: number;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
}

export interface OnnxOpset {
  domain: string;
  version: number;
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: OnnxOpset[];
  graph: OnnxGraph;
  /** Number of model-local functions (FunctionProto); hodu does not inline them. */
  functions: string[];
  /** The bytes decoded (tensor views point into them). */
  bytes: Uint8Array;
}

const MAX_DEPTH = 32;

function checkDim(d: number, what: string): number {
  if (!Number.isSafeInteger(d) || d < 0) throw invalidFile(`${what}: dim ${d} is not a non-negative integer`);
  return d;
}

export function decodeTensor(r: ProtoReader): OnnxTensor {
  const t: OnnxTensor = {
    name: '',
    dataType: 0,
    dims: [],
    raw: null,
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringData: [],
    external: null,
  };
  const ext: Record<string, string> = {};
  let location = 0;
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1:
        r.int64s(w, t.dims);
        break;
      case 2:
        r.expect(w, Wire.Varint, 'TensorProto.data_type');
        t.dataType = r.int32();
        break;
      case 4:
        r.floats(w, t.floatData);
        break;
      case 5:
        r.int32s(w, t.int32Data);
        break;
      case 6:
        r.expect(w, Wire.Bytes, 'TensorProto.string_data');
        t.stringData.push(r.bytes());
        break;
      case 7:
        r.int64s(w, t.int64Data);
        break;
      case 8:
        r.expect(w, Wire.Bytes, 'TensorProto.name');
        t.name = r.string();
        break;
      case 9:
        r.expect(w, Wire.Bytes, 'TensorProto.raw_data');
        t.raw = r.bytes();
        break;
      case 10:
        r.doubles(w, t.doubleData);
        break;
      case 11:
        r.uint64s(w, t.uint64Data);
        break;
      case 13: {
        r.expect(w, Wire.Bytes, 'TensorProto.external_data');
        const m = r.message();
        let k = '';
        let v = '';
        while (!m.done) {
          const [ff, ww] = m.tag();
          if (ff === 1 && ww === Wire.Bytes) k = m.string();
          else if (ff === 2 && ww === Wire.Bytes) v = m.string();
          else m.skip(ww);
        }
        ext[k] = v;
        break;
      }
      case 14:
        r.expect(w, Wire.Varint, 'TensorProto.data_location');
        location = r.int32();
        break;
      default:
        r.skip(w);
    }
  }
  for (const d of t.dims) checkDim(d, `tensor '${t.name}'`);
  if (location === 1) {
    if (!ext.location) throw invalidFile(`tensor '${t.name}': external data without a location`);
    const offset = ext.offset === undefined ? 0 : Number(ext.offset);
    const length = ext.length === undefined ? null : Number(ext.length);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidFile(`tensor '${t.name}': external offset '${ext.offset}'`);
    if (length !== null && (!Number.isSafeInteger(length) || length < 0)) throw invalidFile(`tensor '${t.name}': external length '${ext.length}'`);
    t.external = { location: ext.location, offset, length };
  }
  return t;
}

function decodeValueInfo(r: ProtoReader): OnnxValueInfo {
  const vi: OnnxValueInfo = { name: '', elemType: 0, shape: null, isTensor: false };
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === Wire.Bytes) vi.name = r.string();
    else if (f === 2 && w === Wire.Bytes) {
      const tp = r.message();
      while (!tp.done) {
        const [tf, tw] = tp.tag();
        if (tf === 1 && tw === Wire.Bytes) {
          vi.isTensor = true;
          const tt = tp.message();
          while (!tt.done) {
            const [ff, ww] = tt.tag();
            if (ff === 1 && ww === Wire.Varint) vi.elemType = tt.int32();
            else if (ff === 2 && ww === Wire.Bytes) {
              vi.shape = [];
              const sh = tt.message();
              while (!sh.done) {
                const [sf, sw] = sh.tag();
                if (sf === 1 && sw === Wire.Bytes) {
                  const dm = sh.message();
                  let dim: OnnxDim = null;
                  while (!dm.done) {
                    const [df, dw] = dm.tag();
                    if (df === 1 && dw === Wire.Varint) {
                      const v = dm.int64();
                      dim = Number.isSafeInteger(v) && v >= 0 ? v : null;
                    } else if (df === 2 && dw === Wire.Bytes) dim = dm.string() || null;
                    else dm.skip(dw);
                  }
                  vi.shape.push(dim);
                } else sh.skip(sw);
              }
            } else tt.skip(ww);
          }
        } else tp.skip(tw);
      }
    } else r.skip(w);
  }
  return vi;
}

function decodeAttribute(r: ProtoReader, depth: number): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1:
        r.expect(w, Wire.Bytes, 'AttributeProto.name');
        a.name = r.string();
        break;
      case 2:
        r.expect(w, Wire.Fixed32, 'AttributeProto.f');
        a.f = r.float();
        break;
      case 3:
        r.expect(w, Wire.Varint, 'AttributeProto.i');
        a.i = r.int64();
        break;
      case 4:
        r.expect(w, Wire.Bytes, 'AttributeProto.s');
        a.s = r.bytes();
        break;
      case 5:
        r.expect(w, Wire.Bytes, 'AttributeProto.t');
        a.t = decodeTensor(r.message());
        break;
      case 6:
        r.expect(w, Wire.Bytes, 'AttributeProto.g');
        a.g = decodeGraph(r.message(), depth + 1);
        break;
      case 7:
        r.floats(w, a.floats);
        break;
      case 8:
        r.int64s(w, a.ints);
        break;
      case 9:
        r.expect(w, Wire.Bytes, 'AttributeProto.strings');
        a.strings.push(r.bytes());
        break;
      case 10:
        r.expect(w, Wire.Bytes, 'AttributeProto.tensors');
        a.tensors.push(decodeTensor(r.message()));
        break;
      case 11:
        r.expect(w, Wire.Bytes, 'AttributeProto.graphs');
        a.graphs.push(decodeGraph(r.message(), depth + 1));
        break;
      case 20:
        r.expect(w, Wire.Varint, 'AttributeProto.type');
        a.type = r.int32();
        break;
      case 21:
        r.expect(w, Wire.Bytes, 'AttributeProto.ref_attr_name');
        a.refAttrName = r.string();
        break;
      default:
        r.skip(w);
    }
  }
  return a;
}

function decodeNode(r: ProtoReader, depth: number): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  while (!r.done) {
    const [f, w] = r.tag();
    if (w !== Wire.Bytes) {
      r.skip(w);
      continue;
    }
    switch (f) {
      case 1:
        n.inputs.push(r.string());
        break;
      case 2:
        n.outputs.push(r.string());
        break;
      case 3:
        n.name = r.string();
        break;
      case 4:
        n.opType = r.string();
        break;
      case 5:
        n.attributes.push(decodeAttribute(r.message(), depth));
        break;
      case 7:
        n.domain = r.string();
        break;
      default:
        r.skip(w);
    }
  }
  return n;
}

function decodeGraph(r: ProtoReader, depth: number): OnnxGraph {
  if (depth > MAX_DEPTH) throw invalidFile(`graphs nested deeper than ${MAX_DEPTH}`);
  const g: OnnxGraph = { name: '', nodes: [], initializers: [], sparseInitializers: 0, inputs: [], outputs: [], valueInfo: [] };
  while (!r.done) {
    const [f, w] = r.tag();
    if (w !== Wire.Bytes) {
      r.skip(w);
      continue;
    }
    switch (f) {
      case 1:
        g.nodes.push(decodeNode(r.message(), depth));
        break;
      case 2:
        g.name = r.string();
        break;
      case 5:
        g.initializers.push(decodeTensor(r.message()));
        break;
      case 11:
        g.inputs.push(decodeValueInfo(r.message()));
        break;
      case 12:
        g.outputs.push(decodeValueInfo(r.message()));
        break;
      case 13:
        g.valueInfo.push(decodeValueInfo(r.message()));
        break;
      case 15:
        r.skip(w);
        g.sparseInitializers++;
        break;
      default:
        r.skip(w);
    }
  }
  return g;
}

/**
 * Decodes an ONNX model (ModelProto bytes). A pure function: it throws only HoduError
 * (INVALID_FILE for malformed bytes) and allocates in proportion to the input.
 */
export function decodeOnnx(bytes: Uint8Array): OnnxModel {
  if (!(bytes instanceof Uint8Array)) throw invalidFile('expected the model bytes as a Uint8Array');
  const r = new ProtoReader(bytes);
  const m: OnnxModel = { irVersion: 0, producerName: '', producerVersion: '', opsets: [], graph: null as unknown as OnnxGraph, functions: [], bytes };
  try {
    while (!r.done) {
      const [f, w] = r.tag();
      switch (f) {
        case 1:
          r.expect(w, Wire.Varint, 'ModelProto.ir_version');
          m.irVersion = r.int64();
          break;
        case 2:
          r.expect(w, Wire.Bytes, 'ModelProto.producer_name');
          m.producerName = r.string();
          break;
        case 3:
          r.expect(w, Wire.Bytes, 'ModelProto.producer_version');
          m.producerVersion = r.string();
          break;
        case 7:
          r.expect(w, Wire.Bytes, 'ModelProto.graph');
          m.graph = decodeGraph(r.message(), 0);
          break;
        case 8: {
          r.expect(w, Wire.Bytes, 'ModelProto.opset_import');
          const o = r.message();
          const op: OnnxOpset = { domain: '', version: 0 };
          while (!o.done) {
            const [ff, ww] = o.tag();
            if (ff === 1 && ww === Wire.Bytes) op.domain = o.string();
            else if (ff === 2 && ww === Wire.Varint) op.version = o.int64();
            else o.skip(ww);
          }
          m.opsets.push(op);
          break;
        }
        case 25: {
          r.expect(w, Wire.Bytes, 'ModelProto.functions');
          const fr = r.message();
          let name = '';
          while (!fr.done) {
            const [ff, ww] = fr.tag();
            if (ff === 1 && ww === Wire.Bytes) name = fr.string();
            else fr.skip(ww);
          }
          m.functions.push(name);
          break;
        }
        default:
          r.skip(w);
      }
    }
  } catch (e) {
    if (e instanceof RangeError) throw invalidFile(e.message);
    throw e;
  }
  if (!m.graph) throw invalidFile('no graph (is this an ONNX model?)');
  if (m.irVersion <= 0) throw invalidFile(`ir_version ${m.irVersion}`);
  return m;
}

/** The opset version of the default (ai.onnx) domain. */
export function defaultOpset(m: OnnxModel): number {
  for (const o of m.opsets) if (o.domain === '' || o.domain === 'ai.onnx') return o.version;
  return 0;
}
