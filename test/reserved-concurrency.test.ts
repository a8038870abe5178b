// End-to-end: a function's reserved concurrency on `fare up`, through AWS's SDK — at most N of its
// invocations at once over all its versions, counted by its scheduler shard from arrival until the
// worker says the job has left. A synchronous call past the limit is answered 429
// TooManyRequestsException (Reason ReservedFunctionConcurrentInvocationLimitExceeded), an Event
// waits and runs once there is room, and 0 stops the function until the limit is raised or removed.

import {
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionConcurrencyCommand,
  InvokeCommand,
  LambdaClient,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  type InvokeCommandOutput,
} from '@aws-sdk/client-lambda';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipDirectory } from '../src/live/gateway/zip-writer.ts';
import { sample } from '../src/live/metrics.ts';
import { ADMIN_KEY, api, startFare, stopFare, type FareProcess } from '../support/fare-process.ts';

const work = mkdtempSync(join(tmpdir(), 'fare-reserved-'));
let fare: FareProcess;
let lambda: LambdaClient;
let key = '';

/** Sleeps as long as asked (no CPU), then says who it was. */
const NAP = 'export const handler = async (event, context) => { await new Promise((r) => setTimeout(r, event.ms ?? 0)); return { id: context.awsRequestId, version: context.functionVersion }; };\n';

async function create(name: string): Promise<void> {
  const dir = mkdtempSync(join(work, 'src-'));
  writeFileSync(join(dir, 'index.mjs'), NAP);
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: 'arn:aws:iam::123456789012:role/any', Code: { ZipFile: zipDirectory(dir) }, Timeout: 30,
  }));
}

/** A synchronous call: its answer, or the error the SDK threw (no retries: maxAttempts 1). */
async function call(name: string, ms: number): Promise<InvokeCommandOutput | { error: { name: string; message: string; Reason?: string; status?: number } }> {
  try {
    return await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ ms })) }));
  } catch (e) {
    const err = e as { name: string; message: string; Reason?: string; $metadata?: { httpStatusCode?: number } };
    return { error: { name: err.name, message: err.message, ...(err.Reason !== undefined ? { Reason: err.Reason } : {}), ...(err.$metadata?.httpStatusCode !== undefined ? { status: err.$metadata.httpStatusCode } : {}) } };
  }
}

const refusedOf = (rs: Awaited<ReturnType<typeof call>>[]) => rs.filter((r) => 'error' in r);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fare = await startFare(join(work, 'data'));
  const made = await api(fare.url, 'POST', '/v1/tenants', { id: 'acme' });
  expect(made.status).toBe(201);
  const cred = (made.json as { credential: { accessKeyId: string; secret: string } }).credential;
  key = `${cred.accessKeyId}:${cred.secret}`;
  lambda = new LambdaClient({ endpoint: fare.url, region: 'us-east-1', credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secret }, maxAttempts: 1 });
  await create('nap');
  await create('stopped');
  await create('page');
}, 60_000);
afterAll(async () => {
  lambda?.destroy();
  if (fare !== undefined) await stopFare(fare);
  rmSync(work, { recursive: true, force: true });
});

describe('reserved concurrency', () => {
  it('runs at most N calls at once: the calls past it are throttled (429, Lambda\'s Reason), the next ones run once there is room', async () => {
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'nap', ReservedConcurrentExecutions: 2 }));
    const rs = await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      await sleep(i * 50); // in this order
      return call('nap', 2500);
    }));
    expect(rs.slice(0, 2).map((r) => ('error' in r ? r.error.name : r.StatusCode))).toEqual([200, 200]);
    const refused = refusedOf(rs.slice(2));
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r).toEqual({ error: expect.objectContaining({ name: 'TooManyRequestsException', status: 429, Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }) as unknown });
      expect(r.error.message).toBe('Rate Exceeded. Function nap has 2 calls in flight, its reserved concurrency: retry shortly, or raise it (PutFunctionConcurrency; fare concurrency nap N)');
    }
    // Both have left: two at once again.
    const again = await Promise.all([call('nap', 10), call('nap', 10)]);
    expect(again.map((r) => ('error' in r ? r.error.name : r.StatusCode))).toEqual([200, 200]);
  }, 60_000);

  it('counts the calls of every version and alias together', async () => {
    await lambda.send(new PublishVersionCommand({ FunctionName: 'nap' }));
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'nap', ReservedConcurrentExecutions: 1 }));
    const latest = call('nap', 2000);
    await sleep(300);
    const v1 = await call('nap:1', 10);
    expect(v1).toEqual({ error: expect.objectContaining({ name: 'TooManyRequestsException', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }) as unknown });
    expect((await latest) as InvokeCommandOutput).toMatchObject({ StatusCode: 200 });
    const ok = await call('nap:1', 10);
    expect(ok).toMatchObject({ StatusCode: 200, ExecutedVersion: '1' });
    // One at a time, each after the last's answer: never throttled (a call has left when it is answered).
    for (let i = 0; i < 20; i++) expect(await call(i % 2 === 0 ? 'nap' : 'nap:1', 0)).toMatchObject({ StatusCode: 200 });
  }, 60_000);

  it('0 stops the function: calls are throttled, Events wait and run once the limit is removed', async () => {
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'stopped', ReservedConcurrentExecutions: 0 }));
    const r = await call('stopped', 0);
    expect(r).toEqual({ error: expect.objectContaining({ name: 'TooManyRequestsException', status: 429, Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }) as unknown });
    expect(refusedOf([r])[0]?.error.message).toMatch(/^Rate Exceeded\. Function stopped has a reserved concurrency of 0: no call runs until it is raised or removed/);
    const queued = await lambda.send(new InvokeCommand({ FunctionName: 'stopped', InvocationType: 'Event', Payload: Buffer.from('{"ms":1}') }));
    expect(queued.StatusCode).toBe(202);
    const id = queued.$metadata.requestId ?? '';
    const status = async (): Promise<string> => ((await api(fare.url, 'GET', `/v1/invocations/${id}`, undefined, key)).json as { status: string }).status;
    await sleep(2500);
    expect(await status()).toBe('queued');
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'stopped' }));
    let last = '';
    for (let i = 0; i < 100 && last !== 'succeeded'; i++) {
      last = await status();
      if (last !== 'succeeded') await sleep(100);
    }
    expect(last, JSON.stringify((await api(fare.url, 'GET', `/v1/invocations/${id}`, undefined, key)).json)).toBe('succeeded');
    expect(await call('stopped', 0)).toMatchObject({ StatusCode: 200 });
  }, 60_000);

  it('a function URL past the limit answers 429', async () => {
    const url = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'page', AuthType: 'NONE' }));
    expect((await fetch(url.FunctionUrl ?? '')).status).toBe(200);
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'page', ReservedConcurrentExecutions: 0 }));
    const res = await fetch(url.FunctionUrl ?? '');
    expect(res.status).toBe(429);
    expect(await res.text()).toMatch(/reserved concurrency of 0/);
  }, 60_000);

  it('the refusals are counted in the metrics: calls answered 429, and Event claims left waiting', async () => {
    const text = await (await fetch(`${fare.url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).text();
    // 3 + 1 + 1 calls and a URL request above; the Event was claimed at least once while stopped.
    expect(sample(text, 'fare_concurrency_refused_total', { tenant: 'acme', at: 'accept' })).toBe(6);
    expect(sample(text, 'fare_concurrency_refused_total', { tenant: 'acme', at: 'claim' })).toBeGreaterThanOrEqual(1);
  });
});
