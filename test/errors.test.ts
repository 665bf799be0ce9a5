// The error contract of eager ops (SPEC §2 "Errors"): which code for which mistake, that every
// message names the bad value, DISPOSED after dispose(), and that errors are HoduErrors (checked by
// name and code, never instanceof: jest runs tests in another realm than the addon).
import { Tensor, DType, manualSeed, concat, where, HoduError, ErrorCode } from '../lib';
import { expectHoduError } from './helpers/assert';

const A = () => Tensor.ones([2, 3]);

function caught(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Record<string, unknown>;
  }
  throw new Error('expected an error');
}

describe('HoduError', () => {
  test('has name HoduError, a known code, a message and a stack', () => {
    const e = caught(() => A().add(Tensor.ones([4])));
    expect(e.name).toBe('HoduError');
    expect(Object.values(ErrorCode)).toContain(e.code);
    expect(typeof e.message).toBe('string');
    expect(String(e.message).length).toBeGreaterThan(10);
    expect(typeof e.stack).toBe('string');
  });

  test('errors raised in the native core also arrive as HoduError with the native message', () => {
    const e = caught(() => A().matmul(Tensor.ones([4, 5])));
    expect(e.name).toBe('HoduError');
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(String(e.message)).toMatch(/matmul/);
  });

  test('the exported class and codes', () => {
    const e = new HoduError(ErrorCode.INTERNAL, 'x');
    expect(e.name).toBe('HoduError');
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toBe('x');
    for (const c of [
      'BUILDER_INACTIVE', 'BUILDER_ALREADY_ACTIVE', 'BUILDER_ENDED', 'DUPLICATE_NAME', 'INPUT_MISSING', 'INPUT_UNKNOWN',
      'SHAPE_MISMATCH', 'DTYPE_MISMATCH', 'INVALID_ARGUMENT', 'GRADIENT_NOT_COMPUTED', 'DISPOSED', 'INVALID_FILE',
      'BACKEND_UNAVAILABLE', 'DEVICE_UNAVAILABLE', 'COMPILE_FAILED', 'INTERNAL',
    ])
      expect((ErrorCode as Record<string, string>)[c]).toBe(c);
  });
});

describe('SHAPE_MISMATCH: shapes that do not fit', () => {
  test.each([
    ['add', () => A().add(Tensor.ones([4])), /\[2, 3\]/, /\[4\]/],
    ['sub', () => A().sub(Tensor.ones([3, 2])), /\[2, 3\]/, /\[3, 2\]/],
    ['mul', () => Tensor.ones([4]).mul(A()), /\[4\]/, /\[2, 3\]/],
    ['maximum', () => A().maximum(Tensor.ones([2, 1, 4])), /\[2, 3\]/, /\[2, 1, 4\]/],
    ['eq', () => A().eq(Tensor.ones([2])), /\[2, 3\]/, /\[2\]/],
    ['logicalAnd', () => A().logicalAnd(Tensor.ones([5])), /\[2, 3\]/, /\[5\]/],
    ['pow with a strided operand', () => A().t().pow(Tensor.ones([3])), /\[3, 2\]/, /\[3\]/],
  ])('broadcast in %s names both shapes', (_n, f, r1, r2) => {
    expectHoduError(f, 'SHAPE_MISMATCH', r1, r2);
  });

  test('broadcast message names both shapes exactly', () => {
    expectHoduError(() => A().add(Tensor.ones([4])), 'SHAPE_MISMATCH', /\[2, 3\]/, /\[4\]/);
  });

  test('where', () => {
    expectHoduError(() => where(Tensor.ones([2], DType.BOOL), A(), 0), 'SHAPE_MISMATCH', /\[2\]/, /\[2, 3\]/);
  });

  test('matmul inner dims', () => {
    expectHoduError(() => A().matmul(Tensor.ones([2, 3])), 'SHAPE_MISMATCH', /\[2, 3\]/);
    expectHoduError(() => Tensor.ones([5, 2, 7]).matmul(Tensor.ones([5, 6, 7])), 'SHAPE_MISMATCH', /\[5, 2, 7\]/, /\[5, 6, 7\]/);
  });

  test('matmul batch dims', () => {
    expectHoduError(() => Tensor.ones([2, 2, 3]).matmul(Tensor.ones([4, 3, 2])), 'SHAPE_MISMATCH');
  });

  test('reshape element count', () => {
    expectHoduError(() => A().reshape([4]), 'SHAPE_MISMATCH', /\[2, 3\]/, /\[4\]/);
    expectHoduError(() => A().reshape([5, -1]), 'SHAPE_MISMATCH', /\[2, 3\]/, /\[5, -1\]/);
    expectHoduError(() => A().t().reshape([7]), 'SHAPE_MISMATCH', /\[7\]/);
    expectHoduError(() => A().flatten().reshape([2, 2]), 'SHAPE_MISMATCH', /\[2, 2\]/);
  });

  test('concat', () => {
    expectHoduError(() => concat([A(), Tensor.ones([3, 3])], 1), 'SHAPE_MISMATCH', /\[3, 3\]/, /\[2, 3\]/);
    expectHoduError(() => Tensor.concat([A(), Tensor.ones([6])], 0), 'SHAPE_MISMATCH', /\[6\]/);
  });

  test('conv2d channels', () => {
    expectHoduError(() => Tensor.ones([1, 3, 8, 8]).conv2d(Tensor.ones([4, 2, 3, 3])), 'SHAPE_MISMATCH', /\[4, 2, 3, 3\]/, /\[1, 3, 8, 8\]/);
  });

  test('broadcastTo / expand', () => {
    expectHoduError(() => A().broadcastTo([4, 3]), 'SHAPE_MISMATCH', /\[2, 3\]/, /\[4, 3\]/);
    expectHoduError(() => A().expand([3]), 'SHAPE_MISMATCH', /\[2, 3\]/);
  });

  test('fromArray count vs shape', () => {
    expectHoduError(() => Tensor.fromArray([1, 2, 3], [2, 2]), 'SHAPE_MISMATCH', /\[2, 2\]/);
  });

  test('split sizes', () => {
    expectHoduError(() => A().split([1, 1], 1), 'SHAPE_MISMATCH', /\[1, 1\]/);
  });
});

