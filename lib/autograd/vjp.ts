// Vector-Jacobian products, one per differentiable op of the native op table (native/core/ops.def),
// keyed by op name. Each takes the op's inputs, attributes, output and the output's gradient and
// returns one gradient per input (undefined where there is none). They are written with tensor
// ops, so they run eagerly in dynamic mode and are recorded inside a Builder.
// Ops without an entry (compare, logical, argmax/argmin, ...) cut the gradient.
import { DType, dtypeFromCode, isFloat } from '../dtype';
import { hooks } from '../hooks';
import { Tensor } from '../tensor';

export interface VjpArgs {
  inputs: Tensor[];
  attrs: number[];
  out: Tensor;
  grad: Tensor;
  needs: boolean[];
}
type Vjp = (a: VjpArgs) => (Tensor | undefined)[];

/** Sums a broadcast gradient back to `shape` (numpy broadcasting, right-aligned). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  const s = dims.length ? g.sum(dims, true) : g;
  return s.reshape(shape.slice());
}

/** Broadcasts a reduced gradient (reduced over `dims`, keepdim or not) back to `shape`. */
function unreduce(g: Tensor, shape: readonly number[], dims: number[]): Tensor {
  const keep = shape.map((d, i) => (dims.includes(i) ? 1 : d));
  return g.reshape(keep).broadcastTo(shape.slice());
}

function reduceDims(attrs: number[], rank: number): number[] {
  return attrs.slice(1).map((d) => (d < 0 ? d + rank : d));
}

/**
 * The number of elements reduced over `dims`. Inside a builder, where a dim is symbolic (its size is
 * a placeholder, lib/symbolic.ts), the count is a scalar the graph computes (a sum of ones, folded at
 * compile time), so each specialization divides by its own size.
 */
function reducedCount(shape: readonly number[], dims: number[], dtype: DType): number | Tensor {
  const rec = hooks.recorder;
  const symbolic = rec && rec.symbolicDim ? dims.filter((d) => rec.symbolicDim!([shape[d]]) >= 0) : [];
  const fixed = dims.filter((d) => !symbolic.includes(d)).reduce((n, d) => n * shape[d], 1);
  let count: number | Tensor = fixed;
  for (const d of symbolic) {
    const n = Tensor.ones([shape[d]], dtype).sum();
    count = typeof count === 'number' ? n.mul(count) : count.mul(n);
  }
  return count;
}

const mask = (cond: Tensor, dtype: DType): Tensor => cond.toDtype(dtype);

const LN2 = Math.LN2;
const LN10 = Math.LN10;
const GELU_C = 0.7978845608028654;

