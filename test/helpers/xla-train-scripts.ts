// Small training scripts for the XLA compile-cache and multi-device tests (also run in child
// processes by test/helpers/xla-cache-child.ts, so a second process records the same program).
import { Builder, Script, Tensor, manualSeed, nn } from '../../lib';

/** Deterministic values in [-1, 1). */
export function detFloats(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

/**
 * An MLP (inF -> hidden -> outF, tanh) trained by SGD on MSE for `steps` recorded steps (rolled into
 * one loop by the compiler when steps > 1). Outputs: the last loss and the trained parameters p0..p3.
 * `seed` picks the initial weights (the program text does not depend on it: weights are parameters).
 */
export function mlpTrainScript(o: { batch?: number; inF?: number; hidden?: number; outF?: number; steps?: number; seed?: number; lr?: number } = {}): Script {
  const { batch = 8, inF = 6, hidden = 16, outF = 3, steps = 1, seed = 1, lr = 0.1 } = o;
  manualSeed(seed);
  const l1 = new nn.Linear(inF, hidden);
  const l2 = new nn.Linear(hidden, outF);
  const params = [...l1.parameters(), ...l2.parameters()];
  const opt = new nn.SGD(lr);
  const mse = new nn.MSE();
  const b = new Builder(`mlp_train_${batch}_${steps}`);
  b.start();
  const x = Tensor.input('x', [batch, inF]);
  const y = Tensor.input('y', [batch, outF]);
  let loss!: Tensor;
  for (let k = 0; k < steps; k++) {
    loss = mse.forward([l2.forward(l1.forward(x).tanh()), y]);
    loss.backward();
    opt.step(params);
    opt.zeroGrad(params);
  }
  b.addOutput('loss', loss);
  params.forEach((p, i) => b.addOutput(`p${i}`, p));
  b.end();
  const s = b.build();
  s.addInput('x', Tensor.fromArray(detFloats(batch * inF, 11), [batch, inF]));
  s.addInput('y', Tensor.fromArray(detFloats(batch * outF, 12), [batch, outF]));
  return s;
}
