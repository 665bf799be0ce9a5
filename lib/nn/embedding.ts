// Embedding: a lookup table of row vectors indexed by integer ids.
import { DType, isFloat } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { Module } from './module';

export interface EmbeddingOptions {
  /** Row whose vector is zero at init and gets no gradient (PyTorch's padding_idx). */
  paddingIdx?: number;
  dtype?: DType;
}

/** `forward(ids)` with integer ids of any shape S gives vectors of shape [...S, embeddingDim]; weight ~ N(0, 1). */
export class Embedding extends Module {
  weight: Tensor;
  readonly paddingIdx: number | null;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    for (const [v, w] of [[numEmbeddings, 'numEmbeddings'], [embeddingDim, 'embeddingDim']] as const)
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalidArg(`Embedding: ${w} must be a positive integer, got ${describe(v)}`);
    const dtype = options.dtype ?? DType.F32;
    if (!isFloat(dtype)) throw new HoduError(ErrorCode.DTYPE_MISMATCH, `Embedding: parameters need a float dtype, got ${dtype}`);
    let pad = options.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings)
        throw invalidArg(`Embedding: paddingIdx ${describe(pad)} is out of range for ${numEmbeddings} embeddings`);
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    let w = Tensor.randn([numEmbeddings, embeddingDim], dtype);
    if (pad !== null) {
      const drop = new Uint8Array(numEmbeddings);
      drop[pad] = 1;
      w = Tensor.where(Tensor.fromArray(drop, [numEmbeddings, 1], DType.BOOL), 0, w);
    }
    this.weight = w.setRequiresGrad(true);
  }
  forward(ids: Tensor): Tensor {
    if (!(ids instanceof Tensor)) throw invalidArg(`Embedding: expected a Tensor of ids, got ${describe(ids)}`);
    if (ids.dtype !== DType.I32 && ids.dtype !== DType.I64)
      throw new HoduError(ErrorCode.DTYPE_MISMATCH, `Embedding: ids must be i32 or i64, got ${ids.dtype}`);
    const flat = ids.ndim === 1 ? ids : ids.reshape([ids.size]);
    let w = this.weight;
    if (this.paddingIdx !== null) {
      // the padding row's gradient is cut: its rows come from a detached copy
      const mask = new Float64Array(this.numEmbeddings);
      mask[this.paddingIdx] = 1;
      const m = Tensor.fromArray(mask, [this.numEmbeddings, 1], w.dtype);
      w = w.mul(m.neg().add(1)).add(w.detach().mul(m));
    }
    const rows = w.indexSelect(0, flat);
    return rows.reshape([...ids.shape, this.embeddingDim]);
  }
}
