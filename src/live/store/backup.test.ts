import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupDataDir } from './backup.ts';
import { stageCode, stageZip } from './code.ts';
import { MASTER_KEY_FILE } from './master-key.ts';
import { openStore, type Store } from './store.ts';
import { manualClock, tempDir, type TempDir } from './testing.ts';

let dir: TempDir;
let data = '';
let store: Store;
beforeEach(async () => {
  dir = tempDir();
  data = join(dir.path, 'data');
  store = openStore({ dataDir: data, clock: manualClock() });
  store.tenants.create({ id: 'acme' });
  const zip = Buffer.from('PK-not-really-a-zip');
  const stagedDir = await stageCode(data, [{ path: 'index.js', isDir: false, mode: 0o644, read: () => Buffer.from('exports.handler = async () => 1;') }]);
  const stagedZip = await stageZip(data, zip);
  store.functions.deploy('acme', 'hello', { runtime: 'nodejs', handler: 'index.handler', cls: 'standard', timeoutMs: 1000, env: { SECRET: 'kept' } }, { stagedDir, sha256: 'ab'.repeat(32), size: zip.length, stagedZip });
  store.versions.publish('acme', 'hello');
  store.functions.setConcurrency('acme', 'hello', 0);
  store.invocations.enqueue({ id: 'queued-1', tenant: 'acme', function: 'hello', version: 1, caller: 'acme', cls: 'standard', classIndex: 2, payload: Buffer.from('{"n":1}') });
  store.billing.record({ id: 'r1', invocationId: 'r1', tenant: 'acme', function: 'hello', caller: 'acme', cls: 'standard', cpuMs: 10, memGBs: 0.001, price: 1, memoryPrice: 0.25 });
});
afterEach(() => {
  store.close();
  dir.remove();
});

describe('backupDataDir', () => {
  it('copies the database as of now, the master key, and the code and zips it names, while the store is open; the copy opens as a data directory', () => {
    const out = join(dir.path, 'backup');
    const s = backupDataDir(data, out);
    expect(s).toMatchObject({ out, tenants: 1, functions: 1, versions: 1, pendingInvocations: 1, billingRecords: 1, codeTrees: 1, zips: 1 });
    expect(s.bytes).toBeGreaterThan(0);
    // Written after the backup: not in it.
    store.billing.record({ id: 'r2', invocationId: 'r2', tenant: 'acme', function: 'hello', caller: 'acme', cls: 'standard', cpuMs: 5, memGBs: 0, price: 1, memoryPrice: 0.25 });
    expect(readFileSync(join(out, MASTER_KEY_FILE), 'utf8')).toBe(readFileSync(join(data, MASTER_KEY_FILE), 'utf8'));
    expect(statSync(out).mode & 0o077).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['code', 'fare.db', 'master.key', 'zips']);
    const copy = openStore({ dataDir: out, clock: manualClock() });
    try {
      const fn = copy.functions.get('acme', 'hello');
      expect(fn).toMatchObject({ version: 1, reservedConcurrency: 0, env: { SECRET: 'kept' } });
      expect(readFileSync(join(fn?.codeDir ?? '', 'index.js'), 'utf8')).toContain('exports.handler');
      expect(copy.versions.versions('acme', 'hello').map((v) => v.published)).toEqual([1]);
      expect(copy.invocations.get('queued-1')).toMatchObject({ status: 'queued', payload: Buffer.from('{"n":1}') });
      expect(copy.billing.get('r1')).toBeDefined();
      expect(copy.billing.get('r2')).toBeUndefined();
      expect(existsSync(join(out, 'zips', `${'ab'.repeat(32)}.zip`))).toBe(true);
    } finally {
      copy.close();
    }
  });

  it('refuses, saying what to do: no data directory, a place that is not new and empty, a place inside the data directory; nothing is overwritten', () => {
    expect(() => backupDataDir(join(dir.path, 'nope'), join(dir.path, 'b1'))).toThrow(/there is no Fare data directory at .*nope \(no fare\.db in it\): give fare up's --data-dir/);
    const used = join(dir.path, 'used');
    mkdirSync(used);
    writeFileSync(join(used, 'keep.txt'), 'mine');
    expect(() => backupDataDir(data, used)).toThrow(/exists and is not an empty directory: give a new place for the backup \(nothing is overwritten\)/);
    expect(readFileSync(join(used, 'keep.txt'), 'utf8')).toBe('mine');
    expect(() => backupDataDir(data, join(data, 'inner'))).toThrow(/is inside the data directory/);
    expect(() => backupDataDir(data, data)).toThrow(/is inside the data directory/);
    expect(existsSync(join(dir.path, 'b1'))).toBe(false);
  });

  it('leaves nothing behind when it fails (code that went away while it ran)', () => {
    rmSync(join(data, 'code', 'acme', 'hello', '1'), { recursive: true });
    const out = join(dir.path, 'failed');
    expect(() => backupDataDir(data, out)).toThrow(/code\/acme\/hello\/1 went away while the backup ran .*: run fare backup again/);
    expect(existsSync(out)).toBe(false);
    // An empty folder given is left empty.
    mkdirSync(out);
    expect(() => backupDataDir(data, out)).toThrow(/went away/);
    expect(readdirSync(out)).toEqual([]);
  });
});
