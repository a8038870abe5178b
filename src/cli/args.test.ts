import { describe, expect, it } from 'vitest';
import { durationMs, formatDuration, UsageError } from './args.ts';
import { runUp } from './up.ts';

describe('durations on the command line', () => {
  it('take a number and a unit: s, m, h or d', () => {
    expect(durationMs('--retention', '30m', 0)).toBe(30 * 60_000);
    expect(durationMs('--retention', '12h', 0)).toBe(12 * 3_600_000);
    expect(durationMs('--retention', '7d', 0)).toBe(7 * 86_400_000);
    expect(durationMs('--retention', '90s', 0)).toBe(90_000);
    expect(durationMs('--retention', '1.5h', 0)).toBe(90 * 60_000);
    expect(formatDuration(7 * 86_400_000)).toBe('7d');
    expect(formatDuration(90 * 60_000)).toBe('90m');
  });

  it('refuse anything else, saying what was wrong and what to give', () => {
    for (const bad of ['7', 'd', '7 days', '-1d', '7x', '', '1e3s']) {
      expect(() => durationMs('--retention', bad, 0)).toThrow(UsageError);
      expect(() => durationMs('--retention', bad, 0)).toThrow(`--retention ${bad} is not a duration: give a number and a unit, s, m, h or d (e.g. 30m, 12h or 7d)`);
    }
    expect(() => durationMs('--retention', '30s', 60_000)).toThrow('--retention 30s is too short: give at least 1m');
  });
});

describe('fare up --retention', () => {
  it('is checked before anything starts', async () => {
    await expect(runUp(['--retention', '7 days'])).rejects.toThrow(/^--retention 7 days is not a duration: give a number and a unit/);
    await expect(runUp(['--retention', '10s'])).rejects.toThrow('--retention 10s is too short: give at least 1m');
    await expect(runUp(['--retention'])).rejects.toThrow(UsageError);
  });
});
