import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BillingInput } from './billing.ts';
import { openStore, type Store } from './store.ts';
import { manualClock, tempDir, type ManualClock, type TempDir } from './testing.ts';

let dir: TempDir;
let clock: ManualClock;
let store: Store;
beforeEach(() => {
  dir = tempDir();
  clock = manualClock(Date.UTC(2025, 0, 31, 23, 59, 59));
  store = openStore({ dataDir: dir.path, clock });
});
afterEach(() => {
  store.close();
  dir.remove();
});

let n = 0;
const rec = (tenant: string, fn: string, cls: string, price: number, cpuMs: number, memGBs = 0): BillingInput => ({
  id: `r${++n}`,
  invocationId: `r${n}`,
  tenant,
  function: fn,
  caller: tenant,
  cls,
  cpuMs,
  memGBs,
  price,
  memoryPrice: 0.25,
});

describe('billing', () => {
  it('prices CPU-seconds at the class charged plus GB-seconds at the memory price', () => {
    const r = store.billing.record(rec('acme', 'f', 'high', 2, 1500, 2));
    expect(r).toMatchObject({ costMicroCents: 3.5, month: '2025-01', at: clock() });
  });

  it('aggregates per function (and class within it), per tenant and per month', () => {
    store.billing.record(rec('acme', 'f', 'high', 2, 1000));
    store.billing.record(rec('acme', 'f', 'low', 0.5, 1000));
    store.billing.record(rec('acme', 'g', 'standard', 1, 2000, 4));
    store.billing.record(rec('zeta', 'f', 'high', 2, 500));
    clock.advance(1000); // February, UTC
    store.billing.record(rec('acme', 'f', 'high', 2, 3000));

    expect(store.billing.byFunction('acme', '2025-01')).toEqual([
      {
        function: 'f',
        invocations: 2,
        cpuMs: 2000,
        memGBs: 0,
        costMicroCents: 2.5,
        classes: [
          { cls: 'high', invocations: 1, cpuMs: 1000, memGBs: 0, costMicroCents: 2 },
          { cls: 'low', invocations: 1, cpuMs: 1000, memGBs: 0, costMicroCents: 0.5 },
        ],
      },
      { function: 'g', invocations: 1, cpuMs: 2000, memGBs: 4, costMicroCents: 3, classes: [{ cls: 'standard', invocations: 1, cpuMs: 2000, memGBs: 4, costMicroCents: 3 }] },
    ]);
    expect(store.billing.tenantMonth('acme', '2025-01')).toEqual({ invocations: 3, cpuMs: 4000, memGBs: 4, costMicroCents: 5.5 });
    expect(store.billing.byTenant('2025-01')).toEqual([
      { tenant: 'acme', invocations: 3, cpuMs: 4000, memGBs: 4, costMicroCents: 5.5 },
      { tenant: 'zeta', invocations: 1, cpuMs: 500, memGBs: 0, costMicroCents: 1 },
    ]);
    expect(store.billing.months('acme').map((m) => [m.month, m.costMicroCents])).toEqual([
      ['2025-01', 5.5],
      ['2025-02', 6],
    ]);
    expect(store.billing.tenantMonth('nobody', '2025-01')).toEqual({ invocations: 0, cpuMs: 0, memGBs: 0, costMicroCents: 0 });
  });

  it('keeps the running monthly total equal to the sum of the records', () => {
    for (let i = 0; i < 200; i++) store.billing.record(rec('acme', `f${i % 7}`, 'middle', 1.5, 1 + ((i * 37) % 101), (i % 5) * 0.001));
    const total = store.billing.tenantMonth('acme', '2025-01');
    const sum = store.billing.byFunction('acme', '2025-01').reduce((s, f) => s + f.costMicroCents, 0);
    expect(total.invocations).toBe(200);
    expect(total.costMicroCents).toBeCloseTo(sum, 9);
  });
});

