// Tables and numbers as the client commands print them: a header row, columns as wide as their
// widest cell, numbers right-aligned and rounded for reading (the exact values are in --json).

/** A cell: text (left-aligned) or a number already formatted, marked to be right-aligned. */
export type Cell = string | { readonly num: string };

/** `x` rounded for reading: whole numbers with thousands separators from 100, else 3 significant digits (never an exponent). */
export function round(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a < 0.000001) return x > 0 ? '<0.000001' : '>-0.000001';
  return String(Number(x.toPrecision(3)));
}

/** A number cell: `round(x)`, or the whole number as is (counts). */
export const num = (x: number, whole = false): Cell => ({ num: whole ? Math.round(x).toLocaleString('en-US') : round(x) });

/** The rows under `headers`, two spaces between columns, no trailing spaces. */
export function table(headers: readonly Cell[], rows: readonly (readonly Cell[])[]): string {
  const text = (c: Cell): string => (typeof c === 'string' ? c : c.num);
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => [...text(r[i] ?? '')].length)));
  const right = headers.map((h, i) => typeof h !== 'string' || rows.some((r) => typeof r[i] === 'object'));
  return all
    .map((r) => r.map((c, i) => {
      const t = text(c);
      const pad = ' '.repeat((widths[i] ?? 0) - [...t].length);
      return right[i] ? pad + t : t + pad;
    }).join('  ').trimEnd())
    .join('\n');
}
