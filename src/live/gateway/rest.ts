// Fare's own REST API under /v1: a table of routes, each with its body limit, dispatched after
// authentication. Handlers validate their input once and work on plain typed values.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticatedBody, type Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { parseJson } from './http.ts';
import { ValidationError, type Check } from './validate.ts';

export interface RestRequest {
  readonly ctx: GatewayContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Path parameters, decoded, in pattern order. */
  readonly params: readonly string[];
  readonly principal: Principal;
  readonly body: Buffer;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly pattern: RegExp;
  /** `upload`: code upload bodies (tens of MB); `json`: everything else. */
  readonly body?: 'json' | 'upload';
  handle(r: RestRequest): Promise<void> | void;
}

export async function dispatchRest(ctx: GatewayContext, routes: readonly Route[], req: IncomingMessage, res: ServerResponse, url: URL, unknown?: () => ApiError): Promise<void> {
  const path = url.pathname;
  const matching = routes.filter((r) => r.pattern.test(path));
  if (matching.length === 0) throw unknown?.() ?? notFound('FARE_E_ROUTE_NOT_FOUND', `there is no ${path} in the Fare API: see src/live/gateway/README.md for the routes`);
  const route = matching.find((r) => r.method === req.method);
  if (route === undefined) {
    const allow = matching.map((r) => r.method).join(', ');
    throw new ApiError({ status: 405, code: 'FARE_E_METHOD_NOT_ALLOWED', message: `${path} takes ${allow}, not ${req.method ?? '?'}`, lambdaType: 'UnknownOperationException', headers: { Allow: allow } });
  }
  const m = route.pattern.exec(path) ?? [];
  let params: string[];
  try {
    params = m.slice(1).map((p) => decodeURIComponent(p ?? ''));
  } catch {
    throw badRequest('FARE_E_INVALID_REQUEST', `${path} has an invalid percent-encoding`);
  }
  const limit = route.body === 'upload' ? ctx.limits.uploadBodyBytes : ctx.limits.jsonBodyBytes;
  const { principal, body } = await authenticatedBody(ctx.auth, req, limit, `the request body is larger than ${limit} bytes`);
  await route.handle({ ctx, req, res, url, params, principal, body });
}

/** Parses the JSON body with `check`; an empty body counts as `{}` when `emptyOk`. */
export function jsonBody<T>(r: RestRequest, check: Check<T>, emptyOk = false): T {
  const value = emptyOk && r.body.length === 0 ? {} : parseJson(r.body);
  return validated(() => check(value, ''));
}

/** Runs validators, turning their errors into a 400 FARE_E_INVALID_REQUEST. */
export function validated<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValidationError) throw badRequest('FARE_E_INVALID_REQUEST', e.message);
    throw e;
  }
}

/** One query parameter, validated; undefined when absent. */
export function queryParam<T>(r: RestRequest, name: string, check: Check<T>): T | undefined {
  const v = r.url.searchParams.get(name);
  return v === null ? undefined : validated(() => check(v, `?${name}`));
}
