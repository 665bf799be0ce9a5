// A tiny character-level Transformer (token + position Embedding, one block of causal
// MultiheadAttention and an MLP, each behind a LayerNorm with a residual connection) trained in
// script mode on a generated text, with AdamW, warm-up + cosine schedule and gradient clipping.
// Prints the loss as it falls (from about ln(vocabulary) toward the text's entropy) and a greedy
// sample; writes the loss curve as SVG.
// Run: npx tsx examples/char-transformer.ts [--steps N] [--svg path]
import { Builder, DType, Module, Tensor, manualSeed, nn, writeCurvesSvg } from 'hodu';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
const STEPS = Number(opt('steps', '600'));
const SVG = opt('svg', '');
const T = 32; // context
const B = 16; // batch
const E = 48; // embedding
const H = 4; // heads

// A generated text: simple sentences from a small grammar (deterministic).
function makeText(n: number): string {
  let s = 12345;
  const rnd = (k: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % k;
  const who = ['the cat', 'a dog', 'the bird', 'my friend', 'the old man', 'a child'];
  const did = ['sat on', 'looked at', 'walked to', 'jumped over', 'ran past', 'slept near'];
  const what = ['the mat', 'a tree', 'the river', 'the red house', 'a small box', 'the garden'];
  let out = '';
  while (out.length < n) out += `${who[rnd(6)]} ${did[rnd(6)]} ${what[rnd(6)]}. `;
  return out;
}
const text = makeText(40000);
const vocab = [...new Set(text)].sort();
const V = vocab.length;
const ids = Int32Array.from(text, (c) => vocab.indexOf(c));

class Block extends Module {
  ln1 = new nn.LayerNorm(E);
  attn = new nn.MultiheadAttention(E, H, { causal: true });
  ln2 = new nn.LayerNorm(E);
  fc1 = new nn.Linear(E, 4 * E);
  fc2 = new nn.Linear(4 * E, E);
  forward(x: Tensor): Tensor {
    const h = x.add(this.attn.forward(this.ln1.forward(x)));
    return h.add(this.fc2.forward(this.fc1.forward(this.ln2.forward(h)).gelu()));
  }
}

class TinyGPT extends Module {
  tok = new nn.Embedding(V, E);
  pos = new nn.Embedding(T, E);
  block = new Block();
  lnF = new nn.LayerNorm(E);
  head = new nn.Linear(E, V);
  private readonly positions = Tensor.arange(0, T, 1, DType.I64);
  forward(x: Tensor): Tensor {
    const h = this.tok.forward(x).mul(0.1).add(this.pos.forward(this.positions).mul(0.1));
    return this.head.forward(this.lnF.forward(this.block.forward(h)));
  }
}

manualSeed(3);
const model = new TinyGPT();
console.log(model.toString());
const optim = new nn.AdamW(3e-3, 0.9, 0.99, 1e-8, 0.01);
const sched = new nn.CosineLR(optim, { totalSteps: STEPS, warmupSteps: Math.min(40, STEPS - 1), minLr: 3e-4 });
const ce = new nn.CrossEntropy();

const b = new Builder('char_step').start();
const xIn = Tensor.input('x', [B, T], DType.I32);
const yIn = Tensor.input('y', [B * T], DType.I32);
const loss = ce.forward([model.forward(xIn).reshape([B * T, V]), yIn]);
loss.backward();
nn.clipGradNorm(model.parameters(), 1.0);
optim.step(model.parameters());
optim.zeroGrad(model.parameters());
b.addOutput('loss', loss);
const step = b.build();

model.eval();
const g = new Builder('char_next').start();
g.addOutput('logits', model.forward(Tensor.input('x', [1, T], DType.I32)));
const next = g.build();
model.train();

let seed = 99;
const rnd = (k: number) => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 8) % k;
const losses: number[] = [];
const t0 = Date.now();
let running = 0;
for (let s = 1; s <= STEPS; s++) {
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let r = 0; r < B; r++) {
    const at = rnd(ids.length - T - 1);
    x.set(ids.subarray(at, at + T), r * T);
    y.set(ids.subarray(at + 1, at + T + 1), r * T);
  }
  const l = step.addInput('x', Tensor.fromArray(x, [B, T])).addInput('y', Tensor.fromArray(y, [B * T])).run().loss.item();
  sched.step();
  losses.push(l);
  running = s === 1 ? l : 0.95 * running + 0.05 * l;
  if (s === 1 || s % 50 === 0) console.log(`step ${String(s).padStart(4)}: loss ${l.toFixed(3)} (smoothed ${running.toFixed(3)}), lr ${optim.lr.toExponential(2)}`);
}
console.log(`${STEPS} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s; start loss ${losses[0].toFixed(3)} (ln ${V} = ${Math.log(V).toFixed(3)}), end loss ${running.toFixed(3)}`);

// greedy sample from a prompt
let ctx = Array.from('the cat ', (c) => vocab.indexOf(c));
let sample = 'the cat ';
for (let i = 0; i < 60; i++) {
  const window = ctx.slice(-T);
  const padded = new Int32Array(T);
  padded.set(window, T - window.length);
  const logits = next.addInput('x', Tensor.fromArray(padded, [1, T])).run().logits;
  const last = logits.narrow(1, T - 1, 1).reshape([V]).toFloat32Array();
  let best = 0;
  for (let k = 1; k < V; k++) if (last[k] > last[best]) best = k;
  ctx.push(best);
  sample += vocab[best];
}
console.log(`sample: ${JSON.stringify(sample)}`);
if (SVG) writeCurvesSvg(SVG, [{ name: 'train loss', values: losses }], { title: 'char Transformer (script mode)', xLabel: 'step' });
const fell = running < 0.6 * losses[0];
console.log(`loss fell from ${losses[0].toFixed(3)} to ${running.toFixed(3)}: ${fell ? 'yes' : 'NO'}`);
if (!fell) process.exitCode = 1;
