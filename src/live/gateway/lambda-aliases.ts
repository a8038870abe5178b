// Lambda's control plane beyond functions: aliases (CreateAlias, GetAlias, UpdateAlias, DeleteAlias,
// ListAliases, 2015-03-31; weighted aliases, RoutingConfig, with Lambda's rules), tags (TagResource, UntagResource, ListTags, 2017-03-31) and
// GetAccountSettings (2016-08-19), with their schemas and Lambda's answer shapes. The tag `fare:class`
// is the function's price class itself: setting it changes the class (a new internal version),
// removing it gives the function the default class.

import { isVersionNumber, LATEST, type Alias, type AliasRouting } from '../store/index.ts';
import { functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { applyClassTag, classFrom, latestOf, namedFunction, type Named } from './lambda-functions.ts';
import { ALIAS_CONFIGURATION, aliasConfiguration, CLASS_TAG, page } from './lambda-shapes.ts';
import { DEFAULT_CLASS } from './rest-functions.ts';
import { EMPTY, route, type RestRequest, type Route } from './rest.ts';
import { LAMBDA_ERROR, fails, num, object, queryInt, show, str, stringMap, z } from './schema.ts';

/** Lambda's alias names: not all digits (those are versions), letters, digits, - and _. */
const ALIAS_NAME = str({ min: 1, max: 128, pattern: /^(?!^[0-9]+$)[a-zA-Z0-9_-]+$/, hint: 'alias names are 1–128 letters, digits, - or _, and not all digits', description: 'The alias name' });
const TARGET = str({ min: 1, max: 1024, pattern: /^(\$LATEST|[0-9]+)$/, hint: 'give $LATEST or a published version number', description: '$LATEST or a published version number' });
const DESCRIPTION = str({ max: 256, description: "The alias's description" });

/**
 * Lambda's AliasRoutingConfiguration: `{ "<published version>": weight }`, at most one entry (the
 * version and share, 0.0–1.0, of invocations it runs; the alias's FunctionVersion runs the rest).
 * No entry (`{}`, or no AdditionalVersionWeights): no routing. The rules that need the function
 * (published, not FunctionVersion, FunctionVersion not $LATEST, one role) are `checkRouting`'s.
 */
const WEIGHTS = z
  .record(
    str({ min: 1, max: 1024, pattern: /^[0-9]+$/, hint: 'the additional version is a published version number ($LATEST and aliases cannot be)' }),
    num({ min: 0, max: 1, description: 'The share of invocations the version runs, 0.0–1.0' }),
    { error: (iss) => (iss.code === 'invalid_type' ? `expected a JSON object, got ${show(iss.input)}` : undefined) },
  )
  .superRefine((v, ctx) => {
    const n = Object.keys(v).length;
    if (n > 1) fails(ctx, `Number of items in AdditionalVersionWeights cannot be greater than 1 (got ${n}): an alias routes to its FunctionVersion and at most one more version`);
  })
  .describe('The additional published version (its number as the key) and the share of invocations it runs');
const ROUTING = object({ AdditionalVersionWeights: WEIGHTS.optional() })
  .nullable()
  .optional()
  .describe('Weighted routing: a share of invocations runs one more published version; {} (UpdateAlias) removes it');

const CREATE = object({ Name: ALIAS_NAME, FunctionVersion: TARGET, Description: DESCRIPTION.optional(), RoutingConfig: ROUTING });
const UPDATE = object({ FunctionVersion: TARGET.optional(), Description: DESCRIPTION.optional(), RevisionId: str().optional().describe('Update only if the alias is still at this revision'), RoutingConfig: ROUTING });

const TAG_KEY = str({ min: 1, max: 128, pattern: /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, hint: 'tag keys are 1–128 letters, digits, spaces and _ . : / = + - @, not starting with aws:' });
const TAGS = stringMap(TAG_KEY, str({ max: 256 })).describe(`Tags (keys → values); ${CLASS_TAG} sets the price class`);
const TAG_BODY = object({ Tags: TAGS });
const MAX_TAGS = 50;

const FUNCTION = z.string().describe("The function's name or ARN (no qualifier)");
const MARKER = z.string().describe('The NextMarker of the previous page');

// ---- answers (Lambda's API reference) -------------------------------------------------------------

/** Lambda's AliasConfiguration (lambda-shapes.ts builds it), RoutingConfig included when the alias is weighted. */
const ALIAS_ANSWER = ALIAS_CONFIGURATION.describe("Lambda's AliasConfiguration");
const LIST_ALIASES = z.strictObject({ Aliases: z.array(ALIAS_ANSWER), NextMarker: z.string().optional() });
const LIST_TAGS = z.strictObject({ Tags: z.record(z.string(), z.string()) });
const BYTES_COUNT = z.int().min(0).describe('Bytes');
const ACCOUNT_SETTINGS = z.strictObject({
  // Fare sets no account-wide code or concurrency quota: it sends the limits of one upload only.
  AccountLimit: z.strictObject({
    TotalCodeSize: BYTES_COUNT.optional(),
    CodeSizeUnzipped: BYTES_COUNT,
    CodeSizeZipped: BYTES_COUNT,
    ConcurrentExecutions: z.int().min(0).optional(),
    UnreservedConcurrentExecutions: z.int().min(0).optional(),
  }),
  AccountUsage: z.strictObject({ TotalCodeSize: BYTES_COUNT, FunctionCount: z.int().min(0) }),
});
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;

// ---- aliases -------------------------------------------------------------------------------------

type RoutingGiven = z.output<typeof ROUTING>;

/** The routing a request gives: undefined when it gives none (left out or null), null when it gives no weights (none: removes it). */
function routingGiven(given: RoutingGiven): AliasRouting | null | undefined {
  if (given === undefined || given === null) return undefined;
  const [entry] = Object.entries(given.AdditionalVersionWeights ?? {});
  return entry === undefined ? null : { version: entry[0], weight: entry[1] };
}

/**
 * Lambda's rules for a weighted alias (its traffic-shifting guide, and its answers): the additional
 * version is a published version other than the alias's own, which is then a published version
 * too (not `$LATEST`), and both have the same execution role. The target itself is checked already.
 */
function checkRouting(r: RestRequest, n: Named, target: string, routing: AliasRouting): void {
  if (routing.version === target) {
    throw badRequest('FARE_E_INVALID_REQUEST', `Invalid function version ${target}. Function version ${target} is already included in routing configuration: route to another published version, or leave RoutingConfig out`);
  }
  if (target === LATEST) {
    throw badRequest('FARE_E_INVALID_REQUEST', '$LATEST is not supported for an alias pointing to more than 1 version: point the alias at a published version (FunctionVersion) to route between two');
  }
  const versions = r.ctx.store.versions;
  const extra = versions.version(n.tenant, n.name, Number(routing.version));
  if (extra === undefined) {
    throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name, routing.version)}: the additional version must be published (PublishVersion)`);
  }
  const main = versions.version(n.tenant, n.name, Number(target));
  if (main !== undefined && main.role !== extra.role) {
    throw badRequest('FARE_E_INVALID_REQUEST', `Specified versions must be associated with the same execution role: version ${target} has ${JSON.stringify(main.role)}, version ${routing.version} ${JSON.stringify(extra.role)}`);
  }
}

/** A target must exist: `$LATEST`, or a published version of the function. */
function checkTarget(r: RestRequest, n: Named, target: string): void {
  if (target === LATEST) return;
  if (isVersionNumber(target) && r.ctx.store.versions.version(n.tenant, n.name, Number(target)) !== undefined) return;
  throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Function not found: ${functionArn(r.ctx.region, n.tenant, n.name, target)}: publish the version first (PublishVersion)`);
}

