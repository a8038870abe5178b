import { describe, expect, it } from 'vitest';
import { formatCompact, formatGrouped, formatMillis, formatMillisTick, formatNumber, formatPercent } from './number-format.ts';

describe('formatNumber', () => {
  it('prints integers exactly, with or without a digit limit', () => {
    expect(formatNumber(123456789)).toBe('123456789');
    expect(formatNumber(123456789, 3)).toBe('123456789');
  });
  it('rounds non-integers to significant digits without trailing zeros or locale', () => {
    expect(formatNumber(3.14159, 3)).toBe('3.14');
    expect(formatNumber(2.5, 4)).toBe('2.5');
    expect(formatNumber(1234.5678, 6)).toBe('1234.57');
    expect(formatNumber(0.000123456, 2)).toBe('0.00012');
    expect(formatNumber(0.1 + 0.2)).toBe('0.30000000000000004');
  });
  it('spells non-finite values and drops negative zero', () => {
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatNumber(-Infinity, 3)).toBe('-Infinity');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(-1e-30, 2)).toBe('-1e-30');
  });
  it('rejects a nonsensical digit count with a stable code', () => {
    expect(() => formatNumber(1.5, 0)).toThrow(/FARE_E_REPORT_DIGITS/);
  });
});

describe('formatPercent, formatMillis, formatCompact', () => {
  it('formats fractions as percentages', () => {
    expect(formatPercent(0.1234)).toBe('12.3%');
    expect(formatPercent(-0.00001)).toBe('0.0%');
  });
  it('picks a readable time unit', () => {
    expect(formatMillis(0.25)).toBe('0.25 ms');
    expect(formatMillis(850)).toBe('850 ms');
    expect(formatMillis(1250)).toBe('1.25 s');
    expect(formatMillis(150_000)).toBe('2.5 min');
    expect(formatMillis(5_400_000)).toBe('1.5 h');
  });
  it('uses SI suffixes from ten thousand up', () => {
    expect(formatCompact(1000)).toBe('1000');
    expect(formatCompact(12_345)).toBe('12.3k');
    expect(formatCompact(1_500_000)).toBe('1.5M');
    expect(formatCompact(0.5)).toBe('0.5');
  });
});

describe('formatGrouped', () => {
  it('writes thousands out with commas and never adds an SI suffix', () => {
    expect([0, 0.35, 32, 3200, 15_000, 1_234_567, -20_000, 0.01].map(formatGrouped)).toEqual([
      '0', '0.35', '32', '3,200', '15,000', '1,234,567', '-20,000', '0.01',
    ]);
  });

  it('writes duration ticks in ms below a second and in seconds from one up, never with a k', () => {
    expect([0, 0.01, 250, 1000, 100_000, 12_000_000].map(formatMillisTick)).toEqual(['0', '0.01 ms', '250 ms', '1 s', '100 s', '12,000 s']);
  });
});
