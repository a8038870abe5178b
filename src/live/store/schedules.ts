// Schedules (EventBridge Scheduler's): a tenant's named schedule, in a group, invokes a function as
// an Event at the times its expression names. Each row keeps when it fires next (`nextFireAt`), so
// the gateway that fires schedules (gateway/schedule-runner.ts) finds what is due with one indexed
// query, and a firing — its invocation queued and its next time — is one transaction.

import type Database from 'better-sqlite3';
import { statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';

export type ScheduleState = 'ENABLED' | 'DISABLED';

/** What a schedule is told to do, as EventBridge Scheduler's API says it (Target, FlexibleTimeWindow: JSON as given). */
export interface ScheduleSettings {
  readonly expression: string;
  readonly timezone: string;
  readonly description: string;
  readonly state: ScheduleState;
  readonly startAt: number | null;
  readonly endAt: number | null;
  readonly flexible: Readonly<Record<string, unknown>>;
  readonly target: Readonly<Record<string, unknown>> & { readonly Arn: string };
  readonly afterDone: 'NONE' | 'DELETE';
}

export interface Schedule extends ScheduleSettings {
  readonly tenant: string;
  readonly group: string;
  readonly name: string;
  readonly anchorAt: number;
  readonly nextFireAt: number | null;
  readonly lastFiredAt: number | null;
  readonly lastOutcome: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface Row {
  tenant: string;
  grp: string;
  name: string;
  expression: string;
  timezone: string;
  description: string;
  state: ScheduleState;
  start_at: number | null;
  end_at: number | null;
  flexible: string;
  target: string;
  after_done: 'NONE' | 'DELETE';
  anchor_at: number;
  next_fire_at: number | null;
  last_fired_at: number | null;
  last_outcome: string | null;
  created_at: number;
  updated_at: number;
}

const of = (r: Row): Schedule => ({
  tenant: r.tenant,
  group: r.grp,
  name: r.name,
  expression: r.expression,
  timezone: r.timezone,
  description: r.description,
  state: r.state,
  startAt: r.start_at,
  endAt: r.end_at,
  flexible: JSON.parse(r.flexible) as Record<string, unknown>,
  target: JSON.parse(r.target) as Schedule['target'],
  afterDone: r.after_done,
  anchorAt: r.anchor_at,
  nextFireAt: r.next_fire_at,
  lastFiredAt: r.last_fired_at,
  lastOutcome: r.last_outcome,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const settingsRow = (s: ScheduleSettings): Pick<Row, 'expression' | 'timezone' | 'description' | 'state' | 'start_at' | 'end_at' | 'flexible' | 'target' | 'after_done'> => ({
  expression: s.expression,
  timezone: s.timezone,
  description: s.description,
  state: s.state,
  start_at: s.startAt,
  end_at: s.endAt,
  flexible: JSON.stringify(s.flexible),
  target: JSON.stringify(s.target),
  after_done: s.afterDone,
});

export class ScheduleRepo {
  readonly #db: Database.Database;
  readonly #q: Prepare;
  readonly #clock: Clock;

  constructor(db: Database.Database, clock: Clock) {
    this.#db = db;
    this.#q = statementCache(db);
    this.#clock = clock;
  }

  get(tenant: string, group: string, name: string): Schedule | undefined {
    const r = this.#q('SELECT * FROM schedules WHERE tenant = ? AND grp = ? AND name = ?').get(tenant, group, name) as Row | undefined;
    return r === undefined ? undefined : of(r);
  }

  /** A tenant's schedules by group and name, from after (`group\0name`) on, at most `limit`. */
  list(tenant: string, opts: { group?: string; prefix?: string; state?: ScheduleState; after?: string; limit: number }): Schedule[] {
    const rows = this.#q(
      `SELECT * FROM schedules WHERE tenant = @tenant AND (@grp IS NULL OR grp = @grp) AND (@state IS NULL OR state = @state)
         AND (@prefix IS NULL OR substr(name, 1, length(@prefix)) = @prefix) AND (@after IS NULL OR grp || char(0) || name > @after)
       ORDER BY grp, name LIMIT @limit`,
    ).all({ tenant, grp: opts.group ?? null, state: opts.state ?? null, prefix: opts.prefix ?? null, after: opts.after ?? null, limit: opts.limit }) as Row[];
    return rows.map(of);
  }

  /** Makes the schedule, first firing at `nextFireAt`; undefined if the tenant has one of that name in that group. */
  create(tenant: string, group: string, name: string, s: ScheduleSettings, anchorAt: number, nextFireAt: number | null): Schedule | undefined {
    const now = this.#clock();
    const row: Row = { tenant, grp: group, name, ...settingsRow(s), anchor_at: anchorAt, next_fire_at: nextFireAt, last_fired_at: null, last_outcome: null, created_at: now, updated_at: now };
    const n = this.#q(
      `INSERT INTO schedules (tenant, grp, name, expression, timezone, description, state, start_at, end_at, flexible, target, after_done, anchor_at, next_fire_at, last_fired_at, last_outcome, created_at, updated_at)
       VALUES (@tenant, @grp, @name, @expression, @timezone, @description, @state, @start_at, @end_at, @flexible, @target, @after_done, @anchor_at, @next_fire_at, @last_fired_at, @last_outcome, @created_at, @updated_at)
       ON CONFLICT DO NOTHING`,
    ).run(row).changes;
    return n === 1 ? of(row) : undefined;
  }

  /** Replaces what the schedule does (UpdateSchedule replaces it whole); undefined if there is none. */
  replace(tenant: string, group: string, name: string, s: ScheduleSettings, anchorAt: number, nextFireAt: number | null): Schedule | undefined {
    const n = this.#q(
      `UPDATE schedules SET expression = @expression, timezone = @timezone, description = @description, state = @state, start_at = @start_at,
         end_at = @end_at, flexible = @flexible, target = @target, after_done = @after_done, anchor_at = @anchor_at, next_fire_at = @next_fire_at,
         updated_at = @updated_at WHERE tenant = @tenant AND grp = @grp AND name = @name`,
    ).run({ tenant, grp: group, name, ...settingsRow(s), anchor_at: anchorAt, next_fire_at: nextFireAt, updated_at: this.#clock() }).changes;
    return n === 1 ? this.get(tenant, group, name) : undefined;
  }

  delete(tenant: string, group: string, name: string): boolean {
    return this.#q('DELETE FROM schedules WHERE tenant = ? AND grp = ? AND name = ?').run(tenant, group, name).changes === 1;
  }

  /** How many schedules `tenant` has. */
  count(tenant: string): number {
    return (this.#q('SELECT COUNT(*) AS n FROM schedules WHERE tenant = ?').get(tenant) as { n: number }).n;
  }

  /** Enabled schedules due at `now` (their next firing is not later), earliest first. */
  due(now: number, limit = 100): Schedule[] {
    return (this.#q("SELECT * FROM schedules WHERE state = 'ENABLED' AND next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?").all(now, limit) as Row[]).map(of);
  }

  /** When the first enabled schedule fires next (ms), or undefined. */
  earliest(): number | undefined {
    const r = this.#q("SELECT MIN(next_fire_at) AS t FROM schedules WHERE state = 'ENABLED' AND next_fire_at IS NOT NULL").get() as { t: number | null };
    return r.t ?? undefined;
  }

  /**
   * The schedule fired for its time `firedAt` (what it did: `outcome`), and fires next at `next`
   * (null: never again; `remove`: it is deleted, as ActionAfterCompletion DELETE asks) — unless it
   * changed meanwhile (its `updatedAt` is no longer `seen`). Joins the caller's transaction.
   */
  fired(s: Schedule, firedAt: number, outcome: string, next: number | null, remove: boolean): void {
    if (remove) {
      this.#q('DELETE FROM schedules WHERE tenant = ? AND grp = ? AND name = ? AND updated_at = ?').run(s.tenant, s.group, s.name, s.updatedAt);
      return;
    }
    this.#q('UPDATE schedules SET last_fired_at = ?, last_outcome = ?, next_fire_at = ? WHERE tenant = ? AND grp = ? AND name = ? AND updated_at = ?')
      .run(firedAt, outcome, next, s.tenant, s.group, s.name, s.updatedAt);
  }

  /** Runs `fn` in one transaction (a firing: its invocation and its schedule's next time together). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }
}
