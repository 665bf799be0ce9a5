#!/usr/bin/env node
// `npm run test:asan`: the native addon and the C++ test driver under AddressSanitizer + UBSan, then
//   1. hodu_native_tests (LSan on, the XLA plugin's own allocations suppressed by test/native/lsan.supp);
//   2. a jest subset in Node with the sanitizer runtime preloaded (LD_PRELOAD=libasan: Node itself is
//      not instrumented, so leak detection is off there) and the ASan addon loaded via HODU_ADDON.
// allocator_may_return_null=1 lets huge requests fail as in release builds (a HoduError) instead of
// ASan reporting them. Any sanitizer report fails the run.
//
//   node scripts/test-asan.js [--no-build] [--jest-only | --no-jest] [jest test files...]
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync, execFileSync } = require('child_process');
const deps = require('./deps');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const files = argv.filter((a) => !a.startsWith('--'));
const log = (m) => process.stderr.write(`[test:asan] ${m}\n`);
const DEFAULT_JEST = ['test/reliability.test.ts', 'test/errors.test.ts', 'test/script-file.test.ts', 'test/ops-matmul-conv.test.ts',
  'test/ops-reduce.test.ts', 'test/reliability-fuzz.test.ts'];

function run(cmd, args, opts = {}) {
  log(`${path.basename(cmd)} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return r;
}

function sanitizerReports(text) {
  return text.split('\n').filter((l) => /ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer/.test(l));
}

function main() {
  const libasan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  const libubsan = execFileSync('gcc', ['-print-file-name=libubsan.so'], { encoding: 'utf8' }).trim();
  if (!argv.includes('--no-build')) {
    // the addon: build-asan/Release/hodu.node (cmake-js, HODU_ASAN=ON)
    const r = run(process.execPath, [path.join(root, 'scripts', 'setup.js'), '--asan'], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status || 1);
  }
  let failed = false;
  const addon = path.join(root, 'build-asan', 'Release', 'hodu.node');
  if (!argv.includes('--jest-only')) {
    // the C++ driver from the same configured tree
    const cmake = deps.ensureCmake(log);
    const b = run(cmake, ['--build', path.join(root, 'build-asan'), '--target', 'hodu_native_tests', '--parallel', '2'], { stdio: 'inherit' });
    if (b.status !== 0) process.exit(b.status || 1);
    const exe = [path.join(root, 'build-asan', 'hodu_native_tests'), path.join(root, 'build-asan', 'Release', 'hodu_native_tests')].find((p) =>
      fs.existsSync(p),
    );
    const t = run(exe, [], {
      env: { ...process.env, LSAN_OPTIONS: `suppressions=${path.join(root, 'test', 'native', 'lsan.supp')}`,
        ASAN_OPTIONS: 'allocator_may_return_null=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
    });
    const text = `${t.stdout}${t.stderr}`;
    const summary = (text.match(/^\d+ passed, \d+ failed$/m) || ['no summary'])[0];
    const reports = sanitizerReports(text);
    log(`hodu_native_tests: ${summary}; sanitizer reports: ${reports.length}`);
    if (t.status !== 0 || reports.length) {
      failed = true;
      process.stderr.write(text.slice(-20000));
    }
  }
  if (argv.includes('--no-jest')) process.exit(failed ? 1 : 0);
  const jestFiles = files.length ? files : DEFAULT_JEST;
  const j = run(process.execPath, [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand', ...jestFiles], {
    env: {
      ...process.env,
      LD_PRELOAD: [libasan, libubsan].join(' '),
      ASAN_OPTIONS: 'detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=65536',
      UBSAN_OPTIONS: 'print_stacktrace=1',
      HODU_ADDON: addon,
      HODU_ASAN_RUN: '1',
    },
  });
  const text = `${j.stdout}${j.stderr}`;
  const reports = sanitizerReports(text);
  log(`jest under ASan: exit ${j.status}; sanitizer reports: ${reports.length}`);
  if (j.status !== 0 || reports.length) {
    failed = true;
    process.stderr.write(text.slice(-30000));
  } else {
    process.stderr.write((text.match(/^Tests:.*$/m) || [''])[0] + '\n');
  }
  process.exit(failed ? 1 : 0);
}

main();
