import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InvokeOutcome } from '../types.ts';
import type { BillingInput } from './billing.ts';
import { stageCode } from './code.ts';
import { executionLog, LOG_TEXT_MAX_BYTES, type ExecutionLog } from './log-text.ts';
import { FLUSH_DELAY_MS, FLUSH_ENTRIES } from './logs.ts';
import { openStore, type Store, type StoreOptions } from './store.ts';
import { manualClock, tempDir, type ManualClock, type TempDir } from './testing.ts';

let dir: TempDir;
let clock: ManualClock;
let store: Store;

function open(opts: Partial<StoreOptions> = {}): Store {
  return openStore({ dataDir: dir.path, clock, ...opts });
}

beforeEach(async () => {
  dir = tempDir();
  clock = manualClock();
  store = open();
  store.tenants.create({ id: 'acme' });
  store.tenants.create({ id: 'zeta' });
  await deploy('acme', 'f');
  await deploy('acme', 'g');
  await deploy('zeta', 'f');
});
afterEach(() => {
  vi.useRealTimers();
  store.close();
  dir.remove();
});

async function deploy(tenant: string, name: string): Promise<void> {
  const stagedDir = await stageCode(dir.path, [{ path: 'index.js', isDir: false, mode: 0o644, read: () => Buffer.from('x') }]);
  store.functions.deploy(tenant, name, { runtime: 'nodejs', handler: 'index.handler', cls: 'standard', timeoutMs: 1000, env: {} }, { stagedDir, sha256: '0'.repeat(64), size: 1 });
}

const outcome = (o: Partial<InvokeOutcome> = {}): InvokeOutcome => ({
  status: 'ok', payload: Buffer.from('{}'), durationMs: 12.5, cpuMs: 10, memGBs: 0.002, maxMemMB: 64, coldStart: false, initMs: 0, logs: '', ...o,
});

let n = 0;
/** One execution of tenant/fn, billed and logged as the gateway does; returns its request id. */
function run(tenant: string, fn: string, logs = `line ${n + 1}\n`, o: Partial<InvokeOutcome> = {}): string {
  const requestId = `req-${++n}`;
  const billing: BillingInput = { id: requestId, invocationId: requestId, tenant, function: fn, caller: tenant, cls: 'high', cpuMs: 1000, memGBs: 0, price: 2, memoryPrice: 0.25 };
  store.billing.record(billing, executionLog({ requestId, attempt: 1, type: 'sync', version: 1 }, outcome({ logs, ...o })));
  return requestId;
}

const ids = (tenant: string, fn: string, q: Parameters<Store['logs']['list']>[2] = { limit: 1000 }): string[] => store.logs.list(tenant, fn, q).map((e) => e.requestId);
const rowsOf = (tenant: string, fn: string): number => (store.db.prepare('SELECT COUNT(*) AS n FROM logs WHERE tenant = ? AND function = ?').get(tenant, fn) as { n: number }).n;

