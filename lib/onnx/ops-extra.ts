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
  const zero = n.eq(full(n, 0));
  c.out(Tensor.where(zero, full(x, 0), x.div(Tensor.where(zero, full(n, 1), n))));
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
  const nonpad = c.has(6) ? c.ints(6, 'nonpad_kv_seqlen') : null;
  const lw = c.attrInt('left_window_size', -1), rw = c.attrInt('right_window_size', -1);
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
  const causal = c.attrInt('is_causal', 0) === 1;
  if (causal || lw >= 0 || rw >= 0 || nonpad) {
    // per batch (nonpad) or shared [S, L] masks: causal frontier, sliding window, key padding
    const nb = nonpad ? B : 1;
    const m: number[] = [];
    for (let b = 0; b < nb; b++) {
      const off = nonpad ? nonpad[b] - S : pastLen;
      for (let i = 0; i < S; i++)
        for (let j = 0; j < L; j++) {
          const diff = i + off - j;
          let ok = true;
          if (causal && j > i + off) ok = false;
          if (lw >= 0 && diff > lw) ok = false;
          if (rw >= 0 && -diff > rw) ok = false;
          if (nonpad && j >= nonpad[b]) ok = false;
          m.push(ok ? 0 : -Infinity);
        }
    }
    const cm = Tensor._fromValues(m, nonpad ? [B, 1, S, L] : [S, L], dt);
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

const SIGNED_BITS: Partial<Record<DType, number>> = { [DType.I8]: 8, [DType.I16]: 16, [DType.I32]: 32 };

function bitShiftLower(c: Ctx): void {
  const x = c.in(0);
  const y = c.in(1);
  const left = c.attrString('direction', '') === 'LEFT';
  const W = SIGNED_BITS[x.dtype];
  if (W === undefined) {
    const p = y.toDtype(DType.F64).exp2().toDtype(x.dtype);
    c.out(left ? x.mul(p) : x.div(p));
    return;
  }
  // signed: in int64, shift counts outside [0, W) give 0 (left) or the sign (right)
  const yi = y.toDtype(DType.I64);
  const I = (v: number) => Tensor.full([], v, DType.I64);
  const out = yi.lt(I(0)).logicalOr(yi.ge(I(W)));
  const ys = Tensor.where(out, I(left ? 0 : W - 1), yi);
  const p = ys.toDtype(DType.F64).exp2().toDtype(DType.I64);
  const x64 = x.toDtype(DType.I64);
  if (left) {
    const m = I(2 ** W);
    let r = x64.mul(p);
    r = r.sub(r.div(m).mul(m)); // wrap to W bits
    r = Tensor.where(r.lt(I(0)), r.add(m), r);
    r = Tensor.where(r.ge(I(2 ** (W - 1))), r.sub(m), r);
    c.out(Tensor.where(out, I(0), r).toDtype(x.dtype));
  } else {
    const q = x64.div(p);
    const fl = Tensor.where(x64.lt(I(0)).logicalAnd(q.mul(p).ne(x64)), q.sub(I(1)), q);
    c.out(fl.toDtype(x.dtype));
  }
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

function einsumLower(c: Ctx): void {
  const eq = c.attrString('equation', '').replace(/\s/g, '');
  const [lhs, rhsIn] = eq.split('->');
  const terms = lhs.split(',');
  const ins = terms.map((_, i) => c.in(i));
  if (terms.some((t) => t.includes('.'))) c.fail('ellipsis is not supported');
  const letters: string[] = [];
  const size: Record<string, number> = {};
  terms.forEach((t, i) => {
    if (new Set(t).size !== t.length) c.fail(`repeated index in '${t}' (diagonals) is not supported`);
    [...t].forEach((ch, k) => {
      if (!letters.includes(ch)) letters.push(ch);
      size[ch] = Math.max(size[ch] ?? 1, ins[i].shape[k]);
    });
  });
  const rhs = rhsIn ?? letters.filter((l) => terms.join('').split(l).length === 2).sort().join('');
  let acc: Tensor | null = null;
  terms.forEach((t, i) => {
    const present = letters.filter((l) => t.includes(l));
    const perm = present.map((l) => t.indexOf(l));
    let x = ins[i].permute(perm);
    x = x.reshape(letters.map((l) => (t.includes(l) ? ins[i].shape[t.indexOf(l)] : 1)));
    acc = acc ? acc.mul(x) : x;
  });
  let r = acc!;
  const sumAxes = letters.map((l, k) => (rhs.includes(l) ? -1 : k)).filter((k) => k >= 0);
  if (sumAxes.length) r = r.sum(sumAxes, false);
  const kept = letters.filter((l) => rhs.includes(l));
  c.out(kept.length ? r.permute([...rhs].map((l) => kept.indexOf(l))) : r);
}

function topKLower(c: Ctx): void {
  const xin = c.in(0);
  // integers compare in float64: exact up to 2^53 (64-bit values beyond that may tie)
  const x = isFloat(xin.dtype) ? xin : xin.toDtype(DType.F64);
  const k = c.opset >= 10 ? c.ints(1, 'K')[0] : c.attrInt('k', 1);
  const axis = c.norm(c.attrInt('axis', -1), x.ndim);
  const largest = c.attrInt('largest', 1);
  if (k > 64) c.fail(`k=${k} (at most 64)`);
  let cur = x;
  const vals: Tensor[] = [];
  const idxs: Tensor[] = [];
  const n = x.shape[axis];
  const iotaSh = new Array(x.ndim).fill(1);
  iotaSh[axis] = n;
  const iota = Tensor._fromValues(Array.from({ length: n }, (_, i) => i), iotaSh, DType.I64);
  for (let i = 0; i < k; i++) {
    const id = largest ? cur.argmax(axis, true) : cur.argmin(axis, true);
    idxs.push(id);
    vals.push(x.gather(axis, id));
    cur = Tensor.where(iota.eq(id), full(x, largest ? -Infinity : Infinity), cur);
  }
  const v = k === 0 ? x.slice(axis, 0, 0) : Tensor.concat(vals, axis);
  c.out(v.dtype === xin.dtype ? v : v.toDtype(xin.dtype), 0);
  if (c.n.outputs[1]) c.out(k === 0 ? Tensor.zeros(x.slice(axis, 0, 0).shape.slice(), DType.I64) : Tensor.concat(idxs, axis), 1);
}

function flatIndex(c: Ctx, idx: Tensor, dims: readonly number[]): Tensor {
  // idx [..., k] -> flat index over the first k dims of `dims`, negatives wrapped
  const k = idx.shape[idx.ndim - 1];
  let i64 = idx.toDtype(DType.I64);
  const dv = Tensor._fromValues(dims.slice(0, k), [k], DType.I64);
  i64 = Tensor.where(i64.lt(Tensor.full([], 0, DType.I64)), i64.add(dv), i64);
  const strides: number[] = [];
  let a = 1;
  for (let d = k - 1; d >= 0; d--) {
    strides[d] = a;
    a *= dims[d];
  }
  return i64.mul(Tensor._fromValues(strides, [k], DType.I64)).sum(-1, false);
}

function scatterNDLower(c: Ctx): void {
  const data = c.in(0);
  const idx = c.in(1);
  const upd = c.in(2);
  const red = c.attrString('reduction', 'none');
  const k = idx.shape[idx.ndim - 1];
  const lead = data.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const rest = data.shape.slice(k);
  const flat = flatIndex(c, idx, data.shape).reshape([-1]);
  const m = flat.shape[0];
  const d2 = data.reshape([lead, ...rest]);
  const u2 = upd.reshape([m, ...rest]);
  const added = Tensor._op('index_add', [Tensor.zeros(d2.shape.slice(), data.dtype), flat, u2], [0]);
  if (red === 'add') return c.out(d2.add(added).reshape(data.shape.slice()));
  if (red !== 'none') c.fail(`reduction '${red}'`);
  const hit = Tensor._op('index_add', [Tensor.zeros([lead], DType.F32), flat, Tensor.ones([m], DType.F32)], [0]).gt(0);
  const hs = hit.reshape([lead, ...rest.map(() => 1)]);
  c.out(Tensor.where(hs, added, d2).reshape(data.shape.slice()));
}

function gatherNDLower(c: Ctx): void {
  const data = c.in(0);
  const idx = c.in(1);
  const b = c.attrInt('batch_dims', 0);
  const k = idx.shape[idx.ndim - 1];
  if (b !== 0) {
    if (b !== 1) c.fail(`batch_dims=${b}`);
    const B = data.shape[0];
    const per = data.shape.slice(1, 1 + k).reduce((x, y) => x * y, 1);
    const rest = data.shape.slice(1 + k);
    let f = flatIndex(c, idx, data.shape.slice(1));
    const off = Tensor._fromValues(Array.from({ length: B }, (_, i) => i * per), [B, ...new Array(f.ndim - 1).fill(1)], DType.I64);
    f = f.add(off);
    const g = data.reshape([B * per, ...rest]).indexSelect(0, f.reshape([-1]));
    return c.out(g.reshape([...idx.shape.slice(0, -1), ...rest]));
  }
  const rest = data.shape.slice(k);
  const lead = data.shape.slice(0, k).reduce((x, y) => x * y, 1);
  const f = flatIndex(c, idx, data.shape);
  const g = data.reshape([lead, ...rest]).indexSelect(0, f.reshape([-1]));
  c.out(g.reshape([...idx.shape.slice(0, -1), ...rest]));
}

function windowLower(kind: 'hann' | 'hamming' | 'blackman'): Lower {
  return (c) => {
    const n = c.ints(0, 'size')[0];
    const periodic = c.attrInt('periodic', 1);
    const dt = c.attr('output_datatype') ? dtypeOfOnnx(c.attrInt('output_datatype', 1)) ?? DType.F32 : DType.F32;
    const N = periodic ? n : n - 1;
    const v = Array.from({ length: n }, (_, i) => {
      const t = (2 * Math.PI * i) / N;
      if (kind === 'hann') return 0.5 - 0.5 * Math.cos(t);
      if (kind === 'hamming') return 25 / 46 - (21 / 46) * Math.cos(t);
      return 0.42 - 0.5 * Math.cos(t) + 0.08 * Math.cos(2 * t);
    });
    c.out(Tensor._fromValues(v.map((x) => Math.fround(x)), [n], dt));
  };
}

function groupNormLower(c: Ctx): void {
  const x = c.in(0);
  const g = c.attrInt('num_groups', 1);
  const eps = c.attrFloat('epsilon', 1e-5);
  const [N, C] = x.shape;
  const sp = x.shape.slice(2);
  const xg = x.reshape([N, g, -1]);
  const mean = xg.mean(2, true);
  const xc = xg.sub(mean);
  const y = xc.div(xc.square().mean(2, true).add(eps).sqrt()).reshape(x.shape.slice());
  let sc = c.in(1);
  let bi = c.in(2);
  if (sc.shape[0] !== C) {
    // opset 18: per-group scale and bias
    sc = sc.reshape([g, 1]).broadcastTo([g, C / g]).reshape([C]);
    bi = bi.reshape([g, 1]).broadcastTo([g, C / g]).reshape([C]);
  }
  const bs = [C, ...sp.map(() => 1)];
  c.out(y.mul(sc.reshape(bs)).add(bi.reshape(bs)));
}

function mvnLower(c: Ctx): void {
  const x = c.in(0);
  const axes = (c.attrInts('axes') ?? [0, 2, 3]).map((a) => c.norm(a, x.ndim));
  const mean = x.mean(axes, true);
  const xc = x.sub(mean);
  c.out(xc.div(xc.square().mean(axes, true).sqrt().add(1e-9)));
}

function lrnLower(c: Ctx): void {
  const x = c.in(0);
  const size = c.attrInt('size', 1);
  const alpha = c.attrFloat('alpha', 1e-4), beta = c.attrFloat('beta', 0.75), bias = c.attrFloat('bias', 1);
  const C = x.shape[1];
  const c1 = Math.floor((size - 1) / 2), c2 = Math.ceil((size - 1) / 2) + 1;
  const m: number[] = [];
  for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) m.push(j >= Math.max(0, i - c1) && j < Math.min(C, i + c2) ? 1 : 0);
  const M = Tensor._fromValues(m, [C, C], x.dtype);
  const sq = x.square().permute([0, 2, 3, 1]).matmul(M.t()).permute([0, 3, 1, 2]);
  c.out(x.div(sq.mul(alpha / size).add(bias).pow(full(x, beta))));
}

function compressLower(c: Ctx): void {
  const x = c.in(0);
  const cond = c.ints(1, 'condition');
  const ax = c.attr('axis');
  const src = ax && ax.i !== undefined ? x : x.reshape([-1]);
  const axis = ax && ax.i !== undefined ? c.norm(ax.i, x.ndim) : 0;
  const idx = cond.map((v, i) => (v ? i : -1)).filter((i) => i >= 0 && i < src.shape[axis]);
  c.out(src.indexSelect(axis, Tensor._fromValues(idx, [idx.length], DType.I64)));
}

function reverseSequenceLower(c: Ctx): void {
  const x = c.in(0);
  const lens = c.ints(1, 'sequence_lens');
  const bAx = c.attrInt('batch_axis', 1), tAx = c.attrInt('time_axis', 0);
  const B = x.shape[bAx], T = x.shape[tAx];
  const idx = new Array<number>(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) idx[b * T + t] = t < lens[b] ? lens[b] - 1 - t : t;
  // gather along the time axis with an index tensor shaped like x
  const sh = x.shape.map(() => 1);
  sh[bAx] = B;
  sh[tAx] = T;
  const perm = bAx < tAx ? idx : Array.from({ length: B * T }, (_, k) => idx[(k % B) * T + Math.floor(k / B)]);
  const it = Tensor._fromValues(perm, sh, DType.I64).broadcastTo(x.shape.slice());
  c.out(x.gather(tAx, it));
}

function dynQuantLower(c: Ctx): void {
  const x = c.in(0);
  const mx = x.max().maximum(full(x, 0));
  const mn = x.min().minimum(full(x, 0));
  const scale = mx.sub(mn).div(255);
  const zp = roundF(full(x, 0).sub(mn.div(scale))).clamp(0, 255);
  const y = roundF(x.div(scale)).add(zp).clamp(0, 255).toDtype(DType.U8);
  c.out(y, 0);
  c.out(scale, 1);
  c.out(zp.toDtype(DType.U8), 2);
}

function act(name: string, c: Ctx): (t: Tensor) => Tensor {
  switch (name.toLowerCase()) {
    case 'tanh': return (t) => t.tanh();
    case 'sigmoid': return (t) => t.sigmoid();
    case 'relu': return (t) => t.relu();
    default: c.fail(`activation '${name}' is not supported`);
  }
}

/** RNN, GRU and LSTM, unrolled over the (static) sequence. */
function recurrent(kind: 'RNN' | 'GRU' | 'LSTM'): Lower {
  return (c) => {
    const G = kind === 'RNN' ? 1 : kind === 'GRU' ? 3 : 4;
    const layout = c.attrInt('layout', 0);
    let X = c.in(0);
    if (layout) X = X.permute([1, 0, 2]);
    const W = c.in(1), R = c.in(2);
    const [T, Bt] = X.shape;
    const H = c.attrInt('hidden_size', R.shape[2]);
    const dir = c.attrString('direction', 'forward');
    const nd = dir === 'bidirectional' ? 2 : 1;
    if (c.has(4)) {
      const lens = c.ints(4, 'sequence_lens');
      if (lens.some((l) => l !== T)) c.fail('sequence_lens shorter than the sequence are not supported');
    }
    const clip = c.attr('clip')?.f;
    const acts = c.attr('activations')?.strings.map((b) => Buffer.from(b).toString('utf8'));
    const defaults = kind === 'RNN' ? ['Tanh'] : kind === 'GRU' ? ['Sigmoid', 'Tanh'] : ['Sigmoid', 'Tanh', 'Tanh'];
    const nActs = defaults.length;
    if (c.attr('activation_alpha') || c.attr('activation_beta')) c.fail('activation_alpha/beta are not supported');
    if (kind === 'LSTM' && c.attrInt('input_forget', 0)) c.fail('input_forget is not supported');
    const lbr = c.attrInt('linear_before_reset', 0);
    const Ys: Tensor[][] = [];
    const Yh: Tensor[] = [];
    const Yc: Tensor[] = [];
    for (let d = 0; d < nd; d++) {
      const fa = (acts ? acts.slice(d * nActs, d * nActs + nActs) : defaults).map((n) => act(n, c));
      const cl = (t: Tensor) => (clip !== undefined ? t.clamp(-clip, clip) : t);
      const Wd = W.slice(0, d, d + 1).reshape([G * H, -1]);
      const Rd = R.slice(0, d, d + 1).reshape([G * H, H]);
      let Wb: Tensor | null = null, Rb: Tensor | null = null;
      if (c.has(3)) {
        const Bd = c.in(3).slice(0, d, d + 1).reshape([2 * G * H]);
        Wb = Bd.slice(0, 0, G * H);
        Rb = Bd.slice(0, G * H, 2 * G * H);
      }
      let h = c.has(5) ? c.in(5).slice(0, d, d + 1).reshape([Bt, H]) : Tensor.zeros([Bt, H], X.dtype);
      let cc = kind === 'LSTM' ? (c.has(6) ? c.in(6).slice(0, d, d + 1).reshape([Bt, H]) : Tensor.zeros([Bt, H], X.dtype)) : null;
      const P = kind === 'LSTM' && c.has(7) ? c.in(7).slice(0, d, d + 1).reshape([3 * H]) : null;
      let XW = X.matmul(Wd.t()); // [T, B, G*H]
      if (Wb) XW = XW.add(Wb);
      const reverse = dir === 'reverse' || d === 1;
      const ys: Tensor[] = new Array(T);
      const gate = (t: Tensor, k: number) => t.slice(-1, k * H, (k + 1) * H);
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        const xw = XW.slice(0, t, t + 1).reshape([Bt, G * H]);
        if (kind === 'GRU') {
          const Rz = Rd.slice(0, 0, H), Rr = Rd.slice(0, H, 2 * H), Rh = Rd.slice(0, 2 * H, 3 * H);
          const rb = (k: number) => (Rb ? gate(Rb, k) : null);
          const addB = (v: Tensor, b: Tensor | null) => (b ? v.add(b) : v);
          const z = fa[0](cl(addB(gate(xw, 0).add(h.matmul(Rz.t())), rb(0))));
          const r = fa[0](cl(addB(gate(xw, 1).add(h.matmul(Rr.t())), rb(1))));
          const hh = lbr
            ? fa[1](cl(gate(xw, 2).add(r.mul(addB(h.matmul(Rh.t()), rb(2))))))
            : fa[1](cl(addB(gate(xw, 2).add(r.mul(h).matmul(Rh.t())), rb(2))));
          h = Tensor.full([], 1, X.dtype).sub(z).mul(hh).add(z.mul(h));
        } else {
          let g = xw.add(h.matmul(Rd.t()));
          if (Rb) g = g.add(Rb);
          if (kind === 'RNN') h = fa[0](cl(g));
          else {
            let i = gate(g, 0), o = gate(g, 1), f = gate(g, 2);
            const cg = gate(g, 3);
            if (P) {
              i = i.add(P.slice(0, 0, H).mul(cc!));
              f = f.add(P.slice(0, 2 * H, 3 * H).mul(cc!));
            }
            i = fa[0](cl(i));
            f = fa[0](cl(f));
            cc = f.mul(cc!).add(i.mul(fa[1](cl(cg))));
            if (P) o = o.add(P.slice(0, H, 2 * H).mul(cc));
            o = fa[0](cl(o));
            h = o.mul(fa[2](cc));
          }
        }
        ys[t] = h;
      }
      Ys.push(ys);
      Yh.push(h);
      if (cc) Yc.push(cc);
    }
    if (c.n.outputs[0]) {
      // Y: [T, nd, B, H] (layout 0) or [B, T, nd, H] (layout 1)
      const steps = Array.from({ length: T }, (_, t) => Tensor.concat(Ys.map((ys) => ys[t].unsqueeze(0)), 0).unsqueeze(0));
      let Y = T === 1 ? steps[0] : Tensor.concat(steps, 0);
      if (layout) Y = Y.permute([2, 0, 1, 3]);
      c.out(Y, 0);
    }
    const stackDir = (ts: Tensor[]) => {
      const y = Tensor.concat(ts.map((t) => t.unsqueeze(0)), 0);
      return layout ? y.permute([1, 0, 2]) : y;
    };
    if (c.n.outputs[1]) c.out(stackDir(Yh), 1);
    if (c.n.outputs[2] && Yc.length) c.out(stackDir(Yc), 2);
  };
}

