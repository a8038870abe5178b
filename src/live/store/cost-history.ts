// What each function's latest executions used (CPU ms, GB-s), for admission's estimate of what one
// more invocation will cost. Kept in memory and fed by every billing record; a function not seen since
// start-up is read once from its billing records of this month and the last (one index range each).

import type Database from 'better-sqlite3';
import { ESTIMATE_WINDOW, type ResourceUse } from '../../core/budget.ts';
import { monthOf, statementCache, type Prepare } from './sql.ts';
import type { Clock } from './tenants.ts';
import { ChurnMap } from '../../core/util/churn-map.ts';

/** Functions whose history is kept in memory at once; the least recently used go first. */
const CAPACITY = 4096;

export class CostHistory {
  readonly #q: Prepare;
  readonly #clock: Clock;
  readonly #size: number;
  /** `tenant/function` → executions, oldest first, at most `size`; in least recently used order. */
  readonly #recent = new ChurnMap<string, ResourceUse[]>();

  constructor(db: Database.Database, clock: Clock, size = ESTIMATE_WINDOW) {
    this.#q = statementCache(db);
    this.#clock = clock;
    this.#size = size;
  }

  /** The function's latest executions (at most the window), oldest first; empty if it never ran. */
  recent(tenant: string, fn: string): readonly ResourceUse[] {
    const key = `${tenant}/${fn}`;
    let r = this.#recent.get(key);
    if (r === undefined) r = this.#load(tenant, fn);
    else this.#recent.delete(key);
    this.#recent.set(key, r);
    if (this.#recent.size > CAPACITY) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
    return r;
  }

  /** An execution was billed (called by `BillingRepo.record`). */
  note(tenant: string, fn: string, cpuMs: number, memGBs: number): void {
    // A function not in memory is read from the billing records, this one included, when next asked.
    const r = this.#recent.get(`${tenant}/${fn}`);
    if (r === undefined) return;
    r.push({ cpuMs, memGBs });
    if (r.length > this.#size) r.shift();
  }

  #load(tenant: string, fn: string): ResourceUse[] {
    const now = this.#clock();
    const start = new Date(now);
    const lastMonth = monthOf(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() - 1, 1));
    const out: ResourceUse[] = [];
    for (const month of [monthOf(now), lastMonth]) {
      const rows = this.#q('SELECT cpu_ms, mem_gbs FROM billing WHERE tenant = ? AND month = ? AND function = ? ORDER BY rowid DESC LIMIT ?').all(tenant, month, fn, this.#size - out.length) as { cpu_ms: number; mem_gbs: number }[];
      for (const row of rows) out.push({ cpuMs: row.cpu_ms, memGBs: row.mem_gbs });
      if (out.length >= this.#size) break;
    }
    return out.reverse();
  }
}