function aliasOf(r: RestRequest, n: Named, alias: string): Alias {
  const a = r.ctx.store.versions.alias(n.tenant, n.name, alias);
  if (a === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Alias not found: ${functionArn(r.ctx.region, n.tenant, n.name, alias)}`);
  return a;
}

/** The function of an alias route: named without qualifier, and existing. */
function aliasFunction(r: RestRequest, name: string): Named {
  const n = namedFunction(r, name, 'refused');
  latestOf(r, n);
  return n;
}

const ALIASES_PATH = '/2015-03-31/functions/{FunctionName}/aliases';
const ALIAS_PATH = `${ALIASES_PATH}/{Name}` as const;

const aliasRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: ALIASES_PATH,
    operation: 'CreateAlias',
    summary: 'Creates an alias for $LATEST or a published version, optionally weighted (a share of invocations runs a second published version)',
    params: { FunctionName: FUNCTION },
    request: CREATE,
    emptyBody: true,
    answers: { 201: ALIAS_ANSWER, 409: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      const p = r.json();
      latestOf(r, n);
      checkTarget(r, n, p.FunctionVersion);
      const routing = routingGiven(p.RoutingConfig) ?? undefined;
      if (routing !== undefined) checkRouting(r, n, p.FunctionVersion, routing);
      const a = r.ctx.store.versions.createAlias(n.tenant, n.name, p.Name, p.FunctionVersion, p.Description ?? '', routing);
      if (a === undefined) {
        throw new ApiError({ status: 409, code: 'FARE_E_FUNCTION_EXISTS', message: `Alias already exists: ${functionArn(r.ctx.region, n.tenant, n.name, p.Name)}: change it with UpdateAlias`, lambdaType: 'ResourceConflictException' });
      }
      r.reply(201, aliasConfiguration(a, r.ctx.region));
    },
  }),
  route({
    method: 'GET',
    path: ALIASES_PATH,
    operation: 'ListAliases',
    summary: "Lists a function's aliases (those of one version with ?FunctionVersion=), paged",
    params: { FunctionName: FUNCTION },
    query: {
      FunctionVersion: z.string().describe('Only the aliases of this version ($LATEST or a number)'),
      Marker: MARKER,
      MaxItems: queryInt({ min: 1, max: 10_000 }).describe('At most this many, 1–10000 (default 50)'),
    },
    answers: { 200: LIST_ALIASES, ...ERRORS },
    handle: (r) => {
      const n = aliasFunction(r, r.path.FunctionName);
      const version = r.query.FunctionVersion;
      const all = r.ctx.store.versions.aliases(n.tenant, n.name).filter((a) => version === undefined || a.target === version);
      const got = page(all, (a) => a.alias, r.query.Marker ?? null, r.query.MaxItems ?? 50);
      r.reply(200, { Aliases: got.items.map((a) => aliasConfiguration(a, r.ctx.region)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
    },
  }),
  route({
    method: 'GET',
    path: ALIAS_PATH,
    operation: 'GetAlias',
    summary: 'An alias, the version it points at and its routing',
    params: { FunctionName: FUNCTION },
    answers: { 200: ALIAS_ANSWER, ...ERRORS },
    handle: (r) => {
      const n = aliasFunction(r, r.path.FunctionName);
      r.reply(200, aliasConfiguration(aliasOf(r, n, r.path.Name), r.ctx.region));
    },
  }),
  route({
    method: 'PUT',
    path: ALIAS_PATH,
    operation: 'UpdateAlias',
    summary: "Changes an alias's version, description or routing (RoutingConfig {} removes it; only at RevisionId, if given)",
    params: { FunctionName: FUNCTION },
    request: UPDATE,
    emptyBody: true,
    answers: { 200: ALIAS_ANSWER, 412: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      const p = r.json();
      latestOf(r, n);
      const cur = aliasOf(r, n, r.path.Name);
      if (p.RevisionId !== undefined && p.RevisionId !== cur.revision) {
        throw new ApiError({ status: 412, code: 'FARE_E_REVISION_MISMATCH', message: `The Revision Id provided does not match the latest Revision Id of alias ${cur.alias} (${cur.revision}). Call GetAlias to get the latest Revision Id`, lambdaType: 'PreconditionFailedException' });
      }
      if (p.FunctionVersion !== undefined) checkTarget(r, n, p.FunctionVersion);
      // The alias as it would be: its routing kept unless given, checked against its (new) version.
      const given = routingGiven(p.RoutingConfig);
      const routing = given === undefined ? cur.routing : (given ?? undefined);
      if (routing !== undefined) checkRouting(r, n, p.FunctionVersion ?? cur.target, routing);
      const a = r.ctx.store.versions.updateAlias(n.tenant, n.name, cur.alias, {
        ...(p.FunctionVersion !== undefined ? { target: p.FunctionVersion } : {}),
        ...(p.Description !== undefined ? { description: p.Description } : {}),
        ...(given !== undefined ? { routing: given } : {}),
      });
      if (a === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Alias not found: ${functionArn(r.ctx.region, n.tenant, n.name, cur.alias)}`);
      r.reply(200, aliasConfiguration(a, r.ctx.region));
    },
  }),
  route({
    method: 'DELETE',
    path: ALIAS_PATH,
    operation: 'DeleteAlias',
    summary: 'Deletes an alias (one that does not exist too, as Lambda)',
    params: { FunctionName: FUNCTION },
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const n = aliasFunction(r, r.path.FunctionName);
      // Lambda answers 204 for an alias that does not exist.
      r.ctx.store.versions.deleteAlias(n.tenant, n.name, r.path.Name);
      r.reply(204);
    },
  }),
];

