import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stageCode, type CodeFile } from './code.ts';
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
const file = (text: string): CodeFile => ({ path: 'index.js', isDir: false, mode: 0o644, read: () => Buffer.from(text) });

/** Deploys `text` as $LATEST of hello and publishes it. */
async function publish(text: string): Promise<number> {
  const stagedDir = await stageCode(dir.path, [file(text)]);
  store.functions.deploy('acme', 'hello', config, { stagedDir, sha256: Buffer.from(text).toString('hex').padEnd(64, '0'), size: text.length });
  return store.versions.publish('acme', 'hello')?.record.published ?? -1;
}

const latest = () => store.functions.get('acme', 'hello');
const executed = (q: string, draw?: number) => store.versions.resolve('acme', 'hello', q, latest, draw)?.executedVersion;

describe('weighted aliases', () => {
  it('resolve runs the additional version when the draw is below its weight, the target otherwise and without a draw', async () => {
    expect(await publish('v1')).toBe(1);
    expect(await publish('v2')).toBe(2);
    const a = store.versions.createAlias('acme', 'hello', 'prod', '1', '', { version: '2', weight: 0.3 });
    expect(a?.routing).toEqual({ version: '2', weight: 0.3 });
    expect(store.versions.alias('acme', 'hello', 'prod')).toMatchObject({ target: '1', routing: { version: '2', weight: 0.3 } });
    expect(executed('prod', 0)).toBe('2');
    expect(executed('prod', 0.2999)).toBe('2');
    expect(executed('prod', 0.3)).toBe('1');
    expect(executed('prod', 0.9999)).toBe('1');
    expect(executed('prod')).toBe('1');
    expect(store.versions.resolve('acme', 'hello', 'prod', latest, 0.1)).toMatchObject({ alias: 'prod', fn: { published: 2 } });
    // A draw means nothing to a version or $LATEST.
    expect(executed('1', 0)).toBe('1');
    expect(executed('$LATEST', 0)).toBe('$LATEST');
    // Over many evenly spread draws, the additional version runs its weight's share exactly.
    const n = 1000;
    const runs = Array.from({ length: n }, (_, i) => executed('prod', i / n)).filter((v) => v === '2').length;
    expect(runs).toBe(300);
  });

  it('updateAlias keeps the routing when not given, replaces it, and removes it with null', async () => {
    await publish('v1');
    await publish('v2');
    await publish('v3');
    store.versions.createAlias('acme', 'hello', 'prod', '1', '', { version: '2', weight: 0.5 });
    expect(store.versions.updateAlias('acme', 'hello', 'prod', { description: 'x' })?.routing).toEqual({ version: '2', weight: 0.5 });
    expect(store.versions.updateAlias('acme', 'hello', 'prod', { target: '3', routing: { version: '2', weight: 1 } })).toMatchObject({ target: '3', routing: { version: '2', weight: 1 } });
    expect(executed('prod', 0.99)).toBe('2');
    const removed = store.versions.updateAlias('acme', 'hello', 'prod', { routing: null });
    expect(removed?.routing).toBeUndefined();
    expect(store.versions.alias('acme', 'hello', 'prod')?.routing).toBeUndefined();
    expect(executed('prod', 0)).toBe('3');
  });

  it('a version an alias routes to cannot be deleted until the routing goes', async () => {
    await publish('v1');
    await publish('v2');
    store.versions.createAlias('acme', 'hello', 'prod', '1', '', { version: '2', weight: 0.1 });
    expect(store.versions.deleteVersion('acme', 'hello', 2)).toBe('aliased');
    expect(store.versions.deleteVersion('acme', 'hello', 1)).toBe('aliased');
    store.versions.updateAlias('acme', 'hello', 'prod', { routing: null });
    expect(store.versions.deleteVersion('acme', 'hello', 2)).toBe('deleted');
  });
});
