// Fires the schedules (schedules-api.ts): at each schedule's time, its target function is invoked
// as an Event with the schedule's Input, admitted against the function owner's budget like any
// Event, at the function's class. A firing is one transaction — the invocation queued and the
// schedule's next time — and the invocation's id is derived from the schedule and the time it fires
// for, so a firing repeated (a crash between the two, a second gateway) queues nothing twice.
//
// Times missed while Fare was not running are not made up one by one: the latest of them fires once,
// if it is younger than the target's RetryPolicy.MaximumEventAgeInSeconds (default 24 h), as a late
// delivery would; older ones are skipped, and the schedule's last outcome says so. The runner sleeps
// until the next schedule is due, and looks again at least every `pollMs` (in a cluster, schedules
// made through another gateway arrive through the shared state) and when told of a change (`poke`).

import type { NewInvocation, Schedule } from '../store/index.ts';
import { classIndex } from '../../core/classes.ts';
import type { GatewayContext } from './context.ts';
import { ApiError } from './errors.ts';
import { parseFunctionRef } from './function-ref.ts';
import { admitOrThrow } from './invoke-sync.ts';
import { derivedRequestId } from './request-id.ts';
import { nextFire, parseScheduleExpression } from './schedule-expression.ts';
import { formatAmznTraceId, startTrace } from './trace.ts';

/** How old a missed firing may be and still fire, by default (EventBridge Scheduler's default MaximumEventAgeInSeconds). */
export const DEFAULT_SCHEDULE_MAX_AGE_S = 86_400;
/** A schedule's missed times are counted up to this many (then the latest is found from there). */
const MAX_MISSED_STEPS = 100_000;

type Timing = Pick<Schedule, 'expression' | 'timezone' | 'anchorAt' | 'endAt' | 'startAt'>;

/** When `s` fires next after a time, within its start and end dates (null: never again); its expression read once. */
function firesOf(s: Timing): (afterMs: number) => number | null {
  const p = parseScheduleExpression(s.expression, s.timezone);
  if (!p.ok) return () => null;
  return (afterMs) => {
    const from = s.startAt !== null ? Math.max(afterMs, s.startAt - 1) : afterMs;
    const t = nextFire(p.expr, from, s.anchorAt);
    return t === undefined || (s.endAt !== null && t > s.endAt) ? null : t;
  };
}

/** When `s` fires next after `afterMs`, within its start and end dates; null: never again. */
export function nextFireOf(s: Timing, afterMs: number): number | null {
  return firesOf(s)(afterMs);
}

export interface ScheduleRunnerOptions {
  /** Look for due schedules at least this often (ms; default 30 s). */
  readonly pollMs?: number;
}

