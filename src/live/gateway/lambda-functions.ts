// Lambda's control plane for functions (API version 2015-03-31): CreateFunction, GetFunction,
// GetFunctionConfiguration, ListFunctions, UpdateFunctionCode, UpdateFunctionConfiguration,
// DeleteFunction, PublishVersion and ListVersionsByFunction, over Fare's store, with Lambda's shapes
// and error types, so the AWS SDKs and CLI (and the tools built on them) deploy to Fare. Each is a
// route declared with its schemas (request members Fare refuses say why, as Lambda errors). The price
// class is Fare's field `FareClass` or the tag `fare:class`; `MemorySize` is kept and reported only
// (Fare bills memory by use and sets no limit). Code comes as `ZipFile` only.

import { classIndex } from '../../core/classes.ts';
import { isVersionNumber, LATEST, type FunctionConfig, type FunctionRecord, type LambdaSettings } from '../store/index.ts';
import type { RuntimeName } from '../types.ts';
import { actingTenant, functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { header } from './http.ts';
import { CLASS_TAG, codeLocationPath, fareRuntimeOf, FUNCTION_CONFIGURATION, functionConfiguration, GET_FUNCTION, LAMBDA_RUNTIMES, LIST_FUNCTIONS, LIST_VERSIONS, page } from './lambda-shapes.ts';
import { parseFunctionRef } from './function-ref.ts';
import { EMPTY, route, type RestRequest, type Route } from './rest.ts';
import { checkHandlerPresent, deployZip, resolveConfig } from './rest-functions.ts';
import { bool, ENV, fails, int, LAMBDA_ERROR, object, queryInt, show, str, stringMap, z } from './schema.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The function a request names (path or body): its owner (the caller, or an administrator's choice by ARN), name and qualifier. */
export interface Named {
  readonly tenant: string;
  readonly name: string;
  readonly qualifier?: string;
}

export function namedFunction(r: RestRequest, text: string | undefined, qualifier: 'allowed' | 'refused' = 'allowed'): Named {
  const ref = text === undefined ? undefined : parseFunctionRef(text);
  if (ref === undefined) {
    throw badRequest('FARE_E_INVALID_REQUEST', `1 validation error detected: Value '${text ?? ''}' at 'functionName' failed to satisfy constraint: give a function name (1–64 letters, digits, - or _), name:qualifier, or arn:aws:lambda:REGION:TENANT:function:NAME`);
  }
  const tenant = actingTenant(r.principal, ref.owner);
  const q = r.url.searchParams.get('Qualifier') ?? undefined;
  if (q !== undefined && ref.qualifier !== undefined && q !== ref.qualifier) {
    throw badRequest('FARE_E_INVALID_REQUEST', `The derived qualifier from the function name does not match the specified qualifier: ${ref.qualifier} in the name, ${q} in ?Qualifier=; give one of them`);
  }
  const qual = q ?? ref.qualifier;
  if (qual !== undefined && qualifier === 'refused') {
    throw badRequest('FARE_E_INVALID_REQUEST', `this operation acts on the function itself ($LATEST): leave out the qualifier ${JSON.stringify(qual)}`);
  }
  return { tenant, name: ref.name, ...(qual !== undefined ? { qualifier: qual } : {}) };
}

/** `$LATEST` of the named function, or 404 as Lambda words it. */
export function latestOf(r: RestRequest, n: Named): FunctionRecord {
  const fn = r.ctx.store.functions.get(n.tenant, n.name);
  if (fn === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name)}`);
  return fn;
}

/** The record a qualified name names (a published version, an alias's target, `$LATEST`), or 404. */
function qualifiedOf(r: RestRequest, n: Named, latest = latestOf(r, n)): FunctionRecord {
  const got = r.ctx.store.versions.resolve(n.tenant, n.name, n.qualifier, () => latest);
  if (got === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name, n.qualifier)}`);
  return got.fn;
}

