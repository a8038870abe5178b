import { describe, expect, it } from 'vitest';
import { cronerPattern, nextFire, parseScheduleExpression, type ScheduleExpression } from './schedule-expression.ts';

const T0 = Date.parse('2026-12-07T10:00:00Z'); // a Monday
const parse = (text: string, tz?: string): ScheduleExpression => {
  const r = parseScheduleExpression(text, tz);
  if (!r.ok) throw new Error(r.error);
  return r.expr;
};
/** The next `n` fire times after T0, as ISO strings. */
const fires = (text: string, n = 3, tz?: string, anchor = T0): string[] => {
  const e = parse(text, tz);
  const out: string[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    const next = nextFire(e, t, anchor);
    if (next === undefined) break;
    out.push(new Date(next).toISOString());
    t = next;
  }
  return out;
};

describe('schedule expressions', () => {
  it('rate: every interval from the start', () => {
    expect(fires('rate(5 minutes)')).toEqual(['2026-12-07T10:05:00.000Z', '2026-12-07T10:10:00.000Z', '2026-12-07T10:15:00.000Z']);
    expect(fires('rate(1 hour)', 2, undefined, T0 - 90 * 60_000)).toEqual(['2026-12-07T10:30:00.000Z', '2026-12-07T11:30:00.000Z']);
    expect(fires('rate(2 days)', 1)).toEqual(['2026-12-09T10:00:00.000Z']);
  });

  it('cron: AWS fields, days of the week 1-7 from Sunday, in the time zone given', () => {
    expect(fires('cron(0 12 * * ? *)')).toEqual(['2026-12-07T12:00:00.000Z', '2026-12-08T12:00:00.000Z', '2026-12-09T12:00:00.000Z']);
    // 2 is Monday in AWS: the first Monday of the month.
    expect(fires('cron(0 9 ? * 2#1 *)', 2)).toEqual(['2027-01-04T09:00:00.000Z', '2027-02-01T09:00:00.000Z']);
    expect(fires('cron(15 10 ? * MON-FRI *)', 2)).toEqual(['2026-12-07T10:15:00.000Z', '2026-12-08T10:15:00.000Z']);
    expect(fires('cron(0 8 ? * 2-6 *)', 6)).toEqual(['2026-12-08T08:00:00.000Z', '2026-12-09T08:00:00.000Z', '2026-12-10T08:00:00.000Z', '2026-12-11T08:00:00.000Z', '2026-12-14T08:00:00.000Z', '2026-12-15T08:00:00.000Z']);
    expect(fires('cron(0 8 ? * 1 *)', 1)).toEqual(['2026-12-13T08:00:00.000Z']); // Sunday
    expect(fires('cron(0 8 ? * 6L *)', 1)).toEqual(['2026-12-25T08:00:00.000Z']); // the last Friday
    expect(fires('cron(0/20 * * * ? *)', 3)).toEqual(['2026-12-07T10:20:00.000Z', '2026-12-07T10:40:00.000Z', '2026-12-07T11:00:00.000Z']);
    expect(fires('cron(0 8 L * ? *)', 1)).toEqual(['2026-12-31T08:00:00.000Z']);
    expect(fires('cron(0 8 * * ? 2028)', 1)).toEqual(['2028-01-01T08:00:00.000Z']);
    expect(fires('cron(0 8 * * ? *)', 1, 'America/New_York')).toEqual(['2026-12-07T13:00:00.000Z']);
  });

  it('at: once, in the time zone given; never again after', () => {
    expect(fires('at(2027-01-01T08:30:00)', 2)).toEqual(['2027-01-01T08:30:00.000Z']);
    expect(fires('at(2027-01-01T08:30:00)', 1, 'Europe/Paris')).toEqual(['2027-01-01T07:30:00.000Z']);
    expect(fires('at(2026-01-01T00:00:00)')).toEqual([]);
  });

  it('says what is wrong with an expression', () => {
    const error = (t: string, tz?: string): string => {
      const r = parseScheduleExpression(t, tz);
      return r.ok ? 'ok' : r.error;
    };
    expect(error('rate(0 minutes)')).toMatch(/must be 1 or more/);
    expect(error('rate(1 minutes)')).toMatch(/say minute for 1/);
    expect(error('rate(5 weeks)')).toMatch(/is not a schedule expression: use rate\(5 minutes\)/);
    expect(error('cron(0 12 * * *)')).toMatch(/has 6 fields .* this has 5/);
    expect(error('cron(0 12 * * 2 *)')).toMatch(/one of day-of-month and day-of-week must be \?/);
    expect(error('cron(0 12 ? * 9 *)')).toMatch(/day-of-week 9 is out of range/);
    expect(error('cron(0 25 * * ? *)')).toMatch(/^cron\(0 25 \* \* \? \*\): /);
    expect(error('rate(5 minutes)', 'Mars/Olympus')).toMatch(/is not a time zone/);
    expect(error('every day')).toMatch(/is not a schedule expression/);
  });

  it('writes AWS cron as croner reads it', () => {
    expect(cronerPattern('0/5 8-17 ? * MON-FRI *')).toBe('0 0-59/5 8-17 ? * MON-FRI *');
    expect(cronerPattern('0 0 ? * 2/2 *')).toBe('0 0 0 ? * 1-6/2 *');
  });
});