export const VJP: Record<string, Vjp> = {
  cast: ({ inputs: [x], grad }) => [isFloat(x.dtype) ? grad.toDtype(x.dtype) : undefined],
  copy: ({ grad }) => [grad],
  reshape: ({ inputs: [x], grad }) => [grad.reshape(x.shape.slice())],
  permute: ({ attrs, grad }) => {
    const rank = attrs.length;
    const inv = new Array<number>(rank);
    attrs.forEach((p, i) => (inv[p < 0 ? p + rank : p] = i));
    return [grad.permute(inv)];
  },
  broadcast_to: ({ inputs: [x], grad }) => [sumToShape(grad, x.shape)],
  slice: ({ inputs: [x], attrs, grad }) => [Tensor._op('slice_scatter', [Tensor.zeros(x.shape, x.dtype), grad], attrs)],

  add: ({ inputs: [a, b], grad }) => [sumToShape(grad, a.shape), sumToShape(grad, b.shape)],
  sub: ({ inputs: [a, b], grad, needs }) => [sumToShape(grad, a.shape), needs[1] ? sumToShape(grad.neg(), b.shape) : undefined],
  mul: ({ inputs: [a, b], grad, needs }) => [
    needs[0] ? sumToShape(grad.mul(b), a.shape) : undefined,
    needs[1] ? sumToShape(grad.mul(a), b.shape) : undefined,
  ],
  div: ({ inputs: [a, b], grad, needs }) => [
    needs[0] ? sumToShape(grad.div(b), a.shape) : undefined,
    needs[1] ? sumToShape(grad.mul(a).div(b.square()).neg(), b.shape) : undefined,
  ],
  pow: ({ inputs: [a, b], out, grad, needs }) => [
    needs[0] ? sumToShape(grad.mul(b).mul(a.pow(b.sub(1))), a.shape) : undefined,
    needs[1] ? sumToShape(Tensor.where(a.gt(0), grad.mul(out).mul(a.ln()), 0), b.shape) : undefined,
  ],
  maximum: ({ inputs: [a, b], grad, needs }) => [
    needs[0] ? sumToShape(grad.mul(mask(a.ge(b), grad.dtype)), a.shape) : undefined,
    needs[1] ? sumToShape(grad.mul(mask(b.gt(a), grad.dtype)), b.shape) : undefined,
  ],
  minimum: ({ inputs: [a, b], grad, needs }) => [
    needs[0] ? sumToShape(grad.mul(mask(a.le(b), grad.dtype)), a.shape) : undefined,
    needs[1] ? sumToShape(grad.mul(mask(b.lt(a), grad.dtype)), b.shape) : undefined,
  ],

  neg: ({ grad }) => [grad.neg()],
  abs: ({ inputs: [x], grad }) => [grad.mul(x.sign())],
  sign: ({ grad }) => [Tensor.zerosLike(grad)],
  square: ({ inputs: [x], grad }) => [grad.mul(x).mul(2)],
  relu: ({ inputs: [x], grad }) => [grad.mul(mask(x.gt(0), grad.dtype))],
  clamp: ({ inputs: [x], attrs: [lo, hi], grad }) => [grad.mul(mask(x.ge(lo).logicalAnd(x.le(hi)), grad.dtype))],
  sqrt: ({ out, grad }) => [grad.mul(0.5).div(out)],
  recip: ({ out, grad }) => [grad.mul(out.square()).neg()],
  sigmoid: ({ out, grad }) => [grad.mul(out).mul(out.neg().add(1))],
  tanh: ({ out, grad }) => [grad.mul(out.square().neg().add(1))],
  gelu: ({ inputs: [x], grad }) => {
    const x2 = x.square();
    const t = x.add(x.mul(x2).mul(0.044715)).mul(GELU_C).tanh();
    const left = t.add(1).mul(0.5);
    const right = x.mul(0.5).mul(t.square().neg().add(1)).mul(x2.mul(3 * 0.044715).add(1).mul(GELU_C));
    return [grad.mul(left.add(right))];
  },
  softplus: ({ inputs: [x], grad }) => [grad.mul(x.sigmoid())],
  sin: ({ inputs: [x], grad }) => [grad.mul(x.cos())],
  cos: ({ inputs: [x], grad }) => [grad.mul(x.sin()).neg()],
  tan: ({ out, grad }) => [grad.mul(out.square().add(1))],
  exp: ({ out, grad }) => [grad.mul(out)],
  exp2: ({ out, grad }) => [grad.mul(out).mul(LN2)],
  exp10: ({ out, grad }) => [grad.mul(out).mul(LN10)],
  ln: ({ inputs: [x], grad }) => [grad.div(x)],
  log2: ({ inputs: [x], grad }) => [grad.div(x.mul(LN2))],
  log10: ({ inputs: [x], grad }) => [grad.div(x.mul(LN10))],
  leaky_relu: ({ inputs: [x], attrs: [slope], grad }) => [grad.mul(Tensor.where(x.gt(0), 1, slope).toDtype(grad.dtype))],
  elu: ({ inputs: [x], attrs: [alpha], out, grad }) => [grad.mul(Tensor.where(x.gt(0), Tensor.onesLike(out), out.add(alpha)))],
  erf: ({ inputs: [x], grad }) => [grad.mul(x.square().neg().exp().mul(2 / Math.sqrt(Math.PI)))],
  // d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density
  gelu_erf: ({ inputs: [x], grad }) => {
    const phi = x.mul(Math.SQRT1_2).erf().add(1).mul(0.5);
    const pdf = x.square().mul(-0.5).exp().mul(1 / Math.sqrt(2 * Math.PI));
    return [grad.mul(phi.add(x.mul(pdf)))];
  },
  silu: ({ inputs: [x], grad }) => {
    const s = x.sigmoid();
    return [grad.mul(s.mul(x.mul(s.neg().add(1)).add(1)))];
  },

  where: ({ inputs: [c, a, b], grad, needs }) => [
    undefined,
    needs[1] ? sumToShape(Tensor.where(c, grad, 0), a.shape) : undefined,
    needs[2] ? sumToShape(Tensor.where(c, 0, grad), b.shape) : undefined,
  ],

  matmul: ({ inputs: [a, b], grad, needs }) => {
    const a2 = a.ndim === 1 ? a.unsqueeze(0) : a;
    const b2 = b.ndim === 1 ? b.unsqueeze(1) : b;
    let g = grad;
    if (a.ndim === 1) g = g.unsqueeze(g.ndim - (b.ndim === 1 ? 0 : 1));
    if (b.ndim === 1) g = g.unsqueeze(g.ndim);
    return [
      needs[0] ? sumToShape(g.matmul(b2.transpose(-1, -2)), a2.shape).reshape(a.shape.slice()) : undefined,
      needs[1] ? sumToShape(a2.transpose(-1, -2).matmul(g), b2.shape).reshape(b.shape.slice()) : undefined,
    ];
  },

  sum: ({ inputs: [x], attrs, grad }) => [unreduce(grad, x.shape, reduceDims(attrs, x.ndim))],
  mean: ({ inputs: [x], attrs, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    return [unreduce(grad.div(reducedCount(x.shape, dims, grad.dtype)), x.shape, dims)];
  },
  max: ({ inputs: [x], attrs, out, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    return [unreduce(grad, x.shape, dims).mul(mask(x.eq(unreduce(out, x.shape, dims)), grad.dtype))];
  },
  min: ({ inputs: [x], attrs, out, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    return [unreduce(grad, x.shape, dims).mul(mask(x.eq(unreduce(out, x.shape, dims)), grad.dtype))];
  },
  prod: ({ inputs: [x], attrs, out, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    return [unreduce(grad.mul(out), x.shape, dims).div(x)];
  },
  var: ({ inputs: [x], attrs, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    const n = reducedCount(x.shape, dims, grad.dtype);
    const centered = x.sub(x.mean(dims, true));
    return [unreduce(grad, x.shape, dims).mul(centered).mul(typeof n === 'number' ? 2 / n : n.recip().mul(2))];
  },
  std: ({ inputs: [x], attrs, out, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    const n = reducedCount(x.shape, dims, grad.dtype);
    const centered = x.sub(x.mean(dims, true));
    return [unreduce(grad.div(out), x.shape, dims).mul(centered).div(n)];
  },
  norm: ({ inputs: [x], attrs, out, grad }) => {
    const dims = reduceDims(attrs, x.ndim);
    return [unreduce(grad.div(out), x.shape, dims).mul(x)];
  },

  concat: ({ inputs, attrs: [dim], grad }) => {
    const d = dim < 0 ? dim + grad.ndim : dim;
    let at = 0;
    return inputs.map((t) => {
      const piece = grad.narrow(d, at, t.shape[d]);
      at += t.shape[d];
      return piece;
    });
  },
  index_select: ({ inputs: [x, idx], attrs, grad }) => [
    Tensor._op('index_add', [Tensor.zeros(x.shape, grad.dtype), idx, grad], attrs),
    undefined,
  ],
  gather: ({ inputs: [x, idx], attrs, grad }) => [
    Tensor._op('scatter_add', [Tensor.zeros(x.shape, grad.dtype), idx, grad], attrs),
    undefined,
  ],
  scatter_add: ({ inputs: [, idx], attrs, grad, needs }) => [grad, undefined, needs[2] ? grad.gather(attrs[0], idx) : undefined],
  index_add: ({ inputs: [, idx], attrs, grad, needs }) => [grad, undefined, needs[2] ? grad.indexSelect(attrs[0], idx) : undefined],
  slice_scatter: ({ inputs: [, src], attrs, grad, needs }) => [
    Tensor._op('slice_scatter', [grad, Tensor.zeros(src.shape, grad.dtype)], attrs),
    needs[1] ? Tensor._op('slice', [grad], attrs) : undefined,
  ],

  softmax: ({ attrs: [dim], out, grad }) => [out.mul(grad.sub(grad.mul(out).sum(dim, true)))],
  log_softmax: ({ attrs: [dim], out, grad }) => [grad.sub(out.exp().mul(grad.sum(dim, true)))],

  conv2d: ({ inputs, attrs, grad, needs }) => {
    const [x, w] = inputs;
    return [
      needs[0] ? Tensor._op('conv2d_grad_input', [grad, w], [...attrs, x.shape[2], x.shape[3]]) : undefined,
      needs[1] ? Tensor._op('conv2d_grad_weight', [x, grad], [...attrs, w.shape[2], w.shape[3]]) : undefined,
      inputs.length > 2 && needs[2] ? grad.sum([0, 2, 3]) : undefined,
    ];
  },
  // y = x̂·w + b, x̂ = (x - μ)·r, r = 1/sqrt(var + eps), over dims [axis, rank):
  //   dx = r·(g·w - mean(g·w) - x̂·mean(g·w·x̂)), dw = Σ_rows g·x̂, db = Σ_rows g
  layer_norm: ({ inputs: [x, w], attrs: [axis, eps], grad, needs }) => {
    const dims = Array.from({ length: x.ndim - axis }, (_, i) => axis + i);
    const lead = Array.from({ length: axis }, (_, i) => i);
    const mu = x.mean(dims, true);
    const xc = x.sub(mu);
    const r = xc.square().mean(dims, true).add(eps).sqrt().recip();
    const xh = xc.mul(r);
    const gw = grad.mul(w);
    const rowSum = (t: Tensor) => (lead.length ? t.sum(lead) : t);
    return [
      needs[0] ? r.mul(gw.sub(gw.mean(dims, true)).sub(xh.mul(gw.mul(xh).mean(dims, true)))) : undefined,
      needs[1] ? rowSum(grad.mul(xh)) : undefined,
      needs[2] ? rowSum(grad) : undefined,
    ];
  },
  max_pool2d: ({ inputs: [x], attrs, grad }) => [Tensor._op('max_pool2d_grad', [x, grad], attrs)],
  avg_pool2d: ({ inputs: [x], attrs, grad }) => [Tensor._op('avg_pool2d_grad', [grad], [...attrs, x.shape[2], x.shape[3]])],
};

export { dtypeFromCode };
