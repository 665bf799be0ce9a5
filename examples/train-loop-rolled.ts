// Loop rolling: the seed's training loop recorded for 1000 and 10 000 epochs. The Builder records
// every step (forward, backward, SGD update); compile() finds that the steps repeat and compiles
// one step as a loop body run N times (HODU: one plan, ping-pong state buffers; XLA: one
// stablehlo.while). Prints what recording costs (time, memory, IR size) and the compile and run
// times, rolled and, for comparison, unrolled (compile({ rollLoops: false })).
// Run: npx tsx examples/train-loop-rolled.ts
import { Backend, Builder, Script, Tensor, manualSeed, nn } from 'hodu';

const ROWS = 10000;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

const x = new Float32Array(ROWS * 3);
const y = new Float32Array(ROWS);
for (let i = 0; i < ROWS; i++) {
  const a = (i % 100) / 100;
  x.set([a, a + 0.01, a + 0.02], i * 3);
  y[i] = a;
}
const input = Tensor.fromArray(x, [ROWS, 3]);
const target = Tensor.fromArray(y, [ROWS, 1]);

function record(epochs: number): Script {
  manualSeed(0);
  const model = new nn.Linear(3, 1);
  const mse = new nn.MSE();
  const opt = new nn.SGD(0.01);
  const b = new Builder(`seed_${epochs}`);
  b.start();
  const xi = Tensor.input('input', [ROWS, 3]);
  const yi = Tensor.input('target', [ROWS, 1]);
  let loss!: Tensor;
  for (let e = 0; e < epochs; e++) {
    loss = mse.forward([model.forward(xi), yi]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
  }
  b.addOutput('loss', loss);
  b.addOutput('weight', model.weight);
  b.addOutput('bias', model.bias!);
  b.end();
  return b.build();
}

function xlaAvailable(): boolean {
  try {
    Script.fromBytes(record(1).toBytes()).setBackend(Backend.XLA).addInput('input', input).addInput('target', target).compile();
    return true;
  } catch {
    return false;
  }
}

const withXla = xlaAvailable();
for (const epochs of [1000, 10000]) {
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  const script = record(epochs);
  const recordMs = ms(t0);
  const heap = process.memoryUsage().heapUsed - heap0;
  const ir = script.toBytes().length;
  console.log(`${epochs} epochs: recorded in ${recordMs.toFixed(0)} ms (JS heap +${mb(heap)}), script file ${mb(ir)}`);
  const backends = withXla ? [Backend.HODU, Backend.XLA] : [Backend.HODU];
  for (const backend of backends)
    for (const rollLoops of [true, false]) {
      if (!rollLoops && (backend === Backend.XLA || epochs > 1000)) continue; // unrolled XLA takes 25-45 s at 1000 epochs
      const s = Script.fromBytes(script.toBytes()).setBackend(backend).addInput('input', input).addInput('target', target);
      const c0 = process.hrtime.bigint();
      s.compile({ rollLoops });
      const compileMs = ms(c0);
      const r0 = process.hrtime.bigint();
      const out = s.run();
      const runMs = ms(r0);
      const loops = s.planInfo().loops.map((l) => `loop of ${l.trips}`).join(', ') || 'no loop';
      console.log(
        `  ${backend === Backend.XLA ? 'XLA ' : 'HODU'} ${rollLoops ? 'rolled  ' : 'unrolled'}: ${loops.padEnd(14)} compile ${compileMs.toFixed(0).padStart(5)} ms, ` +
          `run ${runMs.toFixed(1).padStart(6)} ms, loss ${out.loss.item().toExponential(3)}, weight ${JSON.stringify(out.weight.toArray())}`,
      );
    }
}
if (!withXla) console.log('(XLA rows skipped: no PJRT plugin; `node scripts/deps.js --pjrt` fetches the CPU one)');
