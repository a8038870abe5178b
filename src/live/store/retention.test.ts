import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InvokeOutcome } from '../types.ts';
import type { BillingInput } from './billing.ts';
import { stageCode } from './code.ts';
import { executionLog } from './log-text.ts';
import { MIN_RETENTION_MS } from './retention.ts';
import { openStore, type Store, type StoreOptions } from './store.ts';
import { manualClock, tempDir, type ManualClock, type TempDir } from './testing.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let dir: TempDir;
let clock: ManualClock;
let store: Store;

async function open(opts: Partial<StoreOptions>): Promise<void> {
  store = openStore({ dataDir: dir.path, clock, ...opts });
  store.tenants.create({ id: 'acme' });
  store.tenants.create({ id: 'zeta' });
  for (const [tenant, name] of [['acme', 'f'], ['acme', 'g'], ['zeta', 'f']] as const) {
    const stagedDir = await stageCode(dir.path, [{ path: 'index.js', isDir: false, mode: 0o644, read: () => Buffer.from('x') }]);
    store.functions.deploy(tenant, name, { runtime: 'nodejs', handler: 'index.handler', cls: 'standard', timeoutMs: 1000, env: {} }, { stagedDir, sha256: '0'.repeat(64), size: 1 });
  }
}

beforeEach(() => {
  dir = tempDir();
  // Late December, so the records span two months.
  clock = manualClock(Date.UTC(2024, 11, 27, 22, 30));
});
afterEach(() => {
  vi.useRealTimers();
  store.close();
  dir.remove();
});

/** A seeded stream of doubles in [0, 1) (mulberry32): CPU times and memory with all their digits. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const outcome = (cpuMs: number): InvokeOutcome => ({
  status: 'ok', payload: Buffer.from('{}'), durationMs: 12.5, cpuMs, memGBs: 0.002, maxMemMB: 64, coldStart: false, initMs: 0, logs: 'a line\n',
});

const CLASSES = [['high', 2], ['middle', 1.5], ['low', 0.5]] as const;

/**
 * `n` executions every ~23 minutes from now on, of acme's f and g and zeta's f at all classes,
 * billed and logged as the gateway does; every 5th an async invocation (enqueued, claimed,
 * finished with its billing record). Returns the request ids with the time each was billed.
 */
let serial = 0;
function traffic(n: number, rnd: () => number): { id: string; at: number }[] {
  const out: { id: string; at: number }[] = [];
  for (let k = 0; k < n; k++) {
    const i = serial++;
    clock.advance(Math.floor(rnd() * 46 * 60_000));
    const [tenant, fn] = (['acme/f', 'acme/g', 'zeta/f'][i % 3] as string).split('/') as [string, string];
    const [cls, price] = CLASSES[Math.floor(rnd() * 3)] as (typeof CLASSES)[number];
    const cpuMs = rnd() * 900;
    const memGBs = rnd() * 0.05;
    const id = `r${i}`;
    if (i % 5 === 0) {
      store.invocations.enqueue({ id, tenant, function: fn, version: 1, caller: tenant, cls, classIndex: 0, payload: Buffer.from('{}') });
      store.invocations.claim();
      const billing: BillingInput = { id: `${id}#1`, invocationId: id, tenant, function: fn, caller: tenant, cls, cpuMs, memGBs, price, memoryPrice: 0.25 };
      store.invocations.finish(id, { status: 'succeeded', result: Buffer.from('1') }, billing, executionLog({ requestId: id, attempt: 1, type: 'async', version: 1 }, outcome(cpuMs)));
    } else {
      const billing: BillingInput = { id, invocationId: id, tenant, function: fn, caller: tenant, cls, cpuMs, memGBs, price, memoryPrice: 0.25 };
      store.billing.record(billing, executionLog({ requestId: id, attempt: 1, type: 'sync', version: 1 }, outcome(cpuMs)));
    }
    out.push({ id, at: clock() });
  }
  store.logs.flush();
  return out;
}

