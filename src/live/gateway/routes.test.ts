// The route tables' declarations: validated path and query, typed bodies, answers checked against
// their schemas (the harness turns the check on, so every gateway test checks its answers), and the
// API description built from the same schemas.

import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import { sendFareError } from './http.ts';
import { openApiDocument } from './openapi.ts';
import { dispatchRest, EMPTY, route } from './rest.ts';
import { FARE_ERROR, int, object, queryInt, str, z } from './schema.ts';
import { API_TABLES } from './server.ts';
import { startHarness, type Harness } from './testing.ts';

let h: Harness;
let server: Server;
let base: string;

const ROUTES = [
  route({
    method: 'POST',
    path: '/t/things/{name}',
    operation: 'MakeThing',
    summary: 'test',
    params: { name: str({ min: 1, max: 5, pattern: /^[a-z]+$/, hint: 'use letters' }) },
    query: { n: queryInt({ min: 1, max: 3 }) },
    request: object({ size: int({ min: 0 }) }),
    answers: { 201: z.strictObject({ name: z.string(), size: z.int(), n: z.int().optional() }), 400: FARE_ERROR },
    handle: (r) => {
      const { size } = r.json();
      r.reply(201, { name: r.path.name, size, ...(r.query.n !== undefined ? { n: r.query.n } : {}) });
    },
  }),
  route({
    method: 'GET',
    path: '/t/broken',
    operation: 'Broken',
    summary: 'answers what its schema does not allow',
    answers: { 200: z.strictObject({ ok: z.boolean() }), 204: EMPTY },
    // Typed as the schema's input: the test sends an answer the compiler would refuse.
    handle: (r) => r.reply(200, { ok: 'yes' } as unknown as { ok: boolean }),
  }),
];

beforeAll(async () => {
  h = await startHarness();
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    dispatchRest(h.gateway.context, ROUTES, req, res, url).catch((e: unknown) => {
      sendFareError(res, e instanceof ApiError ? e : new ApiError({ status: 500, code: 'FARE_E_INTERNAL', message: String(e), lambdaType: 'ServiceException' }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await h.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { ...h.bearer(h.admin), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as never };
}

describe('a declared route', () => {
  it('validates its path parameters, query and body before and as the handler uses them', async () => {
    expect(await post('/t/things/abc?n=2', { size: 4 })).toEqual({ status: 201, body: { name: 'abc', size: 4, n: 2 } });
    const badName = await post('/t/things/ABC', { size: 4 });
    expect([badName.status, badName.body.error?.message]).toEqual([400, 'name: "ABC" is not valid: use letters']);
    const badQuery = await post('/t/things/abc?n=9', { size: 4 });
    expect(badQuery.body.error?.message).toBe('?n: expected a number from 1 to 3, got 9');
    const badBody = await post('/t/things/abc', { size: -1, colour: 'red' });
    expect(badBody.body.error).toEqual({ code: 'FARE_E_INVALID_REQUEST', message: 'unknown field "colour": the fields are size (and 1 more problem)' });
  });

  it('refuses to send an answer that does not fit its schema (the harness checks every answer)', async () => {
    const res = await fetch(`${base}/t/broken`, { headers: h.bearer(h.admin) });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^the 200 answer of Broken does not fit its schema: ok: /);
  });
});

describe('the API description', () => {
  const doc = openApiDocument(API_TABLES) as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown>; requestBody?: unknown }>> };

  it('has every route of both tables, each with a unique operation id and its answers', () => {
    expect(doc.openapi).toBe('3.1.0');
    const ids: string[] = [];
    for (const r of [...API_TABLES.fare, ...API_TABLES.lambda]) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(Object.keys(op?.responses ?? {}).length).toBeGreaterThan(0);
      if (r.spec.request !== undefined) expect(op?.requestBody, `${r.method} ${r.path}`).toBeDefined();
      ids.push(op?.operationId ?? '');
    }
    ids.push(doc.paths['/2015-03-31/functions/{FunctionName}/invocations']?.post?.operationId ?? '');
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('lambda.Invoke');
    expect(ids).toContain('lambda.CreateFunction');
    expect(ids).toContain('fare.CreateTenant');
  });

  it('describes bodies with the schemas that validate them', () => {
    const create = doc.paths['/v1/tenants']?.post as unknown as { requestBody: { content: { 'application/json': { schema: { properties: Record<string, { pattern?: string }>; required: string[]; additionalProperties: boolean } } } } };
    const schema = create.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['id']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.id?.pattern).toBe('^[a-z0-9][a-z0-9-]*$');
  });

  it('is served at /openapi.json, and docs/openapi.json is up to date (else: npx fare openapi > docs/openapi.json)', async () => {
    const res = await fetch(`${h.url}/openapi.json`);
    expect(res.status).toBe(200);
    const served = (await res.json());
    expect(served).toEqual(JSON.parse(JSON.stringify(doc)));
    const kept = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../docs/openapi.json'), 'utf8')) as unknown;
    expect(kept, 'docs/openapi.json is stale: run npx fare openapi > docs/openapi.json').toEqual(served);
  });
});
