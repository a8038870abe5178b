import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { FARE_CONTEXT_HEADER } from './fare-context.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
  expect((await h.deploy(acme, 'hello')).status).toBe(201);
});
afterEach(async () => {
  await h.close();
});

const lambdaError = async (r: Response) => ({ status: r.status, type: r.headers.get('x-amzn-errortype'), body: (await r.json()) as { Type: string; Message: string; Reason?: string } });

describe('RequestResponse', () => {
  it('runs through the platform and answers with the result, the version and a request id', async () => {
    const r = await h.invoke(acme, 'hello', '{"name":"ada"}');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.get('x-amz-executed-version')).toBe('$LATEST');
    expect(r.headers.get('x-amz-function-error')).toBeNull();
    expect(r.headers.get('x-fare-class')).toBe('standard');
    const requestId = r.headers.get('x-amzn-requestid') ?? '';
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await r.json()).toEqual({ name: 'ada' });
    const [req] = h.platform.invoked;
    expect(req).toMatchObject({ requestId, cls: 2, fn: { tenant: 'acme', name: 'hello', version: 1, handler: 'index.handler' } });
    expect(req?.payload.toString()).toBe('{"name":"ada"}');
    expect(req?.fareContext).toMatch(/^v1\./);
  });

  it('bills the owner at the class it ran', async () => {
    h.platform.respond = () => outcome({ cpuMs: 1500, memGBs: 2 });
    const r = await h.invoke(acme, 'hello');
    const id = r.headers.get('x-amzn-requestid') ?? '';
    expect(h.store.billing.get(id)).toMatchObject({ tenant: 'acme', function: 'hello', caller: 'acme', cls: 'standard', price: 1, cpuMs: 1500, memGBs: 2, costMicroCents: 1.5 + 0.5 });
  });

  it('reports function errors with 200 and X-Amz-Function-Error', async () => {
    h.platform.respond = () => outcome({ status: 'error', functionError: 'Handled', payload: Buffer.from('{"errorMessage":"no","errorType":"Error"}') });
    const handled = await h.invoke(acme, 'hello');
    expect(handled.status).toBe(200);
    expect(handled.headers.get('x-amz-function-error')).toBe('Handled');
    expect(await handled.json()).toEqual({ errorMessage: 'no', errorType: 'Error' });
    h.platform.respond = () => outcome({ status: 'error', payload: Buffer.from('{"errorMessage":"timeout"}') });
    expect((await h.invoke(acme, 'hello')).headers.get('x-amz-function-error')).toBe('Unhandled');
  });

  it('turns a response larger than 6 MB into an Unhandled Function.ResponseSizeTooLarge', async () => {
    h.platform.respond = () => outcome({ payload: Buffer.alloc(6 * 1024 * 1024 + 1, 'a') });
    const r = await h.invoke(acme, 'hello');
    expect(r.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await r.json()).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
  });

  it('returns the last 4 KB of the log, base64, with X-Amz-Log-Type: Tail', async () => {
    h.platform.respond = () => outcome({ logs: `${'x'.repeat(10_000)}\nlast line\n`, coldStart: true, initMs: 80 });
    const r = await h.invoke(acme, 'hello', '{}', { 'X-Amz-Log-Type': 'Tail' });
    const tail = Buffer.from(r.headers.get('x-amz-log-result') ?? '', 'base64');
    expect(tail.length).toBe(4096);
    const text = tail.toString();
    expect(text).toContain('last line\nEND RequestId: ');
    expect(text).toMatch(/REPORT RequestId: \S+\tDuration: 12\.50 ms\tBilled Duration: 13 ms\tMax Memory Used: 64 MB\tInit Duration: 80\.00 ms/);
    expect((await h.invoke(acme, 'hello')).headers.get('x-amz-log-result')).toBeNull();
  });

  it('passes X-Amz-Client-Context on, and refuses one that is not base64 JSON', async () => {
    const cc = Buffer.from('{"custom":{"a":1}}').toString('base64');
    await h.invoke(acme, 'hello', '{}', { 'X-Amz-Client-Context': cc });
    expect(h.platform.invoked[0]?.clientContext).toBe(cc);
    const bad = await lambdaError(await h.invoke(acme, 'hello', '{}', { 'X-Amz-Client-Context': Buffer.from('not json').toString('base64') }));
    expect(bad).toMatchObject({ status: 400, type: 'InvalidRequestContentException' });
  });

  it('answers 500 ServiceException, billing nothing, when the platform itself fails', async () => {
    h.platform.respond = () => Promise.reject(new Error('worker lost'));
    const r = await lambdaError(await h.invoke(acme, 'hello'));
    expect(r).toMatchObject({ status: 500, type: 'ServiceException', body: { Type: 'Service' } });
    expect(h.store.billing.tenantMonth('acme', new Date(h.clock()).toISOString().slice(0, 7)).invocations).toBe(0);
  });
});

