// Data: loaders and dataset readers.
export { DataLoader, batches } from './loader';
export type { ArrayColumn, Column, Columns, Batch, LoaderOptions } from './loader';
export { readIdx, encodeIdx } from './idx';
export { readCsv, parseCsvRows } from './csv';
export type { CsvOptions, CsvTable } from './csv';
