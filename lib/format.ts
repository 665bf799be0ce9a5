// Tensor printing, following upstream hodu's Display: `[1., 2., 3.]`, `[[1., 2.],\n [3., 4.]]`.
// - an integral float prints as `3.`, other floats with up to 6 decimals, trailing zeros trimmed;
// - integers plain, bools `true`/`false`;
// - rows at depth 0 and 1 are separated by `,\n` plus (depth + 1) spaces, deeper ones by `, `;
// - a dim longer than 8 shows its first 4 and last 4 entries around `...`;
// - entries are padded (left-aligned) to a common width;
// - a tensor of shape [] or all ones prints the bare value.

const EDGE = 4;
const LIMIT = 8;

export function formatScalar(v: number | boolean | bigint, isFloat: boolean): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (!isFloat) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Number.isInteger(v)) return `${Object.is(v, -0) ? '-0' : v.toFixed(0)}.`;
  let s = v.toFixed(6);
  if (s.includes('.')) s = s.replace(/0+$/, '');
  if (s.endsWith('.')) s = `${s}0`;
  return s;
}

/** Formats a nested array (as produced by toArray) of the given shape. */
export function formatNested(values: unknown, shape: readonly number[], isFloat: boolean): string {
  const cells: string[] = [];
  const collect = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      cells.push(formatScalar(v as number | boolean, isFloat));
      return;
    }
    const arr = v as unknown[];
    const n = arr.length;
    for (let i = 0; i < n; i++) {
      if (n > LIMIT && i === EDGE) i = n - EDGE;
      collect(arr[i], depth + 1);
    }
  };
  if (shape.every((d) => d === 1)) {
    let v: unknown = values;
    for (let i = 0; i < shape.length; i++) v = (v as unknown[])[0];
    return formatScalar(v as number | boolean, isFloat);
  }
  collect(values, 0);
  const width = cells.reduce((w, c) => Math.max(w, c.length), 0);
  let next = 0;
  const render = (v: unknown, depth: number): string => {
    if (depth === shape.length) return cells[next++].padEnd(width);
    const arr = v as unknown[];
    const n = arr.length;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (n > LIMIT && i === EDGE) {
        parts.push('...');
        i = n - EDGE;
      }
      parts.push(render(arr[i], depth + 1));
    }
    const sep = depth < 2 && depth < shape.length - 1 ? `,\n${' '.repeat(depth + 1)}` : ', ';
    return `[${parts.join(sep)}]`;
  };
  return render(values, 0);
}
