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
