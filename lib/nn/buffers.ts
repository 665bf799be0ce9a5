// Writing a module's non-parameter state (BatchNorm's running statistics).
import { noGrad } from '../autograd/tape';
import { Tensor } from '../tensor';

/**
 * Writes `value` into the buffer tensor `t` in place. Uses `tensor.assign` (a variable update a
 * script writes back on every run) when the library has it; otherwise the internal in-place update,
 * which in dynamic mode copies and inside a builder rebinds only for the recording.
 * TODO(h14 merge): plain `t.assign(value)` once `assign` exists everywhere.
 */
export function updateBuffer(t: Tensor, value: Tensor): void {
  noGrad(() => {
    const v = value.detach();
    const assign = (t as unknown as { assign?: (v: Tensor) => unknown }).assign;
    if (typeof assign === 'function') assign.call(t, v);
    else t._assign(v);
  });
}
