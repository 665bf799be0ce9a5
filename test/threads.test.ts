// The OpenMP wait policy hodu sets before loading the addon (lib/native.ts tuneOpenMp): a bounded
// spin unless the user chose one. Checked in a child process, since libgomp reads it once at load.
import { execFileSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..');

function spinAfterLoad(env: Record<string, string>): string {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'GOMP_SPINCOUNT' && k !== 'OMP_WAIT_POLICY') clean[k] = v;
  return execFileSync(process.execPath, ['-e', "require('./dist'); console.log(String(process.env.GOMP_SPINCOUNT))"], {
    cwd: root,
    env: { ...clean, ...env },
    encoding: 'utf8',
  }).trim();
}

describe('OpenMP wait policy', () => {
  test('a bounded spin by default', () => {
    expect(spinAfterLoad({})).toBe('20000');
  });
  test("the user's GOMP_SPINCOUNT or OMP_WAIT_POLICY wins", () => {
    expect(spinAfterLoad({ GOMP_SPINCOUNT: '7' })).toBe('7');
    expect(spinAfterLoad({ OMP_WAIT_POLICY: 'passive' })).toBe('undefined');
  });
});

describe('script outputs reuse memory', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Builder, Tensor } = require('../lib');
  test('a disposed output returns its memory to the next run, and results stay right', () => {
    const b = new Builder('pool');
    b.start();
    const x = Tensor.input('x', [1000]);
    b.addOutput('y', x.mul(2).add(1));
    b.end();
    const s = b.build();
    for (let k = 0; k < 5; k++) {
      const xs = Array.from({ length: 1000 }, (_, i) => i * 0.5 + k);
      const y = s.addInput('x', Tensor.fromArray(xs)).run().y;
      const got = y.toTypedArray() as Float32Array;
      xs.forEach((v, i) => expect(got[i]).toBe(Math.fround(v * 2 + 1)));
      y.dispose();
      expect(got.length).toBe(0); // detached: the block now serves the next run
    }
  });
});