describe('Event and DryRun', () => {
  it('Event queues durably before answering 202, and tells the platform', async () => {
    const r = await h.invoke(acme, 'hello', '{"n":1}', { 'X-Amz-Invocation-Type': 'Event' });
    expect(r.status).toBe(202);
    expect(await r.text()).toBe('');
    const id = r.headers.get('x-amzn-requestid') ?? '';
    expect(h.store.invocations.get(id)).toMatchObject({ status: 'queued', tenant: 'acme', function: 'hello', version: 1, caller: 'acme', cls: 'standard', classIndex: 2 });
    expect(h.platform.queued.map((i) => i.id)).toEqual([id]);
    expect(h.platform.invoked).toEqual([]);
  });

  it('Event payloads are limited to 256 KB', async () => {
    const big = JSON.stringify({ s: 'a'.repeat(256 * 1024) });
    const r = await lambdaError(await h.invoke(acme, 'hello', big, { 'X-Amz-Invocation-Type': 'Event' }));
    expect(r).toMatchObject({ status: 413, type: 'RequestTooLargeException', body: { Type: 'User' } });
    expect(h.store.invocations.counts().queued).toBe(0);
  });

  it('DryRun checks the request and answers 204 without running anything', async () => {
    const r = await h.invoke(acme, 'hello', '{}', { 'X-Amz-Invocation-Type': 'DryRun' });
    expect(r.status).toBe(204);
    expect(h.platform.invoked).toEqual([]);
    expect((await h.invoke(acme, 'nope', '{}', { 'X-Amz-Invocation-Type': 'DryRun' })).status).toBe(404);
  });

  it('refuses an unknown invocation or log type', async () => {
    expect(await lambdaError(await h.invoke(acme, 'hello', '{}', { 'X-Amz-Invocation-Type': 'Sometimes' }))).toMatchObject({ status: 400, type: 'InvalidParameterValueException' });
    expect(await lambdaError(await h.invoke(acme, 'hello', '{}', { 'X-Amz-Log-Type': 'All' }))).toMatchObject({ status: 400, type: 'InvalidParameterValueException' });
  });
});

