// `fare cluster up` end to end: a real nats-server, two shards, two workers and a gateway, each its own
// `fare` process, serving real functions; then faults caused for real — a worker killed with kill -9
// in the middle of invocations, a shard killed and restarted, the gateway killed and restarted — and
// what users see after each: sync callers answered or told clearly (well within their timeout),
// accepted async invocations all finished, every finished invocation billed once.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRecording } from '../src/sim/workload/recorded.ts';
import { runReplay } from '../src/sim/experiments/replay.ts';
import { InvokeWithResponseStreamCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp, type Cluster } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN_KEY } from '../support/fare-process.ts';
import { FLOOD_HANDLER, floodReceived } from '../support/flood.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED fare cluster end-to-end tests: ${nats.why}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');
const AUTH = { Authorization: `Bearer ${ADMIN_KEY}` };
const MEMBER_TIMEOUT_MS = 1000;

/** A function that sleeps as long as it is asked, then says so. */
const SLEEPER = `exports.handler = async (e) => {
  await new Promise((r) => setTimeout(r, e.sleepMs || 0));
  return { slept: e.sleepMs || 0, n: e.n };
};
`;

interface Call {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
  readonly requestId: string;
}

async function invoke(url: string, fn: string, payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<Call> {
  const t0 = performance.now();
  const r = await fetch(`${url}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST', headers: { ...AUTH, 'X-Amz-Invocation-Type': type, 'Content-Type': 'application/json' }, body: JSON.stringify(payload),
  });
  return { status: r.status, body: await r.text(), ms: performance.now() - t0, requestId: r.headers.get('x-amzn-requestid') ?? '' };
}

async function api(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const r = await fetch(`${url}${path}`, { method, headers: { ...AUTH, ...headers }, ...(body !== undefined ? { body: body instanceof Buffer ? body : JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as unknown) : null };
}

/** The AWS SDK's Lambda client on the gateway at `url`, as the administrator. */
function lambdaClient(url: string): LambdaClient {
  const [accessKeyId, secretAccessKey] = ADMIN_KEY.split(':') as [string, string];
  return new LambdaClient({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
}

/** Waits until every async invocation has finished; returns their statuses. */
async function finished(url: string, ids: readonly string[], within = 60_000): Promise<string[]> {
  const deadline = Date.now() + within;
  for (;;) {
    const st = await Promise.all(ids.map(async (id) => ((await api(url, 'GET', `/v1/invocations/${id}`)).json as { status: string }).status));
    if (st.every((s) => s === 'succeeded' || s === 'failed')) return st;
    if (Date.now() > deadline) throw new Error(`async invocations not finished: ${st.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!nats.ok)('fare cluster up', () => {
  let dir = '';
  let cluster: Cluster;
  let url = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-cluster-'));
    cluster = await clusterUp({
      dataDir: dir, shards: 2, workers: 2, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN, heartbeatMs: 100, memberTimeoutMs: MEMBER_TIMEOUT_MS,
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, record: join(dir, 'traffic.jsonl'),
    });
    url = cluster.url;
    const code = join(dir, 'sleeper');
    mkdirSync(code);
    writeFileSync(join(code, 'index.js'), SLEEPER);
    const put = await api(url, 'PUT', '/v1/functions/sleeper?runtime=nodejs&handler=index.handler&class=high&timeoutMs=30000', zipDirectory(code), { 'Content-Type': 'application/zip' });
    expect(put.status).toBe(201);
    const idem = await api(url, 'PUT', '/v1/functions/sleeper-idem?runtime=nodejs&handler=index.handler&class=high&timeoutMs=30000&idempotent=true', zipDirectory(code), { 'Content-Type': 'application/zip' });
    expect(idem.json).toMatchObject({ idempotent: true });
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the examples and a deployed function; both workers run jobs, each with the code it fetched', async () => {
    const pv = await invoke(url, 'page-view', { user: 'ada' });
    expect(pv.status).toBe(200);
    expect(pv.body).toContain('Welcome, ada');
    const pr = await invoke(url, 'profile-view', { user: 'bob' });
    expect(pr.status).toBe(200);
    const calls = await Promise.all(Array.from({ length: 12 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 150, n })));
    for (const c of calls) expect(c.status, c.body).toBe(200);
    expect(calls.map((c) => (JSON.parse(c.body) as { n: number }).n)).toEqual(Array.from({ length: 12 }, (_, n) => n));
    for (const w of ['worker-0', 'worker-1']) {
      const cache = join(dir, w, 'code', 'cache');
      expect(existsSync(cache) ? readdirSync(cache).length : 0, `${w} fetched no code: it ran no job`).toBeGreaterThan(0);
    }
    // Each call's receipt came back over NATS with its worker's report: both workers, each checked.
    const machines = new Set<number>();
    const ioWaits: number[] = [];
    for (const c of calls) {
      const r = await api(url, 'GET', `/v1/invocations/${c.requestId}/receipt`);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const { receipt, verdict } = r.json as { receipt: { machine: { machine: number; startedMs: number; ioWaitMs?: number } | null; class: { name: string } }; verdict: { ok: boolean } };
      expect(receipt.class.name).toBe('high');
      expect(receipt.machine?.startedMs).toBeGreaterThanOrEqual(0);
      expect(verdict.ok).toBe(true);
      machines.add(receipt.machine?.machine ?? -1);
      ioWaits.push(receipt.machine?.ioWaitMs ?? 0);
    }
    expect([...machines].sort()).toEqual([0, 1]);
    // A worker gives a sleeping call's core to the next (I/O waits, as fare up): the receipts show it.
    expect(ioWaits.some((ms) => ms > 0), `I/O waits (ms): ${ioWaits.join(', ')}`).toBe(true);

    // The gateway records what it sends (fare gateway --record): where each ran, from its receipt; the
    // simulator reads the cluster's shape from the records and replays it.
    const file = join(dir, 'traffic.jsonl');
    const until = Date.now() + 10_000;
    while (Date.now() < until && readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"admin/sleeper"')).length < 12) await new Promise((r) => setTimeout(r, 100));
    const trace = readRecording(file);
    expect(trace.header).toMatchObject({ policy: 'fare', shards: 2, machines: 2, cores: 1 });
    const sleepers = trace.records.filter((r) => r.fn === 'admin/sleeper');
    expect(sleepers).toHaveLength(12);
    for (const r of sleepers) {
      expect([0, 1]).toContain(r.machine);
      // The time it held a core: its 150 ms asleep, less what it gave up once seen waiting on I/O.
      expect(r.runMs).toBeGreaterThan(0);
      expect(r.runMs).toBeLessThanOrEqual(r.latencyMs);
    }
    expect(sleepers.some((r) => (r.runMs ?? 0) < 150), 'some gave their core up while asleep').toBe(true);
    const replay = runReplay({ file, seed: 1, out: join(dir, 'replay'), policies: [] });
    expect(replay.comparison.map((c) => c.class)).toContain('high');
  }, 60_000);

  it('streams a response over NATS: each part reaches the caller as the function writes it', async () => {
    const code = join(dir, 'streamer');
    mkdirSync(code);
    writeFileSync(join(code, 'index.mjs'), `export const handler = awslambda.streamifyResponse(async (e, stream) => {
      for (let i = 0; i < 3; i++) { stream.write('part ' + i + '\\n'); await new Promise((r) => setTimeout(r, 300)); }
      stream.end();
    });\n`);
    expect((await api(url, 'PUT', '/v1/functions/streamer?runtime=nodejs&handler=index.handler&class=high', zipDirectory(code), { 'Content-Type': 'application/zip' })).status).toBe(201);
    const lambda = lambdaClient(url);
    try {
      const out = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'streamer', Payload: Buffer.from('{}') }));
      const parts: { text: string; at: number }[] = [];
      let completeAt = 0;
      let error: string | undefined;
      for await (const e of out.EventStream ?? []) {
        if (e.PayloadChunk?.Payload !== undefined) parts.push({ text: Buffer.from(e.PayloadChunk.Payload).toString('utf8'), at: performance.now() });
        if (e.InvokeComplete !== undefined) {
          completeAt = performance.now();
          error = e.InvokeComplete.ErrorCode;
        }
      }
      expect(error).toBeUndefined();
      expect(parts.map((p) => p.text).join('')).toBe('part 0\npart 1\npart 2\n');
      // The first part came while the function still had 0.6 s of writing to do.
      expect(completeAt - (parts[0]?.at ?? Infinity)).toBeGreaterThan(400);
    } finally {
      lambda.destroy();
    }
  }, 60_000);

  it('holds a streaming function\'s writes while its caller does not read (backpressure over NATS: stream-ack), and loses nothing', async () => {
    const code = join(dir, 'flood');
    mkdirSync(code);
    writeFileSync(join(code, 'index.mjs'), FLOOD_HANDLER);
    expect((await api(url, 'PUT', '/v1/functions/flood?runtime=nodejs&handler=index.handler&class=high&timeoutMs=30000', zipDirectory(code), { 'Content-Type': 'application/zip' })).status).toBe(201);
    const lambda = lambdaClient(url);
    try {
      const out = await lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'flood', Payload: Buffer.from('{}') }));
      // Nothing read for 3 s: the function may get only the window and the sockets' buffers ahead.
      await new Promise((r) => setTimeout(r, 3000));
      const parts: Buffer[] = [];
      let error: string | undefined;
      for await (const e of out.EventStream ?? []) {
        if (e.PayloadChunk?.Payload !== undefined) parts.push(Buffer.from(e.PayloadChunk.Payload));
        if (e.InvokeComplete !== undefined) error = e.InvokeComplete.ErrorCode;
      }
      expect(error).toBeUndefined();
      const { intact, writtenMs } = floodReceived(Buffer.concat(parts));
      expect(intact).toBe(true);
      expect(writtenMs).toBeGreaterThan(2000);
    } finally {
      lambda.destroy();
    }
  }, 60_000);

  it('kill -9 of a worker mid-invocation: its sync callers get a clear error within the membership timeout, the rest are answered, async work runs again elsewhere', async () => {
    const sync = Array.from({ length: 6 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 3000, n }));
    // A function marked idempotent is run again elsewhere instead of failing.
    const idem = Array.from({ length: 4 }, (_, n) => invoke(url, 'sleeper-idem', { sleepMs: 2000, n }));
    const accepted = await Promise.all(Array.from({ length: 6 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 1500, n: 100 + n }, 'Event')));
    for (const a of accepted) expect(a.status).toBe(202);
    await new Promise((r) => setTimeout(r, 700));
    const victim = cluster.parts.find((p) => p.name === 'worker-0');
    victim?.child.kill('SIGKILL');
    const results = await Promise.all(sync);
    const lost = results.filter((r) => r.status !== 200);
    expect(lost.length, 'some sync calls ran on the killed worker').toBeGreaterThan(0);
    expect(results.length - lost.length, 'some sync calls ran on the other worker').toBeGreaterThan(0);
    for (const r of lost) {
      expect(r.status).toBe(500);
      expect(r.body).toMatch(/worker 0, which was not heard for 1000 ms/);
      // Told within the membership timeout (and a little), not at the function's 30 s timeout.
      expect(r.ms).toBeLessThan(3000 + MEMBER_TIMEOUT_MS + 3000);
    }
    for (const r of await Promise.all(idem)) expect(r.status, r.body).toBe(200);
    const st = await finished(url, accepted.map((a) => a.requestId));
    expect(st).toEqual(Array(6).fill('succeeded'));
    // After the worker is gone, new calls go to the live one.
    const after = await Promise.all(Array.from({ length: 4 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 10, n })));
    for (const c of after) expect(c.status).toBe(200);
    // The worker comes back and is used again.
    await cluster.restart('worker-0');
    await new Promise((r) => setTimeout(r, 500));
    const back = await Promise.all(Array.from({ length: 8 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 200, n })));
    for (const c of back) expect(c.status).toBe(200);
  }, 120_000);

  it('a worker stopped (SIGTERM) drains: no new work goes to it, what it runs finishes, then it leaves', async () => {
    const w1 = cluster.parts.find((p) => p.name === 'worker-1');
    const calls = Array.from({ length: 6 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 1500, n }));
    await new Promise((r) => setTimeout(r, 400));
    const exited = new Promise((r) => w1?.child.once('exit', r));
    w1?.child.kill('SIGTERM');
    const t0 = performance.now();
    // Calls made while it drains go to worker 0.
    const during = await Promise.all(Array.from({ length: 4 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 10, n })));
    for (const c of [...(await Promise.all(calls)), ...during]) expect(c.status, c.body).toBe(200);
    await exited;
    expect(performance.now() - t0).toBeLessThan(15_000);
    await cluster.restart('worker-1');
  }, 60_000);

  it('a shard killed with kill -9: invocations go on through the other shard, and the restarted one takes its share again', async () => {
    cluster.parts.find((p) => p.name === 'shard-0')?.child.kill('SIGKILL');
    const calls = await Promise.all(Array.from({ length: 10 }, (_, n) => invoke(url, n % 2 === 0 ? 'sleeper' : 'page-view', { sleepMs: 50, n, user: 'x' })));
    for (const c of calls) expect(c.status, c.body).toBe(200);
    await cluster.restart('shard-0');
    await new Promise((r) => setTimeout(r, 300));
    const again = await Promise.all(Array.from({ length: 6 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 20, n })));
    for (const c of again) expect(c.status).toBe(200);
  }, 60_000);

  it('the gateway killed with kill -9 and restarted: accepted async invocations all finish, each billed once', async () => {
    const accepted = await Promise.all(Array.from({ length: 8 }, (_, n) => invoke(url, 'sleeper', { sleepMs: 400, n: 200 + n }, 'Event')));
    for (const a of accepted) expect(a.status).toBe(202);
    cluster.parts.find((p) => p.name === 'gateway')?.child.kill('SIGKILL');
    const g = await cluster.restart('gateway');
    url = (/Fare gateway is up: (http:\/\/\S+)/.exec(g.output()) as RegExpExecArray)[1] as string;
    const st = await finished(url, accepted.map((a) => a.requestId));
    expect(st).toEqual(Array(8).fill('succeeded'));
    // Billed once each: one billed execution (a log entry carries its billing) that succeeded. An
    // attempt cut off by the gateway's death was not billed (its record died with it) and ran again.
    const logs = (await api(url, 'GET', '/v1/functions/sleeper/logs?limit=1000')).json as { entries: { requestId: string; type: string; status: string; costMicroCents: number }[] };
    for (const a of accepted) {
      const ok = logs.entries.filter((e) => e.requestId === a.requestId && e.type === 'async' && e.status === 'ok');
      expect(ok.length, `billed executions of ${a.requestId}`).toBe(1);
      expect(ok[0]?.costMicroCents).toBeGreaterThan(0);
    }
  }, 120_000);

  it('the gateway stopped with SIGTERM drains first: its sync caller answered, its async invocation run once, and it starts again', async () => {
    const event = await invoke(url, 'sleeper', { sleepMs: 1500, n: 300 }, 'Event');
    expect(event.status).toBe(202);
    const sync = invoke(url, 'sleeper', { sleepMs: 2000, n: 301 });
    await new Promise((r) => setTimeout(r, 500));
    // SIGTERM (then started again): it lets the calls in flight finish before it exits.
    const g = await cluster.restart('gateway');
    const answered = await sync;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ slept: 2000, n: 301 });
    expect(g.output()).not.toMatch(/unexpected error/);
    url = (/Fare gateway is up: (http:\/\/\S+)/.exec(g.output()) as RegExpExecArray)[1] as string;
    expect(await finished(url, [event.requestId])).toEqual(['succeeded']);
    const logs = (await api(url, 'GET', '/v1/functions/sleeper/logs?limit=1000')).json as { entries: { requestId: string; type: string; status: string }[] };
    // One entry: the restarted gateway reads its own last entries from the log stream again (it had
    // not saved its place there), and enters each execution once.
    expect(logs.entries.filter((e) => e.requestId === event.requestId && e.type === 'async' && e.status === 'ok')).toHaveLength(1);
  }, 60_000);

  it("a function's concurrency limit outlives faults: calls cut off by the gateway's kill -9, or running on workers killed with kill -9, give their places back", async () => {
    const code = join(dir, 'limited');
    mkdirSync(code);
    writeFileSync(join(code, 'index.js'), SLEEPER);
    expect((await api(url, 'PUT', '/v1/functions/limited?runtime=nodejs&handler=index.handler&timeoutMs=30000', zipDirectory(code), { 'Content-Type': 'application/zip' })).status).toBe(201);
    expect((await api(url, 'PUT', '/v1/functions/limited/concurrency', { reserved: 2 }, { 'Content-Type': 'application/json' })).status).toBe(200);
    const two = async (sleepMs: number): Promise<number[]> => (await Promise.all([0, 1].map((n) => invoke(url, 'limited', { sleepMs, n })))).map((c) => c.status);
    expect(await two(10)).toEqual([200, 200]);
    // The gateway dies with two calls running: nobody is left to say they ended but their worker.
    const cut = [0, 1].map((n) => invoke(url, 'limited', { sleepMs: 1500, n }).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 400));
    expect((await invoke(url, 'limited', { sleepMs: 0 })).status).toBe(429);
    cluster.parts.find((p) => p.name === 'gateway')?.child.kill('SIGKILL');
    await Promise.all(cut);
    const g = await cluster.restart('gateway');
    url = (/Fare gateway is up: (http:\/\/\S+)/.exec(g.output()) as RegExpExecArray)[1] as string;
    await new Promise((r) => setTimeout(r, 1500));
    expect(await two(10)).toEqual([200, 200]);
    // Both workers die with two calls running: the calls end with them.
    const lost = [0, 1].map((n) => invoke(url, 'limited', { sleepMs: 5000, n }));
    await new Promise((r) => setTimeout(r, 500));
    for (const w of ['worker-0', 'worker-1']) cluster.parts.find((p) => p.name === w)?.child.kill('SIGKILL');
    expect((await Promise.all(lost)).map((c) => c.status)).toEqual([500, 500]);
    await cluster.restart('worker-0');
    await cluster.restart('worker-1');
    await new Promise((r) => setTimeout(r, 500));
    expect(await two(10)).toEqual([200, 200]);
  }, 120_000);
});

