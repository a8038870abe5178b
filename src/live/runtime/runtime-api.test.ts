import { afterEach, describe, expect, it } from 'vitest';
import { errorDocument, type InvocationEvent, MAX_RESPONSE_BYTES, RuntimeApi, type RuntimeReport } from './runtime-api.ts';

const R = '/2018-06-01/runtime';
let open: RuntimeApi[] = [];

async function server(maxResponseBytes?: number): Promise<{ api: RuntimeApi; reports: RuntimeReport[]; url: (p: string) => string }> {
  const reports: RuntimeReport[] = [];
  const api = await RuntimeApi.listen({ functionName: 'fn1', onReport: (r) => reports.push(r), ...(maxResponseBytes ? { maxResponseBytes } : {}) });
  open.push(api);
  return { api, reports, url: (p) => `http://${api.address}${R}${p}` };
}

afterEach(async () => {
  await Promise.all(open.map((a) => a.close()));
  open = [];
});

const event = (requestId: string, over: Partial<InvocationEvent> = {}): InvocationEvent => ({
  requestId,
  payload: Buffer.from('{"hello":"world"}'),
  deadlineMs: 1_900_000_000_000,
  ...over,
});

const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, { method: 'POST', body, headers });

describe('GET /invocation/next', () => {
  it('long-polls until an event is delivered, then hands it over with Lambda headers and Fare-Context', async () => {
    const { api, reports, url } = await server();
    const next = fetch(url('/invocation/next'));
    await expect.poll(() => reports.length).toBe(1);
    expect(reports[0]).toEqual({ kind: 'next', first: true });
    api.deliver(event('req-1', { clientContext: '{"client":{"app_title":"é"}}', fareContext: 'tok.abc', traceId: 'Root=1-x' }));
    const res = await next;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"hello":"world"}');
    expect(res.headers.get('lambda-runtime-aws-request-id')).toBe('req-1');
    expect(res.headers.get('lambda-runtime-deadline-ms')).toBe('1900000000000');
    expect(res.headers.get('lambda-runtime-invoked-function-arn')).toBe('arn:aws:lambda:local:000000000000:function:fn1');
    expect(res.headers.get('lambda-runtime-trace-id')).toBe('Root=1-x');
    expect(JSON.parse(res.headers.get('lambda-runtime-client-context') ?? '')).toEqual({ client: { app_title: 'é' } });
    expect(res.headers.get('fare-context')).toBe('tok.abc');
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it('hands over an event delivered before the runtime asked, with a generated trace id and no optional headers', async () => {
    const { api, url } = await server();
    api.deliver(event('req-2'));
    const res = await fetch(url('/invocation/next'));
    expect(res.headers.get('lambda-runtime-aws-request-id')).toBe('req-2');
    expect(res.headers.get('lambda-runtime-trace-id')).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
    expect(res.headers.has('lambda-runtime-client-context')).toBe(false);
    expect(res.headers.has('fare-context')).toBe(false);
  });

  it('answers an older waiting /next with 403 when the runtime polls again (newest poll wins)', async () => {
    const { api, url } = await server();
    const older = fetch(url('/invocation/next'));
    await expect.poll(() => api.polling).toBe(true);
    const newer = fetch(url('/invocation/next'));
    expect((await older).status).toBe(403);
    api.deliver(event('n'));
    expect((await newer).headers.get('lambda-runtime-aws-request-id')).toBe('n');
  });

  it('refuses /next while an invocation is open (403 InvalidStateTransition)', async () => {
    const { api, url } = await server();
    api.deliver(event('a'));
    await (await fetch(url('/invocation/next'))).text();
    const res = await fetch(url('/invocation/next'));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ errorType: 'InvalidStateTransition' });
  });

  it('refuses deliver() while an invocation is open', async () => {
    const { api } = await server();
    api.deliver(event('a'));
    expect(() => api.deliver(event('b'))).toThrow(/FARE_E_RUNTIME_BUSY/);
    api.abandon();
    expect(() => api.deliver(event('b'))).not.toThrow();
  });
});

