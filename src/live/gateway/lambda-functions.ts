// Lambda's control plane for functions (API version 2015-03-31): CreateFunction, GetFunction,
// GetFunctionConfiguration, ListFunctions, UpdateFunctionCode, UpdateFunctionConfiguration,
// DeleteFunction, PublishVersion and ListVersionsByFunction, over Fare's store, with Lambda's shapes
// and error types, so the AWS SDKs and CLI (and the tools built on them) deploy to Fare. The price
// class is Fare's field `FareClass` or the tag `fare:class`; `MemorySize` is kept and reported only
// (Fare bills memory by use and sets no limit). Code comes as `ZipFile` only.

import { classIndex } from '../../core/classes.ts';
import { isVersionNumber, LATEST, type FunctionConfig, type FunctionRecord, type LambdaSettings } from '../store/index.ts';
import type { RuntimeName } from '../types.ts';
import { actingTenant, functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { header, parseJson, sendEmpty, sendJson } from './http.ts';
import { CLASS_TAG, codeLocationPath, fareRuntimeOf, functionConfiguration, LAMBDA_RUNTIMES, page } from './lambda-shapes.ts';
import { parseFunctionRef } from './function-ref.ts';
import { queryParam, validated, type RestRequest, type Route } from './rest.ts';
import { checkHandlerPresent, deployZip, resolveConfig } from './rest-functions.ts';
import { ENV, bool, int, object, optional, queryInt, str, stringMap, type Check } from './validate.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const P = '/2015-03-31/functions';
const FN = '([^/]+)';

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

function checkRevision(given: string | undefined, current: string, what: string): void {
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

const unsupported = (field: string, why: string): ApiError => new ApiError({ status: 400, code: 'FARE_E_UNSUPPORTED', message: `${field}: ${why}`, lambdaType: 'InvalidParameterValueException' });

/** Members Fare accepts and does not apply (they change nothing about how a function runs here). */
const accepted: Check<unknown> = (v) => v;
/** A list member that Fare accepts only empty. */
const emptyList = (why: string): Check<unknown> => (v, path) => {
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return v;
  throw unsupported(path, why);
};
const refused = (why: string): Check<unknown> => (v, path) => {
  if (v === undefined || v === null || v === '') return v;
  throw unsupported(path, why);
};

const RUNTIME_LAMBDA: Check<string> = (v, path) => {
  const s = str({ min: 1, max: 64 })(v, path);
  if (fareRuntimeOf(s) === undefined) {
    throw badRequest('FARE_E_INVALID_REQUEST', `Value ${s} at 'runtime' failed to satisfy constraint: Fare runs ${LAMBDA_RUNTIMES}`);
  }
  return s;
};
const TAGS = stringMap(str({ min: 1, max: 128, pattern: /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, hint: 'tag keys are 1–128 letters, digits, spaces and _ . : / = + - @, not starting with aws:' }), str({ max: 256 }));
const DESCRIPTION = str({ max: 256 });
const ROLE = str({ max: 2048 });
const TIMEOUT_S = int({ min: 1, max: 900 });
/** Lambda's bounds; Fare keeps and reports the value and imposes no limit. */
const MEMORY_MB = int({ min: 128, max: 10240 });
const ENVIRONMENT = object({ Variables: optional(ENV) });
const ARCHITECTURES: Check<unknown> = (v, path) => {
  if (v === undefined || (Array.isArray(v) && v.length === 1 && v[0] === 'x86_64')) return v;
  throw unsupported(path, 'Fare runs functions on x86_64 only: leave Architectures out or give ["x86_64"]');
};
const VPC: Check<unknown> = (v, path) => {
  const o = v as { SubnetIds?: unknown[]; SecurityGroupIds?: unknown[] } | undefined;
  if (v === undefined || v === null || ((o?.SubnetIds ?? []).length === 0 && (o?.SecurityGroupIds ?? []).length === 0)) return v;
  throw unsupported(path, 'Fare has no VPCs: a function reaches the network of the machine it runs on; leave VpcConfig out');
};
const ZIP_FILE: Check<Buffer> = (v, path) => {
  const s = str({ min: 1 })(v, path);
  if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(s)) throw badRequest('FARE_E_BAD_ZIP', `${path} is not base64: send the zip's bytes (the SDKs and the CLI encode them for you)`);
  return Buffer.from(s, 'base64');
};
const CODE = object({
  ZipFile: optional(ZIP_FILE),
  S3Bucket: refused('Fare takes code as ZipFile only (it has no S3): upload the zip itself'),
  S3Key: refused('Fare takes code as ZipFile only (it has no S3): upload the zip itself'),
  S3ObjectVersion: refused('Fare takes code as ZipFile only (it has no S3): upload the zip itself'),
  ImageUri: refused('Fare runs zip packages, not container images'),
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
  ImageConfig: refused('Fare runs zip packages, not container images'),
  VpcConfig: VPC,
  Layers: emptyList('Fare has no layers: put the code the function needs in its zip'),
  FileSystemConfigs: emptyList('Fare mounts no file systems into functions'),
} as const;

const CREATE = object({
  FunctionName: str({ min: 1, max: 170 }),
  Runtime: optional(RUNTIME_LAMBDA),
  Role: optional(ROLE),
  Handler: optional(str({ min: 1, max: 128 })),
  Code: CODE,
  Description: optional(DESCRIPTION),
  Timeout: optional(TIMEOUT_S),
  MemorySize: optional(MEMORY_MB),
  Publish: optional(bool()),
  Environment: optional(ENVIRONMENT),
  Tags: optional(TAGS),
  PackageType: optional((v, path) => (v === 'Zip' ? v : (() => { throw unsupported(path, 'Fare runs zip packages only: PackageType Zip'); })())),
  Architectures: ARCHITECTURES,
  CodeSigningConfigArn: refused('Fare does not check code signatures'),
  FareClass: optional(str({ min: 1, max: 32 })),
  ...NOT_APPLIED,
});

const UPDATE_CONFIG = object({
  Role: optional(ROLE),
  Handler: optional(str({ min: 1, max: 128 })),
  Description: optional(DESCRIPTION),
  Timeout: optional(TIMEOUT_S),
  MemorySize: optional(MEMORY_MB),
  Environment: optional(ENVIRONMENT),
  Runtime: optional(RUNTIME_LAMBDA),
  RevisionId: optional(str()),
  FareClass: optional(str({ min: 1, max: 32 })),
  ...NOT_APPLIED,
});

const UPDATE_CODE = object({
  ZipFile: optional(ZIP_FILE),
  Publish: optional(bool()),
  DryRun: optional(bool()),
  RevisionId: optional(str()),
  Architectures: ARCHITECTURES,
  S3Bucket: refused('Fare takes code as ZipFile only (it has no S3): upload the zip itself'),
  S3Key: refused('Fare takes code as ZipFile only (it has no S3): upload the zip itself'),
  S3ObjectVersion: refused('Fare takes code as ZipFile only (it has no S3): upload the zip itself'),
  ImageUri: refused('Fare runs zip packages, not container images'),
  SourceKMSKeyArn: accepted,
});

const PUBLISH = object({ CodeSha256: optional(str()), Description: optional(DESCRIPTION), RevisionId: optional(str()) });

function body<T>(r: RestRequest, check: Check<T>): T {
  const type = (header(r.req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && type !== 'application/json' && type !== 'application/x-amz-json-1.1') {
    throw new ApiError({ status: 415, code: 'FARE_E_UNSUPPORTED_MEDIA_TYPE', message: `Content-Type ${type} is not accepted here: send application/json`, lambdaType: 'UnsupportedMediaTypeException' });
  }
  return validated(() => check(r.body.length === 0 ? {} : parseJson(r.body), ''));
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

// ---- handlers ------------------------------------------------------------------------------------

async function createFunction(r: RestRequest): Promise<void> {
  const p = body(r, CREATE);
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
  const shown = p.Publish === true ? r.ctx.store.versions.publish(n.tenant, n.name)?.record ?? deployed.record : deployed.record;
  sendJson(r.res, 201, functionConfiguration(shown, r.ctx.region));
}

function getFunction(r: RestRequest): void {
  const n = namedFunction(r, r.params[0]);
  const latest = latestOf(r, n);
  const fn = qualifiedOf(r, n, latest);
  const host = header(r.req, 'host') ?? '127.0.0.1';
  const proto = header(r.req, 'x-forwarded-proto') === 'https' ? 'https' : 'http';
  const key = r.ctx.store.deriveKey('code-location');
  const tags = { ...r.ctx.store.versions.tags(n.tenant, n.name), [CLASS_TAG]: latest.cls };
  sendJson(r.res, 200, {
    Configuration: functionConfiguration(fn, r.ctx.region),
    Code: { RepositoryType: 'S3', Location: `${proto}://${host}${codeLocationPath(key, fn, r.ctx.clock())}` },
    Tags: tags,
  });
}

function getConfiguration(r: RestRequest): void {
  sendJson(r.res, 200, functionConfiguration(qualifiedOf(r, namedFunction(r, r.params[0])), r.ctx.region));
}

const MAX_ITEMS = (max: number) => queryInt({ min: 1, max });

function listFunctions(r: RestRequest): void {
  const all = r.url.searchParams.get('FunctionVersion');
  if (all !== null && all !== 'ALL') throw badRequest('FARE_E_INVALID_REQUEST', `FunctionVersion must be ALL (or left out), got ${JSON.stringify(all)}`);
  const tenant = r.principal.tenant;
  const fns = r.ctx.store.functions.list(tenant);
  const rows: FunctionRecord[] = all === 'ALL' ? fns.flatMap((f) => [f, ...r.ctx.store.versions.versions(tenant, f.name)]) : fns;
  const key = (f: FunctionRecord): string => `${f.name}\u0000${String(f.published ?? 0).padStart(10, '0')}`;
  const got = page(rows, key, r.url.searchParams.get('Marker'), queryParam(r, 'MaxItems', MAX_ITEMS(10_000)) ?? 50);
  sendJson(r.res, 200, { Functions: got.items.map((f) => functionConfiguration(f, r.ctx.region)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
}

async function updateCode(r: RestRequest): Promise<void> {
  const n = namedFunction(r, r.params[0], 'refused');
  const p = body(r, UPDATE_CODE);
  const cur = latestOf(r, n);
  checkRevision(p.RevisionId, cur.revision, `function ${n.name}`);
  if (p.ZipFile === undefined) throw badRequest('FARE_E_BAD_ZIP', 'ZipFile is required: Fare takes the zip itself (aws lambda update-function-code --zip-file fileb://function.zip)');
  const cfg: FunctionConfig = { runtime: cur.runtime, handler: cur.handler, cls: cur.cls, timeoutMs: cur.timeoutMs, env: cur.env, idempotent: cur.idempotent === true };
  const deployed = await deployZip(r, n.tenant, n.name, cfg, p.ZipFile, { dryRun: p.DryRun === true });
  if (deployed === undefined) {
    sendJson(r.res, 200, functionConfiguration(cur, r.ctx.region));
    return;
  }
  r.ctx.platform.functionChanged?.(n.tenant, n.name, deployed.record.version);
  const shown = p.Publish === true ? r.ctx.store.versions.publish(n.tenant, n.name)?.record ?? deployed.record : deployed.record;
  sendJson(r.res, 200, functionConfiguration(shown, r.ctx.region));
}

function updateConfiguration(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  const p = body(r, UPDATE_CONFIG);
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
  sendJson(r.res, 200, functionConfiguration(rec, r.ctx.region));
}

function deleteFunction(r: RestRequest): void {
  const n = namedFunction(r, r.params[0]);
  const arn = functionArn(r.ctx.region, n.tenant, n.name, n.qualifier);
  if (n.qualifier === undefined) {
    if (!r.ctx.store.functions.delete(n.tenant, n.name)) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${arn}`);
    r.ctx.platform.functionChanged?.(n.tenant, n.name, null);
    sendEmpty(r.res, 204);
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
      throw new ApiError({ status: 409, code: 'FARE_E_INVALID_REQUEST', message: `Unable to delete version because the following aliases reference it: ${r.ctx.store.versions.aliases(n.tenant, n.name).filter((a) => a.target === n.qualifier).map((a) => a.alias).join(', ')}: point them elsewhere (UpdateAlias) or delete them first`, lambdaType: 'ResourceConflictException' });
    case 'deleted':
      sendEmpty(r.res, 204);
  }
}

function publishVersion(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  const p = body(r, PUBLISH);
  const cur = latestOf(r, n);
  checkRevision(p.RevisionId, cur.revision, `function ${n.name}`);
  if (p.CodeSha256 !== undefined && p.CodeSha256 !== Buffer.from(cur.codeSha256, 'hex').toString('base64')) {
    throw new ApiError({ status: 412, code: 'FARE_E_REVISION_MISMATCH', message: `CodeSHA256 (${p.CodeSha256}) is different from current CodeSHA256 in $LATEST: the code changed since you read it; read it again (GetFunction) and publish`, lambdaType: 'PreconditionFailedException' });
  }
  const got = r.ctx.store.versions.publish(n.tenant, n.name, p.Description);
  if (got === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name)}`);
  sendJson(r.res, 201, functionConfiguration(got.record, r.ctx.region));
}

function listVersions(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  const rows = [latestOf(r, n), ...r.ctx.store.versions.versions(n.tenant, n.name)];
  const key = (f: FunctionRecord): string => String(f.published ?? 0).padStart(10, '0');
  const got = page(rows, key, r.url.searchParams.get('Marker'), queryParam(r, 'MaxItems', MAX_ITEMS(10_000)) ?? 50);
  sendJson(r.res, 200, { Versions: got.items.map((f) => functionConfiguration(f, r.ctx.region)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
}

/** Tags of a function (and its class as `fare:class`) set in one call: used by TagResource too. */
export function applyClassTag(r: RestRequest, n: Named, cls: string): void {
  const cur = latestOf(r, n);
  if (cur.cls === cls) return;
  const rec = r.ctx.store.functions.update(n.tenant, n.name, { cls });
  if (rec !== undefined) r.ctx.platform.functionChanged?.(n.tenant, n.name, rec.version);
}

export const lambdaFunctionRoutes: readonly Route[] = [
  { method: 'POST', pattern: new RegExp(`^${P}/?$`), body: 'upload', handle: createFunction },
  { method: 'GET', pattern: new RegExp(`^${P}/?$`), handle: listFunctions },
  { method: 'GET', pattern: new RegExp(`^${P}/${FN}/?$`), handle: getFunction },
  { method: 'DELETE', pattern: new RegExp(`^${P}/${FN}/?$`), handle: deleteFunction },
  { method: 'GET', pattern: new RegExp(`^${P}/${FN}/configuration/?$`), handle: getConfiguration },
  { method: 'PUT', pattern: new RegExp(`^${P}/${FN}/configuration/?$`), handle: updateConfiguration },
  { method: 'PUT', pattern: new RegExp(`^${P}/${FN}/code/?$`), body: 'upload', handle: updateCode },
  { method: 'POST', pattern: new RegExp(`^${P}/${FN}/versions/?$`), handle: publishVersion },
  { method: 'GET', pattern: new RegExp(`^${P}/${FN}/versions/?$`), handle: listVersions },
];
