import { describe, expect, it } from 'vitest';
import { durationMs, formatDuration, parse, UsageError } from './args.ts';
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

describe('an option the command does not have', () => {
  const options = { payload: { type: 'string' }, async: { type: 'boolean' }, logs: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

  it('is named, with the nearest the command has (a letter wrong, missing, extra or two swapped) and all it has', () => {
    const said = (args: string[]): string => {
      try {
        parse(args, options);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error(`${args.join(' ')} was accepted`);
    };
    const all = 'this command takes --payload, --async, --logs (--help says what each does)';
    expect(said(['--paylod', '{}'])).toBe(`unknown option --paylod (did you mean --payload?): ${all}`);
    expect(said(['--asnyc'])).toBe(`unknown option --asnyc (did you mean --async?): ${all}`);
    expect(said(['--log'])).toBe(`unknown option --log (did you mean --logs?): ${all}`);
    expect(said(['--logss=1'])).toBe(`unknown option --logss (did you mean --logs?): ${all}`);
    expect(said(['--monthly', '5'])).toBe(`unknown option --monthly: ${all}`);
    expect(said(['-x'])).toBe(`unknown option -x: ${all}`);
    // Other mistakes keep Node's own words.
    expect(said(['--payload'])).toMatch(/^Option '--payload <value>' argument missing/);
  });
});

describe('fare up --retention', () => {
  it('is checked before anything starts', async () => {
    await expect(runUp(['--retention', '7 days'])).rejects.toThrow(/^--retention 7 days is not a duration: give a number and a unit/);
    await expect(runUp(['--retention', '10s'])).rejects.toThrow('--retention 10s is too short: give at least 1m');
    await expect(runUp(['--retention'])).rejects.toThrow(UsageError);
  });
});
