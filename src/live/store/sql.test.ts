import { describe, expect, it } from 'vitest';
import { monthOf } from './sql.ts';

describe('monthOf', () => {
  it('names the UTC month of a time, at its edges too, whatever it was asked before', () => {
    const jan = Date.UTC(2026, 0, 1);
    const feb = Date.UTC(2026, 1, 1);
    expect(monthOf(jan)).toBe('2026-01');
    expect(monthOf(feb - 1)).toBe('2026-01');
    expect(monthOf(feb)).toBe('2026-02');
    expect(monthOf(jan - 1)).toBe('2025-12');
    expect(monthOf(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('2026-12');
    expect(monthOf(Date.UTC(2027, 0, 1))).toBe('2027-01');
    expect(monthOf(feb - 1)).toBe('2026-01');
    expect(monthOf(0)).toBe('1970-01');
  });
});
