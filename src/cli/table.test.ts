import { describe, expect, it } from 'vitest';
import { num, round, table } from './table.ts';

describe('numbers for reading', () => {
  it('keeps three significant digits below 100 and whole numbers with separators above, never an exponent', () => {
    expect(round(0)).toBe('0');
    expect(round(0.0000543)).toBe('0.0000543');
    expect(round(0.00384123)).toBe('0.00384');
    expect(round(12.3456)).toBe('12.3');
    expect(round(1234567.89)).toBe('1,234,568');
    expect(round(1e-9)).toBe('<0.000001');
  });
});

describe('tables', () => {
  it('puts a header over columns as wide as their widest cell, numbers right-aligned', () => {
    expect(table(['NAME', 'COUNT'], [['a', num(5, true)], ['longer', num(12345, true)]])).toBe(
      ['NAME     COUNT', 'a            5', 'longer  12,345'].join('\n'),
    );
  });
});
