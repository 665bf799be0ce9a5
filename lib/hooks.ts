// Extension points through which tensor ops reach the builder (script mode) and autograd without
// import cycles: tensor.ts calls these; builder.ts and autograd install them.
import type { Tensor } from './tensor';
import type { DType } from './dtype';

export interface Recorder {
  /** Records an op while a builder is active and returns its symbolic output. */
  record(op: string, inputs: Tensor[], attrs: number[]): Tensor;
  /** Makes a named graph input. */
  input(name: string, shape: number[], dtype: DType): Tensor;
  /** Remembers a tensor's state before an in-place update rebinds it to a graph value (restored at end()). */
  saveBeforeRebind(t: Tensor): void;
}

export const hooks: {
  recorder: Recorder | null;
  /** Called after every eager op with its inputs and output (autograd tape). */
  afterOp: ((op: string, inputs: Tensor[], attrs: number[], out: Tensor) => void) | null;
  /** Installed by autograd. */
  backward: ((root: Tensor, grad?: Tensor) => void) | null;
} = { recorder: null, afterOp: null, backward: null };
