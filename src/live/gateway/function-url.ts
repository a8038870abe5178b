// Requests to a function URL (`/url/<id>/…`, or any path on a Host `<id>.lambda-url.…`): each is an
// invocation of the function's `$LATEST` or alias in Lambda's payload format 2.0 (method, path,
// query, headers, cookies, body, base64 for binary), admitted against the owner's budget, run at the
// function's class and billed as any invocation (invoke-sync.ts); the function's result becomes the
// HTTP response (statusCode, headers, cookies, body, isBase64Encoded; any other JSON value is the
// body of a 200, as Lambda does) — or, for a URL in RESPONSE_STREAM mode, the response is streamed as
// the function writes it (`StreamedUrlResponse`). `AWS_IAM` URLs need a SigV4 signature (or Fare's Bearer token) of a
// tenant that may invoke the function; `NONE` URLs are public and the owner pays. CORS answered here.

import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Principal } from './auth.ts';
import { authenticatedBody } from './auth.ts';
import { invocableFunction, ownClassIndex, type GatewayContext } from './context.ts';
import { ApiError } from './errors.ts';
import { ownDeadline } from './fare-context.ts';
import { readBody, sendJson, whenDrained } from './http.ts';
import { admitOrThrow, runSync } from './invoke-sync.ts';
import type { FunctionUrl, UrlCors } from '../store/index.ts';
import type { InvocationAnswer } from '../types.ts';
import { noteRequest } from './access-log.ts';
import { startTrace, traceAnswerHeaders, traceHeadersOf } from './trace.ts';

const TEXT_TYPE = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/** An error of a function URL, answered as Lambda's URLs do: `{"Message": …}` with the status. */
class UrlError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Serves one request to the function URL `id`; `path` is the request's path within the URL. */
export async function serveFunctionUrl(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, id: string, path: string, requestId: string): Promise<void> {
  try {
    const u = ctx.store.urls.byId(id);
    if (u === undefined) throw new UrlError(404, 'Not Found: no function URL here (it may have been deleted)');
    const origin = req.headers.origin;
    const cors = corsHeaders(u.cors, typeof origin === 'string' ? origin : undefined);
    if (req.method === 'OPTIONS' && cors !== undefined && req.headers['access-control-request-method'] !== undefined) {
      res.writeHead(200, { ...cors, ...preflight(u.cors), 'x-amzn-RequestId': requestId, 'Content-Length': '0' });
      res.end();
      return;
    }
    await invoke(ctx, req, res, u, path, requestId, cors ?? {});
  } catch (e) {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e instanceof UrlError) {
      sendJson(res, e.status, { Message: e.message }, { 'x-amzn-RequestId': requestId, ...e.headers });
    } else if (e instanceof ApiError) {
      // Authentication, budget and platform refusals keep their status, code and Retry-After.
      sendJson(res, e.lambdaStatus, { Message: e.message, ...e.lambdaBody }, { 'x-amzn-RequestId': requestId, 'X-Amzn-ErrorType': e.lambdaType, 'X-Fare-Error-Code': e.code, ...e.headers });
    } else {
      throw e;
    }
  }
}

