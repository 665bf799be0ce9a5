// Float64 reference math for the op tests. Deliberately simple: every op is a direct loop over
// multi-indices, written from the definition, with no fast paths. Values are plain JS numbers
// (booleans are stored as 1 / 0). Nothing here touches hodu.

export type Nested = number | boolean | Nested[];

export function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Calls `f` with every multi-index of `shape`, in row-major order. */
export function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  if (shape.some((d) => d === 0)) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    f(idx.slice());
    let d = shape.length - 1;
    while (d >= 0) {
      idx[d]++;
      if (idx[d] < shape[d]) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

function normDim(d: number, rank: number): number {
  if (d < -rank || d >= rank) throw new Error(`reference: dim ${d} out of range for rank ${rank}`);
  return d < 0 ? d + rank : d;
}

/** The shape of a nested array (the first element at each level decides). */
export function shapeOfNested(v: Nested): number[] {
  const s: number[] = [];
  let p: Nested = v;
  while (Array.isArray(p)) {
    s.push(p.length);
    p = p[0];
  }
  return s;
}

/** A strided N-d array of float64 values. Views (permute, slice, broadcastTo) share `data`. */
export class Ref {
  readonly data: number[];
  readonly shape: number[];
  readonly strides: number[];
  readonly offset: number;

  constructor(data: number[], shape: readonly number[], strides?: readonly number[], offset = 0) {
    this.data = data;
    this.shape = shape.slice();
    this.strides = strides ? strides.slice() : contiguousStrides(shape);
    this.offset = offset;
    if (!strides && data.length !== numel(shape))
      throw new Error(`reference: ${data.length} values for shape [${shape.join(', ')}]`);
  }

  /** From nested arrays (or a bare number / boolean for shape []). */
  static from(v: Nested | Ref): Ref {
    if (v instanceof Ref) return v;
    const shape = shapeOfNested(v);
    const flat: number[] = [];
    const walk = (x: Nested, depth: number): void => {
      if (depth === shape.length) {
        if (Array.isArray(x)) throw new Error('reference: ragged nested array');
        flat.push(typeof x === 'boolean' ? (x ? 1 : 0) : x);
        return;
      }
      if (!Array.isArray(x) || x.length !== shape[depth]) throw new Error('reference: ragged nested array');
      for (const e of x) walk(e, depth + 1);
    };
    walk(v, 0);
    return new Ref(flat, shape);
  }

  static full(shape: readonly number[], value: number): Ref {
    return new Ref(new Array<number>(numel(shape)).fill(value), shape);
  }

  /** Builds an array by evaluating `f` at every index. */
  static build(shape: readonly number[], f: (idx: number[]) => number): Ref {
    const out: number[] = [];
    forEachIndex(shape, (i) => out.push(f(i)));
    return new Ref(out, shape);
  }

  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }

  at(idx: readonly number[]): number {
    let p = this.offset;
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= this.shape[i]) throw new Error(`reference: index ${idx} out of range`);
      p += idx[i] * this.strides[i];
    }
    return this.data[p];
  }

  /** The values in row-major order. */
  flat(): number[] {
    const out: number[] = [];
    forEachIndex(this.shape, (i) => out.push(this.at(i)));
    return out;
  }

  /** A contiguous copy. */
  copy(): Ref {
    return new Ref(this.flat(), this.shape);
  }

  toNested(): Nested {
    const flat = this.flat();
    if (this.shape.length === 0) return flat[0];
    let k = 0;
    const build = (d: number): Nested[] => {
      const out: Nested[] = [];
      for (let i = 0; i < this.shape[d]; i++) out.push(d === this.shape.length - 1 ? flat[k++] : build(d + 1));
      return out;
    };
    return build(0);
  }

  // ------------------------------------------------------------------ views and shape ops

  permute(perm: readonly number[]): Ref {
    if (perm.length !== this.ndim) throw new Error('reference: bad permutation');
    const p = perm.map((d) => normDim(d, this.ndim));
    if (new Set(p).size !== p.length) throw new Error('reference: bad permutation');
    return new Ref(this.data, p.map((d) => this.shape[d]), p.map((d) => this.strides[d]), this.offset);
  }

  transpose(a: number, b: number): Ref {
    const perm = this.shape.map((_, i) => i);
    const x = normDim(a, this.ndim);
    const y = normDim(b, this.ndim);
    perm[x] = y;
    perm[y] = x;
    return this.permute(perm);
  }

  t(): Ref {
    return this.transpose(-2, -1);
  }

  /** PyTorch slicing: negative start/end count from the end, both clamped into [0, size]. */
  slice(dim: number, start: number, end?: number, step = 1): Ref {
    const d = normDim(dim, this.ndim);
    const size = this.shape[d];
    let s = start < 0 ? start + size : start;
    let e = end === undefined ? size : end < 0 ? end + size : end;
    s = Math.min(Math.max(s, 0), size);
    e = Math.min(Math.max(e, 0), size);
    const len = e > s ? Math.ceil((e - s) / step) : 0;
    const shape = this.shape.slice();
    const strides = this.strides.slice();
    shape[d] = len;
    strides[d] = this.strides[d] * step;
    return new Ref(this.data, shape, strides, this.offset + s * this.strides[d]);
  }

  narrow(dim: number, start: number, length: number): Ref {
    const d = normDim(dim, this.ndim);
    const s = start < 0 ? start + this.shape[d] : start;
    return this.slice(d, s, s + length);
  }

  /** numpy broadcasting of this array to `shape` (a stride-0 view). */
  broadcastTo(shape: readonly number[]): Ref {
    const lead = shape.length - this.ndim;
    if (lead < 0) throw new Error('reference: cannot broadcast to fewer dims');
    const strides = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < this.ndim; i++) {
      if (this.shape[i] === shape[lead + i]) strides[lead + i] = this.strides[i];
      else if (this.shape[i] === 1) strides[lead + i] = 0;
      else throw new Error(`reference: cannot broadcast [${this.shape}] to [${shape}]`);
    }
    return new Ref(this.data, shape, strides, this.offset);
  }

  /** Row-major reshape (copies); one -1 allowed. */
  reshape(shape: readonly number[]): Ref {
    const s = shape.slice();
    const i = s.indexOf(-1);
    if (i >= 0) s[i] = this.size / numel(s.filter((d) => d !== -1));
    if (numel(s) !== this.size) throw new Error('reference: reshape count mismatch');
    return new Ref(this.flat(), s);
  }

  // ------------------------------------------------------------------ elementwise

  map(f: (x: number) => number): Ref {
    return new Ref(this.flat().map(f), this.shape);
  }
}

