'use strict';
// ONNX's own node tests, generated from the pinned onnx wheel (PyPI) into the ignored cache:
//   <cache>/onnx-node-<version>/<test>/{model.onnx, test_data_set_0/*.pb} + index.json
// A venv under <cache>/onnx-venv gets onnx and numpy from PyPI, every wheel pinned by sha256
// (scripts/requirements/onnx-node-tests.txt, pip --require-hashes).
// Usage: node scripts/onnx-node-tests.js   (prints the folder)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { cacheDir } = require('./deps');

const ONNX_VERSION = '1.23.2';
const NUMPY_VERSION = '2.4.6';
const OUT = path.join(cacheDir, `onnx-node-${ONNX_VERSION}`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function ensureOnnxNodeTests(log = () => {}) {
  if (fs.existsSync(path.join(OUT, 'index.json'))) return OUT;
  const venv = path.join(cacheDir, 'onnx-venv');
  const py = path.join(venv, 'bin', 'python');
  if (!fs.existsSync(py)) {
    log(`creating ${venv}`);
    run('python3', ['-m', 'venv', venv]);
  }
  const have = spawnSync(py, ['-c', 'import onnx, numpy; print(onnx.__version__, numpy.__version__)'], { encoding: 'utf8' });
  if (have.status !== 0 || have.stdout.trim() !== `${ONNX_VERSION} ${NUMPY_VERSION}`) {
    log(`installing onnx==${ONNX_VERSION} numpy==${NUMPY_VERSION} (pip)`);
    const req = path.join(__dirname, 'requirements', 'onnx-node-tests.txt');
    run(py, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '--only-binary=:all:', '--require-hashes', '-r', req]);
  }
  const tmp = `${OUT}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`generating node tests into ${OUT}`);
  run(py, ['-W', 'ignore', path.join(__dirname, 'onnx-node-tests.py'), tmp]);
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.renameSync(tmp, OUT);
  return OUT;
}

module.exports = { ensureOnnxNodeTests, ONNX_NODE_TESTS_DIR: OUT, ONNX_VERSION };

if (require.main === module) {
  try {
    console.log(ensureOnnxNodeTests((m) => console.error(`[onnx-node-tests] ${m}`)));
  } catch (e) {
    console.error(`[onnx-node-tests] ${e.message}`);
    process.exit(1);
  }
}