function ifLower(c: Ctx): void {
  const cond = c.ints(0, 'cond');
  const branch = c.attr(cond[0] ? 'then_branch' : 'else_branch')?.g;
  if (!branch) c.fail('missing branch');
  c.runGraph(branch, []).forEach((t, i) => c.out(t.reshape(t.shape.slice()), i));
}

/** Loop with a trip count or condition known at import: unrolled. */
function loopLower(c: Ctx): void {
  const body = c.attr('body')?.g;
  if (!body) c.fail('missing body');
  const maxTrip = c.has(0) ? c.ints(0, 'M')[0] : Infinity;
  let cond = c.has(1) ? c.ints(1, 'cond')[0] : 1;
  let state: Tensor[] = [];
  for (let i = 2; i < c.n.inputs.length; i++) state.push(c.in(i));
  const nState = state.length;
  const scans: Tensor[][] = [];
  let it = 0;
  for (; it < maxTrip && cond; it++) {
    if (it >= 1024) c.fail('more than 1024 iterations');
    const outs = c.runGraph(body, [{ scalar: it, dtype: DType.I64 }, { scalar: 1, dtype: DType.BOOL }, ...state]);
    const cv = outs[0];
    state = outs.slice(1, 1 + nState);
    outs.slice(1 + nState).forEach((t, k) => (scans[k] = scans[k] ?? []).push(t.unsqueeze(0)));
    // a condition computed from data cannot be known at import unless it is a constant of the body
    if (body.outputs[0] && !Number.isFinite(maxTrip)) c.fail('a data-dependent loop condition is not supported');
    void cv;
    cond = 1;
  }
  state.forEach((t, i) => c.out(t, i));
  const nScan = c.n.outputs.length - nState;
  for (let k = 0; k < nScan; k++) {
    const parts = scans[k] ?? [];
    if (parts.length === 0) c.fail('a loop with zero iterations and scan outputs is not supported');
    c.out(parts.length === 1 ? parts[0] : Tensor.concat(parts, 0), nState + k);
  }
}

