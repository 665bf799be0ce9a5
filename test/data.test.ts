// Data: DataLoader / batches (rows, order, shuffle reproducibility, dropLast, collate, feeding a
// script), IDX (round trip through bytes written here by hand, gzip, malformed files) and CSV.
import { writeFileSync, mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { gzipSync } from 'zlib';
import { Builder, DType, DataLoader, Tensor, data, nn } from '../lib';
import { codeOf } from './helpers/assert';

afterEach(() => Builder._abortActive());

const nums = (t: Tensor) => t.toNumbers();

describe('DataLoader', () => {
  const N = 10;
  const xs = Tensor.fromArray(Array.from({ length: N * 2 }, (_, i) => i), [N, 2]); // row r = [2r, 2r+1]
  const ys = new Int32Array(Array.from({ length: N }, (_, i) => 100 + i));

  test('in order: rows, shapes, dtypes, a smaller last batch', () => {
    const got = [...new DataLoader({ x: xs, y: ys }, { batchSize: 4 })];
    expect(got.map((b) => b.x.shape)).toEqual([[4, 2], [4, 2], [2, 2]]);
    expect(got[0].y.dtype).toBe(DType.I32);
    expect(nums(got[1].x)).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(nums(got[2].y)).toEqual([108, 109]);
  });

  test('shuffle: every row once per epoch, rows stay paired, a new order each epoch, repeatable with the seed', () => {
    const l = new DataLoader([xs, ys], { batchSize: 3, shuffle: true, seed: 42 });
    const epoch = () => {
      const rows: number[] = [];
      for (const [x, y] of l) {
        const xv = nums(x);
        nums(y).forEach((v, i) => {
          expect(xv[2 * i]).toBe(2 * (v - 100)); // pairing kept
          rows.push(v - 100);
        });
      }
      return rows;
    };
    const e1 = epoch();
    const e2 = epoch();
    expect([...e1].sort((a, b) => a - b)).toEqual([...Array(N).keys()]);
    expect(e1).not.toEqual([...Array(N).keys()]);
    expect(e2).not.toEqual(e1);
    const again = new DataLoader([xs, ys], { batchSize: 3, shuffle: true, seed: 42 });
    expect([...again].flatMap(([, y]) => nums(y).map((v) => v - 100))).toEqual(e1);
    const other = new DataLoader([xs, ys], { batchSize: 3, shuffle: true, seed: 43 });
    expect([...other].flatMap(([, y]) => nums(y).map((v) => v - 100))).not.toEqual(e1);
  });

  test('dropLast, batchCount, collate, typed arrays with a shape, I64 columns', () => {
    const l = new DataLoader(
      { x: { data: new Float64Array(N * 3).map((_, i) => i), shape: [N, 3] }, y: Tensor.arange(0, N, 1, DType.I64) },
      { batchSize: 4, dropLast: true, collate: (b) => ({ x: b.x.mul(2), y: b.y }) },
    );
    expect(l.batchCount).toBe(2);
    const got = [...l];
    expect(got.length).toBe(2);
    expect(got[1].x.dtype).toBe(DType.F64);
    expect(nums(got[1].x).slice(0, 3)).toEqual([24, 26, 28]);
    expect(nums(got[1].y)).toEqual([4, 5, 6, 7]);
  });

  test('batches() is one epoch; errors name the column', () => {
    expect([...data.batches([ys], { batchSize: 6 })].map(([y]) => y.shape[0])).toEqual([6, 4]);
    expect(codeOf(() => new DataLoader({ a: xs, b: new Float32Array(3) }))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => new DataLoader([xs], { batchSize: 0 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new DataLoader([xs]).take([0, 10]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new DataLoader([xs]).take([0.5]))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => new DataLoader({ x: { data: new Float32Array(5), shape: [2, 3] } }))).toBe('SHAPE_MISMATCH');
  });

  test('batches feed a per-batch training script (same result as dynamic mode)', () => {
    const X = Tensor.fromArray(Array.from({ length: 40 }, (_, i) => Math.sin(i)), [20, 2], DType.F64);
    const Y = Tensor.fromArray(Array.from({ length: 20 }, (_, i) => Math.cos(i)), [20, 1], DType.F64);
    const make = () => {
      const m = new nn.Linear(2, 1, true, DType.F64);
      m.weight = Tensor.fromArray([[0.3, -0.1]], undefined, DType.F64).setRequiresGrad(true);
      m.bias = Tensor.fromArray([0], undefined, DType.F64).setRequiresGrad(true);
      return m;
    };
    const dyn = make();
    const sgd = new nn.SGD(0.1);
    for (const [x, y] of data.batches([X, Y], { batchSize: 5, shuffle: true, seed: 3 })) {
      new nn.MSE().forward([dyn.forward(x), y]).backward();
      sgd.step(dyn.parameters());
      sgd.zeroGrad(dyn.parameters());
    }
    const model = make();
    const opt = new nn.SGD(0.1);
    const b = new Builder('loader_step').start();
    const loss = new nn.MSE().forward([model.forward(Tensor.input('x', [5, 2], DType.F64)), Tensor.input('y', [5, 1], DType.F64)]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('loss', loss);
    const s = b.build();
    for (const [x, y] of data.batches([X, Y], { batchSize: 5, shuffle: true, seed: 3 })) s.addInput('x', x).addInput('y', y).run();
    nums(model.weight).forEach((v, i) => expect(v).toBeCloseTo(nums(dyn.weight)[i], 10));
  });

  test('batches of varying size (a smaller last batch) feed one symbolic-batch training script', () => {
    // 20 rows in batches of 6: 6, 6, 6, 2. Reference: SGD on MSE for y = x·w + b written out in float64.
    const X = Array.from({ length: 20 }, (_, i) => [Math.sin(i), Math.cos(3 * i)]);
    const Y = Array.from({ length: 20 }, (_, i) => 0.5 * Math.sin(i) - 0.25 * Math.cos(3 * i) + 0.1);
    const model = new nn.Linear(2, 1, true, DType.F64);
    model.weight = Tensor.fromArray([[0.3, -0.1]], undefined, DType.F64).setRequiresGrad(true);
    model.bias = Tensor.fromArray([0.05], undefined, DType.F64).setRequiresGrad(true);
    const opt = new nn.SGD(0.2);
    const b = new Builder('loader_symbolic').start();
    const loss = new nn.MSE().forward([model.forward(Tensor.input('x', ['batch', 2], DType.F64)), Tensor.input('y', ['batch', 1], DType.F64)]);
    loss.backward();
    opt.step(model.parameters());
    opt.zeroGrad(model.parameters());
    b.addOutput('loss', loss);
    const s = b.build();
    expect(s.inputs.map((i) => i.shape)).toEqual([['batch', 2], ['batch', 1]]);
    let w = [0.3, -0.1];
    let bias = 0.05;
    const sizes: number[] = [];
    const loader = new DataLoader(
      [Tensor.fromArray(X.flat(), [20, 2], DType.F64), Tensor.fromArray(Y, [20, 1], DType.F64)],
      { batchSize: 6, shuffle: true, seed: 11 },
    );
    for (const [x, y] of loader) {
      const xs = x.toFloat64Array();
      const yv = y.toFloat64Array();
      const n = x.shape[0];
      sizes.push(n);
      const r = Array.from({ length: n }, (_, k) => xs[2 * k] * w[0] + xs[2 * k + 1] * w[1] + bias - yv[k]);
      const expectedLoss = r.reduce((a, v) => a + v * v, 0) / n;
      const gw = [0, 1].map((j) => r.reduce((a, v, k) => a + (2 / n) * v * xs[2 * k + j], 0));
      const gb = r.reduce((a, v) => a + (2 / n) * v, 0);
      const out = s.run({ x, y });
      expect(out['loss'].item()).toBeCloseTo(expectedLoss, 12);
      w = [w[0] - 0.2 * gw[0], w[1] - 0.2 * gw[1]];
      bias -= 0.2 * gb;
    }
    expect(sizes).toEqual([6, 6, 6, 2]);
    expect(s.stats().specializations).toBe(2); // batch 6 and batch 2
    nums(model.weight).forEach((v, i) => expect(v).toBeCloseTo(w[i], 12));
    expect(model.bias.item()).toBeCloseTo(bias, 12);
  });
});

/** An IDX file built byte by byte: u8 [2, 3]. */
const IDX_U8 = new Uint8Array([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 250, 251, 252]);

describe('IDX', () => {
  test('reads u8 files, gzip, paths; encodeIdx round-trips other types', () => {
    const t = data.readIdx(IDX_U8);
    expect(t.dtype).toBe(DType.U8);
    expect(t.toArray()).toEqual([[1, 2, 3], [250, 251, 252]]);
    expect(data.readIdx(gzipSync(IDX_U8)).toArray()).toEqual([[1, 2, 3], [250, 251, 252]]);
    const dir = mkdtempSync(path.join(tmpdir(), 'hodu-idx-'));
    writeFileSync(path.join(dir, 'a.idx'), IDX_U8);
    expect(data.readIdx(path.join(dir, 'a.idx')).shape).toEqual([2, 3]);
    // f32 big-endian, written by hand: 1.5 = 0x3fc00000, -2 = 0xc0000000
    const f = data.readIdx(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 2, 0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0]));
    expect(f.toArray()).toEqual([1.5, -2]);
    for (const [vals, dt] of [[[-3, 70000, 5], DType.I32], [[-1, 7], DType.I16], [[0.1, -1e300], DType.F64]] as const) {
      const src = Tensor.fromArray(vals as unknown as number[], undefined, dt);
      expect(data.readIdx(data.encodeIdx(src)).toArray()).toEqual(src.toArray());
    }
  });
  test('malformed files are INVALID_FILE', () => {
    expect(codeOf(() => data.readIdx(IDX_U8.slice(0, 17)))).toBe('INVALID_FILE'); // truncated
    expect(codeOf(() => data.readIdx(new Uint8Array([1, 0, 8, 1])))).toBe('INVALID_FILE'); // bad magic
    expect(codeOf(() => data.readIdx(new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 0])))).toBe('INVALID_FILE'); // type
    expect(codeOf(() => data.readIdx(new Uint8Array([0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255])))).toBe('INVALID_FILE'); // huge
    expect(codeOf(() => data.readIdx(new Uint8Array([0x1f, 0x8b, 1, 2, 3])))).toBe('INVALID_FILE'); // broken gzip
    expect(codeOf(() => data.readIdx('/nonexistent/file'))).toBe('INVALID_ARGUMENT');
  });
});

