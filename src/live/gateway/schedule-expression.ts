// EventBridge Scheduler's schedule expressions, read as AWS reads them, and when each fires next:
// `rate(5 minutes)` (every so long from the schedule's start), `cron(0 12 * * ? *)` (AWS's six
// fields: minutes hours day-of-month month day-of-week year; one of the two day fields `?`;
// `L`, `W`, `#`; days of the week 1-7 from Sunday or SUN-SAT), `at(2027-01-01T08:30:00)` (once).
// Cron and at are read in the schedule's time zone (IANA, default UTC). Cron expressions are
// evaluated by croner (a well-kept, dependency-free cron library with time zones), given the
// expression translated from AWS's dialect to its own.

import { Cron } from 'croner';

export type ScheduleExpression =
  | { readonly kind: 'rate'; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly cron: Cron }
  | { readonly kind: 'at'; readonly atMs: number };

const UNITS: Readonly<Record<string, number>> = { minute: 60_000, minutes: 60_000, hour: 3_600_000, hours: 3_600_000, day: 86_400_000, days: 86_400_000 };
const RATE = /^rate\((\d+) (minutes?|hours?|days?)\)$/;
const CRON = /^cron\((.*)\)$/;
const AT = /^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$/;

/** Whether `tz` is an IANA time zone this machine knows. */
export function knownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Reads an expression in time zone `tz` (IANA), or says what is wrong with it. */
export function parseScheduleExpression(text: string, tz = 'UTC'): { ok: true; expr: ScheduleExpression } | { ok: false; error: string } {
  if (!knownTimeZone(tz)) return { ok: false, error: `ScheduleExpressionTimezone ${JSON.stringify(tz)} is not a time zone: give an IANA name such as UTC or Europe/Paris` };
  const rate = RATE.exec(text);
  if (rate !== null) {
    const n = Number(rate[1]);
    const unit = rate[2] as string;
    if (n < 1) return { ok: false, error: `rate(${n} ${unit}): the value must be 1 or more` };
    if ((n === 1) !== !unit.endsWith('s')) return { ok: false, error: `rate(${n} ${unit}): say ${n === 1 ? unit.replace(/s$/, '') : `${unit}s`} for ${n}, as AWS requires` };
    return { ok: true, expr: { kind: 'rate', everyMs: n * (UNITS[unit] as number) } };
  }
  const at = AT.exec(text);
  if (at !== null) {
    let next: Date | null;
    try {
      next = new Cron(at[1] as string, { paused: true, timezone: tz }).nextRun(new Date(0));
    } catch (e) {
      return { ok: false, error: `${text}: ${(e as Error).message}` };
    }
    if (next === null) return { ok: false, error: `${text} is not a time` };
    return { ok: true, expr: { kind: 'at', atMs: next.getTime() } };
  }
  const cron = CRON.exec(text);
  if (cron !== null) {
    const pattern = cronerPattern(cron[1] as string);
    if (typeof pattern !== 'string') return { ok: false, error: `${text}: ${pattern.error}` };
    try {
      const c = new Cron(pattern, { paused: true, timezone: tz });
      return { ok: true, expr: { kind: 'cron', cron: c } };
    } catch (e) {
      return { ok: false, error: `${text}: ${(e as Error).message}` };
    }
  }
  return { ok: false, error: `${JSON.stringify(text)} is not a schedule expression: use rate(5 minutes), cron(0 12 * * ? *) or at(2027-01-01T08:30:00)` };
}

/**
 * When the schedule fires first strictly after `afterMs`: for a rate, on the grid `anchorMs` +
 * k × its interval (k ≥ 1: the first an interval after the start); undefined when it never will
 * again (an at() that has passed, a cron with no more years).
 */
export function nextFire(e: ScheduleExpression, afterMs: number, anchorMs: number): number | undefined {
  switch (e.kind) {
    case 'rate': {
      const k = Math.max(1, Math.floor((afterMs - anchorMs) / e.everyMs) + 1);
      return anchorMs + k * e.everyMs;
    }
    case 'at':
      return e.atMs > afterMs ? e.atMs : undefined;
    case 'cron':
      return e.cron.nextRun(new Date(afterMs))?.getTime() ?? undefined;
    default: {
      const never: never = e;
      throw new Error(`unknown expression ${JSON.stringify(never)}`);
    }
  }
}

/** Highest value of each AWS cron field, for `N/step` (which croner writes `N-max/step`). */
const FIELD_MAX = [59, 23, 31, 12, 7, 2199];
const FIELD_NAMES = ['minutes', 'hours', 'day-of-month', 'month', 'day-of-week', 'year'];

/**
 * AWS's six cron fields as croner's seven (seconds first): `N/step` becomes `N-max/step`, and days of
 * the week, 1-7 from Sunday in AWS, become croner's 0-6 from Sunday.
 */
export function cronerPattern(aws: string): string | { error: string } {
  const f = aws.trim().split(/\s+/);
  if (f.length !== 6) return { error: `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this has ${f.length}` };
  const [, , dom, , dow] = f as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) return { error: 'one of day-of-month and day-of-week must be ?, and only one' };
  const out: string[] = [];
  for (let i = 0; i < 6; i++) {
    const items: string[] = [];
    for (const item of (f[i] as string).split(',')) {
      let it = item;
      const step = /^(\d+)\/(\d+)$/.exec(it);
      if (step !== null) it = `${step[1]}-${FIELD_MAX[i]}/${step[2]}`;
      if (i === 4) {
        // Days 1-7 (SUN-SAT) to 0-6: the number an item starts with and one after a dash (`2`,
        // `2-6`, `2-7/2`, `6L`, `2#1`); names, `*`, steps and `#k` stay.
        let wrong: string | undefined;
        it = it.replace(/^\d+|(?<=-)\d+/g, (d) => {
          const n = Number(d);
          if (n < 1 || n > 7) wrong = d;
          return String(n - 1);
        });
        if (wrong !== undefined) return { error: `day-of-week ${wrong} is out of range: 1-7 (1 is Sunday) or SUN-SAT` };
      }
      items.push(it);
    }
    const field = items.join(',');
    if (field === '') return { error: `the ${FIELD_NAMES[i] ?? ''} field is empty` };
    out.push(field);
  }
  return `0 ${out.join(' ')}`;
}
