#!/usr/bin/env node
// `npm run soak`: memory soak of the built package (dist/). Each phase samples RSS (after a GC) at 11
// points and fails when the growth from its first sample after warm-up (10 %) to its end exceeds the
// bound. Phases (N = 1,000,000 runs at --scale 1; --scale 0.1 for a short form):
//   sync-dispose, sync-drop, async-dispose, async-drop   N runs of a 2-output script on HODU
//   xla-sync-dispose                                      N/10 runs on XLA (when its plugin is there)
//   train                                                  10k eager training steps (MLP, Adam)
//   scripts                                                1k scripts built, compiled, run and disposed
// Writes build-soak/soak.json and prints a markdown table (docs/reliability.md records one).
//   node --expose-gc scripts/soak.js [--scale S] [--bound-mb B] [--only NAME]
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : d);
const scale = Number(opt('--scale', '1'));
const boundMb = Number(opt('--bound-mb', '32'));
const only = opt('--only', null);
if (typeof global.gc !== 'function') {
  const { spawnSync } = require('child_process');
  const r = spawnSync(process.execPath, ['--expose-gc', __filename, ...argv], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
process.env.PJRT_NPROC = process.env.PJRT_NPROC || '1';
const hodu = require(path.join(root, 'dist'));
const { Tensor, Builder, Backend, nn } = hodu;

const rssMb = () => {
  global.gc();
  return process.memoryUsage().rss / 2 ** 20;
};
const results = [];

function script() {
  const b = new Builder('soak');
  b.start();
  const x = Tensor.input('x', [64]);
  b.addOutput('y', x.mul(2).add(1));
  b.addOutput('z', x.relu().sum());
  b.end();
  return b.build().addInput('x', Tensor.ones([64]));
}

async function phase(name, n, step) {
  if (only && only !== name) return;
  const samples = [];
  const t0 = Date.now();
  for (let i = 0; i <= n; i++) {
    if (i % Math.max(1, Math.floor(n / 10)) === 0) samples.push([i, Number(rssMb().toFixed(1))]);
    if (i < n) await step(i);
  }
  const base = samples[1] ? samples[1][1] : samples[0][1];
  const growth = samples[samples.length - 1][1] - base;
  const r = { name, n, seconds: (Date.now() - t0) / 1000, rss: samples, growthMb: Number(growth.toFixed(1)), ok: growth <= boundMb };
  results.push(r);
  process.stderr.write(`[soak] ${name}: ${n} steps in ${r.seconds}s, RSS ${samples.map((s) => s[1]).join(' -> ')} MB, growth ${r.growthMb} MB ${r.ok ? 'ok' : 'OVER BOUND'}\n`);
}

async function main() {
  const N = Math.round(1e6 * scale);
  const s = script();
  // a synchronous loop never yields: the growth of R7 would show here
  await phase('sync-dispose', N, () => {
    const o = s.run();
    o.y.dispose();
    o.z.dispose();
  });
  await phase('sync-drop', N, () => {
    s.run();
  });
  await phase('async-dispose', N, async () => {
    const o = await s.runAsync();
    o.y.dispose();
    o.z.dispose();
  });
  await phase('async-drop', N, async () => {
    await s.runAsync();
  });
  let xla = false;
  try {
    script().setBackend(Backend.XLA).run();
    xla = true;
  } catch {
    process.stderr.write('[soak] no XLA plugin: XLA phase skipped\n');
  }
  if (xla) {
    const sx = script().setBackend(Backend.XLA);
    await phase('xla-sync-dispose', Math.round(N / 10), () => {
      const o = sx.run();
      o.y.dispose();
      o.z.dispose();
    });
  }
  const model = new nn.Sequential(new nn.Linear(32, 64), new nn.ReLU(), new nn.Linear(64, 4));
  const opt = new nn.Adam(1e-3);
  const params = model.parameters();
  const x = Tensor.randn([16, 32]);
  const y = Tensor.randn([16, 4]);
  const mse = new nn.MSE();
  await phase('train', Math.round(1e4 * Math.max(scale, 0.1)), () => {
    opt.zeroGrad(params);
    const loss = mse.forward(model.forward(x), y);
    loss.backward();
    opt.step(params);
    loss.dispose();
  });
  await phase('scripts', Math.round(1e3 * Math.max(scale, 0.1)), (i) => {
    const b = new Builder(`s${i}`);
    b.start();
    const inp = Tensor.input('x', [8, 8]);
    b.addOutput('y', inp.matmul(Tensor.rand([8, 8])).add(i).softmax(-1));
    b.end();
    const sc = b.build().addInput('x', Tensor.ones([8, 8]));
    for (const t of Object.values(sc.run())) t.dispose();
    sc.dispose();
  });
  const out = path.join(root, 'build-soak');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'soak.json'), JSON.stringify({ at: new Date().toISOString(), scale, boundMb, results }, null, 1));
  console.log(`| phase | steps | seconds | RSS MB at 0, 10 %, …, 100 % | growth after warm-up |`);
  console.log(`|---|---|---|---|---|`);
  for (const r of results)
    console.log(`| ${r.name} | ${r.n} | ${r.seconds.toFixed(0)} | ${r.rss.map((s) => s[1].toFixed(0)).join(' → ')} | ${r.growthMb} MB${r.ok ? '' : ' (over)'} |`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