export class ScheduleRunner {
  readonly #ctx: GatewayContext;
  readonly #pollMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(ctx: GatewayContext, opts: ScheduleRunnerOptions = {}) {
    this.#ctx = ctx;
    this.#pollMs = opts.pollMs ?? 30_000;
  }

  /** Fires what is due now, then sleeps until the next is due. */
  start(): void {
    this.#wake();
  }

  /** A schedule changed: look again now. */
  poke(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#wake(), 0);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #wake(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    try {
      this.runDue();
    } catch (e) {
      this.#ctx.log?.error({ kind: 'schedules', err: e }, 'firing schedules failed; trying again at the next look');
    }
    const next = this.#ctx.store.schedules.earliest();
    const wait = next === undefined ? this.#pollMs : Math.min(this.#pollMs, Math.max(0, next - this.#ctx.clock()));
    this.#timer = setTimeout(() => this.#wake(), wait);
    this.#timer.unref();
  }

  /** Fires every schedule due now; returns how many it looked at. */
  runDue(): number {
    const now = this.#ctx.clock();
    let n = 0;
    for (;;) {
      const due = this.#ctx.store.schedules.due(now);
      for (const s of due) this.fire(s, now);
      n += due.length;
      if (due.length < 100) return n;
    }
  }

  /** Fires `s` for the latest of its times up to `now` (see the file's head), and sets its next. */
  fire(s: Schedule, now: number): void {
    const store = this.#ctx.store;
    const fires = firesOf(s);
    let t = s.nextFireAt as number;
    let missed = 0;
    for (let i = 0; i < MAX_MISSED_STEPS; i++) {
      const after = fires(t);
      if (after === null || after > now) break;
      t = after;
      missed++;
    }
    const next = fires(Math.max(t, now));
    const maxAgeS = typeof s.target.RetryPolicy === 'object' && s.target.RetryPolicy !== null ? Number((s.target.RetryPolicy as Record<string, unknown>).MaximumEventAgeInSeconds ?? DEFAULT_SCHEDULE_MAX_AGE_S) : DEFAULT_SCHEDULE_MAX_AGE_S;
    const skipped = missed > 0 ? `; ${missed} earlier time(s) missed while Fare was not running` : '';
    let outcome: string;
    if (now - t > maxAgeS * 1000) {
      outcome = `skipped: its time ${new Date(t).toISOString()} passed more than ${maxAgeS} s ago while Fare was not running (RetryPolicy.MaximumEventAgeInSeconds)${skipped}`;
    } else {
      const r = this.#invocation(s, t);
      if (typeof r === 'string') {
        outcome = `skipped: ${r}${skipped}`;
      } else {
        outcome = `queued ${r.id}${skipped}`;
        const queued = store.schedules.transaction(() => {
          // Fired already for this time (a crash after the invocation, or another gateway): once only;
          // the schedule moves on all the same.
          const inv = store.invocations.get(r.id) !== undefined ? undefined : store.invocations.enqueue(r);
          store.schedules.fired(s, t, outcome, next, s.afterDone === 'DELETE' && next === null);
          return inv;
        });
        if (queued === undefined) return;
        try {
          this.#ctx.platform.enqueued(queued);
        } catch {
          // Queued durably: the platform finds it when it next claims.
        }
        this.#ctx.log?.info({ kind: 'schedule', tenant: s.tenant, group: s.group, name: s.name, firedFor: new Date(t).toISOString(), id: r.id }, 'schedule fired');
        return;
      }
    }
    store.schedules.fired(s, t, outcome, next, s.afterDone === 'DELETE' && next === null);
    this.#ctx.log?.warn({ kind: 'schedule', tenant: s.tenant, group: s.group, name: s.name, firedFor: new Date(t).toISOString(), outcome }, 'schedule did not fire');
  }

  /** The Event invocation of `s`'s target for time `t`, or why there is none. */
  #invocation(s: Schedule, t: number): NewInvocation | string {
    const ctx = this.#ctx;
    const ref = parseFunctionRef(s.target.Arn);
    if (ref === undefined) return `its target ${s.target.Arn} is not a function's ARN`;
    const owner = ref.owner ?? s.tenant;
    if (!ctx.store.grants.allows(owner, ref.name, s.tenant)) return `tenant ${s.tenant} may not invoke ${s.target.Arn} (its owner must grant it)`;
    const latest = ctx.store.functions.get(owner, ref.name);
    const target = latest === undefined ? undefined : ctx.store.versions.resolve(owner, ref.name, ref.qualifier, () => latest, ctx.draw());
    if (target === undefined) return `its target ${s.target.Arn} does not exist`;
    const cls = classIndex(ctx.platform.prices, target.fn.cls);
    if (cls === undefined) return `its target's class ${target.fn.cls} is not in the price table`;
    let admitted;
    try {
      admitted = admitOrThrow(ctx, target.fn, cls);
    } catch (e) {
      if (e instanceof ApiError) return `its target's owner ${owner} is over budget (${e.message})`;
      throw e;
    }
    const input = typeof s.target.Input === 'string' ? s.target.Input : '{}';
    return {
      id: derivedRequestId(t, `schedule\0${s.tenant}\0${s.group}\0${s.name}\0${s.createdAt}\0${t}`),
      tenant: owner,
      function: ref.name,
      version: target.fn.version,
      caller: s.tenant,
      cls: admitted.clsName,
      classIndex: admitted.cls,
      payload: Buffer.from(input),
      ...(target.fn.published !== undefined ? { qualifier: String(target.fn.published) } : {}),
      ...(ref.qualifier !== undefined ? { invokedArn: s.target.Arn } : {}),
      reservedMicroCents: admitted.reserve,
      trace: formatAmznTraceId(startTrace({}, undefined, t)),
    };
  }
}
