// nn: layers, losses against hand-derived values, optimizers against hand-computed updates,
// and the seed training loop in both modes.
import { Builder, DType, Tensor, manualSeed, nn } from '../lib';
import { codeOf } from './helpers/assert';

afterEach(() => Builder._abortActive());

const close = (got: number[], want: number[], tol = 1e-6) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]))));
};
const vals = (t: Tensor) => Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);

describe('losses (hand-derived values)', () => {
  const pred = () => Tensor.fromArray([[1, 2], [3, 4]]);
  const tgt = Tensor.fromArray([[1.5, 2], [0, 4.5]]);
  // differences d = [-0.5, 0, 3, -0.5]
  test('MSE and its gradient', () => {
    const p = pred().setRequiresGrad(true);
    const l = new nn.MSE().forward([p, tgt]);
    expect(l.shape).toEqual([]);
    close([l.item()], [(0.25 + 0 + 9 + 0.25) / 4]);
    l.backward();
    close(vals(p.grad!), [-0.25, 0, 1.5, -0.25]);
  });
  test('MAE', () => close([new nn.MAE().forward([pred(), tgt]).item()], [(0.5 + 0 + 3 + 0.5) / 4]));
  test('Huber(1)', () => close([new nn.Huber(1).forward([pred(), tgt]).item()], [(0.125 + 0 + 2.5 + 0.125) / 4]));
  test('CrossEntropy', () => {
    const logits = Tensor.fromArray([[1, 2, 3], [1, 1, 1]]);
    const labels = Tensor.fromArray([2, 0], undefined, DType.I64);
    const lse0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const want = ((lse0 - 3) + Math.log(3)) / 2;
    close([new nn.CrossEntropy().forward([logits, labels]).item()], [want], 1e-5); // f32 log-softmax
    expect(codeOf(() => new nn.CrossEntropy().forward([logits, Tensor.fromArray([0.5, 1])]))).toBe('DTYPE_MISMATCH');
  });
  test('BCE and BCEWithLogits agree', () => {
    const x = Tensor.fromArray([-2, -0.5, 0.3, 4]);
    const t = Tensor.fromArray([0, 1, 1, 0]);
    const ref = [-2, -0.5, 0.3, 4].map((v, i) => {
      const p = 1 / (1 + Math.exp(-v));
      const y = [0, 1, 1, 0][i];
      return -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
    });
    const want = ref.reduce((a, b) => a + b) / 4;
    close([new nn.BCEWithLogits().forward([x, t]).item()], [want], 1e-6);
    close([new nn.BCE().forward([x.sigmoid(), t]).item()], [want], 1e-5);
  });
  test('shape mismatch is reported', () => {
    expect(codeOf(() => new nn.MSE().forward([Tensor.zeros([2]), Tensor.zeros([3])]))).toBe('SHAPE_MISMATCH');
  });
});

describe('optimizers (hand-computed updates)', () => {
  const w0 = [0.5, -0.25];
  const g = [0.1, -0.2];
  function param(): Tensor {
    return Tensor.fromArray(w0, undefined, DType.F64).setRequiresGrad(true);
  }
  function setGrad(p: Tensor): void {
    p.grad = Tensor.fromArray(g, undefined, DType.F64);
  }

  test('SGD', () => {
    const p = param();
    const opt = new nn.SGD(0.01);
    setGrad(p);
    opt.step([p]);
    close(vals(p), [0.499, -0.248], 1e-12);
  });

  test('SGD with momentum and weight decay, three steps', () => {
    const p = param();
    const opt = new nn.SGD(0.1, { momentum: 0.9, weightDecay: 0.01 });
    const w = w0.slice();
    const buf = [0, 0];
    for (let step = 0; step < 3; step++) {
      setGrad(p);
      opt.step([p]);
      for (let i = 0; i < 2; i++) {
        const gi = g[i] + 0.01 * w[i];
        buf[i] = step === 0 ? gi : 0.9 * buf[i] + gi;
        w[i] -= 0.1 * buf[i];
      }
      close(vals(p), w, 1e-12);
    }
  });

  test('Adam is standard Adam (single bias correction)', () => {
    const p = param();
    const opt = new nn.Adam(1e-3, 0.9, 0.999, 1e-8);
    // constant gradient: mhat = g, vhat = g², so each step moves lr·g/(|g|+eps)
    const want = [[0.499, -0.249], [0.498, -0.248], [0.497, -0.247]];
    for (let s = 0; s < 3; s++) {
      setGrad(p);
      opt.step([p]);
      close(vals(p), want[s], 1e-7);
    }
  });

  test('Adam with a varying gradient matches a reference implementation', () => {
    const p = param();
    const opt = new nn.Adam(0.01, 0.8, 0.99, 1e-6);
    const w = w0.slice();
    const m = [0, 0];
    const v = [0, 0];
    for (let t = 1; t <= 4; t++) {
      const gt = [Math.sin(t), Math.cos(t) * 2];
      p.grad = Tensor.fromArray(gt, undefined, DType.F64);
      opt.step([p]);
      for (let i = 0; i < 2; i++) {
        m[i] = 0.8 * m[i] + 0.2 * gt[i];
        v[i] = 0.99 * v[i] + 0.01 * gt[i] * gt[i];
        const mh = m[i] / (1 - 0.8 ** t);
        const vh = v[i] / (1 - 0.99 ** t);
        w[i] -= (0.01 * mh) / (Math.sqrt(vh) + 1e-6);
      }
      close(vals(p), w, 1e-12);
    }
  });

  test('AdamW decays weights decoupled from the gradient', () => {
    const p = param();
    const opt = new nn.AdamW(0.01, 0.9, 0.999, 1e-8, 0.1);
    const w = w0.slice();
    const m = [0, 0];
    const v = [0, 0];
    for (let t = 1; t <= 3; t++) {
      setGrad(p);
      opt.step([p]);
      for (let i = 0; i < 2; i++) {
        w[i] *= 1 - 0.01 * 0.1;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        w[i] -= (0.01 * (m[i] / (1 - 0.9 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
      }
      close(vals(p), w, 1e-12);
    }
  });

  test('step without backward -> GRADIENT_NOT_COMPUTED', () => {
    expect(codeOf(() => new nn.SGD(0.1).step([param()]))).toBe('GRADIENT_NOT_COMPUTED');
    expect(codeOf(() => new nn.Adam().step([param()]))).toBe('GRADIENT_NOT_COMPUTED');
  });
});

describe('layers', () => {
  test('Linear computes x Wᵀ + b and exposes its parameters', () => {
    const l = new nn.Linear(3, 2);
    expect(l.weight.shape).toEqual([2, 3]);
    expect(l.parameters().length).toBe(2);
    l.weight = Tensor.fromArray([[1, 0, 2], [0, 1, -1]]).setRequiresGrad(true);
    l.bias = Tensor.fromArray([0.5, -0.5]).setRequiresGrad(true);
    expect(l.forward(Tensor.fromArray([[1, 2, 3]])).toArray()).toEqual([[7.5, -1.5]]);
  });

  test('Sequential, activations, Flatten, Dropout train/eval', () => {
    manualSeed(3);
    const net = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(8, 2), new nn.Softmax(1));
    expect(net.parameters().length).toBe(4);
    const x = Tensor.randn([5, 4]);
    net.eval();
    const a = net.forward(x).toArray();
    const b = net.forward(x).toArray();
    expect(a).toEqual(b); // eval: dropout is the identity
    close(vals(net.forward(x).sum(1)), [1, 1, 1, 1, 1], 1e-6);
    net.train();
    const d = new nn.Dropout(0.5).forward(Tensor.ones([1000]));
    const kept = vals(d).filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 2) < 1e-6)).toBe(true);
    expect(kept.length).toBeGreaterThan(400);
    expect(kept.length).toBeLessThan(600);
    expect(new nn.Flatten().forward(Tensor.zeros([2, 3, 4])).shape).toEqual([2, 12]);
  });

  test('Conv2d and pools', () => {
    const conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
    expect(conv.weight.shape).toEqual([4, 2, 3, 3]);
    const y = new nn.MaxPool2d(2).forward(conv.forward(Tensor.randn([1, 2, 8, 8])));
    expect(y.shape).toEqual([1, 4, 4, 4]);
    expect(new nn.AvgPool2d(2).forward(Tensor.ones([1, 1, 4, 4])).toArray()).toEqual([[[[1, 1], [1, 1]]]]);
  });
});