describe('INVALID_ARGUMENT: dims, permutations, kernels, ragged arrays, NaN integers', () => {
  test.each([
    ['sum', () => A().sum(2), /2/],
    ['mean (negative)', () => A().mean(-3), /-3/],
    ['max (array)', () => A().max([0, 4]), /4/],
    ['argmax', () => A().argmax(5), /5/],
    ['softmax', () => A().softmax(2), /2/],
    ['logSoftmax', () => A().logSoftmax(-5), /-5/],
    ['transpose', () => A().transpose(0, 2), /2/],
    ['unsqueeze', () => A().unsqueeze(3), /3/],
    ['squeeze', () => A().squeeze(-3), /-3/],
    ['flatten', () => A().flatten(0, 4), /4/],
    ['narrow', () => A().narrow(2, 0, 1), /2/],
    ['slice', () => A().slice(-3, 0, 1), /-3/],
    ['split', () => A().split(1, 2), /2/],
    ['chunk', () => A().chunk(2, 9), /9/],
    ['indexSelect', () => A().indexSelect(2, [0]), /2/],
    ['gather', () => A().gather(2, Tensor.zeros([2, 3], DType.I64)), /2/],
    ['concat', () => concat([A(), A()], 2), /2/],
  ])('dim out of range in %s names the dim', (_n, f, re) => {
    expectHoduError(f, 'INVALID_ARGUMENT', re);
  });

  test('dim out of range message gives the valid range', () => {
    expectHoduError(() => A().sum(2), 'INVALID_ARGUMENT', /2/, /rank 2/);
  });

  test('dims on a shape [] tensor', () => {
    expectHoduError(() => Tensor.full([], 1).sum(0), 'INVALID_ARGUMENT', /0/);
    expectHoduError(() => Tensor.full([], 1).softmax(0), 'INVALID_ARGUMENT');
  });

  test('bad permutations', () => {
    const t = Tensor.ones([2, 3, 4]);
    expectHoduError(() => t.permute([0, 1, 1]), 'INVALID_ARGUMENT', /\[0, 1, 1\]/);
    expectHoduError(() => t.permute([2, 0]), 'INVALID_ARGUMENT', /2/);
    expectHoduError(() => t.permute([0, 1, 2, 3]), 'INVALID_ARGUMENT', /4|3/);
    expectHoduError(() => t.permute([0, 1, 5]), 'INVALID_ARGUMENT', /5/);
  });

  test('non-positive kernel / stride / dilation / groups', () => {
    const x = Tensor.ones([1, 2, 6, 6]);
    const w = Tensor.ones([2, 2, 3, 3]);
    expectHoduError(() => x.maxPool2d({ kernel: 0 }), 'INVALID_ARGUMENT', /kernel/);
    expectHoduError(() => x.avgPool2d({ kernel: [2, -1] }), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => x.maxPool2d({ kernel: 2, stride: 0 }), 'INVALID_ARGUMENT', /stride/);
    expectHoduError(() => x.avgPool2d({ kernel: 2, stride: -1 }), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => x.conv2d(w, null, { stride: 0 }), 'INVALID_ARGUMENT', /stride/);
    expectHoduError(() => x.conv2d(w, null, { stride: [1, -2] }), 'INVALID_ARGUMENT', /-2/);
    expectHoduError(() => x.conv2d(w, null, { dilation: 0 }), 'INVALID_ARGUMENT', /dilation/);
    expectHoduError(() => x.conv2d(w, null, { groups: -1 }), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => x.conv2d(w, null, { padding: -1 }), 'INVALID_ARGUMENT', /-1/);
    expectHoduError(() => x.maxPool2d({ kernel: 2, padding: -1 }), 'INVALID_ARGUMENT', /-1/);
  });

  test('ragged nested arrays', () => {
    expectHoduError(() => Tensor.fromArray([[1, 2, 3], [4, 5]]), 'INVALID_ARGUMENT', /\[1\]/, /length 2/);
    expectHoduError(() => Tensor.fromArray([[1], 2] as unknown as number[][]), 'INVALID_ARGUMENT', /\[1\]/);
  });

  test.each([
    ['reshape', () => A().reshape([NaN, 6])],
    ['sum dim', () => A().sum(NaN)],
    ['softmax dim', () => A().softmax(NaN)],
    ['transpose', () => A().transpose(NaN, 0)],
    ['unsqueeze', () => A().unsqueeze(NaN)],
    ['narrow length', () => A().narrow(0, 0, NaN)],
    ['slice start', () => A().slice(0, NaN)],
    ['slice step', () => A().slice(0, 0, 2, NaN)],
    ['split', () => A().split(NaN)],
    ['chunk', () => A().chunk(NaN)],
    ['zeros shape', () => Tensor.zeros([NaN])],
    ['full shape', () => Tensor.full([2, NaN], 1)],
    ['arange', () => Tensor.arange(0, NaN)],
    ['conv2d stride', () => Tensor.ones([1, 1, 4, 4]).conv2d(Tensor.ones([1, 1, 2, 2]), null, { stride: NaN })],
    ['conv2d groups', () => Tensor.ones([1, 1, 4, 4]).conv2d(Tensor.ones([1, 1, 2, 2]), null, { groups: NaN })],
    ['maxPool2d kernel', () => Tensor.ones([1, 1, 4, 4]).maxPool2d({ kernel: NaN })],
    ['avgPool2d stride', () => Tensor.ones([1, 1, 4, 4]).avgPool2d({ kernel: 2, stride: NaN })],
    ['indexSelect dim', () => A().indexSelect(NaN, [0])],
    ['concat dim', () => concat([A(), A()], NaN)],
    ['permute', () => Tensor.ones([2, 3]).permute([0, NaN])],
    ['manualSeed', () => manualSeed(NaN)],
  ])('NaN where an integer is needed: %s', (_n, f) => {
    expectHoduError(f, 'INVALID_ARGUMENT', /nan/i);
  });

  test('non-integers where an integer is needed name the value', () => {
    expectHoduError(() => A().reshape([1.5, 4]), 'INVALID_ARGUMENT', /1\.5/);
    expectHoduError(() => A().sum(0.5), 'INVALID_ARGUMENT', /0\.5/);
    expectHoduError(() => Tensor.zeros([2.5]), 'INVALID_ARGUMENT', /2\.5/);
  });

  test('negative sizes and unknown dtypes', () => {
    expectHoduError(() => Tensor.zeros([3, -2]), 'INVALID_ARGUMENT', /-2/);
    expectHoduError(() => Tensor.ones([2], 'float32' as DType), 'INVALID_ARGUMENT', /'float32'/);
    expectHoduError(() => A().toDtype('int' as DType), 'INVALID_ARGUMENT', /'int'/);
  });

  test('clamp with NaN bounds', () => {
    expectHoduError(() => A().clamp(NaN, 1), 'INVALID_ARGUMENT', /NaN/);
  });

  test('indices out of range', () => {
    expectHoduError(() => A().indexSelect(1, [0, 3]), 'INVALID_ARGUMENT', /3/);
    expectHoduError(() => A().gather(0, Tensor.fromArray([[0, 2, 0]], undefined, DType.I64)), 'INVALID_ARGUMENT', /2/);
  });

  test('item on more than one element', () => {
    expectHoduError(() => A().item(), 'INVALID_ARGUMENT', /\[2, 3\]/);
  });

  test('non-tensor operands', () => {
    expectHoduError(() => A().add('1' as unknown as number), 'INVALID_ARGUMENT', /'1'/);
    expectHoduError(() => A().matmul([[1]] as unknown as Tensor), 'INVALID_ARGUMENT');
    expectHoduError(() => concat([A(), 3 as unknown as Tensor]), 'INVALID_ARGUMENT', /3/);
  });
});

