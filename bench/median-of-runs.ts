// The targets over several bench runs: SPEC §4's goals are judged on the median of three runs of
// `npm run bench`. Every run writes its numbers to bench/out/run-<time>.json; this reads the runs
// named (default: the three newest full runs in bench/out) and prints, per target, each run's value,
// their median, and whether the median meets the goal.
//
//   node --import tsx bench/median-of-runs.ts [run.json ...]
import * as fs from 'fs';
import * as path from 'path';

interface TargetValue {
  id: string;
  what: string;
  goal: string;
  limit: number;
  higher: boolean;
  value: number | null;
}
interface Run {
  date: string;
  quick: boolean;
  only: string[] | null;
  load: [number, number];
  targets: TargetValue[];
}

function newestFullRuns(n: number): string[] {
  const dir = path.join(__dirname, 'out');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^run-.*\.json$/.test(f))
    .sort()
    .reverse()
    .map((f) => path.join(dir, f))
    .filter((f) => {
      const r = JSON.parse(fs.readFileSync(f, 'utf8')) as Run;
      return !r.quick && !r.only;
    })
    .slice(0, n);
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const files = process.argv.slice(2).length ? process.argv.slice(2) : newestFullRuns(3);
if (!files.length) {
  console.error('no runs: give bench/out/run-*.json files, or run `npm run bench` first');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Run);
console.log(`runs: ${runs.map((r) => `${r.date} (load ${r.load.map((l) => l.toFixed(1)).join('/')}${r.quick ? ', quick' : ''})`).join('; ')}\n`);
console.log(`| target | goal | ${runs.map((_, i) => `run ${i + 1}`).join(' | ')} | median | status |`);
console.log(`|---|---|${runs.map(() => '---|').join('')}---|---|`);
const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));
for (const t of runs[0].targets) {
  const vals = runs.map((r) => r.targets.find((x) => x.id === t.id)?.value ?? null);
  const have = vals.filter((v): v is number => v !== null);
  if (!have.length) {
    console.log(`| ${t.what} | ${t.goal} | ${vals.map(() => '–').join(' | ')} | – | not measured |`);
    continue;
  }
  const m = median(have);
  const ok = t.higher ? m >= t.limit : m <= t.limit;
  console.log(`| ${t.what} | ${t.goal} | ${vals.map((v) => (v === null ? '–' : fmt(v))).join(' | ')} | **${fmt(m)}** | ${ok ? 'met' : 'missed'} |`);
}