export function checkRevision(given: string | undefined, current: string, what: string): void {
  if (given !== undefined && given !== current) {
    throw new ApiError({
      status: 412,
      code: 'FARE_E_REVISION_MISMATCH',
      message: `The Revision Id provided does not match the latest Revision Id of ${what} (${current}). Call GetFunction/GetAlias to get the latest Revision Id`,
      lambdaType: 'PreconditionFailedException',
    });
  }
}

// ---- request bodies --------------------------------------------------------------------------------

/** What Fare does not do: a 400 with FARE_E_UNSUPPORTED, as Lambda's InvalidParameterValueException. */
const UNSUPPORTED = { code: 'FARE_E_UNSUPPORTED', lambdaType: 'InvalidParameterValueException' } as const;

/** A member whose value passes `ok`, else is refused with `why`; `what` and `shape` describe what is taken (API description). */
const only = (ok: (v: unknown) => boolean, why: string, what: string, shape: Readonly<Record<string, unknown>> = {}) =>
  z
    .unknown()
    .superRefine((v, ctx) => {
      if (!ok(v)) fails(ctx, why, UNSUPPORTED);
    })
    .meta({ description: `${what}: ${why}`, ...shape })
    .optional();

/** Members Fare accepts and does not apply (they change nothing about how a function runs here). */
const accepted = z.unknown().optional().describe('Accepted; Fare does not apply it');
/** A list member that Fare accepts only empty. */
const emptyList = (why: string) => only((v) => Array.isArray(v) && v.length === 0, why, 'Only an empty list', { type: 'array', maxItems: 0 });
/** A member Fare accepts only empty (null or ""). */
const refused = (why: string) => only((v) => v === null || v === '', why, 'Only null or ""');

const RUNTIME_LAMBDA = str({ min: 1, max: 64 })
  .pipe(
    z.string().superRefine((s, ctx) => {
      if (fareRuntimeOf(s) === undefined) fails(ctx, `Value ${s} at 'runtime' failed to satisfy constraint: Fare runs ${LAMBDA_RUNTIMES}`);
    }),
  )
  .describe(`A Lambda runtime Fare runs: ${LAMBDA_RUNTIMES}`);

const TAGS = stringMap(
  str({ min: 1, max: 128, pattern: /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, hint: 'tag keys are 1–128 letters, digits, spaces and _ . : / = + - @, not starting with aws:' }),
  str({ max: 256 }),
).describe(`Tags; ${CLASS_TAG} sets the price class`);
const DESCRIPTION = str({ max: 256 });
const ROLE = str({ max: 2048 }).describe('Kept and reported; Fare does not assume roles');
const HANDLER_LAMBDA = str({ min: 1, max: 128 }).describe('file.function, for example index.handler (not needed for provided runtimes)');
const TIMEOUT_S = int({ min: 1, max: 900, description: 'Seconds' });
/** Lambda's bounds; Fare keeps and reports the value and imposes no limit. */
const MEMORY_MB = int({ min: 128, max: 10240, description: 'MB: kept and reported; Fare bills memory by use and sets no limit' });
const ENVIRONMENT = object({ Variables: ENV.optional() });
const FARE_CLASS = str({ min: 1, max: 32 }).describe(`Fare's own: the price class (or the tag ${CLASS_TAG})`);
const REVISION_ID = str().describe('Act only if the function is still at this revision');
const ARCHITECTURES = only((v) => Array.isArray(v) && v.length === 1 && v[0] === 'x86_64', 'Fare runs functions on x86_64 only: leave Architectures out or give ["x86_64"]', 'Only ["x86_64"]', { type: 'array', items: { const: 'x86_64' }, minItems: 1, maxItems: 1 });
const VPC = only(
  (v) => {
    const o = v as { SubnetIds?: unknown[]; SecurityGroupIds?: unknown[] } | null;
    return v === null || ((o?.SubnetIds ?? []).length === 0 && (o?.SecurityGroupIds ?? []).length === 0);
  },
  'Fare has no VPCs: a function reaches the network of the machine it runs on; leave VpcConfig out',
  'Only null, or no SubnetIds and no SecurityGroupIds',
);
const ZIP_FILE = str({ min: 1 })
  .superRefine((s, ctx) => {
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(s)) fails(ctx, "is not base64: send the zip's bytes (the SDKs and the CLI encode them for you)", { code: 'FARE_E_BAD_ZIP' });
  })
  .transform((s) => Buffer.from(s, 'base64'))
  .describe("The zip's bytes, base64");
