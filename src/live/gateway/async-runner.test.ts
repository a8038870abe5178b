import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, stageCode, type NewInvocation, type Store } from '../store/index.ts';
import { manualClock, tempDir, type ManualClock, type TempDir } from '../store/testing.ts';
import { AsyncRunner } from './async-runner.ts';
import { FareContexts } from './fare-context.ts';
import type { PlatformResult } from './platform.ts';
import { FakePlatform, outcome } from './testing.ts';

let dir: TempDir;
let clock: ManualClock;
let store: Store;
let platform: FakePlatform;

beforeEach(async () => {
  dir = tempDir();
  clock = manualClock();
  store = openStore({ dataDir: dir.path, clock, scryptN: 1024 });
  platform = new FakePlatform();
  store.tenants.create({ id: 'acme' });
  const stagedDir = await stageCode(dir.path, [{ path: 'index.js', isDir: false, mode: 0o644, read: () => Buffer.from('x') }]);
  store.functions.deploy('acme', 'f', { runtime: 'nodejs', handler: 'index.handler', cls: 'standard', timeoutMs: 1000, env: {} }, { stagedDir, sha256: '0'.repeat(64), size: 1 });
});
afterEach(() => {
  store.close();
  dir.remove();
});

const enqueue = (id: string, cls = 'standard', classIndex = 2, extra: Partial<NewInvocation> = {}) =>
  store.invocations.enqueue({ id, tenant: 'acme', function: 'f', version: 1, caller: 'acme', cls, classIndex, payload: Buffer.from(`"${id}"`), ...extra });

const runner = (o: Partial<ConstructorParameters<typeof AsyncRunner>[0]> = {}) => new AsyncRunner({ store, platform, clock, retryDelayMs: () => 0, throttleDelayMs: () => 0, platformRetryDelayMs: 0, ...o });

