import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { invocationCredentials } from '../../invocation-credentials.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_PRICE_TABLE } from '../../../core/classes.ts';
import { Metrics } from '../../metrics.ts';
import type { IssuedCredential } from '../../store/index.ts';
import { outcome, startHarness, type Harness } from '../testing.ts';
import { NOT_REPORTED, type Snapshot } from './snapshot.ts';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function harness(withMetrics = true): Promise<{ h: Harness; metrics: Metrics }> {
  const metrics = new Metrics({ prices: DEFAULT_PRICE_TABLE, processMetrics: false });
  const h = await startHarness({ ...(withMetrics ? { metrics } : {}), dashboard: { intervalMs: 40, heartbeatMs: 30 } });
  harnesses.push(h);
  return { h, metrics };
}

async function snapshot(h: Harness, who: IssuedCredential): Promise<Snapshot> {
  const res = await fetch(`${h.url}/v1/dashboard`, { headers: h.bearer(who) });
  expect(res.status).toBe(200);
  return (await res.json()) as Snapshot;
}

/** Reads server-sent events from a stream until `want` says stop; returns the events seen (comments as `:`). */
async function readEvents(res: Response, want: (events: { event: string; data: string }[]) => boolean): Promise<{ event: string; data: string }[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: string }[] = [];
  let buf = '';
  while (!want(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (block.startsWith(':')) events.push({ event: ':', data: block });
      else events.push({ event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message', data: /^data: (.*)$/m.exec(block)?.[1] ?? '' });
    }
  }
  await reader.cancel();
  return events;
}

describe('the dashboard page', () => {
  it('is served to anyone, holds no data, and serves echarts compressed and long-cached', async () => {
    const { h } = await harness();
    const page = await fetch(`${h.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await page.text();
    expect(html).toMatch(/<script src="\/dashboard\/echarts\.simple\.min\.js\?v=\d+\.\d+\.\d+" defer>/);
    expect(html).toMatch(/aria-live="polite"/);
    for (const f of ['page.js', 'page.css']) expect((await fetch(`${h.url}/dashboard/${f}`)).status).toBe(200);
    // fetch asks for gzip and decodes it; node:http shows the bytes as sent.
    const raw = await new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      void import('node:http').then(({ get }) => get(`${h.url}/dashboard/echarts.simple.min.js`, { headers: { 'Accept-Encoding': 'gzip, br' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject));
    });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(raw.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gunzipSync(raw.body).length).toBeGreaterThan(raw.body.length * 2);
    expect((await fetch(`${h.url}/dashboard/other.js`)).status).toBe(404);
    expect((await fetch(`${h.url}/dashboard`, { method: 'POST' })).status).toBe(404);
  });
});

describe('GET /v1/dashboard', () => {
  it('wants a credential', async () => {
    const { h } = await harness();
    expect((await fetch(`${h.url}/v1/dashboard`)).status).toBe(401);
    expect((await fetch(`${h.url}/v1/dashboard/stream`)).status).toBe(401);
  });

  it('shows per-class counts and percentiles from the answered jobs', async () => {
    const { h, metrics } = await harness();
    for (let i = 1; i <= 10; i++) metrics.answered(0, i / 1000);
    metrics.answered(3, 0.5);
    const s = await snapshot(h, h.admin);
    const byName = new Map(s.latency.classes.map((c) => [c.name, c]));
    expect(byName.get('high')?.answered).toBe(10);
    expect(byName.get('high')?.recent.p50Ms).toBeCloseTo(5, 3);
    expect(byName.get('high')?.recent.p99Ms).toBeCloseTo(10, 3);
    expect(byName.get('low')?.answered).toBe(1);
    expect(byName.get('middle')?.answered).toBe(0);
    expect(byName.get('high')?.series.count.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('gives an administrator every tenant\'s spend and invocations, and a tenant only its own', async () => {
    const { h } = await harness();
    const acme = (await h.store.createTenant({ id: 'acme', budgetMicroCents: 1_000_000 })).credential;
    const zeta = await h.tenant('zeta');
    expect((await h.deploy(acme, 'a-fn')).status).toBe(201);
    expect((await h.deploy(zeta, 'z-fn')).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await h.invoke(acme, 'a-fn')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await h.invoke(zeta, 'z-fn')).status).toBe(200);

    const admin = await snapshot(h, h.admin);
    expect(admin.viewer).toEqual({ tenant: 'admin', admin: true });
    expect(admin.spend.tenants.map((t) => t.tenant).sort()).toEqual(['acme', 'admin', 'zeta']);
    expect(admin.recent.entries.map((e) => e.function).sort()).toEqual(['a-fn', 'a-fn', 'a-fn', 'z-fn', 'z-fn']);

    const a = await snapshot(h, acme);
    expect(a.viewer).toEqual({ tenant: 'acme', admin: false });
    expect(a.spend.tenants).toHaveLength(1);
    const row = a.spend.tenants[0];
    expect(row?.tenant).toBe('acme');
    expect(row?.budgetMicroCents).toBe(1_000_000);
    expect(row?.spentMicroCents).toBeGreaterThan(0);
    expect(row?.fraction).toBeCloseTo((row?.spentMicroCents ?? 0) / 1_000_000, 9);
    expect(a.recent.entries.map((e) => `${e.tenant}/${e.function}`)).toEqual(['acme/a-fn', 'acme/a-fn', 'acme/a-fn']);
    expect(a.recent.entries[0]?.receiptUrl).toBe(`/v1/invocations/${a.recent.entries[0]?.requestId ?? ''}/receipt`);
    // Each row's receipt headline, the time on I/O among it (these calls never wait on I/O: 0).
    expect(a.recent.entries[0]?.receipt).toMatchObject({ preemptions: 0, ioWaitMs: 0 });

    const z = await snapshot(h, zeta);
    expect(z.spend.tenants.map((t) => t.tenant)).toEqual(['zeta']);
    expect(z.recent.entries.every((e) => e.tenant === 'zeta')).toBe(true);
    expect(z.recent.entries).toHaveLength(2);
    // The aggregates are the same for every viewer.
    expect(z.latency.classes.map((c) => c.name)).toEqual(admin.latency.classes.map((c) => c.name));
  });

  it('says where to look where this process runs no shard or worker (a cluster gateway), and where it keeps no metrics', async () => {
    const { h } = await harness();
    const s = await snapshot(h, h.admin);
    expect(s.latency.reported).toBe(true);
    for (const part of [s.queues, s.machines, s.idle]) {
      expect(part.reported).toBe(false);
      expect(part.note).toContain(NOT_REPORTED);
    }
    const { h: bare } = await harness(false);
    const b = await snapshot(bare, bare.admin);
    expect(b.latency.reported).toBe(false);
    expect(b.queues.note).toBe('this gateway keeps no metrics');
  });

  it('reads queues, idle lists and instances from the parts the process runs', async () => {
    const { h, metrics } = await harness();
    metrics.watchShard(0, { waitingIn: (c) => (c === 3 ? 5 : 0), idleEntries: () => [{ machine: 2, freeMB: 100, jobs: 0 }] });
    metrics.watchWorker(2, () => [{ cls: 'low', state: 'frozen', count: 2, residentBytes: 2048, swappedBytes: 0 }, { cls: 'low', state: 'swapped', count: 1, residentBytes: 0, swappedBytes: 4096 }]);
    const s = await snapshot(h, h.admin);
    expect(s.queues.shards).toEqual([{ id: 0, queued: [0, 0, 0, 5] }]);
    expect(s.idle.shards).toEqual([{ id: 0, keepsIdleList: true, entries: [{ machine: 2, freeBytes: 100 * 1024 * 1024, jobs: 0 }] }]);
    const low = s.machines.workers[0]?.instances.find((r) => r.cls === 'low');
    expect(low).toEqual({ cls: 'low', running: 0, frozen: 2, idle: 0, swapped: 1, residentBytes: 2048, swappedBytes: 4096 });
  });
});

describe('GET /v1/dashboard/stream', () => {
  it('sends a snapshot at once and then live ones, with heartbeats, and stops when the client goes', async () => {
    const { h, metrics } = await harness();
    const ctl = new AbortController();
    const res = await fetch(`${h.url}/v1/dashboard/stream`, { headers: h.bearer(h.admin), signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    let answered = false;
    const events = await readEvents(res, (seen) => {
      const snaps = seen.filter((e) => e.event === 'snapshot');
      if (snaps.length === 1 && !answered) {
        answered = true;
        metrics.answered(1, 0.02);
      }
      const lastSnap = snaps.at(-1);
      const middle = lastSnap === undefined ? 0 : ((JSON.parse(lastSnap.data) as Snapshot).latency.classes.find((c) => c.name === 'middle')?.answered ?? 0);
      return middle === 1 && seen.some((e) => e.event === ':');
    });
    const first = JSON.parse(events.find((e) => e.event === 'snapshot')?.data ?? '{}') as Snapshot;
    expect(first.latency.classes.find((c) => c.name === 'middle')?.answered).toBe(0);
    expect(events.some((e) => e.data === ': heartbeat')).toBe(true);
    ctl.abort();
    const ctx = h.gateway.context.dashboard;
    for (let i = 0; i < 100 && (ctx?.streaming ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(ctx?.streaming).toBe(0);
  });

  it('ends cleanly when the gateway closes, and when the credential is revoked', async () => {
    const { h } = await harness();
    const acme = await h.tenant('acme');
    const res = await fetch(`${h.url}/v1/dashboard/stream`, { headers: h.bearer(acme) });
    const first = await readEvents(res, (seen) => seen.some((e) => e.event === 'snapshot'));
    expect(first.some((e) => e.event === 'snapshot')).toBe(true);
    const res2 = await fetch(`${h.url}/v1/dashboard/stream`, { headers: h.bearer(acme) });
    h.store.credentials.revoke(acme.accessKeyId);
    const ended = await readEvents(res2, (seen) => seen.some((e) => e.event === 'end'));
    expect(ended.find((e) => e.event === 'end')?.data).toMatch(/revoked/);
    const res3 = await fetch(`${h.url}/v1/dashboard/stream`, { headers: h.bearer(h.admin) });
    const reading = readEvents(res3, () => false);
    await new Promise((r) => setTimeout(r, 60));
    harnesses.splice(harnesses.indexOf(h), 1);
    await h.gateway.close();
    h.store.close();
    h.dir.remove();
    const all = await reading; // the stream's end: no error, the events sent until then
    expect(all.some((e) => e.event === 'snapshot')).toBe(true);
    expect(h.gateway.context.dashboard?.streaming).toBe(0);
  });

  it("refuses a stream to an invocation's credentials (they end with their invocation; a stream would outlive it), and serves them a snapshot", async () => {
    const { h } = await harness();
    const acme = await h.tenant('acme');
    expect((await h.deploy(acme, 'hello')).status).toBe(201);
    const statuses: number[] = [];
    h.platform.respond = async (req) => {
      const creds = invocationCredentials(req.fareContext ?? '');
      const signer = new SignatureV4({ service: 'lambda', region: 'us-east-1', sha256: Sha256, credentials: { accessKeyId: creds?.accessKeyId ?? '', secretAccessKey: creds?.secretAccessKey ?? '', sessionToken: creds?.sessionToken ?? '' } });
      for (const path of ['/v1/dashboard/stream', '/v1/dashboard']) {
        const u = new URL(path, h.url);
        const signed = await signer.sign({ method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, headers: { host: u.host }, body: '' });
        const res = await fetch(u, { headers: signed.headers as Record<string, string> });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      return outcome();
    };
    expect((await h.invoke(acme, 'hello', '{}')).status).toBe(200);
    expect(statuses).toEqual([403, 200]);
  });
});
