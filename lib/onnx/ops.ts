// The ONNX operator table of the importer: one lowering per op type, onto hodu's Tensor API
// (direct ops, views and short compositions). Shape operands must be known at import (folded).
import { DType, isFloat } from '../dtype';
import { ErrorCode, HoduError } from '../errors';
import { Tensor } from '../tensor';
import type { Ctx } from './import';
import { dtypeOfOnnx, numericValues, tensorData } from './tensor-data';
import { EXTRA_OPS, poolSeparable } from './ops-extra';

type Lower = (c: Ctx) => void;

function prod(a: readonly number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

// ---------------------------------------------------------------- shared helpers

/** Pads each axis with `value` (negative pads crop). */
export function padConst(x: Tensor, begins: number[], ends: number[], value: number): Tensor {
  let t = x;
  for (let d = 0; d < t.ndim; d++) {
    const b = begins[d] ?? 0;
    const e = ends[d] ?? 0;
    if (b < 0) t = t.slice(d, -b);
    if (e < 0) t = t.slice(d, 0, t.shape[d] + e);
    const parts: Tensor[] = [];
    const block = (n: number) => {
      const sh = t.shape.slice();
      sh[d] = n;
      return Tensor.full(sh, value, t.dtype);
    };
    if (b > 0) parts.push(block(b));
    parts.push(t);
    if (e > 0) parts.push(block(e));
    if (parts.length > 1) t = Tensor.concat(parts, d);
  }
  return t;
}

/** Pads with edge / reflect / wrap by index maps. */
function padIndexed(x: Tensor, begins: number[], ends: number[], mode: string, c: Ctx): Tensor {
  let t = x;
  for (let d = 0; d < t.ndim; d++) {
    const b = begins[d] ?? 0;
    const e = ends[d] ?? 0;
    if (b === 0 && e === 0) continue;
    const n = t.shape[d];
    const idx: number[] = [];
    for (let i = -b; i < n + e; i++) {
      let j = i;
      if (mode === 'edge') j = Math.min(Math.max(i, 0), n - 1);
      else if (mode === 'wrap') j = ((i % n) + n) % n;
      else {
        if (n === 1) j = 0;
        else {
          const p = 2 * (n - 1);
          j = ((i % p) + p) % p;
          if (j >= n) j = p - j;
        }
      }
      idx.push(j);
    }
    if (n === 0) c.fail(`cannot ${mode}-pad an empty axis`);
    t = t.indexSelect(d, Tensor._fromValues(idx, [idx.length], DType.I64));
  }
  return t;
}

function minValue(dt: DType): number {
  if (isFloat(dt)) return -Infinity;
  switch (dt) {
    case DType.I8: return -128;
    case DType.I16: return -32768;
    case DType.I32: return -2147483648;
    case DType.I64: return -Number.MAX_SAFE_INTEGER;
    default: return 0;
  }
}

/** ONNX spatial pads [b1..bn, e1..en] from attributes / auto_pad for input spatial dims. */
function spatialPads(c: Ctx, inSp: number[], k: number[], s: number[], d: number[]): { b: number[]; e: number[] } {
  const n = inSp.length;
  const auto = c.attrString('auto_pad', 'NOTSET');
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const b: number[] = [], e: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inSp[i] / s[i]);
      const total = Math.max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - inSp[i], 0);
      const small = Math.floor(total / 2);
      if (auto === 'SAME_UPPER') { b.push(small); e.push(total - small); }
      else { b.push(total - small); e.push(small); }
    }
    return { b, e };
  }
  if (auto === 'VALID') return { b: new Array(n).fill(0), e: new Array(n).fill(0) };
  if (auto !== 'NOTSET') c.fail(`auto_pad '${auto}' is not supported`);
  const p = c.attrInts('pads') ?? new Array(2 * n).fill(0);
  if (p.length !== 2 * n) c.fail(`pads has ${p.length} values, expected ${2 * n}`);
  return { b: p.slice(0, n), e: p.slice(n) };
}

/** Lifts a 1-D spatial op to 2-D (H = 1); returns the 4-D tensor and a function undoing it. */
function as2d(x: Tensor, c: Ctx): { x: Tensor; undo: (y: Tensor) => Tensor; sp: number } {
  if (x.ndim === 4) return { x, undo: (y) => y, sp: 2 };
  if (x.ndim === 3) return { x: x.unsqueeze(2), undo: (y) => y.squeeze(2), sp: 1 };
  c.fail(`only 1-D and 2-D spatial inputs are supported, got rank ${x.ndim}`);
}

