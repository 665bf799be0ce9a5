// Writes the seed corpora of the native fuzzers (scripts/fuzz.js): real scripts built with the
// package (dist/): .hoduscript files into <dir>/scripts, their IR bytes into <dir>/ir.
'use strict';
const fs = require('fs');
const path = require('path');
const { Builder, Tensor, Script } = require('../../dist');

const dir = process.argv[2];
const seeds = [];
function record(name, fn) {
  const b = new Builder(name);
  b.start();
  try {
    fn(b);
  } finally {
    b.end();
  }
  seeds.push([name, b.build()]);
}
const w = (shape, k = 1) => Tensor.rand(shape).mul(k);

record('mlp', (b) => {
  const x = Tensor.input('x', [4, 8]);
  const h = x.matmul(w([8, 16])).add(w([16])).relu();
  b.addOutput('y', h.matmul(w([16, 3])).softmax(-1));
});
record('cnn', (b) => {
  const x = Tensor.input('x', [2, 3, 8, 8]);
  const c = x.conv2d(w([4, 3, 3, 3]), w([4]), { padding: 1 }).relu().maxPool2d({ kernel: 2 });
  b.addOutput('y', c.flatten(1).matmul(w([64, 5])).logSoftmax(1));
  b.addOutput('pool', c.avgPool2d({ kernel: 2 }));
});
record('rolled', (b) => {
  let p = Tensor.input('p', [3, 3]);
  const g = w([3, 3]);
  for (let i = 0; i < 12; i++) p = p.sub(g.mul(0.1)).mul(0.99).add(p.sqrt().mul(0.001));
  b.addOutput('p', p);
});
record('ops', (b) => {
  const x = Tensor.input('x', [2, 3, 4]);
  const y = x.max(1).add(x.min(2, true).sum()).maximum(x.mean([0, 1], true));
  const z = Tensor.concat([x, x.transpose(1, 2).reshape([2, 3, 4])], 0).indexSelect(0, [0, 3, 1]);
  b.addOutput('y', y.sign().mul(y.abs().exp()).tanh());
  b.addOutput('z', z.slice(2, 1, 4, 2));
  b.addOutput('c', x.gt(0.5).toDtype('f32').add(x.toDtype('f16').toDtype('f32')));
});
record('int', (b) => {
  const x = Tensor.input('x', [5], 'i32');
  b.addOutput('y', x.mul(3).add(Tensor.arange(5, undefined, 1, 'i32')).clamp(0, 10).argmax(0));
});

fs.mkdirSync(path.join(dir, 'scripts'), { recursive: true });
fs.mkdirSync(path.join(dir, 'ir'), { recursive: true });
for (const [name, s] of seeds) {
  fs.writeFileSync(path.join(dir, 'scripts', `${name}.hoduscript`), s.toBytes());
  fs.writeFileSync(path.join(dir, 'ir', `${name}.ir`), Buffer.from(s._ir));
}
process.stderr.write(`[fuzz] wrote ${seeds.length} seed scripts to ${dir}\n`);
