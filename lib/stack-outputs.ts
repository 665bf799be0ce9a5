// Stacked outputs: `builder.addOutput(name, value, { stack: true })`, called once per recorded step,
// gives one output of shape [steps, ...value shape] (each step's loss of a rolled epoch: a loss
// curve from one run). At build() each step j gets two ops inserted right after its value:
//   acc_j = where(onehot_j, reshape(value_j, [1, ...shape]), acc_{j-1}),   acc_{-1} = zeros
// (onehot_j: a BOOL constant [steps, 1, ...] true at row j). Every step then has the same ops, a
// carried accumulator and a per-step constant, which is the shape the loop roller rolls (the
// one-hot rows become a table), and `where` copies values exactly (NaN and infinities included).
import { DType, dtypeSize } from './dtype';
import { ErrorCode, HoduError } from './errors';
import { IrOutput, IrValue, ValueKind } from './ir/graph';
import { opcode } from './native';

export interface StackedOutput {
  name: string;
  values: number[]; // value ids, one per step, in recording order
}

export function applyStacks(
  values: IrValue[],
  outputs: IrOutput[],
  constants: ArrayBuffer[],
  stacks: readonly StackedOutput[],
): { values: IrValue[]; outputs: IrOutput[] } {
  if (stacks.length === 0) return { values, outputs };
  const out: IrValue[] = [];
  const newId = new Array<number>(values.length).fill(-1);
  const after = new Map<number, (() => void)[]>();
  const finals: IrOutput[] = [];
  const RESHAPE = opcode('reshape');
  const WHERE = opcode('where');
  for (const st of stacks) {
    const first = values[st.values[0]];
    const shape = first.shape;
    const dtype: DType = first.dtype;
    for (const id of st.values) {
      const v = values[id];
      if (v.dtype !== dtype || v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i]))
        throw new HoduError(
          ErrorCode.SHAPE_MISMATCH,
          `addOutput('${st.name}', { stack: true }): every step must give the same shape and dtype; ${dtype}[${shape.join(', ')}] then ${v.dtype}[${v.shape.join(', ')}]`,
        );
    }
    const N = st.values.length;
    const numel = shape.reduce((a, b) => a * b, 1);
    const full = [N, ...shape];
    constants.push(new ArrayBuffer(Math.max(N * numel * dtypeSize(dtype), 0)));
    const accId = out.length;
    out.push({ kind: ValueKind.Constant, dtype, shape: full, constant: constants.length - 1 });
    const condShape = [N, ...shape.map(() => 1)];
    const condIds: number[] = [];
    for (let j = 0; j < N; j++) {
      const b = new ArrayBuffer(N);
      new Uint8Array(b)[j] = 1;
      constants.push(b);
      condIds.push(out.length);
      out.push({ kind: ValueKind.Constant, dtype: DType.BOOL, shape: condShape, constant: constants.length - 1 });
    }
    let acc = accId;
    let at = -1;
    st.values.forEach((vid, j) => {
      at = Math.max(at, vid);
      const list = after.get(at) ?? [];
      list.push(() => {
        const r = out.length;
        out.push({ kind: ValueKind.Op, dtype, shape: [1, ...shape], op: RESHAPE, inputs: [newId[vid]], attrs: [1, ...shape] });
        const w = out.length;
        out.push({ kind: ValueKind.Op, dtype, shape: full, op: WHERE, inputs: [condIds[j], r, acc], attrs: [] });
        acc = w;
      });
      after.set(at, list);
    });
    finals.push({ name: st.name, value: -1 });
    // the last accumulator is known once the loop below has run
    const k = finals.length - 1;
    const lastAt = at;
    after.get(lastAt)!.push(() => (finals[k].value = acc));
  }
  values.forEach((v, i) => {
    const c: IrValue = { ...v };
    if (c.kind === ValueKind.Op) c.inputs = c.inputs!.map((x) => newId[x]);
    newId[i] = out.length;
    out.push(c);
    for (const f of after.get(i) ?? []) f();
  });
  return { values: out, outputs: [...outputs.map((o) => ({ name: o.name, value: newId[o.value] })), ...finals] };
}