describe('AsyncRunner', () => {
  it('runs a queued invocation and completes it with its billing record', async () => {
    enqueue('a', 'high', 0, { clientContext: 'e30=' });
    platform.respond = () => outcome({ payload: Buffer.from('"done"'), cpuMs: 2000, memGBs: 1 });
    const r = runner({ contexts: new FareContexts(Buffer.alloc(32)) });
    r.wake();
    await r.idle();
    expect(platform.invoked[0]).toMatchObject({ requestId: 'a', cls: 0, clientContext: 'e30=', fn: { name: 'f', version: 1 } });
    expect(platform.invoked[0]?.fareContext).toMatch(/^v1\./);
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(store.invocations.get('a')?.result?.toString()).toBe('"done"');
    expect(store.billing.get('a#1')).toMatchObject({ tenant: 'acme', cls: 'high', price: 2, costMicroCents: 4 + 0.25 });
  });

  it('retries a failing invocation, billing each attempt, and gives up after three', async () => {
    enqueue('a');
    platform.respond = () => outcome({ status: 'error', functionError: 'Handled', errorType: 'Boom', payload: Buffer.from('{"errorMessage":"boom"}') });
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked).toHaveLength(3);
    expect(store.invocations.get('a')).toMatchObject({ status: 'failed', attempts: 3, functionError: 'Handled', error: 'Boom' });
    expect(['a#1', 'a#2', 'a#3'].map((id) => store.billing.get(id)?.invocationId)).toEqual(['a', 'a', 'a']);
    // …and logging each: one entry per attempt, under the invocation's request id.
    expect(store.logs.list('acme', 'f', { limit: 10, requestId: 'a' }).map((e) => [e.attempt, e.type, e.status, e.errorType])).toEqual([
      [1, 'async', 'error', 'Boom'],
      [2, 'async', 'error', 'Boom'],
      [3, 'async', 'error', 'Boom'],
    ]);
  });

  it('succeeds on a retry after a failure', async () => {
    enqueue('a');
    let n = 0;
    platform.respond = () => (++n === 1 ? outcome({ status: 'error' }) : outcome());
    const r = runner();
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a platform failure (e.g. its worker was lost) is tried again soon, not counted as an attempt', async () => {
    enqueue('a');
    let n = 0;
    platform.respond = () => {
      if (++n === 1) throw Object.assign(new Error('worker 0 was lost'), { code: 'FARE_E_WORKER_LOST' });
      return outcome();
    };
    const r = runner({ retryDelayMs: (attempt) => 60_000 * attempt, platformRetryDelayMs: 2000 });
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'queued', attempts: 0, runAfter: clock() + 2000 });
    clock.advance(2000);
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 1 });
    await r.stop();
  });

  it('stop with a grace waits for the invocations in flight that end within it, and records them', async () => {
    enqueue('a');
    let release = (): void => {};
    platform.respond = () => new Promise<PlatformResult>((resolve) => (release = () => resolve(outcome())));
    const r = runner();
    r.wake();
    expect(r.inFlight).toBe(1);
    let stopped = false;
    const stopping = r.stop(60_000).then(() => (stopped = true));
    await new Promise((res) => setTimeout(res, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('stop past its grace abandons what is in flight: nothing recorded, still claimed, so the next start runs it again', async () => {
    enqueue('a');
    let release = (): void => {};
    platform.respond = () => new Promise<PlatformResult>((resolve) => (release = () => resolve(outcome({ status: 'error', errorType: 'Runtime.ExitError' }))));
    const r = runner();
    r.wake();
    const t0 = performance.now();
    await r.stop(50);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    // Its instance killed as Fare stops: an outcome that must not count as a failed attempt.
    release();
    await new Promise((res) => setTimeout(res, 20));
    expect(store.invocations.get('a')).toMatchObject({ status: 'running', attempts: 1 });
    expect(store.billing.get('a#1')).toBeUndefined();
  });

  it('a stop with 0 while a grace runs ends it now', async () => {
    enqueue('a');
    platform.respond = () => new Promise<PlatformResult>(() => undefined);
    const r = runner();
    r.wake();
    const stopping = r.stop(60_000);
    await r.stop(0);
    await stopping;
    expect(store.invocations.get('a')?.status).toBe('running');
  });

  it('waits out the retry delay, on the clock', async () => {
    enqueue('a');
    let n = 0;
    platform.respond = () => (++n === 1 ? outcome({ status: 'error' }) : outcome());
    const r = runner({ retryDelayMs: (attempt) => 60_000 * attempt });
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'queued', attempts: 1, runAfter: clock() + 60_000 });
    r.wake();
    await r.idle();
    expect(platform.invoked).toHaveLength(1);
    clock.advance(60_000);
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 2 });
    await r.stop();
  });

  it('requeues a throttled attempt without counting it, and bills nothing for it', async () => {
    enqueue('a');
    const results: PlatformResult[] = [{ status: 'throttled', retryAfterS: 1, reason: 'ConcurrentInvocationLimitExceeded' }, outcome()];
    platform.respond = () => results.shift() ?? outcome();
    const r = runner();
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(store.billing.get('a#1')).toBeDefined();
    expect(store.billing.tenantMonth('acme', '2025-01').invocations).toBe(1);
  });

  it('tries a throttled Event again later the longer it has waited, up to 30 s between tries', async () => {
    enqueue('young');
    clock.advance(40_000);
    enqueue('old-enough');
    clock.advance(200_000);
    enqueue('fresh');
    platform.respond = () => ({ status: 'throttled', retryAfterS: 1, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
    const r = runner({ throttleDelayMs: (s) => s * 1000 });
    r.wake();
    await r.idle();
    const now = clock();
    // Waited 240 s (past the cap), 200 s (a quarter: 50 s, capped at 30 s) and not at all (Retry-After: 1 s).
    expect(['young', 'old-enough', 'fresh'].map((id) => (store.invocations.get(id)?.runAfter ?? 0) - now)).toEqual([30_000, 30_000, 1000]);
    expect(store.invocations.get('fresh')).toMatchObject({ status: 'queued', attempts: 0, error: 'throttled: ReservedFunctionConcurrentInvocationLimitExceeded' });
    // One that waited 20 s is tried again after 5 s.
    clock.advance(20_000);
    platform.invoked.length = 0;
    r.wake();
    await r.idle();
    expect(platform.invoked.map((q) => q.requestId)).toEqual(['fresh']);
    expect((store.invocations.get('fresh')?.runAfter ?? 0) - clock()).toBe(5000);
    await r.stop();
  });

  it('a retry that falls due between the claim and the arming of its timer still runs (a timer may fire a millisecond early)', async () => {
    enqueue('a');
    // The store's claim reads its clock a millisecond before the invocation is due; the runner, arming
    // its timer just after, finds it due already.
    const due = clock();
    clock.set(due - 1);
    const r = runner({ clock: () => due });
    r.wake();
    expect(platform.invoked).toEqual([]);
    clock.set(due);
    await new Promise((done) => setTimeout(done, 30));
    await r.idle();
    expect(platform.invoked.map((q) => q.requestId)).toEqual(['a']);
    await r.stop();
  });

  it('a back-off of a wait that is not a whole number of quarters is a whole number of ms all the same (the store keeps integers: a fraction failed the retry and left the Event running)', async () => {
    enqueue('odd');
    clock.advance(6_003);
    platform.respond = () => ({ status: 'throttled', retryAfterS: 1, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', code: 'FARE_E_CONCURRENCY_LIMIT' });
    const errors: unknown[] = [];
    const r = runner({ throttleDelayMs: (s) => s * 1000, onError: (e) => errors.push(e) });
    r.wake();
    await r.idle();
    expect(errors).toEqual([]);
    expect(store.invocations.get('odd')).toMatchObject({ status: 'queued', runAfter: clock() + 1501 });
    await r.stop();
  });

  it('an Event of a limited function that ends lets the next one refused for the limit go at once, not after its back-off', async () => {
    store.functions.setConcurrency('acme', 'f', 1);
    enqueue('first');
    enqueue('second');
    // The platform holds one call at a time: the second is refused while the first runs.
    let running = 0;
    let release: () => void = () => {};
    platform.respond = async (req) => {
      if (running >= 1) return { status: 'throttled', retryAfterS: 1, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', code: 'FARE_E_CONCURRENCY_LIMIT' };
      running++;
      if (req.requestId === 'first') await new Promise<void>((done) => (release = done));
      running--;
      return outcome();
    };
    const r = runner({ throttleDelayMs: (s) => s * 1000 });
    r.wake();
    await new Promise((done) => setTimeout(done, 20));
    expect(store.invocations.get('second')).toMatchObject({ status: 'queued', error: 'throttled: ReservedFunctionConcurrentInvocationLimitExceeded' });
    // The clock stands still: only the first's end can make the second due.
    release();
    await new Promise((done) => setTimeout(done, 20));
    await r.idle();
    expect(store.invocations.get('second')).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(platform.invoked.map((q) => q.requestId)).toEqual(['first', 'second', 'second']);
    await r.stop();
  });

  it('without a limit, or with expedite off (a cluster), an ending Event expedites nothing', () => {
    enqueue('a');
    store.invocations.claim();
    store.invocations.retry('a', clock() + 60_000, { refundAttempt: true, keepReservation: true, error: 'throttled: ReservedFunctionConcurrentInvocationLimitExceeded' });
    expect(store.invocations.expedite('acme', 'f', 'ConcurrentInvocationLimitExceeded')).toBe(false);
    expect(store.invocations.expedite('acme', 'f', 'ReservedFunctionConcurrentInvocationLimitExceeded')).toBe(true);
    expect(store.invocations.get('a')?.runAfter).toBe(clock());
    expect(store.invocations.expedite('acme', 'f', 'ReservedFunctionConcurrentInvocationLimitExceeded')).toBe(false);
  });

  it('fails an invocation whose function was deleted', async () => {
    enqueue('a');
    store.functions.delete('acme', 'f');
    const r = runner();
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^ResourceNotFoundException/) as unknown });
    expect(platform.invoked).toEqual([]);
  });

  it('keeps at most `concurrency` in flight and starts the highest class first', async () => {
    enqueue('low', 'low', 3);
    enqueue('std', 'standard', 2);
    enqueue('high', 'high', 0);
    const release: (() => void)[] = [];
    platform.respond = () => new Promise((resolve) => release.push(() => resolve(outcome())));
    const r = runner({ concurrency: 2 });
    r.wake();
    r.wake();
    expect(platform.invoked.map((i) => i.requestId)).toEqual(['high', 'std']);
    release.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(platform.invoked.map((i) => i.requestId)).toEqual(['high', 'std', 'low']);
    for (const f of release.splice(0)) f();
    await r.idle();
    expect(store.invocations.counts()).toMatchObject({ succeeded: 3 });
  });
});

