// The AWS Lambda Runtime API (version 2018-06-01), one server per instance, so that a runtime written
// for Lambda runs unchanged. The runtime long-polls `/next` for an event and posts its response or
// error; the instance delivers events and hears what the runtime reported through `onReport`.
//
// Status codes follow Lambda's (as its Runtime Interface Emulator implements them): 202 for accepted
// posts; 400 InvalidRequestID for a request id that is not the current invocation's; 403
// InvalidStateTransition for a call the runtime's state does not allow (a response before any event,
// a second response, /next while an invocation is open, /init/error after init); 413
// RequestEntityTooLarge for a response over 6 MB; 404 for unknown paths. Error bodies are
// `{errorMessage, errorType}` JSON.
//
// The API is bound to its instance: with `peerUid` set, each connection's client socket is looked up
// once, when it is accepted (peer-uid.ts), and its requests are held until the owner is known; a
// connection that belongs to another uid (or whose owner cannot be found) gets 403 Forbidden on every
// request, is closed, and is reported through `onRefused`, without touching the invocation's state.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChunkSink } from '../types.ts';
import { randomBytesFast } from '../random.ts';
import { invocationCredentials, NO_INVOCATION } from '../invocation-credentials.ts';
import { connOf, peerLookup, type PeerLookup, type PeerMechanism, type PeerOwner } from './peer-uid.ts';

/** Fare's addition to the Runtime API: the running invocation's credentials (`/2018-06-01/fare/credentials`). */
export const CREDENTIALS = 'fare/credentials';

/**
 * Fare's addition for stem cells (stem-cell.ts): a runtime started before its function is known asks
 * here (`GET /2018-06-01/runtime/fare/stem`, before its first `/next`) and is answered when it is
 * given a function: `{"env": {…}}`, the function's environment, which it takes on before it loads
 * the code — or `{"wait": true}` after STEM_POLL_MS without one, and it asks again. 404 on a Runtime
 * API that was not started for a stem cell.
 */
export const STEM = 'fare/stem';

/**
 * How long a stem cell's `fare/stem` is held before it is answered `{"wait": true}` (ms): the runtime
 * then runs its warm-up again and asks again, so the code and data a cold start needs stay in memory.
 * A process idle for longer has its pages reclaimed by a proactive reclaimer (on the test machine
 * DAMON pages out what was not touched for ≈ 1.2 s): a Node.js cell idle for 2 s took 38 ms to serve
 * its cold start, against 18 ms after 20 ms.
 */
export const STEM_POLL_MS = 500;

/** What a stem cell's runtime is told when it becomes a function's instance. */
export interface StemOrders {
  readonly env: Readonly<Record<string, string>>;
}

/** Lambda's limit on a synchronous response: 6 MB plus a little slack, as its emulator sets it. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/**
 * Lambda's limit on a streamed response (`InvokeWithResponseStream`, a function URL in
 * RESPONSE_STREAM mode): 20 MB. A streamed response invoked without a stream (Invoke) is buffered,
 * and held to MAX_RESPONSE_BYTES.
 */
export const MAX_STREAMED_BYTES = 20 * 1024 * 1024;

/** The header a runtime posts a streamed response with (`Lambda-Runtime-Function-Response-Mode: streaming`). */
const RESPONSE_MODE = 'lambda-runtime-function-response-mode';

/** What a streamed response came to: its chunks as the runtime sent them, their bytes, its content type. */
export interface StreamedResponse {
  readonly chunks: number;
  readonly bytes: number;
  readonly contentType: string;
}

/** The standard Lambda error document. */
export interface ErrorDocument {
  readonly errorMessage: string;
  readonly errorType: string;
  readonly stackTrace?: readonly string[];
}

/** One event for the runtime, as `/next` hands it out. */
export interface InvocationEvent {
  readonly requestId: string;
  readonly payload: Buffer;
  /** Wall-clock deadline (ms since the epoch) for `Lambda-Runtime-Deadline-Ms`. */
  readonly deadlineMs: number;
  /** Client context as JSON text (Lambda decodes the caller's base64 before handing it over). */
  readonly clientContext?: string;
  /** Fare's context token, handed over as `Fare-Context`. */
  readonly fareContext?: string;
  readonly traceId?: string;
  /** The ARN the caller invoked (with the alias or version it named), for `Lambda-Runtime-Invoked-Function-Arn`; default the instance's own. */
  readonly invokedArn?: string;
  /**
   * Where a streamed response goes as it comes, chunk by chunk (the first with its content type);
   * without it a streamed response is buffered and handed over whole, as any other. A promise back
   * holds the runtime's request (the function's writes) until it settles: backpressure.
   */
  readonly onChunk?: ChunkSink;
}

