// A client's connection to a running Fare: the endpoint and credential (flags, else FARE_ENDPOINT and
// FARE_KEY), and calls whose failures become one-line `FARE_E_…` errors saying what to do.
// Calls go through node:http, not fetch: fetch's first use loads undici, about 40 ms of a command's
// start-up (bench/cli.ts).

import type { IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import { UsageError } from './args.ts';

export interface Conn {
  readonly endpoint: string;
  readonly key: string;
}

/** The endpoint and credential from `--endpoint` / `--key`, else the environment; refuses a missing credential. */
export function conn(values: Record<string, unknown>): Conn {
  const endpoint = ((values.endpoint as string | undefined) ?? process.env.FARE_ENDPOINT ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(endpoint)) throw new UsageError(`the endpoint ${endpoint} is not an http:// or https:// URL: set FARE_ENDPOINT or --endpoint to where Fare listens, e.g. http://127.0.0.1:8080`);
  const key = (values.key as string | undefined) ?? process.env.FARE_KEY;
  const from = values.key !== undefined ? '--key' : 'FARE_KEY';
  if (key && /FARE_KEY=/.test(key)) {
    // The credential file's text, or its line, given whole (e.g. FARE_KEY=$(cat .fare/admin-credential)).
    throw new UsageError(`${from} holds a credential file's text, not a credential: give it only what follows FARE_KEY= on its line (e.g. export $(grep ^FARE_KEY= .fare/admin-credential))`);
  }
  if (!key || !key.includes(':')) throw new UsageError('no credential: set FARE_KEY=<access key id>:<secret> (fare up writes the admin\'s to .fare/admin-credential) or pass --key');
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(key)) throw new UsageError(`${from} has a space or a control character (a line break?) in it: it must be <access key id>:<secret> alone, as fare up or fare tenant create printed it`);
  return { endpoint, key };
}

/** A failed call, with a stable code: Fare's own `FARE_E_…`, `FARE_E_API` for an error without one, `FARE_E_UNREACHABLE` when Fare did not answer. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export interface Answer {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly text: string;
}

/** What a call is about, for its error messages: `notFound` replaces a 404's message. */
export interface CallContext {
  readonly notFound?: string;
}

/** The exception names with which the Lambda API (as AWS) answers a credential it does not accept. */
const AUTH_TYPES = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'IncompleteSignatureException', 'MissingAuthenticationTokenException']);

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** A status ≥ 400 as the one line the user sees. */
export function failure(c: Conn, status: number, text: string, errorType: string | null, ctx: CallContext = {}, fareCodeHeader: string | null = null): ApiError {
  let msg = text;
  // Lambda-shaped and Scheduler-shaped errors carry Fare's own code in X-Fare-Error-Code.
  let code = fareCodeHeader?.startsWith('FARE_E_') === true ? fareCodeHeader : errorType ?? '';
  try {
    const j = JSON.parse(text) as { error?: { code?: string; message?: string }; message?: string; Message?: string; code?: string };
    msg = j.error?.message ?? j.message ?? j.Message ?? text;
    code = j.error?.code ?? j.code ?? code;
  } catch {
    // not JSON: keep the text
  }
  msg = oneLine(msg) || `HTTP ${status}`;
  const fareCode = code.startsWith('FARE_E_') ? code : undefined;
  if (status === 401 || (status === 403 && (AUTH_TYPES.has(errorType ?? '') || (fareCode?.startsWith('FARE_E_AUTH') ?? false)))) {
    const id = c.key.slice(0, c.key.indexOf(':'));
    return new ApiError(fareCode ?? 'FARE_E_AUTH_INVALID', `Fare at ${c.endpoint} did not accept the credential ${id}:…: set FARE_KEY or --key to <access key id>:<secret> as it was created (fare up writes the admin's to <data-dir>/admin-credential)`, status);
  }
  if (status === 403) return new ApiError(fareCode ?? 'FARE_E_FORBIDDEN', `not allowed with this credential: ${msg}`, status);
  if (status === 404 && ctx.notFound !== undefined) return new ApiError(fareCode ?? 'FARE_E_NOT_FOUND', ctx.notFound, status);
  return new ApiError(fareCode ?? 'FARE_E_API', `${status}${code && !fareCode ? ` ${code}` : ''}: ${msg}`, status);
}

