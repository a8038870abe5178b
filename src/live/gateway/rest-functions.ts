// /v1/functions: deploy from a zip (JSON with `zipBase64`, or the raw zip with the settings as query
// parameters), change code or settings (each change is a new version), read, list, delete. The zip
// is checked whole (paths, sizes, CRCs) and the handler's file must be in it before anything is
// written; the code is staged and moved into place with the database row, and so is the zip itself,
// kept as uploaded (GetFunction's code location answers it: its hash is CodeSha256).

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { classIndex } from '../../core/classes.ts';
import { MAX_RESERVED_CONCURRENCY, stageCode, stageZip, StoreError, type CodeFile, type FunctionConfig, type FunctionRecord } from '../store/index.ts';
import type { RuntimeName } from '../types.ts';
import { actingTenant } from './context.ts';
import { ApiError, badRequest, notFound, tooLarge } from './errors.ts';
import { header } from './http.ts';
import { EMPTY, route, validated, type RestRequest, type Route } from './rest.ts';
import { ENV, FARE_ERROR, FUNCTION_NAME, HANDLER, RUNTIME, TENANT_ID, TIMEOUT_MS, bool, checkEnv, fails, int, object, parse, queryBool, queryInt, str, z } from './schema.ts';
import { sha256Hex } from './sigv4.ts';
import { FUNCTION, functionView } from './views.ts';
import { readZip, ZipError, type ZipEntry } from './zip.ts';

export const DEFAULT_CLASS = 'standard';
const DEFAULT_TIMEOUT_MS = 3000;

export interface Settings {
  readonly runtime?: RuntimeName;
  readonly handler?: string;
  readonly cls?: string;
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
  readonly idempotent?: boolean;
}

const HANDLER_TEXT = str({ min: 1, max: 128, description: 'file.function, for example index.handler (provided: bootstrap)' });
const CLASS = str({ min: 1, max: 32, description: 'The price class (default: standard)' });
const IDEMPOTENT = 'Safe to run twice: a synchronous call whose worker is lost (a cluster\'s) is run again, up to three runs, instead of failing (default false)';

const SETTINGS_JSON = object({
  idempotent: bool().optional().describe(IDEMPOTENT),
  runtime: RUNTIME.optional(),
  handler: HANDLER_TEXT.optional(),
  class: CLASS.optional(),
  timeoutMs: TIMEOUT_MS.optional(),
  env: ENV.optional(),
  zipBase64: str({ min: 1, description: 'The zip, base64' }).optional(),
});

/** The settings as query parameters, for a raw zip body. */
const SETTINGS_QUERY = {
  runtime: RUNTIME,
  handler: HANDLER_TEXT,
  class: CLASS,
  timeoutMs: queryInt({ min: 1, max: 900_000, description: 'Timeout in milliseconds' }),
  env: z
    .string()
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        fails(ctx, 'is not JSON: give the environment as a URL-encoded JSON object of strings');
        return z.NEVER;
      }
    })
    .pipe(ENV)
    .describe('The environment as a JSON object of strings'),
  idempotent: queryBool().describe(IDEMPOTENT),
} as const;

/** `?tenant=`: administrators act on another tenant's functions. */
const TENANT_QUERY = { tenant: TENANT_ID.describe("Administrators: the tenant whose function it is (default: the caller's)") } as const;
const NAME_PARAM = { name: FUNCTION_NAME } as const;
const ERRORS = { 400: FARE_ERROR, 403: FARE_ERROR, 404: FARE_ERROR } as const;
/** The other body a deploy takes. */
const RAW_ZIP = { mediaType: 'application/zip', description: 'The zip itself, with the settings as query parameters' } as const;

function settingsOf(p: { runtime?: RuntimeName | undefined; handler?: string | undefined; class?: string | undefined; timeoutMs?: number | undefined; env?: Record<string, string> | undefined; idempotent?: boolean | undefined }): Settings {
  return {
    ...(p.idempotent !== undefined ? { idempotent: p.idempotent } : {}),
    ...(p.runtime !== undefined ? { runtime: p.runtime } : {}),
    ...(p.handler !== undefined ? { handler: p.handler } : {}),
    ...(p.class !== undefined ? { cls: p.class } : {}),
    ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}),
    ...(p.env !== undefined ? { env: p.env } : {}),
  };
}

type UploadQuery = { readonly [K in keyof typeof SETTINGS_QUERY]: z.output<(typeof SETTINGS_QUERY)[K]> | undefined };

