import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.ts';
import { loadOrCreateMasterKey, MASTER_KEY_FILE, openSecret, sealSecret } from './master-key.ts';
import { migrate, MIGRATIONS, schemaVersion, type Migration } from './migrations.ts';
import { DB_FILE, openStore, tightenTree } from './store.ts';
import { manualClock, tempDir, type TempDir } from './testing.ts';

let dir: TempDir;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  dir.remove();
});

describe('opening a store', () => {
  it('creates the database in WAL mode, synchronous=NORMAL (FULL with fsync) and foreign keys on', () => {
    const fsynced = openStore({ dataDir: join(dir.path, 'fsync'), fsync: true });
    expect(fsynced.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    fsynced.close();
    const store = openStore({ dataDir: dir.path });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(existsSync(join(dir.path, DB_FILE))).toBe(true);
    store.close();
  });

  it('creates master.key once, 32 bytes in hex, readable only by its owner', () => {
    openStore({ dataDir: dir.path }).close();
    const path = join(dir.path, MASTER_KEY_FILE);
    const first = readFileSync(path, 'utf8');
    expect(first.trim()).toMatch(/^[0-9a-f]{64}$/);
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    openStore({ dataDir: dir.path }).close();
    expect(readFileSync(path, 'utf8')).toBe(first);
  });

  it('creates everything private to its user, from the start', () => {
    const store = openStore({ dataDir: join(dir.path, 'fresh') });
    store.db.prepare('CREATE TABLE IF NOT EXISTS t (x)').run();
    const modes = Object.fromEntries(readdirSync(join(dir.path, 'fresh')).map((f) => [f, statSync(join(dir.path, 'fresh', f)).mode & 0o777]));
    expect(statSync(join(dir.path, 'fresh')).mode & 0o777).toBe(0o700);
    for (const f of ['fare.db', 'fare.db-wal', 'fare.db-shm', MASTER_KEY_FILE]) expect([f, modes[f]]).toEqual([f, 0o600]);
    expect(store.tightened).toEqual([]);
    store.close();
  });

  it('makes a data dir that others can read private at open, and says which paths were loose', () => {
    openStore({ dataDir: dir.path }).close();
    chmodSync(dir.path, 0o755);
    chmodSync(join(dir.path, MASTER_KEY_FILE), 0o644);
    chmodSync(join(dir.path, 'fare.db'), 0o644);
    mkdirSync(join(dir.path, 'code', 'acme', 'f', '1'), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir.path, 'code', 'acme', 'f', '1', 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
    const store = openStore({ dataDir: dir.path });
    expect(store.tightened).toEqual(expect.arrayContaining([dir.path, join(dir.path, MASTER_KEY_FILE), join(dir.path, 'fare.db'), join(dir.path, 'code', 'acme', 'f', '1', 'bootstrap')]));
    expect(statSync(dir.path).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir.path, MASTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir.path, 'code', 'acme', 'f', '1', 'bootstrap')).mode & 0o777).toBe(0o700);
    store.close();
    expect(openStore({ dataDir: dir.path, recoverQueue: false }).tightened).toEqual([]);
  });

  it('walks past a file another process removes during the walk (a closing database\'s -shm), and still tightens the rest', () => {
    writeFileSync(join(dir.path, 'kept'), 'x', { mode: 0o644 });
    chmodSync(join(dir.path, 'kept'), 0o644);
    const listed = (path: string): string[] => [...readdirSync(path), 'fare.db-shm'];
    expect(tightenTree(dir.path, listed)).toEqual([join(dir.path, 'kept')]);
    expect(statSync(join(dir.path, 'kept')).mode & 0o777).toBe(0o600);
    expect(() => tightenTree(join(dir.path, 'missing'))).toThrow(/ENOENT/);
  });

  it('refuses a damaged master.key', () => {
    writeFileSync(join(dir.path, MASTER_KEY_FILE), 'nope\n', { mode: 0o600 });
    expect(() => openStore({ dataDir: dir.path })).toThrow(StoreError);
  });
});