/** Why a request got no answer, in words, and what to do. */
function unreachable(c: Conn, e: NodeJS.ErrnoException): ApiError {
  const hint = 'start Fare with "fare up", or set FARE_ENDPOINT or --endpoint to where it listens';
  switch (e.code ?? '') {
    case 'ECONNREFUSED':
      return new ApiError('FARE_E_UNREACHABLE', `Fare is not running at ${c.endpoint} (connection refused): ${hint}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ApiError('FARE_E_UNREACHABLE', `cannot reach Fare at ${c.endpoint}: the host name ${e.message.split(' ').pop() ?? ''} is not known: ${hint}`);
    default:
      return new ApiError('FARE_E_UNREACHABLE', `cannot reach Fare at ${c.endpoint} (${oneLine(e.message)}): ${hint}`);
  }
}

function headerGetter(h: IncomingHttpHeaders): Answer['headers'] {
  return {
    get(name) {
      const v = h[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

/** One request with the Bearer credential (a Buffer body as is, anything else as JSON); a status ≥ 400 throws. */
export async function call(c: Conn, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, ctx: CallContext = {}): Promise<Answer> {
  return send(c, method, path, body, headers, ctx);
}

/**
 * `call`, but an answer below 400 is handed to `onBody` part by part as it comes (its `text` is then
 * empty): for an answer that streams.
 */
/**
 * A call whose answer's body is handed to `onBody` part by part as it comes (when it succeeds); a
 * promise back stops reading the answer until it settles, so a slow consumer (a pipe) slows the
 * function that streams it rather than filling this process's memory.
 */
export function callStreaming(c: Conn, method: string, path: string, body: Buffer, headers: Record<string, string>, ctx: CallContext, onBody: (part: Buffer) => void | Promise<void>): Promise<Answer> {
  return send(c, method, path, body, headers, ctx, onBody);
}

async function send(c: Conn, method: string, path: string, body: unknown, headers: Record<string, string>, ctx: CallContext, onBody?: (part: Buffer) => void | Promise<void>): Promise<Answer> {
  const url = new URL(`${c.endpoint}${path}`);
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const data = body === undefined ? undefined : body instanceof Buffer ? body : Buffer.from(JSON.stringify(body));
  const opts: RequestOptions = {
    method,
    headers: {
      Authorization: `Bearer ${c.key}`,
      ...(body !== undefined && !(body instanceof Buffer) ? { 'Content-Type': 'application/json' } : {}),
      ...(data !== undefined ? { 'Content-Length': String(data.length) } : {}),
      ...headers,
    },
  };
  const res = await new Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>((done, fail) => {
    const req = request(url, opts, (r: IncomingMessage) => {
      const chunks: Buffer[] = [];
      const stream = onBody !== undefined && (r.statusCode ?? 0) < 400;
      r.on('data', (b: Buffer) => {
        if (!stream) return void chunks.push(b);
        const held = onBody(b);
        if (held === undefined) return;
        r.pause();
        const go = (): void => void r.resume();
        held.then(go, go);
      });
      r.on('end', () => done({ status: r.statusCode ?? 0, headers: r.headers, text: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', fail);
      // A connection cut before the answer's end (Fare stopped, or a streamed response cut off).
      r.on('close', () => {
        if (!r.complete) fail(new ApiError('FARE_E_CUT_OFF', `Fare at ${c.endpoint} closed the connection before the answer was complete: call again`));
      });
    });
    req.on('error', (e) => fail(unreachable(c, e)));
    req.end(data);
  });
  if (res.status >= 400) {
    const type = res.headers['x-amzn-errortype'];
    const fareCode = res.headers['x-fare-error-code'];
    throw failure(c, res.status, res.text, typeof type === 'string' ? type.split(':')[0] ?? null : null, ctx, typeof fareCode === 'string' ? fareCode : null);
  }
  return { status: res.status, headers: headerGetter(res.headers), text: res.text };
}