async function invoke(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, u: FunctionUrl, path: string, requestId: string, cors: Record<string, string>): Promise<void> {
  noteRequest(req, { tenant: u.tenant, function: u.name });
  const limit = ctx.limits.syncPayloadBytes;
  const tooLarge = `Request must be smaller than ${limit} bytes for a function URL`;
  let principal: Principal | undefined;
  let body: Buffer;
  let latest;
  if (u.authType === 'AWS_IAM') {
    ({ principal, body } = await authenticatedBody(ctx.auth, req, limit, tooLarge));
    // The signer's tenant must be allowed to invoke the function (its own, or granted).
    latest = invocableFunction(ctx, principal, u.tenant, u.name);
  } else {
    body = await readBody(req, limit, tooLarge);
    latest = ctx.store.functions.get(u.tenant, u.name);
  }
  // A weighted alias's URL runs its additional version with its weight's probability, as Invoke does.
  const target = latest === undefined ? undefined : ctx.store.versions.resolve(u.tenant, u.name, u.qualifier === '' ? undefined : u.qualifier, () => latest, ctx.draw());
  if (target === undefined) throw new UrlError(404, 'Not Found: the function or alias of this URL no longer exists');
  const fn = target.fn;
  const ownCls = ownClassIndex(ctx, fn);
  const admitted = admitOrThrow(ctx, fn, ownCls);
  const event = eventOf(ctx, req, u, path, body, requestId, principal);
  const fareHeaders: Record<string, string> = { ...cors, 'x-amzn-RequestId': requestId, 'X-Fare-Class': admitted.clsName };
  if (admitted.budget !== undefined) fareHeaders['X-Fare-Budget'] = admitted.budget;
  // The caller's trace (traceparent, else X-Amzn-Trace-Id) with a new span, or a new trace.
  const trace = startTrace(traceHeadersOf(req.headers), undefined, ctx.clock());
  traceAnswerHeaders(trace, fareHeaders);
  noteRequest(req, { traceId: trace.traceId });
  const call = { requestId, fn, ownCls, callerTenant: principal?.tenant ?? u.tenant, admitted, deadline: ownDeadline(ctx.clock(), fn.timeoutMs), payload: Buffer.from(JSON.stringify(event)), tail: false, trace };
  if (u.invokeMode === 'RESPONSE_STREAM') {
    const out = new StreamedUrlResponse(res, fareHeaders);
    try {
      await runSync(ctx, { ...call, onChunk: (chunk, type) => out.chunk(chunk, type) }, (a) => out.answer(a));
    } catch (e) {
      if (!res.headersSent) throw e;
      // The response has begun: it can only be cut off (the client sees it end without its last chunk).
      res.destroy();
    }
    return;
  }
  await runSync(ctx, call, (a) => respond(res, a, fareHeaders));
}

/** The content type of a streamed response that begins with its status, headers and cookies (`awslambda.HttpResponseStream`). */
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
/** The 8 zero bytes that end that beginning (the prelude, JSON). */
const PRELUDE_END = Buffer.alloc(8);
/** A prelude longer than this is not one. */
const MAX_PRELUDE_BYTES = 64 * 1024;

/**
 * A URL's response in RESPONSE_STREAM mode: each part the function streams goes to the client as it
 * comes (chunked). A response of `HttpResponseStream.from(stream, {statusCode, headers, cookies})`
 * begins with that prelude, which sets the status and headers; any other is a 200 of the content
 * type the function set (application/octet-stream by default). A function that does not stream is
 * answered as in BUFFERED mode. A failure after the first part cuts the response off.
 */