// -------------------------------------------------------------------- broadcasting

export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = i - (n - s.length);
      const v = k < 0 ? 1 : s[k];
      if (v !== 1) {
        if (d !== 1 && d !== v) throw new Error(`reference: shapes ${JSON.stringify(shapes)} do not broadcast`);
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

type RefLike = Ref | Nested;

/** Elementwise f(a, b) with numpy broadcasting. */
export function map2(a: RefLike, b: RefLike, f: (x: number, y: number) => number): Ref {
  const A = Ref.from(a);
  const B = Ref.from(b);
  const shape = broadcastShapes(A.shape, B.shape);
  const ab = A.broadcastTo(shape);
  const bb = B.broadcastTo(shape);
  if (shape.length === 0) return new Ref([f(ab.at([]), bb.at([]))], []);
  return Ref.build(shape, (i) => f(ab.at(i), bb.at(i)));
}

/** Elementwise f(a, b, c) with numpy broadcasting. */
export function map3(a: RefLike, b: RefLike, c: RefLike, f: (x: number, y: number, z: number) => number): Ref {
  const A = Ref.from(a);
  const B = Ref.from(b);
  const C = Ref.from(c);
  const shape = broadcastShapes(A.shape, B.shape, C.shape);
  const ab = A.broadcastTo(shape);
  const bb = B.broadcastTo(shape);
  const cb = C.broadcastTo(shape);
  if (shape.length === 0) return new Ref([f(ab.at([]), bb.at([]), cb.at([]))], []);
  return Ref.build(shape, (i) => f(ab.at(i), bb.at(i), cb.at(i)));
}

export function where(cond: RefLike, a: RefLike, b: RefLike): Ref {
  return map3(cond, a, b, (c, x, y) => (c !== 0 ? x : y));
}

// -------------------------------------------------------------------- scalar functions

export const fn = {
  neg: (x: number) => -x,
  abs: (x: number) => Math.abs(x),
  sign: (x: number) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
  square: (x: number) => x * x,
  sqrt: (x: number) => Math.sqrt(x),
  recip: (x: number) => 1 / x,
  relu: (x: number) => (x > 0 ? x : 0),
  sigmoid: (x: number) => 1 / (1 + Math.exp(-x)),
  tanh: (x: number) => Math.tanh(x),
  /** The tanh approximation of GELU. */
  gelu: (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
  /** ln(1 + e^x), evaluated stably. */
  softplus: (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
  sin: (x: number) => Math.sin(x),
  cos: (x: number) => Math.cos(x),
  tan: (x: number) => Math.tan(x),
  exp: (x: number) => Math.exp(x),
  exp2: (x: number) => Math.pow(2, x),
  exp10: (x: number) => Math.pow(10, x),
  ln: (x: number) => Math.log(x),
  log2: (x: number) => Math.log2(x),
  log10: (x: number) => Math.log10(x),
  silu: (x: number) => x / (1 + Math.exp(-x)),
  leakyRelu: (slope: number) => (x: number) => (x > 0 ? x : slope * x),
  elu: (alpha: number) => (x: number) => (x > 0 ? x : alpha * (Math.exp(x) - 1)),
  clamp: (lo: number, hi: number) => (x: number) => (Number.isNaN(x) ? NaN : Math.min(Math.max(x, lo), hi)),
  add: (x: number, y: number) => x + y,
  sub: (x: number, y: number) => x - y,
  mul: (x: number, y: number) => x * y,
  div: (x: number, y: number) => x / y,
  pow: (x: number, y: number) => Math.pow(x, y),
  maximum: (x: number, y: number) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  minimum: (x: number, y: number) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
  eq: (x: number, y: number) => (x === y ? 1 : 0),
  ne: (x: number, y: number) => (x !== y ? 1 : 0),
  lt: (x: number, y: number) => (x < y ? 1 : 0),
  le: (x: number, y: number) => (x <= y ? 1 : 0),
  gt: (x: number, y: number) => (x > y ? 1 : 0),
  ge: (x: number, y: number) => (x >= y ? 1 : 0),
  // logical ops: any nonzero value (NaN included) is true
  logicalAnd: (x: number, y: number) => (x !== 0 && y !== 0 ? 1 : 0),
  logicalOr: (x: number, y: number) => (x !== 0 || y !== 0 ? 1 : 0),
  logicalXor: (x: number, y: number) => ((x !== 0) !== (y !== 0) ? 1 : 0),
  logicalNot: (x: number) => (x !== 0 ? 0 : 1),
};

/** Float → integer conversion of a cast: truncation toward zero. */
export function truncToInt(x: number): number {
  return Math.trunc(x);
}

// -------------------------------------------------------------------- reductions

/** Normalises reduction dims (undefined = all; negative count from the end); sorted, unique. */
export function reduceDims(dims: number | number[] | undefined, rank: number): number[] {
  const list = dims === undefined ? Array.from({ length: rank }, (_, i) => i) : Array.isArray(dims) ? dims : [dims];
  return Array.from(new Set(list.map((d) => normDim(d, rank)))).sort((a, b) => a - b);
}

/**
 * Reduces over `dims`: for every output position, `f` gets the values of the reduced dims in
 * row-major order (so an index into that list is the flat index within the reduced dims).
 */
export function reduce(a: RefLike, dims: number | number[] | undefined, keepdim: boolean, f: (vals: number[]) => number): Ref {
  const A = Ref.from(a);
  const red = reduceDims(dims, A.ndim);
  const isRed = A.shape.map((_, i) => red.includes(i));
  const keptShape = A.shape.filter((_, i) => !isRed[i]);
  const redShape = A.shape.filter((_, i) => isRed[i]);
  const outShape = keepdim ? A.shape.map((d, i) => (isRed[i] ? 1 : d)) : keptShape;
  const values: number[] = [];
  const visitKept = (kept: number[]): void => {
    const vals: number[] = [];
    const full = new Array<number>(A.ndim);
    const each = (r: number[]): void => {
      let ki = 0;
      let ri = 0;
      for (let i = 0; i < A.ndim; i++) full[i] = isRed[i] ? r[ri++] : kept[ki++];
      vals.push(A.at(full));
    };
    if (redShape.length === 0) each([]);
    else forEachIndex(redShape, each);
    values.push(f(vals));
  };
  if (keptShape.length === 0) visitKept([]);
  else forEachIndex(keptShape, visitKept);
  return new Ref(values, outShape);
}

export const rfn = {
  sum: (v: number[]) => v.reduce((a, b) => a + b, 0),
  prod: (v: number[]) => v.reduce((a, b) => a * b, 1),
  mean: (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v: number[]) => v.reduce((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)), -Infinity),
  min: (v: number[]) => v.reduce((a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)), Infinity),
  /** Population variance (÷N). */
  var: (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((a, b) => a + (b - m) * (b - m), 0) / v.length;
  },
  std: (v: number[]) => Math.sqrt(rfn.var(v)),
  norm: (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0)),
  /** First index of the maximum. */
  argmax: (v: number[]) => {
    let best = 0;
    for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
    return best;
  },
  /** First index of the minimum. */
  argmin: (v: number[]) => {
    let best = 0;
    for (let i = 1; i < v.length; i++) if (v[i] < v[best]) best = i;
    return best;
  },
};

