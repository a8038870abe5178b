// Function logs, as CloudWatch Logs keeps them for Lambda: one entry per execution (a sync
// invocation, or one attempt of an async one) holding its START / output / END / REPORT text.
//
// Cheap on the warm path: the execution's log is handed over with its billing record
// (`billing.record(input, log)`) and only buffered; the buffer is written in one transaction
// `FLUSH_DELAY_MS` later, or at once after the current turn when `FLUSH_ENTRIES` entries or
// `FLUSH_BYTES` are waiting, and before every read. A log row in the billing transaction instead
// cost ~45 µs per invocation and doubled the pages each commit writes to the WAL (so checkpoints
// came twice as often); a batched row costs ~5 µs. The price: a crash (`kill -9`) of Fare loses
// the entries of its last `FLUSH_DELAY_MS` (billing records are not affected).
//
// Retention is bounded per function, by entries and by bytes; running totals per function make the
// check one row read, and the oldest entries are pruned 1 % below the limit at a time (at most
// `PRUNE_MAX_ROWS`), so most writes prune nothing. A deleted function's entries vanish for
// readers at once (a floor) and are deleted `SWEEP_ROWS` at a time in the background.

import type Database from 'better-sqlite3';
import { keepEnds, LOG_TEXT_MAX_BYTES, type ExecutionLog } from './log-text.ts';
import { statementCache, type Prepare } from './sql.ts';
import type { Receipt } from '../../core/receipt.ts';

export interface LogRetention {
  /** Newest entries kept per function. */
  readonly entries: number;
  /** Bytes of text kept per function (the newest entry is kept even if it alone is larger). */
  readonly bytes: number;
}

/**
 * 10,000 entries or 32 MiB per function, whichever is reached first. A function that prints a line
 * or two per call keeps its last 10,000 calls in about 3 MB; a chatty one keeps fewer calls; no
 * function can grow the database by more than 32 MiB.
 */
export const DEFAULT_LOG_RETENTION: LogRetention = { entries: 10_000, bytes: 32 * 1024 * 1024 };

/** Buffered entries are written at most this long after their execution ended (ms). */
export const FLUSH_DELAY_MS = 100;
/** …or right after the current turn once this many are waiting (a batch of 32 writes in ~0.15 ms)… */
export const FLUSH_ENTRIES = 32;
/** …or this many bytes of text. */
export const FLUSH_BYTES = 256 * 1024;
/** Most entries one prune deletes (~6 µs each); a function still over its limit is pruned again at the next write. */
export const PRUNE_MAX_ROWS = 256;
/** Entries of a deleted function deleted per background step. */
export const SWEEP_ROWS = 128;

export interface LogQuery {
  /** At most this many entries. */
  readonly limit: number;
  /** Only entries that ended at or after this time (ms since the epoch). */
  readonly since?: number;
  /** Only this request's entries (an async invocation has one per attempt). */
  readonly requestId?: string;
  /**
   * Only entries written after this cursor (an entry's `seq`), and then the **oldest** `limit` of
   * them, so a follower paging forward misses none. Without it: the newest `limit`.
   */
  readonly after?: number;
  /** Only entries whose text holds this (ASCII letters matched in either case). */
  readonly contains?: string;
  /** Only entries of executions that ended so (`error`: the function failed, timed out or crashed). */
  readonly status?: 'ok' | 'error';
}

/**
 * What the billing record of the execution says, as far as its log entry needs it. Declared here,
 * not picked from `BillingRecord`: billing hands entries to the logs (`billing.record(input, log)`),
 * so billing.ts imports this module and this one imports nothing of billing's; a `BillingRecord`
 * is one of these.
 */
export interface BilledExecution {
  /** Owner of the function (who pays). */
  readonly tenant: string;
  readonly function: string;
  /** Class charged. */
  readonly cls: string;
  readonly cpuMs: number;
  readonly costMicroCents: number;
  /** When the execution was billed (ms since the epoch). */
  readonly at: number;
}

/** An execution's stored log entry: its log and what its billing record says of it. */
export interface LogEntry extends ExecutionLog, BilledExecution {
  /** Write order, increasing, never reused: a cursor for following (`after`). */
  readonly seq: number;
  /** UTF-8 bytes of `text`. */
  readonly bytes: number;
}