/** The body of a deploy: JSON with `zipBase64`, or a raw zip with the settings in the query. */
function parseUpload(r: RestRequest & { readonly query: UploadQuery; json(): z.output<typeof SETTINGS_JSON> }): { settings: Settings; zip?: Buffer } {
  const type = (header(r.req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const isZip = type === 'application/zip' || type === 'application/x-zip-compressed' || type === 'application/octet-stream' || (type === '' && r.body.subarray(0, 2).toString('latin1') === 'PK');
  if (isZip) return { settings: settingsOf(r.query), zip: r.body };
  if (type !== '' && type !== 'application/json') {
    throw new ApiError({
      status: 415,
      code: 'FARE_E_UNSUPPORTED_MEDIA_TYPE',
      message: `Content-Type ${type} is not accepted here: send application/json (with zipBase64) or application/zip (with settings as query parameters)`,
      lambdaType: 'UnsupportedMediaTypeException',
    });
  }
  const p = r.json();
  const settings = settingsOf(p);
  if (p.zipBase64 === undefined) return { settings };
  if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(p.zipBase64)) throw badRequest('FARE_E_BAD_ZIP', 'zipBase64 is not base64: encode the zip file with standard base64');
  return { settings, zip: Buffer.from(p.zipBase64, 'base64') };
}

/** Settings of the new version: given ones over current ones over defaults; checked against the price table. */
export function resolveConfig(r: RestRequest, s: Settings, cur: FunctionRecord | undefined): FunctionConfig {
  const runtime = s.runtime ?? cur?.runtime;
  if (runtime === undefined) throw badRequest('FARE_E_INVALID_REQUEST', 'runtime: a new function needs a runtime: nodejs, python or provided');
  let handler = s.handler ?? (s.runtime === undefined || s.runtime === cur?.runtime ? cur?.handler : undefined);
  if (handler === undefined && runtime === 'provided') handler = 'bootstrap';
  if (handler === undefined && cur !== undefined && s.runtime !== undefined && s.runtime !== cur.runtime) {
    // A handler names a file of its runtime's language: it does not carry over to another runtime.
    throw badRequest('FARE_E_INVALID_REQUEST', `handler: the runtime changes from ${cur.runtime} to ${s.runtime}, and ${cur.runtime}'s handler (${cur.handler}) does not carry over: give the handler for ${s.runtime} too (Handler in the Lambda API), as file.function, for example ${s.runtime === 'python' ? 'app.handler' : 'index.handler'}, with the code that has it`);
  }
  if (handler === undefined) throw badRequest('FARE_E_INVALID_REQUEST', 'handler: give the handler as file.function, for example index.handler');
  if (runtime !== 'provided') validated(() => parse(HANDLER, handler, 'handler'));
  const prices = r.ctx.platform.prices;
  const cls = s.cls ?? cur?.cls ?? (classIndex(prices, DEFAULT_CLASS) !== undefined ? DEFAULT_CLASS : undefined);
  const names = prices.classes.map((c) => c.name).join(', ');
  if (cls === undefined) throw badRequest('FARE_E_UNKNOWN_CLASS', `class: give the function's price class, one of ${names}`);
  if (classIndex(prices, cls) === undefined) throw badRequest('FARE_E_UNKNOWN_CLASS', `class: ${JSON.stringify(cls)} is not a price class: use one of ${names}`);
  const env = validated(() => checkEnv(s.env ?? cur?.env ?? {}));
  const idempotent = s.idempotent ?? cur?.idempotent ?? false;
  return { runtime, handler, cls, timeoutMs: s.timeoutMs ?? cur?.timeoutMs ?? DEFAULT_TIMEOUT_MS, env, idempotent };
}

/** The files a handler needs: `index.handler` → index.js/.mjs/.cjs; `app.main` → app.py; provided → bootstrap. */
export function handlerFiles(runtime: RuntimeName, handler: string): string[] {
  const base = handler.slice(0, handler.lastIndexOf('.'));
  switch (runtime) {
    case 'nodejs':
      return [`${base}.js`, `${base}.mjs`, `${base}.cjs`];
    case 'python':
      return [`${base}.py`, `${base.replace(/\./g, '/')}.py`];
    case 'provided':
      return ['bootstrap'];
    default: {
      const never: never = runtime;
      throw new Error(`unknown runtime ${String(never)}`);
    }
  }
}

export function checkHandlerPresent(cfg: FunctionConfig, exists: (path: string) => boolean, listing: () => string[]): void {
  const files = handlerFiles(cfg.runtime, cfg.handler);
  if (files.some(exists)) return;
  const have = listing();
  throw badRequest(
    'FARE_E_INVALID_REQUEST',
    `handler ${cfg.handler} (${cfg.runtime}) needs ${[...new Set(files)].join(' or ')} in the zip, which has ${have.length === 0 ? 'no files' : `${have.slice(0, 10).join(', ')}${have.length > 10 ? ', …' : ''}`}: fix the handler or the zip's layout (files at the zip's root, not in a folder)`,
  );
}

function zipFailure(e: unknown): never {
  if (e instanceof ZipError) {
    if (e.code === 'FARE_E_ZIP_TOO_LARGE') throw tooLarge('FARE_E_ZIP_TOO_LARGE', e.message);
    throw badRequest(e.code, e.message);
  }
  if (e instanceof StoreError && e.code === 'FARE_E_CODE_PATH') throw badRequest('FARE_E_ZIP_UNSAFE_PATH', e.message);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
    throw badRequest('FARE_E_BAD_ZIP', `the zip has entries that collide (a file and a folder of the same name, or one file twice): ${(e as Error).message}`);
  }
  throw e;
}