// ---- tags ----------------------------------------------------------------------------------------

/** The function a tag resource ARN names (functions only: Lambda tags neither versions nor aliases). */
function taggedFunction(r: RestRequest, arn: string): Named {
  if (!arn.startsWith('arn:')) throw badRequest('FARE_E_INVALID_REQUEST', `${JSON.stringify(arn)} is not a function ARN: tag arn:aws:lambda:REGION:TENANT:function:NAME`);
  return aliasFunction(r, arn);
}

const TAGGED = '/2017-03-31/tags/{Resource}';
const RESOURCE = z.string().describe("The function's ARN (arn:aws:lambda:REGION:TENANT:function:NAME)");

const tagRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: TAGGED,
    operation: 'ListTags',
    summary: "A function's tags, with fare:class (its price class)",
    params: { Resource: RESOURCE },
    answers: { 200: LIST_TAGS, ...ERRORS },
    handle: (r) => {
      const n = taggedFunction(r, r.path.Resource);
      r.reply(200, { Tags: { ...r.ctx.store.versions.tags(n.tenant, n.name), [CLASS_TAG]: latestOf(r, n).cls } });
    },
  }),
  route({
    method: 'POST',
    path: TAGGED,
    operation: 'TagResource',
    summary: `Adds or changes tags (at most ${MAX_TAGS}); ${CLASS_TAG} changes the price class`,
    params: { Resource: RESOURCE },
    request: TAG_BODY,
    emptyBody: true,
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const n = taggedFunction(r, r.path.Resource);
      const { Tags: tags } = r.json();
      const cls = classFrom(r, undefined, tags[CLASS_TAG]);
      const rest = Object.fromEntries(Object.entries(tags).filter(([k]) => k !== CLASS_TAG));
      const total = new Set([...Object.keys(r.ctx.store.versions.tags(n.tenant, n.name)), ...Object.keys(rest)]).size;
      if (total > MAX_TAGS) throw badRequest('FARE_E_INVALID_REQUEST', `a function may have at most ${MAX_TAGS} tags besides ${CLASS_TAG}; it would have ${total}: remove some first (UntagResource)`);
      r.ctx.store.versions.tag(n.tenant, n.name, rest);
      if (cls !== undefined) applyClassTag(r, n, cls);
      r.reply(204);
    },
  }),
  route({
    method: 'DELETE',
    path: TAGGED,
    operation: 'UntagResource',
    summary: `Removes tags; removing ${CLASS_TAG} gives the function the default class`,
    params: { Resource: RESOURCE },
    // Repeated (?tagKeys=a&tagKeys=b): the handler reads them all.
    query: { tagKeys: z.string().describe('A tag key to remove; repeat the parameter for each') },
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const n = taggedFunction(r, r.path.Resource);
      const keys = r.url.searchParams.getAll('tagKeys');
      if (keys.length === 0) throw badRequest('FARE_E_INVALID_REQUEST', 'tagKeys: name the tags to remove (?tagKeys=a&tagKeys=b)');
      r.ctx.store.versions.untag(n.tenant, n.name, keys.filter((k) => k !== CLASS_TAG));
      if (keys.includes(CLASS_TAG)) applyClassTag(r, n, DEFAULT_CLASS);
      r.reply(204);
    },
  }),
];

