// scripts/setup.js is quiet and idempotent: run again on a set-up checkout (as `npm test` just did), it prints one
// `[hodu setup] <step>: up to date` line per step and nothing else, and changes nothing.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..');

test('a second run prints one short line per step, all "up to date", and leaves the build alone', () => {
  const node = path.join(root, 'build', 'Release', 'hodu.node');
  const dist = path.join(root, 'dist', 'index.js');
  const before = [fs.statSync(node).mtimeMs, fs.statSync(dist).mtimeMs];
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup.js')], { cwd: root, encoding: 'utf8', timeout: 120000 });
  expect(r.status).toBe(0);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toEqual([
    '[hodu setup] npm deps: up to date',
    '[hodu setup] native build: up to date (build/Release/hodu.node)',
    '[hodu setup] TypeScript: up to date (dist/)',
  ]);
  for (const l of lines) expect(l.length).toBeLessThan(100);
  expect([fs.statSync(node).mtimeMs, fs.statSync(dist).mtimeMs]).toEqual(before);
});

test('a failing step shows the tool\'s output and names the step, without --verbose; --verbose streams it', () => {
  // A scratch tree with scripts/setup.js, a stale native/ and a cmake-js stand-in that fails with compiler-like output.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-setup-'));
  try {
    fs.mkdirSync(path.join(tmp, 'scripts'));
    for (const f of ['setup.js', 'deps.js']) fs.copyFileSync(path.join(root, 'scripts', f), path.join(tmp, 'scripts', f));
    fs.mkdirSync(path.join(tmp, 'native'));
    fs.writeFileSync(path.join(tmp, 'native', 'a.cc'), 'int main() {}\n');
    fs.writeFileSync(path.join(tmp, 'package-lock.json'), '{}');
    fs.mkdirSync(path.join(tmp, 'node_modules', 'cmake-js', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'node_modules', '.package-lock.json'), '{}');
    fs.writeFileSync(path.join(tmp, 'node_modules', 'cmake-js', 'bin', 'cmake-js'),
      "console.log('[ 50%] Building CXX object a.cc.o'); console.error('../native/a.cc:1:1: error: something is wrong'); process.exit(2);\n");
    const env = { ...process.env, HODU_ONEDNN_DIR: tmp, HODU_SKIP_PJRT: '1', HODU_VERBOSE: '' };
    const quiet = spawnSync(process.execPath, [path.join(tmp, 'scripts', 'setup.js'), '--native-only'], { cwd: tmp, encoding: 'utf8', env, timeout: 120000 });
    expect(quiet.status).toBe(1);
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toContain('[hodu setup] native build: compiling build/Release/hodu.node');
    expect(quiet.stderr).toContain('[ 50%] Building CXX object a.cc.o\n../native/a.cc:1:1: error: something is wrong'); // shown because it failed
    expect(quiet.stderr).toMatch(/\[hodu setup\] failed: node .*cmake-js compile .* failed with exit code 2 \(run `node scripts\/setup.js --verbose`/);
    const loud = spawnSync(process.execPath, [path.join(tmp, 'scripts', 'setup.js'), '--native-only', '--verbose'], { cwd: tmp, encoding: 'utf8', env, timeout: 120000 });
    expect(loud.status).toBe(1);
    expect(loud.stdout).toContain('[ 50%] Building CXX object a.cc.o'); // streamed as it came
    expect(loud.stderr).toContain('error: something is wrong');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