describe('POST /invocation/{id}/response and /error', () => {
  async function withOpen(id = 'req-1', max?: number) {
    const s = await server(max);
    s.api.deliver(event(id));
    await (await fetch(s.url('/invocation/next'))).text();
    return s;
  }

  it('accepts the response with 202 and reports it', async () => {
    const { reports, url } = await withOpen();
    const res = await post(url('/invocation/req-1/response'), '{"ok":true}');
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'OK' });
    const r = reports.at(-1);
    expect(r?.kind === 'response' && r.requestId === 'req-1' && r.body.toString()).toBe('{"ok":true}');
  });

  it('answers 400 InvalidRequestID for another request id, 403 for a second response', async () => {
    const { url } = await withOpen();
    const wrong = await post(url('/invocation/nope/response'), '1');
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toEqual({ errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
    expect((await post(url('/invocation/req-1/response'), '1')).status).toBe(202);
    const again = await post(url('/invocation/req-1/response'), '2');
    expect(again.status).toBe(403);
    expect(await again.json()).toMatchObject({ errorType: 'InvalidStateTransition' });
  });

  it('answers 403 for a response before any event', async () => {
    const { url } = await server();
    const res = await post(url('/invocation/x/response'), '1');
    expect(res.status).toBe(403);
  });

  it('answers 403 for a late response to an abandoned (timed-out) invocation', async () => {
    const { api, url } = await withOpen();
    api.abandon();
    expect((await post(url('/invocation/req-1/response'), '1')).status).toBe(403);
  });

  it('reports an error document with its stack trace', async () => {
    const { reports, url } = await withOpen();
    const doc = { errorMessage: 'bad', errorType: 'ValidationError', stackTrace: ['at a', 'at b'] };
    const res = await post(url('/invocation/req-1/error'), JSON.stringify(doc), { 'Lambda-Runtime-Function-Error-Type': 'Unhandled' });
    expect(res.status).toBe(202);
    expect(reports.at(-1)).toMatchObject({ kind: 'error', requestId: 'req-1', error: doc });
  });

  it('builds the error from the Lambda-Runtime-Function-Error-Type header when the body is not a document', async () => {
    const { reports, url } = await withOpen();
    await post(url('/invocation/req-1/error'), 'segfault in module', { 'Lambda-Runtime-Function-Error-Type': 'Runtime.Crash' });
    expect(reports.at(-1)).toMatchObject({ kind: 'error', error: { errorType: 'Runtime.Crash', errorMessage: 'segfault in module' } });
  });

  it('rejects a response over 6 MB with 413 RequestEntityTooLarge and reports it', async () => {
    const { reports, url } = await withOpen();
    const res = await post(url('/invocation/req-1/response'), Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x61));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).', errorType: 'RequestEntityTooLarge' });
    expect(reports.at(-1)).toEqual({ kind: 'response-too-large', requestId: 'req-1', bytes: MAX_RESPONSE_BYTES + 1 });
  });

  it('accepts a response of exactly the limit', async () => {
    const { url } = await withOpen('r', 1000);
    expect((await post(url('/invocation/r/response'), Buffer.alloc(1000, 0x61))).status).toBe(202);
  });
});

describe('POST /init/error and unknown paths', () => {
  it('accepts an init error during init, then refuses /next', async () => {
    const { reports, url } = await server();
    const res = await post(url('/init/error'), JSON.stringify({ errorMessage: 'no module', errorType: 'Runtime.ImportModuleError' }));
    expect(res.status).toBe(202);
    expect(reports).toEqual([{ kind: 'init-error', error: { errorMessage: 'no module', errorType: 'Runtime.ImportModuleError' } }]);
    expect((await fetch(url('/invocation/next'))).status).toBe(403);
  });

  it('refuses an init error after init (403)', async () => {
    const { api, url } = await server();
    api.deliver(event('a'));
    await (await fetch(url('/invocation/next'))).text();
    expect((await post(url('/init/error'), '{}')).status).toBe(403);
  });

  it('answers 404 for unknown resources and 405 for the wrong method', async () => {
    const { url, api } = await server();
    const nf = await fetch(`http://${api.address}/2018-06-01/other`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ errorType: 'NotFound' });
    expect((await fetch(url('/invocation/a/b/response'))).status).toBe(404);
    expect((await post(url('/invocation/next'), '')).status).toBe(405);
    expect((await fetch(url('/invocation/a/response'))).status).toBe(405);
  });
});

describe('errorDocument', () => {
  it('keeps the fields of a Lambda error document and stringifies odd stack entries', () => {
    expect(errorDocument(Buffer.from('{"errorMessage":"m","errorType":"T","stackTrace":["a",{"f":1}]}'), undefined)).toEqual({
      errorMessage: 'm',
      errorType: 'T',
      stackTrace: ['a', '{"f":1}'],
    });
  });

  it('falls back to the header type, then to Runtime.Unknown', () => {
    expect(errorDocument(Buffer.from('{"errorMessage":"m"}'), 'H')).toEqual({ errorMessage: 'm', errorType: 'H' });
    expect(errorDocument(Buffer.alloc(0), undefined)).toEqual({ errorMessage: 'Unknown application error occurred', errorType: 'Runtime.Unknown' });
  });
});