describe('AsyncRunner and event invoke configs', () => {
  const failing = () => outcome({ status: 'error', functionError: 'Unhandled', errorType: 'Boom' });
  /** acme's function `dest`, of class `cls`: a destination. */
  const deployDest = async (cls: string): Promise<void> => {
    const stagedDir = await stageCode(dir.path, [{ path: 'index.js', isDir: false, mode: 0o644, read: () => Buffer.from('x') }]);
    store.functions.deploy('acme', 'dest', { runtime: 'nodejs', handler: 'index.handler', cls, timeoutMs: 1000, env: {} }, { stagedDir, sha256: '1'.repeat(64), size: 1 });
  };

  it('MaximumRetryAttempts 0: a failed Event is not tried again; 1: once more', async () => {
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxRetryAttempts: 0 });
    enqueue('a');
    platform.respond = failing;
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked).toHaveLength(1);
    expect(store.invocations.get('a')).toMatchObject({ status: 'failed', attempts: 1, error: 'Boom' });
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxRetryAttempts: 1 });
    enqueue('b');
    r.wake();
    await r.idle();
    expect(platform.invoked.filter((q) => q.requestId === 'b')).toHaveLength(2);
    expect(store.invocations.get('b')).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it("an alias's config applies to the Events invoked through it, and $LATEST's to those by name alone", async () => {
    store.versions.publish('acme', 'f');
    store.versions.createAlias('acme', 'f', 'live', '1', '');
    store.eventConfigs.put('acme', 'f', 'live', { maxRetryAttempts: 0 });
    enqueue('by-alias', 'standard', 2, { qualifier: '1', invokedArn: 'arn:aws:lambda:us-east-1:acme:function:f:live' });
    enqueue('by-name');
    platform.respond = failing;
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked.filter((q) => q.requestId === 'by-alias')).toHaveLength(1);
    expect(platform.invoked.filter((q) => q.requestId === 'by-name')).toHaveLength(3);
  });

  it('MaximumEventAgeInSeconds: an event older than that when it comes to run is dropped, unrun, saying why', async () => {
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxEventAgeS: 60 });
    enqueue('old');
    clock.advance(61_000);
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked).toHaveLength(0);
    const got = store.invocations.get('old');
    expect(got).toMatchObject({ status: 'failed' });
    expect(got?.error).toMatch(/^EventAgeExceeded: the event was accepted 61 s ago, past its maximum event age of 60 s, and was dropped before any attempt; raise MaximumEventAgeInSeconds/);
  });

  it('MaximumEventAgeInSeconds: no retry is made that would come after it (the attempt that failed is the last)', async () => {
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxEventAgeS: 90 });
    enqueue('a');
    platform.respond = failing;
    // Retries 60 s and 120 s after a failure: the first fits in 90 s, the second does not.
    const r = runner({ retryDelayMs: (attempt) => 60_000 * attempt });
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'queued', attempts: 1, runAfter: clock() + 60_000 });
    clock.advance(60_000);
    r.wake();
    await r.idle();
    expect(platform.invoked).toHaveLength(2);
    expect(store.invocations.get('a')).toMatchObject({ status: 'failed', attempts: 2, error: 'Boom' });
    await r.stop();
  });

  it("destinations: a success's record goes to OnSuccess, a final failure's to OnFailure, each an Event of that function queued with the outcome", async () => {
    await deployDest('high');
    const dest = 'arn:aws:lambda:us-east-1:acme:function:dest';
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxRetryAttempts: 1, onSuccess: dest, onFailure: dest });
    enqueue('ok', 'standard', 2, { payload: Buffer.from('{"n":1}'), trace: 'Root=1-5f84c7a9-0123456789abcdef01234567' });
    enqueue('bad', 'standard', 2, { payload: Buffer.from('{"n":2}') });
    platform.respond = (req) => (req.fn.name === 'dest' ? outcome() : req.requestId === 'ok' ? outcome({ payload: Buffer.from('{"done":true}') }) : failing());
    const r = runner();
    r.wake();
    await r.idle();
    const records = platform.invoked.filter((q) => q.fn.name === 'dest').map((q) => JSON.parse(q.payload.toString()) as Record<string, unknown>);
    expect(records).toHaveLength(2);
    const byId = (id: string) => records.find((x) => (x.requestContext as { requestId: string }).requestId === id);
    expect(byId('ok')).toEqual({
      version: '1.0', timestamp: new Date(clock()).toISOString(),
      requestContext: { requestId: 'ok', functionArn: 'arn:aws:lambda:us-east-1:acme:function:f:$LATEST', condition: 'Success', approximateInvokeCount: 1 },
      requestPayload: { n: 1 }, responseContext: { statusCode: 200, executedVersion: '$LATEST' }, responsePayload: { done: true },
    });
    expect(byId('bad')).toMatchObject({
      requestContext: { requestId: 'bad', condition: 'RetriesExhausted', approximateInvokeCount: 2 },
      requestPayload: { n: 2 }, responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    });
    // Each record's Event is the destination's own, at its class, paid by its owner, and done.
    const events = platform.invoked.filter((q) => q.fn.name === 'dest');
    expect(events.map((q) => q.cls)).toEqual([0, 0]);
    expect(events.map((q) => store.invocations.get(q.requestId)?.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('an event dropped for its age sends its record to OnFailure (EventAgeExceeded), unrun; a destination deleted since gets nothing', async () => {
    await deployDest('standard');
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxEventAgeS: 60, onFailure: 'arn:aws:lambda:us-east-1:acme:function:dest' });
    enqueue('old');
    clock.advance(61_000);
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked.map((q) => q.fn.name)).toEqual(['dest']);
    const record = JSON.parse(platform.invoked[0]?.payload.toString() ?? '') as Record<string, unknown>;
    expect(record).toMatchObject({ requestContext: { requestId: 'old', condition: 'EventAgeExceeded', approximateInvokeCount: 0 }, requestPayload: 'old' });
    expect(record.responseContext).toBeUndefined();
    store.functions.delete('acme', 'dest');
    enqueue('older');
    clock.advance(61_000);
    r.wake();
    await r.idle();
    expect(store.invocations.get('older')).toMatchObject({ status: 'failed' });
    expect(platform.invoked).toHaveLength(1);
  });

  it('a deleted config gives the defaults back: three attempts', async () => {
    store.eventConfigs.put('acme', 'f', '$LATEST', { maxRetryAttempts: 0 });
    expect(store.eventConfigs.delete('acme', 'f', '$LATEST')).toBe(true);
    enqueue('a');
    platform.respond = failing;
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked).toHaveLength(3);
  });
});

