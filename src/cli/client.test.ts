import { describe, expect, it } from 'vitest';
import { formatEntry, sinceParam } from './client.ts';

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

describe('fare logs text', () => {
  it("stamps the START line with the start time and adds what Fare billed after Lambda's REPORT line", () => {
    const text = 'START RequestId: r1 Version: 2\nhello\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMax Memory Used: 40 MB\t\n';
    const s = formatEntry({ requestId: 'r1', time: '2025-01-15T12:00:00.020Z', durationMs: 12.5, class: 'high', cpuMs: 3.25, costMicroCents: 6.5, text });
    expect(s).toBe(`2025-01-15T12:00:00.007Z ${text}BILLED RequestId: r1\tClass: high\tCPU: 3.25 ms\tCost: 6.5000 µ¢\n`);
  });
});
