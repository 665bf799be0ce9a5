import { Backend, Builder, DType, Device, Script, Tensor, manualSeed } from '../lib';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

afterEach(() => Builder._abortActive());

/** max |a - b| / (1 + |b|) over two equally shaped tensors */
function maxRelDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  const x = Array.from(a.toDtype(DType.F64).toTypedArray() as Float64Array);
  const y = Array.from(b.toDtype(DType.F64).toTypedArray() as Float64Array);
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) && Number.isNaN(y[i])) continue;
    if (x[i] === y[i]) continue;
    m = Math.max(m, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  }
  return m;
}

describe('the seed example', () => {
  test('matmul script: record once, run with new inputs', () => {
    const builder = new Builder('my_script');
    builder.start();
    const x = Tensor.input('x', [2, 3]);
    const y = Tensor.input('y', [3, 4]);
    builder.addOutput('result', x.matmul(y));
    builder.end();
    const script = builder.build();
    for (let rep = 0; rep < 3; rep++) {
      const a = Tensor.randn([2, 3], DType.F32);
      const b = Tensor.randn([3, 4], DType.F32);
      script.addInput('x', a);
      script.addInput('y', b);
      const result = script.run()['result'];
      expect(result.shape).toEqual([2, 4]);
      // float64 reference
      const av = a.toArray() as number[][];
      const bv = b.toArray() as number[][];
      const r = result.toArray() as number[][];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 4; j++) {
          let acc = 0;
          for (let k = 0; k < 3; k++) acc += av[i][k] * bv[k][j];
          expect(Math.abs(r[i][j] - acc)).toBeLessThan(1e-5 * (1 + Math.abs(acc)));
        }
    }
    expect(script.isCompiled).toBe(true);
  });
});

