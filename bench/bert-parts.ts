// The parts of one BERT-class encoder layer at MiniLM's size (b1 x s128, hidden 384, 12 heads,
// FFN 1536), each compiled as its own HODU script and timed in rounds (median and min of 20 rounds
// of 20 runs): where a MiniLM run's time goes, with the kernels each part compiles to.
// Run: node --import tsx bench/bert-parts.ts   (HODU_THREADS=one|all fixes the thread mode)
import { Builder, Script, Tensor } from '../lib';
/** A script of one part, its inputs bound to random values. */
function rec(shapes: Record<string, number[]>, f: (i: Record<string, Tensor>) => Tensor): Script {
  const b = new Builder('part');
  b.start();
  const ins: Record<string, Tensor> = {};
  for (const [k, s] of Object.entries(shapes)) ins[k] = Tensor.input(k, s);
  b.addOutput('y', f(ins));
  b.end();
  const s = b.build();
  for (const [k, sh] of Object.entries(shapes)) s.addInput(k, Tensor.rand(sh));
  return s;
}
const w = (a: number, b: number) => Tensor.rand([a, b]).mul(0.05);
const W384 = w(384, 384), W1536 = w(384, 1536), W2 = w(1536, 384), b384 = Tensor.rand([384]), b1536 = Tensor.rand([1536]);
const mask = Tensor.zeros([1, 1, 1, 128]);
const cases: [string, Script][] = [
  ['proj 128x384x384 +bias', rec({ x: [128, 384] }, (i) => i.x.matmul(W384).add(b384))],
  ['scores [12,128,32]x[12,32,128] +scale+mask', rec({ q: [1, 128, 12, 32], k: [1, 128, 12, 32] }, (i) => i.q.permute([0, 2, 1, 3]).matmul(i.k.permute([0, 2, 3, 1])).mul(0.176).add(mask))],
  ['softmax [1,12,128,128]', rec({ x: [1, 12, 128, 128] }, (i) => i.x.softmax(-1))],
  ['PV [12,128,128]x[12,128,32] + transpose copy', rec({ p: [1, 12, 128, 128], v: [1, 128, 12, 32] }, (i) => i.p.matmul(i.v.permute([0, 2, 1, 3])).permute([0, 2, 1, 3]).reshape([128, 384]))],
  ['ffn1 128x384x1536 +bias+gelu', rec({ x: [128, 384] }, (i) => i.x.matmul(W1536).add(b1536).geluErf())],
  ['ffn2 128x1536x384 +bias+res', rec({ x: [128, 1536], r: [128, 384] }, (i) => i.x.matmul(W2).add(b384).add(i.r))],
  ['layer_norm [128,384]', rec({ x: [128, 384] }, (i) => i.x.layerNorm(384, b384, b384, 1e-12))],
];
const T: number[][] = cases.map(() => []);
for (let r = 0; r < 20; r++) cases.forEach(([, s], j) => { s.run(); const t0 = performance.now(); for (let k = 0; k < 20; k++) s.run(); T[j].push((performance.now() - t0) / 20); });
cases.forEach(([n, s], j) => { const a = T[j].sort((x, y) => x - y); console.log(n.padEnd(48), 'median', (a[10] * 1000).toFixed(0), 'us  min', (a[0] * 1000).toFixed(0), 'us', s.planInfo().kernels.join(' | ')); });