function reduceAxes(c: Ctx, rank: number, axesInputFrom: number): number[] | null {
  let axes: number[] | undefined;
  if (c.opset >= axesInputFrom) {
    if (c.has(1)) axes = c.ints(1, 'axes');
  } else axes = c.attrInts('axes');
  if (!axes || axes.length === 0) {
    if (c.attrInt('noop_with_empty_axes', 0)) return null;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return [...new Set(axes.map((a) => c.norm(a, rank)))].sort((a, b) => a - b);
}

function reduce(kind: string, axesFrom: number): Lower {
  return (c) => {
    let x = c.in(0);
    const axes = reduceAxes(c, x.ndim, axesFrom);
    const keep = c.attrInt('keepdims', 1) === 1;
    if (axes === null) {
      c.out(kind === 'l1' ? x.abs() : kind === 'sumsq' || kind === 'l2' ? (kind === 'l2' ? x.abs() : x.square()) : kind === 'logsum' ? x.ln() : x);
      return;
    }
    if (x.ndim === 0) {
      x = x.reshape([1]);
      c.out(reduceWith(kind, x, [0], false));
      return;
    }
    if (axes.some((a) => x.shape[a] === 0)) {
      // empty reductions: ONNX gives the identity element
      const sh = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const outSh = keep ? sh : x.shape.filter((_, i) => !axes.includes(i));
      const idv: Record<string, number> = { sum: 0, mean: NaN, l1: 0, l2: 0, sumsq: 0, prod: 1, max: -Infinity, min: Infinity, logsum: -Infinity, logsumexp: -Infinity };
      let v = idv[kind];
      if (!isFloat(x.dtype) && !Number.isFinite(v)) v = kind === 'max' ? minValue(x.dtype) : 2 ** 31 - 1;
      c.out(Tensor.full(outSh, v, x.dtype));
      return;
    }
    c.out(reduceWith(kind, x, axes, keep));
  };
}

function reduceWith(kind: string, x: Tensor, axes: number[], keep: boolean): Tensor {
  if (x.dtype === DType.BOOL && (kind === 'max' || kind === 'min')) return reduceWith(kind, x.toDtype(DType.U8), axes, keep).toDtype(DType.BOOL);
  switch (kind) {
    case 'sum': return x.sum(axes, keep);
    case 'mean': return x.mean(axes, keep);
    case 'max': return x.max(axes, keep);
    case 'min': return x.min(axes, keep);
    case 'prod': return x.prod(axes, keep);
    case 'l1': return x.abs().sum(axes, keep);
    case 'l2': return isFloat(x.dtype) ? x.norm(axes, keep) : x.square().sum(axes, keep).toDtype(DType.F64).sqrt().toDtype(x.dtype);
    case 'sumsq': return x.square().sum(axes, keep);
    case 'logsum': return x.sum(axes, keep).ln();
    case 'logsumexp': {
      const m = x.max(axes, true);
      const mm = Tensor.where(m.abs().lt(Infinity), m, 0);
      const r = x.sub(mm).exp().sum(axes, true).ln().add(mm);
      return keep ? r : r.squeeze(axes);
    }
  }
  throw new HoduError(ErrorCode.INTERNAL, `reduce ${kind}`);
}

function unary(f: (x: Tensor, c: Ctx) => Tensor): Lower {
  return (c) => c.out(f(c.in(0), c));
}

function binary(f: (a: Tensor, b: Tensor) => Tensor): Lower {
  return (c) => c.out(f(c.in(0), c.in(1)));
}

function variadic(f: (a: Tensor, b: Tensor) => Tensor, post?: (t: Tensor, n: number) => Tensor): Lower {
  return (c) => {
    let r = c.in(0);
    let n = 1;
    for (let i = 1; i < c.n.inputs.length; i++) if (c.has(i)) { r = f(r, c.in(i)); n++; }
    if (n === 1) r = r.reshape(r.shape.slice());
    c.out(post ? post(r, n) : r);
  };
}

function softmaxLike(log: boolean): Lower {
  return (c) => {
    const x = c.in(0);
    if (x.ndim === 0) c.fail('scalar input');
    if (c.opset >= 13) {
      const ax = c.norm(c.attrInt('axis', -1), x.ndim);
      c.out(log ? x.logSoftmax(ax) : x.softmax(ax));
      return;
    }
    const ax = c.norm(c.attrInt('axis', 1), x.ndim);
    const flat = x.reshape([prod(x.shape.slice(0, ax)), prod(x.shape.slice(ax))]);
    const r = log ? flat.logSoftmax(1) : flat.softmax(1);
    c.out(r.reshape(x.shape.slice()));
  };
}

function hardmax(c: Ctx): void {
  const x = c.in(0);
  const ax = c.norm(c.attrInt('axis', c.opset >= 13 ? -1 : 1), x.ndim);
  let y = x;
  let shape = x.shape.slice();
  let axis = ax;
  if (c.opset < 13) {
    y = x.reshape([prod(x.shape.slice(0, ax)), prod(x.shape.slice(ax))]);
    axis = 1;
  }
  const idx = y.argmax(axis, true);
  const n = y.shape[axis];
  const iota = Tensor._fromValues(Array.from({ length: n }, (_, i) => i), [n], DType.I64);
  const sh = y.shape.map(() => 1);
  sh[axis] = n;
  const r = iota.reshape(sh).eq(idx).toDtype(x.dtype);
  c.out(r.reshape(shape));
  shape = [];
}

function toDtypeOf(code: number, c: Ctx): DType {
  const d = dtypeOfOnnx(code);
  if (d === null) c.fail(`element type ${code} is not supported by hodu`);
  return d;
}

function gatherLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.norm(c.attrInt('axis', 0), x.ndim);
  const n = x.shape[axis];
  const k = c.known(1);
  let idxShape: number[];
  let flat: Tensor;
  if (k) {
    idxShape = k.shape.slice();
    const vals = k.vals().map((v) => {
      if (v < -n || v >= n) c.fail(`index ${v} is out of range for axis ${axis} of size ${n}`);
      return v < 0 ? v + n : v;
    });
    flat = Tensor._fromValues(vals, [vals.length], DType.I64);
  } else {
    const it = c.in(1);
    idxShape = it.shape.slice();
    let f = it.reshape([prod(idxShape)]);
    if (f.dtype !== DType.I64 && f.dtype !== DType.I32) f = f.toDtype(DType.I64);
    f = Tensor.where(f.lt(0), f.add(n), f);
    flat = f;
  }
  const r = x.indexSelect(axis, flat);
  c.out(r.reshape([...x.shape.slice(0, axis), ...idxShape, ...x.shape.slice(axis + 1)]));
}

function sliceLower(c: Ctx): void {
  const x = c.in(0);
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (c.opset >= 10) {
    starts = c.ints(1, 'starts');
    ends = c.ints(2, 'ends');
    axes = c.has(3) ? c.ints(3, 'axes') : undefined;
    steps = c.has(4) ? c.ints(4, 'steps') : undefined;
  } else {
    starts = c.attrInts('starts') ?? [];
    ends = c.attrInts('ends') ?? [];
    axes = c.attrInts('axes');
  }
  if (!axes || axes.length === 0) axes = starts.map((_, i) => i);
  let t = x;
  for (let i = 0; i < axes.length; i++) {
    const d = c.norm(axes[i], x.ndim);
    const n = x.shape[d];
    const st = steps ? steps[i] : 1;
    if (st === 0) c.fail('step 0');
    let s = starts[i];
    let e = ends[i];
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (st > 0) {
      s = Math.min(Math.max(s, 0), n);
      e = Math.min(Math.max(e, 0), n);
      if (e < s) e = s;
      if (!(s === 0 && e === n && st === 1)) t = t.slice(d, s, e, st);
    } else {
      s = Math.min(Math.max(s, -1), n - 1);
      e = Math.min(Math.max(e, -1), n - 1);
      const idx: number[] = [];
      for (let j = s; j > e; j += st) idx.push(j);
      t = t.indexSelect(d, Tensor._fromValues(idx, [idx.length], DType.I64));
    }
  }
  c.out(t === x ? x.reshape(x.shape.slice()) : t);
}

function reshapeLower(c: Ctx): void {
  const x = c.in(0);
  let shape: number[];
  if (c.opset >= 5) shape = c.ints(1, 'shape').slice();
  else shape = (c.attrInts('shape') ?? []).slice();
  const allowzero = c.attrInt('allowzero', 0);
  for (let i = 0; i < shape.length; i++) if (shape[i] === 0 && !allowzero) shape[i] = x.shape[i];
  c.out(x.reshape(shape));
}

