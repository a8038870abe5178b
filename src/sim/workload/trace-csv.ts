// Reading the trace CSV files: whole-file reads with node:fs, a header checked against the columns a
// reader needs, and rows handed out with their line numbers so every error points at file:line.
// The Azure traces are plain CSV (no quoting), so a comma split is exact.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export type WorkloadErrorCode = 'FARE_E_TRACE_MISSING' | 'FARE_E_TRACE_HEADER' | 'FARE_E_TRACE_ROW' | 'FARE_E_TRACE_EMPTY' | 'FARE_E_WORKLOAD_CONFIG';

/** A workload that cannot be built: a stable code and a message that says what was wrong and what to do. */
export class WorkloadError extends Error {
  readonly code: WorkloadErrorCode;
  constructor(code: WorkloadErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'WorkloadError';
    this.code = code;
  }
}

export interface CsvTable {
  readonly path: string;
  readonly header: readonly string[];
  /** Column index by name. */
  readonly column: ReadonlyMap<string, number>;
  /** Data lines (without the header), and their 1-based line numbers in the file. */
  readonly lines: readonly string[];
  readonly lineNumbers: readonly number[];
}

/**
 * Reads a CSV file and checks that its header has every required column. `what` names the file in
 * messages ("Azure 2019 invocations file"); `hint` says where the path came from.
 */
export function readCsv(path: string, what: string, required: readonly string[], hint: string): CsvTable {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${String(code ?? e)})`;
    throw new WorkloadError('FARE_E_TRACE_MISSING', `${what} ${abs} ${why}: ${hint} (relative paths resolve against ${process.cwd()})`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const raw = text.split('\n');
  let h = 0;
  while (h < raw.length && (raw[h] ?? '').trim() === '') h++;
  if (h === raw.length) throw new WorkloadError('FARE_E_TRACE_EMPTY', `${what} ${abs} is empty: expected a header line with ${required.join(',')}`);
  const header = (raw[h] ?? '').replace(/\r$/, '').split(',').map((c) => c.trim());
  const column = new Map<string, number>();
  header.forEach((c, i) => {
    if (!column.has(c)) column.set(c, i);
  });
  const missing = required.filter((c) => !column.has(c));
  if (missing.length > 0) {
    throw new WorkloadError(
      'FARE_E_TRACE_HEADER',
      `${abs}:${String(h + 1)}: the ${what} header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: expected ${required.join(', ')}; is this the right file?`,
    );
  }
  const lines: string[] = [];
  const lineNumbers: number[] = [];
  for (let i = h + 1; i < raw.length; i++) {
    const line = (raw[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    lines.push(line);
    lineNumbers.push(i + 1);
  }
  return { path: abs, header, column, lines, lineNumbers };
}

/** Splits data line `row` of the table, checking it has as many fields as the header. */
export function fields(t: CsvTable, row: number): string[] {
  const f = (t.lines[row] ?? '').split(',');
  if (f.length !== t.header.length) {
    throw rowError(t, row, `has ${String(f.length)} fields but the header has ${String(t.header.length)}: the file may be truncated or not comma-separated`);
  }
  return f;
}

export function rowError(t: CsvTable, row: number, message: string): WorkloadError {
  return new WorkloadError('FARE_E_TRACE_ROW', `${t.path}:${String(t.lineNumbers[row] ?? '?')}: row ${message}`);
}

export function col(t: CsvTable, name: string): number {
  const i = t.column.get(name);
  if (i === undefined) throw new WorkloadError('FARE_E_TRACE_HEADER', `${t.path}: no column ${name}`);
  return i;
}

/** The number in column `c` of a split row; `min` is the smallest allowed value. */
export function numberField(t: CsvTable, row: number, f: readonly string[], c: number, min = -Infinity): number {
  const s = (f[c] ?? '').trim();
  const x = s === '' ? NaN : Number(s);
  if (!Number.isFinite(x) || x < min) {
    const want = min === -Infinity ? 'a number' : min === 0 ? 'a number ≥ 0' : `a number ≥ ${String(min)}`;
    throw rowError(t, row, `has ${t.header[c] ?? `column ${String(c + 1)}`} = ${JSON.stringify(f[c] ?? '')}: expected ${want}`);
  }
  return x;
}
