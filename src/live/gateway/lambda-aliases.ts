// Lambda's control plane beyond functions: aliases (CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
// ListAliases, 2015-03-31), tags (TagResource, UntagResource, ListTags, 2017-03-31) and
// GetAccountSettings (2016-08-19). The tag `fare:class` is the function's price class itself: setting
// it changes the class (a new internal version), removing it gives the function the default class.

import { isVersionNumber, LATEST } from '../store/index.ts';
import { functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { parseJson, sendEmpty, sendJson } from './http.ts';
import { applyClassTag, classFrom, latestOf, namedFunction, type Named } from './lambda-functions.ts';
import { aliasConfiguration, CLASS_TAG, page } from './lambda-shapes.ts';
import { DEFAULT_CLASS } from './rest-functions.ts';
import { queryParam, validated, type RestRequest, type Route } from './rest.ts';
import { object, optional, queryInt, str, stringMap, type Check } from './validate.ts';

const P = '/2015-03-31/functions/([^/]+)/aliases';
/** Lambda's alias names: not all digits (those are versions), letters, digits, - and _. */
const ALIAS_NAME = str({ min: 1, max: 128, pattern: /^(?!^[0-9]+$)[a-zA-Z0-9_-]+$/, hint: 'alias names are 1–128 letters, digits, - or _, and not all digits' });
const TARGET = str({ min: 1, max: 1024, pattern: /^(\$LATEST|[0-9]+)$/, hint: 'give $LATEST or a published version number' });
const ROUTING: Check<unknown> = (v, path) => {
  const w = (v as { AdditionalVersionWeights?: Record<string, unknown> } | undefined)?.AdditionalVersionWeights;
  if (v === undefined || v === null || w === undefined || Object.keys(w).length === 0) return v;
  throw new ApiError({ status: 400, code: 'FARE_E_UNSUPPORTED', message: `${path}: Fare's aliases point at one version (no weighted routing): leave RoutingConfig out`, lambdaType: 'InvalidParameterValueException' });
};

const CREATE = object({ Name: ALIAS_NAME, FunctionVersion: TARGET, Description: optional(str({ max: 256 })), RoutingConfig: ROUTING });
const UPDATE = object({ FunctionVersion: optional(TARGET), Description: optional(str({ max: 256 })), RevisionId: optional(str()), RoutingConfig: ROUTING });
const TAG_BODY = object({ Tags: stringMap(str({ min: 1, max: 128, pattern: /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, hint: 'tag keys are 1–128 letters, digits, spaces and _ . : / = + - @, not starting with aws:' }), str({ max: 256 })) });
const MAX_TAGS = 50;

const json = <T>(r: RestRequest, check: Check<T>): T => validated(() => check(r.body.length === 0 ? {} : parseJson(r.body), ''));

/** A target must exist: `$LATEST`, or a published version of the function. */
function checkTarget(r: RestRequest, n: Named, target: string): void {
  if (target === LATEST) return;
  if (isVersionNumber(target) && r.ctx.store.versions.version(n.tenant, n.name, Number(target)) !== undefined) return;
  throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name, target)}: publish the version first (PublishVersion)`);
}

function aliasOf(r: RestRequest, n: Named, alias: string) {
  const a = r.ctx.store.versions.alias(n.tenant, n.name, alias);
  if (a === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Alias not found: ${functionArn(r.ctx.region, n.tenant, n.name, alias)}`);
  return a;
}

function createAlias(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  const p = json(r, CREATE);
  latestOf(r, n);
  checkTarget(r, n, p.FunctionVersion);
  const a = r.ctx.store.versions.createAlias(n.tenant, n.name, p.Name, p.FunctionVersion, p.Description ?? '');
  if (a === undefined) {
    throw new ApiError({ status: 409, code: 'FARE_E_FUNCTION_EXISTS', message: `Alias already exists: ${functionArn(r.ctx.region, n.tenant, n.name, p.Name)}: change it with UpdateAlias`, lambdaType: 'ResourceConflictException' });
  }
  sendJson(r.res, 201, aliasConfiguration(a, r.ctx.region));
}

function getAlias(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  latestOf(r, n);
  sendJson(r.res, 200, aliasConfiguration(aliasOf(r, n, r.params[1] ?? ''), r.ctx.region));
}