describe('the seed training loop', () => {
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

  test('1000 epochs: loss < 1e-3 in dynamic and in script mode, and the modes agree', () => {
    const { input, target } = data();
    manualSeed(0);
    const init = new nn.Linear(3, 1);
    const w0 = init.weight.toArray() as number[][];
    const b0 = init.bias!.toArray() as number[];
    const fresh = () => {
      const l = new nn.Linear(3, 1);
      l.weight = Tensor.fromArray(w0).setRequiresGrad(true);
      l.bias = Tensor.fromArray(b0).setRequiresGrad(true);
      return l;
    };
    const mse = new nn.MSE();

    const dyn = fresh();
    const sgd = new nn.SGD(0.01);
    let loss!: Tensor;
    for (let e = 0; e < 1000; e++) {
      loss = mse.forward([dyn.forward(input), target]);
      loss.backward();
      sgd.step(dyn.parameters());
      sgd.zeroGrad(dyn.parameters());
    }
    expect(loss.item()).toBeLessThan(1e-3);

    const model = fresh();
    const opt = new nn.SGD(0.01);
    const b = new Builder('seed_train');
    b.start();
    const x = Tensor.input('input', [N, 3]);
    const y = Tensor.input('target', [N, 1]);
    let last!: Tensor;
    for (let e = 0; e < 1000; e++) {
      last = mse.forward([model.forward(x), y]);
      last.backward();
      opt.step(model.parameters());
      opt.zeroGrad(model.parameters());
    }
    b.addOutput('loss', last);
    b.addOutput('weight', model.weight);
    b.addOutput('bias', model.bias!);
    b.end();
    // the parameters are concrete again after the builder ends
    expect(model.weight.isSymbolic).toBe(false);
    expect(model.weight.toArray()).toEqual(w0);
    const out = b.build().addInput('input', input).addInput('target', target).run();
    expect(out.loss.item()).toBeLessThan(1e-3);
    close(vals(out.loss), vals(loss), 1e-4);
    close(vals(out.weight), vals(dyn.weight), 1e-4);
    close(vals(out.bias), vals(dyn.bias!), 1e-4);
  });
});

describe('parameters after a builder', () => {
  test('grads and values recorded inside a builder do not leak into dynamic mode', () => {
    const lin = new nn.Linear(2, 1);
    const w0 = lin.weight.toArray();
    const b = new Builder('leak');
    b.start();
    const x = Tensor.input('x', [3, 2]);
    lin.forward(x).sum().backward(); // backward without a step
    new nn.SGD(0.1).step(lin.parameters());
    b.addOutput('w', lin.weight);
    b.end();
    expect(lin.weight.isSymbolic).toBe(false);
    expect(lin.weight.grad).toBeNull();
    expect(lin.weight.toArray()).toEqual(w0);
    // dynamic training continues normally
    lin.forward(Tensor.ones([3, 2])).sum().backward();
    expect(lin.weight.grad!.toArray()).toEqual([[3, 3]]);
  });
});
