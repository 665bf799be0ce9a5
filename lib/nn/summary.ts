// Module summaries: the layer tree with output shapes and parameter counts.
import { noGrad } from '../autograd/tape';
import { DType } from '../dtype';
import { describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';
import type { Module } from './module';

function count(ts: Tensor[]): number {
  return ts.reduce((a, t) => a + t.size, 0);
}

/** Field name of each child module (`0`, `1` … for arrays such as Sequential's layers). */
function namedChildren(m: Module): [string, Module][] {
  const out: [string, Module][] = [];
  const isMod = (v: unknown): v is Module => !!v && typeof v === 'object' && typeof (v as Module).parameters === 'function' && typeof (v as Module).forward === 'function';
  for (const key of Object.keys(m)) {
    if (key.startsWith('_')) continue;
    const v = (m as unknown as Record<string, unknown>)[key];
    if (isMod(v)) out.push([key, v]);
    else if (Array.isArray(v)) v.forEach((c, i) => isMod(c) && out.push([key === 'layers' ? String(i) : `${key}.${i}`, c]));
  }
  return out;
}

const shapeStr = (s: readonly number[]) => `[${s.join(', ')}]`;

/** A one-line description: the class name and its configuration (from its fields). */
export function describeModule(m: Module): string {
  const r = m as unknown as Record<string, unknown>;
  const name = m.constructor.name;
  const bits: string[] = [];
  const w = r.weight instanceof Tensor ? r.weight : null;
  switch (name) {
    case 'Linear': bits.push(`${r.inFeatures} -> ${r.outFeatures}`); if (!r.bias) bits.push('bias=false'); break;
    case 'Conv2d': if (w) bits.push(`${w.shape[1]} -> ${w.shape[0]}`, `kernel ${w.shape[2]}x${w.shape[3]}`); break;
    case 'Embedding': bits.push(`${r.numEmbeddings}, ${r.embeddingDim}`); break;
    case 'BatchNorm1d': case 'BatchNorm2d': bits.push(`${r.numFeatures}`); break;
    case 'LayerNorm': bits.push(shapeStr(r.normalizedShape as number[])); break;
    case 'MultiheadAttention': bits.push(`embed ${r.embedDim}`, `heads ${r.numHeads}`); if (r.causal) bits.push('causal'); break;
    case 'MaxPool2d': case 'AvgPool2d': bits.push(`kernel ${JSON.stringify(r.kernel)}`); break;
    case 'Dropout': case 'Dropout2d': bits.push(`p=${r.p}`); break;
    case 'LeakyReLU': bits.push(`slope=${r.slope}`); break;
    case 'Softmax': bits.push(`dim=${r.dim}`); break;
    default:
  }
  return bits.length ? `${name}(${bits.join(', ')})` : name;
}

export interface SummaryOptions {
  /** Run a zero input of this shape through the module (eval mode, no gradients) to show output shapes. */
  inputShape?: number[];
  inputDtype?: DType;
}

/**
 * The layer tree: one line per module with its output shape (when `inputShape` is given), its own
 * parameter count (leaves) and the totals. `module.toString()` gives the same without shapes.
 */
export function summary(model: Module, options: SummaryOptions = {}): string {
  if (!model || typeof model.parameters !== 'function') throw invalidArg(`summary: expected a Module, got ${describe(model)}`);
  const shapes = new Map<Module, readonly number[]>();
  if (options.inputShape) {
    const all: Module[] = [];
    const walk = (m: Module) => (all.push(m), namedChildren(m).forEach(([, c]) => walk(c)));
    walk(model);
    const modes = all.map((m) => m.training);
    const restore: (() => void)[] = [];
    for (const m of all) {
      const own = Object.prototype.hasOwnProperty.call(m, 'forward');
      const orig = m.forward;
      (m as { forward: unknown }).forward = (...a: unknown[]) => {
        const y = (orig as (...b: unknown[]) => Tensor).apply(m, a);
        if (y instanceof Tensor) shapes.set(m, y.shape);
        return y;
      };
      restore.push(() => (own ? ((m as { forward: unknown }).forward = orig) : delete (m as { forward?: unknown }).forward));
    }
    try {
      model.eval();
      noGrad(() => model.forward(Tensor.zeros(options.inputShape!, options.inputDtype ?? DType.F32)));
    } finally {
      restore.forEach((f) => f());
      all.forEach((m, i) => (m._training = modes[i]));
    }
  }
  const rows: [string, string, string][] = [];
  const visit = (m: Module, label: string, depth: number) => {
    const kids = namedChildren(m);
    const own = kids.length ? '' : count(m.parameters()).toLocaleString('en-US');
    const sh = shapes.get(m);
    rows.push([`${'  '.repeat(depth)}${label}${describeModule(m)}`, sh ? shapeStr(sh) : '', own]);
    for (const [k, c] of kids) visit(c, `(${k}) `, depth + 1);
  };
  visit(model, '', 0);
  const params = model.parameters();
  const total = count(params);
  const trainable = count(params.filter((p) => p.requiresGrad));
  const w0 = Math.max(...rows.map((r) => r[0].length), 5);
  const w1 = Math.max(...rows.map((r) => r[1].length), options.inputShape ? 12 : 0);
  const w2 = Math.max(...rows.map((r) => r[2].length), 6);
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}  ${w1 ? b.padEnd(w1) + '  ' : ''}${c.padStart(w2)}`.trimEnd();
  const out = [line('Layer', options.inputShape ? 'Output shape' : '', 'Params'), '-'.repeat(w0 + (w1 ? w1 + 2 : 0) + w2 + 2)];
  for (const r of rows) out.push(line(...r));
  out.push('-'.repeat(w0 + (w1 ? w1 + 2 : 0) + w2 + 2));
  out.push(`Total params: ${total.toLocaleString('en-US')} (trainable ${trainable.toLocaleString('en-US')})`);
  return out.join('\n');
}