class StreamedUrlResponse {
  /** The prelude's bytes while it is incomplete (an HTTP integration response), else null. */
  private prelude: Buffer | null = null;
  private parts = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly base: Record<string, string>,
  ) {}

  /** Writes a part: a promise back while the client has not read what was written (see whenDrained). */
  chunk(data: Buffer, contentType: string): Promise<void> | undefined {
    this.write(data, contentType);
    return this.res.destroyed ? undefined : whenDrained(this.res);
  }

  private write(data: Buffer, contentType: string): void {
    this.parts++;
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.res.headersSent) {
      this.res.write(data);
      return;
    }
    if (this.prelude === null && !contentType.toLowerCase().startsWith(HTTP_INTEGRATION)) {
      this.begin(200, { 'Content-Type': contentType }, []);
      if (!this.res.writableEnded) this.res.write(data);
      return;
    }
    const seen = this.prelude === null ? data : Buffer.concat([this.prelude, data]);
    const end = seen.indexOf(PRELUDE_END);
    if (end < 0) {
      if (seen.length > MAX_PRELUDE_BYTES) {
        this.prelude = null;
        sendJson(this.res, 502, { Message: `Internal Server Error: the function's HTTP response prelude (awslambda.HttpResponseStream) did not end within ${MAX_PRELUDE_BYTES} bytes` }, this.base);
        return;
      }
      this.prelude = seen;
      return;
    }
    this.prelude = null;
    this.beginWithPrelude(seen.subarray(0, end));
    const rest = seen.subarray(end + PRELUDE_END.length);
    if (rest.length > 0 && !this.res.writableEnded) this.res.write(rest);
  }

  private beginWithPrelude(json: Buffer): void {
    let p: { statusCode?: unknown; headers?: Record<string, unknown>; cookies?: unknown };
    try {
      p = JSON.parse(json.toString('utf8')) as typeof p;
    } catch {
      p = { statusCode: 502 };
    }
    const status = typeof p.statusCode === 'number' && Number.isInteger(p.statusCode) && p.statusCode >= 100 && p.statusCode <= 599 ? p.statusCode : p.statusCode === undefined ? 200 : 502;
    const headers: Record<string, string> = {};
    if (typeof p.headers === 'object' && p.headers !== null) {
      for (const [k, v] of Object.entries(p.headers)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') headers[k] = String(v);
    }
    this.begin(status, headers, Array.isArray(p.cookies) ? p.cookies.map(String) : []);
  }

  private begin(status: number, headers: Record<string, string>, cookies: string[]): void {
    const h: Record<string, string | string[]> = Object.assign({}, this.base, headers);
    if (cookies.length > 0) h['Set-Cookie'] = cookies;
    if (badHeader(this.res, h, this.base)) return;
    this.res.writeHead(status, h);
    this.res.socket?.setNoDelay(true);
  }

  answer(a: InvocationAnswer): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    const streamed = a.streamed;
    if (this.res.headersSent) {
      // An error after the first part (the function's, a timeout, a crash), or parts lost between
      // the worker and this gateway: cut off, never ended as if whole.
      if (a.status === 'error' || streamed === undefined || this.parts < streamed.chunks) this.res.destroy();
      else this.res.end();
      return;
    }
    if (streamed === undefined) {
      respond(this.res, a, this.base);
      return;
    }
    if (a.status === 'error' || this.parts < streamed.chunks) {
      sendJson(this.res, 502, { Message: 'Internal Server Error' }, { ...this.base, 'X-Amz-Function-Error': a.functionError ?? 'Unhandled' });
      return;
    }
    if (this.prelude !== null) this.beginWithPrelude(this.prelude);
    else this.begin(200, { 'Content-Type': streamed.contentType }, []);
    if (!this.res.writableEnded) this.res.end();
  }
}

/** Lambda's payload format 2.0 for a request. */
function eventOf(ctx: GatewayContext, req: IncomingMessage, u: FunctionUrl, path: string, body: Buffer, requestId: string, principal: Principal | undefined) {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawQueryString = q < 0 ? '' : raw.slice(q + 1);
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = (req.rawHeaders[i] ?? '').toLowerCase();
    if (k === 'cookie') continue;
    const v = req.rawHeaders[i + 1] ?? '';
    headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
  }
  const cookieHeader = req.headers.cookie;
  const cookies = cookieHeader === undefined ? [] : cookieHeader.split(/;\s*/).filter((c) => c !== '');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const text = TEXT_TYPE.test(headers['content-type'] ?? '') || body.length === 0;
  const now = ctx.clock();
  const host = headers.host ?? '';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: principal?.tenant ?? 'anonymous',
      apiId: u.id,
      ...(principal !== undefined ? { authorizer: { iam: { accessKey: principal.accessKeyId, accountId: principal.tenant, callerId: principal.accessKeyId, userArn: `arn:aws:iam::${principal.tenant}:user/${principal.accessKeyId}`, userId: principal.accessKeyId } } } : {}),
      domainName: host,
      domainPrefix: u.id,
      http: { method: req.method ?? 'GET', path, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now,
    },
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !text,
  };
}