/** Checks the zip, stages it, and commits it with the new version's row. */
export async function deployZip(r: RestRequest, tenant: string, name: string, cfg: FunctionConfig, zip: Buffer, opts: { createOnly?: boolean; dryRun?: boolean } = {}): Promise<{ record: FunctionRecord; created: boolean } | undefined> {
  let entries: ZipEntry[];
  try {
    entries = await readZip(zip, { maxEntries: r.ctx.limits.zipEntries, maxUnzippedBytes: r.ctx.limits.unzippedBytes });
  } catch (e) {
    zipFailure(e);
  }
  const paths = new Set(entries.filter((e) => !e.isDir).map((e) => e.path));
  checkHandlerPresent(cfg, (p) => paths.has(p), () => [...paths].sort());
  if (opts.dryRun === true) return undefined;
  const files: CodeFile[] = cfg.runtime === 'provided' ? entries.map((e) => (e.path === 'bootstrap' ? { ...e, mode: 0o755 } : e)) : entries;
  let staged: string;
  try {
    staged = await stageCode(r.ctx.store.dataDir, files);
  } catch (e) {
    zipFailure(e);
  }
  let stagedZip: string | undefined;
  try {
    stagedZip = await stageZip(r.ctx.store.dataDir, zip);
    return r.ctx.store.functions.deploy(tenant, name, cfg, { stagedDir: staged, sha256: sha256Hex(zip), size: zip.length, stagedZip }, opts);
  } catch (e) {
    await rm(staged, { recursive: true, force: true });
    if (stagedZip !== undefined) await rm(stagedZip, { force: true });
    if (e instanceof StoreError && e.code === 'FARE_E_FUNCTION_EXISTS') {
      throw new ApiError({ status: 409, code: 'FARE_E_FUNCTION_EXISTS', message: `Function already exist: ${name} (tenant ${tenant}): update it (UpdateFunctionCode, UpdateFunctionConfiguration) or delete it first`, lambdaType: 'ResourceConflictException' });
    }
    throw e;
  }
}

const owner = (r: RestRequest & { readonly query: { readonly tenant?: string | undefined } }): string => actingTenant(r.principal, r.query.tenant);

