// One configuration of the loop-rolling rows of `npm run bench`, in its own process so that its
// peak RSS is its own: records the seed's training script (Linear(3,1), MSE, SGD(0.01) over 10 000
// rows) for E epochs, compiles it rolled or unrolled on a backend, runs it, prints one JSON line.
//   node --import tsx bench/seed-loop.ts <epochs> <hodu|xla> <rolled|unrolled>
import * as fs from 'fs';
import { Backend, Builder, Script, Tensor, manualSeed, nn } from 'hodu';

const [epochs, backend, mode] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const ROWS = 10000;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const peakRssMB = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

const x = new Float32Array(ROWS * 3);
const y = new Float32Array(ROWS);
for (let i = 0; i < ROWS; i++) {
  const a = (i % 100) / 100;
  x.set([a, a + 0.01, a + 0.02], i * 3);
  y[i] = a;
}
manualSeed(0);
const model = new nn.Linear(3, 1);
const mse = new nn.MSE();
const opt = new nn.SGD(0.01);
const t0 = process.hrtime.bigint();
const b = new Builder(`seed_${epochs}`);
b.start();
const xi = Tensor.input('input', [ROWS, 3]);
const yi = Tensor.input('target', [ROWS, 1]);
let last!: Tensor;
for (let e = 0; e < epochs; e++) {
  last = mse.forward([model.forward(xi), yi]);
  last.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
}
b.addOutput('loss', last);
b.addOutput('weight', model.weight);
b.end();
const script: Script = b.build();
const recordMs = ms(t0);
const irBytes = script.toBytes().length;
script.setBackend(backend === 'xla' ? Backend.XLA : Backend.HODU);
script.addInput('input', Tensor.fromArray(x, [ROWS, 3])).addInput('target', Tensor.fromArray(y, [ROWS, 1]));
const c0 = process.hrtime.bigint();
script.compile({ rollLoops: mode === 'rolled', cache: false });  // compile time, not a cache load
const compileMs = ms(c0);
const times: number[] = [];
let loss = NaN;
for (let r = 0; r < 5; r++) {
  const r0 = process.hrtime.bigint();
  loss = script.run().loss.item();
  times.push(ms(r0));
}
times.sort((p, q) => p - q);
const loops = script.planInfo().loops.map((l) => l.trips);
console.log(JSON.stringify({ epochs, backend, mode, recordMs, irBytes, compileMs, runMs: times[2], peakRssMB: peakRssMB(), loss, loops }));