function scanLower(c: Ctx): void {
  const body = c.attr('body')?.g;
  if (!body) c.fail('missing body');
  const M = c.attrInt('num_scan_inputs', 0);
  const first = c.opset >= 9 ? 0 : 1; // opset 8 has a sequence_lens input and a batch axis
  if (first) c.fail('Scan-8 (batched) is not supported');
  const all: Tensor[] = [];
  for (let i = 0; i < c.n.inputs.length; i++) all.push(c.in(i));
  const N = all.length - M;
  let state = all.slice(0, N);
  const scanIn = all.slice(N);
  const inAxes = (c.attrInts('scan_input_axes') ?? scanIn.map(() => 0)).map((a, k) => c.norm(a, scanIn[k].ndim));
  const inDirs = c.attrInts('scan_input_directions') ?? scanIn.map(() => 0);
  const T = scanIn.length ? scanIn[0].shape[inAxes[0]] : 0;
  if (T > 1024) c.fail(`${T} iterations (at most 1024)`);
  const K = body.outputs.length - N;
  const outAxesA = c.attrInts('scan_output_axes') ?? new Array(K).fill(0);
  const outDirs = c.attrInts('scan_output_directions') ?? new Array(K).fill(0);
  const outs: Tensor[][] = Array.from({ length: K }, () => []);
  for (let t = 0; t < T; t++) {
    const slices = scanIn.map((x, k) => {
      const i = inDirs[k] ? T - 1 - t : t;
      return x.slice(inAxes[k], i, i + 1).squeeze(inAxes[k]);
    });
    const r = c.runGraph(body, [...state, ...slices]);
    state = r.slice(0, N);
    r.slice(N).forEach((y, k) => outs[k].push(y));
  }
  state.forEach((t, i) => c.out(t.reshape(t.shape.slice()), i));
  for (let k = 0; k < K; k++) {
    const ys = outDirs[k] ? outs[k].slice().reverse() : outs[k];
    if (ys.length === 0) c.fail('zero iterations');
    const ax = c.norm(outAxesA[k], ys[0].ndim + 1);
    c.out(Tensor.concat(ys.map((y) => y.unsqueeze(ax)), ax), N + k);
  }
}

