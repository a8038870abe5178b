// Billing: one record per execution (a sync invocation, or one attempt of an async one), priced at
// the class it was charged, and the aggregates bills are made of. A running monthly total per tenant
// is kept in the same transaction as each record, so a budget check reads one row. The execution's
// log entry, if given, is handed to the logs here (which write it in a batch shortly after), and its
// resource use to the cost history that admission estimates from. Records past the retention are
// summed per hour into `usage_hourly` and deleted (`expire`); bills read both.
//
// A synchronous invocation's record is written in a batch (`defer`), after its answer: one commit
// per batch instead of one per invocation (a commit wrote 6 pages, ≈ 24 KB of write-ahead log, and
// cost ≈ 0.1 ms of the warm path). A batch is written `FLUSH_DELAY_MS` after its first record, at
// once after the current turn when `FLUSH_ENTRIES` wait, with any durable write that comes first (an
// Event accepted), and before every read but budget checks, which count waiting records
// (`tenantMonth`); the logs' buffered entries go in the same transaction. The price: a crash
// (`kill -9`) loses the records of the synchronous invocations of its last 10 ms that no later
// durable write took along (their callers had their answers; as before, the record of an invocation
// whose instance had not yet parked — 10 ms after its answer — was lost too). An Event's record is
// written with its result, in that transaction (`record`), and never deferred.

