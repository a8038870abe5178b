// Prepared statements, compiled once per database handle and reused.

import type Database from 'better-sqlite3';

export type Prepare = (sql: string) => Database.Statement;

export function statementCache(db: Database.Database): Prepare {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}

/**
 * Rows read lately, by key, and keys read as missing (undefined): the repos whose rows every
 * invocation asks for (functions, tenants) read SQLite once. The process is the database's only
 * writer; whoever changes a row forgets it (`forget`, all without a key). At most `max` kept (then
 * it starts again).
 */
export class Remembered<V> {
  readonly #known = new Map<string, V | undefined>();

  constructor(private readonly max = 4096) {}

  /** The value of `key`, read with `load` unless remembered. */
  get(key: string, load: () => V | undefined): V | undefined {
    const hit = this.#known.get(key);
    if (hit !== undefined || this.#known.has(key)) return hit;
    const v = load();
    if (this.#known.size >= this.max) this.#known.clear();
    this.#known.set(key, v);
    return v;
  }

  forget(key?: string): void {
    if (key === undefined) this.#known.clear();
    else this.#known.delete(key);
  }
}

/** `YYYY-MM` of a time in ms, in UTC: the billing month. */
export function monthOf(ms: number): string {
  // Every invocation's record asks, nearly always about the month of the last one asked.
  if (ms >= lastMonth.from && ms < lastMonth.to) return lastMonth.text;
  const d = new Date(ms);
  const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const to = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const text = d.toISOString().slice(0, 7);
  if (Number.isFinite(from)) lastMonth = { from, to, text };
  return text;
}

/** The month `monthOf` answered last, and the times it spans (ms, end excluded). */
let lastMonth = { from: 0, to: 0, text: '' };
