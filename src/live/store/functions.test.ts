import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { safeJoin, stageCode, type CodeFile } from './code.ts';
import type { FunctionConfig } from './functions.ts';
import { openStore, type Store } from './store.ts';
import { manualClock, tempDir, type TempDir } from './testing.ts';

let dir: TempDir;
let store: Store;
beforeEach(() => {
  dir = tempDir();
  store = openStore({ dataDir: dir.path, clock: manualClock() });
  store.tenants.create({ id: 'acme' });
});
afterEach(() => {
  store.close();
  dir.remove();
});

const file = (path: string, text: string, mode = 0o644): CodeFile => ({ path, isDir: false, mode, read: () => Buffer.from(text) });
const config: FunctionConfig = { runtime: 'nodejs', handler: 'index.handler', cls: 'standard', timeoutMs: 3000, env: { A: '1' } };

async function deploy(name: string, text: string, cfg: FunctionConfig = config) {
  const stagedDir = await stageCode(dir.path, [file('index.js', text), file('bin/bootstrap', '#!/bin/sh', 0o755), { path: 'empty/', isDir: true, mode: 0o755, read: () => Buffer.alloc(0) }]);
  return store.functions.deploy('acme', name, cfg, { stagedDir, sha256: 'ab'.repeat(32), size: text.length });
}