// Each case: a function of tensors and the inputs to try it on. The script must equal dynamic mode.
type Case = [string, (...t: Tensor[]) => Tensor, () => Tensor[]];
manualSeed(7);
const r = (...s: number[]) => () => [Tensor.randn(s)];
const r2 = (a: number[], b: number[]) => () => [Tensor.randn(a), Tensor.randn(b)];
const pos = (...s: number[]) => () => [Tensor.rand(s, DType.F32, 0.5, 2)];
const CASES: Case[] = [
  ['add broadcast', (a, b) => a.add(b), r2([3, 4], [4])],
  ['sub', (a, b) => a.sub(b), r2([3, 4], [3, 1])],
  ['mul scalar', (a) => a.mul(2.5), r(5)],
  ['div', (a, b) => a.div(b.abs().add(1)), r2([2, 3], [2, 3])],
  ['pow', (a, b) => a.pow(b), () => [Tensor.rand([6], DType.F32, 0.5, 2), Tensor.rand([6], DType.F32, -1, 1)]],
  ['maximum/minimum', (a, b) => a.maximum(b).add(a.minimum(b)), r2([4], [4])],
  ['compare+where', (a, b) => Tensor.where(a.gt(b), a, b), r2([3, 3], [3])],
  ['logical', (a, b) => a.gt(0).logicalAnd(b.lt(0)).logicalOr(a.ge(b)).logicalXor(a.le(0)).logicalNot().toDtype(DType.F32), r2([8], [8])],
  ['eq/ne', (a, b) => a.eq(b).toDtype(DType.F32).add(a.ne(a).toDtype(DType.F32)), r2([4], [4])],
  ['unary chain', (a) => a.neg().abs().sqrt().exp().ln().sign().square(), r(10)],
  ['activations', (a) => a.relu().add(a.sigmoid()).add(a.tanh()).add(a.gelu()).add(a.softplus()).add(a.silu()).add(a.leakyRelu(0.2)).add(a.elu(0.7)), r(16)],
  ['trig', (a) => a.sin().add(a.cos()).add(a.tan().clamp(-3, 3)), r(8)],
  ['exp/log family', (a) => a.exp2().add(a.exp10()).add(a.log2()).add(a.log10()).add(a.recip()), pos(8)],
  ['clamp inf', (a) => a.clamp(-Infinity, 0.5), r(8)],
  ['matmul batched', (a, b) => a.matmul(b), r2([2, 3, 4], [4, 5])],
  ['matmul transposed', (a, b) => a.t().matmul(b), r2([4, 3], [4, 2])],
  ['reductions', (a) => a.sum(1).add(a.mean(1)).add(a.max(1)).add(a.min(1)).add(a.var(1)).add(a.std(1)).add(a.norm(1)), r(3, 5)],
  ['prod keepdim', (a) => a.prod(0, true), r(3, 4)],
  ['full reduction', (a) => a.sum(), r(3, 4)],
  ['argmax/argmin', (a) => a.argmax(1, true).add(a.argmin(0, true)), r(4, 5)],
  ['reshape/permute/flatten', (a) => a.reshape([2, -1]).permute([1, 0]).flatten(), r(2, 3, 2)],
  ['squeeze/unsqueeze/transpose', (a) => a.unsqueeze(0).transpose(1, 2).squeeze(), r(3, 4)],
  ['broadcastTo/expand', (a) => a.broadcastTo([2, 3, 4]).add(a.expand([-1, 4]).unsqueeze(0)), r(3, 1)],
  ['narrow/slice', (a) => a.narrow(0, 1, 2).slice(1, 0, 5, 2), r(4, 5)],
  ['split/chunk/concat', (a) => Tensor.concat([...a.split(2, 1).reverse(), ...a.chunk(2, 0)].map((t) => t.sum(1, true)), 0), r(4, 5)],
  ['indexSelect/gather', (a) => a.indexSelect(0, Tensor.fromArray([2, 0], undefined, DType.I64)).add(a.gather(1, Tensor.fromArray([[0, 1, 0], [1, 1, 0], [2, 2, 2]], undefined, DType.I64)).narrow(0, 0, 2)), r(3, 3)],
  ['softmax/logSoftmax', (a) => a.softmax(1).add(a.logSoftmax(0)), r(3, 4)],
  ['conv2d', (x, w) => x.conv2d(w, null, { stride: 1, padding: 1 }), r2([2, 3, 6, 6], [4, 3, 3, 3])],
  ['conv2d bias groups', (x, w) => x.conv2d(w, Tensor.fromArray([0.5, -0.5, 1, 2]), { stride: 2, groups: 2, dilation: 1 }), r2([1, 4, 7, 7], [4, 2, 3, 3])],
  ['pools', (x) => x.maxPool2d({ kernel: 2 }).add(x.avgPool2d({ kernel: 2, stride: 2 })), r(1, 2, 6, 6)],
  ['casts', (a) => a.mul(10).toDtype(DType.I32).toDtype(DType.F64).toDtype(DType.F32), r(6)],
  ['f64 chain', (a) => a.toDtype(DType.F64).exp().sum(0), r(3, 3)],
  ['contiguous/detach', (a) => a.t().contiguous().detach().mul(3), r(3, 2)],
];

describe('script results equal dynamic-mode results', () => {
  test.each(CASES)('%s', (name, f, make) => {
    const inputs = make();
    const expected = f(...inputs);
    const b = new Builder(`diff_${name}`);
    b.start();
    const syms = inputs.map((t, i) => Tensor.input(`in${i}`, t.shape, t.dtype));
    b.addOutput('out', f(...syms));
    b.end();
    const s = b.build();
    inputs.forEach((t, i) => s.addInput(`in${i}`, t));
    const got = s.run().out;
    expect(maxRelDiff(got, expected)).toBeLessThan(1e-5);
  });
});

