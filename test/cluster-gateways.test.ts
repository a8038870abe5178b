// Several gateways of one cluster, each its own `fare gateway` process with its own data directory,
// sharing tenants, credentials, grants, functions and the billing ledger through JetStream: what is
// written through one is served by the others; every invocation is billed once in every gateway's
// ledger, even when its record is delivered twice; function logs and large async results are the same
// through any gateway;
// a gateway started with an empty data directory
// rebuilds its copy; async invocations accepted by a gateway killed for good finish on another; a
// function run through one gateway calls through another with its invocation credentials or its
// context, at its class, until it ends; a gateway given another cluster's master key refuses to start.

import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The other gateways apply a change within milliseconds; `eventually` allows seconds.
import { eventually } from '../support/wait.ts';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp, type Cluster } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';

const nats = findNatsServer();
if (!nats.ok) process.stderr.write(`SKIPPED fare cluster gateway tests: ${nats.why}\n`);

const BIN = join(import.meta.dirname, '..', 'bin', 'fare.js');

const ECHO = `exports.handler = async (e) => ({ echo: e.n });
`;
const SLOW = `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, 1000)); return { n: e.n }; };
`;

/**
 * Calls `callee` through the gateway at OTHER twice while it runs: signed (SigV4, by hand: no SDK in
 * the function) with the invocation credentials its Runtime API hands out, and with its context
 * (X-Fare-Context) and the tenant's key; returns what each call answered, the credentials and the context.
 */
const CHAIN = `const crypto = require('node:crypto');
const hex = (s) => crypto.createHash('sha256').update(s).digest('hex');
const mac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();
function signed(url, body, c) {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\\.\\d{3}/, '');
  const scope = amzDate.slice(0, 8) + '/us-east-1/lambda/aws4_request';
  const h = { host: url.host, 'x-amz-content-sha256': hex(body), 'x-amz-date': amzDate, 'x-amz-security-token': c.Token };
  const names = Object.keys(h).sort();
  const canonical = ['POST', url.pathname, '', ...names.map((n) => n + ':' + h[n]), '', names.join(';'), hex(body)].join('\\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonical)].join('\\n');
  let k = mac('AWS4' + c.SecretAccessKey, amzDate.slice(0, 8));
  for (const part of ['us-east-1', 'lambda', 'aws4_request']) k = mac(k, part);
  const { host, ...headers } = h;
  headers.authorization = 'AWS4-HMAC-SHA256 Credential=' + c.AccessKeyId + '/' + scope + ', SignedHeaders=' + names.join(';') + ', Signature=' + crypto.createHmac('sha256', k).update(toSign).digest('hex');
  return headers;
}
const answer = async (r) => ({ status: r.status, cls: r.headers.get('x-fare-class'), code: r.headers.get('x-fare-error-code'), body: await r.text() });
exports.handler = async (event, context) => {
  const creds = await (await fetch(process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI)).json();
  const url = new URL('/2015-03-31/functions/callee/invocations', process.env.OTHER);
  const body = JSON.stringify({ n: 1 });
  const viaCredentials = await answer(await fetch(url, { method: 'POST', body, headers: signed(url, body, creds) }));
  const viaContext = await answer(await fetch(url, { method: 'POST', body, headers: { Authorization: 'Bearer ' + process.env.KEY, 'X-Fare-Context': context.fareContext } }));
  return { viaCredentials, viaContext, creds, context: context.fareContext };
};
`;

const gatewayUrl = (c: Cluster, name: string): string => (/Fare gateway is up: (http:\/\/\S+)/.exec(c.parts.find((p) => p.name === name)?.output() ?? '') as RegExpExecArray)[1] as string;

