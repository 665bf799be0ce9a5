// Import-time recognition of multi-node ONNX idioms that hodu runs as one op, so that any
// exporter's decomposition reaches the fused kernels:
//  - exact GELU, 0.5·x·(1 + erf(x/√2)) in any association order of its products
//    (Div or Mul by the √2 constant; Mul by 0.5 first or last) -> Tensor.geluErf();
//  - LayerNorm written out (ReduceMean, Sub, Pow 2 / Mul, ReduceMean, Add eps, Sqrt, Div, then an
//    optional Mul scale and Add bias) over the last axis -> Tensor.layerNorm().
// The structure (op types, wiring, single consumers) is matched once per model, before any trace;
// the constants are checked at trace time, when their values are known. A candidate whose
// constants do not match is traced node by node as usual. The nodes inside a match still run
// (their results are dead and the planner drops them).
import type { OnnxGraph, OnnxNode } from './model';
import type { Tensor } from '../tensor';

/** What a pattern reads from the trace: known (import-time) scalar values and traced tensors. */
export interface PatternEnv {
  /** The values of a value known at import (a constant or initializer), else undefined. */
  knownVals(name: string): { shape: number[]; vals: () => number[] } | undefined;
  /** The tensor a value traced to (materializing a known value), else undefined. */
  tensorOf(name: string): Tensor | undefined;
}

/** A matched idiom: `apply` returns the fused result, or null when a constant does not match. */
export interface PatternMatch {
  kind: 'gelu_erf' | 'layer_norm';
  apply(env: PatternEnv): Tensor | null;
}

interface Graph {
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  outputs: Set<string>;
}

function index(g: OnnxGraph): Graph {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const l = consumers.get(i);
      if (l) l.push(n);
      else consumers.set(i, [n]);
    }
  }
  return { producer, consumers, outputs: new Set(g.outputs.map((o) => o.name)) };
}

const isStd = (n: OnnxNode | undefined): n is OnnxNode => !!n && (n.domain === '' || n.domain === 'ai.onnx');

/** The only consumer of `name`, when it has exactly one and is not a graph output. */
function soleConsumer(g: Graph, name: string): OnnxNode | undefined {
  const c = g.consumers.get(name);
  if (!c || c.length !== 1 || g.outputs.has(name)) return undefined;
  return c[0];
}

/** The operand of a two-input node other than `name` (undefined when both are `name`). */
function other(n: OnnxNode, name: string): string | undefined {
  if (n.inputs.length !== 2) return undefined;
  if (n.inputs[0] === name && n.inputs[1] !== name) return n.inputs[1];
  if (n.inputs[1] === name && n.inputs[0] !== name) return n.inputs[0];
  return undefined;
}

/** A known scalar (one element, of rank <= maxRank) equal to `want` within float32 rounding. */
function scalarIs(env: PatternEnv, name: string, want: number, maxRank: number): boolean {
  const k = env.knownVals(name);
  if (!k || k.shape.length > maxRank || k.shape.reduce((a, b) => a * b, 1) !== 1) return false;
  const v = k.vals()[0];
  return Math.abs(v - want) <= 1e-6 * Math.abs(want);
}

// ------------------------------------------------------------------------------------ GELU

interface Check {
  name: string;
  want: number;
}

/**
 * GELU: Erf(d) with d = Div(x, √2) or Mul(x, 1/√2); e = Add(erf, 1); the result is the product of
 * x, e and 0.5 in one of the association orders exporters emit:
 *   Mul(Mul(x, e), 0.5) / Mul(Mul(e, x), 0.5), Mul(Mul(x, 0.5), e), Mul(Mul(e, 0.5), x).
 */