const NO_S3 = 'Fare takes code as ZipFile only (it has no S3): upload the zip itself';
const NO_IMAGES = 'Fare runs zip packages, not container images';
const CODE = object({
  ZipFile: ZIP_FILE.optional(),
  S3Bucket: refused(NO_S3),
  S3Key: refused(NO_S3),
  S3ObjectVersion: refused(NO_S3),
  ImageUri: refused(NO_IMAGES),
  SourceKMSKeyArn: accepted,
});
/** Members Fare accepts on both CreateFunction and UpdateFunctionConfiguration without applying them. */
const NOT_APPLIED = {
  TracingConfig: accepted,
  DeadLetterConfig: accepted,
  KMSKeyArn: accepted,
  EphemeralStorage: accepted,
  LoggingConfig: accepted,
  SnapStart: accepted,
  ImageConfig: refused(NO_IMAGES),
  VpcConfig: VPC,
  Layers: emptyList('Fare has no layers: put the code the function needs in its zip'),
  FileSystemConfigs: emptyList('Fare mounts no file systems into functions'),
} as const;

const CREATE = object({
  FunctionName: str({ min: 1, max: 170 }).describe('A function name, or arn:aws:lambda:REGION:TENANT:function:NAME (administrators: another tenant)'),
  Runtime: RUNTIME_LAMBDA.optional(),
  Role: ROLE.optional(),
  Handler: HANDLER_LAMBDA.optional(),
  Code: CODE,
  Description: DESCRIPTION.optional(),
  Timeout: TIMEOUT_S.optional(),
  MemorySize: MEMORY_MB.optional(),
  Publish: bool().optional().describe('Also publish a version'),
  Environment: ENVIRONMENT.optional(),
  Tags: TAGS.optional(),
  PackageType: only((v) => v === 'Zip', 'Fare runs zip packages only: PackageType Zip', 'Only Zip', { type: 'string', const: 'Zip' }),
  Architectures: ARCHITECTURES,
  CodeSigningConfigArn: refused('Fare does not check code signatures'),
  FareClass: FARE_CLASS.optional(),
  ...NOT_APPLIED,
});

const UPDATE_CONFIG = object({
  Role: ROLE.optional(),
  Handler: HANDLER_LAMBDA.optional(),
  Description: DESCRIPTION.optional(),
  Timeout: TIMEOUT_S.optional(),
  MemorySize: MEMORY_MB.optional(),
  Environment: ENVIRONMENT.optional(),
  Runtime: RUNTIME_LAMBDA.optional(),
  RevisionId: REVISION_ID.optional(),
  FareClass: FARE_CLASS.optional(),
  ...NOT_APPLIED,
});

const UPDATE_CODE = object({
  ZipFile: ZIP_FILE.optional(),
  Publish: bool().optional().describe('Also publish a version'),
  DryRun: bool().optional().describe('Check the zip and change nothing'),
  RevisionId: REVISION_ID.optional(),
  Architectures: ARCHITECTURES,
  S3Bucket: refused(NO_S3),
  S3Key: refused(NO_S3),
  S3ObjectVersion: refused(NO_S3),
  ImageUri: refused(NO_IMAGES),
  SourceKMSKeyArn: accepted,
});

const PUBLISH = object({
  CodeSha256: str().optional().describe('Publish only if $LATEST still has this code (base64 SHA-256)'),
  Description: DESCRIPTION.optional(),
  RevisionId: REVISION_ID.optional(),
});