describe('AsyncRunner and budgets', () => {
  // Day 2 of January: the allowance of a 1,000 µ¢ budget is 1000 × (0.05 + 2 × 1/31) = 114.516 µ¢.
  const day2 = Date.UTC(2025, 0, 2);
  const bill = (id: string, uc: number): void => {
    store.billing.record({ id, invocationId: id, tenant: 'acme', function: 'other', caller: 'acme', cls: 'standard', cpuMs: uc * 1000, memGBs: 0, price: 1, memoryPrice: 0.25 });
  };
  beforeEach(() => {
    clock.set(day2);
    store.tenants.update('acme', { budgetMicroCents: 1000, overBudget: 'throttle' });
  });

  it('checks a claim again: over the allowance it waits, uncounted, until the allowance has grown past the spend', async () => {
    enqueue('a'); // accepted before the spend below, holding nothing
    bill('x', 114); // + f's estimate (no history: 1 s of one core and 1 GB = 1.25 µ¢) > 114.516
    const r = runner();
    r.wake();
    await r.idle();
    expect(platform.invoked).toEqual([]);
    const waiting = store.invocations.get('a');
    expect(waiting).toMatchObject({ status: 'queued', attempts: 0, reservedMicroCents: 0, error: expect.stringMatching(/^BudgetExceeded: tenant acme has spent 114 µ¢ .* passes its allowance of 114\.516 µ¢; waiting until /) as unknown });
    // The allowance reaches 115.25 µ¢ when 0.05 + 2e = 0.11525: about 16 minutes later.
    expect((waiting?.runAfter ?? 0) - day2).toBeGreaterThan(15 * 60_000);
    expect((waiting?.runAfter ?? 0) - day2).toBeLessThan(17 * 60_000);
    clock.set((waiting?.runAfter ?? 0) - 1);
    r.wake();
    await r.idle();
    expect(platform.invoked).toEqual([]);
    clock.set(waiting?.runAfter ?? 0);
    r.wake();
    await r.idle();
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', attempts: 1, reservedMicroCents: 0 });
    await r.stop();
  });

  it('fails a claim that has no room before its maximum event age, with the reason recorded', async () => {
    enqueue('a');
    bill('x', 114);
    const r = runner({ maxEventAgeMs: 10 * 60_000 }); // room comes in ~16 minutes: too late
    r.wake();
    await r.idle();
    expect(platform.invoked).toEqual([]);
    expect(store.invocations.get('a')).toMatchObject({
      status: 'failed',
      reservedMicroCents: 0,
      error: expect.stringMatching(/^FARE_E_OVER_BUDGET: BudgetExceeded: .* after its maximum event age \(0\.17 h\) runs out; raise the budget \(PATCH \/v1\/tenants\/acme\)/) as unknown,
    });
  });

  it('with degrade: runs a claim past the allowance at the cheapest class, and fails it at the budget', async () => {
    store.tenants.update('acme', { overBudget: 'degrade' });
    enqueue('a');
    enqueue('b');
    bill('x', 114);
    const r = runner({ concurrency: 1 });
    r.wake();
    await r.idle();
    expect(platform.invoked[0]?.cls).toBe(3);
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', cls: 'low', classIndex: 3 });
    expect(store.billing.get('a#1')).toMatchObject({ cls: 'low', price: 0.5 });
    // b ran too (degraded); now fill the budget: only a new month would make room, after 6 h.
    enqueue('c');
    bill('y', 1000 - store.billing.tenantMonth('acme', '2025-01').costMicroCents);
    r.wake();
    await r.idle();
    expect(store.invocations.get('c')).toMatchObject({ status: 'failed', error: expect.stringMatching(/passes its budget of 1000 µ¢, and there is no room for it before 2025-02-01T00:00:00.000Z/) as unknown });
  });

  it('holds the current estimate while running, leaving its own reservation out of the check', async () => {
    store.invocations.enqueue({ id: 'a', tenant: 'acme', function: 'f', version: 1, caller: 'acme', cls: 'standard', classIndex: 2, payload: Buffer.from('1'), reservedMicroCents: 114 });
    const held: number[] = [];
    platform.respond = () => {
      held.push(store.reservations.total('acme'));
      return outcome();
    };
    const r = runner();
    r.wake();
    await r.idle();
    // 114 held by itself did not count against it; while running it held f's estimate instead.
    expect(held).toEqual([1.25]);
    expect(store.invocations.get('a')).toMatchObject({ status: 'succeeded', reservedMicroCents: 0 });
    expect(store.reservations.total('acme')).toBe(0);
  });
});
