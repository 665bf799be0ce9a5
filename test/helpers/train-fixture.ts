// The small training fixture the variables tests share (test/variables*.test.ts,
// test/xla-residency.test.ts): a 5-7-3 tanh MLP seeded per test and a deterministic data stream,
// the same for a script and its dynamic-mode reference.
import { Tensor, manualSeed, nn } from '../../lib';

export const IN = 5;
export const HID = 7;
export const OUT = 3;
export const B = 6;

export function makeModel(seed: number): nn.Sequential {
  manualSeed(seed);
  return new nn.Sequential(new nn.Linear(IN, HID), new nn.Tanh(), new nn.Linear(HID, OUT));
}

/** Batch k of the data stream as typed arrays. */
export function batchData(k: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(B * IN);
  const y = new Float32Array(B * OUT);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(0.37 * i + 1.3 * k);
  for (let i = 0; i < y.length; i++) y[i] = Math.cos(0.21 * i + 0.7 * k);
  return { x, y };
}

/** Batch k of the data stream as tensors. */
export function batch(k: number): { x: Tensor; y: Tensor } {
  const { x, y } = batchData(k);
  return { x: Tensor.fromArray(x, [B, IN]), y: Tensor.fromArray(y, [B, OUT]) };
}

export const flat = (t: Tensor): number[] => Array.from(t.toTypedArray() as Float32Array);

/** Throws when the worst |got - want| / (1 + |want|) exceeds tol. */
export function expectClose(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  if (!(worst <= tol)) throw new Error(`${what}: worst relative difference ${worst} > ${tol}`);
}
