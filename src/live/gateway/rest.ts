// The route tables of both APIs (Fare's REST API under /v1, Lambda's control plane): each route is
// declared once with its path template, its schemas (path parameters, query, JSON body, answers)
// and its handler. The dispatcher authenticates, validates path and query before the handler runs,
// and the body when the handler asks for it (`r.json()`); `r.reply` sends an answer of a declared
// status (checked against its schema when the gateway runs with `checkResponses`, as in tests).
// The same declarations are the API description (openapi.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { noteRequest } from './access-log.ts';
import { authenticatedBody, type Principal } from './auth.ts';
import type { GatewayContext } from './context.ts';
import { ApiError, badRequest, internal, notFound } from './errors.ts';
import { parseJson, sendEmpty, sendJson } from './http.ts';
import { parse, ValidationError, z } from './schema.ts';

export interface RestRequest {
  readonly ctx: GatewayContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Path parameters, decoded, in template order. */
  readonly params: readonly string[];
  readonly principal: Principal;
  readonly body: Buffer;
}

/** An answer without a body (204, or 202). */
export const EMPTY = { kind: 'empty' } as const;
/** An answer whose body is bytes the handler writes itself (a function's result, a zip). */
export const BYTES = (mediaType: string, description: string) => ({ kind: 'bytes', mediaType, description }) as const;
type Answer = z.ZodType | typeof EMPTY | ReturnType<typeof BYTES>;
export type Answers = Readonly<Record<number, Answer>>;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type ParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}` ? N | ParamNames<Rest> : never;
type QueryShape = Readonly<Record<string, z.ZodType>>;

export interface RouteSpec<P extends string, Q extends QueryShape, B extends z.ZodType, A extends Answers> {
  readonly method: Method;
  /** The path, with `{name}` for each parameter (one segment each). */
  readonly path: P;
  /** The operation's name (Lambda's for its API: CreateFunction, …). */
  readonly operation: string;
  readonly summary: string;
  /** Who may call it, in words (for the API description). */
  readonly who?: string;
  /** Schemas of the path parameters; a parameter left out is any non-empty segment. */
  readonly params?: Partial<Record<ParamNames<P>, z.ZodType<string, string>>>;
  /** Query parameters (each optional unless its schema says otherwise); others are ignored. */
  readonly query?: Q;
  /** The JSON body. */
  readonly request?: B;
  /** `upload`: code upload bodies (tens of MB); `json` (default): everything else. */
  readonly body?: 'json' | 'upload';
  /** An empty body counts as `{}`. */
  readonly emptyBody?: boolean;
  /** Another body than JSON the route also takes (for the API description). */
  readonly altBody?: { readonly mediaType: string; readonly description: string };
  readonly answers: A;
  handle(r: RouteRequest<P, Q, B, A>): Promise<void> | void;
}

type AnswerBody<X> = X extends z.ZodType ? [body: z.input<X>, headers?: Readonly<Record<string, string>>] : X extends typeof EMPTY ? [body?: undefined, headers?: Readonly<Record<string, string>>] : never;

export interface RouteRequest<P extends string, Q extends QueryShape, B extends z.ZodType, A extends Answers> extends RestRequest {
  /** Path parameters by name, validated. */
  readonly path: Readonly<Record<ParamNames<P>, string>>;
  /** Query parameters, validated (absent ones undefined). */
  readonly query: { readonly [K in keyof Q]: z.output<Q[K]> | undefined };
  /** The body, parsed as JSON and validated by the route's schema. */
  json(): z.output<B>;
  /** Answers with a declared status and a body of its schema. */
  reply<S extends keyof A & number>(status: S, ...rest: AnswerBody<A[S]>): void;
}

/** A route as the dispatcher and the API description see it. */
export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly spec: RouteSpec<string, QueryShape, z.ZodType, Answers>;
}

/** Declares a route; the handler's types follow from its schemas. */
export function route<const P extends string, Q extends QueryShape = Record<never, never>, B extends z.ZodType = z.ZodNever, A extends Answers = Answers>(spec: RouteSpec<P, Q, B, A>): Route {
  const names: string[] = [];
  const source = spec.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([A-Za-z]+)\}/g, (_, n: string) => {
    names.push(n);
    return '([^/]+)';
  });
  return { method: spec.method, path: spec.path, pattern: new RegExp(`^${source}/?$`), names, spec: spec };
}

export async function dispatchRest(ctx: GatewayContext, routes: readonly Route[], req: IncomingMessage, res: ServerResponse, url: URL, unknown?: () => ApiError): Promise<void> {
  const path = url.pathname;
  const matching = routes.filter((r) => r.pattern.test(path));
  if (matching.length === 0) throw unknown?.() ?? notFound('FARE_E_ROUTE_NOT_FOUND', `there is no ${path} in the Fare API: see GET /openapi.json or src/live/gateway/README.md for the routes`);
  const route = matching.find((r) => r.method === req.method);
  if (route === undefined) {
    const allow = matching.map((r) => r.method).join(', ');
    throw new ApiError({ status: 405, code: 'FARE_E_METHOD_NOT_ALLOWED', message: `${path} takes ${allow}, not ${req.method ?? '?'}`, lambdaType: 'UnknownOperationException', headers: { Allow: allow } });
  }
  noteRequest(req, { operation: route.spec.operation });
  const m = route.pattern.exec(path) ?? [];
  let params: string[];
  try {
    params = m.slice(1).map((p) => decodeURIComponent(p ?? ''));
  } catch {
    throw badRequest('FARE_E_INVALID_REQUEST', `${path} has an invalid percent-encoding`);
  }
  const spec = route.spec;
  const byName: Record<string, string> = {};
  route.names.forEach((n, i) => {
    const schema = (spec.params as Record<string, z.ZodType> | undefined)?.[n];
    byName[n] = schema === undefined ? (params[i] ?? '') : (validated(() => parse(schema, params[i], n)) as string);
  });
  const limit = spec.body === 'upload' ? ctx.limits.uploadBodyBytes : ctx.limits.jsonBodyBytes;
  const { principal, body } = await authenticatedBody(ctx.auth, req, limit, `the request body is larger than ${limit} bytes`);
  noteRequest(req, { tenant: principal.tenant });
  const query: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(spec.query ?? {})) {
    const v = url.searchParams.get(name);
    query[name] = v === null ? undefined : validated(() => parse(schema, v, `?${name}`));
  }
  const r: RouteRequest<string, QueryShape, z.ZodType, Answers> = {
    ctx,
    req,
    res,
    url,
    params,
    principal,
    body,
    path: byName,
    query,
    json: () => {
      if (spec.request === undefined) throw new Error(`${spec.operation} declares no request body`);
      const value = spec.emptyBody === true && body.length === 0 ? {} : parseJson(body);
      return validated(() => parse(spec.request as z.ZodType, value));
    },
    reply: (status: number, payload?: unknown, headers: Readonly<Record<string, string>> = {}) => {
      const answer = spec.answers[status];
      if (answer === undefined) throw new Error(`${spec.operation} has no ${status} answer declared`);
      if ('kind' in answer) {
        if (answer.kind !== 'empty') throw new Error(`${spec.operation}'s ${status} answer is bytes: the handler writes it`);
        sendEmpty(res, status, headers);
        return;
      }
      if (ctx.checkResponses) {
        const checked = (answer).safeParse(JSON.parse(JSON.stringify(payload)));
        if (!checked.success) throw internal(`the ${status} answer of ${spec.operation} does not fit its schema: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      sendJson(res, status, payload, headers);
    },
  };
  await spec.handle(r);
}

/** Runs validators, turning their errors into a 400 (FARE_E_INVALID_REQUEST unless the schema named another code). */
export function validated<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValidationError) throw badRequest(e.code ?? 'FARE_E_INVALID_REQUEST', e.message, e.lambdaType);
    throw e;
  }
}

/** One query parameter read by hand (for routes that take other parameters depending on the body), validated. */
export function queryParam<S extends z.ZodType>(r: RestRequest, name: string, schema: S): z.output<S> | undefined {
  const v = r.url.searchParams.get(name);
  return v === null ? undefined : validated(() => parse(schema, v, `?${name}`));
}
