// safetensors (SPEC §5): files the real Python `safetensors` package (pinned, in a venv made by
// scripts/python-safetensors.js) writes load in hodu, and files hodu writes load in Python, for
// every dtype both sides have; malformed files are INVALID_FILE; a module's weights round-trip.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DType, Tensor, loadSafetensors, manualSeed, nn, safetensorsMetadata, saveSafetensors, toSafetensorsBytes } from '../lib';
import { codeOf } from './helpers/assert';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureSafetensorsPython } = require('../scripts/python-safetensors.js') as { ensureSafetensorsPython(): string };

let python: string | null = null;
let whyNot = '';
try {
  python = ensureSafetensorsPython();
} catch (e) {
  whyNot = (e as Error).message;
}
const withPython = python ? test : test.skip;
if (!python) console.warn(`safetensors.test: the Python interop tests are skipped: ${whyNot}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-st-'));

function py(code: string, ...args: string[]): string {
  const r = spawnSync(python!, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

// value i of each test tensor: small integers (exact in every dtype), sign where the dtype has one
const NUMPY: [DType, string, boolean][] = [
  [DType.BOOL, 'bool_', false],
  [DType.U8, 'uint8', false],
  [DType.I8, 'int8', true],
  [DType.I16, 'int16', true],
  [DType.U16, 'uint16', false],
  [DType.I32, 'int32', true],
  [DType.U32, 'uint32', false],
  [DType.I64, 'int64', true],
  [DType.U64, 'uint64', false],
  [DType.F16, 'float16', true],
  [DType.F32, 'float32', true],
  [DType.F64, 'float64', true],
];
const valueAt = (dt: DType, signed: boolean, i: number): number => (dt === DType.BOOL ? i % 3 === 0 ? 1 : 0 : signed ? ((i * 7) % 23) - 11 : (i * 5) % 31);
const SHAPE = [2, 3, 4];

describe('with the Python safetensors package', () => {
  withPython('a file Python writes loads in hodu (every shared dtype, metadata, a 0-d and an empty tensor)', () => {
    const file = path.join(dir, 'from-python.safetensors');
    py(
      `
import sys, numpy as np
from safetensors.numpy import save_file
d = {}
for name, signed in ${JSON.stringify(NUMPY.map(([, n, s]) => [n, s ? 1 : 0]))}:
    i = np.arange(24)
    v = (i % 3 == 0) if name == 'bool_' else ((i * 7) % 23 - 11 if signed else (i * 5) % 31)
    d['t_' + name] = v.astype(getattr(np, name)).reshape(2, 3, 4)
d['scalar'] = np.array(2.5, dtype=np.float32)
d['empty'] = np.zeros((0, 3), dtype=np.float32)
save_file(d, sys.argv[1], metadata={'format': 'np', 'epoch': '3'})
`,
      file,
    );
    const got = loadSafetensors(file);
    for (const [dt, name, signed] of NUMPY) {
      const t = got[`t_${name}`];
      expect([name, t.dtype, t.shape]).toEqual([name, dt, SHAPE]);
      const flat = (t.toArray() as unknown[][][]).flat(2).map((v) => Number(v));
      expect(flat).toEqual(Array.from({ length: 24 }, (_, i) => valueAt(dt, signed, i)));
    }
    expect(got.scalar.shape).toEqual([]);
    expect(got.scalar.item()).toBe(2.5);
    expect(got.empty.shape).toEqual([0, 3]);
    expect(safetensorsMetadata(file)).toEqual({ format: 'np', epoch: '3' });
    // the same from bytes
    const fromBytes = loadSafetensors(new Uint8Array(fs.readFileSync(file)));
    expect(fromBytes.t_int64.toArray()).toEqual(got.t_int64.toArray());
  });

  withPython('a file hodu writes loads in Python (every shared dtype, BF16 bits, metadata)', () => {
    const tensors: Record<string, Tensor> = {};
    for (const [dt, name, signed] of NUMPY)
      tensors[`t_${name}`] = Tensor.fromArray(Array.from({ length: 24 }, (_, i) => valueAt(dt, signed, i)), SHAPE, dt);
    tensors.strided = Tensor.arange(0, 6, 1, DType.F32).reshape([2, 3]).t(); // a transposed view
    tensors.bf16 = Tensor.fromArray([1, -2, 0.5], [3], DType.BF16);
    const file = saveSafetensors(path.join(dir, 'from-hodu.safetensors'), tensors, { by: 'hodu' });
    const out = py(
      `
import sys, json, numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
r = {}
with safe_open(sys.argv[1], framework='np') as f:
    r['__metadata__'] = f.metadata()
    names = [k for k in f.keys() if k != 'bf16']
    for k in names:
        a = f.get_tensor(k)
        r[k] = [str(a.dtype), [int(d) for d in a.shape], [float(x) for x in a.reshape(-1)]]
# numpy has no bfloat16: read its raw bits from the header's offsets
raw = open(sys.argv[1], 'rb').read()
n = int.from_bytes(raw[:8], 'little')
h = json.loads(raw[8:8 + n])
b, e = h['bf16']['data_offsets']
r['bf16'] = [h['bf16']['dtype'], h['bf16']['shape'], [int(x) for x in np.frombuffer(raw[8 + n + b:8 + n + e], dtype=np.uint16)]]
print(json.dumps(r))
`,
      file,
    );
    const r = JSON.parse(out) as Record<string, [string, number[], number[]]> & { __metadata__: Record<string, string> };
    expect(r.__metadata__).toEqual({ by: 'hodu' });
    for (const [dt, name, signed] of NUMPY) {
      const [npType, shape, values] = r[`t_${name}`];
      expect([npType, shape]).toEqual([name === 'bool_' ? 'bool' : name, SHAPE]);
      expect(values).toEqual(Array.from({ length: 24 }, (_, i) => valueAt(dt, signed, i)));
    }
    expect(r.strided).toEqual(['float32', [3, 2], [0, 3, 1, 4, 2, 5]]);
    // bf16 bits: the top half of the float32 bits of 1, -2, 0.5
    expect(r.bf16).toEqual(['BF16', [3], [0x3f80, 0xc000, 0x3f00]]);
  });
});

describe('hodu alone', () => {
  test('a module state dict round-trips through a file into a fresh module', () => {
    manualSeed(1);
    const a = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(2 * 4 * 4, 3));
    const file = saveSafetensors(path.join(dir, 'model.safetensors'), a.stateDict(), { arch: 'tiny' });
    manualSeed(2);
    const b = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(2 * 4 * 4, 3));
    const x = Tensor.randn([2, 1, 6, 6]);
    expect(b.forward(x).toArray()).not.toEqual(a.forward(x).toArray());
    b.loadStateDict(loadSafetensors(file));
    expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
    expect(Object.keys(loadSafetensors(file)).sort()).toEqual(['0.bias', '0.weight', '3.bias', '3.weight']);
  });

  test('malformed files are INVALID_FILE, never a crash', () => {
    const good = toSafetensorsBytes({ w: Tensor.ones([4, 4]), b: Tensor.zeros([4]) });
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const header = JSON.parse(Buffer.from(good.subarray(8, 8 + n)).toString()) as Record<string, { data_offsets: number[] }>;
    const withHeader = (h: unknown, data = good.subarray(8 + n)): Uint8Array => {
      const hb = Buffer.from(JSON.stringify(h));
      const out = new Uint8Array(8 + hb.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
      out.set(hb, 8);
      out.set(data, 8 + hb.length);
      return out;
    };
    const cases: [string, Uint8Array][] = [
      ['too short', good.subarray(0, 5)],
      ['truncated data', good.subarray(0, good.length - 3)],
      ['header length past the end', (() => { const c = good.slice(); new DataView(c.buffer).setBigUint64(0, 1n << 60n, true); return c; })()],
      ['not JSON', withHeader('x').map((v, i) => (i === 8 ? 0x7b : v))],
      ['a JSON array', withHeader([1, 2])],
      ['bad offsets', withHeader({ ...header, w: { ...header.w, data_offsets: [0, 12] } })],
      ['overlap', withHeader({ ...header, b: { ...header.b, data_offsets: header.w.data_offsets.slice(0, 1).concat(header.w.data_offsets[0] + 16) } })],
      ['bad shape', withHeader({ ...header, w: { ...header.w, shape: [4, -4] } })],
      ['trailing data', withHeader(header, new Uint8Array([...good.subarray(8 + n), 1, 2, 3, 4]))],
    ];
    for (const [what, bytes] of cases) expect([what, codeOf(() => loadSafetensors(bytes))]).toEqual([what, 'INVALID_FILE']);
    const file = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(file, cases[1][1]);
    expect(codeOf(() => loadSafetensors(file))).toBe('INVALID_FILE');
    expect(codeOf(() => loadSafetensors(path.join(dir, 'missing.safetensors')))).toBe('INVALID_FILE');
    // a dtype hodu does not have
    const f8 = withHeader({ x: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    expect(codeOf(() => loadSafetensors(f8))).toBe('DTYPE_MISMATCH');
  });
});

describe('loadStateDict errors name the key', () => {
  const model = (): nn.Sequential => new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
  test('missing, unexpected, wrong shape; strict: false', () => {
    const m = model();
    const sd = model().stateDict();
    const missing = { ...sd };
    delete missing['2.bias'];
    const err = (f: () => unknown): { code?: string; message: string } => {
      try {
        f();
      } catch (e) {
        return e as { code?: string; message: string };
      }
      return { message: 'no error' };
    };
    const before = m.parameters().map((p) => p.toArray());
    let e = err(() => m.loadStateDict(missing));
    expect([e.code, e.message.includes("'2.bias'")]).toEqual(['INVALID_ARGUMENT', true]);
    e = err(() => m.loadStateDict({ ...sd, extra: Tensor.ones([1]) }));
    expect([e.code, e.message.includes("'extra'")]).toEqual(['INVALID_ARGUMENT', true]);
    e = err(() => m.loadStateDict({ ...sd, '0.weight': Tensor.ones([3, 4]) }));
    expect([e.code, e.message.includes("'0.weight'")]).toEqual(['SHAPE_MISMATCH', true]);
    // nothing was written by the failed loads
    expect(m.parameters().map((p) => p.toArray())).toEqual(before);
    m.loadStateDict(missing, { strict: false });
    expect(m.parameters()[0].toArray()).toEqual(sd['0.weight'].toArray());
    expect(m.parameters()[3].toArray()).toEqual(before[3]);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });

  test('namedParameters: array fields and nested modules give PyTorch-style paths', () => {
    class Net extends nn.Module {
      layers = [new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1, false)];
      head = new nn.Sequential(new nn.Linear(1, 1));
      forward(x: Tensor): Tensor {
        return this.head.forward(this.layers.reduce((h, l) => l.forward(h), x));
      }
    }
    const net = new Net();
    expect(net.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['layers.0.weight', [3, 2]],
      ['layers.0.bias', [3]],
      ['layers.2.weight', [1, 3]],
      ['head.0.weight', [1, 1]],
      ['head.0.bias', [1]],
    ]);
    expect(Object.keys(net.stateDict())).toEqual(net.namedParameters().map(([n]) => n));
  });

  test('optimizer state dicts continue training exactly', () => {
    const data = Tensor.fromArray([[1, 2, 3], [0, -1, 2]]);
    const target = Tensor.fromArray([[1, 0], [0, 1]]);
    const step = (m: nn.Module, o: nn.Optimizer): void => {
      new nn.MSE().forward([m.forward(data), target]).backward();
      o.step(m.parameters());
      o.zeroGrad(m.parameters());
    };
    manualSeed(4);
    const a = model();
    const oa = new nn.Adam(0.05);
    for (let k = 0; k < 3; k++) step(a, oa);
    const b = model();
    b.loadStateDict(a.stateDict());
    const ob = new nn.Adam(0.05);
    const sd = oa.stateDict();
    expect(sd.step.item()).toBe(3);
    ob.loadStateDict(sd, b.parameters());
    for (let k = 0; k < 4; k++) {
      step(a, oa);
      step(b, ob);
    }
    b.parameters().forEach((p, i) => expect(p.toArray()).toEqual(a.parameters()[i].toArray()));
    expect(ob.stepCount).toBe(7);
    // without the parameters: the state waits for the first step
    const c = model();
    c.loadStateDict(a.stateDict());
    const oc = new nn.Adam(0.05);
    oc.loadStateDict(oa.stateDict());
    for (let k = 0; k < 2; k++) {
      step(a, oa);
      step(c, oc);
    }
    c.parameters().forEach((p, i) => expect(p.toArray()).toEqual(a.parameters()[i].toArray()));
  });
});