describe('the log text of an execution', () => {
  it('is START, what the function printed, END and REPORT, as Lambda writes it', () => {
    const log = executionLog({ requestId: 'r1', attempt: 1, type: 'sync', version: 7, published: 2 }, outcome({ logs: 'hello\nworld', coldStart: true, initMs: 80 }));
    // Lambda's name of the version (published 2), not Fare's deploy number (7); `$LATEST` when none was published.
    expect(log.text).toBe(
      'START RequestId: r1 Version: 2\nhello\nworld\nEND RequestId: r1\n' +
        'REPORT RequestId: r1\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMax Memory Used: 64 MB\tInit Duration: 80.00 ms\t\n',
    );
    expect(log).toMatchObject({ status: 'ok', durationMs: 12.5, truncated: false });
  });

  it('keeps the beginning and the end of output past the cap, whole characters only, with START/END/REPORT intact, marked truncated', () => {
    const big = `the first line\n${'é'.repeat(LOG_TEXT_MAX_BYTES)}\nthe last line\n`;
    const log = executionLog({ requestId: 'r1', attempt: 2, type: 'async', version: 1 }, outcome({ logs: big, status: 'error', errorType: 'Sandbox.Timedout' }));
    expect(log.truncated).toBe(true);
    expect(Buffer.byteLength(log.text)).toBeLessThanOrEqual(LOG_TEXT_MAX_BYTES);
    expect(Buffer.byteLength(log.text)).toBeGreaterThan(LOG_TEXT_MAX_BYTES - 40);
    expect(log.text).toMatch(/^START RequestId: r1 Version: \$LATEST\nthe first line\né+\n\[… \d+ bytes of output omitted …\]\né+\nthe last line\nEND RequestId: r1\nREPORT RequestId: r1\t/);
    const omitted = Number(/\[… (\d+) bytes/.exec(log.text)?.[1]);
    const kept = Buffer.byteLength(log.text.slice(log.text.indexOf('\n') + 1, log.text.indexOf('END RequestId'))) - Buffer.byteLength(`[… ${omitted} bytes of output omitted …]\n`) - 1;
    expect(kept + omitted).toBe(Buffer.byteLength(big));
    expect(log.text).not.toContain('\uFFFD');
    expect(log).toMatchObject({ status: 'error', errorType: 'Sandbox.Timedout', attempt: 2, type: 'async' });
    // Just under the cap: kept whole.
    const fits = executionLog({ requestId: 'r1', attempt: 1, type: 'sync', version: 1 }, outcome({ logs: 'x'.repeat(LOG_TEXT_MAX_BYTES - 300) }));
    expect(fits.truncated).toBe(false);
  });

  it('is marked truncated when the instance already left output out, even if what is left fits', () => {
    const log = executionLog({ requestId: 'r1', attempt: 1, type: 'sync', version: 1 }, outcome({ logs: 'head\n[… 99 bytes of output omitted …]\ntail\n', logsOmittedBytes: 99 }));
    expect(log.truncated).toBe(true);
    expect(log.text).toContain('head\n[… 99 bytes of output omitted …]\ntail\n');
  });

  it('is cut to the cap by the store too, if a caller hands over more', () => {
    const log: ExecutionLog = { requestId: 'big', attempt: 1, type: 'sync', version: 1, status: 'ok', durationMs: 1, text: `the start\n${'a'.repeat(LOG_TEXT_MAX_BYTES)}the end\n`, truncated: false };
    store.billing.record({ id: 'big', invocationId: 'big', tenant: 'acme', function: 'f', caller: 'acme', cls: 'low', cpuMs: 1, memGBs: 0, price: 0.5, memoryPrice: 0.25 }, log);
    const [e] = store.logs.list('acme', 'f', { limit: 1 });
    expect(e?.truncated).toBe(true);
    expect(e?.bytes).toBeLessThanOrEqual(LOG_TEXT_MAX_BYTES);
    expect(e?.text.startsWith('the start\n')).toBe(true);
    expect(e?.text).toMatch(/\[… \d+ bytes of output omitted …\]/);
    expect(e?.text.endsWith('the end\n')).toBe(true);
  });
});

describe('function logs', () => {
  it('keep one entry per execution with its billing facts, newest last', () => {
    const a = run('acme', 'f', 'first\n');
    clock.advance(1000);
    const b = run('acme', 'f', 'second\n', { status: 'error', errorType: 'RangeError' });
    const entries = store.logs.list('acme', 'f', { limit: 100 });
    expect(entries.map((e) => e.requestId)).toEqual([a, b]);
    expect(entries[1]).toMatchObject({ tenant: 'acme', function: 'f', cls: 'high', cpuMs: 1000, costMicroCents: 2, at: clock(), status: 'error', errorType: 'RangeError', type: 'sync', attempt: 1, version: 1, truncated: false });
    expect(entries[1]?.text).toContain('\nsecond\nEND RequestId: ');
    expect((entries[0]?.seq ?? 0) < (entries[1]?.seq ?? 0)).toBe(true);
  });

  it('entered from elsewhere (a cluster\'s log stream) once per execution: an entry read again is skipped, another attempt of it is not', () => {
    const a = run('acme', 'f', 'mine\n');
    store.logs.flush();
    const row = store.db.prepare('SELECT * FROM logs WHERE request_id = ?').get(a) as Record<string, unknown>;
    delete row.seq;
    // A gateway restarted before it saved its place in the stream reads its own last entry again.
    expect(store.logs.ingest([row as never])).toBe(0);
    expect(store.logs.ingest([{ ...row, attempt: 2 } as never, { ...row, type: 'async' } as never])).toBe(2);
    expect(rowsOf('acme', 'f')).toBe(3);
    expect(store.logs.list('acme', 'f', { limit: 10 }).map((e) => [e.type, e.attempt])).toEqual([['sync', 1], ['sync', 2], ['async', 1]]);
  });

  it('return the newest `limit` since a time, oldest first; one request; or page forward after a cursor', () => {
    const t0 = clock();
    const all: string[] = [];
    for (let i = 0; i < 10; i++) {
      all.push(run('acme', 'f'));
      clock.advance(1000);
    }
    expect(ids('acme', 'f', { limit: 3 })).toEqual(all.slice(7));
    expect(ids('acme', 'f', { limit: 100, since: t0 + 5000 })).toEqual(all.slice(5));
    expect(ids('acme', 'f', { limit: 2, since: t0 + 5000 })).toEqual(all.slice(8));
    expect(ids('acme', 'f', { limit: 100, since: t0 + 60_000 })).toEqual([]);
    expect(ids('acme', 'f', { limit: 100, requestId: all[4] as string })).toEqual([all[4]]);
    const entries = store.logs.list('acme', 'f', { limit: 100 });
    const cursor = entries[2]?.seq ?? 0;
    expect(ids('acme', 'f', { limit: 4, after: cursor })).toEqual(all.slice(3, 7));
    expect(ids('acme', 'f', { limit: 100, after: entries[9]?.seq ?? 0 })).toEqual([]);
    expect(store.logs.cursor()).toBe(entries[9]?.seq);
  });

  it('are each tenant\'s own: the same function name elsewhere is another log', () => {
    const mine = run('acme', 'f');
    const theirs = run('zeta', 'f');
    const other = run('acme', 'g');
    expect(ids('acme', 'f')).toEqual([mine]);
    expect(ids('zeta', 'f')).toEqual([theirs]);
    expect(ids('acme', 'g')).toEqual([other]);
    expect(ids('zeta', 'f', { limit: 10, requestId: mine })).toEqual([]);
    expect(ids('zeta', 'g')).toEqual([]);
  });

  it('keep at most the newest `entries` per function, pruning 1 % below the limit, and keep totals exact', () => {
    store.close();
    store = open({ logRetention: { entries: 200 } });
    const all: string[] = [];
    for (let i = 0; i < 500; i++) {
      all.push(run('acme', 'f'));
      if (i % 7 === 0) run('acme', 'g');
      if (i % 10 === 9) store.logs.flush(); // as the turns after invocations do
      expect(rowsOf('acme', 'f')).toBeLessThanOrEqual(200);
    }
    const kept = ids('acme', 'f');
    expect(kept.length).toBeLessThanOrEqual(200);
    expect(kept.length).toBeGreaterThanOrEqual(198 - FLUSH_ENTRIES);
    expect(kept).toEqual(all.slice(all.length - kept.length));
    expect(store.logs.totals('acme', 'f').entries).toBe(rowsOf('acme', 'f'));
    const bytes = (store.db.prepare("SELECT SUM(bytes) AS b FROM logs WHERE tenant = 'acme' AND function = 'f'").get() as { b: number }).b;
    expect(store.logs.totals('acme', 'f').bytes).toBe(bytes);
    expect(rowsOf('acme', 'g')).toBe(72); // another function is not pruned for f's sake
  });

  it('keep at most `bytes` of text per function, but always the newest entry', () => {
    store.close();
    store = open({ logRetention: { bytes: 10_000 } });
    const all: string[] = [];
    for (let i = 0; i < 60; i++) all.push(run('acme', 'f', `${'x'.repeat(900)}\n`));
    expect(store.logs.totals('acme', 'f').bytes).toBeLessThanOrEqual(10_000);
    const kept = ids('acme', 'f');
    expect(kept.length).toBeGreaterThan(5);
    expect(kept).toEqual(all.slice(all.length - kept.length));
    const huge = run('acme', 'f', `${'y'.repeat(50_000)}\n`);
    expect(ids('acme', 'f')).toEqual([huge]);
  });

  it('are deleted with their function: gone at once, swept in the background, and a new function of that name starts empty', async () => {
    vi.useFakeTimers({ toFake: ['setImmediate', 'clearImmediate'] }); // the sweep runs when the test says
    for (let i = 0; i < 300; i++) run('acme', 'f');
    run('zeta', 'f');
    store.logs.flush();
    const buffered = run('acme', 'f'); // not yet written when the function goes
    expect(store.functions.delete('acme', 'f')).toBe(true);
    await deploy('acme', 'f'); // at once, before the buffer was written
    expect(store.logs.totals('acme', 'f')).toEqual({ entries: 0, bytes: 0 });
    expect(ids('acme', 'f')).toEqual([]);
    const fresh = run('acme', 'f');
    expect(ids('acme', 'f')).toEqual([fresh]);
    expect(ids('acme', 'f')).not.toContain(buffered);
    expect(rowsOf('acme', 'f')).toBe(301);
    vi.runAllTimers();
    expect(rowsOf('acme', 'f')).toBe(1);
    expect(rowsOf('zeta', 'f')).toBe(1);
    expect(ids('acme', 'f')).toEqual([fresh]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM log_floors').get()).toEqual({ n: 0 });
  });

  it('finish deleting a function\'s entries after a restart', () => {
    for (let i = 0; i < 300; i++) run('acme', 'f');
    store.logs.flush();
    store.functions.delete('acme', 'f');
    store.close(); // before the background sweep ran
    vi.useFakeTimers({ toFake: ['setImmediate', 'clearImmediate'] });
    store = open();
    expect(rowsOf('acme', 'f')).toBe(300);
    vi.runAllTimers();
    expect(rowsOf('acme', 'f')).toBe(0);
  });

  it('drop the entry of an execution whose function was deleted before it was written', () => {
    run('acme', 'nope');
    expect(store.logs.flush()).toBe(0);
    expect(rowsOf('acme', 'nope')).toBe(0);
  });

  it('are buffered: written within FLUSH_DELAY_MS, at once after the turn when FLUSH_ENTRIES wait, before any read, and at close', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    run('acme', 'f');
    expect(rowsOf('acme', 'f')).toBe(0);
    vi.advanceTimersByTime(FLUSH_DELAY_MS - 1);
    expect(rowsOf('acme', 'f')).toBe(0);
    vi.advanceTimersByTime(1);
    expect(rowsOf('acme', 'f')).toBe(1);

    for (let i = 0; i < FLUSH_ENTRIES; i++) run('acme', 'f');
    expect(rowsOf('acme', 'f')).toBe(1);
    vi.advanceTimersToNextTimer(); // the immediate, not the 100 ms timer
    expect(rowsOf('acme', 'f')).toBe(1 + FLUSH_ENTRIES);

    run('acme', 'f');
    expect(ids('acme', 'f')).toHaveLength(FLUSH_ENTRIES + 2);
    const last = run('acme', 'f');
    store.close();
    store = open();
    expect(ids('acme', 'f').at(-1)).toBe(last);
  });

  it('come from async attempts too, one entry per attempt, through finish and retry', () => {
    const inv = store.invocations.enqueue({ id: 'ev', tenant: 'acme', function: 'f', version: 1, caller: 'acme', cls: 'low', classIndex: 3, payload: Buffer.from('{}') });
    const billing = (attempt: number): BillingInput => ({ id: `ev#${attempt}`, invocationId: 'ev', tenant: 'acme', function: 'f', caller: 'acme', cls: 'low', cpuMs: 10, memGBs: 0, price: 0.5, memoryPrice: 0.25 });
    store.invocations.claim();
    store.invocations.retry(inv.id, clock(), { billing: billing(1), log: executionLog({ requestId: 'ev', attempt: 1, type: 'async', version: 1 }, outcome({ status: 'error', logs: 'try 1' })) });
    store.invocations.claim();
    store.invocations.finish(inv.id, { status: 'succeeded', result: null }, billing(2), executionLog({ requestId: 'ev', attempt: 2, type: 'async', version: 1 }, outcome({ logs: 'try 2' })));
    const entries = store.logs.list('acme', 'f', { limit: 10, requestId: 'ev' });
    expect(entries.map((e) => [e.attempt, e.status, e.type, e.cls])).toEqual([[1, 'error', 'async', 'low'], [2, 'ok', 'async', 'low']]);
    expect(entries[1]?.text).toContain('try 2\n');
  });
});
