import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { startHarness, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
/** What the gateway was asked to wait before rate-limited answers (it does not really wait here). */
let slept: number[];

beforeEach(async () => {
  slept = [];
  h = await startHarness({
    authLimits: { addressBurst: 4, addressPerSec: 1, keyBurst: 6, keyPerSec: 1 },
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  });
  acme = await h.tenant('acme');
});
afterEach(async () => {
  await h.close();
});

const get = (authorization: string): Promise<Response> => fetch(`${h.url}/v1/functions`, { headers: { Authorization: authorization } });

describe('Bearer', () => {
  it('accepts <access key id>:<secret> after "Bearer " (the scheme in any case)', async () => {
    expect((await get(`Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
    expect((await get(`bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
  });

  it.each([
    ['two spaces after the scheme', (id: string, s: string) => `Bearer  ${id}:${s}`],
    ['a tab after the scheme', (id: string, s: string) => `Bearer \t${id}:${s}`],
    ['whitespace inside', (id: string, s: string) => `Bearer ${id}: ${s}`],
    ['trailing junk', (id: string, s: string) => `Bearer ${id}:${s} junk`],
    ['a second token', (id: string, s: string) => `Bearer ${id}:${s},Bearer ${id}:${s}`],
    ['a lower-case key id', (id: string, s: string) => `Bearer ${id.toLowerCase()}:${s}`],
    ['no secret', (id: string) => `Bearer ${id}`],
  ])('refuses a value with %s as malformed, saying what it must be', async (_, value) => {
    const r = await get(value(acme.accessKeyId, acme.secret));
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: { code: 'FARE_E_AUTH_INVALID', message: expect.stringMatching(/Bearer takes <access key id>:<secret>, exactly as returned/) as unknown } });
  });

  it('on the Lambda API a malformed value is an IncompleteSignatureException, a wrong secret an UnrecognizedClientException', async () => {
    expect((await deploy()).status).toBe(201);
    const bad = await h.invoke({ ...acme, secret: `${acme.secret} x` }, 'hello');
    expect([bad.status, bad.headers.get('x-amzn-errortype')]).toEqual([403, 'IncompleteSignatureException']);
    const wrong = await h.invoke({ ...acme, secret: `${acme.secret}x` }, 'hello');
    expect([wrong.status, wrong.headers.get('x-amzn-errortype')]).toEqual([403, 'UnrecognizedClientException']);
  });

  it('refuses a credential revoked through the API on its next request, though its last success is remembered', async () => {
    expect((await get(`Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
    const del = await fetch(`${h.url}/v1/tenants/acme/credentials/${acme.accessKeyId}`, { method: 'DELETE', headers: { Authorization: `Bearer ${h.admin.accessKeyId}:${h.admin.secret}` } });
    expect(del.status).toBe(204);
    expect((await get(`Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(401);
  });

  it('remembers a verified secret, and only that one: another secret for the same key id is checked anew', async () => {
    expect((await get(`Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
    expect((await get(`Bearer ${acme.accessKeyId}:${acme.secret}x`)).status).toBe(401);
    expect((await get(`Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
  });
});

const deploy = (): Promise<Response> => h.deploy(acme, 'hello');

/** GET /v1/functions from a given loopback address (127.0.0.0/8 is all this machine's). */
function getFrom(localAddress: string, authorization: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  const u = new URL(`${h.url}/v1/functions`);
  return new Promise((done, fail) => {
    const req = request({ hostname: u.hostname, port: u.port, path: u.pathname, localAddress, headers: { Authorization: authorization } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as unknown }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('limits on authentication failures', () => {
  const wrong = (id: string): string => `Bearer ${id}:${'w'.repeat(40)}`;

  it('answers failures past the address limit with 429, Retry-After and a JSON body, after a delay', async () => {
    for (let i = 0; i < 4; i++) expect((await getFrom('127.0.0.2', wrong(acme.accessKeyId))).status).toBe(401);
    expect(slept).toEqual([]);
    const limited = await getFrom('127.0.0.2', wrong(acme.accessKeyId));
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.body).toEqual({ error: { code: 'FARE_E_AUTH_RATE_LIMITED', message: expect.stringMatching(/too many failed authentications.*retry after 1 s/) as unknown } });
    expect(slept).toEqual([1000]);
    // Other addresses are not limited by it; the address regains a failure a second.
    expect((await getFrom('127.0.0.3', 'Bearer nonsense')).status).toBe(401);
    h.clock.advance(1000);
    expect((await getFrom('127.0.0.2', wrong(acme.accessKeyId))).status).toBe(401);
  });

  it('never locks out a good key: its right secret is accepted from the flooded address, naming the flooded key id', async () => {
    for (let i = 0; i < 10; i++) await getFrom('127.0.0.2', wrong(acme.accessKeyId));
    expect((await getFrom('127.0.0.2', wrong(acme.accessKeyId))).status).toBe(429);
    expect((await getFrom('127.0.0.2', `Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
    expect((await getFrom('127.0.0.9', `Bearer ${acme.accessKeyId}:${acme.secret}`)).status).toBe(200);
  });

  it('limits failures naming one key id from many addresses, known or not alike', async () => {
    for (const id of [acme.accessKeyId, 'FARENOSUCHKEY0000000']) {
      for (let i = 0; i < 6; i++) expect((await getFrom(`127.0.1.${i + (id === acme.accessKeyId ? 0 : 10)}`, wrong(id))).status).toBe(401);
      expect((await getFrom('127.0.2.1', wrong(id))).status).toBe(429);
    }
    expect((await getFrom('127.0.2.2', wrong('FAREANOTHERKEY000000'))).status).toBe(401);
  });

  it('counts failures of SigV4 and missing credentials too, and answers the Lambda API in its shape', async () => {
    for (let i = 0; i < 4; i++) await fetch(`${h.url}/2015-03-31/functions/hello/invocations`, { method: 'POST', body: '{}' });
    const r = await fetch(`${h.url}/2015-03-31/functions/hello/invocations`, { method: 'POST', body: '{}', headers: { Authorization: `AWS4-HMAC-SHA256 Credential=${acme.accessKeyId}/20200101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` } });
    expect([r.status, r.headers.get('x-amzn-errortype'), r.headers.get('retry-after')]).toEqual([429, 'TooManyRequestsException', '1']);
    expect(await r.json()).toMatchObject({ Type: 'User', Reason: 'AuthenticationFailureRateExceeded', Message: expect.stringMatching(/too many failed authentications/) as unknown });
  });
});