describe('errors as Lambda sends them', () => {
  it('404 ResourceNotFoundException names the function ARN', async () => {
    const r = await lambdaError(await h.invoke(acme, 'nope'));
    expect(r).toEqual({ status: 404, type: 'ResourceNotFoundException', body: { Type: 'User', Message: 'Function not found: arn:aws:lambda:us-east-1:acme:function:nope' } });
  });

  it('413 RequestTooLargeException past 6 MB', async () => {
    const big = JSON.stringify({ s: 'a'.repeat(6 * 1024 * 1024) });
    const r = await lambdaError(await h.invoke(acme, 'hello', big));
    expect(r).toMatchObject({ status: 413, type: 'RequestTooLargeException', body: { Message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation' } });
  });

  it('400 InvalidRequestContentException for a payload that is not JSON; an empty one is fine', async () => {
    expect(await lambdaError(await h.invoke(acme, 'hello', '{oops'))).toMatchObject({ status: 400, type: 'InvalidRequestContentException', body: { Message: expect.stringMatching(/^Could not parse request body into json/) as unknown } });
    expect((await h.invoke(acme, 'hello', '')).status).toBe(200);
  });

  it('429 TooManyRequestsException with Retry-After when the platform is saturated', async () => {
    h.platform.respond = () => ({ status: 'throttled', retryAfterS: 3, reason: 'ConcurrentInvocationLimitExceeded' });
    const r = await h.invoke(acme, 'hello');
    expect(r.headers.get('retry-after')).toBe('3');
    expect(await lambdaError(r)).toMatchObject({ status: 429, type: 'TooManyRequestsException', body: { Type: 'User', Reason: 'ConcurrentInvocationLimitExceeded' } });
  });

  it('403 for missing or wrong credentials, 405 for other methods, 404 for other Lambda operations', async () => {
    expect(await lambdaError(await fetch(`${h.url}/2015-03-31/functions/hello/invocations`, { method: 'POST', body: '{}' }))).toMatchObject({ status: 403, type: 'MissingAuthenticationTokenException' });
    expect(await lambdaError(await h.invoke({ ...acme, secret: 'wrong'.repeat(8) }, 'hello'))).toMatchObject({ status: 403, type: 'UnrecognizedClientException' });
    expect(await lambdaError(await fetch(`${h.url}/2015-03-31/functions/hello/invocations`, { headers: h.bearer(acme) }))).toMatchObject({ status: 405 });
    expect(await lambdaError(await fetch(`${h.url}/2015-03-31/event-source-mappings/`, { headers: h.bearer(acme) }))).toMatchObject({ status: 404, type: 'UnknownOperationException' });
  });
});

describe('names, ARNs and qualifiers', () => {
  it.each([['hello'], ['hello:$LATEST'], ['acme:function:hello'], ['arn:aws:lambda:us-east-1:acme:function:hello'], ['arn:aws:lambda:eu-west-1:acme:function:hello:$LATEST']])('%s runs', async (name) => {
    expect((await h.invoke(acme, name)).status).toBe(200);
  });

  it('a version never published or an alias never made is not found; so is a malformed name', async () => {
    expect((await h.invoke(acme, 'hello:1')).status).toBe(404);
    expect((await h.invoke(acme, 'hello:7')).status).toBe(404);
    expect((await fetch(`${h.url}/2015-03-31/functions/hello/invocations?Qualifier=prod`, { method: 'POST', headers: h.bearer(acme), body: '{}' })).status).toBe(404);
    expect(await lambdaError(await h.invoke(acme, 'arn:aws:s3:::bucket'))).toMatchObject({ status: 400, type: 'InvalidParameterValueException' });
  });
});

describe('tenant isolation and grants', () => {
  it('another tenant cannot invoke the function: by name it has none, by ARN it is denied', async () => {
    expect((await h.invoke(zeta, 'hello')).status).toBe(404);
    const denied = await lambdaError(await h.invoke(zeta, 'arn:aws:lambda:us-east-1:acme:function:hello'));
    expect(denied).toMatchObject({ status: 403, type: 'AccessDeniedException' });
    // Denied the same way whether or not the function exists: names do not leak.
    expect(await lambdaError(await h.invoke(zeta, 'acme:function:ghost'))).toMatchObject({ status: 403, type: 'AccessDeniedException' });
    expect(h.platform.invoked).toEqual([]);
  });

  it('a granted tenant can, and the owner pays', async () => {
    h.store.grants.add('acme', 'hello', 'zeta');
    const r = await h.invoke(zeta, 'acme:function:hello');
    expect(r.status).toBe(200);
    expect(h.store.billing.get(r.headers.get('x-amzn-requestid') ?? '')).toMatchObject({ tenant: 'acme', caller: 'zeta' });
    h.store.grants.remove('acme', 'hello', 'zeta');
    expect((await h.invoke(zeta, 'acme:function:hello')).status).toBe(403);
  });
});

describe('classes and budgets', () => {
  it('a caller context raises the callee to the caller\'s class, never lowers it; a forged or ended one is refused', async () => {
    expect((await h.deploy(acme, 'cheap', { class: 'low' })).status).toBe(201);
    const high = h.gateway.context.contexts.begin({ requestId: 'parent', tenant: 'acme', function: 'caller', cls: 0, deadline: h.clock() + 60_000 });
    const r = await h.invoke(acme, 'cheap', '{}', { [FARE_CONTEXT_HEADER]: high.token });
    expect(r.headers.get('x-fare-class')).toBe('high');
    expect(h.platform.invoked.at(-1)?.cls).toBe(0);
    const low = h.gateway.context.contexts.begin({ requestId: 'parent2', tenant: 'acme', function: 'caller', cls: 3, deadline: h.clock() + 60_000 });
    await h.invoke(acme, 'hello', '{}', { [FARE_CONTEXT_HEADER]: low.token });
    expect(h.platform.invoked.at(-1)?.cls).toBe(2);
    const forged = high.token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await h.invoke(acme, 'cheap', '{}', { [FARE_CONTEXT_HEADER]: forged })).status).toBe(400);
    high.end();
    expect((await h.invoke(acme, 'cheap', '{}', { [FARE_CONTEXT_HEADER]: high.token })).status).toBe(400);
  });

  it('over budget with throttle: 429; with degrade: the cheapest class up to the budget, then 429; warn: a header', async () => {
    h.clock.set(Date.UTC(2025, 0, 31, 12)); // late in the month: the allowance is the whole budget
    h.store.tenants.update('acme', { budgetMicroCents: 100, overBudget: 'throttle' });
    const bill = (id: string, uc: number): void => {
      h.store.billing.record({ id, invocationId: id, tenant: 'acme', function: 'other', caller: 'acme', cls: 'standard', cpuMs: uc * 1000, memGBs: 0, price: 1, memoryPrice: 0.25 });
    };
    bill('a', 90);
    // 90 billed + hello's estimate (no history: 3 s of one core and 1 GB = 3.75 µ¢) ≥ 80 % of 100.
    const w = await h.invoke(acme, 'hello');
    expect(w.headers.get('x-fare-budget')).toBe('warn');
    expect(w.headers.get('x-fare-class')).toBe('standard');

    bill('b', 9.995); // 99.995 + hello's estimate (now its last run: 10 ms and 0.002 GB-s = 0.0105 µ¢) > 100
    const t = await h.invoke(acme, 'hello');
    expect(Number(t.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await lambdaError(t)).toMatchObject({ status: 429, type: 'TooManyRequestsException', body: { Reason: 'BudgetExceeded' } });
    expect((await h.invoke(acme, 'hello', '{}', { 'X-Amz-Invocation-Type': 'Event' })).status).toBe(429);

    // A new month: the allowance starts at 5 % of the budget; past it, degrade runs at the cheapest class.
    h.clock.set(Date.UTC(2025, 1, 1, 1));
    h.store.tenants.update('acme', { overBudget: 'degrade' });
    bill('c', 10);
    const d = await h.invoke(acme, 'hello');
    expect(d.headers.get('x-fare-budget')).toBe('degrade');
    expect(d.headers.get('x-fare-class')).toBe('low');
    expect(h.store.billing.get(d.headers.get('x-amzn-requestid') ?? '')).toMatchObject({ cls: 'low', price: 0.5 });
    const e = await h.invoke(acme, 'hello', '{}', { 'X-Amz-Invocation-Type': 'Event' });
    expect([e.status, e.headers.get('x-fare-budget'), h.store.invocations.get(e.headers.get('x-amzn-requestid') ?? '')?.cls]).toEqual([202, 'degrade', 'low']);
    // …and at the budget it is throttled like throttle.
    bill('d', 89.99);
    const t2 = await h.invoke(acme, 'hello');
    expect(await lambdaError(t2)).toMatchObject({ status: 429, body: { Reason: 'BudgetExceeded' } });
  });

  it('holds the estimate of a running sync invocation until it is billed', async () => {
    h.clock.set(Date.UTC(2025, 0, 31, 12));
    h.store.tenants.update('acme', { budgetMicroCents: 100, overBudget: 'throttle' });
    let release: () => void = () => undefined;
    const seen: number[] = [];
    h.platform.respond = () =>
      new Promise((resolve) => {
        seen.push(h.store.reservations.total('acme'));
        release = () => resolve(outcome());
      });
    const r = h.invoke(acme, 'hello');
    while (seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([3.75]); // no history: 3 s of one core and 1 GB at the standard price
    expect(h.store.budgetState('acme')).toBe('ok');
    release();
    expect((await r).status).toBe(200);
    expect(h.store.reservations.total('acme')).toBe(0);
  });
});