/** atan on [-1, 1] by a minimax polynomial (|error| < 1e-5), extended by atan(x) = ±pi/2 - atan(1/x). */
function atanF(x: Tensor): Tensor {
  const big = x.abs().gt(full(x, 1));
  const z = Tensor.where(big, x.recip(), x);
  const z2 = z.square();
  let p = z2.mul(0.0208351).add(-0.085133);
  p = p.mul(z2).add(0.180141);
  p = p.mul(z2).add(-0.3302995);
  p = p.mul(z2).add(0.999866);
  const a = p.mul(z);
  return Tensor.where(big, x.sign().mul(Math.PI / 2).sub(a), a);
}

function qlinearMatMulLower(c: Ctx): void {
  const deq = (x: Tensor, s: Tensor, zp: Tensor) => x.toDtype(DType.F32).sub(zp.toDtype(DType.F32)).mul(s.toDtype(DType.F32));
  const a = deq(c.in(0), c.in(1), c.in(2));
  const b = deq(c.in(3), c.in(4), c.in(5));
  const ys = c.in(6).toDtype(DType.F32);
  const yzp = c.in(7);
  const rg: Record<string, [number, number]> = { u8: [0, 255], i8: [-128, 127] };
  const r = rg[yzp.dtype];
  if (!r) c.fail(`output type ${yzp.dtype}`);
  const y = roundF(a.matmul(b).div(ys)).add(yzp.toDtype(DType.F32)).clamp(r[0], r[1]);
  c.out(y.toDtype(yzp.dtype));
}

