// Lambda's function URL configuration (API version 2021-10-31): CreateFunctionUrlConfig,
// GetFunctionUrlConfig, UpdateFunctionUrlConfig, DeleteFunctionUrlConfig and ListFunctionUrlConfigs,
// with their schemas and Lambda's answer shapes. A URL names `$LATEST` or an alias (as Lambda: not a
// version number); requests to it are served by function-url.ts.

import { isVersionNumber, LATEST, type FunctionUrl } from '../store/index.ts';
import { functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { header } from './http.ts';
import { latestOf, namedFunction, type Named } from './lambda-functions.ts';
import { lambdaTime, page } from './lambda-shapes.ts';
import { EMPTY, route, type RestRequest, type Route } from './rest.ts';
import { LAMBDA_ERROR, bool, defined, int, object, oneOf, queryInt, str, z } from './schema.ts';

/** Where a URL is served: `/url/<id>/` on the gateway that answers (or `<id>.lambda-url.<domain>` by Host). */
export const URL_PATH = /^\/url\/([a-z0-9]{32})(\/.*)?$/;
export const URL_HOST = /^([a-z0-9]{32})\.lambda-url\./;

/** A list of at most `max` items. */
const list = <T extends z.ZodType>(item: T, max: number) =>
  z.array(item, { error: (iss) => (iss.code === 'invalid_type' ? 'expected a list of strings' : undefined) }).max(max, { error: `at most ${max} entries` });

const METHOD = str({ pattern: /^(\*|GET|PUT|HEAD|POST|PATCH|DELETE|OPTIONS)$/, hint: 'methods are GET, PUT, HEAD, POST, PATCH, DELETE, OPTIONS or *' });
const CORS = object({
  AllowCredentials: bool().optional(),
  AllowHeaders: list(str({ max: 1024 }), 100).optional(),
  AllowMethods: list(METHOD, 6).optional(),
  AllowOrigins: list(str({ min: 1, max: 253 }), 100).optional(),
  ExposeHeaders: list(str({ max: 1024 }), 100).optional(),
  MaxAge: int({ min: 0, max: 86400 }).optional(),
}).describe("The URL's CORS settings (answered by Fare for preflight requests)");
const AUTH = oneOf(['NONE', 'AWS_IAM'] as const).describe('NONE: public; AWS_IAM: SigV4-signed requests of the owner or a grantee');
const INVOKE_MODES = ['BUFFERED', 'RESPONSE_STREAM'] as const;
const MODE = oneOf(INVOKE_MODES)
  .optional()
  .describe("BUFFERED (default): the function's answer becomes the response; RESPONSE_STREAM: the response goes out as the function streams it (awslambda.streamifyResponse)");
const CREATE = object({ AuthType: AUTH, Cors: CORS.optional(), InvokeMode: MODE });
const UPDATE = object({ AuthType: AUTH.optional(), Cors: CORS.optional(), InvokeMode: MODE });

// ---- answers (Lambda's API reference) -------------------------------------------------------------

const LAMBDA_TIME = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/).describe('ISO 8601, as Lambda writes it: 2024-01-31T12:00:00.000+0000');
const URL_CORS = z.strictObject({
  AllowCredentials: z.boolean().optional(),
  AllowHeaders: z.array(z.string()).readonly().optional(),
  AllowMethods: z.array(z.string()).readonly().optional(),
  AllowOrigins: z.array(z.string()).readonly().optional(),
  ExposeHeaders: z.array(z.string()).readonly().optional(),
  MaxAge: z.int().optional(),
});
const FUNCTION_URL_CONFIG = z
  .strictObject({
    FunctionUrl: z.string().describe("The URL's address on the gateway that was asked"),
    FunctionArn: z.string(),
    AuthType: z.enum(['NONE', 'AWS_IAM']),
    Cors: URL_CORS.optional(),
    CreationTime: LAMBDA_TIME,
    LastModifiedTime: LAMBDA_TIME,
    InvokeMode: z.enum(INVOKE_MODES),
  })
  .describe("Lambda's FunctionUrlConfig").meta({ id: 'FunctionUrlConfig' });
/** CreateFunctionUrlConfig's answer has no LastModifiedTime. */
const CREATED_URL = FUNCTION_URL_CONFIG.omit({ LastModifiedTime: true });
const LIST_URLS = z.strictObject({ FunctionUrlConfigs: z.array(FUNCTION_URL_CONFIG), NextMarker: z.string().optional() });
const ERRORS = { 400: LAMBDA_ERROR, 403: LAMBDA_ERROR, 404: LAMBDA_ERROR } as const;

/** The URL's address on the gateway that was asked (its Host). */
export function urlAddress(r: { req: RestRequest['req'] }, id: string): string {
  const proto = header(r.req, 'x-forwarded-proto') === 'https' ? 'https' : 'http';
  return `${proto}://${header(r.req, 'host') ?? '127.0.0.1'}/url/${id}/`;
}

function view(r: RestRequest, u: FunctionUrl): z.input<typeof FUNCTION_URL_CONFIG> {
  return {
    FunctionUrl: urlAddress(r, u.id),
    FunctionArn: functionArn(r.ctx.region, u.tenant, u.name, u.qualifier === '' ? undefined : u.qualifier),
    AuthType: u.authType,
    ...(Object.keys(u.cors).length > 0 ? { Cors: u.cors } : {}),
    CreationTime: lambdaTime(u.createdAt),
    LastModifiedTime: lambdaTime(u.updatedAt),
    InvokeMode: u.invokeMode,
  };
}

