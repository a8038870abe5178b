import { describe, expect, it } from 'vitest';
import { formatBill, formatEntry, sinceParam } from './client.ts';

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

describe('fare bill text', () => {
  it('shows the month, then a table per function and one per class, rounded', () => {
    const usage = (invocations: number, cpuMs: number, memGBs: number, costMicroCents: number) => ({ invocations, cpuMs, memGBs, costMicroCents });
    const text = formatBill({
      tenant: 'acme', month: '2025-01', ...usage(1203, 3456.789, 1.23456, 7000.123456), budgetMicroCents: 500000, budgetState: 'ok',
      functions: [
        { function: 'page-view', ...usage(1200, 3456, 1.2, 6912.5), classes: [{ cls: 'high', ...usage(1000, 3000, 1, 6000) }, { cls: 'low', ...usage(200, 456, 0.2, 912.5) }] },
        { function: 'resize', ...usage(3, 0.789, 0.03456, 87.623456), classes: [{ cls: 'low', ...usage(3, 0.789, 0.03456, 87.623456) }] },
      ],
    });
    expect(text).toBe([
      'acme, 2025-01: 1,203 invocations, 7,000 µ¢ of a 500,000 µ¢ budget (ok)',
      '',
      'FUNCTION   CLASSES    INVOCATIONS     CPU s  MEMORY GB·s  COST µ¢',
      'page-view  high, low        1,200      3.46          1.2    6,913',
      'resize     low                  3  0.000789       0.0346     87.6',
      '',
      'CLASS  INVOCATIONS  CPU s  MEMORY GB·s  COST µ¢',
      'high         1,000      3            1    6,000',
      'low            203  0.457        0.235    1,000',
    ].join('\n'));
  });
});
