// ONNX's own node tests (onnx 1.23.2, generated from the pinned wheel by scripts/onnx-node-tests.js
// into the ignored cache) run through Script.fromOnnx on HODU and on XLA, against the expected
// outputs ONNX ships with each test. test/onnx-expected-failures.json lists every test that does
// not pass, with the reason (onnxruntime's filter-list model): an unlisted failure or a listed
// pass fails this suite, so progress ratchets. HODU_ONNX_WRITE_MANIFEST=1 rewrites the list.
// HODU_SKIP_ONNX_NODE=1 skips the suite on machines without python3/PyPI.
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import * as fs from 'fs';
import * as path from 'path';
import { Backend, Builder } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { NodeTestEntry, runNodeTest } from './helpers/onnx-node';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureOnnxNodeTests } = require('../scripts/onnx-node-tests.js') as { ensureOnnxNodeTests: (log?: (m: string) => void) => string };

const MANIFEST = path.join(__dirname, 'onnx-expected-failures.json');
const skip = process.env.HODU_SKIP_ONNX_NODE === '1';
const write = process.env.HODU_ONNX_WRITE_MANIFEST === '1';
const xlaReady = xlaBuilt() && findPjrtPlugin('cpu').path !== null && process.env.HODU_SKIP_XLA !== '1';

interface Manifest {
  onnx: string;
  note: string;
  hodu: Record<string, string>;
  xla: Record<string, string>;
}

function readManifest(): Manifest {
  if (!fs.existsSync(MANIFEST)) return { onnx: '1.23.2', note: '', hodu: {}, xla: {} };
  return JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as Manifest;
}

let root = '';
let tests: NodeTestEntry[] = [];
const hoduPassed = new Set<string>();
const manifest = readManifest();

const d = skip ? describe.skip : describe;

d('ONNX node tests (onnx 1.23.2)', () => {
  beforeAll(() => {
    root = ensureOnnxNodeTests((m) => console.log(`[onnx-node-tests] ${m}`));
    const idx = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { onnx: string; tests: NodeTestEntry[] };
    tests = idx.tests.slice().sort((a, b) => a.name.localeCompare(b.name));
  }, 600000);

  afterEach(() => Builder._abortActive());

  afterAll(() => {
    if (write) fs.writeFileSync(MANIFEST, JSON.stringify(manifest, null, 1) + '\n');
  });

  test('HODU: every test passes or is listed with its reason', () => {
    const failed: Record<string, string> = {};
    for (const t of tests) {
      const r = runNodeTest(root, t, Backend.HODU);
      Builder._abortActive();
      if (r.ok) hoduPassed.add(t.name);
      else failed[t.name] = r.reason;
    }
    const rate = (100 * hoduPassed.size) / tests.length;
    console.log(`ONNX node tests on HODU: ${hoduPassed.size} / ${tests.length} passed (${rate.toFixed(1)} %)`);
    if (write) {
      manifest.hodu = failed;
      return;
    }
    const unexpected = Object.entries(failed).filter(([n]) => !(n in manifest.hodu));
    const nowPassing = [...hoduPassed].filter((n) => n in manifest.hodu);
    expect(unexpected.map(([n, r]) => `${n}: ${r}`)).toEqual([]);
    expect(nowPassing.map((n) => `${n} passes now: remove it from test/onnx-expected-failures.json`)).toEqual([]);
  }, 1200000);

  (xlaReady ? test : test.skip)('XLA: the tests that pass on HODU pass on XLA (or are listed)', () => {
    const failed: Record<string, string> = {};
    let passed = 0;
    for (const t of tests) {
      if (!hoduPassed.has(t.name)) continue;
      const r = runNodeTest(root, t, Backend.XLA);
      Builder._abortActive();
      if (r.ok) passed++;
      else failed[t.name] = r.reason;
    }
    console.log(`ONNX node tests on XLA: ${passed} / ${hoduPassed.size} of the HODU-passing set passed (${((100 * passed) / tests.length).toFixed(1)} % of all ${tests.length})`);
    if (write) {
      manifest.xla = failed;
      return;
    }
    const unexpected = Object.entries(failed).filter(([n]) => !(n in manifest.xla));
    const nowPassing = Object.keys(manifest.xla).filter((n) => hoduPassed.has(n) && !(n in failed));
    expect(unexpected.map(([n, r]) => `${n}: ${r}`)).toEqual([]);
    expect(nowPassing.map((n) => `${n} passes on XLA now: remove it from the xla list`)).toEqual([]);
  }, 1800000);
});
