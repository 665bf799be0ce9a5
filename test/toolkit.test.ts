// Looking at training and types that fit: module summaries, the progress line (terminal and log
// modes), SVG curves, typed data accessors, "did you mean" for script inputs, generic Sequential.
import { Builder, DType, Progress, Tensor, curvesSvg, nn } from '../lib';
import { codeOf } from './helpers/assert';

afterEach(() => Builder._abortActive());

describe('summary / toString', () => {
  const net = () =>
    new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 4 * 4, 10));
  test('the layer tree with parameter counts', () => {
    const s = String(net());
    expect(s).not.toMatch(/object Object/);
    const lines = s.split('\n');
    expect(lines.find((l) => l.includes('(0) Conv2d(1 -> 4, kernel 3x3)'))).toMatch(/\b40$/); // 4·1·9 + 4
    expect(lines.find((l) => l.includes('(1) BatchNorm2d(4)'))).toMatch(/\b8$/);
    expect(lines.find((l) => l.includes('(5) Linear(64 -> 10)'))).toMatch(/\b650$/);
    expect(s).toMatch(/Total params: 698 \(trainable 698\)/);
  });
  test('with an input shape: output shapes, and the module is left as it was', () => {
    const m = net();
    const bn = m.layers[1] as nn.BatchNorm2d;
    const s = m.summary([2, 1, 8, 8]);
    expect(s).toMatch(/\(0\) Conv2d.*\[2, 4, 8, 8\]/);
    expect(s).toMatch(/\(3\) MaxPool2d.*\[2, 4, 4, 4\]/);
    expect(s).toMatch(/\(5\) Linear.*\[2, 10\]/);
    expect(m.training).toBe(true);
    expect(bn.runningMean!.toNumbers()).toEqual([0, 0, 0, 0]); // ran in eval mode
    expect(Object.prototype.hasOwnProperty.call(bn, 'forward')).toBe(false);
  });
  test('nested modules', () => {
    const mha = new nn.MultiheadAttention(8, 2, { causal: true });
    const s = mha.toString();
    expect(s).toMatch(/MultiheadAttention\(embed 8, heads 2, causal\)/);
    expect(s).toMatch(/\(qProj\) Linear\(8 -> 8\)\s+72/);
    expect(s).toMatch(/Total params: 288/);
  });
});

