#!/usr/bin/env node
// Packs what would be published: the main package and the platform package, the way sharp and esbuild ship.
//
//   hodu-<v>.tgz                 dist/ (no source maps), bin/hodu.js, README.md, CHANGELOG.md and a package.json with
//                                no scripts (nothing runs at install) and optionalDependencies {"@hodu/linux-x64-gnu": <v>}
//   hodu-linux-x64-gnu-<v>.tgz   npm/linux-x64-gnu/: hodu.node + libdnnl.so.3 + libgomp.so.1 (npm run prebuild:linux)
//
// The repository's package.json does not list the platform package (it is not on the registry while unpublished, and
// `npm ci` of a clone must need nothing else); the staged copy in build-pack/hodu/ does.
//
//   node scripts/pack.js [--out DIR] [--skip-prebuild] [--json]
// Prints the two tarballs with their sizes (--json: npm pack's records, for test/package.test.ts).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const outDir = path.resolve(opt('--out') || path.join(root, 'build-pack'));
const log = (m) => process.stderr.write(`[hodu pack] ${m}\n`);
const PLATFORMS = ['linux-x64-gnu'];

function must(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout || ''}${r.stderr || ''}`);
  return r.stdout;
}

function copyDir(src, dst, skip = () => false) {
  fs.mkdirSync(dst, { recursive: true });
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    const s = path.join(src, e.name);
    const d = path.join(dst, e.name);
    if (skip(s)) continue;
    if (e.isDirectory()) copyDir(s, d, skip);
    else if (e.isFile()) fs.copyFileSync(s, d);
  }
}

/** The package.json that is published: the repository's, less what only a clone uses, plus the platform packages. */
function publishedManifest(pkg) {
  const keep = ['name', 'version', 'description', 'license', 'keywords', 'repository', 'homepage', 'bugs', 'main', 'types',
    'bin', 'files', 'engines', 'exports'];
  const out = {};
  for (const k of keep) if (pkg[k] !== undefined) out[k] = pkg[k];
  out.optionalDependencies = Object.fromEntries(PLATFORMS.map((p) => [`@hodu/${p}`, pkg.version]));
  return out;
}

function main() {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (!argv.includes('--skip-prebuild')) {
    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH;
    log('platform package: npm run prebuild:linux (a no-op when up to date)');
    must(process.execPath, [path.join(root, 'scripts', 'prebuild-linux.js'), '--quiet'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const stage = path.join(outDir, 'hodu');
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  // compiled straight into the stage (fresh, no source maps), so dist/ of the checkout is never rewritten under a
  // running test suite
  must(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json',
    '--outDir', path.join(stage, 'dist'), '--sourceMap', 'false']);
  copyDir(path.join(root, 'bin'), path.join(stage, 'bin'));
  for (const f of ['README.md', 'CHANGELOG.md']) if (fs.existsSync(path.join(root, f))) fs.copyFileSync(path.join(root, f), path.join(stage, f));
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(publishedManifest(pkg), null, 2) + '\n');

  const records = [];
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k];
  for (const dir of [...PLATFORMS.map((p) => path.join(root, 'npm', p)), stage]) {
    const out = must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], { cwd: dir, env });
    const rec = JSON.parse(out)[0];
    rec.tarball = path.join(outDir, rec.filename);
    records.push(rec);
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(records));
  else
    for (const r of records)
      log(`${path.relative(root, r.tarball)}: ${r.entryCount} files, ${(r.size / 1048576).toFixed(1)} MiB packed, ` +
        `${(r.unpackedSize / 1048576).toFixed(1)} MiB unpacked`);
}

try {
  main();
} catch (e) {
  log(`failed: ${e.message}`);
  process.exit(1);
}
