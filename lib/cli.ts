// The `hodu` command (bin/hodu.js): `npx hodu install xla-cpu | xla-cuda`, `npx hodu doctor`, `npx hodu plugins`.
import * as fs from 'fs';
import * as path from 'path';
import { doctorReport, formatDoctor } from './doctor';
import { installPlugin, installedPlugin, pluginRoot, PLUGINS } from './plugins';

const USAGE = `usage: hodu <command>

  install <plugin> [--wheel FILE] [--force]   fetch a pinned PJRT plugin into the per-user plugin folder
                                              plugins: ${Object.keys(PLUGINS).join(', ')}
  doctor [--json]                             versions, CPU, GPU, plugins, and one line per problem with its fix
  plugins                                     the plugin folder and what is installed there
  --version                                   hodu's version

The plugin folder is $HODU_PLUGIN_DIR, else $XDG_CACHE_HOME/hodu/plugins, else ~/.cache/hodu/plugins.
`;

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Runs the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s);
  const err = (s: string) => process.stderr.write(s);
  const [cmd, ...rest] = argv;
  try {
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      out(USAGE);
      return cmd ? 0 : 1;
    }
    if (cmd === '--version' || cmd === '-v') {
      out(`${version()}\n`);
      return 0;
    }
    if (cmd === 'install') {
      const ids = rest.filter((a, i) => !a.startsWith('--') && rest[i - 1] !== '--wheel');
      const wi = rest.indexOf('--wheel');
      if (ids.length !== 1) {
        err(`hodu install: name one plugin (${Object.keys(PLUGINS).join(', ')})\n`);
        return 2;
      }
      if (wi >= 0 && !rest[wi + 1]) {
        err('hodu install: --wheel needs a file\n');
        return 2;
      }
      const r = await installPlugin(ids[0], {
        wheel: wi >= 0 ? rest[wi + 1] : undefined,
        force: rest.includes('--force'),
        log: (m) => err(`[hodu install] ${m}\n`),
      });
      const spec = PLUGINS[r.id];
      out(`${r.changed ? 'installed' : 'already installed'}: ${spec.spec} (PJRT API ${spec.pjrtApi}) -> ${r.path}\n`);
      out(`needs: ${spec.needs}\n`);
      out(spec.platform === 'cpu' ? 'use it with Backend.XLA (Device.CPU)\n' : 'use it with Backend.XLA on Device.CUDA(n)\n');
      return 0;
    }
    if (cmd === 'plugins') {
      out(`plugin folder: ${pluginRoot()}\n`);
      for (const id of Object.keys(PLUGINS) as (keyof typeof PLUGINS)[]) {
        const m = installedPlugin(id);
        out(`${id}: ${m ? `${m.spec}, PJRT API ${m.pjrtApi}, ${path.join(pluginRoot(), id, m.file)}` : 'not installed'}\n`);
      }
      return 0;
    }
    if (cmd === 'doctor') {
      const r = doctorReport();
      out(rest.includes('--json') ? JSON.stringify(r, null, 2) + '\n' : formatDoctor(r));
      return 0;
    }
    err(`hodu: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  } catch (e) {
    const code = (e as { code?: string }).code;
    err(`hodu ${cmd}: ${code ? `${code}: ` : ''}${(e as Error).message}\n`);
    return 1;
  }
}