describe('Script API', () => {
  function addScript(): Script {
    const b = new Builder('add_one');
    b.start();
    const x = Tensor.input('x', [2, 2]);
    b.addOutput('y', x.add(1));
    b.addOutput('x_again', x);
    b.end();
    return b.build();
  }

  test('inputs/outputs describe the graph', () => {
    const s = addScript();
    expect(s.name).toBe('add_one');
    expect(s.inputs).toEqual([{ name: 'x', shape: [2, 2], dtype: DType.F32 }]);
    expect(s.outputs.map((o) => o.name)).toEqual(['y', 'x_again']);
    expect(s.backend).toBe(Backend.HODU);
    expect(s.device.toString()).toBe('cpu');
  });

  test('input errors name the input, the expected and the given value', () => {
    const s = addScript();
    let err: { code?: string; message?: string } = {};
    try {
      s.run();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('INPUT_MISSING');
    expect(err.message).toMatch(/'x'/);
    s.addInput('x', Tensor.zeros([3, 2]));
    try {
      s.run();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('SHAPE_MISMATCH');
    expect(err.message).toMatch(/\[2, 2\]/);
    expect(err.message).toMatch(/\[3, 2\]/);
    s.addInput('x', Tensor.zeros([2, 2], DType.F64));
    try {
      s.run();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('DTYPE_MISMATCH');
    expect(err.message).toMatch(/f32/);
    expect(err.message).toMatch(/f64/);
    s.clearInputs();
    s.addInput('nope', Tensor.zeros([2, 2]));
    expect(codeOf(() => s.run())).toBe('INPUT_UNKNOWN');
  });

  test('compile is cached; setBackend/setDevice drop the cache; adding inputs does not', () => {
    const s = addScript();
    expect(s.isCompiled).toBe(false);
    s.compile();
    expect(s.isCompiled).toBe(true);
    s.addInput('x', Tensor.ones([2, 2]));
    expect(s.isCompiled).toBe(true);
    expect(s.run().y.toArray()).toEqual([[2, 2], [2, 2]]);
    s.setBackend(Backend.XLA);
    expect(s.isCompiled).toBe(false);
    s.setBackend(Backend.HODU);
    s.compile();
    s.setDevice(Device.CUDA(0));
    expect(s.isCompiled).toBe(false);
    expect(codeOf(() => s.run())).toBe('DEVICE_UNAVAILABLE');
    s.setDevice(Device.CPU);
    expect(s.run().x_again.toArray()).toEqual([[1, 1], [1, 1]]);
  });

  test('outputs are typed arrays over result memory; each run gives fresh tensors', () => {
    const s = addScript();
    s.addInput('x', Tensor.fromArray([[1, 2], [3, 4]]));
    const a = s.run().y;
    const b = s.run().y;
    const ta = a.toTypedArray();
    expect(ArrayBuffer.isView(ta)).toBe(true);
    expect(Object.prototype.toString.call(ta)).toBe('[object Float32Array]');
    ta[0] = 100;
    expect(a.toArray()).toEqual([[100, 3], [4, 5]]);
    expect(b.toArray()).toEqual([[2, 3], [4, 5]]);
  });

  test('strided inputs are accepted', () => {
    const s = addScript();
    s.addInput('x', Tensor.fromArray([[1, 2], [3, 4]]).t());
    expect(s.run().y.toArray()).toEqual([[2, 4], [3, 5]]);
  });

  test('runAsync resolves off the event loop, and two scripts run concurrently', async () => {
    const mk = (k: number) => {
      const b = new Builder(`mm${k}`);
      b.start();
      const x = Tensor.input('x', [64, 64]);
      b.addOutput('y', x.matmul(x).add(k));
      b.end();
      return b.build();
    };
    const s1 = mk(1);
    const s2 = mk(2);
    const x = Tensor.randn([64, 64]);
    s1.addInput('x', x);
    s2.addInput('x', x);
    const expected1 = s1.run().y.toArray();
    const [o1, o2, o3] = await Promise.all([s1.runAsync(), s2.runAsync(), s1.runAsync()]);
    expect(o1.y.toArray()).toEqual(expected1);
    expect(o3.y.toArray()).toEqual(expected1);
    expect(maxRelDiff(o2.y.sub(1), o1.y)).toBeLessThan(1e-6);
    s1.clearInputs();
    await expect(s1.runAsync()).rejects.toMatchObject({ code: 'INPUT_MISSING' });
  });

  test('constants made while building are part of the graph; constant ops fold', () => {
    const w = Tensor.fromArray([[1, 0], [0, 2]]);
    const b = new Builder('consts');
    b.start();
    const x = Tensor.input('x', [1, 2]);
    const k = Tensor.fromArray([10, 20]);
    b.addOutput('y', x.matmul(w).add(k.mul(2)));
    b.end();
    const s = b.build();
    s.addInput('x', Tensor.fromArray([[1, 1]]));
    expect(s.run().y.toArray()).toEqual([[21, 42]]);
    expect(s.planInfo().folded).toBeGreaterThanOrEqual(1);
  });

  test('a 10k-iteration run loop keeps RSS flat', () => {
    const b = new Builder('loop');
    b.start();
    const x = Tensor.input('x', [256]);
    b.addOutput('y', x.mul(2).add(1));
    b.end();
    const s = b.build();
    s.addInput('x', Tensor.ones([256]));
    for (let i = 0; i < 2000; i++) s.run();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 10000; i++) s.run();
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });
});
