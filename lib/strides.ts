// Row-major strides, in elements, for a shape (size-0 and size-1 dims count as 1 so strides stay
// distinct and non-zero); the one definition the tensor, the recorder and the specializer share.
export function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= Math.max(shape[i], 1);
  }
  return st;
}