// ---- account settings ----------------------------------------------------------------------------

const accountRoutes: readonly Route[] = [
  route({
    method: 'GET',
    path: '/2016-08-19/account-settings',
    operation: 'GetAccountSettings',
    summary: "The limits of one upload, and the caller's code size and function count",
    answers: { 200: ACCOUNT_SETTINGS, 403: LAMBDA_ERROR },
    handle: (r) => {
      const fns = r.ctx.store.functions.list(r.principal.tenant);
      const versions = fns.flatMap((f) => r.ctx.store.versions.versions(f.tenant, f.name));
      const codes = new Map([...fns, ...versions].map((f) => [f.codeDir, f.codeSize]));
      r.reply(200, {
        // Fare sets no account-wide code or concurrency quota; these are the limits of one upload.
        AccountLimit: {
          CodeSizeUnzipped: r.ctx.limits.unzippedBytes,
          CodeSizeZipped: Math.floor((r.ctx.limits.uploadBodyBytes * 3) / 4),
        },
        AccountUsage: { TotalCodeSize: [...codes.values()].reduce((a, b) => a + b, 0), FunctionCount: fns.length },
      });
    },
  }),
];

export const lambdaMoreRoutes: readonly Route[] = [...aliasRoutes, ...tagRoutes, ...accountRoutes];
