// The seed's training example, in dynamic mode and in script mode: Linear(3, 1) + MSE + SGD(0.01),
// 1000 full-batch epochs on x = [a, a+0.01, a+0.02], target a, a = (i mod 100) / 100.
// Script mode records the 1000 epochs (forward, backward, update) into one graph.
// Run: npx tsx examples/train-linear.ts [epochs]
import { Builder, Tensor, manualSeed, nn } from 'hodu';

const EPOCHS = Number(process.argv[2] ?? 1000);
const N = 10000;

function data(): { input: Tensor; target: Tensor } {
  const x = new Float32Array(N * 3);
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const a = (i % 100) / 100;
    x.set([a, a + 0.01, a + 0.02], i * 3);
    y[i] = a;
  }
  return { input: Tensor.fromArray(x, [N, 3]), target: Tensor.fromArray(y, [N, 1]) };
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const { input, target } = data();

// ---- dynamic mode
manualSeed(0);
const linear = new nn.Linear(3, 1);
const w0 = linear.weight.toArray();
const b0 = linear.bias!.toArray();
const mse = new nn.MSE();
const sgd = new nn.SGD(0.01);
let t0 = process.hrtime.bigint();
let loss!: Tensor;
for (let epoch = 1; epoch <= EPOCHS; epoch++) {
  loss = mse.forward([linear.forward(input), target]);
  loss.backward();
  sgd.step(linear.parameters());
  sgd.zeroGrad(linear.parameters());
  if (epoch % 100 === 0) console.log(`dynamic epoch ${epoch}: loss ${loss.item().toExponential(3)}`);
}
console.log(`dynamic: ${EPOCHS} epochs in ${ms(t0).toFixed(0)} ms; final loss ${loss.item().toExponential(3)}; weight ${linear.weight} bias ${linear.bias}\n`);

// ---- script mode, from the same initial weights
const model = new nn.Linear(3, 1);
model.weight = Tensor.fromArray(w0 as number[][]).setRequiresGrad(true);
model.bias = Tensor.fromArray(b0 as number[]).setRequiresGrad(true);
const opt = new nn.SGD(0.01);
t0 = process.hrtime.bigint();
const builder = new Builder('train_linear');
builder.start();
const x = Tensor.input('input', [N, 3]);
const y = Tensor.input('target', [N, 1]);
let last!: Tensor;
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  last = mse.forward([model.forward(x), y]);
  last.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
}
builder.addOutput('loss', last);
builder.addOutput('weight', model.weight);
builder.addOutput('bias', model.bias!);
builder.end();
const script = builder.build();
console.log(`script: recorded in ${ms(t0).toFixed(0)} ms`);
script.addInput('input', input).addInput('target', target);
t0 = process.hrtime.bigint();
script.compile();
console.log(`script: compiled in ${ms(t0).toFixed(0)} ms (${script.planInfo().steps} kernel steps)`);
t0 = process.hrtime.bigint();
const out = script.run();
console.log(`script: ran in ${ms(t0).toFixed(0)} ms; final loss ${out.loss.item().toExponential(3)}; weight ${out.weight} bias ${out.bias}`);
