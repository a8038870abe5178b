import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BillingInput } from './billing.ts';
import type { NewInvocation } from './invocations.ts';
import { openStore, type Store } from './store.ts';
import { manualClock, tempDir, type ManualClock, type TempDir } from './testing.ts';

let dir: TempDir;
let clock: ManualClock;
let store: Store;
beforeEach(() => {
  dir = tempDir();
  clock = manualClock();
  store = openStore({ dataDir: dir.path, clock });
});
afterEach(() => {
  store.close();
  dir.remove();
});

const inv = (id: string, classIndex = 2, extra: Partial<NewInvocation> = {}): NewInvocation => ({
  id,
  tenant: 'acme',
  function: 'f',
  version: 1,
  caller: 'acme',
  cls: ['high', 'middle', 'standard', 'low'][classIndex] ?? 'standard',
  classIndex,
  payload: Buffer.from(`{"n":"${id}"}`),
  ...extra,
});

const bill = (id: string, attempt: number): BillingInput => ({
  id: `${id}#${attempt}`,
  invocationId: id,
  tenant: 'acme',
  function: 'f',
  caller: 'acme',
  cls: 'standard',
  cpuMs: 100,
  memGBs: 0.01,
  price: 1,
  memoryPrice: 0.25,
});

describe('the async queue', () => {
  it('stores what was enqueued, queued, with no attempts yet', () => {
    const got = store.invocations.enqueue(inv('a', 2, { clientContext: 'e30=' }));
    expect(got).toMatchObject({ id: 'a', status: 'queued', attempts: 0, clientContext: 'e30=', createdAt: clock() });
    expect(got.payload.toString()).toBe('{"n":"a"}');
    expect(store.invocations.get('nope')).toBeUndefined();
  });

  it('hands out the highest class first, then the oldest, each once', () => {
    store.invocations.enqueue(inv('low-1', 3));
    store.invocations.enqueue(inv('std-1', 2));
    store.invocations.enqueue(inv('high-1', 0));
    store.invocations.enqueue(inv('std-2', 2));
    const order = [1, 2, 3, 4, 5].map(() => store.invocations.claim()?.id);
    expect(order).toEqual(['high-1', 'std-1', 'std-2', 'low-1', undefined]);
    expect(store.invocations.counts()).toMatchObject({ queued: 0, running: 4 });
  });

  it('adopts an invocation handed over from another store with its qualifier and the ARN it was invoked by (a cluster gateway that had no copy of it)', () => {
    const other = openStore({ dataDir: tempDir().path, clock });
    try {
      const sent = other.invocations.enqueue(inv('v', 2, { qualifier: '3', invokedArn: 'arn:aws:lambda:us-east-1:acme:function:f:live' }));
      const got = store.invocations.adopt(sent);
      expect(got).toMatchObject({ id: 'v', status: 'running', attempts: 1, qualifier: '3', invokedArn: 'arn:aws:lambda:us-east-1:acme:function:f:live' });
      expect(store.invocations.get('v')).toMatchObject({ qualifier: '3', invokedArn: 'arn:aws:lambda:us-east-1:acme:function:f:live' });
    } finally {
      other.close();
    }
  });

  it('marks a claim running and counts the attempt', () => {
    store.invocations.enqueue(inv('a'));
    clock.advance(5);
    expect(store.invocations.claim()).toMatchObject({ id: 'a', status: 'running', attempts: 1, startedAt: clock() });
  });

  it('completes an invocation and writes its billing record in the same transaction', () => {
    store.invocations.enqueue(inv('a'));
    store.invocations.claim();
    expect(store.invocations.finish('a', { status: 'succeeded', result: Buffer.from('"ok"'), version: 2 }, bill('a', 1))).toBe(true);
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', version: 2, finishedAt: clock() });
    expect(store.invocations.get('a')?.result?.toString()).toBe('"ok"');
    expect(store.billing.get('a#1')).toMatchObject({ invocationId: 'a', costMicroCents: 0.1 + 0.0025 });
    // Finishing twice is refused and bills nothing more.
    expect(store.invocations.finish('a', { status: 'failed', result: null }, bill('a', 2))).toBe(false);
    expect(store.billing.get('a#2')).toBeUndefined();
  });

  it('rolls back the completion if the billing record cannot be written', () => {
    store.invocations.enqueue(inv('a'));
    store.invocations.claim();
    store.billing.record(bill('a', 1)); // the id is now taken
    expect(() => store.invocations.finish('a', { status: 'succeeded', result: null }, bill('a', 1))).toThrow();
    expect(store.invocations.get('a')?.status).toBe('running');
  });

  it('retries after a delay, and a throttled attempt is not counted', () => {
    store.invocations.enqueue(inv('a'));
    store.invocations.claim();
    expect(store.invocations.retry('a', clock() + 1000, { billing: bill('a', 1), error: 'Boom' })).toBe(true);
    expect(store.invocations.get('a')).toMatchObject({ status: 'queued', attempts: 1, error: 'Boom' });
    expect(store.invocations.nextRunAfter()).toBe(clock() + 1000);
    expect(store.invocations.claim()).toBeUndefined();
    clock.advance(1000);
    expect(store.invocations.claim()).toMatchObject({ id: 'a', attempts: 2 });
    store.invocations.retry('a', clock(), { refundAttempt: true });
    expect(store.invocations.get('a')?.attempts).toBe(1);
    expect(store.billing.tenantMonth('acme', '2025-01').invocations).toBe(1);
  });

  it('requeues what was running when the store is reopened (at least once)', () => {
    store.invocations.enqueue(inv('a'));
    store.invocations.enqueue(inv('b'));
    store.invocations.claim();
    store.close();
    store = openStore({ dataDir: dir.path, clock });
    expect(store.recovered).toBe(1);
    expect(store.invocations.counts()).toMatchObject({ queued: 2, running: 0 });
    expect(store.invocations.claim()).toMatchObject({ id: 'a', attempts: 2 });
  });

  it('does not requeue when opened as a reader', () => {
    store.invocations.enqueue(inv('a'));
    store.invocations.claim();
    const reader = openStore({ dataDir: dir.path, clock, recoverQueue: false });
    expect(reader.recovered).toBe(0);
    expect(reader.invocations.get('a')?.status).toBe('running');
    reader.close();
  });

  it('keeps an accepted enqueue across kill -9 and requeues the one that was running', () => {
    const storeUrl = new URL('./store.ts', import.meta.url).href;
    const script = join(dir.path, 'crash.ts');
    writeFileSync(
      script,
      `import { openStore } from ${JSON.stringify(storeUrl)};
       const s = openStore({ dataDir: process.argv[2] });
       const inv = (id) => ({ id, tenant: 't', function: 'f', version: 1, caller: 't', cls: 'standard', classIndex: 2, payload: Buffer.from(id) });
       s.invocations.enqueue(inv('x'));
       s.invocations.enqueue(inv('y'));
       s.invocations.claim();
       process.stdout.write('enqueued\\n');
       process.kill(process.pid, 'SIGKILL');`,
    );
    const repo = fileURLToPath(new URL('../../../', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script, join(dir.path, 'crashed')], { cwd: repo, encoding: 'utf8' });
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).toBe('enqueued\n');
    const after = openStore({ dataDir: join(dir.path, 'crashed'), clock });
    expect(after.recovered).toBe(1);
    expect(after.invocations.counts()).toMatchObject({ queued: 2, running: 0 });
    expect(after.invocations.get('x')).toMatchObject({ status: 'queued', attempts: 1 });
    after.close();
  });

  it('purges finished invocations older than a cutoff, keeping their billing', () => {
    store.invocations.enqueue(inv('a'));
    store.invocations.claim();
    store.invocations.finish('a', { status: 'succeeded', result: null }, bill('a', 1));
    clock.advance(10);
    expect(store.invocations.purgeFinished(clock())).toBe(1);
    expect(store.invocations.get('a')).toBeUndefined();
    expect(store.billing.get('a#1')).toBeDefined();
  });
});

