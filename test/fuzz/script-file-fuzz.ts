// .hoduscript fuzzer through the public API: mutants of real script files (random bytes, the IR's
// 1/2/4/8-byte words, truncation, length fields, with the checksum recomputed in most cases so the
// mutation reaches the reader's structure checks and the native decoder) go through Script.fromBytes,
// compile and run on HODU (and XLA when its plugin is there). The only allowed outcomes: a result or a
// HoduError. Usage: node --import tsx test/fuzz/script-file-fuzz.ts SECONDS [SEED]; prints one JSON line.
import { createHash } from 'crypto';
import { Backend, Builder, Script, Tensor } from '../../lib';
import { rng } from './rng';

export interface FileFuzzStats {
  mutants: number;
  loaded: number;
  ran: number;
  hoduErrors: number;
  findings: string[];
  seed: number;
}

/** A few real scripts (the same kinds as the native seeds). */
export function seedScripts(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const rec = (fn: (b: Builder) => void): void => {
    const b = new Builder('seed');
    b.start();
    try {
      fn(b);
    } finally {
      b.end();
    }
    out.push(b.build().toBytes());
  };
  rec((b) => {
    const x = Tensor.input('x', [4, 8]);
    b.addOutput('y', x.matmul(Tensor.rand([8, 3])).add(Tensor.rand([3])).relu().softmax(-1));
  });
  rec((b) => {
    const x = Tensor.input('x', [1, 2, 6, 6]);
    b.addOutput('y', x.conv2d(Tensor.rand([3, 2, 3, 3]), Tensor.rand([3]), { padding: 1 }).maxPool2d({ kernel: 2 }).sum([2, 3]));
  });
  rec((b) => {
    let p = Tensor.input('p', [2, 2]);
    const g = Tensor.rand([2, 2]);
    for (let i = 0; i < 8; i++) p = p.sub(g.mul(0.1)).mul(0.9);
    b.addOutput('p', p);
  });
  return out;
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 64, 4096];

export function fuzzScriptFiles(seconds: number, seed = Date.now() % 2 ** 31, xla = false): FileFuzzStats {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const seeds = seedScripts();
  const stats: FileFuzzStats = { mutants: 0, loaded: 0, ran: 0, hoduErrors: 0, findings: [], seed };
  const allowed = (e: unknown, what: string): void => {
    const err = e as { name?: string; code?: unknown; message?: string };
    if (err && err.name === 'HoduError' && typeof err.code === 'string') stats.hoduErrors++;
    else if (stats.findings.length < 50) stats.findings.push(`${what}: ${err?.name}: ${String(err?.message).slice(0, 200)}`);
  };
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    stats.mutants++;
    const src = pick(seeds);
    let m = Uint8Array.from(src);
    const body = m.length - 32;
    const n = 1 + Math.floor(r() * 4);
    for (let k = 0; k < n; k++) {
      const kind = r();
      if (kind < 0.4) m[Math.floor(r() * body)] = Math.floor(r() * 256);
      else if (kind < 0.8) {
        const at = Math.floor(r() * (body - 4));
        new DataView(m.buffer).setUint32(at, pick(INTERESTING) >>> 0, true);
      } else if (kind < 0.9) m = m.subarray(0, Math.floor(r() * m.length));
      else {
        const at = Math.floor(r() * (body - 8));
        new DataView(m.buffer, m.byteOffset).setBigUint64(at, BigInt(pick(INTERESTING)) * BigInt(1 + Math.floor(r() * 3)), true);
      }
    }
    if (r() < 0.85 && m.length > 32) {
      const b = m.length - 32;
      m.set(createHash('sha256').update(m.subarray(0, b)).digest(), b);
    }
    let s: Script;
    try {
      s = Script.fromBytes(m);
      stats.loaded++;
    } catch (e) {
      allowed(e, 'fromBytes');
      continue;
    }
    for (const be of xla && r() < 0.3 ? [Backend.HODU, Backend.XLA] : [Backend.HODU]) {
      try {
        s.setBackend(be);
        for (const i of s.inputs) s.addInput(i.name, Tensor.ones(i.shape.map((d) => (typeof d === "number" ? d : 1)), i.dtype));
        const o = s.run();
        for (const t of Object.values(o)) t.dispose();
        stats.ran++;
      } catch (e) {
        allowed(e, `run ${be}`);
      }
    }
    try {
      s.dispose();
    } catch (e) {
      allowed(e, 'dispose');
    }
  }
  return stats;
}

if (require.main === module) {
  const seconds = Number(process.argv[2] || 60);
  const seed = Number(process.argv[3] || Date.now() % 2 ** 31);
  const s = fuzzScriptFiles(seconds, seed, process.env.HODU_FUZZ_XLA === '1');
  for (const f of s.findings) console.error(`finding: ${f}`);
  console.log(JSON.stringify({ ...s, findings: s.findings.length }));
  process.exit(s.findings.length ? 1 : 0);
}
