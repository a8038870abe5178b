// AWS Signature Version 4 verification (header form, `Authorization: AWS4-HMAC-SHA256 …`), following
// AWS's "Create a signed AWS API request" and what the AWS SDKs actually sign: the canonical URI
// is the path as sent, normalized and URI-encoded once more (twice in all; S3 only once); query
// parameters are decoded, re-encoded strictly (RFC 3986) and sorted; header values are trimmed
// with inner whitespace collapsed and repeated headers joined by commas. Pure: time comes in.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SigV4Request {
  readonly method: string;
  /** Path as received, still percent-encoded, without the query. */
  readonly rawPath: string;
  /** Query as received (after `?`), still encoded; '' if none. */
  readonly rawQuery: string;
  /** Headers as received: names in any case, one entry per header line (node's `rawHeaders`). */
  readonly headers: readonly (readonly [string, string])[];
  /** Hex SHA-256 of the body as received. */
  readonly bodySha256: string;
}

export interface SigV4Authorization {
  readonly accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export type SigV4Failure = 'missing' | 'malformed' | 'unknown-key' | 'expired' | 'mismatch';

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string; readonly service: string }
  | { readonly ok: false; readonly failure: SigV4Failure; readonly message: string };

export interface SigV4Options {
  /** Services accepted in the credential scope (default `['lambda']`). */
  readonly services?: readonly string[];
  /** If set, the only region accepted in the credential scope. */
  readonly region?: string;
  /** Largest accepted difference between X-Amz-Date and now (default 15 minutes, as AWS). */
  readonly maxSkewMs?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding: everything but A–Z a–z 0–9 - _ . ~ is percent-encoded (UTF-8, upper-case hex). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const AUTH_COMPONENTS = ['Credential', 'SignedHeaders', 'Signature'] as const;

/**
 * Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` strictly: each of the three
 * components exactly once (any order), separated by a comma and optional spaces, with nothing else
 * before, between or after them.
 */
export function parseAuthorization(value: string): SigV4Authorization | { readonly error: string } {
  if (!value.startsWith(`${ALGORITHM} `)) return { error: `the Authorization header must start with "${ALGORITHM} "` };
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(/, */)) {
    const m = /^([A-Za-z]+)=([^\s,=]+)$/.exec(part);
    if (m === null) return { error: `the Authorization header has a malformed component ${JSON.stringify(part)}: send exactly Credential=…, SignedHeaders=…, Signature=…` };
    const [, name = '', v = ''] = m;
    if (!(AUTH_COMPONENTS as readonly string[]).includes(name)) return { error: `the Authorization header has an unknown component ${JSON.stringify(name)}: send only Credential, SignedHeaders and Signature` };
    if (fields.has(name)) return { error: `the Authorization header has ${name} twice: send it once` };
    fields.set(name, v);
  }
  const credential = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signed === undefined || signature === undefined) {
    return { error: "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters" };
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1] ?? '') || !/^[A-Za-z0-9]{1,128}$/.test(scope[0] ?? '') || !/^[a-z0-9-]{1,64}$/.test(scope[2] ?? '') || !/^[a-z0-9-]{1,64}$/.test(scope[3] ?? '')) {
    return { error: `Credential should be scoped as <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request, got ${JSON.stringify(credential)}` };
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) return { error: 'Signature must be 64 lower-case hex digits' };
  const signedHeaders = signed.split(';');
  if (signedHeaders.some((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) return { error: 'SignedHeaders must be lower-case header names separated by ";"' };
  return {
    accessKeyId: scope[0] ?? '',
    date: scope[1] ?? '',
    region: scope[2] ?? '',
    service: scope[3] ?? '',
    signedHeaders,
    signature,
  };
}

/** The canonical URI: normalized path segments, encoded again (for every service but S3). */
export function canonicalUri(rawPath: string, service: string): string {
  if (service === 's3') return rawPath === '' ? '/' : rawPath;
  const segs: string[] = [];
  for (const s of rawPath.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segs.pop();
    else segs.push(s);
  }
  const path = `/${segs.join('/')}${segs.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return uriEncode(path).replace(/%2F/g, '/');
}

/** Decoded, strictly re-encoded and sorted `name=value` pairs; throws URIError on bad escapes. */
export function canonicalQuery(rawQuery: string): string {
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** `name:value\n` for each signed header, in the order listed; undefined names a header that is absent. */
export function canonicalHeaders(headers: SigV4Request['headers'], signed: readonly string[]): { text: string } | { missing: string } {
  const values = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const n = name.toLowerCase();
    const list = values.get(n) ?? [];
    list.push(value.trim().replace(/\s+/g, ' '));
    values.set(n, list);
  }
  let text = '';
  for (const name of signed) {
    const v = values.get(name);
    if (v === undefined) return { missing: name };
    text += `${name}:${v.join(',')}\n`;
  }
  return { text };
}

export function canonicalRequest(method: string, uri: string, query: string, headers: string, signedHeaders: readonly string[], payloadHash: string): string {
  return [method, uri, query, headers, signedHeaders.join(';'), payloadHash].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** `YYYYMMDDTHHMMSSZ` → ms since the epoch, or undefined. */
export function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  return new Date(t).getUTCDate() === d ? t : undefined;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Signs for an unknown access key id (random per process: no request can match it). */
const UNKNOWN_KEY_SECRET = randomBytes(30).toString('base64');

const fail = (failure: SigV4Failure, message: string): SigV4Result => ({ ok: false, failure, message });

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Verifies a header-signed request. `secretOf` returns the secret of an access key id (undefined:
 * unknown or revoked). `now` is the verifier's clock in ms.
 */
export function verifySigV4(req: SigV4Request, secretOf: (accessKeyId: string) => string | undefined, now: number, opts: SigV4Options = {}): SigV4Result {
  const get = (name: string): string | undefined => req.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  const authz = get('authorization');
  if (authz === undefined) return fail('missing', 'Missing Authentication Token');
  const auth = parseAuthorization(authz);
  if ('error' in auth) return fail('malformed', auth.error);

  const services = opts.services ?? ['lambda'];
  if (!services.includes(auth.service)) return fail('malformed', `Credential should be scoped to a valid service: ${services.map((s) => `'${s}'`).join(' or ')}, not '${auth.service}'`);
  if (opts.region !== undefined && auth.region !== opts.region) return fail('malformed', `Credential should be scoped to a valid region, not '${auth.region}'; this endpoint is '${opts.region}'`);
  if (!auth.signedHeaders.includes('host')) return fail('malformed', "'Host' must be a signed header");

  const amzDate = get('x-amz-date');
  if (amzDate === undefined) return fail('malformed', 'the request must carry an X-Amz-Date header (YYYYMMDDTHHMMSSZ)');
  const t = parseAmzDate(amzDate.trim());
  if (t === undefined) return fail('malformed', `X-Amz-Date ${JSON.stringify(amzDate)} is not in the form YYYYMMDDTHHMMSSZ`);
  if (amzDate.trim().slice(0, 8) !== auth.date) return fail('malformed', `the credential scope date ${auth.date} does not match X-Amz-Date ${amzDate}`);
  const skew = opts.maxSkewMs ?? 15 * 60_000;
  if (t < now - skew) {
    return fail('expired', `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - skew)} (${formatAmzDate(now)} - ${skew / 60_000} min.)`);
  }
  if (t > now + skew) {
    return fail('expired', `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + skew)} (${formatAmzDate(now)} + ${skew / 60_000} min.)`);
  }

  const declared = get('x-amz-content-sha256');
  if (declared !== undefined) {
    const d = declared.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(d)) return fail('malformed', `X-Amz-Content-Sha256 ${JSON.stringify(d)} is not supported here: send the hex SHA-256 of the body (unsigned and streaming payloads are not accepted)`);
    if (d.toLowerCase() !== req.bodySha256) return fail('mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  // An unknown key id is signed for with a stand-in secret and refused only at the end, so it
  // costs what a known one does and cannot be told apart by the time to answer.
  const secret = secretOf(auth.accessKeyId);

  const headers = canonicalHeaders(req.headers, auth.signedHeaders);
  if ('missing' in headers) return fail('malformed', `the signed header ${JSON.stringify(headers.missing)} is not in the request`);
  let query: string;
  try {
    query = canonicalQuery(req.rawQuery);
  } catch {
    return fail('malformed', 'the query string has an invalid percent-encoding');
  }
  const canonical = canonicalRequest(req.method.toUpperCase(), canonicalUri(req.rawPath, auth.service), query, headers.text, auth.signedHeaders, req.bodySha256);
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const expected = hmac(signingKey(secret ?? UNKNOWN_KEY_SECRET, auth.date, auth.region, auth.service), stringToSign(amzDate.trim(), scope, canonical));
  const given = Buffer.from(auth.signature, 'hex');
  const match = given.length === expected.length && timingSafeEqual(given, expected);
  if (secret === undefined) return fail('unknown-key', 'The security token included in the request is invalid.');
  if (!match) return fail('mismatch', MISMATCH);
  return { ok: true, accessKeyId: auth.accessKeyId, region: auth.region, service: auth.service };
}

/** Node's `rawHeaders` (flat name, value, name, value …) as pairs. */
export function headerPairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}
