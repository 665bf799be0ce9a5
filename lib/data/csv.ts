// CSV: numeric tables (comma or another one-character delimiter, optional header row, RFC 4180
// quotes). Non-numeric columns can be mapped to class indices.
import { readFileSync } from 'fs';
import { DType } from '../dtype';
import { ErrorCode, HoduError, describe, invalidArg } from '../errors';
import { Tensor } from '../tensor';

export interface CsvOptions {
  /** Field separator (default ','). */
  delimiter?: string;
  /** The first row holds column names (default: guessed — true when any field of row 1 is not a number). */
  header?: boolean;
  /** Keep only these columns (names when there is a header, else indices), in this order. */
  columns?: (string | number)[];
  /** dtype of the result (default F32). */
  dtype?: DType;
  /** Columns whose text values become class indices 0, 1, … in order of first appearance. */
  categorical?: (string | number)[];
}

export interface CsvTable {
  /** Column names (`'0'`, `'1'`, … without a header). */
  columns: string[];
  /** [rows, columns] */
  data: Tensor;
  /** For each categorical column, its class names by index. */
  categories: Record<string, string[]>;
  /** One column as a tensor of `dtype` (default: the table's dtype). */
  column(name: string | number, dtype?: DType): Tensor;
}

/** Splits CSV text into rows of fields (quotes may hold delimiters, newlines and doubled quotes). */
export function parseCsvRows(text: string, delimiter = ','): string[][] {
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n')
    throw invalidArg(`readCsv: delimiter must be one character other than a quote or newline, got ${describe(delimiter)}`);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') (field += '"'), (i += 2);
        else (quoted = false), i++;
      } else (field += c), i++;
      continue;
    }
    if (c === '"' && field.length === 0) (quoted = true), i++;
    else if (c === delimiter) row.push(field), (field = ''), i++;
    else if (c === '\n' || c === '\r') {
      row.push(field);
      field = '';
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else (field += c), i++;
  }
  if (quoted) throw new HoduError(ErrorCode.INVALID_FILE, 'readCsv: a quoted field is not closed at the end of the text');
  row.push(field);
  if (!(row.length === 1 && row[0] === '')) rows.push(row);
  return rows;
}

const isNum = (s: string): boolean => s.trim() !== '' && Number.isFinite(Number(s));

/**
 * Reads a numeric CSV table (a path, or the text itself when it contains a newline) into a
 * [rows, columns] tensor. A field that is not a number (outside categorical columns) → `INVALID_FILE`
 * naming its row and column; empty fields are NaN.
 */
export function readCsv(source: string, options: CsvOptions = {}): CsvTable {
  if (typeof source !== 'string') throw invalidArg(`readCsv: expected a path or CSV text, got ${describe(source)}`);
  let text = source;
  if (!source.includes('\n')) {
    try {
      text = readFileSync(source, 'utf8');
    } catch (e) {
      throw invalidArg(`readCsv: cannot read '${source}' (${(e as Error).message})`);
    }
  }
  const rows = parseCsvRows(text, options.delimiter ?? ',');
  if (rows.length === 0) throw new HoduError(ErrorCode.INVALID_FILE, 'readCsv: no rows');
  const header = options.header ?? rows[0].some((f) => !isNum(f));
  const names = header ? rows[0].map((s) => s.trim()) : rows[0].map((_, i) => String(i));
  const body = header ? rows.slice(1) : rows;
  const width = names.length;
  body.forEach((r, i) => {
    if (r.length !== width)
      throw new HoduError(ErrorCode.INVALID_FILE, `readCsv: row ${i + (header ? 2 : 1)} has ${r.length} fields, expected ${width}`);
  });
  const colIndex = (c: string | number): number => {
    const k = typeof c === 'number' ? c : names.indexOf(c);
    if (!Number.isInteger(k) || k < 0 || k >= width) throw invalidArg(`readCsv: no column ${describe(c)} (columns: ${names.join(', ')})`);
    return k;
  };
  const keep = (options.columns ?? names.map((_, i) => i)).map(colIndex);
  const cat = new Set((options.categorical ?? []).map(colIndex));
  const categories: Record<string, string[]> = {};
  const maps = new Map<number, Map<string, number>>();
  for (const k of cat) (maps.set(k, new Map()), (categories[names[k]] = []));
  const vals = new Float64Array(body.length * keep.length);
  body.forEach((r, i) => {
    keep.forEach((k, j) => {
      const f = r[k];
      let v: number;
      if (cat.has(k)) {
        const m = maps.get(k)!;
        if (!m.has(f)) (m.set(f, m.size), categories[names[k]].push(f));
        v = m.get(f)!;
      } else if (f.trim() === '') v = NaN;
      else {
        v = Number(f);
        if (!Number.isFinite(v) && !/^\s*[+-]?(inf|infinity|nan)\s*$/i.test(f))
          throw new HoduError(ErrorCode.INVALID_FILE, `readCsv: row ${i + (header ? 2 : 1)}, column '${names[k]}': ${describe(f)} is not a number`);
        if (Number.isNaN(v)) v = /nan/i.test(f) ? NaN : f.includes('-') ? -Infinity : Infinity;
      }
      vals[i * keep.length + j] = v;
    });
  });
  const dtype = options.dtype ?? DType.F32;
  const data = Tensor.fromArray(vals, [body.length, keep.length], dtype);
  const cols = keep.map((k) => names[k]);
  return {
    columns: cols,
    data,
    categories,
    column(name: string | number, dt?: DType): Tensor {
      const j = typeof name === 'number' ? name : cols.indexOf(name);
      if (!Number.isInteger(j) || j < 0 || j >= cols.length) throw invalidArg(`readCsv: no column ${describe(name)} (columns: ${cols.join(', ')})`);
      const out = new Float64Array(body.length);
      for (let i = 0; i < body.length; i++) out[i] = vals[i * keep.length + j];
      return Tensor.fromArray(out, [body.length], dt ?? dtype);
    },
  };
}