export type ReduceName = keyof typeof rfn;

// -------------------------------------------------------------------- matmul

/** matmul with PyTorch semantics: 1-D operands are vectors, batch dims broadcast. */
export function matmul(a: RefLike, b: RefLike): Ref {
  let A = Ref.from(a);
  let B = Ref.from(b);
  const aVec = A.ndim === 1;
  const bVec = B.ndim === 1;
  if (aVec) A = A.reshape([1, A.shape[0]]);
  if (bVec) B = B.reshape([B.shape[0], 1]);
  const m = A.shape[A.ndim - 2];
  const k = A.shape[A.ndim - 1];
  const n = B.shape[B.ndim - 1];
  if (B.shape[B.ndim - 2] !== k) throw new Error('reference: matmul inner dims differ');
  const batch = broadcastShapes(A.shape.slice(0, -2), B.shape.slice(0, -2));
  const Ab = A.broadcastTo([...batch, m, k]);
  const Bb = B.broadcastTo([...batch, k, n]);
  const full = Ref.build([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2);
    const i = idx[idx.length - 2];
    const j = idx[idx.length - 1];
    let s = 0;
    for (let p = 0; p < k; p++) s += Ab.at([...bi, i, p]) * Bb.at([...bi, p, j]);
    return s;
  });
  let shape = [...batch];
  if (!aVec) shape.push(m);
  if (!bVec) shape.push(n);
  if (aVec && bVec) shape = [...batch];
  return full.reshape(shape);
}

