// The C++ core's own test driver (test/native/*.cc: kernels against float64 reference loops,
// concurrent runs of one kernel, the IR decoder, the XLA client), built from the same objects as
// the addon in build/ and run without Node, as on a machine that has no Node.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const deps = require('../scripts/deps.js') as { ensureCmake(log?: (m: string) => void): string };

const root = path.join(__dirname, '..');
const build = path.join(root, 'build');

function findExecutable(dir: string, name: string): string | null {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return p;
    if (entry.isDirectory() && entry.name !== 'CMakeFiles') {
      const found = findExecutable(p, name);
      if (found) return found;
    }
  }
  return null;
}

test('hodu_native_tests: every C++ core test passes', () => {
  // npm test's set-up configured and built build/ (cmake-js); the driver reuses its core objects
  expect(fs.existsSync(path.join(build, 'CMakeCache.txt'))).toBe(true);
  const cmake = deps.ensureCmake();
  execFileSync(cmake, ['--build', build, '--target', 'hodu_native_tests', '--parallel', '2'], { stdio: 'pipe', maxBuffer: 64 << 20 });
  const exe = findExecutable(build, 'hodu_native_tests');
  expect(exe).not.toBeNull();
  const out = execFileSync(exe!, [], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 15 * 60 * 1000 });
  const m = /^(\d+) passed, (\d+) failed$/m.exec(out);
  expect(m).not.toBeNull();
  const failedLines = out.split('\n').filter((l) => /FAIL/.test(l));
  expect(failedLines).toEqual([]);
  expect(Number(m![2])).toBe(0);
  expect(Number(m![1])).toBeGreaterThan(50);
}, 30 * 60 * 1000);
