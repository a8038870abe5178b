import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IssuedCredential } from '../store/index.ts';
import { AsyncRunner } from './async-runner.ts';
import { helloZip, outcome, startHarness, writeZip, type Harness } from './testing.ts';

let h: Harness;
let acme: IssuedCredential;
let zeta: IssuedCredential;

beforeEach(async () => {
  h = await startHarness();
  acme = await h.tenant('acme');
  zeta = await h.tenant('zeta');
});
afterEach(async () => {
  await h.close();
});

interface Call {
  method?: string;
  as?: IssuedCredential | null;
  json?: unknown;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

async function call(path: string, o: Call = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.as === null ? {} : h.bearer(o.as ?? h.admin)), ...o.headers };
  let body: Buffer | string | undefined = o.body;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(`${h.url}${path}`, { method: o.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  return { status: r.status, body: text === '' ? undefined : (JSON.parse(text) as unknown), headers: r.headers };
}

const err = (r: Reply): { code: string; message: string } => (r.body as { error: { code: string; message: string } }).error;
const errorCode = (r: Reply): string => err(r).code;
const field = <T>(r: Reply, key: string): T => (r.body as Record<string, T>)[key] as T;
const names = (r: Reply, key: string, prop: string): string[] => field<Record<string, string>[]>(r, key).map((x) => x[prop] ?? '');

describe('health and routing', () => {
  it('GET /healthz needs no credential', async () => {
    expect(await call('/healthz', { as: null })).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('unknown routes and methods get Fare errors that say what to do', async () => {
    const r = await call('/v1/nothing');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: { code: 'FARE_E_ROUTE_NOT_FOUND', message: expect.any(String) as unknown } });
    const m = await call('/v1/tenants', { method: 'DELETE' });
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST, GET');
  });
});

describe('Bearer authentication', () => {
  it('is required, and a wrong or malformed token is refused with 401', async () => {
    expect(errorCode(await call('/v1/functions', { as: null }))).toBe('FARE_E_AUTH_MISSING');
    expect((await call('/v1/functions', { as: null })).status).toBe(401);
    expect(errorCode(await call('/v1/functions', { as: { ...acme, secret: 'nope' } }))).toBe('FARE_E_AUTH_INVALID');
    expect(errorCode(await call('/v1/functions', { as: null, headers: { Authorization: 'Bearer justanid' } }))).toBe('FARE_E_AUTH_INVALID');
    expect((await call('/v1/functions', { as: acme })).status).toBe(200);
  });

  it('stops working once the credential is revoked through the API', async () => {
    const created = await call('/v1/tenants/acme/credentials', { method: 'POST', as: acme });
    expect(created.status).toBe(201);
    const spare = created.body as IssuedCredential;
    expect((await call('/v1/functions', { as: spare })).status).toBe(200);
    expect((await call(`/v1/tenants/acme/credentials/${spare.accessKeyId}`, { method: 'DELETE', as: acme })).status).toBe(204);
    expect((await call('/v1/functions', { as: spare })).status).toBe(401);
  });
});

describe('tenants', () => {
  it('an administrator creates one and gets its credential once', async () => {
    const r = await call('/v1/tenants', { method: 'POST', json: { id: 'newco', name: 'New Co', budgetMicroCents: 1e9, overBudget: 'degrade' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ tenant: { id: 'newco', name: 'New Co', budgetMicroCents: 1e9, overBudget: 'degrade' }, credential: { tenant: 'newco', admin: false } });
    const cred = field<IssuedCredential>(r, 'credential');
    expect(cred.accessKeyId).toMatch(/^FARE[A-Z2-7]{16}$/);
    expect(cred.secret).toHaveLength(40);
    const got = await call('/v1/tenants/newco', { as: cred });
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toContain(cred.secret);
    expect(got.body).toMatchObject({ id: 'newco', budgetState: 'ok', thisMonth: { invocations: 0 }, credentials: [{ accessKeyId: cred.accessKeyId }] });
  });

  it('validates input once, naming the field and the fix', async () => {
    const bad = await call('/v1/tenants', { method: 'POST', json: { id: 'Bad Id!' } });
    expect(bad.status).toBe(400);
    expect(err(bad).code).toBe('FARE_E_INVALID_REQUEST');
    expect(err(bad).message).toMatch(/^id: "Bad Id!" is not valid: use 1–63 lower-case letters/);
    expect(err(await call('/v1/tenants', { method: 'POST', json: { id: 'x', budget: 5 } })).message).toMatch(/unknown field "budget"/);
    expect(err(await call('/v1/tenants', { method: 'POST', json: { id: 'x', overBudget: 'panic' } })).message).toMatch(/overBudget: expected one of "throttle", "degrade"/);
    expect(errorCode(await call('/v1/tenants', { method: 'POST', body: '{nope', headers: { 'Content-Type': 'application/json' } }))).toBe('FARE_E_INVALID_JSON');
    expect((await call('/v1/tenants', { method: 'POST', json: { id: 'acme' } })).status).toBe(409);
  });

  it('only administrators create and list tenants; a tenant reads and sets only its own budget', async () => {
    expect((await call('/v1/tenants', { method: 'POST', as: acme, json: { id: 'x' } })).status).toBe(403);
    expect((await call('/v1/tenants', { as: acme })).status).toBe(403);
    expect(names(await call('/v1/tenants'), 'tenants', 'id')).toEqual(['acme', 'admin', 'zeta']);
    expect((await call('/v1/tenants/zeta', { as: acme })).status).toBe(403);
    const p = await call('/v1/tenants/acme', { method: 'PATCH', as: acme, json: { budgetMicroCents: 500, overBudget: 'throttle' } });
    expect(p).toMatchObject({ status: 200, body: { budgetMicroCents: 500, overBudget: 'throttle' } });
    expect((await call('/v1/tenants/zeta', { method: 'PATCH', as: acme, json: { budgetMicroCents: 0 } })).status).toBe(403);
    expect((await call('/v1/tenants/zeta', { method: 'PATCH', json: { budgetMicroCents: null } })).body).toMatchObject({ budgetMicroCents: null });
    expect((await call('/v1/tenants/acme/credentials', { method: 'POST', as: acme, json: { admin: true } })).status).toBe(403);
  });
});

describe('functions', () => {
  const put = (name: string, json: Record<string, unknown>, as: IssuedCredential = acme) => call(`/v1/functions/${name}`, { method: 'PUT', as, json });
  const zip64 = helloZip().toString('base64');

  it('deploys from JSON with zipBase64, then from a raw zip; each deploy is a version, code kept on disk', async () => {
    const created = await put('hello', { runtime: 'nodejs', handler: 'index.handler', class: 'high', env: { GREETING: 'hi' }, zipBase64: zip64 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant: 'acme', name: 'hello', arn: 'arn:aws:lambda:us-east-1:acme:function:hello', runtime: 'nodejs', class: 'high', timeoutMs: 3000, env: { GREETING: 'hi' }, version: 1, codeSize: helloZip().length });
    expect(created.body).not.toHaveProperty('codeDir');
    const codeDir = join(h.dir.path, 'code/acme/hello/1');
    expect(readFileSync(join(codeDir, 'index.js'), 'utf8')).toContain('exports.handler');

    const raw = writeZip([{ name: 'src/app.js', data: 'exports.main = () => 2;' }]);
    const updated = await call('/v1/functions/hello?handler=src/app.main&timeoutMs=5000', { method: 'PUT', as: acme, body: raw, headers: { 'Content-Type': 'application/zip' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, handler: 'src/app.main', timeoutMs: 5000, class: 'high', env: { GREETING: 'hi' } });
    expect(existsSync(join(h.dir.path, 'code/acme/hello/2/src/app.js'))).toBe(true);
  });

  it('idempotent: false by default, set by PUT (JSON or ?idempotent=), cleared by PATCH; anything but a boolean is refused', async () => {
    expect((await put('idem', { runtime: 'nodejs', handler: 'index.handler', zipBase64: zip64 })).body).toMatchObject({ idempotent: false });
    expect((await put('idem', { idempotent: true, zipBase64: zip64 })).body).toMatchObject({ idempotent: true, version: 2 });
    expect((await call('/v1/functions/idem', { method: 'PATCH', as: acme, json: { class: 'low' } })).body).toMatchObject({ idempotent: true, class: 'low' });
    expect((await call('/v1/functions/idem', { method: 'PATCH', as: acme, json: { idempotent: false } })).body).toMatchObject({ idempotent: false });
    const raw = await call('/v1/functions/idem?idempotent=true', { method: 'PUT', as: acme, body: helloZip(), headers: { 'Content-Type': 'application/zip' } });
    expect(raw.body).toMatchObject({ idempotent: true });
    expect(errorCode(await call('/v1/functions/idem?idempotent=yes', { method: 'PUT', as: acme, body: helloZip(), headers: { 'Content-Type': 'application/zip' } }))).toBe('FARE_E_INVALID_REQUEST');
    expect(errorCode(await put('idem', { idempotent: 'yes', zipBase64: zip64 }))).toBe('FARE_E_INVALID_REQUEST');
  });

  it('a concurrency limit: set and removed through /concurrency (no new version), shown on the function, checked', async () => {
    expect((await put('capped', { runtime: 'nodejs', handler: 'index.handler', zipBase64: zip64 })).body).toMatchObject({ reservedConcurrency: null, version: 1 });
    const set = await call('/v1/functions/capped/concurrency', { method: 'PUT', as: acme, json: { reserved: 4 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ name: 'capped', reservedConcurrency: 4, version: 1 });
    expect((await call('/v1/functions/capped', { as: acme })).body).toMatchObject({ reservedConcurrency: 4 });
    // A new version keeps it.
    expect((await call('/v1/functions/capped', { method: 'PATCH', as: acme, json: { class: 'low' } })).body).toMatchObject({ reservedConcurrency: 4, version: 2 });
    for (const reserved of [-1, 1.5, 100_001, '3']) expect(errorCode(await call('/v1/functions/capped/concurrency', { method: 'PUT', as: acme, json: { reserved } }))).toBe('FARE_E_INVALID_REQUEST');
    expect(errorCode(await call('/v1/functions/nope/concurrency', { method: 'PUT', as: acme, json: { reserved: 1 } }))).toBe('FARE_E_FUNCTION_NOT_FOUND');
    const cleared = await call('/v1/functions/capped/concurrency', { method: 'DELETE', as: acme });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ reservedConcurrency: null, version: 2 });
  });

  it('changes class or settings with PATCH (a new version, same code) and code with zipBase64', async () => {
    await put('hello', { runtime: 'nodejs', handler: 'index.handler', zipBase64: zip64 });
    const p = await call('/v1/functions/hello', { method: 'PATCH', as: acme, json: { class: 'low' } });
    expect(p.body).toMatchObject({ version: 2, class: 'low', handler: 'index.handler' });
    expect(h.store.functions.get('acme', 'hello')?.codeDir).toBe(join(h.dir.path, 'code/acme/hello/1'));
    const code = await call('/v1/functions/hello', { method: 'PATCH', as: acme, json: { zipBase64: helloZip([{ name: 'extra.txt', data: 'x' }]).toString('base64') } });
    expect(code.body).toMatchObject({ version: 3, class: 'low' });
    expect(errorCode(await call('/v1/functions/hello', { method: 'PATCH', as: acme, json: { handler: 'missing.handler' } }))).toBe('FARE_E_INVALID_REQUEST');
    expect((await call('/v1/functions/ghost', { method: 'PATCH', as: acme, json: { class: 'low' } })).status).toBe(404);
  });

  it('refuses an unknown class, a missing runtime, bad settings, listing what is allowed', async () => {
    const cls = await put('f', { runtime: 'nodejs', handler: 'index.handler', class: 'gold', zipBase64: zip64 });
    expect(cls.status).toBe(400);
    expect(err(cls)).toEqual({ code: 'FARE_E_UNKNOWN_CLASS', message: 'class: "gold" is not a price class: use one of high, middle, standard, low' });
    expect(err(await put('f', { handler: 'index.handler', zipBase64: zip64 })).message).toMatch(/needs a runtime/);
    expect(err(await put('f', { runtime: 'ruby', handler: 'index.handler', zipBase64: zip64 })).message).toMatch(/^runtime: expected one of "nodejs", "python", "provided"/);
    expect((await put('f', { runtime: 'nodejs', handler: 'index.handler', timeoutMs: 0, zipBase64: zip64 })).status).toBe(400);
    expect(err(await put('f', { runtime: 'nodejs', handler: 'index.handler', env: { AWS_LAMBDA_X: '1' }, zipBase64: zip64 })).message).toMatch(/reserved/);
    expect((await put('f', { runtime: 'nodejs', handler: '../x.handler', zipBase64: zip64 })).status).toBe(400);
    expect((await put('bad name', { runtime: 'nodejs', handler: 'index.handler', zipBase64: zip64 })).status).toBe(400);
    expect(h.store.functions.list('acme')).toEqual([]);
  });

  it('refuses a bad zip, and a zip whose handler file is missing', async () => {
    const notZip = await put('f', { runtime: 'nodejs', handler: 'index.handler', zipBase64: Buffer.from('hello world').toString('base64') });
    expect(notZip.status).toBe(400);
    expect(err(notZip).code).toBe('FARE_E_BAD_ZIP');
    const crc = await put('f', { runtime: 'nodejs', handler: 'index.handler', zipBase64: writeZip([{ name: 'index.js', data: 'x', crc: 7 }]).toString('base64') });
    expect(err(crc).code).toBe('FARE_E_BAD_ZIP');
    const missing = await put('f', { runtime: 'python', handler: 'app.main', zipBase64: zip64 });
    expect(err(missing).message).toMatch(/needs app\.py in the zip, which has index\.js/);
    expect(h.store.functions.list('acme')).toEqual([]);
    expect(readdirSync(join(h.dir.path, 'code/.staging'))).toEqual([]);
  });

  it('keeps a symbolic link that stays inside the code, and refuses one that leaves it, naming the entry', async () => {
    const ok = writeZip([{ name: 'lib/index.js', data: 'exports.handler = async () => 1;' }, { name: 'index.js', data: 'lib/index.js', mode: 0o120777 }]);
    const r = await call('/v1/functions/f?runtime=nodejs&handler=index.handler', { method: 'PUT', as: acme, body: ok, headers: { 'Content-Type': 'application/zip' } });
    expect(r.status).toBe(201);
    const dir = h.store.functions.get('acme', 'f')?.codeDir ?? '?';
    expect(readlinkSync(join(dir, 'index.js'))).toBe('lib/index.js');
    expect(readFileSync(join(dir, 'index.js'), 'utf8')).toBe('exports.handler = async () => 1;');
    const evil = writeZip([{ name: 'index.js', data: 'x' }, { name: 'secrets', data: '../../../../master.key', mode: 0o120777 }]);
    const bad = await call('/v1/functions/g?runtime=nodejs&handler=index.handler', { method: 'PUT', as: acme, body: evil, headers: { 'Content-Type': 'application/zip' } });
    expect(bad.status).toBe(400);
    expect(err(bad)).toMatchObject({ code: 'FARE_E_ZIP_UNSAFE_PATH', message: expect.stringMatching(/^zip entry "secrets" is a symbolic link to "..\/..\/..\/..\/master.key", which climbs out of the code with "..": zip the files it points to instead/) as unknown });
    expect(h.store.functions.get('acme', 'g')).toBeUndefined();
  });

  it('refuses a zip with a path-traversal entry and writes nothing outside the code directory', async () => {
    const evil = writeZip([{ name: 'index.js', data: 'x' }, { name: '../../../escaped.js', data: 'pwned' }]);
    const r = await call('/v1/functions/f?runtime=nodejs&handler=index.handler', { method: 'PUT', as: acme, body: evil, headers: { 'Content-Type': 'application/zip' } });
    expect(r.status).toBe(400);
    expect(err(r).code).toBe('FARE_E_ZIP_UNSAFE_PATH');
    expect(err(r).message).toContain('../../../escaped.js');
    expect(existsSync(join(h.dir.path, '..', 'escaped.js'))).toBe(false);
    expect(existsSync(join(h.dir.path, 'escaped.js'))).toBe(false);
    expect(h.store.functions.get('acme', 'f')).toBeUndefined();
  });

  it('refuses uploads past the limits, and other content types', async () => {
    const small = await startHarness({ limits: { uploadBodyBytes: 1000, unzippedBytes: 2000 } });
    try {
      const t = await small.tenant('t');
      const big = await fetch(`${small.url}/v1/functions/f?runtime=nodejs&handler=index.handler`, { method: 'PUT', headers: { ...small.bearer(t), 'Content-Type': 'application/zip' }, body: Buffer.alloc(5000) });
      expect(big.status).toBe(413);
      const bomb = writeZip([{ name: 'index.js', data: Buffer.alloc(5000) }]);
      expect(bomb.length).toBeLessThan(1000);
      const r = await fetch(`${small.url}/v1/functions/f?runtime=nodejs&handler=index.handler`, { method: 'PUT', headers: { ...small.bearer(t), 'Content-Type': 'application/zip' }, body: bomb });
      expect(r.status).toBe(413);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('FARE_E_ZIP_TOO_LARGE');
    } finally {
      await small.close();
    }
    expect((await call('/v1/functions/f', { method: 'PUT', as: acme, body: 'x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);
  });

  it('makes bootstrap executable for the provided runtime', async () => {
    const zip = writeZip([{ name: 'bootstrap', data: '#!/bin/sh\n', mode: 0o100644 }]);
    const r = await put('native', { runtime: 'provided', zipBase64: zip.toString('base64') });
    expect(r.body).toMatchObject({ runtime: 'provided', handler: 'bootstrap' });
    if (process.platform !== 'win32') expect(statSync(join(h.dir.path, 'code/acme/native/1/bootstrap')).mode & 0o111).not.toBe(0);
  });

  it('are listed, read and deleted per tenant; other tenants see none of it', async () => {
    await put('b', { runtime: 'nodejs', handler: 'index.handler', zipBase64: zip64 });
    await put('a', { runtime: 'nodejs', handler: 'index.handler', zipBase64: zip64 });
    expect(names(await call('/v1/functions', { as: acme }), 'functions', 'name')).toEqual(['a', 'b']);
    expect(field(await call('/v1/functions', { as: zeta }), 'functions')).toEqual([]);
    expect((await call('/v1/functions/a', { as: zeta })).status).toBe(404);
    expect((await call('/v1/functions/a?tenant=acme', { as: zeta })).status).toBe(403);
    expect((await call('/v1/functions/a?tenant=acme', { method: 'DELETE', as: zeta })).status).toBe(403);
    expect((await call('/v1/functions/a?tenant=acme')).status).toBe(200); // the administrator
    expect((await call('/v1/functions/a', { method: 'DELETE', as: acme })).status).toBe(204);
    expect((await call('/v1/functions/a', { as: acme })).status).toBe(404);
    expect((await call('/v1/functions/a', { method: 'DELETE', as: acme })).status).toBe(404);
    expect(existsSync(join(h.dir.path, 'code/acme/a'))).toBe(false);
  });
});

describe('grants', () => {
  it('the owner grants a function to another tenant, who can then invoke it; revoking ends that', async () => {
    await h.deploy(acme, 'hello');
    expect((await h.invoke(zeta, 'acme:function:hello')).status).toBe(403);
    const g = await call('/v1/grants', { method: 'POST', as: acme, json: { function: 'hello', grantee: 'zeta' } });
    expect(g).toMatchObject({ status: 201, body: { owner: 'acme', function: 'hello', grantee: 'zeta' } });
    expect((await h.invoke(zeta, 'acme:function:hello')).status).toBe(200);
    expect(field(await call('/v1/grants', { as: zeta }), 'grants')).toHaveLength(1);
    expect((await call('/v1/grants?function=hello&grantee=zeta', { method: 'DELETE', as: acme })).status).toBe(204);
    expect((await h.invoke(zeta, 'acme:function:hello')).status).toBe(403);
  });

  it('a tenant cannot grant what it does not own; grants name real functions and tenants', async () => {
    await h.deploy(acme, 'hello');
    expect((await call('/v1/grants', { method: 'POST', as: zeta, json: { owner: 'acme', function: 'hello', grantee: 'zeta' } })).status).toBe(403);
    expect((await call('/v1/grants', { method: 'POST', as: acme, json: { function: 'ghost', grantee: 'zeta' } })).status).toBe(404);
    expect((await call('/v1/grants', { method: 'POST', as: acme, json: { function: 'hello', grantee: 'nobody' } })).status).toBe(404);
    expect((await call('/v1/grants', { method: 'POST', json: { owner: 'acme', function: '*', grantee: 'zeta' } })).status).toBe(201);
    expect((await h.invoke(zeta, 'acme:function:hello')).status).toBe(200);
  });
});

describe('async invocations', () => {
  it('report queued, then the result once run; visible to the caller and the owner only', async () => {
    await h.deploy(acme, 'hello');
    h.store.grants.add('acme', 'hello', 'zeta');
    const r = await h.invoke(zeta, 'acme:function:hello', '{"n":7}', { 'X-Amz-Invocation-Type': 'Event' });
    const id = r.headers.get('x-amzn-requestid') ?? '';
    expect((await call(`/v1/invocations/${id}`, { as: zeta })).body).toMatchObject({ id, status: 'queued', attempts: 0, caller: 'zeta', tenant: 'acme', class: 'standard' });
    expect((await call(`/v1/invocations/${id}/result`, { as: zeta })).status).toBe(204);

    h.platform.respond = (req) => outcome({ payload: Buffer.from(JSON.stringify({ got: JSON.parse(req.payload.toString()) as unknown })) });
    const runner = new AsyncRunner({ store: h.store, platform: h.platform, clock: h.clock });
    runner.wake();
    await runner.idle();

    const done = await call(`/v1/invocations/${id}`, { as: acme });
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1, result: { got: { n: 7 } }, version: 1 });
    const raw = await fetch(`${h.url}/v1/invocations/${id}/result`, { headers: h.bearer(zeta) });
    expect(raw.headers.get('x-fare-status')).toBe('succeeded');
    expect(await raw.json()).toEqual({ got: { n: 7 } });
    const other = await h.tenant('other');
    expect((await call(`/v1/invocations/${id}`, { as: other })).status).toBe(404);
    expect((await call('/v1/invocations/nope', { as: acme })).status).toBe(404);
  });
});

describe('bills', () => {
  it('per function and class for a tenant, per tenant for administrators', async () => {
    await h.deploy(acme, 'a');
    await h.deploy(acme, 'b', { class: 'high' });
    await h.deploy(zeta, 'z');
    h.platform.respond = () => outcome({ cpuMs: 1000, memGBs: 1 });
    await h.invoke(acme, 'a');
    await h.invoke(acme, 'a');
    await h.invoke(acme, 'b');
    await h.invoke(zeta, 'z');
    const month = new Date(h.clock()).toISOString().slice(0, 7);

    const mine = await call(`/v1/bill?month=${month}`, { as: acme });
    expect(mine.body).toMatchObject({
      tenant: 'acme',
      month,
      invocations: 3,
      costMicroCents: 1 + 0.25 + (1 + 0.25) + (2 + 0.25),
      budgetState: 'ok',
      functions: [
        { function: 'a', invocations: 2, costMicroCents: 2.5, classes: [{ cls: 'standard', invocations: 2 }] },
        { function: 'b', invocations: 1, costMicroCents: 2.25, classes: [{ cls: 'high', invocations: 1 }] },
      ],
    });
    expect((await call('/v1/bill?tenant=acme', { as: zeta })).status).toBe(403);
    expect((await call('/v1/bill?month=2025-13', { as: acme })).status).toBe(400);
    expect(field(await call('/v1/bill?tenant=acme'), 'invocations')).toBe(3);

    const all = await call(`/v1/bills?month=${month}`);
    expect(all.body).toMatchObject({ month, invocations: 4, tenants: [{ tenant: 'acme', invocations: 3 }, { tenant: 'zeta', invocations: 1, costMicroCents: 1.25 }] });
    expect((await call('/v1/bills', { as: acme })).status).toBe(403);
    expect((await call('/v1/usage', { as: acme })).body).toMatchObject({ tenant: 'acme', months: [{ month, invocations: 3 }] });
  });
});
