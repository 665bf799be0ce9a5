// Extension points through which tensor ops reach the builder (script mode) and autograd without
// import cycles: tensor.ts calls these; builder.ts and autograd install them.
import type { Tensor } from './tensor';
import type { DType } from './dtype';

export interface Recorder {
  /** Records an op while a builder is active and returns its symbolic output. */
  record(op: string, inputs: Tensor[], attrs: number[]): Tensor;
  /** Makes a named graph input. */
  input(name: string, shape: (number | string | null)[], dtype: DType): Tensor;
  /** The first dim of `shape` whose size stands for a symbolic input dim (lib/symbolic.ts), or -1. */
  symbolicDim?(shape: readonly number[]): number;
  /** Remembers a tensor's state before an in-place update rebinds it to a graph value (restored at end()). */
  saveBeforeRebind(t: Tensor): void;
  /** Records that concrete tensor `t` takes graph value `value` (an optimizer step, `assign`): t becomes a variable. */
  noteUpdate(t: Tensor, value: Tensor): void;
  /** A uniform [0, 1) tensor drawn afresh on every run of the script (Dropout masks). */
  randomInput(shape: number[], dtype: DType): Tensor;
  /** The recording builder's name (for error messages). */
  readonly owner: string;
}

export const hooks: {
  recorder: Recorder | null;
  /** Called after every eager op with its inputs and output (autograd tape). */
  afterOp: ((op: string, inputs: Tensor[], attrs: number[], out: Tensor) => void) | null;
  /** Installed by autograd. */
  backward: ((root: Tensor, grad?: Tensor, retainGraph?: boolean) => void) | null;
} = { recorder: null, afterOp: null, backward: null };
