// More ONNX lowerings (compositions of existing hodu ops): Attention, the loss ops, Mod and the
// rounding ops, normalizations, OneHot, quantization, CenterCropPad, IsInf/IsNaN, Shrink.
import { DType, isFloat } from '../dtype';
import { Tensor } from '../tensor';
import type { Ctx } from './import';
import { dtypeOfOnnx } from './tensor-data';

type Lower = (c: Ctx) => void;

const full = (x: Tensor, v: number, dt = x.dtype) => Tensor.full([], v, dt);

/** trunc for floats: through int64 where exact, the value itself beyond (integers, inf, NaN). */
export function truncF(x: Tensor): Tensor {
  const big = x.dtype === DType.F64 ? 2 ** 52 : 2 ** 23;
  const t = x.toDtype(DType.I64).toDtype(x.dtype);
  return Tensor.where(x.abs().lt(full(x, big)), t, x);
}
export function floorF(x: Tensor): Tensor {
  const t = truncF(x);
  return t.sub(t.gt(x).toDtype(x.dtype));
}
export function ceilF(x: Tensor): Tensor {
  const t = truncF(x);
  return t.add(t.lt(x).toDtype(x.dtype));
}
/** Round half to even. */
export function roundF(x: Tensor): Tensor {
  const r = floorF(x.add(0.5));
  const tie = r.eq(x.add(0.5));
  const half = r.mul(0.5);
  const odd = floorF(half).ne(half);
  const y = Tensor.where(tie.logicalAnd(odd), r.sub(1), r);
  return Tensor.where(x.abs().lt(full(x, x.dtype === DType.F64 ? 2 ** 52 : 2 ** 23)), y, x);
}

function modLower(c: Ctx): void {
  const a = c.in(0);
  const b = c.in(1);
  const fmod = c.attrInt('fmod', 0);
  if (isFloat(a.dtype)) {
    c.out(a.sub((fmod ? truncF : floorF)(a.div(b)).mul(b)));
    return;
  }
  const r = a.sub(a.div(b).mul(b));
  if (fmod) {
    c.out(r);
    return;
  }
  const zero = full(a, 0);
  const fix = r.ne(zero).logicalAnd(r.lt(zero).logicalXor(b.lt(zero)));
  c.out(Tensor.where(fix, r.add(b), r));
}

function nll(c: Ctx, logp: Tensor, target: Tensor, weight: Tensor | null): Tensor {
  const reduction = c.attrString('reduction', 'mean');
  const ii = c.attr('ignore_index');
  let t = target.dtype === DType.I64 ? target : target.toDtype(DType.I64);
  let mask: Tensor | null = null;
  if (ii && ii.i !== undefined) {
    mask = t.ne(Tensor.full([], ii.i, DType.I64));
    t = Tensor.where(mask, t, Tensor.full([], 0, DType.I64));
  }
  const g = logp.gather(1, t.unsqueeze(1)).squeeze(1);
  let w: Tensor | null = weight ? weight.indexSelect(0, t.reshape([-1])).reshape(t.shape.slice()) : null;
  if (mask) w = w ? w.mul(mask.toDtype(w.dtype)) : mask.toDtype(logp.dtype);
  const loss = w ? g.neg().mul(w) : g.neg();
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return loss.sum();
  if (reduction !== 'mean') c.fail(`reduction '${reduction}'`);
  if (w) return loss.sum().div(w.sum());
  return loss.mean();
}

function nllLower(c: Ctx): void {
  c.out(nll(c, c.in(0), c.in(1), c.has(2) ? c.in(2) : null));
}

function sceLower(c: Ctx): void {
  const x = c.in(0);
  const logp = x.logSoftmax(1);
  c.out(nll(c, logp, c.in(1), c.has(2) ? c.in(2) : null));
  if (c.n.outputs[1]) c.out(logp, 1);
}

function rmsNormLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.norm(c.attrInt('axis', -1), x.ndim);
  const eps = c.attrFloat('epsilon', 1e-5);
  const axes = Array.from({ length: x.ndim - axis }, (_, i) => axis + i);
  const y = x.mul(x.square().mean(axes, true).add(eps).sqrt().recip());
  c.out(y.mul(c.in(1)));
}

function lpNormLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.norm(c.attrInt('axis', -1), x.ndim);
  const p = c.attrInt('p', 2);
  const n = p === 1 ? x.abs().sum(axis, true) : x.norm(axis, true);
  if (p !== 1 && p !== 2) c.fail(`p=${p}`);
  c.out(x.div(n));
}