describe('budget reservations', () => {
  it('are held from enqueue until the attempt is billed, and given up by a retry unless kept', () => {
    store.invocations.enqueue(inv('a', 2, { reservedMicroCents: 3 }));
    store.invocations.enqueue(inv('b', 2, { reservedMicroCents: 2 }));
    store.invocations.enqueue(inv('c', 2, { reservedMicroCents: 1, tenant: 'zeta' }));
    expect([store.reservations.total('acme'), store.reservations.total('zeta')]).toEqual([5, 1]);
    expect(store.invocations.claim()).toMatchObject({ id: 'a', reservedMicroCents: 3 });
    // The claim was admitted afresh with a smaller estimate.
    expect(store.invocations.reserve('a', 0.5)).toBe(true);
    expect(store.invocations.get('a')).toMatchObject({ reservedMicroCents: 0.5, cls: 'standard' });
    expect(store.reservations.total('acme')).toBe(2.5);
    // A throttled attempt keeps its place; a failed (billed) one gives it up until its next claim.
    expect(store.invocations.retry('a', clock(), { refundAttempt: true, keepReservation: true })).toBe(true);
    expect(store.reservations.total('acme')).toBe(2.5);
    store.invocations.claim();
    expect(store.invocations.retry('a', clock(), { billing: bill('a', 1) })).toBe(true);
    expect(store.invocations.get('a')?.reservedMicroCents).toBe(0);
    expect(store.reservations.total('acme')).toBe(2);
    store.invocations.claim(); // a again (older)
    store.invocations.claim(); // b, admitted at the cheapest class (degraded)
    expect(store.invocations.reserve('b', 1, { name: 'low', index: 3 })).toBe(true);
    expect(store.invocations.get('b')).toMatchObject({ reservedMicroCents: 1, cls: 'low', classIndex: 3 });
    store.invocations.finish('b', { status: 'succeeded', result: null }, bill('b', 1));
    expect(store.reservations.total('acme')).toBe(0);
    expect(store.reservations.total('zeta')).toBe(1);
    expect(store.invocations.reserve('b', 9)).toBe(false); // no longer running
  });

  it('are rebuilt from the queue when the store is reopened', () => {
    store.invocations.enqueue(inv('a', 2, { reservedMicroCents: 3 }));
    store.invocations.enqueue(inv('b', 2, { reservedMicroCents: 2 }));
    store.invocations.enqueue(inv('c', 2, { reservedMicroCents: 4 }));
    store.invocations.claim(); // a: running when the process stops
    store.invocations.claim();
    store.invocations.finish('b', { status: 'succeeded', result: null }, bill('b', 1));
    store.close();
    store = openStore({ dataDir: dir.path, clock });
    expect(store.reservations.total('acme')).toBe(7);
    const reader = openStore({ dataDir: dir.path, clock, recoverQueue: false });
    expect(reader.reservations.total('acme')).toBe(7);
    reader.close();
  });

  it('sync holds are released once, and the ledger returns to exactly 0', () => {
    const release = [0.1, 0.2, 0.3].map((uc) => store.reservations.hold('acme', uc));
    expect(store.reservations.total('acme')).toBeCloseTo(0.6, 12);
    for (const r of release) {
      r();
      r();
    }
    expect(store.reservations.total('acme')).toBe(0);
  });
});

describe('cost history', () => {
  it('keeps the latest executions of each function, from memory or, after a restart, from billing', () => {
    for (let i = 1; i <= 25; i++) store.billing.record({ ...bill(`x${i}`, 1), cpuMs: i });
    const recent = store.costs.recent('acme', 'f');
    expect(recent.map((r) => r.cpuMs)).toEqual(Array.from({ length: 20 }, (_, i) => i + 6));
    store.billing.record({ ...bill('x26', 1), cpuMs: 26 });
    expect(store.costs.recent('acme', 'f').map((r) => r.cpuMs).slice(-2)).toEqual([25, 26]);
    expect(store.costs.recent('acme', 'other')).toEqual([]);
    store.close();
    store = openStore({ dataDir: dir.path, clock });
    expect(store.costs.recent('acme', 'f').map((r) => r.cpuMs)).toEqual(Array.from({ length: 20 }, (_, i) => i + 7));
  });
});
