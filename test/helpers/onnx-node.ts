// Runs one ONNX node test (model.onnx + test_data_set_0/{input,output}_K.pb) through
// Script.fromOnnx on a backend and compares with ONNX's expected outputs (numpy's assert_allclose
// rule: |got - want| <= atol + rtol |want|; NaN matches NaN; dtypes and shapes equal).
import * as fs from 'fs';
import * as path from 'path';
import { Backend, HoduError, Script, Tensor } from '../../lib';
import { decodeOnnx, decodeTensor } from '../../lib/onnx/model';
import { ProtoReader } from '../../lib/onnx/proto';
import { TensorData, dtypeOfOnnx, numericValues, ownBuffer, tensorData } from '../../lib/onnx/tensor-data';
import { Storage } from '../../lib/storage';

export interface NodeTestEntry {
  name: string;
  rtol: number;
  atol: number;
  tensorsOnly: boolean;
}

export type NodeTestResult = { ok: true } | { ok: false; reason: string };

function readPb(file: string): TensorData {
  const b = fs.readFileSync(file);
  const t = decodeTensor(new ProtoReader(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
  return tensorData(t, {}, path.basename(file));
}

function toTensor(d: TensorData): Tensor {
  return Tensor._make(new Storage(ownBuffer(d.bytes)), d.dtype, d.shape.slice());
}

function short(e: unknown): string {
  const code = (e as { code?: string }).code;
  const msg = String((e as Error).message ?? e).split('\n')[0];
  return `${code ?? 'Error'}: ${msg.length > 300 ? msg.slice(0, 300) + '…' : msg}`;
}

/** Runs a node test; never throws. */
export function runNodeTest(root: string, entry: NodeTestEntry, backend: Backend): NodeTestResult {
  const dir = path.join(root, entry.name);
  if (!entry.tensorsOnly) return { ok: false, reason: 'sequence / map / optional values (hodu has tensors only)' };
  try {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx')));
    const model = decodeOnnx(bytes);
    const inits = new Set(model.graph.initializers.map((t) => t.name));
    const graphInputs = model.graph.inputs.filter((i) => !inits.has(i.name));
    const data = path.join(dir, 'test_data_set_0');
    const inputs: Record<string, TensorData> = {};
    graphInputs.forEach((inp, k) => {
      const f = path.join(data, `input_${k}.pb`);
      if (fs.existsSync(f)) inputs[inp.name] = readPb(f);
    });
    for (const inp of model.graph.inputs) {
      const et = dtypeOfOnnx(inp.elemType);
      if (et === null) return { ok: false, reason: `input '${inp.name}' has an element type hodu does not have (${inp.elemType})` };
    }
    // Inputs used as shape operands are bound as constants (one specialization per value).
    const constantInputs: Record<string, TensorData> = {};
    let script: Script | null = null;
    for (let attempt = 0; attempt < 8 && !script; attempt++) {
      try {
        const shapes: Record<string, number[]> = {};
        for (const [k, v] of Object.entries(inputs)) if (!constantInputs[k]) shapes[k] = v.shape;
        script = Script.fromOnnx(bytes, { name: entry.name, shapes, constantInputs });
      } catch (e) {
        const m = /\('([^']*)'\) must be known at import/.exec(String((e as Error).message));
        if (m && inputs[m[1]] && !constantInputs[m[1]]) constantInputs[m[1]] = inputs[m[1]];
        else if (m) {
          // a shape operand computed from graph inputs: bind the small integer inputs
          let added = false;
          for (const [k, v] of Object.entries(inputs))
            if (!constantInputs[k] && (v.dtype === 'i64' || v.dtype === 'i32') && v.bytes.length <= 512) {
              constantInputs[k] = v;
              added = true;
            }
          if (!added)
            for (const [k, v] of Object.entries(inputs))
              if (!constantInputs[k] && v.bytes.length <= 512) {
                constantInputs[k] = v; // then any small input (scalars of Range, window sizes)
                added = true;
              }
          if (!added) throw e;
        } else throw e;
      }
    }
    if (!script) return { ok: false, reason: 'could not bind shape operands' };
    script.setBackend(backend);
    for (const info of script.inputs) {
      const d = inputs[info.name];
      if (!d) return { ok: false, reason: `no data for input '${info.name}'` };
      script.addInput(info.name, toTensor(d));
    }
    const out = script.run();
    script.dispose();
    for (let k = 0; k < model.graph.outputs.length; k++) {
      const o = model.graph.outputs[k];
      const f = path.join(data, `output_${k}.pb`);
      if (!fs.existsSync(f)) continue;
      const want = readPb(f);
      const got = out[o.name];
      if (!got) return { ok: false, reason: `output '${o.name}' missing` };
      if (got.dtype !== want.dtype) return { ok: false, reason: `output '${o.name}': dtype ${got.dtype}, expected ${want.dtype}` };
      if (got.shape.join(',') !== want.shape.join(','))
        return { ok: false, reason: `output '${o.name}': shape [${got.shape.join(', ')}], expected [${want.shape.join(', ')}]` };
      const ga = got.toTypedArray();
      const gv = numericValues({ dtype: got.dtype, shape: got.shape.slice(), bytes: new Uint8Array(ga.buffer, ga.byteOffset, ga.byteLength) });
      const wv = numericValues(want);
      for (let i = 0; i < wv.length; i++) {
        const a = gv[i];
        const b = wv[i];
        if (Number.isNaN(b) ? Number.isNaN(a) : a === b || Math.abs(a - b) <= entry.atol + entry.rtol * Math.abs(b)) continue;
        return { ok: false, reason: `output '${o.name}'[${i}] = ${a}, expected ${b} (rtol ${entry.rtol}, atol ${entry.atol})` };
      }
    }
    return { ok: true };
  } catch (e) {
    if (!(e instanceof Error) && !(e as HoduError)?.code) return { ok: false, reason: String(e) };
    return { ok: false, reason: short(e) };
  }
}
