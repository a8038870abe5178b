// Small helpers for an experiment's summary.md: headings, tables from rows, images, lists, and
// deterministic number formatting, joined into one document.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatNumber } from './number-format.ts';

export { formatCompact, formatMillis, formatNumber, formatPercent } from './number-format.ts';

export type Cell = string | number;
export type Align = 'left' | 'right' | 'center';

export interface TableOptions {
  /** Significant digits for non-integer numbers; default 4. */
  readonly significantDigits?: number;
  /** Per-column alignment; default right for columns holding only numbers, left otherwise. */
  readonly align?: Readonly<Record<string, Align>>;
  /** Header text per column key, when it differs from the key. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A GitHub-flavoured markdown table, one row per record, columns in `columns` order, cells padded so the
 * raw text lines up. Missing keys are empty cells; `|` is escaped and newlines become `<br>`.
 */
export function markdownTable(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, Cell>>[],
  options: TableOptions = {},
): string {
  const digits = options.significantDigits ?? 4;
  const cell = (v: Cell | undefined): string =>
    v === undefined ? '' : typeof v === 'number' ? formatNumber(v, digits) : escapeCell(v);
  const header = columns.map((c) => escapeCell(own(options.headers, c) ?? c));
  const body = rows.map((r) => columns.map((c) => cell(own(r, c))));
  const aligns = columns.map((c): Align => {
    const fixed = own(options.align, c);
    if (fixed) return fixed;
    const values = rows.map((r) => own(r, c)).filter((v) => v !== undefined);
    return values.length > 0 && values.every((v) => typeof v === 'number') ? 'right' : 'left';
  });
  const widths = columns.map((_, j) => Math.max(3, header[j]?.length ?? 0, ...body.map((r) => r[j]?.length ?? 0)));
  const pad = (text: string, j: number): string => {
    const w = widths[j] ?? 3;
    return aligns[j] === 'right' ? text.padStart(w) : text.padEnd(w);
  };
  const rule = aligns.map((a, j) => {
    const w = widths[j] ?? 3;
    if (a === 'right') return `${'-'.repeat(w - 1)}:`;
    if (a === 'center') return `:${'-'.repeat(w - 2)}:`;
    return '-'.repeat(w);
  });
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header.map(pad)), line(rule), ...body.map((r) => line(r.map(pad)))].join('\n');
}

/** `## text` at `level` 1–6. */
export function heading(level: 1 | 2 | 3 | 4 | 5 | 6, text: string): string {
  return `${'#'.repeat(level)} ${text.replace(/\s*\n\s*/g, ' ')}`;
}

/** An image link, e.g. a chart PNG next to the summary. Spaces in the path are encoded. */
export function image(alt: string, path: string): string {
  return `![${alt.replace(/[[\]]/g, '\\$&')}](${path.replace(/ /g, '%20')})`;
}

/** A bulleted list, one item per line. */
export function bulletList(items: readonly string[]): string {
  return items.map((i) => `- ${i.replace(/\n/g, '\n  ')}`).join('\n');
}

/** Blocks (headings, paragraphs, tables…) separated by blank lines, ending with one newline. */
export function markdownDocument(blocks: readonly string[]): string {
  return `${blocks.map((b) => b.trim()).filter((b) => b !== '').join('\n\n')}\n`;
}

/** Writes `markdownDocument(blocks)` to `path`, creating the parent directory if needed. */
export function writeMarkdown(path: string, blocks: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, markdownDocument(blocks));
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function own<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
