// BatchNormalization folded into the Conv before it, at import (inference graphs only).
//
// A Conv whose only reader is an inference BatchNormalization (scale γ, bias β, mean μ, variance
// σ², epsilon ε), with the conv's weight, its optional bias and all four BN parameters known at
// import (initializers or Constant nodes), becomes one Conv with
//   W'[o] = W[o] · γ[o]/√(σ²[o]+ε)      b'[o] = (b[o] − μ[o]) · γ[o]/√(σ²[o]+ε) + β[o]
// computed in float64 and rounded once to float32. The BN node disappears and the Conv writes the
// BN's output name. The planner then sees conv → activation chains it can fuse as oneDNN post-ops
// (a per-channel mul + add after the conv would otherwise be separate passes over the activation).
//
// Not applied with `trainable` imports (the initializers are then variables that change), nor
// when the conv output is read by anything else (or is a graph output, or is named inside a
// subgraph), nor for non-float32 tensors or a BN in training mode.
import { OnnxModel, OnnxNode, OnnxTensor } from './model';
import { ExternalSource, numericValues, tensorData } from './tensor-data';

const FLOAT = 1;

function attr(n: OnnxNode, name: string) {
  return n.attributes.find((a) => a.name === name);
}

/** Names read anywhere inside subgraph attributes (conservatively: every input of every node). */
function subgraphReads(nodes: readonly OnnxNode[], into: Set<string>): void {
  for (const n of nodes)
    for (const a of n.attributes) {
      for (const g of [...(a.g ? [a.g] : []), ...a.graphs]) {
        for (const m of g.nodes) for (const i of m.inputs) into.add(i);
        for (const o of g.outputs) into.add(o.name);
        subgraphReads(g.nodes, into);
      }
    }
}

function floatTensor(name: string, dims: number[], vals: Float64Array): OnnxTensor {
  const f = new Float32Array(vals.length);
  for (let i = 0; i < vals.length; i++) f[i] = vals[i];
  return {
    name,
    dataType: FLOAT,
    dims: dims.slice(),
    raw: new Uint8Array(f.buffer),
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringData: [],
    external: null,
  };
}

/** How many convs were folded, and the rewritten model (the input model when none). */
export interface FoldResult {
  model: OnnxModel;
  folded: number;
}

/**
 * Returns a model in which every foldable Conv → BatchNormalization pair is one Conv (see the file
 * comment). The input model is not modified; tensors not involved are shared.
 */
export function foldBatchNorm(model: OnnxModel, external: ExternalSource = {}): FoldResult {
  const g = model.graph;
  const tensors = new Map<string, OnnxTensor>();
  for (const t of g.initializers) tensors.set(t.name, t);
  for (const n of g.nodes)
    if (n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx') && n.outputs.length === 1) {
      const v = attr(n, 'value');
      if (v?.t) tensors.set(n.outputs[0], v.t);
    }
  // graph inputs shadow initializers of the same name (they may be fed): never fold those
  for (const i of g.inputs) tensors.delete(i.name);
  const readers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const pinned = new Set<string>(g.outputs.map((o) => o.name));
  subgraphReads(g.nodes, pinned);
  const producer = new Map<string, number>();
  g.nodes.forEach((n, k) => n.outputs.forEach((o) => producer.set(o, k)));

  const values = (name: string | undefined): { dims: number[]; v: number[] } | null => {
    if (!name) return null;
    const t = tensors.get(name);
    if (!t || t.dataType !== FLOAT) return null;
    try {
      const d = tensorData(t, external);
      return { dims: d.shape, v: numericValues(d) };
    } catch {
      return null; // a malformed tensor: leave it to the normal path, which reports it
    }
  };

  const replace = new Map<number, OnnxNode>(); // conv node index -> folded conv
  const drop = new Set<number>(); // BN node indices
  const added: OnnxTensor[] = [];
  let folded = 0;
  g.nodes.forEach((bn, k) => {
    if (bn.opType !== 'BatchNormalization' || (bn.domain !== '' && bn.domain !== 'ai.onnx')) return;
    if (bn.inputs.length !== 5 || bn.outputs.slice(1).some((o) => o)) return;
    if ((attr(bn, 'training_mode')?.i ?? 0) !== 0) return;
    const x = bn.inputs[0];
    const ci = producer.get(x);
    if (ci === undefined || ci >= k || replace.has(ci)) return;
    const conv = g.nodes[ci];
    if (conv.opType !== 'Conv' || (conv.domain !== '' && conv.domain !== 'ai.onnx') || conv.outputs.length !== 1) return;
    if (readers.get(x) !== 1 || pinned.has(x)) return;
    const w = values(conv.inputs[1]);
    if (!w || w.dims.length < 3) return;
    const O = w.dims[0];
    const hasBias = conv.inputs.length > 2 && conv.inputs[2] !== '';
    const b = hasBias ? values(conv.inputs[2]) : null;
    if (hasBias && (!b || b.v.length !== O)) return;
    const p = [1, 2, 3, 4].map((i) => values(bn.inputs[i]));
    if (p.some((q) => !q || q.v.length !== O)) return;
    const [gamma, beta, mean, varc] = p.map((q) => q!.v);
    const eps = attr(bn, 'epsilon')?.f ?? 1e-5;
    const per = w.v.length / O;
    const w2 = new Float64Array(w.v.length);
    const b2 = new Float64Array(O);
    for (let o = 0; o < O; o++) {
      const s = gamma[o] / Math.sqrt(varc[o] + eps);
      for (let j = 0; j < per; j++) w2[o * per + j] = w.v[o * per + j] * s;
      b2[o] = ((b ? b.v[o] : 0) - mean[o]) * s + beta[o];
    }
    const base = `${bn.outputs[0]}::bn_folded`;
    const wt = floatTensor(`${base}_w`, w.dims, w2);
    const bt = floatTensor(`${base}_b`, [O], b2);
    added.push(wt, bt);
    replace.set(ci, { ...conv, inputs: [conv.inputs[0], wt.name, bt.name], outputs: [bn.outputs[0]] });
    drop.add(k);
    folded++;
  });
  if (folded === 0) return { model, folded };
  const nodes = g.nodes.map((n, k) => replace.get(k) ?? n).filter((_, k) => !drop.has(k));
  return { model: { ...model, graph: { ...g, nodes, initializers: [...g.initializers, ...added] } }, folded };
}