describe('DTYPE_MISMATCH: mixed dtypes and unsupported dtypes', () => {
  test.each([
    ['add f32 + f64', () => A().add(Tensor.ones([2, 3], DType.F64)), /f32/, /f64/],
    ['mul i32 * f32', () => Tensor.ones([3], DType.I32).mul(Tensor.ones([3])), /i32/, /f32/],
    ['sub i32 - i64', () => Tensor.ones([3], DType.I32).sub(Tensor.ones([3], DType.I64)), /i32/, /i64/],
    ['lt f16 < f32', () => Tensor.ones([3], DType.F16).lt(Tensor.ones([3])), /f16/, /f32/],
    ['matmul f32 · f64', () => A().matmul(Tensor.ones([3, 2], DType.F64)), /f32/, /f64/],
    ['concat f32, i32', () => concat([A(), Tensor.ones([2, 3], DType.I32)]), /f32/, /i32/],
    ['where f32 / i64', () => where(Tensor.ones([3], DType.BOOL), Tensor.ones([3]), Tensor.ones([3], DType.I64)), /f32/, /i64/],
    ['conv2d f32 input, f64 weight', () => Tensor.ones([1, 1, 3, 3]).conv2d(Tensor.ones([1, 1, 2, 2], DType.F64)), /f32/, /f64/],
  ])('%s', (_n, f, r1, r2) => {
    expectHoduError(f, 'DTYPE_MISMATCH', r1, r2);
  });

  test.each([
    ['sqrt of i32', () => Tensor.ones([2], DType.I32).sqrt(), /i32/],
    ['exp of i64', () => Tensor.ones([2], DType.I64).exp(), /i64/],
    ['sigmoid of u8', () => Tensor.ones([2], DType.U8).sigmoid(), /u8/],
    ['ln of bool', () => Tensor.ones([2], DType.BOOL).ln(), /bool/],
    ['softmax of i32', () => Tensor.ones([2], DType.I32).softmax(0), /i32/],
    ['mean of i32', () => Tensor.ones([2], DType.I32).mean(), /i32/],
    ['conv2d of i32', () => Tensor.ones([1, 1, 3, 3], DType.I32).conv2d(Tensor.ones([1, 1, 2, 2], DType.I32)), /i32/],
    ['maxPool2d of i32', () => Tensor.ones([1, 1, 4, 4], DType.I32).maxPool2d({ kernel: 2 }), /i32/],
    ['randn of i32', () => Tensor.randn([2], DType.I32), /i32/],
    ['indexSelect with f32 indices', () => A().indexSelect(0, Tensor.fromArray([0, 1])), /f32/],
  ])('%s', (_n, f, re) => {
    expectHoduError(f, 'DTYPE_MISMATCH', re);
  });

  test('requiresGrad on an integer or bool tensor', () => {
    expectHoduError(() => {
      Tensor.ones([2], DType.I32).requiresGrad = true;
    }, 'DTYPE_MISMATCH', /i32/);
    expectHoduError(() => Tensor.ones([2], DType.BOOL).setRequiresGrad(true), 'DTYPE_MISMATCH', /bool/);
    expectHoduError(() => Tensor.ones([2], DType.I64).setRequiresGrad(), 'DTYPE_MISMATCH', /i64/);
  });

  test('requiresGrad on float dtypes is fine; false on an integer tensor is fine', () => {
    for (const dt of [DType.F16, DType.BF16, DType.F32, DType.F64]) {
      const t = Tensor.ones([2], dt);
      t.requiresGrad = true;
      expect(t.requiresGrad).toBe(true);
    }
    const i = Tensor.ones([2], DType.I32);
    i.requiresGrad = false;
    expect(i.requiresGrad).toBe(false);
  });

  test('a JS number or a BOOL operand never causes DTYPE_MISMATCH', () => {
    expect(() => Tensor.ones([2], DType.I32).add(2)).not.toThrow();
    expect(() => Tensor.ones([2], DType.F16).mul(0.5)).not.toThrow();
    expect(() => Tensor.ones([2]).add(Tensor.ones([2], DType.BOOL))).not.toThrow();
    expect(() => Tensor.ones([2], DType.BOOL).mul(Tensor.ones([2], DType.I64))).not.toThrow();
  });
});

