// A backup of `fare up`'s data directory, taken while Fare runs: the database as of one moment (a
// single read transaction, `VACUUM INTO`: every tenant, function, accepted invocation, bill and log
// entry committed by then, and nothing half-written), the master key (without it the sealed secrets
// cannot be read), and the code trees and uploaded zips that snapshot names. The backup is itself a
// data directory: `fare up --data-dir BACKUP` runs from it, which is how it is restored.

import Database from 'better-sqlite3';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { StoreError } from './errors.ts';
import { fsyncPath, MASTER_KEY_FILE } from './master-key.ts';
import { MIGRATIONS } from './migrations.ts';
import { DB_FILE } from './store.ts';
import { zipPath } from './code.ts';

/** What a backup holds, counted in its copy of the database. */
export interface BackupSummary {
  readonly out: string;
  readonly schemaVersion: number;
  readonly tenants: number;
  readonly functions: number;
  /** Published versions (Lambda's). */
  readonly versions: number;
  /** Async invocations accepted and not finished (they run when Fare starts from the backup). */
  readonly pendingInvocations: number;
  readonly billingRecords: number;
  readonly logEntries: number;
  readonly codeTrees: number;
  readonly zips: number;
  /** Bytes written. */
  readonly bytes: number;
}

const count = (db: Database.Database, sql: string): number => (db.prepare(sql).get() as { n: number }).n;

/** Bytes of the files under `path` (symbolic links not followed). */
function sizeOf(path: string): number {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += sizeOf(join(path, e));
  return n;
}

/**
 * Copies the data directory `dataDir` (of a `fare up` that may be running) to `out`, which must not
 * exist or be empty. Throws a StoreError saying what is wrong and what to do; leaves nothing at
 * `out` when it fails.
 */
export function backupDataDir(dataDir: string, out: string): BackupSummary {
  const src = resolve(dataDir);
  const dst = resolve(out);
  const dbFile = join(src, DB_FILE);
  if (!existsSync(dbFile)) throw new StoreError('FARE_E_BACKUP', `there is no Fare data directory at ${src} (no ${DB_FILE} in it): give fare up's --data-dir with --data-dir`);
  if (!existsSync(join(src, MASTER_KEY_FILE))) throw new StoreError('FARE_E_BACKUP', `${src} has no ${MASTER_KEY_FILE}: without it the copy's secrets could not be read; is this a Fare data directory?`);
  const inside = relative(src, dst);
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) throw new StoreError('FARE_E_BACKUP', `${dst} is inside the data directory ${src}: give a place outside it`);
  const made = !existsSync(dst);
  if (!made && (!statSync(dst).isDirectory() || readdirSync(dst).length > 0)) throw new StoreError('FARE_E_BACKUP', `${dst} exists and is not an empty directory: give a new place for the backup (nothing is overwritten)`);
  mkdirSync(dst, { recursive: true, mode: 0o700 });
  try {
    return copy(src, dst);
  } catch (e) {
    // Nothing half-made is left behind.
    if (made) rmSync(dst, { recursive: true, force: true });
    else for (const entry of readdirSync(dst)) rmSync(join(dst, entry), { recursive: true, force: true });
    throw e;
  }
}

function copy(src: string, dst: string): BackupSummary {
  const source = new Database(join(src, DB_FILE), { readonly: true, fileMustExist: true });
  const tmp = join(dst, `${DB_FILE}.partial`);
  try {
    source.pragma('busy_timeout = 10000');
    const version = (source.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined)?.version ?? 0;
    const known = MIGRATIONS.at(-1)?.version ?? 0;
    if (version > known) throw new StoreError('FARE_E_BACKUP', `the store is at schema version ${version}, newer than this Fare knows (${known}): back it up with the Fare that runs it`);
    // One read transaction: the database as of this moment, compacted.
    source.prepare('VACUUM INTO ?').run(tmp);
  } finally {
    source.close();
  }
  const db = new Database(tmp);
  let summary: Omit<BackupSummary, 'out' | 'bytes' | 'codeTrees' | 'zips'>;
  let trees: string[];
  let shas: string[];
  try {
    const ok = db.pragma('integrity_check', { simple: true });
    if (ok !== 'ok') throw new StoreError('FARE_E_BACKUP', `the copy of the database failed its integrity check (${String(ok)}): run fare backup again; if it fails again, the database itself may be damaged`);
    db.pragma('journal_mode = WAL');
    summary = {
      schemaVersion: (db.prepare('SELECT version FROM schema_version').get() as { version: number }).version,
      tenants: count(db, 'SELECT count(*) AS n FROM tenants'),
      functions: count(db, 'SELECT count(*) AS n FROM functions'),
      versions: count(db, 'SELECT count(*) AS n FROM function_published'),
      pendingInvocations: count(db, "SELECT count(*) AS n FROM invocations WHERE status IN ('queued', 'running')"),
      billingRecords: count(db, 'SELECT count(*) AS n FROM billing'),
      logEntries: count(db, 'SELECT count(*) AS n FROM logs'),
    };
    trees = (db.prepare('SELECT code_dir AS d FROM functions UNION SELECT code_dir FROM function_published').all() as { d: string }[]).map((r) => r.d);
    shas = (db.prepare('SELECT code_sha256 AS s FROM functions UNION SELECT code_sha256 FROM function_published').all() as { s: string }[]).map((r) => r.s);
  } finally {
    db.close();
  }
  // The code the snapshot names: each version's tree is written once and never changed.
  for (const rel of trees) {
    const path = normalize(rel);
    if (isAbsolute(path) || path.split(sep).includes('..')) throw new StoreError('FARE_E_BACKUP', `the database names code outside the data directory (${rel}): it is not Fare's; not copied`);
    const from = join(src, path);
    if (!existsSync(from)) throw new StoreError('FARE_E_BACKUP', `${rel} went away while the backup ran (a newer deploy pruned it): run fare backup again`);
    cpSync(from, join(dst, path), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  }
  // The uploads as uploaded (GetFunction's download); code deployed before Fare kept them has none.
  let zips = 0;
  for (const sha of shas) {
    const from = zipPath(src, sha);
    if (from === undefined || !existsSync(from)) continue;
    const to = zipPath(dst, sha) as string;
    mkdirSync(join(to, '..'), { recursive: true, mode: 0o700 });
    copyFileSync(from, to);
    zips++;
  }
  copyFileSync(join(src, MASTER_KEY_FILE), join(dst, MASTER_KEY_FILE));
  fsyncPath(join(dst, MASTER_KEY_FILE));
  fsyncPath(tmp);
  // Last: a directory with fare.db in it is a complete backup.
  renameSync(tmp, join(dst, DB_FILE));
  fsyncPath(dst);
  return { out: dst, ...summary, codeTrees: trees.length, zips, bytes: sizeOf(dst) };
}
