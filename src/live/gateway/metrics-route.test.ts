import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../../core/classes.ts';
import { Metrics, sample } from '../metrics.ts';
import { tenantSpends } from './budget-gate.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function harness(withMetrics = true): Promise<{ h: Harness; metrics: Metrics }> {
  const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
  const h = await startHarness(withMetrics ? { metrics } : {});
  harnesses.push(h);
  metrics.watchTenants(() => tenantSpends(h.store, h.clock()));
  return { h, metrics };
}

describe('GET /metrics on the gateway', () => {
  it('answers administrators only: 401 without a credential, 403 for a tenant, the exposition text for an admin', async () => {
    const { h } = await harness();
    const acme = await h.tenant('acme');
    expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
    const tenant = await fetch(`${h.url}/metrics`, { headers: h.bearer(acme) });
    expect(tenant.status).toBe(403);
    expect(((await tenant.json()) as { error: { message: string } }).error.message).toMatch(/only administrators may read \/metrics/);
    const admin = await fetch(`${h.url}/metrics`, { headers: h.bearer(h.admin) });
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await admin.text()).toMatch(/^# TYPE fare_latency_seconds histogram$/m);
  });

  it('is not there on a gateway given no metrics', async () => {
    const { h } = await harness(false);
    expect((await fetch(`${h.url}/metrics`, { headers: h.bearer(h.admin) })).status).toBe(404);
  });

  it('counts billed invocations (CPU, spend, cold starts) by class, and each tenant\'s spend against its budget', async () => {
    const { h, metrics } = await harness();
    const acme = await h.tenant('acme');
    h.store.tenants.update('acme', { budgetMicroCents: 1_000_000, overBudget: 'throttle' });
    expect((await h.deploy(acme, 'hello', { class: 'high' })).status).toBe(201);
    h.platform.respond = () => outcome({ cpuMs: 250, memGBs: 0.004, coldStart: true });
    for (let i = 0; i < 3; i++) expect((await h.invoke(acme, 'hello')).status).toBe(200);
    h.platform.respond = () => outcome({ status: 'error', functionError: 'Unhandled', errorType: 'Error', cpuMs: 250, memGBs: 0.004 });
    expect((await h.invoke(acme, 'hello')).status).toBe(200);
    const text = await metrics.text();
    expect(sample(text, 'fare_invocations_total', { class: 'high', status: 'ok' })).toBe(3);
    expect(sample(text, 'fare_invocations_total', { class: 'high', status: 'error' })).toBe(1);
    expect(sample(text, 'fare_cold_starts_total', { class: 'high' })).toBe(3);
    expect(sample(text, 'fare_cpu_seconds_total', { class: 'high' })).toBeCloseTo(1);
    // 0.25 CPU-s × 2 µ¢ + 0.004 GB-s × 0.25 µ¢, four times.
    expect(sample(text, 'fare_spend_microcents_total', { class: 'high' })).toBeCloseTo(4 * (0.5 + 0.001));
    expect(sample(text, 'fare_tenant_spend_microcents', { tenant: 'acme' })).toBeCloseTo(4 * (0.5 + 0.001));
    expect(sample(text, 'fare_tenant_budget_microcents', { tenant: 'acme' })).toBe(1_000_000);
  });

  it('counts invocations throttled and degraded by their tenant\'s budget', async () => {
    const { h, metrics } = await harness();
    // The first moment of a month: the allowance is 5 % of the budget.
    h.clock.set(Date.UTC(2026, 0, 1));
    const tight = await h.tenant('tight');
    const thrifty = await h.tenant('thrifty');
    h.store.tenants.update('tight', { budgetMicroCents: 1, overBudget: 'throttle' });
    // A high-class call with no history is estimated at one core and 1 GB for its timeout (3 s): 6.75 µ¢,
    // past 5 % of 100 µ¢; at the cheapest class (2.25 µ¢) it fits the budget: degraded.
    h.store.tenants.update('thrifty', { budgetMicroCents: 100, overBudget: 'degrade' });
    expect((await h.deploy(tight, 'f', { class: 'high' })).status).toBe(201);
    expect((await h.deploy(thrifty, 'f', { class: 'high' })).status).toBe(201);
    expect((await h.invoke(tight, 'f')).status).toBe(429);
    expect((await h.invoke(tight, 'f')).status).toBe(429);
    const degraded = await h.invoke(thrifty, 'f');
    expect(degraded.status).toBe(200);
    expect(h.platform.invoked.at(-1)?.cls).toBe(3);
    const text = await metrics.text();
    expect(sample(text, 'fare_throttled_total', { tenant: 'tight', at: 'accept' })).toBe(2);
    expect(sample(text, 'fare_degraded_total', { tenant: 'thrifty', at: 'accept' })).toBe(1);
    expect(sample(text, 'fare_invocations_total', { class: 'low', status: 'ok' })).toBe(1);
  });
});