const INT_BITS: Partial<Record<DType, [number, boolean]>> = {
  [DType.U8]: [8, false], [DType.I8]: [8, true], [DType.U16]: [16, false], [DType.I16]: [16, true], [DType.U32]: [32, false], [DType.I32]: [32, true],
};

/** Bitwise And/Or/Xor on integers up to 32 bits, bit by bit in int64 arithmetic. */
function bitwise(kind: 'and' | 'or' | 'xor'): Lower {
  return (c) => {
    const a = c.in(0), b = c.in(1);
    const info = INT_BITS[a.dtype];
    if (!info) c.fail(`bitwise ops on ${a.dtype}`);
    const [W, signed] = info as [number, boolean];
    const I = (v: number) => Tensor.full([], v, DType.I64);
    const unsignedOf = (t: Tensor) => {
      const x = t.toDtype(DType.I64);
      return signed ? Tensor.where(x.lt(I(0)), x.add(I(2 ** W)), x) : x;
    };
    const ua = unsignedOf(a), ub = unsignedOf(b);
    let acc: Tensor | null = null;
    for (let k = 0; k < W; k++) {
      const p = I(2 ** k), two = I(2);
      const ba = ua.div(p), bb = ub.div(p);
      const x = ba.sub(ba.div(two).mul(two)), y = bb.sub(bb.div(two).mul(two));
      const bit = kind === 'and' ? x.mul(y) : kind === 'or' ? x.add(y).sub(x.mul(y)) : x.add(y).sub(x.mul(y).mul(two));
      const term = bit.mul(p);
      acc = acc ? acc.add(term) : term;
    }
    let r = acc!;
    if (signed) r = Tensor.where(r.ge(I(2 ** (W - 1))), r.sub(I(2 ** W)), r);
    c.out(r.toDtype(a.dtype));
  };
}

function bitwiseNot(c: Ctx): void {
  const x = c.in(0);
  const info = INT_BITS[x.dtype];
  if (!info) c.fail(`bitwise ops on ${x.dtype}`);
  const [W, signed] = info as [number, boolean];
  const I = (v: number) => Tensor.full([], v, DType.I64);
  const x64 = x.toDtype(DType.I64);
  c.out((signed ? x64.neg().sub(I(1)) : I(2 ** W - 1).sub(x64)).toDtype(x.dtype));
}

/** DFT (opset 17/20) as matmuls with constant cos / sin matrices along the signal axis. */
function dftLower(c: Ctx): void {
  let x = c.in(0);
  const inverse = c.attrInt('inverse', 0), onesided = c.attrInt('onesided', 0);
  let axis: number;
  if (c.opset >= 20) axis = c.has(2) ? c.ints(2, 'axis')[0] : -2;
  else axis = c.attrInt('axis', 1);
  axis = c.norm(axis, x.ndim);
  if (axis === x.ndim - 1) c.fail('the last axis holds real/imaginary parts');
  const n0 = x.shape[axis];
  const L = c.has(1) && c.meta(1).shape.length >= 0 && c.known(1) ? c.ints(1, 'dft_length')[0] : n0;
  // pad or crop the signal to L
  if (L < n0) x = x.slice(axis, 0, L);
  else if (L > n0) {
    const sh = x.shape.slice();
    sh[axis] = L - n0;
    x = Tensor.concat([x, Tensor.zeros(sh, x.dtype)], axis);
  }
  const complexIn = x.shape[x.ndim - 1] === 2;
  const re = x.slice(-1, 0, 1).squeeze(-1);
  const im = complexIn ? x.slice(-1, 1, 2).squeeze(-1) : null;
  const K = onesided ? Math.floor(L / 2) + 1 : L;
  const sign = inverse ? 1 : -1;
  const cosM: number[] = [], sinM: number[] = [];
  for (let k = 0; k < K; k++)
    for (let t = 0; t < L; t++) {
      const ang = (2 * Math.PI * k * t) / L;
      cosM.push(Math.cos(ang) / (inverse ? L : 1));
      sinM.push((sign * Math.sin(ang)) / (inverse ? L : 1));
    }
  const Cm = Tensor._fromValues(cosM, [K, L], x.dtype).t();
  const Sm = Tensor._fromValues(sinM, [K, L], x.dtype).t();
  const r = re.ndim;
  const ax = axis;
  const perm = Array.from({ length: r }, (_, i) => i).filter((i) => i !== ax).concat([ax]);
  const inv = perm.map((_, i) => perm.indexOf(i));
  const mm = (t: Tensor, m: Tensor) => t.permute(perm).matmul(m).permute(inv);
  let outRe = mm(re, Cm), outIm = mm(re, Sm);
  if (im) {
    outRe = outRe.sub(mm(im, Sm));
    outIm = outIm.add(mm(im, Cm));
  }
  c.out(Tensor.concat([outRe.unsqueeze(-1), outIm.unsqueeze(-1)], -1));
}

/**
 * Separable N-D pooling (3-D pools, dilated pools): along each spatial axis, the max / sum of the
 * kernel's strided slices (each slice one kernel tap), with explicit -inf / 0 padding.
 */
