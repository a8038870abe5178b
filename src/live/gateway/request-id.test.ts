import { describe, expect, it } from 'vitest';
import { newRequestId } from './request-id.ts';

describe('request ids', () => {
  it('are version-7 UUIDs carrying the time in ms', () => {
    const t = Date.UTC(2026, 11, 6, 5, 30, 0, 123);
    const id = newRequestId(t);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(t);
  });

  it('sort by the time they were minted, and differ within one ms', () => {
    const ids = [1, 2, 1000, 65_535, 65_536, 2 ** 40, Date.now()].map((t) => newRequestId(t));
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 5000 }, () => newRequestId(42)));
    expect(same.size).toBe(5000);
  });
});
