// runAsync rejections carry the stack of the call that started the run (the error itself is made
// on a worker thread, where no JavaScript stack exists).
import { Builder, DType, Tensor } from '../lib';

afterEach(() => Builder._abortActive());

function startRunFromHere(): Promise<unknown> {
  const b = new Builder('async_stack');
  b.start();
  const x = Tensor.input('x', [3]);
  const i = Tensor.input('i', [2], DType.I64);
  b.addOutput('y', x.indexSelect(0, i));
  b.end();
  const s = b.build();
  s.addInput('x', Tensor.fromArray([1, 2, 3], [3]));
  s.addInput('i', Tensor.fromArray([0, 7], [2], DType.F64).toDtype(DType.I64)); // 7 is out of range
  return s.runAsync();
}

test('a run-time error of runAsync names its caller in the stack', async () => {
  let err: { code?: string; stack?: string; message?: string } = {};
  try {
    await startRunFromHere();
  } catch (e) {
    err = e as typeof err;
  }
  expect(err.code).toBeDefined();
  expect(err.code).not.toBe('INTERNAL');
  expect(err.stack).toContain('startRunFromHere');
  expect(err.stack).toContain(String(err.message));
});