/** Everything a bill or usage shows: GET /v1/bill (per function and class), /v1/bills and /v1/usage. */
function bills(): unknown {
  const b = store.billing;
  return {
    acme: ['2024-12', '2025-01'].map((m) => ({ total: b.tenantMonth('acme', m), functions: b.byFunction('acme', m) })),
    zeta: ['2024-12', '2025-01'].map((m) => ({ total: b.tenantMonth('zeta', m), functions: b.byFunction('zeta', m) })),
    all: ['2024-12', '2025-01'].map((m) => b.byTenant(m)),
    months: [b.months('acme'), b.months('zeta')],
  };
}

const count = (sql: string, ...args: unknown[]): number => (store.db.prepare(sql).get(...args) as { n: number }).n;

describe('the retention clean-up', () => {
  it('deletes records and logs older than the retention, in batches, and leaves bills and usage exactly as they were', async () => {
    await open({ retention: { maxAgeMs: 7 * DAY, batchRows: 7 } });
    const rnd = random(18);
    traffic(900, rnd);
    // An Event accepted long ago that has not run yet: queued work is never cleaned up.
    store.invocations.enqueue({ id: 'waiting', tenant: 'acme', function: 'f', version: 1, caller: 'acme', cls: 'low', classIndex: 3, payload: Buffer.from('{}'), reservedMicroCents: 0 });
    const queuedAt = clock();
    traffic(300, rnd);
    const before = bills();
    const rows = { billing: count('SELECT COUNT(*) AS n FROM billing'), logs: count('SELECT COUNT(*) AS n FROM logs'), invocations: count('SELECT COUNT(*) AS n FROM invocations') };
    expect(rows.billing).toBe(1200);
    expect(Date.UTC(2024, 11, 27) < clock() - 7 * DAY).toBe(true);

    const cutoff = clock() - 7 * DAY;
    const batches = store.retention?.sweepNow() ?? 0;
    const after = bills();

    // Rows went: every one older than the cutoff, none newer, in batches of at most 7.
    const left = { billing: count('SELECT COUNT(*) AS n FROM billing'), logs: count('SELECT COUNT(*) AS n FROM logs'), invocations: count('SELECT COUNT(*) AS n FROM invocations') };
    expect(left.billing).toBeLessThan(rows.billing / 2);
    expect(count('SELECT COUNT(*) AS n FROM billing WHERE at < ?', cutoff)).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM logs WHERE at < ?', cutoff)).toBe(0);
    expect(count("SELECT COUNT(*) AS n FROM invocations WHERE status = 'succeeded' AND finished_at < ?", cutoff)).toBe(0);
    expect(left.logs).toBe(left.billing);
    expect(left.invocations).toBeLessThan(rows.invocations);
    expect(store.retention?.stats()).toMatchObject({ billing: rows.billing - left.billing, logs: rows.logs - left.logs, invocations: rows.invocations - left.invocations });
    expect(batches).toBeGreaterThanOrEqual(Math.ceil((rows.billing - left.billing) / 7));
    expect(store.invocations.get('waiting')).toMatchObject({ status: 'queued', createdAt: queuedAt });

    // The bills: the very same numbers.
    expect(after).toEqual(before);
    expect(count('SELECT COUNT(*) AS n FROM usage_hourly')).toBeGreaterThan(0);
    expect(count('SELECT SUM(invocations) AS n FROM usage_hourly')).toBe(rows.billing - left.billing);

    // Each function's log totals count what is left, so its own limits keep working.
    for (const [tenant, fn] of [['acme', 'f'], ['acme', 'g'], ['zeta', 'f']] as const) {
      expect(store.logs.totals(tenant, fn).entries).toBe(count('SELECT COUNT(*) AS n FROM logs WHERE tenant = ? AND function = ?', tenant, fn));
    }

    // Later records are billed on top of the aggregates; a second clean-up leaves bills as they are.
    traffic(200, rnd);
    const later = bills();
    clock.advance(2 * DAY);
    store.retention?.sweepNow();
    expect(bills()).toEqual(later);
  });

  it('keeps everything younger than the retention', async () => {
    await open({ retention: { maxAgeMs: 30 * DAY } });
    traffic(100, random(1));
    store.retention?.sweepNow();
    expect(count('SELECT COUNT(*) AS n FROM billing')).toBe(100);
    expect(count('SELECT COUNT(*) AS n FROM logs')).toBe(100);
    expect(count('SELECT COUNT(*) AS n FROM usage_hourly')).toBe(0);
  });

  it('runs on its own timer, a batch per turn of the event loop, once the store is open', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    await open({ retention: { maxAgeMs: 2 * HOUR, intervalMs: 60_000, batchRows: 10 } });
    traffic(100, random(2));
    const before = bills();
    expect(count('SELECT COUNT(*) AS n FROM billing WHERE at < ?', clock() - 2 * HOUR)).toBeGreaterThan(20);
    // The sweep at open found nothing; the next comes a minute later.
    await vi.advanceTimersByTimeAsync(61_000);
    expect(count('SELECT COUNT(*) AS n FROM billing WHERE at < ?', clock() - 2 * HOUR)).toBe(0);
    expect(store.retention?.stats().batches).toBeGreaterThan(3);
    expect(bills()).toEqual(before);
  });

  it("a cluster gateway's: keeps the records and logs still in the outbox, however old, and starts when told", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    await open({ retention: { maxAgeMs: 2 * HOUR, intervalMs: 60_000, deferStart: true } });
    const made = traffic(30, random(3));
    // Not shared yet (src/live/cluster/shared-state.ts fills the outbox from triggers): the 11th
    // execution's billing record and the 21st's log entry.
    const [unsharedBill, unsharedLog] = [made[10], made[20]] as [{ id: string; at: number }, { id: string; at: number }];
    const billId = count('SELECT COUNT(*) AS n FROM billing WHERE id = ?', unsharedBill.id) === 1 ? unsharedBill.id : `${unsharedBill.id}#1`;
    const logSeq = (store.db.prepare('SELECT seq AS n FROM logs WHERE request_id = ?').get(unsharedLog.id) as { n: number }).n;
    store.db.prepare("INSERT INTO outbox (topic, key) VALUES ('billing', json_array(?)), ('logs', json_array(?))").run(billId, logSeq);
    clock.advance(3 * HOUR);
    // Deferred: the timers pass, nothing is deleted until the owner starts it.
    await vi.advanceTimersByTimeAsync(61_000);
    expect(store.retention?.stats().sweeps).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM billing')).toBe(30);
    store.retention?.start();
    await vi.advanceTimersByTimeAsync(1000);
    // What came before the oldest unshared record went; it and what came after it stay.
    expect(count('SELECT COUNT(*) AS n FROM billing')).toBe(20);
    expect(count('SELECT COUNT(*) AS n FROM logs')).toBe(20);
    expect(count('SELECT COUNT(*) AS n FROM billing WHERE id = ?', billId)).toBe(1);
    // Once shared, the next sweep deletes the rest.
    const before = bills();
    store.db.exec('DELETE FROM outbox');
    await vi.advanceTimersByTimeAsync(61_000);
    expect(count('SELECT COUNT(*) AS n FROM billing')).toBe(0);
    expect(count('SELECT COUNT(*) AS n FROM logs')).toBe(0);
    expect(bills()).toEqual(before);
  });

  it('refuses a retention under a minute, before it opens anything', () => {
    expect(() => openStore({ dataDir: dir.path, clock, retention: { maxAgeMs: MIN_RETENTION_MS - 1 } })).toThrow(/retention must be at least 60 s/);
    store = openStore({ dataDir: dir.path, clock });
  });
});
