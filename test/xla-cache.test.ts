// The persistent XLA compile cache (lib/xla-cache.ts, native/xla/compile_cache.h) with the real CPU
// plugin: a compile stores the executable, the same program in another script or ANOTHER PROCESS
// is loaded instead of compiled, corrupted/truncated/foreign entries are rejected and rewritten,
// the folder stays under its bound, and the cache can be moved or turned off. Results of loaded
// executables are checked against freshly compiled ones (bit-identical, PJRT_NPROC=1) and against
// the HODU backend (an independent implementation).
process.env.PJRT_NPROC = process.env.PJRT_NPROC ?? '1';

import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Backend, Builder, DType, Script, Tensor } from '../lib';
import { findPjrtPlugin, xlaBuilt } from '../lib/xla';
import { clearXlaCache, setXlaCache, xlaCacheCounters, xlaCacheDir, xlaCacheMaxBytes, DEFAULT_XLA_CACHE_MAX_BYTES } from '../lib/xla-cache';
import { mlpTrainScript } from './helpers/xla-train-scripts';

const plugin = xlaBuilt() ? findPjrtPlugin('cpu').path : null;
const ready = plugin !== null && process.env.HODU_SKIP_XLA !== '1';
const describeXla = ready ? describe : describe.skip;
if (plugin) process.env.HODU_PJRT_PLUGIN_CPU = plugin;  // HODU_CACHE_DIR below must not hide the plugin

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hodu-xla-cache-'));
const savedEnv = { dir: process.env.HODU_CACHE_DIR, xdg: process.env.XDG_CACHE_HOME, max: process.env.HODU_CACHE_MAX_BYTES };
process.env.HODU_CACHE_DIR = root;
const dir = path.join(root, 'xla');

afterAll(() => {
  setXlaCache(undefined);
  fs.rmSync(root, { recursive: true, force: true });
});
afterEach(() => Builder._abortActive());

type Info = { cache: string; compileMs: number };
const infoOf = (s: Script): Info => s.planInfo() as unknown as Info;
const entries = (d = dir): string[] => (fs.existsSync(d) ? fs.readdirSync(d).filter((n) => n.endsWith('.hxla')).sort() : []);

function valuesOf(out: Record<string, Tensor>): Record<string, number[]> {
  const r: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(out)) r[k] = Array.from(t.toDtype(DType.F64).toTypedArray() as Float64Array);
  return r;
}

function maxAbsDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let m = 0;
  for (const k of Object.keys(a)) {
    expect(a[k].length).toBe(b[k].length);
    for (let i = 0; i < a[k].length; i++) m = Math.max(m, Math.abs(a[k][i] - b[k][i]));
  }
  return m;
}

/** Header fields of an entry file, checked with node's own SHA-256 (independent of the native one). */
function checkEntry(file: string): void {
  const buf = fs.readFileSync(file);
  expect(buf.subarray(0, 8).toString('latin1')).toBe('HODUXLA\0');
  expect(buf.readUInt32LE(8)).toBe(1);
  const size = Number(buf.readBigUInt64LE(48));
  expect(buf.length).toBe(88 + size);
  const payload = buf.subarray(88);
  expect(crypto.createHash('sha256').update(payload).digest('hex')).toBe(buf.subarray(56, 88).toString('hex'));
  expect(buf.subarray(16, 48).toString('hex')).toBe(path.basename(file, '.hxla'));
}

/** An entry with `payload` and a header that matches it (size and SHA-256). */
function withPayload(entry: Buffer, payload: Buffer): Buffer {
  const head = Buffer.from(entry.subarray(0, 88));
  head.writeBigUInt64LE(BigInt(payload.length), 48);
  crypto.createHash('sha256').update(payload).digest().copy(head, 56);
  return Buffer.concat([head, payload]);
}