export function poolSeparable(c: Ctx, kind: 'max' | 'avg'): void {
  const x = c.in(0);
  const nsp = x.ndim - 2;
  const k = c.attrInts('kernel_shape') ?? [];
  const s = c.attrInts('strides') ?? new Array(nsp).fill(1);
  const d = c.attrInts('dilations') ?? new Array(nsp).fill(1);
  const ceil = c.attrInt('ceil_mode', 0);
  const auto = c.attrString('auto_pad', 'NOTSET');
  let p = c.attrInts('pads') ?? new Array(2 * nsp).fill(0);
  if (auto === 'VALID') p = new Array(2 * nsp).fill(0);
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    p = new Array(2 * nsp).fill(0);
    for (let i = 0; i < nsp; i++) {
      const n = x.shape[2 + i];
      const out = Math.ceil(n / s[i]);
      const total = Math.max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - n, 0);
      const small = Math.floor(total / 2);
      p[i] = auto === 'SAME_UPPER' ? small : total - small;
      p[nsp + i] = total - p[i];
    }
  } else if (auto !== 'NOTSET') c.fail(`auto_pad '${auto}'`);
  const include = c.attrInt('count_include_pad', 0) === 1;
  const padVal = kind === 'max' ? (isFloat(x.dtype) ? -Infinity : 0) : 0;
  let t = x;
  const counts: Tensor[] = [];
  for (let i = 0; i < nsp; i++) {
    const ax = 2 + i;
    const n = t.shape[ax];
    const [pb, pe] = [p[i], p[nsp + i]];
    const span = (k[i] - 1) * d[i] + 1;
    let out = (ceil ? Math.ceil((n + pb + pe - span) / s[i]) : Math.floor((n + pb + pe - span) / s[i])) + 1;
    if (ceil && (out - 1) * s[i] >= n + pb) out--;
    const extra = Math.max((out - 1) * s[i] + span - (n + pb + pe), 0);
    if (pb || pe + extra) {
      const parts: Tensor[] = [];
      const blk = (m: number) => {
        const sh = t.shape.slice();
        sh[ax] = m;
        return Tensor.full(sh, padVal, t.dtype);
      };
      if (pb) parts.push(blk(pb));
      parts.push(t);
      if (pe + extra) parts.push(blk(pe + extra));
      t = Tensor.concat(parts, ax);
    }
    let acc: Tensor | null = null;
    for (let j = 0; j < k[i]; j++) {
      const st = j * d[i];
      const tap = t.slice(ax, st, st + (out - 1) * s[i] + 1, s[i]);
      acc = acc ? (kind === 'max' ? acc.maximum(tap) : acc.add(tap)) : tap;
    }
    t = acc!;
    if (kind === 'avg') {
      const cnt: number[] = [];
      for (let o = 0; o < out; o++) {
        let m = 0;
        for (let j = 0; j < k[i]; j++) {
          const pos = o * s[i] + j * d[i] - pb;
          if (include ? pos >= -pb && pos < n + pe : pos >= 0 && pos < n) m++;
        }
        cnt.push(m);
      }
      const csh = new Array(x.ndim).fill(1);
      csh[ax] = out;
      counts.push(Tensor._fromValues(cnt, csh, x.dtype));
    }
  }
  for (const cnt of counts) t = t.div(cnt);
  c.out(t);
}

function rotaryLower(c: Ctx): void {
  const x0 = c.in(0);
  let x = x0.ndim === 4 ? x0.permute([0, 2, 1, 3]) : x0;
  const [B, S] = x.shape;
  if (x.ndim === 3) {
    const nh = c.attrInt('num_heads', 0);
    if (!nh) c.fail('3-D input needs num_heads');
    x = x.reshape([B, S, nh, x.shape[2] / nh]);
  }
  const D = x.shape[3];
  const rd = c.attrInt('rotary_embedding_dim', 0) || D;
  const half = rd / 2;
  let cos = c.in(1), sin = c.in(2);
  if (c.has(3)) {
    const pos = c.in(3).toDtype(DType.I64);
    const take = (t: Tensor) => t.indexSelect(0, pos.reshape([-1])).reshape([...pos.shape, t.shape[t.ndim - 1]]);
    cos = take(cos);
    sin = take(sin);
  }
  cos = cos.unsqueeze(-2);
  sin = sin.unsqueeze(-2);
  const xr = x.slice(3, 0, rd);
  const inter = c.attrInt('interleaved', 0);
  const x1 = inter ? xr.slice(3, 0, rd, 2) : xr.slice(3, 0, half);
  const x2 = inter ? xr.slice(3, 1, rd, 2) : xr.slice(3, half, rd);
  const real = cos.mul(x1).sub(sin.mul(x2));
  const imag = sin.mul(x1).add(cos.mul(x2));
  let rot = inter ? Tensor.concat([real.unsqueeze(-1), imag.unsqueeze(-1)], -1).reshape(xr.shape.slice()) : Tensor.concat([real, imag], 3);
  if (rd < D) rot = Tensor.concat([rot, x.slice(3, rd, D)], 3);
  c.out(x0.ndim === 3 ? rot.reshape(x0.shape.slice()) : rot.permute([0, 2, 1, 3]));
}

function maxUnpoolLower(c: Ctx): void {
  const x = c.in(0);
  const idx = c.in(1).toDtype(DType.I64);
  const k = c.attrInts('kernel_shape') ?? [];
  const s = c.attrInts('strides') ?? k.map(() => 1);
  const p = c.attrInts('pads') ?? new Array(2 * k.length).fill(0);
  let outShape: number[];
  if (c.has(2)) outShape = c.ints(2, 'output_shape');
  else outShape = [...x.shape.slice(0, 2), ...x.shape.slice(2).map((n, i) => (n - 1) * s[i] + k[i] - p[i] - p[k.length + i])];
  const total = outShape.reduce((a, b) => a * b, 1);
  const flat = Tensor._op('index_add', [Tensor.zeros([total], x.dtype), idx.reshape([-1]), x.reshape([-1])], [0]);
  c.out(flat.reshape(outShape));
}

/** MatMulInteger / ConvInteger: exact in float64 for the small integer ranges they carry. */
function integerLower(kind: 'matmul' | 'conv'): Lower {
  return (c) => {
    const f = (i: number, zp: number) => {
      let t = c.in(i).toDtype(DType.F64);
      if (c.has(zp)) {
        let z = c.in(zp).toDtype(DType.F64);
        if (kind === 'conv' && i === 1 && z.ndim === 1 && z.shape[0] > 1) z = z.reshape([-1, 1, 1, 1]);
        if (kind === 'matmul' && i === 1 && z.ndim === 1 && z.shape[0] > 1) z = z.reshape([1, -1]);
        t = t.sub(z);
      }
      return t;
    };
    const a = f(0, 2), b = f(1, 3);
    if (kind === 'matmul') {
      c.out(a.matmul(b).toDtype(DType.I32));
      return;
    }
    const name = '\u0000ci';
    const y = c.sub({ ...c.n, inputs: [name + 'x', name + 'w'], outputs: [name + 'y'] }, { [name + 'x']: a, [name + 'w']: b }, 'Conv');
    c.out(y.toDtype(DType.I32));
  };
}