describe('DISPOSED', () => {
  test.each([
    ['add', (t: Tensor) => t.add(1)],
    ['add as the right operand', (t: Tensor) => Tensor.ones([2, 3]).add(t)],
    ['sum', (t: Tensor) => t.sum()],
    ['reshape', (t: Tensor) => t.reshape([6])],
    ['transpose', (t: Tensor) => t.t()],
    ['toArray', (t: Tensor) => t.toArray()],
    ['toTypedArray', (t: Tensor) => t.toTypedArray()],
    ['item', (t: Tensor) => t.item()],
    ['toDtype', (t: Tensor) => t.toDtype(DType.F64)],
    ['contiguous', (t: Tensor) => t.contiguous()],
    ['detach', (t: Tensor) => t.detach()],
    ['matmul', (t: Tensor) => t.matmul(Tensor.ones([3, 1]))],
    ['concat', (t: Tensor) => concat([t, t])],
    ['where', (t: Tensor) => where(Tensor.ones([2, 3], DType.BOOL), t, 0)],
    ['zerosLike', (t: Tensor) => Tensor.zerosLike(t).add(t)],
    ['requiresGrad', (t: Tensor) => t.setRequiresGrad(true)],
  ])('%s after dispose() → DISPOSED naming the tensor', (_n, f) => {
    const t = A();
    t.dispose();
    expectHoduError(() => f(t), 'DISPOSED', /\[2, 3\]/);
  });

  test('[Symbol.dispose] disposes too; dispose twice is harmless', () => {
    const t = A();
    t[Symbol.dispose]();
    t.dispose();
    expectHoduError(() => t.add(1), 'DISPOSED');
  });

  test('a view keeps working after its base is disposed (shared memory stays alive)', () => {
    const t = Tensor.fromArray([[1, 2], [3, 4]]);
    const v = t.t();
    const r = t.reshape([4]);
    t.dispose();
    expect(v.toArray()).toEqual([[1, 3], [2, 4]]);
    expect(r.toArray()).toEqual([1, 2, 3, 4]);
    v.dispose();
    expect(r.toArray()).toEqual([1, 2, 3, 4]);
  });

  test('disposing a view leaves the base usable', () => {
    const t = Tensor.fromArray([1, 2, 3]);
    const v = t.slice(0, 1);
    v.dispose();
    expect(t.toArray()).toEqual([1, 2, 3]);
    expectHoduError(() => v.toArray(), 'DISPOSED');
  });
});

describe('other codes reachable from eager code', () => {
  test('Tensor.input outside a builder → BUILDER_INACTIVE naming the input', () => {
    expectHoduError(() => Tensor.input('x', [2, 3]), 'BUILDER_INACTIVE', /'x'/);
  });

  test('an impossible allocation is a HoduError, not a RangeError or a crash', () => {
    const e = caught(() => Tensor.zeros([1_000_000, 1_000_000]));
    expect(e.name).toBe('HoduError');
    expect(['INVALID_ARGUMENT', 'INTERNAL']).toContain(e.code);
  });

  test('a rank above the maximum → INVALID_ARGUMENT naming the rank', () => {
    expectHoduError(() => Tensor.zeros(new Array(17).fill(1)), 'INVALID_ARGUMENT', /17/);
  });
});