import type Database from 'better-sqlite3';
import { costOf } from '../../core/classes.ts';
import type { CostHistory } from './cost-history.ts';
import { decodePartials, encodePartials, ExactSum } from './exact-sum.ts';
import type { ExecutionLog } from './log-text.ts';
import { FLUSH_ENTRIES, type LogRepo } from './logs.ts';
import { monthOf, statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

export interface BillingInput {
  /** Unique per execution: the request id (sync) or `<invocation id>#<attempt>` (async). */
  readonly id: string;
  readonly invocationId: string;
  /** Who pays: the function's owner. */
  readonly tenant: string;
  readonly function: string;
  /** Tenant that invoked (the owner itself, or a grantee). */
  readonly caller: string;
  /** Class charged (the effective class: after inheritance and budget degradation). */
  readonly cls: string;
  readonly cpuMs: number;
  readonly memGBs: number;
  /** µ¢ per CPU-second of `cls` (with `memoryPrice`: the core's `ratesFor`, core/classes.ts). */
  readonly price: number;
  /** µ¢ per GB-second of memory. */
  readonly memoryPrice: number;
  /** Defaults to the store's clock. */
  readonly at?: number;
}

export interface BillingRecord extends Required<BillingInput> {
  readonly costMicroCents: number;
  /** `YYYY-MM`, UTC. */
  readonly month: string;
}

export interface Usage {
  readonly invocations: number;
  readonly cpuMs: number;
  readonly memGBs: number;
  readonly costMicroCents: number;
}

export interface ClassUsage extends Usage {
  readonly cls: string;
}

export interface FunctionUsage extends Usage {
  readonly function: string;
  /** The same function can be charged at several classes (inheritance, degradation). */
  readonly classes: readonly ClassUsage[];
}

export interface TenantUsage extends Usage {
  readonly tenant: string;
}

export interface MonthUsage extends Usage {
  readonly month: string;
}

const HOUR_MS = 3_600_000;

interface UsageRow {
  invocations: number;
  cpu_ms: number;
  mem_gbs: number;
  cost_uc: number;
}

const toUsage = (r: UsageRow | undefined): Usage => ({
  invocations: r?.invocations ?? 0,
  cpuMs: r?.cpu_ms ?? 0,
  memGBs: r?.mem_gbs ?? 0,
  costMicroCents: r?.cost_uc ?? 0,
});

/** A deferred record is written at most this long after it was made (ms; see the file's head). */
export const FLUSH_DELAY_MS = 10;

export class BillingRepo {
  readonly #db: Database.Database;
  readonly #q: Prepare;
  readonly #clock: Clock;
  readonly #logs: LogRepo;
  readonly #costs: CostHistory | undefined;
  readonly #onError: (e: unknown) => void;
  /** Deferred records not yet written, oldest first. */
  #pending: BillingRecord[] = [];
  /** Their sums by tenant and month (`tenant\0month`), which `tenantMonth` adds to what is written. */
  readonly #pendingMonths = new ChurnMap<string, { invocations: number; cpuMs: number; memGBs: number; costMicroCents: number }>();
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Immediate | undefined;

  /** `onError`: a batch could not be written (it is kept and tried again with the next). Default: a process warning. */
  constructor(db: Database.Database, clock: Clock, logs: LogRepo, costs?: CostHistory, onError?: (e: unknown) => void) {
    this.#db = db;
    this.#q = statementCache(db);
    this.#clock = clock;
    this.#logs = logs;
    this.#costs = costs;
    this.#onError = onError ?? ((e) => process.emitWarning(`billing: a batch of records could not be written: ${(e as Error).message} (kept, tried again with the next)`, { code: 'FARE_W_BILLING' }));
  }

  /**
   * Inserts a record and adds it to the month's total; joins the caller's transaction if there is
   * one. Hands the execution's log entry (if given) to `LogRepo.append`, with this record's tenant,
   * function, class, CPU time, cost and time, and notes the execution's resource use in the cost
   * history (admission's estimates).
   */
  record(input: BillingInput, log?: ExecutionLog): BillingRecord {
    const rec = this.#priced(input);
    this.#db.transaction(() => this.#insert(rec, 'INSERT'))();
    this.#costs?.note(rec.tenant, rec.function, rec.cpuMs, rec.memGBs);
    if (log !== undefined) this.#logs.append(rec, log);
    return rec;
  }

  /**
   * `record`, written in a batch shortly after (see the file's head): for an execution whose record
   * may follow its answer (a synchronous invocation). Budget checks count it at once.
   */
  defer(input: BillingInput, log?: ExecutionLog): BillingRecord {
    const rec = this.#priced(input);
    this.#pending.push(rec);
    const key = `${rec.tenant}\0${rec.month}`;
    const sum = this.#pendingMonths.get(key);
    if (sum === undefined) {
      this.#pendingMonths.set(key, { invocations: 1, cpuMs: rec.cpuMs, memGBs: rec.memGBs, costMicroCents: rec.costMicroCents });
    } else {
      sum.invocations++;
      sum.cpuMs += rec.cpuMs;
      sum.memGBs += rec.memGBs;
      sum.costMicroCents += rec.costMicroCents;
    }
    this.#costs?.note(rec.tenant, rec.function, rec.cpuMs, rec.memGBs);
    // Scheduled before the log entry is appended: this batch's write takes the logs' with it.
    if (this.#pending.length >= FLUSH_ENTRIES) this.#soon ??= setImmediate(() => this.flush()).unref();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
    if (log !== undefined) this.#logs.append(rec, log);
    return rec;
  }

  /** Deferred records not yet written. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Writes the deferred records, and the logs' buffered entries, in one transaction. A batch that
   * cannot be written is kept (budget checks still count it) and tried again with the next.
   */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#soon !== undefined) clearImmediate(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
    const batch = this.#pending;
    if (batch.length === 0) return;
    try {
      this.#db.transaction(() => {
        for (const rec of batch) this.#insert(rec, 'INSERT OR IGNORE');
        this.#logs.flush();
      })();
    } catch (e) {
      this.#onError(e);
      this.#timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
      return;
    }
    this.#pending = [];
    this.#pendingMonths.clear();
  }

  #priced(input: BillingInput): BillingRecord {
    const at = input.at ?? this.#clock();
    // Object.assign, not `{ ...input, at, … }`: a hidden class each time on Node 20 (src/live/README.md).
    return Object.assign({}, input, {
      at,
      month: monthOf(at),
      // The core's charge (core/classes.ts), at the rates the record carries.
      costMicroCents: costOf(input.cpuMs, input.memGBs, input.price, input.memoryPrice).total,
    });
  }

  /**
   * Enters a record made elsewhere (another gateway's, from the cluster's billing stream) as it is,
   * unless a record with its id is here already: a record delivered twice is billed once. Joins the
   * caller's transaction if there is one. True if it was new.
   */
  enter(rec: BillingRecord): boolean {
    return this.#db.transaction(() => this.#insert(rec, 'INSERT OR IGNORE'))();
  }

  /** The record and its month's running total, in the caller's transaction; false if the record was ignored. */
  #insert(rec: BillingRecord, verb: 'INSERT' | 'INSERT OR IGNORE'): boolean {
    const inserted = this.#q(
      `${verb} INTO billing (id, invocation_id, tenant, function, caller, class, cpu_ms, mem_gbs, price, memory_price, cost_uc, month, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(rec.id, rec.invocationId, rec.tenant, rec.function, rec.caller, rec.cls, rec.cpuMs, rec.memGBs, rec.price, rec.memoryPrice, rec.costMicroCents, rec.month, rec.at).changes === 1;
    if (!inserted) return false;
    this.#q(
      `INSERT INTO usage_monthly (tenant, month, invocations, cpu_ms, mem_gbs, cost_uc) VALUES (?, ?, 1, ?, ?, ?)
       ON CONFLICT (tenant, month) DO UPDATE SET invocations = invocations + 1, cpu_ms = cpu_ms + excluded.cpu_ms,
         mem_gbs = mem_gbs + excluded.mem_gbs, cost_uc = cost_uc + excluded.cost_uc`,
    ).run(rec.tenant, rec.month, rec.cpuMs, rec.memGBs, rec.costMicroCents);
    return true;
  }

  /** What `tenant` spent in `month` (all functions, all classes). */
  tenantMonth(tenant: string, month: string): Usage {
    const written = toUsage(this.#q('SELECT invocations, cpu_ms, mem_gbs, cost_uc FROM usage_monthly WHERE tenant = ? AND month = ?').get(tenant, month) as UsageRow | undefined);
    // Deferred records count at once (a budget check must see them), without writing them now.
    const waiting = this.#pendingMonths.size === 0 ? undefined : this.#pendingMonths.get(`${tenant}\0${month}`);
    if (waiting === undefined) return written;
    return {
      invocations: written.invocations + waiting.invocations,
      cpuMs: written.cpuMs + waiting.cpuMs,
      memGBs: written.memGBs + waiting.memGBs,
      costMicroCents: written.costMicroCents + waiting.costMicroCents,
    };
  }

  /** Every tenant's total for `month`, by tenant id. */
  byTenant(month: string): TenantUsage[] {
    this.flush();
    const rows = this.#q('SELECT tenant, invocations, cpu_ms, mem_gbs, cost_uc FROM usage_monthly WHERE month = ? ORDER BY tenant').all(month) as (UsageRow & { tenant: string })[];
    return rows.map((r) => ({ tenant: r.tenant, ...toUsage(r) }));
  }

  /** `tenant`'s totals per month, oldest first. */
  months(tenant: string): MonthUsage[] {
    this.flush();
    const rows = this.#q('SELECT month, invocations, cpu_ms, mem_gbs, cost_uc FROM usage_monthly WHERE tenant = ? ORDER BY month').all(tenant) as (UsageRow & { month: string })[];
    return rows.map((r) => ({ month: r.month, ...toUsage(r) }));
  }

  /**
   * `tenant`'s bill for `month`, per function and, within it, per class charged: the records, and
   * the hourly aggregates of those the retention clean-up deleted (`expire`). Sums are exact,
   * correctly rounded (exact-sum.ts), so they are the same however the records were aggregated.
   */
  byFunction(tenant: string, month: string): FunctionUsage[] {
    this.flush();
    const groups = new Map<string, { function: string; cls: string; invocations: number; cpu: ExactSum; mem: ExactSum; cost: ExactSum }>();
    const groupOf = (fn: string, cls: string) => {
      const key = `${fn}\u0000${cls}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { function: fn, cls, invocations: 0, cpu: new ExactSum(), mem: new ExactSum(), cost: new ExactSum() };
        groups.set(key, g);
      }
      return g;
    };
    const hours = this.#q('SELECT function, class, invocations, cpu_exact, mem_exact, cost_exact FROM usage_hourly WHERE tenant = ? AND month = ?')
      .iterate(tenant, month) as IterableIterator<{ function: string; class: string; invocations: number; cpu_exact: Buffer; mem_exact: Buffer; cost_exact: Buffer }>;
    for (const h of hours) {
      const g = groupOf(h.function, h.class);
      g.invocations += h.invocations;
      g.cpu.addPartials(decodePartials(h.cpu_exact));
      g.mem.addPartials(decodePartials(h.mem_exact));
      g.cost.addPartials(decodePartials(h.cost_exact));
    }
    // Rows as arrays (no object per record: a month may hold millions), ordered so that each group's come together.
    const records = this.#q('SELECT function, class, cpu_ms, mem_gbs, cost_uc FROM billing WHERE tenant = ? AND month = ? ORDER BY function, class')
      .raw(true).iterate(tenant, month) as IterableIterator<[string, string, number, number, number]>;
    let g: ReturnType<typeof groupOf> | undefined;
    for (const [fn, cls, cpuMs, memGBs, cost] of records) {
      if (g?.function !== fn || g.cls !== cls) g = groupOf(fn, cls);
      g.invocations++;
      g.cpu.add(cpuMs);
      g.mem.add(memGBs);
      g.cost.add(cost);
    }
    // By function, then class, in code-unit order (SQLite's BINARY for these names).
    const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    const sorted = [...groups.values()].sort((a, b) => order(a.function, b.function) || order(a.cls, b.cls));
    const out: FunctionUsage[] = [];
    for (const g of sorted) {
      const cls: ClassUsage = { cls: g.cls, invocations: g.invocations, cpuMs: g.cpu.value(), memGBs: g.mem.value(), costMicroCents: g.cost.value() };
      const last = out.at(-1);
      if (last?.function === g.function) {
        out[out.length - 1] = {
          function: g.function,
          invocations: last.invocations + cls.invocations,
          cpuMs: last.cpuMs + cls.cpuMs,
          memGBs: last.memGBs + cls.memGBs,
          costMicroCents: last.costMicroCents + cls.costMicroCents,
          classes: [...last.classes, cls],
        };
      } else {
        out.push({ function: g.function, invocations: cls.invocations, cpuMs: cls.cpuMs, memGBs: cls.memGBs, costMicroCents: cls.costMicroCents, classes: [cls] });
      }
    }
    return out;
  }

  /**
   * The retention clean-up's step (retention.ts), in one transaction: the oldest records (in the
   * order they were written) up to `maxRows`, as far as they ended before `before`, are added to
   * their hour's aggregate (`usage_hourly`) and deleted. Bills (`byFunction`) and the monthly totals
   * are unchanged by it. Returns how many records went.
   */
  expire(before: number, maxRows: number): number {
    return this.#db.transaction(() => {
      const rows = this.#q('SELECT rowid AS rowid, tenant, month, function, class, at, cpu_ms, mem_gbs, cost_uc FROM billing ORDER BY rowid LIMIT ?')
        .all(maxRows) as { rowid: number; tenant: string; month: string; function: string; class: string; at: number; cpu_ms: number; mem_gbs: number; cost_uc: number }[];
      const firstNew = rows.findIndex((r) => r.at >= before);
      const old = firstNew < 0 ? rows : rows.slice(0, firstNew);
      const last = old.at(-1);
      if (last === undefined) return 0;
      const hours = new Map<string, { tenant: string; month: string; function: string; class: string; hour: number; rows: typeof old }>();
      for (const r of old) {
        const hour = Math.floor(r.at / HOUR_MS) * HOUR_MS;
        const key = [r.tenant, r.month, r.function, r.class, hour].join('\u0000');
        const h = hours.get(key) ?? { tenant: r.tenant, month: r.month, function: r.function, class: r.class, hour, rows: [] };
        h.rows.push(r);
        hours.set(key, h);
      }
      for (const h of hours.values()) {
        const pk = [h.tenant, h.month, h.function, h.class, h.hour] as const;
        const have = this.#q('SELECT invocations, cpu_exact, mem_exact, cost_exact FROM usage_hourly WHERE tenant = ? AND month = ? AND function = ? AND class = ? AND hour = ?')
          .get(...pk) as { invocations: number; cpu_exact: Buffer; mem_exact: Buffer; cost_exact: Buffer } | undefined;
        const cpu = new ExactSum().addPartials(have === undefined ? [] : decodePartials(have.cpu_exact));
        const mem = new ExactSum().addPartials(have === undefined ? [] : decodePartials(have.mem_exact));
        const cost = new ExactSum().addPartials(have === undefined ? [] : decodePartials(have.cost_exact));
        for (const r of h.rows) {
          cpu.add(r.cpu_ms);
          mem.add(r.mem_gbs);
          cost.add(r.cost_uc);
        }
        this.#q(
          `INSERT INTO usage_hourly (tenant, month, function, class, hour, invocations, cpu_ms, mem_gbs, cost_uc, cpu_exact, mem_exact, cost_exact)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (tenant, month, function, class, hour) DO UPDATE SET invocations = excluded.invocations, cpu_ms = excluded.cpu_ms,
             mem_gbs = excluded.mem_gbs, cost_uc = excluded.cost_uc, cpu_exact = excluded.cpu_exact, mem_exact = excluded.mem_exact, cost_exact = excluded.cost_exact`,
        ).run(...pk, (have?.invocations ?? 0) + h.rows.length, cpu.value(), mem.value(), cost.value(),
          encodePartials(cpu.partials()), encodePartials(mem.partials()), encodePartials(cost.partials()));
      }
      // The rows read are the oldest: every record up to the last of them is one of them.
      this.#q('DELETE FROM billing WHERE rowid <= ?').run(last.rowid);
      return old.length;
    })();
  }

  get(id: string): BillingRecord | undefined {
    this.flush();
    const r = this.#q('SELECT * FROM billing WHERE id = ?').get(id) as BillingRow | undefined;
    return r === undefined ? undefined : billingRecordOf(r);
  }
}

/** A row of the billing table, as SQLite (and the cluster's billing stream) carry it. */
export interface BillingRow {
  id: string;
  invocation_id: string;
  tenant: string;
  function: string;
  caller: string;
  class: string;
  cpu_ms: number;
  mem_gbs: number;
  price: number;
  memory_price: number;
  cost_uc: number;
  month: string;
  at: number;
}

export function billingRecordOf(r: BillingRow): BillingRecord {
  return {
    id: r.id,
    invocationId: r.invocation_id,
    tenant: r.tenant,
    function: r.function,
    caller: r.caller,
    cls: r.class,
    cpuMs: r.cpu_ms,
    memGBs: r.mem_gbs,
    price: r.price,
    memoryPrice: r.memory_price,
    costMicroCents: r.cost_uc,
    month: r.month,
    at: r.at,
  };
}