function child(options: object, env: NodeJS.ProcessEnv = {}): Promise<{ stats: Record<string, number>; counters: Record<string, number>; cache: string; compileMs: number; values: Record<string, number[]> }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'helpers', 'xla-cache-child.ts'), JSON.stringify(options)],
      { cwd: path.join(__dirname, '..'), env: { ...process.env, ...env }, timeout: 120000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`child failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!));
      },
    );
  });
}

describe('cache folder rules', () => {
  afterEach(() => {
    setXlaCache(undefined);
    process.env.HODU_CACHE_DIR = root;
    if (savedEnv.xdg === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedEnv.xdg;
    delete process.env.HODU_CACHE_MAX_BYTES;
  });

  test('HODU_CACHE_DIR, XDG_CACHE_HOME, ~/.cache; off; setXlaCache; the bound', () => {
    expect(xlaCacheDir()).toBe(path.join(root, 'xla'));
    process.env.HODU_CACHE_DIR = 'off';
    expect(xlaCacheDir()).toBeNull();
    delete process.env.HODU_CACHE_DIR;
    process.env.XDG_CACHE_HOME = '/some/xdg';
    expect(xlaCacheDir()).toBe('/some/xdg/hodu/xla');
    delete process.env.XDG_CACHE_HOME;
    expect(xlaCacheDir()).toBe(path.join(os.homedir(), '.cache', 'hodu', 'xla'));
    setXlaCache({ dir: '/elsewhere' });
    expect(xlaCacheDir()).toBe('/elsewhere');
    setXlaCache(null);
    expect(xlaCacheDir()).toBeNull();
    setXlaCache(undefined);
    expect(xlaCacheMaxBytes()).toBe(DEFAULT_XLA_CACHE_MAX_BYTES);
    expect(DEFAULT_XLA_CACHE_MAX_BYTES).toBe(512 * 1024 * 1024);
    process.env.HODU_CACHE_MAX_BYTES = '12345';
    expect(xlaCacheMaxBytes()).toBe(12345);
    setXlaCache({ maxBytes: 99 });
    expect(xlaCacheMaxBytes()).toBe(99);
    expect((() => { try { setXlaCache({ maxBytes: -1 }); } catch (e) { return (e as { code?: string }).code; } })()).toBe('INVALID_ARGUMENT');
    expect((() => { try { setXlaCache({ dir: '' }); } catch (e) { return (e as { code?: string }).code; } })()).toBe('INVALID_ARGUMENT');
  });
});

describeXla('the persistent XLA compile cache', () => {
  let firstValues: Record<string, number[]>;

  test('a compile is a miss and stores the executable; the same program in another script is a hit with the same results', () => {
    expect(entries()).toEqual([]);
    const before = xlaCacheCounters();
    const s1 = mlpTrainScript().setBackend(Backend.XLA);
    s1.compile();
    expect(s1.stats()).toMatchObject({ compiles: 1, cacheHits: 0, cacheMisses: 1 });
    expect(infoOf(s1).cache).toBe('miss');
    expect(entries().length).toBe(1);
    checkEntry(path.join(dir, entries()[0]));
    const s2 = mlpTrainScript().setBackend(Backend.XLA);
    s2.compile();
    expect(s2.stats()).toMatchObject({ compiles: 1, cacheHits: 1, cacheMisses: 0 });
    expect(infoOf(s2).cache).toBe('hit');
    expect(infoOf(s2).compileMs).toBe(0);  // loaded, not compiled
    const after = xlaCacheCounters();
    expect(after.hits - before.hits).toBe(1);
    expect(after.misses - before.misses).toBe(1);
    expect(after.writes - before.writes).toBe(1);
    firstValues = valuesOf(s1.run());
    expect(maxAbsDiff(valuesOf(s2.run()), firstValues)).toBe(0);
    const hodu = valuesOf(mlpTrainScript().run());
    expect(maxAbsDiff(firstValues, hodu)).toBeLessThan(1e-5);
    expect(s2.stats().runs).toBe(1);
  });

  test('the key is the program, not the data: other initial weights hit the same entry and compute with their own weights', () => {
    const s = mlpTrainScript({ seed: 7 }).setBackend(Backend.XLA);
    s.compile();
    expect(s.stats().cacheHits).toBe(1);
    expect(entries().length).toBe(1);
    const got = valuesOf(s.run());
    const hodu = valuesOf(mlpTrainScript({ seed: 7 }).run());
    expect(maxAbsDiff(got, hodu)).toBeLessThan(1e-5);
    expect(maxAbsDiff(got, firstValues)).toBeGreaterThan(1e-3);
  });

  test('a second process compiles nothing for a program the first compiled, and gets the same results', async () => {
    const r = await child({});
    expect(r.cache).toBe('hit');
    expect(r.stats).toMatchObject({ compiles: 1, cacheHits: 1, cacheMisses: 0 });
    expect(r.counters.misses).toBe(0);
    expect(r.compileMs).toBe(0);
    expect(maxAbsDiff(r.values, firstValues)).toBe(0);
  }, 180000);

  test('two processes compiling a new program at once both succeed; the entry is whole and this process then loads it', async () => {
    const opts = { batch: 12 };
    const [a, b] = await Promise.all([child(opts), child(opts)]);
    expect(a.stats.cacheHits + a.stats.cacheMisses).toBe(1);
    expect(b.stats.cacheHits + b.stats.cacheMisses).toBe(1);
    expect(maxAbsDiff(a.values, b.values)).toBe(0);
    expect(entries().length).toBe(2);
    for (const e of entries()) checkEntry(path.join(dir, e));
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const s = mlpTrainScript(opts).setBackend(Backend.XLA);
    s.compile();
    expect(s.stats().cacheHits).toBe(1);
    expect(maxAbsDiff(valuesOf(s.run()), a.values)).toBe(0);
  }, 240000);

  test('corrupted, truncated, foreign and garbage entries are rejected, recompiled and rewritten', () => {
    const probe = mlpTrainScript().setBackend(Backend.XLA).compile();
    expect(probe.stats().cacheHits).toBe(1);
    const names = entries();
    // which entry is this program's: the one whose removal makes the next compile a miss
    const mine = names.find((n) => {
      const f = path.join(dir, n);
      const saved = fs.readFileSync(f);
      fs.unlinkSync(f);
      const miss = mlpTrainScript().setBackend(Backend.XLA).compile({ cache: true }).stats().cacheMisses === 1;
      if (!fs.existsSync(f)) fs.writeFileSync(f, saved);
      return miss;
    })!;
    expect(mine).toBeDefined();
    const file = path.join(dir, mine);
    const good = fs.readFileSync(file);
    const other = fs.readFileSync(path.join(dir, names.find((n) => n !== mine)!));
    const flipped = Buffer.from(good);
    flipped[88 + Math.floor((flipped.length - 88) / 2)] ^= 0x40;
    const cases: [string, Buffer][] = [
      ['a flipped payload byte', flipped],
      ['a truncated file', good.subarray(0, good.length - 100)],
      ['only half a header', good.subarray(0, 40)],
      ['an empty file', Buffer.alloc(0)],
      ['another program\'s entry under this name', other],
      ['random bytes', crypto.randomBytes(good.length)],
      // a whole, checksummed entry whose payload is not an executable: the plugin refuses it
      ['random bytes under a valid header', withPayload(good, crypto.randomBytes(good.length - 88))],
      ['half an executable under a valid header', withPayload(good, good.subarray(88, 88 + Math.floor((good.length - 88) / 2)))],
    ];
    for (const [what, bytes] of cases) {
      fs.writeFileSync(file, bytes);
      const before = xlaCacheCounters();
      const s = mlpTrainScript().setBackend(Backend.XLA);
      s.compile();
      const after = xlaCacheCounters();
      expect([what, after.rejected - before.rejected, s.stats().cacheMisses, infoOf(s).cache]).toEqual([what, 1, 1, 'miss']);
      expect([what, maxAbsDiff(valuesOf(s.run()), firstValues)]).toEqual([what, 0]);
      checkEntry(file);  // rewritten whole
      expect(mlpTrainScript().setBackend(Backend.XLA).compile().stats().cacheHits).toBe(1);
    }
  });

  test('off: HODU_CACHE_DIR=off, compile({ cache: false }), setXlaCache(null) read and write nothing', () => {
    const n = entries().length;
    const before = xlaCacheCounters();
    process.env.HODU_CACHE_DIR = 'off';
    try {
      const s = mlpTrainScript({ batch: 4 }).setBackend(Backend.XLA).compile();
      expect(infoOf(s).cache).toBe('off');
      expect(s.stats()).toMatchObject({ compiles: 1, cacheHits: 0, cacheMisses: 0 });
    } finally {
      process.env.HODU_CACHE_DIR = root;
    }
    const s2 = mlpTrainScript({ batch: 4 }).setBackend(Backend.XLA).compile({ cache: false });
    expect(infoOf(s2).cache).toBe('off');
    setXlaCache(null);
    try {
      expect(infoOf(mlpTrainScript({ batch: 4 }).setBackend(Backend.XLA).compile()).cache).toBe('off');
    } finally {
      setXlaCache(undefined);
    }
    expect(entries().length).toBe(n);
    const after = xlaCacheCounters();
    expect([after.hits - before.hits, after.misses - before.misses, after.writes - before.writes]).toEqual([0, 0, 0]);
  });

  test('the folder stays under its bound: least recently used entries are evicted', () => {
    const lru = path.join(root, 'lru');
    const entrySize = fs.statSync(path.join(dir, entries()[0])).size;
    setXlaCache({ dir: lru, maxBytes: Math.floor(entrySize * 2.5) });
    try {
      const before = xlaCacheCounters();
      for (const batch of [2, 4, 6, 10]) mlpTrainScript({ batch }).setBackend(Backend.XLA).compile();
      const files = entries(lru);
      const total = files.reduce((a, f) => a + fs.statSync(path.join(lru, f)).size, 0);
      expect(total).toBeLessThanOrEqual(Math.floor(entrySize * 2.5));
      expect(files.length).toBeGreaterThanOrEqual(1);
      expect(xlaCacheCounters().evictions - before.evictions).toBeGreaterThanOrEqual(2);
      // the newest is kept
      expect(mlpTrainScript({ batch: 10 }).setBackend(Backend.XLA).compile().stats().cacheHits).toBe(1);
      expect(clearXlaCache(lru)).toBe(files.length);
      expect(entries(lru)).toEqual([]);
    } finally {
      setXlaCache(undefined);
    }
  });

  test('a folder writable by everyone is not used; compiling goes on', () => {
    const open = path.join(root, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    setXlaCache({ dir: open });
    try {
      const before = xlaCacheCounters();
      const s = mlpTrainScript({ batch: 4 }).setBackend(Backend.XLA).compile();
      expect(infoOf(s).cache).toBe('miss');
      expect(entries(open)).toEqual([]);
      expect(xlaCacheCounters().errors - before.errors).toBe(1);
      expect(maxAbsDiff(valuesOf(s.run()), valuesOf(mlpTrainScript({ batch: 4 }).run()))).toBeLessThan(1e-5);
    } finally {
      setXlaCache(undefined);
    }
  });

  test('the HODU backend never touches the cache', () => {
    const before = xlaCacheCounters();
    const s = mlpTrainScript().compile();
    expect(s.stats()).toMatchObject({ compiles: 1, cacheHits: 0, cacheMisses: 0 });
    expect(xlaCacheCounters()).toEqual(before);
  });
});