export const functionRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/v1/functions',
    operation: 'ListFunctions',
    summary: "The tenant's functions",
    who: 'the owner',
    query: TENANT_QUERY,
    answers: { 200: z.strictObject({ functions: z.array(FUNCTION) }), ...ERRORS },
    handle: (r) => r.reply(200, { functions: r.ctx.store.functions.list(owner(r)).map((f) => functionView(f, r.ctx.region)) }),
  }),
  route({
    method: 'PUT',
    path: '/v1/functions/{name}',
    operation: 'PutFunction',
    summary: "Creates a function (201) or replaces its code (200); fields left out keep their values. The handler's file must be in the zip",
    who: 'the owner',
    params: NAME_PARAM,
    query: { ...TENANT_QUERY, ...SETTINGS_QUERY },
    request: SETTINGS_JSON,
    altBody: RAW_ZIP,
    body: 'upload',
    answers: { 200: FUNCTION, 201: FUNCTION, 409: FARE_ERROR, 413: FARE_ERROR, 415: FARE_ERROR, ...ERRORS },
    handle: async (r) => {
      const { name } = r.path;
      const tenant = owner(r);
      const { settings, zip } = parseUpload(r);
      if (zip === undefined) throw badRequest('FARE_E_BAD_ZIP', 'no code: send zipBase64 in the JSON body, or the zip itself with Content-Type: application/zip');
      const cur = r.ctx.store.functions.get(tenant, name);
      const cfg = resolveConfig(r, settings, cur);
      const { record, created } = (await deployZip(r, tenant, name, cfg, zip)) as { record: FunctionRecord; created: boolean };
      r.ctx.platform.functionChanged?.(tenant, name, record.version);
      r.reply(created ? 201 : 200, functionView(record, r.ctx.region));
    },
  }),
  route({
    method: 'PATCH',
    path: '/v1/functions/{name}',
    operation: 'UpdateFunction',
    summary: 'Changes settings or code: a new version. Fields left out keep their values (env, if given, replaces the whole map)',
    who: 'the owner',
    params: NAME_PARAM,
    query: { ...TENANT_QUERY, ...SETTINGS_QUERY },
    request: SETTINGS_JSON,
    altBody: RAW_ZIP,
    body: 'upload',
    answers: { 200: FUNCTION, 413: FARE_ERROR, 415: FARE_ERROR, ...ERRORS },
    handle: async (r) => {
      const { name } = r.path;
      const tenant = owner(r);
      const { settings, zip } = parseUpload(r);
      const cur = r.ctx.store.functions.get(tenant, name);
      if (cur === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}: create it with PUT /v1/functions/${name}`);
      const cfg = resolveConfig(r, settings, cur);
      if (zip !== undefined) {
        const { record } = (await deployZip(r, tenant, name, cfg, zip)) as { record: FunctionRecord };
        r.ctx.platform.functionChanged?.(tenant, name, record.version);
        r.reply(200, functionView(record, r.ctx.region));
        return;
      }
      checkHandlerPresent(cfg, (p) => existsSync(join(cur.codeDir, p)), () => []);
      const record = r.ctx.store.functions.update(tenant, name, cfg);
      if (record === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}`);
      r.ctx.platform.functionChanged?.(tenant, name, record.version);
      r.reply(200, functionView(record, r.ctx.region));
    },
  }),
  route({
    method: 'GET',
    path: '/v1/functions/{name}',
    operation: 'GetFunction',
    summary: 'A function',
    who: 'the owner',
    params: NAME_PARAM,
    query: TENANT_QUERY,
    answers: { 200: FUNCTION, ...ERRORS },
    handle: (r) => {
      const { name } = r.path;
      const tenant = owner(r);
      const f = r.ctx.store.functions.get(tenant, name);
      if (f === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}: GET /v1/functions lists them`);
      r.reply(200, functionView(f, r.ctx.region));
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/functions/{name}',
    operation: 'DeleteFunction',
    summary: 'Deletes a function: its code, grants and logs go too',
    who: 'the owner',
    params: NAME_PARAM,
    query: TENANT_QUERY,
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const { name } = r.path;
      const tenant = owner(r);
      if (!r.ctx.store.functions.delete(tenant, name)) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}`);
      r.ctx.platform.functionChanged?.(tenant, name, null);
      r.reply(204);
    },
  }),
  route({
    method: 'PUT',
    path: '/v1/functions/{name}/concurrency',
    operation: 'PutFunctionConcurrency',
    summary: "Limits the function to this many invocations at once, over all its versions (Lambda's reserved concurrency; 0: none runs). A call past it is answered 429 FARE_E_CONCURRENCY_LIMIT; an Event waits. Not a new version",
    who: 'the owner',
    params: NAME_PARAM,
    query: TENANT_QUERY,
    request: object({ reserved: int({ min: 0, max: MAX_RESERVED_CONCURRENCY, description: 'At most this many invocations at once (0: none runs)' }) }),
    answers: { 200: FUNCTION, ...ERRORS },
    handle: (r) => r.reply(200, functionView(setLimit(r, r.json().reserved), r.ctx.region)),
  }),
  route({
    method: 'DELETE',
    path: '/v1/functions/{name}/concurrency',
    operation: 'DeleteFunctionConcurrency',
    summary: 'Removes the limit: the function has no concurrency limit of its own',
    who: 'the owner',
    params: NAME_PARAM,
    query: TENANT_QUERY,
    answers: { 200: FUNCTION, ...ERRORS },
    handle: (r) => r.reply(200, functionView(setLimit(r, null), r.ctx.region)),
  }),
];

/** Sets (or with null removes) the function's concurrency limit; returns the function, or 404. */
function setLimit(r: RestRequest & { readonly path: { readonly name: string }; readonly query: { readonly tenant?: string | undefined } }, limit: number | null): FunctionRecord {
  const { name } = r.path;
  const tenant = owner(r);
  if (!r.ctx.store.functions.setConcurrency(tenant, name, limit)) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `tenant ${tenant} has no function ${name}: GET /v1/functions lists them`);
  return r.ctx.store.functions.get(tenant, name) as FunctionRecord;
}

export { NAME_PARAM, TENANT_QUERY, owner };
