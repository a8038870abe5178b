import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { AsyncRunner } from './async-runner.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
  expect((await h.deploy(acme, 'hello')).status).toBe(201);
  // The fake function prints what it was sent.
  h.platform.respond = (req) => outcome({ logs: `got ${req.payload.toString()}\n` });
});
afterEach(async () => {
  await h.close();
});

interface Entry {
  requestId: string;
  attempt: number;
  type: string;
  time: string;
  class: string;
  status: string;
  errorType: string | null;
  durationMs: number;
  cpuMs: number;
  costMicroCents: number;
  truncated: boolean;
  text: string;
}
interface Page {
  tenant: string;
  function: string;
  entries: Entry[];
  next: number;
}

async function logs(query = '', as: IssuedCredential | null = acme, name = 'hello'): Promise<{ status: number; body: Page & { error: { code: string; message: string } } }> {
  const r = await fetch(`${h.url}/v1/functions/${name}/logs${query}`, { headers: as === null ? {} : h.bearer(as) });
  return { status: r.status, body: (await r.json()) as Page & { error: { code: string; message: string } } };
}

async function invoke(payload: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await h.invoke(acme, 'hello', payload, headers);
  expect(r.status).toBeLessThan(300);
  return r.headers.get('x-amzn-requestid') ?? '';
}