function oneHotLower(c: Ctx): void {
  let idx = c.in(0);
  const depth = c.ints(1, 'depth')[0];
  const values = c.in(2);
  const axisAttr = c.attrInt('axis', -1);
  const r = idx.ndim + 1;
  const axis = c.norm(axisAttr, r);
  if (isFloat(idx.dtype)) idx = truncF(idx);
  idx = idx.toDtype(DType.I64);
  idx = Tensor.where(idx.lt(Tensor.full([], 0, DType.I64)), idx.add(Tensor.full([], depth, DType.I64)), idx);
  const iotaShape = new Array(r).fill(1);
  iotaShape[axis] = depth;
  const iota = Tensor._fromValues(Array.from({ length: depth }, (_, i) => i), iotaShape, DType.I64);
  const hit = iota.eq(idx.unsqueeze(axis));
  const off = values.slice(0, 0, 1).reshape([]);
  const on = values.slice(0, 1, 2).reshape([]);
  c.out(Tensor.where(hit, on, off));
}

function perAxis(c: Ctx, t: Tensor, x: Tensor): Tensor {
  if (t.ndim !== 1 || x.ndim === 0) return t;
  const axis = c.norm(c.attrInt('axis', 1), x.ndim);
  if (c.attrInt('block_size', 0)) c.fail('blocked quantization is not supported');
  const sh = new Array(x.ndim).fill(1);
  sh[axis] = t.shape[0];
  return t.reshape(sh);
}

function dequantLower(c: Ctx): void {
  const x = c.in(0);
  const scale = c.in(1);
  let y = x.toDtype(scale.dtype);
  if (c.has(2)) y = y.sub(perAxis(c, c.in(2).toDtype(scale.dtype), x));
  c.out(y.mul(perAxis(c, scale, x)));
}

function quantLower(c: Ctx): void {
  const x = c.in(0);
  const scale = c.in(1);
  const zpT = c.has(2) ? c.in(2) : null;
  let outDt = zpT ? zpT.dtype : DType.U8;
  const od = c.attr('output_dtype');
  if (od && od.i) outDt = dtypeOfOnnx(od.i) ?? outDt;
  const range: Record<string, [number, number]> = { u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767] };
  const rg = range[outDt];
  if (!rg) c.fail(`output type ${outDt}`);
  let y = roundF(x.div(perAxis(c, scale, x)));
  if (zpT) y = y.add(perAxis(c, zpT.toDtype(x.dtype), x));
  c.out(y.clamp(rg[0], rg[1]).toDtype(outDt));
}

function centerCropPadLower(c: Ctx): void {
  const x = c.in(0);
  const shape = c.ints(1, 'shape');
  const axesA = c.attrInts('axes');
  const axes = axesA && axesA.length ? axesA.map((a) => c.norm(a, x.ndim)) : x.shape.map((_, i) => i);
  let t = x;
  axes.forEach((ax, i) => {
    const n = t.shape[ax];
    const want = shape[i];
    if (want < n) {
      const s = Math.floor((n - want) / 2);
      t = t.slice(ax, s, s + want);
    } else if (want > n) {
      const b = Math.floor((want - n) / 2);
      const sh1 = t.shape.slice();
      sh1[ax] = b;
      const sh2 = t.shape.slice();
      sh2[ax] = want - n - b;
      t = Tensor.concat([Tensor.full(sh1, 0, t.dtype), t, Tensor.full(sh2, 0, t.dtype)].filter((q) => q.shape[ax] > 0), ax);
    }
  });
  c.out(t === x ? x.reshape(x.shape.slice()) : t);
}