export interface LogRepoOptions {
  readonly retention?: Partial<LogRetention>;
  /** A background write or delete failed (its entries are dropped). Default: a process warning. */
  readonly onError?: (e: unknown) => void;
}

/**
 * A buffered entry: the row itself, made when the entry is appended (its receipt as JSON), so that
 * nothing else of the execution (its receipt's many small objects) is kept while it waits.
 */
type Pending = Omit<LogRow, 'seq'>;

/** What a write added per function (key tenant/function). */
type Added = Map<string, { tenant: string; fn: string; entries: number; bytes: number }>;

/** A stored entry as its row. */
export interface LogRow {
  seq: number;
  tenant: string;
  function: string;
  request_id: string;
  attempt: number;
  type: 'sync' | 'async';
  version: number;
  class: string;
  status: 'ok' | 'error';
  error_type: string | null;
  duration_ms: number;
  cpu_ms: number;
  cost_uc: number;
  at: number;
  bytes: number;
  truncated: 0 | 1;
  text: string;
  /** JSON; null before migration 11, or for an entry without one. */
  receipt: string | null;
}

const toEntry = (r: LogRow): LogEntry => ({
  seq: r.seq,
  tenant: r.tenant,
  function: r.function,
  requestId: r.request_id,
  attempt: r.attempt,
  type: r.type,
  version: r.version,
  cls: r.class,
  status: r.status,
  ...(r.error_type !== null ? { errorType: r.error_type } : {}),
  durationMs: r.duration_ms,
  cpuMs: r.cpu_ms,
  costMicroCents: r.cost_uc,
  at: r.at,
  bytes: r.bytes,
  truncated: r.truncated === 1,
  text: r.text,
  ...(r.receipt !== null && r.receipt !== undefined ? { receipt: JSON.parse(r.receipt) as Receipt } : {}),
});

/** Pruning goes 1 % below a limit, so the next 1 % of writes prune nothing. */
const pruneTarget = (limit: number): number => limit - Math.ceil(limit / 100);

