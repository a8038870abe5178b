// The retention on a cluster's gateways (`fare gateway --retention`, `fare cluster up --retention`,
// docs/retention.md): a gateway's copy deletes billing records, finished async invocations and
// function logs older than its retention in the background, summing billing per hour first, so its
// bills stay what they were — the same as those of a gateway that deleted nothing. A real nats-server,
// shard, worker and gateway (`fare cluster up --retention 1m`, each its own process); a second gateway
// in this process, whose store's clock the test moves on two minutes to age what it holds. A gateway
// whose start fails once its store is open (its port in use) stops it, and exits. A gateway restarted
// after longer than its retention counts the records it held once, its own among them.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE } from '../src/core/classes.ts';
import { startGateway, type GatewayProcess } from '../src/live/cluster/gateway.ts';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp, type Cluster } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY } from '../support/fare-process.ts';
import { eventually, exitCodeWithin } from '../support/wait.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED the cluster gateways' retention tests: ${nats.why}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };
const ECHO = `exports.handler = async (e) => { console.log('echo', e.n); return { echo: e.n }; };
`;

async function invoke(url: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<string> {
  const r = await fetch(`${url}/2015-03-31/functions/echo/invocations`, { method: 'POST', headers: { ...AUTH, 'X-Amz-Invocation-Type': type }, body: JSON.stringify(payload) });
  const body = await r.text();
  expect(r.status, body).toBe(type === 'Event' ? 202 : 200);
  return r.headers.get('x-amzn-requestid') ?? '';
}

async function get(url: string, path: string): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${url}${path}`, { headers: AUTH });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as unknown) : null };
}

/**
 * Two gateways' bills of the same records: the same per function and class (exact sums of the
 * records), and the same monthly totals but for their last bits (each gateway's running totals add
 * the records in the order they reached it).
 */
function sameBill(a: unknown, b: unknown): void {
  type Totals = { cpuMs: number; memGBs: number; costMicroCents: number };
  const { cpuMs: cpuA, memGBs: memA, costMicroCents: costA, ...restA } = a as Totals;
  const { cpuMs: cpuB, memGBs: memB, costMicroCents: costB, ...restB } = b as Totals;
  expect(restA).toEqual(restB);
  expect(cpuA).toBeCloseTo(cpuB, 9);
  expect(memA).toBeCloseTo(memB, 12);
  expect(costA).toBeCloseTo(costB, 12);
}

/** Waits (polling, up to `withinMs`, 20 s unless told) until `ok()` holds. */
const until = (what: string, ok: () => boolean | Promise<boolean>, withinMs = 20_000): Promise<void> => eventually(what, ok, withinMs);

describe.skipIf(!nats.ok)("a cluster gateway's retention", () => {
  let dir = '';
  let cluster: Cluster;
  let aged: GatewayProcess | undefined;
  /** How far the second gateway's store clock is ahead of the real one (ms). */
  let ahead = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-cluster-retention-'));
    cluster = await clusterUp({
      dataDir: dir, shards: 1, workers: 1, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN, heartbeatMs: 100, memberTimeoutMs: 1000,
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, retention: '1m', stemCells: false,
    });
    const code = join(dir, 'echo');
    mkdirSync(code);
    writeFileSync(join(code, 'index.js'), ECHO);
    const put = await fetch(`${cluster.url}/v1/functions/echo?runtime=nodejs&handler=index.handler&class=high&timeoutMs=30000`, { method: 'PUT', headers: { ...AUTH, 'Content-Type': 'application/zip' }, body: zipDirectory(code) });
    expect(put.status, await put.text()).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await aged?.close();
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fare cluster up --retention gives it to its gateways', () => {
    const args = cluster.parts.find((p) => p.name === 'gateway')?.args ?? [];
    expect(args.slice(args.indexOf('--retention'), args.indexOf('--retention') + 2)).toEqual(['--retention', '1m']);
  });

  it("deletes the records and logs older than the retention from the gateway's copy in the background; its bills do not change", async () => {
    const warnings: string[] = [];
    aged = await startGateway({
      id: 1, shards: 1, dataDir: join(dir, 'gateway-aged'), host: '127.0.0.1', port: 0, prices: DEFAULT_PRICE_TABLE, replicas: 1,
      examples: false, fsync: false, masterKeyFile: join(dir, 'master.key'), warn: (l) => warnings.push(l),
      servers: cluster.nats, prefix: 'fare', heartbeatMs: 100, memberTimeoutMs: 1000,
      retentionMs: 60_000, storeClock: () => Date.now() + ahead,
    });
    const g = aged;
    const retention = g.store.retention;
    expect(retention?.maxAgeMs).toBe(60_000);
    const count = (sql: string): number => (g.store.db.prepare(sql).get() as { n: number }).n;
    const held = (): { billing: number; logs: number; finished: number } => ({
      billing: count('SELECT COUNT(*) AS n FROM billing'),
      logs: count('SELECT COUNT(*) AS n FROM logs'),
      finished: count("SELECT COUNT(*) AS n FROM invocations WHERE status IN ('succeeded', 'failed')"),
    });

    await until('the function known to the second gateway', async () => (await get(g.url, '/v1/functions/echo')).status === 200);
    // Through both gateways, sync and async: 3 + 3 + 2 executions, each billed once in every copy.
    for (let n = 0; n < 3; n++) await invoke(cluster.url, { n });
    for (let n = 3; n < 6; n++) await invoke(g.url, { n });
    const events = [await invoke(g.url, { n: 6 }, 'Event'), await invoke(cluster.url, { n: 7 }, 'Event')];
    await until('both Events finished', async () => {
      const st = await Promise.all(events.map(async (id) => ((await get(g.url, `/v1/invocations/${id}`)).json as { status?: string }).status));
      return st.every((s) => s === 'succeeded');
    });
    await until('every record and log in the second copy', () => {
      const h = held();
      return h.billing === 8 && h.logs === 8 && h.finished === 2;
    });
    const month = new Date().toISOString().slice(0, 7);
    const bill = async (url: string): Promise<unknown> => (await get(url, `/v1/bill?month=${month}`)).json;
    const before = await bill(g.url);
    expect(before).toMatchObject({ invocations: 8 });
    sameBill(await bill(cluster.url), before);
    // The clean-up runs on its own: its first sweep came at the start (nothing was old enough).
    expect(retention?.stats()).toMatchObject({ billing: 0, logs: 0, invocations: 0 });
    expect(retention?.stats().sweeps).toBeGreaterThanOrEqual(1);

    // Two minutes later for this copy: all it holds is older than its retention of one minute.
    ahead = 2 * 60_000;
    await until('the second copy cleaned up by its next sweep', () => {
      const h = held();
      return h.billing === 0 && h.logs === 0 && h.finished === 0;
    }, 15_000);
    expect(retention?.stats()).toMatchObject({ billing: 8, logs: 8, invocations: 2 });
    // Its bill is what it was, to the last digit, and the same as that of the gateway that kept everything.
    expect(await bill(g.url)).toEqual(before);
    sameBill(await bill(cluster.url), before);
    expect((await get(g.url, `/v1/invocations/${events[0] ?? ''}`)).status).toBe(404);
    // An async invocation's state is shared by the gateways: its deletion too.
    await until('the finished Events gone from the first gateway too', async () => (await get(cluster.url, `/v1/invocations/${events[1] ?? ''}`)).status === 404, 5000);
    expect(warnings.filter((w) => /retention/i.test(w))).toEqual([]);
  });

  it('a gateway restarted after longer than its retention counts every record once, its own last ones too', async () => {
    let later = 0;
    const start = (): Promise<GatewayProcess> => startGateway({
      id: 3, shards: 1, dataDir: join(dir, 'gateway-restarted'), host: '127.0.0.1', port: 0, prices: DEFAULT_PRICE_TABLE, replicas: 1,
      examples: false, fsync: false, masterKeyFile: join(dir, 'master.key'), warn: () => {},
      servers: cluster.nats, prefix: 'fare', heartbeatMs: 100, memberTimeoutMs: 1000,
      retentionMs: 60_000, storeClock: () => Date.now() + later,
    });
    const first = await start();
    let before: unknown;
    try {
      await until('the function known to the restarted gateway', async () => (await get(first.url, '/v1/functions/echo')).status === 200);
      const invocations = async (url: string): Promise<number> => ((await get(url, '/v1/bill')).json as { invocations: number }).invocations;
      const earlier = await invocations(cluster.url);
      for (let n = 0; n < 3; n++) await invoke(first.url, { n: 100 + n });
      await until('every record in the copy', async () => (await invocations(first.url)) === earlier + 3);
      before = (await get(first.url, '/v1/bill')).json;
    } finally {
      // Stopped at once, as a crash would: the ledger's position after its own last records is not saved yet.
      await first.close();
    }
    later = 2 * 60_000;
    const again = await start();
    try {
      // Everything it held is older than its retention now: deleted, but counted once.
      await until('the restarted copy swept', () => (again.store.retention?.stats().sweeps ?? 0) >= 1);
      const cutoff = Date.now() + later - 60_000;
      expect((again.store.db.prepare('SELECT COUNT(*) AS n FROM billing WHERE at < ?').get(cutoff) as { n: number }).n).toBe(0);
      expect(again.store.retention?.stats().billing).toBeGreaterThanOrEqual(3);
      await new Promise((r) => setTimeout(r, 200)); // a record read again late would show now
      expect((await get(again.url, '/v1/bill')).json).toEqual(before);
    } finally {
      await again.close();
    }
  });

  it('a gateway whose port is in use stops what it started (its store and its clean-up among it) and exits 2', async () => {
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
    const address = busy.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const child = spawn(process.execPath, [BIN, 'gateway', '--id', '2', '--shards', '1', '--nats', cluster.nats.join(','), '--port', String(port), '--retention', '1m',
        '--data-dir', join(dir, 'gateway-busy'), '--master-key-file', join(dir, 'master.key')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const code = await exitCodeWithin(child, 20_000);
      expect(code, out).toBe(2);
      expect(out).toMatch(/is in use .*FARE_E_PORT_IN_USE/);
    } finally {
      busy.close();
    }
  });
});