/** What the runtime did, as the instance hears it. */
export type RuntimeReport =
  | { readonly kind: 'next'; readonly first: boolean }
  // `streamed`: the response was posted in streaming mode and its chunks went to the event's
  // `onChunk` (`body` is then empty), or an error ended such a response after it began.
  | { readonly kind: 'response'; readonly requestId: string; readonly body: Buffer; readonly streamed?: StreamedResponse }
  | { readonly kind: 'error'; readonly requestId: string; readonly error: ErrorDocument; readonly body: Buffer; readonly streamed?: StreamedResponse }
  | { readonly kind: 'response-too-large'; readonly requestId: string; readonly bytes: number }
  | { readonly kind: 'init-error'; readonly error: ErrorDocument };

/** A request refused because its connection is not the instance's. */
export interface RefusedRequest {
  readonly method: string;
  readonly path: string;
  /** The client's end of the connection. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The uid and socket inode owning the client's end, or null when no owner was found. */
  readonly uid: number | null;
  readonly inode: number | null;
  readonly expectedUid: number;
  /** Why, in words, e.g. "connection owned by uid 0, not 100123". */
  readonly reason: string;
  readonly mechanism: PeerMechanism;
}

export interface RuntimeApiOptions {
  /** Function name, for `Lambda-Runtime-Invoked-Function-Arn`. */
  readonly functionName: string;
  /** Its tenant (the ARN's account) and region, for the same ARN (default `000000000000`, `us-east-1`). */
  readonly tenant?: string;
  readonly region?: string;
  /** The published version the instance runs (its ARN then ends in `:N`); absent for `$LATEST`. */
  readonly published?: number;
  readonly onReport: (r: RuntimeReport) => void;
  readonly maxResponseBytes?: number;
  /**
   * The uid of the instance's processes: only connections whose client socket this uid owns are
   * answered. Undefined or null: anyone on the machine (tests, and instances run as Fare's own user).
   */
  readonly peerUid?: number | null;
  /** Hears each refused request (the instance logs it). */
  readonly onRefused?: (r: RefusedRequest) => void;
  /** How connections' owners are found; default: the process-wide `peerLookup()`. */
  readonly peerLookup?: PeerLookup;
  /** A stem cell's: its runtime waits on `fare/stem` until `go()` (default false: 404 there). */
  readonly stem?: boolean;
  /** The runtime is waiting on `fare/stem` (a stem cell is ready). */
  readonly onStemWaiting?: () => void;
}

/** A function's ARN; with `published`, the ARN of that published version (`…:function:NAME:2`). */
export const functionArn = (name: string, tenant = '000000000000', region = 'us-east-1', published?: number): string =>
  `arn:aws:lambda:${region}:${tenant}:function:${name}${published !== undefined ? `:${published}` : ''}`;

const PREFIX = '/2018-06-01/runtime/';

type Phase = 'init' | 'running' | 'init-failed';

/** The uid allowed in, and how connections' owners are found. */
interface Peer {
  readonly uid: number;
  readonly lookup: PeerLookup;
}

export class RuntimeApi {
  private phase: Phase = 'init';
  /** The event handed out by /next that has no response yet. */
  private open: InvocationEvent | null = null;
  /** The event delivered that /next has not yet taken. */
  private queued: InvocationEvent | null = null;
  private waiting: ServerResponse | null = null;
  private closed = false;
  private readonly maxBytes: number;
  private arn: string;
  /** A stem cell's orders, once given, and the runtime's request waiting for them (stem-cell.ts). */
  private orders: StemOrders | null = null;
  private stemWaiting: ServerResponse | null = null;
  private stemAnswered = false;
  /** Where reports go (a stem cell's owner changes when it becomes an instance). */
  private onReport: (r: RuntimeReport) => void;
  /** Each connection's owner, known or being looked up, from the moment it is accepted. */
  private readonly owners = new WeakMap<Socket, PeerOwner | Promise<PeerOwner>>();

