import { Builder, DType, Tensor } from '../lib';
import { codeOf } from './helpers/assert';

// Errors are checked by code (jest runs tests in a separate realm: instanceof is unreliable).
afterEach(() => {
  // never leak an active builder into the next test
  Builder._abortActive();
});

describe('Builder lifecycle', () => {
  test('start/end/isActive', () => {
    const b = new Builder('life');
    expect(Builder.isActive()).toBe(false);
    b.start();
    expect(Builder.isActive()).toBe(true);
    b.end();
    expect(Builder.isActive()).toBe(false);
  });

  test('start while another is active -> BUILDER_ALREADY_ACTIVE', () => {
    const a = new Builder('a');
    const b = new Builder('b');
    a.start();
    expect(codeOf(() => b.start())).toBe('BUILDER_ALREADY_ACTIVE');
    expect(codeOf(() => a.start())).toBe('BUILDER_ALREADY_ACTIVE');
    a.end();
  });

  test('end with none active -> BUILDER_INACTIVE; restart after end -> BUILDER_ENDED', () => {
    const b = new Builder('x');
    expect(codeOf(() => b.end())).toBe('BUILDER_INACTIVE');
    b.start();
    b.end();
    expect(codeOf(() => b.end())).toBe('BUILDER_INACTIVE');
    expect(codeOf(() => b.start())).toBe('BUILDER_ENDED');
  });

  test('Tensor.input outside a builder -> BUILDER_INACTIVE', () => {
    expect(codeOf(() => Tensor.input('x', [2]))).toBe('BUILDER_INACTIVE');
  });

  test('duplicate output and input names -> DUPLICATE_NAME', () => {
    const b = new Builder('dup');
    b.start();
    const x = Tensor.input('x', [2]);
    expect(codeOf(() => Tensor.input('x', [3]))).toBe('DUPLICATE_NAME');
    b.addOutput('y', x.add(1));
    expect(codeOf(() => b.addOutput('y', x))).toBe('DUPLICATE_NAME');
    b.end();
  });

  test('recording checks shapes at the call site', () => {
    const b = new Builder('shapes');
    b.start();
    const x = Tensor.input('x', [2, 3]);
    const y = Tensor.input('y', [4, 5]);
    expect(codeOf(() => x.matmul(y))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => x.add(y))).toBe('SHAPE_MISMATCH');
    const z = x.matmul(Tensor.input('w', [3, 7], DType.F32));
    expect(z.shape).toEqual([2, 7]);
    expect(z.dtype).toBe(DType.F32);
    expect(x.sum(1, true).shape).toEqual([2, 1]);
    expect(x.toDtype(DType.F64).dtype).toBe(DType.F64);
    expect(x.gt(0).dtype).toBe(DType.BOOL);
    b.end();
  });

  test('a symbolic tensor has no data', () => {
    const b = new Builder('sym');
    b.start();
    const x = Tensor.input('x', [2]);
    expect(x.isSymbolic).toBe(true);
    expect(codeOf(() => x.toArray())).toBe('BUILDER_INACTIVE');
    b.end();
  });

  test('build with no outputs -> INVALID_ARGUMENT', () => {
    const b = new Builder('empty');
    b.start();
    Tensor.input('x', [2]);
    expect(codeOf(() => b.build())).toBe('INVALID_ARGUMENT');
  });

  test('the IR keeps dtype and attributes: a script reproduces a cast and a permutation', () => {
    const b = new Builder('attrs');
    b.start();
    const x = Tensor.input('x', [2, 3, 4], DType.F64);
    b.addOutput('p', x.permute([2, 0, 1]).toDtype(DType.I32));
    const s = b.build();
    expect(s.outputs[0]).toEqual({ name: 'p', dtype: DType.I32, shape: [4, 2, 3] });
    const data = Array.from({ length: 24 }, (_, i) => i * 1.5);
    s.addInput('x', Tensor.fromArray(data, [2, 3, 4], DType.F64));
    const out = s.run().p.toArray() as number[][][];
    // out[k][i][j] = trunc(x[i][j][k])
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(out[k][i][j]).toBe(Math.trunc(data[i * 12 + j * 4 + k]));
  });
});
