// runAsync reads hodu's own pooled output blocks (the outputs of earlier runs, fed back) in place
// instead of copying them: the block is pinned for the run (native/binding/output_pool.cc), so
// neither a dispose nor a collection of its ArrayBuffer (nor, where the runtime has it,
// ArrayBuffer.prototype.transfer) lets the pool give the block to another run before the async run
// has read it. Other inputs (V8-owned memory: user typed arrays, Tensor.fromArray) are still copied,
// since N-API cannot pin them (test/reliability.test.ts, "inputs whose memory is transferred").
import { spawnSync } from 'child_process';
import * as path from 'path';
import { Builder, Tensor } from '../lib';

const root = path.resolve(__dirname, '..');

function child(code: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', '-e', code], { cwd: root, encoding: 'utf8', timeout: 120000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** y = x + 8, as eight adds. */
function plus8(n: number) {
  const b = new Builder('plus8');
  b.start();
  let y = Tensor.input('x', [n]);
  for (let k = 0; k < 8; k++) y = y.add(1);
  b.addOutput('y', y);
  b.end();
  return b.build();
}

describe('runAsync with a pooled output as its input', () => {
  it('gives x + 8 exactly when the input is the output of an earlier run (1 + 8 + 8 = 17)', async () => {
    const s = plus8(1 << 16);
    const ones = new Float32Array(1 << 16).fill(1);
    for (let i = 0; i < 5; i++) {
      const a = s.run({ x: ones }).y;
      const y = (await s.runAsync({ x: a })).y.toTypedArray() as Float32Array;
      expect(y.every((v) => v === 17)).toBe(true);
      // the input is untouched and still usable
      expect((a.toTypedArray() as Float32Array).every((v) => v === 9)).toBe(true);
    }
  });

  it('postMessage/structuredClone cannot detach a pooled output: Node copies external buffers instead', () => {
    // Why only hodu's pooled blocks skip the copy: a transfer list cannot free them under a run.
    const s = plus8(1024);
    const a = s.run({ x: new Float32Array(1024) }).y;
    const buf = (a.toTypedArray() as Float32Array).buffer as ArrayBuffer;
    const clone = structuredClone(buf, { transfer: [buf] });
    expect(buf.byteLength).toBe(4096);
    expect(new Float32Array(clone)[0]).toBe(8);
    expect((a.toTypedArray() as Float32Array)[1023]).toBe(8);
  });

  it('a dispose, a transfer attempt and GCs mid-run change nothing while other runs reuse pool blocks (child, --expose-gc)', () => {
    // A long run (a rolled loop of 64 adds over 2^20 floats, then + x2 + x) reads its input x last,
    // while this thread disposes x's tensor, tries to transfer its buffer, collects garbage, yields
    // (finalizers run) and makes outputs of the same size that would take x's block from the pool
    // and write -100 into it. Expected: 2 + 64 + 1 + 2 = 69 everywhere.
    const r = child(`
      const { Tensor, Builder } = require('./lib');
      const N = 1 << 20;
      const b = new Builder('long'); b.start();
      const x = Tensor.input('x', [N]); let y = x;
      for (let k = 0; k < 64; k++) y = y.add(1);
      b.addOutput('y', y.add(Tensor.input('x2', [N])).add(x)); b.end();
      const long = b.build();
      const c = new Builder('one'); c.start(); c.addOutput('y', Tensor.input('x', [N]).add(1)); c.end();
      const one = c.build();
      const ones = new Float32Array(N).fill(1), neg = new Float32Array(N).fill(-101);
      (async () => {
        let bad = 0;
        for (let i = 0; i < 12; i++) {
          const a = one.run({ x: ones }).y;  // a pooled block, all 2
          const buf = a.toTypedArray().buffer;
          const p = long.runAsync({ x: a, x2: ones });
          if (i % 2) a.dispose(); else structuredClone(buf, { transfer: [buf] });
          for (let g = 0; g < 2; g++) { global.gc(); await new Promise((r) => setTimeout(r, 2)); }
          for (let k = 0; k < 6; k++) one.run({ x: neg }).y.dispose();
          const out = (await p).y.toTypedArray();
          for (const v of out) if (v !== 69) bad++;
        }
        console.log('BAD', bad);
      })();`);
    expect(r.out).toMatch(/BAD 0/);
    expect(r.status).toBe(0);
  });
});
