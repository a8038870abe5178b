// Finding 5 of issue 11: budgets bound every kind of invocation. Mallory, whose monthly budget is
// small, floods Fare with synchronous and Event invocations of a function that burns CPU; when the
// flood is over and every accepted Event has run or failed, what was billed to mallory this month
// is within 1 % of the line (the pace allowance with `throttle`, the budget with `degrade`).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paceAllowance } from '../../src/core/budget.ts';
import { api } from '../../support/fare-process.ts';
import { deploy, sleep, startBench, type Bench, type Tenant } from './harness.ts';


function monthBounds(now: number): { start: number; end: number } {
  const d = new Date(now);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

async function spent(b: Bench, t: Tenant): Promise<number> {
  const r = await api(b.fare.url, 'GET', '/v1/bill', undefined, t.key);
  return (r.json as { costMicroCents: number }).costMicroCents;
}

/**
 * Floods `fn` as an attacker would, without stopping: every round sends a burst of Event
 * invocations and one synchronous call per client, until nothing has been admitted for a while and
 * every accepted Event has ended (run, or failed with a reason) — the spend can then only be what
 * it will stay. Bounded by `maxMs`.
 */
async function flood(b: Bench, t: Tenant, fn: string, event: unknown, syncClients: number, maxMs = 90_000): Promise<{ accepted: number; refused: number; syncOk: number }> {
  const open = new Set<string>();
  let accepted = 0;
  let refused = 0;
  let syncOk = 0;
  const call = async (type: 'Event' | 'RequestResponse'): Promise<void> => {
    const res = await fetch(`${b.fare.url}/2015-03-31/functions/${fn}/invocations`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.key}`, 'X-Amz-Invocation-Type': type },
      body: JSON.stringify(event),
    });
    await res.arrayBuffer();
    const id = res.headers.get('x-amzn-requestid');
    if (res.status === 202 && id !== null) {
      accepted++;
      open.add(id);
    } else if (res.status === 200) {
      syncOk++;
    } else {
      refused++;
    }
  };
  const end = Date.now() + maxMs;
  let quietSince = Date.now();
  while (Date.now() < end) {
    const before = accepted + syncOk;
    await Promise.all([...Array.from({ length: 10 }, () => call('Event')), ...Array.from({ length: syncClients }, () => call('RequestResponse'))]);
    for (const id of [...open]) {
      const s = ((await api(b.fare.url, 'GET', `/v1/invocations/${id}`, undefined, t.key)).json as { status: string }).status;
      if (s === 'succeeded' || s === 'failed') open.delete(id);
    }
    if (accepted + syncOk > before || open.size > 0) quietSince = Date.now();
    else if (Date.now() - quietSince > 1500) break;
    await sleep(20);
  }
  return { accepted, refused, syncOk };
}

describe('a tenant cannot spend past its budget with a flood of invocations', () => {
  let b: Bench;
  afterAll(async () => {
    await b?.stop();
  });
  beforeAll(async () => {
    b = await startBench();
  });

  it('finding 5: throttle — spend ends within 1 % of the pace allowance', async () => {
    const budget = 12; // µ¢ a month; a few µ¢ allowed by now, early in the month
    const r = await api(b.fare.url, 'PATCH', '/v1/tenants/mallory', { budgetMicroCents: budget, overBudget: 'throttle' });
    expect(r.status).toBe(200);
    await deploy(b, b.mallory, 'burner', 'mallory-node', { runtime: 'nodejs', handler: 'index.handler', class: 'standard', timeoutMs: 1000 });
    const f = await flood(b, b.mallory, 'burner', { attack: 'burn', cpuMs: 15 }, 4);
    const now = Date.now();
    const { start, end } = monthBounds(now);
    const line = paceAllowance(now, start, end, budget);
    const s = await spent(b, b.mallory);
    console.log(`throttle: spent ${s.toFixed(4)} µ¢ of a ${line.toFixed(4)} µ¢ allowance (${(s / line).toFixed(4)}); ${f.accepted} Events accepted, ${f.refused} refused, ${f.syncOk} sync ran`);
    expect(f.refused).toBeGreaterThan(0); // the flood did reach the line
    expect(s / line).toBeLessThanOrEqual(1.01);
    expect(s / line).toBeGreaterThanOrEqual(0.99);
  });

  it('finding 5: degrade — the cheapest class up to the budget, then nothing more', async () => {
    await deploy(b, b.victim, 'burner', 'mallory-node', { runtime: 'nodejs', handler: 'index.handler', class: 'high', timeoutMs: 1000 });
    // Victim's budget: the allowance is spent at its own class first, then the cheapest class runs up to the budget.
    const now = Date.now();
    const { start, end } = monthBounds(now);
    const budget = 3; // µ¢
    expect(paceAllowance(now, start, end, budget)).toBeLessThan(budget);
    expect((await api(b.fare.url, 'PATCH', '/v1/tenants/victim', { budgetMicroCents: budget, overBudget: 'degrade' })).status).toBe(200);
    const f = await flood(b, b.victim, 'burner', { attack: 'burn', cpuMs: 15 }, 4);
    const s = await spent(b, b.victim);
    console.log(`degrade: spent ${s.toFixed(4)} µ¢ of a ${budget} µ¢ budget (${(s / budget).toFixed(4)}); ${f.accepted} Events accepted, ${f.refused} refused, ${f.syncOk} sync ran`);
    expect(f.refused).toBeGreaterThan(0);
    expect(s / budget).toBeLessThanOrEqual(1.01);
    expect(s / budget).toBeGreaterThanOrEqual(0.99);
    const bill = (await api(b.fare.url, 'GET', '/v1/bill', undefined, b.victim.key)).json as { functions: { classes: { cls?: string; class?: string }[] }[] };
    expect(JSON.stringify(bill)).toContain('"low"');
  });
});
