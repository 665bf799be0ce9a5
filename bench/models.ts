// The benchmark workloads (SPEC §4), the same shapes as the peers' benchmark
// (shared/research/peers.md §3): MLP 784-512-512-10 with softmax, CNN conv3x3 1→32 + ReLU,
// conv3x3 32→64 + ReLU, maxpool 2, dense 9216→128 + ReLU, dense 10; elementwise
// tanh(x*2+1)*sigmoid(x) on 2^20 floats; add of two [4] tensors.
import { Builder, Script, Tensor } from 'hodu';

export interface Mlp {
  w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor; w3: Tensor; b3: Tensor;
}

export function mlpWeights(): Mlp {
  const init = (i: number, o: number) => Tensor.randn([i, o], undefined, 0, Math.sqrt(2 / i));
  return {
    w1: init(784, 512), b1: Tensor.randn([512], undefined, 0, 0.01),
    w2: init(512, 512), b2: Tensor.randn([512], undefined, 0, 0.01),
    w3: init(512, 10), b3: Tensor.randn([10], undefined, 0, 0.01),
  };
}

export function mlpForward(m: Mlp, x: Tensor): Tensor {
  const h1 = x.matmul(m.w1).add(m.b1).relu();
  const h2 = h1.matmul(m.w2).add(m.b2).relu();
  return h2.matmul(m.w3).add(m.b3).softmax(1);
}

export interface Cnn {
  c1: Tensor; cb1: Tensor; c2: Tensor; cb2: Tensor; d1: Tensor; db1: Tensor; d2: Tensor; db2: Tensor;
}

export function cnnWeights(): Cnn {
  return {
    c1: Tensor.randn([32, 1, 3, 3], undefined, 0, Math.sqrt(2 / 9)), cb1: Tensor.randn([32], undefined, 0, 0.01),
    c2: Tensor.randn([64, 32, 3, 3], undefined, 0, Math.sqrt(2 / 288)), cb2: Tensor.randn([64], undefined, 0, 0.01),
    d1: Tensor.randn([9216, 128], undefined, 0, Math.sqrt(2 / 9216)), db1: Tensor.randn([128], undefined, 0, 0.01),
    d2: Tensor.randn([128, 10], undefined, 0, Math.sqrt(2 / 128)), db2: Tensor.randn([10], undefined, 0, 0.01),
  };
}

export function cnnForward(m: Cnn, x: Tensor): Tensor {
  const h1 = x.conv2d(m.c1, m.cb1).relu();
  const h2 = h1.conv2d(m.c2, m.cb2).relu();
  const p = h2.maxPool2d({ kernel: 2 }).flatten(1);
  return p.matmul(m.d1).add(m.db1).relu().matmul(m.d2).add(m.db2);
}

export function elementwise(x: Tensor): Tensor {
  return x.mul(2).add(1).tanh().mul(x.sigmoid());
}

/** Records f over inputs of the given shapes into a script with output 'y'. */
export function script(name: string, shapes: Record<string, number[]>, f: (ins: Record<string, Tensor>) => Tensor): Script {
  const b = new Builder(name);
  b.start();
  const ins: Record<string, Tensor> = {};
  for (const [k, s] of Object.entries(shapes)) ins[k] = Tensor.input(k, s);
  b.addOutput('y', f(ins));
  b.end();
  return b.build();
}