describe.skipIf(!nats.ok)('fare cluster up: idle lists (on by default)', () => {
  let dir = '';
  let cluster: Cluster;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-cluster-idle-'));
    cluster = await clusterUp({
      dataDir: dir, shards: 1, workers: 2, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN, heartbeatMs: 100, memberTimeoutMs: MEMBER_TIMEOUT_MS,
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY }, record: join(dir, 'traffic.jsonl'),
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const shardSays = async (re: RegExp, after = 0): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const shard = cluster.parts.find((p) => p.name === 'shard-0');
      if (re.test(shard?.output().slice(after) ?? '')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the shard never said ${String(re)}:\n${cluster.parts.find((p) => p.name === 'shard-0')?.output() ?? ''}`);
  };

  it('workers join the shard’s idle list by free memory, and join it again when the shard restarts (its list is soft state)', async () => {
    await shardSays(/idle list holds 2 worker/);
    for (let n = 0; n < 4; n++) expect((await invoke(cluster.url, 'page-view', { user: `u${n}` })).status).toBe(200);
    cluster.parts.find((p) => p.name === 'shard-0')?.child.kill('SIGKILL');
    const restarted = await cluster.restart('shard-0');
    // The new shard starts with an empty list; the workers see the old one gone and join again.
    expect(restarted.output()).not.toMatch(/idle list holds 2/);
    await shardSays(/idle list holds 2 worker/);
    for (let n = 0; n < 4; n++) expect((await invoke(cluster.url, 'page-view', { user: `v${n}` })).status).toBe(200);
  }, 60_000);
});
