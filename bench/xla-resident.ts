// XLA variables on the device (lib/device-state.ts) against the old path (HODU_XLA_RESIDENT=0:
// every variable uploaded on every run, every update copied back), interleaved in one process:
//   - train_step_mnist_cnn_b64: the MNIST CNN training step of bench/mnist-step.ts (Adam);
//   - train_step_mlp_b1: a 784-512-512-10 MLP training step at batch 1 (Adam: small compute, 8 MB of state);
//   - mlp_infer_b1: the same MLP's inference script at batch 1;
//   - leak: 10 000 runs of a small training script, RSS every 1 000 runs.
// Alone: node --import tsx bench/xla-resident.ts [rounds]
import { Backend, Builder, DType, Script, Tensor, manualSeed, nn } from '../lib';
import { mnistCnn, mnistMlp } from './train-models';

const rounds = Number(process.argv[2] ?? 8);

const cnn = mnistCnn;

const mlp = (): ReturnType<typeof mnistMlp> => mnistMlp(512);

/** 'old': variables uploaded every run; 'resident': on the device, updates donated; 'no-donate': on the device, updates into fresh buffers. */
type Mode = 'old' | 'resident' | 'no-donate';

function compiled(s: Script, mode: Mode): Script {
  if (mode === 'old') process.env.HODU_XLA_RESIDENT = '0';
  if (mode === 'no-donate') process.env.HODU_XLA_DONATE = '0';
  try {
    return s.setBackend(Backend.XLA).compile();
  } finally {
    delete process.env.HODU_XLA_RESIDENT;
    delete process.env.HODU_XLA_DONATE;
  }
}

function trainScript(resident: Mode): Script {
  const B = 64;
  manualSeed(1);
  const x = Tensor.randn([B, 1, 28, 28]);
  const y = Tensor.fromArray(Array.from({ length: B }, (_, i) => (i * 7) % 10), undefined, DType.I64);
  const model = cnn();
  const opt = new nn.Adam(1e-3);
  const b = new Builder(`mnist_step_${resident}`);
  b.start();
  const loss = new nn.CrossEntropy().forward([model.forward(Tensor.input('x', [B, 1, 28, 28])), Tensor.input('y', [B], DType.I64)]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  return compiled(b.build(), resident).addInput('x', x).addInput('y', y);
}

function mlpTrainScript(resident: Mode): Script {
  const model = mlp();
  const opt = new nn.Adam(1e-3);
  const b = new Builder(`mlp_train_b1_${resident}`);
  b.start();
  const loss = new nn.CrossEntropy().forward([model.forward(Tensor.input('x', [1, 784])), Tensor.input('y', [1], DType.I64)]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  manualSeed(4);
  return compiled(b.build(), resident).addInput('x', Tensor.randn([1, 784])).addInput('y', Tensor.fromArray([3], undefined, DType.I64));
}

function inferScript(resident: Mode): Script {
  const model = mlp();
  const b = new Builder(`mlp_b1_${resident}`);
  b.start();
  b.addOutput('y', model.forward(Tensor.input('x', [1, 784])));
  manualSeed(2);
  return compiled(b.build(), resident).addInput('x', Tensor.randn([1, 784]));
}

function median(a: number[]): number {
  const s = a.slice().sort((p, q) => p - q);
  return s[s.length >> 1];
}

function compare(name: string, make: (mode: Mode) => Script, perRound: number, read: (o: Record<string, Tensor>) => unknown, modes: Mode[] = ['old', 'resident']): void {
  const labels: Record<Mode, string> = { old: 'old (upload every run)', resident: 'resident + donation', 'no-donate': 'resident, no donation' };
  const variants: [string, Script][] = modes.map((m) => [labels[m], make(m)]);
  const times: number[][] = variants.map(() => []);
  for (const [, s] of variants) for (let i = 0; i < 3; i++) read(s.run()); // warm-up
  for (let r = 0; r < rounds; r++)
    variants.forEach(([, s], v) => {
      for (let i = 0; i < perRound; i++) {
        const t0 = process.hrtime.bigint();
        read(s.run());
        times[v].push(Number(process.hrtime.bigint() - t0) / 1e3);
      }
    });
  const med = times.map(median);
  const min = times.map((t) => Math.min(...t));
  console.log(`${name}: ${times[0].length} runs each, interleaved in ${rounds} rounds`);
  variants.forEach(([label], v) => console.log(`  ${label.padEnd(24)} median ${med[v].toFixed(1)} µs   min ${min[v].toFixed(1)} µs`));
  for (let v = 1; v < variants.length; v++)
    console.log(`  ${variants[0][0]} / ${variants[v][0]}: median ${(med[0] / med[v]).toFixed(2)}x, min ${(min[0] / min[v]).toFixed(2)}x`);
  const st = variants[1][1].stats();
  console.log(`  resident stats: ${JSON.stringify({ runs: st.runs, hostToDeviceBytes: st.hostToDeviceBytes, deviceToHostBytes: st.deviceToHostBytes, donatedBuffers: st.donatedBuffers })}`);
}

function leak(): void {
  manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(32, 64), new nn.Tanh(), new nn.Linear(64, 4));
  const opt = new nn.Adam(1e-3);
  const b = new Builder('leak');
  b.start();
  const loss = new nn.MSE().forward([model.forward(Tensor.input('x', [16, 32])), Tensor.input('y', [16, 4])]);
  loss.backward();
  opt.step(model.parameters());
  opt.zeroGrad(model.parameters());
  b.addOutput('loss', loss);
  const s = b.build().setBackend(Backend.XLA).addInput('x', Tensor.randn([16, 32])).addInput('y', Tensor.randn([16, 4]));
  const rss: number[] = [];
  for (let i = 1; i <= 10000; i++) {
    s.run()['loss'].item();
    if (i % 500 === 0) model.parameters()[0].toTypedArray(); // a host read now and then (sync path)
    if (i % 1000 === 0) {
      if (global.gc) global.gc();
      rss.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    }
  }
  console.log(`leak: 10 000 training runs, RSS (MiB) every 1 000: ${rss.join(' ')}`);
}

const TRAIN: Mode[] = ['old', 'resident', 'no-donate'];
compare('train_step_mnist_cnn_b64 (XLA, Adam)', trainScript, 5, (o) => o['loss'].item(), TRAIN);
compare('train_step_mlp_b1 784-512-512-10 (XLA, Adam: 8 MB of state)', mlpTrainScript, 20, (o) => o['loss'].item(), TRAIN);
compare('mlp_infer_b1 784-512-512-10 (XLA)', inferScript, 200, (o) => o['y'].toTypedArray());
leak();
