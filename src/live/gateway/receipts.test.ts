// GET /v1/invocations/{id}/receipt: each execution's receipt, stored with its log entry, served with
// the tenant's check; visible to the function's owner, an Event's caller and administrators.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import type { MachineReceipt } from '../../core/receipt.ts';
import type { ScheduleReport } from '../types.ts';
import { AsyncRunner } from './async-runner.ts';
import { classReason } from './receipts.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;

const machine: MachineReceipt = {
  machine: 3, cores: 2, shard: 1, placement: 'power-of-k', shardWaitMs: 0.5, placedAt: 1_700_000_000_000, startedMs: 4, answeredMs: 9, doneMs: 10,
  waits: [{ fromMs: 0, toMs: 4, after: 'placed', ran: [{ cls: 0, coreMs: 8 }] }], preemptions: [], swaps: [], swapsLeftOut: 0, blockedMs: 0,
};
const schedule: ScheduleReport = { gateway: 0, shard: 1, startedMs: 5, answeredMs: 10, doneMs: 11, machine };

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
  expect((await h.deploy(acme, 'hello')).status).toBe(201);
  h.platform.respond = () => outcome({ cpuMs: 20, schedule });
});
afterEach(async () => {
  await h.close();
});

interface Answer {
  receipt: { requestId: string; attempt: number; type: string; tenant: string; class: { name: string; why: string }; machine: MachineReceipt | null; cpuMs: number; costMicroCents: number; price: { cpuPerSecond: number } };
  verdict: { ok: boolean; waitedOnMachineMs: number; findings: { kind: string }[] };
  attempts: number;
  error?: { code: string; message: string };
}

async function receipt(id: string, as: IssuedCredential, query = ''): Promise<{ status: number; body: Answer }> {
  const r = await fetch(`${h.url}/v1/invocations/${id}/receipt${query}`, { headers: h.bearer(as) });
  return { status: r.status, body: (await r.json()) as Answer };
}

describe('GET /v1/invocations/{id}/receipt', () => {
  it("serves a sync invocation's receipt with its machine's report, class, price and the cost billed, and the check's verdict", async () => {
    const r = await h.invoke(acme, 'hello', '{}');
    expect(r.status).toBe(200);
    const id = r.headers.get('x-amzn-requestid') ?? '';
    const { status, body } = await receipt(id, acme);
    expect(status).toBe(200);
    expect(body.receipt).toMatchObject({ requestId: id, attempt: 1, type: 'sync', tenant: acme.tenant, class: { why: 'own' }, machine, cpuMs: 20 });
    const log = h.store.logs.ofRequest(id)[0];
    expect(body.receipt.costMicroCents).toBe(log?.costMicroCents);
    expect(body.receipt.costMicroCents).toBeGreaterThan(0);
    expect(body.verdict).toEqual({ ok: true, waitedOnMachineMs: 4, lowerClassCoreMs: 0, findings: [] });
    expect(body.attempts).toBe(1);
  });

  it('is not shown to another tenant (404, as for an id that does not exist); administrators see it', async () => {
    const id = (await h.invoke(acme, 'hello', '{}')).headers.get('x-amzn-requestid') ?? '';
    const other = await receipt(id, zeta);
    expect(other.status).toBe(404);
    expect(other.body.error?.code).toBe('FARE_E_RECEIPT_NOT_FOUND');
    expect(other.body.error?.message).toMatch(/receipts are kept as long as the function's log entries/);
    expect((await receipt('no-such-request', acme)).status).toBe(404);
    expect((await receipt(id, h.admin)).status).toBe(200);
  });

  it("keeps one receipt per attempt of an Event: the newest by default, ?attempt=N for another; a report lost by the machine fails the check plainly", async () => {
    let n = 0;
    h.platform.respond = () => (++n === 1 ? outcome({ status: 'error', functionError: 'Unhandled', errorType: 'Boom', schedule: { ...schedule, machine: null } }) : outcome({ schedule }));
    const id = (await h.invoke(acme, 'hello', '{}', { 'X-Amz-Invocation-Type': 'Event' })).headers.get('x-amzn-requestid') ?? '';
    const runner = new AsyncRunner({ store: h.store, platform: h.platform, clock: h.clock, maxAttempts: 2, retryDelayMs: () => 0 });
    runner.wake();
    await runner.idle();
    h.clock.advance(1000);
    runner.wake();
    await runner.idle();
    const newest = await receipt(id, acme);
    expect(newest.status).toBe(200);
    expect(newest.body).toMatchObject({ attempts: 2, receipt: { type: 'async', attempt: 2 }, verdict: { ok: true } });
    const first = await receipt(id, acme, '?attempt=1');
    expect(first.body).toMatchObject({ receipt: { attempt: 1, machine: null }, verdict: { ok: false, findings: [{ kind: 'no-machine-report' }] } });
    expect((await receipt(id, acme, '?attempt=3')).status).toBe(404);
  });
});

describe('a receipt asked for between the answer and the end of the measurement', () => {
  it('waits for the record (the instance parks after answering) instead of answering 404; the log entry by request id too', async () => {
    let measured: (() => void) | undefined;
    h.platform.respond = (req) => {
      req.onAnswer?.({ status: 'ok', payload: Buffer.from('"hi"') });
      return new Promise((resolve) => { measured = () => resolve(outcome({ cpuMs: 20, schedule })); });
    };
    const r = await h.invoke(acme, 'hello', '{}');
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('"hi"');
    const id = r.headers.get('x-amzn-requestid') ?? '';
    expect(h.store.logs.ofRequest(id)).toEqual([]); // not measured yet
    const asked = receipt(id, acme);
    const logs = fetch(`${h.url}/v1/functions/hello/logs?request=${id}`, { headers: h.bearer(acme) });
    await new Promise((res) => setTimeout(res, 50));
    measured?.();
    const { status, body } = await asked;
    expect(status).toBe(200);
    expect(body.receipt).toMatchObject({ requestId: id, cpuMs: 20, machine });
    const l = await logs;
    expect(l.status).toBe(200);
    expect(((await l.json()) as { entries: { requestId: string }[] }).entries.map((e) => e.requestId)).toEqual([id]);
  });
});

describe('classReason', () => {
  it('own, raised by a caller (inherited), or lowered by the budget (degraded)', () => {
    expect(classReason(1, { own: 1 })).toBe('own');
    expect(classReason(0, { own: 1, caller: 'r' })).toBe('inherited');
    expect(classReason(2, { own: 1 })).toBe('degraded');
  });
});
