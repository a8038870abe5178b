// Security finding 5 of issue 11: a flood of invocations must not spend past the budget. One tenant
// floods a gateway with RequestResponse and Event invocations at once (HTTP clients in parallel, an
// AsyncRunner with 16 in flight, a platform whose invocations take a few turns of the event loop and
// cost a fixed, realistic amount); every Event fails its first attempt, so Lambda's retry runs it
// again. Billed spend must end within 1 % of the line: the pace allowance with `throttle`, the
// budget with `degrade`. Without the reservations or without the claim-time check it does not.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paceAllowance, type OverBudgetAction } from '../../core/budget.ts';
import { monthBounds, monthOf, type IssuedCredential } from '../store/index.ts';
import { AsyncRunner } from './async-runner.ts';
import { admitInvocation } from './budget-gate.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

// 150 ms of 128 MB and 120 ms of CPU: 0.1248 µ¢ at `standard` (1 µ¢/CPU-s), 0.0648 µ¢ at `low`.
const CPU_MS = 120;
const MEM_GBS = 0.128 * 0.15;
// A week into January: the allowance is 0.05 + 2 × 7/31 = 50.2 % of the budget.
const NOW = Date.UTC(2025, 0, 8);
const SYNC_CLIENTS = 12;
const EVENT_CLIENTS = 12;
const MAX_REQUESTS = 20_000; // a bound on the flood, never reached when the budget works

let h: Harness;
let acme: IssuedCredential;
let runner: AsyncRunner;

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

beforeEach(async () => {
  h = await startHarness();
  h.clock.set(NOW);
  acme = await h.tenant('acme');
  expect((await h.deploy(acme, 'page')).status).toBe(201);
  expect((await h.deploy(acme, 'worker')).status).toBe(201);
  // Each invocation runs for a few turns of the event loop, so many are in flight at once; an
  // Event's first attempt fails (a handled error, billed like any run) and its retry succeeds.
  const attempts = new Map<string, number>();
  h.platform.respond = async (req) => {
    const n = (attempts.get(req.requestId) ?? 0) + 1;
    attempts.set(req.requestId, n);
    await turns(3);
    const failed = req.fn.name === 'worker' && n === 1;
    return outcome({ cpuMs: CPU_MS, memGBs: MEM_GBS, ...(failed ? { status: 'error', functionError: 'Handled', errorType: 'Flaky', payload: Buffer.from('{"errorMessage":"flaky"}') } : {}) });
  };
  runner = new AsyncRunner({ store: h.store, platform: h.platform, clock: h.clock, concurrency: 16, retryDelayMs: () => 0, throttleDelayMs: () => 0 });
  h.platform.onEnqueued = () => runner.wake();
});
afterEach(async () => {
  await runner.stop();
  await h.close();
});

/** Floods until the tenant is refused with nothing of its own in flight; returns the Events accepted. */
async function flood(): Promise<{ accepted: string[]; requests: number }> {
  const accepted: string[] = [];
  let requests = 0;
  let done = false;
  const fn = h.store.functions.get('acme', 'page');
  if (fn === undefined) throw new Error('page is not deployed');
  // The budget is spent when a fresh invocation is refused with nothing reserved: what is billed
  // alone leaves no room for one more.
  const spentOut = (): boolean => h.store.reservations.total('acme') === 0 && admitInvocation(h.store, h.platform.prices, h.clock(), fn, 2).kind === 'throttle';
  const client = async (type: 'RequestResponse' | 'Event'): Promise<void> => {
    while (!done && requests < MAX_REQUESTS) {
      requests++;
      const r = await h.invoke(acme, type === 'Event' ? 'worker' : 'page', '{}', { 'X-Amz-Invocation-Type': type });
      const body = await r.arrayBuffer();
      if (r.status === 202) accepted.push(r.headers.get('x-amzn-requestid') ?? '');
      else if (r.status === 429) {
        expect(JSON.parse(Buffer.from(body).toString()) as unknown).toMatchObject({ Reason: 'BudgetExceeded' });
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        if (spentOut()) done = true;
        else await turns(1);
      } else expect(r.status).toBe(200);
    }
  };
  await Promise.all([...Array.from({ length: SYNC_CLIENTS }, () => client('RequestResponse')), ...Array.from({ length: EVENT_CLIENTS }, () => client('Event'))]);
  await runner.idle();
  return { accepted, requests };
}

describe.each<[OverBudgetAction, number]>([
  ['throttle', 100],
  ['degrade', 60],
])('a flood of sync and async invocations from one tenant, over-budget action %s', (action, budget) => {
  it('ends with billed spend within 1 % of the line, and every accepted Event run or failed with a reason', async () => {
    h.store.tenants.update('acme', { budgetMicroCents: budget, overBudget: action });
    const { start, end } = monthBounds(NOW);
    const line = action === 'throttle' ? paceAllowance(NOW, start, end, budget) : budget;
    const { accepted, requests } = await flood();
    expect(requests).toBeLessThan(MAX_REQUESTS);

    const spent = h.store.billing.tenantMonth('acme', monthOf(NOW)).costMicroCents;
    const ratio = spent / line;
    expect(ratio, `spent ${spent} µ¢ against a line of ${line} µ¢`).toBeLessThanOrEqual(1.01);
    expect(ratio, `spent ${spent} µ¢ against a line of ${line} µ¢`).toBeGreaterThanOrEqual(0.99);
    expect(h.store.reservations.total('acme')).toBe(0);
    expect(accepted.length).toBeGreaterThan(50);
    if (action === 'degrade') {
      // Past the allowance the work ran at the cheapest class.
      const classes = h.store.billing.byFunction('acme', monthOf(NOW)).flatMap((f) => f.classes.map((c) => c.cls));
      expect(new Set(classes)).toEqual(new Set(['standard', 'low']));
    }

    // Nothing accepted is lost: each Event ran, or failed with its reason recorded, or waits (with
    // its reason) for the allowance to grow — and then runs, within the allowance, or fails once it
    // could not run before its maximum event age.
    const settled = (id: string): boolean => {
      const inv = h.store.invocations.get(id);
      return inv?.status === 'succeeded' || (inv?.status === 'failed' && /^FARE_E_OVER_BUDGET: BudgetExceeded: /.test(inv.error ?? ''));
    };
    for (const id of accepted) {
      const inv = h.store.invocations.get(id);
      expect(settled(id) || (inv?.status === 'queued' && /^BudgetExceeded: /.test(inv.error ?? ''))).toBe(true);
    }
    const failed = accepted.find((id) => h.store.invocations.get(id)?.status === 'failed');
    if (failed !== undefined) {
      const r = await fetch(`${h.url}/v1/invocations/${failed}`, { headers: h.bearer(acme) });
      expect(await r.json()).toMatchObject({ status: 'failed', error: expect.stringMatching(/^FARE_E_OVER_BUDGET: BudgetExceeded: tenant acme has spent/) as unknown });
    }
    for (let next = h.store.invocations.nextRunAfter(); next !== undefined; next = h.store.invocations.nextRunAfter()) {
      h.clock.set(next);
      runner.wake();
      await runner.idle();
      const now = h.clock();
      expect(h.store.billing.tenantMonth('acme', monthOf(now)).costMicroCents).toBeLessThanOrEqual(1.01 * paceAllowance(now, start, end, budget));
    }
    for (const id of accepted) expect(settled(id)).toBe(true);
  });
});
