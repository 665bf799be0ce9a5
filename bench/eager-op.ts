// Bench: the per-op cost of dynamic (eager) mode on tiny tensors, where the op's own work is
// negligible: JS wrapping, N-API, kernel lookup or creation. The eager kernel cache
// (native/kernels/kernel_cache.h) on and off, interleaved over rounds in this one process.
//   node --import tsx bench/eager-op.ts [--rounds 9]
import { Tensor } from '../lib';
import { binding } from '../lib/native';

const i = process.argv.indexOf('--rounds');
const ROUNDS = i >= 0 ? Number(process.argv[i + 1]) : 9;
const cases: [string, () => unknown][] = (() => {
  const a4 = Tensor.randn([4]), b4 = Tensor.randn([4]);
  const m = Tensor.randn([2, 3]), n = Tensor.randn([3, 2]);
  const x = Tensor.randn([1, 2, 6, 6]), w = Tensor.randn([3, 2, 3, 3]);
  return [
    ['add [4]', () => a4.add(b4)],
    ['relu [4]', () => a4.relu()],
    ['sum [2,3]', () => m.sum()],
    ['matmul [2,3]x[3,2]', () => m.matmul(n)],
    ['softmax [2,3]', () => m.softmax(1)],
    ['conv2d [1,2,6,6] k3', () => x.conv2d(w, null)],
  ];
})();
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const cap = binding.kernelCache().capacity;
console.log('µs per op: median over rounds (min)');
for (const [name, f] of cases) {
  const r: Record<string, number[]> = { on: [], off: [] };
  for (let k = 0; k < ROUNDS; k++)
    for (const v of ['on', 'off']) {
      binding.kernelCache(v === 'on' ? cap : 0);
      for (let j = 0; j < 20; j++) f();
      const reps = 300;
      const t0 = process.hrtime.bigint();
      for (let j = 0; j < reps; j++) f();
      r[v].push(Number(process.hrtime.bigint() - t0) / 1e3 / reps);
    }
  const s = (v: string) => `${med(r[v]).toFixed(1).padStart(7)} (${Math.min(...r[v]).toFixed(1)})`;
  console.log(`${name.padEnd(22)} cache on ${s('on')}   off ${s('off')}   off/on ${(med(r.off) / med(r.on)).toFixed(1)}x`);
}
binding.kernelCache(cap);
