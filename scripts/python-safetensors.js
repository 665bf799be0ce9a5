'use strict';
// A Python virtual environment with the real `safetensors` package (and numpy), pinned, in the
// ignored cache (.cache/safetensors-venv). The safetensors tests use it to check that files the
// Python package writes load in hodu and that files hodu writes load in Python.
//   node scripts/python-safetensors.js      -> prints the venv's python path (exit 1 if pip fails)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { cacheDir } = require('./deps');

const PINNED = ['safetensors==0.4.5', 'numpy==1.26.4'];
const venv = path.join(cacheDir, 'safetensors-venv');
const py = path.join(venv, 'bin', 'python');

function ok(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return r.status === 0 ? r : null;
}

/** The venv's python with the pinned packages, creating it on first use; throws with pip's output. */
function ensureSafetensorsPython(log = () => {}) {
  const probe = () => ok([py, '-c', 'import safetensors, numpy; print(safetensors.__version__, numpy.__version__)']);
  const have = fs.existsSync(py) && probe();
  if (have && have.stdout.trim() === PINNED.map((p) => p.split('==')[1]).join(' ')) return py;
  const base = ['python3', 'python'].find((p) => ok([p, '--version']));
  if (!base) throw new Error('python3 is needed for the safetensors interop tests');
  if (!fs.existsSync(py)) {
    log(`creating ${venv}`);
    const r = spawnSync(base, ['-m', 'venv', venv], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python -m venv failed: ${r.stderr}`);
  }
  log(`pip install ${PINNED.join(' ')}`);
  const req = path.join(__dirname, 'requirements', 'safetensors.txt'); // the same pins, each wheel's sha256
  const r = spawnSync(py, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '--only-binary=:all:', '--require-hashes', '-r', req], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`pip install ${PINNED.join(' ')} failed (is PyPI reachable?):\n${r.stdout}${r.stderr}`);
  if (!probe()) throw new Error('the safetensors venv does not import safetensors and numpy after pip install');
  return py;
}

module.exports = { ensureSafetensorsPython, PINNED };

if (require.main === module) {
  try {
    console.log(ensureSafetensorsPython((m) => process.stderr.write(`[hodu safetensors] ${m}\n`)));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