describe('functions', () => {
  it('are read from memory after the first read, and never stale after a deploy, an update, a delete or a forget', async () => {
    expect(store.functions.get('acme', 'cached')).toBeUndefined(); // remembered as missing…
    const { record: v1 } = await deploy('cached', 'v1');
    expect(store.functions.get('acme', 'cached')).toEqual(v1); // …until deployed
    expect(store.functions.get('acme', 'cached')).toBe(store.functions.get('acme', 'cached'));
    const { record: v2 } = await deploy('cached', 'v2');
    expect(store.functions.get('acme', 'cached')?.version).toBe(v2.version);
    expect(store.functions.get('acme', 'cached')?.cls).toBe('standard');
    store.functions.update('acme', 'cached', { cls: 'high' });
    expect(store.functions.get('acme', 'cached')?.cls).toBe('high');
    // Written behind the repo's back (as a cluster gateway applies another's change): seen once forgotten.
    store.db.prepare("UPDATE functions SET handler = 'other.handler' WHERE tenant = 'acme' AND name = 'cached'").run();
    expect(store.functions.get('acme', 'cached')?.handler).toBe('index.handler');
    store.functions.forget('acme', 'cached');
    expect(store.functions.get('acme', 'cached')?.handler).toBe('other.handler');
    expect(store.functions.delete('acme', 'cached')).toBe(true);
    expect(store.functions.get('acme', 'cached')).toBeUndefined();
  });

  it('are created at version 1 with code unpacked under <data>/code/<tenant>/<name>/<version>', async () => {
    const { record, created } = await deploy('hello', 'v1');
    expect(created).toBe(true);
    expect(record).toMatchObject({ tenant: 'acme', name: 'hello', version: 1, cls: 'standard', env: { A: '1' } });
    expect(record.codeDir).toBe(join(dir.path, 'code', 'acme', 'hello', '1'));
    expect(readFileSync(join(record.codeDir, 'index.js'), 'utf8')).toBe('v1');
    if (process.platform !== 'win32') expect(statSync(join(record.codeDir, 'bin/bootstrap')).mode & 0o111).not.toBe(0);
    expect(existsSync(join(record.codeDir, 'empty'))).toBe(true);
    expect(store.functions.get('acme', 'hello')).toEqual(record);
  });

  it('get a new version on every code or configuration change; configuration changes keep the code', async () => {
    await deploy('hello', 'v1');
    const v2 = (await deploy('hello', 'v2')).record;
    expect(v2.version).toBe(2);
    const v3 = store.functions.update('acme', 'hello', { cls: 'high', timeoutMs: 10_000 });
    expect(v3).toMatchObject({ version: 3, cls: 'high', timeoutMs: 10_000, codeDir: v2.codeDir, handler: 'index.handler' });
    expect(store.functions.update('acme', 'nope', { cls: 'high' })).toBeUndefined();
  });

  it('are idempotent only when said so; a configuration change can set and unset it', async () => {
    const plain = (await deploy('hello', 'v1')).record;
    expect(plain.idempotent).toBeUndefined();
    const idem = (await deploy('hello', 'v2', { ...config, idempotent: true })).record;
    expect(idem.idempotent).toBe(true);
    expect(store.functions.get('acme', 'hello')?.idempotent).toBe(true);
    // A change that does not mention it keeps it; false clears it.
    expect(store.functions.update('acme', 'hello', { cls: 'high' })?.idempotent).toBe(true);
    expect(store.functions.update('acme', 'hello', { idempotent: false })?.idempotent).toBeUndefined();
  });

  it('have a concurrency limit only when set; setting it is no new version, and deploys and updates keep it', async () => {
    const v1 = (await deploy('hello', 'v1')).record;
    expect(v1.reservedConcurrency).toBeUndefined();
    expect(store.functions.setConcurrency('acme', 'hello', 0)).toBe(true);
    expect(store.functions.get('acme', 'hello')).toEqual({ ...v1, reservedConcurrency: 0 });
    expect(store.functions.setConcurrency('acme', 'hello', 5)).toBe(true);
    expect((await deploy('hello', 'v2')).record).toMatchObject({ version: 2, reservedConcurrency: 5 });
    expect(store.functions.update('acme', 'hello', { cls: 'high' })).toMatchObject({ version: 3, reservedConcurrency: 5 });
    expect(store.functions.setConcurrency('acme', 'hello', null)).toBe(true);
    expect(store.functions.get('acme', 'hello')?.reservedConcurrency).toBeUndefined();
    expect(store.functions.setConcurrency('acme', 'nope', 1)).toBe(false);
    expect(() => store.functions.setConcurrency('acme', 'hello', -1)).toThrow('a concurrency limit is a whole number from 0 to 100000, got -1');
    expect(() => store.functions.setConcurrency('acme', 'hello', 1.5)).toThrow(RangeError);
  });

  it('keep only the last few versions of code on disk, and the one in use', async () => {
    for (let i = 1; i <= 5; i++) await deploy('hello', `v${i}`);
    expect(readdirSync(join(dir.path, 'code/acme/hello')).sort()).toEqual(['3', '4', '5']);
  });

  it('never reuse a version number after delete and re-create', async () => {
    await deploy('hello', 'v1');
    await deploy('hello', 'v2');
    expect(store.functions.delete('acme', 'hello')).toBe(true);
    expect(existsSync(join(dir.path, 'code/acme/hello'))).toBe(false);
    expect(store.functions.get('acme', 'hello')).toBeUndefined();
    expect(store.functions.delete('acme', 'hello')).toBe(false);
    const again = await deploy('hello', 'v3');
    expect(again).toMatchObject({ created: true, record: { version: 3 } });
  });

  it('drop grants on a deleted function', async () => {
    store.tenants.create({ id: 'other' });
    await deploy('hello', 'v1');
    store.grants.add('acme', 'hello', 'other');
    store.functions.delete('acme', 'hello');
    expect(store.grants.allows('acme', 'hello', 'other')).toBe(false);
  });

  it('are listed by name, per tenant', async () => {
    await deploy('b', 'x');
    await deploy('a', 'x');
    expect(store.functions.list('acme').map((f) => f.name)).toEqual(['a', 'b']);
    expect(store.functions.list('other')).toEqual([]);
  });
});

describe('code paths', () => {
  it('stay inside the code directory', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'C:/x', 'a\\..\\x', 'a//b', './a', '']) {
      expect(() => safeJoin('/tmp/root', bad), bad).toThrow(/FARE_E_CODE_PATH|relative|segment|outside/);
    }
    expect(safeJoin('/tmp/root', 'a/b.js')).toBe('/tmp/root/a/b.js');
    expect(safeJoin('/tmp/root', 'dir/')).toBe('/tmp/root/dir');
  });

  it('are refused while staging, leaving nothing behind', async () => {
    await expect(stageCode(dir.path, [file('ok.js', 'x'), file('../evil.js', 'x')])).rejects.toMatchObject({ code: 'FARE_E_CODE_PATH' });
    expect(existsSync(join(dir.path, 'evil.js'))).toBe(false);
    expect(readdirSync(join(dir.path, 'code/.staging'))).toEqual([]);
  });
});
