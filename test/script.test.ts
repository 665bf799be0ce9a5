import { Backend, Builder, DType, Device, Script, Tensor } from '../lib';
import { CASES } from './helpers/script-cases';
import { codeOf } from './helpers/assert';

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

describe('compiler passes', () => {
  test('bias add and activation fuse into the matmul (oneDNN post-ops) with the same results', () => {
    const w = Tensor.randn([64, 32]);
    const bias = Tensor.randn([32]);
    const b = new Builder('fused_linear');
    b.start();
    const x = Tensor.input('x', [128, 64]);
    b.addOutput('y', x.matmul(w).add(bias).relu());
    b.end();
    const s = b.build();
    const xv = Tensor.randn([128, 64]);
    s.addInput('x', xv);
    const fused = s.run().y;
    expect(s.planInfo().fused).toBe(2);
    expect(s.planInfo().steps).toBe(1);
    const unfused = s.compile({ fuse: false }).run().y;
    expect(s.planInfo().fused).toBe(0);
    const expected = xv.matmul(w).add(bias).relu();
    expect(maxRelDiff(fused, expected)).toBeLessThan(1e-5);
    expect(maxRelDiff(unfused, expected)).toBeLessThan(1e-5);
  });

  test('an intermediate that is also an output is not fused away', () => {
    const w = Tensor.randn([16, 8]);
    const b = new Builder('no_fuse_output');
    b.start();
    const x = Tensor.input('x', [128, 16]);
    const h = x.matmul(w);
    b.addOutput('h', h);
    b.addOutput('y', h.relu());
    b.end();
    const s = b.build();
    const xv = Tensor.randn([128, 16]);
    s.addInput('x', xv);
    const out = s.run();
    expect(s.planInfo().fused).toBe(0);
    expect(maxRelDiff(out.h, xv.matmul(w))).toBeLessThan(1e-5);
    expect(maxRelDiff(out.y, xv.matmul(w).relu())).toBeLessThan(1e-5);
  });
});
