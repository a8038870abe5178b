// The uploads the store keeps as uploaded (`<data>/zips/<sha256>.zip`): committed with the row that
// has them, shared by hash, deleted with the last `$LATEST` or published version that has them, and
// swept at start-up when a crash left one that nothing has.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stageCode, stageZip } from './code.ts';
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

const config: FunctionConfig = { runtime: 'nodejs', handler: 'index.handler', cls: 'standard', timeoutMs: 3000, env: {} };
/** Stands for an upload: the store keeps the bytes, whatever they are. */
const upload = (text: string): Buffer => Buffer.from(`PK fake zip ${text}`);
const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const zipAt = (b: Buffer): string => join(dir.path, 'zips', `${hex(b)}.zip`);

async function deploy(name: string, zip: Buffer, keep = true) {
  const stagedDir = await stageCode(dir.path, [{ path: 'index.js', isDir: false, mode: 0o644, read: () => zip }]);
  const stagedZip = keep ? await stageZip(dir.path, zip) : undefined;
  return store.functions.deploy('acme', name, config, { stagedDir, sha256: hex(zip), size: zip.length, ...(stagedZip !== undefined ? { stagedZip } : {}) });
}

describe('kept uploads', () => {
  it('are committed with the deploy, private, and named by their hash', async () => {
    const one = upload('one');
    await deploy('f', one);
    expect(readFileSync(zipAt(one)).equals(one)).toBe(true);
    expect(store.functions.zipFile(hex(one))).toBe(zipAt(one));
    expect(readdirSync(join(dir.path, 'code', '.staging'))).toEqual([]);
    if (process.platform !== 'win32') expect(statSync(zipAt(one)).mode & 0o077).toBe(0);
    expect(store.functions.zipFile('not-a-hash')).toBeUndefined();
  });

  it('go when the code is replaced, unless a published version has it; with the version or the function', async () => {
    const one = upload('one');
    const two = upload('two');
    await deploy('f', one);
    store.versions.publish('acme', 'f');
    await deploy('f', two);
    expect(existsSync(zipAt(one))).toBe(true);
    // A configuration change keeps the code, and the zip.
    store.functions.update('acme', 'f', { timeoutMs: 10 });
    expect(existsSync(zipAt(two))).toBe(true);
    expect(store.versions.deleteVersion('acme', 'f', 1)).toBe('deleted');
    expect(existsSync(zipAt(one))).toBe(false);
    await deploy('f', one);
    expect(existsSync(zipAt(two))).toBe(false);
    store.versions.publish('acme', 'f');
    await deploy('f', two);
    expect(store.functions.delete('acme', 'f')).toBe(true);
    expect(existsSync(zipAt(one))).toBe(false);
    expect(existsSync(zipAt(two))).toBe(false);
  });

  it('are shared by hash between functions', async () => {
    const same = upload('same');
    await deploy('a', same);
    await deploy('b', same);
    store.functions.delete('acme', 'a');
    expect(existsSync(zipAt(same))).toBe(true);
    store.functions.delete('acme', 'b');
    expect(existsSync(zipAt(same))).toBe(false);
  });

  it('a deploy without an upload (the examples) keeps none, and leaves another function’s alone', async () => {
    const one = upload('one');
    await deploy('a', one);
    await deploy('b', one, false);
    await deploy('c', upload('c'), false);
    expect(readdirSync(join(dir.path, 'zips'))).toEqual([`${hex(one)}.zip`]);
  });

  it('keepZip keeps a staged zip only while some row has its code', async () => {
    const one = upload('one');
    await deploy('f', one, false);
    expect(store.functions.keepZip(await stageZip(dir.path, one), hex(one))).toBe(true);
    expect(existsSync(zipAt(one))).toBe(true);
    const other = upload('other');
    expect(store.functions.keepZip(await stageZip(dir.path, other), hex(other))).toBe(false);
    expect(existsSync(zipAt(other))).toBe(false);
    expect(readdirSync(join(dir.path, 'code', '.staging'))).toEqual([]);
  });

  it('that nothing has are swept at start-up (a crash between a commit and a deletion); staged ones are cleared', async () => {
    const one = upload('one');
    await deploy('f', one);
    mkdirSync(join(dir.path, 'zips'), { recursive: true });
    const orphan = join(dir.path, 'zips', `${'c'.repeat(64)}.zip`);
    writeFileSync(orphan, 'left over');
    const notes = join(dir.path, 'zips', 'README');
    writeFileSync(notes, 'not ours');
    await stageZip(dir.path, upload('interrupted'));
    store.close();
    store = openStore({ dataDir: dir.path, clock: manualClock() });
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(notes)).toBe(true);
    expect(existsSync(zipAt(one))).toBe(true);
    expect(existsSync(join(dir.path, 'code', '.staging'))).toBe(false);
    // A store opened beside the one that owns the data directory sweeps nothing.
    writeFileSync(orphan, 'left over');
    const reader = openStore({ dataDir: dir.path, clock: manualClock(), recoverQueue: false });
    reader.close();
    expect(existsSync(orphan)).toBe(true);
  });
});