function created(r: RestRequest, u: FunctionUrl): z.input<typeof CREATED_URL> {
  const { LastModifiedTime: _, ...rest } = view(r, u);
  return rest;
}

// ---- routes --------------------------------------------------------------------------------------

/** The URL's qualifier: '' for `$LATEST` or none, else an existing alias (a version number is refused, as Lambda does). */
function urlQualifier(r: RestRequest, n: Named): string {
  const q = n.qualifier;
  if (q === undefined || q === LATEST) return '';
  if (isVersionNumber(q)) throw badRequest('FARE_E_INVALID_REQUEST', `a function URL names $LATEST or an alias, not a version (${q}): make an alias for the version (CreateAlias) and give its name`);
  if (r.ctx.store.versions.alias(n.tenant, n.name, q) === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Alias not found: ${functionArn(r.ctx.region, n.tenant, n.name, q)}`);
  return q;
}

function urlOf(r: RestRequest, n: Named, q: string): FunctionUrl {
  const u = r.ctx.store.urls.get(n.tenant, n.name, q);
  if (u === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `The resource you requested does not exist: ${functionArn(r.ctx.region, n.tenant, n.name, q === '' ? undefined : q)} has no function URL (CreateFunctionUrlConfig)`);
  return u;
}

const URL_CONFIG = '/2021-10-31/functions/{FunctionName}/url';
const FUNCTION = z.string().describe("The function's name or ARN, with :ALIAS or not");
// namedFunction reads it (and checks it against a qualifier in the name).
const QUALIFIER = { Qualifier: z.string().describe('$LATEST (default) or an alias name: not a version number') };

export const lambdaUrlRoutes: readonly Route[] = [
  route({
    method: 'POST',
    path: URL_CONFIG,
    operation: 'CreateFunctionUrlConfig',
    summary: 'Creates a function URL for $LATEST or an alias',
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    request: CREATE,
    emptyBody: true,
    answers: { 201: CREATED_URL, 409: LAMBDA_ERROR, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const p = r.json();
      latestOf(r, n);
      const q = urlQualifier(r, n);
      const u = r.ctx.store.urls.create(n.tenant, n.name, q, p.AuthType, defined(p.Cors ?? {}), p.InvokeMode ?? 'BUFFERED');
      if (u === undefined) throw new ApiError({ status: 409, code: 'FARE_E_FUNCTION_EXISTS', message: `Failed to create function url config for [functionArn = ${functionArn(r.ctx.region, n.tenant, n.name, q === '' ? undefined : q)}]. Error message:  FunctionUrlConfig exists for this Lambda function`, lambdaType: 'ResourceConflictException' });
      r.reply(201, created(r, u));
    },
  }),
  route({
    method: 'GET',
    path: URL_CONFIG,
    operation: 'GetFunctionUrlConfig',
    summary: "A function URL's address and settings",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    answers: { 200: FUNCTION_URL_CONFIG, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      latestOf(r, n);
      r.reply(200, view(r, urlOf(r, n, urlQualifier(r, n))));
    },
  }),
  route({
    method: 'PUT',
    path: URL_CONFIG,
    operation: 'UpdateFunctionUrlConfig',
    summary: "Changes a function URL's AuthType, CORS settings or InvokeMode",
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    request: UPDATE,
    emptyBody: true,
    answers: { 200: FUNCTION_URL_CONFIG, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      const p = r.json();
      latestOf(r, n);
      const q = urlQualifier(r, n);
      urlOf(r, n, q);
      const u = r.ctx.store.urls.update(n.tenant, n.name, q, { ...(p.AuthType !== undefined ? { authType: p.AuthType } : {}), ...(p.Cors !== undefined ? { cors: defined(p.Cors) } : {}), ...(p.InvokeMode !== undefined ? { invokeMode: p.InvokeMode } : {}) });
      r.reply(200, view(r, u ?? urlOf(r, n, q)));
    },
  }),
  route({
    method: 'DELETE',
    path: URL_CONFIG,
    operation: 'DeleteFunctionUrlConfig',
    summary: 'Deletes a function URL',
    params: { FunctionName: FUNCTION },
    query: QUALIFIER,
    answers: { 204: EMPTY, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName);
      latestOf(r, n);
      const q = urlQualifier(r, n);
      if (!r.ctx.store.urls.delete(n.tenant, n.name, q)) urlOf(r, n, q);
      r.reply(204);
    },
  }),
  route({
    method: 'GET',
    path: '/2021-10-31/functions/{FunctionName}/urls',
    operation: 'ListFunctionUrlConfigs',
    summary: "Lists a function's URLs, paged",
    params: { FunctionName: z.string().describe("The function's name or ARN (no qualifier)") },
    query: { Marker: z.string().describe('The NextMarker of the previous page'), MaxItems: queryInt({ min: 1, max: 50 }).describe('At most this many, 1–50 (default 50)') },
    answers: { 200: LIST_URLS, ...ERRORS },
    handle: (r) => {
      const n = namedFunction(r, r.path.FunctionName, 'refused');
      latestOf(r, n);
      const got = page(r.ctx.store.urls.list(n.tenant, n.name), (u) => `q${u.qualifier}`, r.query.Marker ?? null, r.query.MaxItems ?? 50);
      r.reply(200, { FunctionUrlConfigs: got.items.map((u) => view(r, u)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
    },
  }),
];
