// Bench: does the thread policy flip? Each round starts a fresh process per variant (a plan's thread
// decisions are made in its first runs, so a flip shows up between processes), runs each workload
// `reps` times there and reports the run times. Rounds interleave the variants (A, B, C, A, B, C...),
// quiet and then with a busy competitor (`node -e 'for(;;){}'` pinned to CPU 0).
//
//   node --import tsx bench/threads.ts [--rounds 5] [--variants default,all,one] [--addon-before PATH]
//
// Variants: `default` (the policy of this build), `all` / `one` (HODU_THREADS), `before` (another
// build of hodu.node named by --addon-before, through HODU_ADDON), spinN / passive (the OpenMP wait
// policy), and combinations such as all+spin2000 (see variantEnv). Per variant and
// workload it prints: the median of the per-process medians, their min and max (a bimodal policy
// shows as max/min far above 1), and the median over processes of each process's median/min.
import { execFileSync, spawn, ChildProcess } from 'child_process';
import * as os from 'os';

const WORKLOADS = ['matmul_1024', 'mlp_b64', 'train_step_mlp_b64'] as const;
type Workload = (typeof WORKLOADS)[number];

async function child(workload: Workload, reps: number): Promise<void> {
  const { Builder, Tensor, DType, nn, manualSeed } = await import('../lib');
  manualSeed(3);
  let run: () => unknown;
  let info: () => string | undefined;
  if (workload === 'matmul_1024') {
    const b = new Builder('mm');
    b.start();
    b.addOutput('y', Tensor.input('a', [1024, 1024]).matmul(Tensor.input('b', [1024, 1024])));
    b.end();
    const s = b.build().addInput('a', Tensor.randn([1024, 1024])).addInput('b', Tensor.randn([1024, 1024]));
    run = () => s.run().y.dispose();
    info = () => s.planInfo().threads;
  } else {
    const init = (i: number, o: number) => Tensor.randn([i, o], undefined, 0, Math.sqrt(2 / i));
    const w = { w1: init(784, 512), b1: Tensor.zeros([512]), w2: init(512, 512), b2: Tensor.zeros([512]), w3: init(512, 10), b3: Tensor.zeros([10]) };
    const x = Tensor.randn([64, 784]);
    const logits = (m: typeof w, xx: typeof x) => xx.matmul(m.w1).add(m.b1).relu().matmul(m.w2).add(m.b2).relu().matmul(m.w3).add(m.b3);
    const b = new Builder(workload);
    b.start();
    const xs = Tensor.input('x', [64, 784]);
    if (workload === 'mlp_b64') {
      b.addOutput('y', logits(w, xs).softmax(1));
      b.end();
      const s = b.build().addInput('x', x);
      run = () => s.run().y.dispose();
      info = () => s.planInfo().threads;
    } else {
      const names = Object.keys(w) as (keyof typeof w)[];
      const sym = Object.fromEntries(names.map((k) => [k, Tensor.input(k, w[k].shape).setRequiresGrad(true)])) as unknown as typeof w;
      const ys = Tensor.input('y', [64], DType.I32);
      const loss = new nn.CrossEntropy().forward([logits(sym, xs), ys]);
      loss.backward();
      new nn.SGD(0.01).step(Object.values(sym));
      b.addOutput('loss', loss);
      for (const k of names) b.addOutput(k, sym[k]);
      b.end();
      const s = b.build();
      const labels = Tensor.fromArray(Array.from({ length: 64 }, (_, i) => i % 10), undefined, DType.I32);
      const st: Record<string, InstanceType<typeof Tensor>> = { ...w };
      run = () => {
        s.addInput('x', x).addInput('y', labels);
        for (const k of names) s.addInput(k, st[k]);
        const out = s.run();
        for (const k of names) st[k] = out[k];
        out.loss.item();
      };
      info = () => s.planInfo().threads;
    }
  }
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  process.stdout.write(JSON.stringify({ times, mode: info() }) + '\n');
}

interface Variant {
  name: string;
  env: Record<string, string>;
}

// A variant name is `default` or parts joined by '+': all | one (HODU_THREADS), spinN (GOMP_SPINCOUNT=N),
// passive (OMP_WAIT_POLICY=passive), before (HODU_ADDON=--addon-before).
function variantEnv(name: string, before: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const part of name.split('+')) {
    if (part === 'all' || part === 'one') env.HODU_THREADS = part;
    else if (part.startsWith('spin')) env.GOMP_SPINCOUNT = part.slice(4);
    else if (part === 'passive') env.OMP_WAIT_POLICY = 'passive';
    else if (part === 'before') {
      if (!before) throw new Error('variant before needs --addon-before PATH');
      env.HODU_ADDON = before;
    } else if (part !== 'default') throw new Error(`unknown variant part '${part}'`);
  }
  return env;
}

const REPS: Record<Workload, number> = { matmul_1024: 40, mlp_b64: 300, train_step_mlp_b64: 150 };

function runChild(v: Variant, w: Workload): { times: number[]; mode?: string } {
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries(process.env)) if (val !== undefined && k !== 'HODU_THREADS' && k !== 'HODU_ADDON') env[k] = val;
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child', w, String(REPS[w])], {
    env: { ...env, ...v.env },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ms = (s: number) => (s * 1e3).toFixed(s < 1e-3 ? 3 : 2);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, d: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : d;
  };
  if (args[0] === '--child') return child(args[1] as Workload, Number(args[2]));
  const rounds = Number(arg('--rounds', '5'));
  const names = arg('--variants', 'default,all,one').split(',');
  const before = arg('--addon-before', '');
  const conditions = arg('--conditions', 'quiet,busy').split(',');
  const workloads = arg('--workloads', WORKLOADS.join(',')).split(',') as Workload[];
  const variants: Variant[] = names.map((n) => ({ name: n, env: variantEnv(n, before) }));
  console.log(`${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${rounds} rounds; reps ${JSON.stringify(REPS)}`);
  for (const cond of conditions) {
    let busy: ChildProcess | undefined;
    if (cond === 'busy') {
      busy = spawn('taskset', ['-c', '0', process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 300));
    }
    try {
      // results[workload][variant] = one entry per round
      const res: Record<string, Record<string, { med: number; min: number; mode?: string }[]>> = {};
      for (let r = 0; r < rounds; r++)
        for (const w of workloads)
          for (const v of variants) {
            const { times, mode } = runChild(v, w);
            const t = times.slice(3); // the first runs: page faults, thread start-up
            ((res[w] ??= {})[v.name] ??= []).push({ med: med(t), min: Math.min(...t), mode });
          }
      console.log(`\n${cond}${cond === 'busy' ? ' (a spinning process pinned to CPU 0)' : ''}: ms per run`);
      console.log('workload             variant   median   min-of-medians  max-of-medians  spread(max/min)  median/min(per process)  modes');
      for (const w of workloads)
        for (const v of variants) {
          const rs = res[w][v.name];
          const meds = rs.map((x) => x.med);
          const ratio = med(rs.map((x) => x.med / x.min));
          const modes = [...new Set(rs.map((x) => x.mode))].join('/');
          console.log(
            `${w.padEnd(20)} ${v.name.padEnd(8)} ${ms(med(meds)).padStart(8)} ${ms(Math.min(...meds)).padStart(15)} ${ms(Math.max(...meds)).padStart(15)} ${(Math.max(...meds) / Math.min(...meds)).toFixed(2).padStart(16)} ${ratio.toFixed(2).padStart(24)}  ${modes}`,
          );
        }
    } finally {
      busy?.kill();
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
