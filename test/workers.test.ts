// The addon is context-aware: it loads in several worker_threads at the same time, next to the main
// thread, and a worker can be terminated in the middle of its work without taking the process down.
// Workers load the compiled package (dist/, from `npm run build`) exactly as a user's worker would.
import * as path from 'path';
import { Worker } from 'worker_threads';

const root = path.resolve(__dirname, '..');
const workerFile = path.join(__dirname, 'helpers', 'worker-ops.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const hodu = require(path.join(root, 'dist')) as typeof import('../lib/index');

type Result = Record<string, unknown>;

/** Expected results of test/helpers/worker-ops.js round() for worker id k, worked out by hand. */
function expected(k: number): Result {
  return {
    arange: [[0, 1, 2], [3, 4, 5]],
    full: [[k, k], [k, k]],
    zerosSum: 0,
    add: [[1 + 10 * k, 2 + 20 * k, 3 + 30 * k], [4 + 40 * k, 5 + 50 * k, 6 + 60 * k]],
    addScalar: [[1 + k, 2 + k, 3 + k], [4 + k, 5 + k, 6 + k]],
    sumAll: 210 * k,
    sumDim1: [6, 15],
    // [[1,2,3],[4,5,6]] x [[1,0],[0,1],[k,k]]
    matmul: [[1 + 3 * k, 2 + 3 * k], [4 + 6 * k, 5 + 6 * k]],
    matmulTag: '[object Float32Array]',
    transpose: [[1, 4], [2, 5], [3, 6]],
    transposeContiguous: false,
    narrow: [[2, 3], [5, 6]],
    viewAdd: [[1 + k, 4 + k], [2 + k, 5 + k], [3 + k, 6 + k]],
    typed: '[object Float32Array]',
  };
}

interface Started {
  worker: Worker;
  messages: string[];
  exit: Promise<number>;
  firstMessage: Promise<string>;
}

function start(workerData: Record<string, unknown>, onMessage?: (m: string, w: Worker) => void): Started {
  const worker = new Worker(workerFile, { workerData: { root, ...workerData } });
  const messages: string[] = [];
  let resolveFirst: (m: string) => void = () => {};
  let rejectFirst: (e: Error) => void = () => {};
  const firstMessage = new Promise<string>((res, rej) => { resolveFirst = res; rejectFirst = rej; });
  worker.on('message', (m: string) => {
    messages.push(m);
    if (messages.length === 1) resolveFirst(m);
    onMessage?.(m, worker);
  });
  const exit = new Promise<number>((res, rej) => {
    worker.on('error', (e) => { rejectFirst(e); rej(e); });
    worker.on('exit', (code) => { rejectFirst(new Error(`worker exited (${code}) before posting`)); res(code); });
  });
  return { worker, messages, exit, firstMessage };
}

function parseResult(m: string): { id: number; result: Result } {
  const msg = JSON.parse(m);
  if (msg.error) throw new Error(`worker ${msg.id} failed: [${msg.error.code}] ${msg.error.message}\n${msg.error.stack}`);
  return msg;
}

/** The same round of ops on the main thread (the jest realm): checks with .code / toString tags only. */
function mainThreadRound(k: number): Result {
  const { Tensor } = hodu;
  const a = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = Tensor.fromArray([10 * k, 20 * k, 30 * k, 40 * k, 50 * k, 60 * k], [2, 3]);
  const m = Tensor.fromArray([1, 0, 0, 1, k, k], [3, 2]);
  const mm = a.matmul(m);
  const r: Result = {
    add: a.add(b).toArray(),
    sumAll: b.sum().item(),
    matmul: mm.toArray(),
    matmulTag: Object.prototype.toString.call(mm.toTypedArray()),
    viewAdd: a.t().add(k).toArray(),
  };
  return r;
}

function pick(r: Result, keys: string[]): Result {
  return Object.fromEntries(keys.map((key) => [key, r[key]]));
}
const MAIN_KEYS = ['add', 'sumAll', 'matmul', 'matmulTag', 'viewAdd'];

describe('worker_threads (context-aware addon)', () => {
  test('4 workers load the package at the same moment and compute correct results concurrently', async () => {
    const count = 4;
    const barrier = new SharedArrayBuffer(8);
    const ws = Array.from({ length: count }, (_, i) => start({ mode: 'ops', id: i + 1, count, barrier, iterations: 25 }));
    const results = await Promise.all(ws.map((w) => w.firstMessage.then(parseResult)));
    const codes = await Promise.all(ws.map((w) => w.exit));
    expect(codes).toEqual([0, 0, 0, 0]);
    for (const [i, msg] of results.entries()) {
      expect(msg.id).toBe(i + 1);
      const { threads, ...rest } = msg.result;
      expect(typeof threads).toBe('number');
      expect(rest).toEqual(expected(i + 1));
    }
  });

  test('a worker loads it after the main thread used it; the main thread keeps working after the worker exits', async () => {
    expect(mainThreadRound(7)).toEqual(pick(expected(7), MAIN_KEYS));
    const w = start({ mode: 'ops', id: 5, count: 1, barrier: new SharedArrayBuffer(8), iterations: 5 });
    const msg = parseResult(await w.firstMessage);
    expect(await w.exit).toBe(0);
    const { threads, ...rest } = msg.result;
    expect(typeof threads).toBe('number');
    expect(rest).toEqual(expected(5));
    // the worker's environment (and its addon instance) is gone; the main thread's is intact
    expect(mainThreadRound(3)).toEqual(pick(expected(3), MAIN_KEYS));
  });

  test('terminating workers in the middle of their op loops does not crash the process', async () => {
    // 6 rounds of two loopers at once, each terminated after a different number of completed rounds, so that
    // termination lands at different points (inside a native call, between calls, while posting). Before
    // NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS this aborted the whole process in about half of such runs.
    for (let cycle = 0; cycle < 6; cycle++) {
      const stops: Promise<void>[] = [];
      const loopers = [1, 2].map((id) =>
        start({ mode: 'loop', id }, (m, worker) => {
          const msg = JSON.parse(m);
          if (!msg.error && msg.tick === 1 + ((cycle + id) % 5)) stops.push(worker.terminate().then(() => undefined));
        }),
      );
      const codes = await Promise.all(loopers.map((l) => l.exit));
      await Promise.all(stops);
      for (const l of loopers) {
        expect(l.messages.map((m) => JSON.parse(m)).filter((m) => m.error)).toEqual([]);
        expect(l.messages.length).toBeGreaterThanOrEqual(1);
      }
      expect(codes).toEqual([1, 1]); // 1 = terminated
    }
    // the process, the main thread's addon instance and new workers all still work
    expect(mainThreadRound(2)).toEqual(pick(expected(2), MAIN_KEYS));
    const w = start({ mode: 'ops', id: 6, count: 1, barrier: new SharedArrayBuffer(8), iterations: 3 });
    const msg = parseResult(await w.firstMessage);
    expect(await w.exit).toBe(0);
    const { threads, ...rest } = msg.result;
    expect(typeof threads).toBe('number');
    expect(rest).toEqual(expected(6));
  });

  test('errors raised by the addon inside a worker keep their code, and the worker carries on', async () => {
    const w = start({ mode: 'error', id: 1 });
    const msg = parseResult(await w.firstMessage);
    expect(await w.exit).toBe(0);
    const caught = msg.result.caught as ({ code: string; name: string; tag: string; message: string } | null)[];
    expect(caught).toHaveLength(2);
    expect(caught[0]).toMatchObject({ code: 'SHAPE_MISMATCH', name: 'HoduError', tag: '[object Error]' });
    expect(caught[1]).toMatchObject({ code: 'SHAPE_MISMATCH', name: 'HoduError', tag: '[object Error]' });
    expect(caught[1]!.message).toMatch(/matmul/);
    expect(msg.result.after).toEqual([2, 3]);
  });
});
