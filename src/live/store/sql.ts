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
