import { describe, expect, it } from 'vitest';
import { sinceParam } from './client.ts';

describe('fare logs --since', () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 0);

  it('turns a duration into epoch milliseconds that far back from now', () => {
    expect(sinceParam('30s', now)).toBe(String(now - 30_000));
    expect(sinceParam('10m', now)).toBe(String(now - 600_000));
    expect(sinceParam('1.5h', now)).toBe(String(now - 5_400_000));
    expect(sinceParam('2d', now)).toBe(String(now - 2 * 86_400_000));
  });

  it('passes an ISO time or epoch milliseconds on for Fare to check', () => {
    expect(sinceParam('2025-01-15T11:00:00Z', now)).toBe('2025-01-15T11:00:00Z');
    expect(sinceParam('2025-01-15', now)).toBe('2025-01-15');
    expect(sinceParam(String(now), now)).toBe(String(now));
  });

  it('refuses what is neither, saying what to give', () => {
    for (const v of ['10', 'yesterday', '5w', '-1m', '']) expect(() => sinceParam(v, now), v).toThrow(/--since .* is not a time: give a duration back from now such as 30s, 10m, 1h or 2d/);
  });
});
