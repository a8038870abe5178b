import { spawn } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openPeerLookup, type PeerLookup } from './peer-uid.ts';
import { errorDocument, type InvocationEvent, MAX_RESPONSE_BYTES, type RefusedRequest, RuntimeApi, type RuntimeReport } from './runtime-api.ts';

const R = '/2018-06-01/runtime';
const netlink = await openPeerLookup();
const proc = await openPeerLookup({ mechanism: 'proc' });
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
    expect(res.headers.get('lambda-runtime-invoked-function-arn')).toBe('arn:aws:lambda:us-east-1:000000000000:function:fn1');
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

describe('the peer check (peerUid)', () => {
  const me = process.geteuid?.() ?? -1;
  const root = me === 0;
  const INSTANCE_UID = 100123;
  const INTRUDER_UID = 100124;
  if (!root) console.log('runtime-api.test: cross-uid peer-check tests skipped: not root, so no process of another uid can be started');

  afterAll(() => {
    netlink.close();
    proc.close();
  });

  async function checked(peerUid: number, lookup: PeerLookup) {
    const reports: RuntimeReport[] = [];
    const refused: RefusedRequest[] = [];
    const api = await RuntimeApi.listen({ functionName: 'fn1', onReport: (r) => reports.push(r), peerUid, peerLookup: lookup, onRefused: (r) => refused.push(r) });
    open.push(api);
    return { api, reports, refused, url: (p: string) => `http://${api.address}${R}${p}` };
  }

  interface Step {
    readonly method: 'GET' | 'POST';
    /** `{id}` stands for the request id of the last event this process received. */
    readonly path: string;
    readonly body?: string;
  }
  interface Answer {
    readonly status: number;
    readonly text: string;
    readonly requestId: string | null;
  }

  /** Runs the steps one after another from a child process under `uid` (one kept-alive connection). */
  function as(uid: number, base: string, steps: readonly Step[]): Promise<Answer[]> {
    const script = `
      const [base, steps] = process.argv.slice(1);
      const out = [];
      let id = '';
      for (const s of JSON.parse(steps)) {
        const r = await fetch(base + s.path.replace('{id}', id), { method: s.method, body: s.body });
        const text = await r.text();
        const requestId = r.headers.get('lambda-runtime-aws-request-id');
        if (requestId !== null) id = requestId;
        out.push({ status: r.status, text, requestId });
      }
      process.stdout.write(JSON.stringify(out));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, base, JSON.stringify(steps)], { uid, gid: uid, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Answer[]) : reject(new Error(`child under uid ${uid} exited with ${code}`))));
    });
  }

  const forbidden = (a: Answer | undefined): void => {
    expect(a?.status).toBe(403);
    expect(JSON.parse(a?.text ?? '')).toMatchObject({ errorType: 'Forbidden' });
    expect(a?.requestId).toBeNull();
  };

  describe.each([
    ['netlink', netlink],
    ['proc', proc],
  ] as const)('through %s', (mechanism, lookup) => {
    const usable = lookup.mechanism === mechanism;
    if (!usable) console.log(`runtime-api.test: peer-check tests through ${mechanism} skipped: ${lookup.fallbackReason}`);

    it.skipIf(!usable)('serves its own uid as if there were no check: /next, /response, /error and /init/error', async () => {
      const { api, reports, refused, url } = await checked(me, lookup);
      expect((await post(url('/init/error'), '{"errorMessage":"x","errorType":"T"}')).status).toBe(202);
      const { api: api2, reports: reports2, url: url2 } = await checked(me, lookup);
      api2.deliver(event('a'));
      const res = await fetch(url2('/invocation/next'));
      expect(res.headers.get('lambda-runtime-aws-request-id')).toBe('a');
      expect(await res.text()).toBe('{"hello":"world"}');
      expect((await post(url2('/invocation/a/error'), '{"errorMessage":"m","errorType":"E"}')).status).toBe(202);
      api2.deliver(event('b'));
      await (await fetch(url2('/invocation/next'))).text();
      expect((await post(url2('/invocation/b/response'), 'ok')).status).toBe(202);
      expect(reports.map((r) => r.kind)).toEqual(['init-error']);
      expect(reports2.map((r) => r.kind)).toEqual(['next', 'error', 'next', 'response']);
      expect(refused).toEqual([]);
      expect(api.busy || api2.busy).toBe(false);
    });

    it.skipIf(!usable)('answers 403 Forbidden to a process of another uid, closes its connection and reports it, leaving the event queued', async () => {
      const other = me === INSTANCE_UID ? INTRUDER_UID : INSTANCE_UID;
      const { api, reports, refused, url } = await checked(other, lookup);
      api.deliver(event('req-1'));
      const next = await fetch(url('/invocation/next'));
      expect(next.status).toBe(403);
      expect(next.headers.get('connection')).toBe('close');
      expect(next.headers.has('lambda-runtime-aws-request-id')).toBe(false);
      expect(await next.json()).toEqual({ errorMessage: 'This Runtime API answers only the processes of its own function instance.', errorType: 'Forbidden' });
      expect((await post(url('/invocation/req-1/response'), 'stolen')).status).toBe(403);
      expect((await post(url('/invocation/req-1/error'), '{}')).status).toBe(403);
      expect((await post(url('/init/error'), '{}')).status).toBe(403);
      expect(reports).toEqual([]);
      expect(api.busy && !api.polling).toBe(true);
      expect(refused.map((r) => [r.method, r.path, r.uid, r.expectedUid, r.mechanism])).toEqual([
        ['GET', `${R}/invocation/next`, me, other, mechanism],
        ['POST', `${R}/invocation/req-1/response`, me, other, mechanism],
        ['POST', `${R}/invocation/req-1/error`, me, other, mechanism],
        ['POST', `${R}/init/error`, me, other, mechanism],
      ]);
      expect(refused[0]?.reason).toBe(`connection owned by uid ${me}, not ${other}`);
    });

    it.skipIf(!usable || !root)('lets the instance\'s uid poll and answer while another uid gets 403 on /next, /response and /error', async () => {
      const { api, reports, refused, url } = await checked(INSTANCE_UID, lookup);
      const base = url('');
      // The instance waits on /next; an intruder's newer poll must not take the event.
      const instance = as(INSTANCE_UID, base, [
        { method: 'GET', path: '/invocation/next' },
        { method: 'POST', path: '/invocation/{id}/response', body: '{"from":"instance"}' },
      ]);
      await expect.poll(() => api.polling, { timeout: 30_000 }).toBe(true);
      const intruder = as(INTRUDER_UID, base, [
        { method: 'GET', path: '/invocation/next' },
        { method: 'POST', path: '/invocation/req-1/response', body: 'stolen' },
        { method: 'POST', path: '/invocation/req-1/error', body: '{"errorMessage":"x","errorType":"Y"}' },
      ]);
      // Without the check the intruder's /next would be the newest poll and wait for the event itself.
      await expect.poll(() => refused.length, { timeout: 30_000 }).toBe(3);
      (await intruder).forEach(forbidden);
      expect(api.polling).toBe(true);
      api.deliver(event('req-1'));
      const [got, answered] = await instance;
      expect(got).toMatchObject({ status: 200, requestId: 'req-1', text: '{"hello":"world"}' });
      expect(answered?.status).toBe(202);
      expect(reports).toHaveLength(2);
      expect(reports[0]).toEqual({ kind: 'next', first: true });
      const r = reports[1];
      expect(r?.kind === 'response' && r.body.toString()).toBe('{"from":"instance"}');
      expect(refused.map((x) => [x.uid, x.path])).toEqual([
        [INTRUDER_UID, `${R}/invocation/next`],
        [INTRUDER_UID, `${R}/invocation/req-1/response`],
        [INTRUDER_UID, `${R}/invocation/req-1/error`],
      ]);
    });

    it.skipIf(!usable || !root)('does not let another uid answer an open invocation', async () => {
      const { api, reports, url } = await checked(INSTANCE_UID, lookup);
      const base = url('');
      api.deliver(event('req-2'));
      const [got] = await as(INSTANCE_UID, base, [{ method: 'GET', path: '/invocation/next' }]);
      expect(got?.requestId).toBe('req-2');
      const intruder = await as(INTRUDER_UID, base, [
        { method: 'GET', path: '/invocation/next' },
        { method: 'POST', path: '/invocation/req-2/response', body: 'stolen' },
        { method: 'POST', path: '/invocation/req-2/error', body: '{}' },
      ]);
      intruder.forEach(forbidden);
      expect(api.busy).toBe(true);
      const [answered] = await as(INSTANCE_UID, base, [{ method: 'POST', path: '/invocation/req-2/response', body: 'mine' }]);
      expect(answered?.status).toBe(202);
      const r = reports.at(-1);
      expect(r?.kind === 'response' && r.body.toString()).toBe('mine');
      expect(reports.filter((x) => x.kind === 'response' || x.kind === 'error')).toHaveLength(1);
    });
  });
});

describe('GET /fare/credentials', () => {
  it('answers the running invocation credentials in the container-credentials format, and nothing between invocations', async () => {
    const { api, url } = await server();
    // Outside an invocation: credentials every gateway refuses (boto3 loads them when a client is made).
    const none = await fetch(url('/fare/credentials'));
    expect(none.status).toBe(200);
    expect(((await none.json()) as { Token: string }).Token).toBe('v1.none');
    const token = `v1.${Buffer.from('{"n":"x"}').toString('base64url')}.${'A'.repeat(43)}`;
    api.deliver(event('req-c', { fareContext: token }));
    await fetch(url('/invocation/next'));
    const got = await fetch(url('/fare/credentials'));
    const c = (await got.json()) as { AccessKeyId: string; SecretAccessKey: string; Token: string; Expiration: string };
    expect(c.AccessKeyId).toMatch(/^FARECTX[0-9A-F]{25}$/);
    expect(c.Token).toBe(token.slice(0, token.lastIndexOf('.')));
    expect(c.SecretAccessKey).not.toContain('A'.repeat(10));
    expect(Date.parse(c.Expiration) - Date.now()).toBeGreaterThan(30_000);
    await post(url('/invocation/req-c/response'), '{}');
    expect(((await (await fetch(url('/fare/credentials'))).json()) as { Token: string }).Token).toBe('v1.none');
  });
});