function matchGelu(g: Graph, erf: OnnxNode): { final: OnnxNode; m: PatternMatch } | undefined {
  if (erf.inputs.length !== 1 || erf.outputs.length !== 1) return undefined;
  const d = erf.inputs[0];
  const scale = g.producer.get(d);
  if (!isStd(scale) || (scale.opType !== 'Div' && scale.opType !== 'Mul') || soleConsumer(g, d) !== erf) return undefined;
  const checks: Check[] = [];
  let x: string | undefined;
  if (scale.opType === 'Div') {
    x = scale.inputs[0];
    checks.push({ name: scale.inputs[1], want: Math.SQRT2 });
  } else {
    // Mul(x, c): which side is the constant is decided at trace time (both orders are tried)
    x = undefined;
  }
  const addN = soleConsumer(g, erf.outputs[0]);
  if (!isStd(addN) || addN.opType !== 'Add') return undefined;
  const one = other(addN, erf.outputs[0]);
  if (one === undefined) return undefined;
  checks.push({ name: one, want: 1 });
  const e = addN.outputs[0];
  const m1 = soleConsumer(g, e);
  if (!isStd(m1) || m1.opType !== 'Mul') return undefined;
  const y = other(m1, e);
  if (y === undefined) return undefined;
  // candidate shapes: each is (x name, half-constant name, final node)
  const cands: { x: string; half: string; final: OnnxNode }[] = [];
  const yNode = g.producer.get(y);
  if (isStd(yNode) && yNode.opType === 'Mul' && soleConsumer(g, y) === m1) {
    // Mul(Mul(x, 0.5), e): y = Mul(x, 0.5) in either operand order
    const [p, q] = yNode.inputs;
    cands.push({ x: p, half: q, final: m1 }, { x: q, half: p, final: m1 });
  }
  const m2 = soleConsumer(g, m1.outputs[0]);
  if (isStd(m2) && m2.opType === 'Mul') {
    const z = other(m2, m1.outputs[0]);
    // Mul(Mul(x, e), 0.5): y is x, z the half; Mul(Mul(e, 0.5), x): y the half, z is x
    if (z !== undefined) cands.push({ x: y, half: z, final: m2 }, { x: z, half: y, final: m2 });
  }
  // the scale node's input that is x (Div: inputs[0]; Mul: the one that is not the 1/√2 constant)
  const scaleX = (cx: string): Check[] | undefined => {
    if (scale.opType === 'Div') return x === cx ? [] : undefined;
    const c = other(scale, cx);
    return c === undefined ? undefined : [{ name: c, want: Math.SQRT1_2 }];
  };
  const alts: { x: string; final: OnnxNode; checks: Check[] }[] = [];
  for (const c of cands) {
    const sc = scaleX(c.x);
    if (sc) alts.push({ x: c.x, final: c.final, checks: [...checks, ...sc, { name: c.half, want: 0.5 }] });
  }
  if (alts.length === 0) return undefined;
  // every alternative ends in the same node (m1 or m2 are never both complete chains for one x)
  const byFinal = new Map<OnnxNode, typeof alts>();
  for (const a of alts) byFinal.set(a.final, [...(byFinal.get(a.final) ?? []), a]);
  if (byFinal.size !== 1) return undefined;
  const final = alts[0].final;
  return {
    final,
    m: {
      kind: 'gelu_erf',
      apply(env) {
        for (const a of alts) {
          if (env.knownVals(a.x)) continue; // x itself a constant: leave it to folding
          const xt = env.tensorOf(a.x);
          if (!xt || !a.checks.every((c) => scalarIs(env, c.name, c.want, xt.ndim))) continue;
          if (typeof (xt as unknown as { geluErf?: unknown }).geluErf !== 'function') return null;
          return xt.geluErf();
        }
        return null;
      },
    },
  };
}

// ------------------------------------------------------------------------------- LayerNorm

/** The axes of a Reduce* node: the `axes` attribute (opset < 18) or its second input's name. */
function reduceAxes(n: OnnxNode): { attr?: number[]; input?: string; keepdims: number } {
  const kd = n.attributes.find((a) => a.name === 'keepdims');
  const keepdims = kd && kd.i !== undefined ? kd.i : 1;
  const ax = n.attributes.find((a) => a.name === 'axes');
  if (ax && ax.ints) return { attr: ax.ints, keepdims };
  return { input: n.inputs[1] || undefined, keepdims };
}

/**
 * LayerNorm over the last axis:
 *   m = ReduceMean(x, [-1]); c = Sub(x, m); v = ReduceMean(Pow(c, 2) | Mul(c, c), [-1]);
 *   s = Sqrt(Add(v, eps)); n = Div(c, s); then optionally Mul(n, w) and Add(·, b).
 * The end node is the last of Div / Mul / Add that continues the chain.
 */