function reflectF(v: Tensor, lo: number, hi: number): Tensor {
  const rng = hi - lo;
  const f = (t: number) => full(v, t);
  const even = (n: Tensor) => n.sub(floorF(n.mul(0.5)).mul(2)).eq(f(0));
  const dxl = f(lo).sub(v);
  const nl = truncF(dxl.div(rng));
  const rl = dxl.sub(nl.mul(rng));
  const below = Tensor.where(even(nl), f(lo).add(rl), f(hi).sub(rl));
  const dxh = v.sub(f(hi));
  const nh = truncF(dxh.div(rng));
  const rh = dxh.sub(nh.mul(rng));
  const above = Tensor.where(even(nh), f(hi).sub(rh), f(lo).add(rh));
  return Tensor.where(v.lt(f(lo)), below, Tensor.where(v.gt(f(hi)), above, v));
}

function cubicCoeffs(t: Tensor): Tensor[] {
  const A = -0.75;
  const x = t.abs();
  const x1 = x.add(1), x2 = full(x, 1).sub(x), x3 = full(x, 2).sub(x);
  return [
    x1.mul(A).sub(5 * A).mul(x1).add(8 * A).mul(x1).sub(4 * A),
    x.mul(A + 2).sub(A + 3).mul(x).mul(x).add(1),
    x2.mul(A + 2).sub(A + 3).mul(x2).mul(x2).add(1),
    x3.mul(A).sub(5 * A).mul(x3).add(8 * A).mul(x3).sub(4 * A),
  ];
}

function gridSampleLower(c: Ctx): void {
  const X = c.in(0);
  let grid = c.in(1);
  if (!isFloat(X.dtype)) c.fail(`GridSample of ${X.dtype}`);
  if (grid.dtype !== X.dtype) grid = grid.toDtype(X.dtype);
  const modeRaw = c.attrString('mode', c.opset >= 20 ? 'linear' : 'bilinear');
  const mode = modeRaw === 'bilinear' ? 'linear' : modeRaw === 'bicubic' ? 'cubic' : modeRaw;
  const pad = c.attrString('padding_mode', 'zeros');
  const ac = c.attrInt('align_corners', 0) === 1;
  const [N, C] = X.shape;
  const dims = X.shape.slice(2);
  const nd = dims.length;
  const outSp = grid.shape.slice(1, -1);
  const Q = outSp.reduce((a, b) => a * b, 1);
  const P = dims.reduce((a, b) => a * b, 1);
  // coordinate per spatial dim k (grid's last axis is reversed: x, y(, z))
  const coords: Tensor[] = [];
  for (let k = 0; k < nd; k++) {
    const d = dims[k];
    const g = grid.slice(-1, nd - 1 - k, nd - k).reshape([N, Q]);
    let x = ac ? g.add(1).mul(0.5 * (d - 1)) : g.add(1).mul(d).sub(1).mul(0.5);
    if (mode === 'nearest') x = roundF(x);
    const lo = ac ? 0 : -0.5, hi = ac ? d - 1 : d - 0.5;
    if (pad === 'border') x = Tensor.where(x.lt(full(x, lo)).logicalOr(x.gt(full(x, hi))), x.clamp(0, d - 1), x);
    else if (pad === 'reflection') x = reflectF(x, lo, hi);
    coords.push(x);
  }
  // taps per dim: integer positions and weights
  const taps: { idx: Tensor; w: Tensor | null }[][] = coords.map((x, k) => {
    const d = dims[k];
    const lo = ac ? 0 : -0.5, hi = ac ? d - 1 : d - 0.5;
    const fix = (i: Tensor): { idx: Tensor; valid: Tensor | null } => {
      if (pad === 'zeros') return { idx: i.clamp(0, d - 1), valid: i.ge(full(i, 0)).logicalAnd(i.le(full(i, d - 1))) };
      if (pad === 'border') return { idx: i.clamp(0, d - 1), valid: null };
      return { idx: truncF(reflectF(i, lo, hi)).clamp(0, d - 1), valid: null };
    };
    const mk = (i: Tensor, w: Tensor | null) => {
      const f = fix(i);
      let ww = w;
      if (f.valid) ww = ww ? ww.mul(f.valid.toDtype(X.dtype)) : f.valid.toDtype(X.dtype);
      return { idx: f.idx.toDtype(DType.I64), w: ww };
    };
    if (mode === 'nearest') return [mk(x, null)];
    const x0 = floorF(x);
    const fr = x.sub(x0);
    if (mode === 'linear') return [mk(x0, full(fr, 1).sub(fr)), mk(x0.add(1), fr)];
    if (mode !== 'cubic') c.fail(`mode '${modeRaw}'`);
    const cf = cubicCoeffs(fr);
    return [-1, 0, 1, 2].map((o, j) => mk(x0.add(o), cf[j]));
  });
  const strides: number[] = [];
  let acc = 1;
  for (let k = nd - 1; k >= 0; k--) {
    strides[k] = acc;
    acc *= dims[k];
  }
  const Xf = X.reshape([N, C, P]);
  let out: Tensor | null = null;
  const rec = (k: number, flat: Tensor | null, w: Tensor | null) => {
    if (k === nd) {
      const idx = flat!.reshape([N, 1, Q]).broadcastTo([N, C, Q]);
      let v = Xf.gather(2, idx);
      if (w) v = v.mul(w.reshape([N, 1, Q]));
      out = out ? out.add(v) : v;
      return;
    }
    for (const t of taps[k]) {
      const term = t.idx.mul(Tensor.full([], strides[k], DType.I64));
      rec(k + 1, flat ? flat.add(term) : term, t.w ? (w ? w.mul(t.w) : t.w) : w);
    }
  };
  rec(0, null, null);
  c.out(out!.reshape([N, C, ...outSp]));
}

/** CausalConvWithState: depthwise 1-D conv over [past_state, input], optional SiLU; new state = last k-1 steps. */
function causalConvLower(c: Ctx): void {
  const x = c.in(0);
  const w = c.in(1);
  const [B, Ch] = x.shape;
  const k = w.shape[2];
  const past = c.has(3) ? c.in(3) : Tensor.zeros([B, Ch, k - 1], x.dtype);
  const padded = k > 1 ? Tensor.concat([past, x], 2) : x;
  let y = padded.unsqueeze(2).conv2d(w.unsqueeze(2), c.has(2) ? c.in(2) : null, { groups: Ch }).squeeze(2);
  const actName = c.attrString('activation', 'none');
  if (actName === 'silu' || actName === 'swish') y = y.mul(y.sigmoid());
  else if (actName !== 'none') c.fail(`activation '${actName}'`);
  c.out(y, 0);
  if (c.n.outputs[1]) {
    const L = padded.shape[2];
    c.out(padded.slice(2, L - (k - 1), L), 1);
  }
}