describe('migrations', () => {
  it('bring an empty database to the latest version and record it', () => {
    const store = openStore({ dataDir: dir.path });
    expect(schemaVersion(store.db)).toBe(MIGRATIONS.at(-1)?.version);
    store.close();
  });

  it('are applied once: reopening applies nothing', () => {
    openStore({ dataDir: dir.path }).close();
    const db = new Database(join(dir.path, DB_FILE));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('apply only the ones past the recorded version, in order', () => {
    const db = new Database(':memory:');
    const ms: Migration[] = [
      { version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER) STRICT;' },
      { version: 2, description: 'b', sql: 'ALTER TABLE a ADD COLUMN y TEXT;' },
      { version: 3, description: 'c', sql: 'CREATE INDEX a_y ON a(y);' },
    ];
    expect(migrate(db, ms.slice(0, 1))).toEqual([1]);
    db.prepare('INSERT INTO a (x) VALUES (1)').run();
    expect(migrate(db, ms)).toEqual([2, 3]);
    expect(schemaVersion(db)).toBe(3);
    expect(db.prepare('SELECT x, y FROM a').get()).toEqual({ x: 1, y: null });
  });

  it('leave the database at the last whole version when one fails', () => {
    const db = new Database(':memory:');
    const ms: Migration[] = [
      { version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER) STRICT;' },
      { version: 2, description: 'broken', sql: 'CREATE TABLE b (x INTEGER); CREATE TABLE a (x INTEGER);' },
    ];
    expect(() => migrate(db, ms)).toThrow(/migration 2 \(broken\) failed.*version 1/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();
  });

  it('4 gives the credentials of an older store HMAC verifiers, read from their sealed secrets, and drops the scrypt hashes', () => {
    const master = loadOrCreateMasterKey(dir.path);
    const db = new Database(join(dir.path, DB_FILE));
    migrate(db, MIGRATIONS.slice(0, 3));
    db.prepare("INSERT INTO tenants (id, name, over_budget, created_at) VALUES ('acme', 'acme', 'throttle', 0)").run();
    const id = 'FAREOLDCREDENTIAL000';
    const secret = 'an-old-secret-0123456789';
    db.prepare("INSERT INTO credentials (access_key_id, tenant, secret_hash, secret_enc, admin, created_at) VALUES (?, 'acme', 'scrypt$16384$8$1$c2FsdA==$aGFzaA==', ?, 0, 0)")
      .run(id, sealSecret(master, secret, id));
    db.close();
    const store = openStore({ dataDir: dir.path });
    expect(store.credentials.verify(id, secret)).toMatchObject({ tenant: 'acme', accessKeyId: id });
    expect(store.credentials.verify(id, `${secret}x`)).toBeUndefined();
    expect(Object.keys(store.db.prepare('SELECT * FROM credentials').get() as object)).not.toContain('secret_hash');
    store.close();
  });

  it('that need the master key are refused without it, leaving the database as it was', () => {
    const db = new Database(':memory:');
    const ms: Migration[] = [
      { version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER) STRICT;' },
      { version: 2, description: 'keyed', sql: 'ALTER TABLE a ADD COLUMN y TEXT;', run: () => undefined },
    ];
    expect(() => migrate(db, ms)).toThrow(/migration 2 \(keyed\) failed: it needs the master key/);
    expect(schemaVersion(db)).toBe(1);
  });

  it('refuse a database written by a newer Fare', () => {
    const db = new Database(':memory:');
    migrate(db, [{ version: 1, description: 'a', sql: '' }, { version: 2, description: 'b', sql: '' }]);
    expect(() => migrate(db, [{ version: 1, description: 'a', sql: '' }])).toThrow(/schema version 2.*newer Fare/);
  });
});

describe('sealed secrets', () => {
  it('round-trip, and cannot be moved to another access key id', () => {
    const key = Buffer.alloc(32, 7);
    const sealed = sealSecret(key, 'shh', 'FAREAAAA');
    expect(sealed).not.toContain('shh');
    expect(openSecret(key, sealed, 'FAREAAAA')).toBe('shh');
    expect(() => openSecret(key, sealed, 'FAREBBBB')).toThrow(/master.key/);
    expect(() => openSecret(Buffer.alloc(32, 8), sealed, 'FAREAAAA')).toThrow(/master.key/);
  });
});

describe('budget state', () => {
  it('goes ok → warn at 80% → the tenant action past the allowance, counting billed and reserved spend', () => {
    const clock = manualClock(Date.UTC(2025, 2, 31, 23, 0));
    const store = openStore({ dataDir: dir.path, clock });
    store.tenants.create({ id: 'acme', budgetMicroCents: 100, overBudget: 'degrade' });
    store.tenants.create({ id: 'free' });
    const bill = (id: string, cost: number): void => {
      store.billing.record({ id, invocationId: id, tenant: 'acme', function: 'f', caller: 'acme', cls: 'high', cpuMs: cost * 500, memGBs: 0, price: 2, memoryPrice: 0.25 });
    };
    expect(store.budgetState('acme')).toBe('ok');
    bill('a', 79);
    expect(store.budgetState('acme')).toBe('ok');
    bill('b', 1);
    expect(store.budgetState('acme')).toBe('warn');
    bill('c', 20);
    // Late in the month the allowance is the whole budget: at it, degrade throttles too.
    expect(store.budgetState('acme')).toBe('throttle');
    clock.set(Date.UTC(2025, 3, 1, 0, 0)); // a new month starts from zero
    expect(store.budgetState('acme')).toBe('ok');
    expect(store.budgetState('free')).toBe('ok');
    // Early in a month, spending out of reason for the budget (30% on day 2) is over the allowance.
    clock.set(Date.UTC(2025, 3, 2, 0, 0));
    bill('d', 30);
    expect(store.budgetState('acme')).toBe('degrade');
    store.tenants.update('acme', { overBudget: 'throttle' });
    expect(store.budgetState('acme')).toBe('throttle');
    // Reserved spend counts: 5 billed + 5 held pass 80 % of the allowance (11.45 on May 2nd).
    clock.set(Date.UTC(2025, 4, 2, 0, 0));
    bill('e', 5);
    expect(store.budgetState('acme')).toBe('ok');
    const release = store.reservations.hold('acme', 5);
    expect(store.budgetState('acme')).toBe('warn');
    release();
    expect(store.budgetState('acme')).toBe('ok');
    store.close();
  });
});
