// Fare across hosts: every part of the cluster in its own network namespace with its own address
// (made by the test: a bridge, veth pairs), the NATS servers a cluster of three in the root namespace,
// two gateways behind a client that goes to the other one when one does not answer (as a load
// balancer would). Under steady load of all three classes, faults are caused for real, one after the
// other: a worker killed with kill -9 mid-invocation (and started again), a worker cut off the network
// for 10 s and coming back, a shard killed and restarted, a gateway killed and restarted, one NATS
// server of three killed. Afterwards: every sync caller got an answer or a clear error within its
// timeout, every accepted async invocation finished and was billed exactly once (in both gateways'
// ledgers), and the top class kept its place ahead of the lowest.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
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

/** Sends to `urls[pick]`; a gateway that refuses the connection (it is down) is passed over for the next one. */
async function call(urls: readonly string[], pick: number, fn: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<Sample & { id: string; gateway: number }> {
  const t0 = performance.now();
  let gateway = pick % urls.length;
  for (let tries = 0; ; tries++) {
    try {
      const r = await fetch(`${urls[gateway] as string}/2015-03-31/functions/${fn}/invocations`, {
        method: 'POST', headers: { ...AUTH, 'X-Amz-Invocation-Type': type }, body: JSON.stringify(payload), signal: AbortSignal.timeout(TIMEOUT_MS + 15_000),
      });
      return { at: t0, fn, status: r.status, body: await r.text(), ms: performance.now() - t0, id: r.headers.get('x-amzn-requestid') ?? '', gateway };
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code;
      if (code === 'ECONNREFUSED' && tries < urls.length) {
        gateway = (gateway + 1) % urls.length;
        continue;
      }
      // The gateway died with the call in it: the caller's connection is reset (a clear error).
      return { at: t0, fn, status: 0, body: `${String(e)} ${code ?? ''}`, ms: performance.now() - t0, id: '', gateway };
    }
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(why !== undefined)('Fare across hosts (each part in its own network namespace)', () => {
  let dir = '';
  let hosts: Hosts;
  let cluster: Cluster;
  let urls: readonly string[] = [];
  const hostOf = (part: string): string => part.replace('-', '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-hosts-'));
    hosts = makeHosts(['gateway', 'gateway1', 'shard0', 'shard1', 'worker0', 'worker1']);
    cluster = await clusterUp({
      dataDir: dir, shards: 2, workers: 2, gateways: 2, natsServers: 3, host: '127.0.0.1', natsHost: hosts.rootIp, gatewayHost: (part) => hosts.ip(hostOf(part)),
      port: 0, policy: 'fare', workerCores: 1, insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN,
      heartbeatMs: 250, memberTimeoutMs: 2000, env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, wrap: (part) => hosts.wrap(hostOf(part)),
    });
    urls = cluster.urls;
  }, 180_000);

  afterAll(async () => {
    const t0 = performance.now();
    try {
      await cluster?.close();
      process.stderr.write(`cluster-hosts: the cluster closed in ${Math.round(performance.now() - t0)} ms\n`);
    } finally {
      hosts?.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('under load of all three classes: a worker killed, a worker cut off for 10 s, a shard and a gateway killed and restarted, one NATS server of three killed', async () => {
    expect(urls[0]).toContain(hosts.ip('gateway'));
    expect(urls[1]).toContain(hosts.ip('gateway1'));
    const samples: (Sample & { gateway: number })[] = [];
    const accepted: string[] = [];
    let running = true;
    // Steady load: a caller per class, one call at a time each, alternating gateways, and an Event every 200 ms.
    const loop = async (fn: string, payload: unknown): Promise<void> => {
      for (let n = 0; running; n++) samples.push(await call(urls, n, fn, payload));
    };
    const events = async (): Promise<void> => {
      for (let n = 0; running; n++) {
        const a = await call(urls, n, n % 2 === 0 ? 'page-view' : 'image-resize', { user: `e${n}` }, 'Event');
        if (a.status === 202) accepted.push(a.id);
        else samples.push(a);
        await sleep(200);
      }
    };
    const t0 = performance.now();
    const phases: Record<string, number> = {};
    const mark = (what: string): void => {
      phases[what] = performance.now() - t0;
    };
    const load = Promise.all([loop('page-view', { user: 'ada' }), loop('profile-view', { user: 'bob' }), loop('image-resize', {}), events()]);
    await sleep(3000);
    // A worker dies mid-invocation (the lowest class keeps both busy), and is started again.
    mark('worker0 killed');
    cluster.parts.find((p) => p.name === 'worker-0')?.child.kill('SIGKILL');
    await sleep(3000);
    await cluster.restart('worker-0');
    mark('worker0 back');
    await sleep(2000);
    // A network partition: worker 1 is unreachable for 10 s.
    mark('worker1 cut');
    hosts.cut('worker1');
    await sleep(10_000);
    hosts.restore('worker1');
    mark('worker1 restored');
    await sleep(5000);
    // A shard dies; the gateways send its functions to the other; it comes back.
    mark('shard1 killed');
    cluster.parts.find((p) => p.name === 'shard-1')?.child.kill('SIGKILL');
    await sleep(2000);
    await cluster.restart('shard-1');
    mark('shard1 back');
    await sleep(3000);
    // A gateway dies: callers go to the other; it comes back on its data directory.
    mark('gateway0 killed');
    cluster.parts.find((p) => p.name === 'gateway')?.child.kill('SIGKILL');
    await sleep(3000);
    await cluster.restart('gateway');
    mark('gateway0 back');
    await sleep(3000);
    // One NATS server of three dies: the parts reconnect to the others, JetStream keeps a quorum.
    mark('nats1 killed');
    await cluster.natsServers[1]?.stop('SIGKILL');
    await sleep(8000);
    running = false;
    await load;

    if (process.env.FARE_TEST_VERBOSE) {
      for (const x of samples) if (x.status !== 200 || x.ms > 3000) process.stderr.write(`slow or failed: at ${Math.round((x.at ?? 0) - t0)} ms ${x.fn} via gateway ${x.gateway} ${x.status} ${Math.round(x.ms)} ms ${x.body.slice(0, 300)}\n`);
      process.stderr.write(`phases: ${JSON.stringify(phases)}\n`);
      for (const p of cluster.parts) writeFileSync(join(tmpdir(), `fare-hosts-${p.name}.log`), p.output());
    }
    // Every sync caller: an answer, or a clear error, within its timeout.
    expect(samples.length).toBeGreaterThan(30);
    const gatewayDown = [(phases['gateway0 killed'] as number) - 100, phases['gateway0 back'] as number];
    for (const s of samples) {
      expect(s.ms, `${s.fn} took ${Math.round(s.ms)} ms`).toBeLessThan(TIMEOUT_MS + 5000);
      if (s.status === 0) {
        // Only a call inside the gateway that was killed, while it was: its connection was reset.
        const at = (s.at ?? 0) - t0;
        expect(s.gateway, s.body).toBe(0);
        expect(at, s.body).toBeGreaterThan((gatewayDown[0] as number) - TIMEOUT_MS);
        expect(at, s.body).toBeLessThan(gatewayDown[1] as number);
      } else if (s.status !== 200) {
        expect(s.status, `${s.fn}: ${s.body}`).toBe(500);
        expect(s.body).toMatch(/worker \d+, which was not heard for 2000 ms|was not heard of within/);
      }
    }
    const ok = samples.filter((s) => s.status === 200);
    expect(ok.length / samples.length).toBeGreaterThan(0.8);
    // Printed, not asserted: with one caller per class the machines are rarely contended, so these medians
    // are the functions' own times plus the faults' delays (a timed comparison here failed CI once, 82 against
    // 76 ms). Class order under contention is asserted from the machine scheduler's decisions in
    // test/swapping.test.ts (real processes), and for both drivers in test/conformance.
    const high = ok.filter((s) => s.fn === 'page-view').map((s) => s.ms);
    const low = ok.filter((s) => s.fn === 'image-resize').map((s) => s.ms);
    process.stderr.write(`cluster-hosts: median call ${Math.round(median(high))} ms top class (page-view), ${Math.round(median(low))} ms lowest (image-resize)\n`);

    // Every accepted async invocation finished (as either gateway tells), and was billed exactly once.
    expect(accepted.length).toBeGreaterThan(10);
    const deadline = Date.now() + 120_000;
    let statuses: string[] = [];
    for (;;) {
      statuses = await Promise.all(accepted.map(async (id, i) => {
        const r = await fetch(`${urls[i % 2] as string}/v1/invocations/${id}`, { headers: AUTH });
        return ((await r.json()) as { status: string }).status;
      }));
      if (statuses.every((st) => st === 'succeeded' || st === 'failed') || Date.now() > deadline) break;
      await sleep(500);
    }
    expect(statuses.filter((st) => st !== 'succeeded')).toEqual([]);
    // Each ledger takes the others' records from the billing stream (within seconds, also after a
    // NATS server was lost); then every accepted invocation is billed exactly once in each.
    const billedIn = (g: string): Map<string, number> => {
      const db = new Database(join(dir, g, 'fare.db'), { readonly: true });
      const rows = db.prepare(`SELECT invocation_id AS id, COUNT(*) AS n FROM billing WHERE invocation_id IN (${accepted.map(() => '?').join(',')}) GROUP BY invocation_id`).all(...accepted) as { id: string; n: number }[];
      db.close();
      return new Map(rows.map((r) => [r.id, r.n]));
    };
    for (const g of ['gateway', 'gateway-1']) {
      let billed = billedIn(g);
      for (let waited = 0; waited < 30_000 && accepted.some((id) => billed.get(id) === undefined); waited += 500) {
        await sleep(500);
        billed = billedIn(g);
      }
      const diag = (): string => ['gateway', 'gateway-1'].map((x) => {
        const db = new Database(join(dir, x, 'fare.db'), { readonly: true });
        const out = db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number };
        const pos = db.prepare('SELECT * FROM ledger_position').all();
        const missing = accepted.filter((id) => billed.get(id) === undefined).map((id) => db.prepare('SELECT id, at FROM billing WHERE invocation_id = ?').all(id));
        const inv = accepted.filter((id) => billed.get(id) === undefined).map((id) => db.prepare('SELECT status, attempts, finished_at FROM invocations WHERE id = ?').get(id));
        db.close();
        return `${x}: outbox ${out.n}, position ${JSON.stringify(pos)}, missing ones here ${JSON.stringify(missing)} ${JSON.stringify(inv)}`;
      }).join('\n');
      for (const id of accepted) expect(billed.get(id) ?? 0, `${g}: ${id} billed ${billed.get(id) ?? 0} times\n${diag()}`).toBe(1);
    }
  }, 300_000);
});