interface Reply {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

async function call(url: string, key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(`${url}${path}`, {
    method, headers: { Authorization: `Bearer ${key}`, ...headers },
    ...(body !== undefined ? { body: body instanceof Buffer ? body : JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const invoke = (url: string, key: string, fn: string, n: number): Promise<Reply> =>
  call(url, key, 'POST', `/2015-03-31/functions/${fn}/invocations`, { n }, { 'Content-Type': 'application/json' });

/** The same sum of money, added up in another order (each ledger adds its records as they come). */
const same = (x: unknown, y: unknown): boolean => typeof x === 'number' && typeof y === 'number' && Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));


describe.skipIf(!nats.ok)('several gateways of one cluster', () => {
  let dir = '';
  let cluster: Cluster;
  let a = '';
  let b = '';
  let admin = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fare-gateways-'));
    // No FARE_ADMIN_KEY: the first gateway creates the administrator, the second one learns it.
    const env = { ...process.env };
    delete env.FARE_ADMIN_KEY;
    cluster = await clusterUp({
      dataDir: dir, shards: 1, workers: 1, gateways: 2, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      // FCFS within a class on one core: a caller that held its core while its call, at its class,
      // waits behind it would never be answered — the call through the other gateway must block it.
      within: 'fcfs',
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: BIN, heartbeatMs: 100, memberTimeoutMs: 1000, env,
    });
    [a, b] = cluster.urls as [string, string];
    const text = readFileSync(cluster.adminCredentialFile, 'utf8');
    admin = (/^FARE_KEY=(\S+)$/m.exec(text) as RegExpExecArray)[1] as string;
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the first gateway’s administrator and examples are the second one’s', async () => {
    expect(a).not.toBe(b);
    const pv = await call(b, admin, 'POST', '/2015-03-31/functions/page-view/invocations', { user: 'ada' });
    expect(pv.status).toBe(200);
    // The examples were deployed once, by the first gateway: version 1 everywhere.
    const fa = await call(a, admin, 'GET', '/v1/functions/page-view');
    const fb = await call(b, admin, 'GET', '/v1/functions/page-view');
    expect(fa.json.version).toBe(1);
    expect(fb.json).toEqual(fa.json);
  }, 30_000);

  it('a tenant made through one gateway deploys through the other and is served by both; its bill is the same on both, each call counted once', async () => {
    const made = await call(a, admin, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    expect(made.status).toBe(201);
    const cred = made.json.credential as { accessKeyId: string; secret: string };
    const acme = `${cred.accessKeyId}:${cred.secret}`;
    // At once, through the other gateway (a write is answered once JetStream has it).
    const src = join(dir, 'echo');
    mkdirSync(src);
    writeFileSync(join(src, 'index.js'), ECHO);
    await eventually('gateway b knows acme', async () => (await call(b, acme, 'GET', '/v1/functions')).status === 200, 2000);
    const put = await call(b, acme, 'PUT', '/v1/functions/echo?runtime=nodejs&handler=index.handler&class=high', zipDirectory(src), { 'Content-Type': 'application/zip' });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    await eventually('gateway a knows echo', async () => (await call(a, acme, 'GET', '/v1/functions/echo')).status === 200, 2000);
    const calls = await Promise.all([
      ...Array.from({ length: 5 }, (_, n) => invoke(a, acme, 'echo', n)),
      ...Array.from({ length: 7 }, (_, n) => invoke(b, acme, 'echo', 100 + n)),
    ]);
    for (const c of calls) expect(c.status, JSON.stringify(c.json)).toBe(200);
    expect(calls.map((c) => c.json.echo)).toEqual([0, 1, 2, 3, 4, 100, 101, 102, 103, 104, 105, 106]);
    // Each gateway's ledger has all twelve, once: the same bill from either.
    let billA: Reply | undefined;
    await eventually('both ledgers hold 12 invocations of acme', async () => {
      billA = await call(a, acme, 'GET', '/v1/bill');
      const billB = await call(b, acme, 'GET', '/v1/bill');
      return billA.json.invocations === 12 && billB.json.invocations === 12 && same(billA.json.costMicroCents, billB.json.costMicroCents);
    });
    expect(((billA as Reply).json.functions as { function: string; invocations: number }[]).map((f) => [f.function, f.invocations])).toEqual([['echo', 12]]);
  }, 60_000);

  it('a billing record delivered again (a new message, not caught by JetStream’s duplicate window) is not billed again', async () => {
    const before = (await call(a, admin, 'GET', '/v1/bill?tenant=acme')).json;
    // The record as a gateway published it, sent again under another message id.
    const db = new Database(join(dir, 'gateway', 'fare.db'), { readonly: true });
    const row = db.prepare("SELECT * FROM billing WHERE tenant = 'acme' LIMIT 1").get() as Record<string, unknown>;
    db.close();
    const nc = await connect({ servers: cluster.nats[0] as string });
    const js = jetstream(nc);
    await js.publish('fare.billing', JSON.stringify(row), { msgID: `replay-${String(row.id)}` });
    await js.publish('fare.billing', JSON.stringify(row));
    // A record the ledgers have not seen, published twice under one id: counted once.
    const fresh = { ...row, id: `${String(row.id)}-new`, invocation_id: `${String(row.invocation_id)}-new` };
    await js.publish('fare.billing', JSON.stringify(fresh), { msgID: String(fresh.id) });
    await js.publish('fare.billing', JSON.stringify(fresh));
    await nc.drain();
    await eventually('both ledgers count the new record once', async () => {
      const x = (await call(a, admin, 'GET', '/v1/bill?tenant=acme')).json;
      const y = (await call(b, admin, 'GET', '/v1/bill?tenant=acme')).json;
      return x.invocations === (before.invocations as number) + 1 && y.invocations === x.invocations;
    });
    // And stays so.
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(b, admin, 'GET', '/v1/bill?tenant=acme')).json.invocations).toBe((before.invocations as number) + 1);
  }, 30_000);

  it('a function’s logs are the same through either gateway: entries of calls made through one are read through the other', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) {
      const r = await fetch(`${a}/2015-03-31/functions/page-view/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${admin}` }, body: JSON.stringify({ user: `log${n}` }) });
      expect(r.status).toBe(200);
      ids.push(r.headers.get('x-amzn-requestid') ?? '');
    }
    let found: { requestId: string; text: string }[] = [];
    await eventually('gateway b has the 3 entries', async () => {
      const e = (await call(b, admin, 'GET', '/v1/functions/page-view/logs')).json.entries as { requestId: string; text: string }[];
      found = e.filter((x) => ids.includes(x.requestId));
      return found.length === 3;
    });
    for (const x of found) expect(x.text).toMatch(new RegExp(`REPORT RequestId: ${x.requestId}`));
    // Each once, on both.
    const onA = ((await call(a, admin, 'GET', '/v1/functions/page-view/logs')).json.entries as { requestId: string }[]).filter((x) => ids.includes(x.requestId));
    expect(onA.length).toBe(3);
    await new Promise((r) => setTimeout(r, 300));
    const onB = ((await call(b, admin, 'GET', '/v1/functions/page-view/logs')).json.entries as { requestId: string }[]).filter((x) => ids.includes(x.requestId));
    expect(onB.length).toBe(3);
  }, 30_000);

  it('a schedule made through one gateway is shared with the other and fires its function once', async () => {
    const src = join(dir, 'tick');
    mkdirSync(src);
    writeFileSync(join(src, 'index.js'), 'exports.handler = async (e) => { console.log("tick", e.marker); return 1; };\n');
    expect((await call(a, admin, 'PUT', '/v1/functions/tick?runtime=nodejs&handler=index.handler&class=low', zipDirectory(src), { 'Content-Type': 'application/zip' })).status).toBe(201);
    await eventually('gateway b knows tick', async () => (await call(b, admin, 'GET', '/v1/functions/tick')).status === 200, 2000);
    const arn = (await call(a, admin, 'GET', '/v1/functions/tick')).json.arn as string;
    // Due about 1.5 s from now (its grid began 58.5 s ago), then every minute.
    const made = await call(a, admin, 'POST', '/schedules/every-minute', {
      ScheduleExpression: 'rate(1 minute)', StartDate: (Date.now() - 58_500) / 1000, FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: arn, RoleArn: 'arn:aws:iam::123456789012:role/any', Input: '{"marker":"cluster-schedule"}' },
    }, { 'Content-Type': 'application/json' });
    expect(made.status, JSON.stringify(made.json)).toBe(200);
    // Gateway b has it too (its runner fires it as well, should it look first; the firing's id is the same).
    await eventually('gateway b knows the schedule', async () => (await call(b, admin, 'GET', '/schedules/every-minute')).status === 200, 2000);
    const ticks = async (): Promise<number> => {
      const e = (await call(a, admin, 'GET', '/v1/functions/tick/logs')).json.entries as { text: string }[];
      return e.filter((x) => x.text.includes('tick cluster-schedule')).length;
    };
    await eventually('the schedule fired', async () => (await ticks()) >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(await ticks()).toBe(1);
  }, 30_000);

  it("a function's concurrency limit set through one gateway holds over the calls of both: its shard counts them all", async () => {
    const src = join(dir, 'capped');
    mkdirSync(src);
    writeFileSync(join(src, 'index.js'), SLOW);
    expect((await call(a, admin, 'PUT', '/v1/functions/capped?runtime=nodejs&handler=index.handler', zipDirectory(src), { 'Content-Type': 'application/zip' })).status).toBe(201);
    expect((await call(a, admin, 'PUT', '/v1/functions/capped/concurrency', { reserved: 2 }, { 'Content-Type': 'application/json' })).json.reservedConcurrency).toBe(2);
    await eventually('gateway b knows the limit', async () => (await call(b, admin, 'GET', '/v1/functions/capped')).json.reservedConcurrency === 2, 2000);
    // Two through each gateway, in this order, each taking a second: the first two run, the others are refused.
    const rs = await Promise.all([a, b, a, b].map(async (g, i) => {
      await new Promise((r) => setTimeout(r, i * 100));
      return invoke(g, admin, 'capped', i);
    }));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 429, 429]);
    expect(rs.slice(2).map((r) => r.json.Reason)).toEqual(['ReservedFunctionConcurrentInvocationLimitExceeded', 'ReservedFunctionConcurrentInvocationLimitExceeded']);
    // Both have left: two at once again, one through each.
    expect((await Promise.all([invoke(a, admin, 'capped', 5), invoke(b, admin, 'capped', 6)])).map((r) => r.status)).toEqual([200, 200]);
  }, 30_000);

  it('the receipt and the log entry of a call answered through one gateway are read through the other at once: it waits for them rather than answering 404', async () => {
    for (let n = 0; n < 3; n++) {
      const r = await fetch(`${a}/2015-03-31/functions/page-view/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${admin}` }, body: JSON.stringify({ user: `receipt${n}` }) });
      expect(r.status).toBe(200);
      const id = r.headers.get('x-amzn-requestid') ?? '';
      // Asked of the other gateway right after the answer, before its record can have come through the log stream.
      const [receipt, logs] = await Promise.all([
        call(b, admin, 'GET', `/v1/invocations/${id}/receipt`),
        call(b, admin, 'GET', `/v1/functions/page-view/logs?request=${id}`),
      ]);
      expect([receipt.status, (receipt.json.receipt as { requestId?: string } | undefined)?.requestId]).toEqual([200, id]);
      expect((logs.json.entries as { requestId: string }[]).map((e) => e.requestId)).toEqual([id]);
    }
    // An id no gateway minted is not waited for (not a version-7 UUID), nor one of a call long over: 404 at once.
    const t0 = performance.now();
    expect((await call(b, admin, 'GET', '/v1/invocations/00000000-0000-4000-8000-000000000000/receipt')).status).toBe(404);
    expect((await call(b, admin, 'GET', '/v1/invocations/00000000-0001-7000-8000-000000000000/receipt')).status).toBe(404);
    expect(performance.now() - t0).toBeLessThan(2_000);
  }, 30_000);

  it('an async result over 256 KiB run through one gateway is read through the other', async () => {
    const src = join(dir, 'big');
    mkdirSync(src);
    writeFileSync(join(src, 'index.js'), `exports.handler = async (e) => ({ n: e.n, pad: 'x'.repeat(400000) });\n`);
    expect((await call(a, admin, 'PUT', '/v1/functions/big?runtime=nodejs&handler=index.handler', zipDirectory(src), { 'Content-Type': 'application/zip' })).status).toBe(201);
    await eventually('gateway b knows big', async () => (await call(b, admin, 'GET', '/v1/functions/big')).status === 200, 2000);
    const r = await fetch(`${a}/2015-03-31/functions/big/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'X-Amz-Invocation-Type': 'Event' }, body: JSON.stringify({ n: 7 }) });
    expect(r.status).toBe(202);
    const id = r.headers.get('x-amzn-requestid') ?? '';
    // Either gateway may have run it: both serve it whole.
    for (const g of [a, b]) {
      let body = '';
      await eventually(`${g} serves the whole result`, async () => {
        const res = await fetch(`${g}/v1/invocations/${id}/result`, { headers: { Authorization: `Bearer ${admin}` } });
        body = await res.text();
        return res.status === 200 && body.length > 400_000;
      }, 20_000);
      expect(JSON.parse(body)).toEqual({ n: 7, pad: 'x'.repeat(400000) });
    }
  }, 30_000);

  it('a credential revoked through one gateway stops working on the other', async () => {
    const issued = await call(a, admin, 'POST', '/v1/tenants/acme/credentials');
    expect(issued.status).toBe(201);
    const key = `${String(issued.json.accessKeyId)}:${String(issued.json.secret)}`;
    await eventually('gateway b accepts the new credential', async () => (await call(b, key, 'GET', '/v1/functions')).status === 200, 2000);
    // Gateway b remembers a verified secret for a minute: the revocation must reach it anyway.
    expect((await call(b, key, 'GET', '/v1/functions')).status).toBe(200);
    expect((await call(a, admin, 'DELETE', `/v1/tenants/acme/credentials/${String(issued.json.accessKeyId)}`)).status).toBe(204);
    await eventually('gateway b refuses the revoked credential', async () => (await call(b, key, 'GET', '/v1/functions')).status === 401, 2000);
  }, 30_000);

  it('a function deleted through one gateway is gone from the other', async () => {
    const made = await call(a, admin, 'POST', '/v1/tenants', { id: 'zeta' });
    const cred = made.json.credential as { accessKeyId: string; secret: string };
    const zeta = `${cred.accessKeyId}:${cred.secret}`;
    const src = join(dir, 'echo');
    await eventually('gateway b knows zeta', async () => (await call(b, zeta, 'GET', '/v1/functions')).status === 200, 2000);
    expect((await call(b, zeta, 'PUT', '/v1/functions/tmp?runtime=nodejs&handler=index.handler', zipDirectory(src), { 'Content-Type': 'application/zip' })).status).toBe(201);
    await eventually('a serves tmp', async () => (await invoke(a, zeta, 'tmp', 1)).status === 200, 2000);
    expect((await call(a, zeta, 'DELETE', '/v1/functions/tmp')).status).toBe(204);
    await eventually('b no longer serves tmp', async () => (await invoke(b, zeta, 'tmp', 1)).status === 404, 2000);
  }, 30_000);

  it('versions, aliases and tags made through one gateway serve through the other, the published code kept while $LATEST moves on', async () => {
    const made = await call(a, admin, 'POST', '/v1/tenants', { id: 'versioned' });
    const cred = made.json.credential as { accessKeyId: string; secret: string };
    const key = `${cred.accessKeyId}:${cred.secret}`;
    await eventually('gateway b knows the tenant', async () => (await call(b, key, 'GET', '/v1/functions')).status === 200, 2000);
    const zip = (answer: string): string => {
      const src = mkdtempSync(join(dir, 'v-'));
      writeFileSync(join(src, 'index.js'), `exports.handler = async () => (${JSON.stringify(answer)});\n`);
      return zipDirectory(src).toString('base64');
    };
    const json = { 'Content-Type': 'application/json' };
    expect((await call(a, key, 'POST', '/2015-03-31/functions', { FunctionName: 'ver', Runtime: 'nodejs20.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: zip('one') }, Publish: true, Tags: { team: 'x' } }, json)).status).toBe(201);
    expect((await call(a, key, 'POST', '/2015-03-31/functions/ver/aliases', { Name: 'prod', FunctionVersion: '1' }, json)).status).toBe(201);
    for (let i = 2; i <= 5; i++) expect((await call(a, key, 'PUT', '/2015-03-31/functions/ver/code', { ZipFile: zip(`v${i}`) }, json)).status).toBe(200);
    const answer = async (q: string): Promise<unknown> => (await invoke(b, key, q, 1)).json;
    await eventually('gateway b runs the alias at version 1', async () => (await answer('ver:prod')) === 'one', 5000);
    await eventually('gateway b runs $LATEST at v5', async () => (await answer('ver')) === 'v5', 5000);
    expect(await answer('ver:1')).toBe('one');
    expect((await call(b, key, 'GET', `/2017-03-31/tags/${encodeURIComponent('arn:aws:lambda:us-east-1:versioned:function:ver')}`)).json).toEqual({ Tags: { team: 'x', 'fare:class': 'standard' } });
    // A weighted alias made through a: b reports its routing and runs both versions.
    expect((await call(a, key, 'POST', '/2015-03-31/functions/ver/versions', {}, json)).json).toMatchObject({ Version: '2' });
    expect((await call(a, key, 'PUT', '/2015-03-31/functions/ver/aliases/prod', { RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }, json)).status).toBe(200);
    await eventually('gateway b reports the routing', async () => JSON.stringify((await call(b, key, 'GET', '/2015-03-31/functions/ver/aliases/prod')).json.RoutingConfig) === '{"AdditionalVersionWeights":{"2":0.5}}', 5000);
    const ran = new Set<unknown>();
    for (let i = 0; i < 60 && ran.size < 2; i++) ran.add(await answer('ver:prod'));
    expect([...ran].sort()).toEqual(['one', 'v5']);
    // An alias's event invoke config made through a is b's (its runner reads it), and goes with the alias.
    expect((await call(a, key, 'PUT', '/2019-09-25/functions/ver/event-invoke-config?Qualifier=prod', { MaximumRetryAttempts: 0 }, json)).status).toBe(200);
    await eventually('gateway b has the config', async () => (await call(b, key, 'GET', '/2019-09-25/functions/ver/event-invoke-config?Qualifier=prod')).json.MaximumRetryAttempts === 0, 5000);
    expect((await call(a, key, 'DELETE', '/2015-03-31/functions/ver/aliases/prod')).status).toBe(204);
    await eventually('gateway b dropped the config with the alias', async () => (await call(b, key, 'GET', '/2019-09-25/functions/ver/event-invoke-config/list')).json.FunctionEventInvokeConfigs?.toString() === '', 5000);
  }, 60_000);

  it('GetFunction through either gateway downloads the package as uploaded: its SHA-256 is CodeSha256, for $LATEST and a published version', async () => {
    const made = await call(a, admin, 'POST', '/v1/tenants', { id: 'packaged' });
    const cred = made.json.credential as { accessKeyId: string; secret: string };
    const key = `${cred.accessKeyId}:${cred.secret}`;
    await eventually('gateway b knows the tenant', async () => (await call(b, key, 'GET', '/v1/functions')).status === 200, 2000);
    const zip = (answer: string): Buffer => {
      const src = mkdtempSync(join(dir, 'pkg-'));
      writeFileSync(join(src, 'index.js'), `exports.handler = async () => (${JSON.stringify(answer)});\n`);
      return zipDirectory(src);
    };
    const one = zip('one');
    const two = zip('two');
    const json = { 'Content-Type': 'application/json' };
    expect((await call(a, key, 'POST', '/2015-03-31/functions', { FunctionName: 'pkg', Runtime: 'nodejs20.x', Role: 'r', Handler: 'index.handler', Code: { ZipFile: one.toString('base64') }, Publish: true }, json)).status).toBe(201);
    expect((await call(a, key, 'PUT', '/2015-03-31/functions/pkg/code', { ZipFile: two.toString('base64') }, json)).status).toBe(200);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('base64');
    /** The download of GetFunction's Code.Location through `gw`, if its hash is the CodeSha256 reported. */
    const download = async (gw: string, qualifier: string): Promise<Buffer | undefined> => {
      const got = await call(gw, key, 'GET', `/2015-03-31/functions/pkg?Qualifier=${encodeURIComponent(qualifier)}`);
      if (got.status !== 200) return undefined;
      const r = await fetch((got.json.Code as { Location: string }).Location);
      if (r.status !== 200) return undefined;
      const bytes = Buffer.from(await r.arrayBuffer());
      return sha(bytes) === (got.json.Configuration as { CodeSha256: string }).CodeSha256 ? bytes : undefined;
    };
    for (const gw of [a, b]) {
      let latest: Buffer | undefined;
      let v1: Buffer | undefined;
      await eventually(`${gw} answers both packages as uploaded`, async () => {
        latest = await download(gw, '$LATEST');
        v1 = await download(gw, '1');
        return latest !== undefined && v1 !== undefined && latest.equals(two);
      }, 5000);
      expect(latest?.equals(two)).toBe(true);
      expect(v1?.equals(one)).toBe(true);
    }
  }, 60_000);

  it('a function invoked through one gateway calls another through the other gateway with its invocation credentials or its context, at its class; refused there once it has ended', async () => {
    const made = await call(a, admin, 'POST', '/v1/tenants', { id: 'chain' });
    const cred = made.json.credential as { accessKeyId: string; secret: string };
    const key = `${cred.accessKeyId}:${cred.secret}`;
    await eventually('gateway b knows the tenant', async () => (await call(b, key, 'GET', '/v1/functions')).status === 200, 2000);
    const zip = (code: string): string => {
      const src = mkdtempSync(join(dir, 'chain-'));
      writeFileSync(join(src, 'index.js'), code);
      return zipDirectory(src).toString('base64');
    };
    const json = { 'Content-Type': 'application/json' };
    expect((await call(a, key, 'PUT', '/v1/functions/callee', { runtime: 'nodejs', handler: 'index.handler', class: 'low', zipBase64: zip(ECHO) }, json)).status).toBe(201);
    expect((await call(a, key, 'PUT', '/v1/functions/caller', { runtime: 'nodejs', handler: 'index.handler', class: 'high', timeoutMs: 20_000, env: { OTHER: b, KEY: key }, zipBase64: zip(CHAIN) }, json)).status).toBe(201);
    await eventually('gateway b knows callee', async () => (await call(b, key, 'GET', '/v1/functions/callee')).status === 200, 2000);

    // caller runs through gateway a; each of its calls reaches gateway b, which asks a.
    const r = await invoke(a, key, 'caller', 0);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const out = r.json as { viaCredentials: Record<string, unknown>; viaContext: Record<string, unknown>; creds: { AccessKeyId: string; SecretAccessKey: string; Token: string }; context: string };
    expect(out.viaCredentials).toEqual({ status: 200, cls: 'high', code: null, body: '{"echo":1}' });
    expect(out.viaContext).toEqual({ status: 200, cls: 'high', code: null, body: '{"echo":1}' });
    expect(out.creds.AccessKeyId).toMatch(/^FARECTX/);

    // caller has answered: gateway b (asking a again) refuses both, as a does.
    for (const g of [b, a]) {
      const late = new LambdaClient({ endpoint: g, region: 'us-east-1', credentials: { accessKeyId: out.creds.AccessKeyId, secretAccessKey: out.creds.SecretAccessKey, sessionToken: out.creds.Token }, maxAttempts: 1 });
      await expect(late.send(new InvokeCommand({ FunctionName: 'callee' }))).rejects.toThrow(/only while their invocation runs \(this one has ended\)/);
      late.destroy();
      const replay = await fetch(`${g}/2015-03-31/functions/callee/invocations`, { method: 'POST', body: '{}', headers: { Authorization: `Bearer ${key}`, 'X-Fare-Context': out.context } });
      expect([replay.status, replay.headers.get('x-fare-error-code')], g).toEqual([400, 'FARE_E_CONTEXT_ENDED']);
    }
  }, 60_000);

  it('a gateway started again with an empty data directory rebuilds tenants, functions and the ledger from JetStream', async () => {
    const billBefore = (await call(a, admin, 'GET', '/v1/bills')).json;
    const part = cluster.parts.find((p) => p.name === 'gateway-1');
    part?.child.kill('SIGKILL');
    await new Promise((r) => part?.child.once('exit', r));
    rmSync(join(dir, 'gateway-1'), { recursive: true, force: true });
    await cluster.restart('gateway-1');
    const url = gatewayUrl(cluster, 'gateway-1');
    await eventually('the rebuilt ledger has every record', async () => {
      const now = (await call(url, admin, 'GET', '/v1/bills')).json;
      return now.invocations === billBefore.invocations && same(now.costMicroCents, billBefore.costMicroCents);
    });
    const e = await invoke(url, admin, 'page-view', 1);
    expect(e.status).toBe(200);
    // The function's code came back too (GetFunction checks it when the configuration changes).
    const patch = await call(url, admin, 'PATCH', '/v1/functions/page-view', { class: 'low' }, { 'Content-Type': 'application/json' });
    expect(patch.status, JSON.stringify(patch.json)).toBe(200);
    expect((await call(a, admin, 'GET', '/v1/functions/page-view')).json).toMatchObject({ class: 'low', version: 2 });
  }, 60_000);

  it("an Event's event invoke config made through one gateway holds on whichever runs it: tried once, its failure's record sent to its OnFailure function", async () => {
    const deploy = async (name: string, code: string): Promise<void> => {
      const src = join(dir, name);
      mkdirSync(src);
      writeFileSync(join(src, 'index.js'), code);
      expect((await call(a, admin, 'PUT', `/v1/functions/${name}?runtime=nodejs&handler=index.handler&class=standard`, zipDirectory(src), { 'Content-Type': 'application/zip' })).status).toBe(201);
    };
    // The second gateway, as it is now (an earlier test started it again, at another address).
    const b1 = gatewayUrl(cluster, 'gateway-1');
    await deploy('fails', 'exports.handler = async () => { throw new Error("no"); };\n');
    await deploy('sink', 'exports.handler = async (e) => { console.log("record", e.requestContext.condition, e.requestContext.requestId); return 1; };\n');
    await eventually('gateway b knows both', async () => (await call(b1, admin, 'GET', '/v1/functions/sink')).status === 200 && (await call(b1, admin, 'GET', '/v1/functions/fails')).status === 200, 5000);
    const put = await call(b1, admin, 'PUT', '/2019-09-25/functions/fails/event-invoke-config', { MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: 'arn:aws:lambda:us-east-1:admin:function:sink' } } }, { 'Content-Type': 'application/json' });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    await eventually('gateway a has the config', async () => (await call(a, admin, 'GET', '/2019-09-25/functions/fails/event-invoke-config')).status === 200, 5000);
    const r = await fetch(`${a}/2015-03-31/functions/fails/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'X-Amz-Invocation-Type': 'Event' }, body: '{}' });
    expect(r.status).toBe(202);
    const id = r.headers.get('x-amzn-requestid') ?? '';
    await eventually('the Event failed, tried once', async () => {
      const got = (await call(b1, admin, 'GET', `/v1/invocations/${id}`)).json;
      return got.status === 'failed' && got.attempts === 1;
    }, 20_000);
    await eventually('the sink logged its record', async () => {
      const logs = (await call(a, admin, 'GET', '/v1/functions/sink/logs')).json as { entries?: { text: string }[] };
      return (logs.entries ?? []).some((e) => e.text.includes(`record RetriesExhausted ${id}`));
    }, 20_000);
  }, 60_000);

  it('async invocations accepted by a gateway that is then killed for good all finish on the other, each billed once', async () => {
    const src = join(dir, 'slow');
    mkdirSync(src);
    writeFileSync(join(src, 'index.js'), SLOW);
    expect((await call(a, admin, 'PUT', '/v1/functions/slow?runtime=nodejs&handler=index.handler&class=high&timeoutMs=30000', zipDirectory(src), { 'Content-Type': 'application/zip' })).status).toBe(201);
    const url = gatewayUrl(cluster, 'gateway-1');
    await eventually('gateway-1 knows slow', async () => (await call(url, admin, 'GET', '/v1/functions/slow')).status === 200, 2000);
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) {
      const r = await fetch(`${url}/2015-03-31/functions/slow/invocations`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'X-Amz-Invocation-Type': 'Event' }, body: JSON.stringify({ n }) });
      expect(r.status).toBe(202);
      ids.push(r.headers.get('x-amzn-requestid') ?? '');
    }
    // Accepted means in JetStream: the other gateway knows each one at once.
    for (const id of ids) expect((await call(a, admin, 'GET', `/v1/invocations/${id}`)).status).toBe(200);
    // Let some start (on either gateway), then kill the one that accepted them all, for good.
    await new Promise((r) => setTimeout(r, 700));
    const part = cluster.parts.find((p) => p.name === 'gateway-1');
    part?.child.kill('SIGKILL');
    await new Promise((r) => part?.child.once('exit', r));
    let last: string[] = [];
    await eventually('every invocation finished, as seen by gateway a', async () => {
      last = await Promise.all(ids.map(async (id) => String((await call(a, admin, 'GET', `/v1/invocations/${id}`)).json.status)));
      return last.every((st) => st === 'succeeded');
    }, 60_000).catch(async (e: unknown) => {
      const detail = await Promise.all(ids.map(async (id) => JSON.stringify((await call(a, admin, 'GET', `/v1/invocations/${id}`)).json)));
      throw new Error(`${(e as Error).message}: ${last.join(', ')}\n${detail.join('\n')}\n${cluster.parts.find((p) => p.name === 'gateway')?.output() ?? ''}`);
    });
    // One billing record per invocation in the ledger (a run cut off with its gateway recorded nothing).
    await eventually('8 billed runs of slow', async () => {
      const fns = (await call(a, admin, 'GET', '/v1/bill')).json.functions as { function: string; invocations: number }[];
      return fns.find((f) => f.function === 'slow')?.invocations === 8;
    }, 5000);
    const results = await Promise.all(ids.map(async (id) => (await fetch(`${a}/v1/invocations/${id}/result`, { headers: { Authorization: `Bearer ${admin}` } })).text()));
    expect(results.map((t) => (JSON.parse(t) as { n: number }).n), results.join(" ")).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  }, 120_000);

  it('an older state of an invocation never takes back its outcome: not from the bucket, not from a gateway’s outbox', async () => {
    // gateway-1 comes back on its data directory, where it had claimed some of those invocations.
    await cluster.restart('gateway-1');
    const url = gatewayUrl(cluster, 'gateway-1');
    const db = new Database(join(dir, 'gateway-1', 'fare.db'));
    const ids = (db.prepare("SELECT id FROM invocations WHERE function = 'slow' ORDER BY id").all() as { id: string }[]).map((r) => r.id);
    expect(ids.length).toBe(8);
    const statuses = (g: string): Promise<string[]> => Promise.all(ids.map(async (id) => String((await call(g, admin, 'GET', `/v1/invocations/${id}`)).json.status)));
    await eventually('gateway-1 has every outcome', async () => (await statuses(url)).every((st) => st === 'succeeded'));
    // A copy written by a gateway that ran it again and had not yet heard of its outcome (a message
    // given out twice) arrives after the outcome.
    const nc = await connect({ servers: cluster.nats[0] as string });
    const kv = await new Kvm(nc).open('fare-state');
    const key = (id: string): string => `invocations.${Buffer.from(JSON.stringify([id])).toString('base64url')}`;
    const entry = await kv.get(key(ids[0] as string));
    const row = JSON.parse(entry?.string() ?? '{}') as Record<string, unknown>;
    expect(row.status).toBe('succeeded');
    await kv.put(key(ids[0] as string), JSON.stringify({ ...row, status: 'running', result: null, finished_at: null }));
    // And a gateway publishes an older state of its own (claimed before it heard of the outcome).
    db.prepare("UPDATE invocations SET status = 'running', result = NULL, finished_at = NULL WHERE id = ?").run(ids[1]);
    db.prepare("INSERT INTO outbox (topic, key) VALUES ('invocations', json_array(?))").run(ids[1]);
    db.close();
    // Any write through gateway-1 publishes its outbox.
    expect((await call(url, admin, 'POST', '/v1/tenants', { id: 'kick' })).status).toBe(201);
    await eventually('gateway-1 published its outbox', () => {
      const d = new Database(join(dir, 'gateway-1', 'fare.db'), { readonly: true });
      const n = (d.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
      d.close();
      return Promise.resolve(n === 0);
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const g of [a, url]) expect(await statuses(g), g).toEqual(ids.map(() => 'succeeded'));
    expect(JSON.parse((await kv.get(key(ids[1] as string)))?.string() ?? '{}')).toMatchObject({ status: 'succeeded' });
    await nc.drain();
  }, 60_000);

  it('a gateway given another master key refuses to join, and says how to fix it', () => {
    const other = join(dir, 'other.key');
    writeFileSync(other, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    const r = spawnSync(process.execPath, [BIN, 'gateway', '--id', '9', '--shards', '1', '--port', '0', '--data-dir', join(dir, 'gw-other'), '--master-key-file', other, '--nats', cluster.nats.join(',')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/master\.key .*is not the one the cluster's other gateways use: start it with --master-key-file/);
  }, 40_000);
});