// -------------------------------------------------------------------- nn

export function softmax(a: RefLike, dim: number): Ref {
  const A = Ref.from(a);
  const d = normDim(dim, A.ndim);
  return Ref.build(A.shape, (idx) => {
    let mx = -Infinity;
    const j = idx.slice();
    for (let k = 0; k < A.shape[d]; k++) {
      j[d] = k;
      mx = Math.max(mx, A.at(j));
    }
    let s = 0;
    for (let k = 0; k < A.shape[d]; k++) {
      j[d] = k;
      s += Math.exp(A.at(j) - mx);
    }
    return Math.exp(A.at(idx) - mx) / s;
  });
}

export function logSoftmax(a: RefLike, dim: number): Ref {
  const A = Ref.from(a);
  const d = normDim(dim, A.ndim);
  return Ref.build(A.shape, (idx) => {
    let mx = -Infinity;
    const j = idx.slice();
    for (let k = 0; k < A.shape[d]; k++) {
      j[d] = k;
      mx = Math.max(mx, A.at(j));
    }
    let s = 0;
    for (let k = 0; k < A.shape[d]; k++) {
      j[d] = k;
      s += Math.exp(A.at(j) - mx);
    }
    return A.at(idx) - mx - Math.log(s);
  });
}

export interface ConvOpts {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

/** Direct 2-D convolution (cross-correlation, as PyTorch): x NCHW, w OIHW (I = C / groups), bias [O] or null. */
export function conv2d(x: RefLike, w: RefLike, bias: RefLike | null, o: ConvOpts = {}): Ref {
  const X = Ref.from(x);
  const W = Ref.from(w);
  const Bi = bias === null ? null : Ref.from(bias);
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const g = o.groups ?? 1;
  const [N, C, H, Wd] = X.shape;
  const [O, I, KH, KW] = W.shape;
  if (I * g !== C || O % g !== 0) throw new Error('reference: conv2d channel mismatch');
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((Wd + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const opg = O / g;
  return Ref.build([N, O, OH, OW], ([n, oc, oy, ox]) => {
    const grp = Math.floor(oc / opg);
    let s = Bi ? Bi.at([oc]) : 0;
    for (let ic = 0; ic < I; ic++) {
      const c = grp * I + ic;
      for (let ky = 0; ky < KH; ky++) {
        const iy = oy * sh - ph + ky * dh;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < KW; kx++) {
          const ix = ox * sw - pw + kx * dw;
          if (ix < 0 || ix >= Wd) continue;
          s += X.at([n, c, iy, ix]) * W.at([oc, ic, ky, kx]);
        }
      }
    }
    return s;
  });
}

export interface PoolOpts {
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
}

/**
 * 2-D pooling over NCHW. max ignores padded cells; avg sums the real cells and divides by the
 * full kernel size kh*kw (padded cells count as zeros: PyTorch's count_include_pad=True).
 */
export function pool2d(x: RefLike, kind: 'max' | 'avg', o: PoolOpts): Ref {
  const X = Ref.from(x);
  const [kh, kw] = o.kernel;
  const [sh, sw] = o.stride ?? o.kernel;
  const [ph, pw] = o.padding ?? [0, 0];
  const [N, C, H, W] = X.shape;
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  return Ref.build([N, C, OH, OW], ([n, c, oy, ox]) => {
    let mx = -Infinity;
    let s = 0;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh - ph + ky;
      if (iy < 0 || iy >= H) continue;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * sw - pw + kx;
        if (ix < 0 || ix >= W) continue;
        const v = X.at([n, c, iy, ix]);
        mx = Math.max(mx, v);
        s += v;
      }
    }
    return kind === 'max' ? mx : s / (kh * kw);
  });
}