class Sink {
  text = '';
  isTTY: boolean;
  columns = 100;
  constructor(tty: boolean) {
    this.isTTY = tty;
  }
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

describe('Progress', () => {
  test('log mode (not a TTY): a plain line every 25 % and one at the end, no carriage returns', () => {
    const out = new Sink(false);
    const p = new Progress(8, { label: 'epoch 1', stream: out as never, tty: false });
    for (let i = 0; i < 8; i++) p.tick({ loss: 1 / (i + 1) });
    p.done({ acc: 0.5 });
    const lines = out.text.trim().split('\n');
    expect(out.text).not.toMatch(/\r/);
    expect(lines.length).toBe(4);
    expect(lines[0]).toMatch(/^epoch 1\s+25% 2\/8 .*loss 0\.5000/);
    expect(lines[3]).toMatch(/100% 8\/8 .*loss 0\.1250\s+acc 0\.5000/);
  });
  test('terminal mode: a redrawn bar', () => {
    const out = new Sink(true);
    const p = new Progress(4, { stream: out as never, tty: true, minIntervalMs: 0 });
    p.tick();
    p.tick();
    expect(out.text).toMatch(/\r\[=+>? *\]\s+50% 2\/4/);
    p.done();
    expect(out.text.endsWith('\n')).toBe(true);
    expect(out.text).toMatch(/\[={10,}\] 100%/);
  });
  test('CI or a pipe gives log mode by default', () => {
    const prev = process.env.CI;
    process.env.CI = 'true';
    try {
      expect(new Progress(3, { stream: new Sink(true) as never }).tty).toBe(false);
    } finally {
      if (prev === undefined) delete process.env.CI;
      else process.env.CI = prev;
    }
    expect(new Progress(3, { stream: new Sink(false) as never }).tty).toBe(false);
  });
});

describe('SVG curves', () => {
  test('one panel per group, points placed by value', () => {
    const svg = curvesSvg([
      { name: 'train loss', values: [2, 1, 0.5] },
      { name: 'train acc', values: [0.5, 0.8, 0.9] },
      { name: 'test acc', values: [0.6, 0.85, 0.95] },
    ], { title: 'A <run>', width: 400, height: 300 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="800" height="300"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('A &lt;run&gt;');
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
    expect(lines.length).toBe(3);
    const [loss, tr, te] = lines;
    expect(loss.length).toBe(3);
    // x increases; the loss falls (SVG y grows downward); loss in the left panel, accuracy in the right
    expect(loss[0][0]).toBeLessThan(loss[2][0]);
    expect(loss[0][1]).toBeLessThan(loss[2][1]);
    expect(Math.max(...loss.map((p) => p[0]))).toBeLessThanOrEqual(400);
    expect(Math.min(...tr.map((p) => p[0]))).toBeGreaterThanOrEqual(400);
    // equal spacing in x for equal steps, and linear in y within a panel
    expect(loss[1][0] - loss[0][0]).toBeCloseTo(loss[2][0] - loss[1][0], 1);
    const k = (te[2][1] - te[0][1]) / (0.95 - 0.6);
    expect(te[1][1]).toBeCloseTo(te[0][1] + k * (0.85 - 0.6), 0);
    expect(codeOf(() => curvesSvg([]))).toBe('INVALID_ARGUMENT');
  });
});

describe('typed data access', () => {
  test('typed helpers: no copy for the own dtype, converted copies otherwise', () => {
    const f = Tensor.fromArray([1.5, -2, 3]);
    const a: Float32Array = f.toFloat32Array();
    expect(a.buffer).toBe(f.toTypedArray().buffer);
    expect(Array.from(f.toFloat64Array())).toEqual([1.5, -2, 3]);
    expect(Array.from(f.toInt32Array())).toEqual([1, -2, 3]);
    const i = Tensor.fromArray([7, 300], undefined, DType.I64);
    expect(Array.from(i.toInt32Array())).toEqual([7, 300]);
    expect(codeOf(() => i.toUint8Array())).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => Tensor.fromArray([2 ** 40], undefined, DType.I64).toInt32Array())).toBe('INVALID_ARGUMENT');
    expect(Array.from(Tensor.fromArray([true, false]).toUint8Array())).toEqual([1, 0]);
  });
  test('argmax results as plain numbers', () => {
    const ids = Tensor.fromArray([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]]).argmax(1);
    expect(ids.dtype).toBe(DType.I64); // unchanged (SPEC)
    const n: number[] = ids.toNumbers();
    expect(n).toEqual([1, 0]);
    expect(typeof n[0]).toBe('number');
    expect(codeOf(() => Tensor.fromArray([BigInt(2) ** BigInt(60)] as unknown as number[], undefined, DType.I64).toNumbers())).toBe('INVALID_ARGUMENT');
    expect(Tensor.fromArray([1, 2], undefined, DType.F16).toNumbers()).toEqual([1, 2]);
  });
  test('generic Sequential keeps the layer types', () => {
    const s = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
    const w: Tensor = s.layers[0].weight; // typed as Linear: no cast
    expect(w.shape).toEqual([3, 2]);
  });
});

describe('script input names', () => {
  test('a misspelled input name fails with a suggestion', () => {
    const b = new Builder('names').start();
    b.addOutput('y', Tensor.input('images', [2]).add(Tensor.input('labels', [2])));
    const s = b.build().addInput('imgaes', Tensor.zeros([2])).addInput('labels', Tensor.zeros([2]));
    let err: { code?: string; message?: string } = {};
    try {
      s.run();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe('INPUT_UNKNOWN');
    expect(err.message).toMatch(/'imgaes'.*did you mean 'images'\?/);
    s.clearInputs().addInput('zzz', Tensor.zeros([2]));
    try {
      s.run();
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.message).not.toMatch(/did you mean/);
  });
});
