// `npx hodu doctor`: what this installation of hodu is made of and what is wrong with it, one line per fact and one
// line per problem with its fix. Works even when the native addon cannot load (that is then the first problem).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { addonCandidates, addonPath, platformPackage, platformTuple, PREBUILT_PLATFORMS } from './load-addon';
import { installedPlugin, pluginRoot, PLUGINS } from './plugins';

/** One problem found, with how to fix it. */
export interface DoctorProblem {
  problem: string;
  fix: string;
}

/** The report of `hodu doctor`. */
export interface DoctorReport {
  /** `key: value` facts, in print order. */
  facts: [string, string][];
  problems: DoctorProblem[];
}

const CPU_FLAGS = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16', 'amx_int8'];

function readText(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function cpuFacts(facts: [string, string][]): void {
  const info = readText('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
  facts.push(['cpu', `${model} (${os.arch()})`]);
  if (flags.size > 1) facts.push(['cpu features', CPU_FLAGS.filter((f) => flags.has(f)).join(' ') || '(none of the SIMD sets hodu uses)']);
  const avail = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  facts.push(['cpu threads', `${os.cpus().length} logical CPUs, ${avail} available to this process` +
    (process.env.OMP_NUM_THREADS ? `, OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS}` : '')]);
}

function gpuFacts(facts: [string, string][]): { driver: string | null; gpus: string[] } {
  const ver = readText('/proc/driver/nvidia/version');
  const driver = ver ? (/Kernel Module\s+([\d.]+)/.exec(ver)?.[1] ?? ver.split('\n')[0].trim()) : null;
  let gpus: string[] = [];
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index,name,driver_version,memory.total', '--format=csv,noheader'], {
      encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'],
    });
    gpus = out.split('\n').map((l) => l.trim()).filter(Boolean);
  } catch {
    // no nvidia-smi, or it failed: /proc tells about the driver only
  }
  facts.push(['nvidia driver', driver ?? 'none (/proc/driver/nvidia/version does not exist)']);
  if (gpus.length) gpus.forEach((g) => facts.push(['cuda device', g]));
  else if (driver) facts.push(['cuda device', 'nvidia-smi did not list any']);
  return { driver, gpus };
}

/** Builds the doctor report (no output). */
export function doctorReport(): DoctorReport {
  const facts: [string, string][] = [];
  const problems: DoctorProblem[] = [];
  const root = path.join(__dirname, '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; engines?: { node?: string } };
  facts.push(['hodu', `${pkg.version} (${root})`]);
  facts.push(['node', `${process.version} (N-API ${process.versions.napi}, modules ABI ${process.versions.modules})`]);
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  facts.push(['platform', `${platformTuple()}${glibc ? ` (glibc ${glibc})` : ''}, ${os.type()} ${os.release()}`]);
  const [maj, min] = process.versions.node.split('.').map(Number);
  if (maj < 20 || (maj === 20 && min < 17)) problems.push({ problem: `Node ${process.version} is older than hodu needs (>= 20.17)`, fix: 'install Node 20.17 or newer' });

  // the addon
  type AddonInfo = { info(): { onednn: string; threads: number }; xlaAvailable?: () => boolean };
  let binding: AddonInfo | null = null as AddonInfo | null;
  for (const c of addonCandidates(root)) {
    facts.push(['addon candidate', `${c.where} (${c.kind}${c.found ? ', found' : ''})`]);
    if (c.kind !== 'platform-package' || !c.found) continue;
    const platVersion = (JSON.parse(fs.readFileSync(path.join(path.dirname(c.where), 'package.json'), 'utf8')) as { version: string }).version;
    if (platVersion !== pkg.version)
      problems.push({
        problem: `${platformPackage()} is version ${platVersion} but hodu is ${pkg.version} (the addon and the JavaScript must match)`,
        fix: `npm install hodu@${pkg.version} ${platformPackage()}@${pkg.version}`,
      });
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    binding = (require('./native') as typeof import('./native')).binding as unknown as AddonInfo;
    facts.push(['addon', `${addonPath()}`]);
  } catch (e) {
    const tuple = platformTuple();
    problems.push({
      problem: `the native addon does not load: ${(e as Error).message.split('. Looked at')[0]}`,
      fix: PREBUILT_PLATFORMS.includes(tuple)
        ? `reinstall hodu with optional dependencies (npm install hodu, without --omit=optional) so that ${platformPackage(tuple)} is installed`
        : 'build from source: clone the hodu repository, run `npm run build` there, and set HODU_ADDON=<clone>/build/Release/hodu.node',
    });
  }
  if (binding) {
    const info = binding.info();
    facts.push(['oneDNN', info.onednn]);
    facts.push(['hodu threads', String(info.threads)]);
    const xla = typeof binding.xlaAvailable === 'function' && binding.xlaAvailable();
    facts.push(['XLA support in the addon', xla ? 'yes' : 'no (built without pjrt_c_api.h)']);
    if (!xla)
      problems.push({ problem: 'this addon was built without XLA support, so Backend.XLA is unavailable', fix: 'rebuild a clone after `node scripts/deps.js --pjrt` (rm -rf build && npm run build), or use the published prebuild' });
  }
  cpuFacts(facts);

  // plugins
  facts.push(['plugin folder', `${pluginRoot()}${process.env.HODU_PLUGIN_DIR ? ' (HODU_PLUGIN_DIR)' : ''}`]);
  for (const id of Object.keys(PLUGINS) as (keyof typeof PLUGINS)[]) {
    const m = installedPlugin(id);
    facts.push([`installed ${id}`, m ? `${m.spec}, PJRT API ${m.pjrtApi}` : 'no']);
  }
  const { driver, gpus } = gpuFacts(facts);
  if (binding) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { findPjrtPlugin } = require('./xla') as typeof import('./xla');
    for (const platform of ['cpu', 'cuda'] as const) {
      const s = findPjrtPlugin(platform);
      facts.push([`${platform} plugin looked at`, s.tried.join('; ')]);
      facts.push([`${platform} plugin`, s.path ?? 'none found']);
      if (!s.path && platform === 'cpu') problems.push({ problem: 'no XLA CPU plugin found (Backend.XLA fails with BACKEND_UNAVAILABLE)', fix: 'npx hodu install xla-cpu' });
      if (!s.path && platform === 'cuda' && (driver || gpus.length))
        problems.push({ problem: 'an NVIDIA GPU is present but no XLA CUDA plugin was found (Device.CUDA fails with DEVICE_UNAVAILABLE)', fix: 'npx hodu install xla-cuda' });
      if (s.path && platform === 'cuda' && !fs.existsSync('/dev/nvidiactl'))
        problems.push({ problem: `a CUDA plugin is installed (${s.path}) but this machine has no NVIDIA GPU (/dev/nvidiactl is missing)`, fix: 'use Device.CPU here, or install the NVIDIA driver' });
    }
  }
  return { facts, problems };
}

/** The report as text: `key: value` lines, then `problem: ... -> fix: ...` lines (or `no problems found`). */
export function formatDoctor(r: DoctorReport): string {
  const w = Math.max(...r.facts.map(([k]) => k.length));
  const lines = r.facts.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}`);
  lines.push('');
  if (r.problems.length === 0) lines.push('no problems found');
  for (const p of r.problems) lines.push(`problem: ${p.problem} -> fix: ${p.fix}`);
  return lines.join('\n') + '\n';
}
