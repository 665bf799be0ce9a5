import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Builder, DType, Script, Tensor } from '../lib';
import { codeOf } from './helpers/assert';

function makeScript(): Script {
  const b = new Builder('saved');
  b.start();
  const x = Tensor.input('x', [2, 3]);
  const w = Tensor.fromArray([[1, 2], [3, 4], [5, 6]]);
  b.addOutput('y', x.matmul(w).relu());
  b.addOutput('n', x.sum(1).toDtype(DType.I64));
  b.end();
  return b.build();
}

const X = Tensor.fromArray([[1, -2, 3], [0.5, 1, -1]]);
// hand-derived: x @ w = [[1-6+15, 2-8+18], [0.5+3-5, 1+4-6]] = [[10, 12], [-1.5, -1]] -> relu
const Y = [[10, 12], [0, 0]];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-file-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('save adds .hoduscript, load runs the same', () => {
  const s = makeScript();
  const p = s.save(path.join(dir, 'model'));
  expect(p.endsWith('model.hoduscript')).toBe(true);
  expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  const t = Script.load(p);
  expect(t.name).toBe('saved');
  expect(t.inputs).toEqual(s.inputs);
  expect(t.outputs).toEqual(s.outputs);
  t.addInput('x', X);
  const out = t.run();
  expect(out.y.toArray()).toEqual(Y);
  expect(out.n.toArray()).toEqual([2, 0]);
  expect(Script.load(path.join(dir, 'model')).name).toBe('saved');
});

test('toBytes/fromBytes round trip', () => {
  const bytes = makeScript().toBytes();
  const t = Script.fromBytes(bytes);
  t.addInput('x', X);
  expect(t.run().y.toArray()).toEqual(Y);
  expect(Script.fromBytes(bytes.buffer.slice(0) as ArrayBuffer).name).toBe('saved');
});

test('every single-byte corruption and every truncation gives INVALID_FILE, never a crash', () => {
  const bytes = makeScript().toBytes();
  const positions = new Set<number>();
  for (let i = 0; i < Math.min(bytes.length, 256); i++) positions.add(i);
  for (let i = 0; i < 200; i++) positions.add(Math.floor((i / 200) * bytes.length));
  positions.add(bytes.length - 1);
  for (const p of positions) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const c = bytes.slice();
      c[p] ^= flip;
      expect(codeOf(() => Script.fromBytes(c))).toBe('INVALID_FILE');
    }
  }
  for (let n = 0; n < bytes.length; n += Math.max(1, Math.floor(bytes.length / 300)))
    expect(codeOf(() => Script.fromBytes(bytes.slice(0, n)))).toBe('INVALID_FILE');
});

test('foreign and future files -> INVALID_FILE', () => {
  expect(codeOf(() => Script.fromBytes(new Uint8Array(1000)))).toBe('INVALID_FILE');
  expect(codeOf(() => Script.fromBytes(Buffer.from('{"not": "a script"}')))).toBe('INVALID_FILE');
  const future = makeScript().toBytes().slice();
  new DataView(future.buffer).setUint32(8, 99, true);
  let msg = '';
  try {
    Script.fromBytes(future);
  } catch (e) {
    msg = (e as Error).message;
    expect((e as { code?: string }).code).toBe('INVALID_FILE');
  }
  expect(msg).toMatch(/newer/);
  const p = path.join(dir, 'not-a-script.bin');
  fs.writeFileSync(p, 'hello');
  expect(codeOf(() => Script.load(p))).toBe('INVALID_FILE');
  expect(codeOf(() => Script.load(path.join(dir, 'missing.hoduscript')))).toBe('INVALID_FILE');
});

test('a valid checksum over a malformed IR is still rejected (native validation)', () => {
  // rebuild the file with a tampered IR and a recomputed checksum
  const { createHash } = require('crypto') as typeof import('crypto');
  const bytes = makeScript().toBytes().slice();
  const body = bytes.length - 32;
  let rejected = 0;
  for (let p = 16; p < body; p += 7) {
    const c = bytes.slice();
    c[p] ^= 0x5a;
    c.set(createHash('sha256').update(c.subarray(0, body)).digest(), body);
    const code = codeOf(() => {
      const s = Script.fromBytes(c);
      s.addInput('x', X);
      s.run();
    });
    if (code !== undefined) {
      rejected++;
      expect(['INVALID_FILE', 'INPUT_MISSING', 'SHAPE_MISMATCH', 'DTYPE_MISMATCH', 'INPUT_UNKNOWN']).toContain(code);
    }
  }
  expect(rejected).toBeGreaterThan(0);
});
