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
  return new Date(ms).toISOString().slice(0, 7);
}
