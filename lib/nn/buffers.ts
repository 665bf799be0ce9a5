// Writing a module's non-parameter state (BatchNorm's running statistics).
import { noGrad } from '../autograd/tape';
import { Tensor } from '../tensor';

/**
 * Writes `value` into the buffer tensor `t` with `tensor.assign`: in dynamic mode an in-place copy;
 * inside a builder a recorded update, so `t` becomes a script variable written back on every run.
 */
export function updateBuffer(t: Tensor, value: Tensor): void {
  noGrad(() => t.assign(value.detach()));
}
