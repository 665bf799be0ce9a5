// Short runs of the JS fuzzers (test/fuzz/*.ts; `npm run fuzz` runs them for longer): random public
// API calls and mutated .hoduscript files. The only allowed outcomes are a result or a HoduError
// (a crash would end the jest worker and fail the file). The seed is fixed so a failure reproduces;
// HODU_FUZZ_SEED picks another.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { Builder } from '../lib';
import { fuzzApi } from './fuzz/api-fuzz';
import { fuzzScriptFiles } from './fuzz/script-file-fuzz';

const seed = Number(process.env.HODU_FUZZ_SEED || 20261206);
const scale = process.env.HODU_ASAN_RUN === '1' ? 0.5 : 1;

afterEach(() => Builder._abortActive());

test('API fuzzer: every call gives a result or a HoduError', () => {
  const s = fuzzApi(15 * scale, seed);
  expect(s.findings).toEqual([]);
  expect(s.calls).toBeGreaterThan(200);
  expect(s.results).toBeGreaterThan(0);
  expect(s.hoduErrors).toBeGreaterThan(0);
}, 120000);

test('script-file fuzzer: every mutant loads and runs, or gives a HoduError', () => {
  const s = fuzzScriptFiles(10 * scale, seed);
  expect(s.findings).toEqual([]);
  expect(s.mutants).toBeGreaterThan(20);
  expect(s.hoduErrors).toBeGreaterThan(0);
}, 120000);
