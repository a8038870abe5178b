// Reading requests and writing responses over node:http: bodies with a size limit, JSON in and
// out, and the two error renderings (Fare's `{error: {code, message}}` and Lambda's).

import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, badRequest, tooLarge, type FareErrorCode } from './errors.ts';

/** Past this many bytes over the limit a request is cut off instead of drained for a clean 413. */
const DRAIN_SLACK = 16 * 1024 * 1024;

/**
 * Undefined if `res` takes more writes now; else a promise that settles once it has sent what it
 * holds (`drain`) or is gone (`close`): a streamed response's chunks are held meanwhile.
 */
export function whenDrained(res: ServerResponse): Promise<void> | undefined {
  if (!res.writableNeedDrain || res.destroyed) return undefined;
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Reads the whole body, up to `limit` bytes. A larger body is drained (so the client reads the 413
 * instead of a reset connection) and answered with `FARE_E_PAYLOAD_TOO_LARGE` / RequestTooLargeException.
 */
export function readBody(req: IncomingMessage, limit: number, tooLargeMessage: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > limit;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (over) {
        chunks.length = 0;
        if (size > limit + DRAIN_SLACK) req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) reject(tooLarge('FARE_E_PAYLOAD_TOO_LARGE', tooLargeMessage));
      else resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (over) reject(tooLarge('FARE_E_PAYLOAD_TOO_LARGE', tooLargeMessage));
      else if (!req.complete) reject(badRequest('FARE_E_INVALID_REQUEST', 'the client closed the connection before the whole body arrived'));
    });
  });
}

export function parseJson(body: Buffer, what = 'the request body'): unknown {
  if (body.length === 0) throw badRequest('FARE_E_INVALID_JSON', `${what} is empty: send a JSON object`);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (e) {
    throw badRequest('FARE_E_INVALID_JSON', `${what} is not valid JSON (${(e as Error).message}): send a JSON object with Content-Type: application/json`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

export function sendFareError(res: ServerResponse, e: ApiError, headers: Readonly<Record<string, string>> = {}): void {
  sendJson(res, e.status, { error: { code: e.code, message: e.message } }, { ...e.headers, ...headers });
}

/**
 * Lambda's error shape: the exception name in `X-Amzn-ErrorType`, and `{"Type", "Message"}` in the
 * body (plus members such as `Reason`), which is what the AWS SDKs parse. Fare's own code goes in
 * `X-Fare-Error-Code`, for clients that want the finer distinction (SDKs ignore it).
 */
export function sendLambdaError(res: ServerResponse, e: ApiError, headers: Readonly<Record<string, string>> = {}): void {
  const type = e.lambdaStatus >= 500 ? 'Service' : 'User';
  sendJson(res, e.lambdaStatus, { Type: type, Message: e.message, ...e.lambdaBody }, { 'X-Amzn-ErrorType': e.lambdaType, 'X-Fare-Error-Code': e.code, ...e.headers, ...headers });
}

/**
 * A whole error response in both shapes at once, for answers written on the socket before a request
 * exists (so before anyone knows which API it was for): Fare's `{"error": {code, message}}` and
 * Lambda's `Type` / `Message` members, `X-Amzn-ErrorType` and `X-Fare-Error-Code`. The connection is
 * closed after it.
 */
export function rawErrorResponse(e: ApiError): string {
  const body = JSON.stringify({ error: { code: e.code, message: e.message }, Type: 'User', Message: e.message });
  return [
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Amzn-ErrorType: ${e.lambdaType}`,
    `X-Fare-Error-Code: ${e.code}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** What to answer a request node:http could not parse (`clientError`), by node's error code. */
export function clientErrorOf(code: string | undefined): ApiError {
  switch (code ?? '') {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError({ status: 431, code: 'FARE_E_HEADERS_TOO_LARGE', message: `the request headers are larger than this server accepts (${maxHeaderSize} bytes in all): send fewer or shorter headers`, lambdaType: 'RequestTooLargeException' });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError({ status: 408, code: 'FARE_E_REQUEST_TIMEOUT', message: 'the request headers did not arrive in time: send the whole request promptly', lambdaType: 'InvalidRequestContentException' });
    default:
      return new ApiError({ status: 400, code: 'FARE_E_BAD_HTTP', message: `the request is not valid HTTP/1.1 (${code ?? 'unparsable'}): check the request line, the headers and the framing (Content-Length or chunked, not both)`, lambdaType: 'InvalidRequestContentException' });
  }
}

/**
 * Gives the answers node:http writes by itself a JSON body: requests it cannot parse (400, 431, 408),
 * an `Expect` other than 100-continue (417), and CONNECT (405; node would just close the socket).
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(clientErrorOf(err.code)));
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const message = `Expect: ${header(req, 'expect') ?? ''} is not supported: send Expect: 100-continue, or no Expect header`;
    sendJson(res, 417, { error: { code: 'FARE_E_INVALID_REQUEST', message }, Type: 'User', Message: message }, { 'X-Amzn-ErrorType': 'InvalidRequestContentException', 'X-Fare-Error-Code': 'FARE_E_INVALID_REQUEST' });
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.end(rawErrorResponse(new ApiError({ status: 405, code: 'FARE_E_METHOD_NOT_ALLOWED', message: 'CONNECT is not supported: Fare is not a proxy', lambdaType: 'UnknownOperationException' })));
  });
}

/** First value of a header, or undefined. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function errorCode(e: unknown): FareErrorCode | undefined {
  return e instanceof ApiError ? e.code : undefined;
}
