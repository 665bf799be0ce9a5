// A short tour of hodu: create tensors, run ops in dynamic mode, a oneDNN matmul with timings.
// Run with `npm run demo`.
import { DType, Tensor, manualSeed, versions } from 'hodu';

function time<T>(label: string, f: () => T, reps = 1): T {
  let out!: T;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) out = f();
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / reps;
  console.log(`  ${label}: ${us < 1000 ? `${us.toFixed(1)} µs` : `${(us / 1000).toFixed(2)} ms`}`);
  return out;
}

const v = versions();
console.log(`hodu ${v.hodu} on oneDNN ${v.onednn}, ${v.threads} threads\n`);

console.log('— tensors');
const a = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
console.log(`a =\n${a}`);
console.log(`a.shape = [${a.shape}], dtype = ${a.dtype}, size = ${a.size}`);
console.log(`a.t() =\n${a.t()}`);
console.log(`zeros([2, 2], I32) = ${Tensor.zeros([2, 2], DType.I32)}`);
console.log(`arange(0, 1, 0.25) = ${Tensor.arange(0, 1, 0.25)}`);
manualSeed(42);
console.log(`randn([3]) after manualSeed(42) = ${Tensor.randn([3])}\n`);

console.log('— ops (numpy broadcasting, strided views)');
const b = Tensor.fromArray([10, 20, 30]);
console.log(`a + b =\n${a.add(b)}`);
console.log(`a.t() * 2 =\n${a.t().mul(2)}`);
console.log(`relu(a - 3) =\n${a.sub(3).relu()}`);
console.log(`a.sum() = ${a.sum()}, a.mean(1) = ${a.mean(1)}, a.std() = ${a.std()}`);
console.log(`a.softmax(1) =\n${a.softmax(1)}`);
console.log(`a.argmax(1) = ${a.argmax(1)}\n`);

console.log('— matmul on oneDNN');
const small = a.matmul(Tensor.fromArray([[1, 0], [0, 1], [1, 1]]));
console.log(`[[1,2,3],[4,5,6]] @ [[1,0],[0,1],[1,1]] =\n${small}`);
const n = 1024;
const x = Tensor.randn([n, n]);
const y = Tensor.randn([n, n]);
x.matmul(y); // warm-up: creates the oneDNN primitive
const t0 = process.hrtime.bigint();
const reps = 10;
for (let i = 0; i < reps; i++) x.matmul(y).dispose();
const sec = Number(process.hrtime.bigint() - t0) / 1e9 / reps;
console.log(`  matmul ${n}x${n}x${n}: ${(sec * 1e3).toFixed(2)} ms, ${((2 * n ** 3) / sec / 1e9).toFixed(0)} GFLOP/s`);

console.log('\n— per-op call overhead');
const one = Tensor.ones([16]);
time('add of 16 floats', () => one.add(one), 20000);
time('relu of 1M floats', () => Tensor.ones([1 << 20]).relu(), 20);
