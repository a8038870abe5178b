import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Checkpointer } from './checkpointer.ts';
import { DB_FILE, openStore } from './store.ts';
import { tempDir, type TempDir } from './testing.ts';

let dir: TempDir;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  dir.remove();
});

/** A database in the test directory, in WAL mode, and its file. */
function walDb(name: string): { db: Database.Database; file: string } {
  const file = join(dir.path, name);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return { db, file };
}

/** Writes `rounds` batches of ~400 KB, pausing `pauseMs` after each; returns the largest WAL file size seen. */
async function writeRounds(db: Database.Database, file: string, rounds: number, pauseMs: number): Promise<number> {
  db.exec('CREATE TABLE IF NOT EXISTS blob (x TEXT)');
  const insert = db.prepare('INSERT INTO blob VALUES (?)');
  const batch = db.transaction(() => {
    for (let i = 0; i < 100; i++) insert.run('x'.repeat(4000));
  });
  let largest = 0;
  for (let r = 0; r < rounds; r++) {
    batch();
    largest = Math.max(largest, statSync(`${file}-wal`).size);
    await sleep(pauseMs);
  }
  return largest;
}

/**
 * Writes `total` bytes in transactions of ~16 KB (an invocation of `fare up` writes ~20 KB of log),
 * one per turn of the event loop, as a serving process does; every 20th time a second connection
 * reads and keeps its snapshot while three transactions commit. Returns the largest WAL file size
 * seen after any commit.
 */
async function writeContinuously(db: Database.Database, file: string, total: number): Promise<number> {
  db.exec('CREATE TABLE IF NOT EXISTS blob (x TEXT)');
  const insert = db.prepare('INSERT INTO blob VALUES (?)');
  const write = db.transaction(() => {
    for (let i = 0; i < 4; i++) insert.run('x'.repeat(4000));
  });
  const reader = new Database(file, { readonly: true });
  const newest = reader.prepare('SELECT MAX(rowid) FROM blob').pluck();
  let largest = 0;
  const wrote = (): void => {
    largest = Math.max(largest, statSync(`${file}-wal`).size);
  };
  try {
    for (let n = 0; n * 16_000 < total; n++) {
      if (n % 20 === 0) {
        reader.exec('BEGIN');
        newest.get();
        for (let i = 0; i < 3; i++) {
          write();
          wrote();
        }
        reader.exec('COMMIT');
      } else {
        write();
        wrote();
      }
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    reader.close();
  }
  return largest;
}

const MB = 1024 * 1024;

describe('WAL checkpoints in a worker thread', () => {
  it('keeps the log under twice its limit while a writer commits without pause and readers hold snapshots', async () => {
    const { db, file } = walDb('busy.db');
    const limit = 8 * MB;
    const cp = new Checkpointer(db, file, { intervalMs: 10, limitBytes: limit, onFallback: (why) => expect.fail(why) });
    await cp.ready();
    // 6 times the limit: PASSIVE checkpoints alone let the log grow to nearly all of it (next test).
    const largest = await writeContinuously(db, file, 6 * limit);
    const { restarts } = cp.stats();
    cp.stop();
    db.close();
    expect(largest).toBeLessThan(2 * limit);
    expect(restarts).toBeGreaterThan(0);
  });

  it('with PASSIVE checkpoints only (before issue 18) the same writes grow the log past twice the limit: the test above can fail', async () => {
    const { db, file } = walDb('passive.db');
    const limit = 8 * MB;
    const cp = new Checkpointer(db, file, { intervalMs: 10, limitBytes: limit, restart: false, onFallback: (why) => expect.fail(why) });
    await cp.ready();
    const largest = await writeContinuously(db, file, 6 * limit);
    cp.stop();
    db.close();
    expect(largest).toBeGreaterThan(2 * limit);
  });

  it('refuses a limit it cannot keep', () => {
    const { db, file } = walDb('small.db');
    expect(() => new Checkpointer(db, file, { limitBytes: 1000 })).toThrow(/WAL limit must be a whole number of bytes ≥ 65536/);
    db.close();
  });

  it('the store connection never checkpoints; the worker does, so the log is reused instead of growing', async () => {
    const { db, file } = walDb('x.db');
    const cp = new Checkpointer(db, file, { intervalMs: 20, onFallback: (why) => expect.fail(why) });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // 30 rounds of ~400 KB: 12 MB written. Without checkpoints the log would hold all of it.
    const largest = await writeRounds(db, file, 30, 60);
    cp.stop();
    db.close();
    expect(largest).toBeLessThan(3 * 1024 * 1024);
  });

  it('without the worker (autocheckpoint off) the same writes grow the log: the test above can fail', async () => {
    const { db, file } = walDb('y.db');
    db.pragma('wal_autocheckpoint = 0');
    const largest = await writeRounds(db, file, 30, 0);
    db.close();
    expect(largest).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('falls back to automatic checkpoints, and says why, when the worker cannot run', async () => {
    const { db } = walDb('z.db');
    const why = await new Promise<string>((resolve) => {
      // The worker opens a file that does not exist (fileMustExist): it fails at once.
      new Checkpointer(db, join(dir.path, 'missing.db'), { onFallback: resolve });
    });
    expect(why).toMatch(/checkpoint worker (failed|exited)/);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('stop returns once the worker\'s connection is closed, even from the middle of a reset that waits for a reader', async () => {
    const { db, file } = walDb('stop.db');
    const cp = new Checkpointer(db, file, { intervalMs: 10, limitBytes: 65_536, restartWaitMs: 400, onFallback: (why) => expect.fail(why) });
    await cp.ready();
    db.exec('CREATE TABLE t (x TEXT)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 40; i++) insert.run('x'.repeat(4000));
    // A reader's snapshot keeps the reset the log's size asks for busy: the worker tries for 400 ms.
    const reader = new Database(file);
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) FROM t').get();
    await sleep(50);
    cp.stop();
    db.close();
    reader.exec('COMMIT');
    reader.close();
    // The last connection to close deletes the log: the reader's was the last only if the worker's
    // had closed before (a store opened next on these files would otherwise see them vanish later).
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}-shm`)).toBe(false);
  });

  it('is what a store opened with checkpoints: background uses', () => {
    const store = openStore({ dataDir: dir.path, checkpoints: 'background' });
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    store.close();
    const inline = openStore({ dataDir: join(dir.path, 'inline') });
    expect(inline.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    inline.close();
    expect(statSync(join(dir.path, DB_FILE)).size).toBeGreaterThan(0);
  });
});