/** The JSON body (empty: `{}`) of a Lambda call, after the Content-Type check the SDKs expect. */
function body<T>(r: RestRequest & { json(): T }): T {
  const type = (header(r.req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && type !== 'application/json' && type !== 'application/x-amz-json-1.1') {
    throw new ApiError({ status: 415, code: 'FARE_E_UNSUPPORTED_MEDIA_TYPE', message: `Content-Type ${type} is not accepted here: send application/json`, lambdaType: 'UnsupportedMediaTypeException' });
  }
  return r.json();
}

/** The class from `FareClass` or the `fare:class` tag (the same if both are given), checked against the price table. */
export function classFrom(r: RestRequest, field: string | undefined, tag: string | undefined): string | undefined {
  if (field !== undefined && tag !== undefined && field !== tag) {
    throw badRequest('FARE_E_UNKNOWN_CLASS', `FareClass ${JSON.stringify(field)} and the tag ${CLASS_TAG}=${JSON.stringify(tag)} disagree: give the class once`);
  }
  const cls = field ?? tag;
  if (cls !== undefined && classIndex(r.ctx.platform.prices, cls) === undefined) {
    const names = r.ctx.platform.prices.classes.map((c) => c.name).join(', ');
    throw badRequest('FARE_E_UNKNOWN_CLASS', `${JSON.stringify(cls)} is not a price class: set FareClass or the tag ${CLASS_TAG} to one of ${names}`);
  }
  return cls;
}

function lambdaSettings(p: { Description?: string | undefined; MemorySize?: number | undefined; Role?: string | undefined; Runtime?: string | undefined }): LambdaSettings {
  return {
    ...(p.Description !== undefined ? { description: p.Description } : {}),
    ...(p.MemorySize !== undefined ? { memoryMB: p.MemorySize } : {}),
    ...(p.Role !== undefined ? { role: p.Role } : {}),
    ...(p.Runtime !== undefined ? { lambdaRuntime: p.Runtime } : {}),
  };
}

/** The tags to keep in the store: all but `fare:class`, which is the function's class itself. */
function storedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) if (k !== CLASS_TAG) out[k] = v;
  return out;
}

// ---- routes --------------------------------------------------------------------------------------

const P = '/2015-03-31/functions';
const FUNCTION_NAME_PARAM = z.string().describe('A function name, name:qualifier, or arn:aws:lambda:REGION:TENANT:function:NAME[:QUALIFIER]');
const QUALIFIER = z.string().describe('A published version, an alias, or $LATEST');
const MARKER = z.string().describe('The NextMarker of the previous page');
const MAX_ITEMS = queryInt({ min: 1, max: 10_000 }).describe('At most this many, 1 to 10000 (default 50)');
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;
const WHO = 'the owner (administrators: any tenant, by ARN)';

/** Publishes `$LATEST` when asked to (CreateFunction, UpdateFunctionCode with Publish): the record to report. */
function publishedIf(r: RestRequest, n: Named, publish: boolean | undefined, deployed: FunctionRecord): FunctionRecord {
  return publish === true ? r.ctx.store.versions.publish(n.tenant, n.name)?.record ?? deployed : deployed;
}