/** LinearAttention (linear / gated / delta / gated_delta recurrences), unrolled over time in float32. */
function linearAttentionLower(c: Ctx): void {
  const rule = c.attrString('update_rule', 'gated_delta');
  const qh = c.attrInt('q_num_heads', 0), kvh = c.attrInt('kv_num_heads', 0);
  if (!qh || !kvh || qh % kvh) c.fail('q_num_heads must be a positive multiple of kv_num_heads');
  const gating = rule === 'gated' || rule === 'gated_delta';
  const delta = rule === 'delta' || rule === 'gated_delta';
  const q0 = c.in(0);
  const odt = q0.dtype;
  const f32 = (t: Tensor) => (t.dtype === DType.F32 ? t : t.toDtype(DType.F32));
  const [B, T] = q0.shape;
  const unpack = (t: Tensor, h: number) => f32(t).reshape([B, T, h, t.shape[2] / h]).permute([0, 2, 1, 3]);
  const q = unpack(q0, qh), k = unpack(c.in(1), kvh), v = unpack(c.in(2), kvh);
  const dk = q.shape[3], dv = v.shape[3];
  const scaleA = c.attrFloat('scale', 0);
  const scale = scaleA ? scaleA : 1 / Math.sqrt(dk);
  let state = c.has(3) ? f32(c.in(3)) : Tensor.zeros([B, kvh, dk, dv], DType.F32);
  const stateDt = c.has(3) ? c.in(3).dtype : odt;
  let decay: Tensor | null = null;
  if (gating) {
    const d = f32(c.in(4));
    decay = d.shape[2] === kvh ? d.reshape([B, T, kvh, 1]).permute([0, 2, 1, 3]) : unpack(d, kvh);
  }
  const beta = delta ? f32(c.in(5)).reshape([B, T, c.in(5).shape[2], 1]).permute([0, 2, 1, 3]) : null;
  const group = qh / kvh;
  const outs: Tensor[] = [];
  const at = (t: Tensor, i: number) => t.slice(2, i, i + 1).squeeze(2);
  for (let i = 0; i < T; i++) {
    const kt = at(k, i);
    let vt = at(v, i);
    if (decay) state = state.mul(at(decay, i).exp().unsqueeze(-1));
    if (beta) {
      const retrieved = kt.unsqueeze(2).matmul(state).squeeze(2);
      vt = at(beta, i).mul(vt.sub(retrieved));
    }
    state = state.add(kt.unsqueeze(-1).mul(vt.unsqueeze(-2)));
    const read = group === 1 ? state : state.unsqueeze(2).broadcastTo([B, kvh, group, dk, dv]).reshape([B, qh, dk, dv]);
    outs.push(at(q, i).unsqueeze(2).matmul(read).mul(scale)); // [B, qh, 1, dv]
  }
  const o = (T === 1 ? outs[0] : Tensor.concat(outs, 2)).permute([0, 2, 1, 3]).reshape([B, T, qh * dv]);
  c.out(o.dtype === odt ? o : o.toDtype(odt), 0);
  if (c.n.outputs[1]) c.out(state.dtype === stateDt ? state : state.toDtype(stateDt), 1);
}

function affineGridLower(c: Ctx): void {
  const theta = c.in(0);
  const size = c.ints(1, 'size');
  const ac = c.attrInt('align_corners', 0) === 1;
  const N = size[0];
  const sp = size.slice(2);
  const nd = sp.length;
  const lin = (n: number) => Array.from({ length: n }, (_, i) => (ac ? (n === 1 ? 0 : -1 + (2 * i) / (n - 1)) : (2 * i + 1) / n - 1));
  const axes = sp.map(lin);
  // base rows (x, y[, z], 1) over the output grid, x fastest
  const rows: number[] = [];
  const total = sp.reduce((a, b) => a * b, 1);
  for (let f = 0; f < total; f++) {
    const idx: number[] = [];
    let r = f;
    for (let k = nd - 1; k >= 0; k--) {
      idx[k] = r % sp[k];
      r = Math.floor(r / sp[k]);
    }
    for (let k = nd - 1; k >= 0; k--) rows.push(axes[k][idx[k]]);
    rows.push(1);
  }
  const base = Tensor._fromValues(rows, [total, nd + 1], theta.dtype);
  const g = base.matmul(theta.permute([0, 2, 1])); // [N, total, nd]
  c.out(g.reshape([N, ...sp, nd]));
}

export const EXTRA_OPS: Record<string, Lower> = {
  AffineGrid: affineGridLower,
  LinearAttention: linearAttentionLower,
  CausalConvWithState: causalConvLower,
  GridSample: gridSampleLower,
  RotaryEmbedding: rotaryLower,
  MaxUnpool: maxUnpoolLower,
  MatMulInteger: integerLower('matmul'),
  ConvInteger: integerLower('conv'),
  BitwiseAnd: bitwise('and'),
  BitwiseOr: bitwise('or'),
  BitwiseXor: bitwise('xor'),
  BitwiseNot: bitwiseNot,
  DFT: dftLower,
  Atan: (c) => c.out(atanF(c.in(0))),
  Asin: (c) => {
    const x = c.in(0);
    c.out(atanF(x.div(full(x, 1).sub(x.square()).sqrt())));
  },
  Acos: (c) => {
    const x = c.in(0);
    c.out(full(x, Math.PI / 2).sub(atanF(x.div(full(x, 1).sub(x.square()).sqrt()))));
  },
  QLinearMatMul: qlinearMatMulLower,
  If: ifLower,
  Loop: loopLower,
  Scan: scanLower,
  RNN: recurrent('RNN'),
  GRU: recurrent('GRU'),
  LSTM: recurrent('LSTM'),
  Einsum: einsumLower,
  TopK: topKLower,
  ScatterND: scatterNDLower,
  GatherND: gatherNDLower,
  HannWindow: windowLower('hann'),
  HammingWindow: windowLower('hamming'),
  BlackmanWindow: windowLower('blackman'),
  GroupNormalization: groupNormLower,
  MeanVarianceNormalization: mvnLower,
  LRN: lrnLower,
  Compress: compressLower,
  ReverseSequence: reverseSequenceLower,
  DynamicQuantizeLinear: dynQuantLower,
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