function matchLayerNorm(g: Graph, mean: OnnxNode): { final: OnnxNode; m: PatternMatch } | undefined {
  const ra = reduceAxes(mean);
  if (ra.keepdims !== 1) return undefined;
  const x = mean.inputs[0];
  const mo = mean.outputs[0];
  const cs = g.consumers.get(x) ?? [];
  const sub = soleConsumer(g, mo);
  if (!isStd(sub) || sub.opType !== 'Sub' || sub.inputs[0] !== x || sub.inputs[1] !== mo || !cs.includes(sub)) return undefined;
  const c = sub.outputs[0];
  const cUsers = g.consumers.get(c) ?? [];
  if (g.outputs.has(c) || cUsers.length !== 2) return undefined;
  const sq = cUsers.find((n) => (n.opType === 'Pow' && n.inputs[0] === c) || (n.opType === 'Mul' && n.inputs[0] === c && n.inputs[1] === c));
  const div = cUsers.find((n) => n.opType === 'Div' && n.inputs[0] === c);
  if (!isStd(sq) || !isStd(div) || sq === div) return undefined;
  const mean2 = soleConsumer(g, sq.outputs[0]);
  if (!isStd(mean2) || mean2.opType !== 'ReduceMean') return undefined;
  const ra2 = reduceAxes(mean2);
  if (ra2.keepdims !== 1) return undefined;
  const addEps = soleConsumer(g, mean2.outputs[0]);
  if (!isStd(addEps) || addEps.opType !== 'Add') return undefined;
  const epsName = other(addEps, mean2.outputs[0]);
  if (epsName === undefined) return undefined;
  const sqrt = soleConsumer(g, addEps.outputs[0]);
  if (!isStd(sqrt) || sqrt.opType !== 'Sqrt' || soleConsumer(g, sqrt.outputs[0]) !== div || div.inputs[1] !== sqrt.outputs[0]) return undefined;
  let final: OnnxNode = div;
  let w: string | undefined;
  let b: string | undefined;
  const mulW = soleConsumer(g, div.outputs[0]);
  if (isStd(mulW) && mulW.opType === 'Mul' && other(mulW, div.outputs[0]) !== undefined) {
    w = other(mulW, div.outputs[0]);
    final = mulW;
    const addB = soleConsumer(g, mulW.outputs[0]);
    if (isStd(addB) && addB.opType === 'Add' && other(addB, mulW.outputs[0]) !== undefined) {
      b = other(addB, mulW.outputs[0]);
      final = addB;
    }
  }
  const powExp = sq.opType === 'Pow' ? sq.inputs[1] : undefined;
  const lastAxis = (r: ReturnType<typeof reduceAxes>, env: PatternEnv, rank: number): boolean => {
    let axes = r.attr;
    if (!axes && r.input) axes = env.knownVals(r.input)?.vals();
    return !!axes && axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1);
  };
  return {
    final,
    m: {
      kind: 'layer_norm',
      apply(env) {
        if (env.knownVals(x)) return null;
        const xt = env.tensorOf(x);
        if (!xt || xt.ndim < 1 || !lastAxis(ra, env, xt.ndim) || !lastAxis(ra2, env, xt.ndim)) return null;
        if (powExp !== undefined && !scalarIs(env, powExp, 2, xt.ndim)) return null;
        const ek = env.knownVals(epsName);
        if (!ek || ek.shape.reduce((p, q) => p * q, 1) !== 1 || ek.shape.length > xt.ndim) return null;
        const eps = ek.vals()[0];
        if (!(eps >= 0)) return null;
        const C = xt.shape[xt.ndim - 1];
        // the affine operands must be [C] (or broadcast-equivalent with leading 1s)
        const affine = (name: string | undefined): Tensor | null | undefined => {
          if (name === undefined) return undefined;
          const t = env.tensorOf(name);
          if (!t || t.dtype !== xt.dtype || t.ndim > xt.ndim || t.shape[t.ndim - 1] !== C || t.shape.slice(0, -1).some((d) => d !== 1)) return null;
          return t.reshape([C]);
        };
        const wt = affine(w);
        const bt = affine(b);
        if (wt === null || bt === null) return null;
        if (typeof (xt as unknown as { layerNorm?: unknown }).layerNorm !== 'function') return null;
        return xt.layerNorm([C], wt ?? null, bt ?? null, eps);
      },
    },
  };
}

/** The idioms found in a graph, keyed by the node whose output the fused op replaces. */
export function findPatterns(graph: OnnxGraph): Map<OnnxNode, PatternMatch> {
  const g = index(graph);
  const out = new Map<OnnxNode, PatternMatch>();
  for (const n of graph.nodes) {
    if (!isStd(n)) continue;
    const r = n.opType === 'Erf' ? matchGelu(g, n) : n.opType === 'ReduceMean' ? matchLayerNorm(g, n) : undefined;
    if (r && !out.has(r.final)) out.set(r.final, r.m);
  }
  return out;
}
