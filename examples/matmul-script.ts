// The seed's first example: record a matmul once, compile once, run it with new inputs.
// Run: npx tsx examples/matmul-script.ts   (after `npm run demo` or `npm run build`)
import { Builder, DType, Tensor } from 'hodu';

const builder = new Builder('my_script');
builder.start();
const x = Tensor.input('x', [2, 3]);
const y = Tensor.input('y', [3, 4]);
builder.addOutput('result', x.matmul(y));
builder.end();

const script = builder.build();
console.log('inputs:', script.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape}]`).join(', '));

script.addInput('x', Tensor.randn([2, 3], DType.F32));
script.addInput('y', Tensor.randn([3, 4], DType.F32));
let t0 = process.hrtime.bigint();
const result = script.run()['result']; // compiles on first run
console.log(`first run (compile + run): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)} ms`);
console.log(`result =\n${result}`);

// new inputs: no recompilation
script.addInput('x', Tensor.ones([2, 3]));
t0 = process.hrtime.bigint();
const again = script.run()['result'];
console.log(`second run: ${(Number(process.hrtime.bigint() - t0) / 1e3).toFixed(1)} µs`);
console.log(`ones @ y =\n${again}`);
