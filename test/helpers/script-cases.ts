// Op cases shared by the differential tests (script vs dynamic, XLA vs HODU): each is a name, a
// function of tensors, and a maker of inputs for it. Together they cover every op of SPEC §2.
import { DType, Tensor, manualSeed } from '../../lib';

// Each case: a function of tensors and the inputs to try it on. The script must equal dynamic mode.
export type Case = [string, (...t: Tensor[]) => Tensor, () => Tensor[]];
manualSeed(7);
const r = (...s: number[]) => () => [Tensor.randn(s)];
const r2 = (a: number[], b: number[]) => () => [Tensor.randn(a), Tensor.randn(b)];
const pos = (...s: number[]) => () => [Tensor.rand(s, DType.F32, 0.5, 2)];
export const CASES: Case[] = [
  ['add broadcast', (a, b) => a.add(b), r2([3, 4], [4])],
  ['sub', (a, b) => a.sub(b), r2([3, 4], [3, 1])],
  ['mul scalar', (a) => a.mul(2.5), r(5)],
  ['div', (a, b) => a.div(b.abs().add(1)), r2([2, 3], [2, 3])],
  ['pow', (a, b) => a.pow(b), () => [Tensor.rand([6], DType.F32, 0.5, 2), Tensor.rand([6], DType.F32, -1, 1)]],
  ['maximum/minimum', (a, b) => a.maximum(b).add(a.minimum(b)), r2([4], [4])],
  ['compare+where', (a, b) => Tensor.where(a.gt(b), a, b), r2([3, 3], [3])],
  ['logical', (a, b) => a.gt(0).logicalAnd(b.lt(0)).logicalOr(a.ge(b)).logicalXor(a.le(0)).logicalNot().toDtype(DType.F32), r2([8], [8])],
  ['eq/ne', (a, b) => a.eq(b).toDtype(DType.F32).add(a.ne(a).toDtype(DType.F32)), r2([4], [4])],
  ['unary chain', (a) => a.neg().abs().sqrt().exp().ln().sign().square(), r(10)],
  ['activations', (a) => a.relu().add(a.sigmoid()).add(a.tanh()).add(a.gelu()).add(a.softplus()).add(a.silu()).add(a.leakyRelu(0.2)).add(a.elu(0.7)), r(16)],
  ['trig', (a) => a.sin().add(a.cos()).add(a.tan().clamp(-3, 3)), r(8)],
  ['exp/log family', (a) => a.exp2().add(a.exp10()).add(a.log2()).add(a.log10()).add(a.recip()), pos(8)],
  ['clamp inf', (a) => a.clamp(-Infinity, 0.5), r(8)],
  ['matmul batched', (a, b) => a.matmul(b), r2([2, 3, 4], [4, 5])],
  ['matmul transposed', (a, b) => a.t().matmul(b), r2([4, 3], [4, 2])],
  ['reductions', (a) => a.sum(1).add(a.mean(1)).add(a.max(1)).add(a.min(1)).add(a.var(1)).add(a.std(1)).add(a.norm(1)), r(3, 5)],
  ['prod keepdim', (a) => a.prod(0, true), r(3, 4)],
  ['full reduction', (a) => a.sum(), r(3, 4)],
  ['argmax/argmin', (a) => a.argmax(1, true).add(a.argmin(0, true)), r(4, 5)],
  ['reshape/permute/flatten', (a) => a.reshape([2, -1]).permute([1, 0]).flatten(), r(2, 3, 2)],
  ['squeeze/unsqueeze/transpose', (a) => a.unsqueeze(0).transpose(1, 2).squeeze(), r(3, 4)],
  ['broadcastTo/expand', (a) => a.broadcastTo([2, 3, 4]).add(a.expand([-1, 4]).unsqueeze(0)), r(3, 1)],
  ['narrow/slice', (a) => a.narrow(0, 1, 2).slice(1, 0, 5, 2), r(4, 5)],
  ['split/chunk/concat', (a) => Tensor.concat([...a.split(2, 1).reverse(), ...a.chunk(2, 0)].map((t) => t.sum(1, true)), 0), r(4, 5)],
  ['indexSelect/gather', (a) => a.indexSelect(0, Tensor.fromArray([2, 0], undefined, DType.I64)).add(a.gather(1, Tensor.fromArray([[0, 1, 0], [1, 1, 0], [2, 2, 2]], undefined, DType.I64)).narrow(0, 0, 2)), r(3, 3)],
  ['softmax/logSoftmax', (a) => a.softmax(1).add(a.logSoftmax(0)), r(3, 4)],
  ['conv2d', (x, w) => x.conv2d(w, null, { stride: 1, padding: 1 }), r2([2, 3, 6, 6], [4, 3, 3, 3])],
  ['conv2d bias groups', (x, w) => x.conv2d(w, Tensor.fromArray([0.5, -0.5, 1, 2]), { stride: 2, groups: 2, dilation: 1 }), r2([1, 4, 7, 7], [4, 2, 3, 3])],
  ['pools', (x) => x.maxPool2d({ kernel: 2 }).add(x.avgPool2d({ kernel: 2, stride: 2 })), r(1, 2, 6, 6)],
  ['casts', (a) => a.mul(10).toDtype(DType.I32).toDtype(DType.F64).toDtype(DType.F32), r(6)],
  ['f64 chain', (a) => a.toDtype(DType.F64).exp().sum(0), r(3, 3)],
  ['contiguous/detach', (a) => a.t().contiguous().detach().mul(3), r(3, 2)],
];

