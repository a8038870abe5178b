import { describe, expect, it } from 'vitest';
import { newRequestId, requestIdTime } from './request-id.ts';

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

  it('give back the time they were minted for; other strings none', () => {
    for (const t of [0, 1, 65_535, 65_536, Date.UTC(2026, 11, 6, 5, 30, 0, 123), 2 ** 48 - 1]) expect(requestIdTime(newRequestId(t))).toBe(t);
    for (const s of ['', 'abc', '01a24c19-8c9d-4d1b-984b-10bbc7f4537b', '01A24C19-8C9D-7D1B-984B-10BBC7F4537B', '01a24c19-8c9d-7d1b-c84b-10bbc7f4537b']) expect(requestIdTime(s)).toBeUndefined();
  });
});
