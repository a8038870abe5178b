// Lambda's function URL configuration (API version 2021-10-31): CreateFunctionUrlConfig,
// GetFunctionUrlConfig, UpdateFunctionUrlConfig, DeleteFunctionUrlConfig and ListFunctionUrlConfigs.
// A URL names `$LATEST` or an alias (as Lambda: not a version number); requests to it are served by
// function-url.ts.

import { isVersionNumber, LATEST, type FunctionUrl, type UrlCors } from '../store/index.ts';
import { functionArn } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { header, parseJson, sendEmpty, sendJson } from './http.ts';
import { latestOf, namedFunction, type Named } from './lambda-functions.ts';
import { lambdaTime, page } from './lambda-shapes.ts';
import { queryParam, validated, type RestRequest, type Route } from './rest.ts';
import { bool, int, object, oneOf, optional, queryInt, str, type Check } from './validate.ts';

/** Where a URL is served: `/url/<id>/` on the gateway that answers (or `<id>.lambda-url.<domain>` by Host). */
export const URL_PATH = /^\/url\/([a-z0-9]{32})(\/.*)?$/;
export const URL_HOST = /^([a-z0-9]{32})\.lambda-url\./;

const list = (item: Check<string>, max: number): Check<string[]> => (v, path) => {
  if (!Array.isArray(v)) throw badRequest('FARE_E_INVALID_REQUEST', `${path}: expected a list of strings`);
  if (v.length > max) throw badRequest('FARE_E_INVALID_REQUEST', `${path}: at most ${max} entries`);
  return v.map((x, i) => item(x, `${path}[${i}]`));
};
const CORS: Check<UrlCors> = object({
  AllowCredentials: optional(bool()),
  AllowHeaders: optional(list(str({ max: 1024 }), 100)),
  AllowMethods: optional(list(str({ pattern: /^(\*|GET|PUT|HEAD|POST|PATCH|DELETE|OPTIONS)$/, hint: 'methods are GET, PUT, HEAD, POST, PATCH, DELETE, OPTIONS or *' }), 6)),
  AllowOrigins: optional(list(str({ min: 1, max: 253 }), 100)),
  ExposeHeaders: optional(list(str({ max: 1024 }), 100)),
  MaxAge: optional(int({ min: 0, max: 86400 })),
}) as Check<UrlCors>;
const AUTH = oneOf(['NONE', 'AWS_IAM'] as const);
const MODE: Check<string | undefined> = (v, path) => {
  if (v === undefined || v === 'BUFFERED') return v;
  throw new ApiError({ status: 400, code: 'FARE_E_UNSUPPORTED', message: `${path}: Fare answers function URLs buffered (InvokeMode BUFFERED); response streaming is not supported`, lambdaType: 'InvalidParameterValueException' });
};
const CREATE = object({ AuthType: AUTH, Cors: optional(CORS), InvokeMode: MODE });
const UPDATE = object({ AuthType: optional(AUTH), Cors: optional(CORS), InvokeMode: MODE });

const json = <T>(r: RestRequest, check: Check<T>): T => validated(() => check(r.body.length === 0 ? {} : parseJson(r.body), ''));

/** The URL's qualifier: '' for `$LATEST` or none, else an existing alias (a version number is refused, as Lambda does). */
function urlQualifier(r: RestRequest, n: Named): string {
  const q = n.qualifier;
  if (q === undefined || q === LATEST) return '';
  if (isVersionNumber(q)) throw badRequest('FARE_E_INVALID_REQUEST', `a function URL names $LATEST or an alias, not a version (${q}): make an alias for the version (CreateAlias) and give its name`);
  if (r.ctx.store.versions.alias(n.tenant, n.name, q) === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `Alias not found: ${functionArn(r.ctx.region, n.tenant, n.name, q)}`);
  return q;
}

/** The URL's address on the gateway that was asked (its Host). */
export function urlAddress(r: { req: RestRequest['req'] }, id: string): string {
  const proto = header(r.req, 'x-forwarded-proto') === 'https' ? 'https' : 'http';
  return `${proto}://${header(r.req, 'host') ?? '127.0.0.1'}/url/${id}/`;
}

