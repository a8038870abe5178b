// Reading requests and writing responses over node:http: bodies with a size limit, JSON in and
// out, and the two error renderings (Fare's `{error: {code, message}}` and Lambda's).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest, tooLarge, type FareErrorCode } from './errors.ts';

/** Past this many bytes over the limit a request is cut off instead of drained for a clean 413. */
const DRAIN_SLACK = 16 * 1024 * 1024;

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

/** First value of a header, or undefined. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function errorCode(e: unknown): FareErrorCode | undefined {
  return e instanceof ApiError ? e.code : undefined;
}
