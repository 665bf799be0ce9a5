// toString(): upstream hodu's Display. Floats print as `3.` when integral, else up to 6 decimals with
// trailing zeros trimmed; integers plain; bools true/false; rows at depth 0 and 1 are separated by
// `,\n` plus (depth + 1) spaces, deeper ones by `, `; more than 8 entries in a dim show the first 4
// and last 4 around `...`; entries are padded (left-aligned) to a common width; shape [] or all-ones
// prints the bare value.
import { Tensor, DType } from '../lib';

describe('toString', () => {
  test('upstream examples: [1., 2., 3.] and the 2x3 matrix', () => {
    expect(Tensor.fromArray([1, 2, 3]).toString()).toBe('[1., 2., 3.]');
    expect(Tensor.fromArray([[1, 2, 3], [4, 5, 6]]).toString()).toBe('[[1., 2., 3.],\n [4., 5., 6.]]');
  });

  test('String() and template literals use it', () => {
    const t = Tensor.fromArray([[1, 2], [3, 4]]);
    expect(String(t)).toBe('[[1., 2.],\n [3., 4.]]');
    expect(`${t}`).toBe('[[1., 2.],\n [3., 4.]]');
  });

  test('f64, f16 and bf16 print like f32', () => {
    for (const dt of [DType.F64, DType.F16, DType.BF16]) expect(Tensor.fromArray([1, 2, 3], undefined, dt).toString()).toBe('[1., 2., 3.]');
  });

  test('shape [] and all-ones shapes print the bare value', () => {
    expect(Tensor.full([], 3).toString()).toBe('3.');
    expect(Tensor.fromArray([[7]]).toString()).toBe('7.');
    expect(Tensor.fromArray([[[2.5]]]).toString()).toBe('2.5');
    expect(Tensor.full([], 4, DType.I32).toString()).toBe('4');
    expect(Tensor.full([1], true, DType.BOOL).toString()).toBe('true');
  });

  test('fractions: up to 6 decimals, trailing zeros trimmed', () => {
    expect(Tensor.fromArray([0.5, 0.25], undefined, DType.F64).toString()).toBe('[0.5 , 0.25]');
    expect(Tensor.full([], 1 / 3, DType.F64).toString()).toBe('0.333333');
    expect(Tensor.full([], 0.1).toString()).toBe('0.1');
    expect(Tensor.full([], -2.125, DType.F64).toString()).toBe('-2.125');
    expect(Tensor.full([], 1234.567891678, DType.F64).toString()).toBe('1234.567892');
  });

  test('entries are padded (left-aligned) to a common width', () => {
    expect(Tensor.fromArray([1.5, 2, -3.25]).toString()).toBe('[1.5  , 2.   , -3.25]');
    expect(Tensor.fromArray([[1, 10], [100, 2]], undefined, DType.I32).toString()).toBe('[[1  , 10 ],\n [100, 2  ]]');
  });

  test('integers print plain; I64 too', () => {
    expect(Tensor.fromArray([[1, 2], [3, 4]], undefined, DType.I32).toString()).toBe('[[1, 2],\n [3, 4]]');
    expect(Tensor.fromArray([-1, 0, 5], undefined, DType.I64).toString()).toBe('[-1, 0 , 5 ]');
    expect(Tensor.fromArray([7, 8], undefined, DType.U8).toString()).toBe('[7, 8]');
  });

  test('booleans print true / false', () => {
    expect(Tensor.fromArray([true, true]).toString()).toBe('[true, true]');
    expect(Tensor.fromArray([true, false]).toString()).toBe('[true , false]');
  });

  test('3-D: depth 0 and 1 break lines, indented by depth + 1', () => {
    const t = Tensor.arange(1, 9).reshape([2, 2, 2]);
    expect(t.toString()).toBe('[[[1., 2.],\n  [3., 4.]],\n [[5., 6.],\n  [7., 8.]]]');
  });

  test('4-D: levels below depth 1 are joined by ", "', () => {
    const t = Tensor.arange(1, 9).reshape([1, 2, 2, 2]);
    expect(t.toString()).toBe('[[[[1., 2.], [3., 4.]],\n  [[5., 6.], [7., 8.]]]]');
  });

  test('a dim longer than 8 shows the first 4 and last 4 around ...', () => {
    expect(Tensor.arange(10).toString()).toBe('[0., 1., 2., 3., ..., 6., 7., 8., 9.]');
    expect(Tensor.arange(8).toString()).toBe('[0., 1., 2., 3., 4., 5., 6., 7.]');
    expect(Tensor.arange(9, undefined, 1, DType.I32).toString()).toBe('[0, 1, 2, 3, ..., 5, 6, 7, 8]');
    const m = Tensor.arange(20).reshape([10, 2]);
    expect(m.toString()).toBe(
      '[[0. , 1. ],\n [2. , 3. ],\n [4. , 5. ],\n [6. , 7. ],\n ...,\n [12., 13.],\n [14., 15.],\n [16., 17.],\n [18., 19.]]',
    );
  });

  test('NaN and infinities', () => {
    expect(Tensor.fromArray([NaN, Infinity, -Infinity]).toString()).toBe('[NaN , inf , -inf]');
  });

  test('strided views print their logical contents', () => {
    const t = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
    expect(t.t().toString()).toBe('[[1., 4.],\n [2., 5.],\n [3., 6.]]');
    expect(t.slice(1, 0, 3, 2).toString()).toBe('[[1., 3.],\n [4., 6.]]');
    expect(Tensor.fromArray([1, 2]).broadcastTo([2, 2]).toString()).toBe('[[1., 2.],\n [1., 2.]]');
  });
});
