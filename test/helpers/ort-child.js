'use strict';
// Runs one onnxruntime-node session outside jest's realm (whose typed-array checks reject the
// arrays ORT's binding makes). stdin: JSON {ortPath, model, threads, feeds: {name: {type, dims, b64}}, fetches?};
// stdout: JSON {name: {type, dims, b64}}.
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  try {
    const req = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const ort = require(req.ortPath);
    const session = await ort.InferenceSession.create(req.model, {
      intraOpNumThreads: req.threads || 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const ctor = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array, uint8: Uint8Array, float64: Float64Array };
    const feeds = {};
    for (const [k, v] of Object.entries(req.feeds)) {
      const b = Buffer.from(v.b64, 'base64');
      const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      feeds[k] = new ort.Tensor(v.type, new ctor[v.type](ab), v.dims);
    }
    const out = req.fetches ? await session.run(feeds, req.fetches) : await session.run(feeds);
    const res = {};
    for (const [k, v] of Object.entries(out)) {
      const d = v.data;
      res[k] = { type: v.type, dims: v.dims, b64: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64') };
    }
    process.stdout.write(JSON.stringify(res));
  } catch (e) {
    process.stderr.write(String(e && e.stack ? e.stack : e));
    process.exit(1);
  }
});