function attentionLower(c: Ctx): void {
  let Q = c.in(0);
  let K = c.in(1);
  let V = c.in(2);
  if (c.has(6)) c.fail('nonpad_kv_seqlen is not supported');
  for (const a of ['left_window_size', 'right_window_size']) if (c.attr(a) && c.attrInt(a, -1) >= 0) c.fail(`${a} is not supported`);
  const rank = Q.ndim;
  const B = Q.shape[0];
  if (rank === 3) {
    const qh = c.attrInt('q_num_heads', 0);
    const kvh = c.attrInt('kv_num_heads', 0);
    if (!qh || !kvh) c.fail('3-D inputs need q_num_heads and kv_num_heads');
    const split = (t: Tensor, h: number) => t.reshape([B, t.shape[1], h, t.shape[2] / h]).permute([0, 2, 1, 3]);
    Q = split(Q, qh);
    K = split(K, kvh);
    V = split(V, kvh);
  }
  const pastLen = c.has(4) ? c.in(4).shape[2] : 0;
  if (c.has(4)) K = Tensor.concat([c.in(4), K], 2);
  if (c.has(5)) V = Tensor.concat([c.in(5), V], 2);
  if (c.n.outputs[1]) c.out(K, 1);
  if (c.n.outputs[2]) c.out(V, 2);
  const S = Q.shape[2];
  const L = K.shape[2];
  const dt = Q.dtype;
  const scaleAttr = c.attr('scale');
  const scale = scaleAttr && scaleAttr.f !== undefined ? scaleAttr.f : 1 / Math.sqrt(Q.shape[3]);
  const sq = Math.sqrt(scale);
  // bias [S, L] or broadcastable mask
  let bias: Tensor | null = null;
  if (c.has(3)) {
    let m = c.in(3);
    const pad = L - m.shape[m.ndim - 1];
    if (pad > 0) {
      const sh = m.shape.slice();
      sh[sh.length - 1] = pad;
      m = Tensor.concat([m, m.dtype === DType.BOOL ? Tensor.full(sh, false, DType.BOOL) : Tensor.full(sh, -Infinity, m.dtype)], m.ndim - 1);
    }
    bias = m.dtype === DType.BOOL ? Tensor.where(m, full(Q, 0), full(Q, -Infinity)) : m;
  }
  if (c.attrInt('is_causal', 0)) {
    const allowed: number[] = [];
    for (let i = 0; i < S; i++) for (let j = 0; j < L; j++) allowed.push(j <= i + pastLen ? 0 : -Infinity);
    const cm = Tensor._fromValues(allowed, [S, L], dt);
    bias = bias ? bias.add(cm) : cm;
  }
  const qh = Q.shape[1];
  const kh = K.shape[1];
  if (qh !== kh) {
    const rep = qh / kh;
    const expand = (t: Tensor) =>
      t.reshape([t.shape[0], kh, 1, t.shape[2], t.shape[3]]).broadcastTo([t.shape[0], kh, rep, t.shape[2], t.shape[3]]).reshape([t.shape[0], qh, t.shape[2], t.shape[3]]);
    K = expand(K);
    V = expand(V);
  }
  let qk = Q.mul(sq).matmul(K.mul(sq).permute([0, 1, 3, 2]));
  const softcap = c.attrFloat('softcap', 0);
  if (softcap > 0) qk = qk.div(softcap).tanh().mul(softcap);
  const mode = c.attrInt('qk_matmul_output_mode', 0);
  const withBias = bias ? qk.add(bias) : qk;
  // softmax with fully masked rows -> 0
  const mx = withBias.max(-1, true);
  const allMasked = mx.eq(full(Q, -Infinity));
  const safe = Tensor.where(allMasked, full(Q, 0), mx);
  const e = withBias.sub(safe).exp();
  const s = e.sum(-1, true);
  let p = e.div(Tensor.where(s.eq(full(Q, 0)), full(Q, 1), s));
  if (bias) {
    const rowMasked = bias.max(-1, true).eq(full(Q, -Infinity));
    p = Tensor.where(rowMasked, full(Q, 0), p);
  }
  if (c.n.outputs[3]) c.out(mode === 0 || mode === 1 ? qk : mode === 2 ? withBias : p, 3);
  let y = p.matmul(V);
  if (rank === 3) y = y.permute([0, 2, 1, 3]).reshape([B, S, -1]);
  c.out(y);
}

function argLast(kind: 'argmax' | 'argmin'): Lower {
  return (c) => {
    const x = c.in(0);
    const axis = c.norm(c.attrInt('axis', 0), x.ndim);
    const keep = c.attrInt('keepdims', 1) === 1;
    const n = x.shape[axis];
    const rev = Tensor._fromValues(Array.from({ length: n }, (_, i) => n - 1 - i), [n], DType.I64);
    const xr = x.indexSelect(axis, rev);
    const i = kind === 'argmax' ? xr.argmax(axis, keep) : xr.argmin(axis, keep);
    c.out(Tensor.full([], n - 1, DType.I64).sub(i));
  };
}

function shrinkLower(c: Ctx): void {
  const x = c.in(0);
  const l = c.attrFloat('lambd', 0.5);
  const b = c.attrFloat('bias', 0);
  const xf = isFloat(x.dtype) ? x : x.toDtype(DType.F32);
  const y = Tensor.where(xf.lt(-l), xf.add(b), Tensor.where(xf.gt(l), xf.sub(b), full(xf, 0)));
  c.out(y.dtype === x.dtype ? y : y.toDtype(x.dtype));
}

function bitShiftLower(c: Ctx): void {
  const x = c.in(0);
  const y = c.in(1);
  const p = y.toDtype(DType.F64).exp2().toDtype(x.dtype);
  c.out(c.attrString('direction', '') === 'LEFT' ? x.mul(p) : x.div(p));
}