function unsqueezeLower(c: Ctx): void {
  const x = c.in(0);
  const axes = c.opset >= 13 ? c.ints(1, 'axes') : c.attrInts('axes') ?? [];
  const r = x.ndim + axes.length;
  const norm = axes.map((a) => c.norm(a, r)).sort((a, b) => a - b);
  const sh = x.shape.slice();
  for (const a of norm) sh.splice(a, 0, 1);
  c.out(x.reshape(sh));
}

function squeezeLower(c: Ctx): void {
  const x = c.in(0);
  const axes = c.opset >= 13 ? (c.has(1) ? c.ints(1, 'axes') : undefined) : c.attrInts('axes');
  let drop: number[];
  if (!axes || axes.length === 0) drop = x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
  else drop = axes.map((a) => c.norm(a, x.ndim));
  for (const d of drop) if (x.shape[d] !== 1) c.fail(`cannot squeeze axis ${d} of size ${x.shape[d]}`);
  c.out(x.reshape(x.shape.filter((_, i) => !drop.includes(i))));
}

function expandLower(c: Ctx): void {
  const x = c.in(0);
  const shape = c.ints(1, 'shape');
  const n = Math.max(shape.length, x.ndim);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = x.shape[x.ndim - n + i] ?? 1;
    const b = shape[shape.length - n + i] ?? 1;
    if (a !== b && a !== 1 && b !== 1) c.fail(`cannot expand [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
    out.push(a === 1 ? b : a);
  }
  const y = x.ndim < n ? x.reshape([...new Array(n - x.ndim).fill(1), ...x.shape]) : x;
  c.out(y.broadcastTo(out));
}

function tileLower(c: Ctx): void {
  const x = c.in(0);
  const reps = c.ints(1, 'repeats');
  if (reps.length !== x.ndim) c.fail(`repeats has ${reps.length} values for rank ${x.ndim}`);
  // [d0..] -> [1,d0,1,d1..] broadcast to [r0,d0,r1,d1..] -> reshape [r0*d0, ...]
  const sh: number[] = [];
  const target: number[] = [];
  for (let i = 0; i < x.ndim; i++) {
    sh.push(1, x.shape[i]);
    target.push(reps[i], x.shape[i]);
  }
  c.out(x.reshape(sh).broadcastTo(target).reshape(x.shape.map((d, i) => d * reps[i])));
}

function splitLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.norm(c.attrInt('axis', 0), x.ndim);
  const n = x.shape[axis];
  let sizes: number[] | undefined;
  if (c.opset >= 13) sizes = c.has(1) ? c.ints(1, 'split') : undefined;
  else sizes = c.attrInts('split');
  const outs = c.n.outputs.length;
  if (!sizes || sizes.length === 0) {
    const num = c.attrInt('num_outputs', outs);
    const each = Math.ceil(n / num);
    sizes = [];
    for (let i = 0, left = n; i < num; i++, left -= each) sizes.push(Math.max(Math.min(each, left), 0));
  }
  let at = 0;
  sizes.forEach((s, i) => {
    c.out(x.slice(axis, at, at + s), i);
    at += s;
  });
}

function concatLower(c: Ctx): void {
  const ts: Tensor[] = [];
  for (let i = 0; i < c.n.inputs.length; i++) if (c.has(i)) ts.push(c.in(i));
  const axis = c.norm(c.attrInt('axis', 0), ts[0].ndim);
  const nonEmpty = ts.filter((t) => t.shape[axis] !== 0);
  c.out(nonEmpty.length === 0 ? ts[0].reshape(ts[0].shape.slice()) : nonEmpty.length === 1 ? nonEmpty[0].reshape(nonEmpty[0].shape.slice()) : Tensor.concat(nonEmpty, axis));
}

function transposeLower(c: Ctx): void {
  const x = c.in(0);
  const perm = c.attrInts('perm');
  c.out(x.permute(perm && perm.length ? perm.map((p) => c.norm(p, x.ndim)) : x.shape.map((_, i) => x.ndim - 1 - i)));
}

function flattenLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.attrInt('axis', 1);
  const a = axis < 0 ? axis + x.ndim : axis;
  if (a < 0 || a > x.ndim) c.fail(`axis ${axis} out of range`);
  c.out(x.reshape([prod(x.shape.slice(0, a)), prod(x.shape.slice(a))]));
}

function clipLower(c: Ctx): void {
  const x = c.in(0);
  let lo: number | Tensor = -Infinity;
  let hi: number | Tensor = Infinity;
  if (c.opset < 11) {
    lo = c.attrFloat('min', -Infinity);
    hi = c.attrFloat('max', Infinity);
  } else {
    if (c.has(1)) lo = c.known(1) ? c.known(1)!.vals()[0] : c.in(1);
    if (c.has(2)) hi = c.known(2) ? c.known(2)!.vals()[0] : c.in(2);
  }
  let y = x;
  if (typeof lo === 'number' && typeof hi === 'number') {
    if (!isFloat(x.dtype)) {
      if (lo !== -Infinity) y = y.maximum(Tensor.full([], lo, x.dtype));
      if (hi !== Infinity) y = y.minimum(Tensor.full([], hi, x.dtype));
      c.out(y === x ? x.reshape(x.shape.slice()) : y);
      return;
    }
    // ONNX: NaN stays NaN; max/min composition keeps it for hodu's maximum (propagating)
    c.out(x.clamp(lo, hi));
    return;
  }
  if (lo instanceof Tensor || typeof lo === 'number') if (lo !== -Infinity) y = y.maximum(lo instanceof Tensor ? lo : Tensor.full([], lo, x.dtype));
  if (hi !== Infinity) y = y.minimum(hi instanceof Tensor ? hi : Tensor.full([], hi as number, x.dtype));
  c.out(y);
}

function castLower(c: Ctx): void {
  const x = c.in(0);
  const to = toDtypeOf(c.attrInt('to', 0), c);
  c.out(x.dtype === to ? x.reshape(x.shape.slice()) : x.toDtype(to));
}

function gemmLower(c: Ctx): void {
  let a = c.in(0);
  let b = c.in(1);
  if (c.attrInt('transA', 0)) a = a.t();
  if (c.attrInt('transB', 0)) b = b.t();
  let y = a.matmul(b);
  const alpha = c.attrFloat('alpha', 1);
  const beta = c.attrFloat('beta', 1);
  if (alpha !== 1) y = y.mul(alpha);
  if (c.has(2)) {
    let cc = c.in(2);
    if (beta !== 1) cc = cc.mul(beta);
    y = y.add(cc);
  }
  c.out(y);
}

function convLower(c: Ctx): void {
  const x0 = c.in(0);
  const w0 = c.in(1);
  const { x, undo, sp } = as2d(x0, c);
  const w = sp === 1 ? w0.unsqueeze(2) : w0;
  const nsp = x0.ndim - 2;
  const k = (c.attrInts('kernel_shape') ?? w0.shape.slice(2)).slice();
  const s = c.attrInts('strides') ?? new Array(nsp).fill(1);
  const d = c.attrInts('dilations') ?? new Array(nsp).fill(1);
  const group = c.attrInt('group', 1);
  const { b, e } = spatialPads(c, x0.shape.slice(2), k, s, d);
  const P = (arr: number[], def: number) => (sp === 1 ? [def, arr[0]] : arr);
  const pb = P(b, 0), pe = P(e, 0), ss = P(s, 1), dd = P(d, 1);
  let xin = x;
  let ph = pb[0], pw = pb[1];
  if (pb[0] !== pe[0] || pb[1] !== pe[1]) {
    xin = padConst(x, [0, 0, pb[0], pb[1]], [0, 0, pe[0], pe[1]], 0);
    ph = 0;
    pw = 0;
  }
  const bias = c.has(2) ? c.in(2) : null;
  const y = xin.conv2d(w, bias, { stride: [ss[0], ss[1]], padding: [ph, pw], dilation: [dd[0], dd[1]], groups: group });
  c.out(undo(y));
}

function convTransposeLower(c: Ctx): void {
  const x0 = c.in(0);
  const w0 = c.in(1);
  const { x, undo, sp } = as2d(x0, c);
  const w = sp === 1 ? w0.unsqueeze(2) : w0;
  const nsp = x0.ndim - 2;
  const k = (c.attrInts('kernel_shape') ?? w0.shape.slice(2)).slice();
  const s = c.attrInts('strides') ?? new Array(nsp).fill(1);
  const d = c.attrInts('dilations') ?? new Array(nsp).fill(1);
  const group = c.attrInt('group', 1);
  const op = c.attrInts('output_padding') ?? new Array(nsp).fill(0);
  const inSp = x0.shape.slice(2);
  let pads = c.attrInts('pads') ?? new Array(2 * nsp).fill(0);
  const outShapeAttr = c.attrInts('output_shape');
  const auto = c.attrString('auto_pad', 'NOTSET');
  const full = inSp.map((n, i) => s[i] * (n - 1) + op[i] + ((k[i] - 1) * d[i] + 1));
  if ((outShapeAttr && outShapeAttr.length) || auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    const target = outShapeAttr && outShapeAttr.length ? outShapeAttr.slice(-nsp) : inSp.map((n, i) => n * s[i]);
    pads = new Array(2 * nsp).fill(0);
    for (let i = 0; i < nsp; i++) {
      const total = full[i] - target[i];
      const upper = auto === 'SAME_UPPER';
      if (upper) { pads[i] = Math.floor(total / 2); pads[nsp + i] = total - Math.floor(total / 2); }
      else { pads[nsp + i] = Math.floor(total / 2); pads[i] = total - Math.floor(total / 2); }
    }
  }
  // full transposed conv (no padding) via conv2d_grad_input, then crop pads
  const P = (arr: number[], def: number) => (sp === 1 ? [def, arr[0]] : arr);
  const ss = P(s, 1), dd = P(d, 1), kk = P(k, 1), oo = P(op, 0);
  const ih = x.shape[2], iw = x.shape[3];
  const outH = ss[0] * (ih - 1) + oo[0] + (kk[0] - 1) * dd[0] + 1;
  const outW = ss[1] * (iw - 1) + oo[1] + (kk[1] - 1) * dd[1] + 1;
  // conv2d_grad_input(grad=x, weight) computes d(conv(in, w))/d(in) at in of [outH, outW]
  let y = Tensor._op('conv2d_grad_input', [x, w], [ss[0], ss[1], 0, 0, dd[0], dd[1], group, outH, outW]);
  const pb = P(pads.slice(0, nsp), 0), pe = P(pads.slice(nsp), 0);
  y = padConst(y, [0, 0, -pb[0], -pb[1]], [0, 0, -pe[0], -pe[1]], 0);
  if (c.has(2)) y = y.add(c.in(2).reshape([-1, 1, 1]));
  c.out(undo(y));
}

function poolLower(kind: 'max' | 'avg'): Lower {
  return (c) => {
    const x0 = c.in(0);
    const dil = c.attrInts('dilations');
    if ((x0.ndim === 5 || (dil && dil.some((v) => v !== 1))) && !(c.n.outputs.length > 1 && c.n.outputs[1])) return poolSeparable(c, kind);
    if (c.n.outputs.length > 1 && c.n.outputs[1]) c.fail('the Indices output is not supported');
    const { x, undo, sp } = as2d(x0, c);
    const nsp = x0.ndim - 2;
    const k = c.attrInts('kernel_shape') as number[];
    if (!k || k.length !== nsp) c.fail('kernel_shape is required');
    const s = c.attrInts('strides') ?? new Array(nsp).fill(1);
    const d = c.attrInts('dilations') ?? new Array(nsp).fill(1);
    if (d.some((v) => v !== 1)) c.fail('dilations other than 1 are not supported');
    const ceil = c.attrInt('ceil_mode', 0);
    const inSp = x0.shape.slice(2);
    const { b, e } = spatialPads(c, inSp, k, s, d);
    const P = (arr: number[], def: number) => (sp === 1 ? [def, arr[0]] : arr);
    const kk = P(k, 1), ss = P(s, 1), pb = P(b, 0), pe = P(e, 0).slice();
    const H = [x.shape[2], x.shape[3]];
    const outSz = [0, 1].map((i) => {
      const span = H[i] + pb[i] + pe[i] - kk[i];
      let o = (ceil ? Math.ceil(span / ss[i]) : Math.floor(span / ss[i])) + 1;
      if (ceil && (o - 1) * ss[i] >= H[i] + pb[i]) o--;
      return o;
    });
    const extra = [0, 1].map((i) => Math.max((outSz[i] - 1) * ss[i] + kk[i] - (H[i] + pb[i] + pe[i]), 0));
    const padVal = kind === 'max' ? minValue(x.dtype) : 0;
    const needPad = pb.some((v, i) => v !== 0 || pe[i] !== 0 || extra[i] !== 0);
    const xp = needPad ? padConst(x, [0, 0, pb[0], pb[1]], [0, 0, pe[0] + extra[0], pe[1] + extra[1]], padVal) : x;
    const opts = { kernel: [kk[0], kk[1]] as [number, number], stride: [ss[0], ss[1]] as [number, number], padding: 0 };
    if (kind === 'max') {
      if (!isFloat(xp.dtype)) {
        if (xp.dtype !== DType.U8 && xp.dtype !== DType.I8) c.fail(`max pooling of ${xp.dtype}`);
        c.out(undo(xp.toDtype(DType.F32).maxPool2d(opts).toDtype(xp.dtype)));
        return;
      }
      c.out(undo(xp.maxPool2d(opts)));
      return;
    }
    let y = xp.avgPool2d(opts);
    if (needPad) {
      const include = c.attrInt('count_include_pad', 0) === 1;
      // divisor map: cells of each window inside the counted extent
      const counts: number[] = [];
      const lo = [0, 1].map((i) => (include ? -pb[i] : 0));
      const hi = [0, 1].map((i) => (include ? H[i] + pe[i] : H[i]));
      for (let oh = 0; oh < outSz[0]; oh++)
        for (let ow = 0; ow < outSz[1]; ow++) {
          const h0 = oh * ss[0] - pb[0], w0 = ow * ss[1] - pb[1];
          const ch = Math.max(Math.min(h0 + kk[0], hi[0]) - Math.max(h0, lo[0]), 0);
          const cw = Math.max(Math.min(w0 + kk[1], hi[1]) - Math.max(w0, lo[1]), 0);
          counts.push((kk[0] * kk[1]) / (ch * cw));
        }
      y = y.mul(Tensor._fromValues(counts, [outSz[0], outSz[1]], x.dtype));
    }
    c.out(undo(y));
  };
}

function globalPool(kind: 'avg' | 'max'): Lower {
  return (c) => {
    const x = c.in(0);
    const axes = x.shape.slice(2).map((_, i) => i + 2);
    c.out(kind === 'avg' ? x.mean(axes, true) : x.max(axes, true));
  };
}

function batchNormLower(c: Ctx): void {
  const x = c.in(0);
  const eps = c.attrFloat('epsilon', 1e-5);
  const C = x.shape[1];
  const bshape = [C, ...new Array(Math.max(x.ndim - 2, 0)).fill(1)];
  if (c.attrInt('training_mode', 0) || (c.n.outputs.length > 1 && c.n.outputs.slice(1).some((o) => o))) {
    // training: batch statistics; running stats updated with momentum
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const mean = x.mean(axes, true);
    const v = x.sub(mean).square().mean(axes, true);
    const y = x.sub(mean).div(v.add(eps).sqrt()).mul(c.in(1).reshape(bshape)).add(c.in(2).reshape(bshape));
    const mom = c.attrFloat('momentum', 0.9);
    c.out(y, 0);
    if (c.n.outputs[1]) c.out(c.in(3).mul(mom).add(mean.reshape([C]).mul(1 - mom)), 1);
    if (c.n.outputs[2]) c.out(c.in(4).mul(mom).add(v.reshape([C]).mul(1 - mom)), 2);
    return;
  }
  const ks = [1, 2, 3, 4].map((i) => c.known(i));
  if (ks.every((k) => k) && isFloat(x.dtype)) {
    const [sc, bi, mu, va] = ks.map((k) => k!.vals());
    const a = sc.map((s, i) => s / Math.sqrt(va[i] + eps));
    const bb = bi.map((b, i) => b - mu[i] * a[i]);
    c.out(x.mul(Tensor._fromValues(a, bshape, x.dtype)).add(Tensor._fromValues(bb, bshape, x.dtype)));
    return;
  }
  const [sc, bi, mu, va] = [1, 2, 3, 4].map((i) => c.in(i).reshape(bshape));
  c.out(x.sub(mu).div(va.add(eps).sqrt()).mul(sc).add(bi));
}

function layerNormLower(c: Ctx): void {
  const x = c.in(0);
  if (c.n.outputs.length > 1 && c.n.outputs.slice(1).some((o) => o)) {
    // Mean / InvStdDev outputs
  }
  const axis = c.norm(c.attrInt('axis', -1), x.ndim);
  const eps = c.attrFloat('epsilon', 1e-5);
  const axes = Array.from({ length: x.ndim - axis }, (_, i) => axis + i);
  const tail = x.shape.slice(axis);
  const fits = (i: number) => !c.has(i) || c.meta(i).shape.every((d, k, sh) => d === tail[tail.length - sh.length + k]);
  const extra = c.n.outputs.slice(1).some((o) => o);
  if (!extra && isFloat(x.dtype) && fits(1) && fits(2) && eps >= 0 && typeof (x as unknown as { layerNorm?: unknown }).layerNorm === 'function') {
    // one layer_norm op (oneDNN layer normalization on HODU); scale and bias broadcast to the tail
    const affine = (i: number) => (c.has(i) ? c.in(i).toDtype(x.dtype).broadcastTo(tail).contiguous() : null);
    c.out(x.layerNorm(tail, affine(1), affine(2), eps));
    return;
  }
  const mean = x.mean(axes, true);
  const xc = x.sub(mean);
  const inv = xc.square().mean(axes, true).add(eps).sqrt().recip();
  let y = xc.mul(inv);
  if (c.has(1)) y = y.mul(c.in(1));
  if (c.has(2)) y = y.add(c.in(2));
  c.out(y);
  if (c.n.outputs[1]) c.out(mean, 1);
  if (c.n.outputs[2]) c.out(inv, 2);
}

function instanceNormLower(c: Ctx): void {
  const x = c.in(0);
  const eps = c.attrFloat('epsilon', 1e-5);
  const axes = x.shape.slice(2).map((_, i) => i + 2);
  const bshape = [x.shape[1], ...new Array(x.ndim - 2).fill(1)];
  const mean = x.mean(axes, true);
  const xc = x.sub(mean);
  const y = xc.div(xc.square().mean(axes, true).add(eps).sqrt());
  c.out(y.mul(c.in(1).reshape(bshape)).add(c.in(2).reshape(bshape)));
}

function whereLower(c: Ctx): void {
  c.out(Tensor.where(c.in(0), c.in(1), c.in(2)));
}

function padLower(c: Ctx): void {
  const x = c.in(0);
  const mode = c.attrString('mode', 'constant');
  let pads: number[];
  let value = 0;
  let axes: number[] | undefined;
  if (c.opset >= 11) {
    pads = c.ints(1, 'pads');
    if (c.has(2)) value = c.ints(2, 'constant_value')[0] ?? 0;
    if (c.has(3)) axes = c.ints(3, 'axes').map((a) => c.norm(a, x.ndim));
  } else {
    pads = c.attrInts('pads') ?? [];
    value = c.attrFloat('value', 0);
  }
  axes = axes ?? x.shape.map((_, i) => i);
  const b = new Array(x.ndim).fill(0), e = new Array(x.ndim).fill(0);
  if (pads.length !== 2 * axes.length) c.fail(`pads has ${pads.length} values for ${axes.length} axes`);
  axes.forEach((a, i) => {
    b[a] = pads[i];
    e[a] = pads[axes!.length + i];
  });
  if (mode === 'constant') c.out(padConst(x, b, e, value));
  else if (mode === 'edge' || mode === 'reflect' || mode === 'wrap') {
    // negative pads crop first
    const x2 = padConst(x, b.map((v) => Math.min(v, 0)), e.map((v) => Math.min(v, 0)), 0);
    c.out(padIndexed(x2, b.map((v) => Math.max(v, 0)), e.map((v) => Math.max(v, 0)), mode, c));
  } else c.fail(`mode '${mode}' is not supported`);
}

function rangeLower(c: Ctx): void {
  const [s] = c.ints(0, 'start'), [l] = c.ints(1, 'limit'), [d] = c.ints(2, 'delta');
  if (d === 0) c.fail('delta is 0');
  const n = Math.max(Math.ceil((l - s) / d), 0);
  const dt = c.meta(0).dtype;
  c.out(Tensor._fromValues(Array.from({ length: n }, (_, i) => s + i * d), [n], dt));
}

function constantOfShapeLower(c: Ctx): void {
  const shape = c.ints(0, 'shape');
  const a = c.attr('value');
  let dt = DType.F32;
  let v = 0;
  if (a && a.t) {
    const d = tensorData(a.t, {}, 'ConstantOfShape value');
    dt = d.dtype;
    v = numericValues(d)[0] ?? 0;
  }
  c.out(Tensor.full(shape, v, dt));
}

function depthToSpace(c: Ctx): void {
  const x = c.in(0);
  const bs = c.attrInt('blocksize', 1);
  const [N, C, H, W] = x.shape;
  const mode = c.attrString('mode', 'DCR');
  let t: Tensor;
  if (mode === 'DCR') t = x.reshape([N, bs, bs, C / (bs * bs), H, W]).permute([0, 3, 4, 1, 5, 2]);
  else t = x.reshape([N, C / (bs * bs), bs, bs, H, W]).permute([0, 1, 4, 2, 5, 3]);
  c.out(t.reshape([N, C / (bs * bs), H * bs, W * bs]));
}

function spaceToDepth(c: Ctx): void {
  const x = c.in(0);
  const bs = c.attrInt('blocksize', 1);
  const [N, C, H, W] = x.shape;
  const t = x.reshape([N, C, H / bs, bs, W / bs, bs]).permute([0, 3, 5, 1, 2, 4]);
  c.out(t.reshape([N, C * bs * bs, H / bs, W / bs]));
}

function gatherElementsLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.norm(c.attrInt('axis', 0), x.ndim);
  let idx = c.in(1);
  if (idx.dtype !== DType.I64) idx = idx.toDtype(DType.I64);
  idx = Tensor.where(idx.lt(0), idx.add(x.shape[axis]), idx);
  c.out(x.gather(axis, idx));
}

function resizeLower(c: Ctx): void {
  const x = c.in(0);
  const mode = c.attrString('mode', 'nearest');
  const ctm = c.attrString('coordinate_transformation_mode', c.opset >= 11 ? 'half_pixel' : 'asymmetric');
  const nearestMode = c.n.opType === 'Upsample' || c.opset < 11 ? 'floor' : c.attrString('nearest_mode', 'round_prefer_floor');
  if (c.attrInt('antialias', 0)) c.fail('antialias is not supported');
  if (ctm === 'tf_crop_and_resize') c.fail('tf_crop_and_resize is not supported');
  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  if (c.opset >= 11) {
    if (c.has(2) && c.meta(2).shape[0] > 0) scales = c.ints(2, 'scales');
    if (c.has(3)) sizes = c.ints(3, 'sizes');
  } else if (c.opset >= 9) scales = c.ints(1, 'scales');
  else scales = c.attr('scales')?.floats;
  const axesAttr = c.attrInts('axes');
  const axes = axesAttr && axesAttr.length ? axesAttr.map((a) => c.norm(a, x.ndim)) : x.shape.map((_, i) => i);
  const policy = c.attrString('keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch' && sizes) {
    const ratios = axes.map((a, i) => sizes![i] / x.shape[a]);
    const sc = policy === 'not_larger' ? Math.min(...ratios) : policy === 'not_smaller' ? Math.max(...ratios) : c.fail(`keep_aspect_ratio_policy '${policy}'`);
    scales = axes.map(() => sc);
    sizes = axes.map((a) => Math.floor(sc * x.shape[a] + 0.5));
  }
  let t = x;
  axes.forEach((ax, i) => {
    const n = x.shape[ax];
    const sc = scales ? scales[i] : sizes![i] / n;
    const out = sizes ? sizes[i] : Math.floor(n * sc);
    if (out === n && sc === 1) return;
    const src = (o: number): number => {
      switch (ctm) {
        case 'half_pixel': return (o + 0.5) / sc - 0.5;
        case 'pytorch_half_pixel': return out > 1 ? (o + 0.5) / sc - 0.5 : 0;
        case 'align_corners': {
          const len = sizes ? out : n * sc;
          return len === 1 ? 0 : (o * (n - 1)) / (len - 1);
        }
        case 'asymmetric': return o / sc;
        case 'half_pixel_symmetric': {
          const adj = out / (sc * n);
          const center = n / 2;
          const off = center * (1 - adj);
          return off + (o + 0.5) / sc - 0.5;
        }
        default: c.fail(`coordinate_transformation_mode '${ctm}' is not supported`);
      }
    };
    if (mode === 'nearest') {
      const idx: number[] = [];
      for (let o = 0; o < out; o++) {
        const s = src(o);
        let j: number;
        switch (nearestMode) {
          case 'floor': j = Math.floor(s); break;
          case 'ceil': j = Math.ceil(s); break;
          case 'round_prefer_ceil': j = Math.round(s); break;
          default: j = Number.isInteger(s - 0.5) ? s - 0.5 : Math.round(s);
        }
        idx.push(Math.min(Math.max(j, 0), n - 1));
      }
      t = t.indexSelect(ax, Tensor._fromValues(idx, [out], DType.I64));
    } else if (mode === 'linear' || mode === 'cubic') {
      const A = c.attrFloat('cubic_coeff_a', -0.75);
      const excl = c.attrInt('exclude_outside', 0);
      const m = new Array(out * n).fill(0);
      for (let o = 0; o < out; o++) {
        let s = src(o);
        if (mode === 'linear') {
          s = Math.min(Math.max(s, 0), n - 1);
          const f = Math.floor(s);
          const fr = s - f;
          m[o * n + f] += 1 - fr;
          if (fr > 0) m[o * n + Math.min(f + 1, n - 1)] += fr;
        } else {
          const f = Math.floor(s);
          const fr = s - f;
          const ws: number[] = [];
          const js: number[] = [];
          for (let k = -1; k <= 2; k++) {
            const dist = Math.abs(k - fr);
            const w = dist <= 1 ? (A + 2) * dist ** 3 - (A + 3) * dist ** 2 + 1 : dist < 2 ? A * dist ** 3 - 5 * A * dist ** 2 + 8 * A * dist - 4 * A : 0;
            const j = f + k;
            if (excl && (j < 0 || j >= n)) continue;
            ws.push(w);
            js.push(Math.min(Math.max(j, 0), n - 1));
          }
          const tot = excl ? ws.reduce((a, b) => a + b, 0) : 1;
          ws.forEach((w, q) => (m[o * n + js[q]] += w / tot));
        }
      }
      // move ax last, matmul with M^T [n, out], move back
      const perm = t.shape.map((_, i) => i).filter((i) => i !== ax).concat([ax]);
      const inv = perm.map((_, i) => perm.indexOf(i));
      const M = Tensor._fromValues(m, [out, n], t.dtype).t();
      t = t.permute(perm).matmul(M).permute(inv);
    } else c.fail(`mode '${mode}' is not supported`);
  });
  c.out(t === x ? x.reshape(x.shape.slice()) : t);
}

function argReduce(kind: 'argmax' | 'argmin'): Lower {
  return (c) => {
    if (c.attrInt('select_last_index', 0)) return EXTRA_OPS[kind === 'argmax' ? 'ArgMaxLast' : 'ArgMinLast'](c);
    const x = c.in(0);
    const axis = c.norm(c.attrInt('axis', 0), x.ndim);
    const keep = c.attrInt('keepdims', 1) === 1;
    c.out(kind === 'argmax' ? x.argmax(axis, keep) : x.argmin(axis, keep));
  };
}

function eyeLike(c: Ctx): void {
  const m = c.meta(0);
  const k = c.attrInt('k', 0);
  const dt = c.attr('dtype') ? toDtypeOf(c.attrInt('dtype', 1), c) : m.dtype;
  const [r, cc] = m.shape;
  const v: number[] = [];
  for (let i = 0; i < r; i++) for (let j = 0; j < cc; j++) v.push(j - i === k ? 1 : 0);
  c.out(Tensor._fromValues(v, [r, cc], dt));
}

function triluLower(c: Ctx): void {
  const x = c.in(0);
  const upper = c.attrInt('upper', 1);
  const k = c.has(1) ? c.ints(1, 'k')[0] : 0;
  const [R, C] = x.shape.slice(-2);
  const mask: number[] = [];
  for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) mask.push(upper ? (j - i >= k ? 1 : 0) : j - i <= k ? 1 : 0);
  const m = Tensor._fromValues(mask, [R, C], DType.BOOL);
  c.out(Tensor.where(m, x, Tensor.full([], 0, x.dtype)));
}

function cumSumLower(c: Ctx): void {
  const x = c.in(0);
  const axis = c.norm(c.ints(1, 'axis')[0], x.ndim);
  const n = x.shape[axis];
  const excl = c.attrInt('exclusive', 0), rev = c.attrInt('reverse', 0);
  const m: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let on = rev ? j >= i : j <= i;
      if (excl && i === j) on = false;
      m.push(on ? 1 : 0);
    }
  if (!isFloat(x.dtype)) return EXTRA_OPS.CumSumInt(c);
  const M = Tensor._fromValues(m, [n, n], x.dtype).t();
  const perm = x.shape.map((_, i) => i).filter((i) => i !== axis).concat([axis]);
  const inv = perm.map((_, i) => perm.indexOf(i));
  c.out(x.permute(perm).matmul(M).permute(inv));
}

/**
 * erf: hodu's own op when this build has it, else a composition (Abramowitz & Stegun 7.1.26,
 * |error| <= 1.5e-7 on all reals): sign(x) (1 - t e^{-x^2} poly(t)), t = 1 / (1 + p |x|).
 */
function erfOrCompose(x: Tensor, c: Ctx): Tensor {
  const t = x as unknown as { erf?: () => Tensor };
  if (typeof t.erf === 'function') return t.erf!();
  if (!isFloat(x.dtype)) c.fail(`erf of ${x.dtype}`);
  const ax = x.abs();
  const tt = ax.mul(0.3275911).add(1).recip();
  let poly = tt.mul(1.061405429).add(-1.453152027);
  poly = poly.mul(tt).add(1.421413741);
  poly = poly.mul(tt).add(-0.284496736);
  poly = poly.mul(tt).add(0.254829592);
  poly = poly.mul(tt);
  const y = Tensor.full([], 1, x.dtype).sub(poly.mul(ax.square().neg().exp()));
  return y.mul(x.sign());
}

const f = (x: Tensor, v: number) => Tensor.full([], v, x.dtype);

export const OPS: Record<string, Lower> = {
  Identity: unary((x) => x.reshape(x.shape.slice())),
  Dropout: (c) => {
    if (c.has(2) && (!c.known(2) || c.known(2)!.vals()[0])) c.fail('training mode (random dropout) is not supported');
    const x = c.in(0);
    c.out(x.reshape(x.shape.slice()));
    if (c.n.outputs[1]) c.out(Tensor.full(x.shape.slice(), true, DType.BOOL), 1);
  },
  Add: binary((a, b) => a.add(b)),
  Sub: binary((a, b) => a.sub(b)),
  Mul: binary((a, b) => a.mul(b)),
  Div: binary((a, b) => a.div(b)),
  Pow: binary((a, b) => a.pow(b.dtype === a.dtype ? b : b.toDtype(a.dtype))),
  Max: variadic((a, b) => a.maximum(b)),
  Min: variadic((a, b) => a.minimum(b)),
  Sum: variadic((a, b) => a.add(b)),
  Mean: variadic((a, b) => a.add(b), (t, n) => (n > 1 ? t.div(n) : t)),
  Equal: binary((a, b) => a.eq(b)),
  Less: binary((a, b) => a.lt(b)),
  LessOrEqual: binary((a, b) => a.le(b)),
  Greater: binary((a, b) => a.gt(b)),
  GreaterOrEqual: binary((a, b) => a.ge(b)),
  And: binary((a, b) => a.logicalAnd(b)),
  Or: binary((a, b) => a.logicalOr(b)),
  Xor: binary((a, b) => a.logicalXor(b)),
  Not: unary((x) => x.logicalNot()),
  Where: whereLower,
  Neg: unary((x) => x.neg()),
  Abs: unary((x) => x.abs()),
  Sign: unary((x) => x.sign()),
  Relu: unary((x) => x.relu()),
  Sigmoid: unary((x) => x.sigmoid()),
  Tanh: unary((x) => x.tanh()),
  Exp: unary((x) => x.exp()),
  Log: unary((x) => x.ln()),
  Sqrt: unary((x) => x.sqrt()),
  Reciprocal: unary((x) => x.recip()),
  Sin: unary((x) => x.sin()),
  Cos: unary((x) => x.cos()),
  Tan: unary((x) => x.tan()),
  Sinh: unary((x) => x.exp().sub(x.neg().exp()).div(2)),
  Cosh: unary((x) => x.exp().add(x.neg().exp()).div(2)),
  Asinh: unary((x) => x.add(x.square().add(1).sqrt()).ln()),
  Acosh: unary((x) => x.add(x.square().sub(1).sqrt()).ln()),
  Atanh: unary((x) => x.add(1).div(f(x, 1).sub(x)).ln().div(2)),
  Softplus: unary((x) => x.softplus()),
  Softsign: unary((x) => x.div(x.abs().add(1))),
  Erf: unary((x, c) => erfOrCompose(x, c)),
  Gelu: unary((x, c) => {
    if (c.attrString('approximate', 'none') === 'tanh') return x.gelu();
    if (isFloat(x.dtype) && typeof (x as unknown as { geluErf?: unknown }).geluErf === 'function') return x.geluErf();
    return x.mul(0.5).mul(erfOrCompose(x.mul(Math.SQRT1_2), c).add(1));
  }),
  LeakyRelu: unary((x, c) => x.leakyRelu(c.attrFloat('alpha', 0.01))),
  Elu: unary((x, c) => x.elu(c.attrFloat('alpha', 1))),
  Celu: unary((x, c) => {
    const a = c.attrFloat('alpha', 1);
    return x.relu().add(x.div(a).exp().sub(1).mul(a).minimum(f(x, 0)));
  }),
  Selu: unary((x, c) => {
    const a = c.attrFloat('alpha', 1.67326319217681884765625), g = c.attrFloat('gamma', 1.05070102214813232421875);
    return Tensor.where(x.gt(0), x, x.exp().sub(1).mul(a)).mul(g);
  }),
  ThresholdedRelu: unary((x, c) => Tensor.where(x.gt(c.attrFloat('alpha', 1)), x, 0)),
  HardSigmoid: unary((x, c) => x.mul(c.attrFloat('alpha', 0.2)).add(c.attrFloat('beta', 0.5)).clamp(0, 1)),
  HardSwish: unary((x) => x.mul(x.div(6).add(0.5).clamp(0, 1))),
  Mish: unary((x) => x.mul(x.softplus().tanh())),
  PRelu: (c) => {
    const x = c.in(0);
    let s = c.in(1);
    if (s.ndim === 1 && x.ndim > 2 && s.shape[0] === x.shape[1] && s.shape[0] !== x.shape[x.ndim - 1]) s = s.reshape([s.shape[0], ...new Array(x.ndim - 2).fill(1)]);
    c.out(Tensor.where(x.lt(0), x.mul(s), x));
  },
  Clip: clipLower,
  Cast: castLower,
  CastLike: (c) => {
    const x = c.in(0);
    const to = c.meta(1).dtype;
    c.out(x.dtype === to ? x.reshape(x.shape.slice()) : x.toDtype(to));
  },
  MatMul: binary((a, b) => {
    if (a.ndim === 1 && b.ndim === 1) return a.reshape([1, -1]).matmul(b.reshape([-1, 1])).reshape([]);
    if (a.ndim === 1) return a.reshape([1, -1]).matmul(b).squeeze(-2);
    if (b.ndim === 1) return a.matmul(b.reshape([-1, 1])).squeeze(-1);
    return a.matmul(b);
  }),
  Gemm: gemmLower,
  ReduceSum: reduce('sum', 13),
  ReduceMean: reduce('mean', 18),
  ReduceMax: reduce('max', 18),
  ReduceMin: reduce('min', 18),
  ReduceProd: reduce('prod', 18),
  ReduceL1: reduce('l1', 18),
  ReduceL2: reduce('l2', 18),
  ReduceSumSquare: reduce('sumsq', 18),
  ReduceLogSum: reduce('logsum', 18),
  ReduceLogSumExp: reduce('logsumexp', 18),
  ArgMax: argReduce('argmax'),
  ArgMin: argReduce('argmin'),
  Softmax: softmaxLike(false),
  LogSoftmax: softmaxLike(true),
  Hardmax: hardmax,
  Conv: convLower,
  ConvTranspose: convTransposeLower,
  MaxPool: poolLower('max'),
  AveragePool: poolLower('avg'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
  BatchNormalization: batchNormLower,
  LayerNormalization: layerNormLower,
  InstanceNormalization: instanceNormLower,
  Reshape: reshapeLower,
  Flatten: flattenLower,
  Squeeze: squeezeLower,
  Unsqueeze: unsqueezeLower,
  Transpose: transposeLower,
  Concat: concatLower,
  Split: splitLower,
  Slice: sliceLower,
  Gather: gatherLower,
  GatherElements: gatherElementsLower,
  Expand: expandLower,
  Tile: tileLower,
  Pad: padLower,
  Range: rangeLower,
  ConstantOfShape: constantOfShapeLower,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
  Resize: resizeLower,
  Upsample: resizeLower,
  EyeLike: eyeLike,
  Trilu: triluLower,
  CumSum: cumSumLower,
  ...EXTRA_OPS,
};
