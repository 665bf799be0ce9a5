// MLP inference in script mode: weights become constants of the graph, the batch is an input.
// The script is saved to disk and loaded back, as a server would at start-up.
// Run: npx tsx examples/mlp-inference.ts
import * as os from 'os';
import * as path from 'path';
import { Builder, Script, Tensor, manualSeed } from 'hodu';

manualSeed(0);
const layer = (i: number, o: number) => ({ w: Tensor.randn([i, o], undefined, 0, Math.sqrt(2 / i)), b: Tensor.zeros([o]) });
const l1 = layer(784, 512);
const l2 = layer(512, 512);
const l3 = layer(512, 10);

const builder = new Builder('mlp');
builder.start();
const x = Tensor.input('x', [64, 784]);
const h1 = x.matmul(l1.w).add(l1.b).relu();
const h2 = h1.matmul(l2.w).add(l2.b).relu();
builder.addOutput('probs', h2.matmul(l3.w).add(l3.b).softmax(1));
builder.end();
const script = builder.build();

const file = script.save(path.join(os.tmpdir(), 'hodu-mlp-example'));
console.log(`saved ${file}`);
const loaded = Script.load(file);

const batch = Tensor.rand([64, 784]);
loaded.addInput('x', batch);
let t0 = process.hrtime.bigint();
loaded.compile();
console.log(`compile: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)} ms`);

const runs = 200;
t0 = process.hrtime.bigint();
let probs!: Tensor;
for (let i = 0; i < runs; i++) probs = loaded.run()['probs'];
console.log(`run: ${(Number(process.hrtime.bigint() - t0) / 1e3 / runs).toFixed(1)} µs per batch of 64`);
console.log(`class of the first 8 rows: ${(probs.argmax(1).toArray() as number[]).slice(0, 8)}`);
console.log(`rows sum to 1: ${(probs.sum(1).toArray() as number[]).slice(0, 4)}`);
console.log('plan:', loaded.planInfo().kernels.join(' | '));