export class LogRepo {
  readonly #db: Database.Database;
  readonly #q: Prepare;
  readonly retention: LogRetention;
  readonly #onError: (e: unknown) => void;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Immediate | undefined;
  #sweeping: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(db: Database.Database, opts: LogRepoOptions = {}) {
    this.#db = db;
    this.#q = statementCache(db);
    this.retention = { ...DEFAULT_LOG_RETENTION, ...opts.retention };
    this.#onError = opts.onError ?? ((e) => process.emitWarning(`function logs: ${(e as Error).message} (entries dropped)`, { code: 'FARE_W_LOGS' }));
    const { entries, bytes } = this.retention;
    if (!Number.isInteger(entries) || entries < 1 || !Number.isInteger(bytes) || bytes < 1) {
      throw new Error(`log retention must be whole numbers ≥ 1, got ${entries} entries and ${bytes} bytes`);
    }
  }

  /**
   * Takes an execution's entry, to be written shortly (see the file's head); a read sees it at once.
   * Text past `LOG_TEXT_MAX_BYTES` loses its middle (`keepEnds`) and is marked truncated (`executionLog` already
   * keeps within it).
   */
  append(billed: BilledExecution, log: ExecutionLog): void {
    if (this.#closed) return;
    let { text, truncated } = log;
    let bytes = Buffer.byteLength(text);
    if (bytes > LOG_TEXT_MAX_BYTES) {
      text = keepEnds(text, LOG_TEXT_MAX_BYTES);
      bytes = Buffer.byteLength(text);
      truncated = true;
    }
    const b = billed, l = log;
    this.#pending.push({
      tenant: b.tenant, function: b.function, request_id: l.requestId, attempt: l.attempt, type: l.type, version: l.version, class: b.cls, status: l.status,
      error_type: l.errorType ?? null, duration_ms: l.durationMs, cpu_ms: b.cpuMs, cost_uc: b.costMicroCents, at: b.at, bytes, truncated: truncated ? 1 : 0, text,
      receipt: l.receipt === undefined ? null : JSON.stringify(l.receipt),
    });
    this.#pendingBytes += bytes;
    if (this.#pending.length >= FLUSH_ENTRIES || this.#pendingBytes >= FLUSH_BYTES) {
      this.#soon ??= setImmediate(() => this.flush()).unref();
    } else {
      this.#timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
    }
  }

  /**
   * Writes the buffered entries in one transaction, then prunes each function written to past its
   * limits. Entries of functions deleted meanwhile are dropped. Returns how many were written.
   */
  flush(): number {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#soon !== undefined) clearImmediate(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
    const batch = this.#pending;
    if (batch.length === 0) return 0;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      return this.#db.transaction(() => {
        const added: Added = new Map();
        for (const row of batch) this.#insert(row, added);
        return this.#account(added);
      })();
    } catch (e) {
      this.#onError(e);
      return 0;
    }
  }

  /**
   * Entries written elsewhere (another gateway of a cluster), as their rows (`seq` ignored: each
   * copy numbers its own), in the caller's transaction; kept and pruned as this copy's own. An entry
   * this copy has already — one execution (type, request id, attempt) is one entry, as the cluster's
   * log stream keys it — is skipped: a gateway restarted before it saved its position in the stream
   * reads its own last entries again.
   */
  ingest(rows: readonly Omit<LogRow, 'seq'>[]): number {
    return this.#db.transaction(() => {
      const added: Added = new Map();
      for (const r of rows) this.#insert(r, added, true);
      return this.#account(added);
    })();
  }

  /** Inserts an entry unless its function is gone (deleted meanwhile) or, `once`, the entry is here already; counts it in `added`. */
  #insert(r: Omit<LogRow, 'seq'>, added: Added, once = false): void {
    const inserted = this.#q(
      `INSERT INTO logs (tenant, function, request_id, attempt, type, version, class, status, error_type, duration_ms, cpu_ms, cost_uc, at, bytes, truncated, text, receipt)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM functions WHERE tenant = ? AND name = ?)
       AND NOT (? AND EXISTS (SELECT 1 FROM logs WHERE request_id = ? AND attempt = ? AND type = ?))`,
    ).run(
      r.tenant, r.function, r.request_id, r.attempt, r.type, r.version, r.class, r.status, r.error_type,
      r.duration_ms, r.cpu_ms, r.cost_uc, r.at, r.bytes, r.truncated, r.text, r.receipt ?? null, r.tenant, r.function,
      once ? 1 : 0, r.request_id, r.attempt, r.type,
    ).changes;
    if (inserted === 0) return;
    const key = `${r.tenant}/${r.function}`;
    const a = added.get(key) ?? { tenant: r.tenant, fn: r.function, entries: 0, bytes: 0 };
    a.entries++;
    a.bytes += r.bytes;
    added.set(key, a);
  }

  /** Adds what was inserted to each function's totals and prunes those past their limits; returns how many entries. */
  #account(added: Added): number {
    let written = 0;
    for (const a of added.values()) {
      written += a.entries;
      const t = this.#q(
        `INSERT INTO log_totals (tenant, function, entries, bytes) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant, function) DO UPDATE SET entries = entries + excluded.entries, bytes = bytes + excluded.bytes
         RETURNING entries, bytes`,
      ).get(a.tenant, a.fn, a.entries, a.bytes) as { entries: number; bytes: number };
      if (t.entries > this.retention.entries || t.bytes > this.retention.bytes) this.#prune(a.tenant, a.fn, t.entries, t.bytes);
    }
    return written;
  }

  /** Deletes the oldest entries of a function until it is 1 % under each limit it passed; keeps the newest. */
  #prune(tenant: string, fn: string, entries: number, bytes: number): void {
    const dropEntries = entries > this.retention.entries ? entries - pruneTarget(this.retention.entries) : 0;
    const dropBytes = bytes > this.retention.bytes ? bytes - pruneTarget(this.retention.bytes) : 0;
    let n = 0;
    let freed = 0;
    let cutoff: number | undefined;
    const oldest = this.#q('SELECT seq, bytes FROM logs WHERE tenant = ? AND function = ? AND seq > ? ORDER BY seq LIMIT ?')
      .iterate(tenant, fn, this.#floor(tenant, fn), Math.min(entries - 1, PRUNE_MAX_ROWS)) as IterableIterator<{ seq: number; bytes: number }>;
    for (const r of oldest) {
      if (n >= dropEntries && freed >= dropBytes) break;
      n++;
      freed += r.bytes;
      cutoff = r.seq;
    }
    if (cutoff === undefined) return;
    this.#q('DELETE FROM logs WHERE tenant = ? AND function = ? AND seq <= ?').run(tenant, fn, cutoff);
    this.#q('UPDATE log_totals SET entries = entries - ?, bytes = bytes - ? WHERE tenant = ? AND function = ?').run(n, freed, tenant, fn);
  }

  /**
   * The retention clean-up's step (retention.ts), in one transaction: the oldest stored entries (in
   * write order) up to `maxRows`, as far as they ended before `before`, are deleted and their
   * functions' totals lowered (not for a deleted function's entries, which its totals no longer
   * count). Entries still buffered are newer. Returns how many went.
   */
  expire(before: number, maxRows: number): number {
    return this.#db.transaction(() => {
      const rows = this.#q('SELECT seq, tenant, function, bytes, at FROM logs ORDER BY seq LIMIT ?')
        .all(maxRows) as { seq: number; tenant: string; function: string; bytes: number; at: number }[];
      const firstNew = rows.findIndex((r) => r.at >= before);
      const old = firstNew < 0 ? rows : rows.slice(0, firstNew);
      const last = old.at(-1);
      if (last === undefined) return 0;
      const gone: Added = new Map();
      const floors = new Map<string, number>();
      for (const r of old) {
        const key = `${r.tenant}/${r.function}`;
        let floor = floors.get(key);
        if (floor === undefined) floors.set(key, (floor = this.#floor(r.tenant, r.function)));
        if (r.seq <= floor) continue;
        const g = gone.get(key) ?? { tenant: r.tenant, fn: r.function, entries: 0, bytes: 0 };
        g.entries++;
        g.bytes += r.bytes;
        gone.set(key, g);
      }
      // The rows read are the oldest: every entry up to the last of them is one of them.
      this.#q('DELETE FROM logs WHERE seq <= ?').run(last.seq);
      for (const g of gone.values()) {
        this.#q('UPDATE log_totals SET entries = entries - ?, bytes = bytes - ? WHERE tenant = ? AND function = ?').run(g.entries, g.bytes, g.tenant, g.fn);
      }
      return old.length;
    })();
  }

  /** Entries of (tenant, fn) up to this seq belong to a deleted function (0: none). */
  #floor(tenant: string, fn: string): number {
    return (this.#q('SELECT seq FROM log_floors WHERE tenant = ? AND function = ?').get(tenant, fn) as { seq: number } | undefined)?.seq ?? 0;
  }

  /** A function's entries, oldest first (see `LogQuery` for which). */
  list(tenant: string, fn: string, q: LogQuery): LogEntry[] {
    this.flush();
    const where = ['tenant = ?', 'function = ?', 'seq > ?'];
    const args: (string | number)[] = [tenant, fn, Math.max(this.#floor(tenant, fn), q.after ?? 0)];
    // Each filter given adds its condition and its value.
    const filter = (condition: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(condition);
      args.push(value);
    };
    filter('request_id = ?', q.requestId);
    filter('at >= ?', q.since);
    filter('status = ?', q.status);
    filter('instr(lower(text), lower(?)) > 0', q.contains);
    const select = `SELECT * FROM logs WHERE ${where.join(' AND ')}`;
    const sql = q.after !== undefined ? `${select} ORDER BY seq LIMIT ?` : `SELECT * FROM (${select} ORDER BY seq DESC LIMIT ?) ORDER BY seq`;
    return (this.#q(sql).all(...args, q.limit) as LogRow[]).map(toEntry);
  }

  /**
   * The newest entries, newest first: every tenant's, or one tenant's (the dashboard's recent
   * invocations). Entries of deleted functions are left out.
   */
  recent(q: { readonly tenant?: string; readonly limit: number }): LogEntry[] {
    this.flush();
    const floor = 'seq > COALESCE((SELECT f.seq FROM log_floors f WHERE f.tenant = logs.tenant AND f.function = logs.function), 0)';
    const rows = q.tenant === undefined
      ? this.#q(`SELECT * FROM logs WHERE ${floor} ORDER BY seq DESC LIMIT ?`).all(q.limit)
      : this.#q(`SELECT * FROM logs WHERE tenant = ? AND ${floor} ORDER BY seq DESC LIMIT ?`).all(q.tenant, q.limit);
    return (rows as LogRow[]).map(toEntry);
  }

  /** The entries of one request (an async invocation has one per attempt), oldest attempt first, whoever's function it was. */
  ofRequest(requestId: string): LogEntry[] {
    this.flush();
    const rows = this.#q(
      `SELECT * FROM logs WHERE request_id = ? AND seq > COALESCE((SELECT f.seq FROM log_floors f WHERE f.tenant = logs.tenant AND f.function = logs.function), 0) ORDER BY attempt, seq`,
    ).all(requestId) as LogRow[];
    return rows.map(toEntry);
  }

  /** The newest cursor now: entries written from here on have a larger `seq`. */
  cursor(): number {
    this.flush();
    return (this.#q("SELECT seq FROM sqlite_sequence WHERE name = 'logs'").get() as { seq: number } | undefined)?.seq ?? 0;
  }

  /** Entries and bytes kept for a function. */
  totals(tenant: string, fn: string): { entries: number; bytes: number } {
    this.flush();
    return (this.#q('SELECT entries, bytes FROM log_totals WHERE tenant = ? AND function = ?').get(tenant, fn) as { entries: number; bytes: number } | undefined) ?? { entries: 0, bytes: 0 };
  }

  /**
   * The function was deleted: its entries are gone for readers now (buffered ones dropped, stored
   * ones behind a floor) and deleted in the background. Joins the caller's transaction.
   */
  deleteFunction(tenant: string, fn: string): void {
    if (this.#pending.some((p) => p.tenant === tenant && p.function === fn)) {
      this.#pending = this.#pending.filter((p) => p.tenant !== tenant || p.function !== fn);
      this.#pendingBytes = this.#pending.reduce((s, p) => s + p.bytes, 0);
    }
    this.#db.transaction(() => {
      this.#q('DELETE FROM log_totals WHERE tenant = ? AND function = ?').run(tenant, fn);
      this.#q(
        `INSERT INTO log_floors (tenant, function, seq) VALUES (?, ?, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'logs'), 0))
         ON CONFLICT (tenant, function) DO UPDATE SET seq = excluded.seq`,
      ).run(tenant, fn);
    })();
    this.sweepLater();
  }

  /** Deletes the entries of deleted functions in the background, a step per turn (called at open, and after a delete). */
  sweepLater(): void {
    if (this.#closed || this.#sweeping !== undefined) return;
    this.#sweeping = setImmediate(() => {
      this.#sweeping = undefined;
      try {
        if (this.sweepStep()) this.sweepLater();
      } catch (e) {
        this.#onError(e);
      }
    }).unref();
  }

  /** One step of the sweep: deletes up to `SWEEP_ROWS` entries of one deleted function. False when nothing is left to delete. */
  sweepStep(): boolean {
    const f = this.#q('SELECT tenant, function, seq FROM log_floors LIMIT 1').get() as { tenant: string; function: string; seq: number } | undefined;
    if (f === undefined) return false;
    const n = this.#q('DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE tenant = ? AND function = ? AND seq <= ? ORDER BY seq LIMIT ?)').run(f.tenant, f.function, f.seq, SWEEP_ROWS).changes;
    if (n < SWEEP_ROWS) this.#q('DELETE FROM log_floors WHERE tenant = ? AND function = ? AND seq = ?').run(f.tenant, f.function, f.seq);
    return true;
  }

  /** Writes what is buffered and stops the background work (a sweep resumes at the next open). */
  close(): void {
    this.flush();
    this.#closed = true;
    if (this.#sweeping !== undefined) clearImmediate(this.#sweeping);
    this.#sweeping = undefined;
  }
}
