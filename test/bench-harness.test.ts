// bench/harness.ts `interleaved`: the order of the slices, the per-variant call caps, awaited
// Promises inside the timed interval, and the statistics it reports (checked against the call
// log and sleeps of known length, not against its own output).
import { interleaved } from '../bench/harness';

describe('interleaved timing (bench/harness.ts)', () => {
  it('rotates the order every round and gives every variant a slice per round', async () => {
    const log: string[] = [];
    const mk = (name: string) => ({ name, run: () => void log.push(name) });
    const ts = await interleaved([mk('a'), mk('b'), mk('c')], { rounds: 3, slice: 0, minCalls: 1, warmup: 1 });
    // warm-up a b c, then per round: each slice is one untimed call and one timed call
    const slices = log.slice(3).filter((_, i) => i % 2 === 0);
    expect(log.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(slices).toEqual(['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']);
    for (const t of ts) {
      expect(t.n).toBe(3);
      expect(t.rounds).toHaveLength(3);
      expect(t.min).toBeLessThanOrEqual(t.median);
      expect(t.median).toBeLessThanOrEqual(t.max);
    }
  });

  it('caps a slow variant at maxCalls in all, one warm-up call, no untimed calls in its slices', async () => {
    let slow = 0;
    let fast = 0;
    const ts = await interleaved(
      [
        { name: 'slow', run: () => void slow++, maxCalls: 4 },
        { name: 'fast', run: () => void fast++ },
      ],
      { rounds: 3, slice: 0.001, minCalls: 2, warmup: 2 },
    );
    expect(ts[0].n).toBe(4); // ceil(4 / 3) = 2 per round: 2 + 2 + 0
    expect(slow).toBe(1 + 4);
    expect(ts[1].n).toBeGreaterThanOrEqual(6);
    expect(fast).toBe(2 + 3 + ts[1].n); // warm-up, one untimed call per slice, the timed calls
  });

  it('times a returned Promise until it settles', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const [t] = await interleaved([{ name: 'sleep', run: () => sleep(20) }], { rounds: 2, slice: 0, minCalls: 2, warmup: 0 });
    expect(t.n).toBe(4);
    expect(t.min).toBeGreaterThanOrEqual(0.019);
    expect(t.median).toBeLessThan(1);
  });
});

describe('interleaved timing: a variant that throws', () => {
  it('is dropped with its error while the others finish their rounds', async () => {
    let calls = 0;
    const ts = await interleaved(
      [
        { name: 'ok', run: () => undefined },
        { name: 'bad', run: () => { if (++calls > 2) throw new Error('boom\nsecond line'); } },
        { name: 'bad-async', run: async () => Promise.reject(new Error('async boom')) },
      ],
      { rounds: 3, slice: 0, minCalls: 1, warmup: 1 },
    );
    expect(ts[0].n).toBe(3);
    expect(ts[0].error).toBeUndefined();
    expect(ts[1].error).toBe('boom');
    expect(ts[1].n).toBe(0); // warm-up 1, then round 1's untimed call 2, its timed call 3 throws
    expect(ts[2].error).toBe('async boom');
    expect(ts[2].n).toBe(0);
  });
});