describe('billing: deferred records (a synchronous invocation’s, written in a batch)', () => {
  const written = (id: string): number => (store.db.prepare('SELECT COUNT(*) AS n FROM billing WHERE id = ?').get(id) as { n: number }).n;

  it('are counted by budget checks at once, and written in one batch shortly after', async () => {
    const before = store.billing.tenantMonth('acme', '2025-01');
    const a = store.billing.defer(rec('acme', 'f', 'high', 2, 1000));
    const b = store.billing.defer(rec('acme', 'g', 'low', 0.5, 2000, 2));
    expect(a.costMicroCents).toBe(2);
    expect(written(a.id)).toBe(0);
    expect(store.billing.pending).toBe(2);
    const now = store.billing.tenantMonth('acme', '2025-01');
    expect(now.invocations).toBe(before.invocations + 2);
    expect(now.costMicroCents).toBeCloseTo(before.costMicroCents + a.costMicroCents + b.costMicroCents, 9);
    // Another tenant's total is not touched by them.
    expect(store.billing.tenantMonth('zeta', '2025-01').invocations).toBe(0);
    // Within the batch's delay (10 ms) they are written, and the totals then come from the table alone.
    await new Promise((r) => setTimeout(r, 100));
    expect(store.billing.pending).toBe(0);
    expect(written(a.id) + written(b.id)).toBe(2);
    expect(store.billing.tenantMonth('acme', '2025-01')).toEqual(now);
  });

  it('are written before any other read, and when the store closes', () => {
    const a = store.billing.defer(rec('acme', 'f', 'high', 2, 1000));
    expect(store.billing.get(a.id)).toMatchObject({ id: a.id, costMicroCents: 2 });
    const b = store.billing.defer(rec('acme', 'f', 'high', 2, 500));
    expect(store.billing.byFunction('acme', '2025-01')[0]).toMatchObject({ function: 'f', invocations: 2, costMicroCents: 3 });
    const c = store.billing.defer(rec('acme', 'f', 'high', 2, 500));
    store.close();
    store = openStore({ dataDir: dir.path, clock });
    expect(store.billing.get(b.id)).toBeDefined();
    expect(store.billing.get(c.id)).toBeDefined();
    expect(store.billing.tenantMonth('acme', '2025-01')).toMatchObject({ invocations: 3, costMicroCents: 4 });
  });

  it('a batch that cannot be written is kept, still counted, and written with the next', () => {
    const errors: string[] = [];
    store.close();
    store = openStore({ dataDir: dir.path, clock, onBillingError: (e) => errors.push((e as Error).message) });
    store.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON billing WHEN NEW.tenant = 'acme' BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END`);
    const a = store.billing.defer(rec('acme', 'f', 'high', 2, 1000));
    store.billing.flush();
    expect(errors).toEqual(['disk full (test)']);
    expect(store.billing.pending).toBe(1);
    expect(written(a.id)).toBe(0);
    expect(store.billing.tenantMonth('acme', '2025-01').costMicroCents).toBe(2);
    store.db.exec('DROP TRIGGER refuse');
    const b = store.billing.defer(rec('acme', 'f', 'high', 2, 1000));
    store.billing.flush();
    expect(store.billing.pending).toBe(0);
    expect(written(a.id) + written(b.id)).toBe(2);
    expect(store.billing.tenantMonth('acme', '2025-01')).toMatchObject({ invocations: 2, costMicroCents: 4 });
  });
});

describe('billing: deferred records and durable writes', () => {
  it('an Event accepted after them writes them first (a crash then cannot lose them)', () => {
    store.tenants.create({ id: 'acme' });
    const a = store.billing.defer(rec('acme', 'f', 'high', 2, 1000));
    expect(store.billing.pending).toBe(1);
    store.invocations.enqueue({ id: 'e1', tenant: 'acme', function: 'f', version: 1, caller: 'acme', cls: 'high', classIndex: 0, payload: Buffer.from('{}') });
    expect(store.billing.pending).toBe(0);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM billing WHERE id = ?').get(a.id) as { n: number }).n).toBe(1);
  });
});
