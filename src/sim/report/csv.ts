// CSV writer for experiment results: RFC 4180 quoting, deterministic locale-free numbers,
// so the same results give byte-identical files.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatNumber } from './number-format.ts';

export type CsvValue = string | number;
export type CsvRow = Readonly<Record<string, CsvValue>>;

export interface CsvOptions {
  /** Round non-integer numbers to this many significant digits; default: shortest exact form. */
  readonly significantDigits?: number;
  /** Record separator; default `\n` (RFC 4180 uses `\r\n`). Every record, the last included, ends with it. */
  readonly eol?: '\n' | '\r\n';
}

/**
 * Renders rows as CSV with a header line. Columns appear in `columns` order; a key missing from a row
 * is an empty field, keys not in `columns` are ignored. Fields containing a comma, quote, CR or LF are
 * quoted, with quotes doubled.
 */
export function toCsv(columns: readonly string[], rows: readonly CsvRow[], options: CsvOptions = {}): string {
  const eol = options.eol ?? '\n';
  const digits = options.significantDigits;
  const lines: string[] = [columns.map(quoteField).join(',')];
  for (const row of rows) {
    const fields: string[] = [];
    for (const col of columns) {
      const v = Object.hasOwn(row, col) ? row[col] : undefined;
      if (v === undefined) fields.push('');
      else if (typeof v === 'number') fields.push(formatNumber(v, digits));
      else fields.push(quoteField(v));
    }
    lines.push(fields.join(','));
  }
  return lines.join(eol) + eol;
}

/** Writes `toCsv(...)` to `path`, creating the parent directory if needed. */
export function writeCsv(path: string, columns: readonly string[], rows: readonly CsvRow[], options: CsvOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toCsv(columns, rows, options));
}

/** RFC 4180 field: quoted (with `"` doubled) when it holds a comma, quote, CR or LF. */
export function quoteField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}
