// The API description (OpenAPI 3.1) of both faces of the gateway, built from the route tables'
// schemas — the same ones that validate requests and check answers — so it cannot drift from what
// the gateway does. Served at GET /openapi.json, printed by `fare openapi`, kept in docs/openapi.json.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { INVOKE_DOC, STREAM_INVOKE_DOC } from './lambda-api.ts';
import type { Answers, Route } from './rest.ts';
import { jsonSchema, z } from './schema.ts';

type Json = Record<string, unknown>;

/**
 * JSON Schemas of zod schemas for one document: a schema with an id (`.meta({ id })`) is written
 * once under components/schemas and referred to; safe-integer bounds (what `z.int()` adds) are left out.
 */
class Schemas {
  readonly components: Record<string, Json> = {};

  of(schema: z.ZodType, io: 'input' | 'output'): Json {
    const { $defs, ...root } = jsonSchema(schema, io) as Json & { $defs?: Record<string, Json> };
    const renamed = new Map<string, string>();
    for (const [id, def] of Object.entries($defs ?? {})) {
      const clean = tidy(def) as Json;
      // The same id read as input and as output can differ (transforms): keep both.
      const key = this.components[id] === undefined || same(this.components[id], clean) ? id : `${id}Input`;
      this.components[key] = clean;
      renamed.set(id, key);
    }
    return rewrite(tidy(root), renamed) as Json;
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function tidy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(tidy);
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    if ((k === 'minimum' && x === Number.MIN_SAFE_INTEGER) || (k === 'maximum' && x === Number.MAX_SAFE_INTEGER)) continue;
    out[k] = tidy(x);
  }
  return out;
}

function rewrite(v: unknown, renamed: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(v)) return v.map((x) => rewrite(x, renamed));
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? `#/components/schemas/${renamed.get(x.slice(8)) ?? x.slice(8)}` : rewrite(x, renamed);
  }
  return out;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
  400: 'The request is not valid: the message says which field and what to send',
  401: 'Not authenticated',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  412: 'The revision id does not match',
  413: 'Too large',
  415: 'Unsupported media type',
  429: 'Throttled: budget, or authentication failures',
};

function answers(schemas: Schemas, a: Answers): Json {
  const out: Json = {};
  for (const [status, answer] of Object.entries(a)) {
    const description = STATUS_TEXT[Number(status)] ?? 'Answer';
    if (!('kind' in answer)) out[status] = { description, content: { 'application/json': { schema: schemas.of(answer, 'output') } } };
    else if (answer.kind === 'empty') out[status] = { description };
    else out[status] = { description: answer.description, content: { [answer.mediaType]: {} } };
  }
  return out;
}

const param = (schemas: Schemas, name: string, where: 'path' | 'query' | 'header', schema: z.ZodType | undefined): Json => ({
  name,
  in: where,
  required: where === 'path',
  schema: schema === undefined ? { type: 'string' } : schemas.of(schema, 'input'),
  ...(schema?.description !== undefined ? { description: schema.description } : {}),
});

function operation(schemas: Schemas, r: Route, tag: 'Fare' | 'Lambda'): Json {
  const s = r.spec;
  const parameters: Json[] = r.names.map((name) => param(schemas, name, 'path', (s.params as Record<string, z.ZodType> | undefined)?.[name]));
  for (const [name, schema] of Object.entries(s.query ?? {})) parameters.push(param(schemas, name, 'query', schema));
  const content: Json = {};
  if (s.request !== undefined) content['application/json'] = { schema: schemas.of(s.request, 'input') };
  if (s.altBody !== undefined) content[s.altBody.mediaType] = { schema: { type: 'string', format: 'binary', description: s.altBody.description } };
  return {
    operationId: `${tag.toLowerCase()}.${s.operation}`,
    tags: [tag],
    summary: s.summary,
    ...(s.who !== undefined ? { description: `Who: ${s.who}.` } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(Object.keys(content).length > 0 ? { requestBody: { required: s.emptyBody !== true && s.altBody === undefined, content } } : {}),
    responses: answers(schemas, s.answers),
  };
}

function invokeOperation(schemas: Schemas, d: typeof INVOKE_DOC | typeof STREAM_INVOKE_DOC): Json {
  return {
    operationId: `lambda.${d.operation}`,
    tags: ['Lambda'],
    summary: d.summary,
    parameters: [
      param(schemas, 'FunctionName', 'path', undefined),
      ...Object.entries(d.query).map(([n, sc]) => param(schemas, n, 'query', sc)),
      ...Object.entries(d.headers).map(([n, sc]) => param(schemas, n, 'header', sc)),
    ],
    requestBody: { required: false, content: { 'application/json': { schema: schemas.of(d.payload, 'input') } } },
    responses: answers(schemas, d.answers),
  };
}

/** Fare's version (package.json; the same relative place from src/ and from the compiled dist/). */
export const fareVersion = (): string => (JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

export interface ApiTables {
  readonly fare: readonly Route[];
  readonly lambda: readonly Route[];
}

/** The OpenAPI document of the gateway. */
export function openApiDocument(tables: ApiTables, version = fareVersion()): Json {
  const schemas = new Schemas();
  const paths: Record<string, Json> = {};
  const add = (path: string, method: string, op: Json): void => {
    paths[path] = { ...paths[path], [method.toLowerCase()]: op };
  };
  for (const r of tables.fare) add(r.path, r.method, operation(schemas, r, 'Fare'));
  for (const r of tables.lambda) add(r.path, r.method, operation(schemas, r, 'Lambda'));
  add(INVOKE_DOC.path, 'POST', invokeOperation(schemas, INVOKE_DOC));
  add(STREAM_INVOKE_DOC.path, 'POST', invokeOperation(schemas, STREAM_INVOKE_DOC));
  add('/healthz', 'GET', { operationId: 'fare.Health', tags: ['Fare'], summary: 'Whether the gateway and its database answer', security: [], responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { status: { const: 'ok' } }, required: ['status'] } } } } } });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Fare',
      version,
      description:
        "Fare's gateway: Fare's REST API under /v1/ (tenants, functions, grants, logs, invocations, bills) and the parts of AWS Lambda's API Fare implements (Invoke and the control plane: functions, versions, aliases, tags, function URLs, account settings). Errors: Fare's API answers {\"error\": {\"code\", \"message\"}}; Lambda's answers {\"Type\", \"Message\"} with the exception in X-Amzn-ErrorType, as AWS SDKs expect.",
    },
    tags: [
      { name: 'Fare', description: "Fare's REST API" },
      { name: 'Lambda', description: "AWS Lambda's API (2015-03-31 and later paths), with Lambda's shapes and error types" },
    ],
    components: {
      schemas: Object.fromEntries(Object.entries(schemas.components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer ACCESS_KEY_ID:SECRET' },
        sigv4: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'AWS Signature Version 4 (service lambda or fare), as the AWS SDKs and CLI sign' },
      },
    },
    security: [{ bearer: [] }, { sigv4: [] }],
    paths,
  };
}
