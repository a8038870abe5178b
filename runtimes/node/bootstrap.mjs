// Fare's Node.js runtime: a small client of the AWS Lambda Runtime API (2018-06-01). It loads the
// handler named by _HANDLER (`path/to/file.export`) from LAMBDA_TASK_ROOT, reports init errors to
// /init/error and exits, then loops: GET /next, run the handler, POST /response or /error.
//
// Handlers may be async, return a value, or take a callback `(event, context, callback)`. Modules:
// `.mjs` by import(), `.cjs` by require(), `.js` by import() with a require() fallback.
// Response streaming, as Lambda's Node.js runtime offers it: a handler wrapped in the global
// `awslambda.streamifyResponse(async (event, responseStream, context) => …)` writes its response to
// `responseStream` (a Writable; `setContentType()` before the first write; `awslambda.HttpResponseStream
// .from(stream, { statusCode, headers, cookies })` for a function URL's status and headers), and the
// runtime posts it as it comes, chunked, with the Runtime API's streaming mode; an error after the
// first byte goes in the trailers (`Lambda-Runtime-Function-Error-Type`/`-Body`).
// It speaks HTTP/1.1 to the Runtime API itself, over one kept-alive connection (node:net): node:http's
// client cost ~150 µs of CPU per request here, twice per invocation and on its critical path; this
// costs a tenth of that. (No fetch: undici's 300 s headers timeout would break a long-idle /next poll.)
/* global process, console, Buffer */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const env = process.env;
const [apiHost = '127.0.0.1', apiPort = '9001'] = (env['AWS_LAMBDA_RUNTIME_API'] ?? '127.0.0.1:9001').split(':');
const BASE = '/2018-06-01/runtime';
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * @typedef {Record<string, string>} Headers lower-case names; repeated headers joined with ", "
 * @typedef {{ status: number, headers: Headers, body: Buffer }} ApiResponse
 * @typedef {{ errorType: string, errorMessage: string, stackTrace: string[] }} ErrorDoc
 * @typedef {(event: unknown, context: Context, callback: (err?: unknown, result?: unknown) => void) => unknown} Handler
 * @typedef {{ socket: net.Socket, data: (chunk: Buffer) => void, end: (err: Error | null) => void }} Pending
 */

/** The kept-alive connection (null: none yet, or closed) and the request waiting for its answer (on its socket: a
 *  connection closed after an answer must not end the next request, on the next connection). */
/** @type {net.Socket | null} */
let sock = null;
/** @type {Pending | null} */
let pending = null;

function connect() {
  const s = net.connect({ host: apiHost, port: Number(apiPort) });
  s.setNoDelay(true);
  s.on('data', (/** @type {Buffer} */ c) => {
    if (pending?.socket === s) pending.data(c);
  });
  s.on('error', (err) => {
    if (sock === s) sock = null;
    if (pending?.socket === s) pending.end(err);
  });
  s.on('close', () => {
    if (sock === s) sock = null;
    if (pending?.socket === s) pending.end(null);
  });
  return s;
}

/**
 * Decodes a chunked body; undefined until all of it is in `b`.
 * @param {Buffer} b
 * @returns {Buffer | undefined}
 */
