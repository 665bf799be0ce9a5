// Attention: scaled dot-product attention and multi-head attention (batch-first, [B, T, E]).
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { Linear } from './layers';
import { Module } from './module';

export interface AttentionOptions {
  /** Extra scores added before the softmax, broadcast to [..., T, S] (use a large negative value to hide). */
  mask?: Tensor | null;
  /** Hide key positions after each query position (query i sees keys 0..i + S − T). */
  causal?: boolean;
  /** Defaults to 1/√(head dim). */
  scale?: number;
}

const NEG = -1e9;

/** A [T, S] additive mask: 0 where key j ≤ i + (S − T), a large negative value after. */
export function causalMask(t: number, s: number, dtype: DType = DType.F32): Tensor {
  const m = new Float64Array(t * s);
  for (let i = 0; i < t; i++) for (let j = 0; j < s; j++) if (j > i + (s - t)) m[i * s + j] = NEG;
  return Tensor.fromArray(m, [t, s], dtype);
}

/** softmax(q kᵀ · scale + mask) v over the last two dims; q [..., T, D], k [..., S, D], v [..., S, Dv]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const [t, n] of [[q, 'q'], [k, 'k'], [v, 'v']] as const)
    if (!(t instanceof Tensor) || t.ndim < 2) throw invalidArg(`scaledDotProductAttention: ${n} must be a Tensor of rank >= 2, got ${describe(t instanceof Tensor ? t.shape : t)}`);
  const d = q.shape[q.ndim - 1];
  if (k.shape[k.ndim - 1] !== d || k.shape[k.ndim - 2] !== v.shape[v.ndim - 2])
    throw new HoduError(ErrorCode.SHAPE_MISMATCH, `scaledDotProductAttention: q ${describe(q.shape)}, k ${describe(k.shape)}, v ${describe(v.shape)} do not fit`);
  const scale = options.scale ?? 1 / Math.sqrt(d);
  let scores = q.matmul(k.t()).mul(scale);
  if (options.causal) scores = scores.add(causalMask(q.shape[q.ndim - 2], k.shape[k.ndim - 2], scores.dtype));
  if (options.mask) scores = scores.add(options.mask.dtype === scores.dtype ? options.mask : options.mask.toDtype(scores.dtype));
  return scores.softmax(-1).matmul(v);
}

export interface MultiheadAttentionOptions {
  /** Biases in the projections (default true). */
  bias?: boolean;
  /** Causal self-attention by default (each call may override). */
  causal?: boolean;
  dtype?: DType;
}

/**
 * Multi-head attention, batch-first: `forward(query, key = query, value = key, { mask, causal })`
 * with query [B, T, E] and key/value [B, S, E] gives [B, T, E]. Projections qProj, kProj, vProj,
 * outProj are Linear(E, E).
 */
export class MultiheadAttention extends Module {
  qProj: Linear;
  kProj: Linear;
  vProj: Linear;
  outProj: Linear;
  readonly headDim: number;
  readonly causal: boolean;
  constructor(readonly embedDim: number, readonly numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    for (const [v, w] of [[embedDim, 'embedDim'], [numHeads, 'numHeads']] as const)
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalidArg(`MultiheadAttention: ${w} must be a positive integer, got ${describe(v)}`);
    if (embedDim % numHeads) throw invalidArg(`MultiheadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    const bias = options.bias ?? true;
    const dt = options.dtype ?? DType.F32;
    this.qProj = new Linear(embedDim, embedDim, bias, dt);
    this.kProj = new Linear(embedDim, embedDim, bias, dt);
    this.vProj = new Linear(embedDim, embedDim, bias, dt);
    this.outProj = new Linear(embedDim, embedDim, bias, dt);
    this.causal = !!options.causal;
  }

  private heads(x: Tensor, what: string): Tensor {
    if (!(x instanceof Tensor) || x.ndim !== 3 || x.shape[2] !== this.embedDim)
      throw new HoduError(ErrorCode.SHAPE_MISMATCH, `MultiheadAttention: ${what} must be [B, T, ${this.embedDim}], got ${describe(x instanceof Tensor ? x.shape : x)}`);
    const [b, t] = x.shape;
    return x.reshape([b, t, this.numHeads, this.headDim]).transpose(1, 2);
  }

  forward(query: Tensor, key?: Tensor, value?: Tensor, options: Omit<AttentionOptions, 'scale'> = {}): Tensor {
    const k0 = key ?? query;
    const v0 = value ?? k0;
    const q = this.heads(this.qProj.forward(query), 'query');
    const k = this.heads(this.kProj.forward(k0), 'key');
    const v = this.heads(this.vProj.forward(v0), 'value');
    if (k.shape[0] !== q.shape[0]) throw new HoduError(ErrorCode.SHAPE_MISMATCH, `MultiheadAttention: query batch ${q.shape[0]} and key batch ${k.shape[0]} differ`);
    const o = scaledDotProductAttention(q, k, v, { mask: options.mask, causal: options.causal ?? this.causal });
    const [b, , t] = o.shape;
    return this.outProj.forward(o.transpose(1, 2).reshape([b, t, this.embedDim]));
  }
}