describe('CSV', () => {
  test('header, quotes, categorical columns, column selection', () => {
    const text = 'a,"b, quoted",kind\n1,2.5,cat\n-3,"4e2",dog\n5,,cat\n';
    const t = data.readCsv(text, { categorical: ['kind'] });
    expect(t.columns).toEqual(['a', 'b, quoted', 'kind']);
    expect(t.data.shape).toEqual([3, 3]);
    const v = t.data.toNumbers();
    expect(v.slice(0, 6)).toEqual([1, 2.5, 0, -3, 400, 1]);
    expect(Number.isNaN(v[7])).toBe(true);
    expect(t.categories.kind).toEqual(['cat', 'dog']);
    expect(t.column('kind', DType.I32).toNumbers()).toEqual([0, 1, 0]);
    const sel = data.readCsv(text, { columns: ['kind', 'a'], categorical: ['kind'], dtype: DType.F64 });
    expect(sel.data.toArray()).toEqual([[0, 1], [1, -3], [0, 5]]);
  });
  test('no header, other delimiter, CRLF; errors', () => {
    const t = data.readCsv('1;2\r\n3;4\r\n', { delimiter: ';' });
    expect(t.columns).toEqual(['0', '1']);
    expect(t.data.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(codeOf(() => data.readCsv('a,b\n1,x\n'))).toBe('INVALID_FILE');
    expect(codeOf(() => data.readCsv('a,b\n1\n'))).toBe('INVALID_FILE');
    expect(codeOf(() => data.readCsv('a,b\n"1,2\n'))).toBe('INVALID_FILE');
    expect(codeOf(() => data.readCsv('a,b\n1,2\n', { columns: ['c'] }))).toBe('INVALID_ARGUMENT');
  });
});