function dechunk(b) {
  /** @type {Buffer[]} */
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('Runtime API: bad chunk size');
    if (size === 0) return b.indexOf(HEADER_END, eol - 2) < 0 ? undefined : Buffer.concat(parts);
    if (b.length < eol + 2 + size + 2) return undefined;
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * One request on the kept-alive connection; a connection the server closed while it was idle is
 * replaced once (as node:http's agent would).
 * @param {'GET' | 'POST'} method
 * @param {string} p
 * @param {Buffer | null | ((s: net.Socket) => void)} body a function writes a chunked body itself (and is
 *   called once: a request whose body has begun is never sent again)
 * @param {Record<string, string>} headers
 * @param {number} attempt
 * @returns {Promise<ApiResponse>}
 */
function send(method, p, body, headers, attempt) {
  return new Promise((resolve, reject) => {
    const reused = sock !== null;
    const s = sock ?? (sock = connect());
    let head = `${method} ${BASE}${p} HTTP/1.1\r\nHost: ${apiHost}:${apiPort}\r\n`;
    for (const k of Object.keys(headers)) head += `${k}: ${headers[k]}\r\n`;
    head += typeof body === 'function' ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${body ? body.length : 0}\r\n\r\n`;
    /** @type {Buffer | null} */
    let acc = null;
    /** @type {{ status: number, headers: Headers, start: number, length: number, chunked: boolean, close: boolean } | null} */
    let res = null;
    /** @param {Buffer} b */
    const done = (b) => {
      pending = null;
      if (res?.close) {
        s.destroy();
        if (sock === s) sock = null;
      }
      resolve({ status: res?.status ?? 0, headers: res?.headers ?? {}, body: b });
    };
    pending = {
      socket: s,
      data(chunk) {
        acc = acc === null ? chunk : Buffer.concat([acc, chunk]);
        try {
          if (res === null) {
            const end = acc.indexOf(HEADER_END);
            if (end < 0) return;
            const lines = acc.subarray(0, end).toString('latin1').split('\r\n');
            const status = Number((lines[0] ?? '').split(' ')[1]);
            if (!Number.isInteger(status)) throw new Error(`Runtime API: bad status line ${JSON.stringify(lines[0])}`);
            /** @type {Headers} */
            const h = {};
            for (let i = 1; i < lines.length; i++) {
              const line = lines[i] ?? '';
              const colon = line.indexOf(':');
              if (colon <= 0) continue;
              const name = line.slice(0, colon).trim().toLowerCase();
              const value = line.slice(colon + 1).trim();
              h[name] = h[name] === undefined ? value : `${h[name]}, ${value}`;
            }
            const chunked = /\bchunked\b/i.test(h['transfer-encoding'] ?? '');
            const length = chunked ? -1 : h['content-length'] === undefined ? -1 : Number(h['content-length']);
            res = { status, headers: h, start: end + 4, length, chunked, close: /\bclose\b/i.test(h['connection'] ?? '') || (!chunked && length < 0) };
          }
          const b = acc.subarray(res.start);
          if (res.chunked) {
            const whole = dechunk(b);
            if (whole !== undefined) done(whole);
          } else if (res.length >= 0 && b.length >= res.length) {
            done(b.subarray(0, res.length));
          }
        } catch (e) {
          pending = null;
          s.destroy();
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
      end(err) {
        pending = null;
        s.destroy();
        // A body delimited by the end of the connection is complete now.
        if (err === null && res !== null && res.length < 0 && !res.chunked) return done(/** @type {Buffer} */ (acc).subarray(res.start));
        // The server closed a kept-alive connection before answering anything: once more on a new one.
        if (reused && acc === null && attempt === 0 && typeof body !== 'function') return void send(method, p, body, headers, 1).then(resolve, reject);
        reject(err ?? new Error(`Runtime API closed the connection during ${method} ${p}`));
      },
    };
    if (typeof body === 'function') {
      s.write(head);
      body(s);
    } else {
      s.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
    }
  });
}

/** Requests go one at a time (the connection carries one): a second waits for the first. */
let queue = Promise.resolve();

/**
 * @param {'GET' | 'POST'} method
 * @param {string} p
 * @param {Buffer | null | ((s: net.Socket) => void)} body
 * @param {Record<string, string>} [headers]
 * @returns {Promise<ApiResponse>}
 */
function request(method, p, body, headers = {}) {
  const r = queue.then(() => send(method, p, body, headers, 0));
  queue = r.then(() => undefined, () => undefined);
  return r;
}

/**
 * @param {unknown} err
 * @param {string} [type]
 * @returns {ErrorDoc}
 */
function toErrorDoc(err, type) {
  if (err instanceof Error) {
    return {
      errorType: type ?? (err.name || 'Error'),
      errorMessage: err.message,
      stackTrace: (err.stack ?? '').split('\n'),
    };
  }
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { errorType: type ?? (typeof err === 'string' ? 'string' : 'Error'), errorMessage: message, stackTrace: [] };
}

/**
 * @param {string} p
 * @param {ErrorDoc} doc
 */
function postError(p, doc) {
  const body = Buffer.from(JSON.stringify(doc));
  return request('POST', p, body, { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': doc.errorType });
}

/** @param {unknown} err @param {string} [type] */
async function initFailed(err, type) {
  const doc = toErrorDoc(err, type);
  console.error(`INIT_ERROR ${doc.errorType}: ${doc.errorMessage}`);
  try {
    await postError('/init/error', doc);
  } finally {
    process.exit(1);
  }
}

class HandlerError extends Error {
  /** @param {string} type @param {string} message */
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

// ---- response streaming (`awslambda.streamifyResponse`) ------------------------------------------

/** How Lambda's runtime marks a streaming handler (and its stream's buffer size) on the function. */
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
/** The content type of a response that starts with a function URL's status and headers (`HttpResponseStream`). */
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';

/** @type {ResponseStream | null} the open invocation's stream, if its handler streams */
let currentStream = null;

/**
 * The `responseStream` a streaming handler writes to: its first write (or its end) opens the POST to
 * `/response` in streaming mode, and each write goes out at once as a chunk of that POST's body.
 */
class ResponseStream extends Writable {
  /** @param {string} p the invocation's path (`/invocation/<id>`) @param {number | undefined} highWaterMark */
  constructor(p, highWaterMark) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this._path = p;
    this._contentType = 'application/octet-stream';
    /** @type {Promise<net.Socket> | null} */
    this._socket = null;
    /** @type {Promise<ApiResponse> | null} the POST's answer, once it has begun */
    this.posted = null;
    this._ended = false;
  }

  /** @param {string} type the response's content type; before the first write */
  setContentType(type) {
    if (this._socket !== null) throw new Error('setContentType() must be called before the first write to the response stream');
    this._contentType = String(type);
  }

  /** Opens the POST, once: resolves with the connection once its head is written. */
  _open() {
    if (this._socket === null) {
      this._socket = new Promise((resolve) => {
        this.posted = request('POST', `${this._path}/response`, resolve, {
          'Content-Type': this._contentType,
          'Lambda-Runtime-Function-Response-Mode': 'streaming',
          Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
        });
        // A POST that fails before its body began (the connection is gone) fails the stream's writes too.
        this.posted.catch(() => undefined);
      });
    }
    return this._socket;
  }

  /** @param {Buffer | string} chunk @param {BufferEncoding} encoding @param {(err?: Error | null) => void} cb */
  _write(chunk, encoding, cb) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    this._open().then((s) => {
      if (b.length === 0) return cb();
      if (s.destroyed) return cb(new Error('the Runtime API connection closed during a streamed response'));
      s.write(`${b.length.toString(16)}\r\n`);
      s.write(b);
      if (s.write('\r\n')) cb();
      else s.once('drain', () => cb());
    }, cb);
  }

  /** @param {(err?: Error | null) => void} cb */
  _final(cb) {
    void this._close(null).then(() => cb(), cb);
  }

  /**
   * Ends the body: what the function printed is flushed first (Fare reads it before it ends the
   * invocation), then the last chunk, with the error in the trailers if there is one.
   * @param {ErrorDoc | null} error
   */
  async _close(error) {
    if (this._ended) return;
    this._ended = true;
    const s = await this._open();
    await flushOutput();
    let last = '0\r\n';
    if (error !== null) {
      last += `Lambda-Runtime-Function-Error-Type: ${error.errorType.replace(/[^\x20-\x7e]/g, '?')}\r\n`;
      last += `Lambda-Runtime-Function-Error-Body: ${Buffer.from(JSON.stringify(error)).toString('base64')}\r\n`;
    }
    s.write(`${last}\r\n`);
  }

  /** The handler failed: the response ends here with its error (what was written before stays sent). @param {ErrorDoc} error */
  async fail(error) {
    await this._close(error);
    return /** @type {Promise<ApiResponse>} */ (this.posted);
  }
}

/** `awslambda`, the global Lambda's Node.js runtime gives handlers for response streaming. */
const awslambda = {
  /**
   * @param {(event: unknown, responseStream: ResponseStream, context: Context) => unknown} handler
   * @param {{ highWaterMark?: number }} [options]
   */
  streamifyResponse(handler, options) {
    if (typeof handler !== 'function') throw new TypeError('awslambda.streamifyResponse takes the handler function');
    Object.defineProperty(handler, STREAMING, { value: 'response' });
    if (options?.highWaterMark !== undefined) Object.defineProperty(handler, HIGH_WATER_MARK, { value: options.highWaterMark });
    return handler;
  },
  HttpResponseStream: class HttpResponseStream {
    /**
     * The stream, its response now beginning with a function URL's status, headers and cookies.
     * @param {ResponseStream} stream
     * @param {{ statusCode?: number, headers?: Record<string, string>, cookies?: string[] }} prelude
     */
    static from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION);
      stream.write(JSON.stringify(prelude ?? {}));
      stream.write(new Uint8Array(8));
      return stream;
    }
  },
};
Object.defineProperty(globalThis, 'awslambda', { value: awslambda, enumerable: false, configurable: true, writable: true });

/**
 * Runs a streaming handler: its stream is ended when its promise settles (if it did not end it),
 * with the error in the trailers if it failed. Resolves with the POST's answer.
 * @param {Handler} handler
 * @param {unknown} event
 * @param {Context} ctx
 * @param {string} p
 * @returns {Promise<ApiResponse>}
 */
async function runStreaming(handler, event, ctx, p) {
  const hwm = /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (handler))[HIGH_WATER_MARK];
  const stream = new ResponseStream(p, typeof hwm === 'number' ? hwm : undefined);
  currentStream = stream;
  try {
    const streaming = /** @type {(e: unknown, s: ResponseStream, c: Context) => unknown} */ (/** @type {unknown} */ (handler));
    await streaming(event, stream, ctx);
    if (!stream.writableEnded) stream.end();
    await new Promise((resolve, reject) => {
      if (stream.writableFinished) return resolve(undefined);
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    return await /** @type {Promise<ApiResponse>} */ (stream.posted);
  } catch (e) {
    const doc = toErrorDoc(e);
    console.error(`${ctx.awsRequestId} ERROR ${doc.errorType}: ${doc.errorMessage}`);
    return await stream.fail(doc);
  } finally {
    currentStream = null;
  }
}

/**
 * Loads `dir/file.export.path` from the task root.
 * @param {string} root
 * @param {string} spec
 * @returns {Promise<Handler>}
 */
async function loadHandler(root, spec) {
  const dir = path.dirname(spec);
  const base = path.basename(spec);
  const dot = base.indexOf('.');
  if (dot <= 0 || dot === base.length - 1) throw new HandlerError('Runtime.MalformedHandlerName', `Bad handler ${spec}: use file.function`);
  const modulePath = path.resolve(root, dir, base.slice(0, dot));
  const exportPath = base.slice(dot + 1).split('.');
  const file = ['.mjs', '.js', '.cjs'].map((ext) => modulePath + ext).find((f) => existsSync(f));
  if (file === undefined) throw new HandlerError('Runtime.ImportModuleError', `Error: Cannot find module '${base.slice(0, dot)}' in ${path.resolve(root, dir)}`);
  const require = createRequire(path.join(root, 'noop.js'));
  /** @type {unknown} */
  let mod;
  try {
    if (file.endsWith('.cjs')) mod = require(file);
    else {
      try {
        mod = await import(pathToFileURL(file).href);
      } catch (e) {
        const code = /** @type {NodeJS.ErrnoException} */ (e).code;
        if (!file.endsWith('.js') || e instanceof SyntaxError || code === 'ERR_MODULE_NOT_FOUND') throw e;
        mod = require(file);
      }
    }
  } catch (e) {
    if (e instanceof SyntaxError) throw new HandlerError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    const code = /** @type {NodeJS.ErrnoException} */ (e).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new HandlerError('Runtime.ImportModuleError', String(e));
    throw e;
  }
  /** @param {unknown} from */
  const lookup = (from) => {
    /** @type {unknown} */
    let v = from;
    for (const k of exportPath) v = v !== null && (typeof v === 'object' || typeof v === 'function') ? /** @type {Record<string, unknown>} */ (v)[k] : undefined;
    return v;
  };
  let fn = lookup(mod);
  if (typeof fn !== 'function' && mod !== null && typeof mod === 'object' && 'default' in mod) fn = lookup(mod.default);
  if (typeof fn !== 'function') throw new HandlerError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  return /** @type {Handler} */ (fn);
}

/** The instance's fixed part of every context (process.env is read once: each read is a call into C++). */
const fixedContext = () => ({
  functionName: env['AWS_LAMBDA_FUNCTION_NAME'] ?? '',
  functionVersion: env['AWS_LAMBDA_FUNCTION_VERSION'] ?? '$LATEST',
  memoryLimitInMB: env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'] ?? '128',
  logGroupName: env['AWS_LAMBDA_LOG_GROUP_NAME'] ?? '',
  logStreamName: env['AWS_LAMBDA_LOG_STREAM_NAME'] ?? '',
});
let FIXED = fixedContext();

/**
 * A stem cell (a runtime Fare started before knowing its function: FARE_STEM=1) waits here until it
 * is given one: it takes on that function's environment — exactly, nothing of the stem's is left —
 * and then loads the code, as any cold start does. Asked once, before the first /next.
 */
async function becomeInstance() {
  /** @type {{ env?: Record<string, string>, wait?: boolean }} */
  let orders;
  for (;;) {
    // While it waits nothing else runs: a request, an import and an invocation of its own, so their
    // code is compiled ahead (V8 compiles a function when it first runs) and not on the cold start's
    // path — and again each time Fare says to wait (≈ 0.5 s), so it stays in memory.
    await request('GET', '/fare/credentials', null);
    const warm = 'data:text/javascript,export const warm = 1;';
    await import(warm);
    JSON.stringify(await run(() => Promise.resolve(null), JSON.parse('{}'), new Context('stem-warm-up', 0, {})));
    const r = await request('GET', '/fare/stem', null);
    if (r.status !== 200) throw new Error(`Runtime API /fare/stem answered ${r.status}: ${r.body.toString()}`);
    /** @type {unknown} */
    const parsed = JSON.parse(r.body.toString('utf8'));
    orders = /** @type {{ env?: Record<string, string>, wait?: boolean }} */ (parsed);
    if (orders.wait !== true) break;
  }
  if (orders.env === undefined) throw new Error('Runtime API /fare/stem answered no environment');
  for (const k of Object.keys(env)) if (!Object.hasOwn(orders.env, k)) delete env[k];
  for (const [k, v] of Object.entries(orders.env)) env[k] = v;
  FIXED = fixedContext();
  // Its directory was renamed to the instance's: Node caches the working directory's path, and
  // argv names the bootstrap by its path at start.
  if (env['LAMBDA_TASK_ROOT'] !== undefined) process.chdir(env['LAMBDA_TASK_ROOT']);
  if (env['LAMBDA_RUNTIME_DIR'] !== undefined) process.argv[1] = path.join(env['LAMBDA_RUNTIME_DIR'], 'bootstrap.mjs');
}

/** The Lambda context object, plus Fare's context token. */
class Context {
  /**
   * @param {string} requestId
   * @param {number} deadline
   * @param {Headers} h
   */
  constructor(requestId, deadline, h) {
    this.awsRequestId = requestId;
    this.functionName = FIXED.functionName;
    this.functionVersion = FIXED.functionVersion;
    this.invokedFunctionArn = String(h['lambda-runtime-invoked-function-arn'] ?? '');
    this.memoryLimitInMB = FIXED.memoryLimitInMB;
    this.logGroupName = FIXED.logGroupName;
    this.logStreamName = FIXED.logStreamName;
    this.callbackWaitsForEmptyEventLoop = true;
    const cc = h['lambda-runtime-client-context'];
    /** @type {unknown} */
    this.clientContext = undefined;
    if (typeof cc === 'string' && cc !== '') {
      try {
        this.clientContext = JSON.parse(cc);
      } catch {
        this.clientContext = cc;
      }
    }
    const fare = h['fare-context'];
    /** Token to pass to Fare when this function invokes others, so they inherit its class. */
    this.fareContext = typeof fare === 'string' ? fare : undefined;
    this._deadline = deadline;
  }

  getRemainingTimeInMillis() {
    return Math.max(0, this._deadline - Date.now());
  }
}

/** @type {string | null} */
let current = null;

/**
 * Runs one handler call: a returned promise, a callback, or a plain return value settle it.
 * @param {Handler} handler
 * @param {unknown} event
 * @param {Context} ctx
 * @returns {Promise<unknown>}
 */
function run(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    let settled = false;
    /** @param {unknown} err @param {unknown} [value] */
    const callback = (err, value) => {
      if (settled) return;
      settled = true;
      // Lambda handlers may fail with any value (callback('oops')); it is reported as given.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      if (err !== undefined && err !== null) reject(err);
      else resolve(value);
    };
    Object.assign(ctx, {
      succeed: (/** @type {unknown} */ v) => callback(null, v),
      fail: (/** @type {unknown} */ e) => callback(e ?? new Error('handled')),
      done: callback,
    });
    const r = handler(event, ctx, callback);
    if (r !== null && typeof r === 'object' && 'then' in r && typeof r.then === 'function') {
      /** @type {PromiseLike<unknown>} */ (r).then((v) => callback(null, v), (e) => callback(e ?? new Error('rejected')));
    } else if (handler.length < 3) {
      callback(null, r);
    }
  });
}

/**
 * Resolves when what the handler printed has been handed to the pipes (Node buffers writes to a
 * pipe that is full): the output is then the invocation's, read by Fare before it ends the
 * invocation, not lost when the instance is frozen after its answer. Free when nothing waits.
 */
function flushOutput() {
  /** @type {Promise<void>[]} */
  const pending = [];
  for (const s of [process.stdout, process.stderr]) {
    if (s.writableLength > 0) pending.push(new Promise((resolve) => s.write('', () => resolve())));
  }
  return pending.length === 0 ? undefined : Promise.all(pending);
}

/** Errors that escape the handler: report them against the open invocation, then exit like Lambda. */
function fatal(/** @type {unknown} */ err, /** @type {string} */ type) {
  const doc = toErrorDoc(err, err instanceof Error ? undefined : type);
  console.error(`${type}: ${doc.errorMessage}`);
  const id = current;
  const exit = () => process.exit(129);
  if (id === null) exit();
  // A streamed response holds the connection: its error ends it, in its trailers.
  else if (currentStream !== null) currentStream.fail(doc).then(exit, exit);
  else postError(`/invocation/${encodeURIComponent(id)}/error`, doc).then(exit, exit);
}

async function main() {
  if (env['FARE_STEM'] === '1') await becomeInstance();
  const root = env['LAMBDA_TASK_ROOT'] ?? process.cwd();
  /** @type {Handler} */
  let handler;
  try {
    handler = await loadHandler(root, env['_HANDLER'] ?? '');
  } catch (e) {
    await initFailed(e);
    return;
  }
  process.on('uncaughtException', (e) => fatal(e, 'Runtime.UncaughtException'));
  process.on('unhandledRejection', (e) => fatal(e, 'Runtime.UnhandledPromiseRejection'));

  for (;;) {
    const next = await request('GET', '/invocation/next', null);
    if (next.status !== 200) throw new Error(`Runtime API /next answered ${next.status}: ${next.body.toString()}`);
    const id = String(next.headers['lambda-runtime-aws-request-id'] ?? '');
    const trace = next.headers['lambda-runtime-trace-id'];
    if (typeof trace === 'string') process.env['_X_AMZN_TRACE_ID'] = trace;
    else delete process.env['_X_AMZN_TRACE_ID'];
    current = id;
    const ctx = new Context(id, Number(next.headers['lambda-runtime-deadline-ms'] ?? 0), next.headers);
    const p = `/invocation/${encodeURIComponent(id)}`;
    /** @type {ApiResponse} */
    let posted;
    try {
      const text = next.body.length === 0 ? 'null' : next.body.toString('utf8');
      /** @type {unknown} */
      let event;
      try {
        event = JSON.parse(text);
      } catch {
        event = text;
      }
      if (/** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (handler))[STREAMING] === 'response') {
        posted = await runStreaming(handler, event, ctx, p);
        current = null;
        if (posted.status >= 500) process.exit(1);
        continue;
      }
      const result = await run(handler, event, ctx);
      let out;
      try {
        out = JSON.stringify(result === undefined ? null : result);
      } catch (e) {
        throw new HandlerError('Runtime.MarshalError', `Unable to stringify response body: ${String(e)}`);
      }
      await flushOutput();
      posted = await request('POST', `${p}/response`, Buffer.from(out), { 'Content-Type': 'application/json' });
    } catch (e) {
      const doc = toErrorDoc(e);
      console.error(`${id} ERROR ${doc.errorType}: ${doc.errorMessage}`);
      await flushOutput();
      posted = await postError(`${p}/error`, doc);
    }
    current = null;
    if (posted.status >= 500) process.exit(1);
  }
}

await main();