export const lambdaFunctionRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: P,
    operation: 'CreateFunction',
    summary: 'Creates a function from a zip (Code.ZipFile); its class from FareClass or the tag fare:class',
    who: WHO,
    request: CREATE,
    emptyBody: true,
    body: 'upload',
    answers: { 201: FUNCTION_CONFIGURATION, 409: LAMBDA_ERROR, 413: LAMBDA_ERROR, 415: LAMBDA_ERROR, ...ERRORS },
    handle: async (r) => {
      const p = body(r);
      const n = namedFunction(r, p.FunctionName, 'refused');
      if (p.Runtime === undefined) throw badRequest('FARE_E_INVALID_REQUEST', `Runtime is required for a zip package: one of ${LAMBDA_RUNTIMES}`);
      if (p.Code.ZipFile === undefined) throw badRequest('FARE_E_BAD_ZIP', 'Code.ZipFile is required: Fare takes the zip itself (aws lambda create-function --zip-file fileb://function.zip)');
      const runtime = fareRuntimeOf(p.Runtime) as RuntimeName;
      const tags = p.Tags ?? {};
      const cls = classFrom(r, p.FareClass, tags[CLASS_TAG]);
      if (p.Handler === undefined && runtime !== 'provided') throw badRequest('FARE_E_INVALID_REQUEST', 'Handler is required: give file.function, for example index.handler');
      const base = resolveConfig(r, { runtime, ...(p.Handler !== undefined ? { handler: p.Handler } : {}), ...(cls !== undefined ? { cls } : {}), ...(p.Timeout !== undefined ? { timeoutMs: p.Timeout * 1000 } : {}), ...(p.Environment?.Variables !== undefined ? { env: p.Environment.Variables } : {}) }, undefined);
      const cfg: FunctionConfig = { ...base, lambda: lambdaSettings(p) };
      const deployed = await deployZip(r, n.tenant, n.name, cfg, p.Code.ZipFile, { createOnly: true });
      if (deployed === undefined) throw new Error('deployZip returned nothing without dryRun');
      const kept = storedTags(tags);
      if (Object.keys(kept).length > 0) r.ctx.store.versions.tag(n.tenant, n.name, kept);
      r.ctx.platform.functionChanged?.(n.tenant, n.name, deployed.record.version);
      r.reply(201, functionConfiguration(publishedIf(r, n, p.Publish, deployed.record), r.ctx.region));
    },
  }),
  route({
    method: 'GET',
    path: P,
    operation: 'ListFunctions',
    summary: "The caller's functions ($LATEST; with FunctionVersion=ALL, their published versions too), a page at a time",
    who: 'any tenant (its own functions)',
    query: {
      FunctionVersion: z.enum(['ALL'], { error: (iss) => `must be ALL (or left out), got ${show(iss.input)}` }).describe('ALL: list published versions too'),
      Marker: MARKER,
      MaxItems: MAX_ITEMS,
    },
    answers: { 200: LIST_FUNCTIONS, ...ERRORS },
    handle: (r) => {
      const tenant = r.principal.tenant;
      const fns = r.ctx.store.functions.list(tenant);
      const rows: FunctionRecord[] = r.query.FunctionVersion === 'ALL' ? fns.flatMap((f) => [f, ...r.ctx.store.versions.versions(tenant, f.name)]) : fns;
      const key = (f: FunctionRecord): string => `${f.name}\u0000${String(f.published ?? 0).padStart(10, '0')}`;
      const got = page(rows, key, r.query.Marker ?? null, r.query.MaxItems ?? 50);
      r.reply(200, { Functions: got.items.map((f) => functionConfiguration(f, r.ctx.region)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
    },
  }),
  route({
    method: 'GET',
    path: `${P}/{FunctionName}`,
    operation: 'GetFunction',
    summary: 'A function (or a version, or an alias\'s version): its configuration, a code download link valid for 10 minutes, and its tags',
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    query: { Qualifier: QUALIFIER },
    answers: { 200: GET_FUNCTION, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const latest = latestOf(r, n);
      const fn = qualifiedOf(r, n, latest);
      const host = header(r.req, 'host') ?? '127.0.0.1';
      const proto = header(r.req, 'x-forwarded-proto') === 'https' ? 'https' : 'http';
      const key = r.ctx.store.deriveKey('code-location');
      const tags = { ...r.ctx.store.versions.tags(n.tenant, n.name), [CLASS_TAG]: latest.cls };
      r.reply(200, {
        Configuration: functionConfiguration(fn, r.ctx.region),
        Code: { RepositoryType: 'S3', Location: `${proto}://${host}${codeLocationPath(key, fn, r.ctx.clock())}` },
        Tags: tags,
        ...(latest.reservedConcurrency !== undefined ? { Concurrency: { ReservedConcurrentExecutions: latest.reservedConcurrency } } : {}),
      });
    },
  }),
  route({
    method: 'DELETE',
    path: `${P}/{FunctionName}`,
    operation: 'DeleteFunction',
    summary: 'Deletes a function with its versions and aliases, or (with a qualifier) one published version',
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    query: { Qualifier: QUALIFIER.describe('A published version to delete (not an alias, not $LATEST)') },
    answers: { 204: EMPTY, 409: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const arn = functionArn(r.ctx.region, n.tenant, n.name, n.qualifier);
      if (n.qualifier === undefined) {
        if (!r.ctx.store.functions.delete(n.tenant, n.name)) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${arn}`);
        r.ctx.platform.functionChanged?.(n.tenant, n.name, null);
        r.reply(204);
        return;
      }
      if (n.qualifier === LATEST || !isVersionNumber(n.qualifier)) {
        throw badRequest('FARE_E_INVALID_REQUEST', `Qualifier ${n.qualifier} cannot be deleted this way: give a published version's number (delete an alias with DeleteAlias, $LATEST by deleting the function)`);
      }
      latestOf(r, n);
      switch (r.ctx.store.versions.deleteVersion(n.tenant, n.name, Number(n.qualifier))) {
        case 'gone':
          throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${arn}`);
        case 'aliased':
          throw new ApiError({ status: 409, code: 'FARE_E_INVALID_REQUEST', message: `Unable to delete version because the following aliases reference it: ${r.ctx.store.versions.aliases(n.tenant, n.name).filter((a) => a.target === n.qualifier || a.routing?.version === n.qualifier).map((a) => a.alias).join(', ')}: point them elsewhere or remove their routing to it (UpdateAlias), or delete them first`, lambdaType: 'ResourceConflictException' });
        case 'deleted':
          r.reply(204);
      }
    },
  }),
  route({
    method: 'GET',
    path: `${P}/{FunctionName}/configuration`,
    operation: 'GetFunctionConfiguration',
    summary: "A function's (or a version's, or an alias's version's) configuration",
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    query: { Qualifier: QUALIFIER },
    answers: { 200: FUNCTION_CONFIGURATION, ...ERRORS },
    handle: (r) => {
      r.reply(200, functionConfiguration(qualifiedOf(r, namedFunction(r, r.path.FunctionName)), r.ctx.region));
    },
  }),
  route({
    method: 'PUT',
    path: `${P}/{FunctionName}/configuration`,
    operation: 'UpdateFunctionConfiguration',
    summary: "Changes $LATEST's settings: runtime, handler, timeout, environment, class (FareClass), description, memory size, role",
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    request: UPDATE_CONFIG,
    emptyBody: true,
    answers: { 200: FUNCTION_CONFIGURATION, 412: LAMBDA_ERROR, 415: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      const p = body(r);
      const cur = latestOf(r, n);
      checkRevision(p.RevisionId, cur.revision, `function ${n.name}`);
      const runtime = p.Runtime === undefined ? undefined : fareRuntimeOf(p.Runtime);
      const cls = classFrom(r, p.FareClass, undefined);
      const base = resolveConfig(r, {
        ...(runtime !== undefined ? { runtime } : {}),
        ...(p.Handler !== undefined ? { handler: p.Handler } : {}),
        ...(cls !== undefined ? { cls } : {}),
        ...(p.Timeout !== undefined ? { timeoutMs: p.Timeout * 1000 } : {}),
        ...(p.Environment !== undefined ? { env: p.Environment.Variables ?? {} } : {}),
      }, cur);
      checkHandlerPresent(base, (f) => existsSync(join(cur.codeDir, f)), () => []);
      const rec = r.ctx.store.functions.update(n.tenant, n.name, { ...base, lambda: lambdaSettings(p) });
      if (rec === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name)}`);
      r.ctx.platform.functionChanged?.(n.tenant, n.name, rec.version);
      r.reply(200, functionConfiguration(rec, r.ctx.region));
    },
  }),
  route({
    method: 'PUT',
    path: `${P}/{FunctionName}/code`,
    operation: 'UpdateFunctionCode',
    summary: "Replaces $LATEST's code with a zip (ZipFile); DryRun checks it only",
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    request: UPDATE_CODE,
    emptyBody: true,
    body: 'upload',
    answers: { 200: FUNCTION_CONFIGURATION, 412: LAMBDA_ERROR, 413: LAMBDA_ERROR, 415: LAMBDA_ERROR, ...ERRORS },
    handle: async (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      const p = body(r);
      const cur = latestOf(r, n);
      checkRevision(p.RevisionId, cur.revision, `function ${n.name}`);
      if (p.ZipFile === undefined) throw badRequest('FARE_E_BAD_ZIP', 'ZipFile is required: Fare takes the zip itself (aws lambda update-function-code --zip-file fileb://function.zip)');
      const cfg: FunctionConfig = { runtime: cur.runtime, handler: cur.handler, cls: cur.cls, timeoutMs: cur.timeoutMs, env: cur.env, idempotent: cur.idempotent === true };
      const deployed = await deployZip(r, n.tenant, n.name, cfg, p.ZipFile, { dryRun: p.DryRun === true });
      if (deployed === undefined) {
        r.reply(200, functionConfiguration(cur, r.ctx.region));
        return;
      }
      r.ctx.platform.functionChanged?.(n.tenant, n.name, deployed.record.version);
      r.reply(200, functionConfiguration(publishedIf(r, n, p.Publish, deployed.record), r.ctx.region));
    },
  }),
  route({
    method: 'POST',
    path: `${P}/{FunctionName}/versions`,
    operation: 'PublishVersion',
    summary: "Publishes $LATEST as a new numbered version (or answers the last one if nothing changed)",
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    request: PUBLISH,
    emptyBody: true,
    answers: { 201: FUNCTION_CONFIGURATION, 412: LAMBDA_ERROR, 415: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      const p = body(r);
      const cur = latestOf(r, n);
      checkRevision(p.RevisionId, cur.revision, `function ${n.name}`);
      if (p.CodeSha256 !== undefined && p.CodeSha256 !== Buffer.from(cur.codeSha256, 'hex').toString('base64')) {
        throw new ApiError({ status: 412, code: 'FARE_E_REVISION_MISMATCH', message: `CodeSHA256 (${p.CodeSha256}) is different from current CodeSHA256 in $LATEST: the code changed since you read it; read it again (GetFunction) and publish`, lambdaType: 'PreconditionFailedException' });
      }
      const got = r.ctx.store.versions.publish(n.tenant, n.name, p.Description);
      if (got === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name)}`);
      r.reply(201, functionConfiguration(got.record, r.ctx.region));
    },
  }),
  route({
    method: 'GET',
    path: `${P}/{FunctionName}/versions`,
    operation: 'ListVersionsByFunction',
    summary: "A function's versions, $LATEST first, a page at a time",
    who: WHO,
    params: { FunctionName: FUNCTION_NAME_PARAM },
    query: { Marker: MARKER, MaxItems: MAX_ITEMS },
    answers: { 200: LIST_VERSIONS, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      const rows = [latestOf(r, n), ...r.ctx.store.versions.versions(n.tenant, n.name)];
      const key = (f: FunctionRecord): string => String(f.published ?? 0).padStart(10, '0');
      const got = page(rows, key, r.query.Marker ?? null, r.query.MaxItems ?? 50);
      r.reply(200, { Versions: got.items.map((f) => functionConfiguration(f, r.ctx.region)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
    },
  }),
];

/** Tags of a function (and its class as `fare:class`) set in one call: used by TagResource too. */
export function applyClassTag(r: RestRequest, n: Named, cls: string): void {
  const cur = latestOf(r, n);
  if (cur.cls === cls) return;
  const rec = r.ctx.store.functions.update(n.tenant, n.name, { cls });
  if (rec !== undefined) r.ctx.platform.functionChanged?.(n.tenant, n.name, rec.version);
}
