// The durable queue of asynchronous (Event) invocations. `enqueue` returns only once the row is on
// disk (WAL: in the file with synchronous=NORMAL, fsynced with `fsync`), so the 202 that follows is a promise kept across `kill -9`. Delivery
// is at least once: rows left `running` by a crash are requeued on start-up. Each row holds its
// budget reservation (`reserved_uc`) until its attempt is billed; the repo keeps `Reservations` in step.

import type Database from 'better-sqlite3';
import type { BillingInput, BillingRepo } from './billing.ts';
import type { ExecutionLog } from './log-text.ts';
import type { Reservations } from './reservations.ts';
import { statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';

export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface NewInvocation {
  readonly id: string;
  /** Owner of the function. */
  readonly tenant: string;
  readonly function: string;
  readonly version: number;
  /** Tenant that invoked. */
  readonly caller: string;
  /** Effective class name, and its index in the price table when enqueued (claims go by index). */
  readonly cls: string;
  readonly classIndex: number;
  readonly payload: Buffer;
  readonly clientContext?: string;
  /** The published version to run (Lambda's version number, as text); absent: `$LATEST`. */
  readonly qualifier?: string;
  /** µ¢ of its owner's budget it holds until its first attempt is billed (its admission estimate). */
  readonly reservedMicroCents?: number;
  /** The trace of the request that queued it (X-Amzn-Trace-Id form, its span): each attempt continues it. */
  readonly trace?: string;
  /** The ARN it was called by, when a qualifier (version or alias) was named: its function is told this one. */
  readonly invokedArn?: string;
}

export interface Invocation extends Omit<NewInvocation, 'clientContext' | 'reservedMicroCents' | 'qualifier' | 'trace' | 'invokedArn'> {
  readonly clientContext: string | null;
  /** The ARN it was called by, with the qualifier named; null: by name alone. */
  readonly invokedArn: string | null;
  /** The trace it was queued with; null: none kept. */
  readonly trace: string | null;
  /** The published version to run; null: `$LATEST`. */
  readonly qualifier: string | null;
  /** µ¢ it holds against its owner's budget now (0 while it waits for a retry). */
  readonly reservedMicroCents: number;
  readonly status: InvocationStatus;
  /** Executions started so far (a claim increments it). */
  readonly attempts: number;
  readonly runAfter: number;
  readonly result: Buffer | null;
  readonly functionError: 'Handled' | 'Unhandled' | null;
  /** Error type reported by the function, or why the platform gave up. */
  readonly error: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

export interface Finish {
  readonly status: 'succeeded' | 'failed';
  readonly result: Buffer | null;
  readonly functionError?: 'Handled' | 'Unhandled';
  readonly error?: string;
  /** The version that ran, if it differs from the one recorded at enqueue. */
  readonly version?: number;
}

interface InvocationRow {
  seq: number;
  id: string;
  tenant: string;
  function: string;
  version: number;
  caller: string;
  class: string;
  class_index: number;
  payload: Buffer;
  client_context: string | null;
  status: InvocationStatus;
  attempts: number;
  run_after: number;
  result: Buffer | null;
  function_error: 'Handled' | 'Unhandled' | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  reserved_uc: number;
  qualifier: string | null;
  trace: string | null;
  invoked_arn: string | null;
}

const toInvocation = (r: InvocationRow): Invocation => ({
  id: r.id,
  tenant: r.tenant,
  function: r.function,
  version: r.version,
  caller: r.caller,
  cls: r.class,
  classIndex: r.class_index,
  payload: r.payload,
  clientContext: r.client_context,
  qualifier: r.qualifier ?? null,
  trace: r.trace ?? null,
  invokedArn: r.invoked_arn ?? null,
  reservedMicroCents: r.reserved_uc,
  status: r.status,
  attempts: r.attempts,
  runAfter: r.run_after,
  result: r.result,
  functionError: r.function_error,
  error: r.error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export class InvocationRepo {
  readonly #db: Database.Database;
  readonly #q: Prepare;
  readonly #clock: Clock;
  readonly #billing: BillingRepo;
  readonly #reservations: Reservations;

  constructor(db: Database.Database, clock: Clock, billing: BillingRepo, reservations: Reservations) {
    this.#db = db;
    this.#q = statementCache(db);
    this.#clock = clock;
    this.#billing = billing;
    this.#reservations = reservations;
  }

  /** Durably queues an invocation, with its reservation; on return it survives a crash. */
  enqueue(n: NewInvocation): Invocation {
    // A durable write takes the billing records still waiting with it (billing.ts: defer).
    this.#billing.flush();
    this.#insert(n);
    return this.get(n.id) as Invocation;
  }

  #insert(n: NewInvocation): void {
    const now = this.#clock();
    const reserved = Math.max(0, n.reservedMicroCents ?? 0);
    this.#q(
      `INSERT INTO invocations (id, tenant, function, version, caller, class, class_index, payload, client_context, status, attempts, run_after, created_at, reserved_uc, qualifier, trace, invoked_arn)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)`,
    ).run(n.id, n.tenant, n.function, n.version, n.caller, n.cls, n.classIndex, n.payload, n.clientContext ?? null, now, now, reserved, n.qualifier ?? null, n.trace ?? null, n.invokedArn ?? null);
    this.#reservations.add(n.tenant, reserved);
  }

  /**
   * Sets what a running invocation holds against its owner's budget (its claim was admitted with
   * this estimate), and the class it runs at if that changed (degraded). False if it is not running.
   */
  reserve(id: string, uc: number, cls?: { name: string; index: number }): boolean {
    const held = this.#held(id);
    if (held === undefined) return false;
    const next = Math.max(0, uc);
    this.#q(`UPDATE invocations SET reserved_uc = ?, class = COALESCE(?, class), class_index = COALESCE(?, class_index) WHERE id = ?`).run(next, cls?.name ?? null, cls?.index ?? null, id);
    this.#reservations.remove(held.tenant, held.reserved_uc);
    this.#reservations.add(held.tenant, next);
    return true;
  }

  /** Rebuilds the reservation ledger from the rows still queued or running (at open). */
  loadReservations(): void {
    this.#reservations.load(
      this.#q(
        `SELECT tenant, SUM(reserved_uc) AS uc, COUNT(*) AS n FROM invocations
         WHERE status IN ('queued', 'running') AND reserved_uc > 0 GROUP BY tenant`,
      ).all() as { tenant: string; uc: number; n: number }[],
    );
  }

  #held(id: string): { tenant: string; reserved_uc: number } | undefined {
    return this.#q("SELECT tenant, reserved_uc FROM invocations WHERE id = ? AND status = 'running'").get(id) as { tenant: string; reserved_uc: number } | undefined;
  }

  get(id: string): Invocation | undefined {
    const r = this.#q('SELECT * FROM invocations WHERE id = ?').get(id) as InvocationRow | undefined;
    return r === undefined ? undefined : toInvocation(r);
  }

  /**
   * Takes the next runnable invocation — highest class first (lowest index), then oldest — marks it
   * running and counts the attempt. Undefined when none is runnable now.
   */
  claim(): Invocation | undefined {
    const now = this.#clock();
    const r = this.#q(
      `UPDATE invocations SET status = 'running', attempts = attempts + 1, started_at = ?
       WHERE seq = (SELECT seq FROM invocations WHERE status = 'queued' AND run_after <= ? ORDER BY class_index, seq LIMIT 1)
       RETURNING *`,
    ).get(now, now) as InvocationRow | undefined;
    return r === undefined ? undefined : toInvocation(r);
  }

  /**
   * Completes a running invocation and, in the same transaction, writes the billing record of the
   * attempt (if it ran), handing over its log entry, and queues `then` (its destination's Event); its reservation goes. False if the row was not
   * running (already finished by another path).
   */
  finish(id: string, f: Finish, billing?: BillingInput, log?: ExecutionLog, then?: NewInvocation): boolean {
    const held = this.#db.transaction(() => {
      const h = this.#held(id);
      if (h === undefined) return undefined;
      this.#q(
        `UPDATE invocations SET status = ?, result = ?, function_error = ?, error = ?, finished_at = ?, version = COALESCE(?, version), reserved_uc = 0
         WHERE id = ?`,
      ).run(f.status, f.result, f.functionError ?? null, f.error ?? null, this.#clock(), f.version ?? null, id);
      if (billing !== undefined) this.#billing.record(billing, log);
      // The invocation its outcome leads to (a destination), queued with it: both or neither.
      if (then !== undefined) this.#insert(then);
      return h;
    })();
    if (held === undefined) return false;
    this.#reservations.remove(held.tenant, held.reserved_uc);
    return true;
  }

  /**
   * Puts a running invocation back in the queue, runnable from `runAfter`, billing (and logging) the
   * attempt that just failed (if it ran). `refundAttempt`: the attempt did not run (the platform was
   * throttled). Its reservation goes (its next claim is admitted afresh) unless `keepReservation`
   * (the attempt did not run and the invocation keeps its place in the budget).
   */
  retry(id: string, runAfter: number, opts: { billing?: BillingInput; log?: ExecutionLog; refundAttempt?: boolean; keepReservation?: boolean; error?: string } = {}): boolean {
    const keep = opts.keepReservation === true;
    const held = this.#db.transaction(() => {
      const h = this.#held(id);
      if (h === undefined) return undefined;
      this.#q(
        `UPDATE invocations SET status = 'queued', run_after = ?, attempts = attempts - ?, error = ?, reserved_uc = CASE WHEN ? THEN reserved_uc ELSE 0 END
         WHERE id = ?`,
      ).run(runAfter, opts.refundAttempt === true ? 1 : 0, opts.error ?? null, keep ? 1 : 0, id);
      if (opts.billing !== undefined) this.#billing.record(opts.billing, opts.log);
      return h;
    })();
    if (held === undefined) return false;
    if (!keep) this.#reservations.remove(held.tenant, held.reserved_uc);
    return true;
  }

  /**
   * Takes an invocation handed over by another part (a cluster gateway's shared queue): writes it
   * here as queued with the attempts, backoff and reservation it carries (replacing what this
   * store had of it, unless that is finished), then claims it as `claim` does. Undefined if it
   * is finished here already. `quietly` runs the write of the handed-over copy (a cluster gateway
   * does not share it again).
   */
  adopt(inv: Invocation, quietly: (write: () => void) => void = (w) => w()): Invocation | undefined {
    const cur = this.get(inv.id);
    if (cur?.status === 'succeeded' || cur?.status === 'failed') return undefined;
    return this.#db.transaction(() => {
      quietly(() => {
        this.#q(
          `INSERT INTO invocations (id, tenant, function, version, caller, class, class_index, payload, client_context, status, attempts, run_after, created_at, reserved_uc, error, trace, qualifier, invoked_arn)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, class = excluded.class, class_index = excluded.class_index, status = 'queued',
             payload = excluded.payload, client_context = excluded.client_context, trace = excluded.trace,
             attempts = excluded.attempts, run_after = excluded.run_after, reserved_uc = excluded.reserved_uc, error = excluded.error,
             qualifier = excluded.qualifier, invoked_arn = excluded.invoked_arn`,
        ).run(inv.id, inv.tenant, inv.function, inv.version, inv.caller, inv.cls, inv.classIndex, inv.payload, inv.clientContext, inv.attempts, inv.runAfter, inv.createdAt, inv.reservedMicroCents, inv.error, inv.trace, inv.qualifier, inv.invokedArn);
      });
      const r = this.#q(
        `UPDATE invocations SET status = 'running', attempts = attempts + 1, started_at = ? WHERE id = ? AND status = 'queued' RETURNING *`,
      ).get(this.#clock(), inv.id) as InvocationRow | undefined;
      if (r === undefined) return undefined;
      // What this store held for its earlier copy (queued here when accepted here) gives way to the copy's.
      if (cur !== undefined) this.#reservations.remove(cur.tenant, cur.reservedMicroCents);
      this.#reservations.add(r.tenant, r.reserved_uc);
      return toInvocation(r);
    })();
  }

  /** Start-up recovery: everything left `running` by a crash is queued again. Returns how many. */
  requeueRunning(): number {
    return this.#q("UPDATE invocations SET status = 'queued', run_after = ? WHERE status = 'running'").run(this.#clock()).changes;
  }

  /**
   * Makes the oldest queued invocation of a function that waits after a refusal for its concurrency
   * limit (its `error` is `throttled: <reason>`) due now: a call of that function just ended, so it
   * has a place. Returns whether there was one.
   */
  expedite(tenant: string, fn: string, reason: string): boolean {
    const now = this.#clock();
    return this.#q(
      `UPDATE invocations SET run_after = ?
       WHERE seq = (SELECT seq FROM invocations WHERE tenant = ? AND function = ? AND status = 'queued' AND error = ? AND run_after > ? ORDER BY seq LIMIT 1)`,
    ).run(now, tenant, fn, `throttled: ${reason}`, now).changes === 1;
  }

  /** Earliest time a queued invocation becomes runnable (undefined: the queue is empty). */
  nextRunAfter(): number | undefined {
    const r = this.#q("SELECT MIN(run_after) AS t FROM invocations WHERE status = 'queued'").get() as { t: number | null };
    return r.t ?? undefined;
  }

  counts(): Record<InvocationStatus, number> {
    const out: Record<InvocationStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0 };
    for (const r of this.#q('SELECT status, COUNT(*) AS n FROM invocations GROUP BY status').all() as { status: InvocationStatus; n: number }[]) {
      out[r.status] = r.n;
    }
    return out;
  }

  /** Deletes finished invocations older than `before` (ms); their billing records stay. */
  purgeFinished(before: number): number {
    return this.#q("DELETE FROM invocations WHERE status IN ('succeeded', 'failed') AND finished_at < ?").run(before).changes;
  }

  /**
   * The retention clean-up's step (retention.ts), in one transaction: of the `maxRows` oldest
   * invocations after `cursor` (a `seq`), those that finished before `before` are deleted (their
   * billing records stay); queued and running ones are kept. `more`: there may be older ones past
   * `cursor`, the seq to go on from (an invocation accepted at or after `before` ends the sweep:
   * none after it can have finished before).
   */
  expire(before: number, maxRows: number, cursor = 0): { deleted: number; cursor: number; more: boolean } {
    return this.#db.transaction(() => {
      const rows = this.#q('SELECT seq, status, created_at, finished_at FROM invocations WHERE seq > ? ORDER BY seq LIMIT ?')
        .all(cursor, maxRows) as { seq: number; status: InvocationStatus; created_at: number; finished_at: number | null }[];
      let deleted = 0;
      let next = cursor;
      for (const r of rows) {
        if (r.created_at >= before) return { deleted, cursor: next, more: false };
        next = r.seq;
        if (r.status !== 'succeeded' && r.status !== 'failed') continue;
        if (r.finished_at === null || r.finished_at >= before) continue;
        deleted += this.#q('DELETE FROM invocations WHERE seq = ?').run(r.seq).changes;
      }
      return { deleted, cursor: next, more: rows.length === maxRows };
    })();
  }
}