/** Cumulative product / integer sum along an axis, one slice at a time (small axes). */
function cumulative(kind: 'prod' | 'sum'): Lower {
  return (c) => {
    const x = c.in(0);
    const axis = c.norm(c.ints(1, 'axis')[0], x.ndim);
    const n = x.shape[axis];
    if (n > 256) c.fail(`axis of ${n} elements (at most 256)`);
    const excl = c.attrInt('exclusive', 0), rev = c.attrInt('reverse', 0);
    const id = kind === 'prod' ? 1 : 0;
    const parts: Tensor[] = new Array(n);
    const order = Array.from({ length: n }, (_, i) => (rev ? n - 1 - i : i));
    let acc: Tensor | null = null;
    for (const i of order) {
      const xi = x.slice(axis, i, i + 1);
      if (excl) {
        const sh = xi.shape.slice();
        parts[i] = acc ?? Tensor.full(sh, id, x.dtype);
        acc = acc ? (kind === 'prod' ? acc.mul(xi) : acc.add(xi)) : xi;
      } else {
        acc = acc ? (kind === 'prod' ? acc.mul(xi) : acc.add(xi)) : xi;
        parts[i] = acc;
      }
    }
    c.out(n === 0 ? x.reshape(x.shape.slice()) : n === 1 ? parts[0].reshape(x.shape.slice()) : Tensor.concat(parts, axis));
  };
}

function scatterElementsLower(c: Ctx): void {
  const data = c.in(0);
  const axis = c.norm(c.attrInt('axis', 0), data.ndim);
  let idx = c.in(1).toDtype(DType.I64);
  idx = Tensor.where(idx.lt(Tensor.full([], 0, DType.I64)), idx.add(Tensor.full([], data.shape[axis], DType.I64)), idx);
  const upd = c.in(2);
  const red = c.attrString('reduction', 'none');
  const zeros = Tensor.zeros(data.shape.slice(), data.dtype);
  const added = Tensor._op('scatter_add', [zeros, idx, upd], [axis]);
  if (red === 'add') return c.out(data.add(added));
  if (red !== 'none') c.fail(`reduction '${red}'`);
  // indices are unique for 'none' (ONNX leaves duplicates undefined)
  const hit = Tensor._op('scatter_add', [Tensor.zeros(data.shape.slice(), DType.F32), idx, Tensor.ones(upd.shape.slice(), DType.F32)], [axis]).gt(0);
  c.out(Tensor.where(hit, added, data));
}

function lpPoolLower(c: Ctx): void {
  const p = c.attrInt('p', 2);
  const x = c.in(0);
  const xp = p === 1 ? x.abs() : x.abs().pow(full(x, p));
  // sum pool = average pool over the explicitly zero-padded input times the window size
  const k = c.attrInts('kernel_shape') ?? [];
  const name = '\u0000lp';
  const inner = { ...c.n, inputs: [name], outputs: [name + 'out'], attributes: c.n.attributes.filter((a) => a.name !== 'p').concat([{ name: 'count_include_pad', type: 2, i: 1, floats: [], ints: [], strings: [], tensors: [], graphs: [] }]) };
  const sum = c.sub(inner, { [name]: xp }, 'AveragePool').mul(k.reduce((a, b) => a * b, 1));
  c.out(p === 1 ? sum : sum.pow(full(x, 1 / p)));
}

export const EXTRA_OPS: Record<string, Lower> = {
  BitShift: bitShiftLower,
  CumProd: cumulative('prod'),
  CumSumInt: cumulative('sum'),
  ScatterElements: scatterElementsLower,
  Scatter: scatterElementsLower,
  LpPool: lpPoolLower,
  Swish: (c) => {
    const x = c.in(0);
    c.out(x.mul(x.mul(c.attrFloat('alpha', 1)).sigmoid()));
  },
  Mod: modLower,
  Floor: (c) => c.out(floorF(c.in(0))),
  Ceil: (c) => c.out(ceilF(c.in(0))),
  Round: (c) => c.out(roundF(c.in(0))),
  IsNaN: (c) => {
    const x = c.in(0);
    c.out(x.ne(x));
  },
  IsInf: (c) => {
    const x = c.in(0);
    const pos = c.attrInt('detect_positive', 1), neg = c.attrInt('detect_negative', 1);
    const p = x.eq(full(x, Infinity)), n = x.eq(full(x, -Infinity));
    c.out(pos && neg ? p.logicalOr(n) : pos ? p : neg ? n : x.ne(x).logicalAnd(x.eq(x)));
  },
  NegativeLogLikelihoodLoss: nllLower,
  SoftmaxCrossEntropyLoss: sceLower,
  RMSNormalization: rmsNormLower,
  LpNormalization: lpNormLower,
  OneHot: oneHotLower,
  DequantizeLinear: dequantLower,
  QuantizeLinear: quantLower,
  CenterCropPad: centerCropPadLower,
  Attention: attentionLower,
  Shrink: shrinkLower,
  ArgMaxLast: argLast('argmax'),
  ArgMinLast: argLast('argmin'),
};
