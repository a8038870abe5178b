// End-to-end: `fare up` as a real process — a traceparent given to Invoke reaches the function as
// `_X_AMZN_TRACE_ID`, a call the function makes with its context continues the trace, the answers
// carry it, and the access and invocation lines on stdout are JSON with the trace id; and in a
// cluster (`fare cluster up`, when nats-server is there) the trace reaches the worker's function.

import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { ADMIN, ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';
import { findNatsServer } from '../src/live/cluster/nats-server.ts';
import { clusterUp } from '../src/live/cluster/up.ts';
import { capabilities, isolatesTenants } from '../src/live/runtime/capabilities.ts';

const dirs: string[] = [];
const procs: FareProcess[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fare-trace-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const p of procs) await stopFare(p);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function deploy(url: string, name: string, source: string, env: Record<string, string> = {}): Promise<void> {
  const dir = join(tmp(), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.mjs'), source);
  const r = await api(url, 'PUT', `/v1/functions/${name}`, { runtime: 'nodejs', handler: 'index.handler', class: 'high', env, zipBase64: zipDirectory(dir).toString('base64') });
  expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
}

const TRACE = '5759e988bd862e3fe1be46a994272793';
const PARENT = '53995c3f42cd8ad8';

describe('fare up: traces and logs', () => {
  it('hands the trace to the function, continues it along a call chain, and logs JSON lines with it', async () => {
    const f = await startFare(tmp(), ['--no-examples', '--log-format', 'json']);
    procs.push(f);
    await deploy(f.url, 'callee', 'export const handler = async () => ({ trace: process.env._X_AMZN_TRACE_ID });\n');
    await deploy(f.url, 'caller', `export const handler = async (event, context) => {
  const mine = process.env._X_AMZN_TRACE_ID;
  const r = await fetch(process.env.API_URL + '/2015-03-31/functions/callee/invocations', {
    method: 'POST', body: '{}', headers: { Authorization: 'Bearer ' + process.env.API_KEY, 'X-Fare-Context': context.fareContext },
  });
  return { trace: mine, callee: await r.json(), answered: r.headers.get('x-amzn-trace-id') };
};
`, { API_URL: f.url, API_KEY: `${ADMIN.id}:${ADMIN.secret}` });
    const r = await fetch(`${f.url}/2015-03-31/functions/caller/invocations`, {
      method: 'POST', body: '{}', headers: { Authorization: `Bearer ${ADMIN_KEY}`, traceparent: `00-${TRACE}-${PARENT}-01` },
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { trace: string; callee: { trace: string }; answered: string };
    const root = `Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)}`;
    const span = (r.headers.get('traceparent') ?? '').split('-')[2] ?? '';
    expect(r.headers.get('traceparent')).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    // The caller ran in its invocation's span; the callee in a new span of the same trace.
    expect(body.trace).toBe(`${root};Parent=${span};Sampled=1`);
    expect(body.callee.trace).toMatch(new RegExp(`^${root};Parent=[0-9a-f]{16};Sampled=1$`));
    expect(body.callee.trace).not.toBe(body.trace);
    expect(body.answered).toBe(body.callee.trace);

    // stdout after the banner: JSON lines, an access line per request, an invocation line per invocation.
    const lines = (): Record<string, unknown>[] => f.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    await expect.poll(() => lines().filter((l) => l.kind === 'invocation' && l.traceId === TRACE).length, { timeout: 5000 }).toBe(2);
    const caller = lines().find((l) => l.kind === 'invocation' && l.function === 'caller');
    expect(caller).toMatchObject({ level: 30, tenant: 'admin', class: 'high', status: 'ok', type: 'sync', traceId: TRACE, spanId: span, parentId: PARENT, coldStart: true });
    for (const k of ['waitMs', 'runMs', 'totalMs', 'cpuMs', 'costMicroCents']) expect(typeof caller?.[k], k).toBe('number');
    expect(lines().find((l) => l.kind === 'access' && l.function === 'caller')).toMatchObject({ method: 'POST', status: 200, operation: 'Invoke', tenant: 'admin', traceId: TRACE, requestId: r.headers.get('x-amzn-requestid') });
  });
});

const nats = findNatsServer();

describe.skipIf(!nats.ok)('fare cluster up: traces', () => {
  it('carries the trace from the gateway through the shard to the worker, in the job\'s cargo over NATS', async () => {
    const dir = tmp();
    const cluster = await clusterUp({
      dataDir: dir, shards: 1, workers: 1, natsServers: 1, host: '127.0.0.1', port: 0, policy: 'fare', workerCores: 1,
      insecureSingleTenant: !isolatesTenants(capabilities()), bin: join(import.meta.dirname, '..', 'bin', 'fare.js'), heartbeatMs: 100, memberTimeoutMs: 1000,
      env: { ...process.env, FARE_ADMIN_KEY: ADMIN_KEY, FARE_LOG_LEVEL: 'warn' },
    });
    try {
      await deploy(cluster.url, 'traced', 'export const handler = async () => ({ trace: process.env._X_AMZN_TRACE_ID });\n');
      const r = await fetch(`${cluster.url}/2015-03-31/functions/traced/invocations`, {
        method: 'POST', body: '{}', headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'X-Amzn-Trace-Id': `Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=${PARENT};Sampled=0` },
      });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { trace: string };
      expect(body.trace).toBe(r.headers.get('x-amzn-trace-id'));
      expect(body.trace).toMatch(new RegExp(`^Root=1-${TRACE.slice(0, 8)}-${TRACE.slice(8)};Parent=[0-9a-f]{16};Sampled=0$`));
    } finally {
      await cluster.close();
    }
  }, 120_000);
});
