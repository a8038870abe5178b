import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quoteField, toCsv, writeCsv } from './csv.ts';
import { tempDir } from '../../../test/support/temp-dir.ts';

describe('toCsv', () => {
  it('writes a header and one line per row in column order', () => {
    const csv = toCsv(['policy', 'load', 'p99'], [
      { load: 0.5, policy: 'fare', p99: 120 },
      { policy: 'edf', load: 0.9, p99: 3400.25 },
    ]);
    expect(csv).toBe('policy,load,p99\nfare,0.5,120\nedf,0.9,3400.25\n');
  });

  it('quotes fields with commas, quotes and line breaks (RFC 4180), headers included', () => {
    expect(toCsv(['a,b', 'c'], [{ 'a,b': 'say "hi"', c: 'two\nlines' }, { 'a,b': 'cr\r', c: 'plain' }])).toBe(
      '"a,b",c\n"say ""hi""","two\nlines"\n"cr\r",plain\n',
    );
  });

  it('leaves missing keys empty and ignores keys not in the columns', () => {
    expect(toCsv(['a', 'b'], [{ a: 1, extra: 'x' }])).toBe('a,b\n1,\n');
  });

  it('rounds non-integers to the given significant digits, keeps integers exact', () => {
    const csv = toCsv(['x', 'n'], [{ x: 2 / 3, n: 1234567 }], { significantDigits: 3 });
    expect(csv).toBe('x,n\n0.667,1234567\n');
  });

  it('formats numbers the same way regardless of locale, and non-finite values by name', () => {
    expect(toCsv(['x'], [{ x: 1234567.5 }, { x: NaN }, { x: -Infinity }, { x: -0 }])).toBe(
      'x\n1234567.5\nNaN\n-Infinity\n0\n',
    );
  });

  it('can end records with CRLF', () => {
    expect(toCsv(['a'], [{ a: 'x' }], { eol: '\r\n' })).toBe('a\r\nx\r\n');
  });

  it('is byte-identical for the same input', () => {
    const rows = [{ a: Math.PI, b: 'x' }];
    expect(toCsv(['a', 'b'], rows)).toBe(toCsv(['a', 'b'], rows));
  });
});

describe('quoteField', () => {
  it('leaves plain text alone', () => {
    expect(quoteField('fare hermod')).toBe('fare hermod');
  });
});

describe('writeCsv', () => {
  it('creates the directory and writes the file', () => {
    const dir = tempDir('fare-csv-');
    const path = join(dir, 'nested', 'out.csv');
    writeCsv(path, ['a'], [{ a: 1 }]);
    expect(readFileSync(path, 'utf8')).toBe('a\n1\n');
  });
});