function updateAlias(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  const p = json(r, UPDATE);
  latestOf(r, n);
  const cur = aliasOf(r, n, r.params[1] ?? '');
  if (p.RevisionId !== undefined && p.RevisionId !== cur.revision) {
    throw new ApiError({ status: 412, code: 'FARE_E_REVISION_MISMATCH', message: `The Revision Id provided does not match the latest Revision Id of alias ${cur.alias} (${cur.revision}). Call GetAlias to get the latest Revision Id`, lambdaType: 'PreconditionFailedException' });
  }
  if (p.FunctionVersion !== undefined) checkTarget(r, n, p.FunctionVersion);
  const a = r.ctx.store.versions.updateAlias(n.tenant, n.name, cur.alias, { ...(p.FunctionVersion !== undefined ? { target: p.FunctionVersion } : {}), ...(p.Description !== undefined ? { description: p.Description } : {}) });
  if (a === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Alias not found: ${functionArn(r.ctx.region, n.tenant, n.name, cur.alias)}`);
  sendJson(r.res, 200, aliasConfiguration(a, r.ctx.region));
}

function deleteAlias(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  latestOf(r, n);
  // Lambda answers 204 for an alias that does not exist.
  r.ctx.store.versions.deleteAlias(n.tenant, n.name, r.params[1] ?? '');
  sendEmpty(r.res, 204);
}

function listAliases(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  latestOf(r, n);
  const version = r.url.searchParams.get('FunctionVersion');
  const all = r.ctx.store.versions.aliases(n.tenant, n.name).filter((a) => version === null || a.target === version);
  const got = page(all, (a) => a.alias, r.url.searchParams.get('Marker'), queryParam(r, 'MaxItems', queryInt({ min: 1, max: 10_000 })) ?? 50);
  sendJson(r.res, 200, { Aliases: got.items.map((a) => aliasConfiguration(a, r.ctx.region)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
}

// ---- tags ----------------------------------------------------------------------------------------

/** The function a tag resource ARN names (functions only: Lambda tags neither versions nor aliases). */
function taggedFunction(r: RestRequest): Named {
  const arn = r.params[0] ?? '';
  if (!arn.startsWith('arn:')) throw badRequest('FARE_E_INVALID_REQUEST', `${JSON.stringify(arn)} is not a function ARN: tag arn:aws:lambda:REGION:TENANT:function:NAME`);
  const n = namedFunction(r, arn, 'refused');
  latestOf(r, n);
  return n;
}

function listTags(r: RestRequest): void {
  const n = taggedFunction(r);
  sendJson(r.res, 200, { Tags: { ...r.ctx.store.versions.tags(n.tenant, n.name), [CLASS_TAG]: latestOf(r, n).cls } });
}

function tagResource(r: RestRequest): void {
  const n = taggedFunction(r);
  const { Tags: tags } = json(r, TAG_BODY);
  const cls = classFrom(r, undefined, tags[CLASS_TAG]);
  const rest = Object.fromEntries(Object.entries(tags).filter(([k]) => k !== CLASS_TAG));
  const total = new Set([...Object.keys(r.ctx.store.versions.tags(n.tenant, n.name)), ...Object.keys(rest)]).size;
  if (total > MAX_TAGS) throw badRequest('FARE_E_INVALID_REQUEST', `a function may have at most ${MAX_TAGS} tags besides ${CLASS_TAG}; it would have ${total}: remove some first (UntagResource)`);
  r.ctx.store.versions.tag(n.tenant, n.name, rest);
  if (cls !== undefined) applyClassTag(r, n, cls);
  sendEmpty(r.res, 204);
}

function untagResource(r: RestRequest): void {
  const n = taggedFunction(r);
  const keys = r.url.searchParams.getAll('tagKeys');
  if (keys.length === 0) throw badRequest('FARE_E_INVALID_REQUEST', 'tagKeys: name the tags to remove (?tagKeys=a&tagKeys=b)');
  r.ctx.store.versions.untag(n.tenant, n.name, keys.filter((k) => k !== CLASS_TAG));
  if (keys.includes(CLASS_TAG)) applyClassTag(r, n, DEFAULT_CLASS);
  sendEmpty(r.res, 204);
}

// ---- account settings ----------------------------------------------------------------------------

function accountSettings(r: RestRequest): void {
  const fns = r.ctx.store.functions.list(r.principal.tenant);
  const versions = fns.flatMap((f) => r.ctx.store.versions.versions(f.tenant, f.name));
  const codes = new Map([...fns, ...versions].map((f) => [f.codeDir, f.codeSize]));
  sendJson(r.res, 200, {
    // Fare sets no account-wide code or concurrency quota; these are the limits of one upload.
    AccountLimit: {
      CodeSizeUnzipped: r.ctx.limits.unzippedBytes,
      CodeSizeZipped: Math.floor((r.ctx.limits.uploadBodyBytes * 3) / 4),
    },
    AccountUsage: { TotalCodeSize: [...codes.values()].reduce((a, b) => a + b, 0), FunctionCount: fns.length },
  });
}

export const lambdaMoreRoutes: readonly Route[] = [
  { method: 'POST', pattern: new RegExp(`^${P}/?$`), handle: createAlias },
  { method: 'GET', pattern: new RegExp(`^${P}/?$`), handle: listAliases },
  { method: 'GET', pattern: new RegExp(`^${P}/([^/]+)/?$`), handle: getAlias },
  { method: 'PUT', pattern: new RegExp(`^${P}/([^/]+)/?$`), handle: updateAlias },
  { method: 'DELETE', pattern: new RegExp(`^${P}/([^/]+)/?$`), handle: deleteAlias },
  { method: 'GET', pattern: /^\/2017-03-31\/tags\/([^/]+)\/?$/, handle: listTags },
  { method: 'POST', pattern: /^\/2017-03-31\/tags\/([^/]+)\/?$/, handle: tagResource },
  { method: 'DELETE', pattern: /^\/2017-03-31\/tags\/([^/]+)\/?$/, handle: untagResource },
  { method: 'GET', pattern: /^\/2016-08-19\/account-settings\/?$/, handle: accountSettings },
];
