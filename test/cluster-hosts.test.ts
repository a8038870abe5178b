// Fare across hosts: every part of the cluster in its own network namespace with its own address
// (made by the test: a bridge, veth pairs), the NATS servers a cluster of three in the root namespace.
// Under steady load of all three classes, faults are caused for real — a worker cut off the network
// for 10 s and coming back, then one NATS server of three killed — and afterwards: every sync caller
// got an answer or a clear error within its timeout, every accepted async invocation finished and
// was billed exactly once, and the top class kept its place ahead of the lowest.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp, type Cluster } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import { ADMIN_KEY } from '../support/fare-process.ts';
import { makeHosts, whyNoHosts, type Hosts } from '../support/netns.ts';

const nats = findNatsServer();
const why = nats.ok ? whyNoHosts() : nats.why;
if (why !== undefined) process.stderr.write(`SKIPPED Fare across hosts (network namespaces): ${why}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };
const TIMEOUT_MS = 30_000; // the examples' function timeout

interface Sample {
  readonly at?: number;
  readonly fn: string;
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

async function call(url: string, fn: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<Sample & { id: string }> {
  const t0 = performance.now();
  try {
    const r = await fetch(`${url}/2015-03-31/functions/${fn}/invocations`, {
      method: 'POST', headers: { ...AUTH, 'X-Amz-Invocation-Type': type }, body: JSON.stringify(payload), signal: AbortSignal.timeout(TIMEOUT_MS + 15_000),
    });
    return { at: t0, fn, status: r.status, body: await r.text(), ms: performance.now() - t0, id: r.headers.get('x-amzn-requestid') ?? '' };
  } catch (e) {
    return { at: t0, fn, status: 0, body: String(e), ms: performance.now() - t0, id: '' };
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;

describe.skipIf(why !== undefined)('Fare across hosts (each part in its own network namespace)', () => {
  let dir = '';
  let hosts: Hosts;
  let cluster: Cluster;
  let url = '';
  const hostOf = (part: string): string => part.replace('-', '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-hosts-'));
    hosts = makeHosts(['gateway', 'shard0', 'shard1', 'worker0', 'worker1']);
    cluster = await clusterUp({
      dataDir: dir, shards: 2, workers: 2, natsServers: 3, host: '127.0.0.1', natsHost: hosts.rootIp, gatewayHost: hosts.ip('gateway'),
      port: 0, policy: 'fare', workerCores: 1, insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN,
      heartbeatMs: 250, memberTimeoutMs: 2000, env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, wrap: (part) => hosts.wrap(hostOf(part)),
    });
    url = cluster.url;
  }, 180_000);

  afterAll(async () => {
    await cluster?.close();
    hosts?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('under load of all three classes: a worker cut off for 10 s, then one NATS server of three killed', async () => {
    expect(url).toContain(hosts.ip('gateway'));
    const samples: Sample[] = [];
    const accepted: string[] = [];
    let running = true;
    // Steady load: a caller per class, one call at a time each, and an Event every 200 ms.
    const loop = async (fn: string, payload: unknown): Promise<void> => {
      while (running) samples.push(await call(url, fn, payload));
    };
    const events = async (): Promise<void> => {
      for (let n = 0; running; n++) {
        const a = await call(url, n % 2 === 0 ? 'page-view' : 'image-resize', { user: `e${n}` }, 'Event');
        if (a.status === 202) accepted.push(a.id);
        else samples.push(a);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const t0 = performance.now();
    const load = Promise.all([loop('page-view', { user: 'ada' }), loop('profile-view', { user: 'bob' }), loop('image-resize', {}), events()]);
    await new Promise((r) => setTimeout(r, 3000));
    // A network partition: worker 1 is unreachable for 10 s.
    const tCut = performance.now();
    hosts.cut('worker1');
    await new Promise((r) => setTimeout(r, 10_000));
    const tRestore = performance.now();
    hosts.restore('worker1');
    await new Promise((r) => setTimeout(r, 5000));
    // One NATS server of three dies: the parts reconnect to the others, JetStream keeps a quorum.
    const tKill = performance.now();
    await cluster.natsServers[1]?.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 8000));
    running = false;
    await load;

    // Every sync caller: an answer, or a clear error, within its timeout.
    if (process.env.FARE_TEST_VERBOSE) {
      for (const x of samples) if (x.status !== 200 || x.ms > 3000) process.stderr.write(`slow or failed: at ${Math.round((x.at ?? 0) - t0)} ms ${x.fn} ${x.status} ${Math.round(x.ms)} ms ${x.body.slice(0, 300)}\n`);
      process.stderr.write(`phases: cut ${Math.round(tCut - t0)}, restored ${Math.round(tRestore - t0)}, nats killed ${Math.round(tKill - t0)}\n`);
      for (const p of cluster.parts) writeFileSync(join(tmpdir(), `fare-hosts-${p.name}.log`), p.output());
    }
    expect(samples.length).toBeGreaterThan(30);
    for (const s of samples) {
      expect(s.ms, `${s.fn} took ${Math.round(s.ms)} ms`).toBeLessThan(TIMEOUT_MS + 5000);
      if (s.status !== 200) {
        expect(s.status, `${s.fn}: ${s.body}`).toBe(500);
        expect(s.body).toMatch(/worker \d+, which was not heard for 2000 ms|was not heard of within/);
      }
    }
    const ok = samples.filter((s) => s.status === 200);
    expect(ok.length / samples.length).toBeGreaterThan(0.8);
    // The top class kept its place: its calls took less time than the lowest class's.
    const high = ok.filter((s) => s.fn === 'page-view').map((s) => s.ms);
    const low = ok.filter((s) => s.fn === 'image-resize').map((s) => s.ms);
    expect(median(high)).toBeLessThan(median(low));

    // Every accepted async invocation finished, and was billed exactly once.
    expect(accepted.length).toBeGreaterThan(10);
    const deadline = Date.now() + 120_000;
    let statuses: string[] = [];
    for (;;) {
      statuses = await Promise.all(accepted.map(async (id) => {
        const r = await fetch(`${url}/v1/invocations/${id}`, { headers: AUTH });
        return ((await r.json()) as { status: string }).status;
      }));
      if (statuses.every((s) => s === 'succeeded' || s === 'failed') || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(statuses.filter((s) => s !== 'succeeded')).toEqual([]);
    for (const fn of ['page-view', 'image-resize']) {
      const logs = (await (await fetch(`${url}/v1/functions/${fn}/logs?limit=1000`, { headers: AUTH })).json()) as { entries: { requestId: string; type: string; status: string }[] };
      const billed = new Map<string, number>();
      for (const e of logs.entries) if (e.type === 'async' && e.status === 'ok') billed.set(e.requestId, (billed.get(e.requestId) ?? 0) + 1);
      for (const [id, n] of billed) expect(n, `${fn} ${id} billed ${n} times`).toBe(1);
    }
  }, 240_000);
});
