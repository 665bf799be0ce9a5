// The one N-API wrap of compiled executables (native/binding/executable_wrap.cc), through the raw
// binding: handle checks name the backend, a handle of either backend is safe to pass to the other's
// functions, and the IR memo of describe/compile never skips a validation the constants need.
import { Builder, Tensor } from '../lib';
import { binding } from '../lib/native';

type Desc = { inputs: { name: string; shape: number[] }[]; outputs: { name: string; shape: number[] }[] };
interface Raw {
  describeIr(ir: Uint8Array, c: ArrayBuffer[]): Desc;
  compilePlan(ir: Uint8Array, c: ArrayBuffer[], o: object): unknown;
  runPlan(h: unknown, ins: ArrayBufferView[]): ArrayBuffer[];
  runPlanAsync(h: unknown, ins: ArrayBufferView[], cb: (err: { code?: string; message: string } | null, out?: ArrayBuffer[]) => void): void;
  planStats(h: unknown): Record<string, unknown>;
  releasePlan(h: unknown): void;
  xlaRun(h: unknown, ins: ArrayBufferView[]): ArrayBuffer[];
  xlaInfo(h: unknown): Record<string, unknown>;
  xlaRelease(h: unknown): void;
}
const raw = binding as unknown as Raw;

afterEach(() => Builder._abortActive());

// y = x * w + 1 with a constant w of 3 floats
function graph(): { ir: Uint8Array; constants: ArrayBuffer[] } {
  const w = Tensor.fromArray([2, -3, 0.5]);
  const b = new Builder('wrap').start();
  b.addOutput('y', Tensor.input('x', [3]).mul(w).add(1));
  const g = b.build();
  return { ir: g._ir, constants: g._constants };
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('executable wrap', () => {
  test('describe then compile the same IR; runs match float64 math', async () => {
    const { ir, constants } = graph();
    const d = raw.describeIr(ir, constants);
    expect(d.inputs.map((i) => [i.name, i.shape])).toEqual([['x', [3]]]);
    const h = raw.compilePlan(ir, constants, {});
    const x = new Float32Array([1, 2, -4]);
    const want = [1 * 2 + 1, 2 * -3 + 1, -4 * 0.5 + 1];
    expect(Array.from(new Float32Array(raw.runPlan(h, [x])[0]))).toEqual(want);
    const out = await new Promise<ArrayBuffer[]>((res, rej) => raw.runPlanAsync(h, [x], (e, o) => (e ? rej(e) : res(o!))));
    expect(Array.from(new Float32Array(out[0]))).toEqual(want);
    const info = raw.planStats(h);
    expect(info.threads === 'all' || info.threads === 'one').toBe(true);
    expect(Array.isArray(info.kernels)).toBe(true);
    raw.releasePlan(h);
  });

  test('the same IR with constants of other sizes is validated again (INVALID_FILE)', () => {
    const { ir, constants } = graph();
    raw.describeIr(ir, constants);
    const wrong = constants.map((c) => new ArrayBuffer(c.byteLength + 4));
    expect(codeOf(() => raw.describeIr(ir, wrong))).toBe('INVALID_FILE');
    expect(codeOf(() => raw.compilePlan(ir, wrong, {}))).toBe('INVALID_FILE');
    expect(codeOf(() => raw.compilePlan(ir, [], {}))).toBe('INVALID_FILE');
    // and the right ones still compile after the failures
    expect(codeOf(() => raw.releasePlan(raw.compilePlan(ir, constants, {})))).toBeUndefined();
  });

  test('bad and released handles: INVALID_ARGUMENT naming the backend; either backend function is safe', () => {
    expect(codeOf(() => raw.runPlan({}, []))).toBe('INVALID_ARGUMENT');
    expect(() => raw.runPlan(42, [])).toThrow(/compiled plan handle/);
    expect(() => raw.xlaRun(42, [])).toThrow(/compiled XLA executable handle/);
    const { ir, constants } = graph();
    const h = raw.compilePlan(ir, constants, {});
    // a HODU handle given to the XLA functions runs it and reports the HODU details (no type confusion)
    const x = new Float32Array([1, 1, 1]);
    expect(Array.from(new Float32Array(raw.xlaRun(h, [x])[0]))).toEqual([3, -2, 1.5]);
    expect(raw.xlaInfo(h).backend).toBeUndefined();
    expect(codeOf(() => raw.runPlan(h, [new Float32Array(2)]))).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => raw.runPlan(h, []))).toBe('INVALID_ARGUMENT');
    expect(() => raw.runPlanAsync(h, [x], undefined as never)).toThrow(/runPlanAsync: expected a callback/);
    raw.xlaRelease(h);
    expect(() => raw.runPlan(h, [x])).toThrow(/compiled plan was released/);
    expect(() => raw.xlaInfo(h)).toThrow(/compiled XLA executable was released/);
  });
});