function view(r: RestRequest, u: FunctionUrl) {
  return {
    FunctionUrl: urlAddress(r, u.id),
    FunctionArn: functionArn(r.ctx.region, u.tenant, u.name, u.qualifier === '' ? undefined : u.qualifier),
    AuthType: u.authType,
    ...(Object.keys(u.cors).length > 0 ? { Cors: u.cors } : {}),
    CreationTime: lambdaTime(u.createdAt),
    LastModifiedTime: lambdaTime(u.updatedAt),
    InvokeMode: 'BUFFERED',
  };
}

function urlOf(r: RestRequest, n: Named, q: string): FunctionUrl {
  const u = r.ctx.store.urls.get(n.tenant, n.name, q);
  if (u === undefined) throw notFound('FARE_E_FUNCTION_NOT_FOUND', `The resource you requested does not exist: ${functionArn(r.ctx.region, n.tenant, n.name, q === '' ? undefined : q)} has no function URL (CreateFunctionUrlConfig)`);
  return u;
}

function create(r: RestRequest): void {
  const n = namedFunction(r, r.params[0]);
  const p = json(r, CREATE);
  latestOf(r, n);
  const q = urlQualifier(r, n);
  const u = r.ctx.store.urls.create(n.tenant, n.name, q, p.AuthType, p.Cors ?? {});
  if (u === undefined) throw new ApiError({ status: 409, code: 'FARE_E_FUNCTION_EXISTS', message: `Failed to create function url config for [functionArn = ${functionArn(r.ctx.region, n.tenant, n.name, q === '' ? undefined : q)}]. Error message:  FunctionUrlConfig exists for this Lambda function`, lambdaType: 'ResourceConflictException' });
  sendJson(r.res, 201, view(r, u));
}

function get(r: RestRequest): void {
  const n = namedFunction(r, r.params[0]);
  latestOf(r, n);
  sendJson(r.res, 200, view(r, urlOf(r, n, urlQualifier(r, n))));
}

function update(r: RestRequest): void {
  const n = namedFunction(r, r.params[0]);
  const p = json(r, UPDATE);
  latestOf(r, n);
  const q = urlQualifier(r, n);
  urlOf(r, n, q);
  const u = r.ctx.store.urls.update(n.tenant, n.name, q, { ...(p.AuthType !== undefined ? { authType: p.AuthType } : {}), ...(p.Cors !== undefined ? { cors: p.Cors } : {}) });
  sendJson(r.res, 200, view(r, u ?? urlOf(r, n, q)));
}

function remove(r: RestRequest): void {
  const n = namedFunction(r, r.params[0]);
  latestOf(r, n);
  const q = urlQualifier(r, n);
  if (!r.ctx.store.urls.delete(n.tenant, n.name, q)) urlOf(r, n, q);
  sendEmpty(r.res, 204);
}

function listUrls(r: RestRequest): void {
  const n = namedFunction(r, r.params[0], 'refused');
  latestOf(r, n);
  const got = page(r.ctx.store.urls.list(n.tenant, n.name), (u) => `q${u.qualifier}`, r.url.searchParams.get('Marker'), queryParam(r, 'MaxItems', queryInt({ min: 1, max: 50 })) ?? 50);
  sendJson(r.res, 200, { FunctionUrlConfigs: got.items.map((u) => view(r, u)), ...(got.next !== undefined ? { NextMarker: got.next } : {}) });
}

const P = '/2021-10-31/functions/([^/]+)';
export const lambdaUrlRoutes: readonly Route[] = [
  { method: 'POST', pattern: new RegExp(`^${P}/url/?$`), handle: create },
  { method: 'GET', pattern: new RegExp(`^${P}/url/?$`), handle: get },
  { method: 'PUT', pattern: new RegExp(`^${P}/url/?$`), handle: update },
  { method: 'DELETE', pattern: new RegExp(`^${P}/url/?$`), handle: remove },
  { method: 'GET', pattern: new RegExp(`^${P}/urls/?$`), handle: listUrls },
];