/** The HTTP response of a function's answer, as Lambda maps it for URLs. */
function respond(res: ServerResponse, a: InvocationAnswer, base: Record<string, string>): void {
  if (a.status === 'error') {
    sendJson(res, 502, { Message: 'Internal Server Error' }, { ...base, 'X-Amz-Function-Error': a.functionError ?? 'Unhandled' });
    return;
  }
  let value: unknown;
  try {
    value = a.payload.length === 0 ? null : JSON.parse(a.payload.toString('utf8'));
  } catch {
    sendJson(res, 502, { Message: 'Internal Server Error: the function answered something that is not JSON' }, base);
    return;
  }
  const shaped = typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { statusCode?: unknown }).statusCode === 'number';
  if (!shaped) {
    const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    res.writeHead(200, { ...base, 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
    res.end(body);
    return;
  }
  const r = value as { statusCode: number; headers?: Record<string, unknown>; cookies?: unknown; body?: unknown; isBase64Encoded?: unknown };
  if (!Number.isInteger(r.statusCode) || r.statusCode < 100 || r.statusCode > 599) {
    sendJson(res, 502, { Message: `Internal Server Error: the function answered statusCode ${r.statusCode}, which is not an HTTP status` }, base);
    return;
  }
  const headers: Record<string, string | string[]> = { ...base };
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') headers[k] = String(v);
  }
  if (Array.isArray(r.cookies) && r.cookies.length > 0) headers['Set-Cookie'] = r.cookies.map(String);
  if (badHeader(res, headers, base)) return;
  const text = typeof r.body === 'string' ? r.body : r.body === undefined || r.body === null ? '' : JSON.stringify(r.body);
  const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text);
  headers['Content-Length'] = String(body.length);
  res.writeHead(r.statusCode, headers);
  res.end(body);
}

/**
 * Answers 502 if one of the headers the function set cannot be sent (a name that is not a token, a
 * value with a line break or a control character): true when it did.
 */
function badHeader(res: ServerResponse, headers: Record<string, string | string[]>, base: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(headers)) {
    try {
      validateHeaderName(k);
      for (const x of Array.isArray(v) ? v : [v]) validateHeaderValue(k, x);
    } catch {
      sendJson(res, 502, { Message: `Internal Server Error: the function answered a header an HTTP response cannot carry (${k.replace(/[^\x21-\x7e]/g, '?').slice(0, 100)})` }, base);
      return true;
    }
  }
  return false;
}

/** CORS headers for a request from `origin`, or undefined when the URL has no CORS or the origin is not allowed. */
function corsHeaders(c: UrlCors, origin: string | undefined): Record<string, string> | undefined {
  const origins = c.AllowOrigins ?? [];
  if (origin === undefined || origins.length === 0) return undefined;
  const any = origins.includes('*');
  if (!any && !origins.includes(origin)) return undefined;
  return {
    'Access-Control-Allow-Origin': any && c.AllowCredentials !== true ? '*' : origin,
    ...(c.AllowCredentials === true ? { 'Access-Control-Allow-Credentials': 'true' } : {}),
    ...((c.ExposeHeaders ?? []).length > 0 ? { 'Access-Control-Expose-Headers': (c.ExposeHeaders ?? []).join(',') } : {}),
    Vary: 'Origin',
  };
}

function preflight(c: UrlCors): Record<string, string> {
  return {
    ...((c.AllowMethods ?? []).length > 0 ? { 'Access-Control-Allow-Methods': (c.AllowMethods ?? []).join(',') } : {}),
    ...((c.AllowHeaders ?? []).length > 0 ? { 'Access-Control-Allow-Headers': (c.AllowHeaders ?? []).join(',') } : {}),
    ...(c.MaxAge !== undefined ? { 'Access-Control-Max-Age': String(c.MaxAge) } : {}),
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `05/Dec/2026:16:00:00 +0000`, the time format of payload 2.0. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()] ?? ''}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