// -------------------------------------------------------------------- indexing and joining

/** out[..., i, ...] = x[..., idx[i], ...] along dim. */
export function indexSelect(x: RefLike, dim: number, idx: number[]): Ref {
  const X = Ref.from(x);
  const d = normDim(dim, X.ndim);
  const shape = X.shape.slice();
  shape[d] = idx.length;
  return Ref.build(shape, (i) => {
    const j = i.slice();
    j[d] = idx[i[d]];
    return X.at(j);
  });
}

/** out[i][j][k] = x[i][idx[i][j][k]][k] for dim = 1, and so on (torch.gather). */
export function gather(x: RefLike, dim: number, idx: RefLike): Ref {
  const X = Ref.from(x);
  const I = Ref.from(idx);
  const d = normDim(dim, X.ndim);
  return Ref.build(I.shape, (i) => {
    const j = i.slice();
    j[d] = I.at(i);
    return X.at(j);
  });
}

export function concat(list: RefLike[], dim: number): Ref {
  const R = list.map((r) => Ref.from(r));
  const d = normDim(dim, R[0].ndim);
  const shape = R[0].shape.slice();
  shape[d] = R.reduce((a, r) => a + r.shape[d], 0);
  return Ref.build(shape, (i) => {
    let k = i[d];
    for (const r of R) {
      if (k < r.shape[d]) {
        const j = i.slice();
        j[d] = k;
        return r.at(j);
      }
      k -= r.shape[d];
    }
    throw new Error('reference: concat index out of range');
  });
}

// -------------------------------------------------------------------- dtype rounding

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds to the nearest float32. */
export const roundF32 = (x: number): number => Math.fround(x);

/** Rounds to the nearest bfloat16 (round to nearest even). */
export function roundBF16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  f32[0] = x;
  const bits = u32[0];
  const lsb = (bits >>> 16) & 1;
  u32[0] = ((bits + 0x7fff + lsb) >>> 16) << 16;
  return f32[0];
}

/** Rounds to the nearest float16 (round to nearest even; overflow to ±Infinity). */
export function roundF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const q = 2 ** (e - 10);
  let m = a / q;
  const fl = Math.floor(m);
  const fr = m - fl;
  m = fr > 0.5 || (fr === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  return Math.sign(x) * m * q;
}