describe('GET /v1/functions/{name}/logs', () => {
  it('shows every execution, sync and async, errors too, with Lambda\'s START/END/REPORT text, newest last', async () => {
    const sync = await invoke('{"n":1}');
    h.clock.advance(1000);
    h.platform.respond = (req) => outcome({ status: 'error', functionError: 'Unhandled', errorType: 'Sandbox.Timedout', logs: `got ${req.payload.toString()}\n` });
    const event = await invoke('{"n":2}', { 'X-Amz-Invocation-Type': 'Event' });
    const runner = new AsyncRunner({ store: h.store, platform: h.platform, clock: h.clock, maxAttempts: 1 });
    runner.wake();
    await runner.idle();

    const r = await logs();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: 'acme', function: 'hello' });
    expect(r.body.entries.map((e) => [e.requestId, e.type, e.status])).toEqual([[sync, 'sync', 'ok'], [event, 'async', 'error']]);
    const [first, second] = r.body.entries as [Entry, Entry];
    expect(first).toMatchObject({ attempt: 1, class: 'standard', errorType: null, durationMs: 12.5, cpuMs: 10, truncated: false, time: new Date(h.clock() - 1000).toISOString() });
    expect(first.costMicroCents).toBeCloseTo(0.01 + 0.002 * 0.25, 9);
    expect(first.text).toMatch(new RegExp(`^START RequestId: ${sync} Version: \\$LATEST\\ngot \\{"n":1\\}\\nEND RequestId: ${sync}\\nREPORT RequestId: ${sync}\\tDuration: 12\\.50 ms`));
    expect(second).toMatchObject({ errorType: 'Sandbox.Timedout', attempt: 1 });
    expect(second.text).toContain('got {"n":2}\n');
  });

  it('gives the X-Amz-Log-Result tail from the same text it stores', async () => {
    const r = await h.invoke(acme, 'hello', '{"tail":true}', { 'X-Amz-Log-Type': 'Tail' });
    const tail = Buffer.from(r.headers.get('x-amz-log-result') ?? '', 'base64').toString();
    const [entry] = (await logs()).body.entries;
    expect(tail).toBe(entry?.text);
  });

  it('filters by since (ISO or epoch ms), limit and request, and pages forward with ?after=next', async () => {
    const t0 = h.clock();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(await invoke(`{"i":${i}}`));
      h.clock.advance(60_000);
    }
    const idsOf = (p: { body: Page }): string[] => p.body.entries.map((e) => e.requestId);
    expect(idsOf(await logs('?limit=2'))).toEqual(ids.slice(4));
    expect(idsOf(await logs(`?since=${t0 + 3 * 60_000}`))).toEqual(ids.slice(3));
    expect(idsOf(await logs(`?since=${encodeURIComponent(new Date(t0 + 4 * 60_000).toISOString())}`))).toEqual(ids.slice(4));
    expect(idsOf(await logs(`?request=${ids[1] ?? ''}`))).toEqual([ids[1]]);

    const head = await logs('?limit=1&since=0');
    expect(idsOf(head)).toEqual(ids.slice(5));
    const more = [await invoke('{"late":1}'), await invoke('{"late":2}')];
    const next = await logs(`?after=${head.body.next}&limit=1`);
    expect(idsOf(next)).toEqual(more.slice(0, 1));
    const rest = await logs(`?after=${next.body.next}`);
    expect(idsOf(rest)).toEqual(more.slice(1));
    const none = await logs(`?after=${rest.body.next}`);
    expect(none.body).toMatchObject({ entries: [], next: rest.body.next });
    // With nothing to show, next still points past everything written so far.
    const empty = await logs(`?since=${h.clock() + 3_600_000}`);
    expect(empty.body.entries).toEqual([]);
    expect(empty.body.next).toBe(rest.body.next);
  });

  it('filters by what the text holds (either case) and by how the execution ended, also when paging forward', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      if (i % 3 === 2) h.platform.respond = (req) => outcome({ status: 'error', functionError: 'Unhandled', errorType: 'Boom', logs: `failed on ${req.payload.toString()}\n` });
      else h.platform.respond = (req) => outcome({ logs: `got ${req.payload.toString()}\n` });
      ids.push(await invoke(i === 4 ? '{"user":"Ada"}' : `{"i":${i}}`));
    }
    const idsOf = (p: { body: Page }): string[] => p.body.entries.map((e) => e.requestId);
    expect(idsOf(await logs('?status=error'))).toEqual([ids[2], ids[5]]);
    expect(idsOf(await logs('?status=ok&limit=2'))).toEqual([ids[3], ids[4]]);
    expect(idsOf(await logs(`?contains=${encodeURIComponent('"USER":"ada"')}`))).toEqual([ids[4]]);
    expect(idsOf(await logs('?contains=failed%20on&status=error&limit=1'))).toEqual([ids[5]]);
    // Lambda's own lines are in the text too.
    expect(idsOf(await logs(`?contains=${encodeURIComponent(`RequestId: ${ids[1] ?? ''}`)}`))).toEqual([ids[1]]);
    expect(idsOf(await logs('?contains=nowhere'))).toEqual([]);
    // A follower of the errors only: past the ones it has, the next error, skipping what is not one.
    const head = await logs('?status=error');
    h.platform.respond = (req) => outcome({ logs: `got ${req.payload.toString()}\n` });
    await invoke('{"fine":1}');
    h.platform.respond = (req) => outcome({ status: 'error', functionError: 'Unhandled', errorType: 'Boom', logs: `failed on ${req.payload.toString()}\n` });
    const late = await invoke('{"late":1}');
    expect(idsOf(await logs(`?status=error&after=${head.body.next}`))).toEqual([late]);
    const bad = await logs('?status=broken');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^\?status: expected one of "ok", "error"/);
    expect((await logs(`?contains=${'x'.repeat(257)}`)).status).toBe(400);
  });

  it('needs a credential, and is the owner\'s (and administrators\') only', async () => {
    await invoke('{}');
    expect((await logs('', null)).status).toBe(401);
    const other = await logs('', zeta);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('FARE_E_FUNCTION_NOT_FOUND');
    expect((await logs('?tenant=acme', zeta)).status).toBe(403);
    // A grant lets zeta invoke the function, not read its logs.
    h.store.grants.add('acme', 'hello', 'zeta');
    expect((await logs('?tenant=acme', zeta)).status).toBe(403);
    const admin = await logs('?tenant=acme', h.admin);
    expect(admin.status).toBe(200);
    expect(admin.body.entries).toHaveLength(1);
    expect((await logs('', acme, 'ghost')).status).toBe(404);
    expect((await logs('', acme, 'bad%20name')).status).toBe(400);
  });

  it('refuses a bad since, limit, request or after with a 400 that says what to send', async () => {
    const bad = async (query: string, message: RegExp): Promise<void> => {
      const r = await logs(query);
      expect(r.status, query).toBe(400);
      expect(r.body.error.code).toBe('FARE_E_INVALID_REQUEST');
      expect(r.body.error.message).toMatch(message);
    };
    await bad('?since=yesterday', /^\?since: "yesterday" is not a time: give an ISO 8601 time such as 2025-01-15T12:00:00Z, or milliseconds since the epoch/);
    await bad('?since=2025-01-15T12:00:00', /has no time zone: add Z \(UTC\) or an offset/);
    await bad('?since=2025-02-30', /is not a valid date/);
    await bad('?since=-5', /is not a time/);
    await bad('?limit=0', /^\?limit: expected a number from 1 to 1000, got 0/);
    await bad('?limit=1001', /^\?limit: expected a number from 1 to 1000, got 1001/);
    await bad('?limit=ten', /^\?limit: expected a whole number from 1 to 1000, got "ten"/);
    await bad('?request=a%20b', /^\?request: "a b" is not valid: give a request id/);
    await bad('?after=-1', /^\?after: expected a whole number/);
    expect((await logs('?limit=1000&since=2025-01-15&since=2025-01-15T12:00:00%2B02:00')).status).toBe(200);
  });

  it('are gone with the function, and a function re-created under the name starts empty', async () => {
    await invoke('{}');
    expect((await fetch(`${h.url}/v1/functions/hello`, { method: 'DELETE', headers: h.bearer(acme) })).status).toBe(204);
    expect((await logs()).status).toBe(404);
    await h.deploy(acme, 'hello');
    expect((await logs()).body.entries).toEqual([]);
  });
});
