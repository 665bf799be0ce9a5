// Worker body for test/workers.test.ts (plain JS: worker_threads run it without jest or ts-jest).
// workerData: { root, mode, id, barrier?, count?, iterations? }
//   mode 'ops':  wait for all workers (barrier), require the package at the same moment, wait again, then run
//                a fixed set of ops `iterations` times and post the results of the last round as JSON.
//   mode 'loop': require the package and run ops forever, posting { tick } after each round (the test
//                terminates the worker mid-loop).
//   mode 'error': provoke errors from the addon and post their code, name and toString tag.
'use strict';
const { parentPort, workerData } = require('worker_threads');
const path = require('path');

const { root, mode, id } = workerData;

/** Atomics barrier over a SharedArrayBuffer: returns when `count` workers arrived (or throws after 30 s). */
function barrier(slot) {
  const sab = new Int32Array(workerData.barrier);
  Atomics.add(sab, slot, 1);
  Atomics.notify(sab, slot);
  const deadline = Date.now() + 30000;
  for (;;) {
    const v = Atomics.load(sab, slot);
    if (v >= workerData.count) return;
    if (Date.now() > deadline) throw new Error(`barrier ${slot}: only ${v} of ${workerData.count} workers arrived`);
    Atomics.wait(sab, slot, v, 100);
  }
}

const tag = (x) => Object.prototype.toString.call(x);

/** One round of ops whose results depend on `k` (the worker id) so that crossed wires would show. */
function round(hodu, k) {
  const { Tensor } = hodu;
  const r = {};
  const disposeAll = [];
  const keep = (t) => (disposeAll.push(t), t);
  // creation
  r.arange = keep(Tensor.arange(0, 6).reshape([2, 3])).toArray();
  r.full = keep(Tensor.full([2, 2], k)).toArray();
  r.zerosSum = keep(Tensor.zeros([3, 4])).toTypedArray().reduce((s, v) => s + v, 0);
  const a = keep(Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]));
  // add (tensor + tensor, tensor + scalar)
  const b = keep(Tensor.fromArray([10 * k, 20 * k, 30 * k, 40 * k, 50 * k, 60 * k], [2, 3]));
  r.add = keep(a.add(b)).toArray();
  r.addScalar = keep(a.add(k)).toArray();
  // sum: all, and along a dimension
  r.sumAll = keep(b.sum()).item();
  r.sumDim1 = keep(a.sum(1)).toArray();
  // matmul: [2,3] x [3,2]
  const m = keep(Tensor.fromArray([1, 0, 0, 1, k, k], [3, 2]));
  const mm = keep(a.matmul(m));
  r.matmul = mm.toArray();
  r.matmulTag = tag(mm.toTypedArray());
  // a view: transpose and a slice share the storage of `a`; then an op on the view
  const tv = keep(a.t());
  r.transpose = tv.toArray();
  r.transposeContiguous = tv.isContiguous;
  r.narrow = keep(a.narrow(1, 1, 2)).toArray();
  r.viewAdd = keep(tv.add(k)).toArray();
  r.typed = tag(a.toTypedArray());
  r.threads = hodu.versions().threads;
  for (const t of disposeAll) t.dispose();
  return r;
}

function main() {
  if (mode === 'ops') {
    barrier(0);
    const hodu = require(path.join(root, 'dist'));
    barrier(1);
    let last = null;
    for (let i = 0; i < (workerData.iterations || 20); i++) last = round(hodu, id);
    parentPort.postMessage(JSON.stringify({ id, result: last }));
  } else if (mode === 'loop') {
    const hodu = require(path.join(root, 'dist'));
    for (let tick = 1; ; tick++) {
      round(hodu, id);
      // a bigger op too, so that termination often lands while a oneDNN primitive (OpenMP team) is busy
      const x = hodu.Tensor.ones([128, 128]);
      const y = x.matmul(x);
      y.dispose();
      x.dispose();
      parentPort.postMessage(JSON.stringify({ tick }));
    }
  } else if (mode === 'error') {
    // native errors raised inside a worker: shape inference (SHAPE_MISMATCH) and a bad argument
    const hodu = require(path.join(root, 'dist'));
    const caught = [];
    for (const f of [
      () => hodu.Tensor.fromArray([1, 2, 3], [3]).add(hodu.Tensor.fromArray([1, 2], [2])),
      () => hodu.Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]).matmul(hodu.Tensor.fromArray([1, 2, 3, 4], [2, 2])),
    ]) {
      try {
        f();
        caught.push(null);
      } catch (e) {
        caught.push({ code: e.code, name: e.name, tag: tag(e), message: String(e.message) });
      }
    }
    // and the addon still works afterwards in this worker
    const after = hodu.Tensor.fromArray([1, 2], [2]).add(1).toArray();
    parentPort.postMessage(JSON.stringify({ id, result: { caught, after } }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

try {
  main();
} catch (e) {
  parentPort.postMessage(JSON.stringify({ id, error: { code: e && e.code, message: String(e && e.message), stack: String(e && e.stack) } }));
}