  private constructor(
    private readonly server: Server,
    private readonly opts: RuntimeApiOptions,
    private readonly peer: Peer | null,
  ) {
    this.maxBytes = opts.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.arn = functionArn(opts.functionName, opts.tenant, opts.region, opts.published);
    this.onReport = opts.onReport;
  }

  /**
   * A stem cell becomes an instance of this function: its ARN, where its reports go from now on,
   * and the orders its runtime is waiting for on `fare/stem` (answered now, or when it asks).
   */
  go(fn: { readonly functionName: string; readonly tenant?: string; readonly region?: string; readonly published?: number }, onReport: (r: RuntimeReport) => void, orders: StemOrders): void {
    if (this.opts.stem !== true || this.orders !== null) throw new Error('FARE_E_STEM_STATE: go() is for a stem cell\'s Runtime API, once');
    this.arn = functionArn(fn.functionName, fn.tenant, fn.region, fn.published);
    this.onReport = onReport;
    this.orders = orders;
    this.answerStem();
  }

  /** Its runtime is waiting for its orders (a stem cell ready to become an instance). */
  get stemReady(): boolean {
    return this.stemWaiting !== null && !this.stemWaiting.destroyed;
  }

  /** Starts a server on 127.0.0.1 with a free port. */
  static async listen(opts: RuntimeApiOptions): Promise<RuntimeApi> {
    const uid = opts.peerUid ?? null;
    const peer: Peer | null = uid === null ? null : { uid, lookup: opts.peerLookup ?? (await peerLookup()) };
    let api: RuntimeApi | null = null;
    const server = createServer((req, res) => api?.admit(req, res));
    // One client, long polls, a runtime that may be frozen mid-request: no server-side timeouts.
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    server.keepAliveTimeout = 0;
    api = new RuntimeApi(server, opts, peer);
    if (peer !== null) server.on('connection', (s: Socket) => void api?.ownerOf(s, peer));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return api;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The value for AWS_LAMBDA_RUNTIME_API. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Whether an invocation has been delivered and not yet answered (or abandoned). */
  get busy(): boolean {
    return this.open !== null || this.queued !== null;
  }

  /** Whether the runtime is waiting on /next. */
  get polling(): boolean {
    return this.waiting !== null;
  }

  /** Hands an event to the runtime: now if it is waiting on /next, else when it next asks. */
  deliver(ev: InvocationEvent): void {
    if (this.busy) throw new Error(`FARE_E_RUNTIME_BUSY: invocation ${this.open?.requestId ?? this.queued?.requestId} is still open; deliver one at a time`);
    this.queued = ev;
    this.flush();
  }

  /** Forgets the current invocation (it timed out or its instance is being killed); late posts get 400. */
  abandon(): void {
    this.open = null;
    this.queued = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abandon();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private flush(): void {
    const res = this.waiting;
    const ev = this.queued;
    if (res === null || ev === null) return;
    this.waiting = null;
    this.queued = null;
    this.open = ev;
    const h: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'Content-Length': ev.payload.length,
      'Lambda-Runtime-Aws-Request-Id': ev.requestId,
      'Lambda-Runtime-Deadline-Ms': String(Math.floor(ev.deadlineMs)),
      'Lambda-Runtime-Invoked-Function-Arn': ev.invokedArn ?? this.arn,
      'Lambda-Runtime-Trace-Id': ev.traceId ?? newTraceId(Date.now()),
    };
    if (ev.clientContext !== undefined) h['Lambda-Runtime-Client-Context'] = asciiJson(ev.clientContext);
    if (ev.fareContext !== undefined) h['Fare-Context'] = ev.fareContext;
    res.writeHead(200, h);
    res.end(ev.payload);
  }

  /** Looks the connection's owner up once (when accepted) and keeps it on the socket. */
  private ownerOf(s: Socket, peer: Peer): PeerOwner | Promise<PeerOwner> {
    const known = this.owners.get(s);
    if (known !== undefined) return known;
    const o = peer.lookup.owner(connOf(s));
    this.owners.set(s, o);
    if (o instanceof Promise) void o.then((v) => this.owners.set(s, v));
    return o;
  }

  /** Serves the request if its connection is the instance's, once that is known. */
  private admit(req: IncomingMessage, res: ServerResponse): void {
    const peer = this.peer;
    if (peer === null) return this.handle(req, res);
    const o = this.ownerOf(req.socket, peer);
    if (o instanceof Promise) void o.then((v) => this.judge(v, peer, req, res));
    else this.judge(o, peer, req, res);
  }

  private judge(o: PeerOwner, peer: Peer, req: IncomingMessage, res: ServerResponse): void {
    if (o.found && o.uid === peer.uid) return this.handle(req, res);
    reply(res, 403, { errorMessage: 'This Runtime API answers only the processes of its own function instance.', errorType: 'Forbidden' }, true);
    this.opts.onRefused?.({
      method: req.method ?? '',
      path: (req.url ?? '').split('?', 1)[0] ?? '',
      remoteAddress: req.socket.remoteAddress ?? '',
      remotePort: req.socket.remotePort ?? 0,
      uid: o.found ? o.uid : null,
      inode: o.found ? o.inode : null,
      expectedUid: peer.uid,
      reason: o.found ? `connection owned by uid ${o.uid}, not ${peer.uid}` : o.reason,
      mechanism: peer.lookup.mechanism,
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const refuse = (status: number, doc: ErrorDocument): void => {
      req.resume(); // discard any body so the connection stays usable
      reply(res, status, doc);
    };
    const wrongMethod = (want: string): void => refuse(405, { errorMessage: `use ${want} for ${path}`, errorType: 'MethodNotAllowed' });
    const rest = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : null;
    if (rest === 'invocation/next') return req.method === 'GET' ? this.next(req, res) : wrongMethod('GET');
    if (rest === 'init/error') return req.method === 'POST' ? this.initError(req, res) : wrongMethod('POST');
    if (rest === CREDENTIALS) return req.method === 'GET' ? this.credentials(req, res) : wrongMethod('GET');
    if (rest === STEM && this.opts.stem === true) return req.method === 'GET' ? this.stem(req, res) : wrongMethod('GET');
    const m = rest === null ? null : /^invocation\/([^/]+)\/(response|error)$/.exec(rest);
    if (!m?.[1] || !m[2]) return refuse(404, notFound(path));
    if (req.method !== 'POST') return wrongMethod('POST');
    let id: string;
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      return refuse(400, invalidRequestId());
    }
    this.post(req, res, id, m[2] === 'error');
  }

  /**
   * The running invocation's AWS credentials (invocation-credentials.ts), in the container
   * credentials format the AWS SDKs read from AWS_CONTAINER_CREDENTIALS_FULL_URI. They expire a
   * minute from now, so SDKs ask again at their next call (and each invocation gets its own).
   */
  private credentials(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const token = this.open?.fareContext;
    // Outside an invocation: credentials every gateway refuses (SDKs that load them eagerly at
    // start-up, as boto3 does, need some; they load them again within a minute).
    const c = (token === undefined ? undefined : invocationCredentials(token)) ?? NO_INVOCATION;
    reply(res, 200, { AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, Expiration: new Date(Date.now() + 60_000).toISOString() });
  }

  /** A stem cell's runtime asks for its orders: held until `go()`; once only, before its first /next. */
  private stem(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (this.stemAnswered || this.phase !== 'init' || this.stemWaiting !== null) return reply(res, 403, stateError('Stem', 'stem'));
    this.stemWaiting = res;
    // No orders within STEM_POLL_MS: `{"wait": true}`, and the runtime runs its warm-up again before
    // it asks again (see STEM_POLL_MS).
    const timer = setTimeout(() => {
      if (this.stemWaiting !== res) return;
      this.stemWaiting = null;
      reply(res, 200, { wait: true });
    }, STEM_POLL_MS);
    timer.unref();
    res.once('close', () => {
      clearTimeout(timer);
      if (this.stemWaiting === res) this.stemWaiting = null;
    });
    if (this.orders === null) this.opts.onStemWaiting?.();
    this.answerStem();
  }

  private answerStem(): void {
    const res = this.stemWaiting;
    if (res === null || this.orders === null) return;
    this.stemWaiting = null;
    this.stemAnswered = true;
    reply(res, 200, { env: this.orders.env });
  }

  private next(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (this.phase === 'init-failed') return reply(res, 403, stateError('InitError', 'next'));
    if (this.open !== null) return reply(res, 403, stateError('Invoke', 'next'));
    // A runtime that polls again (its client gave up on the old poll) gets the event on the newest poll.
    if (this.waiting !== null) reply(this.waiting, 403, stateError('Next', 'next'));
    this.waiting = res;
    res.once('close', () => {
      if (this.waiting === res) this.waiting = null;
    });
    const first = this.phase === 'init';
    this.phase = 'running';
    this.onReport({ kind: 'next', first });
    this.flush();
  }

  private initError(req: IncomingMessage, res: ServerResponse): void {
    if (this.phase !== 'init') {
      req.resume();
      return reply(res, 403, stateError(this.phase === 'running' ? 'Ready' : 'InitError', 'initError'));
    }
    this.phase = 'init-failed';
    readBody(req, this.maxBytes, (body) => {
      reply(res, 202, { status: 'OK' });
      this.onReport({ kind: 'init-error', error: errorDocument(body ?? Buffer.alloc(0), req.headers['lambda-runtime-function-error-type']) });
    });
  }

  private post(req: IncomingMessage, res: ServerResponse, id: string, isError: boolean): void {
    const ev = this.open;
    if (ev === null) {
      req.resume();
      return reply(res, 403, stateError(this.phase === 'init' ? 'Init' : 'Ready', isError ? 'invocationErrorResponse' : 'invocationResponse'));
    }
    if (id !== ev.requestId) {
      req.resume();
      return reply(res, 400, invalidRequestId());
    }
    if (!isError && req.headers[RESPONSE_MODE] === 'streaming' && ev.onChunk !== undefined) return this.stream(req, res, ev, ev.onChunk);
    readBody(req, this.maxBytes, (body, bytes) => {
      if (this.open !== ev) return reply(res, 400, invalidRequestId()); // abandoned while reading
      this.open = null;
      if (body === null) {
        reply(res, 413, {
          errorMessage: `Exceeded maximum allowed payload size (${this.maxBytes} bytes).`,
          errorType: 'RequestEntityTooLarge',
        });
        return this.onReport({ kind: 'response-too-large', requestId: id, bytes });
      }
      reply(res, 202, { status: 'OK' });
      // A streamed response that nobody streams (an Invoke): whole, unless it ended in an error.
      const failed = isError ? undefined : streamError(req);
      if (isError || failed !== undefined) {
        const error = failed ?? errorDocument(body, req.headers['lambda-runtime-function-error-type']);
        this.onReport({ kind: 'error', requestId: id, error, body: failed === undefined ? body : Buffer.from(JSON.stringify(error)) });
      } else {
        this.onReport({ kind: 'response', requestId: id, body });
      }
    });
  }

  /**
   * A response posted in streaming mode, for an event whose caller streams it: each chunk goes to
   * `onChunk` as it comes (up to MAX_STREAMED_BYTES), and while it is not taken (a promise back) the
   * request is paused, so the function's writes wait (TCP's own flow control); the end reports the
   * response, or the error its trailers carry.
   */
  private stream(req: IncomingMessage, res: ServerResponse, ev: InvocationEvent, onChunk: ChunkSink): void {
    const type = req.headers['content-type'];
    const contentType = typeof type === 'string' && type !== '' ? type : 'application/octet-stream';
    let chunks = 0;
    let bytes = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over || this.open !== ev) return;
      if (bytes + c.length > MAX_STREAMED_BYTES) {
        over = true;
        return;
      }
      bytes += c.length;
      chunks++;
      const held = onChunk(c, contentType);
      if (held !== undefined) {
        req.pause();
        const go = (): void => {
          req.resume();
        };
        held.then(go, go);
      }
    });
    req.once('error', () => undefined);
    req.once('end', () => {
      if (this.open !== ev) return reply(res, 400, invalidRequestId()); // abandoned while streaming
      this.open = null;
      const streamed: StreamedResponse = { chunks, bytes, contentType };
      const id = ev.requestId;
      if (over) {
        reply(res, 413, { errorMessage: `Exceeded maximum allowed payload size (${MAX_STREAMED_BYTES} bytes).`, errorType: 'RequestEntityTooLarge' });
        const error = { errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_STREAMED_BYTES} bytes).`, errorType: 'Function.ResponseSizeTooLarge' };
        return this.onReport({ kind: 'error', requestId: id, error, body: Buffer.from(JSON.stringify(error)), streamed });
      }
      reply(res, 202, { status: 'OK' });
      const error = streamError(req);
      if (error !== undefined) this.onReport({ kind: 'error', requestId: id, error, body: Buffer.from(JSON.stringify(error)), streamed });
      else this.onReport({ kind: 'response', requestId: id, body: Buffer.alloc(0), streamed });
    });
  }
}

/**
 * The error a streamed response ended with, from its trailers (`Lambda-Runtime-Function-Error-Type`,
 * and `-Body`: the error document in base64); undefined if it ended well.
 */
function streamError(req: IncomingMessage): ErrorDocument | undefined {
  if (req.headers[RESPONSE_MODE] !== 'streaming') return undefined;
  const type = req.trailers['lambda-runtime-function-error-type'];
  const body = req.trailers['lambda-runtime-function-error-body'];
  if (type === undefined && body === undefined) return undefined;
  return errorDocument(Buffer.from(body ?? '', 'base64'), type ?? 'Runtime.StreamError');
}

/** Reads a body up to `max` bytes; past that, drains the rest and hands over null with the size seen. */
function readBody(req: IncomingMessage, max: number, done: (body: Buffer | null, bytes: number) => void): void {
  const declared = Number(req.headers['content-length'] ?? NaN);
  let chunks: Buffer[] | null = Number.isFinite(declared) && declared > max ? null : [];
  let bytes = 0;
  req.on('data', (c: Buffer) => {
    bytes += c.length;
    if (chunks !== null && bytes > max) chunks = null;
    chunks?.push(c);
  });
  req.once('end', () => done(chunks === null ? null : Buffer.concat(chunks, bytes), bytes));
  req.once('error', () => undefined);
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  const h: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
  if (close) h['Connection'] = 'close';
  res.writeHead(status, h);
  res.end(text);
}

const notFound = (path: string): ErrorDocument => ({ errorMessage: `no such Runtime API resource: ${path}`, errorType: 'NotFound' });
const invalidRequestId = (): ErrorDocument => ({ errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
const stateError = (from: string, to: string): ErrorDocument => ({
  errorMessage: `State transition from ${from} to ${to} failed for runtime.`,
  errorType: 'InvalidStateTransition',
});

/**
 * The error document from a posted body; when the body is not one, Lambda builds it from the
 * `Lambda-Runtime-Function-Error-Type` header.
 */
export function errorDocument(body: Buffer, headerType: string | string[] | undefined): ErrorDocument {
  const fallbackType = (Array.isArray(headerType) ? headerType[0] : headerType) ?? 'Runtime.Unknown';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === 'object' && parsed !== null) {
    const o = parsed as Record<string, unknown>;
    const errorType = typeof o['errorType'] === 'string' && o['errorType'] !== '' ? o['errorType'] : fallbackType;
    const errorMessage = typeof o['errorMessage'] === 'string' ? o['errorMessage'] : '';
    const st = o['stackTrace'];
    const stackTrace = Array.isArray(st) ? st.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : undefined;
    return stackTrace ? { errorMessage, errorType, stackTrace } : { errorMessage, errorType };
  }
  return { errorMessage: body.length > 0 ? body.toString('utf8').slice(0, 4096) : 'Unknown application error occurred', errorType: fallbackType };
}

/** An X-Ray style trace header: Root=1-<epoch hex>-<96 random bits>;Parent=<64 random bits>;Sampled=0. */
function newTraceId(nowMs: number): string {
  const r = randomBytesFast(20).toString('hex');
  return `Root=1-${Math.floor(nowMs / 1000).toString(16).padStart(8, '0')}-${r.slice(0, 24)};Parent=${r.slice(24, 40)};Sampled=0`;
}

/** JSON text as a header value: one line, non-ASCII escaped (header values must be Latin-1). */
function asciiJson(text: string): string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text.replace(/[^\x20-\x7e]/g, '');
  }
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
