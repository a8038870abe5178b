import { createHmac } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { invocationCredentials } from '../invocation-credentials.ts';
import type { IssuedCredential } from '../store/index.ts';
import type { InvokeRequest } from '../types.ts';
import { AsyncRunner } from './async-runner.ts';
import { FARE_CONTEXT_HEADER, FareContexts, type ContextPeers, type RunningInvocation } from './fare-context.ts';
import { outcome, startHarness, type Harness } from './testing.ts';

const KEY = Buffer.alloc(32, 7);
const NOW = 1_700_000_000_000;
const INV: RunningInvocation = { requestId: 'req-1', tenant: 'acme', function: 'caller', cls: 0, deadline: NOW + 60_000 };

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
const sign = (body: string, key = KEY): string => `v1.${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
/** The claims of a token, as JSON text. */
const claimsOf = (token: string): string => Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8');
const deadlineOf = (token: string | undefined): number => (JSON.parse(claimsOf(token ?? '')) as { x: number }).x;

describe('FareContexts', () => {
  it('honours a context for its own tenant while its invocation runs, and names the invocation', () => {
    const c = new FareContexts(KEY);
    const { token } = c.begin(INV);
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(c.check(token, 'acme', NOW)).toEqual({ ok: true, caller: INV });
    expect(c.running).toBe(1);
  });

  it('refuses it once the invocation has ended, also in a new process with the same key', () => {
    const c = new FareContexts(KEY);
    const run = c.begin(INV);
    run.end();
    expect(c.check(run.token, 'acme', NOW)).toEqual({ ok: false, refusal: 'ended' });
    expect(c.running).toBe(0);
    expect(new FareContexts(KEY).check(c.begin(INV).token, 'acme', NOW)).toEqual({ ok: false, refusal: 'ended' });
  });

  it('binds each execution: the context of one attempt is not the next one\'s', () => {
    const c = new FareContexts(KEY);
    const first = c.begin(INV);
    first.end();
    const second = c.begin(INV);
    expect(c.check(first.token, 'acme', NOW)).toMatchObject({ ok: false, refusal: 'ended' });
    expect(c.check(second.token, 'acme', NOW)).toMatchObject({ ok: true });
  });

  it('refuses a principal of another tenant, and a context past its deadline', () => {
    const c = new FareContexts(KEY);
    const { token } = c.begin(INV);
    expect(c.check(token, 'zeta', NOW)).toEqual({ ok: false, refusal: 'other-tenant', tenant: 'acme' });
    expect(c.check(token, 'acme', INV.deadline)).toMatchObject({ ok: true });
    expect(c.check(token, 'acme', INV.deadline + 1)).toEqual({ ok: false, refusal: 'expired' });
  });

  it('refuses a context signed with another key as forged', () => {
    const c = new FareContexts(KEY);
    expect(c.check(new FareContexts(Buffer.alloc(32, 8)).begin(INV).token, 'acme', NOW)).toEqual({ ok: false, refusal: 'forged' });
  });

  describe('parses strictly: a token signed with the right key is still refused when', () => {
    // Each case rewrites the claims of a running invocation's real token and signs them again, so the
    // only thing wrong with it is what the case names.
    const cases: [string, (json: string) => string][] = [
      ['it has an extra key', (j) => j.replace(/}$/, ',"y":1}')],
      ['a key is missing', (j) => j.replace(/,"x":\d+/, '')],
      ['the keys are in another order', (j) => { const o = JSON.parse(j) as Record<string, unknown>; return JSON.stringify({ r: o.r, n: o.n, t: o.t, f: o.f, c: o.c, x: o.x }); }],
      ['a key appears twice', (j) => j.replace(/}$/, `,"c":${String((JSON.parse(j) as { c: number }).c)}}`)],
      ['the JSON has spaces', (j) => j.replace(/,/g, ', ')],
      ['bytes follow the JSON', (j) => `${j} `],
      ['a number is a string', (j) => j.replace(/"c":(\d+)/, '"c":"$1"')],
      ['a number is spelled otherwise', (j) => j.replace(/"c":(\d+)/, '"c":$1.0')],
      ['a string is escaped otherwise', (j) => j.replace('"acme"', '"\\u0061cme"')],
    ];
    it.each(cases)('%s', (_, rewrite) => {
      const c = new FareContexts(KEY);
      const { token } = c.begin(INV);
      const forged = sign(b64(rewrite(claimsOf(token))));
      expect(c.check(forged, 'acme', NOW)).toEqual({ ok: false, refusal: 'malformed' });
      // The unchanged claims, signed the same way, are honoured: the rewrite is what is refused.
      expect(c.check(sign(b64(claimsOf(token))), 'acme', NOW)).toMatchObject({ ok: true });
    });

    it('the body or the signature is not canonical base64url, or something follows the signature', () => {
      const c = new FareContexts(KEY);
      // A body whose last character carries unused bits (its length is not a multiple of 4).
      const { token } = ['r', 'rr', 'rrr'].map((requestId) => c.begin({ ...INV, requestId })).find((t) => (t.token.split('.')[1] ?? '').length % 4 !== 0) ?? c.begin(INV);
      const [, body = '', sig = ''] = token.split('.');
      expect(body.length % 4).not.toBe(0);
      // The same bytes spelled otherwise: an unused bit set in the last character (the signature's
      // 43 characters carry 258 bits for 256), padding, base64 instead of base64url.
      const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const unusedBitSet = (s: string): string => s.slice(0, -1) + (ALPHABET[ALPHABET.indexOf(s.at(-1) ?? 'A') | 1] ?? '');
      expect(Buffer.from(unusedBitSet(body), 'base64url').equals(Buffer.from(body, 'base64url'))).toBe(true);
      expect(c.check(sign(unusedBitSet(body)), 'acme', NOW)).toEqual({ ok: false, refusal: 'malformed' });
      expect(c.check(`v1.${body}.${unusedBitSet(sig)}`, 'acme', NOW)).toEqual({ ok: false, refusal: 'malformed' });
      expect(c.check(`v1.${body}=.${sig}`, 'acme', NOW)).toEqual({ ok: false, refusal: 'malformed' });
      expect(c.check(token, 'acme', NOW)).toMatchObject({ ok: true });
      for (const bad of [`${token}A`, `${token}.`, `${token} `, ` ${token}`, `v2${token.slice(2)}`, `${token},${token}`, token.replace(/-/g, '+').replace(/_/g, '/')]) {
        if (bad === token) continue;
        expect(c.check(bad, 'acme', NOW)).toEqual({ ok: false, refusal: 'malformed' });
      }
    });

    it('the body is not UTF-8', () => {
      const c = new FareContexts(KEY);
      const { token } = c.begin(INV);
      const bytes = Buffer.from(claimsOf(token).replace('acme', 'acm\u00e9'));
      bytes[bytes.indexOf(0xc3)] = 0xff;
      expect(c.check(sign(b64(bytes)), 'acme', NOW)).toEqual({ ok: false, refusal: 'malformed' });
    });
  });
});

// ---------------------------------------------------------------------------------------------
// A cluster's gateways in one process: each FareContexts asks the others directly (cluster/contexts.ts
// does it over NATS). `answer` stands in for the network: by default the asked gateway's registry.

interface FakeCluster {
  readonly gw: FareContexts[];
  /** Questions asked: [asked gateway, nonce]. */
  readonly asked: [number, string][];
  /** How a question is answered (default: from the asked gateway's registry). */
  answer: (gateway: number, nonce: string) => Promise<RunningInvocation | undefined>;
}

function fakeCluster(n: number, timeoutMs = 50): FakeCluster {
  const c: FakeCluster = { gw: [], asked: [], answer: (g, nonce) => Promise.resolve(c.gw[g]?.registered(nonce)) };
  for (let self = 0; self < n; self++) {
    const peers: ContextPeers = { self, timeoutMs, ask: (g, nonce) => { c.asked.push([g, nonce]); return c.answer(g, nonce); } };
    c.gw.push(new FareContexts(KEY, peers));
  }
  return c;
}

const isPromise = (v: unknown): v is Promise<unknown> => v instanceof Promise;
const nonceOf = (token: string): string => (JSON.parse(claimsOf(token)) as { n: string }).n;

describe('FareContexts across the gateways of a cluster', () => {
  it('honours on any gateway a context begun on another, asking that one only on a miss; refuses it there once it has ended', async () => {
    const c = fakeCluster(3);
    const [g0, g1] = c.gw as [FareContexts, FareContexts];
    const run = g0.begin(INV);
    // The nonce names the gateway to ask (its first two bytes).
    expect(Buffer.from(nonceOf(run.token), 'base64url').readUInt16BE(0)).toBe(0);
    // A hit where it began: synchronous, nobody asked.
    const here = g0.find(run.token, 'acme', NOW);
    expect(isPromise(here)).toBe(false);
    expect(here).toEqual({ ok: true, caller: INV });
    // Elsewhere: g0 is asked (and only g0).
    const there = g1.find(run.token, 'acme', NOW);
    expect(isPromise(there)).toBe(true);
    // With the gateway it began on: a call it makes here is told to that one (which blocks it).
    expect(await there).toEqual({ ok: true, caller: { ...INV, gateway: 0 } });
    expect(c.asked).toEqual([[0, nonceOf(run.token)]]);
    // `check` is the local registry alone.
    expect(g1.check(run.token, 'acme', NOW)).toEqual({ ok: false, refusal: 'ended' });
    // Nothing is remembered: once it has ended, the next question hears so.
    run.end();
    expect(await g1.find(run.token, 'acme', NOW)).toEqual({ ok: false, refusal: 'ended' });
    expect(c.asked).toHaveLength(2);
  });

  it('answers at once, asking nobody, whatever needs nobody\'s word: forged, malformed, another tenant\'s, past its deadline, begun here and ended', () => {
    const c = fakeCluster(2);
    const [g0, g1] = c.gw as [FareContexts, FareContexts];
    const run = g0.begin(INV);
    const forged = new FareContexts(Buffer.alloc(32, 8), { self: 0, ask: () => Promise.resolve(INV) }).begin(INV).token;
    const sync = (token: string, tenant = 'acme', now = NOW): unknown => {
      const r = g1.find(token, tenant, now);
      expect(isPromise(r)).toBe(false);
      return r;
    };
    expect(sync(forged)).toEqual({ ok: false, refusal: 'forged' });
    expect(sync(`${run.token}x`)).toEqual({ ok: false, refusal: 'malformed' });
    expect(sync(sign(b64(claimsOf(run.token).replace(/}$/, ',"y":1}'))))).toEqual({ ok: false, refusal: 'malformed' });
    expect(sync(run.token, 'zeta')).toEqual({ ok: false, refusal: 'other-tenant', tenant: 'acme' });
    expect(sync(run.token, 'acme', INV.deadline + 1)).toEqual({ ok: false, refusal: 'expired' });
    const mine = g1.begin(INV);
    mine.end();
    expect(sync(mine.token)).toEqual({ ok: false, refusal: 'ended' });
    expect(c.asked).toEqual([]);
  });

  it('a gateway that does not answer in time, or cannot be asked: unconfirmed; one that says no, or is not there: ended', async () => {
    const c = fakeCluster(2, 30);
    const [g0, g1] = c.gw as [FareContexts, FareContexts];
    const { token } = g0.begin(INV);
    c.answer = () => new Promise(() => {});
    const started = Date.now();
    expect(await g1.find(token, 'acme', NOW)).toEqual({ ok: false, refusal: 'unconfirmed', gateway: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    c.answer = () => Promise.reject(new Error('NATS connection closed'));
    expect(await g1.find(token, 'acme', NOW)).toEqual({ ok: false, refusal: 'unconfirmed', gateway: 0 });
    c.answer = () => {
      throw new Error('thrown at once');
    };
    expect(await g1.find(token, 'acme', NOW)).toEqual({ ok: false, refusal: 'unconfirmed', gateway: 0 });
    // "Not running" (the gateway said so, or no gateway of that number answers on NATS).
    c.answer = () => Promise.resolve(undefined);
    expect(await g1.find(token, 'acme', NOW)).toEqual({ ok: false, refusal: 'ended' });
    // An answer that is not the context's invocation is not honoured.
    c.answer = () => Promise.resolve({ ...INV, cls: 1 });
    expect(await g1.find(token, 'acme', NOW)).toEqual({ ok: false, refusal: 'ended' });
    // A late answer after a timeout changes nothing, and the next question is asked afresh.
    let late: (inv: RunningInvocation) => void = () => {};
    c.answer = () => new Promise((resolve) => { late = resolve; });
    expect(await g1.find(token, 'acme', NOW)).toMatchObject({ refusal: 'unconfirmed' });
    late(INV);
    c.answer = (g, nonce) => Promise.resolve(c.gw[g]?.registered(nonce));
    expect(await g1.find(token, 'acme', NOW)).toEqual({ ok: true, caller: { ...INV, gateway: 0 } });
  });

  it('asks once for calls made at once with one context, and again for the next ones', async () => {
    const c = fakeCluster(2);
    const [g0, g1] = c.gw as [FareContexts, FareContexts];
    const { token } = g0.begin(INV);
    const all = await Promise.all(Array.from({ length: 5 }, () => Promise.resolve(g1.find(token, 'acme', NOW))));
    expect(all).toEqual(Array.from({ length: 5 }, () => ({ ok: true, caller: { ...INV, gateway: 0 } })));
    expect(c.asked).toHaveLength(1);
    await g1.find(token, 'acme', NOW);
    expect(c.asked).toHaveLength(2);
  });

  it('invocation credentials of another gateway\'s invocation: the secret at once, the question only when confirmed', async () => {
    const c = fakeCluster(2, 30);
    const [g0, g1] = c.gw as [FareContexts, FareContexts];
    const run = g0.begin(INV);
    const creds = invocationCredentials(run.token);
    const cred = g1.invocationCredential(creds?.accessKeyId ?? '', creds?.sessionToken, NOW);
    expect(cred).toMatchObject({ tenant: 'acme', secret: creds?.secretAccessKey, token: run.token });
    expect(c.asked).toEqual([]);
    const confirm = 'confirm' in cred ? cred.confirm : undefined;
    expect(await confirm?.()).toEqual({ ...INV, gateway: 0 });
    expect(c.asked).toHaveLength(1);
    // Where it began: no confirmation needed.
    expect(g0.invocationCredential(creds?.accessKeyId ?? '', creds?.sessionToken, NOW)).not.toHaveProperty('confirm');
    // Past the deadline it carries: refused at once.
    expect(g1.invocationCredential(creds?.accessKeyId ?? '', creds?.sessionToken, INV.deadline + 1)).toMatchObject({ refused: expect.stringMatching(/has passed its deadline/) as unknown });
    c.answer = () => new Promise(() => {});
    expect(await confirm?.()).toMatchObject({ unavailable: true, refused: expect.stringMatching(/gateway 0 of this cluster.*did not say in time/) as unknown });
    c.answer = (g, nonce) => Promise.resolve(c.gw[g]?.registered(nonce));
    run.end();
    expect(await confirm?.()).toEqual({ refused: expect.stringMatching(/only while their invocation runs \(this one has ended\)/) as unknown });
  });

  it('refuses a gateway number that does not fit in a nonce', () => {
    expect(() => new FareContexts(KEY, { self: 65536, ask: () => Promise.resolve(undefined) })).toThrow(/0 … 65535/);
  });
});

describe('through a gateway of a cluster: another gateway\'s contexts and invocation credentials', () => {
  // h2 is a gateway (number 2) whose peer gateway 1 is `other`, sharing its key (one master key).
  let h2: Harness;
  let other: FareContexts;
  let asked: string[];
  let answer: (nonce: string) => Promise<RunningInvocation | undefined>;

  beforeEach(async () => {
    asked = [];
    answer = (nonce) => Promise.resolve(other.registered(nonce));
    h2 = await startHarness({ contextPeers: { self: 2, timeoutMs: 100, ask: (_, nonce) => { asked.push(nonce); return answer(nonce); } } });
    other = new FareContexts(h2.store.deriveKey('invocation-context'), { self: 1, ask: () => Promise.resolve(undefined) });
  });
  afterEach(async () => {
    await h2.close();
  });

  const sdk = (creds: ReturnType<typeof invocationCredentials>, secret?: string): LambdaClient =>
    new LambdaClient({ endpoint: h2.url, region: 'us-east-1', credentials: { accessKeyId: creds?.accessKeyId ?? '', secretAccessKey: secret ?? creds?.secretAccessKey ?? '', sessionToken: creds?.sessionToken ?? '' }, maxAttempts: 1 });

  it('raises a call made with either while the invocation runs there, refuses both once it has ended, and says 503 when that gateway does not answer', async () => {
    const owner = await h2.tenant('acme');
    expect((await h2.deploy(owner, 'cheap', { class: 'low' })).status).toBe(201);
    const run = other.begin({ requestId: 'r-1', tenant: 'acme', function: 'top', cls: 0, deadline: h2.clock() + 60_000 });
    const creds = invocationCredentials(run.token);

    const viaHeader = await h2.invoke(owner, 'cheap', '{}', withContext(run.token));
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.headers.get('x-fare-class')).toBe('high');
    expect(asked).toHaveLength(1);
    const client = sdk(creds);
    const viaSdk = await client.send(new InvokeCommand({ FunctionName: 'cheap' }));
    expect(viaSdk.StatusCode).toBe(200);
    expect(h2.platform.invoked.at(-1)?.cls).toBe(0);
    expect(asked).toHaveLength(2);
    // A request whose signature does not pass makes the gateway ask nobody.
    const wrong = sdk(creds, 'not-the-secret');
    await expect(wrong.send(new InvokeCommand({ FunctionName: 'cheap' }))).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    expect(asked).toHaveLength(2);

    answer = () => new Promise(() => {});
    const busy = await h2.invoke(owner, 'cheap', '{}', withContext(run.token));
    expect([busy.status, busy.headers.get('x-fare-error-code'), busy.headers.get('retry-after')]).toEqual([503, 'FARE_E_CONTEXT_UNCONFIRMED', '1']);
    expect(await busy.json()).toMatchObject({ Message: expect.stringMatching(/gateway 1 of this cluster, which did not say in time/) as unknown });
    await expect(client.send(new InvokeCommand({ FunctionName: 'cheap' }))).rejects.toMatchObject({ name: 'ServiceException', $metadata: { httpStatusCode: 503 } });

    answer = (nonce) => Promise.resolve(other.registered(nonce));
    run.end();
    const ended = await h2.invoke(owner, 'cheap', '{}', withContext(run.token));
    expect([ended.status, ended.headers.get('x-fare-error-code')]).toEqual([400, 'FARE_E_CONTEXT_ENDED']);
    await expect(client.send(new InvokeCommand({ FunctionName: 'cheap' }))).rejects.toThrow(/only while their invocation runs \(this one has ended\)/);
    client.destroy();
    wrong.destroy();
  });
});

// ---------------------------------------------------------------------------------------------
// Through the gateway: tenants acme and zeta; acme's functions `hello` (standard) and `cheap` (low),
// zeta's `top` (high). A function "calls" others from the fake platform, with the context it got.

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;
/** What a function does when it runs, by name (default: answers at once). */
let behaviour: Map<string, (req: InvokeRequest) => Promise<void>>;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
  expect((await h.deploy(acme, 'hello')).status).toBe(201);
  expect((await h.deploy(acme, 'cheap', { class: 'low', timeoutMs: 900_000 })).status).toBe(201);
  expect((await h.deploy(acme, 'top', { class: 'high', timeoutMs: 1000 })).status).toBe(201);
  expect((await h.deploy(zeta, 'top', { class: 'high' })).status).toBe(201);
  behaviour = new Map();
  h.platform.respond = async (req) => {
    await behaviour.get(`${req.fn.tenant}/${req.fn.name}`)?.(req);
    return outcome();
  };
});
afterEach(async () => {
  await h.close();
});

const withContext = (token: string | undefined): Record<string, string> => ({ [FARE_CONTEXT_HEADER]: token ?? '' });
/** Fare's error code of a Lambda API answer. */
const code = (r: Response): string | null => r.headers.get('x-fare-error-code');
const call = (c: IssuedCredential, fn: string, token: string | undefined): Promise<Response> => h.invoke(c, fn, '{}', withContext(token));
/** The request the platform got for `fn` (the last one). */
const invoked = (tenant: string, fn: string): InvokeRequest | undefined => h.platform.invoked.findLast((r) => r.fn.tenant === tenant && r.fn.name === fn);

describe('contexts through the gateway', () => {
  it('raises a synchronous call into the caller\'s own tenant, and tells the platform the caller waits', async () => {
    let inner: Response | undefined;
    behaviour.set('acme/top', async (req) => {
      inner = await h.invoke(acme, 'cheap', '{}', withContext(req.fareContext));
    });
    const outer = await h.invoke(acme, 'top');
    expect(outer.status).toBe(200);
    expect(inner?.headers.get('x-fare-class')).toBe('high');
    expect(invoked('acme', 'cheap')).toMatchObject({ cls: 0, waitingCaller: outer.headers.get('x-amzn-requestid') });
  });

  it('does not let a grantee raise the owner\'s bill: a call into another tenant\'s function runs at its own class', async () => {
    h.store.grants.add('acme', 'cheap', 'zeta');
    let inner: Response | undefined;
    behaviour.set('zeta/top', async (req) => {
      inner = await h.invoke(zeta, 'acme:function:cheap', '{}', withContext(req.fareContext));
    });
    const outer = await h.invoke(zeta, 'top');
    expect(outer.status).toBe(200);
    expect(inner?.status).toBe(200);
    expect(inner?.headers.get('x-fare-class')).toBe('low');
    expect(h.store.billing.get(inner?.headers.get('x-amzn-requestid') ?? '')).toMatchObject({ tenant: 'acme', caller: 'zeta', cls: 'low', price: 0.5 });
    // The caller's context passed every check, and the caller waits: its core may go meanwhile.
    expect(invoked('acme', 'cheap')).toMatchObject({ cls: 3, waitingCaller: outer.headers.get('x-amzn-requestid') });
  });

  it('refuses a context presented with another tenant\'s credentials (403), without running anything', async () => {
    h.store.grants.add('acme', '*', 'zeta');
    let inner: Response | undefined;
    behaviour.set('acme/top', async (req) => {
      inner = await call(zeta, 'acme:function:cheap', req.fareContext);
    });
    await h.invoke(acme, 'top');
    expect(inner?.status).toBe(403);
    expect(code(inner as Response)).toBe('FARE_E_CONTEXT_FORBIDDEN');
    expect(invoked('acme', 'cheap')).toBeUndefined();
    // On the Lambda API, as AccessDeniedException.
    const leaked = h.gateway.context.contexts.begin({ requestId: 'x', tenant: 'acme', function: 'top', cls: 0, deadline: h.clock() + 60_000 });
    const r = await h.invoke(zeta, 'top', '{}', withContext(leaked.token));
    expect([r.status, r.headers.get('x-amzn-errortype')]).toEqual([403, 'AccessDeniedException']);
    expect(invoked('zeta', 'top')).toBeUndefined();
  });

  it('refuses a context after its invocation answered: it cannot be replayed (400 FARE_E_CONTEXT_ENDED)', async () => {
    let kept: string | undefined;
    behaviour.set('acme/top', (req) => {
      kept = req.fareContext;
      return Promise.resolve();
    });
    await h.invoke(acme, 'top');
    expect(h.gateway.context.contexts.running).toBe(0);
    const before = h.platform.invoked.length;
    const replay = await h.invoke(acme, 'cheap', '{}', withContext(kept));
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ Message: expect.stringMatching(/has ended: a context is honoured only while its invocation runs/) as unknown });
    expect(replay.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
    expect(h.platform.invoked.length).toBe(before);
    expect(code(await call(acme, 'cheap', kept))).toBe('FARE_E_CONTEXT_ENDED');
  });

  it('never extends itself: a raised callee\'s context expires with its caller\'s, however long the callee may run', async () => {
    // top: high, 1 s timeout; cheap: low, 15 min. cheap, raised by top, calls hello with its own context.
    behaviour.set('acme/top', async (req) => {
      await h.invoke(acme, 'cheap', '{}', withContext(req.fareContext));
    });
    behaviour.set('acme/cheap', async (req) => {
      await h.invoke(acme, 'hello', '{}', withContext(req.fareContext));
      // Past top's deadline, cheap (still running) can no longer raise anything with its context.
      h.clock.advance(61_001);
      expect(code(await call(acme, 'hello', req.fareContext))).toBe('FARE_E_CONTEXT_ENDED');
    });
    await h.invoke(acme, 'top');
    const top = deadlineOf(invoked('acme', 'top')?.fareContext);
    expect(top).toBe(h.clock() - 61_001 + 1000 + 60_000);
    expect(deadlineOf(invoked('acme', 'cheap')?.fareContext)).toBe(top);
    expect(deadlineOf(invoked('acme', 'hello')?.fareContext)).toBe(top);
    expect(invoked('acme', 'hello')?.cls).toBe(0);
  });

  it('does not raise an Event, which outlives its caller; checks its context all the same', async () => {
    behaviour.set('acme/top', async (req) => {
      const r = await h.invoke(acme, 'cheap', '{}', { ...withContext(req.fareContext), 'X-Amz-Invocation-Type': 'Event' });
      expect(r.status).toBe(202);
      expect(h.store.invocations.get(r.headers.get('x-amzn-requestid') ?? '')).toMatchObject({ cls: 'low', classIndex: 3 });
    });
    await h.invoke(acme, 'top');
    expect(h.platform.queued).toHaveLength(1);
    const bad = await h.invoke(acme, 'cheap', '{}', { ...withContext('v1.e30.nope'), 'X-Amz-Invocation-Type': 'Event' });
    expect(bad.status).toBe(400);
    expect(h.platform.queued).toHaveLength(1);
  });

  it('gives each async attempt a context honoured while it runs and refused after', async () => {
    const runner = new AsyncRunner({ store: h.store, platform: h.platform, contexts: h.gateway.context.contexts, clock: h.clock });
    const during: number[] = [];
    behaviour.set('acme/top', async (req) => {
      during.push((await h.invoke(acme, 'cheap', '{}', withContext(req.fareContext))).status);
    });
    expect((await h.invoke(acme, 'top', '{}', { 'X-Amz-Invocation-Type': 'Event' })).status).toBe(202);
    runner.wake();
    await runner.idle();
    expect(during).toEqual([200]);
    expect(invoked('acme', 'cheap')?.cls).toBe(0);
    expect(h.gateway.context.contexts.running).toBe(0);
    expect(code(await call(acme, 'cheap', invoked('acme', 'top')?.fareContext))).toBe('FARE_E_CONTEXT_ENDED');
    await runner.stop();
  });

  it('refuses what is not a context of this Fare (400 FARE_E_INVALID_CONTEXT), without running anything', async () => {
    for (const token of ['garbage', 'v1.e30.AAAA', sign(b64('{}'), Buffer.alloc(32))]) {
      const r = await call(acme, 'cheap', token);
      expect(r.status).toBe(400);
      expect(code(r)).toBe('FARE_E_INVALID_CONTEXT');
    }
    expect(h.platform.invoked).toEqual([]);
  });
});
